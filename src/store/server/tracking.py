"""Client-side caching (Redis 7.0's tracking.c): CLIENT TRACKING and its invalidations.

Default mode: the keys a tracking client reads (the keys of commands Redis flags
``readonly``, as its key specs give them) are remembered in ``table`` (key -> client ids,
one table for all databases, as in Redis); the next change to such a key sends one
invalidation to each of those clients and forgets the key. BCAST mode: every change to a
key under one of the prefixes (``b""``: all keys) is gathered per prefix and sent once
per loop iteration, as Redis's beforeSleep does. A flush sends a null invalidation to
every tracking client and empties the table.

An invalidation goes to the client's REDIRECT client if it has one (a RESP2 one must be
subscribed, and gets a ``message`` on ``__redis__:invalidate``), else as a RESP3 push;
a redirect client that is gone makes a ``tracking-redir-broken`` push. What would be
written to the client whose command is running waits until that command has answered
(Redis's tracking_pending_keys): it goes out after the reply.

BCAST messages go out before the replies of the same loop iteration (Redis writes both in
beforeSleep, the broadcast first): the replies wait for the server's batch, whose flush
broadcasts first and writes the clients told before the others.

Cost while unused: none. The first tracking client swaps this module's ``call``,
``wrote`` and ``flush_replies`` in front of PulsarDS's (instance attributes, as CLIENT
PAUSE swaps a client's runner); the last one to stop swaps them out. Expiry looks at
``on``.

Differences from Redis: keys changed while no client tracks are not taken out of the
table (so INFO's tracking_total_keys/items can stay higher, and a client that tracks
again may get an invalidation Redis would not send); a write command's keys count as
changed even when it changed nothing (a key that existed before and after: SET NX on
it; one missing before and after counts as unchanged), as WATCH does here; over
``tracking-table-max-keys`` the oldest tracked keys go first (Redis picks at random).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..command_table import COMMANDS as REDIS_COMMANDS
from ..command_table import command_for
from .client import Blocked
from .commands import COMMANDS, Command, lookup
from .keyspace import CommandError
from .protocol import OrderedSet, Push, Replies

if TYPE_CHECKING:
    from .client import Client
    from .core import PulsarDS
    from .keyspace import Database

__all__ = ["ClientTracking", "Tracking", "tracking_flags"]

CHANNEL = b"__redis__:invalidate"
# Redis remembers the keys of readonly commands, but not of the read-only script
# commands (their inner commands count) nor of pub/sub ones (shard channels).
_REMEMBERED = frozenset(
    name
    for name, info in REDIS_COMMANDS.items()
    if "readonly" in info.flags and "pubsub" not in info.flags
) - {"eval_ro", "evalsha_ro", "fcall_ro"}
# Keys are removed from the table to get under tracking-table-max-keys with this much
# effort per look, times the looks in a row that ended over the limit (as Redis does).
_EFFORT = 100


@dataclass(slots=True)
class ClientTracking:
    """``Client.tracking`` while CLIENT TRACKING is on (None while off)."""

    redirect: int = 0  # client id, 0 for none
    bcast: bool = False
    optin: bool = False
    optout: bool = False
    noloop: bool = False
    caching: bool = False  # CLIENT CACHING was given for the next command
    broken: bool = False  # the redirect client was found gone
    prefixes: set[bytes] = field(default_factory=set)


def tracking_flags(state: ClientTracking | None) -> OrderedSet:
    """CLIENT TRACKINGINFO's flags, in Redis's order (a RESP3 set)."""
    if state is None:
        return OrderedSet([b"off"])
    names = [b"on"]
    if state.bcast:
        names.append(b"bcast")
    if state.optin:
        names.append(b"optin")
        if state.caching:
            names.append(b"caching-yes")
    if state.optout:
        names.append(b"optout")
        if state.caching:
            names.append(b"caching-no")
    if state.noloop:
        names.append(b"noloop")
    if state.broken:
        names.append(b"broken_redirect")
    return OrderedSet(names)


_Held = tuple["Client", list[bytes] | None]  # a message held back: its target, the keys


class _Broadcast:
    """One prefix of the BCAST clients: its clients, and the keys changed under it in
    this loop iteration with the client that changed each last (for NOLOOP)."""

    __slots__ = ("clients", "keys")

    def __init__(self) -> None:
        self.clients: dict[Client, None] = {}
        self.keys: dict[bytes, Client | None] = {}


class Tracking:
    """The server's tracking state: ``server.tracking``."""

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        self.on = False  # the hooks are swapped in: some client tracks
        self.clients = 0  # INFO's tracking_clients
        self.table: dict[bytes, set[int]] = {}  # key -> ids of the clients that read it
        self.items = 0  # the ids in the table, all keys together
        self.prefixes: dict[bytes, _Broadcast] = {}
        self.max_keys = 0
        self._over_limit = 0  # looks in a row that ended over max_keys
        self._current: Client | None = None  # whose command runs (Redis's current_client)
        self._running = False  # inside that command (Redis's fixed_time_expire)
        self._pending: list[_Held] = []
        self._broadcast_due = False
        self._absent: list[bytes] = []  # the running write's keys that were missing
        self._early: list[Push] | None = None  # see call: sent before the reply
        # the class's own call and wrote, which the hooks wrap
        self._base_call = type(server).call
        self._base_wrote = type(server).wrote
        self._base_flush = type(server).flush_replies
        self.configure()

    def configure(self) -> None:
        self.max_keys = int(self.server.config.get_text("tracking-table-max-keys"))

    # -- CLIENT TRACKING ON / OFF ----------------------------------------------------------

    def enable(
        self,
        client: Client,
        redirect: int,
        bcast: bool,
        optin: bool,
        optout: bool,
        noloop: bool,
        prefixes: list[bytes],
    ) -> None:
        """enableTracking: options checked already. Prefixes add to those in effect."""
        state = client.tracking
        if state is None:
            state = client.tracking = ClientTracking()
            self.clients += 1
            if not self.on:
                self._switch(True)
                client.switch_runner()  # its next commands go through the new ``call``
        state.broken = state.bcast = state.optin = state.optout = state.noloop = False
        state.redirect = redirect
        if bcast:
            state.bcast = True
            for prefix in prefixes or [b""]:
                listeners = self.prefixes.get(prefix)
                if listeners is None:
                    listeners = self.prefixes[prefix] = _Broadcast()
                listeners.clients[client] = None
                state.prefixes.add(prefix)
        state.optin, state.optout, state.noloop = optin, optout, noloop

    def disable(self, client: Client) -> None:
        """disableTracking (OFF, RESET, the client closed): its ids stay in the table,
        skipped, until their keys change, as in Redis."""
        state = client.tracking
        if state is None:
            return
        if state.bcast:
            for prefix in state.prefixes:
                listeners = self.prefixes.get(prefix)
                if listeners is not None:
                    listeners.clients.pop(client, None)
                    if not listeners.clients:
                        del self.prefixes[prefix]
        client.tracking = None
        self.clients -= 1
        if not self.clients:
            self._switch(False)

    def _switch(self, on: bool) -> None:
        server = self.server
        self.on = on
        if on:
            server.call = self.call  # type: ignore[method-assign]
            server.wrote = self.wrote  # type: ignore[method-assign]
            server.flush_replies = self.flush_replies  # type: ignore[method-assign]
        else:
            for name in ("call", "wrote", "flush_replies"):
                server.__dict__.pop(name, None)
            self._broadcast_due = False

    # -- the hooks ---------------------------------------------------------------------------

    def call(self, client: Client, args: list[bytes]) -> Any:
        """``PulsarDS.call`` while clients track: remembers what tracking clients read,
        holds back the invalidations for the running client until it has its reply, and
        ends CLIENT CACHING's effect after the command it was given for."""
        server = self.server
        if self._running or client.in_exec or client.in_script:  # EXEC's, a script's
            return self._call(server, client, args)
        self._current = client
        early: list[Push] = []
        if self.max_keys and len(self.table) > self.max_keys:
            # Redis sends these before running the command: before its reply, after the
            # replies before it (which are not written yet: they go into the reply)
            self._early = early
            try:
                self.limit()
            finally:
                self._early = None
        self._running = True
        try:
            reply = self._call(server, client, args)
        except CommandError:
            self._done(client, args)
            for push in early:
                client.push(*push)
            if self._pending and server.loop is not None:
                # the error line is written after this returns: send them after it
                server.loop.call_soon(self._send_pending, client, self._pending)
                self._pending = []
            raise
        except BaseException:
            self._done(client, args)
            raise
        self._done(client, args)
        after: list[Push] = []
        if self._pending:
            pending, self._pending = self._pending, []
            after = self._deliver(client, pending)
        if early or after:
            if reply.__class__ is Blocked:  # it has no reply yet: they go now
                for push in (*early, *after):
                    client.push(*push)
            else:
                replies = reply if reply.__class__ is Replies else [reply]
                reply = Replies([*early, *replies, *after])
        return reply

    def _call(self, server: PulsarDS, client: Client, args: list[bytes]) -> Any:
        cmd = COMMANDS.get(args[0]) or lookup(args[0])
        if cmd is None:
            return self._base_call(server, client, args)
        if cmd.is_write:
            return self._call_write(server, client, cmd, args)
        state = client.tracking
        if state is None or state.bcast:
            return self._base_call(server, client, args)
        calls = cmd.calls  # it ran (was not refused nor queued) if this grew
        try:
            reply = self._base_call(server, client, args)
        except CommandError:
            if cmd.calls != calls:  # Redis remembers the keys of a read that failed too
                self.remember(client, cmd, args)
            raise
        if cmd.calls != calls:
            self.remember(client, cmd, args)
        return reply

    def _call_write(self, server: PulsarDS, client: Client, cmd: Command, args: list[bytes]) -> Any:
        """A write: its keys that are missing before and after it did not change (DEL of
        a missing key), and Redis signals no change for them."""
        absent: list[bytes] = []
        table = self.table
        if (table or self.prefixes) and cmd.arity_ok(len(args)):
            data = client.db.data
            try:
                if self.prefixes:
                    absent = [key for key in cmd.written(args) if key not in data]
                else:  # only a tracked key can make a message
                    absent = [k for k in cmd.written(args) if k in table and k not in data]
            except (IndexError, ValueError):  # malformed: the command will say so
                pass
        outer, self._absent = self._absent, absent
        try:
            return self._base_call(server, client, args)
        finally:
            self._absent = outer

    def _done(self, client: Client, args: list[bytes]) -> None:
        """After a command of a client (Redis's resetClient): CLIENT CACHING holds for
        the next command only, or the transaction it opens, and for CLIENT commands."""
        self._running = False
        self._current = None
        state = client.tracking
        if (
            state is not None
            and state.caching
            and client.multi is None
            and args[0].lower() != b"client"
        ):
            state.caching = False

    def remember(self, client: Client, cmd: Command, args: list[bytes]) -> None:
        """trackingRememberKeys, after a read of a tracking client (not BCAST)."""
        state = client.tracking
        if state is None or state.bcast:
            return
        if (state.optin and not state.caching) or (state.optout and state.caching):
            return
        if cmd.subcommand_calls is None:  # PulsarDS's table has the same keys (tested)
            if cmd.name not in _REMEMBERED:
                return
            keys = cmd.keys(args)
        else:  # a container's keys are its subcommand's: Redis's key specs say which
            info = command_for(args)
            if info.name not in _REMEMBERED:
                return
            keys = info.keys(args)
        if not keys:
            return
        table = self.table
        ident = client.id
        for key in keys:
            ids = table.get(key)
            if ids is None:
                ids = table[key] = set()
            if ident not in ids:
                ids.add(ident)
                self.items += 1

    def wrote(self, db: Database, keys: list[bytes]) -> None:
        """``PulsarDS.wrote`` while clients track: each changed key is invalidated."""
        self._base_wrote(self.server, db, keys)
        if not (self.table or self.prefixes):
            return
        writer = self._writer()
        absent = self._absent
        data = db.data
        for key in keys:
            if absent and key in absent and key not in data:
                continue  # still missing: nothing changed
            self.invalidate(key, writer)

    def _writer(self) -> Client | None:
        current = self._current
        if current is not None and current.in_script:
            return None  # Redis's script writes are its Lua client's, not the caller's
        return current

    def expired(self, key: bytes) -> None:
        """A key expired (lazily or by the active cycle); Redis signals it as a change
        made by no client."""
        self.invalidate(key, None)

    def invalidate(self, key: bytes, writer: Client | None, bcast: bool = True) -> None:
        """trackingInvalidateKey: ``key`` changed (by ``writer``'s command, or by none:
        expiry, eviction). ``bcast`` False: only forgotten (the table's limit)."""
        if bcast and self.prefixes:
            self._remember_broadcast(key, writer)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        clients = self.server.clients
        current = self._current
        # Redis walks the ids in the byte order of their memory (little-endian)
        ordered = sorted(ids, key=_little_endian) if len(ids) > 1 else ids
        for ident in ordered:
            target = clients.get(ident)
            if target is None:
                continue
            state = target.tracking
            if state is None or state.bcast:
                continue
            if target is current:
                if state.noloop:
                    continue
                if self._running:
                    self._pending.append((target, [key]))
                    continue
            self._send(target, [key])

    def flushed(self) -> None:
        """trackingInvalidateKeysOnFlush: FLUSHDB, FLUSHALL, SWAPDB. Every tracking client
        (BCAST ones too) gets a null invalidation: all its keys."""
        if self.clients:
            current = self._current
            for client in list(self.server.clients.values()):
                if client.tracking is None:
                    continue
                if client is current and self._running:
                    self._pending.append((client, None))
                else:
                    self._send(client, None)
        self.table.clear()
        self.items = 0

    def limit(self) -> None:
        """trackingLimitUsedSlots: over tracking-table-max-keys, forget keys (telling
        their clients, as if they changed) with an effort that grows while it stays
        over."""
        max_keys = self.max_keys
        table = self.table
        if not max_keys or len(table) <= max_keys:
            self._over_limit = 0
            return
        effort = _EFFORT * (self._over_limit + 1)
        while effort > 0 and table:
            effort -= 1
            self.invalidate(next(iter(table)), None, bcast=False)
            if len(table) <= max_keys:
                self._over_limit = 0
                return
        self._over_limit += 1

    # -- BCAST -------------------------------------------------------------------------------

    def _remember_broadcast(self, key: bytes, writer: Client | None) -> None:
        due = False
        for prefix, listeners in self.prefixes.items():
            if key.startswith(prefix):
                listeners.keys[key] = writer
                due = True
        server = self.server
        if due and not self._broadcast_due and server.loop is not None:
            self._broadcast_due = True
            server.loop.call_soon(self._broadcast_first)
            # Redis writes the replies of this loop iteration after the broadcast (both
            # in beforeSleep): make them wait for the server's batch, which broadcasts
            # first (flush_replies), so a writer's ack never precedes the invalidation
            server._batching = True

    def flush_replies(self) -> None:
        """``PulsarDS.flush_replies`` while clients track: the broadcast goes first."""
        if self._broadcast_due:
            self._broadcast_first()
        self._base_flush(self.server)

    def _broadcast_first(self) -> None:
        """Broadcast; the clients it told are moved to the front of the server's batch of
        replies waiting to be written."""
        if not self._broadcast_due:
            return
        server = self.server
        waiting = len(server._unflushed)
        self.broadcast()
        batch = server._unflushed
        if len(batch) > waiting:
            batch[:] = batch[waiting:] + batch[:waiting]

    def broadcast(self) -> None:
        """trackingBroadcastInvalidationMessages: once per loop iteration, each prefix's
        changed keys (in byte order, as Redis's radix tree has them) to its clients; a
        NOLOOP client does not get the keys it changed last itself."""
        self._broadcast_due = False
        if not self.clients:
            return
        for _prefix, listeners in sorted(self.prefixes.items()):
            changed = listeners.keys
            if not changed:
                continue
            listeners.keys = {}
            keys = sorted(changed)
            for client in list(listeners.clients):
                state = client.tracking
                if state is not None and state.noloop:
                    own = [key for key in keys if changed[key] is not client]
                    if own:
                        self._send(client, own)
                else:
                    self._send(client, keys)

    # -- delivery ----------------------------------------------------------------------------

    def _send_pending(self, client: Client, pending: list[_Held]) -> None:
        for push in self._deliver(client, pending):
            client.push(*push)

    def _deliver(self, client: Client, pending: list[_Held]) -> list[Push]:
        """Send the held-back messages; those for ``client`` itself are returned, to go
        after its reply."""
        mine: list[Push] = []
        for target, keys in pending:
            if target.transport is None:
                continue
            self._send(target, keys, client, mine)
        return mine

    def _send(
        self,
        target: Client,
        keys: list[bytes] | None,
        held: Client | None = None,
        out: list[Push] | None = None,
    ) -> None:
        """sendTrackingMessage: ``keys`` (None: all of them) are invalid for ``target``.
        A message for ``held`` goes to ``out`` instead of being written."""
        state = target.tracking
        receiver = target
        redirected = False
        if state is not None and state.redirect:
            found = self.server.clients.get(state.redirect)
            if found is None:
                state.broken = True
                if target.resp3:
                    self._push(target, (b"tracking-redir-broken", state.redirect), held, out)
                return
            receiver = found
            redirected = True
        if receiver.resp3:
            self._push(receiver, (b"invalidate", keys), held, out)
        elif redirected and receiver.subscriptions:
            self._push(receiver, (b"message", CHANNEL, keys), held, out)
        # else a RESP2 client without redirection: RESP2 has no way to tell it

    def _push(
        self,
        receiver: Client,
        message: tuple[Any, ...],
        held: Client | None,
        out: list[Push] | None,
    ) -> None:
        if receiver is held and out is not None:
            out.append(Push(message))
        elif self._early is not None and receiver is self._current:
            self._early.append(Push(message))
        else:
            receiver.push(*message)

    # -- INFO ----------------------------------------------------------------------------------

    def info(self) -> dict[str, int]:
        return {
            "tracking_clients": self.clients,
            "tracking_total_keys": len(self.table),
            "tracking_total_items": self.items,
            "tracking_total_prefixes": len(self.prefixes),
        }


def _little_endian(ident: int) -> bytes:
    return ident.to_bytes(8, "little")
