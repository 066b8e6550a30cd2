# mypy: disable-error-code="no-any-return"
"""Bitmaps (BITFIELD and redis-py's builder for it, BITFIELD_RO, BITOP, BITPOS), LCS and
HyperLogLogs (PFADD, PFCOUNT, PFMERGE), with redis-py's names, signatures and replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Literal, Self, TypeVar, overload

from store import replies
from store.errors import DataError

from .commands_base import AsyncCommandsBase, EncodableT, KeyT, StrT

_OVERFLOWS = ("WRAP", "SAT", "FAIL")


# what the builder's execute() returns: the replies from a client, the pipeline from a
# pipeline that queues
ResultT = TypeVar("ResultT")


class AsyncBitFieldOperation(Generic[ResultT]):
    """redis-py's BITFIELD builder: ``client.bitfield("k").set("u8", 0, 255).get("u8", 0)
    .incrby("u8", 0, 10, overflow="SAT").execute()`` sends one BITFIELD; each call returns
    the builder. ``execute()`` gives one reply per GET, SET and INCRBY (None for an INCRBY
    that OVERFLOW FAIL refused), then starts over."""

    def __init__(self, client: Any, key: KeyT, default_overflow: str | None = None) -> None:
        self.client = client
        self.key = key
        self._default_overflow = default_overflow
        self.operations: list[tuple[Any, ...]] = []
        self._last_overflow = "WRAP"
        self.reset()

    def reset(self) -> None:
        """Forget the operations queued so far."""
        self.operations = []
        self._last_overflow = "WRAP"
        self.overflow(self._default_overflow or self._last_overflow)

    def overflow(self, overflow: str) -> Self:
        """OVERFLOW WRAP, SAT or FAIL for the SET and INCRBY operations after it."""
        overflow = str(overflow).upper()
        if overflow not in _OVERFLOWS:
            raise DataError(f"bitfield: overflow can be WRAP, SAT or FAIL, not {overflow!r}")
        if overflow != self._last_overflow:
            self._last_overflow = overflow
            self.operations.append(("OVERFLOW", overflow))
        return self

    def incrby(
        self, fmt: str, offset: int | str, increment: int, overflow: str | None = None
    ) -> Self:
        """INCRBY ``fmt`` (``u8``, ``i16``...) at ``offset`` (``#n`` counts in fmt units)."""
        if overflow is not None:
            self.overflow(overflow)
        self.operations.append(("INCRBY", fmt, offset, increment))
        return self

    def get(self, fmt: str, offset: int | str) -> Self:
        self.operations.append(("GET", fmt, offset))
        return self

    def set(self, fmt: str, offset: int | str, value: int) -> Self:
        self.operations.append(("SET", fmt, offset, value))
        return self

    @property
    def command(self) -> list[Any]:
        """The BITFIELD command the operations make."""
        command: list[Any] = ["BITFIELD", self.key]
        for operation in self.operations:
            command += operation
        return command

    async def execute(self) -> ResultT:
        """Send the BITFIELD (through the client: a pipeline queues it) and start over."""
        command = self.command
        self.reset()
        return await self.client.execute(*command)


class AsyncBitCommands(AsyncCommandsBase[StrT]):
    """BITFIELD, BITFIELD_RO, BITOP, BITPOS, LCS, PFADD, PFCOUNT, PFMERGE."""

    def bitfield(
        self, key: KeyT, default_overflow: str | None = None
    ) -> AsyncBitFieldOperation[list[int | None]]:
        """A BITFIELD builder for ``key`` (redis-py's BitFieldOperation)."""
        return AsyncBitFieldOperation(self, key, default_overflow=default_overflow)

    async def bitfield_ro(
        self,
        key: KeyT,
        encoding: str,
        offset: int | str,
        items: Sequence[tuple[str, int | str]] | None = None,
    ) -> list[int]:
        """BITFIELD_RO: GET ``encoding`` at ``offset``, then each ``(encoding, offset)`` of
        ``items``: one integer each."""
        args: list[Any] = ["BITFIELD_RO", key, "GET", encoding, offset]
        for fmt, at in items or ():
            args += ("GET", fmt, at)
        return await self.execute(*args)

    async def bitop(self, operation: str, dest: KeyT, *keys: KeyT) -> int:
        """BITOP AND/OR/XOR/NOT: the length of the string stored in ``dest``."""
        return await self.execute("BITOP", operation, dest, *keys)

    async def bitpos(
        self,
        key: KeyT,
        bit: int,
        start: int | None = None,
        end: int | None = None,
        mode: str | None = None,
    ) -> int:
        """BITPOS: the first ``bit`` (0 or 1) in the byte (or BIT ``mode``) range; -1 if
        none."""
        if bit not in (0, 1):
            raise DataError("bitpos: bit must be 0 or 1")
        args: list[Any] = ["BITPOS", key, bit]
        if start is not None:
            args.append(start)
            if end is not None:
                args.append(end)
        elif end is not None:
            raise DataError("bitpos: end needs start")
        if mode is not None:
            if start is None or end is None:
                raise DataError("bitpos: mode needs start and end")
            args.append(mode)
        return await self.execute(*args)

    @overload
    async def lcs(
        self,
        key1: KeyT,
        key2: KeyT,
        len: Literal[False] = ...,
        idx: Literal[False] = ...,
        minmatchlen: int = ...,
        withmatchlen: bool = ...,
    ) -> StrT: ...
    @overload
    async def lcs(
        self,
        key1: KeyT,
        key2: KeyT,
        len: Literal[True],
        idx: Literal[False] = ...,
        minmatchlen: int = ...,
        withmatchlen: bool = ...,
    ) -> int: ...
    @overload
    async def lcs(
        self,
        key1: KeyT,
        key2: KeyT,
        len: Literal[False] = ...,
        *,
        idx: Literal[True],
        minmatchlen: int = ...,
        withmatchlen: bool = ...,
    ) -> dict[str, Any]: ...
    @overload
    async def lcs(
        self,
        key1: KeyT,
        key2: KeyT,
        len: bool = ...,
        idx: bool = ...,
        minmatchlen: int = ...,
        withmatchlen: bool = ...,
    ) -> StrT | int | dict[str, Any]: ...
    async def lcs(
        self,
        key1: KeyT,
        key2: KeyT,
        len: bool = False,
        idx: bool = False,
        minmatchlen: int = 0,
        withmatchlen: bool = False,
    ) -> StrT | int | dict[str, Any]:
        """LCS: the longest common subsequence of two strings; its length with ``len``;
        with ``idx``, ``{"matches": [[[start1, end1], [start2, end2]], ...], "len": n}``
        (each match with its length too with ``withmatchlen``)."""
        args: list[Any] = ["LCS", key1, key2]
        if len and idx:
            raise DataError("lcs: len and idx are mutually exclusive")
        if len:
            args.append("LEN")
        if idx:
            args.append("IDX")
            if minmatchlen:
                args += ("MINMATCHLEN", minmatchlen)
            if withmatchlen:
                args.append("WITHMATCHLEN")
            return await self.execute(*args, callback=replies.lcs_idx)
        if minmatchlen or withmatchlen:
            raise DataError("lcs: minmatchlen and withmatchlen need idx")
        return await self.execute(*args)

    # ---------------------------------------------------------------- HyperLogLog

    async def pfadd(self, name: KeyT, *values: EncodableT) -> int:
        """PFADD: 1 when the estimate changed, else 0."""
        return await self.execute("PFADD", name, *values)

    async def pfcount(self, *sources: KeyT) -> int:
        """PFCOUNT: the estimated cardinality of the union of ``sources``."""
        return await self.execute("PFCOUNT", *sources)

    async def pfmerge(self, dest: KeyT, *sources: KeyT) -> bool:
        """PFMERGE: True."""
        return await self.execute("PFMERGE", dest, *sources, callback=replies.ok)
