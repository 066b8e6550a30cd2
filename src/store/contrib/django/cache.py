"""``StoreCache``: a Django cache backend on ``store.sync`` (sync API) and ``store.aio``
(async API, natively: no thread, no ``sync_to_async``).

LOCATION is any store URL (``redis://``, ``rediss://``, ``unix://``, ``pulsar://``), or a
list of them, or one string of them separated by ``,`` or ``;``: the first server takes
the writes, the others share the reads (as Django's RedisCache).

OPTIONS hold the store options (lower case, as ``create_store`` takes them:
``max_connections``, ``socket_timeout``, ...; also ``db``, ``username``, ``password``)
and the backend's own (upper case):

``SERIALIZER``
    ``"pickle"`` (default), ``"json"``, ``"msgpack"`` or a dotted path to a class with
    ``dumps``/``loads``.
``COMPRESSOR``, ``COMPRESS_MIN_LENGTH``, ``COMPRESS_LEVEL``
    None (default), ``"zlib"`` or ``"zstd"``; values of at least ``COMPRESS_MIN_LENGTH``
    bytes (default 1024) are compressed when that makes them smaller.
``IGNORE_EXCEPTIONS``, ``LOG_IGNORED_EXCEPTIONS_EVERY``, ``DOWN_RETRY_INTERVAL``
    When true, a server that cannot be reached (ConnectionError, TimeoutError) makes reads
    miss and drops writes, instead of raising; one warning per
    ``LOG_IGNORED_EXCEPTIONS_EVERY`` seconds (default 60; None: never) goes to the logger
    ``store.contrib.django``, naming the server without its password. After such a
    failure the servers count as down for ``DOWN_RETRY_INTERVAL`` seconds (default 1; 0:
    never): calls miss at once instead of each waiting for its own connect attempts and
    retries, and the first call after the interval tries the server again.
``REVERSE_KEY_FUNCTION``
    Turns a stored key back into the caller's key for ``iter_keys``/``keys`` (default: the
    inverse of Django's default key function).
``SCAN_COUNT``
    The COUNT of each SCAN of ``iter_keys``, ``delete_pattern`` and ``clear`` (default 1000).

Integers (not bools) are stored as ASCII digits, so that ``incr`` is one atomic INCRBY
(in a Lua script that first checks that the key exists) and other clients read them;
everything else goes through the codec of ``store.contrib.codecs``. A value the codec
cannot read raises ``store.contrib.codecs.UnreadableValueError`` (a ValueError) naming the
key.

``clear()`` sends FLUSHDB when the cache has no KEY_PREFIX (everything in the database
goes); with a KEY_PREFIX it deletes only the keys of that prefix (every version), by SCAN
and UNLINK.

All cache objects of one (LOCATION, store options) in a process share one ``store.sync``
store (Django makes a cache object per thread), so connections are bounded by
``max_connections``, not by threads; the async methods use one ``store.aio`` store per
event loop. ``close()`` (called by Django after every request) keeps them; they are closed
when the process exits, or by ``close_stores()``.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import random
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from time import monotonic
from typing import Any

from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    MEMCACHE_MAX_KEY_LENGTH,
    BaseCache,
    default_key_func,
)
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ... import aio, sync
from ...errors import ConnectionError as StoreConnectionError
from ...errors import ImproperlyConfigured as StoreImproperlyConfigured
from ...errors import TimeoutError as StoreTimeoutError
from ...url import OPTIONS as STORE_OPTIONS
from ...url import mask_url
from ..codecs import Codec

__all__ = ["StoreCache", "close_stores"]

logger = logging.getLogger("store.contrib.django")

# failures that IGNORE_EXCEPTIONS turns into misses: the server cannot be reached or did
# not answer in time (PoolExhaustedError is a TimeoutError). Error replies still raise.
_UNREACHABLE = (StoreConnectionError, StoreTimeoutError)


class _MarkedDown(StoreConnectionError):
    """Raised instead of trying a server found unreachable less than DOWN_RETRY_INTERVAL
    seconds ago (IGNORE_EXCEPTIONS only): the caller misses at once."""


BACKEND_OPTIONS = frozenset(
    {
        "SERIALIZER",
        "COMPRESSOR",
        "COMPRESS_MIN_LENGTH",
        "COMPRESS_LEVEL",
        "IGNORE_EXCEPTIONS",
        "LOG_IGNORED_EXCEPTIONS_EVERY",
        "DOWN_RETRY_INTERVAL",
        "REVERSE_KEY_FUNCTION",
        "SCAN_COUNT",
    }
)
# redis-py's names (Django's RedisCache passes OPTIONS to it) for create_store's keywords
_STORE_ALIASES = {"db": "database", "username": "user", "password": "password"}

# KEYS[1]; ARGV[1] the delta. nil (-> ValueError) when the key is missing; INCRBY's own
# error when the value is not an integer. One round trip, atomic.
INCR_SCRIPT = """
if redis.call('exists', KEYS[1]) == 0 then return false end
return redis.call('incrby', KEYS[1], ARGV[1])
"""
# touch(key, None): PERSIST answers 0 for a key that exists without expiry too
PERSIST_SCRIPT = """
if redis.call('persist', KEYS[1]) == 1 then return 1 end
return redis.call('exists', KEYS[1])
"""
# incr_version: RENAME keeps the value and its expiry; 0 when the key is missing
RENAME_SCRIPT = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('rename', KEYS[1], KEYS[2])
return 1
"""

