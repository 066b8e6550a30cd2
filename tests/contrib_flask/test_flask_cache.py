"""StoreCache: Flask-Caching's API and RedisCache's format on a store.sync store."""

from __future__ import annotations

import datetime as dt
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask_caching import Cache

from store.contrib.flask import FlaskStore, StoreCache
from store.errors import ImproperlyConfigured
from store.sync import RedisStore

PREFIX = "app[1]:"  # a glob class: unescaped, clear() would also match "app1:" keys


def cache_of(flask_cache: Cache, app: Flask) -> Any:
    """The backend object Flask-Caching made for ``app``."""
    return app.extensions["cache"][flask_cache]


@pytest.fixture
def cache_app(server_url: str, make_app: Callable[..., Flask]) -> Iterator[tuple[Flask, Cache]]:
    app = make_app(
        STORE_URL=server_url,
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL=server_url,
        CACHE_KEY_PREFIX=PREFIX,
        CACHE_DEFAULT_TIMEOUT=100,
    )
    FlaskStore(app)
    yield app, Cache(app)


@pytest.fixture
def cache(cache_app: tuple[Flask, Cache]) -> StoreCache:
    backend = cache_of(cache_app[1], cache_app[0])
    assert isinstance(backend, StoreCache)
    return backend


# -- configuration ---------------------------------------------------------------------------


def test_factory_shares_the_flaskstore_store(cache_app: tuple[Flask, Cache]) -> None:
    app, flask_cache = cache_app
    backend = cache_of(flask_cache, app)
    assert backend.store is app.extensions["store"]  # same URL and options: one pool
    backend.close()  # not its store: left open
    with app.app_context():
        flask_cache.set("k", "v")
    assert app.extensions["store"].pool.idle == 1


def test_factory_without_url_uses_the_flaskstore_store(
    server_url: str, make_app: Callable[..., Flask]
) -> None:
    app = make_app(STORE_URL=server_url, CACHE_TYPE="store.contrib.flask.StoreCache")
    FlaskStore(app)
    flask_cache = Cache(app)
    assert cache_of(flask_cache, app).store is app.extensions["store"]
    assert cache_of(flask_cache, app).key_prefix == "flask_cache_"  # Flask-Caching's default


def test_factory_makes_its_own_store_for_other_options(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore
) -> None:
    app = make_app(
        STORE_URL=server_url,
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL=server_url,
        CACHE_OPTIONS={"max_connections": 3, "socket_timeout": 5},
    )
    FlaskStore(app)
    flask_cache = Cache(app)
    backend = cache_of(flask_cache, app)
    assert backend.store is not app.extensions["store"]
    assert backend.store.pool.max_connections == 3
    assert backend.default_timeout == 300  # CACHE_OPTIONS did not leak into the cache's own
    with app.app_context():
        flask_cache.set("k", 1)
    assert admin.execute("GET", "flask_cache_k") == b"1"
    assert backend.store.pool.idle == 1
    backend.close()
    assert backend.store.pool.idle == 0


def test_factory_errors(server_url: str, make_app: Callable[..., Flask]) -> None:
    def init(**config: Any) -> None:
        Cache(make_app(CACHE_TYPE="store.contrib.flask.StoreCache", **config))

    with pytest.raises(ImproperlyConfigured, match="CACHE_REDIS_URL is not set"):
        init()
    with pytest.raises(ImproperlyConfigured, match=r"CACHE_REDIS_HOST: not read"):
        init(CACHE_REDIS_HOST="127.0.0.1")
    with pytest.raises(ImproperlyConfigured, match=r"CACHE_OPTIONS.*unknown option 'pool'"):
        init(CACHE_REDIS_URL=server_url, CACHE_OPTIONS={"pool": 3})
    with pytest.raises(ImproperlyConfigured, match="without decode_responses"):
        init(CACHE_REDIS_URL=server_url, CACHE_OPTIONS={"decode_responses": True})
    with pytest.raises(ImproperlyConfigured, match="default timeout must be >= 0"):
        init(CACHE_REDIS_URL=server_url, CACHE_DEFAULT_TIMEOUT=-1)
    with pytest.raises(ImproperlyConfigured, match="no CACHE_ARGS"):
        init(CACHE_REDIS_URL=server_url, CACHE_ARGS=["x"])
    secret = "s3cret-Pa55"
    with pytest.raises(ImproperlyConfigured, match="CACHE_REDIS_URL") as raised:
        init(CACHE_REDIS_URL=f"redis://:{secret}@127.0.0.1:99999")
    assert secret not in str(raised.value)


# -- the API ---------------------------------------------------------------------------------


