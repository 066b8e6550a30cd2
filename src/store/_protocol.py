"""Sans-IO pieces of a connection shared by both variants: its settings and the
handshake. No I/O here (how long a command may take is the command table's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import AuthenticationError, ConnectionError, ResponseError, response_error

__all__ = ["ConnectionSettings", "check_handshake", "handshake_commands"]


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a connection needs to open and set itself up.

    Besides where to connect (address, host, port, path), the database, the credentials,
    ``ssl_context`` and ``encoding`` (set by the ``decode_responses`` option), every field
    is filled from a row of ``url.OPTIONS`` whose target is "connection", under the name
    the row gives (tests/test_options.py checks that none is left out).
    """

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
