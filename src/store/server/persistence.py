"""Persistence: point-in-time snapshots and the append-only log (AOF).

Snapshot file, format version 1 (all integers little-endian)::

    header   b"PULSARDS" | u32 version | u64 body length
    body     records, then one END byte (0xFF)
    record   u8 type | u16 db | i64 deadline, ms since the epoch (-1: none) | u32 key length
             | (strings only: u32 value length) | key | value
    value    string: bytes
             list, set: <strings>
             hash: <strings> fields | <strings> values
             zset: <strings> members | one f64 score per member
    strings  u32 count | count x u32 lengths | the bytes one after another
    trailer  u32 CRC-32 of header and body

The body length in the header tells a truncated file from a corrupt one, and the version
comes before the checksum so that a newer file is reported as such, not as corrupt.
Nothing is ever unpickled: loading a file runs no code from it.

A file is written to ``<name>.tmp`` in the same directory, fsynced, renamed over the old
one with ``os.replace`` and the directory fsynced, so a crash at any point leaves either
the old file or the new one, never a mix.

The AOF holds write commands as RESP arrays, exactly what a client sends, with SELECT
whenever the database changes. It is replayed through ``PulsarDS.call`` at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import sys
import threading
import time
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import StoreError
from .client import Client
from .commands import lookup
from .keyspace import CommandError, Database, now_ms
from .zset import ZSet

if TYPE_CHECKING:
    from .core import PulsarDS

__all__ = ["FORMAT_VERSION", "MAGIC", "AppendOnlyLog", "PersistenceError", "SnapshotManager"]

log = logging.getLogger("store.server")

MAGIC = b"PULSARDS"
FORMAT_VERSION = 1

_HEADER = struct.Struct("<8sIQ")  # magic, version, body length
_RECORD = struct.Struct("<BHqI")  # type, db, deadline (-1: none), key length
_STRING_RECORD = struct.Struct("<BHqII")  # the same and the value's length
_U32 = struct.Struct("<I")
_STRING, _LIST, _HASH, _SET, _ZSET = 1, 2, 3, 4, 5
_END = 0xFF
_NO_DEADLINE = -1
_BIG_ENDIAN = sys.byteorder == "big"
_U32_CODE = next(code for code in "IL" if array(code).itemsize == 4)
_WRITE_CHUNK = 1 << 20
_RETRY_DELAY = 5  # seconds before a failed automatic save is tried again (Redis's value)
_REWRITE_BATCH = 64  # elements per RPUSH/SADD/HSET/ZADD in a rewritten AOF, as in Redis


class PersistenceError(StoreError):
    """A data file that cannot be trusted or written: start-up stops with this message."""


class _Malformed(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


class _Incomplete(Exception):
    """The data ends inside a command (AOF)."""


# -- snapshot encoding -----------------------------------------------------------------------


def _put_strings(put: Callable[[bytes], None], items: Collection[bytes]) -> None:
    lengths = array(_U32_CODE, [len(item) for item in items])
    if _BIG_ENDIAN:
        lengths.byteswap()
    put(_U32.pack(len(lengths)))
    put(lengths.tobytes())
    put(b"".join(items))


def encode_snapshot(databases: Sequence[Database]) -> bytes:
    """The body of a snapshot of ``databases`` (records and the END byte). Keys whose
    deadline has passed are left out."""
    now = now_ms()
    out: list[bytes] = []
    put = out.append
    record = _RECORD.pack
    string_record = _STRING_RECORD.pack
    try:
        for index, db in enumerate(databases):
            expires = db.expires
            for key, value in db.data.items():
                deadline = expires.get(key, _NO_DEADLINE) if expires else _NO_DEADLINE
                if deadline != _NO_DEADLINE and deadline <= now:
                    continue
                kind = value.__class__
                if kind is bytes:  # the common case, in one piece: a third faster
                    put(string_record(_STRING, index, deadline, len(key), len(value)) + key + value)
                elif kind is deque:
                    put(record(_LIST, index, deadline, len(key)))
                    put(key)
                    _put_strings(put, value)
                elif kind is dict:
                    put(record(_HASH, index, deadline, len(key)))
                    put(key)
                    _put_strings(put, list(value))
                    _put_strings(put, list(value.values()))
                elif kind is set:
                    put(record(_SET, index, deadline, len(key)))
                    put(key)
                    _put_strings(put, value)
                elif kind is ZSet:
                    put(record(_ZSET, index, deadline, len(key)))
                    put(key)
                    _put_strings(put, list(value.scores))
                    scores = array("d", value.scores.values())
                    if _BIG_ENDIAN:
                        scores.byteswap()
                    put(scores.tobytes())
                else:
                    raise PersistenceError(
                        f"cannot save key {key!r}: unknown value type {kind.__name__}"
                    )
    except (struct.error, OverflowError):
        raise PersistenceError(
            "a key or value is larger than the snapshot format's 4 GiB limit"
        ) from None
    put(bytes((_END,)))
    return b"".join(out)


def _snapshot_parts(body: bytes) -> list[bytes]:
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(body))
    checksum = zlib.crc32(body, zlib.crc32(header))
    return [header, body, _U32.pack(checksum)]


# -- snapshot decoding -----------------------------------------------------------------------


class _Body:
    """A bounds-checked reader over the records of a snapshot."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def take(self, size: int) -> int:
        start = self.pos
        if start + size > self.end:
            raise _Malformed(start, "a record runs past the end of the data")
        self.pos = start + size
        return start

    def u32(self) -> int:
        value: int = _U32.unpack_from(self.data, self.take(4))[0]
        return value

    def strings(self) -> list[bytes]:
        count = self.u32()
        start = self.take(4 * count)
        lengths = array(_U32_CODE)
        lengths.frombytes(self.data[start : start + 4 * count])
        if _BIG_ENDIAN:
            lengths.byteswap()
        pos = self.take(sum(lengths))
        data = self.data
        items = []
        for size in lengths:
            items.append(data[pos : pos + size])
            pos += size
        return items

    def floats(self, count: int) -> array[float]:
        start = self.take(8 * count)
        values = array("d")
        values.frombytes(self.data[start : start + 8 * count])
        if _BIG_ENDIAN:
            values.byteswap()
        return values


