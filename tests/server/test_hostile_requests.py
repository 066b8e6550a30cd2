"""Hostile requests (issue 11): declared lengths are refused before anything is allocated,
parsing is linear however a request is split, and a big argument is copied once. The
servers run as processes of their own, so that their CPU time and latency are theirs."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from store.server.protocol import RequestError, RequestParser
from tests.conftest import _start_server, free_port
from tests.server.conftest import RawClient
from tests.server.test_limits import _read_all

# Each header with the answer redis-server 7.0 gives it under PulsarDS's default limits
# (max-multibulk-len 1M, proto-max-bulk-len 512 MB).
HOSTILE = [
    (b"*2147483647\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*4294967295\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*268435456\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$2147483647\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
]


class PulsarProcess:
    """``python -m store serve`` on a free port: a process whose CPU time is its own."""

    def __init__(self, directory: str) -> None:
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "store",
                "serve",
                "--port",
                str(self.port),
                "--dir",
                directory,
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("PulsarDS did not start") from None
                time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def pulsar_process() -> Iterator[PulsarProcess]:
    with tempfile.TemporaryDirectory(prefix="store-hostile-") as directory:
        server = PulsarProcess(directory)
        try:
            yield server
        finally:
            server.stop()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize(("header", "answer"), HOSTILE)
def test_huge_declared_lengths_are_refused_before_anything_is_allocated(
    header: bytes, answer: bytes
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RequestError) as caught:
            RequestParser().feed(header)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert b"-ERR Protocol error: %s\r\n" % str(caught.value).encode() == answer
    assert peak < 1 << 20


def test_huge_headers_neither_stall_the_server_nor_delay_other_clients(
    pulsar_process: PulsarProcess,
) -> None:
    done = threading.Event()
    answers: list[bytes] = []
    failures: list[BaseException] = []

    def hostile(index: int) -> None:
        header, answer = HOSTILE[index % len(HOSTILE)]
        try:
            while not done.is_set():
                with socket.create_connection(("127.0.0.1", pulsar_process.port)) as sock:
                    sock.settimeout(30)
                    sock.sendall(header)
                    got = _read_all(sock, 30)  # returns only once the server closed
                    answers.append(got)
                    if got != answer:
                        raise AssertionError(f"{header!r} was answered {got!r}")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=hostile, args=(i,), daemon=True) for i in range(20)]
    for thread in threads:
        thread.start()
    latencies = []
    try:
        client = RawClient(pulsar_process.port)
        client.sock.settimeout(30)
        while len(answers) < 100 and not failures:  # the attack is under way
            time.sleep(0.01)
        for expected in range(1, 5001):
            started = time.perf_counter()
            assert client.call("INCR", "counter") == expected
            latencies.append(time.perf_counter() - started)
        client.close()
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert not failures, failures[0]
    assert len(answers) >= 100
    latencies.sort()
    assert latencies[int(len(latencies) * 0.99)] < 0.050


def _request(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _send_in_pieces(port: int, request: bytes) -> bytes:
    pieces = random.Random(11)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        position = 0
        while position < len(request):
            size = pieces.randint(1024, 4096)
            sock.sendall(request[position : position + size])
            position += size
        return sock.recv(100)


def test_a_huge_request_in_small_pieces_costs_what_it_costs_redis(
    pulsar_process: PulsarProcess, redis_server: Any
) -> None:
    count = 400_000
    request = _request([b"RPUSH", b"biglist"] + [b"item:%d" % i for i in range(count)])
    servers = {
        "redis": (redis_server.port, redis_server.process.pid),
        "pulsar": (pulsar_process.port, pulsar_process.pid),
    }
    clients = {name: RawClient(port) for name, (port, _) in servers.items()}
    cost = dict.fromkeys(servers, 0.0)
    # CPU time is counted in ticks of 10 ms, and this machine's speed varies: many rounds,
    # taken in turns, so that both servers are measured over the same stretch of time
    for _ in range(8):
        for name, (port, pid) in servers.items():
            client = clients[name]
            client.sock.settimeout(60)
            client.call("DEL", "biglist")
            before = _cpu_seconds(pid)
            assert _send_in_pieces(port, request) == b":%d\r\n" % count
            cost[name] += _cpu_seconds(pid) - before
            assert client.call("LLEN", "biglist") == count
            assert client.call("LINDEX", "biglist", -1) == b"item:%d" % (count - 1)
    for client in clients.values():
        client.call("DEL", "biglist")
        client.close()
    # Measured here: PulsarDS 1.5-1.8x redis-server (the old parser: 80x), most of it
    # splitting the bytes into the 400,000 argument objects; two ticks of rounding.
    assert cost["pulsar"] < 2 * cost["redis"] + 0.02, cost


def test_a_big_value_is_copied_once_between_the_socket_and_the_arguments() -> None:
    size = 64 << 20
    chunk = 256 << 10
    header = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size
    received = b"x" * chunk  # what the socket delivers, every time: the parser's own
    parser = RequestParser()  # allocations are then all that tracemalloc sees
    tracemalloc.start()
    try:
        commands = parser.feed(header)
        for _ in range(size // chunk):
            commands += parser.feed(received)
        commands += parser.feed(b"\r\n*1\r\n$4\r\nPING\r\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(commands) == 2 and commands[1] == [b"PING"]
    assert commands[0][:2] == [b"SET", b"big"] and len(commands[0][2]) == size
    assert commands[0][2].count(b"x") == size
    assert peak < 1.1 * size, peak / size  # the argument itself, and no other copy


def _memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def test_a_big_set_peaks_at_about_twice_the_value_in_the_server(
    pulsar_process: PulsarProcess,
) -> None:
    size = 64 << 20
    client = RawClient(pulsar_process.port)
    client.sock.settimeout(60)
    assert client.call("SET", "warm", "up") == b"OK"
    before = _memory_kb(pulsar_process.pid, "VmRSS")
    value = b"v" * size
    client.send_raw(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
    client.send_raw(value)
    client.send_raw(b"\r\n")
    del value
    assert client.read() == b"OK"
    assert client.call("STRLEN", "big") == size
    # the peak over the interpreter's own memory: the stored value plus one copy
    growth = (_memory_kb(pulsar_process.pid, "VmHWM") - before) * 1024
    client.close()
    assert growth < 2.2 * size, growth / size


def _reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current resident set (Linux's clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def test_a_big_get_is_sent_from_the_stored_value(pulsar_process: PulsarProcess) -> None:
    size = 64 << 20
    value = bytes(range(256)) * (size // 256)
    client = RawClient(pulsar_process.port)
    client.sock.settimeout(60)
    assert client.call("SET", "big", value) == b"OK"
    pid = pulsar_process.pid
    _reset_peak(pid)
    before = _memory_kb(pid, "VmRSS")
    client.send_raw(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n*1\r\n$4\r\nPING\r\n")
    time.sleep(0.5)  # the reply waits for a reader: the server holds what the socket did not take
    held = (_memory_kb(pid, "VmHWM") - before) * 1024
    assert client.read() == value
    assert client.read() == b"PONG"
    sent = (_memory_kb(pid, "VmHWM") - before) * 1024
    client.close()
    # redis-server copies the value into its reply list (64 MB); PulsarDS hands the stored
    # bytes to the socket a piece at a time (it copied them twice: 2.6x the value)
    assert held < 0.05 * size and sent < 0.05 * size, (held / size, sent / size)


def _read_reply_bytes(port: int, request: bytes, size: int) -> bytes:
    """The last bytes of a reply of ``size`` bytes, read without parsing it."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        got = 0
        tail = b""
        while got < size:
            data = sock.recv(1 << 20)
            assert data, "connection closed"
            got += len(data)
            tail = (tail + data)[-64:]
        assert got == size
        return tail


