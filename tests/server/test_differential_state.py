"""Differential tests of glob matching, transactions and per-connection state: the same
requests sent to redis-server 7.0 and to PulsarDS get the same replies.

Glob patterns go through KEYS, SCAN MATCH, PUBSUB CHANNELS, PSUBSCRIBE (the receivers
PUBLISH counts) and COMMAND LIST FILTERBY PATTERN (Redis's nocase matching, against
``compile_glob(..., nocase=True)``); then the MULTI rules, CLIENT REPLY, RESET, CLIENT
PAUSE with real second connections, and the small range bugs of issue 14."""

from __future__ import annotations

import random
import select
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.command_table import COMMANDS as REDIS_COMMANDS
from store.resp import pack_command
from store.server import ServerThread
from store.server.commands import COMMANDS as PULSAR_COMMANDS
from store.server.commands import NO_MULTI
from store.server.glob import compile_glob
from tests.server.conftest import Differential, RawClient, _normalise

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- glob patterns -----------------------------------------------------------------------

# Bytes that mean something to the matcher, two letters of each case and two bytes >= 0x80
# (a range compares signed chars in Redis: [a-\xff] is -1..97).
ALPHABET = b"ab*?[]^-\\A\x80\xff"
PATTERNS = st.lists(st.sampled_from(list(ALPHABET)), max_size=10).map(bytes)


def _names() -> list[bytes]:
    rng = random.Random(14)
    names = {b"", b"a", b"ab", b"[", b"]", b"\\", b"*", b"\xff", b"\x80", b"aaaa"}
    while len(names) < 90:
        names.add(bytes(rng.choice(b"ab-]^[\\*?A\x80\xff") for _ in range(rng.randint(1, 5))))
    return sorted(names)


NAMES = _names()


def _scan_all(client: RawClient, pattern: bytes) -> list[bytes]:
    found: list[bytes] = []
    cursor = b"0"
    while True:
        cursor, page = client.call("SCAN", cursor, "MATCH", pattern, "COUNT", "7")
        found += page
        if cursor == b"0":
            return sorted(set(found))


def _observe_patterns(client: RawClient, port: int, patterns: list[bytes]) -> list[Any]:
    """What KEYS, SCAN MATCH, PUBSUB CHANNELS and PSUBSCRIBE say of each pattern."""
    seen: list[Any] = []
    channels = RawClient(port)
    listener = RawClient(port)
    try:
        channels.call("SUBSCRIBE", *NAMES)
        for _ in NAMES[1:]:
            channels.read()
        unique = list(dict.fromkeys(patterns))
        listener.call("PSUBSCRIBE", *unique)
        for _ in unique[1:]:
            listener.read()
        for pattern in patterns:
            seen.append(("KEYS", pattern, sorted(client.call("KEYS", pattern))))
            seen.append(("SCAN", pattern, _scan_all(client, pattern)))
            seen.append(("CHANNELS", pattern, sorted(client.call("PUBSUB", "CHANNELS", pattern))))
        # each channel's receivers: its subscriber plus one per matching pattern
        seen.append(("PUBLISH", [client.call("PUBLISH", name, "m") for name in NAMES]))
    finally:
        channels.close()
        listener.close()
    return seen


@SETTINGS
@given(patterns=st.lists(PATTERNS, min_size=1, max_size=12))
def test_glob_patterns_match_like_redis(same: Differential, patterns: list[bytes]) -> None:
    for client in (same.redis, same.pulsar):
        client.call("FLUSHDB")
        client.call("MSET", *[part for name in NAMES for part in (name, b"v")])
    redis_port = same.redis.sock.getpeername()[1]
    pulsar_port = same.pulsar.sock.getpeername()[1]
    expected = _observe_patterns(same.redis, redis_port, patterns)
    got = _observe_patterns(same.pulsar, pulsar_port, patterns)
    for want, have in zip(expected, got, strict=True):
        assert have == want


