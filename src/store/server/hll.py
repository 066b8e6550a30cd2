"""Redis's HyperLogLog string format and algorithms (``hyperloglog.c``, Redis 7.0), so that
a value made by either server is read by the other, byte for byte the same after the
same additions.

A value is a 16-byte header (``HYLL``, the encoding, 3 unused bytes, the cached
cardinality in 8 little-endian bytes whose top bit marks it stale) then the registers:
dense (16384 6-bit registers packed LSB first, 12288 bytes) or sparse (opcodes ZERO
``00xxxxxx``, XZERO ``01xxxxxx yyyyyyyy`` and VAL ``1vvvvvxx``). Elements are hashed
with MurmurHash64A (seed 0xadc83b19). Sans-IO: the commands are in
``commands/hyperloglog.py``.

The hot loops work on whole values at once where Python allows it: a dense value's
registers are unpacked into one byte per register with big-integer bit operations (not
16384 Python steps), histograms are counted with ``bytes.count`` and register maxima
are taken lane-wise on big integers.
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate
from operator import itemgetter

__all__ = [
    "DENSE",
    "DENSE_SIZE",
    "HEADER",
    "REGISTERS",
    "SPARSE",
    "Corrupt",
    "HyperLogLog",
    "cardinality",
    "count_raw",
    "empty",
    "is_hll",
    "merge_into",
    "murmur64a",
]

P = 14
REGISTERS = 1 << P
P_MASK = REGISTERS - 1
Q = 64 - P
HEADER = 16
DENSE_SIZE = HEADER + REGISTERS * 6 // 8
DENSE, SPARSE = 0, 1
SEED = 0xADC83B19
ALPHA_INF = 0.721347520444481703680
VAL_MAX_VALUE = 32
VAL_MAX_LEN = 4
ZERO_MAX_LEN = 64
XZERO_MAX_LEN = 16384
_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1
_STALE = 0x80
_Q_BIT = 1 << Q

# ops of the sparse model: (kind, value, length, the opcode's bytes)
ZERO, XZERO, VAL = 0, 1, 2
Op = tuple[int, int, int, bytes]


class Corrupt(Exception):
    """The sparse registers are not a valid representation (INVALIDOBJ)."""


def murmur64a(data: bytes, seed: int = SEED) -> int:
    """Redis's endian-neutral MurmurHash64A."""
    length = len(data)
    h = (seed ^ (length * _M)) & _MASK
    whole = length & ~7
    if whole:
        for k in struct.unpack_from(f"<{whole >> 3}Q", data):
            k = (k * _M) & _MASK
            k ^= k >> 47
            h ^= (k * _M) & _MASK
            h = (h * _M) & _MASK
    if length & 7:
        h ^= int.from_bytes(data[whole:], "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """hllPatLen: (register index, length of the 000..1 run)."""
    h = murmur64a(element)
    rest = (h >> P) | _Q_BIT
    return h & P_MASK, (rest & -rest).bit_length()


def empty() -> bytes:
    """createHLLObject: a sparse value of one XZERO per 16384 registers, cache valid 0."""
    return b"HYLL\x01" + bytes(11) + b"\x7f\xff"


def is_hll(value: bytes) -> bool:
    """isHLLObjectOrReply's checks of the string itself."""
    if len(value) < HEADER or value[:4] != b"HYLL" or value[4] > SPARSE:
        return False
    return value[4] != DENSE or len(value) == DENSE_SIZE


# -- dense registers ---------------------------------------------------------------------------

_LANES = REGISTERS // 4  # four registers per three bytes
_ONES = int.from_bytes(b"\x01" * _LANES, "little")
_ONES_ALL = int.from_bytes(b"\x01" * REGISTERS, "little")
_M63, _M3, _M15 = 63 * _ONES, 3 * _ONES, 15 * _ONES


def _planes(registers: bytes | bytearray | memoryview) -> tuple[int, int, int, int]:
    """Registers 4j, 4j+1, 4j+2 and 4j+3 of the packed array, each set a big integer of
    one byte per register (three bytes hold four registers)."""
    data = bytes(registers)
    b0 = int.from_bytes(data[0::3], "little")
    b1 = int.from_bytes(data[1::3], "little")
    b2 = int.from_bytes(data[2::3], "little")
    planes = (
        b0 & _M63,
        ((b0 >> 6) & _M3) | ((b1 & _M15) << 2),
        ((b1 >> 4) & _M15) | ((b2 & _M3) << 4),
        (b2 >> 2) & _M63,
    )
    return planes


def unpack_dense(registers: bytes | bytearray | memoryview) -> bytes:
    """12288 bytes of packed registers -> 16384 bytes, one register each."""
    out = bytearray(REGISTERS)
    for lane, plane in enumerate(_planes(registers)):
        out[lane::4] = plane.to_bytes(_LANES, "little")
    return bytes(out)


def pack_dense(raw: bytes | bytearray) -> bytes:
    """16384 registers of a byte each (each < 64) -> 12288 packed bytes."""
    r0, r1, r2, r3 = (int.from_bytes(raw[lane::4], "little") for lane in range(4))
    b0 = r0 | ((r1 & _M3) << 6)
    b1 = ((r1 >> 2) & _M15) | ((r2 & _M15) << 4)
    b2 = ((r2 >> 4) & _M3) | (r3 << 2)
    out = bytearray(DENSE_SIZE - HEADER)
    out[0::3] = b0.to_bytes(_LANES, "little")
    out[1::3] = b1.to_bytes(_LANES, "little")
    out[2::3] = b2.to_bytes(_LANES, "little")
    return bytes(out)


_HIGH = 0x80 * _ONES_ALL
_ALL = 0xFF * _ONES_ALL


def max_raw(a: bytes, b: bytes) -> bytes:
    """The lane-wise maximum of two 16384-byte register arrays (values < 128)."""
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    keep_x = (((x | _HIGH) - y) & _HIGH) >> 7  # 1 in the lanes where x >= y
    mask = keep_x * 0xFF
    return ((x & mask) | (y & (_ALL ^ mask))).to_bytes(REGISTERS, "little")


# -- sparse registers --------------------------------------------------------------------------


_TOKEN = re.compile(rb"[\x40-\x7f][\x00-\xff]|[\x00-\xff]")


class _TokenOps(dict[bytes, Op]):
    """An opcode's bytes -> its Op, filled as tokens are met."""

    def __missing__(self, token: bytes) -> Op:
        byte = token[0]
        if byte & 0x80:
            op = _val(((byte >> 2) & 0x1F) + 1, (byte & 3) + 1)
        elif byte & 0x40:
            # a cut XZERO at the very end reads a zero second byte, as Redis reads the
            # string's terminator
            low = token[1] if len(token) > 1 else 0
            op = _xzero((((byte & 0x3F) << 8) | low) + 1)
        else:
            op = _ZEROS[byte + 1]
        self[token] = op
        return op


def _xzero(length: int) -> Op:
    return (XZERO, 0, length, bytes((((length - 1) >> 8) | 0x40, (length - 1) & 0xFF)))


_VALS: dict[tuple[int, int], Op] = {
    (value, length): (VAL, value, length, bytes((0x80 | ((value - 1) << 2) | (length - 1),)))
    for value in range(1, VAL_MAX_VALUE + 1)
    for length in range(1, VAL_MAX_LEN + 1)
}
_ZEROS: list[Op] = [(ZERO, 0, 0, b"")] + [
    (ZERO, 0, length, bytes((length - 1,))) for length in range(1, ZERO_MAX_LEN + 1)
]
_BYTES_OF = itemgetter(3)


def _val(value: int, length: int) -> Op:
    return _VALS[value, length]


_TOKEN_OPS = _TokenOps()
_LENGTH = itemgetter(2)


def parse_sparse(data: bytes | bytearray | memoryview) -> list[Op]:
    """The opcodes after the header, as (kind, value, length)."""
    return list(map(_TOKEN_OPS.__getitem__, _TOKEN.findall(bytes(data))))


def encode_sparse(ops: Iterable[Op]) -> bytes:
    return b"".join(map(_BYTES_OF, ops))


def sparse_to_raw(ops: Iterable[Op]) -> bytes:
    """hllSparseToDense's reading: the registers, or Corrupt when the runs do not cover
    exactly 16384 registers."""
    raw = bytearray(REGISTERS)
    index = 0
    for kind, value, length, _ in ops:
        if kind == VAL:
            if index + length > REGISTERS:
                raise Corrupt
            raw[index : index + length] = bytes((value,)) * length
        index += length
    if index != REGISTERS:
        raise Corrupt
    return bytes(raw)


def _zero_op(length: int) -> Op:
    return _xzero(length) if length > ZERO_MAX_LEN else _ZEROS[length]


class HyperLogLog:
    """A value being changed: the header, then either the sparse opcodes (with the first
    register of each, which no edit moves) or the packed dense registers (plus one zero
    byte, as Redis reads past the last register into the string's terminator)."""

    __slots__ = ("header", "max_bytes", "ops", "packed", "short", "size", "starts")

    def __init__(self, value: bytes, max_bytes: int) -> None:
        self.header = bytearray(value[:HEADER])
        self.max_bytes = max_bytes
        self.packed: bytearray | None = None
        self.ops: list[Op] = []
        self.starts: list[int] = []
        self.size = len(value)
        # a value ending in half an XZERO: Redis reads its terminator as the second byte
        # and keeps the string one byte shorter than the opcodes it writes
        self.short = 0
        if value[4] == DENSE:
            self.packed = bytearray(value)
            del self.packed[:HEADER]
            self.packed.append(0)
        else:
            self.ops = parse_sparse(memoryview(value)[HEADER:])
            last = value[-1] if len(value) > HEADER else 0
            if self.ops and self.ops[-1][0] == XZERO and 0x40 <= last < 0x80:
                self.short = int(len(_TOKEN.findall(value, HEADER)[-1]) == 1)
            self.starts = list(accumulate(map(_LENGTH, self.ops), initial=0))
            self.starts.pop()

    @property
    def dense(self) -> bool:
        return self.packed is not None

    def registers(self) -> bytes:
        """The dense registers, one byte each."""
        assert self.packed is not None
        return unpack_dense(memoryview(self.packed)[:-1])

    def set_registers(self, raw: bytes) -> None:
        self.packed = bytearray(pack_dense(raw))
        self.packed.append(0)

    def invalidate(self) -> None:
        self.header[15] |= _STALE

    def value(self) -> bytes:
        if self.packed is not None:
            return bytes(self.header) + memoryview(self.packed)[:-1]
        encoded = encode_sparse(self.ops)
        return bytes(self.header) + (encoded[: len(encoded) - self.short])

    def to_dense(self) -> None:
        """hllSparseToDense (Corrupt if invalid). The header is kept, cache included."""
        if self.packed is not None:
            return
        self.set_registers(sparse_to_raw(self.ops))
        self.header[4] = DENSE
        self.ops, self.starts = [], []
        self.size = DENSE_SIZE
        self.short = 0

    def add_many(self, elements: Iterable[bytes]) -> int:
        """PFADD's loop: how many registers changed. Corrupt once the sparse registers
        are found invalid (earlier changes stay, as in Redis)."""
        updated = 0
        mask, m, q_bit = _MASK, _M, _Q_BIT
        unpack = struct.unpack_from
        for element in elements:
            # murmur64a and pattern, inlined: this is the per-element cost of PFADD
            length = len(element)
            h = (SEED ^ (length * m)) & mask
            whole = length & ~7
            if whole:
                for k in unpack(f"<{whole >> 3}Q", element):
                    k = (k * m) & mask
                    k ^= k >> 47
                    h ^= (k * m) & mask
                    h = (h * m) & mask
            if length & 7:
                h ^= int.from_bytes(element[whole:], "little")
                h = (h * m) & mask
            h ^= h >> 47
            h = (h * m) & mask
            h ^= h >> 47
            rest = (h >> P) | q_bit
            count = (rest & -rest).bit_length()
            packed = self.packed
            if packed is not None:
                # HLL_DENSE_GET_REGISTER / HLL_DENSE_SET_REGISTER on two bytes at once
                bit = (h & P_MASK) * 6
                byte = bit >> 3
                shift = bit & 7
                pair = packed[byte] | (packed[byte + 1] << 8)
                if count > (pair >> shift) & 63:
                    pair = (pair & ~(63 << shift)) | (count << shift)
                    packed[byte] = pair & 255
                    packed[byte + 1] = pair >> 8
                    updated += 1
            elif self.sparse_set(h & P_MASK, count):
                updated += 1
        return updated

    def set_register(self, index: int, count: int) -> bool:
        packed = self.packed
        if packed is not None:
            bit = index * 6
            byte = bit >> 3
            shift = bit & 7
            pair = packed[byte] | (packed[byte + 1] << 8)
            if count > (pair >> shift) & 63:
                pair = (pair & ~(63 << shift)) | (count << shift)
                packed[byte] = pair & 255
                packed[byte + 1] = pair >> 8
                return True
            return False
        return self.sparse_set(index, count)

    def sparse_set(self, index: int, count: int) -> bool:
        """hllSparseSet: True if the register grew. May promote the value to dense."""
        if count > VAL_MAX_VALUE:
            return self._promote(index, count)
        ops, starts = self.ops, self.starts
        at = bisect_right(starts, index) - 1
        if at < 0 or at >= len(ops):
            raise Corrupt
        kind, value, length, _ = ops[at]
        first = starts[at]
        if index > first + length - 1:
            raise Corrupt  # past the registers the opcodes cover
        if kind == VAL:
            if value >= count:
                return False
            if length == 1:
                ops[at] = _VALS[count, 1]
                self._merge(at)
                return True
        elif kind == ZERO and length == 1:
            ops[at] = _VALS[count, 1]
            self._merge(at)
            return True
        last = first + length - 1
        seq: list[Op] = []
        seq_starts: list[int] = []
        if kind != VAL:
            if index != first:
                seq.append(_zero_op(index - first))
                seq_starts.append(first)
            seq.append(_VALS[count, 1])
            seq_starts.append(index)
            if index != last:
                seq.append(_zero_op(last - index))
                seq_starts.append(index + 1)
        else:
            if index != first:
                seq.append(_VALS[value, index - first])
                seq_starts.append(first)
            seq.append(_VALS[count, 1])
            seq_starts.append(index)
            if index != last:
                seq.append(_VALS[value, last - index])
                seq_starts.append(index + 1)
        seq_bytes = sum(len(op[3]) for op in seq)
        delta = seq_bytes - (2 if kind == XZERO else 1)
        if delta > 0 and self.size + delta > self.max_bytes:
            return self._promote(index, count)
        was_last = at == len(ops) - 1
        ops[at : at + 1] = seq
        starts[at : at + 1] = seq_starts
        self.size += delta
        if self.short:
            self._resized(was_last)
        self._merge(at)
        return True

    def _resized(self, rewrote_end: bool) -> None:
        """The string stays one byte shorter than its opcodes. Each resize writes a zero
        terminator after it (sdsIncrLen), which the last XZERO then reads as its second
        byte, unless the new opcodes were copied over it (``rewrote_end``); a one-byte
        opcode written past the end is not part of the string."""
        ops = self.ops
        kind, _, length, _ = ops[-1]
        if kind != XZERO:
            if rewrote_end:
                ops.pop()
                self.starts.pop()
                self.short = 0
            return
        if not rewrote_end:
            ops[-1] = _xzero(((length - 1) & 0x3F00) + 1)

    def _merge(self, at: int) -> None:
        """Step 4 of hllSparseSet: merge adjacent equal VALs, scanning up to 5 opcodes
        from the one before the changed one; then invalidate the cache."""
        ops, starts = self.ops, self.starts
        p = at - 1 if at > 0 else 0
        scan = 5
        while p < len(ops) and scan:
            scan -= 1
            kind, value, length, _ = ops[p]
            if kind != VAL:
                p += 1
                continue
            if p + 1 < len(ops):
                kind2, value2, length2, _ = ops[p + 1]
                if kind2 == VAL and value2 == value and length + length2 <= VAL_MAX_LEN:
                    ops[p] = _VALS[value, length + length2]
                    del ops[p + 1]
                    del starts[p + 1]
                    self.size -= 1
                    if self.short:
                        self._resized(False)
                    continue
            p += 1
        self.invalidate()

    def _promote(self, index: int, count: int) -> bool:
        self.to_dense()
        self.set_register(index, count)
        return True


# The parsed state of the values last written, by identity: the next PFADD or PFMERGE
# of a key starts from its value's opcodes instead of parsing the string again. A value
# is immutable bytes and the entry holds it, so an identity match is the same value.
_STATES: dict[int, tuple[bytes, HyperLogLog]] = {}
_STATES_KEPT = 32


def load(value: bytes, max_bytes: int) -> HyperLogLog:
    """The value's state to change (taken out of the cache: whoever changes it stores it)."""
    entry = _STATES.pop(id(value), None)
    if entry is not None and entry[0] is value:
        state = entry[1]
        state.max_bytes = max_bytes
        return state
    return HyperLogLog(value, max_bytes)


def store(state: HyperLogLog) -> bytes:
    """The state's value, with the state kept for the next change of that value."""
    value = state.value()
    if not state.short:
        remember(value, state)
    return value


def remember(value: bytes, state: HyperLogLog) -> None:
    _STATES[id(value)] = (value, state)
    while len(_STATES) > _STATES_KEPT:
        del _STATES[next(iter(_STATES))]


def recached(old: bytes, new: bytes) -> None:
    """``new`` is ``old`` with another header (PFCOUNT's cache): keep its state."""
    entry = _STATES.pop(id(old), None)
    if entry is not None and entry[0] is old:
        entry[1].header[:] = new[:HEADER]
        remember(new, entry[1])


# -- counting ----------------------------------------------------------------------------------


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prime = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if z_prime == z:
            return z / 3


def estimate(histogram: list[int]) -> int:
    """hllCount's estimate from the register histogram (Ertl's improved estimator), as
    the uint64_t it returns."""
    m = float(REGISTERS)
    z = m * _tau((m - histogram[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    if z == 0:  # every register past the histogram: llroundl(inf) is LLONG_MIN
        return 1 << 63
    e = ALPHA_INF * m * m / z
    whole = math.floor(e)
    return int(whole) + (1 if e - whole >= 0.5 else 0)  # llroundl: halves away from 0


def raw_histogram(raw: bytes | bytearray) -> list[int]:
    histogram = [0] * 64
    remaining = len(raw)
    for value in range(64):
        if value in raw:  # a memchr: cheaper than counting a value that is absent
            found = raw.count(value)
            histogram[value] = found
            remaining -= found
            if not remaining:
                break
    return histogram


def count_raw(raw: bytes | bytearray) -> int:
    return estimate(raw_histogram(raw))


def cardinality(value: bytes) -> int:
    """hllCount of a value (Corrupt if its sparse registers are invalid)."""
    if value[4] == DENSE:
        # the histogram needs the registers, not their order: the planes end to end
        p0, p1, p2, p3 = _planes(memoryview(value)[HEADER:])
        everything = p0 | (p1 << 8 * _LANES) | (p2 << 16 * _LANES) | (p3 << 24 * _LANES)
        return count_raw(everything.to_bytes(REGISTERS, "little"))
    histogram = [0] * 64
    index = 0
    for token, times in Counter(_TOKEN.findall(value, HEADER)).items():
        kind, register, length, _ = _TOKEN_OPS[token]
        index += length * times
        histogram[register if kind == VAL else 0] += length * times
    if index != REGISTERS:
        raise Corrupt
    return estimate(histogram)


def registers_of(value: bytes) -> bytes:
    """hllMerge's reading: the 16384 registers (Corrupt if sparse and invalid)."""
    if value[4] == DENSE:
        return unpack_dense(memoryview(value)[HEADER:])
    return sparse_to_raw(parse_sparse(memoryview(value)[HEADER:]))


def merge_into(maximum: bytes | None, value: bytes) -> bytes:
    registers = registers_of(value)
    return registers if maximum is None else max_raw(maximum, registers)


def cached(value: bytes) -> int | None:
    """The cached cardinality, or None when it is stale."""
    if value[15] & _STALE:
        return None
    return int.from_bytes(value[8:16], "little")


def with_cache(value: bytes, card: int) -> bytes:
    return value[:8] + card.to_bytes(8, "little") + value[16:]


def decode_text(value: bytes) -> bytes:
    """PFDEBUG DECODE of a sparse value."""
    parts = []
    for kind, register, length, _ in parse_sparse(memoryview(value)[HEADER:]):
        if kind == VAL:
            parts.append(b"v:%d,%d" % (register, length))
        else:
            parts.append(b"%s:%d" % (b"Z" if kind == XZERO else b"z", length))
    return b" ".join(parts)
