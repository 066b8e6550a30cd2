"""Publish/subscribe against a real redis-server (RESP2 and RESP3, both reply parsers)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from time import monotonic
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import DataError, RedisStore, StoreError

StoreFactory = Callable[..., RedisStore]


# on a cluster, PUBLISH's count is that of the node that took it (Redis's rule)
PUBLISH_COUNTS_ONE_NODE = (
    "PUBLISH counts the subscribers of the node that took it: on a cluster, this PubSub's "
    "other channels and patterns may live on another node"
)


def unique(prefix: str) -> str:
    """A channel name no other test (or leftover subscriber) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fields(message: Any) -> tuple[Any, Any, Any, Any]:
    assert message is not None, "expected a message, got None (timed out)"
    return (message.type, message.channel, message.pattern, message.data)


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = monotonic() + timeout
    while not predicate():
        assert monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await async_sleep(0.01)


async def next_message(ps: Any, timeout: float = 5.0, ignore: bool = False) -> Any:
    message = await ps.get_message(timeout=timeout, ignore_subscribe_messages=ignore)
    assert message is not None, f"no message within {timeout}s"
    return message


# -- subscribe, publish, get_message ---------------------------------------------------------


@pytest.mark.single_node(PUBLISH_COUNTS_ONE_NODE)
async def test_subscribe_publish_and_exact_fields(store: RedisStore) -> None:
    a, b = unique("a"), unique("b")
    client = store.client()
    async with store.pubsub() as ps:
        await ps.subscribe(a, b)
        assert fields(await next_message(ps)) == ("subscribe", a.encode(), None, 1)
        assert fields(await next_message(ps)) == ("subscribe", b.encode(), None, 2)
        assert ps.subscribed and ps.channels == [a.encode(), b.encode()]
        assert await client.publish(a, "hello") == 1
        assert await client.publish(b, b"\x00bytes") == 1
        assert fields(await next_message(ps)) == ("message", a.encode(), None, b"hello")
        assert fields(await next_message(ps)) == ("message", b.encode(), None, b"\x00bytes")
        assert await ps.get_message(timeout=0.05) is None
        numsub = await client.pubsub_numsub(a, b, "nobody-" + a)
        assert numsub == [(a.encode(), 1), (b.encode(), 1), (("nobody-" + a).encode(), 0)]
        assert a.encode() in await client.pubsub_channels(a[:2] + "*")
    assert ps.closed
    assert await ps.get_message(timeout=1) is None  # closed: at once


@pytest.mark.single_node(PUBLISH_COUNTS_ONE_NODE)
async def test_psubscribe_pmessage_and_punsubscribe(store: RedisStore) -> None:
    prefix = unique("p")
    pattern = prefix + ".*"
    client = store.client()
    async with store.pubsub() as ps:
        numpat = await client.pubsub_numpat()
        await ps.psubscribe(pattern)
        assert fields(await next_message(ps)) == ("psubscribe", None, pattern.encode(), 1)
        assert await client.pubsub_numpat() == numpat + 1
        assert await client.publish(prefix + ".x", "data") == 1
        assert await client.publish(prefix + "-no", "data") == 0
        message = await next_message(ps)
        assert fields(message) == ("pmessage", (prefix + ".x").encode(), pattern.encode(), b"data")
        await ps.punsubscribe(pattern)
        assert fields(await next_message(ps)) == ("punsubscribe", None, pattern.encode(), 0)
        assert ps.patterns == [] and not ps.subscribed
        assert await client.publish(prefix + ".x", "data") == 0


async def test_ssubscribe_smessage_and_sunsubscribe(store: RedisStore) -> None:
    shard = unique("s")
    client = store.client()
    async with store.pubsub() as ps:
        await ps.ssubscribe(shard)
        assert fields(await next_message(ps)) == ("ssubscribe", shard.encode(), None, 1)
        assert await client.pubsub_shardnumsub(shard) == [(shard.encode(), 1)]
        assert await client.spublish(shard, "sharded") == 1
        assert fields(await next_message(ps)) == ("smessage", shard.encode(), None, b"sharded")
        assert shard.encode() in await client.pubsub_shardchannels()
        await ps.sunsubscribe(shard)
        assert fields(await next_message(ps)) == ("sunsubscribe", shard.encode(), None, 0)
        assert await client.spublish(shard, "sharded") == 0


