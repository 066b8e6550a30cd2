"""The sentinel store (``redis+sentinel://``) against real sentinels (tests/sentinel_fixture.py:
one primary, one replica, three sentinels): discovery, commands, pipelines, pub/sub, reads
on replicas, the sentinels' password, sentinels that are down, a bad service name; and the
faults, each on a setup of its own: a killed primary (traffic going on: no command applied
twice, every failure a ConnectionError), a failover announced by ``+switch-master`` (the
store moves at once, before any error), a demoted primary (READONLY), the listener moving
to another sentinel."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from time import monotonic
from typing import Any
from urllib.parse import quote

import pytest

from store._backend.synchronization import async_sleep
from store.aio import (
    ConnectError,
    ConnectionError,
    ImproperlyConfigured,
    SentinelStore,
    create_store,
)
from tests.conftest import bound_port
from tests.sentinel_fixture import (
    DOWN_AFTER_MS,
    SERVICE,
    SentinelSetup,
    SwitchWatcher,
    command,
    running_sentinels,
)

SECRET = "sent1nel-Secret/+"


def make(setup: SentinelSetup, tail: str = "", **options: Any) -> SentinelStore:
    made = create_store(setup.url(tail=tail), **{"socket_timeout": 5, **options})
    assert isinstance(made, SentinelStore)
    return made


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = monotonic() + timeout
    while not predicate():
        assert monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await async_sleep(0.01)


def get_calls(port: int) -> int:
    """How many GETs the server at ``port`` ran (INFO commandstats)."""
    for line in command(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_get:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def listening(made: SentinelStore) -> Callable[[], bool]:
    return lambda: made.listening_on is not None


@pytest.fixture(scope="module")
def redis_sentinels() -> Iterator[SentinelSetup]:
    """The module's setup: no test changes its primary."""
    yield from running_sentinels()


@pytest.fixture
async def store(redis_sentinels: SentinelSetup) -> AsyncIterator[SentinelStore]:
    made = make(redis_sentinels)
    yield made
    await made.close()


@pytest.fixture
def own_setup() -> Iterator[SentinelSetup]:
    """A setup of the test's own: it may kill or fail over its primary."""
    yield from running_sentinels()


# -- discovery and commands ------------------------------------------------------------------


async def test_discovery_and_commands(redis_sentinels: SentinelSetup, store: SentinelStore) -> None:
    assert store.primary is None  # nothing asked before the first command
    key = unique("k")
    assert await store.execute("SET", key, "v") == b"OK"
    port = redis_sentinels.primary_port()
    assert store.primary == ("127.0.0.1", port)
    assert store.settings.address == f"127.0.0.1:{port}"
    assert command(port, "GET", key) == "v"  # on the primary the sentinels name
    assert await store.execute("GET", key) == b"v"
    assert await store.ping() is True
    assert store.moves == 1


async def test_client_pipeline_transaction_lock_script(store: SentinelStore) -> None:
    client = store.client()
    key = unique("n")
    assert await client.incr(key) == 1
    pipe = store.pipeline()
    await pipe.incr(key)
    await pipe.get(key)
    assert await pipe.commit() == [2, b"2"]
    pipe = store.pipeline(transaction=True)
    await pipe.incr(key)
    await pipe.incr(key)
    assert await pipe.commit() == [3, 4]

    async def double(pipe: Any) -> None:
        value = int(await pipe.get(key))
        pipe.multi()
        await pipe.set(key, value * 2)

    await store.transaction(double, key)
    assert await client.get(key) == b"8"
    async with store.lock(unique("lock"), timeout=5) as lock:
        assert await lock.owned()
    script = store.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await script(keys=[key], args=[2]) == 10


