"""PulsarDS: the server object. It owns the databases, the clients, pub/sub, blocked
clients and persistence, and runs every command through ``call``."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from time import perf_counter_ns as _clock
from typing import Any

from ..command_table import COMMANDS as REDIS_COMMANDS
from .acl import AccessControl
from .aof import AppendOnlyLog
from .client import Blocked, Client
from .commands import COMMANDS, NO_QUEUE, PUBSUB, Command, load_families, lookup
from .config import ServerConfig
from .eviction import OOM_ERROR, Eviction
from .keyspace import CommandError, Database, FrequencyTable, reporting_new_keys, set_lru_clock
from .notify import EXPIRED, NEW, notify_db, parse_flags
from .observe import NEVER, Recorder
from .persistence import SnapshotManager
from .protocol import QUEUED
from .pubsub import PubSubRegistry
from .scan import Cursors
from .tracking import Tracking

__all__ = ["PulsarDS", "Stats"]

log = logging.getLogger("store.server")

load_families()

PROBE_EVERY = 32  # see queue_flush
# Active expiry's time budgets. As in Redis, each tick grants a slow cycle this share of
# the tick (ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC), and while keys are still due after it,
# fast cycles of EXPIRE_FAST_SECONDS follow, one per twice that at most
# (ACTIVE_EXPIRE_CYCLE_FAST_DURATION). Deleting a key costs Python ten times what it costs
# Redis, so the slow cycle runs in slices of EXPIRE_FAST_SECONDS with the loop's other
# work between them: the rate stays, a client never waits for a whole 25 ms cycle.
EXPIRE_SLOW_SHARE = 0.25
EXPIRE_FAST_SECONDS = 0.001
_SUBSCRIBED_CONTEXT = (
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)


_NOT_IN_MULTI = "ERR Command not allowed inside a transaction"
_SCRIPT_COMMANDS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})
_EVICTION_SETTINGS = frozenset(
    {"maxmemory", "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity"}
)
_OBSERVE_SETTINGS = frozenset(
    {"slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold", "latency-tracking"}
)
ERROR_CODES_KEPT = 128  # Redis's ERROR_STATS_NUMBER: distinct error codes counted


@dataclass
class Stats:
    connections_received: int = 0
    rejected_connections: int = 0
    protocol_errors: int = 0
    output_buffer_kills: int = 0
    expired_keys: int = 0
    evicted_keys: int = 0
    # error replies (INFO's total_error_replies, errorstats) and commands that answered
    # with one: refused before running (rejected_calls) or failed while running
    # (failed_calls), by the name commandstats shows. Touched on error paths only.
    error_replies: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    rejected_calls: dict[str, int] = field(default_factory=dict)
    failed_calls: dict[str, int] = field(default_factory=dict)

    def error(self, message: str) -> None:
        """Count one error reply under its code, as Redis's afterErrorReply does: the
        text before the first space (looked for in its first 31 characters), else ERR."""
        self.error_replies += 1
        space = message.find(" ", 0, 31)
        code = message[:space] if space > 0 else "ERR"
        errors = self.errors
        if code in errors:
            errors[code] += 1
        elif len(errors) < ERROR_CODES_KEPT:
            errors[code] = 1


class PulsarDS:
    """A Redis-compatible server. ``await start()`` listens; ``await close()`` stops."""

    def __init__(self, config: ServerConfig | None = None, **settings: Any) -> None:
        self.config = (config or ServerConfig()).copy(**settings)
        self.databases = [Database(i, self._expired) for i in range(self.config.databases)]
        self.clients: dict[int, Client] = {}
        self.pubsub = PubSubRegistry()
        self.cursors: defaultdict[str, Cursors] = defaultdict(Cursors)  # SCAN family tables
        self.scripts: dict[str, bytes] = {}  # sha1 hex -> Lua body, for EVALSHA
        self.script_engine: Any = None  # made by the scripting family on first use
        self.stats = Stats()
        self.acl = AccessControl(self)  # users (acl.py); before any client
        self.dirty = 0  # changes since the last snapshot
        self.lastsave = int(time.time())
        self.started = time.time()
        self.run_id = os.urandom(20).hex()
        self.blocked: dict[tuple[int, bytes], deque[Client]] = {}
        self.ready_keys: list[tuple[Database, bytes]] = []
        self.aof: AppendOnlyLog | None = None
        self.snapshots = SnapshotManager(self)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0  # the bound TCP port, once started
        self._client_ids = 0
        self._listeners: list[asyncio.AbstractServer] = []
        self._cron: asyncio.Task[None] | None = None
        self._expire_next_db = 0  # where the next active expiry cycle starts
        self._expire_budget = 0.0  # seconds left of this tick's slow cycle
        self._expire_next: asyncio.Handle | None = None  # the next slice, if scheduled
        self._closed: asyncio.Event | None = None
        self._depth = 0  # nesting of call(): EXEC and scripts call commands inside commands
        # clients with replies to send when this loop iteration's reads are done
        self._unflushed: list[Client] = []
        self._batching = False  # the last batch had several clients: batch the next ones
        self._replies_sent = 0
        self._last_error: CommandError | None = None  # counted already (see _failed)
        self._script_error: str | None = None  # what a command inside a script answered
        # slow log, latency events and histograms, MONITOR (see observe.py)
        self.observe_ns = NEVER  # the Recorder sets it: see observe.py
        self.recorder = Recorder(self)
        self.usage = self.recorder.usage  # the same dict, for the hot path
        self.recorder.configure()
        self.lfu = False  # an LFU maxmemory-policy: keys count accesses (OBJECT FREQ)
        self._apply_policy()
        self.memory_limit = 0  # maxmemory while a limit is set: the one check (eviction.py)
        self.eviction = Eviction(self)
        self.eviction.configure()
        self.notify_flags = 0  # keyspace notifications' classes, 0 when off (notify.py)
        self._apply_notify()
        self.tracking = Tracking(self)  # client-side caching (tracking.py)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the data files, then listen on TCP (and the unix socket if configured)."""
        self.loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        set_lru_clock()  # the tick keeps it fresh from now on
        self.snapshots.load()
        if self.memory_limit:
            self.eviction.rescan()  # the loaded keys
        if self.config.appendonly:
            self.aof = AppendOnlyLog.open(self)
        config = self.config
        if config.port >= 0 and config.bind:
            hosts = config.bind.split()
            listener = await self.loop.create_server(
                lambda: Client(self),
                hosts if len(hosts) > 1 else hosts[0],
                config.port,
                reuse_address=True,
                backlog=511,
            )
            self._listeners.append(listener)
            self.port = int(listener.sockets[0].getsockname()[1])
        if config.unixsocket:
            if os.path.exists(config.unixsocket):
                os.unlink(config.unixsocket)
            self._listeners.append(
                await self.loop.create_unix_server(lambda: Client(self), config.unixsocket)
            )
        self._cron = self.loop.create_task(self._run_cron())
        log.info("PulsarDS ready on %s:%d", config.bind, self.port)

    @property
    def address(self) -> tuple[str, int]:
        return (self.config.bind.split()[0], self.port)

    async def serve_forever(self) -> None:
        if self._closed is None:
            await self.start()
        assert self._closed is not None
        await self._closed.wait()

    def shutdown(self, save: bool | None = None, strict: bool = False) -> None:
        """Stop from inside the loop: save first if asked, or if save rules exist and
        something changed. A failed save stops SHUTDOWN (``strict``), as in Redis; any
        other stop goes on and logs it."""
        if self._closed is None or self._closed.is_set():
            return
        if save is None:
            save = bool(self.config.save) and self.dirty > 0
        if save:
            try:
                self.snapshots.save()
            except Exception as exc:
                if strict:
                    raise
                log.error("the final snapshot failed: %s", exc)
        for listener in self._listeners:
            listener.close()
        for client in list(self.clients.values()):
            client.kill()
        if self._cron is not None:
            self._cron.cancel()
        if self.aof is not None:
            self.aof.close()
            self.aof = None
        if self._closed is not None:
            self._closed.set()

    async def close(self, save: bool | None = None) -> None:
        if self._closed is None:
            return
        self.shutdown(save)
        for listener in self._listeners:
            await listener.wait_closed()
        self._listeners.clear()
        if self.config.unixsocket and os.path.exists(self.config.unixsocket):
            os.unlink(self.config.unixsocket)
        await self.snapshots.wait()

    async def _run_cron(self) -> None:
        """Redis's serverCron: active expiry, save rules, AOF fsync, idle clients."""
        while True:
            await asyncio.sleep(1 / min(max(1, self.config.hz), 500))  # as Redis caps it
            try:
                self.cron()
            except Exception:  # a bug in one tick must not stop the next
                log.exception("server tick failed")

    def cron(self) -> None:
        set_lru_clock()
        for db in self.databases:
            db.prune_access()
        self._expire_budget = EXPIRE_SLOW_SHARE / min(max(1, self.config.hz), 500)
        if self._expire_next is not None:  # one chain of slices at a time
            self._expire_next.cancel()
        self._expire_slice()
        self.snapshots.tick()
        if self.aof is not None:
            self.aof.tick()
        if self.memory_limit:
            self.eviction.tick()
        if self.tracking.clients:  # a CONFIG SET may have lowered the limit while idle
            self.tracking.limit()
        timeout = self.config.timeout
        if timeout:
            now = time.monotonic()
            for client in list(self.clients.values()):
                idle = now - client.last_interaction
                if idle > timeout and client.blocked is None and not client.subscriptions:
                    client.close()

    def _expire_slice(self) -> None:
        """One slice of active expiry. While keys are still due it runs again: at once
        (after the loop's pending work) while the tick's slow budget lasts, then as fast
        cycles, so keys go about as fast as they expire and clients still get the loop."""
        self._expire_next = None
        if self._closed is not None and self._closed.is_set():
            return  # stopped since it was scheduled
        slow = self._expire_budget > 0
        budget = min(self._expire_budget, EXPIRE_FAST_SECONDS) if slow else EXPIRE_FAST_SECONDS
        started = time.perf_counter()
        more = self.expire_cycle(budget)
        took = time.perf_counter() - started
        if slow:
            self._expire_budget -= took
        if self.recorder.latency_threshold:  # LATENCY's expire-cycle event
            self.recorder.latency_sample_if_needed("expire-cycle", int(took * 1000))
        if more and self.loop is not None:
            if self._expire_budget > 0:
                self._expire_next = self.loop.call_soon(self._expire_slice)
            else:
                self._expire_next = self.loop.call_later(EXPIRE_FAST_SECONDS, self._expire_slice)

    def expire_cycle(self, budget: float) -> bool:
        """Delete due keys for up to ``budget`` seconds; True if it ran out of time (keys
        may still be due). A cycle that ran out resumes at the next database, so one
        database's backlog does not starve the others."""
        stop_at = time.perf_counter() + budget
        databases = self.databases
        count = len(databases)
        start = self._expire_next_db
        for step in range(count):
            index = (start + step) % count
            db = databases[index]
            if (db.expires and db.expire_some(stop_at)) or time.perf_counter() >= stop_at:
                self._expire_next_db = (index + 1) % count
                return True
        return False

    def config_changed(self, names: set[str]) -> None:
        """CONFIG SET changed ``names``: apply what the running server must act on."""
        if names & _OBSERVE_SETTINGS:
            self.recorder.configure()
        if "requirepass" in names:
            self.acl.set_default_password(self.config.requirepass)
        if names & {"maxmemory-policy", "lfu-log-factor", "lfu-decay-time"}:
            self._apply_policy()
        if names & _EVICTION_SETTINGS:
            self.eviction.configure()
        if "notify-keyspace-events" in names:
            self._apply_notify()
        if "tracking-table-max-keys" in names:
            self.tracking.configure()
        if "appendonly" in names:
            if self.config.appendonly and self.aof is None:
                self.aof = AppendOnlyLog.create(self)
            elif not self.config.appendonly and self.aof is not None:
                self.aof.close()
                self.aof = None

    def _apply_notify(self) -> None:
        """Keyspace notifications' classes from notify-keyspace-events (notify.py)."""
        flags = parse_flags(self.config.get_text("notify-keyspace-events"))
        self.notify_flags = flags
        kind = reporting_new_keys(self._key_created) if flags & NEW else Database
        for db in self.databases:
            db.__class__ = kind

    def _key_created(self, db: Database, key: bytes) -> None:
        notify_db(self, NEW, b"new", key, db.index)

    def _apply_policy(self) -> None:
        """LRU or LFU data for OBJECT IDLETIME / FREQ, as maxmemory-policy says."""
        lfu = "lfu" in self.config.maxmemory_policy
        factor = int(self.config.get_text("lfu-log-factor"))
        decay = int(self.config.get_text("lfu-decay-time"))
        if lfu != self.lfu:
            self.lfu = lfu
            for db in self.databases:
                db.track_frequency(lfu, factor, decay)
        elif lfu:
            for db in self.databases:
                table = db.access
                if isinstance(table, FrequencyTable):
                    table.log_factor, table.decay_time = factor, decay

    def reset_stats(self) -> None:
        self.stats = Stats()
        self.eviction.exceeded_total = self.eviction.exceeded_since = 0.0
        self.recorder.reset_stats()
        for cmd in COMMANDS.values():
            cmd.calls = 0
            if cmd.subcommand_calls is not None:
                cmd.subcommand_calls.clear()

    # -- clients ---------------------------------------------------------------------------

    def next_client_id(self) -> int:
        self._client_ids += 1
        return self._client_ids

    def accept(self, client: Client) -> bool:
        self.stats.connections_received += 1
        if len(self.clients) >= self.config.maxclients:
            self.stats.rejected_connections += 1
            return False
        self.clients[client.id] = client
        return True

    def forget(self, client: Client) -> None:
        if self.clients.pop(client.id, None) is None:
            return
        if client.blocked is not None:
            self.unblock(client, client.blocked)
            client.blocked = None
        self.unwatch(client)
        self.pubsub.remove_client(client)
        if client.monitoring:
            self.recorder.remove_monitor(client)
        if client.tracking is not None:
            self.tracking.disable(client)

    def end_transaction(self, client: Client) -> None:
        client.multi = None
        client.multi_failed = False
        self.unwatch(client)

    def unwatch(self, client: Client) -> None:
        for db, key in client.watched:
            watchers = db.watchers.get(key)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del db.watchers[key]
        client.watched = []
        client.dirty_cas = False

    # -- sending replies -------------------------------------------------------------------

    def queue_flush(self, client: Client) -> bool:
        """``client`` has replies to send: True if they are queued to go out with the other
        clients' after the reads of this loop iteration (as Redis writes in beforeSleep),
        False if the client should send them now.

        With many busy clients batching is worth a third more throughput (sending each
        reply at once kept waking peers that were idle again by the next one); with one,
        it only costs a loop iteration per reply. So replies are batched while the last
        batch had several clients, and otherwise one reply in PROBE_EVERY is, to notice
        when more clients become busy."""
        if self._unflushed:  # a batch is being gathered: join it
            self._unflushed.append(client)
            return True
        self._replies_sent += 1
        if not self._batching and self._replies_sent % PROBE_EVERY:
            return False
        assert self.loop is not None
        self.loop.call_soon(self.flush_replies)
        self._unflushed.append(client)
        return True

    def flush_replies(self) -> None:
        clients, self._unflushed = self._unflushed, []
        self._batching = len(clients) > 1
        for client in clients:  # the first flush also writes the AOF buffer
            client.flush()

    # -- running commands ------------------------------------------------------------------

    def call(self, client: Client, args: list[bytes]) -> Any:
        """Run one command for ``client``: the checks Redis makes, then the handler.
        Every error it raises is counted once (INFO errorstats, commandstats)."""
        cmd = COMMANDS.get(args[0]) or lookup(args[0])
        if cmd is None:
            if client.multi is not None:
                client.multi_failed = True
            shown = ""
            for arg in args[1:]:
                if len(shown) >= 128:
                    break
                shown += f"'{arg.decode('utf-8', 'replace')[: 128 - len(shown)]}' "
            message = (
                f"ERR unknown command '{args[0].decode('utf-8', 'replace')[:128]}', "
                f"with args beginning with: {shown}"
            )
            self.stats.error(message)
            raise CommandError(message)
        if not cmd.arity_ok(len(args)):
            raise self._refuse(client, cmd, f"wrong number of arguments for '{cmd.name}' command")
        if client.restricted:  # AUTH needed, or a user with limits (acl.py)
            refusal = self.acl.refusal(client, cmd, args)
            if refusal is not None:
                raise self._refuse(client, cmd, refusal)
        if self.memory_limit and self.eviction.refuses(client, cmd, args):
            raise self._refuse(client, cmd, OOM_ERROR)
        if client.multi is not None and NO_QUEUE not in cmd.flags:
            client.multi.append(args)
            return QUEUED
        if (
            (client.channels or client.patterns or client.shard_channels)
            and not client.resp3
            and PUBSUB not in cmd.flags
        ):
            raise self._refuse(client, cmd, _SUBSCRIBED_CONTEXT.format(cmd.full_name(args)))
        cmd.calls += 1  # INFO's total_commands_processed is their sum
        client.last_command = args[0]
        # Redis times every command (call()): two reads of the clock, the time added to
        # the command's row, and a look only when it took observe_ns or more (slow log,
        # latency monitor; every command while someone MONITORs).
        name = cmd.name
        start = _clock()
        if not cmd.is_write:
            try:
                reply = cmd.handler(client, args)
            except CommandError as exc:
                self._failed(client, cmd, args, exc)
                self._timed(client, cmd, args, start, False)
                raise
            if cmd.subcommand_calls is not None:
                # counted once it ran: an unknown subcommand raised, and is not kept
                name = cmd.full_name(args)
                cmd.subcommand_calls[name] = cmd.subcommand_calls.get(name, 0) + 1
        else:
            self._depth += 1
            try:
                reply = cmd.handler(client, args)
            except CommandError as exc:
                client.propagate = None  # a failed command logs nothing, now or later
                self._failed(client, cmd, args, exc)
                self._timed(client, cmd, args, start, False)
                raise
            except BaseException:
                client.propagate = None
                raise
            finally:
                self._depth -= 1
            if reply.__class__ is Blocked:  # nothing changed yet: the retry reports its write
                client.propagate = None
                reply.args = args
                reply.ran_ns = self._timed(client, cmd, args, start, True)
                return reply
            db = client.db
            self.wrote(db, cmd.written(args))
            self.dirty += 1
            if self.aof is not None:
                rewritten = client.propagate
                if rewritten is None:
                    self.aof.append(db.index, args)
                else:
                    for command_args in rewritten:
                        self.aof.append(db.index, command_args)
            client.propagate = None
        elapsed = _clock() - start
        try:
            row = self.usage[name]
        except KeyError:
            row = self.recorder.row(name)
        row[64] += elapsed  # the total (observe.TOTAL), then buckets by bit length
        row[elapsed.bit_length()] += 1
        if elapsed >= self.observe_ns:
            self.recorder.observe(client, cmd, name, args, elapsed, False)
        return reply

    def _timed(
        self, client: Client, cmd: Command, args: list[bytes], start: int, blocked: bool
    ) -> int:
        """The timing of a command that failed or blocked (the hot path's, not inlined)."""
        elapsed = _clock() - start
        name = cmd.name
        if cmd.subcommand_calls is not None:
            name = cmd.full_name(args)
            if name not in REDIS_COMMANDS:  # an unknown subcommand: refused, as in Redis
                return elapsed
        row = self.recorder.row(name)
        row[64] += elapsed
        if not blocked:
            row[elapsed.bit_length()] += 1
        if elapsed >= self.observe_ns:
            self.recorder.observe(client, cmd, name, args, elapsed, blocked)
        return elapsed

    def _failed(self, client: Client, cmd: Command, args: list[bytes], exc: CommandError) -> None:
        """A command answered with an error while running: count the error and the
        command's failed call. An error is counted once, as Redis counts it: not again
        as it passes through the calls of EXEC, nor when a script fails (or returns
        the error) because a command it called did."""
        if exc is self._last_error:
            return
        self._last_error = exc
        stats = self.stats
        message = exc.message
        script_error = self._script_error
        if client.in_script:
            self._script_error = message
        elif script_error is not None:
            self._script_error = None
            if cmd.name in _SCRIPT_COMMANDS and message.startswith(script_error):
                stats.failed_calls[cmd.name] = stats.failed_calls.get(cmd.name, 0) + 1
                return
        stats.error(message)
        name = cmd.name
        if cmd.subcommand_calls is not None:
            name = cmd.full_name(args)
            if name not in REDIS_COMMANDS:
                cmd.calls -= 1  # an unknown subcommand: Redis refuses it before it runs
                return
            if exc.message.startswith("ERR wrong number of arguments"):
                cmd.calls -= 1  # refused before it runs, in Redis
                stats.rejected_calls[name] = stats.rejected_calls.get(name, 0) + 1
                return
            cmd.subcommand_calls[name] = cmd.subcommand_calls.get(name, 0) + 1
        elif exc.message.startswith(_NOT_IN_MULTI):  # refused by its handler, not run
            stats.rejected_calls[name] = stats.rejected_calls.get(name, 0) + 1
            return
        stats.failed_calls[name] = stats.failed_calls.get(name, 0) + 1

    def _refuse(self, client: Client, cmd: Command, reason: str) -> CommandError:
        """The error for a command refused before it runs (counted as its rejected call).
        Inside MULTI it fails the transaction; a refused EXEC discards it at once, as
        Redis does."""
        stats = self.stats
        name = cmd.name
        stats.rejected_calls[name] = stats.rejected_calls.get(name, 0) + 1
        if client.multi is not None:
            if cmd.name == "exec":
                self.end_transaction(client)
                message = f"EXECABORT Transaction discarded because of: {reason}"
                stats.error(message)
                return CommandError(message)
            client.multi_failed = True
        if not reason.startswith(("NOAUTH", "NOPERM", "OOM ", "ERR ")):
            reason = f"ERR {reason}"
        if client.in_script:  # the script fails with this error: counted once (_failed)
            self._script_error = reason
        stats.error(reason)
        return CommandError(reason)

    def wrote(self, db: Database, keys: list[bytes]) -> None:
        """After a change to ``keys``: drop emptied containers, signal WATCH and waiters."""
        data = db.data
        for key in keys:
            value = data.get(key)
            if value is not None and not value and value.__class__ is not bytes:
                del data[key]
                db.expires.pop(key, None)
            if db.watchers:
                db.touch(key)
            if self.blocked and (db.index, key) in self.blocked:
                self.ready_keys.append((db, key))
        if self.memory_limit:  # the keys' sizes, for maxmemory (eviction.py)
            self.eviction.account(db, keys)

    def propagate(self, db: Database, args: list[bytes]) -> None:
        """Log a change that did not come from a command's own arguments."""
        self.dirty += 1
        if self.aof is not None:
            self.aof.append(db.index, args)

    # -- blocking commands -----------------------------------------------------------------

    def block(self, client: Client, blocked: Blocked) -> None:
        index = client.db.index
        for key in blocked.keys:
            self.blocked.setdefault((index, key), deque()).append(client)

    def unblock(self, client: Client, blocked: Blocked) -> None:
        index = client.db.index
        for key in blocked.keys:
            waiters = self.blocked.get((index, key))
            if waiters is not None:
                try:
                    waiters.remove(client)
                except ValueError:
                    pass
                if not waiters:
                    del self.blocked[(index, key)]

    def serve_blocked(self) -> None:
        """Hand data that arrived on watched keys to the clients waiting longest."""
        if self._depth:
            return
        from .client import NOT_READY

        while self.ready_keys:
            db, key = self.ready_keys.pop(0)
            waiters = self.blocked.get((db.index, key))
            if not waiters:
                continue
            # Longest waiting first; one whose command cannot use the key (a BZPOPMIN on
            # what is now a list) does not hold back the others.
            for client in list(waiters):
                blocked = client.blocked
                if blocked is None or key not in blocked.keys:
                    continue
                try:
                    reply = blocked.retry(key)
                except CommandError as exc:
                    self.stats.error(exc.message)
                    client.unblock(None, error=exc.message)
                    continue
                if reply is not NOT_READY:
                    client.unblock(reply)

    def _expired(self, db: Database, key: bytes) -> None:
        self.stats.expired_keys += 1
        if self.memory_limit:
            self.eviction.forget(db, key)
        if self.tracking.on:
            self.tracking.expired(key)
        if self.notify_flags:
            notify_db(self, EXPIRED, b"expired", key, db.index)
        if self.aof is not None:
            self.aof.append(db.index, [b"DEL", key])
