"""The asyncio client: ``await store.aio.create_store(url).execute('GET', 'k')``."""

from ._async.commands import AsyncCommands as Commands
from ._async.commands import AsyncRedisClient as RedisClient
from ._async.connection import AsyncConnection as Connection
from ._async.pool import AsyncConnectionPool as ConnectionPool
from ._async.store import RedisStore, RemoteStore, Store, create_store
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
