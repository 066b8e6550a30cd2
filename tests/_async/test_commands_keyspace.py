"""Keyspace commands (DUMP/RESTORE, OBJECT, EXPIRETIME, SORT, MOVE, SWAPDB, MIGRATE, WAIT)
against redis-server and PulsarDS, RESP2 and RESP3, both parsers; the tests of the
commands PulsarDS has not yet (DUMP, RESTORE, MIGRATE: issue 16) run on redis-server only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from store.aio import RedisClient, RedisStore, create_store
from store.errors import DataError, ResponseError

from .conftest import TARGETS, _target_id

REDIS_TARGETS = [t for t in TARGETS if t[0] == "redis"]
# a timing test proves the command table's timeouts, which no protocol or parser changes:
# one target per server keeps it short
ONE_PER_SERVER = [next(t for t in TARGETS if t[0] == server) for server in ("redis", "pulsar")]


def redis_only(reason: str) -> pytest.MarkDecorator:
    """The test runs on redis-server's targets only; ``reason`` names what PulsarDS lacks."""
    assert "PulsarDS" in reason
    return pytest.mark.parametrize(
        "target", REDIS_TARGETS, ids=[_target_id(t) for t in REDIS_TARGETS], indirect=True
    )


async def test_dump_restore(client: RedisClient) -> None:
    await client.rpush("list", "a", "b")
    payload = await client.dump("list")
    assert isinstance(payload, bytes) and payload
    assert await client.dump("missing") is None
    assert await client.restore("copy", 0, payload) is True
    assert await client.lrange("copy", 0, -1) == [b"a", b"b"]
    with pytest.raises(ResponseError, match="BUSYKEY"):
        await client.restore("copy", 0, payload)
    assert await client.restore("copy", 100_000, payload, replace=True) is True
    assert 90_000 < await client.pttl("copy") <= 100_000
    at = int((datetime.now() + timedelta(seconds=50)).timestamp() * 1000)
    assert await client.restore("copy", at, payload, replace=True, absttl=True) is True
    assert 40 < await client.ttl("copy") <= 50
    assert await client.restore("idle", 0, payload, idletime=1000) is True
    assert await client.object_idletime("idle") >= 1000  # type: ignore[operator]
    with pytest.raises(ResponseError, match="payload"):
        await client.restore("bad", 0, b"not a dump")


async def test_object(client: RedisClient) -> None:
    await client.set("n", 12345)
    await client.set("s", "some text")
    assert await client.object("ENCODING", "n") == b"int"
    assert await client.object_encoding("s") == b"embstr"
    assert isinstance(await client.object_refcount("s"), int)
    assert isinstance(await client.object_idletime("s"), int)
    assert await client.object_refcount("missing") is None
    assert await client.object_idletime("missing") is None
    with pytest.raises(ResponseError, match="LFU"):
        await client.object_freq("s")


async def test_expiretime(client: RedisClient) -> None:
    await client.set("k", "v")
    assert await client.expiretime("k") == -1
    assert await client.pexpiretime("k") == -1
    assert await client.expiretime("missing") == -2
    at = int(time.time()) + 100
    await client.expireat("k", at)
    assert await client.expiretime("k") == at
    assert await client.pexpiretime("k") == at * 1000


async def test_sort(client: RedisClient) -> None:
    await client.rpush("{s}l", 3, 1, 2)
    assert await client.sort("{s}l") == [b"1", b"2", b"3"]
    assert await client.sort("{s}l", desc=True) == [b"3", b"2", b"1"]
    assert await client.sort("{s}l", start=1, num=1) == [b"2"]
    await client.rpush("{s}words", "b", "a", "c")
    assert await client.sort("{s}words", alpha=True) == [b"a", b"b", b"c"]
    with pytest.raises(ResponseError):
        await client.sort("{s}words")
    await client.mset({"{s}w_1": 30, "{s}w_2": 10, "{s}w_3": 20})
    await client.mset({"{s}n_1": "one", "{s}n_2": "two", "{s}n_3": "three"})
    assert await client.sort("{s}l", by="{s}w_*") == [b"2", b"3", b"1"]
    assert await client.sort("{s}l", by="{s}w_*", get="{s}n_*") == [b"two", b"three", b"one"]
    assert await client.sort("{s}l", get=["#", "{s}n_*"], groups=True) == [
        (b"1", b"one"),
        (b"2", b"two"),
        (b"3", b"three"),
    ]
    assert await client.sort("{s}l", store="{s}sorted") == 3
    assert await client.lrange("{s}sorted", 0, -1) == [b"1", b"2", b"3"]
    assert await client.sort_ro("{s}l", desc=True, start=0, num=2) == [b"3", b"2"]
    assert await client.sort_ro("{s}words", alpha=True) == [b"a", b"b", b"c"]
    assert await client.sort("missing") == []
    with pytest.raises(DataError):
        await client.sort("{s}l", start=1)
    with pytest.raises(DataError):
        await client.sort("{s}l", get="{s}n_*", groups=True)


async def test_move_swapdb(
    client: RedisClient, store_factory: Callable[..., RedisStore], server_url: str
) -> None:
    other = store_factory(server_url + "/1")
    await other.flush()
    await client.set("k", "v")
    assert await client.move("k", 1) is True
    assert await client.exists("k") == 0
    assert await other.client().get("k") == b"v"
    await client.set("k", "again")
    assert await client.move("k", 1) is False
    assert await client.swapdb(0, 1) is True
    try:
        assert await client.get("k") == b"v"
        assert await other.client().get("k") == b"again"
    finally:
        await client.swapdb(0, 1)
        await other.flush()
    with pytest.raises(ResponseError):
        await client.swapdb(0, 100_000)


async def test_migrate(client: RedisClient, restartable_server: Any) -> None:
    await client.set("{m}a", "1")
    await client.set("{m}b", "2")
    host, port = "127.0.0.1", restartable_server.port
    assert await client.migrate(host, port, ["{m}a"], 0, 5000) == b"OK"
    assert await client.exists("{m}a") == 0
    assert await client.migrate(host, port, "{m}b", 0, 5000, copy=True) == b"OK"
    assert await client.get("{m}b") == b"2"
    with pytest.raises(ResponseError, match="BUSYKEY"):
        await client.migrate(host, port, "{m}b", 0, 5000, copy=True)
    assert await client.migrate(host, port, "{m}b", 0, 5000, replace=True) == b"OK"
    assert await client.migrate(host, port, "{m}missing", 0, 5000) == b"NOKEY"
    await client.set("{m}c", "3")
    with pytest.raises(ResponseError, match="AUTH"):
        await client.migrate(host, port, "{m}c", 0, 5000, auth="wrong")
    async with create_store(restartable_server.url) as dest:
        assert await dest.client().mget("{m}a", "{m}b") == [b"1", b"2"]
    with pytest.raises(DataError):
        await client.migrate(host, port, [], 0, 5000)


@pytest.mark.parametrize(
    "target", ONE_PER_SERVER, ids=[_target_id(t) for t in ONE_PER_SERVER], indirect=True
)
async def test_wait(store_factory: Callable[..., RedisStore], target: Any) -> None:
    """WAIT blocks up to its timeout for replicas that do not exist: the command table
    gives it that long plus socket_timeout."""
    client = store_factory(socket_timeout=0.1).client()
    assert await client.wait(0, 0) == 0
    started = time.monotonic()
    assert await client.wait(1, 250) == 0
    if target[0] == "redis":
        assert time.monotonic() - started >= 0.23
