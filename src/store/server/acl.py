"""ACL users, as Redis 7.0's (acl.c): users with passwords (kept as SHA-256 only),
selectors of command, key and channel rules, the permission check, the ACL log and the
ACL file.

The command table the rules speak of is Redis's own (``store.command_table``: every
command and subcommand with its ACL categories and key specs), so a rule names the same
commands and a category covers the same ones as in Redis. A selector's allowed commands
are a set of full names (``config|get``) plus Redis's reserved "future commands" bit,
which +@all sets: a command PulsarDS has and the table has not is allowed by it.

The check costs nothing while unused: a client whose user may run everything (the
default user as it starts) and who needs no AUTH has ``client.restricted`` False, the one
attribute ``PulsarDS.call`` tests; ``AccessControl.refresh`` sets it again for every client
after any change to the users.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..command_table import COMMANDS as REDIS_COMMANDS
from ..command_table import CommandInfo
from .commands import NO_MULTI, bitfield_reads_only
from .glob import compile_glob
from .keyspace import CommandError
from .protocol import split_inline

if TYPE_CHECKING:
    from .client import Client
    from .commands import Command
    from .core import PulsarDS

__all__ = [
    "CATEGORIES",
    "COMMAND_ORDER",
    "IN_CATEGORY",
    "AccessControl",
    "RuleError",
    "Selector",
    "User",
    "hash_password",
]

# Redis's ACLCommandCategories, in its order (ACL CAT, the describing loop).
CATEGORIES = (
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
)

READ = 1  # ACL_READ_PERMISSION
WRITE = 2  # ACL_WRITE_PERMISSION
BOTH = READ | WRITE

# ACL_DENIED_*: a bigger one wins when selectors disagree (ACLCheckAllUserCommandPerm)
OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4
_REASONS = {
    DENIED_CMD: "command",
    DENIED_KEY: "key",
    DENIED_AUTH: "auth",
    DENIED_CHANNEL: "channel",
}
LOG_GROUPING_MS = 60000  # ACL_LOG_GROUPING_MAX_TIME_DELTA
GENPASS_MAX_BITS = 4096

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
_TOPLEVEL_TEXT = {
    DENIED_CMD: "NOPERM this user has no permissions to run the '{}' command",
    DENIED_KEY: "NOPERM this user has no permissions to access one of the keys used as arguments",
    DENIED_CHANNEL: (
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    ),
}
_SCRIPT_TEXT = {
    DENIED_CMD: "can't run this command or subcommand",
    DENIED_KEY: "can't access at least one of the keys mentioned in the command arguments",
    DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
}
_EXEC_TEXT = {
    DENIED_CMD: "no permission to execute the command or subcommand",
    DENIED_KEY: "no permission to touch the specified keys",
    DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}
_EXEC_PREFIX = (
    "NOPERM ACLs rules changed between the moment the transaction was accumulated and the "
    "EXEC call. This command is no longer allowed for the following reason: "
)

# -- Redis's command table, as the rules see it -------------------------------------------

_TOP = sorted(name for name in REDIS_COMMANDS if "|" not in name)
# every command, each container followed by its subcommands (the describing order)
_ORDER: tuple[str, ...] = tuple(
    name
    for top in _TOP
    for name in (top, *sorted(sub.name for sub in REDIS_COMMANDS[top].subcommands.values()))
)
_ALL = frozenset(_ORDER)
_CHILDREN = {
    top: tuple(sub.name for sub in REDIS_COMMANDS[top].subcommands.values())
    for top in _TOP
    if REDIS_COMMANDS[top].subcommands
}
_IN_CATEGORY = {
    category: frozenset(n for n in _ORDER if "@" + category in REDIS_COMMANDS[n].acl_categories)
    for category in CATEGORIES
}
COMMAND_ORDER = _ORDER
IN_CATEGORY = _IN_CATEGORY
_KEY_ACCESS = {"access": READ, "insert": WRITE, "delete": WRITE, "update": WRITE}
# Redis's channel specs (db.c's ChannelSpecs) that ACLs check: name -> (first, last, pattern)
_CHANNEL_COMMANDS = {
    "subscribe": (1, -1, False),
    "ssubscribe": (1, -1, False),
    "psubscribe": (1, -1, True),
    "publish": (1, 1, False),
    "spublish": (1, 1, False),
}


def _spec_flags(flags: Iterable[str]) -> int:
    needed = 0
    for flag in flags:
        needed |= _KEY_ACCESS.get(flag, 0)
    return needed


KeyRefs = list[tuple[int, int]]
_PLANS: dict[str, Callable[[Sequence[bytes]], KeyRefs]] = {}


def key_references(info: CommandInfo, args: Sequence[bytes]) -> KeyRefs:
    """(position, READ/WRITE needs) of each key of the command, as Redis's
    getKeysFromCommandWithSpecs finds them: the key specs, else the command's own key
    finder (SORT, MIGRATE, and SET/BITFIELD whose flags depend on the arguments). Each
    command's way of finding them is worked out once (``_plan``)."""
    plan = _PLANS.get(info.name)
    if plan is None:
        plan = _PLANS[info.name] = _plan(info)
    return plan(args)


