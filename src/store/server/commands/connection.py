"""Connection commands: PING ECHO AUTH HELLO SELECT QUIT RESET CLIENT."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..client import pause_clients, unpause_clients
from ..protocol import OK, PONG, QUEUED, Push, Replies, SimpleString, Verbatim
from ..tracking import tracking_flags
from . import (
    COMMANDS,
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


def _check_password(client: Client, command: bytes, user: bytes | None, password: bytes) -> None:
    acl = client.server.acl
    if user is None:  # AUTH <password>: the default user's
        if acl.default.nopass:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
        user = b"default"
    acl.authenticate(client, command, user, password)  # WRONGPASS, logged, if refused


@command("auth", -2, NO_AUTH, NOSCRIPT)
def auth(client: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise syntax_error()
    if len(args) == 3:
        _check_password(client, args[0], args[1], args[2])
    else:
        _check_password(client, args[0], None, args[1])
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
            _check_password(client, args[0], args[index + 1], args[index + 2])
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
            "otherwise the HELLO AUTH <user> <pass> option can be used to "
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
    server.tracking.disable(client)
    client.db = server.databases[0]
    client.resp3 = False
    client.name = b""
    server.acl.reset_client(client)
    # Redis 7.0's clearClientConnectionState: replies back on (a SKIP in effect still
    # mutes this reply), CLIENT NO-EVICT kept
    client.reply_off = client.skip_armed = False
    return SimpleString(b"RESET")


def _valid_name(name: bytes) -> bytes:
    if any(c <= 32 or c > 126 for c in name):
        raise CommandError(
            "ERR Client names cannot contain spaces, newlines or special characters."
        )
    return name


# CLIENT's subcommands and their arity (Redis's client|... rows; SETINFO and NO-TOUCH are
# Redis 7.2's, kept for clients that send them).
_CLIENT_ARITY = {
    b"caching": 3,
    b"getname": 2,
    b"getredir": 2,
    b"help": 2,
    b"id": 2,
    b"info": 2,
    b"kill": -3,
    b"list": -2,
    b"no-evict": 3,
    b"no-touch": 3,
    b"pause": -3,
    b"reply": 3,
    b"setinfo": 4,
    b"setname": 3,
    b"tracking": -3,
    b"trackinginfo": 2,
    b"unblock": -3,
    b"unpause": 2,
}

_CLIENT_HELP = [
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
]


def help_reply(name: bytes, lines: list[str]) -> list[SimpleString]:
    """Redis's addReplyHelp: a header, the lines, and HELP itself, as status replies."""
    header = f"{name.decode('utf-8', 'replace').upper()} <subcommand> [<arg> [value] [opt] ...]."
    return [
        SimpleString(f"{header} Subcommands are:".encode()),
        *(SimpleString(line.encode()) for line in lines),
        SimpleString(b"HELP"),
        SimpleString(b"    Prints this help."),
    ]


def _on_off(value: bytes) -> bool:
    word = value.lower()
    if word not in (b"on", b"off"):
        raise syntax_error()
    return word == b"on"