def test_get_set_add_delete_has(cache: StoreCache, admin: RedisStore) -> None:
    assert cache.get("missing") is None
    assert cache.set("user", {"name": "ada", "langs": ["python"]}) is True
    assert cache.get("user") == {"name": "ada", "langs": ["python"]}
    assert cache.has("user") and not cache.has("missing")
    assert cache.add("user", "other") is False
    assert cache.get("user") == {"name": "ada", "langs": ["python"]}
    assert cache.add("fresh", "first") is True and cache.get("fresh") == "first"
    assert cache.delete("user") is True
    assert cache.delete("user") is False
    assert cache.get("user") is None
    assert admin.execute("EXISTS", f"{PREFIX}fresh") == 1  # under the prefix


def test_many(cache: StoreCache) -> None:
    assert cache.set_many({"a": 1, "b": "two", "c": [3]}) == ["a", "b", "c"]
    assert cache.get_many("a", "b", "c", "nope") == [1, "two", [3], None]
    assert cache.get_dict("a", "nope") == {"a": 1, "nope": None}
    assert cache.get_many() == [] and cache.set_many({}) == [] and cache.delete_many() == []
    assert cache.delete_many("a", "nope") == ["a", "nope"]  # absent counts as deleted
    assert cache.get_many("a", "b") == [None, "two"]
    assert cache.unlink("b", "c") == ["b", "c"]
    assert not cache.has("b") and not cache.has("c")


def test_values_in_the_rediscache_format(cache: StoreCache, admin: RedisStore) -> None:
    values: dict[str, Any] = {
        "int": 42,
        "negative": -7,
        "bool": True,  # not stored as an int: it would come back as 1
        "float": 1.5,
        "str": "héllo",
        "bytes": b"\x00\xff",
        "tuple": (1, "a"),
        "date": dt.datetime(2024, 5, 1, 12, 30),
    }
    cache.set_many(values)
    assert cache.get_many(*values) == list(values.values())
    assert type(cache.get("bool")) is bool
    assert admin.execute("GET", f"{PREFIX}int") == b"42"
    assert admin.execute("GET", f"{PREFIX}negative") == b"-7"
    raw = admin.execute("GET", f"{PREFIX}tuple")
    assert raw[:1] == b"!" and pickle.loads(raw[1:]) == (1, "a")


def test_unreadable_value_is_a_miss(cache: StoreCache, admin: RedisStore) -> None:
    admin.execute("SET", f"{PREFIX}broken", b"!not a pickle")
    admin.execute("SET", f"{PREFIX}legacy", b"plain bytes")  # written before serialization
    assert cache.get("broken") is None
    assert cache.get_many("broken", "legacy") == [None, b"plain bytes"]


def test_timeouts(cache: StoreCache, admin: RedisStore) -> None:
    def ttl(key: str) -> int:
        return int(admin.execute("TTL", f"{PREFIX}{key}"))

    cache.set("default", 1)
    assert 99 <= ttl("default") <= 100  # None: CACHE_DEFAULT_TIMEOUT
    cache.set("forever", 1, timeout=0)
    assert ttl("forever") == -1  # Flask-Caching: 0 never expires
    cache.set("delta", 1, timeout=dt.timedelta(seconds=1.5))
    assert ttl("delta") == 2  # rounded up to whole seconds
    cache.add("added", 1, timeout=30)
    assert 29 <= ttl("added") <= 30
    cache.add("added-forever", 1, timeout=0)
    assert ttl("added-forever") == -1
    cache.set_many({"m1": 1, "m2": 2}, timeout=50)
    assert 49 <= ttl("m1") <= 50 and 49 <= ttl("m2") <= 50
    cache.set_many({"m3": 3}, timeout=0)
    assert ttl("m3") == -1
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        cache.set("negative", 1, timeout=-5)
    assert not cache.has("negative")

    cache.set("short", "gone soon", timeout=1)
    assert cache.get("short") == "gone soon"
    time.sleep(1.2)
    assert cache.get("short") is None and not cache.has("short")
    assert cache.get("forever") == 1


def test_default_timeout_zero_never_expires(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore
) -> None:
    app = make_app(
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL=server_url,
        CACHE_DEFAULT_TIMEOUT=0,
    )
    backend = cache_of(Cache(app), app)
    backend.set("k", "v")
    assert admin.execute("TTL", "flask_cache_k") == -1


def test_inc_dec(cache: StoreCache, admin: RedisStore) -> None:
    assert cache.inc("hits") == 1
    assert cache.inc("hits", 10) == 11
    assert cache.dec("hits") == 10
    assert cache.dec("hits", 15) == -5
    assert cache.dec("below") == -1
    assert cache.get("hits") == -5 and admin.execute("GET", f"{PREFIX}hits") == b"-5"
    cache.set("preset", 5)
    assert cache.inc("preset") == 6


