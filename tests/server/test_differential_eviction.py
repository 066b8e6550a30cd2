"""maxmemory's refusals, the same on redis-server and PulsarDS: both run with maxmemory 1
(always over it) and the noeviction policy, so nothing can be evicted and the denyoom
commands, MULTI and scripts get Redis's OOM errors. The limit is reset afterwards (the
redis-server is the session's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from store.server import ServerThread
from tests.server.conftest import Differential, RawClient


@pytest.fixture
def oom(same: Differential) -> Iterator[Differential]:
    """``same`` with both servers over a limit they cannot evict to."""
    same("SET", "present", "1")
    same("RPUSH", "list", "a")
    same("CONFIG", "SET", "maxmemory-policy", "noeviction")
    same("CONFIG", "SET", "maxmemory", "1")
    try:
        yield same
    finally:
        same.redis.call("CONFIG", "SET", "maxmemory", "0")
        same.pulsar.call("CONFIG", "SET", "maxmemory", "0")


def test_denyoom_commands_refused(oom: Differential) -> None:
    for args in (
        ("SET", "k", "v"),
        ("SET", "present", "2"),
        ("INCR", "present"),
        ("APPEND", "present", "x"),
        ("RPUSH", "list", "b"),
        ("LPUSH", "other", "b"),
        ("HSET", "h", "f", "v"),
        ("SADD", "s", "m"),
        ("ZADD", "z", "1", "m"),
        ("XADD", "x", "*", "f", "v"),
        ("PFADD", "hll", "a"),
        ("SETBIT", "bits", "1", "1"),
        ("MSET", "a", "1", "b", "2"),
        ("RESTORE", "r", "0", "x"),
        ("SORT", "list", "STORE", "dest"),
        ("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() end)"),
        ("GEOADD", "g", "1", "1", "m"),
    ):
        oom(*args)


def test_other_commands_still_run(oom: Differential) -> None:
    for args in (
        ("GET", "present"),
        ("LRANGE", "list", "0", "-1"),
        ("EXISTS", "present", "nosuch"),
        ("EXPIRE", "present", "100"),
        ("PERSIST", "present"),
        ("LPOP", "list"),
        ("DEL", "present"),
        ("PING",),
        ("SCRIPT", "EXISTS", "0" * 40),
        ("SET",),  # arity is checked first
        ("NOSUCH", "x"),
    ):
        oom(*args)


def test_multi_refuses_every_queued_command(oom: Differential) -> None:
    oom("MULTI")
    oom("GET", "present")  # any command but EXEC, DISCARD, QUIT, RESET
    oom("SET", "k", "v")
    oom("PING")
    oom("EXEC")
    oom("MULTI")
    oom("DISCARD")
    oom("GET", "present")


def test_exec_refused_when_the_limit_came_after_queueing(
    same: Differential, redis_server: Any, pulsar: ServerThread
) -> None:
    """A transaction queued under the limit, then the limit set from another connection:
    EXEC with a denyoom command in it is aborted, one without runs."""
    others = [RawClient(redis_server.port), RawClient(pulsar.port)]
    try:
        for queued in (("SET", "k", "v"), ("GET", "k"), ("EVAL", "#!lua\nreturn 1", "0")):
            same("MULTI")
            same(*queued)
            for other in others:
                assert other.call("CONFIG", "SET", "maxmemory", "1") == b"OK"
            same("EXEC")
            for other in others:
                assert other.call("CONFIG", "SET", "maxmemory", "0") == b"OK"
    finally:
        for other in others:
            other.call("CONFIG", "SET", "maxmemory", "0")
            other.close()


def test_scripts(oom: Differential) -> None:
    # no shebang: refused at the first write if that is a denyoom command
    oom("EVAL", "return redis.call('set', 'x', '1')", "0")
    oom("EVAL", "return redis.call('get', 'present')", "0")
    oom("EVAL", "redis.call('del', 'nosuch'); return redis.call('set', 'x', '1')", "0")
    oom("EVAL", "redis.call('incr', 'present'); return redis.call('set', 'x', '1')", "0")
    oom("EVAL", "return redis.pcall('set', 'x', '1')", "0")
    # a shebang: refused at the start unless allow-oom or no-writes
    oom("EVAL", "#!lua\nreturn redis.call('get', 'present')", "0")
    oom("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'present')", "0")
    oom("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'y', '1')", "0")
    oom("EVAL_RO", "#!lua\nreturn 1", "0")
    oom("EVAL_RO", "return redis.call('get', 'present')", "0")
    sha = oom("SCRIPT", "LOAD", "#!lua\nreturn 1")
    oom("EVALSHA", sha, "0")
    oom("SCRIPT", "FLUSH")


def test_functions(same: Differential, redis_server: Any, pulsar: ServerThread) -> None:
    same("FUNCTION", "FLUSH")
    same(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\n"
        "redis.register_function('w', function() return redis.call('set', 'k', 'v') end)\n"
        "redis.register_function{function_name='r', callback=function() return 1 end,"
        " flags={'no-writes'}}\n"
        "redis.register_function{function_name='o', callback=function()"
        " return redis.call('set', 'k', 'v') end, flags={'allow-oom'}}",
    )
    same("CONFIG", "SET", "maxmemory", "1")
    try:
        same("FCALL", "w", "0")
        same("FCALL", "r", "0")
        same("FCALL_RO", "r", "0")
        same("FCALL", "o", "0")
        same("FCALL", "nosuch", "0")
    finally:
        same.redis.call("CONFIG", "SET", "maxmemory", "0")
        same.pulsar.call("CONFIG", "SET", "maxmemory", "0")
        same("FUNCTION", "FLUSH")


def test_errorstats_count_the_refusal(oom: Differential) -> None:
    oom("CONFIG", "RESETSTAT")
    oom("SET", "k", "v")
    oom("SET", "k", "v")
    stats = {}
    for client in (oom.redis, oom.pulsar):
        text = client.call("INFO", "errorstats").decode()
        stats[client] = [line for line in text.splitlines() if line.startswith("errorstat_")]
    assert stats[oom.pulsar] == stats[oom.redis] == ["errorstat_OOM:count=2"]


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lfu", "allkeys-random"])
def test_integers_are_not_shared_under_lru_and_lfu(same: Differential, policy: str) -> None:
    # Redis shares small integers unless maxmemory is set with an LRU or LFU policy
    same("SET", "number", "42")
    same("OBJECT", "REFCOUNT", "number")
    same("CONFIG", "SET", "maxmemory-policy", policy)
    same("CONFIG", "SET", "maxmemory", "1gb")
    try:
        same("SET", "number", "43")
        same("OBJECT", "REFCOUNT", "number")
    finally:
        for client in (same.redis, same.pulsar):
            client.call("CONFIG", "SET", "maxmemory", "0")
            client.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
