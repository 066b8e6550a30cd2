"""Generic key commands: DEL EXISTS EXPIRE TTL TYPE KEYS SCAN RENAME MOVE COPY OBJECT ..."""

from __future__ import annotations

import copy as copy_module
import random
from collections import deque
from typing import TYPE_CHECKING, Any

from ..glob import compile_glob
from ..keyspace import Database, now_ms, type_name
from ..notify import GENERIC, notify, notify_db
from ..protocol import OK, SimpleString
from ..scan import parse_scan_cursor, scan_options
from ..zset import ZSet
from . import WRITE, CommandError, command, keys_from, parse_int, subcommand_error, syntax_error

if TYPE_CHECKING:
    from ..client import Client


@command("del", -2, WRITE, keys=(1, -1, 1))
def del_(client: Client, args: list[bytes]) -> Any:
    delete = client.db.delete
    if not client.server.notify_flags:
        return sum(1 for key in args[1:] if delete(key))
    deleted = 0
    for key in args[1:]:
        if delete(key):
            deleted += 1
            notify(client, GENERIC, b"del", key)
    return deleted


@command("unlink", -2, WRITE, keys=(1, -1, 1))
def unlink(client: Client, args: list[bytes]) -> Any:
    return del_(client, args)


@command("exists", -2, keys=(1, -1, 1))
def exists(client: Client, args: list[bytes]) -> Any:
    get = client.db.get
    return sum(1 for key in args[1:] if get(key) is not None)


@command("touch", -2, keys=(1, -1, 1))
def touch(client: Client, args: list[bytes]) -> Any:
    return exists(client, args)


@command("type", 2, keys=(1, 1, 1))
def type_(client: Client, args: list[bytes]) -> Any:
    value = client.db.peek(args[1])  # not an access, as in Redis
    return SimpleString(b"none" if value is None else type_name(value))


def _expire(client: Client, args: list[bytes], unit: int, absolute: bool) -> Any:
    name = args[0].decode("utf-8", "replace").lower()
    key = args[1]
    number = parse_int(args[2])
    flags = {option.upper() for option in args[3:]}
    if not flags <= {b"NX", b"XX", b"GT", b"LT"}:
        bad = next(o for o in args[3:] if o.upper() not in (b"NX", b"XX", b"GT", b"LT"))
        raise CommandError(f"ERR Unsupported option {bad.decode('utf-8', 'replace')}")
    if b"NX" in flags and flags & {b"XX", b"GT", b"LT"}:
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"GT" in flags and b"LT" in flags:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    try:
        deadline = number * unit + (0 if absolute else now_ms())
        if not -(1 << 63) <= number * unit < (1 << 63) or not -(1 << 63) <= deadline < (1 << 63):
            raise OverflowError
    except OverflowError:
        raise CommandError(f"ERR invalid expire time in '{name}' command") from None
    db = client.db
    client.propagate = []
    if db.get(key) is None:
        return 0
    current = db.expires.get(key)
    if b"NX" in flags and current is not None:
        return 0
    if b"XX" in flags and current is None:
        return 0
    # A key without a deadline lives for ever: GT never beats it, LT always does.
    if b"GT" in flags and (current is None or deadline <= current):
        return 0
    if b"LT" in flags and current is not None and deadline >= current:
        return 0
    if deadline <= now_ms():
        db.delete(key)
        notify(client, GENERIC, b"del", key)
        client.propagate = [[b"DEL", key]]
    else:
        db.set_deadline(key, deadline)
        notify(client, GENERIC, b"expire", key)
        client.propagate = [[b"PEXPIREAT", key, b"%d" % deadline]]
    return 1


@command("expire", -3, WRITE, keys=(1, 1, 1))
def expire(client: Client, args: list[bytes]) -> Any:
    return _expire(client, args, 1000, False)


@command("pexpire", -3, WRITE, keys=(1, 1, 1))
def pexpire(client: Client, args: list[bytes]) -> Any:
    return _expire(client, args, 1, False)


@command("expireat", -3, WRITE, keys=(1, 1, 1))
def expireat(client: Client, args: list[bytes]) -> Any:
    return _expire(client, args, 1000, True)


@command("pexpireat", -3, WRITE, keys=(1, 1, 1))
def pexpireat(client: Client, args: list[bytes]) -> Any:
    return _expire(client, args, 1, True)


