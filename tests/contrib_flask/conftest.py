"""Flask integration tests: every test runs on redis-server and on PulsarDS (the servers
of tests/conftest.py), in a database of their own, flushed before and after each test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask

from store.sync import RedisStore, create_store

DATABASE = 3  # other test modules use database 0
SERVERS = ["redis", "pulsar"]


def with_database(url: str, database: int = DATABASE) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(params=SERVERS)
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of the server under test, in database DATABASE, which is left empty."""
    base = request.getfixturevalue("redis_url" if request.param == "redis" else "pulsar_url")
    url = with_database(str(base))
    with create_store(url) as store:
        store.flush()
        yield url
        store.flush()


@pytest.fixture
def admin(server_url: str) -> Iterator[RedisStore]:
    """A store of the test's own on the server under test, to look behind the app's back."""
    store = create_store(server_url)
    assert isinstance(store, RedisStore)
    yield store
    store.close()


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """Makes Flask apps from config values; closes their stores after the test."""
    apps: list[Flask] = []

    def make(name: str = "app", **config: Any) -> Flask:
        app = Flask(name)
        app.config.update(TESTING=True, **config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        store = app.extensions.get("store")
        if store is not None:
            store.close()
        for cache in app.extensions.get("cache", {}).values():
            getattr(cache, "close", lambda: None)()


def clients_named(store: RedisStore, name: str) -> int:
    """How many connections the server lists with CLIENT SETNAME ``name``."""
    listing = store.execute("CLIENT", "LIST")
    text = listing.decode() if isinstance(listing, bytes) else str(listing)
    return sum(f" name={name} " in f" {line} " for line in text.splitlines())


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
