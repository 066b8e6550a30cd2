"""Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB INFO TIME CONFIG COMMAND SHUTDOWN, and
the introspection ones: SLOWLOG LATENCY MEMORY MONITOR LOLWUT WAIT."""

from __future__ import annotations

import contextlib
import gc
import os
import time
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from ...command_table import COMMANDS as REDIS_COMMANDS
from ...command_table import CommandInfo as RedisCommand
from ...command_table import KeySpec
from ...command_table import lookup as lookup_command
from ..client import NOT_READY, Blocked
from ..config import IMMUTABLE, PULSAR_ONLY, ServerConfig
from ..config_table import lookup as lookup_param
from ..glob import compile_glob
from ..info import info_text
from ..memory import doctor as memory_doctor
from ..memory import key_usage
from ..memory import stats as memory_stats
from ..protocol import OK, OrderedSet, Replies, SimpleString, Verbatim
from . import (
    ADMIN,
    COMMANDS,
    NO_AUTH,
    NOSCRIPT,
    WRITE,
    CommandError,
    bitfield_reads_only,
    command,
    parse_int,
    subcommand_error,
    syntax_error,
)
from .connection import VERSION, help_reply

if TYPE_CHECKING:
    from ..client import Client


@command("dbsize", 1)
def dbsize(client: Client, args: list[bytes]) -> Any:
    return len(client.db)


def _flush_option(args: list[bytes]) -> None:
    if len(args) > 2 or (len(args) == 2 and args[1].upper() not in (b"ASYNC", b"SYNC")):
        raise syntax_error()


@command("flushdb", -1, WRITE)
def flushdb(client: Client, args: list[bytes]) -> Any:
    _flush_option(args)
    client.db.clear()
    client.server.tracking.flushed()
    return OK


@command("flushall", -1, WRITE)
def flushall(client: Client, args: list[bytes]) -> Any:
    _flush_option(args)
    for db in client.server.databases:
        db.clear()
    client.server.tracking.flushed()
    return OK


@command("swapdb", 3, WRITE)
def swapdb(client: Client, args: list[bytes]) -> Any:
    server = client.server
    databases = server.databases
    first_index = _db_index(args[1], "first")
    second_index = _db_index(args[2], "second")
    if not (0 <= first_index < len(databases) and 0 <= second_index < len(databases)):
        raise CommandError("ERR DB index is out of range")
    first, second = databases[first_index], databases[second_index]
    if first is not second:
        # As dbSwapDatabases: a watched key is touched if it exists on either side; the
        # clients' WATCHes and blocked keys stay with their database number.
        for db in (first, second):
            for key in list(db.watchers):
                if key in first.data or key in second.data:
                    db.touch(key)
        first.data, second.data = second.data, first.data
        first.expires, second.expires = second.expires, first.expires
        first._deadlines, second._deadlines = second._deadlines, first._deadlines
        first.access, second.access = second.access, first.access
        for db in (first, second):  # scanDatabaseForReadyKeys
            for index, key in list(server.blocked):
                if index == db.index and db.peek(key) is not None:
                    server.ready_keys.append((db, key))
    return OK


def _db_index(value: bytes, which: str) -> int:
    """getIntFromObjectOrReply: a 32-bit integer."""
    try:
        number = parse_int(value)
    except CommandError:
        number = None
    if number is None or not -(1 << 31) <= number < (1 << 31):
        raise CommandError(f"ERR invalid {which} DB index")
    return number


@command("time", 1)
def time_(client: Client, args: list[bytes]) -> Any:
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


@command("wait", 3, NOSCRIPT)
def wait(client: Client, args: list[bytes]) -> Any:
    """With no replicas: 0 at once when none is asked for (or inside MULTI), else after
    the timeout (0: for ever), as a Redis primary without replicas answers."""
    replicas = parse_int(args[1])
    try:
        timeout = parse_int(args[2])
    except CommandError:
        raise CommandError("ERR timeout is not an integer or out of range") from None
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    if replicas <= 0 or client.in_exec or not client.can_block:
        return 0
    return Blocked([], timeout / 1000, _never_ready, 0)


