"""SLOWLOG, LATENCY, MEMORY, MONITOR, OBJECT, SWAPDB, WAIT and LOLWUT against a real
redis-server 7.0: the same replies, errors and log contents (times and durations are
compared by type and range). Each test has a redis-server of its own, since they change
its settings."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from store.server import ServerThread
from tests.conftest import _start_server

from .conftest import Differential, RawClient, _normalise


@pytest.fixture
def own_redis() -> Iterator[Any]:
    yield from _start_server("--enable-debug-command", "yes")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def both(
    request: pytest.FixtureRequest, own_redis: Any, pulsar: ServerThread
) -> Iterator[Differential]:
    """Like ``same``, on a redis-server of the test's own (database 0 of each)."""
    redis = RawClient(own_redis.port, request.param)
    mine = RawClient(pulsar.port, request.param)
    differential = Differential(redis, mine)
    differential.protocol = request.param  # type: ignore[attr-defined]
    try:
        yield differential
    finally:
        redis.close()
        mine.close()


def _map(reply: Any) -> Any:
    """A RESP2 flat array as the map RESP3 sends."""
    if isinstance(reply, list):
        return dict(zip(reply[::2], reply[1::2], strict=True))
    return reply


def _on_both(both: Differential, *args: Any) -> tuple[Any, Any]:
    return _normalise(both.redis.call(*args)), _normalise(both.pulsar.call(*args))


def _peer(client: RawClient) -> bytes:
    host, port = client.sock.getsockname()[:2]
    return f"{host}:{port}".encode()


def _second(both: Differential) -> tuple[RawClient, RawClient]:
    """Another connection to each server: (redis, pulsar)."""
    redis_port = both.redis.sock.getpeername()[1]
    pulsar_port = both.pulsar.sock.getpeername()[1]
    return RawClient(redis_port), RawClient(pulsar_port)


# -- SLOWLOG ------------------------------------------------------------------------------


def test_slowlog_replies_and_errors(both: Differential) -> None:
    both("SLOWLOG", "RESET")
    both("SLOWLOG", "LEN")
    both("SLOWLOG", "GET")
    both("SLOWLOG", "HELP")
    for args in (
        ("GET", "x"),
        ("GET", "-2"),
        ("GET", "1", "2"),
        ("LEN", "x"),
        ("RESET", "x"),
        ("HELP", "x"),
        ("FOO",),
        ("get", "99999999999999999999"),
    ):
        both("SLOWLOG", *args)
    both("SLOWLOG")


def _entries(client: RawClient) -> list[Any]:
    reply = client.call("SLOWLOG", "GET", "-1")
    assert isinstance(reply, list)
    return reply


