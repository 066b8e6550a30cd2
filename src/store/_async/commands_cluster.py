# mypy: disable-error-code="no-any-return"
"""CLUSTER subcommands, with the names and reply shapes of redis-py's cluster client
(``cluster_info`` a dict of str, ``cluster_nodes`` a dict by address...), minus its
``target_nodes`` arguments: a command goes where the store sends it (a single-node store:
its server; a ClusterStore: a primary, these commands having no key). READONLY,
READWRITE and ASKING are the ClusterStore's own business (the command table refuses
them on shared connections).
"""

from __future__ import annotations

from typing import Any

from store import replies
from store.errors import DataError

from .commands_base import AsyncCommandsBase, EncodableT, KeyT, StrT


class AsyncClusterCommands(AsyncCommandsBase[StrT]):
    """CLUSTER INFO, NODES, SLOTS, SHARDS, LINKS, MYID, KEYSLOT, ADDSLOTS, SETSLOT..."""

    async def cluster_info(self) -> dict[str, str]:
        """CLUSTER INFO: ``{"cluster_state": "ok", "cluster_slots_assigned": "16384"...}``."""
        return await self.execute("CLUSTER", "INFO", callback=replies.cluster_info)

    async def cluster_nodes(self) -> dict[str, dict[str, Any]]:
        """CLUSTER NODES: ``{"ip:port@cport": {"node_id", "hostname", "flags",
        "master_id", "last_ping_sent", "last_pong_rcvd", "epoch", "slots", "migrations",
        "connected"}}`` (redis-py's shape)."""
        return await self.execute("CLUSTER", "NODES", callback=replies.cluster_nodes)

    async def cluster_replicas(self, node_id: EncodableT) -> dict[str, dict[str, Any]]:
        """CLUSTER REPLICAS of a primary: cluster_nodes() of its replicas."""
        return await self.execute("CLUSTER", "REPLICAS", node_id, callback=replies.cluster_nodes)

    async def cluster_slaves(self, node_id: EncodableT) -> dict[str, dict[str, Any]]:
        """CLUSTER SLAVES (REPLICAS's old name)."""
        return await self.execute("CLUSTER", "SLAVES", node_id, callback=replies.cluster_nodes)

    async def cluster_slots(self) -> list[list[Any]]:
        """CLUSTER SLOTS: ``[[start, end, [ip, port, node_id, {metadata}], ...], ...]``,
        each node's metadata a dict under RESP2 and RESP3 alike."""
        return await self.execute("CLUSTER", "SLOTS", callback=replies.cluster_slots)

    async def cluster_shards(self) -> list[dict[str, Any]]:
        """CLUSTER SHARDS: ``[{"slots": [start, end, ...], "nodes": [{"id", "port", "ip",
        "endpoint", "role", "replication-offset", "health"...}]}, ...]``, str keys."""
        return await self.execute("CLUSTER", "SHARDS", callback=replies.cluster_shards)

    async def cluster_links(self) -> list[dict[str, Any]]:
        """CLUSTER LINKS: one dict (str keys) per link of the node's cluster bus."""
        return await self.execute("CLUSTER", "LINKS", callback=replies.list_of_str_dicts)

    async def cluster_myid(self) -> StrT:
        """CLUSTER MYID: the node's id."""
        return await self.execute("CLUSTER", "MYID")

    async def cluster_keyslot(self, key: KeyT) -> int:
        """CLUSTER KEYSLOT: the hash slot of ``key``."""
        return await self.execute("CLUSTER", "KEYSLOT", key)

    async def cluster_countkeysinslot(self, slot_id: int) -> int:
        """CLUSTER COUNTKEYSINSLOT: the number of keys the node has in the slot."""
        return await self.execute("CLUSTER", "COUNTKEYSINSLOT", slot_id)

    async def cluster_get_keys_in_slot(self, slot: int, num_keys: int) -> list[StrT]:
        """CLUSTER GETKEYSINSLOT: up to ``num_keys`` keys of the slot."""
        return await self.execute("CLUSTER", "GETKEYSINSLOT", slot, num_keys)

    async def cluster_count_failure_report(self, node_id: EncodableT) -> int:
        """CLUSTER COUNT-FAILURE-REPORTS about a node."""
        return await self.execute("CLUSTER", "COUNT-FAILURE-REPORTS", node_id)

    async def cluster_addslots(self, *slots: int) -> bool:
        """CLUSTER ADDSLOTS: True."""
        return await self.execute("CLUSTER", "ADDSLOTS", *slots, callback=replies.ok)

    async def cluster_addslotsrange(self, *slots: int) -> bool:
        """CLUSTER ADDSLOTSRANGE start end [start end ...]: True."""
        if not slots or len(slots) % 2:
            raise DataError("cluster_addslotsrange: give start, end pairs")
        return await self.execute("CLUSTER", "ADDSLOTSRANGE", *slots, callback=replies.ok)

    async def cluster_delslots(self, *slots: int) -> bool:
        """CLUSTER DELSLOTS: True."""
        return await self.execute("CLUSTER", "DELSLOTS", *slots, callback=replies.ok)

    async def cluster_delslotsrange(self, *slots: int) -> bool:
        """CLUSTER DELSLOTSRANGE start end [start end ...]: True."""
        if not slots or len(slots) % 2:
            raise DataError("cluster_delslotsrange: give start, end pairs")
        return await self.execute("CLUSTER", "DELSLOTSRANGE", *slots, callback=replies.ok)

    async def cluster_flushslots(self) -> bool:
        """CLUSTER FLUSHSLOTS (the node must have no keys): True."""
        return await self.execute("CLUSTER", "FLUSHSLOTS", callback=replies.ok)

    async def cluster_setslot(self, node_id: EncodableT, slot_id: int, state: str) -> bool:
        """CLUSTER SETSLOT ``slot_id`` IMPORTING/MIGRATING/NODE ``node_id``: True."""
        if str(state).upper() not in ("IMPORTING", "MIGRATING", "NODE"):
            raise DataError("cluster_setslot: state can be IMPORTING, MIGRATING or NODE")
        args = ("CLUSTER", "SETSLOT", slot_id, state, node_id)
        return await self.execute(*args, callback=replies.ok)

    async def cluster_setslot_stable(self, slot_id: int) -> bool:
        """CLUSTER SETSLOT ``slot_id`` STABLE: True."""
        return await self.execute("CLUSTER", "SETSLOT", slot_id, "STABLE", callback=replies.ok)

    async def cluster_bumpepoch(self) -> StrT:
        """CLUSTER BUMPEPOCH: ``BUMPED n`` or ``STILL n`` (the reply as is)."""
        return await self.execute("CLUSTER", "BUMPEPOCH")

    async def cluster_set_config_epoch(self, epoch: int) -> bool:
        """CLUSTER SET-CONFIG-EPOCH of a node that knows no other: True."""
        return await self.execute("CLUSTER", "SET-CONFIG-EPOCH", epoch, callback=replies.ok)

    async def cluster_save_config(self) -> bool:
        """CLUSTER SAVECONFIG: True."""
        return await self.execute("CLUSTER", "SAVECONFIG", callback=replies.ok)

    async def cluster_meet(self, host: str, port: int, cluster_bus_port: int | None = None) -> bool:
        """CLUSTER MEET another node: True (the handshake goes on in the background)."""
        if cluster_bus_port is None:
            return await self.execute("CLUSTER", "MEET", host, port, callback=replies.ok)
        args = ("CLUSTER", "MEET", host, port, cluster_bus_port)
        return await self.execute(*args, callback=replies.ok)

    async def cluster_forget(self, node_id: EncodableT) -> bool:
        """CLUSTER FORGET a node: True."""
        return await self.execute("CLUSTER", "FORGET", node_id, callback=replies.ok)

    async def cluster_replicate(self, node_id: EncodableT) -> bool:
        """CLUSTER REPLICATE: make this node a replica of ``node_id``. True."""
        return await self.execute("CLUSTER", "REPLICATE", node_id, callback=replies.ok)

    async def cluster_failover(self, option: str | None = None) -> bool:
        """CLUSTER FAILOVER [FORCE|TAKEOVER], sent to a replica: True."""
        if option is None:
            return await self.execute("CLUSTER", "FAILOVER", callback=replies.ok)
        if str(option).upper() not in ("FORCE", "TAKEOVER"):
            raise DataError("cluster_failover: option can be FORCE or TAKEOVER")
        return await self.execute("CLUSTER", "FAILOVER", option, callback=replies.ok)

    async def cluster_reset(self, soft: bool = True) -> bool:
        """CLUSTER RESET SOFT (or HARD: a new node id too): True."""
        mode = "SOFT" if soft else "HARD"
        return await self.execute("CLUSTER", "RESET", mode, callback=replies.ok)
