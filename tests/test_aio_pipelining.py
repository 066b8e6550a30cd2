"""asyncio only: automatic pipelining (concurrent commands share one connection)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import store.aio
import store.sync
from store.errors import ConnectionError, StatefulCommandError, TimeoutError

Factory = Callable[..., store.aio.RedisStore]


@pytest.fixture
async def make_store() -> AsyncIterator[Factory]:
    made: list[store.aio.RedisStore] = []

    def factory(url: str, **kw: Any) -> store.aio.RedisStore:
        result = store.aio.create_store(url, **kw)
        assert isinstance(result, store.aio.RedisStore)
        made.append(result)
        return result

    yield factory
    for result in made:
        await result.close()


async def _connections_named(url: str, name: str) -> int:
    observer = store.aio.create_store(url, auto_pipelining=False)
    try:
        listing = await observer.execute("CLIENT", "LIST")
    finally:
        await observer.close()
    text = listing.decode() if isinstance(listing, bytes) else str(listing)
    return sum(1 for line in text.splitlines() if f" name={name} " in line)


async def test_thousand_tasks_share_one_connection(redis_url: str, make_store: Factory) -> None:
    name = f"mux-{uuid.uuid4().hex[:8]}"
    made = make_store(redis_url + "/9", client_name=name)
    await made.flush()

    async def work(i: int) -> None:
        assert await made.execute("SET", f"k{i}", f"v{i}") == b"OK"
        assert await made.execute("INCR", f"c{i}") == 1
        assert await made.execute("INCRBY", f"c{i}", i) == 1 + i
        assert await made.execute("GET", f"k{i}") == f"v{i}".encode()

    async with asyncio.timeout(30):
        await asyncio.gather(*(work(i) for i in range(1000)))
    assert await _connections_named(redis_url, name) == 1
    assert made.pool.in_use == 0 and made.pool.idle == 1
    await made.flush()


async def test_concurrent_commands_are_written_together(
    redis_url: str, make_store: Factory
) -> None:
    name = f"mux-{uuid.uuid4().hex[:8]}"
    made = make_store(redis_url + "/9", client_name=name)
    await made.execute("MSET", *(x for i in range(200) for x in (f"g{i}", f"value-{i}")))
    tasks = [asyncio.ensure_future(made.execute("GET", f"g{i}")) for i in range(200)]
    await asyncio.sleep(0)
    # every task has queued its command on the one shared connection before any reply
    multiplexer = made._multiplexer
    assert multiplexer is not None and multiplexer.shared is not None
    assert len(multiplexer.shared.waiters) == 200
    assert made.pool.in_use == 1
    async with asyncio.timeout(10):
        results = await asyncio.gather(*tasks)
    assert results == [f"value-{i}".encode() for i in range(200)]
    assert made.pool.in_use == 0 and made.pool.idle == 1
    assert await _connections_named(redis_url, name) == 1
    await made.flush()


async def test_random_cancellation_never_mixes_replies(redis_url: str, make_store: Factory) -> None:
    made = make_store(redis_url + "/9")
    count = 3000
    await made.execute("MSET", *(x for i in range(count) for x in (f"r{i}", f"reply-{i}")))
    rng = random.Random(20261126)

    async def cancel_later(task: asyncio.Future[Any], spins: int) -> None:
        for _ in range(spins):
            await asyncio.sleep(0)
        task.cancel()

    async with asyncio.timeout(30):
        for _round in range(3):
            tasks = [asyncio.ensure_future(made.execute("GET", f"r{i}")) for i in range(count)]
            cancellers = [
                asyncio.ensure_future(cancel_later(task, rng.randrange(6)))
                for task in tasks
                if rng.random() < 0.4
            ]
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*cancellers)
            cancelled = 0
            for i, result in enumerate(results):
                if isinstance(result, asyncio.CancelledError):
                    cancelled += 1
                else:
                    assert result == f"reply-{i}".encode(), (i, result)
            assert 0 < cancelled < count
            # later commands, one at a time and concurrent, get their own replies
            assert await made.execute("GET", "r7") == b"reply-7"
            again = await asyncio.gather(*(made.execute("GET", f"r{i}") for i in range(100)))
            assert again == [f"reply-{i}".encode() for i in range(100)]
    assert made.pool.in_use == 0 and made.pool.idle == 1
    await made.flush()


async def test_server_restart_fails_pending_and_recovers(
    restartable_server: Any, make_store: Factory
) -> None:
    made = make_store(restartable_server.url, retries=1, retry_backoff=0.01)
    await made.execute("DEL", "before", "after")
    stop = asyncio.Event()
    successes = 0
    failures = 0

    async def worker() -> None:
        nonlocal successes, failures
        while not stop.is_set():
            try:
                await made.execute("INCR", "before")
            except ConnectionError:
                failures += 1
                await asyncio.sleep(0.01)
            else:
                successes += 1

    async with asyncio.timeout(60):
        workers = [asyncio.ensure_future(worker()) for _ in range(100)]
        await asyncio.sleep(0.2)
        await asyncio.to_thread(restartable_server.stop)
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*workers)
        assert successes > 0 and failures > 0
        await asyncio.to_thread(restartable_server.start)

        # fresh connection: every command succeeds, each INCR applied exactly once
        async def incr(n: int) -> int:
            for _ in range(n):
                await made.execute("INCR", "after")
            return n

        done = await asyncio.gather(*(incr(20) for _ in range(100)))
        assert await made.execute("GET", "after") == str(sum(done)).encode()
        persisted = await made.execute("GET", "before")
        if persisted is not None:  # saved at shutdown: never re-sent, so never over-counted
            assert successes <= int(persisted) <= successes + failures
    assert made.pool.in_use == 0


async def test_stalled_server_times_out_every_pending_command(
    scripted_server: Any, make_store: Factory
) -> None:
    answering = {"on": False}

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return b"-ERR unknown command 'HELLO'\r\n"
        if answering["on"]:
            return b"$5\r\nlater\r\n" * data.count(b"GET")
        return b""  # never answers

    server = scripted_server(respond)
    made = make_store(server.url, socket_timeout=0.3, retries=0)
    async with asyncio.timeout(10):
        results = await asyncio.gather(
            *(made.execute("GET", f"k{i}") for i in range(50)), return_exceptions=True
        )
        assert all(isinstance(result, TimeoutError) for result in results), results
        assert made.pool.in_use == 0 and made.pool.idle == 0
        answering["on"] = True
        assert await made.execute("GET", "k") == b"later"
        assert (
            await asyncio.gather(*(made.execute("GET", "k") for _ in range(20))) == [b"later"] * 20
        )
    assert server.connections == 2


async def test_blocking_command_does_not_hold_up_others(
    redis_url: str, make_store: Factory
) -> None:
    made = make_store(redis_url + "/9")
    await made.execute("DEL", "waiting-list")
    await made.execute("SET", "plain", "fast")
    async with asyncio.timeout(10):
        blpop = asyncio.ensure_future(made.execute("BLPOP", "waiting-list", 5))
        await asyncio.sleep(0.05)
        for _ in range(20):
            results = await asyncio.gather(*(made.execute("GET", "plain") for _ in range(50)))
            assert results == [b"fast"] * 50
        assert not blpop.done()
        assert made.pool.in_use == 1  # the BLPOP's own connection
        await made.execute("RPUSH", "waiting-list", "item")
        assert await blpop == [b"waiting-list", b"item"]
        timed = await made.execute("BLPOP", "waiting-list", 0.1)
        assert timed is None
    await made.flush()


async def test_watch_multi_exec_by_raw_execute_is_refused(
    redis_url: str, make_store: Factory
) -> None:
    """On the shared connection a raw MULTI would queue other callers' commands."""
    made = make_store(redis_url + "/9")
    await made.execute("SET", "watched", "0")
    for args in (("WATCH", "watched"), ("MULTI",), ("EXEC",)):
        with pytest.raises(StatefulCommandError, match=r"store\.pipeline"):
            await made.execute(*args)
    results = await asyncio.gather(*(made.execute("INCR", "watched") for _ in range(10)))
    assert sorted(results) == list(range(1, 11))  # none of them QUEUED
    # the recommended way
    pipe = made.pipeline(transaction=True)
    await pipe.execute("INCR", "watched")
    await pipe.execute("GET", "watched")
    assert await pipe.commit() == [11, b"11"]
    await made.flush()