Record = tuple[int, bytes, Any, int]  # db, key, value, deadline (-1: none)


def _read_container(body: _Body, kind: int, start: int, key: bytes) -> Any:
    if kind == _LIST:
        return deque(body.strings())
    if kind == _SET:
        return set(body.strings())
    if kind == _HASH:
        fields = body.strings()
        values = body.strings()
        if len(fields) != len(values):
            raise _Malformed(start, f"hash {key!r} has {len(fields)} fields, {len(values)} values")
        return dict(zip(fields, values, strict=True))
    members = body.strings()
    scores = body.floats(len(members))
    if any(score != score for score in scores):
        raise _Malformed(start, f"sorted set {key!r} has a NaN score")
    zset = ZSet()
    zset.scores = dict(zip(members, scores, strict=True))
    # One sort instead of an insort per member: O(n log n), not O(n^2).
    zset.order = sorted((score, member) for member, score in zset.scores.items())
    return zset


def decode_snapshot(data: bytes) -> list[Record]:
    """The records of a snapshot file's bytes; ``_Malformed`` says what is wrong."""
    size = len(data)
    if data[: len(MAGIC)] != MAGIC:
        if size < len(MAGIC) and MAGIC.startswith(data):
            raise _Malformed(0, f"truncated: only {size} bytes")
        raise _Malformed(0, "not a PulsarDS snapshot (bad magic bytes)")
    if size < _HEADER.size:
        raise _Malformed(size, f"truncated: only {size} bytes, the header alone is {_HEADER.size}")
    _, version, body_size = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise _Malformed(
            len(MAGIC),
            f"unsupported format version {version} (this server reads version {FORMAT_VERSION})",
        )
    expected = _HEADER.size + body_size + _U32.size
    if size < expected:
        raise _Malformed(size, f"truncated: {size} bytes where the header announces {expected}")
    if size > expected:
        raise _Malformed(expected, f"{size - expected} unexpected bytes after the checksum")
    end = _HEADER.size + body_size
    stored = _U32.unpack_from(data, end)[0]
    computed = zlib.crc32(memoryview(data)[:end])
    if stored != computed:
        raise _Malformed(
            end, f"checksum mismatch (stored {stored:08x}, computed {computed:08x}): corrupt"
        )
    body = _Body(data, _HEADER.size, end)
    records: list[Record] = []
    while True:
        start = body.pos
        if start >= end:
            raise _Malformed(start, "the END marker is missing")
        if data[start] == _END:
            if start + 1 != end:
                raise _Malformed(start, "data after the END marker")
            return records
        kind = data[start]
        value: Any
        if kind == _STRING:
            _, db, deadline, key_size, size = _STRING_RECORD.unpack_from(
                data, body.take(_STRING_RECORD.size)
            )
            key = data[body.take(key_size) : body.pos]
            value = data[body.take(size) : body.pos]
        elif _LIST <= kind <= _ZSET:
            _, db, deadline, key_size = _RECORD.unpack_from(data, body.take(_RECORD.size))
            key = data[body.take(key_size) : body.pos]
            value = _read_container(body, kind, start, key)
        else:
            raise _Malformed(start, f"unknown record type {kind}")
        if deadline < _NO_DEADLINE:
            raise _Malformed(start, f"bad deadline {deadline}")
        if kind == _STRING or value:  # an empty container is never stored; skip one
            records.append((db, key, value, deadline))


