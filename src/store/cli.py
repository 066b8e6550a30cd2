"""The command line of ``python -m store``, which behaves like redis-cli 7.0 (package-private:
``python -m store --help`` is its documentation, nothing here is API).

* ``python -m store [OPTIONS] [URL] COMMAND [ARG...]`` sends one command, prints its reply;
* without a command: a prompt (``127.0.0.1:6410>``, line editing and history through the
  stdlib ``readline``) when stdin is a terminal, otherwise one command per line of stdin.

Replies are printed as redis-cli prints them: formatted on a terminal, raw otherwise
(``--raw``, ``--no-raw``). redis-cli prints a simple string and a bulk string differently
(``OK`` and ``"OK"``), which the shared RESP readers do not tell apart (by design: they are
hiredis's twins), so the replies shown here are read by :class:`ReplyReader`, which keeps
each reply's wire type, from the stream of a connection the session owns
(``store.connect()``: connecting, TLS, AUTH and SELECT are the store's). That one connection
carries every command of the session, as redis-cli's does: SELECT, MULTI, SUBSCRIBE and
MONITOR included, which the store refuses on its shared connections.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .command_table import COMMANDS
from .errors import (
    AuthenticationError,
    ConnectionError,
    ImproperlyConfigured,
    ProtocolError,
    ResponseError,
    StoreError,
    TimeoutError,
)
from .resp import pack_command

DEFAULT_URL = "pulsar://127.0.0.1:6410"
PASSWORD_VARIABLE = "STORE_PASSWORD"

USAGE = """\
usage: python -m store [OPTIONS] [URL] [COMMAND [ARG ...]]
       python -m store serve [--port 6410] [--dir DIR] [--<setting> VALUE ...]

With a COMMAND: send it, print its reply, exit. Without one: a prompt like redis-cli's
when stdin is a terminal (history in $XDG_DATA_HOME/store/cli_history, HELP, QUIT or
Ctrl-D to leave), otherwise one command per line of stdin, each reply printed.
Without URL, -u, -h, -p or -s: $STORE_URL, else PulsarDS on 127.0.0.1:6410, started for
the session when none runs there (its data in $XDG_DATA_HOME/pulsards).

  URL            redis://[user@]host[:port][/db], rediss://..., unix:///path, pulsar://...
  -u URL         the URL, as an option
  -h HOST        server host (default: 127.0.0.1); with -h, -p or -s no server is started
  -p PORT        server port (default: 6379)
  -s SOCKET      server unix socket (overrides -h and -p)
  -n DB          database number
  --user USER    ACL user (AUTH USER PASSWORD)
  --askpass      ask for the password on the terminal, without echo
  -r REPEAT      send the command REPEAT times (a negative count: for ever)
  -i INTERVAL    seconds to wait after each repeat (-i 0.1 works)
  -e             exit with status 1 when a command (one given here) replies with an error
  -2, -3         speak RESP2 (the default) or RESP3
  --raw          raw replies (the default when stdout is not a terminal)
  --no-raw       formatted replies, even when stdout is not a terminal
  -v, --version  print the version
  --help         this text

Password: from $STORE_PASSWORD or --askpass, never from an option: every user of the
machine can read the arguments of every process (ps), so there is no -a. A password in
the URL is still accepted, with a warning.

Exit status: 0, also when a reply is an error (as redis-cli; -e changes that); 1 when the
server cannot be reached or the connection is lost, for a bad option or when -e sees an
error reply; a Ctrl-C that ends the program ends it as SIGINT does.

serve: run PulsarDS, the Redis-compatible server, in the foreground
(python -m store serve --help lists its settings).
"""


class UsageError(Exception):
    """A bad command line: printed with a pointer to --help, exit status 1."""


# -- a line into arguments: redis-cli's sdssplitargs -------------------------------------

_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_BLANK = frozenset(b" \t\n\r\v\f")  # isspace() in the C locale
_TOKEN_END = frozenset(b" \n\r\t")


def split_args(line: bytes) -> list[bytes] | None:
    """The arguments of ``line`` as redis-cli splits them; None for unbalanced quotes (or a
    closing quote followed by something else than a blank), redis-cli's "Invalid
    argument(s)". In double quotes: ``\\n \\r \\t \\b \\a``, ``\\xHH`` and ``\\<any>``;
    single quotes take everything literally but ``\\'``."""
    line = line.split(b"\0", 1)[0]  # a C string
    size = len(line)
    pos = 0
    words: list[bytes] = []
    while True:
        while pos < size and line[pos] in _BLANK:
            pos += 1
        if pos >= size:
            return words
        current = bytearray()
        in_double = in_single = False
        while True:
            char = line[pos] if pos < size else 0
            after = line[pos + 1] if pos + 1 < size else 0
            if in_double:
                if (
                    char == 0x5C
                    and after == ord("x")
                    and pos + 3 < size
                    and line[pos + 2] in _HEX
                    and line[pos + 3] in _HEX
                ):
                    current.append(int(line[pos + 2 : pos + 4], 16))
                    pos += 3
                elif char == 0x5C and after:
                    pos += 1
                    current.append(_ESCAPES.get(after, after))
                elif char == 0x22:
                    if after and after not in _BLANK:
                        return None
                    pos += 1
                    break
                elif not char:
                    return None
                else:
                    current.append(char)
            elif in_single:
                if char == 0x5C and after == 0x27:
                    pos += 1
                    current.append(0x27)
                elif char == 0x27:
                    if after and after not in _BLANK:
                        return None
                    pos += 1
                    break
                elif not char:
                    return None
                else:
                    current.append(char)
            elif not char or char in _TOKEN_END:
                break
            elif char == 0x22:
                in_double = True
            elif char == 0x27:
                in_single = True
            else:
                current.append(char)
            pos += 1
        words.append(bytes(current))


