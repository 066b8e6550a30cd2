"""ConnectError: a command that provably never reached the server fails with ConnectError
(a ConnectionError), one that was written and then lost its connection with a plain
ConnectionError. Real sockets: a port nobody listens on, small scripted servers, the fault
proxy in front of a real redis-server; both variants."""

from __future__ import annotations

import builtins
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from store.aio import (
    AuthenticationError,
    ConnectError,
    ConnectionError,
    RedisStore,
    ResponseError,
    TLSHandshakeError,
    create_store,
)
from store.resp import pack_command
from tests.conftest import RedisServer, ScriptedServer, bound_port
from tests.faults import FaultProxy

if True:  # ASYNC
    from store._backend.synchronization import async_sleep, current_loop
    from tests.faults import Background

StoreFactory = Callable[..., RedisStore]
Respond = Callable[[bytes], bytes | None]

SECRET = "Conn3ct-Secret-7"

BOTH_PROTOCOLS = pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
AUTO_PIPELINING = pytest.mark.parametrize(
    "auto_pipelining", [True, False], ids=["auto-pipelining", "pooled"]
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def store_factory() -> AsyncIterator[StoreFactory]:
    """Makes stores (the servers are the tests' own: no target); closes them."""
    made: list[RedisStore] = []

    def factory(url: str, **kw: Any) -> RedisStore:
        result = create_store(url, **kw)
        assert isinstance(result, RedisStore)
        made.append(result)
        return result

    yield factory
    for result in made:
        await result.close()


def _text(exc: BaseException) -> str:
    """The exception as anyone could see it: str, repr, the traceback and the chain."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


def _key() -> str:
    return f"connect-error:{uuid.uuid4().hex[:12]}"


# -- nothing listens: every path raises ConnectError --------------------------------------


@AUTO_PIPELINING
async def test_a_closed_port_is_a_connect_error(
    store_factory: StoreFactory, auto_pipelining: bool
) -> None:
    with bound_port() as port:
        address = f"127.0.0.1:{port}"
        made = store_factory(
            f"redis://:{SECRET}@{address}",
            retries=2,
            retry_backoff=0.01,
            auto_pipelining=auto_pipelining,
        )
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
            (("INCR", "k"), {}),
            (("SET", "k", "v"), {"idempotent": False}),
            (("INCR", "k"), {"idempotent": True}),
            (("GET", "k"), {}),  # re-sent after a connection error: still never sent
            (("BLPOP", "k", 1), {}),  # a pooled connection of its own
        ]
        for args, options in calls:
            with pytest.raises(ConnectError) as info:
                await made.execute(*args, **options)
            exc = info.value
            # caught by everything that catches a ConnectionError today
            assert isinstance(exc, ConnectionError) and isinstance(exc, builtins.ConnectionError)
            assert not isinstance(exc, TLSHandshakeError)
            assert "refused" in str(exc) and address in str(exc), exc
            assert SECRET not in _text(exc)
            assert made.pool.in_use == 0 and made.pool.idle == 0
        for transaction in (False, True):
            pipe = made.pipeline(transaction=transaction)
            await pipe.execute("INCR", "k")
            with pytest.raises(ConnectError) as info:
                await pipe.commit()
            assert address in str(info.value) and SECRET not in _text(info.value)
        with pytest.raises(ConnectError):
            await made.connect()
        with pytest.raises(ConnectError):
            await made.ping()
        assert made.pool.in_use == 0 and made.pool.idle == 0


# -- a server that hangs up: before the command (ConnectError) or after it (not one) ------


def _hello_reply(data: bytes) -> bytes:
    return b"%1\r\n+proto\r\n:3\r\n" if b"HELLO" in data.upper() else b""


def _closing_on(word: bytes, seen: list[bytes]) -> Respond:
    """A script that answers HELLO and hangs up when it receives ``word``."""

    def respond(data: bytes) -> bytes | None:
        seen.append(data)
        if word in data.upper():
            return None
        return _hello_reply(data)

    return respond


@BOTH_PROTOCOLS
async def test_a_connection_lost_after_the_write_is_not_a_connect_error(
    store_factory: StoreFactory,
    scripted_server: Callable[[Respond], ScriptedServer],
    protocol: int,
) -> None:
    seen: list[bytes] = []
    server = scripted_server(_closing_on(b"INCR", seen))
    address = f"127.0.0.1:{server.port}"
    for auto_pipelining in (True, False):
        made = store_factory(
            server.url,
            protocol=protocol,
            retries=2,
            retry_backoff=0.01,
            auto_pipelining=auto_pipelining,
        )
        before = server.connections
        with pytest.raises(ConnectionError) as info:
            await made.execute("INCR", "k")
        exc = info.value
        # the server received it and hung up: it may have been applied
        assert not isinstance(exc, ConnectError), exc
        assert address in str(exc)
        assert sum(chunk.upper().count(b"INCR") for chunk in seen) == 1
        assert server.connections == before + 1  # never sent again
        seen.clear()


@BOTH_PROTOCOLS
async def test_a_connection_lost_in_the_handshake_is_a_connect_error(
    store_factory: StoreFactory,
    scripted_server: Callable[[Respond], ScriptedServer],
    protocol: int,
) -> None:
    seen: list[bytes] = []
    # RESP3 hangs up on HELLO; RESP2 (no HELLO) on its CLIENT SETNAME
    server = scripted_server(_closing_on(b"HELLO" if protocol == 3 else b"SETNAME", seen))
    address = f"127.0.0.1:{server.port}"
    made = store_factory(
        server.url, protocol=protocol, client_name="probe", retries=2, retry_backoff=0.01
    )
    for args in (("INCR", "k"), ("GET", "k")):
        with pytest.raises(ConnectError) as info:
            await made.execute(*args)
        assert address in str(info.value)
    assert not any(b"INCR" in chunk.upper() or b"GET" in chunk.upper() for chunk in seen)
    assert made.pool.in_use == 0 and made.pool.idle == 0


@BOTH_PROTOCOLS
async def test_a_refused_password_is_still_an_authentication_error(
    store_factory: StoreFactory, redis_password_server: RedisServer, protocol: int
) -> None:
    address = f"127.0.0.1:{redis_password_server.port}"
    made = store_factory(
        f"redis://:{SECRET}@{address}", protocol=protocol, retries=2, retry_backoff=0.01
    )
    with pytest.raises(AuthenticationError) as info:
        await made.execute("INCR", "k")
    exc = info.value
    assert isinstance(exc, ResponseError) and not isinstance(exc, ConnectionError)
    assert address in str(exc) and SECRET not in _text(exc)


async def test_a_failed_tls_handshake_is_a_connect_error_never_retried(
    store_factory: StoreFactory, scripted_server: Callable[[Respond], ScriptedServer]
) -> None:
    server = scripted_server(lambda data: None)  # hangs up on the TLS hello
    made = store_factory(
        f"rediss://127.0.0.1:{server.port}?ssl_cert_reqs=none", retries=2, retry_backoff=0.01
    )
    for args in (("INCR", "k"), ("GET", "k")):
        before = server.connections
        with pytest.raises(TLSHandshakeError) as info:
            await made.execute(*args)
        assert isinstance(info.value, ConnectError)
        assert f"127.0.0.1:{server.port}" in str(info.value)
        assert server.connections == before + 1  # a configuration problem: not retried


# -- through the fault proxy, in front of a real redis-server ------------------------------


@AUTO_PIPELINING
async def test_a_dead_server_is_a_connect_error_for_the_next_write(
    store_factory: StoreFactory, fault_proxy: FaultProxy, auto_pipelining: bool
) -> None:
    """The failover case: the server died (its connections cut, its port refused) while a
    connection was idle in the pool: the next write is provably not applied."""
    made = store_factory(
        fault_proxy.url, retries=2, retry_backoff=0.01, auto_pipelining=auto_pipelining
    )
    key = _key()
    await made.execute("SET", key, 0)
    fault_proxy.refuse()
    fault_proxy.cut()
    with pytest.raises(ConnectError) as info:
        await made.execute("INCR", key)
    assert fault_proxy.address in str(info.value)
    assert fault_proxy.count("INCR") == 0
    fault_proxy.accept()
    assert await made.execute("INCR", key) == 1


@AUTO_PIPELINING
async def test_a_resent_command_whose_retry_cannot_connect_is_not_a_connect_error(
    store_factory: StoreFactory, fault_proxy: FaultProxy, auto_pipelining: bool
) -> None:
    """A read (or idempotent=True) reached the server, lost its connection, and every
    attempt to send it again failed to connect: it may have been applied once, so the last
    failure (refused) is raised as a plain ConnectionError."""
    made = store_factory(
        fault_proxy.url, retries=2, retry_backoff=0.01, auto_pipelining=auto_pipelining
    )
    key = _key()
    await made.execute("SET", key, 0)
    for args, options in ((("GET", key), {}), (("INCR", key), {"idempotent": True})):
        fault_proxy.accept()
        assert await made.execute("EXISTS", key) == 1  # a connection open to cut
        name = str(args[0])
        count = fault_proxy.count(name)
        fault_proxy.refuse()
        fault_proxy.cut(after_request_bytes=len(pack_command(*args)))
        with pytest.raises(ConnectionError) as info:
            await made.execute(*args, **options)
        exc = info.value
        assert not isinstance(exc, ConnectError), exc
        assert "refused" in str(exc) and fault_proxy.address in str(exc)
        assert fault_proxy.count(name) == count + 1  # it did reach the server
    fault_proxy.accept()
    assert await made.execute("GET", key) == b"1"


if True:  # ASYNC

    async def test_shared_connection_commands_never_written_are_connect_errors(
        store_factory: StoreFactory, fault_proxy: FaultProxy
    ) -> None:
        """Commands issued on the shared connection while it is cut: those that fail with
        ConnectError never reached the server (the INCRs it counts are at most the others),
        and the ones issued in the event loop iteration that saw the cut are among them."""
        made = store_factory(fault_proxy.url, socket_timeout=10)
        key = _key()
        await made.execute("SET", key, 0)
        loop = current_loop()
        tasks: list[Any] = []
        cut = Background(fault_proxy.cut, delay=0.2)
        # one new INCR per event loop iteration until one has failed
        for _ in range(200_000):
            if any(task.done() and task.exception() for task in tasks[-50:]):
                break
            tasks.append(loop.create_task(made.execute("INCR", key)))
            await async_sleep(0)
        outcomes: list[Any] = []
        for task in tasks:
            try:
                outcomes.append(await task)
            except ConnectionError as exc:
                outcomes.append(exc)
        cut.join()
        never = [o for o in outcomes if isinstance(o, ConnectError)]
        lost = [o for o in outcomes if isinstance(o, ConnectionError) and o not in never]
        done = [o for o in outcomes if isinstance(o, int)]
        assert len(never) + len(lost) + len(done) == len(outcomes), outcomes
        assert never, "the iteration of the cut issued a command: it was never written"
        applied = int(await made.execute("GET", key))
        assert applied == fault_proxy.count("INCR")
        # only the commands that are not ConnectErrors may have been applied
        assert len(done) <= applied <= len(done) + len(lost)
