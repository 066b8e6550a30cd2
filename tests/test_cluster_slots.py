"""store.cluster against a real Redis Cluster (tests/cluster_fixture.py): key slots as
CLUSTER KEYSLOT computes them, the slot map as CLUSTER SHARDS, SLOTS and NODES describe
it, and the MOVED, ASK and CROSSSLOT replies of real nodes."""

from __future__ import annotations

import math
import random
from binascii import crc_hqx
from collections.abc import Iterator
from typing import Any

import pytest

from store.cluster import (
    FIRST_KEY,
    KEYED,
    REFUSED_ROUTE,
    ROUTES,
    SCAN,
    SLOTS,
    SPLIT,
    Redirect,
    SlotMap,
    command_slot,
    crc16,
    group_by_slot,
    key_slot,
    merge_by_position,
    merge_by_slot,
    parse_redirect,
    route_of,
    slots_of,
    spans_slots,
    split_by_slot,
    split_command,
)
from store.errors import CrossSlotError, DataError, ResponseError
from store.sync import RedisStore, create_store
from tests.cluster_fixture import RedisCluster, running_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    yield from running_cluster()


def node_store(port: int, **options: Any) -> RedisStore:
    """A store for one node (its keys' slots only: MOVED for the others)."""
    store = create_store(f"redis://127.0.0.1:{port}", socket_timeout=10, **options)
    assert isinstance(store, RedisStore)
    return store


def server_slots(port: int, keys: list[Any]) -> list[int]:
    """CLUSTER KEYSLOT of every key, in one pipeline."""
    node = node_store(port)
    with node:
        pipe = node.pipeline()
        for key in keys:
            pipe.execute("CLUSTER", "KEYSLOT", key)
        return [int(slot) for slot in pipe.commit()]


def seed_map(cluster: RedisCluster) -> SlotMap:
    with node_store(cluster.ports[0]) as node:
        return SlotMap.from_shards(node.execute("CLUSTER", "SHARDS"), "127.0.0.1")


def key_in_slot_of(port_owner: tuple[str, int], slot_map: SlotMap, prefix: str) -> str:
    """A key whose slot ``port_owner`` serves."""
    for index in range(100_000):
        key = f"{prefix}{index}"
        if slot_map.primary(key_slot(key)) == port_owner:
            return key
    raise AssertionError(f"no key of {port_owner}")


def key_not_served_by(address: tuple[str, int], slot_map: SlotMap, prefix: str) -> str:
    for index in range(100_000):
        key = f"{prefix}{index}"
        if slot_map.primary(key_slot(key)) != address:
            return key
    raise AssertionError(f"every key is {address}'s")


# -- key_slot ---------------------------------------------------------------------------

HASH_TAG_CASES: list[Any] = [
    b"",
    b"{}",
    b"{a",
    b"a}",
    b"a}{b}",
    b"{{a}}",
    b"a{}{b}",
    b"{a}{b}",
    b"{}a",
    b"a{b}c",
    b"{a}",
    b"a",
    b"{",
    b"}",
    b"}{",
    b"{{}}",
    b"{}}",
    b"{\xff\xfe}x",
    b"\x00{\x00}\x00",
    b"foo{bar}{zap}",
    b"{user1000}.following",
    b"{user1000}.followers",
    b"123456789",
]
TEXT_CASES: list[Any] = ["", "é", "ключ", "日本語{タグ}キー", "emoji🙂", "{ü}a", "a{}b", "\u0000"]
NUMBER_CASES: list[Any] = [
    0,
    1,
    -1,
    42,
    2**63 - 1,
    -(2**63),
    2**100,
    0.0,
    -0.0,
    0.1,
    1.5,
    -2.25,
    1e300,
    1e-300,
    1e16,
    123456789.123,
    math.inf,
    -math.inf,
    math.nan,
]


def random_keys(count: int) -> list[bytes]:
    """Random byte strings, braces frequent so hash tags of every shape occur."""
    rng = random.Random(13)
    alphabet = [b"{", b"}", b"a", b"\xff", b"\x00", b"z", b"\xc3", b":"]
    keys = []
    for index in range(count):
        length = rng.randrange(0, 24)
        if index % 2:
            keys.append(b"".join(rng.choice(alphabet) for _ in range(length)))
        else:
            keys.append(rng.randbytes(length))
    return keys


