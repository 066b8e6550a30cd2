"""Pub/sub on the cluster store against a real cluster (tests/cluster_fixture.py): classic
channels and patterns from any node, shard channels on their slot's primary, a shard
channel following its slot when it moves, Channels over a cluster. Failover is in
tests/test_cluster_faults.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import monotonic
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import ClusterStore, ConnectionError, DataError, PubSubMessage, StoreError
from store.cluster import key_slot
from tests.cluster_fixture import RedisCluster
from tests.conftest import free_port

from .test_cluster import key_of, make, set_slot_owner, shard_map

Address = tuple[str, int]


@pytest.fixture
async def store(redis_cluster: RedisCluster) -> AsyncIterator[ClusterStore]:
    made = make(redis_cluster)
    yield made
    await made.close()


async def next_of(ps: Any, kind: str, timeout: float = 5.0) -> PubSubMessage:
    """The next message of type ``kind`` (others before it are skipped)."""
    deadline = monotonic() + timeout
    while monotonic() < deadline:
        message = await ps.get_message(timeout=deadline - monotonic())
        if message is not None and message.type == kind:
            return message
    raise AssertionError(f"no {kind!r} message within {timeout}s")


def shard_channels_on(cluster: RedisCluster, port: int) -> set[bytes]:
    """The shard channels the node at ``port`` has subscribers for, asked directly."""
    return set(cluster.command(port, "PUBSUB", "SHARDCHANNELS"))


def channel_of(address: Address, cluster: RedisCluster, prefix: str) -> bytes:
    return key_of(address, shard_map(cluster), prefix).encode()


async def test_classic_channels_and_patterns_from_any_node(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    seen: list[PubSubMessage] = []
    ps = store.pubsub(ignore_subscribe_messages=True)
    try:
        await ps.subscribe("news", alerts=seen.append)
        await ps.psubscribe("log.*")
        assert ps.channels == [b"news", b"alerts"] and ps.patterns == [b"log.*"]
        assert ps.subscribed and ps.connected
        # PUBLISH on each primary in turn: the cluster carries it to the subscriber's node
        for address in shard_map(redis_cluster).primaries():
            redis_cluster.command(address[1], "PUBLISH", "news", f"from {address[1]}")
            message = await next_of(ps, "message")
            assert (message.channel, message.data) == (b"news", f"from {address[1]}".encode())
        await store.execute("PUBLISH", "log.disk", "full")
        message = await next_of(ps, "pmessage")
        assert (message.pattern, message.channel, message.data) == (b"log.*", b"log.disk", b"full")
        # a channel with a handler: the handler gets it, get_message goes on waiting
        await store.execute("PUBLISH", "alerts", "fire")
        assert await ps.get_message(timeout=0.5) is None
        assert [(m.channel, m.data) for m in seen] == [(b"alerts", b"fire")]
        await ps.unsubscribe("news")
        await store.execute("PUBLISH", "news", "unheard")
        await store.execute("PUBLISH", "log.x", "heard")
        message = await next_of(ps, "pmessage")
        assert message.data == b"heard"
        assert ps.channels == [b"alerts"]
    finally:
        await ps.close()
    assert ps.closed and await ps.get_message(timeout=0) is None


async def test_shard_channels_live_on_their_slot_owner(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    primaries = slot_map.primaries()
    channels = [
        channel_of(address, redis_cluster, f"shard:{i}:") for i, address in enumerate(primaries)
    ]
    # two channels in one slot (a hash tag), one SSUBSCRIBE between them
    tagged = [b"{room}:a", b"{room}:b"]
    ps = store.pubsub()
    try:
        await ps.ssubscribe(*channels, *tagged)
        confirmed = {m.channel for m in [await next_of(ps, "ssubscribe") for _ in range(5)]}
        assert confirmed == {*channels, *tagged}
        for address, channel in zip(primaries, channels, strict=True):
            assert channel in shard_channels_on(redis_cluster, address[1])
        room = slot_map.primary(key_slot(b"{room}"))
        assert room is not None
        assert set(tagged) <= shard_channels_on(redis_cluster, room[1])
        for channel in [*channels, *tagged]:
            assert await store.execute("SPUBLISH", channel, b"to " + channel) == 1
        received = {}
        for _ in range(5):
            message = await next_of(ps, "smessage")
            received[message.channel] = message.data
        assert received == {channel: b"to " + channel for channel in [*channels, *tagged]}
        assert sorted(ps.shard_channels) == sorted([*channels, *tagged])
        await ps.sunsubscribe(channels[0])
        assert await store.execute("SPUBLISH", channels[0], b"gone") == 0
        assert channels[0] not in shard_channels_on(redis_cluster, primaries[0][1])
        await ps.sunsubscribe()
        assert ps.shard_channels == [] and not ps.subscribed
    finally:
        await ps.close()


async def test_a_shard_channel_follows_its_slot(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    source, target = slot_map.primaries()[:2]
    channel = channel_of(source, redis_cluster, "moving:")
    slot = key_slot(channel)
    ps = store.pubsub()
    try:
        await ps.ssubscribe(channel)
        await next_of(ps, "ssubscribe")
        set_slot_owner(redis_cluster, slot, source, target)
        try:
            # the old owner says it unsubscribed us; the store subscribes on the new one
            assert (await next_of(ps, "sunsubscribe")).channel == channel
            assert (await next_of(ps, "ssubscribe")).channel == channel
            assert channel in shard_channels_on(redis_cluster, target[1])
            assert channel not in shard_channels_on(redis_cluster, source[1])
            assert await store.execute("SPUBLISH", channel, b"after the move") == 1
            assert (await next_of(ps, "smessage")).data == b"after the move"
            assert ps.shard_channels == [channel]
        finally:
            set_slot_owner(redis_cluster, slot, target, source)
        assert (await next_of(ps, "ssubscribe")).channel == channel
        assert await store.execute("SPUBLISH", channel, b"back") == 1
        assert (await next_of(ps, "smessage")).data == b"back"
    finally:
        await ps.close()


async def test_a_shard_channel_subscribed_with_a_stale_map_follows_moved(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    source, target = slot_map.primaries()[:2]
    channel = channel_of(source, redis_cluster, "stale:")
    slot = key_slot(channel)
    await store.execute("PING")  # the map is read: the slot is the source's
    set_slot_owner(redis_cluster, slot, source, target)
    ps = store.pubsub()
    try:
        # SSUBSCRIBE goes to the source, which answers MOVED: subscribed on the target
        await ps.ssubscribe(channel)
        assert (await next_of(ps, "ssubscribe")).channel == channel
        assert channel in shard_channels_on(redis_cluster, target[1])
        assert channel not in shard_channels_on(redis_cluster, source[1])
        assert await store.execute("SPUBLISH", channel, b"found") == 1
        assert (await next_of(ps, "smessage")).data == b"found"
        assert ps.shard_channels == [channel]
    finally:
        await ps.close()
        set_slot_owner(redis_cluster, slot, target, source)


async def test_runner_and_one_reader_at_a_time(store: ClusterStore) -> None:
    got: list[PubSubMessage] = []
    ps = store.pubsub(ignore_subscribe_messages=True)
    try:
        await ps.subscribe("run:a")
        await ps.ssubscribe("run:b")
        ps.run(got.append)
        assert ps.running
        with pytest.raises(StoreError, match="one reader at a time"):
            await ps.get_message()
        await store.execute("PUBLISH", "run:a", "1")
        await store.execute("SPUBLISH", "run:b", "2")
        deadline = monotonic() + 5
        while len(got) < 2 and monotonic() < deadline:
            await async_sleep(0.02)
        assert sorted((m.type, m.data) for m in got) == [("message", b"1"), ("smessage", b"2")]
        assert await ps.stop() and not ps.running
        await store.execute("PUBLISH", "run:a", "3")
        assert (await next_of(ps, "message")).data == b"3"
    finally:
        await ps.close()


async def test_a_reader_that_falls_behind_is_bounded(store: ClusterStore) -> None:
    ps = store.pubsub(max_pending=5, ignore_subscribe_messages=True)
    try:
        await ps.ssubscribe("behind")
        for index in range(50):
            await store.execute("SPUBLISH", "behind", str(index))
        await async_sleep(0.5)
        kinds: list[str] = []
        while (message := await ps.get_message(timeout=1.0)) is not None:
            kinds.append(message.type)
        if True:  # ASYNC
            # the node's PubSub parses as messages arrive: at 5 unread it drops the connection
            assert kinds.count("smessage") < 50 and "disconnected" in kinds, kinds
        else:  # SYNC
            # the node's runner waits for room: the rest waits in the server
            assert kinds == ["smessage"] * 50, kinds
    finally:
        await ps.close()


async def test_a_node_that_cannot_be_reached_subscribes_nothing(
    redis_cluster: RedisCluster,
) -> None:
    slot_map = shard_map(redis_cluster)
    unreachable = slot_map.primaries()[0]
    closed_port = free_port()

    def remap(address: Address) -> Address:
        return ("127.0.0.1", closed_port) if address == unreachable else address

    db = make(redis_cluster, address_remap=remap)
    ps = db.pubsub()
    try:
        channel = channel_of(unreachable, redis_cluster, "far:")
        with pytest.raises(ConnectionError):
            await ps.ssubscribe(channel)
        assert ps.shard_channels == [] and not ps.subscribed
        elsewhere = channel_of(slot_map.primaries()[1], redis_cluster, "near:")
        await ps.ssubscribe(elsewhere)
        assert ps.shard_channels == [elsewhere]
    finally:
        await ps.close()
        await db.close()


async def test_bad_subscriptions_are_refused(store: ClusterStore) -> None:
    ps = store.pubsub()
    try:
        with pytest.raises(DataError, match="at least one"):
            await ps.ssubscribe()
        with pytest.raises(DataError, match="str or bytes"):
            await ps.subscribe(3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="not callable"):
            await ps.subscribe(news=3)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_pending"):
            store.pubsub(max_pending=0)
        with pytest.raises(ValueError, match="health_check_interval"):
            store.pubsub(health_check_interval=-1)
    finally:
        await ps.close()
    with pytest.raises(StoreError, match="closed"):
        await ps.subscribe("late")


async def test_channels_over_a_cluster(store: ClusterStore) -> None:
    events: list[tuple[str, str, Any]] = []
    channels = store.channels(namespace="app:")
    try:
        await channels.register("orders", "*", lambda *event: events.append(event))
        # the node that takes the PUBLISH counts only its own subscribers: wait for the
        # event rather than checking the count
        await channels.publish("orders", "created", {"id": 1})
        deadline = monotonic() + 5
        while not events and monotonic() < deadline:
            await async_sleep(0.02)
        assert events == [("orders", "created", {"id": 1})]
        assert channels.status == "connected"
    finally:
        await channels.close()