@pytest.mark.parametrize(
    "pattern",
    [
        b"*",
        b"**",
        b"",
        b"?",
        b"[a-\xff]",
        b"[\xff-a]",
        b"[\x80-\xff]",
        b"[^a-\xff]",
        b"[\x00-\x80]",
    ],
)
def test_glob_corners_match_like_redis(same: Differential, pattern: bytes) -> None:
    # "*" lists the empty key in KEYS and SCAN (no matching at all there) but not the
    # empty channel in PUBSUB CHANNELS; ranges with bytes >= 0x80 are signed in Redis.
    names = [b"", b"a", b"A", b"b", b"\x00", b"\x7f", b"\x80", b"\xfe", b"\xff"]
    for client in (same.redis, same.pulsar):
        client.call("MSET", *[part for name in names for part in (name, b"v")])
    subscribers = [RawClient(port) for port in (same.redis.sock.getpeername()[1],)]
    subscribers.append(RawClient(same.pulsar.sock.getpeername()[1]))
    try:
        for subscriber in subscribers:
            subscriber.call("SUBSCRIBE", *names)
            for _ in names[1:]:
                subscriber.read()
        assert sorted(same.pulsar.call("KEYS", pattern)) == sorted(same.redis.call("KEYS", pattern))
        assert _scan_all(same.pulsar, pattern) == _scan_all(same.redis, pattern)
        assert sorted(same.pulsar.call("PUBSUB", "CHANNELS", pattern)) == sorted(
            same.redis.call("PUBSUB", "CHANNELS", pattern)
        )
    finally:
        for subscriber in subscribers:
            subscriber.close()


# COMMAND LIST FILTERBY PATTERN is Redis's stringmatchlen with nocase over every command
# and subcommand name: the oracle for compile_glob(pattern, nocase=True) (CONFIG GET and
# FUNCTION LIST LIBRARYNAME match that way too).
NOCASE_ALPHABET = b"cClLiIeEnNtT|*?[]^-\\sSz"
NOCASE_PATTERNS = st.lists(st.sampled_from(list(NOCASE_ALPHABET)), max_size=9).map(bytes)


@SETTINGS
@given(patterns=st.lists(NOCASE_PATTERNS, min_size=1, max_size=20))
def test_nocase_matching_is_redis_s(redis_server: Any, patterns: list[bytes]) -> None:
    redis = RawClient(redis_server.port)
    try:
        names = redis.call("COMMAND", "LIST")
        for pattern in patterns:
            want = sorted(redis.call("COMMAND", "LIST", "FILTERBY", "PATTERN", pattern))
            match = compile_glob(pattern, nocase=True)
            assert sorted(name for name in names if match(name)) == want, pattern
    finally:
        redis.close()


def test_nocase_corners() -> None:
    # stringmatchlen orders a range before lowering it ([Z-a] is then z..a: nothing) and
    # compares an escaped byte in a class as it is
    cases = {
        (b"[Z-a]", b"a"): False,
        (b"[a-Z]", b"Z"): False,
        (b"[A-Z]", b"q"): True,
        (b"[\\A]", b"a"): False,
        (b"[\\A]", b"A"): True,
        (b"\\A", b"a"): True,
        (b"CONFIG", b"config"): True,
        (b"c?N*", b"cOnfig"): True,
        (b"[^A]", b"a"): False,
    }
    for (pattern, name), expected in cases.items():
        assert compile_glob(pattern, nocase=True)(name) is expected, (pattern, name)
    assert compile_glob(b"[Z-a]")(b"_") is True  # case-sensitive: Z..a holds [ \ ] ^ _ `


SORT_PATTERNS = st.lists(st.sampled_from(["w", "*", "-", ">", "#", "h"]), max_size=6).map("".join)