def _never_ready(key: bytes) -> Any:
    return NOT_READY


@command("lolwut", -1)
def lolwut(client: Client, args: list[bytes]) -> Any:
    """LOLWUT [VERSION v]: 7.0 shows its version line only; versions 5 and 6 draw (a
    drawing of PulsarDS's own) above Redis's caption for them."""
    version = VERSION.decode()
    major = version.split(".")[0]
    if len(args) >= 3 and args[1].lower() == b"version":
        major = str(parse_int(args[2]) & 0xFFFFFFFF)
    line = f"Redis ver. {version}\n"
    if major == "5":
        art = _braille_art()
        return Verbatim(f"{art}\nGeorg Nees - schotter, plotter on paper, 1968. {line}".encode())
    if major == "6":
        art = "\n".join(
            "".join(
                "\x1b[0;37;47m \x1b[0m" if (x + y) % 3 else "\x1b[0;30;40m \x1b[0m"
                for x in range(20)
            )
            for y in range(6)
        )
        return Verbatim(
            f"{art}\nDedicated to the 8 bit game developers of past and present.\n"
            f"Original 8 bit image from Plaguemon by hikikomori. {line}".encode()
        )
    return Verbatim(line.encode())


_LIGHT = "\x1b[0;37;47m \x1b[0m"
_DARK = "\x1b[0;30;40m \x1b[0m"


def _braille_art() -> str:
    """A row of squares in braille dots (Redis draws Georg Nees's Schotter)."""
    rows = []
    for y in range(4):
        rows.append("".join(chr(0x2800 + ((x * 7 + y * 13) % 256)) for x in range(33)))
    return "\n".join(rows)


# -- SLOWLOG ---------------------------------------------------------------------------------


def _subcommand(args: list[bytes], known: tuple[bytes, ...]) -> bytes:
    """The subcommand, checked as Redis 7.0 checks it before running: known, and of its
    arity (from the command table)."""
    sub = args[1].lower()
    if sub not in known:
        raise subcommand_error(args, known)
    info = REDIS_COMMANDS.get(f"{args[0].decode('utf-8', 'replace').lower()}|{sub.decode()}")
    if info is not None and not info.arity_ok(len(args)):
        raise subcommand_error(args, known)
    return sub


def _syntax(args: list[bytes]) -> CommandError:
    """addReplySubcommandSyntaxError."""
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for "
        f"'{args[1].decode('utf-8', 'replace')[:128]}'. "
        f"Try {args[0].decode('utf-8', 'replace').upper()} HELP."
    )


_SLOWLOG_HELP = [
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
]


@command("slowlog", -2)
def slowlog(client: Client, args: list[bytes]) -> Any:
    sub = _subcommand(args, (b"get", b"help", b"len", b"reset"))
    recorder = client.server.recorder
    if sub == b"help" and len(args) == 2:
        return help_reply(b"slowlog", _SLOWLOG_HELP)
    if sub == b"reset" and len(args) == 2:
        recorder.slowlog.clear()
        return OK
    if sub == b"len" and len(args) == 2:
        return len(recorder.slowlog)
    if sub == b"get" and len(args) in (2, 3):
        count = 10
        if len(args) == 3:
            try:
                count = parse_int(args[2])
            except CommandError:
                count = -2
            if count < -1:
                raise CommandError("ERR count should be greater than or equal to -1")
            if count == -1:
                count = len(recorder.slowlog)
        return [list(entry) for entry in list(recorder.slowlog)[:count]]
    raise _syntax(args)


# -- LATENCY ---------------------------------------------------------------------------------

_LATENCY_HELP = [
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for "
    "the specified command names.",
    "    If no commands are specified then all histograms are replied.",
]
_LATENCY_OFF = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
    'instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in '
    "order to enable it. If we weren't in a deep space mission I'd suggest to take a look "
    "at https://redis.io/topics/latency-monitor.\n"
)


