"""Client-side bounds (both variants): a write to a stalled server, a call that must connect
during a stall, and TLS spoken to the wrong port fail in bounded time, saying why.

The stalls are real: a redis-server of this module's own, stopped with SIGSTOP (the kernel
still accepts connections and buffers bytes for it, as for a hung server). The time bounds
are generous safety bounds, not speed measurements."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any

import pytest

from store.aio import ConnectionError, RedisStore, TimeoutError, create_store
from tests.conftest import RedisServer, TLSFiles, _start_server

# a guard against hangs only (the unbounded write this file checks used to hang for ever)
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def stoppable_server() -> Iterator[RedisServer]:
    """A redis-server of this module only: the tests stop it."""
    yield from _start_server()


@contextmanager
def stopped(server: RedisServer) -> Iterator[None]:
    """The server stopped (SIGSTOP) for the block, continued afterwards whatever happens."""
    assert server.process is not None
    pid = server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _store(url: str, **kw: Any) -> RedisStore:
    made = create_store(url, **kw)
    assert isinstance(made, RedisStore)
    return made


def _key() -> str:
    return f"bounds:{uuid.uuid4().hex[:12]}"


async def test_a_write_the_stalled_server_does_not_take_times_out(
    stoppable_server: RedisServer,
) -> None:
    store = _store(stoppable_server.url, socket_timeout=1, retries=0)
    try:
        assert await store.ping()  # the connection is open before the stall
        pipe = store.pipeline()
        await pipe.execute("SET", _key(), b"x" * (16 << 20))  # more than socket buffers hold
        with stopped(stoppable_server):
            start = monotonic()
            with pytest.raises(TimeoutError) as info:
                await pipe.commit()
            elapsed = monotonic() - start
        assert elapsed < 2 * 1.0, elapsed
        assert "writing to the server" in str(info.value)
        assert f"127.0.0.1:{stoppable_server.port}" in str(info.value)
        # the connection was closed, not given back with half a command written
        assert store.pool.idle == 0 and store.pool.in_use == 0
        assert await store.ping()  # the server continued: a fresh connection works
    finally:
        await store.close()


async def test_a_call_that_must_connect_during_a_stall_keeps_to_the_connect_timeout(
    stoppable_server: RedisServer,
) -> None:
    # the documented bound of opening a connection: socket_connect_timeout in all, every
    # attempt (here each one's handshake reply would wait socket_timeout) included
    store = _store(
        stoppable_server.url,
        socket_timeout=1,
        socket_connect_timeout=1,
        retries=3,
        retry_backoff=0.05,
    )
    try:
        with stopped(stoppable_server):
            start = monotonic()
            with pytest.raises(TimeoutError) as info:
                await store.ping()
            elapsed = monotonic() - start
        assert elapsed < 1.0 + 0.9, elapsed  # one attempt's worth: (retries + 1) took 4.4s
        assert f"127.0.0.1:{stoppable_server.port}" in str(info.value)
        assert store.pool.in_use == 0
    finally:
        await store.close()


async def test_a_tls_store_on_a_plain_port_fails_within_one_connect_timeout(
    redis_server: RedisServer,
) -> None:
    store = _store(
        f"rediss://127.0.0.1:{redis_server.port}",
        ssl_cert_reqs="none",
        socket_connect_timeout=1,
        retries=3,
    )
    try:
        start = monotonic()
        # the plain server either waits for the end of a line or answers an error
        with pytest.raises((ConnectionError, TimeoutError)) as info:
            await store.ping()
        elapsed = monotonic() - start
        assert elapsed < 1.0 + 0.9, elapsed  # not retried: four attempts took 40s
        message = str(info.value)
        assert f"TLS handshake with 127.0.0.1:{redis_server.port}" in message
        assert "is it a TLS port? rediss:// expects one" in message
    finally:
        await store.close()


async def test_a_failed_certificate_check_is_not_retried(
    redis_tls_server: tuple[RedisServer, TLSFiles],
) -> None:
    server, _ = redis_tls_server
    # no ssl_ca_certs: the test CA is unknown, so the server's certificate is refused
    store = _store(f"rediss://localhost:{server.port}", retries=3, retry_backoff=1)
    try:
        start = monotonic()
        with pytest.raises(ConnectionError) as info:
            await store.ping()
        elapsed = monotonic() - start
        assert elapsed < 0.9, elapsed  # a retry would first sleep retry_backoff (1s)
        assert "TLS handshake with localhost" in str(info.value)
        assert "certificate" in str(info.value)
        assert store.pool.in_use == 0
    finally:
        await store.close()


async def test_a_plain_store_on_a_tls_port_says_rediss(
    redis_tls_server: tuple[RedisServer, TLSFiles],
) -> None:
    server, _ = redis_tls_server
    store = _store(f"redis://127.0.0.1:{server.port}", retries=0)
    try:
        with pytest.raises(ConnectionError) as info:
            await store.ping()
        assert "the server may expect TLS (rediss://)" in str(info.value)
        assert f"127.0.0.1:{server.port}" in str(info.value)
    finally:
        await store.close()
