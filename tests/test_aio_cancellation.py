"""asyncio only: a cancelled command never leaves its reply for the next caller."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import random
import socket
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

import store.aio
from tests.test_aio_pipelining import _connections_named


async def test_cancelled_command_does_not_leak_its_reply(redis_url: str) -> None:
    made = store.aio.create_store(redis_url + "/8", max_connections=1)
    await made.flush()
    await made.execute("SET", "a", "value-of-a")
    await made.execute("SET", "b", "value-of-b")
    for delay in (0, 0.0001, 0.001, 0.005):
        task = asyncio.ensure_future(made.execute("BLPOP", "empty-list", 0.05))
        await asyncio.sleep(delay)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert await made.execute("GET", "b") == b"value-of-b"
        assert made.pool.in_use == 0
    # many GETs cancelled at random points; survivors get their own replies
    tasks = [asyncio.ensure_future(made.execute("GET", "a")) for _ in range(200)]
    for i, task in enumerate(tasks):
        if i % 3 == 0:
            task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for i, result in enumerate(results):
        if not isinstance(result, asyncio.CancelledError):
            assert result == b"value-of-a", (i, result)
    assert await made.execute("GET", "b") == b"value-of-b"
    await made.flush()
    await made.close()


# -- thousands of commands cancelled at aimed points ---------------------------------------
#
# Each command is a task; some get a canceller that watches where the task is suspended
# (by walking its chain of awaiting coroutines) and cancels it once it reaches the point it
# aims at: not started yet, waiting for a pool slot or for the shared connection to open,
# connecting, health-checking an idle connection (its PING), in the middle of writing a
# multi-megabyte request (the transport paused for the socket to drain), waiting for its
# reply, or in the middle of a multi-megabyte reply (part of it already in the connection's
# reader). Others are cancelled after a random number of loop iterations. Every command
# that was not cancelled must get exactly its own reply: the requests are distinct (keys,
# ECHO payloads, INCRBY amounts), so a reply given to the wrong caller is caught.

SEED = 20261129
MAX_CONNECTIONS = 3
BIG_MIN = 1 << 20
BIG_MAX = 4 << 20
BATCH = 48
BIG_KEYS = 6
SMALL_KEYS = 500


def _buffered(reader: Any) -> bool:
    """Whether a RESP reader (hiredis or pure Python) holds part of a reply."""
    has_data = getattr(reader, "has_data", None)
    if has_data is not None:
        return bool(has_data())
    return bool(len(reader._buf) - reader._pos + reader._pending > 0)


def _where(task: asyncio.Future[Any], made: store.aio.RedisStore) -> str:
    """The point where ``task`` (running RedisStore.execute or a pipeline) is suspended."""
    coro: Any = task.get_coro()  # type: ignore[attr-defined]
    if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        return "not-started"
    chain: dict[str, Any] = {}
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        chain[coro.cr_code.co_qualname] = coro.cr_frame
        coro = coro.cr_await
    if "AsyncConnection.check_health" in chain:
        return "health-check"  # the PING of an idle connection about to be reused
    if "AsyncConnectionPool.connect" in chain:
        return "connecting"
    if "AsyncSemaphore.acquire" in chain:
        return "pool-wait"
    if "AsyncMultiplexer._open" in chain:
        return "opening-wait"
    if "AsyncStream.write" in chain:
        return "mid-send"
    frame = chain.get("AsyncConnection._next_reply")
    if frame is not None:
        return "mid-reply" if _buffered(frame.f_locals["reader"]) else "reply-wait"
    frame = chain.get("AsyncMultiplexer.execute")
    if frame is not None and "waiter" in frame.f_locals:
        shared, waiter = frame.f_locals["shared"], frame.f_locals["waiter"]
        waiters = shared.waiters
        if waiters and waiters[0] is waiter and _buffered(shared.reader):
            return "mid-reply"
        stream = shared.stream
        if (
            waiters
            and waiters[-1] is waiter
            and (stream._out or stream._transport.get_write_buffer_size())
        ):
            return "mid-send"  # the last request queued: the bytes still unsent are its own
        return "reply-wait"
    return "other"


def _small_send_buffers(made: store.aio.RedisStore) -> None:
    """Every connection the pool opens gets a 64 KiB socket send buffer: on loopback the
    kernel would otherwise take a 4 MB request in one send, and there would be no
    "middle of the write" to cancel in (with it, a write spans a hundred loop iterations)."""
    pool = made.pool
    connect = pool.connect

    async def connect_small() -> Any:
        connection = await connect()
        assert connection.stream is not None
        sock = connection.stream._transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
        return connection

    pool.connect = connect_small  # type: ignore[method-assign]


@dataclass
class _Op:
    """One command (or a pipeline), what it must return, and how it may be cancelled."""

    number: int
    kind: str
    args: tuple[Any, ...]
    expected: Any
    target: str | None = None  # where to cancel it; "spins:N" for N loop iterations
    delay: int = 0  # loop iterations before it is issued: commands arrive while others run
    written: tuple[str, bytes] | None = None  # key, value a successful SET leaves
    task: asyncio.Future[Any] | None = field(default=None, repr=False)


class _Workload:
    def __init__(self, rng: random.Random, pipelined: bool, health_checks: bool) -> None:
        self.rng = rng
        self.blob = rng.randbytes(BIG_MAX)
        self.big = [
            b"big-%d:" % j + self.blob[: rng.randrange(BIG_MIN, BIG_MAX)] for j in range(BIG_KEYS)
        ]
        self.numbers = 0
        # cancellation points each path has
        self.targets = ["not-started", "connecting", "mid-send", "reply-wait", "mid-reply"]
        self.targets.append("opening-wait" if pipelined else "pool-wait")
        if health_checks:
            self.targets.append("health-check")

    def payload(self, number: int) -> bytes:
        size = self.rng.randrange(BIG_MIN, BIG_MAX)
        return b"payload-%d:" % number + self.blob[:size]

    def op(self) -> _Op:
        rng = self.rng
        self.numbers += 1
        n = self.numbers
        kind = rng.choices(
            ["get", "incrby", "echo", "echo-big", "get-big", "set-big", "pipeline"],
            [30, 20, 15, 6, 6, 4, 4],
        )[0]
        op: _Op
        if kind == "get":
            i = rng.randrange(SMALL_KEYS)
            op = _Op(n, kind, ("GET", f"s{i}"), f"small-{i}".encode())
        elif kind == "incrby":
            op = _Op(n, kind, ("INCRBY", f"n{n}", n), n)
        elif kind == "echo":
            token = f"echo-{n}-{rng.getrandbits(64):x}".encode()
            op = _Op(n, kind, ("ECHO", token), token)
        elif kind == "echo-big":
            payload = self.payload(n)
            op = _Op(n, kind, ("ECHO", payload), payload)
        elif kind == "get-big":
            j = rng.randrange(BIG_KEYS)
            op = _Op(n, kind, ("GET", f"b{j}"), self.big[j])
        elif kind == "set-big":
            payload = self.payload(n)
            op = _Op(n, kind, ("SET", f"w{n}", payload), b"OK", written=(f"w{n}", payload))
        else:
            payload = self.payload(n)
            op = _Op(n, kind, (f"p{n}", payload), [b"OK", n, payload[:64]])
        if rng.random() < 0.5:
            op.delay = rng.randrange(30)
        if rng.random() < 0.45:
            if rng.random() < 0.25:
                op.target = f"spins:{rng.randrange(40)}"
            else:
                op.target = rng.choice(self.targets)
        return op


async def _run(made: store.aio.RedisStore, op: _Op) -> Any:
    for _ in range(op.delay):
        await asyncio.sleep(0)
    if op.kind != "pipeline":
        return await made.execute(*op.args)
    key, payload = op.args
    pipe = made.pipeline()
    await pipe.execute("SET", key, payload)
    await pipe.execute("INCRBY", f"pn{op.number}", op.number)
    await pipe.execute("GETRANGE", key, 0, 63)
    return await pipe.commit()


async def _cancel_at(op: _Op, made: store.aio.RedisStore, hits: Counter[str]) -> None:
    task = op.task
    assert task is not None and op.target is not None
    if op.target.startswith("spins:"):
        for _ in range(int(op.target[6:])):
            await asyncio.sleep(0)
        if not task.done():
            hits["after-spins:" + _where(task, made)] += 1
            task.cancel()
        return
    while not task.done():
        if _where(task, made) == op.target:
            hits[op.target] += 1
            task.cancel()
            return
        await asyncio.sleep(0)


async def _check_idle_connections(made: store.aio.RedisStore, round_number: int) -> None:
    """Every connection the pool would hand out has nothing pending: nothing unread, no
    reply on its way (a command on it gets its own reply), and it is healthy."""
    pool = made.pool
    assert pool.in_use == 0, pool
    assert 0 < pool.idle <= MAX_CONNECTIONS, pool
    for k, connection in enumerate(list(pool._idle)):
        assert connection.is_alive(), (round_number, connection)
        assert not _buffered(connection.reader), (round_number, connection)
        token = f"idle-{round_number}-{k}-{uuid.uuid4().hex}".encode()
        assert await connection.execute("ECHO", token) == token
        assert not _buffered(connection.reader)
    # and through the pool: every idle connection, taken at once, answers its own command
    taken = [await pool.acquire() for _ in range(pool.idle)]
    try:
        for k, connection in enumerate(taken):
            token = f"acquired-{round_number}-{k}".encode()
            assert await connection.execute("ECHO", token) == token
    finally:
        for connection in taken:
            pool.release(connection)
    assert pool.in_use == 0


@pytest.mark.parametrize(
    ("server", "auto_pipelining", "timeouts", "rounds"),
    [
        ("redis", True, False, 48),
        ("redis", False, False, 48),
        ("redis", True, True, 48),
        ("redis", False, True, 48),
        ("pulsar", True, False, 24),
        ("pulsar", False, False, 24),
    ],
    ids=[
        "redis-auto-pipelining",
        "redis-pooled",
        "redis-auto-pipelining-timeouts",
        "redis-pooled-timeouts",
        "pulsar-auto-pipelining",
        "pulsar-pooled",
    ],
)
async def test_thousands_of_cancellations_never_cross_replies(
    request: pytest.FixtureRequest, server: str, auto_pipelining: bool, timeouts: bool, rounds: int
) -> None:
    """With ``timeouts`` the replies are awaited under a socket timeout (never reached)
    and every idle connection is PINGed before reuse (a health check to cancel in).
    Against PulsarDS too: the server sees clients vanish mid-request and mid-reply."""
    url: str = request.getfixturevalue(f"{server}_url")
    rng = random.Random(SEED + 2 * timeouts + auto_pipelining)
    workload = _Workload(rng, auto_pipelining, timeouts)
    name = f"cancel-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {}
    if timeouts:
        options = {"socket_timeout": 120, "health_check_interval": 0.001}
    made = store.aio.create_store(
        url + "/10",
        max_connections=MAX_CONNECTIONS,
        auto_pipelining=auto_pipelining,
        client_name=name,
        **options,
    )
    assert isinstance(made, store.aio.RedisStore)
    assert (made._multiplexer is not None) == auto_pipelining
    _small_send_buffers(made)
    hits: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    written: list[tuple[str, bytes, bool]] = []  # key, value, whether the SET succeeded
    try:
        await made.flush()
        await made.execute("MSET", *(x for i in range(SMALL_KEYS) for x in (f"s{i}", f"small-{i}")))
        for j, value in enumerate(workload.big):
            await made.execute("SET", f"b{j}", value)
        async with asyncio.timeout(240):
            for round_number in range(rounds):
                if round_number % 2 == 1:
                    # no idle connection: the first commands must connect while the others
                    # wait for a pool slot or for the shared connection to open
                    await made.close()
                ops = [workload.op() for _ in range(BATCH)]
                # the first command of a round takes a connection from the pool: it must
                # open one after close(), or PING an idle one first when health checks are
                # on; half the time, aim at that
                first = ops[0]
                first.delay = 0
                if round_number % 2 == 1 or timeouts:
                    if rng.random() < 0.5:
                        first.target = "connecting" if round_number % 2 == 1 else "health-check"
                for op in ops:
                    op.task = asyncio.ensure_future(_run(made, op))
                    if op.target == "not-started":  # before its first step: nothing sent
                        hits[op.target] += 1
                        op.task.cancel()
                cancellers = [
                    asyncio.ensure_future(_cancel_at(op, made, hits))
                    for op in ops
                    if op.target and op.target != "not-started"
                ]
                results = await asyncio.gather(
                    *(op.task for op in ops if op.task), return_exceptions=True
                )
                await asyncio.gather(*cancellers)
                for op, result in zip(ops, results, strict=True):
                    if isinstance(result, asyncio.CancelledError):
                        assert op.target is not None, (op.number, op.kind)
                        outcomes["cancelled"] += 1
                    else:
                        # a survivor gets its own reply, never another command's or an error
                        assert not isinstance(result, BaseException), (op.number, op.kind, result)
                        outcomes["replied"] += 1
                        if result != op.expected:
                            got = result if len(repr(result)) < 200 else _digest(result)
                            want = _digest(op.expected)
                            raise AssertionError(f"op {op.number} {op.kind}: {got!r} != {want}")
                    if op.written is not None:
                        written.append((*op.written, result == b"OK"))
                # a command issued afterwards gets its own reply, and nothing stays in use
                token = f"after-round-{round_number}".encode()
                assert await made.execute("ECHO", token) == token
                await _check_idle_connections(made, round_number)
            # every successful big SET is stored whole; a cancelled one wholly or not at all
            for key, value, succeeded in written:
                stored = await made.execute("GET", key)
                if succeeded:
                    assert stored == value, key
                else:
                    assert stored in (None, value), key
            for _ in range(50):  # connections closed on cancellation may take a moment
                if await _connections_named(url, name) <= MAX_CONNECTIONS:
                    break
                await asyncio.sleep(0.1)
            assert await _connections_named(url, name) <= MAX_CONNECTIONS
    finally:
        await made.flush()
        await made.close()
    # the aimed points were all reached, and thousands of commands were cancelled
    missed = [target for target in workload.targets if hits[target] < 3]
    assert not missed, (missed, hits)
    assert outcomes["cancelled"] >= 8 * rounds and outcomes["replied"] >= 8 * rounds, outcomes


def _digest(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes {value[:24]!r}... sha1 {hashlib.sha1(value).hexdigest()}>"
    if isinstance(value, list):
        return "[" + ", ".join(_digest(item) for item in value) + "]"
    return repr(value)
