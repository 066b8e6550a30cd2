"""Streams in PulsarDS against redis-server 7.0: every command and option, the errors, random
sequences, blocking reads woken from another connection, consumer groups at scale, and
persistence over a restart. Replies are compared under RESP2 and RESP3 (the ``same``
fixture); where a reply holds a time (idle times, delivery and seen times) its shape is
compared and the time masked."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.resp import pack_command
from store.server import ServerThread

from .conftest import Differential, RawClient, _normalise

TIME = "<time>"


def both(same: Differential, *args: Any) -> tuple[Any, Any]:
    return _normalise(same.redis.call(*args)), _normalise(same.pulsar.call(*args))


def check(same: Differential, *args: Any, mask: Callable[[Any], Any] | None = None) -> Any:
    expected, got = both(same, *args)
    if mask is not None:
        expected, got = mask(expected), mask(got)
    assert got == expected, f"{args!r}: PulsarDS {got!r}, redis-server {expected!r}"
    return got


def run(same: Differential, *commands: tuple[Any, ...]) -> None:
    for args in commands:
        check(same, *args)


def _mask_column(column: int) -> Callable[[Any], Any]:
    def mask(reply: Any) -> Any:
        if not isinstance(reply, list):
            return reply
        return [
            [*row[:column], TIME, *row[column + 1 :]] if isinstance(row, list) else row
            for row in reply
        ]

    return mask


def _pairs(reply: Any) -> dict[Any, Any]:
    """A map reply (a dict in RESP3, a flat array in RESP2) as a dict."""
    if isinstance(reply, dict):
        return dict(reply)
    return dict(zip(reply[0::2], reply[1::2], strict=True))


def _mask_keys(*names: bytes) -> Callable[[Any], Any]:
    """Mask the values of ``names`` in maps, at any depth."""

    def mask(reply: Any) -> Any:
        if isinstance(reply, dict):
            return {k: TIME if k in names else mask(v) for k, v in reply.items()}
        if isinstance(reply, list):
            out = []
            for index, item in enumerate(reply):
                if index % 2 and isinstance(reply[index - 1], bytes) and reply[index - 1] in names:
                    out.append(TIME)
                else:
                    out.append(mask(item))
            return out
        return reply

    return mask


def _mask_full(reply: Any) -> Any:
    """XINFO STREAM FULL: seen times and the delivery times of pending entries masked."""
    info = _pairs(reply)
    groups = []
    for group in info.get(b"groups", []):
        group = _pairs(group)
        group[b"pending"] = [[r[0], r[1], TIME, r[3]] for r in group[b"pending"]]
        consumers = []
        for consumer in group[b"consumers"]:
            consumer = _pairs(consumer)
            consumer[b"seen-time"] = TIME
            consumer[b"pending"] = [[r[0], TIME, r[2]] for r in consumer[b"pending"]]
            consumers.append(consumer)
        group[b"consumers"] = consumers
        groups.append(group)
    info[b"groups"] = groups
    return info


XPENDING_IDLE = _mask_column(2)
CONSUMERS_IDLE = _mask_keys(b"idle")


def _fill(same: Differential, key: str, count: int, start: int = 1, size: int = 1) -> None:
    for i in range(start, start + count):
        check(same, "XADD", key, f"{i}-1", "f", str(i), "v", "x" * size)


# -- XADD --------------------------------------------------------------------------------------


def test_xadd_ids(same: Differential) -> None:
    run(
        same,
        ("XADD", "s", "5-3", "a", "1"),
        ("XADD", "s", "5-*", "b", "2"),
        ("XADD", "s", "6-*", "c", "3"),
        ("XADD", "s", "6", "c", "3"),
        ("XADD", "s", "7", "d", "4", "e", "5"),
        ("XADD", "s", "7-3", "x", "y"),
        ("XADD", "s", "7-3", "x", "y"),
        ("XADD", "s", "6-9", "x", "y"),
        ("XADD", "s", "0-0", "x", "y"),
        ("XADD", "t", "0-0", "x", "y"),
        ("XADD", "t", "0-*", "x", "y"),
        ("XADD", "t", "0-*", "x", "y"),
        ("XADD", "s", "18446744073709551615-18446744073709551614", "x", "y"),
        ("XADD", "s", "18446744073709551615-*", "x", "y"),
        ("XADD", "s", "18446744073709551615-18446744073709551615", "x", "y"),
        ("XADD", "s", "*", "x", "y"),
        ("XADD", "s", "18446744073709551616-1", "x", "y"),
        ("XADD", "u", " 12-+3", "x", "y"),
        ("XADD", "u", "013-00", "x", "y"),
        ("XADD", "u", "14--01", "x", "y"),
        ("XADD", "u", "15--1", "x", "y"),
        ("XADD", "u", "1a-1", "x", "y"),
        ("XADD", "u", "-", "x", "y"),
        ("XADD", "u", "+", "x", "y"),
        ("XADD", "u", "20-", "x", "y"),
        ("XADD", "u", "x" * 130, "x", "y"),
        ("XRANGE", "s", "-", "+"),
        ("XRANGE", "t", "-", "+"),
        ("XRANGE", "u", "-", "+"),
        ("XLEN", "s"),
    )


def test_xadd_star_uses_the_clock(same: Differential) -> None:
    expected, got = both(same, "XADD", "s", "*", "a", "1")
    for reply in (expected, got):
        ms, seq = reply.split(b"-")
        assert abs(int(ms) - time.time() * 1000) < 60_000 and seq == b"0"
    # a last ID in the future: * increments its sequence
    run(same, ("XADD", "f", "99999999999999-5", "a", "1"), ("XADD", "f", "*", "a", "2"))


def test_xadd_argument_errors(same: Differential) -> None:
    run(
        same,
        ("XADD", "s", "1-1", "a"),
        ("XADD", "s", "1-1", "a", "b", "c"),
        ("XADD", "s", "MAXLEN", "1", "1-1"),
        ("XADD", "s", "MAXLEN", "x", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "-1", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b"),
        ("XADD", "s", "MINID", "1", "MAXLEN", "1", "*", "a", "b"),
        ("XADD", "s", "MINID", "-", "*", "a", "b"),
        ("XADD", "s", "MINID", "x", "*", "a", "b"),
        ("XADD", "s", "LIMIT", "10", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "1", "LIMIT", "10", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "=", "1", "LIMIT", "10", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "x", "*", "a", "b"),
        ("XADD", "s", "NOMKSTREAM", "1-1", "a", "b"),
        ("EXISTS", "s"),
        ("XADD", "s", "nomkstream", "maxlen", "0", "1-1", "a", "b"),
        ("EXISTS", "s"),
        ("XADD", "s", "NOMKSTREAM", "2-1", "a", "b"),
        ("XADD", "s", "MAXLEN", "~", "5", "LIMIT", "0", "3-1", "a", "b"),
        ("XRANGE", "s", "-", "+"),
        ("XADD", "s", "BOGUS", "a", "b"),
    )


def test_entries_with_other_fields_and_big_values(same: Differential) -> None:
    run(
        same,
        ("XADD", "s", "1-1", "a", "1", "b", "2"),
        ("XADD", "s", "2-1", "a", "3", "b", "4"),
        ("XADD", "s", "3-1", "b", "5"),
        ("XADD", "s", "4-1", "a", "x" * 5000),
        ("XADD", "s", "5-1", "123", "-45", "", ""),
        ("XRANGE", "s", "-", "+"),
        ("XINFO", "STREAM", "s"),
    )


# -- trimming and the node layout --------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 60, 700])
def test_trimming_follows_the_node_layout(same: Differential, size: int) -> None:
    """Approximate trimming removes whole nodes: with small entries a node is 100 entries,
    with big ones it closes at 4096 bytes; the lengths, and XINFO's radix tree counts,
    match only if the nodes do."""
    _fill(same, "s", 350, size=size)
    check(same, "XINFO", "STREAM", "s")
    run(
        same,
        ("XTRIM", "s", "MAXLEN", "~", "300"),
        ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MAXLEN", "~", "120", "LIMIT", "60"),
        ("XLEN", "s"),
        ("XTRIM", "s", "MAXLEN", "~", "120", "LIMIT", "0"),
        ("XLEN", "s"),
        ("XTRIM", "s", "MINID", "~", "270"),
        ("XLEN", "s"),
        ("XTRIM", "s", "MINID", "=", "275"),
        ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MAXLEN", "40"),
        ("XINFO", "STREAM", "s"),
        ("XRANGE", "s", "-", "+", "COUNT", "3"),
        ("XADD", "s", "MAXLEN", "~", "10", "400-1", "f", "x"),
        ("XLEN", "s"),
        ("XADD", "s", "MINID", "350", "401-1", "f", "x"),
        ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MAXLEN", "0"),
        ("XINFO", "STREAM", "s"),
        ("EXISTS", "s"),
        ("XTRIM", "missing", "MAXLEN", "0"),
        ("XTRIM", "s"),
        ("XTRIM", "s", "LIMIT", "1"),
        ("XTRIM", "s", "MAXLEN", "1", "LIMIT", "1"),
        ("XTRIM", "s", "MAXLEN", "~", "1", "NOMKSTREAM"),
        ("XTRIM", "s", "MAXLEN", "~", "1", "MINID", "1"),
    )


def test_node_settings(same: Differential) -> None:
    for setting in (("stream-node-max-entries", "7"), ("stream-node-max-bytes", "200")):
        run(same, ("CONFIG", "SET", *setting))
        try:
            run(same, ("DEL", "s"))
            _fill(same, "s", 40, size=5)
            run(same, ("XINFO", "STREAM", "s"), ("XTRIM", "s", "MAXLEN", "~", "20"))
            run(same, ("XINFO", "STREAM", "s"))
        finally:
            default = "100" if setting[0].endswith("entries") else "4096"
            run(same, ("CONFIG", "SET", setting[0], default))


# -- XRANGE XREVRANGE XLEN XDEL XSETID ---------------------------------------------------------


def test_ranges(same: Differential) -> None:
    _fill(same, "s", 30)
    run(
        same,
        ("XRANGE", "s", "-", "+"),
        ("XRANGE", "s", "5", "9"),
        ("XRANGE", "s", "5-1", "(9-1"),
        ("XRANGE", "s", "(5-1", "9"),
        ("XRANGE", "s", "(5", "(9"),
        ("XREVRANGE", "s", "+", "-", "COUNT", "4"),
        ("XREVRANGE", "s", "(20-1", "(10-1", "COUNT", "3"),
        ("XRANGE", "s", "-", "+", "COUNT", "0"),
        ("XRANGE", "s", "-", "+", "COUNT", "-3"),
        ("XRANGE", "s", "-", "+", "count", "2", "COUNT", "5"),
        ("XRANGE", "s", "9", "5"),
        ("XRANGE", "s", "(-", "+"),
        ("XRANGE", "s", "-", "(+"),
        ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"),
        ("XRANGE", "s", "-", "(0-0"),
        ("XRANGE", "s", "(", "+"),
        ("XRANGE", "s", "x", "+"),
        ("XRANGE", "s", "-", "+", "COUNT"),
        ("XRANGE", "s", "-", "+", "COUNT", "x"),
        ("XRANGE", "s", "-", "+", "LIMIT", "1"),
        ("XRANGE", "missing", "-", "+"),
        ("XRANGE", "missing", "-", "+", "COUNT", "0"),
        ("XREVRANGE", "missing", "+", "-"),
        ("XLEN", "missing"),
        ("XLEN", "s"),
    )


def test_xdel_and_xsetid(same: Differential) -> None:
    _fill(same, "s", 250)
    run(
        same,
        ("XDEL", "s", "1-1", "2-1", "2-1", "500-1"),
        ("XDEL", "s", "x"),
        ("XDEL", "s", "3-1", "x"),
        ("XLEN", "s"),
        ("XINFO", "STREAM", "s"),
        ("XDEL", "s", *[f"{i}-1" for i in range(101, 201)]),
        ("XINFO", "STREAM", "s"),
        ("XRANGE", "s", "95", "205"),
        ("XDEL", "missing", "1-1"),
        ("XSETID", "s", "10-1"),
        ("XSETID", "s", "250-1"),
        ("XSETID", "s", "300-0", "ENTRIESADDED", "1"),
        ("XSETID", "s", "300-0", "ENTRIESADDED", "-1"),
        ("XSETID", "s", "300-0", "ENTRIESADDED", "400", "MAXDELETEDID", "301-0"),
        ("XSETID", "s", "300-0", "ENTRIESADDED", "400", "MAXDELETEDID", "299-0"),
        ("XSETID", "s", "300-0", "MAXDELETEDID"),
        ("XSETID", "s", "+"),
        ("XSETID", "s", "300-0", "BOGUS", "1"),
        ("XSETID", "missing", "1-1"),
        ("XINFO", "STREAM", "s"),
        ("XADD", "s", "300-0", "a", "b"),
        ("XADD", "s", "300-*", "a", "b"),
    )


# -- types and keys ----------------------------------------------------------------------------


def test_wrongtype_both_ways_and_key_commands(same: Differential) -> None:
    run(
        same,
        ("SET", "str", "v"),
        ("XADD", "s", "1-1", "a", "b"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
    )
    for args in (
        ("XADD", "str", "*", "a", "b"),
        ("XRANGE", "str", "-", "+"),
        ("XREVRANGE", "str", "+", "-"),
        ("XLEN", "str"),
        ("XDEL", "str", "1-1"),
        ("XTRIM", "str", "MAXLEN", "1"),
        ("XSETID", "str", "1-1"),
        ("XREAD", "STREAMS", "str", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"),
        ("XGROUP", "CREATE", "str", "g", "0"),
        ("XACK", "str", "g", "1-1"),
        ("XPENDING", "str", "g"),
        ("XCLAIM", "str", "g", "c", "0", "1-1"),
        ("XAUTOCLAIM", "str", "g", "c", "0", "0"),
        ("XINFO", "STREAM", "str"),
        ("GET", "s"),
        ("LPUSH", "s", "x"),
        ("HSET", "s", "f", "v"),
        ("SADD", "s", "m"),
        ("ZADD", "s", "1", "m"),
        ("INCR", "s"),
        ("TYPE", "s"),
        ("OBJECT", "ENCODING", "s"),
        ("EXISTS", "s", "str"),
        ("COPY", "s", "s2"),
        ("XINFO", "STREAM", "s2", "FULL", "COUNT", "0"),
        ("XADD", "s2", "2-1", "c", "d"),
        ("XLEN", "s"),
        ("XLEN", "s2"),
        ("RENAME", "s2", "s3"),
        ("XRANGE", "s3", "-", "+"),
        ("TYPE", "s2"),
        ("EXPIRE", "s3", "100"),
        ("TTL", "s3"),
        ("PEXPIRE", "s3", "1"),
    ):
        check(same, *args, mask=_mask_full if "FULL" in args else None)
    time.sleep(0.05)
    run(same, ("EXISTS", "s3"), ("DEL", "s"), ("EXISTS", "s"), ("TYPE", "s"))


# -- consumer groups ---------------------------------------------------------------------------


def test_xgroup(same: Differential) -> None:
    run(
        same,
        ("XGROUP", "CREATE", "s", "g", "$"),
        ("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("XINFO", "STREAM", "s"),
        ("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-2"),
        ("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "x"),
        ("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD"),
        ("XGROUP", "CREATE", "s", "g2", "0", "BOGUS"),
        ("XGROUP", "CREATE", "s", "g2", "+"),
        ("XGROUP", "CREATE", "s", "g2", "x"),
        ("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "5", "MKSTREAM"),
        ("XGROUP", "CREATE", "s", "g3", "0", "MKSTREAM", "MKSTREAM", "MKSTREAM", "MKSTREAM"),
        ("XGROUP", "CREATE", "s"),
        ("XGROUP", "SETID", "s", "nogroup", "0"),
        ("XGROUP", "SETID", "s", "g", "5-5", "ENTRIESREAD", "3"),
        ("XGROUP", "SETID", "s", "g", "5-5", "MKSTREAM"),
        ("XGROUP", "SETID", "s", "g", "-"),
        ("XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "7", "ENTRIESREAD", "8"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "alice"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "alice"),
        ("XGROUP", "CREATECONSUMER", "s", "nogroup", "alice"),
        ("XGROUP", "DELCONSUMER", "s", "g", "bob"),
        ("XGROUP", "DELCONSUMER", "s", "g", "alice"),
        ("XGROUP", "DESTROY", "s", "g2"),
        ("XGROUP", "DESTROY", "s", "g2"),
        ("XGROUP", "DESTROY", "missing", "g2"),
        ("XGROUP", "CREATECONSUMER", "missing", "g", "c"),
        ("XGROUP", "DESTROY", "s"),
        ("XGROUP", "BOGUS", "s", "g"),
        ("XGROUP", "HELP"),
        ("XGROUP", "HELP", "x"),
        ("XGROUP",),
        ("XINFO", "GROUPS", "s"),
    )


def _group_stream(same: Differential, entries: int = 10) -> None:
    _fill(same, "s", entries)
    run(same, ("XGROUP", "CREATE", "s", "g", "0"))


def test_xreadgroup_and_xack(same: Differential) -> None:
    _group_stream(same)
    run(
        same,
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", "1-1"),
        ("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "dave", "NOACK", "COUNT", "2", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XACK", "s", "g", "1-1", "2-1", "9-9"),
        ("XACK", "s", "g", "1-1"),
        ("XACK", "s", "g", "x"),
        ("XACK", "s", "nogroup", "1-1"),
        ("XACK", "missing", "g", "1-1"),
        ("XDEL", "s", "3-1"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "$"),
        ("XREADGROUP", "GROUP", "nogroup", "alice", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "missing", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "x"),
        ("XREADGROUP", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "BOGUS", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XPENDING", "s", "g"),
    )


def test_xread(same: Differential) -> None:
    _fill(same, "s", 5)
    _fill(same, "t", 3, start=10)
    run(
        same,
        ("XREAD", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "2", "STREAMS", "s", "t", "2-1", "0"),
        ("XREAD", "STREAMS", "s", "$"),
        ("XREAD", "STREAMS", "missing", "s", "0", "4"),
        ("XREAD", "STREAMS", "s", "5-1"),
        ("XREAD", "STREAMS", "s", ">"),
        ("XREAD", "STREAMS", "s", "x"),
        ("XREAD", "STREAMS", "s", "-"),
        ("XREAD", "STREAMS", "s", "t", "0"),
        ("XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"),
        ("XREAD", "NOACK", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "x", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "-5", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "x", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "-1", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "10", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "10", "STREAMS", "s", "$"),
        ("XREAD", "COUNT", "1", "STREAMS"),
        ("XREAD", "COUNT", "1", "s", "0"),
        ("MULTI",),
        ("XREAD", "BLOCK", "0", "STREAMS", "s", "$"),
        ("EXEC",),
        ("EVAL", "return redis.pcall('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$')", "0"),
        ("EVAL", "return redis.call('XREAD', 'STREAMS', 's', '4')", "0"),
    )


def test_xpending(same: Differential) -> None:
    _group_stream(same)
    run(
        same,
        ("XPENDING", "s", "g"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">"),
        ("XPENDING", "s", "g"),
    )
    for args in (
        ("XPENDING", "s", "g", "-", "+", "10"),
        ("XPENDING", "s", "g", "-", "+", "2"),
        ("XPENDING", "s", "g", "(1-1", "(6-1", "10"),
        ("XPENDING", "s", "g", "-", "+", "10", "bob"),
        ("XPENDING", "s", "g", "-", "+", "10", "nobody"),
        ("XPENDING", "s", "g", "-", "+", "0"),
        ("XPENDING", "s", "g", "-", "+", "-1"),
        ("XPENDING", "s", "g", "IDLE", "0", "-", "+", "10"),
        ("XPENDING", "s", "g", "IDLE", "600000", "-", "+", "10"),
        ("XPENDING", "s", "g", "IDLE", "x", "-", "+", "10"),
        ("XPENDING", "s", "g", "IDLE", "0", "-", "+"),
        ("XPENDING", "s", "g", "-", "+"),
        ("XPENDING", "s", "g", "-", "+", "x"),
        ("XPENDING", "s", "g", "x", "+", "1"),
        ("XPENDING", "s", "g", "(18446744073709551615-18446744073709551615", "+", "1"),
        ("XPENDING", "s", "nogroup"),
        ("XPENDING", "missing", "g", "-", "+", "1"),
        ("XPENDING", "s", "g", "-", "+", "1", "bob", "extra", "more"),
    ):
        check(same, *args, mask=XPENDING_IDLE)


def test_xclaim(same: Differential) -> None:
    _group_stream(same)
    run(
        same,
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "6", "STREAMS", "s", ">"),
        ("XCLAIM", "s", "g", "bob", "0", "1-1", "2-1"),
        ("XCLAIM", "s", "g", "bob", "3600000", "3-1"),
        ("XCLAIM", "s", "g", "bob", "0", "3-1", "JUSTID"),
        ("XCLAIM", "s", "g", "bob", "0", "4-1", "RETRYCOUNT", "7", "IDLE", "5000"),
        ("XCLAIM", "s", "g", "bob", "0", "5-1", "TIME", "1000", "JUSTID"),
        ("XCLAIM", "s", "g", "carol", "0", "8-1", "9-1"),
        ("XCLAIM", "s", "g", "carol", "0", "8-1", "9-1", "FORCE", "JUSTID"),
        ("XCLAIM", "s", "g", "carol", "0", "99-1", "FORCE"),
        ("XCLAIM", "s", "g", "carol", "0", "10-1", "LASTID", "50-0", "JUSTID"),
        ("XCLAIM", "s", "g", "carol", "0", "1-1", "BOGUS"),
        ("XCLAIM", "s", "g", "carol", "x", "1-1"),
        ("XCLAIM", "s", "g", "carol", "0", "1-1", "IDLE", "x"),
        ("XCLAIM", "s", "g", "carol", "0", "1-1", "TIME", "x"),
        ("XCLAIM", "s", "g", "carol", "0", "1-1", "RETRYCOUNT", "x"),
        ("XCLAIM", "s", "g", "carol", "0", "1-1", "LASTID", "x"),
        ("XCLAIM", "s", "g", "carol", "0", "1-1", "IDLE"),
        ("XCLAIM", "s", "nogroup", "carol", "0", "1-1"),
        ("XCLAIM", "missing", "g", "carol", "0", "1-1"),
        ("XDEL", "s", "6-1"),
        ("XCLAIM", "s", "g", "carol", "0", "6-1"),
        ("XINFO", "GROUPS", "s"),
        ("XPENDING", "s", "g"),
    )
    check(same, "XPENDING", "s", "g", "-", "+", "20", mask=XPENDING_IDLE)
    check(same, "XINFO", "CONSUMERS", "s", "g", mask=CONSUMERS_IDLE)
    # the delivery time TIME and IDLE set: shown by XINFO STREAM FULL and XPENDING
    expected, got = both(same, "XPENDING", "s", "g", "5-1", "5-1", "1")
    assert expected[0][2] > 1_000_000 and got[0][2] > 1_000_000
    expected, got = both(same, "XPENDING", "s", "g", "4-1", "4-1", "1")
    assert 5000 <= expected[0][2] < 60_000 and 5000 <= got[0][2] < 60_000


def test_xautoclaim(same: Differential) -> None:
    _group_stream(same, 20)
    run(
        same,
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"),
        ("XDEL", "s", "3-1", "4-1", "12-1"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "4"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "(6-1", "COUNT", "3", "JUSTID"),
        ("XAUTOCLAIM", "s", "g", "bob", "3600000", "0"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "10-1"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "0", "COUNT", "1000"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "0", "COUNT", "0"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "0", "COUNT", "x"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "0", "COUNT", "576460752303423488"),
        ("XAUTOCLAIM", "s", "g", "carol", "x", "0"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "x"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "(18446744073709551615-18446744073709551615"),
        ("XAUTOCLAIM", "s", "g", "carol", "0", "0", "BOGUS"),
        ("XAUTOCLAIM", "s", "nogroup", "carol", "0", "0"),
        ("XAUTOCLAIM", "missing", "g", "carol", "0", "0"),
        ("XPENDING", "s", "g"),
    )
    check(same, "XINFO", "CONSUMERS", "s", "g", mask=CONSUMERS_IDLE)


def test_xinfo(same: Differential) -> None:
    _group_stream(same, 30)
    run(
        same,
        ("XGROUP", "CREATE", "s", "late", "$"),
        ("XGROUP", "CREATE", "s", "a-first", "5-1", "ENTRIESREAD", "5"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "12", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "COUNT", "3", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "a-first", "bob", "COUNT", "3", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XDEL", "s", "20-1"),
        ("XINFO", "GROUPS", "s"),
        ("XDEL", "s", "1-1"),
        ("XINFO", "GROUPS", "s"),
        ("XINFO", "STREAM", "s"),
        ("XINFO", "STREAM", "s", "FULL", "x"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT", "x"),
        ("XINFO", "STREAM", "s", "FULL", "LIMIT", "1"),
        ("XINFO", "STREAM", "missing"),
        ("XINFO", "GROUPS", "missing"),
        ("XINFO", "CONSUMERS", "s", "nogroup"),
        ("XINFO", "CONSUMERS", "s"),
        ("XINFO", "BOGUS", "s"),
        ("XINFO", "HELP"),
        ("XINFO", "HELP", "x"),
        ("XINFO", "STREAM"),
        ("XADD", "empty", "MAXLEN", "0", "1-1", "a", "b"),
        ("XINFO", "STREAM", "empty"),
        ("XINFO", "STREAM", "empty", "FULL"),
    )
    for args in (
        ("XINFO", "STREAM", "s", "FULL"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT", "2"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT", "0"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT", "-1"),
    ):
        check(same, *args, mask=_mask_full)
    check(same, "XINFO", "CONSUMERS", "s", "g", mask=CONSUMERS_IDLE)


def test_lag_and_entries_read(same: Differential) -> None:
    """7.0's lag: known while no tombstone lies ahead of the group, estimated otherwise."""
    run(same, ("XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"), ("XINFO", "GROUPS", "s"))
    _fill(same, "s", 8)
    steps = [
        ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XDEL", "s", "6-1"),
        ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "SETID", "s", "g", "0"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "SETID", "s", "g", "3-1", "ENTRIESREAD", "3"),
        ("XINFO", "GROUPS", "s"),
        ("XTRIM", "s", "MAXLEN", "2"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "CREATE", "s", "h", "0"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "CREATE", "s", "i", "$"),
        ("XADD", "s", "20-1", "a", "b"),
        ("XINFO", "GROUPS", "s"),
        ("XSETID", "s", "30-1"),
        ("XINFO", "GROUPS", "s"),
    ]
    run(same, *steps)


