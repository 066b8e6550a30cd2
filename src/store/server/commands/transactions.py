"""Transactions: MULTI EXEC DISCARD WATCH UNWATCH.

The server (``PulsarDS.call``) queues every command other than the NO_QUEUE ones while
``client.multi`` is a list, and sets ``client.multi_failed`` when it refuses one (unknown
command, wrong arity, NOAUTH), so EXEC here only decides between aborting and running the
queue. WATCH registers the client in ``db.watchers``; ``Database.touch`` sets
``client.dirty_cas`` when a watched key changes, is flushed or expires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..protocol import NULL_ARRAY, OK, ErrorReply
from . import NO_PROPAGATE, NO_QUEUE, NOSCRIPT, PUBSUB, CommandError, command, lookup

if TYPE_CHECKING:
    from ..client import Client


@command("multi", 1, NO_QUEUE, NOSCRIPT)
def multi(client: Client, args: list[bytes]) -> Any:
    if client.multi is not None:
        # Redis refuses the nested MULTI but keeps the transaction usable.
        raise CommandError("ERR MULTI calls can not be nested")
    client.multi = []
    client.multi_failed = False
    return OK


@command("discard", 1, NO_QUEUE, NOSCRIPT)
def discard(client: Client, args: list[bytes]) -> Any:
    if client.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    client.server.end_transaction(client)
    return OK


def _expire_watched(client: Client) -> None:
    """Delete the watched keys whose deadline has passed since WATCH: the deletion touches
    the key, so EXEC aborts, as in Redis 6.0.9+ (a key already expired at WATCH time was
    deleted then, before the client was registered, so it does not count)."""
    for db, key in client.watched:
        if key in db.expires:
            db.get(key)


def _may_write(args: list[bytes]) -> bool:
    cmd = lookup(args[0])
    return cmd is not None and (cmd.is_write or NO_PROPAGATE in cmd.flags)


@command("exec", 1, NO_QUEUE, NOSCRIPT)
def exec_(client: Client, args: list[bytes]) -> Any:
    queued = client.multi
    if queued is None:
        raise CommandError("ERR EXEC without MULTI")
    _expire_watched(client)
    if client.multi_failed:
        client.server.end_transaction(client)
        raise CommandError("EXECABORT Transaction discarded because of previous errors.")
    if client.dirty_cas:
        client.server.end_transaction(client)
        return NULL_ARRAY
    client.server.end_transaction(
        client
    )  # unwatch before running: the queue's own writes do not matter
    server = client.server
    replies: list[Any] = []
    last_command = client.last_command
    was_in_exec = client.in_exec
    client.in_exec = True  # blocking commands answer at once
    # The append-only file gets the transaction's writes between MULTI and EXEC, so a
    # replay applies all of them or (if the file ends inside the block) none.
    logged_multi = False
    try:
        for queued_args in queued:
            if not logged_multi and server.aof is not None and _may_write(queued_args):
                server.aof.append(client.db.index, [b"MULTI"])
                logged_multi = True
            try:
                if not client.resp3 and (
                    client.channels or client.patterns or client.shard_channels
                ):
                    replies.append(_call_subscribed(client, queued_args))
                else:
                    replies.append(server.call(client, queued_args))
            except CommandError as exc:
                replies.append(ErrorReply(exc.message))
    finally:
        client.in_exec = was_in_exec
        client.last_command = last_command
        if logged_multi and server.aof is not None:
            server.aof.append(client.db.index, [b"EXEC"])
    return replies


def _call_subscribed(client: Client, args: list[bytes]) -> Any:
    """A queued command after a SUBSCRIBE of the same transaction (RESP2): Redis checks
    the subscribed context when a command arrives, not inside EXEC, so it runs."""
    cmd = lookup(args[0])
    if cmd is None or PUBSUB in cmd.flags:
        return client.server.call(client, args)
    saved = client.channels, client.patterns, client.shard_channels
    client.channels, client.patterns, client.shard_channels = set(), set(), set()
    try:
        return client.server.call(client, args)
    finally:
        client.channels, client.patterns, client.shard_channels = saved


@command("watch", -2, NO_QUEUE, NOSCRIPT, keys=(1, -1, 1))
def watch(client: Client, args: list[bytes]) -> Any:
    if client.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    db = client.db
    already = {(id(watched_db), key) for watched_db, key in client.watched}
    for key in args[1:]:
        if (id(db), key) in already:
            continue
        already.add((id(db), key))
        # Expire a stale key now, before registering, so that its later lazy deletion
        # is not taken for a change.
        db.get(key)
        db.watchers.setdefault(key, set()).add(client)
        client.watched.append((db, key))
    return OK


@command("unwatch", 1, NOSCRIPT)
def unwatch(client: Client, args: list[bytes]) -> Any:
    client.server.unwatch(client)
    return OK