@command("latency", -2)
def latency(client: Client, args: list[bytes]) -> Any:
    sub = _subcommand(
        args, (b"doctor", b"graph", b"help", b"histogram", b"history", b"latest", b"reset")
    )
    recorder = client.server.recorder
    events = recorder.latency_events
    if sub == b"history" and len(args) == 3:
        found = events.get(args[2].decode("utf-8", "replace"))
        return [] if found is None else [list(sample) for sample in found[0]]
    if sub == b"graph" and len(args) == 3:
        event = args[2].decode("utf-8", "replace")
        if event not in events:
            raise CommandError(f"ERR No samples available for event '{event}'")
        return Verbatim(_latency_graph(event, *events[event]).encode())
    if sub == b"latest" and len(args) == 2:
        return [
            [name.encode(), samples[-1][0], samples[-1][1], high[0]]
            for name, (samples, high) in events.items()
        ]
    if sub == b"doctor" and len(args) == 2:
        return Verbatim(_latency_doctor(client).encode())
    if sub == b"reset":
        if len(args) == 2:
            count = len(events)
            events.clear()
            return count
        resets = 0
        for name in args[2:]:
            if events.pop(name.decode("utf-8", "replace"), None) is not None:
                resets += 1
        return resets
    if sub == b"histogram":
        return _latency_histogram(client, args[2:])
    if sub == b"help" and len(args) == 2:
        return help_reply(b"latency", _LATENCY_HELP)
    raise _syntax(args)


def _latency_histogram(client: Client, names: list[bytes]) -> dict[bytes, Any]:
    recorder = client.server.recorder
    wanted: list[str] = []
    if not names:
        wanted = sorted(recorder.usage)
    for raw in names:
        name = raw.decode("utf-8", "replace").lower()
        info = lookup_command(name)
        if info is None:
            continue
        wanted.append(info.name)
        wanted.extend(sorted(sub for sub in recorder.usage if sub.startswith(info.name + "|")))
    reply: dict[bytes, Any] = {}
    for name in wanted:
        histogram = recorder.histogram(name)
        if histogram is not None:
            reply[name.encode()] = histogram
    return reply


def _latency_graph(event: str, samples: Any, high: list[int]) -> str:
    values = [latency for _, latency in samples]
    top, low = max(values), min(values)
    header = f"{event} - high {top} ms, low {low} ms (all time high {high[0]} ms)\n"
    lines = [header, "-" * 80 + "\n"]
    # one column per sample, Redis's sparkline simplified: a bar of # per quarter
    rows = []
    for level in (4, 3, 2, 1):
        rows.append(
            "".join(
                "#" if top and latency * 4 >= level * top else " " for latency in values
            ).rstrip()
            + "\n"
        )
    now = int(time.time())
    labels = [_ago(now - when) for when, _ in samples]
    for index in range(max((len(label) for label in labels), default=0)):
        rows.append("".join(label[index] if index < len(label) else " " for label in labels) + "\n")
    return "".join(lines + rows)


