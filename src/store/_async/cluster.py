"""The Redis Cluster store (``redis+cluster://``, ``rediss+cluster://``): one RedisStore per
node, commands routed by their keys' slot, MOVED and ASK followed, topology refreshed.

The slot map comes from ``CLUSTER SHARDS`` (``CLUSTER SLOTS`` on servers without it) of any
reachable node: the known nodes first, then the startup nodes of the URL. A refresh runs
one at a time (callers arriving meanwhile wait for it) and at most once per
``cluster_refresh_interval``, except after a connection error or when no map is known yet.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from time import monotonic
from typing import TYPE_CHECKING, Any, NoReturn

from .._backend.synchronization import AsyncEvent, AsyncThreadLock, async_sleep
from ..client_cache import CacheStats
from ..cluster import (
    EVERY_NODE,
    FIRST_KEY,
    KEYED,
    REFUSED_ROUTE,
    ROUTES,
    SCAN,
    SLOTS,
    SPLIT,
    Address,
    SlotMap,
    command_slot,
    group_by_slot,
    key_slot,
    merge_by_slot,
    merge_fanned_out,
    parse_redirect,
    route_of,
)
from ..command_table import CommandInfo
from ..errors import (
    ConnectError,
    ConnectionError,
    DataError,
    ImproperlyConfigured,
    ResponseError,
    StatefulCommandError,
    response_error,
)
from ..resp import pack_command
from ..url import CLUSTER_OPTIONS, OPTIONS, build_url, coerce_option, parse_hosts
from .channels import AsyncChannels
from .commands import AsyncRedisClient, _scan_args
from .commands_base import StrT
from .lock import AsyncLock
from .scripts import AsyncScript
from .store import RedisStore, RemoteStore

if True:  # ASYNC
    from .._backend.synchronization import current_loop

if TYPE_CHECKING:
    from .._protocol import ConnectionSettings
    from .cluster_pipeline import AsyncClusterPipeline
    from .cluster_pubsub import AsyncClusterPubSub
    from .pipeline import AsyncPipeline

__all__ = ["ClusterStore"]

logger = logging.getLogger("store.cluster")

# a pipeline's script check on a connection: None, or the error of a failed load (awaited
# in aio)
ScriptLoader = Callable[[Any, dict[str, AsyncScript]], Any]

_ASKING = pack_command("ASKING")
# what a replica's connections send after their handshake: reads of its slots
_READONLY_SETUP = (("READONLY",),)

# a redirection loop (a slot moving back and forth) ends after this many
MAX_REDIRECTS = 5
# TRYAGAIN, CLUSTERDOWN, LOADING: the first pause, doubled each time up to the longest,
# and the most time spent pausing for one command (a restarted node says CLUSTERDOWN
# until it has met the others again: about a second here)
BUSY_BACKOFF = 0.05
BUSY_PAUSE_MAX = 0.5
BUSY_BOUND = 2.0
BUSY_CODES = frozenset({"TRYAGAIN", "CLUSTERDOWN", "LOADING"})
# re-sends of a read (or idempotent command) after a connection error, each after a refresh
FAILOVER_ATTEMPTS = 3

_PASSED_THROUGH = frozenset({"namespace"})


class AsyncClusterClient(AsyncRedisClient[StrT]):
    """``store.client()`` of a cluster store: the typed methods over its ``execute``;
    ``scan_iter`` scans every primary."""

    def scan_iter(
        self,
        match: Any = None,
        count: int | None = None,
        _type: str | None = None,
    ) -> AsyncIterator[StrT]:
        store: ClusterStore[StrT] = self.store
        return store.scan_iter(match=match, count=count, _type=_type)


class ClusterStore(RemoteStore[StrT]):
    """A Redis Cluster: ``redis+cluster://[user:password@]host[:port][,host[:port]...]``.

    ``execute`` sends a command to the primary of its keys' slot (keyless ones to any
    primary; DBSIZE, KEYS, FLUSHDB, FLUSHALL, SCRIPT LOAD/FLUSH to every primary; MGET,
    MSET, DEL, UNLINK, EXISTS, TOUCH split by slot). Keys of another command in several
    slots raise CrossSlotError before anything is sent. Options are those of a single-node
    store, given to each node's store, plus ``read_from_replicas``,
    ``cluster_refresh_interval`` and, as a keyword, ``address_remap`` (a callable mapping
    each node's ``(host, port)``, for NAT).

    ``read_from_replicas``: a read-only command (the command table's ``readonly`` flag) of
    one slot goes to the slot's online replicas and its primary in turn (round robin); the
    replicas through stores of their own, whose connections send ``READONLY`` with their
    handshake (never the store that talks to that address as a primary once a failover
    promoted it). A replica may lag its primary. One that cannot be reached (or answers too
    late) hands the read to the primary and gets no reads until the next map; its MOVED
    (the slot moved) is followed as any. Writes, keyless commands, split MGETs and
    pipelines (transactions included) stay on primaries.
    """

    default_port = 6379

    def __init__(
        self,
        name: str,
        host: tuple[str, int] | str | list[Address],
        database: str | int | None = None,
        user: str | None = None,
        password: str | None = None,
        encoding: str | None = None,
        **kw: Any,
    ) -> None:
        self._startup = _startup_addresses(name, host)
        super().__init__(name, self._startup[0], database, user, password, encoding, **kw)
        params = self._urlparams if encoding is None else {**self._urlparams, "encoding": encoding}
        self._dns = build_url(name, list(self._startup), self._database, user, password, params)

    def _init(self, **kw: Any) -> None:
        remap = kw.pop("address_remap", None)
        if remap is not None and not callable(remap):
            raise ImproperlyConfigured(
                f"address_remap must be a callable (host, port) -> (host, port), "
                f"got {type(remap).__name__}"
            )
        known = {*OPTIONS, *CLUSTER_OPTIONS}
        unknown = [k for k in kw if k not in known and k not in _PASSED_THROUGH]
        if unknown:
            raise ImproperlyConfigured(
                f"unknown option{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))} for a {self._name} store; known options: "
                f"{', '.join(sorted(known) + sorted(_PASSED_THROUGH))}"
            )
        self._urlparams = {
            k: (
                CLUSTER_OPTIONS[k].coerce(k, v)
                if k in CLUSTER_OPTIONS
                else coerce_option(k, v)
                if k in OPTIONS
                else v
            )
            for k, v in kw.items()
        }
        if self._database not in (None, "0"):
            raise ImproperlyConfigured(
                f"a cluster has only database 0, got {self._database!r} for a {self._name} store"
            )
        options = {**CLUSTER_OPTIONS.defaults, **self._urlparams}
        self.read_from_replicas: bool = options["read_from_replicas"]
        self.refresh_interval: float = options["cluster_refresh_interval"]
        self._address_remap: Callable[[Address], Address] | None = remap
        # what each node's store gets: the single-node options, TLS by the scheme
        self._node_scheme = "rediss" if self._name == "rediss+cluster" else "redis"
        self._tls = self._node_scheme == "rediss" or bool(self._urlparams.get("ssl"))
        self._node_options = {k: v for k, v in self._urlparams.items() if k in OPTIONS}
        self._nodes: dict[Address, RedisStore] = {}
        # a replica's store for reads: its connections send READONLY. Once a failover
        # promotes the replica, its address as a primary is another store (in _nodes): a
        # write never goes through a READONLY connection
        self._replica_nodes: dict[Address, RedisStore] = {}
        self._map: SlotMap | None = None
        self._slots: list[Address | None] = []  # a slot's primary; MOVED updates it at once
        self._slot_nodes: list[RedisStore | None] = []  # the store of each slot's primary
        # with read_from_replicas, each slot's readers: (address, store, is a replica), its
        # online replicas then its primary; () until a refresh after its slot moved
        self._readers: list[tuple[tuple[Address, RedisStore, bool], ...]] = []
        self._turn = 0  # the round robin over readers
        self._primaries: tuple[Address, ...] = ()
        self.topology_refreshes = 0
        # the refresh in flight (its end is set), the earliest next one, and whether a
        # MOVED asked for one; guarded by a lock never held across a wait
        self._state_lock = AsyncThreadLock()
        self._refreshing: AsyncEvent | None = None
        self._next_refresh = 0.0
        self._stale = False
        # a node store is made by the first thread that needs it, under this lock
        self._nodes_lock = AsyncThreadLock()
        # build a node store now: a bad option fails here, not at the first command
        self._node(self._startup[0])

    # -- nodes and topology --------------------------------------------------------------

    @property
    def startup_nodes(self) -> tuple[Address, ...]:
        return self._startup

    @property
    def slot_map(self) -> SlotMap | None:
        """The last slot map read from the cluster (None before the first command)."""
        return self._map

    def node_store(self, address: Address) -> RedisStore:
        """The store of the node at ``address`` (made on first use)."""
        return self._node(address)

    def _node(self, address: Address) -> RedisStore:
        node = self._nodes.get(address)
        if node is None:
            node = self._make_node(address, self._nodes)
        return node

    def _replica(self, address: Address) -> RedisStore:
        """The store reading from the replica at ``address`` (READONLY on each connection)."""
        node = self._replica_nodes.get(address)
        if node is None:
            node = self._make_node(address, self._replica_nodes, _READONLY_SETUP)
        return node

    def _make_node(
        self,
        address: Address,
        nodes: dict[Address, RedisStore],
        setup: tuple[tuple[Any, ...], ...] = (),
    ) -> RedisStore:
        with self._nodes_lock:
            node = nodes.get(address)
            if node is None:
                node = RedisStore(
                    self._node_scheme,
                    address,
                    None,
                    self._user,
                    self._password,
                    self._encoding,
                    **self._node_options,
                    **({"_connection_setup": setup} if setup else {}),
                )
                nodes[address] = node
        return node

    async def refresh(self) -> None:
        """Read the topology again now (unless a refresh is already running: then wait
        for it)."""
        await self._refresh(force=True)

    async def _refresh(self, force: bool, first: Address | None = None) -> None:
        """One refresh at a time: a caller arriving meanwhile waits for the one running.
        Without ``force``, none starts before ``cluster_refresh_interval`` has passed since
        the last one. ``first``: the node to ask first (one that knows of a change)."""
        with self._state_lock:
            running = self._refreshing
            if running is None:
                if not force and monotonic() < self._next_refresh:
                    return
                running = self._refreshing = AsyncEvent()
                leader = True
            else:
                leader = False
        if not leader:
            await running.wait(None)
            if self._map is None:
                raise ConnectionError(f"no node of the cluster answered ({self._startup_text()})")
            return
        try:
            self._stale = False
            await self._load_topology(first)
        finally:
            with self._state_lock:
                self._refreshing = None
                self._next_refresh = monotonic() + self.refresh_interval
            running.set()

    def _startup_text(self) -> str:
        return ", ".join(f"{host}:{port}" for host, port in self._startup)

    async def _load_topology(self, first: Address | None = None) -> None:
        candidates: list[Address] = [] if first is None else [first]
        if self._map is not None:
            candidates += [node.address for node in self._map.nodes() if node.address != first]
        candidates += [address for address in self._startup if address not in candidates]
        errors: list[str] = []
        for address in candidates:
            try:
                slot_map = await self._read_map(address)
            except (ConnectionError, TimeoutError, ResponseError) as exc:
                if isinstance(exc, ResponseError) and "cluster support disabled" in str(exc):
                    raise ImproperlyConfigured(
                        f"{address[0]}:{address[1]} is not a cluster node: {exc}"
                    ) from None
                errors.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            if not slot_map.primaries():
                errors.append(f"{address[0]}:{address[1]}: serves no slot")
                continue
            slots: list[Address | None] = [None] * SLOTS
            slot_nodes: list[RedisStore | None] = [None] * SLOTS
            readers: list[tuple[tuple[Address, RedisStore, bool], ...]] = []
            if self.read_from_replicas:
                readers = [()] * SLOTS
            for start, end, primary, _ in slot_map.ranges():
                count = end - start + 1
                slots[start : end + 1] = [primary] * count
                node = self._node(primary)
                slot_nodes[start : end + 1] = [node] * count
                if readers:
                    found = [(a, self._replica(a), True) for a in slot_map.replicas(start)]
                    if found:
                        found.append((primary, node, False))
                        readers[start : end + 1] = [tuple(found)] * count
            self._map, self._slots, self._primaries = slot_map, slots, slot_map.primaries()
            self._slot_nodes, self._readers = slot_nodes, readers
            self.topology_refreshes += 1
            logger.debug(
                "cluster topology refresh %d from %s:%d: %d primaries, %d nodes",
                self.topology_refreshes,
                address[0],
                address[1],
                len(self._primaries),
                len(slot_map.nodes()),
            )
            return
        raise ConnectionError(f"no node of the cluster answered: {'; '.join(errors)}")

    async def _read_map(self, address: Address) -> SlotMap:
        node = self._node(address)
        try:
            reply = await node.execute("CLUSTER", "SHARDS")
        except ResponseError as exc:
            if "unknown subcommand" not in str(exc).lower():
                raise
            reply = await node.execute("CLUSTER", "SLOTS")  # Redis < 7
            return SlotMap.from_slots(reply, address[0], self._address_remap)
        return SlotMap.from_shards(reply, address[0], self._address_remap, self._tls)

    async def _ensure_map(self) -> None:
        if self._map is None:
            await self._refresh(force=True)
        elif self._stale and monotonic() >= self._next_refresh:
            await self._refresh(force=False)

    def _moved(self, slot: int, address: Address) -> None:
        """MOVED: ``address`` serves ``slot`` now (at once; the map follows with a refresh
        before the next command), unless the map says so already: a reply to a command sent
        before a refresh or another MOVED updated it tells nothing new."""
        if self._slots[slot] != address:
            self._slots[slot] = address
            self._slot_nodes[slot] = self._node(address)
            if self._readers:
                self._readers[slot] = ()  # the old shard's replicas would answer MOVED
            self._stale = True

    def _owner(self, slot: int) -> Address:
        address = self._slots[slot]
        if address is None:
            raise ConnectionError(f"no node of the cluster serves slot {slot}")
        return address

    def _remap(self, address: Address) -> Address:
        remap = self._address_remap
        return address if remap is None else remap(address)

    # -- commands --------------------------------------------------------------------------

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Send one command where the cluster keeps its keys, return its reply (shaped by
        ``callback=fn``). See the class docstring for the routing; MOVED updates the slot
        and asks for a refresh, ASK sends ASKING and the command on one connection,
        TRYAGAIN/CLUSTERDOWN/LOADING are tried again after a pause (50 ms, doubled up to
        0.5 s, 2 s of pauses at most). After a connection error, a read (or
        ``idempotent=True``), or any command that provably never reached the node
        (ConnectError: a dead primary), is re-sent once the topology is read again, up to
        3 times; anything else raises it. With
        ``read_from_replicas``, a read of one slot goes to the slot's replicas and primary
        in turn, and to the primary when the replica cannot be reached."""
        try:
            info, route, read = ROUTES[args[0]]  # route_of's first lookup, without the call
        except (KeyError, TypeError):
            info, route, read = route_of(args)
        if route > KEYED:
            return await self._execute_special(info, route, args, options)
        if self._map is None or self._stale:
            self._check_args(args)
            await self._ensure_map()
        if route == FIRST_KEY:
            slot = key_slot(args[1]) if len(args) > 1 else None
        else:
            slot = command_slot(args, info)
        if slot is None:
            return await self._run(info, None, None, args, options)
        if read and self.read_from_replicas:
            return await self._read(info, slot, args, options)
        node = self._slot_nodes[slot]
        if node is None:
            return await self._run(info, slot, None, args, options)  # says no node serves it
        # the usual case: straight to the node's store, which shapes the reply (callback=)
        try:
            return await node.execute(*args, **options)
        except (ResponseError, ConnectionError) as exc:
            return await self._run(info, slot, None, args, options, exc)

    def _check_args(self, args: tuple[Any, ...]) -> None:
        """Before the map is read: an argument the codec refuses raises DataError now,
        as on a single node, before any connection is opened."""
        pack_command(*args, encoding=self._encoding)

    async def _execute_special(
        self, info: CommandInfo, route: int, args: tuple[Any, ...], options: Any
    ) -> Any:
        """A refused command, SCAN, or one sent to several nodes (split by slot, or to
        every primary), its replies merged."""
        if route == REFUSED_ROUTE:
            raise StatefulCommandError(info.refusal())
        if route == SCAN:
            raise DataError(
                "SCAN's cursor belongs to one node of the cluster: use store.scan_iter() "
                "or store.client().scan_iter(), which scan every primary"
            )
        callback = options.pop("callback", None)
        if self._map is None or self._stale:
            self._check_args(args)
            await self._ensure_map()
        if route == SPLIT:
            reply = await self._split(info, args, options)
        else:
            addresses = self.fan_out_nodes(route)
            if True:  # ASYNC
                replies = await self._gather(
                    [self._run(info, None, address, args, options) for address in addresses]
                )
            else:  # SYNC
                replies = [self._run(info, None, address, args, options) for address in addresses]
            reply = merge_fanned_out(route, info.name, replies)
        if callback is not None:
            return callback(reply)
        return reply

    async def _run(
        self,
        info: CommandInfo,
        slot: int | None,
        fixed: Address | None,
        args: Sequence[Any],
        options: Any,
        failed: ResponseError | ConnectionError | None = None,
        address: Address | None = None,
    ) -> Any:
        """One command on the primary of ``slot`` (None: on ``fixed``, or on any primary
        when that is None too), following redirections, with the backoff and failover
        rules of ``execute``. ``failed``: the error of a first attempt made by the caller
        (on ``address``, the slot's primary by default), handled as if made here."""
        asking = False
        redirects = busy = failures = 0
        paused = 0.0
        if address is None:
            address = self._target(slot, fixed)
        while True:
            if failed is None:
                try:
                    if asking:
                        return await self._asking(address, args, options)
                    return await self._node(address).execute(*args, **options)
                except (ResponseError, ConnectionError) as exc:
                    failed = exc
            error, failed = failed, None
            if isinstance(error, ResponseError):
                code = error.code
                if code == "MOVED" or code == "ASK":
                    redirect = parse_redirect(error.message, address[0])
                    redirects += 1
                    if redirect is None or redirects > MAX_REDIRECTS:
                        raise error
                    address = self._remap(redirect.address)
                    asking = redirect.kind == "ASK"
                    if not asking:
                        self._moved(redirect.slot, address)
                    continue
                pause = min(BUSY_BACKOFF * 2**busy, BUSY_PAUSE_MAX)
                busy += 1
                if code not in BUSY_CODES or paused + pause > BUSY_BOUND:
                    raise error
                # CLUSTERDOWN says nothing of the slot map (a rejoining primary answers it
                # for about the node timeout): waiting, not rereading the map, is the cure;
                # a failover shows as a connection error or MOVED, which refresh
                paused += pause
                await async_sleep(pause)
                asking = False  # TRYAGAIN in a migration: the map's owner again
                address = self._target(slot, fixed)
            else:
                self._stale = True
                failures += 1
                if (
                    fixed is not None
                    or failures > FAILOVER_ATTEMPTS
                    or not (
                        # never reached the server: safe to send anywhere, a write too
                        isinstance(error, ConnectError)
                        or options.get("idempotent", info.retry_safe)
                    )
                ):
                    raise error
                # a failover promotes a replica: give it a moment, read the topology, then
                # send again
                await async_sleep(BUSY_BACKOFF * 2 ** (failures - 1))
                await self._refresh(force=True)
                asking = False
                address = self._target(slot, fixed)

    async def _read(self, info: CommandInfo, slot: int, args: tuple[Any, ...], options: Any) -> Any:
        """A read-only command of ``slot`` with ``read_from_replicas``: on the shard's
        online replicas and its primary in turn (round robin), a replica through a store
        of its own whose connections send READONLY. A replica that cannot be reached (or
        answers too late) hands the read to the primary; its redirections (MOVED: the
        slot moved) follow the rules of ``execute``."""
        readers = self._readers[slot] if self._readers else ()
        if not readers:  # no replica known, or the slot just moved: the primary
            return await self._run(info, slot, None, args, options)
        self._turn = turn = self._turn + 1
        address, node, replica = readers[turn % len(readers)]
        try:
            return await node.execute(*args, **options)
        except ResponseError as exc:
            return await self._run(info, slot, None, args, options, exc, address)
        except (ConnectionError, TimeoutError) as exc:
            if not replica:
                if isinstance(exc, TimeoutError):
                    raise
                return await self._run(info, slot, None, args, options, exc, address)
            self._drop_reader(address)
            logger.debug("read on replica %s:%d failed (%s): on the primary", *address, exc)
            return await self._run(info, slot, None, args, options)

    def _drop_reader(self, address: Address) -> None:
        """A replica failed a read: no more reads for it until the next map (a refresh,
        asked for now, offers it again if the cluster still calls it online)."""
        self._stale = True
        # slots share their shard's tuple: each tuple filtered once (by identity)
        kept: dict[int, tuple[tuple[Address, RedisStore, bool], ...]] = {}
        found: list[tuple[tuple[Address, RedisStore, bool], ...]] = []
        for readers in self._readers:
            left = kept.get(id(readers))
            if left is None:
                left = tuple(reader for reader in readers if reader[0] != address)
                if len(left) < 2:
                    left = ()  # the primary alone: the usual path
                kept[id(readers)] = left
            found.append(left)
        self._readers = found

    def _target(self, slot: int | None, fixed: Address | None) -> Address:
        if slot is not None:
            return self._owner(slot)
        if fixed is not None:
            return fixed
        return random.choice(self._primaries)

    async def _asking(self, address: Address, args: Sequence[Any], options: Any) -> Any:
        """ASKING and the command on one connection of ``address``'s store, once."""
        node = self._node(address)
        packed = pack_command("ASKING") + pack_command(*args, encoding=self._encoding)
        timeout = node.settings.socket_timeout
        async with node.pool.lease() as connection:
            replies = await connection.request_many(packed, 2, timeout)
        for reply in replies:
            if isinstance(reply, ResponseError):
                _raise(reply)
        callback = options.get("callback")
        return replies[1] if callback is None else callback(replies[1])

    async def _split(self, info: CommandInfo, args: tuple[Any, ...], options: Any) -> Any:
        """MGET, MSET, DEL, UNLINK, EXISTS, TOUCH: one command per slot, each node's in one
        write (``_send_packed``), the replies merged."""
        pairs = info.name == "mset"
        keys = args[1::2] if pairs else args[1:]
        if not keys or (pairs and len(args) % 2 == 0):  # the server says what is wrong
            return await self._run(info, None, None, args, options)
        groups = group_by_slot(keys)
        if len(groups) == 1:
            return await self._run(info, next(iter(groups)), None, args, options)
        name = args[0]
        commands: list[tuple[Any, ...]] = []
        for positions in groups.values():
            if pairs:
                command: list[Any] = [name]
                for position in positions:
                    command += args[1 + 2 * position : 3 + 2 * position]
                commands.append(tuple(command))
            elif len(positions) == 1:
                commands.append((name, keys[positions[0]]))
            else:
                commands.append((name, *[keys[position] for position in positions]))
        slot_nodes = self._slot_nodes
        nodes = [slot_nodes[slot] or self._node(self._owner(slot)) for slot in groups]
        encoding = self._encoding
        packed = [pack_command(*command, encoding=encoding) for command in commands]
        try:
            replies = await self._send_packed(nodes, packed, nodes[0].settings.socket_timeout)
        except ConnectionError:
            if not options.get("idempotent", info.retry_safe):
                raise
            # one part at a time, each with the failover rules of _run
            if True:  # ASYNC
                replies = await self._gather(
                    [
                        self._run(info, slot, None, command, options)
                        for slot, command in zip(groups, commands, strict=True)
                    ]
                )
            else:  # SYNC
                replies = [
                    self._run(info, slot, None, command, options)
                    for slot, command in zip(groups, commands, strict=True)
                ]
        else:
            for index, reply in enumerate(replies):
                if isinstance(reply, ResponseError):
                    if reply.code not in BUSY_CODES:
                        _raise(reply)
                    slot = list(groups)[index]
                    replies[index] = await self._run(info, slot, None, commands[index], options)
        if info.name == "mget":
            return merge_by_slot(groups, replies, len(keys))
        if pairs:
            return replies[0]
        return sum(replies)

    async def _send_packed(
        self,
        nodes: list[RedisStore],
        packed: list[bytes],
        timeout: float | None,
        scripts: dict[str, AsyncScript] | None = None,
        load: ScriptLoader | None = None,
    ) -> list[Any]:
        """The reply of each command of ``packed`` (error replies in place, as
        ResponseError instances) sent to the primary store in ``nodes`` at its index: each
        node's commands in one write on one of its connections, every node's write before
        any read (the nodes at once, in aio), then MOVED and ASK followed for just the
        commands they answer, at most MAX_REDIRECTS rounds. ``load`` (a pipeline's) makes
        sure ``scripts`` are on each node first. A connection error raises (other nodes
        may have run their commands) and asks for a refresh."""
        replies: list[Any] = [None] * len(packed)
        targets = nodes
        asked: set[int] = set()
        pending: Sequence[int] = range(len(packed))
        for round_ in range(MAX_REDIRECTS + 1):
            plain: dict[RedisStore, list[int]] = {}
            asking: dict[RedisStore, list[int]] = {}
            for index in pending:
                group = asking if index in asked else plain
                found = group.get(targets[index])
                if found is None:
                    group[targets[index]] = [index]
                else:
                    found.append(index)
            batches: list[tuple[RedisStore, bytes, int]] = []
            for node, indexes in plain.items():
                batches.append((node, b"".join([packed[i] for i in indexes]), len(indexes)))
            for node, indexes in asking.items():
                # ASKING before each command: its OK is read and dropped below
                data = b"".join([_ASKING + packed[i] for i in indexes])
                batches.append((node, data, 2 * len(indexes)))
            try:
                answers = await self._exchange(batches, timeout, scripts, load)
            except ConnectionError:
                self._stale = True  # a failover, perhaps: read the topology first
                raise
            pending = []
            groups = [*plain.values(), *asking.values()]
            for number, (indexes, answer) in enumerate(zip(groups, answers, strict=True)):
                if number >= len(plain):
                    answer = answer[1::2]
                node = batches[number][0]
                for index, reply in zip(indexes, answer, strict=True):
                    replies[index] = reply
                    if not isinstance(reply, ResponseError) or round_ == MAX_REDIRECTS:
                        continue
                    code = reply.code
                    if code != "MOVED" and code != "ASK":
                        continue
                    redirect = parse_redirect(reply.message, node.settings.host)
                    if redirect is None:
                        continue
                    address = self._remap(redirect.address)
                    if targets is nodes:
                        targets = list(nodes)  # the caller's list stays as it was
                    targets[index] = self._node(address)
                    if code == "MOVED":
                        asked.discard(index)
                        self._moved(redirect.slot, address)
                    else:
                        asked.add(index)
                    pending.append(index)
            if not pending:
                break
        return replies

    async def _exchange(
        self,
        batches: list[tuple[RedisStore, bytes, int]],
        timeout: float | None,
        scripts: dict[str, AsyncScript] | None,
        load: ScriptLoader | None,
    ) -> list[list[Any]]:
        """Each ``(node, data, count)``: ``data`` written on a connection of the node's
        pool, ``count`` replies read from it; the nodes concurrently in aio. In the
        blocking variant every node's data is written before the first read, so the
        nodes work at once there too; the connections are taken in address order (two
        threads never wait for each other's)."""
        if True:  # ASYNC
            if len(batches) == 1:
                node, data, count = batches[0]
                return [await self._exchange_one(node, data, count, timeout, scripts, load)]
            return await self._gather(
                [
                    self._exchange_one(node, data, count, timeout, scripts, load)
                    for node, data, count in batches
                ]
            )
        else:  # SYNC
            order = sorted(range(len(batches)), key=lambda i: batches[i][0].settings.address)
            taken: list[tuple[RedisStore, Any]] = []
            try:
                for index in order:
                    node, data, _ = batches[index]
                    connection = node.pool.acquire()
                    taken.append((node, connection))
                    if scripts and load is not None:
                        error = load(connection, scripts)
                        if error is not None:
                            raise error
                    connection.send(data)
                answers: list[list[Any]] = [[]] * len(batches)
                for index, (_, connection) in zip(order, taken, strict=True):
                    answers[index] = connection.read_replies(batches[index][2], timeout)
            except BaseException:
                # replies may still be on their way: none of these connections is reused
                for node, connection in taken:
                    node.pool.discard(connection)
                raise
            for node, connection in taken:
                node.pool.release(connection)
            return answers

    if True:  # ASYNC

        async def _exchange_one(
            self,
            node: RedisStore,
            data: bytes,
            count: int,
            timeout: float | None,
            scripts: dict[str, AsyncScript] | None,
            load: ScriptLoader | None,
        ) -> list[Any]:
            async with node.pool.lease() as connection:
                if scripts and load is not None:
                    error = await load(connection, scripts)
                    if error is not None:
                        raise error
                await connection.send(data)
                return await connection.read_replies(count, timeout)

    def fan_out_nodes(self, route: int) -> tuple[Address, ...]:
        """Where a command of a FANNED_OUT route goes: every online node (replicas too:
        PUBSUB's counts) or every primary."""
        if route == EVERY_NODE and self._map is not None:
            return tuple(node.address for node in self._map.nodes() if node.online)
        return self._primaries

    if True:  # ASYNC

        async def _gather(self, calls: list[Any]) -> list[Any]:
            """The results of ``calls`` (coroutines) run concurrently, in order; the first
            failure is raised once all have ended."""
            loop = current_loop()
            tasks = [loop.create_task(call) for call in calls]
            try:
                results: list[Any] = []
                failure: BaseException | None = None
                for task in tasks:
                    try:
                        results.append(await task)
                    except Exception as exc:
                        if failure is None:
                            failure = exc
                if failure is not None:
                    raise failure
                return results
            finally:
                for task in tasks:
                    if not task.done():
                        task.cancel()

    async def scan_iter(
        self, match: Any = None, count: int | None = None, _type: str | None = None
    ) -> AsyncIterator[StrT]:
        """Every key of every primary (SCAN on each in turn) matching ``match`` (and of
        type ``_type``)."""
        await self._ensure_map()
        for address in self._primaries:
            node = self._node(address)
            cursor: Any = 0
            while True:
                cursor, keys = await node.execute(
                    *_scan_args(["SCAN", cursor], match, count, _type)
                )
                for key in keys:
                    yield key
                if int(cursor) == 0:
                    break

    # -- the store API -----------------------------------------------------------------------

    async def ping(self) -> bool:
        await self.execute("PING")
        return True

    def client(self) -> AsyncClusterClient[StrT]:
        return AsyncClusterClient(self)

    async def flush(self) -> None:
        await self.execute("FLUSHDB")

    async def close(self) -> None:
        for node in [*self._nodes.values(), *self._replica_nodes.values()]:
            await node.close()

    def cache_stats(self) -> CacheStats | None:
        """The client-side caches of the node stores (one per node), counters summed;
        None when client_cache is off."""
        found = [
            stats
            for node in [*self._nodes.values(), *self._replica_nodes.values()]
            if (stats := node.cache_stats()) is not None
        ]
        if not found:
            return None
        total = CacheStats()
        for stats in found:
            for name, value in vars(stats).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def register_script(self, script: str | bytes) -> AsyncScript:
        """A script run by EVALSHA on the primary of its keys (SCRIPT LOAD on every
        primary when that one lacks it)."""
        return AsyncScript(self, script)  # type: ignore[arg-type]

    def lock(
        self,
        name: Any,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> AsyncLock:
        """A lock on the primary of ``name``'s slot (it only uses ``execute``)."""
        return AsyncLock(
            self,  # type: ignore[arg-type]
            name,
            timeout=timeout,
            sleep=sleep,
            blocking=blocking,
            blocking_timeout=blocking_timeout,
        )

    async def connect(self) -> NoReturn:
        raise NotImplementedError(
            "a cluster store has no single connection: use store.node_store(address).connect()"
        )

    def pipeline(
        self, transaction: bool = False, raise_on_error: bool = True
    ) -> AsyncClusterPipeline[StrT]:
        """Commands queued, then sent per node by ``commit()`` (MULTI/EXEC on the one
        slot's owner if ``transaction``): see ``cluster_pipeline`` for the rules."""
        from .cluster_pipeline import AsyncClusterPipeline  # it imports this module

        return AsyncClusterPipeline(self, transaction, raise_on_error)

    async def transaction(
        self,
        func: Callable[[AsyncPipeline[StrT]], Any],
        *keys: Any,
        retries: int | None = None,
    ) -> list[Any]:
        """``func(pipe)`` run as an optimistic transaction watching ``keys`` (all in one
        slot) on their slot's owner, re-run on WatchError (see RedisStore.transaction)."""
        from .cluster_pipeline import run_cluster_transaction

        return await run_cluster_transaction(self, func, keys, retries)

    def pubsub(self, **kw: Any) -> AsyncClusterPubSub:
        """Classic channels and patterns on one node, shard channels on their slot's
        primary, each followed through failovers and slot moves: see ``cluster_pubsub``."""
        from .cluster_pubsub import AsyncClusterPubSub  # it imports this module

        return AsyncClusterPubSub(self, **kw)

    def channels(self, **kw: Any) -> AsyncChannels:
        """Channels (see the channels module) over this cluster's pub/sub. ``publish``
        returns the receivers of the node that took the PUBLISH, not of the cluster."""
        from .cluster_pubsub import AsyncClusterPubSub

        return AsyncChannels(self, pubsub_class=AsyncClusterPubSub, **kw)  # type: ignore[arg-type]

    # -- what its pub/sub needs -------------------------------------------------------------

    @property
    def settings(self) -> ConnectionSettings:
        """The connection settings of the first startup node: every node's are the same
        but for the address."""
        return self._node(self._startup[0]).settings

    async def topology_known(self) -> None:
        """Read the slot map unless it is known (and not stale)."""
        await self._ensure_map()

    async def topology_changed(self, force: bool = False, source: Address | None = None) -> None:
        """A connection failed or a slot moved: read the map again, at once with ``force``
        (single-flight), else at most once per ``cluster_refresh_interval``; ``source``, a
        node that knows of the change, is asked first."""
        self._stale = True
        await self._refresh(force=force, first=source)

    def slot_moved(self, message: str, node_host: str) -> tuple[int, Address] | None:
        """A MOVED error's ``(slot, address)``, the map updated at once (None when the
        message is not a redirection)."""
        redirect = parse_redirect(message, node_host)
        if redirect is None:
            return None
        address = self._remap(redirect.address)
        self._moved(redirect.slot, address)
        return redirect.slot, address

    def slot_owner(self, slot: int) -> Address:
        """The primary of ``slot`` in the map (ConnectionError when none serves it)."""
        return self._owner(slot)

    def next_node(self, after: Address) -> Address:
        """A node for classic pub/sub (a cluster delivers each PUBLISH to every node): the
        online node after ``after`` in the map."""
        nodes = [node.address for node in self._map.nodes() if node.online] if self._map else []
        if after not in nodes:
            return random.choice(nodes or self._startup)
        return nodes[(nodes.index(after) + 1) % len(nodes)]


def _raise(reply: ResponseError) -> NoReturn:
    raise response_error(reply)


def _startup_addresses(
    name: str, host: tuple[str, int] | str | list[Address]
) -> tuple[Address, ...]:
    """The startup nodes: ``create_store`` gives ``(hostlist, default port)``, the host list
    as the URL has it; a caller may give a list of ``(host, port)``."""
    if isinstance(host, list):
        found = tuple((str(h), int(p)) for h, p in host)
    elif isinstance(host, str):
        raise ImproperlyConfigured(f"a {name} store needs host:port addresses, not a unix socket")
    else:
        hostlist, default_port = host
        found = tuple((h, default_port if p is None else p) for h, p in parse_hosts(hostlist))
    if not found:
        raise ImproperlyConfigured(f"a {name} store needs at least one host")
    for address in found:
        if not 0 < address[1] < 65536:
            raise ImproperlyConfigured(f"port {address[1]} of {address[0]} is out of range 1-65535")
    return found