def test_crc16_is_xmodem() -> None:
    # the check value of CRC-16/XMODEM, and the spec's example key
    assert crc16(b"123456789") == 0x31C3
    assert key_slot(b"123456789") == 0x31C3 % SLOTS
    for key in random_keys(2000):
        assert crc16(key) == crc_hqx(key, 0)


def test_key_slot_equals_cluster_keyslot(cluster: RedisCluster) -> None:
    keys: list[Any] = [*random_keys(4000), *HASH_TAG_CASES, *TEXT_CASES, *NUMBER_CASES]
    keys += [bytearray(b"{ba}rr"), memoryview(b"mem{view}")]
    expected = server_slots(cluster.ports[0], keys)
    mismatches = [
        (key, key_slot(key), slot)
        for key, slot in zip(keys, expected, strict=True)
        if key_slot(key) != slot
    ]
    assert not mismatches, mismatches[:10]
    assert len(set(expected)) > 1000  # the keys cover the slots widely


def test_key_slot_of_hash_tags() -> None:
    assert key_slot(b"{a}{b}") == key_slot(b"a") == key_slot(b"x{a}y")
    assert key_slot(b"{}a") == crc16(b"{}a") % SLOTS  # an empty tag: the whole key
    assert key_slot(b"a{}{b}") == crc16(b"a{}{b}") % SLOTS
    assert key_slot(b"{{a}}") == key_slot(b"{a")  # from the first { to the first }
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers")
    assert key_slot(12) == key_slot(b"12") and key_slot(1.5) == key_slot(b"1.5")
    assert key_slot("é") == key_slot("é".encode())
    assert key_slot("é", encoding="latin-1") == key_slot(b"\xe9")


def test_key_slot_refuses_what_the_store_refuses() -> None:
    for bad in (True, None, [b"a"]):
        with pytest.raises(DataError):
            key_slot(bad)  # type: ignore[arg-type]


# -- the slot map -----------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nodes_ranges(nodes_reply: Any) -> list[tuple[int, int, tuple[str, int], frozenset[Any]]]:
    """What CLUSTER NODES says, in SlotMap.ranges()'s form."""
    address: dict[str, tuple[str, int]] = {}
    replicas: dict[str, set[tuple[str, int]]] = {}
    owned: dict[str, list[tuple[int, int]]] = {}
    for line in _text(nodes_reply).splitlines():
        fields = line.split()
        host, _, port = fields[1].split("@")[0].rpartition(":")
        address[fields[0]] = (host, int(port))
        if fields[3] != "-":
            replicas.setdefault(fields[3], set()).add((host, int(port)))
        for part in fields[8:]:
            start, _, end = part.partition("-")
            owned.setdefault(fields[0], []).append((int(start), int(end or start)))
    return sorted(
        (start, end, address[node_id], frozenset(replicas.get(node_id, ())))
        for node_id, ranges in owned.items()
        for start, end in ranges
    )


@pytest.mark.parametrize(
    "options",
    [
        {"protocol": 2},
        {"protocol": 3},
        {"protocol": 2, "decode_responses": True},
        {"protocol": 3, "decode_responses": True},
    ],
    ids=["resp2", "resp3", "resp2-decoded", "resp3-decoded"],
)
def test_slot_map_agrees_with_shards_slots_and_nodes(
    cluster: RedisCluster, options: dict[str, Any]
) -> None:
    for port in cluster.ports:
        with node_store(port, **options) as node:
            shards = node.execute("CLUSTER", "SHARDS")
            slots = node.execute("CLUSTER", "SLOTS")
            nodes = node.execute("CLUSTER", "NODES")
        if options["protocol"] == 3:
            assert isinstance(shards[0], dict)  # both reply shapes are really exercised
        else:
            assert isinstance(shards[0], list)
        from_shards = SlotMap.from_shards(shards, "127.0.0.1")
        from_slots = SlotMap.from_slots(slots, "127.0.0.1")
        expected = nodes_ranges(nodes)
        assert from_shards.ranges() == expected
        assert from_slots.ranges() == expected
        for slot_map in (from_shards, from_slots):
            assert slot_map.missing() == []
            assert len(slot_map.primaries()) == 3
            assert len(slot_map.nodes()) == 6
            assert all(node.online for node in slot_map.nodes())
            assert sorted(node.address[1] for node in slot_map.nodes()) == sorted(cluster.ports)
            for slot in range(SLOTS):
                primary = slot_map.primary(slot)
                assert primary is not None and primary[1] in cluster.ports
                assert len(slot_map.replicas(slot)) == 1
                assert slot_map.replicas(slot)[0] != primary
            node_ids = {node.node_id for node in slot_map.nodes()}
            assert node_ids == {line.split()[0] for line in _text(nodes).splitlines()}


