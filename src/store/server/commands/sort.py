"""SORT and SORT_RO: sort a list, set or sorted set numerically or as strings, by its
elements or by keys named after them (BY), return elements or looked-up values (GET), and
store the result as a list (STORE).

The order of checks, the LIMIT arithmetic and the pattern lookups follow Redis 7.0's
sortCommandGeneric, including its C-string treatment of patterns.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from ..notify import GENERIC, LIST, notify
from ..zset import ZSet, strtod
from . import WRITE, WRONGTYPE, CommandError, command, parse_int, syntax_error

if TYPE_CHECKING:
    from ..client import Client
    from ..keyspace import Database

# Up to this many members, a set of integers is an intset in Redis: it iterates in
# numeric order, which SORT ... BY nosort shows.
_INTSET_MAX = 512
_INT64 = range(-(1 << 63), 1 << 63)
_SKIP = {b"limit": 2, b"get": 1, b"by": 1}


def _sort_keys(args: list[bytes]) -> list[bytes]:
    """The sorted key and the last STORE destination, found as Redis's sortGetKeys does."""
    dest: bytes | None = None
    index = 2
    while index < len(args):
        word = args[index].lower()
        if word in _SKIP:
            index += _SKIP[word]
        elif word == b"store" and index + 1 < len(args):
            dest = args[index + 1]
        index += 1
    return [args[1]] if dest is None else [args[1], dest]


def _c_string(value: bytes) -> bytes:
    # Redis searches patterns with strchr/strstr, which stop at a NUL.
    return value.split(b"\0", 1)[0]


def lookup_by_pattern(db: Database, pattern: bytes, element: bytes) -> bytes | None:
    """The value for ``element`` named by a BY/GET pattern: ``#`` is the element itself;
    the first ``*`` takes the element, and ``key->field`` reads a hash field. Missing keys
    and keys of another type give None."""
    text = _c_string(pattern)
    if text == b"#":
        return element
    star = text.find(b"*")
    if star < 0:
        return None
    arrow = text.find(b"->", star + 1)
    field: bytes | None = None
    tail = len(pattern)
    if arrow >= 0 and arrow + 2 < len(text):
        field = pattern[arrow + 2 :]
        tail = arrow
    value = db.get(pattern[:star] + element + pattern[star + 1 : tail])
    if field is not None:
        return value.get(field) if type(value) is dict else None
    return value if type(value) is bytes else None


def _is_int64(member: bytes) -> bool:
    """Whether Redis would store ``member`` as an integer (string2ll's strict form)."""
    digits = member[1:] if member[:1] == b"-" else member
    if not digits.isdigit() or not digits.isascii() or len(digits) > 19:
        return False
    if digits[:1] == b"0" and (len(digits) > 1 or member[:1] == b"-"):
        return False
    return int(member) in _INT64


def _set_order(members: set[bytes]) -> list[bytes]:
    """A set's elements in the order Redis walks them, where that order is knowable."""
    if len(members) <= _INTSET_MAX and all(_is_int64(member) for member in members):
        return sorted(members, key=int)
    return list(members)


def _score(value: bytes) -> tuple[float, bool]:
    """A sort weight read with strtod as SORT does: (value, whether it failed)."""
    number, used, erange = strtod(value)
    bad = value[used : used + 1] not in (b"", b"\0") or erange or math.isnan(number)
    return number, bad


