"""The command table against the running redis-server: every command it knows is in the
table with the same arity, flags and key specs, and the keys the table finds are the keys
COMMAND GETKEYS finds."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.command_table import (
    COMMANDS,
    DETACHED,
    INSTEAD,
    POOLED,
    REDIS_VERSION,
    REFUSED,
    SHARED,
    TIMEOUTS,
    UNKNOWN,
    command_for,
    lookup,
)
from store.errors import ResponseError
from store.sync import create_store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def redis(redis_url: str) -> Iterator[Any]:
    store = create_store(redis_url, decode_responses=True)
    version = store.client().info("server")["redis_version"]
    if not version.startswith(REDIS_VERSION.rsplit(".", 1)[0]):
        pytest.fail(f"the table is of Redis {REDIS_VERSION}; the test server is {version}")
    yield store
    store.close()


def _server_rows(info: list[Any]) -> Iterator[list[Any]]:
    for row in info:
        yield row
        yield from _server_rows(row[9])


def test_every_command_of_the_server_is_in_the_table(redis: Any) -> None:
    names = {row[0] for row in _server_rows(redis.execute("COMMAND"))}
    missing = sorted(names - set(COMMANDS))
    assert not missing, f"commands of redis-server missing from the table: {missing}"
    assert len(names) == len(COMMANDS), sorted(set(COMMANDS) - names)


def test_rows_match_command_info(redis: Any) -> None:
    for row in _server_rows(redis.execute("COMMAND")):
        name, arity, flags, _first, _last, _step, acl, tips, specs, _subs = row
        info = COMMANDS[name]
        assert (info.arity, info.flags, info.acl_categories, info.tips) == (
            arity,
            frozenset(flags),
            frozenset(acl),
            tuple(tips),
        ), name
        assert len(info.key_specs) == len(specs), name
        for ours, theirs in zip(info.key_specs, specs, strict=True):
            assert ours.flags == frozenset(theirs["flags"]), name
            assert ours.begin == theirs["begin_search"]["type"], name
            assert ours.find == theirs["find_keys"]["type"], name


def test_generated_data_is_current(redis_url: str) -> None:
    """What utils/gen_commands.py --check proves in CI, against the test server."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "utils/gen_commands.py"), "--check", "--url", redis_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_names_are_normalized_once() -> None:
    get = COMMANDS["get"]
    for spelled in ("get", "GET", "Get", b"get", b"GET", b"gEt", bytearray(b"Get")):
        assert lookup(spelled) is get
        assert command_for([spelled, "k"]) is get
    assert command_for(["Client", b"List"]) is COMMANDS["client|list"]
    assert command_for([b"CLIENT", "tracking", "on"]) is COMMANDS["client|tracking"]
    assert lookup("client|LIST") is COMMANDS["client|list"]
    assert command_for(["nosuchcommand"]) is UNKNOWN
    assert command_for(["client", "nosuchsub"]) is COMMANDS["client"]
    assert lookup("nosuchcommand") is None
    client = COMMANDS["client"].subcommands
    assert {"list", "tracking", "reply"} <= set(client)
    assert all(name == name.lower() and isinstance(name, str) for name in client)
    assert client["list"].container == "client" and COMMANDS["get"].container is None


def test_routes() -> None:
    assert command_for(["Blpop", "k", 0]).route == POOLED
    assert command_for(["xread", "STREAMS", "s", "0"]).route == POOLED
    assert command_for(["WAIT", 1, 0]).route == POOLED
    for args in (["select", 2], ["MULTI"], ["watch", "k"], ["Client", "Reply", "off"]):
        info = command_for(args)
        assert info.route == REFUSED and info.instead, args
    assert command_for(["subscribe", "c"]).refusal().startswith("SUBSCRIBE changes the state")
    assert "store.pubsub()" in command_for(["subscribe", "c"]).refusal()
    assert command_for(["hello", 2]).route == DETACHED
    assert command_for(["client", "list"]).route == SHARED
    assert command_for(["get", "k"]).route == SHARED
    assert command_for(["nosuch"]).route == POOLED
    for name in INSTEAD:
        assert name in COMMANDS, name


def test_every_blocking_command_knows_where_its_timeout_is() -> None:
    blocking = {name for name, info in COMMANDS.items() if "blocking" in info.flags}
    assert blocking <= set(TIMEOUTS)
    assert set(TIMEOUTS) <= set(COMMANDS)


