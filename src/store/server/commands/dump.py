"""DUMP, RESTORE, RESTORE-ASKING and MIGRATE, with Redis 7.0's payload (``rdb_values``):
a DUMP taken from redis-server restores here and the other way round.

RESTORE is logged as itself with its deadline made absolute (ABSTTL), or as DEL when
REPLACE met a deadline already past, as Redis propagates it. MIGRATE talks to the target
over a blocking socket with the command's timeout, as Redis does (the server waits
meanwhile); it opens a connection per call instead of keeping Redis's 10-second cache,
and is logged as the DEL of the keys the target took.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from ...resp import pack_command
from ..keyspace import FrequencyTable, lru_now, now_ms
from ..notify import GENERIC, notify
from ..observe import REDACTED
from ..protocol import OK, SimpleString
from ..rdb import Reader, payload_body, with_footer
from ..rdb_values import dump_value, load_value
from . import WRITE, CommandError, command, parse_int, syntax_error

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["dump_payload", "restore_payload"]

_BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
_NOKEY = SimpleString(b"NOKEY")
_LRU_CLOCK_MAX = (1 << 24) - 1  # Redis's LRU clock: seconds, 24 bits, wrapping


def dump_payload(value: Any) -> bytes:
    return with_footer(dump_value(value))


def restore_payload(payload: bytes) -> Any:
    """The value of a DUMP payload; CommandError with Redis's text if it is not one."""
    if payload_body(payload) is None:
        raise CommandError(_BAD_PAYLOAD)
    try:
        # As Redis's, the reader has the whole payload: a value may run into the footer,
        # and the bytes after it are ignored.
        return load_value(Reader(payload))
    except (ValueError, IndexError, struct.error):
        raise CommandError("ERR Bad data format") from None


@command("dump", 2, keys=(1, 1, 1))
def dump(client: Client, args: list[bytes]) -> Any:
    value = client.db.get(args[1])
    if value is None:
        return None
    return dump_payload(value)


