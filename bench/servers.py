"""``python -m bench servers``: redis-benchmark against redis-server, PulsarDS and fakeredis.

The three servers run side by side, each as a process of its own on a free loopback port,
for the whole run; every measurement is one ``redis-benchmark -t set,get,incr,lpush,lpop``
invocation (C, hiredis) against one of them, in one of three modes: 1 connection, 50
connections, and 50 connections pipelining 16 requests. Repeats are interleaved: each
repeat runs every mode on every server, in an order rotated by one server per repeat. The
table shows the best repeat (noise only ever slows a run down); the JSON keeps every sample
and the median. The ratios PulsarDS / redis-server and PulsarDS / fakeredis come from the
same run. Layout of the JSON: bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import io
import json
import os
import platform
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from . import common
from .common import BENCH_DIR
from .server import RedisServer, _die_with_parent, free_port

__all__ = ["MODES", "SERVERS", "TESTS", "main"]

DEFAULT_JSON = BENCH_DIR / "results-servers.json"
HOST = "127.0.0.1"

TESTS = ("set", "get", "incr", "lpush", "lpop")  # redis-benchmark -t names
PULSAR = "pulsards"
REFERENCES = ("redis-server", "fakeredis")  # what PulsarDS is divided by
# The goal, at 50 connections: PulsarDS / redis-server and PulsarDS / fakeredis.
TARGETS = {"redis-server": 0.4, "fakeredis": 10.0}
TARGET_CLIENTS = 50
# --smoke: enough requests that the run lasts milliseconds (redis-benchmark times in whole
# milliseconds and reports "inf" below one), far too few to mean anything.
SMOKE_REQUESTS = 1000
BENCHMARK_TIMEOUT = 1800.0  # seconds for one redis-benchmark invocation: a hung server
PROFILE_TOP = 15


@dataclass(frozen=True)
class Mode:
    name: str
    clients: int  # redis-benchmark -c
    pipeline: int  # redis-benchmark -P

    @property
    def description(self) -> str:
        pipelined = f", {self.pipeline} requests per round trip" if self.pipeline > 1 else ""
        return f"-c {self.clients} -P {self.pipeline}: {self.clients} connection(s){pipelined}"


MODES = {m.name: m for m in (Mode("c1", 1, 1), Mode("c50", 50, 1), Mode("c50-P16", 50, 16))}


class Running(Protocol):
    host: str
    port: int


@dataclass(frozen=True)
class ServerSpec:
    id: str
    description: str
    # requests per test in each mode: about a second or more per test on a 2-core machine
    # (fakeredis is some ten times slower than the others, so it gets fewer: rps is rps)
    requests: dict[str, int]
    start: Callable[[Path | None], contextlib.AbstractContextManager[Running]]
    version: Callable[[], str | None]
    missing: Callable[[], str | None] = lambda: None


class ServerProcess:
    """``with ServerProcess(name, argv) as server:`` runs ``argv(port, directory)`` on a free
    loopback port, in a temporary directory, until exit; ready once it answers PING."""

    host = HOST

    def __init__(self, name: str, argv: Callable[[int, str], list[str]]) -> None:
        self.name = name
        self.argv = argv
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._log: BinaryIO | None = None

    def __enter__(self) -> ServerProcess:
        self._directory = tempfile.TemporaryDirectory(prefix=f"store-bench-{self.name}-")
        try:
            # another process may grab the free port before the server binds it: retry
            for _ in range(3):
                if self._start(self._directory.name):
                    return self
            raise RuntimeError(f"{self.name} did not start:\n{self._log_tail()}")
        except BaseException:
            self.__exit__()
            raise

    def _start(self, directory: str) -> bool:
        self.port = free_port()
        if self._log is not None:
            self._log.close()
        self._log = open(os.path.join(directory, "server.log"), "wb")
        self.process = subprocess.Popen(
            self.argv(self.port, directory),
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # own session: Ctrl-C reaches the benchmark only, which then stops the server
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + 30  # a Python server imports a lot before it listens
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            if _pong(self.host, self.port):
                return True
            time.sleep(0.05)
        self._stop()
        return False

    def _log_tail(self) -> str:
        if self._directory is None:
            return ""
        try:
            with open(os.path.join(self._directory.name, "server.log"), errors="replace") as log:
                return log.read()[-2000:]
        except OSError:
            return ""

    def _stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()  # PulsarDS shuts down cleanly on SIGTERM (cProfile then writes)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __exit__(self, *exc: object) -> None:
        try:
            self._stop()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._directory is not None:
                self._directory.cleanup()
                self._directory = None


def _pong(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")  # fakeredis does not parse inline commands
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _pulsards_argv(profile: Path | None) -> Callable[[int, str], list[str]]:
    def argv(port: int, directory: str) -> list[str]:
        runner = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        return [
            sys.executable, *runner, "-m", "store", "serve",
            "--port", str(port), "--bind", HOST, "--dir", directory,
            "--save", "", "--appendonly", "no",
        ]  # fmt: skip

    return argv


# socketserver listens with a backlog of 5: 50 clients connecting at once then wait for SYN
# retransmits (1 s, 3 s), which would measure the kernel rather than fakeredis. 511 is
# redis-server's tcp-backlog and PulsarDS's backlog.
FAKEREDIS_SERVER = """\
import sys
from fakeredis import TcpFakeServer

