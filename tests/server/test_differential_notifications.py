"""Keyspace notifications, differential: the same commands on redis-server 7.0 and on
PulsarDS must publish the same ``__keyspace@...`` / ``__keyevent@...`` messages, in the
same order, for the classes ``notify-keyspace-events`` turns on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.server import ServerThread
from tests.server.conftest import RawClient, _normalise
from tests.server.test_differential import COMMANDS

MARK = "notify-test-mark"
DB = "11"


class Side:
    """One server: a command connection (database 11) and a subscriber to every
    keyspace channel plus the marker channel that ends a batch."""

    def __init__(self, port: int, protocol: int) -> None:
        self.cmd = RawClient(port, 2)
        self.cmd.call("SELECT", DB)
        self.cmd.call("FLUSHDB")
        self.sub = RawClient(port, protocol)
        self.sub.call("PSUBSCRIBE", "__key*__:*")
        reply = self.sub.call("SUBSCRIBE", MARK)
        assert _normalise(reply)[0] == b"subscribe"

    def events(self) -> list[tuple[Any, ...]]:
        """The (channel, message) pairs published since the last call: up to the
        marker, which the command connection publishes after the commands."""
        self.cmd.call("PUBLISH", MARK, "end")
        got: list[tuple[Any, ...]] = []
        while True:
            item = _normalise(self.sub.read())
            if item[0] == b"message" and item[1] == MARK.encode():
                return got
            assert item[0] == b"pmessage", item
            got.append((item[2], item[3]))

    def close(self) -> None:
        self.cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
        self.cmd.call("FLUSHDB")
        self.cmd.close()
        self.sub.close()


class Pair:
    def __init__(self, redis: Side, pulsar: Side) -> None:
        self.redis = redis
        self.pulsar = pulsar

    def config(self, flags: str) -> None:
        for side in (self.redis, self.pulsar):
            assert side.cmd.call("CONFIG", "SET", "notify-keyspace-events", flags) == b"OK"

    def run(self, *commands: tuple[Any, ...], any_order: bool = False) -> list[tuple[Any, ...]]:
        """Run ``commands`` on both (same replies), then compare the events."""
        for args in commands:
            expected = _normalise(self.redis.cmd.call(*args))
            got = _normalise(self.pulsar.cmd.call(*args))
            if args[0] in ("SMEMBERS", "SINTER", "SUNION", "SDIFF", "KEYS", "HKEYS", "HVALS"):
                if isinstance(expected, list) and isinstance(got, list):
                    expected, got = sorted(expected), sorted(got)
            if args[0] == "SPOP" and isinstance(expected, list) and isinstance(got, list):
                expected, got = len(expected), len(got)  # random members
            assert got == expected, f"{args!r}: PulsarDS {got!r}, redis-server {expected!r}"
        return self.same_events(commands, any_order)

    def same_events(self, commands: Any = (), any_order: bool = False) -> list[tuple[Any, ...]]:
        expected = self.redis.events()
        got = self.pulsar.events()
        if any_order:
            expected, got = sorted(expected), sorted(got)
        assert got == expected, f"{commands!r}:\nPulsarDS {got!r}\nredis    {expected!r}"
        return got


def _pair(redis_server: Any, pulsar: ServerThread, protocol: int) -> Iterator[Pair]:
    redis = Side(redis_server.port, protocol)
    mine = Side(pulsar.port, protocol)
    pair = Pair(redis, mine)
    pair.config("KEA")
    try:
        yield pair
    finally:
        redis.close()
        mine.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request: pytest.FixtureRequest, redis_server: Any, pulsar: ServerThread) -> Iterator[Pair]:
    yield from _pair(redis_server, pulsar, request.param)


@pytest.fixture
def pair2(redis_server: Any, pulsar: ServerThread) -> Iterator[Pair]:
    yield from _pair(redis_server, pulsar, 2)


def test_events_are_seen_at_all(pair2: Pair) -> None:
    got = pair2.run(("SET", "k", "v"))
    assert got == [(b"__keyspace@11__:k", b"set"), (b"__keyevent@11__:set", b"k")]


def test_strings(pair: Pair) -> None:
    pair.run(
        ("SET", "s", "v"),
        ("SET", "s", "w", "NX"),
        ("SET", "s", "w", "XX", "GET"),
        ("SET", "s2", "w", "XX"),
        ("SET", "s", "x", "EX", "100"),
        ("SET", "s", "y", "PX", "100000", "GET"),
        ("SET", "s", "y", "KEEPTTL"),
        ("SETNX", "s", "1"),
        ("SETNX", "n", "1"),
        ("SETEX", "e", "100", "v"),
        ("PSETEX", "e", "100000", "v"),
        ("GETSET", "e", "w"),
        ("GETDEL", "e"),
        ("GETDEL", "e"),
        ("MSET", "a", "1", "b", "2"),
        ("MSETNX", "a", "1", "c", "2"),
        ("MSETNX", "c", "1", "d", "2"),
        ("APPEND", "a", "x"),
        ("APPEND", "new", "x"),
        ("INCR", "i"),
        ("DECR", "i"),
        ("INCRBY", "i", "5"),
        ("DECRBY", "i", "5"),
        ("INCR", "a"),
        ("INCRBYFLOAT", "f", "1.5"),
        ("SETRANGE", "r", "2", "ab"),
        ("SETRANGE", "r", "0", ""),
        ("SETRANGE", "none", "0", ""),
        ("SETBIT", "bits", "7", "1"),
        ("BITOP", "OR", "dest", "bits", "a"),
        ("BITOP", "AND", "dest", "nothing"),
        ("GETEX", "a", "EX", "100"),
        ("GETEX", "a", "PERSIST"),
        ("GETEX", "a", "PERSIST"),
        ("GETEX", "a", "PXAT", "1"),
        ("GETEX", "missing", "EX", "5"),
        ("GET", "s"),
        ("STRLEN", "s"),
        ("SET", "past", "v", "EXAT", "1"),  # expired at once here, on the next look there
        ("GET", "past"),
    )


def test_generic_keys(pair: Pair) -> None:
    pair.run(
        ("MSET", "a", "1", "b", "2", "c", "3"),
        ("DEL", "a", "nope", "b"),
        ("UNLINK", "c", "c"),
        ("SET", "k", "v"),
        ("EXPIRE", "k", "100"),
        ("EXPIRE", "k", "100", "NX"),
        ("PEXPIRE", "k", "100000", "XX"),
        ("EXPIREAT", "k", str(int(time.time()) + 100)),
        ("PERSIST", "k"),
        ("PERSIST", "k"),
        ("EXPIRE", "missing", "10"),
        ("SET", "gone", "v"),
        ("EXPIRE", "gone", "0"),
        ("SET", "gone", "v"),
        ("PEXPIREAT", "gone", "1"),
        ("SET", "gone", "v"),
        ("EXPIRE", "gone", "-5"),
        ("SET", "src", "v", "EX", "100"),
        ("RENAME", "src", "dst"),
        ("SET", "other", "o"),
        ("RENAME", "dst", "other"),
        ("RENAMENX", "other", "k"),
        ("RENAMENX", "other", "fresh"),
        ("RENAME", "fresh", "fresh"),
        ("COPY", "fresh", "copied"),
        ("COPY", "fresh", "copied"),
        ("COPY", "fresh", "copied", "REPLACE"),
        ("COPY", "fresh", "copied", "DB", "12"),
        ("MOVE", "copied", "13"),
        ("MOVE", "copied", "13"),
        ("EXISTS", "k"),
        ("TYPE", "k"),
        ("TOUCH", "k"),
    )
    for side in (pair.redis, pair.pulsar):
        side.cmd.call("SELECT", "12")
        side.cmd.call("FLUSHDB")
        side.cmd.call("SELECT", "13")
        side.cmd.call("FLUSHDB")
        side.cmd.call("SELECT", DB)
    pair.same_events()


def test_flushdb_and_flushall_publish_nothing(pair2: Pair) -> None:
    pair2.run(("MSET", "a", "1", "b", "2"), ("FLUSHDB",))
    got = pair2.run(("SET", "a", "1"), ("FLUSHDB", "ASYNC"))
    assert got[-2:] == [(b"__keyspace@11__:a", b"set"), (b"__keyevent@11__:set", b"a")]


def test_lists(pair: Pair) -> None:
    pair.run(
        ("RPUSH", "l", "a", "b", "c", "d", "e"),
        ("LPUSH", "l", "z"),
        ("LPUSHX", "nolist", "a"),
        ("RPUSHX", "l", "y"),
        ("LPOP", "l"),
        ("RPOP", "l", "2"),
        ("LPOP", "l", "0"),
        ("LPOP", "missing"),
        ("LSET", "l", "0", "A"),
        ("LSET", "l", "99", "A"),
        ("LINSERT", "l", "BEFORE", "b", "x"),
        ("LINSERT", "l", "AFTER", "nothere", "x"),
        ("LREM", "l", "0", "x"),
        ("LREM", "l", "0", "nothere"),
        ("LTRIM", "l", "0", "-1"),
        ("LTRIM", "l", "1", "-1"),
        ("LTRIM", "missing", "0", "1"),
        ("RPUSH", "m", "1", "2"),
        ("LMOVE", "m", "dst", "LEFT", "RIGHT"),
        ("LMOVE", "m", "dst", "RIGHT", "LEFT"),
        ("LMOVE", "dst", "dst", "LEFT", "LEFT"),
        ("RPOPLPUSH", "dst", "other"),
        ("RPOPLPUSH", "nothing", "other"),
        ("LMPOP", "2", "nothing", "other", "LEFT", "COUNT", "5"),
        ("RPUSH", "t", "1"),
        ("LTRIM", "t", "5", "6"),
        ("RPUSH", "r", "1", "1"),
        ("LREM", "r", "0", "1"),
        ("RPUSH", "p", "1"),
        ("LPOP", "p"),
        ("RPUSH", "l", "q1", "q2", "q3", "q4"),
        ("BLPOP", "nothing", "l", "0"),
        ("BRPOP", "l", "0"),
        ("BLMOVE", "l", "x", "LEFT", "LEFT", "0"),
        ("BLMPOP", "0", "1", "x", "RIGHT", "COUNT", "9"),
        ("BRPOPLPUSH", "l", "y", "0"),
    )


def test_blocked_pops_served_later(pair2: Pair) -> None:
    waiters = []
    for side in (pair2.redis, pair2.pulsar):
        waiter = RawClient(side.cmd.sock.getpeername()[1])
        waiter.call("SELECT", DB)
        waiter.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$2\r\nbq\r\n$1\r\n0\r\n")
        waiters.append(waiter)
    time.sleep(0.1)  # both are blocked now
    pair2.run(("RPUSH", "bq", "v"))
    for waiter in waiters:
        assert _normalise(waiter.read()) == [b"bq", b"v"]
        waiter.close()
    pair2.same_events()


def test_hashes(pair: Pair) -> None:
    pair.run(
        ("HSET", "h", "a", "1", "b", "2"),
        ("HSET", "h", "a", "1"),
        ("HMSET", "h", "c", "3"),
        ("HSETNX", "h", "a", "9"),
        ("HSETNX", "h", "d", "9"),
        ("HINCRBY", "h", "n", "5"),
        ("HINCRBY", "h", "a", "x"),
        ("HINCRBYFLOAT", "h", "f", "1.5"),
        ("HDEL", "h", "zz"),
        ("HDEL", "h", "a", "b"),
        ("HDEL", "h", "c", "d", "n", "f"),
        ("HDEL", "h", "a"),
        ("HGET", "h", "a"),
    )


def test_sets(pair: Pair) -> None:
    pair.run(
        ("SADD", "s", "a", "b", "c"),
        ("SADD", "s", "a"),
        ("SREM", "s", "zz"),
        ("SREM", "s", "a"),
        ("SMOVE", "s", "t", "b"),
        ("SMOVE", "s", "t", "nothere"),
        ("SADD", "t", "c"),
        ("SMOVE", "s", "t", "c"),
        ("SADD", "u", "1", "2", "3"),
        ("SPOP", "u", "0"),
        ("SPOP", "u", "1"),
        ("SPOP", "missing"),
        ("SREM", "u", "1", "2", "3"),
        ("SADD", "u", "1", "2"),
        ("SCARD", "u"),
        ("SPOP", "u", "10"),
        ("SADD", "u", "1"),
        ("SPOP", "u"),
        ("SADD", "a", "1", "2"),
        ("SADD", "b", "2", "3"),
        ("SINTERSTORE", "d", "a", "b"),
        ("SUNIONSTORE", "d", "a", "b"),
        ("SDIFFSTORE", "d", "a", "b"),
        ("SINTERSTORE", "d", "a", "nothing"),
        ("SINTERSTORE", "d", "a", "nothing"),
        ("SDIFFSTORE", "e", "a", "a"),
    )


def test_sorted_sets(pair: Pair) -> None:
    pair.run(
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"),
        ("ZADD", "z", "1", "a"),
        ("ZADD", "z", "XX", "9", "nothere"),
        ("ZADD", "nz", "XX", "9", "a"),
        ("ZADD", "z", "GT", "CH", "0", "a"),
        ("ZADD", "z", "INCR", "1", "a"),
        ("ZINCRBY", "z", "2", "b"),
        ("ZADD", "z", "NX", "INCR", "1", "a"),
        ("ZREM", "z", "nothere"),
        ("ZREM", "z", "a"),
        ("ZREMRANGEBYRANK", "z", "0", "0"),
        ("ZREMRANGEBYSCORE", "z", "100", "200"),
        ("ZREMRANGEBYSCORE", "z", "-inf", "3"),
        ("ZADD", "lex", "0", "a", "0", "b"),
        ("ZREMRANGEBYLEX", "lex", "[a", "[a"),
        ("ZREMRANGEBYLEX", "lex", "-", "+"),
        ("ZADD", "p", "1", "a", "2", "b", "3", "c"),
        ("ZPOPMIN", "p"),
        ("ZPOPMAX", "p", "0"),
        ("ZPOPMAX", "p", "5"),
        ("ZADD", "p", "1", "a", "2", "b", "3", "c"),
        ("ZMPOP", "2", "nothing", "p", "MIN", "COUNT", "2"),
        ("BZPOPMIN", "p", "0"),
        ("ZADD", "q", "1", "a", "2", "b"),
        ("BZPOPMAX", "q", "0"),
        ("BZMPOP", "0", "1", "q", "MAX"),
        ("ZADD", "x", "1", "a", "2", "b"),
        ("ZADD", "y", "2", "b", "3", "c"),
        ("ZUNIONSTORE", "d", "2", "x", "y"),
        ("ZINTERSTORE", "d", "2", "x", "y"),
        ("ZDIFFSTORE", "d", "2", "x", "y"),
        ("ZINTERSTORE", "d", "2", "x", "nothing"),
        ("ZINTERSTORE", "d", "2", "x", "nothing"),
        ("ZRANGESTORE", "r", "x", "0", "-1"),
        ("ZRANGESTORE", "r", "x", "5", "6"),
        ("ZRANGESTORE", "r", "x", "5", "6"),
        ("ZUNION", "2", "x", "y"),
    )


def test_geo_hll_sort(pair: Pair) -> None:
    pair.run(
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
        ("GEOADD", "g", "13.361389", "38.115556", "Palermo"),
        ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
        ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"),
        ("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "gr"),
        ("GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "gr"),
        ("GEORADIUSBYMEMBER", "g", "Palermo", "1", "m", "STORE", "gr2"),
        ("GEORADIUS", "nothing", "15", "37", "200", "km", "STORE", "gr"),
        ("PFADD", "hll", "a", "b"),
        ("PFADD", "hll", "a"),
        ("PFADD", "hll2"),
        ("PFADD", "hll2"),
        ("PFMERGE", "hll3", "hll", "hll2"),
        ("PFCOUNT", "hll"),
        ("RPUSH", "list", "3", "1", "2"),
        ("SORT", "list", "STORE", "sorted"),
        ("SORT", "nothing", "STORE", "sorted"),
        ("SORT", "nothing", "STORE", "sorted"),
        ("SORT_RO", "list"),
    )


def test_multi_exec_and_scripts(pair: Pair) -> None:
    pair.run(
        ("MULTI",),
        ("SET", "a", "1"),
        ("INCR", "a"),
        ("LPUSH", "l", "x"),
        ("LPOP", "l"),
        ("EXPIRE", "a", "100"),
        ("EXEC",),
        ("EVAL", "redis.call('SET', KEYS[1], 'v'); redis.call('DEL', KEYS[1]); return 1", "1", "k"),
        (
            "EVAL",
            "redis.call('HSET', KEYS[1], 'f', 'v'); return redis.pcall('INCR', KEYS[1])",
            "1",
            "h",
        ),
        (
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=notifylib\n"
            "redis.register_function('nset', function(keys, args) "
            "return redis.call('SET', keys[1], args[1]) end)",
        ),
        ("FCALL", "nset", "1", "fk", "fv"),
        ("FUNCTION", "DELETE", "notifylib"),
    )


def test_new_class(pair2: Pair) -> None:
    pair2.config("KEg$lshzxn")  # with A, PulsarDS loses n: see notify.py
    pair2.run(
        ("SET", "a", "1"),
        ("SET", "a", "2"),
        ("RPUSH", "l", "1"),
        ("RPUSH", "l", "1"),
        ("HSET", "h", "f", "v"),
        ("SADD", "s", "m"),
        ("ZADD", "z", "1", "m"),
        ("ZADD", "nz", "XX", "1", "m"),
        ("INCR", "i"),
        ("APPEND", "ap", "x"),
        ("SETRANGE", "sr", "1", "x"),
        ("RENAME", "a", "b"),
        ("SET", "c", "1"),
        ("RENAME", "b", "c"),
        ("COPY", "c", "d"),
        ("COPY", "c", "d", "REPLACE"),
        ("LMOVE", "l", "l2", "LEFT", "LEFT"),
        ("SMOVE", "s", "s2", "m"),
        ("SUNIONSTORE", "su", "s2"),
        ("MSET", "m1", "1", "m2", "2"),
        ("PFADD", "hl", "a"),
    )
    pair2.config("Kn")
    pair2.run(("SET", "only-new", "1"), ("SET", "only-new", "2"))
    pair2.config("En")
    pair2.run(("SET", "only-new2", "1"))


@pytest.mark.parametrize("flags", ["Kl", "Ex", "K$", "Eg", "Eg$", "KElsh", "Kz", "KEA", "A", "g$"])
def test_class_filtering(pair2: Pair, flags: str) -> None:
    pair2.config(flags)
    got = pair2.run(
        ("SET", "a", "1", "PX", "100000"),
        ("APPEND", "a", "2"),
        ("DEL", "a"),
        ("RPUSH", "l", "1"),
        ("LPOP", "l"),
        ("HSET", "h", "f", "v"),
        ("SADD", "s", "m"),
        ("ZADD", "z", "1", "m"),
        ("EXPIRE", "z", "0"),
        ("SET", "x", "1", "PX", "1"),
    )
    time.sleep(0.01)
    got += pair2.run(("GET", "x"))  # expired on access: the x class
    if "K" not in flags and "E" not in flags:
        assert got == []


def test_expired_on_access(pair: Pair) -> None:
    pair.run(("SET", "a", "1", "PX", "20"), ("RPUSH", "l", "1"), ("PEXPIRE", "l", "20"))
    time.sleep(0.05)
    # Either server's active cycle may have taken a key first: the events, in any order
    pair.run(("GET", "a"), ("LPUSH", "l", "2"), ("EXISTS", "a", "l"), any_order=True)


def test_expired_by_active_expiry(pair: Pair) -> None:
    pair.config("Ex")
    pair.run(("SET", "act", "1", "PX", "50"))
    for side in (pair.redis, pair.pulsar):
        side.sub.sock.settimeout(2.5)
        item = _normalise(side.sub.read())  # nobody touches the key: the cycle expires it
        assert item == [b"pmessage", b"__key*__:*", b"__keyevent@11__:expired", b"act"]
        side.sub.sock.settimeout(10)
    pair.same_events()


def test_off_by_default_and_when_cleared(pair2: Pair) -> None:
    pair2.config("")
    assert pair2.run(("SET", "a", "1"), ("DEL", "a")) == []
    pair2.config("A")  # classes but neither K nor E: nothing
    assert pair2.run(("SET", "a", "1"), ("DEL", "a")) == []


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(COMMANDS, min_size=1, max_size=25))
def test_random_sequences_publish_the_same_events(
    pair: Pair, sequence: list[tuple[str, ...]]
) -> None:
    for side in (pair.redis, pair.pulsar):
        side.cmd.call("FLUSHDB")
    pair.run(*sequence)


def test_streams(pair: Pair) -> None:
    pair.run(
        ("XADD", "st", "1-1", "f", "v"),
        ("XADD", "st", "2-1", "f", "v"),
        ("XADD", "st", "MAXLEN", "1", "3-1", "f", "v"),
        ("XADD", "nost", "NOMKSTREAM", "1-1", "f", "v"),
        ("XADD", "st", "4-1", "f", "v"),
        ("XTRIM", "st", "MAXLEN", "1"),
        ("XTRIM", "st", "MAXLEN", "1"),
        ("XADD", "st", "5-1", "f", "v"),
        ("XDEL", "st", "5-1", "9-9"),
        ("XDEL", "st", "9-9"),
        ("XSETID", "st", "10-1"),
        ("XGROUP", "CREATE", "st", "g", "0"),
        ("XGROUP", "CREATE", "new", "g", "$", "MKSTREAM"),
        ("XGROUP", "SETID", "st", "g", "0"),
        ("XGROUP", "CREATECONSUMER", "st", "g", "c1"),
        ("XGROUP", "CREATECONSUMER", "st", "g", "c1"),
        ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "st", ">"),
        ("XGROUP", "DELCONSUMER", "st", "g", "c1"),
        ("XGROUP", "DESTROY", "st", "g"),
        ("XGROUP", "DESTROY", "st", "g"),
    )
