"""How commands travel, as the command table decides: blocking commands in any spelling
get their own connection and their own timeout; commands that would change a shared or
pooled connection are refused with the API to use instead, or run on a connection that is
closed afterwards; on a connection of one's own (``store.connect()``) they are allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from store.aio import RedisStore, StatefulCommandError
from store.errors import ResponseError

from .conftest import connections

Factory = Callable[..., RedisStore]


@pytest.mark.parametrize("name", ["BLPOP", "Blpop", b"bLpOp"])
async def test_blocking_command_in_any_case_outlives_the_socket_timeout(
    store_factory: Factory, name: Any
) -> None:
    store = store_factory(socket_timeout=0.2)
    await store.execute("DEL", "routing:empty")
    assert await store.execute(name, "routing:empty", 0.5) is None
    await store.execute("RPUSH", "routing:empty", "x")
    assert await store.execute(name, "routing:empty", 0.5) == [b"routing:empty", b"x"]
    assert await store.execute("get", "routing:empty") is None  # the store is still usable


@pytest.mark.single_node("a cluster has only database 0: the cluster store refuses another")
@pytest.mark.parametrize("name", ["SELECT", "select", b"Select"])
async def test_select_is_refused_and_the_database_stays(
    store_factory: Factory, server_url: str, name: Any
) -> None:
    store = store_factory(server_url + "/3")
    await store.execute("SET", "routing:db", "three")
    with pytest.raises(StatefulCommandError, match=r"redis://host:6379/2.*store\.connect\(\)"):
        await store.execute(name, 2)
    assert store.database == "3"
    assert await store.execute("GET", "routing:db") == b"three"
    other = store_factory(server_url + "/2")
    assert await other.execute("GET", "routing:db") is None


@pytest.mark.parametrize(
    ("args", "advice"),
    [
        (("MULTI",), "store.pipeline(transaction=True)"),
        (("exec",), "store.pipeline(transaction=True)"),
        (("Watch", "k"), "store.transaction"),
        (("SUBSCRIBE", "c"), "store.pubsub()"),
        (("psubscribe", "c*"), "store.pubsub()"),
        (("MONITOR",), "store.connect()"),
        (("CLIENT", "REPLY", "OFF"), "store.connect()"),
        (("client", "Tracking", "on"), "store.connect()"),
        (("AUTH", "secret"), "in the URL"),
        (("READONLY",), "store.connect()"),
    ],
)
async def test_connection_state_commands_are_refused(
    store_factory: Factory, args: tuple[Any, ...], advice: str
) -> None:
    store = store_factory()
    await store.execute("SET", "routing:k", "v")
    with pytest.raises(StatefulCommandError) as info:
        await store.execute(*args)
    assert advice in str(info.value)
    assert str(args[0]).upper() in str(info.value)
    assert "secret" not in str(info.value)
    # nothing was sent: the connections are as they were
    for _ in range(3):
        assert await store.execute("GET", "routing:k") == b"v"
    assert connections(store)[0] == 0


async def test_pipelines_refuse_connection_state_commands(store_factory: Factory) -> None:
    store = store_factory()
    async with store.pipeline() as pipe:
        for args in (("SELECT", 1), ("multi",), ("HELLO", 2), ("subscribe", "c")):
            with pytest.raises(StatefulCommandError):
                await pipe.execute(*args)
        await pipe.execute("SET", "routing:p", "1")
        assert len(pipe) == 1  # nothing refused was queued
        assert await pipe.commit() == [b"OK"]
    async with store.pipeline() as pipe:
        await pipe.watch("routing:p")
        with pytest.raises(StatefulCommandError):  # immediate mode, on the watching connection
            await pipe.execute("SELECT", 1)
        assert await pipe.execute("GET", "routing:p") == b"1"
        pipe.multi()
        await pipe.execute("INCR", "routing:p")
        assert await pipe.commit() == [2]


async def test_hello_runs_on_a_connection_closed_afterwards(
    store_factory: Factory, variant: dict[str, Any]
) -> None:
    store = store_factory()
    await store.execute("DEL", "routing:h")
    await store.execute("HSET", "routing:h", "f", "v")
    before = await store.execute("HGETALL", "routing:h")
    other = 3 if variant["protocol"] == 2 else 2
    hello = await store.execute("HELLO", other)
    fields = hello if isinstance(hello, dict) else dict(zip(hello[::2], hello[1::2], strict=True))
    assert fields[b"proto"] == other
    for _ in range(3):  # every later reply keeps the store's protocol
        assert await store.execute("HGETALL", "routing:h") == before
    assert await store.client().hgetall("routing:h") == {b"f": b"v"}
    assert await store.execute("RESET") == b"RESET"
    assert await store.execute("HGETALL", "routing:h") == before


@pytest.mark.single_node(
    "a cluster store has no single connection: connect() is refused (and a cluster has only "
    "database 0)"
)
async def test_a_connection_of_ones_own_takes_every_command(
    store_factory: Factory, server_url: str
) -> None:
    store = store_factory()
    await store.execute("SET", "routing:own", "0")
    async with await store.connect() as connection:
        assert await connection.execute("SELECT", 4) == b"OK"
        await connection.execute("SET", "routing:own", "four")
        assert await connection.execute("SELECT", store.database or 0) == b"OK"
        assert await connection.execute("WATCH", "routing:own") == b"OK"
        assert await connection.execute("MULTI") == b"OK"
        assert await connection.execute("INCR", "routing:own") == b"QUEUED"
        assert await connection.execute("EXEC") == [1]
    assert await store.execute("GET", "routing:own") == b"1"
    in_four = store_factory(server_url + "/4")
    assert await in_four.execute("GET", "routing:own") == b"four"
    await in_four.flush()


async def test_unknown_commands_reach_the_server(store_factory: Factory) -> None:
    store = store_factory()
    with pytest.raises(ResponseError, match="unknown command"):
        await store.execute("NOSUCHCOMMAND", "x")
    assert await store.execute("PING") in (True, b"PONG", "PONG")