@pytest.mark.single_node(PUBLISH_COUNTS_ONE_NODE)
async def test_unsubscribe_some_then_all(store: RedisStore) -> None:
    a, b, c = unique("a"), unique("b"), unique("c")
    client = store.client()
    async with store.pubsub(ignore_subscribe_messages=True) as ps:
        await ps.subscribe(a, b, c)
        assert await ps.get_message(timeout=0.2) is None  # confirmations left out
        await ps.unsubscribe(a)
        # asking overrides the PubSub's setting
        confirmation = await next_message(ps, ignore=False)
        assert fields(confirmation) == ("unsubscribe", a.encode(), None, 2)
        assert await client.publish(a, "x") == 0
        assert await client.publish(b, "y") == 1
        assert fields(await next_message(ps)) == ("message", b.encode(), None, b"y")
        await ps.unsubscribe()
        confirmations = [fields(await next_message(ps, ignore=False)) for _ in range(2)]
        # in the server's order: the counts go down to 0
        assert {m[:3] for m in confirmations} == {
            ("unsubscribe", b.encode(), None),
            ("unsubscribe", c.encode(), None),
        }
        assert [m[3] for m in confirmations] == [1, 0]
        assert ps.channels == [] and not ps.subscribed
        assert await client.publish(b, "y") == 0 and await client.publish(c, "y") == 0


async def test_ignore_subscribe_messages_on_get_message(store: RedisStore) -> None:
    a = unique("a")
    async with store.pubsub() as ps:
        await ps.subscribe(a)
        await ps.psubscribe(a + "*")
        assert await ps.get_message(timeout=0.2, ignore_subscribe_messages=True) is None
        await store.execute("PUBLISH", a, "m")
        got = [await next_message(ps, ignore=True) for _ in range(2)]
        assert sorted(m.type for m in got) == ["message", "pmessage"]


async def test_get_message_timeouts(store: RedisStore) -> None:
    async with store.pubsub() as ps:
        # nothing subscribed: no connection, the wait still lasts the timeout
        assert await ps.get_message(timeout=0) is None
        started = monotonic()
        assert await ps.get_message(timeout=0.2) is None
        assert 0.15 <= monotonic() - started < 3
        assert not ps.connected
        await ps.subscribe(unique("quiet"))
        assert (await next_message(ps)).type == "subscribe"
        started = monotonic()
        assert await ps.get_message(timeout=0.3) is None
        assert 0.25 <= monotonic() - started < 3
        assert await ps.get_message() is None  # default: what already arrived only
        assert ps.connected


async def test_decoded_replies_give_str(store_factory: StoreFactory) -> None:
    store = store_factory(decode_responses=True)
    a = unique("a")
    async with store.pubsub() as ps:
        await ps.subscribe(a)
        assert fields(await next_message(ps)) == ("subscribe", a, None, 1)
        await store.execute("PUBLISH", a, "texte é")
        assert fields(await next_message(ps)) == ("message", a, None, "texte é")


async def test_subscribe_needs_names_and_callable_handlers(store: RedisStore) -> None:
    async with store.pubsub() as ps:
        with pytest.raises(DataError):
            await ps.subscribe()
        with pytest.raises(TypeError):
            await ps.subscribe(**{unique("a"): "not callable"})
        with pytest.raises(DataError):
            await ps.subscribe(42)  # type: ignore[arg-type]
        assert not ps.connected and not ps.subscribed
    with pytest.raises(StoreError):
        await ps.subscribe(unique("a"))


# -- iteration, handlers, the background runner ----------------------------------------------


async def test_iteration_ends_when_closed(store: RedisStore) -> None:
    a = unique("a")
    ps = store.pubsub(ignore_subscribe_messages=True)
    await ps.subscribe(a)
    for i in range(3):
        await store.execute("PUBLISH", a, f"m{i}")
    seen: list[Any] = []
    async for message in ps:
        seen.append(fields(message))
        if len(seen) == 3:
            await ps.close()
    assert seen == [("message", a.encode(), None, f"m{i}".encode()) for i in range(3)]
    assert ps.closed and not ps.connected


