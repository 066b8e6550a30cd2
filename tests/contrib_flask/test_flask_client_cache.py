"""Flask's store and Flask-Caching's StoreCache with the client-side cache on (redis-server:
PulsarDS's CLIENT TRACKING is not there yet)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask
from flask_caching import Cache

from store.contrib.flask import FlaskStore
from store.sync import RedisStore, create_store

from .conftest import with_database


def _gets(store: RedisStore) -> int:
    info = store.client().info("commandstats")
    return int(info.get("cmdstat_get", {}).get("calls", 0))


def test_the_options_turn_it_on(redis_url: str, make_app: Callable[..., Flask]) -> None:
    url = with_database(redis_url)
    admin = create_store(url)
    assert isinstance(admin, RedisStore)
    admin.flush()
    app = make_app(
        STORE_URL=url,
        STORE_OPTIONS={"client_cache": True},
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL=url,
        CACHE_OPTIONS={"client_cache": 1000},
    )
    FlaskStore(app)
    cache = Cache(app)
    try:
        store = app.extensions["store"]
        admin.execute("SET", "plain", "1")
        before = _gets(admin)
        assert store.execute("GET", "plain") == store.execute("GET", "plain") == b"1"
        assert _gets(admin) == before + 1
        with app.app_context():
            cache.set("k", "v")
            before = _gets(admin)
            assert cache.get("k") == "v"
            assert cache.get("k") == "v"
            assert _gets(admin) == before + 1
            admin.execute("DEL", "flask_cache_k")  # another client's write
            time.sleep(0.01)
            assert cache.get("k") is None
    finally:
        admin.flush()
        admin.close()
