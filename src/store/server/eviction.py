"""maxmemory: the memory figure and eviction, as Redis 7.0's evict.c.

The figure (INFO's used_memory) is what this process holds for the data, kept up to date
incrementally while a limit is set (``maxmemory`` > 0): memory.STARTUP (a fixed figure
for the empty server, as Redis's used_memory_startup), plus the databases' tables (their
dicts and deadline heaps, ``sys.getsizeof``, refreshed every 64 writes and on each tick),
plus per key ``memory.python_key_size``: its key and value objects, deadline, LFU counter
and the record of its size here. Each key's size is recorded when a command writes it
(``PulsarDS.wrote``) and taken off when it is deleted, expires or is evicted, so a write
costs one size estimate of the keys it wrote (containers are sampled: a write to a big
one stays cheap) and no command scans the keyspace. Not counted: client buffers, the
script cache, the interpreter itself. Without a limit nothing is kept: INFO estimates the
figure from a sample of each database (``estimate``).

Eviction is Redis's: before each command (not inside EXEC or a script) a server over its
limit evicts keys until it is under it, or until maxmemory-eviction-tenacity's time
budget is spent (then a callback on the loop goes on between commands, as
evictionTimeProc). The LRU, LFU and TTL policies sample ``maxmemory-samples`` keys per
database into a pool of the 16 best candidates kept across calls (evictionPoolPopulate)
and evict its best live key; the random ones take a random key, one database after the
other. Keys are sampled from a list of each database's keys kept beside their sizes
(deleted keys are dropped from it when a sample meets them), TTL keys from the database's
deadline heap. An evicted key is deleted, signalled through ``PulsarDS.wrote`` (WATCH,
tracking: Redis's signalModifiedKey), published as ``evicted`` (class e) and logged to
the append-only file as a DEL. A server over its limit that cannot evict (noeviction, or
nothing to evict) refuses the commands flagged denyoom, every command queued in MULTI and
an EXEC holding a denyoom command with Redis's OOM error; scripts follow script.c: one
with a shebang but neither allow-oom nor no-writes is refused at the start, a script
without a shebang only at its first write if that is a denyoom command.
"""

from __future__ import annotations

import random
import sys
import time
from bisect import bisect_left
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..command_table import COMMANDS as REDIS_COMMANDS
from . import keyspace
from .keyspace import LFU_INIT_VAL, FrequencyTable
from .memory import BYTES_HEADER as _BYTES_HEADER
from .memory import PYMALLOC_MAX as _PYMALLOC_MAX
from .memory import SIZE_RECORD, STARTUP, python_key_size, table_bytes
from .notify import EVICTED, notify_db

if TYPE_CHECKING:
    from .client import Client
    from .commands import Command
    from .core import PulsarDS
    from .keyspace import Database

__all__ = ["DENYOOM", "OOM_ERROR", "Eviction", "estimate"]

OOM_ERROR = "OOM command not allowed when used memory > 'maxmemory'."
# Redis's denyoom commands (subcommands as container|name), from its own COMMAND reply
DENYOOM = frozenset(name for name, info in REDIS_COMMANDS.items() if "denyoom" in info.flags) | {
    f"{name}|{sub}"
    for name, info in REDIS_COMMANDS.items()
    for sub, subinfo in info.subcommands.items()
    if "denyoom" in subinfo.flags
}
_SCRIPTS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})
# what MULTI may still do when out of memory (processCommand's exceptions)
_MULTI_ALLOWED = frozenset({"exec", "discard", "quit", "reset"})
POOL_SIZE = 16  # EVPOOL_SIZE
OK, RUNNING, FAIL = 0, 1, 2  # EVICT_OK, EVICT_RUNNING, EVICT_FAIL
_TABLES_EVERY = 64  # writes between looks at a database's table sizes
_ESTIMATE_SAMPLE = 64  # keys per database measured by ``estimate``


def tenacity_seconds(tenacity: int) -> float:
    """evictionTimeLimitUs: 50 us per step up to 10, then 15% more per step, 100: none."""
    if tenacity <= 10:
        return 50e-6 * tenacity
    if tenacity < 100:
        return 500e-6 * 1.15 ** (tenacity - 10)
    return float("inf")


