"""The script engine: Lua 5.1 (``lupa``) running scripts and functions as Redis 7.0 does.

This module holds the runtime, the sandbox, the conversion of values between Lua and RESP
and the engine's state (compiled scripts, function libraries, the running script,
lrand48). The Lua side (sandbox, redis library, reply encoding, FUNCTION LOAD's
environment) is ``bootstrap.lua`` beside it, cjson and cmsgpack are ``libs.lua``; the
commands are in ``commands/scripting.py`` (EVAL, EVALSHA, SCRIPT ...) and
``commands/functions.py`` (FUNCTION, FCALL).

Scripts see Redis 7.0.15's environment: KEYS, ARGV, the ``redis`` library, the base
library without file or module access, and string, table, math, coroutine, cjson,
cmsgpack, struct and bit. The global table is read-only, as in Redis: setting any global,
new or existing, fails with "Attempt to modify a readonly table", and so does changing the
library tables. ``math.random`` is Redis's lrand48 (one sequence for the server), and
``pcall`` turns error tables into their message, as in 7.0.

Functions (FUNCTION LOAD) run in an environment of their own: while the library's code
runs, its globals are only ``redis.register_function``, ``redis.log`` and the version;
when a function is called it sees the script globals without KEYS and ARGV, and gets the
keys and arguments as its two parameters.

Redis's library functions are C functions, and a C function called in tail position
(``return redis.call(...)``) leaves the script's frame on the stack, which error positions
need. The Python functions here are wrapped as Lua C functions; the ones written in Lua
(cjson, cmsgpack, redis.call's wrapper for big argument lists) cannot be, so scripts are
compiled without tail calls instead (``_untail``). An error a Python function raises
travels through Lua as a Python object, and every place Lua code can catch it (pcall,
xpcall, coroutine.resume/wrap, the top-level handler) turns it back into the table or
string Redis would have raised.

Sandbox: scripts run in an environment of their own holding only those names; the Python
functions are reachable only through the wrappers, the ``debug`` library and ``getfenv``
are not there, attribute access on Python objects is refused anyway, and binary chunks
are compiled as text (malformed bytecode can corrupt the interpreter).

A script that runs longer than ``busy_reply_threshold`` ms (Redis's lua-time-limit,
default 5000) is killed with an error. Redis instead answers BUSY to other clients until
SCRIPT KILL, but PulsarDS runs commands on one thread, so no SCRIPT KILL could ever arrive
while a script runs: without the limit a runaway script would hang the server. Writes the
script made before being killed stay (as when a script fails in Redis). FUNCTION LOAD
stops a library's code after 500 ms, as Redis does.

Not provided: the script debugger (SCRIPT DEBUG YES). Known differences: -0.0 passed
straight to or from struct (a Python function) loses its sign (lupa hands it over as the
integer 0); a script cannot recurse without bound through tail calls.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.resources
import logging
import math
import re
import struct
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..commands import BLOCKING, NOSCRIPT, CommandError, lookup
from ..commands.connection import VERSION
from ..protocol import NULL_ARRAY, ErrorReply, Push, SimpleString, Verbatim, format_double

if TYPE_CHECKING:
    from ..client import Client
    from ..core import PulsarDS

__all__ = [
    "Function",
    "FunctionError",
    "Library",
    "Script",
    "ScriptEngine",
    "ScriptError",
    "script_engine",
]

log = logging.getLogger("store.server.script")

HOOK_EVERY = 100_000  # Lua instructions between two checks of the time limit
MAX_REPLY_DEPTH = 200  # nesting of a script's reply; deeper levels become an error
SHEBANG_FLAGS = frozenset(
    {"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}
)
REPL_AOF = 1
_INITIAL_RAND = 0x1234ABCD330E  # lrand48's state before any seeding, as in Redis's rand.c
_RAND_MAX = 2147483647
_SLICE = 4000  # items per unpack(): Lua 5.1 allows at most 8000 results
_BIT_FUNCTIONS = (
    "tobit",
    "tohex",
    "bnot",
    "band",
    "bor",
    "bxor",
    "lshift",
    "rshift",
    "arshift",
    "rol",
    "ror",
    "bswap",
)
_LOG_LEVELS = (logging.DEBUG, logging.DEBUG, logging.INFO, logging.WARNING)


@dataclass(slots=True)
class Script:
    """A compiled script and its shebang flags (``compat``: no shebang, Redis 6 rules)."""

    sha: str
    function: Any
    flags: frozenset[str]
    compat: bool


@dataclass(slots=True)
class Function:
    """A function a library registered (FUNCTION LOAD)."""

    name: str
    library: str
    callback: Any
    flags: frozenset[str]
    description: bytes | None


@dataclass(slots=True)
class Library:
    name: str
    code: bytes
    functions: dict[str, Function]


class FunctionError(Exception):
    """FUNCTION LOAD could not create the library: Redis's message, without "ERR "."""


_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_BAD_NAME = (
    "Library names can only contain letters, numbers, or underscores(_) and must be at "
    "least one character long"
)
LOAD_TIMEOUT_MS = 500  # Redis's limit on the run of a library's code by FUNCTION LOAD


def _valid_name(name: bytes) -> bool:
    return bool(name) and all(byte in _NAME_CHARS for byte in name)


def _split_args(line: bytes) -> list[bytes] | None:
    """sdssplitargs for a shebang line (quotes as Redis reads them), None if unbalanced."""
    parts: list[bytes] = []
    pos, size = 0, len(line)
    while True:
        while pos < size and line[pos : pos + 1].isspace():
            pos += 1
        if pos >= size:
            return parts
        current = bytearray()
        quote = 0
        while pos < size:
            ch = line[pos]
            if quote:
                if ch == 92 and quote == 34 and pos + 1 < size:  # backslash in "..."
                    pos += 1
                    current.append(line[pos])
                elif ch == quote:
                    if pos + 1 < size and not line[pos + 1 : pos + 2].isspace():
                        return None
                    quote = 0
                    pos += 1
                    break
                else:
                    current.append(ch)
            elif ch in (32, 9, 10, 13, 11, 12):
                break
            elif ch in (34, 39):
                quote = ch
            else:
                current.append(ch)
            pos += 1
        else:
            if quote:
                return None
        parts.append(bytes(current))


