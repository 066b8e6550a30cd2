"""``python -m bench.django_cache``: Django's cache API through three backends on one
redis-server of its own, side by side in one run:

* ``store``: ``store.contrib.django.StoreCache`` (this repository)
* ``django-redis``: ``django_redis.cache.RedisCache`` (redis-py, hiredis when installed)
* ``builtin``: Django's ``django.core.cache.backends.redis.RedisCache`` (redis-py too)

Sync workloads: ``get`` (a 10-character string), ``set`` and ``get_many`` of 10 keys, one
call at a time. Async workloads: ``aget`` by 1 task and by 50 concurrent tasks sharing the
cache object: StoreCache's native ``aget`` (store.aio, automatically pipelined) against the
others', which are Django's ``BaseCache.aget``: ``sync_to_async(self.get)`` in one thread.
Every backend pickles its values and has a pool of up to 50 connections (the built-in one
too: its OPTIONS go to redis-py's pool). Each measurement checks one reply, warms up with a
tenth of the operations and runs ``gc.collect()`` before it is timed; repeats are
interleaved, backends rotated by one per repeat, and the table shows the best repeat (the
JSON keeps every sample and the median). Ratios are StoreCache's ops/s over each other
backend's, from the same run. Django is configured in this process: it is the benchmark's.

    .venv/bin/python -m bench.django_cache               # 3 repeats, about a minute
    .venv/bin/python -m bench.django_cache --smoke       # 1% of the operations: a check
    .venv/bin/python -m bench.django_cache --profile /tmp/storecache.prof
        # cProfile of 20,000 StoreCache gets: the 20 functions with the most own time
    .venv/bin/python -m bench.django_cache --instructions
        # CPU instructions per sync get, store vs django-redis vs builtin, counted by valgrind

``--instructions`` runs ``/work/shared/tools/instr_per_op.py`` (``--instr-tool PATH``) on
this redis-server, the same as::

    instr_per_op.py --labels store,django-redis,builtin \\
      "import bench.django_cache as b; c = b.cache_for_instructions(URL, 'store')" "c.get(b.KEY)" \\
      "import bench.django_cache as b; c = b.cache_for_instructions(URL, 'django-redis')" \\
      "c.get(b.KEY)" \\
      "import bench.django_cache as b; c = b.cache_for_instructions(URL, 'builtin')" "c.get(b.KEY)"

(from the repository root, URL the server's ``redis://127.0.0.1:PORT/0``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime
import json
import platform
import pstats
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from . import common
from .common import BENCH_DIR
from .server import RedisServer

__all__ = ["BACKENDS", "KEY", "WORKLOADS", "cache_for_instructions", "configure", "main"]

DEFAULT_JSON = BENCH_DIR / "results-django.json"
INSTR_TOOL = "/work/shared/tools/instr_per_op.py"
MAX_CONNECTIONS = 50
KEY = "bench:key"
VALUE = "v" * 10
MANY = [f"bench:many:{i}" for i in range(10)]
SMOKE_DIVISOR = 100

BACKENDS: dict[str, dict[str, Any]] = {
    "store": {
        "BACKEND": "store.contrib.django.StoreCache",
        "OPTIONS": {"max_connections": MAX_CONNECTIONS, "SERIALIZER": "pickle"},
    },
    "django-redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "OPTIONS": {"CONNECTION_POOL_KWARGS": {"max_connections": MAX_CONNECTIONS}},
    },
    "builtin": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "OPTIONS": {"max_connections": MAX_CONNECTIONS},
    },
}


def configure(url: str) -> None:
    """Django settings with the three backends as caches of those names, on ``url``."""
    import django
    from django.conf import settings

    settings.configure(
        CACHES={
            name: {**spec, "LOCATION": url, "KEY_PREFIX": name} for name, spec in BACKENDS.items()
        },
        USE_TZ=True,
    )
    django.setup()


def cache_for_instructions(url: str, name: str) -> Any:
    """The setup of an ``instr_per_op.py`` run: Django configured, the value stored, one
    get done (connected, warm). Returns the cache."""
    from django.core.cache import caches

    configure(url)
    cache = caches[name]
    cache.set(KEY, VALUE, timeout=None)
    if cache.get(KEY) != VALUE:
        raise RuntimeError(f"{name} did not read back what it stored")
    return cache


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    ops: int
    concurrency: int  # 0: a sync workload; N: N asyncio tasks
    make: Callable[[Any], Callable[[], Any]]  # cache -> zero-argument operation
    check: Callable[[Any], bool]


def _many_check(reply: Any) -> bool:
    return isinstance(reply, dict) and reply == dict.fromkeys(MANY, VALUE)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "get", "cache.get of a 10-character string", 20_000, 0,
            lambda c: lambda: c.get(KEY), lambda r: r == VALUE,
        ),
        Workload(
            "set", "cache.set of a 10-character string", 20_000, 0,
            lambda c: lambda: c.set("bench:set", VALUE), lambda r: r is None or r is True,
        ),
        Workload(
            "get_many-10", "cache.get_many of 10 keys", 10_000, 0,
            lambda c: lambda: c.get_many(MANY), _many_check,
        ),
        Workload(
            "aget", "await cache.aget, one task", 10_000, 1,
            lambda c: lambda: c.aget(KEY), lambda r: r == VALUE,
        ),
        Workload(
            "aget-c50", "await cache.aget, 50 concurrent tasks on one cache", 20_000, 50,
            lambda c: lambda: c.aget(KEY), lambda r: r == VALUE,
        ),
    )
}  # fmt: skip


def _counts(workload: Workload, smoke: bool, scale: float) -> tuple[int, int]:
    base = workload.ops // SMOKE_DIVISOR if smoke else workload.ops
    return common.scaled_counts(base, workload.concurrency, scale)


def _check(workload: Workload, backend: str, reply: Any) -> None:
    if not workload.check(reply):
        raise RuntimeError(f"{backend} got an unexpected reply for {workload.name}: {reply!r}")


def _measure_sync(workload: Workload, backend: str, cache: Any, ops: int, warmup: int) -> float:
    op = workload.make(cache)
    _check(workload, backend, op())
    common.time_sync(op, warmup)
    return ops / common.time_sync(op, ops)


async def _measure_async(
    workload: Workload, backend: str, cache: Any, ops: int, warmup: int
) -> float:
    op: Callable[[], Awaitable[Any]] = workload.make(cache)
    _check(workload, backend, await op())
    await common.time_async(op, warmup, workload.concurrency)
    return ops / await common.time_async(op, ops, workload.concurrency)


def _setup(caches: dict[str, Any]) -> None:
    for cache in caches.values():
        cache.set(KEY, VALUE, timeout=None)
        cache.set_many(dict.fromkeys(MANY, VALUE), timeout=None)


def _run(
    workloads: list[Workload],
    backends: list[str],
    repeats: int,
    smoke: bool,
    scale: float,
) -> dict[str, dict[str, list[float]]]:
    """{workload: {backend: [ops/s per repeat]}}; backends rotated by one per repeat."""
    from django.core.cache import caches as django_caches

    # one cache object per backend, taken once: Django's caches are per thread (and per
    # asyncio context), and the tasks of a concurrent workload share one, as a view would
    caches = {name: django_caches[name] for name in backends}
    _setup(caches)
    rates: dict[str, dict[str, list[float]]] = {
        w.name: {b: [] for b in backends} for w in workloads
    }
    for repeat in range(repeats):
        order = backends[repeat % len(backends) :] + backends[: repeat % len(backends)]
        for workload in workloads:
            ops, warmup = _counts(workload, smoke, scale)
            for backend in order:
                cache = caches[backend]
                if workload.concurrency:
                    rate = asyncio.run(_measure_async(workload, backend, cache, ops, warmup))
                else:
                    rate = _measure_sync(workload, backend, cache, ops, warmup)
                rates[workload.name][backend].append(rate)
                print(
                    f"repeat {repeat + 1}/{repeats} {workload.name:<12} {backend:<13} "
                    f"{rate:>10,.0f} ops/s",
                    file=sys.stderr,
                    flush=True,
                )
    return rates


def _summarize(
    rates: dict[str, dict[str, list[float]]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    import statistics

    results: dict[str, dict[str, dict[str, Any]]] = {
        w: {
            b: {
                "ops_per_sec": max(samples),
                "median_ops_per_sec": statistics.median(samples),
                "samples": samples,
            }
            for b, samples in by_backend.items()
        }
        for w, by_backend in rates.items()
    }
    ratios: dict[str, Any] = {}
    for w, by_backend in results.items():
        if "store" not in by_backend:
            continue
        ours = by_backend["store"]
        for other, theirs in by_backend.items():
            if other != "store":
                ratios.setdefault(w, {})[other] = {
                    "ratio": ours["ops_per_sec"] / theirs["ops_per_sec"],
                    "median_ratio": ours["median_ops_per_sec"] / theirs["median_ops_per_sec"],
                }
    return results, ratios


def _table(results: dict[str, Any], ratios: dict[str, Any], backends: list[str]) -> str:
    others = [b for b in backends if b != "store"]
    header = ["workload", *backends]
    if "store" in backends:
        header += [f"store/{b}" for b in others]
    rows = [header]
    for w, by_backend in results.items():
        row = [w] + [f"{by_backend[b]['ops_per_sec']:,.0f}" for b in backends]
        if "store" in backends:
            row += [f"{ratios[w][b]['ratio']:.2f}x" for b in others]
        rows.append(row)
    return common.text_table(rows)


def _profile(path: Path, scale: float) -> None:
    from django.core.cache import caches

    cache = caches["store"]
    _setup({"store": cache})
    count = max(1, round(20_000 * scale))
    for _ in range(count // 10):
        cache.get(KEY)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        cache.get(KEY)
    profiler.disable()
    profiler.dump_stats(path)
    print(f"cProfile of {count:,} StoreCache gets (own time first), written to {path}:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)


def _instructions(url: str, tool: str, count: int, backends: list[str]) -> int:
    pairs: list[str] = []
    for name in backends:
        pairs += [
            f"import bench.django_cache as b; c = b.cache_for_instructions({url!r}, {name!r})",
            "c.get(b.KEY)",
        ]
    argv = [
        sys.executable, tool, "--count", str(count), "--python", sys.executable,
        "--labels", ",".join(f"{b} get" for b in backends), *pairs,
    ]  # fmt: skip
    print(f"instructions per sync get ({count:,} gets, valgrind):", file=sys.stderr, flush=True)
    return subprocess.run(argv, cwd=BENCH_DIR.parent, check=False).returncode


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.django_cache",
        description="Django cache get/set/get_many and aget: StoreCache, django-redis and "
        "Django's built-in RedisCache side by side on a redis-server of its own.",
    )
    parser.add_argument("--smoke", action="store_true", help="1%% of the operations, 1 repeat")
    parser.add_argument("-n", "--scale", type=float, default=1.0, metavar="FACTOR")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (1 with --smoke)")
    parser.add_argument("--only", default="*", metavar="WORKLOADS", help="names or patterns")
    parser.add_argument("--backends", default="*", metavar="BACKENDS", help="names or patterns")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="PATH",
        help="instead of the table: cProfile 20,000 StoreCache gets (times --scale)",
    )  # fmt: skip
    parser.add_argument(
        "--instructions", action="store_true",
        help="instead of the table: instructions per sync get of each backend (valgrind)",
    )  # fmt: skip
    parser.add_argument("--instr-tool", default=INSTR_TOOL, metavar="PATH")
    parser.add_argument("--instr-count", type=int, default=2000, metavar="N")
    parser.add_argument("--redis-server", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    workloads = [WORKLOADS[n] for n in common.select("workload", args.only, WORKLOADS)]
    backends = common.select("backend", args.backends, BACKENDS)
    repeats = args.repeats or (1 if args.smoke else 3)
    machine = common.machine()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with RedisServer(args.redis_server) as server:
            url = f"redis://{server.host}:{server.port}/0"
            if args.instructions:
                return _instructions(url, args.instr_tool, args.instr_count, backends)
            configure(url)
            if args.profile is not None:
                _profile(args.profile, args.scale)
                return 0
            server_version = server.version
            print(
                f"redis-server {server_version} on {url}; {repeats} repeat(s)"
                f"{', smoke run' if args.smoke else ''}",
                file=sys.stderr,
            )
            rates = _run(workloads, backends, repeats, args.smoke, args.scale)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    results, ratios = _summarize(rates)
    print()
    print(_table(results, ratios, backends))
    print()
    print(
        f"ops/s: the best of {repeats} repeat(s), backends interleaved between repeats.\n"
        "store/X: StoreCache's ops/s / X's (same run); above 1 means StoreCache is faster.\n"
        "aget: StoreCache's native aget against BaseCache's sync_to_async(get)."
    )
    document = {
        "schema": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "settings": {
            "smoke": args.smoke,
            "scale": args.scale,
            "repeats": repeats,
            "max_connections": MAX_CONNECTIONS,
            "statistic": "best",
        },
        "machine": {**machine, "loadavg_after": common.loadavg()},
        "versions": {
            "python": platform.python_version(),
            "store": common.version("store"),
            "django": common.version("django"),
            "django-redis": common.version("django-redis"),
            "redis-py": common.version("redis"),
            "hiredis": common.version("hiredis"),
            "redis-server": server_version,
        },
        "git": common.git(),
        "backends": {b: BACKENDS[b]["BACKEND"] for b in backends},
        "workloads": {
            w.name: {
                "description": w.description,
                "concurrency": w.concurrency,
                "ops": _counts(w, args.smoke, args.scale)[0],
            }
            for w in workloads
        },
        "results": results,
        "ratios": ratios,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
