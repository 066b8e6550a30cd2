# mypy: disable-error-code="no-any-return"
"""Typed command methods with redis-py's names and signatures: one for every Redis 7.0
command but those ``store._command_coverage`` lists with the reason why not (checked by
tests/test_command_coverage.py against a running server).

This module is the one import point: the strings, keys, hashes, lists, sets, sorted sets,
pub/sub and basic server methods are here; the other families are mixins composed into
the command class below (``commands_streams``, ``commands_geo``, ``commands_bits``,
``commands_keyspace``, ``commands_server``, ``commands_scripting``, ``commands_cluster``),
sharing ``commands_base``. Method lookup is cached by the type, so the hot path (GET...)
costs what it did before the split.

Every method sends one command through ``execute`` and leaves the shaping of the reply
to a ``callback=`` from ``store.replies``; nothing is post-processed once ``execute``
returns, so a subclass whose ``execute`` queues instead of sending (a pipeline) gets the
same shapes.
Argument types are checked once by the codec's ``pack_command``, not here.

Return types are the replies as their callbacks shape them, in ``StrT`` (bytes, or str with
decode_responses; see ``commands_base``); where an argument changes the shape (``withscores``,
a ``count``, ``get=True``...) ``@overload``s on ``Literal`` flags say which, for the type
checker only: the method that runs is the last definition, as before. A reply without one
shape (EVAL, FCALL) is ``Reply``, the reader's nested union.
"""

from __future__ import annotations

import builtins  # builtins.set[...]: in the class body ``set`` names the SET method
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from store import replies
from store.errors import DataError

from .commands_base import (
    AbsExpiryT,
    AsyncCommandsBase,
    EncodableT,
    ExpiryT,
    KeysT,
    KeyT,
    StrT,
    TimeoutT,
    _aggregate,
    _expire_flags,
    _list_or_args,
    _millis,
    _score_callback,
    _seconds,
    _unix_millis,
    _unix_seconds,
)
from .commands_base import (
    _scan_args as _scan_args,  # re-exported: cluster.py's scan_iter uses it
)
from .commands_bits import AsyncBitCommands
from .commands_cluster import AsyncClusterCommands
from .commands_geo import AsyncGeoCommands
from .commands_keyspace import AsyncKeyspaceCommands
from .commands_scripting import AsyncScriptingCommands
from .commands_server import AsyncServerCommands
from .commands_streams import AsyncStreamCommands

if TYPE_CHECKING:
    from datetime import datetime


def _mpop_args(command: str, args: list[Any], min: bool, max: bool, count: int | None) -> list[Any]:
    if min == max:
        raise DataError(f"{command}: give one of min and max")
    args.append("MIN" if min else "MAX")
    if count != 1:
        args += ("COUNT", count)
    return args


