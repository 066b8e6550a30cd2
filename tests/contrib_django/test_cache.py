"""StoreCache beyond Django's own tests: codecs, plain integers, foreign data, failures
ignored, one pool per process, native async on every loop, the django-redis extras.

In this process, without ``settings.configure()``: a StoreCache is made directly, or by a
``CacheHandler`` given its settings (thread-local like ``django.core.cache.caches``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import CacheHandler
from django.core.exceptions import ImproperlyConfigured

from store import sync
from store.contrib.codecs import Codec, UnreadableValueError
from store.contrib.django import StoreCache, close_stores
from store.errors import ConnectionError, ResponseError
from store.errors import ImproperlyConfigured as StoreImproperlyConfigured
from tests.conftest import bound_port

DATABASE = 10  # the Django suite uses 9, the client tests 0

BACKEND = "store.contrib.django.StoreCache"


@pytest.fixture(params=["redis", "pulsar"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    base = request.getfixturevalue(f"{request.param}_url")
    url = f"{base}/{DATABASE}"
    raw = sync.create_store(url)
    raw.execute("FLUSHDB")
    yield url
    raw.execute("FLUSHDB")
    raw.close()
    close_stores()


@pytest.fixture
def raw(server_url: str) -> Iterator[sync.RedisStore]:
    """A plain client of the same database, as another program would use it."""
    store = sync.create_store(server_url)
    assert isinstance(store, sync.RedisStore)
    yield store
    store.close()


@pytest.fixture
def make_cache(server_url: str) -> Callable[..., StoreCache]:
    def make(location: Any = None, **params: Any) -> StoreCache:
        return StoreCache(server_url if location is None else location, params)

    return make


def stored_key(cache: StoreCache, key: str) -> str:
    return str(cache.make_key(key))


# -- codecs -----------------------------------------------------------------------------

VALUES: list[Any] = [
    "text ✓",
    "",
    1.5,
    None,
    True,
    False,
    [1, "two", None],
    {"a": [1, 2], "b": {"c": "d"}},
    "x" * 5000,  # above COMPRESS_MIN_LENGTH
]


@pytest.mark.parametrize("serializer", ["pickle", "json", "msgpack"])
@pytest.mark.parametrize("compressor", [None, "zlib", "zstd"])
def test_serializers_and_compressors_round_trip(
    make_cache: Callable[..., StoreCache],
    raw: sync.RedisStore,
    serializer: str,
    compressor: str | None,
) -> None:
    cache = make_cache(OPTIONS={"SERIALIZER": serializer, "COMPRESSOR": compressor})
    for index, value in enumerate(VALUES):
        cache.set(f"k{index}", value)
        got = cache.get(f"k{index}", "missing")
        assert got == value and type(got) is type(value), (value, got)
    assert cache.get_many([f"k{i}" for i in range(len(VALUES))]) == {
        f"k{i}": v for i, v in enumerate(VALUES)
    }
    big = raw.execute("GET", stored_key(cache, f"k{len(VALUES) - 1}"))
    if compressor is None:
        assert len(big) > 5000
    else:
        assert len(big) < 200  # compressed, with its marker telling so
        assert big[0] >> 3 & 7 == {"zlib": 1, "zstd": 2}[compressor]
    small = raw.execute("GET", stored_key(cache, "k0"))
    assert small[0] >> 3 & 7 == 0  # below the threshold: never compressed


def test_pickle_keeps_python_types(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache()
    value = {"tuple": (1, 2), "set": {3}, "bytes": b"\x00\xff", "big": 2**80}
    cache.set("k", value)
    assert cache.get("k") == value


def test_codec_unit() -> None:
    codec = Codec("json", "zlib", compress_min_length=10)
    assert codec.dumps(7) == 7  # sent as ASCII by the client
    assert codec.loads(b"-12", "k") == -12
    packed = codec.dumps(["abc"] * 20)
    assert isinstance(packed, bytes) and packed[0] == 0xC0 | 1 << 3 | 1
    assert codec.loads(packed, "k") == ["abc"] * 20
    with pytest.raises(StoreImproperlyConfigured, match="compress_min_length"):
        Codec(compress_min_length=-1)


def test_bad_codec_options_name_the_problem(make_cache: Callable[..., StoreCache]) -> None:
    with pytest.raises(ImproperlyConfigured, match="unknown compressor 'lz4'"):
        make_cache(OPTIONS={"COMPRESSOR": "lz4"})
    with pytest.raises(ImproperlyConfigured, match=r"cannot import serializer 'nowhere\.Nothing'"):
        make_cache(OPTIONS={"SERIALIZER": "nowhere.Nothing"})


# -- integers and foreign data ------------------------------------------------------------


def test_integers_are_stored_plain(
    make_cache: Callable[..., StoreCache], raw: sync.RedisStore
) -> None:
    cache = make_cache(OPTIONS={"SERIALIZER": "json"})
    cache.set("n", 41)
    key = stored_key(cache, "n")
    assert raw.execute("GET", key) == b"41"
    assert raw.execute("INCRBY", key, 9) == 50  # another client counts on it
    got = cache.get("n")
    assert got == 50 and type(got) is int
    cache.set("flag", True)  # a bool is not an integer here
    assert raw.execute("GET", stored_key(cache, "flag")) != b"1"
    assert cache.get("flag") is True
    cache.set("negative", -3)
    assert raw.execute("GET", stored_key(cache, "negative")) == b"-3"
    assert cache.incr("negative", 5) == 2


def test_foreign_data_names_the_key(
    make_cache: Callable[..., StoreCache], raw: sync.RedisStore
) -> None:
    cache = make_cache()
    key = stored_key(cache, "foreign")
    for garbage in (b"not ours", b"", b"12abc", b"\xc0not a pickle", b"\xd0\x00zlib?"):
        raw.execute("SET", key, garbage)
        with pytest.raises(UnreadableValueError, match=r"cache key ':1:foreign'") as caught:
            cache.get("foreign")
        assert isinstance(caught.value, ValueError)
        with pytest.raises(UnreadableValueError):
            cache.get_many(["foreign"])


def test_a_json_cache_never_unpickles(make_cache: Callable[..., StoreCache]) -> None:
    make_cache().set("k", {"a": 1})  # pickle
    with pytest.raises(UnreadableValueError, match="written with pickle, this cache reads json"):
        make_cache(OPTIONS={"SERIALIZER": "json"}).get("k")


# -- incr / decr ----------------------------------------------------------------------------


def test_incr(make_cache: Callable[..., StoreCache], raw: sync.RedisStore) -> None:
    cache = make_cache()
    with pytest.raises(ValueError, match="'missing' not found"):
        cache.incr("missing")
    assert not raw.execute("EXISTS", stored_key(cache, "missing"))  # nothing created
    cache.set("text", "abc")
    with pytest.raises(ResponseError):
        cache.incr("text")
    cache.set("n", 1, timeout=100)
    assert cache.incr("n", 4) == 5 and cache.decr("n", 2) == 3
    assert 90 < (cache.ttl("n") or 0) <= 100  # the expiry stays


def test_incr_is_atomic(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache()
    cache.set("counter", 0)

    def work() -> None:
        for _ in range(200):
            cache.incr("counter")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("counter") == 1600


def test_incr_version_keeps_value_and_expiry(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache()
    cache.set("k", "v", timeout=100)
    assert cache.incr_version("k") == 2
    assert cache.get("k") is None and cache.get("k", version=2) == "v"
    assert 90 < (cache.ttl("k", version=2) or 0) <= 100
    with pytest.raises(ValueError):
        cache.incr_version("missing")


# -- timeouts -----------------------------------------------------------------------------


def test_timeouts(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache(TIMEOUT=60)
    cache.set("default", 1)
    assert 50 < (cache.ttl("default") or 0) <= 60
    cache.set("forever", 1, timeout=None)
    assert cache.ttl("forever") is None
    cache.set("zero", 1, timeout=0)
    assert not cache.has_key("zero")
    cache.set("forever", 1, timeout=-1)  # deletes what was there
    assert not cache.has_key("forever")
    cache.set("short", 1, timeout=0.2)
    assert 0 < (cache.pttl("short") or 0) <= 200
    time.sleep(0.3)
    assert cache.get("short") is None
    assert cache.ttl("missing") == 0
    assert cache.add("fresh", 1, timeout=0) is True and not cache.has_key("fresh")
    cache.set("touched", 1)
    assert cache.touch("touched", None) is True and cache.ttl("touched") is None
    assert cache.touch("touched", None) is True  # no expiry to remove: still there
    assert cache.touch("nothing", None) is False


# -- the django-redis extras ------------------------------------------------------------------


def test_extras(make_cache: Callable[..., StoreCache], raw: sync.RedisStore) -> None:
    cache = make_cache(KEY_PREFIX="app")
    other = make_cache(KEY_PREFIX="other")
    cache.set_many({f"user:{i}": i for i in range(2500)})
    cache.set("session:1", "s")
    cache.set("user:old", "v", version=2)
    other.set("user:1", "keep")
    assert len(cache.keys("user:*")) == 2500
    assert set(cache.iter_keys("session:*")) == {"session:1"}
    assert cache.expire("session:1", 100) is True and 90 < (cache.ttl("session:1") or 0)
    assert cache.persist("session:1") is True and cache.ttl("session:1") is None
    assert cache.delete_pattern("user:*") == 2500
    assert cache.get("user:old", version=2) == "v"  # another version
    assert other.get("user:1") == "keep"  # another prefix
    with cache.lock("job", timeout=5):
        assert raw.execute("EXISTS", stored_key(cache, "job")) == 1
        assert not cache.lock("job", blocking=False).acquire()
    assert raw.execute("EXISTS", stored_key(cache, "job")) == 0
    raw.execute("SET", "unprefixed", "x")
    assert cache.clear() is True  # with a prefix: only its keys, every version
    assert cache.get("user:old", version=2) is None and cache.get("session:1") is None
    assert other.get("user:1") == "keep" and raw.execute("GET", "unprefixed") == b"x"


def test_glob_characters_in_the_prefix_are_literal(make_cache: Callable[..., StoreCache]) -> None:
    starred = make_cache(KEY_PREFIX="a*")
    plain = make_cache(KEY_PREFIX="ab")
    plain.set("k", 1)
    starred.set("k", 2)
    starred.clear()
    assert plain.get("k") == 1 and starred.get("k") is None


# -- LOCATION and OPTIONS -------------------------------------------------------------------


def test_unknown_option_is_named(make_cache: Callable[..., StoreCache]) -> None:
    with pytest.raises(ImproperlyConfigured, match="unknown option 'MAX_CONNECTIONS'"):
        make_cache(OPTIONS={"MAX_CONNECTIONS": 5})
    with pytest.raises(ImproperlyConfigured, match="max_connections"):
        make_cache(OPTIONS={"max_connections": "many"})
    with pytest.raises(ImproperlyConfigured, match="needs a LOCATION"):
        StoreCache("", {})


def test_first_location_writes_the_others_read(redis_url: str, pulsar_url: str) -> None:
    writer = sync.create_store(f"{redis_url}/{DATABASE}")
    reader = sync.create_store(f"{pulsar_url}/{DATABASE}")
    try:
        for location in (
            f"{redis_url}/{DATABASE},{pulsar_url}/{DATABASE}",
            f"{redis_url}/{DATABASE}; {pulsar_url}/{DATABASE}",
            [f"{redis_url}/{DATABASE}", f"{pulsar_url}/{DATABASE}"],
        ):
            cache = StoreCache(location, {})
            cache.set("k", 5)
            assert writer.execute("GET", ":1:k") == b"5"
            assert cache.get("k") is None  # read from the replica, which lacks it
            reader.execute("SET", ":1:k", 7)
            assert cache.get("k") == 7
            assert cache.incr("k") == 6  # incr writes: on the first server
            reader.execute("DEL", ":1:k")
    finally:
        writer.execute("DEL", ":1:k")
        writer.close()
        reader.close()
        close_stores()


# -- IGNORE_EXCEPTIONS ----------------------------------------------------------------------------


@pytest.fixture
def down_url() -> Iterator[str]:
    """A server that is down: a bound port nothing listens on, a password in the URL."""
    with bound_port() as port:
        yield f"redis://:hunter2-secret@127.0.0.1:{port}/0?retries=0&socket_connect_timeout=1"
    close_stores()


def test_ignore_exceptions(down_url: str, caplog: pytest.LogCaptureFixture) -> None:
    cache = StoreCache(
        down_url, {"OPTIONS": {"IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS_EVERY": 0.5}}
    )
    with caplog.at_level(logging.WARNING, logger="store.contrib.django"):
        assert cache.get("k", "default") == "default"
        assert cache.get_many(["a", "b"]) == {}
        assert cache.has_key("k") is False
        assert cache.set("k", 1) is None
        assert cache.add("k", 1) is False
        assert cache.delete("k") is False
        assert cache.touch("k") is False
        assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
        assert cache.delete_many(["a"]) is None
        assert cache.clear() is False
        assert cache.get_or_set("k", "computed") == "computed"
        with pytest.raises(ValueError):
            cache.incr("k")  # Django's contract: no value, no increment
        records = [r for r in caplog.records if r.name == "store.contrib.django"]
        assert len(records) == 1  # once per interval
        time.sleep(0.6)
        assert cache.get("k") is None
        records = [r for r in caplog.records if r.name == "store.contrib.django"]
        assert len(records) == 2
    port = down_url.split(":")[3].split("/")[0]
    for record in records:
        message = record.getMessage()
        assert f"127.0.0.1:{port}" in message
        assert "hunter2" not in message
    assert "hunter2" not in repr(cache)


class _ClosingListener:
    """A server that is down in the way a crashed one behind a load balancer is: it accepts
    every connection and closes it at once. Counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone does not
        self.sock.close()
        self._thread.join(5)