@pytest.mark.parametrize(
    ("args", "socket_timeout", "expected"),
    [
        (("BLPOP", "a", "b", 2), 1.0, 4.0),
        ((b"blpop", "a", b"1.5"), 0.5, 3.0),
        (("Blpop", "a", 0), 1.0, None),
        (("BLMPOP", 2, 1, "a", "LEFT"), 1.0, 4.0),
        (("BZMPOP", 0, 1, "a", "MIN"), 1.0, None),
        (("XREAD", "COUNT", 1, "BLOCK", 500, "STREAMS", "s", "0"), 1.0, 2.5),
        (("xreadgroup", "GROUP", "g", "c", "block", 0, "STREAMS", "s", ">"), 1.0, None),
        (("XREAD", "STREAMS", "block", "0"), 1.0, 1.0),  # "block" is a stream's name here
        (("WAIT", 1, 2000), 1.0, 4.0),
        (("BLPOP", "a", "soon"), 1.0, 1.0),  # malformed: the server answers at once
        (("BLPOP", "a", 2), None, None),
        (("GET", "a"), 1.0, 1.0),
    ],
)
def test_read_timeout(args: tuple[Any, ...], socket_timeout: float | None, expected: Any) -> None:
    assert command_for(args).read_timeout(args, socket_timeout) == expected


def test_readonly_commands_are_retry_safe() -> None:
    assert command_for(["GET", "k"]).retry_safe
    assert command_for(["ping"]).retry_safe
    assert not command_for(["INCR", "k"]).retry_safe
    assert not command_for(["BLPOP", "k", 0]).retry_safe
    assert not command_for(["nosuch"]).retry_safe


# -- keys, against COMMAND GETKEYS --------------------------------------------------------

EXAMPLES = [
    ["SET", "k", "v", "GET"],
    ["MSET", "a", "1", "b", "2", "c", "3"],
    ["MSETNX", "a", "1", "b", "2"],
    ["MGET", "a", "b", "c"],
    ["DEL", "a", "b"],
    ["BLPOP", "a", "b", "0"],
    ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
    ["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"],
    ["LMPOP", "3", "a", "b", "c", "RIGHT"],
    ["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
    ["ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
    ["ZRANGESTORE", "d", "s", "0", "-1"],
    ["SINTERCARD", "3", "a", "b", "c"],
    ["EVAL", "return 1", "2", "a", "b", "x"],
    ["EVAL_RO", "return 1", "0", "x"],
    ["FCALL", "f", "1", "a", "x"],
    ["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"],
    ["XREAD", "BLOCK", "0", "STREAMS", "streams", "0"],
    ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "a", ">"],
    ["GEORADIUS", "k", "0", "0", "1", "km", "STORE", "d"],
    ["GEORADIUS", "k", "0", "0", "1", "km", "STOREDIST", "d"],
    ["GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
    ["SORT", "k", "BY", "w_*", "GET", "o_*", "STORE", "d"],
    ["SORT", "k", "LIMIT", "0", "10", "STORE", "d"],
    ["SORT_RO", "k", "BY", "w_*"],
    ["MIGRATE", "h", "1", "", "0", "100", "COPY", "AUTH", "pw", "KEYS", "a", "b"],
    ["MIGRATE", "h", "1", "k", "0", "100"],
    ["OBJECT", "ENCODING", "k"],
    ["MEMORY", "USAGE", "k"],
    ["XINFO", "STREAM", "k"],
    ["XGROUP", "CREATE", "k", "g", "$"],
    ["BITOP", "AND", "d", "a", "b"],
    ["BITFIELD_RO", "k", "GET", "u8", "0"],
    ["LCS", "a", "b"],
    ["PFMERGE", "d", "a", "b"],
    ["PFCOUNT", "a", "b"],
    ["RENAME", "a", "b"],
    ["SMOVE", "a", "b", "m"],
    ["COPY", "a", "b", "REPLACE"],
    ["WATCH", "a", "b"],
    ["TOUCH", "a", "b"],
    ["EXISTS", "a", "a"],
    ["SUBSCRIBE", "c"],
    ["PING"],
]


def _server_keys(redis: Any, args: list[str]) -> list[str]:
    try:
        return list(redis.execute("COMMAND", "GETKEYS", *args))
    except ResponseError:
        return []  # no keys, or arguments that do not fit the command


@pytest.mark.parametrize("args", EXAMPLES, ids=lambda args: " ".join(args)[:40])
def test_keys_of_examples_match_command_getkeys(redis: Any, args: list[str]) -> None:
    assert command_for(args).keys(args) == _server_keys(redis, args)


def _shapes(name: str, arity: int) -> Iterator[list[str]]:
    """Arguments of every length the arity allows (up to four more than the least), made
    of distinct numbers so that key-count arguments parse and each key is recognisable."""
    words = name.split("|")
    least = abs(arity)
    for count in [least] if arity > 0 else range(least, least + 5):
        yield words + [str(i) for i in range(len(words), count)]


def test_keys_of_every_command_match_command_getkeys(redis: Any) -> None:
    checked = 0
    for name, info in COMMANDS.items():
        if not info.key_specs:
            continue
        for args in _shapes(name, info.arity):
            assert info.keys(args) == _server_keys(redis, args), args
            checked += 1
    assert checked > 300
