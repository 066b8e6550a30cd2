"""INFO, CONFIG and COMMAND answer as redis-server 7.0 does: what tools read before they
use a server. Each test sends the same commands to redis-server and to PulsarDS."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.command_table import COMMANDS as REDIS_TABLE
from store.server import ServerThread
from store.server.commands import COMMANDS as PULSAR_COMMANDS
from store.server.commands.server import UNIMPLEMENTED_SUBCOMMANDS
from store.server.config_table import PARAMS
from tests.server.conftest import Differential, RawClient, _normalise

# -- helpers ---------------------------------------------------------------------------------


def _text(reply: Any) -> str:
    assert isinstance(reply, bytes), reply
    return reply.decode()


def _sections(text: str) -> dict[str, dict[str, str]]:
    """INFO's text as {section title: {field: value}}, in order."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.split("\r\n"):
        if line.startswith("# "):
            current = sections.setdefault(line[2:], {})
        elif line:
            assert current is not None, line
            name, _, value = line.partition(":")
            current[name] = value
    return sections


def _pairs(reply: Any) -> dict[bytes, bytes]:
    """CONFIG GET's reply (a flat array in RESP2, a map in RESP3) as a dict."""
    if isinstance(reply, dict):
        return reply
    assert isinstance(reply, list) and len(reply) % 2 == 0, reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _both(same: Differential, *args: Any) -> tuple[Any, Any]:
    return _normalise(same.redis.call(*args)), _normalise(same.pulsar.call(*args))


def _implemented() -> set[str]:
    return {entry.name for entry in PULSAR_COMMANDS.values()}


def _info_shape(reply: Any) -> Any:
    """A COMMAND INFO entry compared without what Redis leaves to hash order (the
    subcommands), the key spec notes, which the command table does not hold, and the
    subcommands PulsarDS does not implement (COMMAND leaves them out)."""
    if not isinstance(reply, list):
        return reply
    name, arity, flags, first, last, step, categories, tips, specs, subs = reply
    specs = [{k: v for k, v in _pairs(spec).items() if k != b"notes"} for spec in specs]
    subs = sorted(
        (_info_shape(sub) for sub in subs if sub[0].decode() not in UNIMPLEMENTED_SUBCOMMANDS),
        key=lambda s: s[0],
    )
    return [name, arity, flags, first, last, step, categories, tips, specs, subs]


# -- INFO ------------------------------------------------------------------------------------

# fields whose values must agree, whatever the server
SAME_VALUES = {
    ("Server", "redis_mode"),
    ("Server", "arch_bits"),
    ("Server", "io_threads_active"),
    ("Replication", "role"),
    ("Replication", "connected_slaves"),
    ("Replication", "master_failover_state"),
    # not master_repl_offset: a redis-server that once had a replica keeps its offset (the
    # client suite's REPLICAOF test attaches one to the test server)
    ("Cluster", "cluster_enabled"),
    ("Persistence", "loading"),
    ("Persistence", "aof_enabled"),
    ("Memory", "maxmemory"),
    ("Memory", "maxmemory_policy"),
}


def test_info_has_redis_sections_and_fields_in_order(same: Differential) -> None:
    for server in (same.redis, same.pulsar):
        server.call("SET", "k", "v")
        server.call("EXPIRE", "k", "100")
    redis = _sections(_text(same.redis.call("INFO", "everything")))
    mine = _sections(_text(same.pulsar.call("INFO", "everything")))
    assert list(mine) == list(redis)
    for title, fields in redis.items():
        if title in ("Commandstats", "Latencystats", "Errorstats", "Keyspace"):
            continue  # per command, error and database: checked below
        assert list(mine[title]) == list(fields), title
    for title, field in SAME_VALUES:
        assert mine[title][field] == redis[title][field], (title, field)
    assert re.fullmatch(r"7\.0\.\d+", mine["Server"]["redis_version"])
    assert mine["Server"]["tcp_port"] == str(same.pulsar.sock.getpeername()[1])
    assert re.fullmatch(r"[0-9a-f]{40}", mine["Server"]["run_id"])
    assert re.fullmatch(r"[0-9a-f]{40}", mine["Replication"]["master_replid"])
    assert re.fullmatch(r"keys=1,expires=1,avg_ttl=\d+", mine["Keyspace"]["db11"])
    assert 0 < int(mine["Keyspace"]["db11"].rsplit("=", 1)[1]) <= 100_000
    assert int(mine["Clients"]["connected_clients"]) >= 1
    assert int(mine["Memory"]["used_memory"]) > 0


