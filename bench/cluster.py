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
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from . import common
from .server import free_port

__all__ = ["CLIENTS", "WORKLOADS", "LocalCluster", "main"]

PRIMARIES = 3
MAX_CONNECTIONS = 50
SMOKE_DIVISOR = 100
KEY = "bench:cluster:key"
VALUE = b"v" * 10
# 100 keys: without hash tags they fall into about 100 slots on all three primaries
MANY = [f"bench:cluster:many:{i}" for i in range(100)]


def _die_with_parent() -> None:
    # Linux: a node gets SIGTERM if the benchmark is killed without cleaning up
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocalCluster:
    """``with LocalCluster() as cluster:`` runs a three-primary cluster on free loopback
    ports (``cluster.ports``) in a temporary directory until exit."""

    host = "127.0.0.1"

    def __init__(self, server: str | None = None, cli: str | None = None) -> None:
        self.server = self._binary(server or os.environ.get("REDIS_SERVER") or "redis-server")
        self.cli = self._binary(cli or os.environ.get("REDIS_CLI") or "redis-cli")
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.directory = ""

    @staticmethod
    def _binary(name: str) -> str:
        found = shutil.which(name)
        if found is None:
            raise FileNotFoundError(f"{name} not found: install redis-server and redis-tools")
        return found

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{self.host}:{port}" for port in self.ports)

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
        self.directory = tempfile.mkdtemp(prefix="store-bench-cluster-")
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _ports(self, count: int) -> list[int]:
        ports: list[int] = []
        while len(ports) < count:
            port = free_port()
            if port not in ports and port not in (6379, 16379):
                ports.append(port)
        return ports

    def _start(self) -> None:
        ports = self._ports(2 * PRIMARIES)
        self.ports, buses = ports[:PRIMARIES], ports[PRIMARIES:]
        for port, bus in zip(self.ports, buses, strict=True):
            command = [
                self.server,
                "--port", str(port),
                "--bind", self.host,
                "--cluster-enabled", "yes",
                "--cluster-port", str(bus),
                "--cluster-config-file", os.path.join(self.directory, f"nodes-{port}.conf"),
                "--cluster-node-timeout", "2000",
                "--save", "",
                "--appendonly", "no",
                "--dir", self.directory,
                "--logfile", os.path.join(self.directory, f"redis-{port}.log"),
            ]  # fmt: skip
            self.processes.append(
                subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            )
        deadline = time.monotonic() + 60
        self._wait(deadline, "every node answers PING", lambda p: self._ask(p, b"PING") == "+PONG")
        nodes = [f"{self.host}:{port}" for port in self.ports]
        created = subprocess.run(
            [self.cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout[-3000:]}")
        self._wait(deadline, "cluster_state:ok", self._ok)

    def _ok(self, port: int) -> bool:
        info = self._ask(port, b"CLUSTER INFO")
        # every node knows every other one, and all slots are served
        return "cluster_state:ok" in info and f"cluster_known_nodes:{PRIMARIES}" in info

    def _ask(self, port: int, command: bytes) -> str:
        """One inline command's reply as text ('' when the node does not answer)."""
        try:
            with socket.create_connection((self.host, port), timeout=2) as sock:
                sock.sendall(command + b"\r\n")
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    data += chunk
                    if not chunk or (data.endswith(b"\r\n") and _complete(data)):
                        return data.decode(errors="replace").strip()
        except OSError:
            return ""

    def _wait(self, deadline: float, what: str, ready: Callable[[int], bool]) -> None:
        while not all(ready(port) for port in self.ports):
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a cluster node exited: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}: {self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        tails = []
        for port in self.ports:
            try:
                with open(os.path.join(self.directory, f"redis-{port}.log")) as log:
                    tails.append(f"--- {port}:\n{log.read()[-1000:]}")
            except OSError:
                pass
        return "\n".join(tails)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        processes, self.processes = self.processes, []
        for process in processes:  # all told first: their shutdowns overlap
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole simple reply or bulk string."""
    if data[:1] != b"$":
        return True
    header, _, rest = data.partition(b"\r\n")
    size = int(header[1:])
    return size < 0 or len(rest) >= size + 2


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
