"""Keyspace notifications (Redis's notify.c): events published on
``__keyspace@<db>__:<key>`` (the message is the event) and ``__keyevent@<db>__:<event>``
(the message is the key), for the classes ``notify-keyspace-events`` turns on.

Handlers report an event with ``notify(client, CLASS, b"event", key)``; the hot ones
first look at ``client.server.notify_flags`` (0 while notifications are off, the
default), so an idle mechanism costs one attribute test per change. Removals that
empty a container report their event then ``del`` (``notify_removed``), as Redis does
before it deletes the key; the server deletes it after the command. The server itself
reports ``expired`` (lazy and active expiry, ``PulsarDS._expired``) and ``new``: while
the ``n`` class is on its databases are of the class ``keyspace.reporting_new_keys``
makes, whose ``set``/``get_or_create`` report created keys, so plain ones pay nothing.

``evicted`` comes from ``eviction.Eviction.evict``. Not done: ``keymiss`` (m). The flags come
from the stored CONFIG GET form, which (as Redis shows it) drops ``n`` once ``A`` is
shown: ``KEAn`` acts as ``KEA`` here, while Redis keeps ``n``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config_table import _EVENT_FLAGS, _EVENTS_ALL

if TYPE_CHECKING:
    from .client import Client
    from .core import PulsarDS

__all__ = [
    "EXPIRED",
    "GENERIC",
    "HASH",
    "KEYEVENT",
    "KEYSPACE",
    "LIST",
    "NEW",
    "SET",
    "STREAM",
    "STRING",
    "ZSET",
    "notify",
    "notify_db",
    "notify_removed",
    "parse_flags",
]

KEYSPACE = _EVENT_FLAGS["K"]
KEYEVENT = _EVENT_FLAGS["E"]
GENERIC = _EVENT_FLAGS["g"]
STRING = _EVENT_FLAGS["$"]
LIST = _EVENT_FLAGS["l"]
SET = _EVENT_FLAGS["s"]
HASH = _EVENT_FLAGS["h"]
ZSET = _EVENT_FLAGS["z"]
EXPIRED = _EVENT_FLAGS["x"]
EVICTED = _EVENT_FLAGS["e"]
STREAM = _EVENT_FLAGS["t"]
KEYMISS = _EVENT_FLAGS["m"]
NEW = _EVENT_FLAGS["n"]


def parse_flags(text: str) -> int:
    """The class bits of a (validated) ``notify-keyspace-events`` value. As in Redis,
    without K or E nothing is published, so that is 0: the off switch."""
    flags = 0
    for char in text:
        flags |= _EVENTS_ALL if char == "A" else _EVENT_FLAGS.get(char, 0)
    if not flags & (KEYSPACE | KEYEVENT):
        return 0
    return flags


def notify(client: Client, kind: int, event: bytes, key: bytes) -> None:
    """An event of class ``kind`` on ``key`` in the client's database."""
    server = client.server
    if server.notify_flags & kind:
        _publish(server, kind, event, key, client.db.index)


def notify_db(server: PulsarDS, kind: int, event: bytes, key: bytes, index: int) -> None:
    """An event in database ``index`` (MOVE, COPY ... DB, expiry)."""
    if server.notify_flags & kind:
        _publish(server, kind, event, key, index)


def _publish(server: PulsarDS, kind: int, event: bytes, key: bytes, index: int) -> None:
    flags = server.notify_flags
    if flags & KEYSPACE:
        server.pubsub.publish(b"__keyspace@%d__:%s" % (index, key), event)
    if flags & KEYEVENT:
        server.pubsub.publish(b"__keyevent@%d__:%s" % (index, event), key)


def notify_removed(client: Client, kind: int, event: bytes, key: bytes, value: object) -> None:
    """``event`` for a removal from the container ``value`` at ``key``, then ``del`` if
    that emptied it (the server deletes the key after the command, Redis at once)."""
    server = client.server
    if server.notify_flags:
        index = client.db.index
        if server.notify_flags & kind:
            _publish(server, kind, event, key, index)
        if not value and server.notify_flags & GENERIC:
            _publish(server, GENERIC, b"del", key, index)
