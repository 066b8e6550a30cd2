"""Pipelines and MULTI/EXEC transactions against a real redis-server (both variants).

The ``store`` fixture runs each test under RESP2 and RESP3 with every reply parser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import (
    ConnectionError,
    DataError,
    RedisStore,
    ResponseError,
    StoreError,
    TimeoutError,
    WatchError,
    WrongTypeError,
)

from .conftest import command_calls, connections, pool_of

StoreFactory = Callable[..., RedisStore]

# a Lua busy loop: keeps the server from answering for about ``ARGV[1]`` milliseconds
BUSY = """
local t = redis.call('TIME')
local start = t[1] * 1000 + t[2] / 1000
repeat
    t = redis.call('TIME')
until t[1] * 1000 + t[2] / 1000 - start >= tonumber(ARGV[1])
return 1
"""


# -- pipelines ---------------------------------------------------------------------------


async def test_ten_thousand_commands_keep_their_order(store: RedisStore) -> None:
    pipe = store.pipeline()
    expected: list[Any] = []
    values: dict[str, int] = {}
    counter = 0
    for i in range(10_000):
        key = f"k{i % 97}"
        kind = i % 3
        if kind == 0:
            await pipe.set(key, i)
            values[key] = i
            expected.append(True)
        elif kind == 1:
            await pipe.incr("counter", i)
            counter += i
            expected.append(counter)
        else:
            await pipe.get(key)
            expected.append(None if key not in values else str(values[key]).encode())
    assert len(pipe) == 10_000
    results = await pipe.commit()
    assert results == expected
    assert len(pipe) == 0
    # one pooled connection (of each node, on a cluster) carried all of it, and went back
    pool = pool_of(store, "counter")
    assert pool.in_use == 0 and pool.idle == 1
    assert await store.execute("GET", "counter") == str(counter).encode()


async def test_commands_queue_and_return_the_pipeline(store: RedisStore) -> None:
    pipe = store.pipeline()
    assert await pipe.set("a", 1) is pipe
    assert await pipe.execute("INCR", "a") is pipe
    await (await (await pipe.get("a")).incr("a")).get("a")  # chained
    assert len(pipe) == 5
    assert await store.execute("GET", "a") is None  # nothing sent before commit
    assert await pipe.commit() == [True, 2, b"2", 3, b"3"]


async def test_callbacks_shape_the_replies(store: RedisStore) -> None:
    client = store.client()
    pipe = store.pipeline()
    await pipe.hset("h", mapping={"f1": "v1", "f2": 2})
    await pipe.hgetall("h")
    await pipe.zadd("z", {"a": 1, "b": 2.5})
    await pipe.zrange("z", 0, -1, withscores=True)
    await pipe.smembers("missing-set")
    await pipe.incrbyfloat("f", 1.5)
    await pipe.set("s", "v", nx=True)
    await pipe.set("s", "v", nx=True)
    await pipe.ping()
    await pipe.execute("LRANGE", "nothing", 0, -1, callback=lambda reply: ("custom", reply))
    results = await pipe.commit()
    assert results == [
        2,
        {b"f1": b"v1", b"f2": b"2"},
        2,
        [(b"a", 1.0), (b"b", 2.5)],
        set(),
        1.5,
        True,
        None,
        True,
        ("custom", []),
    ]
    # the same shapes as the commands sent one by one
    assert results[1] == await client.hgetall("h")
    assert results[3] == await client.zrange("z", 0, -1, withscores=True)
    assert type(results[5]) is type(await client.incrbyfloat("g", 1.5))


async def test_callbacks_with_decoded_replies(store_factory: StoreFactory) -> None:
    store = store_factory(decode_responses=True)
    await store.flush()
    pipe = store.pipeline()
    await pipe.hset("h", "f", "é")
    await pipe.hgetall("h")
    await pipe.zadd("z", {"m": 3})
    await pipe.zrange("z", 0, -1, withscores=True)
    assert await pipe.commit() == [1, {"f": "é"}, 1, [("m", 3.0)]]


@pytest.mark.single_node(
    "CLIENT ID goes to a random primary: two ids may come from two nodes, so they "
    "cannot tell whether one connection served both"
)
async def test_error_reply_raised_after_every_reply_was_read(store: RedisStore) -> None:
    client_id = await store.execute("CLIENT", "ID")
    pipe = store.pipeline()
    await pipe.execute("CLIENT", "ID")
    await pipe.set("s", "x")
    await pipe.lpush("s", "y")  # WRONGTYPE
    await pipe.incr("n")
    await pipe.execute("NOSUCHCOMMAND")
    await pipe.incr("n")
    with pytest.raises(WrongTypeError) as info:
        await pipe.commit()
    assert info.value.code == "WRONGTYPE"
    assert any("command 3 of 6" in note for note in getattr(info.value, "__notes__", []))
    # the commands after the error ran too, and the connection went back usable
    assert await store.execute("GET", "n") == b"2"
    assert store.pool.idle == 1 and store.pool.in_use == 0
    await pipe.execute("CLIENT", "ID")
    await pipe.get("s")
    # the same connection served everything: it was not discarded
    assert await pipe.commit() == [client_id, b"x"]


async def test_error_replies_returned_in_place(store: RedisStore) -> None:
    pipe = store.pipeline(raise_on_error=False)
    await pipe.set("s", "x")
    await pipe.lpush("s", "y")
    await pipe.execute("NOSUCHCOMMAND")
    await pipe.get("s")
    ok, wrongtype, unknown, value = await pipe.commit()
    assert ok is True and value == b"x"
    assert isinstance(wrongtype, WrongTypeError) and wrongtype.code == "WRONGTYPE"
    assert type(unknown) is ResponseError and unknown.code == "ERR"
    # the pipeline's default can be overridden per commit, both ways
    await pipe.incr("s")
    with pytest.raises(ResponseError):
        await pipe.commit(raise_on_error=True)
    strict = store.pipeline()
    await strict.incr("s")
    (error,) = await strict.commit(raise_on_error=False)
    assert isinstance(error, ResponseError)
    assert await store.ping() is True


async def test_discarded_pipeline_sends_nothing(store: RedisStore) -> None:
    names = ("set", "incr", "multi", "exec", "discard")
    before = await command_calls(store, *names)
    async with store.pipeline() as pipe:
        await pipe.set("never", 1)
        await pipe.incr("never-counter")
    async with store.pipeline(transaction=True) as pipe:
        await pipe.set("never", 2)
    dropped = store.pipeline()
    await dropped.set("never", 3)
    del dropped
    reset = store.pipeline(transaction=True)
    await reset.set("never", 4)
    await reset.reset()
    assert len(reset) == 0
    assert await reset.commit() == []
    assert await command_calls(store, *names) == before
    assert await store.execute("EXISTS", "never", "never-counter") == 0
    assert connections(store)[0] == 0


async def test_pipeline_is_reusable_after_commit(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.set("a", "1")
    await pipe.get("a")
    assert await pipe.commit() == [True, b"1"]
    await pipe.incr("a")
    assert await pipe.commit() == [2]
    assert await pipe.commit() == []
    async with store.pipeline(transaction=True) as tx:
        await tx.incr("a")
        assert await tx.commit() == [3]
        await tx.incr("a")
        assert await tx.commit() == [4]


async def test_empty_commit_makes_no_round_trip(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert await store.pipeline().commit() == []
    assert await store.pipeline(transaction=True).commit() == []
    # no connection was ever opened
    assert connections(store) == (0, 0)


async def test_bad_argument_is_refused_when_queued(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.set("a", 1)
    with pytest.raises(DataError):
        await pipe.set("b", None)  # type: ignore[arg-type]
    assert len(pipe) == 1
    assert await pipe.commit() == [True]
    assert await store.execute("EXISTS", "b") == 0


async def test_blocking_command_outlives_the_socket_timeout(store_factory: StoreFactory) -> None:
    store = store_factory(socket_timeout=0.2)
    await store.flush()
    pipe = store.pipeline()
    await pipe.rpush("q", "x")
    await pipe.blpop(["empty"], timeout=0.6)
    await pipe.blpop(["q"], timeout=1)
    results = await pipe.commit()
    assert results[0] == 1 and results[1] is None
    assert list(results[2]) == [b"q", b"x"]
    assert pool_of(store, "q").idle == 1


async def test_failure_in_flight_discards_the_connection(store_factory: StoreFactory) -> None:
    store = store_factory(socket_timeout=0.2)
    await store.flush()
    pipe = store.pipeline()
    await pipe.set("a", "before")
    # BUSY reads no key: "a" only sends it where "a" is, on a cluster
    await pipe.execute("EVAL", BUSY, 1, "a", 600)
    await pipe.get("a")
    with pytest.raises(TimeoutError):
        await pipe.commit()
    pool = pool_of(store, "a")
    assert pool.idle == 0 and pool.in_use == 0
    await async_sleep(0.8)  # the script is over
    # a new connection: the late replies of the pipeline are never read by anyone
    assert await store.execute("SET", "a", "after") in (b"OK", "OK")
    assert await store.execute("GET", "a") == b"after"
    assert await store.execute("ECHO", "mine") == b"mine"


# -- transactions ---------------------------------------------------------------------------


async def test_multi_exec_results_are_shaped(store: RedisStore) -> None:
    # one slot ({t}) on a cluster: a transaction needs all its keys in one slot
    pipe = store.pipeline(transaction=True)
    await pipe.set("{t}a", 1)
    await pipe.incr("{t}a")
    await pipe.hset("{t}h", "f", "v")
    await pipe.hgetall("{t}h")
    await pipe.zadd("{t}z", {"m": 1.5})
    await pipe.zrange("{t}z", 0, -1, withscores=True)
    await pipe.get("{t}missing")
    assert await pipe.commit() == [True, 2, 1, {b"f": b"v"}, 1, [(b"m", 1.5)], None]


async def test_transaction_sends_one_multi_and_one_exec(store: RedisStore) -> None:
    before = await command_calls(store, "multi", "exec")
    pipe = store.pipeline(transaction=True)
    await pipe.incr("a")
    await pipe.commit()
    after = await command_calls(store, "multi", "exec")
    assert after == {"multi": before["multi"] + 1, "exec": before["exec"] + 1}
    plain = store.pipeline()
    await plain.incr("a")
    await plain.commit()
    assert await command_calls(store, "multi", "exec") == after


async def test_errors_inside_exec_are_per_command(store: RedisStore) -> None:
    # one slot ({t}) on a cluster: a transaction needs all its keys in one slot
    await store.execute("SET", "{t}s", "x")
    pipe = store.pipeline(transaction=True, raise_on_error=False)
    await pipe.incr("{t}n")
    await pipe.lpush("{t}s", "y")  # fails when EXEC runs it
    await pipe.incr("{t}n")
    first, error, second = await pipe.commit()
    assert (first, second) == (1, 2)
    assert isinstance(error, WrongTypeError)
    strict = store.pipeline(transaction=True)
    await strict.incr("{t}n")
    await strict.lpush("{t}s", "y")
    await strict.incr("{t}n")
    with pytest.raises(WrongTypeError):
        await strict.commit()
    # the others were applied all the same (that is what EXEC does)
    assert await store.execute("GET", "{t}n") == b"4"
    pool = pool_of(store, "{t}n")
    assert pool.in_use == 0 and pool.idle == 1


async def test_queueing_error_aborts_the_transaction(store: RedisStore) -> None:
    # one slot ({t}) on a cluster: a transaction needs all its keys in one slot
    pipe = store.pipeline(transaction=True, raise_on_error=False)
    await pipe.incr("{t}n")
    await pipe.execute("SET", "{t}only-a-key")  # wrong number of arguments: refused at once
    await pipe.incr("{t}n")
    with pytest.raises(ResponseError) as info:
        await pipe.commit()
    assert info.value.code == "EXECABORT"
    assert isinstance(info.value.__cause__, ResponseError)
    assert "wrong number of arguments" in str(info.value.__cause__)
    assert await store.execute("EXISTS", "{t}n") == 0  # nothing applied
    assert pool_of(store, "{t}n").idle == 1
    await pipe.incr("{t}n")
    assert await pipe.commit() == [1]


async def test_watch_detects_a_concurrent_writer(store_factory: StoreFactory) -> None:
    store = store_factory()
    other = store_factory()
    await store.flush()
    await store.execute("SET", "k", "1")
    pipe = store.pipeline(transaction=True)
    assert await pipe.watch("k") is True
    assert pipe.watching
    assert pool_of(store, "k").in_use == 1  # the watching connection is held
    # immediate mode: commands run at once and return their replies
    assert await pipe.get("k") == b"1"
    assert await pipe.hgetall("{k}nothing") == {}  # "k"'s slot: a cluster transaction has one
    await other.execute("SET", "k", "changed")
    pipe.multi()
    assert await pipe.set("k", "mine") is pipe
    with pytest.raises(WatchError):
        await pipe.commit()
    assert await store.execute("GET", "k") == b"changed"
    assert not pipe.watching and connections(store)[0] == 0
    # the same pipeline again, this time without interference
    await pipe.watch("k")
    value = await pipe.get("k")
    pipe.multi()
    await pipe.set("k", value + b"+mine")
    await pipe.get("k")
    assert await pipe.commit() == [True, b"changed+mine"]
    assert connections(store)[0] == 0


async def test_watch_with_nothing_queued_still_checks(store_factory: StoreFactory) -> None:
    store = store_factory()
    other = store_factory()
    await store.flush()
    async with store.pipeline(transaction=True) as pipe:
        await pipe.watch("k")
        pipe.multi()
        assert await pipe.commit() == []
        await pipe.watch("k")
        await other.execute("SET", "k", "x")
        pipe.multi()
        with pytest.raises(WatchError):
            await pipe.commit()


async def test_reset_and_unwatch_forget_the_watch(store_factory: StoreFactory) -> None:
    store = store_factory()
    other = store_factory()
    await store.flush()
    for how in ("reset", "unwatch", "exit", "commit"):
        async with store.pipeline(transaction=True) as pipe:
            await pipe.watch("k")
            await pipe.get("k")
            if how == "reset":
                await pipe.reset()
            elif how == "unwatch":
                assert await pipe.unwatch() is True
                assert not pipe.watching
            elif how == "commit":
                assert await pipe.commit() == []  # nothing queued: just unwatch
        pool = pool_of(store, "k")
        assert pool.in_use == 0 and pool.idle == 1
        await other.execute("SET", "k", how)
        # the pooled connection that watched "k" must not make this transaction fail
        tx = store.pipeline(transaction=True)
        await tx.get("k")
        assert await tx.commit() == [how.encode()]


async def test_watch_rules(store: RedisStore) -> None:
    pipe = store.pipeline(transaction=True)
    with pytest.raises(DataError):
        await pipe.watch()
    await pipe.set("a", 1)
    with pytest.raises(StoreError):
        await pipe.watch("a")
    await pipe.reset()
    pipe.multi()
    with pytest.raises(StoreError):
        pipe.multi()
    with pytest.raises(StoreError):
        await pipe.watch("a")
    await pipe.reset()
    assert connections(store)[0] == 0


async def test_multi_turns_a_plain_pipeline_into_a_transaction(store: RedisStore) -> None:
    before = await command_calls(store, "multi")
    pipe = store.pipeline()
    pipe.multi()
    await pipe.incr("a")
    assert await pipe.commit() == [1]
    assert await command_calls(store, "multi") == {"multi": before["multi"] + 1}
    await pipe.incr("a")  # multi() lasts until the commit
    assert await pipe.commit() == [2]
    assert await command_calls(store, "multi") == {"multi": before["multi"] + 1}


@pytest.mark.single_node(
    "CLIENT KILL goes to a random primary, not necessarily the node of the "
    "watching connection it names"
)
async def test_lost_watch_connection_never_runs_unguarded(store_factory: StoreFactory) -> None:
    store = store_factory()
    killer = store_factory()
    await store.flush()
    pipe = store.pipeline(transaction=True)
    await pipe.watch("k")
    client_id = await pipe.execute("CLIENT", "ID")
    assert await killer.execute("CLIENT", "KILL", "ID", client_id) == 1
    with pytest.raises(ConnectionError):
        await pipe.get("k")
    assert store.pool.in_use == 0
    with pytest.raises(WatchError):
        await pipe.get("k")
    pipe.multi()
    await pipe.set("k", "unguarded")
    with pytest.raises(WatchError):
        await pipe.commit()
    assert await store.execute("EXISTS", "k") == 0
    # the pipeline works again once the failed transaction is over
    await pipe.watch("k")
    pipe.multi()
    await pipe.set("k", "guarded")
    assert await pipe.commit() == [True]


# -- store.transaction ------------------------------------------------------------------------


async def test_transaction_retries_against_a_concurrent_writer(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    other = store_factory()
    await store.flush()
    await store.execute("SET", "counter", 10)
    calls = 0

    async def increment(pipe: Any) -> None:
        nonlocal calls
        calls += 1
        value = int(await pipe.get("counter"))
        if calls == 1:
            await other.execute("INCR", "counter")  # lands between WATCH and EXEC
        pipe.multi()
        await pipe.set("counter", value + 1)

    assert await store.transaction(increment, "counter") == [True]
    assert calls == 2
    # 10, +1 by the other writer, +1 by us on the second attempt: no update was lost
    assert await store.execute("GET", "counter") == b"12"
    assert connections(store)[0] == 0


async def test_transaction_retries_are_bounded(store_factory: StoreFactory) -> None:
    store = store_factory()
    other = store_factory()
    await store.flush()
    calls = 0

    async def always_disturbed(pipe: Any) -> None:
        nonlocal calls
        calls += 1
        await pipe.get("k")
        await other.execute("INCR", "k")
        pipe.multi()
        await pipe.set("k", "mine")

    with pytest.raises(WatchError):
        await store.transaction(always_disturbed, "k", retries=2)
    assert calls == 3
    calls = 0
    with pytest.raises(WatchError):
        await store.transaction(always_disturbed, "k", retries=0)
    assert calls == 1
    assert await store.execute("GET", "k") == b"4"
    assert connections(store)[0] == 0
    with pytest.raises(ValueError):
        await store.transaction(always_disturbed, "k", retries=-1)


async def test_transaction_calls_multi_when_func_did_not(store: RedisStore) -> None:
    # one slot ({t}) on a cluster: a transaction needs all its keys in one slot
    async def read_only(pipe: Any) -> None:
        assert await pipe.get("{t}k") is None

    assert await store.transaction(read_only, "{t}k") == []

    async def queue_only(pipe: Any) -> None:
        await pipe.set("{t}k", "v")
        await pipe.incr("{t}n")

    # no keys: nothing to watch, the commands queue and run as MULTI/EXEC
    assert await store.transaction(queue_only) == [True, 1]
    assert await store.execute("GET", "{t}k") == b"v"


async def test_transaction_error_gives_the_connection_back(store: RedisStore) -> None:
    async def broken(pipe: Any) -> None:
        await pipe.get("k")
        raise RuntimeError("func failed")

    with pytest.raises(RuntimeError):
        await store.transaction(broken, "k")
    pool = pool_of(store, "k")
    assert pool.in_use == 0 and pool.idle == 1
