"""Glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE) match as redis-server 7.0's stringmatchlen
does, and no pattern can make matching slow (CVE-2022-36021's class of bug), with nocase
too. tests/server/test_differential_state.py compares more: PUBSUB CHANNELS, signed
ranges, nocase against COMMAND LIST FILTERBY PATTERN."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from store.resp import pack_command
from store.server.glob import compile_glob
from tests.server.conftest import RawClient
from tests.server.test_shutdown import serve

DB = "12"


def load(client: RawClient, keys: Sequence[bytes]) -> None:
    client.call("SELECT", DB)
    client.call("FLUSHDB")
    for start in range(0, len(keys), 100):
        assert client.call(
            "MSET", *[part for key in keys[start : start + 100] for part in (key, b"v")]
        )


def keys_replies(client: RawClient, patterns: Sequence[bytes]) -> list[set[bytes]]:
    """KEYS for every pattern, pipelined."""
    replies: list[set[bytes]] = []
    for start in range(0, len(patterns), 200):
        batch = patterns[start : start + 200]
        client.send_raw(b"".join(pack_command("KEYS", pattern) for pattern in batch))
        replies.extend(set(client.read()) for _ in batch)
    return replies


@pytest.fixture
def both(redis_server: Any, tmp_path: Any) -> Iterator[tuple[RawClient, RawClient]]:
    """redis-server and a PulsarDS process of its own: a server pinned by a bad matcher
    makes the test fail on a timeout, and is killed."""
    with serve("--dir", str(tmp_path), "--save", "") as (_, port):
        redis, mine = RawClient(redis_server.port), RawClient(port)
        mine.sock.settimeout(5)
        try:
            yield redis, mine
        finally:
            redis.call("FLUSHDB")
            redis.close()
            mine.close()


def assert_same_keys(
    both: tuple[RawClient, RawClient], keys: Sequence[bytes], patterns: Sequence[bytes]
) -> None:
    redis, mine = both
    load(redis, keys)
    load(mine, keys)
    expected, got = keys_replies(redis, patterns), keys_replies(mine, patterns)
    wrong = [
        f"{pattern!r}: PulsarDS extra {sorted(g - e)[:5]!r} missing {sorted(e - g)[:5]!r}"
        for pattern, e, g in zip(patterns, expected, got, strict=True)
        if e != g
    ]
    assert not wrong, f"{len(wrong)} of {len(patterns)} patterns differ:\n" + "\n".join(wrong[:20])


# Redis's parsing corners: empty and unterminated classes, ranges either way and to ']',
# escapes inside and outside classes, a trailing backslash, runs of stars.
CORNERS = [
    b"",
    b"*",
    b"**",
    b"***a",
    b"a**",
    b"?",
    b"??",
    b"*?",
    b"?*",
    b"[]",
    b"[]a]",
    b"[^]",
    b"[^]a",
    b"[",
    b"[^",
    b"[a",
    b"[ab",
    b"[a-",
    b"[a-]",
    b"[a-]b",
    b"[-a]",
    b"[a-b-]",
    b"[z-a]",
    b"[b-a]*",
    b"[\\]]",
    b"[\\]",
    b"[\\",
    b"[a\\-c]",
    b"\\",
    b"a\\",
    b"\\*",
    b"\\?",
    b"\\[",
    b"\\a",
    b"*\\",
    b"[*]",
    b"[?]",
    b"[[]",
    b"[^^]",
    b"[^-]",
    b"[]-a]",
    b"[a-\\]]",
    b"*[",
    b"*[]",
    b"*[^]",
    b"a[",
    b"[^a-b]*",
    b"*-*",
    b"*]*",
    b"^*",
]


def test_keys_match_like_redis_for_random_patterns(both: tuple[RawClient, RawClient]) -> None:
    rng = random.Random(36021)
    keys = {b"", b"a" * 40, b"a" * 45 + b"b", b"ab" * 25}
    while len(keys) < 300:
        keys.add(bytes(rng.choice(b"ab-]^[\\*?c") for _ in range(rng.randint(1, 8))))
    patterns = list(CORNERS)
    for _ in range(2500):
        patterns.append(bytes(rng.choice(b"ab*?[]^-\\") for _ in range(rng.randint(0, 10))))
    assert_same_keys(both, sorted(keys), patterns)


def test_the_nesting_limit_is_redis_s(both: tuple[RawClient, RawClient]) -> None:
    # Redis gives up at the 1001st star unless it ends the pattern.
    keys = [b"a" * 1100, b"a" * 1100 + b"b", b"a" * 999]
    patterns = [
        b"*a" * 1000,
        b"*a" * 1001,
        b"*a" * 1000 + b"*",
        b"*a" * 1001 + b"*",
        b"a*" * 1000 + b"a",
        b"a*" * 1001,
        b"a*" * 1002,
        b"*?" * 1000 + b"**",
        b"*" * 3000 + b"a",
        # long patterns cost time linear in their length, like Redis's
        b"a*" * 200_000 + b"b",
        b"*?" + b"a" * 1_000_000 + b"*",
        b"[" + b"a-" * 300_000,
    ]
    assert_same_keys(both, keys, patterns)


# The shapes that backtrack exponentially when a star is a regex's .*
WORST = [
    b"a*" * 20 + b"b",
    b"a*" * 35 + b"b",
    b"a*" * 50 + b"b",
    b"*a" * 50 + b"b",
    b"*?" * 40 + b"b",
    b"?*" * 45 + b"c",
    b"*[a-z]" * 30 + b"*b",
    b"*[[a]" * 30 + b"*b",
    b"*[^b]*[^]" * 20 + b"*c",
    b"*\\a" * 40 + b"*b",
    b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*aab",
]


def test_worst_patterns_answer_fast(both: tuple[RawClient, RawClient]) -> None:
    redis, mine = both
    keys = [b"a" * n for n in range(40, 60)] + [b"a" * 60 + b"b", b"ab" * 30]
    keys += [b"key:%d:" % i + b"a" * 40 for i in range(300)]
    load(redis, keys)
    expected = keys_replies(redis, WORST)
    load(mine, keys)
    for pattern, want in zip(WORST, expected, strict=True):
        started = time.monotonic()
        got = set(mine.call("KEYS", pattern))
        elapsed = time.monotonic() - started
        assert got == want, pattern
        assert elapsed < 0.1, f"KEYS {pattern!r} took {elapsed:.3f} s"
        assert mine.call("PING") == b"PONG"


def test_scan_match_and_psubscribe_match_like_redis(
    both: tuple[RawClient, RawClient],
) -> None:
    # Redis reads [a-] as the range ] to a in a class left open: "[a-]x" matches "^",
    # never "ax"; SCAN MATCH and PSUBSCRIBE go through the same matcher as KEYS.
    names = [b"^", b"-x", b"ax", b"x", b"]", b"a"]
    patterns = [b"[a-]x", b"[]x", b"[^]", b"?\\", b"[\\-x]"]

    def observe(client: RawClient) -> list[Any]:
        load(client, names)
        seen: list[Any] = []
        port = client.sock.getpeername()[1]
        for pattern in patterns:
            seen.append(set(client.call("SCAN", "0", "MATCH", pattern, "COUNT", "1000")[1]))
            subscriber = RawClient(port)
            try:
                subscriber.call("PSUBSCRIBE", pattern)
                seen.append([client.call("PUBLISH", name, "m") for name in names])
            finally:
                subscriber.close()
        return seen

    redis, mine = both
    assert observe(mine) == observe(redis)


def test_nocase_patterns_cost_no_more() -> None:
    # CONFIG GET, COMMAND LIST FILTERBY PATTERN and FUNCTION LIST LIBRARYNAME match with
    # nocase: the same bound, literal runs kept whole rather than a class per letter
    keys = [b"a" * n for n in range(40, 60)] + [b"A" * 60 + b"b", b"aB" * 30]
    long_ones = [b"a*" * 200_000 + b"b", b"*?" + b"A" * 1_000_000 + b"*", b"x" * 1_000_000]
    for pattern in WORST + long_ones:
        started = time.monotonic()
        match = compile_glob(pattern, nocase=True)
        found = [key for key in keys if match(key)]
        elapsed = time.monotonic() - started
        assert elapsed < 0.1, f"{pattern[:40]!r}... took {elapsed:.3f} s"
        if b"[" not in pattern:  # no class: nocase is matching the lowered key
            assert found == [key for key in keys if compile_glob(pattern)(key.lower())]