@dataclass(slots=True)
class _Run:
    """The state of the script being run."""

    client: Client
    sha: str
    read_only: bool
    deadline: float | None
    limit_ms: int
    resp3: bool = False
    repl: int = 3
    killed: bytes | None = None
    aof_open: bool = False
    aof_db: int = 0


class ScriptError(Exception):
    """Raised by a Python function called from Lua. Lua sees the error table {err=message}
    (how the redis library fails) or, with ``is_table=False``, the string ``message`` (how
    a C library function fails, with luaL_error)."""

    def __init__(self, message: bytes, is_table: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.is_table = is_table


@functools.cache
def _package_file(name: str) -> bytes:
    """The Lua side of the engine, shipped as package data beside this module."""
    return importlib.resources.files(__package__ or "").joinpath(name).read_bytes()


def _lua_module() -> Any:
    # Redis embeds Lua 5.1; lupa's LuaJIT builds speak the same dialect.
    for name in ("lupa.lua51", "lupa.luajit21", "lupa.luajit20"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise CommandError("ERR scripting is not available: the 'lupa' package (Lua 5.1) is missing")


def _no_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("scripts cannot reach Python objects")


def _c_double(value: float, spec: bytes) -> bytes:
    """C's printf of a double with ``spec`` (glibc spells NaN with its sign)."""
    if value != value:
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    return spec % value


def _to_int(value: Any) -> int:
    """A Lua number as Redis's (long long) cast makes it: truncated, LLONG_MIN if out of range."""
    if type(value) is int:
        return value if -(1 << 63) <= value < (1 << 63) else -(1 << 63)
    if value != value or not -9.2233720368547758e18 <= value < 9.2233720368547758e18:
        return -(1 << 63)
    return int(value)


def _lua_tonumber(value: Any) -> float | None:
    """Lua 5.1's ``tonumber``/``lua_tonumber`` on a value that came from Lua."""
    if type(value) is int or type(value) is float:
        return float(value)
    if type(value) is not bytes:
        return None
    text = value.strip(b" \t\n\r\f\v")
    if b"_" in text:  # Python's literals allow it, C's strtod does not
        return None
    try:
        if text.lower().startswith((b"0x", b"-0x", b"+0x")):
            return float(int(text, 16))
        return float(text)
    except ValueError:
        return None


def _lua_tostring(value: Any) -> bytes | None:
    """``lua_tolstring``: strings as they are, numbers with "%.14g", anything else None."""
    if type(value) is bytes:
        return value
    if type(value) is int or type(value) is float:
        return _c_double(float(value), b"%.14g")
    return None


def _map_crlf(text: bytes) -> bytes:
    return text.replace(b"\r", b" ").replace(b"\n", b" ")


def _hashable(value: Any) -> Any:
    """Map keys and set members that came from Lua tables."""
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(_hashable(item) for pair in value.items() for item in pair)
    if isinstance(value, set):
        return frozenset(value)
    return value


def _parse_shebang(body: bytes) -> tuple[frozenset[str], bool, int]:
    """Redis 7.0's ``#!lua flags=...`` first line: (flags, compat, length of the line)."""
    if not body.startswith(b"#!"):
        return frozenset(), True, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    parts = body[:end].decode("utf-8", "replace").split()
    if not parts:
        raise CommandError("ERR Invalid engine in script shebang")
    if parts[0] != "#!lua":
        raise CommandError(f"ERR Unexpected engine in script shebang: {parts[0]}")
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith("flags="):
            raise CommandError(f"ERR Unknown lua shebang option: {part}")
        listed = part[len("flags=") :]
        for flag in listed.split(",") if listed else []:
            if flag not in SHEBANG_FLAGS:
                raise CommandError(f"ERR Unexpected flag in script shebang: {flag}")
            flags.add(flag)
    return frozenset(flags), False, end


class ScriptEngine:
    """One Lua interpreter per server, with the compiled scripts and the lrand48 state."""

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        self.functions: dict[str, Script] = {}
        self.libraries: dict[str, Library] = {}  # FUNCTION LOAD's, by name
        # every library's functions, by lower-case name (FCALL's names ignore case)
        self.function_index: dict[str, Function] = {}
        self.load_deadline: float | None = None
        self.current: _Run | None = None
        self.rand_state = _INITIAL_RAND
        self.lua = _lua_module().LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_no_attributes,
        )
        major, minor, patch = (int(part) for part in VERSION.split(b"."))
        lua_globals = self.lua.globals()
        # libs.lua (cjson, cmsgpack) and bootstrap.lua return what the engine uses; their
        # chunk name marks their frames, which error positions skip.
        self.json_null = lua_globals.newproxy(False)
        libs, configure = lua_globals.loadstring(_package_file("libs.lua"), b"=pulsards")(
            self.json_null
        )
        callbacks = _callbacks(self)
        bootstrap = lua_globals.loadstring(_package_file("bootstrap.lua"), b"=pulsards")
        (
            self._compile,
            self._run,
            self._where,
            self._slice,
            self._load_library,
            self._function_env,
            readonly_of,
            self._callee,
        ) = bootstrap(
            self.lua.table_from(callbacks),
            VERSION,
            (major << 16) | (minor << 8) | patch,
            MAX_REPLY_DEPTH,
            HOOK_EVERY,
            self.json_null,
            libs,
        )
        configure(readonly_of, _strtod, _mp_pack_number, _mp_unpack_number)
        # Scripts never see the real globals; drop what could reach the host anyway.
        self.lua.execute(
            b"for _, name in ipairs({'os', 'io', 'package', 'require', 'module', 'dofile',"
            b" 'loadfile', 'python', 'debug', 'print', 'newproxy', 'getfenv', 'setfenv'}) do"
            b" _G[name] = nil end"
        )

    # -- the script cache ----------------------------------------------------------------

    def load(self, body: bytes, sha: str | None = None) -> Script:
        """The compiled script for ``body``, compiling and caching it if needed."""
        sha = sha or hashlib.sha1(body).hexdigest()
        found = self.functions.get(sha)
        if found is not None and sha in self.server.scripts:
            return found
        flags, compat, skip = _parse_shebang(body)
        function, message = self._compile(body[skip:])
        if not function:
            text = _text(message)
            raise CommandError(f"ERR Error compiling script (new function): {text}")
        script = Script(sha, function, flags, compat)
        self.functions[sha] = script
        self.server.scripts[sha] = body
        return script

    def find(self, sha: str) -> Script | None:
        body = self.server.scripts.get(sha)
        if body is None:
            return None
        return self.load(body, sha)

    def flush(self) -> None:
        self.server.scripts.clear()
        self.functions.clear()
        self.lua.execute(b"collectgarbage()")

    # -- function libraries (FUNCTION LOAD) ------------------------------------------------

    def create_library(
        self,
        code: bytes,
        replace: bool,
        libraries: dict[str, Library] | None = None,
        index: dict[str, Function] | None = None,
        timeout_ms: int = LOAD_TIMEOUT_MS,
    ) -> str:
        """Compile ``code`` (``#!lua name=...``) and add its library to ``libraries`` (the
        server's by default): its name, or FunctionError with Redis's message."""
        libraries = self.libraries if libraries is None else libraries
        index = self.function_index if index is None else index
        if not code.startswith(b"#!"):
            raise FunctionError("Missing library metadata")
        end = code.find(b"\n")
        if end < 0:
            raise FunctionError("Invalid library metadata")
        parts = _split_args(code[:end])
        if not parts:
            raise FunctionError("Invalid library metadata")
        engine_name = parts[0][2:]
        name: bytes | None = None
        for part in parts[1:]:
            if part[:5].lower() == b"name=":
                if name is not None:
                    raise FunctionError(
                        "Invalid metadata value, name argument was given multiple times"
                    )
                name = part[5:]
                continue
            raise FunctionError(f"Invalid metadata value given: {_text(part)}")
        if name is None:
            raise FunctionError("Library name was not given")
        if not _valid_name(name):
            raise FunctionError(_BAD_NAME)
        if engine_name.lower() != b"lua":
            raise FunctionError(f"Engine '{_text(engine_name)}' not found")
        library_name = name.decode()
        old = libraries.get(library_name)
        if old is not None and not replace:
            raise FunctionError(f"Library '{library_name}' already exists")
        function, message = self._compile(code[end:], b"@user_function", self._function_env)
        if not function:
            raise FunctionError(f"Error compiling function: {_text(message)}")
        self.load_deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else None
        try:
            ok, registered = self._load_library(function)
        finally:
            self.load_deadline = None
        if not ok:
            raise FunctionError(f"Error registering functions: {_text(registered)}")
        functions: dict[str, Function] = {}
        for entry in registered.values():
            fname = _text(entry[1])
            flags = frozenset(_text(flag).lower() for flag in entry[3].values())
            functions[fname] = Function(fname, library_name, entry[2], flags, entry[4])
        if not functions:
            raise FunctionError("No functions registered")
        for fname in functions:
            owner = index.get(fname.lower())
            if owner is not None and owner.library != library_name:
                raise FunctionError(f"Function {fname} already exists")
        if old is not None:
            self.unlink_library(old, libraries, index)
        libraries[library_name] = Library(library_name, code, functions)
        for fname, function in functions.items():
            # as Redis's dictAdd: of two names differing in case only, the first one counts
            index.setdefault(fname.lower(), function)
        return library_name

    @staticmethod
    def unlink_library(
        library: Library, libraries: dict[str, Library], index: dict[str, Function]
    ) -> None:
        libraries.pop(library.name, None)
        for fname, function in library.functions.items():
            if index.get(fname.lower()) is function:
                del index[fname.lower()]

    def check_function(self, args: tuple[Any, ...]) -> bytes | None:
        """redis.register_function's checks of a name and flags (None: fine)."""
        name, flags, registered = args
        if not isinstance(name, bytes) or not _valid_name(name):
            return b"ERR " + _BAD_NAME.encode()
        for flag in flags.values():
            if _text(flag).lower() not in SHEBANG_FLAGS:
                return b"ERR unknown flag given"
        for entry in registered.values():
            if entry[1] == name:
                return b"ERR Function already exists in the library"
        return None

    def call_function(
        self, client: Client, function: Function, keys: list[bytes], argv: list[bytes], ro: bool
    ) -> Any:
        script = Script(function.name, function.callback, function.flags, False)
        return self.run(client, script, keys, argv, ro, is_function=True)

    # -- running -------------------------------------------------------------------------

    def run(
        self,
        client: Client,
        script: Script,
        keys: list[bytes],
        argv: list[bytes],
        ro: bool,
        is_function: bool = False,
    ) -> Any:
        if ro and not script.compat and "no-writes" not in script.flags:
            raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
        limit_ms = self.server.config.busy_reply_threshold
        run = _Run(
            client,
            script.sha,
            ro or "no-writes" in script.flags,
            time.monotonic() + limit_ms / 1000 if limit_ms > 0 else None,
            limit_ms,
        )
        outer = self.current
        saved = (client.db, client.resp3, client.in_script, client.last_command)
        self.current = run
        client.in_script = True
        try:
            result = self._run(
                script.function,
                self.lua.table_from(keys),
                self.lua.table_from(argv),
                is_function,
            )
        finally:
            self.current = outer
            client.db, client.resp3, client.in_script, client.last_command = saved
            aof = self.server.aof
            if run.aof_open and aof is not None:
                aof.append(run.aof_db, [b"EXEC"])
        if not result[0]:
            raise CommandError(_error_text(script.sha, *result[1:]))
        out, count = result[1], result[2]
        items: list[Any] = []
        for start in range(1, count + 1, _SLICE):
            chunk = self._slice(out, start, min(start + _SLICE - 1, count))
            if isinstance(chunk, tuple):
                items.extend(chunk)
            else:
                items.append(chunk)
        reply, _ = self._decode(items, 0, run.resp3)
        if type(reply) is ErrorReply:
            raise CommandError(str(reply))
        return reply

    def _decode(self, items: list[Any], pos: int, resp3: bool) -> tuple[Any, int]:
        """One value of the flat reply ``encode`` made in Lua, as a reply for the encoder."""
        tag = items[pos]
        if tag == 0:
            return None, pos + 1
        value = items[pos + 1]
        pos += 2
        if tag == 1:
            return value, pos
        if tag == 2:
            return _to_int(value), pos
        if tag == 3:
            if resp3:
                return bool(value), pos
            return (1 if value else None), pos
        if tag == 4:
            return ErrorReply(_text(_map_crlf(value.strip(b"\r\n")))), pos
        if tag == 5:
            return SimpleString(_map_crlf(value)), pos
        if tag == 6:
            return float(value), pos
        if tag == 7:
            return _map_crlf(value), pos
        if tag == 8:
            return Verbatim(value), pos
        if tag == 9:
            mapping: dict[Any, Any] = {}
            for _ in range(int(value)):
                key, pos = self._decode(items, pos, resp3)
                item, pos = self._decode(items, pos, resp3)
                mapping[_hashable(key)] = item
            return mapping, pos
        if tag == 10:
            members: set[Any] = set()
            for _ in range(int(value)):
                member, pos = self._decode(items, pos, resp3)
                members.add(_hashable(member))
            return members, pos
        array: list[Any] = []
        append = array.append
        for _ in range(int(value)):
            kind = items[pos]
            if kind == 1:  # strings and integers are most items: no call for them
                append(items[pos + 1])
                pos += 2
            elif kind == 2 and type(items[pos + 1]) is int:
                append(_to_int(items[pos + 1]))
                pos += 2
            else:
                item, pos = self._decode(items, pos, resp3)
                append(item)
        return array, pos

    # -- the redis library (each raises ScriptError for Lua, see _callbacks) ---------------

    def _running(self) -> _Run:
        run = self.current
        if run is None:
            raise ScriptError(b"ERR redis library functions can only be called inside a script")
        if run.killed is not None:
            raise ScriptError(run.killed)
        return run

    @staticmethod
    def _argv(args: tuple[Any, ...]) -> list[bytes]:
        if not args:
            raise ScriptError(b"ERR Please specify at least one argument for this redis lib call")
        argv: list[bytes] = []
        for arg in args:
            kind = type(arg)
            if kind is bytes:
                argv.append(arg)
            elif kind is int or kind is float:
                argv.append(_c_double(float(arg), b"%.17g"))
            else:
                raise ScriptError(
                    b"ERR Lua redis lib command arguments must be strings or integers"
                )
        return argv

    def redis_call(self, args: tuple[Any, ...]) -> Any:
        """redis.call: the reply, or ScriptError with the command's error."""
        run = self._running()
        argv = self._argv(args)
        cmd = lookup(argv[0])
        if cmd is None:
            raise ScriptError(b"ERR Unknown Redis command called from script")
        if not cmd.arity_ok(len(argv)):
            raise ScriptError(b"ERR Wrong number of args calling Redis command from script")
        # Redis 7.0 flags its blocking commands (BLPOP, BZPOPMIN, ...) noscript as well.
        if NOSCRIPT in cmd.flags or (BLOCKING in cmd.flags and cmd.name[:5] != "xread"):
            raise ScriptError(b"ERR This Redis command is not allowed from script")
        client = run.client
        server = self.server
        if cmd.is_write:
            if run.read_only:
                raise ScriptError(b"ERR Write commands are not allowed from read-only scripts.")
            # The script's writes go to the append-only file as one MULTI/EXEC block
            # (EXEC opens its own block around a script run inside a transaction).
            if run.repl & REPL_AOF:
                if server.aof is not None and not run.aof_open and not client.in_exec:
                    server.aof.append(client.db.index, [b"MULTI"])
                    run.aof_open = True
            else:
                client.propagate = []  # redis.set_repl() took the AOF out
        resp3 = client.resp3
        client.resp3 = run.resp3
        try:
            reply = server.call(client, argv)
        except CommandError as exc:
            raise ScriptError(exc.message.encode("utf-8", "replace")) from None
        finally:
            client.resp3 = resp3
            client.propagate = None
            run.aof_db = client.db.index
        return self._to_lua(reply, run.resp3)

    def call_args(self, args: tuple[Any, ...]) -> Any:
        """redis.call or redis.pcall with more arguments than lupa passes to Python (about
        8000): the arguments come in a table."""
        protected, table, count = args
        items: list[Any] = []
        for start in range(1, int(count) + 1, _SLICE):
            chunk = self._slice(table, start, min(start + _SLICE - 1, int(count)))
            items.extend(chunk if isinstance(chunk, tuple) else (chunk,))
        if protected:
            return self.redis_pcall(tuple(items))
        return self.redis_call(tuple(items))

    def redis_pcall(self, args: tuple[Any, ...]) -> Any:
        """redis.pcall: like redis.call, but errors are returned as {err=...}."""
        try:
            return self.redis_call(args)
        except ScriptError as exc:
            if self.current is not None and self.current.killed is not None:
                raise
            return self.lua.table_from({b"err": exc.message})

    def acl_check(self, args: tuple[Any, ...]) -> bool:
        run = self._running()
        argv = self._argv(args)
        if lookup(argv[0]) is None:
            raise ScriptError(b"ERR Invalid command passed to redis.acl_check_cmd()")
        return bool(self.server.acl.may_run(run.client, argv))

    def sha1hex(self, args: tuple[Any, ...]) -> bytes:
        if len(args) != 1:
            raise ScriptError(b"ERR wrong number of arguments")
        return hashlib.sha1(_lua_tostring(args[0]) or b"").hexdigest().encode()

    def log(self, args: tuple[Any, ...]) -> None:
        if len(args) < 2:
            raise ScriptError(b"ERR redis.log() requires two arguments or more.")
        number = _lua_tonumber(args[0])
        if number is None:
            raise ScriptError(b"ERR First argument must be a number (log level).")
        level = _c_int(number)
        if not 0 <= level <= 3:
            raise ScriptError(b"ERR Invalid debug level.")
        parts: list[bytes] = []
        for index, arg in enumerate(args[1:]):
            text = _lua_tostring(arg)
            if text is not None:
                parts.append(text if index == 0 else b" " + text)
        log.log(_LOG_LEVELS[level], "%s", _text(b"".join(parts)))

    def set_resp(self, args: tuple[Any, ...]) -> None:
        run = self._running()
        if len(args) != 1:
            raise ScriptError(b"ERR redis.setresp() requires one argument.")
        resp = _c_int(_lua_tonumber(args[0]) or 0.0)
        if resp not in (2, 3):
            raise ScriptError(b"ERR RESP version must be 2 or 3.")
        run.resp3 = resp == 3

    def set_repl(self, args: tuple[Any, ...]) -> None:
        run = self._running()
        if len(args) != 1:
            raise ScriptError(b"ERR redis.set_repl() requires two arguments.")
        flags = _c_int(_lua_tonumber(args[0]) or 0.0)
        if not 0 <= flags <= 3:
            raise ScriptError(
                b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
            )
        run.repl = flags

    def _to_lua(self, value: Any, resp3: bool) -> Any:
        """A command's reply as Redis hands it to Lua under the script's protocol."""
        kind = type(value)
        if kind is bytes or kind is int:
            return value
        if value is None or value is NULL_ARRAY:
            return None if resp3 else False
        table = self.lua.table_from
        if kind is list or kind is tuple or kind is Push:
            return table([self._to_lua(item, resp3) for item in value])
        if kind is SimpleString:
            return table({b"ok": bytes(value)})
        if kind is ErrorReply:
            return table({b"err": value.encode("utf-8", "replace")})
        if kind is float:
            return table({b"double": value}) if resp3 else format_double(value)
        if kind is bool:
            return value if resp3 else int(value)
        if kind is dict:
            if resp3:
                pairs = {self._to_lua(k, resp3): self._to_lua(v, resp3) for k, v in value.items()}
                return table({b"map": table(pairs)})
            flat = [self._to_lua(item, resp3) for pair in value.items() for item in pair]
            return table(flat)
        if kind is set or kind is frozenset:
            if resp3:
                return table({b"set": table({self._to_lua(m, resp3): True for m in value})})
            return table([self._to_lua(member, resp3) for member in value])
        if kind is Verbatim:
            if resp3:
                inner = table({b"format": b"txt", b"string": bytes(value)})
                return table({b"verbatim_string": inner})
            return bytes(value)
        if isinstance(value, bytes):
            return bytes(value)
        if isinstance(value, int):
            return int(value)
        return None

    # -- the C libraries Redis adds or replaces (errors as luaL_error makes them) ---------

    def _argerror(self, index: int, fname: str, message: str) -> ScriptError:
        """luaL_argerror's message: the function named as its caller named it ("?" when
        it did not, as through pcall), with the position of the call."""
        name, namewhat = self._callee()
        fname = _text(name) if name is not None else "?"
        if namewhat == b"method":
            index -= 1
            if index == 0:
                text = f"calling '{fname}' on bad self ({message})".encode()
                return ScriptError(self._where() + text, is_table=False)
        text = f"bad argument #{index} to '{fname}' ({message})".encode()
        return ScriptError(self._where() + text, is_table=False)

    def _number(self, args: tuple[Any, ...], index: int, fname: str) -> float:
        """luaL_checknumber: the argument as a number, or a "number expected" error."""
        value = _lua_tonumber(args[index]) if index < len(args) else None
        if value is None:
            got = _lua_type_name(args[index]) if index < len(args) else "no value"
            raise self._argerror(index + 1, fname, f"number expected, got {got}")
        return value

    def _int(self, args: tuple[Any, ...], index: int, fname: str) -> int:
        """luaL_checkint: the number truncated to a C int."""
        return _c_int(self._number(args, index, fname))

    def random(self, args: tuple[Any, ...]) -> float:
        """math.random on Redis's lrand48, as redis_math_random computes it."""
        self.rand_state = (0x5DEECE66D * self.rand_state + 0xB) & 0xFFFFFFFFFFFF
        r = ((self.rand_state >> 17) % _RAND_MAX) / _RAND_MAX
        if not args:
            return r
        if len(args) == 1:
            upper = self._int(args, 0, "random")
            if upper < 1:
                raise self._argerror(1, "random", "interval is empty")
            return float(math.floor(r * upper) + 1)
        if len(args) == 2:
            lower = self._int(args, 0, "random")
            upper = self._int(args, 1, "random")
            if lower > upper:
                raise self._argerror(2, "random", "interval is empty")
            return float(math.floor(r * (upper - lower + 1)) + lower)
        raise ScriptError(self._where() + b"wrong number of arguments", is_table=False)

    def randomseed(self, args: tuple[Any, ...]) -> None:
        seed = self._int(args, 0, "randomseed")
        self.rand_state = ((seed & 0xFFFFFFFF) << 16) | 0x330E

    def _bits(self, args: tuple[Any, ...], index: int, fname: str) -> int:
        """LuaBitOp's argument: add 2^52+2^51 and keep the low 32 bits of the double
        (rounds to nearest even and wraps, as it does)."""
        value = self._number(args, index, fname) + 6755399441055744.0
        return int(struct.unpack("<Q", struct.pack("<d", value))[0]) & 0xFFFFFFFF

    def bit(self, name: str, args: tuple[Any, ...]) -> Any:
        a = self._bits(args, 0, name)
        if name == "tohex":
            count = _int32(self._bits(args, 1, name)) if len(args) > 1 else 8
            digits = "%08x"
            if count < 0:
                count, digits = -count, "%08X"
            count = min(count, 8)
            return (digits % a)[8 - count :].encode() if count else b""
        if name in ("band", "bor", "bxor"):
            for index in range(1, len(args)):
                b = self._bits(args, index, name)
                a = a & b if name == "band" else a | b if name == "bor" else a ^ b
            return _int32(a)
        if name == "tobit":
            return _int32(a)
        if name == "bnot":
            return _int32(~a)
        if name == "bswap":
            return _int32(int.from_bytes(a.to_bytes(4, "little"), "big"))
        shift = self._bits(args, 1, name) & 31
        if name == "lshift":
            return _int32(a << shift)
        if name == "rshift":
            return _int32(a >> shift)
        if name == "arshift":
            return _int32(_int32(a) >> shift)
        if name == "rol":
            return _int32((a << shift) | (a >> (32 - shift)))
        return _int32((a >> shift) | (a << (32 - shift)))  # ror

    # -- internal callbacks ----------------------------------------------------------------

    def time_up(self) -> bytes | None:
        if self.load_deadline is not None and time.monotonic() >= self.load_deadline:
            return b"ERR FUNCTION LOAD timeout"
        run = self.current
        if run is None or run.deadline is None or time.monotonic() < run.deadline:
            return None
        log.warning("killing script %s after %d ms", run.sha, run.limit_ms)
        run.killed = (
            f"ERR Script killed: it ran for longer than the {run.limit_ms} ms "
            "script time limit (busy-reply-threshold)"
        ).encode()
        return run.killed


_MAXINTSIZE = 32  # lua_struct.c's limit on i<n> / I<n>
_MAXALIGN = 8
_STRUCT_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_U64 = (1 << 64) - 1
_STRTOD = re.compile(
    rb"[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    rb"|(?i:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?))"
)


