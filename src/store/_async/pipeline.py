"""Pipelines (one round trip for many commands) and MULTI/EXEC transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .commands import AsyncCommands

if TYPE_CHECKING:
    from .store import RedisStore


class AsyncPipeline(AsyncCommands):
    """Queues commands; ``commit()`` sends them in one write and returns their replies."""

    def __init__(self, store: RedisStore, transaction: bool, raise_on_error: bool) -> None:
        self.store = store
        self.transaction = transaction
        self.raise_on_error = raise_on_error
        raise NotImplementedError("pipelines are being written (issue 3)")


async def run_transaction(
    store: RedisStore,
    func: Callable[[AsyncPipeline], Any],
    keys: Iterable[Any],
    retries: int | None,
) -> Any:
    """Run ``func`` on a pipeline watching ``keys``; re-run it on WatchError."""
    raise NotImplementedError("transactions are being written (issue 3)")
