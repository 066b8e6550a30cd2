"""maxmemory and eviction in PulsarDS: what each policy evicts, the figure INFO reports
(against the process's real growth), what an evicted key signals, and an LRU cache under
a skewed load whose hit rate matches redis-server's."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from store.resp import NOT_ENOUGH, PythonReader, pack_command
from store.server import ServerThread
from tests.conftest import _start_server, free_port
from tests.server.conftest import RawClient

MARGIN = 0.25  # the documented margin of used_memory against the process's real growth
ROOT = Path(__file__).resolve().parents[2]


def pipeline(client: RawClient, commands: list[tuple[Any, ...]]) -> list[Any]:
    """Send all of ``commands`` at once, then read their replies."""
    client.send_raw(b"".join(pack_command(*command) for command in commands))
    return [client.read() for _ in commands]


def info(client: RawClient, section: str = "everything") -> dict[str, str]:
    text = client.call("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def used_memory(client: RawClient) -> int:
    return int(info(client, "memory")["used_memory"])


def members(client: RawClient, pattern: str) -> set[bytes]:
    return set(client.call("KEYS", pattern))


@pytest.fixture
def c(raw: Callable[..., RawClient]) -> Iterator[RawClient]:
    client = raw()
    yield client
    client.call("CONFIG", "SET", "maxmemory", "0")


def fill(
    client: RawClient, prefix: str, count: int, ttl_from: int | None = None, check: bool = True
) -> list[Any]:
    """``count`` keys ``prefix:i`` of 200 bytes; with ``ttl_from``, key i expires in
    ``ttl_from + i`` seconds. The replies (all OK, if ``check``)."""
    replies: list[Any] = []
    for start in range(0, count, 500):
        batch = []
        for i in range(start, min(start + 500, count)):
            if ttl_from is None:
                batch.append(("SET", f"{prefix}:{i}", "v" * 200))
            else:
                batch.append(("SET", f"{prefix}:{i}", "v" * 200, "EX", str(ttl_from + i)))
        replies.extend(pipeline(client, batch))
    if check:
        assert all(reply == b"OK" for reply in replies), {str(reply) for reply in replies}
    return replies


def limit_at_current(client: RawClient, policy: str, samples: int = 5, room: int = 0) -> int:
    """maxmemory set to the figure now (plus ``room`` bytes)."""
    client.call("CONFIG", "SET", "maxmemory-policy", policy)
    client.call("CONFIG", "SET", "maxmemory-samples", str(samples))
    limit = used_memory(client) + room
    assert client.call("CONFIG", "SET", "maxmemory", str(limit)) == b"OK"
    return limit


def test_noeviction_refuses_writes_and_keeps_keys(c: RawClient) -> None:
    fill(c, "k", 1000)
    limit_at_current(c, "noeviction", room=50_000)
    replies = fill(c, "more", 400, check=False)
    # the figure is checked before each command: writes pass until one goes over
    accepted = replies.index(next(reply for reply in replies if reply != b"OK"))
    assert 50 <= accepted <= 250
    assert replies[:accepted] == [b"OK"] * accepted
    assert {str(reply) for reply in replies[accepted:]} == {
        "OOM command not allowed when used memory > 'maxmemory'."
    }
    assert c.call("GET", "k:1") == b"v" * 200  # reads go on
    assert c.call("DEL", *[f"k:{i}" for i in range(5)]) == 5  # and deletions
    assert info(c)["evicted_keys"] == "0"
    assert len(members(c, "k:*")) == 995
    assert c.call("SET", "another", "v" * 200) == b"OK"  # room again


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_evict_until_under_the_limit(c: RawClient, policy: str) -> None:
    fill(c, "k", 2000)
    limit = limit_at_current(c, policy)
    fill(c, "new", 1000)
    assert used_memory(c) <= limit
    evicted = int(info(c)["evicted_keys"])
    # what the new keys take, and the tables: a dict does not shrink, and one with
    # keys deleted and added grows to three times its keys (memory.py counts it)
    assert 800 <= evicted <= 1900
    assert c.call("DBSIZE") == 3000 - evicted
    assert int(info(c)["total_eviction_exceeded_time"]) >= 0


@pytest.mark.parametrize(
    "policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"]
)
def test_volatile_policies_evict_only_keys_with_a_ttl(c: RawClient, policy: str) -> None:
    fill(c, "plain", 1000)
    fill(c, "ttl", 1000, ttl_from=1000)
    limit = limit_at_current(c, policy)
    fill(c, "new", 500)
    assert used_memory(c) <= limit
    assert len(members(c, "plain:*")) == 1000
    assert len(members(c, "new:*")) == 500
    left = len(members(c, "ttl:*"))
    assert 200 <= left <= 650
    assert int(info(c)["evicted_keys"]) == 1000 - left
    # once the keys with a TTL are gone, nothing is evictable: OOM
    replies = fill(c, "more", 1000, check=False)
    assert not members(c, "ttl:*")
    assert str(replies[-1]) == "OOM command not allowed when used memory > 'maxmemory'."
    assert len(members(c, "plain:*")) == 1000


def test_volatile_ttl_evicts_the_nearest_deadlines_first(c: RawClient) -> None:
    fill(c, "ttl", 2000, ttl_from=1000)  # ttl:i expires in 1000 + i seconds
    limit_at_current(c, "volatile-ttl", samples=10)
    fill(c, "new", 500)
    gone = {i for i in range(2000) if c.call("EXISTS", f"ttl:{i}") == 0}
    assert 400 <= len(gone) <= 1200
    # sampled, as in Redis: mostly from the nearest quarter, hardly any from the far half
    assert sum(1 for i in gone if i < 500) >= 0.7 * len(gone)
    assert sum(1 for i in gone if i >= 1000) <= 0.1 * len(gone)


def test_allkeys_lru_keeps_recently_used_keys(c: RawClient) -> None:
    fill(c, "k", 2000)
    limit_at_current(c, "allkeys-lru", samples=10)
    time.sleep(1.2)  # the LRU clock counts seconds, as Redis's
    hot = [f"k:{i}" for i in range(0, 2000, 4)]  # a quarter, read now
    pipeline(c, [("GET", key) for key in hot])
    fill(c, "new", 500)
    kept_hot = sum(1 for key in hot if c.call("EXISTS", key))
    cold = [f"k:{i}" for i in range(2000) if i % 4]
    kept_cold = sum(1 for key in cold if c.call("EXISTS", key))
    evicted = int(info(c)["evicted_keys"])
    assert evicted >= 400
    assert kept_hot >= 0.95 * len(hot)
    assert len(cold) - kept_cold >= 0.9 * evicted  # the evicted keys were the idle ones


def test_allkeys_lfu_keeps_frequently_used_keys(c: RawClient) -> None:
    c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    fill(c, "k", 2000)
    hot = [f"k:{i}" for i in range(0, 2000, 4)]
    for _ in range(20):
        pipeline(c, [("GET", key) for key in hot])
    assert int(c.call("OBJECT", "FREQ", hot[0])) > int(c.call("OBJECT", "FREQ", "k:1"))
    limit_at_current(c, "allkeys-lfu", samples=10)
    fill(c, "new", 500)
    kept_hot = sum(1 for key in hot if c.call("EXISTS", key))
    assert kept_hot >= 0.95 * len(hot)


def test_a_lowered_limit_is_reached_between_commands(c: RawClient) -> None:
    """CONFIG SET maxmemory far below the figure: eviction goes on in slices of
    maxmemory-eviction-tenacity's budget (evictionTimeProc), not in one long stop."""
    fill(c, "k", 5000)
    c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    c.call("CONFIG", "SET", "maxmemory-eviction-tenacity", "0")  # no time: 16 keys a slice
    limit = used_memory(c) // 2
    assert c.call("CONFIG", "SET", "maxmemory", str(limit)) == b"OK"
    deadline = time.monotonic() + 10
    while used_memory(c) > limit:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # more than half the keys: the dicts keep their tables as keys go (memory.py counts them)
    assert 2500 <= int(info(c)["evicted_keys"]) < 5000
    assert c.call("DBSIZE") == 5000 - int(info(c)["evicted_keys"])