# -- random sequences --------------------------------------------------------------------------

IDS = st.integers(1, 40).map(lambda ms: f"{ms}-1")
BOUNDS = st.one_of(st.just("-"), st.just("+"), IDS, IDS.map(lambda i: "(" + i))
CONSUMERS = st.sampled_from(["c1", "c2", "c3"])
SMALL = st.integers(0, 6).map(str)

STREAM_COMMANDS = st.one_of(
    st.tuples(st.just("XADD"), st.just("s"), IDS, st.just("f"), st.text("ab", max_size=3)),
    st.tuples(
        st.just("XADD"),
        st.just("s"),
        st.just("MAXLEN"),
        st.just("~"),
        SMALL,
        IDS,
        st.just("f"),
        st.just("v"),
    ),
    st.tuples(st.just("XDEL"), st.just("s"), IDS, IDS),
    st.tuples(st.just("XTRIM"), st.just("s"), st.just("MAXLEN"), SMALL),
    st.tuples(st.just("XTRIM"), st.just("s"), st.just("MINID"), IDS),
    st.tuples(st.just("XRANGE"), st.just("s"), BOUNDS, BOUNDS),
    st.tuples(st.just("XREVRANGE"), st.just("s"), BOUNDS, BOUNDS, st.just("COUNT"), SMALL),
    st.tuples(
        st.just("XREADGROUP"),
        st.just("GROUP"),
        st.just("g"),
        CONSUMERS,
        st.just("COUNT"),
        SMALL,
        st.just("STREAMS"),
        st.just("s"),
        st.sampled_from([">", "0", "5-1"]),
    ),
    st.tuples(st.just("XACK"), st.just("s"), st.just("g"), IDS, IDS),
    st.tuples(
        st.just("XCLAIM"),
        st.just("s"),
        st.just("g"),
        CONSUMERS,
        st.just("0"),
        IDS,
        IDS,
        st.sampled_from(["JUSTID", "FORCE", "RETRYCOUNT"]),
        st.just("3"),
    ),
    st.tuples(
        st.just("XAUTOCLAIM"),
        st.just("s"),
        st.just("g"),
        CONSUMERS,
        st.just("0"),
        IDS,
        st.just("COUNT"),
        st.integers(1, 4).map(str),
    ),
    st.tuples(st.just("XPENDING"), st.just("s"), st.just("g")),
    st.tuples(st.just("XPENDING"), st.just("s"), st.just("g"), BOUNDS, BOUNDS, SMALL),
    st.tuples(
        st.just("XPENDING"),
        st.just("s"),
        st.just("g"),
        st.just("-"),
        st.just("+"),
        SMALL,
        CONSUMERS,
    ),
    st.tuples(st.just("XGROUP"), st.just("SETID"), st.just("s"), st.just("g"), IDS),
    st.tuples(st.just("XINFO"), st.just("GROUPS"), st.just("s")),
    st.tuples(st.just("XINFO"), st.just("STREAM"), st.just("s")),
    st.tuples(st.just("XLEN"), st.just("s")),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(STREAM_COMMANDS, min_size=1, max_size=40))
