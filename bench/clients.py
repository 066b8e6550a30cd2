"""The clients under test and how each one is opened on the benchmark's server.

Every client is configured alike: the same RESP protocol version and the same connection
limit, with a pool that waits (rather than fails) when all its connections are busy, so
that 1,000 concurrent tasks queue for 50 connections in every library.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .workloads import Command

__all__ = ["CLIENTS", "ClientSpec", "Opened", "Target"]


@dataclass(frozen=True)
class Target:
    """The server and the settings every client gets."""

    host: str
    port: int
    protocol: int
    max_connections: int
    # extra create_store() options for store's clients only, for experiments (--store-option)
    store_options: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"


@dataclass
class Opened:
    """A client ready to run workloads."""

    api: Any  # has the typed command methods (get, set, lrange, hgetall ...)
    close: Callable[[], Any]  # returns an awaitable for async clients
    info: dict[str, Any] = field(default_factory=dict)  # how it is really configured
    # for workloads with more tasks than max_connections, when ``api``'s pool would fail
    # rather than wait then (redis-py's default async pool)
    waiting_api: Any = None
    # builds an operation sending a list of commands as one pipeline and returning the
    # list of replies; None when the client has no pipelines here
    batch: Callable[[list[Command]], Any] | None = None
    # (channel, count, start_publisher) -> seconds from starting the publisher until
    # ``count`` messages were received (an awaitable of it for async clients)
    receive: Callable[[str, int, Callable[[], Any]], Any] | None = None

    def api_for(self, tasks: int, max_connections: int) -> Any:
        if tasks > max_connections and self.waiting_api is not None:
            return self.waiting_api
        return self.api


Mode = Literal["sync", "async", "external"]


def _always_available(target: Target) -> str | None:
    return None


@dataclass(frozen=True)
class ClientSpec:
    id: str
    library: str
    mode: Mode
    parser: str
    description: str
    # the redis-py client this one is compared with (ratio = our ops/s / its ops/s)
    counterpart: str | None = None
    # why the client cannot run here (missing package or binary), or None
    missing: Callable[[Target], str | None] = _always_available
    open_sync: Callable[[Target], Opened] | None = None
    open_async: Callable[[Target], Awaitable[Opened]] | None = None
    # external programs time themselves: (target, command, ops) -> ops/s
    run_external: Callable[[Target, Command, int], float] | None = None


# ------------------------------------------------------------------------------ store

RECEIVE_TIMEOUT = 10.0  # a subscriber that hears nothing for this long has lost messages


def _no_message(count: int, got: int) -> RuntimeError:
    return RuntimeError(f"pub/sub: {got} of {count} messages, then none for {RECEIVE_TIMEOUT}s")


def _store_data(message: Any) -> bool:
    return bool(message.type == "message")


def _redispy_data(message: Any) -> bool:
    return bool(message["type"] == "message")


def _time_messages(
    pubsub: Any, count: int, start: Callable[[], Any], is_data: Callable[[Any], bool]
) -> float:
    """Seconds from starting the publisher until ``count`` messages were read (sync)."""
    if pubsub.get_message(timeout=RECEIVE_TIMEOUT) is None:
        raise RuntimeError("pub/sub: no subscribe confirmation")
    began = time.perf_counter()
    publisher = start()
    got = 0
    while got < count:
        message = pubsub.get_message(timeout=RECEIVE_TIMEOUT)
        if message is None:
            raise _no_message(count, got)
        got += is_data(message)
    elapsed = time.perf_counter() - began
    publisher.wait()
    return elapsed


async def _time_messages_async(
    pubsub: Any, count: int, start: Callable[[], Any], is_data: Callable[[Any], bool]
) -> float:
    """The asyncio twin of _time_messages."""
    if await pubsub.get_message(timeout=RECEIVE_TIMEOUT) is None:
        raise RuntimeError("pub/sub: no subscribe confirmation")
    began = time.perf_counter()
    publisher = start()
    got = 0
    while got < count:
        message = await pubsub.get_message(timeout=RECEIVE_TIMEOUT)
        if message is None:
            raise _no_message(count, got)
        got += is_data(message)
    elapsed = time.perf_counter() - began
    publisher.wait()
    return elapsed


def _store_missing(parser: str) -> Callable[[Target], str | None]:
    def missing(target: Target) -> str | None:
        from store.resp import HIREDIS_AVAILABLE

        if parser == "hiredis" and not HIREDIS_AVAILABLE:
            return "hiredis is not installed"
        return None

    return missing


def _store_options(parser: str, target: Target) -> dict[str, Any]:
    return {
        "parser": parser,
        "protocol": target.protocol,
        "max_connections": target.max_connections,
        **dict(target.store_options),  # strings, as in a URL query: store coerces them
    }


def _store_sync(parser: str) -> Callable[[Target], Opened]:
    def open_sync(target: Target) -> Opened:
        import store.sync

        options = _store_options(parser, target)
        # create_store is annotated as returning the base Store, which has no client()
        db = cast(store.sync.RedisStore, store.sync.create_store(target.url, **options))

        def batch(commands: list[Command]) -> Callable[[], Any]:
            def op() -> Any:
                pipe = db.pipeline()
                for command in commands:
                    pipe.execute(*command)
                return pipe.commit()

            return op

        def receive(channel: str, count: int, start: Callable[[], Any]) -> float:
            with db.pubsub() as pubsub:
                pubsub.subscribe(channel)
                return _time_messages(pubsub, count, start, _store_data)

        return Opened(db.client(), db.close, {"options": options}, batch=batch, receive=receive)

    return open_sync


def _store_aio(parser: str) -> Callable[[Target], Awaitable[Opened]]:
    async def open_async(target: Target) -> Opened:
        import store.aio

        options = _store_options(parser, target)
        db = cast(store.aio.RedisStore, store.aio.create_store(target.url, **options))

        def batch(commands: list[Command]) -> Callable[[], Awaitable[Any]]:
            async def op() -> Any:
                pipe = db.pipeline()
                for command in commands:
                    await pipe.execute(*command)
                return await pipe.commit()

            return op

        async def receive(channel: str, count: int, start: Callable[[], Any]) -> float:
            async with db.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                return await _time_messages_async(pubsub, count, start, _store_data)

        return Opened(db.client(), db.close, {"options": options}, batch=batch, receive=receive)

    return open_async


# --------------------------------------------------------------------------- redis-py


def _redispy_missing(parser: str) -> Callable[[Target], str | None]:
    def missing(target: Target) -> str | None:
        if importlib.util.find_spec("redis") is None:
            return "redis-py is not installed (pip install -e '.[bench]')"
        from redis.utils import HIREDIS_AVAILABLE

        if parser == "hiredis" and not HIREDIS_AVAILABLE:
            return "hiredis is not installed (or too old for redis-py)"
        return None

    return missing


def _parser_name(connection: Any) -> str:
    # Private attribute: only read to record what redis-py really uses, never relied on.
    return type(getattr(connection, "_parser", None)).__name__


def _redispy_sync(parser: str) -> Callable[[Target], Opened]:
    def open_sync(target: Target) -> Opened:
        import redis
        from redis._parsers import _HiredisParser, _RESP2Parser, _RESP3Parser

        parser_class: type[Any]
        if parser == "hiredis":
            parser_class = _HiredisParser
        else:  # redis-py's pure parsers are per protocol
            parser_class = _RESP3Parser if target.protocol == 3 else _RESP2Parser
        # the default (non-blocking) pool: sequential use only ever takes one connection;
        # only a pool accepts parser_class
        pool = redis.ConnectionPool(
            host=target.host,
            port=target.port,
            protocol=target.protocol,
            max_connections=target.max_connections,
            parser_class=parser_class,
        )
        client = redis.Redis.from_pool(pool)
        connection = pool.get_connection()
        try:
            in_use = _parser_name(connection)
        finally:
            pool.release(connection)
        info = {"pool": type(pool).__name__, "parser_class": in_use}

        def batch(commands: list[Command]) -> Callable[[], Any]:
            def op() -> Any:
                pipe: Any = client.pipeline(transaction=False)  # redis-py leaves it untyped
                for command in commands:
                    pipe.execute_command(*command)
                return pipe.execute()

            return op

        def receive(channel: str, count: int, start: Callable[[], Any]) -> float:
            pubsub: Any = client.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(channel)
                return _time_messages(pubsub, count, start, _redispy_data)
            finally:
                pubsub.close()

        return Opened(client, client.close, info, batch=batch, receive=receive)

    return open_sync


def _redispy_async(parser: str) -> Callable[[Target], Awaitable[Opened]]:
    async def open_async(target: Target) -> Opened:
        import redis.asyncio
        from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser, _AsyncRESP3Parser

        parser_class: type[Any]
        if parser == "hiredis":
            parser_class = _AsyncHiredisParser
        else:
            parser_class = _AsyncRESP3Parser if target.protocol == 3 else _AsyncRESP2Parser
        options: dict[str, Any] = {
            "host": target.host,
            "port": target.port,
            "protocol": target.protocol,
            "max_connections": target.max_connections,
            "parser_class": parser_class,
        }
        # Its default pool is about 30% faster per command than its blocking pool, but
        # raises "Too many connections" when more tasks than max_connections want one:
        # the blocking pool, which waits as store's pool does, serves those workloads.
        pool: Any = redis.asyncio.ConnectionPool(**options)  # its get_connection is untyped
        waiting_pool = redis.asyncio.BlockingConnectionPool(**options)
        client = redis.asyncio.Redis.from_pool(pool)
        waiting = redis.asyncio.Redis.from_pool(waiting_pool)
        connection = await pool.get_connection()
        try:
            in_use = _parser_name(connection)
        finally:
            await pool.release(connection)

        async def close() -> None:
            await client.aclose()
            await waiting.aclose()

        info = {
            "pool": type(pool).__name__,
            "pool_for_more_tasks_than_connections": type(waiting_pool).__name__,
            "parser_class": in_use,
        }

        def batch(commands: list[Command]) -> Callable[[], Awaitable[Any]]:
            async def op() -> Any:
                pipe = client.pipeline(transaction=False)
                for command in commands:
                    pipe.execute_command(*command)
                return await pipe.execute()

            return op

        async def receive(channel: str, count: int, start: Callable[[], Any]) -> float:
            pubsub: Any = client.pubsub()
            try:
                await pubsub.subscribe(channel)
                return await _time_messages_async(pubsub, count, start, _redispy_data)
            finally:
                await pubsub.aclose()

        return Opened(client, close, info, waiting_api=waiting, batch=batch, receive=receive)

    return open_async


# ---------------------------------------------------------------------------- coredis


def _coredis() -> Any:
    # imported by name: it is optional, and mypy must not need it to be installed
    return importlib.import_module("coredis")


def _coredis_major() -> int:
    coredis = _coredis()
    return int(str(coredis.__version__).split(".")[0])


def _coredis_missing(target: Target) -> str | None:
    if importlib.util.find_spec("coredis") is None:
        return "coredis is not installed"
    if target.protocol == 2 and _coredis_major() >= 6:
        return "coredis 6 speaks RESP3 only"
    return None


async def _open_coredis(target: Target) -> Opened:
    coredis = _coredis()

    client: Any
    if _coredis_major() >= 6:
        # 6.x pools always wait when exhausted, and the client must be entered as a
        # context manager: it is entered here and exited by close()
        client = coredis.Redis(
            host=target.host, port=target.port, max_connections=target.max_connections
        )
        await client.__aenter__()
        return Opened(client, lambda: client.__aexit__(None, None, None), {"pool": "default"})
    pool = coredis.BlockingConnectionPool(
        host=target.host,
        port=target.port,
        max_connections=target.max_connections,
        protocol_version=target.protocol,
    )
    client = coredis.Redis(connection_pool=pool)

    async def close() -> None:
        pool.disconnect()

    return Opened(client, close, {"pool": type(pool).__name__})


# -------------------------------------------------------------------- redis-benchmark


def _redis_benchmark_missing(target: Target) -> str | None:
    if shutil.which("redis-benchmark") is None:
        return "redis-benchmark is not on PATH"
    return None


def _arg(value: str | bytes | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def start_publisher(target: Target, command: Command, count: int) -> subprocess.Popen[bytes]:
    """redis-benchmark sending ``command`` ``count`` times, 100 per round trip, in the
    background: the same publisher for every subscriber measured."""
    binary = shutil.which("redis-benchmark") or "redis-benchmark"
    argv = [binary, "-h", target.host, "-p", str(target.port), "-c", "1", "-n", str(count)]
    argv += ["-P", "100", "-q", *map(_arg, command)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_redis_benchmark(target: Target, command: Command, ops: int) -> float:
    """ops/s of redis-benchmark sending ``command`` ``ops`` times over one connection."""
    binary = shutil.which("redis-benchmark") or "redis-benchmark"
    argv = [binary, "-h", target.host, "-p", str(target.port), "-c", "1", "-n", str(ops)]
    if target.protocol == 3:
        argv.append("-3")  # same protocol as the Python clients
    argv += ["-q", "--csv", *map(_arg, command)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    rows = list(csv.DictReader(done.stdout.splitlines()))
    if done.returncode != 0 or not rows:
        raise RuntimeError(
            f"redis-benchmark failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
        )
    rate = float(rows[-1]["rps"])
    if not 0 < rate < float("inf"):  # it times in milliseconds: a few ops give "inf"
        raise RuntimeError(f"redis-benchmark measured {rate} ops/s over {ops} operations")
    return rate


# ------------------------------------------------------------------------- the table

CLIENTS: dict[str, ClientSpec] = {
    spec.id: spec
    for spec in (
        ClientSpec(
            "store.sync:hiredis", "store", "sync", "hiredis",
            "store.sync, hiredis reader",
            counterpart="redis-py:hiredis",
            missing=_store_missing("hiredis"), open_sync=_store_sync("hiredis"),
        ),
        ClientSpec(
            "redis-py:hiredis", "redis-py", "sync", "hiredis",
            "redis.Redis, _HiredisParser",
            missing=_redispy_missing("hiredis"), open_sync=_redispy_sync("hiredis"),
        ),
        ClientSpec(
            "store.sync:python", "store", "sync", "python",
            "store.sync, pure-Python reader",
            counterpart="redis-py:python",
            open_sync=_store_sync("python"),
        ),
        ClientSpec(
            "redis-py:python", "redis-py", "sync", "python",
            "redis.Redis, pure-Python _RESP2Parser/_RESP3Parser",
            missing=_redispy_missing("python"), open_sync=_redispy_sync("python"),
        ),
        ClientSpec(
            "store.aio:hiredis", "store", "async", "hiredis",
            "store.aio, hiredis reader",
            counterpart="redis-py.asyncio:hiredis",
            missing=_store_missing("hiredis"), open_async=_store_aio("hiredis"),
        ),
        ClientSpec(
            "redis-py.asyncio:hiredis", "redis-py", "async", "hiredis",
            "redis.asyncio.Redis, _AsyncHiredisParser",
            missing=_redispy_missing("hiredis"), open_async=_redispy_async("hiredis"),
        ),
        ClientSpec(
            "store.aio:python", "store", "async", "python",
            "store.aio, pure-Python reader",
            counterpart="redis-py.asyncio:python",
            open_async=_store_aio("python"),
        ),
        ClientSpec(
            "redis-py.asyncio:python", "redis-py", "async", "python",
            "redis.asyncio.Redis, pure-Python _AsyncRESP2Parser/_AsyncRESP3Parser",
            missing=_redispy_missing("python"), open_async=_redispy_async("python"),
        ),
        ClientSpec(
            "coredis", "coredis", "async", "own",
            "coredis.Redis, its own (compiled) reader",
            missing=_coredis_missing, open_async=_open_coredis,
        ),
        ClientSpec(
            "redis-benchmark", "redis-benchmark", "external", "C",
            "redis-benchmark -c 1 (C, hiredis), same command, one connection",
            missing=_redis_benchmark_missing, run_external=run_redis_benchmark,
        ),
    )
}  # fmt: skip
"""Every client, in the order the table shows them: each store variant beside its
redis-py counterpart."""
