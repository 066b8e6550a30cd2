# mypy: disable-error-code="no-any-return"
"""Stream commands (XADD, XREAD, consumer groups, XINFO...), with redis-py's names,
signatures and reply shapes (its RESP2 shapes: XREAD is a list of ``[stream, entries]``
under RESP3 too). An entry is ``(id, {field: value})``.

XREAD and XREADGROUP with ``block`` wait on a pooled connection of their own; the command
table reads their ``BLOCK`` milliseconds to give the reply that long plus
``socket_timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias, overload

from store import replies
from store.errors import DataError

from .commands_base import AsyncCommandsBase, EncodableT, KeyT, StrT

# An entry: (id, {field: value}).
Entry: TypeAlias = tuple[StrT, dict[StrT, StrT]]
# An entry XREADGROUP or XCLAIM found deleted: (id, None), or (None, None) when it came as a
# nil.
MaybeEntry: TypeAlias = tuple[StrT | None, dict[StrT, StrT] | None]
# One stream of XREAD's reply: [stream name, [entry, ...]] (a list, as redis-py's).
StreamReply: TypeAlias = list[StrT | list[MaybeEntry[StrT]]]


def _trim_args(
    command: str,
    maxlen: int | None,
    approximate: bool,
    minid: EncodableT | None,
    limit: int | None,
) -> list[Any]:
    if maxlen is not None and minid is not None:
        raise DataError(f"{command}: maxlen and minid are mutually exclusive")
    if limit is not None and maxlen is None and minid is None:
        raise DataError(f"{command}: limit needs maxlen or minid")
    if limit is not None and not approximate:
        raise DataError(f"{command}: limit needs approximate trimming")
    args: list[Any] = []
    if maxlen is not None:
        if not isinstance(maxlen, int) or maxlen < 0:
            raise DataError(f"{command}: maxlen must be a non-negative integer")
        args.append("MAXLEN")
    elif minid is not None:
        args.append("MINID")
    else:
        return args
    if approximate:
        args.append("~")
    args.append(maxlen if maxlen is not None else minid)
    if limit is not None:
        args += ("LIMIT", limit)
    return args


def _streams_args(args: list[Any], streams: Mapping[Any, EncodableT]) -> list[Any]:
    if not isinstance(streams, Mapping) or not streams:
        raise DataError("streams must be a non-empty dict of stream name -> last id")
    args.append("STREAMS")
    args += streams.keys()
    args += streams.values()
    return args


def _count_block(args: list[Any], count: int | None, block: int | None) -> list[Any]:
    if count is not None:
        if not isinstance(count, int) or count < 1:
            raise DataError("count must be a positive integer")
        args += ("COUNT", count)
    if block is not None:
        if not isinstance(block, int) or block < 0:
            raise DataError("block must be a non-negative integer (milliseconds)")
        args += ("BLOCK", block)
    return args


class AsyncStreamCommands(AsyncCommandsBase[StrT]):
    """XADD, XRANGE, XREAD, XREADGROUP, XGROUP, XPENDING, XCLAIM, XINFO..."""

    async def xadd(
        self,
        name: KeyT,
        fields: Mapping[Any, EncodableT],
        id: EncodableT = "*",
        maxlen: int | None = None,
        approximate: bool = True,
        nomkstream: bool = False,
        minid: EncodableT | None = None,
        limit: int | None = None,
    ) -> StrT | None:
        """XADD: the new entry's id, or None when ``nomkstream`` and no stream."""
        if not fields:
            raise DataError("xadd: fields is empty")
        args: list[Any] = ["XADD", name]
        if nomkstream:
            args.append("NOMKSTREAM")
        args += _trim_args("xadd", maxlen, approximate, minid, limit)
        args.append(id)
        for pair in fields.items():
            args += pair
        return await self.execute(*args)

    async def xrange(
        self,
        name: KeyT,
        min: EncodableT = "-",
        max: EncodableT = "+",
        count: int | None = None,
    ) -> list[Entry[StrT]]:
        """XRANGE: ``[(id, {field: value}), ...]`` from ``min`` to ``max``."""
        if count is None:
            return await self.execute("XRANGE", name, min, max, callback=replies.stream_entries)
        args = ("XRANGE", name, min, max, "COUNT", count)
        return await self.execute(*args, callback=replies.stream_entries)

    async def xrevrange(
        self,
        name: KeyT,
        max: EncodableT = "+",
        min: EncodableT = "-",
        count: int | None = None,
    ) -> list[Entry[StrT]]:
        """XREVRANGE: entries from ``max`` down to ``min``."""
        if count is None:
            callback = replies.stream_entries
            return await self.execute("XREVRANGE", name, max, min, callback=callback)
        args = ("XREVRANGE", name, max, min, "COUNT", count)
        return await self.execute(*args, callback=replies.stream_entries)

    async def xread(
        self,
        streams: Mapping[Any, EncodableT],
        count: int | None = None,
        block: int | None = None,
    ) -> list[StreamReply[StrT]]:
        """XREAD: ``[[stream, [(id, fields), ...]], ...]``, ``[]`` when nothing came
        (``block`` milliseconds, 0 for ever)."""
        args = _streams_args(_count_block(["XREAD"], count, block), streams)
        return await self.execute(*args, callback=replies.xread)

    async def xreadgroup(
        self,
        groupname: EncodableT,
        consumername: EncodableT,
        streams: Mapping[Any, EncodableT],
        count: int | None = None,
        block: int | None = None,
        noack: bool = False,
    ) -> list[StreamReply[StrT]]:
        """XREADGROUP: as XREAD; an entry already deleted reads ``(id, None)``."""
        args = _count_block(["XREADGROUP", "GROUP", groupname, consumername], count, block)
        if noack:
            args.append("NOACK")
        return await self.execute(*_streams_args(args, streams), callback=replies.xread)

    async def xlen(self, name: KeyT) -> int:
        return await self.execute("XLEN", name)

    async def xdel(self, name: KeyT, *ids: EncodableT) -> int:
        return await self.execute("XDEL", name, *ids)

    async def xtrim(
        self,
        name: KeyT,
        maxlen: int | None = None,
        approximate: bool = True,
        minid: EncodableT | None = None,
        limit: int | None = None,
    ) -> int:
        """XTRIM: the number of entries deleted."""
        if maxlen is None and minid is None:
            raise DataError("xtrim: give maxlen or minid")
        args = _trim_args("xtrim", maxlen, approximate, minid, limit)
        return await self.execute("XTRIM", name, *args)

    async def xsetid(
        self,
        name: KeyT,
        id: EncodableT,
        entries_added: int | None = None,
        max_deleted_entry_id: EncodableT | None = None,
    ) -> bool:
        """XSETID: True."""
        args: list[Any] = ["XSETID", name, id]
        if entries_added is not None:
            args += ("ENTRIESADDED", entries_added)
        if max_deleted_entry_id is not None:
            args += ("MAXDELETEDID", max_deleted_entry_id)
        return await self.execute(*args, callback=replies.ok)

    # -------------------------------------------------------------- consumer groups

    async def xgroup_create(
        self,
        name: KeyT,
        groupname: EncodableT,
        id: EncodableT = "$",
        mkstream: bool = False,
        entries_read: int | None = None,
    ) -> bool:
        """XGROUP CREATE: True (BUSYGROUP error when it exists)."""
        args: list[Any] = ["XGROUP", "CREATE", name, groupname, id]
        if mkstream:
            args.append("MKSTREAM")
        if entries_read is not None:
            args += ("ENTRIESREAD", entries_read)
        return await self.execute(*args, callback=replies.ok)

    async def xgroup_destroy(self, name: KeyT, groupname: EncodableT) -> bool:
        """XGROUP DESTROY: whether the group existed."""
        args = ("XGROUP", "DESTROY", name, groupname)
        return await self.execute(*args, callback=bool)

    async def xgroup_createconsumer(
        self, name: KeyT, groupname: EncodableT, consumername: EncodableT
    ) -> int:
        """XGROUP CREATECONSUMER: 1 when created, 0 when it existed."""
        args = ("XGROUP", "CREATECONSUMER", name, groupname, consumername)
        return await self.execute(*args)

    async def xgroup_delconsumer(
        self, name: KeyT, groupname: EncodableT, consumername: EncodableT
    ) -> int:
        """XGROUP DELCONSUMER: the number of messages the consumer had pending."""
        args = ("XGROUP", "DELCONSUMER", name, groupname, consumername)
        return await self.execute(*args)

    async def xgroup_setid(
        self,
        name: KeyT,
        groupname: EncodableT,
        id: EncodableT,
        entries_read: int | None = None,
    ) -> bool:
        """XGROUP SETID: True."""
        args: list[Any] = ["XGROUP", "SETID", name, groupname, id]
        if entries_read is not None:
            args += ("ENTRIESREAD", entries_read)
        return await self.execute(*args, callback=replies.ok)

    async def xack(self, name: KeyT, groupname: EncodableT, *ids: EncodableT) -> int:
        """XACK: the number of messages acknowledged."""
        return await self.execute("XACK", name, groupname, *ids)

    async def xpending(self, name: KeyT, groupname: EncodableT) -> dict[str, Any]:
        """XPENDING summary: ``{"pending": n, "min": id, "max": id, "consumers":
        [{"name": consumer, "pending": n}, ...]}``."""
        args = ("XPENDING", name, groupname)
        return await self.execute(*args, callback=replies.xpending)

    async def xpending_range(
        self,
        name: KeyT,
        groupname: EncodableT,
        min: EncodableT,
        max: EncodableT,
        count: int,
        consumername: EncodableT | None = None,
        idle: int | None = None,
    ) -> list[dict[str, Any]]:
        """XPENDING with a range: ``[{"message_id", "consumer", "time_since_delivered",
        "times_delivered"}, ...]``."""
        if count is None or min is None or max is None:
            raise DataError("xpending_range: min, max and count are required")
        args: list[Any] = ["XPENDING", name, groupname]
        if idle is not None:
            args += ("IDLE", idle)
        args += (min, max, count)
        if consumername is not None:
            args.append(consumername)
        return await self.execute(*args, callback=replies.xpending_range)

    @overload
    async def xclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        message_ids: Sequence[EncodableT],
        idle: int | None = ...,
        time: int | None = ...,
        retrycount: int | None = ...,
        force: bool = ...,
        justid: Literal[False] = ...,
    ) -> list[MaybeEntry[StrT]]: ...
    @overload
    async def xclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        message_ids: Sequence[EncodableT],
        idle: int | None = ...,
        time: int | None = ...,
        retrycount: int | None = ...,
        force: bool = ...,
        *,
        justid: Literal[True],
    ) -> list[StrT]: ...
    @overload
    async def xclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        message_ids: Sequence[EncodableT],
        idle: int | None = ...,
        time: int | None = ...,
        retrycount: int | None = ...,
        force: bool = ...,
        justid: bool = ...,
    ) -> list[MaybeEntry[StrT]] | list[StrT]: ...
    async def xclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        message_ids: Sequence[EncodableT],
        idle: int | None = None,
        time: int | None = None,
        retrycount: int | None = None,
        force: bool = False,
        justid: bool = False,
    ) -> list[MaybeEntry[StrT]] | list[StrT]:
        """XCLAIM: the claimed entries ``[(id, fields), ...]``, or their ids with
        ``justid``."""
        if not isinstance(min_idle_time, int) or min_idle_time < 0:
            raise DataError("xclaim: min_idle_time must be a non-negative integer")
        if not isinstance(message_ids, (list, tuple)) or not message_ids:
            raise DataError("xclaim: message_ids must be a non-empty list or tuple")
        args: list[Any] = ["XCLAIM", name, groupname, consumername, min_idle_time, *message_ids]
        if idle is not None:
            args += ("IDLE", idle)
        if time is not None:
            args += ("TIME", time)
        if retrycount is not None:
            args += ("RETRYCOUNT", retrycount)
        if force:
            args.append("FORCE")
        if justid:
            args.append("JUSTID")
            return await self.execute(*args)
        return await self.execute(*args, callback=replies.stream_entries)

    @overload
    async def xautoclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        start_id: EncodableT = ...,
        count: int | None = ...,
        justid: Literal[False] = ...,
    ) -> list[StrT | list[MaybeEntry[StrT]] | list[StrT]]: ...
    @overload
    async def xautoclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        start_id: EncodableT = ...,
        count: int | None = ...,
        *,
        justid: Literal[True],
    ) -> list[StrT]: ...
    @overload
    async def xautoclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        start_id: EncodableT = ...,
        count: int | None = ...,
        justid: bool = ...,
    ) -> list[StrT | list[MaybeEntry[StrT]] | list[StrT]] | list[StrT]: ...
    async def xautoclaim(
        self,
        name: KeyT,
        groupname: EncodableT,
        consumername: EncodableT,
        min_idle_time: int,
        start_id: EncodableT = "0-0",
        count: int | None = None,
        justid: bool = False,
    ) -> list[StrT | list[MaybeEntry[StrT]] | list[StrT]] | list[StrT]:
        """XAUTOCLAIM: ``[next_start_id, [(id, fields), ...], [deleted ids]]``; with
        ``justid``, the claimed ids only (as redis-py)."""
        if not isinstance(min_idle_time, int) or min_idle_time < 0:
            raise DataError("xautoclaim: min_idle_time must be a non-negative integer")
        args: list[Any] = ["XAUTOCLAIM", name, groupname, consumername, min_idle_time, start_id]
        if count is not None:
            if not isinstance(count, int) or count < 1:
                raise DataError("xautoclaim: count must be a positive integer")
            args += ("COUNT", count)
        if justid:
            args.append("JUSTID")
            return await self.execute(*args, callback=replies.xautoclaim_justid)
        return await self.execute(*args, callback=replies.xautoclaim)

    # ------------------------------------------------------------------------ XINFO

    async def xinfo_stream(self, name: KeyT, full: bool = False) -> dict[str, Any]:
        """XINFO STREAM: a dict with str keys; ``first-entry``/``last-entry`` as
        ``(id, fields)``. With ``full``: ``entries`` as ``{id: fields}``, ``groups`` (and
        their ``consumers``) as dicts with str keys."""
        if full:
            callback = replies.xinfo_stream_full
            return await self.execute("XINFO", "STREAM", name, "FULL", callback=callback)
        callback = replies.xinfo_stream
        return await self.execute("XINFO", "STREAM", name, callback=callback)

    async def xinfo_groups(self, name: KeyT) -> list[dict[str, Any]]:
        """XINFO GROUPS: one dict (str keys) per group."""
        callback = replies.list_of_str_dicts
        return await self.execute("XINFO", "GROUPS", name, callback=callback)

    async def xinfo_consumers(self, name: KeyT, groupname: EncodableT) -> list[dict[str, Any]]:
        """XINFO CONSUMERS: one dict (str keys) per consumer."""
        callback = replies.list_of_str_dicts
        return await self.execute("XINFO", "CONSUMERS", name, groupname, callback=callback)
