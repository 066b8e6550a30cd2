"""``python -m bench.django_cache --smoke`` runs every workload on every backend (so the
Django cache benchmark cannot rot unnoticed) and writes complete JSON. Only presence and
arithmetic are checked, never speed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

WORKLOADS = {"get", "set", "get_many-10", "aget", "aget-c50"}
BACKENDS = {"store", "django-redis", "builtin"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    if shutil.which(os.environ.get("REDIS_SERVER") or "redis-server") is None:
        if os.environ.get("STORE_REQUIRE_REDIS") == "1":
            pytest.fail("the Django cache benchmark smoke test cannot run: no redis-server")
        pytest.skip("redis-server is not on PATH")
    path = tmp_path_factory.mktemp("bench") / "results-django.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.django_cache", "--smoke", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    document: dict[str, Any] = json.loads(path.read_text())
    return document, done.stdout


def test_every_workload_ran_on_every_backend(run: tuple[dict[str, Any], str]) -> None:
    document, _ = run
    assert set(document["backends"]) == BACKENDS
    assert document["backends"]["store"] == "store.contrib.django.StoreCache"
    assert set(document["workloads"]) == WORKLOADS
    assert document["workloads"]["aget-c50"]["concurrency"] == 50
    results = document["results"]
    assert set(results) == WORKLOADS
    for workload in WORKLOADS:
        assert set(results[workload]) == BACKENDS, workload
        for backend, cell in results[workload].items():
            assert cell["ops_per_sec"] > 0, (workload, backend, cell)
            assert cell["samples"] == [cell["ops_per_sec"]]  # --smoke: one repeat


def test_ratios_divide_storecache_by_each_other_backend(run: tuple[dict[str, Any], str]) -> None:
    document, stdout = run
    results, ratios = document["results"], document["ratios"]
    for workload in WORKLOADS:
        assert set(ratios[workload]) == {"django-redis", "builtin"}
        for other, ratio in ratios[workload].items():
            expected = (
                results[workload]["store"]["ops_per_sec"]
                / (results[workload][other]["ops_per_sec"])
            )
            assert ratio["ratio"] == pytest.approx(expected)
    header = stdout.strip().splitlines()[0].split()
    assert header == [
        "workload",
        *("store", "django-redis", "builtin"),
        *("store/django-redis", "store/builtin"),
    ]
    for workload in WORKLOADS:
        assert any(line.split()[:1] == [workload] for line in stdout.splitlines()), workload


def test_settings_and_versions_are_recorded(run: tuple[dict[str, Any], str]) -> None:
    document, _ = run
    assert document["settings"]["smoke"] is True
    assert document["settings"]["repeats"] == 1
    for name in ("python", "store", "django", "django-redis", "redis-py", "redis-server"):
        assert document["versions"][name], name


def test_profile_mode_prints_storecache_functions(tmp_path: Path) -> None:
    """--profile: cProfile of StoreCache gets (a few hundred here), stats file and table."""
    path = tmp_path / "storecache.prof"
    done = subprocess.run(
        [sys.executable, "-m", "bench.django_cache", "--profile", str(path), "-n", "0.01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "cProfile of 200 StoreCache gets" in done.stdout
    assert "tottime" in done.stdout and "cache.py" in done.stdout
    assert path.stat().st_size > 0