def estimate(server: PulsarDS) -> int:
    """The figure without a limit (nothing kept): each database's tables plus its keys'
    average size over a sample, times its number of keys."""
    total = STARTUP
    lfu = server.lfu
    for db in server.databases:
        count = len(db.data)
        if not count:
            continue
        total += table_bytes(db)
        expires = db.expires
        sample = list(islice(db.data.items(), _ESTIMATE_SAMPLE))
        sizes = sum(python_key_size(k, v, k in expires, lfu) for k, v in sample)
        total += sizes * count // len(sample)
        # the bookkeeping a limit adds (a sizes dict like the keys', a list of the keys),
        # so that setting maxmemory to this figure does not start over it
        total += sys.getsizeof(db.data) + 8 * count + 56
    return total


class Eviction:
    """The memory limit of one server: the figure's bookkeeping, the eviction pool, the
    OOM decisions. The server calls it only while ``server.memory_limit`` is set."""

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        self.enabled = False
        self.used = 0  # the keys' recorded sizes
        self.tables = 0  # the databases' tables and this bookkeeping's own
        self.peak = 0
        # per database: the data dict the sizes are of (SWAPDB swaps them), key -> size,
        # and the keys to sample (with deleted ones until a sample meets them)
        self.owners: list[dict[bytes, Any]] = []
        self.sizes: list[dict[bytes, int]] = []
        self.keys: list[list[bytes]] = []
        self._db_tables: list[int] = []
        self._writes = 0
        self._lfu = False  # the sizes were measured with LFU counters
        self.pool: list[tuple[int, bytes, int]] = []  # (score, key, db), best last
        self._next_db = 0  # the random policies' next database
        self.policy = "noeviction"
        self.samples = 5
        self.time_limit = tenacity_seconds(10)
        self.proc_running = False  # the eviction callback is scheduled (evictionTimeProc)
        self.exceeded_since = 0.0  # monotonic time the figure went over, 0 if under
        self.exceeded_total = 0.0  # seconds over the limit, ended spells
        # the OOM state at the start of the running top-level command, and the running
        # script's state (script.c's pre_command_oom_state, SCRIPT_ALLOW_OOM, WRITE_DIRTY)
        self.oom_state = False
        self.script_allow_oom = False
        self.script_dirty = False

    # -- settings --------------------------------------------------------------------------

    def configure(self) -> None:
        """maxmemory and its settings changed (or the server starts)."""
        server = self.server
        config = server.config
        self.policy = config.maxmemory_policy
        self.samples = int(config.get_text("maxmemory-samples"))
        self.time_limit = tenacity_seconds(int(config.get_text("maxmemory-eviction-tenacity")))
        limit = config.maxmemory
        if limit and not self.enabled:
            self.enabled = True
            self.rescan()
        elif not limit and self.enabled:
            self.enabled = False
            self.owners, self.sizes, self.keys, self._db_tables = [], [], [], []
            self.used = self.tables = 0
            self.pool.clear()
        elif limit and self._lfu != server.lfu:
            self.rescan()  # an LFU policy on or off changes each key's size
        server.memory_limit = limit
        if limit:
            self.start_proc()  # as updateMaxmemory: evict now if over

    # -- the figure ------------------------------------------------------------------------

    def figure(self) -> int:
        used = STARTUP + self.tables + self.used
        if used > self.peak:
            self.peak = used
        return used

    def rescan(self) -> None:
        """Measure every key (enabling the limit, loading data, changing the policy)."""
        server = self.server
        lfu = self._lfu = server.lfu
        self.owners = [db.data for db in server.databases]
        self.sizes = []
        self.keys = []
        for db in server.databases:
            expires = db.expires
            self.sizes.append(
                {k: python_key_size(k, v, k in expires, lfu) for k, v in db.data.items()}
            )
            self.keys.append(list(db.data))
        self.used = sum(sum(sizes.values()) for sizes in self.sizes)
        self.pool.clear()
        self.refresh_tables()

    def refresh_tables(self) -> None:
        self._db_tables = [self._tables_of(db) for db in self.server.databases]
        self.tables = sum(self._db_tables)

    def _tables_of(self, db: Database) -> int:
        index = db.index
        return table_bytes(db) + sys.getsizeof(self.sizes[index]) + sys.getsizeof(self.keys[index])

    def _repair(self) -> None:
        """SWAPDB swapped data dicts: let the sizes follow their dicts."""
        by_data = {id(data): (data, sizes, keys) for data, sizes, keys in self._entries()}
        if any(id(db.data) not in by_data for db in self.server.databases):
            self.rescan()  # a database got a new dict: measure it all again
            return
        for index, db in enumerate(self.server.databases):
            data, sizes, keys = by_data[id(db.data)]
            self.owners[index], self.sizes[index], self.keys[index] = data, sizes, keys
        self.pool.clear()
        self.refresh_tables()

    def _entries(self) -> list[tuple[dict[bytes, Any], dict[bytes, int], list[bytes]]]:
        return list(zip(self.owners, self.sizes, self.keys, strict=True))

    def account(self, db: Database, keys: list[bytes]) -> None:
        """After a write to ``keys`` of ``db`` (PulsarDS.wrote): record their sizes."""
        index = db.index
        data = db.data
        if self.owners[index] is not data:
            self._repair()
        sizes = self.sizes[index]
        expires = db.expires
        lfu = self.server.lfu
        for key in keys:
            value = data.get(key)
            old = sizes.get(key)
            if value is None:
                if old is not None:
                    del sizes[key]
                    self.used -= old
                continue
            if value.__class__ is bytes and not lfu and not (expires and key in expires):
                # the usual case inlined: memory.python_key_size of a string
                size = _BYTES_HEADER + len(key)
                new = (size + 15) & -16 if size <= _PYMALLOC_MAX else (size + 23) & -16
                size = _BYTES_HEADER + len(value)
                new += (size + 15) & -16 if size <= _PYMALLOC_MAX else (size + 23) & -16
                new += SIZE_RECORD
            else:
                new = python_key_size(key, value, key in expires, lfu)
            if old is None:
                self.keys[index].append(key)
                self.used += new
            else:
                self.used += new - old
            sizes[key] = new
        if not keys:  # FLUSHDB, FLUSHALL, SWAPDB...: check every database
            self.check()
        self._writes += 1
        if not self._writes % _TABLES_EVERY:
            old_tables = self._db_tables[index]
            self._db_tables[index] = new_tables = self._tables_of(db)
            self.tables += new_tables - old_tables

    def forget(self, db: Database, key: bytes) -> None:
        """``key`` expired: take its size off."""
        if self.owners[db.index] is not db.data:
            self._repair()
        old = self.sizes[db.index].pop(key, None)
        if old is not None:
            self.used -= old

    def check(self) -> None:
        """Re-measure a database whose keys the sizes do not match (a flush, a load: the
        writes that did not name their keys)."""
        databases = self.server.databases
        if any(owner is not db.data for owner, db in zip(self.owners, databases, strict=True)):
            self._repair()
        for db in databases:
            sizes = self.sizes[db.index]
            if len(sizes) != len(db.data):
                expires = db.expires
                lfu = self.server.lfu
                self.used -= sum(sizes.values())
                sizes.clear()
                sizes.update(
                    (k, python_key_size(k, v, k in expires, lfu)) for k, v in db.data.items()
                )
                self.used += sum(sizes.values())
                self.keys[db.index] = list(db.data)
        self.refresh_tables()

    def tick(self) -> None:
        """The server's tick: tables, mismatched databases, overgrown key lists."""
        self.check()
        for index, db in enumerate(self.server.databases):
            if len(self.keys[index]) > 2 * len(db.data) + 1024:
                self.keys[index] = list(db.data)
        if self.figure() > self.server.memory_limit:
            self.start_proc()

    # -- OOM decisions ---------------------------------------------------------------------

    def refuses(self, client: Client, cmd: Command, args: list[bytes]) -> bool:
        """Before ``cmd`` runs (PulsarDS.call, while a limit is set): evict if needed, and
        whether the command is refused with OOM_ERROR (processCommand, scriptCall)."""
        if client.in_script or client.in_exec:
            # checked as a whole at the top (EXEC, EVAL): only an OOM state then matters
            return self.oom_state and self._refuses_inside(client, cmd, args)
        if STARTUP + self.tables + self.used <= self.server.memory_limit and not (
            self.exceeded_since or self.proc_running
        ):  # under the limit: perform() would only say so
            self.oom_state = False
            return False
        out_of_memory = self.perform() == FAIL
        self.oom_state = out_of_memory
        if not out_of_memory:
            return False
        if cmd.name in _SCRIPTS:
            self._script_starts(cmd, args)
        if client.multi is not None:
            if cmd.name not in _MULTI_ALLOWED:
                return True
            if cmd.name == "exec":
                return any(self._queued_denyoom(queued) for queued in client.multi)
            return False
        return self.denyoom(cmd, args)

    def _refuses_inside(self, client: Client, cmd: Command, args: list[bytes]) -> bool:
        """A command of a script or EXEC that started out of memory (scriptVerifyOOM)."""
        if client.in_script:
            if cmd.is_write:
                if not self.script_dirty and not self.script_allow_oom and self.denyoom(cmd, args):
                    return True
                self.script_dirty = True  # a script is never stopped after a write
            return False
        if cmd.name in _SCRIPTS:  # a script in EXEC starts its own run
            self._script_starts(cmd, args)
        return False

    def _queued_denyoom(self, args: list[bytes]) -> bool:
        from .commands import lookup

        cmd = lookup(args[0])
        return cmd is not None and cmd.arity_ok(len(args)) and self.denyoom(cmd, args)

    def denyoom(self, cmd: Command, args: list[bytes]) -> bool:
        """Whether Redis flags this call denyoom (a script: by its shebang flags)."""
        name = cmd.full_name(args) if cmd.subcommand_calls is not None else cmd.name
        if name in DENYOOM:
            return True
        if name in _SCRIPTS:
            found = self._script_flags(cmd, args)
            if found is None:
                return False
            flags, compat = found
            return not compat and not flags & {"allow-oom", "no-writes"}
        return False

    def _script_starts(self, cmd: Command, args: list[bytes]) -> None:
        found = self._script_flags(cmd, args)
        self.script_dirty = False
        self.script_allow_oom = found is not None and not found[1] and "allow-oom" in found[0]

    def _script_flags(self, cmd: Command, args: list[bytes]) -> tuple[frozenset[str], bool] | None:
        """(shebang flags, compat) of the script or function a call runs, None if unknown."""
        server = self.server
        name = cmd.name
        if name.startswith("fcall"):
            engine = server.script_engine
            if engine is None:
                return None
            function = engine.function_index.get(args[1].lower().decode("utf-8", "replace"))
            return None if function is None else (frozenset(function.flags), False)
        body: bytes | None = args[1]
        if name.startswith("evalsha"):
            body = server.scripts.get(args[1].lower().decode("latin-1"))
        if body is None:
            return None
        if not body.startswith(b"#!"):
            return frozenset(), True
        from .keyspace import CommandError
        from .lua.engine import _parse_shebang

        try:
            flags, compat, _ = _parse_shebang(body)
        except CommandError:
            return None  # the command fails on it anyway
        return flags, compat

    # -- eviction --------------------------------------------------------------------------

    def perform(self) -> int:
        """performEvictions: OK (under the limit, or evicted enough), RUNNING (time is up,
        the callback goes on) or FAIL (over the limit with nothing to evict)."""
        server = self.server
        limit = server.memory_limit
        if self.figure() <= limit:
            self._metrics(OK)
            return OK
        if self.policy == "noeviction":
            self._metrics(FAIL)
            return FAIL
        started = time.perf_counter()
        evicted = 0
        result = OK
        while self.figure() > limit:
            found = self._pick()
            if found is None:
                result = FAIL
                break
            self.evict(*found)
            evicted += 1
            if not evicted % 16 and time.perf_counter() - started > self.time_limit:
                self.start_proc()
                break
        if result == OK and self.proc_running:
            result = RUNNING
        recorder = server.recorder
        if recorder.latency_threshold:
            took = int((time.perf_counter() - started) * 1000)
            recorder.latency_sample_if_needed("eviction-cycle", took)
        self._metrics(result)
        return result

    def _metrics(self, result: int) -> None:
        if result == OK:
            if self.exceeded_since:
                self.exceeded_total += time.monotonic() - self.exceeded_since
                self.exceeded_since = 0.0
        elif not self.exceeded_since:
            self.exceeded_since = time.monotonic()

    def start_proc(self) -> None:
        loop = self.server.loop
        if not self.proc_running and loop is not None:
            self.proc_running = True
            loop.call_soon(self._proc)

    def _proc(self) -> None:
        """evictionTimeProc: evict between commands until under the limit or stuck."""
        server = self.server
        if server.memory_limit and server.loop is not None and self.perform() == RUNNING:
            server.loop.call_soon(self._proc)
            return
        self.proc_running = False

    def evict(self, db: Database, key: bytes) -> None:
        """Delete ``key`` as Redis evicts it: signalled, published, logged."""
        server = self.server
        del db.data[key]
        db.expires.pop(key, None)
        db.access.pop(key, None)
        server.stats.evicted_keys += 1
        server.wrote(db, [key])  # WATCH, tracking (signalModifiedKey), the size here
        if server.notify_flags:
            notify_db(server, EVICTED, b"evicted", key, db.index)
        if server.aof is not None:
            server.aof.append(db.index, [b"DEL", key])

    def _pick(self) -> tuple[Database, bytes] | None:
        policy = self.policy
        databases = self.server.databases
        if policy.endswith("random"):
            volatile = policy.startswith("volatile")
            count = len(databases)
            for _ in range(count):
                self._next_db = (self._next_db + 1) % count
                db = databases[self._next_db]
                if volatile:
                    if db.expires:
                        key = self._sample_volatile(db)
                        if key is not None:
                            return db, key
                elif db.data:
                    key = self._sample_key(db)
                    if key is not None:
                        return db, key
            return None
        return self._pick_from_pool(policy.startswith("volatile"))

    def _pick_from_pool(self, volatile: bool) -> tuple[Database, bytes] | None:
        databases = self.server.databases
        pool = self.pool
        for _ in range(64):  # rounds of sampling; only ghosts for that long: give up
            total = 0
            for db in databases:
                keys = len(db.expires) if volatile else len(db.data)
                if keys:
                    self._populate(db, volatile)
                    total += keys
            if not total:
                return None
            while pool:  # best last; a key deleted since it was sampled is a ghost
                _, key, index = pool.pop()
                db = databases[index]
                if key in (db.expires if volatile else db.data):
                    return db, key
        return None

    def _populate(self, db: Database, volatile: bool) -> None:
        """evictionPoolPopulate: sample keys of ``db``, keep the best in the pool."""
        policy = self.policy
        pool = self.pool
        index = db.index
        access = db.access
        lfu = isinstance(access, FrequencyTable)
        clock = keyspace.lru_clock
        minutes = clock // 60 & 0xFFFF
        ttl = policy == "volatile-ttl"
        if self.owners[index] is not db.data:
            self._repair()
        keys = self.keys[index]
        data = db.data
        draw = random.random
        for _ in range(self.samples):
            if volatile:
                found = self._sample_volatile(db)
                if found is None:
                    return
                key = found
            else:  # _sample_key inlined: the usual case
                while keys:
                    position = int(draw() * len(keys))
                    key = keys[position]
                    if key in data:
                        break
                    keys[position] = keys[-1]  # a ghost: swap-remove
                    keys.pop()
                else:
                    found = self._sample_key(db)
                    if found is None:
                        return
                    key = found
                    keys = self.keys[index]
            if ttl:
                score = -db.expires[key]  # the sooner the deadline the better
            elif lfu and isinstance(access, FrequencyTable):
                field = access.get(key)
                counter = LFU_INIT_VAL if field is None else access.decayed(field, minutes)
                score = 255 - counter
            else:
                last = access.get(key)
                score = 1 << 32 if last is None else clock - last  # idle seconds
            # insert in ascending order; full: drop the worst, unless this is worse still
            k = bisect_left(pool, (score,))  # the first entry not below this score
            if len(pool) < POOL_SIZE:
                pool.insert(k, (score, key, index))
            elif k:
                del pool[0]
                pool.insert(k - 1, (score, key, index))

    def _sample_key(self, db: Database) -> bytes | None:
        """A random live key of ``db`` from its key list (ghosts met are dropped)."""
        index = db.index
        if self.owners[index] is not db.data:
            self._repair()
        keys = self.keys[index]
        data = db.data
        while keys:
            position = int(random.random() * len(keys))
            key = keys[position]
            if key in data:
                return key
            keys[position] = keys[-1]  # a ghost: swap-remove
            keys.pop()
        if data:  # the list lost track (should not happen): rebuild it
            self.keys[index] = list(data)
            return random.choice(self.keys[index])
        return None

    def _sample_volatile(self, db: Database) -> bytes | None:
        """A random key with a deadline, from the database's deadline heap."""
        heap = db._deadlines
        expires = db.expires
        for _ in range(16):  # stale heap entries are skipped
            if not heap:
                break
            deadline, key = heap[int(random.random() * len(heap))]
            if expires.get(key) == deadline:
                return key
        return next(iter(expires), None)
