"""Stores: the spec's ``Store`` and ``RemoteStore``, the ``RedisStore``, and ``create_store``."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, overload
from urllib.parse import urlsplit, urlunsplit

from .._backend.streams import make_ssl_context
from .._backend.synchronization import async_sleep
from .._protocol import ConnectionSettings
from ..client_cache import CacheStats
from ..command_table import DETACHED, PLAIN, REFUSED, SHARED, CommandInfo, command_for
from ..errors import (
    ConnectError,
    ConnectionError,
    ImproperlyConfigured,
    ResponseError,
    StatefulCommandError,
    TLSHandshakeError,
    response_error,
)
from ..registry import store_class
from ..resp import pack_command
from ..url import OPTIONS, build_url, coerce_option, mask_url, parse_url
from .channels import AsyncChannels
from .client_cache import AsyncClientCache
from .commands import AsyncRedisClient
from .commands_base import StrT
from .connection import AsyncConnection
from .lock import AsyncLock
from .pipeline import AsyncPipeline, run_transaction
from .pool import AsyncConnectionPool
from .pubsub import AsyncPubSub

if True:  # ASYNC
    from .multiplex import AsyncMultiplexer
from .scripts import AsyncScript

if TYPE_CHECKING:
    from ..server.embedded import AsyncEmbeddedServer

__all__ = ["PulsarStore", "RedisStore", "RemoteStore", "Store", "create_store", "start_store"]


# The overloads give the type checker the strings of the replies: str with
# decode_responses=True, bytes without (a decode_responses in the URL is not seen).
@overload
def create_store(url: str, *, decode_responses: Literal[True], **kw: Any) -> RemoteStore[str]: ...
@overload
def create_store(
    url: str, *, decode_responses: Literal[False] = ..., **kw: Any
) -> RemoteStore[bytes]: ...
@overload
def create_store(
    url: str, *, decode_responses: bool, **kw: Any
) -> RemoteStore[bytes] | RemoteStore[str]: ...
def create_store(url: str, **kw: Any) -> RemoteStore[Any]:
    """A new Store for ``url``; keyword arguments override the URL's values. Never connects."""
    parsed = parse_url(url)
    cls: type[RemoteStore] = store_class(parsed.scheme, RemoteStore)
    params: dict[str, Any] = dict(parsed.query)
    params.update(kw)
    database = params.pop("database", parsed.database)
    user = params.pop("user", parsed.user)
    password = params.pop("password", parsed.password)
    host: tuple[str, int] | str
    if parsed.path is not None:
        host = parsed.path
    else:
        host = (parsed.host or "127.0.0.1", parsed.port or cls.default_port)
    return cls(parsed.scheme, host, database=database, user=user, password=password, **params)


class Store:
    """Base class of data stores (the spec's ``Store``). Use ``create_store`` to make one."""

    default_port = 0

    def __init__(
        self,
        name: str,
        host: tuple[str, int] | str,
        database: str | int | None = None,
        user: str | None = None,
        password: str | None = None,
        encoding: str | None = None,
        **kw: Any,
    ) -> None:
        self._name = name
        self._host = host
        self._database = None if database is None or database == "" else str(database)
        self._user = user
        self._password = password
        self._encoding = encoding or "utf-8"
        self._urlparams: dict[str, Any] = {}
        self._init(**kw)
        self._dns = build_url(
            name,
            host,
            self._database,
            user,
            password,
            self._urlparams if encoding is None else {**self._urlparams, "encoding": encoding},
        )

    def _init(self, **kw: Any) -> None:
        """Process the extra parameters; by default they are kept as ``urlparams``."""
        self._urlparams = kw

    @property
    def name(self) -> str:
        """Store name: the URL scheme."""
        return self._name

    @property
    def database(self) -> str | None:
        """Database name/number associated with this store."""
        return self._database

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def dns(self) -> str:
        """The connection string rebuilt from the effective values."""
        return self._dns

    @property
    def urlparams(self) -> dict[str, Any]:
        """The parameters shown in the ``dns`` query string."""
        return self._urlparams

    def __repr__(self) -> str:
        return f"{type(self).__name__}({mask_url(self._dns)!r})"

    __str__ = __repr__

    async def database_create(self, dbname: str | None = None, **kw: Any) -> None:
        """Create a database; stores without that notion do nothing (as the spec says)."""
        return None

    def table_all(self, **kw: Any) -> dict[str, Any]:
        """Information about the table/collection mapping model: none by default."""
        return {}

    def encode_bytes(self, data: bytes | str) -> bytes:
        """The value to store for ``data``: bytes as they are, str in the store encoding."""
        if isinstance(data, str):
            return data.encode(self._encoding)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        raise TypeError(f"encode_bytes takes bytes or str, not {type(data).__name__}")

    def dencode_bytes(self, data: bytes | str) -> str:
        """Decode stored bytes ``data`` with the store encoding (the spec's spelling)."""
        if isinstance(data, str):
            return data
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data).decode(self._encoding)
        raise TypeError(f"dencode_bytes takes bytes or str, not {type(data).__name__}")

    decode_bytes = dencode_bytes