def test_random_stream_sequences(same: Differential, sequence: list[tuple[str, ...]]) -> None:
    for client in (same.redis, same.pulsar):
        client.call("FLUSHDB")
        client.call("XGROUP", "CREATE", "s", "g", "0", "MKSTREAM")
    for args in sequence:
        mask = XPENDING_IDLE if args[0] == "XPENDING" and len(args) > 3 else None
        check(same, *args, mask=mask)
    check(same, "XINFO", "STREAM", "s", "FULL", "COUNT", "0", mask=_mask_full)


# -- blocking ----------------------------------------------------------------------------------


class Pair:
    """The same connections made to both servers."""

    def __init__(self, redis_port: int, pulsar_port: int, protocol: int = 2) -> None:
        self.redis = RawClient(redis_port, protocol)
        self.pulsar = RawClient(pulsar_port, protocol)
        for client in (self.redis, self.pulsar):
            client.call("SELECT", "11")

    def send(self, *args: Any) -> None:
        for client in (self.redis, self.pulsar):
            client.send_raw(pack_command(*args))

    def read(self) -> tuple[Any, Any]:
        return _normalise(self.redis.read()), _normalise(self.pulsar.read())

    def call(self, *args: Any) -> Any:
        self.send(*args)
        expected, got = self.read()
        assert got == expected, f"{args!r}: PulsarDS {got!r}, redis-server {expected!r}"
        return got

    def close(self) -> None:
        self.redis.close()
        self.pulsar.close()


