"""Stream commands, as Redis 7.0 has them: XADD XRANGE XREVRANGE XLEN XDEL XTRIM XSETID,
XREAD and XREADGROUP (blocking too), XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO.

The data structure is ``stream.Stream``. What the AOF gets follows Redis's propagation:
XADD with the ID it generated and an approximate trim rewritten as the exact one it did,
reads through a group as XCLAIM ... FORCE JUSTID per delivered entry (plus XGROUP
CREATECONSUMER for a consumer created on the way, and XGROUP SETID ... ENTRIESREAD when
the group's last ID moved, so that replaying gives the group's counters back exactly).
Keys are signalled (WATCH, blocked readers) only where Redis signals them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..client import NOT_READY, Blocked
from ..keyspace import now_ms
from ..notify import STREAM, notify
from ..protocol import NULL_ARRAY, OK
from ..stream import MAX_ID, U64, Consumer, Group, Nack, Stream, format_id, next_signal
from . import (
    BLOCKING,
    WRITE,
    CommandError,
    command,
    parse_int,
    subcommand_error,
    syntax_error,
    wrong_args,
)

if TYPE_CHECKING:
    from ..client import Client
    from ..keyspace import Database

INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
_STRTOULL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)")
_PLAIN_ID = re.compile(rb"([0-9]{1,20})-([0-9]{1,20})")  # the common form, read at once
_NONE: list[bytes] = []


def _no_keys(args: list[bytes]) -> list[bytes]:
    return _NONE


# -- arguments -------------------------------------------------------------------------------


def _string2ll(text: bytes) -> int | None:
    if not text or len(text) >= 21:
        return None
    if text == b"0":
        return 0
    digits = text[1:] if text[:1] == b"-" else text
    if not digits or not digits.isdigit() or digits[0] == 48:
        return None
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 63) else None


def _string2ull(text: bytes) -> int | None:
    """Redis's string2ull: string2ll, else strtoull (spaces, a sign, leading zeros)."""
    value = _string2ll(text)
    if value is not None:
        return value if value >= 0 else None
    match = _STRTOULL.fullmatch(text)
    if match is None:
        return None
    value = int(match.group(2))
    if value > U64:
        return None
    return (-value) & U64 if match.group(1) == b"-" else value


def parse_id(
    arg: bytes, missing_seq: int = 0, strict: bool = False, seq_star: bool = False
) -> tuple[int, bool]:
    """An ID as streamGenericParseIDOrReply reads it: ``ms-seq``, ``ms`` (the sequence is
    ``missing_seq``), ``-`` and ``+`` (unless ``strict``), ``ms-*`` (with ``seq_star``;
    then the flag returned is False: the sequence is to be generated)."""
    plain = _PLAIN_ID.fullmatch(arg)
    if plain is not None:
        high, low = int(plain[1]), int(plain[2])
        if high <= U64 and low <= U64:
            return high << 64 | low, True
        raise CommandError(INVALID_ID)
    if len(arg) > 127:
        raise CommandError(INVALID_ID)
    text = arg.split(b"\0", 1)[0]  # Redis reads it as a C string
    if text == b"-" or text == b"+":
        if strict:
            raise CommandError(INVALID_ID)
        return (0 if text == b"-" else MAX_ID), True
    ms_text, dash, seq_text = text.partition(b"-")
    ms = _string2ull(ms_text)
    if ms is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return ms << 64 | missing_seq, True
    if seq_star and seq_text == b"*":
        return ms << 64, False
    seq = _string2ull(seq_text)
    if seq is None:
        raise CommandError(INVALID_ID)
    return ms << 64 | seq, True


def _interval(arg: bytes, missing_seq: int, start: bool) -> int:
    """A range bound: ``(`` makes it exclusive."""
    if len(arg) > 1 and arg[:1] == b"(":
        value, _ = parse_id(arg[1:], missing_seq, strict=True)
        if start:
            if value == MAX_ID:
                raise CommandError("ERR invalid start ID for the interval")
            return value + 1
        if value == 0:
            raise CommandError("ERR invalid end ID for the interval")
        return value - 1
    value, _ = parse_id(arg, missing_seq)
    return value


def _entries(found: list[tuple[int, tuple[bytes, ...]]]) -> list[Any]:
    return [[format_id(entry_id), item] for entry_id, item in found]


def _stream(client: Client, key: bytes) -> Stream | None:
    return client.db.get_typed(key, Stream)  # type: ignore[no-any-return]


def _setting(client: Client, name: str, default: int) -> int:
    text = client.server.config.others.get(name)
    return default if text is None else int(text)


def _signal(client: Client, key: bytes) -> None:
    """Wake the readers blocked on ``key`` (Redis's signalKeyAsReady), leaving WATCH be."""
    server = client.server
    db = client.db
    if server.blocked and (db.index, key) in server.blocked:
        server.ready_keys.append((db, key))


def _nogroup(key: bytes, group: bytes, context: str = "") -> CommandError:
    return CommandError(
        f"NOGROUP No such key '{_text(key)}' or consumer group '{_text(group)}'{context}"
    )