class RemoteStore(Store, Generic[StrT]):
    """Base class of stores reached over the network (the spec's ``RemoteStore``).

    Generic in the strings of its replies (``StrT``: bytes, or str with decode_responses),
    which its client and pipelines carry."""

    async def connect(self) -> AsyncConnection:
        """A new connection to the server, owned by the caller (close it when done)."""
        raise NotImplementedError

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Execute one command and return its reply."""
        raise NotImplementedError

    async def ping(self) -> bool:
        """True when the server answers; raises ConnectionError when it does not."""
        raise NotImplementedError

    def client(self) -> AsyncRedisClient[StrT]:
        """A client with typed command methods."""
        raise NotImplementedError(f"{type(self).__name__} has no command client")

    if TYPE_CHECKING:
        # for the type checker only (no run-time change): every store of commands has these
        # (RedisStore, ClusterStore), so that what create_store() returns types them
        def pipeline(
            self, transaction: bool = False, raise_on_error: bool = True
        ) -> AsyncPipeline[StrT]: ...

        async def transaction(
            self,
            func: Callable[[AsyncPipeline[StrT]], Any],
            *keys: Any,
            retries: int | None = None,
        ) -> list[Any]: ...

    def pubsub(self, **kw: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no pub/sub handler yet")

    def channels(self, **kw: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no channels handler yet")

    async def close(self) -> None:
        """Close all open connections."""
        raise NotImplementedError

    async def flush(self) -> None:
        """Remove every key of this store's database."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# parameters a Redis store keeps in ``urlparams`` without using them itself (Channels do)
_PASSED_THROUGH = frozenset({"namespace"})


