"""Publish/subscribe on a dedicated connection that re-subscribes after reconnecting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import RedisStore


class AsyncPubSub:
    """Subscriptions and their messages: ``get_message``, iteration, a background runner."""

    def __init__(self, store: RedisStore, **kw: Any) -> None:
        self.store = store
        raise NotImplementedError("pub/sub is being written (issue 3)")
