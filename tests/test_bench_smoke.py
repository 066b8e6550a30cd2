"""``python -m bench --smoke`` runs every workload on every client (so the harness cannot
rot unnoticed) and writes complete JSON. Only presence is checked, never speed."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

WORKLOADS = {"get", "set", "get-32k", "lrange-1000", "hgetall-1000", "get-c50", "get-c1000"}
SYNC_WORKLOADS = WORKLOADS - {"get-c50", "get-c1000"}
SYNC = {"store.sync:hiredis", "store.sync:python", "redis-py:hiredis", "redis-py:python"}
ASYNC = {
    "store.aio:hiredis",
    "store.aio:python",
    "redis-py.asyncio:hiredis",
    "redis-py.asyncio:python",
}
STORE = {c for c in SYNC | ASYNC if c.startswith("store.")}


def _missing() -> str | None:
    if shutil.which(os.environ.get("REDIS_SERVER") or "redis-server") is None:
        return "redis-server is not on PATH"
    for module in ("redis", "hiredis"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[hiredis,bench]')"
    return None


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    missing = _missing()
    if missing:
        if os.environ.get("STORE_REQUIRE_REDIS") == "1":
            pytest.fail(f"the benchmark smoke test cannot run: {missing}")
        pytest.skip(missing)
    path = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "ratio" in done.stdout  # the table was printed
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_every_workload_ran_on_every_client(results: dict[str, Any]) -> None:
    table = results["results"]
    assert set(table) >= WORKLOADS
    expected = {(w, c) for w in WORKLOADS for c in ASYNC}
    expected |= {(w, c) for w in SYNC_WORKLOADS for c in SYNC}
    if shutil.which("redis-benchmark") is not None:  # the C reference, sequential only
        expected |= {(w, "redis-benchmark") for w in SYNC_WORKLOADS}
    # coredis is measured when it is installed; then it runs every workload as well
    if importlib.util.find_spec("coredis") is not None:
        expected |= {(w, "coredis") for w in WORKLOADS}
    for workload, client in sorted(expected):
        cell = table[workload].get(client)
        assert cell is not None, f"{workload} was not measured on {client}"
        assert cell["ops_per_sec"] > 0, (workload, client, cell)
        assert len(cell["samples"]) == 1  # --smoke: one repeat


def test_every_workload_the_json_declares_was_measured(results: dict[str, Any]) -> None:
    # what the harness itself says applies (new workloads and clients included)
    workloads = results["workloads"]
    table = results["results"]
    assert set(workloads) == set(table)
    for name, workload in workloads.items():
        assert workload["clients"], name
        assert set(table[name]) == set(workload["clients"]), name


def test_ratios_compare_store_with_its_redis_py_counterpart(results: dict[str, Any]) -> None:
    ratios = results["ratios"]
    table = results["results"]
    for workload in WORKLOADS:
        for client in STORE:
            if client.startswith("store.sync") and workload not in SYNC_WORKLOADS:
                continue
            ratio = ratios[workload][client]
            counterpart = client.replace("store.sync", "redis-py").replace(
                "store.aio", "redis-py.asyncio"
            )
            assert ratio["vs"] == counterpart
            ours = table[workload][client]["ops_per_sec"]
            theirs = table[workload][counterpart]["ops_per_sec"]
            assert ratio["ratio"] == pytest.approx(ours / theirs)


def test_machine_and_versions_are_recorded(results: dict[str, Any]) -> None:
    versions = results["versions"]
    for name in ("python", "store", "redis-py", "hiredis", "redis-server"):
        assert versions[name], name
    assert results["machine"]["cpu_count"]
    assert results["settings"] == {
        "smoke": True,
        "scale": 1.0,
        "repeats": 1,
        "protocol": 3,
        "max_connections": 50,
        "store_options": {},
        "statistic": "best",
    }