# Django's memcached_error_chars_re: keys it warns about (validate_key)
_MEMCACHED_UNSAFE = re.compile(r"[\x00-\x20\x7f]").search
_GLOB_SPECIAL = re.compile(r"([*?[\]\\])")
# a separator between URLs: "," or ";" followed by the next URL's scheme, so that
# commas inside a query string or a password stay where they are
_LOCATION_SEPARATOR = re.compile(r"[,;](?=\s*[A-Za-z][A-Za-z0-9+.-]*://)")


def glob_escape(text: str) -> str:
    """``text`` matched literally by SCAN MATCH."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class _Bundle:
    """The stores of one LOCATION for one variant (sync, or aio on one event loop)."""

    __slots__ = ("incr", "persist", "reads", "rename", "write")

    def __init__(self, stores: Sequence[Any]) -> None:
        self.write = stores[0]
        self.reads = list(stores[1:]) or [self.write]
        self.incr = self.write.register_script(INCR_SCRIPT)
        self.persist = self.write.register_script(PERSIST_SCRIPT)
        self.rename = self.write.register_script(RENAME_SCRIPT)

    def read(self) -> Any:
        reads = self.reads
        return reads[0] if len(reads) == 1 else random.choice(reads)

    @property
    def stores(self) -> list[Any]:
        return [self.write, *(store for store in self.reads if store is not self.write)]


def _make_stores(
    create: Callable[..., Any], kind: type, locations: Sequence[str], options: dict[str, Any]
) -> list[Any]:
    stores = []
    for location in locations:
        try:
            store = create(location, **options)
        except StoreImproperlyConfigured as exc:
            raise ImproperlyConfigured(
                f"StoreCache LOCATION {mask_url(location)!r}: {exc}"
            ) from None
        if not isinstance(store, kind):
            raise ImproperlyConfigured(
                f"StoreCache needs a Redis-protocol store; {mask_url(location)!r} makes a "
                f"{type(store).__name__}"
            )
        stores.append(store)
    return stores


def _abandon(store: Any) -> None:
    """Close an aio store whose event loop is closed (or gone): its close() awaits nothing
    for a store that started no server, so it runs to its end without a loop."""
    coroutine = store.close()
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()


class _Servers:
    """What one (LOCATION, store options) has in this process: one sync store per URL, one
    aio store per URL and event loop, and the throttle of the ignored-failure log."""

    def __init__(self, locations: Sequence[str], store_options: dict[str, Any]) -> None:
        self.locations = list(locations)
        self.addresses = [mask_url(location) for location in locations]
        self._store_options = store_options
        self.sync = _Bundle(
            _make_stores(sync.create_store, sync.RedisStore, locations, store_options)
        )
        self._lock = threading.Lock()
        # a store.aio store serves one event loop at a time (its pool re-binds to the caller's
        # loop and drops the other's connections), so each loop gets its own
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Bundle] = (
            weakref.WeakKeyDictionary()
        )
        self._last_logged = float("-inf")
        # monotonic() time until which IGNORE_EXCEPTIONS callers skip these servers
        self.down_until = 0.0

    def for_loop(self, loop: asyncio.AbstractEventLoop) -> _Bundle:
        bundle = self._by_loop.get(loop)
        if bundle is None:
            with self._lock:
                bundle = self._by_loop.get(loop)
                if bundle is None:
                    self._drop_closed_loops()
                    stores = _make_stores(
                        aio.create_store, aio.RedisStore, self.locations, self._store_options
                    )
                    bundle = self._by_loop[loop] = _Bundle(stores)
        return bundle

    def _drop_closed_loops(self) -> None:
        # a bound pool refers to its loop, so the weak keys alone never free a closed one
        for loop, bundle in list(self._by_loop.items()):
            if loop.is_closed():
                del self._by_loop[loop]
                for store in bundle.stores:
                    _abandon(store)

    def report(self, exc: BaseException, what: str, every: float | None, down_for: float) -> None:
        """Log an ignored failure, at most once per ``every`` seconds for these servers,
        and count them as down for ``down_for`` seconds."""
        now = monotonic()
        if down_for and not isinstance(exc, _MarkedDown):
            self.down_until = now + down_for
        if every is None:
            return
        with self._lock:
            if now - self._last_logged < every:
                return
            self._last_logged = now
        # the store's messages name host:port or the socket path, never the password
        logger.warning(
            "cache server %s unreachable, %s (IGNORE_EXCEPTIONS; next report in %gs at the "
            "earliest): %s: %s",
            ", ".join(self.addresses),
            what,
            every,
            type(exc).__name__,
            exc,
        )

    def close(self) -> None:
        for store in self.sync.stores:
            store.close()
        with self._lock:
            bundles = list(self._by_loop.values())
            self._by_loop.clear()
        for bundle in bundles:
            for store in bundle.stores:
                _abandon(store)


_registry: dict[Any, _Servers] = {}
_registry_lock = threading.Lock()


def _freeze(value: Any) -> Any:
    """A hashable stand-in for an option value (dicts and lists included)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _servers_for(locations: Sequence[str], store_options: dict[str, Any]) -> _Servers:
    key = (tuple(locations), _freeze(store_options))
    servers = _registry.get(key)
    if servers is None:
        with _registry_lock:
            servers = _registry.get(key)
            if servers is None:
                servers = _registry[key] = _Servers(locations, store_options)
    return servers


