"""``python -m bench servers --smoke`` runs redis-benchmark on every mode against every
server (so the server benchmark cannot rot unnoticed) and writes complete JSON. Only
presence and arithmetic are checked, never speed."""

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

SERVERS = {"redis-server", "pulsards", "fakeredis"}
MODES = {"c1": (1, 1), "c50": (50, 1), "c50-P16": (50, 16)}
TESTS = ["set", "get", "incr", "lpush", "lpop"]


def _missing() -> str | None:
    for binary in (os.environ.get("REDIS_SERVER") or "redis-server", "redis-benchmark"):
        if shutil.which(binary) is None:
            return f"{binary} is not on PATH"
    if importlib.util.find_spec("fakeredis") is None:
        return "fakeredis is not installed (pip install -e '.[bench]')"
    return None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    missing = _missing()
    if missing:
        if os.environ.get("STORE_REQUIRE_REDIS") == "1":
            pytest.fail(f"the server benchmark smoke test cannot run: {missing}")
        pytest.skip(missing)
    path = tmp_path_factory.mktemp("bench") / "results-servers.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "servers", "--smoke", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    document: dict[str, Any] = json.loads(path.read_text())
    return document, done.stdout


def test_every_test_ran_on_every_server_in_every_mode(run: tuple[dict[str, Any], str]) -> None:
    document, _ = run
    assert document["tests"] == TESTS
    assert {m: (v["clients"], v["pipeline"]) for m, v in document["modes"].items()} == MODES
    assert set(document["servers"]) == SERVERS
    assert document["skipped_servers"] == {}
    results = document["results"]
    assert set(results) == set(MODES)
    for mode in MODES:
        assert set(results[mode]) == set(TESTS), mode
        for test in TESTS:
            assert set(results[mode][test]) == SERVERS, (mode, test)
            for server, cell in results[mode][test].items():
                assert cell["rps"] > 0, (mode, test, server, cell)
                assert cell["samples"] == [cell["rps"]]  # --smoke: one repeat
                assert cell["requests"] == 1000


def test_ratios_divide_pulsards_by_each_reference(run: tuple[dict[str, Any], str]) -> None:
    document, _ = run
    results, ratios = document["results"], document["ratios"]
    for mode, (clients, _) in MODES.items():
        for test in TESTS:
            cells = results[mode][test]
            for reference, target in (("redis-server", 0.4), ("fakeredis", 10.0)):
                ratio = ratios[mode][test][reference]
                expected = cells["pulsards"]["rps"] / cells[reference]["rps"]
                assert ratio["ratio"] == pytest.approx(expected)
                if clients == 50:  # the goals are set at 50 connections
                    assert ratio["target"] == target
                    assert ratio["met"] == (ratio["ratio"] >= target)
                else:
                    assert "target" not in ratio


def test_table_and_versions(run: tuple[dict[str, Any], str]) -> None:
    document, stdout = run
    assert "pulsards/redis-server" in stdout
    assert "pulsards/fakeredis" in stdout
    for mode in MODES:
        for test in TESTS:
            assert any(line.split()[:2] == [mode, test.upper()] for line in stdout.splitlines())
    versions = document["versions"]
    for name in ("python", "redis-server", "pulsards", "fakeredis", "redis-benchmark"):
        assert versions[name], name
    assert document["settings"]["smoke"] is True
    assert document["settings"]["profiled"] is False
