"""Redis Cluster, the parts that do no I/O: key slots, the slot map, redirections.

``key_slot`` hashes a key as the server does (CRC16/XMODEM of the key or of its hash tag,
mod 16384), over the bytes the store would send for it. ``SlotMap`` reads the topology
from a ``CLUSTER SHARDS`` or ``CLUSTER SLOTS`` reply (RESP2 or RESP3, bytes or str).
``parse_redirect`` reads MOVED and ASK error messages. ``slots_of``, ``command_slot`` and
``split_by_slot`` apply the command table's keys to routing; ``ROUTES`` and ``route_of``
say how the cluster store sends each command, found by one dictionary lookup.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from .command_table import PLAIN, REFUSED, CommandInfo, command_for
from .errors import CrossSlotError, ProtocolError
from .resp import _encode_arg

__all__ = [
    "ALL_PRIMARIES_AGREE",
    "CONCATENATED",
    "EVERY_NODE",
    "EVERY_PRIMARY",
    "FANNED_OUT",
    "FIRST_KEY",
    "KEYED",
    "MERGES",
    "REFUSED_ROUTE",
    "ROUTES",
    "SCAN",
    "SLOTS",
    "SPLIT",
    "SUMMED",
    "Address",
    "ClusterNode",
    "Redirect",
    "SlotGroup",
    "SlotMap",
    "command_slot",
    "crc16",
    "cross_slot_error",
    "group_by_slot",
    "key_slot",
    "merge_by_position",
    "merge_by_slot",
    "merge_fanned_out",
    "parse_redirect",
    "route_of",
    "slots_of",
    "spans_slots",
    "split_by_slot",
]

SLOTS: Final = 16384
"""How many hash slots a cluster has."""

Address = tuple[str, int]
"""A node's ``(host, port)``."""

Key = bytes | bytearray | memoryview | str | int | float


