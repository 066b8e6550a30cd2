"""One connection to a Redis-protocol server: open, handshake, send, read replies."""

from __future__ import annotations

import time
from types import EllipsisType, TracebackType
from typing import Any

from .._backend.streams import AsyncStream
from .._protocol import ConnectionSettings, check_handshake, handshake_commands
from ..errors import ConnectError, ConnectionError, ResponseError, TimeoutError, response_error
from ..resp import NOT_ENOUGH, make_reader, pack_command, pack_commands

PING = pack_command("PING")


class AsyncConnection:
    """A connection owned by one caller at a time (the pool or a dedicated user).

    Any exception while a request is in flight leaves the connection closed: a reply
    that may still arrive must never be read by the next caller.
    """

    __slots__ = (
        "_reader",
        "_stream",
        "generation",
        "last_used",
        "protocol",
        "settings",
        "setup",
    )

    def __init__(
        self,
        settings: ConnectionSettings,
        generation: int = 0,
        setup: tuple[tuple[Any, ...], ...] = (),
    ) -> None:
        self.settings = settings
        # commands sent with the handshake, checked as part of it (a cluster replica's
        # READONLY): their effect lasts as long as the connection
        self.setup = setup
        self.generation = generation
        self.protocol = settings.protocol
        self.last_used = 0.0
        self._stream: AsyncStream | None = None
        self._reader: Any = None

    def __repr__(self) -> str:
        state = "open" if self._stream is not None else "closed"
        return (
            f"<{type(self).__name__} {self.settings.address} db={self.settings.database} {state}>"
        )

    @property
    def stream(self) -> AsyncStream | None:
        return self._stream

    @property
    def reader(self) -> Any:
        """The RESP reader of this connection (its buffered, unread bytes included)."""
        return self._reader

    @property
    def is_connected(self) -> bool:
        return self._stream is not None

    async def connect(self, timeout: float | EllipsisType | None = ...) -> None:
        """Open and set up the connection within ``timeout`` seconds in all (default:
        socket_connect_timeout; None: no limit, the handshake's replies then wait
        socket_timeout). A failure is a ConnectError (nothing was sent; a ProtocolError for
        garbage in the handshake), a TimeoutError or an AuthenticationError."""
        settings = self.settings
        if isinstance(timeout, EllipsisType):
            timeout = settings.connect_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._stream = await AsyncStream.open(
                settings.host,
                settings.port,
                settings.path,
                timeout,
                settings.ssl_context,
                settings.keepalive,
                settings.socket_timeout,
            )
        except (ConnectionError, TimeoutError) as exc:
            # nothing was sent: a ConnectError (a TLSHandshakeError is one), or a timeout
            kind = type(exc) if isinstance(exc, (ConnectError, TimeoutError)) else ConnectError
            raise kind(f"{exc} ({settings.address})") from None
        try:
            # the handshake is part of connecting: its replies count against the deadline,
            # and wait no longer than any reply (the blocking twin's first writes then
            # wait that long too: they run under the last read's timeout)
            wait = settings.socket_timeout
            if deadline is not None:
                left = max(deadline - time.monotonic(), 0.001)
                wait = left if wait is None else min(wait, left)
            await self._handshake(wait)
        except ConnectionError as exc:
            self.close()
            # before any command of the caller: a ConnectError (a ProtocolError stays one)
            failed: type[ConnectionError] = type(exc)
            if failed is ConnectionError:
                failed = ConnectError
            if settings.ssl_context is None and settings.path is None:
                # a TLS port hangs up on a plain hello (reset or EOF): say what it expects
                raise failed(f"{exc}; the server may expect TLS (rediss://)") from None
            if failed is type(exc):
                raise
            raise failed(*exc.args) from None
        except BaseException:
            self.close()
            raise
        self.last_used = time.monotonic()

    def _new_reader(self) -> None:
        settings = self.settings
        if True:  # ASYNC
            # a read hands over all that arrived since the last one (a backlog at once):
            # hiredis is fed it in pieces
            chunked = True
        else:  # SYNC
            chunked = False  # a read returns at most 64 KiB: hiredis' own Reader
        self._reader = make_reader(
            settings.parser, settings.encoding, settings.encoding_errors, chunked
        )

    async def _handshake(self, timeout: float | None) -> None:
        self._new_reader()
        settings = self.settings
        commands = handshake_commands(settings, settings.protocol) + list(self.setup)
        if not commands:
            return
        replies = await self.request_many(pack_commands(commands), len(commands), timeout)
        if check_handshake(settings, commands, replies):
            return
        # the server has no HELLO (Redis < 6): speak RESP2 and authenticate the old way
        self.protocol = 2
        commands = handshake_commands(settings, 2) + list(self.setup)
        if commands:
            check_handshake(
                settings,
                commands,
                await self.request_many(pack_commands(commands), len(commands), timeout),
            )

    async def send(self, data: bytes) -> None:
        stream = self._stream
        if stream is None:
            raise ConnectionError(f"connection to {self.settings.address} is closed")
        try:
            await stream.write(data)
        except BaseException as exc:
            self.close()
            if isinstance(exc, (ConnectionError, TimeoutError)):
                raise type(exc)(f"{exc} ({self.settings.address})") from None
            raise

    async def read_reply(self, timeout: float | None) -> Any:
        """The next reply; an error reply is returned as a ResponseError instance."""
        try:
            return await self._next_reply(timeout)
        except BaseException as exc:
            self.close()
            if isinstance(exc, (ConnectionError, TimeoutError)):
                raise type(exc)(f"{exc} ({self.settings.address})") from None
            raise

    async def read_replies(self, count: int, timeout: float | None) -> list[Any]:
        """The next ``count`` replies (a pipeline's), read in one loop rather than one call
        each; error replies are ResponseError instances, as with read_reply."""
        replies: list[Any] = []
        append = replies.append
        reader = self._reader
        try:
            while count:
                reply = reader.gets()
                if reply is NOT_ENOUGH:
                    stream = self._stream
                    if stream is None:
                        raise ConnectionError(f"connection to {self.settings.address} is closed")
                    reader.feed(await stream.read(timeout))
                    continue
                append(reply)
                count -= 1
        except BaseException as exc:
            self.close()
            if isinstance(exc, (ConnectionError, TimeoutError)):
                raise type(exc)(f"{exc} ({self.settings.address})") from None
            raise
        return replies

    async def _next_reply(self, timeout: float | None) -> Any:
        reader = self._reader
        reply = reader.gets()
        while reply is NOT_ENOUGH:
            stream = self._stream
            if stream is None:
                raise ConnectionError(f"connection to {self.settings.address} is closed")
            reader.feed(await stream.read(timeout))
            reply = reader.gets()
        return reply

    async def wait_reply(self, timeout: float | None) -> Any:
        """The next reply, or NOT_ENOUGH when none is complete within ``timeout``.

        For connections that wait for pushed messages (pub/sub): a quiet period is not a
        failure, and a partly received reply stays buffered for the next call.
        """
        try:
            return await self.read_reply_keeping(timeout)
        except TimeoutError:
            return NOT_ENOUGH

    async def read_reply_keeping(self, timeout: float | None) -> Any:
        """Like read_reply, but a timeout or cancellation leaves the connection usable:
        unread bytes stay buffered, so only a broken stream closes it."""
        try:
            return await self._next_reply(timeout)
        except ConnectionError:
            self.close()
            raise

    async def request(self, data: bytes, timeout: float | None) -> Any:
        await self.send(data)
        return await self.read_reply(timeout)

    async def request_many(self, data: bytes, count: int, timeout: float | None) -> list[Any]:
        await self.send(data)
        return await self.read_replies(count, timeout)

    async def execute(self, *args: Any, timeout: float | None = None) -> Any:
        """Send one command and return its reply, raising an error reply."""
        reply = await self.request(pack_command(*args), timeout or self.settings.socket_timeout)
        if isinstance(reply, ResponseError):
            raise response_error(reply)
        return reply

    def is_alive(self) -> bool:
        stream = self._stream
        return stream is not None and stream.is_alive()

    async def check_health(self) -> bool:
        """PING a connection that was idle longer than health_check_interval."""
        if not self.is_alive():
            return False
        interval = self.settings.health_check_interval
        if interval and time.monotonic() - self.last_used > interval:
            try:
                reply = await self.request(PING, self.settings.socket_timeout or interval or None)
            except (ConnectionError, TimeoutError):
                return False
            if isinstance(reply, ResponseError):
                self.close()
                return False
        return True

    def close(self) -> None:
        stream = self._stream
        if stream is not None:
            self._stream = None
            stream.close()

    async def __aenter__(self) -> AsyncConnection:
        if self._stream is None:
            await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