def close_stores() -> None:
    """Close every store the cache backends of this process opened (at exit; or in
    tests). Cache objects made before keep working: their stores reconnect on use."""
    with _registry_lock:
        servers = list(_registry.values())
        _registry.clear()
    for entry in servers:
        entry.close()


atexit.register(close_stores)


def _after_fork_in_child() -> None:
    # another thread may have held a lock when the process forked, and the parent's event
    # loops do not run here (the pools forget the parent's sockets by themselves)
    global _registry_lock
    _registry_lock = threading.Lock()
    for servers in _registry.values():
        servers._lock = threading.Lock()
        servers._by_loop.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _locations(server: Any) -> list[str]:
    if isinstance(server, str):
        parts = _LOCATION_SEPARATOR.split(server)
    elif isinstance(server, (list, tuple)):
        parts = list(server)
    else:
        raise ImproperlyConfigured(
            f"StoreCache LOCATION is a URL or a list of URLs, not {type(server).__name__}"
        )
    if not all(isinstance(part, str) for part in parts):
        raise ImproperlyConfigured("StoreCache LOCATION: every entry of the list is a URL string")
    locations = [part.strip() for part in parts if part.strip()]
    if not locations:
        raise ImproperlyConfigured(
            "StoreCache needs a LOCATION: a store URL such as redis://127.0.0.1:6379/0"
        )
    return locations


