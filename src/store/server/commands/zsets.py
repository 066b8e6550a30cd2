"""Sorted set commands: ZADD and the reads, the range family (by rank, score or lex, and
the removals and ZRANGESTORE), pops (blocking too), set algebra (ZUNION ZINTER ZDIFF and
their STORE forms, ZINTERCARD), ZRANDMEMBER and ZSCAN.

Replies follow Redis 7.0 under both protocols: a score is a double (a bulk string in
RESP2), and WITHSCORES gives [member, score] pairs in RESP3 but a flat array in RESP2.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..notify import GENERIC, ZSET, notify, notify_removed
from ..protocol import NULL_ARRAY, format_double
from ..scan import SMALL_CONTAINER, parse_scan_cursor, scan_options
from ..zset import (
    COMPACT_VALUE,
    LexRange,
    ScoreRange,
    ZSet,
    member_scores,
    parse_double,
    parse_lex_range,
    parse_score_range,
)
from . import (
    BLOCKING,
    NOSCRIPT,
    WRITE,
    WRONGTYPE,
    CommandError,
    command,
    parse_int,
    syntax_error,
)
from ._shared import (
    MUST_BE_POSITIVE,
    Pop,
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

LONG_MAX = (1 << 63) - 1
NOT_FLOAT = "ERR value is not a valid float"
NAN_SCORE = "ERR resulting score is not a number (NaN)"
NOT_FLOAT_RANGE = "ERR min or max is not a float"
NOT_LEX_RANGE = "ERR min or max not valid string range item"


# -- helpers -----------------------------------------------------------------------------------


def _zset(client: Client, key: bytes) -> ZSet | None:
    return client.db.get_typed(key, ZSet)  # type: ignore[no-any-return]


def _double(value: bytes, message: str = NOT_FLOAT) -> float:
    number = parse_double(value)
    if number is None:
        raise CommandError(message)
    return number


def _score_range(low: bytes, high: bytes) -> ScoreRange:
    spec = parse_score_range(low, high)
    if spec is None:
        raise CommandError(NOT_FLOAT_RANGE)
    return spec


def _lex_range(low: bytes, high: bytes) -> LexRange:
    spec = parse_lex_range(low, high)
    if spec is None:
        raise CommandError(NOT_LEX_RANGE)
    return spec


def _scored(client: Client, pairs: Iterable[tuple[float, bytes]], nested: bool) -> list[Any]:
    """Members with their scores: [member, score] pairs when ``nested``, else flat."""
    if nested:
        return [[member, score] for score, member in pairs]
    flat: list[Any] = []
    for score, member in pairs:
        flat.append(member)
        flat.append(score)
    return flat


def _reply_range(client: Client, pairs: list[tuple[float, bytes]], withscores: bool) -> Any:
    if withscores:
        return _scored(client, pairs, client.resp3)
    return [member for _, member in pairs]


def _store(client: Client, dest: bytes, result: ZSet, event: bytes) -> int:
    """Put ``result`` at ``dest`` (dropping its TTL), or delete ``dest`` when it is empty;
    the keyspace event is ``event`` or ``del``."""
    if result:
        client.db.set(dest, result)
        notify(client, ZSET, event, dest)
    elif client.db.delete(dest):
        notify(client, GENERIC, b"del", dest)
    return len(result)


# -- ZADD ZINCRBY --------------------------------------------------------------------------------

_ZADD_OPTIONS = frozenset((b"NX", b"XX", b"CH", b"INCR", b"GT", b"LT"))


def _zadd(client: Client, args: list[bytes], incr: bool) -> Any:
    options: set[bytes] = set()
    index = 2
    while index < len(args):
        option = args[index].upper()
        if option not in _ZADD_OPTIONS:
            break
        options.add(option)
        index += 1
    incr = incr or b"INCR" in options
    nx, xx, gt, lt = (flag in options for flag in (b"NX", b"XX", b"GT", b"LT"))
    elements = len(args) - index
    if elements % 2 or not elements:
        raise syntax_error()
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    pairs = [(_double(args[i]), args[i + 1]) for i in range(index, len(args), 2)]

    key = args[1]
    db = client.db
    zset = _zset(client, key)
    if zset is None:
        if xx:
            return None if incr else 0
        zset = db.get_or_create(key, ZSet)
    added = updated = processed = 0
    score = 0.0
    scores = zset.scores
    changes: dict[bytes, float] = {}  # applied together at the end: one re-sort for many
    for score, member in pairs:
        current = changes.get(member)
        if current is None:
            current = scores.get(member)
        if current is None:
            if xx:
                continue
            changes[member] = score
            added += 1
            processed += 1
            continue
        if nx:
            continue
        if incr:
            score += current
            if math.isnan(score):
                raise CommandError(NAN_SCORE)
        if (lt and score >= current) or (gt and score <= current):
            continue
        processed += 1
        if score != current:
            changes[member] = score
            updated += 1
    zset.update(changes)
    if (added or updated) and client.server.notify_flags:
        notify(client, ZSET, b"zincr" if incr else b"zadd", key)
    if incr:
        return score if processed else None
    return added + updated if b"CH" in options else added


@command("zadd", -4, WRITE, keys=(1, 1, 1))
def zadd(client: Client, args: list[bytes]) -> Any:
    return _zadd(client, args, False)


@command("zincrby", 4, WRITE, keys=(1, 1, 1))
def zincrby(client: Client, args: list[bytes]) -> Any:
    # Redis runs ZADD's code with INCR set, options parsing included.
    return _zadd(client, args, True)


# -- single-member reads and removal -------------------------------------------------------------


@command("zrem", -3, WRITE, keys=(1, 1, 1))
def zrem(client: Client, args: list[bytes]) -> Any:
    zset = _zset(client, args[1])
    if zset is None:
        return 0
    removed = zset.remove_many(args[2:])
    if removed:
        notify_removed(client, ZSET, b"zrem", args[1], zset)
    return removed


@command("zscore", 3, keys=(1, 1, 1))
def zscore(client: Client, args: list[bytes]) -> Any:
    zset = _zset(client, args[1])
    return None if zset is None else zset.scores.get(args[2])


@command("zmscore", -3, keys=(1, 1, 1))
def zmscore(client: Client, args: list[bytes]) -> Any:
    zset = _zset(client, args[1])
    if zset is None:
        return [None] * (len(args) - 2)
    scores = zset.scores
    return [scores.get(member) for member in args[2:]]


@command("zcard", 2, keys=(1, 1, 1))
def zcard(client: Client, args: list[bytes]) -> Any:
    zset = _zset(client, args[1])
    return 0 if zset is None else len(zset)


def _rank(client: Client, args: list[bytes], reverse: bool) -> Any:
    zset = _zset(client, args[1])
    if zset is None:
        return None
    rank = zset.rank(args[2])
    if rank is None:
        return None
    return len(zset) - 1 - rank if reverse else rank


@command("zrank", 3, keys=(1, 1, 1))
def zrank(client: Client, args: list[bytes]) -> Any:
    return _rank(client, args, False)


@command("zrevrank", 3, keys=(1, 1, 1))
def zrevrank(client: Client, args: list[bytes]) -> Any:
    return _rank(client, args, True)


@command("zcount", 4, keys=(1, 1, 1))
def zcount(client: Client, args: list[bytes]) -> Any:
    spec = _score_range(args[2], args[3])
    zset = _zset(client, args[1])
    if zset is None:
        return 0
    start, stop = zset.score_span(spec)
    return stop - start


@command("zlexcount", 4, keys=(1, 1, 1))
def zlexcount(client: Client, args: list[bytes]) -> Any:
    spec = _lex_range(args[2], args[3])
    zset = _zset(client, args[1])
    if zset is None:
        return 0
    start, stop = zset.lex_span(spec)
    return stop - start


# -- ranges --------------------------------------------------------------------------------------

RANK, SCORE, LEX = "rank", "score", "lex"


def _zrange(
    client: Client,
    args: list[bytes],
    at: int,
    store: bool,
    kind: str | None,
    reverse: bool | None,
) -> Any:
    """Redis's zrangeGenericCommand. ``at`` is the source key's position; ``kind`` and
    ``reverse`` are None when the arguments may choose them (ZRANGE, ZRANGESTORE)."""
    withscores = False
    offset, limit = 0, -1
    index = at + 3
    while index < len(args):
        option = args[index].upper()
        left = len(args) - index - 1
        if not store and option == b"WITHSCORES":
            withscores = True
        elif option == b"LIMIT" and left >= 2:
            offset = parse_int(args[index + 1])
            limit = parse_int(args[index + 2])
            index += 2
        elif reverse is None and option == b"REV":
            reverse = True
        elif kind is None and option == b"BYLEX":
            kind = LEX
        elif kind is None and option == b"BYSCORE":
            kind = SCORE
        else:
            raise syntax_error()
        index += 1
    reverse = bool(reverse)
    kind = kind or RANK
    if limit != -1 and kind == RANK:
        raise CommandError(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and kind == LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    low, high = args[at + 1], args[at + 2]
    if reverse and kind != RANK:
        low, high = high, low  # given as max, min

    score_spec: ScoreRange | None = None
    lex_spec: LexRange | None = None
    start = end = 0
    if kind == RANK:
        start, end = parse_int(low), parse_int(high)
    elif kind == SCORE:
        score_spec = _score_range(low, high)
    else:
        lex_spec = _lex_range(low, high)

    zset = _zset(client, args[at])
    picked: list[tuple[float, bytes]] = []
    if zset is not None:
        order = zset.order
        if kind == RANK:
            first, stop = index_span(start, end, len(order))
            if reverse:
                length = len(order)
                picked = order[length - stop : length - first]
                picked.reverse()
            else:
                picked = order[first:stop]
        elif offset < 0 or (offset > 0 and offset >= len(order)):
            picked = []
        elif score_spec is not None:
            first, stop = zset.score_span(score_spec)
            if reverse:
                top = stop - offset
                bottom = first if limit < 0 else max(first, top - limit)
                picked = order[bottom:top] if bottom < top else []
                picked.reverse()
            else:
                first += offset
                last = stop if limit < 0 else min(stop, first + limit)
                picked = order[first:last]
        elif lex_spec is not None:
            picked = [order[i] for i in zset.lex_positions(lex_spec, reverse, offset, limit)]
    if store:
        picks = ZSet.from_scores({m: s for s, m in picked})
        return _store(client, args[1], picks, b"zrangestore")
    return _reply_range(client, picked, withscores)


@command("zrange", -4, keys=(1, 1, 1))
def zrange(client: Client, args: list[bytes]) -> Any:
    return _zrange(client, args, 1, False, None, None)


@command("zrangestore", -5, WRITE, keys=(1, 2, 1), writes=(1,))
def zrangestore(client: Client, args: list[bytes]) -> Any:
    return _zrange(client, args, 2, True, None, None)


@command("zrevrange", -4, keys=(1, 1, 1))
def zrevrange(client: Client, args: list[bytes]) -> Any:
    return _zrange(client, args, 1, False, RANK, True)


@command("zrangebyscore", -4, keys=(1, 1, 1))
def zrangebyscore(client: Client, args: list[bytes]) -> Any:
    return _zrange(client, args, 1, False, SCORE, False)


@command("zrevrangebyscore", -4, keys=(1, 1, 1))
def zrevrangebyscore(client: Client, args: list[bytes]) -> Any:
    return _zrange(client, args, 1, False, SCORE, True)


@command("zrangebylex", -4, keys=(1, 1, 1))
def zrangebylex(client: Client, args: list[bytes]) -> Any:
    return _zrange(client, args, 1, False, LEX, False)


@command("zrevrangebylex", -4, keys=(1, 1, 1))
def zrevrangebylex(client: Client, args: list[bytes]) -> Any:
    return _zrange(client, args, 1, False, LEX, True)


@command("zremrangebyrank", 4, WRITE, keys=(1, 1, 1))
def zremrangebyrank(client: Client, args: list[bytes]) -> Any:
    start, end = parse_int(args[2]), parse_int(args[3])
    zset = _zset(client, args[1])
    if zset is None:
        return 0
    removed = zset.delete_span(*index_span(start, end, len(zset)))
    if removed:
        notify_removed(client, ZSET, b"zremrangebyrank", args[1], zset)
    return removed


@command("zremrangebyscore", 4, WRITE, keys=(1, 1, 1))
def zremrangebyscore(client: Client, args: list[bytes]) -> Any:
    spec = _score_range(args[2], args[3])
    zset = _zset(client, args[1])
    if zset is None:
        return 0
    removed = zset.delete_span(*zset.score_span(spec))
    if removed:
        notify_removed(client, ZSET, b"zremrangebyscore", args[1], zset)
    return removed


@command("zremrangebylex", 4, WRITE, keys=(1, 1, 1))
def zremrangebylex(client: Client, args: list[bytes]) -> Any:
    spec = _lex_range(args[2], args[3])
    zset = _zset(client, args[1])
    if zset is None:
        return 0
    removed = zset.delete_span(*zset.lex_span(spec))
    if removed:
        notify_removed(client, ZSET, b"zremrangebylex", args[1], zset)
    return removed


# -- pops ----------------------------------------------------------------------------------------


def _zpop(client: Client, args: list[bytes], highest: bool) -> Any:
    if len(args) > 3:
        raise syntax_error()
    count = -1  # no COUNT: one member, a flat reply in both protocols
    if len(args) == 3:
        count = range_long(args[2], 0, MUST_BE_POSITIVE)
    zset = _zset(client, args[1])
    if zset is None or count == 0:
        client.propagate = []
        return []
    popped = zset.pop(max(count, 1), highest)
    notify_removed(client, ZSET, b"zpopmax" if highest else b"zpopmin", args[1], zset)
    return _scored(client, popped, client.resp3 and count != -1)


@command("zpopmin", -2, WRITE, keys=(1, 1, 1))
def zpopmin(client: Client, args: list[bytes]) -> Any:
    return _zpop(client, args, False)


@command("zpopmax", -2, WRITE, keys=(1, 1, 1))
def zpopmax(client: Client, args: list[bytes]) -> Any:
    return _zpop(client, args, True)


def _is_max(value: bytes) -> bool:
    """MIN or MAX, case-insensitive; anything else is a syntax error."""
    where = value.upper()
    if where not in (b"MIN", b"MAX"):
        raise syntax_error()
    return where == b"MAX"


def _zset_pop(client: Client, highest: bool, count: int) -> Pop:
    """The pop of the multi-key commands: BZPOPMIN's [key, member, score] (``count`` 0)
    or ZMPOP's [key, [[member, score]...]], logged as ZPOPMIN/ZPOPMAX key [count]."""
    name = b"ZPOPMAX" if highest else b"ZPOPMIN"
    event = b"zpopmax" if highest else b"zpopmin"

    def pop(key: bytes, zset: ZSet) -> tuple[Any, list[bytes]]:
        if count:
            popped = [[member, score] for score, member in zset.pop(count, highest)]
            notify_removed(client, ZSET, event, key, zset)
            return [key, popped], [name, key, b"%d" % count]
        ((score, member),) = zset.pop(1, highest)
        notify_removed(client, ZSET, event, key, zset)
        return [key, member, score], [name, key]

    return pop


