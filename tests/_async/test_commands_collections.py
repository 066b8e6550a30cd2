"""The list, sorted-set, hash and string commands added for issue 15 (LMPOP, BLMPOP,
ZMPOP, BZMPOP, ZINTER, ZUNION, ZDIFF, ZDIFFSTORE, ZRANGESTORE, ZINTERCARD, ZLEXCOUNT,
ZREVRANGEBYLEX, HMSET, SUBSTR) against redis-server and PulsarDS, RESP2 and RESP3, both
parsers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from store.aio import RedisClient, RedisStore
from store.errors import DataError, WrongTypeError

from .conftest import TARGETS, _target_id

# a timing test proves the command table's timeouts, which no protocol or parser changes:
# one target per server keeps it short
ONE_PER_SERVER = [next(t for t in TARGETS if t[0] == server) for server in ("redis", "pulsar")]


async def test_lmpop_blmpop(client: RedisClient) -> None:
    await client.rpush("{l}b", "1", "2", "3")
    assert await client.lmpop(2, "{l}a", "{l}b", direction="LEFT") == [b"{l}b", [b"1"]]
    assert await client.lmpop(2, "{l}a", "{l}b", direction="RIGHT", count=5) == [
        b"{l}b",
        [b"3", b"2"],
    ]
    assert await client.lmpop(2, "{l}a", "{l}b", direction="LEFT") is None
    await client.rpush("{l}a", "x")
    assert await client.blmpop(1, 2, "{l}a", "{l}b", direction="LEFT") == [b"{l}a", [b"x"]]
    assert await client.blmpop(0.05, 1, "{l}a", direction="LEFT") is None
    await client.set("str", "v")
    with pytest.raises(WrongTypeError):
        await client.lmpop(1, "str", direction="LEFT")


@pytest.mark.parametrize(
    "target", ONE_PER_SERVER, ids=[_target_id(t) for t in ONE_PER_SERVER], indirect=True
)
async def test_blocking_pops_outlive_socket_timeout(
    store_factory: Callable[..., RedisStore],
) -> None:
    """BLMPOP and BZMPOP wait their own timeout (their first argument), not socket_timeout."""
    made = store_factory(socket_timeout=0.1)
    await made.flush()
    client = made.client()
    started = time.monotonic()
    assert await client.blmpop(0.25, 1, "{l}empty", direction="LEFT") is None
    assert await client.bzmpop(0.25, 1, ["{l}empty"], min=True) is None
    assert time.monotonic() - started >= 0.45


async def test_zmpop_bzmpop(client: RedisClient) -> None:
    await client.zadd("{z}b", {"a": 1, "b": 2, "c": 3.5})
    assert await client.zmpop(2, ["{z}a", "{z}b"], min=True) == [b"{z}b", [(b"a", 1.0)]]
    assert await client.zmpop(2, ["{z}a", "{z}b"], max=True, count=5) == [
        b"{z}b",
        [(b"c", 3.5), (b"b", 2.0)],
    ]
    assert await client.zmpop(1, ["{z}b"], min=True) is None
    await client.zadd("{z}a", {"x": 7})
    assert await client.bzmpop(1, 2, ["{z}a", "{z}b"], max=True) == [b"{z}a", [(b"x", 7.0)]]
    assert await client.bzmpop(0.05, 1, ["{z}a"], min=True) is None
    with pytest.raises(DataError):
        await client.zmpop(1, ["{z}a"])
    with pytest.raises(DataError):
        await client.zmpop(1, ["{z}a"], min=True, max=True)


async def test_zinter_zunion_zdiff(client: RedisClient) -> None:
    await client.zadd("{z}1", {"a": 1, "b": 2, "c": 3})
    await client.zadd("{z}2", {"b": 10, "c": 20, "d": 30})
    assert await client.zinter(["{z}1", "{z}2"]) == [b"b", b"c"]
    assert await client.zinter(["{z}1", "{z}2"], withscores=True) == [(b"b", 12.0), (b"c", 23.0)]
    assert await client.zinter(["{z}1", "{z}2"], aggregate="MAX", withscores=True) == [
        (b"b", 10.0),
        (b"c", 20.0),
    ]
    assert await client.zinter({"{z}1": 10, "{z}2": 1}, withscores=True) == [
        (b"b", 30.0),
        (b"c", 50.0),
    ]
    assert await client.zunion(["{z}1", "{z}2"]) == [b"a", b"b", b"c", b"d"]
    assert await client.zunion(["{z}1", "{z}2"], aggregate="MIN", withscores=True) == [
        (b"a", 1.0),
        (b"b", 2.0),
        (b"c", 3.0),
        (b"d", 30.0),
    ]
    assert await client.zunion(
        ["{z}1", "{z}2"], withscores=True, score_cast_func=int, weights=[1, 0]
    ) == [(b"d", 0), (b"a", 1), (b"b", 2), (b"c", 3)]
    assert await client.zdiff(["{z}1", "{z}2"]) == [b"a"]
    assert await client.zdiff(["{z}2", "{z}1"], withscores=True) == [(b"d", 30.0)]
    assert await client.zdiffstore("{z}out", ["{z}1", "{z}2"]) == 1
    assert await client.zrange("{z}out", 0, -1, withscores=True) == [(b"a", 1.0)]
    assert await client.zintercard(2, ["{z}1", "{z}2"]) == 2
    assert await client.zintercard(2, ["{z}1", "{z}2"], limit=1) == 1
    with pytest.raises(DataError):
        await client.zinter(["{z}1"], aggregate="AVG")


async def test_zrangestore_lex(client: RedisClient) -> None:
    await client.zadd("{z}s", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert await client.zrangestore("{z}d", "{z}s", 0, 1) == 2
    assert await client.zrange("{z}d", 0, -1) == [b"a", b"b"]
    assert await client.zrangestore("{z}d", "{z}s", 0, 1, desc=True) == 2
    assert await client.zrange("{z}d", 0, -1) == [b"c", b"d"]
    assert await client.zrangestore("{z}d", "{z}s", 2, "+inf", byscore=True, offset=1, num=5) == 2
    assert await client.zrange("{z}d", 0, -1) == [b"c", b"d"]
    with pytest.raises(DataError):
        await client.zrangestore("{z}d", "{z}s", 0, 1, offset=1)
    with pytest.raises(DataError):
        await client.zrangestore("{z}d", "{z}s", 0, 1, byscore=True, bylex=True)

    await client.zadd("{z}lex", {"a": 0, "b": 0, "c": 0, "d": 0})
    assert await client.zlexcount("{z}lex", "[b", "+") == 3
    assert await client.zlexcount("{z}lex", "-", "(b") == 1
    assert await client.zrevrangebylex("{z}lex", "+", "[b") == [b"d", b"c", b"b"]
    assert await client.zrevrangebylex("{z}lex", "+", "-", start=1, num=2) == [b"c", b"b"]
    assert await client.zrangestore("{z}d", "{z}lex", "[b", "[c", bylex=True) == 2
    assert await client.zrange("{z}d", 0, -1) == [b"b", b"c"]


async def test_hmset_substr(client: RedisClient) -> None:
    assert await client.hmset("h", {"a": 1, "b": "two"}) is True
    assert await client.hgetall("h") == {b"a": b"1", b"b": b"two"}
    with pytest.raises(DataError):
        await client.hmset("h", {})
    await client.set("s", "Hello World")
    assert await client.substr("s", 0, 4) == b"Hello"
    assert await client.substr("s", 6) == b"World"
    assert await client.substr("s", -5, -1) == b"World"


async def test_in_a_pipeline(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.rpush("{p}l", "a", "b")
    await pipe.lmpop(1, "{p}l", direction="RIGHT")
    await pipe.zadd("{p}z", {"m": 1.5})
    await pipe.zmpop(1, ["{p}z"], max=True)
    await pipe.zunion(["{p}z", "{p}missing"], withscores=True)
    await pipe.hmset("{p}h", {"f": "v"})
    assert await pipe.commit() == [2, [b"{p}l", [b"b"]], 1, [b"{p}z", [(b"m", 1.5)]], [], True]