@pytest.mark.parametrize("interval", [0.5, 0])
def test_servers_found_down_are_skipped_for_the_retry_interval(interval: float) -> None:
    listener = _ClosingListener()
    try:
        url = f"redis://127.0.0.1:{listener.port}/0?retries=2&retry_backoff=0.01"
        options = {"IGNORE_EXCEPTIONS": True, "DOWN_RETRY_INTERVAL": interval}
        cache = StoreCache(url, {"OPTIONS": options})
        assert cache.get("k", "miss") == "miss"
        first = listener.accepted
        assert first >= 1  # the first call tried the server (and its retries)
        for _ in range(20):
            assert cache.get("k", "miss") == "miss"
            assert cache.set("k", 1) is None
            assert asyncio.run(cache.aget("k", "miss")) == "miss"
        if interval:
            assert listener.accepted == first  # skipped: no connection attempts
            time.sleep(interval + 0.1)
            assert cache.get("k", "miss") == "miss"
            assert listener.accepted > first  # tried again after the interval
        else:
            assert listener.accepted >= 60 * first  # every call tried
    finally:
        listener.close()
        close_stores()


def test_without_ignore_exceptions_failures_raise(down_url: str) -> None:
    cache = StoreCache(down_url, {})
    with pytest.raises(ConnectionError) as caught:
        cache.get("k")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConnectionError):
        asyncio.run(cache.aset("k", 1))


