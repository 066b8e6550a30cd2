"""Channels (JSON events on namespaced pub/sub channels) against a real redis-server."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from time import monotonic
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import ConnectionError, RedisStore, StoreError

StoreFactory = Callable[..., RedisStore]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = monotonic() + timeout
    while not predicate():
        assert monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await async_sleep(0.01)


class Recorder:
    """A callback keeping what it was called with."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail = fail

    def __call__(self, channel: str, event: str, data: Any) -> None:
        self.calls.append((channel, event, data))
        if self.fail:
            raise RuntimeError(f"callback failure on {event}")


async def test_register_exact_and_glob_events(store: RedisStore) -> None:
    news = unique("news")
    exact, everything, updates = Recorder(), Recorder(), Recorder()
    coroutine_calls: list[tuple[str, str, Any]] = []

    async def on_created(channel: str, event: str, data: Any) -> None:
        coroutine_calls.append((channel, event, data))

    async with store.channels() as ch:
        assert ch.status == "initialised" and ch.namespace == ""
        await ch.register(news, "created", exact)
        assert ch.status == "connected"
        await ch.register(news, "created", on_created)
        await ch.register(news, "*", everything)
        await ch.register(news, "update?", updates)
        await ch.register(news, "created", exact)  # twice: still called once
        assert ch.channels == [news]
        assert await ch.publish(news, "created", {"id": 1}) == 1
        assert await ch.publish(news, "updated", [1, 2]) == 1
        assert await ch.publish(news, "deleted") == 1
        await eventually(lambda: len(everything.calls) == 3, "three events")
        await eventually(lambda: len(updates.calls) == 1, "the update")
        assert exact.calls == [(news, "created", {"id": 1})]
        assert coroutine_calls == [(news, "created", {"id": 1})]
        assert everything.calls == [
            (news, "created", {"id": 1}),
            (news, "updated", [1, 2]),
            (news, "deleted", None),
        ]
        assert updates.calls == [(news, "updated", [1, 2])]
    assert ch.status == "closed"
    with pytest.raises(StoreError):
        await ch.register(news, "*", exact)


async def test_unregister_and_the_last_one_unsubscribes(store: RedisStore) -> None:
    news = unique("news")
    first, second = Recorder(), Recorder()
    client = store.client()
    async with store.channels() as ch:
        await ch.register(news, "*", first)
        await ch.register(news, "ping", second)
        assert await ch.unregister(news, "*", second) is False  # not registered for "*"
        assert await ch.unregister(news, "ping", second) is True
        assert ch.callbacks(news) == [first]
        await ch.publish(news, "ping", 1)
        await eventually(lambda: len(first.calls) == 1, "the first callback")
        assert second.calls == []
        assert await ch.unregister(news, "*", first) is True
        assert ch.channels == []
        deadline = monotonic() + 10
        while await client.pubsub_numsub(news) != [(news.encode(), 0)]:
            assert monotonic() < deadline, "never unsubscribed"
            await async_sleep(0.01)
        assert await ch.publish(news, "ping", 2) == 0


async def test_namespace_from_the_url(store_factory: StoreFactory, server_url: str) -> None:
    store = store_factory(server_url + "?namespace=app_")
    news = unique("news")
    got = Recorder()
    async with store.channels() as ch, store.pubsub(ignore_subscribe_messages=True) as raw:
        assert ch.namespace == "app_"
        await raw.subscribe("app_" + news)
        await raw.get_message(timeout=0.1)
        await ch.register(news, "*", got)
        assert await ch.publish(news, "created", {"k": "v"}) == 2  # the raw subscriber too
        message = await raw.get_message(timeout=5)
        assert message is not None and message.channel == ("app_" + news).encode()
        assert json.loads(message.data) == {"channel": news, "event": "created", "data": {"k": "v"}}
        await eventually(lambda: bool(got.calls), "the callback")
        assert got.calls == [(news, "created", {"k": "v"})]
        numsub = await store.client().pubsub_numsub("app_" + news, news)
        assert numsub == [(("app_" + news).encode(), 2), (news.encode(), 0)]
    # a namespace given to channels() wins over the URL's
    other = store.channels(namespace="other_")
    assert other.namespace == "other_"
    await other.close()


