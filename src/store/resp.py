"""Sans-IO RESP2/RESP3 codec: pack commands into bytes, turn received bytes into replies.

Nothing here touches a socket. A connection writes ``pack_command(...)`` output and feeds
what it reads to a :class:`Reader`, then calls ``gets()`` until it returns ``NOT_ENOUGH``.

Two readers give the same replies: :class:`PythonReader` (pure Python) and the
``hiredis.Reader`` returned by :func:`hiredis_reader` (C; a subclass whose ``feed``
hands hiredis at most 16 KiB at a time, so that a big buffer of many replies, a pub/sub
backlog, is read in linear time; ``gets`` is hiredis' own). Reply representation,
defined by hiredis 3.5:

=====================================  ==================================================
``+OK`` simple string, ``$`` bulk       ``bytes`` (``str`` when an encoding is set)
``$-1``, ``*-1``, ``_`` and other nulls ``None``
``:`` integer / ``,`` double            ``int`` (64-bit) / ``float`` (``inf``, ``nan`` too)
``#t`` / ``#f``                         ``True`` / ``False``
``(`` big number                        ``bytes`` (``str`` with an encoding), not ``int``
``=`` verbatim string                   its text without the ``txt:`` prefix
``*`` array, ``~`` set, ``>`` push      ``list``
``%`` map                               ``dict``
``-`` error, ``!`` blob error           a :class:`ResponseError` *returned*, not raised
``|`` attribute                         skipped by PythonReader (see below)
=====================================  ==================================================

Differences of hiredis 3.5 that callers should know (the tests pin them down):

* attributes (``|``): hiredis returns the attribute map as a reply of its own (a flat
  list) and then the value; PythonReader drops the attribute and returns the value.
* blob errors (``!``): hiredis raises ProtocolError; PythonReader returns a ResponseError.
* hiredis does not check the CRLF after a bulk string; PythonReader raises ProtocolError.
* a map key that is itself a list or map: hiredis raises TypeError and its reader is
  broken afterwards; PythonReader raises ProtocolError.
* a map with a repeated key: hiredis mixes up the values (it fills them in by
  position); PythonReader keeps the last value, like a dict. Servers never send one.
* hiredis has no size limits of its own; PythonReader refuses bulk strings over 512 MiB
  and lines over 64 KiB (MAX_BULK_LENGTH, MAX_LINE) before buffering them.
* hiredis preallocates a list of the declared length for an array, set or push header
  (8 bytes per element: ``*4294967295`` asks for 32 GiB, MemoryError where that fails);
  PythonReader builds aggregates as their elements arrive. Both refuse 2**32 elements
  and more, and nesting deeper than 1024 (tests/test_resp_fuzz.py).
* hiredis reports invalid bytes as soon as they arrive; PythonReader does not parse
  more of an aggregate until enough bytes arrived to possibly complete it (3 per
  missing element, at most 64 KiB ahead), so it reports them later, or, if the peer
  stops sending, leaves it to the caller's read timeout.

Text that does not decode with the reader's encoding raises UnicodeDecodeError from
``gets()`` after the whole reply was consumed (both readers), so the connection stays
usable. After a ProtocolError a reader must not be used again: drop the connection.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any, Final, Protocol, cast

from store.errors import DataError, ImproperlyConfigured, ProtocolError, ResponseError

# The one probe for hiredis in the package: the server's request parser uses it too.
try:
    import hiredis
except ImportError:  # pragma: no cover - depends on the environment
    hiredis = None  # type: ignore[assignment]

__all__ = [
    "HIREDIS_AVAILABLE",
    "NOT_ENOUGH",
    "Arg",
    "PythonReader",
    "Reader",
    "hiredis",
    "hiredis_reader",
    "make_reader",
    "pack_command",
    "pack_commands",
]


class _NotEnoughType:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_ENOUGH"


NOT_ENOUGH: Final[object] = _NotEnoughType()
"""What ``gets()`` returns while the buffer holds no complete reply."""

HIREDIS_AVAILABLE: Final[bool] = hiredis is not None


class Reader(Protocol):
    """Incremental reply parser: ``feed`` bytes as they arrive, ``gets`` complete replies."""

    def feed(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def gets(self) -> Any: ...


# Limits for bad input: never unbounded memory or recursion.
MAX_BULK_LENGTH: Final = 512 * 1024 * 1024  # Redis' default proto-max-bulk-len
MAX_AGGREGATE_LENGTH: Final = 2**32 - 1  # hiredis' limit (lists are built incrementally)
MAX_NESTING: Final = 1024  # hiredis' REDIS_READER_MAX_REPLY_DEPTH
# Simple strings, errors and big numbers longer than this are refused, complete or not,
# so the outcome never depends on how the bytes were split. Every other line kind is
# bounded far more tightly by its own syntax (at most 20 digits, 325 for a double).
MAX_LINE: Final = 64 * 1024
_MAX_DOUBLE_LINE: Final = 325  # hiredis: "Double value is too large"
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_INF: Final = float("inf")

# Canonical decimal spellings of small numbers: one dict lookup both validates and
# converts a length header (int() is ~3x slower and accepts " 1", "+1", "01", "1_0").
_SMALL: Final[dict[bytes, int]] = {b"%d" % i: i for i in range(4096)}
# The same for whole bulk string headers ("$12"), used without looking at the type byte.
_BULK: Final[dict[bytes, int]] = {b"$%d" % i: i for i in range(4096)}
# Runs of bulk strings inside an aggregate (LRANGE, HGETALL, MGET...) are parsed in
# blocks with bytes.split() and validated with C-level map()s: about 4x cheaper per
# element than one at a time. A block starts small and grows while whole blocks succeed,
# so aggregates of other things waste at most one small block.
_RUN_MIN: Final = 8  # shorter aggregates are not worth a split
_RUN_FIRST_BLOCK: Final = 32
_RUN_MAX_BLOCK: Final = 1024
_RUN_WINDOW: Final = 128  # bytes of window per element of a block (big values: fewer)
_RUN_RESUME: Final = 128  # bytes that must be waiting for a run when resuming a reply
_BATCH_LIMIT: Final = 64 * 1024  # most bytes to wait for before parsing more of a reply

# Frame kinds of the explicit parse stack (RESP type bytes where one exists).
_ROOT: Final = 0
_ARRAY: Final = 42  # * (also ~ set and > push: hiredis gives lists)
_MAP: Final = 37  # %
_ATTR: Final = 124  # |
_AGGREGATE_KIND: Final[dict[int, int]] = {42: _ARRAY, 126: _ARRAY, 62: _ARRAY, 37: _MAP, 124: _ATTR}
_AGGREGATE_NAME: Final[dict[int, str]] = {
    42: "array",
    126: "set",
    62: "push",
    37: "map",
    124: "attribute",
}

_Frame = tuple[list[Any], int, int]  # (items so far, items still expected, kind)


def _show(data: bytes) -> str:
    """A short printable form of offending bytes for error messages."""
    return repr(data[:40] + b"...") if len(data) > 40 else repr(data)


def _length(line: bytes, what: str, maximum: int) -> int:
    """A length header as hiredis' string2ll accepts it: "-1" or canonical digits."""
    if line == b"-1":
        return -1
    if not line.isdigit() or (line[0] == 48 and len(line) > 1):
        raise ProtocolError(f"invalid {what} length {_show(line)}")
    n = int(line)
    if n > maximum:
        raise ProtocolError(f"{what} length {n} exceeds the limit of {maximum}")
    return n


