"""Pub/sub: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..glob import compile_glob
from ..protocol import Push, Replies
from . import NOSCRIPT, PUBSUB, CommandError, command, keys_from, subcommand_error
from .connection import help_reply

if TYPE_CHECKING:
    from ..client import Client


def _subscribe(client: Client, names: list[bytes], kind: bytes, shard: bool = False) -> Any:
    registry = client.server.pubsub
    replies = Replies()
    for name in names:
        if kind == b"psubscribe":
            registry.psubscribe(client, name)
            count = client.subscriptions - len(client.shard_channels)
        else:
            registry.subscribe(client, name, shard)
            count = (
                len(client.shard_channels)
                if shard
                else (len(client.channels) + len(client.patterns))
            )
        replies.append(Push([kind, name, count]))
    return replies


def _unsubscribe(client: Client, names: list[bytes], kind: bytes) -> Any:
    registry = client.server.pubsub
    shard = kind == b"sunsubscribe"
    mine = (
        client.patterns
        if kind == b"punsubscribe"
        else (client.shard_channels if shard else client.channels)
    )

    def drop(name: bytes) -> None:
        if kind == b"punsubscribe":
            registry.punsubscribe(client, name)
        else:
            registry.unsubscribe(client, name, shard)

    chosen = names or sorted(mine)
    replies = Replies()
    for name in chosen:
        drop(name)
        count = (
            len(client.shard_channels)
            if kind == b"sunsubscribe"
            else (len(client.channels) + len(client.patterns))
        )
        replies.append(Push([kind, name, count]))
    if not chosen:
        count = (
            len(client.shard_channels)
            if kind == b"sunsubscribe"
            else (len(client.channels) + len(client.patterns))
        )
        replies.append(Push([kind, None, count]))
    return replies


# Inside EXEC too: Redis 7.0 refuses them to a DENY BLOCKING client except in a transaction.
@command("subscribe", -2, PUBSUB, NOSCRIPT)
def subscribe(client: Client, args: list[bytes]) -> Any:
    return _subscribe(client, args[1:], b"subscribe")


@command("psubscribe", -2, PUBSUB, NOSCRIPT)
def psubscribe(client: Client, args: list[bytes]) -> Any:
    return _subscribe(client, args[1:], b"psubscribe")


@command("ssubscribe", -2, PUBSUB, NOSCRIPT, keys=(1, -1, 1))
def ssubscribe(client: Client, args: list[bytes]) -> Any:
    if client.in_exec:  # unlike SUBSCRIBE, with no exception for transactions
        raise CommandError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return _subscribe(client, args[1:], b"ssubscribe", shard=True)


@command("unsubscribe", -1, PUBSUB, NOSCRIPT)
def unsubscribe(client: Client, args: list[bytes]) -> Any:
    return _unsubscribe(client, args[1:], b"unsubscribe")


@command("punsubscribe", -1, PUBSUB, NOSCRIPT)
def punsubscribe(client: Client, args: list[bytes]) -> Any:
    return _unsubscribe(client, args[1:], b"punsubscribe")


@command("sunsubscribe", -1, PUBSUB, NOSCRIPT, keys=(1, -1, 1))
def sunsubscribe(client: Client, args: list[bytes]) -> Any:
    return _unsubscribe(client, args[1:], b"sunsubscribe")


@command("publish", 3)
def publish(client: Client, args: list[bytes]) -> Any:
    return client.server.pubsub.publish(args[1], args[2])


@command("spublish", 3, keys=keys_from((1,)))
def spublish(client: Client, args: list[bytes]) -> Any:
    return client.server.pubsub.publish(args[1], args[2], shard=True)


@command("pubsub", -2)
def pubsub(client: Client, args: list[bytes]) -> Any:
    registry = client.server.pubsub
    sub = args[1].lower()
    if sub in (b"channels", b"shardchannels") and len(args) <= 3:
        table = registry.channels if sub == b"channels" else registry.shard_channels
        if len(args) == 3:
            match = compile_glob(args[2])
            return [name for name in table if match(name)]
        return list(table)
    if sub in (b"numsub", b"shardnumsub"):
        table = registry.channels if sub == b"numsub" else registry.shard_channels
        reply: list[Any] = []
        for name in args[2:]:
            reply += [name, len(table.get(name, ()))]
        return reply
    if sub == b"numpat" and len(args) == 2:
        return len(registry.patterns)
    if sub == b"help" and len(args) == 2:
        return help_reply(b"pubsub", _PUBSUB_HELP)
    raise subcommand_error(args, (b"channels", b"shardchannels", b"numpat", b"help"))


_PUBSUB_HELP = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
]