async def test_pubsub_and_channels(store: SentinelStore) -> None:
    channel = unique("ch")
    pubsub = store.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(channel)
        assert await store.execute("PUBLISH", channel, "hello") == 1
        message = await pubsub.get_message(timeout=5)
        assert message is not None and message.data == b"hello"
    finally:
        await pubsub.close()
    calls: list[tuple[str, str, Any]] = []
    async with store.channels() as channels:
        await channels.register(channel, "created", lambda c, e, d: calls.append((c, e, d)))
        assert await channels.publish(channel, "created", {"id": 1}) == 1
        await eventually(lambda: len(calls) == 1, "the event")
    assert calls == [(channel, "created", {"id": 1})]


async def test_dns_repr_and_options(redis_sentinels: SentinelSetup) -> None:
    made = make(redis_sentinels, "/2?sentinel_password=" + SECRET.replace("/", "%2F"))
    try:
        assert made.service == SERVICE and made.database == "2"
        assert made.dns.startswith(f"redis+sentinel://{redis_sentinels.hosts}/{SERVICE}/2?")
        assert "sentinel_password=***" in repr(made)
        for secret in (SECRET, SECRET.replace("/", "%2F")):
            assert secret not in repr(made) and secret not in str(made)
        assert made.sentinels == tuple(("127.0.0.1", p) for p in redis_sentinels.sentinel_ports)
    finally:
        await made.close()
    with pytest.raises(ImproperlyConfigured, match="unknown option 'sentinel_pass'"):
        make(redis_sentinels, sentinel_pass="x")
    with pytest.raises(ImproperlyConfigured, match="service name"):
        create_store(f"redis+sentinel://{redis_sentinels.hosts}")
    with pytest.raises(ImproperlyConfigured, match="sentinel_password"):
        create_store("redis://127.0.0.1:1", sentinel_password="x")  # not a single node's


async def test_database_from_the_url(redis_sentinels: SentinelSetup) -> None:
    made = make(redis_sentinels, "/3")
    key = unique("db")
    try:
        await made.execute("SET", key, "three")
        assert command(redis_sentinels.primary_port(), "GET", key) is None  # not in db 0
        assert await made.execute("GET", key) == b"three"
    finally:
        await made.execute("DEL", key)
        await made.close()


# -- replicas --------------------------------------------------------------------------------


async def test_reads_on_the_replica(redis_sentinels: SentinelSetup) -> None:
    made = make(redis_sentinels, "?read_from_replicas=true")
    key = unique("r")
    try:
        assert made.read_from_replicas
        await made.execute("SET", key, "v")
        assert await made.execute("WAIT", 1, 1000) == 1  # the replica has it
        primary = redis_sentinels.primary_port()
        (replica,) = [n.port for n in redis_sentinels.nodes if n.port != primary]
        before = get_calls(replica), get_calls(primary)
        for _ in range(5):
            assert await made.execute("GET", key) == b"v"
        after = get_calls(replica), get_calls(primary)
        assert after[0] - before[0] == 5  # every read on the replica
        assert after[1] == before[1]
        await made.execute("INCR", unique("w"))  # writes stay on the primary
    finally:
        await made.close()


async def test_replica_down_reads_fall_back_to_the_primary(own_setup: SentinelSetup) -> None:
    made = make(own_setup, "?read_from_replicas=true")
    key = unique("r")
    try:
        await made.execute("SET", key, "v")
        assert await made.execute("WAIT", 1, 1000) == 1
        assert await made.execute("GET", key) == b"v"
        primary = own_setup.primary_port()
        (replica,) = [n for n in own_setup.nodes if n.port != primary]
        replica.stop()
        before = get_calls(primary)
        for _ in range(3):
            assert await made.execute("GET", key) == b"v"  # no error: the primary answers
        assert get_calls(primary) - before == 3
    finally:
        await made.close()


# -- the sentinels -----------------------------------------------------------------------------