def _strtod(text: bytes, pos: int) -> tuple[float, int] | None:
    """C's strtod on ``text`` from the 1-based ``pos``: (value, position after it)."""
    found = _STRTOD.match(text, pos - 1)
    if found is None:
        return None
    number = found.group()
    body = number.lstrip(b"+-")
    if body[:2].lower() == b"0x":
        value = float.fromhex(number.decode())
    else:
        value = float(number.split(b"(")[0])
    return value, found.end() + 1


def _to_float32(value: float) -> bytes:
    """C's (float) cast of a double, as 4 big-endian bytes (too large: infinity)."""
    try:
        return struct.pack(">f", value)
    except OverflowError:
        return struct.pack(">f", math.copysign(math.inf, value))


def _mp_pack_number(value: Any) -> bytes:
    """lua-cmsgpack's encoding of a Lua number: an integer if int64 holds it exactly."""
    number = float(value)
    if number == number and -(2.0**63) <= number < 2.0**63 and int(number) == number:
        n = int(number)
        if n >= 0:
            if n <= 127:
                return bytes((n,))
            for code, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4)):
                if n < 1 << (8 * size):
                    return bytes((code,)) + n.to_bytes(size, "big")
            return b"\xcf" + n.to_bytes(8, "big")
        if n >= -32:
            return bytes((n & 0xFF,))
        for code, size in ((0xD0, 1), (0xD1, 2), (0xD2, 4)):
            if n >= -(1 << (8 * size - 1)):
                return bytes((code,)) + n.to_bytes(size, "big", signed=True)
        return b"\xd3" + n.to_bytes(8, "big", signed=True)
    single = _to_float32(number)
    if number != number or struct.unpack(">f", single)[0] != number:
        return b"\xcb" + struct.pack(">d", number)
    return b"\xca" + single