@SETTINGS
@given(by=SORT_PATTERNS, gets=st.lists(SORT_PATTERNS, max_size=3))
def test_sort_by_and_get_patterns_match_redis(same: Differential, by: str, gets: list[str]) -> None:
    # SORT's patterns are substitutions, not globs: the first "*", "->" then a field,
    # "#" alone for the element
    same("DEL", "l", "w1", "w2", "w3", "h1", "h2", "h3", "w1->", "h*")
    same("RPUSH", "l", "2", "1", "3")
    for n, weight in (("1", "30"), ("2", "10"), ("3", "20")):
        same("SET", f"w{n}", weight)
        same("HSET", f"h{n}", "f", weight, "-", "x")
    args = ["SORT", "l", "BY", by] if by else ["SORT", "l"]
    for get in gets:
        args += ["GET", get]
    same(*args)
    same(*args, "ALPHA")


# -- transactions ------------------------------------------------------------------------


def test_no_multi_is_the_command_table_s() -> None:
    table = {name for name, info in REDIS_COMMANDS.items() if "no_multi" in info.flags}
    assert table == NO_MULTI


def _minimal(name: str) -> list[str]:
    arity = REDIS_COMMANDS[name].arity
    return [name.upper()] + ["0"] * (abs(arity) - 1)


@pytest.mark.parametrize(
    "name",
    # PSYNC and SYNC are replication commands PulsarDS does not have at all
    sorted(name for name in NO_MULTI if name.encode() in PULSAR_COMMANDS),
)
def test_no_multi_commands_are_refused_inside_multi(same: Differential, name: str) -> None:
    same("MULTI")
    same("SET", "k", "v")
    same(*_minimal(name))
    same("EXEC")  # EXECABORT: nothing ran
    same("GET", "k")
    same("PING")  # and the server is still there


def test_shutdown_inside_multi_keeps_the_server(same: Differential) -> None:
    for args in (("MULTI",), ("SET", "a", "1"), ("SHUTDOWN",), ("SHUTDOWN", "NOSAVE")):
        same(*args)
    same("DISCARD")
    same("MULTI")
    same("SHUTDOWN", "NOW", "FORCE")
    same("EXEC")
    same("EXISTS", "a")


TRANSACTIONS = [
    [("MULTI",), ("MULTI",), ("SET", "a", "1"), ("EXEC",), ("GET", "a")],
    [("MULTI",), ("WATCH", "a"), ("SET", "a", "2"), ("EXEC",)],
    [("EXEC",), ("DISCARD",), ("UNWATCH",), ("MULTI",), ("EXEC",)],
    [("MULTI",), ("SET", "a"), ("INCR", "a"), ("EXEC",), ("GET", "a")],
    [("MULTI",), ("FOO", "x"), ("PING",), ("EXEC",)],
    [("MULTI",), ("EXEC", "x"), ("EXEC",)],
    [("MULTI",), ("DISCARD", "x"), ("EXEC",)],
    [("MULTI",), ("UNWATCH",), ("PING",), ("EXEC",)],
    [("MULTI",), ("CLIENT", "PAUSE"), ("EXEC",)],
    [("MULTI",), ("CLIENT", "NOSUCH"), ("EXEC",)],
    [("MULTI",), ("CLIENT", "PAUSE", "1", "2", "3"), ("CLIENT", "GETREDIR"), ("EXEC",)],
    [("MULTI",), ("CLIENT", "NO-EVICT", "maybe"), ("CLIENT", "ID", "x"), ("EXEC",)],
    [("MULTI",), ("SET", "a", "1"), ("RESET",), ("EXEC",), ("GET", "a")],
    [("WATCH", "a"), ("SET", "a", "1"), ("MULTI",), ("PING",), ("EXEC",)],
    [("WATCH", "a"), ("UNWATCH",), ("SET", "a", "1"), ("MULTI",), ("PING",), ("EXEC",)],
    [("MULTI",), ("SUBSCRIBE", "c1"), ("PING",), ("SET", "a", "1"), ("GET", "a"), ("EXEC",)],
    [("MULTI",), ("PSUBSCRIBE", "p*"), ("UNSUBSCRIBE", "zz"), ("EXEC",), ("PING",)],
    [("MULTI",), ("SSUBSCRIBE", "s"), ("PING",), ("EXEC",)],
    # (not EXEC after it in RESP2: Redis turns any refused EXEC into EXECABORT, PulsarDS's
    # subscribed-context check in core.py does not)
    [("SUBSCRIBE", "c"), ("MULTI",), ("PING",)],
    [("MULTI",), ("SUBSCRIBE", "c"), ("EXEC",), ("MULTI",), ("PING",)],
]