async def test_sentinels_with_a_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="store")
    wrong = "Wr0ng-S3ntinel"
    for setup in running_sentinels(sentinel_password=SECRET):
        encoded = quote(SECRET, safe="")
        made = make(setup, f"?sentinel_password={encoded}")
        try:
            assert await made.execute("SET", unique("a"), "1") == b"OK"
            assert made.primary == ("127.0.0.1", setup.primary_port())
        finally:
            await made.close()
        for tail in ("", f"?sentinel_password={wrong}"):
            refused = make(setup, tail)
            try:
                with pytest.raises(ConnectError) as info:
                    await refused.execute("GET", "a")
            finally:
                await refused.close()
            text = str(info.value)
            assert SERVICE in text and setup.hosts.split(",")[0] in text
            assert ("NOAUTH" if not tail else "WRONGPASS") in text  # the sentinels' refusal
            for shown in (text, repr(refused), caplog.text):
                for secret in (wrong, SECRET, encoded):
                    assert secret not in shown


async def test_a_sentinel_down_is_skipped(redis_sentinels: SentinelSetup) -> None:
    with bound_port() as port:
        hosts = f"127.0.0.1:{port}," + redis_sentinels.hosts
        made = create_store(f"redis+sentinel://{hosts}/{SERVICE}", socket_connect_timeout=2)
        assert isinstance(made, SentinelStore)
        try:
            assert await made.execute("PING") == b"PONG"
            assert made.primary == ("127.0.0.1", redis_sentinels.primary_port())
            # the listener subscribed on a sentinel that answers
            await eventually(listening(made), "the listener")
        finally:
            await made.close()


def fake_sentinel(port: int) -> Callable[[bytes], bytes | None]:
    """A sentinel that names ``port`` as the primary (RESP2: it refuses HELLO)."""

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return b"-ERR unknown command 'HELLO'\r\n"
        if b"get-master-addr-by-name" in data:
            text = str(port).encode()
            return b"*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%s\r\n" % (len(text), text)
        if b"SUBSCRIBE" in data:
            return b""  # never confirms: the listener waits (until the store is closed)
        return b"-ERR not here\r\n"

    return respond


async def test_a_replica_named_as_the_primary_is_refused(
    redis_sentinels: SentinelSetup, scripted_server: Any
) -> None:
    primary = redis_sentinels.primary_port()
    (replica,) = [n.port for n in redis_sentinels.nodes if n.port != primary]
    fake = scripted_server(fake_sentinel(replica))
    alone = create_store(f"redis+sentinel://127.0.0.1:{fake.port}/{SERVICE}")
    try:
        with pytest.raises(ConnectError) as info:
            await alone.execute("PING")
    finally:
        await alone.close()
    named = f"127.0.0.1:{fake.port} named 127.0.0.1:{replica}, not a primary by its ROLE"
    assert str(info.value).count(named) == 2  # asked again after a pause
    # the next sentinel is asked, and names the primary
    hosts = f"127.0.0.1:{fake.port},{redis_sentinels.hosts}"
    made = create_store(f"redis+sentinel://{hosts}/{SERVICE}")
    assert isinstance(made, SentinelStore)
    try:
        assert await made.execute("PING") == b"PONG"
        assert made.primary == ("127.0.0.1", primary)
    finally:
        await made.close()


async def test_bad_service_name(redis_sentinels: SentinelSetup) -> None:
    made = create_store(f"redis+sentinel://{redis_sentinels.hosts}/nosuchservice")
    try:
        with pytest.raises(ConnectError) as info:
            await made.execute("GET", "k")
    finally:
        await made.close()
    text = str(info.value)
    assert "'nosuchservice'" in text
    for port in redis_sentinels.sentinel_ports:
        assert f"127.0.0.1:{port}: no such service" in text


async def test_no_sentinel_answers() -> None:
    with bound_port() as first, bound_port() as second:
        made = create_store(f"redis+sentinel://127.0.0.1:{first},127.0.0.1:{second}/svc")
        try:
            with pytest.raises(ConnectError) as info:
                await made.execute("GET", "k")
            assert isinstance(info.value, ConnectionError)
        finally:
            await made.close()
        text = str(info.value)
        assert "'svc'" in text
        assert f"127.0.0.1:{first}" in text and f"127.0.0.1:{second}" in text


