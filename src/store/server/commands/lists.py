"""List commands: pushes and pops, ranges and edits, LPOS, moves between lists, and the
blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP).

A list is a ``collections.deque``. Reads of a range walk from the nearer end, so LRANGE
and LINDEX near the tail of a long list do not scan it from the head.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..client import NOT_READY, Blocked
from ..keyspace import Database
from ..protocol import NULL_ARRAY, OK
from . import (
    BLOCKING,
    WRITE,
    WRONGTYPE,
    CommandError,
    command,
    parse_int,
    syntax_error,
    wrong_args,
)

if TYPE_CHECKING:
    from ..client import Client

List = deque[bytes]

LONG_MIN = -(1 << 63)
_FAR = 4096  # elements to skip before _slice rotates instead of iterating


# -- helpers ---------------------------------------------------------------------------------


def _get_list(client: Client, key: bytes) -> List | None:
    return client.db.get_typed(key, deque)  # type: ignore[no-any-return]


def _is_left(value: bytes) -> bool:
    """LEFT or RIGHT, case-insensitive; anything else is a syntax error."""
    word = value.upper()
    if word == b"LEFT":
        return True
    if word == b"RIGHT":
        return False
    raise syntax_error()


def _positive(value: bytes, what: str = "value is out of range, must be positive") -> int:
    """Redis's getPositiveLongFromObjectOrReply: the message covers non-numbers too."""
    number = parse_int(value, what)
    if number < 0:
        raise CommandError(f"ERR {what}")
    return number


def _range_long(value: bytes, low: int, what: str) -> int:
    number = parse_int(value, what)
    if number < low:
        raise CommandError(f"ERR {what}")
    return number


def _slice(lst: List, start: int, stop: int) -> list[bytes]:
    """``lst[start:stop]`` (0 <= start <= stop <= len) walking from the nearer end."""
    size = len(lst)
    if min(start, size - stop) > _FAR:
        # Deep inside a long list: rotating moves whole blocks (memcpy), several times
        # faster than stepping an iterator over every element before the range.
        lst.rotate(-start)
        try:
            return list(islice(lst, stop - start))
        finally:
            lst.rotate(start)
    if start <= size - stop:
        return list(islice(lst, start, stop))
    items = list(islice(reversed(lst), size - stop, size - start))
    items.reverse()
    return items


def _pop_many(lst: List, left: bool, count: int) -> list[bytes]:
    pop = lst.popleft if left else lst.pop
    return [pop() for _ in range(min(count, len(lst)))]


def _unique(keys: list[bytes]) -> list[bytes]:
    # A key named twice is waited on once, as in Redis's blockForKeys.
    return list(dict.fromkeys(keys))


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


def _mpop_keys(numkeys_at: int) -> Callable[[list[bytes]], list[bytes]]:
    """Key finder of LMPOP/BLMPOP: ``numkeys`` keys after the numkeys argument."""

    def find(args: list[bytes]) -> list[bytes]:
        try:
            count = int(args[numkeys_at])
        except (IndexError, ValueError):
            return []
        if count <= 0:
            return []
        return args[numkeys_at + 1 : numkeys_at + 1 + count]

    return find


def _move(
    db: Database, src: List, dest: bytes, dst: List | None, left_from: bool, left_to: bool
) -> bytes:
    """Pop from ``src`` and push onto ``dest`` (``dst``, its checked list, or None)."""
    value = src.popleft() if left_from else src.pop()
    if dst is None:
        dst = db.get_or_create(dest, deque)
    if left_to:
        dst.appendleft(value)
    else:
        dst.append(value)
    return value


def _side(left: bool) -> bytes:
    return b"LEFT" if left else b"RIGHT"


# -- pushes ----------------------------------------------------------------------------------


def _push(client: Client, args: list[bytes], left: bool, only_existing: bool) -> int:
    key = args[1]
    if only_existing:
        lst = _get_list(client, key)
        if lst is None:
            client.propagate = []
            return 0
    else:
        lst = client.db.get_or_create(key, deque)
    if left:
        lst.extendleft(args[2:])
    else:
        lst.extend(args[2:])
    return len(lst)


@command("lpush", -3, WRITE, keys=(1, 1, 1))
def lpush(client: Client, args: list[bytes]) -> Any:
    return _push(client, args, True, False)


