"""Output buffers of PulsarDS: ``client-output-buffer-limit`` as Redis 7.0 has it, and a
client whose replies pile up is no longer read from until they drain.

PulsarDS runs as a subprocess, so that its memory (VmHWM, the peak resident set, from
/proc/<pid>/status) can be measured while raw sockets misbehave."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from store.resp import pack_command
from tests.conftest import free_port
from tests.server.conftest import RawClient

MB = 1 << 20
VALUE = b"v" * 100_000


class Served:
    """``python -m store serve`` on a free port; its pid tells its memory."""

    def __init__(self, directory: str, *options: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "store", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--save", "", "--dir", directory, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 20
        while True:
            assert self.process.poll() is None, "PulsarDS exited"
            try:
                if RawClient(self.port).call("PING") == b"PONG":
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, "PulsarDS did not start"
            time.sleep(0.05)

    def memory(self, field: str) -> int:
        """VmRSS (now) or VmHWM (the peak so far) in bytes."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def stat(self, name: str) -> int:
        info = RawClient(self.port).call("INFO", "pulsards").decode()  # PulsarDS's own
        for line in info.splitlines():
            if line.startswith(name + ":"):
                return int(line.split(":")[1])
        raise AssertionError(f"no {name} in INFO")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def served(tmp_path: Any) -> Iterator[Any]:
    started: list[Served] = []

    def start(*options: str) -> Served:
        started.append(Served(str(tmp_path), *options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _wait_for(condition: Any, message: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def _clients(server: Served) -> int:
    """connected_clients of INFO, less the client asking."""
    info = RawClient(server.port).call("INFO", "clients").decode()
    return int(info.split("connected_clients:")[1].split()[0]) - 1


def _send_in_background(sock: socket.socket, data: bytes) -> threading.Thread:
    """sendall from a thread: the server may stop reading, and then the sender waits."""

    def send() -> None:
        try:
            sock.sendall(data)
        except OSError:
            pass  # cut off by the server

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_pipeline_that_is_never_read_stops_at_the_normal_hard_limit(served: Any) -> None:
    server = served()
    admin = RawClient(server.port)
    assert admin.call("CONFIG", "SET", "client-output-buffer-limit", "normal 64mb 0 0") == b"OK"
    assert admin.call("SET", "big", VALUE) == b"OK"
    baseline = server.memory("VmRSS")
    greedy = socket.create_connection(("127.0.0.1", server.port))
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # 20,000 GETs (0.4 MB) asking for 2 GB of replies, none of them read
    sender = _send_in_background(greedy, pack_command("GET", "big") * 20_000)
    _wait_for(
        lambda: server.stat("client_output_buffer_limit_disconnections") == 1,
        "the client that never reads was not disconnected",
    )
    sender.join(30)
    _wait_for(lambda: _clients(server) == 1, "the greedy client is still connected")
    greedy.close()
    peak = server.memory("VmHWM")
    assert peak - baseline < 64 * MB * 1.1, (peak - baseline) / MB
    assert admin.call("GET", "big") == VALUE  # the server and the data are fine


def test_small_replies_never_read_are_cut_off_at_the_hard_limit_too(served: Any) -> None:
    # each reply passes the limit by little: the client is dropped there, not held
    server = served("--client-output-buffer-limit", "normal 1mb 0 0")
    assert RawClient(server.port).call("SET", "small", b"s" * 1000) == b"OK"
    greedy = socket.create_connection(("127.0.0.1", server.port))
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sender = _send_in_background(greedy, pack_command("GET", "small") * 20_000)  # 20 MB
    _wait_for(
        lambda: server.stat("client_output_buffer_limit_disconnections") == 1,
        "the client that never reads was not disconnected",
    )
    sender.join(30)
    _wait_for(lambda: _clients(server) == 0, "the greedy client is still connected")
    greedy.close()


def test_a_subscriber_that_never_reads_is_disconnected_at_the_pubsub_limit(
    served: Any,
) -> None:
    server = served()  # Redis's defaults: pubsub 32mb 8mb 60
    subscriber = socket.create_connection(("127.0.0.1", server.port))
    subscriber.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    subscriber.sendall(pack_command("SUBSCRIBE", "news"))
    subscriber.settimeout(10)
    assert subscriber.recv(100) == b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    publisher = RawClient(server.port)
    baseline = server.memory("VmRSS")
    received = []
    for _ in range(10):  # 100 MB of messages, 10 MB a pipeline
        publisher.send_raw(pack_command("PUBLISH", "news", VALUE) * 100)
        received += [publisher.read() for _ in range(100)]
    assert received[0] == 1 and received[-1] == 0  # delivered, until it was cut off
    assert server.stat("client_output_buffer_limit_disconnections") == 1
    _wait_for(lambda: _clients(server) == 1, "the subscriber is still connected")
    subscriber.close()
    assert publisher.call("PUBSUB", "NUMSUB", "news") == [b"news", 0]
    peak = server.memory("VmHWM")
    assert peak - baseline < 32 * MB * 1.1, (peak - baseline) / MB


def _read_replies_slowly(sock: socket.socket, expected: int, pause: float) -> bytes:
    """Read ``expected`` bytes 256 KB at a time, pausing between reads: their digest."""
    sock.settimeout(30)
    total, digest = 0, hashlib.sha256()
    while total < expected:
        data = sock.recv(min(256 << 10, expected - total))
        if not data:
            break
        total += len(data)
        digest.update(data)
        time.sleep(pause)
    return digest.digest()


def _digest(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def test_a_slow_reader_below_the_limits_gets_every_reply(served: Any) -> None:
    server = served("--client-output-buffer-limit", "normal 64mb 16mb 2")
    assert RawClient(server.port).call("SET", "big", VALUE) == b"OK"
    reply = b"$100000\r\n" + VALUE + b"\r\n"
    slow = socket.create_connection(("127.0.0.1", server.port))
    for _ in range(5):  # 10 MB of replies in flight at a time, read at about 100 MB/s
        slow.sendall(pack_command("GET", "big") * 100)
        assert _read_replies_slowly(slow, len(reply) * 100, 0.002) == _digest(*[reply] * 100)
    slow.sendall(b"PING\r\n")
    assert slow.recv(100) == b"+PONG\r\n"
    slow.close()
    assert server.stat("client_output_buffer_limit_disconnections") == 0


def test_with_no_limit_a_pipeline_is_held_until_its_replies_drain(served: Any) -> None:
    # normal 0 0 0 (Redis's default): no limit, so no disconnection; but the server stops
    # reading and running the pipeline while the replies wait, instead of making them all
    server = served()
    assert RawClient(server.port).call("SET", "big", VALUE) == b"OK"
    baseline = server.memory("VmRSS")
    # 200 MB of replies, with a mark after each to show that they come in order
    pipeline = b"".join(pack_command("GET", "big") + b"ECHO %d\r\n" % i for i in range(2_000))
    replies = [
        b"$100000\r\n" + VALUE + b"\r\n$%d\r\n%d\r\n" % (len(b"%d" % i), i) for i in range(2_000)
    ]
    reader = socket.create_connection(("127.0.0.1", server.port))
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sender = _send_in_background(reader, pipeline)
    time.sleep(1)  # the replies pile up, unread
    held = server.memory("VmRSS")
    assert held - baseline < 32 * MB, (held - baseline) / MB
    expected = _digest(*replies)
    assert _read_replies_slowly(reader, sum(map(len, replies)), 0) == expected
    sender.join(30)
    reader.sendall(b"PING\r\n")
    assert reader.recv(100) == b"+PONG\r\n"
    reader.close()
    peak = server.memory("VmHWM")
    assert peak - baseline < 32 * MB, (peak - baseline) / MB
    assert server.stat("client_output_buffer_limit_disconnections") == 0


def test_a_soft_limit_held_too_long_disconnects(served: Any) -> None:
    server = served("--client-output-buffer-limit", "pubsub 0 1mb 3")
    subscriber = socket.create_connection(("127.0.0.1", server.port))
    subscriber.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    subscriber.sendall(pack_command("SUBSCRIBE", "news"))
    subscriber.settimeout(10)
    assert subscriber.recv(100).startswith(b"*3\r\n$9\r\nsubscribe")
    publisher = RawClient(server.port)
    # over the soft limit (past what the kernel's buffers take), not yet for 3 s: still there
    for _ in range(80):
        assert publisher.call("PUBLISH", "news", VALUE) == 1
    omem = [
        int(field.split("=")[1])
        for line in publisher.call("CLIENT", "LIST").decode().splitlines()
        if "sub=1" in line
        for field in line.split()
        if field.startswith("omem=")
    ]
    assert omem and omem[0] > 1 * MB, omem  # CLIENT LIST shows the queued bytes
    deadline = time.monotonic() + 30
    while publisher.call("PUBLISH", "news", VALUE) == 1:
        assert time.monotonic() < deadline, "never disconnected at the soft limit"
        time.sleep(0.1)
    assert server.stat("client_output_buffer_limit_disconnections") == 1
    _wait_for(lambda: _clients(server) == 1, "the subscriber is still connected")
    subscriber.close()


SETTINGS = [
    "normal 64mb 0 0",
    "pubsub 1k 2kb 3 normal 1m 1mb 0",
    "replica 0 0 0 PUBSUB 1GB 1g +5",
    "slave 1 2 3",
    "",
    "normal 10 20 99999999999",
]
BAD_SETTINGS = [
    "wrong number",
    "normal 1 2",
    "master 1mb 1mb 60",
    "invalid 1 2 3",
    "normal 10mbs 1 1",
    "normal 1 1 1x",
    "normal 1 0 -1",
    "normal +5 0 0",
    "normal 0x10 0 0",
    "normal  5 0 0",
    "pubsub 1 2 3 nobody 1 1 1",
]


def _config_trace(port: int) -> list[Any]:
    client = RawClient(port)
    trace: list[Any] = [client.call("CONFIG", "GET", "client-output-buffer-limit")]
    for text in SETTINGS + BAD_SETTINGS:
        answer = client.call("CONFIG", "SET", "client-output-buffer-limit", text)
        trace.append((text, str(answer)))
        trace.append(client.call("CONFIG", "GET", "client-output-buffer-limit"))
    client.call(
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    )
    client.close()
    return trace


def test_config_set_and_get_answer_as_redis_does(pulsar: Any, redis_server: Any) -> None:
    ours = _config_trace(pulsar.port)
    theirs = _config_trace(redis_server.port)
    assert ours == theirs
    assert ours[0] == [
        b"client-output-buffer-limit",
        b"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ]
