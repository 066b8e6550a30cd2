"""The stream: entries in ID order, consumer groups and their pending entries lists.

An ID is one int, ``ms << 64 | seq``, so IDs compare and bisect as numbers. Entries live
in nodes laid out as Redis lays out its listpacks (a node is closed at
stream-node-max-entries entries, counting deleted ones, or when its listpack would reach
stream-node-max-bytes; the listpack's size is computed, not built). A node holds its IDs
(a sorted list) and the entries' field-value tuples, None for a deleted entry (a
tombstone, as Redis's deleted flag). The stream keeps the nodes and their first IDs in two
lists: XADD appends to the last node, XRANGE bisects the first IDs and then the node's IDs
(O(log n) to the start, then the entries it returns), trimming drops whole nodes from the
front, as Redis's radix tree does, and XDEL marks a tombstone (a node whose last live entry
goes is dropped). Approximate trimming (``~``) therefore removes what Redis removes.

A pending entries list (``Pel``) is a dict of ID -> ``Nack`` and a sorted list of the IDs
(with a start offset and lazy removal, so that acknowledging in any order never moves the
list) for ranges.
"""

from __future__ import annotations

import itertools
import re
import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from typing import Any, cast

from .keyspace import TYPE_NAMES

__all__ = [
    "MAX_ID",
    "U64",
    "Consumer",
    "Group",
    "Nack",
    "Node",
    "Pel",
    "Stream",
    "dump_stream",
    "format_id",
    "load_stream",
    "next_signal",
    "rewrite_commands",
]

U64 = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
_LISTPACK_HEADER = 7  # total bytes (4), element count (2), the end byte
_INT = re.compile(rb"-?[1-9][0-9]*|0")


_SIGNALS = itertools.count(1)


def next_signal() -> int:
    """A number never given before: a stream's mark of its last change that wakes readers."""
    return next(_SIGNALS)


def format_id(value: int) -> bytes:
    return b"%d-%d" % (value >> 64, value & U64)


# -- listpack sizes (listpack.c): what decides where Redis starts a new node --------------


def _int_size(value: int) -> int:
    """Bytes of an integer element: encoding and its one-byte back length."""
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
        return 3
    if -32768 <= value <= 32767:
        return 4
    if -8388608 <= value <= 8388607:
        return 5
    if -2147483648 <= value <= 2147483647:
        return 6
    return 10


def _string_size(value: bytes) -> int:
    """Bytes of a string element, stored as an integer when it reads as one (lpStringToInt64)."""
    size = len(value)
    if size < 21 and _INT.fullmatch(value):
        number = int(value)
        if -(1 << 63) <= number < (1 << 63):
            return _int_size(number)
    encoded = size + (1 if size < 64 else 2 if size < 4096 else 5)
    if encoded <= 127:
        return encoded + 1
    if encoded < 16383:
        return encoded + 2
    if encoded < 2097151:
        return encoded + 3
    if encoded < 268435455:
        return encoded + 4
    return encoded + 5


def _delta(a: int, b: int) -> int:
    """``a - b`` as Redis stores it: a uint64 difference read as an int64."""
    value = (a - b) & U64
    return value - (1 << 64) if value >> 63 else value


class Node:
    """One listpack's worth of entries. ``size`` is its bytes but for the two counters of
    the master entry (live and deleted entries), which change size as they count."""

    __slots__ = ("fields", "ids", "items", "live", "size")

    def __init__(self, fields: tuple[bytes, ...]) -> None:
        self.ids: list[int] = []
        self.items: list[tuple[bytes, ...] | None] = []
        self.live = 0
        self.fields = fields
        self.size = (
            _LISTPACK_HEADER
            + _int_size(len(fields))
            + sum(_string_size(f) for f in fields)
            + _int_size(0)
        )

    def listpack_bytes(self) -> int:
        return self.size + _int_size(self.live) + _int_size(len(self.ids) - self.live)


