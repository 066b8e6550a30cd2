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
from collections.abc import Callable, Iterable
from typing import Any

from .glob import compile_glob
from .keyspace import CommandError

__all__ = ["SMALL_CONTAINER", "Cursors", "parse_scan_options"]

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


def parse_cursor(value: bytes) -> int:
    if not value.isdigit() or len(value) > 20 or int(value) >= 1 << 64:
        raise CommandError("ERR invalid cursor")
    return int(value)


def parse_scan_options(
    args: list[bytes], start: int, allow_type: bool = False
) -> tuple[Callable[[bytes], bool] | None, int, bytes | None]:
    """MATCH, COUNT (and TYPE for SCAN) from ``args[start:]``."""
    from . import commands

    match: Callable[[bytes], bool] | None = None
    count = 10
    kind: bytes | None = None
    index = start
    while index < len(args):
        option = args[index].upper()
        if index + 1 >= len(args):
            raise commands.syntax_error()
        value = args[index + 1]
        if option == b"MATCH":
            match = None if value == b"*" else compile_glob(value)
        elif option == b"COUNT":
            count = commands.parse_int(value)
            if count < 1:
                raise commands.syntax_error()
        elif option == b"TYPE" and allow_type:
            kind = value.lower()
        else:
            raise commands.syntax_error()
        index += 2
    return match, count, kind


def filter_names(names: Iterable[bytes], match: Callable[[bytes], bool] | None) -> list[bytes]:
    return [name for name in names if match is None or match(name)]
