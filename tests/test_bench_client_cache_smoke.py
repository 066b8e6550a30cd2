"""``python -m bench.client_cache --smoke`` runs (so the benchmark cannot rot unnoticed):
every row is there, redis-py's cached row with figures or the reason it cannot run. Only
presence is checked, never speed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_table_is_complete() -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not on PATH")
    done = subprocess.run(
        [sys.executable, "-m", "bench.client_cache", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    lines = {line.split("  ")[0].strip(): line for line in done.stdout.splitlines()}
    for row in (
        "store.sync",
        "store.sync client_cache",
        "store.sync client_cache bcast",
        "store.aio",
        "store.aio client_cache",
        "redis-py",
    ):
        assert row in lines, done.stdout
        assert float(lines[row][len(row) :].split()[0]) > 0  # its µs/op
    cached = lines["redis-py cache_config"]
    assert "does not run on 7.0" in cached or "%" in cached or "x" in cached, cached
    assert "%" in lines["store.aio client_cache"]  # the share of GETs from the cache
