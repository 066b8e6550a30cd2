"""Redis's glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE, PUBSUB CHANNELS, CONFIG GET):
``*``, ``?``, ``[abc]``, ``[^a-z]``, and ``\\`` escapes, matched against bytes as Redis
7.0's stringmatchlen does, ``nocase`` included (CONFIG GET, COMMAND LIST FILTERBY PATTERN,
FUNCTION LIST LIBRARYNAME). Its C quirks are kept: a range compares bytes as signed chars
(``[a-\\xff]`` is -1..97: NUL to ``a`` and 0xff, not 0x80), and with ``nocase`` a range is
put in order before it is lowered (``[Z-a]`` is then ``z``..``a``: nothing) while an
escaped byte inside a class is compared as it is.

The cost is bounded for every pattern. Redis fixed exponential backtracking in its
recursive matcher (CVE-2022-36021); here there is no backtracking at all: every atom
but ``*`` matches exactly one byte, so a pattern is fixed-width segments separated by
stars, and finding each middle segment at its leftmost place is enough (a later place
never helps the segments after it). That is O(len(pattern) * len(key)) at worst."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["compile_glob"]

# Redis stops recursing after 1000 nested stars ("protection against abusive patterns"):
# reaching the 1001st star with more pattern after it never matches.
NESTING_LIMIT = 1000

_ASTERISK, _QUESTION, _OPEN, _CLOSE, _CARET, _DASH, _BACKSLASH = 42, 63, 91, 93, 94, 45, 92

# A segment is a run of atoms: literal bytes (``bytes``), literal bytes in any case
# (_NoCase), or one byte of a set (_OneOf).
_Segment = list["bytes | _NoCase | _OneOf"]
Matcher = Callable[[bytes], bool]
_SPECIAL = re.compile(rb"[*?\[\\]")
_CACHED_UP_TO = 4096  # longer patterns are compiled each time rather than kept


class _OneOf:
    """``?`` or a ``[...]`` class: a 256-entry table of the bytes it matches."""

    __slots__ = ("table",)

    def __init__(self, table: bytes) -> None:
        self.table = table


_ANY = _OneOf(b"\x01" * 256)


class _NoCase:
    """Literal bytes under ``nocase``, lowered: a key's bytes match once lowered too (C's
    tolower in the C locale is bytes.lower: ASCII letters only)."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text.lower()


def _always(key: bytes) -> bool:
    return True


def _never(key: bytes) -> bool:
    return False


def compile_glob(pattern: bytes, nocase: bool = False) -> Matcher:
    """A predicate telling whether a key matches ``pattern``, as Redis's stringmatchlen:
    no pattern but the empty one matches the empty key (``*`` neither: KEYS and SCAN,
    which list every key for ``*`` without matching, check for it before they call this;
    PSUBSCRIBE and PUBSUB CHANNELS do not)."""
    if len(pattern) > _CACHED_UP_TO:
        return _compile(pattern, nocase)
    return _cached(pattern, nocase)


@lru_cache(maxsize=1024)
def _cached(pattern: bytes, nocase: bool) -> Matcher:
    return _compile(pattern, nocase)


def _nonempty(key: bytes) -> bool:
    return len(key) > 0


def _compile(pattern: bytes, nocase: bool = False) -> Matcher:
    if pattern == b"*":
        return _nonempty
    if _SPECIAL.search(pattern) is None:
        if nocase:
            lowered = pattern.lower()  # ASCII only, as C's tolower in the C locale
            return lambda key: key.lower() == lowered
        return pattern.__eq__
    segments = _parse(pattern, nocase)
    if segments is None:
        return _never
    if len(segments) == 1:
        return _fixed(segments[0])
    return _starred(segments)