def _no_keys(args: Sequence[bytes]) -> KeyRefs:
    return []


def _plan(info: CommandInfo) -> Callable[[Sequence[bytes]], KeyRefs]:
    """Key specs of the common shape (a position and a range of keys after it) as a
    few tuples; the others through the general reading of the specs."""
    if info.name in ("sort", "sort_ro", "migrate", "set", "bitfield"):
        return functools.partial(_general_references, info)
    simple: list[tuple[int, int, int, int]] = []
    for spec in info.key_specs:
        if "not_key" in spec.flags:
            continue
        if spec.begin != "index" or spec.find != "range" or spec.limit:
            return functools.partial(_general_references, info)
        if "incomplete" in spec.flags:
            return _no_keys
        simple.append((spec.index, spec.lastkey, spec.keystep, _spec_flags(spec.flags)))
    if not simple:
        return _no_keys
    ranges = tuple(simple)

    def references(args: Sequence[bytes]) -> KeyRefs:
        argc = len(args)
        found: KeyRefs = []
        for first, lastkey, step, needed in ranges:
            last = first + lastkey if lastkey >= 0 else argc + lastkey
            if last >= argc or last < first or first >= argc:
                return []  # malformed: the command will say so
            found += [(pos, needed) for pos in range(first, last + 1, step)]
        return found

    return references


def _general_references(info: CommandInfo, args: Sequence[bytes]) -> KeyRefs:
    name = info.name
    if name in ("sort", "sort_ro", "migrate"):
        found = info.key_positions(args)
        if name == "migrate":
            return [(pos, BOTH) for pos in found]
        return [(pos, READ if index == 0 else WRITE) for index, pos in enumerate(found)]
    if name == "set":  # setGetKeys: GET reads the old value too
        reads = any(arg.lower() == b"get" for arg in args[3:])
        return [(1, BOTH if reads else WRITE)] if len(args) > 1 else []
    if name == "bitfield":
        return [(1, READ if bitfield_reads_only(args) else BOTH)] if len(args) > 1 else []
    refs: list[tuple[int, int]] = []
    for spec in info.key_specs:
        if "not_key" in spec.flags:
            continue
        positions = spec.positions(args)
        if positions is None or "incomplete" in spec.flags:
            return []  # malformed (the command will say so) or not findable from specs
        needed = _spec_flags(spec.flags)
        refs += [(pos, needed) for pos in positions]
    return refs


class RuleError(Exception):
    """An ACL rule Redis refuses; the message is ACLSetUserStringError's."""


_UNKNOWN = "Unknown command or category name in ACL"
_SYNTAX = "Syntax error"
_AFTER_ALLKEYS = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
)
_AFTER_ALLCHANNELS = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels"
)
_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
_BAD_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters"
)
_SUB_FIRSTARG = "Allowing first-arg of a subcommand is not supported"


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def _valid_hash(text: bytes) -> str:
    if len(text) != 64 or any(c not in b"0123456789abcdef" for c in text):
        raise RuleError(_BAD_HASH)
    return text.decode()


def has_spaces(text: bytes) -> bool:
    """ACLStringHasSpaces: a space or a NUL."""
    return b" " in text or b"\0" in text


class _Pattern:
    """A key pattern with its permissions (%R~, %W~, ~)."""

    __slots__ = ("flags", "match", "text")

    def __init__(self, text: bytes, flags: int) -> None:
        self.text = text
        self.flags = flags
        self.match = compile_glob(text)

    def describe(self) -> str:
        prefix = {BOTH: "~", READ: "%R~", WRITE: "%W~"}[self.flags]
        return prefix + self.text.decode("utf-8", "surrogateescape")


