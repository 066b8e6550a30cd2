"""``start_store``: a PulsarDS of its own for a ``pulsar://`` URL where nothing answers."""

from __future__ import annotations

from typing import Any

import pytest

from store.aio import PulsarStore, RedisStore, create_store, start_store
from store.errors import ConnectionError
from tests.conftest import bound_port, free_port
from tests.conftest import port_answers as _answers


async def test_port_zero_starts_a_server_that_close_stops() -> None:
    store = await start_store("pulsar://127.0.0.1:0/2")
    assert isinstance(store, PulsarStore)
    port = int(store.dns.split(":")[2].split("/")[0])
    assert port and store.dns == f"pulsar://127.0.0.1:{port}/2"
    await store.execute("SET", "k", "v")
    assert await store.execute("GET", "k") == b"v"
    assert _answers(port)
    await store.close()
    assert not _answers(port)


async def test_a_free_port_is_taken_and_a_running_server_reused() -> None:
    port = free_port()
    first = await start_store(f"pulsar://127.0.0.1:{port}")
    try:
        assert first.dns == f"pulsar://127.0.0.1:{port}"
        await first.execute("SET", "shared", "1")
        second = await start_store(f"pulsar://localhost:{port}")
        assert await second.execute("GET", "shared") == b"1"
        await second.close()
        assert _answers(port), "closing a store that did not start the server leaves it up"
    finally:
        await first.close()
    assert not _answers(port)


async def test_the_url_password_protects_the_started_server() -> None:
    store = await start_store("pulsar://:s3cret@127.0.0.1:0")
    try:
        assert await store.ping()
        assert "s3cret" not in repr(store)
        anonymous = create_store(store.dns.replace(":s3cret@", ""))
        with pytest.raises(Exception, match="NOAUTH"):
            await anonymous.execute("GET", "k")
        await anonymous.close()
    finally:
        await store.close()


async def test_server_options_reach_the_server(tmp_path: Any) -> None:
    store = await start_store(
        "pulsar://127.0.0.1:0", server_options={"databases": 4, "dir": str(tmp_path)}
    )
    try:
        assert await store.execute("CONFIG", "GET", "databases") in (
            [b"databases", b"4"],
            {b"databases": b"4"},
        )
    finally:
        await store.close()


async def test_other_stores_are_created_not_started(redis_url: str) -> None:
    store = await start_store(redis_url)
    assert type(store) is RedisStore
    assert await store.ping()
    await store.close()
    remote = await start_store("pulsar://192.0.2.1:6410")  # not this machine: never started
    assert isinstance(remote, PulsarStore)
    await remote.close()


async def test_a_busy_port_is_a_clear_error() -> None:
    with bound_port() as port:  # bound but not listening: connect is refused
        with pytest.raises(ConnectionError, match=f"cannot start PulsarDS on 127.0.0.1:{port}"):
            await start_store(f"pulsar://127.0.0.1:{port}")
