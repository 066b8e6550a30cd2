"""Summaries, ratios and the printed table.

A cell's figure is the best (highest) ops/s of its repeats: noise on a shared machine only
ever slows a run down, so the fastest repeat is the closest to what the code can do. The
median is kept in the JSON too. A ratio is a store variant's best ops/s divided by the best
ops/s of its redis-py counterpart (same sync/async family, same parser) from the same run:
above 1 means store is faster.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from .clients import ClientSpec
from .runner import Sample, applies
from .workloads import Workload

__all__ = ["STATISTIC", "render_table", "summarize"]

STATISTIC = "best"

Results = dict[str, dict[str, dict[str, Any]]]
Ratios = dict[str, dict[str, dict[str, Any]]]


def summarize(
    samples: dict[str, dict[str, Sample]], clients: Iterable[ClientSpec]
) -> tuple[Results, Ratios]:
    """(results, ratios) as they go into the JSON, keyed by workload then client id."""
    results: Results = {
        workload: {
            client: {
                "ops_per_sec": max(sample.rates),
                "median_ops_per_sec": statistics.median(sample.rates),
                "samples": sample.rates,
                "ops": sample.ops,
            }
            for client, sample in by_client.items()
            if sample.rates
        }
        for workload, by_client in samples.items()
    }
    ratios: Ratios = {}
    for workload, by_client in results.items():
        for client in clients:
            theirs = by_client.get(client.counterpart or "")
            ours = by_client.get(client.id)
            if ours is None or theirs is None:
                continue
            ratios.setdefault(workload, {})[client.id] = {
                "vs": client.counterpart,
                "ratio": ours["ops_per_sec"] / theirs["ops_per_sec"],
                "median_ratio": ours["median_ops_per_sec"] / theirs["median_ops_per_sec"],
            }
    return results, ratios


def _columns(clients: list[ClientSpec]) -> list[tuple[str, str, str, bool]]:
    """(header 1, header 2, client id, is a ratio) per column. A store client's ratio
    column comes right after the column of its redis-py counterpart."""
    columns: list[tuple[str, str, str, bool]] = []
    for client in clients:
        library, _, parser = client.id.partition(":")
        columns.append((library, parser or client.parser, client.id, False))
        for ours in clients:
            if ours.counterpart == client.id:
                columns.append(("ratio", ours.parser, ours.id, True))
    return columns


def _block(
    title: str,
    workloads: list[Workload],
    clients: list[ClientSpec],
    results: Results,
    ratios: Ratios,
) -> list[str]:
    rows_for = [w for w in workloads if any(applies(w, c) for c in clients)]
    if not rows_for:
        return []
    columns = _columns(clients)
    table: list[list[str]] = [[title, *(c[0] for c in columns)], ["", *(c[1] for c in columns)]]
    for workload in rows_for:
        row = [workload.name]
        for _, _, client_id, is_ratio in columns:
            if is_ratio:
                ratio = ratios.get(workload.name, {}).get(client_id)
                row.append(f"{ratio['ratio']:.2f}x" if ratio else "-")
            else:
                cell = results.get(workload.name, {}).get(client_id)
                row.append(f"{cell['ops_per_sec']:,.0f}" if cell else "-")
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for row in table:
        cells = [row[0].ljust(widths[0])]
        cells += (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        lines.append("  ".join(cells).rstrip())
    return lines


def render_table(
    workloads: list[Workload], clients: list[ClientSpec], results: Results, ratios: Ratios
) -> str:
    """One block for the blocking clients and one for the asyncio clients; the C reference
    (redis-benchmark) appears in both."""
    external = [c for c in clients if c.mode == "external"]
    lines: list[str] = []
    for mode in ("sync", "async"):
        block = _block(
            f"{mode} (ops/s)",
            workloads,
            [c for c in clients if c.mode == mode] + external,
            results,
            ratios,
        )
        if block:
            lines += [*block, ""]
    return "\n".join(lines).rstrip()