def test_info_sections_chosen_as_redis_chooses(same: Differential) -> None:
    for args in (
        (),
        ("default",),
        ("server",),
        ("SERVER", "clients"),
        ("cpu", "keyspace", "Cluster"),
        ("all",),
        ("everything",),
        ("default", "commandstats"),
        ("modules",),
        ("errorstats",),
        ("nosuch",),
        ("server", "nosuch"),
    ):
        redis, mine = _both(same, "INFO", *args)
        assert list(_sections(_text(mine))) == list(_sections(_text(redis))), args
        if not _sections(_text(redis)):
            assert mine == redis == b"", args


def test_errorstats_and_commandstats_count_errors_as_redis(same: Differential) -> None:
    errors = [
        ("NOSUCHCOMMAND", "x"),  # unknown command: no command's stats
        ("GET",),  # wrong arity: rejected
        ("SET", "s", "v"),
        ("LPUSH", "s", "x"),  # WRONGTYPE: failed
        ("INCR", "s"),  # ERR: failed
        ("CONFIG", "GET"),  # a subcommand's wrong arity: rejected
        ("CONFIG", "SET", "nosuch", "1"),  # failed
        ("MULTI",),
        ("INCR",),  # refused while queueing: rejected, and EXEC aborts
        ("EXEC",),
        ("MULTI",),
        ("LPUSH", "s", "x"),  # fails inside EXEC
        ("EXEC",),
        ("MULTI",),
        ("SAVE",),  # not allowed in a transaction: rejected
        ("DISCARD",),
        ("PING", "a", "b"),  # wrong arity
        # a script's error is counted once: its command's, or its own
        ("EVAL", "return redis.call('incr', 's')", "0"),
        ("EVAL", "return redis.pcall('incr', 's')", "0"),
        ("EVAL", "return redis.call('nosuch')", "0"),
        ("EVAL", "return x(", "0"),
        ("EVAL", "return {err='MYERR boom'}", "0"),
        ("EVAL", "redis.pcall('incr', 's') return 1", "0"),
        ("INCR", "s"),
    ]
    for server in (same.redis, same.pulsar):
        assert server.call("CONFIG", "RESETSTAT") == b"OK"
        for args in errors:
            server.call(*args)
    redis = _sections(_text(same.redis.call("INFO", "errorstats", "stats", "commandstats")))
    mine = _sections(_text(same.pulsar.call("INFO", "errorstats", "stats", "commandstats")))
    assert mine["Errorstats"] == redis["Errorstats"]
    assert mine["Stats"]["total_error_replies"] == redis["Stats"]["total_error_replies"]
    assert mine["Stats"]["total_commands_processed"] == redis["Stats"]["total_commands_processed"]

    def counts(stats: dict[str, str]) -> dict[str, str]:
        return {name: re.sub(r"usec=\d+,usec_per_call=[\d.]+,", "", v) for name, v in stats.items()}

    assert counts(mine["Commandstats"]) == counts(redis["Commandstats"])


# -- CONFIG ----------------------------------------------------------------------------------

# defaults that differ on purpose or by environment (the test's servers run with their
# own port, directory and files; PulsarDS names its files and binds differently)
OWN_VALUES = {
    "appendfilename",
    "port",
    "bind",
    "dir",
    "dbfilename",
    "save",
    "pidfile",
    "logfile",
    "daemonize",
    "unixsocket",
    "unixsocketperm",
    "appendonly",
    "appendfsync",
    "always-show-logo",
    "supervised",
    "enable-debug-command",
    "enable-protected-configs",
    "enable-module-command",
    "protected-mode",
}


def test_config_get_every_redis_parameter(same: Differential) -> None:
    redis_all = _pairs(_normalise(same.redis.call("CONFIG", "GET", "*")))
    mine_all = _pairs(_normalise(same.pulsar.call("CONFIG", "GET", "*")))
    assert sorted(mine_all) == sorted(redis_all)
    hidden = [p.name for p in PARAMS.values() if p.hidden]
    for name in [*sorted(n.decode() for n in redis_all), *hidden]:
        redis, mine = _both(same, "CONFIG", "GET", name)
        assert list(_pairs(mine)) == list(_pairs(redis)), name
        if name not in OWN_VALUES:
            assert mine == redis, name
    # as Redis answers a name under the spelling it was asked
    assert (
        _both(same, "CONFIG", "GET", "MAXMEMORY")[0] == _both(same, "CONFIG", "GET", "MAXMEMORY")[1]
    )


