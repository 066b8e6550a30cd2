"""Pipelines and MULTI/EXEC transactions on a cluster store (``ClusterStore.pipeline()``).

A cluster pipeline queues like a single-node one (it subclasses it: the same ``execute``,
typed methods, ``callback=``, ``raise_on_error``, context manager); only the
sending differs. ``commit()`` groups the commands by the node owning their keys' slot and
sends each group as one pipeline of that node's RedisStore, every group at once in the
async variant (one after the other in the blocking one), then puts the replies back in
the caller's order.

- A command whose keys span slots raises CrossSlotError when it is queued (nothing is
  queued for it), as a single-node pipeline refuses a stateful command. MGET, MSET, DEL,
  UNLINK, EXISTS and TOUCH are split by slot instead, as ``ClusterStore.execute`` does,
  and their parts merged into one reply; DBSIZE, KEYS, FLUSHDB, FLUSHALL, SCRIPT
  LOAD/FLUSH go to every primary. Other keyless commands go to one primary at random.
- A MOVED reply updates the slot, schedules a topology refresh and re-sends just the
  commands it concerns to the new owner; ASK sends ASKING and the command on one
  connection of the target. At most MAX_REDIRECTS rounds; after that the error reply stays
  in the command's place. TRYAGAIN, CLUSTERDOWN and LOADING are not retried inside a
  pipeline: they are the command's reply.
- A connection error on one node raises (the other nodes' groups may have run): pipelines
  are not re-sent, and the topology is read again before the next command.

A transaction (``transaction=True``, ``watch()`` then ``multi()``, or
``store.transaction(func, *keys)``) needs every key, the watched ones included, in one
slot: a key in another slot raises CrossSlotError naming the slots before anything is sent.
It runs as MULTI/EXEC on that slot's owner, through the node store's own pipeline. When
the slot moved (MOVED on WATCH, or on the queued commands: EXECABORT), the slot map is
updated and a refresh scheduled; an unwatched transaction, which the server did not apply,
is then sent once more to the new owner, and a watched one raises WatchError (the watch was
on the old owner), which ``store.transaction()`` retries on the new owner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..cluster import (
    Address,
    Redirect,
    SlotGroup,
    command_slot,
    cross_slot_error,
    key_slot,
    merge_by_position,
    parse_redirect,
    split_command,
)
from ..command_table import command_for
from ..errors import ConnectionError, DataError, ResponseError, StoreError, WatchError
from ..resp import pack_command
from .cluster import _CONCATENATED, _EVERY_PRIMARY, _SPLIT, _SUMMED, MAX_REDIRECTS, ClusterStore
from .pipeline import AsyncPipeline, Callback, _shape, run_transaction

if TYPE_CHECKING:
    from .scripts import AsyncScript

_ASKING = pack_command("ASKING")
# commands run on every primary: fanned out in a pipeline, refused in a transaction
_FANNED_OUT = _SUMMED | _CONCATENATED | _EVERY_PRIMARY

# a command's parts: (slot, fixed node, args); slot None and no node: any primary
Part = tuple[int | None, Address | None, tuple[Any, ...]]
# how a command's parts become its reply: "one", "mget", "mset", "sum", "concat", "first"
Plan = tuple[str, list[Part], list[SlotGroup]]


def _redirect(error: ResponseError, code: str, host: str) -> Redirect | None:
    """The ``code`` redirection (MOVED or ASK) that ``error`` is, or caused (EXECABORT
    after a queued command was redirected); ``host`` answered it."""
    for found in (error, error.__cause__):
        if isinstance(found, ResponseError) and found.code == code:
            return parse_redirect(found.message, host)
    return None


class AsyncClusterPipeline(AsyncPipeline):
    """Commands queued for a cluster; ``commit()`` sends them per node (see the module
    docstring). ``store`` is the first startup node's store (for the encoding and the
    socket timeout, the same on every node); ``cluster`` is the cluster store."""

    def __init__(self, cluster: ClusterStore, transaction: bool, raise_on_error: bool) -> None:
        super().__init__(cluster.node_store(cluster.startup_nodes[0]), transaction, raise_on_error)
        self.cluster = cluster
        # a transaction's slot, from its queued keys and its watched keys
        self._queued_keys: list[Any] = []
        self._watched_keys: list[Any] = []
        self._slot: int | None = None
        # the slot owner's pipeline watching the keys (immediate mode goes to it)
        self._inner: AsyncPipeline | None = None

    # ------------------------------------------------------------------ queueing

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Queue one command and return the pipeline; in immediate mode (after ``watch()``,
        before ``multi()``) run it on the watching node and return its reply."""
        inner = self._inner
        if inner is not None and not self._multi:
            self._check_slot(command_for(args).keys(args, channels=True), record=False)
            return await inner.execute(*args, **options)
        await super().execute(*args, **options)  # DataError, StatefulCommandError first
        try:
            info = command_for(args)
            name = info.name
            if name == "scan":
                raise DataError(
                    "SCAN's cursor belongs to one node of the cluster: use store.scan_iter()"
                )
            if self.transaction or self._multi:
                if name in _FANNED_OUT:
                    raise DataError(
                        f"{name.upper()} runs on every primary of the cluster: send it with "
                        "store.execute() or in a pipeline, not in a transaction"
                    )
                self._check_slot(info.keys(args, channels=True), record=True)
            elif name not in _SPLIT:
                command_slot(args, info)  # CrossSlotError now rather than at commit
        except BaseException:
            self._packed.pop()  # refused: nothing queued for it
            self._commands.pop()
            raise
        return self

    def _check_slot(self, keys: Sequence[Any], record: bool) -> None:
        """CrossSlotError unless ``keys`` share the transaction's one slot."""
        if not keys:
            return
        slot = self._slot
        for key in keys:
            found = key_slot(key)
            if slot is None:
                slot = found
            elif found != slot:
                raise cross_slot_error(
                    "the transaction", [*self._watched_keys, *self._queued_keys, *keys]
                )
        self._slot = slot
        if record:
            self._queued_keys += keys

    def _clear_queue(self) -> None:
        super()._clear_queue()
        self._queued_keys = []
        self._slot = key_slot(self._watched_keys[0]) if self._watched_keys else None

    # ------------------------------------------------------------------ watching

    async def watch(self, *names: Any) -> bool:
        """WATCH ``names`` (one slot) on the slot owner, through its store's pipeline."""
        if self._multi:
            raise StoreError("watch() after multi(): keys must be watched before MULTI")
        if self._commands:
            raise StoreError("watch() after queued commands: watch the keys first")
        if not names:
            raise DataError("watch() needs at least one key")
        self._check_slot(names, record=False)
        slot = self._slot
        assert slot is not None
        try:
            await self._watch_on_owner(slot, names)
        except BaseException:
            self._clear_queue()  # the slot of the keys watched before, if any
            raise
        self._watched_keys += names
        self._watching = True
        return True

    async def _watch_on_owner(self, slot: int, names: tuple[Any, ...]) -> None:
        inner = self._inner
        if inner is not None:
            await inner.watch(*names)
            return
        cluster = self.cluster
        await cluster._ensure_map()
        for attempt in range(2):
            address = cluster._owner(slot)
            inner = cluster._node(address).pipeline(self.transaction, self.raise_on_error)
            try:
                await inner.watch(*names)
            except ResponseError as exc:
                # WATCH is answered MOVED too: the slot has a new owner, watch there once
                redirect = _redirect(exc, "MOVED", address[0])
                if redirect is None or attempt:
                    raise
                self._follow(redirect)
                continue
            self._inner = inner
            return

    async def unwatch(self) -> bool:
        inner, self._inner = self._inner, None
        self._watching = False
        self._watched_keys = []
        self._slot = None
        self._check_slot(self._queued_keys, record=False)
        if inner is not None:
            await inner.reset()  # UNWATCH, the connection back to its pool
        return True

    async def reset(self) -> None:
        self._watched_keys = []
        inner, self._inner = self._inner, None
        self._watching = False
        self._clear_queue()
        if inner is not None:
            await inner.reset()

    def _follow(self, redirect: Redirect) -> None:
        """MOVED: the slot's new owner now, and a refresh before the next command."""
        cluster = self.cluster
        cluster._moved(redirect.slot, cluster._remap(redirect.address))

    # ------------------------------------------------------------------ commit

    async def commit(self, raise_on_error: bool | None = None) -> list[Any]:
        """Send the queued commands (per node; MULTI/EXEC on one node in a transaction)
        and return their replies in order; errors as in a single-node pipeline."""
        if raise_on_error is None:
            raise_on_error = self.raise_on_error
        if self.transaction or self._multi or self._inner is not None:
            return await self._commit_transaction(raise_on_error)
        commands, scripts = self._commands, self._scripts
        self._clear_queue()
        if not commands:
            return []
        cluster = self.cluster
        await cluster._ensure_map()
        plans = [self._plan(args) for args, _ in commands]
        parts = [part for _, command_parts, _ in plans for part in command_parts]
        replies = await self._send(parts, scripts)
        results: list[Any] = []
        index = 0
        for kind, command_parts, groups in plans:
            mine = replies[index : index + len(command_parts)]
            index += len(command_parts)
            error = next((reply for reply in mine if isinstance(reply, ResponseError)), None)
            if error is not None or kind == "one" or kind == "mset" or kind == "first":
                results.append(mine[0] if error is None else error)
            elif kind == "mget":
                results.append(merge_by_position(groups, mine))
            elif kind == "concat":
                results.append([key for keys in mine for key in keys])
            else:
                results.append(sum(mine))
        return _shape(commands, results, raise_on_error)

    def _plan(self, args: tuple[Any, ...]) -> Plan:
        """Where a command's parts go and how their replies merge."""
        info = command_for(args)
        name = info.name
        if name in _FANNED_OUT:
            kind = "sum" if name == "dbsize" else "concat" if name == "keys" else "first"
            return kind, [(None, address, args) for address in self.cluster._primaries], []
        if name in _SPLIT:
            split = split_command(args)
            if split is not None and len(split[0]) > 1:
                groups, commands = split
                parts: list[Part] = [(slot, None, command) for slot, command in commands]
                kind = "mget" if name == "mget" else "mset" if name == "mset" else "sum"
                return kind, parts, groups
        return "one", [(command_slot(args, info), None, args)], []

    async def _send(self, parts: list[Part], scripts: dict[str, AsyncScript]) -> list[Any]:
        """One reply per part: each node's parts in one pipeline, MOVED and ASK followed
        for just the parts they answer, at most MAX_REDIRECTS rounds."""
        cluster = self.cluster
        replies: list[Any] = [None] * len(parts)
        targets = [cluster._target(slot, fixed) for slot, fixed, _ in parts]
        asking: set[int] = set()
        pending = list(range(len(parts)))
        for round_ in range(MAX_REDIRECTS + 1):
            groups: dict[tuple[Address, bool], list[int]] = {}
            for index in pending:
                groups.setdefault((targets[index], index in asking), []).append(index)
            try:
                if True:  # ASYNC
                    answers = await cluster._gather(
                        [
                            self._send_group(address, ask, [parts[i][2] for i in indexes], scripts)
                            for (address, ask), indexes in groups.items()
                        ]
                    )
                else:  # SYNC
                    answers = [
                        self._send_group(address, ask, [parts[i][2] for i in indexes], scripts)
                        for (address, ask), indexes in groups.items()
                    ]
            except ConnectionError:
                cluster._stale = True  # a failover, perhaps: read the topology first
                raise
            pending = []
            for ((address, _), indexes), answer in zip(groups.items(), answers, strict=True):
                for index, reply in zip(indexes, answer, strict=True):
                    replies[index] = reply
                    if not isinstance(reply, ResponseError) or round_ == MAX_REDIRECTS:
                        continue
                    code = reply.code
                    if code != "MOVED" and code != "ASK":
                        continue
                    redirect = parse_redirect(reply.message, address[0])
                    if redirect is None:
                        continue
                    targets[index] = cluster._remap(redirect.address)
                    if code == "MOVED":
                        asking.discard(index)
                        self._follow(redirect)
                    else:
                        asking.add(index)
                    pending.append(index)
            if not pending:
                break
        return replies

    async def _send_group(
        self,
        address: Address,
        ask: bool,
        commands: list[tuple[Any, ...]],
        scripts: dict[str, AsyncScript],
    ) -> list[Any]:
        """The replies of ``commands`` on one node, error replies in place: one pipeline
        of its store, or, for ASK, ASKING before each command on one connection."""
        node = self.cluster._node(address)
        if ask:
            encoding = self._encoding
            packed = b"".join(_ASKING + pack_command(*args, encoding=encoding) for args in commands)
            async with node.pool.lease() as connection:
                replies = await connection.request_many(
                    packed, 2 * len(commands), node.settings.socket_timeout
                )
            return replies[1::2]  # ASKING's OK before each reply
        pipe = node.pipeline(raise_on_error=False)
        for script in scripts.values():
            pipe.add_script(script)
        for args in commands:
            await pipe.execute(*args)
        return await pipe.commit()

    async def _commit_transaction(self, raise_on_error: bool) -> list[Any]:
        """MULTI/EXEC on the slot's owner through its store's pipeline."""
        commands, scripts = self._commands, self._scripts
        slot, multi, inner = self._slot, self._multi, self._inner
        self._inner = None
        self._watching = False
        self._watched_keys = []
        self._clear_queue()
        cluster = self.cluster
        if inner is not None:  # watching: on the watching connection, redirects are fatal
            try:
                if not commands and not multi:
                    return []  # nothing was queued: as a single-node pipeline, no EXEC
                inner.multi()
                return await self._replay(inner, commands, scripts, raise_on_error)
            except ResponseError as exc:
                redirect = _redirect(exc, "MOVED", inner.store.settings.host)
                if redirect is None:
                    raise
                self._follow(redirect)
                raise WatchError(
                    f"slot {redirect.slot} moved to {redirect.host}:{redirect.port} during "
                    "the transaction, which was not applied: watch the keys again"
                ) from exc
            finally:
                await inner.reset()
        if not commands:
            return []
        await cluster._ensure_map()
        for attempt in range(2):
            address = cluster._target(slot, None)
            pipe = cluster._node(address).pipeline(True, raise_on_error)
            try:
                return await self._replay(pipe, commands, scripts, raise_on_error)
            except ResponseError as exc:
                # EXECABORT after MOVED: nothing was applied, so sending again is safe
                redirect = _redirect(exc, "MOVED", address[0])
                if redirect is None or attempt:
                    raise
                self._follow(redirect)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _replay(
        self,
        pipe: AsyncPipeline,
        commands: list[tuple[tuple[Any, ...], Callback | None]],
        scripts: dict[str, AsyncScript],
        raise_on_error: bool,
    ) -> list[Any]:
        for script in scripts.values():
            pipe.add_script(script)
        for args, callback in commands:
            await pipe.execute(*args, callback=callback)
        return await pipe.commit(raise_on_error)

    async def __aenter__(self) -> AsyncClusterPipeline:
        return self


async def run_cluster_transaction(
    cluster: ClusterStore,
    func: Callable[[AsyncPipeline], Any],
    keys: Iterable[Any],
    retries: int | None,
) -> list[Any]:
    """``store.transaction()`` of a cluster store: ``run_transaction`` on a cluster
    pipeline (the keys in one slot; WatchError, a moved slot included, retried)."""
    pipe = AsyncClusterPipeline(cluster, transaction=True, raise_on_error=True)
    return await run_transaction(pipe.store, func, keys, retries, pipe)
