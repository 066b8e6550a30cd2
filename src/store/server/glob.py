"""Redis's glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE): ``*``, ``?``, ``[abc]``,
``[^a-z]``, and ``\\`` escapes, matched against bytes."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["compile_glob"]


@lru_cache(maxsize=1024)
def compile_glob(pattern: bytes) -> Callable[[bytes], bool]:
    """A predicate telling whether a key matches ``pattern``, as Redis's stringmatchlen."""
    if pattern == b"*":
        return lambda key: True
    if not any(c in pattern for c in b"*?[\\"):
        return pattern.__eq__
    matcher = re.compile(_translate(pattern), re.DOTALL)
    return lambda key: matcher.fullmatch(key) is not None


def _translate(pattern: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == 42:  # *
            out += b".*"
        elif ch == 63:  # ?
            out += b"."
        elif ch == 92 and i + 1 < n:  # \x is a literal x
            i += 1
            out += re.escape(pattern[i : i + 1])
        elif ch == 91:  # [
            i += 1
            negate = i < n and pattern[i] == 94  # ^
            if negate:
                i += 1
            parts = bytearray()
            while i < n and pattern[i] != 93:  # ]
                if pattern[i] == 92 and i + 1 < n:
                    i += 1
                    parts += re.escape(pattern[i : i + 1])
                elif i + 2 < n and pattern[i + 1] == 45 and pattern[i + 2] != 93:  # a-z
                    low, high = sorted((pattern[i], pattern[i + 2]))
                    parts += b"%s-%s" % (re.escape(bytes([low])), re.escape(bytes([high])))
                    i += 2
                else:
                    parts += re.escape(pattern[i : i + 1])
                i += 1
            # Redis treats an unterminated class as ending at the pattern's end.
            if not parts:
                out += b"(?!)" if not negate else b"."
            else:
                out += b"[" + (b"^" if negate else b"") + bytes(parts) + b"]"
        else:
            out += re.escape(pattern[i : i + 1])
        i += 1
    return bytes(out)
