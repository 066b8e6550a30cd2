"""Values in Redis 7.0's RDB format: what DUMP writes and RESTORE reads.

Written as Redis 7.0 writes them, with the encoding Redis would pick (``keys.encoding``
decides, as OBJECT ENCODING): strings (integers of 32 bits as such, LZF beyond 20 bytes),
lists as RDB_TYPE_LIST_QUICKLIST_2 (listpack nodes of at most 8 kB, Redis's default
list-max-listpack-size -2), sets as an intset or RDB_TYPE_SET, hashes and sorted sets as a
listpack or RDB_TYPE_HASH / RDB_TYPE_ZSET_2, streams as RDB_TYPE_STREAM_LISTPACKS_2 (one
listpack per PulsarDS node, keyed by its master ID, with groups, consumers and PELs).

Read: all of those plus what 7.0 still loads: RDB_TYPE_LIST, RDB_TYPE_ZSET (doubles as
text), ziplists (lists, hashes, sorted sets), quicklists of ziplists, zipmaps, plain
quicklist nodes and RDB_TYPE_STREAM_LISTPACKS. Anything malformed raises ValueError
(RESTORE's "Bad data format"); unlike Redis without sanitize-dump-payload, every listpack is
read through, so a corrupt one is refused instead of loaded.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from .rdb import Reader, rdb_length, rdb_string
from .stream import U64, Consumer, Group, Nack, Node, Stream, _int_size
from .zset import ZSet, parse_double

__all__ = ["dump_value", "load_value"]

TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

_CONTAINER_PLAIN = 1
_CONTAINER_PACKED = 2
_LIST_NODE_BYTES = 8192  # list-max-listpack-size -2
_STREAM_DELETED = 1
_STREAM_SAMEFIELDS = 2
_DOUBLE = struct.Struct("<d")
_I64 = struct.Struct("<q")

Element = int | bytes  # a listpack element: an integer or a string, as stored


# -- listpacks (listpack.c) ---------------------------------------------------------------------


def _as_int(data: bytes) -> int | None:
    """lpStringToInt64: the integer a string is stored as, or None."""
    size = len(data)
    if not 0 < size < 21:
        return None
    digits = data[1:] if data[:1] == b"-" else data
    if not digits.isdigit() or not digits.isascii() or (digits[0] == 48 and data != b"0"):
        return None
    value = int(data)
    return value if -(1 << 63) <= value < 1 << 63 else None


def _backlen(size: int) -> bytes:
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes(
            (size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128, (size & 127) | 128)
        )
    return bytes(
        (
            size >> 28,
            ((size >> 21) & 127) | 128,
            ((size >> 14) & 127) | 128,
            ((size >> 7) & 127) | 128,
            (size & 127) | 128,
        )
    )


def _lp_int(value: int) -> bytes:
    if 0 <= value <= 127:
        encoded = bytes((value,))
    elif -4096 <= value <= 4095:
        value &= 0x1FFF
        encoded = bytes((0xC0 | value >> 8, value & 0xFF))
    elif -32768 <= value <= 32767:
        encoded = b"\xf1" + (value & 0xFFFF).to_bytes(2, "little")
    elif -8388608 <= value <= 8388607:
        encoded = b"\xf2" + (value & 0xFFFFFF).to_bytes(3, "little")
    elif -2147483648 <= value <= 2147483647:
        encoded = b"\xf3" + (value & 0xFFFFFFFF).to_bytes(4, "little")
    else:
        encoded = b"\xf4" + (value & U64).to_bytes(8, "little")
    return encoded + _backlen(len(encoded))


def _lp_element(value: Element) -> bytes:
    """One element as lpAppend stores it (a string that reads as an integer is one)."""
    if isinstance(value, int):
        return _lp_int(value)
    number = _as_int(value)
    if number is not None:
        return _lp_int(number)
    size = len(value)
    if size < 64:
        encoded = bytes((0x80 | size,)) + value
    elif size < 4096:
        encoded = bytes((0xE0 | size >> 8, size & 0xFF)) + value
    else:
        encoded = b"\xf0" + size.to_bytes(4, "little") + value
    return encoded + _backlen(len(encoded))


def _listpack(encoded: list[bytes]) -> bytes:
    total = 7 + sum(map(len, encoded))
    count = min(len(encoded), 65535)  # 65535: "count them" (LP_HDR_NUMELE_UNKNOWN)
    return total.to_bytes(4, "little") + count.to_bytes(2, "little") + b"".join(encoded) + b"\xff"


def _read_listpack(data: bytes) -> list[Element]:
    size = len(data)
    if size < 7 or int.from_bytes(data[:4], "little") != size or data[-1] != 0xFF:
        raise ValueError("bad listpack header")
    declared = int.from_bytes(data[4:6], "little")
    out: list[Element] = []
    pos = 6
    end = size - 1
    while pos < end:
        first = data[pos]
        start = pos
        if first < 0x80:
            value: Element = first
            pos += 1
        elif first < 0xC0:
            length = first & 0x3F
            value = data[pos + 1 : pos + 1 + length]
            pos += 1 + length
        elif first < 0xE0:
            raw = ((first & 0x1F) << 8) | data[pos + 1]
            value = raw - 8192 if raw >= 4096 else raw
            pos += 2
        elif first < 0xF0:
            length = ((first & 0x0F) << 8) | data[pos + 1]
            value = data[pos + 2 : pos + 2 + length]
            pos += 2 + length
        elif first == 0xF0:
            length = int.from_bytes(data[pos + 1 : pos + 5], "little")
            value = data[pos + 5 : pos + 5 + length]
            pos += 5 + length
        elif first <= 0xF4:
            width = (2, 3, 4, 8)[first - 0xF1]
            value = int.from_bytes(data[pos + 1 : pos + 1 + width], "little", signed=True)
            pos += 1 + width
        else:
            raise ValueError("bad listpack entry")
        pos += len(_backlen(pos - start))
        if pos > end:
            raise ValueError("a listpack entry runs past its end")
        out.append(value)
    if declared != 65535 and declared != len(out):
        raise ValueError("listpack count mismatch")
    return out


def _text(value: Element) -> bytes:
    return value if isinstance(value, bytes) else b"%d" % value


def _integer(value: Element) -> int:
    if isinstance(value, bytes):
        raise ValueError("a listpack string where an integer belongs")
    return value


# -- ziplists, intsets, zipmaps (read only) ----------------------------------------------------


def _read_ziplist(data: bytes) -> list[bytes]:
    size = len(data)
    if size < 11 or int.from_bytes(data[:4], "little") != size or data[-1] != 0xFF:
        raise ValueError("bad ziplist header")
    out: list[bytes] = []
    pos = 10
    end = size - 1
    while pos < end:
        pos += 5 if data[pos] == 0xFE else 1  # the previous entry's length
        if pos >= end:
            raise ValueError("a ziplist entry runs past its end")
        first = data[pos]
        kind = first >> 6
        if kind == 0:
            length = first & 0x3F
            out.append(data[pos + 1 : pos + 1 + length])
            pos += 1 + length
        elif kind == 1:
            length = ((first & 0x3F) << 8) | data[pos + 1]
            out.append(data[pos + 2 : pos + 2 + length])
            pos += 2 + length
        elif first == 0x80:
            length = int.from_bytes(data[pos + 1 : pos + 5], "big")
            out.append(data[pos + 5 : pos + 5 + length])
            pos += 5 + length
        else:
            widths = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}
            width = widths.get(first)
            if width is not None:
                raw = data[pos + 1 : pos + 1 + width]
                if len(raw) != width:
                    raise ValueError("a ziplist entry runs past its end")
                out.append(b"%d" % int.from_bytes(raw, "little", signed=True))
                pos += 1 + width
            elif 0xF1 <= first <= 0xFD:
                out.append(b"%d" % ((first & 0x0F) - 1))
                pos += 1
            else:
                raise ValueError("bad ziplist entry")
        if pos > end:
            raise ValueError("a ziplist entry runs past its end")
    return out


def _read_intset(data: bytes) -> list[int]:
    if len(data) < 8:
        raise ValueError("bad intset")
    width = int.from_bytes(data[:4], "little")
    count = int.from_bytes(data[4:8], "little")
    if width not in (2, 4, 8) or len(data) != 8 + width * count:
        raise ValueError("bad intset")
    return [
        int.from_bytes(data[at : at + width], "little", signed=True)
        for at in range(8, len(data), width)
    ]


def _intset(values: Iterable[int]) -> bytes:
    ordered = sorted(values)
    low, high = ordered[0], ordered[-1]
    width = 2 if -32768 <= low and high <= 32767 else 4
    if not (-(1 << 31) <= low and high < 1 << 31):
        width = 8
    return (
        width.to_bytes(4, "little")
        + len(ordered).to_bytes(4, "little")
        + b"".join(value.to_bytes(width, "little", signed=True) for value in ordered)
    )


def _read_zipmap(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 1  # the count byte
    while True:
        if pos >= len(data):
            raise ValueError("a zipmap runs past its end")
        if data[pos] == 0xFF:
            break
        for is_value in (False, True):
            first = data[pos]
            if first < 254:
                length = first
                pos += 1
            elif first == 254:
                length = int.from_bytes(data[pos + 1 : pos + 5], "little")
                pos += 5
            else:
                raise ValueError("bad zipmap entry")
            free = 0
            if is_value:
                free = data[pos]
                pos += 1
            out.append(data[pos : pos + length])
            pos += length + free
            if pos > len(data):
                raise ValueError("a zipmap runs past its end")
    return out


# -- writing ---------------------------------------------------------------------------------


def _list_nodes(items: Iterable[bytes]) -> Iterator[bytes]:
    """The listpacks of a quicklist: as many elements as fit in 8 kB (at least one)."""
    node: list[bytes] = []
    size = 7
    for item in items:
        encoded = _lp_element(item)
        if node and size + len(encoded) > _LIST_NODE_BYTES:
            yield _listpack(node)
            node, size = [], 7
        node.append(encoded)
        size += len(encoded)
    if node:
        yield _listpack(node)


def _score_element(score: float) -> Element:
    """A score as zzlInsertAt stores it: d2string's text (an integer for whole numbers)."""
    if score == 0.0:
        return 0  # the compact encoding keeps no -0 (see ZSet._compact_with)
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score.is_integer() and -(1 << 52) < score < 1 << 52:
        return int(score)
    return repr(score).encode()


