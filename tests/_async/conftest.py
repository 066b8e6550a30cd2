"""Stores for the client tests, over every protocol (RESP2, RESP3) and reply parser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from store.aio import RedisClient, RedisStore, create_store
from store.resp import HIREDIS_AVAILABLE

PARSERS = ["python", "hiredis"] if HIREDIS_AVAILABLE else ["python"]
VARIANTS = [(protocol, parser) for protocol in (2, 3) for parser in PARSERS]


@pytest.fixture(params=VARIANTS, ids=[f"resp{p}-{parser}" for p, parser in VARIANTS])
def variant(request: pytest.FixtureRequest) -> dict[str, Any]:
    protocol, parser = request.param
    return {"protocol": protocol, "parser": parser}


@pytest.fixture
async def store_factory(
    redis_url: str, variant: dict[str, Any]
) -> AsyncIterator[Callable[..., RedisStore]]:
    """Makes stores on the test server with the test's protocol and parser; closes them."""
    stores: list[RedisStore] = []

    def factory(url: str | None = None, **kw: Any) -> RedisStore:
        options = {**variant, **kw}
        made = create_store(url or redis_url, **options)
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
