"""asyncio only: a cancelled command never leaves its reply for the next caller."""

from __future__ import annotations

import asyncio

import store.aio


async def test_cancelled_command_does_not_leak_its_reply(redis_url: str) -> None:
    made = store.aio.create_store(redis_url + "/8", max_connections=1)
    await made.flush()
    await made.execute("SET", "a", "value-of-a")
    await made.execute("SET", "b", "value-of-b")
    for delay in (0, 0.0001, 0.001, 0.005):
        task = asyncio.ensure_future(made.execute("BLPOP", "empty-list", 0.05))
        await asyncio.sleep(delay)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert await made.execute("GET", "b") == b"value-of-b"
        assert made.pool.in_use == 0
    # many GETs cancelled at random points; survivors get their own replies
    tasks = [asyncio.ensure_future(made.execute("GET", "a")) for _ in range(200)]
    for i, task in enumerate(tasks):
        if i % 3 == 0:
            task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for i, result in enumerate(results):
        if not isinstance(result, asyncio.CancelledError):
            assert result == b"value-of-a", (i, result)
    assert await made.execute("GET", "b") == b"value-of-b"
    await made.flush()
    await made.close()