@pytest.mark.parametrize("sequence", TRANSACTIONS, ids=lambda s: " ".join(c[0] for c in s))
def test_transaction_rules_match_redis(same: Differential, sequence: list[tuple[str, ...]]) -> None:
    # the replies differ between RESP2 and RESP3 where subscribing is involved: the
    # fixture runs both
    try:
        for args in sequence:
            same(*args)
    finally:
        for client in (same.redis, same.pulsar):
            client.call("RESET")
            client.call("SELECT", "11")


def test_quit_inside_multi_closes(same: Differential) -> None:
    ports = [client.sock.getpeername()[1] for client in (same.redis, same.pulsar)]
    quitting = Differential(RawClient(ports[0]), RawClient(ports[1]))
    quitting("SELECT", "11")
    quitting("WATCH", "a")
    quitting("MULTI")
    quitting("SET", "a", "1")
    quitting("QUIT")
    for client in (quitting.redis, quitting.pulsar):
        with pytest.raises(ConnectionError):
            client.call("PING")
        client.close()
    same("EXISTS", "a")


# -- CLIENT REPLY ------------------------------------------------------------------------


def pipelined(client: RawClient, commands: Sequence[Sequence[Any]]) -> list[Any]:
    """Send the commands in one write, then CLIENT REPLY ON and an ECHO: every reply
    up to the ECHO's."""
    tail = [("CLIENT", "REPLY", "ON"), ("ECHO", "the end")]
    client.send_raw(b"".join(pack_command(*args) for args in [*commands, *tail]))
    replies: list[Any] = []
    while True:
        reply = _normalise(client.read())
        if reply == b"the end":
            return replies
        replies.append(reply)


REPLY_COMMANDS = st.sampled_from(
    [
        ("CLIENT", "REPLY", "ON"),
        ("CLIENT", "REPLY", "OFF"),
        ("CLIENT", "REPLY", "SKIP"),
        ("CLIENT", "REPLY", "MAYBE"),
        ("CLIENT", "REPLY"),
        ("PING", "p"),
        ("INCR", "n"),
        ("GET", "n"),
        ("NOSUCH",),
        ("GET",),
        ("BLPOP", "empty", "0.01"),
        ("MULTI",),
        ("EXEC",),
    ]
)


@SETTINGS
@given(sequence=st.lists(REPLY_COMMANDS, min_size=1, max_size=15))
def test_client_reply_sequences_match_redis(
    same: Differential, sequence: list[tuple[str, ...]]
) -> None:
    # a MULTI left open by the sequence is discarded by the tail's ECHO being queued...
    # so end every sequence outside MULTI, and never with CLIENT REPLY inside EXEC
    # (Redis then sends an array header without its items)
    commands: list[tuple[str, ...]] = [("DEL", "n")]
    in_multi = False
    for args in sequence:
        if args == ("MULTI",):
            in_multi = True
        elif args == ("EXEC",):
            in_multi = False
        elif in_multi and args[0] == "CLIENT":
            continue
        commands.append(args)
    if in_multi:
        commands.append(("DISCARD",))
    assert pipelined(same.pulsar, commands) == pipelined(same.redis, commands)


CLIENT_REPLY_CASES = [
    # the example: +OK +PONG
    [("CLIENT", "REPLY", "OFF"), ("PING",), ("CLIENT", "REPLY", "ON"), ("PING",)],
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "SKIP"), ("PING", "a"), ("PING", "b")],
    [("CLIENT", "REPLY", "OFF"), ("CLIENT", "REPLY", "SKIP"), ("PING", "a")],
    # pub/sub confirmations and messages are sent even while replies are off
    [("CLIENT", "REPLY", "OFF"), ("SUBSCRIBE", "ch"), ("PUBLISH", "ch", "x"), ("RESET",)],
    [("CLIENT", "REPLY", "SKIP"), ("SUBSCRIBE", "ch"), ("PING", "b"), ("RESET",)],
    # RESET turns replies back on, but a SKIP in effect mutes RESET's own reply
    [("CLIENT", "REPLY", "OFF"), ("RESET",), ("PING", "b")],
    [("CLIENT", "REPLY", "SKIP"), ("RESET",), ("PING", "b")],
    [("CLIENT", "REPLY", "SKIP"), ("MULTI",), ("SET", "a", "1"), ("EXEC",)],
]


