"""Hash commands. A hash is a dict of field -> value (bytes); Python keeps insertion order,
which is the order Redis's small (listpack) hashes reply in.

HINCRBYFLOAT computes like Redis on x86-64: in 80-bit x87 ``long double`` (64-bit
mantissa), parsed as ``strtold`` does and printed with ``%.17Lf`` minus trailing zeros.
Exact rationals emulate that format, so 0.1 + 0.2 is "0.3" here as it is in Redis, where
binary doubles would give 0.30000000000000004.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..longdouble import add_long_double, parse_increment
from ..notify import HASH, notify, notify_removed
from ..protocol import OK
from ..scan import parse_scan_cursor, scan_options, scan_page
from . import RANDOM, WRITE, CommandError, command, parse_int, syntax_error, wrong_args

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "LONG_MAX",
    "parse_count",
    "random_picks",
]

LONG_MAX = (1 << 63) - 1

# -- the commands --------------------------------------------------------------------------


def _hash(client: Client, key: bytes) -> dict[bytes, bytes] | None:
    return client.db.get_typed(key, dict)  # type: ignore[no-any-return]


def _set_fields(client: Client, args: list[bytes]) -> int:
    if len(args) % 2:
        raise wrong_args(args[0])
    fields: dict[bytes, bytes] = client.db.get_or_create(args[1], dict)
    before = len(fields)
    for index in range(2, len(args), 2):
        fields[args[index]] = args[index + 1]
    if client.server.notify_flags:
        notify(client, HASH, b"hset", args[1])
    return len(fields) - before


@command("hset", -4, WRITE, keys=(1, 1, 1))
def hset(client: Client, args: list[bytes]) -> Any:
    return _set_fields(client, args)


@command("hmset", -4, WRITE, keys=(1, 1, 1))
def hmset(client: Client, args: list[bytes]) -> Any:
    _set_fields(client, args)
    return OK


@command("hsetnx", 4, WRITE, keys=(1, 1, 1))
def hsetnx(client: Client, args: list[bytes]) -> Any:
    fields: dict[bytes, bytes] = client.db.get_or_create(args[1], dict)
    if args[2] in fields:
        return 0
    fields[args[2]] = args[3]
    notify(client, HASH, b"hset", args[1])
    return 1


@command("hget", 3, keys=(1, 1, 1))
def hget(client: Client, args: list[bytes]) -> Any:
    fields = _hash(client, args[1])
    return None if fields is None else fields.get(args[2])


@command("hmget", -3, keys=(1, 1, 1))
def hmget(client: Client, args: list[bytes]) -> Any:
    fields = _hash(client, args[1]) or {}
    return [fields.get(name) for name in args[2:]]


@command("hdel", -3, WRITE, keys=(1, 1, 1))
def hdel(client: Client, args: list[bytes]) -> Any:
    fields = _hash(client, args[1])
    if fields is None:
        return 0
    removed = 0
    for name in args[2:]:
        if fields.pop(name, None) is not None:
            removed += 1
    if removed:
        notify_removed(client, HASH, b"hdel", args[1], fields)
    return removed  # the server deletes the key if this emptied it


@command("hexists", 3, keys=(1, 1, 1))
def hexists(client: Client, args: list[bytes]) -> Any:
    fields = _hash(client, args[1])
    return int(fields is not None and args[2] in fields)


@command("hlen", 2, keys=(1, 1, 1))
def hlen(client: Client, args: list[bytes]) -> Any:
    return len(_hash(client, args[1]) or ())


@command("hstrlen", 3, keys=(1, 1, 1))
def hstrlen(client: Client, args: list[bytes]) -> Any:
    fields = _hash(client, args[1]) or {}
    return len(fields.get(args[2], b""))


# Replies are copies: inside EXEC a later command may change the hash before encoding.


@command("hgetall", 2, keys=(1, 1, 1))
def hgetall(client: Client, args: list[bytes]) -> Any:
    return dict(_hash(client, args[1]) or ())


@command("hkeys", 2, keys=(1, 1, 1))
def hkeys(client: Client, args: list[bytes]) -> Any:
    return list(_hash(client, args[1]) or ())


@command("hvals", 2, keys=(1, 1, 1))
def hvals(client: Client, args: list[bytes]) -> Any:
    return list((_hash(client, args[1]) or {}).values())


@command("hincrby", 4, WRITE, keys=(1, 1, 1))
def hincrby(client: Client, args: list[bytes]) -> Any:
    delta = parse_int(args[3])
    key, name = args[1], args[2]
    old = (_hash(client, key) or {}).get(name)
    current = 0
    if old is not None:
        current = parse_int(old, "hash value is not an integer")
    result = current + delta
    if not -(1 << 63) <= result < (1 << 63):
        raise CommandError("ERR increment or decrement would overflow")
    client.db.get_or_create(key, dict)[name] = b"%d" % result
    notify(client, HASH, b"hincrby", key)
    return result


@command("hincrbyfloat", 4, WRITE, keys=(1, 1, 1))
def hincrbyfloat(client: Client, args: list[bytes]) -> Any:
    delta = parse_increment(args[3], finite=True)  # checked before the key, as in Redis
    key, name = args[1], args[2]
    old = (_hash(client, key) or {}).get(name)
    text = add_long_double(old, delta, "ERR hash value is not a float")
    client.db.get_or_create(key, dict)[name] = text
    notify(client, HASH, b"hincrbyfloat", key)
    # Like Redis, log the result: replaying the addition elsewhere could round otherwise.
    client.propagate = [[b"HSET", key, name, text]]
    return text


@command("hscan", -3, keys=(1, 1, 1))
def hscan(client: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[2])
    fields = _hash(client, args[1])
    if fields is None:
        return [b"0", []]  # Redis answers before it reads the options
    match, count, _ = scan_options(args, 3)
    next_cursor, page = scan_page(client.server.cursors["hash"], fields, cursor, count)
    found: list[bytes] = []
    for name in page:
        value = fields.get(name)
        if value is not None and (match is None or match(name)):
            found += (name, value)
    return [b"%d" % next_cursor, found]


def parse_count(value: bytes) -> int:
    """A count of HRANDFIELD/SRANDMEMBER: a long other than LONG_MIN (its negation)."""
    count = parse_int(value)
    if count < -LONG_MAX:
        raise CommandError(
            f"ERR value is out of range, value must between {-LONG_MAX} and {LONG_MAX}"
        )
    return count


def random_picks(items: list[bytes], count: int) -> list[bytes]:
    """Redis's random-with-count: negative allows repeats, positive gives distinct ones,
    and a positive count of at least the size gives them all in their stored order."""
    if count < 0:
        return random.choices(items, k=-count)
    if count >= len(items):
        return items
    return random.sample(items, count)


@command("hrandfield", -2, RANDOM, keys=(1, 1, 1))
def hrandfield(client: Client, args: list[bytes]) -> Any:
    if len(args) == 2:
        fields = _hash(client, args[1])
        return None if fields is None else random.choice(list(fields))
    count = parse_count(args[2])
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"withvalues"):
        raise syntax_error()
    with_values = len(args) == 4
    # The reply of a pair per pick must not overflow Redis's count * 2.
    if with_values and not -(LONG_MAX // 2) <= count <= LONG_MAX // 2:
        raise CommandError("ERR value is out of range")
    fields = _hash(client, args[1])
    if fields is None or count == 0:
        return []
    picks = random_picks(list(fields), count)
    if not with_values:
        return picks
    if client.resp3:
        return [[name, fields[name]] for name in picks]
    flat: list[bytes] = []
    for name in picks:
        flat += (name, fields[name])
    return flat
