"""Redis's RDB building blocks, shared by DUMP/RESTORE (``rdb_values``) and FUNCTION
DUMP/RESTORE: lengths, strings (integer-encoded, LZF-compressed), CRC-64 and the DUMP
payload's footer (2-byte RDB version, then the CRC-64 of everything before, both little
endian), as Redis 7.0's rdb.c, lzf_c.c and crc64.c write them."""

from __future__ import annotations

import zlib

__all__ = [
    "RDB_VERSION",
    "Reader",
    "crc64",
    "lzf_compress",
    "lzf_decompress",
    "payload_body",
    "rdb_length",
    "rdb_string",
    "with_footer",
]

RDB_VERSION = 10  # Redis 7.0's
_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3

# -- CRC-64 (Jones polynomial, reflected), as Redis's crc64.c -----------------------------


def _crc64_table() -> list[int]:
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 reflected
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc64_table()


def crc64(data: bytes, crc: int = 0) -> int:
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def with_footer(body: bytes) -> bytes:
    """A DUMP payload: ``body``, the RDB version and the CRC-64 of both."""
    body += RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def payload_body(payload: bytes) -> bytes | None:
    """The body of a DUMP payload, or None if its version or checksum are wrong
    (verifyDumpPayload: any version up to ours is accepted)."""
    if len(payload) < 10:
        return None
    version = int.from_bytes(payload[-10:-8], "little")
    if version > RDB_VERSION or int.from_bytes(payload[-8:], "little") != crc64(payload[:-8]):
        return None
    return payload[:-10]


# -- lengths and strings --------------------------------------------------------------------


def rdb_length(size: int) -> bytes:
    if size < 1 << 6:
        return bytes((size,))
    if size < 1 << 14:
        return bytes((0x40 | (size >> 8), size & 0xFF))
    if size <= 0xFFFFFFFF:
        return b"\x80" + size.to_bytes(4, "big")
    return b"\x81" + size.to_bytes(8, "big")


def _is_int(data: bytes) -> bool:
    """string2ll's strictness: no sign but '-', no leading zeros, no '-0'."""
    digits = data[1:] if data[:1] == b"-" else data
    return (
        digits.isdigit()
        and digits.isascii()
        and (digits[0] != 48 or data == b"0")
        and -(1 << 63) <= int(data) < 1 << 63
    )


def rdb_string(data: bytes, integers: bool = True) -> bytes:
    """rdbSaveRawString with rdbcompression on: a decimal integer of 32 bits as such, a
    string longer than 20 bytes LZF-compressed if that saves 4 bytes or more."""
    size = len(data)
    if integers and 0 < size <= 11 and _is_int(data):
        value = int(data)
        if -(1 << 7) <= value < 1 << 7:
            return bytes((0xC0 | _ENC_INT8,)) + value.to_bytes(1, "little", signed=True)
        if -(1 << 15) <= value < 1 << 15:
            return bytes((0xC0 | _ENC_INT16,)) + value.to_bytes(2, "little", signed=True)
        if -(1 << 31) <= value < 1 << 31:
            return bytes((0xC0 | _ENC_INT32,)) + value.to_bytes(4, "little", signed=True)
    if size > 20 and not _incompressible(data):
        compressed = lzf_compress(data, size - 4)
        if compressed is not None:
            return b"\xc3" + rdb_length(len(compressed)) + rdb_length(size) + compressed
    return rdb_length(size) + data


def _incompressible(data: bytes) -> bool:
    """Whether a big string is not worth trying LZF on: deflate (a 32 kB window to LZF's
    8 kB, and entropy coding) cannot take 1/64 off it, while LZF's literal runs alone cost
    1/32. Pure-Python LZF takes seconds per MB; this look takes milliseconds."""
    size = len(data)
    return size >= 1 << 16 and len(zlib.compress(data, 1)) >= size - size // 64