def test_inc_is_one_atomic_command(cache: StoreCache) -> None:
    sent: list[tuple[Any, ...]] = []
    store = cache.store
    execute = store.execute

    def counting(*args: Any, **options: Any) -> Any:
        sent.append(args)
        return execute(*args, **options)

    store.execute = counting  # type: ignore[method-assign]
    try:
        cache.inc("n", 3)
        cache.dec("n", 1)
    finally:
        del store.execute
    assert sent == [("INCRBY", f"{PREFIX}n", 3), ("DECRBY", f"{PREFIX}n", 1)]

    def add_many() -> None:
        for _ in range(200):
            cache.inc("n")

    threads = [threading.Thread(target=add_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("n") == 2 + 8 * 200  # no increment lost between threads


def test_clear_removes_only_the_prefix(
    server_url: str, make_app: Callable[..., Flask], cache: StoreCache, admin: RedisStore
) -> None:
    app = make_app(
        "neighbour",
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL=server_url,
        CACHE_KEY_PREFIX="app1:",  # what "app[1]:*" matches unless the prefix is escaped
    )
    neighbour = cache_of(Cache(app), app)
    neighbour.set("kept", "yes")
    admin.execute("SET", "unrelated", "yes")
    cache.set_many({f"k{i}": i for i in range(2500)})  # several SCAN batches
    assert admin.execute("DBSIZE") == 2502
    assert cache.clear() is True
    assert cache.get("k0") is None and cache.get("k2499") is None
    assert sorted(admin.execute("KEYS", "*")) == [b"app1:kept", b"unrelated"]
    assert neighbour.get("kept") == "yes"
    assert cache.clear() is True  # nothing left under the prefix: still cleared


def test_clear_without_prefix_flushes_the_database(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore
) -> None:
    app = make_app(
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL=server_url,
        CACHE_KEY_PREFIX="",
    )
    backend = cache_of(Cache(app), app)
    backend.set("k", "v")
    admin.execute("SET", "other", "v")
    assert admin.execute("EXISTS", "k") == 1  # no prefix
    assert backend.clear() is True
    assert admin.execute("DBSIZE") == 0


def test_cached_view(cache_app: tuple[Flask, Cache]) -> None:
    app, flask_cache = cache_app
    calls: list[int] = []

    @app.get("/report")
    @flask_cache.cached(timeout=30)
    def report() -> dict[str, int]:
        calls.append(1)
        return {"calls": len(calls)}

    @flask_cache.memoize(timeout=30)
    def square(n: int) -> int:
        calls.append(n)
        return n * n

    client = app.test_client()
    assert [client.get("/report").json for _ in range(3)] == [{"calls": 1}] * 3
    with app.app_context():
        assert [square(4), square(4), square(5)] == [16, 16, 25]
        assert calls == [1, 4, 5]
        flask_cache.clear()
    assert client.get("/report").json == {"calls": 4}


# -- switching from Flask-Caching's RedisCache -----------------------------------------------


def test_values_shared_with_flask_caching_rediscache(
    cache_app: tuple[Flask, Cache], server_url: str, make_app: Callable[..., Flask]
) -> None:
    app, ours = cache_app
    theirs_app = make_app(
        "redis_cache",
        CACHE_TYPE="RedisCache",  # Flask-Caching's own, on redis-py
        CACHE_REDIS_URL=server_url,
        CACHE_KEY_PREFIX=PREFIX,
    )
    theirs = Cache(theirs_app)
    values: dict[str, Any] = {
        "int": 7,
        "str": "text",
        "dict": {"a": [1, 2]},
        "tuple": (1, None),
        "bytes": b"\x01",
        "float": 0.25,
    }
    with app.app_context():
        ours.set_many({f"ours-{k}": v for k, v in values.items()})
    with theirs_app.app_context():
        assert theirs.get_many(*[f"ours-{k}" for k in values]) == list(values.values())
        theirs.set_many({f"theirs-{k}": v for k, v in values.items()})
        assert theirs.cache.inc("ours-int") == 8  # our ints are theirs
    with app.app_context():
        assert ours.get_many(*[f"theirs-{k}" for k in values]) == list(values.values())
        assert ours.get("ours-int") == 8
        assert cache_of(ours, app).inc("theirs-int", 3) == 10
    with theirs_app.app_context():
        assert theirs.get("theirs-int") == 10
        theirs.cache.set("forever", "x", timeout=0)
    with app.app_context():
        assert ours.get("forever") == "x"
    theirs_backend = cache_of(theirs, theirs_app)
    theirs_backend._write_client.close()


def test_constructed_directly(server_url: str, admin: RedisStore) -> None:
    backend = StoreCache(server_url, default_timeout=20, key_prefix="direct:", max_connections=2)
    try:
        assert backend.store.pool.max_connections == 2
        backend.set("k", "v")
        assert 19 <= admin.execute("TTL", "direct:k") <= 20
        assert StoreCache(backend.store, key_prefix=lambda: "direct:").get("k") == "v"
    finally:
        backend.close()
    assert backend.store.pool.idle == 0
    with pytest.raises(TypeError, match="store options apply to a store made from a URL"):
        StoreCache(backend.store, max_connections=2)
    with pytest.raises(ImproperlyConfigured, match=r"StoreCache: store / store_options"):
        StoreCache(server_url, max_connectionz=2)
