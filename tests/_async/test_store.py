"""The store, its connections and pool against a real redis-server (both variants)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from store.aio import (
    AuthenticationError,
    ConnectionError,
    DataError,
    ImproperlyConfigured,
    NoSuchStore,
    PoolExhaustedError,
    ProtocolError,
    RedisStore,
    ResponseError,
    TimeoutError,
    WrongTypeError,
    create_store,
)

from .conftest import command_calls, connections, pool_of

StoreFactory = Callable[..., RedisStore]


# -- the spec's examples -------------------------------------------------------------------


def test_spec_connection_string() -> None:
    store = create_store("redis://user:password@127.0.0.1:6500/11")
    assert store.name == "redis"
    assert store.database == "11"
    assert store.dns == "redis://user:password@127.0.0.1:6500/11"
    assert store._host == ("127.0.0.1", 6500)
    assert store._user == "user"
    assert store._password == "password"
    assert store.encoding == "utf-8"
    assert store.urlparams == {}


def test_spec_extra_parameters_join_the_dns() -> None:
    store = create_store("redis://user:password@127.0.0.1:6500/11", namespace="test_")
    assert store.dns == "redis://user:password@127.0.0.1:6500/11?namespace=test_"
    assert store.urlparams == {"namespace": "test_"}
    again = create_store(store.dns)
    assert again.dns == store.dns
    assert again.urlparams == {"namespace": "test_"}


def test_keywords_override_the_url() -> None:
    store = create_store(
        "redis://user:password@127.0.0.1:6500/11?socket_timeout=2",
        database=3,
        user="bob",
        password="other",
        socket_timeout=5,
    )
    assert store.database == "3"
    assert store._user == "bob"
    assert store._password == "other"
    assert isinstance(store, RedisStore)
    assert store.settings.socket_timeout == 5.0
    assert store.settings.database == 3
    assert store.dns == "redis://bob:other@127.0.0.1:6500/3?socket_timeout=5.0"


def test_default_ports_tls_and_unix() -> None:
    assert create_store("redis://localhost")._host == ("localhost", 6379)
    assert create_store("redis://")._host == ("127.0.0.1", 6379)
    tls = create_store("rediss://h:7000?ssl_cert_reqs=none")
    assert isinstance(tls, RedisStore)
    assert tls.settings.ssl_context is not None
    unix = create_store("unix:///tmp/redis.sock?db=4")
    assert unix._host == "/tmp/redis.sock"
    assert unix.database == "4"
    assert unix.dns == "unix:///tmp/redis.sock?db=4"


def test_typed_options_from_the_query() -> None:
    store = create_store(
        "redis://h/2?socket_timeout=1.5&socket_connect_timeout=3&max_connections=7"
        "&protocol=2&decode_responses=yes&client_name=worker-1"
    )
    assert isinstance(store, RedisStore)
    settings = store.settings
    assert settings.socket_timeout == 1.5
    assert settings.connect_timeout == 3.0
    assert settings.protocol == 2
    assert settings.encoding == "utf-8"
    assert settings.client_name == "worker-1"
    assert store.pool.max_connections == 7


@pytest.mark.parametrize(
    ("url", "kw", "needle"),
    [
        ("redis://h:notaport", {}, "port"),
        ("redis://h/abc", {}, "'abc'"),
        ("redis://h/1/2", {}, "single path segment"),
        ("redis://h?socket_timeout=soon", {}, "socket_timeout"),
        ("redis://h?max_connections=0", {}, "max_connections"),
        ("redis://h?protocol=4", {}, "protocol"),
        ("redis://h?socket_timout=1", {}, "socket_timout"),
        ("redis://h", {"decode_responses": "maybe"}, "decode_responses"),
        ("redis://h#frag", {}, "fragment"),
        ("redis://h?ssl_ca_certs=/x", {}, "TLS"),
        ("unix://host/x.sock", {}, "no host"),
    ],
)
def test_bad_configuration_names_the_bad_part(url: str, kw: dict[str, Any], needle: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        create_store(url, **kw)
    assert needle in str(info.value)


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(NoSuchStore) as info:
        create_store("mongo://h")
    assert "'mongo'" in str(info.value)
    assert "redis" in str(info.value)
    with pytest.raises(NoSuchStore):
        create_store("127.0.0.1:6379")


def test_password_never_in_repr_or_errors() -> None:
    store = create_store("redis://u:hunter2@127.0.0.1:6500/1")
    assert "hunter2" not in repr(store)
    assert "hunter2" not in str(store)
    assert "hunter2" not in repr(store.settings)
    assert "u:***@" in repr(store)
    with pytest.raises(ImproperlyConfigured) as info:
        create_store("redis://u:hunter2@h:99999999/1")
    assert "hunter2" not in str(info.value)


def test_encode_and_decode_bytes() -> None:
    store = create_store("redis://h")
    assert store.encode_bytes("é") == "é".encode()
    assert store.encode_bytes(b"\xff") == b"\xff"
    assert store.dencode_bytes(b"\xc3\xa9") == "é"
    assert store.decode_bytes("x") == "x"
    assert store.table_all() == {}
    with pytest.raises(TypeError):
        store.encode_bytes(3)  # type: ignore[arg-type]


# -- talking to the server -----------------------------------------------------------------


async def test_execute_roundtrip(store: RedisStore) -> None:
    assert await store.ping() is True
    assert await store.execute("SET", "k", "v") in (b"OK", "OK")
    assert await store.execute("GET", "k") == b"v"
    assert await store.execute("GET", "missing") is None
    assert await store.execute("INCRBY", "n", 5) == 5
    assert await store.execute("SET", "f", 1.5) in (b"OK", "OK")
    assert await store.execute("GET", "f") == b"1.5"
    value = bytes(range(256)) * 10
    await store.execute("SET", b"bin", value)
    assert await store.execute("GET", b"bin") == value
    await store.flush()
    assert await store.execute("DBSIZE") == 0


async def test_large_value_roundtrip(store: RedisStore) -> None:
    value = os.urandom(3 * 1024 * 1024)
    await store.execute("SET", "big", value)
    assert await store.execute("GET", "big") == value


async def test_callback_shapes_the_reply(store: RedisStore) -> None:
    await store.execute("RPUSH", "l", "a", "b")
    assert await store.execute("LRANGE", "l", 0, -1, callback=len) == 2


async def test_decode_responses(store_factory: StoreFactory) -> None:
    store = store_factory(decode_responses=True)
    await store.execute("SET", "k", "é")
    assert await store.execute("GET", "k") == "é"


async def test_error_reply_keeps_the_connection(store: RedisStore) -> None:
    await store.execute("SET", "s", "x")
    with pytest.raises(WrongTypeError) as info:
        await store.execute("LPUSH", "s", "y")
    assert info.value.code == "WRONGTYPE"
    with pytest.raises(ResponseError) as error:
        await store.execute("NOSUCHCOMMAND")
    assert error.value.code == "ERR"
    assert pool_of(store, "s").idle == 1
    assert await store.execute("GET", "s") == b"x"
    assert pool_of(store, "s").idle == 1


@pytest.mark.parametrize("bad", [None, True, {"a": 1}, ["x"], object()])
async def test_bad_argument_refused_before_sending(store_factory: StoreFactory, bad: Any) -> None:
    store = store_factory()
    with pytest.raises(DataError) as info:
        await store.execute("SET", "k", bad)
    assert type(bad).__name__ in str(info.value)
    # nothing was sent: no connection was even opened
    assert connections(store) == (0, 0)


@pytest.mark.single_node("a cluster has only database 0: the cluster store refuses another")
async def test_database_selection(store_factory: StoreFactory, server_url: str) -> None:
    db0 = store_factory(server_url + "/0")
    db5 = store_factory(server_url + "/5")
    await db5.flush()
    await db0.execute("SET", "where", "zero")
    await db5.execute("SET", "where", "five")
    assert await db0.execute("GET", "where") == b"zero"
    assert await db5.execute("GET", "where") == b"five"
    await db5.flush()


async def test_client_name_is_set(store_factory: StoreFactory) -> None:
    store = store_factory(client_name="store-tests")
    assert await store.execute("CLIENT", "GETNAME") == b"store-tests"


@pytest.mark.single_node("a cluster is reached over TCP: its nodes have no unix socket here")
async def test_unix_socket(store_factory: StoreFactory, unix_path: str) -> None:
    store = store_factory(f"unix://{unix_path}?db=2")
    await store.execute("SET", "via", "unix")
    assert await store.execute("GET", "via") == b"unix"
    await store.flush()


@pytest.mark.single_node(
    "uses a single-node server of its own (a password server): on the cluster target it "
    "would only run again"
)
async def test_password_and_acl_user(
    store_factory: StoreFactory, redis_password_server: Any
) -> None:
    url = f"redis://:s3cret-pass@127.0.0.1:{redis_password_server.port}"
    admin = store_factory(url)
    assert await admin.ping() is True
    await admin.execute("ACL", "SETUSER", "alice", "on", ">alice-pass", "~*", "+@all")
    alice = store_factory(f"redis://alice:alice-pass@127.0.0.1:{redis_password_server.port}")
    assert await alice.execute("ACL", "WHOAMI") in (b"alice", "alice")


@pytest.mark.single_node(
    "uses a single-node server of its own (a password server): on the cluster target it "
    "would only run again"
)
async def test_wrong_password_is_an_authentication_error(
    store_factory: StoreFactory, redis_password_server: Any
) -> None:
    store = store_factory(f"redis://:wrong-hunter2@127.0.0.1:{redis_password_server.port}")
    with pytest.raises(AuthenticationError) as info:
        await store.ping()
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value)
    no_password = store_factory(f"redis://127.0.0.1:{redis_password_server.port}")
    with pytest.raises(AuthenticationError):
        await no_password.execute("GET", "k")


async def test_context_manager_closes(store_factory: StoreFactory) -> None:
    async with store_factory() as store:
        await store.ping()
        await store.execute("GET", "k")
        assert pool_of(store, "k").idle == 1
    assert connections(store) == (0, 0)


@pytest.mark.single_node(
    "a cluster store has no single connection: connect() is refused (the "
    "NotImplementedError names node_store(address).connect())"
)
async def test_connect_gives_a_dedicated_connection(store: RedisStore) -> None:
    async with await store.connect() as connection:
        assert await connection.execute("PING") in (b"PONG", "PONG")
        await connection.execute("SET", "k", "dedicated")
        with pytest.raises(ResponseError):
            await connection.execute("INCR", "k")
    assert not connection.is_connected
    assert await store.execute("GET", "k") == b"dedicated"
    assert store.pool.in_use == 0


# -- the pool ----------------------------------------------------------------------------------


@pytest.mark.single_node(
    "store.pool is a single-node store's one pool: a cluster store has one per "
    "node, and PING may go to any of them"
)
async def test_pool_is_bounded(store_factory: StoreFactory) -> None:
    store = store_factory(max_connections=2, pool_timeout=0.2)
    first = await store.pool.acquire()
    second = await store.pool.acquire()
    with pytest.raises(PoolExhaustedError) as info:
        await store.execute("PING")
    assert "2" in str(info.value)
    store.pool.release(first)
    assert await store.ping() is True
    store.pool.release(second)
    assert store.pool.idle == 2 and store.pool.in_use == 0


@pytest.mark.single_node(
    "store.pool is a single-node store's one pool: a cluster store has one per node"
)
async def test_a_lease_gives_back_on_success_and_discards_on_an_exception(
    store_factory: StoreFactory,
) -> None:
    store = store_factory(max_connections=2)
    pool = store.pool
    async with pool.lease() as connection:
        assert pool.in_use == 1
        assert await connection.execute("PING") in (True, b"PONG", "PONG")
    assert pool.in_use == 0 and pool.idle == 1 and connection.is_connected
    async with pool.lease() as again:
        assert again is connection  # the same connection, reused
    with pytest.raises(KeyError):
        async with pool.lease() as failing:
            raise KeyError("an exchange interrupted midway")
    # its reply may still be on the way: closed, never reused, its slot free again
    assert not failing.is_connected
    assert pool.in_use == 0 and pool.idle == 0
    async with pool.lease() as fresh, pool.lease() as other:
        assert fresh is not failing and other is not fresh
        assert pool.in_use == 2
    assert pool.in_use == 0 and pool.idle == 2


@pytest.mark.single_node(
    "CLIENT KILL goes to a random primary, maybe not the one holding the "
    "pooled connection (then it kills none and the test's premise fails)"
)
async def test_dead_pooled_connection_is_replaced_without_resending(
    store_factory: StoreFactory,
) -> None:
    store = store_factory(client_name="victim")
    killer = store_factory()
    await store.execute("SET", "counter", 0)
    # the server drops the idle pooled connection; the next command must not be lost
    # nor applied twice
    assert await killer.execute("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal") >= 1
    assert await store.execute("INCR", "counter") == 1
    assert await store.execute("GET", "counter") == b"1"


@pytest.mark.single_node(
    "uses a single-node server of its own (a restartable server): on the cluster target it "
    "would only run again"
)
async def test_server_restart_recovers(
    store_factory: StoreFactory, restartable_server: Any
) -> None:
    store = store_factory(restartable_server.url)
    await store.execute("SET", "k", "before")
    restartable_server.stop()
    restartable_server.start()
    # the pooled connection died with the old server; a fresh one is used
    assert await store.execute("GET", "k") is None
    await store.execute("SET", "k", "after")
    assert await store.execute("GET", "k") == b"after"


@pytest.mark.single_node(
    "uses a single-node server of its own (an unused port): on the cluster target it "
    "would only run again"
)
async def test_unreachable_server_raises_connection_error(store_factory: StoreFactory) -> None:
    from tests.conftest import free_port

    store = store_factory(f"redis://127.0.0.1:{free_port()}", retries=1, retry_backoff=0.01)
    with pytest.raises(ConnectionError) as info:
        await store.ping()
    assert "127.0.0.1" in str(info.value)


# -- misbehaving servers --------------------------------------------------------------------


def _resp2_server(answer: bytes | None) -> Callable[[bytes], bytes | None]:
    """Says HELLO is unknown (so the client speaks RESP2), then answers every command so."""

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return b"-ERR unknown command 'HELLO'\r\n"
        return answer

    return respond


@pytest.mark.single_node(
    "uses a single-node server of its own (a scripted server): on the cluster target it "
    "would only run again"
)
async def test_garbage_is_a_protocol_error_and_the_connection_is_dropped(
    store_factory: StoreFactory, scripted_server: Any
) -> None:
    server = scripted_server(_resp2_server(b"?what\r\n"))
    store = store_factory(server.url, retries=0)
    with pytest.raises(ProtocolError):
        await store.execute("GET", "k")
    assert store.pool.idle == 0 and store.pool.in_use == 0


@pytest.mark.single_node(
    "uses a single-node server of its own (a scripted server): on the cluster target it "
    "would only run again"
)
async def test_close_mid_reply_is_a_connection_error(
    store_factory: StoreFactory, scripted_server: Any
) -> None:
    calls: list[bytes] = []

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return b"-ERR unknown command 'HELLO'\r\n"
        calls.append(data)
        return None if len(calls) > 1 else b"$10\r\nabc"

    server = scripted_server(respond)
    store = store_factory(server.url, retries=0, socket_timeout=0.5)
    with pytest.raises((ConnectionError, TimeoutError)):
        await store.execute("GET", "k")
    assert store.pool.idle == 0


@pytest.mark.single_node(
    "uses a single-node server of its own (a scripted server): on the cluster target it "
    "would only run again"
)
async def test_stalled_server_times_out(store_factory: StoreFactory, scripted_server: Any) -> None:
    server = scripted_server(_resp2_server(b""))
    store = store_factory(server.url, socket_timeout=0.2)
    with pytest.raises(TimeoutError) as info:
        await store.execute("GET", "k")
    assert f"127.0.0.1:{server.port}" in str(info.value)
    assert store.pool.idle == 0 and store.pool.in_use == 0


async def test_blocking_command_outlives_the_socket_timeout(store_factory: StoreFactory) -> None:
    store = store_factory(socket_timeout=0.2)
    assert await store.execute("BLPOP", "nothing-here", 1) is None
    await store.execute("RPUSH", "q", "x")
    assert await store.execute("BLPOP", "q", 1) in ([b"q", b"x"], (b"q", b"x"))


@pytest.mark.single_node(
    "uses a single-node server of its own (a TLS server): on the cluster target it "
    "would only run again"
)
async def test_tls(store_factory: StoreFactory, redis_tls_server: Any) -> None:
    server, files = redis_tls_server
    store = store_factory(f"rediss://localhost:{server.port}?ssl_ca_certs={files.ca}")
    await store.execute("SET", "secure", "yes")
    assert await store.execute("GET", "secure") == b"yes"
    untrusted = store_factory(f"rediss://localhost:{server.port}", retries=0)
    with pytest.raises(ConnectionError) as info:
        await untrusted.ping()
    assert "certificate" in str(info.value).lower()
    await store.flush()


@pytest.mark.single_node(
    "uses a single-node server of its own (a scripted server): on the cluster target it "
    "would only run again"
)
async def test_sent_command_is_resent_only_when_idempotent(
    store_factory: StoreFactory, scripted_server: Any
) -> None:
    received: list[bytes] = []

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return b"-ERR unknown command 'HELLO'\r\n"
        received.append(data)
        # the first INCR reaches the server, which dies before answering
        return None if len(received) <= 2 else b":1\r\n"

    server = scripted_server(respond)
    store = store_factory(server.url, retry_backoff=0.001)
    with pytest.raises(ConnectionError):
        await store.execute("INCR", "n")
    assert len(received) == 1  # not re-sent: it may have been applied
    assert await store.execute("INCR", "n", idempotent=True) == 1
    assert len(received) == 3  # sent and lost, then sent again


@pytest.mark.single_node(
    "uses a single-node server of its own (a scripted server): on the cluster target it "
    "would only run again"
)
async def test_server_without_hello_gets_auth_and_resp2(
    store_factory: StoreFactory, scripted_server: Any
) -> None:
    received: list[bytes] = []

    def respond(data: bytes) -> bytes | None:
        received.append(data)
        if b"HELLO" in data:  # HELLO and SELECT came together: answer both, as Redis 5 does
            return b"-ERR unknown command 'HELLO'\r\n-NOAUTH Authentication required.\r\n"
        if data.startswith(b"*3\r\n$4\r\nAUTH"):
            # AUTH, CLIENT SETNAME and SELECT arrive together in one write
            return b"+OK\r\n+OK\r\n+OK\r\n"
        return b"$2\r\nv1\r\n"

    server = scripted_server(respond)
    url = f"redis://old:pw@127.0.0.1:{server.port}/4"
    store = store_factory(url, client_name="legacy", protocol=3)
    assert await store.execute("GET", "k") == b"v1"
    assert b"HELLO" in received[0] and b"AUTH" in received[0] and b"SETNAME" in received[0]
    setup = received[1]
    assert setup.count(b"*") == 3
    assert b"AUTH\r\n$3\r\nold\r\n$2\r\npw" in setup
    assert b"SETNAME\r\n$6\r\nlegacy" in setup
    assert b"SELECT\r\n$1\r\n4" in setup


@pytest.mark.single_node(
    "uses a single-node server of its own (a scripted server): on the cluster target it "
    "would only run again"
)
async def test_silent_server_cannot_hang_the_handshake(
    store_factory: StoreFactory, scripted_server: Any
) -> None:
    server = scripted_server(lambda data: b"")
    # a client name makes RESP2 connections do a handshake too
    store = store_factory(server.url, socket_connect_timeout=0.2, retries=0, client_name="patient")
    with pytest.raises(TimeoutError):
        await store.ping()
    assert store.pool.idle == 0 and store.pool.in_use == 0


async def _ping_calls(store: RedisStore) -> int:
    return (await command_calls(store, "ping"))["ping"]


async def test_health_check_pings_only_idle_connections(store_factory: StoreFactory) -> None:
    from store._backend.synchronization import async_sleep

    store = store_factory(health_check_interval=0.2)
    await store.execute("SET", "k", "v")
    before = await _ping_calls(store)
    for _ in range(20):  # busy connection: no health check PINGs
        await store.execute("GET", "k")
    await async_sleep(0.3)
    assert await store.execute("GET", "k") == b"v"  # idle past the interval: one PING
    for _ in range(20):
        await store.execute("GET", "k")
    assert await _ping_calls(store) - before == 1


@pytest.mark.single_node(
    "uses a single-node server of its own (a full listen queue): on the cluster target it "
    "would only run again"
)
async def test_connect_timeout(store_factory: StoreFactory, blackhole_url: str) -> None:
    store = store_factory(blackhole_url, socket_connect_timeout=0.2, retries=1, retry_backoff=0.01)
    with pytest.raises(TimeoutError) as info:
        await store.ping()
    assert "timed out connecting" in str(info.value)
    assert store.pool.in_use == 0