def test_slot_map_primary_is_where_the_key_lives(cluster: RedisCluster) -> None:
    slot_map = seed_map(cluster)
    keys = [f"where:{index}" for index in range(300)]
    for key in keys:
        owner = slot_map.primary(key_slot(key))
        assert owner is not None
        with node_store(owner[1]) as node:
            assert node.execute("SET", key, key) == b"OK"
            assert node.execute("GET", key) == key.encode()


def test_slot_map_address_remap(cluster: RedisCluster) -> None:
    with node_store(cluster.ports[0]) as node:
        shards = node.execute("CLUSTER", "SHARDS")
        slots = node.execute("CLUSTER", "SLOTS")

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        return ("proxy.example", address[1] + 1)

    for slot_map in (
        SlotMap.from_shards(shards, "127.0.0.1", address_remap=remap),
        SlotMap.from_slots(slots, "127.0.0.1", address_remap=remap),
    ):
        assert {address[1] - 1 for address in slot_map.primaries()} <= set(cluster.ports)
        assert all(node.address[0] == "proxy.example" for node in slot_map.nodes())


@pytest.mark.parametrize("endpoint_type", ["hostname", "unknown-endpoint"])
def test_unknown_endpoint_means_the_seed_host(cluster: RedisCluster, endpoint_type: str) -> None:
    """With no hostname set (or "unknown-endpoint"), a node reports its endpoint as "?"
    or empty: the map uses the host the reply came from."""
    port = cluster.ports[0]
    with node_store(port) as node:
        node.execute("CONFIG", "SET", "cluster-preferred-endpoint-type", endpoint_type)
        try:
            shards = node.execute("CLUSTER", "SHARDS")
            slots = node.execute("CLUSTER", "SLOTS")
        finally:
            node.execute("CONFIG", "SET", "cluster-preferred-endpoint-type", "ip")
    endpoints = {node.get(b"endpoint") for shard in shards for node in shard[b"nodes"]} | {
        entry[2][0] for entry in slots
    }
    assert endpoints <= {b"?", b"", None}, endpoints  # the server really hid them
    for slot_map in (
        SlotMap.from_shards(shards, "seed.example"),
        SlotMap.from_slots(slots, "seed.example"),
    ):
        assert {node.address[0] for node in slot_map.nodes()} == {"seed.example"}
        assert {address[1] for address in slot_map.primaries()} <= set(cluster.ports)


def test_slot_map_replica_health() -> None:
    """A replica that is not online is known but not offered for reads (the shape of a
    real 7.0 CLUSTER SHARDS reply, RESP2 with bytes)."""
    reply = [
        [
            b"slots",
            [0, 16383],
            b"nodes",
            [
                [b"id", b"p", b"port", 7000, b"ip", b"10.0.0.1", b"endpoint", b"10.0.0.1",
                 b"role", b"master", b"replication-offset", 1, b"health", b"online"],
                [b"id", b"r1", b"port", 7001, b"ip", b"10.0.0.2", b"endpoint", b"10.0.0.2",
                 b"role", b"replica", b"replication-offset", 1, b"health", b"online"],
                [b"id", b"r2", b"port", 7002, b"ip", b"10.0.0.3", b"endpoint", b"10.0.0.3",
                 b"role", b"replica", b"replication-offset", 0, b"health", b"loading"],
                [b"id", b"r3", b"port", 7003, b"ip", b"10.0.0.4", b"endpoint", b"",
                 b"role", b"replica", b"replication-offset", 0, b"health", b"failed"],
            ],
        ]
    ]  # fmt: skip
    slot_map = SlotMap.from_shards(reply, "seed")
    assert slot_map.primary(123) == ("10.0.0.1", 7000)
    assert slot_map.replicas(123) == (("10.0.0.2", 7001),)
    assert [node.health for node in slot_map.nodes()] == ["online", "online", "loading", "failed"]
    assert slot_map.node(("seed", 7003)) is not None  # the empty endpoint