def _mp_unpack_number(code: int, data: bytes) -> float:
    if code == 0xCA:
        return float(struct.unpack(">f", data)[0])
    if code == 0xCB:
        return float(struct.unpack(">d", data)[0])
    # uint64 goes through lua_Integer (int64): it wraps, as in Redis
    return float(int.from_bytes(data, "big", signed=True))


_LUA51_HEADER = b"\x1bLua\x51\x00\x01\x04\x08\x04\x08\x00"  # x86-64 PUC Lua 5.1
_OP_CALL, _OP_TAILCALL = 28, 29


def _untail(chunk: bytes) -> bytes:
    """A dumped Lua 5.1 chunk with its tail calls made plain calls (OP_TAILCALL A B 0 is
    always followed by OP_RETURN A 0, so OP_CALL A B 0 returns the same values). Redis's
    library functions are C functions, and a C function called in tail position leaves
    the caller's frame on the stack: errors name the script's line even after
    ``return redis.call(...)``. PulsarDS's wrappers are Lua functions, so the script's
    tail calls go (a script can no longer recurse without bound through tail calls)."""
    if not chunk.startswith(_LUA51_HEADER):
        return chunk
    data = bytearray(chunk)
    pos = len(_LUA51_HEADER)

    def integer() -> int:
        nonlocal pos
        value = int.from_bytes(data[pos : pos + 4], "little", signed=True)
        pos += 4
        return value

    def string() -> None:
        nonlocal pos
        size = int.from_bytes(data[pos : pos + 8], "little")
        pos += 8 + size

    def function() -> None:
        nonlocal pos
        string()  # source
        pos += 8 + 4  # line defined, last line defined, 4 bytes of counts
        count = integer()
        for at in range(pos, pos + 4 * count, 4):
            if data[at] & 0x3F == _OP_TAILCALL:
                data[at] = (data[at] & 0xC0) | _OP_CALL
        pos += 4 * count
        for _ in range(integer()):  # constants
            kind = data[pos]
            pos += 1
            if kind == 1:
                pos += 1
            elif kind == 3:
                pos += 8
            elif kind == 4:
                string()
        for _ in range(integer()):  # nested functions
            function()
        lines = integer()  # line info
        pos += 4 * lines
        for _ in range(integer()):  # local variables
            string()
            pos += 8
        for _ in range(integer()):  # upvalue names
            string()

    function()
    return bytes(data) if pos == len(data) else chunk


