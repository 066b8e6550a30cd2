"""DUMP/RESTORE/MIGRATE against redis-server 7.0: a value DUMPed by redis-server RESTOREs
into PulsarDS equal, PulsarDS's DUMP of it RESTOREs back into redis-server equal, for every
type and the encodings Redis picks by size; TTL, IDLETIME and FREQ; the append-only log and
snapshots; MIGRATE both ways; the RDB pieces themselves."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.errors import ResponseError
from store.server import ServerThread
from store.server.keyspace import now_ms
from store.server.rdb import Reader, crc64, lzf_compress, lzf_decompress, rdb_string, with_footer
from store.server.rdb_values import dump_value
from store.sync import create_store

from .conftest import RawClient

DB = "12"  # redis-server is shared by the session: this file's own database


@pytest.fixture
def redis(redis_server: Any) -> Iterator[RawClient]:
    client = RawClient(redis_server.port)
    client.call("SELECT", DB)
    client.call("FLUSHDB")
    yield client
    client.call("FLUSHDB")
    client.close()


@pytest.fixture
def mine(pulsar: ServerThread) -> Iterator[RawClient]:
    client = RawClient(pulsar.port)
    client.call("SELECT", DB)
    yield client
    client.close()


def value_of(client: RawClient, key: str) -> Any:
    """The value at ``key`` in a form that compares across servers."""
    kind = client.call("TYPE", key)
    if kind == b"string":
        return kind, client.call("GET", key)
    if kind == b"list":
        return kind, client.call("LRANGE", key, 0, -1)
    if kind == b"set":
        return kind, sorted(client.call("SMEMBERS", key))
    if kind == b"hash":
        flat = client.call("HGETALL", key)
        return kind, sorted(zip(flat[0::2], flat[1::2], strict=True))
    if kind == b"zset":
        return kind, client.call("ZRANGE", key, 0, -1, "WITHSCORES")
    if kind == b"stream":
        info = client.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")
        return kind, info
    return kind, None


def round_trip(redis: RawClient, mine: RawClient, key: str) -> None:
    """redis-server's DUMP -> PulsarDS -> PulsarDS's DUMP -> redis-server, all equal."""
    original = value_of(redis, key)
    assert original[1] is not None
    payload = redis.call("DUMP", key)
    assert mine.call("RESTORE", key, "0", payload) == b"OK"
    assert value_of(mine, key) == original
    assert mine.call("OBJECT", "ENCODING", key) == redis.call("OBJECT", "ENCODING", key)
    back = mine.call("DUMP", key)
    assert redis.call("RESTORE", f"{key}:back", "0", back) == b"OK"
    assert value_of(redis, f"{key}:back") == original
    assert redis.call("OBJECT", "ENCODING", f"{key}:back") == redis.call("OBJECT", "ENCODING", key)


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _fill(redis: RawClient, *commands: tuple[Any, ...]) -> None:
    for command in commands:
        reply = redis.call(*command)
        assert not isinstance(reply, ResponseError), (command, reply)


VALUES: dict[str, Callable[[RawClient], None]] = {
    "string": lambda r: _fill(r, ("SET", "k", "hello")),
    "empty-string": lambda r: _fill(r, ("SET", "k", "")),
    "int8": lambda r: _fill(r, ("SET", "k", "-100")),
    "int16": lambda r: _fill(r, ("SET", "k", "30000")),
    "int32": lambda r: _fill(r, ("SET", "k", "-2000000000")),
    "int64": lambda r: _fill(r, ("SET", "k", "9223372036854775807")),
    "not-an-int": lambda r: _fill(r, ("SET", "k", "007")),
    "long-compressible": lambda r: _fill(r, ("SET", "k", "abcdefgh" * 2000)),
    "long-random": lambda r: _fill(r, ("SET", "k", _noise(5000, 1))),
    "binary": lambda r: _fill(r, ("SET", "k", bytes(range(256)) * 3)),
    "list-small": lambda r: _fill(r, ("RPUSH", "k", "a", "1", "-5", "x" * 100)),
    "list-1000": lambda r: _fill(r, ("RPUSH", "k", *[f"item:{i}" for i in range(1000)])),
    "list-ints": lambda r: _fill(r, ("RPUSH", "k", *[str(i * 7919 - 10**6) for i in range(3000)])),
    "list-big-element": lambda r: _fill(r, ("RPUSH", "k", "a", _noise(20000, 2), "b")),
    "intset": lambda r: _fill(r, ("SADD", "k", "1", "2", "-3", "100")),
    "intset-wide": lambda r: _fill(r, ("SADD", "k", "1", str(2**40), str(-(2**62)))),
    "intset-512": lambda r: _fill(r, ("SADD", "k", *[str(i) for i in range(512)])),
    "set-1000-ints": lambda r: _fill(r, ("SADD", "k", *[str(i) for i in range(1000)])),
    "set-strings": lambda r: _fill(r, ("SADD", "k", "a", "b", "c", "1")),
    "set-1000": lambda r: _fill(r, ("SADD", "k", *[f"m{i}" for i in range(1000)])),
    "hash-small": lambda r: _fill(r, ("HSET", "k", "a", "1", "b", "two", "", "empty")),
    "hash-long-value": lambda r: _fill(r, ("HSET", "k", "a", "1", "b", "v" * 65)),
    "hash-1000": lambda r: _fill(
        r, ("HSET", "k", *[x for i in range(1000) for x in (f"f{i}", str(i))])
    ),
    "zset-small": lambda r: _fill(
        r, ("ZADD", "k", "1", "a", "2.5", "b", "-inf", "c", "inf", "d", "0", "e", "-3", "f")
    ),
    "zset-fractions": lambda r: _fill(
        r, ("ZADD", "k", "0.1", "a", "1e300", "b", "-1.5e-300", "c", "123456789012345678", "d")
    ),
    "zset-long-member": lambda r: _fill(r, ("ZADD", "k", "1", "a", "2", "m" * 65)),
    "zset-1000": lambda r: _fill(
        r, ("ZADD", "k", *[x for i in range(1000) for x in (str(i / 7), f"m{i}")])
    ),
    "stream": lambda r: _fill(r, ("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "2-5", "f", "w")),
    "stream-groups": lambda r: _fill(
        r,
        *[("XADD", "k", f"{i}-1", "field", str(i), "other", "x" * i) for i in range(1, 40)],
        ("XADD", "k", "50-0", "different", "fields"),
        ("XGROUP", "CREATE", "k", "g1", "0"),
        ("XGROUP", "CREATE", "k", "g2", "$"),
        ("XGROUP", "CREATE", "k", "g3", "10-1", "ENTRIESREAD", "3"),
        ("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "k", ">"),
        ("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "k", ">"),
        ("XGROUP", "CREATECONSUMER", "k", "g1", "carol"),
        ("XACK", "k", "g1", "2-1"),
        ("XCLAIM", "k", "g1", "bob", "0", "3-1", "RETRYCOUNT", "7"),
        ("XDEL", "k", "4-1", "20-1"),
    ),
    "stream-nodes": lambda r: _fill(
        r,
        *[("XADD", "k", f"{i}-{i % 3}", "n", str(i)) for i in range(1, 260)],
        ("XDEL", "k", *[f"{i}-{i % 3}" for i in range(1, 101)]),  # the whole first node
        ("XDEL", "k", "150-0", "151-1"),
        ("XGROUP", "CREATE", "k", "g", "0", "ENTRIESREAD", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "50", "STREAMS", "k", ">"),
    ),
    "stream-empty": lambda r: _fill(
        r,
        ("XADD", "k", "5-5", "a", "b"),
        ("XDEL", "k", "5-5"),
        ("XGROUP", "CREATE", "k", "g", "$"),
    ),
    "stream-trimmed": lambda r: _fill(
        r,
        *[("XADD", "k", "MAXLEN", "30", "*", "i", str(i)) for i in range(300)],
        ("XSETID", "k", "99999999999999-0", "ENTRIESADDED", "400", "MAXDELETEDID", "1-1"),
    ),
}


@pytest.mark.parametrize("kind", list(VALUES))
def test_round_trip_of_every_type(redis: RawClient, mine: RawClient, kind: str) -> None:
    VALUES[kind](redis)
    round_trip(redis, mine, "k")


def test_payload_bytes_match_redis_for_plain_values(redis: RawClient, mine: RawClient) -> None:
    """Where PulsarDS keeps what Redis keeps, its DUMP is Redis's byte for byte."""
    cases: list[tuple[Any, ...]] = [
        ("SET", "k1", "hello"),
        ("SET", "k2", "12345"),
        ("SET", "k3", "abc" * 300),
        ("SET", "k4", _noise(300, 3)),
        ("SET", "k4b", _noise(100_000, 4)),  # too random to try LZF on (rdb._incompressible)
        ("SET", "k4c", b"".join(b"line %d of text\n" % i for i in range(8000))),
        ("RPUSH", "k5", *[f"e{i}" for i in range(500)]),
        ("SADD", "k6", "5", "-70000", "3"),
        ("HSET", "k7", "a", "1", "b", "2"),
        ("ZADD", "k8", "1", "a", "2.5", "b", "3", "c"),
    ]
    for command in cases:
        redis.call(*command)
        mine.call(*command)
        key = command[1]
        assert mine.call("DUMP", key) == redis.call("DUMP", key), command