class AsyncCommands(
    AsyncStreamCommands[StrT],
    AsyncGeoCommands[StrT],
    AsyncBitCommands[StrT],
    AsyncKeyspaceCommands[StrT],
    AsyncServerCommands[StrT],
    AsyncScriptingCommands[StrT],
    AsyncClusterCommands[StrT],
    AsyncCommandsBase[StrT],
):
    """Typed command methods, every family's; a subclass provides execute()."""

    # ---------------------------------------------------------------- strings

    async def get(self, name: KeyT) -> StrT | None:
        return await self.execute("GET", name)

    @overload
    async def set(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = ...,
        px: ExpiryT | None = ...,
        nx: bool = ...,
        xx: bool = ...,
        keepttl: bool = ...,
        get: Literal[False] = ...,
        exat: AbsExpiryT | None = ...,
        pxat: AbsExpiryT | None = ...,
    ) -> bool | None: ...
    @overload
    async def set(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = ...,
        px: ExpiryT | None = ...,
        nx: bool = ...,
        xx: bool = ...,
        keepttl: bool = ...,
        *,
        get: Literal[True],
        exat: AbsExpiryT | None = ...,
        pxat: AbsExpiryT | None = ...,
    ) -> StrT | None: ...
    @overload
    async def set(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = ...,
        px: ExpiryT | None = ...,
        nx: bool = ...,
        xx: bool = ...,
        keepttl: bool = ...,
        get: bool = ...,
        exat: AbsExpiryT | None = ...,
        pxat: AbsExpiryT | None = ...,
    ) -> bool | StrT | None: ...
    async def set(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = None,
        px: ExpiryT | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
    ) -> bool | StrT | None:
        if ex is None and px is None and exat is None and pxat is None:
            if not (nx or xx or keepttl or get):
                return await self.execute("SET", name, value, callback=replies.set_result)
        expiries = (ex is not None) + (px is not None) + (exat is not None) + (pxat is not None)
        if expiries + bool(keepttl) > 1:
            raise DataError("set: ex, px, exat, pxat and keepttl are mutually exclusive")
        if nx and xx:
            raise DataError("set: nx and xx are mutually exclusive")
        args: list[Any] = ["SET", name, value]
        if ex is not None:
            args += ("EX", _seconds(ex))
        elif px is not None:
            args += ("PX", _millis(px))
        elif exat is not None:
            args += ("EXAT", _unix_seconds(exat))
        elif pxat is not None:
            args += ("PXAT", _unix_millis(pxat))
        elif keepttl:
            args.append("KEEPTTL")
        if nx:
            args.append("NX")
        elif xx:
            args.append("XX")
        if get:
            # the old value (or None) is the reply
            args.append("GET")
            return await self.execute(*args)
        return await self.execute(*args, callback=replies.set_result)

    async def mget(self, keys: KeysT, *args: KeyT) -> list[StrT | None]:
        return await self.execute("MGET", *_list_or_args(keys, args))

    async def mset(self, mapping: Mapping[Any, EncodableT]) -> bool:
        if not mapping:
            raise DataError("mset: mapping is empty")
        args: list[Any] = ["MSET"]
        for pair in mapping.items():
            args += pair
        return await self.execute(*args, callback=replies.ok)

    async def msetnx(self, mapping: Mapping[Any, EncodableT]) -> bool:
        if not mapping:
            raise DataError("msetnx: mapping is empty")
        args: list[Any] = ["MSETNX"]
        for pair in mapping.items():
            args += pair
        return await self.execute(*args, callback=bool)

    async def setnx(self, name: KeyT, value: EncodableT) -> bool:
        return await self.execute("SETNX", name, value, callback=bool)

    async def setex(self, name: KeyT, time: ExpiryT, value: EncodableT) -> bool:
        return await self.execute("SETEX", name, _seconds(time), value, callback=replies.ok)

    async def psetex(self, name: KeyT, time_ms: ExpiryT, value: EncodableT) -> bool:
        return await self.execute("PSETEX", name, _millis(time_ms), value, callback=replies.ok)

    async def getset(self, name: KeyT, value: EncodableT) -> StrT | None:
        return await self.execute("GETSET", name, value)

    async def getdel(self, name: KeyT) -> StrT | None:
        return await self.execute("GETDEL", name)

    async def getex(
        self,
        name: KeyT,
        ex: ExpiryT | None = None,
        px: ExpiryT | None = None,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        persist: bool = False,
    ) -> StrT | None:
        given = (ex is not None) + (px is not None) + (exat is not None) + (pxat is not None)
        given += bool(persist)
        if given == 0:
            return await self.execute("GETEX", name)
        if given > 1:
            raise DataError("getex: ex, px, exat, pxat and persist are mutually exclusive")
        if ex is not None:
            return await self.execute("GETEX", name, "EX", _seconds(ex))
        if px is not None:
            return await self.execute("GETEX", name, "PX", _millis(px))
        if exat is not None:
            return await self.execute("GETEX", name, "EXAT", _unix_seconds(exat))
        if pxat is not None:
            return await self.execute("GETEX", name, "PXAT", _unix_millis(pxat))
        return await self.execute("GETEX", name, "PERSIST")

    async def append(self, key: KeyT, value: EncodableT) -> int:
        return await self.execute("APPEND", key, value)

    async def strlen(self, name: KeyT) -> int:
        return await self.execute("STRLEN", name)

    async def incr(self, name: KeyT, amount: int = 1) -> int:
        return await self.execute("INCRBY", name, amount)

    async def incrby(self, name: KeyT, amount: int = 1) -> int:
        return await self.execute("INCRBY", name, amount)

    async def incrbyfloat(self, name: KeyT, amount: float = 1.0) -> float:
        return await self.execute("INCRBYFLOAT", name, amount, callback=float)

    async def decr(self, name: KeyT, amount: int = 1) -> int:
        return await self.execute("DECRBY", name, amount)

    async def decrby(self, name: KeyT, amount: int = 1) -> int:
        return await self.execute("DECRBY", name, amount)

    async def getrange(self, key: KeyT, start: int, end: int) -> StrT:
        return await self.execute("GETRANGE", key, start, end)

    async def substr(self, name: KeyT, start: int, end: int = -1) -> StrT:
        """SUBSTR (GETRANGE's old name): the bytes from ``start`` to ``end``, inclusive."""
        return await self.execute("SUBSTR", name, start, end)

    async def setrange(self, name: KeyT, offset: int, value: EncodableT) -> int:
        return await self.execute("SETRANGE", name, offset, value)

    async def setbit(self, name: KeyT, offset: int, value: int) -> int:
        return await self.execute("SETBIT", name, offset, 1 if value else 0)

    async def getbit(self, name: KeyT, offset: int) -> int:
        return await self.execute("GETBIT", name, offset)

    async def bitcount(
        self,
        key: KeyT,
        start: int | None = None,
        end: int | None = None,
        mode: str | None = None,
    ) -> int:
        if start is None and end is None:
            if mode is not None:
                raise DataError("bitcount: mode needs start and end")
            return await self.execute("BITCOUNT", key)
        if start is None or end is None:
            raise DataError("bitcount: both start and end must be specified")
        if mode is None:
            return await self.execute("BITCOUNT", key, start, end)
        return await self.execute("BITCOUNT", key, start, end, mode)

    # ------------------------------------------------------------------- keys

    async def delete(self, *names: KeyT) -> int:
        return await self.execute("DEL", *names)

    async def unlink(self, *names: KeyT) -> int:
        return await self.execute("UNLINK", *names)

    async def exists(self, *names: KeyT) -> int:
        return await self.execute("EXISTS", *names)

    async def touch(self, *args: KeyT) -> int:
        return await self.execute("TOUCH", *args)

    async def expire(
        self,
        name: KeyT,
        time: ExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _expire_flags(nx, xx, gt, lt) if nx or xx or gt or lt else ()
        return await self.execute("EXPIRE", name, _seconds(time), *flags, callback=bool)

    async def pexpire(
        self,
        name: KeyT,
        time: ExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _expire_flags(nx, xx, gt, lt) if nx or xx or gt or lt else ()
        return await self.execute("PEXPIRE", name, _millis(time), *flags, callback=bool)

    async def expireat(
        self,
        name: KeyT,
        when: AbsExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _expire_flags(nx, xx, gt, lt) if nx or xx or gt or lt else ()
        return await self.execute("EXPIREAT", name, _unix_seconds(when), *flags, callback=bool)

    async def pexpireat(
        self,
        name: KeyT,
        when: AbsExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _expire_flags(nx, xx, gt, lt) if nx or xx or gt or lt else ()
        return await self.execute("PEXPIREAT", name, _unix_millis(when), *flags, callback=bool)

    async def persist(self, name: KeyT) -> bool:
        return await self.execute("PERSIST", name, callback=bool)

    async def ttl(self, name: KeyT) -> int:
        return await self.execute("TTL", name)

    async def pttl(self, name: KeyT) -> int:
        return await self.execute("PTTL", name)

    async def type(self, name: KeyT) -> StrT:
        return await self.execute("TYPE", name)

    async def keys(self, pattern: EncodableT = "*") -> list[StrT]:
        return await self.execute("KEYS", pattern)

    async def scan(
        self,
        cursor: int = 0,
        match: EncodableT | None = None,
        count: int | None = None,
        _type: str | None = None,
    ) -> tuple[int, list[StrT]]:
        if match is None and count is None and _type is None:
            return await self.execute("SCAN", cursor, callback=replies.scan)
        args = _scan_args(["SCAN", cursor], match, count, _type)
        return await self.execute(*args, callback=replies.scan)

    async def scan_iter(
        self,
        match: EncodableT | None = None,
        count: int | None = None,
        _type: str | None = None,
    ) -> AsyncIterator[StrT]:
        cursor = 0
        while True:
            cursor, keys = await self.scan(cursor, match, count, _type)
            for key in keys:
                yield key
            if cursor == 0:
                return

    async def rename(self, src: KeyT, dst: KeyT) -> bool:
        return await self.execute("RENAME", src, dst, callback=replies.ok)

    async def renamenx(self, src: KeyT, dst: KeyT) -> bool:
        return await self.execute("RENAMENX", src, dst, callback=bool)

    async def randomkey(self) -> StrT | None:
        return await self.execute("RANDOMKEY")

    async def copy(
        self,
        source: KeyT,
        destination: KeyT,
        destination_db: int | str | None = None,
        replace: bool = False,
    ) -> bool:
        args: list[Any] = ["COPY", source, destination]
        if destination_db is not None:
            args += ("DB", destination_db)
        if replace:
            args.append("REPLACE")
        return await self.execute(*args, callback=bool)

    async def object_encoding(self, key: KeyT) -> StrT | None:
        return await self.execute("OBJECT", "ENCODING", key)

    # ----------------------------------------------------------------- hashes

    async def hset(
        self,
        name: KeyT,
        key: EncodableT | None = None,
        value: EncodableT | None = None,
        mapping: Mapping[Any, EncodableT] | None = None,
        items: Sequence[EncodableT] | None = None,
    ) -> int:
        if mapping is None and items is None and key is not None:
            return await self.execute("HSET", name, key, value)
        if key is None and not mapping and not items:
            raise DataError("hset: nothing to set (give key and value, mapping or items)")
        if items is not None and len(items) % 2:
            raise DataError("hset: items must hold field/value pairs")
        args: list[Any] = ["HSET", name]
        if key is not None:
            args += (key, value)
        if mapping:
            for pair in mapping.items():
                args += pair
        if items:
            args += items
        return await self.execute(*args)

    async def hget(self, name: KeyT, key: EncodableT) -> StrT | None:
        return await self.execute("HGET", name, key)

    async def hmget(self, name: KeyT, keys: KeysT, *args: EncodableT) -> list[StrT | None]:
        return await self.execute("HMGET", name, *_list_or_args(keys, args))

    async def hgetall(self, name: KeyT) -> dict[StrT, StrT]:
        return await self.execute("HGETALL", name, callback=replies.pairs_to_dict)

    async def hkeys(self, name: KeyT) -> list[StrT]:
        return await self.execute("HKEYS", name)

    async def hvals(self, name: KeyT) -> list[StrT]:
        return await self.execute("HVALS", name)

    async def hlen(self, name: KeyT) -> int:
        return await self.execute("HLEN", name)

    async def hdel(self, name: KeyT, *keys: EncodableT) -> int:
        return await self.execute("HDEL", name, *keys)

    async def hexists(self, name: KeyT, key: EncodableT) -> bool:
        return await self.execute("HEXISTS", name, key, callback=bool)

    async def hincrby(self, name: KeyT, key: EncodableT, amount: int = 1) -> int:
        return await self.execute("HINCRBY", name, key, amount)

    async def hincrbyfloat(self, name: KeyT, key: EncodableT, amount: float = 1.0) -> float:
        return await self.execute("HINCRBYFLOAT", name, key, amount, callback=float)

    async def hsetnx(self, name: KeyT, key: EncodableT, value: EncodableT) -> bool:
        return await self.execute("HSETNX", name, key, value, callback=bool)

    async def hstrlen(self, name: KeyT, key: EncodableT) -> int:
        return await self.execute("HSTRLEN", name, key)

    async def hscan(
        self,
        name: KeyT,
        cursor: int = 0,
        match: EncodableT | None = None,
        count: int | None = None,
    ) -> tuple[int, dict[StrT, StrT]]:
        args = _scan_args(["HSCAN", name, cursor], match, count)
        return await self.execute(*args, callback=replies.scan_hash)

    async def hscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
    ) -> AsyncIterator[tuple[StrT, StrT]]:
        cursor = 0
        while True:
            cursor, data = await self.hscan(name, cursor, match, count)
            for item in data.items():
                yield item
            if cursor == 0:
                return

    async def hmset(self, name: KeyT, mapping: Mapping[Any, EncodableT]) -> bool:
        """HMSET (deprecated by Redis for HSET with a mapping): True."""
        if not mapping:
            raise DataError("hmset: mapping is empty")
        args: list[Any] = ["HMSET", name]
        for pair in mapping.items():
            args += pair
        return await self.execute(*args, callback=replies.ok)

    @overload
    async def hrandfield(
        self, key: KeyT, count: None = ..., withvalues: Literal[False] = ...
    ) -> StrT | None: ...
    @overload
    async def hrandfield(
        self, key: KeyT, count: int, withvalues: Literal[False] = ...
    ) -> list[StrT]: ...
    @overload
    async def hrandfield(
        self, key: KeyT, count: int, withvalues: Literal[True]
    ) -> list[tuple[StrT, StrT]]: ...
    @overload
    async def hrandfield(
        self, key: KeyT, count: int | None = ..., withvalues: bool = ...
    ) -> StrT | list[StrT] | list[tuple[StrT, StrT]] | None: ...
    async def hrandfield(
        self, key: KeyT, count: int | None = None, withvalues: bool = False
    ) -> StrT | list[StrT] | list[tuple[StrT, StrT]] | None:
        if count is None:
            if withvalues:
                raise DataError("hrandfield: withvalues needs a count")
            return await self.execute("HRANDFIELD", key)
        if withvalues:
            return await self.execute(
                "HRANDFIELD", key, count, "WITHVALUES", callback=replies.pairs
            )
        return await self.execute("HRANDFIELD", key, count)

    # ------------------------------------------------------------------ lists

    async def lpush(self, name: KeyT, *values: EncodableT) -> int:
        return await self.execute("LPUSH", name, *values)

    async def rpush(self, name: KeyT, *values: EncodableT) -> int:
        return await self.execute("RPUSH", name, *values)

    async def lpushx(self, name: KeyT, *values: EncodableT) -> int:
        return await self.execute("LPUSHX", name, *values)

    async def rpushx(self, name: KeyT, *values: EncodableT) -> int:
        return await self.execute("RPUSHX", name, *values)

    @overload
    async def lpop(self, name: KeyT, count: None = ...) -> StrT | None: ...
    @overload
    async def lpop(self, name: KeyT, count: int) -> list[StrT] | None: ...
    async def lpop(self, name: KeyT, count: int | None = None) -> StrT | list[StrT] | None:
        if count is None:
            return await self.execute("LPOP", name)
        return await self.execute("LPOP", name, count)

    @overload
    async def rpop(self, name: KeyT, count: None = ...) -> StrT | None: ...
    @overload
    async def rpop(self, name: KeyT, count: int) -> list[StrT] | None: ...
    async def rpop(self, name: KeyT, count: int | None = None) -> StrT | list[StrT] | None:
        if count is None:
            return await self.execute("RPOP", name)
        return await self.execute("RPOP", name, count)

    async def llen(self, name: KeyT) -> int:
        return await self.execute("LLEN", name)

    async def lrange(self, name: KeyT, start: int, end: int) -> list[StrT]:
        return await self.execute("LRANGE", name, start, end)

    async def lindex(self, name: KeyT, index: int) -> StrT | None:
        return await self.execute("LINDEX", name, index)

    async def lset(self, name: KeyT, index: int, value: EncodableT) -> bool:
        return await self.execute("LSET", name, index, value, callback=replies.ok)

    async def linsert(self, name: KeyT, where: str, refvalue: EncodableT, value: EncodableT) -> int:
        return await self.execute("LINSERT", name, where, refvalue, value)

    async def lrem(self, name: KeyT, count: int, value: EncodableT) -> int:
        return await self.execute("LREM", name, count, value)

    async def ltrim(self, name: KeyT, start: int, end: int) -> bool:
        return await self.execute("LTRIM", name, start, end, callback=replies.ok)

    @overload
    async def lpos(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None = ...,
        count: None = ...,
        maxlen: int | None = ...,
    ) -> int | None: ...
    @overload
    async def lpos(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None = ...,
        *,
        count: int,
        maxlen: int | None = ...,
    ) -> list[int]: ...
    async def lpos(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None = None,
        count: int | None = None,
        maxlen: int | None = None,
    ) -> int | list[int] | None:
        args: list[Any] = ["LPOS", name, value]
        if rank is not None:
            args += ("RANK", rank)
        if count is not None:
            args += ("COUNT", count)
        if maxlen is not None:
            args += ("MAXLEN", maxlen)
        return await self.execute(*args)

    async def lmove(
        self, first_list: KeyT, second_list: KeyT, src: str = "LEFT", dest: str = "RIGHT"
    ) -> StrT | None:
        return await self.execute("LMOVE", first_list, second_list, src, dest)

    async def rpoplpush(self, src: KeyT, dst: KeyT) -> StrT | None:
        return await self.execute("RPOPLPUSH", src, dst)

    async def blpop(self, keys: KeysT, timeout: TimeoutT = 0) -> tuple[StrT, StrT] | None:
        args = _list_or_args(keys, ())
        return await self.execute("BLPOP", *args, timeout or 0, callback=replies.pop_pair)

    async def brpop(self, keys: KeysT, timeout: TimeoutT = 0) -> tuple[StrT, StrT] | None:
        args = _list_or_args(keys, ())
        return await self.execute("BRPOP", *args, timeout or 0, callback=replies.pop_pair)

    async def blmove(
        self,
        first_list: KeyT,
        second_list: KeyT,
        timeout: TimeoutT,
        src: str = "LEFT",
        dest: str = "RIGHT",
    ) -> StrT | None:
        return await self.execute("BLMOVE", first_list, second_list, src, dest, timeout or 0)

    async def brpoplpush(self, src: KeyT, dst: KeyT, timeout: TimeoutT = 0) -> StrT | None:
        return await self.execute("BRPOPLPUSH", src, dst, timeout or 0)

    async def lmpop(
        self, num_keys: int, *args: KeyT, direction: str, count: int | None = 1
    ) -> list[StrT | list[StrT]] | None:
        """LMPOP: ``[key, [values]]`` from the first non-empty list of ``args``, popped from
        ``direction`` (LEFT or RIGHT); None when every list is empty."""
        command: list[Any] = ["LMPOP", num_keys, *args, direction]
        if count != 1:
            command += ("COUNT", count)
        return await self.execute(*command)

    async def blmpop(
        self,
        timeout: TimeoutT,
        numkeys: int,
        *args: KeyT,
        direction: str,
        count: int | None = 1,
    ) -> list[StrT | list[StrT]] | None:
        """BLMPOP: lmpop() that waits up to ``timeout`` seconds (0 for ever); None on
        timeout. The command table gives the reply that long plus ``socket_timeout``."""
        command: list[Any] = ["BLMPOP", timeout or 0, numkeys, *args, direction]
        if count != 1:
            command += ("COUNT", count)
        return await self.execute(*command)

    # ------------------------------------------------------------------- sets

    async def sadd(self, name: KeyT, *values: EncodableT) -> int:
        return await self.execute("SADD", name, *values)

    async def srem(self, name: KeyT, *values: EncodableT) -> int:
        return await self.execute("SREM", name, *values)

    async def smembers(self, name: KeyT) -> builtins.set[StrT]:
        return await self.execute("SMEMBERS", name, callback=replies.to_set)

    async def sismember(self, name: KeyT, value: EncodableT) -> bool:
        return await self.execute("SISMEMBER", name, value, callback=bool)

    async def smismember(self, name: KeyT, values: KeysT, *args: EncodableT) -> list[bool]:
        members = _list_or_args(values, args)
        return await self.execute("SMISMEMBER", name, *members, callback=replies.bool_list)

    async def scard(self, name: KeyT) -> int:
        return await self.execute("SCARD", name)

    @overload
    async def spop(self, name: KeyT, count: None = ...) -> StrT | None: ...
    @overload
    async def spop(self, name: KeyT, count: int) -> list[StrT] | None: ...
    async def spop(self, name: KeyT, count: int | None = None) -> StrT | list[StrT] | None:
        if count is None:
            return await self.execute("SPOP", name)
        return await self.execute("SPOP", name, count)

    @overload
    async def srandmember(self, name: KeyT, number: None = ...) -> StrT | None: ...
    @overload
    async def srandmember(self, name: KeyT, number: int) -> list[StrT]: ...
    async def srandmember(self, name: KeyT, number: int | None = None) -> StrT | list[StrT] | None:
        if number is None:
            return await self.execute("SRANDMEMBER", name)
        return await self.execute("SRANDMEMBER", name, number)

    async def smove(self, src: KeyT, dst: KeyT, value: EncodableT) -> bool:
        return await self.execute("SMOVE", src, dst, value, callback=bool)

    async def sinter(self, keys: KeysT, *args: KeyT) -> builtins.set[StrT]:
        return await self.execute("SINTER", *_list_or_args(keys, args), callback=replies.to_set)

    async def sunion(self, keys: KeysT, *args: KeyT) -> builtins.set[StrT]:
        return await self.execute("SUNION", *_list_or_args(keys, args), callback=replies.to_set)

    async def sdiff(self, keys: KeysT, *args: KeyT) -> builtins.set[StrT]:
        return await self.execute("SDIFF", *_list_or_args(keys, args), callback=replies.to_set)

    async def sinterstore(self, dest: KeyT, keys: KeysT, *args: KeyT) -> int:
        return await self.execute("SINTERSTORE", dest, *_list_or_args(keys, args))

    async def sunionstore(self, dest: KeyT, keys: KeysT, *args: KeyT) -> int:
        return await self.execute("SUNIONSTORE", dest, *_list_or_args(keys, args))

    async def sdiffstore(self, dest: KeyT, keys: KeysT, *args: KeyT) -> int:
        return await self.execute("SDIFFSTORE", dest, *_list_or_args(keys, args))

    async def sintercard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> int:
        return await self.execute("SINTERCARD", numkeys, *keys, "LIMIT", limit)

    async def sscan(
        self,
        name: KeyT,
        cursor: int = 0,
        match: EncodableT | None = None,
        count: int | None = None,
    ) -> tuple[int, list[StrT]]:
        args = _scan_args(["SSCAN", name, cursor], match, count)
        return await self.execute(*args, callback=replies.scan)

    async def sscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
    ) -> AsyncIterator[StrT]:
        cursor = 0
        while True:
            cursor, data = await self.sscan(name, cursor, match, count)
            for item in data:
                yield item
            if cursor == 0:
                return

    # ------------------------------------------------------------ sorted sets

    @overload
    async def zadd(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool = ...,
        xx: bool = ...,
        ch: bool = ...,
        incr: Literal[False] = ...,
        gt: bool = ...,
        lt: bool = ...,
    ) -> int: ...
    @overload
    async def zadd(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool = ...,
        xx: bool = ...,
        ch: bool = ...,
        *,
        incr: Literal[True],
        gt: bool = ...,
        lt: bool = ...,
    ) -> float | None: ...
    @overload
    async def zadd(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool = ...,
        xx: bool = ...,
        ch: bool = ...,
        incr: bool = ...,
        gt: bool = ...,
        lt: bool = ...,
    ) -> int | float | None: ...
    async def zadd(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool = False,
        xx: bool = False,
        ch: bool = False,
        incr: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> int | float | None:
        if not mapping:
            raise DataError("zadd: mapping is empty")
        args: list[Any] = ["ZADD", name]
        if nx or xx or ch or incr or gt or lt:
            if nx and (xx or gt or lt):
                raise DataError("zadd: nx cannot be combined with xx, gt or lt")
            if gt and lt:
                raise DataError("zadd: gt and lt are mutually exclusive")
            if incr and len(mapping) != 1:
                raise DataError("zadd: incr works with a single member/score pair")
            args += [flag for flag, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt)) if on]
            if ch:
                args.append("CH")
            if incr:
                args.append("INCR")
        for member, score in mapping.items():
            args += (score, member)
        if incr:
            # the new score, or None when NX/XX/GT/LT refused the update
            return await self.execute(*args, callback=replies.float_or_none)
        return await self.execute(*args)

    async def zrem(self, name: KeyT, *values: EncodableT) -> int:
        return await self.execute("ZREM", name, *values)

    async def zscore(self, name: KeyT, value: EncodableT) -> float | None:
        return await self.execute("ZSCORE", name, value, callback=replies.float_or_none)

    async def zmscore(self, key: KeyT, members: Sequence[EncodableT]) -> list[float | None]:
        if not members:
            raise DataError("zmscore: members is empty")
        return await self.execute("ZMSCORE", key, *members, callback=replies.float_list)

    async def zincrby(self, name: KeyT, amount: float, value: EncodableT) -> float:
        return await self.execute("ZINCRBY", name, amount, value, callback=replies.float_or_none)

    async def zcard(self, name: KeyT) -> int:
        return await self.execute("ZCARD", name)

    async def zcount(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:
        return await self.execute("ZCOUNT", name, min, max)

    async def zrank(self, name: KeyT, value: EncodableT) -> int | None:
        return await self.execute("ZRANK", name, value)

    async def zrevrank(self, name: KeyT, value: EncodableT) -> int | None:
        return await self.execute("ZREVRANK", name, value)

    @overload
    async def zrange(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = ...,
        withscores: Literal[False] = ...,
        score_cast_func: Any = ...,
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
        *,
        rev: bool = ...,
    ) -> list[StrT]: ...
    @overload
    async def zrange(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Any = ...,
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
        rev: bool = ...,
    ) -> list[tuple[StrT, float]]: ...
    @overload
    async def zrange(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = ...,
        withscores: bool = ...,
        score_cast_func: Any = ...,
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
        *,
        rev: bool = ...,
    ) -> list[StrT] | list[tuple[StrT, float]]: ...
    async def zrange(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = False,
        withscores: bool = False,
        score_cast_func: Any = float,
        byscore: bool = False,
        bylex: bool = False,
        offset: int | None = None,
        num: int | None = None,
        *,
        rev: bool = False,
    ) -> list[StrT] | list[tuple[StrT, float]]:
        args: list[Any] = ["ZRANGE", name, start, end]
        if byscore or bylex or offset is not None or num is not None:
            if byscore and bylex:
                raise DataError("zrange: byscore and bylex are mutually exclusive")
            if bylex and withscores:
                raise DataError("zrange: withscores does not combine with bylex")
            if (offset is None) != (num is None):
                raise DataError("zrange: offset and num must both be specified")
            if offset is not None and not (byscore or bylex):
                raise DataError("zrange: offset and num need byscore or bylex")
            args.append("BYSCORE" if byscore else "BYLEX")
        if desc or rev:
            args.append("REV")
        if offset is not None:
            args += ("LIMIT", offset, num)
        if withscores:
            args.append("WITHSCORES")
            return await self.execute(*args, callback=_score_callback(score_cast_func))
        return await self.execute(*args)

    @overload
    async def zrevrange(
        self,
        name: KeyT,
        start: int,
        end: int,
        withscores: Literal[False] = ...,
        score_cast_func: Any = ...,
    ) -> list[StrT]: ...
    @overload
    async def zrevrange(
        self,
        name: KeyT,
        start: int,
        end: int,
        withscores: Literal[True],
        score_cast_func: Any = ...,
    ) -> list[tuple[StrT, float]]: ...
    @overload
    async def zrevrange(
        self, name: KeyT, start: int, end: int, withscores: bool = ..., score_cast_func: Any = ...
    ) -> list[StrT] | list[tuple[StrT, float]]: ...
    async def zrevrange(
        self,
        name: KeyT,
        start: int,
        end: int,
        withscores: bool = False,
        score_cast_func: Any = float,
    ) -> list[StrT] | list[tuple[StrT, float]]:
        if withscores:
            callback = _score_callback(score_cast_func)
            return await self.execute(
                "ZREVRANGE", name, start, end, "WITHSCORES", callback=callback
            )
        return await self.execute("ZREVRANGE", name, start, end)

    @overload
    async def zrangebyscore(
        self,
        name: KeyT,
        min: EncodableT,
        max: EncodableT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: Literal[False] = ...,
        score_cast_func: Any = ...,
    ) -> list[StrT]: ...
    @overload
    async def zrangebyscore(
        self,
        name: KeyT,
        min: EncodableT,
        max: EncodableT,
        start: int | None = ...,
        num: int | None = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Any = ...,
    ) -> list[tuple[StrT, float]]: ...
    @overload
    async def zrangebyscore(
        self,
        name: KeyT,
        min: EncodableT,
        max: EncodableT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: bool = ...,
        score_cast_func: Any = ...,
    ) -> list[StrT] | list[tuple[StrT, float]]: ...
    async def zrangebyscore(
        self,
        name: KeyT,
        min: EncodableT,
        max: EncodableT,
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
        score_cast_func: Any = float,
    ) -> list[StrT] | list[tuple[StrT, float]]:
        return await self._range_by(
            "ZRANGEBYSCORE", name, min, max, start, num, withscores, score_cast_func
        )

    @overload
    async def zrevrangebyscore(
        self,
        name: KeyT,
        max: EncodableT,
        min: EncodableT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: Literal[False] = ...,
        score_cast_func: Any = ...,
    ) -> list[StrT]: ...
    @overload
    async def zrevrangebyscore(
        self,
        name: KeyT,
        max: EncodableT,
        min: EncodableT,
        start: int | None = ...,
        num: int | None = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Any = ...,
    ) -> list[tuple[StrT, float]]: ...
    @overload
    async def zrevrangebyscore(
        self,
        name: KeyT,
        max: EncodableT,
        min: EncodableT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: bool = ...,
        score_cast_func: Any = ...,
    ) -> list[StrT] | list[tuple[StrT, float]]: ...
    async def zrevrangebyscore(
        self,
        name: KeyT,
        max: EncodableT,
        min: EncodableT,
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
        score_cast_func: Any = float,
    ) -> list[StrT] | list[tuple[StrT, float]]:
        return await self._range_by(
            "ZREVRANGEBYSCORE", name, max, min, start, num, withscores, score_cast_func
        )

    async def zrangebylex(
        self,
        name: KeyT,
        min: EncodableT,
        max: EncodableT,
        start: int | None = None,
        num: int | None = None,
    ) -> list[StrT]:
        return await self._range_by("ZRANGEBYLEX", name, min, max, start, num, False, float)

    async def zrevrangebylex(
        self,
        name: KeyT,
        max: EncodableT,
        min: EncodableT,
        start: int | None = None,
        num: int | None = None,
    ) -> list[StrT]:
        return await self._range_by("ZREVRANGEBYLEX", name, max, min, start, num, False, float)

    async def zlexcount(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:
        return await self.execute("ZLEXCOUNT", name, min, max)

    async def zrangestore(
        self,
        dest: KeyT,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        byscore: bool = False,
        bylex: bool = False,
        desc: bool = False,
        offset: int | None = None,
        num: int | None = None,
    ) -> int:
        """ZRANGESTORE: zrange() stored in ``dest``; the number of members stored."""
        args: list[Any] = ["ZRANGESTORE", dest, name, start, end]
        if byscore or bylex or offset is not None or num is not None:
            if byscore and bylex:
                raise DataError("zrangestore: byscore and bylex are mutually exclusive")
            if (offset is None) != (num is None):
                raise DataError("zrangestore: offset and num must both be specified")
            if offset is not None and not (byscore or bylex):
                raise DataError("zrangestore: offset and num need byscore or bylex")
            args.append("BYSCORE" if byscore else "BYLEX")
        if desc:
            args.append("REV")
        if offset is not None:
            args += ("LIMIT", offset, num)
        return await self.execute(*args)

    async def _range_by(
        self,
        command: str,
        name: KeyT,
        low: EncodableT,
        high: EncodableT,
        start: int | None,
        num: int | None,
        withscores: bool,
        score_cast_func: Any,
    ) -> list[Any]:
        args: list[Any] = [command, name, low, high]
        if start is not None or num is not None:
            if start is None or num is None:
                raise DataError(f"{command}: start and num must both be specified")
            args += ("LIMIT", start, num)
        if withscores:
            args.append("WITHSCORES")
            return await self.execute(*args, callback=_score_callback(score_cast_func))
        return await self.execute(*args)

    async def zremrangebyrank(self, name: KeyT, min: int, max: int) -> int:
        return await self.execute("ZREMRANGEBYRANK", name, min, max)

    async def zremrangebyscore(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:
        return await self.execute("ZREMRANGEBYSCORE", name, min, max)

    async def zremrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:
        return await self.execute("ZREMRANGEBYLEX", name, min, max)

    async def zpopmin(self, name: KeyT, count: int | None = None) -> list[tuple[StrT, float]]:
        if count is None:
            return await self.execute("ZPOPMIN", name, callback=replies.score_pairs)
        return await self.execute("ZPOPMIN", name, count, callback=replies.score_pairs)

    async def zpopmax(self, name: KeyT, count: int | None = None) -> list[tuple[StrT, float]]:
        if count is None:
            return await self.execute("ZPOPMAX", name, callback=replies.score_pairs)
        return await self.execute("ZPOPMAX", name, count, callback=replies.score_pairs)

    async def bzpopmin(self, keys: KeysT, timeout: TimeoutT = 0) -> tuple[StrT, StrT, float] | None:
        args = _list_or_args(keys, ())
        return await self.execute("BZPOPMIN", *args, timeout or 0, callback=replies.bzpop)

    async def bzpopmax(self, keys: KeysT, timeout: TimeoutT = 0) -> tuple[StrT, StrT, float] | None:
        args = _list_or_args(keys, ())
        return await self.execute("BZPOPMAX", *args, timeout or 0, callback=replies.bzpop)

    async def zunionstore(
        self,
        dest: KeyT,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = None,
        *,
        weights: Sequence[float] | None = None,
    ) -> int:
        return await self.execute(*_aggregate("ZUNIONSTORE", dest, keys, aggregate, weights))

    async def zinterstore(
        self,
        dest: KeyT,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = None,
        *,
        weights: Sequence[float] | None = None,
    ) -> int:
        return await self.execute(*_aggregate("ZINTERSTORE", dest, keys, aggregate, weights))

    @overload
    async def zunion(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: Literal[False] = ...,
        score_cast_func: Any = ...,
        *,
        weights: Sequence[float] | None = ...,
    ) -> list[StrT]: ...
    @overload
    async def zunion(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Any = ...,
        weights: Sequence[float] | None = ...,
    ) -> list[tuple[StrT, float]]: ...
    @overload
    async def zunion(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: bool = ...,
        score_cast_func: Any = ...,
        *,
        weights: Sequence[float] | None = ...,
    ) -> list[StrT] | list[tuple[StrT, float]]: ...
    async def zunion(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = None,
        withscores: bool = False,
        score_cast_func: Any = float,
        *,
        weights: Sequence[float] | None = None,
    ) -> list[StrT] | list[tuple[StrT, float]]:
        """ZUNION: the members (``[(member, score), ...]`` with ``withscores``)."""
        args = _aggregate("ZUNION", "", keys, aggregate, weights)
        del args[1]  # no destination
        if withscores:
            args.append("WITHSCORES")
            return await self.execute(*args, callback=_score_callback(score_cast_func))
        return await self.execute(*args)

    @overload
    async def zinter(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: Literal[False] = ...,
        *,
        weights: Sequence[float] | None = ...,
    ) -> list[StrT]: ...
    @overload
    async def zinter(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        *,
        withscores: Literal[True],
        weights: Sequence[float] | None = ...,
    ) -> list[tuple[StrT, float]]: ...
    @overload
    async def zinter(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: bool = ...,
        *,
        weights: Sequence[float] | None = ...,
    ) -> list[StrT] | list[tuple[StrT, float]]: ...
    async def zinter(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = None,
        withscores: bool = False,
        *,
        weights: Sequence[float] | None = None,
    ) -> list[StrT] | list[tuple[StrT, float]]:
        """ZINTER: the members (``[(member, score), ...]`` with ``withscores``)."""
        args = _aggregate("ZINTER", "", keys, aggregate, weights)
        del args[1]  # no destination
        if withscores:
            args.append("WITHSCORES")
            return await self.execute(*args, callback=replies.score_pairs)
        return await self.execute(*args)

    @overload
    async def zdiff(self, keys: KeysT, withscores: Literal[False] = ...) -> list[StrT]: ...
    @overload
    async def zdiff(self, keys: KeysT, withscores: Literal[True]) -> list[tuple[StrT, float]]: ...
    @overload
    async def zdiff(
        self, keys: KeysT, withscores: bool = ...
    ) -> list[StrT] | list[tuple[StrT, float]]: ...
    async def zdiff(
        self, keys: KeysT, withscores: bool = False
    ) -> list[StrT] | list[tuple[StrT, float]]:
        """ZDIFF: the members of the first set not in the others."""
        names: list[Any] = _list_or_args(keys, ())
        if withscores:
            args = ("ZDIFF", len(names), *names, "WITHSCORES")
            return await self.execute(*args, callback=replies.score_pairs)
        return await self.execute("ZDIFF", len(names), *names)

    async def zdiffstore(self, dest: KeyT, keys: KeysT) -> int:
        """ZDIFFSTORE: the number of members stored in ``dest``."""
        names: list[Any] = _list_or_args(keys, ())
        return await self.execute("ZDIFFSTORE", dest, len(names), *names)

    async def zintercard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> int:
        """ZINTERCARD: the size of the intersection (counting stops at ``limit`` if not 0)."""
        return await self.execute("ZINTERCARD", numkeys, *keys, "LIMIT", limit)

    async def zmpop(
        self,
        num_keys: int,
        keys: Sequence[KeyT],
        min: bool = False,
        max: bool = False,
        count: int | None = 1,
    ) -> list[StrT | list[tuple[StrT, float]]] | None:
        """ZMPOP: ``[key, [(member, score), ...]]`` from the first non-empty sorted set,
        its lowest (``min``) or highest (``max``) scores; None when all are empty."""
        args = _mpop_args("zmpop", [num_keys, *keys], min, max, count)
        return await self.execute("ZMPOP", *args, callback=replies.zmpop)

    async def bzmpop(
        self,
        timeout: TimeoutT,
        numkeys: int,
        keys: Sequence[KeyT],
        min: bool = False,
        max: bool = False,
        count: int | None = 1,
    ) -> list[StrT | list[tuple[StrT, float]]] | None:
        """BZMPOP: zmpop() that waits up to ``timeout`` seconds (0 for ever); None on
        timeout. The command table gives the reply that long plus ``socket_timeout``."""
        args = _mpop_args("bzmpop", [timeout or 0, numkeys, *keys], min, max, count)
        return await self.execute("BZMPOP", *args, callback=replies.zmpop)

    @overload
    async def zrandmember(
        self, key: KeyT, count: None = ..., withscores: Literal[False] = ...
    ) -> StrT | None: ...
    @overload
    async def zrandmember(
        self, key: KeyT, count: int, withscores: Literal[False] = ...
    ) -> list[StrT]: ...
    @overload
    async def zrandmember(
        self, key: KeyT, count: int, withscores: Literal[True]
    ) -> list[tuple[StrT, float]]: ...
    @overload
    async def zrandmember(
        self, key: KeyT, count: int | None = ..., withscores: bool = ...
    ) -> StrT | list[StrT] | list[tuple[StrT, float]] | None: ...
    async def zrandmember(
        self, key: KeyT, count: int | None = None, withscores: bool = False
    ) -> StrT | list[StrT] | list[tuple[StrT, float]] | None:
        if count is None:
            if withscores:
                raise DataError("zrandmember: withscores needs a count")
            return await self.execute("ZRANDMEMBER", key)
        if withscores:
            callback = replies.score_pairs
            return await self.execute("ZRANDMEMBER", key, count, "WITHSCORES", callback=callback)
        return await self.execute("ZRANDMEMBER", key, count)

    async def zscan(
        self,
        name: KeyT,
        cursor: int = 0,
        match: EncodableT | None = None,
        count: int | None = None,
        score_cast_func: Any = float,
    ) -> tuple[int, list[tuple[StrT, float]]]:
        args = _scan_args(["ZSCAN", name, cursor], match, count)
        if score_cast_func is float:
            return await self.execute(*args, callback=replies.scan_zset)
        return await self.execute(*args, callback=replies.scan_zset_cast(score_cast_func))

    async def zscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
        score_cast_func: Any = float,
    ) -> AsyncIterator[tuple[StrT, float]]:
        cursor = 0
        while True:
            cursor, data = await self.zscan(name, cursor, match, count, score_cast_func)
            for item in data:
                yield item
            if cursor == 0:
                return

    # ----------------------------------------------------------------- server

    async def ping(self) -> bool:
        return await self.execute("PING", callback=replies.pong)

    async def echo(self, value: EncodableT) -> StrT:
        return await self.execute("ECHO", value)

    async def info(self, section: str | None = None, *args: str) -> dict[str, Any]:
        if section is None:
            return await self.execute("INFO", callback=replies.info)
        return await self.execute("INFO", section, *args, callback=replies.info)

    async def dbsize(self) -> int:
        return await self.execute("DBSIZE")

    async def flushdb(self, asynchronous: bool = False) -> bool:
        if asynchronous:
            return await self.execute("FLUSHDB", "ASYNC", callback=replies.ok)
        return await self.execute("FLUSHDB", callback=replies.ok)

    async def flushall(self, asynchronous: bool = False) -> bool:
        if asynchronous:
            return await self.execute("FLUSHALL", "ASYNC", callback=replies.ok)
        return await self.execute("FLUSHALL", callback=replies.ok)

    async def time(self) -> tuple[int, int]:
        return await self.execute("TIME", callback=replies.time)

    async def config_get(self, pattern: str = "*", *args: str) -> dict[str, str]:
        return await self.execute("CONFIG", "GET", pattern, *args, callback=replies.str_dict)

    async def config_set(self, name: str, value: EncodableT, *args: EncodableT) -> bool:
        return await self.execute("CONFIG", "SET", name, value, *args, callback=replies.ok)

    async def client_setname(self, name: str) -> bool:
        return await self.execute("CLIENT", "SETNAME", name, callback=replies.ok)

    async def client_getname(self) -> str | None:
        return await self.execute("CLIENT", "GETNAME", callback=replies.str_or_none)

    async def client_id(self) -> int:
        return await self.execute("CLIENT", "ID")

    async def client_list(
        self, _type: str | None = None, client_id: Sequence[int] = ()
    ) -> list[dict[str, str]]:
        args: list[Any] = ["CLIENT", "LIST"]
        if _type is not None:
            if str(_type).lower() not in ("normal", "master", "replica", "pubsub"):
                raise DataError("client_list: _type must be normal, master, replica or pubsub")
            args += ("TYPE", _type)
        if client_id:
            args += ("ID", *client_id)
        return await self.execute(*args, callback=replies.client_list)

    async def lastsave(self) -> datetime | None:
        return await self.execute("LASTSAVE", callback=replies.timestamp)

    async def command_count(self) -> int:
        return await self.execute("COMMAND", "COUNT")

    # ---------------------------------------------------------------- pub/sub

    async def publish(self, channel: KeyT, message: EncodableT) -> int:
        """PUBLISH: the number of clients that received ``message`` (int)."""
        return await self.execute("PUBLISH", channel, message)

    async def spublish(self, shard_channel: KeyT, message: EncodableT) -> int:
        """SPUBLISH (Redis 7): the number of clients that received ``message`` (int)."""
        return await self.execute("SPUBLISH", shard_channel, message)

    async def pubsub_channels(self, pattern: KeyT = "*") -> list[StrT]:
        """PUBSUB CHANNELS: the active channels matching ``pattern`` (a list)."""
        return await self.execute("PUBSUB", "CHANNELS", pattern)

    async def pubsub_numsub(self, *channels: KeyT) -> list[tuple[StrT, int]]:
        """PUBSUB NUMSUB: ``[(channel, subscribers), ...]`` in the order asked."""
        return await self.execute("PUBSUB", "NUMSUB", *channels, callback=replies.pairs)

    async def pubsub_numpat(self) -> int:
        """PUBSUB NUMPAT: the number of patterns subscribed to by all clients (int)."""
        return await self.execute("PUBSUB", "NUMPAT")

    async def pubsub_shardchannels(self, pattern: KeyT = "*") -> list[StrT]:
        """PUBSUB SHARDCHANNELS (Redis 7): the active shard channels matching ``pattern``."""
        return await self.execute("PUBSUB", "SHARDCHANNELS", pattern)

    async def pubsub_shardnumsub(self, *channels: KeyT) -> list[tuple[StrT, int]]:
        """PUBSUB SHARDNUMSUB (Redis 7): ``[(shard_channel, subscribers), ...]``."""
        return await self.execute("PUBSUB", "SHARDNUMSUB", *channels, callback=replies.pairs)


class AsyncRedisClient(AsyncCommands[StrT]):
    """What store.client() returns: typed methods over the store's execute."""

    def __init__(self, store: Any) -> None:
        self.store = store
        # Bound straight to the store's method: one call frame per command, not two.
        self.execute = store.execute  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store!r})"