def test_allkeys_random_takes_from_every_database(c: RawClient) -> None:
    fill(c, "k", 1000)
    c.call("SELECT", "3")
    fill(c, "k", 1000)
    limit_at_current(c, "allkeys-random")
    fill(c, "new", 500)
    kept_here = c.call("DBSIZE")
    c.call("SELECT", "0")
    kept_there = c.call("DBSIZE")
    assert kept_there < 1000 and kept_here < 1500


def test_eviction_signals_events_watch_and_the_aof(
    pulsar: ServerThread, raw: Callable[..., RawClient], tmp_path: Path
) -> None:
    c = raw()
    assert c.call("CONFIG", "SET", "appendonly", "yes") == b"OK"
    c.call("CONFIG", "SET", "notify-keyspace-events", "Ee")
    fill(c, "plain", 500)
    c.call("SET", "victim", "v" * 200, "EX", "1000")  # the only key volatile-ttl can take
    watcher = raw()
    watcher.call("WATCH", "victim")
    watcher.call("MULTI")
    watcher.call("GET", "victim")
    listener = raw()
    listener.call("SUBSCRIBE", "__keyevent@0__:evicted")
    cache = raw(protocol=3)  # a client-side cache holding the key
    assert cache.call("CLIENT", "TRACKING", "ON") == b"OK"
    assert cache.call("GET", "victim") == b"v" * 200
    limit_at_current(c, "volatile-ttl")
    c.call("SET", "new", "v" * 2000)  # over the limit: the next command evicts
    c.call("PING")
    assert c.call("EXISTS", "victim") == 0
    assert listener.read() == [b"message", b"__keyevent@0__:evicted", b"victim"]
    assert watcher.call("EXEC") is None  # the eviction touched the watched key
    assert cache.call("PING") == [b"invalidate", [b"victim"]]  # the push, then PONG
    assert cache.read() == b"PONG"
    assert info(c)["evicted_keys"] == "1"
    c.call("CONFIG", "SET", "maxmemory", "0")
    deadline = time.monotonic() + 5
    needle = b"*2\r\n$3\r\nDEL\r\n$6\r\nvictim\r\n"
    logged = b""
    while time.monotonic() < deadline and needle not in logged:
        time.sleep(0.05)
        logged = b"".join(p.read_bytes() for p in tmp_path.rglob("*.aof*") if p.is_file())
    assert needle in logged