def test_dump_of_a_missing_key_is_nil(mine: RawClient) -> None:
    assert mine.call("DUMP", "nothing") is None


def test_restore_ttl_and_absttl(redis: RawClient, mine: RawClient) -> None:
    redis.call("SET", "k", "v")
    payload = redis.call("DUMP", "k")
    assert mine.call("RESTORE", "a", "100000", payload) == b"OK"
    assert 99000 < mine.call("PTTL", "a") <= 100000
    deadline = now_ms() + 50000
    assert mine.call("RESTORE", "b", str(deadline), payload, "ABSTTL") == b"OK"
    assert mine.call("PEXPIRETIME", "b") == deadline
    # a deadline already past creates nothing (and says OK)
    assert mine.call("RESTORE", "c", str(now_ms() - 1000), payload, "ABSTTL") == b"OK"
    assert mine.call("EXISTS", "c") == 0
    # ... and with REPLACE deletes what was there
    mine.call("SET", "d", "old")
    assert mine.call("RESTORE", "d", "1", payload, "ABSTTL", "REPLACE") == b"OK"
    assert mine.call("EXISTS", "d") == 0
    # ttl 0: no deadline; REPLACE takes the new value and drops the old deadline
    mine.call("SET", "e", "old", "EX", "100")
    assert mine.call("RESTORE", "e", "0", payload, "REPLACE") == b"OK"
    assert mine.call("GET", "e") == b"v"
    assert mine.call("TTL", "e") == -1


