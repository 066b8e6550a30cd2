"""One exception hierarchy for both variants (``store.aio`` and ``store.sync``).

Messages never contain passwords: connection errors name ``host:port`` or the socket
path only.

A ``ConnectError`` (a ``ConnectionError``) proves that the command was not sent: its
connection could not be opened (refused, reset or closed during the TLS or HELLO/AUTH
handshake, every retry of the pool's connect included), or, on store.aio's shared
connection, its bytes were never written. A caller may send it again anywhere (another
node of a cluster). Any other ``ConnectionError`` came after the command was written, or
may have: it may have been applied. A connect timeout stays a ``TimeoutError``, and a
refused password an ``AuthenticationError``.
"""

from __future__ import annotations

import builtins

__all__ = [
    "AuthenticationError",
    "BusyLoadingError",
    "ConnectError",
    "ConnectionError",
    "CrossSlotError",
    "DataError",
    "ImproperlyConfigured",
    "LockError",
    "NoScriptError",
    "NoSuchStore",
    "PoolExhaustedError",
    "ProtocolError",
    "ReadOnlyError",
    "ResponseError",
    "StatefulCommandError",
    "StoreError",
    "TLSHandshakeError",
    "TimeoutError",
    "WatchError",
    "WrongTypeError",
    "response_error",
]


class StoreError(Exception):
    """Base class of every error raised by this package."""


class ImproperlyConfigured(StoreError, ValueError):
    """A connection string or a store option is invalid."""


class NoSuchStore(ImproperlyConfigured):
    """The URL scheme names no registered store."""


class DataError(StoreError, TypeError):
    """A command argument cannot be sent (None, bool, dict, ...): nothing was sent."""


class StatefulCommandError(DataError):
    """A command that changes the state of its connection (SELECT, MULTI, SUBSCRIBE...) was
    given to a path whose connections are shared (``execute``, a pipeline): nothing was
    sent. The message names what to use instead."""


class ConnectionError(StoreError, builtins.ConnectionError):
    """The connection failed, was lost, or cannot be trusted any more."""


class ConnectError(ConnectionError):
    """The connection could not be opened: the command was not sent (safe to send again,
    to this server or another)."""


class ProtocolError(ConnectionError):
    """The peer sent bytes that are not valid RESP; the connection is discarded."""


class TLSHandshakeError(ConnectError):
    """The TLS handshake failed: a configuration problem (a plain port, certificates), so
    it is never retried as a transient failure. The message says what was expected. A
    ConnectError: it fails before the command is sent."""


class TimeoutError(StoreError, builtins.TimeoutError):
    """Connecting or waiting for a reply took longer than the configured timeout."""


class PoolExhaustedError(TimeoutError):
    """No connection became free in the pool before ``pool_timeout``."""


class WatchError(StoreError):
    """A watched key changed before EXEC; the transaction was not applied."""


class LockError(StoreError):
    """A lock could not be released or extended by its caller."""


class ResponseError(StoreError):
    """The server answered with an error reply. ``code`` is its first word (ERR, WRONGTYPE...).

    The connection stays usable: the whole reply was read.
    """

    @property
    def code(self) -> str:
        message = str(self.args[0]) if self.args else ""
        return message.split(" ", 1)[0]

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class AuthenticationError(ResponseError):
    """NOAUTH / WRONGPASS: the server refused the credentials (never shown in the text)."""


class NoScriptError(ResponseError):
    """NOSCRIPT: EVALSHA named a script the server does not have."""


class WrongTypeError(ResponseError):
    """WRONGTYPE: the command does not apply to the key's type."""


class ReadOnlyError(ResponseError):
    """READONLY: the server is a read-only replica."""


class BusyLoadingError(ResponseError):
    """LOADING: the server is loading its dataset."""


class CrossSlotError(ResponseError):
    """CROSSSLOT: a command's keys hash to different Cluster slots. Raised for the server's
    reply, and by the client before sending, naming the slots; a common hash tag
    (``{user:1}:a``, ``{user:1}:b``) puts keys in one slot."""


_BY_CODE: dict[str, type[ResponseError]] = {
    "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
    "NOPERM": AuthenticationError,
    "NOSCRIPT": NoScriptError,
    "WRONGTYPE": WrongTypeError,
    "READONLY": ReadOnlyError,
    "LOADING": BusyLoadingError,
    "CROSSSLOT": CrossSlotError,
}


def response_error(error: ResponseError) -> ResponseError:
    """The most specific ResponseError subclass for an error reply read off the wire."""
    cls = _BY_CODE.get(error.code)
    if cls is None or type(error) is cls:
        return error
    return cls(*error.args)
