"""Flask integration: one blocking store per app, a Flask-Caching backend, server-side sessions.

```python
from flask import Flask
from flask_caching import Cache
from store.contrib.flask import FlaskStore, StoreSessionInterface

ext = FlaskStore()
cache = Cache()

def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="...",
        STORE_URL="redis://127.0.0.1:6379/0",          # required: no silent localhost default
        STORE_OPTIONS={"max_connections": 20},         # keywords of store.sync.create_store
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL="redis://127.0.0.1:6379/0",    # the same store: the cache shares it
    )
    ext.init_app(app)                                   # before the cache, so it can share
    cache.init_app(app)
    app.session_interface = StoreSessionInterface(ext)  # or (app.extensions["store"])
    return app
```

- ``FlaskStore`` makes ONE ``store.sync`` store per app (``app.extensions["store"]``), shared
  by every thread and request: its pool is thread-safe and holds at most
  ``max_connections``; nothing is opened or closed per request. ``ext.store`` is the current
  app's. ``ext.close()`` and process exit (atexit) close the stores' connections.
- ``StoreCache`` (``CACHE_TYPE = "store.contrib.flask.StoreCache"``) writes what
  Flask-Caching's ``RedisCache`` writes (plain integers, other values ``b"!" + pickle``), so an
  app switches between the two without flushing. Pickle means that whoever can write to the
  cache's keys can run code in the app, exactly as with ``RedisCache``: keep the server
  private. ``clear()`` SCANs the prefix and UNLINKs in batches (never KEYS); only without a
  prefix does it FLUSHDB, emptying the whole database.
- ``StoreSessionInterface`` keeps the session data in the store under a random id; the cookie
  holds only that id, signed with the app's ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` still
  verify). The data is Flask's tagged JSON, never pickle: a compromised store cannot make
  the app run code.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import re
import secrets
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from cachelib.serializers import RedisSerializer
from flask import Flask, Request, Response, current_app, has_app_context
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from flask_caching.backends.base import BaseCache
from itsdangerous import BadSignature, Signer
from werkzeug.datastructures import CallbackDict

from store.errors import ImproperlyConfigured
from store.sync import RedisStore, RemoteStore, create_store

__all__ = ["FlaskStore", "StoreCache", "StoreSession", "StoreSessionInterface"]

logger = logging.getLogger(__name__)

EXTENSION_KEY = "store"

# -- closing at exit -----------------------------------------------------------------------

# Stores made here, closed when the process exits. Weak: an app dropped (a test's) takes
# its store with it instead of keeping it alive until exit.
_stores_to_close: weakref.WeakSet[RemoteStore] = weakref.WeakSet()
_stores_lock = threading.Lock()


def _close_at_exit(store: RemoteStore) -> None:
    with _stores_lock:
        _stores_to_close.add(store)


def _close_stores() -> None:
    with _stores_lock:
        stores = list(_stores_to_close)
    for store in stores:
        try:
            store.close()
        except Exception:  # at exit: one broken store must not keep the others open
            logger.exception("closing %r at exit failed", store)


atexit.register(_close_stores)


def _store_from_config(
    config: Mapping[str, Any], url_key: str, options_key: str, owner: str
) -> RemoteStore:
    """A new store from ``config[url_key]`` and the keywords ``config[options_key]``;
    errors name the keys and never the password (``create_store`` masks it)."""
    url = config.get(url_key)
    if url is None or url == "":
        raise ImproperlyConfigured(
            f"{owner}: {url_key} is not set; set it to the store's connection string, "
            "e.g. redis://127.0.0.1:6379/0"
        )
    if not isinstance(url, str):
        raise ImproperlyConfigured(
            f"{owner}: {url_key} must be a connection string (str), not {type(url).__name__}"
        )
    options = config.get(options_key) or {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise ImproperlyConfigured(
            f"{owner}: {options_key} must be a dict of store options by name "
            f"(keywords of store.sync.create_store), not {type(options).__name__}"
        )
    try:
        return create_store(url, **options)
    except ImproperlyConfigured as exc:
        raise type(exc)(f"{owner}: {url_key} / {options_key}: {exc}") from None


# -- the extension -------------------------------------------------------------------------


class FlaskStore:
    """One blocking store per Flask app, from ``STORE_URL`` and ``STORE_OPTIONS``.

    ``STORE_URL`` is required: a missing one raises ImproperlyConfigured rather than
    quietly connecting to whatever listens on localhost.
    """

    def __init__(self, app: Flask | None = None) -> None:
        # the stores of the apps this extension set up, for close()
        self._stores: weakref.WeakSet[RemoteStore] = weakref.WeakSet()
        self._lock = threading.Lock()
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        # no URL: it may hold a password, and there is one per app
        return f"<{type(self).__name__} for {len(self._stores)} app(s)>"

    def init_app(self, app: Flask) -> None:
        """Make the app's store (it connects on first use) as ``app.extensions["store"]``."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"app {app.name!r} already has a store (app.extensions[{EXTENSION_KEY!r}]): "
                "init_app runs once per app"
            )
        store = _store_from_config(app.config, "STORE_URL", "STORE_OPTIONS", f"app {app.name!r}")
        app.extensions[EXTENSION_KEY] = store
        with self._lock:
            self._stores.add(store)
        _close_at_exit(store)

    @property
    def store(self) -> RemoteStore:
        """The current app's store (needs an application or request context)."""
        if not has_app_context():
            raise RuntimeError(
                "FlaskStore.store needs an application context (a request, a CLI command or "
                "`with app.app_context():`); outside one use app.extensions['store']"
            )
        app = current_app
        store = app.extensions.get(EXTENSION_KEY)
        if store is None:
            raise RuntimeError(f"app {app.name!r} has no store: call FlaskStore.init_app(app)")
        assert isinstance(store, RemoteStore)
        return store

    def close(self) -> None:
        """Close the connections of every app's store (a command after that opens new ones)."""
        with self._lock:
            stores = list(self._stores)
        for store in stores:
            store.close()