class Server(TcpFakeServer):
    request_queue_size = 511

Server((sys.argv[1], int(sys.argv[2])), server_type="redis", server_version=(7, 0)).serve_forever()
"""


def _fakeredis_argv(port: int, directory: str) -> list[str]:
    return [sys.executable, "-c", FAKEREDIS_SERVER, HOST, str(port)]


def _redis_server_missing() -> str | None:
    binary = os.environ.get("REDIS_SERVER") or "redis-server"
    return None if shutil.which(binary) else f"{binary} is not on PATH"


def _redis_server_version() -> str | None:
    try:
        return RedisServer().version
    except FileNotFoundError:
        return None


def _fakeredis_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("fakeredis") is None:
        return "fakeredis is not installed (pip install -e '.[bench]')"
    return None


SERVERS = {
    spec.id: spec
    for spec in (
        ServerSpec(
            "redis-server",
            "redis-server --save '' --appendonly no (C, single-threaded)",
            {"c1": 100_000, "c50": 200_000, "c50-P16": 1_000_000},
            lambda profile: RedisServer(),
            _redis_server_version,
            _redis_server_missing,
        ),
        ServerSpec(
            PULSAR,
            "python -m store serve --save '' --appendonly no (PulsarDS, asyncio)",
            {"c1": 50_000, "c50": 100_000, "c50-P16": 500_000},
            lambda profile: ServerProcess(PULSAR, _pulsards_argv(profile)),
            lambda: common.version("store"),
        ),
        ServerSpec(
            "fakeredis",
            "fakeredis.TcpFakeServer (socketserver, a thread per connection), listen backlog 511",
            {"c1": 10_000, "c50": 10_000, "c50-P16": 20_000},
            lambda profile: ServerProcess("fakeredis", _fakeredis_argv),
            lambda: common.version("fakeredis"),
            _fakeredis_missing,
        ),
    )
}


# ----------------------------------------------------------------------- measuring


def _read_reply(stream: BinaryIO) -> bytes | int:
    """One RESP2 reply of the kinds the check expects; an error raises."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise RuntimeError(f"connection closed mid-reply: {line!r}")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body
    if kind == b":":
        return int(body)
    if kind == b"$" and int(body) >= 0:
        data = stream.read(int(body) + 2)
        return data[:-2]
    raise RuntimeError(f"unexpected reply {line!r}")