# -- faults ----------------------------------------------------------------------------------


async def test_a_demoted_primary_is_left_on_readonly(redis_sentinels: SentinelSetup) -> None:
    made = make(redis_sentinels)
    try:
        await made.execute("PING")
        primary = redis_sentinels.primary_port()
        (replica,) = [n.port for n in redis_sentinels.nodes if n.port != primary]
        # as if the primary had been demoted unseen: the store talks to a replica
        made._move(("127.0.0.1", replica), "the test")
        key = unique("w")
        assert await made.execute("SET", key, "v") == b"OK"  # READONLY, then the primary
        assert made.primary == ("127.0.0.1", primary)
        assert command(primary, "GET", key) == "v"
    finally:
        await made.close()


async def test_switch_master_moves_the_store_at_once(own_setup: SentinelSetup) -> None:
    made = make(own_setup)
    channel = unique("ch")
    pubsub = made.pubsub(ignore_subscribe_messages=True)
    try:
        await made.execute("SET", "before", "1")
        await pubsub.subscribe(channel)
        await eventually(listening(made), "the listener")
        old, moves = made.primary, made.moves
        assert old is not None
        watcher = SwitchWatcher(own_setup, 0)  # the sentinel that fails over tells first
        try:
            own_setup.sentinel(0, "SENTINEL", "FAILOVER", SERVICE)
            await eventually(lambda: made.primary != old, "the move", 10)
            moved_at = monotonic()
            announced_at, _ = watcher.wait(1)
        finally:
            watcher.close()
        new = own_setup.primary_port()
        assert made.primary == ("127.0.0.1", new) and made.moves == moves + 1
        assert moved_at - announced_at < 0.5  # at the announcement, before anything failed
        # the old primary still takes writes for a while: the store already does not
        assert command(old[1], "ROLE")[0] == "master"
        assert await made.execute("SET", "after", "1") == b"OK"
        assert command(new, "GET", "after") == "1"
        # the subscriber was moved too: it hears what is published on the new primary
        got: list[Any] = []
        deadline = monotonic() + 5
        while not got:
            assert monotonic() < deadline, "the subscriber heard nothing after the failover"
            await made.execute("PUBLISH", channel, "again")
            message = await pubsub.get_message(timeout=0.2)
            if message is not None and message.type == "message":
                got.append(message.data)
        assert got == [b"again"]
        assert command(new, "PUBSUB", "NUMSUB", channel)[1] == 1
    finally:
        await pubsub.close()
        await made.close()


async def test_the_listener_moves_to_another_sentinel(own_setup: SentinelSetup) -> None:
    made = make(own_setup)
    try:
        await made.execute("PING")
        await eventually(listening(made), "the listener")
        listened = made.listening_on
        assert listened is not None
        index = own_setup.sentinel_ports.index(listened[1])
        own_setup.sentinels[index].stop()
        await eventually(
            lambda: made.listening_on not in (None, listened), "the listener on another sentinel"
        )
        old = made.primary
        other = (index + 1) % 3
        own_setup.sentinel(other, "SENTINEL", "FAILOVER", SERVICE)
        await eventually(lambda: made.primary != old, "the move", 10)
        assert made.primary == ("127.0.0.1", own_setup.primary_port(other))
    finally:
        await made.close()