class Selector:
    """One set of permissions (Redis's aclSelector): the root one, or one in (...)."""

    __slots__ = (
        "allchannels",
        "allcommands",
        "allkeys",
        "allowed",
        "channels",
        "firstargs",
        "future",
        "patterns",
        "root",
    )

    def __init__(self, root: bool, allchannels: bool) -> None:
        self.root = root
        self.allkeys = False
        self.allchannels = allchannels  # acl-pubsub-default
        self.allcommands = False
        self.future = False  # the reserved bit of +@all: commands not in the table
        self.allowed: set[str] = set()
        self.firstargs: dict[str, list[bytes]] = {}  # +select|0: one first argument
        self.patterns: list[_Pattern] = []
        self.channels: list[bytes] = []

    def copy(self) -> Selector:
        other = Selector(self.root, self.allchannels)
        other.allkeys, other.allcommands, other.future = self.allkeys, self.allcommands, self.future
        other.allowed = set(self.allowed)
        other.firstargs = {name: list(args) for name, args in self.firstargs.items()}
        other.patterns = [_Pattern(p.text, p.flags) for p in self.patterns]
        other.channels = list(self.channels)
        return other

    # -- the rules (ACLSetSelector) ---------------------------------------------------------

    def _set(self, name: str, allow: bool) -> None:
        """ACLChangeSelectorPerm: a container's subcommands go with it."""
        names = (name, *_CHILDREN.get(name, ()))
        if allow:
            self.allowed.update(names)
        else:
            self.allowed.difference_update(names)
            self.allcommands = False
        self.firstargs.pop(name, None)

    def _all(self, allow: bool) -> None:
        self.allowed = set(_ALL) if allow else set()
        self.allcommands = self.future = allow
        self.firstargs = {}

    def _category(self, category: str, allow: bool) -> None:
        names = _IN_CATEGORY.get(category.lower())
        if names is None:
            raise RuleError(_UNKNOWN)
        for name in names:
            self._set(name, allow)

    def apply(self, op: bytes) -> None:
        word = op.lower()
        if word in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns = []
        elif word == b"resetkeys":
            self.allkeys = False
            self.patterns = []
        elif word in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
        elif word == b"resetchannels":
            self.allchannels = False
            self.channels = []
        elif word in (b"allcommands", b"+@all"):
            self._all(True)
        elif word in (b"nocommands", b"-@all"):
            self._all(False)
        elif op[:1] in (b"~", b"%"):
            self._key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(_AFTER_ALLCHANNELS)
            if has_spaces(op[1:]):
                raise RuleError(_SYNTAX)
            if op[1:] not in self.channels:
                self.channels.append(op[1:])
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow(op[1:].decode("utf-8", "surrogateescape").lower())
        elif op[:1] == b"-" and op[1:2] != b"@":
            name = op[1:].decode("utf-8", "surrogateescape").lower()
            if name not in _ALL:
                raise RuleError(_UNKNOWN)
            self._set(name, False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            self._category(op[2:].decode("utf-8", "surrogateescape"), op[:1] == b"+")
        else:
            raise RuleError(_SYNTAX)

    def _key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(_AFTER_ALLKEYS)
        flags = 0
        offset = 1
        if op[:1] == b"%":
            while offset < len(op):
                char = op[offset : offset + 1].upper()
                if char == b"R" and not flags & READ:
                    flags |= READ
                elif char == b"W" and not flags & WRITE:
                    flags |= WRITE
                elif char == b"~":
                    offset += 1
                    break
                else:
                    raise RuleError(_SYNTAX)
                offset += 1
            if not flags:  # "%~k", "%": redis-server 7.0.15 refuses them
                raise RuleError(_SYNTAX)
            # "%R" with no "~": Redis takes an empty pattern after the flags
        else:
            flags = BOTH
        text = op[offset:]
        if has_spaces(text):
            raise RuleError(_SYNTAX)
        for pattern in self.patterns:
            if pattern.text == text:
                pattern.flags |= flags
                break
        else:
            self.patterns.append(_Pattern(text, flags))
        self.allkeys = False

    def _allow(self, name: str) -> None:
        if "|" not in name:
            if name not in _ALL:
                raise RuleError(_UNKNOWN)
            self._set(name, True)
            return
        head, _, sub = name.rpartition("|")
        info = REDIS_COMMANDS.get(head)
        if info is None:
            raise RuleError(_UNKNOWN)
        if "|" in head:
            raise RuleError(_SUB_FIRSTARG)
        if not sub:
            raise RuleError(_SYNTAX)
        if info.subcommands:
            if name not in _ALL:
                raise RuleError(_UNKNOWN)
            self._set(name, True)
        else:  # SELECT|0, DEBUG|OBJECT: one first argument of a command
            allowed = self.firstargs.setdefault(head, [])
            if sub.encode() not in allowed:
                allowed.append(sub.encode())

    # -- describing (ACLDescribeSelectorCommandRules) -------------------------------------

    def command_rules(self) -> str:
        """The rules giving this selector's commands: +@all or -@all, the categories that
        fit best, then single commands, as Redis finds them (Redis lists the single
        commands in its hash table's order, which changes between runs; here by name)."""
        additive = not self.future
        rules = ["-@all" if additive else "+@all"]
        fake = Selector(False, False)
        fake._all(not additive)
        temp = Selector(False, False)
        temp.allowed = set(self.allowed)
        applied: set[str] = set()
        while True:
            best = None
            min_diff, max_same = 1 << 62, 0
            for category in CATEGORIES:
                if category in applied:
                    continue
                names = _IN_CATEGORY[category]
                on = len(names & temp.allowed)
                off = len(names) - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < min_diff or (diff == min_diff and same > max_same)):
                    best, min_diff, max_same = category, diff, same
            if best is None:
                break
            rules.append(("+@" if additive else "-@") + best)
            fake._category(best, additive)
            temp._category(best, not additive)
            applied.add(best)
        for name in _ORDER:
            mine = name in self.allowed
            if mine != (name in fake.allowed):
                rules.append(("+" if mine else "-") + name)
                fake._set(name, mine)
            if not mine and name in self.firstargs:
                rules += [
                    f"+{name}|{arg.decode('utf-8', 'surrogateescape')}"
                    for arg in self.firstargs[name]
                ]
        return " ".join(rules)

    def key_rules(self) -> str:
        if self.allkeys:
            return "~*"
        return " ".join(p.describe() for p in self.patterns)

    def channel_rules(self) -> str:
        if self.allchannels:
            return "&*"
        return " ".join("&" + c.decode("utf-8", "surrogateescape") for c in self.channels)

    def describe(self) -> str:
        """ACLDescribeSelector: keys, channels, commands."""
        parts: list[str] = []
        if self.allkeys:
            parts.append("~*")
        else:
            parts += [p.describe() for p in self.patterns]
        if self.allchannels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            parts += ["&" + c.decode("utf-8", "surrogateescape") for c in self.channels]
        parts.append(self.command_rules())
        return " ".join(parts)

    # -- checking (ACLSelectorCheckCmd) ---------------------------------------------------

    def check(
        self, info: CommandInfo | None, args: Sequence[bytes], refs: KeyRefs | None
    ) -> tuple[int, int]:
        """(OK or the denial, the position of the key or channel denied); ``refs`` are
        the command's keys (None: not found yet)."""
        if info is None:  # a command Redis 7.0's table has not: the reserved bit
            return (OK, 0) if self.allcommands or self.future else (DENIED_CMD, 0)
        name = info.name
        if not self.allcommands and "no_auth" not in info.flags and name not in self.allowed:
            firsts = self.firstargs.get(name)
            if len(args) < 2 or not firsts or args[1].lower() not in [a.lower() for a in firsts]:
                return DENIED_CMD, 0
        if not self.allkeys:
            for pos, needed in key_references(info, args) if refs is None else refs:
                key = args[pos]
                for pattern in self.patterns:
                    if pattern.flags & needed == needed and pattern.match(key):
                        break
                else:
                    return DENIED_KEY, pos
        spec = _CHANNEL_COMMANDS.get(name)
        if spec is not None and not self.allchannels:
            first, last, is_pattern = spec
            end = len(args) if last < 0 else min(last + 1, len(args))
            for pos in range(first, end):
                if not _channel_ok(self.channels, args[pos], is_pattern):
                    return DENIED_CHANNEL, pos
        return OK, 0

    @property
    def unrestricted(self) -> bool:
        return self.allcommands and self.allkeys and self.allchannels


