"""Redis 7.0's configuration parameters (static_configs in config.c): name, alias, type,
default, bounds and the checks CONFIG SET makes, with Redis's error texts. No I/O.

``PARAMS`` holds one ``Param`` per parameter; ``lookup`` finds one by its name or alias
in any case. ``Param.parse(text, current)`` checks a CONFIG SET value as Redis does and
returns the text CONFIG GET then shows (``1gb`` becomes ``1073741824``), or raises
ValueError with Redis's reason. ``ServerConfig`` (config.py) keeps the values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["PARAMS", "Param", "lookup", "memtoull", "split_args", "string2ll"]

INT_MAX: Final = (1 << 31) - 1
INT_MIN: Final = -(1 << 31)
UINT_MAX: Final = (1 << 32) - 1
LONG_MAX: Final = (1 << 63) - 1
LLONG_MAX: Final = LONG_MAX
LLONG_MIN: Final = -(1 << 63)
ULLONG_MAX: Final = (1 << 64) - 1
_DIGITS = frozenset("0123456789")
_MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1 << 20,
    "g": 1000**3,
    "gb": 1 << 30,
}

Check = Callable[[str], "str | None"]  # an extra check: the error text, or None if valid
Special = Callable[[str, str], str]  # (value, current text) -> new text; ValueError


def string2ll(text: str) -> int | None:
    """Redis's string2ll: an optional minus, no leading zeros, no spaces, 64 bits."""
    if not text or len(text) >= 21:
        return None
    if text == "0":
        return 0
    digits = text[1:] if text[0] == "-" else text
    if not digits or digits[0] not in "123456789" or not _DIGITS.issuperset(digits):
        return None
    value = int(text)
    return value if LLONG_MIN <= value <= LLONG_MAX else None


def _strtoll(text: str, base: int = 10) -> int | None:
    """strtoll with the whole text used (spaces first, a sign, saturating): None if not."""
    match = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?)([0-9a-fA-F]*)", text)
    if match is None:
        return None
    sign, digits = match.groups()
    if not digits:
        return 0 if not sign and not text.strip() else None
    try:
        value = int(digits, base)
    except ValueError:
        return None
    value = -value if sign == "-" else value
    return max(LLONG_MIN, min(LLONG_MAX, value))


def memtoull(text: str) -> int | None:
    """Redis's memtoull: digits then an optional unit (k 1000, kb 1024, ... gb); None if
    malformed. The number wraps at 64 bits as Redis's unsigned arithmetic does."""
    if text.startswith("-"):
        return None
    end = 0
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    scale = _MEMORY_UNITS.get(text[end:].lower())
    if scale is None or end >= 128:
        return None
    number = min(int(text[:end]), ULLONG_MAX) if end else 0
    return (number * scale) & ULLONG_MAX


def split_args(text: str) -> list[str]:
    """How Redis splits the value of a multi-argument parameter: on single spaces."""
    return text.split(" ") if text else []