def _id_bytes(entry_id: int) -> bytes:
    return entry_id.to_bytes(16, "big")  # ms then seq, big endian: the radix tree key


def _stream(stream: Stream) -> bytes:
    out = [rdb_length(len(stream.nodes))]
    for node, master in zip(stream.nodes, stream.heads, strict=True):
        fields = node.fields
        deleted = len(node.ids) - node.live
        encoded = [
            _lp_int(node.live),
            _lp_int(deleted),
            _lp_int(len(fields)),
            *map(_lp_element, fields),
            _lp_int(0),
        ]
        master_ms, master_seq = master >> 64, master & U64
        for entry_id, item in zip(node.ids, node.items, strict=True):
            ms = _signed(((entry_id >> 64) - master_ms) & U64)
            seq = _signed(((entry_id & U64) - master_seq) & U64)
            if item is None:
                # a tombstone's data is gone here: an entry of no fields, which Redis
                # skips as it skips any deleted entry
                encoded += [_lp_int(_STREAM_DELETED), _lp_int(ms), _lp_int(seq), _lp_int(0)]
                encoded.append(_lp_int(4))
            elif item[0::2] == fields:
                encoded += [_lp_int(_STREAM_SAMEFIELDS), _lp_int(ms), _lp_int(seq)]
                encoded += map(_lp_element, item[1::2])
                encoded.append(_lp_int(len(fields) + 3))
            else:
                encoded += [_lp_int(0), _lp_int(ms), _lp_int(seq), _lp_int(len(item) // 2)]
                encoded += map(_lp_element, item)
                encoded.append(_lp_int(len(item) + 4))
        out.append(rdb_string(_id_bytes(master)))
        out.append(rdb_string(_listpack(encoded)))
    out.append(rdb_length(stream.length))
    for value in (stream.last_id, stream.first_id, stream.max_deleted):
        out += [rdb_length(value >> 64), rdb_length(value & U64)]
    out.append(rdb_length(stream.entries_added))
    out.append(rdb_length(len(stream.groups)))
    for name, group in sorted(stream.groups.items()):
        out.append(rdb_string(name))
        out += [rdb_length(group.last_id >> 64), rdb_length(group.last_id & U64)]
        out.append(rdb_length(group.entries_read & U64))  # -1 as Redis's uint64
        pending = list(group.pel.range())
        out.append(rdb_length(len(pending)))
        for entry_id, nack in pending:
            out.append(_id_bytes(entry_id))
            out.append(_I64.pack(nack.delivery_time))
            out.append(rdb_length(nack.delivery_count))
        out.append(rdb_length(len(group.consumers)))
        for consumer_name, consumer in sorted(group.consumers.items()):
            out.append(rdb_string(consumer_name))
            out.append(_I64.pack(consumer.seen_time))
            owned = [entry_id for entry_id, _ in consumer.pel.range()]
            out.append(rdb_length(len(owned)))
            out += map(_id_bytes, owned)
    return b"".join(out)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def dump_value(value: Any) -> bytes:
    """The type byte and the value, as rdbSaveObjectType and rdbSaveObject write them."""
    from .commands.keys import encoding  # the command families import this module

    kind = type(value)
    if kind is bytes:
        return bytes((TYPE_STRING,)) + rdb_string(value)
    if kind is deque:
        nodes = list(_list_nodes(value))
        return (
            bytes((TYPE_LIST_QUICKLIST_2,))
            + rdb_length(len(nodes))
            + b"".join(rdb_length(_CONTAINER_PACKED) + rdb_string(node) for node in nodes)
        )
    if kind is set:
        if encoding(value) == b"intset":
            return bytes((TYPE_SET_INTSET,)) + rdb_string(_intset(map(int, value)))
        return (
            bytes((TYPE_SET,))
            + rdb_length(len(value))
            + b"".join(rdb_string(member) for member in value)
        )
    if kind is dict:
        if encoding(value) == b"listpack":
            packed = _listpack([_lp_element(part) for pair in value.items() for part in pair])
            return bytes((TYPE_HASH_LISTPACK,)) + rdb_string(packed)
        return (
            bytes((TYPE_HASH,))
            + rdb_length(len(value))
            + b"".join(rdb_string(field) + rdb_string(text) for field, text in value.items())
        )
    if kind is ZSet:
        if encoding(value) == b"listpack":
            packed = _listpack(
                [
                    element
                    for score, member in value.order
                    for element in (_lp_element(member), _lp_element(_score_element(score)))
                ]
            )
            return bytes((TYPE_ZSET_LISTPACK,)) + rdb_string(packed)
        return (
            bytes((TYPE_ZSET_2,))
            + rdb_length(len(value))
            + b"".join(
                rdb_string(member) + _DOUBLE.pack(score) for score, member in reversed(value.order)
            )
        )
    if kind is Stream:
        return bytes((TYPE_STREAM_LISTPACKS_2,)) + _stream(value)
    raise TypeError(f"no RDB form for {kind.__name__}")


# -- reading ---------------------------------------------------------------------------------


def _pairs(items: list[bytes]) -> dict[bytes, bytes]:
    if len(items) % 2:
        raise ValueError("an odd number of hash elements")
    result = dict(zip(items[0::2], items[1::2], strict=True))
    if len(result) != len(items) // 2:
        raise ValueError("duplicate hash fields")
    return result


def _score(text: bytes) -> float:
    value = parse_double(text)
    if value is None:
        raise ValueError("bad score")
    return value


def _zset(pairs: Iterable[tuple[bytes, float]], count: int) -> ZSet:
    scores: dict[bytes, float] = {}
    for member, score in pairs:
        if math.isnan(score):
            raise ValueError("a NaN score")
        scores[member] = score
    if len(scores) != count:
        raise ValueError("duplicate sorted set members")
    return ZSet.from_scores(scores)


def _old_double(reader: Reader) -> float:
    """rdbLoadDoubleValue (RDB_TYPE_ZSET): a length byte, 253-255 for nan/inf/-inf."""
    size = reader.byte()
    if size == 253:
        return math.nan
    if size == 254:
        return math.inf
    if size == 255:
        return -math.inf
    return _score(reader.take(size))


def _nonempty(value: Any) -> Any:
    if not value:
        raise ValueError("an empty key")  # Redis's RDB_LOAD_ERR_EMPTY_KEY
    return value


def load_value(reader: Reader) -> Any:
    """The value after its type byte (rdbLoadObjectType + rdbLoadObject)."""
    kind = reader.byte()
    if kind == TYPE_STRING:
        return reader.string()
    if kind == TYPE_LIST:
        count = reader.length()
        return _nonempty(deque(reader.string() for _ in range(count)))
    if kind in (TYPE_LIST_QUICKLIST, TYPE_LIST_QUICKLIST_2):
        items: deque[bytes] = deque()
        for _ in range(reader.length()):
            container = _CONTAINER_PACKED
            if kind == TYPE_LIST_QUICKLIST_2:
                container = reader.length()
                if container not in (_CONTAINER_PACKED, _CONTAINER_PLAIN):
                    raise ValueError("bad quicklist container")
            data = reader.string()
            if not data:
                raise ValueError("an empty quicklist node")
            if container == _CONTAINER_PLAIN:
                items.append(data)
            elif kind == TYPE_LIST_QUICKLIST_2:
                items.extend(map(_text, _read_listpack(data)))
            else:
                items.extend(_read_ziplist(data))
        return _nonempty(items)
    if kind == TYPE_LIST_ZIPLIST:
        return _nonempty(deque(_read_ziplist(reader.string())))
    if kind == TYPE_SET:
        count = reader.length()
        members = {reader.string() for _ in range(count)}
        if len(members) != count:
            raise ValueError("duplicate set members")
        return _nonempty(members)
    if kind == TYPE_SET_INTSET:
        values = _read_intset(reader.string())
        members = {b"%d" % value for value in values}
        if len(members) != len(values):
            raise ValueError("duplicate set members")
        return _nonempty(members)
    if kind == TYPE_HASH:
        count = reader.length()
        return _nonempty(_pairs([reader.string() for _ in range(2 * count)]))
    if kind == TYPE_HASH_LISTPACK:
        return _nonempty(_pairs([_text(e) for e in _read_listpack(reader.string())]))
    if kind == TYPE_HASH_ZIPLIST:
        return _nonempty(_pairs(_read_ziplist(reader.string())))
    if kind == TYPE_HASH_ZIPMAP:
        return _nonempty(_pairs(_read_zipmap(reader.string())))
    if kind in (TYPE_ZSET, TYPE_ZSET_2):
        count = reader.length()
        pairs = []
        for _ in range(count):
            member = reader.string()
            if kind == TYPE_ZSET_2:
                score = _DOUBLE.unpack(reader.take(8))[0]
            else:
                score = _old_double(reader)
            pairs.append((member, score))
        return _nonempty(_zset(pairs, count))
    if kind in (TYPE_ZSET_LISTPACK, TYPE_ZSET_ZIPLIST):
        data = reader.string()
        flat = (
            [_text(e) for e in _read_listpack(data)]
            if kind == TYPE_ZSET_LISTPACK
            else _read_ziplist(data)
        )
        if len(flat) % 2:
            raise ValueError("an odd number of sorted set elements")
        pairs = [(flat[i], _score(flat[i + 1])) for i in range(0, len(flat), 2)]
        return _nonempty(_zset(pairs, len(pairs)))
    if kind in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2):
        return _load_stream(reader, kind == TYPE_STREAM_LISTPACKS_2)
    raise ValueError(f"unknown RDB type {kind}")


class _Elements:
    """A stream listpack's elements read in order; ValueError past the end."""

    __slots__ = ("items", "pos")

    def __init__(self, items: list[Element]) -> None:
        self.items = items
        self.pos = 0

    def next(self) -> Element:
        if self.pos >= len(self.items):
            raise ValueError("a stream listpack ends early")
        self.pos += 1
        return self.items[self.pos - 1]

    def integer(self) -> int:
        return _integer(self.next())

    def texts(self, count: int) -> tuple[bytes, ...]:
        if count < 0 or self.pos + count > len(self.items):
            raise ValueError("a stream listpack ends early")
        self.pos += count
        return tuple(map(_text, self.items[self.pos - count : self.pos]))


def _load_node(stream: Stream, master: int, data: bytes) -> None:
    elements = _read_listpack(data)
    if not elements:
        raise ValueError("an empty listpack in a stream")
    it = _Elements(elements)
    live = it.integer()
    deleted = it.integer()
    fields = it.texts(it.integer())
    if it.integer() != 0:
        raise ValueError("no master entry terminator")
    node = Node(fields)
    master_ms, master_seq = master >> 64, master & U64
    for _ in range(live + deleted):
        flags = it.integer()
        ms = (master_ms + it.integer()) & U64
        seq = (master_seq + it.integer()) & U64
        if flags & _STREAM_SAMEFIELDS:
            values = it.texts(len(fields))
            item = tuple(part for pair in zip(fields, values, strict=True) for part in pair)
            expected = len(fields) + 3
        else:
            count = it.integer()
            item = it.texts(2 * count)
            expected = 2 * count + 4
        if it.integer() != expected:
            raise ValueError("a stream entry's element count is wrong")
        node.ids.append(ms << 64 | seq)
        node.items.append(None if flags & _STREAM_DELETED else item)
    if it.pos != len(elements):
        raise ValueError("unexpected elements after a stream node's entries")
    node.live = sum(item is not None for item in node.items)
    if node.live != live or not node.ids or node.ids[0] != master:
        raise ValueError("a stream node does not match its header")
    if any(b <= a for a, b in zip(node.ids, node.ids[1:], strict=False)):
        raise ValueError("a stream node's IDs are not in order")
    if stream.nodes and node.ids[0] <= stream.nodes[-1].ids[-1]:
        raise ValueError("stream nodes are not in order")
    if not live:
        return  # Redis drops a node once its last entry is deleted: none to keep here
    # the listpack's real size, less the two counters ``Node.size`` leaves out
    node.size = len(data) - _int_size(live) - _int_size(deleted)
    stream.nodes.append(node)
    stream.heads.append(master)


def _u64_id(reader: Reader) -> int:
    ms = reader.length()
    seq = reader.length()
    if ms > U64 or seq > U64:
        raise ValueError("a stream ID out of range")
    return ms << 64 | seq


def _load_stream(reader: Reader, v2: bool) -> Stream:
    stream = Stream()
    for _ in range(reader.length()):
        key = reader.string()
        if len(key) != 16:
            raise ValueError("a stream node key is not an ID")
        _load_node(stream, int.from_bytes(key, "big"), reader.string())
    stream.length = reader.length()
    if stream.length != sum(node.live for node in stream.nodes):
        raise ValueError("a stream's length does not match its entries")
    stream.last_id = _u64_id(reader)
    if v2:
        stream.first_id = _u64_id(reader)
        stream.max_deleted = _u64_id(reader)
        stream.entries_added = reader.length()
    else:
        stream.first_id = stream.first_live()
        stream.entries_added = stream.length
    for _ in range(reader.length()):
        name = reader.string()
        if name in stream.groups:
            raise ValueError("duplicate consumer groups")
        last_id = _u64_id(reader)
        entries_read = _signed(reader.length()) if v2 else stream.estimate_read(last_id)
        group = stream.groups[name] = Group(last_id, entries_read)
        nacks: dict[int, Nack] = {}
        for _ in range(reader.length()):
            entry_id = int.from_bytes(reader.take(16), "big")
            delivery_time = _I64.unpack(reader.take(8))[0]
            nack = Nack(None, delivery_time, reader.length())
            if entry_id in nacks:
                raise ValueError("duplicate pending entries")
            nacks[entry_id] = nack
            group.pel.add(entry_id, nack)
        for _ in range(reader.length()):
            consumer_name = reader.string()
            if consumer_name in group.consumers:
                raise ValueError("duplicate consumers")
            consumer = Consumer(consumer_name, _I64.unpack(reader.take(8))[0])
            group.consumers[consumer_name] = consumer
            for _ in range(reader.length()):
                entry_id = int.from_bytes(reader.take(16), "big")
                found = nacks.get(entry_id)
                if found is None or found.consumer is not None:
                    raise ValueError("a consumer's pending entry is not the group's")
                found.consumer = consumer
                consumer.pel.add(entry_id, found)
    return stream