def _integer(line: bytes) -> int:
    """A signed 64-bit integer in canonical form (no "+", "-0", leading zeros, spaces)."""
    digits = line[1:] if line[:1] == b"-" else line
    if not digits.isdigit() or (digits[0] == 48 and (len(digits) > 1 or digits is not line)):
        raise ProtocolError(f"invalid integer {_show(line)}")
    n = int(line)
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise ProtocolError(f"integer {_show(line)} does not fit in 64 bits")
    return n


_DOUBLE: Final = re.compile(rb"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DOUBLE_SPECIAL: Final = {b"inf", b"-inf", b"nan", b"-nan"}


def _double(line: bytes) -> float:
    """A RESP3 double with hiredis 3.5's rules (checked against it by the tests).

    Accepted: optional "-", digits with an optional ".", an optional exponent, and
    inf/-inf/nan/-nan in any case. Refused: "+" in front, spaces, hex, "infinity",
    and values that overflow or underflow to zero.
    """
    if len(line) > _MAX_DOUBLE_LINE:
        raise ProtocolError(f"double {_show(line)} is too long")
    match = _DOUBLE.fullmatch(line)
    if match is None:
        if line.lower() in _DOUBLE_SPECIAL:
            return float(line)
        raise ProtocolError(f"invalid double {_show(line)}")
    value = float(line)
    if value in (_INF, -_INF) or (value == 0.0 and match[1].strip(b"0.")):
        raise ProtocolError(f"double {_show(line)} is out of range")
    return value


class PythonReader:
    """Pure-Python RESP2/RESP3 reader, reply for reply the same as hiredis' Reader.

    The buffer is an immutable ``bytes`` plus a read position: a reply that arrives in
    one read is parsed straight out of the caller's object, with slices that already are
    the ``bytes`` replies. Aggregates are parsed with an explicit stack (no recursion)
    that survives between calls, so a reply split over many reads is resumed where it
    stopped, and bytes that cannot complete the pending element are kept aside until
    enough have arrived: parsing time and copying stay linear in the reply size.
    """

    __slots__ = (
        "_buf",
        "_chunks",
        "_decode_error",
        "_encoding",
        "_errors",
        "_need",
        "_pending",
        "_pos",
        "_stack",
    )

    def __init__(self, encoding: str | None = None, errors: str = "strict") -> None:
        # Unknown codec or handler names fail here, as with hiredis, not on first use.
        if encoding is not None:
            codecs.lookup(encoding)
        codecs.lookup_error(errors)
        self._encoding = encoding
        self._errors = errors
        self._buf = b""
        self._pos = 0
        # Data fed while the reply in progress cannot be complete: joined once it may be.
        self._chunks: list[bytes] = []
        self._pending = 0  # bytes in _chunks
        self._need = 0  # bytes from _pos on that the reply in progress needs at least
        self._stack: list[_Frame] = []  # open aggregates of the reply in progress
        self._decode_error: UnicodeDecodeError | None = None

    def feed(self, data: bytes | bytearray | memoryview, /) -> None:
        """Append received bytes (copied unless they are ``bytes``)."""
        if self._pos == len(self._buf) and not self._chunks:
            # Everything before was consumed: parse straight out of the new object.
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            self._need = 0
            return
        chunk = data if type(data) is bytes else bytes(data)
        if not chunk:
            return
        rest = len(self._buf) - self._pos
        if not self._chunks and rest + len(chunk) >= self._need:
            # The usual case: the tail of a partly parsed reply plus the next read.
            self._buf = self._buf[self._pos :] + chunk
            self._pos = 0
            self._need = 0
            return
        # The reply cannot be complete yet: keep the data aside, copy once when it may be.
        self._chunks.append(chunk)
        self._pending += len(chunk)
        if rest + self._pending >= self._need:
            self._buf = b"".join([memoryview(self._buf)[self._pos :], *self._chunks])
            self._pos = 0
            self._need = 0
            self._chunks.clear()
            self._pending = 0

    def _wait(self, pos: int, need: int, items: list[Any], left: int, kind: int) -> object:
        """Save the reply in progress: the element at ``pos`` lacks bytes, ``need`` at least.

        Until that many bytes are buffered, feed() keeps new data aside and gets() does
        not parse at all (see _parse). Every element still expected by the open aggregates
        takes at least 3 bytes (as "_\\r\\n"): counting those too turns a big reply that
        arrives in small reads into a few large parsing steps instead of one per read.
        """
        if kind != _ROOT:
            # The root frame holds nothing worth saving (its position is _pos): leaving
            # the stack empty keeps gets() on its fast paths.
            stack = self._stack
            stack.append((items, left, kind))
            others = 0
            for frame in stack:
                others += frame[1] - 1  # each frame's count includes the one in progress
            need = max(need, min(need + 3 * others, _BATCH_LIMIT))
        self._need = need
        if pos == len(self._buf):
            self._buf = b""  # drop a fully consumed read buffer instead of keeping it
            pos = 0
        self._pos = pos
        return NOT_ENOUGH

    def gets(self) -> Any:
        """The next complete reply, or ``NOT_ENOUGH``."""
        if self._stack:
            return self._parse()
        # Fast paths for the commonest top-level replies; _parse handles them all too,
        # and anything unusual or invalid falls through to it.
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\r\n", pos)
        if end > pos:
            t = buf[pos]
            if t == 36:  # $ bulk string
                n = _BULK.get(buf[pos:end])
                if n is not None:
                    stop = end + 2 + n
                    if buf[stop : stop + 2] == b"\r\n":
                        self._pos = stop + 2
                        if self._encoding is None:
                            return buf[end + 2 : stop]
                        return buf[end + 2 : stop].decode(self._encoding, self._errors)
            elif t == 43:  # + simple string
                line = buf[pos + 1 : end]
                if 13 not in line and 10 not in line and end - pos <= MAX_LINE:
                    self._pos = end + 2
                    if self._encoding is None:
                        return line
                    return line.decode(self._encoding, self._errors)
            elif t == 58:  # : integer
                n = _SMALL.get(buf[pos + 1 : end])
                if n is not None:
                    self._pos = end + 2
                    return n
        elif end < 0 and pos == len(buf) and not self._chunks:
            # Nothing buffered: the usual state between replies.
            if pos:
                self._buf = b""  # release the consumed read buffer
                self._pos = 0
            return NOT_ENOUGH
        return self._parse()

    def _parse(self) -> Any:
        """Parse (or resume) one reply with an explicit stack of open aggregates."""
        if self._chunks:
            # Data was kept aside because the reply still lacks bytes (see _wait): the
            # buffer has not changed since the last attempt, which ended the same way.
            return NOT_ENOUGH
        buf = self._buf
        pos = self._pos
        size = len(buf)
        stack = self._stack
        encoding = self._encoding
        errors = self._errors
        small = _SMALL
        bulk = _BULK
        items: list[Any]
        if stack:
            items, left, kind = stack.pop()
            # Resuming: a run only pays off when a good part of a read is waiting.
            if left > _RUN_MIN and kind != _ATTR and size - pos > _RUN_RESUME and buf[pos] == 36:
                pos, ran = self._bulk_run(buf, pos, left - 1, items)
                left -= ran
        else:
            items, left, kind = [], 1, _ROOT
        while True:
            val: Any
            end = buf.find(b"\r\n", pos)
            if end < 0:
                if size - pos > MAX_LINE:
                    raise ProtocolError(f"no CRLF in the {size - pos} bytes of a reply line")
                return self._wait(pos, size - pos + 1, items, left, kind)
            n = bulk.get(buf[pos:end])
            if n is not None and buf[end + 2 + n : end + 4 + n] == b"\r\n":
                # The commonest element by far: a complete short bulk string.
                val = buf[end + 2 : end + 2 + n]
                pos = end + 4 + n
                if encoding is not None:
                    try:
                        val = val.decode(encoding, errors)
                    except UnicodeDecodeError:
                        val = self._decode(val)  # records the error, gives None
            elif (t := buf[pos]) == 36:  # $ bulk string: null, long, incomplete or bad
                if n is None:
                    n = _length(buf[pos + 1 : end], "bulk string", MAX_BULK_LENGTH)
                if n >= 0:
                    stop = end + 2 + n
                    if stop + 2 > size:
                        return self._wait(pos, stop + 2 - pos, items, left, kind)
                    if buf[stop] != 13 or buf[stop + 1] != 10:
                        raise ProtocolError(f"bulk string of {n} bytes not followed by CRLF")
                    val = buf[end + 2 : stop]
                    pos = stop + 2
                    if encoding is not None:
                        val = self._decode(val)
                else:
                    val = None
                    pos = end + 2
            elif t in _AGGREGATE_KIND:  # * % ~ > |
                line = buf[pos + 1 : end]
                n = small.get(line)
                if n is None:
                    n = _length(line, _AGGREGATE_NAME[t], MAX_AGGREGATE_LENGTH)
                if len(stack) >= MAX_NESTING:
                    raise ProtocolError(f"aggregates nested more than {MAX_NESTING} deep")
                pos = end + 2
                if n > 0:
                    stack.append((items, left, kind))
                    kind = _AGGREGATE_KIND[t]
                    items = []
                    left = n if kind == _ARRAY else 2 * n
                    # The last element always goes through the loop below, which then
                    # closes the aggregate: the run never has to.
                    if left > _RUN_MIN and kind != _ATTR and pos < size and buf[pos] == 36:
                        pos, ran = self._bulk_run(buf, pos, left - 1, items)
                        left -= ran
                    continue
                if t == 124:  # |
                    if n < 0:
                        raise ProtocolError("attribute with a null length")
                    continue  # an empty attribute: the value follows
                if n == 0:
                    val = {} if t == 37 else []
                else:
                    val = None
            elif t == 58:  # : integer
                line = buf[pos + 1 : end]
                val = small.get(line)
                if val is None:
                    val = _integer(line)
                pos = end + 2
            elif t == 43 or t == 45:  # + simple string, - error
                line = buf[pos + 1 : end]
                if 13 in line or 10 in line:
                    raise ProtocolError(f"CR or LF inside a simple string or error {_show(line)}")
                if end - pos > MAX_LINE:
                    raise ProtocolError(f"reply line longer than {MAX_LINE} bytes")
                pos = end + 2
                if t == 45:
                    val = ResponseError(line.decode("utf-8", "replace"))
                elif encoding is not None:
                    val = self._decode(line)
                else:
                    val = line
            elif t == 61 or t == 33:  # = verbatim string, ! blob error
                what = "verbatim string" if t == 61 else "blob error"
                n = _length(buf[pos + 1 : end], what, MAX_BULK_LENGTH)
                if n >= 0:
                    stop = end + 2 + n
                    if stop + 2 > size:
                        return self._wait(pos, stop + 2 - pos, items, left, kind)
                    if buf[stop] != 13 or buf[stop + 1] != 10:
                        raise ProtocolError(f"{what} of {n} bytes not followed by CRLF")
                    val = buf[end + 2 : stop]
                    pos = stop + 2
                    if t == 33:
                        val = ResponseError(val.decode("utf-8", "replace"))
                    else:
                        if n < 4 or val[3] != 58:
                            raise ProtocolError(f"verbatim string without its format {_show(val)}")
                        val = val[4:]
                        if encoding is not None:
                            val = self._decode(val)
                elif t == 61:
                    val = None
                    pos = end + 2
                else:
                    raise ProtocolError("blob error with a null length")
            elif t == 44:  # , double
                val = _double(buf[pos + 1 : end])
                pos = end + 2
            elif t == 35:  # # boolean
                line = buf[pos + 1 : end]
                if line == b"t" or line == b"T":
                    val = True
                elif line == b"f" or line == b"F":
                    val = False
                else:
                    raise ProtocolError(f"invalid boolean {_show(line)}")
                pos = end + 2
            elif t == 95:  # _ null
                if end != pos + 1:
                    raise ProtocolError(f"invalid null {_show(buf[pos:end])}")
                val = None
                pos = end + 2
            elif t == 40:  # ( big number
                line = buf[pos + 1 : end]
                digits = line[1:] if line[:1] == b"-" else line
                if digits and not digits.isdigit():
                    raise ProtocolError(f"invalid big number {_show(line)}")
                if end - pos > MAX_LINE:
                    raise ProtocolError(f"reply line longer than {MAX_LINE} bytes")
                val = line if encoding is None else self._decode(line)
                pos = end + 2
            else:
                raise ProtocolError(
                    f"invalid reply type byte {bytes((t,))!r} in {_show(buf[pos:end])}"
                )

            # Deliver the value to the open aggregate; close every aggregate it completes.
            items.append(val)
            left -= 1
            while not left:
                if kind == _ROOT:
                    self._pos = pos
                    error = self._decode_error
                    if error is not None:
                        self._decode_error = None
                        raise error
                    return items[0]
                done, done_kind = items, kind
                items, left, kind = stack.pop()
                if done_kind == _ATTR:
                    break  # attributes annotate the next value: nothing to deliver
                if done_kind == _MAP:
                    pairs = iter(done)
                    try:
                        items.append(dict(zip(pairs, pairs, strict=True)))
                    except TypeError:
                        raise ProtocolError("map with an unhashable key (list or map)") from None
                else:
                    items.append(done)
                left -= 1

    def _bulk_run(self, buf: bytes, pos: int, count: int, items: list[Any]) -> tuple[int, int]:
        """Append up to ``count`` plain bulk strings found at ``pos`` to ``items``.

        Returns the position after them and how many there were. Stops at the first
        element that is anything else (other type, null, CRLF inside, incomplete, length
        beyond the table): the caller's loop deals with it.
        """
        total = 0
        block = _RUN_FIRST_BLOCK
        lengths = _BULK.get
        while total < count:
            block = min(block, count - total)
            # maxsplit bounds the pieces made; the window bounds the bytes copied.
            parts = buf[pos : pos + block * _RUN_WINDOW].split(b"\r\n", 2 * block)
            pairs = min(block, (len(parts) - 1) >> 1)  # pieces followed by a CRLF
            headers = parts[0 : 2 * pairs : 2]
            values = parts[1 : 2 * pairs : 2]
            sizes = list(map(len, values))
            mismatch = list(map(lengths, headers)) != sizes
            if mismatch:
                # Keep the valid prefix, leave the rest to the element-by-element loop.
                good = 0
                for header, size in zip(headers, sizes, strict=True):
                    if lengths(header) != size:
                        break
                    good += 1
                del headers[good:], values[good:], sizes[good:]
            if values:
                pos += sum(map(len, headers)) + sum(sizes) + 4 * len(values)
                total += len(values)
                if self._encoding is None:
                    items += values
                else:
                    texts: list[Any]
                    try:
                        texts = list(map(str, values, repeat(self._encoding), repeat(self._errors)))
                    except UnicodeDecodeError:
                        texts = [self._decode(value) for value in values]
                    items += texts
            if mismatch or not values:
                break
            if pairs == block:  # else the window was short (big values): same size again
                block = min(block * 4, _RUN_MAX_BLOCK)
        return pos, total

    def _decode(self, data: bytes) -> Any:
        # As hiredis: a decoding failure is raised once the whole reply has been read,
        # with None standing in for the undecodable value meanwhile.
        try:
            return data.decode(cast(str, self._encoding), self._errors)
        except UnicodeDecodeError as exc:
            if self._decode_error is None:
                self._decode_error = exc
            return None


# hiredis moves what is left of its buffer to the front after each reply once 1 KiB was
# consumed: a buffer of many replies fed at once costs a copy of its rest per reply
# (quadratic). Fed at most this much at a time, the copies stay small and bounded.
_HIREDIS_CHUNK: Final = 16 * 1024
# A buffer up to this size goes to hiredis whole, as a blocking read's does: its copies are
# bounded by it, and a burst of replies to concurrent commands (the 1,000 replies of
# 1,000 auto-pipelined GETs are some 20 KiB) keeps hiredis' own C gets for every reply.
_HIREDIS_WHOLE: Final = 64 * 1024

if hiredis is not None:
    _hiredis_feed: Any = hiredis.Reader.feed
    _hiredis_gets: Any = hiredis.Reader.gets

    class _HiredisBase(hiredis.Reader):
        __slots__ = ("_at", "_rest")
        _at: int
        _rest: list[bytes]

    class _HiredisReader(_HiredisBase):
        """hiredis' Reader whose ``feed`` keeps big buffers aside.

        The usual read (at most _HIREDIS_WHOLE bytes) goes straight to hiredis. A bigger
        one is handed over a chunk at a time by :class:`_HiredisChunking`, which this
        object becomes (``__class__``) until all of it was fed: the reply path of the
        usual case has no Python frame and no check.
        """

        __slots__ = ()

        # one argument, as Reader promises (hiredis' offset and length are not needed)
        def feed(self, data: bytes | bytearray | memoryview, /) -> None:  # type: ignore[override]
            if len(data) <= _HIREDIS_WHOLE:
                _hiredis_feed(self, data)
                return
            # bytes: kept as is (a bytearray or memoryview could change under us)
            big = data if type(data) is bytes else bytes(data)
            _hiredis_feed(self, big, 0, _HIREDIS_CHUNK)
            self._rest = [big]
            self._at = _HIREDIS_CHUNK
            self.__class__ = cast(Any, _HiredisChunking)

    class _HiredisChunking(_HiredisBase):
        """A :class:`_HiredisReader` holding bytes not yet fed to hiredis (``_rest``,
        the first of them from ``_at`` on): the next piece goes in when hiredis has no
        complete reply left."""

        __slots__ = ()

        # one argument, as Reader promises (hiredis' offset and length are not needed)
        def feed(self, data: bytes | bytearray | memoryview, /) -> None:  # type: ignore[override]
            if data:
                self._rest.append(data if type(data) is bytes else bytes(data))

        def gets(self, *args: Any) -> Any:
            reply = _hiredis_gets(self, *args)
            while reply is NOT_ENOUGH:
                rest = self._rest
                data = rest[0]
                at = self._at
                left = len(data) - at
                if left > _HIREDIS_CHUNK:
                    _hiredis_feed(self, data, at, _HIREDIS_CHUNK)
                    self._at = at + _HIREDIS_CHUNK
                else:
                    _hiredis_feed(self, data, at, left)
                    del rest[0]
                    self._at = 0
                    if not rest:
                        # everything fed: hiredis' own gets again
                        self.__class__ = cast(Any, _HiredisReader)
                        self._rest = []
                        return _hiredis_gets(self, *args)
                reply = _hiredis_gets(self, *args)
            return reply

        def has_data(self) -> bool:
            return True


def hiredis_reader(
    encoding: str | None = None, errors: str = "strict", chunked: bool = True
) -> Reader:
    """A ``hiredis.Reader`` configured for this package's sentinel and exceptions, that
    feeds hiredis big buffers in pieces (see _HIREDIS_CHUNK). ``chunked=False`` gives
    hiredis' own Reader, for a caller whose reads are small anyway (a blocking socket's
    recv of at most 64 KiB): its ``feed`` then costs no Python call."""
    if hiredis is None:
        raise ImproperlyConfigured(
            "parser 'hiredis' needs the hiredis package: pip install 'store[hiredis]'"
        )
    reader = (_HiredisReader if chunked else hiredis.Reader)(
        notEnoughData=NOT_ENOUGH,
        protocolError=ProtocolError,
        replyError=ResponseError,
        encoding=encoding,
        errors=errors,
    )
    return cast(Reader, reader)


def make_reader(
    parser: str = "auto", encoding: str | None = None, errors: str = "strict", chunked: bool = True
) -> Reader:
    """A reader: ``parser`` is "auto" (hiredis when installed), "hiredis" or "python";
    ``chunked`` as for hiredis_reader."""
    if parser == "auto":
        parser = "hiredis" if hiredis is not None else "python"
    if parser == "python":
        return PythonReader(encoding, errors)
    if parser == "hiredis":
        return hiredis_reader(encoding, errors, chunked)
    raise ImproperlyConfigured(
        f"unknown parser {parser!r}: expected one of 'auto', 'hiredis', 'python'"
    )


# ---------------------------------------------------------------------------- packing

Arg = bytes | bytearray | memoryview | str | int | float
"""What a command argument may be (bool excepted, though it is an int)."""

_hiredis_pack: Any = hiredis.pack_command if hiredis is not None else None


def _command_name(args: Sequence[object]) -> str:
    first = args[0] if args else None
    if isinstance(first, str):
        return first
    if isinstance(first, (bytes, bytearray, memoryview)):
        return bytes(first).decode("utf-8", "replace")
    return "a command"


def _encode_arg(arg: object, index: int, args: Sequence[object], encoding: str) -> bytes:
    """One argument as bytes, exactly as hiredis.pack_command formats it."""
    kind = type(arg)
    if kind is bytes:
        return cast(bytes, arg)
    if kind is str:
        return cast(str, arg).encode(encoding)
    if kind is int:
        return b"%d" % cast(int, arg)
    if kind is float:
        return repr(arg).encode()  # hiredis uses repr(): "1e+300", "-0.0", "inf", "nan"
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg)
    if isinstance(arg, str):
        return str.encode(arg, encoding)
    # bool is an int, but sending True as "1" silently is a classic bug: refuse it.
    if isinstance(arg, int) and not isinstance(arg, bool):
        return int.__repr__(arg).encode()  # IntEnum & co: the number, not the enum repr
    if isinstance(arg, float):
        return float.__repr__(arg).encode()
    raise DataError(
        f"argument {index} of {_command_name(args)} is {type(arg).__name__}; "
        "commands take bytes, str, int or float"
    )