def check_replies(host: str, port: int) -> None:
    """Each command under test answers what Redis answers, so that a server replying
    something wrong (but not an error, which stops redis-benchmark) cannot pass for fast.
    Simple and bulk strings are both accepted: fakeredis sends GET's value as +v."""
    key = f"bench:check:{uuid.uuid4().hex}".encode()
    counter, items = key + b":counter", key + b":list"
    exchange: list[tuple[list[bytes], bytes | int]] = [
        ([b"SET", key, b"v"], b"OK"),
        ([b"GET", key], b"v"),
        ([b"INCR", counter], 1),
        ([b"INCR", counter], 2),
        ([b"LPUSH", items, b"a", b"b"], 2),
        ([b"LPOP", items], b"b"),
        ([b"LPOP", items], b"a"),
        ([b"DEL", key, counter, items], 2),  # the emptied list is gone
    ]
    with socket.create_connection((host, port), timeout=10) as sock:
        for command, _ in exchange:
            sock.sendall(b"*%d\r\n" % len(command))
            sock.sendall(b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in command))
        with sock.makefile("rb") as stream:
            for command, expected in exchange:
                reply = _read_reply(stream)
                if reply != expected:
                    shown = b" ".join(command).decode()
                    raise RuntimeError(f"{shown} answered {reply!r}, expected {expected!r}")


def run_benchmark(
    host: str, port: int, mode: Mode, requests: int, tests: Sequence[str]
) -> dict[str, float]:
    """rps per test of one ``redis-benchmark -t ... --csv`` run."""
    binary = shutil.which("redis-benchmark") or "redis-benchmark"
    argv = [binary, "-h", host, "-p", str(port), "-n", str(requests), "-c", str(mode.clients)]
    argv += ["-P", str(mode.pipeline), "-t", ",".join(tests), "--csv"]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=BENCHMARK_TIMEOUT, check=False
    )
    if done.returncode != 0:
        # an error reply makes redis-benchmark exit 1, after printing it on stdout
        output = (done.stdout + done.stderr).strip()[-2000:]
        raise RuntimeError(f"redis-benchmark failed ({done.returncode}): {output}")
    rates = {
        row["test"].lower(): float(row["rps"]) for row in csv.DictReader(done.stdout.splitlines())
    }
    for test in tests:
        rate = rates.get(test)
        if rate is None:
            raise RuntimeError(f"redis-benchmark printed no {test.upper()} row:\n{done.stdout}")
        if not 0 < rate < float("inf"):  # under a millisecond in all gives "inf"
            raise RuntimeError(f"redis-benchmark measured {rate} rps over {requests} {test}")
    return {test: rates[test] for test in tests}


@dataclass(frozen=True)
class Plan:
    servers: list[ServerSpec]
    modes: list[Mode]
    tests: list[str]
    repeats: int
    requests: dict[str, dict[str, int]]  # server id -> mode name -> requests per test
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)


Samples = dict[str, dict[str, dict[str, list[float]]]]  # mode -> test -> server -> rps


def run(plan: Plan, running: dict[str, Running]) -> Samples:
    samples: Samples = {
        m.name: {t: {s.id: [] for s in plan.servers} for t in plan.tests} for m in plan.modes
    }
    for round_ in range(plan.repeats):
        shift = round_ % len(plan.servers)
        for mode in plan.modes:
            for spec in plan.servers[shift:] + plan.servers[:shift]:
                server = running[spec.id]
                requests = plan.requests[spec.id][mode.name]
                started = time.perf_counter()
                try:
                    rates = run_benchmark(server.host, server.port, mode, requests, plan.tests)
                except Exception as exc:
                    raise RuntimeError(f"{mode.name} on {spec.id}: {exc}") from exc
                for test, rate in rates.items():
                    samples[mode.name][test][spec.id].append(rate)
                plan.progress(
                    f"  repeat {round_ + 1}/{plan.repeats}  {mode.name:<8} {spec.id:<13}"
                    f"{requests:>10,} requests/test  {time.perf_counter() - started:6.1f}s"
                )
    return samples


# ------------------------------------------------------------------------ reporting

Results = dict[str, dict[str, dict[str, dict[str, Any]]]]  # mode -> test -> server -> cell
Ratios = dict[str, dict[str, dict[str, dict[str, Any]]]]  # mode -> test -> reference -> ratio