async def test_close_lets_in_flight_commands_finish_and_reopens(
    redis_url: str, make_store: Factory
) -> None:
    made = make_store(redis_url + "/9")
    await made.execute("SET", "x", "y")
    async with asyncio.timeout(10):
        tasks = [asyncio.ensure_future(made.execute("GET", "x")) for _ in range(100)]
        await asyncio.sleep(0)
        await made.close()
        assert await asyncio.gather(*tasks) == [b"y"] * 100
        assert made.pool.idle == 0 and made.pool.in_use == 0
        assert await made.execute("GET", "x") == b"y"
        assert made.pool.idle == 1
    await made.flush()


async def test_auto_pipelining_off_takes_the_pool_path(redis_url: str, make_store: Factory) -> None:
    made = make_store(redis_url + "/9?auto_pipelining=false")
    assert made._multiplexer is None
    assert "auto_pipelining=false" in made.dns
    await made.execute("SET", "p", "q")
    async with asyncio.timeout(10):
        results = await asyncio.gather(*(made.execute("GET", "p") for _ in range(20)))
    assert results == [b"q"] * 20
    assert made.pool.idle > 1  # one connection per concurrent command
    on = make_store(redis_url + "/9", auto_pipelining=True)
    assert on._multiplexer is not None
    assert await on.execute(bytearray(b"GET"), "p") == b"q"  # unhashable: normalized
    assert await on.execute(b"get", "p") == b"q"


def test_blocking_variant_never_multiplexes(redis_url: str) -> None:
    made = store.sync.create_store(redis_url, auto_pipelining=True)
    assert isinstance(made, store.sync.RedisStore)
    assert not hasattr(made, "_multiplexer")  # the async-only code is not in the twin
    assert not (Path(store.sync.__file__).parent / "_sync" / "multiplex.py").exists()
    assert made.execute("PING") in (True, b"PONG")
    made.close()