@pytest.mark.single_node(
    "the order of two channels' messages: on a cluster each PUBLISH goes to its channel's "
    "slot owner and the cluster bus delivers the other node's later"
)
async def test_channel_handlers_in_get_message(store: RedisStore) -> None:
    a, b = unique("a"), unique("b")
    handled: list[Any] = []

    async def on_a(message: Any) -> None:
        handled.append(fields(message))

    async with store.pubsub(ignore_subscribe_messages=True) as ps:
        await ps.subscribe(b, **{a: on_a})
        await ps.get_message(timeout=0.1)
        await store.execute("PUBLISH", a, "to-handler")
        await store.execute("PUBLISH", b, "to-caller")
        # the handled message is consumed, the wait goes on to the next one
        assert fields(await next_message(ps)) == ("message", b.encode(), None, b"to-caller")
        assert handled == [("message", a.encode(), None, b"to-handler")]


@pytest.mark.single_node(PUBLISH_COUNTS_ONE_NODE)
async def test_background_runner_calls_handlers(
    store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, prefix = unique("a"), unique("b"), unique("p")
    by_channel: list[Any] = []
    by_pattern: list[Any] = []
    others: list[Any] = []

    async def on_a(message: Any) -> None:  # a coroutine function where the client is async
        by_channel.append(fields(message))

    def on_pattern(message: Any) -> None:  # a plain function works in both
        by_pattern.append(fields(message))
        if message.data == b"boom":
            raise RuntimeError("handler failure")

    ps = store.pubsub(ignore_subscribe_messages=True)
    await ps.subscribe(b, **{a: on_a})
    await ps.psubscribe(**{prefix + "*": on_pattern})
    ps.run(others.append)
    assert ps.running
    with pytest.raises(StoreError):
        await ps.get_message(timeout=0.1)  # one reader at a time
    with pytest.raises(StoreError):
        ps.run()
    client = store.client()
    assert await client.publish(a, "1") == 1
    assert await client.publish(b, "2") == 1
    with caplog.at_level(logging.ERROR, logger="store.pubsub"):
        assert await client.publish(prefix + "x", "boom") == 1
        assert await client.publish(prefix + "y", "after") == 1
        await eventually(lambda: len(by_pattern) == 2, "the pattern handler")
    await eventually(lambda: bool(by_channel and others), "the other handlers")
    assert by_channel == [("message", a.encode(), None, b"1")]
    assert [fields(m) for m in others] == [("message", b.encode(), None, b"2")]
    assert by_pattern == [
        ("pmessage", (prefix + "x").encode(), (prefix + "*").encode(), b"boom"),
        ("pmessage", (prefix + "y").encode(), (prefix + "*").encode(), b"after"),
    ]
    failures = [r for r in caplog.records if r.name == "store.pubsub" and r.exc_info]
    assert len(failures) == 1 and str(failures[0].exc_info[1]) == "handler failure"
    assert await ps.stop() is True
    assert not ps.running
    # stopped: the caller can read again
    await client.publish(b, "3")
    assert fields(await next_message(ps)) == ("message", b.encode(), None, b"3")
    started = monotonic()
    ps.run()
    await ps.close()
    assert monotonic() - started < 5
    assert not ps.running and ps.closed


@pytest.mark.single_node(PUBLISH_COUNTS_ONE_NODE)
async def test_subscribe_returns_once_the_server_confirmed(
    store_factory: StoreFactory,
) -> None:
    # A new subscriber connection and an established publisher one: without waiting for
    # the confirmation, the PUBLISH can reach the server first and find no subscriber.
    store = store_factory()
    client = store.client()
    for _ in range(20):
        channel, pattern = unique("c"), unique("p")
        async with store.pubsub(ignore_subscribe_messages=True) as ps:
            await ps.subscribe(channel)
            await ps.psubscribe(pattern + "*")
            assert await client.publish(channel, "m") == 1
            assert await client.publish(pattern + "x", "m") == 1
            message = await next_message(ps, ignore=True)
            assert fields(message) == ("message", channel.encode(), None, b"m")


@pytest.mark.single_node(PUBLISH_COUNTS_ONE_NODE)
async def test_a_runner_handler_can_subscribe(store: RedisStore) -> None:
    # the runner is in the handler, not reading: subscribe() reads the confirmation itself
    first, second = unique("first"), unique("second")
    outcome: list[Any] = []
    received: list[Any] = []
    ps = store.pubsub(ignore_subscribe_messages=True)

    async def on_first(message: Any) -> None:
        try:
            await ps.subscribe(**{second: received.append})
            outcome.append("subscribed")
        except Exception as exc:  # recorded: the runner would only log it
            outcome.append(exc)

    await ps.subscribe(**{first: on_first})
    ps.run()
    client = store.client()
    try:
        assert await client.publish(first, "go") == 1
        await eventually(lambda: bool(outcome), "the handler", timeout=30)
        assert outcome == ["subscribed"]
        assert await client.publish(second, "after") == 1
        await eventually(lambda: bool(received), "the second channel's message")
        assert [fields(m) for m in received] == [("message", second.encode(), None, b"after")]
    finally:
        await ps.close()


async def test_close_stops_a_blocked_runner_promptly(store: RedisStore) -> None:
    ps = store.pubsub(health_check_interval=0)
    await ps.subscribe(unique("idle"))
    ps.run()
    await async_sleep(0.1)  # the runner waits on the socket now
    started = monotonic()
    await ps.close()
    assert monotonic() - started < 3
    assert not ps.running


# -- health checks and reconnection ----------------------------------------------------------


@pytest.mark.single_node("CLIENT LIST is answered by one random primary of the cluster")
async def test_idle_health_check_pings(store_factory: StoreFactory) -> None:
    name = unique("hc")
    store = store_factory(client_name=name)
    async with store.pubsub(health_check_interval=0.1) as ps:
        await ps.subscribe(unique("quiet"))
        assert (await next_message(ps)).type == "subscribe"
        # PINGs go out and their PONGs ("pong" arrays in RESP2) are no messages
        assert await ps.get_message(timeout=0.5) is None
        clients = await store.client().client_list(_type="pubsub")
        mine = [c for c in clients if c.get("name") == name]
        assert len(mine) == 1 and mine[0]["cmd"] == "ping"
        assert ps.connected


def _silent_server(subscribed: list[int]) -> Callable[[bytes], bytes | None]:
    """Answers the handshake and SUBSCRIBE, never PING: a peer that stopped answering."""

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return b"-ERR unknown command 'HELLO'\r\n"
        if b"SUBSCRIBE" in data:
            subscribed.append(1)
            return b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
        return b""

    return respond


async def test_dead_peer_is_detected_and_replaced(
    store_factory: StoreFactory, scripted_server: Any
) -> None:
    subscribed: list[int] = []
    server = scripted_server(_silent_server(subscribed))
    store = store_factory(server.url)
    async with store.pubsub(health_check_interval=0.2, reconnect_backoff=0.01) as ps:
        await ps.subscribe("news")
        assert fields(await next_message(ps)) == ("subscribe", b"news", None, 1)
        started = monotonic()
        lost = await next_message(ps, timeout=5)
        assert lost.type == "disconnected" and "PING" in lost.data
        assert 0.3 <= monotonic() - started < 5
        back = await next_message(ps, timeout=5)
        assert fields(back) == ("reconnected", None, None, 1)
        # subscribed again on the new connection
        assert fields(await next_message(ps)) == ("subscribe", b"news", None, 1)
        assert server.connections == 2 and len(subscribed) == 2


async def test_restart_resubscribes_everything(
    store_factory: StoreFactory, restartable_server: Any
) -> None:
    store = store_factory(restartable_server.url)
    client = store.client()
    a, b, late, shard, prefix = (unique(n) for n in ("a", "b", "late", "s", "p"))
    pattern = prefix + "*"
    ps = store.pubsub(reconnect_backoff=0.02, reconnect_backoff_max=0.2, health_check_interval=0)
    async with ps:
        await ps.subscribe(a, b)
        await ps.psubscribe(pattern)
        await ps.ssubscribe(shard)
        kinds = [(await next_message(ps)).type for _ in range(4)]
        assert kinds == ["subscribe", "subscribe", "psubscribe", "ssubscribe"]
        assert await client.publish(a, "before") == 1
        assert fields(await next_message(ps)) == ("message", a.encode(), None, b"before")

        restartable_server.stop()
        lost = await next_message(ps)  # no exception: a status message
        assert lost.type == "disconnected" and isinstance(lost.data, str)
        await ps.subscribe(late)  # recorded while disconnected, sent on reconnection
        restartable_server.start()

        seen: list[Any] = []
        deadline = monotonic() + 15
        while not any(m.type == "reconnected" for m in seen):
            assert monotonic() < deadline, f"never reconnected: {seen}"
            message = await ps.get_message(timeout=0.2)
            if message is not None:
                seen.append(message)
        assert [m.type for m in seen][-1] == "reconnected" and seen[-1].data >= 1
        # every subscription is back, on the new server
        receivers = 0
        while receivers < 1:
            assert monotonic() < deadline, "the publish never reached the subscriber"
            receivers = await client.publish(a, "after")
            if receivers < 1:
                await async_sleep(0.05)
        numsub = await client.pubsub_numsub(a, b, late)
        assert numsub == [(a.encode(), 1), (b.encode(), 1), (late.encode(), 1)]
        assert await client.pubsub_numpat() == 1
        assert await client.pubsub_shardnumsub(shard) == [(shard.encode(), 1)]
        await client.publish(prefix + "x", "p-after")
        await client.spublish(shard, "s-after")
        await client.publish(late, "late-after")
        got = []
        while len(got) < 4:
            message = await next_message(ps, ignore=True)
            got.append(fields(message))
        assert got == [
            ("message", a.encode(), None, b"after"),
            ("pmessage", (prefix + "x").encode(), pattern.encode(), b"p-after"),
            ("smessage", shard.encode(), None, b"s-after"),
            ("message", late.encode(), None, b"late-after"),
        ]


async def test_runner_sees_status_messages_across_a_restart(
    store_factory: StoreFactory, restartable_server: Any
) -> None:
    store = store_factory(restartable_server.url)
    a = unique("a")
    received: list[Any] = []
    statuses: list[str] = []

    async def handler(message: Any) -> None:
        if message.type in ("disconnected", "reconnected"):
            statuses.append(message.type)
        else:
            received.append(fields(message))

    async with store.pubsub(ignore_subscribe_messages=True, reconnect_backoff=0.02) as ps:
        await ps.subscribe(a)
        ps.run(handler)
        await eventually(lambda: ps.connected, "the connection")
        restartable_server.stop()
        await eventually(lambda: "disconnected" in statuses, "the disconnected status")
        restartable_server.start()
        await eventually(lambda: "reconnected" in statuses, "the reconnected status")
        deadline = monotonic() + 10
        while await store.execute("PUBLISH", a, "again") < 1:
            assert monotonic() < deadline, "never subscribed again"
            await async_sleep(0.05)
        await eventually(lambda: bool(received), "the message after the restart")
        assert received[0] == ("message", a.encode(), None, b"again")
        assert statuses[:2] == ["disconnected", "reconnected"]
        assert ps.running


# -- a reader that falls behind (max_pending) ----------------------------------------------


async def test_max_pending_must_be_a_positive_int(store: RedisStore) -> None:
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="max_pending"):
            store.pubsub(max_pending=bad)
    assert store.pubsub().max_pending == 10_000


