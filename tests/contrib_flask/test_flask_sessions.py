"""StoreSessionInterface: server-side sessions behind a signed id."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, session
from flask.testing import FlaskClient
from itsdangerous import Signer

from store.contrib.flask import FlaskStore, StoreSession, StoreSessionInterface
from store.sync import RedisStore

SECRET = "test-secret-key"
PREFIX = "sess:"


def make_session_app(
    make_app: Callable[..., Flask], server_url: str, **options: Any
) -> tuple[Flask, StoreSessionInterface]:
    config = options.pop("config", {})
    app = make_app(STORE_URL=server_url, SECRET_KEY=SECRET, **config)
    ext = FlaskStore(app)
    interface = StoreSessionInterface(ext, key_prefix=PREFIX, **options)
    app.session_interface = interface

    @app.post("/set/<key>/<value>")
    def set_value(key: str, value: str) -> dict[str, Any]:
        session[key] = value
        return dict(session)

    @app.get("/get/<key>")
    def get_value(key: str) -> dict[str, Any]:
        return {"value": session.get(key)}

    @app.post("/pop/<key>")
    def pop_value(key: str) -> dict[str, Any]:
        session.pop(key, None)
        return dict(session)

    @app.post("/permanent")
    def permanent() -> str:
        session.permanent = True
        return "ok"

    @app.post("/clear")
    def clear() -> str:
        session.clear()
        return "ok"

    @app.post("/clear-and-set")
    def clear_and_set() -> str:
        session.clear()
        session["after"] = "clear"
        return "ok"

    @app.post("/login/<user>")
    def login(user: str) -> str:
        assert isinstance(session._get_current_object(), StoreSession)  # type: ignore[attr-defined]
        session.rotate()  # type: ignore[attr-defined]
        session["user"] = user
        return "ok"

    @app.post("/types")
    def types() -> str:
        session["tuple"] = (1, "a")
        session["bytes"] = b"\x00\xff"
        session["when"] = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
        return "ok"

    @app.get("/types")
    def read_types() -> dict[str, Any]:
        return {
            "tuple": type(session["tuple"]).__name__,
            "bytes": session["bytes"] == b"\x00\xff",
            "when": session["when"].isoformat(),
        }

    @app.get("/untouched")
    def untouched() -> str:
        return "ok"

    @app.post("/meanwhile/<action>")
    def meanwhile(action: str) -> dict[str, Any]:
        value = session.get("a")
        sid = session._get_current_object().sid  # type: ignore[attr-defined]
        ext.store.execute("DEL", PREFIX + sid)  # a logout in another tab, while this runs
        if action == "set":
            session["a"] = "written back?"
        elif action == "rotate":
            session.rotate()  # type: ignore[attr-defined]
        return {"value": value}

    return app, interface


def signer_for(secret: str) -> Signer:
    """A signer like the interface's, for ``secret``."""
    return Signer(secret, salt="store-session", key_derivation="hmac", digest_method=hashlib.sha256)


def cookie_of(client: FlaskClient, app: Flask) -> str | None:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return None if cookie is None else cookie.value


def sid_of(client: FlaskClient, app: Flask) -> str:
    cookie = cookie_of(client, app)
    assert cookie is not None
    return signer_for(SECRET).unsign(cookie).decode()


@pytest.fixture
def app(server_url: str, make_app: Callable[..., Flask]) -> Flask:
    return make_session_app(make_app, server_url)[0]


