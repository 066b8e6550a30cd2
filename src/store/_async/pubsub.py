"""Publish/subscribe on a dedicated connection that re-subscribes after reconnecting.

``ps = store.pubsub()``, then:

* ``ps.subscribe("news", alerts=on_alert)``: subscribe to "news", and to "alerts" with a
  handler: ``on_alert(message)`` gets the messages of "alerts" (likewise ``psubscribe``
  for patterns and ``ssubscribe`` for shard channels, and their ``un`` forms);
* ``ps.get_message(timeout=1.0)``: the next :class:`PubSubMessage`, or None after 1s;
* iterating over ``ps`` gives its messages until ``ps.close()``;
* ``ps.run(handler)`` starts a background runner that calls the handlers instead.

A PubSub owns one connection (``store.connect()``), opened by the first subscribe, never
taken from the pool. In RESP2 messages are the arrays of a connection in subscribed mode,
in RESP3 push frames: both read the same.

Connection loss is not an error. Whoever reads (``get_message``, iteration or the runner)
gets a ``"disconnected"`` status message, then the PubSub reconnects with exponential
backoff (``reconnect_backoff`` doubling up to ``reconnect_backoff_max`` seconds, for as
long as it stays open), subscribes again to every channel, pattern and shard channel, and
the reader gets a ``"reconnected"`` status message. Messages published while it was
disconnected are lost: that is what Redis pub/sub promises. Subscribing while disconnected
just records the subscription for the reconnection.

After ``health_check_interval`` seconds without hearing from the server (default: the
store's), the reader sends a PING; when nothing at all arrives within another interval,
the peer is deemed dead, and the connection is dropped and reconnected as above. The
PONG replies (``["pong", ""]`` in RESP2 subscribed mode, ``PONG`` otherwise) are not
returned as messages.

Reading needs a reader: a PubSub that nobody reads neither notices a lost connection nor
answers health checks. One reader at a time: ``get_message`` while the runner (or another
reader) is active raises StoreError.

Messages that wait for a reader are bounded, ``max_pending`` messages (10,000 by
default): a reader that falls that far behind is treated as Redis treats a subscriber
over its ``client-output-buffer-limit``. The PubSub stops reading and drops the
connection; the reader then gets the messages that arrived before it, a
``"disconnected"`` status message, and after the reconnection ``"reconnected"``: what
was published in between is lost, never the memory. (The asynchronous client's event
loop reads the socket whether or not anyone waits, so it counts what it parsed; the
blocking client reads only for its reader, so the unread messages wait in the server,
whose own limit applies, and ``max_pending`` bounds what ``subscribe()`` reads for
the reader while waiting for its confirmation.)
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from .._backend.synchronization import AsyncEvent, AsyncMutex
from .._backend.workers import AsyncCaller, AsyncWorker
from ..errors import ConnectionError, DataError, ResponseError, StoreError, TimeoutError
from ..messages import DISCONNECTED, RECONNECTED, SUBSCRIBE_TYPES, PubSubMessage, parse_message
from ..resp import NOT_ENOUGH, pack_command, pack_commands
from .connection import AsyncConnection

if TYPE_CHECKING:
    from .protocols import AsyncCommandTarget

logger = logging.getLogger("store.pubsub")

ChannelT = str | bytes | bytearray | memoryview
Handler = Callable[[PubSubMessage], Any]

_PING: Final = pack_command("PING")

_SLICE: Final = 1.0  # longest single wait: how soon a reader notices close() or stop()
_MIN_WAIT: Final = 0.001  # a blocking socket read of 0s would be a non-blocking one
_STOP_TIMEOUT: Final = 5.0  # how long close() and stop() wait for the runner to end
# how long subscribe() waits for the server's confirmation when the store has no
# socket_timeout, and how often it looks again while another reader holds the socket
_CONFIRM_TIMEOUT: Final = 10.0
_CONFIRM_POLL: Final = 0.05
_CONFIRMATIONS: Final = frozenset({"subscribe", "psubscribe", "ssubscribe"})
_MAX_PENDING: Final = 10_000


class AsyncPubSubReading:
    """What a PubSub's reader uses, over the class's ``_next`` (the next message, status
    messages included, or None at the deadline) and ``_handler`` (the handler of a
    message's channel or pattern): ``get_message``, iteration, and the background runner
    of ``run()``. The single-node PubSub and the cluster's share it."""

    ignore_subscribe_messages: bool
    _closed: bool
    _reading: bool
    _running: bool
    _worker: AsyncWorker | None
    _run_handler: Handler | None
    _WORKER_NAME = "store-pubsub"

    async def _next(self, deadline: float | None, runner: bool = False) -> PubSubMessage | None:
        raise NotImplementedError

    def _handler(self, message: PubSubMessage) -> Handler | None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """True while the background runner started by ``run()`` is active."""
        worker = self._worker
        return worker is not None and worker.is_running()

    async def get_message(
        self, timeout: float | None = 0.0, ignore_subscribe_messages: bool | None = None
    ) -> PubSubMessage | None:
        """The next message, or None when none came within ``timeout`` seconds (None:
        wait until one comes or the PubSub is closed; 0: only what already arrived).

        A message whose channel (or pattern) has a handler goes to the handler instead
        (its errors propagate here) and the wait goes on. A lost connection returns a
        ``"disconnected"`` message, never raises; a later call reconnects.
        """
        if self._closed:
            return None
        if ignore_subscribe_messages is None:
            ignore_subscribe_messages = self.ignore_subscribe_messages
        self._start_reading()
        try:
            deadline = None if timeout is None else monotonic() + timeout
            while True:
                message = await self._next(deadline)
                if message is None:
                    return None
                if ignore_subscribe_messages and message.type in SUBSCRIBE_TYPES:
                    continue
                handler = self._handler(message)
                if handler is None:
                    return message
                await AsyncCaller.call(handler, message)
        finally:
            self._reading = False

    def _start_reading(self) -> None:
        if self._reading:
            raise StoreError(
                "this PubSub is already being read (by its runner, an iteration or another "
                "get_message): one reader at a time"
            )
        self._reading = True

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> AsyncIterator[PubSubMessage]:
        return self

    async def __anext__(self) -> PubSubMessage:
        """The next message (with ``ignore_subscribe_messages`` as set on the PubSub);
        the iteration ends when the PubSub is closed."""
        message = await self.get_message(timeout=None)
        if message is None:
            raise StopAsyncIteration
        return message

    # ------------------------------------------------------------------ background runner

    def run(self, handler: Handler | None = None) -> None:
        """Start the background runner (a task; a thread in the blocking client): it reads
        messages and calls the handler of their channel or pattern, else ``handler``
        (which also gets the status messages, and the confirmations unless
        ``ignore_subscribe_messages``). A failing handler is logged (logger
        "store.pubsub") and the runner goes on. ``stop()`` or ``close()`` end it."""
        if self._closed:
            raise StoreError("this PubSub is closed")
        if self.running:
            raise StoreError("the runner of this PubSub is already running")
        self._start_reading()
        self._run_handler = handler
        self._running = True
        worker = AsyncWorker(self._run, self._WORKER_NAME)
        self._worker = worker
        try:
            worker.start()
        except BaseException:
            self._running = False
            self._reading = False
            raise

    async def _run(self) -> None:
        try:
            while self._running and not self._closed:
                try:
                    message = await self._next(monotonic() + _SLICE, runner=True)
                except Exception:
                    logger.exception("pub/sub runner: reading failed")
                    continue
                if message is None or not self._running:
                    continue
                if self.ignore_subscribe_messages and message.type in SUBSCRIBE_TYPES:
                    continue
                handler = self._handler(message) or self._run_handler
                if handler is None:
                    continue
                try:
                    await AsyncCaller.call(handler, message)
                except Exception:
                    logger.exception("pub/sub handler %r failed on %r", handler, message)
        finally:
            self._reading = False


class AsyncPubSub(AsyncPubSubReading):
    """Subscriptions and their messages: ``get_message``, iteration, a background runner.

    Options (keywords of ``store.pubsub()``):

    * ``ignore_subscribe_messages`` (False): leave out the server's (un)subscribe
      confirmations (status messages are never left out).
    * ``health_check_interval`` (the store's, 30s by default): PING after that many
      seconds of silence; 0 turns health checks off.
    * ``reconnect_backoff`` (0.05s) and ``reconnect_backoff_max`` (2s): the first retry
      after a failed reconnection waits ``reconnect_backoff`` seconds, each next one
      twice as long, at most ``reconnect_backoff_max``.
    * ``max_pending`` (10,000): the most messages received and not yet read; at that
      many the PubSub drops the connection and reconnects (see the module's docstring:
      the reader gets them, then ``"disconnected"`` and ``"reconnected"``).

    Handlers (``subscribe(news=handler)``, ``run(handler)``) take the message; where
    the client is asynchronous they may also be coroutine functions.
    """

    def __init__(
        self,
        store: AsyncCommandTarget,
        *,
        ignore_subscribe_messages: bool = False,
        health_check_interval: float | None = None,
        reconnect_backoff: float = 0.05,
        reconnect_backoff_max: float = 2.0,
        max_pending: int = _MAX_PENDING,
    ) -> None:
        if health_check_interval is None:
            health_check_interval = store.settings.health_check_interval
        if not health_check_interval >= 0:
            raise ValueError(f"health_check_interval must be >= 0, got {health_check_interval!r}")
        if not reconnect_backoff > 0:
            raise ValueError(f"reconnect_backoff must be > 0, got {reconnect_backoff!r}")
        if not reconnect_backoff_max >= reconnect_backoff:
            raise ValueError(
                f"reconnect_backoff_max must be >= reconnect_backoff, got {reconnect_backoff_max!r}"
            )
        if type(max_pending) is not int or max_pending < 1:
            raise ValueError(f"max_pending must be an int >= 1, got {max_pending!r}")
        self.store = store
        self.max_pending = max_pending
        self.ignore_subscribe_messages = ignore_subscribe_messages
        self.health_check_interval = float(health_check_interval)
        self.reconnect_backoff = float(reconnect_backoff)
        self.reconnect_backoff_max = float(reconnect_backoff_max)
        self._encoding = store.encoding
        # subscriptions: name (bytes) -> its handler; what a reconnection subscribes again
        self._channels: dict[bytes, Handler | None] = {}
        self._patterns: dict[bytes, Handler | None] = {}
        self._shards: dict[bytes, Handler | None] = {}
        self._connection: AsyncConnection | None = None
        self._connected_once = False
        self._closed = False
        self._mutex = AsyncMutex()  # subscription changes, writes, swapping the connection
        self._wake = AsyncEvent()  # ends a reader's wait: first connection, close
        self._reading = False  # a reader (get_message, iteration, runner) is active
        # who reads the socket right now: that reader, or subscribe() waiting for its
        # confirmation while the reader is away (in a handler, or there is none)
        self._socket = AsyncMutex()
        # messages received for the reader, who gets them first (at most max_pending):
        # those subscribe() read for it, and in the asynchronous client all that arrived;
        # an error reply waits here too, raised to the reader in turn
        self._backlog: deque[PubSubMessage | Exception] = deque()
        # the asynchronous client parses what arrives as it arrives (_attach): the
        # connection whose receiver is current, why it ended (None: it did not), and the
        # event that wakes the reader
        self._receiving: AsyncConnection | None = None
        self._ended: str | None = None
        self._arrived = AsyncEvent()
        # (confirmation kind, name) -> set when the server confirms the subscription
        self._unconfirmed: dict[tuple[str, bytes], AsyncEvent] = {}
        self._worker: AsyncWorker | None = None
        self._running = False
        self._run_handler: Handler | None = None
        # the reader's own state
        self._heard = 0.0  # when the server was last heard from
        self._ping_at: float | None = None  # when an unanswered health-check PING was sent
        self._attempts = 0
        self._retry_at = 0.0

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self._connection is not None:
            state = "connected"
        elif self._connected_once:
            state = "reconnecting"
        else:
            state = "not connected"
        return (
            f"<{type(self).__name__} {self.store.settings.address} {state} "
            f"channels={len(self._channels)} patterns={len(self._patterns)} "
            f"shard_channels={len(self._shards)}>"
        )

    # ------------------------------------------------------------------ state

    @property
    def channels(self) -> list[bytes]:
        """The channels subscribed to (also while reconnecting), as bytes."""
        return list(self._channels)

    @property
    def patterns(self) -> list[bytes]:
        return list(self._patterns)

    @property
    def shard_channels(self) -> list[bytes]:
        return list(self._shards)

    @property
    def subscribed(self) -> bool:
        """True while any channel, pattern or shard channel is subscribed to."""
        return bool(self._channels or self._patterns or self._shards)

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and connection.is_connected

    @property
    def closed(self) -> bool:
        return self._closed

    def _key(self, name: ChannelT) -> bytes:
        if isinstance(name, str):
            return name.encode(self._encoding)
        if isinstance(name, (bytes, bytearray, memoryview)):
            return bytes(name)
        raise DataError(f"a channel or pattern is str or bytes, not {type(name).__name__}")

    # ------------------------------------------------------------------ subscribing

    async def subscribe(self, *channels: ChannelT, **handlers: Handler) -> None:
        """Subscribe to ``channels``, and to each keyword's channel with its handler.

        Returns once the server has confirmed every subscription, so that a message
        published afterwards (from any connection) is received; TimeoutError when it does
        not within the store's socket_timeout (10s without one; the subscriptions stay).
        While the connection is lost it returns at once: the subscriptions are recorded
        and made on reconnection."""
        await self._subscribe("SUBSCRIBE", self._channels, channels, handlers)

    async def psubscribe(self, *patterns: ChannelT, **handlers: Handler) -> None:
        """Subscribe to glob-style ``patterns`` (keywords: pattern=handler)."""
        await self._subscribe("PSUBSCRIBE", self._patterns, patterns, handlers)

    async def ssubscribe(self, *channels: ChannelT, **handlers: Handler) -> None:
        """Subscribe to shard channels (Redis 7 SSUBSCRIBE; keywords: channel=handler)."""
        await self._subscribe("SSUBSCRIBE", self._shards, channels, handlers)

    async def unsubscribe(self, *channels: ChannelT) -> None:
        """Unsubscribe from ``channels``, or from every channel when none is given."""
        await self._unsubscribe("UNSUBSCRIBE", self._channels, channels)

    async def punsubscribe(self, *patterns: ChannelT) -> None:
        await self._unsubscribe("PUNSUBSCRIBE", self._patterns, patterns)

    async def sunsubscribe(self, *channels: ChannelT) -> None:
        await self._unsubscribe("SUNSUBSCRIBE", self._shards, channels)

    async def _subscribe(
        self,
        command: str,
        registry: dict[bytes, Handler | None],
        names: tuple[ChannelT, ...],
        handlers: dict[str, Handler],
    ) -> None:
        if self._closed:
            raise StoreError("this PubSub is closed")
        added: dict[bytes, Handler | None] = dict.fromkeys(map(self._key, names))
        for name, handler in handlers.items():
            if not callable(handler):
                raise TypeError(f"the handler for {name!r} is not callable: {handler!r}")
            added[self._key(name)] = handler
        if not added:
            raise DataError(f"{command.lower()}() needs at least one name")
        async with self._mutex:
            if self._closed:
                raise StoreError("this PubSub is closed")
            if not self._connected_once:
                # the first connection is the caller's: a wrong address or password raises
                connection = await self.store.connect()
                if True:  # ASYNC
                    try:
                        self._attach(connection)
                    except BaseException:
                        connection.close()
                        raise
                self._connection = connection
                self._connected_once = True
                self._heard = monotonic()
            registry.update(added)
            kind = command.lower()
            confirmations: list[AsyncEvent] = []
            for key in added:
                # expected before the request goes out, so that no confirmation is missed
                confirmation = self._unconfirmed.get((kind, key))
                if confirmation is None:
                    confirmation = self._unconfirmed[(kind, key)] = AsyncEvent()
                confirmations.append(confirmation)
            sent_on = await self._send(pack_command(command, *added))
        self._wake.set()
        if sent_on is not None:
            await self._confirmed(confirmations, sent_on)

    async def _confirmed(
        self, confirmations: list[AsyncEvent], connection: AsyncConnection
    ) -> None:
        """Wait until every confirmation is set: the reader sets them; while no reader
        holds the socket (none runs, or it is in a handler, perhaps the caller), read
        here and keep the messages for it. Returns early if ``connection`` is lost: the
        reconnection subscribes again."""
        timeout = self.store.settings.socket_timeout or _CONFIRM_TIMEOUT
        deadline = monotonic() + timeout
        for confirmation in confirmations:
            while not confirmation.is_set() and self._connection is connection:
                now = monotonic()
                if now >= deadline:
                    raise TimeoutError(
                        f"the server did not confirm the subscription within {timeout:g}s"
                    )
                if True:  # ASYNC
                    # the receiver (_attach) confirms as the replies arrive
                    if self._ended is not None:
                        return  # lost: the reader reconnects and subscribes again
                    await confirmation.wait(min(deadline - now, _CONFIRM_POLL))
                else:  # SYNC
                    if not await self._socket.try_acquire():
                        await confirmation.wait(min(deadline - now, _CONFIRM_POLL))
                        continue
                    try:
                        if not confirmation.is_set():
                            message = await self._read(min(deadline, now + _SLICE))
                            if message is not None:
                                self._keep(connection, message)
                    finally:
                        self._socket.release()

    def _keep(self, connection: AsyncConnection, message: PubSubMessage | Exception) -> bool:
        """Put ``message`` in the backlog for the reader; at max_pending messages stop
        reading ``connection`` (False)."""
        backlog = self._backlog
        backlog.append(message)
        if len(backlog) < self.max_pending:
            return True
        self._end(
            connection,
            f"{len(backlog)} messages received and not read (max_pending): the reader fell behind",
        )
        return False

    def _end(self, connection: AsyncConnection, reason: str) -> None:
        """Stop reading ``connection``: the reader gets the backlog, then "disconnected"
        with ``reason``, and reconnects."""
        if self._ended is None and (
            connection is self._connection or connection is self._receiving
        ):
            self._ended = reason
        if self._receiving is connection:
            self._receiving = None
        connection.close()  # stops reading at once: the memory stays bounded
        self._arrived.set()

    if True:  # ASYNC

        def _attach(self, connection: AsyncConnection) -> None:
            """Parse what arrives on ``connection`` as it arrives, into the backlog.

            The event loop reads the socket whether or not anyone waits: unparsed, the
            bytes would pile up unbounded in the stream. Parsed here, they are counted
            (max_pending) and the PubSub stops reading at the bound (_keep)."""
            stream = connection.stream
            if stream is None:
                raise ConnectionError(f"connection to {self.store.settings.address} is closed")
            reader = connection.reader

            def on_data(data: bytes) -> None:
                if self._receiving is not connection:
                    return  # a connection given up: what it still says is not wanted
                try:
                    reader.feed(data)
                    reply = reader.gets()
                    while reply is not NOT_ENOUGH:
                        if not self._receive(connection, reply):
                            return
                        reply = reader.gets()
                except Exception as exc:  # a broken reader: the connection is unusable
                    self._end(connection, f"invalid reply: {exc}")
                finally:
                    self._arrived.set()

            def on_lost(exc: BaseException) -> None:
                if self._receiving is connection:
                    self._end(connection, str(exc))

            stream.set_receiver(on_data, on_lost)
            self._receiving = connection
            self._ended = None

        def _receive(self, connection: AsyncConnection, reply: Any) -> bool:
            """One reply of ``connection``: False when the PubSub stopped reading it."""
            self._heard = monotonic()
            self._ping_at = None
            message: PubSubMessage | Exception | None
            try:
                message = parse_message(reply)
            except ResponseError as exc:  # raised to the reader in its turn
                message = exc
            if message is None:
                return True  # a PONG
            if isinstance(message, PubSubMessage) and message.type in _CONFIRMATIONS:
                self._confirm(message)
            return self._keep(connection, message)

    def _confirm(self, message: PubSubMessage) -> None:
        name = message.pattern if message.type == "psubscribe" else message.channel
        if isinstance(name, (str, bytes)):
            confirmation = self._unconfirmed.pop((message.type, self._key(name)), None)
            if confirmation is not None:
                confirmation.set()

    async def _unsubscribe(
        self, command: str, registry: dict[bytes, Handler | None], names: tuple[ChannelT, ...]
    ) -> None:
        keys = [self._key(name) for name in names]
        async with self._mutex:
            if self._closed:
                return
            if keys:
                for key in keys:
                    registry.pop(key, None)
            else:
                registry.clear()
            await self._send(pack_command(command, *keys))

    async def _send(self, data: bytes) -> AsyncConnection | None:
        """Write on the current connection (the caller holds the mutex): the connection,
        or None if there is none. A lost connection is not an error here: the reader
        notices, reconnects and subscribes again."""
        connection = self._connection
        if connection is None or not connection.is_connected:
            return None
        try:
            await connection.send(data)
        except ConnectionError:
            return None  # closed by send
        return connection

    def _commands(self) -> list[tuple[Any, ...]]:
        """The commands that restore every subscription on a new connection."""
        commands: list[tuple[Any, ...]] = []
        if self._channels:
            commands.append(("SUBSCRIBE", *self._channels))
        if self._patterns:
            commands.append(("PSUBSCRIBE", *self._patterns))
        if self._shards:
            commands.append(("SSUBSCRIBE", *self._shards))
        return commands

    # ------------------------------------------------------------------ reading

    def _handler(self, message: PubSubMessage) -> Handler | None:
        kind = message.type
        if kind == "message":
            registry, name = self._channels, message.channel
        elif kind == "pmessage":
            registry, name = self._patterns, message.pattern
        elif kind == "smessage":
            registry, name = self._shards, message.channel
        else:
            return None
        if not registry:
            return None
        return registry.get(name if type(name) is bytes else self._key(name))

    async def _next(self, deadline: float | None, runner: bool = False) -> PubSubMessage | None:
        """The next message (status messages included), or None at ``deadline``, when
        closed, or for the ``runner``, when stopped. Reconnects and runs the health
        checks on the way."""
        async with self._socket:
            if self._backlog:
                return self._pop()
            return await self._read(deadline, runner)

    def _pop(self) -> PubSubMessage:
        message = self._backlog.popleft()
        if isinstance(message, Exception):
            raise message
        return message

    async def _read(self, deadline: float | None, runner: bool = False) -> PubSubMessage | None:
        """``_next`` from the socket; the caller holds ``_socket``."""
        while not self._closed and (self._running or not runner):
            now = monotonic()
            connection = self._connection
            if connection is None:
                if self._connected_once and now >= self._retry_at:
                    status = await self._reconnect()
                    if status is not None:
                        return status
                    continue
                if deadline is not None and now >= deadline:
                    return None
                # not subscribed yet, or waiting for the next attempt to reconnect
                until = self._retry_at if self._connected_once else now + _SLICE
                if deadline is not None:
                    until = min(until, deadline)
                self._wake.clear()
                if self._connection is None and not self._closed:
                    await self._wake.wait(min(max(until - now, 0.0), _SLICE))
                continue
            if True:  # ASYNC
                if self._backlog:  # where the receiver (_attach) puts what arrives
                    return self._pop()
            ended = self._ended
            if ended is not None or not connection.is_connected:
                return await self._lost(connection, ended or "connection closed")
            wait = _SLICE
            interval = self.health_check_interval
            if interval:
                if self._ping_at is not None:
                    if now - self._ping_at >= interval:
                        return await self._lost(
                            connection, f"no reply to PING within {interval:g}s"
                        )
                    wait = min(wait, self._ping_at + interval - now)
                elif now - self._heard >= interval:
                    self._ping_at = now
                    async with self._mutex:
                        if self._connection is connection:
                            await self._send(_PING)
                    continue
                else:
                    wait = min(wait, self._heard + interval - now)
            if deadline is not None:
                wait = min(wait, deadline - now)
            if True:  # ASYNC
                self._arrived.clear()  # nothing can arrive before the wait: one thread
                await self._arrived.wait(max(wait, _MIN_WAIT))
                if (
                    deadline is not None
                    and not self._backlog
                    and self._ended is None
                    and monotonic() >= deadline
                ):
                    return None
            else:  # SYNC
                try:
                    reply = await connection.wait_reply(max(wait, _MIN_WAIT))
                except ConnectionError as exc:
                    if self._closed:
                        return None
                    return await self._lost(connection, str(exc))
                if reply is NOT_ENOUGH:
                    if deadline is not None and monotonic() >= deadline:
                        return None
                    continue
                self._heard = monotonic()
                self._ping_at = None
                message = parse_message(reply)
                if message is not None:
                    if message.type in _CONFIRMATIONS:
                        self._confirm(message)
                    return message
        return None

    async def _lost(self, connection: AsyncConnection, reason: str) -> PubSubMessage | None:
        if self._receiving is connection:
            self._receiving = None
        connection.close()
        async with self._mutex:
            if self._connection is connection:
                self._connection = None
        self._ended = None
        self._ping_at = None
        self._attempts = 0
        self._retry_at = monotonic()  # the first attempt at once
        if self._closed:
            return None
        logger.warning(
            "pub/sub connection to %s lost (%s): reconnecting", self.store.settings.address, reason
        )
        return PubSubMessage(DISCONNECTED, None, None, reason)

    async def _reconnect(self) -> PubSubMessage | None:
        """One attempt: the "reconnected" message, or None (the next attempt is due at
        ``_retry_at``). Errors other than connection failures (a refused password) raise."""
        self._attempts += 1
        delay = self.reconnect_backoff * 2 ** min(self._attempts - 1, 32)
        self._retry_at = monotonic() + min(delay, self.reconnect_backoff_max)
        try:
            connection = await self._open_connection()
        except (ConnectionError, TimeoutError) as exc:
            logger.debug("pub/sub reconnection attempt %d failed: %s", self._attempts, exc)
            return None
        try:
            async with self._mutex:
                if self._closed:
                    connection.close()
                    return None
                if True:  # ASYNC
                    self._attach(connection)  # before the confirmations can arrive
                commands = self._commands()
                if commands:
                    await connection.send(pack_commands(commands))
                self._connection = connection
        except ConnectionError as exc:  # closed by send, or by the server meanwhile
            if self._receiving is connection:
                self._receiving = None
            self._ended = None
            connection.close()
            logger.debug("pub/sub reconnection attempt %d failed: %s", self._attempts, exc)
            return None
        self._heard = monotonic()
        self._ping_at = None
        attempts = self._attempts
        self._attempts = 0
        logger.warning(
            "pub/sub reconnected to %s after %d attempt(s)", self.store.settings.address, attempts
        )
        return PubSubMessage(RECONNECTED, None, None, attempts)

    async def _open_connection(self) -> AsyncConnection:
        """A new connection for a reconnection attempt: one attempt (the PubSub has its
        own backoff). A cluster's PubSub chooses the node here."""
        connection = AsyncConnection(self.store.settings)
        await connection.connect()
        return connection

    # ------------------------------------------------------------------ background runner

    async def stop(self) -> bool:
        """Stop the runner started by ``run()``; True when it ended (within 5 seconds)."""
        self._running = False
        worker = self._worker
        if worker is None:
            return True
        await self._interrupt()
        stopped = await worker.stop(_STOP_TIMEOUT)
        if stopped:
            self._worker = None
            self._reading = False
        return stopped

    async def _interrupt(self) -> None:
        """Make the server answer, so that a reader waiting on the socket wakes up."""
        self._wake.set()
        self._arrived.set()
        async with self._mutex:
            await self._send(_PING)

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Stop the runner, close the connection; readers get None, iterations end."""
        if self._closed:
            return
        self._closed = True
        self._running = False
        worker = self._worker
        if worker is not None or self._reading:
            await self._interrupt()
        else:
            self._wake.set()
            self._arrived.set()
        if worker is not None:
            await worker.stop(_STOP_TIMEOUT)
            self._worker = None
            self._reading = False
        async with self._mutex:
            connection = self._connection
            self._connection = None
        if connection is not None:
            connection.close()
        # nothing will confirm what is still pending: its subscribe() calls return
        for confirmation in self._unconfirmed.values():
            confirmation.set()
        self._unconfirmed.clear()

    async def __aenter__(self) -> AsyncPubSub:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