def _channel_ok(channels: list[bytes], channel: bytes, is_pattern: bool) -> bool:
    """ACLCheckChannelAgainstList: a PSUBSCRIBE pattern must be one of the patterns as
    written; a channel matches them as globs."""
    for allowed in channels:
        if (is_pattern and allowed == channel) or (
            not is_pattern and compile_glob(allowed)(channel)
        ):
            return True
    return False


class User:
    """An ACL user. Its object stays while it exists (SETUSER copies rules into it), so
    a client's ``user`` still is that user after a change. Passwords are kept as their
    SHA-256 only, and never shown but so."""

    __slots__ = ("enabled", "name", "nopass", "open", "passwords", "sanitize", "selectors")

    def __init__(self, name: bytes, allchannels: bool) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize: str | None = None  # "sanitize-payload" or "skip-sanitize-payload"
        self.passwords: list[str] = []  # SHA-256 hex
        self.selectors = [Selector(True, allchannels)]
        self.open = False  # ``unrestricted`` as of the last AccessControl.refresh

    def __repr__(self) -> str:
        return f"User({self.name!r}, {'on' if self.enabled else 'off'})"

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    def copy(self, name: bytes | None = None) -> User:
        other = User(self.name if name is None else name, False)
        other.copy_from(self)
        return other

    def copy_from(self, other: User) -> None:
        self.enabled, self.nopass, self.sanitize = other.enabled, other.nopass, other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]

    @property
    def unrestricted(self) -> bool:
        """Whether every command with any key and channel is allowed: the check is skipped."""
        return any(s.unrestricted for s in self.selectors)

    def apply(self, op: bytes, allchannels: bool) -> None:
        """One rule (ACLSetUser); RuleError if Redis refuses it."""
        if not op:
            return
        word = op.lower()
        if word == b"on":
            self.enabled = True
        elif word == b"off":
            self.enabled = False
        elif word in (b"skip-sanitize-payload", b"sanitize-payload"):
            self.sanitize = word.decode()
        elif word == b"nopass":
            self.nopass = True
            self.passwords = []
        elif word == b"resetpass":
            self.nopass = False
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            digest = hash_password(op[1:]) if op[:1] == b">" else _valid_hash(op[1:])
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            digest = hash_password(op[1:]) if op[:1] == b"<" else _valid_hash(op[1:])
            if digest not in self.passwords:
                raise RuleError(_NO_SUCH_PASSWORD)
            self.passwords.remove(digest)
        elif op[:1] == b"(" and op[-1:] == b")":
            selector = Selector(False, allchannels)
            for inner in split_inline(op[1:-1]):
                selector.apply(inner)
            self.selectors.append(selector)
        elif word == b"clearselectors":
            del self.selectors[1:]
        elif word == b"reset":
            self.apply(b"resetpass", allchannels)
            self.apply(b"resetkeys", allchannels)
            self.apply(b"resetchannels", allchannels)
            if allchannels:
                self.apply(b"allchannels", allchannels)
            self.apply(b"off", allchannels)
            self.apply(b"sanitize-payload", allchannels)
            self.apply(b"clearselectors", allchannels)
            self.apply(b"-@all", allchannels)
        else:
            self.root.apply(op)

    def flags(self) -> list[str]:
        flags = ["on" if self.enabled else "off"]
        if self.nopass:
            flags.append("nopass")
        if self.sanitize is not None:
            flags.append(self.sanitize)
        return flags

    def describe(self) -> str:
        """ACLDescribeUser: flags, password hashes, the root selector, the others in (...)."""
        parts = [*self.flags(), *("#" + p for p in self.passwords)]
        text = " ".join(parts)
        text += " " + self.root.describe() if text else self.root.describe()
        for selector in self.selectors[1:]:
            text += f" ({selector.describe()})"
        return text

    def check(self, info: CommandInfo | None, args: Sequence[bytes]) -> tuple[int, int]:
        """ACLCheckAllUserCommandPerm: allowed by any selector; else the most telling
        denial (a channel over a key over the command; the last position)."""
        worst, last = DENIED_CMD, 0
        # the keys are found once for all the selectors (Redis's aclKeyResultCache)
        refs = key_references(info, args) if info is not None and self.selectors[1:] else None
        for selector in self.selectors:
            result, pos = selector.check(info, args, refs)
            if result == OK:
                return OK, 0
            if result > worst or (result == worst and pos > last):
                worst, last = result, pos
        return worst, last

    def password_ok(self, password: bytes) -> bool:
        if self.nopass:
            return True
        digest = hash_password(password).encode()
        ok = False
        for stored in self.passwords:  # every one compared: the time tells nothing
            ok |= hmac.compare_digest(digest, stored.encode())
        return ok


