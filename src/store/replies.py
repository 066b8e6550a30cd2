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
    "acl_getuser",
    "acl_log",
    "bool_list",
    "bzpop",
    "client_info",
    "client_list",
    "cluster_info",
    "cluster_nodes",
    "cluster_shards",
    "cluster_slots",
    "command_docs",
    "command_info",
    "float_list",
    "float_or_none",
    "function_list",
    "function_stats",
    "geo_results",
    "geopos",
    "info",
    "keys_and_flags",
    "latency_histogram",
    "lcs_idx",
    "list_of_str_dicts",
    "memory_stats",
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
    "slowlog",
    "sort_groups",
    "str_dict",
    "str_if_bytes",
    "str_keys",
    "str_list",
    "str_or_none",
    "stream_entries",
    "time",
    "timestamp",
    "to_set",
    "trackinginfo",
    "true",
    "xautoclaim",
    "xautoclaim_justid",
    "xinfo_stream",
    "xinfo_stream_full",
    "xpending",
    "xpending_range",
    "xread",
    "zmpop",
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


# -- streams ---------------------------------------------------------------------------------


def _entry(entry: Any) -> tuple[Any, Any]:
    # an entry XCLAIM/XREADGROUP found deleted comes as a nil or with nil fields
    if entry is None:
        return (None, None)
    fields = entry[1]
    return (entry[0], None if fields is None else pairs_to_dict(fields))


def stream_entries(reply: Any) -> list[tuple[Any, Any]]:
    """XRANGE, XREVRANGE, XCLAIM -> [(id, {field: value}), ...]."""
    if not reply:
        return []
    return [_entry(entry) for entry in reply]


def xread(reply: Any) -> list[list[Any]]:
    """XREAD, XREADGROUP -> [[stream, [(id, fields), ...]], ...] (redis-py's RESP2 shape),
    from RESP2's array or RESP3's map; [] when nothing came (a null reply)."""
    if not reply:
        return []
    if type(reply) is dict:
        return [[stream, stream_entries(entries)] for stream, entries in reply.items()]
    return [[stream, stream_entries(entries)] for stream, entries in reply]


def xpending(reply: Any) -> dict[str, Any]:
    """XPENDING summary -> {"pending": n, "min": id, "max": id, "consumers": [...]}."""
    consumers = [{"name": name, "pending": int(count)} for name, count in reply[3] or ()]
    return {"pending": reply[0], "min": reply[1], "max": reply[2], "consumers": consumers}


_PENDING_KEYS = ("message_id", "consumer", "time_since_delivered", "times_delivered")


def xpending_range(reply: Any) -> list[dict[str, Any]]:
    """XPENDING with a range -> one dict per message, redis-py's keys."""
    return [dict(zip(_PENDING_KEYS, row, strict=True)) for row in reply]


def xautoclaim(reply: Any) -> list[Any]:
    """XAUTOCLAIM -> [next_start_id, [(id, fields), ...], [deleted ids]]."""
    return [reply[0], stream_entries(reply[1]), *reply[2:]]


def xautoclaim_justid(reply: Any) -> list[Any]:
    """XAUTOCLAIM JUSTID -> the claimed ids (redis-py drops the cursor and deleted ids)."""
    return reply[1]  # type: ignore[no-any-return]


def str_keys(reply: Any) -> dict[str, Any]:
    """A RESP3 map or RESP2 flat pairs -> dict with str keys (values untouched)."""
    if type(reply) is dict:
        return {str_if_bytes(k): v for k, v in reply.items()}
    if not reply:
        return {}
    it = iter(reply)
    return {str_if_bytes(k): v for k, v in zip(it, it, strict=True)}


def list_of_str_dicts(reply: Any) -> list[dict[str, Any]]:
    """XINFO GROUPS, XINFO CONSUMERS, MODULE LIST... -> one dict with str keys each."""
    return [str_keys(item) for item in reply]


def xinfo_stream(reply: Any) -> dict[str, Any]:
    """XINFO STREAM -> dict with str keys; first-entry and last-entry as (id, fields)."""
    data = str_keys(reply)
    for key in ("first-entry", "last-entry"):
        entry = data.get(key)
        if entry is not None:
            data[key] = _entry(entry)
    return data


def xinfo_stream_full(reply: Any) -> dict[str, Any]:
    """XINFO STREAM FULL -> dict with str keys; entries as {id: fields}; groups and their
    consumers as dicts with str keys."""
    data = str_keys(reply)
    data["entries"] = {entry[0]: pairs_to_dict(entry[1]) for entry in data.get("entries") or ()}
    groups = [str_keys(group) for group in data.get("groups") or ()]
    for group in groups:
        group["consumers"] = [str_keys(c) for c in group.get("consumers") or ()]
    data["groups"] = groups
    return data


