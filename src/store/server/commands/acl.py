"""ACL: SETUSER GETUSER DELUSER USERS WHOAMI LIST CAT GENPASS DRYRUN LOG SAVE LOAD HELP.

The users and the checks are ``server/acl.py``; this is Redis 7.0's aclCommand.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..acl import CATEGORIES, COMMAND_ORDER, GENPASS_MAX_BITS, IN_CATEGORY, genpass
from ..protocol import OK, QUEUED, OrderedSet
from . import COMMANDS, NO_QUEUE, CommandError, command, parse_int, subcommand_error
from .connection import help_reply

if TYPE_CHECKING:
    from ..acl import Selector, User
    from ..client import Client

_ARITY = {
    b"cat": -2,
    b"deluser": -3,
    b"dryrun": -4,
    b"genpass": -2,
    b"getuser": 3,
    b"help": 2,
    b"list": 2,
    b"load": 2,
    b"log": -2,
    b"save": 2,
    b"setuser": -3,
    b"users": 2,
    b"whoami": 2,
}

_HELP = [
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
]

_NO_FILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have "
    "a Redis configuration file set) in order to store users in the Redis configuration."
)


def _selector_reply(selector: Selector) -> list[Any]:
    return [
        b"commands",
        selector.command_rules().encode(),
        b"keys",
        selector.key_rules().encode("utf-8", "surrogateescape"),
        b"channels",
        selector.channel_rules().encode("utf-8", "surrogateescape"),
    ]


def _pairs(items: list[Any]) -> dict[bytes, Any]:
    return dict(zip(items[::2], items[1::2], strict=True))


def _getuser(client: Client, user: User) -> Any:
    reply = {
        b"flags": OrderedSet(f.encode() for f in user.flags()),  # a RESP3 set, in order
        b"passwords": [p.encode() for p in user.passwords],
        **_pairs(_selector_reply(user.root)),
        b"selectors": [_pairs(_selector_reply(s)) for s in user.selectors[1:]],
    }
    return reply


# NO_QUEUE: inside MULTI the handler queues the command itself once the subcommand and
# its arity pass, as Redis checks them before queueing (CLIENT does the same).
@command("acl", -2, NO_QUEUE)
def acl(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    arity = _ARITY.get(sub)
    if arity is None or not (len(args) == arity if arity > 0 else len(args) >= -arity):
        if client.multi is not None:
            client.multi_failed = True
        raise subcommand_error(args, _ARITY)
    if client.multi is not None:
        client.multi.append(args)
        _ACL.calls -= 1  # counted when EXEC runs it
        return QUEUED
    if client.in_script and sub != b"help":  # every ACL subcommand but HELP is noscript
        raise CommandError("ERR This Redis command is not allowed from script")
    client.last_command = b"acl|" + sub
    server = client.server
    control = server.acl
    if sub == b"setuser":
        control.set_user(args[2], args[3:])
        return OK
    if sub == b"deluser":
        return control.delete_users(client, args[2:])
    if sub == b"getuser":
        user = control.users.get(args[2])
        return None if user is None else _getuser(client, user)
    if sub in (b"list", b"users") and len(args) == 2:
        users = control.sorted_users()
        if sub == b"users":
            return [u.name for u in users]
        return [b"user " + u.name + b" " + u.describe().encode() for u in users]
    if sub == b"whoami":
        return client.user.name
    if sub in (b"load", b"save") and not control.aclfile:
        raise CommandError(_NO_FILE)
    if sub == b"load":
        errors = control.load_file(control.aclfile, client)
        if errors is not None:
            raise CommandError(f"ERR {errors}")
        return OK
    if sub == b"save":
        if not control.save_file(control.aclfile):
            raise CommandError(
                "ERR There was an error trying to save the ACLs. Please check the server "
                "logs for more information"
            )
        return OK
    if sub == b"cat":
        if len(args) == 2:
            return [c.encode() for c in CATEGORIES]
        if len(args) == 3:
            names = IN_CATEGORY.get(args[2].decode("utf-8", "replace").lower())
            if names is None:
                shown = args[2].decode("utf-8", "replace")[:128]
                raise CommandError(f"ERR Unknown category '{shown}'")
            return [n.encode() for n in COMMAND_ORDER if n in names]
    if sub == b"genpass" and len(args) <= 3:
        bits = 256
        if len(args) == 3:
            bits = parse_int(args[2])
        if not 0 < bits <= GENPASS_MAX_BITS:
            raise CommandError(
                "ERR ACL GENPASS argument must be the number of bits for the output "
                f"password, a positive number up to {GENPASS_MAX_BITS}"
            )
        return genpass(bits)
    if sub == b"log" and len(args) <= 3:
        count = 10
        if len(args) == 3:
            if args[2].lower() == b"reset":
                control.log.clear()
                return OK
            count = max(parse_int(args[2]), 0)
        now = time.time() * 1000
        return [entry.reply(now) for entry in control.log[:count]]
    if sub == b"dryrun":
        user = control.users.get(args[2])
        if user is None:
            raise CommandError(f"ERR User '{args[2].decode('utf-8', 'replace')}' not found")
        denied = control.dryrun(user, args[3:])
        return OK if denied is None else denied
    if sub == b"help" and len(args) == 2:
        return help_reply(args[0], _HELP)
    raise CommandError(
        "ERR unknown subcommand or wrong number of arguments for "
        f"'{args[1].decode('utf-8', 'replace')[:128]}'. Try ACL HELP."
    )


_ACL = COMMANDS[b"acl"]