@command("zmpop", -4, WRITE, keys=numkeys_keys(1))
def zmpop(client: Client, args: list[bytes]) -> Any:
    keys, highest, count = parse_mpop(args, 1, _is_max)
    reply = pop_first(client, keys, ZSet, _zset_pop(client, highest, count))
    return NULL_ARRAY if reply is None else reply


@command("bzpopmin", -3, WRITE, NOSCRIPT, BLOCKING, keys=(1, -2, 1))
def bzpopmin(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[-1])
    return pop_or_block(client, args[1:-1], timeout, ZSet, _zset_pop(client, False, 0))


@command("bzpopmax", -3, WRITE, NOSCRIPT, BLOCKING, keys=(1, -2, 1))
def bzpopmax(client: Client, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[-1])
    return pop_or_block(client, args[1:-1], timeout, ZSet, _zset_pop(client, True, 0))


@command("bzmpop", -5, WRITE, BLOCKING, keys=numkeys_keys(2))
def bzmpop(client: Client, args: list[bytes]) -> Any:
    keys, highest, count = parse_mpop(args, 2, _is_max)  # Redis reads the timeout after the rest
    timeout = parse_timeout(args[1])
    return pop_or_block(client, keys, timeout, ZSet, _zset_pop(client, highest, count))


# -- set algebra ---------------------------------------------------------------------------------