def test_restore_idletime_and_freq(redis: RawClient, mine: RawClient) -> None:
    redis.call("SET", "k", "v")
    payload = redis.call("DUMP", "k")
    for client in (redis, mine):
        assert client.call("RESTORE", "idle", "0", payload, "IDLETIME", "1000") == b"OK"
        assert 1000 <= client.call("OBJECT", "IDLETIME", "idle") <= 1002
        # FREQ under an LRU policy: accepted, not kept
        assert client.call("RESTORE", "f", "0", payload, "FREQ", "100") == b"OK"
        assert client.call("OBJECT", "IDLETIME", "f") <= 2
    policy = redis.call("CONFIG", "GET", "maxmemory-policy")[1]
    try:
        for client in (redis, mine):
            client.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
            assert client.call("RESTORE", "freq", "0", payload, "FREQ", "100") == b"OK"
            assert client.call("OBJECT", "FREQ", "freq") == 100
            assert client.call("RESTORE", "freq2", "0", payload, "IDLETIME", "100") == b"OK"
            assert client.call("OBJECT", "FREQ", "freq2") == 5  # LFU_INIT_VAL
    finally:
        redis.call("CONFIG", "SET", "maxmemory-policy", policy)
        mine.call("CONFIG", "SET", "maxmemory-policy", policy)