def summarize(samples: Samples, plan: Plan) -> tuple[Results, Ratios]:
    results: Results = {
        mode: {
            test: {
                server: {
                    "rps": max(rates),
                    "median_rps": statistics.median(rates),
                    "samples": rates,
                    "requests": plan.requests[server][mode],
                }
                for server, rates in by_server.items()
                if rates
            }
            for test, by_server in by_test.items()
        }
        for mode, by_test in samples.items()
    }
    ratios: Ratios = {}
    for mode in plan.modes:
        for test, cells in results[mode.name].items():
            ours = cells.get(PULSAR)
            for reference in REFERENCES:
                theirs = cells.get(reference)
                if ours is None or theirs is None:
                    continue
                ratio: dict[str, Any] = {
                    "ratio": ours["rps"] / theirs["rps"],
                    "median_ratio": ours["median_rps"] / theirs["median_rps"],
                }
                if mode.clients == TARGET_CLIENTS:
                    ratio["target"] = TARGETS[reference]
                    ratio["met"] = ratio["ratio"] >= TARGETS[reference]
                ratios.setdefault(mode.name, {}).setdefault(test, {})[reference] = ratio
    return results, ratios


def render_table(plan: Plan, results: Results, ratios: Ratios) -> str:
    servers = [s.id for s in plan.servers]
    references = [r for r in REFERENCES if r in servers] if PULSAR in servers else []
    header = ["mode", "test", *servers, *(f"{PULSAR}/{r}" for r in references)]
    table = [header]
    for mode in plan.modes:
        for test in plan.tests:
            cells = results[mode.name][test]
            row = [mode.name, test.upper()]
            row += (f"{cells[s]['rps']:,.0f}" if s in cells else "-" for s in servers)
            for reference in references:
                ratio = ratios.get(mode.name, {}).get(test, {}).get(reference)
                if ratio is None:
                    row.append("-")
                    continue
                text = f"{ratio['ratio']:.2f}x"
                if "met" in ratio:
                    text += " ok" if ratio["met"] else f" <{ratio['target']:g}"
                row.append(text)
            table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        shown = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        shown += (cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True))
        lines.append("  ".join(shown).rstrip())
    return "\n".join(lines)


def profile_summary(path: Path, top: int = PROFILE_TOP) -> str:
    """The ``top`` functions of a cProfile dump by own time (tottime)."""
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)
    return out.getvalue().strip()


