"""The blocking client: ``store.sync.create_store(url).execute("GET", "k")``."""

from ._sync.commands import SyncCommands as Commands
from ._sync.commands import SyncRedisClient as RedisClient
from ._sync.connection import SyncConnection as Connection
from ._sync.pool import SyncConnectionPool as ConnectionPool
from ._sync.store import RedisStore, RemoteStore, Store, create_store
from .errors import *  # noqa: F403
from .errors import __all__ as _errors
from .registry import data_stores, register_store

__all__ = [
    "Commands",
    "Connection",
    "ConnectionPool",
    "RedisClient",
    "RedisStore",
    "RemoteStore",
    "Store",
    "create_store",
    "data_stores",
    "register_store",
    *_errors,
]
