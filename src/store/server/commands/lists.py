"""List commands: pushes and pops, ranges and edits, LPOS, moves between lists, and the
blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP).

A list is a ``collections.deque``. Reads of a range walk from the nearer end, so LRANGE
and LINDEX near the tail of a long list do not scan it from the head.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..client import NOT_READY
from ..notify import LIST, notify, notify_removed
from ..protocol import NULL_ARRAY, OK
from . import (
    BLOCKING,
    NOSCRIPT,
    WRITE,
    WRONGTYPE,
    CommandError,
    command,
    parse_int,
    syntax_error,
    wrong_args,
)
from ._shared import (
    MUST_BE_POSITIVE,
    Pop,
    block,
    index_span,
    numkeys_keys,
    parse_mpop,
    parse_timeout,
    pop_first,
    pop_or_block,
    range_long,
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


def _move(
    client: Client,
    source: bytes,
    src: List,
    dest: bytes,
    dst: List | None,
    left_from: bool,
    left_to: bool,
) -> bytes:
    """Pop from ``src`` and push onto ``dest`` (``dst``, its checked list, or None).
    Redis's events: the push, then the pop (and ``del`` if that emptied the source)."""
    value = src.popleft() if left_from else src.pop()
    if dst is None:
        dst = client.db.get_or_create(dest, deque)
    if left_to:
        dst.appendleft(value)
    else:
        dst.append(value)
    if client.server.notify_flags:
        notify(client, LIST, b"lpush" if left_to else b"rpush", dest)
        notify_removed(client, LIST, b"lpop" if left_from else b"rpop", source, src)
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
    if client.server.notify_flags:
        notify(client, LIST, b"lpush" if left else b"rpush", key)
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
    count = range_long(args[2], 0, MUST_BE_POSITIVE) if len(args) == 3 else None
    lst = _get_list(client, args[1])
    if lst is None:
        client.propagate = []
        return None if count is None else NULL_ARRAY
    if count is None:
        value = lst.popleft() if left else lst.pop()
        if client.server.notify_flags:
            notify_removed(client, LIST, b"lpop" if left else b"rpop", args[1], lst)
        return value
    if count == 0:
        client.propagate = []
        return []
    values = _pop_many(lst, left, count)
    notify_removed(client, LIST, b"lpop" if left else b"rpop", args[1], lst)
    return values


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


@command("lrange", 4, keys=(1, 1, 1))
def lrange(client: Client, args: list[bytes]) -> Any:
    start, end = parse_int(args[2]), parse_int(args[3])
    lst = _get_list(client, args[1])
    if lst is None:
        return []
    first, stop = index_span(start, end, len(lst))
    return _slice(lst, first, stop) if first < stop else []


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
            count = range_long(value, 0, "COUNT can't be negative")
        elif option == b"MAXLEN":
            maxlen = range_long(value, 0, "MAXLEN can't be negative")
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
    notify(client, LIST, b"lset", args[1])
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
    notify(client, LIST, b"linsert", args[1])
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
    notify_removed(client, LIST, b"lrem", args[1], lst)
    return removed


@command("ltrim", 4, WRITE, keys=(1, 1, 1))
def ltrim(client: Client, args: list[bytes]) -> Any:
    start, end = parse_int(args[2]), parse_int(args[3])
    lst = _get_list(client, args[1])
    if lst is None:
        client.propagate = []
        return OK
    size = len(lst)
    first, stop = index_span(start, end, size)
    if first == stop:
        lst.clear()  # the server deletes the emptied key
        notify_removed(client, LIST, b"ltrim", args[1], lst)
        return OK
    if first == 0 and stop == size:
        client.propagate = []  # nothing changed, but Redis still reports an ltrim
    elif size - (stop - first) <= stop - first:
        for _ in range(first):
            lst.popleft()
        for _ in range(size - stop):
            lst.pop()
    else:  # keeping less than is dropped: copy the kept part
        kept = _slice(lst, first, stop)
        lst.clear()
        lst.extend(kept)
    notify(client, LIST, b"ltrim", args[1])
    return OK


# -- moves and multi-key pops ----------------------------------------------------------------


def _lmove(client: Client, source: bytes, dest: bytes, left_from: bool, left_to: bool) -> Any:
    src = _get_list(client, source)
    if not src:
        client.propagate = []
        return None
    dst = _get_list(client, dest)
    return _move(client, source, src, dest, dst, left_from, left_to)


@command("lmove", 5, WRITE, keys=(1, 2, 1))
def lmove(client: Client, args: list[bytes]) -> Any:
    left_from, left_to = _is_left(args[3]), _is_left(args[4])
    return _lmove(client, args[1], args[2], left_from, left_to)


@command("rpoplpush", 3, WRITE, keys=(1, 2, 1))
def rpoplpush(client: Client, args: list[bytes]) -> Any:
    return _lmove(client, args[1], args[2], False, True)


def _list_pop(client: Client, left: bool, count: int) -> Pop:
    """The pop of the multi-key commands: BLPOP/BRPOP's [key, value] (``count`` 0) or
    LMPOP/BLMPOP's [key, [values]], logged as [LR]POP key [n]."""
    name = b"LPOP" if left else b"RPOP"
    event = b"lpop" if left else b"rpop"

    def pop(key: bytes, lst: List) -> tuple[Any, list[bytes]]:
        if count:
            popped = _pop_many(lst, left, count)
            notify_removed(client, LIST, event, key, lst)
            return [key, popped], [name, key, b"%d" % len(popped)]
        value = lst.popleft() if left else lst.pop()
        notify_removed(client, LIST, event, key, lst)
        return [key, value], [name, key]

    return pop


@command("lmpop", -4, WRITE, keys=numkeys_keys(1))
def lmpop(client: Client, args: list[bytes]) -> Any:
    keys, left, count = parse_mpop(args, 1, _is_left)
    reply = pop_first(client, keys, deque, _list_pop(client, left, count))
    return NULL_ARRAY if reply is None else reply


# -- blocking --------------------------------------------------------------------------------


@command("blpop", -3, WRITE, NOSCRIPT, BLOCKING, keys=(1, -2, 1))
def blpop(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[-1])
    return pop_or_block(client, args[1:-1], timeout, deque, _list_pop(client, True, 0))


@command("brpop", -3, WRITE, NOSCRIPT, BLOCKING, keys=(1, -2, 1))
def brpop(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[-1])
    return pop_or_block(client, args[1:-1], timeout, deque, _list_pop(client, False, 0))


@command("blmpop", -5, WRITE, BLOCKING, keys=numkeys_keys(2))
def blmpop(client: Client, args: list[bytes]) -> Any:
    keys, left, count = parse_mpop(args, 2, _is_left)  # Redis reads the timeout after the rest
    timeout = parse_timeout(args[1])
    return pop_or_block(client, keys, timeout, deque, _list_pop(client, left, count))


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
        value = _move(client, key, src, dest, dst, left_from, left_to)
        server.propagate(db, logged)
        server.wrote(db, [source, dest])  # wakes the clients waiting on dest
        return value

    return block(client, [source], timeout, retry, None)


@command("blmove", 6, WRITE, NOSCRIPT, BLOCKING, keys=(1, 2, 1))
def blmove(client: Client, args: list[bytes]) -> Any:
    left_from, left_to = _is_left(args[3]), _is_left(args[4])
    timeout = parse_timeout(args[5])
    return _blocking_move(client, args, left_from, left_to, timeout)


@command("brpoplpush", 4, WRITE, NOSCRIPT, BLOCKING, keys=(1, 2, 1))
def brpoplpush(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[3])
    return _blocking_move(client, args, False, True, timeout)