UNION, INTER, DIFF = "union", "inter", "diff"


def _aggregate(mode: bytes, current: float, value: float) -> float:
    if mode == b"SUM":
        total = current + value
        return 0.0 if math.isnan(total) else total  # inf + -inf is 0 by convention
    if mode == b"MIN":
        return value if value < current else current
    return value if value > current else current


def _setop(
    client: Client, args: list[bytes], name: str, numkeys_at: int, op: str, card_only: bool
) -> Any:
    """Redis's zunionInterDiffGenericCommand; a destination precedes numkeys when
    ``numkeys_at`` is 2."""
    store = numkeys_at == 2
    setnum = parse_int(args[numkeys_at])
    if setnum < 1:
        raise CommandError(f"ERR at least 1 input key is needed for '{name}' command")
    if setnum > len(args) - (numkeys_at + 1):
        raise syntax_error()
    db = client.db
    sources: list[ZSet | set[bytes]] = []
    index = numkeys_at + 1
    for key in args[index : index + setnum]:
        value = db.get(key)
        if value is None:
            value = set()
        elif type(value) is not ZSet and type(value) is not set:
            raise CommandError(WRONGTYPE)
        sources.append(value)
    index += setnum

    weights = [1.0] * setnum
    mode = b"SUM"
    withscores = False
    limit = 0
    algebra = op != DIFF and not card_only
    while index < len(args):
        remaining = len(args) - index
        option = args[index].upper()
        if algebra and remaining >= setnum + 1 and option == b"WEIGHTS":
            weights = [
                _double(value, "ERR weight value is not a float")
                for value in args[index + 1 : index + 1 + setnum]
            ]
            index += setnum + 1
        elif algebra and remaining >= 2 and option == b"AGGREGATE":
            mode = args[index + 1].upper()
            if mode not in (b"SUM", b"MIN", b"MAX"):
                raise syntax_error()
            index += 2
        elif not store and not card_only and option == b"WITHSCORES":
            withscores = True
            index += 1
        elif card_only and remaining >= 2 and option == b"LIMIT":
            limit = range_long(args[index + 1], 0, "LIMIT can't be negative")
            index += 2
        else:
            raise syntax_error()

    inputs = list(zip(sources, weights, strict=True))
    if op != DIFF:
        # Smallest first, as Redis orders them: it fixes the order of additions in a sum.
        inputs.sort(key=lambda pair: len(pair[0]))
    result: dict[bytes, float] = {}
    if op == INTER:
        (first, first_weight), others = inputs[0], inputs[1:]
        cardinality = 0
        for member, score in member_scores(first):
            total = first_weight * score
            if math.isnan(total):
                total = 0.0
            for source, weight in others:
                if isinstance(source, ZSet):
                    found = source.scores.get(member)
                else:
                    found = 1.0 if member in source else None
                if found is None:
                    break
                total = _aggregate(mode, total, found * weight)
            else:
                if card_only:
                    cardinality += 1
                    if limit and cardinality >= limit:
                        break
                else:
                    result[member] = total
        if card_only:
            return cardinality
    elif op == UNION:
        for source, weight in inputs:
            for member, score in member_scores(source):
                value = weight * score
                if math.isnan(value):
                    value = 0.0
                current = result.get(member)
                result[member] = value if current is None else _aggregate(mode, current, value)
    else:
        first_source = sources[0]
        rest = sources[1:]
        for member, score in member_scores(first_source):
            if not any(member in source for source in rest):
                result[member] = score

    if store:
        return _store(client, args[1], ZSet.from_scores(result), name.encode())
    # Replied from Redis's skip list, where a score of -0 stays -0.
    return _reply_range(client, sorted((s, m) for m, s in result.items()), withscores)


