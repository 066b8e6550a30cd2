"""A real Redis Cluster for the tests: six redis-server processes on free loopback ports
(three primaries, three replicas) joined by ``redis-cli --cluster create``.

``running_cluster()`` yields a started ``RedisCluster`` and stops it afterwards; the
``redis_cluster`` fixture (session scope) wraps it, for a conftest to import. The nodes,
their start and the wait for agreement are bench/local_cluster.py's (shared with the
cluster benchmark); this module adds the pytest side. ``$REDIS_SERVER`` and ``$REDIS_CLI``
name the binaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bench.local_cluster import (
    START_TIMEOUT,
    ClusterNodeProcess,
    ClusterStartError,
    LocalRedisCluster,
    find_binary,
)

__all__ = [
    "PRIMARIES",
    "REPLICAS_PER_PRIMARY",
    "ClusterNodeProcess",
    "ClusterStartError",
    "RedisCluster",
    "redis_cluster",
    "running_cluster",
]

PRIMARIES = 3
REPLICAS_PER_PRIMARY = 1


def _binary(variable: str, name: str) -> str:
    found = find_binary(variable, name)
    if found is None:
        pytest.fail(
            f"{name} not found ({variable} or PATH): the cluster tests need a real Redis "
            f"(install Debian's redis-server and redis-tools, or set ${variable})"
        )
    return found


@dataclass
class RedisCluster(LocalRedisCluster):
    """Six cluster nodes in one temporary directory. ``start()`` returns once every node
    says ``cluster_state:ok`` and all agree on the slot map; ``stop()`` removes it all."""

    primaries: int = PRIMARIES
    replicas_per_primary: int = REPLICAS_PER_PRIMARY

    def start(  # type: ignore[override]  # the binaries are found here
        self, timeout: float = START_TIMEOUT
    ) -> None:
        server = _binary("REDIS_SERVER", "redis-server")
        cli = _binary("REDIS_CLI", "redis-cli")
        super().start(server, cli, timeout)


def running_cluster() -> Iterator[RedisCluster]:
    """A started cluster, stopped (its files removed) when the generator is closed."""
    cluster = RedisCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A real three-primary, three-replica cluster on free loopback ports."""
    yield from running_cluster()
