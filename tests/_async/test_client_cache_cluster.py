"""Client-side caching on a Cluster store: one cache and one invalidation connection per
node (each node's store has its own), against the real cluster of tests/cluster_fixture.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from store._backend.synchronization import async_sleep
from store.aio import ClusterStore, RedisStore

from .conftest import CLUSTER_TARGETS

pytestmark = pytest.mark.parametrize(
    "target",
    CLUSTER_TARGETS,
    ids=[f"{s}-resp{p}-{parser}" for s, p, parser in CLUSTER_TARGETS],
    indirect=True,
)


async def test_one_cache_per_node(store_factory: Callable[..., RedisStore]) -> None:
    store = store_factory(client_cache=True)
    writer = store_factory()
    await writer.flush()
    assert isinstance(store, ClusterStore)
    keys = [f"cc:n{index}" for index in range(30)]  # on every primary
    for key in keys:
        await writer.execute("SET", key, "1")
    for _ in range(2):
        for key in keys:
            assert await store.execute("GET", key) == b"1"
    stats = store.cache_stats()
    assert stats is not None and (stats.hits, stats.misses) == (30, 30)
    assert store.slot_map is not None
    for address in store.slot_map.primaries():
        cache = store.node_store(address).client_cache
        assert cache is not None and cache.client_id is not None
    for key in keys:
        await writer.execute("SET", key, "2")
    await async_sleep(0.02)
    for key in keys:
        assert await store.execute("GET", key) == b"2"
    assert store_factory().cache_stats() is None
