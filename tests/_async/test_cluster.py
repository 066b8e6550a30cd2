"""The cluster store (``redis+cluster://``) against a real three-primary cluster
(tests/cluster_fixture.py): URLs, routing by slot checked on the owning node, multi-key
commands split and merged, CROSSSLOT refused before sending, keyless commands on every
primary, MOVED and ASK followed while a slot moves, single-flight topology refreshes, reads
from replicas (READONLY, the fallback to the primary, MOVED from a replica)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from time import monotonic, sleep
from typing import Any

import pytest

from store.aio import (
    ClusterStore,
    CrossSlotError,
    DataError,
    ImproperlyConfigured,
    StatefulCommandError,
    create_store,
)
from store.cluster import SlotMap, key_slot
from store.resp import pack_commands
from store.url import parse_url
from tests.cluster_fixture import RedisCluster

if True:  # ASYNC
    CONCURRENCY = 100
else:  # SYNC
    CONCURRENCY = 8

Address = tuple[str, int]


def cluster_url(cluster: RedisCluster, count: int = 2) -> str:
    return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in cluster.ports[:count])


def make(cluster: RedisCluster, **options: Any) -> ClusterStore:
    made = create_store(cluster_url(cluster), socket_timeout=10, **options)
    assert isinstance(made, ClusterStore)
    return made


@pytest.fixture
async def store(redis_cluster: RedisCluster) -> AsyncIterator[ClusterStore]:
    made = make(redis_cluster)
    await made.flush()
    yield made
    await made.close()


def shard_map(cluster: RedisCluster) -> SlotMap:
    """The map as the first node sees it now, read directly."""
    return SlotMap.from_shards(cluster.command(cluster.ports[0], "CLUSTER", "SHARDS"), "127.0.0.1")


def key_of(address: Address, slot_map: SlotMap, prefix: str) -> str:
    """A key whose slot ``address`` serves."""
    for index in range(100_000):
        key = f"{prefix}{index}"
        if slot_map.primary(key_slot(key)) == address:
            return key
    raise AssertionError(f"no key of {address}")


def owner_has(cluster: RedisCluster, address: Address, key: str) -> Any:
    """GET on the node itself (it answers MOVED for a key it does not serve)."""
    return cluster.command(address[1], "GET", key)


def set_slot_owner(cluster: RedisCluster, slot: int, source: Address, target: Address) -> None:
    """Move ``slot`` from ``source`` to ``target`` as redis-cli --cluster reshard does:
    IMPORTING/MIGRATING, MIGRATE its keys, then SETSLOT NODE on every primary (the
    target first)."""
    slot_map = shard_map(cluster)
    ids = {node.address: node.node_id for node in slot_map.nodes()}
    # the target claims the slot with a new epoch only if it knows the cluster's latest:
    # moved right after a move back, it may not yet, and lose the slot to the source's
    # older claim (each then says the other owns it)
    _wait_for_one_epoch(cluster)
    cluster.command(target[1], "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    cluster.command(source[1], "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    keys = cluster.command(source[1], "CLUSTER", "GETKEYSINSLOT", slot, 1000)
    if keys:
        cluster.command(source[1], "MIGRATE", "127.0.0.1", target[1], "", 0, 5000, "KEYS", *keys)
    # the target first, then the source, as redis-cli does: the source never points at a
    # target that does not own the slot yet
    others = [a for a in slot_map.primaries() if a not in (target, source)]
    for address in [target, source, *others]:
        cluster.command(address[1], "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    # and every primary's map says so (a quick move back and forth can meet late gossip)
    deadline = monotonic() + 10
    while True:
        views = [
            SlotMap.from_shards(cluster.command(a[1], "CLUSTER", "SHARDS"), "127.0.0.1")
            for a in slot_map.primaries()
        ]
        if all(view.primary(slot) == target for view in views):
            return
        assert monotonic() < deadline, (
            f"the primaries do not agree that {target} has {slot}: "
            f"{[(a, v.primary(slot)) for a, v in zip(slot_map.primaries(), views, strict=True)]}"
        )
        sleep(0.02)


def _wait_for_one_epoch(cluster: RedisCluster, timeout: float = 10.0) -> None:
    """Until every node reports the same cluster_current_epoch."""
    deadline = monotonic() + timeout
    while True:
        epochs = set()
        for port in cluster.ports:
            info = cluster.command(port, "CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            epochs.add(text.split("cluster_current_epoch:")[1].split()[0])
        if len(epochs) == 1:
            return
        assert monotonic() < deadline, f"the nodes' epochs differ: {epochs}"
        sleep(0.02)


@contextmanager
def slot_moved(
    cluster: RedisCluster, slot: int, source: Address, target: Address
) -> Iterator[None]:
    """``slot`` served by ``target`` inside the block, by ``source`` again afterwards."""
    set_slot_owner(cluster, slot, source, target)
    try:
        yield
    finally:
        set_slot_owner(cluster, slot, target, source)
        assert shard_map(cluster).primary(slot) == source


async def concurrently(count: int, call: Callable[[], Any]) -> list[Any]:
    """``count`` calls at once: tasks on the event loop, threads in the blocking twin."""
    if True:  # ASYNC
        from store._backend.synchronization import current_loop

        loop = current_loop()
        tasks = [loop.create_task(call()) for _ in range(count)]
        return [await task for task in tasks]
    else:  # SYNC
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(lambda _: call(), range(count)))


# -- URLs -----------------------------------------------------------------------------------


def test_url_with_several_hosts() -> None:
    made = create_store(
        "redis+cluster://alice:s3cret@h1:7000,H2,[::1]:7002"
        "?cluster_refresh_interval=0.5&read_from_replicas=yes&socket_timeout=2"
    )
    assert isinstance(made, ClusterStore)
    parsed = parse_url("redis+cluster://alice:s3cret@h1:7000,H2,[::1]:7002/0")
    assert parsed.hosts == (("h1", 7000), ("h2", None), ("::1", 7002))
    assert parsed.database == "0" and "s3cret" not in repr(parsed)
    assert made.startup_nodes == (("h1", 7000), ("h2", 6379), ("::1", 7002))
    assert made.refresh_interval == 0.5 and made.read_from_replicas is True
    assert made.dns == (
        "redis+cluster://alice:s3cret@h1:7000,h2:6379,[::1]:7002"
        "?cluster_refresh_interval=0.5&read_from_replicas=true&socket_timeout=2.0"
    )
    assert "s3cret" not in repr(made) and "h2:6379" in repr(made)
    assert made.node_store(("h1", 7000)).settings.socket_timeout == 2.0
    assert made.node_store(("h1", 7000)).settings.password == "s3cret"
    assert make_defaults().refresh_interval == 1.0


def make_defaults() -> ClusterStore:
    made = create_store("redis+cluster://h1")
    assert isinstance(made, ClusterStore)
    assert made.startup_nodes == (("h1", 6379),) and made.read_from_replicas is False
    return made


def test_tls_cluster_url() -> None:
    made = create_store("rediss+cluster://h1:7000,h2:7001?ssl_cert_reqs=none")
    assert isinstance(made, ClusterStore)
    assert made.node_store(("h2", 7001)).settings.ssl_context is not None
    plain = create_store("redis+cluster://h1:7000")
    assert isinstance(plain, ClusterStore)
    assert plain.node_store(("h1", 7000)).settings.ssl_context is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://:s3cret@h1:7000/1", "only database 0"),
        ("redis+cluster://:s3cret@h1:7000?db=2", "only database 0"),
        ("redis+cluster://:s3cret@h1:7000,h2:port", "h2:port"),
        ("redis+cluster://:s3cret@h1:7000,,h2", "''"),
        ("redis+cluster://:s3cret@h1:70000", "out of range"),
        ("redis+cluster://:s3cret@h1?cluster_refresh_interval=soon", "cluster_refresh_interval"),
        ("redis+cluster://:s3cret@h1?read_from_replicas=maybe", "read_from_replicas"),
        ("redis+cluster://:s3cret@h1?nope=1", "'nope'"),
        ("redis://:s3cret@h1?read_from_replicas=true", "read_from_replicas"),
    ],
)
def test_bad_cluster_urls(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        create_store(url)
    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_database_zero_and_address_remap_keyword() -> None:
    def remap(address: Address) -> Address:
        return address

    made = create_store("redis+cluster://h1/0", address_remap=remap)
    assert isinstance(made, ClusterStore)
    assert "remap" not in made.dns
    with pytest.raises(ImproperlyConfigured, match="address_remap must be a callable"):
        create_store("redis+cluster://h1", address_remap="nat")


# -- routing --------------------------------------------------------------------------------


async def test_keys_go_to_their_slot_owner(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    keys = [f"route:{index}" for index in range(30)]
    for key in keys:
        assert await store.execute("SET", key, key.upper()) in (b"OK", True)
    slot_map = shard_map(redis_cluster)
    owners = {slot_map.primary(key_slot(key)) for key in keys}
    assert len(owners) == 3  # spread over every primary
    for key in keys[:10]:
        slot = int(redis_cluster.command(redis_cluster.ports[0], "CLUSTER", "KEYSLOT", key))
        owner = slot_map.primary(slot)
        assert owner is not None
        assert owner_has(redis_cluster, owner, key) == key.upper().encode()
        count = redis_cluster.command(owner[1], "CLUSTER", "COUNTKEYSINSLOT", slot)
        assert count >= 1
        assert await store.execute("GET", key) == key.upper().encode()
    assert await store.execute("DBSIZE") == 30


async def test_multi_key_commands_split_by_slot(store: ClusterStore) -> None:
    keys = [f"multi:{index}" for index in range(12)]
    assert len({key_slot(key) for key in keys}) == 12
    await store.execute("MSET", *[part for key in keys for part in (key, f"v{key}")])
    got = await store.execute("MGET", keys[3], "multi:missing", *keys)
    assert got == [b"vmulti:3", None, *[f"v{key}".encode() for key in keys]]
    assert await store.execute("EXISTS", *keys, keys[0], "multi:missing") == 13
    assert await store.execute("TOUCH", *keys[:5]) == 5
    assert await store.execute("DEL", *keys[:4], "multi:missing") == 4
    assert await store.execute("UNLINK", *keys[4:8]) == 4
    assert await store.execute("MGET", *keys[:9]) == [None] * 8 + [b"vmulti:8"]
    assert await store.execute("EXISTS", *keys) == 4
    tagged = ["{t}a", "{t}b"]  # one slot: sent as one command
    await store.execute("MSET", tagged[0], 1, tagged[1], 2)
    assert await store.execute("MGET", *tagged, callback=list) == [b"1", b"2"]
    client = store.client()
    assert await client.mget(keys[8:]) == [f"v{key}".encode() for key in keys[8:]]
    assert await client.delete(*keys) == 4


async def test_cross_slot_is_refused_before_sending(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    first, second = slot_map.primaries()[:2]
    a, b = key_of(first, slot_map, "xs:a"), key_of(second, slot_map, "xs:b")
    with pytest.raises(CrossSlotError, match="MSETNX has keys in 2 slots"):
        await store.execute("MSETNX", a, 1, b, 2)
    with pytest.raises(CrossSlotError):
        await store.execute("RENAME", a, b)
    assert owner_has(redis_cluster, first, a) is None
    assert owner_has(redis_cluster, second, b) is None
    assert await store.execute("MSETNX", "{xs}a", 1, "{xs}b", 2) == 1


async def test_keyless_commands_on_every_primary(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    keys = {f"fan:{index}".encode() for index in range(20)}
    for key in keys:
        await store.execute("SET", key, "x")
    await store.execute("RPUSH", "fanlist", "x")
    assert await store.execute("DBSIZE") == 21
    assert set(await store.execute("KEYS", "fan:*")) == keys
    assert {key async for key in store.scan_iter(match="fan:*", count=5)} == keys
    assert [key async for key in store.scan_iter(_type="list")] == [b"fanlist"]
    assert {key async for key in store.client().scan_iter(match="fan:*")} == keys
    assert await store.client().dbsize() == 21
    with pytest.raises(DataError, match="scan_iter"):
        await store.execute("SCAN", 0)
    assert await store.execute("PING") in (b"PONG", "PONG")
    assert await store.ping() is True
    assert await store.execute("ECHO", "hi") == b"hi"
    assert len(await store.execute("TIME")) == 2
    sha = await store.execute("SCRIPT", "LOAD", "return 7")
    primaries = shard_map(redis_cluster).primaries()
    for address in primaries:
        assert redis_cluster.command(address[1], "SCRIPT", "EXISTS", sha) == [1]
    await store.flush()
    for address in primaries:
        assert redis_cluster.command(address[1], "DBSIZE") == 0
    assert await store.execute("SCRIPT", "FLUSH") in (b"OK", True)
    for address in primaries:
        assert redis_cluster.command(address[1], "SCRIPT", "EXISTS", sha) == [0]
    # SCRIPT EXISTS: 1 only where every primary has it (a script runs where its keys are)
    redis_cluster.command(primaries[0][1], "SCRIPT", "LOAD", "return 7")
    assert await store.execute("SCRIPT", "EXISTS", sha, "0" * 40) == [0, 0]
    await store.execute("SCRIPT", "LOAD", "return 7")
    assert await store.execute("SCRIPT", "EXISTS", sha, "0" * 40) == [1, 0]
    assert await store.client().script_exists(sha) == [True]


async def test_pubsub_counts_are_the_clusters(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    nodes = [node.address for node in slot_map.nodes()]
    # a subscriber on each node (replicas too), each to its own channel and pattern
    subscribers = [create_store(f"redis://{h}:{p}") for h, p in nodes]
    connections = []
    try:
        for index, node in enumerate(subscribers):
            connection = await node.connect()
            connections.append(connection)
            await connection.send(
                pack_commands([("SUBSCRIBE", "count:all", f"count:{index}"), ("PSUBSCRIBE", "p*")])
            )
            await connection.read_replies(3, 5)
        client = store.client()
        assert await client.pubsub_numsub("count:all", "count:0", "none") == [
            (b"count:all", len(nodes)),
            (b"count:0", 1),
            (b"none", 0),
        ]
        assert await client.pubsub_numpat() == len(nodes)
        channels = set(await client.pubsub_channels("count:*"))
        assert channels == {b"count:all", *(f"count:{i}".encode() for i in range(len(nodes)))}
        # PUBLISH goes to the primary of the channel's slot (one node: its count)
        owner = slot_map.primary(key_slot("count:all"))
        assert owner is not None
        before = redis_cluster.command(owner[1], "INFO", "commandstats")
        assert await store.execute("PUBLISH", "count:all", "x") == 1  # the owner's subscriber
        after = redis_cluster.command(owner[1], "INFO", "commandstats")
        assert _calls(after, "publish") == _calls(before, "publish") + 1
        # shard channels: on the slot's primary; the cluster's count is the sum
        assert await client.pubsub_shardnumsub("count:all") == [(b"count:all", 0)]
    finally:
        for connection in connections:
            connection.close()
        for node in subscribers:
            await node.close()


def _calls(info: bytes, command: str) -> int:
    for line in info.decode().splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


async def test_lock_and_scripts_route_by_their_keys(
    redis_cluster: RedisCluster, store: ClusterStore
) -> None:
    slot_map = shard_map(redis_cluster)
    names = [key_of(address, slot_map, "lock:") for address in slot_map.primaries()]
    for name in names:
        lock = store.lock(name, timeout=10)
        assert await lock.acquire(blocking=False) is True
        assert await store.lock(name).acquire(blocking=False) is False
        assert await lock.extend(5) is True
        await lock.release()
        assert await store.execute("EXISTS", name) == 0
    await store.execute("SCRIPT", "FLUSH")
    script = store.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    for name in names:  # NOSCRIPT the first time: SCRIPT LOAD on every primary
        assert await script(keys=[name], args=[3]) == 3
        assert await script(keys=[name], args=[4]) == 7
        owner = slot_map.primary(key_slot(name))
        assert owner is not None and owner_has(redis_cluster, owner, name) == b"7"


async def test_stateful_commands_are_refused(store: ClusterStore) -> None:
    # (pub/sub and channels exist now: tests/_async/test_cluster_pubsub.py)
    with pytest.raises(StatefulCommandError, match="MULTI"):
        await store.execute("MULTI")
    with pytest.raises(StatefulCommandError):
        await store.execute("SELECT", 0)


# -- redirections and refreshes -------------------------------------------------------------


async def test_moved_updates_the_slot_and_refreshes(redis_cluster: RedisCluster) -> None:
    made = make(redis_cluster, cluster_refresh_interval=0)
    try:
        await made.flush()
        slot_map = shard_map(redis_cluster)
        source, target = slot_map.primaries()[:2]
        key = key_of(source, slot_map, "moved:")
        slot = key_slot(key)
        await made.execute("SET", key, "before")
        before = made.topology_refreshes
        with slot_moved(redis_cluster, slot, source, target):
            assert owner_has(redis_cluster, target, key) == b"before"
            # the store's map still names the source: MOVED, then the target
            replies = await concurrently(CONCURRENCY, lambda: made.execute("GET", key))
            assert replies == [b"before"] * CONCURRENCY
            await made.execute("SET", key, "after")
            assert owner_has(redis_cluster, target, key) == b"after"
            assert made.slot_map is not None and made.slot_map.primary(slot) == target
            assert 1 <= made.topology_refreshes - before <= 2
        assert await made.execute("GET", key) == b"after"  # back on the source: MOVED again
        assert owner_has(redis_cluster, source, key) == b"after"
        assert made.topology_refreshes - before <= 4
    finally:
        await made.close()


async def test_ask_during_a_migration(redis_cluster: RedisCluster, store: ClusterStore) -> None:
    slot_map = shard_map(redis_cluster)
    source, target = slot_map.primaries()[1:3]
    ids = {node.address: node.node_id for node in slot_map.nodes()}
    moved_key = key_of(source, slot_map, "ask:")
    slot = key_slot(moved_key)
    staying_key = "{" + moved_key + "}:stays"
    await store.execute("MSET", moved_key, "moved", staying_key, "stays")
    redis_cluster.command(target[1], "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    redis_cluster.command(source[1], "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    redis_cluster.command(
        source[1], "MIGRATE", "127.0.0.1", target[1], "", 0, 5000, "KEYS", moved_key
    )
    # one key left on the source, the other on the target
    assert redis_cluster.command(source[1], "CLUSTER", "COUNTKEYSINSLOT", slot) == 1
    assert redis_cluster.command(target[1], "CLUSTER", "COUNTKEYSINSLOT", slot) == 1
    try:
        refreshes = store.topology_refreshes
        assert await store.execute("GET", moved_key) == b"moved"  # ASK, then ASKING + GET
        assert await store.execute("GET", staying_key) == b"stays"  # still on the source
        assert store.topology_refreshes == refreshes  # ASK changes no map
        assert store.slot_map is not None and store.slot_map.primary(slot) == source
    finally:
        # the migration finished, then undone: the slot and both keys back on the source
        set_slot_owner(redis_cluster, slot, source, target)
        set_slot_owner(redis_cluster, slot, target, source)
    assert owner_has(redis_cluster, source, moved_key) == b"moved"


async def test_the_first_topology_is_read_once(redis_cluster: RedisCluster) -> None:
    made = make(redis_cluster)
    try:
        assert made.slot_map is None and made.topology_refreshes == 0  # never connects early
        replies = await concurrently(CONCURRENCY, lambda: made.execute("GET", "flight:x"))
        assert replies == [None] * CONCURRENCY
        assert made.topology_refreshes == 1  # one refresh, the other callers waited for it
        await made.execute("GET", "flight:y")
        assert made.topology_refreshes == 1  # nothing stale: no refresh
        await made.refresh()
        assert made.topology_refreshes == 2
    finally:
        await made.close()


async def test_connection_errors_resend_reads_and_unsent_writes_after_a_refresh(
    redis_cluster: RedisCluster,
) -> None:
    from store.aio import ConnectError
    from store.aio import ConnectionError as StoreConnectionError
    from tests.conftest import bound_port

    slot_map = shard_map(redis_cluster)
    victim, healthy = slot_map.primaries()[:2]
    with bound_port() as dead:  # nothing listens there: the victim looks down

        def remap(address: Address) -> Address:
            return ("127.0.0.1", dead) if address == victim else address

        made = create_store(
            cluster_url(redis_cluster), address_remap=remap, retries=0, cluster_refresh_interval=0
        )
        try:
            down, up = key_of(victim, slot_map, "down:"), key_of(healthy, slot_map, "up:")
            await made.execute("SET", up, 1)
            before = made.topology_refreshes
            with pytest.raises(ConnectError):
                # a write that never reached the node (ConnectError): sent again after each
                # refresh, as a read would be (a promoted replica may serve it by then)
                await made.execute("INCR", down)
            assert 3 <= made.topology_refreshes - before <= 4
            before = made.topology_refreshes
            with pytest.raises(StoreConnectionError):
                await made.execute("GET", down)  # a read: a refresh before each re-send
            assert 3 <= made.topology_refreshes - before <= 4
            before = made.topology_refreshes
            with pytest.raises(StoreConnectionError):
                await made.execute("INCR", down, idempotent=True)
            assert made.topology_refreshes - before >= 3
            assert await made.execute("GET", up) == b"1"  # the other primaries still serve
        finally:
            await made.close()
    assert redis_cluster.command(victim[1], "EXISTS", down) == 0  # the INCR never arrived


async def test_unreachable_startup_nodes_then_a_good_one(
    redis_cluster: RedisCluster, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import free_port

    dead = free_port()
    url = f"redis+cluster://:pw@127.0.0.1:{dead}"
    made = create_store(url, retries=0, socket_connect_timeout=2)
    try:
        with pytest.raises(ConnectionError) as caught:
            await made.execute("GET", "k")
        assert f"127.0.0.1:{dead}" in str(caught.value) and "pw" not in str(caught.value)
    finally:
        await made.close()
    url = f"redis+cluster://127.0.0.1:{dead},127.0.0.1:{redis_cluster.ports[3]}"
    made = create_store(url, retries=0)
    try:
        with caplog.at_level("DEBUG", logger="store.cluster"):
            assert await made.execute("GET", "unreachable:k") is None
        assert made.topology_refreshes == 1
        assert "cluster topology refresh 1 from" in caplog.text
    finally:
        await made.close()


# -- reads from replicas --------------------------------------------------------------------


def command_calls(cluster: RedisCluster, port: int, command: str) -> int:
    """How many times the node ran ``command`` (INFO commandstats)."""
    info = cluster.command(port, "INFO", "commandstats").decode()
    for line in info.splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def moved_errors(cluster: RedisCluster, port: int) -> int:
    """How many MOVED error replies the node gave (INFO errorstats)."""
    info = cluster.command(port, "INFO", "errorstats").decode()
    for line in info.splitlines():
        if line.startswith("errorstat_MOVED:"):
            return int(line.split("count=")[1].split(",")[0])
    return 0


def replica_of(cluster: RedisCluster, primary: Address) -> Address:
    (replica,) = [
        address
        for start, _, owner, replicas in shard_map(cluster).ranges()
        if owner == primary
        for address in replicas
    ][:1]
    return replica


async def test_reads_go_to_replicas_and_writes_to_primaries(redis_cluster: RedisCluster) -> None:
    slot_map = shard_map(redis_cluster)
    primary = slot_map.primaries()[0]
    replica = replica_of(redis_cluster, primary)
    key = key_of(primary, slot_map, "replica-read:")
    # the control: without READONLY a replica refuses the read with MOVED
    with pytest.raises(Exception, match="MOVED"):
        redis_cluster.command(replica[1], "GET", key)
    made = make(redis_cluster, read_from_replicas=True)
    try:
        # read-your-write: the write and WAIT on one connection of the primary
        pipe = made.node_store(primary).pipeline()
        await pipe.execute("SET", key, "v")
        await pipe.execute("WAIT", 1, 5000)
        assert (await pipe.commit())[1] == 1
        for port in (primary[1], replica[1]):
            redis_cluster.command(port, "CONFIG", "RESETSTAT")
        assert [await made.execute("GET", key) for _ in range(20)] == [b"v"] * 20
        on_replica = command_calls(redis_cluster, replica[1], "get")
        on_primary = command_calls(redis_cluster, primary[1], "get")
        # spread over the shard (round robin), none refused by the replica: READONLY was sent
        assert on_replica > 0 and on_primary > 0 and on_replica + on_primary == 20
        assert command_calls(redis_cluster, replica[1], "readonly") >= 1
        assert moved_errors(redis_cluster, replica[1]) == 0
        # writes go to the primary only: a replica would have answered MOVED
        for value in range(10):
            await made.execute("SET", key, value)
            await made.execute("INCR", key)
        assert moved_errors(redis_cluster, replica[1]) == 0
        assert command_calls(redis_cluster, primary[1], "incr") == 10
        assert owner_has(redis_cluster, primary, key) == b"10"
        # the replica's reading store is not the one its address gets as a primary (after a
        # failover promotes it): only the first sends READONLY
        reading = made._replica_nodes[replica]
        assert reading is not made.node_store(replica)
        assert reading.pool.setup == (("READONLY",),) and made.node_store(replica).pool.setup == ()
    finally:
        await made.close()


async def test_a_replica_that_cannot_be_reached_leaves_reads_to_the_primary(
    redis_cluster: RedisCluster,
) -> None:
    from tests.conftest import bound_port

    slot_map = shard_map(redis_cluster)
    primary = slot_map.primaries()[1]
    replica = replica_of(redis_cluster, primary)
    key = key_of(primary, slot_map, "replica-down:")
    with bound_port() as dead:  # nothing listens there: the replica looks down

        def remap(address: Address) -> Address:
            return ("127.0.0.1", dead) if address == replica else address

        # no refresh offers the replica again during the test: an interval of 60 s
        made = make(
            redis_cluster,
            read_from_replicas=True,
            address_remap=remap,
            retries=0,
            cluster_refresh_interval=60,
        )
        try:
            await made.execute("SET", key, "here")
            redis_cluster.command(primary[1], "CONFIG", "RESETSTAT")
            assert [await made.execute("GET", key) for _ in range(10)] == [b"here"] * 10
            assert command_calls(redis_cluster, primary[1], "get") == 10  # all on the primary
            # the replica's store was tried (and is not the primary's), then left out
            dead_store = made._replica_nodes[("127.0.0.1", dead)]
            assert dead_store is not made.node_store(("127.0.0.1", dead))
            assert all(
                reader[0] != ("127.0.0.1", dead) for readers in made._readers for reader in readers
            )
        finally:
            await made.close()


async def test_moved_from_a_replica_follows_the_slot(redis_cluster: RedisCluster) -> None:
    slot_map = shard_map(redis_cluster)
    source, target = slot_map.primaries()[:2]
    replica = replica_of(redis_cluster, source)
    key = key_of(source, slot_map, "replica-moved:")
    slot = key_slot(key)
    made = make(redis_cluster, read_from_replicas=True)
    try:
        await made.execute("SET", key, "m")
        with slot_moved(redis_cluster, slot, source, target):
            # the replica learns the move from its primary's gossip
            for _ in range(200):
                replica_map = SlotMap.from_shards(
                    redis_cluster.command(replica[1], "CLUSTER", "SHARDS"), "127.0.0.1"
                )
                if replica_map.primary(slot) == target:
                    break
                await pause()
            else:
                pytest.fail("the replica never learned that the slot moved")
            readers = made._readers[slot]
            assert [address for address, _, _ in readers] == [replica, source]
            made._turn = -1  # the next read goes to the replica, which answers MOVED
            before = moved_errors(redis_cluster, replica[1])
            assert await made.execute("GET", key) == b"m"
            assert moved_errors(redis_cluster, replica[1]) == before + 1
            assert made._slots[slot] == target  # updated at once, the slot's readers dropped
            assert made._readers[slot] == ()
            assert await made.execute("GET", key) == b"m"
    finally:
        await made.close()


async def pause() -> None:
    if True:  # ASYNC
        from store._backend.synchronization import async_sleep

        await async_sleep(0.05)
    else:  # SYNC
        import time

        time.sleep(0.05)