def _pack_python(args: Sequence[object], encoding: str) -> bytes:
    if not args:
        raise DataError("empty command: a command needs at least its name")
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for index, arg in enumerate(args):
        data = _encode_arg(arg, index, args, encoding)
        append(b"$%d\r\n" % len(data))
        append(data)
        append(b"\r\n")
    return b"".join(parts)


def pack_command(*args: Arg, encoding: str = "utf-8") -> bytes:
    """One command as a RESP array of bulk strings.

    Numbers are sent as ``repr()`` text; None, bool, containers and other objects raise
    DataError naming the argument. ``encoding`` applies to ``str`` arguments.

    hiredis formats a float subclass with the subclass's own ``repr()`` (numpy 2's
    float64 would go out as "np.float64(1.5)"); convert such values with float() first.
    """
    if _hiredis_pack is not None and encoding == "utf-8" and args:
        try:
            return cast(bytes, _hiredis_pack(args))
        except TypeError:
            pass  # bytearray, int subclasses, or a bad argument: the Python path decides
    return _pack_python(args, encoding)


def pack_commands(commands: Iterable[Sequence[Arg]], encoding: str = "utf-8") -> bytes:
    """Several commands (a pipeline) in one buffer."""
    pack = _hiredis_pack if encoding == "utf-8" else None
    out: list[bytes] = []
    for command in commands:
        args = command if type(command) is tuple else tuple(command)
        if pack is not None and args:
            try:
                out.append(pack(args))
                continue
            except TypeError:
                pass
        out.append(_pack_python(args, encoding))
    return b"".join(out)
