"""``python -m store serve`` answers SIGTERM and SIGINT with a clean shutdown within two
seconds, even while a command or a Lua script keeps the event loop busy."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from store.resp import pack_command
from tests.conftest import free_port
from tests.server.conftest import RawClient

LIMIT = 2.0  # seconds from the signal to the exit: the promise under test


@contextmanager
def serve(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``python -m store serve`` on a free port, killed at the end whatever happened."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "store", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "PulsarDS did not start"
                time.sleep(0.05)
        yield process, port
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def assert_busy(port: int) -> None:
    """The event loop is stuck: a PING on another connection gets no answer."""
    probe = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    try:
        probe.sendall(pack_command("PING"))
        with pytest.raises(TimeoutError):
            probe.recv(100)
    finally:
        probe.close()


def stop_within_limit(process: subprocess.Popen[bytes], signum: int) -> int:
    process.send_signal(signum)
    started = time.monotonic()
    try:
        code = process.wait(LIMIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{signal.Signals(signum).name} ignored for {LIMIT} s")
    assert time.monotonic() - started < LIMIT
    return code


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_signal_stops_a_busy_script(tmp_path: Any, signum: int) -> None:
    # A threshold far above the test's limit: the script would not be killed in time.
    options = ("--dir", str(tmp_path), "--save", "", "--busy-reply-threshold", "60000")
    with serve(*options) as (process, port):
        client = RawClient(port)
        client.send_raw(pack_command("EVAL", "while true do end", "0"))
        assert_busy(port)
        assert stop_within_limit(process, signum) == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_signal_stops_a_sleeping_command_and_saves(tmp_path: Any, signum: int) -> None:
    with serve("--dir", str(tmp_path), "--save", "3600 1") as (process, port):
        client = RawClient(port)
        assert client.call("SET", "kept", "yes") == b"OK"
        client.send_raw(pack_command("DEBUG", "SLEEP", "60"))
        assert_busy(port)
        assert stop_within_limit(process, signum) == 0
    # the snapshot a clean shutdown writes is there
    with serve("--dir", str(tmp_path), "--save", "") as (process, port):
        assert RawClient(port).call("GET", "kept") == b"yes"


@pytest.mark.parametrize("persistence", ["aof", "snapshot"])
def test_signal_during_a_writing_script_keeps_its_writes(tmp_path: Any, persistence: str) -> None:
    # The script ends as when busy-reply-threshold kills it: what it wrote stays, in
    # the append-only file (its MULTI gets its EXEC) and in the snapshot alike.
    if persistence == "aof":
        options: tuple[str, ...] = ("--save", "", "--appendonly", "yes")
    else:
        options = ("--save", "3600 1")
    options += ("--dir", str(tmp_path))
    script = "redis.call('SET', 'half', 'done') while true do end"
    with serve(*options, "--busy-reply-threshold", "60000") as (process, port):
        client = RawClient(port)
        assert client.call("SET", "before", "1") == b"OK"
        client.send_raw(pack_command("EVAL", script, "0"))
        assert_busy(port)
        assert stop_within_limit(process, signal.SIGTERM) == 0
    with serve(*options) as (process, port):
        client = RawClient(port)
        assert client.call("GET", "before") == b"1"
        assert client.call("GET", "half") == b"done"


def test_idle_server_stops_on_sigint_and_sigterm(tmp_path: Any) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        with serve("--dir", str(tmp_path), "--save", "") as (process, port):
            assert RawClient(port).call("PING") == b"PONG"
            assert stop_within_limit(process, signum) == 0