def _sort(client: Client, args: list[bytes], readonly: bool) -> Any:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    store: bytes | None = None
    by: bytes | None = None
    gets: list[bytes] = []
    index = 2
    while index < len(args):
        option = args[index].upper()
        left = len(args) - index - 1
        if option == b"ASC":
            desc = False
        elif option == b"DESC":
            desc = True
        elif option == b"ALPHA":
            alpha = True
        elif option == b"LIMIT" and left >= 2:
            limit_start = parse_int(args[index + 1])
            limit_count = parse_int(args[index + 2])
            index += 2
        elif not readonly and option == b"STORE" and left >= 1:
            store = args[index + 1]
            index += 1
        elif option == b"BY" and left >= 1:
            by = args[index + 1]
            # A pattern without "*" (BY nosort) means no sorting; a later BY keeps that.
            if b"*" not in _c_string(by):
                dontsort = True
            index += 1
        elif option == b"GET" and left >= 1:
            gets.append(args[index + 1])
            index += 1
        else:
            raise syntax_error()
        index += 1

    db = client.db
    value = db.get(args[1])
    if value is None:
        value = deque()
    elif type(value) not in (deque, set, ZSet):
        raise CommandError(WRONGTYPE)

    # An unsorted set would come out in hash order: where the result is kept (STORE, or a
    # script's effects) it is sorted as strings instead, so it is reproducible.
    if dontsort and type(value) is set and (store is not None or client.in_script):
        dontsort, alpha, by = False, True, None

    length = len(value)
    start = max(limit_start, 0)
    end = length - 1 if limit_count < 0 else start + limit_count - 1
    if start >= length:
        start, end = length - 1, length - 2
    end = min(end, length - 1)

    elements: list[bytes]
    if dontsort and type(value) is not set:
        # Lists and sorted sets keep their own order (reversed by DESC), cut by LIMIT.
        members = [m for _, m in value.order] if type(value) is ZSet else list(value)
        if desc:
            members.reverse()
        elements = members[start : end + 1] if end >= start else []
        end -= start
        start = 0
    elif type(value) is set:
        elements = _set_order(value)
    elif type(value) is ZSet:
        elements = list(value.scores)
    else:
        elements = list(value)

    if not dontsort:
        elements = _sorted(db, elements, by, alpha, desc)

    chosen = elements[start : end + 1] if end >= start else []
    rows: list[bytes | None] = []
    for element in chosen:
        if not gets:
            rows.append(element)
        for pattern in gets:
            rows.append(lookup_by_pattern(db, pattern, element))
    if store is None:
        client.propagate = []  # only read: nothing for the AOF
        return rows
    if rows:
        db.set(store, deque(b"" if row is None else row for row in rows))
        notify(client, LIST, b"sortstore", store)
    elif db.delete(store):
        notify(client, GENERIC, b"del", store)
    if store not in _sort_keys(args):
        client.server.wrote(db, [store])  # not among the declared keys: signal it here
    return len(rows)


def _sorted(
    db: Database, elements: list[bytes], by: bytes | None, alpha: bool, desc: bool
) -> list[bytes]:
    weights: list[bytes | None] = (
        [lookup_by_pattern(db, by, element) for element in elements]
        if by is not None
        else list(elements)
    )
    if alpha:
        if by is None:
            return sorted(elements, reverse=desc)
        # Missing weights sort first; equal weights keep the input order (a stable sort,
        # like the merge sort behind glibc's qsort).
        keyed = [
            ((weight is not None, weight or b""), element)
            for weight, element in zip(weights, elements, strict=True)
        ]
        keyed.sort(key=lambda pair: pair[0], reverse=desc)
        return [element for _, element in keyed]
    failed = False
    scored: list[tuple[float, bytes]] = []
    for weight, element in zip(weights, elements, strict=True):
        number = 0.0
        if weight is not None:
            number, bad = _score(weight)
            failed = failed or bad
        scored.append((number, element))
    if failed:
        raise CommandError("ERR One or more scores can't be converted into double")
    # Equal weights are ordered by the elements themselves, so the result is determined.
    scored.sort(reverse=desc)
    return [element for _, element in scored]


@command("sort", -2, WRITE, keys=_sort_keys, writes=lambda args: _sort_keys(args)[1:])
def sort(client: Client, args: list[bytes]) -> Any:
    return _sort(client, args, False)


@command("sort_ro", -2, keys=(1, 1, 1))
def sort_ro(client: Client, args: list[bytes]) -> Any:
    return _sort(client, args, True)
