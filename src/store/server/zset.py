"""The sorted set: a dict of member -> score and a list kept sorted by (score, member).

A skip list gives O(log n) inserts; a sorted Python list gives O(n) memmove inserts that
are faster than any pure-Python tree up to hundreds of thousands of members, and O(log n)
rank and range lookups with ``bisect``.

Also here: the number and range parsers the sorted set commands and SORT share, written to
accept exactly what Redis's C parsers (``strtod`` and friends) accept.
"""

from __future__ import annotations

import math
import re
import sys
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter

__all__ = [
    "COMPACT_ENTRIES",
    "COMPACT_VALUE",
    "LexBound",
    "LexRange",
    "ScoreRange",
    "ZSet",
    "member_scores",
    "parse_double",
    "parse_lex_range",
    "parse_score_range",
    "strtod",
]

# Redis's zset-max-listpack-entries and zset-max-listpack-value defaults.
COMPACT_ENTRIES = 128
COMPACT_VALUE = 64

_score_of = itemgetter(0)
_member_of = itemgetter(1)


class ZSet:
    __slots__ = ("order", "scores")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: list[tuple[float, bytes]] = []

    @classmethod
    def from_scores(cls, scores: dict[bytes, float]) -> ZSet:
        """A sorted set holding ``scores`` (taken, not copied): one sort, not n inserts."""
        zset = cls()
        if len(scores) <= COMPACT_ENTRIES and all(len(m) <= COMPACT_VALUE for m in scores):
            for member, score in scores.items():
                if score == 0.0:
                    scores[member] = 0.0  # no -0: see ``_compact_with``
        zset.scores = scores
        zset.order = sorted((score, member) for member, score in scores.items())
        return zset

    def _compact_with(self, member: bytes) -> bool:
        """Whether Redis would keep the set, ``member`` included, in its compact encoding
        (a listpack). That encoding stores a score of -0 as the integer 0, so there -0 is
        read back as 0; the skip list of bigger sets keeps -0."""
        scores = self.scores
        size = len(scores) + (member not in scores)
        return (
            size <= COMPACT_ENTRIES
            and len(member) <= COMPACT_VALUE
            and all(len(m) <= COMPACT_VALUE for m in scores)
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: object) -> bool:
        return member in self.scores

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        return iter(self.order)

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def add(self, member: bytes, score: float) -> bool:
        """Set ``member``'s score; True if it is new."""
        if score == 0.0 and math.copysign(1.0, score) < 0 and self._compact_with(member):
            score = 0.0
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return False
            del self.order[bisect_left(self.order, (old, member))]
        self.scores[member] = score
        insort(self.order, (score, member))
        return old is None

    def update(self, changes: dict[bytes, float]) -> None:
        """Set many scores at once. Each insertion into the sorted list moves its tail, so
        a big batch rebuilds the list instead: the kept run plus the sorted new run, which
        the sort merges in linear time."""
        if not _bulk(len(changes), len(self.order)):
            for member, score in changes.items():
                self.add(member, score)
            return
        scores = self.scores
        fresh: list[tuple[float, bytes]] = []
        for member, score in changes.items():
            if score == 0.0 and math.copysign(1.0, score) < 0 and self._compact_with(member):
                score = 0.0
            scores[member] = score
            fresh.append((score, member))
        fresh.sort()
        kept = [item for item in self.order if item[1] not in changes]
        kept.extend(fresh)
        kept.sort()
        self.order = kept

    def remove_many(self, members: Iterable[bytes]) -> int:
        """Remove several members; how many were there."""
        present = {member for member in members if member in self.scores}
        if not _bulk(len(present), len(self.order)):
            for member in present:
                self.remove(member)
            return len(present)
        for member in present:
            del self.scores[member]
        self.order = [item for item in self.order if item[1] not in present]
        return len(present)

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        del self.order[bisect_left(self.order, (old, member))]
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return bisect_left(self.order, (score, member))

    def count_below(self, score: float, inclusive: bool) -> int:
        """How many members score < ``score`` (or <= when ``inclusive``)."""
        if inclusive:
            return bisect_right(self.order, score, key=_score_of)
        return bisect_left(self.order, score, key=_score_of)

    # -- ranges ----------------------------------------------------------------------------

    def score_span(self, spec: ScoreRange) -> tuple[int, int]:
        """Positions [a, b) of the members whose score is inside ``spec``."""
        start = self.count_below(spec.min, spec.min_ex)
        stop = self.count_below(spec.max, not spec.max_ex)
        return start, max(start, stop)

    def lex_positions(
        self, spec: LexRange, reverse: bool = False, offset: int = 0, limit: int = -1
    ) -> list[int]:
        """Positions of the members inside the lex range, in the order they are visited
        (descending when ``reverse``), after skipping ``offset`` and taking at most
        ``limit`` (negative: all).

        Lex ranges are meant for sets whose members share one score, and then the order is
        by member and a bisection finds the range. With several scores Redis's answer
        follows its walk over the set; this repeats the walk of its compact encoding."""
        order = self.order
        if offset < 0 or not order or (offset > 0 and offset >= len(order)):
            return []
        if order[0][0] == order[-1][0]:
            start = _lex_index(order, spec.min, True)
            stop = max(start, _lex_index(order, spec.max, False))
            return _window(start, stop, reverse, offset, limit)
        return _lex_walk(order, spec, reverse, offset, limit)

    def lex_span(self, spec: LexRange) -> tuple[int, int]:
        """Positions [a, b) of the lex range walked forwards (ZLEXCOUNT, ZREMRANGEBYLEX)."""
        found = self.lex_positions(spec)
        return (found[0], found[-1] + 1) if found else (0, 0)

    def delete_span(self, start: int, stop: int) -> int:
        """Remove the members at positions [start, stop); how many went."""
        if start >= stop:
            return 0
        scores = self.scores
        for _, member in self.order[start:stop]:
            del scores[member]
        del self.order[start:stop]
        return stop - start

    def pop(self, count: int, highest: bool) -> list[tuple[float, bytes]]:
        """Remove up to ``count`` lowest (or highest) members, in the order popped."""
        order = self.order
        count = min(count, len(order))
        if highest:
            taken = order[len(order) - count :]
            taken.reverse()
            del order[len(order) - count :]
        else:
            taken = order[:count]
            del order[:count]
        scores = self.scores
        for _, member in taken:
            del scores[member]
        return taken