async def test_primary_killed_under_traffic(own_setup: SentinelSetup) -> None:
    """INCR and SET of unique keys go on while the primary is SIGKILLed: the store follows
    the new primary within a second of the sentinels' announcement, every failure meanwhile
    is a ConnectionError, and no command is applied twice."""
    made = make(own_setup, socket_timeout=2, socket_connect_timeout=1)
    channel = unique("ch")
    pubsub = made.pubsub(ignore_subscribe_messages=True)
    counter = unique("counter")
    # lists, appended to: safe from the threads of the blocking twin
    acked: list[int] = []  # INCRs acknowledged
    confirmed: list[int] = []  # ... and known to be on the replica (or done on the new one)
    maybe: list[int] = []  # failed INCRs that may have been applied (not ConnectError)
    failures: list[BaseException] = []
    keys: list[str] = []  # SETs acknowledged
    first_ok_after: list[float] = []  # when the new primary acknowledged an INCR
    stop: list[bool] = []
    old_port = -1

    async def one_round() -> None:
        before = made.primary
        try:
            await made.execute("INCR", counter)
        except ConnectionError as exc:
            failures.append(exc)
            if not isinstance(exc, ConnectError):
                maybe.append(1)
            await async_sleep(0.01)
            return
        except Exception as exc:  # anything else fails the test (below)
            failures.append(exc)
            return
        acked.append(1)
        if before is not None and before[1] != old_port and made.primary == before:
            confirmed.append(1)  # on the new primary
            first_ok_after.append(monotonic())
        else:
            try:
                if await made.execute("WAIT", 1, 100) == 1:
                    confirmed.append(1)
            except Exception as exc:
                failures.append(exc)
        key = unique("k")
        try:
            await made.execute("SET", key, "v")
        except Exception as exc:
            failures.append(exc)
        else:
            keys.append(key)

    async def traffic() -> None:
        while not stop:
            await one_round()

    try:
        await made.execute("SET", counter, 0)
        await pubsub.subscribe(channel)
        await eventually(listening(made), "the listener")
        # each sentinel announces when it learns of the failover: the first one counts
        watchers = [SwitchWatcher(own_setup, index) for index in range(3)]
        try:
            old_port = own_setup.primary_port()
            for _ in range(20):
                await one_round()
            assert not failures and not first_ok_after
            killed_at = monotonic()
            own_setup.kill_primary()
            if True:  # ASYNC
                from store._backend.synchronization import current_loop

                loop = current_loop()
                workers = [loop.create_task(traffic()) for _ in range(4)]
            else:  # SYNC
                from concurrent.futures import ThreadPoolExecutor

                executor = ThreadPoolExecutor(2)
                workers = [executor.submit(traffic) for _ in range(2)]
            deadline = killed_at + 15
            while not first_ok_after and monotonic() < deadline:
                await async_sleep(0.01)
            await async_sleep(0.2)
            stop.append(True)
            if True:  # ASYNC
                for worker in workers:
                    await worker
            else:  # SYNC
                for worker in workers:
                    worker.result()
                executor.shutdown()
            watchers[0].wait(3)  # each sentinel announces within a few of its hello periods
            announced_at = min(w.announced[0][0] for w in watchers if w.announced)
        finally:
            for watcher in watchers:
                watcher.close()
        assert first_ok_after, "the store never reached the new primary"
        followed_at = first_ok_after[0]
        assert followed_at - announced_at < 1.0, followed_at - announced_at
        assert announced_at - killed_at > DOWN_AFTER_MS / 1000 - 0.1  # a real failover
        new_port = own_setup.primary_port()
        assert made.primary == ("127.0.0.1", new_port) != ("127.0.0.1", old_port)
        for failure in failures:
            assert isinstance(failure, ConnectionError), repr(failure)
        value = int(command(new_port, "GET", counter))
        assert value >= len(confirmed)  # nothing acknowledged and replicated was lost
        # nothing applied twice: beyond the acknowledged, at most the failures that may
        # have reached the old primary before it died
        assert value - len(acked) <= len(maybe), (value, len(acked), len(maybe))
        for key in keys[-5:]:  # the last SETs are on the new primary
            assert command(new_port, "GET", key) == "v"
        # the subscriber is back, on the new primary
        deadline = monotonic() + 5
        while True:
            assert monotonic() < deadline, "the subscriber heard nothing after the failover"
            await made.execute("PUBLISH", channel, "again")
            message = await pubsub.get_message(timeout=0.2)
            if message is not None and message.type == "message":
                break
    finally:
        await pubsub.close()
        await made.close()
