"""PulsarDS configuration: one typed table shared by the command line, ``start_store`` and
CONFIG GET/SET. No I/O."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .config_table import LISTED, PARAMS
from .config_table import lookup as lookup_param

__all__ = [
    "DEFAULT_PORT",
    "OutputLimit",
    "SaveRule",
    "ServerConfig",
    "format_output_limits",
    "format_save",
    "parse_output_limits",
    "parse_save",
]

DEFAULT_PORT = 6410
SaveRule = tuple[int, int]  # (seconds, changes)


def parse_save(text: str) -> list[SaveRule]:
    """Redis's ``save`` syntax: ``"3600 1 300 100"`` or ``""`` for no automatic snapshots."""
    words = text.split()
    if len(words) % 2:
        raise ValueError(f"save needs pairs of <seconds> <changes>, got {text!r}")
    rules: list[SaveRule] = []
    for seconds, changes in zip(words[::2], words[1::2], strict=True):
        if not (seconds.isdigit() and changes.isdigit()):
            raise ValueError(f"save needs whole numbers, got {seconds!r} {changes!r}")
        rules.append((int(seconds), int(changes)))
    return rules


def format_save(rules: Sequence[SaveRule]) -> str:
    return " ".join(f"{seconds} {changes}" for seconds, changes in rules)


@dataclass(frozen=True, slots=True)
class OutputLimit:
    """One class of ``client-output-buffer-limit``: a client whose queued replies reach
    ``hard`` bytes is dropped at once, one that stays at ``soft`` bytes or more for longer
    than ``soft_seconds`` is dropped too; 0 turns a limit off."""

    hard: int = 0
    soft: int = 0
    soft_seconds: int = 0


# Redis 7.0's classes, in the order CONFIG GET lists them, and its defaults.
OUTPUT_CLASSES = ("normal", "replica", "pubsub")
DEFAULT_OUTPUT_LIMITS: dict[str, OutputLimit] = {
    "normal": OutputLimit(0, 0, 0),
    "replica": OutputLimit(256 << 20, 64 << 20, 60),
    "pubsub": OutputLimit(32 << 20, 8 << 20, 60),
}
_CLASS_NAMES = {"normal": "normal", "replica": "replica", "slave": "replica", "pubsub": "pubsub"}
_MEMTOULL_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000 * 1000,
    "mb": 1 << 20,
    "g": 1000 * 1000 * 1000,
    "gb": 1 << 30,
}
_ULL_MAX = (1 << 64) - 1


def _memtoull(word: str) -> int | None:
    """Redis's memtoull: digits and an optional unit (k is 1000, kb 1024); None if bad."""
    match = re.fullmatch(r"([0-9]+)([a-zA-Z]*)", word)
    if match is None or match.group(2).lower() not in _MEMTOULL_UNITS:
        return None
    # strtoull saturates; so does Redis's result
    return min(int(match.group(1)), _ULL_MAX) * _MEMTOULL_UNITS[match.group(2).lower()] & _ULL_MAX


def parse_output_limits(text: str, current: dict[str, OutputLimit]) -> dict[str, OutputLimit]:
    """``"normal 64mb 0 0 pubsub 32mb 8mb 60"`` applied over ``current``, as Redis's CONFIG
    SET does: classes not named keep their limits, and a bad word refuses the whole text."""
    words = text.split(" ") if text else []  # split on single spaces, as Redis does
    if len(words) % 4:
        raise ValueError("Wrong number of arguments in buffer limit configuration.")
    changes: dict[str, OutputLimit] = {}
    for index in range(0, len(words), 4):
        name = _CLASS_NAMES.get(words[index].lower())
        if name is None:  # "master" too: Redis refuses a limit for it
            raise ValueError("Invalid client class specified in buffer limit configuration.")
        hard, soft = _memtoull(words[index + 1]), _memtoull(words[index + 2])
        seconds = re.fullmatch(r"\+?[0-9]+", words[index + 3])
        if hard is None or soft is None or seconds is None:
            raise ValueError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            )
        # Redis keeps the seconds in an int: a bigger number wraps as it does there
        wrapped = int(seconds.group()) & 0xFFFFFFFF
        changes[name] = OutputLimit(hard, soft, wrapped - (1 << 32) if wrapped >> 31 else wrapped)
    return {**current, **changes}