class Reader:
    """Reads RDB items from ``data[pos:end]``; ValueError on anything malformed."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, end: int | None = None) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data) if end is None else end

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > self.end:
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ValueError("truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def length_and_kind(self) -> tuple[int, bool]:
        """An RDB length: (value, is an encoded string type)."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise ValueError("bad length")

    def length(self) -> int:
        size, encoded = self.length_and_kind()
        if encoded:
            raise ValueError("a string encoding where a length belongs")
        return size

    def string(self) -> bytes:
        size, encoded = self.length_and_kind()
        if not encoded:
            return self.take(size)
        if size == _ENC_INT8:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if size == _ENC_INT16:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if size == _ENC_INT32:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if size == _ENC_LZF:
            compressed = self.length()
            plain = self.length()
            return lzf_decompress(self.take(compressed), plain)
        raise ValueError("unknown string encoding")


# -- LZF (liblzf as Redis builds it) ----------------------------------------------------------


def lzf_decompress(data: bytes, size: int) -> bytes:
    out = bytearray()
    pos = 0
    end = len(data)
    while pos < end:
        ctrl = data[pos]
        pos += 1
        if ctrl < 32:
            if pos + ctrl + 1 > end:
                raise ValueError("bad LZF data")
            out += data[pos : pos + ctrl + 1]
            pos += ctrl + 1
            continue
        length = ctrl >> 5
        if length == 7:
            if pos >= end:
                raise ValueError("bad LZF data")
            length += data[pos]
            pos += 1
        if pos >= end:
            raise ValueError("bad LZF data")
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[pos] - 1
        pos += 1
        if ref < 0:
            raise ValueError("bad LZF data")
        length += 2
        if ref + length <= len(out):  # no overlap: one slice
            out += out[ref : ref + length]
        else:  # a run that repeats what it copies
            for _ in range(length):
                out.append(out[ref])
                ref += 1
        if len(out) > size:
            raise ValueError("bad LZF length")
    if len(out) != size:
        raise ValueError("bad LZF length")
    return bytes(out)


def _lzf_index(hval: int) -> int:
    return ((hval >> 8) - hval * 5) & 0xFFFF  # lzf_c.c's IDX with HLOG 16, VERY_FAST


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """liblzf's lzf_compress as Redis builds it (HLOG 16, VERY_FAST), on a clean hash
    table: the compressed bytes, or None if they do not fit in ``out_len``."""
    in_len = len(data)
    if not in_len or not out_len:
        return None
    htab: dict[int, int] = {}
    out = bytearray(out_len + 40)
    ip, op, lit = 0, 1, 0
    hval = (data[0] << 8) | data[1]
    while ip < in_len - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
        slot = _lzf_index(hval)
        ref = htab.get(slot, 0)
        htab[slot] = ip
        off = ip - ref - 1
        if (
            ref > 0
            and 0 <= off < 1 << 13
            and data[ref + 2] == data[ip + 2]
            and data[ref] == data[ip]
            and data[ref + 1] == data[ip + 1]
        ):
            length = 2
            maxlen = min(in_len - ip - length, (1 << 8) + (1 << 3))
            if op + 3 + 1 >= out_len and op - (not lit) + 3 + 1 >= out_len:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF
            op -= not lit
            mismatch = False
            if maxlen > 16:
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        mismatch = True
                        break
            if not mismatch:
                while True:
                    length += 1
                    if not (length < maxlen and data[ref + length] == data[ip + length]):
                        break
            length -= 2
            ip += 1
            if length < 7:
                out[op] = ((off >> 8) + (length << 5)) & 0xFF
                op += 1
            else:
                out[op] = ((off >> 8) + (7 << 5)) & 0xFF
                out[op + 1] = (length - 7) & 0xFF
                op += 2
            out[op] = off & 0xFF
            op += 2  # and a new literal run starts
            lit = 0
            ip += length + 1
            if ip >= in_len - 2:
                break
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            for _ in range(2):
                hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
                htab[_lzf_index(hval)] = ip
                ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = data[ip]
            op += 1
            ip += 1
            if lit == 32:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_len:
        lit += 1
        out[op] = data[ip]
        op += 1
        ip += 1
        if lit == 32:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    op -= not lit
    return bytes(out[:op])
