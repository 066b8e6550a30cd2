"""Sans-IO pieces of a connection shared by both variants: its settings, the handshake
and how long a command may take. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import AuthenticationError, ConnectionError, ResponseError, response_error

__all__ = ["ConnectionSettings", "blocking_timeout", "check_handshake", "handshake_commands"]


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a connection needs to open and set itself up."""

    address: str  # host:port or socket path: for error messages, never a secret
    host: str
    port: int
    path: str | None
    database: int
    user: str | None
    password: str | None = field(repr=False)
    protocol: int
    client_name: str | None
    socket_timeout: float | None
    connect_timeout: float | None
    keepalive: bool
    ssl_context: Any  # ssl.SSLContext | None; ssl is imported by the backend only
    parser: str
    encoding: str | None  # replies are decoded to str when set
    encoding_errors: str
    health_check_interval: float


Command = tuple[Any, ...]


def handshake_commands(settings: ConnectionSettings, protocol: int) -> list[Command]:
    """The commands that set a new connection up, sent together in one write."""
    commands: list[Command] = []
    if protocol == 3:
        hello: list[Any] = ["HELLO", 3]
        if settings.password is not None:
            hello += ["AUTH", settings.user or "default", settings.password]
        if settings.client_name:
            hello += ["SETNAME", settings.client_name]
        commands.append(tuple(hello))
    else:
        if settings.password is not None:
            if settings.user:
                commands.append(("AUTH", settings.user, settings.password))
            else:
                commands.append(("AUTH", settings.password))
        if settings.client_name:
            commands.append(("CLIENT", "SETNAME", settings.client_name))
    if settings.database:
        commands.append(("SELECT", settings.database))
    return commands


def check_handshake(
    settings: ConnectionSettings, commands: Sequence[Command], replies: Sequence[Any]
) -> bool:
    """Raise for a failed handshake; False when the server lacks HELLO (retry with RESP2)."""
    for command, reply in zip(commands, replies, strict=True):
        if not isinstance(reply, ResponseError):
            continue
        error = response_error(reply)
        name = str(command[0])
        if name == "HELLO" and (
            error.code == "NOPROTO" or "unknown command" in error.message.lower()
        ):
            return False
        # Some servers quote the arguments of a command they refuse ("unknown command
        # 'AUTH', with args beginning with: ..."): never the password in our message.
        message = error.message
        if settings.password:
            message = message.replace(settings.password, "***")
        if isinstance(error, AuthenticationError) or name == "AUTH":
            raise AuthenticationError(f"{message} (authenticating to {settings.address})") from None
        raise ConnectionError(
            f"{name} failed while setting up the connection to {settings.address}: {message}"
        ) from None
    return True


# name -> where its timeout is and in what unit (seconds=True, milliseconds=False)
_LAST_ARG_SECONDS = ("BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX")
_FIRST_ARG_SECONDS = ("BLMPOP", "BZMPOP")
BLOCKING = frozenset(
    name
    for base in (*_LAST_ARG_SECONDS, *_FIRST_ARG_SECONDS, "XREAD", "XREADGROUP", "WAIT", "WAITAOF")
    for name in (base, base.lower(), base.encode(), base.lower().encode())
)


def _number(value: Any) -> float:
    if isinstance(value, bytes):
        value = value.decode()
    return float(value)


def blocking_timeout(args: Sequence[Any], socket_timeout: float | None) -> float | None:
    """The read timeout for a blocking command: its own block time plus the socket timeout,
    so that ``socket_timeout`` never cuts a BLPOP short; None when it blocks forever."""
    if socket_timeout is None:
        return None
    name = args[0]
    name = (name.decode() if isinstance(name, bytes) else str(name)).upper()
    try:
        if name in _LAST_ARG_SECONDS:
            block = _number(args[-1])
        elif name in _FIRST_ARG_SECONDS:
            block = _number(args[1])
        elif name in ("WAIT", "WAITAOF"):
            block = _number(args[-1]) / 1000
        else:  # XREAD / XREADGROUP: BLOCK <ms> anywhere before STREAMS
            block = -1.0
            for i, arg in enumerate(args[1:-1], 1):
                word = arg.decode() if isinstance(arg, bytes) else str(arg)
                if word.upper() == "STREAMS":
                    break
                if word.upper() == "BLOCK":
                    block = _number(args[i + 1]) / 1000
                    break
            if block < 0:
                return socket_timeout
    except (IndexError, ValueError):
        return socket_timeout  # malformed: the server will answer with an error
    if block == 0:
        return None
    return block + socket_timeout + 1.0
