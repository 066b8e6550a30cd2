"""A bounded pool of connections to one server."""

from __future__ import annotations

import os
import weakref
from collections import deque
from time import monotonic
from types import TracebackType
from typing import Any

from .._backend.synchronization import AsyncSemaphore, AsyncThreadLock, async_sleep
from .._protocol import ConnectionSettings
from ..errors import (
    AuthenticationError,
    ConnectionError,
    PoolExhaustedError,
    TimeoutError,
    TLSHandshakeError,
)
from .connection import AsyncConnection

if True:  # ASYNC
    from .._backend.synchronization import current_loop

_pools: weakref.WeakSet[AsyncConnectionPool] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The child must not share sockets with its parent: forget them (closing our copy of
    # a file descriptor does not disturb the parent's connection).
    for pool in list(_pools):
        pool.reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class AsyncConnectionPool:
    """At most ``max_connections`` connections; ``acquire`` waits ``timeout`` seconds for one.

    Idle connections are checked before reuse (peer closed, unexpected bytes, and a PING
    after ``health_check_interval``); a connection that failed or was interrupted while
    in use is discarded, never put back.

    In store.aio its connections and slots belong to the event loop they were made on:
    on another loop (a second run of the program's loop), ``acquire`` drops them, as
    after a fork, and starts afresh there; one loop at a time.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        max_connections: int,
        timeout: float | None,
        retries: int,
        retry_backoff: float,
        setup: tuple[tuple[Any, ...], ...] = (),
    ) -> None:
        self.settings = settings
        # commands each new connection sends with its handshake (see AsyncConnection)
        self.setup = setup
        self.max_connections = max_connections
        self.timeout = timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        # guards the bookkeeping (idle list, in_use, generation) between the threads of the
        # blocking variant; held for a few lines at a time, never while waiting for I/O
        self._lock = AsyncThreadLock()
        self._generation = 0
        self._reset_generation = 0
        self._idle: deque[AsyncConnection] = deque()
        # handed out or being opened: moved to and from the idle list under the lock, so
        # that in_use + idle never counts a connection twice
        self._in_use = 0
        self._slots = AsyncSemaphore(max_connections)
        if True:  # ASYNC
            # the event loop of its connections and slots (read-only)
            self.loop: Any = None
        _pools.add(self)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.settings.address} "
            f"idle={len(self._idle)} in_use={self._in_use} max={self.max_connections}>"
        )

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def generation(self) -> int:
        """Bumped by close(): connections made before it carry a smaller number."""
        return self._generation

    @property
    def in_use(self) -> int:
        """Connections handed out (and being opened for a caller)."""
        return self._in_use

    async def acquire(self) -> AsyncConnection:
        if True:  # ASYNC
            # The loop check of a pooled command. Not asyncio.get_running_loop(), which makes
            # a getpid() system call on Python 3.11: a thread runs one loop at a time, so a
            # loop that is not running is not the caller's.
            loop = self.loop
            if loop is None or not loop.is_running():
                self._bind(current_loop())
        if not await self._slots.acquire(self.timeout):
            raise PoolExhaustedError(
                f"no free connection to {self.settings.address}: all {self.max_connections} "
                f"in use for {self.timeout}s (raise max_connections or pool_timeout)"
            )
        lock = self._lock
        try:
            while True:
                # acquire()/release() rather than ``with``: a ``with`` costs about 1,000
                # more instructions, and nothing between the two can raise
                lock.acquire()
                idle = self._idle
                connection = idle.pop() if idle else None
                self._in_use += 1
                lock.release()
                if connection is None:
                    return await self.connect()
                if await connection.check_health():
                    return connection
                connection.close()
                with lock:
                    self._in_use -= 1
        except BaseException:
            with lock:
                self._in_use -= 1  # counted: the failure came after the count
            self._slots.release()
            raise

    def release(self, connection: AsyncConnection) -> None:
        """Give back a connection; a closed one (failed, interrupted) is dropped."""
        now = monotonic()  # outside the lock, which only guards the bookkeeping
        lock = self._lock
        lock.acquire()  # nothing below can raise before the release (see acquire)
        # taken before a fork: its slot belongs to the old count, and it is closed
        forked = connection.generation < self._reset_generation
        # close() cannot run between this test and the append: it changes the
        # generation and empties the idle list under the same lock
        kept = connection.generation == self._generation and connection.is_connected
        if not forked:
            self._in_use -= 1
        if kept:
            connection.last_used = now
            self._idle.append(connection)
        lock.release()
        if not kept:
            connection.close()
        if not forked:
            self._slots.release()

    def discard(self, connection: AsyncConnection) -> None:
        """Close a connection that must not be reused (a reply may still be on its way)
        and give its slot back."""
        connection.close()
        self.release(connection)

    def lease(self) -> AsyncLease:
        """``async with pool.lease() as connection:`` a connection for the block, released
        when the block ends normally and discarded (closed, never reused) when it raises,
        cancellation included: an interrupted exchange may leave a reply on its way.

        A closed connection given back is dropped either way, so a block ended by a
        ConnectionError (which closed the connection) loses nothing by the discard; code
        that retries on another connection does so after the block.
        """
        return AsyncLease(self)

    async def connect(self) -> AsyncConnection:
        """A new connection, retried with backoff while the server cannot be reached.

        Every attempt, the handshake and the pauses between attempts included, shares one
        deadline of ``socket_connect_timeout``: connecting takes at most that long,
        whatever ``retries`` says (with no connect timeout, each attempt waits as long as
        it takes: then (retries + 1) attempts plus their backoff). A refused password and a
        failed TLS handshake are not transient: never retried. The last failure is raised:
        a ConnectError (whatever waits for the connection was not sent), a TimeoutError or
        an AuthenticationError.
        """
        timeout = self.settings.connect_timeout
        deadline = None if timeout is None else monotonic() + timeout
        attempt = 0
        while True:
            connection = AsyncConnection(self.settings, self._generation, self.setup)
            try:
                await connection.connect(None if deadline is None else deadline - monotonic())
                return connection
            except (AuthenticationError, TLSHandshakeError):
                raise
            except (ConnectionError, TimeoutError):
                pause = min(self.retry_backoff * 2**attempt, 1.0)
                if attempt >= self.retries or (
                    deadline is not None and monotonic() + pause >= deadline
                ):
                    raise
            await async_sleep(pause)
            attempt += 1

    def close(self) -> None:
        """Close idle connections; those in use are closed when they come back."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, deque()
        for connection in idle:
            connection.close()

    if True:  # ASYNC

        def _bind(self, loop: object) -> None:
            """Move to event loop ``loop``: the connections and slots of the previous one
            (most likely closed) cannot serve it. Idle connections are closed without
            that loop; those still handed out are closed when they come back, without
            counting (as after a fork)."""
            if self.loop is not None:
                self.close()
                self.reset()
            self.loop = loop

    def reset(self) -> None:
        """Forget every connection (after fork): no QUIT, no shutdown, so the parent's
        connections are undisturbed; the child only closes its copies of the sockets.

        The lock is new too: another thread may have held the old one when the process
        forked, and no thread of the child would ever release it."""
        self._lock = AsyncThreadLock()
        self._generation += 1
        self._reset_generation = self._generation
        self._idle = deque()
        self._in_use = 0
        self._slots = AsyncSemaphore(self.max_connections)


class AsyncLease:
    """The context manager of ``pool.lease()``: see there."""

    __slots__ = ("_connection", "_pool")

    _connection: AsyncConnection

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def __aenter__(self) -> AsyncConnection:
        connection = self._connection = await self._pool.acquire()
        return connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._pool.release(self._connection)
        else:
            self._pool.discard(self._connection)