def _c_u64(value: float) -> int:
    """C's (unsigned long) cast of a double, on x86-64."""
    if value != value:
        return 0
    if value < 2.0**63:
        return int(value) & _U64
    if value >= 2.0**64:
        return 0
    return int(value)


def _c_i64(value: float) -> int:
    if value != value or not -(2.0**63) <= value < 2.0**63:
        return -(1 << 63)
    return int(value)


class _Struct:
    """Roberto Ierusalimschy's struct library as Redis ships it (lua_struct.c)."""

    def __init__(self, engine: ScriptEngine, fname: str, fmt: bytes) -> None:
        self.engine = engine
        self.fname = fname
        self.fmt = fmt
        self.pos = 0
        self.little = True
        self.align = 1

    def error(self, message: str) -> ScriptError:
        return ScriptError(self.engine._where() + message.encode(), is_table=False)

    def getnum(self, default: int) -> int:
        fmt = self.fmt
        if self.pos >= len(fmt) or not 48 <= fmt[self.pos] <= 57:
            return default
        value = 0
        while self.pos < len(fmt) and 48 <= fmt[self.pos] <= 57:
            digit = fmt[self.pos] - 48
            if value > 2147483647 // 10 or value * 10 > 2147483647 - digit:
                raise self.error("integral size overflow")
            value = value * 10 + digit
            self.pos += 1
        return value

    def optsize(self, opt: str) -> int:
        if opt in _STRUCT_SIZES:
            return _STRUCT_SIZES[opt]
        if opt == "c":
            return self.getnum(1)
        if opt in "iI":
            size = self.getnum(4)
            if size > _MAXINTSIZE:
                raise self.error(f"integral size {size} is larger than limit of {_MAXINTSIZE}")
            return size
        return 0

    def toalign(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str) -> None:
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            align = self.getnum(_MAXALIGN)
            if align <= 0 or align & (align - 1):
                raise self.error(f"alignment {align} is not a power of 2")
            self.align = align
        else:
            raise self.engine._argerror(1, self.fname, f"invalid format option '{opt}'")

    def options(self) -> Any:
        while self.pos < len(self.fmt):
            opt = chr(self.fmt[self.pos])
            self.pos += 1
            yield opt, self.optsize(opt)