def is_sensitive(words: Sequence[bytes]) -> bool:
    """Whether a command carries a password and stays out of the history (redis-cli's
    list): AUTH, ACL SETUSER, CONFIG SET masterauth|masteruser|requirepass, HELLO ... AUTH,
    MIGRATE ... AUTH|AUTH2."""
    lowered = [word.lower() for word in words]
    count = len(lowered)
    if not lowered:
        return False
    name = lowered[0]
    if name == b"auth":
        return True
    if count > 1 and name == b"acl" and lowered[1] == b"setuser":
        return True
    if count > 2 and name == b"config" and lowered[1] == b"set":
        return lowered[2] in (b"masterauth", b"masteruser", b"requirepass")
    if count > 4 and name == b"hello":
        position = 2
        while position < count:
            left = count - 1 - position
            if lowered[position] == b"auth" and left >= 2:
                return True
            if lowered[position] == b"setname" and left:
                position += 2
                continue
            return False
    if count > 7 and name == b"migrate":
        for position in range(6, count):
            left = count - 1 - position
            if lowered[position] == b"auth" and left:
                return True
            if lowered[position] == b"auth2" and left >= 2:
                return True
            if lowered[position] == b"keys" and left:
                return False
    return False


# -- replies as the wire typed them ------------------------------------------------------


class Reply:
    """One reply: ``kind`` is its RESP type byte (``+ - : $ , # ( = * % ~ >``; ``_`` for
    every null, ``-`` for blob errors too), ``value`` bytes (the wire text of doubles and
    big numbers), int, bool, None, or the list of elements (a map's keys and values in
    turn)."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any) -> None:
        self.kind = kind
        self.value = value

    def __repr__(self) -> str:
        return f"Reply({self.kind!r}, {self.value!r})"

    @property
    def text(self) -> str:
        value = self.value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def pairs(self) -> list[tuple[str, Reply]]:
        """A map's entries (RESP3) or a flat array's pairs (RESP2), keys as text."""
        items = self.value if isinstance(self.value, list) else []
        return [(items[i].text, items[i + 1]) for i in range(0, len(items) - 1, 2)]


_AGGREGATES = {"*": 1, "~": 1, ">": 1, "%": 2, "|": 2}  # elements per entry


class ReplyReader:
    """A RESP2/RESP3 reader that keeps what redis-cli shows: the type of each reply.
    Resumable: ``feed`` bytes, ``get`` until it returns None. Attributes are dropped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._stack: list[tuple[str, list[Reply], list[int]]] = []

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def get(self) -> Reply | None:
        buf = self._buf
        while True:
            pos = self._pos
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            kind = chr(buf[pos])
            line = bytes(buf[pos + 1 : end])
            reply: Reply | None
            try:
                if kind in "$=!":
                    length = int(line)
                    if length < 0:
                        reply = Reply("_", None)
                        self._pos = end + 2
                    else:
                        if len(buf) < end + 4 + length:
                            return None
                        data = bytes(buf[end + 2 : end + 2 + length])
                        self._pos = end + 4 + length
                        if kind == "=":
                            data = data[4:]  # "txt:"
                        reply = Reply("-" if kind == "!" else kind, data)
                elif kind in _AGGREGATES:
                    length = int(line)
                    self._pos = end + 2
                    if length > 0:
                        self._stack.append((kind, [], [length * _AGGREGATES[kind]]))
                        continue
                    reply = None if kind == "|" else Reply("_" if length < 0 else kind, [])
                elif kind == ":":
                    reply = Reply(":", int(line))
                    self._pos = end + 2
                elif kind in "+-,(_#":
                    value: Any = line
                    if kind == "_":
                        value = None
                    elif kind == "#":
                        value = line == b"t"
                    reply = Reply(kind, value)
                    self._pos = end + 2
                else:
                    raise ProtocolError(f"unexpected reply type {kind!r}")
            except ValueError:
                raise ProtocolError(f"bad reply line {bytes(buf[pos:end])!r}") from None
            while reply is not None:
                if not self._stack:
                    return reply
                parent_kind, items, left = self._stack[-1]
                items.append(reply)
                left[0] -= 1
                if left[0]:
                    break
                self._stack.pop()
                reply = None if parent_kind == "|" else Reply(parent_kind, items)


