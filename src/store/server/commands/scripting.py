"""Lua scripting commands: EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT.

The scripts run on the server's script engine (``server/lua``), made on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..lua import script_engine
from ..protocol import OK
from . import NO_PROPAGATE, NOSCRIPT, CommandError, command, parse_int, wrong_args

if TYPE_CHECKING:
    from ..client import Client

NOSCRIPT_ERROR = "NOSCRIPT No matching script. Please use EVAL."


def _script_keys(args: list[bytes]) -> list[bytes]:
    """EVAL's declared keys: the ``numkeys`` arguments after it."""
    try:
        count = int(args[2])
    except (IndexError, ValueError):
        return []
    if count < 0 or count > len(args) - 3:
        return []
    return args[3 : 3 + count]


def _numkeys(args: list[bytes]) -> int:
    count = parse_int(args[2])
    if count > len(args) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if count < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return count


def _eval(client: Client, args: list[bytes], by_sha: bool, ro: bool) -> Any:
    if by_sha and len(args[1]) != 40:
        raise CommandError(NOSCRIPT_ERROR)
    count = _numkeys(args)
    engine = script_engine(client.server)
    if by_sha:
        found = engine.find(args[1].lower().decode("latin-1"))
        if found is None:
            raise CommandError(NOSCRIPT_ERROR)
        script = found
    else:
        script = engine.load(args[1])
    return engine.run(client, script, args[3 : 3 + count], args[3 + count :], ro)


# EVAL is not a WRITE command: the commands the script runs log and signal themselves.
@command("eval", -3, NOSCRIPT, NO_PROPAGATE, keys=_script_keys)
def eval_(client: Client, args: list[bytes]) -> Any:
    return _eval(client, args, by_sha=False, ro=False)


@command("evalsha", -3, NOSCRIPT, NO_PROPAGATE, keys=_script_keys)
def evalsha(client: Client, args: list[bytes]) -> Any:
    return _eval(client, args, by_sha=True, ro=False)


@command("eval_ro", -3, NOSCRIPT, NO_PROPAGATE, keys=_script_keys)
def eval_ro(client: Client, args: list[bytes]) -> Any:
    return _eval(client, args, by_sha=False, ro=True)


@command("evalsha_ro", -3, NOSCRIPT, NO_PROPAGATE, keys=_script_keys)
def evalsha_ro(client: Client, args: list[bytes]) -> Any:
    return _eval(client, args, by_sha=True, ro=True)


_SCRIPT_HELP = [
    b"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"DEBUG (YES|SYNC|NO)",
    b"    Set the debug mode for subsequent scripts executed.",
    b"EXISTS <sha1> [<sha1> ...]",
    b"    Return information about the existence of the scripts in the script cache.",
    b"FLUSH [ASYNC|SYNC]",
    b"    Flush the Lua scripts cache. Very dangerous on replicas.",
    b"    When called without the optional mode argument, the behavior is determined by the",
    b"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    b"    * ASYNC: Asynchronously flush the scripts cache.",
    b"    * SYNC: Synchronously flush the scripts cache.",
    b"KILL",
    b"    Kill the currently executing Lua script.",
    b"LOAD <script>",
    b"    Load a script into the scripts cache without executing it.",
    b"HELP",
    b"    Prints this help.",
]

# Redis 7.0's arities of the SCRIPT subcommands (the container counts as one word).
_SCRIPT_ARITY = {b"debug": 3, b"exists": -3, b"flush": -2, b"help": 2, b"kill": 2, b"load": 3}


@command("script", -2, NOSCRIPT)
def script_(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    arity = _SCRIPT_ARITY.get(sub)
    if arity is None:
        raise CommandError(
            f"ERR unknown subcommand '{args[1].decode('utf-8', 'replace')}'. Try SCRIPT HELP."
        )
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise wrong_args(f"script|{sub.decode()}")
    server = client.server
    if sub == b"help":
        return _SCRIPT_HELP
    if sub == b"load":
        return script_engine(server).load(args[2]).sha.encode()
    if sub == b"exists":
        return [1 if a.lower().decode("latin-1") in server.scripts else 0 for a in args[2:]]
    if sub == b"flush":
        if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"sync", b"async")):
            raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        if server.script_engine is not None:
            script_engine(server).flush()
        server.scripts.clear()
        return OK
    if sub == b"kill":
        # Commands run one at a time, so no script is ever running when this arrives.
        raise CommandError("NOTBUSY No scripts in execution right now.")
    mode = args[2].lower()  # debug
    if mode == b"no":
        return OK
    if mode in (b"yes", b"sync"):
        raise CommandError("ERR SCRIPT DEBUG is not supported by PulsarDS")
    raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")
