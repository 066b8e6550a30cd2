"""A real Redis Sentinel setup for the tests: one primary, one replica and three sentinels
(``redis-server --sentinel``), each a process on a free loopback port, all in one
temporary directory.

``running_sentinels()`` yields a started ``SentinelSetup`` (the sentinels know the replica
and each other) and stops every process afterwards; the ``redis_sentinels`` fixture
(module scope) wraps it, for a conftest to import. A setup can kill its primary
(SIGKILL), ask for a failover and ``heal()``: restart what was killed (the sentinels make it
a replica of the new primary) and wait until the topology is whole again.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import free_port

__all__ = [
    "DOWN_AFTER_MS",
    "FAILOVER_TIMEOUT_MS",
    "SERVICE",
    "SentinelSetup",
    "SwitchWatcher",
    "command",
    "redis_sentinels",
    "running_sentinels",
]

SERVICE = "mymaster"
# small, so that a dead primary is noticed (and replaced) within a few seconds
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 2000
START_TIMEOUT = 20.0


def _read_reply(sock: socket.socket, buffer: bytearray) -> Any:
    """One RESP2 reply from ``sock`` (what the setup needs: no RESP3)."""

    def line() -> bytes:
        while b"\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            buffer.extend(chunk)
        end = buffer.index(b"\r\n")
        text = bytes(buffer[:end])
        del buffer[: end + 2]
        return text

    head = line()
    kind, rest = head[:1], head[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        while len(buffer) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            buffer.extend(chunk)
        data = bytes(buffer[:size])
        del buffer[: size + 2]
        return data.decode()
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [_read_reply(sock, buffer) for _ in range(size)]
    raise ConnectionError(f"unexpected reply {head!r}")


def command(port: int, *args: Any, password: str | None = None, timeout: float = 5.0) -> Any:
    """Send one command on a new connection (AUTH first with ``password``), its reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        commands = ([("AUTH", password)] if password else []) + [args]
        payload = b""
        for one in commands:
            payload += b"*%d\r\n" % len(one)
            for arg in one:
                data = str(arg).encode()
                payload += b"$%d\r\n%s\r\n" % (len(data), data)
        sock.sendall(payload)
        buffer = bytearray()
        replies = [_read_reply(sock, buffer) for _ in commands]
    reply = replies[-1]
    if isinstance(reply, RuntimeError):
        raise reply
    return reply


