"""The sans-IO client-side cache (store.client_cache): which commands, LRU bounds, TTL,
tickets of reads in flight, invalidation by key and of everything."""

from __future__ import annotations

import pytest

from store.client_cache import CACHEABLE, MISS, ClientCache, cacheable_names, reply_size
from store.command_table import COMMANDS
from store.errors import ImproperlyConfigured
from store.url import coerce_option


def test_the_commands_chosen_by_the_table() -> None:
    for name in ("get", "GET", b"get", b"GET", "hget", "lrange", "zscore", "strlen", "hgetall"):
        assert CACHEABLE[name] == 1
    for name in (
        "set",  # writes
        "ttl",  # depends on the time
        "pttl",
        "mget",  # several keys
        "exists",
        "srandmember",  # nondeterministic output
        "hrandfield",
        "blpop",  # blocks
        "sort_ro",  # reads the keys of its patterns too
        "object",  # a container
        "randomkey",  # no key
        "scan",
    ):
        assert name not in CACHEABLE
    for name in cacheable_names():
        info = COMMANDS[name]
        assert info.readonly and not info.blocking and "nondeterministic_output" not in info.tips
        assert info.key_positions([name, "k", "1", "2", "3"])[:1] in ([1], [])


def _cache(**kw: object) -> ClientCache:
    return ClientCache(**kw)  # type: ignore[arg-type]


def test_get_put_and_counters() -> None:
    cache = _cache()
    assert cache.get(b"GET k") is MISS
    ticket = cache.reserve(b"k")
    assert cache.put(ticket, b"GET k", b"v")
    assert cache.get(b"GET k") == b"v"
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 1, 1)
    assert stats.bytes > 0


def test_an_invalidation_drops_every_entry_of_its_key() -> None:
    cache = _cache()
    for command in (b"GET k", b"STRLEN k", b"GETRANGE k 0 1"):
        cache.put(cache.reserve(b"k"), command, b"x")
    cache.put(cache.reserve(b"other"), b"GET other", b"y")
    cache.invalidate([b"k", b"unknown"])
    assert cache.get(b"GET k") is MISS and cache.get(b"STRLEN k") is MISS
    assert cache.get(b"GET other") == b"y"
    assert cache.stats().invalidations == 3
    cache.invalidate(None)  # FLUSHALL's null
    assert len(cache) == 0 and cache.total_bytes == 0


def test_a_read_in_flight_invalidated_is_not_stored() -> None:
    cache = _cache()
    ticket = cache.reserve(b"k")
    cache.invalidate([b"k"])
    assert not cache.put(ticket, b"GET k", b"old")
    assert cache.get(b"GET k") is MISS
    ticket = cache.reserve(b"k")
    cache.invalidate_all()
    assert not cache.put(ticket, b"GET k", b"old")
    ticket = cache.reserve(b"k")
    cache.release(ticket)  # the read failed
    assert not cache._pending


def test_lru_by_entries_and_bytes() -> None:
    cache = _cache(max_entries=3)
    for index in range(3):
        cache.put(cache.reserve(b"k%d" % index), b"GET k%d" % index, b"v")
    assert cache.get(b"GET k0") == b"v"  # now the most recently used
    cache.put(cache.reserve(b"k3"), b"GET k3", b"v")
    assert cache.get(b"GET k1") is MISS  # the least recently used went
    assert cache.get(b"GET k0") == b"v"
    assert cache.stats().evictions == 1
    small = _cache(max_entries=None, max_bytes=1000)
    for index in range(20):
        small.put(small.reserve(b"k%d" % index), b"GET k%d" % index, b"v" * 100)
        assert small.total_bytes <= 1000
    assert 0 < len(small) < 20
    assert not small.put(small.reserve(b"big"), b"GET big", b"v" * 2000)  # larger than it all


def test_ttl() -> None:
    now = [100.0]
    cache = _cache(ttl=5.0, clock=lambda: now[0])
    cache.put(cache.reserve(b"k"), b"GET k", b"v")
    now[0] = 104.9
    assert cache.get(b"GET k") == b"v"
    now[0] = 105.0
    assert cache.get(b"GET k") is MISS
    assert cache.stats().evictions == 1


def test_owner_gone() -> None:
    alive = {"a": True}
    cache = _cache(owner_alive=lambda owner: alive[owner])
    cache.put(cache.reserve(b"k"), b"GET k", b"v", owner="a")
    assert cache.get(b"GET k") == b"v"
    alive["a"] = False
    assert cache.get(b"GET k") is MISS


def test_containers_are_copied() -> None:
    cache = _cache()
    reply = [b"a", [b"b"], {b"c": [b"d"]}]
    cache.put(cache.reserve(b"k"), b"LRANGE k 0 -1", reply)
    reply.append(b"mine")
    got = cache.get(b"LRANGE k 0 -1")
    assert got == [b"a", [b"b"], {b"c": [b"d"]}]
    got[1].append(b"x")
    got[2][b"c"].clear()
    assert cache.get(b"LRANGE k 0 -1") == [b"a", [b"b"], {b"c": [b"d"]}]
    assert reply_size([b"ab", {b"c": 1}]) > reply_size(b"ab")


def test_the_options() -> None:
    assert coerce_option("client_cache", "true") is True
    assert coerce_option("client_cache", "false") is False
    assert coerce_option("client_cache", "0") is False
    assert coerce_option("client_cache", "500") == 500
    assert coerce_option("client_cache", 500) == 500
    with pytest.raises(ImproperlyConfigured, match="true, false or a number of entries"):
        coerce_option("client_cache", "lots")
    assert coerce_option("client_cache_max_bytes", "1000000") == 1_000_000
    assert coerce_option("client_cache_ttl", "2.5") == 2.5
    assert coerce_option("client_cache_prefixes", "a:,b:") == "a:,b:"
    assert coerce_option("client_cache_prefixes", ["a:", "b:"]) == "a:,b:"
    with pytest.raises(ImproperlyConfigured):
        coerce_option("client_cache_prefixes", 3)
