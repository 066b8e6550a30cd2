"""Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB INFO TIME CONFIG COMMAND SHUTDOWN."""

from __future__ import annotations

import os
import platform
import sys
import time
from typing import TYPE_CHECKING, Any

from ..config import IMMUTABLE, ServerConfig
from ..glob import compile_glob
from ..protocol import OK, Verbatim
from . import (
    ADMIN,
    COMMANDS,
    NO_AUTH,
    NOSCRIPT,
    WRITE,
    CommandError,
    command,
    parse_int,
    subcommand_error,
    syntax_error,
)
from .connection import VERSION

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
    return OK


@command("flushall", -1, WRITE)
def flushall(client: Client, args: list[bytes]) -> Any:
    _flush_option(args)
    for db in client.server.databases:
        db.clear()
    return OK


@command("swapdb", 3, WRITE)
def swapdb(client: Client, args: list[bytes]) -> Any:
    databases = client.server.databases
    indexes = []
    for value in args[1:]:
        try:
            index = parse_int(value)
        except CommandError:
            raise CommandError("ERR invalid first DB index") from None
        if not 0 <= index < len(databases):
            raise CommandError("ERR DB index is out of range")
        indexes.append(index)
    first, second = databases[indexes[0]], databases[indexes[1]]
    if first is not second:
        first.data, second.data = second.data, first.data
        first.expires, second.expires = second.expires, first.expires
        first._deadlines, second._deadlines = second._deadlines, first._deadlines
        for db in (first, second):
            for key in list(db.watchers):
                db.touch(key)
            client.server.wrote(
                db, [key for index, key in client.server.blocked if index == db.index]
            )
    return OK


@command("time", 1)
def time_(client: Client, args: list[bytes]) -> Any:
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


@command("wait", 3, NOSCRIPT)
def wait(client: Client, args: list[bytes]) -> Any:
    parse_int(args[1])
    parse_int(args[2])
    return 0  # no replicas


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

_ALIASES = {"save-params": "save"}


