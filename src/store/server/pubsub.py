"""Who is subscribed to what: channels, glob patterns and shard channels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .glob import compile_glob

if TYPE_CHECKING:
    from .client import Client

__all__ = ["PubSubRegistry"]


class PubSubRegistry:
    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Client, None]] = {}  # dicts keep subscription order
        self.patterns: dict[bytes, dict[Client, None]] = {}
        self.shard_channels: dict[bytes, dict[Client, None]] = {}

    def subscribe(self, client: Client, channel: bytes, shard: bool = False) -> bool:
        mine = client.shard_channels if shard else client.channels
        if channel in mine:
            return False
        mine.add(channel)
        table = self.shard_channels if shard else self.channels
        table.setdefault(channel, {})[client] = None
        return True

    def unsubscribe(self, client: Client, channel: bytes, shard: bool = False) -> bool:
        mine = client.shard_channels if shard else client.channels
        if channel not in mine:
            return False
        mine.discard(channel)
        table = self.shard_channels if shard else self.channels
        _drop(table, channel, client)
        return True

    def psubscribe(self, client: Client, pattern: bytes) -> bool:
        if pattern in client.patterns:
            return False
        client.patterns.add(pattern)
        self.patterns.setdefault(pattern, {})[client] = None
        return True

    def punsubscribe(self, client: Client, pattern: bytes) -> bool:
        if pattern not in client.patterns:
            return False
        client.patterns.discard(pattern)
        _drop(self.patterns, pattern, client)
        return True

    def publish(self, channel: bytes, message: bytes, shard: bool = False) -> int:
        """Deliver to subscribers and matching patterns; the number of receivers."""
        receivers = 0
        table = self.shard_channels if shard else self.channels
        kind = b"smessage" if shard else b"message"
        for client in list(table.get(channel, ())):
            client.push(kind, channel, message)
            receivers += 1
        if not shard:
            for pattern, clients in list(self.patterns.items()):
                if compile_glob(pattern)(channel):
                    for client in list(clients):
                        client.push(b"pmessage", pattern, channel, message)
                        receivers += 1
        return receivers

    def remove_client(self, client: Client) -> None:
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        for channel in list(client.shard_channels):
            self.unsubscribe(client, channel, shard=True)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)


def _drop(table: dict[bytes, dict[Client, None]], name: bytes, client: Client) -> None:
    clients = table.get(name)
    if clients is not None:
        clients.pop(client, None)
        if not clients:
            del table[name]
