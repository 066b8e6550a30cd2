"""Persistence: snapshots (SAVE, BGSAVE, save rules, corrupt files, a crash mid-save) and the
append-only log (replay, truncated tails, rewrite). Real servers, real files in tmp_path."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from store.errors import ResponseError
from store.resp import pack_command
from store.server import PulsarDS, ServerThread
from store.server.keyspace import now_ms
from store.server.persistence import PersistenceError
from store.server.snapshot import FORMAT_VERSION, MAGIC
from store.server.zset import ZSet

from .conftest import Differential, RawClient

SNAPSHOT = "pulsards.snapshot"
AOF = "pulsards.aof"


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> None:
    """Poll until ``condition()`` is true; the deadline is generous, never a measurement."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Servers:
    """Starts servers on one directory, one after another, and stops them at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[ServerThread] = []
        self.clients: list[RawClient] = []

    def make(self, **settings: Any) -> ServerThread:
        settings.setdefault("save", [])
        return ServerThread(port=0, dir=str(self.directory), **settings)

    def start(self, **settings: Any) -> ServerThread:
        server = self.make(**settings).start()
        self.running.append(server)
        return server

    def client(self, server: ServerThread) -> RawClient:
        client = RawClient(server.port)
        self.clients.append(client)
        return client

    def stop(self, server: ServerThread) -> None:
        server.stop(save=False)
        self.running.remove(server)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for server in self.running:
            server.stop(save=False)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    made = Servers(tmp_path)
    yield made
    made.close()


def _zset(*pairs: tuple[bytes, float]) -> ZSet:
    zset = ZSet()
    for member, score in pairs:
        zset.add(member, score)
    return zset


def _same_value(left: Any, right: Any) -> bool:
    if isinstance(left, ZSet) and isinstance(right, ZSet):
        return left.scores == right.scores and left.order == right.order
    return type(left) is type(right) and bool(left == right)


# -- snapshots ------------------------------------------------------------------------------


def test_snapshot_round_trip_of_every_type_with_deadlines(servers: Servers) -> None:
    first = servers.make()
    in_one_hour = now_ms() + 3_600_000
    values: dict[tuple[int, bytes], Any] = {
        (0, b"list"): deque([b"a", b"", b"\x00\xff" * 100]),
        (0, b"hash"): {b"f": b"v", b"empty": b"", b"\r\n": b"x" * 1000},
        (0, b"set"): {b"m1", b"m2", b"\xe2\x82\xac"},
        (0, b"zset"): _zset((b"a", 1.5), (b"b", -2.0), (b"c", float("inf")), (b"d", 1e-300)),
        (3, b"zset-ttl"): _zset((b"x", 0.0)),
        (15, b"hash-ttl"): {b"k": b"v"},
        (0, b"empty-string"): b"",
    }
    for (index, key), value in values.items():
        first.server.databases[index].set(key, value)
    first.server.databases[3].set_deadline(b"zset-ttl", in_one_hour)
    first.server.databases[15].set_deadline(b"hash-ttl", in_one_hour + 1)
    first.start()
    servers.running.append(first)
    client = servers.client(first)
    assert client.call("SET", "plain", "value") == b"OK"
    assert client.call("SET", "px", "value", "PX", "3600000") == b"OK"
    assert client.call("SET", "gone-later", "value") == b"OK"
    assert client.call("EXPIRE", "gone-later", "1000") == 1
    deadlines = {key: first.server.databases[0].expires[key] for key in (b"px", b"gone-later")}
    assert client.call("SAVE") == b"OK"
    servers.stop(first)

    second = servers.start()
    servers.stop(second)  # nothing runs on it any more: the databases can be read directly
    dbs = second.server.databases
    for (index, key), value in values.items():
        assert _same_value(dbs[index].data[key], value), key
    assert dbs[0].data[b"plain"] == b"value"
    assert dbs[3].expires == {b"zset-ttl": in_one_hour}
    assert dbs[15].expires == {b"hash-ttl": in_one_hour + 1}
    assert dbs[0].expires == deadlines  # absolute deadlines, to the millisecond
    assert sum(len(db) for db in dbs) == len(values) + 3


def test_key_already_expired_at_load_is_dropped(servers: Servers) -> None:
    first = servers.start()
    client = servers.client(first)
    client.call("SET", "short", "v", "PX", "300")
    client.call("SET", "long", "v", "EX", "3600")
    deadline = first.server.databases[0].expires[b"short"]
    assert client.call("SAVE") == b"OK"
    servers.stop(first)
    wait_for(lambda: now_ms() > deadline, "the deadline to pass")

    second = servers.start()
    client = servers.client(second)
    assert client.call("GET", "short") is None
    assert client.call("GET", "long") == b"v"
    assert 3590 <= client.call("TTL", "long") <= 3600
    assert b"short" not in second.server.databases[0].data


def test_missing_snapshot_is_an_empty_dataset(servers: Servers, tmp_path: Path) -> None:
    server = servers.start()
    assert sum(len(db) for db in server.server.databases) == 0
    assert not (tmp_path / SNAPSHOT).exists()


def _saved_snapshot(servers: Servers, tmp_path: Path) -> bytes:
    server = servers.start()
    client = servers.client(server)
    for i in range(20):
        client.call("SET", f"key{i}", f"value{i}")
    assert client.call("SAVE") == b"OK"
    servers.stop(server)
    return (tmp_path / SNAPSHOT).read_bytes()


def _flip_middle_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1 :]


def _with_version(data: bytes, version: int) -> bytes:
    return data[: len(MAGIC)] + version.to_bytes(4, "little") + data[len(MAGIC) + 4 :]


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_flip_middle_byte, "checksum mismatch"),
        (lambda data: data[:-7], "truncated"),
        (lambda data: data[:5], "truncated"),
        (lambda data: b"X" + data[1:], "bad magic"),
        (lambda data: data + b"\n", "1 unexpected bytes after the checksum"),
        (lambda data: _with_version(data, FORMAT_VERSION + 98), "unsupported format version 99"),
    ],
    ids=["flipped-byte", "truncated", "truncated-header", "magic", "trailing", "version"],
)
def test_damaged_snapshot_stops_start_up_and_is_never_overwritten(
    servers: Servers, tmp_path: Path, damage: Callable[[bytes], bytes], problem: str
) -> None:
    path = tmp_path / SNAPSHOT
    damaged = damage(_saved_snapshot(servers, tmp_path))
    path.write_bytes(damaged)

    refused = servers.make(save=[(1, 1)])
    with pytest.raises(PersistenceError) as raised:
        refused.start()
    message = str(raised.value)
    assert str(path) in message
    assert problem in message
    assert path.read_bytes() == damaged

    # The refused server never writes the file, whatever asks it to.
    refused.server.dirty = 10
    with pytest.raises(PersistenceError):
        refused.server.snapshots.save()
    with pytest.raises(PersistenceError):
        refused.server.snapshots.background_save()
    refused.server.snapshots.tick()
    assert path.read_bytes() == damaged


_CHILD = """
import sys, time
from store.server import PulsarDS
server = PulsarDS(dir=sys.argv[1], save=[])
value = b"v" * 200
db = server.databases[0]
for i in range(int(sys.argv[2])):
    db.data[b"new:%d" % i] = value