def _parse(pattern: bytes, nocase: bool = False) -> list[_Segment] | None:
    """The pattern's segments: the runs of one-byte atoms between its stars (a run of
    stars is one star, as Redis skips them). None if it can never match: an atom after
    the star Redis's nesting limit refuses to recurse into."""
    segments: list[_Segment] = [[]]
    literal = bytearray()  # the literal run being read
    star = False  # the previous token was a star
    i, n = 0, len(pattern)

    def flush() -> None:
        if literal:
            segments[-1].append(_NoCase(bytes(literal)) if nocase else bytes(literal))
            literal.clear()

    def add(atom: _OneOf) -> None:
        flush()
        segments[-1].append(atom)

    while i < n:
        found = _SPECIAL.search(pattern, i)
        j = n if found is None else found.start()
        if j > i:
            literal += pattern[i:j]
            star, i = False, j
            if len(segments) > NESTING_LIMIT + 1:
                return None
            continue
        ch = pattern[i]
        if ch == _ASTERISK:
            if not star:
                if len(segments) > NESTING_LIMIT + 1:
                    return None
                flush()
                segments.append([])
            star, i = True, i + 1
            continue
        if len(segments) > NESTING_LIMIT + 1:
            return None
        star = False
        if ch == _QUESTION:
            add(_ANY)
            i += 1
        elif ch == _OPEN:
            table, i = _parse_class(pattern, i + 1, nocase)
            add(_OneOf(table))
        elif i + 1 < n:  # \x is the byte x
            literal.append(pattern[i + 1])
            i += 2
        else:  # a trailing backslash is itself
            literal.append(ch)
            i += 1
    flush()
    return segments


def _parse_class(pattern: bytes, i: int, nocase: bool = False) -> tuple[bytes, int]:
    """The ``[...]`` starting after its ``[`` at ``i``, as a table, and the index after
    it. Redis's reading: ``\\x`` is x, ``a-z`` (either order) is a range as soon as two
    bytes follow the ``-`` (so ``[a-]`` is a range to ``]``), and a class left open
    takes the rest of the pattern."""
    n = len(pattern)
    negate = i < n and pattern[i] == _CARET
    if negate:
        i += 1
    members = bytearray(256)
    while True:
        if i + 1 < n and pattern[i] == _BACKSLASH:
            i += 1
            members[pattern[i]] = 1  # compared as it is, even with nocase
        elif i < n and pattern[i] == _CLOSE:
            i += 1
            break
        elif i >= n:
            break
        elif i + 2 < n and pattern[i + 1] == _DASH:
            _add_range(members, pattern[i], pattern[i + 2], nocase)
            i += 2
        elif nocase and _is_letter(pattern[i]):
            members[pattern[i] | 0x20] = members[pattern[i] & ~0x20] = 1
        else:
            members[pattern[i]] = 1
        i += 1
    if negate:
        return bytes(1 - m for m in members), i
    return bytes(members), i


_ALL = b"\x01" * 256


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _set_signed(members: bytearray, low: int, high: int) -> None:
    """Mark the bytes whose value as a C (signed) char is in low..high."""
    if low > high:
        return
    if low < 0:  # the bytes 0x80..0xff
        top = min(high, -1)
        members[low + 256 : top + 257] = _ALL[: top - low + 1]
        low = 0
    if high >= 0:
        members[low : high + 1] = _ALL[: high - low + 1]


def _add_range(members: bytearray, start: int, end: int, nocase: bool) -> None:
    """stringmatchlen's range: bounds and byte compared as signed chars, put in order,
    and only then lowered with ``nocase`` (the byte too)."""
    low, high = sorted((_signed(start), _signed(end)))
    if not nocase:
        _set_signed(members, low, high)
        return
    low, high = _lower(low), _lower(high)
    # the bytes that are not upper case letters, as they are ...
    _set_signed(members, low, min(high, 64))
    _set_signed(members, max(low, 91), high)
    # ... and the upper case letters whose lower case is in the range
    _set_signed(members, max(low - 32, 65), min(high - 32, 90))


def _lower(value: int) -> int:
    return value + 32 if 65 <= value <= 90 else value


def _is_letter(byte: int) -> bool:
    return 65 <= (byte & ~0x20) <= 90


def _atom_width(atom: bytes | _NoCase | _OneOf) -> int:
    if isinstance(atom, bytes):
        return len(atom)
    return len(atom.text) if isinstance(atom, _NoCase) else 1


def _width(segment: _Segment) -> int:
    return sum(map(_atom_width, segment))


def _literal(segment: _Segment) -> bytes | None:
    """The segment's bytes if it has only literal atoms."""
    if all(isinstance(atom, bytes) for atom in segment):
        return b"".join(atom for atom in segment if isinstance(atom, bytes))
    return None


def _matches_at(segment: _Segment, key: bytes, pos: int) -> bool:
    """Whether the segment matches key at ``pos`` (the caller knows it fits)."""
    for atom in segment:
        if isinstance(atom, bytes):
            if not key.startswith(atom, pos):
                return False
            pos += len(atom)
        elif isinstance(atom, _NoCase):
            end = pos + len(atom.text)
            if key[pos:end].lower() != atom.text:
                return False
            pos = end
        else:
            if not atom.table[key[pos]]:
                return False
            pos += 1
    return True


