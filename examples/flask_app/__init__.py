"""A small Flask app on ``store``: a hit counter (``ext.store`` directly), a cached view
(Flask-Caching on ``StoreCache``) and server-side sessions (``StoreSessionInterface``).
How to run it: README.md, next to this file."""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

from flask import Blueprint, Flask, session
from flask_caching import Cache

from store.contrib.flask import FlaskStore, StoreSessionInterface

# the extensions: created once, bound to each app by create_app
ext = FlaskStore()
cache = Cache()
views = Blueprint("example", __name__)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    url = os.environ.get("STORE_URL")  # FlaskStore says so clearly when it is missing
    app = Flask(__name__)
    app.config.update(
        STORE_URL=url,
        # sessions are signed with it: set SECRET_KEY in production, or every restart (and
        # every process) signs with another random key and logs everyone out
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        CACHE_TYPE="store.contrib.flask.StoreCache",
        CACHE_REDIS_URL=url,  # the same store as STORE_URL: the cache shares its pool
        CACHE_KEY_PREFIX="example:cache:",
        CACHE_DEFAULT_TIMEOUT=60,
    )
    app.config.update(config or {})
    ext.init_app(app)  # before the cache, so that the cache can share the store
    cache.init_app(app)
    app.session_interface = StoreSessionInterface(ext, key_prefix="example:session:")
    app.register_blueprint(views)
    return app


@views.get("/")
def index() -> dict[str, Any]:
    return {"endpoints": ["/hits", "/report", "/visits", "POST /logout", "/health"]}


@views.get("/hits")
def hits() -> dict[str, int]:
    # one INCR on the app's store: atomic across threads, processes and machines
    return {"hits": ext.store.execute("INCR", "example:hits")}


@views.get("/report")
@cache.cached(timeout=5)
def report() -> dict[str, Any]:
    # computed at most once every 5 seconds; every other request reads the cached copy
    total = ext.store.execute("GET", "example:hits")
    return {"hits": int(total or 0), "generated_at": time.time()}


@views.get("/visits")
def visits() -> dict[str, int]:
    # the session's data lives in the store; the cookie holds a signed id
    session["visits"] = session.get("visits", 0) + 1
    return {"visits": session["visits"]}


@views.post("/logout")
def logout() -> dict[str, bool]:
    session.clear()  # deletes the data and the cookie
    return {"logged_out": True}


@views.get("/health")
def health() -> dict[str, bool]:
    return {"ok": ext.store.ping()}
