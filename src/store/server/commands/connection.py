"""Connection commands: PING ECHO AUTH HELLO SELECT QUIT RESET CLIENT."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from ..protocol import OK, PONG, Push, SimpleString, Verbatim
from . import (
    NO_AUTH,
    NO_QUEUE,
    NOSCRIPT,
    PUBSUB,
    CommandError,
    command,
    parse_int,
    subcommand_error,
    syntax_error,
)

if TYPE_CHECKING:
    from ..client import Client

VERSION = b"7.0.15"


@command("ping", -1, PUBSUB)
def ping(client: Client, args: list[bytes]) -> Any:
    if len(args) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if client.subscriptions and not client.resp3:
        return [b"pong", args[1] if len(args) == 2 else b""]
    return args[1] if len(args) == 2 else PONG


@command("echo", 2)
def echo(client: Client, args: list[bytes]) -> Any:
    return args[1]


def _check_password(client: Client, user: bytes | None, password: bytes) -> None:
    required = client.server.config.requirepass.encode()
    if not required:
        raise CommandError(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
    # Only the default user exists; compare both in constant time so timing tells nothing.
    user_ok = hmac.compare_digest(user or b"default", b"default")
    if not (hmac.compare_digest(password, required) and user_ok):
        raise CommandError("WRONGPASS invalid username-password pair or user is disabled.")
    client.authenticated = True


@command("auth", -2, NO_AUTH, NOSCRIPT)
def auth(client: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise syntax_error()
    if len(args) == 3:
        _check_password(client, args[1], args[2])
    else:
        _check_password(client, None, args[1])
    return OK


@command("hello", -1, NO_AUTH, NOSCRIPT)
def hello(client: Client, args: list[bytes]) -> Any:
    resp3 = client.resp3
    if len(args) > 1:
        try:
            version = parse_int(args[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        if version not in (2, 3):
            raise CommandError("NOPROTO unsupported protocol version")
        resp3 = version == 3
    index = 2
    while index < len(args):
        option = args[index].lower()
        left = len(args) - index - 1
        if option == b"auth" and left >= 2:
            _check_password(client, args[index + 1], args[index + 2])
            index += 3
        elif option == b"setname" and left >= 1:
            client.name = _valid_name(args[index + 1])
            index += 2
        else:
            raise CommandError(
                f"ERR Syntax error in HELLO option '{args[index].decode('utf-8', 'replace')}'"
            )
    if not client.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, "
            "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
            "authenticate the client and select the RESP protocol version at the "
            "same time"
        )
    client.resp3 = resp3
    return {
        b"server": b"redis",
        b"version": VERSION,
        b"proto": 3 if resp3 else 2,
        b"id": client.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command("select", 2)
def select(client: Client, args: list[bytes]) -> Any:
    try:
        index = parse_int(args[1])
    except CommandError:
        raise CommandError("ERR value is not an integer or out of range") from None
    if not 0 <= index < len(client.server.databases):
        raise CommandError("ERR DB index is out of range")
    client.db = client.server.databases[index]
    return OK


@command("quit", -1, NO_AUTH, NOSCRIPT, NO_QUEUE, PUBSUB)
def quit_(client: Client, args: list[bytes]) -> Any:
    client.closing = True
    return OK


@command("reset", 1, NO_AUTH, NO_QUEUE, NOSCRIPT, PUBSUB)
def reset(client: Client, args: list[bytes]) -> Any:
    server = client.server
    client.multi = None
    client.multi_failed = False
    server.unwatch(client)
    server.pubsub.remove_client(client)
    client.db = server.databases[0]
    client.resp3 = False
    client.name = b""
    client.authenticated = not server.config.requirepass
    return SimpleString(b"RESET")


def _valid_name(name: bytes) -> bytes:
    if any(c <= 32 or c > 126 for c in name):
        raise CommandError(
            "ERR Client names cannot contain spaces, newlines or special characters."
        )
    return name


@command("client", -2, NOSCRIPT)
def client_(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    server = client.server
    if sub == b"setname" and len(args) == 3:
        client.name = _valid_name(args[2])
        return OK
    if sub == b"getname" and len(args) == 2:
        return client.name or None
    if sub == b"id" and len(args) == 2:
        return client.id
    if sub == b"info" and len(args) == 2:
        return Verbatim(client.info_line() + b"\n")
    if sub == b"list":
        chosen = list(server.clients.values())
        if len(args) >= 4 and args[2].lower() == b"id":
            wanted = {parse_int(a) for a in args[3:]}
            chosen = [c for c in chosen if c.id in wanted]
        elif len(args) >= 4 and args[2].lower() == b"type":
            kind = args[3].lower()
            if kind == b"pubsub":
                chosen = [c for c in chosen if c.subscriptions]
            elif kind == b"normal":
                chosen = [c for c in chosen if not c.subscriptions]
            elif kind not in (b"master", b"replica", b"slave"):
                raise CommandError(
                    f"ERR Unknown client type '{args[3].decode('utf-8', 'replace')}'"
                )
            else:
                chosen = []
        elif len(args) != 2:
            raise syntax_error()
        return Verbatim(b"".join(c.info_line() + b"\n" for c in chosen))
    if sub == b"kill":
        return _client_kill(client, args)
    if sub == b"setinfo" and len(args) == 4:
        attr = args[2].lower()
        if attr == b"lib-name":
            client.lib_name = _valid_name(args[3])
        elif attr == b"lib-ver":
            client.lib_version = _valid_name(args[3])
        else:
            raise CommandError(f"ERR Unrecognized option '{args[2].decode('utf-8', 'replace')}'")
        return OK
    if sub == b"unblock" and len(args) in (3, 4):
        target = server.clients.get(parse_int(args[2]))
        if target is None or target.blocked is None:
            return 0
        how = args[3].lower() if len(args) == 4 else b"timeout"
        if how == b"error":
            target.unblock(None, error="UNBLOCKED client unblocked via CLIENT UNBLOCK")
        elif how == b"timeout":
            target.unblock(target.blocked.timeout_reply)
        else:
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        return 1
    if sub == b"reply" and len(args) == 3:
        return OK
    if sub in (b"no-evict", b"no-touch") and len(args) == 3:
        return OK
    if sub == b"help":
        return [
            b"CLIENT <subcommand> [<arg> ...]. Subcommands are: ID GETNAME SETNAME INFO "
            b"LIST KILL SETINFO UNBLOCK"
        ]
    raise subcommand_error(
        args,
        (
            b"setname",
            b"getname",
            b"id",
            b"info",
            b"setinfo",
            b"unblock",
            b"reply",
            b"no-evict",
            b"no-touch",
        ),
    )


def _client_kill(client: Client, args: list[bytes]) -> Any:
    server = client.server
    if len(args) == 3:  # old form: CLIENT KILL addr:port
        for other in list(server.clients.values()):
            if other.address.encode() == args[2]:
                other.kill()
                return OK
        raise CommandError("ERR No such client")
    if len(args) % 2:
        raise syntax_error()
    chosen = list(server.clients.values())
    skip_me = True
    for name, value in zip(args[2::2], args[3::2], strict=True):
        name = name.lower()
        if name == b"id":
            wanted = parse_int(value)
            chosen = [c for c in chosen if c.id == wanted]
        elif name == b"addr":
            chosen = [c for c in chosen if c.address.encode() == value]
        elif name == b"laddr":
            chosen = [c for c in chosen if c.local_address.encode() == value]
        elif name == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise syntax_error()
            skip_me = value.lower() == b"yes"
        elif name == b"type":
            if value.lower() == b"pubsub":
                chosen = [c for c in chosen if c.subscriptions]
            elif value.lower() == b"normal":
                chosen = [c for c in chosen if not c.subscriptions]
            else:
                chosen = []
        else:
            raise syntax_error()
    killed = 0
    for other in chosen:
        if other is client and skip_me:
            continue
        if other is client:
            client.closing = True
        else:
            other.kill()
        killed += 1
    return killed


_ = Push  # re-exported for families that push replies
