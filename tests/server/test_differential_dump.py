"""DUMP/RESTORE/MIGRATE on redis-server and PulsarDS side by side: the same errors, and
round trips compared through the restored values (the DUMP bytes themselves may differ)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from store.server.keyspace import now_ms
from store.server.rdb import crc64, with_footer

from .conftest import Differential

# (commands that build key "k", the command that reads a key back, with {key})
BUILT: list[tuple[list[tuple[Any, ...]], tuple[Any, ...]]] = [
    ([("SET", "k", "x" * 50)], ("GET", "{key}")),
    ([("SET", "k", "-123456")], ("GET", "{key}")),
    ([("RPUSH", "k", *range(600))], ("LRANGE", "{key}", 0, -1)),
    ([("SADD", "k", *range(-5, 5))], ("SMISMEMBER", "{key}", *range(-6, 6))),
    ([("SADD", "k", *[f"s{i}" for i in range(600)])], ("SCARD", "{key}")),
    ([("HSET", "k", "a", "1", "b", "x" * 70)], ("HMGET", "{key}", "a", "b", "c")),  # unordered
    ([("HSET", "k", "a", "1", "b", "x" * 60)], ("HGETALL", "{key}")),  # a listpack: ordered
    ([("HSET", "k", *[f"f{i % 700}" for i in range(1400)])], ("HLEN", "{key}")),
    ([("ZADD", "k", "1.5", "a", "-inf", "b", "3", "c")], ("ZRANGE", "{key}", 0, -1, "WITHSCORES")),
    ([("ZADD", "k", *[x for i in range(300) for x in (i * 0.5, f"m{i}")])], ("ZCARD", "{key}")),
    (
        [
            *[("XADD", "k", f"{i}-0", "a", i) for i in range(1, 150)],
            ("XDEL", "k", "3-0", "120-0"),
            ("XGROUP", "CREATE", "k", "g", "0"),
            ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "4", "STREAMS", "k", ">"),
            ("XGROUP", "CREATECONSUMER", "k", "g", "bob"),
        ],
        ("XINFO", "STREAM", "{key}", "FULL"),
    ),
]


def _read(command: tuple[Any, ...], key: str) -> tuple[Any, ...]:
    return tuple(key if part == "{key}" else part for part in command)


@pytest.mark.parametrize("built", BUILT, ids=lambda b: str(b[0][0][0]).lower())
def test_dump_round_trips(same: Differential, built: Any) -> None:
    commands, read = built
    for command in commands:
        same(*command)
    # each server restores redis-server's payload, then PulsarDS's
    from_redis = same.redis.call("DUMP", "k")
    from_pulsar = same.pulsar.call("DUMP", "k")
    assert same("RESTORE", "r", "0", from_redis) == b"OK"
    assert same("RESTORE", "p", "0", from_pulsar) == b"OK"
    # the keys built on each server may differ in times (seen-time...): each restored
    # value is compared with the key its payload came from
    assert same(*_read(read, "r")) == same.redis.call(*_read(read, "k"))
    assert same(*_read(read, "p")) == same.pulsar.call(*_read(read, "k"))
    same("OBJECT", "ENCODING", "r")
    same("OBJECT", "ENCODING", "p")
    same("TYPE", "p")


def test_restore_options(same: Differential) -> None:
    same("SET", "k", "v")
    payload = same.redis.call("DUMP", "k")
    same("RESTORE", "k", "0", payload)  # BUSYKEY
    same("RESTORE", "k", "100000", payload, "REPLACE")
    same("TTL", "k")
    same("RESTORE", "gone", str(now_ms() - 10), payload, "ABSTTL")
    same("EXISTS", "gone")
    same("RESTORE", "k", "1", payload, "REPLACE", "ABSTTL")
    same("EXISTS", "k")
    same("RESTORE", "idle", "0", payload, "IDLETIME", "0", "REPLACE")
    same("RESTORE", "idle", "0", payload, "replace", "absttl", "idletime", "5")
    same("GET", "idle")
    same("RESTORE", "f", "0", payload, "FREQ", "0")
    same("RESTORE", "huge", "9223372036854775807", payload)  # the deadline overflows
    same("EXISTS", "huge")
    same("RESTORE", "far", "9223372036854775807", payload, "ABSTTL")
    same("TTL", "far")
    # an idle time beyond Redis's 24-bit clock: half its range
    same("RESTORE", "old", "0", payload, "IDLETIME", "100000000")
    same("OBJECT", "IDLETIME", "old")
    same("RESTORE", "x", "0", payload, "IDLETIME", "1", "FREQ", "1")
    same("RESTORE", "x", "0", payload, "IDLETIME", "1", "IDLETIME", "2")
    same("EXISTS", "x")


def test_restore_errors(same: Differential) -> None:
    same("SET", "k", "v")
    payload = same.redis.call("DUMP", "k")
    flipped = bytearray(payload)
    flipped[1] ^= 1
    newer = payload[:-10] + (11).to_bytes(2, "little")
    older = payload[:-10] + (9).to_bytes(2, "little")
    for case in (
        bytes(flipped),
        payload[:-1],
        payload[:9],
        b"",
        newer + crc64(newer).to_bytes(8, "little"),
        payload[:-8] + b"\x00" * 8,
        with_footer(b""),
        with_footer(b"\x08"),
        with_footer(b"\x07\x01"),
        with_footer(b"\x01\x00"),  # an empty list
        with_footer(b"\x04\x00"),  # an empty hash
        with_footer(b"\x12\x00"),  # a quicklist of no nodes
        with_footer(b"\x12\x01\x03\x01a"),  # a bad container
        with_footer(b"\x00\xc3\x03\x09\x00ab"),  # LZF that does not decompress
        with_footer(b"\x00\xc4"),  # no such string encoding
        with_footer(b"\x02\x02\x01a\x01a"),  # a set member twice
        with_footer(b"\x00\x3fabc"),  # a string longer than the payload
    ):
        same("RESTORE", "n", "0", case)
    same("EXISTS", "n")
    same("RESTORE", "older", "0", older + crc64(older).to_bytes(8, "little"))
    same("GET", "older")
    # as Redis's, the reader sees the footer too: a value may run into it
    same("RESTORE", "into", "0", with_footer(b"\x00\x05ab"))
    same("GET", "into")
    same("RESTORE", "n", "-5", payload)
    same("RESTORE", "n", "1.5", payload)
    same("RESTORE", "n", "0", payload, "IDLETIME", "x")
    same("RESTORE", "n", "0", payload, "IDLETIME", "-1")
    same("RESTORE", "n", "0", payload, "FREQ", "-1")
    same("RESTORE", "n", "0", payload, "FREQ", "256")
    same("RESTORE", "n", "0", payload, "FREQ")
    same("RESTORE", "n", "0", payload, "NOPE")
    same("RESTORE", "k", "-1", b"junk")  # BUSYKEY is checked first
    same("RESTORE", "n")
    same("RESTORE-ASKING", "n", "0", payload)
    same("GET", "n")
    same("DUMP", "k", "extra")
    same("DUMP", "missing")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the backlog does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_migrate_errors(same: Differential, silent_port: int) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        closed = int(holder.getsockname()[1])
    same("SET", "k", "v")
    same("MIGRATE", "127.0.0.1", closed, "missing", "0", "100")  # NOKEY before connecting
    same("MIGRATE", "127.0.0.1", closed, "", "0", "100", "KEYS", "missing", "other")
    same("MIGRATE", "127.0.0.1", closed, "k", "0", "100")
    same("MIGRATE", "127.0.0.1", "notaport", "k", "0", "100")
    same("MIGRATE", "127.0.0.1", silent_port, "k", "0", "100")
    same("MIGRATE", "127.0.0.1", silent_port, "k", "0", "100", "AUTH", "pw")
    same("EXISTS", "k")
    same("MIGRATE", "127.0.0.1", closed, "k", "0", "100", "BOGUS")
    same("MIGRATE", "127.0.0.1", closed, "k", "0", "100", "AUTH")
    same("MIGRATE", "127.0.0.1", closed, "k", "0", "100", "AUTH2", "user")
    same("MIGRATE", "127.0.0.1", closed, "k", "0", "100", "KEYS", "k")
    same("MIGRATE", "127.0.0.1", closed, "k", "0", "soon")
    same("MIGRATE", "127.0.0.1", closed, "k", "db", "100")
    same("MIGRATE", "127.0.0.1", closed, "k", "0")
    same("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "1", "AUTH", "keys", "KEYS", "a", "b")
    same("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "key", "0", "1", "COPY")
    same("COMMAND", "GETKEYS", "RESTORE", "key", "0", "payload")


def test_migrate_between_the_two(same: Differential) -> None:
    """Each server migrates to the other one (database 13 there)."""
    redis_port = same.redis.sock.getpeername()[1]
    pulsar_port = same.pulsar.sock.getpeername()[1]
    for client in (same.redis, same.pulsar):
        client.call("SELECT", "13")
        client.call("FLUSHDB")
        client.call("SELECT", "11")
    try:
        same("RPUSH", "l", "a", "b")
        same("SET", "s", "v")
        for name, target in (("redis", pulsar_port), ("pulsar", redis_port)):
            client = getattr(same, name)
            reply = client.call("MIGRATE", "127.0.0.1", target, "", "13", "5000", "KEYS", "l", "s")
            assert reply == b"OK", (name, reply)
        same("EXISTS", "l", "s")
        same("SELECT", "13")
        same("LRANGE", "l", 0, -1)
        same("GET", "s")
        same("SELECT", "11")
        same("SET", "s", "again")
        for name, target in (("redis", pulsar_port), ("pulsar", redis_port)):
            client = getattr(same, name)
            reply = client.call("MIGRATE", "127.0.0.1", target, "s", "13", "5000")
            assert str(reply) == (
                "ERR Target instance replied with error: BUSYKEY Target key name already exists."
            ), (name, reply)
        same("GET", "s")
    finally:
        for client in (same.redis, same.pulsar):
            client.call("SELECT", "13")
            client.call("FLUSHDB")
            client.call("SELECT", "11")


# -- the older encodings redis-server 7.0 still loads -------------------------------------------


def _ziplist(items: list[bytes | int]) -> bytes:
    """A ziplist of short strings and small integers, as Redis before 7.0 wrote them."""
    entries: list[bytes] = []
    previous = 0
    for item in items:
        if isinstance(item, int):
            body = (
                bytes((0xF1 + item,))
                if 0 <= item <= 12
                else b"\xfe" + item.to_bytes(1, "little", signed=True)
            )
        else:
            body = bytes((len(item),)) + item
        entry = bytes((previous,)) + body
        entries.append(entry)
        previous = len(entry)
    tail = 10 + sum(map(len, entries[:-1]))
    total = 10 + sum(map(len, entries)) + 1
    return (
        total.to_bytes(4, "little")
        + tail.to_bytes(4, "little")
        + len(entries).to_bytes(2, "little")
        + b"".join(entries)
        + b"\xff"
    )


def _zipmap(pairs: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        bytes((len(key),)) + key + bytes((len(value), 0)) + value for key, value in pairs
    )
    return bytes((len(pairs),)) + body + b"\xff"


def _string(data: bytes) -> bytes:
    assert len(data) < 64
    return bytes((len(data),)) + data


OLD_PAYLOADS = {
    "list": (b"\x01\x03" + _string(b"a") + _string(b"bb") + b"\xc0\x07", ("LRANGE", "k", 0, -1)),
    "zset-text-scores": (
        b"\x03\x03"
        + _string(b"a")
        + b"\x031.5"
        + _string(b"b")
        + b"\xfe"
        + _string(b"c")
        + b"\x04-2e3",
        ("ZRANGE", "k", 0, -1, "WITHSCORES"),
    ),
    "list-ziplist": (b"\x0a" + _string(_ziplist([b"x", 3, -100, b"yz"])), ("LRANGE", "k", 0, -1)),
    "quicklist-of-ziplists": (
        b"\x0e\x02" + _string(_ziplist([b"a", 1])) + _string(_ziplist([b"b", 12])),
        ("LRANGE", "k", 0, -1),
    ),
    "plain-quicklist-node": (
        b"\x12\x02\x01"
        + _string(b"plain")
        + b"\x02"
        + _string(b"\x0b\x00\x00\x00\x01\x00\x81z\x02\xff"),
        ("LRANGE", "k", 0, -1),
    ),
    "hash-ziplist": (
        b"\x0d" + _string(_ziplist([b"f", b"v", b"n", 5])),
        ("HGETALL", "k"),
    ),
    "zset-ziplist": (
        b"\x0c" + _string(_ziplist([b"n", 1, b"m", b"2.5"])),
        ("ZRANGE", "k", 0, -1, "WITHSCORES"),
    ),
    "hash-zipmap": (b"\x09" + _string(_zipmap([(b"a", b"1"), (b"bc", b"xyz")])), ("HGETALL", "k")),
    "empty-ziplist-list": (b"\x0a" + _string(_ziplist([])), ("LRANGE", "k", 0, -1)),
}


@pytest.mark.parametrize("name", list(OLD_PAYLOADS))
def test_older_encodings(same: Differential, name: str) -> None:
    body, read = OLD_PAYLOADS[name]
    same("RESTORE", "k", "0", with_footer(body))
    same(*read)
    same("OBJECT", "ENCODING", "k")


def _stream_v1(payload: bytes) -> bytes:
    """A 7.0 stream payload (RDB_TYPE_STREAM_LISTPACKS_2) rewritten as the 6.2 type 15:
    no first ID, max deleted ID, entries added nor group entries-read."""
    from store.server.rdb import Reader

    reader = Reader(payload)
    assert reader.byte() == 19
    for _ in range(reader.length()):
        reader.string()
        reader.string()
    for _ in range(3):
        reader.length()  # length, last ID
    cut = reader.pos
    for _ in range(5):
        reader.length()
    parts = [b"\x0f", payload[1:cut]]
    start = reader.pos
    groups = reader.length()
    for _ in range(groups):
        reader.string()
        reader.length()
        reader.length()
        parts.append(payload[start : reader.pos])
        reader.length()  # entries read
        start = reader.pos
        for _ in range(reader.length()):
            reader.take(16 + 8)
            reader.length()
        for _ in range(reader.length()):
            reader.string()
            reader.take(8)
            for _ in range(reader.length()):
                reader.take(16)
    parts.append(payload[start : reader.pos])
    return with_footer(b"".join(parts))


def test_stream_of_redis_6_2(same: Differential) -> None:
    for i in range(1, 30):
        same.redis.call("XADD", "k", f"{i}-0", "a", i)
    same.redis.call("XDEL", "k", "5-0")
    same.redis.call("XGROUP", "CREATE", "k", "g", "3-0")
    same.redis.call("XGROUP", "CREATE", "k", "h", "0")
    same.redis.call("XGROUP", "CREATE", "k", "i", "$")
    same.redis.call("XREADGROUP", "GROUP", "h", "c", "COUNT", "2", "STREAMS", "k", ">")
    old = _stream_v1(same.redis.call("DUMP", "k"))
    assert same("RESTORE", "old", "0", old) == b"OK"
    same("XINFO", "STREAM", "old", "FULL")
    same("XINFO", "GROUPS", "old")
