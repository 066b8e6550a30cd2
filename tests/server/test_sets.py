"""Set commands, checked against redis-server. A set's order is Redis's hash-table order,
so whole-set replies are compared sorted (and their RESP3 type byte exactly); random
replies (SPOP, SRANDMEMBER) are checked by their properties."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.errors import ResponseError
from store.server import ServerThread

from .conftest import Differential, RawClient
from .test_hashes import call_with_bytes, same_bytes

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def _unordered(reply: Any) -> Any:
    if isinstance(reply, ResponseError):
        return ("error", str(reply))
    if isinstance(reply, list):
        return sorted(reply)
    return reply


def same_set(same: Differential, *args: Any) -> Any:
    """Compare a reply whose order is arbitrary: its header (``~n`` or ``*n``) exactly,
    its elements sorted."""
    expected_bytes, expected = call_with_bytes(same.redis, *args)
    got_bytes, got = call_with_bytes(same.pulsar, *args)
    header = expected_bytes.split(b"\r\n", 1)[0]
    assert got_bytes.split(b"\r\n", 1)[0] == header, f"{args!r}: {got_bytes!r} {expected_bytes!r}"
    assert _unordered(got) == _unordered(expected), f"{args!r}: {got!r} {expected!r}"
    return _unordered(got)


def test_add_remove_members(same: Differential) -> None:
    assert same("SADD", "s", "a", "b", "a", "c") == 3
    assert same("SADD", "s", "c", "d") == 1
    same_set(same, "SMEMBERS", "s")
    assert same("SCARD", "s") == 4
    same("SCARD", "nokey")
    same("SISMEMBER", "s", "a")
    same("SISMEMBER", "s", "zz")
    same("SISMEMBER", "nokey", "a")
    same("SMISMEMBER", "s", "a", "zz", "d", "a")
    same("SMISMEMBER", "nokey", "a", "b")
    assert same("SREM", "s", "a", "a", "zz") == 1
    same("SREM", "nokey", "a")
    same_set(same, "SMEMBERS", "s")
    same_set(same, "SMEMBERS", "nokey")
    same("SADD", "s", "", b"\x00\xff")
    same("SISMEMBER", "s", "")
    same_set(same, "SMEMBERS", "s")
    same("TYPE", "s")


def test_srem_of_the_last_member_deletes_the_key(same: Differential) -> None:
    same("SADD", "s", "a", "b")
    assert same("SREM", "s", "a", "b", "c") == 2
    assert same("EXISTS", "s") == 0
    same("TYPE", "s")
    same("SCARD", "s")


def test_integer_members_reply_sorted_like_an_intset(same: Differential) -> None:
    same("SADD", "s", "3", "-1", "20", "2", "-9223372036854775808", "9223372036854775807")
    same_set(same, "SMEMBERS", "s")
    same("SSCAN", "s", "0")  # Redis answers an intset whole, in order
    same("SSCAN", "s", "0", "MATCH", "2*")
    same("SRANDMEMBER", "s", "6")  # the whole set, in its stored order
    same("SRANDMEMBER", "s", "100")
    same("SADD", "big", *range(500, 0, -1))  # still an intset, past the 128 of a listpack
    same("SSCAN", "big", "0", "COUNT", "5")


def test_wrong_type(same: Differential) -> None:
    same("SET", "str", "x")
    same("SADD", "s", "a")
    for args in (
        ("SADD", "str", "a"),
        ("SREM", "str", "a"),
        ("SMEMBERS", "str"),
        ("SISMEMBER", "str", "a"),
        ("SMISMEMBER", "str", "a"),
        ("SCARD", "str"),
        ("SPOP", "str"),
        ("SPOP", "str", "1"),
        ("SRANDMEMBER", "str"),
        ("SRANDMEMBER", "str", "1"),
        ("SMOVE", "str", "s", "a"),
        ("SMOVE", "s", "str", "a"),
        ("SMOVE", "s", "str", "zz"),
        ("SINTER", "s", "str"),
        ("SINTER", "nokey", "str"),  # every key is checked, even after a missing one
        ("SUNION", "s", "str"),
        ("SDIFF", "s", "str"),
        ("SDIFF", "nokey", "str"),
        ("SINTERSTORE", "d", "nokey", "str"),
        ("SUNIONSTORE", "d", "s", "str"),
        ("SDIFFSTORE", "d", "s", "str"),
        ("SINTERCARD", "2", "nokey", "str"),
        ("SSCAN", "str", "0"),
    ):
        assert same(*args) == ("error", WRONGTYPE), args
    same("EXISTS", "d")
    same("GET", "str")


@pytest.mark.parametrize(
    "args",
    [
        ("SADD", "s"),
        ("SREM", "s"),
        ("SMEMBERS",),
        ("SMEMBERS", "s", "t"),
        ("SISMEMBER", "s"),
        ("SMISMEMBER", "s"),
        ("SCARD",),
        ("SPOP",),
        ("SRANDMEMBER",),
        ("SMOVE", "s", "t"),
        ("SINTER",),
        ("SUNION",),
        ("SDIFF",),
        ("SINTERSTORE", "d"),
        ("SUNIONSTORE", "d"),
        ("SDIFFSTORE", "d"),
        ("SINTERCARD", "1"),
        ("SSCAN", "s"),
    ],
)
def test_arity(same: Differential, args: tuple[str, ...]) -> None:
    reply = same(*args)
    assert reply[0] == "error" and "wrong number of arguments" in reply[1]


def _fill(same: Differential) -> None:
    same("SADD", "a", "1", "2", "3", "x", "y")
    same("SADD", "b", "2", "3", "4", "y", "z")
    same("SADD", "c", "3", "y", "q")


def test_algebra(same: Differential) -> None:
    _fill(same)
    for name in ("SINTER", "SUNION", "SDIFF"):
        same_set(same, name, "a")
        same_set(same, name, "a", "b")
        same_set(same, name, "a", "b", "c")
        same_set(same, name, "b", "a")
        same_set(same, name, "a", "a")
        same_set(same, name, "a", "nokey")
        same_set(same, name, "nokey", "a")
        same_set(same, name, "nokey")
        same_set(same, name, "nokey", "other")


def test_store_variants(same: Differential) -> None:
    _fill(same)
    for name in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        same("SET", "d", "old")
        same("EXPIRE", "d", "100")
        same(name, "d", "a", "b", "c")
        same_set(same, "SMEMBERS", "d")
        same("TYPE", "d")
        same("TTL", "d")  # the destination is replaced, its deadline dropped
        same(name, "d", "nokey")
        same("EXISTS", "d")  # an empty result deletes the destination
        same(name, "a2", "a")  # a copy, not the same set
        same("SADD", "a2", "new")
        same_set(same, "SMEMBERS", "a")
        same(name, "a2", "a2", "b")  # the destination may be a source
        same_set(same, "SMEMBERS", "a2")
        same("DEL", "a2")
    same("SINTERSTORE", "e", "a", "nokey")
    same("EXISTS", "e")
    same("SDIFFSTORE", "e", "a", "a")
    same("EXISTS", "e")
    same("SUNIONSTORE", "e", "nokey", "other")
    same("EXISTS", "e")


def test_sintercard(same: Differential) -> None:
    _fill(same)
    same("SINTERCARD", "1", "a")
    same("SINTERCARD", "2", "a", "b")
    same("SINTERCARD", "3", "a", "b", "c")
    same("SINTERCARD", "2", "a", "nokey")
    same("SINTERCARD", "1", "nokey")
    same("SINTERCARD", "2", "a", "b", "LIMIT", "0")
    same("SINTERCARD", "2", "a", "b", "LIMIT", "1")
    same("SINTERCARD", "2", "a", "b", "limit", "2")
    same("SINTERCARD", "2", "a", "b", "LIMIT", "100")
    same("SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "3")


@pytest.mark.parametrize(
    "args",
    [
        ("0", "a"),
        ("-1", "a"),
        ("x", "a"),
        ("2", "a"),
        ("9223372036854775807", "a"),
        ("99999999999999999999", "a"),
        ("1", "a", "LIMIT"),
        ("1", "a", "LIMIT", "-1"),
        ("1", "a", "LIMIT", "x"),
        ("1", "a", "FOO", "1"),
        ("1", "a", "b"),
        ("1", "str", "LIMIT", "x"),
    ],
)
def test_sintercard_errors(same: Differential, args: tuple[str, ...]) -> None:
    same("SADD", "a", "1")
    same("SET", "str", "x")
    same("SINTERCARD", *args)


def test_smove(same: Differential) -> None:
    same("SADD", "src", "a", "b")
    same("SADD", "dst", "c")
    assert same("SMOVE", "src", "dst", "a") == 1
    same_set(same, "SMEMBERS", "src")
    same_set(same, "SMEMBERS", "dst")
    same("SMOVE", "src", "dst", "zz")
    same("SMOVE", "src", "src", "b")  # the same set: only tells membership
    same("SMOVE", "src", "src", "zz")
    same("SADD", "dst", "b")
    assert same("SMOVE", "src", "dst", "b") == 1  # already in dst: still moved
    assert same("EXISTS", "src") == 0  # the emptied source is deleted
    same_set(same, "SMEMBERS", "dst")
    same("SMOVE", "dst", "fresh", "c")
    same_set(same, "SMEMBERS", "fresh")
    same("SET", "str", "x")
    same("SMOVE", "nokey", "str", "a")  # a missing source answers 0 before any type check
    same("SMOVE", "nokey", "nokey", "a")


def test_spop_and_srandmember_deterministic_cases(same: Differential) -> None:
    same("SPOP", "nokey")
    same_bytes(same, "SPOP", "nokey", "3")
    same_bytes(same, "SPOP", "nokey", "0")
    same("SRANDMEMBER", "nokey")
    same_bytes(same, "SRANDMEMBER", "nokey", "3")
    same_bytes(same, "SRANDMEMBER", "nokey", "-3")
    same("SADD", "s", "1", "2", "3")
    same_bytes(same, "SPOP", "s", "0")
    same_bytes(same, "SRANDMEMBER", "s", "0")
    same_set(same, "SRANDMEMBER", "s", "3")  # all of them: an array even in RESP3
    same_set(same, "SRANDMEMBER", "s", "10")
    same("SADD", "one", "x")
    same("SRANDMEMBER", "one")
    same_bytes(same, "SRANDMEMBER", "one", "-3")
    same_bytes(same, "SRANDMEMBER", "one", "1")
    same_bytes(same, "SPOP", "one", "1")  # a set in RESP3
    same("EXISTS", "one")
    same_set(same, "SPOP", "s", "5")  # more than there are: all of them, key deleted
    same("EXISTS", "s")
    same("SADD", "t", "x")
    same("SPOP", "t")
    same("EXISTS", "t")


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("SPOP", ("-1",)),
        ("SPOP", ("x",)),
        ("SPOP", ("1.5",)),
        ("SPOP", ("1", "2")),
        ("SPOP", ("9223372036854775808",)),
        ("SPOP", ("-9223372036854775808",)),
        ("SRANDMEMBER", ("x",)),
        ("SRANDMEMBER", ("1", "2")),
        ("SRANDMEMBER", ("x", "y")),
        ("SRANDMEMBER", ("-9223372036854775808",)),
        ("SRANDMEMBER", ("9223372036854775808",)),
    ],
)
def test_spop_srandmember_errors(same: Differential, command: str, args: tuple[str, ...]) -> None:
    same("SADD", "s", "a")
    same(command, "s", *args)
    same(command, "nokey", *args)
    same("SCARD", "s")


def test_spop_and_srandmember_random_picks(raw: Callable[..., RawClient]) -> None:
    client = raw()
    members = {b"m%d" % i for i in range(20)}
    client.call("SADD", "s", *members)
    assert client.call("SRANDMEMBER", "s") in members
    picked = client.call("SRANDMEMBER", "s", "7")
    assert len(picked) == 7 == len(set(picked)) and set(picked) <= members
    repeated = client.call("SRANDMEMBER", "s", "-50")
    assert len(repeated) == 50 and set(repeated) <= members
    reached: set[bytes] = set()
    for _ in range(200):
        reached.update(client.call("SRANDMEMBER", "s", "-5"))
    assert reached == members
    assert client.call("SCARD", "s") == 20
    one = client.call("SPOP", "s")
    assert one in members
    popped = client.call("SPOP", "s", "5")
    assert len(popped) == 5 == len(set(popped)) and one not in popped
    left = set(client.call("SMEMBERS", "s"))
    assert left | set(popped) | {one} == members and len(left) == 14
    assert not left & set(popped)


def test_sscan_small_set_answers_whole(same: Differential) -> None:
    same("SADD", "ints", *range(100))
    same("SSCAN", "ints", "0")
    same("SSCAN", "ints", "0", "COUNT", "1")
    same("SSCAN", "ints", "999")
    same("SSCAN", "ints", "0", "MATCH", "1*")
    same("SSCAN", "ints", "0", "MATCH", "*[05]", "COUNT", "2")
    same("SSCAN", "nokey", "0")
    same("SADD", "few", "a", "b", "c")  # fewer than COUNT: Redis's hash table answers whole
    scanned = same.pulsar.call("SSCAN", "few", "0")
    expected = same.redis.call("SSCAN", "few", "0")
    assert scanned[0] == expected[0] == b"0" and sorted(scanned[1]) == sorted(expected[1])


@pytest.mark.parametrize(
    "args",
    [
        ("x",),
        ("-",),
        (" 1",),
        ("18446744073709551616",),
        ("0", "COUNT", "0"),
        ("0", "COUNT"),
        ("0", "MATCH"),
        ("0", "TYPE", "set"),
        ("0", "FOO", "1"),
        ("-1",),
        ("",),
    ],
)
def test_sscan_arguments(same: Differential, args: tuple[str, ...]) -> None:
    same("SADD", "s", "1", "2")
    same("SSCAN", "s", *args)
    same("SSCAN", "nokey", *args)


def test_sscan_large_set_pages_through_every_member(raw: Callable[..., RawClient]) -> None:
    client = raw()
    members = {b"m%d" % i for i in range(1000)}
    client.call("SADD", "big", *members)
    seen: list[bytes] = []
    cursor = b"0"
    calls = 0
    while True:
        cursor, page = client.call("SSCAN", "big", cursor, "COUNT", "40")
        seen += page
        calls += 1
        if calls == 5:
            client.call("SREM", "big", "m1", "m2")
        if cursor == b"0":
            break
    assert calls >= 25
    assert members - {b"m1", b"m2"} <= set(seen)
    matched: list[bytes] = []
    while True:
        cursor, page = client.call("SSCAN", "big", cursor, "MATCH", "m99?")
        matched += page
        if cursor == b"0":
            break
    assert sorted(matched) == sorted(b"m99%d" % i for i in range(10))


def test_replies_are_copies_inside_exec(raw: Callable[..., RawClient]) -> None:
    client = raw()
    client.call("SADD", "s", "a")
    client.call("MULTI")
    client.call("SMEMBERS", "s")
    client.call("SADD", "s", "b")
    assert client.call("EXEC") == [[b"a"], 1]


def test_random_pops_replay_from_the_aof(tmp_path: Path) -> None:
    settings: dict[str, Any] = {
        "port": 0,
        "dir": str(tmp_path),
        "save": [],
        "appendonly": True,
        "appendfsync": "always",
    }
    with ServerThread(**settings) as first:
        client = RawClient(first.port)
        client.call("SADD", "s", *range(200))
        client.call("SPOP", "s")
        client.call("SPOP", "s", "50")
        client.call("SPOP", "s", "0")
        client.call("SPOP", "nokey")
        client.call("SPOP", "nokey", "3")
        client.call("SADD", "small", "a", "b")
        client.call("SPOP", "small", "10")
        client.call("SADD", "t", "x")
        client.call("SMOVE", "t", "u", "x")
        client.call("SADD", "a", "1", "2")
        client.call("SADD", "b", "2", "3")
        client.call("SINTERSTORE", "i", "a", "b")
        client.call("SUNIONSTORE", "un", "a", "b")
        client.call("SDIFFSTORE", "df", "a", "b")
        before = {key: sorted(client.call("SMEMBERS", key)) for key in ("s", "u", "i", "un", "df")}
        assert len(before["s"]) == 149
        client.close()
    aof = (tmp_path / "pulsards.aof").read_bytes()
    assert b"SPOP" not in aof.upper()  # logged as the SREM of what was popped
    with ServerThread(**settings) as second:
        client = RawClient(second.port)
        after = {key: sorted(client.call("SMEMBERS", key)) for key in before}
        assert after == before
        assert client.call("EXISTS", "small", "t") == 0
        client.close()
