"""What PulsarDS records about the commands it runs, as Redis 7.0 does: the slow log
(slowlog.c), latency events (latency.c), per-command latency histograms (INFO
latencystats, LATENCY HISTOGRAM) and the MONITOR feed (replicationFeedMonitors).

The hot path (``PulsarDS.call``) only reads the clock before and after a command, adds
the time to the command's row of ``Recorder.usage`` (total and histogram bucket) and, if
the time reaches ``PulsarDS.observe_ns``, calls ``Recorder.observe``: every other
decision (slow log, latency event, MONITOR) is made there. ``observe_ns`` is the
smallest threshold that needs a look (-1 while a client monitors, so every command is
looked at). The histograms are counted whatever latency-tracking says (a test costs as
much as the count); with it off they are not shown, and turning it on clears them.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ..command_table import COMMANDS as REDIS_COMMANDS

if TYPE_CHECKING:
    from .client import Client
    from .commands import Command
    from .core import PulsarDS

__all__ = ["BUCKETS", "NEVER", "Recorder", "bucket_label", "monitor_repr"]

NEVER = 1 << 62
# Histogram rows: BUCKETS counters, bucket b holding the commands whose time in ns has
# b bits (``ns.bit_length()``: under 2**b ns), then the total time in ns. Redis's buckets
# start at 1024 ns: bucket b is its bucket b - 10, the first holding b <= 10.
BUCKETS = 64
_FIRST = 10
TOTAL = BUCKETS
SLOWLOG_ENTRY_MAX_ARGC = 32
SLOWLOG_ENTRY_MAX_STRING = 128
LATENCY_TS_LEN = 160
REDACTED = b"(redacted)"
_SENSITIVE_CONFIGS = frozenset({b"requirepass", b"masterauth", b"masteruser"})
SCRIPT_COMMANDS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})


def _flags(name: str) -> frozenset[str]:
    info = REDIS_COMMANDS.get(name)
    return info.flags if info is not None else frozenset()


def bucket_label(index: int) -> int:
    """The microseconds Redis shows for a bucket of its HdrHistogram (2 significant
    figures) iterated from 1024 ns by powers of two: the bucket's highest equivalent
    value, in us (1, 2, 4, 8, 16, 33, 66, 132...)."""
    level = 1024 << index
    return (level + (1 << (3 + index)) - 1) // 1000


def _percentile(row: list[int], total: int, percent: float) -> float:
    wanted = max(1, int(total * percent / 100 + 0.5)) if total else 0
    seen = 0
    for index in range(BUCKETS):
        seen += row[index]
        if seen >= wanted:
            level = max(index - _FIRST, 0)
            return ((1024 << level) + (1 << (3 + level)) - 1) / 1000
    return 0.0


def redact(name: str, args: list[bytes]) -> list[bytes]:
    """The arguments as Redis logs them: AUTH's password (and user), HELLO's AUTH pair and
    CONFIG SET's sensitive values replaced by "(redacted)" (redactClientCommandArgument)."""
    if name == "auth":
        if len(args) > 3:
            return args
        shown = list(args)
        for index in range(1, len(args)):
            shown[index] = REDACTED
        return shown
    if name == "hello":
        shown = list(args)
        index = 1
        if len(args) >= 2:
            version = args[1]
            if not (version.isdigit() and version in (b"2", b"3")):
                return args
            index = 2
        while index < len(args):
            more = len(args) - 1 - index
            option = args[index].lower()
            if option == b"auth" and more >= 2:
                shown[index + 1] = shown[index + 2] = REDACTED
                index += 3
            elif option == b"setname" and more >= 1:
                index += 2
            else:
                break
        return shown
    if name == "acl|setuser":  # the user name and every rule (a password is one)
        return args[:2] + [REDACTED] * (len(args) - 2)
    if name == "config|set":
        shown = list(args)
        for index in range(2, len(args) - 1, 2):
            if args[index].lower() in _SENSITIVE_CONFIGS:
                shown[index + 1] = REDACTED
        return shown
    return args


def _slowlog_args(args: list[bytes]) -> list[bytes]:
    """At most 32 arguments (the last saying how many more there were), each cut at 128
    bytes (saying how many more bytes), as slowlogCreateEntry keeps them."""
    count = len(args)
    kept = min(count, SLOWLOG_ENTRY_MAX_ARGC)
    shown: list[bytes] = []
    for index in range(kept):
        if kept != count and index == kept - 1:
            shown.append(b"... (%d more arguments)" % (count - kept + 1))
            break
        arg = args[index]
        if len(arg) > SLOWLOG_ENTRY_MAX_STRING:
            arg = arg[:SLOWLOG_ENTRY_MAX_STRING] + b"... (%d more bytes)" % (
                len(arg) - SLOWLOG_ENTRY_MAX_STRING
            )
        shown.append(arg)
    return shown


