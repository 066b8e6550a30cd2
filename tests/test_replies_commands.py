"""Unit tests of the reply callbacks added for issue 15 (streams, geo, server, cluster...):
each fed the RESP2 and the RESP3 form of a reply, as the reader hands them over, and
expected to give one shape. (tests/_async/test_commands_*.py check the same against real
servers.)
"""

from __future__ import annotations

import pytest

from store import replies

ENTRY2 = [b"1-0", [b"f", b"v"]]


def test_stream_entries() -> None:
    assert replies.stream_entries([ENTRY2, [b"2-0", None], None]) == [
        (b"1-0", {b"f": b"v"}),
        (b"2-0", None),
        (None, None),
    ]
    assert replies.stream_entries(None) == []
    assert replies.stream_entries([]) == []


def test_xread() -> None:
    resp2 = [[b"s", [ENTRY2]]]
    resp3 = {b"s": [ENTRY2]}
    assert replies.xread(resp2) == replies.xread(resp3) == [[b"s", [(b"1-0", {b"f": b"v"})]]]
    assert replies.xread(None) == replies.xread({}) == []


def test_xpending() -> None:
    reply = [2, b"1-0", b"2-0", [[b"alice", b"2"]]]
    assert replies.xpending(reply) == {
        "pending": 2,
        "min": b"1-0",
        "max": b"2-0",
        "consumers": [{"name": b"alice", "pending": 2}],
    }
    assert replies.xpending([0, None, None, None])["consumers"] == []


def test_xpending_range() -> None:
    assert replies.xpending_range([[b"1-0", b"c", 5, 1]]) == [
        {"message_id": b"1-0", "consumer": b"c", "time_since_delivered": 5, "times_delivered": 1}
    ]


def test_xautoclaim() -> None:
    assert replies.xautoclaim([b"0-0", [ENTRY2], [b"3-0"]]) == [
        b"0-0",
        [(b"1-0", {b"f": b"v"})],
        [b"3-0"],
    ]


def test_xautoclaim_justid() -> None:
    assert replies.xautoclaim_justid([b"0-0", [b"1-0"], []]) == [b"1-0"]


def test_str_keys() -> None:
    assert replies.str_keys([b"a", 1, b"b", b"x"]) == replies.str_keys({b"a": 1, b"b": b"x"})
    assert replies.str_keys([b"a", 1]) == {"a": 1}
    assert replies.str_keys(None) == replies.str_keys([]) == {}
    with pytest.raises(ValueError):
        replies.str_keys([b"odd"])


def test_list_of_str_dicts() -> None:
    assert replies.list_of_str_dicts([[b"name", b"g"], {b"name": b"h"}]) == [
        {"name": b"g"},
        {"name": b"h"},
    ]


def test_xinfo_stream() -> None:
    resp2 = [b"length", 1, b"first-entry", ENTRY2, b"last-entry", None]
    resp3 = {b"length": 1, b"first-entry": ENTRY2, b"last-entry": None}
    expected = {"length": 1, "first-entry": (b"1-0", {b"f": b"v"}), "last-entry": None}
    assert replies.xinfo_stream(resp2) == replies.xinfo_stream(resp3) == expected


def test_xinfo_stream_full() -> None:
    resp2 = [
        b"entries",
        [ENTRY2],
        b"groups",
        [[b"name", b"g", b"consumers", [[b"name", b"c", b"pel-count", 1]]]],
    ]
    resp3 = {
        b"entries": [ENTRY2],
        b"groups": [{b"name": b"g", b"consumers": [{b"name": b"c", b"pel-count": 1}]}],
    }
    expected = {
        "entries": {b"1-0": {b"f": b"v"}},
        "groups": [{"name": b"g", "consumers": [{"name": b"c", "pel-count": 1}]}],
    }
    assert replies.xinfo_stream_full(resp2) == replies.xinfo_stream_full(resp3) == expected


def test_str_list() -> None:
    assert replies.str_list([b"a", "b", None]) == ["a", "b", None]


def test_geopos() -> None:
    assert replies.geopos([[b"13.5", b"38.1"], None]) == [(13.5, 38.1), None]
    assert replies.geopos([[13.5, 38.1]]) == [(13.5, 38.1)]


def test_geo_results() -> None:
    assert replies.geo_results(False, False, False)([b"a", b"b"]) == [b"a", b"b"]
    row = [b"a", b"1.5", 3479, [b"13.5", b"38.1"]]
    assert replies.geo_results(True, True, True)([row]) == [[b"a", 1.5, 3479, (13.5, 38.1)]]
    assert replies.geo_results(True, False, False)([[b"a", b"1.5"]]) == [[b"a", 1.5]]
    assert replies.geo_results(False, False, True)([[b"a", [1.0, 2.0]]]) == [[b"a", (1.0, 2.0)]]
    # the shapes are made once, not per call
    assert replies.geo_results(1, 0, 0) is replies.geo_results(True, False, False)


