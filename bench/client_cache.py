"""``python -m bench.client_cache``: a read-heavy workload (90% GET, 10% SET, on 1,000 hot
keys) with and without the client-side cache, store.sync and store.aio, and redis-py's
own cache where it runs, against one redis-server of its own, in the same run.

Each client runs the same sequence of operations (a seeded random choice of key and of GET
or SET); the table shows microseconds per operation, the best of three rounds, and the
share of GETs the cache answered. redis-py's cache (``cache_config``) needs a 7.4 server:
against an older one the table says so, with redis-py's reason. Not a test: the figures
depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Callable
from typing import Any

from store import aio, sync

from .common import text_table, time_async, time_sync, version
from .server import RedisServer

KEYS = 1000
READ_SHARE = 0.9
VALUE = b"v" * 100


def _plan(ops: int, seed: int = 1) -> list[tuple[bool, str]]:
    """The operations: (is it a GET, its key)."""
    rng = random.Random(seed)
    return [(rng.random() < READ_SHARE, f"hot:{rng.randrange(KEYS)}") for _ in range(ops)]


def _sync_op(execute: Callable[..., Any], plan: list[tuple[bool, str]]) -> Callable[[], Any]:
    steps = iter(plan * 4)  # rounds and the warm-up take from the same cycle

    def op() -> Any:
        read, key = next(steps)
        return execute("GET", key) if read else execute("SET", key, VALUE)

    return op


def _best_sync(op: Callable[[], Any], ops: int, rounds: int) -> float:
    return min(time_sync(op, ops) for _ in range(rounds)) / ops * 1e6


def _run_store_sync(port: int, plan: list[tuple[bool, str]], rounds: int, **kw: Any) -> Any:
    store = sync.create_store(f"redis://127.0.0.1:{port}", **kw)
    try:
        assert isinstance(store, sync.RedisStore)
        op = _sync_op(store.execute, plan)
        time_sync(op, len(plan) // 10 or 1)  # warm-up: connections, the cache filled
        cost = _best_sync(op, len(plan), rounds)
        return cost, store.cache_stats()
    finally:
        store.close()


async def _run_store_aio(port: int, plan: list[tuple[bool, str]], rounds: int, **kw: Any) -> Any:
    store = aio.create_store(f"redis://127.0.0.1:{port}", **kw)
    try:
        assert isinstance(store, aio.RedisStore)
        steps = iter(plan * 4)
        execute = store.execute

        async def op() -> Any:
            read, key = next(steps)
            return await (execute("GET", key) if read else execute("SET", key, VALUE))

        await time_async(op, len(plan) // 10 or 1, 0)
        best = min([await time_async(op, len(plan), 0) for _ in range(rounds)])
        return best / len(plan) * 1e6, store.cache_stats()
    finally:
        await store.close()


def _run_redis_py(port: int, plan: list[tuple[bool, str]], rounds: int, cached: bool) -> Any:
    import redis

    if cached:
        from redis.cache import CacheConfig

        client = redis.Redis(port=port, protocol=3, cache_config=CacheConfig(max_size=10_000))
    else:
        client = redis.Redis(port=port, protocol=3)
    try:
        op = _sync_op(client.execute_command, plan)
        time_sync(op, len(plan) // 10 or 1)
        return _best_sync(op, len(plan), rounds), None
    finally:
        client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a few operations: that it runs")
    args = parser.parse_args(argv)
    ops, rounds = (300, 1) if args.smoke else (args.ops, args.rounds)
    plan = _plan(ops)
    rows = [["client", "µs/op", "vs uncached", "GETs from the cache"]]
    with RedisServer() as server:
        seed = sync.create_store(f"redis://127.0.0.1:{server.port}")
        seed.execute("MSET", *[x for k in range(KEYS) for x in (f"hot:{k}", VALUE)])
        seed.close()
        runs: list[tuple[str, Callable[[], Any]]] = [
            ("store.sync", lambda: _run_store_sync(server.port, plan, rounds)),
            (
                "store.sync client_cache",
                lambda: _run_store_sync(server.port, plan, rounds, client_cache=True),
            ),
            (
                "store.sync client_cache bcast",
                lambda: _run_store_sync(
                    server.port, plan, rounds, client_cache=True, client_cache_bcast=True
                ),
            ),
            ("store.aio", lambda: asyncio.run(_run_store_aio(server.port, plan, rounds))),
            (
                "store.aio client_cache",
                lambda: asyncio.run(_run_store_aio(server.port, plan, rounds, client_cache=True)),
            ),
            ("redis-py", lambda: _run_redis_py(server.port, plan, rounds, False)),
            ("redis-py cache_config", lambda: _run_redis_py(server.port, plan, rounds, True)),
        ]
        base: dict[str, float] = {}
        for name, run in runs:
            family = name.split(" ")[0]
            try:
                cost, stats = run()
            except Exception as exc:  # redis-py's cache refuses servers before 7.4
                rows.append([name, "-", "-", f"does not run on {server.version}: {exc}"])
                continue
            base.setdefault(family, cost)
            share = "-"
            if stats is not None and stats.hits + stats.misses:
                share = f"{stats.hits / (stats.hits + stats.misses):.0%}"
            rows.append([name, f"{cost:.1f}", f"{base[family] / cost:.2f}x", share])
    print(f"redis-server {server.version}, redis-py {version('redis')}, {ops} operations")
    print(f"{READ_SHARE:.0%} GET / {1 - READ_SHARE:.0%} SET on {KEYS} hot keys")
    print(text_table(rows))


if __name__ == "__main__":
    main()