def test_multi_and_scripts_refused_with_oom(c: RawClient) -> None:
    fill(c, "k", 200)
    c.call("CONFIG", "SET", "maxmemory", "1")  # over it whatever happens
    assert c.call("MULTI") == b"OK"
    assert str(c.call("GET", "k:1")).startswith("OOM ")
    assert str(c.call("EXEC")).startswith("EXECABORT ")
    assert str(c.call("EVAL", "return redis.call('set', 'a', '1')", "0")).startswith("OOM ")
    assert c.call("EVAL", "return redis.call('get', 'k:1')", "0") == b"v" * 200
    assert str(c.call("EVAL", "#!lua\nreturn 1", "0")).startswith("OOM ")
    assert c.call("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'a', '1')", "0")
    counted = info(c, "commandstats")["cmdstat_get"]
    assert "rejected_calls=1" in counted


# -- the figure against the process ---------------------------------------------------------

_ACCURACY = r"""
import asyncio, gc, json, os, random
from store.server.core import PulsarDS
from store.server.client import Client

class Transport(asyncio.Transport):
    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 1)
    def write(self, data):
        pass
    def is_closing(self):
        return False

def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

server = PulsarDS(save=[], maxmemory=1 << 40)
server.loop = asyncio.new_event_loop()
client = Client(server)
client.connection_made(Transport())
rnd = random.Random(7)
def run(*args):
    server.call(client, [a if isinstance(a, bytes) else str(a).encode() for a in args])
def blob(low, high):
    return rnd.randbytes(rnd.randint(low, high))
for i in range(200):  # the code paths, once
    run("SET", b"warm%d" % i, b"x")
    run("DEL", b"warm%d" % i)
gc.collect()
base_rss, base = rss(), server.eviction.figure()
for i in range(40000):
    kind = i % 10
    key = b"key:%d:%d" % (kind, i)
    if kind < 4:
        run("SET", key, blob(5, 120))
    elif kind == 4:
        run("SET", key, blob(500, 4000), "EX", 10000)
    elif kind == 5:
        for _ in range(3):
            run("RPUSH", key, *[blob(5, 60) for _ in range(10)])
    elif kind == 6:
        run("HSET", key, *[x for j in range(20) for x in (b"f%d" % j, blob(5, 50))])
    elif kind == 7:
        run("SADD", key, *[blob(4, 30) for _ in range(25)])
    elif kind == 8:
        run("ZADD", key, *[x for j in range(25) for x in (str(rnd.random()).encode(), blob(4, 30))])
    else:
        run("INCRBY", key, rnd.randint(1, 10**9))
        run("EXPIRE", key, 5000)
gc.collect()
server.cron()
grown = server.eviction.figure() - base
kept = server.eviction.figure()
server.config.maxmemory = 0
server.eviction.configure()  # no limit: INFO's sampled estimate instead
estimated = __import__("store.server.eviction", fromlist=["estimate"]).estimate(server)
print(json.dumps({"rss": rss() - base_rss, "figure": grown, "kept": kept, "estimate": estimated}))
"""