@pytest.mark.parametrize("commands", CLIENT_REPLY_CASES, ids=lambda c: " ".join(c[1][:2]))
def test_client_reply_cases_match_redis(
    same: Differential, commands: list[tuple[str, ...]]
) -> None:
    assert pipelined(same.pulsar, commands) == pipelined(same.redis, commands)
    for client in (same.redis, same.pulsar):
        client.call("SELECT", "11")  # after RESET


def test_client_reply_mutes_a_blocked_command_s_late_reply(same: Differential) -> None:
    for client in (same.redis, same.pulsar):
        port = client.sock.getpeername()[1]
        pusher = RawClient(port)
        try:
            pusher.call("SELECT", "11")
            client.send_raw(pack_command("CLIENT", "REPLY", "SKIP"))
            client.send_raw(pack_command("BLPOP", "queue", "5"))
            client.send_raw(pack_command("PING", "after"))
            time.sleep(0.1)
            assert pusher.call("RPUSH", "queue", "x") == 1
            assert client.read() == b"after"  # the BLPOP's reply was skipped
        finally:
            pusher.close()


# -- RESET and CLIENT INFO ---------------------------------------------------------------

# CLIENT INFO's fields whose values do not depend on memory, time or ids
STABLE_FIELDS = ("name", "flags", "db", "sub", "psub", "ssub", "multi", "cmd", "user")
STABLE_FIELDS += ("redir", "resp")


def client_info(client: RawClient, line: Any = None) -> tuple[list[str], dict[str, str]]:
    if line is None:
        line = client.call("CLIENT", "INFO")
    assert isinstance(line, bytes) and line.endswith(b"\n"), line
    pairs = [field.split("=", 1) for field in line.decode().split()]
    return [name for name, _ in pairs], {n: v for n, v in pairs if n in STABLE_FIELDS}


def seen_by_another(client: RawClient, name: bytes) -> tuple[list[str], dict[str, str]]:
    """The client's CLIENT LIST line as another connection sees it (inside MULTI its own
    CLIENT INFO would be queued)."""
    other = RawClient(client.sock.getpeername()[1])
    try:
        lines = other.call("CLIENT", "LIST").splitlines(keepends=True)
    finally:
        other.close()
    line = next(row for row in lines if b" name=%s " % name in row)
    names, fields = client_info(client, line)
    fields.pop("cmd")  # PulsarDS names the last command run, Redis the last one queued
    return names, fields


def test_client_info_has_redis_s_fields(same: Differential) -> None:
    for setup in ([], [("CLIENT", "SETNAME", "me")], [("CLIENT", "NO-EVICT", "ON")]):
        for args in setup:
            same(*args)
        assert client_info(same.pulsar) == client_info(same.redis)
    same("CLIENT", "SETNAME", "watched-one")
    same("WATCH", "w")
    same("MULTI")
    same("PING")
    same("ECHO", "x")
    assert seen_by_another(same.pulsar, b"watched-one") == seen_by_another(
        same.redis, b"watched-one"
    )
    same("DISCARD")
    assert client_info(same.pulsar) == client_info(same.redis)