def format_output_limits(limits: dict[str, OutputLimit]) -> str:
    """As Redis's CONFIG GET shows it (the replica class under its old name)."""
    return " ".join(
        f"{'slave' if name == 'replica' else name} {limits[name].hard} {limits[name].soft} "
        f"{limits[name].soft_seconds}"
        for name in OUTPUT_CLASSES
    )


def _yes_no(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("yes", "true", "1"):
        return True
    if lowered in ("no", "false", "0"):
        return False
    raise ValueError(f"expected yes or no, got {text!r}")


def _memory(text: str) -> int:
    """``512mb``, ``1gb``, ``4096``: a byte count as redis.conf writes them."""
    lowered = text.strip().lower()
    number, scale = lowered, 1
    for suffix, size in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("b", 1)):
        if lowered.endswith(suffix):
            number, scale = lowered[: -len(suffix)], size
            break
    if not number.isdigit():
        raise ValueError(f"expected a size such as 512mb, got {text!r}")
    return int(number) * scale


@dataclass
class ServerConfig:
    """Every setting PulsarDS knows, with redis.conf's names (dashes become underscores).

    The fields are the settings PulsarDS acts on; every other Redis 7.0 parameter
    (config_table.PARAMS: encoding thresholds, replication, cluster...) is accepted,
    checked as Redis checks it, kept as text in ``others`` and shown back by CONFIG GET.
    """

    bind: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    unixsocket: str = ""
    dir: str = "."
    dbfilename: str = "pulsards.snapshot"
    appendonly: bool = False
    appendfilename: str = "pulsards.aof"
    appendfsync: str = "everysec"
    save: list[SaveRule] = field(default_factory=lambda: [(3600, 1), (300, 100), (60, 10000)])
    requirepass: str = field(default="", repr=False)  # never in a repr, log or error
    databases: int = 16
    maxclients: int = 10000
    timeout: int = 0
    proto_max_bulk_len: int = 512 << 20
    # Redis's fixed limits on requests, made settable.
    max_multibulk_len: int = 1024 * 1024
    max_inline_len: int = 64 << 10
    client_query_buffer_limit: int = 1 << 30
    client_output_buffer_limit: dict[str, OutputLimit] = field(
        default_factory=lambda: dict(DEFAULT_OUTPUT_LIMITS)
    )
    hz: int = 10
    loglevel: str = "notice"
    # a script running longer than this many ms is killed (0: never); see scripting.py
    busy_reply_threshold: int = 5000
    # the memory limit (0: none) and what to evict to keep under it (eviction.py)
    maxmemory: int = 0
    maxmemory_policy: str = "noeviction"
    # the file CONFIG REWRITE writes ("": none, as a Redis started without one)
    config_file: str = ""
    # the other Redis parameters set away from their defaults: name -> CONFIG GET's text
    others: dict[str, str] = field(default_factory=dict, repr=False)

    def copy(self, **changes: Any) -> ServerConfig:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["others"] = dict(self.others)
        values.update(changes)
        return ServerConfig(**values)

    # CONFIG GET/SET and the command line speak text.
    def get_text(self, name: str) -> str:
        """The value of ``name`` (a field, or any Redis parameter or alias) as CONFIG GET
        shows it."""
        attr = name.replace("-", "_")
        if attr not in _FIELDS:
            param = lookup_param(name)
            if param is None:
                raise ValueError(f"Unknown option '{name}'")
            attr = param.name.replace("-", "_")
            if attr not in _FIELDS:
                return self.others.get(param.name, param.default)
        value = getattr(self, attr)
        if attr == "save":
            return format_save(value)
        if attr == "client_output_buffer_limit":
            return format_output_limits(value)
        if attr == "dir":
            return os.path.abspath(str(value))
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    def set_text(self, name: str, text: str, strict: bool = False) -> None:
        """Set ``name`` from its text form; ValueError names what was wrong. ``strict``
        (CONFIG SET) checks the value of every parameter as Redis does; the command line
        keeps PulsarDS's own, more lenient, reading of the settings it acts on."""
        attr = name.replace("-", "_")
        param = None if attr in PULSAR_ONLY else lookup_param(name)
        if param is not None:
            attr = param.name.replace("-", "_")
            if attr not in _FIELDS:
                self.others[param.name] = param.parse(text, self.get_text(param.name))
                if self.others[param.name] == param.default:
                    del self.others[param.name]
                return
            if strict:
                text = param.parse(text, self.get_text(param.name))
        elif attr not in PULSAR_ONLY:
            raise ValueError(f"Unknown option or number of arguments for CONFIG SET - '{name}'")
        if attr == "client_output_buffer_limit":  # merged into the limits it leaves alone
            self.client_output_buffer_limit = parse_output_limits(
                text, self.client_output_buffer_limit
            )
            return
        parse = PARSERS[attr]
        value = parse(text)
        if attr == "appendfsync" and value not in ("always", "everysec", "no"):
            raise ValueError(f"appendfsync must be always, everysec or no, got {text!r}")
        if attr == "databases" and not 1 <= value <= 1024:
            raise ValueError(f"databases must be 1-1024, got {text!r}")
        setattr(self, attr, value)

    @staticmethod
    def names() -> list[str]:
        """The settings PulsarDS acts on (the command line's options)."""
        return [name.replace("_", "-") for name in _FIELDS]

    @staticmethod
    def parameter_names() -> tuple[str, ...]:
        """What CONFIG GET's patterns match: Redis's parameters and aliases but the hidden
        ones (those, and PulsarDS's own request limits, only by their exact name)."""
        return LISTED

    def rewrite_text(self) -> str:
        """A redis.conf holding every setting away from its default (CONFIG REWRITE)."""
        defaults = ServerConfig()
        lines = ["# Generated by CONFIG REWRITE"]
        for name in (*PARAMS, *(n.replace("_", "-") for n in sorted(PULSAR_ONLY))):
            value = self.get_text(name)
            if value == defaults.get_text(name):
                continue
            param = PARAMS.get(name)
            if param is not None and param.multi and value:
                if name in ("save", "client-output-buffer-limit"):
                    words = value.split(" ")
                    size = 2 if name == "save" else 4
                    lines.extend(
                        f"{name} {' '.join(words[i : i + size])}"
                        for i in range(0, len(words), size)
                    )
                    continue
                lines.append(f"{name} {value}")
            else:
                lines.append(f"{name} {_quote(value)}")
        return "\n".join(lines) + "\n"

    def load_text(self, text: str) -> None:
        """Apply a redis.conf: one ``name value...`` per line, # comments."""
        save_seen = False
        for line in text.splitlines():
            words = line.strip().split(None, 1)
            if not words or words[0].startswith("#"):
                continue
            name = words[0].lower()
            value = _unquote(words[1]) if len(words) > 1 else ""
            if name == "save":  # several lines add rules; the first replaces the defaults
                rules = [] if not save_seen else list(self.save)
                save_seen = True
                self.save = rules + parse_save(value)
            elif name == "client-output-buffer-limit":
                self.client_output_buffer_limit = parse_output_limits(
                    value, self.client_output_buffer_limit
                )
            else:
                self.set_text(name, value, strict=True)