# -- redirections -----------------------------------------------------------------------


def test_real_moved(cluster: RedisCluster) -> None:
    slot_map = seed_map(cluster)
    for port in cluster.ports[:3]:
        key = key_not_served_by(("127.0.0.1", port), slot_map, f"moved:{port}:")
        with node_store(port) as node, pytest.raises(ResponseError) as caught:
            node.execute("GET", key)
        assert type(caught.value) is ResponseError and caught.value.code == "MOVED"
        redirect = parse_redirect(str(caught.value))
        assert redirect == Redirect(
            "MOVED",
            key_slot(key),
            *slot_map.primary(key_slot(key)),  # type: ignore[misc]
        )
        assert redirect.slot == server_slots(port, [key])[0]


def test_real_ask(cluster: RedisCluster) -> None:
    slot_map = seed_map(cluster)
    source, target = slot_map.primaries()[:2]
    ids = {node.address: node.node_id for node in slot_map.nodes()}
    key = key_in_slot_of(source, slot_map, "ask:")
    slot = key_slot(key)
    with node_store(source[1]) as source_node, node_store(target[1]) as target_node:
        source_node.execute("DEL", key)  # absent from the source: the source says ASK
        target_node.execute("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        source_node.execute("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        try:
            with pytest.raises(ResponseError) as caught:
                source_node.execute("GET", key)
            with pytest.raises(ResponseError) as moved:  # the target, without ASKING
                target_node.execute("GET", key)
        finally:
            source_node.execute("CLUSTER", "SETSLOT", slot, "STABLE")
            target_node.execute("CLUSTER", "SETSLOT", slot, "STABLE")
    assert caught.value.code == "ASK"
    assert parse_redirect(caught.value.message) == Redirect("ASK", slot, *target)
    assert parse_redirect(moved.value.message) == Redirect("MOVED", slot, *source)
    assert seed_map(cluster).ranges() == slot_map.ranges()  # the slot is back to normal


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("MOVED 3999 127.0.0.1:6381", Redirect("MOVED", 3999, "127.0.0.1", 6381)),
        ("ASK 3999 127.0.0.1:6381", Redirect("ASK", 3999, "127.0.0.1", 6381)),
        ("MOVED 0 [::1]:6381", Redirect("MOVED", 0, "::1", 6381)),
        ("MOVED 16383 ::1:6381", Redirect("MOVED", 16383, "::1", 6381)),  # as Redis writes it
        ("ASK 1 fe80::1:2:7000", Redirect("ASK", 1, "fe80::1:2", 7000)),
        ("MOVED 12 redis-2.example.com:7000", Redirect("MOVED", 12, "redis-2.example.com", 7000)),
        ("MOVED 3999 :6381", Redirect("MOVED", 3999, "", 6381)),
        ("MOVED 16384 127.0.0.1:6381", None),
        ("MOVED -1 127.0.0.1:6381", None),
        ("MOVED 1 127.0.0.1:65536", None),
        ("MOVED 1 127.0.0.1", None),
        ("MOVED 1 127.0.0.1:", None),
        ("MOVED x 127.0.0.1:1", None),
        ("MOVED 1", None),
        ("ERR unknown command", None),
        ("CROSSSLOT Keys in request don't hash to the same slot", None),
        ("moved 1 127.0.0.1:1", None),
        ("", None),
    ],
)
def test_parse_redirect(message: str, expected: Redirect | None) -> None:
    assert parse_redirect(message) == expected


def test_parse_redirect_empty_host_is_the_answering_node() -> None:
    found = parse_redirect("MOVED 3999 :6381", node_host="10.1.2.3")
    assert found == Redirect("MOVED", 3999, "10.1.2.3", 6381)
    assert found.address == ("10.1.2.3", 6381)
    assert parse_redirect("MOVED 3999 h:1", node_host="other") == Redirect("MOVED", 3999, "h", 1)


# -- CROSSSLOT and commands' slots ------------------------------------------------------


