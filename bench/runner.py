"""Timing: every (workload, client) pair is measured once per repeat, clients interleaved.

All clients stay open for the whole run, inside one event loop. Each repeat walks the
workloads and, for each, every client in an order rotated by one per repeat, so a burst
of machine noise lands on neighbouring measurements of different clients rather than on
all the repeats of one client.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from .clients import ClientSpec, Opened, Target, start_publisher
from .common import scaled_counts, time_async, time_sync
from .workloads import Workload

__all__ = ["Plan", "Sample", "applies", "op_counts", "run"]

SMOKE_DIVISOR = 100  # --smoke runs 1% of the operations: 200 GETs, 20 HGETALLs
EXTERNAL_MIN_OPS = 2000


@dataclass(frozen=True)
class Plan:
    target: Target
    workloads: list[Workload]
    clients: list[ClientSpec]
    repeats: int
    scale: float  # multiplies every workload's operation count
    smoke: bool
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)


@dataclass
class Sample:
    """The measurements of one workload on one client."""

    ops: int
    rates: list[float] = field(default_factory=list)  # ops/s, one per repeat


def applies(workload: Workload, client: ClientSpec) -> bool:
    if workload.batched or workload.pubsub:  # the clients that build one (Opened.batch)
        return client.library in ("store", "redis-py") and client.mode != "external"
    if client.mode == "async":
        return True
    if workload.concurrency:  # many tasks on one client object: an asyncio thing
        return False
    return client.mode == "sync" or workload.command is not None


def op_counts(workload: Workload, plan: Plan, client: ClientSpec | None = None) -> tuple[int, int]:
    """(timed, warm-up) operation counts; concurrent ones are a whole number per task."""
    base = workload.ops // SMOKE_DIVISOR if plan.smoke else workload.ops
    if client is not None and client.mode == "external":
        # redis-benchmark has no warm-up and times in milliseconds: give it enough to time
        return max(max(1, round(base * plan.scale)), EXTERNAL_MIN_OPS), 0
    return scaled_counts(base, workload.concurrency, plan.scale)


def _check(workload: Workload, client: ClientSpec, reply: Any) -> None:
    if not workload.check(reply):
        shown = repr(reply)
        shown = shown if len(shown) < 200 else shown[:200] + "..."
        raise RuntimeError(f"{client.id} got an unexpected reply for {workload.name}: {shown}")


async def _measure(
    workload: Workload, client: ClientSpec, opened: Opened | None, plan: Plan
) -> float:
    ops, warmup = op_counts(workload, plan, client)
    if client.run_external is not None:
        assert workload.command is not None
        return client.run_external(plan.target, workload.command, ops)
    assert opened is not None
    if workload.pubsub:
        assert opened.receive is not None and workload.command is not None
        command = workload.command
        seconds = opened.receive(
            str(command[1]), ops, lambda: start_publisher(plan.target, command, ops)
        )
        if client.mode != "sync":
            seconds = await seconds
        return ops / float(seconds)
    if workload.batched:
        op = workload.make_op(opened.batch)
    else:
        op = workload.make_op(opened.api_for(workload.concurrency, plan.target.max_connections))
    if client.mode == "sync":
        _check(workload, client, op())
        time_sync(op, warmup)
        elapsed = time_sync(op, ops)
    else:
        _check(workload, client, await op())
        await time_async(op, warmup, workload.concurrency)
        elapsed = await time_async(op, ops, workload.concurrency)
    return ops / elapsed


async def run(plan: Plan) -> tuple[dict[str, dict[str, Sample]], dict[str, dict[str, Any]]]:
    """Measure everything; returns (samples by workload then client, client info)."""
    samples: dict[str, dict[str, Sample]] = {
        w.name: {c.id: Sample(op_counts(w, plan, c)[0]) for c in plan.clients if applies(w, c)}
        for w in plan.workloads
    }
    info: dict[str, dict[str, Any]] = {}
    async with AsyncExitStack() as stack:
        opened: dict[str, Opened] = {}
        for client in plan.clients:
            if client.open_sync is not None:
                opened[client.id] = client.open_sync(plan.target)
                stack.callback(opened[client.id].close)
            elif client.open_async is not None:
                opened[client.id] = await client.open_async(plan.target)
                stack.push_async_callback(opened[client.id].close)
            info[client.id] = opened[client.id].info if client.id in opened else {}
        for round_ in range(plan.repeats):
            for workload in plan.workloads:
                clients = [c for c in plan.clients if applies(workload, c)]
                shift = round_ % len(clients) if clients else 0
                started = time.perf_counter()
                for client in clients[shift:] + clients[:shift]:
                    try:
                        rate = await _measure(workload, client, opened.get(client.id), plan)
                    except Exception as exc:
                        raise RuntimeError(f"{workload.name} on {client.id}: {exc}") from exc
                    samples[workload.name][client.id].rates.append(rate)
                plan.progress(
                    f"  repeat {round_ + 1}/{plan.repeats}  {workload.name:<14} "
                    f"{len(clients)} clients  {time.perf_counter() - started:5.1f}s"
                )
    return samples, info
