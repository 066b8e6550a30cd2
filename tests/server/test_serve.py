"""``python -m store serve``: PulsarDS as a process of its own, with a password."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from typing import Any

from tests.conftest import free_port
from tests.server.conftest import RawClient


def _start(*args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "store", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "PulsarDS did not start"
            time.sleep(0.05)


def test_serve_with_password_and_shutdown(tmp_path: Any) -> None:
    process, port = _start("--dir", str(tmp_path), "--save", "", "--requirepass", "s3cret")
    try:
        client = RawClient(port)
        assert str(client.call("GET", "k")) == "NOAUTH Authentication required."
        assert str(client.call("AUTH", "wrong")).startswith("WRONGPASS")
        assert client.call("AUTH", "s3cret") == b"OK"
        assert client.call("SET", "k", "v") == b"OK"
        listing = client.call("CLIENT", "LIST")
        assert b"s3cret" not in listing
        client.send_raw(b"*1\r\n$8\r\nSHUTDOWN\r\n")
        assert process.wait(20) == 0
    finally:
        process.kill()
        process.wait()
    log = process.stdout.read().decode() if process.stdout else ""
    assert "s3cret" not in log


def test_serve_stops_on_sigterm(tmp_path: Any) -> None:
    process, port = _start("--dir", str(tmp_path), "--save", "")
    try:
        assert RawClient(port).call("PING") == b"PONG"
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        process.kill()
        process.wait()


def test_unauthenticated_clients_cannot_send_big_requests(tmp_path: Any) -> None:
    process, port = _start("--dir", str(tmp_path), "--save", "", "--requirepass", "pw")
    try:
        client = RawClient(port)
        client.send_raw(b"*100\r\n")
        reply = client.read()
        assert str(reply) == "ERR Protocol error: unauthenticated multibulk length"
    finally:
        process.kill()
        process.wait()
