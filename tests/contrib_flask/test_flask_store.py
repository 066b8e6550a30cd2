"""FlaskStore: one shared blocking store per app, from STORE_URL and STORE_OPTIONS."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable

import pytest
from flask import Flask

from store.contrib.flask import FlaskStore
from store.errors import ImproperlyConfigured
from store.sync import RedisStore, create_store

from .conftest import clients_named, wait_until, with_database

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_extension_in_the_constructor(server_url: str, make_app: Callable[..., Flask]) -> None:
    app = make_app(STORE_URL=server_url)
    ext = FlaskStore(app)
    store = app.extensions["store"]
    assert isinstance(store, RedisStore)
    with app.app_context():
        assert ext.store is store
        ext.store.execute("SET", "greeting", "hello")
        assert ext.store.execute("GET", "greeting") == b"hello"


def test_extension_with_init_app(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore
) -> None:
    ext = FlaskStore()
    app = make_app(STORE_URL=server_url, STORE_OPTIONS={"decode_responses": True})
    ext.init_app(app)

    @app.get("/visit")
    def visit() -> dict[str, int]:
        return {"visits": ext.store.execute("INCR", "visits")}

    client = app.test_client()
    assert [client.get("/visit").json for _ in range(3)] == [{"visits": n} for n in (1, 2, 3)]
    assert admin.execute("GET", "visits") == b"3"
    with app.app_context():
        assert ext.store.execute("GET", "visits") == "3"  # STORE_OPTIONS reached the store


def test_one_store_shared_by_threads_and_bounded(
    server_url: str, make_app: Callable[..., Flask], admin: RedisStore
) -> None:
    name = f"flask-{uuid.uuid4().hex[:8]}"
    app = make_app(STORE_URL=server_url, STORE_OPTIONS={"max_connections": 2, "client_name": name})
    ext = FlaskStore(app)
    seen: set[int] = set()
    lock = threading.Lock()

    @app.get("/incr")
    def incr() -> str:
        with lock:
            seen.add(id(ext.store))
        return str(ext.store.execute("INCR", "counter"))

    errors: list[BaseException] = []

    def hammer() -> None:
        client = app.test_client()
        try:
            for _ in range(50):
                assert client.get("/incr").status_code == 200
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert admin.execute("GET", "counter") == b"400"  # every INCR applied once
    assert len(seen) == 1  # one store for every request and thread
    store = app.extensions["store"]
    assert 1 <= store.pool.idle <= 2  # kept open between requests, never more than the bound
    assert 1 <= clients_named(admin, name) <= 2


def test_two_apps_on_two_servers(
    redis_url: str, pulsar_url: str, make_app: Callable[..., Flask]
) -> None:
    ext = FlaskStore()
    key = f"owner-{uuid.uuid4().hex}"
    app_redis = make_app("on_redis", STORE_URL=with_database(redis_url))
    app_pulsar = make_app("on_pulsar", STORE_URL=with_database(pulsar_url))
    ext.init_app(app_redis)
    ext.init_app(app_pulsar)
    for app in (app_redis, app_pulsar):
        with app.app_context():
            ext.store.execute("SET", key, app.name, "EX", 60)
    with app_redis.app_context():
        assert ext.store is app_redis.extensions["store"]
    with app_pulsar.app_context():
        assert ext.store is app_pulsar.extensions["store"]
    assert app_redis.extensions["store"] is not app_pulsar.extensions["store"]
    for url, name in ((redis_url, "on_redis"), (pulsar_url, "on_pulsar")):
        with create_store(with_database(url)) as raw:
            assert raw.execute("GET", key) == name.encode()
            raw.execute("DEL", key)
    ext.close()


def test_close_closes_every_app_store(
    redis_url: str, pulsar_url: str, make_app: Callable[..., Flask]
) -> None:
    name = f"flask-{uuid.uuid4().hex[:8]}"
    ext = FlaskStore()
    apps = [
        make_app(f"app{i}", STORE_URL=with_database(url), STORE_OPTIONS={"client_name": name})
        for i, url in enumerate((redis_url, pulsar_url))
    ]
    for app in apps:
        ext.init_app(app)
        with app.app_context():
            assert ext.store.execute("PING") in (b"PONG", "PONG")
    admins = [create_store(with_database(url)) for url in (redis_url, pulsar_url)]
    try:
        assert [clients_named(admin, name) for admin in admins] == [1, 1]
        ext.close()
        assert [app.extensions["store"].pool.idle for app in apps] == [0, 0]
        for admin in admins:
            assert wait_until(lambda admin=admin: clients_named(admin, name) == 0)
    finally:
        for admin in admins:
            admin.close()


def test_store_outside_an_app_context(server_url: str, make_app: Callable[..., Flask]) -> None:
    ext = FlaskStore(make_app(STORE_URL=server_url))
    with pytest.raises(RuntimeError, match="application context"):
        ext.store  # noqa: B018


def test_store_of_an_app_without_init_app(server_url: str, make_app: Callable[..., Flask]) -> None:
    ext = FlaskStore(make_app(STORE_URL=server_url))
    other = make_app("other")
    with other.app_context(), pytest.raises(RuntimeError, match=r"'other' has no store.*init_app"):
        ext.store  # noqa: B018


def test_init_app_twice_is_an_error(server_url: str, make_app: Callable[..., Flask]) -> None:
    app = make_app(STORE_URL=server_url)
    FlaskStore(app)
    with pytest.raises(RuntimeError, match="already has a store"):
        FlaskStore(app)


def test_missing_url(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"app 'app': STORE_URL is not set"):
        FlaskStore(make_app())
    with pytest.raises(ImproperlyConfigured, match="STORE_URL must be a connection string"):
        FlaskStore(make_app(STORE_URL=b"redis://127.0.0.1"))


def test_bad_options(make_app: Callable[..., Flask]) -> None:
    url = "redis://127.0.0.1:1/0"  # nothing is contacted: stores connect on first use
    with pytest.raises(ImproperlyConfigured, match="STORE_OPTIONS must be a dict"):
        FlaskStore(make_app(STORE_URL=url, STORE_OPTIONS=["max_connections"]))
    with pytest.raises(ImproperlyConfigured, match=r"STORE_OPTIONS.*unknown option 'max_conn'"):
        FlaskStore(make_app(STORE_URL=url, STORE_OPTIONS={"max_conn": 4}))
    with pytest.raises(ImproperlyConfigured, match="max_connections must be a whole number"):
        FlaskStore(make_app(STORE_URL=url, STORE_OPTIONS={"max_connections": "many"}))


def test_password_never_shown(make_app: Callable[..., Flask]) -> None:
    secret = "s3cret-Pa55"
    for url in (
        f"redis://alice:{secret}@127.0.0.1:99999/0",  # port out of range
        f"redis://alice:{secret}@127.0.0.1:6380/zero",  # not a database number
        f"nosuch://alice:{secret}@127.0.0.1/0",  # unknown scheme
    ):
        with pytest.raises(ImproperlyConfigured) as raised:
            FlaskStore(make_app(STORE_URL=url))
        assert "STORE_URL" in str(raised.value)
        assert secret not in str(raised.value) and secret not in repr(raised.value)
    app = make_app(STORE_URL=f"redis://alice:{secret}@127.0.0.1:6380/0")
    ext = FlaskStore(app)
    assert secret not in repr(app.extensions["store"]) and "***" in repr(app.extensions["store"])
    assert secret not in repr(ext)


def test_process_exit_closes_the_stores(server_url: str) -> None:
    # The check is registered before store.contrib.flask is imported, so it runs after the
    # module's own exit handler (atexit runs last-in first-out).
    script = textwrap.dedent(
        """
        import atexit, sys
        state = {}
        atexit.register(lambda: print("at exit: idle", state["store"].pool.idle))
        from flask import Flask
        from store.contrib.flask import FlaskStore
        app = Flask("exiting")
        app.config["STORE_URL"] = sys.argv[1]
        FlaskStore(app)
        state["store"] = store = app.extensions["store"]
        store.execute("PING")
        print("before exit: idle", store.pool.idle)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, server_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["before exit: idle 1", "at exit: idle 0"]
