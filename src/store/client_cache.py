"""Client-side caching, sans-IO: which commands may be answered locally, and the cache.

The store's integration (``_async/client_cache.py``) does the I/O: it sends the reads,
keeps the invalidation connection and feeds its messages here. This module only decides:

* ``CACHEABLE``: the commands whose reply depends on one key and nothing else, from the
  command table (read-only, exactly one key at a fixed position, not blocking, no
  ``nondeterministic_output`` tip, not time-dependent such as TTL), under their usual
  spellings: one dictionary lookup per command;
* ``ClientCache``: entries keyed by the packed command (its exact bytes), grouped by the
  Redis key they read so that an invalidation of a key drops every entry of it; bounded by
  entries and bytes (least recently used first out) and an optional TTL; tickets that make
  a read in flight lose the right to be stored when its key is invalidated meanwhile.

Replies are kept as received; a container (list, dict) is copied going in and coming out,
so a caller changing a reply it got cannot change what the next caller gets.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from time import monotonic
from typing import Any, Final

from .command_table import COMMANDS

__all__ = ["CACHEABLE", "MISS", "CacheStats", "ClientCache", "Ticket", "cacheable_names"]

# time-dependent replies although read-only and deterministic by the table
_TIME_DEPENDENT: Final = frozenset({"ttl", "pttl", "object", "dump"})
# read-only one-key commands that read other keys too (SORT_RO's BY/GET patterns)
_READS_OTHER_KEYS: Final = frozenset({"sort_ro"})


def cacheable_names() -> dict[str, int]:
    """Command name -> position of its one key, for every command a cache may answer."""
    found: dict[str, int] = {}
    for name, info in COMMANDS.items():
        if "|" in name or info.subcommands or not info.readonly or info.blocking:
            continue
        if "nondeterministic_output" in info.tips:
            continue  # SRANDMEMBER, HRANDFIELD...: a second call may answer otherwise
        if name in _TIME_DEPENDENT or name in _READS_OTHER_KEYS:
            continue
        specs = [spec for spec in info.key_specs if "not_key" not in spec.flags]
        if len(specs) != 1:
            continue
        spec = specs[0]
        if spec.begin != "index" or spec.find != "range" or spec.lastkey != 0:
            continue  # not exactly one key at a fixed place (EXISTS a b, MGET...)
        found[name] = spec.index
    return found


def _spelled(names: Mapping[str, int]) -> dict[Any, int]:
    spelled: dict[Any, int] = {}
    for name, index in names.items():
        for word in (name, name.upper()):
            spelled[word] = index
            spelled[word.encode()] = index
    return spelled


# usual spellings ("get", "GET", b"get", b"GET") -> the position of the key
CACHEABLE: Final[Mapping[Any, int]] = _spelled(cacheable_names())


class _Miss:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISS"


MISS: Final = _Miss()


@dataclass
class CacheStats:
    """Counters of one cache (a snapshot: ``store.cache_stats()``)."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0  # dropped for room (max entries, max bytes) or an expired TTL
    invalidations: int = 0  # entries dropped because the server said their key changed
    flushes: int = 0  # times the whole cache was emptied
    entries: int = 0
    bytes: int = 0


class Ticket:
    """The right to store the reply of one read in flight; lost when its key is
    invalidated (or the cache emptied) before the reply is stored."""

    __slots__ = ("key", "valid")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.valid = True


class _Entry:
    __slots__ = ("expires", "key", "owner", "size", "value")

    def __init__(self, value: Any, key: bytes, size: int, expires: float, owner: Any) -> None:
        self.value = value
        self.key = key
        self.size = size
        self.expires = expires
        self.owner = owner


_OVERHEAD: Final = 200  # bytes of bookkeeping per entry, roughly (objects, dict slots)


def reply_size(value: Any) -> int:
    """A rough size in bytes of a reply (strings by their length, containers summed)."""
    cls = value.__class__
    if cls is bytes or cls is str:
        return len(value) + 40
    if cls is list or cls is tuple:
        return 56 + sum(reply_size(item) for item in value)
    if cls is dict:
        return 64 + sum(reply_size(k) + reply_size(v) for k, v in value.items())
    return 32


def frozen_copy(value: Any) -> Any:
    """``value`` with its containers copied (a reply shared by the cache and a caller)."""
    cls = value.__class__
    if cls is list:
        return [frozen_copy(item) for item in value]
    if cls is dict:
        return {k: frozen_copy(v) for k, v in value.items()}
    return value