def _ago(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _latency_doctor(client: Client) -> str:
    recorder = client.server.recorder
    if not recorder.latency_threshold and not recorder.latency_events:
        return _LATENCY_OFF
    if not recorder.latency_events:
        return (
            "Dave, no latency spike was observed during the lifetime of this Redis "
            "instance, not in the slightest bit. I honestly think you ought to sleep "
            "better!\n"
        )
    lines = [
        "Dave, I have observed latency spikes in this Redis instance. You don't mind "
        "talking about it, do you Dave?\n\n"
    ]
    for number, (name, (samples, high)) in enumerate(recorder.latency_events.items(), 1):
        values = [latency for _, latency in samples]
        average = sum(values) // len(values)
        lines.append(
            f"{number}. {name}: {len(values)} latency spikes (average {average}ms, "
            f"mean deviation 0ms, period 0 sec). Worst all time event {high[0]}ms.\n"
        )
    lines.append(
        "\nI have a few advices for you:\n\n- Check your system for other processes "
        "using the CPU: PulsarDS runs every command on one thread.\n"
    )
    return "".join(lines)


# -- MONITOR ---------------------------------------------------------------------------------


@command("monitor", 1, ADMIN, NOSCRIPT)
def monitor(client: Client, args: list[bytes]) -> Any:
    if client.in_exec:
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if client.monitoring:
        return _NO_REPLY  # Redis ignores a second MONITOR (no reply at all)
    client.monitoring = True
    client.server.recorder.add_monitor(client)
    client.refresh_runner()
    return OK


_NO_REPLY = Replies()


# -- MEMORY ----------------------------------------------------------------------------------

_MEMORY_HELP = [
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
]


@command("memory", -2)
def memory_(client: Client, args: list[bytes]) -> Any:
    sub = _subcommand(args, (b"doctor", b"help", b"malloc-stats", b"purge", b"stats", b"usage"))
    if sub == b"help" and len(args) == 2:
        return help_reply(b"memory", _MEMORY_HELP)
    if sub == b"usage" and len(args) >= 3:
        samples = 5
        index = 3
        while index < len(args):
            if args[index].lower() == b"samples" and index + 1 < len(args):
                samples = parse_int(args[index + 1])
                if samples < 0:
                    raise syntax_error()
                if samples == 0:
                    samples = 1 << 62
                index += 2
            else:
                raise syntax_error()
        value = client.db.data.get(args[2])  # Redis's dictFind: no expiry, no access
        if value is None:
            return None
        return key_usage(args[2], value, samples)
    if sub == b"stats" and len(args) == 2:
        return memory_stats(client.server)
    if sub == b"doctor" and len(args) == 2:
        return Verbatim(memory_doctor(client.server).encode())
    if sub == b"malloc-stats" and len(args) == 2:
        return Verbatim(b"Stats not supported for the current allocator")
    if sub == b"purge" and len(args) == 2:
        gc.collect()
        return OK
    raise _syntax(args)


for _name in (b"slowlog", b"latency", b"memory"):  # containers: stats per subcommand
    COMMANDS[_name].subcommand_calls = {}


@command("role", 1, NOSCRIPT)
def role(client: Client, args: list[bytes]) -> Any:
    return [b"master", 0, []]


@command("shutdown", -1, ADMIN, NOSCRIPT)
def shutdown(client: Client, args: list[bytes]) -> Any:
    save: bool | None = None
    for option in args[1:]:
        word = option.upper()
        if word == b"NOSAVE":
            save = False
        elif word == b"SAVE":
            save = True
        elif word not in (b"NOW", b"FORCE", b"ABORT"):
            raise syntax_error()
    try:
        client.server.shutdown(save, strict=True)
    except Exception as exc:
        raise CommandError(f"ERR Errors trying to SHUTDOWN. Check logs. ({exc})") from exc
    client.closing = True
    return OK


# -- CONFIG ----------------------------------------------------------------------------------

_CONFIG_HELP = [
    b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"GET <pattern>",
    b"    Return parameters matching the glob-like <pattern> and their values.",
    b"SET <directive> <value>",
    b"    Set the configuration <directive> to <value>.",
    b"RESETSTAT",
    b"    Reset statistics reported by the INFO command.",
    b"REWRITE",
    b"    Rewrite the configuration file.",
    b"HELP",
    b"    Prints this help.",
]


@command("config", -2, ADMIN, NOSCRIPT)
def config(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    if sub == b"get" and len(args) >= 3:
        return _config_get(client.server.config, args[2:])
    if sub == b"set" and len(args) >= 4:
        if len(args) % 2:
            raise syntax_error()
        return _config_set(client, args[2:])
    if sub == b"resetstat" and len(args) == 2:
        client.server.reset_stats()
        COMMANDS[b"config"].calls = 1  # this one, as Redis counts it after the reset
        return OK
    if sub == b"rewrite" and len(args) == 2:
        return _config_rewrite(client.server.config)
    if sub == b"help" and len(args) == 2:
        return _CONFIG_HELP
    raise subcommand_error(args, (b"get", b"set", b"resetstat", b"rewrite", b"help"))


def _known(name: str) -> bool:
    return lookup_param(name) is not None or name.lower().replace("-", "_") in PULSAR_ONLY


def _config_get(settings: ServerConfig, patterns: list[bytes]) -> dict[bytes, bytes]:
    """Redis's configGetCommand: a name without glob characters is looked up (and answered
    under the spelling asked), a pattern matched against every name and alias but the
    hidden ones; each parameter once."""
    found: dict[bytes, bytes] = {}
    for pattern in patterns:
        if not any(char in pattern for char in b"[*?"):
            text = pattern.decode("utf-8", "replace")
            if pattern not in found and _known(text):
                found[pattern] = settings.get_text(text).encode()
            continue
        match = compile_glob(pattern, nocase=True)
        for name in ServerConfig.parameter_names():
            key = name.encode()
            if key not in found and match(key):
                found[key] = settings.get_text(name).encode()
    return found


def _local(client: Client) -> bool:
    address = client.address
    return address.startswith(("127.", "[::1]", "/")) or not address


def _config_set(client: Client, pairs: list[bytes]) -> Any:
    """Redis's configSetCommand: every name is checked first (unknown, immutable,
    protected, twice), then all values are set on a copy, which replaces the settings
    only if every one was valid: all or nothing."""
    server = client.server
    settings = server.config
    unknown: str | None = None
    refused: tuple[str, str] | None = None  # (argument, reason)
    changes: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw_name, raw_value in zip(pairs[::2], pairs[1::2], strict=True):
        name = raw_name.decode("utf-8", "replace")
        if not _known(name):
            if unknown is None and refused is None:
                unknown = name
            continue
        if unknown is not None or refused is not None:
            continue
        param = lookup_param(name)
        attr = (param.name if param is not None else name.lower()).replace("-", "_")
        if (param is not None and param.immutable) or attr in IMMUTABLE:
            refused = (name, "can't set immutable config")
            continue
        if param is not None and param.protected:
            allowed = settings.get_text("enable-protected-configs")
            if not (allowed == "yes" or (allowed == "local" and _local(client))):
                refused = (name, "can't set protected config")
                continue
        registered = name.lower()  # Redis registers an alias as a parameter of its own
        if registered in seen:
            refused = (name, "duplicate parameter")
            continue
        seen.add(registered)
        changes.append((registered, raw_value.decode("utf-8", "replace")))
    if unknown is not None:
        raise CommandError(
            f"ERR Unknown option or number of arguments for CONFIG SET - '{unknown}'"
        )
    if refused is not None:
        raise CommandError(
            f"ERR CONFIG SET failed (possibly related to argument '{refused[0]}') - {refused[1]}"
        )
    trial = settings.copy()
    for name, text in changes:
        try:
            trial.set_text(name, text, strict=True)
        except ValueError as exc:
            raise CommandError(
                f"ERR CONFIG SET failed (possibly related to argument '{name}') - {exc}"
            ) from None
    for item in fields(ServerConfig):
        setattr(settings, item.name, getattr(trial, item.name))
    changed = set()
    for name, _ in changes:
        param = lookup_param(name)
        changed.add(param.name if param is not None else name)
    server.config_changed(changed)
    return OK


def _config_rewrite(settings: ServerConfig) -> Any:
    path = settings.config_file
    if not path:
        raise CommandError("ERR The server is running without a config file")
    temp = f"{path}.rewrite-{os.getpid()}"
    try:
        with open(temp, "w", encoding="utf-8") as file:
            file.write(settings.rewrite_text())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise CommandError(f"ERR Rewriting config file: {exc.strerror}") from None
    return OK


# -- COMMAND ---------------------------------------------------------------------------------

# The order Redis 7.0 lists command flags, key spec flags and ACL categories in.
_FLAG_ORDER = (
    "write readonly denyoom module admin pubsub noscript blocking loading stale skip_monitor "
    "skip_slowlog asking fast no_auth no_mandatory_keys no_async_loading no_multi movablekeys "
    "allow_busy"
).split()
_KEY_FLAG_ORDER = (
    "RO RW OW RM access update insert delete not_key incomplete variable_flags".split()
)
_CATEGORY_ORDER = [
    f"@{name}"
    for name in (
        "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream "
        "pubsub admin fast slow blocking dangerous connection transaction scripting"
    ).split()
]
_COMMAND_HELP = [
    b"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"(no subcommand)",
    b"    Return details about all Redis commands.",
    b"COUNT",
    b"    Return the total number of commands in this Redis server.",
    b"LIST",
    b"    Return a list of all commands in this Redis server.",
    b"INFO [<command-name> ...]",
    b"    Return details about multiple Redis commands.",
    b"    If no command names are given, documentation details for all",
    b"    commands are returned.",
    b"DOCS [<command-name> ...]",
    b"    Return documentation details about multiple Redis commands.",
    b"    If no command names are given, documentation details for all",
    b"    commands are returned.",
    b"GETKEYS <full-command>",
    b"    Return the keys from a full Redis command.",
    b"GETKEYSANDFLAGS <full-command>",
    b"    Return the keys and the access flags from a full Redis command.",
    b"HELP",
    b"    Prints this help.",
]


def _ordered(names: frozenset[str] | tuple[str, ...], order: list[str]) -> OrderedSet:
    """Status replies in Redis's order, as the RESP3 set Redis sends."""
    rank = {name: index for index, name in enumerate(order)}
    ranked = sorted(names, key=lambda name: rank.get(name, 99))
    return OrderedSet(SimpleString(name.encode()) for name in ranked)


# Subcommands of a container PulsarDS has that it does not implement (it answers them
# "unknown subcommand"): COMMAND leaves them out. test_differential_introspection checks
# each is still unknown, and that every other one is known.
UNIMPLEMENTED_SUBCOMMANDS: frozenset[str] = frozenset()


def _subcommands(info: RedisCommand) -> list[RedisCommand]:
    """The subcommands of ``info`` PulsarDS implements, by name."""
    return [
        sub
        for _, sub in sorted(info.subcommands.items())
        if sub.name not in UNIMPLEMENTED_SUBCOMMANDS
    ]


def _implemented() -> list[RedisCommand]:
    """The commands PulsarDS's dispatch table has, as Redis 7.0 describes them."""
    found = {entry.name for entry in COMMANDS.values()}
    return [REDIS_COMMANDS[name] for name in sorted(found) if name in REDIS_COMMANDS]


def _find(name: bytes) -> RedisCommand | None:
    """A command (``get``) or subcommand (``config|get``) PulsarDS has, any case."""
    info = lookup_command(name.decode("utf-8", "replace").lower())
    if info is None:
        return None
    container = info.container or info.name
    if container.encode() not in COMMANDS or info.name in UNIMPLEMENTED_SUBCOMMANDS:
        return None
    return info


def _legacy_range(info: RedisCommand) -> tuple[int, int, int]:
    """(first key, last key, step) as Redis derives them from the key specs
    (populateCommandLegacyRangeSpec)."""
    specs = info.key_specs
    if not specs:
        return (0, 0, 0)
    if len(specs) == 1 and specs[0].begin == "index" and specs[0].find == "range":
        spec = specs[0]
        last = spec.lastkey + spec.index if spec.lastkey >= 0 else spec.lastkey
        return (spec.index, last, spec.keystep)
    first, last, previous = 1 << 31, 0, 0
    for spec in specs:
        if spec.begin != "index" or spec.find != "range":
            continue
        if spec.keystep != 1 or (previous and previous != spec.index - 1):
            continue
        first = min(first, spec.index)
        absolute = spec.lastkey + spec.index if spec.lastkey >= 0 else spec.lastkey
        last = max(last & 0xFFFFFFFF, absolute & 0xFFFFFFFF)  # unsigned, as Redis compares
        last = last - (1 << 32) if last >> 31 else last
        previous = last
    if first == 1 << 31:
        return (0, 0, 0)
    return (first, last, 1)


def _key_spec_reply(spec: KeySpec) -> dict[bytes, Any]:
    if spec.begin == "index":
        begin: dict[bytes, Any] = {b"type": b"index", b"spec": {b"index": spec.index}}
    elif spec.begin == "keyword":
        begin = {
            b"type": b"keyword",
            b"spec": {b"keyword": spec.keyword.encode(), b"startfrom": spec.startfrom},
        }
    else:
        begin = {b"type": b"unknown", b"spec": {}}
    if spec.find == "range":
        find: dict[bytes, Any] = {
            b"type": b"range",
            b"spec": {b"lastkey": spec.lastkey, b"keystep": spec.keystep, b"limit": spec.limit},
        }
    elif spec.find == "keynum":
        find = {
            b"type": b"keynum",
            b"spec": {
                b"keynumidx": spec.keynumidx,
                b"firstkey": spec.firstkey,
                b"keystep": spec.keystep,
            },
        }
    else:
        find = {b"type": b"unknown", b"spec": {}}
    return {
        b"flags": _ordered(spec.flags, _KEY_FLAG_ORDER),
        b"begin_search": begin,
        b"find_keys": find,
    }


def _command_info(info: RedisCommand | None) -> Any:
    """One command as COMMAND INFO shows it (addReplyCommandInfo)."""
    if info is None:
        return None
    first, last, step = _legacy_range(info)
    subcommands = [_command_info(sub) for sub in _subcommands(info)]
    return [
        info.name.encode(),
        info.arity,
        _ordered(info.flags, _FLAG_ORDER),
        first,
        last,
        step,
        _ordered(info.acl_categories, _CATEGORY_ORDER),
        OrderedSet(tip.encode() for tip in info.tips),
        OrderedSet(_key_spec_reply(spec) for spec in info.key_specs),
        OrderedSet(subcommands),
    ]


def _command_docs(info: RedisCommand) -> dict[bytes, Any]:
    """What the command table knows of COMMAND DOCS (no summaries nor arguments)."""
    docs: dict[bytes, Any] = {b"since": info.since.encode(), b"group": info.group.encode()}
    if info.subcommands:
        docs[b"subcommands"] = {sub.name.encode(): _command_docs(sub) for sub in _subcommands(info)}
    return docs


def _all_names() -> list[bytes]:
    names: list[bytes] = []
    for info in _implemented():
        names.append(info.name.encode())
        names.extend(sub.name.encode() for sub in _subcommands(info))
    return names


def _command_list(args: list[bytes]) -> list[bytes]:
    """COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]."""
    if len(args) == 2:
        return _all_names()
    if len(args) != 5 or args[2].lower() != b"filterby":
        raise syntax_error()
    kind, value = args[3].lower(), args[4]
    if kind == b"module":
        return []  # PulsarDS has no modules
    if kind == b"aclcat":
        category = "@" + value.decode("utf-8", "replace").lower()
        if category not in _CATEGORY_ORDER:
            return []
        return [
            name
            for name in _all_names()
            if category in REDIS_COMMANDS[name.decode()].acl_categories
        ]
    if kind == b"pattern":
        match = compile_glob(value, nocase=True)
        return [name for name in _all_names() if match(name)]
    raise syntax_error()


def _set_key_flags(args: list[bytes]) -> frozenset[str]:
    """SET's key: read too with GET (Redis's setGetKeys)."""
    if any(arg.lower() == b"get" for arg in args[3:]):
        return frozenset({"RW", "access", "update"})
    return frozenset({"OW", "update"})


def _bitfield_key_flags(args: list[bytes]) -> frozenset[str]:
    """BITFIELD's key: read-only with GET and OVERFLOW only."""
    if bitfield_reads_only(args):
        return frozenset({"RO", "access"})
    return frozenset({"RW", "access", "update"})


_VARIABLE_FLAGS = {"set": _set_key_flags, "bitfield": _bitfield_key_flags}


def _getkeys(args: list[bytes], with_flags: bool) -> Any:
    """COMMAND GETKEYS / GETKEYSANDFLAGS (getKeysSubcommandImpl)."""
    command_args = args[2:]
    info = _find(command_args[0])
    if info is not None and info.subcommands:
        if len(command_args) > 1:
            info = _find(b"%s|%s" % (command_args[0], command_args[1]))
    if info is None:
        raise CommandError("ERR Invalid command specified")
    specs = [spec for spec in info.key_specs if "not_key" not in spec.flags]
    if not specs:
        raise CommandError("ERR The command has no key arguments")
    if not info.arity_ok(len(command_args)):
        raise CommandError("ERR Invalid number of arguments specified for command")
    found: list[tuple[int, frozenset[str]]] = []
    variable = _VARIABLE_FLAGS.get(info.name)
    if variable is not None:  # flags that depend on the arguments: found by code in Redis
        flags = variable(command_args)
        if not with_flags:
            return [command_args[1]]
        return [[command_args[1], _ordered(flags, _KEY_FLAG_ORDER)]]
    if info.name in ("sort", "sort_ro", "migrate"):  # found by code in Redis too
        positions = info.key_positions(command_args)
        found = [
            (p, specs[0 if p == (3 if info.name == "migrate" else 1) else -1].flags)
            for p in positions
        ]
    else:
        for spec in specs:
            at = spec.positions(command_args)
            if at is None:
                found = []
                break
            found += [(position, spec.flags) for position in at]
    if not found:
        if "no_mandatory_keys" in info.flags:
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    if not with_flags:
        return [command_args[position] for position, _ in found]
    return [[command_args[position], _ordered(flags, _KEY_FLAG_ORDER)] for position, flags in found]


@command("command", -1, NO_AUTH)
def command_(client: Client, args: list[bytes]) -> Any:
    if len(args) == 1:
        return [_command_info(info) for info in _implemented()]
    sub = args[1].lower()
    if sub == b"count" and len(args) == 2:
        return len(_implemented())
    if sub == b"info":
        if len(args) == 2:
            return [_command_info(info) for info in _implemented()]
        return [_command_info(_find(name)) for name in args[2:]]
    if sub == b"docs":
        wanted = _implemented() if len(args) == 2 else [_find(name) for name in args[2:]]
        return {info.name.encode(): _command_docs(info) for info in wanted if info is not None}
    if sub == b"list":
        return _command_list(args)
    if sub in (b"getkeys", b"getkeysandflags") and len(args) >= 4:
        return _getkeys(args, sub == b"getkeysandflags")
    if sub == b"help" and len(args) == 2:
        return _COMMAND_HELP
    raise subcommand_error(
        args, (b"count", b"docs", b"getkeys", b"getkeysandflags", b"help", b"info", b"list")
    )


# -- INFO ------------------------------------------------------------------------------------


@command("info", -1)
def info(client: Client, args: list[bytes]) -> Any:
    return Verbatim(info_text(client.server, args[1:]))


@command("debug", -2, ADMIN, NOSCRIPT)
def debug(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    if sub == b"sleep" and len(args) == 3:
        time.sleep(float(args[2]))  # blocks the server on purpose, like Redis
        return OK
    if sub == b"jmap" or sub == b"set-active-expire":
        return OK
    raise CommandError("ERR DEBUG subcommand not supported by PulsarDS")