# -- geo -------------------------------------------------------------------------------------


def str_list(reply: Any) -> list[Any]:
    """GEOHASH, ACL USERS, ACL CAT... -> list of str (None stays None)."""
    return [str_if_bytes(x) for x in reply]


def geopos(reply: Any) -> list[tuple[float, float] | None]:
    """GEOPOS -> [(longitude, latitude) or None, ...] in floats."""
    return [None if ll is None else (float(ll[0]), float(ll[1])) for ll in reply]


def _geo_row(withdist: bool, withhash: bool, withcoord: bool) -> Callable[[Any], list[Any]]:
    def row(item: Any) -> list[Any]:
        out = [item[0]]
        index = 1
        if withdist:
            out.append(float(item[index]))
            index += 1
        if withhash:
            out.append(int(item[index]))
            index += 1
        if withcoord:
            ll = item[index]
            out.append((float(ll[0]), float(ll[1])))
        return out

    return row


def _geo_shape(withdist: bool, withhash: bool, withcoord: bool) -> Callable[[Any], list[Any]]:
    if not (withdist or withhash or withcoord):
        return _members
    row = _geo_row(withdist, withhash, withcoord)

    def shape(reply: Any) -> list[Any]:
        return [row(item) for item in reply]

    return shape


def _members(reply: Any) -> list[Any]:
    return list(reply)


_GEO_SHAPES = {
    (d, h, c): _geo_shape(d, h, c)
    for d in (False, True)
    for h in (False, True)
    for c in (False, True)
}


def geo_results(withdist: Any, withhash: Any, withcoord: Any) -> Callable[[Any], list[Any]]:
    """GEOSEARCH, GEORADIUS* -> the members; with WITHDIST/WITHHASH/WITHCOORD,
    [member, dist (float), hash (int), (lon, lat)] rows of those asked for (as redis-py)."""
    return _GEO_SHAPES[bool(withdist), bool(withhash), bool(withcoord)]


# -- bits, strings ---------------------------------------------------------------------------


def lcs_idx(reply: Any) -> dict[str, Any]:
    """LCS IDX -> {"matches": [...], "len": n} from RESP2 pairs or a RESP3 map."""
    return str_keys(reply)


# -- keyspace --------------------------------------------------------------------------------


def sort_groups(size: int) -> Callable[[Any], list[tuple[Any, ...]]]:
    """SORT with ``groups``: the flat reply cut into tuples of ``size``."""

    def shape(reply: Any) -> list[tuple[Any, ...]]:
        if not reply:
            return []
        return list(zip(*[reply[i::size] for i in range(size)], strict=True))

    return shape


def zmpop(reply: Any) -> list[Any] | None:
    """ZMPOP, BZMPOP -> [key, [(member, score), ...]], or None."""
    if not reply:
        return None
    return [reply[0], score_pairs(reply[1])]


# -- server ----------------------------------------------------------------------------------


def true(reply: Any) -> bool:
    """BGSAVE, BGREWRITEAOF: a status line saying it started or is scheduled -> True."""
    return True


def _str_values(data: dict[str, Any]) -> dict[str, Any]:
    return {k: str_if_bytes(v) for k, v in data.items()}


def _str_list(value: Any) -> list[Any]:
    return [str_if_bytes(x) for x in value or ()]


def acl_getuser(reply: Any) -> dict[str, Any] | None:
    """ACL GETUSER -> redis-py's dict: flags, passwords, commands and categories (lists of
    str, split from the rules), keys and channels (lists), selectors (dicts), enabled."""
    if reply is None:
        return None
    data = str_keys(reply)
    data["flags"] = _str_list(data["flags"])
    data["passwords"] = _str_list(data["passwords"])
    for key in ("keys", "channels"):
        if key in data:
            value = data[key]
            if type(value) in (bytes, str):
                value = str_if_bytes(value).split(" ")
            data[key] = [str_if_bytes(x) for x in value if x not in ("", b"")]
    if "selectors" in data:
        data["selectors"] = [_str_values(str_keys(s)) for s in data["selectors"]]
    rules = str_if_bytes(data["commands"]).split(" ")
    data["commands"] = [rule for rule in rules if "@" not in rule]
    data["categories"] = [rule for rule in rules if "@" in rule]
    data["enabled"] = "on" in data["flags"]
    return data


