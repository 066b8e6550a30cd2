"""Reply-shaping callbacks shared by ``store.aio`` and ``store.sync``.

Each callback takes one reply as read off the wire and returns the value the typed
command methods promise, so that RESP2 and RESP3 replies, decoded (str) or raw
(bytes), come out in the same shape. Pure functions, no I/O.

The reader hands over bytes (or str when decoding), None, int, float (RESP3
doubles), bool (RESP3 booleans), list (arrays, RESP3 sets and pushes) and dict
(RESP3 maps). Callbacks run once per command, so RESP3 shapes that are already
right pass through untouched and nothing here uses a regex.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = [
    "bool_list",
    "bzpop",
    "client_list",
    "float_list",
    "float_or_none",
    "info",
    "ok",
    "pairs",
    "pairs_to_dict",
    "pong",
    "pop_pair",
    "scan",
    "scan_hash",
    "scan_zset",
    "scan_zset_cast",
    "score_pairs",
    "score_pairs_cast",
    "set_result",
    "str_dict",
    "str_if_bytes",
    "str_or_none",
    "time",
    "timestamp",
    "to_set",
]


def str_if_bytes(value: Any) -> Any:
    """Text for bytes, anything else unchanged (errors replaced: replies are diagnostics)."""
    if type(value) is bytes:
        return value.decode("utf-8", "replace")
    return value


def ok(reply: Any) -> bool:
    """FLUSHDB, RENAME, MSET, LSET... -> True when the server said OK."""
    return reply in (b"OK", "OK")


def set_result(reply: Any) -> bool | None:
    """SET without GET: True, or None when NX/XX prevented the write (null reply)."""
    return None if reply is None else True


def pong(reply: Any) -> bool:
    """PING -> True."""
    return reply in (b"PONG", "PONG")


def bool_list(reply: Any) -> list[bool]:
    """SMISMEMBER: 0/1 integers (or RESP3 booleans) -> list of bools."""
    return [bool(x) for x in reply]


def float_or_none(reply: Any) -> float | None:
    """ZSCORE, ZINCRBY, ZADD INCR: RESP2 sends a bulk string, RESP3 a double."""
    return None if reply is None else float(reply)


def float_list(reply: Any) -> list[float | None]:
    """ZMSCORE -> list of float or None for missing members."""
    return [None if x is None else float(x) for x in reply]


def to_set(reply: Any) -> set[Any]:
    """SMEMBERS, SINTER, SUNION, SDIFF: an array (RESP2) or a set reply (RESP3) -> set."""
    return set(reply) if reply else set()


def pairs_to_dict(reply: Any) -> dict[Any, Any]:
    """HGETALL: RESP3 map passes through; RESP2 flat [k1, v1, k2, v2...] -> dict."""
    if type(reply) is dict:
        return reply
    if not reply:
        return {}
    it = iter(reply)
    return dict(zip(it, it, strict=True))


def str_dict(reply: Any) -> dict[Any, Any]:
    """CONFIG GET -> dict of str to str (as redis-py), from a RESP3 map or RESP2 pairs."""
    if not reply:
        return {}
    if type(reply) is dict:
        return {str_if_bytes(k): str_if_bytes(v) for k, v in reply.items()}
    it = iter(reply)
    return {str_if_bytes(k): str_if_bytes(v) for k, v in zip(it, it, strict=True)}


def score_pairs(reply: Any) -> list[tuple[Any, float]]:
    """WITHSCORES replies, ZPOPMIN/ZPOPMAX -> [(member, score), ...].

    RESP2 is flat with score strings; RESP3 nests [member, double] pairs, except
    ZPOPMIN/ZPOPMAX without a count, which is a flat [member, double].
    """
    if not reply:
        return []
    if type(reply[0]) is list:
        # float() again: a RESP3 server may still send scores as bulk strings.
        return [(m, float(s)) for m, s in reply]
    it = iter(reply)
    return list(zip(it, map(float, it), strict=True))


def score_pairs_cast(cast: Callable[[float], Any]) -> Callable[[Any], list[tuple[Any, Any]]]:
    """score_pairs with redis-py's ``score_cast_func`` applied to each float score."""

    def shape(reply: Any) -> list[tuple[Any, Any]]:
        return [(m, cast(s)) for m, s in score_pairs(reply)]

    return shape