# NO_QUEUE: inside MULTI the handler queues the command itself once the subcommand and
# its arity pass, as Redis checks them before queueing (a bad one fails the transaction).
@command("client", -2, NOSCRIPT, NO_QUEUE)
def client_(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    arity = _CLIENT_ARITY.get(sub)
    if arity is None or not (len(args) == arity if arity > 0 else len(args) >= -arity):
        if client.multi is not None:
            client.multi_failed = True
        if arity is None:
            raise subcommand_error(args, ())
        raise CommandError(
            f"ERR wrong number of arguments for 'client|{sub.decode('utf-8', 'replace')}' command"
        )
    if client.multi is not None:
        client.multi.append(args)
        _CLIENT.calls -= 1  # counted when EXEC runs it
        return QUEUED
    client.last_command = b"client|" + sub  # CLIENT LIST shows the subcommand
    server = client.server
    if sub == b"setname":
        client.name = _valid_name(args[2])
        return OK
    if sub == b"getname":
        return client.name or None
    if sub == b"id":
        return client.id
    if sub == b"info":
        return Verbatim(client.info_line() + b"\n")
    if sub == b"list":
        chosen = list(server.clients.values())
        if len(args) == 4 and args[2].lower() == b"type":
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
        elif len(args) > 3 and args[2].lower() == b"id":
            wanted = [parse_int(a, "Invalid client ID") for a in args[3:]]
            chosen = [server.clients[i] for i in wanted if i in server.clients]
        elif len(args) != 2:
            raise syntax_error()
        return Verbatim(b"".join(c.info_line() + b"\n" for c in chosen))
    if sub == b"kill":
        return _client_kill(client, args)
    if sub == b"reply":
        return _client_reply(client, args[2].lower())
    if sub == b"no-evict":
        client.no_evict = _on_off(args[2])
        return OK
    if sub == b"no-touch":
        _on_off(args[2])
        return OK
    if sub == b"pause" and len(args) <= 4:
        writes_only = False
        if len(args) == 4:
            mode = args[3].lower()
            if mode not in (b"write", b"all"):
                raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
            writes_only = mode == b"write"
        timeout = parse_int(args[2], "timeout is not an integer or out of range")
        if timeout < 0:
            raise CommandError("ERR timeout is negative")
        pause_clients(server, timeout, writes_only)
        client.switch_runner()  # its own next commands wait too
        return OK
    if sub == b"unpause":
        unpause_clients(server)
        return OK
    if sub == b"getredir":
        return -1 if client.tracking is None else client.tracking.redirect
    if sub == b"tracking":
        return _client_tracking(client, args)
    if sub == b"caching":
        return _client_caching(client, args[2].lower())
    if sub == b"trackinginfo":
        state = client.tracking
        return {
            b"flags": tracking_flags(state),
            b"redirect": -1 if state is None else state.redirect,
            b"prefixes": [] if state is None else sorted(state.prefixes),
        }
    if sub == b"setinfo":
        attr = args[2].lower()
        if attr == b"lib-name":
            client.lib_name = _valid_name(args[3])
        elif attr == b"lib-ver":
            client.lib_version = _valid_name(args[3])
        else:
            raise CommandError(f"ERR Unrecognized option '{args[2].decode('utf-8', 'replace')}'")
        return OK
    if sub == b"unblock" and len(args) in (3, 4):
        how = args[3].lower() if len(args) == 4 else b"timeout"
        if how not in (b"timeout", b"error"):
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        target = server.clients.get(parse_int(args[2]))
        if target is None or target.blocked is None:
            return 0
        if how == b"error":
            target.unblock(None, error="UNBLOCKED client unblocked via CLIENT UNBLOCK")
        else:
            target.unblock(target.blocked.timeout_reply)
        return 1
    if sub == b"help":
        return help_reply(args[0], _CLIENT_HELP)
    raise CommandError(
        "ERR unknown subcommand or wrong number of arguments for "
        f"'{args[1].decode('utf-8', 'replace')[:128]}'. Try CLIENT HELP."
    )


_CLIENT = COMMANDS[b"client"]


def _client_tracking(client: Client, args: list[bytes]) -> Any:
    """CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p]... [OPTIN] [OPTOUT]
    [NOLOOP], with Redis's checks in its order (tracking.py does the rest)."""
    server = client.server
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    index = 3
    while index < len(args):
        option = args[index].lower()
        more = index + 1 < len(args)
        if option == b"redirect" and more:
            index += 1
            if redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            redirect = parse_int(args[index])
            # it must exist now, though it may go later (then: tracking-redir-broken)
            if redirect not in server.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif option == b"bcast":
            bcast = True
        elif option == b"optin":
            optin = True
        elif option == b"optout":
            optout = True
        elif option == b"noloop":
            noloop = True
        elif option == b"prefix" and more:
            index += 1
            prefixes.append(args[index])
        else:
            raise syntax_error()
        index += 1
    mode = args[2].lower()
    if mode == b"off":
        server.tracking.disable(client)
        return OK
    if mode != b"on":
        raise syntax_error()
    state = client.tracking
    if prefixes and not bcast:
        raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
    if state is not None and state.bcast != bcast:
        raise CommandError(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this "
            "client, and then re-enabling it with a different mode."
        )
    if bcast and (optin or optout):
        raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if optin and optout:
        raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if state is not None and ((optin and state.optout) or (optout and state.optin)):
        raise CommandError(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
            "client, and then re-enabling it with a different mode."
        )
    if bcast:
        _check_prefixes(state.prefixes if state is not None else set(), prefixes)
    server.tracking.enable(client, redirect, bcast, optin, optout, noloop, prefixes)
    return OK


def _check_prefixes(existing: set[bytes], prefixes: list[bytes]) -> None:
    """checkPrefixCollisionsOrReply: no two prefixes of a client may both match a key."""

    def text(prefix: bytes) -> str:
        return prefix.split(b"\x00", 1)[0].decode("utf-8", "replace")  # shown as a C string

    for index, prefix in enumerate(prefixes):
        for old in sorted(existing):
            if old.startswith(prefix) or prefix.startswith(old):
                raise CommandError(
                    f"ERR Prefix '{text(prefix)}' overlaps with an existing prefix "
                    f"'{text(old)}'. Prefixes for a single client must not overlap."
                )
        for other in prefixes[index + 1 :]:
            if other.startswith(prefix) or prefix.startswith(other):
                raise CommandError(
                    f"ERR Prefix '{text(prefix)}' overlaps with another provided prefix "
                    f"'{text(other)}'. Prefixes for a single client must not overlap."
                )


def _client_caching(client: Client, value: bytes) -> Any:
    """CLIENT CACHING YES|NO: for the next command only (tracking.py ends it)."""
    state = client.tracking
    if state is None:
        raise CommandError(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode "
            "with OPTIN or OPTOUT mode enabled"
        )
    if value == b"yes":
        if not state.optin:
            raise CommandError(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
            )
    elif value == b"no":
        if not state.optout:
            raise CommandError(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
            )
    else:
        raise syntax_error()
    state.caching = True
    return OK


def _client_reply(client: Client, mode: bytes) -> Any:
    """CLIENT REPLY: ON answers OK; OFF and SKIP answer nothing (SKIP mutes the next
    command too). The commands after it run as the mode now says (client.py)."""
    if mode == b"on":
        client.reply_off = client.muted_now = client.skip_armed = False
        client.switch_runner()
        return OK
    if mode == b"off":
        client.reply_off = True
    elif mode == b"skip":
        if not client.reply_off:
            client.skip_armed = True
    else:
        raise syntax_error()
    client.switch_runner()
    return Replies()


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
        elif name == b"user":
            user = server.acl.users.get(value)
            if user is None:
                raise CommandError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
            chosen = [c for c in chosen if c.user is user]
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