_REPR_ESCAPES = {
    ord("\\"): b"\\\\",
    ord('"'): b'\\"',
    ord("\n"): b"\\n",
    ord("\r"): b"\\r",
    ord("\t"): b"\\t",
    7: b"\\a",
    8: b"\\b",
}
_REPR_TABLE = [
    _REPR_ESCAPES.get(byte, bytes([byte]) if 32 <= byte < 127 else b"\\x%02x" % byte)
    for byte in range(256)
]


def monitor_repr(arg: bytes) -> bytes:
    """Redis's sdscatrepr: quoted, backslash escapes, \\xHH for what is not printable."""
    if arg.isalnum() or (arg.isascii() and arg.replace(b"-", b"").replace(b"_", b"").isalnum()):
        return b'"' + arg + b'"'
    table = _REPR_TABLE
    return b'"' + b"".join([table[byte] for byte in arg]) + b'"'


class Recorder:
    """The server's records of its commands (one per PulsarDS)."""

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        # command name (a container's per subcommand, "config|get") -> histogram row
        self.usage: dict[str, list[int]] = {}
        self.tracking = True  # latency-tracking: histograms kept
        self.slowlog: deque[list[Any]] = deque()
        self.slowlog_next_id = 0
        self.slowlog_threshold = 10000  # us; negative: off
        self.slowlog_max_len = 128
        self.latency_threshold = 0  # ms; 0: off
        # event -> (samples [time, latency ms] in order, all-time max)
        self.latency_events: dict[str, tuple[deque[list[int]], list[int]]] = {}
        self.monitors: list[Client] = []
        self._lua_lines: list[bytes] = []  # fed after the script command's own line
        self._flags: dict[str, frozenset[str]] = {}

    def row(self, name: str) -> list[int]:
        row = self.usage.get(name)
        if row is None:
            row = self.usage[name] = [0] * (BUCKETS + 1)
        return row

    def reset_stats(self) -> None:
        self.usage.clear()

    def configure(self) -> None:
        """Read the settings (at start and after CONFIG SET) and set the threshold."""
        config = self.server.config
        self.slowlog_threshold = int(config.get_text("slowlog-log-slower-than"))
        self.slowlog_max_len = int(config.get_text("slowlog-max-len"))
        self.latency_threshold = int(config.get_text("latency-monitor-threshold"))
        tracking = config.get_text("latency-tracking") == "yes"
        if tracking and not self.tracking:  # histograms start again, as in Redis
            for row in self.usage.values():
                row[:BUCKETS] = [0] * BUCKETS
        self.tracking = tracking
        while len(self.slowlog) > self.slowlog_max_len:
            self.slowlog.pop()
        self._set_threshold()

    def _set_threshold(self) -> None:
        threshold = NEVER
        if self.slowlog_threshold >= 0:
            threshold = self.slowlog_threshold * 1000
        if self.latency_threshold > 0:
            threshold = min(threshold, self.latency_threshold * 1_000_000)
        if self.monitors:
            threshold = -1
        self.server.observe_ns = threshold

    def _flags_of(self, name: str) -> frozenset[str]:
        flags = self._flags.get(name)
        if flags is None:
            flags = self._flags[name] = _flags(name)
        return flags

    # -- the slow path of every command -----------------------------------------------

    def observe(
        self,
        client: Client,
        cmd: Command,
        name: str,
        args: list[bytes],
        elapsed: int,
        blocked: bool,
    ) -> None:
        """A command took ``elapsed`` ns, at least ``observe_ns``: log what Redis logs."""
        flags = self._flags_of(name if name in REDIS_COMMANDS else cmd.name)
        if self.monitors and not ("admin" in flags or "skip_monitor" in flags):
            self.feed(client, args)
        elif self.monitors and cmd.name in SCRIPT_COMMANDS and not client.in_script:
            self.feed(client, args, time.time() - elapsed / 1e9)  # before its commands
            lines, self._lua_lines = self._lua_lines, []
            for line in lines:
                self._send(line, client)
        micros = elapsed // 1000
        if self.latency_threshold and micros // 1000 >= self.latency_threshold:
            self.latency_sample("fast-command" if "fast" in flags else "command", micros // 1000)
        if blocked or "skip_slowlog" in flags:
            return
        if 0 <= self.slowlog_threshold <= micros:
            self.slowlog_push(client, name, args, micros)

    def unblocked(self, client: Client, args: list[bytes], ran_ns: int) -> None:
        """A blocked command's wait ended: Redis logs it now (slow log, latency
        histogram), with the time it ran, not the time it waited."""
        from .commands import lookup

        cmd = lookup(args[0])
        if cmd is None:
            return
        name = cmd.full_name(args)
        self.row(name)[ran_ns.bit_length()] += 1
        flags = self._flags_of(name if name in REDIS_COMMANDS else cmd.name)
        micros = ran_ns // 1000
        if "skip_slowlog" not in flags and 0 <= self.slowlog_threshold <= micros:
            self.slowlog_push(client, name, args, micros)

    def slowlog_push(self, client: Client, name: str, args: list[bytes], micros: int) -> None:
        if client.in_script:
            peer, client_name = b"?:0", b""
        else:
            peer, client_name = self.peer_id(client), client.name
        entry = [
            self.slowlog_next_id,
            int(time.time()),
            micros,
            _slowlog_args(redact(name, args)),
            peer,
            client_name,
        ]
        self.slowlog_next_id += 1
        self.slowlog.appendleft(entry)
        while len(self.slowlog) > self.slowlog_max_len:
            self.slowlog.pop()

    def peer_id(self, client: Client) -> bytes:
        if client.address == "/unixsocket":
            return f"{self.server.config.unixsocket}:0".encode()
        return client.address.encode()

    # -- latency events ----------------------------------------------------------------

    def latency_sample(self, event: str, latency: int) -> None:
        """latencyAddSample: one sample per second (the highest), the last 160 kept."""
        now = int(time.time())
        found = self.latency_events.get(event)
        if found is None:
            found = self.latency_events[event] = (deque(maxlen=LATENCY_TS_LEN), [0])
        samples, high = found
        high[0] = max(high[0], latency)
        if samples and samples[-1][0] == now:
            samples[-1][1] = max(samples[-1][1], latency)
            return
        samples.append([now, latency])

    def latency_sample_if_needed(self, event: str, latency_ms: int) -> None:
        if self.latency_threshold and latency_ms >= self.latency_threshold:
            self.latency_sample(event, latency_ms)

    # -- MONITOR ------------------------------------------------------------------------

    def add_monitor(self, client: Client) -> None:
        self.monitors.append(client)
        self._set_threshold()

    def remove_monitor(self, client: Client) -> None:
        if client in self.monitors:
            self.monitors.remove(client)
            self._set_threshold()

    def feed(self, client: Client, args: list[bytes], when: float | None = None) -> None:
        """One line of the MONITOR feed, as replicationFeedMonitors writes it."""
        now = time.time() if when is None else when
        seconds = int(now)
        micros = int((now - seconds) * 1_000_000)
        db = client.db.index
        if client.in_script:
            origin = b"%d lua" % db
        elif client.address == "/unixsocket":
            origin = f"{db} unix:{self.server.config.unixsocket}".encode()
        else:
            origin = b"%d %s" % (db, client.address.encode())
        name = args[0].lower()
        if name in (b"auth", b"hello"):
            args = redact(name.decode(), args)
        elif name == b"config" and len(args) > 1 and args[1].lower() == b"set":
            args = redact("config|set", args)
        line = b"+%d.%06d [%s] %s\r\n" % (
            seconds,
            micros,
            origin,
            b" ".join([monitor_repr(arg) for arg in args]),
        )
        if client.in_script:
            self._lua_lines.append(line)
        else:
            self._send(line, client)

    def _send(self, line: bytes, source: Client) -> None:
        loop = self.server.loop
        for monitor in list(self.monitors):
            if monitor.transport is None:
                self.remove_monitor(monitor)
            elif monitor is source and loop is not None:  # after the command's own reply
                loop.call_soon(_deliver_late, monitor, line)
            else:
                monitor.write([line])

    # -- INFO latencystats, LATENCY HISTOGRAM -------------------------------------------

    def histogram(self, name: str) -> dict[bytes, Any] | None:
        row = self.usage.get(name)
        if row is None or not self.tracking:
            return None
        calls = sum(row[:BUCKETS])
        if not calls:
            return None
        cumulative: dict[int, int] = {}
        seen = 0
        for index in range(BUCKETS):
            if row[index]:
                seen += row[index]
                cumulative[bucket_label(max(index - _FIRST, 0))] = seen
        return {b"calls": calls, b"histogram_usec": cumulative}

    def percentiles(self, name: str, percents: list[float]) -> str | None:
        row = self.usage.get(name)
        if row is None:
            return None
        total = sum(row[:BUCKETS])
        if not total:
            return None
        return ",".join(
            f"p{_format_percent(percent)}={_percentile(row, total, percent):.3f}"
            for percent in percents
        )


def _deliver_late(monitor: Client, line: bytes) -> None:
    if monitor.monitoring:  # not if the command was its RESET
        monitor.write([line])


def _format_percent(percent: float) -> str:
    """As Redis prints the percentile's name: %f with trailing zeros cut (p50, p99.9)."""
    text = f"{percent:f}".rstrip("0").rstrip(".")
    return text or "0"