def test_restore_errors_on_both(redis: RawClient, mine: RawClient) -> None:
    redis.call("SET", "k", "v")
    mine.call("SET", "k", "v")
    payload = redis.call("DUMP", "k")
    flipped = bytearray(payload)
    flipped[2] ^= 0x40
    newer = payload[:-10] + (11).to_bytes(2, "little")
    newer += crc64(newer).to_bytes(8, "little")
    cases: list[tuple[Any, ...]] = [
        ("RESTORE", "k", "0", payload),
        ("RESTORE", "n", "0", bytes(flipped)),
        ("RESTORE", "n", "0", payload[:-1]),
        ("RESTORE", "n", "0", payload[:5]),
        ("RESTORE", "n", "0", newer),
        ("RESTORE", "n", "0", with_footer(b"\x08\x00")),  # no such type
        ("RESTORE", "n", "0", with_footer(b"\x06\x00")),  # a module value
        ("RESTORE", "n", "0", with_footer(b"\x02\x00")),  # an empty set
        ("RESTORE", "n", "0", with_footer(b"\x12\x01\x02\x02\xff")),  # bad listpack
        ("RESTORE", "n", "0", with_footer(b"\x00\x3fab")),  # runs past the end
        ("RESTORE", "n", "-1", payload),
        ("RESTORE", "n", "x", payload),
        ("RESTORE", "n", "0", payload, "IDLETIME", "-1"),
        ("RESTORE", "n", "0", payload, "FREQ", "256"),
        ("RESTORE", "n", "0", payload, "FREQ", "1", "IDLETIME", "1"),
        ("RESTORE", "n", "0", payload, "IDLETIME"),
        ("RESTORE", "n", "0", payload, "BOGUS"),
        ("RESTORE", "n", "0"),
        ("DUMP",),
    ]
    for command in cases:
        expected = redis.call(*command)
        got = mine.call(*command)
        assert isinstance(expected, ResponseError), command
        assert str(got) == str(expected), command


def test_restored_values_keep_in_aof_and_snapshot(tmp_path: Path, redis: RawClient) -> None:
    redis.call("RPUSH", "l", *[str(i) for i in range(100)])
    redis.call("XADD", "s", "1-1", "a", "b")
    redis.call("XGROUP", "CREATE", "s", "g", "0")
    redis.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    payloads = {key: redis.call("DUMP", key) for key in ("l", "s")}
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as first:
        client = RawClient(first.port)
        assert client.call("RESTORE", "l", "500000", payloads["l"]) == b"OK"
        assert client.call("RESTORE", "s", "0", payloads["s"]) == b"OK"
        client.call("SET", "gone", "x")
        assert client.call("RESTORE", "gone", "1", payloads["l"], "ABSTTL", "REPLACE") == b"OK"
        deadline = client.call("PEXPIRETIME", "l")
        expected = {key: value_of(client, key) for key in ("l", "s")}
        client.close()
    logged = (tmp_path / "pulsards.aof").read_bytes()
    assert b"ABSTTL" in logged and b"500000\r\n" not in logged  # the deadline, made absolute
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as second:
        client = RawClient(second.port)
        assert {key: value_of(client, key) for key in ("l", "s")} == expected
        assert client.call("PEXPIRETIME", "l") == deadline
        assert client.call("EXISTS", "gone") == 0
        assert client.call("SAVE") == b"OK"
        client.close()
    with ServerThread(port=0, dir=str(tmp_path), save=[]) as third:  # from the snapshot
        client = RawClient(third.port)
        assert {key: value_of(client, key) for key in ("l", "s")} == expected
        client.close()


def test_through_the_client(pulsar: ServerThread, redis: RawClient) -> None:
    redis.call("HSET", "h", "a", "1")
    payload = redis.call("DUMP", "h")
    store = create_store(f"redis://127.0.0.1:{pulsar.port}/{DB}")
    try:
        client = store.client()
        assert client.restore("h", 0, payload) is True
        assert client.hgetall("h") == {b"a": b"1"}
        assert client.dump("h") == payload
        with pytest.raises(ResponseError, match="BUSYKEY"):
            client.restore("h", 0, payload)
        assert client.restore("h", 10000, payload, replace=True, idletime=5) is True
        assert 0 < client.pttl("h") <= 10000
        assert client.dump("missing") is None
        redis_port = redis.sock.getpeername()[1]
        client.hset("h", "b", "2")
        assert client.migrate("127.0.0.1", redis_port, "h", int(DB), 5000, True, True) == b"OK"
        assert redis.call("HGETALL", "h") == [b"a", b"1", b"b", b"2"]
        assert client.exists("h") == 1  # COPY
        assert client.migrate("127.0.0.1", redis_port, ["nothing"], int(DB), 5000) == b"NOKEY"
    finally:
        store.close()


# -- MIGRATE ---------------------------------------------------------------------------------