def test_config_get_several_patterns(same: Differential) -> None:
    for patterns in (
        ("maxmemory", "hz"),
        ("maxmem*", "maxmemory"),
        ("*max-*-entries", "hash-max-ziplist-*"),
        ("list-*", "nosuch", "zset-max-*"),
        ("lua-time-limit", "busy-reply-threshold"),
        ("[ab]*", "*ziplist*"),
        ("nosuch*",),
        ("MaxMemory-Policy", "TIMEOUT"),
    ):
        redis, mine = _both(same, "CONFIG", "GET", *patterns)
        redis_pairs, mine_pairs = _pairs(redis), _pairs(mine)
        assert sorted(mine_pairs) == sorted(redis_pairs), patterns
        assert len(mine_pairs) * (1 if isinstance(mine, dict) else 2) == len(mine), patterns
        for name, value in redis_pairs.items():
            if name.decode().lower() not in OWN_VALUES:
                assert mine_pairs[name] == value, (patterns, name)


# Settable parameters whose CONFIG SET the test may try with any value on both servers:
# not those that would cut the test's connections (timeout, maxclients, the output and
# client memory limits, requirepass), start work or files (appendonly, TLS, OOM scores,
# the watchdog), or that PulsarDS cannot change (port, bind, maxmemory: see the module).
UNSAFE = {
    "timeout",
    "maxclients",
    "client-output-buffer-limit",
    "maxmemory-clients",
    "requirepass",
    "appendonly",
    "oom-score-adj",
    "oom-score-adj-values",
    "watchdog-period",
    "port",
    "bind",
    "maxmemory",
    "dir",
    "save",  # Redis would start snapshots of the shared server's data
    "proc-title-template",
    "tls-port",
}
SETTABLE = sorted(
    name
    for param in PARAMS.values()
    for name in (param.name, param.alias)
    if name
    and not param.immutable
    and param.name not in UNSAFE
    and not param.name.startswith("tls-")
)
VALUE = st.one_of(
    st.integers(-(1 << 65), 1 << 65).map(str),
    st.integers(-5, 200).map(str),
    st.sampled_from(
        [
            "",
            "yes",
            "no",
            "YES",
            "maybe",
            "1kb",
            "5mb",
            "1g",
            "2GB",
            "kb",
            "-1",
            "007",
            "+5",
            "50%",
            "101%",
            "-5%",
            "0x10",
            " 5",
            "18446744073709551615",
            "18446744073709551616gb",
            "everysec",
            "allkeys-lru",
            "save nosave",
            "now force",
            "KEA",
            "Kx$",
            "Q",
            "50 99",
            "150",
            "nan",
            "debug",
            "hostname",
            "a/b",
            "x.rdb",
            "{title} {port}",
            "{nosuch}",
            "no one",
            "localhost 6379",
        ]
    ),
    st.text(alphabet="0123456789kmgb%-yesno ", max_size=8),
)


@pytest.fixture
def restore_config(same: Differential) -> Any:
    """Puts every settable parameter back on both servers afterwards (the hidden ones,
    which no pattern matches, asked by name)."""
    hidden = [p.name for p in PARAMS.values() if p.hidden]
    before = _pairs(_normalise(same.redis.call("CONFIG", "GET", "*", *hidden)))
    mine = _pairs(_normalise(same.pulsar.call("CONFIG", "GET", "*", *hidden)))
    yield
    for server, values in ((same.redis, before), (same.pulsar, mine)):
        for name in SETTABLE:
            key = name.encode()
            if key in values:
                server.call("CONFIG", "SET", name, values[key])


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(SETTABLE), value=VALUE)
def test_config_set_accepts_and_refuses_as_redis(
    same: Differential, restore_config: Any, name: str, value: str
) -> None:
    same("CONFIG", "SET", name, value)
    redis, mine = _both(same, "CONFIG", "GET", name)
    if name not in OWN_VALUES:
        assert _pairs(mine) == _pairs(redis), (name, value)


def test_config_set_refusals(same: Differential, restore_config: Any) -> None:
    for args in (
        ("nosuch", "1"),
        ("daemonize", "yes"),  # immutable
        ("Daemonize", "yes"),
        ("databases", "4"),
        ("dir", "/tmp"),  # protected
        ("dbfilename", "x.rdb"),
        ("maxmemory", "x"),
        ("lua-time-limit", "x"),
        ("hz", "10", "hz", "11"),  # twice
        ("maxmemory", "1", "nosuch", "2", "daemonize", "yes"),
        ("daemonize", "yes", "maxmemory", "x"),
        ("maxmemory-policy", "bad"),
        ("list-compress-depth", "1", "maxmemory-policy", "bad"),
        ("shutdown-on-sigint", "save nosave"),
        ("notify-keyspace-events", "Q"),
        ("latency-tracking-info-percentiles", "101"),
        ("replicaof", "no one"),
        ("slaveof", "localhost 1"),
        ("hz",),
        ("hz", "1", "timeout"),
    ):
        same("CONFIG", "SET", *args)