def _check_string(engine: ScriptEngine, args: tuple[Any, ...], index: int, fname: str) -> bytes:
    value = _lua_tostring(args[index]) if index < len(args) else None
    if value is None:
        got = _lua_type_name(args[index]) if index < len(args) else "no value"
        raise engine._argerror(index + 1, fname, f"string expected, got {got}")
    return value


def _pack_number(engine: ScriptEngine, args: tuple[Any, ...], index: int) -> float:
    # b_pack pushes a nil after its arguments: the first missing one is "nil"
    if index == len(args):
        raise engine._argerror(index + 1, "pack", "number expected, got nil")
    return engine._number(args, index, "pack")


def _struct_pack(engine: ScriptEngine, args: tuple[Any, ...]) -> bytes:
    fmt = _check_string(engine, args, 0, "pack")
    state = _Struct(engine, "pack", fmt)
    out = bytearray()
    arg = 1
    for opt, size in state.options():
        pad = state.toalign(len(out), opt, size)
        out += bytes(pad)
        if opt in "bBhHlLTiI":
            number = _pack_number(engine, args, arg)
            arg += 1
            value = (_c_i64(number) & _U64) if number < 0 else _c_u64(number)
            data = bytes((value >> (8 * i)) & 0xFF if i < 8 else 0 for i in range(size))
            out += data if state.little else data[::-1]
        elif opt == "x":
            out += b"\0"
        elif opt in "fd":
            number = _pack_number(engine, args, arg)
            arg += 1
            data = _to_float32(number) if opt == "f" else struct.pack(">d", number)
            out += data[::-1] if state.little else data
        elif opt in "cs":
            text = _check_string(engine, args, arg, "pack")
            arg += 1
            if size == 0:
                size = len(text)
            if len(text) < size:
                raise engine._argerror(arg + 1, "pack", "string too short")
            out += text[:size]
            if opt == "s":
                out += b"\0"
        else:
            state.control(opt)
    return bytes(out)