def _signed(value: int) -> int:
    value &= ULLONG_MAX
    return value - (1 << 64) if value >> 63 else value


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter. ``kind`` is bool, string, enum, number or special."""

    name: str
    kind: str
    default: str
    alias: str = ""
    immutable: bool = False
    protected: bool = False  # refused by CONFIG SET unless enable-protected-configs
    hidden: bool = False  # not matched by a CONFIG GET pattern, only by its name
    sensitive: bool = False
    multi: bool = False  # the value is split into several arguments
    lower: int = 0
    upper: int = 0
    unsigned: bool = False  # bounds compared as unsigned (uint, size_t, unsigned long long)
    memory: bool = False  # 1gb, 64mb...
    percent: bool = False  # 50%
    octal: bool = False
    choices: tuple[tuple[str, int], ...] = ()
    # a number out of floor..ceiling is brought into it, as Redis's apply step does
    # (repl-backlog-size's minimum, hz's 1..500); 0 is no bound
    floor: int = 0
    ceiling: int = 0
    check: Check | None = None
    special: Special | None = None

    def parse(self, text: str, current: str) -> str:
        """The text CONFIG GET shows after ``CONFIG SET name text``; ValueError with
        Redis's reason when the value is refused."""
        kind = self.kind
        if kind == "bool":
            lowered = text.lower()
            if lowered not in ("yes", "no"):
                raise ValueError("argument must be 'yes' or 'no'")
            error = self.check(lowered) if self.check is not None else None
            if error is not None:
                raise ValueError(error)
            return lowered
        if kind == "string":
            error = self.check(text) if self.check is not None else None
            if error is not None:
                raise ValueError(error)
            return text
        if kind == "enum":
            return self._parse_enum(text)
        if kind == "number":
            value = self._parse_number(text)
            if self.floor:
                value = max(value, self.floor)
            if self.ceiling:
                value = min(value, self.ceiling)
            return self._format(value)
        assert self.special is not None
        return self.special(text, current)

    def _parse_enum(self, text: str) -> str:
        words = split_args(text) if self.multi else [text]
        value = 0
        if not words:
            value = -1
        for word in words:
            matched = [number for name, number in self.choices if name == word.lower()]
            if not matched:
                value = -1
                break
            value |= matched[0]
        if value < 0:
            names = ", ".join(name for name, _ in self.choices)
            raise ValueError(f"argument(s) must be one of the following: {names}")
        if self.check is not None:
            error = self.check(str(value))
            if error is not None:
                raise ValueError(error)
        return self.enum_name(value)

    def enum_name(self, value: int) -> str:
        """Redis's configEnumGetName: the first exact name, else (bit flags) the names of
        the bits set."""
        for name, number in self.choices:
            if number == value:
                return name
        if not self.multi:
            return "unknown"
        names = [name for name, number in self.choices if number and number & value == number]
        return " ".join(names) or "unknown"

    def _parse_number(self, text: str) -> int:
        value: int | None = None
        if self.memory:
            value = memtoull(text)
            if value is not None:
                value = _signed(value)
        if value is None and self.percent and len(text) > 1 and text.endswith("%"):
            number = string2ll(text[:-1])
            if number is not None and number >= 0:
                value = -number
        if value is None and self.octal:
            value = _strtoll(text, 8)
        if value is None and not (self.memory or self.percent or self.octal):
            value = string2ll(text)
        if value is None:
            if self.memory and self.percent:
                raise ValueError("argument must be a memory or percent value")
            if self.memory:
                raise ValueError("argument must be a memory value")
            if self.octal:
                raise ValueError("argument couldn't be parsed as an octal number")
            raise ValueError("argument couldn't be parsed into an integer")
        if self.unsigned:
            unsigned = value & ULLONG_MAX
            if not self.lower <= unsigned <= self.upper:
                if self.octal:
                    raise ValueError(
                        f"argument must be between {self.lower:o} and {self.upper:o} inclusive"
                    )
                raise ValueError(
                    f"argument must be between {self.lower} and {self.upper} inclusive"
                )
            return unsigned
        if self.percent and value < 0:
            if value < self.lower:
                raise ValueError(f"percentage argument must be less or equal to {-self.lower}")
        elif not self.lower <= value <= self.upper:
            raise ValueError(f"argument must be between {self.lower} and {self.upper} inclusive")
        return value

    def _format(self, value: int) -> str:
        if self.percent and value < 0:
            return f"{-value}%"
        if self.memory:
            return str(value & ULLONG_MAX)
        if self.octal:
            return f"{value:o}"
        return str(value)


# -- checks ----------------------------------------------------------------------------------


def _base_name(what: str, kind: str = "filename", empty: bool = True) -> Check:
    def check(text: str) -> str | None:
        if not empty and not text:
            return f"{what} can't be empty"
        if "/" in text or "\\" in text:
            return f"{what} can't be a path, just a {kind}"
        return None

    return check


def _hostname(text: str) -> str | None:
    if len(text) >= 256:
        return "Hostnames must be less than 256 characters"
    if any(not (c.isascii() and (c.isalnum() or c in "-.")) for c in text):
        return "Hostnames may only contain alphanumeric characters, hyphens or dots"
    return None


_TITLE_VARIABLES = frozenset(
    {"title", "listen-addr", "server-mode", "port", "tls-port", "unixsocket", "config-file"}
)


def _proc_title(text: str) -> str | None:
    """Redis's validateProcTitleTemplate: known {variables}, {{ and }} escapes, and
    something left once expanded."""
    invalid = "template format is invalid or contains unknown variables"
    expanded: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "{":
            if text.startswith("{{", index):
                expanded.append("{")
                index += 2
                continue
            end = text.find("}", index)
            if end < 0 or text[index + 1 : end] not in _TITLE_VARIABLES:
                return invalid
            expanded.append("" if text[index + 1 : end] == "title" else "x")
            index = end + 1
        elif char == "}":
            if not text.startswith("}}", index):
                return invalid
            expanded.append("}")
            index += 2
        else:
            expanded.append(char)
            index += 1
    if not "".join(expanded).strip(" "):
        return invalid
    return None