def test_ignore_exceptions_async(down_url: str) -> None:
    cache = StoreCache(down_url, {"OPTIONS": {"IGNORE_EXCEPTIONS": True}})

    async def main() -> None:
        assert await cache.aget("k", "default") == "default"
        assert await cache.aset("k", 1) is None
        assert await cache.aadd("k", 1) is False
        assert await cache.aget_many(["k"]) == {}
        assert await cache.aclear() is False

    asyncio.run(main())


# -- one pool per process -----------------------------------------------------------------------


def client_ids(raw: sync.RedisStore, name: str) -> set[str]:
    """The ids of the connections named ``name`` the server has now."""
    listing = raw.execute("CLIENT", "LIST").decode()
    return {
        line.split(" ", 1)[0] for line in listing.splitlines() if f" name={name} " in f" {line} "
    }


def test_threads_share_one_bounded_pool(server_url: str, raw: sync.RedisStore) -> None:
    name = f"djpool{uuid.uuid4().hex[:8]}"
    max_connections = 4
    handler = CacheHandler(
        {
            "default": {
                "BACKEND": BACKEND,
                "LOCATION": server_url,
                "OPTIONS": {"max_connections": max_connections, "client_name": name},
            }
        }
    )
    caches_seen: list[StoreCache] = []
    errors: list[BaseException] = []
    done = threading.Event()
    peak = 0
    seen: set[str] = set()

    def monitor() -> None:
        nonlocal peak
        while not done.is_set():
            now = client_ids(raw, name)
            peak = max(peak, len(now))
            seen.update(now)
            time.sleep(0.005)

    def work(index: int) -> None:
        try:
            cache = handler["default"]  # a cache object of this thread
            caches_seen.append(cache)
            for i in range(300):
                cache.set(f"t{index}:{i}", i)
                assert cache.get(f"t{index}:{i}") == i
            cache.set(f"n{index}", 0)
            for _ in range(100):
                cache.incr(f"n{index}")
            cache.close()  # as Django does after each request: the pool stays
            assert cache.get(f"n{index}") == 100
        except BaseException as exc:
            errors.append(exc)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    assert not errors, errors[0]
    assert len({id(cache) for cache in caches_seen}) == 16  # one object per thread...
    assert len({id(cache._write) for cache in caches_seen}) == 1  # ...one store
    assert 1 <= peak <= max_connections
    # close() after each "request" closed nothing: the same few connections all along
    assert len(seen | client_ids(raw, name)) <= max_connections


