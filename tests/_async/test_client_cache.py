"""Client-side caching (the ``client_cache`` option) against a real server, both tracking
modes (default and BCAST), RESP2 and RESP3, both variants."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import RedisStore

from .conftest import PARSERS, command_calls

StoreFactory = Callable[..., RedisStore]

# redis-server 7.0 and PulsarDS (its CLIENT TRACKING)
CACHE_TARGETS = [
    (s, protocol, parser) for s in ("redis", "pulsar") for protocol in (2, 3) for parser in PARSERS
]
pytestmark = pytest.mark.parametrize(
    "target",
    CACHE_TARGETS,
    ids=[f"{s}-resp{p}-{parser}" for s, p, parser in CACHE_TARGETS],
    indirect=True,
)

# Redis 7.0 writes a writer's acknowledgement before the invalidation that its write sent
# to a tracking (default mode) client: for that short while (microseconds; a few ms when the
# server is preempted) a reader may still see the value before it. BCAST invalidations are
# sent before any reply of the event loop iteration: none then.
DEFAULT_MODE_LAG = 0.1
MODES = [pytest.param({}, id="default"), pytest.param({"client_cache_bcast": True}, id="bcast")]


async def _sleep(seconds: float) -> None:
    await async_sleep(seconds)


async def run_all(calls: list[Callable[[], Any]]) -> None:
    """The calls at once: tasks on the event loop, threads in the blocking twin."""
    if True:  # ASYNC
        from store._backend.synchronization import current_loop

        loop = current_loop()
        tasks = [loop.create_task(call()) for call in calls]
        for task in tasks:
            await task
    else:  # SYNC
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(calls)) as pool:
            for future in [pool.submit(call) for call in calls]:
                future.result()


@pytest.fixture
async def writer(store_factory: StoreFactory) -> RedisStore:
    """Another client, no cache; the database emptied first."""
    made = store_factory()
    await made.flush()
    return made


def _cache(store: RedisStore) -> Any:
    cache = store.client_cache
    assert cache is not None
    return cache


async def test_off_by_default(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.client_cache is None
    assert store.cache_stats() is None
    assert "execute" not in vars(store)  # the class's own method: nothing added to it


@pytest.mark.parametrize("mode", MODES)
async def test_second_get_is_served_locally(
    store_factory: StoreFactory, mode: Any, writer: RedisStore
) -> None:
    store = store_factory(client_cache=True, **mode)
    await writer.execute("SET", "cc:k", "v1")
    before = (await command_calls(writer, "get"))["get"]
    assert await store.client().get("cc:k") == b"v1"
    assert await store.client().get("cc:k") == b"v1"
    assert await store.execute("GET", "cc:k") == b"v1"
    assert (await command_calls(writer, "get"))["get"] == before + 1
    stats = store.cache_stats()
    assert stats is not None
    assert (stats.hits, stats.misses, stats.entries) == (2, 1, 1)


@pytest.mark.parametrize("mode", MODES)
async def test_a_write_of_another_client_invalidates_within_100ms(
    store_factory: StoreFactory, mode: Any, writer: RedisStore
) -> None:
    store = store_factory(client_cache=True, **mode)
    await writer.execute("SET", "cc:k", "old")
    assert await store.execute("GET", "cc:k") == b"old"
    assert await store.execute("GET", "cc:k") == b"old"
    await writer.execute("SET", "cc:k", "new")
    started = time.monotonic()
    while await store.execute("GET", "cc:k") != b"new":
        assert time.monotonic() - started < 0.1, "still the old value after 100 ms"
        await _sleep(0.001)
    stats = store.cache_stats()
    assert stats is not None and stats.invalidations == 1


async def test_replies_are_shaped_per_call_and_never_shared(
    store_factory: StoreFactory, writer: RedisStore
) -> None:
    store = store_factory(client_cache=True, decode_responses=True)
    await writer.execute("RPUSH", "cc:list", "a", "b")
    first = await store.execute("LRANGE", "cc:list", 0, -1)
    first.append("mine")
    assert await store.execute("LRANGE", "cc:list", 0, -1) == ["a", "b"]
    shaped = await store.execute("LRANGE", "cc:list", 0, -1, callback=len)
    assert shaped == 2
    again = await store.execute("LRANGE", "cc:list", 0, -1)
    again.clear()
    assert await store.execute("LRANGE", "cc:list", 0, -1) == ["a", "b"]
    stats = store.cache_stats()
    assert stats is not None and stats.hits == 4 and stats.misses == 1


async def test_own_writes_and_errors(store_factory: StoreFactory, writer: RedisStore) -> None:
    store = store_factory(client_cache=True)
    await store.execute("SET", "cc:own", "1")
    assert await store.execute("GET", "cc:own") == b"1"
    await store.execute("INCR", "cc:own")  # no wait for the server's invalidation
    assert await store.execute("GET", "cc:own") == b"2"
    await store.execute("RPUSH", "cc:notstring", "x")
    for _ in range(2):
        with pytest.raises(Exception, match="WRONGTYPE"):
            await store.execute("GET", "cc:notstring")
    stats = store.cache_stats()
    assert stats is not None and stats.entries == 1  # errors are not cached


@pytest.mark.parametrize("mode", MODES)
async def test_flushall_empties_the_cache(
    store_factory: StoreFactory, mode: Any, writer: RedisStore
) -> None:
    store = store_factory(client_cache=True, **mode)
    for index in range(20):
        await writer.execute("SET", f"cc:f{index}", index)
        assert await store.execute("GET", f"cc:f{index}") == str(index).encode()
    await writer.execute("FLUSHALL")
    started = time.monotonic()  # its null invalidation may come just after its reply
    while await store.execute("GET", "cc:f19") is not None:
        assert time.monotonic() - started < 0.1, "not emptied after 100 ms"
        await _sleep(0.001)
    for index in range(20):
        assert await store.execute("GET", f"cc:f{index}") is None
    await store.execute("SET", "cc:f0", "again")
    assert await store.execute("GET", "cc:f0") == b"again"
    await store.execute("FLUSHDB")  # the store's own: emptied at once
    assert await store.execute("GET", "cc:f0") is None


@pytest.mark.parametrize("mode", MODES)
async def test_killed_invalidation_connection(
    store_factory: StoreFactory, mode: Any, writer: RedisStore
) -> None:
    store = store_factory(client_cache=True, **mode)
    await writer.execute("SET", "cc:k", "before")
    assert await store.execute("GET", "cc:k") == b"before"
    assert await store.execute("GET", "cc:k") == b"before"
    cache = _cache(store)
    first_id = cache.client_id
    assert first_id is not None
    assert await writer.execute("CLIENT", "KILL", "ID", first_id) == 1
    await writer.execute("SET", "cc:k", "after")  # nobody hears of this one
    assert await store.execute("GET", "cc:k") == b"after"
    assert cache.connections_lost == 1
    # caching resumes on a new invalidation connection
    assert await store.execute("GET", "cc:k") == b"after"
    assert cache.client_id not in (None, first_id)
    hits = _cache(store).stats().hits
    assert await store.execute("GET", "cc:k") == b"after"
    assert _cache(store).stats().hits == hits + 1
    await writer.execute("SET", "cc:k", "later")
    await _sleep(0.01)
    assert await store.execute("GET", "cc:k") == b"later"


async def test_killed_data_connection_loses_its_entries(
    store_factory: StoreFactory, writer: RedisStore
) -> None:
    store = store_factory(client_cache=True, auto_pipelining=False)
    await writer.execute("SET", "cc:k", "before")
    assert await store.execute("GET", "cc:k") == b"before"
    tracked = await store.execute("CLIENT", "ID")  # the one pooled data connection
    listing = await writer.execute("CLIENT", "LIST", "ID", tracked)
    assert b"flags=t" in listing
    await writer.execute("CLIENT", "KILL", "ID", tracked)
    await writer.execute("SET", "cc:k", "after")  # the server tracked it for a closed client
    await _sleep(0.01)
    assert await store.execute("GET", "cc:k") == b"after"


async def test_bcast_prefixes(store_factory: StoreFactory, writer: RedisStore) -> None:
    store = store_factory(
        client_cache=True, client_cache_bcast=True, client_cache_prefixes="cc:a:,cc:b:"
    )
    await writer.execute("MSET", "cc:a:1", "x", "cc:z:1", "y")
    for _ in range(2):
        assert await store.execute("GET", "cc:a:1") == b"x"
        assert await store.execute("GET", "cc:z:1") == b"y"
    stats = _cache(store).stats()
    assert (stats.hits, stats.entries) == (1, 1)  # the key outside the prefixes is not cached
    await writer.execute("MSET", "cc:a:1", "x2", "cc:z:1", "y2")
    await _sleep(0.01)
    assert await store.execute("GET", "cc:a:1") == b"x2"
    assert await store.execute("GET", "cc:z:1") == b"y2"


async def test_bounds_and_ttl(store_factory: StoreFactory, writer: RedisStore) -> None:
    store = store_factory(client_cache=5)
    for index in range(10):
        await writer.execute("SET", f"cc:b{index}", "v" * 100)
        await store.execute("GET", f"cc:b{index}")
    stats = _cache(store).stats()
    assert (stats.entries, stats.evictions) == (5, 5)
    sized = store_factory(client_cache=True, client_cache_max_bytes=2000)
    for index in range(10):
        await sized.execute("GET", f"cc:b{index}")
    stats = _cache(sized).stats()
    assert stats.bytes <= 2000 and stats.entries < 10 and stats.evictions > 0
    timed = store_factory(client_cache=True, client_cache_ttl=0.05)
    await timed.execute("GET", "cc:b0")
    await timed.execute("GET", "cc:b0")
    await _sleep(0.06)
    await timed.execute("GET", "cc:b0")
    stats = _cache(timed).stats()
    assert (stats.hits, stats.misses) == (1, 2)


async def test_options_in_the_url(store_factory: StoreFactory, server_url: str) -> None:
    store = store_factory(f"{server_url}?client_cache=100&client_cache_ttl=5")
    cache = _cache(store)
    assert (cache.cache.max_entries, cache.cache.ttl) == (100, 5.0)
    assert "client_cache=100" in store.dns
    assert store_factory(f"{server_url}?client_cache=false").client_cache is None


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_writers_never_a_stale_read(
    store_factory: StoreFactory, mode: Any, writer: RedisStore, target: tuple[str, int, str]
) -> None:
    """Writers (other clients) and caching readers over thousands of keys: every read
    returns a version at least the last one acknowledged before the read started (in
    default mode on redis-server: but for DEFAULT_MODE_LAG; PulsarDS writes invalidations
    before the writer's acknowledgement in both modes)."""
    keys = 2000
    writers = 2
    duration = 1.0
    acked = [0] * keys  # per key: the last version a writer saw acknowledged
    ack_times: list[list[float]] = [[0.0] for _ in range(keys)]  # per key, per version
    issued = [0] * keys
    readers = [store_factory(client_cache=True, **mode) for _ in range(2)]
    writer_stores = [writer] + [store_factory() for _ in range(writers - 1)]
    stale: list[tuple[int, int, int, float]] = []
    reads = [0]
    await writer_stores[0].execute("MSET", *[x for k in range(keys) for x in (f"cc:c{k}", 0)])
    deadline = time.monotonic() + duration

    async def write(number: int) -> None:
        rng = random.Random(number)
        own = list(range(number, keys, writers))  # one writer per key: its order is the server's
        hot = own[:50]
        while time.monotonic() < deadline:
            key = rng.choice(hot) if rng.random() < 0.8 else rng.choice(own)
            version = issued[key] + 1
            issued[key] = version
            await writer_stores[number].execute("SET", f"cc:c{key}", version)
            ack_times[key].append(time.monotonic())
            acked[key] = version
            await async_sleep(0)

    async def read(number: int) -> None:
        rng = random.Random(100 + number)
        store = readers[number % len(readers)]
        while time.monotonic() < deadline:
            key = rng.randrange(100) if rng.random() < 0.9 else rng.randrange(keys)
            started = time.monotonic()
            floor = acked[key]
            value = int(await store.execute("GET", f"cc:c{key}"))
            reads[0] += 1
            if value < floor:
                # how long before the read the newer value had been acknowledged
                stale.append((key, value, floor, started - ack_times[key][value + 1]))

    await run_all(
        [partial(write, n) for n in range(writers)] + [partial(read, n) for n in range(4)]
    )
    strict = mode.get("client_cache_bcast") or target[0] == "pulsar"
    lag = 0.0 if strict else DEFAULT_MODE_LAG
    late = [item for item in stale if item[3] >= lag]
    assert not late, f"{len(late)} stale reads of {reads[0]}, e.g. {late[:5]}"
    hits = sum(_cache(reader).stats().hits for reader in readers)
    assert reads[0] > 200 and hits > reads[0] // 10


async def test_kill_during_concurrent_reads(
    store_factory: StoreFactory, writer: RedisStore
) -> None:
    """The invalidation connection killed while readers and a writer run: no stale read
    afterwards."""
    store = store_factory(client_cache=True)
    killer = store_factory()
    keys = 50
    acked = [0] * keys
    ack_times: list[list[tuple[int, float]]] = [[] for _ in range(keys)]
    await writer.execute("MSET", *[x for k in range(keys) for x in (f"cc:d{k}", 0)])
    stale: list[tuple[int, int, int, float]] = []
    deadline = time.monotonic() + 0.6

    async def write() -> None:
        version = 0
        while time.monotonic() < deadline:
            version += 1
            key = version % keys
            await writer.execute("SET", f"cc:d{key}", version)
            ack_times[key].append((version, time.monotonic()))
            acked[key] = version
            await async_sleep(0)

    async def read() -> None:
        rng = random.Random(7)
        while time.monotonic() < deadline:
            key = rng.randrange(keys)
            started = time.monotonic()
            floor = acked[key]
            value = int(await store.execute("GET", f"cc:d{key}"))
            if value < floor:
                newer = next(t for v, t in ack_times[key] if v > value)  # its successor's ack
                stale.append((key, value, floor, started - newer))

    async def kill() -> None:
        for _ in range(3):
            await _sleep(0.15)
            client_id = _cache(store).client_id
            if client_id is not None:
                await killer.execute("CLIENT", "KILL", "ID", client_id)

    await run_all([write, read, read, kill])
    late = [item for item in stale if item[3] >= DEFAULT_MODE_LAG]
    assert not late, f"{len(late)} stale reads, e.g. {late[:5]}"
    assert _cache(store).connections_lost >= 1
