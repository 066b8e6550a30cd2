"""Typed commands against a real server: every family, under RESP2 and RESP3 and both parsers.

The ``client`` fixture runs each test once per protocol and parser, so exact expected
values here prove that the shapes agree everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from store.aio import RedisClient, RedisStore
from store.errors import DataError, ResponseError, WrongTypeError

Factory = Callable[..., RedisStore]


# ------------------------------------------------------------------------ strings


async def test_get_set(client: RedisClient) -> None:
    assert await client.get("missing") is None
    assert await client.set("k", "v") is True
    assert await client.get("k") == b"v"
    assert await client.set("k", b"\x00\xffbin") is True
    assert await client.get("k") == b"\x00\xffbin"
    assert await client.set("n", 12) is True
    assert await client.get("n") == b"12"
    assert await client.set("f", 1.5) is True
    assert await client.get("f") == b"1.5"


async def test_set_expiry_options(client: RedisClient) -> None:
    assert await client.set("ex", "v", ex=100) is True
    assert 90 < await client.ttl("ex") <= 100
    assert await client.set("ex", "v", ex=timedelta(seconds=50)) is True
    assert 40 < await client.ttl("ex") <= 50
    assert await client.set("px", "v", px=100_000) is True
    assert 90_000 < await client.pttl("px") <= 100_000
    assert await client.set("px", "v", px=timedelta(seconds=10)) is True
    assert 9_000 < await client.pttl("px") <= 10_000
    assert await client.set("exat", "v", exat=datetime.now() + timedelta(seconds=100)) is True
    assert 90 < await client.ttl("exat") <= 100
    at_ms = int((datetime.now() + timedelta(seconds=100)).timestamp() * 1000)
    assert await client.set("pxat", "v", pxat=at_ms) is True
    assert 90_000 < await client.pttl("pxat") <= 100_000
    assert await client.set("ex", "w", keepttl=True) is True
    assert await client.get("ex") == b"w"
    assert 40 < await client.ttl("ex") <= 50
    assert await client.set("ex", "x") is True
    assert await client.ttl("ex") == -1


async def test_set_nx_xx_get(client: RedisClient) -> None:
    assert await client.set("k", "1", xx=True) is None
    assert await client.get("k") is None
    assert await client.set("k", "1", nx=True) is True
    assert await client.set("k", "2", nx=True) is None
    assert await client.get("k") == b"1"
    assert await client.set("k", "2", xx=True) is True
    assert await client.set("k", "3", get=True) == b"2"
    assert await client.set("new", "3", get=True) is None
    assert await client.get("new") == b"3"
    assert await client.set("k", "4", nx=True, get=True) == b"3"
    assert await client.get("k") == b"3"


async def test_mget_mset_msetnx(client: RedisClient) -> None:
    assert await client.mset({"a": 1, "b": "two", b"c": b"3"}) is True
    assert await client.mget(["a", "b", "c", "missing"]) == [b"1", b"two", b"3", None]
    assert await client.mget("a", "b") == [b"1", b"two"]
    assert await client.mget(["a"], "b") == [b"1", b"two"]
    # "{a}d" and "{a}e" hash like "a": MSETNX, which a cluster cannot split, in one slot
    assert await client.msetnx({"a": 9, "{a}d": 4}) is False
    assert await client.get("{a}d") is None
    assert await client.msetnx({"{a}d": 4, "{a}e": 5}) is True
    assert await client.mget("{a}d", "{a}e") == [b"4", b"5"]


async def test_setnx_setex_psetex(client: RedisClient) -> None:
    assert await client.setnx("k", "v") is True
    assert await client.setnx("k", "w") is False
    assert await client.get("k") == b"v"
    assert await client.setex("ex", 100, "v") is True
    assert 90 < await client.ttl("ex") <= 100
    assert await client.setex("ex", timedelta(seconds=50), "v") is True
    assert 40 < await client.ttl("ex") <= 50
    assert await client.psetex("px", 5000, "v") is True
    assert 4000 < await client.pttl("px") <= 5000
    assert await client.get("px") == b"v"


async def test_getset_getdel_getex(client: RedisClient) -> None:
    assert await client.getset("k", "1") is None
    assert await client.getset("k", "2") == b"1"
    assert await client.getdel("k") == b"2"
    assert await client.getdel("k") is None
    assert await client.exists("k") == 0
    await client.set("k", "v")
    assert await client.getex("k") == b"v"
    assert await client.ttl("k") == -1
    assert await client.getex("k", ex=100) == b"v"
    assert 90 < await client.ttl("k") <= 100
    assert await client.getex("k", px=timedelta(seconds=50)) == b"v"
    assert 40 < await client.ttl("k") <= 50
    assert await client.getex("k", exat=datetime.now() + timedelta(seconds=30)) == b"v"
    assert 20 < await client.ttl("k") <= 30
    at_ms = int((datetime.now() + timedelta(seconds=20)).timestamp() * 1000)
    assert await client.getex("k", pxat=at_ms) == b"v"
    assert 10 < await client.ttl("k") <= 20
    assert await client.getex("k", persist=True) == b"v"
    assert await client.ttl("k") == -1
    assert await client.getex("missing", ex=10) is None


async def test_append_strlen_ranges(client: RedisClient) -> None:
    assert await client.append("k", "Hello") == 5
    assert await client.append("k", " World") == 11
    assert await client.strlen("k") == 11
    assert await client.strlen("missing") == 0
    assert await client.getrange("k", 0, 4) == b"Hello"
    assert await client.getrange("k", -5, -1) == b"World"
    assert await client.setrange("k", 6, "Redis") == 11
    assert await client.get("k") == b"Hello Redis"


async def test_counters(client: RedisClient) -> None:
    assert await client.incr("c") == 1
    assert await client.incr("c", 5) == 6
    assert await client.incrby("c", 10) == 16
    assert await client.decr("c") == 15
    assert await client.decr("c", 5) == 10
    assert await client.decrby("c", 3) == 7
    result = await client.incrbyfloat("f", 1.5)
    assert result == 1.5
    assert type(result) is float
    assert await client.incrbyfloat("f") == 2.5
    assert await client.incrbyfloat("f", -0.5) == 2.0
    assert await client.get("f") == b"2"


async def test_bits(client: RedisClient) -> None:
    assert await client.setbit("b", 7, 1) == 0
    assert await client.setbit("b", 7, True) == 1
    assert await client.getbit("b", 7) == 1
    assert await client.getbit("b", 100) == 0
    await client.set("foo", "foobar")
    assert await client.bitcount("foo") == 26
    assert await client.bitcount("foo", 0, 0) == 4
    assert await client.bitcount("foo", 1, 1) == 6
    assert await client.bitcount("foo", 5, 30, "BIT") == 17
    assert await client.bitcount("missing") == 0


# ---------------------------------------------------------------------------- keys


async def test_delete_exists_unlink_touch(client: RedisClient) -> None:
    await client.mset({"a": 1, "b": 2, "c": 3, "d": 4})
    assert await client.exists("a") == 1
    assert await client.exists("a", "b", "missing", "a") == 3
    assert await client.touch("a", "b", "missing") == 2
    assert await client.delete("a") == 1
    assert await client.delete("a", "b", "missing") == 1
    assert await client.unlink("c", "d", "missing") == 2
    assert await client.exists("a", "b", "c", "d") == 0
    assert await client.dbsize() == 0


async def test_expire_family(client: RedisClient) -> None:
    assert await client.expire("missing", 10) is False
    await client.set("k", "v")
    assert await client.ttl("k") == -1
    assert await client.ttl("missing") == -2
    assert await client.expire("k", 100) is True
    assert 90 < await client.ttl("k") <= 100
    assert await client.expire("k", timedelta(seconds=50)) is True
    assert 40 < await client.ttl("k") <= 50
    assert await client.persist("k") is True
    assert await client.persist("k") is False
    assert await client.pexpire("k", 100_000) is True
    assert 90_000 < await client.pttl("k") <= 100_000
    assert await client.pexpire("k", timedelta(seconds=5)) is True
    assert 4_000 < await client.pttl("k") <= 5_000
    assert await client.expireat("k", datetime.now() + timedelta(seconds=100)) is True
    assert 90 < await client.ttl("k") <= 100
    when = int((datetime.now() + timedelta(seconds=60)).timestamp())
    assert await client.expireat("k", when) is True
    assert 50 < await client.ttl("k") <= 60
    ms = int((datetime.now() + timedelta(seconds=30)).timestamp() * 1000)
    assert await client.pexpireat("k", ms) is True
    assert 20 < await client.ttl("k") <= 30
    assert await client.pexpireat("k", datetime.now() + timedelta(seconds=20)) is True
    assert 10 < await client.ttl("k") <= 20
    assert await client.pttl("missing") == -2


async def test_expire_conditions(client: RedisClient) -> None:
    await client.set("k", "v")
    assert await client.expire("k", 100, xx=True) is False
    assert await client.expire("k", 100, nx=True) is True
    assert await client.expire("k", 200, nx=True) is False
    assert await client.expire("k", 50, gt=True) is False
    assert await client.expire("k", 200, gt=True) is True
    assert await client.expire("k", 300, lt=True) is False
    assert await client.expire("k", 10, xx=True, lt=True) is True
    assert await client.pexpire("k", 5000, lt=True) is True
    assert await client.expireat("k", datetime.now() + timedelta(seconds=60), gt=True) is True
    assert await client.pexpireat("k", datetime.now() + timedelta(seconds=5), nx=True) is False
    assert 0 < await client.ttl("k") <= 60


async def test_type_keys(client: RedisClient) -> None:
    assert await client.randomkey() is None
    await client.set("s", "v")
    await client.rpush("l", "x")
    await client.hset("h", "f", "v")
    await client.sadd("set", "m")
    await client.zadd("z", {"m": 1})
    assert await client.type("s") == b"string"
    assert await client.type("l") == b"list"
    assert await client.type("h") == b"hash"
    assert await client.type("set") == b"set"
    assert await client.type("z") == b"zset"
    assert await client.type("missing") == b"none"
    assert sorted(await client.keys()) == [b"h", b"l", b"s", b"set", b"z"]
    assert sorted(await client.keys("s*")) == [b"s", b"set"]


@pytest.mark.single_node(
    "RANDOMKEY goes to one random primary, which may hold none of the keys: None then"
)
async def test_randomkey_is_one_of_the_keys(client: RedisClient) -> None:
    assert await client.randomkey() is None
    for key in ("s", "l", "h", "set", "z"):
        await client.set(key, "v")
    assert await client.randomkey() in {b"h", b"l", b"s", b"set", b"z"}


async def test_rename_copy_object_encoding(client: RedisClient) -> None:
    # one slot ({r}) on a cluster: RENAME and COPY take keys of one slot only
    await client.set("{r}a", "1")
    assert await client.rename("{r}a", "{r}b") is True
    assert await client.get("{r}b") == b"1"
    with pytest.raises(ResponseError):
        await client.rename("{r}a", "{r}c")
    await client.set("{r}c", "3")
    assert await client.renamenx("{r}b", "{r}c") is False
    assert await client.renamenx("{r}b", "{r}d") is True
    assert await client.copy("{r}d", "{r}c") is False
    assert await client.copy("{r}d", "{r}c", replace=True) is True
    assert await client.get("{r}c") == b"1"
    assert await client.copy("{r}d", "{r}e") is True
    assert await client.get("{r}e") == b"1"
    await client.set("n", 12)
    assert await client.object_encoding("n") == b"int"
    await client.set("s", "hello")
    assert await client.object_encoding("s") == b"embstr"
    assert await client.object_encoding("missing") is None


@pytest.mark.single_node(
    "SCAN's cursor belongs to one node: the cluster store refuses SCAN "
    "(scan_iter, tested next, scans every primary)"
)
async def test_scan(client: RedisClient) -> None:
    await client.mset({f"key:{i}": i for i in range(20)})
    await client.rpush("list", "x")
    cursor, keys = await client.scan()
    assert isinstance(cursor, int)
    assert isinstance(keys, list)
    seen: set[bytes] = set(keys)
    while cursor:
        cursor, keys = await client.scan(cursor)
        seen.update(keys)
    assert len(seen) == 21
    cursor, keys = await client.scan(0, match="key:1*", count=1000)
    assert cursor == 0
    assert sorted(keys) == sorted(f"key:{i}".encode() for i in (1, *range(10, 20)))
    cursor, keys = await client.scan(0, count=1000, _type="list")
    assert (cursor, keys) == (0, [b"list"])


async def test_scan_iter_yields_every_key(client: RedisClient) -> None:
    expected = {f"key:{i}".encode() for i in range(1000)}
    await client.mset({key: 1 for key in expected})
    found = [key async for key in client.scan_iter()]
    assert set(found) == expected
    found = [key async for key in client.scan_iter(count=50)]
    assert set(found) == expected
    matched = {key async for key in client.scan_iter(match="key:1*", count=100)}
    assert len(matched) == 111
    await client.rpush("a-list", "x")
    assert [key async for key in client.scan_iter(_type="list", count=500)] == [b"a-list"]
    assert [key async for key in client.scan_iter(match="nothing*")] == []


# -------------------------------------------------------------------------- hashes


async def test_hset_hget(client: RedisClient) -> None:
    assert await client.hset("h", "f1", "v1") == 1
    assert await client.hset("h", "f1", "v2") == 0
    assert await client.hset("h", mapping={"f2": 2, "f3": b"3"}) == 2
    assert await client.hset("h", "f4", "4", mapping={"f5": "5"}, items=["f6", "6"]) == 3
    assert await client.hset("h", items=["f7", 7, "f8", 8]) == 2
    assert await client.hget("h", "f1") == b"v2"
    assert await client.hget("h", "missing") is None
    assert await client.hget("missing", "f1") is None
    assert await client.hmget("h", ["f1", "f2", "nope"]) == [b"v2", b"2", None]
    assert await client.hmget("h", "f3", "f4") == [b"3", b"4"]
    assert await client.hlen("h") == 8
    assert await client.hgetall("h") == {
        b"f1": b"v2",
        b"f2": b"2",
        b"f3": b"3",
        b"f4": b"4",
        b"f5": b"5",
        b"f6": b"6",
        b"f7": b"7",
        b"f8": b"8",
    }
    assert await client.hgetall("missing") == {}


async def test_hash_commands(client: RedisClient) -> None:
    await client.hset("h", mapping={"a": 1, "b": "hello"})
    assert sorted(await client.hkeys("h")) == [b"a", b"b"]
    assert sorted(await client.hvals("h")) == [b"1", b"hello"]
    assert await client.hkeys("missing") == []
    assert await client.hexists("h", "a") is True
    assert await client.hexists("h", "z") is False
    assert await client.hincrby("h", "a") == 2
    assert await client.hincrby("h", "a", 10) == 12
    result = await client.hincrbyfloat("h", "f", 1.5)
    assert result == 1.5
    assert type(result) is float
    assert await client.hincrbyfloat("h", "f") == 2.5
    assert await client.hsetnx("h", "a", "x") is False
    assert await client.hsetnx("h", "c", "x") is True
    assert await client.hstrlen("h", "b") == 5
    assert await client.hstrlen("h", "missing") == 0
    assert await client.hdel("h", "a", "c", "missing") == 2
    assert await client.hlen("h") == 2


async def test_hscan(client: RedisClient) -> None:
    await client.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert await client.hscan("h") == (0, {b"a": b"1", b"b": b"2", b"c": b"3"})
    assert await client.hscan("h", 0, match="a*", count=100) == (0, {b"a": b"1"})
    assert await client.hscan("missing") == (0, {})
    mapping = {f"field:{i}".encode(): str(i).encode() for i in range(300)}
    await client.hset("big", mapping=mapping)
    assert dict([item async for item in client.hscan_iter("big", count=20)]) == mapping
    items = [item async for item in client.hscan_iter("big", match="field:1?")]
    assert sorted(items) == sorted((f"field:{i}".encode(), str(i).encode()) for i in range(10, 20))


async def test_hrandfield(client: RedisClient) -> None:
    assert await client.hrandfield("missing") is None
    await client.hset("h", mapping={"a": 1, "b": 2})
    assert await client.hrandfield("h") in {b"a", b"b"}
    assert sorted(await client.hrandfield("h", 5)) == [b"a", b"b"]
    assert sorted(await client.hrandfield("h", 2, withvalues=True)) == [(b"a", b"1"), (b"b", b"2")]
    await client.hset("one", "f", "v")
    assert await client.hrandfield("one", -3, withvalues=True) == [(b"f", b"v")] * 3
    assert await client.hrandfield("missing", 2, withvalues=True) == []


# --------------------------------------------------------------------------- lists


async def test_push_pop(client: RedisClient) -> None:
    assert await client.lpushx("l", "x") == 0
    assert await client.rpushx("l", "x") == 0
    assert await client.rpush("l", "b", "c") == 2
    assert await client.lpush("l", "a", 0) == 4
    assert await client.lpushx("l", "first") == 5
    assert await client.rpushx("l", "last") == 6
    assert await client.lrange("l", 0, -1) == [b"first", b"0", b"a", b"b", b"c", b"last"]
    assert await client.llen("l") == 6
    assert await client.lpop("l") == b"first"
    assert await client.rpop("l") == b"last"
    assert await client.lpop("l", 2) == [b"0", b"a"]
    assert await client.rpop("l", 5) == [b"c", b"b"]
    assert await client.lpop("l") is None
    assert await client.rpop("l", 2) is None
    assert await client.llen("l") == 0


async def test_list_commands(client: RedisClient) -> None:
    await client.rpush("l", "a", "b", "c")
    assert await client.lindex("l", 1) == b"b"
    assert await client.lindex("l", -1) == b"c"
    assert await client.lindex("l", 10) is None
    assert await client.lset("l", 1, "B") is True
    with pytest.raises(ResponseError):
        await client.lset("l", 10, "x")
    assert await client.linsert("l", "BEFORE", "B", "a2") == 4
    assert await client.linsert("l", "after", "c", "d") == 5
    assert await client.linsert("l", "AFTER", "nope", "x") == -1
    assert await client.lrange("l", 0, -1) == [b"a", b"a2", b"B", b"c", b"d"]
    await client.rpush("l", "a", "a")
    assert await client.lrem("l", 2, "a") == 2
    assert await client.lrange("l", 0, -1) == [b"a2", b"B", b"c", b"d", b"a"]
    assert await client.ltrim("l", 1, 3) is True
    assert await client.lrange("l", 0, -1) == [b"B", b"c", b"d"]
    assert await client.lrange("missing", 0, -1) == []


async def test_lpos(client: RedisClient) -> None:
    await client.rpush("l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert await client.lpos("l", "c") == 2
    assert await client.lpos("l", "c", rank=2) == 6
    assert await client.lpos("l", "c", rank=-1) == 7
    assert await client.lpos("l", "c", count=2) == [2, 6]
    assert await client.lpos("l", "c", count=0) == [2, 6, 7]
    assert await client.lpos("l", "c", maxlen=1) is None
    assert await client.lpos("l", "c", count=0, maxlen=7) == [2, 6]
    assert await client.lpos("l", "x") is None
    assert await client.lpos("l", "x", count=2) == []


async def test_lmove_rpoplpush(client: RedisClient) -> None:
    # one slot ({l}) on a cluster: a command of several keys needs them in one slot
    await client.rpush("{l}a", "1", "2", "3")
    assert await client.lmove("{l}a", "{l}b") == b"1"
    assert await client.lmove("{l}a", "{l}b", "RIGHT", "LEFT") == b"3"
    assert await client.rpoplpush("{l}a", "{l}b") == b"2"
    assert await client.lrange("{l}b", 0, -1) == [b"2", b"3", b"1"]
    assert await client.lmove("{l}a", "{l}b") is None
    assert await client.rpoplpush("{l}a", "{l}b") is None


async def test_blocking_pops_time_out_with_none(client: RedisClient) -> None:
    # one slot ({q}) on a cluster: a command of several keys needs them in one slot
    assert await client.blpop("{q}empty", timeout=0.1) is None
    assert await client.brpop(["{q}empty", "{q}other"], timeout=0.1) is None
    assert await client.blmove("{q}empty", "{q}dst", 0.1) is None
    assert await client.brpoplpush("{q}empty", "{q}dst", timeout=0.1) is None
    assert await client.bzpopmin("{q}empty", timeout=0.1) is None
    assert await client.bzpopmax(["{q}empty"], timeout=0.1) is None
    assert await client.exists("{q}dst") == 0
    # the connection is still in step after the timeouts
    assert await client.ping() is True


async def test_blocking_pops_with_data(client: RedisClient) -> None:
    # one slot ({q}) on a cluster: a command of several keys needs them in one slot
    await client.rpush("{q}l1", "a", "b", "c")
    await client.rpush("{q}l2", "x")
    assert await client.blpop("{q}l1", timeout=1) == (b"{q}l1", b"a")
    assert await client.brpop("{q}l1", 1) == (b"{q}l1", b"c")
    assert await client.blpop(["{q}empty", "{q}l2"], timeout=1) == (b"{q}l2", b"x")
    assert await client.brpop(["{q}empty", "{q}l1"], timeout=0) == (b"{q}l1", b"b")
    await client.rpush("{q}src", "1", "2")
    assert await client.blmove("{q}src", "{q}dst", 1) == b"1"
    assert await client.blmove("{q}src", "{q}dst", 1, "RIGHT", "LEFT") == b"2"
    assert await client.lrange("{q}dst", 0, -1) == [b"2", b"1"]
    assert await client.brpoplpush("{q}dst", "{q}src", 1) == b"1"
    assert await client.lrange("{q}src", 0, -1) == [b"1"]


# ---------------------------------------------------------------------------- sets


async def test_set_commands(client: RedisClient) -> None:
    assert await client.sadd("s", "a", "b", "c") == 3
    assert await client.sadd("s", "a", "d") == 1
    assert await client.smembers("s") == {b"a", b"b", b"c", b"d"}
    assert await client.smembers("missing") == set()
    assert await client.scard("s") == 4
    assert await client.sismember("s", "a") is True
    assert await client.sismember("s", "z") is False
    assert await client.smismember("s", ["a", "z", "b"]) == [True, False, True]
    assert await client.smismember("s", "a", "z") == [True, False]
    assert await client.srem("s", "d", "z") == 1
    assert await client.srandmember("s") in {b"a", b"b", b"c"}
    two = await client.srandmember("s", 2)
    assert len(two) == 2
    assert set(two) < {b"a", b"b", b"c"}
    assert len(await client.srandmember("s", -5)) == 5
    assert await client.srandmember("missing") is None
    # "{s}t" hashes like "s": SMOVE needs both keys in one slot on a cluster
    assert await client.smove("s", "{s}t", "a") is True
    assert await client.smove("s", "{s}t", "a") is False
    assert await client.smembers("{s}t") == {b"a"}
    popped = await client.spop("s")
    assert popped in {b"b", b"c"}
    assert await client.spop("s", 5) == [({b"b", b"c"} - {popped}).pop()]
    assert await client.spop("s") is None
    assert await client.spop("s", 2) == []


async def test_set_algebra(client: RedisClient) -> None:
    # one slot ({s}) on a cluster: a command of several keys needs them in one slot
    await client.sadd("{s}a", "1", "2", "3")
    await client.sadd("{s}b", "2", "3", "4")
    await client.sadd("{s}c", "3", "5")
    assert await client.sinter("{s}a", "{s}b") == {b"2", b"3"}
    assert await client.sinter(["{s}a", "{s}b", "{s}c"]) == {b"3"}
    assert await client.sinter(["{s}a", "{s}missing"]) == set()
    assert await client.sunion(["{s}a", "{s}b"], "{s}c") == {b"1", b"2", b"3", b"4", b"5"}
    assert await client.sdiff("{s}a", "{s}b") == {b"1"}
    assert await client.sinterstore("{s}i", ["{s}a", "{s}b"]) == 2
    assert await client.smembers("{s}i") == {b"2", b"3"}
    assert await client.sunionstore("{s}u", "{s}a", "{s}c") == 4
    assert await client.sdiffstore("{s}d", ["{s}a", "{s}c"]) == 2
    assert await client.smembers("{s}d") == {b"1", b"2"}
    assert await client.sintercard(2, ["{s}a", "{s}b"]) == 2
    assert await client.sintercard(2, ["{s}a", "{s}b"], limit=1) == 1
    assert await client.sintercard(3, ["{s}a", "{s}b", "{s}c"]) == 1


async def test_sscan(client: RedisClient) -> None:
    await client.sadd("s", "a", "b")
    cursor, members = await client.sscan("s")
    assert cursor == 0
    assert sorted(members) == [b"a", b"b"]
    assert await client.sscan("s", 0, match="a", count=10) == (0, [b"a"])
    expected = {f"m{i}".encode() for i in range(300)}
    await client.sadd("big", *expected)
    assert {m async for m in client.sscan_iter("big", count=25)} == expected
    assert {m async for m in client.sscan_iter("big", match="m1??")} == {
        f"m{i}".encode() for i in range(100, 200)
    }


# --------------------------------------------------------------------- sorted sets


async def test_zadd(client: RedisClient) -> None:
    assert await client.zadd("z", {"a": 1, "b": 2}) == 2
    assert await client.zadd("z", {"a": 10, "c": 3}, nx=True) == 1
    assert await client.zscore("z", "a") == 1.0
    assert await client.zadd("z", {"a": 5, "d": 4}, xx=True) == 0
    assert await client.zscore("z", "a") == 5.0
    assert await client.zscore("z", "d") is None
    assert await client.zadd("z", {"a": 6, "e": 7}, ch=True) == 2
    assert await client.zadd("z", {"a": 1}, gt=True, ch=True) == 0
    assert await client.zadd("z", {"a": 1}, lt=True, ch=True) == 1
    assert await client.zadd("z", {"b": 1.5}, xx=True, lt=True) == 0
    assert await client.zscore("z", "b") == 1.5
    result = await client.zadd("z", {"a": 2.5}, incr=True)
    assert result == 3.5
    assert type(result) is float
    assert await client.zadd("z", {"a": 1}, nx=True, incr=True) is None
    assert await client.zadd("z", {"new": 1}, xx=True, incr=True) is None
    assert await client.zadd("z", {"a": -1}, gt=True, incr=True) is None
    assert await client.zadd("z", {"inf": "+inf", "ninf": b"-inf"}) == 2
    assert await client.zscore("z", "inf") == float("inf")
    assert await client.zscore("z", "ninf") == float("-inf")


async def test_zscore_zmscore_zincrby(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2.5})
    score = await client.zscore("z", "b")
    assert score == 2.5
    assert type(score) is float
    assert await client.zscore("z", "x") is None
    assert await client.zscore("missing", "x") is None
    assert await client.zmscore("z", ["a", "x", "b"]) == [1.0, None, 2.5]
    assert await client.zmscore("missing", ["a"]) == [None]
    assert await client.zincrby("z", 2, "a") == 3.0
    assert await client.zincrby("z", -0.5, "new") == -0.5


async def test_zset_counts_and_ranks(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert await client.zcard("z") == 4
    assert await client.zcard("missing") == 0
    assert await client.zcount("z", 2, 3) == 2
    assert await client.zcount("z", "-inf", "+inf") == 4
    assert await client.zcount("z", "(1", 4) == 3
    assert await client.zrank("z", "a") == 0
    assert await client.zrank("z", "d") == 3
    assert await client.zrank("z", "x") is None
    assert await client.zrevrank("z", "a") == 3
    assert await client.zrevrank("z", "x") is None
    assert await client.zrem("z", "a", "x") == 1
    assert await client.zcard("z") == 3


async def test_zrange(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert await client.zrange("z", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert await client.zrange("z", 0, 1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert await client.zrange("z", 0, 1, desc=True) == [b"d", b"c"]
    assert await client.zrange("z", 0, 1, rev=True, withscores=True) == [(b"d", 4.0), (b"c", 3.0)]
    assert await client.zrange("z", 2, 3, byscore=True) == [b"b", b"c"]
    assert await client.zrange("z", "(1", "+inf", byscore=True, offset=1, num=2) == [b"c", b"d"]
    assert await client.zrange("z", 3, 2, byscore=True, desc=True, withscores=True) == [
        (b"c", 3.0),
        (b"b", 2.0),
    ]
    assert await client.zrange("z", 0, -1, withscores=True, score_cast_func=int) == [
        (b"a", 1),
        (b"b", 2),
        (b"c", 3),
        (b"d", 4),
    ]
    assert await client.zrange("missing", 0, -1) == []
    assert await client.zrange("missing", 0, -1, withscores=True) == []
    assert await client.zrevrange("z", 0, 1) == [b"d", b"c"]
    assert await client.zrevrange("z", 0, 0, withscores=True) == [(b"d", 4.0)]
    assert await client.zrevrange("z", 0, 0, True, int) == [(b"d", 4)]


async def test_zrange_by_lex(client: RedisClient) -> None:
    await client.zadd("z", {"a": 0, "b": 0, "c": 0, "d": 0})
    assert await client.zrange("z", "[b", "[c", bylex=True) == [b"b", b"c"]
    assert await client.zrange("z", "-", "+", bylex=True, offset=1, num=2) == [b"b", b"c"]
    assert await client.zrange("z", "+", "(b", bylex=True, desc=True) == [b"d", b"c"]
    assert await client.zrangebylex("z", "-", "(c") == [b"a", b"b"]
    assert await client.zrangebylex("z", "-", "+", 2, 5) == [b"c", b"d"]
    assert await client.zremrangebylex("z", "[a", "(c") == 2
    assert await client.zrange("z", 0, -1) == [b"c", b"d"]


async def test_zrangebyscore(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert await client.zrangebyscore("z", 2, 3) == [b"b", b"c"]
    assert await client.zrangebyscore("z", "-inf", "+inf", 1, 2) == [b"b", b"c"]
    assert await client.zrangebyscore("z", "(1", 4, withscores=True) == [
        (b"b", 2.0),
        (b"c", 3.0),
        (b"d", 4.0),
    ]
    assert await client.zrangebyscore("z", 1, 1, withscores=True, score_cast_func=int) == [
        (b"a", 1)
    ]
    assert await client.zrevrangebyscore("z", 3, 2) == [b"c", b"b"]
    assert await client.zrevrangebyscore("z", "+inf", "-inf", 0, 1, withscores=True) == [
        (b"d", 4.0)
    ]
    assert await client.zrangebyscore("z", 10, 20, withscores=True) == []


async def test_zremrange(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert await client.zremrangebyrank("z", 0, 1) == 2
    assert await client.zremrangebyscore("z", 4, "+inf") == 2
    assert await client.zrange("z", 0, -1, withscores=True) == [(b"c", 3.0)]


async def test_zpop(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    # without a count RESP3 answers a flat pair, with one nested pairs: same shape here
    assert await client.zpopmin("z") == [(b"a", 1.0)]
    assert await client.zpopmax("z") == [(b"d", 4.0)]
    assert await client.zpopmin("z", 1) == [(b"b", 2.0)]
    await client.zadd("z", {"a": 1, "d": 4})
    assert await client.zpopmax("z", 2) == [(b"d", 4.0), (b"c", 3.0)]
    assert await client.zpopmin("z", 5) == [(b"a", 1.0)]
    assert await client.zpopmin("z") == []
    assert await client.zpopmax("z", 2) == []


async def test_bzpop(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2.5, "c": 3})
    assert await client.bzpopmin("z", timeout=1) == (b"z", b"a", 1.0)
    assert await client.bzpopmax(["{z}empty", "z"], 1) == (b"z", b"c", 3.0)
    result = await client.bzpopmin(["z"], timeout=0)
    assert result == (b"z", b"b", 2.5)
    assert type(result[2]) is float


async def test_zunionstore_zinterstore(client: RedisClient) -> None:
    # one slot ({z}) on a cluster: a command of several keys needs them in one slot
    await client.zadd("{z}a", {"x": 1, "y": 2})
    await client.zadd("{z}b", {"y": 3, "z": 4})
    assert await client.zunionstore("{z}u", ["{z}a", "{z}b"]) == 3
    assert await client.zrange("{z}u", 0, -1, withscores=True) == [
        (b"x", 1.0),
        (b"z", 4.0),
        (b"y", 5.0),
    ]
    assert await client.zunionstore("{z}u", {"{z}a": 2, "{z}b": 1}) == 3
    assert await client.zrange("{z}u", 0, -1, withscores=True) == [
        (b"x", 2.0),
        (b"z", 4.0),
        (b"y", 7.0),
    ]
    assert await client.zunionstore("{z}u", ["{z}a", "{z}b"], "MAX") == 3
    assert await client.zscore("{z}u", "y") == 3.0
    assert (
        await client.zunionstore("{z}u", ["{z}a", "{z}b"], aggregate="min", weights=[1, 0.5]) == 3
    )
    assert await client.zrange("{z}u", 0, -1, withscores=True) == [
        (b"x", 1.0),
        (b"y", 1.5),
        (b"z", 2.0),
    ]
    assert await client.zinterstore("{z}i", ["{z}a", "{z}b"]) == 1
    assert await client.zrange("{z}i", 0, -1, withscores=True) == [(b"y", 5.0)]
    assert await client.zinterstore("{z}i", ["{z}a", "{z}b"], aggregate="MIN") == 1
    assert await client.zscore("{z}i", "y") == 2.0
    assert await client.zinterstore("{z}i", ["{z}a", "{z}b"], weights=[1, 10]) == 1
    assert await client.zscore("{z}i", "y") == 32.0
    assert await client.zinterstore("{z}i", {"{z}a": 1, "{z}b": 0}, "SUM") == 1
    assert await client.zscore("{z}i", "y") == 2.0
    assert await client.zinterstore("{z}i", ["{z}a", "{z}missing"]) == 0
    assert await client.exists("{z}i") == 0


async def test_zscan(client: RedisClient) -> None:
    await client.zadd("z", {"a": 1, "b": 2.5})
    assert await client.zscan("z") == (0, [(b"a", 1.0), (b"b", 2.5)])
    assert await client.zscan("z", 0, match="b", count=10) == (0, [(b"b", 2.5)])
    assert await client.zscan("z", score_cast_func=str) == (0, [(b"a", "1.0"), (b"b", "2.5")])
    assert await client.zscan("missing") == (0, [])
    expected = {f"m{i}".encode(): float(i) for i in range(300)}
    await client.zadd("big", expected)
    assert dict([item async for item in client.zscan_iter("big", count=20)]) == expected
    items = [item async for item in client.zscan_iter("big", match="m2??")]
    assert sorted(items) == [(f"m{i}".encode(), float(i)) for i in range(200, 300)]
    cast = [item async for item in client.zscan_iter("z", score_cast_func=int)]
    assert sorted(cast) == [(b"a", 1), (b"b", 2)]


async def test_zrandmember(client: RedisClient) -> None:
    assert await client.zrandmember("missing") is None
    await client.zadd("z", {"a": 1, "b": 2})
    assert await client.zrandmember("z") in {b"a", b"b"}
    assert sorted(await client.zrandmember("z", 5)) == [b"a", b"b"]
    pairs = await client.zrandmember("z", 2, withscores=True)
    assert sorted(pairs) == [(b"a", 1.0), (b"b", 2.0)]
    await client.zadd("one", {"m": 1.5})
    assert await client.zrandmember("one", -2, withscores=True) == [(b"m", 1.5)] * 2
    assert await client.zrandmember("missing", 2, withscores=True) == []


# -------------------------------------------------------------------------- server


async def test_ping_echo_dbsize_flush(client: RedisClient) -> None:
    assert await client.ping() is True
    assert await client.echo("hello") == b"hello"
    assert await client.echo(b"\x00bytes") == b"\x00bytes"
    assert await client.dbsize() == 0
    await client.mset({"a": 1, "b": 2})
    assert await client.dbsize() == 2
    assert await client.flushdb() is True
    assert await client.dbsize() == 0
    await client.set("a", 1)
    assert await client.flushdb(asynchronous=True) is True
    assert await client.dbsize() == 0
    await client.set("a", 1)
    assert await client.flushall() is True
    assert await client.dbsize() == 0
    assert await client.flushall(asynchronous=True) is True


@pytest.mark.single_node(
    "INFO describes one node: the cluster store asks a random primary, which may "
    "hold none of the keys (its keyspace section is then empty)"
)
async def test_info(client: RedisClient) -> None:
    await client.set("k", "v")
    info = await client.info()
    assert isinstance(info["redis_version"], str)
    assert isinstance(info["connected_clients"], int)
    assert isinstance(info["uptime_in_seconds"], int)
    assert "# Server" not in info
    databases = {k: v for k, v in info.items() if k.startswith("db") and k[2:].isdigit()}
    assert databases
    assert all(isinstance(value, dict) for value in databases.values())
    assert sum(value["keys"] for value in databases.values()) >= 1
    keyspace = await client.info("keyspace")
    assert keyspace.keys() == databases.keys()
    several = await client.info("server", "clients")
    assert "redis_version" in several
    assert "connected_clients" in several
    assert "used_memory" not in several


async def test_time_lastsave_command_count(client: RedisClient) -> None:
    seconds, microseconds = await client.time()
    assert isinstance(seconds, int)
    assert isinstance(microseconds, int)
    assert abs(seconds - datetime.now().timestamp()) < 60
    assert 0 <= microseconds < 1_000_000
    assert isinstance(await client.lastsave(), datetime)
    count = await client.command_count()
    assert isinstance(count, int)
    assert count > 100


@pytest.mark.single_node(
    "CONFIG SET and CONFIG GET go to a random primary each: a value set on one "
    "node is read back from another (and the shared cluster's nodes must not be "
    "reconfigured)"
)
async def test_config(client: RedisClient) -> None:
    config = await client.config_get("maxmemory")
    assert config == {"maxmemory": "0"}
    assert set(await client.config_get("maxmemory*")) >= {"maxmemory", "maxmemory-policy"}
    several = await client.config_get("maxmemory", "timeout")
    assert set(several) == {"maxmemory", "timeout"}
    assert all(isinstance(value, str) for value in (await client.config_get()).values())
    assert await client.config_get("no-such-option") == {}
    current = (await client.config_get("timeout"))["timeout"]
    assert await client.config_set("timeout", 777) is True
    assert await client.config_get("timeout") == {"timeout": "777"}
    assert await client.config_set("timeout", current) is True
    with pytest.raises(ResponseError):
        await client.config_set("no-such-option", "1")


@pytest.mark.single_node(
    "CLIENT ID and CLIENT LIST go to a random primary each: the id may be another node's"
)
async def test_client_commands(client: RedisClient) -> None:
    client_id = await client.client_id()
    assert isinstance(client_id, int)
    clients = await client.client_list()
    assert all(isinstance(entry, dict) for entry in clients)
    assert str(client_id) in {entry["id"] for entry in clients}
    assert all(entry["name"] == "" or isinstance(entry["name"], str) for entry in clients)
    assert await client.client_list("normal") != []
    only = await client.client_list(client_id=[client_id])
    assert [entry["id"] for entry in only] == [str(client_id)]


@pytest.mark.single_node(
    "a client name belongs to one connection of one node: CLIENT GETNAME goes "
    "to a random primary, maybe not the one named"
)
async def test_client_setname_getname(store_factory: Factory) -> None:
    # a name belongs to one connection: keep the store to one
    c = store_factory(max_connections=1).client()
    assert await c.client_getname() is None
    assert await c.client_setname("typed-client") is True
    assert await c.client_getname() == "typed-client"
    assert "typed-client" in {entry["name"] for entry in await c.client_list()}


async def test_client_wraps_the_store(store: RedisStore) -> None:
    c = store.client()
    assert isinstance(c, RedisClient)
    assert c.store is store
    assert "Client(" in repr(c)
    # execute is the store's own: raw replies, callback= applied
    assert await c.execute("SET", "k", "v") == b"OK"
    assert await c.execute("GET", "k", callback=len) == 1


# ------------------------------------------------------------------ shapes, errors


async def test_shapes_equal_under_both_protocols(
    client: RedisClient, store_factory: Factory
) -> None:
    await client.hset("h", mapping={"a": 1, "b": 2})
    await client.zadd("z", {"a": 1, "b": 2.5, "c": 3})
    await client.sadd("s", "x", "y")
    await client.rpush("l", "1", "2")
    await client.set("k", "v")

    async def shapes(c: RedisClient) -> list[Any]:
        return [
            await c.get("k"),
            await c.hgetall("h"),
            await c.hscan("h"),
            sorted(await c.hrandfield("h", 2, withvalues=True)),
            await c.zrange("z", 0, -1, withscores=True),
            await c.zrangebyscore("z", 1, 3, withscores=True),
            await c.zrevrangebyscore("z", 3, 1, withscores=True),
            await c.zrevrange("z", 0, -1, withscores=True),
            await c.zscore("z", "b"),
            await c.zmscore("z", ["a", "nope"]),
            await c.zscan("z"),
            sorted(await c.zrandmember("z", 3, withscores=True)),
            await c.smembers("s"),
            await c.smismember("s", ["x", "nope"]),
            await c.sismember("s", "x"),
            await c.lrange("l", 0, -1),
            await c.blpop("nothing", 0.05),
            await c.exists("k"),
            await c.config_get("maxmemory"),
            await c.type("z"),
            await c.ping(),
            (await c.info("keyspace")).keys(),
        ]

    resp2 = await shapes(store_factory(protocol=2).client())
    resp3 = await shapes(store_factory(protocol=3).client())
    assert resp2 == resp3
    assert resp2 == await shapes(client)


async def test_pops_equal_under_both_protocols(client: RedisClient, store_factory: Factory) -> None:
    results = []
    for protocol in (2, 3):
        c = store_factory(protocol=protocol).client()
        await c.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
        results.append(
            [
                await c.zpopmin("z"),
                await c.zpopmax("z", 1),
                await c.bzpopmin("z", 1),
                await c.zpopmax("z", 3),
                await c.bzpopmax("z", 0.05),
            ]
        )
    assert (
        results[0]
        == results[1]
        == [[(b"a", 1.0)], [(b"d", 4.0)], (b"z", b"b", 2.0), [(b"c", 3.0)], None]
    )


async def test_decode_responses_gives_str(store_factory: Factory) -> None:
    c = store_factory(decode_responses=True, max_connections=1).client()
    await c.flushdb()
    assert await c.set("k", "välue") is True
    assert await c.get("k") == "välue"
    assert await c.mget("k", "missing") == ["välue", None]
    await c.hset("h", mapping={"f": "v", "g": 1})
    assert await c.hgetall("h") == {"f": "v", "g": "1"}
    assert await c.hscan("h") == (0, {"f": "v", "g": "1"})
    assert await c.hrandfield("h", -1, withvalues=True) in ([("f", "v")], [("g", "1")])
    await c.zadd("z", {"a": 1, "b": 2})
    assert await c.zrange("z", 0, -1, withscores=True) == [("a", 1.0), ("b", 2.0)]
    assert await c.zscan("z") == (0, [("a", 1.0), ("b", 2.0)])
    assert await c.zpopmin("z") == [("a", 1.0)]
    assert await c.bzpopmin("z", 1) == ("z", "b", 2.0)
    await c.sadd("s", "x", "y")
    assert await c.smembers("s") == {"x", "y"}
    assert await c.sinter("s") == {"x", "y"}
    await c.rpush("l", "a")
    assert await c.blpop("l", 1) == ("l", "a")
    assert await c.type("s") == "set"
    assert sorted([key async for key in c.scan_iter()]) == ["h", "k", "s"]
    assert await c.echo("hi") == "hi"
    assert await c.ping() is True
    assert await c.incrbyfloat("n", 0.5) == 0.5
    assert await c.config_get("maxmemory") == {"maxmemory": "0"}
    assert isinstance((await c.info())["redis_version"], str)


@pytest.mark.single_node(
    "a client name belongs to one connection of one node: CLIENT GETNAME goes to a random "
    "primary, maybe not the one named"
)
async def test_decoded_client_name_is_str(store_factory: Factory) -> None:
    c = store_factory(decode_responses=True, max_connections=1).client()
    assert await c.client_setname("decoded") is True
    assert await c.client_getname() == "decoded"


async def test_data_errors_are_raised_before_sending(client: RedisClient) -> None:
    with pytest.raises(DataError):
        await client.set("k", "v", nx=True, xx=True)
    with pytest.raises(DataError):
        await client.set("k", "v", ex=1, px=1000)
    with pytest.raises(DataError):
        await client.set("k", "v", ex=1, keepttl=True)
    with pytest.raises(DataError):
        await client.set("k", "v", exat=1, pxat=1000)
    with pytest.raises(DataError):
        await client.getex("k", ex=1, persist=True)
    with pytest.raises(DataError):
        await client.mset({})
    with pytest.raises(DataError):
        await client.msetnx({})
    with pytest.raises(DataError):
        await client.bitcount("k", 1)
    with pytest.raises(DataError):
        await client.bitcount("k", mode="BIT")
    with pytest.raises(DataError):
        await client.expire("k", 10, nx=True, xx=True)
    with pytest.raises(DataError):
        await client.pexpire("k", 10, gt=True, lt=True)
    with pytest.raises(DataError):
        await client.hset("h")
    with pytest.raises(DataError):
        await client.hset("h", mapping={})
    with pytest.raises(DataError):
        await client.hset("h", items=["f"])
    with pytest.raises(DataError):
        await client.hrandfield("h", withvalues=True)
    with pytest.raises(DataError):
        await client.zadd("z", {})
    with pytest.raises(DataError):
        await client.zadd("z", {"a": 1}, nx=True, xx=True)
    with pytest.raises(DataError):
        await client.zadd("z", {"a": 1}, nx=True, gt=True)
    with pytest.raises(DataError):
        await client.zadd("z", {"a": 1}, gt=True, lt=True)
    with pytest.raises(DataError):
        await client.zadd("z", {"a": 1, "b": 2}, incr=True)
    with pytest.raises(DataError):
        await client.zmscore("z", [])
    with pytest.raises(DataError):
        await client.zrange("z", 0, 1, byscore=True, bylex=True)
    with pytest.raises(DataError):
        await client.zrange("z", 0, 1, byscore=True, offset=1)
    with pytest.raises(DataError):
        await client.zrange("z", 0, 1, offset=1, num=1)
    with pytest.raises(DataError):
        await client.zrange("z", "-", "+", bylex=True, withscores=True)
    with pytest.raises(DataError):
        await client.zrangebyscore("z", 0, 1, start=1)
    with pytest.raises(DataError):
        await client.zrangebylex("z", "-", "+", num=1)
    with pytest.raises(DataError):
        await client.zrandmember("z", withscores=True)
    with pytest.raises(DataError):
        await client.zunionstore("u", ["a", "b"], aggregate="AVG")
    with pytest.raises(DataError):
        await client.zinterstore("u", ["a", "b"], weights=[1])
    with pytest.raises(DataError):
        await client.zinterstore("u", {"a": 1}, weights=[1])
    with pytest.raises(DataError):
        await client.client_list("nobody")
    assert await client.dbsize() == 0
    assert await client.ping() is True


async def test_codec_refuses_bad_argument_types(client: RedisClient) -> None:
    for bad in (None, {"a": 1}, True):
        with pytest.raises(DataError):
            await client.set("k", bad)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        await client.hset("h", "f", None)
    assert await client.exists("k", "h") == 0
    assert await client.set("k", "v") is True
    assert await client.get("k") == b"v"


async def test_wrong_type_raises_and_client_stays_usable(client: RedisClient) -> None:
    await client.set("s", "v")
    await client.rpush("l", "x")
    with pytest.raises(WrongTypeError) as info:
        await client.lpush("s", "x")
    assert isinstance(info.value, ResponseError)
    assert info.value.code == "WRONGTYPE"
    with pytest.raises(WrongTypeError):
        await client.get("l")
    with pytest.raises(WrongTypeError):
        await client.hgetall("s")
    with pytest.raises(WrongTypeError):
        await client.zrange("s", 0, -1, withscores=True)
    with pytest.raises(WrongTypeError):
        await client.smembers("l")
    with pytest.raises(WrongTypeError):
        await client.blpop("s", 0.1)
    assert await client.get("s") == b"v"
    assert await client.lrange("l", 0, -1) == [b"x"]
    assert await client.ping() is True


async def test_response_error_keeps_client_usable(client: RedisClient) -> None:
    await client.set("k", "not a number")
    with pytest.raises(ResponseError):
        await client.incr("k")
    with pytest.raises(ResponseError):
        await client.zadd("z", {"a": "not a score"})
    assert await client.incr("n") == 1
    assert await client.get("k") == b"not a number"
