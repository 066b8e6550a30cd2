"""Synchronization: locks, events, semaphores and sleeping, each with its blocking twin.

Two kinds of lock. A *mutex* (``AsyncMutex``/``SyncMutex``) excludes tasks or threads from
a section that waits (``async with``): it serialises a PubSub's writes and subscription
changes while another task or thread reads. A *thread lock* (``AsyncThreadLock``/
``SyncThreadLock``) guards a few lines of bookkeeping that never wait (plain ``with``, never
held across an ``await``): asyncio code runs them on one thread, so the async twin does
nothing, while the blocking twin is a real ``threading.Lock`` (as httpcore does).
"""

from __future__ import annotations

import asyncio
import builtins
import queue
import threading
import time

__all__ = [
    "AsyncEvent",
    "AsyncMutex",
    "AsyncSemaphore",
    "AsyncThreadLock",
    "SyncEvent",
    "SyncMutex",
    "SyncSemaphore",
    "SyncThreadLock",
    "async_sleep",
    "current_loop",
    "sleep",
]

# The running event loop (RuntimeError outside one): what a pool's and a multiplexer's
# connections belong to. The C function itself, no wrapper: it runs once per command.
current_loop = asyncio.get_running_loop


class AsyncThreadLock:
    """A lock for bookkeeping that never waits (``with lock:`` or ``acquire()`` ...
    ``release()``, no ``await`` inside): a no-op, since the tasks of an event loop all run
    on its one thread. Its blocking twin is a real lock between threads."""

    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc_info: object) -> None:
        pass

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


def SyncThreadLock() -> threading.Lock:
    """A lock between threads for bookkeeping that never waits (``with lock:``); not
    reentrant. threading.Lock itself: its ``with`` costs no Python call."""
    return threading.Lock()


class AsyncMutex:
    """Mutual exclusion between tasks (``async with mutex:``); not reentrant."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    async def try_acquire(self) -> bool:
        """Take the mutex only if it is free (then ``release()`` it): True if taken."""
        if self._lock.locked():
            return False
        await self._lock.acquire()  # free: returns without waiting
        return True

    def release(self) -> None:
        self._lock.release()


class SyncMutex:
    """Mutual exclusion between threads (``with mutex:``); not reentrant."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def try_acquire(self) -> bool:
        """Take the mutex only if it is free (then ``release()`` it): True if taken."""
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        self._lock.release()


class AsyncEvent:
    """A flag to wait for, with a timeout (seconds, None for ever)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float | None) -> bool:
        """True when the flag is set, False when ``timeout`` passed first."""
        event = self._event
        if event.is_set():
            return True
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except builtins.TimeoutError:
            return False
        return True


class SyncEvent:
    """A flag to wait for, with a timeout (seconds, None for ever)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None) -> bool:
        """True when the flag is set, False when ``timeout`` passed first."""
        return self._event.wait(timeout)


class AsyncSemaphore:
    """A counter of free slots whose acquire waits at most ``timeout`` seconds."""

    __slots__ = ("_semaphore",)

    def __init__(self, value: int) -> None:
        self._semaphore = asyncio.Semaphore(value)

    async def acquire(self, timeout: float | None) -> bool:
        semaphore = self._semaphore
        if not semaphore.locked():
            return await semaphore.acquire()
        try:
            async with asyncio.timeout(timeout):
                return await semaphore.acquire()
        except builtins.TimeoutError:
            return False

    def release(self) -> None:
        self._semaphore.release()


class SyncSemaphore:
    """A counter of free slots whose acquire waits at most ``timeout`` seconds.

    The slots are tokens in a ``queue.SimpleQueue``, whose get and put (waiting with a
    timeout included) run in C: a pooled command takes and gives back a slot each time."""

    __slots__ = ("_tokens",)

    def __init__(self, value: int) -> None:
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(value):
            self._tokens.put(None)

    def acquire(self, timeout: float | None) -> bool:
        try:
            self._tokens.get(True, timeout)
        except queue.Empty:
            return False
        return True

    def release(self) -> None:
        self._tokens.put(None)


async def async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    time.sleep(seconds)