class RedisStore(RemoteStore[StrT]):
    """A store speaking the Redis protocol (RESP2/RESP3) to redis-server or PulsarDS."""

    default_port = 6379
    # the pool's class: the sentinel store's moves to each new primary
    _pool_class: type[AsyncConnectionPool] = AsyncConnectionPool

    def _init(self, **kw: Any) -> None:
        # internal, not an option of the URL: commands every new connection sends with its
        # handshake (READONLY for a cluster store reading from a replica)
        setup: tuple[tuple[Any, ...], ...] = kw.pop("_connection_setup", ())
        OPTIONS.check_names(kw, self._name, _PASSED_THROUGH)
        self._urlparams = {k: (coerce_option(k, v) if k in OPTIONS else v) for k, v in kw.items()}
        options = {**OPTIONS.defaults, **self._urlparams}
        database = self._database
        if database is not None and not (database.isascii() and database.isdigit()):
            raise ImproperlyConfigured(
                f"the database of a {self._name} store is a number, got {database!r}"
            )
        host = self._host
        use_ssl = options["ssl"] or self._name == "rediss"
        if isinstance(host, str):
            if use_ssl:
                raise ImproperlyConfigured("TLS is not available over a unix socket")
            address, hostname, port, path = host, "", 0, host
        else:
            hostname, port = host
            if not 0 < port < 65536:
                raise ImproperlyConfigured(f"port {port} is out of range 1-65535")
            address, path = f"{hostname}:{port}", None
        ssl_options = [o.name for o in OPTIONS.bound_for("tls") if o.name in self._urlparams]
        if ssl_options and not use_ssl:
            raise ImproperlyConfigured(
                f"{', '.join(ssl_options)} need TLS: use rediss:// or ssl=true"
            )
        ssl_context = make_ssl_context(**OPTIONS.arguments(options, "tls")) if use_ssl else None
        self._settings = ConnectionSettings(
            address=address,
            host=hostname,
            port=port,
            path=path,
            database=int(database or 0),
            user=self._user,
            password=self._password,
            ssl_context=ssl_context,
            # decode_responses decodes replies with the store's encoding
            encoding=self._encoding if options["decode_responses"] else None,
            **OPTIONS.arguments(options, "connection"),
        )
        self._socket_timeout = self._settings.socket_timeout
        self._utf8 = self._encoding.replace("-", "").lower() == "utf8"
        self._embedded: AsyncEmbeddedServer | None = None  # the PulsarDS start_store made
        self._pool = self._pool_class(
            self._settings, **OPTIONS.arguments(options, "pool"), setup=setup
        )
        if True:  # ASYNC
            # concurrent plain commands share one connection (automatic pipelining); the
            # blocking variant has no event loop to share it on, and no such attribute
            self._multiplexer: AsyncMultiplexer | None = (
                AsyncMultiplexer(self._pool) if options["auto_pipelining"] else None
            )
        # client-side caching swaps in its own execute: a store without it pays nothing
        self._client_cache: AsyncClientCache | None = None
        if options["client_cache"]:
            self._client_cache = AsyncClientCache(self, options)
            self.execute = self._client_cache.execute  # type: ignore[method-assign]

    @property
    def client_cache(self) -> AsyncClientCache | None:
        """The client-side cache (``client_cache`` option), or None when it is off."""
        return self._client_cache

    def cache_stats(self) -> CacheStats | None:
        """Hits, misses, evictions, invalidations of the client-side cache (None: off)."""
        cache = self._client_cache
        return None if cache is None else cache.stats()

    @property
    def pool(self) -> AsyncConnectionPool:
        return self._pool

    @property
    def settings(self) -> ConnectionSettings:
        return self._settings

    async def connect(self) -> AsyncConnection:
        """A new connection, owned by the caller: opened within ``socket_connect_timeout``,
        retries included (see the pool's ``connect``)."""
        return await self._pool.connect()

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Send one command, return its reply (shaped by ``callback=fn`` when given).

        An error reply raises ResponseError (or a subclass by its code) and leaves the
        connection usable. A command is re-sent on another connection only when it cannot
        have reached the server, when it only reads (the command table says so), or when
        ``idempotent=True`` says re-sending is harmless (``idempotent=False`` forbids it).
        Commands that would change the state of a shared connection (SELECT, MULTI,
        SUBSCRIBE...) raise StatefulCommandError, naming what to use instead.

        Time bound: one attempt waits at most ``pool_timeout`` for a free connection,
        ``socket_connect_timeout`` to open one when none is idle (every connect attempt,
        handshake and backoff included: see the pool's ``connect``), and the command's
        read timeout for its reply (``socket_timeout``; a blocking command's own timeout
        plus that), while a write that makes no progress fails after ``socket_timeout``.
        Re-sending after a connection error (only as above; never after a failed TLS
        handshake) adds at most ``retries`` more attempts, each after its backoff
        (``retry_backoff`` doubled each time, at most 1s).
        """
        packed = pack_command(*args) if self._utf8 else pack_command(*args, encoding=self._encoding)
        try:
            info = PLAIN[args[0]]  # command_for's first lookup, without the call
        except (KeyError, TypeError):
            info = command_for(args)
        timeout = self._socket_timeout
        if True:  # ASYNC
            multiplexer = self._multiplexer
            if info.route == SHARED and multiplexer is not None:
                try:
                    reply = await multiplexer.execute(packed, timeout)
                except ConnectionError as exc:
                    if not options.get("idempotent", info.retry_safe):
                        raise
                    # not a ConnectError: its bytes were written, it may have been applied
                    sent = not isinstance(exc, ConnectError)
                    reply = await self._execute_again(packed, timeout, exc, True, sent)
            else:
                reply = await self._execute_pooled(info, args, packed, timeout, options)
        else:  # SYNC
            reply = self._execute_pooled(info, args, packed, timeout, options)
        if reply.__class__ is ResponseError:
            raise response_error(reply)
        if options:
            callback = options.get("callback")
            if callback is not None:
                return callback(reply)
        return reply

    async def _execute_pooled(
        self,
        info: CommandInfo,
        args: tuple[Any, ...],
        packed: bytes,
        timeout: float | None,
        options: Any,
    ) -> Any:
        """One command on a pooled connection of its own."""
        route = info.route
        if route == REFUSED:
            raise StatefulCommandError(info.refusal())
        if info.timeout is not None:
            timeout = info.read_timeout(args, timeout)
        # A ConnectionError closed the connection, so the lease drops it either way; any
        # other exception discards it too (its reply may still arrive).
        # (a failure to open it, in the lease, is a ConnectError: raised as it is)
        async with self._pool.lease() as connection:
            try:
                await connection.send(packed)
            except ConnectionError as exc:
                error = exc  # nothing complete reached the server: safe to send again
                sent = False
            else:
                try:
                    reply = await connection.read_reply(timeout)
                except ConnectionError as exc:
                    if not options.get("idempotent", info.retry_safe):
                        raise
                    error = exc
                    sent = True
                else:
                    if route == DETACHED:
                        # HELLO, RESET, QUIT: their effect ends with this connection
                        connection.close()
                    return reply
        retryable = sent or options.get("idempotent", info.retry_safe)
        return await self._execute_again(packed, timeout, error, retryable, sent)

    async def _execute_again(
        self,
        packed: bytes,
        timeout: float | None,
        error: ConnectionError,
        retryable: bool,
        sent: bool,
    ) -> Any:
        """Re-send after a connection failure, with backoff, on fresh connections. A command
        that must not run twice (not ``retryable``) is sent again only while no attempt
        wrote it whole. ``sent``: an attempt did (it may have been applied), so a last
        failure to connect is raised as a plain ConnectionError, not a ConnectError."""
        if isinstance(error, TLSHandshakeError):
            raise error  # a wrong port or certificate: trying again cannot help
        pool = self._pool
        for attempt in range(pool.retries):
            await async_sleep(min(pool.retry_backoff * 2**attempt, 1.0))
            try:
                async with pool.lease() as connection:
                    try:
                        await connection.send(packed)
                    except ConnectionError as exc:
                        error = exc  # not written whole: safe to send again
                        continue
                    try:
                        return await connection.read_reply(timeout)
                    except ConnectionError as exc:
                        if not retryable:
                            raise  # it may have been applied: never sent a second time
                        error = exc
                        sent = True
            except ConnectError as exc:
                if not sent:
                    raise  # no attempt reached the server
                raise ConnectionError(
                    f"{exc}, after an attempt that may have reached the server"
                ) from exc
        raise error

    async def ping(self) -> bool:
        await self.execute("PING")
        return True

    def client(self) -> AsyncRedisClient[StrT]:
        return AsyncRedisClient(self)

    def pipeline(
        self, transaction: bool = False, raise_on_error: bool = True
    ) -> AsyncPipeline[StrT]:
        """Commands queued and sent in one round trip by ``commit()`` (MULTI/EXEC if
        ``transaction``)."""
        return AsyncPipeline(self, transaction=transaction, raise_on_error=raise_on_error)

    async def transaction(
        self,
        func: Callable[[AsyncPipeline[StrT]], Any],
        *keys: Any,
        retries: int | None = None,
    ) -> list[Any]:
        """Run ``func(pipe)`` with ``keys`` watched, again on WatchError (``retries`` times)."""
        return await run_transaction(self, func, keys, retries)

    def register_script(self, script: str | bytes) -> AsyncScript:
        """A callable running ``script`` by EVALSHA (loading it on NOSCRIPT)."""
        return AsyncScript(self, script)

    def lock(
        self,
        name: Any,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> AsyncLock:
        """A distributed lock named ``name`` (expires after ``timeout`` seconds if set)."""
        return AsyncLock(
            self,
            name,
            timeout=timeout,
            sleep=sleep,
            blocking=blocking,
            blocking_timeout=blocking_timeout,
        )

    def pubsub(self, **kw: Any) -> AsyncPubSub:
        return AsyncPubSub(self, **kw)

    def channels(self, **kw: Any) -> AsyncChannels:
        """Channels in ``namespace`` (default: the URL's ``namespace`` parameter)."""
        return AsyncChannels(self, **kw)

    async def flush(self) -> None:
        await self.execute("FLUSHDB")

    async def close(self) -> None:
        if True:  # ASYNC
            if self._multiplexer is not None:
                self._multiplexer.close()
        if self._client_cache is not None:
            self._client_cache.close()
        self._pool.close()
        server, self._embedded = self._embedded, None
        if server is not None:
            await server.stop()


class PulsarStore(RedisStore[StrT]):
    """A store on PulsarDS, the embedded Redis-compatible server (``pulsar://``)."""

    default_port = 6410


LOOPBACK_HOSTS = frozenset({"localhost", "::1"})


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _with_port(url: str, port: int) -> str:
    """``url`` with its port replaced (port 0 asked for a free one)."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host = hostport.rsplit(":", 1)[0] if not hostport.endswith("]") else hostport
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:{port}"))


@overload
async def start_store(
    url: str,
    server_options: dict[str, Any] | None = None,
    *,
    decode_responses: Literal[True],
    **kw: Any,
) -> RemoteStore[str]: ...
@overload
async def start_store(
    url: str,
    server_options: dict[str, Any] | None = None,
    *,
    decode_responses: Literal[False] = ...,
    **kw: Any,
) -> RemoteStore[bytes]: ...
@overload
async def start_store(
    url: str, server_options: dict[str, Any] | None = None, *, decode_responses: bool, **kw: Any
) -> RemoteStore[bytes] | RemoteStore[str]: ...
async def start_store(
    url: str, server_options: dict[str, Any] | None = None, **kw: Any
) -> RemoteStore[Any]:
    """Like ``create_store``, except that for a ``pulsar://`` URL on this machine where no
    server answers it first starts a PulsarDS there (port 0 picks a free port, shown in the
    store's ``dns``). Closing the store stops that server.

    ``server_options`` are PulsarDS settings (``dir``, ``save``, ``appendonly``, ...); by
    default the embedded server keeps nothing on disk. A password in the URL becomes the
    server's ``requirepass``.
    """
    parsed = parse_url(url)
    host = parsed.host or "127.0.0.1"
    if parsed.scheme != "pulsar" or parsed.path is not None or not _is_loopback(host):
        return create_store(url, **kw)
    port = PulsarStore.default_port if parsed.port is None else parsed.port
    if port:
        probe = create_store(url, **{**kw, "retries": 0, "socket_connect_timeout": 2})
        try:
            await probe.ping()
            return create_store(url, **kw)
        except ConnectionError:
            pass  # nothing listens: start one below
        except ResponseError:
            return create_store(url, **kw)  # a server answered (NOAUTH and the like)
        finally:
            await probe.close()
    # imported here: a client that never starts a server never loads PulsarDS
    from ..server.embedded import AsyncEmbeddedServer

    settings: dict[str, Any] = {"bind": host, "port": port, "save": []}
    if parsed.password:
        settings["requirepass"] = parsed.password
    settings.update(server_options or {})
    try:
        server = await AsyncEmbeddedServer.start(settings)
    except OSError as exc:
        raise ConnectionError(f"cannot start PulsarDS on {host}:{port}: {exc}") from exc
    made = create_store(_with_port(url, server.port), **kw)
    assert isinstance(made, RedisStore)
    made._embedded = server
    return made