def _struct_unpack(engine: ScriptEngine, args: tuple[Any, ...]) -> Any:
    fmt = _check_string(engine, args, 0, "unpack")
    data = _check_string(engine, args, 1, "unpack")
    start = 1
    if len(args) > 2 and args[2] is not None:
        start = _to_int(engine._number(args, 2, "unpack"))
    pos = start & _U64
    if pos == 0:
        raise engine._argerror(3, "unpack", "offset must be 1 or greater")
    pos -= 1
    size_data = len(data)
    state = _Struct(engine, "unpack", fmt)
    results: list[Any] = []
    for opt, size in state.options():
        pos += state.toalign(pos, opt, size)
        if not (size <= size_data and pos <= size_data - size):
            raise engine._argerror(2, "unpack", "data string too short")
        if opt in "bBhHlLTiI":
            chunk = data[pos : pos + size]
            if state.little:
                chunk = chunk[::-1]
            value = 0
            for byte in chunk:
                value = ((value << 8) | byte) & _U64
            if opt.islower():
                mask = (_U64 << ((size * 8 - 1) & 63)) & _U64
                if value & mask:
                    value |= mask
                value = value - (1 << 64) if value >> 63 else value
            results.append(float(value))
        elif opt in "fd":
            chunk = data[pos : pos + size]
            results.append(
                float(struct.unpack("<f" if opt == "f" else "<d", chunk)[0])
                if state.little
                else float(struct.unpack(">f" if opt == "f" else ">d", chunk)[0])
            )
        elif opt == "c":
            if size == 0:
                previous = _lua_tonumber(results[-1]) if results else None
                if previous is None:
                    raise state.error("format 'c0' needs a previous size")
                size = _c_u64(previous)
                results.pop()
                if not (size <= size_data and pos <= size_data - size):
                    raise engine._argerror(2, "unpack", "data string too short")
            results.append(data[pos : pos + size])
        elif opt == "s":
            end = data.find(b"\0", pos)
            if end < 0:
                raise state.error("unfinished string in data")
            size = end - pos + 1
            results.append(data[pos:end])
        elif opt != "x":
            state.control(opt)
        pos += size
    results.append(pos + 1)
    return tuple(results)


