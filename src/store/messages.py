"""Pub/sub messages: the one message type of both variants and its parser. No I/O."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from .errors import ResponseError, response_error

__all__ = ["DISCONNECTED", "RECONNECTED", "SUBSCRIBE_TYPES", "PubSubMessage", "parse_message"]

logger = logging.getLogger("store.pubsub")

#: kinds of the status messages a reader gets when the connection is lost and back
DISCONNECTED: Final = "disconnected"
RECONNECTED: Final = "reconnected"
#: kinds of the server's confirmations, left out by ``ignore_subscribe_messages``
SUBSCRIBE_TYPES: Final = frozenset(
    ("subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe")
)
_KNOWN = (*SUBSCRIBE_TYPES, "message", "pmessage", "smessage", "pong")
_KINDS: Final[dict[Any, str]] = {
    **{kind: kind for kind in _KNOWN},
    **{kind.encode(): kind for kind in _KNOWN},
}


@dataclass(slots=True, frozen=True)
class PubSubMessage:
    """One message read from a PubSub.

    ``type`` is always a str:

    * ``"message"`` / ``"smessage"``: ``data`` was published on ``channel`` (a shard
      channel for ``smessage``); ``pattern`` is None.
    * ``"pmessage"``: ``data`` was published on ``channel``, matched by ``pattern``.
    * ``"subscribe"``, ``"unsubscribe"``, ``"ssubscribe"``, ``"sunsubscribe"``: the
      server's confirmation for ``channel``; ``data`` is the number of subscriptions
      the connection now has. ``"psubscribe"`` and ``"punsubscribe"`` name the
      ``pattern`` instead, ``channel`` is None.
    * ``"disconnected"``: the connection was lost; ``data`` says why (str), the PubSub
      is reconnecting. ``channel`` and ``pattern`` are None.
    * ``"reconnected"``: connected again and subscriptions sent again; ``data`` is the
      number of connection attempts it took (int).

    ``channel``, ``pattern`` and ``data`` are bytes, or str when the store decodes
    replies (``decode_responses``).
    """

    type: str
    channel: Any = None
    pattern: Any = None
    data: Any = None


def parse_message(reply: Any) -> PubSubMessage | None:
    """The message for one reply read on a subscribed connection; None for a PONG.

    An error reply is raised (as the most specific ResponseError).
    """
    if isinstance(reply, list) and reply:  # hiredis gives RESP3 push frames as a list subclass
        kind = _KINDS.get(reply[0])
        if kind is None:
            first = reply[0]
            kind = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
        if kind == "pmessage" and len(reply) == 4:
            return PubSubMessage(kind, reply[2], reply[1], reply[3])
        if kind == "pong":
            return None
        if len(reply) == 3:
            if kind in ("psubscribe", "punsubscribe"):
                return PubSubMessage(kind, None, reply[1], reply[2])
            return PubSubMessage(kind, reply[1], None, reply[2])
        return PubSubMessage(kind, None, None, reply[1:])
    if isinstance(reply, ResponseError):
        raise response_error(reply)
    if reply == b"PONG" or reply == "PONG":
        return None
    logger.debug("unexpected reply on a pub/sub connection: %.80r", reply)
    return None