# -- files -----------------------------------------------------------------------------------


def _write_file(path: str, parts: Iterable[bytes], cancel: threading.Event | None) -> None:
    """Write ``parts`` to ``path`` and fsync it; on failure nothing is left at ``path``."""
    try:
        with open(path, "wb") as file:
            for part in parts:
                view = memoryview(part)
                for offset in range(0, len(view), _WRITE_CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise PersistenceError("cancelled")
                    file.write(view[offset : offset + _WRITE_CHUNK])
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _install(temp: str, path: str) -> None:
    """Put the fsynced ``temp`` in place of ``path`` and make the rename durable."""
    os.replace(temp, path)
    _fsync_directory(os.path.dirname(path))


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform where directories cannot be opened (Windows)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        log.warning("fsync of directory %s failed: %s", directory, exc)
    finally:
        os.close(fd)


def _write_snapshot(path: str, body: bytes, cancel: threading.Event | None) -> None:
    temp = path + ".tmp"
    _write_file(temp, _snapshot_parts(body), cancel)
    _install(temp, path)


class _Job:
    """A file written by a worker thread; the event loop reaps it in ``tick``."""

    def __init__(self, name: str, path: str, work: Callable[[threading.Event], None]) -> None:
        self.path = path
        self.future: Future[None] = Future()
        self.cancel = threading.Event()
        self.started = time.monotonic()
        self.dirty = 0  # server.dirty when the data was captured
        self.buffer: _RewriteBuffer | None = None
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"pulsards-{name}", daemon=True)

    def start(self) -> None:
        self.future.set_running_or_notify_cancel()
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work(self.cancel)
        except BaseException as exc:
            self.future.set_exception(exc)
        else:
            self.future.set_result(None)


def _elapsed(started: float) -> int:
    return int(time.monotonic() - started)


