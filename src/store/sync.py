"""The blocking client: ``store.sync.create_store(url).execute("GET", "k")``."""

from ._sync.channels import SyncChannels as Channels
from ._sync.cluster import ClusterStore
from ._sync.cluster_pubsub import SyncClusterPubSub as ClusterPubSub
from ._sync.commands import SyncCommands as Commands
from ._sync.commands import SyncRedisClient as RedisClient
from ._sync.commands_base import Reply, StrT
from ._sync.commands_bits import SyncBitFieldOperation as BitFieldOperation
from ._sync.connection import SyncConnection as Connection
from ._sync.lock import SyncLock as Lock
from ._sync.pipeline import SyncPipeline as Pipeline
from ._sync.pool import SyncConnectionPool as ConnectionPool
from ._sync.pubsub import SyncPubSub as PubSub
from ._sync.scripts import SyncScript as Script
from ._sync.sentinel import SentinelStore
from ._sync.sentinel import SyncSentinelPubSub as SentinelPubSub
from ._sync.store import (
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