@command("persist", 2, WRITE, keys=(1, 1, 1))
def persist(client: Client, args: list[bytes]) -> Any:
    if client.db.persist(args[1]):
        notify(client, GENERIC, b"persist", args[1])
        return 1
    client.propagate = []
    return 0


def _ttl(client: Client, key: bytes, seconds: bool, absolute: bool) -> int:
    db = client.db
    if db.get(key) is None:
        return -2
    deadline = db.expires.get(key)
    if deadline is None:
        return -1
    if absolute:
        return deadline // 1000 if seconds else deadline
    left = max(deadline - now_ms(), 0)
    return (left + 500) // 1000 if seconds else left


@command("ttl", 2, keys=(1, 1, 1))
def ttl(client: Client, args: list[bytes]) -> Any:
    return _ttl(client, args[1], True, False)


@command("pttl", 2, keys=(1, 1, 1))
def pttl(client: Client, args: list[bytes]) -> Any:
    return _ttl(client, args[1], False, False)


@command("expiretime", 2, keys=(1, 1, 1))
def expiretime(client: Client, args: list[bytes]) -> Any:
    return _ttl(client, args[1], True, True)


@command("pexpiretime", 2, keys=(1, 1, 1))
def pexpiretime(client: Client, args: list[bytes]) -> Any:
    return _ttl(client, args[1], False, True)


@command("keys", 2)
def keys(client: Client, args: list[bytes]) -> Any:
    if args[1] == b"*":  # every key, the empty one too: Redis does not match for "*"
        return list(client.db.keys())
    match = compile_glob(args[1])
    return [key for key in client.db.keys() if match(key)]


@command("scan", -2)
def scan(client: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[1])
    match, count, kind = scan_options(args, 2, allow_type=True)
    db = client.db
    next_cursor, page = client.server.cursors["keys"].page(cursor, lambda: list(db.data), count)
    found = []
    for key in page:
        value = db.get(key)
        if value is None:
            continue
        if match is not None and not match(key):
            continue
        if kind is not None and type_name(value) != kind:
            continue
        found.append(key)
    return [b"%d" % next_cursor, found]


@command("randomkey", 1)
def randomkey(client: Client, args: list[bytes]) -> Any:
    db = client.db
    while db.data:
        key = random.choice(list(db.data))
        if db.get(key) is not None:
            return key
    return None


def _rename(client: Client, args: list[bytes], only_new: bool) -> Any:
    db = client.db
    source, target = args[1], args[2]
    if source == target:  # nothing to do once the key is known to exist
        if db.get(source) is None:
            raise CommandError("ERR no such key")
        client.propagate = []
        return 0 if only_new else OK
    value, deadline = db.pop(source)
    if value is None:
        raise CommandError("ERR no such key")
    if only_new and db.get(target) is not None:
        db.data[source] = value
        if deadline is not None:
            db.expires[source] = deadline
        client.propagate = []
        return 0
    db.delete(target)  # as Redis, which deletes it and adds the key anew ("new" event)
    db.set(target, value)
    if deadline is not None:
        db.set_deadline(target, deadline)
    notify(client, GENERIC, b"rename_from", source)
    notify(client, GENERIC, b"rename_to", target)
    return 1 if only_new else OK


@command("rename", 3, WRITE, keys=(1, 2, 1))
def rename(client: Client, args: list[bytes]) -> Any:
    return _rename(client, args, False)


@command("renamenx", 3, WRITE, keys=(1, 2, 1))
def renamenx(client: Client, args: list[bytes]) -> Any:
    return _rename(client, args, True)


def _database(client: Client, value: bytes) -> Database:
    try:
        index = parse_int(value)
    except CommandError:
        raise CommandError("ERR value is not an integer or out of range") from None
    databases = client.server.databases
    if not 0 <= index < len(databases):
        raise CommandError("ERR DB index is out of range")
    return databases[index]


@command("move", 3, WRITE, keys=(1, 1, 1))
def move(client: Client, args: list[bytes]) -> Any:
    target = _database(client, args[2])
    db = client.db
    if target is db:
        raise CommandError("ERR source and destination objects are the same")
    key = args[1]
    client.propagate = []
    if db.get(key) is None or target.get(key) is not None:
        return 0
    value, deadline = db.pop(key)
    target.set(key, value)
    if deadline is not None:
        target.set_deadline(key, deadline)
    client.server.wrote(target, [key])
    notify(client, GENERIC, b"move_from", key)
    notify_db(client.server, GENERIC, b"move_to", key, target.index)
    client.propagate = [[b"MOVE", key, args[2]]]
    return 1