def _no_defrag(value: str) -> str | None:
    """PulsarDS does not defragment memory: it answers as a Redis built without it."""
    if value == "yes":
        return (
            "Active defragmentation cannot be enabled: it requires a Redis server compiled "
            "with a modified Jemalloc like the one shipped by default with the Redis source "
            "distribution"
        )
    return None


def _shutdown_flags(value: str) -> str | None:
    flags = int(value)
    if flags & 1 and flags & 2:
        return "shutdown options SAVE and NOSAVE can't be used simultaneously"
    return None


# -- special parameters ----------------------------------------------------------------------


def _save(text: str, current: str) -> str:
    words = split_args(text)
    if words == [""]:
        words = []
    if len(words) % 2:
        raise ValueError("Invalid save parameters")
    numbers: list[int] = []
    for index, word in enumerate(words):
        value = _strtoll(word)
        if value is None or value < (1 if index % 2 == 0 else 0):
            raise ValueError("Invalid save parameters")
        numbers.append(value)
    pairs = []
    for seconds, changes in zip(numbers[::2], numbers[1::2], strict=True):
        wrapped = changes & 0xFFFFFFFF  # an int in Redis
        pairs.append(f"{seconds} {wrapped - (1 << 32) if wrapped >> 31 else wrapped}")
    return " ".join(pairs)


def _output_limits(text: str, current: str) -> str:
    from .config import format_output_limits, parse_output_limits

    return format_output_limits(parse_output_limits(text, parse_output_limits(current, {})))


def _oom_values(text: str, current: str) -> str:
    words = split_args(text)
    if len(words) != 3:
        raise ValueError("wrong number of arguments")
    values = []
    for word in words:
        value = _strtoll(word)
        if value is None or not -2000 <= value <= 2000:
            raise ValueError(
                "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
            )
        values.append(str(value))
    return " ".join(values)


_EVENT_FLAGS = {
    "K": 1 << 0,
    "E": 1 << 1,
    "g": 1 << 2,
    "$": 1 << 3,
    "l": 1 << 4,
    "s": 1 << 5,
    "h": 1 << 6,
    "z": 1 << 7,
    "x": 1 << 8,
    "e": 1 << 9,
    "t": 1 << 10,
    "m": 1 << 11,
    "d": 1 << 13,
    "n": 1 << 14,
}
_EVENTS_ALL = sum(_EVENT_FLAGS[c] for c in "g$lshzxetd")


def _events(text: str, current: str) -> str:
    flags = 0
    for char in text:
        if char == "A":
            flags |= _EVENTS_ALL
        elif char in _EVENT_FLAGS:
            flags |= _EVENT_FLAGS[char]
        else:
            raise ValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    shown = "A" if flags & _EVENTS_ALL == _EVENTS_ALL else ""
    if not shown:
        shown = "".join(c for c in "g$lshzxetdn" if flags & _EVENT_FLAGS[c])
    elif flags & _EVENT_FLAGS["n"]:
        pass  # Redis's string leaves n out once A is shown
    return shown + "".join(c for c in "KEm" if flags & _EVENT_FLAGS[c])


def _bind(text: str, current: str) -> str:
    words = split_args(text)
    if len(words) > 16:
        raise ValueError("Too many bind addresses specified.")
    return "" if words == [""] else " ".join(words)


def _replicaof(text: str, current: str) -> str:
    words = split_args(text)
    if len(words) != 2:
        raise ValueError("wrong number of arguments")
    if words[0].lower() == "no" and words[1].lower() == "one":
        return ""
    port = re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", words[1])
    if port is None or not 0 <= int(words[1]) <= 65535:
        raise ValueError("Invalid master port")
    return f"{words[0]} {int(words[1])}"


def _strtod(word: str) -> float | None:
    """Redis's string2d: all of ``word`` read by strtod (decimal, hexadecimal, inf), no
    leading space, no NaN, no overflow."""
    if not word or word[0].isspace() or "_" in word:
        return None
    try:
        value = float(word)
    except ValueError:
        if not word.lstrip("+-")[:2].lower() == "0x":
            return None  # strtod reads hexadecimal after 0x only (fromhex takes "e" too)
        try:
            value = float.fromhex(word)
        except (ValueError, OverflowError):
            return None
    if math.isnan(value) or (math.isinf(value) and "inf" not in word.lower()):
        return None
    return value


