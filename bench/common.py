"""What the benchmarks (``cli.py`` for the clients, ``servers.py`` for the servers,
``django_cache.py``, ``cluster.py``) use: picking names by pattern, how many operations to
time and timing them, and the facts about the machine and the code that go into the JSON."""

from __future__ import annotations

import asyncio
import fnmatch
import gc
import importlib.metadata
import os
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from itertools import repeat
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR",
    "git",
    "loadavg",
    "machine",
    "output",
    "scaled_counts",
    "select",
    "text_table",
    "time_async",
    "time_sync",
    "version",
]

BENCH_DIR = Path(__file__).resolve().parent


def select(kind: str, patterns: str, names: Iterable[str]) -> list[str]:
    """The ``names`` that the comma-separated ``patterns`` (fnmatch) pick, in their order;
    a pattern that picks none stops the run."""
    names = list(names)
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    for pattern in wanted:
        if not fnmatch.filter(names, pattern):
            raise SystemExit(f"no {kind} matches {pattern!r}; known: {', '.join(names)}")
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in wanted)]


def scaled_counts(ops: int, concurrency: int, scale: float) -> tuple[int, int]:
    """(timed, warm-up) operation counts for ``ops`` scaled by ``scale``; concurrent ones
    are a whole number per task, at least one each (so every connection opens)."""
    ops = max(1, round(ops * scale))
    warmup = max(1, ops // 10)
    if concurrency:
        ops = max(1, ops // concurrency) * concurrency
        warmup = max(1, warmup // concurrency) * concurrency
    return ops, warmup


def text_table(rows: list[list[str]]) -> str:
    """``rows`` (the header first) as aligned text: the first column left, the others
    right, a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def time_sync(op: Callable[[], Any], ops: int) -> float:
    """Seconds for ``ops`` calls of ``op``."""
    gc.collect()  # start each measurement with the same garbage: none
    start = time.perf_counter()
    for _ in repeat(None, ops):
        op()
    return time.perf_counter() - start


async def time_async(op: Callable[[], Awaitable[Any]], ops: int, tasks: int) -> float:
    """Seconds for ``ops`` awaits of ``op``: in sequence, or shared by ``tasks`` tasks."""
    gc.collect()
    if not tasks:
        start = time.perf_counter()
        for _ in repeat(None, ops):
            await op()
        return time.perf_counter() - start

    async def worker(count: int) -> None:
        for _ in repeat(None, count):
            await op()

    # creating the tasks is part of the timing: it is what gather() users pay too
    start = time.perf_counter()
    await asyncio.gather(*(worker(ops // tasks) for _ in range(tasks)))
    return time.perf_counter() - start


def version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def output(argv: list[str]) -> str | None:
    """What ``argv`` prints, stripped; None when it cannot run or fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict[str, Any]:
    cpu = None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")),
                None,
            )
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu or platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "loadavg_before": loadavg(),
    }


def loadavg() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def git() -> dict[str, Any]:
    # read-only: --no-optional-locks keeps status from refreshing (writing) the index
    root = str(BENCH_DIR.parent)
    commit = output(["git", "-C", root, "rev-parse", "HEAD"])
    if commit is None:
        return {}
    status = output(
        ["git", "--no-optional-locks", "-C", root, "status", "--porcelain", "--untracked-files=no"]
    )
    return {"commit": commit, "dirty": bool(status) if status is not None else None}
