"""Lua scripts run by EVALSHA, loaded again on NOSCRIPT."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import RedisStore


class AsyncScript:
    """A registered Lua script, called as ``script(keys=[...], args=[...])``."""

    def __init__(self, store: RedisStore, script: str | bytes) -> None:
        self.store = store
        self.script = script
        raise NotImplementedError("scripts are being written (issue 3)")
