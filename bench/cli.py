"""``python -m bench``: start a redis-server, run the workloads on every client, report.
``python -m bench servers``: redis-benchmark against redis-server, PulsarDS and fakeredis."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, cast

from . import common
from .clients import CLIENTS, ClientSpec, Target
from .common import BENCH_DIR
from .report import STATISTIC, Ratios, Results, render_table, summarize
from .runner import Plan, applies, op_counts, run
from .server import RedisServer
from .workloads import WORKLOADS, Workload

__all__ = ["main"]

DEFAULT_JSON = BENCH_DIR / "results.json"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark store.sync and store.aio against redis-py (and coredis, "
        "redis-benchmark) on a redis-server of its own.",
    )
    parser.add_argument(
        "--smoke", action="store_true",
        help="1%% of the operations and one repeat: checks in seconds that every workload "
        "runs on every client; the figures mean little",
    )  # fmt: skip
    parser.add_argument(
        "-n", "--scale", type=float, default=1.0, metavar="FACTOR",
        help="multiply every workload's operation count (default 1.0)",
    )  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=None,
        help="measurements of each workload on each client (default 5, 1 with --smoke)",
    )  # fmt: skip
    parser.add_argument(
        "--only", default="*", metavar="WORKLOADS",
        help="comma-separated workload names or patterns, e.g. get,lrange-*",
    )  # fmt: skip
    parser.add_argument(
        "--clients", default="*", metavar="CLIENTS",
        help="comma-separated client ids or patterns, e.g. 'store.*,redis-py:*'",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
        help="where to write the results (default bench/results.json, which git ignores)",
    )  # fmt: skip
    parser.add_argument(
        "--protocol", type=int, choices=(2, 3), default=3,
        help="RESP version for every client (default 3, the default of store and redis-py)",
    )  # fmt: skip
    parser.add_argument(
        "--max-connections", type=int, default=50,
        help="connection limit of every client's pool (default 50)",
    )  # fmt: skip
    parser.add_argument(
        "--store-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra create_store() option for store's clients (repeatable), "
        "e.g. health_check_interval=0; recorded in the JSON",
    )
    parser.add_argument(
        "--redis-server", default=None, metavar="PATH",
        help="the redis-server binary (default $REDIS_SERVER or redis-server on PATH)",
    )  # fmt: skip
    parser.add_argument(
        "--list", action="store_true", help="list the workloads and clients, then exit"
    )
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.max_connections < 1:
        parser.error("--max-connections must be at least 1")
    for option in args.store_option:
        if "=" not in option:
            parser.error(f"--store-option takes KEY=VALUE, not {option!r}")
    return args


def _setup(url: str, workloads: list[Workload]) -> None:
    """Load each workload's data once, through store's blocking client."""
    import store.sync

    db = cast(store.sync.RedisStore, store.sync.create_store(url))
    try:
        for workload in workloads:
            for command in workload.setup:
                db.execute(*command)
    finally:
        db.close()


def _terminate(signum: int, frame: FrameType | None) -> None:
    # turn SIGTERM into an exception so that the server is stopped on the way out
    raise SystemExit(128 + signum)


def _available(
    clients: list[ClientSpec], target: Target
) -> tuple[list[ClientSpec], dict[str, str]]:
    usable: list[ClientSpec] = []
    skipped: dict[str, str] = {}
    for client in clients:
        reason = client.missing(target)
        if reason is None:
            usable.append(client)
        else:
            skipped[client.id] = reason
    return usable, skipped


def _list(target: Target) -> None:
    print("workloads:")
    for w in WORKLOADS.values():
        print(f"  {w.name:<14} {w.description}")
    print("clients:")
    for c in CLIENTS.values():
        reason = c.missing(target)
        print(f"  {c.id:<26} {c.description}" + (f"  [unavailable: {reason}]" if reason else ""))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["servers"]:  # the server benchmark: bench/servers.py
        from .servers import main as servers_main

        return servers_main(arguments[1:])
    args = _parse_args(argv)
    workloads = [WORKLOADS[n] for n in common.select("workload", args.only, WORKLOADS)]
    chosen = [CLIENTS[n] for n in common.select("client", args.clients, CLIENTS)]
    repeats = args.repeats or (1 if args.smoke else 5)
    store_options = tuple((k, v) for k, _, v in (o.partition("=") for o in args.store_option))
    target = Target("127.0.0.1", 0, args.protocol, args.max_connections, store_options)
    if args.list:
        _list(target)
        return 0
    clients, skipped = _available(chosen, target)
    for client_id, reason in skipped.items():
        print(f"skipping {client_id}: {reason}", file=sys.stderr)
    if not any(applies(w, c) for w in workloads for c in clients):
        print("nothing to run: no selected client runs a selected workload", file=sys.stderr)
        return 2

    machine = common.machine()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with RedisServer(args.redis_server) as server:
            target = Target(
                server.host, server.port, args.protocol, args.max_connections, store_options
            )
            server_version = server.version
            print(
                f"redis-server {server_version} on {target.url}, RESP{args.protocol}, "
                f"pools of {args.max_connections}; {repeats} repeat(s)"
                f"{', smoke run' if args.smoke else ''}",
                file=sys.stderr,
            )
            _setup(target.url, workloads)
            plan = Plan(target, workloads, clients, repeats, args.scale, args.smoke)
            samples, info = asyncio.run(run(plan))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

    results, ratios = summarize(samples, clients)
    print()
    print(render_table(workloads, clients, results, ratios))
    print()
    print(
        f"ops/s: the {STATISTIC} of {repeats} repeat(s), clients interleaved between repeats.\n"
        "ratio: store ops/s / redis-py ops/s (same sync/async family and parser, same run);\n"
        "above 1 means store is faster. redis-benchmark: C, one connection, same command."
    )

    document = _document(
        sys.argv[1:] if argv is None else argv,
        plan,
        machine,
        server_version,
        skipped,
        info,
        results,
        ratios,
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results written to {args.json}", file=sys.stderr)
    return 0


def _document(
    argv: Sequence[str],
    plan: Plan,
    machine: dict[str, Any],
    server_version: str,
    skipped: dict[str, str],
    info: dict[str, dict[str, Any]],
    results: Results,
    ratios: Ratios,
) -> dict[str, Any]:
    """Everything the JSON file holds (its layout is in bench/README.md)."""
    target = plan.target
    return {
        "schema": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "argv": list(argv),
        "settings": {
            "smoke": plan.smoke,
            "scale": plan.scale,
            "repeats": plan.repeats,
            "protocol": target.protocol,
            "max_connections": target.max_connections,
            "store_options": dict(target.store_options),
            "statistic": STATISTIC,
        },
        "machine": {**machine, "loadavg_after": common.loadavg()},
        "versions": {
            "python": platform.python_version(),
            "store": common.version("store"),
            "redis-py": common.version("redis"),
            "hiredis": common.version("hiredis"),
            "coredis": common.version("coredis"),
            "redis-server": server_version,
            "redis-benchmark": common.output(
                [shutil.which("redis-benchmark") or "redis-benchmark", "--version"]
            ),
        },
        "git": common.git(),
        "workloads": {
            w.name: {
                "description": w.description,
                "concurrency": w.concurrency,
                "ops": op_counts(w, plan)[0],
                "warmup_ops": op_counts(w, plan)[1],
                "command": [_text(a) for a in w.command] if w.command else None,
                "clients": [c.id for c in plan.clients if applies(w, c)],
            }
            for w in plan.workloads
        },
        "clients": {
            c.id: {
                "library": c.library,
                "mode": c.mode,
                "parser": c.parser,
                "description": c.description,
                "counterpart": c.counterpart,
                "info": info.get(c.id, {}),
            }
            for c in plan.clients
        },
        "skipped_clients": skipped,
        "results": results,
        "ratios": ratios,
    }


def _text(value: str | bytes | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
