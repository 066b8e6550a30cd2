"""A distributed lock with token ownership; release and extend are atomic Lua scripts."""

from __future__ import annotations

import os
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._backend.synchronization import async_sleep
from ..errors import LockError
from .scripts import AsyncScript

if TYPE_CHECKING:
    from .protocols import AsyncCommandTarget

# KEYS[1] the lock, ARGV[1] our token: delete it only while it is ours
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

# KEYS[1] the lock, ARGV[1] our token, ARGV[2] milliseconds, ARGV[3] "1" to replace the TTL
EXTEND = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
    return 0
end
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
    return 0
end
local new_ttl = tonumber(ARGV[2])
if ARGV[3] == '0' then
    new_ttl = new_ttl + ttl
end
redis.call('pexpire', KEYS[1], new_ttl)
return 1
"""


def _positive(name: str, value: Any, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not value > 0:  # also refuses nan
        raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
    return float(value)


class AsyncLock:
    """``async with store.lock("name", timeout=10):`` ...

    Acquiring sets the key ``name`` to a random token (SET NX PX), so only the holder of
    that token can release or extend the lock. ``timeout`` (seconds) makes the lock
    expire if its holder dies; ``blocking`` and ``blocking_timeout`` say whether and how
    long ``acquire`` waits for it, trying again every ``sleep`` seconds.

    The token belongs to this object, not to a task or thread: share a lock object only
    between code that acquires and releases it together. The lock is not reentrant.
    """

    def __init__(
        self,
        store: AsyncCommandTarget,
        name: Any,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.timeout = _positive("timeout", timeout, optional=True)
        sleep_seconds = _positive("sleep", sleep, optional=False)
        assert sleep_seconds is not None
        self.sleep = sleep_seconds
        self.blocking = bool(blocking)
        self.blocking_timeout = self._check_blocking_timeout(blocking_timeout)
        self.token: str | bytes | None = None
        self._release_script = AsyncScript(store, RELEASE)
        self._extend_script = AsyncScript(store, EXTEND)

    def __repr__(self) -> str:
        state = "acquired" if self.token is not None else "not acquired"
        return f"<{type(self).__name__} {self.name!r} {state}>"

    @staticmethod
    def _check_blocking_timeout(value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(
                f"blocking_timeout must be a number of seconds, not {type(value).__name__}"
            )
        if not value >= 0:
            raise ValueError(f"blocking_timeout must be >= 0 seconds, got {value!r}")
        return float(value)

    async def acquire(
        self,
        blocking: bool | None = None,
        blocking_timeout: float | None = None,
        token: str | bytes | None = None,
    ) -> bool:
        """Take the lock: True when acquired, False when it stayed taken (at once when not
        blocking, else after ``blocking_timeout`` seconds; None waits for ever)."""
        if blocking is None:
            blocking = self.blocking
        if blocking_timeout is None:
            blocking_timeout = self.blocking_timeout
        else:
            blocking_timeout = self._check_blocking_timeout(blocking_timeout)
        if token is None:
            token = os.urandom(16).hex()
        elif not isinstance(token, (str, bytes)):
            raise TypeError(f"a lock token is str or bytes, not {type(token).__name__}")
        args: tuple[Any, ...] = ("SET", self.name, token, "NX")
        if self.timeout is not None:
            args += ("PX", max(int(self.timeout * 1000), 1))
        execute = self.store.execute
        deadline = None if blocking_timeout is None else monotonic() + blocking_timeout
        while True:
            if await execute(*args) is not None:
                self.token = token
                return True
            if not blocking:
                return False
            delay = self.sleep
            if deadline is not None:
                left = deadline - monotonic()
                if left <= 0:
                    return False
                delay = min(delay, left)
            await async_sleep(delay)

    async def release(self) -> None:
        """Free the lock; LockError when it was not acquired or is no longer ours
        (expired, and maybe taken by someone else: their lock is left alone)."""
        token = self.token
        if token is None:
            raise LockError("cannot release an unlocked lock")
        self.token = None
        if not await self._release_script(keys=[self.name], args=[token]):
            raise LockError("cannot release a lock that is no longer owned")

    async def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the lock's time to live (or make it the new
        TTL with ``replace_ttl``). LockError when the lock is not ours or never expires."""
        seconds = _positive("additional_time", additional_time, optional=False)
        assert seconds is not None
        token = self.token
        if token is None:
            raise LockError("cannot extend an unlocked lock")
        if self.timeout is None:
            raise LockError("cannot extend a lock with no timeout")
        args = [token, max(int(seconds * 1000), 1), "1" if replace_ttl else "0"]
        if not await self._extend_script(keys=[self.name], args=args):
            raise LockError("cannot extend a lock that is no longer owned")
        return True

    async def reacquire(self) -> bool:
        """Reset the lock's time to live to ``timeout``."""
        if self.timeout is None:
            raise LockError("cannot reacquire a lock with no timeout")
        return await self.extend(self.timeout, replace_ttl=True)

    async def locked(self) -> bool:
        """Whether anyone holds the lock."""
        return bool(await self.store.execute("EXISTS", self.name))

    async def owned(self) -> bool:
        """Whether this object holds the lock (the key still has our token)."""
        token = self.token
        if token is None:
            return False
        value = await self.store.execute("GET", self.name)
        if value is None:
            return False
        store = self.store
        return store.encode_bytes(value) == store.encode_bytes(token)

    async def __aenter__(self) -> AsyncLock:
        if await self.acquire():
            return self
        raise LockError(f"unable to acquire the lock {self.name!r}")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()