@command("zunionstore", -4, WRITE, keys=numkeys_keys(2, True), writes=(1,))
def zunionstore(client: Client, args: list[bytes]) -> Any:
    return _setop(client, args, "zunionstore", 2, UNION, False)


@command("zinterstore", -4, WRITE, keys=numkeys_keys(2, True), writes=(1,))
def zinterstore(client: Client, args: list[bytes]) -> Any:
    return _setop(client, args, "zinterstore", 2, INTER, False)


@command("zdiffstore", -4, WRITE, keys=numkeys_keys(2, True), writes=(1,))
def zdiffstore(client: Client, args: list[bytes]) -> Any:
    return _setop(client, args, "zdiffstore", 2, DIFF, False)


@command("zunion", -3, keys=numkeys_keys(1))
def zunion(client: Client, args: list[bytes]) -> Any:
    return _setop(client, args, "zunion", 1, UNION, False)


@command("zinter", -3, keys=numkeys_keys(1))
def zinter(client: Client, args: list[bytes]) -> Any:
    return _setop(client, args, "zinter", 1, INTER, False)


@command("zdiff", -3, keys=numkeys_keys(1))
def zdiff(client: Client, args: list[bytes]) -> Any:
    return _setop(client, args, "zdiff", 1, DIFF, False)