def _checker(segment: _Segment) -> Callable[[bytes, int], bool]:
    """``_matches_at`` for one segment; a short one as a regex of fixed-width atoms
    (faster, and with no quantifier there is nothing to backtrack into)."""
    if _width(segment) > 256:  # compiling a long regex costs more than it saves
        return lambda key, pos: _matches_at(segment, key, pos)
    source = b"".join(map(_atom_regex, segment))
    regex = re.compile(source, re.DOTALL)
    return lambda key, pos: regex.match(key, pos) is not None


def _atom_regex(atom: bytes | _NoCase | _OneOf) -> bytes:
    if isinstance(atom, bytes):
        return re.escape(atom)
    if isinstance(atom, _NoCase):  # ASCII case folding, as bytes patterns do
        return b"(?i:" + re.escape(atom.text) + b")"
    return _class_regex(atom.table)


def _class_regex(table: bytes) -> bytes:
    ranges: list[bytes] = []
    c = 0
    while c < 256:
        if table[c]:
            start = c
            while c + 1 < 256 and table[c + 1]:
                c += 1
            ranges.append(b"\\x%02x" % start + (b"-\\x%02x" % c if c > start else b""))
        c += 1
    return b"[" + b"".join(ranges) + b"]" if ranges else b"(?!)"


def _fixed(segment: _Segment) -> Matcher:
    """A pattern without stars: exactly one byte per atom."""
    width = _width(segment)
    check = _checker(segment)
    return lambda key: len(key) == width and check(key, 0)


def _starred(segments: list[_Segment]) -> Matcher:
    head, *middle, tail = segments
    head_width, tail_width = _width(head), _width(tail)
    minimum = sum(_width(segment) for segment in segments)
    head_literal, tail_literal = _literal(head), _literal(tail)
    middles = [segment for segment in middle if segment]
    # The shapes KEYS/SCAN/PSUBSCRIBE see most: prefix*, *suffix, *part*, prefix*suffix.
    if not middles and head_literal is not None and tail_literal is not None:
        if not tail_literal:
            if not head_literal:
                return lambda key: len(key) > 0
            return lambda key: key.startswith(head_literal)
        if not head_literal:
            return lambda key: key.endswith(tail_literal)
        return lambda key: (
            len(key) >= minimum and key.startswith(head_literal) and key.endswith(tail_literal)
        )
    if len(middles) == 1 and not head and not tail and (part := _literal(middles[0])):
        return lambda key: part in key
    parts = [_literal(segment) for segment in middles]
    if head_literal is not None and tail_literal is not None and None not in parts:
        literals = [(part, len(part)) for part in parts if part is not None]

        def match_literals(key: bytes) -> bool:
            n = len(key)
            if n < minimum or not key.startswith(head_literal):
                return False
            if not key.endswith(tail_literal):
                return False
            pos, end = head_width, n - tail_width
            for part, width in literals:
                found = key.find(part, pos, end)
                if found < 0:
                    return False
                pos = found + width
            return True

        return match_literals
    finders = [_finder(segment) for segment in middles]
    check_head, check_tail = _checker(head), _checker(tail)

    def match(key: bytes) -> bool:
        n = len(key)
        if n == 0 or n < minimum:
            return False  # the empty key never reaches stringmatchlen's loop
        end = n - tail_width
        if not check_head(key, 0) or not check_tail(key, end):
            return False
        pos = head_width
        for find in finders:
            pos = find(key, pos, end)
            if pos < 0:
                return False
        return True

    return match


def _finder(segment: _Segment) -> Callable[[bytes, int, int], int]:
    """Where the segment's leftmost occurrence in key[pos:end] ends, or -1: found with
    bytes.find on its first literal run, then checked; O(len(key) * width) at worst."""
    width = _width(segment)
    offset = 0
    anchor = b""
    for atom in segment:
        if isinstance(atom, bytes):
            anchor = atom
            break
        offset += _atom_width(atom)
    if not anchor:

        def scan(key: bytes, pos: int, end: int) -> int:
            for start in range(pos, end - width + 1):
                if _matches_at(segment, key, start):
                    return start + width
            return -1

        return scan
    after = width - offset  # from the anchor to the segment's end

    def find_anchored(key: bytes, pos: int, end: int) -> int:
        while True:
            found = key.find(anchor, pos + offset, end - after + len(anchor))
            if found < 0:
                return -1
            start = found - offset
            if _matches_at(segment, key, start):
                return start + width
            pos = start + 1

    return find_anchored