class ClientCache:
    """Replies by packed command, invalidated by Redis key. Not thread-safe: the blocking
    integration holds its lock around every call."""

    def __init__(
        self,
        max_entries: int | None = 10_000,
        max_bytes: int | None = None,
        ttl: float | None = None,
        owner_alive: Callable[[Any], bool] | None = None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        # whether an entry's owner (the connection whose tracking covers it) still holds
        self.owner_alive = owner_alive
        self.clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._by_key: dict[bytes, list[bytes]] = {}
        self._pending: dict[bytes, list[Ticket]] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.invalidations = 0
        self.flushes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def stats(self) -> CacheStats:
        return CacheStats(
            self.hits,
            self.misses,
            self.evictions,
            self.invalidations,
            self.flushes,
            len(self._entries),
            self._bytes,
        )

    def get(self, command: bytes) -> Any:
        """The cached reply of ``command`` (a copy of a container), or MISS; counted."""
        entry = self._entries.get(command)
        if entry is None:
            self.misses += 1
            return MISS
        owner = entry.owner
        if (owner is not None and not self.owner_alive(owner)) or (  # type: ignore[misc]
            entry.expires and self.clock() >= entry.expires
        ):
            # its connection is gone (the server no longer tracks the key for us), or
            # its TTL ran out
            self._remove(command, entry)
            self.evictions += 1
            self.misses += 1
            return MISS
        self._entries.move_to_end(command)
        self.hits += 1
        value = entry.value
        cls = value.__class__
        return frozen_copy(value) if cls is list or cls is dict else value

    def reserve(self, key: bytes) -> Ticket:
        """A ticket for a read of ``key`` about to be sent."""
        ticket = Ticket(key)
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = [ticket]
        else:
            pending.append(ticket)
        return ticket

    def release(self, ticket: Ticket) -> None:
        """Give up a ticket (the read failed)."""
        pending = self._pending.get(ticket.key)
        if pending is not None:
            try:
                pending.remove(ticket)
            except ValueError:
                pass
            if not pending:
                del self._pending[ticket.key]
        ticket.valid = False

    def put(self, ticket: Ticket, command: bytes, value: Any, owner: Any = None) -> bool:
        """Store the reply of the read of ``ticket`` unless its key was invalidated since
        the ticket was taken; True when stored."""
        valid = ticket.valid
        self.release(ticket)
        if not valid:
            return False
        key = ticket.key
        size = _OVERHEAD + len(command) + reply_size(value)
        if self.max_bytes is not None and size > self.max_bytes:
            return False
        old = self._entries.get(command)
        if old is not None:
            self._remove(command, old)
        expires = self.clock() + self.ttl if self.ttl else 0.0
        cls = value.__class__
        stored = frozen_copy(value) if cls is list or cls is dict else value
        self._entries[command] = _Entry(stored, key, size, expires, owner)
        self._bytes += size
        commands = self._by_key.get(key)
        if commands is None:
            self._by_key[key] = [command]
        else:
            commands.append(command)
        self._shrink()
        return True

    def _shrink(self) -> None:
        entries = self._entries
        max_entries = self.max_entries
        max_bytes = self.max_bytes
        while entries and (
            (max_entries is not None and len(entries) > max_entries)
            or (max_bytes is not None and self._bytes > max_bytes)
        ):
            command, entry = next(iter(entries.items()))
            self._remove(command, entry)
            self.evictions += 1

    def _remove(self, command: bytes, entry: _Entry) -> None:
        del self._entries[command]
        self._bytes -= entry.size
        commands = self._by_key.get(entry.key)
        if commands is not None:
            try:
                commands.remove(command)
            except ValueError:
                pass
            if not commands:
                del self._by_key[entry.key]

    def invalidate(self, keys: Iterable[bytes] | None) -> None:
        """The server says ``keys`` changed (None: everything, as after FLUSHALL)."""
        if keys is None:
            self.invalidate_all()
            return
        entries = self._entries
        for key in keys:
            pending = self._pending.pop(key, None)
            if pending is not None:
                for ticket in pending:
                    ticket.valid = False
            commands = self._by_key.pop(key, None)
            if commands is None:
                continue
            for command in commands:
                entry = entries.pop(command, None)
                if entry is not None:
                    self._bytes -= entry.size
                    self.invalidations += 1

    def invalidate_all(self) -> None:
        """Empty the cache and void every ticket (no reply in flight gets stored)."""
        for pending in self._pending.values():
            for ticket in pending:
                ticket.valid = False
        self._pending.clear()
        self._entries.clear()
        self._by_key.clear()
        self._bytes = 0
        self.flushes += 1