@pytest.fixture
def pairs(
    redis_server: Any, pulsar: ServerThread, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Pair]]:
    made: list[Pair] = []

    def make(protocol: int = 2) -> Pair:
        pair = Pair(redis_server.port, pulsar.port, protocol)
        made.append(pair)
        return pair

    first = make()
    first.redis.call("FLUSHDB")
    yield make
    first.redis.call("FLUSHDB")
    for pair in made:
        pair.close()


def _wait_blocked(pair: Pair, count: int) -> None:
    deadline = time.monotonic() + 10
    for client in (pair.redis, pair.pulsar):
        while f"blocked_clients:{count}\r".encode() not in client.call("INFO", "clients"):
            assert time.monotonic() < deadline, "the readers did not block"
            time.sleep(0.005)


@pytest.mark.parametrize("protocol", [2, 3])
def test_blocking_xread_woken_by_xadd(pairs: Callable[..., Pair], protocol: int) -> None:
    writer = pairs()
    readers = [pairs(protocol) for _ in range(3)]
    writer.call("XADD", "s", "1-1", "a", "1")
    readers[0].send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    readers[1].send("XREAD", "BLOCK", "10000", "COUNT", "5", "STREAMS", "other", "s", "0", "1-1")
    readers[2].send("XREAD", "BLOCK", "0", "STREAMS", "s", "5-0")
    _wait_blocked(writer, 3)
    writer.call("XADD", "s", "2-1", "a", "2")
    for reader in readers[:2]:
        expected, got = reader.read()
        assert got == expected and got  # both woken with the new entry
    writer.call("XADD", "s", "5-1", "a", "3")
    expected, got = readers[2].read()
    assert got == expected
    # a timeout answers a null array; an XSETID wakes nobody; DEL wakes no XREAD
    readers[0].send("XREAD", "BLOCK", "50", "STREAMS", "s", "$")
    assert readers[0].read() == (None, None)
    readers[0].send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    _wait_blocked(writer, 1)
    writer.call("XSETID", "s", "9-1")
    writer.call("DEL", "s")
    time.sleep(0.05)
    _wait_blocked(writer, 1)
    writer.call("XADD", "s", "10-1", "a", "4")
    expected, got = readers[0].read()
    assert got == expected
    readers[0].call("PING")


