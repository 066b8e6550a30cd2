"""Stores for the client tests: every protocol (RESP2, RESP3) and reply parser, against
redis-server and against PulsarDS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from store.aio import RedisClient, RedisStore, create_store
from store.resp import HIREDIS_AVAILABLE

PARSERS = ["python", "hiredis"] if HIREDIS_AVAILABLE else ["python"]
SERVERS = ["redis", "pulsar"]
TARGETS = [
    (server, protocol, parser) for server in SERVERS for protocol in (2, 3) for parser in PARSERS
]


@pytest.fixture(params=TARGETS, ids=[f"{s}-resp{p}-{parser}" for s, p, parser in TARGETS])
def target(request: pytest.FixtureRequest) -> tuple[str, int, str]:
    server, protocol, parser = request.param
    return server, protocol, parser


@pytest.fixture
def variant(target: tuple[str, int, str]) -> dict[str, Any]:
    return {"protocol": target[1], "parser": target[2]}


@pytest.fixture
def server_url(target: tuple[str, int, str], request: pytest.FixtureRequest) -> str:
    """The URL of the server under test: redis-server or PulsarDS."""
    return str(request.getfixturevalue("redis_url" if target[0] == "redis" else "pulsar_url"))


@pytest.fixture
def unix_path(target: tuple[str, int, str], request: pytest.FixtureRequest) -> str:
    """The unix socket of the server under test."""
    server = request.getfixturevalue("redis_server" if target[0] == "redis" else "pulsar_server")
    return str(server.unix_path)


@pytest.fixture
async def store_factory(
    server_url: str, variant: dict[str, Any]
) -> AsyncIterator[Callable[..., RedisStore]]:
    """Makes stores on the test server with the test's protocol and parser; closes them."""
    stores: list[RedisStore] = []

    def factory(url: str | None = None, **kw: Any) -> RedisStore:
        options = {**variant, **kw}
        made = create_store(url or server_url, **options)
        assert isinstance(made, RedisStore)
        stores.append(made)
        return made

    yield factory
    for made in stores:
        await made.close()


@pytest.fixture
async def store(store_factory: Callable[..., RedisStore]) -> RedisStore:
    made = store_factory()
    await made.flush()
    return made


@pytest.fixture
def client(store: RedisStore) -> RedisClient:
    return store.client()