def _percentiles(text: str, current: str) -> str:
    words = split_args(text)
    if words == [""]:
        return ""
    shown = []
    for word in words:
        value = _strtod(word)
        if value is None:
            raise ValueError("Invalid latency-tracking-info-percentiles parameters")
        if math.isnan(value) or not 0.0 <= value <= 100.0:
            raise ValueError(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
            )
        formatted = f"{value:f}".rstrip("0").rstrip(".")
        shown.append(formatted)
    return " ".join(shown)


def _dir(text: str, current: str) -> str:
    import os

    if not os.path.isdir(text):
        exists = os.path.exists(text)
        raise ValueError("Not a directory" if exists else "No such file or directory")
    return os.path.abspath(text)


# -- the table -------------------------------------------------------------------------------


def _bool(
    name: str,
    default: bool,
    alias: str = "",
    immutable: bool = False,
    hidden: bool = False,
    check: Check | None = None,
) -> Param:
    shown = "yes" if default else "no"
    return Param(name, "bool", shown, alias, immutable, hidden=hidden, check=check)


def _string(
    name: str,
    default: str = "",
    alias: str = "",
    immutable: bool = False,
    check: Check | None = None,
    protected: bool = False,
    sensitive: bool = False,
) -> Param:
    return Param(
        name,
        "string",
        default,
        alias,
        immutable,
        protected=protected,
        sensitive=sensitive,
        check=check,
    )


def _enum(
    name: str,
    choices: tuple[tuple[str, int], ...],
    default: int,
    immutable: bool = False,
    multi: bool = False,
    check: Check | None = None,
) -> Param:
    param = Param(name, "enum", "", "", immutable, multi=multi, choices=choices, check=check)
    return Param(
        name,
        "enum",
        param.enum_name(default),
        "",
        immutable,
        multi=multi,
        choices=choices,
        check=check,
    )


def _number(
    name: str,
    lower: int,
    upper: int,
    default: int,
    alias: str = "",
    immutable: bool = False,
    hidden: bool = False,
    unsigned: bool = False,
    memory: bool = False,
    percent: bool = False,
    octal: bool = False,
    floor: int = 0,
    ceiling: int = 0,
) -> Param:
    param = Param(
        name,
        "number",
        "",
        alias,
        immutable,
        hidden=hidden,
        lower=lower,
        upper=upper,
        unsigned=unsigned,
        memory=memory,
        percent=percent,
        octal=octal,
    )
    return Param(
        name,
        "number",
        param._format(default),
        alias,
        immutable,
        hidden=hidden,
        lower=lower,
        upper=upper,
        unsigned=unsigned,
        memory=memory,
        percent=percent,
        octal=octal,
        floor=floor,
        ceiling=ceiling,
    )


def _special(
    name: str,
    default: str,
    special: Special,
    alias: str = "",
    immutable: bool = False,
    protected: bool = False,
    multi: bool = False,
) -> Param:
    return Param(
        name,
        "special",
        default,
        alias,
        immutable,
        protected=protected,
        multi=multi,
        special=special,
    )