# -- formatting: cliFormatReplyTTY and cliFormatReplyRaw ---------------------------------


def _repr_table() -> list[bytes]:
    table = []
    for byte in range(256):
        special = {0x5C: b"\\\\", 0x22: b'\\"', 10: b"\\n", 13: b"\\r", 9: b"\\t"}
        special.update({7: b"\\a", 8: b"\\b"})
        if byte in special:
            table.append(special[byte])
        elif 0x20 <= byte <= 0x7E:
            table.append(bytes([byte]))
        else:
            table.append(b"\\x%02x" % byte)
    return table


_REPR = _repr_table()
_EMPTY = {"*": b"(empty array)", "%": b"(empty hash)", "~": b"(empty set)", ">": b"(empty push)"}
_NUMBER_SIGN = {"~": b"~", "%": b"#"}


def quote(data: bytes) -> bytes:
    """redis-cli's (sds's) quoting of a bulk string: printable ASCII as is, the rest
    escaped."""
    return b'"' + b"".join([_REPR[byte] for byte in data]) + b'"'


def _multiline(reply: Reply) -> bool:
    items = reply.value
    if reply.kind in "*~>":
        return len(items) > 1 or (len(items) == 1 and _multiline(items[0]))
    if reply.kind == "%":
        return len(items) > 2 or (len(items) == 2 and _multiline(items[1]))
    return False