def test_config_set_several_is_all_or_nothing(same: Differential, restore_config: Any) -> None:
    same("CONFIG", "SET", "list-compress-depth", "2", "set-max-intset-entries", "64")
    same("CONFIG", "SET", "list-compress-depth", "5", "set-max-intset-entries", "x")
    same("CONFIG", "GET", "list-compress-depth")  # still 2 on both
    same("CONFIG", "GET", "set-max-intset-entries")
    # an alias and its parameter are two parameters for Redis: the last one wins
    same("CONFIG", "SET", "hash-max-ziplist-entries", "5", "hash-max-listpack-entries", "6")
    same("CONFIG", "GET", "hash-max-ziplist-entries")
    same("CONFIG", "SET", "lua-time-limit", "4000", "slowlog-log-slower-than", "-1")
    same("CONFIG", "GET", "busy-reply-threshold")
    same("CONFIG", "GET", "slowlog-log-slower-than")
    same("CONFIG", "SET", "notify-keyspace-events", "KEA")
    same("CONFIG", "GET", "notify-keyspace-events")
    same("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU", "appendfsync", "no")
    same("CONFIG", "GET", "maxmemory-policy")


def test_config_subcommand_errors(same: Differential) -> None:
    for args in (
        ("CONFIG",),
        ("CONFIG", "GET"),
        ("CONFIG", "SET", "a"),
        ("CONFIG", "SET", "a", "b", "c"),
        ("CONFIG", "FOO"),
        ("CONFIG", "HELP"),
        ("CONFIG", "RESETSTAT", "x"),
        ("CONFIG", "REWRITE"),  # neither was started with a file
    ):
        same(*args)


def test_config_rewrite_writes_the_file(tmp_path: Any) -> None:
    path = tmp_path / "pulsards.conf"
    with ServerThread(port=0, dir=str(tmp_path), save=[], config_file=str(path)) as server:
        client = RawClient(server.port)
        try:
            assert client.call("CONFIG", "SET", "list-compress-depth", "3", "hz", "20") == b"OK"
            assert client.call("CONFIG", "REWRITE") == b"OK"
            info = _sections(_text(client.call("INFO", "server")))
        finally:
            client.close()
    text = path.read_text()
    assert "list-compress-depth 3\n" in text and "hz 20\n" in text
    assert info["Server"]["config_file"] == os.path.abspath(path)
    from store.server.config import ServerConfig

    loaded = ServerConfig()
    loaded.load_text(text)
    assert loaded.hz == 20 and loaded.get_text("list-compress-depth") == "3"


# -- COMMAND ---------------------------------------------------------------------------------


def test_command_info_of_each_implemented_command_matches(same: Differential) -> None:
    names = sorted(_implemented())
    redis, mine = _both(same, "COMMAND", "INFO", *names)
    assert len(mine) == len(redis) == len(names)
    for name, theirs, ours in zip(names, redis, mine, strict=True):
        assert theirs is not None, f"Redis 7.0 has no {name}"
        assert ours == [*ours[:9], ours[9]] and _info_shape(ours) == _info_shape(theirs), name
    # subcommands by their full names, unknown ones as null
    for args in (("config|get", "CLIENT|LIST", "nosuch"), ("GET",), ("get", "zunionstore")):
        redis, mine = _both(same, "COMMAND", "INFO", *args)
        assert [_info_shape(e) for e in mine] == [_info_shape(e) for e in redis], args


def test_command_lists_only_what_pulsards_implements(same: Differential) -> None:
    redis_all = {entry[0].decode() for entry in _normalise(same.redis.call("COMMAND"))}
    mine_all = [entry for entry in _normalise(same.pulsar.call("COMMAND"))]
    names = {entry[0].decode() for entry in mine_all}
    assert names == _implemented() & redis_all
    assert names <= _implemented()
    redis_info = {e[0]: e for e in _normalise(same.redis.call("COMMAND", "INFO", *sorted(names)))}
    for entry in mine_all:
        assert _info_shape(entry) == _info_shape(redis_info[entry[0]])
    assert same.pulsar.call("COMMAND", "COUNT") == len(names)
    assert len(_normalise(same.pulsar.call("COMMAND", "INFO"))) == len(names)
    docs = _normalise(same.pulsar.call("COMMAND", "DOCS"))
    assert sorted(_pairs(docs)) == sorted(name.encode() for name in names)