def _split_options(options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the backend's options, create_store's keywords); unknown names raise."""
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"StoreCache OPTIONS is a dict, not {type(options).__name__}")
    own: dict[str, Any] = {}
    store_options: dict[str, Any] = {}
    for name, value in options.items():
        if name in BACKEND_OPTIONS:
            own[name] = value
        elif name in STORE_OPTIONS:
            store_options[name] = value
        elif name in _STORE_ALIASES:
            store_options[_STORE_ALIASES[name]] = value
        else:
            raise ImproperlyConfigured(
                f"StoreCache: unknown option {name!r} in OPTIONS; the backend's options are "
                f"{', '.join(sorted(BACKEND_OPTIONS))}; the store's are "
                f"{', '.join(sorted([*STORE_OPTIONS, *_STORE_ALIASES]))}"
            )
    return own, store_options


def _seconds_or_none(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ImproperlyConfigured(f"StoreCache {name} is a number of seconds >= 0 or None")
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImproperlyConfigured(f"StoreCache {name} is an integer >= 1, got {value!r}")
    return value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StoreCache(BaseCache):  # type: ignore[misc]
    """Django's cache API on a Redis-protocol server (see the module's docstring)."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(params)
        own, store_options = _split_options(params.get("OPTIONS") or {})
        try:
            self._codec = Codec(
                own.get("SERIALIZER", "pickle"),
                own.get("COMPRESSOR"),
                own.get("COMPRESS_MIN_LENGTH", 1024),
                own.get("COMPRESS_LEVEL"),
            )
        except StoreImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"StoreCache OPTIONS: {exc}") from None
        self._ignore_exceptions = bool(own.get("IGNORE_EXCEPTIONS", False))
        self._log_every = _seconds_or_none(
            "LOG_IGNORED_EXCEPTIONS_EVERY", own.get("LOG_IGNORED_EXCEPTIONS_EVERY", 60)
        )
        self._scan_count = _positive_int("SCAN_COUNT", own.get("SCAN_COUNT", 1000))
        reverse = own.get("REVERSE_KEY_FUNCTION")
        self._reverse_key: Callable[[str], str] | None = (
            import_string(reverse) if isinstance(reverse, str) else reverse
        )
        down_for = _seconds_or_none("DOWN_RETRY_INTERVAL", own.get("DOWN_RETRY_INTERVAL", 1.0))
        # without IGNORE_EXCEPTIONS every call tries the server (and raises)
        self._down_for = (down_for or 0.0) if self._ignore_exceptions else 0.0
        self._servers = _servers_for(_locations(server), store_options)
        bundle = self._servers.sync
        self._bundle = bundle
        # with one server, reads skip the random choice
        self._reader = (
            bundle.write if len(bundle.reads) == 1 and bundle.reads[0] is bundle.write else None
        )
        self._default_px = self._px(self.default_timeout)

    def __repr__(self) -> str:
        return f"<StoreCache {', '.join(self._servers.addresses)}>"

    # -- helpers ------------------------------------------------------------------------

    def _px(self, timeout: Any) -> int | None:
        """Milliseconds to keep a value; None forever; 0: not stored (deleted)."""
        if timeout is DEFAULT_TIMEOUT:
            return self._default_px
        if timeout is None:
            return None
        if timeout <= 0:
            return 0
        return max(1, int(timeout * 1000))  # a tiny positive timeout still stores

    def get_backend_timeout(self, timeout: Any = DEFAULT_TIMEOUT) -> float | None:
        """The timeout in seconds as the server gets it: None forever, 0 not stored."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else max(0, timeout)

    def validate_key(self, key: str) -> None:
        """Django's memcached-portability warnings, checked by one compiled regex: Django's
        own check reaches its regex through a lazy object, a third of a get's time."""
        if len(key) > MEMCACHE_MAX_KEY_LENGTH or _MEMCACHED_UNSAFE(key) is not None:
            super().validate_key(key)

    def _check_up(self) -> None:
        servers = self._servers
        if self._down_for and servers.down_until and monotonic() < servers.down_until:
            raise _MarkedDown(
                f"cache server {', '.join(servers.addresses)} was unreachable less than "
                f"{self._down_for:g}s ago"
            )

    @property
    def _sync(self) -> _Bundle:
        self._check_up()
        return self._bundle

    @property
    def _write(self) -> Any:
        self._check_up()
        return self._bundle.write

    def _read_store(self) -> Any:
        self._check_up()
        reader = self._reader
        return reader if reader is not None else self._bundle.read()

    def _ignored(self, exc: BaseException, what: str) -> None:
        """Raise ``exc`` unless IGNORE_EXCEPTIONS; else log it (throttled)."""
        if not self._ignore_exceptions:
            raise exc
        self._servers.report(exc, what, self._log_every, self._down_for)

    def _aio(self) -> _Bundle:
        self._check_up()
        return self._servers.for_loop(asyncio.get_running_loop())

    def _loads(self, data: Any, key: str) -> Any:
        return self._codec.loads(data, key)

    def make_pattern(self, pattern: str, version: Any = None, prefix: str | None = None) -> str:
        """The SCAN MATCH pattern of ``pattern`` under the key prefix and ``version`` (the
        cache's by default; ``"*"`` for every version), as django-redis builds it."""
        if prefix is None:
            prefix = self.key_prefix
        if version is None:
            version = self.version
        version_text = "*" if version == "*" else glob_escape(str(version))
        return str(self.key_func(pattern, glob_escape(prefix), version_text))

    def reverse_key(self, key: str) -> str:
        """The caller's key of stored key ``key``."""
        if self._reverse_key is not None:
            return self._reverse_key(key)
        if self.key_func is default_key_func:
            parts = key.split(":", 2)
            if len(parts) == 3:
                return parts[2]
        return key

    # -- the sync API ---------------------------------------------------------------------

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        try:
            data = self._read_store().execute("GET", key)
        except _UNREACHABLE as exc:
            self._ignored(exc, "read missed")
            return default
        if data is None:
            return default
        return self._codec.loads(data, key)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        data = self._codec.dumps(value)  # first: an unpicklable value raises either way
        px = self._px(timeout)
        try:
            if px is None:
                self._write.execute("SET", key, data)
            elif px:
                self._write.execute("SET", key, data, "PX", px)
            else:
                self._write.execute("DEL", key)
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        data = self._codec.dumps(value)
        px = self._px(timeout)
        try:
            if px is None:
                return self._write.execute("SET", key, data, "NX") is not None
            if px:
                return self._write.execute("SET", key, data, "PX", px, "NX") is not None
            # added and expired at once: True when it would have been added
            return not self._write.execute("EXISTS", key)
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        px = self._px(timeout)
        try:
            if px is None:
                return bool(self._sync.persist(keys=[key]))
            if px:
                return bool(self._write.execute("PEXPIRE", key, px))
            return bool(self._write.execute("DEL", key))
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False

    def delete(self, key: Any, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        try:
            return bool(self._write.execute("DEL", key))
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False

    def has_key(self, key: Any, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        try:
            return bool(self._read_store().execute("EXISTS", key))
        except _UNREACHABLE as exc:
            self._ignored(exc, "read missed")
            return False

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not key_map:
            return {}
        try:
            values = self._read_store().execute("MGET", *key_map)
        except _UNREACHABLE as exc:
            self._ignored(exc, "read missed")
            return {}
        loads = self._codec.loads
        return {
            key_map[made]: loads(data, made)
            for made, data in zip(key_map, values, strict=True)
            if data is not None
        }

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        if not data:
            return []
        dumps = self._codec.dumps
        items = [
            (self.make_and_validate_key(key, version=version), dumps(value))
            for key, value in data.items()
        ]
        px = self._px(timeout)
        try:
            if px is None:
                self._write.execute("MSET", *(part for item in items for part in item))
            elif px:
                with self._write.pipeline() as pipe:  # one round trip
                    for made, value in items:
                        pipe.execute("SET", made, value, "PX", px)
                    pipe.commit()
            else:
                self._write.execute("DEL", *(made for made, _ in items))
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return list(data)
        return []

    def delete_many(self, keys: Any, version: Any = None) -> None:
        made = [self.make_and_validate_key(key, version=version) for key in keys]
        if not made:
            return
        try:
            self._write.execute("UNLINK", *made)
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        made = self.make_and_validate_key(key, version=version)
        try:
            value = self._sync.incr(keys=[made], args=[delta])
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            raise ValueError(f"Key {key!r} not found (the cache server is unreachable)") from exc
        if value is None:
            raise ValueError(f"Key {key!r} not found.")
        return int(value)

    def decr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return self.incr(key, -delta, version=version)

    def incr_version(self, key: Any, delta: int = 1, version: Any = None) -> int:
        if version is None:
            version = self.version
        old = self.make_and_validate_key(key, version=version)
        new = self.make_and_validate_key(key, version=version + delta)
        try:
            renamed = self._sync.rename(keys=[old, new])
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            renamed = 0
        if not renamed:
            raise ValueError(f"Key {key!r} not found.")
        return int(version + delta)

    def decr_version(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return self.incr_version(key, -delta, version)

    def clear(self) -> bool:
        try:
            if not self.key_prefix:
                self._write.execute("FLUSHDB")
            else:
                self.delete_pattern("*", version="*")
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False
        return True

    def close(self, **kwargs: Any) -> None:
        """Django calls this after every request: the shared stores stay open."""

    # -- the async API: store.aio on the running loop -------------------------------------

    async def aget(self, key: Any, default: Any = None, version: Any = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        try:
            data = await self._aio().read().execute("GET", key)
        except _UNREACHABLE as exc:
            self._ignored(exc, "read missed")
            return default
        if data is None:
            return default
        return self._codec.loads(data, key)

    async def aset(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        data = self._codec.dumps(value)
        px = self._px(timeout)
        try:
            write = self._aio().write
            if px is None:
                await write.execute("SET", key, data)
            elif px:
                await write.execute("SET", key, data, "PX", px)
            else:
                await write.execute("DEL", key)
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")

    async def aadd(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        data = self._codec.dumps(value)
        px = self._px(timeout)
        try:
            write = self._aio().write
            if px is None:
                return await write.execute("SET", key, data, "NX") is not None
            if px:
                return await write.execute("SET", key, data, "PX", px, "NX") is not None
            return not await write.execute("EXISTS", key)
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False

    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        px = self._px(timeout)
        try:
            bundle = self._aio()
            if px is None:
                return bool(await bundle.persist(keys=[key]))
            if px:
                return bool(await bundle.write.execute("PEXPIRE", key, px))
            return bool(await bundle.write.execute("DEL", key))
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False

    async def adelete(self, key: Any, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        try:
            return bool(await self._aio().write.execute("DEL", key))
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False

    async def ahas_key(self, key: Any, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        try:
            return bool(await self._aio().read().execute("EXISTS", key))
        except _UNREACHABLE as exc:
            self._ignored(exc, "read missed")
            return False

    async def aget_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not key_map:
            return {}
        try:
            values = await self._aio().read().execute("MGET", *key_map)
        except _UNREACHABLE as exc:
            self._ignored(exc, "read missed")
            return {}
        loads = self._codec.loads
        return {
            key_map[made]: loads(data, made)
            for made, data in zip(key_map, values, strict=True)
            if data is not None
        }

    async def aset_many(
        self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> list[Any]:
        if not data:
            return []
        dumps = self._codec.dumps
        items = [
            (self.make_and_validate_key(key, version=version), dumps(value))
            for key, value in data.items()
        ]
        px = self._px(timeout)
        try:
            write = self._aio().write
            if px is None:
                await write.execute("MSET", *(part for item in items for part in item))
            elif px:
                async with write.pipeline() as pipe:
                    for made, value in items:
                        await pipe.execute("SET", made, value, "PX", px)
                    await pipe.commit()
            else:
                await write.execute("DEL", *(made for made, _ in items))
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return list(data)
        return []

    async def adelete_many(self, keys: Any, version: Any = None) -> None:
        made = [self.make_and_validate_key(key, version=version) for key in keys]
        if not made:
            return
        try:
            await self._aio().write.execute("UNLINK", *made)
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")

    async def aincr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        made = self.make_and_validate_key(key, version=version)
        try:
            value = await self._aio().incr(keys=[made], args=[delta])
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            raise ValueError(f"Key {key!r} not found (the cache server is unreachable)") from exc
        if value is None:
            raise ValueError(f"Key {key!r} not found.")
        return int(value)

    async def adecr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return await self.aincr(key, -delta, version=version)

    async def aincr_version(self, key: Any, delta: int = 1, version: Any = None) -> int:
        if version is None:
            version = self.version
        old = self.make_and_validate_key(key, version=version)
        new = self.make_and_validate_key(key, version=version + delta)
        try:
            renamed = await self._aio().rename(keys=[old, new])
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            renamed = 0
        if not renamed:
            raise ValueError(f"Key {key!r} not found.")
        return int(version + delta)

    async def adecr_version(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return await self.aincr_version(key, -delta, version)

    async def aclear(self) -> bool:
        try:
            write = self._aio().write
            if not self.key_prefix:
                await write.execute("FLUSHDB")
            else:
                await self._adelete_matching(write, self.make_pattern("*", version="*"), None)
        except _UNREACHABLE as exc:
            self._ignored(exc, "write dropped")
            return False
        return True

    async def aclose(self, **kwargs: Any) -> None:
        """Like close(): the shared stores stay open."""

    # -- django-redis' extras (they raise on failures, IGNORE_EXCEPTIONS or not) ----------

    def ttl(self, key: Any, version: Any = None) -> int | None:
        """Seconds ``key`` has left: None when it never expires, 0 when it is missing."""
        made = self.make_and_validate_key(key, version=version)
        seconds = int(self._read_store().execute("TTL", made))
        if seconds == -1:
            return None
        return max(seconds, 0)  # -2: missing

    def pttl(self, key: Any, version: Any = None) -> int | None:
        """Like ttl(), in milliseconds."""
        made = self.make_and_validate_key(key, version=version)
        milliseconds = int(self._read_store().execute("PTTL", made))
        if milliseconds == -1:
            return None
        return max(milliseconds, 0)

    def expire(self, key: Any, timeout: Any, version: Any = None) -> bool:
        """Let ``key`` expire in ``timeout`` seconds (None: never; <= 0: now). True when
        the key exists."""
        return bool(self.touch(key, timeout, version=version))

    def persist(self, key: Any, version: Any = None) -> bool:
        """Remove the expiry of ``key``; True when the key exists."""
        return bool(self.touch(key, None, version=version))

    def lock(
        self,
        key: Any,
        version: Any = None,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> sync.Lock:
        """The store's distributed lock on the cache key of ``key`` (``with cache.lock(...)``)."""
        return self._write.lock(  # type: ignore[no-any-return]
            self.make_and_validate_key(key, version=version),
            timeout=timeout,
            sleep=sleep,
            blocking=blocking,
            blocking_timeout=blocking_timeout,
        )

    def alock(
        self,
        key: Any,
        version: Any = None,
        timeout: float | None = None,
        sleep: float = 0.1,
        blocking: bool = True,
        blocking_timeout: float | None = None,
    ) -> aio.Lock:
        """lock() for ``async with``, on the running loop's store."""
        return self._aio().write.lock(  # type: ignore[no-any-return]
            self.make_and_validate_key(key, version=version),
            timeout=timeout,
            sleep=sleep,
            blocking=blocking,
            blocking_timeout=blocking_timeout,
        )

    def _scan(self, store: Any, pattern: str, count: int) -> Iterator[list[Any]]:
        """SCAN MATCH ``pattern``: the keys batch by batch (never KEYS, which blocks)."""
        cursor: Any = 0
        while True:
            cursor, keys = store.execute("SCAN", cursor, "MATCH", pattern, "COUNT", count)
            if keys:
                yield keys
            if _text(cursor) == "0":
                return

    def iter_keys(
        self, search: str, itersize: int | None = None, version: Any = None
    ) -> Iterator[str]:
        """The caller's keys matching glob ``search`` (under the prefix and version)."""
        pattern = self.make_pattern(search, version=version)
        for keys in self._scan(self._read_store(), pattern, itersize or self._scan_count):
            for stored in keys:
                yield self.reverse_key(_text(stored))

    def keys(self, search: str, version: Any = None) -> list[str]:
        """iter_keys() as a list (by SCAN too)."""
        return list(self.iter_keys(search, version=version))

    def delete_pattern(
        self,
        pattern: str,
        version: Any = None,
        prefix: str | None = None,
        itersize: int | None = None,
    ) -> int:
        """Delete the keys matching glob ``pattern`` (under the prefix and version; pass
        ``version="*"`` for every version) by SCAN and UNLINK; the number deleted."""
        match = self.make_pattern(pattern, version=version, prefix=prefix)
        deleted = 0
        for keys in self._scan(self._write, match, itersize or self._scan_count):
            deleted += int(self._write.execute("UNLINK", *keys))
        return deleted

    async def _adelete_matching(self, write: Any, match: str, itersize: int | None) -> int:
        deleted = 0
        cursor: Any = 0
        count = itersize or self._scan_count
        while True:
            cursor, keys = await write.execute("SCAN", cursor, "MATCH", match, "COUNT", count)
            if keys:
                deleted += int(await write.execute("UNLINK", *keys))
            if _text(cursor) == "0":
                return deleted

    async def adelete_pattern(
        self,
        pattern: str,
        version: Any = None,
        prefix: str | None = None,
        itersize: int | None = None,
    ) -> int:
        """delete_pattern() on the running loop's store."""
        match = self.make_pattern(pattern, version=version, prefix=prefix)
        return await self._adelete_matching(self._aio().write, match, itersize)
