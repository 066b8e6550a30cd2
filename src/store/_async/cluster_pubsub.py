"""Pub/sub on a Redis Cluster: ``ClusterStore.pubsub()``, the same API as a single node's.

Classic channels and patterns (SUBSCRIBE, PSUBSCRIBE) live on one connection to any node:
a cluster delivers every PUBLISH to every node. When that node fails, the connection is
opened again on another node of the map, read again, and the subscriptions are made there.

Shard channels (SSUBSCRIBE, Redis 7) live on the primary of their slot: one connection per
primary, one SSUBSCRIBE per slot (the server refuses one across slots). A shard channel
follows its slot:

* when the slot moves (resharding), the old owner unsubscribes the connection (the reader
  gets that ``sunsubscribe`` message) and the channel is subscribed on the new owner (an
  ``ssubscribe`` message follows);
* when its primary fails, that connection is opened again on the slot's owner in the map
  read again: the promoted replica, once the cluster has promoted it. The reader gets
  ``disconnected``, then ``reconnected``.

Each connection belongs to an ordinary PubSub (reconnection with backoff, health checks,
status messages: see the pubsub module) read by a runner of its own (a task; a thread in
the blocking client), from its first subscription, into one queue. ``get_message``,
iteration and ``run`` read that queue: messages of one node in the order they arrived.
The queue holds at most ``max_pending`` messages; at that many a node's runner waits and
that node's PubSub applies its own bound (its connection is dropped and opened again).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from .._backend.synchronization import AsyncEvent, AsyncThreadLock, async_sleep
from .._backend.workers import AsyncWorker
from ..cluster import Address, key_slot
from ..errors import ConnectionError, DataError, ResponseError, StoreError
from ..messages import PubSubMessage
from .cluster import MAX_REDIRECTS
from .connection import AsyncConnection
from .pubsub import _MAX_PENDING, AsyncPubSub, AsyncPubSubReading, ChannelT, Handler

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._protocol import ConnectionSettings
    from .cluster import ClusterStore
    from .pool import AsyncConnectionPool
    from .store import RedisStore

logger = logging.getLogger("store.pubsub")

_SLICE: Final = 1.0  # longest single wait: how soon a reader notices close() or stop()
_STOP_TIMEOUT: Final = 5.0
# a shard channel whose slot moved: reads of the map until it names another owner
_FOLLOW_ATTEMPTS: Final = 20
_FOLLOW_PAUSE: Final = 0.05


class _NodeTarget:
    """What one node's PubSub takes for its store: the node it is on now, chosen again at
    each reconnection (any node for classic channels; the owner of ``slot`` for shard
    channels)."""

    def __init__(self, cluster: ClusterStore, slot: int | None, address: Address) -> None:
        self.cluster = cluster
        self.slot = slot
        self.address = address
        self.node: RedisStore = cluster.node_store(address)

    @property
    def encoding(self) -> str:
        return self.cluster.encoding

    @property
    def settings(self) -> ConnectionSettings:
        return self.node.settings

    @property
    def pool(self) -> AsyncConnectionPool:
        return self.node.pool

    @property
    def urlparams(self) -> Mapping[str, Any]:
        return self.cluster.urlparams

    async def execute(self, *args: Any, **options: Any) -> Any:
        return await self.node.execute(*args, **options)

    def encode_bytes(self, data: bytes | str) -> bytes:
        return self.cluster.encode_bytes(data)

    async def connect(self) -> AsyncConnection:
        """The first connection: a wrong password raises to the caller."""
        return await self.node.connect()

    async def reconnect(self) -> AsyncConnection:
        """One attempt on the node the map names now (read again at most once per
        ``cluster_refresh_interval``); classic channels try the next node each time."""
        cluster = self.cluster
        await cluster.topology_changed()
        if self.slot is None:
            address = cluster.next_node(self.address)
        else:
            address = cluster.slot_owner(self.slot)
        if address != self.address:
            logger.debug("pub/sub moves from %s:%d to %s:%d", *self.address, *address)
            self.address = address
            self.node = cluster.node_store(address)
        connection = AsyncConnection(self.node.settings)
        await connection.connect()
        return connection


class _NodePubSub(AsyncPubSub):
    """The PubSub of one node: reconnects where its target says; shard channels
    subscribed again one SSUBSCRIBE per slot."""

    def __init__(
        self,
        target: _NodeTarget,
        on_moved: Callable[[_NodePubSub, ResponseError], Any],  # awaited in aio
        **options: Any,
    ) -> None:
        super().__init__(target, **options)
        self.target = target
        self._on_moved = on_moved

    async def _open_connection(self) -> AsyncConnection:
        return await self.target.reconnect()

    async def _next(self, deadline: float | None, runner: bool = False) -> PubSubMessage | None:
        # SSUBSCRIBE on a node that no longer serves the slot (the map was stale): MOVED,
        # handed to the cluster's PubSub, which subscribes where the slot went
        while True:
            try:
                return await super()._next(deadline, runner)
            except ResponseError as exc:
                if exc.code != "MOVED":
                    raise
                await self._on_moved(self, exc)

    def give_up_confirmation(self, channel: bytes) -> None:
        """No confirmation of ``channel``'s SSUBSCRIBE will come: its wait ends now."""
        confirmation = self._unconfirmed.pop(("ssubscribe", channel), None)
        if confirmation is not None:
            confirmation.set()

    def _commands(self) -> list[tuple[Any, ...]]:
        commands: list[tuple[Any, ...]] = []
        if self._channels:
            commands.append(("SUBSCRIBE", *self._channels))
        if self._patterns:
            commands.append(("PSUBSCRIBE", *self._patterns))
        by_slot: dict[int, list[bytes]] = {}
        for channel in self._shards:
            by_slot.setdefault(key_slot(channel), []).append(channel)
        commands += [("SSUBSCRIBE", *channels) for channels in by_slot.values()]
        return commands

    def forget_shard(self, channel: bytes) -> None:
        """The server unsubscribed ``channel`` (its slot moved): not subscribed again."""
        self._shards.pop(channel, None)