class Nack:
    """A pending entry: when it was last delivered, how often, and to whom."""

    __slots__ = ("consumer", "delivery_count", "delivery_time")

    def __init__(self, consumer: Consumer | None, delivery_time: int, count: int = 1) -> None:
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = count


class Pel:
    """IDs -> Nack, with ordered ranges. ``_order`` holds every ID of the dict (and maybe
    some removed ones) sorted, from ``_start`` on; it is compacted when half stale."""

    __slots__ = ("_order", "_start", "nacks")

    def __init__(self) -> None:
        self.nacks: dict[int, Nack] = {}
        self._order: list[int] = []
        self._start = 0

    def __len__(self) -> int:
        return len(self.nacks)

    def __contains__(self, entry_id: int) -> bool:
        return entry_id in self.nacks

    def get(self, entry_id: int) -> Nack | None:
        return self.nacks.get(entry_id)

    def add(self, entry_id: int, nack: Nack) -> None:
        nacks = self.nacks
        if entry_id in nacks:
            nacks[entry_id] = nack
            return
        nacks[entry_id] = nack
        order = self._order
        if not order or entry_id > order[-1]:
            order.append(entry_id)
            return
        position = bisect_left(order, entry_id, self._start)
        if position < len(order) and order[position] == entry_id:
            return  # still listed from before its removal
        if position == self._start and position:
            self._start -= 1
            order[self._start] = entry_id
        else:
            order.insert(position, entry_id)

    def remove(self, entry_id: int) -> Nack | None:
        nack = self.nacks.pop(entry_id, None)
        if nack is not None:
            order = self._order
            if order and order[-1] == entry_id:
                order.pop()
            elif len(order) - self._start > 2 * len(self.nacks) + 64:
                nacks = self.nacks
                self._order = [i for i in order[self._start :] if i in nacks]
                self._start = 0
        return nack

    def range(self, start: int = 0, end: int = MAX_ID) -> Iterator[tuple[int, Nack]]:
        """(ID, Nack) from ``start`` to ``end`` inclusive, in ID order. The PEL must not
        change while this runs (callers take a list first when they change it)."""
        order = self._order
        nacks = self.nacks
        index = bisect_left(order, start, self._start)
        while index < len(order):  # removals while iterating pop from the end
            entry_id = order[index]
            if entry_id > end:
                return
            nack = nacks.get(entry_id)
            if nack is not None:
                yield entry_id, nack
            index += 1

    def first(self) -> int | None:
        order = self._order
        nacks = self.nacks
        while self._start < len(order):
            entry_id = order[self._start]
            if entry_id in nacks:
                return entry_id
            self._start += 1
        return None

    def last(self) -> int | None:
        order = self._order
        nacks = self.nacks
        while len(order) > self._start:
            if order[-1] in nacks:
                return order[-1]
            order.pop()
        return None


class Consumer:
    __slots__ = ("name", "pel", "seen_time")

    def __init__(self, name: bytes, seen_time: int) -> None:
        self.name = name
        self.seen_time = seen_time
        self.pel = Pel()


class Group:
    __slots__ = ("consumers", "entries_read", "last_id", "pel")

    def __init__(self, last_id: int, entries_read: int) -> None:
        self.last_id = last_id
        self.entries_read = entries_read  # -1: not known
        self.pel = Pel()
        self.consumers: dict[bytes, Consumer] = {}


