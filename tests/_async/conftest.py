"""Stores for the client tests: every protocol (RESP2, RESP3) and reply parser, against
redis-server and against PulsarDS; and, for the modules in CLUSTER_MODULES, against the
real Redis Cluster of tests/cluster_fixture.py (a ``redis+cluster://`` ClusterStore).

The cluster target runs two protocol/parser combinations, not four: the cluster adds
routing, not parsing. A test of such a module opts out of the cluster target with
``@pytest.mark.single_node("why it cannot apply to a cluster")`` (its cluster ids are
skipped with that reason, never silently); a test that fails on the cluster because of a
ClusterStore bug is marked ``@pytest.mark.cluster_bug("diagnosis")``: its cluster ids are
``xfail(strict=True)`` (``strict=False`` given only when the failure depends on which
primary a keyless command reached at random), so the suite stays green and the bug stays
visible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from store.aio import ClusterStore, ConnectionPool, RedisClient, RedisStore, create_store
from store.cluster import key_slot
from store.resp import HIREDIS_AVAILABLE

_HERE = Path(__file__).parent

PARSERS = ["python", "hiredis"] if HIREDIS_AVAILABLE else ["python"]
SERVERS = ["redis", "pulsar"]
TARGETS = [
    (server, protocol, parser) for server in SERVERS for protocol in (2, 3) for parser in PARSERS
]

# the cluster target: two of the four protocol/parser combinations
CLUSTER_TARGETS = [("cluster", 3, PARSERS[-1]), ("cluster", 2, "python")]
# the client-suite modules whose tests also run against the cluster (both variants)
CLUSTER_MODULES = [
    "test_commands",
    "test_scripts",
    "test_lock",
    "test_pipeline",
    "test_store",
    "test_routing",
]
# pub/sub and channels on a ClusterStore are being built: add "test_pubsub" and
# "test_channels" (and "test_pubsub_backlog") here once they are, and their tests run
# against the cluster too, under the same single_node / cluster_bug rules
CLUSTER_PUBSUB_MODULES: list[str] = ["test_pubsub", "test_channels", "test_pubsub_backlog"]


def _target_id(target: tuple[str, int, str]) -> str:
    server, protocol, parser = target
    return f"{server}-resp{protocol}-{parser}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses ``target`` runs on each of TARGETS, and on CLUSTER_TARGETS too
    when its module is in CLUSTER_MODULES or CLUSTER_PUBSUB_MODULES."""
    if "target" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        if "target" in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return  # the test names its own targets
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    targets = list(TARGETS)
    if module in CLUSTER_MODULES or module in CLUSTER_PUBSUB_MODULES:
        targets += CLUSTER_TARGETS
    metafunc.parametrize("target", targets, ids=[_target_id(t) for t in targets], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The cluster ids of ``single_node`` tests skipped with their reason, those of
    ``cluster_bug`` tests expected to fail. (Every conftest sees every item: only this
    folder's are this one's.)"""
    for item in items:
        if item.path.parent != _HERE:
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("target", ("",))[0] != "cluster":
            continue
        single = item.get_closest_marker("single_node")
        if single is not None:
            reason = single.args[0] if single.args else single.kwargs["reason"]
            item.add_marker(pytest.mark.skip(reason=f"cannot apply to a cluster: {reason}"))
        bug = item.get_closest_marker("cluster_bug")
        if bug is not None:
            reason = bug.args[0] if bug.args else bug.kwargs["reason"]
            # strict=False only for a failure that depends on a random primary's answer
            strict = bug.kwargs.get("strict", True)
            item.add_marker(pytest.mark.xfail(strict=strict, reason=f"cluster bug: {reason}"))


@pytest.fixture
def target(request: pytest.FixtureRequest) -> tuple[str, int, str]:
    server, protocol, parser = request.param
    return server, protocol, parser


@pytest.fixture
def variant(target: tuple[str, int, str]) -> dict[str, Any]:
    return {"protocol": target[1], "parser": target[2]}


@pytest.fixture
def server_url(target: tuple[str, int, str], request: pytest.FixtureRequest) -> str:
    """The URL of the server under test: redis-server, PulsarDS, or the cluster (two of
    its nodes as startup nodes)."""
    if target[0] == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in cluster.ports[:2])
    return str(request.getfixturevalue("redis_url" if target[0] == "redis" else "pulsar_url"))


@pytest.fixture
def unix_path(target: tuple[str, int, str], request: pytest.FixtureRequest) -> str:
    """The unix socket of the server under test."""
    if target[0] == "cluster":
        pytest.fail("the test cluster has no unix socket: mark the test single_node")
    server = request.getfixturevalue("redis_server" if target[0] == "redis" else "pulsar_server")
    return str(server.unix_path)


@pytest.fixture
async def store_factory(
    server_url: str, variant: dict[str, Any]
) -> AsyncIterator[Callable[..., RedisStore]]:
    """Makes stores on the test server with the test's protocol and parser; closes them."""
    stores: list[RedisStore | ClusterStore] = []

    def factory(url: str | None = None, **kw: Any) -> RedisStore:
        options = {**variant, **kw}
        made = create_store(url or server_url, **options)
        assert isinstance(made, (RedisStore, ClusterStore))
        stores.append(made)
        return made  # type: ignore[return-value]

    yield factory
    for made in stores:
        await made.close()


@pytest.fixture
async def store(store_factory: Callable[..., RedisStore]) -> RedisStore:
    made = store_factory()
    await made.flush()
    return made


@pytest.fixture
def client(store: RedisStore) -> RedisClient:
    return store.client()


# -- what a test asks of a store, on one node or on a cluster (``from .conftest import``) ---


def _node_stores(store: ClusterStore) -> list[RedisStore]:
    """The store of every node a cluster store knows: its startup nodes, those of its map."""
    addresses = list(store.startup_nodes)
    if store.slot_map is not None:
        addresses += [n.address for n in store.slot_map.nodes() if n.address not in addresses]
    return [store.node_store(address) for address in addresses]


def serving(store: RedisStore, key: Any) -> RedisStore:
    """The store that serves ``key``: the store itself; on a cluster, the store of the
    primary owning ``key``'s slot."""
    if isinstance(store, ClusterStore):
        slot_map = store.slot_map
        assert slot_map is not None, "no command has read the cluster's slot map yet"
        address = slot_map.primary(key_slot(key))
        assert address is not None
        return store.node_store(address)
    return store


def pool_of(store: RedisStore, key: Any) -> ConnectionPool:
    """The pool that serves ``key``: the store's own; on a cluster, that of the store of the
    primary owning ``key``'s slot (the cluster store has no pool of its own)."""
    return serving(store, key).pool


def connections(store: RedisStore) -> tuple[int, int]:
    """The (in use, idle) connections of the store's pool; on a cluster, of every node's."""
    if isinstance(store, ClusterStore):
        pools = [node.pool for node in _node_stores(store)]
    else:
        pools = [store.pool]
    return sum(pool.in_use for pool in pools), sum(pool.idle for pool in pools)


async def command_calls(store: RedisStore, *names: str) -> dict[str, int]:
    """How many times the server ran each command (INFO commandstats); on a cluster, summed
    over every primary, each asked on a connection of its own (none of the store's)."""
    if not isinstance(store, ClusterStore):
        info = await store.client().info("commandstats")
        return {name: info.get(f"cmdstat_{name}", {}).get("calls", 0) for name in names}
    if store.slot_map is None:
        await store.refresh()
    assert store.slot_map is not None
    totals = dict.fromkeys(names, 0)
    for host, port in store.slot_map.primaries():
        async with create_store(f"redis://{host}:{port}") as node:
            info = await node.client().info("commandstats")
        for name in names:
            totals[name] += info.get(f"cmdstat_{name}", {}).get("calls", 0)
    return totals
