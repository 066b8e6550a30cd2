"""A distributed lock with token ownership; release and extend are atomic Lua scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import RedisStore


class AsyncLock:
    """``async with store.lock("name", timeout=10):`` ..."""

    def __init__(
        self,
        store: RedisStore,
        name: Any,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> None:
        self.store = store
        self.name = name
        raise NotImplementedError("locks are being written (issue 3)")
