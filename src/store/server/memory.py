"""MEMORY USAGE / STATS / DOCTOR: what Redis 7.0 would use to hold the data.

PulsarDS's values are Python objects, whose sizes say little to a Redis user; so MEMORY
USAGE estimates what redis-server 7.0 (jemalloc, 64-bit) allocates for the same key and
value, following objectComputeSize in object.c:

- the key: its sds (header of 1, 3, 5 or 9 bytes + the bytes + NUL, rounded up to a
  jemalloc size class) and a 24-byte dictEntry;
- a string: a 16-byte robj (an integer of up to 20 digits is stored in it), an embstr
  (robj and sds in one allocation, up to 44 bytes) or a robj plus a raw sds;
- a small hash / sorted set (Redis's listpack encodings): the robj and one listpack
  (6-byte header, each entry its encoding byte(s), data and back-length, one end byte);
  a list: a quicklist (40 bytes) of 8 KB listpack nodes (40 bytes each);
- an intset: the robj and 8 bytes of header plus 2, 4 or 8 bytes per member;
- a big hash / set / sorted set: the robj, the dict (56 bytes plus 8 per bucket, a
  power of two), per element a dictEntry and its sds strings (a sorted set adds its
  skiplist: 32 bytes, a 32-level header node and one node per member), averaged over
  ``samples`` elements as Redis does.

The figures match redis-server's exactly for small values and stay within a few percent
for big ones (the allocator's rounding of big listpacks and Redis's spare sds room after
appends are not modelled). Types this module does not know get a rough per-element guess.

``python_key_size`` is the other model: what a key costs *this* process (CPython 3.11,
64-bit), the figure behind INFO's used_memory and maxmemory (eviction.py). It counts the
objects a key owns: the key and value ``bytes`` (33 bytes of header, rounded up to
pymalloc's 16-byte classes, or malloc's chunk above 512 bytes), a container's own
allocations as ``sys.getsizeof`` reports them (a dict's or set's table, a deque's 64-slot
blocks, a list's array) plus its elements (averaged over ``samples`` of them, as MEMORY
USAGE does, so a write to a big container stays cheap), a sorted set's float and
(score, member) tuple per member, a deadline's int and heap tuple, an LFU counter's int,
and the int eviction.py keeps for the key's size. The databases' own tables (the key,
expiry and access dicts) are measured with ``sys.getsizeof`` by ``table_bytes``.
"""

from __future__ import annotations

import sys
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any

from .zset import ZSet

if TYPE_CHECKING:
    from .core import PulsarDS
    from .keyspace import Database

__all__ = ["doctor", "key_usage", "python_key_size", "stats", "table_bytes"]

ROBJ = 16
STARTUP = 800_000  # what an empty server is taken to use (INFO's used_memory_startup)
DICT_ENTRY = 24
DICT = 56
QUICKLIST = 40
QUICKLIST_NODE = 40
LISTPACK_NODE_BYTES = 8192  # list-max-listpack-size -2
_SMALL_CLASSES = (8, 16, 32, 48, 64, 80, 96, 112, 128)


def jemalloc(size: int) -> int:
    """The jemalloc size class ``size`` bytes get: 8..128 by 16, then four per doubling."""
    if size <= 128:
        for step in _SMALL_CLASSES:
            if size <= step:
                return step
    group = 1 << (size - 1).bit_length()  # the next power of two
    quarter = group // 8
    return (size + quarter - 1) // quarter * quarter


def sds_size(length: int) -> int:
    header = 1 if length < 32 else 3 if length < 256 else 5 if length < 65536 else 9
    return jemalloc(header + length + 1)


def _as_int(value: bytes) -> int | None:
    if not value or len(value) > 20:
        return None
    digits = value[1:] if value[:1] == b"-" else value
    if not digits.isdigit() or (digits[:1] == b"0" and len(value) > 1):
        return None
    number = int(value)
    return number if -(1 << 63) <= number < (1 << 63) else None


def _lp_entry(value: bytes) -> int:
    """One listpack entry: encoding + data, then its back-length."""
    number = _as_int(value)
    if number is not None:
        if 0 <= number <= 127:
            size = 1
        elif -4096 <= number <= 4095:
            size = 2
        elif -(1 << 15) <= number < 1 << 15:
            size = 3
        elif -(1 << 23) <= number < 1 << 23:
            size = 4
        elif -(1 << 31) <= number < 1 << 31:
            size = 5
        else:
            size = 9
    else:
        length = len(value)
        size = length + (1 if length < 64 else 2 if length < 4096 else 5)
    return size + (1 if size < 128 else 2 if size < 16384 else 3)