def merge_selector_args(ops: Sequence[bytes]) -> list[bytes]:
    """ACLMergeSelectorArguments: a selector spread over several arguments is joined;
    RuleError-like CommandError text for an unmatched parenthesis."""
    merged: list[bytes] = []
    opened: bytes | None = None
    start = b""
    for op in ops:
        if op[:1] == b"(" and op[-1:] != b")" and opened is None:
            opened, start = op, op
            continue
        if opened is not None:
            opened += b" " + op
            if op[-1:] == b")":
                merged.append(opened)
                opened = None
            continue
        merged.append(op)
    if opened is not None:
        raise _Unmatched(start)
    return merged


class _Unmatched(Exception):
    def __init__(self, start: bytes) -> None:
        super().__init__()
        self.start = start


@dataclass
class LogEntry:
    """One ACL LOG entry (Redis's ACLLogEntry)."""

    count: int
    reason: int
    context: str
    object: bytes
    username: bytes
    ctime: float  # ms
    client_info: bytes

    def reply(self, now_ms: float) -> dict[bytes, Any]:
        return {
            b"count": self.count,
            b"reason": _REASONS.get(self.reason, "unknown").encode(),
            b"context": self.context.encode(),
            b"object": self.object,
            b"username": self.username,
            b"age-seconds": (now_ms - self.ctime) / 1000,
            b"client-info": self.client_info,
        }