def test_reset_restores_every_piece_of_state(same: Differential) -> None:
    for client in (same.redis, same.pulsar):
        port = client.sock.getpeername()[1]
        other = RawClient(port)
        try:
            other.call("SELECT", "11")
            assert client.call("WATCH", "watched") == b"OK"
            other.call("SET", "watched", "changed")  # the watch is now dirty
        finally:
            other.close()
    same("CLIENT", "SETNAME", "someone")
    same("CLIENT", "NO-EVICT", "ON")
    same("SELECT", "5")
    same("MULTI")
    same("SET", "never", "1")
    pipelined_before = [("CLIENT", "REPLY", "OFF"), ("PING",), ("RESET",), ("PING", "on")]
    assert pipelined(same.pulsar, pipelined_before) == pipelined(same.redis, pipelined_before)
    # database 0, no transaction, no watch, no name, RESP2, replies on, NO-EVICT kept
    # (Redis 7.0 keeps it)
    assert client_info(same.pulsar) == client_info(same.redis)
    same("CLIENT", "GETNAME")
    same("MULTI")
    same("EXEC")  # empty, not aborted: the dirty watch went with RESET
    same("PING")
    for client in (same.redis, same.pulsar):
        client.call("SELECT", "11")
    same("EXISTS", "never")


def test_reset_leaves_the_subscribed_context(same: Differential) -> None:
    same("SUBSCRIBE", "a", "b")
    assert _normalise(same.pulsar.read()) == _normalise(same.redis.read())  # for "b"
    same("PSUBSCRIBE", "p*")
    same("RESET")
    same("PING")
    same("PUBSUB", "NUMSUB", "a", "b")
    same("PUBSUB", "NUMPAT")
    same("SELECT", "11")


def test_reset_goes_back_to_resp2(same: Differential) -> None:
    for client in (same.redis, same.pulsar):
        client.call("HELLO", "3")
    same("RESET")
    same("HGETALL", "nothing")
    same("CLIENT", "GETREDIR")
    for client in (same.redis, same.pulsar):
        client.call("SELECT", "11")


CLIENT_ERRORS = [
    ("CLIENT", "HELP"),
    ("CLIENT", "GETREDIR"),
    ("CLIENT", "GETREDIR", "x"),
    ("CLIENT", "NO-EVICT", "ON"),
    ("CLIENT", "NO-EVICT", "off"),
    ("CLIENT", "NO-EVICT", "x"),
    ("CLIENT", "NO-EVICT"),
    ("CLIENT", "NO-EVICT", "ON", "x"),
    ("CLIENT", "REPLY", "x"),
    ("CLIENT", "REPLY"),
    ("CLIENT", "PAUSE"),
    ("CLIENT", "PAUSE", "x"),
    ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "10", "FOO"),
    ("CLIENT", "PAUSE", "x", "FOO"),
    ("CLIENT", "PAUSE", "1", "2", "3"),
    ("CLIENT", "PAUSE", "0", "WRITE"),
    ("CLIENT", "UNPAUSE", "x"),
    ("CLIENT", "UNPAUSE"),
    ("CLIENT", "UNBLOCK", "x", "MAYBE"),
    ("CLIENT", "UNBLOCK", "x"),
    ("CLIENT", "UNBLOCK", "999999", "ERROR"),
    ("CLIENT", "NOSUCH"),
    ("CLIENT", "ID", "x"),
    ("CLIENT", "LIST", "ID", "x"),
    ("CLIENT", "LIST", "TYPE", "x"),
    ("CLIENT", "LIST", "x"),
    ("CLIENT", "SETNAME", "a b"),
]


@pytest.mark.parametrize("args", CLIENT_ERRORS, ids=" ".join)
def test_client_subcommands_answer_like_redis(same: Differential, args: tuple[str, ...]) -> None:
    same(*args)


# -- CLIENT PAUSE ------------------------------------------------------------------------


def answered_within(client: RawClient, seconds: float) -> bool:
    """Whether a reply (or part of one) arrives within ``seconds``."""
    ready, _, _ = select.select([client.sock], [], [], seconds)
    return bool(ready)


@pytest.fixture
def both_ports(tmp_path: Any) -> Iterator[list[int]]:
    """A redis-server and a PulsarDS of the test's own: a pause stops only them."""
    from tests.conftest import _start_server

    redis = _start_server()
    server = next(redis)
    try:
        with ServerThread(port=0, dir=str(tmp_path), save=[]) as pulsar:
            yield [server.port, pulsar.port]
    finally:
        redis.close()