# ---------------------------------------------------------------------------- the CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench servers",
        description="redis-benchmark -t set,get,incr,lpush,lpop against redis-server, "
        "PulsarDS and fakeredis' TCP server, each started for the run; prints rps and the "
        "ratios PulsarDS/redis-server and PulsarDS/fakeredis.",
    )
    parser.add_argument(
        "--smoke", action="store_true",
        help=f"{SMOKE_REQUESTS} requests per test and one repeat: checks in seconds that "
        "everything runs; the figures mean little",
    )  # fmt: skip
    parser.add_argument(
        "-n", "--requests", type=int, default=None, metavar="N",
        help="requests per test for every server and mode (default: a table per server "
        "and mode, see bench/README.md)",
    )  # fmt: skip
    parser.add_argument(
        "--scale", type=float, default=1.0, metavar="FACTOR",
        help="multiply the default request counts (default 1.0)",
    )  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=None,
        help="runs of each mode on each server (default 3, 1 with --smoke)",
    )  # fmt: skip
    parser.add_argument(
        "--servers", default="*", metavar="SERVERS",
        help=f"comma-separated server ids or patterns (default all: {', '.join(SERVERS)})",
    )  # fmt: skip
    parser.add_argument(
        "--modes", default="*", metavar="MODES",
        help=f"comma-separated modes (default all: {', '.join(MODES)})",
    )  # fmt: skip
    parser.add_argument(
        "--tests", default=",".join(TESTS), metavar="TESTS",
        help=f"comma-separated redis-benchmark tests (default {','.join(TESTS)})",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
        help="where to write the results (default bench/results-servers.json, git-ignored)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="PATH",
        help="run PulsarDS under cProfile, write its stats to PATH and print the top "
        f"{PROFILE_TOP} functions by own time (slows PulsarDS: its figures are then not "
        "comparable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    unknown = [t for t in args.tests.split(",") if t.strip() and t.strip() not in TESTS]
    if unknown or not args.tests.strip(","):
        parser.error(f"--tests takes some of {','.join(TESTS)}")
    return args


def _requests(args: argparse.Namespace, servers: list[ServerSpec]) -> dict[str, dict[str, int]]:
    def count(default: int) -> int:
        if args.requests is not None:
            return int(args.requests)
        if args.smoke:
            return SMOKE_REQUESTS
        scale: float = args.scale
        return max(1, round(default * scale))

    return {s.id: {m: count(n) for m, n in s.requests.items()} for s in servers}


def _terminate(signum: int, frame: object) -> None:
    # turn SIGTERM into an exception so that the servers are stopped on the way out
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _started(servers: list[ServerSpec], profile: Path | None) -> Iterator[dict[str, Running]]:
    with contextlib.ExitStack() as stack:
        running: dict[str, Running] = {}
        for spec in servers:
            running[spec.id] = stack.enter_context(spec.start(profile))
            check_replies(running[spec.id].host, running[spec.id].port)
        yield running


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if shutil.which("redis-benchmark") is None:
        print(
            "redis-benchmark is not on PATH (Debian: apt-get install redis-tools)", file=sys.stderr
        )
        return 2
    chosen = [SERVERS[n] for n in common.select("server", args.servers, list(SERVERS))]
    servers: list[ServerSpec] = []
    skipped: dict[str, str] = {}
    for spec in chosen:
        reason = spec.missing()
        if reason is None:
            servers.append(spec)
        else:
            skipped[spec.id] = reason
            print(f"skipping {spec.id}: {reason}", file=sys.stderr)
    if not servers:
        print("nothing to run: no selected server is available", file=sys.stderr)
        return 2
    modes = [MODES[n] for n in common.select("mode", args.modes, list(MODES))]
    tests = [t for t in TESTS if t in {t.strip() for t in args.tests.split(",")}]
    repeats = args.repeats or (1 if args.smoke else 3)
    profile = (
        args.profile.resolve()
        if args.profile is not None and PULSAR in {s.id for s in servers}
        else None
    )
    plan = Plan(servers, modes, tests, repeats, _requests(args, servers))

    machine = common.machine()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with _started(servers, profile) as running:
            where = ", ".join(f"{s.id} on {running[s.id].port}" for s in servers)
            print(
                f"{where}; {repeats} repeat(s){', smoke run' if args.smoke else ''}"
                f"{', PulsarDS under cProfile' if profile else ''}",
                file=sys.stderr,
            )
            samples = run(plan, running)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

    results, ratios = summarize(samples, plan)
    print()
    print(render_table(plan, results, ratios))
    print()
    print(
        f"rps: redis-benchmark's requests per second, the best of {repeats} repeat(s), servers\n"
        f"interleaved. c1: -c 1; c50: -c 50; c50-P16: -c 50 -P 16. Ratios from the same run;\n"
        f"at 50 connections the goal is >= {TARGETS['redis-server']:g}x redis-server and "
        f">= {TARGETS['fakeredis']:g}x fakeredis (ok / <goal)."
    )
    if profile is not None:
        print("PulsarDS ran under cProfile: its figures are slowed by the profiler.")
        print()
        print(f"PulsarDS profile ({profile}), top {PROFILE_TOP} by tottime:")
        print(profile_summary(profile))

    document = {
        "schema": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "argv": list(sys.argv[1:] if argv is None else argv),
        "settings": {
            "smoke": args.smoke,
            "repeats": repeats,
            "statistic": "best",
            "profiled": profile is not None,
            "targets": {"clients": TARGET_CLIENTS, **TARGETS},
        },
        "machine": {**machine, "loadavg_after": common.loadavg()},
        "versions": {
            "python": platform.python_version(),
            **{s.id: s.version() for s in servers},
            "redis-benchmark": common.output(
                [shutil.which("redis-benchmark") or "redis-benchmark", "--version"]
            ),
        },
        "git": common.git(),
        "servers": {
            s.id: {"description": s.description, "requests": plan.requests[s.id]} for s in servers
        },
        "skipped_servers": skipped,
        "modes": {
            m.name: {"clients": m.clients, "pipeline": m.pipeline, "description": m.description}
            for m in modes
        },
        "tests": tests,
        "results": results,
        "ratios": ratios,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results written to {args.json}", file=sys.stderr)
    return 0
