"""Stream commands against redis-server, RESP2 and RESP3, both parsers: exact values, so
the shapes agree everywhere.

Not against PulsarDS: PulsarDS has no streams yet (issue 16), so this module's targets are
redis-server's only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from store.aio import RedisClient, RedisStore
from store.errors import DataError, ResponseError, WrongTypeError

from .conftest import TARGETS, _target_id

REDIS_TARGETS = [t for t in TARGETS if t[0] == "redis"]
# PulsarDS has no streams yet (issue 16): each test runs on redis-server's targets
ON_REDIS = pytest.mark.parametrize(
    "target", REDIS_TARGETS, ids=[_target_id(t) for t in REDIS_TARGETS], indirect=True
)


@ON_REDIS
async def test_xadd_xrange_xrevrange_xlen(client: RedisClient) -> None:
    assert await client.xadd("s", {"a": 1}, id="1-1") == b"1-1"
    assert await client.xadd("s", {"b": "2", "c": b"3"}, id="2-0") == b"2-0"
    new = await client.xadd("s", {"d": 4})
    assert isinstance(new, bytes) and new.count(b"-") == 1
    assert await client.xlen("s") == 3
    assert await client.xrange("s", count=2) == [
        (b"1-1", {b"a": b"1"}),
        (b"2-0", {b"b": b"2", b"c": b"3"}),
    ]
    assert await client.xrange("s", "2-0", "2-0") == [(b"2-0", {b"b": b"2", b"c": b"3"})]
    assert await client.xrange("s", "(2-0", "+") == [(new, {b"d": b"4"})]
    assert await client.xrevrange("s", count=1) == [(new, {b"d": b"4"})]
    assert [e[0] for e in await client.xrevrange("s", "2-0", "-")] == [b"2-0", b"1-1"]
    assert await client.xrange("missing") == []
    assert await client.xlen("missing") == 0
    with pytest.raises(ResponseError, match="equal or smaller"):
        await client.xadd("s", {"x": 1}, id="1-0")
    with pytest.raises(DataError):
        await client.xadd("s", {})


@ON_REDIS
async def test_xadd_trimming_and_nomkstream(client: RedisClient) -> None:
    for i in range(1, 11):
        await client.xadd("s", {"i": i}, id=f"{i}-0", maxlen=5, approximate=False)
    assert await client.xlen("s") == 5
    assert (await client.xrange("s", count=1))[0][0] == b"6-0"
    await client.xadd("s", {"i": 11}, id="11-0", minid="9-0", approximate=False)
    assert [e[0] for e in await client.xrange("s")] == [b"9-0", b"10-0", b"11-0"]
    # approximate trimming with a LIMIT: nothing to trim in a macro node this small
    await client.xadd("s", {"i": 12}, id="12-0", maxlen=1, limit=10)
    assert await client.xlen("s") == 4
    assert await client.xadd("nostream", {"a": 1}, nomkstream=True) is None
    assert await client.exists("nostream") == 0
    assert await client.xadd("s", {"i": 13}, id="13-0", nomkstream=True) == b"13-0"
    with pytest.raises(DataError):
        await client.xadd("s", {"a": 1}, maxlen=1, minid="1-0")
    with pytest.raises(DataError):
        await client.xadd("s", {"a": 1}, maxlen=1, approximate=False, limit=5)
    with pytest.raises(DataError):
        await client.xadd("s", {"a": 1}, limit=5)


@ON_REDIS
async def test_xtrim_xdel_xsetid(client: RedisClient) -> None:
    for i in range(1, 6):
        await client.xadd("s", {"i": i}, id=f"{i}-0")
    assert await client.xdel("s", "1-0", "99-0") == 1
    assert await client.xtrim("s", maxlen=2, approximate=False) == 2
    assert [e[0] for e in await client.xrange("s")] == [b"4-0", b"5-0"]
    assert await client.xtrim("s", minid="5-0", approximate=False) == 1
    assert await client.xtrim("s", maxlen=0, approximate=True, limit=100) == 1
    with pytest.raises(DataError):
        await client.xtrim("s")
    assert await client.xsetid("s", "100-0") is True
    assert await client.xsetid("s", "200-0", entries_added=50, max_deleted_entry_id="150-0")
    info = await client.xinfo_stream("s")
    assert info["last-generated-id"] == b"200-0"
    assert info["entries-added"] == 50
    assert info["max-deleted-entry-id"] == b"150-0"
    await client.xadd("s", {"i": 1}, id="300-0")
    with pytest.raises(ResponseError, match="smaller"):
        await client.xsetid("s", "1-0")


@ON_REDIS
async def test_xread(client: RedisClient) -> None:
    await client.xadd("a", {"f": 1}, id="1-0")
    await client.xadd("a", {"f": 2}, id="2-0")
    await client.xadd("b", {"g": 3}, id="5-0")
    assert await client.xread({"a": 0, "b": "0-0"}) == [
        [b"a", [(b"1-0", {b"f": b"1"}), (b"2-0", {b"f": b"2"})]],
        [b"b", [(b"5-0", {b"g": b"3"})]],
    ]
    assert await client.xread({"a": "1-0"}, count=1) == [[b"a", [(b"2-0", {b"f": b"2"})]]]
    assert await client.xread({"a": "2-0", "b": "5-0"}) == []
    # data already there: BLOCK returns at once
    assert await client.xread({"b": 0}, block=10_000) == [[b"b", [(b"5-0", {b"g": b"3"})]]]
    with pytest.raises(DataError):
        await client.xread({})
    with pytest.raises(DataError):
        await client.xread({"a": 0}, count=0)
    with pytest.raises(DataError):
        await client.xread({"a": 0}, block=-1)


@pytest.mark.parametrize(
    "target", REDIS_TARGETS[-1:], ids=[_target_id(REDIS_TARGETS[-1])], indirect=True
)
async def test_xread_block_outlives_socket_timeout(
    store_factory: Callable[..., RedisStore],
) -> None:
    """The command table gives a blocking XREAD its BLOCK time plus socket_timeout: the
    empty reply after 250 ms is not cut short by a 100 ms socket timeout. (One target: no
    protocol or parser changes that.)"""
    made = store_factory(socket_timeout=0.1)
    await made.flush()
    client = made.client()
    await client.xadd("s", {"f": 1}, id="1-0")
    started = time.monotonic()
    assert await client.xread({"s": "$"}, block=250) == []
    assert time.monotonic() - started >= 0.23
    await client.xgroup_create("s", "g", id="$")
    started = time.monotonic()
    assert await client.xreadgroup("g", "c", {"s": ">"}, block=250) == []
    assert time.monotonic() - started >= 0.23


@ON_REDIS
async def test_consumer_groups(client: RedisClient) -> None:
    with pytest.raises(ResponseError, match="MKSTREAM"):
        await client.xgroup_create("s", "g")
    assert await client.xgroup_create("s", "g", id="0", mkstream=True) is True
    with pytest.raises(ResponseError, match="BUSYGROUP"):
        await client.xgroup_create("s", "g")
    for i in range(1, 4):
        await client.xadd("s", {"i": i}, id=f"{i}-0")
    assert await client.xreadgroup("g", "alice", {"s": ">"}, count=2) == [
        [b"s", [(b"1-0", {b"i": b"1"}), (b"2-0", {b"i": b"2"})]]
    ]
    assert await client.xreadgroup("g", "bob", {"s": ">"}) == [[b"s", [(b"3-0", {b"i": b"3"})]]]
    assert await client.xreadgroup("g", "bob", {"s": ">"}) == []
    # its own pending entries, from the start
    assert await client.xreadgroup("g", "alice", {"s": 0}) == [
        [b"s", [(b"1-0", {b"i": b"1"}), (b"2-0", {b"i": b"2"})]]
    ]
    summary = await client.xpending("s", "g")
    assert summary == {
        "pending": 3,
        "min": b"1-0",
        "max": b"3-0",
        "consumers": [{"name": b"alice", "pending": 2}, {"name": b"bob", "pending": 1}],
    }
    detail = await client.xpending_range("s", "g", "-", "+", 10)
    assert [(d["message_id"], d["consumer"], d["times_delivered"]) for d in detail] == [
        (b"1-0", b"alice", 2),
        (b"2-0", b"alice", 2),
        (b"3-0", b"bob", 1),
    ]
    assert all(isinstance(d["time_since_delivered"], int) for d in detail)
    only_bob = await client.xpending_range("s", "g", "-", "+", 10, consumername="bob")
    assert [d["message_id"] for d in only_bob] == [b"3-0"]
    assert await client.xpending_range("s", "g", "-", "+", 10, idle=3_600_000) == []
    assert await client.xack("s", "g", "1-0", "3-0", "9-0") == 2
    assert (await client.xpending("s", "g"))["pending"] == 1
    # a deleted entry still pending reads as (id, None)
    await client.xdel("s", "2-0")
    assert await client.xreadgroup("g", "alice", {"s": 0}) == [[b"s", [(b"2-0", None)]]]
    assert await client.xgroup_createconsumer("s", "g", "carol") == 1
    assert await client.xgroup_createconsumer("s", "g", "carol") == 0
    assert await client.xgroup_delconsumer("s", "g", "alice") == 1
    assert await client.xgroup_delconsumer("s", "g", "carol") == 0
    assert await client.xgroup_setid("s", "g", "0", entries_read=0) is True
    assert await client.xgroup_destroy("s", "g") is True
    assert await client.xgroup_destroy("s", "g") is False
    with pytest.raises(ResponseError, match="NOGROUP"):
        await client.xreadgroup("g", "alice", {"s": ">"})


@ON_REDIS
async def test_xreadgroup_noack(client: RedisClient) -> None:
    await client.xgroup_create("s", "g", id="0", mkstream=True)
    await client.xadd("s", {"f": "v"}, id="1-0")
    assert await client.xreadgroup("g", "c", {"s": ">"}, noack=True) == [
        [b"s", [(b"1-0", {b"f": b"v"})]]
    ]
    assert (await client.xpending("s", "g"))["pending"] == 0
    assert (await client.xpending("s", "g"))["consumers"] == []


@ON_REDIS
async def test_xclaim_xautoclaim(client: RedisClient) -> None:
    await client.xgroup_create("s", "g", id="0", mkstream=True)
    for i in range(1, 4):
        await client.xadd("s", {"i": i}, id=f"{i}-0")
    await client.xreadgroup("g", "alice", {"s": ">"})
    assert await client.xclaim("s", "g", "bob", 0, ["1-0"]) == [(b"1-0", {b"i": b"1"})]
    assert await client.xclaim("s", "g", "bob", 0, ("2-0",), justid=True) == [b"2-0"]
    # an idle time the messages have not reached: nothing claimed
    assert await client.xclaim("s", "g", "bob", 3_600_000, ["3-0"]) == []
    claimed = await client.xclaim(
        "s", "g", "carol", 0, ["3-0"], idle=1000, retrycount=5, force=True
    )
    assert claimed == [(b"3-0", {b"i": b"3"})]
    detail = await client.xpending_range("s", "g", "3-0", "3-0", 1)
    assert detail[0]["consumer"] == b"carol" and detail[0]["times_delivered"] == 5
    assert detail[0]["time_since_delivered"] >= 1000
    with pytest.raises(DataError):
        await client.xclaim("s", "g", "bob", 0, [])
    with pytest.raises(DataError):
        await client.xclaim("s", "g", "bob", -1, ["1-0"])

    assert await client.xautoclaim("s", "g", "dave", 0, count=2) == [
        b"3-0",
        [(b"1-0", {b"i": b"1"}), (b"2-0", {b"i": b"2"})],
        [],
    ]
    await client.xdel("s", "3-0")
    assert await client.xautoclaim("s", "g", "dave", 0, start_id="3-0") == [b"0-0", [], [b"3-0"]]
    assert await client.xautoclaim("s", "g", "erin", 0, justid=True) == [b"1-0", b"2-0"]
    with pytest.raises(DataError):
        await client.xautoclaim("s", "g", "erin", 0, count=0)


@ON_REDIS
async def test_xinfo(client: RedisClient) -> None:
    await client.xadd("s", {"a": 1}, id="1-0")
    await client.xadd("s", {"b": 2}, id="2-0")
    await client.xgroup_create("s", "g", id="0")
    await client.xreadgroup("g", "alice", {"s": ">"}, count=1)
    info = await client.xinfo_stream("s")
    assert info["length"] == 2
    assert info["groups"] == 1
    assert info["first-entry"] == (b"1-0", {b"a": b"1"})
    assert info["last-entry"] == (b"2-0", {b"b": b"2"})
    assert info["last-generated-id"] == b"2-0"
    assert all(type(k) is str for k in info)

    full = await client.xinfo_stream("s", full=True)
    assert full["length"] == 2
    assert full["entries"] == {b"1-0": {b"a": b"1"}, b"2-0": {b"b": b"2"}}
    [group] = full["groups"]
    assert group["name"] == b"g"
    assert group["pel-count"] == 1
    [consumer] = group["consumers"]
    assert consumer["name"] == b"alice"
    assert consumer["pel-count"] == 1

    [group_info] = await client.xinfo_groups("s")
    assert group_info["name"] == b"g"
    assert group_info["consumers"] == 1
    assert group_info["pending"] == 1
    assert group_info["last-delivered-id"] == b"1-0"
    assert group_info["entries-read"] == 1
    [consumer_info] = await client.xinfo_consumers("s", "g")
    assert consumer_info["name"] == b"alice"
    assert consumer_info["pending"] == 1
    assert isinstance(consumer_info["idle"], int)

    await client.xadd("empty", {"a": 1}, id="1-0")
    await client.xdel("empty", "1-0")
    empty = await client.xinfo_stream("empty")
    assert empty["first-entry"] is None and empty["last-entry"] is None
    assert (await client.xinfo_stream("empty", full=True))["entries"] == {}
    with pytest.raises(ResponseError, match="no such key"):
        await client.xinfo_stream("missing")


@ON_REDIS
async def test_wrong_type(client: RedisClient) -> None:
    await client.set("str", "v")
    with pytest.raises(WrongTypeError):
        await client.xadd("str", {"a": 1})
    with pytest.raises(WrongTypeError):
        await client.xrange("str")
    with pytest.raises(WrongTypeError):
        await client.xread({"str": 0})


@ON_REDIS
async def test_in_a_pipeline(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.xadd("s", {"a": 1}, id="1-0")
    await pipe.xrange("s")
    await pipe.xread({"s": 0})
    await pipe.xgroup_create("s", "g", id="0")
    await pipe.xreadgroup("g", "c", {"s": ">"})
    await pipe.xpending("s", "g")
    await pipe.xinfo_groups("s")
    results = await pipe.commit()
    assert results[:6] == [
        b"1-0",
        [(b"1-0", {b"a": b"1"})],
        [[b"s", [(b"1-0", {b"a": b"1"})]]],
        True,
        [[b"s", [(b"1-0", {b"a": b"1"})]]],
        {"pending": 1, "min": b"1-0", "max": b"1-0", "consumers": [{"name": b"c", "pending": 1}]},
    ]
    assert results[6][0]["name"] == b"g"
