"""One store.aio store used from one event loop after another (test suites and Django run
``asyncio.run()`` more than once): each loop gets connections and synchronisation of its
own, and the old loop's connections go without a ResourceWarning. Async only: the
blocking variant has no event loop."""

from __future__ import annotations

import asyncio
import gc
import uuid
import warnings
from typing import Any

import pytest

from store.aio import RedisStore, create_store
from tests.conftest import RedisServer

pytestmark = pytest.mark.timeout(60)


async def _work(store: RedisStore, key: str) -> list[Any]:
    """Pooled and shared-connection traffic, with more callers than connections (so the
    pool's semaphore has waiters on this loop), leaving a command in flight at the end."""

    async def commit(i: int) -> Any:
        pipe = store.pipeline()
        await pipe.execute("INCR", key)
        await pipe.execute("GET", key)
        return await pipe.commit()

    pipelined = await asyncio.gather(*(commit(i) for i in range(8)))
    shared = await asyncio.gather(*(store.execute("PING") for _ in range(10)))
    # sent on the shared connection and abandoned: the loop ends with its reply pending
    asyncio.get_running_loop().create_task(store.execute("GET", key))
    await asyncio.sleep(0)
    return [len(pipelined), shared.count(True) + shared.count(b"PONG") + shared.count("PONG")]


def _resource_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_one_store_on_two_event_loops_in_a_row(redis_server: RedisServer) -> None:
    key = f"loops:{uuid.uuid4().hex[:12]}"
    made = create_store(redis_server.url, max_connections=2, pool_timeout=10)
    assert isinstance(made, RedisStore)
    store = made
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = asyncio.run(_work(store, key))
        gc.collect()
        second = asyncio.run(_work(store, key))  # was: Semaphore bound to a different loop
        third = asyncio.run(store.execute("GET", key))
        asyncio.run(store.close())
        del store, made
        gc.collect()
    assert first == second == [8, 10]
    assert int(third) == 16  # every INCR of both loops ran once
    assert _resource_warnings(caught) == []


def test_a_connection_left_idle_by_a_closed_loop_is_closed_without_warning(
    redis_server: RedisServer,
) -> None:
    made = create_store(redis_server.url, auto_pipelining=False)
    assert isinstance(made, RedisStore)
    store = made
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(store.ping())
        assert store.pool.idle == 1  # kept for reuse by a loop that is now closed
        assert asyncio.run(store.ping())
        assert store.pool.idle == 1  # the new loop's own
        asyncio.run(store.close())
        del store, made
        gc.collect()
    assert _resource_warnings(caught) == []