def copy_value(value: Any) -> Any:
    if type(value) is bytes:
        return value
    if type(value) is ZSet:
        clone = ZSet()
        clone.scores = dict(value.scores)
        clone.order = list(value.order)
        return clone
    if type(value) is deque:
        return deque(value)
    return copy_module.copy(value)


@command("copy", -3, WRITE, keys=keys_from((1, 2)), writes=(2,))
def copy(client: Client, args: list[bytes]) -> Any:
    source, target = args[1], args[2]
    db = client.db
    destination = db
    replace = False
    index = 3
    while index < len(args):
        option = args[index].upper()
        if option == b"REPLACE":
            replace = True
        elif option == b"DB" and index + 1 < len(args):
            destination = _database(client, args[index + 1])
            index += 1
        else:
            raise syntax_error()
        index += 1
    if destination is db and source == target:
        raise CommandError("ERR source and destination objects are the same")
    value = db.get(source)
    client.propagate = []
    if value is None:
        return 0
    if destination.get(target) is not None:
        if not replace:
            return 0
        destination.delete(target)
    destination.set(target, copy_value(value))
    deadline = db.expires.get(source)
    if deadline is not None:
        destination.set_deadline(target, deadline)
    client.server.wrote(destination, [target])
    notify_db(client.server, GENERIC, b"copy_to", target, destination.index)
    client.propagate = [list(args)]
    return 1


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


def encoding(value: Any) -> bytes:
    """The name Redis 7.0 reports for a value's internal representation."""
    kind = type(value)
    if kind is bytes:
        if len(value) <= 20:
            try:
                parse_int(value)
                return b"int"
            except CommandError:
                pass
        return b"embstr" if len(value) <= 44 else b"raw"
    if kind is deque:
        return b"quicklist"
    if kind is dict:
        # hash-max-listpack-entries 512, hash-max-listpack-value 64 (Redis 7.0's defaults)
        small = len(value) <= 512 and all(len(f) <= 64 and len(v) <= 64 for f, v in value.items())
        return b"listpack" if small else b"hashtable"
    if kind is set:
        if len(value) <= 512:
            try:
                for member in value:
                    parse_int(member)
                return b"intset"
            except CommandError:
                pass
        return b"hashtable"
    if type_name(value) == b"stream":
        return b"stream"
    small = len(value) <= 128 and all(len(member) <= 64 for member in value.scores)
    return b"listpack" if small else b"skiplist"


@command("object", -2)
def object_(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    if sub == b"help" and len(args) == 2:
        return [SimpleString(line.encode()) for line in _OBJECT_HELP]
    if sub in (b"encoding", b"refcount", b"idletime", b"freq") and len(args) == 3:
        db = client.db
        value = db.peek(args[2])  # not an access (Redis's LOOKUP_NOTOUCH)
        if value is None:
            return None
        if sub == b"encoding":
            return encoding(value)
        lfu = client.server.lfu
        if sub == b"freq":
            if not lfu:
                raise CommandError(
                    "ERR An LFU maxmemory policy is not selected, access frequency not "
                    "tracked. Please note that when switching between policies at runtime "
                    "LRU and LFU data will take some time to adjust."
                )
            return db.frequency(args[2])
        if sub == b"idletime":
            if lfu:
                raise CommandError(
                    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                    "note that when switching between policies at runtime LRU and LFU data "
                    "will take some time to adjust."
                )
            return db.idle_seconds(args[2])
        # Redis shares the integers 0..9999, but not under a maxmemory with an LRU or LFU
        # policy (each value needs its own access clock)
        if type(value) is bytes and len(value) <= 4 and encoding(value) == b"int":
            config = client.server.config
            unshared = config.maxmemory and config.maxmemory_policy.endswith(("lru", "lfu"))
            if 0 <= int(value) < 10000 and not unshared:
                return 2147483647
        return 1
    raise subcommand_error(args, (b"encoding", b"refcount", b"idletime", b"freq", b"help"))
