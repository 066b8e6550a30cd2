"""Redis 7.0 functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL/HELP, FCALL
and FCALL_RO.

The libraries live in the script engine (``lua.ScriptEngine.libraries``). FUNCTION DUMP
writes Redis's own payload (RDB_OPCODE_FUNCTION2 and the library code as an RDB string
per library, then the RDB version and a CRC-64), so that a dump from redis-server restores
here and the other way round; LZF-compressed strings (what redis-server writes for code
longer than 20 bytes) are read too; those RDB pieces are ``server/rdb.py``'s, shared with
DUMP/RESTORE. Changes are logged to the AOF as the command itself,
and ``dump_functions``/``restore_functions`` are what snapshots use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..glob import compile_glob
from ..lua import FunctionError, Library, script_engine
from ..lua.engine import LOAD_TIMEOUT_MS, Function
from ..protocol import OK, OrderedSet, SimpleString
from ..rdb import Reader, payload_body, rdb_string, with_footer
from . import NO_PROPAGATE, NOSCRIPT, CommandError, command, parse_int

if TYPE_CHECKING:
    from ..client import Client
    from ..core import PulsarDS

__all__ = ["dump_functions", "function_codes", "restore_functions"]

RDB_OPCODE_FUNCTION = 246  # Redis 7.0 rc1/rc2 format: name, engine, description, code
RDB_OPCODE_FUNCTION2 = 245
_FLAG_ORDER = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")


# -- the library set as a whole (FUNCTION DUMP, snapshots) ---------------------------------


def function_codes(server: PulsarDS) -> list[bytes]:
    """The code of every library, for snapshots and the AOF rewrite."""
    engine = server.script_engine
    if engine is None:
        return []
    return [library.code for library in script_engine(server).libraries.values()]


def dump_functions(codes: list[bytes]) -> bytes:
    # code never reads as an integer: rdbSaveRawString's integer form is not tried
    return with_footer(
        b"".join(bytes((RDB_OPCODE_FUNCTION2,)) + rdb_string(code, False) for code in codes)
    )


def _read_payload(data: bytes) -> list[bytes]:
    body = payload_body(data)
    if body is None:
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    reader = Reader(body)
    codes = []
    while reader.pos < reader.end:
        try:
            kind = reader.take(1)[0]
        except ValueError:
            raise CommandError("ERR can not read data type") from None
        if kind not in (RDB_OPCODE_FUNCTION, RDB_OPCODE_FUNCTION2):
            raise CommandError("ERR given type is not a function")
        try:
            if kind == RDB_OPCODE_FUNCTION2:
                codes.append(reader.string())
            else:
                name = reader.string()
                engine = reader.string()
                has_description = reader.length()
                if has_description:
                    reader.string()
                blob = reader.string()
                codes.append(b"#!" + engine + b" name=" + name + b"\n" + blob)
        except ValueError:
            raise CommandError("ERR Failed loading library payload") from None
    return codes


def restore_functions(server: PulsarDS, codes: list[bytes], policy: str = "flush") -> None:
    """Install the libraries of ``codes``: FLUSH replaces all, APPEND refuses a library
    that exists, REPLACE replaces it. Nothing changes if one fails (FunctionError)."""
    engine = script_engine(server)
    libraries: dict[str, Library] = {}
    index: dict[str, Function] = {}
    for code in codes:
        engine.create_library(code, False, libraries, index, timeout_ms=0)
    if policy == "flush":
        engine.libraries, engine.function_index = libraries, index
        return
    current = dict(engine.libraries)
    current_index = dict(engine.function_index)
    for name in libraries:
        old = current.get(name)
        if old is not None:
            if policy != "replace":
                raise FunctionError(f"Library {name} already exists")
            engine.unlink_library(old, current, current_index)
    for function in index.values():
        if function.name.lower() in current_index:
            raise FunctionError(f"Function {function.name} already exists")
    current.update(libraries)
    current_index.update(index)
    engine.libraries, engine.function_index = current, current_index


# -- commands -------------------------------------------------------------------------------

_FUNCTION_HELP = [
    b"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"LOAD [REPLACE] <FUNCTION CODE>",
    b"    Create a new library with the given library name and code.",
    b"DELETE <LIBRARY NAME>",
    b"    Delete the given library.",
    b"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    b"    Return general information on all the libraries:",
    b"    * Library name",
    b"    * The engine used to run the Library",
    b"    * Library description",
    b"    * Functions list",
    b"    * Library code (if WITHCODE is given)",
    b"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    b"STATS",
    b"    Return information about the current function running:",
    b"    * Function name",
    b"    * Command used to run the function",
    b"    * Duration in MS that the function is running",
    b"    If no function is running, return nil",
    b"    In addition, returns a list of available engines.",
    b"KILL",
    b"    Kill the current running function.",
    b"FLUSH [ASYNC|SYNC]",
    b"    Delete all the libraries.",
    b"    When called without the optional mode argument, the behavior is determined by the",
    b"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    b"    * ASYNC: Asynchronously flush the libraries.",
    b"    * SYNC: Synchronously flush the libraries.",
    b"DUMP",
    b"    Return a serialized payload representing the current libraries, can be restored "
    b"using FUNCTION RESTORE command",
    b"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    b"    Restore the libraries represented by the given payload, it is possible to give a "
    b"restore policy to",
    b"    control how to handle existing libraries (default APPEND):",
    b"    * FLUSH: delete all existing libraries.",
    b"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    b"    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    b"replace the old",
    b"      libraries with the new libraries (notice that even on this option there is a "
    b"chance of failure",
    b"      in case of functions name collision with another library).",
    b"HELP",
    b"    Prints this help.",
]

# Redis 7.0's arities of the FUNCTION subcommands (the container counts as one word).
_ARITY = {
    b"delete": 3,
    b"dump": 2,
    b"flush": -2,
    b"help": 2,
    b"kill": 2,
    b"list": -2,
    b"load": -3,
    b"restore": -3,
    b"stats": 2,
}


def _propagate(client: Client, args: list[bytes]) -> None:
    client.server.propagate(client.db, args)


def _flags_reply(client: Client, flags: frozenset[str]) -> Any:
    return OrderedSet(SimpleString(flag.encode()) for flag in _FLAG_ORDER if flag in flags)


def _list(client: Client, args: list[bytes]) -> Any:
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(args):
        arg = args[i].lower()
        if arg == b"withcode" and not with_code:
            with_code = True
        elif arg == b"libraryname" and pattern is None:
            if i >= len(args) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise CommandError(f"ERR Unknown argument {args[i].decode('utf-8', 'replace')}")
        i += 1
    matcher = compile_glob(pattern, nocase=True) if pattern is not None else None
    reply = []
    for library in script_engine(client.server).libraries.values():
        if matcher is not None and not matcher(library.name.encode()):
            continue
        functions = [
            {
                b"name": function.name.encode(),
                b"description": function.description,
                b"flags": _flags_reply(client, function.flags),
            }
            for function in library.functions.values()
        ]
        entry: dict[bytes, Any] = {
            b"library_name": library.name.encode(),
            b"engine": b"LUA",
            b"functions": functions,
        }
        if with_code:
            entry[b"library_code"] = library.code
        reply.append(entry)
    return reply


def _load(client: Client, args: list[bytes]) -> Any:
    replace = False
    pos = 2
    while pos < len(args) - 1:
        option = args[pos]
        pos += 1
        if option.lower() == b"replace":
            replace = True
            continue
        raise CommandError(f"ERR Unknown option given: {option.decode('utf-8', 'replace')}")
    if pos >= len(args):
        raise CommandError("ERR Function code is missing")
    # the AOF's loader (a client with no connection) waits for any library, as Redis's
    # must-obey clients do; others get FUNCTION LOAD's time limit
    timeout = 0 if client.transport is None else LOAD_TIMEOUT_MS
    try:
        name = script_engine(client.server).create_library(args[pos], replace, timeout_ms=timeout)
    except FunctionError as exc:
        raise CommandError(f"ERR {exc}") from None
    _propagate(client, args)
    return name.encode()


def _restore(client: Client, args: list[bytes]) -> Any:
    if len(args) > 4:
        raise CommandError(
            "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP."
        )
    policy = "append"
    if len(args) == 4:
        policy = args[3].decode("utf-8", "replace").lower()
        if policy not in ("append", "replace", "flush"):
            raise CommandError(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
            )
    codes = _read_payload(args[2])
    try:
        restore_functions(client.server, codes, policy)
    except FunctionError as exc:
        raise CommandError(f"ERR {exc}") from None
    _propagate(client, args)
    return OK


@command("function", -2, NOSCRIPT)
def function_(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    arity = _ARITY.get(sub)
    if arity is None:
        raise CommandError(
            f"ERR unknown subcommand '{args[1].decode('utf-8', 'replace')}'. Try FUNCTION HELP."
        )
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise CommandError(f"ERR wrong number of arguments for 'function|{sub.decode()}' command")
    server = client.server
    if sub == b"help":
        return _FUNCTION_HELP
    if sub == b"load":
        return _load(client, args)
    if sub == b"list":
        return _list(client, args)
    if sub == b"delete":
        engine = script_engine(server)
        library = engine.libraries.get(args[2].decode("utf-8", "surrogateescape"))
        if library is None:
            raise CommandError("ERR Library not found")
        engine.unlink_library(library, engine.libraries, engine.function_index)
        _propagate(client, args)
        return OK
    if sub == b"flush":
        if len(args) > 3:
            raise CommandError(
                "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. "
                "Try FUNCTION HELP."
            )
        if len(args) == 3 and args[2].lower() not in (b"sync", b"async"):
            raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
        engine = script_engine(server)
        engine.libraries, engine.function_index = {}, {}
        _propagate(client, args)
        return OK
    if sub == b"dump":
        return dump_functions(function_codes(server))
    if sub == b"restore":
        return _restore(client, args)
    if sub == b"stats":
        engine = script_engine(server)
        return {
            b"running_script": None,
            b"engines": {
                b"LUA": {
                    b"libraries_count": len(engine.libraries),
                    b"functions_count": sum(
                        len(library.functions) for library in engine.libraries.values()
                    ),
                }
            },
        }
    # kill: commands run one at a time, so no function is ever running when this arrives
    raise CommandError("NOTBUSY No scripts in execution right now.")


def _fcall_keys(args: list[bytes]) -> list[bytes]:
    try:
        count = int(args[2])
    except (IndexError, ValueError):
        return []
    if count < 0 or count > len(args) - 3:
        return []
    return args[3 : 3 + count]


def _fcall(client: Client, args: list[bytes], ro: bool) -> Any:
    engine = script_engine(client.server)
    function = engine.function_index.get(args[1].lower().decode("utf-8", "surrogateescape"))
    if function is None:
        raise CommandError("ERR Function not found")
    try:
        count = parse_int(args[2])
    except CommandError:
        raise CommandError("ERR Bad number of keys provided") from None
    if count > len(args) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if count < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return engine.call_function(client, function, args[3 : 3 + count], args[3 + count :], ro)


# FCALL is not a WRITE command: the commands the function runs log and signal themselves.
@command("fcall", -3, NOSCRIPT, NO_PROPAGATE, keys=_fcall_keys)
def fcall(client: Client, args: list[bytes]) -> Any:
    return _fcall(client, args, ro=False)


@command("fcall_ro", -3, NOSCRIPT, NO_PROPAGATE, keys=_fcall_keys)
def fcall_ro(client: Client, args: list[bytes]) -> Any:
    return _fcall(client, args, ro=True)