@pytest.mark.parametrize("protocol", [2, 3])
def test_blocking_xreadgroup_in_arrival_order(pairs: Callable[..., Pair], protocol: int) -> None:
    writer = pairs()
    writer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    readers = [pairs(protocol) for _ in range(3)]
    for index, reader in enumerate(readers):
        noack = ["NOACK"] if index == 2 else []
        reader.send(
            "XREADGROUP",
            "GROUP",
            "g",
            f"c{index}",
            *noack,
            "COUNT",
            "1",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        )
        _wait_blocked(writer, index + 1)
    for index in range(3):
        writer.call("XADD", "s", f"{index + 1}-1", "n", str(index))
        expected, got = readers[index].read()
        assert got == expected and got, index  # the one waiting longest is served
        _wait_blocked(writer, 2 - index)
    writer.call("XPENDING", "s", "g")
    writer.call("XINFO", "GROUPS", "s")
    # two entries at once, COUNT 1: the first reader takes one, the second the other
    for index in range(2):
        readers[index].send(
            "XREADGROUP", "GROUP", "g", "c9", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"
        )
        _wait_blocked(writer, index + 1)
    writer.call("MULTI")
    writer.call("XADD", "s", "10-1", "a", "b")
    writer.call("XADD", "s", "11-1", "a", "b")
    writer.call("EXEC")
    for index in range(2):  # in one pass over the waiters: each gets the next one
        expected, got = readers[index].read()
        assert got == expected and got[0][1][0][0] if protocol == 2 else got, index
    # deleting the group or the key ends a group read with an error
    readers[0].send("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
    _wait_blocked(writer, 1)
    writer.call("XGROUP", "DESTROY", "s", "g")
    expected, got = readers[0].read()
    assert got == expected and "NOGROUP" in got[1]
    writer.call("XGROUP", "CREATE", "s", "g", "$")
    readers[1].send("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
    _wait_blocked(writer, 1)
    writer.call("DEL", "s")
    expected, got = readers[1].read()
    assert got == expected and "UNBLOCKED" in got[1]
    readers[1].call("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "10", "STREAMS", "s", ">")


# -- many consumers ----------------------------------------------------------------------------


def _consume(client: RawClient, seed: int, entries: int) -> dict[str, Any]:
    """8 consumers reading a 100,000-entry stream through one group, acknowledging most of
    what they get and claiming some of each other's; returns what was delivered and acked."""
    rng = random.Random(seed)
    client.call("DEL", "big")
    batch = 2000
    for start in range(1, entries + 1, batch):
        commands = [
            pack_command("XADD", "big", f"{i}-1", "n", str(i))
            for i in range(start, min(start + batch, entries + 1))
        ]
        client.send_raw(b"".join(commands))
        for _ in commands:
            client.read()
    client.call("XGROUP", "CREATE", "big", "g", "0")
    delivered: dict[bytes, int] = {}
    acked: set[bytes] = set()
    held: dict[int, list[bytes]] = {c: [] for c in range(8)}
    while True:
        progressed = False
        for consumer in range(8):
            reply = client.call(
                "XREADGROUP",
                "GROUP",
                "g",
                f"c{consumer}",
                "COUNT",
                str(rng.randint(50, 400)),
                "STREAMS",
                "big",
                ">",
            )
            if reply is None:
                continue
            progressed = True
            for entry_id, _ in reply[0][1]:
                delivered[entry_id] = delivered.get(entry_id, 0) + 1
                held[consumer].append(entry_id)
            mine = held[consumer]
            rng.shuffle(mine)
            keep = rng.randint(0, min(len(mine), 20))
            to_ack, held[consumer] = mine[keep:], mine[:keep]
            if to_ack:
                assert client.call("XACK", "big", "g", *to_ack) == len(to_ack)
                acked.update(to_ack)
            # claim a few of another consumer's
            other = rng.randrange(8)
            if other != consumer and held[other]:
                taken = held[other][: rng.randint(1, 5)]
                claimed = client.call("XCLAIM", "big", "g", f"c{consumer}", "0", *taken, "JUSTID")
                assert claimed == taken
                held[other] = held[other][len(taken) :]
                held[consumer] += taken
        if not progressed:
            break
    pending = client.call("XPENDING", "big", "g", "-", "+", str(entries))
    owners = [(row[0], row[1]) for row in pending]
    for consumer in range(8):
        if held[consumer]:
            assert client.call("XACK", "big", "g", *held[consumer]) == len(held[consumer])
            acked.update(held[consumer])
    return {
        "delivered": delivered,
        "acked": acked,
        "pending": owners,
        "summary": client.call("XPENDING", "big", "g"),
        "groups": client.call("XINFO", "GROUPS", "big"),
    }


def test_eight_consumers_over_100k_entries(redis_server: Any, pulsar: ServerThread) -> None:
    entries = 100_000
    results = []
    for port in (redis_server.port, pulsar.port):
        client = RawClient(port)
        client.call("SELECT", "12")
        try:
            results.append(_consume(client, seed=1606, entries=entries))
        finally:
            client.call("DEL", "big")
            client.close()
    expected, got = results
    every = {b"%d-1" % i for i in range(1, entries + 1)}
    assert set(got["delivered"]) == every and set(got["delivered"].values()) == {1}
    assert got["acked"] == every
    assert got["pending"] == expected["pending"]  # the same owners, mid-way
    assert len(got["pending"]) > 0
    assert got["summary"] == expected["summary"] == [0, None, None, None]
    assert got["groups"] == expected["groups"]


# -- persistence -------------------------------------------------------------------------------


def _state(client: RawClient, key: str, layout: bool = True) -> Any:
    """A stream's whole state: XINFO STREAM FULL with consumers' seen times masked (an AOF
    does not keep them, as in Redis); without ``layout``, the node counts too."""
    info = _pairs(client.call("XINFO", "STREAM", key, "FULL", "COUNT", "0"))
    for group in info[b"groups"]:
        for index in range(0, len(group), 2):
            if group[index] == b"consumers":
                for consumer in group[index + 1]:
                    consumer[consumer.index(b"seen-time") + 1] = TIME
    if not layout:
        info.pop(b"radix-tree-keys")
        info.pop(b"radix-tree-nodes")
    return info


def _history(client: RawClient) -> None:
    for i in range(1, 301):
        client.call("XADD", "s", f"{i}-1", "f", str(i), "g", "x" * (i % 5))
    client.call("XDEL", "s", "5-1", "150-1", "299-1")
    client.call("XTRIM", "s", "MAXLEN", "~", "250")
    client.call("XGROUP", "CREATE", "s", "g", "0")
    client.call("XGROUP", "CREATE", "s", "h", "$", "ENTRIESREAD", "300")
    client.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "20", "STREAMS", "s", ">")
    client.call("XREADGROUP", "GROUP", "g", "bob", "COUNT", "5", "STREAMS", "s", ">")
    client.call("XREADGROUP", "GROUP", "g", "noack", "NOACK", "COUNT", "3", "STREAMS", "s", ">")
    client.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", "0")
    client.call("XACK", "s", "g", "110-1", "111-1")
    client.call("XCLAIM", "s", "g", "carol", "0", "112-1", "RETRYCOUNT", "9", "IDLE", "1000")
    client.call("XGROUP", "CREATECONSUMER", "s", "g", "idle-one")
    client.call("XAUTOCLAIM", "s", "g", "dave", "0", "0", "COUNT", "2")
    client.call("XSETID", "s", "400-0", "ENTRIESADDED", "500", "MAXDELETEDID", "350-0")
    client.call("XADD", "empty", "MAXLEN", "0", "1-1", "a", "b")
    client.call("XGROUP", "CREATE", "other", "g", "$", "MKSTREAM")


def test_snapshot_keeps_streams(tmp_path: Path) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[]) as first:
        client = RawClient(first.port)
        _history(client)
        before = {key: _state(client, key) for key in ("s", "empty", "other")}
        seen = _pairs(client.call("XINFO", "STREAM", "s", "FULL"))
        assert client.call("SAVE") == b"OK"
        client.close()
    with ServerThread(port=0, dir=str(tmp_path), save=[]) as second:
        client = RawClient(second.port)
        assert {key: _state(client, key) for key in before} == before
        # a snapshot keeps the seen times too
        assert _pairs(client.call("XINFO", "STREAM", "s", "FULL")) == seen
        assert client.call("XADD", "s", "*", "a", "b") != b""
        client.close()


def test_old_snapshots_still_load(tmp_path: Path) -> None:
    """A snapshot written without streams (the format before them) loads as before."""
    from store.server.keyspace import Database
    from store.server.snapshot import _snapshot_parts, encode_snapshot

    db = Database(0, lambda db, key: None)
    db.set(b"k", b"v")
    (tmp_path / "pulsards.snapshot").write_bytes(b"".join(_snapshot_parts(encode_snapshot([db]))))
    with ServerThread(port=0, dir=str(tmp_path), save=[]) as server:
        client = RawClient(server.port)
        assert client.call("GET", "k") == b"v"
        client.close()


def test_aof_replay_keeps_streams(tmp_path: Path) -> None:
    with ServerThread(
        port=0, dir=str(tmp_path), save=[], appendonly=True, appendfsync="always"
    ) as first:
        client = RawClient(first.port)
        _history(client)
        # a blocked group read served later: its side effects are logged too
        client.call("XGROUP", "CREATE", "s", "k", "$")
        reader = RawClient(first.port)
        reader.send_raw(
            pack_command("XREADGROUP", "GROUP", "k", "eve", "BLOCK", "0", "STREAMS", "s", ">")
        )
        noack = RawClient(first.port)
        noack.send_raw(
            pack_command(
                "XREADGROUP", "GROUP", "h", "frank", "NOACK", "BLOCK", "0", "STREAMS", "s", ">"
            )
        )
        deadline = time.monotonic() + 10
        while b"blocked_clients:2\r" not in client.call("INFO", "clients"):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        client.call("XADD", "s", "500-1", "late", "1")
        assert reader.read()[0][1][0][0] == b"500-1"
        assert noack.read()[0][1][0][0] == b"500-1"
        before = {key: _state(client, key) for key in ("s", "empty", "other")}
        for other in (client, reader, noack):
            other.close()
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as second:
        client = RawClient(second.port)
        assert {key: _state(client, key) for key in before} == before
        assert client.call("BGREWRITEAOF") == b"Background append only file rewriting started"
        deadline = time.monotonic() + 10
        while second.server.snapshots.rewriting:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        client.close()
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as third:
        client = RawClient(third.port)
        # a rewritten AOF holds the live entries only (as Redis's): the node layout differs
        after = {key: _state(client, key, layout=False) for key in before}
        expected = {key: _state_without_layout(value) for key, value in before.items()}
        assert after == expected
        client.close()


def _state_without_layout(info: dict[Any, Any]) -> dict[Any, Any]:
    copy = dict(info)
    copy.pop(b"radix-tree-keys")
    copy.pop(b"radix-tree-nodes")
    return copy


# -- the command table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["XREAD", "STREAMS", "a", "b", "0", "0"],
        ["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "streams", "0"],
        ["XREADGROUP", "GROUP", "streams", "c", "NOACK", "STREAMS", "k", ">"],
        ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", "c", ">", ">", ">"],
        ["XREAD", "STREAMS", "a", "b", "0"],
        ["XREAD", "BOGUS", "STREAMS", "a", "0"],
    ],
)
def test_xread_keys_as_redis_finds_them(args: list[str], redis_server: Any) -> None:
    """XREAD's keys follow STREAMS (the shared command table test cannot build such
    arguments): PulsarDS's key finder against redis-server's COMMAND GETKEYS."""
    import store.server.core  # noqa: F401
    from store.server.commands import lookup

    client = RawClient(redis_server.port)
    try:
        expected = client.call("COMMAND", "GETKEYS", *args)
    finally:
        client.close()
    command = lookup(args[0].encode())
    assert command is not None
    got = command.keys([a.encode() for a in args])
    if not isinstance(expected, list):  # Redis: "Invalid arguments specified for command"
        expected = []
    assert got == expected