async def test_failing_callback_is_removed_others_keep_receiving(
    store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    news = unique("news")
    bad, good = Recorder(fail=True), Recorder()
    with caplog.at_level(logging.ERROR, logger="store.channels"):
        async with store.channels() as ch:
            await ch.register(news, "*", bad)
            await ch.register(news, "*", good)
            await ch.publish(news, "first", 1)
            await ch.publish(news, "second", 2)
            await eventually(lambda: len(good.calls) == 2, "both events")
            assert bad.calls == [(news, "first", 1)]
            assert ch.callbacks(news) == [good]
            assert good.calls == [(news, "first", 1), (news, "second", 2)]
    failures = [r for r in caplog.records if r.name == "store.channels" and r.exc_info]
    assert len(failures) == 1
    assert str(failures[0].exc_info[1]) == "callback failure on first"


async def test_malformed_messages_are_logged_and_skipped(
    store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    news = unique("news")
    got = Recorder()
    with caplog.at_level(logging.WARNING, logger="store.channels"):
        async with store.channels() as ch:
            await ch.register(news, "*", got)
            for bad in ("not json {", "[1, 2]", '{"data": 1}', '{"event": 3}', b"\xff\xfe"):
                assert await store.execute("PUBLISH", news, bad) == 1
            await ch.publish(news, "fine", "ok")
            await eventually(lambda: bool(got.calls), "the good event")
            assert got.calls == [(news, "fine", "ok")]
            assert ch.status == "connected"
    skipped = [r for r in caplog.records if r.name == "store.channels" and "skipped" in r.message]
    assert len(skipped) == 5


async def test_status_events(store: RedisStore) -> None:
    statuses = Recorder()
    async with store.channels() as ch:
        await ch.register(ch.status_channel, "*", statuses)
        assert ch.status == "initialised" and ch.channels == []  # not subscribed on the server
        await ch.register(unique("news"), "*", Recorder())
    assert statuses.calls == [
        ("__status__", "connecting", None),
        ("__status__", "connected", None),
        ("__status__", "closed", None),
    ]


async def test_register_fails_cleanly_when_the_server_is_down(
    store_factory: StoreFactory,
) -> None:
    from tests.conftest import free_port

    store = store_factory(f"redis://127.0.0.1:{free_port()}", retries=0)
    ch = store.channels()
    with pytest.raises(ConnectionError):
        await ch.register("news", "*", Recorder())
    assert ch.status == "disconnected" and ch.channels == []
    await ch.close()
    assert ch.status == "closed"


async def test_channels_survive_a_restart(
    store_factory: StoreFactory, restartable_server: Any
) -> None:
    store = store_factory(restartable_server.url + "?namespace=ns_")
    news, alerts = unique("news"), unique("alerts")
    got_news, got_alerts, statuses = Recorder(), Recorder(), Recorder()
    client = store.client()
    async with store.channels(reconnect_backoff=0.02, reconnect_backoff_max=0.2) as ch:
        await ch.register(ch.status_channel, "*", statuses)
        await ch.register(news, "*", got_news)
        await ch.register(alerts, "fire", got_alerts)
        await ch.publish(news, "before", 1)
        await eventually(lambda: bool(got_news.calls), "the event before the restart")

        restartable_server.stop()
        await eventually(lambda: ch.status == "disconnected", "the disconnected status")
        restartable_server.start()
        await eventually(lambda: ch.status == "connected", "the connected status")

        deadline = monotonic() + 10
        while await ch.publish(news, "after", 2) < 1:
            assert monotonic() < deadline, "the channel was never subscribed again"
            await async_sleep(0.05)
        assert await ch.publish(alerts, "fire", 3) == 1
        numsub = await client.pubsub_numsub("ns_" + news, "ns_" + alerts)
        assert numsub == [(("ns_" + news).encode(), 1), (("ns_" + alerts).encode(), 1)]
        await eventually(lambda: len(got_news.calls) == 2 and bool(got_alerts.calls), "events")
        assert got_news.calls == [(news, "before", 1), (news, "after", 2)]
        assert got_alerts.calls == [(alerts, "fire", 3)]
        events = [event for _, event, _ in statuses.calls]
        assert events[:4] == ["connecting", "connected", "disconnected", "connected"]
        assert isinstance(statuses.calls[2][2], str)  # why it was lost