# -- native async --------------------------------------------------------------------------


async def exercise(cache: StoreCache, tag: str) -> None:
    await cache.aset(f"{tag}:a", {"x": 1})
    assert await cache.aget(f"{tag}:a") == {"x": 1}
    assert await cache.aadd(f"{tag}:a", 2) is False
    assert await cache.ahas_key(f"{tag}:a") is True
    assert await cache.atouch(f"{tag}:a", 100) is True
    await cache.aset_many({f"{tag}:b": 1, f"{tag}:c": 2}, timeout=100)
    assert await cache.aget_many([f"{tag}:b", f"{tag}:c", f"{tag}:z"]) == {
        f"{tag}:b": 1,
        f"{tag}:c": 2,
    }
    assert await cache.aincr(f"{tag}:b", 5) == 6
    assert await cache.adecr(f"{tag}:b") == 5
    with pytest.raises(ValueError):
        await cache.aincr(f"{tag}:missing")
    assert await cache.aget_or_set(f"{tag}:d", lambda: "made") == "made"
    assert await cache.aincr_version(f"{tag}:d") == 2
    assert await cache.aget(f"{tag}:d", version=2) == "made"
    assert await cache.adelete(f"{tag}:a") is True
    await cache.adelete_many([f"{tag}:b", f"{tag}:c"])
    assert await cache.aget_many([f"{tag}:b", f"{tag}:c"]) == {}
    async with cache.alock(f"{tag}:lock", timeout=5):
        pass
    results = await asyncio.gather(*(cache.aset(f"{tag}:g{i}", i) for i in range(50)))
    assert results == [None] * 50
    assert await cache.aget_many([f"{tag}:g{i}" for i in range(50)]) == {
        f"{tag}:g{i}": i for i in range(50)
    }


