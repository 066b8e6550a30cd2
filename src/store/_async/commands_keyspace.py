# mypy: disable-error-code="no-any-return"
"""Keyspace commands beyond the basics: DUMP/RESTORE, OBJECT, EXPIRETIME, SORT, MOVE,
SWAPDB, MIGRATE, WAIT; redis-py's names, signatures and replies ("OK" replies are True).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store import replies
from store.errors import DataError

from .commands_base import AsyncCommandsBase, EncodableT, KeysT, KeyT, StrT, _list_or_args


def _sort_args(
    command: str,
    name: KeyT,
    start: int | None,
    num: int | None,
    by: EncodableT | None,
    get: KeyT | Sequence[KeyT] | None,
    desc: bool,
    alpha: bool,
) -> list[Any]:
    if (start is None) != (num is None):
        raise DataError(f"{command}: start and num must both be specified")
    args: list[Any] = [command, name]
    if by is not None:
        args += ("BY", by)
    if start is not None:
        args += ("LIMIT", start, num)
    if get is not None:
        if isinstance(get, bytes | str | memoryview):
            args += ("GET", get)
        else:
            for pattern in get:
                args += ("GET", pattern)
    if desc:
        args.append("DESC")
    if alpha:
        args.append("ALPHA")
    return args


class AsyncKeyspaceCommands(AsyncCommandsBase[StrT]):
    """DUMP, RESTORE, OBJECT, EXPIRETIME, PEXPIRETIME, SORT, SORT_RO, MOVE, SWAPDB,
    MIGRATE, WAIT."""

    async def dump(self, name: KeyT) -> bytes | None:
        """DUMP: the value serialized, None when missing. A store with decode_responses
        decodes replies, this one too: dump on a store without it."""
        return await self.execute("DUMP", name)

    async def restore(
        self,
        name: KeyT,
        ttl: float,
        value: EncodableT,
        replace: bool = False,
        absttl: bool = False,
        idletime: int | None = None,
        frequency: int | None = None,
    ) -> bool:
        """RESTORE a DUMP: True (BUSYKEY error when ``name`` exists without ``replace``)."""
        args: list[Any] = ["RESTORE", name, ttl, value]
        if replace:
            args.append("REPLACE")
        if absttl:
            args.append("ABSTTL")
        if idletime is not None:
            args += ("IDLETIME", idletime)
        if frequency is not None:
            args += ("FREQ", frequency)
        return await self.execute(*args, callback=replies.ok)

    async def object(self, infotype: str, key: KeyT) -> StrT | int | None:
        """OBJECT ``infotype`` (ENCODING, FREQ, IDLETIME, REFCOUNT) of ``key``: the raw
        reply (redis-py's generic form)."""
        return await self.execute("OBJECT", infotype, key)

    async def object_freq(self, key: KeyT) -> int | None:
        """OBJECT FREQ (needs an LFU maxmemory-policy); None when ``key`` is missing."""
        return await self.execute("OBJECT", "FREQ", key)

    async def object_idletime(self, key: KeyT) -> int | None:
        """OBJECT IDLETIME in seconds; None when ``key`` is missing."""
        return await self.execute("OBJECT", "IDLETIME", key)

    async def object_refcount(self, key: KeyT) -> int | None:
        """OBJECT REFCOUNT; None when ``key`` is missing."""
        return await self.execute("OBJECT", "REFCOUNT", key)

    async def expiretime(self, key: KeyT) -> int:
        """EXPIRETIME: the absolute Unix time (s) the key expires at; -1 none, -2 missing."""
        return await self.execute("EXPIRETIME", key)

    async def pexpiretime(self, key: KeyT) -> int:
        """PEXPIRETIME: as expiretime(), in milliseconds."""
        return await self.execute("PEXPIRETIME", key)

    async def sort(
        self,
        name: KeyT,
        start: int | None = None,
        num: int | None = None,
        by: EncodableT | None = None,
        get: KeyT | Sequence[KeyT] | None = None,
        desc: bool = False,
        alpha: bool = False,
        store: KeyT | None = None,
        groups: bool = False,
    ) -> list[StrT | None] | list[tuple[StrT | None, ...]] | int:
        """SORT: the sorted elements; with ``store``, the number stored; with ``groups``
        (and two or more ``get`` patterns), one tuple per element."""
        args = _sort_args("SORT", name, start, num, by, get, desc, alpha)
        if store is not None:
            args += ("STORE", store)
        if groups:
            if get is None or isinstance(get, bytes | str | memoryview) or len(get) < 2:
                raise DataError("sort: groups needs two or more get patterns")
            if store is None:
                return await self.execute(*args, callback=replies.sort_groups(len(get)))
        return await self.execute(*args)

    async def sort_ro(
        self,
        key: KeyT,
        start: int | None = None,
        num: int | None = None,
        by: EncodableT | None = None,
        get: KeyT | Sequence[KeyT] | None = None,
        desc: bool = False,
        alpha: bool = False,
    ) -> list[StrT | None]:
        """SORT_RO: sort() without STORE, a read-only command."""
        return await self.execute(*_sort_args("SORT_RO", key, start, num, by, get, desc, alpha))

    async def move(self, name: KeyT, db: int) -> bool:
        """MOVE ``name`` to database ``db``: whether it moved."""
        return await self.execute("MOVE", name, db, callback=bool)

    async def swapdb(self, first: int, second: int) -> bool:
        """SWAPDB: True."""
        return await self.execute("SWAPDB", first, second, callback=replies.ok)

    async def migrate(
        self,
        host: str,
        port: int,
        keys: KeysT,
        destination_db: int,
        timeout: int,
        copy: bool = False,
        replace: bool = False,
        auth: str | None = None,
    ) -> StrT:
        """MIGRATE ``keys`` to another server (``timeout`` in ms): the server's reply, OK or
        NOKEY (as redis-py)."""
        names: list[Any] = _list_or_args(keys, ())
        if not names:
            raise DataError("migrate: give at least one key")
        args: list[Any] = ["MIGRATE", host, port, "", destination_db, timeout]
        if copy:
            args.append("COPY")
        if replace:
            args.append("REPLACE")
        if auth is not None:
            args += ("AUTH", auth)
        args += ("KEYS", *names)
        return await self.execute(*args)

    async def wait(self, num_replicas: int, timeout: int) -> int:
        """WAIT for ``num_replicas`` to acknowledge the writes so far (``timeout`` ms, 0 for
        ever): the number that did. The command table gives it its timeout."""
        return await self.execute("WAIT", num_replicas, timeout)