server.snapshots.save()
time.sleep(600)
"""


def test_sigkill_during_save_leaves_the_previous_snapshot(servers: Servers, tmp_path: Path) -> None:
    first = servers.start()
    servers.client(first).call("SET", "old", "1")
    servers.client(first).call("SAVE")
    servers.stop(first)
    path = tmp_path / SNAPSHOT
    temp = tmp_path / (SNAPSHOT + ".tmp")
    old = path.read_bytes()

    # Kill the writer as soon as its temp file appears; if the whole save slipped in
    # before the kill, the new snapshot is checked and a bigger dataset tried again.
    for keys in (200_000, 400_000, 800_000):
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), str(keys)])
        try:
            wait_for(
                lambda: temp.exists() or path.stat().st_size != len(old),
                "the child to start writing",
                timeout=120,
            )
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        killed_mid_write = temp.exists()
        server = servers.start()
        client = servers.client(server)
        if killed_mid_write:
            assert path.read_bytes() == old
            assert client.call("GET", "old") == b"1"
            assert len(server.server.databases[0]) == 1
            # The leftover temp file is not in the way of the next save.
            assert client.call("SAVE") == b"OK"
            assert not temp.exists()
            return
        assert client.call("GET", "new:0") == b"v" * 200
        assert len(server.server.databases[0]) == keys
        servers.stop(server)
        path.write_bytes(old)
    pytest.fail("every save finished before the kill")


def test_bgsave_and_lastsave(servers: Servers, tmp_path: Path) -> None:
    server = servers.start()
    client = servers.client(server)
    before = int(time.time())
    client.call("SET", "k", "v")
    client.call("INCR", "n")
    assert server.server.dirty == 2
    assert client.call("BGSAVE") == b"Background saving started"
    wait_for(lambda: not server.server.snapshots.saving, "the background save")
    assert server.server.dirty == 0
    assert client.call("LASTSAVE") >= before
    assert isinstance(client.call("LASTSAVE"), int)
    assert server.server.snapshots.info()["rdb_last_bgsave_status"] == "ok"
    servers.stop(server)
    assert (tmp_path / SNAPSHOT).exists()

    again = servers.start()
    client = servers.client(again)
    assert client.call("GET", "k") == b"v"
    assert client.call("GET", "n") == b"1"


def test_one_background_save_at_a_time(servers: Servers) -> None:
    server = servers.start()
    client = servers.client(server)
    client.call("SET", "k", "v")
    # One write, so all four run before any server tick can reap the first save.
    client.send_raw(
        pack_command("BGSAVE")
        + pack_command("BGSAVE")
        + pack_command("BGSAVE", "SCHEDULE")
        + pack_command("SAVE")
    )
    assert client.read() == b"Background saving started"
    for _ in range(3):
        reply = client.read()
        assert isinstance(reply, ResponseError)
        assert str(reply) == "ERR Background save already in progress"
    wait_for(lambda: not server.server.snapshots.saving, "the background save")
    assert client.call("SAVE") == b"OK"


def test_bgsave_during_an_aof_rewrite(servers: Servers, tmp_path: Path) -> None:
    server = servers.start()
    client = servers.client(server)
    client.call("SET", "k", "v")
    client.send_raw(
        pack_command("BGREWRITEAOF")
        + pack_command("BGREWRITEAOF")
        + pack_command("BGSAVE")
        + pack_command("BGSAVE", "SCHEDULE")
    )
    assert client.read() == b"Background append only file rewriting started"
    assert str(client.read()) == "ERR Background append only file rewriting already in progress"
    assert str(client.read()).startswith("ERR Another child process is active (AOF?)")
    assert client.read() == b"Background saving scheduled"
    # The scheduled save runs once the rewrite is done.
    wait_for(lambda: (tmp_path / SNAPSHOT).exists(), "the scheduled save")
    wait_for(lambda: not server.server.snapshots.saving, "the scheduled save to be reaped")
    assert (tmp_path / AOF).read_bytes().count(b"SET") == 1


def test_bgrewriteaof_during_a_bgsave_is_scheduled(servers: Servers, tmp_path: Path) -> None:
    server = servers.start()
    client = servers.client(server)
    client.call("SET", "k", "v")
    client.send_raw(pack_command("BGSAVE") + pack_command("BGREWRITEAOF"))
    assert client.read() == b"Background saving started"
    assert client.read() == b"Background append only file rewriting scheduled"
    wait_for(lambda: (tmp_path / AOF).exists(), "the scheduled rewrite")


def test_persistence_command_errors(same: Differential) -> None:
    same("BGSAVE", "NOW")
    same("BGSAVE", "SCHEDULE", "x")
    same("SAVE", "x")
    same("LASTSAVE", "x")
    same("BGREWRITEAOF", "x")


def test_save_is_refused_inside_multi(same: Differential) -> None:
    same("MULTI")
    same("SAVE")
    same("EXEC")


def test_shutdown_with_save_writes_a_snapshot(servers: Servers) -> None:
    server = servers.start()
    servers.client(server).call("SET", "k", "v")
    servers.running.remove(server)
    server.stop(save=True)

    again = servers.start()
    assert servers.client(again).call("GET", "k") == b"v"


def test_save_rule_triggers_a_background_save(servers: Servers, tmp_path: Path) -> None:
    server = servers.start(save=[(1, 2)])
    client = servers.client(server)
    client.call("SET", "a", "1")
    client.call("SET", "b", "2")
    wait_for(lambda: (tmp_path / SNAPSHOT).exists(), "the save rule to fire")
    wait_for(lambda: server.server.dirty == 0, "the save to be reaped")
    servers.stop(server)

    again = servers.start()
    assert servers.client(again).call("GET", "b") == b"2"


async def test_save_rules_and_dirty_accounting(tmp_path: Path) -> None:
    # Driven by hand on the server's own loop: nothing runs between these lines.
    server = PulsarDS(port=-1, dir=str(tmp_path), save=[(100, 3)])
    await server.start()
    snapshots = server.snapshots
    try:
        server.databases[0].set(b"k", b"v")
        now = int(time.time())
        server.dirty, server.lastsave = 2, now - 200
        snapshots.tick()
        assert not snapshots.saving  # too few changes
        server.dirty, server.lastsave = 3, now - 50
        snapshots.tick()
        assert not snapshots.saving  # too recent
        server.lastsave = now - 100
        snapshots.tick()
        assert snapshots.saving
        server.dirty += 5  # changes made while the snapshot is written stay counted
        await snapshots.wait()
        assert not snapshots.saving
        assert server.dirty == 5
        assert server.lastsave >= now
        assert snapshots.saves == 1
        assert (tmp_path / SNAPSHOT).exists()
    finally:
        await server.close(save=False)


# -- the append-only log --------------------------------------------------------------------


def _aof_commands(*commands: tuple[str, ...]) -> bytes:
    return b"".join(pack_command(*command) for command in commands)


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_aof_replay_after_restart(servers: Servers, tmp_path: Path, fsync: str) -> None:
    settings = {"appendonly": True, "appendfsync": fsync}
    first = servers.start(**settings)
    client = servers.client(first)
    client.call("SET", "a", "1")
    client.call("SET", "ttl", "v", "EX", "1000")
    client.call("INCR", "counter")
    client.call("INCR", "counter")
    client.call("SET", "deleted", "x")
    client.call("DEL", "deleted")
    client.call("SET", "short", "x", "PX", "1")
    client.call("SELECT", "3")
    client.call("SET", "in3", "three")
    client.call("GET", "a")  # reads are not logged
    deadline = first.server.databases[0].expires[b"ttl"]
    servers.stop(first)
    logged = (tmp_path / AOF).read_bytes()
    assert b"GET" not in logged
    assert pack_command("SELECT", "3") in logged

    second = servers.start(**settings)
    client = servers.client(second)
    assert client.call("GET", "a") == b"1"
    assert client.call("GET", "counter") == b"2"
    assert client.call("GET", "deleted") is None
    assert client.call("GET", "short") is None
    assert second.server.databases[0].expires[b"ttl"] == deadline
    assert second.server.databases[3].data == {b"in3": b"three"}
    assert second.server.dirty == 0
    servers.stop(second)
    # Replay logs nothing again. The one entry that may come after is the expiry of
    # "short" (a DEL, as Redis logs expiries), when the expiry cycle reaches it late: seen
    # once in 4 CI runs; which run writes it is not pinned down yet.
    expired_late = pack_command("SELECT", "0") + pack_command("DEL", "short")
    assert (tmp_path / AOF).read_bytes() in (logged, logged + expired_late)


def test_aof_is_preferred_to_the_snapshot(servers: Servers, tmp_path: Path) -> None:
    first = servers.start()
    client = servers.client(first)
    client.call("SET", "from", "snapshot")
    client.call("SET", "only-in-snapshot", "1")
    client.call("SAVE")
    servers.stop(first)
    (tmp_path / AOF).write_bytes(_aof_commands(("SET", "from", "aof")))

    server = servers.start(appendonly=True)
    client = servers.client(server)
    assert client.call("GET", "from") == b"aof"
    assert client.call("GET", "only-in-snapshot") is None


def test_turning_appendonly_on_keeps_the_snapshot(servers: Servers, tmp_path: Path) -> None:
    first = servers.start()
    servers.client(first).call("SET", "kept", "1")
    servers.client(first).call("SAVE")
    servers.stop(first)

    second = servers.start(appendonly=True)
    client = servers.client(second)
    assert client.call("GET", "kept") == b"1"
    client.call("SET", "added", "2")
    servers.stop(second)
    (tmp_path / SNAPSHOT).unlink()

    third = servers.start(appendonly=True)
    client = servers.client(third)
    assert client.call("GET", "kept") == b"1"
    assert client.call("GET", "added") == b"2"


@pytest.mark.parametrize(
    "tail",
    [b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\nab", b"*3\r\n$3\r", b"*", b"*3\r\n$3\r\nSET\r\n$1\r\nc"],
    ids=["in-value", "in-header", "star", "in-arguments"],
)
def test_truncated_aof_tail_is_reported_dropped_and_cut(
    servers: Servers, tmp_path: Path, caplog: pytest.LogCaptureFixture, tail: bytes
) -> None:
    caplog.set_level(logging.WARNING, logger="store.server")
    path = tmp_path / AOF
    complete = _aof_commands(("SET", "a", "1"), ("SELECT", "2"), ("SET", "b", "2"))
    path.write_bytes(complete + tail)

    server = servers.start(appendonly=True)
    client = servers.client(server)
    assert server.server.databases[2].data == {b"b": b"2"}
    assert client.call("GET", "a") == b"1"
    assert client.call("GET", "c") is None
    warning = caplog.text
    assert str(path) in warning
    assert f"byte offset {len(complete)}" in warning
    assert path.read_bytes() == complete  # cut before appending resumes

    client.call("SET", "c", "3")
    servers.stop(server)
    again = servers.start(appendonly=True)
    assert again.server.databases[0].data == {b"a": b"1", b"c": b"3"}
    assert again.server.databases[2].data == {b"b": b"2"}


def test_unfinished_transaction_at_the_aof_tail_is_not_applied(
    servers: Servers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="store.server")
    path = tmp_path / AOF
    done = _aof_commands(("SET", "a", "1"), ("MULTI",), ("SET", "b", "2"), ("INCR", "n"), ("EXEC",))
    path.write_bytes(done + _aof_commands(("MULTI",), ("SET", "c", "3"), ("INCR", "n")))

    server = servers.start(appendonly=True)
    assert server.server.databases[0].data == {b"a": b"1", b"b": b"2", b"n": b"1"}
    assert f"MULTI at byte offset {len(done)}" in caplog.text
    assert str(path) in caplog.text
    assert path.read_bytes() == done


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            _aof_commands(("SET", "a", "1")) + b"garbage\r\n" + _aof_commands(("SET", "b", "2")),
            "unusable at byte 27",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$1\r\nab\r\n" + _aof_commands(("SET", "b", "2")),
            "unusable at byte 18",
        ),
        (_aof_commands(("NOSUCHCOMMAND", "x")), "unknown command b'NOSUCHCOMMAND' at byte 0"),
        (_aof_commands(("SELECT", "99")), "bad SELECT"),
        (_aof_commands(("EXEC",)), "EXEC without MULTI"),
    ],
    ids=["garbage", "bad-length", "unknown-command", "bad-select", "lone-exec"],
)
def test_damaged_aof_stops_start_up(
    servers: Servers, tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / AOF
    path.write_bytes(content)
    (tmp_path / SNAPSHOT).write_bytes(b"untouched")

    refused = servers.make(appendonly=True, save=[(1, 1)])
    with pytest.raises(PersistenceError) as raised:
        refused.start()
    assert str(path) in str(raised.value)
    assert problem in str(raised.value)
    assert path.read_bytes() == content
    with pytest.raises(PersistenceError):
        refused.server.snapshots.save()
    assert (tmp_path / SNAPSHOT).read_bytes() == b"untouched"


def test_bgrewriteaof_compacts_and_keeps_later_writes(servers: Servers, tmp_path: Path) -> None:
    path = tmp_path / AOF
    server = servers.start(appendonly=True, appendfsync="always")
    client = servers.client(server)
    for _ in range(50):
        client.call("INCR", "n")
    client.call("SET", "ttl", "v", "EX", "1000")
    client.call("SELECT", "5")
    client.call("SET", "five", "5")
    before = path.stat().st_size
    # In one write: SET runs before any server tick can finish the rewrite, so it is
    # logged to the old file and kept for the new one.
    client.send_raw(pack_command("BGREWRITEAOF") + pack_command("SET", "during", "1"))
    assert client.read() == b"Background append only file rewriting started"
    assert client.read() == b"OK"
    wait_for(lambda: not server.server.snapshots.rewriting, "the rewrite")
    assert server.server.snapshots.info()["aof_last_bgrewrite_status"] == "ok"
    assert path.stat().st_size < before
    client.call("SELECT", "0")
    client.call("SET", "after", "2")
    deadline = server.server.databases[0].expires[b"ttl"]
    servers.stop(server)
    assert path.read_bytes().count(b"INCR") == 0

    again = servers.start(appendonly=True)
    dbs = again.server.databases
    assert dbs[0].data == {b"n": b"50", b"ttl": b"v", b"after": b"2"}
    assert dbs[0].expires == {b"ttl": deadline}
    assert dbs[5].data == {b"five": b"5", b"during": b"1"}


def test_bgrewriteaof_of_every_type(servers: Servers, tmp_path: Path) -> None:
    first = servers.make(appendonly=True)
    db = first.server.databases[1]
    values: dict[bytes, Any] = {
        b"list": deque(f"item{i}".encode() for i in range(150)),
        b"hash": {f"f{i}".encode(): f"v{i}".encode() for i in range(100)},
        b"set": {f"m{i}".encode() for i in range(70)},
        b"zset": _zset(*((f"z{i}".encode(), i / 3) for i in range(90)), (b"inf", float("inf"))),
    }
    for key, value in values.items():
        db.set(key, value)
    deadline = now_ms() + 3_600_000
    db.set_deadline(b"hash", deadline)
    first.start()
    servers.running.append(first)
    assert servers.client(first).call("BGREWRITEAOF") == (
        b"Background append only file rewriting started"
    )
    wait_for(lambda: not first.server.snapshots.rewriting, "the rewrite")
    servers.stop(first)

    second = servers.start(appendonly=True)
    servers.stop(second)
    loaded = second.server.databases[1]
    for key, value in values.items():
        assert _same_value(loaded.data[key], value), key
    assert loaded.expires == {b"hash": deadline}