@pytest.fixture
def fresh_redis() -> Iterator[Any]:
    """A redis-server of this test's own: its allocator has no memory left by others."""
    yield from _start_server()


def test_a_million_element_list_peaks_as_in_redis(
    pulsar_process: PulsarProcess, fresh_redis: Any
) -> None:
    count = 1_000_000
    items = [b"item:%d" % i for i in range(count)]
    push = _request([b"RPUSH", b"hostile:biglist", *items])
    lrange = _request([b"LRANGE", b"hostile:biglist", b"0", b"-1"])
    reply_size = len(b"*%d\r\n" % count) + sum(len(b"$%d\r\n\r\n" % len(i)) + len(i) for i in items)
    del items
    peaks: dict[str, dict[str, float]] = {}
    for name, port, pid in [
        ("redis", fresh_redis.port, fresh_redis.process.pid),
        ("pulsar", pulsar_process.port, pulsar_process.pid),
    ]:
        client = RawClient(port)
        client.sock.settimeout(60)
        peaks[name] = {}
        _reset_peak(pid)
        before = _memory_kb(pid, "VmRSS")
        assert _send_in_pieces(port, push) == b":%d\r\n" % count
        peaks[name]["push"] = (_memory_kb(pid, "VmHWM") - before) / 1024
        _reset_peak(pid)
        before = _memory_kb(pid, "VmRSS")
        tail = _read_reply_bytes(port, lrange, reply_size)
        assert tail.endswith(b"$11\r\nitem:999999\r\n")
        peaks[name]["lrange"] = (_memory_kb(pid, "VmHWM") - before) / 1024
        assert client.call("DEL", "hostile:biglist") == 1
        client.close()
    # Measured here (MB): building it 68 against 59, LRANGE 25 against 21; before issue 11
    # PulsarDS took 249 to build it and 169 to send it. A few MB of allocator slack.
    for step in ("push", "lrange"):
        assert peaks["pulsar"][step] < 1.4 * peaks["redis"][step] + 4, peaks