def test_lcs_idx() -> None:
    matches = [[[4, 7], [5, 8]]]
    assert replies.lcs_idx([b"matches", matches, b"len", 6]) == {"matches": matches, "len": 6}
    assert replies.lcs_idx({b"matches": matches, b"len": 6}) == {"matches": matches, "len": 6}


def test_sort_groups() -> None:
    assert replies.sort_groups(2)([b"1", b"a", b"2", b"b"]) == [(b"1", b"a"), (b"2", b"b")]
    assert replies.sort_groups(3)([]) == []


def test_zmpop() -> None:
    resp2 = [b"z", [[b"a", b"1.5"]]]
    resp3 = [b"z", [[b"a", 1.5]]]
    assert replies.zmpop(resp2) == replies.zmpop(resp3) == [b"z", [(b"a", 1.5)]]
    assert replies.zmpop(None) is None


def test_true() -> None:
    assert replies.true(b"Background saving started") is True


def test_acl_getuser() -> None:
    resp2 = [
        b"flags",
        [b"on"],
        b"passwords",
        [b"abc"],
        b"commands",
        b"+@all -set",
        b"keys",
        b"~a* %R~b*",
        b"channels",
        b"",
        b"selectors",
        [[b"commands", b"+get", b"keys", b"~x"]],
    ]
    resp3 = {
        b"flags": [b"on"],
        b"passwords": [b"abc"],
        b"commands": b"+@all -set",
        b"keys": b"~a* %R~b*",
        b"channels": b"",
        b"selectors": [{b"commands": b"+get", b"keys": b"~x"}],
    }
    expected = {
        "flags": ["on"],
        "passwords": ["abc"],
        "commands": ["-set"],
        "categories": ["+@all"],
        "keys": ["~a*", "%R~b*"],
        "channels": [],
        "selectors": [{"commands": "+get", "keys": "~x"}],
        "enabled": True,
    }
    assert replies.acl_getuser(resp2) == replies.acl_getuser(resp3) == expected
    assert replies.acl_getuser(None) is None


def test_acl_log() -> None:
    resp2 = [[b"count", 1, b"reason", b"auth", b"age-seconds", b"0.5", b"client-info", b"id=3 a=b"]]
    resp3 = [{b"count": 1, b"reason": b"auth", b"age-seconds": 0.5, b"client-info": b"id=3 a=b"}]
    expected = [
        {"count": 1, "reason": "auth", "age-seconds": 0.5, "client-info": {"id": "3", "a": "b"}}
    ]
    assert replies.acl_log(resp2) == replies.acl_log(resp3) == expected


def test_client_info() -> None:
    assert replies.client_info(b"id=3 addr=127.0.0.1:5 name=\n") == {
        "id": "3",
        "addr": "127.0.0.1:5",
        "name": "",
    }
    assert replies.client_info(b"") == {}


def test_trackinginfo() -> None:
    resp2 = [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]
    resp3 = {b"flags": [b"off"], b"redirect": -1, b"prefixes": []}
    expected = {"flags": ["off"], "redirect": -1, "prefixes": []}
    assert replies.trackinginfo(resp2) == replies.trackinginfo(resp3) == expected


def _get_row(spec: object) -> list[object]:
    return [b"get", 2, [b"readonly"], 1, 1, 1, [b"@read"], [], [spec], []]


def test_command_info() -> None:
    spec2 = [
        b"flags",
        [b"RO"],
        b"begin_search",
        [b"type", b"index", b"spec", [b"index", 1]],
        b"find_keys",
        [b"type", b"range", b"spec", [b"lastkey", 0, b"keystep", 1, b"limit", 0]],
    ]
    spec3 = {
        b"flags": [b"RO"],
        b"begin_search": {b"type": b"index", b"spec": {b"index": 1}},
        b"find_keys": {b"type": b"range", b"spec": {b"lastkey": 0, b"keystep": 1, b"limit": 0}},
    }
    two = replies.command_info([_get_row(spec2), None])
    assert two == replies.command_info([_get_row(spec3)])
    get = two["get"]
    assert get["flags"] == ["readonly"] and get["acl_categories"] == ["@read"]
    assert get["key_specifications"] == [
        {
            "flags": ["RO"],
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}},
        }
    ]


def test_command_docs() -> None:
    resp2 = [
        b"get",
        [
            b"summary",
            b"Get",
            b"history",
            [[b"2.6", b"added"]],
            b"arguments",
            [[b"name", b"key", b"flags", [b"optional"]]],
            b"subcommands",
            [b"get|x", [b"summary", b"X"]],
        ],
    ]
    resp3 = {
        b"get": {
            b"summary": b"Get",
            b"history": [[b"2.6", b"added"]],
            b"arguments": [{b"name": b"key", b"flags": [b"optional"]}],
            b"subcommands": {b"get|x": {b"summary": b"X"}},
        }
    }
    expected = {
        "get": {
            "summary": "Get",
            "history": [["2.6", "added"]],
            "arguments": [{"name": "key", "flags": ["optional"]}],
            "subcommands": {"get|x": {"summary": "X"}},
        }
    }
    assert replies.command_docs(resp2) == replies.command_docs(resp3) == expected