def _pairs(flat: list[Any]) -> dict[str, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


@dataclass
class Process:
    """One redis-server (data node or sentinel) of the setup."""

    binary: str
    port: int
    directory: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.directory,
        )

    def wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process is None or self.process.poll() is not None:
                    break
                time.sleep(0.02)
        raise RuntimeError(f"{self.args[0]} did not start on port {self.port}: {self.log()}")

    def log(self) -> str:
        try:
            with open(os.path.join(self.directory, "redis.log")) as file:
                return file.read()[-2000:]
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to the sentinels or the replica."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@dataclass
class SentinelSetup:
    """Two data nodes (``nodes[0]`` starts as the primary) and three sentinels watching
    them as ``SERVICE``; ``sentinel_password`` protects the sentinels (``requirepass``)."""

    binary: str
    sentinel_password: str | None = None
    directory: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="store-sentinel-"))
    nodes: list[Process] = field(default_factory=list)
    sentinels: list[Process] = field(default_factory=list)

    @property
    def sentinel_ports(self) -> list[int]:
        return [s.port for s in self.sentinels]

    @property
    def hosts(self) -> str:
        """The sentinels as a URL's host list."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def url(self, scheme: str = "redis+sentinel", tail: str = "") -> str:
        return f"{scheme}://{self.hosts}/{SERVICE}{tail}"

    def sentinel(self, index: int, *args: Any) -> Any:
        return command(self.sentinels[index].port, *args, password=self.sentinel_password)

    def _node_args(self, port: int, directory: str) -> list[str]:
        return [
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            directory,
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            os.path.join(directory, "redis.log"),
            # a replica's full sync at once, not after the default 5 s wait for others
            "--repl-diskless-sync-delay",
            "0",
        ]

    def start(self, timeout: float = START_TIMEOUT) -> None:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        primary_port, replica_port = free_port(), free_port()
        for index, port in enumerate((primary_port, replica_port)):
            directory = os.path.join(self.directory, f"node{index}")
            args = self._node_args(port, directory)
            if index:
                args += ["--replicaof", "127.0.0.1", str(primary_port)]
            self.nodes.append(Process(self.binary, port, directory, args))
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_listening()
        # each sentinel's id given, and the others and the replica written in its
        # configuration: no wait for the hello messages (one every 2 s) that find them
        ports = [free_port() for _ in range(3)]
        ids = [os.urandom(20).hex() for _ in range(3)]
        for index, port in enumerate(ports):
            directory = os.path.join(self.directory, f"sentinel{index}")
            os.makedirs(directory)
            config = os.path.join(directory, "sentinel.conf")
            lines = [
                f"port {port}",
                "bind 127.0.0.1",
                f"dir {directory}",
                f"logfile {os.path.join(directory, 'redis.log')}",
                f"sentinel myid {ids[index]}",
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2",
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {SERVICE} 1",
                f"sentinel known-replica {SERVICE} 127.0.0.1 {replica_port}",
            ]
            lines += [
                f"sentinel known-sentinel {SERVICE} 127.0.0.1 {other} {ids[number]}"
                for number, other in enumerate(ports)
                if number != index
            ]
            if self.sentinel_password:
                # the sentinels' own password, which they also use with each other
                lines += [
                    f"requirepass {self.sentinel_password}",
                    f"sentinel sentinel-pass {self.sentinel_password}",
                ]
            with open(config, "w") as file:
                file.write("\n".join(lines) + "\n")
            self.sentinels.append(Process(self.binary, port, directory, [config, "--sentinel"]))
        for sentinel in self.sentinels:
            sentinel.start()
        for sentinel in self.sentinels:
            sentinel.wait_listening()
        self.wait_whole(timeout)

    def primary_port(self, index: int = 0) -> int:
        """The primary's port as sentinel ``index`` says."""
        _, port = self.sentinel(index, "SENTINEL", "get-master-addr-by-name", SERVICE)
        return int(port)

    def node(self, port: int) -> Process:
        return next(node for node in self.nodes if node.port == port)

    def wait_whole(self, timeout: float = START_TIMEOUT) -> None:
        """Until every sentinel names the same primary (a master by its ROLE), knows the
        two other sentinels and one replica that is up and linked to the primary."""
        deadline = time.monotonic() + timeout
        problem = "not checked"
        while time.monotonic() < deadline:
            problem = self._whole()
            if problem is None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the sentinel setup is not whole after {timeout}s: {problem}")

    def _whole(self) -> str | None:
        try:
            primaries = {self.primary_port(index) for index in range(3)}
            if len(primaries) != 1:
                return f"the sentinels name several primaries: {primaries}"
            (primary,) = primaries
            role = command(primary, "ROLE")
            if role[0] != "master":
                return f"{primary} is a {role[0]}"
            for index in range(3):
                master = _pairs(self.sentinel(index, "SENTINEL", "master", SERVICE))
                if "s_down" in master["flags"] or "o_down" in master["flags"]:
                    return f"sentinel {index}: the primary is {master['flags']}"
                if int(master["num-other-sentinels"]) != 2:
                    return f"sentinel {index} knows {master['num-other-sentinels']} others"
                replicas = [
                    _pairs(flat) for flat in self.sentinel(index, "SENTINEL", "replicas", SERVICE)
                ]
                healthy = [
                    r
                    for r in replicas
                    if r["flags"] == "slave" and r.get("master-link-status") == "ok"
                ]
                if not healthy:
                    return f"sentinel {index}: no healthy replica ({replicas})"
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def kill_primary(self) -> int:
        """SIGKILL the primary; its port."""
        port = self.primary_port()
        self.node(port).kill()
        return port

    def heal(self, timeout: float = START_TIMEOUT) -> None:
        """Restart the data nodes that are down (the sentinels turn them into replicas of
        the current primary) and wait until the setup is whole."""
        primary = self.primary_port()
        for node in self.nodes:
            if not node.running:
                # as a replica already: a node that starts as a primary is turned into one
                # by the sentinels only after several of their INFO periods (10 s each)
                node.args = self._node_args(node.port, node.directory)
                node.args += ["--replicaof", "127.0.0.1", str(primary)]
                node.start()
                node.wait_listening()
        self.wait_whole(timeout)

    def stop(self) -> None:
        for process in [*self.sentinels, *self.nodes]:
            process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class SwitchWatcher:
    """A thread subscribed to ``+switch-master`` on one sentinel, keeping when each
    announcement arrived (``time.monotonic()``) and what it said."""

    def __init__(self, setup: SentinelSetup, index: int = 0) -> None:
        self.announced: list[tuple[float, str]] = []
        self._sock = socket.create_connection(("127.0.0.1", setup.sentinels[index].port), 5)
        self._buffer = bytearray()
        if setup.sentinel_password:
            self._send("AUTH", setup.sentinel_password)
            _read_reply(self._sock, self._buffer)
        self._send("SUBSCRIBE", "+switch-master")
        _read_reply(self._sock, self._buffer)  # the confirmation
        self._sock.settimeout(None)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _send(self, *args: str) -> None:
        payload = b"*%d\r\n" % len(args)
        for arg in args:
            payload += b"$%d\r\n%s\r\n" % (len(arg.encode()), arg.encode())
        self._sock.sendall(payload)

    def _read(self) -> None:
        try:
            while True:
                reply = _read_reply(self._sock, self._buffer)
                self.announced.append((time.monotonic(), reply[2]))
        except (OSError, ConnectionError, TypeError, IndexError):
            return  # closed

    def wait(self, timeout: float) -> tuple[float, str]:
        """The first announcement, waiting at most ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while not self.announced:
            if time.monotonic() > deadline:
                raise AssertionError(f"no +switch-master within {timeout}s")
            time.sleep(0.01)
        return self.announced[0]

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(5)


def _binary() -> str:
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if found is None:
        pytest.fail(
            "redis-server not found (REDIS_SERVER or PATH): the sentinel tests need a real "
            "Redis (install Debian's redis-server, or set $REDIS_SERVER)"
        )
    return found


def running_sentinels(sentinel_password: str | None = None) -> Iterator[SentinelSetup]:
    """A started setup, stopped (its files removed) when the generator is closed."""
    setup = SentinelSetup(_binary(), sentinel_password)
    setup.start()
    try:
        yield setup
    finally:
        setup.stop()


@pytest.fixture(scope="module")
def redis_sentinels() -> Iterator[SentinelSetup]:
    """One primary, one replica, three sentinels, on free loopback ports."""
    yield from running_sentinels()
