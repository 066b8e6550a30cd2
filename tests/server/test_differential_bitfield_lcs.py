"""BITFIELD, BITFIELD_RO and LCS, differential: every option and error on redis-server
7.0 and PulsarDS (RESP2 and RESP3), random BITFIELD operation lists and random LCS
string pairs, comparing the replies and the strings left behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.server import ServerThread
from tests.server.conftest import Differential, RawClient
from tests.server.test_differential_notifications import Pair, _pair

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def test_bitfield_get_set_incrby(same: Differential) -> None:
    same("BITFIELD", "b")
    same("BITFIELD", "b", "GET", "u8", "0")
    assert same("EXISTS", "b") == 0  # GET creates nothing
    same("BITFIELD", "b", "SET", "u8", "0", "255", "GET", "u8", "0")
    same("GET", "b")
    same("BITFIELD", "b", "SET", "i5", "3", "-7", "GET", "i5", "3", "GET", "u5", "3")
    same("BITFIELD", "b", "INCRBY", "u2", "100", "1", "GET", "u2", "100")
    same("GET", "b")
    same("BITFIELD", "b", "set", "i8", "#3", "-100", "get", "i8", "#3", "GET", "u8", "24")
    same("BITFIELD", "b", "SET", "i64", "0", str(I64_MIN), "GET", "i64", "0", "GET", "u63", "1")
    same("BITFIELD", "b", "SET", "u63", "#1", str(I64_MAX), "GET", "u63", "#1")
    same("BITFIELD", "b", "GET", "i64", "#100", "GET", "u1", "0", "GET", "i1", "0")
    same("BITFIELD", "b", "INCRBY", "i64", "0", str(I64_MAX), "INCRBY", "i1", "7", "1")
    same("GET", "b")
    same("BITFIELD", "b", "SET", "u8", "0", "-1", "SET", "i8", "0", "300", "GET", "i8", "0")
    same("SETRANGE", "b", "0", "hello")
    same("BITFIELD", "b", "GET", "i16", "#1", "GET", "u16", "5", "GET", "u9", "30")
    same("BITFIELD_RO", "b", "GET", "i16", "#1", "GET", "u16", "5", "GET", "i64", "30")
    same("BITFIELD_RO", "b")
    same("BITFIELD_RO", "nokey", "GET", "u8", "0")
    same("BITFIELD", "n", "SET", "u8", "#0", "0")  # a new key of zeros, unchanged value
    same("GET", "n")
    same("SET", "int", "12345")
    same("BITFIELD", "int", "GET", "u8", "0", "INCRBY", "u8", "0", "1")
    same("GET", "int")


@pytest.mark.parametrize("mode", ["WRAP", "SAT", "FAIL"])
def test_bitfield_overflow(same: Differential, mode: str) -> None:
    cases = [
        ("u8", "250", "10"),
        ("u8", "5", "-10"),
        ("u1", "1", "1"),
        ("u63", str(I64_MAX >> 1), "5"),
        ("u63", "3", str(I64_MIN)),
        ("i8", "120", "10"),
        ("i8", "-120", "-10"),
        ("i8", "-1", str(I64_MIN)),
        ("i8", "1", str(I64_MAX)),
        ("i1", "-1", "-1"),
        ("i64", str(I64_MAX), "1"),
        ("i64", str(I64_MIN), "-1"),
        ("i64", "-1", str(I64_MIN)),
        ("i64", "1", str(I64_MAX)),
        ("i64", "0", str(I64_MIN)),
        ("i63", "-5", str(I64_MIN)),
    ]
    for kind, start, incr in cases:
        same("DEL", "o")
        same("BITFIELD", "o", "SET", kind, "3", start)
        same("BITFIELD", "o", "OVERFLOW", mode, "INCRBY", kind, "3", incr, "GET", kind, "3")
        same("GET", "o")
    for kind, value in [
        ("u8", "256"),
        ("u8", "-1"),
        ("u8", str(I64_MIN)),
        ("u63", "-1"),
        ("i8", "128"),
        ("i8", "-129"),
        ("i8", str(I64_MIN)),
        ("i8", str(I64_MAX)),
        ("i4", str(-(1 << 62))),
        ("i64", str(I64_MIN)),
    ]:
        same("BITFIELD", "s", "OVERFLOW", mode, "SET", kind, "0", value, "GET", kind, "0")
        same("GET", "s")
    # the mode applies to what follows it only, and may change within a command
    same(
        "BITFIELD", "m", "INCRBY", "u2", "0", "5", "OVERFLOW", mode, "INCRBY", "u2", "0", "5",
        "OVERFLOW", "wrap", "INCRBY", "u2", "0", "5", "overflow", mode.lower(),
        "INCRBY", "u2", "0", "5",
    )  # fmt: skip
    same("BITFIELD", "f", "OVERFLOW", mode, "SET", "u2", "#7", "9")  # a FAIL still grows
    same("GET", "f")


def test_bitfield_errors(same: Differential) -> None:
    same("BITFIELD")
    same("BITFIELD_RO")
    for kind in ["u64", "i65", "i0", "u0", "x8", "", "i", "u-1", "i08", "U8", "i 8", "#8"]:
        same("BITFIELD", "e", "GET", kind, "0")
        same("BITFIELD", "e", "SET", kind, "0", "1")
    for offset in ["-1", "x", "", "#", "#-1", "##1", "1.5", "4294967296", "#536870912",
                   str(I64_MAX), "#" + str(I64_MAX), "#" + str(1 << 61), "+1", " 1"]:  # fmt: skip
        same("BITFIELD", "e", "GET", "u8", offset)
        same("BITFIELD", "e", "GET", "i64", offset)
    same("BITFIELD", "e", "GET", "u8", "4294967287")  # the last byte within 512MB
    for value in ["x", "", "1.0", str(I64_MAX + 1), "-0", " 1"]:
        same("BITFIELD", "e", "SET", "u8", "0", value)
        same("BITFIELD", "e", "INCRBY", "u8", "0", value)
    same("BITFIELD", "e", "GET", "u8")
    same("BITFIELD", "e", "SET", "u8", "0")
    same("BITFIELD", "e", "INCRBY", "u8", "0")
    same("BITFIELD", "e", "OVERFLOW")
    same("BITFIELD", "e", "OVERFLOW", "saturate", "GET", "u8", "0")
    same("BITFIELD", "e", "NOPE", "u8", "0")
    same("BITFIELD", "e", "GET", "u8", "0", "SET", "u8", "0", "1", "GET", "u99", "0")
    same("BITFIELD", "e", "SET", "u8", "0", "1", "GET", "u8", "x")  # nothing ran
    same("EXISTS", "e")
    same("BITFIELD_RO", "e", "SET", "u8", "0", "1")
    same("BITFIELD_RO", "e", "INCRBY", "u8", "0", "1")
    same("BITFIELD_RO", "e", "OVERFLOW", "SAT", "GET", "u8", "0")
    same("BITFIELD_RO", "e", "OVERFLOW", "SAT")
    same("BITFIELD_RO", "e", "GET", "u8", "x")
    same("RPUSH", "list", "a")
    same("BITFIELD", "list", "GET", "u8", "0")
    same("BITFIELD", "list")
    same("BITFIELD", "list", "SET", "u8", "0", "1")
    same("BITFIELD", "list", "GET", "u64", "0")  # the parse errors come first
    same("BITFIELD_RO", "list", "GET", "u8", "0")
    same("BITFIELD_RO", "list", "SET", "u8", "0", "1")  # RO's error before WRONGTYPE
    same("EXISTS", "e")


def test_bitfield_keeps_ttl_and_works_in_multi(same: Differential) -> None:
    same("SET", "t", "abc", "EX", "1000")
    same("BITFIELD", "t", "SET", "u8", "#5", "1")
    assert same("TTL", "t") in (1000, 999)
    same("GET", "t")
    same("MULTI")
    same("BITFIELD", "t", "INCRBY", "u8", "0", "1", "GET", "u8", "0")
    same("BITFIELD_RO", "t", "GET", "u8", "0")
    same("EXEC")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request: pytest.FixtureRequest, redis_server: Any, pulsar: ServerThread) -> Iterator[Pair]:
    yield from _pair(redis_server, pulsar, request.param)


def test_bitfield_notifications(pair: Pair) -> None:
    pair.run(("BITFIELD", "k", "GET", "u8", "0"), ("BITFIELD_RO", "k", "GET", "u8", "0"))
    pair.run(("BITFIELD", "k", "SET", "u8", "0", "0", "SET", "u8", "8", "0"))  # created
    pair.run(("BITFIELD", "k", "SET", "u8", "0", "0"))  # no change: no event
    pair.run(("BITFIELD", "k", "SET", "u8", "0", "1", "INCRBY", "u8", "0", "1"))  # one event
    pair.run(("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300"))
    pair.run(("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "#5", "300"))  # grows
    pair.run(("BITFIELD", "k", "SET", "u8", "#9", "0"))  # grows, zero written: an event
    pair.run(("BITFIELD", "k", "SET", "u8", "x", "0"))
    pair.run(("BITFIELD", "new", "OVERFLOW", "FAIL", "SET", "u2", "0", "9"))  # created, none


TYPES = st.builds(
    lambda signed, bits: f"i{bits}" if signed else f"u{min(bits, 63)}",
    st.booleans(),
    st.sampled_from([1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64]),
)
OFFSETS = st.one_of(
    st.integers(0, 200).map(str), st.integers(0, 12).map(lambda n: f"#{n}"), st.just("-1")
)
NUMBERS = st.one_of(
    st.integers(-300, 300),
    st.integers(I64_MIN, I64_MAX),
    st.sampled_from([I64_MIN, I64_MAX, -1, 0, 1, 1 << 62, -(1 << 62)]),
).map(str)
OPS = st.one_of(
    st.tuples(st.just("GET"), TYPES, OFFSETS),
    st.tuples(st.sampled_from(["SET", "INCRBY"]), TYPES, OFFSETS, NUMBERS),
    st.tuples(st.just("OVERFLOW"), st.sampled_from(["WRAP", "SAT", "FAIL", "sat"])),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.one_of(st.none(), st.binary(max_size=20)),
    commands=st.lists(st.lists(OPS, max_size=8), min_size=1, max_size=4),
    ro=st.booleans(),
)
def test_random_bitfield(
    same: Differential, start: bytes | None, commands: list[list[Any]], ro: bool
) -> None:
    same("DEL", "r")
    if start is not None:
        same("SET", "r", start)
    for ops in commands:
        name = "BITFIELD_RO" if ro and all(op[0] != "SET" for op in ops) else "BITFIELD"
        same(name, "r", *[word for op in ops for word in op])
        same("GET", "r")


# -- LCS -----------------------------------------------------------------------------------


def test_lcs_options(same: Differential) -> None:
    same("MSET", "a", "ohmytext", "b", "mynewtext", "e", "")
    for key1, key2 in [("a", "b"), ("b", "a"), ("a", "a"), ("a", "e"), ("a", "none"), ("x", "y")]:
        same("LCS", key1, key2)
        same("LCS", key1, key2, "LEN")
        same("LCS", key1, key2, "IDX")
        same("LCS", key1, key2, "idx", "WITHMATCHLEN")
        for n in ["0", "1", "2", "4", "5", "-3", "100"]:
            same("LCS", key1, key2, "IDX", "MINMATCHLEN", n)
            same("LCS", key1, key2, "IDX", "MINMATCHLEN", n, "WITHMATCHLEN")
        same("LCS", key1, key2, "MINMATCHLEN", "2")  # accepted without IDX: the string
        same("LCS", key1, key2, "WITHMATCHLEN", "LEN")
        same("LCS", key1, key2, "LEN", "LEN")
    same("SET", "i", "1234")
    same("SET", "j", "0123")
    same("LCS", "i", "j", "IDX", "WITHMATCHLEN")
    same("SET", "bin", b"\x00\xff\x00ab\x00")
    same("SET", "bin2", b"a\x00\x00b\xff")
    same("LCS", "bin", "bin2", "IDX", "WITHMATCHLEN")
    same("LCS", "bin", "bin2")


def test_lcs_errors(same: Differential) -> None:
    same("SET", "a", "hello")
    same("SET", "b", "world")
    same("RPUSH", "l", "x")
    same("LCS")
    same("LCS", "a")
    same("LCS", "a", "b", "LEN", "IDX")
    same("LCS", "a", "b", "IDX", "LEN", "WITHMATCHLEN")
    same("LCS", "a", "b", "MINMATCHLEN")
    same("LCS", "a", "b", "MINMATCHLEN", "x")
    same("LCS", "a", "b", "MINMATCHLEN", "x", "LEN", "IDX")  # the first error wins
    same("LCS", "a", "b", "LEN", "IDX", "MINMATCHLEN", "x")
    same("LCS", "a", "b", "MINMATCHLEN", "1.5", "IDX")
    same("LCS", "a", "b", "NOPE")
    same("LCS", "a", "b", "IDX", "NOPE")
    same("LCS", "a", "l")
    same("LCS", "l", "a", "NOPE")  # the type is checked before the options
    same("LCS", "l", "missing")
    same("HSET", "h", "f", "v")
    same("LCS", "h", "l", "LEN", "IDX")


def test_lcs_memory_limit(same: Differential) -> None:
    # (len1+1)*(len2+1) 32-bit cells may not exceed proto-max-bulk-len
    for side in (same.redis, same.pulsar):
        assert side.call("CONFIG", "SET", "proto-max-bulk-len", "1048576") == b"OK"
    try:
        same("SET", "a", "x" * 511)
        same("SET", "b", "y" * 511)
        same("LCS", "a", "b", "LEN")  # 512*512*4 = 1MB: allowed
        same("APPEND", "b", "y")
        same("LCS", "a", "b", "LEN")
        same("LCS", "a", "b", "IDX")
        same("LCS", "b", "a")
    finally:
        for side in (same.redis, same.pulsar):
            side.call("CONFIG", "SET", "proto-max-bulk-len", "536870912")


def test_lcs_longer_strings(same: Differential) -> None:
    import random

    generator = random.Random(7)
    for size in (300, 1000):
        a = "".join(generator.choice("ACGT") for _ in range(size))
        b = "".join(generator.choice("ACGT") for _ in range(size + 37))
        same("MSET", "a", a, "b", b)
        same("LCS", "a", "b")
        same("LCS", "a", "b", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN")


STRINGS = st.text(alphabet="abc", max_size=60)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(a=STRINGS, b=STRINGS, min_len=st.integers(0, 4), with_len=st.booleans())
def test_random_lcs(same: Differential, a: str, b: str, min_len: int, with_len: bool) -> None:
    same("MSET", "a", a, "b", b)
    same("LCS", "a", "b")
    same("LCS", "b", "a", "LEN")
    extra = ["WITHMATCHLEN"] if with_len else []
    same("LCS", "a", "b", "IDX", "MINMATCHLEN", str(min_len), *extra)


def test_bitfield_and_watch(same: Differential, redis_server: Any, pulsar: ServerThread) -> None:
    """A BITFIELD of GETs only leaves a WATCH alone; one that writes breaks it."""
    others = [RawClient(port) for port in (redis_server.port, pulsar.port)]
    try:
        for other in others:
            other.call("SELECT", "11")
        same("SET", "w", "abc")
        for ops, name in [
            (("GET", "u8", "0", "OVERFLOW", "SAT", "GET", "i3", "#2"), "BITFIELD"),
            (("GET", "u8", "0"), "BITFIELD_RO"),
            (("SET", "u8", "0", "1"), "BITFIELD"),
        ]:
            same("WATCH", "w")
            for other in others:
                other.call(name, "w", *ops)
            same("MULTI")
            same("GET", "w")
            same("EXEC")
    finally:
        for other in others:
            other.close()