@pytest.mark.single_node(PUBLISH_COUNTS_ONE_NODE)
async def test_a_reader_that_falls_behind_is_disconnected_and_resubscribed(
    store: RedisStore,
) -> None:
    a, b = unique("a"), unique("b")
    async with store.pubsub(max_pending=10) as ps:
        await ps.subscribe(a)
        assert fields(await next_message(ps)) == ("subscribe", a.encode(), None, 1)
        pipe = store.pipeline()
        for i in range(50):
            await pipe.publish(a, str(i))
        await pipe.commit()
        # the asynchronous client stops at 10 as they arrive; the blocking one when
        # subscribe() reads them for the reader while it waits for b's confirmation
        await ps.subscribe(b)
        received = []
        message = await next_message(ps)
        while message.type == "message":
            received.append(message.data)
            message = await next_message(ps)
        assert received == [str(i).encode() for i in range(10)]
        assert message.type == "disconnected" and "max_pending" in message.data
        assert (await next_message(ps)).type == "reconnected"
        confirmed = {(await next_message(ps)).channel, (await next_message(ps)).channel}
        assert confirmed == {a.encode(), b.encode()}
        assert await store.client().publish(b, "after") == 1
        assert fields(await next_message(ps)) == ("message", b.encode(), None, b"after")