@command("rpush", -3, WRITE, keys=(1, 1, 1))
def rpush(client: Client, args: list[bytes]) -> Any:
    return _push(client, args, False, False)


@command("lpushx", -3, WRITE, keys=(1, 1, 1))
def lpushx(client: Client, args: list[bytes]) -> Any:
    return _push(client, args, True, True)


@command("rpushx", -3, WRITE, keys=(1, 1, 1))
def rpushx(client: Client, args: list[bytes]) -> Any:
    return _push(client, args, False, True)


# -- pops ------------------------------------------------------------------------------------


def _pop(client: Client, args: list[bytes], left: bool) -> Any:
    if len(args) > 3:
        raise wrong_args(args[0])
    count = _positive(args[2]) if len(args) == 3 else None
    lst = _get_list(client, args[1])
    if lst is None:
        client.propagate = []
        return None if count is None else NULL_ARRAY
    if count is None:
        return lst.popleft() if left else lst.pop()
    if count == 0:
        client.propagate = []
    return _pop_many(lst, left, count)


@command("lpop", -2, WRITE, keys=(1, 1, 1))
def lpop(client: Client, args: list[bytes]) -> Any:
    return _pop(client, args, True)


@command("rpop", -2, WRITE, keys=(1, 1, 1))
def rpop(client: Client, args: list[bytes]) -> Any:
    return _pop(client, args, False)


# -- reads -----------------------------------------------------------------------------------


@command("llen", 2, keys=(1, 1, 1))
def llen(client: Client, args: list[bytes]) -> Any:
    lst = _get_list(client, args[1])
    return 0 if lst is None else len(lst)


