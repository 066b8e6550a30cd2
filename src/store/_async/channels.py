"""Channels: named channels carrying JSON events to registered callbacks (pulsar's design).

``ch = store.channels()`` (namespace: the URL's ``?namespace=``, or ``namespace=``), then:

* ``ch.register("news", "created", callback)``: ``callback(channel, event, data)`` is
  called for the "created" events of channel "news"; the event may be an ``fnmatch``
  pattern (``"*"``: every event, ``"user.*"``...);
* ``ch.publish("news", "created", {"id": 1})`` sends the JSON text
  ``{"channel": "news", "event": "created", "data": {"id": 1}}`` on the Redis channel
  ``<namespace>news`` and returns the number of subscribers that received it;
* ``ch.unregister("news", "created", callback)``; ``ch.close()``.

The first ``register`` of a channel subscribes to ``<namespace><channel>`` and returns
once the server has confirmed it (so an event published afterwards is delivered); the last
``unregister`` unsubscribes. Messages are read by a PubSub runner (a task, or a thread in
the blocking client), so callbacks run there; where the client is asynchronous they may
also be coroutine functions. A callback that raises is logged (logger "store.channels")
and unregistered from its channel; the other callbacks still get the event. A message
that is not a JSON object with an ``"event"`` string is logged and skipped.

``status`` is ``"initialised"``, then ``"connecting"`` and ``"connected"`` when the first
channel is registered, ``"disconnected"`` while the PubSub reconnects after losing its
connection (with backoff: see the pubsub module; every channel is subscribed to again),
``"connected"`` again, and ``"closed"``. Each change is also an event on the local
``status_channel`` ("__status__" unless given): ``register("__status__", "*", callback)``
gets ``callback("__status__", status, reason)``, where ``reason`` is the error text of a
disconnection, else None. The status channel is never subscribed to on the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from fnmatch import fnmatchcase
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from .._backend.synchronization import AsyncMutex
from .._backend.workers import AsyncCaller
from ..errors import StoreError
from ..messages import DISCONNECTED, RECONNECTED, PubSubMessage
from .pubsub import AsyncPubSub

if TYPE_CHECKING:
    from .protocols import AsyncCommandTarget

logger = logging.getLogger("store.channels")

Callback = Callable[[str, str, Any], Any]

INITIALISED: Final = "initialised"
CONNECTING: Final = "connecting"
CONNECTED: Final = "connected"
CLOSED: Final = "closed"
STATUS_CHANNEL: Final = "__status__"


class AsyncChannels:
    """``register(channel, event, callback)``, ``publish(channel, event, data)``.

    Keywords other than ``namespace`` and ``status_channel`` configure the PubSub
    (``health_check_interval``, ``reconnect_backoff``, ``reconnect_backoff_max``).
    """

    def __init__(
        self,
        store: AsyncCommandTarget,
        namespace: str | None = None,
        *,
        status_channel: str = STATUS_CHANNEL,
        pubsub_class: Callable[..., AsyncPubSub] = AsyncPubSub,
        **kw: Any,
    ) -> None:
        self.store = store
        if namespace is None:
            namespace = store.urlparams.get("namespace") or ""
        self.namespace: str = str(namespace)
        self.status_channel = status_channel
        self.status: str = INITIALISED
        # a cluster store gives its own PubSub class: the same API
        self._pubsub = pubsub_class(store, ignore_subscribe_messages=True, **kw)
        # channel (without namespace) -> event pattern -> callbacks
        self._registry: dict[str, dict[str, list[Callback]]] = {}
        self._mutex = AsyncMutex()
        self._started = False

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.store.settings.address} "
            f"namespace={self.namespace!r} {self.status} channels={len(self.channels)}>"
        )

    @property
    def pubsub(self) -> AsyncPubSub:
        """The PubSub carrying the messages."""
        return self._pubsub

    @property
    def channels(self) -> list[str]:
        """The channels with callbacks (the status channel left out)."""
        return [name for name in self._registry if name != self.status_channel]

    def callbacks(self, channel: str, event: str | None = None) -> list[Callback]:
        """The callbacks of ``channel`` (for the event pattern ``event`` if given)."""
        events = self._registry.get(channel, {})
        if event is not None:
            return list(events.get(event, ()))
        found: list[Callback] = []
        for callbacks in events.values():
            found.extend(c for c in callbacks if c not in found)
        return found

    def _full(self, channel: str) -> str:
        return self.namespace + channel

    # ------------------------------------------------------------------ registering

    async def register(self, channel: str, event: str, callback: Callback) -> None:
        """Call ``callback(channel, event, data)`` for the events of ``channel`` matching
        ``event`` (an fnmatch pattern). Subscribes to the channel if it is new: raises
        ConnectionError, and registers nothing, when the first connection fails."""
        if not isinstance(channel, str) or not isinstance(event, str):
            raise TypeError("register() takes a channel and an event name (str)")
        if not callable(callback):
            raise TypeError(f"callback is not callable: {callback!r}")
        if self.status == CLOSED:
            raise StoreError("these Channels are closed")
        changes: list[tuple[str, Any]] = []
        try:
            async with self._mutex:
                events = self._registry.get(channel)
                if events is None:
                    if channel != self.status_channel:
                        await self._subscribe(channel, changes)
                    events = self._registry[channel] = {}
                callbacks = events.setdefault(event, [])
                if callback not in callbacks:
                    callbacks.append(callback)
        finally:
            for status, reason in changes:
                await self._notify(status, reason)

    async def _subscribe(self, channel: str, changes: list[tuple[str, Any]]) -> None:
        """Subscribe (the caller holds the mutex); the first time, also start the runner."""
        if self._started:
            await self._pubsub.subscribe(self._full(channel))
            return
        changes.append(self._set_status(CONNECTING))
        try:
            await self._pubsub.subscribe(self._full(channel))
        except Exception as exc:
            changes.append(self._set_status(DISCONNECTED, str(exc)))
            raise
        self._pubsub.run(self._on_message)
        self._started = True
        changes.append(self._set_status(CONNECTED))

    async def unregister(self, channel: str, event: str, callback: Callback) -> bool:
        """Forget ``callback`` for ``event`` (the same pattern it was registered with) on
        ``channel``: True if it was registered. The last one unsubscribes the channel."""
        async with self._mutex:
            events = self._registry.get(channel)
            callbacks = events.get(event) if events else None
            if events is None or not callbacks or callback not in callbacks:
                return False
            callbacks.remove(callback)
            if not callbacks:
                del events[event]
            if not events:
                await self._forget(channel)
        return True

    async def _forget(self, channel: str) -> None:
        """Drop an empty channel and unsubscribe from it (the caller holds the mutex)."""
        del self._registry[channel]
        if channel != self.status_channel and self._started:
            await self._pubsub.unsubscribe(self._full(channel))

    async def _drop(self, channel: str, callback: Callback) -> None:
        """Unregister a failing callback from every event of ``channel``."""
        async with self._mutex:
            events = self._registry.get(channel)
            if not events:
                return
            for event, callbacks in list(events.items()):
                if callback in callbacks:
                    callbacks.remove(callback)
                    if not callbacks:
                        del events[event]
            if not events:
                await self._forget(channel)

    # ------------------------------------------------------------------ publishing

    async def publish(self, channel: str, event: str, data: Any = None) -> int:
        """Send ``event`` with ``data`` (JSON-serialisable) to the subscribers of
        ``channel``; the number of subscribers that received it."""
        payload = json.dumps({"channel": channel, "event": event, "data": data})
        return int(await self.store.execute("PUBLISH", self._full(channel), payload))

    # ------------------------------------------------------------------ receiving

    def _set_status(self, status: str, reason: Any = None) -> tuple[str, Any]:
        self.status = status
        return status, reason

    async def _notify(self, status: str, reason: Any) -> None:
        await self._fire(self.status_channel, status, reason)

    async def _on_message(self, message: PubSubMessage) -> None:
        """The PubSub runner's handler: every message and status change comes here."""
        kind = message.type
        if kind == "message":
            await self._received(message)
        elif kind == DISCONNECTED:
            if self.status != CLOSED:
                await self._notify(*self._set_status(DISCONNECTED, message.data))
        elif kind == RECONNECTED and self.status != CLOSED:
            await self._notify(*self._set_status(CONNECTED))

    async def _received(self, message: PubSubMessage) -> None:
        name = message.channel
        if isinstance(name, bytes):
            name = name.decode(self.store.encoding, "replace")
        namespace = self.namespace
        if not isinstance(name, str) or not name.startswith(namespace):
            return
        channel = name[len(namespace) :]
        try:
            payload = json.loads(message.data)
        except (TypeError, ValueError):
            logger.warning("skipped a message on %r that is not JSON: %.200r", name, message.data)
            return
        event = payload.get("event") if isinstance(payload, dict) else None
        if not isinstance(event, str):
            logger.warning("skipped a message on %r with no event name: %.200r", name, message.data)
            return
        await self._fire(channel, event, payload.get("data"))

    async def _fire(self, channel: str, event: str, data: Any) -> None:
        """Call each callback of ``channel`` whose pattern matches ``event``, once."""
        async with self._mutex:
            events = self._registry.get(channel)
            if not events:
                return
            chosen: list[Callback] = []
            for pattern, callbacks in events.items():
                if fnmatchcase(event, pattern):
                    chosen.extend(c for c in callbacks if c not in chosen)
        for callback in chosen:
            try:
                await AsyncCaller.call(callback, channel, event, data)
            except Exception:
                logger.exception(
                    "callback %r failed on event %r of channel %r: unregistered",
                    callback,
                    event,
                    channel,
                )
                await self._drop(channel, callback)

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Stop receiving and close the connection; the status becomes "closed"."""
        if self.status == CLOSED:
            return
        await self._pubsub.close()
        await self._notify(*self._set_status(CLOSED))

    async def __aenter__(self) -> AsyncChannels:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