def test_slowlog_logs_every_command_as_redis(both: Differential) -> None:
    """With slowlog-log-slower-than 0 each command is logged with Redis's arguments:
    truncated to 32 arguments and 128 bytes each, passwords redacted, EXEC's commands
    one by one (not EXEC), a script's commands from the Lua client."""
    redis2, mine2 = _second(both)
    try:
        both("CONFIG", "SET", "slowlog-log-slower-than", "0")
        both("SLOWLOG", "RESET")
        started = int(time.time())
        both("SET", "a", "b")
        both("GET", "a")
        both("RPUSH", "list", *[str(i) for i in range(40)])
        both("SET", "k" * 200, "v" * 129)
        both("SET", "x" * 128, "y")
        both("AUTH", "secret")
        _on_both(both, "AUTH", "user", "secret")  # replies differ (no ACL users here)
        both("CLIENT", "SETNAME", "observer")
        both("MULTI")
        both("INCR", "n")
        both("SET", "c", "d")
        both("EXEC")
        both("EVAL", "redis.call('set', KEYS[1], ARGV[1]) return 1", "1", "s", "t")
        both("CONFIG", "SET", "requirepass", "")
        for client in (redis2, mine2):  # another client, with a name of its own
            client.call("SET", "other", "1")
        _on_both(both, "HELLO", str(both.protocol), "AUTH", "default", "anything")  # type: ignore[attr-defined]
        redis_log, my_log = _entries(both.redis), _entries(both.pulsar)
        peers = {
            _peer(redis2): _peer(mine2),
            _peer(both.redis): _peer(both.pulsar),
            b"?:0": b"?:0",  # the Lua client
        }
    finally:
        redis2.close()
        mine2.close()
    assert len(my_log) == len(redis_log), (my_log, redis_log)
    redis_first, my_first = redis_log[-1][0], my_log[-1][0]
    for theirs, mine in zip(redis_log, my_log, strict=True):
        assert mine[0] - my_first == theirs[0] - redis_first  # ids count up by one
        assert started - 1 <= mine[1] <= time.time() + 1
        assert isinstance(mine[2], int) and 0 <= mine[2] < 5_000_000
        assert mine[3] == theirs[3]
        assert mine[5] == theirs[5]
        assert mine[4] == peers[theirs[4]]
    shown = [entry[3] for entry in my_log]
    assert [b"auth", b"(redacted)"] in [[arg.lower() for arg in args] for args in shown]
    numbers = [str(i).encode() for i in range(29)]  # 32 arguments, the last one says
    assert [b"RPUSH", b"list", *numbers, b"... (11 more arguments)"] in shown
    long_set = [b"SET", b"k" * 128 + b"... (72 more bytes)", b"v" * 128 + b"... (1 more bytes)"]
    assert long_set in shown
    assert not any(args[0].lower() == b"exec" for args in shown)