def _struct_size(engine: ScriptEngine, args: tuple[Any, ...]) -> int:
    fmt = _check_string(engine, args, 0, "size")
    state = _Struct(engine, "size", fmt)
    pos = 0
    for opt, size in state.options():
        pos += state.toalign(pos, opt, size)
        if opt == "s":
            raise engine._argerror(1, "size", "option 's' has no fixed size")
        if opt == "c" and size == 0:
            raise engine._argerror(1, "size", "option 'c0' has no fixed size")
        if not opt.isalnum():
            state.control(opt)
        pos += size
    return pos


def _c_int(value: float) -> int:
    """C's (int) cast of a double: truncated and wrapped (INT_MIN where C's is undefined)."""
    if value != value or value in (math.inf, -math.inf):
        return -(1 << 31)
    return _int32(int(value))


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _lua_type_name(value: Any) -> str:
    if value is None:
        return "nil"
    kind = type(value)
    if kind is bytes:
        return "string"
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    return str(_lua_module().lua_type(value) or "userdata")


def _error_value(error: Any) -> tuple[bytes, bool]:
    """The Lua error a Python exception stands for: (message, is a table)."""
    if isinstance(error, ScriptError):
        return error.message, error.is_table
    return f"ERR {error!r}".encode("utf-8", "replace"), True


def _callbacks(engine: ScriptEngine) -> dict[bytes, Any]:
    """The Python functions the Lua side calls, by the names bootstrap.lua uses. They hold the
    engine weakly (the interpreter's references are invisible to Python's cycle collector). The
    only exception that may reach Lua is ScriptError: anything else is logged and turned
    into one."""
    ref = weakref.ref(engine)

    def guarded(method: Callable[[ScriptEngine, tuple[Any, ...]], Any]) -> Any:
        def callback(*args: Any) -> Any:
            target = ref()
            if target is None:
                raise ScriptError(b"ERR the script engine is gone")
            try:
                return method(target, args)
            except ScriptError:
                raise
            except Exception as exc:
                log.exception("script callback failed")
                raise ScriptError(f"ERR internal error: {exc!r}".encode()) from None

        return callback

    functions: dict[bytes, Any] = {
        b"call": guarded(ScriptEngine.redis_call),
        b"pcall": guarded(ScriptEngine.redis_pcall),
        b"acl_check_cmd": guarded(ScriptEngine.acl_check),
        b"sha1hex": guarded(ScriptEngine.sha1hex),
        b"log": guarded(ScriptEngine.log),
        b"setresp": guarded(ScriptEngine.set_resp),
        b"set_repl": guarded(ScriptEngine.set_repl),
        b"random": guarded(ScriptEngine.random),
        b"randomseed": guarded(ScriptEngine.randomseed),
        b"error_text": guarded(lambda engine, args: _error_value(args[0])),
        b"time_up": guarded(lambda engine, args: engine.time_up()),
        b"check_function": guarded(ScriptEngine.check_function),
        b"untail": guarded(lambda engine, args: _untail(args[0])),
        b"call_args": guarded(ScriptEngine.call_args),
    }

    def bit_function(name: str) -> Callable[[ScriptEngine, tuple[Any, ...]], Any]:
        return lambda engine, args: engine.bit(name, args)

    for name in _BIT_FUNCTIONS:
        functions[b"bit." + name.encode()] = guarded(bit_function(name))
    functions[b"struct.pack"] = guarded(_struct_pack)
    functions[b"struct.unpack"] = guarded(_struct_unpack)
    functions[b"struct.size"] = guarded(_struct_size)
    return functions


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _error_text(sha: str, message: Any = None, source: Any = None, line: Any = None) -> str:
    """Redis 7.0's reply for a failed script: the error, then where it was raised."""
    if message is None:
        text = "ERR Error running script: the error raised has no 'err' field"
    else:
        text = _text(message).strip("\r\n")
    if source is not None and line is not None:
        number = int(line) if isinstance(line, (int, float)) else _text(line)
        text += f" script: {sha}, on {_text(source)}:{number}."
    return text


def script_engine(server: PulsarDS) -> ScriptEngine:
    """The server's engine, made on first use."""
    engine = server.script_engine
    if engine is None:
        engine = server.script_engine = ScriptEngine(server)
    assert isinstance(engine, ScriptEngine)
    return engine