def _listpack(items: Any) -> int:
    return jemalloc(6 + sum(_lp_entry(item) for item in items) + 1)


def _score_text(score: float) -> bytes:
    if score.is_integer() and abs(score) < 1 << 53:
        return b"%d" % score
    return repr(score).encode()


def _average(sizes: list[int], count: int) -> int:
    return int(sum(sizes) / len(sizes) * count) if sizes else 0


def _slots(count: int) -> int:
    return 1 << max(2, (count - 1).bit_length()) if count else 0


def value_usage(value: Any, samples: int) -> int:
    from .commands.keys import encoding

    samples = min(samples, 1 << 30)
    kind = type(value)
    if kind is bytes:
        length = len(value)
        if _as_int(value) is not None:
            return ROBJ
        if length <= 44:
            return jemalloc(ROBJ + 3 + length + 1)
        return ROBJ + sds_size(length)
    if kind is deque:
        count = len(value)
        entries = [_lp_entry(item) for item in islice(value, max(samples, 1) * 128)]
        sizes = []
        node = 6
        for entry in entries:  # packed into listpacks of up to 8 KB, as quicklist does
            if node > 6 and node + entry + 1 > LISTPACK_NODE_BYTES:
                sizes.append(jemalloc(node + 1))
                node = 6
            node += entry
        sizes.append(jemalloc(node + 1))
        if len(entries) >= count:  # all of it seen: exact
            return ROBJ + QUICKLIST + len(sizes) * QUICKLIST_NODE + sum(sizes)
        total = sum(entries) / len(entries) * count
        nodes = int(total // LISTPACK_NODE_BYTES) + 1
        return ROBJ + QUICKLIST + nodes * (QUICKLIST_NODE + 7) + int(total)
    name = encoding(value) if kind in (dict, set, ZSet) else b""
    if kind is dict:
        if name == b"listpack":
            return ROBJ + _listpack(item for pair in value.items() for item in pair)
        sizes = [
            DICT_ENTRY + sds_size(len(f)) + sds_size(len(v))
            for f, v in islice(value.items(), samples)
        ]
        return ROBJ + DICT + 8 * _slots(len(value)) + _average(sizes, len(value))
    if kind is set:
        if name == b"intset":
            numbers = [int(member) for member in value]
            widest = max((abs(n) for n in numbers), default=0)
            width = 2 if widest < 1 << 15 else 4 if widest < 1 << 31 else 8
            return ROBJ + jemalloc(8 + width * len(numbers))
        sizes = [DICT_ENTRY + sds_size(len(member)) for member in islice(value, samples)]
        return ROBJ + DICT + 8 * _slots(len(value)) + _average(sizes, len(value))
    if kind is ZSet:
        scores = value.scores
        if name == b"listpack":
            return ROBJ + _listpack(
                item for member, score in scores.items() for item in (member, _score_text(score))
            )
        header = jemalloc(32 + 32 * 16)
        sizes = [
            sds_size(len(member)) + DICT_ENTRY + jemalloc(32 + 16)
            for member in islice(scores, samples)
        ]
        return (
            ROBJ + 16 + 32 + DICT + 8 * _slots(len(scores)) + header + _average(sizes, len(scores))
        )
    # a type this model does not know: Redis-like overhead per element
    try:
        count = len(value)
    except TypeError:
        count = 1
    return ROBJ + 64 * max(count, 1) + sys.getsizeof(value) // 4


def key_usage(key: bytes, value: Any, samples: int = 5) -> int:
    """MEMORY USAGE: the value, the key's sds and its dictEntry."""
    return value_usage(value, samples) + sds_size(len(key)) + DICT_ENTRY


def _used(server: PulsarDS) -> tuple[int, list[tuple[int, int, int]], int, int]:
    """(estimated dataset bytes, per database (index, main overhead, expires overhead),
    keys, overhead) from a sample of each database."""
    dataset = 0
    keys = 0
    overhead = 0
    dbs = []
    for db in server.databases:
        count = len(db.data)
        if not count:
            continue
        keys += count
        sample = list(islice(db.data.items(), 64))
        average = sum(key_usage(key, value) for key, value in sample) / len(sample)
        dataset += int(average * count)
        main = DICT_ENTRY * count + 8 * _slots(count) + DICT
        expires = DICT_ENTRY * len(db.expires) + 8 * _slots(len(db.expires))
        overhead += main + expires
        dbs.append((db.index, main, expires))
    return dataset, dbs, keys, overhead


def stats(server: PulsarDS) -> dict[bytes, Any]:
    """MEMORY STATS with Redis 7.0's fields, in its order (getMemoryOverheadData)."""
    from .info import _rss

    rss = _rss()
    dataset, dbs, keys, db_overhead = _used(server)
    startup = STARTUP
    clients = sum(client.output_queued() for client in server.clients.values())
    scripts = sum(len(body) for body in server.scripts.values())
    overhead = startup + clients + scripts + db_overhead
    total = max(rss, overhead + dataset)
    reply: dict[bytes, Any] = {
        b"peak.allocated": total,
        b"total.allocated": total,
        b"startup.allocated": startup,
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": clients,
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": scripts,
        b"functions.caches": 0,
    }
    for index, main, expires in dbs:
        reply[b"db.%d" % index] = {
            b"overhead.hashtable.main": main,
            b"overhead.hashtable.expires": expires,
            b"overhead.hashtable.slot-to-keys": 0,
        }
    net = max(total - startup, 1)
    reply.update(
        {
            b"overhead.total": overhead,
            b"keys.count": keys,
            b"keys.bytes-per-key": (total - startup) // keys if keys else 0,
            b"dataset.bytes": dataset,
            b"dataset.percentage": dataset * 100 / net,
            b"peak.percentage": 100.0,
            b"allocator.allocated": total,
            b"allocator.active": total,
            b"allocator.resident": rss,
            b"allocator-fragmentation.ratio": 1.0,
            b"allocator-fragmentation.bytes": 0,
            b"allocator-rss.ratio": 1.0,
            b"allocator-rss.bytes": 0,
            b"rss-overhead.ratio": 1.0,
            b"rss-overhead.bytes": 0,
            b"fragmentation": 1.0,
            b"fragmentation.bytes": 0,
        }
    )
    return reply


def doctor(server: PulsarDS) -> str:
    """MEMORY DOCTOR: Redis's report; PulsarDS's allocator ratios are not measured, so
    only the emptiness, client buffer and script checks can fire."""
    dataset = _used(server)[0]
    if dataset < 5 * 1024 * 1024:
        return (
            "Hi Sam, this instance is empty or is using very little memory, my issues "
            "detector can't be used in these conditions. Please, leave for your mission on "
            "Earth and fill it with some data. The new Sam and I will be back to our "
            "programming as soon as I finished rebooting.\n"
        )
    issues = []
    clients = list(server.clients.values())
    if clients and sum(c.output_queued() for c in clients) / len(clients) > 200 * 1024:
        issues.append(
            " * Big client buffers: The clients output buffers in this instance are greater "
            "than 200K per client (on average). This may result from different causes, like "
            "Pub/Sub clients subscribed to channels bot not receiving data fast enough, so "
            "that data piles on the Redis instance output buffer, or clients sending "
            "commands with large replies or very large sequences of commands in the same "
            "pipeline. Please use the CLIENT LIST command in order to investigate the issue "
            "if it causes problems in your instance, or to understand better why certain "
            "clients are using a big amount of memory.\n\n"
        )
    if len(server.scripts) > 1000:
        issues.append(
            " * Many scripts: There seem to be many cached scripts in this instance (more "
            "than 1000). This may be because scripts are generated and `EVAL`ed, instead of "
            "being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. "
            "Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up "
            "consuming most of your memory.\n\n"
        )
    if not issues:
        return (
            "Hi Sam, I can't find any memory issue in your instance. I can only account for "
            "what occurs on this base.\n"
        )
    return (
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
        + "".join(issues)
        + "I'm here to keep you safe, Sam. I want to help you.\n"
    )


# -- what a key costs this process (see the module's doc) ------------------------------------

BYTES_HEADER = 33  # sys.getsizeof(b"")
PYMALLOC_MAX = 512  # bigger requests go to malloc
INT_OBJECT = 32  # an int of up to 60 bits (28 or 32 bytes, one 32-byte pymalloc block)
FLOAT_OBJECT = 32  # 24 bytes in a 32-byte block
PAIR_TUPLE = 64  # a 2-tuple: 56 bytes (GC header included) in a 64-byte block
DEADLINE = INT_OBJECT + PAIR_TUPLE  # the deadline int and its (deadline, key) heap entry
SIZE_RECORD = INT_OBJECT  # eviction.py's int holding the key's size
SAMPLES = 16  # elements measured per container; the rest are taken to be alike


def alloc(size: int) -> int:
    """What a request of ``size`` bytes takes: a pymalloc block (16-byte classes) up to
    512 bytes, else a glibc malloc chunk (8 bytes of header, 16-byte aligned)."""
    if size <= PYMALLOC_MAX:
        return (size + 15) & ~15
    return (size + 8 + 15) & ~15


def _bytes_size(value: bytes) -> int:
    return alloc(BYTES_HEADER + len(value))


def _sampled(items: Any, count: int, measure: Any) -> int:
    """``measure`` summed over the first SAMPLES of ``items``, scaled to ``count``."""
    total = 0
    seen = 0
    for item in islice(items, SAMPLES):
        total += measure(item)
        seen += 1
    if not seen:
        return 0
    return total if seen >= count else total * count // seen


def _pair_size(pair: tuple[bytes, bytes]) -> int:
    return alloc(BYTES_HEADER + len(pair[0])) + alloc(BYTES_HEADER + len(pair[1]))


def _member_size(member: bytes) -> int:
    return alloc(BYTES_HEADER + len(member)) + FLOAT_OBJECT + PAIR_TUPLE


def _entry_size(items: tuple[bytes, ...] | None) -> int:
    if items is None:  # a deleted entry's place
        return 0
    return sys.getsizeof(items) + sum(alloc(BYTES_HEADER + len(item)) for item in items)


def _node_size(node: Any) -> int:
    """One stream node: the object, its lists, each entry's ID int and its tuple of bytes."""
    size = 64 + sys.getsizeof(node.ids) + sys.getsizeof(node.items) + INT_OBJECT * len(node.ids)
    return size + _sampled(node.items, len(node.items), _entry_size)


def python_value_size(value: Any) -> int:
    """The bytes of this process that ``value`` holds (its elements sampled)."""
    kind = type(value)
    if kind is bytes:
        return alloc(BYTES_HEADER + len(value))
    if kind is deque:
        return sys.getsizeof(value) + _sampled(value, len(value), _bytes_size)
    if kind is dict:
        return sys.getsizeof(value) + _sampled(value.items(), len(value), _pair_size)
    if kind is set:
        return sys.getsizeof(value) + _sampled(value, len(value), _bytes_size)
    if kind is ZSet:
        scores = value.scores
        return (
            48  # the object: two slots
            + sys.getsizeof(scores)
            + sys.getsizeof(value.order)
            + _sampled(scores, len(scores), _member_size)
        )
    from .stream import Stream

    if kind is Stream:
        nodes = value.nodes
        size = 128 + sys.getsizeof(nodes) + sys.getsizeof(value.heads)
        size += INT_OBJECT * len(value.heads) + _sampled(nodes, len(nodes), _node_size)
        for group in value.groups.values():  # groups and their pending entries, roughly
            size += 400 + 200 * len(group.consumers) + 160 * len(group.pel.nacks)
        return size
    try:  # a type this model does not know: its object and a guess per element
        count = len(value)
    except TypeError:
        count = 1
    return sys.getsizeof(value) + 64 * count


def python_key_size(key: bytes, value: Any, has_deadline: bool, lfu: bool) -> int:
    """What ``key`` costs this process but for the databases' tables (``table_bytes``):
    the key object, its value, its deadline, its LFU counter and its size record."""
    size = alloc(BYTES_HEADER + len(key)) + python_value_size(value) + SIZE_RECORD
    if has_deadline:
        size += DEADLINE
    if lfu:
        size += INT_OBJECT  # LFU fields are ints of their own; LRU times are shared
    return size


def table_bytes(db: Database) -> int:
    """The tables of ``db``: its key, expiry and access dicts and its deadline heap."""
    return (
        sys.getsizeof(db.data)
        + sys.getsizeof(db.expires)
        + sys.getsizeof(db.access)
        + sys.getsizeof(db._deadlines)
    )