def _bulk(changes: int, size: int) -> bool:
    # Rebuilding costs a pass over the set; single edits cost a memmove of the list tail
    # each, cheap per edit but not for thousands of them.
    return changes > 32 and changes * 32 > size


def _window(start: int, stop: int, reverse: bool, offset: int, limit: int) -> list[int]:
    """Positions of [start, stop) walked forwards or backwards, after ``offset``, at most
    ``limit`` of them (negative: no limit)."""
    if reverse:
        top = stop - offset
        bottom = start if limit < 0 else max(start, top - limit)
        return list(range(top - 1, bottom - 1, -1))
    first = start + offset
    last = stop if limit < 0 else min(stop, first + limit)
    return list(range(first, last))


# -- score ranges ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreRange:
    min: float
    max: float
    min_ex: bool
    max_ex: bool

    def __contains__(self, score: object) -> bool:
        assert isinstance(score, float)
        above = score > self.min if self.min_ex else score >= self.min
        below = score < self.max if self.max_ex else score <= self.max
        return above and below


def _parse_score_bound(text: bytes) -> tuple[float, bool] | None:
    # Redis's zslParseRange: strtod must end at the end of the C string (so leading spaces
    # and an empty string, read as 0, pass) and the value must not be NaN.
    exclusive = text[:1] == b"("
    if exclusive:
        text = text[1:]
    value, used, _ = strtod(text)
    if text[used : used + 1] not in (b"", b"\0") or math.isnan(value):
        return None
    return value, exclusive


def parse_score_range(low: bytes, high: bytes) -> ScoreRange | None:
    """``min`` and ``max`` of ZRANGEBYSCORE and friends, or None when either is invalid."""
    lower = _parse_score_bound(low)
    upper = _parse_score_bound(high)
    if lower is None or upper is None:
        return None
    return ScoreRange(lower[0], upper[0], lower[1], upper[1])


# -- lex ranges --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LexBound:
    """``[value``, ``(value``, or ``-``/``+`` (``infinity`` -1/1: before/after every member)."""

    value: bytes
    exclusive: bool
    infinity: int = 0

    def key(self) -> tuple[int, bytes]:
        return (self.infinity + 1, self.value)


@dataclass(frozen=True, slots=True)
class LexRange:
    min: LexBound
    max: LexBound

    def empty(self) -> bool:
        low, high = self.min.key(), self.max.key()
        return low > high or (low == high and (self.min.exclusive or self.max.exclusive))

    def above_min(self, member: bytes) -> bool:
        bound = self.min.key()
        return (1, member) > bound if self.min.exclusive else (1, member) >= bound

    def below_max(self, member: bytes) -> bool:
        bound = self.max.key()
        return (1, member) < bound if self.max.exclusive else (1, member) <= bound


