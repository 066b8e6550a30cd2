"""The asyncio client: ``await store.aio.create_store(url).execute('GET', 'k')``."""

from ._async.channels import AsyncChannels as Channels
from ._async.cluster import ClusterStore
from ._async.cluster_pubsub import AsyncClusterPubSub as ClusterPubSub
from ._async.commands import AsyncCommands as Commands
from ._async.commands import AsyncRedisClient as RedisClient
from ._async.commands_base import Reply, StrT
from ._async.commands_bits import AsyncBitFieldOperation as BitFieldOperation
from ._async.connection import AsyncConnection as Connection
from ._async.lock import AsyncLock as Lock
from ._async.pipeline import AsyncPipeline as Pipeline
from ._async.pool import AsyncConnectionPool as ConnectionPool
from ._async.pubsub import AsyncPubSub as PubSub
from ._async.scripts import AsyncScript as Script
from ._async.sentinel import AsyncSentinelPubSub as SentinelPubSub
from ._async.sentinel import SentinelStore
from ._async.store import (
    PulsarStore,
    RedisStore,
    RemoteStore,
    Store,
    create_store,
    start_store,
)
from .errors import *  # noqa: F403
from .errors import __all__ as _errors
from .messages import PubSubMessage
from .registry import data_stores, register_store

__all__ = [
    "BitFieldOperation",
    "Channels",
    "ClusterPubSub",
    "ClusterStore",
    "Commands",
    "Connection",
    "ConnectionPool",
    "Lock",
    "Pipeline",
    "PubSub",
    "PubSubMessage",
    "PulsarStore",
    "RedisClient",
    "RedisStore",
    "RemoteStore",
    "Reply",
    "Script",
    "SentinelPubSub",
    "SentinelStore",
    "Store",
    "StrT",
    "create_store",
    "data_stores",
    "register_store",
    "start_store",
    *_errors,
]