# -- key slots --------------------------------------------------------------------------


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC16_TABLE: Final = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC16/XMODEM (poly 0x1021, init 0) the table-driven way, as the Redis Cluster spec
    writes it: the reference ``key_slot`` is checked against. ``key_slot`` itself uses
    ``binascii.crc_hqx``, the same CRC in C (about 20 times faster in CPython)."""
    crc = 0
    table = _CRC16_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def key_slot(key: Key, encoding: str = "utf-8") -> int:
    """The hash slot (0-16383) of ``key``, as ``CLUSTER KEYSLOT`` computes it.

    The key is taken as the store sends it: bytes as they are, str in ``encoding``, ints
    and floats as their RESP text (``resp.pack_command``'s rules; bool raises DataError).
    Only the hash tag counts when the key has one: the bytes between the first ``{`` and
    the first ``}`` after it, when there is at least one.
    """
    # the usual key types first, without a call: this runs for every command
    kind = key.__class__
    if kind is bytes:
        data: bytes = key  # type: ignore[assignment]
    elif kind is str:
        data = key.encode(encoding)  # type: ignore[union-attr]
    else:
        data = _encode_arg(key, 1, ("", key), encoding)
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return crc_hqx(data, 0) & 0x3FFF


# -- the slot map -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One node of the map: its address (after ``address_remap``), role and health."""

    address: Address
    node_id: str
    primary: bool
    health: str  # "online", "failed", "loading" (CLUSTER SLOTS lists only usable nodes)

    @property
    def online(self) -> bool:
        """Whether the node may serve reads now (a replica that is not is skipped)."""
        return self.health == "online"


@dataclass(frozen=True, slots=True)
class _Shard:
    ranges: tuple[tuple[int, int], ...]
    primary: ClusterNode
    replicas: tuple[ClusterNode, ...]


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _fields(value: Any) -> dict[str, Any]:
    """A RESP3 map or a RESP2 flat [key, value, ...] list as a dict with str keys."""
    if isinstance(value, Mapping):
        return {_text(key): item for key, item in value.items()}
    if isinstance(value, (list, tuple)) and len(value) % 2 == 0:
        return {_text(value[index]): value[index + 1] for index in range(0, len(value), 2)}
    raise ProtocolError(f"a cluster reply has {type(value).__name__} where a map belongs")


def _endpoint(value: Any) -> str | None:
    """A host from the reply; None when the node's endpoint is unknown ("?", empty, nil):
    then the client uses the host it sent the command to."""
    if value is None:
        return None
    host = _text(value)
    return None if host in ("", "?") else host


class SlotMap:
    """Which node serves each of the 16384 slots, from ``CLUSTER SHARDS`` or ``CLUSTER SLOTS``.

    Build it with ``from_shards`` or ``from_slots``. ``seed_host`` is the host the reply
    came from: it stands for a node whose endpoint is unknown (``?`` or empty), as the
    Redis docs prescribe. ``address_remap`` maps every ``(host, port)`` afterwards (NAT,
    port forwarding). ``tls`` picks a node's ``tls-port`` where SHARDS gives one.
    """

    __slots__ = ("_nodes", "_primaries", "_replicas", "_shards")

    def __init__(self, shards: Iterable[_Shard]) -> None:
        self._shards = tuple(shards)
        primaries: list[Address | None] = [None] * SLOTS
        replicas: list[tuple[Address, ...]] = [()] * SLOTS
        nodes: dict[Address, ClusterNode] = {}
        for shard in self._shards:
            readable = tuple(node.address for node in shard.replicas if node.online)
            for start, end in shard.ranges:
                if not 0 <= start <= end < SLOTS:
                    raise ProtocolError(f"a cluster reply has the slot range {start}-{end}")
                primaries[start : end + 1] = [shard.primary.address] * (end - start + 1)
                replicas[start : end + 1] = [readable] * (end - start + 1)
            nodes.setdefault(shard.primary.address, shard.primary)
        for shard in self._shards:
            for node in shard.replicas:
                nodes.setdefault(node.address, node)
        self._primaries = primaries
        self._replicas = replicas
        self._nodes = nodes

    @classmethod
    def from_shards(
        cls,
        reply: Any,
        seed_host: str,
        address_remap: Callable[[Address], Address] | None = None,
        tls: bool = False,
    ) -> SlotMap:
        """The map of a ``CLUSTER SHARDS`` reply (Redis 7+). A node's host is its
        ``endpoint``, else its ``ip``, else its ``hostname``; replicas whose ``health`` is
        not ``online`` are known but not offered for reads."""
        shards: list[_Shard] = []
        for item in reply:
            shard = _fields(item)
            bounds = [int(bound) for bound in shard.get("slots") or ()]
            ranges = tuple(zip(bounds[::2], bounds[1::2], strict=True))
            primary: ClusterNode | None = None
            replicas: list[ClusterNode] = []
            for entry in shard.get("nodes") or ():
                node = _fields(entry)
                if "endpoint" in node:
                    host = _endpoint(node["endpoint"]) or seed_host
                else:  # not a 7.0 reply: the next best names
                    host = _endpoint(node.get("ip")) or _endpoint(node.get("hostname")) or seed_host
                port = node.get("tls-port") if tls else None
                if port is None:
                    port = node.get("port")
                if port is None:
                    raise ProtocolError("a CLUSTER SHARDS node has no port")
                address = (host, int(port))
                if address_remap is not None:
                    address = address_remap(address)
                cluster_node = ClusterNode(
                    address,
                    _text(node.get("id", "")),
                    _text(node.get("role", "")) in ("master", "primary"),
                    _text(node.get("health", "online")),
                )
                if cluster_node.primary:
                    primary = cluster_node
                else:
                    replicas.append(cluster_node)
            if primary is None:
                continue  # replicas of a primary this node does not know: nothing to route to
            shards.append(_Shard(ranges, primary, tuple(replicas)))
        return cls(shards)

    @classmethod
    def from_slots(
        cls,
        reply: Any,
        seed_host: str,
        address_remap: Callable[[Address], Address] | None = None,
    ) -> SlotMap:
        """The map of a ``CLUSTER SLOTS`` reply: ``[start, end, primary, replica...]``
        per range, each node ``[endpoint, port, id, {metadata}]``. The server already
        leaves failed replicas out, so every replica listed counts as online."""
        by_primary: dict[Address, tuple[list[tuple[int, int]], ClusterNode, list[ClusterNode]]]
        by_primary = {}
        for entry in reply:
            start, end = int(entry[0]), int(entry[1])
            nodes: list[ClusterNode] = []
            for position, node in enumerate(entry[2:]):
                address = (_endpoint(node[0]) or seed_host, int(node[1]))
                if address_remap is not None:
                    address = address_remap(address)
                node_id = _text(node[2]) if len(node) > 2 else ""
                nodes.append(ClusterNode(address, node_id, position == 0, "online"))
            if not nodes:
                raise ProtocolError(f"CLUSTER SLOTS gave slots {start}-{end} no node")
            found = by_primary.setdefault(nodes[0].address, ([], nodes[0], nodes[1:]))
            found[0].append((start, end))
        return cls(
            _Shard(tuple(ranges), primary, tuple(replicas))
            for ranges, primary, replicas in by_primary.values()
        )

    def primary(self, slot: int) -> Address | None:
        """The primary serving ``slot``; None when no node has it (the cluster is down
        for it)."""
        return self._primaries[slot]

    def replicas(self, slot: int) -> tuple[Address, ...]:
        """The online replicas of ``slot``'s primary, for reads (READONLY)."""
        return self._replicas[slot]

    def primaries(self) -> tuple[Address, ...]:
        """Every primary that serves at least one slot."""
        return tuple(shard.primary.address for shard in self._shards if shard.ranges)

    def nodes(self) -> tuple[ClusterNode, ...]:
        """Every node of the map, primaries first, failed replicas included."""
        return tuple(self._nodes.values())

    def node(self, address: Address) -> ClusterNode | None:
        """The node at ``address``, or None."""
        return self._nodes.get(address)

    def ranges(self) -> list[tuple[int, int, Address, frozenset[Address]]]:
        """``(start, end, primary, replicas)`` per run of slots with the same primary, in
        slot order, all replicas included: a form two maps can be compared in."""
        found: list[tuple[int, int, Address, frozenset[Address]]] = []
        for shard in self._shards:
            replicas = frozenset(node.address for node in shard.replicas)
            found += [(start, end, shard.primary.address, replicas) for start, end in shard.ranges]
        found.sort()
        merged: list[tuple[int, int, Address, frozenset[Address]]] = []
        for start, end, primary, replicas in found:
            if merged and merged[-1][1] + 1 == start and merged[-1][2:] == (primary, replicas):
                merged[-1] = (merged[-1][0], end, primary, replicas)
            else:
                merged.append((start, end, primary, replicas))
        return merged

    def missing(self) -> list[int]:
        """The slots no node serves (none in a healthy cluster)."""
        return [slot for slot, address in enumerate(self._primaries) if address is None]

    def __repr__(self) -> str:
        return f"<SlotMap {len(self.primaries())} primaries, {len(self._nodes)} nodes>"


# -- redirections -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redirect:
    """A MOVED (the slot lives elsewhere now: update the map) or ASK (this once, send
    ASKING then the command to the target) error reply."""

    kind: Literal["MOVED", "ASK"]
    slot: int
    host: str
    port: int

    @property
    def address(self) -> Address:
        """The target as ``(host, port)``, as the slot map names nodes."""
        return (self.host, self.port)


def parse_redirect(message: str, node_host: str = "") -> Redirect | None:
    """The redirection in an error message (``MOVED 3999 127.0.0.1:6381``, ``ASK ...``),
    or None for any other error or a malformed one.

    The target may be an IPv4 address, a hostname, or an IPv6 address with or without
    brackets (Redis writes ``::1:6381``: the port is after the last colon). An empty host
    (``MOVED 3999 :6381``) means the node that answered: ``node_host`` is used for it
    (the empty string when not given).
    """
    parts = message.split()
    if len(parts) != 3 or parts[0] not in ("MOVED", "ASK"):
        return None
    host, colon, port_text = parts[2].rpartition(":")
    if not colon or not port_text.isdigit() or not parts[1].isdigit():
        return None
    slot, port = int(parts[1]), int(port_text)
    if slot >= SLOTS or port > 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    kind: Literal["MOVED", "ASK"] = "MOVED" if parts[0] == "MOVED" else "ASK"
    return Redirect(kind, slot, host or node_host, port)


# -- commands and slots -----------------------------------------------------------------


def slots_of(args: Sequence[Any]) -> set[int]:
    """The slots of a command's keys (and of SPUBLISH's shard channel), as the command
    table finds them; empty for a command without keys."""
    keys = command_for(args).keys(args, channels=True)
    return {key_slot(key) for key in keys}


def spans_slots(args: Sequence[Any]) -> bool:
    """Whether a command's keys hash to more than one slot (the server would answer
    CROSSSLOT)."""
    return len(slots_of(args)) > 1


def cross_slot_error(name: str, keys: Sequence[Any]) -> CrossSlotError:
    """The CrossSlotError for a command ``name`` whose ``keys`` span several slots: it
    names each slot with its keys and suggests a hash tag."""
    by_slot: dict[int, list[Any]] = {}
    for key in keys:
        by_slot.setdefault(key_slot(key), []).append(key)
    shown = "; ".join(
        f"slot {slot}: {', '.join(repr(key) for key in group[:3])}"
        + (f" and {len(group) - 3} more" if len(group) > 3 else "")
        for slot, group in list(by_slot.items())[:5]
    )
    if len(by_slot) > 5:
        shown += f"; and {len(by_slot) - 5} more slots"
    return CrossSlotError(
        f"CROSSSLOT Keys in request don't hash to the same slot: {name} has keys in "
        f"{len(by_slot)} slots ({shown}). Give them a common hash tag, such as "
        "{user:1}:profile and {user:1}:cart, so that they share one slot"
    )


def command_slot(args: Sequence[Any], info: CommandInfo | None = None) -> int | None:
    """The one slot of a command's keys; None for a command without keys. Raises
    CrossSlotError when its keys span several slots. ``info``: the command's row of the
    command table, when the caller has looked it up already."""
    keys = (info or command_for(args)).keys(args, channels=True)
    if not keys:
        return None
    slot = key_slot(keys[0])
    for key in keys[1:]:
        if key_slot(key) != slot:
            raise cross_slot_error(_text(args[0]).upper(), keys)
    return slot


@dataclass(slots=True)
class SlotGroup:
    """The keys of one slot, with their positions in the keys they were split from."""

    slot: int
    keys: list[Any]
    positions: list[int]


def split_by_slot(keys: Iterable[Any]) -> list[SlotGroup]:
    """``keys`` grouped by slot, the groups in the order of their first key, each key's
    position kept (for MGET, DEL, EXISTS...: one command per group, then
    ``merge_by_position``). For MSET give the keys (``args[1::2]``): position ``i`` is
    the pair ``args[1 + 2 * i : 3 + 2 * i]``."""
    groups: dict[int, SlotGroup] = {}
    for position, key in enumerate(keys):
        slot = key_slot(key)
        group = groups.get(slot)
        if group is None:
            groups[slot] = SlotGroup(slot, [key], [position])
        else:
            group.keys.append(key)
            group.positions.append(position)
    return list(groups.values())


def split_command(
    args: Sequence[Any],
) -> tuple[list[SlotGroup], list[tuple[int, tuple[Any, ...]]]] | None:
    """MGET, MSET, DEL, UNLINK, EXISTS or TOUCH as one command per slot of its keys: the
    groups (to merge the replies by) and ``(slot, command)`` parts, one only when the keys
    share a slot; None without a key, or for an MSET without its last value (the server
    refuses it with its own message)."""
    pairs = _text(args[0]).lower() == "mset"
    keys = args[1::2] if pairs else args[1:]
    if not keys or (pairs and len(args) % 2 == 0):
        return None
    groups = split_by_slot(keys)
    if len(groups) == 1:
        return groups, [(groups[0].slot, tuple(args))]
    parts: list[tuple[int, tuple[Any, ...]]] = []
    for group in groups:
        if pairs:
            sent: list[Any] = [args[0]]
            for position in group.positions:
                sent += args[1 + 2 * position : 3 + 2 * position]
            parts.append((group.slot, tuple(sent)))
        else:
            parts.append((group.slot, (args[0], *group.keys)))
    return groups, parts


def merge_by_position(groups: Sequence[SlotGroup], replies: Sequence[Sequence[Any]]) -> list[Any]:
    """The per-group replies of ``split_by_slot``'s groups (one list per group, one item
    per key, as MGET answers) back in the order of the original keys."""
    total = sum(len(group.positions) for group in groups)
    merged: list[Any] = [None] * total
    for group, reply in zip(groups, replies, strict=True):
        if len(reply) != len(group.positions):
            raise ValueError(f"slot {group.slot}: {len(reply)} replies for {len(group.keys)} keys")
        for position, item in zip(group.positions, reply, strict=True):
            merged[position] = item
    return merged


# -- how the cluster store sends each command ---------------------------------------------

# Routes: the first two go to one slot's owner (the usual case), the others have their
# own paths; FIRST_KEY's slot is that of args[1] (the command's one key), KEYED's that of
# the keys the command table finds (command_slot), None without keys (any primary)
FIRST_KEY: Final = 0
KEYED: Final = 1
SPLIT: Final = 2  # MGET, MSET, DEL, UNLINK, EXISTS, TOUCH: one command per slot, merged
SUMMED: Final = 3  # on every primary, the replies summed (DBSIZE)
CONCATENATED: Final = 4  # on every primary, the replies concatenated (KEYS)
EVERY_PRIMARY: Final = 5  # on every primary, the first reply (FLUSHDB, SCRIPT LOAD...)
SCAN: Final = 6  # refused: its cursor belongs to one node
REFUSED_ROUTE: Final = 7  # refused by the command table (SELECT, MULTI, SUBSCRIBE...)
EVERY_NODE: Final = 8  # on every node, replicas too, merged by MERGES (PUBSUB NUMSUB...)
ALL_PRIMARIES_AGREE: Final = 9  # on every primary, 1 where all say 1 (SCRIPT EXISTS)

_NAMED_ROUTES: Final = {
    **dict.fromkeys(("mget", "mset", "del", "unlink", "exists", "touch"), SPLIT),
    "dbsize": SUMMED,
    "keys": CONCATENATED,
    **dict.fromkeys(("flushdb", "flushall", "script|load", "script|flush"), EVERY_PRIMARY),
    "script|exists": ALL_PRIMARIES_AGREE,  # a script runs where its keys are: on all
    "scan": SCAN,
    # a classic channel has no slot, but PUBLISH to the channel's slot owner keeps one
    # channel's messages on one node in order (pipelines too): that is where this
    # client's subscriptions to it start
    "publish": FIRST_KEY,
    **dict.fromkeys(
        (
            "pubsub|channels",
            "pubsub|numpat",
            "pubsub|numsub",
            "pubsub|shardchannels",
            "pubsub|shardnumsub",
        ),
        EVERY_NODE,
    ),
}


def _union(replies: Sequence[Sequence[Any]]) -> list[Any]:
    return list(dict.fromkeys(item for reply in replies for item in reply))


def _summed_pairs(replies: Sequence[Sequence[Any]]) -> list[Any]:
    """``[name, count, ...]`` of every node, the counts added up name by name."""
    merged = list(replies[0])
    for reply in replies[1:]:
        for index in range(1, len(merged), 2):
            merged[index] += reply[index]
    return merged


MERGES: Final[Mapping[str, Callable[[Sequence[Any]], Any]]] = {
    # a node knows the subscribers connected to it only: the cluster's are the sum
    "pubsub|channels": _union,
    "pubsub|shardchannels": _union,
    "pubsub|numpat": sum,
    "pubsub|numsub": _summed_pairs,
    "pubsub|shardnumsub": _summed_pairs,
}
"""How the replies of an EVERY_NODE command become the cluster's reply."""

FANNED_OUT: Final = frozenset(
    {SUMMED, CONCATENATED, EVERY_PRIMARY, EVERY_NODE, ALL_PRIMARIES_AGREE}
)
"""The routes of commands sent to several nodes whole (not split): ``merge_fanned_out``."""


def merge_fanned_out(route: int, name: str, replies: Sequence[Any]) -> Any:
    """The cluster's reply to a command of a FANNED_OUT route, from each node's."""
    if route == SUMMED:
        return sum(replies)
    if route == CONCATENATED:
        return [key for keys in replies for key in keys]
    if route == EVERY_NODE:
        return MERGES[name](replies)
    if route == ALL_PRIMARIES_AGREE:
        return [int(all(column)) for column in zip(*replies, strict=True)]
    return replies[0]


def _first_key_only(info: CommandInfo) -> bool:
    """Whether the command's one key is always ``args[1]``: one key spec, at index 1, a
    range of one (GET, SET, HSET, ZADD... ; checked against ``command_slot`` by the tests)."""
    if len(info.key_specs) != 1:
        return False
    spec = info.key_specs[0]
    return spec.begin == "index" and spec.index == 1 and spec.find == "range" and not spec.lastkey


def _route(info: CommandInfo) -> tuple[CommandInfo, int, bool]:
    if info.route == REFUSED:
        route = REFUSED_ROUTE
    else:
        route = _NAMED_ROUTES.get(info.name, FIRST_KEY if _first_key_only(info) else KEYED)
    return info, route, info.readonly


ROUTES: Final[Mapping[Any, tuple[CommandInfo, int, bool]]] = {
    spelled: _route(info) for spelled, info in PLAIN.items()
}
"""``(row, route, read-only)`` of a command by the usual spellings of its name (those of
``command_table.PLAIN``): the cluster store's first lookup, ``route_of`` when it fails."""


def route_of(args: Sequence[Any]) -> tuple[CommandInfo, int, bool]:
    """``(row, route, read-only)`` of the command ``args`` (see ``ROUTES``)."""
    try:
        return ROUTES[args[0]]
    except (KeyError, TypeError):
        return _route(command_for(args))


def group_by_slot(keys: Sequence[Any], encoding: str = "utf-8") -> dict[int, list[int]]:
    """The positions of ``keys`` by slot, the slots in the order of their first key: what
    ``split_by_slot`` finds, without an object per group (the cluster store's MGET...)."""
    groups: dict[int, list[int]] = {}
    for position, key in enumerate(keys):
        slot = key_slot(key, encoding)
        found = groups.get(slot)
        if found is None:
            groups[slot] = [position]
        else:
            found.append(position)
    return groups


def merge_by_slot(
    groups: Mapping[int, Sequence[int]], replies: Sequence[Any], total: int
) -> list[Any]:
    """The per-slot replies of MGETs split by ``group_by_slot`` (one list per slot, one
    item per key) back in the order of the ``total`` original keys."""
    merged: list[Any] = [None] * total
    for (slot, positions), reply in zip(groups.items(), replies, strict=True):
        if len(positions) == 1 and len(reply) == 1:  # the usual part: one key of its slot
            merged[positions[0]] = reply[0]
            continue
        if len(reply) != len(positions):
            raise ValueError(f"slot {slot}: {len(reply)} replies for {len(positions)} keys")
        for position, item in zip(positions, reply, strict=True):
            merged[position] = item
    return merged
