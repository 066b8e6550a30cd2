"""Point-in-time snapshots: the file format, writing one and loading one.

Snapshot file, format version 1 (all integers little-endian)::

    header   b"PULSARDS" | u32 version | u64 body length
    body     records, then one END byte (0xFF)
    record   u8 type | u16 db | i64 deadline, ms since the epoch (-1: none) | u32 key length
             | (strings only: u32 value length) | key | value
    value    string: bytes
             list, set: <strings>
             hash: <strings> fields | <strings> values
             zset: <strings> members | one f64 score per member
    function library (type 6, a string record with db 0, no deadline and an empty key): the
             library's code, as FUNCTION LOAD took it; files without functions are as before
    stream (type 7): u64 size | the stream as ``stream.dump_stream`` writes it (nodes with
             their tombstones, groups, consumers, pending entries); files without streams
             are as before
    strings  u32 count | count x u32 lengths | the bytes one after another
    trailer  u32 CRC-32 of header and body

The body length in the header tells a truncated file from a corrupt one, and the version
comes before the checksum so that a newer file is reported as such, not as corrupt.
Nothing is ever unpickled: loading a file runs no code from it.

A file is written to ``<name>.tmp`` and installed as ``files`` describes (one a killed save
left is removed at start-up). Scheduling (SAVE, BGSAVE, save rules) is
``persistence.SnapshotManager``'s.
"""

from __future__ import annotations

import logging
import struct
import sys
import threading
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import Any

from .files import PersistenceError, install, temp_path, write_file
from .keyspace import Database, now_ms
from .stream import Stream, dump_stream, load_stream
from .zset import ZSet

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "decode_snapshot",
    "encode_snapshot",
    "load_snapshot",
    "write_snapshot",
]

log = logging.getLogger("store.server")

MAGIC = b"PULSARDS"
FORMAT_VERSION = 1

_HEADER = struct.Struct("<8sIQ")  # magic, version, body length
_RECORD = struct.Struct("<BHqI")  # type, db, deadline (-1: none), key length
_STRING_RECORD = struct.Struct("<BHqII")  # the same and the value's length
_U32 = struct.Struct("<I")
_STRING, _LIST, _HASH, _SET, _ZSET, _FUNCTION, _STREAM = 1, 2, 3, 4, 5, 6, 7
_U64 = struct.Struct("<Q")
_END = 0xFF
_NO_DEADLINE = -1
_BIG_ENDIAN = sys.byteorder == "big"
_U32_CODE = next(code for code in "IL" if array(code).itemsize == 4)


class _Malformed(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


# -- encoding --------------------------------------------------------------------------------


def _put_strings(put: Callable[[bytes], None], items: Collection[bytes]) -> None:
    lengths = array(_U32_CODE, [len(item) for item in items])
    if _BIG_ENDIAN:
        lengths.byteswap()
    put(_U32.pack(len(lengths)))
    put(lengths.tobytes())
    put(b"".join(items))


def encode_snapshot(databases: Sequence[Database], functions: Sequence[bytes] = ()) -> bytes:
    """The body of a snapshot of ``databases`` and the function libraries' code (records
    and the END byte). Keys whose deadline has passed are left out."""
    now = now_ms()
    out: list[bytes] = []
    put = out.append
    for code in functions:
        put(_STRING_RECORD.pack(_FUNCTION, 0, _NO_DEADLINE, 0, len(code)) + code)
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
                elif kind is Stream:
                    put(record(_STREAM, index, deadline, len(key)))
                    put(key)
                    blob = dump_stream(value)
                    put(_U64.pack(len(blob)))
                    put(blob)
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


# -- decoding --------------------------------------------------------------------------------


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
FUNCTIONS_DB = -1  # the db of a function library's record (its code is the value)


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
        if kind == _STRING or kind == _FUNCTION:
            _, db, deadline, key_size, size = _STRING_RECORD.unpack_from(
                data, body.take(_STRING_RECORD.size)
            )
            key = data[body.take(key_size) : body.pos]
            value = data[body.take(size) : body.pos]
            if kind == _FUNCTION:
                records.append((FUNCTIONS_DB, key, value, _NO_DEADLINE))
                continue
        elif _LIST <= kind <= _ZSET:
            _, db, deadline, key_size = _RECORD.unpack_from(data, body.take(_RECORD.size))
            key = data[body.take(key_size) : body.pos]
            value = _read_container(body, kind, start, key)
        elif kind == _STREAM:
            _, db, deadline, key_size = _RECORD.unpack_from(data, body.take(_RECORD.size))
            key = data[body.take(key_size) : body.pos]
            (size,) = _U64.unpack_from(data, body.take(_U64.size))
            blob = data[body.take(size) : body.pos]
            try:
                value = load_stream(blob)
            except (ValueError, struct.error) as exc:
                raise _Malformed(start, f"stream {key!r}: {exc}") from None
        else:
            raise _Malformed(start, f"unknown record type {kind}")
        if deadline < _NO_DEADLINE:
            raise _Malformed(start, f"bad deadline {deadline}")
        if kind == _STRING or value:  # an empty container is never stored; skip one
            records.append((db, key, value, deadline))


# -- files -----------------------------------------------------------------------------------


def write_snapshot(path: str, body: bytes, cancel: threading.Event | None) -> None:
    """Write the snapshot of ``body`` (from ``encode_snapshot``) to ``path``."""
    temp = temp_path(path)
    write_file(temp, _snapshot_parts(body), cancel)
    install(temp, path)


def load_snapshot(databases: Sequence[Database], path: str) -> list[bytes]:
    """Load the snapshot at ``path`` into the (empty) ``databases``; a missing file is an
    empty dataset. Returns the code of the function libraries it holds. A file that cannot
    be used raises PersistenceError saying why."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise PersistenceError(f"cannot read the snapshot {path}: {exc}") from exc
    try:
        records = decode_snapshot(data)
    except _Malformed as exc:
        raise PersistenceError(
            f"snapshot {path} is unusable at byte {exc.offset}: {exc.message}"
        ) from None
    except Exception as exc:
        raise PersistenceError(f"snapshot {path} could not be loaded: {exc!r}") from exc
    top = max((db for db, _, _, _ in records), default=-1)
    if top >= len(databases):
        raise PersistenceError(
            f"snapshot {path} has keys in database {top} but the server has "
            f"{len(databases)} databases"
        )
    now = now_ms()
    loaded = expired = 0
    functions: list[bytes] = []
    for index, key, value, deadline in records:
        if index == FUNCTIONS_DB:
            functions.append(value)
            continue
        if deadline != _NO_DEADLINE and deadline <= now:
            expired += 1
            continue
        db = databases[index]
        db.data[key] = value
        if deadline != _NO_DEADLINE:
            db.set_deadline(key, deadline)
        loaded += 1
    log.info("loaded %d keys from %s (%d already expired)", loaded, path, expired)
    return functions