HELD = 0.3  # a held command gets no answer for this long (a generous lower bound)
SOON = 5.0  # an answer that must come comes within this (a generous upper bound)


def test_pause_write_holds_writes_not_reads(both_ports: list[int]) -> None:
    for port in both_ports:
        pauser, writer, reader = RawClient(port), RawClient(port), RawClient(port)
        try:
            assert pauser.call("CLIENT", "PAUSE", "20000", "WRITE") == b"OK"
            writer.send_raw(pack_command("SET", "k", "v"))
            assert not answered_within(writer, HELD)  # the write waits
            assert reader.call("GET", "k") is None  # reads go on (the loop is not blocked)
            assert reader.call("PING") == b"PONG"
            reader.send_raw(pack_command("MULTI") + pack_command("GET", "k"))
            assert reader.read() == b"OK" and reader.read() == b"QUEUED"
            assert reader.call("EXEC") == [None]  # a transaction of reads is no write
            reader.send_raw(pack_command("PUBLISH", "ch", "m"))  # may replicate: held
            assert not answered_within(reader, HELD)
            assert pauser.call("CLIENT", "UNPAUSE") == b"OK"
            assert answered_within(writer, SOON)
            assert writer.read() == b"OK"
            assert reader.read() == 0
            assert reader.call("GET", "k") == b"v"
        finally:
            for client in (pauser, writer, reader):
                client.close()


def test_pause_ends_at_its_timeout(both_ports: list[int]) -> None:
    for port in both_ports:
        pauser, writer = RawClient(port), RawClient(port)
        try:
            started = time.monotonic()
            assert pauser.call("CLIENT", "PAUSE", "600", "WRITE") == b"OK"
            # the pausing client's own writes wait too, pipelined ones in order
            pauser.send_raw(pack_command("INCR", "n") + pack_command("GET", "n"))
            writer.send_raw(pack_command("INCR", "n"))
            assert not answered_within(pauser, HELD)
            assert answered_within(writer, SOON)
            assert time.monotonic() - started >= HELD
            mine, theirs = pauser.read(), writer.read()
            assert {mine, theirs} == {1, 2}
            assert pauser.read() in (b"1", b"2")
            assert pauser.call("GET", "n") == b"2"
        finally:
            pauser.close()
            writer.close()


def test_pause_all_holds_everything_even_unpause(both_ports: list[int]) -> None:
    for port in both_ports:
        pauser, other = RawClient(port), RawClient(port)
        try:
            started = time.monotonic()
            assert pauser.call("CLIENT", "PAUSE", "700") == b"OK"  # ALL by default
            other.send_raw(pack_command("PING"))
            assert not answered_within(other, HELD)
            assert pauser.call("CLIENT", "UNPAUSE") == b"OK"  # waits for the end as well
            assert time.monotonic() - started >= 0.5
            assert answered_within(other, SOON)
            assert other.read() == b"PONG"
            # commands refused before the pause is looked at are answered at once
            assert pauser.call("CLIENT", "PAUSE", "1000", "ALL") == b"OK"
            assert str(other.call("NOSUCH")).startswith("ERR unknown command")
            assert "wrong number" in str(other.call("GET"))
            other.send_raw(pack_command("CLIENT", "UNPAUSE"))
            assert not answered_within(other, HELD)
            assert answered_within(other, SOON)
            assert other.read() == b"OK"
        finally:
            pauser.close()
            other.close()


def test_a_later_pause_keeps_the_stricter_kind_and_the_later_end(
    both_ports: list[int],
) -> None:
    for port in both_ports:
        pauser, other = RawClient(port), RawClient(port)
        try:
            started = time.monotonic()
            assert pauser.call("CLIENT", "PAUSE", "1500", "WRITE") == b"OK"
            assert pauser.call("CLIENT", "PAUSE", "100", "ALL") == b"OK"  # ALL till 1.5 s
            other.send_raw(pack_command("GET", "k"))
            assert not answered_within(other, 0.6)
            assert answered_within(other, SOON)
            assert other.read() is None
            assert time.monotonic() - started >= 1.0
        finally:
            pauser.close()
            other.close()