def _text(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode("utf-8", "replace")


# -- XADD XTRIM --------------------------------------------------------------------------------


class _Trim:
    __slots__ = (
        "approx",
        "id",
        "id_given",
        "limit",
        "maxlen",
        "minid",
        "nomkstream",
        "seq_given",
        "strategy",
    )

    def __init__(self) -> None:
        self.strategy = 0  # 0 none, 1 MAXLEN, 2 MINID
        self.approx = False
        self.limit = 0
        self.maxlen = 0
        self.minid = 0
        self.nomkstream = False
        self.id = 0
        self.id_given = False
        self.seq_given = True


def _parse_trim(client: Client, args: list[bytes], xadd: bool) -> tuple[_Trim, int]:
    """The options of XADD and XTRIM (streamParseAddOrTrimArgsOrReply); for XADD also the
    position of the ID."""
    trim = _Trim()
    index = 2
    limit_given = False
    size = len(args)
    while index < size:
        more = size - 1 - index
        option = args[index]
        lowered = option.lower()
        if xadd and option == b"*":
            break
        if (lowered == b"maxlen" or lowered == b"minid") and more:
            if trim.strategy:
                raise CommandError(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
                )
            trim.approx = False
            following = args[index + 1]
            if more >= 2 and following == b"~":
                trim.approx = True
                index += 1
            elif more >= 2 and following == b"=":
                index += 1
            if lowered == b"maxlen":
                trim.maxlen = parse_int(args[index + 1])
                if trim.maxlen < 0:
                    raise CommandError("ERR The MAXLEN argument must be >= 0.")
                trim.strategy = 1
            else:
                trim.minid, _ = parse_id(args[index + 1], strict=True)
                trim.strategy = 2
            index += 1
        elif lowered == b"limit" and more:
            trim.limit = parse_int(args[index + 1])
            if trim.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            index += 1
        elif xadd and lowered == b"nomkstream":
            trim.nomkstream = True
        elif xadd:
            trim.id, trim.seq_given = parse_id(option, strict=True, seq_star=True)
            trim.id_given = True
            break
        else:
            raise syntax_error()
        index += 1
    if trim.limit and not trim.strategy:
        raise CommandError(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and not trim.strategy:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not trim.approx:
            raise CommandError(
                "ERR syntax error, LIMIT cannot be used without the special ~ option"
            )
    elif trim.approx:
        limit = 100 * _setting(client, "stream-node-max-entries", 100)
        trim.limit = 10000 if limit <= 0 else min(limit, 1000000)
    else:
        trim.limit = 0
    return trim, index


def _do_trim(stream: Stream, trim: _Trim) -> int:
    if trim.strategy == 1:
        return stream.trim(trim.maxlen, 0, trim.approx, trim.limit)
    return stream.trim(None, trim.minid, trim.approx, trim.limit)


def _trim_logged(stream: Stream, trim: _Trim, original: list[bytes]) -> list[bytes]:
    """The trim arguments for the AOF: an approximate trim becomes the exact one with the
    result (what Redis rewrites it to), without LIMIT."""
    name = b"MAXLEN" if trim.strategy == 1 else b"MINID"
    if not trim.approx:
        return original
    if trim.strategy == 1:
        return [name, b"=", b"%d" % stream.length]
    return [name, b"=", format_id(stream.first_any())]


@command("xadd", -5, WRITE, keys=(1, 1, 1), writes=_no_keys)
def xadd(client: Client, args: list[bytes]) -> Any:
    trim, id_at = _parse_trim(client, args, True)
    fields_at = id_at + 1
    count = len(args) - fields_at
    if count < 2 or count % 2:
        raise wrong_args("xadd")
    if trim.id_given and trim.seq_given and trim.id == 0:
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    key = args[1]
    db = client.db
    stream = _stream(client, key)
    created = stream is None
    if stream is None:
        if trim.nomkstream:
            client.propagate = []
            return None
        stream = Stream()
    last = stream.last_id
    if last == MAX_ID:
        raise CommandError(
            "ERR The stream has exhausted the last possible ID, unable to add more items"
        )
    if trim.id_given:
        entry_id = trim.id
        if not trim.seq_given and last >> 64 == entry_id >> 64:
            entry_id = last + 1 if last & U64 != U64 else 0
    else:
        ms = now_ms()
        entry_id = ms << 64 if ms > last >> 64 else last + 1
    if entry_id <= last:
        raise CommandError(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        )
    if created:
        db.set(key, stream)
    items = tuple(args[fields_at:])
    stream.append(
        entry_id,
        items,
        _setting(client, "stream-node-max-entries", 100),
        _setting(client, "stream-node-max-bytes", 4096),
    )
    stream.signals = next_signal()
    notify(client, STREAM, b"xadd", key)
    logged_trim: list[bytes] = []
    if trim.strategy:
        if _do_trim(stream, trim):
            notify(client, STREAM, b"xtrim", key)
        original = [a for a in args[2:id_at] if a.lower() != b"nomkstream"]
        logged_trim = _trim_logged(stream, trim, _strip_limit(original))
    logged = [b"XADD", key]
    if trim.nomkstream:
        logged.append(b"NOMKSTREAM")
    logged += logged_trim
    logged.append(format_id(entry_id))
    logged += items
    client.propagate = [logged]
    client.server.wrote(db, [key])
    return format_id(entry_id)


def _strip_limit(options: list[bytes]) -> list[bytes]:
    kept: list[bytes] = []
    index = 0
    while index < len(options):
        if options[index].lower() == b"limit" and index + 1 < len(options):
            index += 2
            continue
        kept.append(options[index])
        index += 1
    return kept


@command("xtrim", -4, WRITE, keys=(1, 1, 1), writes=_no_keys)
def xtrim(client: Client, args: list[bytes]) -> Any:
    trim, _ = _parse_trim(client, args, False)
    key = args[1]
    stream = _stream(client, key)
    client.propagate = []
    if stream is None:
        return 0
    deleted = _do_trim(stream, trim)
    if deleted:
        notify(client, STREAM, b"xtrim", key)
        logged = _trim_logged(stream, trim, _strip_limit(list(args[2:])))
        client.propagate = [[b"XTRIM", key, *logged]]
        client.server.wrote(client.db, [key])
    return deleted


# -- reads -------------------------------------------------------------------------------------


def _range(client: Client, args: list[bytes], rev: bool) -> Any:
    start_arg, end_arg = (args[3], args[2]) if rev else (args[2], args[3])
    start = _interval(start_arg, 0, True)
    end = _interval(end_arg, U64, False)
    count = -1
    index = 4
    while index < len(args):
        if args[index].lower() == b"count" and index + 1 < len(args):
            count = max(parse_int(args[index + 1]), 0)
            index += 2
        else:
            raise syntax_error()
    stream = _stream(client, args[1])
    if stream is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _entries(stream.range(start, end, max(count, 0), rev))


@command("xrange", -4, keys=(1, 1, 1))
def xrange(client: Client, args: list[bytes]) -> Any:
    return _range(client, args, False)


@command("xrevrange", -4, keys=(1, 1, 1))
def xrevrange(client: Client, args: list[bytes]) -> Any:
    return _range(client, args, True)


@command("xlen", 2, keys=(1, 1, 1))
def xlen(client: Client, args: list[bytes]) -> Any:
    stream = _stream(client, args[1])
    return 0 if stream is None else stream.length


# -- XDEL XSETID -------------------------------------------------------------------------------


@command("xdel", -3, WRITE, keys=(1, 1, 1), writes=_no_keys)
def xdel(client: Client, args: list[bytes]) -> Any:
    key = args[1]
    stream = _stream(client, key)
    client.propagate = []
    if stream is None:
        return 0
    ids = [parse_id(arg, strict=True)[0] for arg in args[2:]]
    deleted = 0
    first = False
    for entry_id in ids:
        if stream.delete(entry_id):
            if entry_id == stream.first_id:
                first = True
            if entry_id > stream.max_deleted:
                stream.max_deleted = entry_id
            deleted += 1
    if deleted:
        if stream.length == 0:
            stream.first_id = 0
        elif first:
            stream.first_id = stream.first_live()
        client.propagate = [list(args)]
        client.server.wrote(client.db, [key])
        notify(client, STREAM, b"xdel", key)
    return deleted


@command("xsetid", -3, WRITE, keys=(1, 1, 1), writes=_no_keys)
def xsetid(client: Client, args: list[bytes]) -> Any:
    new_id, _ = parse_id(args[2], strict=True)
    entries_added = -1
    max_deleted = 0
    index = 3
    while index < len(args):
        option = args[index].lower()
        more = len(args) - 1 - index
        if option == b"entriesadded" and more:
            entries_added = parse_int(args[index + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
        elif option == b"maxdeletedid" and more:
            max_deleted, _ = parse_id(args[index + 1], strict=True)
            if new_id < max_deleted:
                raise CommandError(
                    "ERR The ID specified in XSETID is smaller than the provided "
                    "max_deleted_entry_id"
                )
        else:
            raise syntax_error()
        index += 2
    stream = _stream(client, args[1])
    if stream is None:
        raise CommandError("ERR no such key")
    if stream.length:
        if new_id < stream.last_live():
            raise CommandError(
                "ERR The ID specified in XSETID is smaller than the target stream top item"
            )
        if entries_added != -1 and stream.length > entries_added:
            raise CommandError(
                "ERR The entries_added specified in XSETID is smaller than the target stream length"
            )
    stream.last_id = new_id
    if entries_added != -1:
        stream.entries_added = entries_added
    if max_deleted:
        stream.max_deleted = max_deleted
    notify(client, STREAM, b"xsetid", args[1])
    return OK


# -- consumer groups: the pieces ---------------------------------------------------------------


def _claim_logged(
    key: bytes, group_name: bytes, group: Group, entry_id: int, nack: Nack
) -> list[bytes]:
    """Redis's streamPropagateXCLAIM."""
    assert nack.consumer is not None
    return [
        b"XCLAIM",
        key,
        group_name,
        nack.consumer.name,
        b"0",
        format_id(entry_id),
        b"TIME",
        b"%d" % nack.delivery_time,
        b"RETRYCOUNT",
        b"%d" % nack.delivery_count,
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        format_id(group.last_id),
    ]


def _setid_logged(key: bytes, group_name: bytes, group: Group) -> list[bytes]:
    return [
        b"XGROUP",
        b"SETID",
        key,
        group_name,
        format_id(group.last_id),
        b"ENTRIESREAD",
        b"%d" % group.entries_read,
    ]


def _consumer(
    client: Client,
    group: Group,
    name: bytes,
    key: bytes,
    group_name: bytes,
    logged: list[list[bytes]] | None,
) -> Consumer:
    """Look up (refreshing its seen time) or create a consumer; a creation is notified and
    (given ``logged``) logged."""
    now = now_ms()
    consumer = group.consumers.get(name)
    if consumer is None:
        consumer = group.consumers[name] = Consumer(name, now)
        notify(client, STREAM, b"xgroup-createconsumer", key)
        if logged is not None:
            logged.append([b"XGROUP", b"CREATECONSUMER", key, group_name, name])
    else:
        consumer.seen_time = now
    return consumer


def _deliver(
    stream: Stream,
    key: bytes,
    group_name: bytes,
    group: Group,
    consumer: Consumer,
    after: int,
    count: int,
    noack: bool,
    logged: list[list[bytes]],
) -> list[Any]:
    """New entries for a consumer (streamReplyWithRange with a group)."""
    if after == MAX_ID:
        return []
    found = stream.range(after + 1, MAX_ID, count)
    if not found:
        return []
    now = now_ms()
    before = group.last_id
    for entry_id, _ in found:
        if entry_id > group.last_id:
            if group.entries_read != -1 and not stream.has_tombstones_from(entry_id):
                group.entries_read += 1
            elif stream.entries_added:
                group.entries_read = stream.estimate_read(entry_id)
            group.last_id = entry_id
        if noack:
            continue
        nack = group.pel.get(entry_id)
        if nack is None:
            nack = Nack(consumer, now)
            group.pel.add(entry_id, nack)
            consumer.pel.add(entry_id, nack)
        else:
            if nack.consumer is not None:
                nack.consumer.pel.remove(entry_id)
            nack.consumer = consumer
            nack.delivery_time = now
            nack.delivery_count = 1
            consumer.pel.add(entry_id, nack)
        logged.append(_claim_logged(key, group_name, group, entry_id, nack))
    if group.last_id != before:
        logged.append(_setid_logged(key, group_name, group))
    return _entries(found)


def _history(
    stream: Stream,
    key: bytes,
    group_name: bytes,
    group: Group,
    consumer: Consumer,
    after: int,
    count: int,
    logged: list[list[bytes]],
) -> list[Any]:
    """A consumer's own pending entries after ``after`` (streamReplyWithRangeFromConsumerPEL)."""
    if after == MAX_ID:
        return []
    now = now_ms()
    reply: list[Any] = []
    for entry_id, nack in list(consumer.pel.range(after + 1)):
        if count and len(reply) >= count:
            break
        item = stream.get(entry_id)
        if item is None:
            reply.append([format_id(entry_id), NULL_ARRAY])
            continue
        nack.delivery_time = now
        nack.delivery_count += 1
        reply.append([format_id(entry_id), item])
        logged.append(_claim_logged(key, group_name, group, entry_id, nack))
    return reply


# -- XREAD XREADGROUP --------------------------------------------------------------------------


def _key_finder(start: int) -> Callable[[list[bytes]], list[bytes]]:
    """XREAD's key spec: the first half of what follows the first STREAMS at or after
    ``start``."""

    def find(args: list[bytes]) -> list[bytes]:
        for index in range(start, len(args)):
            if args[index].lower() == b"streams":
                rest = len(args) - index - 1
                return args[index + 1 : index + 1 + rest // 2]
        return []

    return find


def _read(client: Client, args: list[bytes], grouped: bool) -> Any:
    name = args[0].decode("utf-8", "replace")
    timeout = -1
    count = 0
    streams_at = 0
    noack = False
    group_name: bytes | None = None
    consumer_name = b""
    index = 1
    size = len(args)
    while index < size:
        more = size - index - 1
        option = args[index].lower()
        if option == b"block" and more:
            if client.in_script:
                raise CommandError(
                    f"ERR {name} command is not allowed with BLOCK option from scripts"
                )
            index += 1
            timeout = parse_int(args[index], "timeout is not an integer or out of range")
            if timeout < 0:
                raise CommandError("ERR timeout is negative")
        elif option == b"count" and more:
            index += 1
            count = max(parse_int(args[index]), 0)
        elif option == b"streams" and more:
            streams_at = index + 1
            if (size - streams_at) % 2:
                raise CommandError(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' "
                    "must be specified."
                )
            break
        elif option == b"group" and more >= 2:
            if not grouped:
                raise CommandError(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD "
                    "instead."
                )
            group_name = args[index + 1]
            consumer_name = args[index + 2]
            index += 2
        elif option == b"noack":
            if not grouped:
                raise CommandError(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD "
                    "instead."
                )
            noack = True
        else:
            raise syntax_error()
        index += 1
    if not streams_at:
        raise syntax_error()
    if grouped and group_name is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    half = (size - streams_at) // 2
    keys = args[streams_at : streams_at + half]
    ids: list[int] = []
    groups: list[Group | None] = []
    for key, arg in zip(keys, args[streams_at + half :], strict=True):
        stream = _stream(client, key)
        group = None
        if group_name is not None:
            group = None if stream is None else stream.groups.get(group_name)
            if group is None:
                raise _nogroup(key, group_name, " in XREADGROUP with GROUP option")
        groups.append(group)
        if arg == b"$":
            if grouped:
                raise CommandError(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to "
                    "read the history of this consumer by specifying a proper ID, or use the "
                    "> ID to get new messages. The $ ID would just return an empty result set."
                )
            ids.append(0 if stream is None else stream.last_id)
        elif arg == b">":
            if not grouped:
                raise CommandError(
                    "ERR The > ID can be specified only when calling XREADGROUP using the "
                    "GROUP <group> <consumer> option."
                )
            ids.append(MAX_ID)
        else:
            ids.append(parse_id(arg, strict=True)[0])
    logged: list[list[bytes]] = []
    if grouped:
        client.propagate = logged
    replies: list[Any] = []
    for position, key in enumerate(keys):
        stream = _stream(client, key)
        if stream is None:
            continue
        after = ids[position]
        group = groups[position]
        history = False
        if group is not None:
            if after != MAX_ID:
                history = True
            elif stream.length and stream.last_live() > group.last_id:
                after = group.last_id
            else:
                continue
        elif not (stream.length and stream.last_live() > after):
            continue
        if group is not None:
            assert group_name is not None
            consumer = _consumer(client, group, consumer_name, key, group_name, logged)
            if history:
                entries = _history(stream, key, group_name, group, consumer, after, count, logged)
            else:
                entries = _deliver(
                    stream, key, group_name, group, consumer, after, count, noack, logged
                )
        else:
            entries = _entries(stream.range(after + 1, MAX_ID, count))
        replies.append([key, entries])
    if replies:
        if client.resp3:  # a map (a key named twice shows once)
            return {key: entries for key, entries in replies}
        return replies
    if timeout == -1 or not client.can_block:
        return NULL_ARRAY
    return _block_read(client, keys, ids, timeout, count or 1000, group_name, consumer_name, noack)


def _block_read(
    client: Client,
    keys: list[bytes],
    ids: list[int],
    timeout: int,
    count: int,
    group_name: bytes | None,
    consumer_name: bytes,
    noack: bool,
) -> Any:
    if group_name is not None:
        client.propagate = []
    server = client.server
    db: Database = client.db
    after_of: dict[bytes, int] = {}
    for key, after in zip(keys, ids, strict=True):
        after_of.setdefault(key, after)  # the first of a key named twice counts
    seen: dict[bytes, int] = {}
    for key in keys:
        current = db.data.get(key)
        if type(current) is Stream:
            seen[key] = current.signals
    resp3 = client.resp3

    def retry(key: bytes) -> Any:
        value = db.get(key)
        if type(value) is not Stream:
            if group_name is not None:
                raise CommandError("UNBLOCKED the stream key no longer exists")
            return NOT_READY
        stream: Stream = value
        mark = stream.signals
        if seen.get(key) == mark:
            return NOT_READY  # not signalled since: Redis would not look
        seen[key] = mark
        after = after_of[key]
        logged: list[list[bytes]] = []
        if group_name is not None:
            group = stream.groups.get(group_name)
            if group is None:
                raise CommandError(
                    "NOGROUP the consumer group this client was blocked on no longer exists"
                )
            after = group.last_id
            if stream.last_id <= after:
                return NOT_READY
            consumer = _consumer(client, group, consumer_name, key, group_name, logged)
            entries = _deliver(
                stream, key, group_name, group, consumer, after, count, noack, logged
            )
            for command_args in logged:
                server.propagate(db, command_args)
        else:
            if stream.last_id <= after:
                return NOT_READY
            entries = _entries(stream.range(after + 1, MAX_ID, count))
        if resp3:
            return {key: entries}
        return [[key, entries]]

    # milliseconds, as Redis keeps them; Blocked wants seconds
    return Blocked(list(dict.fromkeys(keys)), timeout / 1000.0, retry, NULL_ARRAY)


@command("xread", -4, BLOCKING, keys=_key_finder(1))
def xread(client: Client, args: list[bytes]) -> Any:
    return _read(client, args, False)


@command("xreadgroup", -7, WRITE, BLOCKING, keys=_key_finder(4), writes=_no_keys)
def xreadgroup(client: Client, args: list[bytes]) -> Any:
    return _read(client, args, True)


# -- XGROUP ------------------------------------------------------------------------------------

_XGROUP_ARITY = {
    b"create": -5,
    b"setid": -5,
    b"destroy": 4,
    b"createconsumer": 5,
    b"delconsumer": 5,
    b"help": 2,
}
_XGROUP_HELP = [
    b"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CREATE <key> <groupname> <id|$> [option]",
    b"    Create a new consumer group. Options are:",
    b"    * MKSTREAM",
    b"      Create the empty stream if it does not exist.",
    b"    * ENTRIESREAD entries_read",
    b"      Set the group's entries_read counter (internal use).",
    b"CREATECONSUMER <key> <groupname> <consumer>",
    b"    Create a new consumer in the specified group.",
    b"DELCONSUMER <key> <groupname> <consumer>",
    b"    Remove the specified consumer.",
    b"DESTROY <key> <groupname>",
    b"    Remove the specified group.",
    b"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    b"    Set the current group ID and entries_read counter.",
    b"HELP",
    b"    Prints this help.",
]


def _arity_checked(args: list[bytes], table: dict[bytes, int]) -> bytes:
    sub = args[1].lower()
    arity = table.get(sub)
    if arity is None or not (len(args) == arity if arity > 0 else len(args) >= -arity):
        raise subcommand_error(args, table)
    return sub


def _subcommand_syntax(args: list[bytes]) -> CommandError:
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{_text(args[1])[:128]}'. "
        f"Try {args[0].decode('utf-8', 'replace').upper()} HELP."
    )


def _group_keys(args: list[bytes]) -> list[bytes]:
    return args[2:3] if len(args) > 3 else []


@command("xgroup", -2, WRITE, keys=_group_keys, writes=_no_keys)
def xgroup(client: Client, args: list[bytes]) -> Any:
    sub = _arity_checked(args, _XGROUP_ARITY)
    if sub == b"help":
        client.propagate = []
        return _XGROUP_HELP
    mkstream = False
    entries_read = -1
    index = 5
    while index < len(args):
        option = args[index].lower()
        if sub == b"create" and option == b"mkstream":
            mkstream = True
            index += 1
        elif sub in (b"create", b"setid") and option == b"entriesread" and index + 1 < len(args):
            entries_read = parse_int(args[index + 1])
            if entries_read < 0 and entries_read != -1:
                raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
            index += 2
        else:
            raise _subcommand_syntax(args)
    key, group_name = args[2], args[3]
    stream = _stream(client, key)
    group = None
    if not mkstream:
        if stream is None:
            raise CommandError(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                "you may want to use the MKSTREAM option to create an empty stream "
                "automatically."
            )
        group = stream.groups.get(group_name)
        if group is None and sub in (b"setid", b"createconsumer", b"delconsumer"):
            raise CommandError(
                f"NOGROUP No such consumer group '{_text(group_name)}' for key name '{_text(key)}'"
            )
    if sub == b"create":
        if len(args) > 8:
            raise _subcommand_syntax(args)
        if args[4] == b"$":
            last = 0 if stream is None else stream.last_id
        else:
            last, _ = parse_id(args[4], strict=True)
        if stream is None:
            stream = Stream()
            client.db.set(key, stream)
            client.server.wrote(client.db, [key])
        if group_name in stream.groups:
            raise CommandError("BUSYGROUP Consumer Group name already exists")
        stream.groups[group_name] = Group(last, entries_read)
        notify(client, STREAM, b"xgroup-create", key)
        return OK
    assert stream is not None
    if sub == b"setid":
        if len(args) not in (5, 7):
            raise _subcommand_syntax(args)
        assert group is not None
        if args[4] == b"$":
            last = stream.last_id
        else:
            last, _ = parse_id(args[4])
        group.last_id = last
        group.entries_read = entries_read
        notify(client, STREAM, b"xgroup-setid", key)
        return OK
    if sub == b"destroy":
        if group is None:
            client.propagate = []
            return 0
        del stream.groups[group_name]
        notify(client, STREAM, b"xgroup-destroy", key)
        stream.signals = next_signal()
        _signal(client, key)
        return 1
    assert group is not None
    if sub == b"createconsumer":
        if args[4] in group.consumers:
            client.propagate = []
            return 0
        group.consumers[args[4]] = Consumer(args[4], now_ms())
        notify(client, STREAM, b"xgroup-createconsumer", key)
        return 1
    consumer = group.consumers.pop(args[4], None)
    if consumer is None:
        client.propagate = []
        return 0
    for entry_id, _ in list(consumer.pel.range()):
        group.pel.remove(entry_id)
    notify(client, STREAM, b"xgroup-delconsumer", key)
    return len(consumer.pel)


# -- XACK XPENDING XCLAIM XAUTOCLAIM -----------------------------------------------------------


@command("xack", -4, WRITE, keys=(1, 1, 1), writes=_no_keys)
def xack(client: Client, args: list[bytes]) -> Any:
    stream = _stream(client, args[1])
    client.propagate = []
    group = None if stream is None else stream.groups.get(args[2])
    if group is None:
        return 0
    ids = [parse_id(arg, strict=True)[0] for arg in args[3:]]
    acknowledged = 0
    for entry_id in ids:
        nack = group.pel.remove(entry_id)
        if nack is not None:
            if nack.consumer is not None:
                nack.consumer.pel.remove(entry_id)
            acknowledged += 1
    if acknowledged:
        client.propagate = [list(args)]
    return acknowledged


@command("xpending", -3, keys=(1, 1, 1))
def xpending(client: Client, args: list[bytes]) -> Any:
    size = len(args)
    if size != 3 and not 6 <= size <= 9:
        raise syntax_error()
    min_idle = 0
    count = 0
    consumer_name = None
    start = end = 0
    if size >= 6:
        at = 3
        if args[3].lower() == b"idle":
            min_idle = parse_int(args[4])
            if size < 8:
                raise syntax_error()
            at += 2
        count = max(parse_int(args[at + 2]), 0)
        start = _interval(args[at], 0, True)
        end = _interval(args[at + 1], U64, False)
        if at + 3 < size:
            consumer_name = args[at + 3]
    key, group_name = args[1], args[2]
    stream = _stream(client, key)
    group = None if stream is None else stream.groups.get(group_name)
    if group is None:
        raise _nogroup(key, group_name)
    if size == 3:
        pel = group.pel
        if not len(pel):
            return [0, None, None, NULL_ARRAY]
        first, last = pel.first(), pel.last()
        assert first is not None and last is not None
        owners = [
            [name, b"%d" % len(consumer.pel)]
            for name, consumer in sorted(group.consumers.items())
            if len(consumer.pel)
        ]
        return [len(pel), format_id(first), format_id(last), owners]
    if consumer_name is not None:
        consumer = group.consumers.get(consumer_name)
        if consumer is None:
            return []
        pel = consumer.pel
    else:
        pel = group.pel
    now = now_ms()
    reply: list[Any] = []
    if not count:
        return reply
    for entry_id, nack in pel.range(start, end):
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        owner = nack.consumer.name if nack.consumer is not None else b""
        reply.append(
            [format_id(entry_id), owner, max(now - nack.delivery_time, 0), nack.delivery_count]
        )
        if len(reply) >= count:
            break
    return reply


def _claim_to(consumer: Consumer, entry_id: int, nack: Nack) -> None:
    if nack.consumer is not consumer:
        if nack.consumer is not None:
            nack.consumer.pel.remove(entry_id)
        consumer.pel.add(entry_id, nack)
        nack.consumer = consumer


@command("xclaim", -6, WRITE, keys=(1, 1, 1), writes=_no_keys)
def xclaim(client: Client, args: list[bytes]) -> Any:
    key, group_name, name = args[1], args[2], args[3]
    stream = _stream(client, key)
    group = None if stream is None else stream.groups.get(group_name)
    if stream is None or group is None:
        raise _nogroup(key, group_name)
    min_idle = max(parse_int(args[4], "Invalid min-idle-time argument for XCLAIM"), 0)
    ids: list[int] = []
    index = 5
    while index < len(args):
        try:
            ids.append(parse_id(args[index], strict=True)[0])
        except CommandError:
            break
        index += 1
    now = now_ms()
    retry_count = -1
    delivery = -1
    force = justid = False
    last_id = 0
    while index < len(args):
        option = args[index].lower()
        more = len(args) - 1 - index
        if option == b"force":
            force = True
        elif option == b"justid":
            justid = True
        elif option == b"idle" and more:
            index += 1
            delivery = now - parse_int(args[index], "Invalid IDLE option argument for XCLAIM")
        elif option == b"time" and more:
            index += 1
            delivery = parse_int(args[index], "Invalid TIME option argument for XCLAIM")
        elif option == b"retrycount" and more:
            index += 1
            retry_count = parse_int(args[index], "Invalid RETRYCOUNT option argument for XCLAIM")
        elif option == b"lastid" and more:
            index += 1
            last_id, _ = parse_id(args[index], strict=True)
        else:
            raise CommandError(f"ERR Unrecognized XCLAIM option '{_text(args[index])}'")
        index += 1
    logged: list[list[bytes]] = []
    client.propagate = logged
    moved_last = False
    if last_id > group.last_id:
        group.last_id = last_id
        moved_last = True
    if delivery == -1 or delivery < 0 or delivery > now:
        delivery = now
    consumer: Consumer | None = None
    reply: list[Any] = []
    for entry_id in ids:
        nack = group.pel.get(entry_id)
        item = stream.get(entry_id)
        if item is None:
            if nack is not None:
                logged.append(_claim_logged(key, group_name, group, entry_id, nack))
                moved_last = False
                group.pel.remove(entry_id)
                if nack.consumer is not None:
                    nack.consumer.pel.remove(entry_id)
            continue
        if force and nack is None:
            nack = Nack(None, now)
            group.pel.add(entry_id, nack)
        if nack is None:
            continue
        if nack.consumer is not None and min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _consumer(client, group, name, key, group_name, None)
        _claim_to(consumer, entry_id, nack)
        nack.delivery_time = delivery
        if retry_count >= 0:
            nack.delivery_count = retry_count
        elif not justid:
            nack.delivery_count += 1
        reply.append(format_id(entry_id) if justid else [format_id(entry_id), item])
        logged.append(_claim_logged(key, group_name, group, entry_id, nack))
        moved_last = False
    if moved_last:
        logged.append(_setid_logged(key, group_name, group))
    return reply


@command("xautoclaim", -6, WRITE, keys=(1, 1, 1), writes=_no_keys)
def xautoclaim(client: Client, args: list[bytes]) -> Any:
    key, group_name, name = args[1], args[2], args[3]
    min_idle = max(parse_int(args[4], "Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = _interval(args[5], 0, True)
    count = 100
    justid = False
    index = 6
    limit = ((1 << 63) - 1) // 16
    while index < len(args):
        option = args[index].lower()
        more = len(args) - 1 - index
        if option == b"count" and more:
            count = parse_int(args[index + 1], "COUNT must be > 0")
            if not 1 <= count <= limit:
                raise CommandError("ERR COUNT must be > 0")
            index += 1
        elif option == b"justid":
            justid = True
        else:
            raise syntax_error()
        index += 1
    stream = _stream(client, key)
    group = None if stream is None else stream.groups.get(group_name)
    if stream is None or group is None:
        raise _nogroup(key, group_name)
    logged: list[list[bytes]] = []
    client.propagate = logged
    attempts = count * 10
    now = now_ms()
    consumer: Consumer | None = None
    claimed: list[Any] = []
    deleted: list[bytes] = []
    pending = group.pel.range(start)
    exhausted = False
    while attempts and count:  # Redis's "attempts-- && count && raxNext(&ri)"
        attempts -= 1
        found = next(pending, None)
        if found is None:
            exhausted = True
            break
        entry_id, nack = found
        item = stream.get(entry_id)
        if item is None:
            logged.append(_claim_logged(key, group_name, group, entry_id, nack))
            group.pel.remove(entry_id)
            if nack.consumer is not None:
                nack.consumer.pel.remove(entry_id)
            deleted.append(format_id(entry_id))
            count -= 1
            continue
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _consumer(client, group, name, key, group_name, None)
        _claim_to(consumer, entry_id, nack)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        claimed.append(format_id(entry_id) if justid else [format_id(entry_id), item])
        count -= 1
        logged.append(_claim_logged(key, group_name, group, entry_id, nack))
    following = None if exhausted else next(pending, None)
    cursor = 0 if following is None else following[0]
    return [format_id(cursor), claimed, deleted]


# -- XINFO -------------------------------------------------------------------------------------

_XINFO_ARITY = {b"consumers": 4, b"groups": 3, b"stream": -3, b"help": 2}
_XINFO_HELP = [
    b"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CONSUMERS <key> <groupname>",
    b"    Show consumers of <groupname>.",
    b"GROUPS <key>",
    b"    Show the stream consumer groups.",
    b"STREAM <key> [FULL [COUNT <count>]",
    b"    Show information about the stream.",
    b"HELP",
    b"    Prints this help.",
]


def _xinfo_keys(args: list[bytes]) -> list[bytes]:
    return args[2:3] if len(args) > 2 else []


@command("xinfo", -2, keys=_xinfo_keys)
def xinfo(client: Client, args: list[bytes]) -> Any:
    sub = _arity_checked(args, _XINFO_ARITY)
    if sub == b"help":
        return _XINFO_HELP
    key = args[2]
    stream = _stream(client, key)
    if stream is None:
        raise CommandError("ERR no such key")
    if sub == b"consumers":
        group = stream.groups.get(args[3])
        if group is None:
            raise CommandError(
                f"NOGROUP No such consumer group '{_text(args[3])}' for key name '{_text(key)}'"
            )
        now = now_ms()
        return [
            {
                b"name": name,
                b"pending": len(consumer.pel),
                b"idle": max(now - consumer.seen_time, 0),
            }
            for name, consumer in sorted(group.consumers.items())
        ]
    if sub == b"groups":
        return [
            {
                b"name": name,
                b"consumers": len(group.consumers),
                b"pending": len(group.pel),
                b"last-delivered-id": format_id(group.last_id),
                b"entries-read": None if group.entries_read == -1 else group.entries_read,
                b"lag": stream.lag(group),
            }
            for name, group in sorted(stream.groups.items())
        ]
    return _stream_info(args, stream)


def _stream_info(args: list[bytes], stream: Stream) -> Any:
    options = args[3:]
    full = bool(options)
    count = 10
    if options:
        if len(options) not in (1, 3) or options[0].lower() != b"full":
            raise _subcommand_syntax(args)
        if len(options) == 3:
            if options[1].lower() != b"count":
                raise _subcommand_syntax(args)
            count = parse_int(options[2])
            if count < 0:
                count = 10
    info: dict[bytes, Any] = {
        b"length": stream.length,
        b"radix-tree-keys": len(stream.nodes),
        b"radix-tree-nodes": stream.radix_tree_nodes(),
        b"last-generated-id": format_id(stream.last_id),
        b"max-deleted-entry-id": format_id(stream.max_deleted),
        b"entries-added": stream.entries_added,
        b"recorded-first-entry-id": format_id(stream.first_id),
    }
    if not full:
        info[b"groups"] = len(stream.groups)
        first = stream.range(0, MAX_ID, 1)
        last = stream.range(0, MAX_ID, 1, rev=True)
        info[b"first-entry"] = _entries(first)[0] if first else None
        info[b"last-entry"] = _entries(last)[0] if last else None
        return info
    info[b"entries"] = _entries(stream.range(0, MAX_ID, count))
    groups: list[Any] = []
    for name, group in sorted(stream.groups.items()):
        pending: list[Any] = []
        for entry_id, nack in group.pel.range():
            if count and len(pending) >= count:
                break
            owner = nack.consumer.name if nack.consumer is not None else b""
            pending.append([format_id(entry_id), owner, nack.delivery_time, nack.delivery_count])
        consumers = []
        for consumer_name, consumer in sorted(group.consumers.items()):
            own: list[Any] = []
            for entry_id, nack in consumer.pel.range():
                if count and len(own) >= count:
                    break
                own.append([format_id(entry_id), nack.delivery_time, nack.delivery_count])
            consumers.append(
                {
                    b"name": consumer_name,
                    b"seen-time": consumer.seen_time,
                    b"pel-count": len(consumer.pel),
                    b"pending": own,
                }
            )
        groups.append(
            {
                b"name": name,
                b"last-delivered-id": format_id(group.last_id),
                b"entries-read": None if group.entries_read == -1 else group.entries_read,
                b"lag": stream.lag(group),
                b"pel-count": len(group.pel),
                b"pending": pending,
                b"consumers": consumers,
            }
        )
    info[b"groups"] = groups
    return info