class AsyncClusterPubSub(AsyncPubSubReading):
    """Subscriptions on a cluster and their messages: the API of the single-node PubSub
    (``subscribe``, ``psubscribe``, ``ssubscribe``, their ``un`` forms, ``get_message``,
    iteration, ``run``/``stop``, ``close``) and its options, which each node's PubSub
    gets. See the module docstring for where each subscription lives."""

    _WORKER_NAME = "store-cluster-pubsub"

    def __init__(
        self,
        cluster: ClusterStore,
        *,
        ignore_subscribe_messages: bool = False,
        max_pending: int = _MAX_PENDING,
        **options: Any,
    ) -> None:
        if type(max_pending) is not int or max_pending < 1:
            raise ValueError(f"max_pending must be an int >= 1, got {max_pending!r}")
        self.cluster = cluster
        self.ignore_subscribe_messages = ignore_subscribe_messages
        self.max_pending = max_pending
        self._options = {"max_pending": max_pending, **options}
        # fail now on a bad option, as a single node's pubsub() does
        AsyncPubSub(_NodeTarget(cluster, None, cluster.startup_nodes[0]), **self._options)
        self._encoding = cluster.encoding
        self._handlers: dict[tuple[str, bytes], Handler | None] = {}
        self._classic: _NodePubSub | None = None
        self._shard_nodes: list[_NodePubSub] = []
        self._shard_node_of: dict[bytes, _NodePubSub] = {}
        self._redirects: dict[bytes, int] = {}  # MOVED answers in a row, per shard channel
        self._lock = AsyncThreadLock()  # the queue and the maps above; never held in a wait
        self._queue: deque[PubSubMessage] = deque()
        self._arrived = AsyncEvent()
        self._space = AsyncEvent()
        self._closed = False
        self._reading = False
        self._worker: AsyncWorker | None = None
        self._running = False
        self._run_handler: Handler | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._nodes())} connection(s)"
        return (
            f"<{type(self).__name__} {state} channels={len(self.channels)} "
            f"patterns={len(self.patterns)} shard_channels={len(self.shard_channels)}>"
        )

    # ------------------------------------------------------------------ state

    def _names(self, kind: str) -> list[bytes]:
        # a snapshot: a runner thread may add or drop a name meanwhile
        return [name for k, name in list(self._handlers) if k == kind]

    @property
    def channels(self) -> list[bytes]:
        """The channels subscribed to (also while reconnecting), as bytes."""
        return self._names("channel")

    @property
    def patterns(self) -> list[bytes]:
        return self._names("pattern")

    @property
    def shard_channels(self) -> list[bytes]:
        return self._names("shard")

    @property
    def subscribed(self) -> bool:
        return bool(self._handlers)

    @property
    def connected(self) -> bool:
        """True while every node's PubSub is connected."""
        nodes = self._nodes()
        return bool(nodes) and all(node.connected for node in nodes)

    @property
    def closed(self) -> bool:
        return self._closed

    def _nodes(self) -> list[_NodePubSub]:
        with self._lock:
            classic = [] if self._classic is None else [self._classic]
            return classic + self._shard_nodes

    def _key(self, name: ChannelT) -> bytes:
        if isinstance(name, str):
            return name.encode(self._encoding)
        if isinstance(name, (bytes, bytearray, memoryview)):
            return bytes(name)
        raise DataError(f"a channel or pattern is str or bytes, not {type(name).__name__}")

    def _added(
        self, kind: str, names: tuple[ChannelT, ...], handlers: dict[str, Handler]
    ) -> dict[bytes, Handler | None]:
        if self._closed:
            raise StoreError("this PubSub is closed")
        added: dict[bytes, Handler | None] = dict.fromkeys(map(self._key, names))
        for name, handler in handlers.items():
            if not callable(handler):
                raise TypeError(f"the handler for {name!r} is not callable: {handler!r}")
            added[self._key(name)] = handler
        if not added:
            raise DataError(f"subscribing needs at least one {kind}")
        return added

    # ------------------------------------------------------------------ subscribing

    async def subscribe(self, *channels: ChannelT, **handlers: Handler) -> None:
        """Subscribe to ``channels`` (keywords: channel=handler) on the classic node;
        returns once the server confirmed."""
        added = self._added("channel", channels, handlers)
        node = await self._classic_node(next(iter(added)))
        await self._subscribe_on(node, "channel", added, node.subscribe)

    async def psubscribe(self, *patterns: ChannelT, **handlers: Handler) -> None:
        """Subscribe to glob-style ``patterns`` (keywords: pattern=handler)."""
        added = self._added("pattern", patterns, handlers)
        node = await self._classic_node(next(iter(added)))
        await self._subscribe_on(node, "pattern", added, node.psubscribe)

    async def ssubscribe(self, *channels: ChannelT, **handlers: Handler) -> None:
        """Subscribe to shard channels (keywords: channel=handler), each on the primary of
        its slot; returns once every primary confirmed."""
        await self._ssubscribe(self._added("channel", channels, handlers))

    async def _ssubscribe(self, added: dict[bytes, Handler | None]) -> None:
        await self.cluster.topology_known()
        by_slot: dict[int, dict[bytes, Handler | None]] = {}
        for channel, handler in added.items():
            by_slot.setdefault(key_slot(channel), {})[channel] = handler
        for slot, group in by_slot.items():
            node = self._shard_node(slot)
            with self._lock:
                for name in group:
                    self._shard_node_of[name] = node
            await self._subscribe_on(node, "shard", group, node.ssubscribe)

    async def _subscribe_on(
        self,
        node: _NodePubSub,
        kind: str,
        added: dict[bytes, Handler | None],
        subscribe: Callable[..., Any],
    ) -> None:
        """``subscribe(*added)`` on ``node``, the handlers recorded first (the messages
        may come before the confirmation); forgotten if the node could not be reached."""
        self._handlers.update(((kind, name), handler) for name, handler in added.items())
        try:
            await subscribe(*added)
        except ResponseError as exc:
            if exc.code != "MOVED":
                raise
            await self._redirected(node, exc)  # read by the subscriber (blocking variant)
        except BaseException:
            if not node.connected:  # never reached the node: nothing is subscribed
                with self._lock:
                    for name in added:
                        self._handlers.pop((kind, name), None)
                        if kind == "shard" and self._shard_node_of.get(name) is node:
                            del self._shard_node_of[name]
            raise

    async def unsubscribe(self, *channels: ChannelT) -> None:
        """Unsubscribe from ``channels``, or from every channel when none is given."""
        self._forget("channel", channels)
        if self._classic is not None:
            await self._classic.unsubscribe(*channels)

    async def punsubscribe(self, *patterns: ChannelT) -> None:
        self._forget("pattern", patterns)
        if self._classic is not None:
            await self._classic.punsubscribe(*patterns)

    async def sunsubscribe(self, *channels: ChannelT) -> None:
        """Unsubscribe from shard ``channels``, or from every one when none is given."""
        names = self._forget("shard", channels)
        with self._lock:
            groups: dict[int, tuple[_NodePubSub, list[bytes]]] = {}
            for name in names:
                node = self._shard_node_of.pop(name, None)
                if node is not None:
                    groups.setdefault(id(node), (node, []))[1].append(name)
        for node, group in groups.values():
            by_slot: dict[int, list[bytes]] = {}
            for name in group:
                by_slot.setdefault(key_slot(name), []).append(name)
            for slot_names in by_slot.values():
                await node.sunsubscribe(*slot_names)

    def _forget(self, kind: str, names: tuple[ChannelT, ...]) -> list[bytes]:
        """Drop the handlers of ``names`` (all of ``kind`` when none): the names dropped."""
        keys = [self._key(name) for name in names] if names else self._names(kind)
        for key in keys:
            self._handlers.pop((kind, key), None)
        return keys

    async def _classic_node(self, first: bytes) -> _NodePubSub:
        """The PubSub of classic channels: made on the primary of ``first``'s slot (any
        node would do; this one is predictable), moved to the next node on failure."""
        node = self._classic
        if node is None:
            await self.cluster.topology_known()
            address = self.cluster.slot_owner(key_slot(first))
            node = self._classic = self._start(_NodeTarget(self.cluster, None, address))
        return node

    def _shard_node(self, slot: int) -> _NodePubSub:
        """The PubSub on the owner of ``slot``: the one already there, else a new one."""
        address = self.cluster.slot_owner(slot)
        with self._lock:
            for node in self._shard_nodes:
                if node.target.address == address and not node.closed:
                    return node
        node = self._start(_NodeTarget(self.cluster, slot, address))
        with self._lock:
            self._shard_nodes.append(node)
        return node

    def _start(self, target: _NodeTarget) -> _NodePubSub:
        """A node's PubSub and its runner, which puts every message in the queue."""
        node = _NodePubSub(target, self._redirected, **self._options)

        async def collect(message: PubSubMessage) -> None:
            await self._collect(node, message)

        node.run(collect)
        return node

    # ------------------------------------------------------------------ receiving

    async def _collect(self, node: _NodePubSub, message: PubSubMessage) -> None:
        """A node runner's message: queued for the reader (waiting while the queue is
        full). A shard channel the server unsubscribed on its own (its slot moved) then
        follows its slot: the reader gets that ``sunsubscribe`` before the ``ssubscribe``
        of the new owner."""
        while not self._closed:
            with self._lock:
                if len(self._queue) < self.max_pending:
                    self._queue.append(message)
                    self._arrived.set()
                    break
                self._space.clear()
            await self._space.wait(_SLICE)
        if message.type == "ssubscribe" and self._redirects and message.channel is not None:
            self._redirects.pop(self._key(message.channel), None)  # subscribed: in a row no more
        if message.type == "sunsubscribe" and message.channel is not None and not self._closed:
            channel = self._key(message.channel)
            with self._lock:
                moved = ("shard", channel) in self._handlers and (
                    self._shard_node_of.get(channel) is node
                )
            if moved:
                await self._follow(node, channel)

    async def _redirected(self, node: _NodePubSub, error: ResponseError) -> None:
        """``node`` answered an SSUBSCRIBE with MOVED: its channels of that slot are
        subscribed where the slot is (at most MAX_REDIRECTS times each, in a row)."""
        moved = self.cluster.slot_moved(error.message, node.target.address[0])
        if moved is None:
            raise error
        slot, address = moved
        with self._lock:
            channels = [
                channel
                for channel, owner in self._shard_node_of.items()
                if owner is node and key_slot(channel) == slot
            ]
            for channel in channels:
                del self._shard_node_of[channel]
        retry: dict[bytes, Handler | None] = {}
        for channel in channels:
            node.forget_shard(channel)
            node.give_up_confirmation(channel)
            redirects = self._redirects[channel] = self._redirects.get(channel, 0) + 1
            if redirects > MAX_REDIRECTS:
                self._handlers.pop(("shard", channel), None)
                logger.warning(
                    "shard channel %r: %d redirections in a row, no longer subscribed",
                    channel,
                    redirects - 1,
                )
            elif ("shard", channel) in self._handlers:
                retry[channel] = self._handlers[("shard", channel)]
        logger.debug("SSUBSCRIBE of slot %d moved to %s:%d", slot, *address)
        if retry:
            await self._ssubscribe(retry)

    async def _follow(self, node: _NodePubSub, channel: bytes) -> None:
        """``channel``'s slot moved away from ``node``: subscribe it where it is now."""
        node.forget_shard(channel)
        with self._lock:
            if self._shard_node_of.get(channel) is node:
                del self._shard_node_of[channel]
        logger.debug(
            "shard channel %r left %s:%d: subscribing where its slot is now",
            channel,
            *node.target.address,
        )
        try:
            # the old owner knows where the slot went; the other nodes may learn it later
            cluster, slot, old = self.cluster, key_slot(channel), node.target.address
            for _ in range(_FOLLOW_ATTEMPTS):
                await cluster.topology_changed(force=True, source=old)
                if cluster.slot_owner(slot) != old:
                    break
                await async_sleep(_FOLLOW_PAUSE)
            await self._ssubscribe({channel: self._handlers.get(("shard", channel))})
        except (ConnectionError, StoreError) as exc:
            if ("shard", channel) in self._handlers and channel not in self._shard_node_of:
                self._handlers.pop(("shard", channel), None)  # subscribed nowhere: say so
            logger.warning(
                "shard channel %r could not follow its slot and is no longer subscribed: %s",
                channel,
                exc,
            )

    # ------------------------------------------------------------------ reading

    def _handler(self, message: PubSubMessage) -> Handler | None:
        kind = message.type
        if kind == "message":
            key = ("channel", message.channel)
        elif kind == "pmessage":
            key = ("pattern", message.pattern)
        elif kind == "smessage":
            key = ("shard", message.channel)
        else:
            return None
        name = key[1]
        return self._handlers.get((key[0], name if type(name) is bytes else self._key(name)))

    async def _next(self, deadline: float | None, runner: bool = False) -> PubSubMessage | None:
        while not self._closed and (self._running or not runner):
            with self._lock:
                if self._queue:
                    message = self._queue.popleft()
                    self._space.set()
                    return message
                self._arrived.clear()
            wait = _SLICE
            if deadline is not None:
                wait = min(wait, deadline - monotonic())
                if wait <= 0:
                    return None
            await self._arrived.wait(wait)
        return None

    # ------------------------------------------------------------------ background runner

    async def stop(self) -> bool:
        """Stop the runner started by ``run()``; True when it ended (within 5 seconds)."""
        self._running = False
        worker = self._worker
        if worker is None:
            return True
        self._arrived.set()
        stopped = await worker.stop(_STOP_TIMEOUT)
        if stopped:
            self._worker = None
            self._reading = False
        return stopped

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Stop the runner and every node's PubSub; readers get None, iterations end."""
        if self._closed:
            return
        self._closed = True
        self._running = False
        self._arrived.set()
        self._space.set()
        worker = self._worker
        if worker is not None:
            await worker.stop(_STOP_TIMEOUT)
            self._worker = None
            self._reading = False
        for node in self._nodes():
            await node.close()

    async def __aenter__(self) -> AsyncClusterPubSub:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
