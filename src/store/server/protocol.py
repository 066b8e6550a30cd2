"""PulsarDS's side of RESP: the request parser (arrays and inline commands, with limits)
and the reply encoder (RESP2 or RESP3 per client). Sans-IO.

The client's reader (``store.resp``) parses every RESP3 type from a trusted server;
requests are only arrays of bulk strings or inline lines from an untrusted peer, so the
server has this narrower parser that checks every length before it buffers anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ..resp import hiredis

__all__ = [
    "NULL_ARRAY",
    "OK",
    "PONG",
    "QUEUED",
    "DoubleText",
    "ErrorReply",
    "OrderedSet",
    "Push",
    "Replies",
    "RequestError",
    "RequestParser",
    "SimpleString",
    "Verbatim",
    "encode_reply",
    "error_line",
    "format_double",
]


class SimpleString(bytes):
    """A status reply: ``+OK``."""


class ErrorReply(str):
    """An error as a value, inside an array (EXEC, scripts): ``-ERR ...``."""


class Push(list[Any]):
    """Out-of-band data (pub/sub messages): ``>`` in RESP3, an array in RESP2."""


class Verbatim(bytes):
    """Text for humans (INFO, CLIENT LIST): ``=`` txt in RESP3, a bulk string in RESP2."""


class OrderedSet(list[Any]):
    """A RESP3 set whose members go out in this order (Redis lists flags and categories in
    a fixed order); an array in RESP2."""


class DoubleText(bytes):
    """A double already formatted (Redis's human long double of geo coordinates): a RESP3
    double of these digits, a bulk string in RESP2."""


class Replies(list[Any]):
    """Several replies to one command (SUBSCRIBE answers once per channel)."""


class _NullArray:
    """``*-1`` in RESP2 (timeouts, aborted EXEC), ``_`` in RESP3."""

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY: Any = _NullArray()
OK = SimpleString(b"OK")
QUEUED = SimpleString(b"QUEUED")
PONG = SimpleString(b"PONG")


class RequestError(Exception):
    """A malformed request: answered with ``-ERR Protocol error: ...`` and a closed connection."""


def format_double(value: float) -> bytes:
    """Redis 7.0's ``%.17g`` with its spellings of infinity."""
    if value != value:
        return b"nan"
    if value == float("inf"):
        return b"inf"
    if value == float("-inf"):
        return b"-inf"
    return b"%.17g" % value


_CRLF = b"\r\n"
_SMALL_INTS = [b":%d\r\n" % i for i in range(-1, 1025)]
_FIXED: dict[int, bytes] = {id(OK): b"+OK\r\n", id(QUEUED): b"+QUEUED\r\n", id(PONG): b"+PONG\r\n"}


def error_line(message: str) -> bytes:
    """An error reply, ``-<message>\\r\\n``: CR and LF in the message become spaces, as in
    Redis, so that the reply stays one line."""
    text = message.encode("utf-8", "replace").replace(b"\r", b" ").replace(b"\n", b" ")
    return b"-%s\r\n" % text


def encode_reply(value: Any, resp3: bool, out: list[bytes]) -> None:
    """Append the encoding of ``value`` to ``out``.

    bytes is a bulk string, int an integer, None a null, float a double, list/tuple an
    array, dict a map, set a set; the classes above are the rest.
    """
    kind = type(value)
    if kind is bytes:
        size = len(value)
        if size < _BIG_REPLY:
            out.append(b"$%d\r\n%s\r\n" % (size, value))
        else:  # the stored value itself goes out: formatting it in would copy it
            out += (b"$%d\r\n" % size, value, _CRLF)
    elif kind is int:
        out.append(_SMALL_INTS[value + 1] if -1 <= value <= 1024 else b":%d\r\n" % value)
    elif kind is SimpleString:
        out.append(_FIXED.get(id(value)) or b"+%s\r\n" % value)
    elif value is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif kind is list or kind is tuple:
        out.append(b"*%d\r\n" % len(value))
        if len(value) < _BATCH_FROM:
            for item in value:
                encode_reply(item, resp3, out)
        else:
            _encode_items(value, resp3, out)
    elif kind is ErrorReply:
        out.append(error_line(value))
    elif kind is float:
        text = format_double(value)
        out.append(b",%s\r\n" % text if resp3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif kind is dict:
        out.append((b"%%%d\r\n" if resp3 else b"*%d\r\n") % (len(value) * (1 if resp3 else 2)))
        if len(value) < _BATCH_FROM:
            for key, item in value.items():
                encode_reply(key, resp3, out)
                encode_reply(item, resp3, out)
        else:
            _encode_items([item for pair in value.items() for item in pair], resp3, out)
    elif kind is set or kind is frozenset:
        out.append((b"~%d\r\n" if resp3 else b"*%d\r\n") % len(value))
        if len(value) < _BATCH_FROM:
            for item in value:
                encode_reply(item, resp3, out)
        else:
            _encode_items(list(value), resp3, out)
    elif kind is bool:
        out.append((b"#t\r\n" if value else b"#f\r\n") if resp3 else _SMALL_INTS[value + 1])
    elif value is NULL_ARRAY:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif kind is Push:
        out.append((b">%d\r\n" if resp3 else b"*%d\r\n") % len(value))
        for item in value:
            encode_reply(item, resp3, out)
    elif kind is Replies:
        for item in value:
            encode_reply(item, resp3, out)
    elif kind is Verbatim:
        if resp3:
            out.append(b"=%d\r\ntxt:%s\r\n" % (len(value) + 4, value))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif kind is OrderedSet:
        out.append((b"~%d\r\n" if resp3 else b"*%d\r\n") % len(value))
        for item in value:
            encode_reply(item, resp3, out)
    elif kind is DoubleText:
        out.append(b",%s\r\n" % value if resp3 else b"$%d\r\n%s\r\n" % (len(value), value))
    elif isinstance(value, bytes):
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif isinstance(value, int):
        out.append(b":%d\r\n" % value)
    else:
        raise TypeError(f"cannot encode a {kind.__name__} reply")


# A bulk string this long is sent as it is stored, not copied into the reply.
_BIG_REPLY = 32 << 10
# Arrays of bulk strings (LRANGE, HGETALL, SMEMBERS) of _BATCH_FROM items or more are
# encoded _BATCH items at a time, each batch one chunk: a few C calls per batch instead
# of a call per item, and one object per batch held until the reply is sent.
_BATCH_FROM = 16
_BATCH = 1024
_BULK_PREFIXES = [b"$%d\r\n" % length for length in range(1024)]
_ONLY_BYTES = {bytes}


def _encode_items(items: list[Any] | tuple[Any, ...], resp3: bool, out: list[bytes]) -> None:
    for start in range(0, len(items), _BATCH):
        batch = items[start : start + _BATCH]
        if set(map(type, batch)) == _ONLY_BYTES:  # not a subclass such as SimpleString
            parts = [_CRLF] * (3 * len(batch))
            try:
                parts[0::3] = map(_BULK_PREFIXES.__getitem__, map(len, batch))
            except IndexError:  # a value of 1 KB or more among them
                pass
            else:
                parts[1::3] = batch
                out.append(b"".join(parts))
                continue
        for item in batch:
            encode_reply(item, resp3, out)


# Above this size a request is parsed piece by piece (splitting it all would double it).
_FAST_PATH_LIMIT = 1 << 16
# Redis refuses big requests from clients that have not authenticated yet.
UNAUTHENTICATED_MULTIBULK = 10
UNAUTHENTICATED_BULK = 16384
# Redis's PROTO_INLINE_MAX_SIZE: the longest header line it waits for.
_MAX_LINE = 64 << 10
# Redis's PROTO_MBULK_BIG_ARG: a bulk this big is gathered from the received chunks and
# joined once, instead of being copied into the buffer and then sliced out of it.
_BIG_ARG = 32 << 10
# A type byte hiredis would read as an aggregate, with a count of five digits or more:
# hiredis allocates the whole list on the header alone, so such data never goes to it.
_HIREDIS_UNSAFE = re.compile(rb"[*%~>|]-?[0-9]{5}")
# A command's arguments still to come are this many bytes at least (``$0\r\n\r\n``);
# with fewer bytes at hand it is not complete and parsing waits for up to _DEFER_BYTES.
_MIN_ELEMENT = 6
_DEFER_BYTES = 64 << 10
_LLONG = 1 << 63
_BULK_HEADERS = [b"$%d" % length for length in range(1024)]


def _number(text: bytes | bytearray) -> int | None:
    """Redis's ``string2ll``: an optional minus, digits, no leading zero, 64 bits."""
    if not 0 < len(text) < 21:
        return None
    digits = text[1:] if text[0] == 45 else text  # '-'
    if not digits.isdigit() or (digits[0] == 48 and (len(digits) > 1 or digits is not text)):
        return None
    value = int(digits)
    if digits is not text:
        value = -value
    return value if -_LLONG <= value < _LLONG else None


class RequestParser:
    """Splits a byte stream into commands (lists of bytes).

    ``feed(data)`` returns the complete commands. The parse state (arguments of the
    current command so far, the pending bulk length) is kept across feeds, so each byte is
    examined once however the stream is split. Every declared length is checked against
    the limits before anything is buffered or handed to hiredis, so a peer cannot make the
    server allocate more than ``query_buffer_limit`` bytes.
    """

    __slots__ = (
        "_args",
        "_big",
        "_big_left",
        "_big_size",
        "_bulk",
        "_left",
        "_pending",
        "_reader",
        "_scan",
        "error",
        "is_authenticated",
        "max_bulk",
        "max_inline",
        "max_multibulk",
        "query_buffer_limit",
    )

    def __init__(
        self,
        max_bulk: int = 512 << 20,
        max_multibulk: int = 1024 * 1024,
        max_inline: int = 64 << 10,
        query_buffer_limit: int = 1 << 30,
        is_authenticated: Callable[[], bool] = lambda: True,
    ) -> None:
        self._pending = bytearray()  # received bytes not parsed yet (a partial element)
        self._scan = 0  # how far into _pending a partial line was already searched
        self._args: list[bytes] = []  # arguments of the current command so far
        self._left = 0  # arguments the current command still needs (0: between commands)
        self._bulk = -1  # length of the bulk whose header was read, -1 if none
        self._big: list[Any] | None = None  # chunks of a big bulk being gathered
        self._big_left = 0  # bytes of the big bulk (and its CRLF) still to come
        self._big_size = 0
        # hiredis (when installed) parses whole requests in C: a third of the time
        self._reader: Any = hiredis.Reader() if hiredis is not None else None
        self.max_bulk = max_bulk
        self.max_multibulk = max_multibulk
        self.max_inline = max_inline
        self.query_buffer_limit = query_buffer_limit
        self.is_authenticated = is_authenticated
        self.error: RequestError | None = None

    @property
    def buffered(self) -> int:
        return len(self._pending) + (self._big_size if self._big is not None else 0)

    def feed(self, data: bytes) -> list[list[bytes]]:
        """The commands completed by ``data``. A malformed request raises RequestError;
        when complete commands came before it in the same data they are returned first and
        the error is kept in ``error`` for the caller to act on after running them."""
        if self.error is not None:
            raise self.error
        commands: list[list[bytes]] = []
        if self._big is not None:
            rest = self._gather(data)
            if rest is None:
                return commands
            self._left -= 1
            if not self._left:
                commands.append(self._args)
                self._args = []
            data = rest
        pending = self._pending
        left = self._left
        if (
            left
            and self._bulk < 0
            and len(pending) + len(data) < min(_DEFER_BYTES, _MIN_ELEMENT * left)
        ):
            # The command cannot be complete yet: keep the bytes and parse them with the
            # next ones, so that a request sent in small pieces is parsed in big ones.
            pending += data
            return commands
        if pending:
            pending += data
            if len(pending) > self.query_buffer_limit:
                raise RequestError("query buffer limit reached")
            if self._bulk >= 0 and len(pending) < self._bulk + 2:
                return commands  # the awaited bulk is not complete: nothing to look at
            buf: bytes | bytearray = pending
        elif not data:
            return commands
        else:
            if (
                not commands
                and self._left == 0
                and data[-2:] == _CRLF
                and data[:1] == b"*"
                and len(data) < _FAST_PATH_LIMIT
            ):
                fast = self._parse_whole(data)
                if fast is not None:
                    return fast
            buf = data
        try:
            pos = self._parse(buf, commands)
        except RequestError as exc:
            if not commands:
                raise
            self.error = exc
            return commands
        if buf is pending:
            del pending[:pos]  # cheap: a bytearray drops its head by moving its start
        elif pos < len(buf) and self._big is None:
            pending += buf[pos:]
        if len(pending) > self.query_buffer_limit:
            raise RequestError("query buffer limit reached")
        return commands

    def _gather(self, data: bytes | memoryview) -> bytes | None:
        """Add ``data`` to the big bulk being gathered; when it completes, append it to the
        command (joined: its only copy) and return the bytes after it, else None."""
        big = self._big
        assert big is not None
        left = self._big_left
        size = len(data)
        take = min(size, left)
        value = min(take, left - 2)  # the bulk's bytes in data, not its CRLF
        if value > 0:
            big.append(data if value == size else memoryview(data)[:value])
            self._big_size += value
        self._big_left = left - take
        if self._big_left:
            return None
        self._big = None
        self._big_size = 0
        self._bulk = -1
        self._args.append(b"".join(big))
        big.clear()
        return bytes(data[take:]) if take < size else b""

    def _parse_whole(self, buf: bytes) -> list[list[bytes]] | None:
        """The commands of ``buf`` if it holds only whole, ordinary commands, else None.
        Data shorter than _FAST_PATH_LIMIT cannot break the authenticated limits, so
        hiredis need not check them, once no header declares a count it could allocate."""
        if (
            self._reader is not None
            and self.max_bulk >= _FAST_PATH_LIMIT
            and self.max_multibulk >= _FAST_PATH_LIMIT
            and self.is_authenticated()
            and _HIREDIS_UNSAFE.search(buf) is None
        ):
            return self._parse_whole_hiredis(buf)
        return self._split_whole(buf)

    def _parse_whole_hiredis(self, buf: bytes) -> list[list[bytes]] | None:
        reader = self._reader
        reader.feed(buf)
        commands: list[list[bytes]] = []
        try:
            while (command := reader.gets()) is not False:
                # anything but a non-empty array of bulk strings goes the careful way
                if command.__class__ is not list or not command:
                    break
                for arg in command:
                    if arg.__class__ is not bytes:
                        break
                else:
                    commands.append(command)
                    continue
                break
            else:
                # Did the data end between commands? hiredis does not say, but an empty
                # array parses as [] only there (inside a command it is an element).
                reader.feed(b"*0\r\n")
                if reader.gets() == []:
                    return commands
        except hiredis.ProtocolError:
            pass
        self._reader = hiredis.Reader()  # drop what it holds: _parse starts over
        return None

    def _split_whole(self, buf: bytes) -> list[list[bytes]] | None:
        """The common case in one pass: ``buf`` holds whole arrays of bulk strings and no
        value contains CRLF. Splitting at every CRLF in C then beats searching for each
        one; anything unusual returns None and goes through ``_parse``."""
        parts = buf.split(_CRLF)
        last = len(parts) - 1  # parts[last] is the empty tail after the final CRLF
        authenticated = self.is_authenticated()
        max_count = self.max_multibulk if authenticated else UNAUTHENTICATED_MULTIBULK
        max_bulk = self.max_bulk if authenticated else UNAUTHENTICATED_BULK
        commands: list[list[bytes]] = []
        index = 0
        while index < last:
            header = parts[index]
            digits = header[1:]
            # only plain digits: int() would also take signs, spaces and underscores
            if header[:1] != b"*" or not digits.isdigit() or len(digits) > 18:
                return None
            count = int(digits)
            if not 0 < count <= max_count or index + 2 * count >= last or digits[0] == 48:
                return None
            command = parts[index + 2 : index + 2 * count + 1 : 2]
            for position in range(index + 1, index + 2 * count, 2):
                size = parts[position]
                digits = size[1:]
                if size[:1] != b"$" or not digits.isdigit() or len(digits) > 18:
                    return None
                length = int(digits)
                if length != len(parts[position + 1]) or length > max_bulk:
                    return None
                if digits[0] == 48 and len(digits) > 1:
                    return None
            commands.append(command)
            index += 2 * count + 1
        return commands

    def _parse(self, buf: bytes | bytearray, commands: list[list[bytes]]) -> int:
        """Parse ``buf`` on from the saved state, appending complete commands to
        ``commands``; return how much of it was consumed (the rest is a partial element,
        or the start of a big bulk now gathered in ``_big``)."""
        end = len(buf)
        pos = 0
        scan = self._scan
        left = self._left
        args = self._args
        bulk = self._bulk
        find = buf.find
        # slices of a bytearray go through a view: one copy into bytes, not two
        view = memoryview(buf) if buf.__class__ is bytearray else None
        piece: Any = buf if view is None else view
        authenticated = self.is_authenticated()
        max_bulk = self.max_bulk if authenticated else UNAUTHENTICATED_BULK
        max_bulk = min(max_bulk, self.max_bulk)
        limit = self.query_buffer_limit
        batch = True
        try:
            while pos < end:
                if bulk >= 0:  # the header was read: wait for the bulk and its CRLF
                    stop = pos + bulk
                    if stop + 2 > end:
                        if bulk >= _BIG_ARG:
                            self._start_big(piece, pos, end, bulk)
                            return end
                        return pos
                    args.append(bytes(piece[pos:stop]))
                    pos = stop + 2
                    bulk = -1
                    left -= 1
                    if not left:
                        commands.append(args)
                        args = []
                    continue
                if left == 0 and buf[pos] != 42:  # not '*': an inline command
                    eol = find(b"\n", pos + scan)
                    if eol < 0:
                        if end - pos > self.max_inline:
                            raise RequestError("too big inline request")
                        scan = end - pos
                        return pos
                    scan = 0
                    if eol - pos > self.max_inline:
                        raise RequestError("too big inline request")
                    line = bytes(piece[pos:eol])
                    pos = eol + 1
                    words = split_inline(line.rstrip(b"\r"))
                    if words:
                        commands.append(words)
                    continue
                if left > 8 and batch and not scan:
                    # Many arguments to go: split what is here at every CRLF in C and
                    # check all the headers at once (see _take_split).
                    batch = False
                    taken = self._take_split(piece, pos, end, left, args)
                    if taken:
                        pairs, pos = taken
                        left -= pairs
                        if not left:
                            commands.append(args)
                            args = []
                        continue
                # a header line, '*<count>' or '$<length>': Redis waits for the whole line
                eol = find(_CRLF, pos + scan)
                if eol < 0:
                    if end - pos > _MAX_LINE:
                        raise RequestError(
                            "too big bulk count string" if left else "too big mbulk count string"
                        )
                    scan = max(end - pos - 1, 0)  # a CR at the end may meet its LF next time
                    return pos
                scan = 0
                if left == 0:
                    count = _number(buf[pos + 1 : eol])
                    if count is None or count > self.max_multibulk:
                        raise RequestError("invalid multibulk length")
                    if not authenticated and count > UNAUTHENTICATED_MULTIBULK:
                        raise RequestError("unauthenticated multibulk length")
                    pos = eol + 2
                    left = max(count, 0)
                    batch = True
                    continue
                if buf[pos] != 36:  # '$'
                    got = chr(buf[pos]) if 32 < buf[pos] < 127 else repr(buf[pos : pos + 1])
                    raise RequestError(f"expected '$', got '{got}'")
                digits = buf[pos + 1 : eol]
                if digits.isdigit() and len(digits) < 10 and (digits[0] != 48 or eol == pos + 2):
                    length = int(digits)  # the common case, without _number's call
                else:
                    number = _number(digits)
                    if number is None or number < 0:
                        raise RequestError("invalid bulk length")
                    length = number
                if length > max_bulk:
                    if length > self.max_bulk:
                        raise RequestError("invalid bulk length")
                    raise RequestError("unauthenticated bulk length")
                if length + 2 > limit:
                    raise RequestError("query buffer limit reached")
                pos = eol + 2
                stop = pos + length
                if stop + 2 <= end:  # the bulk is here too: take it at once
                    args.append(bytes(piece[pos:stop]))
                    pos = stop + 2
                    left -= 1
                    if not left:
                        commands.append(args)
                        args = []
                    continue
                bulk = length
            return pos
        finally:
            if view is not None:
                view.release()  # else the bytearray could not be resized
            self._scan = scan
            self._left = left
            self._args = args
            self._bulk = bulk

    def _take_split(
        self, buf: bytes | memoryview, pos: int, end: int, left: int, args: list[bytes]
    ) -> tuple[int, int] | None:
        """Append to ``args`` the complete arguments at ``buf[pos:end]``, if their
        headers are all exactly ``$<length of the part after it>``; return how many and
        where they end. Elements containing a CRLF (or odd headers, or big values) make
        some header differ, and the caller parses one element at a time instead. Costs
        one split of data the caller's parse would copy anyway: linear, tried at most
        once per command and feed."""
        region = bytes(buf[pos:end])
        parts = region.split(_CRLF, 2 * left)
        pairs = (len(parts) - 1) // 2
        if not pairs:
            return None
        headers = tuple(parts[0 : 2 * pairs : 2])
        values = parts[1 : 2 * pairs : 2]
        try:  # no bytecode per argument: one itemgetter looks up every header at once
            expected = itemgetter(*map(len, values))(_BULK_HEADERS) if pairs > 1 else None
            top = len(_BULK_HEADERS) - 1  # the longest value is no longer than this
        except IndexError:  # a longer value
            expected = None
            top = max(map(len, values))
        if expected is None:
            expected = tuple(b"$%d" % len(value) for value in values)
        if headers != expected:
            return None
        limit = min(
            self.max_bulk if self.is_authenticated() else UNAUTHENTICATED_BULK, self.max_bulk
        )
        if top > limit and max(map(len, values)) > limit:
            return None  # the careful parse says which limit
        args += values
        rest = parts[2 * pairs :]
        return pairs, end - sum(map(len, rest)) - 2 * (len(rest) - 1)

    def _start_big(self, buf: bytes | memoryview, pos: int, end: int, length: int) -> None:
        """Gather the rest of a big bulk from the chunks to come (see ``_gather``)."""
        self._big = []
        self._big_size = 0
        self._big_left = length + 2
        if pos < end:
            # A view of received bytes costs nothing; one of the pending bytearray is
            # copied, as the bytearray is about to be reused.
            head = memoryview(buf)[pos:end] if isinstance(buf, bytes) else bytes(buf[pos:end])
            self._gather(head)


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def split_inline(line: bytes) -> list[bytes]:
    """Split an inline command like redis-cli input (Redis's ``sdssplitargs``)."""
    if b'"' not in line and b"'" not in line:
        return line.split()
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        quote = 0
        while i < n:
            ch = line[i]
            if quote == 34:  # inside "..."
                if ch == 92 and i + 3 < n and line[i + 1] == 120 and _is_hex(line[i + 2 : i + 4]):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif ch == 92 and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif ch == 34:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise RequestError("unbalanced quotes in request")
                    quote = 0
                    i += 1
                    break
                else:
                    current.append(ch)
            elif quote == 39:  # inside '...'
                if ch == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif ch == 39:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise RequestError("unbalanced quotes in request")
                    quote = 0
                    i += 1
                    break
                else:
                    current.append(ch)
            elif ch in b" \t\n\r\v\f":
                break
            elif ch in (34, 39):
                quote = ch
            else:
                current.append(ch)
            i += 1
        if quote:
            raise RequestError("unbalanced quotes in request")
        args.append(bytes(current))


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)