def test_which_commands_touch_watch(same: Differential) -> None:
    """Redis signals WATCH on XADD, XDEL, XTRIM (when they change something) and XGROUP
    CREATE MKSTREAM, not on group reads, acknowledgements, claims or XSETID."""
    _group_stream(same, 5)
    for change, touched in (
        (("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"), False),
        (("XACK", "s", "g", "1-1"), False),
        (("XCLAIM", "s", "g", "d", "0", "2-1"), False),
        (("XSETID", "s", "9-9"), False),
        (("XGROUP", "SETID", "s", "g", "0"), False),
        (("XDEL", "s", "77-1"), False),
        (("XDEL", "s", "3-1"), True),
        (("XTRIM", "s", "MAXLEN", "100"), False),
        (("XTRIM", "s", "MAXLEN", "1"), True),
        (("XADD", "s", "20-1", "a", "b"), True),
    ):
        run(same, ("WATCH", "s"), change, ("MULTI",), ("PING",))
        expected, got = both(same, "EXEC")
        assert got == expected and (got is None) == touched, change


def test_blocked_group_reads_are_logged_as_claims(tmp_path: Path) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as server:
        client = RawClient(server.port)
        client.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        reader = RawClient(server.port)
        reader.send_raw(
            pack_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        )
        deadline = time.monotonic() + 10
        while b"blocked_clients:1\r" not in client.call("INFO", "clients"):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        client.call("XADD", "s", "1-1", "a", "b")
        assert reader.read() == [[b"s", [[b"1-1", [b"a", b"b"]]]]]
        reader.close()
        client.close()
    logged = (tmp_path / "pulsards.aof").read_bytes()
    assert b"XREADGROUP" not in logged
    assert pack_command("XGROUP", "CREATECONSUMER", "s", "g", "c") in logged
    assert (
        b"XCLAIM\r\n$1\r\ns\r\n$1\r\ng\r\n$1\r\nc\r\n$1\r\n0\r\n$3\r\n1-1\r\n$4\r\nTIME" in logged
    )
    assert pack_command("XGROUP", "SETID", "s", "g", "1-1", "ENTRIESREAD", "1") in logged