def test_set_read_modify_clear(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    assert client.get("/get/color").json == {"value": None}
    assert cookie_of(client, app) is None  # nothing stored, no cookie
    client.post("/set/color/blue")
    sid = sid_of(client, app)
    response = client.get("/get/color")
    assert response.json == {"value": "blue"}
    assert "Cookie" in response.vary  # read only: caches must still key on the cookie
    assert "Set-Cookie" not in response.headers  # not modified, not permanent
    client.post("/set/color/red")
    client.post("/set/size/xl")
    assert client.get("/get/color").json == {"value": "red"}
    assert sid_of(client, app) == sid  # same session throughout
    assert json.loads(admin.execute("GET", PREFIX + sid)) == {"color": "red", "size": "xl"}
    response = client.post("/clear")
    assert "Cookie" in response.vary
    assert cookie_of(client, app) is None  # the cookie is deleted...
    assert admin.execute("EXISTS", PREFIX + sid) == 0  # ...and the data
    assert client.get("/get/color").json == {"value": None}


def test_popping_the_last_key_deletes_the_session(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    client.post("/set/only/one")
    sid = sid_of(client, app)
    client.post("/pop/only")
    assert admin.execute("EXISTS", PREFIX + sid) == 0 and cookie_of(client, app) is None


def test_cookie_holds_only_the_signed_id(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    client.post("/set/secret/hunter2")
    cookie = cookie_of(client, app)
    assert cookie is not None and "hunter2" not in cookie
    sid = sid_of(client, app)
    assert len(sid) >= 32
    assert admin.execute("KEYS", "*") == [(PREFIX + sid).encode()]


def test_untouched_requests_store_nothing(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    response = client.get("/untouched")
    assert "Set-Cookie" not in response.headers
    assert admin.execute("DBSIZE") == 0


def test_ttl_is_the_session_lifetime(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore
) -> None:
    app, interface = make_session_app(
        make_app,
        server_url,
        browser_session_lifetime=dt.timedelta(hours=2),
        config={"PERMANENT_SESSION_LIFETIME": dt.timedelta(minutes=7)},
    )
    client = app.test_client()
    response = client.post("/set/a/1")
    assert "Expires" not in response.headers["Set-Cookie"]  # a browser session
    sid = sid_of(client, app)
    assert 7199 <= admin.execute("TTL", PREFIX + sid) <= 7200
    response = client.post("/permanent")
    assert "Expires" in response.headers["Set-Cookie"]
    assert 419 <= admin.execute("TTL", PREFIX + sid) <= 420
    assert interface.browser_session_lifetime == dt.timedelta(hours=2)


@pytest.mark.parametrize("refresh", [True, False])
def test_refresh_each_request(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore, refresh: bool
) -> None:
    app, _ = make_session_app(
        make_app, server_url, config={"SESSION_REFRESH_EACH_REQUEST": refresh}
    )
    client = app.test_client()
    client.post("/set/a/1")
    sid = sid_of(client, app)
    admin.execute("EXPIRE", PREFIX + sid, 100)
    assert client.get("/get/a").json == {"value": "1"}  # reads only
    ttl = admin.execute("TTL", PREFIX + sid)
    assert (86399 <= ttl <= 86400) if refresh else (99 <= ttl <= 100)


@pytest.mark.parametrize("action", ["read", "set", "rotate"])
def test_a_session_deleted_meanwhile_stays_deleted(
    app: Flask, admin: RedisStore, action: str
) -> None:
    client = app.test_client()
    client.post("/set/a/1")
    response = client.post(f"/meanwhile/{action}")
    assert response.json == {"value": "1"}
    assert admin.execute("DBSIZE") == 0  # not brought back, under any id
    assert cookie_of(client, app) is None
    assert client.get("/get/a").json == {"value": None}


def test_forged_cookies_give_a_fresh_session(app: Flask, admin: RedisStore) -> None:
    victim = app.test_client()
    victim.post("/set/user/alice")
    sid = sid_of(victim, app)
    name = app.config["SESSION_COOKIE_NAME"]
    forgeries = [
        sid,  # the bare id, unsigned
        sid + ".AAAA",  # a made-up signature
        signer_for("not-the-secret").sign(sid).decode(),  # signed with another key
        "garbage.with.dots",
        "",
        "é" * 20,
    ]
    for forged in forgeries:
        attacker = app.test_client()
        attacker.set_cookie(name, forged)
        response = attacker.get("/get/user")
        assert response.status_code == 200 and response.json == {"value": None}, forged
        attacker.post("/set/user/mallory")  # a session of its own, never alice's
        assert sid_of(attacker, app) != sid
    assert victim.get("/get/user").json == {"value": "alice"}


def test_unreadable_data_gives_a_fresh_session(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    client.post("/set/a/1")
    sid = sid_of(client, app)
    for broken in (b"not json", b"[1, 2]", b'{" t": "unknown tag"}', b"\xff\xfe"):
        admin.execute("SET", PREFIX + sid, broken)
        assert client.get("/get/a").json == {"value": None}
    client.post("/set/a/2")
    assert sid_of(client, app) != sid  # never the old id again


def test_expired_session_gets_a_new_id(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    client.post("/set/a/1")
    sid = sid_of(client, app)
    admin.execute("DEL", PREFIX + sid)
    assert client.get("/get/a").json == {"value": None}
    client.post("/set/a/2")
    assert sid_of(client, app) != sid


def test_rotate_on_login(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    client.post("/set/cart/3")
    before = sid_of(client, app)
    old_cookie = cookie_of(client, app)
    client.post("/login/ada")
    after = sid_of(client, app)
    assert after != before
    assert admin.execute("EXISTS", PREFIX + before) == 0
    assert json.loads(admin.execute("GET", PREFIX + after)) == {"cart": "3", "user": "ada"}
    assert client.get("/get/user").json == {"value": "ada"}
    stale = app.test_client()
    assert old_cookie is not None
    stale.set_cookie(app.config["SESSION_COOKIE_NAME"], old_cookie)
    assert stale.get("/get/user").json == {"value": None}  # the pre-login id is worthless


def test_clear_then_set_rotates(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    client.post("/set/a/1")
    before = sid_of(client, app)
    client.post("/clear-and-set")
    after = sid_of(client, app)
    assert after != before and admin.execute("EXISTS", PREFIX + before) == 0
    assert json.loads(admin.execute("GET", PREFIX + after)) == {"after": "clear"}


def test_tagged_json_not_pickle(app: Flask, admin: RedisStore) -> None:
    client = app.test_client()
    client.post("/types")
    assert client.get("/types").json == {
        "tuple": "tuple",
        "bytes": True,
        "when": "2024-05-01T12:30:00+00:00",
    }
    raw = admin.execute("GET", PREFIX + sid_of(client, app))
    assert isinstance(json.loads(raw), dict)  # JSON: reading it runs no code


def test_secret_key_fallbacks_still_verify(server_url: str, make_app: Callable[..., Flask]) -> None:
    app, _ = make_session_app(make_app, server_url)
    client = app.test_client()
    client.post("/set/a/1")
    sid = sid_of(client, app)
    app.config.update(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=[SECRET])
    assert client.get("/get/a").json == {"value": "1"}
    client.post("/set/a/2")  # signed again, with the new key
    cookie = cookie_of(client, app)
    assert cookie is not None
    assert signer_for("the-new-key").unsign(cookie).decode() == sid


def test_no_secret_key(server_url: str, make_app: Callable[..., Flask]) -> None:
    app, _ = make_session_app(make_app, server_url)
    app.config["SECRET_KEY"] = None
    client = app.test_client()
    assert client.get("/get/a").json == {"value": None}
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError, match="secret key"):
        client.post("/set/a/1")


def test_with_a_plain_store(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore
) -> None:
    app = make_app(STORE_URL=server_url, SECRET_KEY=SECRET)
    FlaskStore(app)
    app.session_interface = StoreSessionInterface(app.extensions["store"])

    @app.post("/hello")
    def hello() -> str:
        session["hello"] = "world"
        return "ok"

    client = app.test_client()
    client.post("/hello")
    assert admin.execute("KEYS", "session:*") == [f"session:{sid_of(client, app)}".encode()]


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"store\.sync store or a FlaskStore"):
        StoreSessionInterface("redis://127.0.0.1:6379")  # type: ignore[arg-type]
    ext = FlaskStore()
    with pytest.raises(TypeError, match="key_prefix must be a str"):
        StoreSessionInterface(ext, key_prefix=b"s:")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1 second"):
        StoreSessionInterface(ext, browser_session_lifetime=0)
