"""PulsarDS's side of RESP: the request parser (arrays and inline commands, with limits)
and the reply encoder (RESP2 or RESP3 per client). Sans-IO.

The client's reader (``store.resp``) parses every RESP3 type from a trusted server;
requests are only arrays of bulk strings or inline lines from an untrusted peer, so the
server has this narrower parser that checks every length before it buffers anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..resp import hiredis

__all__ = [
    "NULL_ARRAY",
    "OK",
    "PONG",
    "QUEUED",
    "ErrorReply",
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
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif kind is int:
        out.append(_SMALL_INTS[value + 1] if -1 <= value <= 1024 else b":%d\r\n" % value)
    elif kind is SimpleString:
        out.append(_FIXED.get(id(value)) or b"+%s\r\n" % value)
    elif value is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif kind is list or kind is tuple:
        out.append(b"*%d\r\n" % len(value))
        for item in value:
            encode_reply(item, resp3, out)
    elif kind is ErrorReply:
        out.append(error_line(value))
    elif kind is float:
        text = format_double(value)
        out.append(b",%s\r\n" % text if resp3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif kind is dict:
        out.append((b"%%%d\r\n" if resp3 else b"*%d\r\n") % (len(value) * (1 if resp3 else 2)))
        for key, item in value.items():
            encode_reply(key, resp3, out)
            encode_reply(item, resp3, out)
    elif kind is set or kind is frozenset:
        out.append((b"~%d\r\n" if resp3 else b"*%d\r\n") % len(value))
        for item in value:
            encode_reply(item, resp3, out)
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
    elif isinstance(value, bytes):
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif isinstance(value, int):
        out.append(b":%d\r\n" % value)
    else:
        raise TypeError(f"cannot encode a {kind.__name__} reply")


# Above this size a request is parsed piece by piece (splitting it all would double it).
_FAST_PATH_LIMIT = 1 << 16
# Redis refuses big requests from clients that have not authenticated yet.
UNAUTHENTICATED_MULTIBULK = 10
UNAUTHENTICATED_BULK = 16384


class RequestParser:
    """Splits a byte stream into commands (lists of bytes).

    ``feed(data)`` returns the complete commands; a partial command waits for more data
    without being parsed again until enough bytes have arrived. Every length is checked
    against the limits before any buffering, so a peer cannot make the server allocate
    more than ``query_buffer_limit`` bytes.
    """

    __slots__ = (
        "_need",
        "_pending",
        "_reader",
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
        self._pending = bytearray()
        self._need = 0  # bytes the pending partial command needs before parsing again
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
        return len(self._pending)

    def feed(self, data: bytes) -> list[list[bytes]]:
        """The commands completed by ``data``. A malformed request raises RequestError;
        when complete commands came before it in the same data they are returned first and
        the error is kept in ``error`` for the caller to act on after running them."""
        if self.error is not None:
            raise self.error
        if self._pending:
            self._pending += data
            if len(self._pending) > self.query_buffer_limit:
                raise RequestError("query buffer limit reached")
            if len(self._pending) < self._need:
                return []
            data = bytes(self._pending)
            self._pending.clear()
        if data[-2:] == _CRLF and data[:1] == b"*" and len(data) < _FAST_PATH_LIMIT:
            fast = self._parse_whole(data)
            if fast is not None:
                return fast
        commands: list[list[bytes]] = []
        try:
            pos = self._parse(data, commands)
        except RequestError as exc:
            if not commands:
                raise
            self.error = exc
            return commands
        if pos < len(data):
            self._pending += data[pos:] if pos else data
            if len(self._pending) > self.query_buffer_limit or self._need > self.query_buffer_limit:
                raise RequestError("query buffer limit reached")
        return commands

    def _parse_whole(self, buf: bytes) -> list[list[bytes]] | None:
        """The commands of ``buf`` if it holds only whole, ordinary commands, else None.
        Data shorter than _FAST_PATH_LIMIT cannot break the authenticated limits, so
        hiredis need not check them."""
        if (
            self._reader is not None
            and self.max_bulk >= _FAST_PATH_LIMIT
            and self.max_multibulk >= _FAST_PATH_LIMIT
            and self.is_authenticated()
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
        try:
            while index < last:
                header = parts[index]
                if header[:1] != b"*":
                    return None
                count = int(header[1:])
                if not 0 < count <= max_count or index + 2 * count >= last:
                    return None
                command = parts[index + 2 : index + 2 * count + 1 : 2]
                for position in range(index + 1, index + 2 * count, 2):
                    size = parts[position]
                    if size[:1] != b"$":
                        return None
                    length = int(size[1:])
                    if length != len(parts[position + 1]) or length > max_bulk:
                        return None
                commands.append(command)
                index += 2 * count + 1
        except ValueError:
            return None
        return commands

    def _parse(self, buf: bytes, commands: list[list[bytes]]) -> int:
        """Parse complete commands from ``buf`` into ``commands``; return where they end."""
        end = len(buf)
        pos = 0
        self._need = 0
        while pos < end:
            if buf[pos] != 42:  # not '*': an inline command
                eol = buf.find(b"\n", pos)
                if eol < 0:
                    if end - pos > self.max_inline:
                        raise RequestError("too big inline request")
                    return pos
                if eol - pos > self.max_inline:
                    raise RequestError("too big inline request")
                line = buf[pos:eol]
                pos = eol + 1
                words = split_inline(line.rstrip(b"\r"))
                if words:
                    commands.append(words)
                continue
            eol = buf.find(_CRLF, pos)
            if eol < 0:
                if end - pos > 64 << 10:
                    raise RequestError("too big mbulk count string")
                return pos
            try:
                count = int(buf[pos + 1 : eol])
            except ValueError:
                raise RequestError("invalid multibulk length") from None
            authenticated = self.is_authenticated()
            if count > self.max_multibulk or (
                not authenticated and count > UNAUTHENTICATED_MULTIBULK
            ):
                raise RequestError(
                    "invalid multibulk length"
                    if authenticated
                    else "unauthenticated multibulk length"
                )
            cursor = eol + 2
            if count <= 0:
                pos = cursor
                continue
            command: list[bytes] = []
            append = command.append
            max_bulk = self.max_bulk if authenticated else UNAUTHENTICATED_BULK
            for _ in range(count):
                if cursor >= end:
                    return pos
                if buf[cursor] != 36:  # '$'
                    got = (
                        chr(buf[cursor])
                        if 32 < buf[cursor] < 127
                        else repr(buf[cursor : cursor + 1])
                    )
                    raise RequestError(f"expected '$', got '{got}'")
                eol = buf.find(_CRLF, cursor)
                if eol < 0:
                    if end - cursor > 64 << 10:
                        raise RequestError("too big bulk count string")
                    return pos
                try:
                    length = int(buf[cursor + 1 : eol])
                except ValueError:
                    raise RequestError("invalid bulk length") from None
                if length < 0 or length > max_bulk:
                    raise RequestError(
                        "invalid bulk length" if authenticated else "unauthenticated bulk length"
                    )
                start = eol + 2
                stop = start + length
                if stop + 2 > end:
                    self._need = stop + 2 - pos
                    return pos
                append(buf[start:stop])
                cursor = stop + 2
            commands.append(command)
            pos = cursor
        return pos


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