def test_migrate_pulsar_to_redis_and_back(redis: RawClient, mine: RawClient, pulsar: Any) -> None:
    redis_port = redis.sock.getpeername()[1]
    VALUES["stream-groups"](mine)
    mine.call("RPUSH", "l", "a", "b")
    mine.call("SET", "s", "v", "PX", "500000")
    expected = {key: value_of(mine, key) for key in ("k", "l", "s")}
    reply = mine.call("MIGRATE", "127.0.0.1", redis_port, "k", DB, "5000")
    assert reply == b"OK"
    assert mine.call("EXISTS", "k") == 0
    assert value_of(redis, "k") == expected["k"]
    reply = mine.call("MIGRATE", "127.0.0.1", redis_port, "", DB, "5000", "COPY", "KEYS", "l", "s")
    assert reply == b"OK"
    assert mine.call("EXISTS", "l", "s") == 2
    assert value_of(redis, "l") == expected["l"]
    assert 400000 < redis.call("PTTL", "s") <= 500000
    # the target has them now: BUSYKEY, reported as the target's error
    reply = mine.call("MIGRATE", "127.0.0.1", redis_port, "l", DB, "5000")
    assert str(reply) == (
        "ERR Target instance replied with error: BUSYKEY Target key name already exists."
    )
    assert mine.call("EXISTS", "l") == 1
    mine.call("RPUSH", "l", "c")
    assert mine.call("MIGRATE", "127.0.0.1", redis_port, "l", DB, "5000", "REPLACE") == b"OK"
    assert redis.call("LRANGE", "l", 0, -1) == [b"a", b"b", b"c"]
    assert mine.call("MIGRATE", "127.0.0.1", redis_port, "nothing", DB, "5000") == b"NOKEY"
    # and back: redis-server migrates to PulsarDS
    reply = redis.call("MIGRATE", "127.0.0.1", pulsar.port, "", DB, "5000", "KEYS", "k", "l")
    assert reply == b"OK"
    assert value_of(mine, "k") == expected["k"]
    assert mine.call("LRANGE", "l", 0, -1) == [b"a", b"b", b"c"]
    assert redis.call("EXISTS", "k", "l") == 0


def test_migrate_with_auth(redis: RawClient, mine: RawClient, tmp_path: Path) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[], requirepass="sekret") as target:
        mine.call("SET", "a", "1")
        mine.call("SET", "b", "2")
        reply = mine.call("MIGRATE", "127.0.0.1", target.port, "a", "0", "5000", "AUTH", "wrong")
        assert str(reply).startswith("ERR Target instance replied with error: WRONGPASS")
        assert mine.call("EXISTS", "a") == 1
        reply = mine.call("MIGRATE", "127.0.0.1", target.port, "a", "0", "5000", "AUTH", "sekret")
        assert reply == b"OK"
        reply = mine.call(
            "MIGRATE", "127.0.0.1", target.port, "b", "0", "5000", "AUTH2", "default", "sekret"
        )
        assert reply == b"OK"
        check = RawClient(target.port)
        check.call("AUTH", "sekret")
        assert check.call("MGET", "a", "b") == [b"1", b"2"]
        check.close()


def test_migrate_is_logged_as_del(tmp_path: Path, redis: RawClient) -> None:
    redis_port = redis.sock.getpeername()[1]
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as server:
        client = RawClient(server.port)
        client.call("SET", "a", "1")
        client.call("SET", "b", "2")
        reply = client.call("MIGRATE", "127.0.0.1", redis_port, "", DB, "5000", "KEYS", "a", "b")
        assert reply == b"OK"
        client.call("SET", "c", "3")
        reply = client.call("MIGRATE", "127.0.0.1", redis_port, "c", DB, "5000", "COPY")
        assert reply == b"OK"
        client.close()
    logged = (tmp_path / "pulsards.aof").read_bytes()
    assert b"MIGRATE" not in logged
    assert b"*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n" in logged
    assert redis.call("MGET", "a", "b", "c") == [b"1", b"2", b"3"]


# -- the RDB pieces ----------------------------------------------------------------------------


def test_crc64_check_value() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # crc64.c's own test vector


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300) | st.text("ab", max_size=300).map(str.encode))
def test_lzf_round_trip(data: bytes) -> None:
    packed = lzf_compress(data, len(data) + 64) if len(data) > 2 else None
    if packed is not None:
        assert lzf_decompress(packed, len(data)) == data
    encoded = rdb_string(data)
    assert encoded[:1] != b"\xc3" or len(data) > 20
    reader = Reader(encoded)
    assert reader.string() == data and reader.pos == len(encoded)