def _normalise_range(start: int, end: int, size: int) -> tuple[int, int] | None:
    """Redis's start/end (inclusive, negative from the tail) as a slice, or None if empty."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if start > end or start >= size:
        return None
    return start, min(end, size - 1) + 1


@command("lrange", 4, keys=(1, 1, 1))
def lrange(client: Client, args: list[bytes]) -> Any:
    start, end = parse_int(args[2]), parse_int(args[3])
    lst = _get_list(client, args[1])
    if lst is None:
        return []
    bounds = _normalise_range(start, end, len(lst))
    return [] if bounds is None else _slice(lst, *bounds)


def _index(lst: List, index: int) -> int | None:
    position = index + len(lst) if index < 0 else index
    return position if 0 <= position < len(lst) else None


@command("lindex", 3, keys=(1, 1, 1))
def lindex(client: Client, args: list[bytes]) -> Any:
    lst = _get_list(client, args[1])
    if lst is None:
        return None
    position = _index(lst, parse_int(args[2]))
    # deque indexing walks from the nearer end.
    return None if position is None else lst[position]


@command("lpos", -3, keys=(1, 1, 1))
def lpos(client: Client, args: list[bytes]) -> Any:
    element = args[2]
    rank, count, maxlen = 1, -1, 0
    index = 3
    while index < len(args):
        option = args[index].upper()
        if index + 1 >= len(args):
            raise syntax_error()
        value = args[index + 1]
        if option == b"RANK":
            rank = parse_int(value)
            if rank == 0:
                raise CommandError(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"
                )
        elif option == b"COUNT":
            count = _positive(value, "COUNT can't be negative")
        elif option == b"MAXLEN":
            maxlen = _positive(value, "MAXLEN can't be negative")
        else:
            raise syntax_error()
        index += 2
    reverse = rank < 0
    if rank == LONG_MIN:
        # Redis negates LONG_MIN into itself: every match qualifies and COUNT never stops.
        rank = 1
        if count != -1:
            count = 0
    elif reverse:
        rank = -rank
    lst = _get_list(client, args[1])
    if lst is None:
        return [] if count != -1 else None
    size = len(lst)
    items = reversed(lst) if reverse else iter(lst)
    if maxlen:
        items = islice(items, maxlen)
    found: list[int] = []
    matches = 0
    for offset, item in enumerate(items):
        if item == element:
            matches += 1
            if matches >= rank:
                position = size - 1 - offset if reverse else offset
                if count == -1:
                    return position
                found.append(position)
                if count and len(found) >= count:
                    break
    return found if count != -1 else None


# -- edits -----------------------------------------------------------------------------------


@command("lset", 4, WRITE, keys=(1, 1, 1))
def lset(client: Client, args: list[bytes]) -> Any:
    lst = _get_list(client, args[1])
    if lst is None:
        raise CommandError("ERR no such key")
    position = _index(lst, parse_int(args[2]))
    if position is None:
        raise CommandError("ERR index out of range")
    lst[position] = args[3]
    return OK


@command("linsert", 5, WRITE, keys=(1, 1, 1))
def linsert(client: Client, args: list[bytes]) -> Any:
    where = args[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        raise syntax_error()
    lst = _get_list(client, args[1])
    if lst is None:
        client.propagate = []
        return 0
    try:
        position = lst.index(args[3])
    except ValueError:
        client.propagate = []
        return -1
    lst.insert(position if where == b"BEFORE" else position + 1, args[4])
    return len(lst)


@command("lrem", 4, WRITE, keys=(1, 1, 1))
def lrem(client: Client, args: list[bytes]) -> Any:
    count = parse_int(args[2])
    lst = _get_list(client, args[1])
    element = args[3]
    if lst is None or element not in lst:
        client.propagate = []
        return 0
    limit = abs(count) or len(lst)
    kept: list[bytes] = []
    removed = 0
    for item in reversed(lst) if count < 0 else lst:
        if removed < limit and item == element:
            removed += 1
        else:
            kept.append(item)
    if count < 0:
        kept.reverse()
    lst.clear()
    lst.extend(kept)
    return removed


@command("ltrim", 4, WRITE, keys=(1, 1, 1))
def ltrim(client: Client, args: list[bytes]) -> Any:
    start, end = parse_int(args[2]), parse_int(args[3])
    lst = _get_list(client, args[1])
    if lst is None:
        client.propagate = []
        return OK
    size = len(lst)
    bounds = _normalise_range(start, end, size)
    if bounds is None:
        lst.clear()  # the server deletes the emptied key
        return OK
    first, stop = bounds
    if first == 0 and stop == size:
        client.propagate = []
    elif size - (stop - first) <= stop - first:
        for _ in range(first):
            lst.popleft()
        for _ in range(size - stop):
            lst.pop()
    else:  # keeping less than is dropped: copy the kept part
        kept = _slice(lst, first, stop)
        lst.clear()
        lst.extend(kept)
    return OK


# -- moves and multi-key pops ----------------------------------------------------------------


def _lmove(client: Client, source: bytes, dest: bytes, left_from: bool, left_to: bool) -> Any:
    db = client.db
    src = _get_list(client, source)
    if not src:
        client.propagate = []
        return None
    dst = _get_list(client, dest)
    return _move(db, src, dest, dst, left_from, left_to)


@command("lmove", 5, WRITE, keys=(1, 2, 1))
def lmove(client: Client, args: list[bytes]) -> Any:
    left_from, left_to = _is_left(args[3]), _is_left(args[4])
    return _lmove(client, args[1], args[2], left_from, left_to)


@command("rpoplpush", 3, WRITE, keys=(1, 2, 1))
def rpoplpush(client: Client, args: list[bytes]) -> Any:
    return _lmove(client, args[1], args[2], False, True)


def _parse_mpop(args: list[bytes], numkeys_at: int) -> tuple[list[bytes], bool, int]:
    """numkeys, keys, LEFT|RIGHT and [COUNT n] of LMPOP/BLMPOP."""
    numkeys = _range_long(args[numkeys_at], 1, "numkeys should be greater than 0")
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(args):
        raise syntax_error()
    left = _is_left(args[where_at])
    count = -1
    index = where_at + 1
    while index < len(args):
        if count == -1 and args[index].upper() == b"COUNT" and index + 1 < len(args):
            count = _range_long(args[index + 1], 1, "count should be greater than 0")
            index += 2
        else:
            raise syntax_error()
    return args[numkeys_at + 1 : where_at], left, max(count, 1)


def _pop_first(client: Client, keys: list[bytes], left: bool, count: int) -> Any:
    """Pop up to ``count`` from the first non-empty list of ``keys``, or None; the
    change is logged as [LR]POP key n."""
    for key in keys:
        lst = _get_list(client, key)
        if lst:
            popped = _pop_many(lst, left, count)
            client.propagate = [[b"LPOP" if left else b"RPOP", key, b"%d" % len(popped)]]
            return [key, popped]
    return None


@command("lmpop", -4, WRITE, keys=_mpop_keys(1))
def lmpop(client: Client, args: list[bytes]) -> Any:
    keys, left, count = _parse_mpop(args, 1)
    reply = _pop_first(client, keys, left, count)
    if reply is None:
        client.propagate = []
        return NULL_ARRAY
    return reply


# -- blocking --------------------------------------------------------------------------------


def _block(client: Client, keys: list[bytes], timeout: float, retry: Any, reply: Any) -> Any:
    """Wait on ``keys``; where blocking is not allowed, answer the timeout reply now."""
    client.propagate = []  # nothing changed yet: retry logs what it does
    if not client.can_block:
        return reply
    return Blocked(_unique(keys), timeout, retry, reply)


def _blocking_pop(client: Client, keys: list[bytes], timeout: float, left: bool, count: int) -> Any:
    """BLPOP/BRPOP (count 0: reply [key, value]) and BLMPOP (reply [key, [values]])."""
    name = b"LPOP" if left else b"RPOP"
    for key in keys:
        lst = _get_list(client, key)
        if lst:
            if count:
                popped = _pop_many(lst, left, count)
                client.propagate = [[name, key, b"%d" % len(popped)]]
                return [key, popped]
            client.propagate = [[name, key]]
            return [key, lst.popleft() if left else lst.pop()]

    server = client.server
    db = client.db

    def retry(key: bytes) -> Any:
        lst = db.get(key)
        if type(lst) is not deque or not lst:
            return NOT_READY
        if count:
            popped = _pop_many(lst, left, count)
            server.propagate(db, [name, key, b"%d" % len(popped)])
            reply: list[Any] = [key, popped]
        else:
            server.propagate(db, [name, key])
            reply = [key, lst.popleft() if left else lst.pop()]
        server.wrote(db, [key])
        return reply

    return _block(client, keys, timeout, retry, NULL_ARRAY)


@command("blpop", -3, WRITE, BLOCKING, keys=(1, -2, 1))
def blpop(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[-1])
    return _blocking_pop(client, args[1:-1], timeout, True, 0)


@command("brpop", -3, WRITE, BLOCKING, keys=(1, -2, 1))
def brpop(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[-1])
    return _blocking_pop(client, args[1:-1], timeout, False, 0)


@command("blmpop", -5, WRITE, BLOCKING, keys=_mpop_keys(2))
def blmpop(client: Client, args: list[bytes]) -> Any:
    keys, left, count = _parse_mpop(args, 2)  # Redis reads the timeout after the rest
    timeout = parse_timeout(args[1])
    return _blocking_pop(client, keys, timeout, left, count)


def _blocking_move(
    client: Client, args: list[bytes], left_from: bool, left_to: bool, timeout: float
) -> Any:
    source, dest = args[1], args[2]
    # What the AOF gets: the non-blocking command of the same name.
    if len(args) == 4:
        logged = [b"RPOPLPUSH", source, dest]
    else:
        logged = [b"LMOVE", source, dest, _side(left_from), _side(left_to)]
    if _get_list(client, source):
        reply = _lmove(client, source, dest, left_from, left_to)
        client.propagate = [logged]
        return reply

    server = client.server
    db = client.db

    def retry(key: bytes) -> Any:
        src = db.get(key)
        if type(src) is not deque or not src:
            return NOT_READY
        dst = db.get(dest)
        if dst is not None and type(dst) is not deque:
            raise CommandError(WRONGTYPE)
        value = _move(db, src, dest, dst, left_from, left_to)
        server.propagate(db, logged)
        server.wrote(db, [source, dest])  # wakes the clients waiting on dest
        return value

    return _block(client, [source], timeout, retry, None)


@command("blmove", 6, WRITE, BLOCKING, keys=(1, 2, 1))
def blmove(client: Client, args: list[bytes]) -> Any:
    left_from, left_to = _is_left(args[3]), _is_left(args[4])
    timeout = parse_timeout(args[5])
    return _blocking_move(client, args, left_from, left_to, timeout)


@command("brpoplpush", 4, WRITE, BLOCKING, keys=(1, 2, 1))
def brpoplpush(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[3])
    return _blocking_move(client, args, False, True, timeout)