def test_async_methods_start_no_thread(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache(KEY_PREFIX="noth")

    async def main() -> tuple[set[int], set[int]]:
        before = {thread.ident or 0 for thread in threading.enumerate()}
        await exercise(cache, "one")
        assert await cache.aclear() is True
        after = {thread.ident or 0 for thread in threading.enumerate()}
        return before, after

    before, after = asyncio.run(main())
    assert after == before


def test_asyncio_run_twice(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache()
    asyncio.run(exercise(cache, "first"))
    asyncio.run(exercise(cache, "second"))  # a new loop: a store of its own
    assert cache.get("second:d", version=2) == "made"


def test_two_threads_with_their_own_loops(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(tag: str) -> None:
        async def main() -> None:
            barrier.wait()  # both loops run at the same time
            for round_ in range(20):
                await exercise(cache, f"{tag}{round_}")

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert (
        cache.get("left19:d", version=2) == "made" and cache.get("right19:d", version=2) == "made"
    )


def test_sync_and_async_see_the_same_data(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache()
    cache.set("k", [1, 2])

    async def main() -> None:
        assert await cache.aget("k") == [1, 2]
        await cache.aset("n", 10)

    asyncio.run(main())
    assert cache.incr("n") == 11


def test_missing_msgpack_says_what_to_install(
    make_cache: Callable[..., StoreCache], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "msgpack", None)  # import msgpack raises ImportError
    with pytest.raises(ImproperlyConfigured, match=r"pip install 'store\[msgpack\]'"):
        make_cache(OPTIONS={"SERIALIZER": "msgpack"})


def test_a_forked_child_uses_its_own_connections(make_cache: Callable[..., StoreCache]) -> None:
    cache = make_cache()
    cache.set("k", "parent")
    asyncio.run(cache.aset("a", 1))
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only when both APIs work
        ok = False
        try:
            ok = cache.get("k") == "parent" and asyncio.run(cache.aget("a")) == 1
            cache.set("k", "child")
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.get("k") == "child"  # the parent's pool survived the child