# -- the small range bugs ----------------------------------------------------------------

INDEXES = ["-100", "-9", "-7", "-6", "-5", "-2", "-1", "0", "1", "2", "3", "4", "7", "9", "39"]
INDEXES += ["40", "100"]


def test_renamenx_onto_itself(same: Differential) -> None:
    same("SET", "k", "v")
    same("EXPIRE", "k", "100")
    same("RENAMENX", "k", "k")
    same("RENAME", "k", "k")
    same("TTL", "k")
    same("GET", "k")
    same("RENAMENX", "missing", "missing")
    same("RENAME", "missing", "missing")


@pytest.mark.parametrize("value", ["xxxx", "\x00\xff\x0f\xf0\x80", "", "\xff\xff", None])
def test_bit_and_range_commands_read_indexes_like_redis(same: Differential, value: Any) -> None:
    if value is not None:
        same("SET", "s", value.encode("latin-1"))
    for start in INDEXES:
        for end in INDEXES:
            same("GETRANGE", "s", start, end)
            same("BITCOUNT", "s", start, end)
            for unit in ("BIT", "BYTE", "bit"):
                same("BITCOUNT", "s", start, end, unit)
                same("BITPOS", "s", "1", start, end, unit)
                same("BITPOS", "s", "0", start, end, unit)
            same("BITPOS", "s", "0", start, end)
            same("BITPOS", "s", "1", start, end)
        same("BITPOS", "s", "0", start)
        same("BITPOS", "s", "1", start)
    for bit in ("0", "1", "2", "x", "01", "-0"):
        same("BITPOS", "s", bit)
    for args in (
        ("BITCOUNT", "s", "1"),
        ("BITCOUNT", "s", "x", "y"),
        ("BITCOUNT", "s", "-1", "-2", "NOPE"),
        ("BITCOUNT", "s", "0", "1", "NOPE"),
        ("BITCOUNT", "s", "0", "1", "BIT", "x"),
        ("BITPOS", "s", "1", "0", "1", "BIT", "x"),
        ("BITPOS", "s", "1", "0", "1", "NOPE"),
        ("BITPOS", "s", "1", "x"),
        ("BITPOS", "s", "1", "0", "x"),
    ):
        same(*args)


def test_setrange_offsets_like_redis(same: Differential) -> None:
    for offset in ("0", "3", "10", "-1", "x", "536870911", "536870912"):
        for patch in ("", "ab"):
            same("SETRANGE", "r", offset, patch)
            same("GET", "r")
            same("SETRANGE", "missing", offset, patch)
    same("LPUSH", "l", "a")
    for args in (("SETRANGE", "l", "0", ""), ("BITCOUNT", "l"), ("BITPOS", "l", "1")):
        same(*args)
    same("BITPOS", "l", "x")
    same("GETRANGE", "l", "0", "x")


def test_pub_sub_messages_pass_client_reply_off(same: Differential) -> None:
    # Redis sends pushes whatever CLIENT REPLY says (CLIENT_PUSHING): confirmations and
    # the messages another connection publishes
    seen = []
    for client in (same.redis, same.pulsar):
        publisher = RawClient(client.sock.getpeername()[1])
        try:
            client.send_raw(
                pack_command("CLIENT", "REPLY", "OFF")
                + pack_command("SUBSCRIBE", "zz")
                + pack_command("PSUBSCRIBE", "z*")
            )
            assert _normalise(client.read())[0] == b"subscribe"
            assert _normalise(client.read())[0] == b"psubscribe"
            assert publisher.call("PUBLISH", "zz", "hello") == 2
            seen.append(pipelined(client, [("UNSUBSCRIBE",), ("PUNSUBSCRIBE",), ("PING", "muted")]))
        finally:
            publisher.close()
    assert seen[1] == seen[0]
    assert seen[0][:2] == [[b"message", b"zz", b"hello"], [b"pmessage", b"z*", b"zz", b"hello"]]
