"""Client-side caching of one RedisStore: the reads, the invalidation connection, the rules.

The sans-IO cache and the list of commands it may answer are ``store.client_cache``; this
is the I/O around them. A store with ``client_cache`` on has its ``execute`` replaced by
this module's ``execute`` (a store without it pays nothing: its method is untouched).

One invalidation connection per store (per node on a Cluster): in RESP3 it receives the
server's ``invalidate`` pushes, in RESP2 it is subscribed to ``__redis__:invalidate``. Every
data connection of the pool sends ``CLIENT TRACKING ON REDIRECT <its id>`` with its
handshake, so invalidations never reach a data connection (where an unread push could be
taken for a reply). With ``client_cache_bcast`` the invalidation connection tracks prefixes
itself (``BCAST``) and data connections track nothing.

Never a stale value once the server said the key changed:

* before a hit is served, the invalidations already readable on the invalidation socket
  are applied (a non-blocking read: ``read_now``; in store.aio the event loop also applies
  them as they arrive);
* a read takes a ticket before it is sent: an invalidation of its key arriving before its
  reply voids it, and the reply is then not stored;
* an entry read on a data connection (default mode) is served only while that connection
  is open: the server tracks keys per connection, and forgets them with it;
* the invalidation connection lost (closed, killed, another event loop): the cache is
  emptied, caching stops, the pool drops its connections (their tracking redirects to a
  client that is gone) and the next cacheable command opens a new one; FLUSHALL/FLUSHDB
  (the server's null invalidation, or the store's own) empty it too;
* the store's own writes drop the entries of their keys when they are acknowledged.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import replace
from time import monotonic
from typing import TYPE_CHECKING, Any

from .._backend.synchronization import AsyncThreadLock
from ..client_cache import CACHEABLE, MISS, CacheStats, ClientCache
from ..command_table import PLAIN, command_for
from ..errors import ConnectionError, ResponseError, TimeoutError, response_error
from ..resp import NOT_ENOUGH, pack_command
from .connection import AsyncConnection

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["DEFAULT_ENTRIES", "INVALIDATE_CHANNEL"]

DEFAULT_ENTRIES = 10_000  # client_cache=true
INVALIDATE_CHANNEL = b"__redis__:invalidate"
_FLUSHES = frozenset({"flushall", "flushdb"})
# pause before opening a new invalidation connection after a failure to open one
_RETRY_PAUSE = 1.0
_BROKEN = (b"tracking-redir-broken", "tracking-redir-broken")


_caches: weakref.WeakSet[AsyncClientCache] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # the invalidation connection is the parent's: reading it would take its messages
    for cache in list(_caches):
        cache.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _is_connected(connection: AsyncConnection) -> bool:
    """Whether the data connection that read an entry is still open at both ends: the
    server forgets what a connection tracked when it closes it (CLIENT KILL, timeout)."""
    stream = connection.stream
    return stream is not None and not stream.peer_closed()


def _redirect_broken(reply: Any) -> bool:
    """The server's push saying our invalidation connection is gone, read on a RESP3 data
    connection in place of a reply (a push and an array look the same to the reader)."""
    return (
        isinstance(reply, list)  # hiredis: a PushNotification, a list subclass
        and len(reply) == 2
        and reply[0] in _BROKEN
        and reply[1].__class__ is int
    )


class AsyncClientCache:
    """The client-side cache of one store; ``execute`` replaces the store's."""

    def __init__(self, store: RedisStore, options: dict[str, Any]) -> None:
        size = options["client_cache"]
        self.cache = ClientCache(
            max_entries=DEFAULT_ENTRIES if size is True else int(size),
            max_bytes=options["client_cache_max_bytes"],
            ttl=options["client_cache_ttl"],
            owner_alive=_is_connected,
        )
        self.bcast: bool = options["client_cache_bcast"]
        prefixes = options["client_cache_prefixes"]
        self.prefixes: tuple[str, ...] = tuple(prefixes.split(",")) if prefixes else ()
        # BCAST: only keys under a prefix are invalidated, so only those are cached
        self._prefix_bytes = tuple(p.encode(store.encoding) for p in self.prefixes)
        self._execute = store.execute  # the store's own, for what the cache does not answer
        self._pool = store.pool
        if True:  # ASYNC
            self._multiplexer = store._multiplexer
        self._base_setup = self._pool.setup
        settings = store.settings
        self._socket_timeout = settings.socket_timeout
        # the invalidation connection reads keys as bytes, whatever decode_responses says
        self._settings = replace(settings, encoding=None)
        self._encoding = store.encoding
        self._utf8 = store._utf8
        self._lock = AsyncThreadLock()
        self._connection: AsyncConnection | None = None
        self.client_id: int | None = None  # the invalidation connection's CLIENT ID
        self.active = False
        # connections of the pool from this generation on carry our tracking setup
        self._generation = -1
        self._opening = False
        self._retry_at = 0.0
        self.connections_lost = 0  # invalidation connections lost (counted for the tests)
        _caches.add(self)

    def stats(self) -> CacheStats:
        with self._lock:
            return self.cache.stats()

    # -- the command path ------------------------------------------------------------------

    async def execute(self, *args: Any, **options: Any) -> Any:
        """The store's execute, answering cacheable reads from the cache when it can."""
        try:
            index = CACHEABLE.get(args[0])
        except (TypeError, IndexError):
            index = None
        if index is None or len(args) <= index:
            if self.active:
                self._drain()  # the sooner a lost invalidation connection is seen
            reply = await self._execute(*args, **options)
            if args:
                self._after(args)
            return reply
        if not self.active:
            await self._start()
            if not self.active:
                return await self._execute(*args, **options)
        key = self._key(args[index])
        if key is None or (self._prefix_bytes and not key.startswith(self._prefix_bytes)):
            return await self._execute(*args, **options)
        packed = pack_command(*args) if self._utf8 else pack_command(*args, encoding=self._encoding)
        cache = self.cache
        lock = self._lock
        with lock:
            self._drain_locked()
            reply = cache.get(packed) if self.active else MISS
            if reply is MISS:
                ticket = cache.reserve(key)
                generation = self._generation
        if reply is not MISS:
            callback = options.get("callback") if options else None
            return reply if callback is None else callback(reply)
        try:
            reply, connection = await self._read(packed)
        except (ConnectionError, TimeoutError):
            with lock:
                cache.release(ticket)
            # the store's own path re-sends a read after a connection error
            return await self._execute(*args, **options)
        except BaseException:
            with lock:
                cache.release(ticket)
            raise
        with lock:
            if (
                reply.__class__ is ResponseError
                or not self.active
                or (not self.bcast and connection.generation < generation)
            ):
                cache.release(ticket)
            else:
                cache.put(ticket, packed, reply, None if self.bcast else connection)
        if reply.__class__ is ResponseError:
            raise response_error(reply)
        callback = options.get("callback") if options else None
        return reply if callback is None else callback(reply)

    def _key(self, arg: Any) -> bytes | None:
        """The key as the server names it in invalidations (None: not cached)."""
        cls = arg.__class__
        if cls is bytes:
            return arg  # type: ignore[no-any-return]
        if cls is str:
            return arg.encode(self._encoding)  # type: ignore[no-any-return]
        if cls is int:
            return str(arg).encode()
        if isinstance(arg, (bytearray, memoryview)):
            return bytes(arg)
        return None

    async def _read(self, packed: bytes) -> tuple[Any, AsyncConnection]:
        """The reply of a cacheable read, and the data connection that carried it."""
        timeout = self._socket_timeout
        if True:  # ASYNC
            multiplexer = self._multiplexer
            if multiplexer is not None:
                reply, connection = await multiplexer.execute_owned(packed, timeout)
                if connection.protocol == 3 and _redirect_broken(reply):
                    # a push in place of a reply: the shared connection's replies are off by
                    # one from here on; end it (the store's path sends the read again)
                    self._lost()
                    connection.close()
                    raise ConnectionError("invalidation connection lost")
                return reply, connection
        async with self._pool.lease() as connection:
            await connection.send(packed)
            reply = await connection.read_reply(timeout)
            if connection.protocol == 3 and _redirect_broken(reply):
                self._lost()
                reply = await connection.read_reply(timeout)  # the reply itself
            return reply, connection

    def _after(self, args: tuple[Any, ...]) -> None:
        """After one of the store's own commands was acknowledged: drop the entries of
        the keys it wrote (the server's invalidation may not have been read yet)."""
        try:
            info = PLAIN[args[0]]
        except (KeyError, TypeError):
            info = command_for(args)
        if info.name in _FLUSHES:
            with self._lock:
                self.cache.invalidate_all()
            return
        if not info.write:
            return
        keys = [self._key(key) for key in info.keys(args)]
        with self._lock:
            self.cache.invalidate([key for key in keys if key is not None])

    # -- the invalidation connection -------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        """Apply the invalidations readable now (under the lock: one reader at a time)."""
        connection = self._connection
        if connection is None:
            return
        stream = connection.stream
        if stream is None:
            self._lost_locked()
            return
        if True:  # ASYNC
            if not stream.loop.is_running():
                self._lost_locked()  # of an event loop that is gone
                return
        while True:  # until nothing is left: a read takes at most 64 KiB
            try:
                data = stream.read_now()
            except ConnectionError:
                self._lost_locked()
                return
            if not data:
                return
            self._received_locked(data)
            if self._connection is not connection:
                return  # lost on garbage

    def _received_locked(self, data: bytes) -> None:
        connection = self._connection
        if connection is None:
            return
        reader = connection.reader
        cache = self.cache
        try:
            reader.feed(data)
            message = reader.gets()
            while message is not NOT_ENOUGH:
                if isinstance(message, list):  # hiredis: a PushNotification
                    if len(message) == 2 and message[0] == b"invalidate":
                        cache.invalidate(message[1])
                    elif (
                        len(message) == 3
                        and message[0] == b"message"
                        and message[1] == INVALIDATE_CHANNEL
                    ):
                        cache.invalidate(message[2])
                message = reader.gets()
        except Exception:
            self._lost_locked()  # garbage: nothing it says can be trusted any more

    if True:  # ASYNC

        def _on_data(self, data: bytes) -> None:
            self._received_locked(data)

        def _on_lost(self, exc: BaseException) -> None:
            self._lost()

    def _lost(self) -> None:
        with self._lock:
            self._lost_locked()

    def _lost_locked(self) -> None:
        """The invalidation connection is gone: empty the cache, stop caching, and make
        the data connections set up again without the redirect to a client that is gone."""
        connection, self._connection = self._connection, None
        if not self.active and connection is None:
            return
        self.active = False
        self.client_id = None
        self.connections_lost += 1
        self.cache.invalidate_all()
        if connection is not None:
            if True:  # ASYNC
                stream = connection.stream
                if stream is not None:
                    stream.set_receiver(None, None)
            connection.close()
        if True:  # ASYNC
            multiplexer = self._multiplexer
            shared = None if multiplexer is None else multiplexer.shared
            if shared is not None and shared.connection.protocol == 3 and not self.bcast:
                # the server tells its tracking connections of the loss by a push, which
                # the shared connection would take for the reply of a command in flight:
                # those fail (ConnectionError) rather than get another command's reply
                shared.end(
                    ConnectionError("the client-side cache's invalidation connection was lost")
                )
        self._retire_connections(self._base_setup)

    def _retire_connections(self, setup: tuple[tuple[Any, ...], ...]) -> None:
        pool = self._pool
        pool.setup = setup
        pool.close()  # idle ones now; those in use when they come back
        if True:  # ASYNC
            if self._multiplexer is not None:
                self._multiplexer.close()
        self._generation = pool.generation

    async def _start(self) -> None:
        """Open the invalidation connection and switch the pool to tracking (one caller
        at a time; the others go on uncached meanwhile)."""
        with self._lock:  # one opener, also between threads
            if self._opening or monotonic() < self._retry_at:
                return
            self._opening = True
        connection = AsyncConnection(self._settings)
        try:
            await connection.connect()
            client_id = await connection.execute("CLIENT", "ID")
            resp2 = connection.protocol == 2
            if self.bcast:
                tracking: list[Any] = ["CLIENT", "TRACKING", "ON", "BCAST"]
                for prefix in self.prefixes:
                    tracking += ["PREFIX", prefix]
                if resp2:  # a RESP2 connection gets them as messages of the channel
                    tracking += ["REDIRECT", client_id]
                await connection.execute(*tracking)
            if resp2:
                confirmation = await connection.request(
                    pack_command("SUBSCRIBE", INVALIDATE_CHANNEL), self._socket_timeout
                )
                if confirmation.__class__ is ResponseError:
                    raise response_error(confirmation)
            if True:  # ASYNC
                stream = connection.stream
                if stream is None:
                    raise ConnectionError("invalidation connection closed")
                stream.set_receiver(self._on_data, self._on_lost)
        except (ConnectionError, TimeoutError, ResponseError):
            connection.close()
            self._retry_at = monotonic() + _RETRY_PAUSE
            return
        finally:
            self._opening = False
        setup = self._base_setup
        if not self.bcast:
            setup += (("CLIENT", "TRACKING", "ON", "REDIRECT", client_id),)
        with self._lock:
            self._connection = connection
            self.client_id = client_id
            self.cache.invalidate_all()
            self._retire_connections(setup)
            self.active = True

    def forget(self) -> None:
        """After a fork, in the child: drop the parent's invalidation connection without
        touching it (no close: the socket is the parent's too), and the cache with it."""
        self._lock = AsyncThreadLock()  # another thread may have held it at the fork
        self._connection = None
        self._opening = False
        self.active = False
        self.client_id = None
        self.cache.invalidate_all()
        self._pool.setup = self._base_setup

    def close(self) -> None:
        """Close the invalidation connection and empty the cache (the store is closing);
        the next cacheable command opens a new one."""
        with self._lock:
            connection, self._connection = self._connection, None
            self.active = False
            self.client_id = None
            self.cache.invalidate_all()
            self._pool.setup = self._base_setup
            if connection is not None:
                if True:  # ASYNC
                    stream = connection.stream
                    if stream is not None:
                        stream.set_receiver(None, None)
                connection.close()