def test_used_memory_follows_the_process_real_growth() -> None:
    """A mix of types and sizes (about 75 MB): the figure's growth is within MARGIN of
    the process's resident growth, and the sampled estimate without a limit within
    MARGIN of the kept figure."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", _ACCURACY], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["rss"] > 50 << 20
    assert abs(result["figure"] - result["rss"]) <= MARGIN * result["rss"], result
    assert abs(result["estimate"] - result["kept"]) <= MARGIN * result["kept"], result


# -- an LRU cache under a skewed load, against redis-server ---------------------------------

CACHE_KEYS = 3000  # what maxmemory holds
ROUNDS = 6  # of new keys, a second apart
SAMPLES = 10  # maxmemory-samples: a closer LRU than the default 5, on both servers
HOT_SHARE = 0.2  # of those, read 80% of the time


class Pipe:
    """A raw connection that sends batches and reads their replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = PythonReader()

    def batch(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        self.sock.sendall(b"".join(pack_command(*command) for command in commands))
        replies: list[Any] = []
        while len(replies) < len(commands):
            reply = self.reader.gets()
            if reply is NOT_ENOUGH:
                self.reader.feed(self.sock.recv(1 << 20))
                continue
            replies.append(reply)
        return replies

    def info(self) -> dict[str, str]:
        text = self.batch([("INFO", "everything")])[0].decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _values(count: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [rnd.randbytes(rnd.randint(3000, 6000)) for _ in range(count)]


def _cache_run(port: int, values: list[bytes], clock: Callable[[], float]) -> dict[str, float]:
    """Load CACHE_KEYS keys, set maxmemory to what they take (allkeys-lru), then write as
    many new keys again (twice the limit in all) while reading: 80% of the reads go to
    the hot fifth of the first keys, the rest anywhere. The hit rate of those reads.

    The server's LRU clock counts the seconds of ``clock`` (Redis: the time of day,
    PulsarDS: the monotonic clock): each round of new keys runs within one of them."""
    pipe = Pipe(port)
    empty = int(pipe.info()["used_memory"])
    for start in range(0, CACHE_KEYS, 500):
        pipe.batch([("SET", f"k:{i}", values[i]) for i in range(start, start + 500)])
    limit = int(pipe.info()["used_memory"])
    pipe.batch([("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")])
    pipe.batch([("CONFIG", "SET", "maxmemory-samples", str(SAMPLES))])
    pipe.batch([("CONFIG", "SET", "maxmemory", str(limit))])
    # a second later (the loaded keys are older now), just after the clock's tick
    now = clock()
    started = int(now) + 2.2
    time.sleep(started - now)
    rnd = random.Random(3)
    hot = int(CACHE_KEYS * HOT_SHARE)
    # a read is STRLEN: a lookup like GET's (it touches the key), but a small reply, as
    # Redis counts its output buffers in used_memory too
    pipe.batch([("STRLEN", f"k:{i}") for i in range(hot)])  # in use before the cache fills
    hits = reads = 0
    written = CACHE_KEYS
    while written < 2 * CACHE_KEYS:
        # in rounds a second apart, so that the LRU clock (seconds, as in Redis) tells
        # the keys written early from the hot keys read all along
        round_index = (written - CACHE_KEYS) * ROUNDS // CACHE_KEYS
        wait = started + round_index - clock()
        if wait > 0:
            time.sleep(wait)
        commands: list[tuple[Any, ...]] = []
        # small batches: Redis counts its query buffer in used_memory, a big pipeline
        # of values would make it evict that much more at once
        for i in range(written, written + 10):
            commands.append(("SET", f"k:{i}", values[i]))
            for _ in range(4):
                if rnd.random() < 0.8:
                    commands.append(("STRLEN", f"k:{rnd.randrange(hot)}"))
                else:
                    commands.append(("STRLEN", f"k:{rnd.randrange(i + 1)}"))
        written += 10
        replies = pipe.batch(commands)
        for command, reply in zip(commands, replies, strict=True):
            if command[0] == "STRLEN":
                reads += 1
                hits += reply > 0
            else:
                assert reply == b"OK", reply
    stats = pipe.info()
    keys = int(pipe.batch([("DBSIZE",)])[0])
    pipe.sock.close()
    return {
        "hit_rate": hits / reads,
        "empty": empty,
        "limit": limit,
        "used": int(stats["used_memory"]),
        "evicted": int(stats["evicted_keys"]),
        "keys": keys,
    }


def _rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_lru_cache_keeps_the_hot_keys_like_redis() -> None:
    values = _values(2 * CACHE_KEYS, seed=11)
    servers = _start_server()  # a redis-server of the test's own
    redis = next(servers)
    try:
        theirs = _cache_run(redis.port, values, time.time)
    finally:
        servers.close()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "store", "serve", "--port", str(port), "--save", ""],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        first = Pipe(port)
        first.batch([("PING",)])
        first.sock.close()
        rss_before = _rss_of(process.pid)
        mine = _cache_run(port, values, time.monotonic)
        rss_after = _rss_of(process.pid)
    finally:
        process.terminate()
        process.wait(10)
    for run in (theirs, mine):
        assert run["used"] <= run["limit"] * 1.02, run
        assert run["evicted"] >= 0.8 * CACHE_KEYS, run
    # both keep about the same number of keys, and both keep the hot ones
    assert abs(mine["keys"] - theirs["keys"]) <= 0.2 * theirs["keys"], (mine, theirs)
    assert mine["hit_rate"] > 0.75, mine
    assert abs(mine["hit_rate"] - theirs["hit_rate"]) <= 0.10, (mine, theirs)
    # the process grew by what the figure says it holds, within the documented margin
    held = mine["limit"] - mine["empty"]
    assert abs(rss_after - rss_before - held) <= MARGIN * held, (rss_after - rss_before, held)


def test_the_kept_figure_follows_every_kind_of_write(
    pulsar: ServerThread, raw: Callable[..., RawClient]
) -> None:
    """Writes of every shape keep the recorded sizes equal to a fresh measure of the
    keyspace: the figure never drifts."""
    from store.server.memory import python_key_size

    c = raw()
    c.call("CONFIG", "SET", "maxmemory", "1gb")
    waiter = raw()
    waiter.send_raw(pack_command("BLMOVE", "src", "served", "LEFT", "RIGHT", "5"))
    time.sleep(0.1)
    for command in (
        ("SET", "s", "v" * 100),
        ("APPEND", "s", "w" * 600),
        ("RPUSH", "l", *[f"item{i}" for i in range(100)]),
        ("LPUSH", "src", "x"),  # served to the waiter
        ("HSET", "h", *[f"f{i // 2}" if i % 2 == 0 else "v" * i for i in range(60)]),
        ("SADD", "set", *[str(i) for i in range(50)]),
        ("ZADD", "z", *[x for i in range(40) for x in (str(i), f"m{i}")]),
        ("XADD", "x", "*", "f", "v"),
        ("EXPIRE", "s", "100"),
        ("RENAME", "l", "l2"),
        ("COPY", "h", "h", "DB", "2"),
        ("MOVE", "set", "3"),
        ("SORT", "l2", "ALPHA", "STORE", "sorted"),
        ("EVAL", "redis.call('set', 'e', '1'); return redis.call('rpush', 'el', 'a')", "0"),
        ("LPOP", "l2", "100"),  # emptied: deleted
        ("SET", "gone", "1", "PX", "1"),
        ("SWAPDB", "0", "3"),
        ("SELECT", "3"),
        ("DEL", "z"),
        ("SELECT", "2"),
        ("FLUSHDB",),
    ):
        c.call(*command)
    c.call("MULTI")
    c.call("INCR", "counter")
    c.call("HSET", "h2", "a", "b")
    assert len(c.call("EXEC")) == 2
    assert waiter.read() == b"x"
    time.sleep(0.05)
    c.call("SELECT", "3")
    assert c.call("GET", "gone") is None  # expired on access
    c.call("PING")
    server = pulsar.server
    eviction = server.eviction
    fresh = 0
    for db in server.databases:
        sizes = eviction.sizes[db.index]
        assert eviction.owners[db.index] is db.data
        assert set(sizes) == set(db.data), db.index
        for key, value in db.data.items():
            size = python_key_size(key, value, key in db.expires, server.lfu)
            assert sizes[key] == size, key
            fresh += size
    assert eviction.used == fresh