_member = st.binary(max_size=70)
_values = st.one_of(
    st.binary(max_size=100).map(lambda b: ("string", b)),
    st.lists(_member, min_size=1, max_size=40).map(lambda m: ("list", m)),
    st.sets(
        _member | st.integers(-(2**63), 2**63 - 1).map(lambda i: b"%d" % i), min_size=1, max_size=40
    ).map(lambda m: ("set", m)),
    st.dictionaries(_member, _member, min_size=1, max_size=40).map(lambda d: ("hash", d)),
    st.dictionaries(_member, st.floats(allow_nan=False, width=64), min_size=1, max_size=40).map(
        lambda d: ("zset", d)
    ),
)


@pytest.fixture(scope="module")
def module_servers(
    redis_server: Any, tmp_path_factory: Any
) -> Iterator[tuple[RawClient, RawClient]]:
    with ServerThread(port=0, dir=str(tmp_path_factory.mktemp("dump")), save=[]) as server:
        redis = RawClient(redis_server.port)
        redis.call("SELECT", DB)
        mine = RawClient(server.port)
        mine.call("SELECT", DB)
        yield redis, mine
        redis.call("FLUSHDB")
        redis.close()
        mine.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_values)
def test_generated_values_round_trip(
    module_servers: tuple[RawClient, RawClient], value: tuple[str, Any]
) -> None:
    redis, mine = module_servers
    redis.call("DEL", "k", "k:back")
    mine.call("DEL", "k")
    kind, data = value
    if kind == "string":
        redis.call("SET", "k", data)
    elif kind == "list":
        redis.call("RPUSH", "k", *data)
    elif kind == "set":
        redis.call("SADD", "k", *data)
    elif kind == "hash":
        redis.call("HSET", "k", *[x for pair in data.items() for x in pair])
    else:
        redis.call("ZADD", "k", *[x for m, s in data.items() for x in (repr(s), m)])
    round_trip(redis, mine, "k")


def test_dump_value_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        dump_value(object())


def test_compressed_list_nodes_from_redis(redis: RawClient, mine: RawClient) -> None:
    """list-compress-depth makes redis-server DUMP inner nodes as LZF blobs."""
    depth = redis.call("CONFIG", "GET", "list-compress-depth")[1]
    try:
        redis.call("CONFIG", "SET", "list-compress-depth", "1")
        redis.call("RPUSH", "k", *[f"element number {i}" for i in range(3000)])
        round_trip(redis, mine, "k")
    finally:
        redis.call("CONFIG", "SET", "list-compress-depth", depth)


def test_restore_notifications(redis: RawClient, mine: RawClient) -> None:
    redis.call("SET", "src", "v")
    payload = redis.call("DUMP", "src")
    events = {}
    for name, client in (("redis", redis), ("mine", mine)):
        flags = client.call("CONFIG", "GET", "notify-keyspace-events")[1]
        port = client.sock.getpeername()[1]
        listener = RawClient(port)
        listener.call("PSUBSCRIBE", f"__keyevent@{DB}__:*")
        try:
            client.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
            client.call("RESTORE", "k", "0", payload)
            client.call("RESTORE", "k", "0", payload, "REPLACE")
            client.call("RESTORE", "k", "1", payload, "REPLACE", "ABSTTL")
            client.call("RESTORE", "k", "1", payload, "ABSTTL")
            client.call("SET", "end", "x")
            seen = []
            while True:
                message = listener.read()
                seen.append((message[2], message[3]))
                if message[3] == b"end":
                    break
            events[name] = seen
        finally:
            client.call("CONFIG", "SET", "notify-keyspace-events", flags)
            listener.close()
    assert events["mine"] == events["redis"]
    assert (f"__keyevent@{DB}__:restore".encode(), b"k") in events["redis"]


