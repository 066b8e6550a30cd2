"""The append-only log (AOF): appending write commands, replaying them, rewriting the log.

The AOF holds write commands as RESP arrays, exactly what a client sends, with SELECT
whenever the database changes. They are written with the client's encoder
(``store.resp.pack_command``) and read back at start with the server's request parser
(``protocol.RequestParser``), then run through ``PulsarDS.call``. The background rewrite
is scheduled by ``persistence.SnapshotManager``; this module makes its content.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..resp import pack_command
from .client import Client
from .commands import lookup
from .config import ServerConfig
from .files import PersistenceError, install, write_file
from .keyspace import CommandError, Database, now_ms
from .protocol import RequestError, RequestParser
from .stream import Stream, rewrite_commands
from .zset import ZSet

if TYPE_CHECKING:
    from .core import PulsarDS

__all__ = ["AppendOnlyLog", "RewriteBuffer", "encode_commands", "log_path", "read_log"]

log = logging.getLogger("store.server")

_REWRITE_BATCH = 64  # elements per RPUSH/SADD/HSET/ZADD in a rewritten AOF, as in Redis


def log_path(config: ServerConfig) -> str:
    return os.path.join(config.dir, config.appendfilename)


def _function_codes(server: PulsarDS) -> list[bytes]:
    from .commands.functions import function_codes

    return function_codes(server)


def _select(db_index: int) -> bytes:
    return pack_command(b"SELECT", b"%d" % db_index)


# -- the rewrite -----------------------------------------------------------------------------


def encode_commands(
    databases: Sequence[Database], functions: Sequence[bytes] = ()
) -> tuple[bytes, int]:
    """The dataset as the commands that rebuild it (an AOF rewrite): the function
    libraries first (FUNCTION LOAD, as Redis writes them), then the keys; and the database
    the last SELECT chose (-1 if none)."""
    now = now_ms()
    out: list[bytes] = []
    put = out.append
    for code in functions:
        put(pack_command(b"FUNCTION", b"LOAD", code))
    selected = -1
    for index, db in enumerate(databases):
        if not db.data:
            continue
        put(_select(index))
        selected = index
        expires = db.expires
        for key, value in db.data.items():
            deadline = expires.get(key) if expires else None
            if deadline is not None and deadline <= now:
                continue
            kind = value.__class__
            if kind is bytes:
                if deadline is None:
                    put(pack_command(b"SET", key, value))
                else:
                    put(pack_command(b"SET", key, value, b"PXAT", b"%d" % deadline))
                continue
            if kind is Stream:
                for command_args in rewrite_commands(key, value):
                    put(pack_command(*command_args))
                if deadline is not None:
                    put(pack_command(b"PEXPIREAT", key, b"%d" % deadline))
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
                    # repr(): the shortest text that reads back as the same float
                    items += (repr(score).encode(), member)
            else:
                raise PersistenceError(f"cannot save key {key!r}: unknown type {kind.__name__}")
            batch = _REWRITE_BATCH * step
            for start in range(0, len(items), batch):
                put(pack_command(name, key, *items[start : start + batch]))
            if deadline is not None:
                put(pack_command(b"PEXPIREAT", key, b"%d" % deadline))
    return b"".join(out), selected


class RewriteBuffer:
    """Commands logged while a rewrite runs, to append to the rewritten file."""

    __slots__ = ("chunks", "selected")

    def __init__(self, selected: int) -> None:
        self.chunks: list[bytes] = []
        self.selected = selected

    def append(self, db_index: int, data: bytes) -> None:
        if db_index != self.selected:
            self.chunks.append(_select(db_index))
            self.selected = db_index
        self.chunks.append(data)


# -- reading ---------------------------------------------------------------------------------


def read_log(data: bytes, path: str) -> tuple[list[tuple[int, list[bytes]]], int]:
    """The complete commands of an AOF with their byte offsets, and the offset where the
    complete commands end (less than ``len(data)`` when the tail is cut short).

    The server's request parser splits the data; each command must then be, byte for
    byte, what ``pack_command`` writes for it. That gives the offsets, and refuses what
    the parser accepts from clients but a log never holds (inline commands, empty arrays,
    a bulk string not followed by CRLF...). Anything else than a cut tail raises
    PersistenceError with the offset of the first wrong byte."""
    parser = RequestParser(
        max_bulk=sys.maxsize, max_multibulk=sys.maxsize, query_buffer_limit=sys.maxsize
    )
    error: RequestError | None
    try:
        parsed = parser.feed(data)
    except RequestError as exc:
        parsed, error = [], exc
    else:
        error = parser.error
    commands: list[tuple[int, list[bytes]]] = []
    pos = 0
    for args in parsed:
        encoded = pack_command(*args)
        if not data.startswith(encoded, pos):
            offset = _first_difference(data, pos, encoded)
            raise _unusable(path, offset, f"malformed command: {data[offset : offset + 16]!r}")
        commands.append((pos, args))
        pos += len(encoded)
    if error is not None:
        raise _unusable(path, pos, f"Protocol error: {error}")
    # The commands before ``pos`` are the file's bytes exactly; what the parser still
    # waits for more data to complete (it raised no error) must be the start of a command.
    if pos < len(data) and data[pos] != 42:  # b"*"
        raise _unusable(path, pos, f"malformed command: {data[pos : pos + 16]!r}")
    return commands, pos


def _first_difference(data: bytes, pos: int, expected: bytes) -> int:
    for index, byte in enumerate(expected):
        if pos + index >= len(data) or data[pos + index] != byte:
            return pos + index
    return pos + len(expected)


def _unusable(path: str, offset: int, message: str) -> PersistenceError:
    return PersistenceError(
        f"append-only file {path} is unusable at byte {offset}: {message}; "
        "start-up stopped, the file is left untouched"
    )


def _replay(server: PulsarDS, path: str) -> None:
    """Run the commands of the AOF at ``path`` through the server (which has no AOF open
    yet, so nothing is logged again). A tail cut short by a crash is dropped and cut off
    the file; anything else that does not parse stops start-up."""
    with open(path, "rb") as file:
        data = file.read()
    commands, complete = read_log(data, path)
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


# -- the log being appended to ---------------------------------------------------------------


class AppendOnlyLog:
    """The AOF being appended to. ``append`` buffers a command; the buffer is written
    before the next reply is sent (``write_pending``, as Redis does before replying) and
    by ``tick``, which for ``everysec`` also fsyncs once a second on a thread so that a
    slow disk does not stall the loop; ``always`` writes and fsyncs at once."""

    def __init__(self, server: PulsarDS, path: str, fd: int) -> None:
        self.server = server
        self.path = path
        self.write_error: str | None = None
        self.rewrite_buffer: RewriteBuffer | None = None
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
        path = log_path(server.config)
        body, selected = encode_commands(server.databases, _function_codes(server))
        write_file(path + ".tmp", [body], None)
        install(path + ".tmp", path)
        log = cls(server, path, os.open(path, os.O_WRONLY | os.O_APPEND))
        log._selected = selected
        return log

    @classmethod
    def open(cls, server: PulsarDS) -> AppendOnlyLog:
        """Replay the AOF into the server, or create it from the dataset (which holds the
        snapshot, if one was loaded) when there is none, and open it for appending."""
        path = log_path(server.config)
        try:
            if os.path.exists(path):
                _replay(server, path)
            else:
                body, _ = encode_commands(server.databases, _function_codes(server))
                write_file(path + ".tmp", [body], None)
                install(path + ".tmp", path)
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
            self._pending.append(_select(db_index))
            self._selected = db_index
        data = pack_command(*args)
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

    def install_rewrite(self, temp: str, buffer: RewriteBuffer) -> None:
        """Switch to the rewritten file ``temp`` once the commands logged during the
        rewrite are added to it."""
        self.write_pending()  # the old file stays complete until the switch
        with open(temp, "ab") as file:
            file.write(b"".join(buffer.chunks))
            file.flush()
            os.fsync(file.fileno())
        install(temp, self.path)
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