class SnapshotManager:
    """Snapshots (SAVE, BGSAVE, save rules) and the background jobs that write files,
    including the AOF rewrite.

    Background saves serialize the whole dataset to bytes on the event loop, then write
    and fsync it on a worker thread. The data is captured at one instant without locks,
    at the cost of a pause proportional to the dataset. ``os.fork()`` (Redis's
    copy-on-write) would avoid the pause but is unsafe when other threads exist, and
    PulsarDS often runs on a thread of a bigger program (``ServerThread``).
    """

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        self.bgsave_scheduled = False
        self.rewrite_scheduled = False
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0.0
        self.last_bgsave_seconds = -1
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = -1
        self.saves = 0
        self.rewrites = 0
        self.refused: str | None = None
        self._save_job: _Job | None = None
        self._rewrite_job: _Job | None = None

    @property
    def path(self) -> str:
        return os.path.join(self.server.config.dir, self.server.config.dbfilename)

    @property
    def saving(self) -> bool:
        return self._save_job is not None

    @property
    def rewriting(self) -> bool:
        return self._rewrite_job is not None

    def refuse(self, reason: str) -> None:
        """A data file failed to load: never write over it (it may be all there is)."""
        self.refused = reason

    def _check_allowed(self) -> None:
        if self.refused is not None:
            raise PersistenceError(f"refusing to write data files: {self.refused}")

    # -- loading -----------------------------------------------------------------------

    def load(self) -> None:
        """Load the snapshot into the (empty) databases; a missing file is an empty
        dataset. With ``appendonly`` and an existing AOF the AOF is loaded instead."""
        config = self.server.config
        if config.appendonly and os.path.exists(os.path.join(config.dir, config.appendfilename)):
            log.info("appendonly is on and the AOF exists: the snapshot is not loaded")
            return
        path = self.path
        try:
            with open(path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            self._fail(f"cannot read the snapshot {path}: {exc}")
        try:
            records = decode_snapshot(data)
        except _Malformed as exc:
            self._fail(f"snapshot {path} is unusable at byte {exc.offset}: {exc.message}")
        except Exception as exc:
            self._fail(f"snapshot {path} could not be loaded: {exc!r}")
        databases = self.server.databases
        top = max((db for db, _, _, _ in records), default=-1)
        if top >= len(databases):
            self._fail(
                f"snapshot {path} has keys in database {top} but the server has "
                f"{len(databases)} databases"
            )
        now = now_ms()
        loaded = expired = 0
        for index, key, value, deadline in records:
            if deadline != _NO_DEADLINE and deadline <= now:
                expired += 1
                continue
            db = databases[index]
            db.data[key] = value
            if deadline != _NO_DEADLINE:
                db.set_deadline(key, deadline)
            loaded += 1
        log.info("loaded %d keys from %s (%d already expired)", loaded, path, expired)

    def _fail(self, message: str) -> NoReturn:
        self.refuse(message)
        raise PersistenceError(f"{message}; start-up stopped, the file is left untouched")

    # -- saving ------------------------------------------------------------------------

    def save(self) -> None:
        """Write a snapshot now, on the calling thread (SAVE, SHUTDOWN)."""
        self._check_allowed()
        job = self._save_job
        if job is not None:
            # Two writers must not share the temp file: let the running one finish first.
            with contextlib.suppress(Exception):
                job.future.result()
            self._reap()
        path = self.path
        started = time.monotonic()
        try:
            _write_snapshot(path, encode_snapshot(self.server.databases), None)
        except OSError as exc:
            raise PersistenceError(f"cannot save the snapshot {path}: {exc}") from exc
        self.server.dirty = 0
        self.server.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.saves += 1
        log.info("DB saved on disk (%s, %.3fs)", path, time.monotonic() - started)

    def background_save(self) -> None:
        """Capture the dataset now and write it on a worker thread (BGSAVE)."""
        self._check_allowed()
        if self._save_job is not None:
            raise PersistenceError("Background save already in progress")
        self.bgsave_scheduled = False
        self.last_bgsave_try = time.time()
        try:
            body = encode_snapshot(self.server.databases)
        except PersistenceError:
            self.last_bgsave_ok = False
            raise
        path = self.path
        job = _Job("bgsave", path, lambda cancel: _write_snapshot(path, body, cancel))
        job.dirty = self.server.dirty
        self._save_job = job
        job.start()
        log.info("Background saving started")

    def background_rewrite(self) -> None:
        """Rewrite the AOF from the dataset on a worker thread (BGREWRITEAOF). Commands
        logged meanwhile are kept in a buffer and appended before the switch."""
        self._check_allowed()
        if self._rewrite_job is not None:
            raise PersistenceError("Background append only file rewriting already in progress")
        self.rewrite_scheduled = False
        aof = self.server.aof
        config = self.server.config
        path = aof.path if aof is not None else os.path.join(config.dir, config.appendfilename)
        body, selected = encode_commands(self.server.databases)
        temp = path + ".tmp"

        def work(cancel: threading.Event) -> None:
            _write_file(temp, [body], cancel)
            if aof is None:  # no log being appended to: nothing to add, switch here
                _install(temp, path)

        job = _Job("aof-rewrite", path, work)
        if aof is not None:
            job.buffer = aof.rewrite_buffer = _RewriteBuffer(selected)
        self._rewrite_job = job
        job.start()
        log.info("Background append only file rewriting started")

    def cancel_rewrite(self) -> None:
        job = self._rewrite_job
        if job is not None:
            job.cancel.set()

    # -- the server tick ---------------------------------------------------------------

    def tick(self) -> None:
        """Reap finished jobs; start scheduled jobs and saves whose rule is met."""
        self._reap()
        if self.refused is not None or self._save_job is not None or self._rewrite_job is not None:
            return  # like Redis: one background job at a time
        now = time.time()
        may_retry = self.last_bgsave_ok or now - self.last_bgsave_try > _RETRY_DELAY
        try:
            if self.rewrite_scheduled:
                self.background_rewrite()
                return
            if self.bgsave_scheduled and may_retry:
                self.background_save()
                return
            server = self.server
            for seconds, changes in server.config.save:
                if server.dirty >= changes and now - server.lastsave >= seconds and may_retry:
                    log.info("%d changes in %d seconds. Saving...", changes, seconds)
                    self.background_save()
                    return
        except PersistenceError as exc:
            log.warning("background job not started: %s", exc)

    def _reap(self) -> None:
        job = self._save_job
        if job is not None and job.future.done():
            self.last_bgsave_seconds = _elapsed(job.started)
            error = job.future.exception()
            if error is None:
                server = self.server
                server.dirty = max(0, server.dirty - job.dirty)
                server.lastsave = int(time.time())
                self.last_bgsave_ok = True
                self.saves += 1
                log.info("Background saving terminated with success (%s)", job.path)
            else:
                self.last_bgsave_ok = False
                log.warning("Background saving error (%s): %s", job.path, error)
            self._save_job = None  # in progress until its results are recorded
        job = self._rewrite_job
        if job is not None and job.future.done():
            self.last_rewrite_seconds = _elapsed(job.started)
            try:
                self._finish_rewrite(job)
            finally:
                # in progress until the new file is in place (INFO, tests in other threads)
                self._rewrite_job = None

    def _finish_rewrite(self, job: _Job) -> None:
        error = job.future.exception()
        aof = self.server.aof
        buffer = job.buffer
        if buffer is not None and (aof is None or aof.rewrite_buffer is not buffer):
            error = error or PersistenceError("the AOF was closed during the rewrite")
        if error is None and buffer is not None and aof is not None:
            try:
                aof.install_rewrite(job.path + ".tmp", buffer)
            except OSError as exc:
                error = exc
        if aof is not None and aof.rewrite_buffer is buffer:
            aof.rewrite_buffer = None
        if error is None:
            self.last_rewrite_ok = True
            self.rewrites += 1
            log.info("Background AOF rewrite finished successfully (%s)", job.path)
        else:
            self.last_rewrite_ok = False
            with contextlib.suppress(OSError):
                os.unlink(job.path + ".tmp")
            log.warning("Background AOF rewrite failed (%s): %s", job.path, error)

    async def wait(self) -> None:
        """Let running background jobs finish (server close)."""
        for job in (self._save_job, self._rewrite_job):
            if job is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(job.future)
        self._reap()

    def info(self) -> dict[str, Any]:
        """The fields of INFO persistence that these files determine, in Redis's order."""
        save = self._save_job
        rewrite = self._rewrite_job
        aof = self.server.aof
        return {
            "rdb_changes_since_last_save": self.server.dirty,
            "rdb_bgsave_in_progress": int(save is not None),
            "rdb_last_save_time": self.server.lastsave,
            "rdb_last_bgsave_status": "ok" if self.last_bgsave_ok else "err",
            "rdb_last_bgsave_time_sec": self.last_bgsave_seconds,
            "rdb_current_bgsave_time_sec": -1 if save is None else _elapsed(save.started),
            "rdb_saves": self.saves,
            "aof_enabled": int(aof is not None),
            "aof_rewrite_in_progress": int(rewrite is not None),
            "aof_rewrite_scheduled": int(self.rewrite_scheduled),
            "aof_last_rewrite_time_sec": self.last_rewrite_seconds,
            "aof_current_rewrite_time_sec": -1 if rewrite is None else _elapsed(rewrite.started),
            "aof_last_bgrewrite_status": "ok" if self.last_rewrite_ok else "err",
            "aof_rewrites": self.rewrites,
            "aof_last_write_status": "ok" if aof is None or aof.write_error is None else "err",
        }


# -- the append-only log ---------------------------------------------------------------------


def encode_command(args: Sequence[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def _format_score(score: float) -> bytes:
    return repr(score).encode()  # the shortest text that reads back as the same float


def encode_commands(databases: Sequence[Database]) -> tuple[bytes, int]:
    """The dataset as the commands that rebuild it (an AOF rewrite), and the database
    the last SELECT chose (-1 if none)."""
    now = now_ms()
    out: list[bytes] = []
    put = out.append
    selected = -1
    for index, db in enumerate(databases):
        if not db.data:
            continue
        put(encode_command([b"SELECT", b"%d" % index]))
        selected = index
        expires = db.expires
        for key, value in db.data.items():
            deadline = expires.get(key) if expires else None
            if deadline is not None and deadline <= now:
                continue
            kind = value.__class__
            if kind is bytes:
                if deadline is None:
                    put(encode_command([b"SET", key, value]))
                else:
                    put(encode_command([b"SET", key, value, b"PXAT", b"%d" % deadline]))
                continue
            items: list[bytes]
            if kind is deque:
                name, items, step = b"RPUSH", list(value), 1
            elif kind is set:
                name, items, step = b"SADD", list(value), 1
            elif kind is dict:
                name, step = b"HSET", 2
                items = [part for pair in value.items() for part in pair]
            elif kind is ZSet:
                name, step = b"ZADD", 2
                items = []
                for member, score in value.scores.items():
                    items += (_format_score(score), member)
            else:
                raise PersistenceError(f"cannot save key {key!r}: unknown type {kind.__name__}")
            batch = _REWRITE_BATCH * step
            for start in range(0, len(items), batch):
                put(encode_command([name, key, *items[start : start + batch]]))
            if deadline is not None:
                put(encode_command([b"PEXPIREAT", key, b"%d" % deadline]))
    return b"".join(out), selected


class _RewriteBuffer:
    """Commands logged while a rewrite runs, to append to the rewritten file."""

    __slots__ = ("chunks", "selected")

    def __init__(self, selected: int) -> None:
        self.chunks: list[bytes] = []
        self.selected = selected

    def append(self, db_index: int, data: bytes) -> None:
        if db_index != self.selected:
            self.chunks.append(encode_command([b"SELECT", b"%d" % db_index]))
            self.selected = db_index
        self.chunks.append(data)


def _header(data: bytes, pos: int, marker: int) -> tuple[int, int]:
    """Read ``*<n>\\r\\n`` or ``$<n>\\r\\n`` at ``pos``: (n, position after it)."""
    size = len(data)
    if pos >= size:
        raise _Incomplete
    if data[pos] != marker:
        raise _Malformed(pos, f"expected {chr(marker)!r}, found {data[pos : pos + 1]!r}")
    eol = data.find(b"\r\n", pos + 1, pos + 24)
    if eol < 0:
        rest = data[pos + 1 :]
        if len(rest) < 23:  # the file ends in this line: a command cut short
            digits = rest[:-1] if rest.endswith(b"\r") else rest
            if not digits or digits.isdigit():
                raise _Incomplete
        raise _Malformed(pos, f"bad length line {data[pos : pos + 24]!r}")
    digits = data[pos + 1 : eol]
    if not digits.isdigit():
        raise _Malformed(pos, f"bad length {digits!r}")
    return int(digits), eol + 2


def _parse_command(data: bytes, pos: int) -> tuple[list[bytes], int]:
    count, pos = _header(data, pos, 42)  # b"*"
    if count < 1:
        raise _Malformed(pos, "a command with no arguments")
    args = []
    for _ in range(count):
        length, pos = _header(data, pos, 36)  # b"$"
        end = pos + length
        if end + 2 > len(data):
            raise _Incomplete
        if data[end : end + 2] != b"\r\n":
            raise _Malformed(end, "a bulk string not followed by CRLF")
        args.append(data[pos:end])
        pos = end + 2
    return args, pos


def parse_log(data: bytes) -> tuple[list[tuple[int, list[bytes]]], int]:
    """The complete commands of an AOF with their byte offsets, and the offset where the
    complete commands end (less than ``len(data)`` when the tail is cut short)."""
    commands: list[tuple[int, list[bytes]]] = []
    pos = 0
    while pos < len(data):
        start = pos
        try:
            args, pos = _parse_command(data, pos)
        except _Incomplete:
            return commands, start
        commands.append((start, args))
    return commands, pos


class AppendOnlyLog:
    """The AOF being appended to. ``append`` buffers a command; the buffer is written
    before the next reply is sent (``write_pending``, as Redis does before replying) and
    by ``tick``, which for ``everysec`` also fsyncs once a second on a thread so that a
    slow disk does not stall the loop; ``always`` writes and fsyncs at once."""

    def __init__(self, server: PulsarDS, path: str, fd: int) -> None:
        self.server = server
        self.path = path
        self.write_error: str | None = None
        self.rewrite_buffer: _RewriteBuffer | None = None
        self._fd = fd
        self._pending: list[bytes] = []
        self._selected = -1  # the first command written says which database it is for
        self._unsynced = False
        self._last_fsync = time.monotonic()
        self._fsync_thread: threading.Thread | None = None

    @classmethod
    def create(cls, server: PulsarDS) -> AppendOnlyLog:
        """Start a new AOF from the dataset in memory (CONFIG SET appendonly yes): any
        older file describes an older dataset and is replaced."""
        config = server.config
        path = os.path.join(config.dir, config.appendfilename)
        body, selected = encode_commands(server.databases)
        _write_file(path + ".tmp", [body], None)
        _install(path + ".tmp", path)
        log = cls(server, path, os.open(path, os.O_WRONLY | os.O_APPEND))
        log._selected = selected
        return log

    @classmethod
    def open(cls, server: PulsarDS) -> AppendOnlyLog:
        """Replay the AOF into the server, or create it from the dataset (which holds the
        snapshot, if one was loaded) when there is none, and open it for appending."""
        config = server.config
        path = os.path.join(config.dir, config.appendfilename)
        try:
            if os.path.exists(path):
                _replay(server, path)
            else:
                body, _ = encode_commands(server.databases)
                _write_file(path + ".tmp", [body], None)
                _install(path + ".tmp", path)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except BaseException as exc:
            # What was replayed is part of a dataset: it must never be saved over a file.
            server.dirty = 0
            if isinstance(exc, PersistenceError):
                server.snapshots.refuse(str(exc))
                raise
            message = f"cannot load the append-only file {path}: {exc!r}"
            server.snapshots.refuse(message)
            if not isinstance(exc, Exception):
                raise
            raise PersistenceError(message) from exc
        server.dirty = 0  # loading is not a change to save
        return cls(server, path, fd)

    def append(self, db_index: int, args: list[bytes]) -> None:
        if db_index != self._selected:
            self._pending.append(encode_command([b"SELECT", b"%d" % db_index]))
            self._selected = db_index
        data = encode_command(args)
        self._pending.append(data)
        if self.rewrite_buffer is not None:
            self.rewrite_buffer.append(db_index, data)
        if self.server.config.appendfsync == "always":
            self.write_pending()
            self._fsync()

    def tick(self) -> None:
        self.write_pending()
        if self.server.config.appendfsync != "everysec" or not self._unsynced:
            return
        now = time.monotonic()
        if now - self._last_fsync < 1:
            return
        thread = self._fsync_thread
        if thread is not None and thread.is_alive():
            return  # the disk is slow: postpone, as Redis does
        self._unsynced = False
        self._last_fsync = now
        thread = threading.Thread(
            target=_fsync_log, args=(self._fd, self.path), name="pulsards-aof-fsync", daemon=True
        )
        self._fsync_thread = thread
        thread.start()

    def close(self) -> None:
        if self._fd < 0:
            return
        self.write_pending()
        self._join_fsync()
        self._fsync()
        os.close(self._fd)
        self._fd = -1
        if self.rewrite_buffer is not None:
            self.rewrite_buffer = None
            self.server.snapshots.cancel_rewrite()

    def install_rewrite(self, temp: str, buffer: _RewriteBuffer) -> None:
        """Switch to the rewritten file ``temp`` once the commands logged during the
        rewrite are added to it."""
        self.write_pending()  # the old file stays complete until the switch
        with open(temp, "ab") as file:
            file.write(b"".join(buffer.chunks))
            file.flush()
            os.fsync(file.fileno())
        _install(temp, self.path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._join_fsync()
        os.close(self._fd)
        self._fd = fd
        self._selected = buffer.selected
        self._unsynced = False
        self.rewrite_buffer = None

    def write_pending(self) -> None:
        """Hand the buffered commands to the OS (no fsync): done before any reply goes out,
        so a killed process loses no acknowledged write, only a power loss can."""
        if not self._pending:
            return
        data = memoryview(b"".join(self._pending))
        self._pending.clear()
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            self._pending.append(bytes(data))  # kept for the next try
            if self.write_error is None:
                log.error("writing the AOF %s failed: %s", self.path, exc)
            self.write_error = str(exc)
            return
        if self.write_error is not None:
            log.warning("writing the AOF %s works again", self.path)
            self.write_error = None
        self._unsynced = True

    def _fsync(self) -> None:
        _fsync_log(self._fd, self.path)

    def _join_fsync(self) -> None:
        thread = self._fsync_thread
        if thread is not None:
            thread.join()
            self._fsync_thread = None


def _fsync_log(fd: int, path: str) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        log.error("fsync of the AOF %s failed: %s", path, exc)


def _replay(server: PulsarDS, path: str) -> None:
    """Run the commands of the AOF at ``path`` through the server (which has no AOF open
    yet, so nothing is logged again). A tail cut short by a crash is dropped and cut off
    the file; anything else that does not parse stops start-up."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        commands, complete = parse_log(data)
    except _Malformed as exc:
        raise PersistenceError(
            f"append-only file {path} is unusable at byte {exc.offset}: {exc.message}; "
            "start-up stopped, the file is left untouched"
        ) from None
    cut = complete
    apply: list[tuple[int, list[bytes]]] = []
    transaction: list[tuple[int, list[bytes]]] | None = None
    multi_at = 0
    for start, args in commands:
        name = args[0].lower()
        if name == b"multi":
            if transaction is not None:
                raise PersistenceError(f"append-only file {path}: nested MULTI at byte {start}")
            transaction, multi_at = [], start
        elif name == b"exec":
            if transaction is None:
                raise PersistenceError(f"append-only file {path}: EXEC without MULTI at {start}")
            apply += transaction
            transaction = None
        elif transaction is not None:
            transaction.append((start, args))
        else:
            apply.append((start, args))
    client = Client(server)
    client.authenticated = True
    client.in_exec = True  # blocking commands answer at once instead of waiting
    databases = server.databases
    failed = 0
    for start, args in apply:
        if args[0].lower() == b"select":
            index = int(args[1]) if len(args) == 2 and args[1].isdigit() else -1
            if not 0 <= index < len(databases):
                raise PersistenceError(
                    f"append-only file {path}: bad SELECT {args[1:]!r} at byte {start} "
                    f"(the server has {len(databases)} databases)"
                )
            client.db = databases[index]
            continue
        if lookup(args[0]) is None:
            raise PersistenceError(
                f"append-only file {path}: unknown command {args[0]!r} at byte {start}"
            )
        try:
            server.call(client, args)
        except CommandError as exc:  # Redis ignores error replies while loading too
            failed += 1
            log.debug("%s: command at byte %d failed: %s", path, start, exc.message)
    if failed:
        log.warning("%s: %d commands answered an error while loading", path, failed)
    if transaction is not None:
        log.warning(
            "append-only file %s ends inside a transaction: MULTI at byte offset %d has no "
            "EXEC; its %d commands were not applied and the file is truncated to %d bytes",
            path,
            multi_at,
            len(transaction),
            multi_at,
        )
        cut = multi_at
    elif complete < len(data):
        log.warning(
            "append-only file %s ends with an incomplete command at byte offset %d "
            "(%d bytes): it was not applied and the file is truncated to %d bytes",
            path,
            complete,
            len(data) - complete,
            complete,
        )
    if cut < len(data):
        os.truncate(path, cut)
    log.info("loaded %d commands from %s", len(apply), path)