def test_migrate_passwords_are_redacted(redis: RawClient, mine: RawClient) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        closed = holder.getsockname()[1]
    logged = {}
    for name, client in (("redis", redis), ("mine", mine)):
        threshold = client.call("CONFIG", "GET", "slowlog-log-slower-than")[1]
        try:
            client.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
            client.call("SET", "k", "v")
            client.call("SLOWLOG", "RESET")
            for auth in (("AUTH", "sekret1"), ("AUTH2", "user", "sekret2")):
                reply = client.call("MIGRATE", "127.0.0.1", closed, "k", "0", "50", *auth)
                assert str(reply).startswith("IOERR"), reply
            entries = client.call("SLOWLOG", "GET", "10")
        finally:
            client.call("CONFIG", "SET", "slowlog-log-slower-than", threshold)
        logged[name] = [entry[3] for entry in entries if entry[3][0] == b"MIGRATE"]
    assert logged["mine"] == logged["redis"]
    assert len(logged["redis"]) == 2
    assert all(b"sekret" not in arg for args in logged["mine"] for arg in args)
    assert logged["mine"][0][-2:] == [b"(redacted)", b"(redacted)"]


def test_corrupt_bodies_are_refused_cleanly(redis: RawClient, mine: RawClient) -> None:
    """Damaged payloads with a right checksum (only PulsarDS gets them: redis-server without
    sanitize-dump-payload may crash on some) load or answer "Bad data format"."""
    VALUES["stream-groups"](redis)
    redis.call("RPUSH", "l", *range(300))
    redis.call("HSET", "h", "a", "1", "b", "2")
    redis.call("ZADD", "z", "1", "a", "2", "b")
    redis.call("SADD", "s", "1", "2", "x")
    bodies = [redis.call("DUMP", key)[:-10] for key in ("k", "l", "h", "z", "s")]
    rnd = random.Random(5)
    for attempt in range(300):
        body = bytearray(rnd.choice(bodies))
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(body))
            if rnd.random() < 0.7:
                body[at] = rnd.randrange(256)
            else:
                del body[at : at + rnd.randint(1, 8)]
        reply = mine.call("RESTORE", f"c{attempt}", "0", with_footer(bytes(body)))
        assert reply == b"OK" or str(reply) == "ERR Bad data format", reply
    assert mine.call("PING") == b"PONG"


@pytest.mark.parametrize(
    "tail",
    [
        [],
        ["COPY"],
        ["REPLACE", "AUTH", "keys"],
        ["AUTH2", "keys", "keys", "KEYS", "a", "b"],
        ["KEYS", "a", "b", "c"],
    ],
)
def test_migrate_key_finder_matches_getkeys(redis: RawClient, tail: list[str]) -> None:
    from store.server.commands import COMMANDS

    args = ["MIGRATE", "host", "1", "" if "KEYS" in tail else "key", "0", "10", *tail]
    expected = redis.call("COMMAND", "GETKEYS", *args)
    found = COMMANDS[b"migrate"].keys([arg.encode() for arg in args])
    if isinstance(expected, ResponseError):
        assert found == []
    else:
        assert found == expected


class _HalfTarget:
    """A target that takes the request, answers SELECT and the first RESTORE with OK, then
    hangs up: MIGRATE fails after one key was taken."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(0.3)
                try:
                    while conn.recv(65536):
                        pass
                except TimeoutError:
                    pass  # the whole request has arrived
                conn.sendall(b"+OK\r\n+OK\r\n")
                conn.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


def test_migrate_cut_short_deletes_what_was_taken(
    redis: RawClient, mine: RawClient, tmp_path: Path
) -> None:
    target = _HalfTarget()
    try:
        replies = {}
        for name, client in (("redis", redis), ("mine", mine)):
            client.call("SET", "a", "1")
            client.call("SET", "b", "2")
            replies[name] = str(
                client.call("MIGRATE", "127.0.0.1", target.port, "", "0", "2000", "KEYS", "a", "b")
            )
            assert client.call("EXISTS", "a") == 0, name
            assert client.call("EXISTS", "b") == 1, name
        assert replies["mine"] == replies["redis"]
        assert replies["mine"] == "IOERR error or timeout reading to target instance"
        # and the key taken is logged as deleted, though the command failed
        with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as server:
            client = RawClient(server.port)
            client.call("SET", "a", "1")
            client.call("SET", "b", "2")
            reply = client.call(
                "MIGRATE", "127.0.0.1", target.port, "", "0", "2000", "KEYS", "a", "b"
            )
            assert str(reply).startswith("IOERR")
            client.close()
        logged = (tmp_path / "pulsards.aof").read_bytes()
        assert logged.endswith(b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n")
    finally:
        target.close()