# -- the data structure against a plain list ---------------------------------------------------


def test_stream_ranges_against_a_sorted_list() -> None:
    """Ranges over nodes with tombstones, forward and back, with and without COUNT, equal
    a filter over a plain sorted list of the live IDs (what the node layout must not change)."""
    from store.server.stream import Stream

    rng = random.Random(5)
    for _ in range(200):
        stream = Stream()
        model: list[int] = []
        size = rng.randint(0, 400)
        node_entries = rng.choice([3, 7, 100])
        for i in range(1, size + 1):
            stream.append(i << 64 | 1, (b"f", b"%d" % i), node_entries, 4096)
            model.append(i << 64 | 1)
        for _ in range(rng.randint(0, 300)):
            if model:
                gone = rng.choice(model)
                assert stream.delete(gone)
                model.remove(gone)
        assert stream.length == len(model)
        for _ in range(30):
            low = rng.randint(0, size + 2) << 64 | rng.randint(0, 2)
            high = rng.randint(0, size + 2) << 64 | rng.randint(0, 2)
            count = rng.randint(0, 12)
            expected = [i for i in model if low <= i <= high]
            got = [i for i, _ in stream.range(low, high, count)]
            assert got == (expected[:count] if count else expected)
            expected.reverse()
            got = [i for i, _ in stream.range(low, high, count, rev=True)]
            assert got == (expected[:count] if count else expected)


