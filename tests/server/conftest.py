"""Fixtures for PulsarDS's own tests: a fresh server per test, raw clients, and a
differential check that runs the same command on redis-server and PulsarDS."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from store.errors import ResponseError
from store.resp import PythonReader
from store.server import ServerThread


@pytest.fixture
def pulsar(tmp_path: Any) -> Iterator[ServerThread]:
    """A PulsarDS of the test's own (port 0, files in tmp_path, no automatic saves)."""
    with ServerThread(port=0, dir=str(tmp_path), save=[]) as server:
        yield server


class RawClient:
    """A plain socket speaking RESP: what a test sends is exactly what the server gets."""

    def __init__(self, port: int, protocol: int = 2) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = PythonReader()
        if protocol == 3:
            self.call("HELLO", "3")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> Any:
        """One reply; an error reply is returned as a ResponseError, not raised."""
        from store.resp import NOT_ENOUGH

        while True:
            reply = self.reader.gets()
            if reply is not NOT_ENOUGH:
                return reply
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def call(self, *args: Any) -> Any:
        from store.resp import pack_command

        self.sock.sendall(pack_command(*args))
        return self.read()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(pulsar: ServerThread) -> Iterator[Callable[..., RawClient]]:
    """Makes raw clients on the test's PulsarDS: ``raw()`` or ``raw(protocol=3)``."""
    made: list[RawClient] = []

    def factory(protocol: int = 2) -> RawClient:
        client = RawClient(pulsar.port, protocol)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def _normalise(reply: Any) -> Any:
    if isinstance(reply, ResponseError):
        return ("error", str(reply))
    if isinstance(reply, list):
        return [_normalise(item) for item in reply]
    if isinstance(reply, dict):
        return {key: _normalise(value) for key, value in reply.items()}
    return reply


class Differential:
    """Sends each command to redis-server and PulsarDS and asserts the same reply."""

    def __init__(self, redis: RawClient, pulsar: RawClient) -> None:
        self.redis = redis
        self.pulsar = pulsar

    def __call__(self, *args: Any) -> Any:
        expected = _normalise(self.redis.call(*args))
        got = _normalise(self.pulsar.call(*args))
        assert got == expected, f"{args!r}: PulsarDS {got!r}, redis-server {expected!r}"
        return got


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def same(
    request: pytest.FixtureRequest, redis_server: Any, pulsar: ServerThread
) -> Iterator[Differential]:
    """``same('SET', 'k', 'v')`` runs on both servers (database 11 of each, redis-server's
    flushed first) and fails if the replies differ."""
    protocol = request.param
    redis = RawClient(redis_server.port, protocol)
    redis.call("SELECT", "11")
    redis.call("FLUSHDB")
    mine = RawClient(pulsar.port, protocol)
    mine.call("SELECT", "11")
    try:
        yield Differential(redis, mine)
    finally:
        redis.call("FLUSHDB")
        redis.close()
        mine.close()


_ = os