def format_tty(reply: Reply, prefix: bytes = b"") -> bytes:
    """A reply as redis-cli prints it on a terminal, ending with a newline."""
    kind, value = reply.kind, reply.value
    if kind == "-":
        return b"(error) " + bytes(value) + b"\n"
    if kind == "+" or kind == "=":
        return bytes(value) + b"\n"
    if kind == ":":
        return b"(integer) %d\n" % value
    if kind == "$":
        return quote(value) + b"\n"
    if kind == "_":
        return b"(nil)\n"
    if kind == ",":
        return b"(double) " + bytes(value) + b"\n"
    if kind == "(":
        return b"(big number) " + bytes(value) + b"\n"
    if kind == "#":
        return b"(true)\n" if value else b"(false)\n"
    if not value:
        return _EMPTY.get(kind, b"(empty aggregate type)") + b"\n"
    is_map = kind == "%"
    count = len(value) // 2 if is_map else len(value)
    width = len(str(count))
    inner = prefix + b" " * (width + 2)
    sign = _NUMBER_SIGN.get(kind, b")")
    out = bytearray()
    step = 2 if is_map else 1
    for index in range(0, len(value), step):
        out += (prefix if index else b"") + b"%*d" % (width, index // step + 1) + sign + b" "
        out += format_tty(value[index], inner)
        if is_map:
            element = value[index + 1]
            out[-1:] = b" => "
            if _multiline(element):
                out += b"\n" + inner
            out += format_tty(element, inner)
    return bytes(out)


def format_raw(reply: Reply, delimiter: bytes = b"\n") -> bytes:
    """A reply as redis-cli prints it raw (no newline after it)."""
    kind, value = reply.kind, reply.value
    if kind == "_":
        return b""
    if kind == "-":
        return bytes(value) + b"\n"
    if kind == ":":
        return b"%d" % value
    if kind == "#":
        return b"(true)" if value else b"(false)"
    if kind == "%":
        return delimiter.join(
            format_raw(value[i], delimiter) + b" " + format_raw(value[i + 1], delimiter)
            for i in range(0, len(value), 2)
        )
    if isinstance(value, list):
        return delimiter.join(format_raw(item, delimiter) for item in value)
    return bytes(value)


def format_invalidate(reply: Reply) -> bytes | None:
    """A RESP3 ``invalidate`` push as redis-cli shows it on a terminal."""
    items = reply.value
    if (
        reply.kind == ">"
        and len(items) == 2
        and items[0].kind == "$"
        and items[0].value.startswith(b"invalidate")
        and items[1].kind == "*"
    ):
        keys = b", ".join(b"'" + key.value + b"'" for key in items[1].value)
        return b"-> invalidate: " + keys + b"\n"
    return None


# commands whose bulk string is text to show as it is (redis-cli's list)
def raw_strings(words: Sequence[bytes]) -> bool:
    lowered = [word.lower() for word in words[:3]]
    name = lowered[0]
    count = len(words)
    second = lowered[1] if count >= 2 else b""
    return (
        name in (b"info", b"lolwut")
        or (name == b"debug" and second in (b"htstats", b"htstats-key", b"client-eviction"))
        or (name == b"memory" and second in (b"malloc-stats", b"doctor"))
        or (count == 2 and name == b"cluster" and second in (b"nodes", b"info"))
        or (count >= 2 and name == b"client" and second in (b"list", b"info"))
        or (count == 3 and name == b"latency" and second == b"graph")
        or (count == 2 and name == b"latency" and second == b"doctor")
        or (count >= 2 and name == b"proxy" and second == b"info")
    )


# -- HELP: the command table, completed by the server's COMMAND DOCS ---------------------


@dataclass
class HelpEntry:
    words: tuple[str, ...]  # ("CLIENT", "LIST")
    params: str = ""
    summary: str | None = None
    since: str | None = None
    group: str | None = None

    @property
    def full(self) -> str:
        return " ".join(self.words)


def _argument(spec: Reply) -> str:
    """One argument of COMMAND DOCS as redis-cli writes it (cliAddArgument)."""
    fields = dict(spec.pairs())
    name = fields["name"].text if "name" in fields else ""
    kind = fields["type"].text if "type" in fields else ""
    flags = {flag.text for flag in fields["flags"].value} if "flags" in fields else set()
    token = ""
    if "token" in fields:
        token = fields["token"].text or '""'
    if kind in ("key", "string", "integer", "double", "pattern", "unix-time", "token"):
        repeat = name or '""'
    elif kind in ("oneof", "block") and "arguments" in fields:
        separator = "|" if kind == "oneof" else " "
        repeat = separator.join(_argument(item) for item in fields["arguments"].value)
    else:
        repeat = ""
    if token and kind != "pure-token":
        token += " "
    text = token + repeat
    if "multiple" in flags:
        text += " [" + (token if "multiple_token" in flags else "") + repeat + " ...]"
    return f"[{text}]" if "optional" in flags else text


def _docs_entries(docs: Reply) -> Iterator[HelpEntry]:
    for name, spec in docs.pairs():
        fields = dict(spec.pairs())
        words = tuple(word.upper() for word in name.split("|"))
        entry = HelpEntry(words)
        if "summary" in fields:
            entry.summary = fields["summary"].text
        if "since" in fields:
            entry.since = fields["since"].text
        if "group" in fields:
            entry.group = fields["group"].text
        if "arguments" in fields:
            entry.params = " ".join(_argument(item) for item in fields["arguments"].value)
        yield entry
        if "subcommands" in fields:
            yield from _docs_entries(fields["subcommands"])


def help_entries(docs: Reply | None) -> list[HelpEntry]:
    """Every command of the table (its since and group), with what the server's COMMAND
    DOCS adds (summary, arguments) when it answered one."""
    entries: dict[tuple[str, ...], HelpEntry] = {}
    for name, info in COMMANDS.items():
        words = tuple(word.upper() for word in name.split("|"))
        # the table has no summaries (yet): a `summary` it gains is shown
        summary = getattr(info, "summary", None)
        entries[words] = HelpEntry(words, "", summary, info.since or None, info.group or None)
    if docs is not None and docs.kind in "*%":
        for entry in _docs_entries(docs):
            known = entries.get(entry.words)
            if known is None:
                entries[entry.words] = entry
                continue
            known.params = entry.params or known.params
            known.summary = entry.summary or known.summary
            known.since = entry.since or known.since
            known.group = entry.group or known.group
    return sorted(entries.values(), key=lambda entry: entry.full)


def format_help(words: Sequence[str], entries: Sequence[HelpEntry], version: str) -> bytes:
    """HELP, HELP <command> [<subcommand>] and HELP @<group>, as redis-cli prints them."""
    if not words:
        return (
            f"store {version}\n"
            "To get help about Redis commands type:\n"
            '      "help @<group>" to get a list of commands in <group>\n'
            '      "help <command>" for help on <command>\n'
            '      "help <tab>" to get a list of possible help topics\n'
            '      "quit" to exit\n'
        ).encode()
    group = words[0][1:].lower() if words[0].startswith("@") else None
    wanted = [word.lower() for word in words]
    out: list[str] = []
    for entry in entries:
        if group is not None:
            if (entry.group or "").lower() != group:
                continue
        elif len(wanted) > len(entry.words) or any(
            word != entry.words[index].lower() for index, word in enumerate(wanted)
        ):
            continue
        out.append(f"\r\n  \x1b[1m{entry.full}\x1b[0m \x1b[90m{entry.params}\x1b[0m\r\n")
        if entry.summary is not None:
            out.append(f"  \x1b[33msummary:\x1b[0m {entry.summary}\r\n")
        if entry.since is not None:
            out.append(f"  \x1b[33msince:\x1b[0m {entry.since}\r\n")
        if group is None and entry.group is not None:
            out.append(f"  \x1b[33mgroup:\x1b[0m {entry.group}\r\n")
    out.append("\r\n")
    return "".join(out).encode()


# -- the session ---------------------------------------------------------------------------


class Interrupted(Exception):
    """Ctrl-C ended a command that is not SUBSCRIBE or MONITOR (redis-cli exits)."""


class ErrorExit(Exception):
    """-e: a command replied with an error."""


@dataclass
class Options:
    url: str | None = None
    host: str | None = None
    port: int | None = None
    socket: str | None = None
    database: int | None = None
    user: str | None = None
    askpass: bool = False
    repeat: int = 1
    interval: float = 0.0
    error_status: bool = False
    protocol: int | None = None
    raw: bool | None = None
    words: list[str] = field(default_factory=list)
    url_from_command_line: bool = False


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _connect_reason(exc: BaseException) -> str:
    """'Connection refused' out of 'cannot connect: Connection refused (127.0.0.1:1)'."""
    text = str(exc)
    match = re.fullmatch(r"(?:cannot connect: )?(.*?)(?: \([^()]*\))?", text, re.DOTALL)
    return match.group(1) if match else text


def _lost_reason(exc: BaseException) -> str:
    text = re.sub(r" \([^()]*\)$", "", str(exc))
    if text.startswith("connection closed by the server"):
        return "Server closed the connection"
    if text.startswith("connection lost: "):
        return text[len("connection lost: ") :]
    return text


class Session:
    """One connection, the state redis-cli keeps about it (database, MULTI) and the
    commands sent on it."""

    def __init__(self, store: Any, options: Options, out: IO[bytes], err: IO[str]) -> None:
        self.store = store
        self.options = options
        self.out = out
        self.err = err
        settings = getattr(store, "settings", None)
        self.host: str = getattr(settings, "host", "") or "127.0.0.1"
        self.port: int = getattr(settings, "port", 0)
        self.path: str | None = getattr(settings, "path", None)
        self.store_db = int(getattr(settings, "database", 0) or 0)
        self.db = self.store_db  # the database wanted: SELECT changes it
        self.connection: Any = None
        self.reader = ReplyReader()
        self.in_multi = False
        self.pre_multi_db = 0
        self.interactive = False
        self.raw = options.raw if options.raw is not None else not out.isatty()
        self.show_pushes = out.isatty()
        self.entries: list[HelpEntry] | None = None

    # -- connection --

    @property
    def where(self) -> str:
        return self.path if self.path else _address(self.host, self.port)

    def prompt(self) -> str:
        if self.connection is None:
            return "not connected> "
        text = f"redis {self.path}" if self.path else _address(self.host, self.port)
        if self.db:
            text += f"[{self.db}]"
        if self.in_multi:
            text += "(TX)"
        return text + "> "

    def connect(self, quiet: bool = False) -> bool:
        self.disconnect()
        try:
            connection = self.store.connect()
        except AuthenticationError as exc:
            if not quiet:
                print(f"AUTH failed: {exc.message}", file=self.err)
            return False
        except ResponseError as exc:
            if not quiet:
                print(f"Could not set the connection up: {exc.message}", file=self.err)
            return False
        except (ConnectionError, TimeoutError) as exc:
            if not quiet:
                print(
                    f"Could not connect to Redis at {self.where}: {_connect_reason(exc)}",
                    file=self.err,
                )
            return False
        except StoreError as exc:
            if not quiet:
                print(f"Could not connect to Redis at {self.where}: {exc}", file=self.err)
            return False
        self.connection = connection
        self.reader = ReplyReader()
        self.in_multi = False
        if self.db != self.store_db:
            wanted, self.db = self.db, self.store_db
            try:
                connection.send(pack_command("SELECT", wanted))
                reply = self.read()
            except (ConnectionError, TimeoutError, ProtocolError) as exc:
                self.disconnect()
                self.db = wanted  # for the next attempt
                print(f"Error: {_lost_reason(exc)}", file=self.err)
                return False
            if reply.kind == "-":
                print(f"SELECT {wanted} failed: {reply.text}", file=self.err)
            else:
                self.db = wanted
        return True

    def disconnect(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def read(self, connection: Any = None, reader: ReplyReader | None = None) -> Reply:
        """The next reply on the session's connection (or on ``connection``)."""
        if connection is None:
            connection, reader = self.connection, self.reader
        assert reader is not None
        while True:
            reply = reader.get()
            if reply is not None:
                return reply
            stream = connection.stream if connection is not None else None
            if stream is None:
                raise ConnectionError("connection closed by the server")
            reader.feed(stream.read(None))

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.out.flush()

    def show(self, reply: Reply, words: Sequence[bytes]) -> None:
        if raw_strings(words):
            self.write(format_raw(reply))
        elif self.raw:
            self.write(format_raw(reply) + b"\n")
        else:
            self.write(format_tty(reply))

    # -- HELP --

    def help(self, words: Sequence[bytes]) -> None:
        if self.entries is None:
            # as redis-cli, from the server's COMMAND DOCS; on a connection of its own,
            # which no MULTI or SUBSCRIBE of the session's connection gets in the way of
            docs = None
            try:
                with self.store.connect() as connection:
                    connection.send(pack_command("COMMAND", "DOCS"))
                    docs = self.read(connection, ReplyReader())
            except (StoreError, OSError):
                pass  # the table alone
            self.entries = help_entries(docs)
        from . import __version__

        text = [word.decode("utf-8", "replace") for word in words]
        self.write(format_help(text, self.entries, __version__))

    # -- commands --

    def issue(self, words: list[bytes], repeat: int) -> bool:
        """Send a command (``repeat`` times), print the replies; False when it could not
        be sent or the connection broke (said on stderr)."""
        name = words[0].lower()
        if name in (b"help", b"?"):
            self.help(words[1:])
            return True
        if self.connection is None and not self.connect():
            return False
        try:
            self._send(words, repeat)
        except (ConnectionError, TimeoutError, ProtocolError) as exc:
            self.disconnect()
            if name != b"shutdown":
                print(f"Error: {_lost_reason(exc)}", file=self.err)
                return False
        return True

    def _send(self, words: list[bytes], repeat: int) -> None:
        name = words[0].lower()
        packed = pack_command(*words)
        interval = self.options.interval
        while repeat < 0 or repeat > 0:
            repeat -= 1
            self.connection.send(packed)
            if name == b"monitor":
                while True:
                    reply = self.read()
                    self.show(reply, words)
                    if reply.kind == "-":
                        return
            if name in (b"subscribe", b"psubscribe", b"ssubscribe"):
                if not self.raw:
                    self.write(b"Reading messages... (press Ctrl-C to quit)\n")
                while True:
                    reply = self.read()
                    self.show(reply, words)
                    if reply.kind == "-":
                        break
                continue
            reply = self.read()
            while reply.kind == ">":  # RESP3 pushes (client tracking) before the reply
                if self.show_pushes:
                    self.write(format_invalidate(reply) or format_tty(reply))
                reply = self.read()
            if reply.kind == "-" and not self.interactive and self.options.error_status:
                print(reply.text, file=self.err)
                raise ErrorExit
            self.show(reply, words)
            self._track(words, reply)
            if interval:
                time.sleep(interval)

    def _track(self, words: list[bytes], reply: Reply) -> None:
        """The connection state redis-cli follows: database (prompt), MULTI."""
        name = words[0].lower()
        failed = reply.kind == "-"
        if name == b"select" and len(words) == 2 and not failed:
            try:
                self.db = int(words[1])
            except ValueError:
                pass
        elif name == b"auth" and len(words) in (2, 3) and not failed and self.db != 0:
            self.connection.send(pack_command("SELECT", self.db))
            self.read()
        elif name == b"multi" and len(words) == 1 and not failed:
            self.in_multi = True
            self.pre_multi_db = self.db
        elif name == b"exec" and len(words) == 1 and self.in_multi:
            self.in_multi = False
            if failed or reply.kind == "_":
                self.db = self.pre_multi_db
        elif name == b"discard" and len(words) == 1 and not failed:
            self.in_multi = False
            self.db = self.pre_multi_db
        elif name == b"reset" and len(words) == 1 and not failed:
            self.in_multi = False
            self.db = 0

    # -- the two modes --

    def one_command(self, words: list[bytes]) -> int:
        """redis-cli's non-interactive mode."""
        if words[0].lower() not in (b"help", b"?") and not self.connect():
            return 1
        try:
            return 0 if self.issue(words, self.options.repeat) else 1
        except ErrorExit:
            return 1

    def prompt_loop(self, lines: Callable[[str], bytes | None], history: History | None) -> int:
        """redis-cli's repl: a line is a command, optionally after a repeat count."""
        self.interactive = True
        self.connect()
        while True:
            line = lines(self.prompt())
            if line is None:
                return 0
            words = split_args(line)
            if words is None:
                self.write(b"Invalid argument(s)\n")
                if history is not None and not is_sensitive(line.split()):
                    history.add(line)
                continue
            if not words:
                continue
            repeat = 1
            if len(words) > 1 and re.fullmatch(rb"\s*[+-]?\d+", words[0]):
                repeat = int(words[0])
                if repeat <= 0 or repeat > 2**63 - 1:
                    self.write(b"Invalid redis-cli repeat command option value.\n")
                    continue
                words = words[1:]
            if history is not None and not is_sensitive(words):
                history.add(line)
            name = words[0].lower()
            if name in (b"quit", b"exit"):
                return 0
            if name == b"clear" and len(words) == 1:
                self.write(b"\x1b[H\x1b[2J")
                continue
            started = time.monotonic()
            streaming = name in (b"subscribe", b"psubscribe", b"ssubscribe", b"monitor")
            try:
                self.issue(words, repeat)
            except KeyboardInterrupt:
                if not streaming:
                    raise Interrupted from None
                # as redis-cli: drop the subscribed connection, connect again
                db = self.db
                self.disconnect()
                self.db = db
                self.connect()
            elapsed = time.monotonic() - started
            if elapsed >= 0.5 and not self.raw:
                self.write(b"(%.2fs)\n" % elapsed)


# -- history and line editing -------------------------------------------------------------


def history_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "store", "cli_history")


class History:
    """The prompt's history through readline, saved after each line (mode 0600)."""

    def __init__(self, readline: Any, path: str) -> None:
        self.readline = readline
        self.path = path
        readline.set_auto_history(False)
        readline.set_history_length(1000)
        try:
            readline.read_history_file(path)
        except OSError:
            pass

    def add(self, line: bytes) -> None:
        self.readline.add_history(line.decode("utf-8", "surrogateescape"))
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(descriptor)
            self.readline.write_history_file(self.path)
        except OSError:
            pass  # as redis-cli: no history file, the session goes on


def _completer(readline: Any) -> Callable[[str, int], str | None]:
    names = sorted({name.partition("|")[0].upper() for name in COMMANDS})
    groups = sorted({"@" + info.group for info in COMMANDS.values() if info.group})
    found: list[str] = []

    def complete(text: str, state: int) -> str | None:
        if state == 0:
            before = readline.get_line_buffer()[: readline.get_begidx()].strip().lower()
            pool = names if not before else names + groups if before == "help" else []
            found[:] = [name for name in pool if name.lower().startswith(text.lower())]
        return found[state] if state < len(found) else None

    return complete


def _terminal_lines(readline: Any) -> Callable[[str], bytes | None]:
    def lines(prompt: str) -> bytes | None:
        try:
            return input(prompt).encode("utf-8", "surrogateescape")
        except EOFError:
            sys.stdout.write("\n")
            return None
        except KeyboardInterrupt:
            sys.stdout.write("\n")  # as redis-cli at its prompt: leave
            return None

    return lines


def _piped_lines(stream: IO[bytes]) -> Callable[[str], bytes | None]:
    def lines(prompt: str) -> bytes | None:
        try:
            line = stream.readline()
        except KeyboardInterrupt:
            raise Interrupted from None  # as redis-cli: status 1
        if not line:
            return None
        return line[:-1] if line.endswith(b"\n") else line

    return lines


# -- the command line ---------------------------------------------------------------------


def parse_options(argv: Sequence[str]) -> Options:
    """redis-cli's way: options first, the first word that is not one starts the command."""
    options = Options()
    arguments = list(argv)
    index = 0

    def value(option: str) -> str:
        nonlocal index
        if index + 1 >= len(arguments):
            raise UsageError(f"option {option} needs a value")
        index += 1
        return arguments[index]

    def number(option: str, kind: Callable[[str], Any]) -> Any:
        text = value(option)
        try:
            return kind(text)
        except ValueError:
            raise UsageError(f"option {option}: not a number: {text!r}") from None

    while index < len(arguments):
        argument = arguments[index]
        if argument == "-h":
            options.host = value(argument)
        elif argument == "-p":
            options.port = number(argument, int)
        elif argument == "-s":
            options.socket = value(argument)
        elif argument == "-u":
            options.url = value(argument)
            options.url_from_command_line = True
        elif argument == "-n":
            options.database = number(argument, int)
        elif argument == "--user":
            options.user = value(argument)
        elif argument == "--askpass":
            options.askpass = True
        elif argument == "-r":
            options.repeat = number(argument, int)
        elif argument == "-i":
            options.interval = number(argument, float)
        elif argument == "-e":
            options.error_status = True
        elif argument in ("-2", "-3"):
            options.protocol = int(argument[1])
        elif argument == "--raw":
            options.raw = True
        elif argument == "--no-raw":
            options.raw = False
        elif argument in ("-a", "--pass"):
            raise UsageError(
                f"{argument} is not supported: every user of this machine can read a "
                f"password given as an argument (ps); set ${PASSWORD_VARIABLE} or use --askpass"
            )
        elif argument.startswith("-") and argument != "-":
            raise UsageError(f"Unrecognized option or bad number of args for: '{argument}'")
        elif "://" in argument and not options.url_from_command_line:
            options.url = argument  # the URL: options may follow it
            options.url_from_command_line = True
        else:
            break
        index += 1
    words = arguments[index:]
    if options.url is not None and (options.host or options.port or options.socket):
        raise UsageError("give either a URL or -h/-p/-s")
    options.words = words
    return options


def data_directory() -> str:
    """Where the embedded default keeps its snapshot between commands."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "pulsards")


def _target(options: Options) -> str:
    if options.socket:
        return f"unix://{options.socket}"
    if options.host or options.port:
        host = options.host or "127.0.0.1"
        return f"redis://{_address(host, options.port or 6379)}"
    return options.url or os.environ.get("STORE_URL") or DEFAULT_URL


def main(argv: Sequence[str]) -> int:
    err = sys.stderr
    if list(argv[:1]) in (["--help"], ["-?"]):
        sys.stdout.write(USAGE)
        return 0
    if list(argv[:1]) in (["-v"], ["--version"]):
        from . import __version__

        print(f"store {__version__}")
        return 0
    try:
        options = parse_options(argv)
    except UsageError as exc:
        print(f"{exc}\nTry python -m store --help for more information.", file=err)
        return 1
    from .url import parse_url

    url = _target(options)
    try:
        parsed = parse_url(url)
    except ImproperlyConfigured as exc:
        print(f"Invalid URL: {exc}", file=err)
        return 1
    if "+cluster" in parsed.scheme:
        print(
            "The command line talks to one server: give the redis:// URL of one node.",
            file=err,
        )
        return 1
    password: str | None = None
    if options.askpass:
        import getpass

        password = getpass.getpass("Please input password: ")
    elif parsed.password:
        if options.url_from_command_line:
            print(
                "Warning: Using a password in a URL on the command line may not be safe "
                f"(ps shows it); set ${PASSWORD_VARIABLE} or use --askpass.",
                file=err,
            )
    else:
        password = os.environ.get(PASSWORD_VARIABLE) or None
    settings: dict[str, Any] = {"retries": 0}
    if password is not None:
        settings["password"] = password
    if options.user is not None:
        settings["user"] = options.user
    if options.database is not None:
        settings["database"] = options.database
    if options.protocol is not None:
        settings["protocol"] = options.protocol
    elif "protocol" not in parsed.query:
        settings["protocol"] = 2  # as redis-cli
    # The embedded default keeps its data between commands, like a small database file.
    server_options: dict[str, Any] = {"save": [(3600, 1)]}
    if parsed.scheme == "pulsar":
        server_options["dir"] = _ensure(data_directory())
    if password is not None:
        server_options["requirepass"] = password
    # store.sync's own module, without the rest of store.sync: the command line starts faster
    from ._sync.store import start_store

    try:
        store = start_store(url, server_options, **settings)
    except ImproperlyConfigured as exc:
        print(f"Invalid URL: {exc}", file=err)
        return 1
    except (ConnectionError, TimeoutError) as exc:
        print(f"Could not connect: {exc}", file=err)
        return 1
    session = Session(store, options, sys.stdout.buffer, err)
    words = [word.encode("utf-8", "surrogateescape") for word in options.words]
    interrupted = False
    try:
        if words:
            return session.one_command(words)
        if sys.stdin.isatty():
            import readline

            history = History(readline, history_path())
            readline.set_completer(_completer(readline))
            readline.set_completer_delims(" \t")
            if "libedit" in (readline.__doc__ or ""):
                readline.parse_and_bind("bind ^I rl_complete")
            else:
                readline.parse_and_bind("tab: complete")
            return session.prompt_loop(_terminal_lines(readline), history)
        return session.prompt_loop(_piped_lines(sys.stdin.buffer), None)
    except Interrupted:
        return 1  # as redis-cli: Ctrl-C during a command ends the session
    except KeyboardInterrupt:
        interrupted = True
        return 130
    finally:
        session.disconnect()
        store.close()
        if interrupted:
            sys.stdout.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)


def _ensure(directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    return directory