def _client_fields(text: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    for token in str_if_bytes(text).split():
        key, _, value = token.partition("=")
        fields[key] = value
    return fields


def acl_log(reply: Any) -> list[dict[str, Any]]:
    """ACL LOG -> one dict per entry: str keys and values (integers stay integers),
    ``age-seconds`` a float, ``client-info`` a dict."""
    entries = []
    for item in reply:
        entry = _str_values(str_keys(item))
        entry["age-seconds"] = float(entry["age-seconds"])
        entry["client-info"] = _client_fields(entry.get("client-info", ""))
        entries.append(entry)
    return entries


def client_info(reply: Any) -> dict[str, str]:
    """CLIENT INFO -> one client_list() dict."""
    found = client_list(reply)
    return found[0] if found else {}


def trackinginfo(reply: Any) -> dict[str, Any]:
    """CLIENT TRACKINGINFO -> {"flags": [str], "redirect": int, "prefixes": [...]}."""
    data = str_keys(reply)
    data["flags"] = _str_list(data.get("flags"))
    data["prefixes"] = list(data.get("prefixes") or ())
    return data


def _key_spec(spec: Any) -> dict[str, Any]:
    data = _str_values(str_keys(spec))
    for part in ("begin_search", "find_keys"):
        if part in data:
            inner = _str_values(str_keys(data[part]))
            if "spec" in inner:
                inner["spec"] = _str_values(str_keys(inner["spec"]))
            data[part] = inner
    if "flags" in data:
        data["flags"] = _str_list(data["flags"])
    return data


def _command_row(row: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": str_if_bytes(row[0]),
        "arity": int(row[1]),
        "flags": _str_list(row[2]),
        "first_key_pos": row[3],
        "last_key_pos": row[4],
        "step_count": row[5],
    }
    if len(row) > 6:
        info["acl_categories"] = _str_list(row[6])
    if len(row) > 7:
        info["tips"] = _str_list(row[7])
        info["key_specifications"] = [_key_spec(spec) for spec in row[8]]
        info["subcommands"] = [_command_row(sub) for sub in row[9]]
    return info


def command_info(reply: Any) -> dict[str, dict[str, Any]]:
    """COMMAND, COMMAND INFO -> {name: {"name", "arity", "flags", "first_key_pos",
    "last_key_pos", "step_count", "acl_categories", "tips", "key_specifications",
    "subcommands"}}, redis-py's keys; key specs as dicts, subcommands as such dicts too.
    A command the server does not know (a nil) is left out."""
    commands = {}
    for row in reply:
        if row is not None:
            info = _command_row(row)
            commands[info["name"]] = info
    return commands


def _doc_argument(argument: Any) -> dict[str, Any]:
    data = _str_values(str_keys(argument))
    if "flags" in data:
        data["flags"] = _str_list(data["flags"])
    if "arguments" in data:
        data["arguments"] = [_doc_argument(a) for a in data["arguments"]]
    return data


def _doc(doc: Any) -> dict[str, Any]:
    data = _str_values(str_keys(doc))
    if "doc_flags" in data:
        data["doc_flags"] = _str_list(data["doc_flags"])
    if "history" in data:
        data["history"] = [_str_list(entry) for entry in data["history"]]
    if "arguments" in data:
        data["arguments"] = [_doc_argument(a) for a in data["arguments"]]
    if "subcommands" in data:
        data["subcommands"] = command_docs(data["subcommands"])
    return data


def command_docs(reply: Any) -> dict[str, dict[str, Any]]:
    """COMMAND DOCS -> {name: {"summary", "since", "group", "complexity", "arguments": [...],
    "subcommands": {...}, ...}}: str keys and text values, RESP2 and RESP3 alike."""
    return {name: _doc(doc) for name, doc in str_keys(reply).items()}


def keys_and_flags(reply: Any) -> list[list[Any]]:
    """COMMAND GETKEYSANDFLAGS -> [[key, [flag (str), ...]], ...]."""
    return [[key, _str_list(flags)] for key, flags in reply]


def _stat_value(value: Any) -> Any:
    # RESP2 sends the doubles (peak.percentage...) as bulk strings, RESP3 as doubles
    if type(value) is bytes or type(value) is str:
        try:
            return float(value)
        except ValueError:
            return str_if_bytes(value)
    return value


def memory_stats(reply: Any) -> dict[str, Any]:
    """MEMORY STATS -> dict with str keys; ``db.N`` a dict; doubles as floats."""
    stats = {k: _stat_value(v) for k, v in str_keys(reply).items()}
    for key, value in stats.items():
        if key.startswith("db.") and type(value) in (list, dict):
            stats[key] = {k: _stat_value(v) for k, v in str_keys(value).items()}
    return stats


def slowlog(reply: Any) -> list[dict[str, Any]]:
    """SLOWLOG GET -> [{"id", "start_time", "duration", "command", "client_address",
    "client_name"}, ...]; ``command`` the arguments joined by a space (bytes or str)."""
    entries = []
    for item in reply:
        args = item[3]
        space: Any = " " if args and type(args[0]) is str else b" "
        entry = {
            "id": item[0],
            "start_time": int(item[1]),
            "duration": int(item[2]),
            "command": space.join(args),
        }
        if len(item) >= 6:
            entry["client_address"] = item[4]
            entry["client_name"] = item[5]
        entries.append(entry)
    return entries


def latency_histogram(reply: Any) -> dict[str, dict[str, Any]]:
    """LATENCY HISTOGRAM -> {command: {"calls": n, "histogram_usec": {bucket: count}}}."""
    result = {}
    for name, data in str_keys(reply).items():
        info = str_keys(data)
        info["histogram_usec"] = {
            int(k): v for k, v in pairs_to_dict(info.get("histogram_usec") or []).items()
        }
        result[name] = info
    return result


# -- scripting -------------------------------------------------------------------------------


def function_list(reply: Any) -> list[dict[str, Any]]:
    """FUNCTION LIST -> [{"library_name", "engine", "functions": [{"name", "description",
    "flags": [str]}], ("library_code")}], str keys, text values as they came."""
    libraries = []
    for item in reply:
        library = str_keys(item)
        functions = []
        for function in library.get("functions") or ():
            data = str_keys(function)
            data["flags"] = _str_list(data.get("flags"))
            functions.append(data)
        library["functions"] = functions
        libraries.append(library)
    return libraries


def function_stats(reply: Any) -> dict[str, Any]:
    """FUNCTION STATS -> {"running_script": None or dict, "engines": {name: dict}}."""
    data = str_keys(reply)
    running = data.get("running_script")
    data["running_script"] = None if running is None else str_keys(running)
    engines = str_keys(data.get("engines") or [])
    data["engines"] = {name: str_keys(stats) for name, stats in engines.items()}
    return data


# -- cluster ---------------------------------------------------------------------------------


def cluster_info(reply: Any) -> dict[str, str]:
    """CLUSTER INFO -> {field: value} of str (as redis-py)."""
    text = str_if_bytes(reply)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _node_slots(items: list[str]) -> tuple[list[list[str]], list[dict[str, str]]]:
    slots: list[list[str]] = []
    migrations: list[dict[str, str]] = []
    for item in items:
        if "->-" in item:
            slot, node = item[1:-1].split("->-", 1)
            migrations.append({"slot": slot, "node_id": node, "state": "migrating"})
        elif "-<-" in item:
            slot, node = item[1:-1].split("-<-", 1)
            migrations.append({"slot": slot, "node_id": node, "state": "importing"})
        else:
            slots.append(item.split("-"))
    return slots, migrations


def cluster_nodes(reply: Any) -> dict[str, dict[str, Any]]:
    """CLUSTER NODES, REPLICAS, SLAVES -> {"ip:port@cport": {...}}, redis-py's shape."""
    lines = str_if_bytes(reply).splitlines() if type(reply) in (bytes, str) else reply
    nodes = {}
    for raw in lines:
        line = str_if_bytes(raw)
        if not line:
            continue
        parts = line.split(" ")
        node_id, address, flags, master, ping, pong, epoch, link = parts[:8]
        hostname = address.split("@")[1].split(",")[1] if "@" in address and "," in address else ""
        slots, migrations = _node_slots(parts[8:])
        nodes[address.split(",")[0]] = {
            "node_id": node_id,
            "hostname": hostname,
            "flags": flags,
            "master_id": master,
            "last_ping_sent": ping,
            "last_pong_rcvd": pong,
            "epoch": epoch,
            "slots": slots,
            "migrations": migrations,
            "connected": link == "connected",
        }
    return nodes


def cluster_slots(reply: Any) -> list[list[Any]]:
    """CLUSTER SLOTS -> [[start, end, [ip, port, id, {metadata}], ...], ...]: a node's
    metadata a dict (RESP3 sends a map, RESP2 flat pairs)."""
    ranges = []
    for item in reply:
        nodes = []
        for node in item[2:]:
            node = list(node)
            if len(node) > 3:
                node[3] = _str_values(str_keys(node[3]))
            nodes.append(node)
        ranges.append([item[0], item[1], *nodes])
    return ranges


def cluster_shards(reply: Any) -> list[dict[str, Any]]:
    """CLUSTER SHARDS -> [{"slots": [...], "nodes": [{...}, ...]}, ...], str keys."""
    shards = []
    for item in reply:
        shard = str_keys(item)
        shard["nodes"] = [str_keys(node) for node in shard.get("nodes") or ()]
        shards.append(shard)
    return shards
