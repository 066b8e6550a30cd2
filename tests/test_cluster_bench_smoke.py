"""``python -m bench.cluster --smoke`` runs every workload of the cluster benchmark on its
own cluster and prints the table (so the harness cannot rot unnoticed). Only presence is
checked, never speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.cluster import CLIENTS, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent


def test_the_cluster_bench_prints_every_workload() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cluster", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("workload"))
    for client in CLIENTS:
        assert client in header.split(), (client, done.stdout)
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.split()}
    assert set(WORKLOADS) <= set(rows), done.stdout
    # every cell a workload applies to has a positive rate, and every ratio was computed
    for name, workload in WORKLOADS.items():
        cells = rows[name]
        names = list(CLIENTS)
        for index, client in enumerate(names):
            if workload.concurrency and not CLIENTS[client].asynchronous:
                assert cells[index] == "-", (name, client, done.stdout)
                continue
            assert float(cells[index].replace(",", "")) > 0, (name, client, done.stdout)
        ratios = cells[len(names) :]
        assert ratios and all(r.endswith("x") for r in ratios[workload.concurrency and 1 :])
    # a progress line per measurement went to stderr
    assert "repeat 1/1 get " in done.stderr
