"""Hash commands, checked against redis-server (``same``) wherever the reply is
deterministic; random replies (HRANDFIELD) are checked by their properties."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.errors import ResponseError
from store.resp import NOT_ENOUGH, pack_command
from store.server import ServerThread

from .conftest import Differential, RawClient

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def call_with_bytes(client: RawClient, *args: Any) -> tuple[bytes, Any]:
    """The reply exactly as sent (to tell a RESP3 map or set from an array) and parsed."""
    client.sock.sendall(pack_command(*args))
    chunks: list[bytes] = []
    while True:
        reply = client.reader.gets()
        if reply is not NOT_ENOUGH:
            return b"".join(chunks), reply
        chunk = client.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        chunks.append(chunk)
        client.reader.feed(chunk)


def same_bytes(same: Differential, *args: Any) -> bytes:
    expected = call_with_bytes(same.redis, *args)[0]
    got = call_with_bytes(same.pulsar, *args)[0]
    assert got == expected, f"{args!r}: PulsarDS {got!r}, redis-server {expected!r}"
    return got


def test_set_and_get(same: Differential) -> None:
    assert same("HSET", "h", "a", "1", "b", "2") == 2
    assert same("HSET", "h", "a", "10", "c", "3") == 1
    assert same("HSET", "h", "d", "1", "d", "2") == 1  # one new field, last value wins
    assert same("HGET", "h", "d") == b"2"
    same("HGET", "h", "a")
    same("HGET", "h", "missing")
    same("HGET", "nokey", "a")
    same("HMGET", "h", "a", "missing", "b", "a")
    same("HMGET", "nokey", "a", "b")
    assert same("HLEN", "h") == 4
    same("HLEN", "nokey")
    same("HEXISTS", "h", "a")
    same("HEXISTS", "h", "zz")
    same("HEXISTS", "nokey", "a")
    same("HSET", "h", "empty", "", "bin", b"\x00\xff\r\n")
    same("HGET", "h", "empty")
    same("HGET", "h", "bin")
    same("HSTRLEN", "h", "a")
    same("HSTRLEN", "h", "bin")
    same("HSTRLEN", "h", "empty")
    same("HSTRLEN", "h", "missing")
    same("HSTRLEN", "nokey", "a")
    same("TYPE", "h")


def test_hmset_and_odd_pairs(same: Differential) -> None:
    assert same("HMSET", "h", "a", "1", "b", "2") == b"OK"
    same("HGETALL", "h")
    same("HSET", "h", "a")
    same("HSET", "h", "a", "1", "b")
    same("HMSET", "h", "a", "1", "b")
    same("HMSET", "h")
    same("HGETALL", "h")  # the refused commands changed nothing
    same("HSET", "new", "a", "1", "b")
    same("EXISTS", "new")


def test_hsetnx(same: Differential) -> None:
    assert same("HSETNX", "h", "a", "1") == 1
    assert same("HSETNX", "h", "a", "2") == 0
    same("HGET", "h", "a")
    same("HSETNX", "h", "b", "")
    same("HGETALL", "h")


def test_hdel_removes_fields_and_the_emptied_key(same: Differential) -> None:
    same("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert same("HDEL", "h", "a", "a", "zz") == 1
    same("HDEL", "nokey", "a")
    same("HGETALL", "h")
    assert same("HDEL", "h", "b", "c") == 2
    assert same("EXISTS", "h") == 0
    same("TYPE", "h")
    same("HLEN", "h")
    same("HGETALL", "h")


def test_whole_hash_replies_keep_insertion_order(same: Differential) -> None:
    same("HSET", "h", "z", "1", "y", "2", "x", "3", "w", "4")
    same("HSET", "h", "y", "20")  # an update keeps the field's place
    same("HDEL", "h", "x")
    same("HSET", "h", "x", "30")
    same_bytes(same, "HGETALL", "h")  # a map in RESP3, a flat array in RESP2
    same_bytes(same, "HKEYS", "h")  # an array in both
    same_bytes(same, "HVALS", "h")
    same_bytes(same, "HGETALL", "nokey")
    same_bytes(same, "HKEYS", "nokey")
    same_bytes(same, "HVALS", "nokey")


def test_wrong_type(same: Differential) -> None:
    same("SET", "s", "x")
    for args in (
        ("HSET", "s", "a", "1"),
        ("HMSET", "s", "a", "1"),
        ("HSETNX", "s", "a", "1"),
        ("HGET", "s", "a"),
        ("HMGET", "s", "a"),
        ("HDEL", "s", "a"),
        ("HEXISTS", "s", "a"),
        ("HGETALL", "s"),
        ("HKEYS", "s"),
        ("HVALS", "s"),
        ("HLEN", "s"),
        ("HSTRLEN", "s", "a"),
        ("HINCRBY", "s", "a", "1"),
        ("HINCRBYFLOAT", "s", "a", "1"),
        ("HSCAN", "s", "0"),
        ("HRANDFIELD", "s"),
        ("HRANDFIELD", "s", "2"),
        ("HRANDFIELD", "s", "2", "WITHVALUES"),
    ):
        assert same(*args) == ("error", WRONGTYPE)
    assert same("GET", "s") == b"x"


@pytest.mark.parametrize(
    "args",
    [
        ("HSET", "h", "a"),
        ("HMSET", "h", "a"),
        ("HSETNX", "h", "a"),
        ("HGET", "h"),
        ("HGET", "h", "a", "b"),
        ("HMGET", "h"),
        ("HDEL", "h"),
        ("HEXISTS", "h"),
        ("HGETALL", "h", "x"),
        ("HKEYS",),
        ("HVALS", "h", "x"),
        ("HLEN",),
        ("HSTRLEN", "h"),
        ("HINCRBY", "h", "a"),
        ("HINCRBYFLOAT", "h", "a", "1", "2"),
        ("HSCAN", "h"),
        ("HRANDFIELD",),
    ],
)
def test_arity(same: Differential, args: tuple[str, ...]) -> None:
    reply = same(*args)
    assert reply[0] == "error" and "wrong number of arguments" in reply[1]


def test_hincrby(same: Differential) -> None:
    assert same("HINCRBY", "h", "n", "5") == 5
    assert same("HINCRBY", "h", "n", "-7") == -2
    same("HGET", "h", "n")
    same("HINCRBY", "h", "n", "0")
    same("HSET", "h", "max", "9223372036854775807", "min", "-9223372036854775808")
    same("HINCRBY", "h", "max", "1")
    same("HINCRBY", "h", "max", "-1")
    same("HINCRBY", "h", "min", "-1")
    same("HINCRBY", "h", "min", "9223372036854775807")
    same("HINCRBY", "h", "n", "9223372036854775808")
    same("HINCRBY", "h", "n", "1.5")
    same("HINCRBY", "h", "n", "x")
    same("HINCRBY", "h", "n", " 1")
    for value in ("abc", "1.0", "01", "-0", " 1", "1 ", "", "99999999999999999999", "5\x00"):
        same("HSET", "h", "bad", value)
        assert same("HINCRBY", "h", "bad", "1") == ("error", "ERR hash value is not an integer")
    same("HGETALL", "h")
    # The increment is read before the key: a bad one is reported first.
    same("SET", "s", "x")
    same("HINCRBY", "s", "a", "x")
    same("HINCRBY", "nokey", "a", "x")
    same("EXISTS", "nokey")


@pytest.mark.parametrize(
    ("start", "increments"),
    [
        (None, ["10.5", "0.1"]),
        ("10.1", ["0.1"]),
        ("0.1", ["0.2", "0.3", "-0.6"]),
        ("1", ["1e-17", "1e-17", "-2e-17"]),
        ("3", ["1.5e3", "-.5e1", "5.", "+1", "1E1", "0X1P1", "0x.8", "0x1.p1"]),
        ("5", ["0", "-5", "-0", "-1e-20", "1e-18", "5e-18", "1.5e-17", "2.5e-17"]),
        (None, ["0.000003814697265625"]),  # a tie at the 17th decimal: rounds to even
        (None, ["123456789012345678901234567890", "0.123456789012345678901"]),
        (None, ["99999999999999999.5"]),
        (None, ["1e17", "1.5e17"]),
        (None, ["1.7976931348623157e308", "-1e-17"]),
        (None, ["1e400", "-1e400"]),  # beyond a double, within a long double
        (None, ["1.18973149535723176502e+4932"]),
        (None, ["1.18973149535723176502e+4932", "1e4932"]),
        (None, ["0x1p-16445", "0x1.8p-16446", "1e-4940"]),
        (None, ["0e999999999999999999999"]),
        ("2.5", ["0"]),
        ("1e3", ["0"]),
        ("0x10", ["0"]),
        (" 1", ["1"]),
        ("1 ", ["1"]),
        ("abc", ["1"]),
        ("", ["1"]),
        ("2\x00", ["1"]),
        ("nan", ["1"]),
        ("inf", ["1"]),
        ("-inf", ["-1"]),
        ("1e5000", ["1"]),
    ],
)
def test_hincrbyfloat(same: Differential, start: str | None, increments: list[str]) -> None:
    if start is not None:
        same("HSET", "h", "f", start)
    for increment in increments:
        same("HINCRBYFLOAT", "h", "f", increment)
        same("HGET", "h", "f")


@pytest.mark.parametrize(
    "increment",
    [
        "abc",
        "",
        " 1",
        "1 ",
        "1e",
        "1e+",
        ".",
        "e5",
        "0x",
        "0xg",
        "1..2",
        "infin",
        "nan",
        "-nan",
        "inf",
        "-inf",
        "INFINITY",
        "1e5000",
        "1e-5000",
        "1e-4951",
        "0x1p16384",
        "0x1p-16446",
        "1\x00",
        "1\x00x",
        "1_000",
        "1e999999999999999999999",
        "1e-999999999999999999999",
        "1" + "0" * 5200,
    ],
)
def test_hincrbyfloat_refused_increments(same: Differential, increment: str) -> None:
    same("HSET", "h", "f", "1")
    same("HINCRBYFLOAT", "h", "f", increment)
    same("HINCRBYFLOAT", "h", "new", increment)
    same("HGETALL", "h")


def test_hincrbyfloat_errors_come_in_redis_order(same: Differential) -> None:
    same("SET", "s", "x")
    same("HINCRBYFLOAT", "s", "f", "abc")
    same("HINCRBYFLOAT", "s", "f", "inf")
    same("HINCRBYFLOAT", "s", "f", "1")
    same("HINCRBYFLOAT", "nokey", "f", "abc")
    same("EXISTS", "nokey")


def test_hscan_small_hash_answers_whole(same: Differential) -> None:
    fields = [x for i in range(20) for x in (f"field:{i}", str(i))]
    same("HSET", "h", *fields)
    same("HSCAN", "h", "0")
    same("HSCAN", "h", "0", "COUNT", "1")
    same("HSCAN", "h", "12345")  # a small hash ignores the cursor
    same("HSCAN", "h", "0", "MATCH", "field:1*")
    same("HSCAN", "h", "0", "match", "field:1?", "count", "3")
    same("HSCAN", "h", "0", "MATCH", "nothing")
    same("HSCAN", "h", "0", "MATCH", "field:[2-4]", "MATCH", "*")
    same("HSCAN", "nokey", "0")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "-1",
        "+5",
        "5\x00x",
        "18446744073709551615",
        "-18446744073709551615",
        "00000000000000000000000001",
    ],
)
def test_hscan_cursor_is_read_like_strtoul(same: Differential, cursor: str) -> None:
    same("HSET", "h", "a", "1")
    same("HSCAN", "h", cursor)


@pytest.mark.parametrize(
    "args",
    [
        ("x",),
        ("-",),
        (" 5",),
        ("0x1",),
        ("1.5",),
        ("18446744073709551616",),
        ("-18446744073709551616",),
        ("99999999999999999999999",),
        ("0", "COUNT"),
        ("0", "COUNT", "0"),
        ("0", "COUNT", "-1"),
        ("0", "COUNT", "x"),
        ("0", "MATCH"),
        ("0", "TYPE", "string"),
        ("0", "NOVALUES"),
        ("0", "COUNT", "1", "MATCH"),
    ],
)
def test_hscan_errors(same: Differential, args: tuple[str, ...]) -> None:
    same("HSET", "h", "a", "1")
    same("HSCAN", "h", *args)
    # A missing key answers an empty scan after reading the cursor, before the options.
    same("HSCAN", "nokey", *args)


def test_hscan_large_hash_pages_through_every_field(raw: Callable[..., RawClient]) -> None:
    client = raw()
    expected = {b"f%d" % i: b"v%d" % i for i in range(1000)}
    args: list[Any] = ["HSET", "big"]
    for name, value in expected.items():
        args += [name, value]
    assert client.call(*args) == 1000
    seen: dict[bytes, bytes] = {}
    cursor = b"0"
    calls = 0
    while True:
        cursor, page = client.call("HSCAN", "big", cursor, "COUNT", "50")
        calls += 1
        assert len(page) % 2 == 0 and len(page) <= 100
        for index in range(0, len(page), 2):
            seen[page[index]] = page[index + 1]
        if cursor == b"0":
            break
        if calls == 10:  # changes during the scan: removed ones are not returned
            client.call("HDEL", "big", "f999", "f998")
            client.call("HSET", "big", "f0", "changed")
    assert calls >= 20
    # Every field present for the whole scan is returned, with a current value.
    assert set(expected) - {b"f999", b"f998"} <= set(seen)
    assert seen[b"f0"] in (b"v0", b"changed")
    # Matching filters a page, it does not change the walk.
    matched: list[bytes] = []
    cursor = b"0"
    while True:
        cursor, page = client.call("HSCAN", "big", cursor, "MATCH", "f1?", "COUNT", "100")
        matched += page[::2]
        if cursor == b"0":
            break
    assert sorted(matched) == sorted(b"f1%d" % i for i in range(10))


def test_hrandfield_deterministic_cases(same: Differential) -> None:
    same("HRANDFIELD", "nokey")
    same_bytes(same, "HRANDFIELD", "nokey", "3")
    same_bytes(same, "HRANDFIELD", "nokey", "-3", "WITHVALUES")
    same("HSET", "h", "a", "1", "b", "2", "c", "3")
    same_bytes(same, "HRANDFIELD", "h", "0")
    same_bytes(same, "HRANDFIELD", "h", "0", "WITHVALUES")
    # A count of at least the size gives the whole hash in its order (a small hash).
    same_bytes(same, "HRANDFIELD", "h", "3")
    same_bytes(same, "HRANDFIELD", "h", "100", "withvalues")
    same("HSET", "one", "only", "x")
    same_bytes(same, "HRANDFIELD", "one", "-3", "WITHVALUES")
    same_bytes(same, "HRANDFIELD", "one", "1", "WITHVALUES")
    same_bytes(same, "HRANDFIELD", "one")


@pytest.mark.parametrize(
    "args",
    [
        ("x",),
        ("1.5",),
        ("-9223372036854775808",),
        ("9223372036854775808",),
        ("1", "WITHSCORES"),
        ("1", "WITHVALUES", "x"),
        ("x", "WITHVALUES"),
        ("4611686018427387904", "WITHVALUES"),
        ("-4611686018427387904", "WITHVALUES"),
    ],
)
def test_hrandfield_errors(same: Differential, args: tuple[str, ...]) -> None:
    same("HSET", "h", "a", "1")
    same("HRANDFIELD", "h", *args)
    same("HRANDFIELD", "nokey", *args)  # the count is read before the key


def test_hrandfield_random_picks(raw: Callable[..., RawClient]) -> None:
    for protocol in (2, 3):
        client = raw(protocol=protocol)
        client.call("DEL", "h")
        fields = {b"f%d" % i: b"v%d" % i for i in range(10)}
        client.call("HSET", "h", *[x for pair in fields.items() for x in pair])
        assert client.call("HRANDFIELD", "h") in fields
        picked = client.call("HRANDFIELD", "h", "5")
        assert len(picked) == 5 == len(set(picked)) and set(picked) <= set(fields)
        repeated = client.call("HRANDFIELD", "h", "-30")
        assert len(repeated) == 30 and set(repeated) <= set(fields)
        pairs = client.call("HRANDFIELD", "h", "-30", "WITHVALUES")
        if protocol == 3:
            assert len(pairs) == 30
            assert all(len(pair) == 2 and fields[pair[0]] == pair[1] for pair in pairs)
        else:
            assert len(pairs) == 60
            assert all(fields[pairs[i]] == pairs[i + 1] for i in range(0, 60, 2))
        distinct = client.call("HRANDFIELD", "h", "4", "WITHVALUES")
        names = [pair[0] for pair in distinct] if protocol == 3 else distinct[::2]
        assert len(names) == 4 == len(set(names))
        # Many calls reach every field: the picks are not stuck on a few.
        reached: set[bytes] = set()
        for _ in range(200):
            reached.update(client.call("HRANDFIELD", "h", "-5"))
        assert reached == set(fields)


def test_replies_are_copies_inside_exec(raw: Callable[..., RawClient]) -> None:
    client = raw()
    client.call("HSET", "h", "a", "1")
    client.call("MULTI")
    client.call("HGETALL", "h")
    client.call("HKEYS", "h")
    client.call("HSET", "h", "b", "2")
    assert client.call("EXEC") == [[b"a", b"1"], [b"a"], 1]


def test_hincrbyfloat_and_hset_survive_an_aof_restart(tmp_path: Path) -> None:
    settings: dict[str, Any] = {
        "port": 0,
        "dir": str(tmp_path),
        "save": [],
        "appendonly": True,
        "appendfsync": "always",
    }
    with ServerThread(**settings) as first:
        client = RawClient(first.port)
        client.call("HSET", "h", "a", "1", "b", "2")
        for increment in ("0.1", "0.2", "1e-17", "-3"):
            client.call("HINCRBYFLOAT", "h", "f", increment)
        client.call("HINCRBY", "h", "n", "7")
        client.call("HDEL", "h", "b")
        client.call("HSET", "gone", "x", "1")
        client.call("HDEL", "gone", "x")
        before = client.call("HGETALL", "h")
        client.close()
    aof = (tmp_path / "pulsards.aof").read_bytes()
    assert b"HINCRBYFLOAT" not in aof.upper()  # logged as the HSET of its result
    with ServerThread(**settings) as second:
        client = RawClient(second.port)
        assert client.call("HGETALL", "h") == before
        assert client.call("EXISTS", "gone") == 0
        client.close()


def test_error_replies_are_response_errors(raw: Callable[..., RawClient]) -> None:
    client = raw()
    reply = client.call("HINCRBYFLOAT", "h", "f", "nan")
    assert isinstance(reply, ResponseError)
    assert str(reply) == "ERR value is not a valid float"
