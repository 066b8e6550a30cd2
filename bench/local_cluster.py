"""A real Redis Cluster on free loopback ports, for the cluster benchmark and the tests
(tests/cluster_fixture.py wraps it in a pytest fixture; nothing here imports pytest).

``LocalRedisCluster(primaries, replicas_per_primary)``: ``start(server, cli)`` runs one
redis-server per node in a temporary directory, joins them with ``redis-cli --cluster
create`` and returns once every node says ``cluster_state:ok``, all agree on one slot map
and every replica is online; ``stop()`` removes it all. Each node's cluster bus gets a
free port of its own (``--cluster-port``) rather than port + 10000, which may be taken or
above 65535.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from .server import free_port

__all__ = ["ClusterNodeProcess", "ClusterStartError", "LocalRedisCluster", "find_binary"]

START_TIMEOUT = 60.0  # seconds for the whole start-up: processes, create, agreement


class ClusterStartError(RuntimeError):
    """The cluster did not come up; the message has each node's log tail."""


def find_binary(variable: str, name: str) -> str | None:
    """``$variable`` or ``name`` on the PATH, if it is an executable."""
    found = os.environ.get(variable) or shutil.which(name)
    if found is None or not os.access(found, os.X_OK):
        return None
    return found


def _free_ports(count: int) -> list[int]:
    """Distinct free ports, never the machine's own Redis ports."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and port not in (6379, 16379):
            ports.append(port)
    return ports


def _die_with_parent() -> None:
    # Linux: a node gets SIGTERM if the thread that started it ends without cleaning up
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class ClusterNodeProcess:
    """One redis-server of the cluster. ``detached``: in a session of its own (a Ctrl-C
    in the terminal does not reach it) and, on Linux, killed with the thread that started
    it (the benchmark's main thread)."""

    port: int
    bus_port: int
    directory: str
    detached: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, f"redis-{self.port}.log")

    @property
    def output_path(self) -> str:
        return os.path.join(self.directory, f"redis-{self.port}.out")

    def log_tail(self, size: int = 1500) -> str:
        """The end of the node's log, and of its output (where an invalid option is told,
        before the log file opens)."""
        found = []
        for path in (self.output_path, self.log_path):
            try:
                with open(path, errors="replace") as log:
                    found.append(log.read()[-size:])
            except OSError as exc:
                found.append(f"(no {os.path.basename(path)}: {exc.strerror})")
        return "\n".join(part for part in found if part)

    def start(self, binary: str) -> None:
        with open(self.output_path, "wb") as output:  # the child keeps its own copy
            self._spawn(binary, output)

    def _spawn(self, binary: str, output: Any) -> None:
        linux = sys.platform == "linux"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(self.bus_port),
                "--cluster-config-file",
                os.path.join(self.directory, f"nodes-{self.port}.conf"),
                "--cluster-node-timeout",
                "2000",
                "--save",
                "",
                # replicas sync at once, not after the default 5 s wait for more of them
                "--repl-diskless-sync-delay",
                "0",
                # SHARDS calls a replica "loading" until its offset moves: the primary's
                # replication pings move it, every 10 s by default
                "--repl-ping-replica-period",
                "1",
                "--appendonly",
                "no",
                # a primary would wait up to 10 s for its replica to catch up on SIGTERM
                "--shutdown-timeout",
                "0",
                "--dir",
                self.directory,
                "--logfile",
                self.log_path,
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=self.detached,
            preexec_fn=_die_with_parent if self.detached and linux else None,
        )

    def state(self) -> str:
        if self.process is None:
            return "stopped"
        code = self.process.poll()
        return "running" if code is None else f"exited with code {code}"

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@dataclass
class LocalRedisCluster:
    """``primaries`` primaries with ``replicas_per_primary`` replicas each, in one
    temporary directory (see the module docstring)."""

    primaries: int = 3
    replicas_per_primary: int = 1
    detached: bool = False
    nodes: list[ClusterNodeProcess] = field(default_factory=list)
    directory: str = ""
    startup_seconds: float = 0.0

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def seed_url(self) -> str:
        return self.nodes[0].url

    @property
    def url(self) -> str:
        """``redis+cluster://`` with every node as a startup node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self, server: str, cli: str, timeout: float = START_TIMEOUT) -> None:
        began = time.monotonic()
        deadline = began + timeout
        self.directory = tempfile.mkdtemp(prefix="store-cluster-")
        count = self.primaries * (1 + self.replicas_per_primary)
        ports = _free_ports(2 * count)
        self.nodes = [
            ClusterNodeProcess(ports[index], ports[count + index], self.directory, self.detached)
            for index in range(count)
        ]
        try:
            for node in self.nodes:
                node.start(server)
            self._wait("every node answers PING", deadline, self._all_answer)
            created = subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{port}" for port in self.ports),
                    "--cluster-replicas",
                    str(self.replicas_per_primary),
                    "--cluster-yes",
                ],
                capture_output=True,
                text=True,
                timeout=max(1.0, deadline - time.monotonic()),
            )
            if created.returncode != 0:
                raise ClusterStartError(
                    self._report(f"redis-cli --cluster create failed:\n{created.stdout[-3000:]}")
                )
            self._wait("cluster_state:ok and one slot map on every node", deadline, self._agree)
        except subprocess.TimeoutExpired as exc:
            self.stop()
            raise ClusterStartError(self._report(f"timed out: {exc}")) from None
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def _report(self, what: str) -> str:
        tails = "\n".join(
            f"--- node {node.port} (bus {node.bus_port}, {node.state()}):\n{node.log_tail()}"
            for node in self.nodes
        )
        return f"the cluster did not start: {what}\n{tails}"

    def _wait(self, what: str, deadline: float, ready: Any) -> None:
        last = ""
        while True:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise ClusterStartError(self._report(f"node {node.port} exited"))
            try:
                if ready():
                    return
            except Exception as exc:  # not up yet: say why if it never is
                last = repr(exc)
            if time.monotonic() > deadline:
                raise ClusterStartError(self._report(f"timed out waiting for {what} {last}"))
            time.sleep(0.05)

    def command(self, port: int, *args: Any) -> Any:
        """One command to one node, on a connection of its own."""
        from store.sync import create_store

        with create_store(f"redis://127.0.0.1:{port}", socket_timeout=5) as node:
            return node.execute(*args)

    def _all_answer(self) -> bool:
        return all(self.command(port, "PING") in (b"PONG", "PONG", True) for port in self.ports)

    def _agree(self) -> bool:
        views = set()
        for port in self.ports:
            info = self.command(port, "CLUSTER", "INFO")
            if b"cluster_state:ok" not in info:
                return False
            views.add(_topology(self.command(port, "CLUSTER", "NODES")))
            # replicas are "loading" until their first sync: CLUSTER SLOTS omits them
            shards = self.command(port, "CLUSTER", "SHARDS")
            if any(_health(shard) != {"online"} for shard in shards):
                return False
        if len(views) != 1:
            return False
        (view,) = views
        primaries = [row for row in view if row[1] == "-"]  # a primary has no primary
        return len(view) == len(self.nodes) and len(primaries) == self.primaries

    def stop(self) -> None:
        # every node told first, then waited for: their shutdowns overlap
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            node.stop()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""


def _topology(nodes_reply: bytes) -> frozenset[tuple[str, str, str, str]]:
    """A node's view from CLUSTER NODES, without what differs between views (``myself``,
    ping times, link state): ``(id, primary id or "-", address, slots)`` per node, and
    only once no node is in handshake or failing."""
    rows = set()
    for line in nodes_reply.decode().splitlines():
        fields = line.split()
        node_id, address, flags, primary = fields[0], fields[1].split("@")[0], fields[2], fields[3]
        if any(flag in flags for flag in ("handshake", "fail", "noaddr")):
            raise ValueError(f"node {address} is {flags}")
        rows.add((node_id, primary, address, " ".join(fields[8:])))
    return frozenset(rows)


def _health(shard: Any) -> set[str]:
    """The health values of a CLUSTER SHARDS entry (RESP2 list or RESP3 map)."""
    if isinstance(shard, list):
        shard = dict(zip(shard[::2], shard[1::2], strict=True))
    found = set()
    for node in shard[b"nodes"]:
        if isinstance(node, list):
            node = dict(zip(node[::2], node[1::2], strict=True))
        found.add(node[b"health"].decode())
    return found
