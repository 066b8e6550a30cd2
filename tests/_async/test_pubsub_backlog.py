"""A pub/sub backlog: read in linear time, and bounded in memory when nobody reads.

The backlog is published on another connection while the subscriber does not read, so
that it is read back in one go (the event loop, or the kernel, holds it meanwhile).
"""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Callable
from time import monotonic, process_time
from typing import Any

from store.aio import RedisStore, create_store
from store.messages import DISCONNECTED, RECONNECTED

StoreFactory = Callable[..., RedisStore]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def publish(store: RedisStore, channel: str, count: int, size: int, batch: int) -> None:
    """``count`` messages of ``size`` bytes, pipelined ``batch`` at a time."""
    for start in range(0, count, batch):
        pipe = store.pipeline()
        for i in range(start, min(start + batch, count)):
            await pipe.publish(channel, b"%0*d" % (size, i))
        await pipe.commit()


async def test_backlog_of_20000_messages_is_read_quickly(store_factory: StoreFactory) -> None:
    store = store_factory()
    channel = unique("backlog")
    count = 20_000
    async with store.pubsub(ignore_subscribe_messages=True, max_pending=count + 10) as ps:
        await ps.subscribe(channel)
        await publish(store, channel, count, 300, 2_000)
        start, cpu = monotonic(), process_time()
        for i in range(count):
            message = await ps.get_message(timeout=5.0)
            assert message is not None, f"message {i} did not come within 5s"
            assert message.type == "message" and message.data == b"%0300d" % i
        elapsed, cpu = monotonic() - start, process_time() - cpu
    # 0.05s to 0.25s here; before, hiredis fed the whole backlog (6 MB) at once took
    # 1.6s. CPU time, which other processes on the machine hardly change; the wall
    # clock only catches a stall.
    assert cpu < 0.5, f"reading {count} messages took {cpu:.2f}s of CPU"
    assert elapsed < 5.0, f"reading {count} messages took {elapsed:.2f}s"


async def test_subscriber_that_does_not_read_stays_bounded(redis_url: str) -> None:
    # 95 MB published to a subscriber that does not read. The async client reads the
    # socket anyway (the event loop does) and stops at max_pending messages: it drops
    # the connection as Redis would. The blocking one reads nothing meanwhile: the
    # server's client-output-buffer-limit (pubsub 32mb hard) drops it.
    subscriber = create_store(redis_url)
    publisher = create_store(redis_url)
    assert isinstance(subscriber, RedisStore) and isinstance(publisher, RedisStore)
    channel = unique("flood")
    size, count, bound = 1_000, 95_000, 5_000
    try:
        ps: Any = subscriber.pubsub(ignore_subscribe_messages=True, max_pending=bound)
        await ps.subscribe(channel)
        tracemalloc.start()
        try:
            await publish(publisher, channel, count, size, 1_000)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # the bound is 5 MB of payloads (plus message objects): allow for 3x that
        assert peak < 3 * bound * size, f"peak {peak / 1e6:.1f} MB while not reading"
        kinds: list[str] = []
        received = 0
        while not kinds or kinds[-1] != RECONNECTED:
            message = await ps.get_message(timeout=10.0)
            assert message is not None, f"no reconnection after {received} messages {kinds}"
            if message.type == "message":
                assert message.data == b"%0*d" % (size, received)  # the first ones, in order
                received += 1
            else:
                kinds.append(message.type)
        assert kinds == [DISCONNECTED, RECONNECTED]
        if True:  # ASYNC
            assert 0 < received <= bound  # max_pending stopped the reading
        else:  # SYNC
            assert 0 < received < count // 2  # what the kernel buffered; Redis dropped the rest
        # subscribed again: new messages come
        assert await publisher.client().publish(channel, "after") == 1
        message = await ps.get_message(timeout=5.0)
        assert message is not None and message.data == b"after"
        await ps.close()
    finally:
        await subscriber.close()
        await publisher.close()
