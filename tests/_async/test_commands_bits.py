"""Bitmaps (BITFIELD, BITFIELD_RO, BITOP, BITPOS), LCS and HyperLogLogs against
redis-server and PulsarDS, RESP2 and RESP3, both parsers."""

from __future__ import annotations

import pytest

from store.aio import RedisClient, RedisStore
from store.errors import DataError, ResponseError, WrongTypeError


async def test_bitfield_builder(client: RedisClient) -> None:
    field = client.bitfield("bf")
    result = await field.set("u8", 0, 255).get("u8", 0).incrby("u8", 0, 10).execute()
    assert result == [0, 255, 9]  # WRAP by default
    assert field.operations == [] and field.command == ["BITFIELD", "bf"]
    assert await field.incrby("u8", 0, 300, overflow="SAT").get("i8", "#1").execute() == [255, 0]
    assert await field.overflow("fail").incrby("u8", 0, 1).execute() == [None]
    saturating = client.bitfield("bf", default_overflow="SAT")
    assert saturating.command == ["BITFIELD", "bf", "OVERFLOW", "SAT"]
    assert await saturating.incrby("u8", 0, 1).execute() == [255]
    field.set("u4", 0, 1).get("u4", 0)
    field.reset()
    assert field.operations == []
    with pytest.raises(DataError):
        field.overflow("sometimes")
    with pytest.raises(ResponseError, match="bitfield type"):
        await client.bitfield("bf").get("x8", 0).execute()
    await client.set("str", "a")
    assert await client.bitfield("str").get("u8", 0).execute() == [97]


async def test_bitfield_ro(client: RedisClient) -> None:
    await client.set("k", b"\x01\x02\xff")
    assert await client.bitfield_ro("k", "u8", 0) == [1]
    assert await client.bitfield_ro("k", "u8", 0, items=[("u8", 8), ("i8", "#2")]) == [1, 2, -1]
    assert await client.bitfield_ro("missing", "u16", 0) == [0]
    await client.rpush("list", "a")
    with pytest.raises(WrongTypeError):
        await client.bitfield_ro("list", "u8", 0)


async def test_bitop_bitpos(client: RedisClient) -> None:
    await client.set("{b}a", b"\xf0")
    await client.set("{b}b", b"\x3c")
    assert await client.bitop("AND", "{b}and", "{b}a", "{b}b") == 1
    assert await client.get("{b}and") == b"\x30"
    assert await client.bitop("OR", "{b}or", "{b}a", "{b}b") == 1
    assert await client.get("{b}or") == b"\xfc"
    assert await client.bitop("XOR", "{b}xor", "{b}a", "{b}b") == 1
    assert await client.get("{b}xor") == b"\xcc"
    assert await client.bitop("NOT", "{b}not", "{b}a") == 1
    assert await client.get("{b}not") == b"\x0f"
    with pytest.raises(ResponseError):
        await client.bitop("NOT", "{b}not", "{b}a", "{b}b")

    await client.set("p", b"\x00\xff\xf0")
    assert await client.bitpos("p", 1) == 8
    assert await client.bitpos("p", 0) == 0
    assert await client.bitpos("p", 1, 2) == 16
    assert await client.bitpos("p", 0, 1, 1) == -1
    assert await client.bitpos("p", 1, 7, 15, "BIT") == 8
    assert await client.bitpos("missing", 1) == -1
    for bad in ({"bit": 2}, {"bit": 1, "end": 3}, {"bit": 1, "start": 0, "mode": "BIT"}):
        with pytest.raises(DataError):
            await client.bitpos("p", **bad)


async def test_lcs(client: RedisClient) -> None:
    await client.mset({"{l}1": "ohmytext", "{l}2": "mynewtext"})
    assert await client.lcs("{l}1", "{l}2") == b"mytext"
    assert await client.lcs("{l}1", "{l}2", len=True) == 6
    assert await client.lcs("{l}1", "{l}2", idx=True) == {
        "matches": [[[4, 7], [5, 8]], [[2, 3], [0, 1]]],
        "len": 6,
    }
    assert await client.lcs("{l}1", "{l}2", idx=True, minmatchlen=4, withmatchlen=True) == {
        "matches": [[[4, 7], [5, 8], 4]],
        "len": 6,
    }
    with pytest.raises(DataError):
        await client.lcs("{l}1", "{l}2", len=True, idx=True)
    with pytest.raises(DataError):
        await client.lcs("{l}1", "{l}2", withmatchlen=True)


async def test_hyperloglog(client: RedisClient) -> None:
    assert await client.pfadd("{h}1", "a", "b", "c") == 1
    assert await client.pfadd("{h}1", "a") == 0
    assert await client.pfadd("{h}2", *[f"m{i}" for i in range(100)]) == 1
    assert await client.pfcount("{h}1") == 3
    assert 95 <= await client.pfcount("{h}1", "{h}2") <= 106
    assert await client.pfmerge("{h}3", "{h}1", "{h}2") is True
    assert await client.pfcount("{h}3") == await client.pfcount("{h}1", "{h}2")
    assert await client.pfcount("missing") == 0
    await client.set("str", "not a hll")
    with pytest.raises(ResponseError, match=r"WRONGTYPE|not a valid HyperLogLog"):
        await client.pfcount("str")


async def test_in_a_pipeline(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.bitfield("bf").set("u8", 0, 7).get("u8", 0).execute()
    await pipe.pfadd("h", "a", "b")
    await pipe.pfcount("h")
    await pipe.bitpos("bf", 1)
    assert await pipe.commit() == [[0, 7], 1, 2, 5]
