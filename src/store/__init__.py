"""store: one asyncio client for Redis-protocol data stores, and its blocking twin.

Use ``store.aio`` in async code and ``store.sync`` in blocking code.
"""

__version__ = "0.1.0"