def pairs(reply: Any) -> list[tuple[Any, Any]]:
    """HRANDFIELD WITHVALUES -> [(field, value), ...] from RESP2 flat or RESP3 nested pairs.

    A list, not a dict: a negative count may repeat fields.
    """
    if not reply:
        return []
    if type(reply[0]) is list:
        return list(map(tuple, reply))
    it = iter(reply)
    return list(zip(it, it, strict=True))


def scan(reply: Any) -> tuple[int, list[Any]]:
    """SCAN, SSCAN -> (cursor, items)."""
    cursor, items = reply
    return int(cursor), items


def scan_hash(reply: Any) -> tuple[int, dict[Any, Any]]:
    """HSCAN -> (cursor, {field: value})."""
    cursor, items = reply
    return int(cursor), pairs_to_dict(items)


def scan_zset(reply: Any) -> tuple[int, list[tuple[Any, float]]]:
    """ZSCAN -> (cursor, [(member, score), ...])."""
    cursor, items = reply
    return int(cursor), score_pairs(items)


def scan_zset_cast(cast: Callable[[float], Any]) -> Callable[[Any], tuple[int, list[Any]]]:
    """scan_zset with redis-py's ``score_cast_func`` applied to each float score."""

    def shape(reply: Any) -> tuple[int, list[Any]]:
        cursor, items = reply
        return int(cursor), [(m, cast(s)) for m, s in score_pairs(items)]

    return shape


def pop_pair(reply: Any) -> tuple[Any, Any] | None:
    """BLPOP, BRPOP -> (key, value), or None on timeout."""
    return (reply[0], reply[1]) if reply else None


def bzpop(reply: Any) -> tuple[Any, Any, float] | None:
    """BZPOPMIN, BZPOPMAX -> (key, member, score), or None on timeout."""
    return (reply[0], reply[1], float(reply[2])) if reply else None


def time(reply: Any) -> tuple[int, int]:
    """TIME -> (seconds, microseconds)."""
    return int(reply[0]), int(reply[1])


def str_or_none(reply: Any) -> str | None:
    """CLIENT GETNAME -> str (as redis-py) or None."""
    if type(reply) is bytes:
        return reply.decode("utf-8", "replace")
    return reply  # type: ignore[no-any-return]


def timestamp(reply: Any) -> datetime | None:
    """LASTSAVE -> naive local datetime, as redis-py does."""
    if reply is None:
        return None
    return datetime.fromtimestamp(int(reply))


def _info_value(value: str) -> Any:
    if "," not in value and "=" not in value:
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    if "=" not in value:
        return [_info_value(v) for v in value.split(",") if v]
    sub: dict[str, Any] = {}
    for item in value.split(","):
        if not item:
            continue
        if "=" in item:
            k, v = item.rsplit("=", 1)
            sub[k] = _info_value(v)
        else:
            sub[item] = True
    return sub


def info(reply: Any) -> dict[str, Any]:
    """INFO -> flat dict as redis-py builds it: sections merged, numbers converted,
    ``db0:keys=1,expires=0`` -> ``{"db0": {"keys": 1, "expires": 0}}``.

    RESP3 sends a verbatim string, which the reader already reduced to its text.
    """
    text = str_if_bytes(reply)
    result: dict[str, Any] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            if key == "cmdstat_host":
                # the one key that itself contains a colon
                key, value = line.rsplit(":", 1)
            if key == "module":
                result.setdefault("modules", []).append(_info_value(value))
            else:
                result[key] = _info_value(value)
        else:
            result.setdefault("__raw__", []).append(line)
    return result


def client_list(reply: Any) -> list[dict[str, str]]:
    """CLIENT LIST -> one dict of str per connection, as redis-py."""
    clients = []
    for line in str_if_bytes(reply).splitlines():
        client: dict[str, str] = {}
        last = ""
        for token in line.split(" "):
            if "=" in token:
                key, value = token.split("=", 1)
                client[key] = value
                last = key
            elif last:
                # a value with a space in it, e.g. a unix socket path
                client[last] += " " + token
        if client:
            clients.append(client)
    return clients