@command("config", -2, ADMIN, NOSCRIPT)
def config(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    settings = client.server.config
    if sub == b"get" and len(args) >= 3:
        found: dict[bytes, bytes] = {}
        for pattern in args[2:]:
            match = compile_glob(pattern.lower())
            for name in ServerConfig.names():
                if match(name.encode()):
                    found[name.encode()] = settings.get_text(name).encode()
        return found
    if sub == b"set" and len(args) >= 4 and len(args) % 2 == 0:
        changes = {}
        for raw_name, value in zip(args[2::2], args[3::2], strict=True):
            text = raw_name.decode("utf-8", "replace").lower()
            if text.replace("-", "_") in IMMUTABLE:
                raise CommandError(
                    f"ERR CONFIG SET failed (possibly related to argument '{text}') - "
                    "can't set immutable config"
                )
            changes[text] = value.decode("utf-8", "replace")
        trial = settings.copy()
        for name, text in changes.items():
            try:
                trial.set_text(name, text)
            except ValueError as exc:
                if "Unknown option" in str(exc):
                    raise CommandError(
                        f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    ) from None
                raise CommandError(
                    f"ERR CONFIG SET failed (possibly related to argument '{name}') - {exc}"
                ) from None
        for name, text in changes.items():
            settings.set_text(name, text)
        client.server.config_changed(set(changes))
        return OK
    if sub == b"resetstat" and len(args) == 2:
        client.server.reset_stats()
        return OK
    if sub == b"rewrite" and len(args) == 2:
        raise CommandError("ERR The server is running without a config file")
    if sub == b"help":
        return [b"CONFIG <subcommand> [<arg> ...]. Subcommands are: GET SET RESETSTAT HELP"]
    raise subcommand_error(args, (b"get", b"set", b"resetstat", b"rewrite"))


# -- COMMAND ---------------------------------------------------------------------------------


def _command_info(name: bytes) -> Any:
    entry = COMMANDS.get(name.lower())
    if entry is None:
        return None
    flags = [flag.encode() for flag in sorted(entry.flags)] or [b"fast"]
    return [
        entry.name.encode(),
        entry.arity,
        [b"write" if entry.is_write else b"readonly", *flags],
        entry.first_key,
        entry.last_key,
        entry.step,
        [],
        [],
        [],
        [],
    ]


def _names() -> list[bytes]:
    return sorted({entry.name.encode() for entry in COMMANDS.values()})


@command("command", -1, NO_AUTH)
def command_(client: Client, args: list[bytes]) -> Any:
    if len(args) == 1:
        return [_command_info(name) for name in _names()]
    sub = args[1].lower()
    if sub == b"count" and len(args) == 2:
        return len(_names())
    if sub == b"info":
        return [_command_info(name) for name in (args[2:] or _names())]
    if sub == b"docs":
        return {}
    if sub == b"list":
        return _names()
    if sub == b"getkeys" and len(args) >= 3:
        entry = COMMANDS.get(args[2].lower())
        if entry is None:
            raise CommandError("ERR Invalid command specified")
        if not entry.arity_ok(len(args) - 2):
            raise CommandError("ERR Invalid number of arguments specified for command")
        found = entry.keys(args[2:])
        if not found:
            raise CommandError("ERR The command has no key arguments")
        return found
    raise subcommand_error(args, (b"count", b"getkeys", b"list"))


# -- INFO ------------------------------------------------------------------------------------


def _sections(client: Client) -> dict[str, list[tuple[str, Any]]]:
    server = client.server
    stats = server.stats
    config = server.config
    uptime = int(time.time() - server.started)
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (usage.ru_stime, usage.ru_utime)
    except ImportError:  # not on every platform
        rss, cpu = 0, (0.0, 0.0)
    keyspace = []
    for db in server.databases:
        if len(db):
            keyspace.append(
                (f"db{db.index}", f"keys={len(db)},expires={len(db.expires)},avg_ttl=0")
            )
    return {
        "server": [
            ("redis_version", VERSION.decode()),
            ("pulsards_version", "1"),
            ("redis_mode", "standalone"),
            ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
            ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
            ("process_id", os.getpid()),
            ("run_id", server.run_id),
            ("tcp_port", server.port),
            ("uptime_in_seconds", uptime),
            ("uptime_in_days", uptime // 86400),
            ("hz", config.hz),
            ("executable", sys.executable),
        ],
        "clients": [
            ("connected_clients", len(server.clients)),
            ("maxclients", config.maxclients),
            ("blocked_clients", sum(1 for c in server.clients.values() if c.blocked is not None)),
        ],
        "memory": [("used_memory_rss", rss), ("maxmemory", 0), ("maxmemory_policy", "noeviction")],
        "persistence": [("loading", 0), *server.snapshots.info().items()],
        "stats": [
            ("total_connections_received", stats.connections_received),
            ("total_commands_processed", sum(c.calls for c in _unique_commands())),
            ("rejected_connections", stats.rejected_connections),
            ("expired_keys", stats.expired_keys),
            ("pubsub_channels", len(server.pubsub.channels)),
            ("pubsub_patterns", len(server.pubsub.patterns)),
            ("total_error_replies", stats.protocol_errors),
            ("client_output_buffer_limit_disconnections", stats.output_buffer_kills),
        ],
        "replication": [("role", "master"), ("connected_slaves", 0)],
        "cpu": [("used_cpu_sys", f"{cpu[0]:.6f}"), ("used_cpu_user", f"{cpu[1]:.6f}")],
        "commandstats": [
            (
                f"cmdstat_{name}",
                f"calls={calls},usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0",
            )
            for name, calls in _command_calls()
        ],
        "keyspace": keyspace,
    }


def _unique_commands() -> list[Any]:
    """Each command once (COMMANDS holds two spellings of each name)."""
    return list({id(e): e for e in COMMANDS.values()}.values())


def _command_calls() -> list[tuple[str, int]]:
    """(name, calls) of the commands called, a container's per subcommand, as Redis."""
    counts: dict[str, int] = {}
    for entry in _unique_commands():
        if entry.subcommand_calls is not None:
            counts.update(entry.subcommand_calls)
        elif entry.calls:
            counts[entry.name] = entry.calls
    return sorted(counts.items())


@command("info", -1)
def info(client: Client, args: list[bytes]) -> Any:
    sections = _sections(client)
    wanted = {a.decode("utf-8", "replace").lower() for a in args[1:]}
    if not wanted or "default" in wanted:
        wanted = set(sections) - {"commandstats"}
    elif wanted & {"all", "everything"}:
        wanted = set(sections)
    lines: list[str] = []
    for name, fields in sections.items():
        if name not in wanted:
            continue
        if lines:
            lines.append("")
        lines.append(f"# {name.capitalize()}")
        lines.extend(f"{key}:{value}" for key, value in fields)
    if not lines:  # only unknown sections: Redis answers an empty text
        return Verbatim(b"")
    return Verbatim(("\r\n".join(lines) + "\r\n").encode())


@command("debug", -2, ADMIN, NOSCRIPT)
def debug(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    if sub == b"sleep" and len(args) == 3:
        time.sleep(float(args[2]))  # blocks the server on purpose, like Redis
        return OK
    if sub == b"jmap" or sub == b"set-active-expire":
        return OK
    raise CommandError("ERR DEBUG subcommand not supported by PulsarDS")
