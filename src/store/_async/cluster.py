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
from ..cluster import (
    SLOTS,
    Address,
    SlotMap,
    command_slot,
    merge_by_position,
    parse_redirect,
    split_command,
)
from ..command_table import REFUSED, CommandInfo, command_for
from ..errors import (
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

# a redirection loop (a slot moving back and forth) ends after this many
MAX_REDIRECTS = 5
# TRYAGAIN, CLUSTERDOWN, LOADING: attempts, the first pause, doubled each time
BUSY_ATTEMPTS = 5
BUSY_BACKOFF = 0.05
BUSY_CODES = frozenset({"TRYAGAIN", "CLUSTERDOWN", "LOADING"})
# re-sends of a read (or idempotent command) after a connection error, each after a refresh
FAILOVER_ATTEMPTS = 3

# keyless commands run on every primary; the reply: summed, concatenated, or the first
_SUMMED = frozenset({"dbsize"})
_CONCATENATED = frozenset({"keys"})
_EVERY_PRIMARY = frozenset({"flushdb", "flushall", "script|load", "script|flush"})
# multi-key commands split by slot; MGET merged by position, the others summed (MSET: OK)
_SPLIT = frozenset({"mget", "mset", "del", "unlink", "exists", "touch"})

_PASSED_THROUGH = frozenset({"namespace"})


class AsyncClusterClient(AsyncRedisClient):
    """``store.client()`` of a cluster store: the typed methods over its ``execute``;
    ``scan_iter`` scans every primary."""

    def scan_iter(
        self,
        match: Any = None,
        count: int | None = None,
        _type: str | None = None,
    ) -> AsyncIterator[Any]:
        store: ClusterStore = self.store
        return store.scan_iter(match=match, count=count, _type=_type)


class ClusterStore(RemoteStore):
    """A Redis Cluster: ``redis+cluster://[user:password@]host[:port][,host[:port]...]``.

    ``execute`` sends a command to the primary of its keys' slot (keyless ones to any
    primary; DBSIZE, KEYS, FLUSHDB, FLUSHALL, SCRIPT LOAD/FLUSH to every primary; MGET,
    MSET, DEL, UNLINK, EXISTS, TOUCH split by slot). Keys of another command in several
    slots raise CrossSlotError before anything is sent. Options are those of a single-node
    store, given to each node's store, plus ``read_from_replicas``,
    ``cluster_refresh_interval`` and, as a keyword, ``address_remap`` (a callable mapping
    each node's ``(host, port)``, for NAT).
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
        self._map: SlotMap | None = None
        self._slots: list[Address | None] = []  # a slot's primary; MOVED updates it at once
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
            with self._nodes_lock:
                node = self._nodes.get(address)
                if node is None:
                    node = RedisStore(
                        self._node_scheme,
                        address,
                        None,
                        self._user,
                        self._password,
                        self._encoding,
                        **self._node_options,
                    )
                    self._nodes[address] = node
        return node

    async def refresh(self) -> None:
        """Read the topology again now (unless a refresh is already running: then wait
        for it)."""
        await self._refresh(force=True)

    async def _refresh(self, force: bool) -> None:
        """One refresh at a time: a caller arriving meanwhile waits for the one running.
        Without ``force``, none starts before ``cluster_refresh_interval`` has passed since
        the last one."""
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
            await self._load_topology()
        finally:
            with self._state_lock:
                self._refreshing = None
                self._next_refresh = monotonic() + self.refresh_interval
            running.set()

    def _startup_text(self) -> str:
        return ", ".join(f"{host}:{port}" for host, port in self._startup)

    async def _load_topology(self) -> None:
        candidates: list[Address] = []
        if self._map is not None:
            candidates += [node.address for node in self._map.nodes()]
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
            for start, end, primary, _ in slot_map.ranges():
                slots[start : end + 1] = [primary] * (end - start + 1)
            self._map, self._slots, self._primaries = slot_map, slots, slot_map.primaries()
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
        TRYAGAIN/CLUSTERDOWN/LOADING are tried again after a pause (50 ms, doubled, 5
        attempts). After a connection error, a read (or ``idempotent=True``) is re-sent
        once the topology is read again; anything else raises it."""
        info = command_for(args)
        if info.route == REFUSED:
            raise StatefulCommandError(info.refusal())
        callback = options.pop("callback", None)
        if self._map is None or self._stale:
            await self._ensure_map()
        name = info.name
        if name in _SPLIT:
            reply = await self._split(info, args, options)
        elif name in _SUMMED or name in _CONCATENATED or name in _EVERY_PRIMARY:
            replies = await self._every_primary(info, args, options)
            if name in _SUMMED:
                reply = sum(replies)
            elif name in _CONCATENATED:
                reply = [key for keys in replies for key in keys]
            else:
                reply = replies[0]
        elif name == "scan":
            raise DataError(
                "SCAN's cursor belongs to one node of the cluster: use store.scan_iter() "
                "or store.client().scan_iter(), which scan every primary"
            )
        else:
            reply = await self._run(info, command_slot(args, info), None, args, options)
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
    ) -> Any:
        """One command on the primary of ``slot`` (None: on ``fixed``, or on any primary
        when that is None too), following redirections, with the backoff and failover
        rules of ``execute``."""
        asking = False
        redirects = busy = failures = 0
        address = self._target(slot, fixed)
        while True:
            try:
                if asking:
                    return await self._asking(address, args)
                return await self._node(address).execute(*args, **options)
            except ResponseError as exc:
                code = exc.code
                if code == "MOVED" or code == "ASK":
                    redirect = parse_redirect(exc.message, address[0])
                    redirects += 1
                    if redirect is None or redirects > MAX_REDIRECTS:
                        raise
                    address = self._remap(redirect.address)
                    asking = redirect.kind == "ASK"
                    if not asking:
                        self._moved(redirect.slot, address)
                    continue
                busy += 1
                if code not in BUSY_CODES or busy >= BUSY_ATTEMPTS:
                    raise
                # CLUSTERDOWN says nothing of the slot map (a rejoining primary answers it
                # for about the node timeout): waiting, not rereading the map, is the cure;
                # a failover shows as a connection error or MOVED, which refresh
                await async_sleep(BUSY_BACKOFF * 2 ** (busy - 1))
                asking = False  # TRYAGAIN in a migration: the map's owner again
                address = self._target(slot, fixed)
            except ConnectionError:
                self._stale = True
                failures += 1
                if (
                    fixed is not None
                    or failures > FAILOVER_ATTEMPTS
                    or not options.get("idempotent", info.retry_safe)
                ):
                    raise
                # a failover promotes a replica: read the topology before sending again
                await self._refresh(force=True)
                asking = False
                address = self._target(slot, fixed)

    def _target(self, slot: int | None, fixed: Address | None) -> Address:
        if slot is not None:
            return self._owner(slot)
        if fixed is not None:
            return fixed
        return random.choice(self._primaries)

    async def _asking(self, address: Address, args: Sequence[Any]) -> Any:
        """ASKING and the command on one connection of ``address``'s store, once."""
        node = self._node(address)
        packed = pack_command("ASKING") + pack_command(*args, encoding=self._encoding)
        timeout = node.settings.socket_timeout
        async with node.pool.lease() as connection:
            replies = await connection.request_many(packed, 2, timeout)
        for reply in replies:
            if isinstance(reply, ResponseError):
                _raise(reply)
        return replies[1]

    async def _split(self, info: CommandInfo, args: Sequence[Any], options: Any) -> Any:
        """MGET, MSET, DEL, UNLINK, EXISTS, TOUCH: one command per slot, merged."""
        split = split_command(args)
        if split is None:  # the server says what is wrong
            return await self._run(info, None, None, args, options)
        groups, commands = split
        if len(groups) == 1:
            return await self._run(info, groups[0].slot, None, args, options)
        name = info.name
        pairs = name == "mset"
        replies = await self._send_grouped(info, commands, options)
        if name == "mget":
            return merge_by_position(groups, replies)
        if pairs:
            return replies[0]
        return sum(replies)

    async def _send_grouped(
        self, info: CommandInfo, commands: list[tuple[int, tuple[Any, ...]]], options: Any
    ) -> list[Any]:
        """The per-slot parts of a split command as one pipeline per node (a round trip per
        node, not per slot; the nodes at once in aio). After a connection error, or for a
        part answered TRYAGAIN/CLUSTERDOWN/LOADING, the parts go one at a time through
        ``_run`` and its failover and backoff rules, when they may be sent again."""
        pipe = self.pipeline(raise_on_error=False)
        for _, command in commands:
            await pipe.execute(*command)
        try:
            replies = await pipe.commit()
        except ConnectionError:
            if not options.get("idempotent", info.retry_safe):
                raise
            if True:  # ASYNC
                return await self._gather(
                    [self._run(info, slot, None, command, options) for slot, command in commands]
                )
            else:  # SYNC
                return [self._run(info, slot, None, command, options) for slot, command in commands]
        for index, reply in enumerate(replies):
            if isinstance(reply, ResponseError):
                if reply.code not in BUSY_CODES:
                    raise reply
                slot, command = commands[index]
                replies[index] = await self._run(info, slot, None, command, options)
        return replies

    async def _every_primary(
        self, info: CommandInfo, args: Sequence[Any], options: Any
    ) -> list[Any]:
        primaries = self._primaries
        if True:  # ASYNC
            return await self._gather(
                [self._run(info, None, address, args, options) for address in primaries]
            )
        else:  # SYNC
            return [self._run(info, None, address, args, options) for address in primaries]

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
    ) -> AsyncIterator[Any]:
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

    def client(self) -> AsyncClusterClient:
        return AsyncClusterClient(self)

    async def flush(self) -> None:
        await self.execute("FLUSHDB")

    async def close(self) -> None:
        for node in list(self._nodes.values()):
            await node.close()

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
    ) -> AsyncClusterPipeline:
        """Commands queued, then sent per node by ``commit()`` (MULTI/EXEC on the one
        slot's owner if ``transaction``): see ``cluster_pipeline`` for the rules."""
        from .cluster_pipeline import AsyncClusterPipeline  # it imports this module

        return AsyncClusterPipeline(self, transaction, raise_on_error)

    async def transaction(
        self, func: Callable[[AsyncPipeline], Any], *keys: Any, retries: int | None = None
    ) -> Any:
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

    async def topology_changed(self, force: bool = False) -> None:
        """A connection failed or a slot moved: read the map again, at once with ``force``
        (single-flight), else at most once per ``cluster_refresh_interval``."""
        self._stale = True
        await self._refresh(force=force)

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