def _restore(client: Client, args: list[bytes]) -> Any:
    replace = absttl = False
    idle = freq = -1
    position = 4
    while position < len(args):
        option = args[position].lower()
        more = len(args) - position - 1
        if option == b"replace":
            replace = True
        elif option == b"absttl":
            absttl = True
        elif option == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(args[position + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            position += 1
        elif option == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(args[position + 1])
            if not 0 <= freq <= 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            position += 1
        else:
            raise syntax_error()
        position += 1
    key = args[1]
    db = client.db
    if not replace and db.get(key) is not None:
        raise CommandError("BUSYKEY Target key name already exists.")
    ttl = parse_int(args[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    value = restore_payload(args[3])
    deleted = replace and db.delete(key)
    if ttl and not absttl:
        ttl += now_ms()
        if ttl >= 1 << 63:
            ttl -= 1 << 64  # Redis's int64 sum wraps to a deadline in the past
    if ttl and ttl <= now_ms() and client.transport is not None:
        # already expired (the AOF's loader keeps it, as Redis's loading does, and lets
        # it expire): nothing is created, a replaced key is deleted
        if deleted:
            notify(client, GENERIC, b"del", key)
            client.propagate = [[b"DEL", key]]
        else:
            client.propagate = []
        return OK
    db.set(key, value)
    if ttl:
        db.set_deadline(key, ttl)
        if not absttl:
            client.propagate = [[*args[:2], b"%d" % ttl, *args[3:], b"ABSTTL"]]
    access = db.access
    if isinstance(access, FrequencyTable):
        if freq >= 0:
            dict.__setitem__(access, key, (lru_now() // 60 & 0xFFFF) << 8 | freq)
    elif idle >= 0:
        access[key] = lru_now() - _redis_idle(idle)
    notify(client, GENERIC, b"restore", key)
    return OK


def _redis_idle(idle: int) -> int:
    """The idle time OBJECT IDLETIME shows in Redis after RESTORE ... IDLETIME ``idle``:
    the access time is kept in a 24-bit wrapping clock of seconds (objectSetLRUOrLFU,
    estimateObjectIdleTime), so an idle time beyond the clock's value wraps."""
    clock = int(time.time()) & _LRU_CLOCK_MAX
    last = clock - idle
    if last < 0:
        last += _LRU_CLOCK_MAX
    last &= 0xFFFFFF  # what the 24-bit field keeps
    return clock - last if clock >= last else clock + _LRU_CLOCK_MAX - last


@command("restore", -4, WRITE, keys=(1, 1, 1))
def restore(client: Client, args: list[bytes]) -> Any:
    return _restore(client, args)


@command("restore-asking", -4, WRITE, keys=(1, 1, 1))
def restore_asking(client: Client, args: list[bytes]) -> Any:
    return _restore(client, args)


# -- MIGRATE -----------------------------------------------------------------------------------


def _migrate_keys(args: list[bytes]) -> list[bytes]:
    """migrateGetKeys: the key argument, or what follows KEYS (skipping the AUTH options'
    values); none when KEYS comes with a key argument (a syntax error)."""
    position = 6
    while position < len(args):
        word = args[position].lower()
        if word == b"keys":
            return [] if args[3] else args[position + 1 :]
        position += {b"auth": 2, b"auth2": 3}.get(word, 1)
    return args[3:4]


class _Target:
    """The blocking connection to MIGRATE's target: every operation within ``timeout``."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        # As connBlockingConnect: a non-blocking connect that fails only when it cannot
        # start, then a wait of at most ``timeout`` whatever it ends with. A refused or
        # slow connection shows when writing, as in Redis ("error ... writing").
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            if sock.connect_ex(address) in (0, errno.EINPROGRESS):
                break
            sock.close()
        else:
            raise OSError("no address to connect to")
        select.select([], [sock], [], timeout)
        sock.settimeout(timeout)
        with contextlib.suppress(OSError):  # a failed connection reports when writing
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buffer = b""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(data), 64 * 1024):  # in 64K writes, as Redis
            self.sock.sendall(view[start : start + 64 * 1024])

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("the target closed the connection")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def close(self) -> None:
        self.sock.close()


class _MigrateError(Exception):
    def __init__(self, stage: str, retry: bool) -> None:
        super().__init__(stage)
        self.stage = stage  # "connecting", "writing" or "reading"
        self.retry = retry


def _parse_migrate(
    args: list[bytes],
) -> tuple[bool, bool, bytes | None, bytes | None, list[bytes]]:
    """COPY, REPLACE, the AUTH user and password and the keys. The AUTH values are
    replaced in ``args`` by "(redacted)", which SLOWLOG and MONITOR then show, as Redis's
    redactClientCommandArgument does."""
    copy = replace = False
    username: bytes | None = None
    password: bytes | None = None
    keys = args[3:4]
    position = 6
    while position < len(args):
        word = args[position].lower()
        more = len(args) - 1 - position
        if word == b"copy":
            copy = True
        elif word == b"replace":
            replace = True
        elif word == b"auth":
            if not more:
                raise syntax_error()
            position += 1
            password = args[position]
            args[position] = REDACTED  # as Redis: SLOWLOG and MONITOR never show it
        elif word == b"auth2":
            if more < 2:
                raise syntax_error()
            username, password = args[position + 1], args[position + 2]
            args[position + 1] = args[position + 2] = REDACTED
            position += 2
        elif word == b"keys":
            if args[3]:
                raise CommandError(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to "
                    "the empty string"
                )
            keys = args[position + 1 :]
            break
        else:
            raise syntax_error()
        position += 1
    return copy, replace, username, password, keys


def _port(text: bytes) -> int:
    """atoi: the leading digits, 0 if none."""
    digits = text.lstrip()
    sign = -1 if digits[:1] == b"-" else 1
    digits = digits[1:] if digits[:1] in (b"-", b"+") else digits
    end = 0
    while end < len(digits) and digits[end : end + 1].isdigit():
        end += 1
    return sign * int(digits[:end]) if end else 0


@command("migrate", -6, WRITE, keys=_migrate_keys)
def migrate(client: Client, args: list[bytes]) -> Any:
    copy, replace, username, password, names = _parse_migrate(args)
    timeout_ms = parse_int(args[5])
    dbid = parse_int(args[4])
    if timeout_ms <= 0:
        timeout_ms = 1000
    db = client.db
    present = [key for key in names if db.get(key) is not None]
    client.propagate = []
    if not present:
        return _NOKEY
    attempt = 0
    while True:
        try:
            return _migrate_once(
                client, args, present, dbid, timeout_ms, copy, replace, username, password
            )
        except _MigrateError as exc:
            attempt += 1
            if exc.retry and attempt == 1:
                continue
            raise CommandError(f"IOERR error or timeout {exc.stage} to target instance") from None


def _migrate_once(
    client: Client,
    args: list[bytes],
    present: list[bytes],
    dbid: int,
    timeout_ms: int,
    copy: bool,
    replace: bool,
    username: bytes | None,
    password: bytes | None,
) -> Any:
    try:
        host = args[1].decode("utf-8", "surrogateescape")
        target = _Target(host, _port(args[2]), timeout_ms / 1000)
    except (OSError, UnicodeError, OverflowError, ValueError):
        raise CommandError("IOERR error or timeout connecting to the client") from None
    try:
        return _migrate_on(client, target, present, dbid, copy, replace, username, password)
    finally:
        target.close()


def _migrate_on(
    client: Client,
    target: _Target,
    present: list[bytes],
    dbid: int,
    copy: bool,
    replace: bool,
    username: bytes | None,
    password: bytes | None,
) -> Any:
    db = client.db
    out: list[bytes] = []
    if password is not None:
        out.append(pack_command(b"AUTH", *([username] if username is not None else []), password))
    out.append(pack_command(b"SELECT", b"%d" % dbid))  # a new connection: always
    sent: list[bytes] = []
    for key in present:
        value = db.get(key)
        if value is None:
            continue  # expired since it was looked up
        ttl = 0
        deadline = db.expires.get(key)
        if deadline is not None:
            ttl = max(deadline - now_ms(), 1)
        restore_args = [b"RESTORE", key, b"%d" % ttl, dump_payload(value)]
        if replace:
            restore_args.append(b"REPLACE")
        out.append(pack_command(*restore_args))
        sent.append(key)
    try:
        target.send(b"".join(out))
    except TimeoutError:
        raise _MigrateError("writing", False) from None
    except OSError:
        raise _MigrateError("writing", True) from None
    error: bytes | None = None  # the first error the target replied
    failed = False  # AUTH or SELECT failed: every RESTORE counts as failed
    taken: list[bytes] = []
    try:
        for _ in range(len(out) - len(sent)):
            line = target.line()
            if line[:1] == b"-":
                failed = True
                error = error or line
        for index, key in enumerate(sent):
            try:
                line = target.line()
            except TimeoutError:
                raise _Partial() from None
            except OSError:
                if index == 0:
                    raise
                raise _Partial() from None
            if failed or line[:1] == b"-":
                error = error or line
            elif not copy:
                taken.append(key)
    except _Partial:
        _deleted(client, taken, True)  # an IOERR reply follows
        raise _MigrateError("reading", False) from None
    except TimeoutError:
        raise _MigrateError("reading", False) from None
    except OSError:
        raise _MigrateError("reading", error is None) from None
    _deleted(client, taken, error is not None)
    if error is not None:
        text = error[1:].decode("utf-8", "replace")
        raise CommandError(f"ERR Target instance replied with error: {text}")
    return OK


class _Partial(Exception):
    """The connection failed after some keys were taken: those are still deleted."""


def _deleted(client: Client, keys: list[bytes], failing: bool) -> None:
    """Delete the keys the target took (no COPY), logged as one DEL. When an error reply
    follows, the server logs nothing for the command: the DEL is logged here then."""
    if not keys:
        return
    db = client.db
    for key in keys:
        db.delete(key)
        notify(client, GENERIC, b"del", key)
    if failing:
        client.server.wrote(db, keys)
        client.server.propagate(db, [b"DEL", *keys])
    else:
        client.propagate = [[b"DEL", *keys]]