class Stream:
    """A stream value. It is never "empty" for the server's cleanup of emptied containers:
    a stream with no entries stays, as in Redis."""

    __slots__ = (
        "entries_added",
        "first_id",
        "groups",
        "heads",
        "last_id",
        "length",
        "max_deleted",
        "nodes",
        "signals",
    )

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.heads: list[int] = []  # each node's first ID (its radix tree key in Redis)
        self.length = 0
        self.last_id = 0
        self.first_id = 0  # the first live entry, 0 if none
        self.max_deleted = 0
        self.entries_added = 0
        self.groups: dict[bytes, Group] = {}
        self.signals = next_signal()  # changes at each change that wakes readers (XADD...)

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        return self.length

    # -- adding ------------------------------------------------------------------------------

    def append(
        self, entry_id: int, items: tuple[bytes, ...], max_entries: int, max_bytes: int
    ) -> None:
        """Add an entry (its ID above last_id, checked by the caller)."""
        fields = items[0::2]
        nodes = self.nodes
        node = nodes[-1] if nodes else None
        if node is not None:
            if max_bytes <= 0 or max_bytes > 1 << 30:
                max_bytes = 1 << 30
            total = sum(map(len, items))
            if node.listpack_bytes() + total >= max_bytes or (
                max_entries and len(node.ids) >= max_entries
            ):
                node = None
        if node is None:
            node = Node(fields)
            nodes.append(node)
            self.heads.append(entry_id)
            same = True
        else:
            same = node.fields == fields
        master = self.heads[-1]
        count = len(fields)
        size = (
            2  # flags
            + _int_size(_delta(entry_id >> 64, master >> 64))
            + _int_size(_delta(entry_id & U64, master & U64))
            + sum(map(_string_size, items[1::2]))
        )
        if same:
            size += _int_size(count + 3)
        else:
            size += _int_size(count) + sum(map(_string_size, fields)) + _int_size(2 * count + 4)
        node.size += size
        node.ids.append(entry_id)
        node.items.append(items)
        node.live += 1
        self.length += 1
        self.entries_added += 1
        self.last_id = entry_id
        if self.length == 1:
            self.first_id = entry_id

    # -- reading -----------------------------------------------------------------------------

    def range(
        self, start: int, end: int, count: int = 0, rev: bool = False
    ) -> list[tuple[int, tuple[bytes, ...]]]:
        """Live entries with start <= ID <= end, at most ``count`` (0: all)."""
        found: list[tuple[int, tuple[bytes, ...]]] = []
        if start > end or not self.nodes:
            return found
        nodes = self.nodes
        heads = self.heads
        if not rev:
            index = max(bisect_right(heads, start) - 1, 0)
            position = bisect_left(nodes[index].ids, start)
            while index < len(nodes):
                node = nodes[index]
                ids = node.ids
                size = len(ids)
                stop = size if ids[-1] <= end else bisect_right(ids, end, position)
                if count:
                    wanted = count - len(found)
                    if node.live == size and stop - position > wanted:
                        stop = position + wanted
                if node.live == size:  # no tombstones: whole slices
                    live = cast("list[tuple[bytes, ...]]", node.items[position:stop])
                    found += zip(ids[position:stop], live, strict=True)
                else:
                    items = node.items
                    for at in range(position, stop):
                        item = items[at]
                        if item is not None:
                            found.append((ids[at], item))
                            if len(found) == count:
                                return found
                if (count and len(found) >= count) or stop < size:
                    return found
                index += 1
                position = 0
            return found
        index = bisect_right(heads, end) - 1
        if index < 0:
            return found
        top = bisect_right(nodes[index].ids, end)
        while index >= 0:
            node = nodes[index]
            ids = node.ids
            bottom = 0 if ids[0] >= start else bisect_left(ids, start, 0, top)
            if count:
                wanted = count - len(found)
                if node.live == len(ids) and top - bottom > wanted:
                    bottom = top - wanted
            if node.live == len(ids):
                live = cast("list[tuple[bytes, ...]]", node.items[bottom:top])
                found += zip(reversed(ids[bottom:top]), reversed(live), strict=True)
            else:
                items = node.items
                for at in range(top - 1, bottom - 1, -1):
                    item = items[at]
                    if item is not None:
                        found.append((ids[at], item))
                        if len(found) == count:
                            return found
            if (count and len(found) >= count) or bottom > 0:
                return found
            index -= 1
            if index >= 0:
                top = len(nodes[index].ids)
        return found

    def get(self, entry_id: int) -> tuple[bytes, ...] | None:
        index = bisect_right(self.heads, entry_id) - 1
        if index < 0:
            return None
        node = self.nodes[index]
        position = bisect_left(node.ids, entry_id)
        if position < len(node.ids) and node.ids[position] == entry_id:
            return node.items[position]
        return None

    def first_live(self) -> int:
        """The first live entry's ID, or 0."""
        for node in self.nodes:
            if node.live:
                for entry_id, item in zip(node.ids, node.items, strict=True):
                    if item is not None:
                        return entry_id
        return 0

    def last_live(self) -> int:
        """The last live entry's ID, or 0."""
        for node in reversed(self.nodes):
            if node.live:
                for position in range(len(node.ids) - 1, -1, -1):
                    if node.items[position] is not None:
                        return node.ids[position]
        return 0

    def first_any(self) -> int:
        """The first entry's ID, tombstones included; MAX_ID if there is none (Redis's
        streamGetEdgeID with tombstones)."""
        return self.heads[0] if self.heads else MAX_ID

    def entries(self) -> Iterator[tuple[int, tuple[bytes, ...]]]:
        for node in self.nodes:
            for entry_id, item in zip(node.ids, node.items, strict=True):
                if item is not None:
                    yield entry_id, item

    # -- removing ----------------------------------------------------------------------------

    def delete(self, entry_id: int) -> bool:
        heads = self.heads
        index = bisect_right(heads, entry_id) - 1
        if index < 0:
            return False
        node = self.nodes[index]
        ids = node.ids
        position = bisect_left(ids, entry_id)
        if position == len(ids) or ids[position] != entry_id or node.items[position] is None:
            return False
        if node.live == 1:
            del self.nodes[index]
            del heads[index]
        else:
            node.items[position] = None
            node.live -= 1
        self.length -= 1
        return True

    def trim(self, maxlen: int | None, minid: int, approx: bool, limit: int) -> int:
        """Redis's streamTrim: by length (``maxlen``) or else below ``minid``; whole nodes
        first, then (unless ``approx``) entries of the next node. Returns how many went."""
        nodes = self.nodes
        deleted = 0
        index = 0
        while index < len(nodes):
            if maxlen is not None and self.length <= maxlen:
                break
            node = nodes[index]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if maxlen is not None:
                remove = self.length - entries >= maxlen
            else:
                remove = node.ids[-1] < minid
            if remove:
                self.length -= entries
                deleted += entries
                index += 1
                continue
            if approx:
                break
            ids = node.ids
            items = node.items
            removed = 0
            for position in range(len(ids)):
                if maxlen is not None:
                    if self.length <= maxlen:
                        break
                elif ids[position] >= minid:
                    break
                if items[position] is not None:
                    items[position] = None
                    removed += 1
                    self.length -= 1
            node.live -= removed
            deleted += removed
            break
        if index:
            del nodes[:index]
            del self.heads[:index]
        if self.length == 0:
            self.first_id = 0
        elif deleted:
            self.first_id = self.first_live()
        return deleted

    # -- groups ------------------------------------------------------------------------------

    def has_tombstones_from(self, start: int) -> bool:
        """Redis's streamRangeHasTombstones(start, +)."""
        deleted = self.max_deleted
        if not self.length or not deleted or self.first_id > deleted:
            return False
        return start <= deleted

    def estimate_read(self, entry_id: int) -> int:
        """Redis's streamEstimateDistanceFromFirstEverEntry: the entries-read counter of
        ``entry_id``, or -1 if it cannot be known."""
        if not self.entries_added:
            return 0
        if not self.length and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return -1
        if not self.max_deleted or self.max_deleted < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - self.length
            if entry_id == self.first_id:
                return self.entries_added - self.length + 1
        return -1

    def lag(self, group: Group) -> int | None:
        if not self.entries_added:
            return 0
        if group.entries_read != -1 and not self.has_tombstones_from(group.last_id):
            return self.entries_added - group.entries_read
        read = self.estimate_read(group.last_id)
        return None if read == -1 else self.entries_added - read

    # -- introspection -----------------------------------------------------------------------

    def radix_tree_nodes(self) -> int:
        """The node count of Redis's radix tree holding these nodes' keys (16-byte
        big-endian IDs): its compact form, computed from the longest common prefixes of
        neighbouring keys."""
        heads = self.heads
        count = len(heads)
        if count <= 1:
            return 1 + count
        common = [(128 - (a ^ b).bit_length()) // 8 for a, b in itertools.pairwise(heads)]
        extra = 0
        explicit = count  # the leaves
        for index in range(count):
            parent = max(
                common[index - 1] if index else -1, common[index] if index < count - 1 else -1
            )
            if 16 - parent >= 2:
                extra += 1
        stack: list[int] = []
        for depth in common:
            while stack and stack[-1] > depth:
                inner = stack.pop()
                parent = max(depth, stack[-1] if stack else -1)
                explicit += 1
                if inner - parent >= 2:
                    extra += 1
            if not stack or stack[-1] < depth:
                stack.append(depth)
        while stack:
            inner = stack.pop()
            if stack:
                explicit += 1
                if inner - stack[-1] >= 2:
                    extra += 1
            elif inner:  # the top branch below a root holding the common prefix
                explicit += 1
        return 1 + explicit + extra

    def __copy__(self) -> Stream:
        """A deep copy (COPY): entries are immutable tuples, shared."""
        clone = Stream()
        for node in self.nodes:
            twin = Node(node.fields)
            twin.ids = list(node.ids)
            twin.items = list(node.items)
            twin.live = node.live
            twin.size = node.size
            clone.nodes.append(twin)
        clone.heads = list(self.heads)
        clone.length = self.length
        clone.last_id = self.last_id
        clone.first_id = self.first_id
        clone.max_deleted = self.max_deleted
        clone.entries_added = self.entries_added
        for name, group in self.groups.items():
            copied = clone.groups[name] = Group(group.last_id, group.entries_read)
            for consumer in group.consumers.values():
                twin_consumer = Consumer(consumer.name, consumer.seen_time)
                copied.consumers[consumer.name] = twin_consumer
            for entry_id, nack in group.pel.range():
                owner = None
                if nack.consumer is not None:
                    owner = copied.consumers[nack.consumer.name]
                twin_nack = Nack(owner, nack.delivery_time, nack.delivery_count)
                copied.pel.add(entry_id, twin_nack)
                if owner is not None:
                    owner.pel.add(entry_id, twin_nack)
        return clone


TYPE_NAMES[Stream] = b"stream"


# -- snapshots -----------------------------------------------------------------------------------
# A stream in a snapshot record, all integers little-endian (IDs as two u64, ms then seq):
#   head     length u64 | last id | first id | max deleted id | entries added u64 | nodes u32
#   node     live u32 | size u64 | <strings> master fields | n u32 | n ids | n flags (1: live)
#            | u32 fields count per live entry | <strings> the live entries' items
#   groups   u32 count, each: <strings> [name] | last id | entries read i64 | <strings>
#            consumer names | one i64 seen time per consumer | u32 pending, each: id |
#            delivery time i64 | delivery count u64 | consumer index i32 (-1: none)
# where <strings> is u32 count | count x u32 lengths | the bytes.

_HEAD = struct.Struct("<Q6QQI")
_NODE = struct.Struct("<IQ")
_U32 = struct.Struct("<I")
_GROUP = struct.Struct("<QQq")
_NACK = struct.Struct("<QQqQi")
_BIG_ENDIAN = sys.byteorder == "big"
_U32_CODE = next(code for code in "IL" if array(code).itemsize == 4)


def _id_pair(value: int) -> tuple[int, int]:
    return value >> 64, value & U64


def _pack_strings(out: list[bytes], items: Sequence[bytes]) -> None:
    lengths = array(_U32_CODE, [len(item) for item in items])
    if _BIG_ENDIAN:
        lengths.byteswap()
    out.append(_U32.pack(len(items)))
    out.append(lengths.tobytes())
    out.append(b"".join(items))


def _pack_array(code: str, values: Sequence[int]) -> bytes:
    packed = array(code, values)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


def dump_stream(stream: Stream) -> bytes:
    out: list[bytes] = [
        _HEAD.pack(
            stream.length,
            *_id_pair(stream.last_id),
            *_id_pair(stream.first_id),
            *_id_pair(stream.max_deleted),
            stream.entries_added,
            len(stream.nodes),
        )
    ]
    for node in stream.nodes:
        out.append(_NODE.pack(node.live, node.size))
        _pack_strings(out, node.fields)
        out.append(_U32.pack(len(node.ids)))
        out.append(_pack_array("Q", [half for i in node.ids for half in _id_pair(i)]))
        out.append(bytes(item is not None for item in node.items))
        live = [item for item in node.items if item is not None]
        out.append(_pack_array(_U32_CODE, [len(item) for item in live]))
        _pack_strings(out, [part for item in live for part in item])
    out.append(_U32.pack(len(stream.groups)))
    for name, group in stream.groups.items():
        _pack_strings(out, [name])
        out.append(_GROUP.pack(*_id_pair(group.last_id), group.entries_read))
        consumers = list(group.consumers.values())
        index_of = {id(consumer): at for at, consumer in enumerate(consumers)}
        _pack_strings(out, [consumer.name for consumer in consumers])
        out.append(_pack_array("q", [consumer.seen_time for consumer in consumers]))
        pending = list(group.pel.range())
        out.append(_U32.pack(len(pending)))
        for entry_id, nack in pending:
            owner = -1 if nack.consumer is None else index_of[id(nack.consumer)]
            out.append(
                _NACK.pack(*_id_pair(entry_id), nack.delivery_time, nack.delivery_count, owner)
            )
    return b"".join(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        start = self.pos
        if size < 0 or start + size > len(self.data):
            raise ValueError("a stream record runs past its end")
        self.pos = start + size
        return self.data[start : self.pos]

    def unpack(self, layout: struct.Struct) -> tuple[Any, ...]:
        return layout.unpack(self.take(layout.size))

    def ints(self, code: str, count: int) -> array[int]:
        values = array(code)
        values.frombytes(self.take(values.itemsize * count))
        if _BIG_ENDIAN:
            values.byteswap()
        return values

    def strings(self) -> list[bytes]:
        (count,) = self.unpack(_U32)
        lengths = self.ints(_U32_CODE, count)
        blob = self.take(sum(lengths))
        items = []
        pos = 0
        for size in lengths:
            items.append(blob[pos : pos + size])
            pos += size
        return items


def load_stream(data: bytes) -> Stream:
    """The stream ``dump_stream`` wrote; ValueError if the bytes do not make one."""
    reader = _Reader(data)
    head = reader.unpack(_HEAD)
    stream = Stream()
    stream.length = head[0]
    stream.last_id = head[1] << 64 | head[2]
    stream.first_id = head[3] << 64 | head[4]
    stream.max_deleted = head[5] << 64 | head[6]
    stream.entries_added = head[7]
    for _ in range(head[8]):
        live, size = reader.unpack(_NODE)
        node = Node(tuple(reader.strings()))
        node.size = size
        (count,) = reader.unpack(_U32)
        halves = reader.ints("Q", 2 * count)
        node.ids = [halves[i] << 64 | halves[i + 1] for i in range(0, 2 * count, 2)]
        flags = reader.take(count)
        if sum(flags) != live or not live:
            raise ValueError("a stream node's live count does not match its entries")
        widths = reader.ints(_U32_CODE, live)
        parts = reader.strings()
        if sum(widths) != len(parts):
            raise ValueError("a stream node's entries do not match their fields")
        items: list[tuple[bytes, ...] | None] = []
        pos = 0
        widths_iter = iter(widths)
        for flag in flags:
            if flag:
                width = next(widths_iter)
                items.append(tuple(parts[pos : pos + width]))
                pos += width
            else:
                items.append(None)
        node.items = items
        node.live = live
        if any(b <= a for a, b in itertools.pairwise(node.ids)):
            raise ValueError("a stream node's IDs are not in order")
        if stream.heads and node.ids[0] <= stream.nodes[-1].ids[-1]:
            raise ValueError("stream nodes are not in order")
        stream.nodes.append(node)
        stream.heads.append(node.ids[0])
    if sum(node.live for node in stream.nodes) != stream.length:
        raise ValueError("a stream's length does not match its entries")
    (groups,) = reader.unpack(_U32)
    for _ in range(groups):
        names = reader.strings()
        if len(names) != 1:
            raise ValueError("a consumer group has no name")
        ms, seq, entries_read = reader.unpack(_GROUP)
        group = stream.groups[names[0]] = Group(ms << 64 | seq, entries_read)
        consumer_names = reader.strings()
        seen = reader.ints("q", len(consumer_names))
        consumers = [Consumer(name, time) for name, time in zip(consumer_names, seen, strict=True)]
        for consumer in consumers:
            group.consumers[consumer.name] = consumer
        (pending,) = reader.unpack(_U32)
        for _ in range(pending):
            ms, seq, delivered, times, owner = reader.unpack(_NACK)
            if not -1 <= owner < len(consumers):
                raise ValueError("a pending entry names no consumer")
            holder = consumers[owner] if owner >= 0 else None
            entry_id = ms << 64 | seq
            nack = Nack(holder, delivered, times)
            group.pel.add(entry_id, nack)
            if holder is not None:
                holder.pel.add(entry_id, nack)
    if reader.pos != len(data):
        raise ValueError("unexpected bytes after a stream")
    return stream


# -- AOF rewrite ---------------------------------------------------------------------------------


def rewrite_commands(key: bytes, stream: Stream) -> Iterator[list[bytes]]:
    """The commands that rebuild ``stream``, as Redis's rewriteStreamObject writes them:
    XADD per entry (or XADD MAXLEN 0 for an empty stream), XSETID with the counters, then
    per group XGROUP CREATE ... ENTRIESREAD, an XCLAIM ... FORCE per pending entry and
    XGROUP CREATECONSUMER for consumers with none."""
    if stream.length:
        for entry_id, item in stream.entries():
            yield [b"XADD", key, format_id(entry_id), *item]
    else:
        yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    yield [
        b"XSETID",
        key,
        format_id(stream.last_id),
        b"ENTRIESADDED",
        b"%d" % stream.entries_added,
        b"MAXDELETEDID",
        format_id(stream.max_deleted),
    ]
    for name, group in sorted(stream.groups.items()):
        yield [
            b"XGROUP",
            b"CREATE",
            key,
            name,
            format_id(group.last_id),
            b"ENTRIESREAD",
            b"%d" % group.entries_read,
        ]
        for consumer_name, consumer in sorted(group.consumers.items()):
            if not len(consumer.pel):
                yield [b"XGROUP", b"CREATECONSUMER", key, name, consumer_name]
                continue
            for entry_id, nack in consumer.pel.range():
                yield [
                    b"XCLAIM",
                    key,
                    name,
                    consumer_name,
                    b"0",
                    format_id(entry_id),
                    b"TIME",
                    b"%d" % nack.delivery_time,
                    b"RETRYCOUNT",
                    b"%d" % nack.delivery_count,
                    b"JUSTID",
                    b"FORCE",
                ]
