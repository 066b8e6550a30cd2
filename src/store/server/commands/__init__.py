"""The command table. Each family module registers its handlers with ``@command``.

A handler is ``handler(client, args) -> reply``: ``args[0]`` is the command name as sent,
the reply is a value ``protocol.encode_reply`` understands, and errors are raised as
``CommandError`` with Redis's text. The server checks arity, authentication, MULTI
queueing and the pub/sub context before calling, and after a successful write it deletes
containers left empty, signals WATCH and blocked clients for the command's keys and logs
the command to the append-only file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..keyspace import WRONGTYPE, CommandError

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "ADMIN",
    "BLOCKING",
    "COMMANDS",
    "NOSCRIPT",
    "NO_AUTH",
    "NO_PROPAGATE",
    "NO_QUEUE",
    "PUBSUB",
    "RANDOM",
    "WRITE",
    "WRONGTYPE",
    "Command",
    "CommandError",
    "Handler",
    "bitfield_reads_only",
    "command",
    "parse_float",
    "parse_int",
    "subcommand_error",
    "syntax_error",
    "wrong_args",
]

Handler = Callable[["Client", list[bytes]], Any]

WRITE = "write"  # changes the keyspace: empty-container cleanup, WATCH, AOF, dirty count
ADMIN = "admin"
NOSCRIPT = "noscript"  # not callable from a Lua script
NO_AUTH = "no-auth"  # allowed before AUTH
PUBSUB = "pubsub"  # allowed in a RESP2 subscribed context
NO_QUEUE = "no-queue"  # runs at once inside MULTI (EXEC, DISCARD, WATCH, ...)
BLOCKING = "blocking"
RANDOM = "random"  # its effect differs between runs: it must set client.propagate itself
NO_PROPAGATE = "no-propagate"  # writes through inner commands that log themselves (EVAL)


@dataclass(slots=True)
class Command:
    name: str
    handler: Handler
    arity: int  # Redis's convention: n exactly, -n at least n (the name counts)
    flags: frozenset[str]
    first_key: int
    last_key: int  # -1 is the last argument, -2 the one before it
    step: int
    key_finder: Callable[[list[bytes]], list[bytes]] | None
    is_write: bool
    calls: int = 0  # for INFO commandstats
    # a container's calls per subcommand (INFO shows cmdstat_script|load...), else None
    subcommand_calls: dict[str, int] | None = None
    write_finder: Callable[[list[bytes]], list[bytes]] | None = None

    def written(self, args: list[bytes]) -> list[bytes]:
        """The keys a write command changes (SINTERSTORE changes its destination only):
        these are signalled to WATCH and to blocked clients."""
        if self.write_finder is not None:
            return self.write_finder(args)
        return self.keys(args)

    def keys(self, args: list[bytes]) -> list[bytes]:
        if self.key_finder is not None:
            return self.key_finder(args)
        if not self.first_key:
            return []
        last = self.last_key if self.last_key > 0 else len(args) + self.last_key
        return args[self.first_key : last + 1 : self.step]

    def full_name(self, args: list[bytes]) -> str:
        """The name Redis 7 shows in errors and stats: ``pubsub|numsub`` for a subcommand."""
        if self.subcommand_calls is not None and len(args) > 1:
            return f"{self.name}|{args[1].decode('utf-8', 'replace').lower()}"
        return self.name

    def arity_ok(self, count: int) -> bool:
        arity = self.arity
        return count == arity if arity > 0 else count >= -arity


COMMANDS: dict[bytes, Command] = {}
# Redis's no-multi commands (flag no_multi in store.command_table): refused inside MULTI
# with "Command not allowed inside a transaction", which fails the transaction. They run
# at once (NO_QUEUE) behind a check of their own, so nothing is checked for the others.
NO_MULTI = frozenset({"psync", "save", "shutdown", "sync"})
# the commands made of subcommands (CLIENT LIST, CONFIG GET...)
CONTAINERS = frozenset(
    {
        "acl",
        "client",
        "command",
        "config",
        "debug",
        "function",
        "object",
        "pubsub",
        "script",
        "xgroup",
        "xinfo",
    }
)


def command(
    name: str,
    arity: int,
    *flags: str,
    keys: tuple[int, int, int] | Callable[[list[bytes]], list[bytes]] = (0, 0, 0),
    writes: Sequence[int] | Callable[[list[bytes]], list[bytes]] | None = None,
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as ``name``. ``keys`` is (first, last, step) like
    Redis's command table, or a function returning the key arguments; ``writes`` lists the
    positions of the keys a write command changes, when not all of them."""

    def register(handler: Handler) -> Handler:
        finder = keys if callable(keys) else None
        first, last, step = keys if not callable(keys) else (0, 0, 0)
        flag_set = frozenset(flags)
        if name.lower() in NO_MULTI:
            flag_set |= {NO_QUEUE}
        entry = Command(
            name.lower(), handler, arity, flag_set, first, last, step, finder, WRITE in flag_set
        )
        if entry.name in NO_MULTI:
            entry.handler = _refused_in_multi(entry, handler)
        if entry.name in CONTAINERS:
            entry.subcommand_calls = {}
        if writes is not None:
            entry.write_finder = writes if callable(writes) else keys_from(writes)
        lower = name.lower().encode()
        if lower in COMMANDS:
            raise RuntimeError(f"command {name!r} is registered twice")
        COMMANDS[lower] = entry
        COMMANDS[lower.upper()] = entry  # the common spellings skip a .lower()
        return handler

    return register