def test_real_crossslot_raises_cross_slot_error(cluster: RedisCluster) -> None:
    assert key_slot("a") != key_slot("b")
    with node_store(cluster.ports[0]) as node, pytest.raises(CrossSlotError) as caught:
        node.execute("MSET", "a", 1, "b", 2)
    assert isinstance(caught.value, ResponseError) and caught.value.code == "CROSSSLOT"


def test_client_side_cross_slot_error(cluster: RedisCluster) -> None:
    args = ("MSET", "a", 1, "b", 2)
    assert spans_slots(args)
    with pytest.raises(CrossSlotError) as caught:
        command_slot(args)
    text = str(caught.value)
    assert caught.value.code == "CROSSSLOT"
    assert f"slot {key_slot('a')}: 'a'" in text and f"slot {key_slot('b')}: 'b'" in text
    assert "hash tag" in text
    # with a hash tag the real server takes it
    tagged = ("MSET", "{t}a", 1, "{t}b", 2)
    assert not spans_slots(tagged)
    slot = command_slot(tagged)
    owner = seed_map(cluster).primary(slot)  # type: ignore[arg-type]
    assert owner is not None
    with node_store(owner[1]) as node:
        assert node.execute(*tagged) == b"OK"
        assert node.execute("MGET", "{t}a", "{t}b") == [b"1", b"2"]