def test_command_list_and_filters(same: Differential) -> None:
    def listed(reply: Any) -> set[bytes]:
        return set(reply)

    for args in (
        (),
        ("FILTERBY", "ACLCAT", "hyperloglog"),
        ("FILTERBY", "ACLCAT", "write"),
        ("filterby", "aclcat", "SortedSet"),
        ("FILTERBY", "ACLCAT", "nosuch"),
        ("FILTERBY", "PATTERN", "config*"),
        ("FILTERBY", "PATTERN", "*|*"),
        ("FILTERBY", "PATTERN", "Z[A-D]*"),
        ("FILTERBY", "MODULE", "nosuch"),
    ):
        redis, mine = _both(same, "COMMAND", "LIST", *args)
        implemented = {
            name
            for name in redis
            if name.split(b"|")[0].decode() in _implemented()
            and name.decode() not in UNIMPLEMENTED_SUBCOMMANDS
        }
        assert listed(mine) == implemented, args
        assert len(mine) == len(set(mine)), args
    for bad in (
        ("bad",),
        ("FILTERBY",),
        ("FILTERBY", "bad", "x"),
        ("FILTERBY", "PATTERN"),
        ("FILTERBY", "PATTERN", "a", "b"),
    ):
        same("COMMAND", "LIST", *bad)


def test_command_getkeys_and_flags(same: Differential) -> None:
    for args in (
        ("get", "a"),
        ("set", "a", "b", "GET"),
        ("mset", "a", "1", "b", "2"),
        ("lmove", "a", "b", "left", "right"),
        ("zunionstore", "d", "2", "a", "b"),
        ("zunionstore", "d", "5", "a"),
        ("zunionstore", "d", "0"),
        ("eval", "return 1", "0"),
        ("eval", "return 1", "2", "k1", "k2", "a"),
        ("blmpop", "0", "2", "a", "b", "LEFT"),
        ("sort", "k", "BY", "w*", "GET", "g*", "STORE", "d"),
        ("sort_ro", "k"),
        ("rename", "a", "b"),
        ("copy", "a", "b"),
        ("ping",),
        ("ping", "x"),
        ("get",),
        ("get", "a", "b"),
        ("nosuch", "a"),
        ("config", "get", "x"),
        ("config", "foo"),
        ("client",),
        ("object", "encoding", "k"),
        ("spublish", "ch", "m"),
        ("publish", "ch", "m"),
        ("del", "a", "b", "c"),
        ("xread", "STREAMS", "s1", "s2", "0", "0"),
    ):
        if args[0] not in _implemented() and args[0] != "nosuch":
            continue
        same("COMMAND", "GETKEYS", *args)
        same("COMMAND", "GETKEYSANDFLAGS", *args)
    # an unknown subcommand is not a command either server knows
    for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
        same("COMMAND", sub, "client", "nosuch", "on")
        same("COMMAND", sub, "pubsub", "help")
    same("PUBSUB", "HELP")
    same("PUBSUB", "HELP", "x")
    same("PUBSUB", "NOSUCH")


def test_command_subcommand_errors(same: Differential) -> None:
    for args in (
        ("COUNT", "x"),
        ("GETKEYS",),
        ("GETKEYSANDFLAGS",),
        ("FOO",),
        ("HELP",),
        ("INFO", "nosuch"),
        ("DOCS", "nosuch"),
    ):
        same("COMMAND", *args)


def test_command_lists_the_subcommands_pulsards_answers(pulsar: ServerThread) -> None:
    """Each subcommand COMMAND lists is one PulsarDS knows, and each it leaves out is one
    it answers "unknown subcommand" (tried with arguments that change nothing)."""
    client = RawClient(pulsar.port)
    listed = {name.decode() for name in client.call("COMMAND", "LIST") if b"|" in name}
    client.close()
    for name, info in sorted(REDIS_TABLE.items()):
        container, _, sub = name.partition("|")
        if not sub or container not in _implemented():
            continue
        probe = RawClient(pulsar.port)  # a fresh connection: a probe may change its own
        try:
            args = [container, sub, *["no-such-argument"] * max(abs(info.arity) - 2, 0)]
            reply = _normalise(probe.call(*args))
        finally:
            probe.close()
        unknown = isinstance(reply, tuple) and "unknown subcommand" in reply[1]
        assert unknown == (name in UNIMPLEMENTED_SUBCOMMANDS), (name, reply)
        assert (name in listed) == (not unknown), name
