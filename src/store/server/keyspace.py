"""The keyspace: numbered databases of typed values with millisecond expiry.

Values are Python objects chosen by type: ``bytes`` (string), ``collections.deque``
(list), ``dict`` (hash), ``set`` (set) and ``ZSet`` (sorted set). Expiry is lazy on
access plus an active cycle: a heap of deadlines is drained on every server tick within a
time budget (and more often while a backlog is due), so no key needs a timer of its own.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .zset import ZSet

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "TYPE_NAMES",
    "WRONGTYPE",
    "CommandError",
    "Database",
    "FrequencyTable",
    "lru_now",
    "now_ms",
    "reporting_new_keys",
    "set_lru_clock",
    "type_name",
]

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
_CLOCK_EVERY = 16  # keys expired between looks at the clock (Redis checks every 16 too)
TYPE_NAMES: dict[type, bytes] = {
    bytes: b"string",
    deque: b"list",
    dict: b"hash",
    set: b"set",
    ZSet: b"zset",
}


class CommandError(Exception):
    """Answered as ``-<message>``; the message starts with its code (ERR, WRONGTYPE, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def type_name(value: Any) -> bytes:
    return TYPE_NAMES[type(value)]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# Redis's LRU clock: seconds, read from a global the server's tick refreshes (serverCron
# updates server.lruclock the same way), so a key lookup stores it without a clock call.
lru_clock = int(time.monotonic())


def set_lru_clock() -> None:
    global lru_clock
    lru_clock = int(time.monotonic())


def lru_now() -> int:
    """The clock now (OBJECT IDLETIME reads it fresh; lookups use the tick's)."""
    set_lru_clock()
    return lru_clock


LFU_INIT_VAL = 5


class FrequencyTable(dict[bytes, int]):
    """``Database.access`` under an LFU maxmemory-policy: key -> Redis's 24-bit LFU field
    (minutes << 8 | logarithmic counter). A store is an access (updateLFU): the counter
    decays one per ``decay_time`` minutes idle, then grows with probability
    1 / ((counter - 5) * log_factor + 1); a new key starts at 5."""

    log_factor = 10
    decay_time = 1

    def __setitem__(self, key: bytes, clock: int) -> None:
        minutes = clock // 60 & 0xFFFF
        old = dict.get(self, key)
        if old is None:
            dict.__setitem__(self, key, minutes << 8 | LFU_INIT_VAL)
            return
        counter = self.decayed(old, minutes)
        if counter < 255:
            base = max(counter - LFU_INIT_VAL, 0)
            if random.random() < 1.0 / (base * self.log_factor + 1):
                counter += 1
        dict.__setitem__(self, key, minutes << 8 | counter)

    def decayed(self, field: int, minutes: int) -> int:
        """LFUDecrAndReturn: the counter less one per decay period since its last access."""
        last = field >> 8
        elapsed = minutes - last if minutes >= last else 65535 - last + minutes
        periods = elapsed // self.decay_time if self.decay_time else 0
        return max((field & 255) - periods, 0)


class Database:
    """One numbered database. Commands reach values only through these methods, so that
    expiry, WATCH and blocked clients see every change."""

    __slots__ = ("_deadlines", "access", "data", "expires", "index", "on_expire", "watchers")

    def __init__(self, index: int, on_expire: Callable[[Database, bytes], None]) -> None:
        self.index = index
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}  # key -> deadline, ms since the epoch
        self.watchers: dict[bytes, set[Client]] = {}
        self._deadlines: list[tuple[int, bytes]] = []  # a heap; stale entries are skipped
        self.on_expire = on_expire
        # key -> its last access (the LRU clock), or its LFU field (FrequencyTable). Only
        # stored on access: deleted keys are pruned by the server's tick (prune_access).
        self.access: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.data)

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: bytes) -> Any:
        """The live value at ``key`` or None; an expired key is deleted on the way."""
        value = self.data.get(key)
        if value is not None:
            if self.expires and key in self.expires and self.expires[key] <= now_ms():
                self._expire(key)
                return None
            self.access[key] = lru_clock
        return value

    def peek(self, key: bytes) -> Any:
        """Like ``get`` but not an access (OBJECT, TYPE: Redis's LOOKUP_NOTOUCH)."""
        value = self.data.get(key)
        if value is not None and self.expires and key in self.expires:
            if self.expires[key] <= now_ms():
                self._expire(key)
                return None
        return value

    def idle_seconds(self, key: bytes) -> int:
        last = self.access.get(key)
        now = lru_now()
        return 0 if last is None else max(now - last, 0)

    def frequency(self, key: bytes) -> int:
        access = self.access
        field = access.get(key)
        if field is None or not isinstance(access, FrequencyTable):
            return LFU_INIT_VAL
        return access.decayed(field, lru_now() // 60 & 0xFFFF)

    def track_frequency(self, lfu: bool, log_factor: int = 10, decay_time: int = 1) -> None:
        """Switch ``access`` between LRU times and LFU counters (maxmemory-policy). As in
        Redis, the old data is not converted: keys start again as new."""
        if lfu:
            table = FrequencyTable()
            table.log_factor = log_factor
            table.decay_time = decay_time
            clock = lru_now()
            for key in self.access:
                dict.__setitem__(table, key, (clock // 60 & 0xFFFF) << 8 | LFU_INIT_VAL)
            self.access = table
        else:
            clock = lru_now()
            self.access = dict.fromkeys(self.access, clock)

    def prune_access(self) -> None:
        """Forget the access data of deleted keys once it outgrows the keys."""
        access = self.access
        if len(access) > 2 * len(self.data) + 1024:
            data = self.data
            for key in [key for key in access if key not in data]:
                dict.__delitem__(access, key)

    def get_typed(self, key: bytes, kind: type) -> Any:
        """Like ``get``, but a value of another type is a WRONGTYPE error."""
        value = self.get(key)
        if value is not None and type(value) is not kind:
            raise CommandError(WRONGTYPE)
        return value

    def get_or_create(self, key: bytes, kind: type) -> Any:
        """The container at ``key``, made empty if missing. The server deletes containers
        that a write command leaves empty, so a new one never lingers."""
        value = self.get(key)
        if value is None:
            value = self.data[key] = kind()
            self.access[key] = lru_clock
        elif type(value) is not kind:
            raise CommandError(WRONGTYPE)
        return value

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def keys(self) -> Iterator[bytes]:
        """Live keys (a snapshot of the key list, so callers may delete while iterating)."""
        deadline_check = bool(self.expires)
        now = now_ms()
        for key in list(self.data):
            if deadline_check:
                deadline = self.expires.get(key)
                if deadline is not None and deadline <= now:
                    self._expire(key)
                    continue
            yield key

    # -- writing ---------------------------------------------------------------------------

    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        self.data[key] = value
        self.access[key] = lru_clock
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)

    def delete(self, key: bytes) -> bool:
        if self.get(key) is None:
            return False
        del self.data[key]
        self.expires.pop(key, None)
        return True

    def pop(self, key: bytes) -> Any:
        """Remove and return the live value at ``key`` with its deadline, or (None, None)."""
        value = self.get(key)
        if value is None:
            return None, None
        del self.data[key]
        return value, self.expires.pop(key, None)

    def clear(self) -> None:
        # as in Redis, a flush signals the watchers of the keys that existed, not all
        for key in self.watchers:
            if key in self.data:
                self.touch(key)
        self.data.clear()
        self.expires.clear()
        self._deadlines.clear()
        self.access.clear()

    # -- expiry ----------------------------------------------------------------------------

    def deadline(self, key: bytes) -> int | None:
        return self.expires.get(key) if self.get(key) is not None else None

    def set_deadline(self, key: bytes, deadline_ms: int) -> None:
        """Expire ``key`` at ``deadline_ms``; a deadline in the past deletes it now."""
        if deadline_ms <= now_ms():
            self.delete(key)
            return
        self.expires[key] = deadline_ms
        heapq.heappush(self._deadlines, (deadline_ms, key))
        if len(self._deadlines) > 2 * len(self.expires) + 1024:
            self._deadlines = [(d, k) for k, d in self.expires.items()]
            heapq.heapify(self._deadlines)

    def persist(self, key: bytes) -> bool:
        return self.get(key) is not None and self.expires.pop(key, None) is not None

    def _expire(self, key: bytes) -> None:
        del self.data[key]
        del self.expires[key]
        self.touch(key)
        self.on_expire(self, key)

    def expire_some(self, stop_at: float) -> bool:
        """The active cycle: delete keys whose deadline has passed, earliest first, until
        none is due or ``time.perf_counter()`` reaches ``stop_at``. True if it stopped
        for time with keys still due (the caller then runs another cycle soon).

        Redis samples 20 keys with a TTL and repeats while over 10% were stale; with a
        heap the earliest deadlines are exactly the stale ones, so this pops them."""
        heap = self._deadlines
        expires = self.expires
        now = now_ms()
        popped = 0
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            if expires.get(key) == deadline:
                self._expire(key)
            popped += 1
            # perf_counter per key would cost as much as the deletion itself
            if not popped % _CLOCK_EVERY and time.perf_counter() >= stop_at:
                return bool(heap) and heap[0][0] <= now
        return False

    # -- WATCH -----------------------------------------------------------------------------

    def touch(self, key: bytes) -> None:
        """Tell the clients watching ``key`` that it changed."""
        clients = self.watchers.get(key)
        if clients:
            for client in clients:
                client.dirty_cas = True


def reporting_new_keys(on_new: Callable[[Database, bytes], None]) -> type[Database]:
    """A Database class that calls ``on_new(db, key)`` when a key is created: the
    server gives its databases this class while the "new" keyspace event is on
    (notify.py), so plain databases pay nothing for it."""

    class NewKeysDatabase(Database):
        __slots__ = ()

        def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
            if key not in self.data:
                on_new(self, key)
            Database.set(self, key, value, keep_ttl)

        def get_or_create(self, key: bytes, kind: type) -> Any:
            value = self.get(key)
            if value is None:
                on_new(self, key)
            return Database.get_or_create(self, key, kind)

    return NewKeysDatabase