COMMANDS: list[tuple[Any, ...]] = [
    ("GET", "k1"),
    ("SET", b"k\xff2", "v"),
    ("MGET", "a", "b", "c", b"{a}d"),
    ("DEL", "x", "y", 7, 1.5),
    ("MSET", "a", "1", "b", "2", "c", "3"),
    ("EVAL", "return 1", 2, "e1", "e2", "arg"),
    ("XREAD", "COUNT", 1, "STREAMS", "s1", "s2", "0", "0"),
    ("ZUNIONSTORE", "dest", 2, "z1", "z2"),
    ("SORT", "list", "BY", "w_*", "GET", "o_*", "STORE", "out"),
    ("LMOVE", "src", "dst", "LEFT", "RIGHT"),
    ("RENAME", "{same}old", "{same}new"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[str(args[0]) for args in COMMANDS])
def test_slots_of_real_commands(cluster: RedisCluster, args: tuple[Any, ...]) -> None:
    port = cluster.ports[0]
    with node_store(port) as node:
        keys = node.execute("COMMAND", "GETKEYS", *args)
    assert keys
    assert slots_of(args) == set(server_slots(port, keys))
    assert spans_slots(args) == (len(set(server_slots(port, keys))) > 1)


def test_slots_of_commands_without_keys() -> None:
    assert slots_of(("PING",)) == set()
    assert command_slot(("PING",)) is None
    assert command_slot(("CLUSTER", "INFO")) is None
    assert not spans_slots(("PING",))


def test_spublish_shard_channel_slot(cluster: RedisCluster) -> None:
    """SPUBLISH's channel is a slot like a key: a node that does not serve it redirects."""
    slot_map = seed_map(cluster)
    port = cluster.ports[0]
    channel = key_not_served_by(("127.0.0.1", port), slot_map, "channel:")
    assert slots_of(("SPUBLISH", channel, "hello")) == {key_slot(channel)}
    with node_store(port) as node, pytest.raises(ResponseError) as caught:
        node.execute("SPUBLISH", channel, "hello")
    redirect = parse_redirect(caught.value.message)
    assert redirect is not None and redirect.slot == command_slot(("SPUBLISH", channel, "x"))


def test_split_by_slot_and_merge_on_the_real_cluster(cluster: RedisCluster) -> None:
    slot_map = seed_map(cluster)
    keys: list[Any] = [f"split:{index}" for index in range(200)]
    keys += ["{tag}1", "{tag}2", "split:3", b"\xffraw", 12]  # a repeat, bytes, an int
    groups = split_by_slot(keys)
    assert sorted(position for group in groups for position in group.positions) == list(
        range(len(keys))
    )
    assert [group.slot for group in groups] == list(dict.fromkeys(map(key_slot, keys)))
    expected = server_slots(cluster.ports[0], keys)
    for group in groups:
        assert {expected[position] for position in group.positions} == {group.slot}
        assert group.keys == [keys[position] for position in group.positions]
    replies = []
    for group in groups:  # MSET then MGET per slot, on the node that serves it
        owner = slot_map.primary(group.slot)
        assert owner is not None
        pairs = [item for key in group.keys for item in (key, f"value of {key!r}")]
        with node_store(owner[1]) as node:
            node.execute("MSET", *pairs)
            replies.append(node.execute("MGET", *group.keys))
    merged = merge_by_position(groups, replies)
    assert merged == [f"value of {key!r}".encode() for key in keys]
    with pytest.raises(ValueError):
        merge_by_position(groups, [[], *replies[1:]])


def test_split_command_makes_one_command_per_slot_keeping_the_pairs() -> None:
    keys = [f"split:{n}" for n in range(40)]
    assert len({key_slot(key) for key in keys}) > 1
    mset = ("MSET", *(part for n, key in enumerate(keys) for part in (key, f"v{n}")))
    split = split_command(mset)
    assert split is not None
    groups, parts = split
    assert len(parts) == len(groups) == len({key_slot(key) for key in keys})
    sent: dict[str, str] = {}
    for slot, command in parts:
        assert command[0] == "MSET" and len(command) % 2 == 1
        pairs = dict(zip(command[1::2], command[2::2], strict=True))
        assert {key_slot(key) for key in pairs} == {slot}
        sent.update(pairs)
    assert sent == {key: f"v{n}" for n, key in enumerate(keys)}
    groups, parts = split_command(("DEL", *keys)) or ([], [])
    assert sorted(key for _, command in parts for key in command[1:]) == sorted(keys)
    assert all(command[0] == "DEL" for _, command in parts)
    # one slot: the command as it is; nothing to split: None (the server answers)
    tagged = ("MGET", "{t}a", "{t}b")
    assert split_command(tagged) == (split_by_slot(tagged[1:]), [(key_slot("{t}a"), tagged)])
    assert split_command(("MGET",)) is None
    assert split_command(("MSET", "a", "1", "b")) is None


def test_routes_agree_with_the_command_table() -> None:
    """FIRST_KEY (the slot of args[1], without the key specs) must find what command_slot
    finds, whatever the arguments; the other routes are the command's own."""
    first_key = [name for name, (info, route, _) in ROUTES.items() if route == FIRST_KEY]
    # PUBLISH has no key: it goes to its channel's slot owner on purpose (one channel's
    # messages on one node, in order)
    assert {"publish", "PUBLISH"} <= set(first_key)
    first_key = [name for name in first_key if ROUTES[name][0].name != "publish"]
    assert {"get", "set", "hset", "zadd", "GET", b"get", b"INCR"} <= set(first_key)
    shapes: list[tuple[Any, ...]] = [
        (),
        ("k",),
        ("{tag}k", "a"),
        ("k", "a", "b", "c"),
        ("k", "STORE", "other", "KEYS", "x", "y", "1", "2"),
    ]
    for name in first_key:
        for shape in shapes:
            args = (name, *shape)
            expected = command_slot(args)
            assert (key_slot(args[1]) if len(args) > 1 else None) == expected, args
    assert route_of(("GET", "k"))[1:] == (FIRST_KEY, True)
    assert route_of(("SET", "k", "v"))[1:] == (FIRST_KEY, False)
    assert route_of(("LMOVE", "a", "b", "LEFT", "RIGHT"))[1] == KEYED
    assert route_of((b"Mget", "a", "b"))[1:] == (SPLIT, True)  # not a usual spelling
    assert route_of(("SCRIPT", "LOAD", "return 1"))[1] != KEYED
    assert route_of(("scan", 0))[1] == SCAN and route_of(("SELECT", 1))[1] == REFUSED_ROUTE


def test_group_by_slot_and_merge_by_slot() -> None:
    keys = [f"group:{n}" for n in range(50)] + ["{t}a", b"{t}b", 7, "{t}c"]
    groups = group_by_slot(keys)
    assert groups == {group.slot: group.positions for group in split_by_slot(keys)}
    assert list(groups) == list(dict.fromkeys(key_slot(key) for key in keys))
    replies = [[f"v{position}" for position in positions] for positions in groups.values()]
    assert merge_by_slot(groups, replies, len(keys)) == [f"v{n}" for n in range(len(keys))]
    with pytest.raises(ValueError):
        merge_by_slot(groups, [[], *replies[1:]], len(keys))
    with pytest.raises(ValueError):
        merge_by_slot(groups, replies[1:], len(keys))
