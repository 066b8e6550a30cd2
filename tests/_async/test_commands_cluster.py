"""CLUSTER subcommands against redis-servers of this module's own started with
``--cluster-enabled yes``: a fresh node per test (so slots, epochs and node ids start
clean), RESP2 and RESP3. Not against PulsarDS, which has no cluster mode (issue 16), nor
against the shared test cluster, whose slots these tests would move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import RedisClient, create_store
from store.errors import DataError, ResponseError
from tests.conftest import RedisServer, _start_server, free_port, port_answers


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is valid (at most 55535) and unused."""
    for _ in range(1000):
        port = free_port()
        if port <= 55535 and not port_answers(port + 10000):
            return port
    raise RuntimeError("no free port for a cluster node")


@pytest.fixture
def cluster_nodes() -> Iterator[Callable[[], RedisServer]]:
    """Starts cluster-enabled redis-servers (stopped after the test)."""
    servers: list[Iterator[RedisServer]] = []

    def start() -> RedisServer:
        server = _start_server(
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", port=_cluster_port()
        )
        servers.append(server)
        return next(server)

    yield start
    for server in servers:
        next(server, None)


async def _until(predicate: Callable[[], Any], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await async_sleep(0.02)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_one_node(cluster_nodes: Callable[[], RedisServer], protocol: int) -> None:
    node = cluster_nodes()
    async with create_store(node.url, protocol=protocol) as store:
        client: RedisClient = store.client()
        myid = await client.cluster_myid()
        assert isinstance(myid, bytes) and len(myid) == 40
        info = await client.cluster_info()
        assert info["cluster_state"] == "fail" and info["cluster_slots_assigned"] == "0"
        assert await client.cluster_keyslot("foo") == 12182
        assert await client.cluster_keyslot("{foo}bar") == 12182

        assert await client.cluster_addslots(0, 1, 2) is True
        assert await client.cluster_addslotsrange(10, 20, 30, 30) is True
        with pytest.raises(ResponseError, match="busy"):
            await client.cluster_addslots(0)
        slots = await client.cluster_slots()
        assert [r[:2] for r in slots] == [[0, 2], [10, 20], [30, 30]]
        ip, port, node_id, metadata = slots[0][2]
        assert (port, node_id) == (node.port, myid)
        assert ip in (b"", b"127.0.0.1")  # a node alone may not know its address yet
        assert isinstance(metadata, dict)
        [shard] = await client.cluster_shards()
        assert shard["slots"] == [0, 2, 10, 20, 30, 30]
        [me] = shard["nodes"]
        assert me["id"] == myid and me["port"] == node.port and me["role"] == b"master"
        [(address, entry)] = (await client.cluster_nodes()).items()
        assert address.endswith(f":{node.port}@{node.port + 10000}")
        assert entry["node_id"] == myid.decode() and "myself" in entry["flags"]
        assert entry["slots"] == [["0", "2"], ["10", "20"], ["30"]]
        assert entry["connected"] is True and entry["migrations"] == []
        assert await client.cluster_delslots(0, 1, 2) is True
        assert await client.cluster_delslotsrange(10, 20, 30, 30) is True
        assert (await client.cluster_info())["cluster_slots_assigned"] == "0"
        with pytest.raises(DataError):
            await client.cluster_addslotsrange(1)

        # (a new master node takes keys only 2 s after it started: no keys here)
        assert await client.cluster_addslotsrange(0, 16383) is True
        assert await client.cluster_countkeysinslot(12182) == 0
        assert await client.cluster_get_keys_in_slot(12182, 10) == []
        assert await client.cluster_setslot(myid, 12182, "NODE") is True
        assert await client.cluster_setslot_stable(12182) is True
        with pytest.raises(DataError):
            await client.cluster_setslot(myid, 12182, "SIDEWAYS")
        with pytest.raises(ResponseError, match=r"unknown node|I don't know"):
            await client.cluster_setslot("0" * 40, 12182, "MIGRATING")
        assert await client.cluster_flushslots() is True
        assert (await client.cluster_info())["cluster_slots_assigned"] == "0"

        assert await client.cluster_links() == []
        assert await client.cluster_count_failure_report(myid) == 0
        assert await client.cluster_replicas(myid) == {}
        assert await client.cluster_slaves(myid) == {}
        assert await client.cluster_save_config() is True
        assert await client.cluster_set_config_epoch(7) is True
        with pytest.raises(ResponseError, match="epoch"):
            await client.cluster_set_config_epoch(8)
        assert (await client.cluster_bumpepoch()) in (b"STILL 7", b"BUMPED 8")
        with pytest.raises(ResponseError, match="replica"):
            await client.cluster_failover()
        with pytest.raises(DataError):
            await client.cluster_failover("GENTLY")
        with pytest.raises(ResponseError, match="forget myself"):
            await client.cluster_forget(myid)
        with pytest.raises(ResponseError, match="replicate myself"):
            await client.cluster_replicate(myid)
        assert await client.cluster_reset(soft=False) is True
        assert await client.cluster_myid() != myid
        assert await client.cluster_reset() is True


async def test_two_nodes(cluster_nodes: Callable[[], RedisServer]) -> None:
    first, second = cluster_nodes(), cluster_nodes()
    async with create_store(first.url) as a_store, create_store(second.url) as b_store:
        a, b = a_store.client(), b_store.client()
        a_id, b_id = await a.cluster_myid(), await b.cluster_myid()
        assert await a.cluster_meet("127.0.0.1", second.port) is True

        async def met() -> bool:
            nodes = (await b.cluster_nodes()).values()
            return any(
                n["node_id"] == a_id.decode() and "handshake" not in n["flags"] for n in nodes
            )

        await _until(met)
        links = await a.cluster_links()
        assert links and all(type(k) is str for link in links for k in link)
        assert {"direction", "node", "create-time"} <= set(links[0])
        assert await b.cluster_replicate(a_id) is True

        async def replicated() -> bool:
            return len(await a.cluster_replicas(a_id)) == 1

        await _until(replicated)
        [(address, replica)] = (await a.cluster_replicas(a_id)).items()
        assert address.startswith(f"127.0.0.1:{second.port}@")
        assert replica["node_id"] == b_id.decode() and replica["master_id"] == a_id.decode()
        assert await a.cluster_slaves(a_id) == await a.cluster_replicas(a_id)
        assert await a.cluster_count_failure_report(b_id) == 0
        with pytest.raises(ResponseError, match="master"):
            await b.cluster_forget(a_id)
        assert await a.cluster_forget(b_id) is True
        assert len(await a.cluster_nodes()) == 1
