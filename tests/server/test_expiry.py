"""Expiry in PulsarDS: the active cycle keeps up with keys as they expire without stalling
clients, lazy expiry on access, and the temporary files a killed save leaves behind."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from store.resp import pack_command
from store.server import PulsarDS, ServerThread
from store.server.keyspace import Database, now_ms
from tests.conftest import free_port

from .conftest import RawClient

KEYS = 100_000
BATCH = 10_000


def info(client: RawClient, section: str) -> dict[str, str]:
    text = client.call("INFO", section).decode()
    fields = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name] = value
    return fields


def wait_for(condition: Callable[[], Any], what: str, timeout: float) -> float:
    """Poll until ``condition()`` is true; returns when it was first seen true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return time.monotonic()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """The port of a PulsarDS in a process of its own, so that what the test's threads do
    (under one GIL) does not show up as the server's latency."""
    port = free_port()
    args = ["serve", "--port", str(port), "--dir", str(tmp_path), "--save", ""]
    process = subprocess.Popen(
        [sys.executable, "-m", "store", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers(port) or process.poll() is not None, "PulsarDS", 30)
        assert process.poll() is None, "PulsarDS did not start"
        yield port
    finally:
        process.kill()
        process.wait()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class Pinger(threading.Thread):
    """Another client sending PING after PING and timing each answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.client = RawClient(port)
        self.latencies: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            assert self.client.call("PING") == b"PONG"
            self.latencies.append(time.perf_counter() - started)
            time.sleep(0.001)

    def stop(self) -> list[float]:
        self.stopping.set()
        self.join(timeout=30)
        self.client.close()
        return sorted(self.latencies)


def test_active_expiry_removes_100k_keys_as_they_expire(served: int) -> None:
    writer = RawClient(served)
    for start in range(0, KEYS, BATCH):  # pipelined, a batch at a time
        writer.send_raw(
            b"".join(
                pack_command(b"SET", b"key:%d" % i, b"v", b"PX", b"500")
                for i in range(start, start + BATCH)
            )
        )
        for _ in range(BATCH):
            assert writer.read() == b"OK"
    # every key's deadline is at most 500 ms after its SET was answered
    last_deadline = time.monotonic() + 0.5

    pinger = Pinger(served)
    pinger.start()
    try:
        # DBSIZE counts keys not yet deleted: it does not expire any on the way.
        gone = wait_for(lambda: writer.call("DBSIZE") == 0, "every key to expire", timeout=10)
    finally:
        latencies = pinger.stop()
    assert gone - last_deadline < 3.0, f"the last keys went {gone - last_deadline:.1f}s late"

    # nothing read the keys, so the active cycle expired every one of them
    assert int(info(writer, "stats")["expired_keys"]) == KEYS
    assert "db0" not in info(writer, "keyspace")
    assert len(latencies) > 20
    p99 = latencies[int(len(latencies) * 0.99)]
    assert p99 < 0.05, f"PING p99 {p99 * 1000:.1f} ms while keys expired"
    writer.close()


def test_an_expiry_cycle_stops_when_its_time_is_spent() -> None:
    expired: list[bytes] = []
    db = Database(0, lambda _db, key: expired.append(key))
    keys = 20_000  # far more than 2 ms can expire
    deadline = now_ms() + 2000  # later than the loop below takes
    for i in range(keys):
        db.data[b"k%d" % i] = b"v"
        db.set_deadline(b"k%d" % i, deadline)
    assert db.expire_some(time.perf_counter() + 1) is False and not expired  # none due yet
    time.sleep(max(0, deadline - now_ms()) / 1000 + 0.02)

    started = time.perf_counter()
    assert db.expire_some(started + 0.002) is True  # keys still due: call again soon
    took = time.perf_counter() - started
    assert 0 < len(expired) < keys
    assert took < 0.5  # a generous bound: the budget was 2 ms
    assert len(db) == keys - len(expired)

    while db.expire_some(time.perf_counter() + 0.002):
        pass
    assert len(expired) == keys
    assert len(db) == 0 and not db.expires
    assert db.expire_some(time.perf_counter() + 0.002) is False


def test_a_backlog_in_one_database_does_not_starve_the_others(tmp_path: Path) -> None:
    server = PulsarDS(dir=str(tmp_path), save=[])  # not started: cycles are run by hand
    deadline = now_ms() + 2000  # later than filling takes
    big, small = server.databases[0], server.databases[3]
    for i in range(50_000):
        big.data[b"k%d" % i] = b"v"
        big.set_deadline(b"k%d" % i, deadline)
    for i in range(10):
        small.data[b"k%d" % i] = b"v"
        small.set_deadline(b"k%d" % i, deadline)
    time.sleep(max(0, deadline - now_ms()) / 1000 + 0.02)

    server.expire_cycle(0.001)  # db 0 takes all of this cycle's time ...
    assert len(big) > 0
    server.expire_cycle(0.001)  # ... so the next one starts after it
    assert len(small) == 0
    assert len(big) > 0
    assert server.stats.expired_keys == 50_010 - len(big)


def test_lazy_expiry_deletes_on_access(pulsar: ServerThread, raw: Callable[..., RawClient]) -> None:
    # Redis's DEBUG SET-ACTIVE-EXPIRE 0: only an access can expire a key now.
    pulsar.server.expire_cycle = lambda budget: False  # type: ignore[method-assign]
    client = raw()
    assert client.call("SET", "a", "1", "PX", "50") == b"OK"
    assert client.call("SET", "b", "1", "PX", "50") == b"OK"
    assert client.call("SET", "kept", "1", "PX", "60000") == b"OK"
    time.sleep(0.2)
    assert client.call("DBSIZE") == 3  # nothing removed them yet
    assert client.call("GET", "a") is None
    assert client.call("EXISTS", "b") == 0
    assert client.call("DBSIZE") == 1
    assert client.call("GET", "kept") == b"1"
    assert int(info(client, "stats")["expired_keys"]) == 2


def test_start_up_removes_the_temp_files_of_a_killed_save(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[]) as first:
        client = RawClient(first.port)
        assert client.call("SET", "kept", "1") == b"OK"
        assert client.call("SAVE") == b"OK"
        client.close()
    # What a BGSAVE and a BGREWRITEAOF killed mid-write leave, and files that are not ours.
    snapshot_temp = tmp_path / "pulsards.snapshot.tmp"
    aof_temp = tmp_path / "pulsards.aof.tmp"
    snapshot_temp.write_bytes(b"half a snapshot")
    aof_temp.write_bytes(b"*1\r\n$4\r\nPING")
    unrelated = [tmp_path / name for name in ("notes.tmp", "pulsards.snapshot.tmp.bak", "x.rdb")]
    for path in unrelated:
        path.write_bytes(b"not PulsarDS's")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pulsards.snapshot.tmp").write_bytes(b"another directory")

    with caplog.at_level(logging.WARNING, logger="store.server"):
        with ServerThread(port=0, dir=str(tmp_path), save=[]) as second:
            client = RawClient(second.port)
            assert client.call("GET", "kept") == b"1"
            client.close()

    assert not snapshot_temp.exists()
    assert not aof_temp.exists()
    for path in unrelated:
        assert path.read_bytes() == b"not PulsarDS's"
    assert (tmp_path / "other" / "pulsards.snapshot.tmp").exists()
    removed = [record.getMessage() for record in caplog.records if "removed" in record.getMessage()]
    assert any(str(snapshot_temp) in message for message in removed), removed
    assert any(str(aof_temp) in message for message in removed), removed
