"""``python -m bench.cluster``: store's ClusterStore against redis-py's RedisCluster on one
Redis Cluster of the benchmark's own (three primaries on free loopback ports, no
replicas), side by side in one run.

Clients: ``store.sync`` (``store.sync.create_store("redis+cluster://...")``), ``redis-py``
(``redis.cluster.RedisCluster``), ``store.aio`` and ``redis-py.asyncio``
(``redis.asyncio.cluster.RedisCluster``); redis-py uses hiredis when it is installed.

Workloads: ``get`` (sequential GET of a 10-byte value), ``mget-100`` (MGET of 100 keys
spread over many slots: store splits it by slot; redis-py's ``mget_nonatomic``),
``get-c50`` (GET by 50 concurrent tasks sharing one client; async clients only) and
``pipeline-100`` (a pipeline of 100 GETs across slots). Repeats are interleaved,
clients rotated by one per repeat; the table shows the best repeat and store's ratio to
its redis-py counterpart.

    .venv/bin/python -m bench.cluster             # 3 repeats
    .venv/bin/python -m bench.cluster --smoke     # 1% of the operations: a check
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from . import common
from .local_cluster import LocalRedisCluster, find_binary

__all__ = ["CLIENTS", "WORKLOADS", "LocalCluster", "main"]

PRIMARIES = 3
MAX_CONNECTIONS = 50
SMOKE_DIVISOR = 100
KEY = "bench:cluster:key"
VALUE = b"v" * 10
# 100 keys: without hash tags they fall into about 100 slots on all three primaries
MANY = [f"bench:cluster:many:{i}" for i in range(100)]


class LocalCluster:
    """``with LocalCluster() as cluster:`` runs a three-primary cluster without replicas on
    free loopback ports (``cluster.ports``) in a temporary directory until exit: the
    tests' cluster start (bench/local_cluster.py), its nodes detached from the terminal
    and killed with the benchmark."""

    host = "127.0.0.1"

    def __init__(self, server: str | None = None, cli: str | None = None) -> None:
        self.server = self._binary(server, "REDIS_SERVER", "redis-server")
        self.cli = self._binary(cli, "REDIS_CLI", "redis-cli")
        self.cluster = LocalRedisCluster(PRIMARIES, 0, detached=True)

    @staticmethod
    def _binary(given: str | None, variable: str, name: str) -> str:
        found = shutil.which(given) if given else find_binary(variable, name)
        if found is None:
            raise FileNotFoundError(
                f"{given or name} not found: install redis-server and redis-tools"
            )
        return found

    @property
    def ports(self) -> list[int]:
        return self.cluster.ports

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def version(self) -> str:
        out = subprocess.run(
            [self.server, "--version"], capture_output=True, text=True, check=False
        ).stdout
        for part in out.split():
            if part.startswith("v="):
                return part[2:]
        return out.strip()

    def __enter__(self) -> LocalCluster:
        self.cluster.start(self.server, self.cli)  # stops what it started if it fails
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cluster.stop()


# -- clients ------------------------------------------------------------------------------


@dataclass
class Opened:
    """A client: its command API, how to close it, and its pipeline builder."""

    api: Any
    close: Callable[[], Any]
    pipeline: Callable[[list[str]], Callable[[], Any]]


def _store_sync(url: str, ports: list[int]) -> Opened:
    import store.sync

    db: Any = store.sync.create_store(url, max_connections=MAX_CONNECTIONS)

    def pipeline(keys: list[str]) -> Callable[[], Any]:
        def op() -> Any:
            pipe = db.pipeline()
            for key in keys:
                pipe.execute("GET", key)
            return pipe.commit()

        return op

    return Opened(db.client(), db.close, pipeline)


def _redis_py(url: str, ports: list[int]) -> Opened:
    from redis.cluster import RedisCluster

    client = RedisCluster(
        host="127.0.0.1", port=ports[0], protocol=3, max_connections=MAX_CONNECTIONS
    )

    def pipeline(keys: list[str]) -> Callable[[], Any]:
        def op() -> Any:
            pipe: Any = client.pipeline(transaction=False)  # type: ignore[no-untyped-call]
            for key in keys:
                pipe.get(key)
            return pipe.execute()

        return op

    return Opened(client, client.close, pipeline)


async def _store_aio(url: str, ports: list[int]) -> Opened:
    import store.aio

    db: Any = store.aio.create_store(url, max_connections=MAX_CONNECTIONS)

    def pipeline(keys: list[str]) -> Callable[[], Awaitable[Any]]:
        async def op() -> Any:
            pipe = db.pipeline()
            for key in keys:
                await pipe.execute("GET", key)
            return await pipe.commit()

        return op

    return Opened(db.client(), db.close, pipeline)


async def _redis_py_asyncio(url: str, ports: list[int]) -> Opened:
    from redis.asyncio.cluster import RedisCluster

    client = RedisCluster(
        host="127.0.0.1", port=ports[0], protocol=3, max_connections=MAX_CONNECTIONS
    )
    await client.initialize()

    def pipeline(keys: list[str]) -> Callable[[], Awaitable[Any]]:
        async def op() -> Any:
            pipe: Any = client.pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
            return await pipe.execute()

        return op

    return Opened(client, client.aclose, pipeline)


@dataclass(frozen=True)
class Client:
    name: str
    asynchronous: bool
    open: Callable[[str, list[int]], Any]
    counterpart: str | None  # the redis-py client store's ratio is taken against


CLIENTS: dict[str, Client] = {
    c.name: c
    for c in (
        Client("store.sync", False, _store_sync, "redis-py"),
        Client("redis-py", False, _redis_py, None),
        Client("store.aio", True, _store_aio, "redis-py.asyncio"),
        Client("redis-py.asyncio", True, _redis_py_asyncio, None),
    )
}


# -- workloads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    ops: int
    concurrency: int  # 0: sync and async clients, one at a time; N: N tasks, async only
    make: Callable[[str, Opened], Callable[[], Any]]
    check: Callable[[Any], bool]


def _mget(client: str, opened: Opened) -> Callable[[], Any]:
    api = opened.api
    if client.startswith("redis-py"):
        return lambda: api.mget_nonatomic(MANY)
    return lambda: api.mget(MANY)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "get", "GET of a 10-byte value, one at a time", 20_000, 0,
            lambda c, o: lambda: o.api.get(KEY), lambda r: r == VALUE,
        ),
        Workload(
            "mget-100", "MGET of 100 keys across slots (redis-py: mget_nonatomic)", 2_000, 0,
            _mget, lambda r: list(r) == [VALUE] * len(MANY),
        ),
        Workload(
            "get-c50", "GET by 50 concurrent tasks on one client (async only)", 20_000, 50,
            lambda c, o: lambda: o.api.get(KEY), lambda r: r == VALUE,
        ),
        Workload(
            "pipeline-100", "a pipeline of 100 GETs across slots (ops/s counts pipelines)",
            2_000, 0,
            lambda c, o: o.pipeline(MANY),
            lambda r: list(r) == [VALUE] * len(MANY),
        ),
    )
}  # fmt: skip


def _counts(workload: Workload, smoke: bool, scale: float) -> tuple[int, int]:
    base = workload.ops // SMOKE_DIVISOR if smoke else workload.ops
    return common.scaled_counts(base, workload.concurrency, scale)


def _check(workload: Workload, client: str, reply: Any) -> None:
    if not workload.check(reply):
        raise RuntimeError(f"{client} got an unexpected reply for {workload.name}: {reply!r}")


def _measure_sync(
    workload: Workload, client: str, op: Callable[[], Any], ops: int, warmup: int
) -> float:
    _check(workload, client, op())
    common.time_sync(op, warmup)
    return ops / common.time_sync(op, ops)


async def _measure_async(
    workload: Workload, client: str, op: Callable[[], Awaitable[Any]], ops: int, warmup: int
) -> float:
    _check(workload, client, await op())
    await common.time_async(op, warmup, workload.concurrency)
    return ops / await common.time_async(op, ops, workload.concurrency)


def _fill(url: str) -> None:
    import store.sync

    with store.sync.create_store(url) as db:
        db.execute("SET", KEY, VALUE)
        db.execute("MSET", *(part for key in MANY for part in (key, VALUE)))


def _applies(workload: Workload, client: Client) -> bool:
    return client.asynchronous or not workload.concurrency


def _measure(
    workload: Workload, client: Client, url: str, ports: list[int], ops: int, warmup: int
) -> float:
    """ops/s of one measurement on a client opened for it."""
    if client.asynchronous:

        async def run() -> float:
            opened: Opened = await client.open(url, ports)
            try:
                op = workload.make(client.name, opened)
                return await _measure_async(workload, client.name, op, ops, warmup)
            finally:
                await opened.close()

        return asyncio.run(run())
    opened = client.open(url, ports)
    try:
        op = workload.make(client.name, opened)
        return _measure_sync(workload, client.name, op, ops, warmup)
    finally:
        opened.close()


def _run(
    cluster: LocalCluster,
    workloads: list[Workload],
    clients: list[Client],
    repeats: int,
    smoke: bool,
    scale: float,
) -> dict[str, dict[str, list[float]]]:
    """{workload: {client: [ops/s per repeat]}}; clients rotated by one per repeat."""
    _fill(cluster.url)
    rates: dict[str, dict[str, list[float]]] = {w.name: {} for w in workloads}
    for repeat in range(repeats):
        shift = repeat % len(clients)
        order = clients[shift:] + clients[:shift]
        for workload in workloads:
            ops, warmup = _counts(workload, smoke, scale)
            for client in order:
                if not _applies(workload, client):
                    continue
                rate = _measure(workload, client, cluster.url, cluster.ports, ops, warmup)
                rates[workload.name].setdefault(client.name, []).append(rate)
                print(
                    f"repeat {repeat + 1}/{repeats} {workload.name:<13} {client.name:<17} "
                    f"{rate:>10,.0f} ops/s",
                    file=sys.stderr,
                    flush=True,
                )
    return rates


def _table(rates: dict[str, dict[str, list[float]]], clients: list[Client]) -> str:
    header = ["workload", *(c.name for c in clients)]
    pairs = [c for c in clients if c.counterpart is not None]
    header += [f"{c.name}/{c.counterpart}" for c in pairs]
    rows = [header]
    for workload, by_client in rates.items():
        if not by_client:
            continue
        best = {name: max(samples) for name, samples in by_client.items()}
        row = [workload] + [f"{best[c.name]:,.0f}" if c.name in best else "-" for c in clients]
        for c in pairs:
            theirs = best.get(c.counterpart or "")
            row.append(f"{best[c.name] / theirs:.2f}x" if c.name in best and theirs else "-")
        rows.append(row)
    return common.text_table(rows)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster",
        description="store's ClusterStore against redis-py's RedisCluster on a Redis "
        "Cluster of its own: GET, MGET of 100 keys, 50 concurrent GETs, pipelines.",
    )
    parser.add_argument("--smoke", action="store_true", help="1%% of the operations, 1 repeat")
    parser.add_argument("-n", "--scale", type=float, default=1.0, metavar="FACTOR")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (1 with --smoke)")
    parser.add_argument("--only", default="*", metavar="WORKLOADS", help="names or patterns")
    parser.add_argument("--clients", default="*", metavar="CLIENTS", help="names or patterns")
    parser.add_argument("--redis-server", default=None, metavar="PATH")
    parser.add_argument("--redis-cli", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    workloads = [WORKLOADS[n] for n in common.select("workload", args.only, WORKLOADS)]
    clients = [CLIENTS[n] for n in common.select("client", args.clients, CLIENTS)]
    repeats = args.repeats or (1 if args.smoke else 3)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with LocalCluster(args.redis_server, args.redis_cli) as cluster:
            print(
                f"redis-server {cluster.version}, a cluster of {PRIMARIES} primaries on "
                f"{cluster.url}; {repeats} repeat(s){', smoke run' if args.smoke else ''}; "
                f"redis-py {common.version('redis')}, hiredis {common.version('hiredis')}",
                file=sys.stderr,
                flush=True,
            )
            rates = _run(cluster, workloads, clients, repeats, args.smoke, args.scale)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print()
    print(_table(rates, clients))
    print()
    print(
        f"ops/s: the best of {repeats} repeat(s), clients interleaved between repeats.\n"
        "store.X/redis-py.Y: store's ops/s over redis-py's (same run); above 1 means store "
        "is faster."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
