"""MULTI / EXEC / DISCARD / WATCH: the same replies as redis-server (differential), plus
PulsarDS-only checks (expiry of watched keys, the append-only file)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from store.errors import ResponseError
from store.server import ServerThread
from tests.server.conftest import Differential, RawClient


@pytest.fixture
def others(redis_server: Any, pulsar: ServerThread) -> Iterator[tuple[RawClient, RawClient]]:
    """A second connection to each server, on database 11 like ``same``."""
    redis = RawClient(redis_server.port)
    redis.call("SELECT", "11")
    mine = RawClient(pulsar.port)
    mine.call("SELECT", "11")
    yield redis, mine
    redis.close()
    mine.close()


def both(pair: tuple[RawClient, RawClient], *args: Any) -> Any:
    """Run a command from the second connections; both servers must answer alike."""
    expected = pair[0].call(*args)
    got = pair[1].call(*args)
    assert type(got) is type(expected) and str(got) == str(expected), (args, got, expected)
    return got


def test_multi_exec_runs_the_queue(same: Differential) -> None:
    same("MULTI")
    same("SET", "k", "v")
    same("INCR", "n")
    same("INCR", "n")
    same("GET", "k")
    same("PING")
    same("ECHO", "hi")
    same("GET", "missing")
    same("EXEC")
    same("GET", "n")


def test_errors_while_running_do_not_stop_the_others(same: Differential) -> None:
    same("SET", "s", "text")
    same("MULTI")
    same("INCR", "s")  # WRONG value: fails at EXEC time, not when queued
    same("SET", "t", "1")
    same("LPUSH", "s", "x")  # WRONGTYPE at EXEC time
    same("INCR", "t")
    same("EXEC")
    same("GET", "t")


def test_reply_shapes_inside_exec(same: Differential) -> None:
    same("HSET", "h", "f", "1", "g", "2")
    same("ZADD", "z", "1.5", "a")
    same("MULTI")
    same("HGETALL", "h")
    same("ZSCORE", "z", "a")
    same("ZRANGE", "z", "0", "-1", "WITHSCORES")
    same("HGET", "h", "missing")
    same("BLPOP", "nolist", "0")  # does not block inside EXEC: answers the timeout reply
    same("LPOP", "nolist", "2")
    same("EXEC")


def test_empty_transaction(same: Differential) -> None:
    same("MULTI")
    same("EXEC")
    same("EXEC")


def test_transaction_command_errors(same: Differential) -> None:
    same("EXEC")
    same("DISCARD")
    same("UNWATCH")
    same("MULTI", "x")
    same("WATCH")
    same("MULTI")
    same("MULTI")  # refused, but the transaction goes on
    same("WATCH", "k")  # refused, but the transaction goes on
    same("SET", "k", "v")
    same("EXEC")
    same("GET", "k")


def test_queueing_errors_abort_exec(same: Differential) -> None:
    same("MULTI")
    same("SET", "k", "v")
    same("NOSUCHCOMMAND", "a", "b")
    same("SET", "k2", "v")
    same("EXEC")
    same("GET", "k")
    same("MULTI")
    same("GET")  # wrong number of arguments
    same("EXEC")
    same("EXEC")  # the transaction is over


def test_a_refused_exec_discards_the_transaction(same: Differential) -> None:
    same("MULTI")
    same("SET", "k", "v")
    same("EXEC", "extra")
    same("EXEC")  # the transaction is gone
    same("GET", "k")


def test_flush_signals_only_watched_keys_that_existed(
    same: Differential, others: tuple[RawClient, RawClient]
) -> None:
    same("WATCH", "missing")
    both(others, "FLUSHDB")
    same("MULTI")
    same("SET", "missing", "now")
    same("EXEC")
    same("GET", "missing")


def test_discard(same: Differential) -> None:
    same("MULTI")
    same("SET", "k", "v")
    same("DISCARD")
    same("GET", "k")
    same("EXEC")
    same("MULTI")
    same("NOSUCHCOMMAND")
    same("DISCARD")
    same("MULTI")
    same("SET", "k", "after")
    same("EXEC")  # the failed transaction was discarded: this one runs


def test_unwatch_is_queued(same: Differential) -> None:
    same("MULTI")
    same("UNWATCH")
    same("EXEC")


def test_watch_aborts_when_another_client_writes(
    same: Differential, others: tuple[RawClient, RawClient]
) -> None:
    same("SET", "k", "1")
    same("WATCH", "k")
    both(others, "SET", "k", "2")
    same("MULTI")
    same("SET", "k", "mine")
    same("EXEC")
    same("GET", "k")
    # The abort ended the watch: the next transaction runs.
    same("MULTI")
    same("SET", "k", "mine")
    same("EXEC")
    same("GET", "k")


def test_watch_passes_when_nothing_changed(
    same: Differential, others: tuple[RawClient, RawClient]
) -> None:
    same("SET", "k", "1")
    same("WATCH", "k", "other", "k")
    both(others, "SET", "unrelated", "x")
    both(others, "GET", "k")
    same("MULTI")
    same("INCR", "k")
    same("EXEC")
    # EXEC unwatched: a later change does not abort the next transaction.
    both(others, "SET", "k", "9")
    same("MULTI")
    same("INCR", "k")
    same("EXEC")


def test_watch_sees_deletes_expiry_changes_and_flushes(
    same: Differential, others: tuple[RawClient, RawClient]
) -> None:
    for change in (("DEL", "k"), ("EXPIRE", "k", "100"), ("APPEND", "k", "x"), ("FLUSHDB",)):
        same("SET", "k", "1")
        same("WATCH", "k")
        both(others, *change)
        same("MULTI")
        same("GET", "k")
        same("EXEC")


def test_watch_sees_the_clients_own_writes(same: Differential) -> None:
    same("SET", "k", "1")
    same("WATCH", "k")
    same("SET", "k", "2")
    same("MULTI")
    same("GET", "k")
    same("EXEC")


def test_watch_a_missing_key_that_gets_created(
    same: Differential, others: tuple[RawClient, RawClient]
) -> None:
    same("WATCH", "new")
    both(others, "LPUSH", "new", "a")
    same("MULTI")
    same("LLEN", "new")
    same("EXEC")


def test_unwatch_and_discard_forget_the_watch(
    same: Differential, others: tuple[RawClient, RawClient]
) -> None:
    same("WATCH", "k")
    same("UNWATCH")
    both(others, "SET", "k", "x")
    same("MULTI")
    same("GET", "k")
    same("EXEC")
    same("WATCH", "k")
    same("MULTI")
    same("DISCARD")
    both(others, "SET", "k", "y")
    same("MULTI")
    same("GET", "k")
    same("EXEC")


def test_execabort_wins_over_a_changed_watch(
    same: Differential, others: tuple[RawClient, RawClient]
) -> None:
    same("WATCH", "k")
    both(others, "SET", "k", "x")
    same("MULTI")
    same("NOSUCH")
    same("EXEC")


def test_transaction_with_a_script(same: Differential) -> None:
    same("MULTI")
    same("EVAL", "return redis.call('incr', KEYS[1])", "1", "n")
    same("EVAL", "return redis.call('incr', KEYS[1])", "1", "n")
    same("EVAL", "return redis.call('nosuch')", "0")
    same("EXEC")


def test_watch_inside_a_script_is_refused(same: Differential) -> None:
    same("EVAL", "return redis.call('watch', 'k')", "0")
    same("EVAL", "return redis.call('multi')", "0")


# -- PulsarDS only ----------------------------------------------------------------------------


def test_a_watched_key_that_expires_aborts_exec(raw: Callable[..., RawClient]) -> None:
    client = raw()
    client.call("SET", "k", "v", "PX", "200")
    client.call("WATCH", "k")
    if client.call("PTTL", "k") < 0:
        pytest.skip("the key expired before WATCH ran (slow machine)")
    time.sleep(0.3)  # now the key has expired, whether or not anything deleted it yet
    client.call("MULTI")
    client.call("GET", "k")
    assert client.call("EXEC") is None


def test_a_key_already_expired_at_watch_time_does_not_abort(
    raw: Callable[..., RawClient],
) -> None:
    client = raw()
    client.call("SET", "k", "v", "PX", "1")
    time.sleep(0.01)
    client.call("WATCH", "k")
    client.call("MULTI")
    client.call("SET", "k", "new")
    assert client.call("EXEC") == [b"OK"]


def test_exec_keeps_the_database_chosen_inside(raw: Callable[..., RawClient]) -> None:
    client = raw()
    client.call("MULTI")
    client.call("SELECT", "3")
    client.call("SET", "k", "in3")
    assert client.call("EXEC") == [b"OK", b"OK"]
    assert client.call("GET", "k") == b"in3"
    client.call("SELECT", "0")
    assert client.call("GET", "k") is None


def test_queued_reply_and_client_list_flag(raw: Callable[..., RawClient]) -> None:
    client = raw()
    assert client.call("MULTI") == b"OK"
    assert client.call("SET", "k", "v") == b"QUEUED"
    assert client.call("CLIENT", "ID") == b"QUEUED"
    replies = client.call("EXEC")
    assert replies[0] == b"OK" and isinstance(replies[1], int)


def test_nosuch_command_error_text_while_queueing(raw: Callable[..., RawClient]) -> None:
    client = raw()
    client.call("MULTI")
    error = client.call("NOSUCH", "x")
    assert isinstance(error, ResponseError) and str(error).startswith("ERR unknown command")
    exec_error = client.call("EXEC")
    assert isinstance(exec_error, ResponseError)
    assert str(exec_error) == "EXECABORT Transaction discarded because of previous errors."


def test_transactions_are_logged_as_blocks_in_the_aof(tmp_path: Any) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as server:
        client = RawClient(server.port)
        client.call("SET", "before", "1")
        client.call("MULTI")
        client.call("GET", "before")  # reads do not open the block
        client.call("SET", "a", "1")
        client.call("INCR", "n")
        client.call("EXEC")
        client.call("MULTI")
        client.call("GET", "a")
        client.call("EXEC")  # nothing written: no block at all
        client.close()
    log = (tmp_path / "pulsards.aof").read_bytes()
    assert log.count(b"MULTI") == 1 and log.count(b"EXEC") == 1
    assert log.index(b"MULTI") < log.index(b"$1\r\na\r\n") < log.index(b"INCR") < log.index(b"EXEC")
    assert log.index(b"before") < log.index(b"MULTI")
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as server:
        client = RawClient(server.port)
        assert client.call("MGET", "before", "a", "n") == [b"1", b"1", b"1"]
        client.close()
    assert os.path.exists(tmp_path / "pulsards.aof")
