"""The static types of the command methods, checked twice: by ``mypy --strict tests/typing``
(``assert_type`` must hold for the type checker) and by pytest against a real
redis-server (each value is also checked with ``isinstance``, so the declared types are
what the methods really return), for both variants, bytes and decode_responses=True.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_type

import pytest

import store.aio as aio
import store.sync as sync
from store.errors import StoreError
from tests.cluster_fixture import RedisCluster

PREFIX = "typing:"


def _keys(name: str) -> tuple[str, str, str, str, str, str]:
    k = PREFIX + name
    return (k + ":s", k + ":h", k + ":l", k + ":z", k + ":x", k + ":g")


def test_sync_bytes(redis_url: str) -> None:
    s, h, lst, z, x, g = _keys("sync-bytes")
    store = sync.create_store(redis_url)
    assert_type(store, sync.RemoteStore[bytes])
    client = store.client()
    assert_type(client, sync.RedisClient[bytes])
    try:
        client.delete(s, h, lst, z, x, g)
        assert_type(client.set(s, "v"), bool | None)
        assert client.set(s, "v") is True
        assert_type(client.set(s, "w", get=True), bytes | None)
        assert client.set(s, "x", get=True) == b"w"
        value = client.get(s)
        assert_type(value, bytes | None)
        assert isinstance(value, bytes)
        assert_type(client.get(s + ":missing"), bytes | None)
        many = client.mget([s, s + ":missing"])
        assert_type(many, list[bytes | None])
        assert many == [b"x", None]
        assert_type(client.incr(s + ":n"), int)
        assert_type(client.delete(s + ":n"), int)
        assert_type(client.exists(s), int)
        assert_type(client.expire(s, 100), bool)
        assert client.expire(s, 100) is True
        assert_type(client.mset({s: "1"}), bool)

        assert_type(client.hset(h, mapping={"f": "1", "g": "2"}), int)
        fields = client.hgetall(h)
        assert_type(fields, dict[bytes, bytes])
        assert fields == {b"f": b"1", b"g": b"2"}

        assert_type(client.rpush(lst, "a", "b", "c"), int)
        one = client.lpop(lst)
        assert_type(one, bytes | None)
        assert one == b"a"
        two = client.lpop(lst, 2)
        assert_type(two, list[bytes] | None)
        assert two == [b"b", b"c"]
        assert_type(client.lrange(lst, 0, -1), list[bytes])
        client.rpush(lst, "q")
        popped = client.blpop([lst], 1)
        assert_type(popped, tuple[bytes, bytes] | None)
        assert popped == (lst.encode(), b"q")

        assert_type(client.zadd(z, {"a": 1, "b": 2.5}), int)
        members = client.zrange(z, 0, -1)
        assert_type(members, list[bytes])
        assert members == [b"a", b"b"]
        scored = client.zrange(z, 0, -1, withscores=True)
        assert_type(scored, list[tuple[bytes, float]])
        assert scored == [(b"a", 1.0), (b"b", 2.5)]
        assert_type(client.zscore(z, "b"), float | None)
        assert_type(client.zadd(z, {"a": 1}, incr=True), float | None)
        assert_type(client.smembers(s + ":set"), set[bytes])

        entry_id = client.xadd(x, {"f": "v"})
        assert_type(entry_id, bytes | None)
        assert isinstance(entry_id, bytes)
        read = client.xread({x: "0"})
        assert_type(read, list[list[bytes | list[tuple[bytes | None, dict[bytes, bytes] | None]]]])
        assert read == [[x.encode(), [(entry_id, {b"f": b"v"})]]]
        entries = client.xrange(x)
        assert_type(entries, list[tuple[bytes, dict[bytes, bytes]]])
        assert entries == [(entry_id, {b"f": b"v"})]

        assert_type(client.geoadd(g, [13.361389, 38.115556, "Palermo"]), int)
        near = client.geosearch(g, longitude=15, latitude=37, radius=200, unit="km")
        assert_type(near, list[bytes])
        assert near == [b"Palermo"]
        rows = client.geosearch(g, longitude=15, latitude=37, radius=200, unit="km", withdist=True)
        assert_type(rows, list[list[bytes | float | int | tuple[float, float]]])
        assert rows[0][0] == b"Palermo" and isinstance(rows[0][1], float)

        cursor, keys = client.scan(0, match=PREFIX + "*", count=1000)
        assert_type(cursor, int)
        assert_type(keys, list[bytes])
        assert all(isinstance(key, bytes) for key in keys)
        for key in client.scan_iter(match=s):
            assert_type(key, bytes)
            assert key == s.encode()

        info = client.info("server")
        assert_type(info, dict[str, Any])
        assert isinstance(info["redis_version"], str)
        assert_type(client.ping(), bool)
        assert_type(client.time(), tuple[int, int])
        assert_type(client.lastsave(), datetime | None)
        assert_type(client.config_get("maxmemory"), dict[str, str])
        assert_type(client.type(s), bytes)
        assert client.type(s) == b"string"
        result = client.eval("return {1, 'two'}", 0)
        assert_type(result, sync.Reply)
        assert result == [1, b"two"]
    finally:
        client.delete(s, h, lst, z, x, g)
        store.close()


def test_sync_str_and_pipeline(redis_url: str) -> None:
    s, h, lst, z, _, _ = _keys("sync-str")
    store = sync.create_store(redis_url, decode_responses=True)
    assert_type(store, sync.RemoteStore[str])
    client = store.client()
    assert_type(client, sync.RedisClient[str])
    try:
        client.delete(s, h, lst, z)
        client.set(s, "v")
        value = client.get(s)
        assert_type(value, str | None)
        assert value == "v"
        client.hset(h, "f", "1")
        assert_type(client.hgetall(h), dict[str, str])
        assert client.hgetall(h) == {"f": "1"}
        client.zadd(z, {"m": 3})
        assert_type(client.zrange(z, 0, -1, withscores=True), list[tuple[str, float]])
        assert client.zrange(z, 0, -1, withscores=True) == [("m", 3.0)]

        with store.pipeline() as pipe:
            assert_type(pipe, sync.Pipeline[str])
            chained = pipe.set(s, "p").get(s).incr(s + ":n").delete(s + ":n")
            assert_type(chained, sync.Pipeline[str])
            assert chained is pipe
            replies = pipe.commit()
            assert_type(replies, list[Any])
            assert replies == [True, "p", 1, 1]

        with store.pipeline(transaction=True) as pipe:
            pipe.get(s).lpush(lst, "a")
            assert pipe.commit() == ["p", 1]

        with store.pipeline() as pipe:
            pipe.watch(s)
            now = pipe.immediate()
            assert_type(now, sync.RedisClient[str])
            seen = now.get(s)
            assert_type(seen, str | None)
            assert seen == "p"
            pipe.multi()
            pipe.set(s, "q")
            with pytest.raises(StoreError, match="immediate"):
                now.get(s)
            with pytest.raises(StoreError, match="immediate"):
                pipe.immediate()
            assert pipe.commit() == [True]

        def bump(pipe: sync.Pipeline[str]) -> None:
            current = pipe.immediate().get(s)
            assert_type(current, str | None)
            pipe.multi()
            pipe.set(s, (current or "") + "!")

        done = store.transaction(bump, s)
        assert_type(done, list[Any])
        assert done == [True]
        assert client.get(s) == "q!"
    finally:
        client.delete(s, h, lst, z)
        store.close()


async def test_aio_bytes_and_str(redis_url: str) -> None:
    s, h, lst, _, _, _ = _keys("aio")
    raw = aio.create_store(redis_url)
    text = aio.create_store(redis_url, decode_responses=True)
    assert_type(raw, aio.RemoteStore[bytes])
    assert_type(text, aio.RemoteStore[str])
    client = raw.client()
    assert_type(client, aio.RedisClient[bytes])
    decoded = text.client()
    assert_type(decoded, aio.RedisClient[str])
    try:
        await client.delete(s, h, lst)
        assert_type(await client.set(s, "v"), bool | None)
        got = await client.get(s)
        assert_type(got, bytes | None)
        assert got == b"v"
        got_text = await decoded.get(s)
        assert_type(got_text, str | None)
        assert got_text == "v"
        await client.rpush(lst, "a", "b")
        assert_type(await decoded.lpop(lst, 5), list[str] | None)
        assert_type(await decoded.blpop(lst, 1), tuple[str, str] | None)
        await client.hset(h, "f", "1")
        assert_type(await decoded.hgetall(h), dict[str, str])
        assert await decoded.hgetall(h) == {"f": "1"}

        async with raw.pipeline() as pipe:
            assert_type(pipe, aio.Pipeline[bytes])
            queued = await pipe.get(s)
            assert_type(queued, aio.Pipeline[bytes])
            assert queued is pipe
            await (await pipe.incr(s + ":n")).delete(s + ":n")
            replies = await pipe.commit()
            assert_type(replies, list[Any])
            assert replies == [b"v", 1, 1]

        async with text.pipeline() as pipe:
            await pipe.watch(s)
            seen = await pipe.immediate().get(s)
            assert_type(seen, str | None)
            assert seen == "v"
            pipe.multi()
            await pipe.set(s, "w")
            assert await pipe.commit() == [True]
        assert await decoded.get(s) == "w"
    finally:
        await client.delete(s, h, lst)
        await raw.close()
        await text.close()


def test_sync_cluster_pipeline(redis_cluster: RedisCluster) -> None:
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in redis_cluster.ports[:2])
    store = sync.create_store(url, decode_responses=True)
    assert_type(store, sync.RemoteStore[str])
    made: object = store  # isinstance on store itself would narrow its static type
    assert isinstance(made, sync.ClusterStore)
    client = store.client()
    assert_type(client, sync.RedisClient[str])
    key, other = PREFIX + "{cluster}:a", PREFIX + "{cluster}:b"
    try:
        client.delete(key, other)
        with store.pipeline() as pipe:
            assert_type(pipe, sync.Pipeline[str])
            assert_type(pipe.set(key, "1").mget([key, other]), sync.Pipeline[str])
            assert pipe.commit() == [True, ["1", None]]
        with store.pipeline() as pipe:
            pipe.watch(key)
            seen = pipe.immediate().get(key)
            assert_type(seen, str | None)
            assert seen == "1"
            pipe.multi()
            pipe.incr(key)
            with pytest.raises(StoreError, match="immediate"):
                pipe.immediate()
            assert pipe.commit() == [2]
    finally:
        client.delete(key, other)
        store.close()