# -- Flask-Caching backend -----------------------------------------------------------------


def _glob_escape(text: str) -> str:
    # SCAN MATCH is a glob: a prefix holding * ? [ ] or \ must match only itself
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


_SCAN_BATCH = 1000


class StoreCache(BaseCache):
    """A Flask-Caching backend on a ``store.sync`` Redis store.

    Configuration (``factory``): ``CACHE_REDIS_URL`` (when absent, the app's FlaskStore
    store), ``CACHE_OPTIONS`` (keywords of ``create_store``), ``CACHE_KEY_PREFIX``,
    ``CACHE_DEFAULT_TIMEOUT``. When ``CACHE_REDIS_URL`` and ``CACHE_OPTIONS`` describe the
    same store as the app's FlaskStore (same ``store.dns``), that store is shared: one pool.

    Timeouts as in Flask-Caching: ``None`` is the default timeout, ``0`` never expires, a
    ``timedelta`` is rounded up to whole seconds; a negative one is an error.
    """

    # cachelib's RedisSerializer: the bytes Flask-Caching's RedisCache writes and reads.
    # Flask-Caching's CACHE_SERIALIZER replaces it.
    serializer: Any = RedisSerializer()

    def __init__(
        self,
        store: RemoteStore | str,
        default_timeout: int | timedelta = 300,
        key_prefix: str | Callable[[], str] | None = None,
        ignore_delete_many_errors: bool = False,
        **store_options: Any,
    ) -> None:
        super().__init__(
            default_timeout=default_timeout,  # type: ignore[arg-type]  # cachelib takes both
            ignore_delete_many_errors=ignore_delete_many_errors,
        )
        if self.default_timeout < 0:
            raise ImproperlyConfigured(
                f"StoreCache: the default timeout must be >= 0 seconds (0: never expires), "
                f"got {default_timeout!r}"
            )
        if not (key_prefix is None or isinstance(key_prefix, str) or callable(key_prefix)):
            raise ImproperlyConfigured(
                f"StoreCache: key_prefix must be a str or a callable returning one, "
                f"not {type(key_prefix).__name__}"
            )
        self.key_prefix = key_prefix or ""
        self._owns_store = isinstance(store, str)
        if isinstance(store, str):
            config = {"store": store, "store_options": store_options}
            store = _store_from_config(config, "store", "store_options", "StoreCache")
            _close_at_exit(store)
        elif store_options:
            raise TypeError(
                "StoreCache: store options apply to a store made from a URL, not to "
                f"a given store ({', '.join(store_options)})"
            )
        if not isinstance(store, RedisStore):
            raise ImproperlyConfigured(
                f"StoreCache needs a Redis-protocol store, got {type(store).__name__}"
            )
        if store.settings.encoding is not None:
            # pickled values are bytes: a decoding store would fail on every read
            raise ImproperlyConfigured(
                "StoreCache needs a store without decode_responses: cached values are bytes"
            )
        self._store = store

    @classmethod
    def factory(
        cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
    ) -> StoreCache:
        """Flask-Caching's constructor hook (``Cache.init_app``)."""
        if args:
            raise ImproperlyConfigured("StoreCache takes no CACHE_ARGS")
        url = config.get("CACHE_REDIS_URL")
        store_options = config.get("CACHE_OPTIONS") or {}
        # Flask-Caching merges CACHE_OPTIONS into every backend's kwargs; here they are the
        # store's options, and the cache's own come from the config
        default_timeout = kwargs.get("default_timeout", config.get("CACHE_DEFAULT_TIMEOUT", 300))
        ignore_errors = kwargs.get(
            "ignore_delete_many_errors", config.get("CACHE_IGNORE_ERRORS", False)
        )
        key_prefix = config.get("CACHE_KEY_PREFIX")
        shared = app.extensions.get(EXTENSION_KEY)
        owner = f"StoreCache of app {app.name!r}"
        if url is None:
            if store_options or shared is None:
                unused = [
                    key
                    for key in ("CACHE_REDIS_HOST", "CACHE_REDIS_PORT", "CACHE_REDIS_DB")
                    if key in config
                ]
                raise ImproperlyConfigured(
                    f"{owner}: CACHE_REDIS_URL is not set"
                    + (f" ({', '.join(unused)}: not read, put them in a URL)" if unused else "")
                    + (
                        "; without it the cache uses the app's FlaskStore store, which needs "
                        "FlaskStore.init_app(app) before Cache.init_app(app) and no CACHE_OPTIONS"
                    )
                )
            store = shared
        else:
            store = _store_from_config(config, "CACHE_REDIS_URL", "CACHE_OPTIONS", owner)
            if (
                isinstance(shared, RemoteStore)
                and type(shared) is type(store)
                and shared.dns == store.dns
            ):
                store.close()  # never connected: creating a store does not
                store = shared
        cache = cls(store, default_timeout, key_prefix, ignore_errors)
        if store is not shared:
            cache._owns_store = True
            _close_at_exit(store)
        return cache

    @property
    def store(self) -> RedisStore:
        return self._store

    def close(self) -> None:
        """Close the cache's store, unless it is the FlaskStore's (shared)."""
        if self._owns_store:
            self._store.close()

    def _get_prefix(self) -> str:
        prefix = self.key_prefix
        return prefix if isinstance(prefix, str) else prefix()

    def _expiry(self, timeout: int | timedelta | None) -> tuple[Any, ...]:
        seconds = self._normalize_timeout(timeout)  # None: the default; timedelta: ceil
        if seconds < 0:
            raise ValueError(f"a cache timeout must be >= 0 seconds (0: never), got {timeout!r}")
        return ("EX", seconds) if seconds else ()

    def _loads(self, key: str, value: Any) -> Any:
        try:
            return self.serializer.loads(value)
        except Exception:
            # a value this code cannot read (another app's class, garbage) is a miss
            logger.warning("unreadable cache value under %r: treated as a miss", key)
            return None

    def get(self, key: str) -> Any:
        return self._loads(key, self._store.execute("GET", f"{self._get_prefix()}{key}"))

    def get_many(self, *keys: str) -> list[Any]:
        if not keys:
            return []
        prefix = self._get_prefix()
        values = self._store.execute("MGET", *[f"{prefix}{key}" for key in keys])
        return [self._loads(key, value) for key, value in zip(keys, values, strict=True)]

    def has(self, key: str) -> bool:
        return bool(self._store.execute("EXISTS", f"{self._get_prefix()}{key}"))

    def set(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool:
        expiry = self._expiry(timeout)
        name = f"{self._get_prefix()}{key}"
        self._store.execute("SET", name, self.serializer.dumps(value), *expiry)
        return True

    def add(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool:
        # one SET NX EX: never a key left without its timeout, as SETNX + EXPIRE can
        expiry = self._expiry(timeout)
        name = f"{self._get_prefix()}{key}"
        return (
            self._store.execute("SET", name, self.serializer.dumps(value), "NX", *expiry)
            is not None
        )

    def set_many(
        self, mapping: dict[str, Any], timeout: int | timedelta | None = None
    ) -> list[Any]:
        if not mapping:
            return []
        expiry = self._expiry(timeout)
        prefix = self._get_prefix()
        with self._store.pipeline() as pipe:  # one round trip, no MULTI
            for key, value in mapping.items():
                pipe.execute("SET", f"{prefix}{key}", self.serializer.dumps(value), *expiry)
            pipe.commit()
        return list(mapping)

    def delete(self, key: str) -> bool:
        return bool(self._store.execute("DEL", f"{self._get_prefix()}{key}"))

    def delete_many(self, *keys: str) -> list[Any]:
        # one DEL: every key is gone once it returns (absent ones count as deleted)
        if not keys:
            return []
        prefix = self._get_prefix()
        self._store.execute("DEL", *[f"{prefix}{key}" for key in keys])
        return list(keys)

    def unlink(self, *keys: str) -> list[Any]:
        """``delete_many``, with the memory freed in the server's background (UNLINK)."""
        if not keys:
            return []
        prefix = self._get_prefix()
        self._store.execute("UNLINK", *[f"{prefix}{key}" for key in keys])
        return list(keys)

    def clear(self) -> bool:
        """Remove the cache's keys: those under its prefix (SCAN + UNLINK, in batches), or
        with no prefix every key of the database (FLUSHDB)."""
        prefix = self._get_prefix()
        if not prefix:
            self._store.execute("FLUSHDB")
            return True
        pattern = _glob_escape(prefix) + "*"
        cursor: Any = 0
        while True:
            cursor, names = self._store.execute(
                "SCAN", cursor, "MATCH", pattern, "COUNT", _SCAN_BATCH
            )
            for start in range(0, len(names), _SCAN_BATCH):
                self._store.execute("UNLINK", *names[start : start + _SCAN_BATCH])
            if int(cursor) == 0:
                return True

    def inc(self, key: str, delta: int = 1) -> int:
        # INCRBY: atomic, one round trip; the RedisCache format stores ints as digits
        return int(self._store.execute("INCRBY", f"{self._get_prefix()}{key}", delta))

    def dec(self, key: str, delta: int = 1) -> int:
        return int(self._store.execute("DECRBY", f"{self._get_prefix()}{key}", delta))


# -- server-side sessions ------------------------------------------------------------------


class StoreSession(CallbackDict[str, Any], SessionMixin):
    """A session whose data lives in the store under ``sid``.

    ``clear()`` and ``rotate()`` give it a new id when it is saved (the old key is deleted):
    call ``session.rotate()`` when the user logs in, so that an id known before login is
    worth nothing after it.
    """

    modified = False
    accessed = False

    def __init__(
        self, initial: Mapping[str, Any] | None = None, sid: str = "", new: bool = True
    ) -> None:
        def on_update(session: StoreSession) -> None:
            session.modified = True
            session.accessed = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.new = new
        self.rotate_requested = False

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def clear(self) -> None:
        super().clear()
        self.rotate_requested = True

    def rotate(self) -> None:
        """Save this session under a new id (and delete the old one)."""
        self.rotate_requested = True
        self.modified = True


_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")


class StoreSessionInterface(SessionInterface):
    """Server-side sessions: ``app.session_interface = StoreSessionInterface(ext)``.

    ``store`` is a ``store.sync`` store, or a FlaskStore (its current app's store, per
    request). The key ``key_prefix + id`` expires after the session's lifetime:
    ``app.permanent_session_lifetime`` for permanent sessions, ``browser_session_lifetime``
    for the others (their cookie ends with the browser; their data must end some time).
    With ``SESSION_REFRESH_EACH_REQUEST`` (Flask's default) every request renews it.

    A missing, forged or stale cookie, or data the serializer cannot read, starts a new
    empty session; none is an error. A session emptied in a request is deleted, and its
    cookie too; one deleted while another request that read it runs (a logout in another
    tab) stays deleted: writes to an existing session are SET XX. ``session.rotate()`` (and
    ``clear()``) save it under a new id.
    """

    serializer = TaggedJSONSerializer()
    salt = "store-session"
    session_class = StoreSession
    pickle_based = False

    def __init__(
        self,
        store: RemoteStore | FlaskStore,
        key_prefix: str = "session:",
        *,
        browser_session_lifetime: timedelta | int = timedelta(days=1),
    ) -> None:
        if not isinstance(store, RemoteStore | FlaskStore):
            raise TypeError(
                "StoreSessionInterface takes a store.sync store or a FlaskStore, "
                f"not {type(store).__name__}"
            )
        if not isinstance(key_prefix, str):
            raise TypeError(f"key_prefix must be a str, not {type(key_prefix).__name__}")
        lifetime = (
            browser_session_lifetime
            if isinstance(browser_session_lifetime, timedelta)
            else timedelta(seconds=browser_session_lifetime)
        )
        if lifetime.total_seconds() < 1:
            raise ValueError(f"browser_session_lifetime must be at least 1 second, got {lifetime}")
        self._source = store
        self.key_prefix = key_prefix
        self.browser_session_lifetime = lifetime

    @property
    def store(self) -> RemoteStore:
        source = self._source
        return source.store if isinstance(source, FlaskStore) else source

    def _signer(self, app: Flask) -> Signer | None:
        if not app.secret_key:
            return None
        # as Flask's cookie sessions: the fallbacks verify, the last key signs
        keys = [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key]
        return Signer(keys, salt=self.salt, key_derivation="hmac", digest_method=hashlib.sha256)

    def _key(self, sid: str) -> str:
        return self.key_prefix + sid

    def lifetime(self, app: Flask, session: SessionMixin) -> int:
        """Seconds the session's data is kept after it is saved (its key's TTL)."""
        lifetime = (
            app.permanent_session_lifetime if session.permanent else self.browser_session_lifetime
        )
        return max(1, int(lifetime.total_seconds()))

    def _load(self, sid: str) -> dict[str, Any] | None:
        raw = self.store.execute("GET", self._key(sid))
        if raw is None:
            return None
        try:
            data = self.serializer.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except Exception:  # not JSON, an unknown tag, not UTF-8...
            data = None
        if not isinstance(data, dict):
            logger.warning("unreadable session data: starting a new session")
            return None
        return data

    def _write(self, store: RemoteStore, session: StoreSession, ttl: int, *condition: str) -> bool:
        """SET the session's data with its TTL; False when ``condition`` (NX, XX) failed."""
        payload = self.serializer.dumps(dict(session))
        return (
            store.execute("SET", self._key(session.sid), payload, *condition, "EX", ttl) is not None
        )

    def _forget(self, response: Response, name: str, cookie: dict[str, Any]) -> None:
        """Delete the session's cookie: its data is gone."""
        response.delete_cookie(name, **cookie)
        response.vary.add("Cookie")

    def open_session(self, app: Flask, request: Request) -> StoreSession | None:
        signer = self._signer(app)
        if signer is None:
            return None  # Flask's null session explains that SECRET_KEY is missing
        cookie = request.cookies.get(self.get_cookie_name(app))
        if cookie:
            try:
                sid = signer.unsign(cookie).decode("ascii")
            except (BadSignature, UnicodeError):
                sid = ""  # forged, or signed with a key no longer configured
            if _SESSION_ID.fullmatch(sid):
                data = self._load(sid)
                if data is not None:
                    return self.session_class(data, sid=sid, new=False)
        # a new id even for a valid cookie whose data expired: ids are never reused
        return self.session_class(sid=secrets.token_urlsafe(32), new=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, StoreSession):
            raise TypeError(f"StoreSessionInterface saves StoreSession, not {type(session)}")
        store = self.store
        name = self.get_cookie_name(app)
        cookie: dict[str, Any] = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }
        if session.accessed:
            response.vary.add("Cookie")
        if not session:
            if session.modified:  # emptied in this request
                if not session.new:
                    store.execute("DEL", self._key(session.sid))
                self._forget(response, name, cookie)
            return
        ttl = self.lifetime(app, session)
        if session.new:
            # NX: a fresh id never takes over a session (256 random bits: it never has to
            # try again, and a store that refuses every new key is an error, not a loop)
            for _ in range(3):
                if self._write(store, session, ttl, "NX"):
                    break
                session.sid = secrets.token_urlsafe(32)
            else:
                raise RuntimeError("the store kept no new session (SET NX failed thrice)")
        elif session.rotate_requested:
            # only a session that still exists moves to a new id
            if not store.execute("DEL", self._key(session.sid)):
                return self._forget(response, name, cookie)
            session.sid = secrets.token_urlsafe(32)
            self._write(store, session, ttl)
        elif session.modified:
            # XX: a session deleted meanwhile (a logout in another tab, its expiry) is not
            # brought back by a request that read it before
            if not self._write(store, session, ttl, "XX"):
                return self._forget(response, name, cookie)
        elif app.config["SESSION_REFRESH_EACH_REQUEST"]:
            if not store.execute("EXPIRE", self._key(session.sid), ttl):
                return self._forget(response, name, cookie)
        if not (session.new or session.rotate_requested or self.should_set_cookie(app, session)):
            return
        signer = self._signer(app)
        assert signer is not None  # open_session made this session: there is a key
        response.set_cookie(
            name,
            signer.sign(session.sid).decode("ascii"),
            expires=self.get_expiration_time(app, session),
            **cookie,
        )
        response.vary.add("Cookie")
