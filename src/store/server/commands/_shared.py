"""What the list and sorted set families share: index ranges, numbers in a range, the
MPOP arguments (LMPOP BLMPOP ZMPOP BZMPOP), key finders for ``numkeys key...``, and
the blocking pops (timeouts, popping from the first non-empty key or waiting for one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..client import NOT_READY, Blocked
from ..protocol import NULL_ARRAY
from . import CommandError, parse_int, syntax_error

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "MUST_BE_POSITIVE",
    "Pop",
    "block",
    "index_span",
    "numkeys_keys",
    "parse_mpop",
    "parse_timeout",
    "pop_first",
    "pop_or_block",
    "range_long",
]

MUST_BE_POSITIVE = "value is out of range, must be positive"

# pop(key, value) -> (reply, the command the AOF gets for what it popped)
Pop = Callable[[bytes, Any], tuple[Any, list[bytes]]]


# -- arguments -------------------------------------------------------------------------------


def index_span(start: int, end: int, size: int) -> tuple[int, int]:
    """Redis's start/end indexes (inclusive, negative from the tail) of a sequence of
    ``size`` items as positions [a, b), clamped as LRANGE and ZRANGE do; a == b when the
    range is empty."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = max(start, 0)
    if start > end or start >= size:
        return 0, 0
    return start, min(end, size - 1) + 1


def range_long(value: bytes, low: int, what: str) -> int:
    """Redis's getRangeLongFromObjectOrReply with a message (``ERR <what>``): it covers
    non-numbers too."""
    number = parse_int(value, what)
    if number < low:
        raise CommandError(f"ERR {what}")
    return number


def numkeys_keys(numkeys_at: int, with_dest: bool = False) -> Callable[[list[bytes]], list[bytes]]:
    """Key finder for commands with ``numkeys key...`` (and a destination key before it)."""

    def find(args: list[bytes]) -> list[bytes]:
        try:
            count = int(args[numkeys_at])
        except (IndexError, ValueError):
            return []
        found = args[numkeys_at + 1 : numkeys_at + 1 + max(count, 0)]
        return [args[1], *found] if with_dest else found

    return find


def parse_mpop(
    args: list[bytes], numkeys_at: int, where: Callable[[bytes], bool]
) -> tuple[list[bytes], bool, int]:
    """numkeys, keys, the end to pop from (LEFT|RIGHT, MIN|MAX: ``where`` reads it or
    raises a syntax error) and [COUNT n] of the MPOP commands."""
    numkeys = range_long(args[numkeys_at], 1, "numkeys should be greater than 0")
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(args):
        raise syntax_error()
    end = where(args[where_at])
    count = -1
    index = where_at + 1
    while index < len(args):
        if count == -1 and args[index].upper() == b"COUNT" and index + 1 < len(args):
            count = range_long(args[index + 1], 1, "count should be greater than 0")
            index += 2
        else:
            raise syntax_error()
    return args[numkeys_at + 1 : where_at], end, max(count, 1)


# Timeouts are read like strtold: decimal or hexadecimal floats and inf, no spaces, no
# underscores (which Python's float() would accept).
_DECIMAL = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")
_INFINITY = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)
# Beyond the range of a long double strtold reports ERANGE, which Redis refuses.
_LDBL_MAX = Decimal("1.18973149535723176502e4932")
_LDBL_TINY = Decimal("1.8e-4951")


def parse_timeout(value: bytes) -> float:
    """A blocking command's timeout in seconds (0: for ever), as Redis 7.0 reads it:
    float seconds truncated to whole milliseconds."""
    not_float = CommandError("ERR timeout is not a float or out of range")
    if _DECIMAL.fullmatch(value):
        try:
            exact = Decimal(value.decode())
        except InvalidOperation:  # an exponent too large even for Decimal
            exact = Decimal(0 if value.lower().split(b"e")[0].strip(b"+-.0") == b"" else "inf")
        if exact and not _LDBL_TINY <= exact.copy_abs() <= _LDBL_MAX:
            raise not_float
        number = float(value)
    elif _HEX.fullmatch(value):
        try:
            number = float.fromhex(value.decode())
        except OverflowError:  # beyond a double, but a long double holds it: too long
            number = float("inf")
    elif _INFINITY.fullmatch(value):
        number = float(value)
    else:
        raise not_float
    millis = number * 1000.0
    # Redis casts to long long: values out of its range become LLONG_MIN, so "negative".
    if not -(2.0**63) <= millis < 2.0**63 or int(millis) < 0:
        raise CommandError("ERR timeout is negative")
    return int(millis) / 1000.0


# -- pops and waiting ------------------------------------------------------------------------


def block(
    client: Client,
    keys: list[bytes],
    timeout: float,
    retry: Callable[[bytes], Any],
    timeout_reply: Any,
) -> Any:
    """Wait on ``keys``; where blocking is not allowed (EXEC, scripts), answer the timeout
    reply now."""
    client.propagate = []  # nothing changed yet: retry logs what it does
    if not client.can_block:
        return timeout_reply
    # A key named twice is waited on once, as in Redis's blockForKeys.
    return Blocked(list(dict.fromkeys(keys)), timeout, retry, timeout_reply)


def pop_first(client: Client, keys: list[bytes], kind: type, pop: Pop) -> Any:
    """``pop`` from the first of ``keys`` holding a non-empty ``kind``, logging what it
    popped; None (and nothing logged) when they are all empty."""
    db = client.db
    for key in keys:
        value = db.get_typed(key, kind)
        if value:
            reply, logged = pop(key, value)
            client.propagate = [logged]
            return reply
    client.propagate = []
    return None


def pop_or_block(client: Client, keys: list[bytes], timeout: float, kind: type, pop: Pop) -> Any:
    """A blocking pop: ``pop_first`` now, or wait until one of ``keys`` has data (the
    timeout answers a null array)."""
    reply = pop_first(client, keys, kind, pop)
    if reply is not None:
        return reply
    server = client.server
    db = client.db

    def retry(key: bytes) -> Any:
        value = db.get(key)
        if type(value) is not kind or not value:
            return NOT_READY
        reply, logged = pop(key, value)
        server.propagate(db, logged)
        server.wrote(db, [key])
        return reply

    return block(client, keys, timeout, retry, NULL_ARRAY)