@command("zintercard", -3, keys=numkeys_keys(1))
def zintercard(client: Client, args: list[bytes]) -> Any:
    return _setop(client, args, "zintercard", 1, INTER, True)


# -- random members and scans --------------------------------------------------------------------


@command("zrandmember", -2, keys=(1, 1, 1))
def zrandmember(client: Client, args: list[bytes]) -> Any:
    if len(args) < 3:
        zset = _zset(client, args[1])
        if zset is None:
            return None
        return random.choice(zset.order)[1]
    count = parse_int(args[2])
    if count < -LONG_MAX:
        raise CommandError(
            f"ERR value is out of range, value must between {-LONG_MAX} and {LONG_MAX}"
        )
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHSCORES"):
        raise syntax_error()
    withscores = len(args) == 4
    if withscores and not -(LONG_MAX // 2) <= count <= LONG_MAX // 2:
        raise CommandError("ERR value is out of range")
    zset = _zset(client, args[1])
    if zset is None or count == 0:
        return []
    order = zset.order
    if count < 0:
        # Repeats allowed: every pick independent.
        picked = random.choices(order, k=-count)
    elif count >= len(order):
        picked = order[::-1]  # the whole set, highest first as Redis gives it
    else:
        picked = random.sample(order, count)
    return _reply_range(client, picked, withscores)


_HALF_LLONG = float(LONG_MAX // 2)


def _compact_score(score: float) -> bytes:
    """A score as Redis's compact encoding stores it (d2string): whole numbers up to 2^62
    in integer digits, the rest as %.17g. ZSCAN of a small set shows this text."""
    if score.is_integer() and -_HALF_LLONG <= score <= _HALF_LLONG:
        return b"%d" % int(score)
    return format_double(score)


@command("zscan", -3, keys=(1, 1, 1))
def zscan(client: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[2])
    zset = _zset(client, args[1])
    if zset is None:
        return [b"0", []]  # Redis answers before it reads the options
    match, count, _ = scan_options(args, 3)
    small = len(zset) <= SMALL_CONTAINER
    if small:
        # Small sets are one compact block in Redis: answered whole, in order.
        next_cursor, page = 0, [member for _, member in zset.order]
    else:
        cursors = client.server.cursors["zset"]
        next_cursor, page = cursors.page(cursor, lambda: list(zset.scores), count)
    compact = small and all(len(member) <= COMPACT_VALUE for member in zset.scores)
    text = _compact_score if compact else format_double
    found: list[bytes] = []
    scores = zset.scores
    for member in page:
        score = scores.get(member)
        if score is None or (match is not None and not match(member)):
            continue
        found.append(member)
        found.append(text(score))
    return [b"%d" % next_cursor, found]