def _events(client: RawClient) -> list[Any]:
    """Messages received until the one on the channel ``done``."""
    events = []
    while True:
        message = _normalise(client.read())
        if message[0] == b"message" and message[1] == b"done":
            return events
        events.append(message)


def test_keyspace_notifications(pairs: Callable[..., Pair]) -> None:
    writer = pairs()
    listener = pairs()
    writer.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        listener.call("PSUBSCRIBE", "__key*@11__:*")
        listener.call("SUBSCRIBE", "done")
        for args in (
            ("XADD", "s", "1-1", "a", "b"),
            ("XADD", "s", "MAXLEN", "1", "2-1", "a", "b"),
            ("XADD", "s", "MAXLEN", "5", "3-1", "a", "b"),
            ("XDEL", "s", "2-1", "9-9"),
            ("XDEL", "s", "9-9"),
            ("XTRIM", "s", "MAXLEN", "0"),
            ("XSETID", "s", "5-5"),
            ("XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"),
            ("XGROUP", "CREATECONSUMER", "t", "g", "c"),
            ("XADD", "t", "1-1", "a", "b"),
            ("XREADGROUP", "GROUP", "g", "d", "STREAMS", "t", ">"),
            ("XCLAIM", "t", "g", "e", "0", "1-1"),
            ("XAUTOCLAIM", "t", "g", "f", "0", "0"),
            ("XGROUP", "SETID", "t", "g", "0"),
            ("XGROUP", "DELCONSUMER", "t", "g", "c"),
            ("XGROUP", "DESTROY", "t", "g"),
            ("DEL", "t"),
        ):
            writer.call(*args)
        writer.call("PUBLISH", "done", "x")
        expected, got = _events(listener.redis), _events(listener.pulsar)
        assert got == expected
        events = {message[-1] for message in got}
        assert {b"xadd", b"xtrim", b"xdel", b"xsetid", b"xgroup-createconsumer"} <= events
    finally:
        writer.call("CONFIG", "SET", "notify-keyspace-events", "")
