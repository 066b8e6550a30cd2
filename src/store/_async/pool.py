"""A bounded pool of connections to one server."""

from __future__ import annotations

import os
import weakref
from collections import deque
from time import monotonic

from .._backend import AsyncSemaphore, async_sleep
from .._protocol import ConnectionSettings
from ..errors import AuthenticationError, ConnectionError, PoolExhaustedError, TimeoutError
from .connection import AsyncConnection

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
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        max_connections: int,
        timeout: float | None,
        retries: int,
        retry_backoff: float,
    ) -> None:
        self.settings = settings
        self.max_connections = max_connections
        self.timeout = timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        self._generation = 0
        self._reset_generation = 0
        self._idle: deque[AsyncConnection] = deque()
        self._slots = AsyncSemaphore(max_connections)
        self._in_use = 0
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
    def in_use(self) -> int:
        return self._in_use

    async def acquire(self) -> AsyncConnection:
        if not await self._slots.acquire(self.timeout):
            raise PoolExhaustedError(
                f"no free connection to {self.settings.address}: all {self.max_connections} "
                f"in use for {self.timeout}s (raise max_connections or pool_timeout)"
            )
        try:
            idle = self._idle
            while idle:
                try:
                    connection = idle.pop()
                except IndexError:  # another thread took the last one since the test
                    break
                if await connection.check_health():
                    self._in_use += 1
                    return connection
                connection.close()
            connection = await self.connect()
        except BaseException:
            self._slots.release()
            raise
        self._in_use += 1
        return connection

    def release(self, connection: AsyncConnection) -> None:
        """Give back a connection; a closed one (failed, interrupted) is dropped."""
        if connection.generation < self._reset_generation:
            connection.close()  # taken before a fork: its slot belongs to the old count
            return
        self._in_use -= 1
        if connection.generation == self._generation and connection.is_connected:
            connection.last_used = monotonic()
            self._idle.append(connection)
            if connection.generation != self._generation:
                # close() ran meanwhile (in another thread) and may have emptied the idle
                # list before this connection was on it: take it back and close it
                try:
                    self._idle.remove(connection)
                except ValueError:
                    pass  # close() closed it, or an acquire took it (and will drop it)
                else:
                    connection.close()
        else:
            connection.close()
        self._slots.release()

    def discard(self, connection: AsyncConnection) -> None:
        connection.close()
        self.release(connection)

    async def connect(self) -> AsyncConnection:
        """A new connection, retried with backoff while the server cannot be reached."""
        attempt = 0
        while True:
            connection = AsyncConnection(self.settings, self._generation)
            try:
                await connection.connect()
                return connection
            except AuthenticationError:
                raise
            except (ConnectionError, TimeoutError):
                if attempt >= self.retries:
                    raise
            await async_sleep(min(self.retry_backoff * 2**attempt, 1.0))
            attempt += 1

    def close(self) -> None:
        """Close idle connections; those in use are closed when they come back."""
        self._generation += 1
        idle = self._idle
        while idle:
            try:
                connection = idle.pop()
            except IndexError:  # another thread took the last one since the test
                break
            connection.close()

    def reset(self) -> None:
        """Forget every connection (after fork): no QUIT, no shutdown, so the parent's
        connections are undisturbed; the child only closes its copies of the sockets."""
        self._generation += 1
        self._reset_generation = self._generation
        self._idle = deque()
        self._slots = AsyncSemaphore(self.max_connections)
        self._in_use = 0