def _quote(value: str) -> str:
    if value and not any(c in value for c in " \t\"'\\") and value.isprintable():
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace('\\"', '"').replace("\\\\", "\\")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


PARSERS: dict[str, Callable[[str], Any]] = {
    "bind": str,
    "port": _integer,
    "unixsocket": str,
    "dir": str,
    "dbfilename": str,
    "appendonly": _yes_no,
    "appendfilename": str,
    "appendfsync": str.lower,
    "save": parse_save,
    "requirepass": str,
    "databases": _integer,
    "maxclients": _integer,
    "timeout": _integer,
    "proto_max_bulk_len": _memory,
    "max_multibulk_len": _integer,
    "max_inline_len": _memory,
    "client_query_buffer_limit": _memory,
    "hz": _integer,
    "loglevel": str,
    "busy_reply_threshold": _integer,
    "maxmemory": _memory,
    "maxmemory_policy": str.lower,
    "config_file": str,
}
# Settings a running server cannot change (they shape sockets and files already open).
IMMUTABLE = frozenset({"bind", "port", "unixsocket", "databases"})
# PulsarDS's settings that are not Redis parameters
PULSAR_ONLY = frozenset({"max_multibulk_len", "max_inline_len"})
_FIELDS = tuple(f.name for f in fields(ServerConfig) if f.name not in ("others", "config_file"))
