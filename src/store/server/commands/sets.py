"""Set commands. A set is a Python set of bytes; replies of whole sets are Python sets,
which RESP3 encodes as ``~`` sets and RESP2 as arrays, like Redis."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..notify import GENERIC, SET, notify, notify_removed
from ..scan import parse_scan_cursor, scan_options, scan_page
from . import RANDOM, WRITE, CommandError, command, parse_int, syntax_error
from .hashes import parse_count, random_picks

if TYPE_CHECKING:
    from ..client import Client


_INTSET_ENTRIES = 512  # Redis's set-max-intset-entries


def _set(client: Client, key: bytes) -> set[bytes] | None:
    return client.db.get_typed(key, set)  # type: ignore[no-any-return]


def _integer(member: bytes) -> int | None:
    try:
        return parse_int(member)
    except CommandError:
        return None


def stored_order(members: set[bytes]) -> list[bytes] | None:
    """The members in the order Redis keeps a small set of integers (an intset): sorted
    by value. None for other sets, whose hash-table order cannot be reproduced."""
    if len(members) > _INTSET_ENTRIES:
        return None
    numbers = []
    for member in members:
        number = _integer(member)
        if number is None:
            return None
        numbers.append((number, member))
    numbers.sort()
    return [member for _, member in numbers]


@command("sadd", -3, WRITE, keys=(1, 1, 1))
def sadd(client: Client, args: list[bytes]) -> Any:
    members: set[bytes] = client.db.get_or_create(args[1], set)
    before = len(members)
    members.update(args[2:])
    if client.server.notify_flags and len(members) != before:
        notify(client, SET, b"sadd", args[1])
    return len(members) - before


@command("srem", -3, WRITE, keys=(1, 1, 1))
def srem(client: Client, args: list[bytes]) -> Any:
    members = _set(client, args[1])
    if members is None:
        return 0
    before = len(members)
    members.difference_update(args[2:])
    if len(members) != before:
        notify_removed(client, SET, b"srem", args[1], members)
    return before - len(members)  # the server deletes the key if this emptied it


# Replies are copies: inside EXEC a later command may change the set before encoding.


@command("smembers", 2, keys=(1, 1, 1))
def smembers(client: Client, args: list[bytes]) -> Any:
    return set(_set(client, args[1]) or ())


@command("sismember", 3, keys=(1, 1, 1))
def sismember(client: Client, args: list[bytes]) -> Any:
    return int(args[2] in (_set(client, args[1]) or ()))


@command("smismember", -3, keys=(1, 1, 1))
def smismember(client: Client, args: list[bytes]) -> Any:
    members = _set(client, args[1]) or set()
    return [int(member in members) for member in args[2:]]


@command("scard", 2, keys=(1, 1, 1))
def scard(client: Client, args: list[bytes]) -> Any:
    return len(_set(client, args[1]) or ())


@command("spop", -2, WRITE, RANDOM, keys=(1, 1, 1))
def spop(client: Client, args: list[bytes]) -> Any:
    key = args[1]
    if len(args) > 3:
        raise syntax_error()
    if len(args) == 2:
        members = _set(client, key)
        if members is None:
            client.propagate = []
            return None
        member = random.choice(list(members))
        members.discard(member)
        notify_removed(client, SET, b"spop", key, members)
        client.propagate = [[b"SREM", key, member]]
        return member
    count = parse_int(args[2], "value is out of range, must be positive")
    if count < 0:
        raise CommandError("ERR value is out of range, must be positive")
    members = _set(client, key)
    if members is None or count == 0:
        client.propagate = []  # nothing changed, nothing to log
        return set()
    if count >= len(members):
        popped = set(members)
        members.clear()
    else:
        popped = set(random.sample(list(members), count))
        members.difference_update(popped)
    notify_removed(client, SET, b"spop", key, members)
    # Replicas and the AOF must remove the same members, not pick their own.
    client.propagate = [[b"SREM", key, *popped]]
    return popped


@command("srandmember", -2, RANDOM, keys=(1, 1, 1))
def srandmember(client: Client, args: list[bytes]) -> Any:
    if len(args) == 2:
        members = _set(client, args[1])
        return None if members is None else random.choice(list(members))
    if len(args) > 3:
        raise syntax_error()
    count = parse_count(args[2])
    members = _set(client, args[1])
    if members is None or count == 0:
        return []
    whole = count >= len(members)  # answered in the stored order
    return random_picks((whole and stored_order(members)) or list(members), count)


@command("smove", 4, WRITE, keys=(1, 2, 1))
def smove(client: Client, args: list[bytes]) -> Any:
    db = client.db
    source_key, target_key, member = args[1], args[2], args[3]
    source = _set(client, source_key)
    if source is None:
        return 0  # even when the destination has the wrong type, as in Redis
    target = _set(client, target_key)
    if source is target:
        return int(member in source)
    if member not in source:
        return 0
    source.discard(member)
    notify_removed(client, SET, b"srem", source_key, source)
    target = db.get_or_create(target_key, set)
    if member not in target:
        target.add(member)
        notify(client, SET, b"sadd", target_key)
    return 1


def _sets(client: Client, keys: list[bytes]) -> list[set[bytes] | None]:
    """Every key's set (None when missing); all are type-checked before any work."""
    return [_set(client, key) for key in keys]


