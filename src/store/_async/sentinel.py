"""The Sentinel store (``redis+sentinel://``, ``rediss+sentinel://``): a RedisStore whose one
pool follows the primary of a service watched by Redis Sentinel.

The sentinels are asked in turn (the one that answered last first) for the service's
primary (``SENTINEL get-master-addr-by-name``); the address named is used once a
connection there says ``ROLE`` master, else the next sentinel is asked. A sentinel that
cannot be reached is skipped. The pool's settings then name that primary: moving to a new
one closes the idle connections to the old (those in use are closed when they come back),
ends the shared connection of automatic pipelining, and closes the store's own connections
(``connect()``: pub/sub), whose PubSubs reconnect to the new primary.

A primary moves when a sentinel announces it (``+switch-master``, read by a background
runner subscribed on one sentinel at a time: a task in store.aio, a thread in store.sync),
when a connection to it cannot be opened, and when it refuses a write with ``READONLY`` (a
demoted primary: the write was not applied, so it is sent once more to the new one).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from time import monotonic
from typing import Any

from .._backend.synchronization import AsyncEvent, AsyncMutex, AsyncThreadLock, async_sleep
from .._backend.workers import AsyncWorker
from .._protocol import ConnectionSettings
from ..command_table import PLAIN, POOLED, SHARED, command_for
from ..errors import (
    AuthenticationError,
    ConnectError,
    ConnectionError,
    ImproperlyConfigured,
    ReadOnlyError,
    ResponseError,
    TimeoutError,
    response_error,
)
from ..messages import parse_message
from ..resp import NOT_ENOUGH, pack_command
from ..url import OPTIONS, SENTINEL_OPTIONS, build_url
from .channels import AsyncChannels
from .cluster import _startup_addresses
from .connection import AsyncConnection
from .pool import AsyncConnectionPool
from .pubsub import AsyncPubSub
from .store import RedisStore

__all__ = ["SentinelStore"]

logger = logging.getLogger("store.sentinel")

Address = tuple[str, int]

_PASSED_THROUGH = frozenset({"namespace"})
_ROLE = pack_command("ROLE")
_PING = pack_command("PING")
# what the runner listens to: a new primary, and changes of the replicas
_EVENTS = ("+switch-master", "+sdown", "-sdown", "+slave", "+reboot")
# the runner's longest wait on the socket before it checks whether it is asked to stop
_LISTEN_SLICE = 0.5
# a quiet subscription is PINGed after this many seconds, and given up this long after that
_LISTEN_PING = 5.0
# a sentinel named a replica as the primary (a failover under way): the next round after
_ASK_AGAIN_AFTER = 0.2
# the pause between two rounds over the sentinels when none could be subscribed to
_LISTEN_BACKOFF = 0.1
_LISTEN_BACKOFF_MAX = 1.0
# seconds the close of the store waits for the runner
_STOP_TIMEOUT = 5.0
# the replica list is read again after this long even without any event
_REPLICAS_TTL = 10.0
# replica flags that keep it from reads
_UNHEALTHY = frozenset({"s_down", "o_down", "disconnected"})
# a replica's refusals that the primary would not give: the read goes there instead
_REPLICA_REFUSALS = frozenset({"LOADING", "MASTERDOWN"})


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _fields(entry: Any) -> dict[str, str]:
    """One instance of SENTINEL REPLICAS: a map in RESP3, a flat list in RESP2."""
    if isinstance(entry, dict):
        return {_text(k): _text(v) for k, v in entry.items()}
    return {_text(k): _text(v) for k, v in zip(entry[::2], entry[1::2], strict=False)}


class AsyncSentinelPool(AsyncConnectionPool):
    """The pool of a sentinel store: its ``settings`` name the current primary (found by
    the store on the first connection); a connection it cannot open there makes the store
    ask the sentinels again."""

    owner: SentinelStore | None = None

    async def connect(self) -> AsyncConnection:
        owner = self.owner
        if owner is None:
            return await super().connect()
        owner._ensure_listener()
        moves = owner.moves
        if owner.primary is None:
            return await owner._locate(moves)
        try:
            return await super().connect()
        except (ConnectError, TimeoutError) as exc:
            # a refused password (AuthenticationError) is no reason to look elsewhere
            logger.debug("primary of %r unreachable (%s): asking the sentinels", owner.service, exc)
            return await owner._locate(moves)

    async def connect_here(self) -> AsyncConnection:
        """A connection to the primary the settings name now, without asking anyone."""
        return await super().connect()


class AsyncSentinelPubSub(AsyncPubSub):
    """The PubSub of a sentinel store: it reconnects through the store's ``connect()``,
    to the current primary (found again if need be)."""

    async def _open_connection(self) -> AsyncConnection:
        return await self.store.connect()


class SentinelStore(RedisStore):
    """The primary (and, for reads, the replicas) of a service that Redis Sentinel watches:
    ``redis+sentinel://[user:password@]host[:port][,host[:port]...]/service_name[/db]``.

    ``user`` and ``password`` are the primary's and replicas'; ``sentinel_username`` and
    ``sentinel_password`` authenticate to the sentinels. The other options are a single
    store's (the connection options also serve the sentinels' connections). With
    ``read_from_replicas``, read-only commands go to the replicas the sentinels call healthy
    (up, linked to the current primary), in turn, and to the primary when there is none or
    the one chosen cannot be reached. See the module's docstring for how the primary is
    found and followed. A command whose connection broke after it was sent is never sent
    again unless it only reads (or ``idempotent=True``), as on a RedisStore.
    """

    default_port = 26379
    _pool_class = AsyncSentinelPool

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
        self._sentinel_addresses = _startup_addresses(name, host)
        self._given_encoding = encoding  # the replicas' stores get it as given
        super().__init__(
            name, self._sentinel_addresses[0], database, user, password, encoding, **kw
        )
        params = {k: v for k, v in self._urlparams.items() if k != "service_name"}
        if encoding is not None:
            params["encoding"] = encoding
        self._dns = build_url(
            name,
            list(self._sentinel_addresses),
            self._database,
            user,
            password,
            params,
            service=self.service,
        )

    def _init(self, **kw: Any) -> None:
        known = {*OPTIONS, *SENTINEL_OPTIONS}
        unknown = [k for k in kw if k not in known and k not in _PASSED_THROUGH]
        if unknown:
            raise ImproperlyConfigured(
                f"unknown option{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))} for a {self._name} store; known options: "
                f"{', '.join(sorted(known) + sorted(_PASSED_THROUGH))}"
            )
        order = list(kw)  # the dns lists them as given
        own = {
            k: SENTINEL_OPTIONS[k].coerce(k, kw.pop(k)) for k in list(kw) if k in SENTINEL_OPTIONS
        }
        options = {**SENTINEL_OPTIONS.defaults, **own}
        service = options["service_name"]
        if not service:
            raise ImproperlyConfigured(
                f"a {self._name} store needs the service name: "
                f"{self._name}://host:port[,host:port...]/service_name[/db]"
            )
        self.service: str = service
        tls = self._name == "rediss+sentinel"
        if tls and "ssl" not in kw:
            super()._init(**kw, ssl=True)
            del self._urlparams["ssl"]  # the scheme says it
        else:
            super()._init(**kw)
        params = {**self._urlparams, **own}
        self._urlparams = {k: params[k] for k in order if k in params}
        tls = tls or bool(self._urlparams.get("ssl"))
        self.read_from_replicas: bool = options["read_from_replicas"]
        # until the first connection finds it: no address to connect to
        self._settings = replace(
            self._settings, address=f"the primary of {service!r}", host="", port=0
        )
        pool = self._pool
        assert isinstance(pool, AsyncSentinelPool)
        pool.settings = self._settings
        pool.owner = self
        self._sentinel_pool = pool
        self.primary: Address | None = None
        self.moves = 0  # how many times the pool moved to another primary
        # the sentinels' stores: the connection options, their own credentials, no retries
        # (a sentinel that cannot be reached is skipped: the next one is asked)
        scheme = "rediss" if tls else "redis"
        passed = {
            k: v
            for k, v in self._urlparams.items()
            if k in OPTIONS and (OPTIONS[k].target != "store" or k == "ssl")
        }
        passed["retries"] = 0
        self._sentinels = [
            RedisStore(
                scheme,
                address,
                None,
                options["sentinel_username"],
                options["sentinel_password"],
                None,
                **passed,
            )
            for address in self._sentinel_addresses
        ]
        self._first = 0  # the sentinel asked first: the last one that answered
        self._node_scheme = scheme
        self._node_options = {k: v for k, v in self._urlparams.items() if k in OPTIONS}
        if tls and "ssl" not in self._node_options:
            self._node_options["ssl"] = True
        self._replica_stores: dict[Address, RedisStore] = {}
        self._replicas: tuple[tuple[Address, RedisStore], ...] = ()
        self._replicas_read_at: float | None = None  # None: to be read (again)
        # replicas that failed a read: none until then (monotonic time), whatever the
        # sentinels say (they notice a dead one only after down-after-milliseconds)
        self._shunned: dict[Address, float] = {}
        self._turn = 0
        # guards the bookkeeping between threads (sync); never held across a wait
        self._state_lock = AsyncThreadLock()
        # one search for the primary at a time; those arriving meanwhile use its result
        self._locating = AsyncMutex()
        self._detached: set[AsyncConnection] = set()
        self._listener: AsyncWorker | None = None
        self._listener_run = 0
        self._listening: AsyncConnection | None = None
        self._stopping = AsyncEvent()  # ends the runner's pauses when the store closes

    @property
    def sentinels(self) -> tuple[Address, ...]:
        """The sentinels' addresses, as the URL gives them."""
        return self._sentinel_addresses

    @property
    def listening_on(self) -> Address | None:
        """The sentinel whose announcements the store follows now (None: none yet)."""
        connection = self._listening
        if connection is None:
            return None
        return (connection.settings.host, connection.settings.port)

    # -- finding the primary ---------------------------------------------------------------

    def _sentinel_order(self) -> list[tuple[Address, RedisStore]]:
        first = self._first
        pairs = list(zip(self._sentinel_addresses, self._sentinels, strict=True))
        return pairs[first:] + pairs[:first]

    async def _locate(self, seen: int) -> AsyncConnection:
        """A connection to the primary, asking the sentinels unless the primary moved since
        the caller saw ``seen`` moves (then it is the new one's)."""
        async with self._locating:
            if self.moves == seen or self.primary is None:
                return await self._discover()
        return await self._sentinel_pool.connect_here()

    async def _discover(self) -> AsyncConnection:
        """Ask the sentinels in turn; move to the first primary named whose ROLE says so,
        and return the connection that asked it. When a sentinel named a replica (a
        failover under way), ask them all once more after a pause."""
        errors: list[str] = []
        for round_ in range(2):
            if round_:
                await async_sleep(_ASK_AGAIN_AFTER)
                errors.append("again")
            replica_named = False
            for index, (address, sentinel) in enumerate(self._sentinel_order()):
                where = f"{address[0]}:{address[1]}"
                try:
                    reply = await sentinel.execute(
                        "SENTINEL", "get-master-addr-by-name", self.service, idempotent=True
                    )
                except (ConnectionError, TimeoutError, ResponseError) as exc:
                    errors.append(f"{where}: {exc}")
                    continue
                if not reply:
                    errors.append(f"{where}: no such service")
                    continue
                primary = (_text(reply[0]), int(reply[1]))
                named = f"{where} named {primary[0]}:{primary[1]}"
                try:
                    connection = await self._verified(primary)
                except AuthenticationError:
                    raise  # the primary refuses these credentials: no sentinel can help
                except (ConnectionError, TimeoutError, ResponseError) as exc:
                    errors.append(f"{named}: {exc}")
                    continue
                if connection is None:
                    errors.append(f"{named}, not a primary by its ROLE")
                    replica_named = True
                    continue
                self._first = (self._first + index) % len(self._sentinels)
                self._move(primary, f"named by the sentinel at {where}")
                connection.generation = self._sentinel_pool.generation  # pooled from now on
                return connection
            if not replica_named:
                break
        raise ConnectError(
            f"no primary found for service {self.service!r}; sentinels asked: {'; '.join(errors)}"
        )

    def _settings_for(self, address: Address) -> ConnectionSettings:
        return replace(
            self._settings, address=f"{address[0]}:{address[1]}", host=address[0], port=address[1]
        )

    async def _verified(self, address: Address) -> AsyncConnection | None:
        """A connection to ``address`` if its ROLE is master, else None."""
        connection = AsyncConnection(self._settings_for(address), 0, self._sentinel_pool.setup)
        await connection.connect()
        try:
            role = await connection.request(_ROLE, self._settings.socket_timeout)
        except BaseException:
            connection.close()
            raise
        if isinstance(role, ResponseError):
            connection.close()
            raise response_error(role)
        if not role or _text(role[0]) != "master":
            connection.close()
            return None
        return connection

    def _move(self, address: Address, why: str) -> None:
        """Point the pool at the primary ``address``; drop what talks to the old one."""
        with self._state_lock:
            old = self.primary
            if old == address:
                return
            settings = self._settings_for(address)
            self._settings = settings
            self._sentinel_pool.settings = settings
            self.primary = address
            self.moves += 1
            self._replicas_read_at = None
            detached = [c for c in self._detached if c.is_connected]
            self._detached = set()
        self._sentinel_pool.close()  # idle ones now, those in use when they come back
        if True:  # ASYNC
            multiplexer = self._multiplexer
            if multiplexer is not None:
                multiplexer.close()  # new commands open a new shared connection
        for connection in detached:
            connection.close()  # a PubSub notices, and reconnects to the new primary
        if old is None:
            logger.debug("service %r: primary %s:%d (%s)", self.service, *address, why)
        else:
            logger.info(
                "service %r: primary moved from %s:%d to %s:%d (%s)",
                self.service,
                *old,
                *address,
                why,
            )

    async def connect(self) -> AsyncConnection:
        """A new connection to the current primary, owned by the caller; closed by the
        store when the primary moves (a PubSub then reconnects to the new one)."""
        connection = await self._pool.connect()
        with self._state_lock:
            self._detached = {c for c in self._detached if c.is_connected}
            self._detached.add(connection)
        return connection

    # -- commands --------------------------------------------------------------------------

    async def execute(self, *args: Any, **options: Any) -> Any:
        """As RedisStore's ``execute``, on the current primary; a ``READONLY`` refusal (a
        demoted primary: nothing was applied) finds the primary again and sends the
        command once more. With ``read_from_replicas``, a read-only command goes to a
        healthy replica (in turn), to the primary when none is."""
        if self.read_from_replicas:
            try:
                info = PLAIN[args[0]]
            except (KeyError, TypeError):
                info = command_for(args)
            if info.readonly and (info.route == SHARED or info.route == POOLED):
                return await self._read(args, options)
        seen = self.moves
        try:
            return await super().execute(*args, **options)
        except ReadOnlyError:
            connection = await self._locate(seen)
            connection.close()  # the search's own: the command goes the usual way
            return await super().execute(*args, **options)

    async def _read(self, args: tuple[Any, ...], options: Any) -> Any:
        replicas = await self._healthy_replicas()
        if not replicas:
            return await super().execute(*args, **options)
        self._turn = turn = self._turn + 1
        address, replica = replicas[turn % len(replicas)]
        try:
            return await replica.execute(*args, **options)
        except ResponseError as exc:
            if exc.code not in _REPLICA_REFUSALS:
                raise
            logger.debug("replica %s:%d refused a read (%s): on the primary", *address, exc)
            return await super().execute(*args, **options)
        except (ConnectionError, TimeoutError) as exc:
            logger.debug("read on replica %s:%d failed (%s): on the primary", *address, exc)
            with self._state_lock:
                self._replicas = tuple(r for r in self._replicas if r[0] != address)
                self._shunned[address] = monotonic() + _REPLICAS_TTL
            return await super().execute(*args, **options)

    async def _healthy_replicas(self) -> tuple[tuple[Address, RedisStore], ...]:
        read_at = self._replicas_read_at
        if read_at is not None and monotonic() - read_at < _REPLICAS_TTL:
            return self._replicas
        if self.primary is None:
            await self.execute("PING")  # finds the primary first
        primary = self.primary
        now = monotonic()
        with self._state_lock:
            self._shunned = {a: until for a, until in self._shunned.items() if until > now}
            shunned = set(self._shunned)
        found: list[tuple[Address, RedisStore]] = []
        for address, sentinel in self._sentinel_order():
            try:
                entries = await sentinel.execute(
                    "SENTINEL", "replicas", self.service, idempotent=True
                )
            except (ConnectionError, TimeoutError, ResponseError) as exc:
                logger.debug("sentinel %s:%d: no replica list (%s)", *address, exc)
                continue
            for entry in entries or ():
                fields = _fields(entry)
                flags = set(fields.get("flags", "").split(","))
                if flags & _UNHEALTHY or fields.get("master-link-status") != "ok":
                    continue
                try:
                    where = (fields["ip"], int(fields["port"]))
                    linked = (fields["master-host"], int(fields["master-port"]))
                except (KeyError, ValueError):
                    continue
                if linked == primary and where not in shunned:
                    found.append((where, self._replica(where)))
            break
        else:
            found = []  # no sentinel answered: reads go to the primary
        with self._state_lock:
            self._replicas = tuple(found)
            self._replicas_read_at = monotonic()
        return self._replicas

    def _replica(self, address: Address) -> RedisStore:
        with self._state_lock:
            store = self._replica_stores.get(address)
            if store is None:
                store = self._replica_stores[address] = RedisStore(
                    self._node_scheme,
                    address,
                    self._database,
                    self._user,
                    self._password,
                    self._given_encoding,
                    **self._node_options,
                )
        return store

    def replica_store(self, address: Address) -> RedisStore:
        """The store reading from the replica at ``address`` (made on first use)."""
        return self._replica(address)

    # -- the announcements of the sentinels --------------------------------------------------

    def _ensure_listener(self) -> None:
        """Start the runner that follows the sentinels' announcements, unless it runs."""
        listener = self._listener
        if listener is not None and listener.is_running():
            return
        with self._state_lock:
            listener = self._listener
            if listener is not None and listener.is_running():
                return
            self._listener_run += 1
            run = self._listener_run
            # an event of its own: in store.aio one belongs to the loop that waits on it
            stopping = self._stopping = AsyncEvent()
            listener = self._listener = AsyncWorker(
                lambda: self._listen(run, stopping), f"store-sentinel-{self.service}"
            )
        listener.start()

    async def _listen(self, run: int, stopping: AsyncEvent) -> None:
        """Subscribe on one sentinel after the other (the one that answered last first)
        until the store is closed; a lost connection moves on to the next sentinel."""
        failed_rounds = 0
        while run == self._listener_run:
            for address, sentinel in self._sentinel_order():
                if run != self._listener_run:
                    return
                try:
                    await self._listen_on(sentinel, run)
                    failed_rounds = 0
                except (ConnectionError, TimeoutError, ResponseError) as exc:
                    logger.debug("sentinel %s:%d: not listening (%s)", *address, exc)
                except Exception:
                    logger.exception("sentinel %s:%d: the listener failed", *address)
            failed_rounds += 1
            pause = min(_LISTEN_BACKOFF * 2 ** min(failed_rounds - 1, 8), _LISTEN_BACKOFF_MAX)
            await stopping.wait(pause)

    async def _listen_on(self, sentinel: RedisStore, run: int) -> None:
        connection = await sentinel.connect()
        self._listening = connection
        try:
            await connection.send(pack_command("SUBSCRIBE", *_EVENTS))
            confirmed = 0
            deadline = monotonic() + _LISTEN_PING
            while confirmed < len(_EVENTS):
                if run != self._listener_run:
                    return
                if monotonic() > deadline:
                    raise ConnectionError(f"SUBSCRIBE not confirmed within {_LISTEN_PING:g}s")
                reply = await connection.wait_reply(_LISTEN_SLICE)
                if reply is NOT_ENOUGH:
                    continue
                message = parse_message(reply)
                if message is not None and message.type == "subscribe":
                    confirmed += 1
            # what was announced while nobody listened: this sentinel's word now
            await self._check_primary(sentinel)
            heard, pinged = monotonic(), 0.0
            while run == self._listener_run:
                reply = await connection.wait_reply(_LISTEN_SLICE)
                if reply is NOT_ENOUGH:
                    # a sentinel that went silent (not closed: unreachable) is given up
                    now = monotonic()
                    if pinged and now - pinged > _LISTEN_PING:
                        raise ConnectionError(f"no reply to PING within {_LISTEN_PING:g}s")
                    if not pinged and now - heard > _LISTEN_PING:
                        await connection.send(_PING)
                        pinged = now
                    continue
                heard, pinged = monotonic(), 0.0
                message = parse_message(reply)
                if message is not None and message.type == "message":
                    self._on_event(_text(message.channel), _text(message.data))
        finally:
            self._listening = None
            connection.close()

    async def _check_primary(self, sentinel: RedisStore) -> None:
        if self.primary is None:
            return  # the first connection asks
        reply = await sentinel.execute(
            "SENTINEL", "get-master-addr-by-name", self.service, idempotent=True
        )
        if reply:
            address = (_text(reply[0]), int(reply[1]))
            if address != self.primary:
                self._move(address, "named by a sentinel on subscribing")

    def _on_event(self, channel: str, data: str) -> None:
        parts = data.split()
        if channel == "+switch-master":
            # <service> <old ip> <old port> <new ip> <new port>
            if len(parts) == 5 and parts[0] == self.service:
                self._move((parts[3], int(parts[4])), "+switch-master")
            return
        # <type> <name> <ip> <port> @ <service> <primary ip> <primary port>
        if "@" in parts and parts[parts.index("@") + 1 :][:1] == [self.service]:
            with self._state_lock:
                self._replicas_read_at = None

    # -- the rest --------------------------------------------------------------------------

    def pubsub(self, **kw: Any) -> AsyncSentinelPubSub:
        return AsyncSentinelPubSub(self, **kw)

    def channels(self, **kw: Any) -> AsyncChannels:
        """Channels in ``namespace`` (default: the URL's ``namespace`` parameter), over a
        PubSub that follows the primary."""
        return AsyncChannels(self, pubsub_class=AsyncSentinelPubSub, **kw)

    async def close(self) -> None:
        """Stop following the sentinels, close every connection (the store may be used
        again: it then finds the primary anew)."""
        with self._state_lock:
            self._listener_run += 1  # the runner's loop sees it and ends
            listener, self._listener = self._listener, None
        self._stopping.set()
        if listener is not None:
            await listener.stop(_STOP_TIMEOUT)
        for store in [*self._sentinels, *self._replica_stores.values()]:
            await store.close()
        with self._state_lock:
            detached, self._detached = self._detached, set()
        for connection in detached:
            connection.close()
        await super().close()