def _refused_in_multi(entry: Command, handler: Handler) -> Handler:
    def run(client: Client, args: list[bytes]) -> Any:
        if client.multi is not None:
            client.multi_failed = True
            entry.calls -= 1  # refused before it ran, as Redis's rejected calls
            raise CommandError("ERR Command not allowed inside a transaction")
        return handler(client, args)

    return run


def lookup(name: bytes) -> Command | None:
    found = COMMANDS.get(name)
    if found is None:
        found = COMMANDS.get(name.lower())
    return found


# -- argument helpers shared by the families -------------------------------------------------


def syntax_error() -> CommandError:
    return CommandError("ERR syntax error")


def wrong_args(name: bytes | str) -> CommandError:
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
    return CommandError(f"ERR wrong number of arguments for '{text.lower()}' command")


def subcommand_error(args: list[bytes], known: Iterable[bytes]) -> CommandError:
    """Redis 7's errors for a container command: an unknown subcommand, or a known one
    with the wrong number of arguments."""
    container = args[0].decode("utf-8", "replace")
    sub = args[1].decode("utf-8", "replace")
    if args[1].lower() in set(known):
        return CommandError(
            f"ERR wrong number of arguments for '{container.lower()}|{sub.lower()}' command"
        )
    return CommandError(f"ERR unknown subcommand '{sub}'. Try {container.upper()} HELP.")


def parse_int(value: bytes, what: str = "value is not an integer or out of range") -> int:
    """A 64-bit signed integer as Redis reads it: no spaces, no plus sign, no leading zeros."""
    digits = value[1:] if value[:1] == b"-" else value
    if (
        not digits.isdigit()
        or len(digits) > 19
        or (digits[0] == 48 and (len(digits) > 1 or value[:1] == b"-"))
    ):
        raise CommandError(f"ERR {what}")
    number = int(value)
    if not -(1 << 63) <= number < (1 << 63):
        raise CommandError(f"ERR {what}")
    return number


def parse_float(value: bytes, what: str = "value is not a valid float") -> float:
    try:
        if not value or value[:1].isspace() or value[-1:].isspace():
            raise ValueError
        lowered = value.lower()
        if lowered in (b"nan", b"+nan", b"-nan"):
            raise ValueError
        number = float(value)
    except ValueError:
        raise CommandError(f"ERR {what}") from None
    return number


def keys_from(positions: Sequence[int]) -> Callable[[list[bytes]], list[bytes]]:
    """A key finder for fixed positions."""

    def find(args: list[bytes]) -> list[bytes]:
        return [args[i] for i in positions if i < len(args)]

    return find


FAMILIES = (
    "connection",
    "keys",
    "strings",
    "hashes",
    "lists",
    "sets",
    "zsets",
    "streams",
    "geo",
    "hyperloglog",
    "sort",
    "pubsub",
    "transactions",
    "scripting",
    "functions",
    "server",
    "persistence",
    "acl",
    "dump",
)


def load_families() -> None:
    for family in FAMILIES:
        importlib.import_module(f"{__name__}.{family}")


def bitfield_reads_only(args: Sequence[bytes]) -> bool:
    """Whether BITFIELD only reads its key: every operation a GET or OVERFLOW (Redis's
    bitfieldGetKeys; COMMAND GETKEYSANDFLAGS and the ACL key check both ask)."""
    index = 2
    while index < len(args):
        left = len(args) - index - 1
        word = args[index].lower()
        if word == b"get" and left >= 2:
            index += 3
        elif word == b"overflow" and left >= 1:
            index += 2
        else:
            return False
    return True
