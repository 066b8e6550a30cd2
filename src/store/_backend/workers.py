"""Workers and callers: a background runner (a task in asyncio, a daemon thread in the
blocking twin) and the calling of user handlers (which may be coroutine functions where
the client is asynchronous).

A PubSub reads on one task or thread (its own, or the caller's) while others subscribe:
its state changes and writes are serialised by a mutex, its waits end early on an event
(both in ``synchronization``), and its background runner is an ``AsyncWorker`` (a task)
or a ``SyncWorker`` (a daemon thread); the runner calls handlers through the ``Caller``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["AsyncCaller", "AsyncWorker", "SyncCaller", "SyncWorker"]


class AsyncWorker:
    """Runs ``target()`` as a background task until it returns or ``stop`` cancels it."""

    __slots__ = ("_name", "_target", "_task")

    def __init__(self, target: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._target = target
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._target(), name=self._name)

    def is_running(self) -> bool:
        task = self._task
        return task is not None and not task.done()

    async def stop(self, timeout: float | None) -> bool:
        """Cancel the task and wait at most ``timeout`` seconds for it to end: True when it
        ended. Called from the task itself, it returns False at once (the target's loop
        must see for itself that it is asked to stop)."""
        task = self._task
        if task is None:
            return True
        if task is asyncio.current_task():
            return False
        if not task.done():
            task.cancel()
            await asyncio.wait((task,), timeout=timeout)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the target logs its own failures
        return task.done()


class SyncWorker:
    """Runs ``target()`` in a daemon thread; ``stop`` waits for it to return (a thread
    cannot be cancelled: the target's loop must see for itself that it is asked to stop)."""

    __slots__ = ("_name", "_target", "_thread")

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self._target = target
        self._name = name
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        thread = threading.Thread(target=self._target, name=self._name, daemon=True)
        self._thread = thread
        thread.start()

    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds for the thread to end: True when it ended.
        Called from the thread itself, it returns False at once."""
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        return not thread.is_alive()


class AsyncCaller:
    """Calls handlers: ``call(func, *args)`` waits for the result of a coroutine function."""

    __slots__ = ()

    @staticmethod
    async def call(func: Callable[..., Any], *args: Any) -> Any:
        result = func(*args)
        if inspect.isawaitable(result):
            result = await result
        return result


class SyncCaller:
    """Calls handlers: ``call(func, *args)``; the blocking twin takes plain callables only."""

    __slots__ = ()

    @staticmethod
    def call(func: Callable[..., Any], *args: Any) -> Any:
        return func(*args)
