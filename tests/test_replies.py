"""Reply shaping: RESP2 and RESP3 inputs, raw (bytes) and decoded (str), give one shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store import replies

members = st.binary(max_size=8)
scores = st.floats(allow_nan=False)


def text(value: Any) -> Any:
    """The same reply as a store with decode_responses would hand it over."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    return value


def same(callback: Any, resp2: Any, resp3: Any, expected: Any) -> None:
    """callback gives ``expected`` for both protocols, and its text twin for decoded replies."""
    assert callback(resp2) == expected
    assert callback(resp3) == expected
    assert callback(text(resp2)) == text_of(expected)
    assert callback(text(resp3)) == text_of(expected)


def text_of(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, tuple):
        return tuple(text_of(v) for v in value)
    if isinstance(value, list):
        return [text_of(v) for v in value]
    if isinstance(value, set):
        return {text_of(v) for v in value}
    if isinstance(value, dict):
        return {text_of(k): text_of(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------- simple values


def test_ok() -> None:
    assert replies.ok(b"OK") is True
    assert replies.ok("OK") is True
    assert replies.ok(b"QUEUED") is False


def test_set_result() -> None:
    assert replies.set_result(b"OK") is True
    assert replies.set_result("OK") is True
    assert replies.set_result(None) is None


def test_pong() -> None:
    assert replies.pong(b"PONG") is True
    assert replies.pong("PONG") is True
    assert replies.pong(b"nope") is False


def test_bool_list() -> None:
    same(replies.bool_list, [1, 0, 1], [1, 0, 1], [True, False, True])
    assert replies.bool_list([True, False]) == [True, False]
    assert replies.bool_list([]) == []


def test_float_or_none() -> None:
    same(replies.float_or_none, b"1.5", 1.5, 1.5)
    same(replies.float_or_none, None, None, None)
    assert replies.float_or_none(b"inf") == float("inf")
    assert replies.float_or_none("-inf") == float("-inf")
    assert replies.float_or_none(b"3") == 3.0
    assert type(replies.float_or_none(b"3")) is float


def test_float_list() -> None:
    same(replies.float_list, [b"1", None, b"2.5"], [1.0, None, 2.5], [1.0, None, 2.5])
    assert replies.float_list([]) == []


def test_to_set() -> None:
    same(replies.to_set, [b"a", b"b"], [b"b", b"a"], {b"a", b"b"})
    same(replies.to_set, [], [], set())
    assert replies.to_set(None) == set()
    assert replies.to_set({b"a"}) == {b"a"}


def test_str_if_bytes() -> None:
    assert replies.str_if_bytes(b"abc") == "abc"
    assert replies.str_if_bytes("abc") == "abc"
    assert replies.str_if_bytes(3) == 3
    assert replies.str_if_bytes(None) is None
    assert replies.str_if_bytes(b"\xff") == "\ufffd"


def test_str_or_none() -> None:
    assert replies.str_or_none(b"name") == "name"
    assert replies.str_or_none("name") == "name"
    assert replies.str_or_none(None) is None


# --------------------------------------------------------------------------- dicts


def test_pairs_to_dict() -> None:
    same(
        replies.pairs_to_dict,
        [b"f1", b"v1", b"f2", b"v2"],
        {b"f1": b"v1", b"f2": b"v2"},
        {b"f1": b"v1", b"f2": b"v2"},
    )
    same(replies.pairs_to_dict, [], {}, {})
    assert replies.pairs_to_dict(None) == {}


def test_pairs_to_dict_resp3_passes_through() -> None:
    reply = {b"a": b"1"}
    assert replies.pairs_to_dict(reply) is reply


def test_pairs_to_dict_rejects_odd_length() -> None:
    with pytest.raises(ValueError):
        replies.pairs_to_dict([b"a", b"1", b"b"])


def test_str_dict() -> None:
    resp2 = [b"maxmemory", b"0", b"timeout", b"300"]
    resp3 = {b"maxmemory": b"0", b"timeout": b"300"}
    expected = {"maxmemory": "0", "timeout": "300"}
    for reply in (resp2, resp3, text(resp2), text(resp3)):
        assert replies.str_dict(reply) == expected
    assert replies.str_dict([]) == {}
    assert replies.str_dict({}) == {}


# ---------------------------------------------------------------------- score pairs


def test_score_pairs_withscores() -> None:
    # ZRANGE/ZRANGEBYSCORE/ZRANDMEMBER WITHSCORES, ZPOPMIN with a count
    same(
        replies.score_pairs,
        [b"a", b"1", b"b", b"2.5"],
        [[b"a", 1.0], [b"b", 2.5]],
        [(b"a", 1.0), (b"b", 2.5)],
    )


def test_score_pairs_zpopmin_without_count() -> None:
    # RESP3 answers ZPOPMIN key (no count) with a flat [member, double]
    same(replies.score_pairs, [b"a", b"1"], [b"a", 1.0], [(b"a", 1.0)])


def test_score_pairs_empty() -> None:
    same(replies.score_pairs, [], [], [])
    assert replies.score_pairs(None) == []


def test_score_pairs_inf_and_string_scores_in_resp3() -> None:
    assert replies.score_pairs([b"a", b"-inf", b"b", b"inf"]) == [
        (b"a", float("-inf")),
        (b"b", float("inf")),
    ]
    # a RESP3 server that still sends scores as strings gets floats too
    assert replies.score_pairs([[b"a", b"2"]]) == [(b"a", 2.0)]


def test_score_pairs_scores_are_floats() -> None:
    for reply in ([b"a", b"1"], [[b"a", 1.0]]):
        ((_, score),) = replies.score_pairs(reply)
        assert type(score) is float


@given(st.lists(st.tuples(members, scores), max_size=20))
def test_score_pairs_resp2_equals_resp3(pairs: list[tuple[bytes, float]]) -> None:
    # RESP2 sends scores as strings (repr round-trips); RESP3 as doubles in nested pairs
    resp2 = [x for m, s in pairs for x in (m, repr(s).encode())]
    resp3 = [[m, s] for m, s in pairs]
    assert replies.score_pairs(resp2) == replies.score_pairs(resp3) == pairs


@given(st.dictionaries(members, members, max_size=20))
def test_pairs_to_dict_resp2_equals_resp3(mapping: dict[bytes, bytes]) -> None:
    resp2 = [x for pair in mapping.items() for x in pair]
    assert replies.pairs_to_dict(resp2) == replies.pairs_to_dict(mapping) == mapping


def test_score_pairs_cast() -> None:
    shape = replies.score_pairs_cast(int)
    same(shape, [b"a", b"1", b"b", b"2"], [[b"a", 1.0], [b"b", 2.0]], [(b"a", 1), (b"b", 2)])


def test_pairs() -> None:
    # HRANDFIELD WITHVALUES: flat in RESP2, nested in RESP3
    same(
        replies.pairs,
        [b"f1", b"v1", b"f2", b"v2"],
        [[b"f1", b"v1"], [b"f2", b"v2"]],
        [(b"f1", b"v1"), (b"f2", b"v2")],
    )
    same(replies.pairs, [], [], [])


def test_pairs_keeps_repeats() -> None:
    # a negative count may repeat fields: a dict would lose them
    assert replies.pairs([b"f", b"v", b"f", b"v"]) == [(b"f", b"v"), (b"f", b"v")]


# ----------------------------------------------------------------------------- scan


def test_scan() -> None:
    same(replies.scan, [b"17", [b"k1", b"k2"]], [b"17", [b"k1", b"k2"]], (17, [b"k1", b"k2"]))
    same(replies.scan, [b"0", []], [b"0", []], (0, []))


def test_scan_hash() -> None:
    same(
        replies.scan_hash,
        [b"0", [b"f", b"v", b"g", b"w"]],
        [b"0", [b"f", b"v", b"g", b"w"]],
        (0, {b"f": b"v", b"g": b"w"}),
    )
    assert replies.scan_hash([b"5", []]) == (5, {})


def test_scan_zset() -> None:
    same(
        replies.scan_zset,
        [b"0", [b"a", b"1", b"b", b"2"]],
        [b"0", [b"a", b"1", b"b", b"2"]],
        (0, [(b"a", 1.0), (b"b", 2.0)]),
    )
    # in case a server nests the pairs under RESP3
    assert replies.scan_zset([b"3", [[b"a", 1.0]]]) == (3, [(b"a", 1.0)])


def test_scan_zset_cast() -> None:
    shape = replies.scan_zset_cast(int)
    assert shape([b"0", [b"a", b"1.0"]]) == (0, [(b"a", 1)])


# --------------------------------------------------------------------- blocking pops


def test_pop_pair() -> None:
    same(replies.pop_pair, [b"list", b"x"], [b"list", b"x"], (b"list", b"x"))
    same(replies.pop_pair, None, None, None)


def test_bzpop() -> None:
    same(replies.bzpop, [b"z", b"m", b"1.5"], [b"z", b"m", 1.5], (b"z", b"m", 1.5))
    same(replies.bzpop, None, None, None)


# --------------------------------------------------------------------------- server


def test_time() -> None:
    same(replies.time, [b"1700000000", b"123456"], [b"1700000000", b"123456"], (1700000000, 123456))


def test_timestamp() -> None:
    assert replies.timestamp(1700000000) == datetime.fromtimestamp(1700000000)
    assert replies.timestamp(b"1700000000") == datetime.fromtimestamp(1700000000)
    assert replies.timestamp(None) is None


INFO = (
    b"# Server\r\n"
    b"redis_version:7.0.15\r\n"
    b"redis_mode:standalone\r\n"
    b"process_id:42\r\n"
    b"executable:/usr/bin/redis-server\r\n"
    b"config_file:\r\n"
    b"\r\n"
    b"# Memory\r\n"
    b"mem_fragmentation_ratio:1.25\r\n"
    b"\r\n"
    b"# Commandstats\r\n"
    b"cmdstat_host:calls=1,usec=2,usec_per_call=2.00\r\n"
    b"# Modules\r\n"
    b"module:name=search,ver=20000\r\n"
    b"module:name=json,ver=10000\r\n"
    b"# Keyspace\r\n"
    b"db0:keys=1,expires=0,avg_ttl=0\r\n"
    b"db3:keys=20,expires=2,avg_ttl=120\r\n"
    b"io_threads:a,b,c\r\n"
    b"flags:x=1,standalone\r\n"
    b"just a raw line\r\n"
)


def test_info() -> None:
    # RESP3 sends a verbatim string: the reader passes its text, bytes or str
    for reply in (INFO, INFO.decode()):
        info = replies.info(reply)
        assert info["redis_version"] == "7.0.15"
        assert info["redis_mode"] == "standalone"
        assert info["process_id"] == 42
        assert info["executable"] == "/usr/bin/redis-server"
        assert info["config_file"] == ""
        assert info["mem_fragmentation_ratio"] == 1.25
        assert info["db0"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
        assert info["db3"] == {"keys": 20, "expires": 2, "avg_ttl": 120}
        assert info["cmdstat_host"] == {"calls": 1, "usec": 2, "usec_per_call": 2.0}
        assert info["modules"] == [
            {"name": "search", "ver": 20000},
            {"name": "json", "ver": 10000},
        ]
        assert info["io_threads"] == ["a", "b", "c"]
        assert info["flags"] == {"x": 1, "standalone": True}
        assert info["__raw__"] == ["just a raw line"]
        assert not any(key.startswith("#") for key in info)


def test_info_matches_redis_py() -> None:
    helpers = pytest.importorskip("redis._parsers.helpers")
    assert replies.info(INFO) == helpers.parse_info(INFO)


def test_info_empty() -> None:
    assert replies.info(b"") == {}


CLIENTS = (
    b"id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name= age=0 cmd=client|list\n"
    b"id=4 addr=/tmp/redis sock/r.sock:0 fd=9 name=worker age=3 cmd=get\n"
)


def test_client_list() -> None:
    for reply in (CLIENTS, CLIENTS.decode()):
        clients = replies.client_list(reply)
        assert len(clients) == 2
        assert clients[0]["id"] == "3"
        assert clients[0]["name"] == ""
        assert clients[0]["cmd"] == "client|list"
        assert clients[1]["addr"] == "/tmp/redis sock/r.sock:0"
        assert clients[1]["name"] == "worker"
    assert replies.client_list(b"") == []


def test_every_public_callback_is_tested() -> None:
    from tests import test_replies_commands  # the callbacks of the newer command families

    names = [*globals(), *vars(test_replies_commands)]
    tested = {name[5:] for name in names if name.startswith("test_")}
    missing = [
        name
        for name in replies.__all__
        if not any(t == name or t.startswith(name + "_") for t in tested)
    ]
    assert missing == []
