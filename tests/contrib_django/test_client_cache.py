"""StoreCache with the store's client-side cache (OPTIONS {"client_cache": True}): a second
get is answered without a round trip, and another client's write is seen."""

from __future__ import annotations

import time

from store import sync
from store.contrib.django import StoreCache, close_stores

DATABASE = 11  # test_cache.py uses 10


def _gets(store: sync.RedisStore) -> int:
    info = store.client().info("commandstats")
    return int(info.get("cmdstat_get", {}).get("calls", 0))


def test_a_second_get_is_served_locally(redis_url: str) -> None:
    url = f"{redis_url}/{DATABASE}"
    raw = sync.create_store(url)
    assert isinstance(raw, sync.RedisStore)
    try:
        raw.execute("FLUSHDB")
        cache = StoreCache(url, {"OPTIONS": {"client_cache": True}})
        cache.set("page", {"html": "<p>1</p>"})
        before = _gets(raw)
        assert cache.get("page") == {"html": "<p>1</p>"}
        assert cache.get("page") == {"html": "<p>1</p>"}
        assert _gets(raw) == before + 1
        stats = cache._read_store().cache_stats()
        assert stats is not None and stats.hits == 1
        cache.set("page", "changed")  # its own write: seen at once
        assert cache.get("page") == "changed"
        raw.execute("SET", cache.make_key("page"), "42")  # another client's
        time.sleep(0.01)
        assert cache.get("page") == 42  # plain integers are stored plain
    finally:
        raw.execute("FLUSHDB")
        raw.close()
        close_stores()
