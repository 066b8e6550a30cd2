"""What pipelines, pub/sub, locks, scripts and channels need from their store.

They take this command target rather than a ``RedisStore``: the few members below and
nothing else (no ``_pool``, no ``_settings``), so that they never import the store module,
and any object with these members can stand in for a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._protocol import ConnectionSettings
    from .connection import AsyncConnection
    from .pool import AsyncConnectionPool


class AsyncCommandTarget(Protocol):
    """A store as its pipelines, pub/sub, locks, scripts and channels use it."""

    @property
    def encoding(self) -> str:
        """The encoding of str arguments (and of replies, with ``decode_responses``)."""
        ...

    @property
    def settings(self) -> ConnectionSettings:
        """How to reach and talk to the server (address, timeouts, health checks)."""
        ...

    @property
    def pool(self) -> AsyncConnectionPool:
        """The pooled connections (``lease()``, or ``acquire()`` to keep one longer)."""
        ...

    @property
    def urlparams(self) -> Mapping[str, Any]:
        """The URL's extra parameters (``namespace`` for channels)."""
        ...

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Run one command, return its reply."""
        ...

    async def connect(self) -> AsyncConnection:
        """A new connection outside the pool, owned by the caller (pub/sub)."""
        ...

    def encode_bytes(self, data: bytes | str) -> bytes:
        """``data`` as the server stores it: bytes as they are, str in ``encoding``."""
        ...