def test_keys_and_flags() -> None:
    assert replies.keys_and_flags([[b"k", [b"RW", b"access"]]]) == [[b"k", ["RW", "access"]]]


def test_memory_stats() -> None:
    resp2 = [b"peak.allocated", 10, b"dataset.percentage", b"12.5", b"db.0", [b"x", 1]]
    resp3 = {b"peak.allocated": 10, b"dataset.percentage": 12.5, b"db.0": {b"x": 1}}
    expected = {"peak.allocated": 10, "dataset.percentage": 12.5, "db.0": {"x": 1}}
    assert replies.memory_stats(resp2) == replies.memory_stats(resp3) == expected


def test_slowlog() -> None:
    item = [1, 1700000000, 5, [b"SET", b"k", b"v"], b"127.0.0.1:5", b""]
    assert replies.slowlog([item]) == [
        {
            "id": 1,
            "start_time": 1700000000,
            "duration": 5,
            "command": b"SET k v",
            "client_address": b"127.0.0.1:5",
            "client_name": b"",
        }
    ]
    assert replies.slowlog([[1, 1, 1, ["GET", "k"]]])[0]["command"] == "GET k"


def test_latency_histogram() -> None:
    resp2 = [b"set", [b"calls", 2, b"histogram_usec", [1, 1, 2, 2]]]
    resp3 = {b"set": {b"calls": 2, b"histogram_usec": {1: 1, 2: 2}}}
    expected = {"set": {"calls": 2, "histogram_usec": {1: 1, 2: 2}}}
    assert replies.latency_histogram(resp2) == replies.latency_histogram(resp3) == expected


def test_function_list() -> None:
    resp2 = [
        [
            b"library_name",
            b"lib",
            b"functions",
            [[b"name", b"f", b"description", None, b"flags", [b"no-writes"]]],
        ]
    ]
    resp3 = [
        {
            b"library_name": b"lib",
            b"functions": [{b"name": b"f", b"description": None, b"flags": [b"no-writes"]}],
        }
    ]
    expected = [
        {
            "library_name": b"lib",
            "functions": [{"name": b"f", "description": None, "flags": ["no-writes"]}],
        }
    ]
    assert replies.function_list(resp2) == replies.function_list(resp3) == expected


def test_function_stats() -> None:
    resp2 = [
        b"running_script",
        None,
        b"engines",
        [b"LUA", [b"libraries_count", 1, b"functions_count", 2]],
    ]
    resp3 = {
        b"running_script": None,
        b"engines": {b"LUA": {b"libraries_count": 1, b"functions_count": 2}},
    }
    expected = {
        "running_script": None,
        "engines": {"LUA": {"libraries_count": 1, "functions_count": 2}},
    }
    assert replies.function_stats(resp2) == replies.function_stats(resp3) == expected


def test_cluster_info() -> None:
    assert replies.cluster_info(b"cluster_state:ok\r\ncluster_slots_assigned:16384\r\n") == {
        "cluster_state": "ok",
        "cluster_slots_assigned": "16384",
    }


def test_cluster_nodes() -> None:
    text = (
        b"abc 127.0.0.1:7000@17000,host myself,master - 0 0 1 connected 0-5 7 [8->-def]\n"
        b"def 127.0.0.1:7001@17001 slave abc 0 1 1 disconnected\n"
    )
    nodes = replies.cluster_nodes(text)
    assert nodes["127.0.0.1:7000@17000"] == {
        "node_id": "abc",
        "hostname": "host",
        "flags": "myself,master",
        "master_id": "-",
        "last_ping_sent": "0",
        "last_pong_rcvd": "0",
        "epoch": "1",
        "slots": [["0", "5"], ["7"]],
        "migrations": [{"slot": "8", "node_id": "def", "state": "migrating"}],
        "connected": True,
    }
    assert nodes["127.0.0.1:7001@17001"]["connected"] is False
    # CLUSTER REPLICAS: a list of lines
    assert list(replies.cluster_nodes([text.splitlines()[1]])) == ["127.0.0.1:7001@17001"]


def test_cluster_slots() -> None:
    resp2 = [[0, 5, [b"127.0.0.1", 7000, b"abc", [b"hostname", b"h"]]]]
    resp3 = [[0, 5, [b"127.0.0.1", 7000, b"abc", {b"hostname": b"h"}]]]
    expected = [[0, 5, [b"127.0.0.1", 7000, b"abc", {"hostname": "h"}]]]
    assert replies.cluster_slots(resp2) == replies.cluster_slots(resp3) == expected
    assert replies.cluster_slots([[0, 5, [b"127.0.0.1", 7000, b"abc"]]])[0][2][2] == b"abc"


def test_cluster_shards() -> None:
    resp2 = [[b"slots", [0, 5], b"nodes", [[b"id", b"abc", b"port", 7000]]]]
    resp3 = [{b"slots": [0, 5], b"nodes": [{b"id": b"abc", b"port": 7000}]}]
    expected = [{"slots": [0, 5], "nodes": [{"id": b"abc", "port": 7000}]}]
    assert replies.cluster_shards(resp2) == replies.cluster_shards(resp3) == expected
