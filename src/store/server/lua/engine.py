"""The script engine: Lua 5.1 (``lupa``) running scripts as Redis 7.0 does.

This module holds the runtime, the sandbox, the conversion of values between Lua and RESP
and the engine's state (compiled scripts, the running script, lrand48). The Lua side
(sandbox, redis library, reply encoding) is ``bootstrap.lua`` beside it; the commands
(EVAL, EVALSHA, SCRIPT ...) are in ``commands/scripting.py``.

Scripts see Redis 7.0.15's environment: KEYS, ARGV, the ``redis`` library, the base
library without file or module access, and string, table, math, coroutine and bit. New
globals and changes to the library tables are refused ("Attempt to modify a readonly
table"); assigning an existing global name is not refused, but lasts for that run only.
``math.random`` is Redis's lrand48 (one sequence for the server), and ``pcall`` turns
error tables into their message, as in 7.0.

The redis library functions are Python functions wrapped as Lua C functions, so an error
they raise points at the script's line even from a tail call (``return redis.call(...)``);
such an error travels through Lua as a Python object, and every place Lua code can catch
it (pcall, xpcall, coroutine.resume/wrap, the top-level handler) turns it back into the
table or string Redis would have raised.

Sandbox: scripts run in an environment of their own holding only those names; the Python
functions are reachable only through the wrappers, the ``debug`` library and ``getfenv``
are not there, attribute access on Python objects is refused anyway, and binary chunks
are compiled as text (malformed bytecode can corrupt the interpreter).

A script that runs longer than ``busy_reply_threshold`` ms (Redis's lua-time-limit,
default 5000) is killed with an error. Redis instead answers BUSY to other clients until
SCRIPT KILL, but PulsarDS runs commands on one thread, so no SCRIPT KILL could ever arrive
while a script runs: without the limit a runaway script would hang the server. Writes the
script made before being killed stay (as when a script fails in Redis).

Not provided: cjson, cmsgpack and struct, and the script debugger (SCRIPT DEBUG YES).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.resources
import logging
import math
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

__all__ = ["Script", "ScriptEngine", "ScriptError", "script_engine"]

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
def _bootstrap() -> bytes:
    """The Lua side of the engine, shipped as package data beside this module."""
    return importlib.resources.files(__package__ or "").joinpath("bootstrap.lua").read_bytes()


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
        # bootstrap.lua returns the functions the engine uses; its chunk name marks its
        # frames, which error positions skip.
        bootstrap = self.lua.globals().loadstring(_bootstrap(), b"=pulsards")
        self._compile, self._run, self._where, self._slice = bootstrap(
            self.lua.table_from(_callbacks(self)),
            VERSION,
            (major << 16) | (minor << 8) | patch,
            MAX_REPLY_DEPTH,
            HOOK_EVERY,
        )
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

    # -- running -------------------------------------------------------------------------

    def run(
        self, client: Client, script: Script, keys: list[bytes], argv: list[bytes], ro: bool
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
                script.function, self.lua.table_from(keys), self.lua.table_from(argv)
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
        if NOSCRIPT in cmd.flags or BLOCKING in cmd.flags:
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

    def redis_pcall(self, args: tuple[Any, ...]) -> Any:
        """redis.pcall: like redis.call, but errors are returned as {err=...}."""
        try:
            return self.redis_call(args)
        except ScriptError as exc:
            if self.current is not None and self.current.killed is not None:
                raise
            return self.lua.table_from({b"err": exc.message})

    def acl_check(self, args: tuple[Any, ...]) -> bool:
        self._running()
        if lookup(self._argv(args)[0]) is None:
            raise ScriptError(b"ERR Invalid command passed to redis.acl_check_cmd()")
        return True  # only the default user exists, and it may run everything

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
        run = self.current
        if run is None or run.deadline is None or time.monotonic() < run.deadline:
            return None
        log.warning("killing script %s after %d ms", run.sha, run.limit_ms)
        run.killed = (
            f"ERR Script killed: it ran for longer than the {run.limit_ms} ms "
            "script time limit (busy-reply-threshold)"
        ).encode()
        return run.killed


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
    }

    def bit_function(name: str) -> Callable[[ScriptEngine, tuple[Any, ...]], Any]:
        return lambda engine, args: engine.bit(name, args)

    for name in _BIT_FUNCTIONS:
        functions[b"bit." + name.encode()] = guarded(bit_function(name))
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