class AccessControl:
    """The server's users, ACL log and ACL file."""

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        self.default = User(b"default", True)
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            self.default.apply(op, True)
        self.users: dict[bytes, User] = {b"default": self.default}
        self.log: list[LogEntry] = []  # newest first
        password = server.config.requirepass
        if password:
            self.set_default_password(password)
        path = self.aclfile
        if path:
            errors = self.load_file(path)
            if errors is not None:  # Redis refuses to start
                raise ValueError(f"Aborting startup because of ACL errors: {errors}")
        self.refresh()

    def __repr__(self) -> str:
        return f"AccessControl(users={sorted(self.users)!r})"

    @property
    def allchannels(self) -> bool:
        """acl-pubsub-default: what a new selector may subscribe to (7.0: nothing)."""
        return self.server.config.get_text("acl-pubsub-default") == "allchannels"

    @property
    def aclfile(self) -> str:
        return self.server.config.get_text("aclfile")

    def set_default_password(self, password: str | None) -> None:
        """requirepass (ACLUpdateDefaultUserPassword): the default user's only password,
        or nopass when empty."""
        self.default.apply(b"resetpass", True)
        if password:
            self.default.apply(b">" + password.encode(), True)
        else:
            self.default.apply(b"nopass", True)
        self.refresh()

    # -- clients ------------------------------------------------------------------------

    def auth_required(self, client: Client) -> bool:
        default = self.default
        return (not default.nopass or not default.enabled) and not client.authenticated

    def logs_in_alone(self) -> bool:
        """A new connection is authenticated as the default user (nopass and on)."""
        return self.default.nopass and self.default.enabled

    def restricts(self, client: Client) -> bool:
        return self.auth_required(client) or not client.user.open

    def refresh(self) -> None:
        """After a change to the users: which clients the server must check."""
        for user in self.users.values():
            user.open = user.unrestricted
        for client in self.server.clients.values():
            client.restricted = self.restricts(client)

    def authenticate(
        self, client: Client, command: bytes, username: bytes, password: bytes
    ) -> None:
        """AUTH / HELLO AUTH (ACLAuthenticateUser); WRONGPASS, logged (under the command's
        name as sent), if refused."""
        user = self.users.get(username)
        if user is not None and user.enabled and user.password_ok(password):
            client.authenticated = True
            client.user = user
            client.restricted = self.restricts(client)
            return
        self.add_log(client, DENIED_AUTH, self._context(client), command, username)
        raise CommandError(WRONGPASS)

    def reset_client(self, client: Client) -> None:
        """RESET: the default user, authenticated if it needs no password."""
        client.user = self.default
        client.authenticated = self.logs_in_alone()
        client.restricted = self.restricts(client)

    def _kill_clients_of(self, user: User, current: Client | None) -> None:
        """ACLFreeUserAndKillClients: unauthenticated, then disconnected (the current
        client once its reply is sent)."""
        for client in list(self.server.clients.values()):
            if client.user is user:
                client.user = self.default
                client.authenticated = False
                client.restricted = True
                if client is current:
                    client.closing = True
                else:
                    client.kill()

    # -- the permission check ---------------------------------------------------------

    def refusal(
        self, client: Client, cmd: Command, args: list[bytes], log: bool = True
    ) -> str | None:
        """Why ``client`` may not run ``args`` (NOAUTH or NOPERM text), or None. Called
        only for a client with ``restricted`` set."""
        if client.transport is None and not client.in_script:
            return None  # the AOF loader: Redis's client without a user
        if not client.authenticated and "no-auth" not in cmd.flags and self.auth_required(client):
            return NOAUTH
        if client.multi is not None and cmd.name in NO_MULTI:
            return None  # refused by its handler first, as Redis checks no-multi before ACLs
        user = client.user
        if user.open:
            return None
        info = REDIS_COMMANDS.get(cmd.name)
        if info is not None and info.subcommands and len(args) > 1:
            sub = info.subcommands.get(args[1].decode("utf-8", "replace").lower())
            if sub is not None:
                if not sub.arity_ok(len(args)):
                    return None  # the handler's arity error comes first, as in Redis
                info = sub
        if client.in_script and info is not None and "noscript" in info.flags:
            return _NOSCRIPT  # checked before the ACLs in Redis (ACL WHOAMI's container is not)
        result, pos = user.check(info, args)
        if result == OK:
            return None
        full = info.name if info is not None else cmd.name
        shown_command = None
        if client.in_script:
            context = "lua"
            text = "ERR The user executing the script " + _SCRIPT_TEXT[result]
        elif client.in_exec:
            context = "multi"
            text = _EXEC_PREFIX + _EXEC_TEXT[result]
            shown_command = b"exec"  # Redis's lastcmd while EXEC runs the queue
        else:
            context = "multi" if client.multi is not None else "toplevel"
            text = _TOPLEVEL_TEXT[result].format(full)
            if log:  # Redis's lastcmd is set before the checks
                client.last_command = full.encode()
        if log:
            thing = full.encode() if result == DENIED_CMD else args[pos]
            self.add_log(client, result, context, thing, user.name, shown_command)
        return text

    def dryrun(self, user: User, args: list[bytes]) -> bytes | None:
        """ACL DRYRUN's answer for a denied command (None: allowed); CommandError when the
        command or its arity is wrong."""
        name = args[0].decode("utf-8", "replace").lower()
        info = REDIS_COMMANDS.get(name)
        if info is not None and info.subcommands and len(args) > 1:
            sub = info.subcommands.get(args[1].decode("utf-8", "replace").lower())
            info = sub  # lookupCommand: an unknown subcommand is not found
        if info is None:
            raise CommandError(f"ERR Command '{args[0].decode('utf-8', 'replace')}' not found")
        if not info.arity_ok(len(args)):
            raise CommandError(f"ERR wrong number of arguments for '{info.name}' command")
        result, pos = user.check(info, args)
        if result == OK:
            return None
        if result == DENIED_CMD:
            return f"This user has no permissions to run the '{info.name}' command".encode()
        what = "key" if result == DENIED_KEY else "channel"
        return b"This user has no permissions to access the '%s' %s" % (args[pos], what.encode())

    def may_run(self, client: Client, args: list[bytes]) -> bool:
        """redis.acl_check_cmd: whether the script's user may run ``args``."""
        info = REDIS_COMMANDS.get(args[0].decode("utf-8", "replace").lower())
        if info is not None and info.subcommands and len(args) > 1:
            info = info.subcommands.get(args[1].decode("utf-8", "replace").lower(), info)
        return client.user.check(info, args)[0] == OK

    # -- the log ------------------------------------------------------------------------

    @staticmethod
    def _context(client: Client) -> str:
        return "multi" if client.multi is not None else "toplevel"

    def add_log(
        self,
        client: Client,
        reason: int,
        context: str,
        thing: bytes,
        username: bytes,
        shown_command: bytes | None = None,
    ) -> None:
        """addACLLogEntry: an entry like one of the last ten (same reason, context, object
        and user, within a minute) is counted there and moved first. ``shown_command`` is
        the client info's cmd= when it is not the client's last command."""
        now = time.time() * 1000
        if shown_command is None:
            info = client.info_line()
        else:
            last, client.last_command = client.last_command, shown_command
            try:
                info = client.info_line()
            finally:
                client.last_command = last
        for index, entry in enumerate(self.log[:10]):
            if (
                entry.reason == reason
                and entry.context == context
                and abs(entry.ctime - now) <= LOG_GROUPING_MS
                and entry.object == thing
                and entry.username == username
            ):
                entry.count += 1
                entry.ctime = now
                entry.client_info = info
                del self.log[index]
                self.log.insert(0, entry)
                return
        self.log.insert(0, LogEntry(1, reason, context, thing, username, now, info))
        limit = int(self.server.config.get_text("acllog-max-len"))
        del self.log[limit:]

    # -- users ---------------------------------------------------------------------------

    def set_user(self, name: bytes, ops: Sequence[bytes]) -> None:
        """ACL SETUSER (ACLStringSetUser): every rule or none; CommandError with Redis's
        text, which names the refused rule (but for a password to remove, which Redis
        shows: here it is "<(redacted)")."""
        if has_spaces(name):
            raise CommandError("ERR Usernames can't contain spaces or null characters")
        try:
            merged = merge_selector_args(ops)
        except _Unmatched as exc:
            text = exc.start.decode("utf-8", "replace")
            raise CommandError(
                f"ERR Unmatched parenthesis in acl selector starting at '{text}'."
            ) from None
        existing = self.users.get(name)
        allchannels = self.allchannels
        staged = existing.copy() if existing is not None else User(name, allchannels)
        for op in merged:
            try:
                staged.apply(op, allchannels)
            except RuleError as exc:
                # Redis shows the rule; a password to remove ("<pw") is kept secret here
                shown = "<(redacted)" if op[:1] == b"<" else op.decode("utf-8", "replace")
                raise CommandError(f"ERR Error in ACL SETUSER modifier '{shown}': {exc}") from None
        if existing is None:
            self.users[name] = staged
        else:
            self._kill_pubsub_clients(staged, existing)
            existing.copy_from(staged)
        self.refresh()

    def _kill_pubsub_clients(self, new: User, old: User) -> None:
        """ACLKillPubsubClientsIfNeeded: clients of the user whose subscriptions the new
        channel rules no longer allow are disconnected."""
        if any(s.allchannels for s in new.selectors):
            return
        upcoming = [c for s in new.selectors for c in s.channels]
        if not any(s.allchannels for s in old.selectors) and all(
            c in upcoming for s in old.selectors for c in s.channels
        ):
            return
        for client in list(self.server.clients.values()):
            if client.user is not old or not client.subscriptions:
                continue
            if (
                any(not _channel_ok(upcoming, p, True) for p in client.patterns)
                or any(not _channel_ok(upcoming, c, False) for c in client.channels)
                or any(not _channel_ok(upcoming, c, False) for c in client.shard_channels)
            ):
                client.kill()

    def delete_users(self, client: Client, names: Sequence[bytes]) -> int:
        if b"default" in names:
            raise CommandError("ERR The 'default' user cannot be removed")
        deleted = 0
        for name in names:
            user = self.users.pop(name, None)
            if user is not None:
                self._kill_clients_of(user, client)
                deleted += 1
        self.refresh()
        return deleted

    def sorted_users(self) -> list[User]:
        return [self.users[name] for name in sorted(self.users)]

    # -- the ACL file -------------------------------------------------------------------

    def load_file(self, path: str, current: Client | None = None) -> str | None:
        """ACLLoadFromFile: every user of the file, or no change and the errors."""
        try:
            with open(path, "rb") as handle:
                text = handle.read()
        except OSError as exc:
            return f"Error loading ACLs, opening file '{path}': {exc.strerror}"
        errors = ""
        loaded: dict[bytes, User] = {}
        allchannels = self.allchannels
        shown_path = path
        for number, line in enumerate(text.split(b"\n"), 1):
            line = line.strip(b" \t\r\n")
            if not line:
                continue
            argv = line.split(b" ")
            if argv[0] != b"user" or len(argv) < 2:
                errors += (
                    f"{shown_path}:{number} should start with user keyword followed by the "
                    "username. "
                )
                continue
            name = argv[1]
            if has_spaces(name):
                errors += (
                    f"'{shown_path}:{number}: username '{name.decode('utf-8', 'replace')}' "
                    "contains invalid characters. "
                )
                continue
            if name in loaded:
                errors += (
                    f"WARNING: Duplicate user '{name.decode('utf-8', 'replace')}' found on "
                    f"line {number}. "
                )
                continue
            user = User(name, allchannels)
            loaded[name] = user
            try:
                ops = merge_selector_args(argv[2:])
            except _Unmatched:
                errors += f"{shown_path}:{number}: Unmatched parenthesis in selector definition."
                continue
            syntax_reported = False
            for op in ops:
                op = op.strip(b"\t\r\n")
                try:
                    user.apply(op, allchannels)
                except RuleError as exc:
                    if str(exc) == _UNKNOWN:
                        shown = op.decode("utf-8", "replace")
                        errors += (
                            f"{shown_path}:{number}: Error in applying operation '{shown}': {exc}. "
                        )
                    elif not syntax_reported:
                        errors += f"{shown_path}:{number}: {exc}. "
                        syntax_reported = True
        if errors:
            return (
                errors + "WARNING: ACL errors detected, no change to the previously active "
                "ACL rules was performed"
            )
        new_default = loaded.pop(b"default", None)
        if new_default is None:
            new_default = User(b"default", True)
            for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
                new_default.apply(op, True)
        old = self.users
        self.default.copy_from(new_default)
        self.users = {b"default": self.default, **loaded}
        for name, user in old.items():
            if name != b"default":
                self._kill_clients_of(user, current)
        self.refresh()
        return None

    def save_file(self, path: str) -> bool:
        """ACLSaveToFile: every user as ACL LIST shows it, written to a temporary file
        renamed over the old one."""
        text = "".join(
            f"user {u.name.decode('utf-8', 'surrogateescape')} {u.describe()}\n"
            for u in self.sorted_users()
        )
        temporary = f"{path}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
        try:
            with open(temporary, "w", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write(text)
            os.replace(temporary, path)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            return False
        return True


_NOSCRIPT = "ERR This Redis command is not allowed from script"


def genpass(bits: int) -> bytes:
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars].encode()
