"""Channels: named channels carrying JSON events to registered callbacks (pulsar's design)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import RedisStore


class AsyncChannels:
    """``register(channel, event, callback)``, ``publish(channel, event, data)``."""

    def __init__(self, store: RedisStore, namespace: str | None = None, **kw: Any) -> None:
        self.store = store
        raise NotImplementedError("channels are being written (issue 3)")