_YES_NO = (("no", 0), ("yes", 1))
_PROTECTED_ACTION = (("no", 0), ("yes", 1), ("local", 2))
_SHUTDOWN = (("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8))

_TABLE: tuple[Param, ...] = (
    # bool
    _bool("rdbchecksum", True, immutable=True),
    _bool("daemonize", False, immutable=True),
    _bool("io-threads-do-reads", False, immutable=True),
    _bool("always-show-logo", False, immutable=True),
    _bool("protected-mode", True),
    _bool("rdbcompression", True),
    _bool("rdb-del-sync-files", False),
    _bool("activerehashing", True),
    _bool("stop-writes-on-bgsave-error", True),
    _bool("set-proc-title", True, immutable=True),
    _bool("dynamic-hz", True),
    _bool("lazyfree-lazy-eviction", False),
    _bool("lazyfree-lazy-expire", False),
    _bool("lazyfree-lazy-server-del", False),
    _bool("lazyfree-lazy-user-del", False),
    _bool("lazyfree-lazy-user-flush", False),
    _bool("repl-disable-tcp-nodelay", False),
    _bool("repl-diskless-sync", True),
    _bool("aof-rewrite-incremental-fsync", True),
    _bool("no-appendfsync-on-rewrite", False),
    _bool("cluster-require-full-coverage", True),
    _bool("rdb-save-incremental-fsync", True),
    _bool("aof-load-truncated", True),
    _bool("aof-use-rdb-preamble", True),
    _bool("aof-timestamp-enabled", False),
    _bool("cluster-replica-no-failover", False, alias="cluster-slave-no-failover"),
    _bool("replica-lazy-flush", False, alias="slave-lazy-flush"),
    _bool("replica-serve-stale-data", True, alias="slave-serve-stale-data"),
    _bool("replica-read-only", True, alias="slave-read-only"),
    _bool("replica-ignore-maxmemory", True, alias="slave-ignore-maxmemory"),
    _bool("jemalloc-bg-thread", True),
    _bool("activedefrag", False, check=_no_defrag),
    _bool("syslog-enabled", False, immutable=True),
    _bool("cluster-enabled", False, immutable=True),
    _bool("appendonly", False),
    _bool("cluster-allow-reads-when-down", False),
    _bool("cluster-allow-pubsubshard-when-down", True),
    _bool("crash-log-enabled", True),
    _bool("crash-memcheck-enabled", True),
    _bool("use-exit-on-panic", False, hidden=True),
    _bool("disable-thp", True, immutable=True),
    _bool("cluster-allow-replica-migration", True),
    _bool("replica-announced", True),
    _bool("latency-tracking", True),
    _bool("aof-disable-auto-gc", False),
    _bool("replica-ignore-disk-write-errors", False),
    # string
    _string("aclfile", immutable=True),
    _string("unixsocket", immutable=True),
    _string("pidfile", immutable=True),
    _string("replica-announce-ip", alias="slave-announce-ip"),
    _string("masteruser", sensitive=True),
    _string("cluster-announce-ip"),
    _string("cluster-config-file", "nodes.conf", immutable=True),
    _string("cluster-announce-hostname", check=_hostname),
    _string("syslog-ident", "redis", immutable=True),
    _string("dbfilename", "dump.rdb", check=_base_name("dbfilename"), protected=True),
    _string(
        "appendfilename",
        "appendonly.aof",
        immutable=True,
        check=_base_name("appendfilename", empty=False),
    ),
    _string(
        "appenddirname",
        "appendonlydir",
        immutable=True,
        check=_base_name("appenddirname", "dirname", empty=False),
    ),
    _string("server_cpulist", immutable=True),
    _string("bio_cpulist", immutable=True),
    _string("aof_rewrite_cpulist", immutable=True),
    _string("bgsave_cpulist", immutable=True),
    _string("ignore-warnings"),
    _string("proc-title-template", "{title} {listen-addr} {server-mode}", check=_proc_title),
    _string("bind-source-addr"),
    _string("logfile", immutable=True),
    _string("masterauth", sensitive=True),
    _string("requirepass", sensitive=True),
    # enum
    _enum(
        "supervised", (("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)), 0, immutable=True
    ),
    _enum(
        "syslog-facility",
        (("user", 8), *((f"local{n}", 128 + 8 * n) for n in range(8))),
        128,
        immutable=True,
    ),
    _enum("repl-diskless-load", (("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)), 0),
    _enum("loglevel", (("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)), 2),
    _enum(
        "maxmemory-policy",
        (
            ("volatile-lru", 1),
            ("volatile-lfu", 2),
            ("volatile-random", 3),
            ("volatile-ttl", 4),
            ("allkeys-lru", 5),
            ("allkeys-lfu", 6),
            ("allkeys-random", 7),
            ("noeviction", 8),
        ),
        8,
    ),
    _enum("appendfsync", (("everysec", 2), ("always", 1), ("no", 0)), 2),
    _enum("oom-score-adj", (("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)), 0),
    _enum("acl-pubsub-default", (("allchannels", 1), ("resetchannels", 0)), 0),
    _enum("sanitize-dump-payload", (("no", 0), ("yes", 1), ("clients", 2)), 0),
    _enum("enable-protected-configs", _PROTECTED_ACTION, 0, immutable=True),
    _enum("enable-debug-command", _PROTECTED_ACTION, 0, immutable=True),
    _enum("enable-module-command", _PROTECTED_ACTION, 0, immutable=True),
    _enum(
        "cluster-preferred-endpoint-type",
        (("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)),
        0,
    ),
    _enum(
        "propagation-error-behavior",
        (("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)),
        0,
    ),
    _enum("shutdown-on-sigint", _SHUTDOWN, 0, multi=True, check=_shutdown_flags),
    _enum("shutdown-on-sigterm", _SHUTDOWN, 0, multi=True, check=_shutdown_flags),
    # int
    _number("databases", 1, INT_MAX, 16, immutable=True),
    _number("port", 0, 65535, 6379),
    _number("io-threads", 1, 128, 1, immutable=True),
    _number("auto-aof-rewrite-percentage", 0, INT_MAX, 100),
    _number(
        "cluster-replica-validity-factor", 0, INT_MAX, 10, alias="cluster-slave-validity-factor"
    ),
    _number("list-max-listpack-size", INT_MIN, INT_MAX, -2, alias="list-max-ziplist-size"),
    _number("tcp-keepalive", 0, INT_MAX, 300),
    _number("cluster-migration-barrier", 0, INT_MAX, 1),
    _number("active-defrag-cycle-min", 1, 99, 1),
    _number("active-defrag-cycle-max", 1, 99, 25),
    _number("active-defrag-threshold-lower", 0, 1000, 10),
    _number("active-defrag-threshold-upper", 0, 1000, 100),
    _number("lfu-log-factor", 0, INT_MAX, 10),
    _number("lfu-decay-time", 0, INT_MAX, 1),
    _number("replica-priority", 0, INT_MAX, 100, alias="slave-priority"),
    _number("repl-diskless-sync-delay", 0, INT_MAX, 5),
    _number("maxmemory-samples", 1, INT_MAX, 5),
    _number("maxmemory-eviction-tenacity", 0, 100, 10),
    _number("timeout", 0, INT_MAX, 0),
    _number("replica-announce-port", 0, 65535, 0, alias="slave-announce-port"),
    _number("tcp-backlog", 0, INT_MAX, 511, immutable=True),
    _number("cluster-port", 0, 65535, 0, immutable=True),
    _number("cluster-announce-bus-port", 0, 65535, 0),
    _number("cluster-announce-port", 0, 65535, 0),
    _number("cluster-announce-tls-port", 0, 65535, 0),
    _number("repl-timeout", 1, INT_MAX, 60),
    _number("repl-ping-replica-period", 1, INT_MAX, 10, alias="repl-ping-slave-period"),
    _number("list-compress-depth", 0, INT_MAX, 0),
    _number("rdb-key-save-delay", INT_MIN, INT_MAX, 0, hidden=True),
    _number("key-load-delay", INT_MIN, INT_MAX, 0, hidden=True),
    _number("active-expire-effort", 1, 10, 1),
    _number("hz", 0, INT_MAX, 10, floor=1, ceiling=500),
    _number("min-replicas-to-write", 0, INT_MAX, 0, alias="min-slaves-to-write"),
    _number("min-replicas-max-lag", 0, INT_MAX, 10, alias="min-slaves-max-lag"),
    _number("watchdog-period", 0, INT_MAX, 0, hidden=True),
    _number("shutdown-timeout", 0, INT_MAX, 10),
    _number("repl-diskless-sync-max-replicas", 0, INT_MAX, 0),
    # unsigned int
    _number("maxclients", 1, UINT_MAX, 10000, unsigned=True),
    _number("unixsocketperm", 0, 0o777, 0, immutable=True, unsigned=True, octal=True),
    _number("socket-mark-id", 0, UINT_MAX, 0, immutable=True, unsigned=True),
    # unsigned long (bounds compared signed, as in Redis)
    _number("active-defrag-max-scan-fields", 1, LONG_MAX, 1000),
    _number("slowlog-max-len", 0, LONG_MAX, 128),
    _number("acllog-max-len", 0, LONG_MAX, 128),
    # long long
    _number("busy-reply-threshold", 0, LONG_MAX, 5000, alias="lua-time-limit"),
    _number("cluster-node-timeout", 0, LLONG_MAX, 15000),
    _number("slowlog-log-slower-than", -1, LLONG_MAX, 10000),
    _number("latency-monitor-threshold", 0, LLONG_MAX, 0),
    _number("proto-max-bulk-len", 1 << 20, LONG_MAX, 512 << 20, memory=True),
    _number("stream-node-max-entries", 0, LLONG_MAX, 100),
    _number("repl-backlog-size", 1, LLONG_MAX, 1 << 20, memory=True, floor=16 << 10),
    # unsigned long long
    _number("maxmemory", 0, ULLONG_MAX, 0, unsigned=True, memory=True),
    _number("cluster-link-sendbuf-limit", 0, ULLONG_MAX, 0, unsigned=True, memory=True),
    # size_t
    _number(
        "hash-max-listpack-entries",
        0,
        LONG_MAX,
        512,
        alias="hash-max-ziplist-entries",
        unsigned=True,
    ),
    _number("set-max-intset-entries", 0, LONG_MAX, 512, unsigned=True),
    _number(
        "zset-max-listpack-entries",
        0,
        LONG_MAX,
        128,
        alias="zset-max-ziplist-entries",
        unsigned=True,
    ),
    _number("active-defrag-ignore-bytes", 1, LLONG_MAX, 100 << 20, unsigned=True, memory=True),
    _number(
        "hash-max-listpack-value",
        0,
        LONG_MAX,
        64,
        alias="hash-max-ziplist-value",
        unsigned=True,
        memory=True,
    ),
    _number("stream-node-max-bytes", 0, LONG_MAX, 4096, unsigned=True, memory=True),
    _number(
        "zset-max-listpack-value",
        0,
        LONG_MAX,
        64,
        alias="zset-max-ziplist-value",
        unsigned=True,
        memory=True,
    ),
    _number("hll-sparse-max-bytes", 0, LONG_MAX, 3000, unsigned=True, memory=True),
    _number("tracking-table-max-keys", 0, LONG_MAX, 1000000, unsigned=True),
    _number("client-query-buffer-limit", 1 << 20, LONG_MAX, 1 << 30, unsigned=True, memory=True),
    _number("maxmemory-clients", -100, LONG_MAX, 0, memory=True, percent=True),
    # time_t, off_t
    _number("repl-backlog-ttl", 0, LONG_MAX, 3600),
    _number("auto-aof-rewrite-min-size", 0, LLONG_MAX, 64 << 20, memory=True),
    _number("loading-process-events-interval-bytes", 1024, INT_MAX, 2 << 20, hidden=True),
    # TLS (redis-server built with it)
    _number("tls-port", 0, 65535, 0),
    _number("tls-session-cache-size", 0, INT_MAX, 20 * 1024),
    _number("tls-session-cache-timeout", 0, INT_MAX, 300),
    _bool("tls-cluster", False),
    _bool("tls-replication", False),
    _enum("tls-auth-clients", (("no", 0), ("yes", 1), ("optional", 2)), 1),
    _bool("tls-prefer-server-ciphers", False),
    _bool("tls-session-caching", True),
    _string("tls-cert-file"),
    _string("tls-key-file"),
    _string("tls-key-file-pass"),
    _string("tls-client-cert-file"),
    _string("tls-client-key-file"),
    _string("tls-client-key-file-pass"),
    _string("tls-dh-params-file"),
    _string("tls-ca-cert-file"),
    _string("tls-ca-cert-dir"),
    _string("tls-protocols"),
    _string("tls-ciphers"),
    _string("tls-ciphersuites"),
    # special
    _special("dir", ".", _dir, protected=True),
    _special("save", "3600 1 300 100 60 10000", _save, multi=True),
    _special(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        _output_limits,
        multi=True,
    ),
    _special("oom-score-adj-values", "0 200 800", _oom_values, multi=True),
    _special("notify-keyspace-events", "", _events),
    _special("bind", "* -::*", _bind, multi=True),
    _special("replicaof", "", _replicaof, alias="slaveof", immutable=True, multi=True),
    _special("latency-tracking-info-percentiles", "50 99 99.9", _percentiles, multi=True),
)

# every parameter under its name, in config.c's order
PARAMS: Final[Mapping[str, Param]] = {param.name: param for param in _TABLE}
# names and aliases -> the parameter
_BY_NAME: Final[Mapping[str, Param]] = {
    **PARAMS,
    **{param.alias: param for param in _TABLE if param.alias},
}
# what CONFIG GET patterns are matched against: names and aliases, but not hidden ones
LISTED: Final[tuple[str, ...]] = tuple(name for name, p in _BY_NAME.items() if not p.hidden)


def lookup(name: str) -> Param | None:
    """The parameter called ``name`` (or aliased so), in any case."""
    return _BY_NAME.get(name) or _BY_NAME.get(name.lower())
