"""Pipelines and transactions on the cluster store against the real three-primary cluster
(tests/cluster_fixture.py): commands grouped per node and replies back in order, split
and fanned-out commands, errors in place or raised, MOVED and ASK inside a pipeline,
one-slot transactions with WATCH, and transactions across slots refused before sending."""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import monotonic
from typing import Any

import pytest

from store.aio import (
    ClusterStore,
    CrossSlotError,
    ResponseError,
    StatefulCommandError,
    WatchError,
)
from store.cluster import key_slot
from tests.cluster_fixture import RedisCluster

from .test_cluster import key_of, make, owner_has, set_slot_owner, shard_map


@pytest.fixture
async def store(redis_cluster: RedisCluster) -> AsyncIterator[ClusterStore]:
    made = make(redis_cluster, cluster_refresh_interval=0)
    await made.flush()
    yield made
    await made.close()


def keys_on_every_primary(cluster: RedisCluster, prefix: str, per_node: int) -> list[str]:
    slot_map = shard_map(cluster)
    keys = []
    for address in slot_map.primaries():
        for index in range(per_node):
            keys.append(key_of(address, slot_map, f"{prefix}{index}:"))
    return keys


# -- pipelines ------------------------------------------------------------------------------


async def test_a_hundred_commands_come_back_in_order(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    keys = [f"order:{index}" for index in range(50)]
    assert len({slot_map.primary(key_slot(key)) for key in keys}) == 3
    pipe = store.pipeline()
    for index, key in enumerate(keys):
        assert await pipe.set(key, index) is pipe  # queued: the pipeline, for chaining
        await pipe.execute("GET", key, callback=int)
    assert len(pipe) == 100
    replies = await pipe.commit()
    assert replies == [item for index in range(50) for item in (True, index)]
    for index, key in enumerate(keys):
        owner = slot_map.primary(key_slot(key))
        assert owner is not None and owner_has(redis_cluster, owner, key) == str(index).encode()
    assert len(pipe) == 0 and await pipe.commit() == []  # reusable, empty


async def test_keyless_split_and_fanned_out_commands(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    keys = keys_on_every_primary(redis_cluster, "mix", 2)
    async with store.pipeline() as pipe:
        await pipe.execute("PING")
        await pipe.execute("MSET", *[part for key in keys for part in (key, key.upper())])
        await pipe.execute("ECHO", "between")
        await pipe.mget([*keys[::-1], "mix:missing"])
        await pipe.execute("EXISTS", *keys, "mix:missing")
        await pipe.execute("DBSIZE")
        await pipe.execute("DEL", *keys[:4])
        await pipe.execute("MSET", "{mix}a", 1, "{mix}b", 2)  # one slot: sent as it is
        await pipe.execute("KEYS", "*mix*")
        replies = await pipe.commit()
    assert replies[0] in (b"PONG", "PONG", True)
    assert replies[1] in (b"OK", True) and replies[2] == b"between"
    assert replies[3] == [key.upper().encode() for key in keys[::-1]] + [None]
    assert replies[4] == 6 and replies[5] == 6 and replies[6] == 4
    assert replies[7] in (b"OK", True)
    assert sorted(replies[8]) == sorted([key.encode() for key in keys[4:]] + [b"{mix}a", b"{mix}b"])


async def test_nodes_get_their_groups_at_once(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    lists = keys_on_every_primary(redis_cluster, "wait", 1)
    pipe = store.pipeline()
    for key in lists:  # each primary blocks for 0.5 s on an empty list
        await pipe.execute("BLPOP", key, 0.5)
    began = monotonic()
    assert await pipe.commit() == [None] * 3
    elapsed = monotonic() - began
    # about 0.5 s: concurrently in aio; in sync every node's write goes before the first read
    assert elapsed < 1.2


async def test_scripts_are_loaded_on_each_node_of_the_pipeline(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    await store.execute("SCRIPT", "FLUSH")
    script = store.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    keys = keys_on_every_primary(redis_cluster, "script", 1)
    pipe = store.pipeline()
    for key in keys:
        assert await script(keys=[key], args=[5], client=pipe) is pipe
    assert await pipe.commit() == [5, 5, 5]  # no NOSCRIPT: loaded first on every node
    for address in shard_map(redis_cluster).primaries():
        assert redis_cluster.command(address[1], "SCRIPT", "EXISTS", script.sha) == [1]


async def test_errors_in_place_or_raised(redis_cluster: RedisCluster, store: ClusterStore) -> None:
    keys = keys_on_every_primary(redis_cluster, "err", 1)
    await store.execute("SET", keys[1], "text")
    pipe = store.pipeline(raise_on_error=False)
    for key in keys:
        await pipe.execute("INCR", key)
    replies = await pipe.commit()
    assert replies[0] == 1 and replies[2] == 1
    assert isinstance(replies[1], ResponseError) and "not an integer" in str(replies[1])
    strict = store.pipeline()
    for key in keys:
        await strict.execute("INCR", key)
    with pytest.raises(ResponseError, match="not an integer") as caught:
        await strict.commit()
    assert "command 2 of 3 in the pipeline: INCR" in "".join(caught.value.__notes__)
    assert await store.execute("MGET", keys[0], keys[2]) == [b"2", b"2"]  # the others ran
    # refused when queued, nothing queued for them: a CROSSSLOT and a stateful command
    slot_map = shard_map(redis_cluster)
    first, second = slot_map.primaries()[:2]
    a, b = key_of(first, slot_map, "err:a"), key_of(second, slot_map, "err:b")
    with pytest.raises(CrossSlotError, match="RENAME has keys in 2 slots"):
        await strict.execute("RENAME", a, b)
    with pytest.raises(StatefulCommandError):
        await strict.execute("MULTI")
    assert len(strict) == 0


async def test_moved_inside_a_pipeline_resends_only_those(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    source, target = slot_map.primaries()[:2]
    moved = key_of(source, slot_map, "pmoved:")
    slot = key_slot(moved)
    others = keys_on_every_primary(redis_cluster, "pstay", 2)
    assert all(key_slot(key) != slot for key in others)
    await store.execute("SET", moved, 10)  # the store knows the map before the move
    pipe = store.pipeline()
    await pipe.execute("INCR", moved)
    for key in others:  # sent again, an INCR would answer 2
        await pipe.execute("INCR", key)
    await pipe.execute("GET", "{" + moved + "}:tagged")
    set_slot_owner(redis_cluster, slot, source, target)
    try:
        refreshes = store.topology_refreshes
        assert await pipe.commit() == [11] + [1] * len(others) + [None]
        assert owner_has(redis_cluster, target, moved) == b"11"
        assert store._slots[slot] == target  # updated at once, a refresh scheduled
        assert await store.execute("GET", moved) == b"11"
        assert store.topology_refreshes == refreshes + 1
    finally:
        set_slot_owner(redis_cluster, slot, target, source)
    for key in others:
        assert await store.execute("GET", key) == b"1"


async def test_ask_inside_a_pipeline(redis_cluster: RedisCluster, store: ClusterStore) -> None:
    slot_map = shard_map(redis_cluster)
    source, target = slot_map.primaries()[1:3]
    ids = {node.address: node.node_id for node in slot_map.nodes()}
    moved = key_of(source, slot_map, "pask:")
    slot = key_slot(moved)
    staying = "{" + moved + "}:stays"
    other = key_of(target, slot_map, "pask:other")
    await store.execute("MSET", moved, "moved", staying, "stays")
    redis_cluster.command(target[1], "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    redis_cluster.command(source[1], "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    redis_cluster.command(source[1], "MIGRATE", "127.0.0.1", target[1], "", 0, 5000, "KEYS", moved)
    try:
        refreshes = store.topology_refreshes
        pipe = store.pipeline()
        await pipe.execute("GET", moved)  # ASK: ASKING + GET on the target
        await pipe.execute("GET", staying)  # still on the source
        await pipe.execute("APPEND", moved, "+")  # ASK again, on the same connection
        await pipe.execute("INCR", other)
        assert await pipe.commit() == [b"moved", b"stays", 6, 1]
        assert store.topology_refreshes == refreshes  # ASK changes no map
        assert store._slots[slot] == source
        assert owner_has(redis_cluster, target, other) == b"1"
    finally:
        set_slot_owner(redis_cluster, slot, source, target)
        set_slot_owner(redis_cluster, slot, target, source)
    assert owner_has(redis_cluster, source, moved) == b"moved+"


# -- transactions ---------------------------------------------------------------------------


async def test_transaction_on_one_slot(redis_cluster: RedisCluster, store: ClusterStore) -> None:
    a, b = "{acct:1}:a", "{acct:1}:b"
    pipe = store.pipeline(transaction=True)
    await pipe.set(a, 5)
    await pipe.execute("INCRBY", b, 3)
    await pipe.execute("MGET", a, b)
    assert await pipe.commit() == [True, 3, [b"5", b"3"]]
    owner = shard_map(redis_cluster).primary(key_slot(a))
    assert owner is not None and owner_has(redis_cluster, owner, b) == b"3"

    calls = 0

    async def move_money(tx: Any) -> None:
        nonlocal calls
        calls += 1
        balance = int(await tx.execute("GET", a))  # immediate mode: on the watching node
        if calls == 1:  # someone else writes between the read and EXEC
            redis_cluster.command(owner[1], "INCRBY", a, 100)
        tx.multi()
        await tx.set(a, balance - 1)
        await tx.execute("INCR", b)

    assert await store.transaction(move_money, a, b) == [True, 4]
    assert calls == 2  # WatchError the first time, then applied
    assert await store.execute("MGET", a, b) == [b"104", b"4"]

    watched = store.pipeline()
    await watched.watch(a)
    assert await watched.execute("GET", a) == b"104"
    redis_cluster.command(owner[1], "SET", a, 0)
    watched.multi()
    await watched.execute("SET", a, 1)
    with pytest.raises(WatchError):
        await watched.commit()
    assert owner_has(redis_cluster, owner, a) == b"0"


async def test_transaction_across_slots_is_refused_before_sending(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    first, second = slot_map.primaries()[:2]
    a, b = key_of(first, slot_map, "txs:a"), key_of(second, slot_map, "txs:b")
    pipe = store.pipeline(transaction=True)
    await pipe.execute("SET", a, 1)
    with pytest.raises(CrossSlotError) as caught:
        await pipe.execute("SET", b, 2)
    message = str(caught.value)
    assert f"slot {key_slot(a)}" in message and f"slot {key_slot(b)}" in message
    assert "hash tag" in message
    await pipe.reset()

    called = False

    async def never(tx: Any) -> None:
        nonlocal called
        called = True

    with pytest.raises(CrossSlotError, match="the transaction has keys in 2 slots"):
        await store.transaction(never, a, b)
    assert called is False
    async with store.pipeline() as watching:
        await watching.watch(a)
        with pytest.raises(CrossSlotError):
            await watching.execute("GET", b)  # immediate mode: the watched slot only
        watching.multi()
        with pytest.raises(CrossSlotError):
            await watching.execute("SET", b, 1)
    assert owner_has(redis_cluster, first, a) is None
    assert owner_has(redis_cluster, second, b) is None


async def test_transaction_after_its_slot_moved(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    source, target = slot_map.primaries()[:2]
    key = key_of(source, slot_map, "txmoved:")
    slot = key_slot(key)
    await store.execute("SET", key, 1)
    pipe = store.pipeline(transaction=True)
    await pipe.execute("INCR", key)
    watched = store.pipeline()
    await watched.watch(key)  # on the source, which loses the slot
    set_slot_owner(redis_cluster, slot, source, target)
    try:
        # EXECABORT after MOVED: nothing applied, sent once more to the new owner
        assert await pipe.commit() == [2]
        assert owner_has(redis_cluster, target, key) == b"2"
        watched.multi()
        await watched.execute("INCR", key)
        with pytest.raises(WatchError, match=f"slot {slot} moved"):
            await watched.commit()
        assert owner_has(redis_cluster, target, key) == b"2"

        async def incr(tx: Any) -> None:
            tx.multi()
            await tx.execute("INCR", key)

        assert await store.transaction(incr, key) == [3]  # watched on the new owner
    finally:
        set_slot_owner(redis_cluster, slot, target, source)
    assert owner_has(redis_cluster, source, key) == b"3"