def _parse_lex_bound(text: bytes) -> LexBound | None:
    # Redis reads the item as a C string: "+" and "-" must be followed by its end.
    first = text[:1]
    if first in (b"+", b"-"):
        if text[1:2] not in (b"", b"\0"):
            return None
        return LexBound(b"", True, 1 if first == b"+" else -1)
    if first in (b"(", b"["):
        return LexBound(text[1:], first == b"(")
    return None


def parse_lex_range(low: bytes, high: bytes) -> LexRange | None:
    """``min`` and ``max`` of ZRANGEBYLEX and friends, or None when either is invalid."""
    lower = _parse_lex_bound(low)
    upper = _parse_lex_bound(high)
    if lower is None or upper is None:
        return None
    return LexRange(lower, upper)


def _lex_index(order: list[tuple[float, bytes]], bound: LexBound, is_min: bool) -> int:
    """In an order sorted by member: how many members lie below the bound's range (for a
    min) or inside or below it (for a max)."""
    if bound.infinity:
        return 0 if bound.infinity < 0 else len(order)
    before = bound.exclusive if is_min else not bound.exclusive
    if before:
        return bisect_right(order, bound.value, key=_member_of)
    return bisect_left(order, bound.value, key=_member_of)


def _lex_walk(
    order: list[tuple[float, bytes]], spec: LexRange, reverse: bool, offset: int, limit: int
) -> list[int]:
    # Redis's zzlFirstInLexRange / zzlLastInLexRange, then the range walk: the first
    # member on the near side of the range, ``offset`` skipped unchecked, then members
    # while they stay within the far bound.
    if spec.empty() or not spec.above_min(order[-1][1]) or not spec.below_max(order[0][1]):
        return []
    length = len(order)
    found: list[int] = []
    if not reverse:
        first = next((i for i in range(length) if spec.above_min(order[i][1])), None)
        if first is None or not spec.below_max(order[first][1]):
            return []
        i = first + offset
        while i < length and limit != 0 and spec.below_max(order[i][1]):
            found.append(i)
            i += 1
            limit -= 1
        return found
    last = next((i for i in range(length - 1, -1, -1) if spec.below_max(order[i][1])), None)
    if last is None or not spec.above_min(order[last][1]):
        return []
    i = last - offset
    while i >= 0 and limit != 0 and spec.above_min(order[i][1]):
        found.append(i)
        i -= 1
        limit -= 1
    return found


# -- numbers -----------------------------------------------------------------------------------

# C's strtod in the C locale: leading white space, a sign, then a hexadecimal or decimal
# float, inf/infinity or nan; it reads the longest prefix that is a number.
_STRTOD = re.compile(
    rb"[ \t\n\x0b\x0c\r]*([+-]?)(?:"
    rb"0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?[0-9]+)?"
    rb"|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
    rb"|([iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|([nN][aA][nN](?:\([0-9A-Za-z_]*\))?))"
)
_NONZERO_DIGIT = re.compile(rb"[1-9a-fA-F]")


def strtod(text: bytes) -> tuple[float, int, bool]:
    """C's ``strtod``: (value, bytes read, ERANGE). Nothing readable gives (0.0, 0, False);
    overflow gives ±inf and underflow 0 or a subnormal, both with ERANGE set."""
    found = _STRTOD.match(text)
    if found is None:
        return 0.0, 0, False
    sign, hex_digits, hex_exp, digits, exponent, infinity, _ = found.groups()
    negative = sign == b"-"
    if infinity is not None:
        return (-math.inf if negative else math.inf), found.end(), False
    if hex_digits is None and digits is None:
        return math.nan, found.end(), False
    if hex_digits is not None:
        mantissa = hex_digits
        try:
            value = float.fromhex((b"0x" + hex_digits + (hex_exp or b"")).decode())
        except OverflowError:
            value = math.inf
    else:
        mantissa = digits
        value = float(digits + (exponent or b""))
    erange = math.isinf(value) or (
        (value == 0.0 and _NONZERO_DIGIT.search(mantissa) is not None)
        or 0.0 < value < sys.float_info.min
    )
    return (-value if negative else value), found.end(), erange


def parse_double(text: bytes) -> float | None:
    """A double as Redis's getDoubleFromObject reads it (scores, weights, increments): the
    whole string, no leading space, no NaN, no overflow or underflow to zero; else None."""
    if not text or text[:1].isspace():
        return None
    value, used, erange = strtod(text)
    if used != len(text) or math.isnan(value):
        return None
    if erange and (math.isinf(value) or value == 0.0):
        return None
    return value


def member_scores(value: ZSet | set[bytes]) -> Iterable[tuple[bytes, float]]:
    """(member, score) of a sorted set, or of a set with every score 1 (ZUNION's inputs)."""
    if isinstance(value, ZSet):
        return ((member, score) for score, member in value.order)
    return ((member, 1.0) for member in value)
