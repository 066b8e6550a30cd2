"""Cursors for SCAN, HSCAN, SSCAN and ZSCAN.

Redis walks its hash table in reverse-binary bucket order, so a cursor stays valid while
the table changes. Python dicts do not expose buckets, so a scan here pages through a
snapshot of the names taken when the cursor was 0: every element present for the whole
iteration is returned, elements added meanwhile may be missed, as Redis promises. The
snapshots are kept per server in a bounded table; a cursor whose snapshot was evicted
restarts from a fresh one at the same position (it may repeat elements, never loops).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .glob import compile_glob
from .keyspace import CommandError

__all__ = ["SMALL_CONTAINER", "Cursors", "parse_scan_cursor", "scan_options", "scan_page"]

SMALL_CONTAINER = 128  # up to this size a scan answers in one call, like Redis's listpacks
_SLOTS = 1 << 12
_MAX_SNAPSHOTS = 256


class Cursors:
    def __init__(self) -> None:
        self._snapshots: OrderedDict[int, list[Any]] = OrderedDict()
        self._next_slot = 0

    def page(
        self, cursor: int, names: Callable[[], list[Any]], count: int
    ) -> tuple[int, list[Any]]:
        """The next page of names from ``cursor`` and the cursor that follows it (0: done)."""
        slot, position = cursor % _SLOTS, cursor // _SLOTS
        snapshot = self._snapshots.get(slot) if cursor else None
        if snapshot is None:
            snapshot = names()
            self._next_slot = self._next_slot % (_SLOTS - 1) + 1
            slot = self._next_slot
            self._snapshots[slot] = snapshot
            while len(self._snapshots) > _MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        else:
            self._snapshots.move_to_end(slot)
        chosen = snapshot[position : position + count]
        position += count
        if position >= len(snapshot):
            self._snapshots.pop(slot, None)
            return 0, chosen
        return position * _SLOTS + slot, chosen


def parse_scan_cursor(value: bytes) -> int:
    """Redis reads a cursor with strtoul: a C string (it ends at a NUL), an optional sign
    (a negative number wraps around), nothing at all meaning 0."""
    text = value.split(b"\0", 1)[0]
    if not text:
        return 0
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    stripped = digits.lstrip(b"0")
    if not digits.isdigit() or not digits.isascii() or len(stripped) > 20:
        raise CommandError("ERR invalid cursor")
    number = int(digits)
    if number >= 1 << 64:
        raise CommandError("ERR invalid cursor")
    return (-number if text[:1] == b"-" else number) % (1 << 64)


def scan_options(
    args: list[bytes], start: int, allow_type: bool = False
) -> tuple[Callable[[bytes], bool] | None, int, bytes | None]:
    """MATCH, COUNT (and TYPE, SCAN's only) from ``args[start:]``, as Redis's
    scanGenericCommand reads them."""
    from .commands import parse_int, syntax_error

    match: Callable[[bytes], bool] | None = None
    count = 10
    kind: bytes | None = None
    index = start
    while index < len(args):
        option = args[index].upper()
        if index + 1 >= len(args):
            raise syntax_error()
        value = args[index + 1]
        if option == b"COUNT":
            count = parse_int(value)
            if count < 1:
                raise syntax_error()
        elif option == b"MATCH":
            match = None if value == b"*" else compile_glob(value)
        elif option == b"TYPE" and allow_type:
            kind = value.lower()
        else:
            raise syntax_error()
        index += 2
    return match, count, kind


def scan_page(cursors: Cursors, container: Any, cursor: int, count: int) -> tuple[int, list[Any]]:
    """The next page of a container's elements. A small one answers whole with cursor 0
    whatever the cursor, as Redis does for listpacks and intsets."""
    if len(container) <= SMALL_CONTAINER:
        return 0, list(container)
    return cursors.page(cursor, lambda: list(container), count)
