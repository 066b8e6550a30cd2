"""PulsarDS: a Redis-compatible server in pure Python, the embedded default store.

``python -m store serve`` runs one; ``store.aio.start_store`` / ``store.sync.start_store``
start one for a ``pulsar://`` URL when nothing answers there.
"""

from __future__ import annotations

from .config import DEFAULT_PORT, ServerConfig
from .core import PulsarDS
from .embedded import ServerThread, start_server

__all__ = ["DEFAULT_PORT", "PulsarDS", "ServerConfig", "ServerThread", "start_server"]