def _present(found: list[set[bytes] | None]) -> list[set[bytes]] | None:
    """The sets smallest first, or None if a key is missing (the intersection is empty)."""
    present = [members for members in found if members is not None]
    return sorted(present, key=len) if len(present) == len(found) else None


def _inter(found: list[set[bytes] | None]) -> set[bytes]:
    ordered = _present(found)
    if not ordered:
        return set()
    return ordered[0].intersection(*ordered[1:])


def _union(found: list[set[bytes] | None]) -> set[bytes]:
    result: set[bytes] = set()
    for members in found:
        if members:
            result |= members
    return result


def _diff(found: list[set[bytes] | None]) -> set[bytes]:
    first = found[0]
    if not first:
        return set()
    return first.difference(*(members for members in found[1:] if members))


@command("sinter", -2, keys=(1, -1, 1))
def sinter(client: Client, args: list[bytes]) -> Any:
    return _inter(_sets(client, args[1:]))


@command("sunion", -2, keys=(1, -1, 1))
def sunion(client: Client, args: list[bytes]) -> Any:
    return _union(_sets(client, args[1:]))


@command("sdiff", -2, keys=(1, -1, 1))
def sdiff(client: Client, args: list[bytes]) -> Any:
    return _diff(_sets(client, args[1:]))


def _store(client: Client, args: list[bytes], result: set[bytes]) -> int:
    """Replace the destination with ``result``; an empty result deletes it."""
    if result:
        client.db.set(args[1], result)
        notify(client, SET, args[0].lower(), args[1])
    elif client.db.delete(args[1]):
        notify(client, GENERIC, b"del", args[1])
    return len(result)


@command("sinterstore", -3, WRITE, keys=(1, -1, 1), writes=(1,))
def sinterstore(client: Client, args: list[bytes]) -> Any:
    return _store(client, args, _inter(_sets(client, args[2:])))


@command("sunionstore", -3, WRITE, keys=(1, -1, 1), writes=(1,))
def sunionstore(client: Client, args: list[bytes]) -> Any:
    return _store(client, args, _union(_sets(client, args[2:])))


@command("sdiffstore", -3, WRITE, keys=(1, -1, 1), writes=(1,))
def sdiffstore(client: Client, args: list[bytes]) -> Any:
    return _store(client, args, _diff(_sets(client, args[2:])))


def _numkeys_keys(args: list[bytes]) -> list[bytes]:
    """SINTERCARD's keys: ``numkeys`` of them after it (none if numkeys is bad)."""
    try:
        count = parse_int(args[1])
    except CommandError:
        return []
    return args[2 : 2 + count] if 0 < count <= len(args) - 2 else []


@command("sintercard", -3, keys=_numkeys_keys)
def sintercard(client: Client, args: list[bytes]) -> Any:
    numkeys_error = "numkeys should be greater than 0"
    numkeys = parse_int(args[1], numkeys_error)
    if numkeys < 1:
        raise CommandError(f"ERR {numkeys_error}")
    if numkeys > len(args) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    index = 2 + numkeys
    while index < len(args):
        if args[index].upper() != b"LIMIT" or index + 1 >= len(args):
            raise syntax_error()
        limit = parse_int(args[index + 1], "LIMIT can't be negative")
        if limit < 0:
            raise CommandError("ERR LIMIT can't be negative")
        index += 2
    ordered = _present(_sets(client, args[2 : 2 + numkeys]))
    if not ordered:
        return 0
    smallest, others = ordered[0], ordered[1:]
    count = 0
    for member in smallest:
        if all(member in members for members in others):
            count += 1
            if count == limit:
                break
    return count


@command("sscan", -3, keys=(1, 1, 1))
def sscan(client: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[2])
    members = _set(client, args[1])
    if members is None:
        return [b"0", []]  # Redis answers before it reads the options
    match, count, _ = scan_options(args, 3)
    ordered = stored_order(members)
    if ordered is not None:
        next_cursor, page = 0, ordered  # an intset answers whole, in order
    else:
        next_cursor, page = scan_page(client.server.cursors["set"], members, cursor, count)
    found = [member for member in page if member in members and (match is None or match(member))]
    return [b"%d" % next_cursor, found]