def test_slowlog_max_len_and_threshold(both: Differential) -> None:
    both("CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "3")
    both("SLOWLOG", "RESET")
    for index in range(6):
        both("SET", f"k{index}", "v")
    both("SLOWLOG", "LEN")
    redis_log, my_log = _entries(both.redis), _entries(both.pulsar)
    assert [entry[3] for entry in my_log] == [entry[3] for entry in redis_log]
    assert len(my_log) == 3
    # negative: nothing is logged; a high threshold: a fast command is not logged
    for threshold in ("-1", "1000000"):
        both("CONFIG", "SET", "slowlog-log-slower-than", threshold)
        both("SLOWLOG", "RESET")
        both("SET", "a", "b")
        both("SLOWLOG", "LEN")
    both("CONFIG", "SET", "slowlog-log-slower-than", "100000")
    both("SLOWLOG", "RESET")
    both("DEBUG", "SLEEP", "0.15")  # 150 ms: over the 100 ms threshold on both
    redis_log, my_log = _entries(both.redis), _entries(both.pulsar)
    assert [e[3] for e in my_log] == [e[3] for e in redis_log] == [[b"DEBUG", b"SLEEP", b"0.15"]]
    assert 150_000 <= my_log[0][2] < 1_000_000


# -- LATENCY ------------------------------------------------------------------------------


def test_latency_replies_and_errors(both: Differential) -> None:
    both("LATENCY", "RESET")
    both("LATENCY", "LATEST")
    both("LATENCY", "HISTORY", "command")
    both("LATENCY", "GRAPH", "command")
    both("LATENCY", "DOCTOR")
    both("LATENCY", "HELP")
    both("LATENCY", "RESET", "command", "nosuch")
    for args in (("FOO",), ("LATEST", "x"), ("HISTORY",), ("GRAPH",), ("HELP", "x")):
        both("LATENCY", *args)
    both("LATENCY")


def test_latency_events_over_the_threshold(both: Differential) -> None:
    both("CONFIG", "SET", "latency-monitor-threshold", "10")
    both("PING")
    both("LATENCY", "LATEST")  # a fast command under the threshold: no event
    both("DEBUG", "SLEEP", "0.05")
    for reply in _on_both(both, "LATENCY", "LATEST"):
        assert len(reply) == 1
        name, when, latest, high = reply[0]
        assert name == b"command"
        assert abs(when - time.time()) < 5 and 50 <= latest == high < 1000
    for reply in _on_both(both, "LATENCY", "HISTORY", "command"):
        assert len(reply) == 1 and 50 <= reply[0][1] < 1000
    for reply in _on_both(both, "LATENCY", "GRAPH", "command"):
        text = reply.decode() if isinstance(reply, bytes) else str(reply)
        assert text.startswith("command - high ")
        assert "-" * 80 in text
    both("LATENCY", "RESET")
    both("LATENCY", "LATEST")


def test_latency_histogram_and_info_latencystats(both: Differential) -> None:
    both("CONFIG", "RESETSTAT")
    for index in range(5):
        both("SET", f"k{index}", "v")
    both("GET", "k1")
    redis, mine = _on_both(both, "LATENCY", "HISTOGRAM", "set", "get", "nosuch")
    redis, mine = _map(redis), _map(mine)
    for reply in (redis, mine):
        for name in reply:
            reply[name] = _map(reply[name])
            reply[name][b"histogram_usec"] = _map(reply[name][b"histogram_usec"])
    assert set(mine) == set(redis) == {b"set", b"get"}
    for name, calls in ((b"set", 5), (b"get", 1)):
        assert set(mine[name]) == set(redis[name]) == {b"calls", b"histogram_usec"}
        assert mine[name][b"calls"] == redis[name][b"calls"] == calls
        buckets = mine[name][b"histogram_usec"]
        assert list(buckets.values()) == sorted(buckets.values())  # cumulative
        assert list(buckets.values())[-1] == calls
        assert set(buckets) <= {1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227}
    redis, mine = _on_both(both, "LATENCY", "HISTOGRAM")
    assert {b"set", b"get"} <= set(_map(mine))
    both("LATENCY", "HISTOGRAM", "nosuch")
    pattern = re.compile(r"p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$")
    for client in (both.redis, both.pulsar):
        text = client.call("INFO", "latencystats")
        text = text.decode() if isinstance(text, bytes) else str(text)
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        assert pattern.match(fields["latency_percentiles_usec_set"]), fields
        assert "latency_percentiles_usec_get" in fields
        stats = client.call("INFO", "commandstats")
        stats = stats.decode() if isinstance(stats, bytes) else str(stats)
        line = next(li for li in stats.splitlines() if li.startswith("cmdstat_set:"))
        match = re.match(r"cmdstat_set:calls=5,usec=(\d+),usec_per_call=(\d+\.\d\d),", line)
        assert match is not None, line
        assert int(match.group(1)) >= 0
    both("CONFIG", "SET", "latency-tracking", "no")
    both("CONFIG", "RESETSTAT")
    both("SET", "a", "b")
    both("LATENCY", "HISTOGRAM", "set")
    both("INFO", "latencystats")


# -- MEMORY -------------------------------------------------------------------------------


def test_memory_usage_matches_redis_for_small_values(both: Differential) -> None:
    both("SET", "a", "b")
    both("SET", "n", "12345")
    both("SET", "big", "x" * 100)
    both("SET", "huge", "x" * 5000)
    both("RPUSH", "l", "a", "b", "c")
    both("HSET", "h", "f", "v", "g", "123")
    both("SADD", "s", "1", "2", "3")
    both("SADD", "words", "apple", "pear")
    both("ZADD", "z", "1", "a", "2.5", "b")
    for key in ("a", "n", "big", "huge", "l", "h", "s", "z", "nosuch"):
        both("MEMORY", "USAGE", key)
    both("MEMORY", "USAGE", "a", "SAMPLES", "0")
    both("MEMORY", "USAGE", "a", "SAMPLES", "-1")
    both("MEMORY", "USAGE", "a", "SAMPLES", "x")
    both("MEMORY", "USAGE", "a", "SAMPLES")
    both("MEMORY", "USAGE", "a", "FOO")
    both("MEMORY", "USAGE")


def test_memory_usage_is_close_to_redis_for_big_values(both: Differential) -> None:
    both("RPUSH", "list", *[f"item-{i}" for i in range(2000)])
    both("HSET", "hash", *[x for i in range(300) for x in (f"field-{i}", f"value-{i}")])
    both("HSET", "table", *[x for i in range(600) for x in (f"field-{i}", f"value-{i}")])
    both("OBJECT", "ENCODING", "hash")
    both("OBJECT", "ENCODING", "table")
    both("SADD", "set", *[f"member-{i}" for i in range(700)])
    both("SADD", "ints", *[str(i * 1000) for i in range(400)])
    both("ZADD", "zset", *[x for i in range(300) for x in (str(i), f"member-{i}")])
    for key in ("list", "hash", "table", "set", "ints", "zset"):
        for samples in ("5", "0"):
            redis, mine = _on_both(both, "MEMORY", "USAGE", key, "SAMPLES", samples)
            assert 0.75 * redis <= mine <= 1.25 * redis, (key, samples, mine, redis)


def test_memory_stats_doctor_and_the_rest(both: Differential) -> None:
    both("SET", "a", "b")
    redis, mine = (_map(reply) for reply in _on_both(both, "MEMORY", "STATS"))
    assert list(mine) == list(redis)
    for name, value in redis.items():
        if name.startswith(b"db."):
            assert list(_map(mine[name])) == list(_map(value))
        else:
            assert type(mine[name]) is type(value), name
    assert mine[b"keys.count"] == redis[b"keys.count"] == 1
    both("MEMORY", "DOCTOR")  # both nearly empty
    both("MEMORY", "PURGE")
    both("MEMORY", "HELP")
    for args in (("FOO",), ("STATS", "x"), ("DOCTOR", "x"), ("PURGE", "x"), ("MALLOC-STATS", "x")):
        both("MEMORY", *args)
    both("MEMORY")
    for reply in _on_both(both, "MEMORY", "MALLOC-STATS"):
        assert isinstance(reply, bytes | str) and reply


# -- MONITOR ------------------------------------------------------------------------------

_TIMESTAMP = re.compile(rb"^\d{10}\.\d{6} ")


def _monitor_lines(monitor: RawClient, until: bytes) -> list[bytes]:
    lines = []
    while True:
        line = monitor.read()
        assert isinstance(line, bytes), line
        assert _TIMESTAMP.match(line), line
        lines.append(_TIMESTAMP.sub(b"T ", line))
        if until in line:
            return lines


def test_monitor_feed_as_redis(both: Differential) -> None:
    """What a MONITOR connection sees of another client's commands: Redis's line format,
    escaping, database, address, script commands from "lua", passwords redacted, admin
    commands left out, a transaction's commands at EXEC."""
    redis_monitor, my_monitor = _second(both)
    try:
        for monitor in (redis_monitor, my_monitor):
            assert monitor.call("MONITOR") == b"OK"
        both("SET", "k", b'a "b"\n\x00\xff\\')
        both("GET", "k")
        both("SELECT", "3")
        both("INCRBY", "n", "5")
        both("AUTH", "secret")
        proto = str(both.protocol)  # type: ignore[attr-defined]
        _on_both(both, "HELLO", proto, "AUTH", "default", "pw", "SETNAME", "x")
        both("CONFIG", "GET", "maxmemory")  # admin: not shown
        both("EVAL", "redis.call('incr', KEYS[1]) return redis.call('get', KEYS[1])", "1", "n")
        both("MULTI")
        both("SET", "t", "1")
        both("GET", "t")
        both("EXEC")
        both("GET")  # refused before it runs: not shown
        both("ECHO", "the end")
        redis_lines = _monitor_lines(redis_monitor, b"the end")
        my_lines = _monitor_lines(my_monitor, b"the end")
        redis_peer, my_peer = _peer(both.redis), _peer(both.pulsar)
        assert [line.replace(my_peer, b"PEER") for line in my_lines] == [
            line.replace(redis_peer, b"PEER") for line in redis_lines
        ]
        assert any(b"[3 lua]" in line for line in my_lines)
        assert b'T [0 PEER] "SET" "k" "a \\"b\\"\\n\\x00\\xff\\\\"' in [
            line.replace(my_peer, b"PEER") for line in my_lines
        ]
        # the monitor still answers its own commands
        redis_reply, my_reply = redis_monitor.call("PING"), my_monitor.call("PING")
        assert my_reply == redis_reply
    finally:
        redis_monitor.close()
        my_monitor.close()
    both("SET", "after", "1")  # a closed monitor is forgotten


def test_monitor_in_client_list_and_errors(both: Differential) -> None:
    redis_monitor, my_monitor = _second(both)
    try:
        for monitor in (redis_monitor, my_monitor):
            assert monitor.call("MONITOR") == b"OK"
        for client in (both.redis, both.pulsar):
            listing = client.call("CLIENT", "LIST")
            text = listing.decode() if isinstance(listing, bytes) else str(listing)
            assert any("flags=O" in line for line in text.splitlines()), text
        for monitor in (redis_monitor, my_monitor):  # keys are out of a monitor's reach
            assert str(monitor.call("GET", "k")) == "ERR Replica can't interact with the keyspace"
            assert monitor.call("RESET") == b"RESET"  # and RESET ends MONITOR
            assert monitor.call("GET", "k") is None
        both("SET", "k", "v")
        for monitor in (redis_monitor, my_monitor):
            assert monitor.call("PING") == b"PONG"  # nothing fed to it any more
        both("MULTI")
        both("MONITOR")
        both("EXEC")
    finally:
        redis_monitor.close()
        my_monitor.close()


# -- OBJECT -------------------------------------------------------------------------------


def test_object_idletime_grows_and_access_resets_it(both: Differential) -> None:
    both("SET", "k", "v")
    both("SET", "other", "v")
    both("OBJECT", "IDLETIME", "k")  # 0 on both
    time.sleep(2.2)
    for reply in _on_both(both, "OBJECT", "IDLETIME", "k"):
        assert 2 <= reply <= 3
    both("GET", "k")  # an access: idle again from now
    both("OBJECT", "IDLETIME", "k")
    both("TYPE", "other")  # TYPE and OBJECT are not accesses
    both("OBJECT", "ENCODING", "other")
    for reply in _on_both(both, "OBJECT", "IDLETIME", "other"):
        assert 2 <= reply <= 3
    both("TOUCH", "other")  # TOUCH is
    both("OBJECT", "IDLETIME", "other")
    both("OBJECT", "IDLETIME", "nosuch")
    both("OBJECT", "FREQ", "k")  # no LFU policy: an error


def test_object_freq_under_lfu(both: Differential) -> None:
    both("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    both("SET", "f", "v")
    both("OBJECT", "FREQ", "f")  # a new key: 5
    both("GET", "f")
    both("OBJECT", "FREQ", "f")  # the first access always counts: 6
    for _ in range(200):
        both("GET", "f")
    for reply in _on_both(both, "OBJECT", "FREQ", "f"):
        assert 8 <= reply <= 16  # logarithmic: 201 hits make about 12
    both("OBJECT", "IDLETIME", "f")  # LFU: idle time not tracked
    both("OBJECT", "FREQ", "nosuch")
    both("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    both("OBJECT", "FREQ", "f")


def test_object_refcount_help_and_errors(both: Differential) -> None:
    both("SET", "small", "100")
    both("SET", "large", "100000")
    both("SET", "text", "hello")
    for key in ("small", "large", "text", "nosuch"):
        both("OBJECT", "REFCOUNT", key)
    both("OBJECT", "HELP")
    for args in (("HELP", "x"), ("FREQ",), ("IDLETIME", "a", "b"), ("NOSUCH", "k")):
        both("OBJECT", *args)


# -- SWAPDB -------------------------------------------------------------------------------


def test_swapdb_errors(both: Differential) -> None:
    for args in (("x", "1"), ("1", "x"), ("1", "99"), ("99", "x"), ("-1", "0"), ("0", "0")):
        both("SWAPDB", *args)
    both("SWAPDB", "1")


def test_swapdb_swaps_data_and_signals_watchers(both: Differential) -> None:
    redis2, mine2 = _second(both)
    try:
        both("SELECT", "1")
        both("SET", "in1", "one")
        both("SET", "w", "from-1")
        both("EXPIRE", "in1", "100")
        both("SELECT", "0")
        both("SET", "in0", "zero")
        both("WATCH", "w")  # exists in database 1 only: the swap changes it
        for client in (redis2, mine2):
            assert client.call("SWAPDB", "0", "1") == b"OK"
        both("MULTI")
        both("GET", "w")
        both("EXEC")  # aborted: nil
        both("GET", "in1")
        both("TTL", "in1")
        both("GET", "in0")
        both("WATCH", "never")  # in neither database: untouched
        for client in (redis2, mine2):
            client.call("SWAPDB", "0", "1")
        both("MULTI")
        both("PING")
        both("EXEC")  # runs
        both("DBSIZE")
    finally:
        redis2.close()
        mine2.close()


def test_swapdb_wakes_a_client_blocked_on_the_other_database(both: Differential) -> None:
    redis2, mine2 = _second(both)
    try:
        for client in (redis2, mine2):
            client.call("SELECT", "1")
            client.call("RPUSH", "queue", "job")
            client.call("SELECT", "0")
        for client in (both.redis, both.pulsar):
            client.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nqueue\r\n$1\r\n5\r\n")
        time.sleep(0.2)
        for client in (redis2, mine2):
            assert client.call("SWAPDB", "0", "1") == b"OK"
        assert both.pulsar.read() == both.redis.read() == [b"queue", b"job"]
    finally:
        redis2.close()
        mine2.close()


# -- WAIT and LOLWUT ----------------------------------------------------------------------


def test_wait_without_replicas(both: Differential) -> None:
    both("WAIT", "0", "0")
    both("WAIT", "0", "100")
    both("WAIT", "-1", "0")
    both("WAIT", "x", "0")
    both("WAIT", "0", "x")
    both("WAIT", "0", "-1")
    both("WAIT", "1")
    for client in (both.redis, both.pulsar):  # asked for a replica: waits out the timeout
        started = time.monotonic()
        assert client.call("WAIT", "1", "300") == 0
        assert 0.25 <= time.monotonic() - started < 2
    both("MULTI")
    both("WAIT", "2", "0")
    both("EXEC")  # inside MULTI: at once


def test_lolwut(both: Differential) -> None:
    both("LOLWUT")
    both("LOLWUT", "VERSION", "7")
    both("LOLWUT", "VERSION", "x")
    for version in ("5", "6"):
        redis, mine = _on_both(both, "LOLWUT", "VERSION", version)
        as_text = [r.decode() if isinstance(r, bytes) else str(r) for r in (redis, mine)]
        assert as_text[1].splitlines()[-1] == as_text[0].splitlines()[-1]
        assert len(as_text[1].splitlines()) > 2


def test_slowlog_logs_a_blocked_command_when_its_wait_ends(both: Differential) -> None:
    both("CONFIG", "SET", "slowlog-log-slower-than", "0")
    both("SLOWLOG", "RESET")
    both("BLPOP", "empty", "0.2")  # timed out: not logged
    both("RPUSH", "full", "x")
    both("BLPOP", "full", "1")  # served at once
    redis2, mine2 = _second(both)
    try:
        for client, other in ((both.redis, redis2), (both.pulsar, mine2)):
            client.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nlater\r\n$1\r\n5\r\n")
            time.sleep(0.3)
            assert other.call("RPUSH", "later", "y") == 1
            assert client.read() == [b"later", b"y"]  # logged when served, after the RPUSH
        redis_log, my_log = _entries(both.redis), _entries(both.pulsar)
    finally:
        redis2.close()
        mine2.close()
    assert [e[3] for e in my_log] == [e[3] for e in redis_log]
    assert [b"BLPOP", b"later", b"5"] in [e[3] for e in my_log]
    assert [b"BLPOP", b"empty", b"0.2"] not in [e[3] for e in my_log]
    assert all(entry[2] < 250_000 for entry in my_log + redis_log)  # not the time waited
