# gen_sync: async-only -- automatic pipelining shares a connection on an event loop
"""Automatic pipelining: concurrent commands of one store share one connection.

Commands issued while others are in flight are written together (one send per event
loop iteration) on the same connection, and their replies are matched in order, straight
from the stream's data callback. The shared connection comes from the pool and goes back
to it as soon as no reply is outstanding, so a store used by one caller at a time behaves
as before (one pooled connection, reused).

A cancelled command's reply is still read, and dropped. A timeout or a broken stream
ends the shared connection: every outstanding command fails (they may have reached the
server, so none is sent again here), and the next command opens a fresh one. Those whose
bytes were never written, and those waiting for a connection that could not be opened,
fail with ConnectError: they did not reach the server.
Only plain request/reply commands come here (the command table's SHARED route). This
module has no blocking twin (see its first line).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .._backend.streams import AsyncStream
from .._backend.synchronization import AsyncEvent, current_loop
from ..errors import ConnectError, ConnectionError, ProtocolError, TimeoutError
from ..resp import NOT_ENOUGH
from .connection import AsyncConnection
from .pool import AsyncConnectionPool


class _Shared:
    """One connection in receiver mode and the waiters of its outstanding replies."""

    __slots__ = ("connection", "ended", "loop", "owner", "reader", "stream", "waiters")

    def __init__(
        self, owner: AsyncMultiplexer, connection: AsyncConnection, stream: AsyncStream
    ) -> None:
        self.owner = owner
        self.connection = connection
        self.stream = stream
        self.reader: Any = connection.reader
        self.waiters: deque[Any] = deque()
        self.ended = False
        self.loop = stream.loop
        stream.set_receiver(self.on_data, self.on_lost)

    def submit(self, packed: bytes) -> Any:
        """Queue ``packed`` for sending; the waiter of its reply."""
        stream = self.stream
        waiter = stream.new_waiter()
        waiters = self.waiters
        if waiters:
            stream.write_soon(packed)
        else:
            stream.write_now(packed)
        waiters.append(waiter)
        return waiter

    def on_data(self, data: bytes) -> None:
        reader = self.reader
        waiters = self.waiters
        try:
            reader.feed(data)
            reply = reader.gets()
            while reply is not NOT_ENOUGH:
                waiter = waiters.popleft()
                if not waiter.done():  # else cancelled: its reply is dropped
                    waiter.set_result(reply)
                reply = reader.gets()
        except IndexError:
            address = self.connection.settings.address
            self.end(ProtocolError(f"a reply nobody asked for ({address})"))
            return
        except ConnectionError as exc:
            self.end(exc)
            return
        except Exception as exc:
            self.end(ProtocolError(f"{exc} ({self.connection.settings.address})"))
            return
        if not waiters:
            self.release()

    def on_lost(self, exc: BaseException) -> None:
        self.end(ConnectionError(f"{exc} ({self.connection.settings.address})"))

    def release(self) -> None:
        """Nothing outstanding: back to the pool, in its buffering mode."""
        self.ended = True
        owner = self.owner
        if owner.shared is self:
            owner.shared = None
        self.stream.set_receiver(None, None)
        owner.pool.release(self.connection)

    def end(self, error: BaseException) -> None:
        """Close the connection and fail every outstanding command with ``error``."""
        if self.ended:
            return
        self.ended = True
        owner = self.owner
        if owner.shared is self:
            owner.shared = None
        stream = self.stream
        # the last commands may still be waiting for their write_soon: the closed stream
        # drops them (a ConnectError: never sent); each queued one has the last waiters
        unsent = len(stream._out)
        stream.set_receiver(None, None)
        owner.pool.discard(self.connection)
        waiters = self.waiters
        sent = len(waiters) - unsent
        never = ConnectError(f"{error}; the command was not sent") if unsent else error
        for index, waiter in enumerate(waiters):
            if not waiter.done():
                waiter.set_exception(error if index < sent else never)
        waiters.clear()

    def drop(self) -> None:
        """Close a shared connection of an event loop that is gone, touching nothing of
        that loop (its waiters' futures are left alone: nobody awaits them any more)."""
        self.ended = True
        self.waiters.clear()
        self.stream.set_receiver(None, None)
        self.owner.pool.discard(self.connection)


class _Opening:
    """An opening in progress: callers that arrive meanwhile wait for its end."""

    __slots__ = ("error", "waiting")

    def __init__(self) -> None:
        self.waiting: list[AsyncEvent] = []  # made by the waiting callers: rare
        self.error: BaseException | None = None


class AsyncMultiplexer:
    """The shared connection of one store; ``execute`` sends a packed command on it.

    The shared connection and an opening in progress belong to the event loop they were
    made on: a command on another loop (a second ``asyncio.run()``) drops them first."""

    __slots__ = ("opening", "pool", "shared")

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self.shared: _Shared | None = None
        self.opening: _Opening | None = None

    async def execute(self, packed: bytes, timeout: float | None) -> Any:
        """The reply to ``packed`` (an error reply is returned, not raised)."""
        shared = self.shared
        # one loop check per command: here, or the pool's when a connection is acquired
        # (is_running: get_running_loop() costs a getpid() system call on Python 3.11)
        if shared is not None and not shared.loop.is_running():
            self.shared = None
            shared.drop()
        for _ in range(3):
            shared = self.shared
            if shared is None:
                shared = await self._open()
            try:
                waiter = shared.submit(packed)
            except ConnectionError as exc:  # not sent: safe to try on a fresh connection
                shared.end(exc)
                continue
            if timeout is None:
                return await waiter
            try:
                return await shared.stream.wait(waiter, timeout)
            except TimeoutError as exc:
                raise self._stuck(shared, timeout, exc) from None
        raise ConnectError(f"cannot send to {self.pool.settings.address}")

    async def execute_owned(
        self, packed: bytes, timeout: float | None
    ) -> tuple[Any, AsyncConnection]:
        """execute(), and the connection that carried the command: client-side caching
        keeps a reply only while that connection's tracking covers it. A twin of
        execute(), so that execute() itself pays nothing for it."""
        shared = self.shared
        if shared is not None and not shared.loop.is_running():
            self.shared = None
            shared.drop()
        for _ in range(3):
            shared = self.shared
            if shared is None:
                shared = await self._open()
            try:
                waiter = shared.submit(packed)
            except ConnectionError as exc:
                shared.end(exc)
                continue
            if timeout is None:
                return await waiter, shared.connection
            try:
                return await shared.stream.wait(waiter, timeout), shared.connection
            except TimeoutError as exc:
                raise self._stuck(shared, timeout, exc) from None
        raise ConnectError(f"cannot send to {self.pool.settings.address}")

    def _stuck(self, shared: _Shared, timeout: float, exc: TimeoutError) -> TimeoutError:
        """A reply that timed out: the connection may be stuck, so nothing behind it can
        be trusted; it is ended, and the error to raise names the server."""
        address = self.pool.settings.address
        shared.end(
            TimeoutError(
                f"timed out after {timeout}s waiting for a reply on the shared "
                f"connection to {address}"
            )
        )
        return TimeoutError(f"{exc} ({address})")

    async def _open(self) -> _Shared:
        """The shared connection, opened by one caller while the others wait for it."""
        while True:
            opening = self.opening
            if opening is None:
                break
            if self.pool.loop is not current_loop():
                # the opener binds the pool to its loop before it waits: this opening is
                # of a loop that is gone, and will never end
                break
            event = AsyncEvent()
            opening.waiting.append(event)
            await event.wait(None)
            if opening.error is not None:
                raise opening.error
            shared = self.shared
            if shared is not None:
                return shared
        opening = self.opening = _Opening()
        try:
            while True:
                connection = await self.pool.acquire()
                stream = connection.stream
                try:
                    if stream is None:
                        raise ConnectionError("connection closed")
                    shared = _Shared(self, connection, stream)
                except ConnectionError:
                    self.pool.discard(connection)
                    continue
                self.shared = shared
                return shared
        except Exception as exc:
            opening.error = exc
            raise
        finally:
            self.opening = None
            for event in opening.waiting:
                event.set()

    def close(self) -> None:
        """New commands open a new shared connection; the current one goes back to the
        pool (which closes it) once its outstanding replies are read."""
        self.shared = None
