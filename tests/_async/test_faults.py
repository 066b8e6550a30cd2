"""Reliability under faults: network cuts, stalls, delays, refused connections, corrupted
replies and server restarts, injected by the fault proxy (tests/faults.py) between the
client and a real server (both variants, redis-server and PulsarDS)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from time import monotonic
from typing import Any

import pytest

from store import resp
from store._backend.synchronization import async_sleep
from store._backend.workers import AsyncWorker
from store.aio import ConnectionError, ProtocolError, RedisStore, TimeoutError
from tests.conftest import RedisServer
from tests.faults import Background, FaultProxy, send_command

StoreFactory = Callable[..., RedisStore]

# tests that restart a server run against redis-server only (it is the restartable one)
PARSERS = ["python", "hiredis"] if resp.HIREDIS_AVAILABLE else ["python"]
REDIS_TARGETS = [("redis", protocol, parser) for protocol in (2, 3) for parser in PARSERS]
on_redis_only = pytest.mark.parametrize(
    "target", REDIS_TARGETS, ids=[f"redis-resp{p}-{parser}" for _, p, parser in REDIS_TARGETS]
)

# a guard against hangs only: every test here takes a second or two at most
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def proxy(
    target: tuple[str, int, str],
    request: pytest.FixtureRequest,
    make_fault_proxy: Callable[..., FaultProxy],
) -> FaultProxy:
    """A fault proxy in front of the server under test."""
    if target[0] == "redis":
        made: FaultProxy = request.getfixturevalue("fault_proxy")
        return made
    server = request.getfixturevalue("pulsar_server")
    return make_fault_proxy(server.port)


def _key() -> str:
    return f"faults:{uuid.uuid4().hex[:12]}"


def _is_pair(reply: Any, first: bytes, second: bytes) -> bool:
    return reply in ([first, second], (first, second))


# -- network cuts ---------------------------------------------------------------------------


async def test_cut_mid_reply_fails_only_the_command_in_flight(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    store = store_factory(proxy.url, socket_timeout=10)
    key = _key()
    big = b"x" * 300_000
    await store.execute("SET", f"{key}:big", big)
    for i in range(10):
        await store.execute("SET", f"{key}:{i}", f"value-{i}")
    # 0: cut before the first byte of the reply; then in its header, in its body
    for n, after in enumerate((0, 1, 3, 10, 100_000, 299_000)):
        connections, gets = proxy.connections, proxy.count("GET")
        proxy.cut(after_reply_bytes=after)
        with pytest.raises(ConnectionError) as info:  # a read is re-sent unless told not to
            await store.execute("GET", f"{key}:big", idempotent=False)
        assert not isinstance(info.value, ProtocolError)
        assert proxy.address in str(info.value)
        assert proxy.cuts == n + 1
        assert proxy.count("GET") == gets + 1  # it reached the server once: never re-sent
        assert store.pool.in_use == 0 and store.pool.idle == 0  # the broken one is gone
        # the next command gets its own reply, on a fresh connection
        assert await store.execute("GET", f"{key}:{n}") == f"value-{n}".encode()
        assert proxy.connections == connections + 1
    # a cut while idle: the dead connection is noticed before anything is sent on it
    for i in range(3):
        proxy.cut()
        gets = proxy.count("GET")
        assert await store.execute("GET", f"{key}:{i}") == f"value-{i}".encode()
        assert proxy.count("GET") == gets + 1
    assert await store.execute("GET", f"{key}:big") == big
    for i in range(10):
        assert await store.execute("GET", f"{key}:{i}") == f"value-{i}".encode()
    assert store.pool.in_use == 0


async def test_cut_mid_request_never_reaches_the_server(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    store = store_factory(proxy.url, socket_timeout=10)
    key = _key()
    await store.execute("SET", key, "old")
    request = resp.pack_command("SET", key, "new")
    for after in (0, 1, len(request) // 2, len(request) - 1):
        sets = proxy.count("SET")
        proxy.cut(after_request_bytes=after)
        with pytest.raises(ConnectionError):
            await store.execute("SET", key, "new")
        assert proxy.count("SET") == sets  # incomplete: the server never ran it
        assert await store.execute("GET", key) == b"old"
    # the whole request got through and then the connection was cut: it ran, once
    proxy.cut(after_request_bytes=len(request))
    with pytest.raises(ConnectionError):
        await store.execute("SET", key, "new")
    assert proxy.count("SET") == 2
    assert await store.execute("GET", key) == b"new"


async def test_random_cuts_never_apply_a_command_twice(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    """INCR and LPUSH while the proxy cuts every connection at random points (mid-request,
    between request and reply, mid-reply, mid-handshake): the server's state is exactly
    the effect of the requests the proxy forwarded, each applied once."""
    # one connection at most, so that a slot lost in a failure path shows (pool timeout);
    # (with an event loop: one store shares a connection, the other takes a pooled one)
    options = {"socket_timeout": 10, "retry_backoff": 0.001, "max_connections": 1}
    stores = [
        store_factory(proxy.url, pool_timeout=5, **options),
        store_factory(proxy.url, pool_timeout=5, auto_pipelining=False, **options),
    ]
    key = _key()
    counter, items = f"{key}:n", f"{key}:list"
    rng = random.Random(20261129)
    succeeded = failed = 0
    for i in range(300):
        if rng.random() < 0.3 and not proxy.cut_armed:
            if rng.random() < 0.5:
                proxy.cut(after_request_bytes=rng.randrange(80))
            else:
                proxy.cut(after_reply_bytes=rng.randrange(40))
        store = rng.choice(stores)
        name = "INCR" if rng.random() < 0.6 else "LPUSH"
        before = proxy.count(name)
        try:
            if name == "INCR":
                reply = await store.execute("INCR", counter)
            else:
                reply = await store.execute("LPUSH", items, f"item-{i}")
        except ConnectionError as exc:
            assert not isinstance(exc, ProtocolError), exc
            failed += 1
            # it may have reached the server (then its reply was lost), but only once
            assert proxy.count(name) - before in (0, 1)
        else:
            succeeded += 1
            assert proxy.count(name) == before + 1
            # the new value of the counter / length of the list: distinct and exact
            assert reply == before + 1
    assert failed >= 20 and succeeded >= 150, (failed, succeeded)
    if proxy.cut_armed:  # a cut point not reached yet must not hit the checks below
        proxy.cut()
    # the server's state: exactly one effect per forwarded request
    assert await store.execute("GET", counter) == str(proxy.count("INCR")).encode()
    pushed = [command[2] for command in proxy.commands("LPUSH")]
    assert len(set(pushed)) == len(pushed)
    assert list(await store.execute("LRANGE", items, 0, -1)) == pushed[::-1]
    assert all(store.pool.in_use == 0 for store in stores)


async def test_concurrent_callers_get_their_own_replies_through_cuts(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    """Callers on tasks (threads in the blocking variant) share the store while the proxy
    cuts every connection at random moments: each success is the caller's own reply, and
    each INCR took effect at most once (tasks: many commands in flight on one shared
    connection fail together; threads: one pooled connection each)."""
    callers = 8
    store = store_factory(
        proxy.url,
        socket_timeout=10,
        retry_backoff=0.001,
        max_connections=callers,  # a slot lost in a failure path shows (pool timeout)
        pool_timeout=5,
    )
    key = _key()
    for w in range(callers):
        await store.execute("SET", f"{key}:v{w}", f"value-of-{w}")
    running = [True]
    outcomes: list[list[tuple[str, Any]]] = [[] for _ in range(callers)]

    def caller(w: int) -> Callable[[], Any]:
        async def work() -> None:
            mine, counter = f"{key}:v{w}", f"{key}:n{w}"
            while running[0]:
                for name in ("GET", "INCR"):
                    try:
                        if name == "GET":
                            reply = await store.execute("GET", mine)
                        else:
                            reply = await store.execute("INCR", counter)
                    except Exception as exc:  # checked below, in the test's own flow
                        outcomes[w].append((name, exc))
                    else:
                        outcomes[w].append((name, reply))

        return work

    workers = [AsyncWorker(caller(w), f"caller-{w}") for w in range(callers)]
    for worker in workers:
        worker.start()
    rng = random.Random(61)
    for _ in range(12):
        await async_sleep(rng.uniform(0.01, 0.04))
        proxy.cut()
    running[0] = False
    deadline = monotonic() + 60
    while any(worker.is_running() for worker in workers) and monotonic() < deadline:
        await async_sleep(0.01)
    assert not any(worker.is_running() for worker in workers)
    failures = 0
    forwarded = [command[1] for command in proxy.commands("INCR")]
    for w, outcome in enumerate(outcomes):
        previous, lost = 0, 0
        for name, reply in outcome:
            if isinstance(reply, BaseException):
                assert isinstance(reply, ConnectionError), reply
                assert not isinstance(reply, ProtocolError), reply
                failures += 1
                lost += name == "INCR"
            elif name == "GET":
                assert reply == f"value-of-{w}".encode()
            else:  # one more than before, plus at most one per INCR lost in between
                assert 1 <= reply - previous <= 1 + lost, (w, previous, reply, lost)
                previous, lost = reply, 0
        counter = f"{key}:n{w}"
        applied = str(forwarded.count(counter.encode())).encode()
        assert await store.execute("GET", counter) == applied
    assert failures > 0
    assert store.pool.in_use == 0


@pytest.mark.parametrize("transaction", [True, False], ids=["transaction", "pipeline"])
async def test_pipeline_cut_anywhere_applies_what_was_forwarded_once(
    store_factory: StoreFactory, proxy: FaultProxy, transaction: bool
) -> None:
    """A transaction is all or nothing wherever the cut falls; a plain pipeline applies
    exactly the commands that reached the server; neither is ever sent again."""
    store = store_factory(proxy.url, socket_timeout=10)
    key = _key()
    a, b = f"{key}:a", f"{key}:b"
    await store.execute("MSET", a, 0, b, 0)
    commands = [("INCR", a), ("INCR", b)]
    if transaction:
        commands = [("MULTI",), *commands, ("EXEC",)]
    size = sum(len(resp.pack_command(*args)) for args in commands)
    points = [("request", n) for n in (*range(0, size, 5), size - 1, size)]
    cut_in_requests = len(points)  # each of these fails: no reply can be complete
    points += [("reply", n) for n in range(0, 30, 3)]
    failed = 0
    for where, n in points:
        if where == "request":
            proxy.cut(after_request_bytes=n)
        else:
            proxy.cut(after_reply_bytes=n)
        pipe = store.pipeline(transaction=transaction)
        await pipe.execute("INCR", a)
        await pipe.execute("INCR", b)
        try:
            replies: list[Any] | None = await pipe.commit()
        except ConnectionError:
            failed += 1
            replies = None
        if proxy.cut_armed:  # the cut point lay beyond this pipeline's bytes
            proxy.cut()
        forwarded = [command[1].decode() for command in proxy.commands("INCR")]
        expected = [forwarded.count(a), forwarded.count(b)]
        if transaction:  # both increments or neither, once per EXEC that reached the server
            expected = [proxy.count("EXEC")] * 2
        assert replies in (None, expected)
        assert await store.execute("MGET", a, b) == [str(x).encode() for x in expected]
    assert failed > cut_in_requests


async def test_idempotent_command_is_resent_after_a_cut(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    store = store_factory(proxy.url, socket_timeout=10, retry_backoff=0.001)
    key = _key()
    await store.execute("SET", key, "value")
    await store.execute("SET", f"{key}:n", "0")
    for after in (0, 3):  # before the reply, in the middle of it
        gets = proxy.count("GET")
        proxy.cut(after_reply_bytes=after)
        # re-sent on a fresh connection: the caller sees the reply, not the cut
        assert await store.execute("GET", key, idempotent=True) == b"value"
        assert proxy.count("GET") == gets + 2
        # a read-only command is re-sent without being told (the command table says so)
        proxy.cut(after_reply_bytes=after)
        assert await store.execute("Get", key) == b"value"
        assert proxy.count("GET") == gets + 4
    await store.execute("PING")  # a live connection: the cut must not hit a handshake
    gets = proxy.count("GET")
    proxy.cut(after_reply_bytes=3)
    with pytest.raises(ConnectionError):  # told not to
        await store.execute("GET", key, idempotent=False)
    assert proxy.count("GET") == gets + 1
    await store.execute("PING")
    incrs = proxy.count("INCR")
    proxy.cut(after_reply_bytes=1)
    with pytest.raises(ConnectionError):  # a write, not said to be idempotent
        await store.execute("INCR", f"{key}:n")
    assert proxy.count("INCR") == incrs + 1
    assert await store.execute("GET", f"{key}:n") == b"1"


# -- stalls, delays, dropped bytes, refused connections ------------------------------------


# how a reply is held; with an event loop, also on a pooled (not shared) connection
HOLDS = [("stall", True), ("delay", True)]
if True:  # ASYNC
    HOLDS.append(("stall", False))


@pytest.mark.parametrize(
    ("hold", "auto_pipelining"), HOLDS, ids=["stall", "delay", "stall-pooled"][: len(HOLDS)]
)
async def test_reply_held_past_the_socket_timeout_is_never_read_later(
    store_factory: StoreFactory, proxy: FaultProxy, hold: str, auto_pipelining: bool
) -> None:
    store = store_factory(proxy.url, socket_timeout=0.2, auto_pipelining=auto_pipelining)
    key = _key()
    await store.execute("SET", f"{key}:a", "stale-reply")
    await store.execute("SET", f"{key}:b", "fresh-reply")
    connections, gets = proxy.connections, proxy.count("GET")
    if hold == "stall":
        proxy.stall()
    else:
        proxy.set_delay(1.0)
    started = monotonic()
    with pytest.raises(TimeoutError) as info:
        await store.execute("GET", f"{key}:a")
    assert monotonic() - started < 30  # a guard against a hang, not a speed test
    assert proxy.address in str(info.value)
    # the request reached the server: its reply exists, held in the proxy
    assert proxy.count("GET") == gets + 1
    assert store.pool.in_use == 0 and store.pool.idle == 0  # that connection was dropped
    if hold == "stall":
        proxy.resume()
    else:
        proxy.set_delay(0)
    # the stale reply of the first GET is never taken for the reply of this one
    assert await store.execute("GET", f"{key}:b") == b"fresh-reply"
    assert proxy.connections == connections + 1
    assert await store.execute("GET", f"{key}:a") == b"stale-reply"


async def test_blocking_command_outlives_the_socket_timeout_through_the_proxy(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    store = store_factory(proxy.url, socket_timeout=0.2)
    queue = _key()
    await store.execute("SET", f"{queue}:k", "v")
    connections = proxy.connections
    # the value comes straight to the server, long after socket_timeout
    pusher = Background(lambda: send_command(proxy.upstream[1], "RPUSH", queue, "late"), 0.5)
    reply = await store.execute("BLPOP", queue, 20)
    pusher.join()
    assert _is_pair(reply, queue.encode(), b"late")
    # the connection that waited is still good and in step
    assert await store.execute("GET", f"{queue}:k") == b"v"
    assert proxy.connections == connections


async def test_dropped_reply_bytes_are_a_protocol_error_and_the_connection_goes(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    store = store_factory(proxy.url, socket_timeout=10)
    key = _key()
    await store.execute("SET", f"{key}:a", "aaaaaaaaaaaaaaaa")
    await store.execute("SET", f"{key}:b", "bbbbbbbbbbbbbbbb")
    for dropped in (1, 4):  # "$16\r\naaaa..." becomes "16\r\n..." / "\naaaa..."
        connections = proxy.connections
        proxy.drop(reply_bytes=dropped)
        with pytest.raises(ProtocolError):  # a read is re-sent unless told not to
            await store.execute("GET", f"{key}:a", idempotent=False)
        assert store.pool.in_use == 0 and store.pool.idle == 0
        assert await store.execute("GET", f"{key}:b") == b"bbbbbbbbbbbbbbbb"
        assert proxy.connections == connections + 1


async def test_refused_connections_fail_and_recover(
    store_factory: StoreFactory, proxy: FaultProxy
) -> None:
    store = store_factory(proxy.url, retries=2, retry_backoff=0.01, socket_timeout=10)
    key = _key()
    await store.execute("SET", key, 0)
    proxy.refuse()
    proxy.cut()
    for _ in range(2):
        with pytest.raises(ConnectionError) as info:
            await store.execute("INCR", key)
        assert "refused" in str(info.value) and proxy.address in str(info.value)
        assert store.pool.in_use == 0 and store.pool.idle == 0
    assert proxy.count("INCR") == 0
    proxy.accept()
    assert await store.execute("INCR", key) == 1
    assert proxy.count("INCR") == 1


# -- timeouts without the proxy ---------------------------------------------------------------


@pytest.mark.parametrize("target", [("redis", 3, "python")], ids=["no-server"])
async def test_connect_timeout_is_bounded(store_factory: StoreFactory, blackhole_url: str) -> None:
    for retries in (0, 2):
        store = store_factory(
            blackhole_url, socket_connect_timeout=0.3, retries=retries, retry_backoff=0.01
        )
        started = monotonic()
        with pytest.raises(TimeoutError) as info:
            await store.ping()
        # each attempt gave up after socket_connect_timeout, not after the kernel's ~2 min
        # of SYN retries (a generous bound: this is no speed test)
        assert monotonic() - started < (retries + 1) * 0.3 + 10
        assert blackhole_url.split("//")[1] in str(info.value)
        assert store.pool.in_use == 0 and store.pool.idle == 0


# -- server restarts ----------------------------------------------------------------------------


def _restart(server: RedisServer) -> Callable[[], None]:
    def restart() -> None:
        server.stop()
        server.start()

    return restart


@on_redis_only
async def test_server_restart_during_a_blocking_command(
    store_factory: StoreFactory, restartable_server: RedisServer
) -> None:
    store = store_factory(restartable_server.url, socket_timeout=10, retry_backoff=0.01)
    queue = _key()
    await store.execute("SET", f"{queue}:k", "v")
    restart = Background(_restart(restartable_server), 0.3)
    with pytest.raises(ConnectionError) as info:
        await store.execute("BLPOP", queue, 30)  # in flight when the server goes
    assert f"127.0.0.1:{restartable_server.port}" in str(info.value)
    restart.join()
    assert await store.execute("GET", f"{queue}:k") is None  # the new server knows nothing
    assert await store.execute("RPUSH", queue, "x") == 1
    assert _is_pair(await store.execute("BLPOP", queue, 1), queue.encode(), b"x")


@on_redis_only
async def test_server_restart_mid_traffic_never_applies_a_command_twice(
    store_factory: StoreFactory, restartable_server: RedisServer
) -> None:
    store = store_factory(restartable_server.url, socket_timeout=10, retry_backoff=0.01)
    counter = _key()
    results: list[int | None] = [await store.execute("INCR", counter)]  # 1, on the old server
    restart = Background(_restart(restartable_server), 0.2)
    deadline = monotonic() + 60
    while restart.is_alive() and monotonic() < deadline:
        try:
            results.append(await store.execute("INCR", counter))
        except ConnectionError:
            results.append(None)
    restart.join()
    # recovered: the next commands succeed, one effect each
    after = [await store.execute("INCR", counter) for _ in range(10)]
    assert after == list(range(after[0], after[0] + 10))
    results.extend(after)
    # every value is the previous one plus one, plus at most one per failed INCR in
    # between (those may or may not have run), except once: the new server starts at 0
    previous, failures, restarts = 0, 0, 0
    for value in results:
        if value is None:
            failures += 1
            continue
        if value <= previous:
            restarts += 1
            previous = 0
        assert 1 <= value - previous <= 1 + failures, (previous, value, failures)
        previous, failures = value, 0
    assert restarts == 1
