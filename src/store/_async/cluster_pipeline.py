"""Pipelines and MULTI/EXEC transactions on a cluster store (``ClusterStore.pipeline()``).

A cluster pipeline queues like a single-node one (it subclasses it: the same ``execute``,
typed methods, ``callback=``, ``raise_on_error``, context manager); only the
sending differs. A command is packed and given its slot when it is queued; ``commit()``
groups the packed commands by the node owning their slot and writes each group on one
connection of that node's RedisStore (``ClusterStore._send_packed``), every group at
once in the async variant (in the blocking one, every node's write before the first
read), then puts the replies back in the caller's order. Reads stay on the primaries,
``read_from_replicas`` or not.

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
from typing import TYPE_CHECKING, Any, Self

from ..cluster import (
    FANNED_OUT,
    FIRST_KEY,
    KEYED,
    ROUTES,
    SCAN,
    SPLIT,
    Redirect,
    command_slot,
    cross_slot_error,
    group_by_slot,
    key_slot,
    merge_by_slot,
    merge_fanned_out,
    parse_redirect,
    route_of,
)
from ..command_table import command_for
from ..errors import DataError, ResponseError, StoreError, WatchError
from ..resp import pack_command
from .cluster import ClusterStore
from .commands_base import StrT
from .pipeline import AsyncPipeline, Callback, _shape, run_transaction

if TYPE_CHECKING:
    from .scripts import AsyncScript
    from .store import RedisStore

# how the parts of a split MGET and MSET merge (DEL, EXISTS...: summed)
_MGET = -1
_MSET = -2


def _lower(name: Any) -> str:
    if isinstance(name, (bytes, bytearray, memoryview)):
        return bytes(name).decode("utf-8", "replace").lower()
    return str(name).lower()


def _redirect(error: ResponseError, code: str, host: str) -> Redirect | None:
    """The ``code`` redirection (MOVED or ASK) that ``error`` is, or caused (EXECABORT
    after a queued command was redirected); ``host`` answered it."""
    for found in (error, error.__cause__):
        if isinstance(found, ResponseError) and found.code == code:
            return parse_redirect(found.message, host)
    return None


class AsyncClusterPipeline(AsyncPipeline[StrT]):
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
        # per queued command: its slot, None for any primary, or -1 - route for one split
        # by slot or sent to every primary (then ``_expanded`` is set)
        self._targets: list[int | None] = []
        self._expanded = False

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
            try:
                info, route, _ = ROUTES[args[0]]  # route_of's first lookup, without the call
            except (KeyError, TypeError):
                info, route, _ = route_of(args)
            target: int | None
            if route == SCAN:
                raise DataError(
                    "SCAN's cursor belongs to one node of the cluster: use store.scan_iter()"
                )
            if self.transaction or self._multi:
                if route in FANNED_OUT:
                    raise DataError(
                        f"{info.name.upper()} runs on every primary of the cluster: send it "
                        "with store.execute() or in a pipeline, not in a transaction"
                    )
                self._check_slot(info.keys(args, channels=True), record=True)
                target = None  # the transaction's slot decides
            elif route == FIRST_KEY:
                target = key_slot(args[1]) if len(args) > 1 else None
            elif route == KEYED:
                target = command_slot(args, info)  # CrossSlotError now rather than at commit
            else:
                target = -1 - route
                self._expanded = True
        except BaseException:
            self._packed.pop()  # refused: nothing queued for it
            self._commands.pop()
            raise
        self._targets.append(target)
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
        self._targets = []
        self._expanded = False
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
        commands, scripts, packed, targets = (
            self._commands,
            self._scripts,
            self._packed,
            self._targets,
        )
        expanded = self._expanded
        timeout = None if self._blocks_forever else self._timeout
        self._clear_queue()
        if not commands:
            return []
        cluster = self.cluster
        if cluster._map is None or cluster._stale:
            await cluster._ensure_map()
        if expanded:
            return await self._commit_expanded(
                commands, packed, targets, scripts, timeout, raise_on_error
            )
        # the usual case: one packed command to one node each, the replies as they come
        slot_nodes = cluster._slot_nodes
        nodes = [
            cluster._node(cluster._target(None, None)) if slot is None else slot_nodes[slot]
            for slot in targets
        ]
        if None in nodes:
            for slot in targets:
                if slot is not None and slot_nodes[slot] is None:
                    cluster._owner(slot)  # ConnectionError: no node serves it
        replies = await cluster._send_packed(
            nodes,  # type: ignore[arg-type]  # no None left
            packed,
            timeout,
            scripts,
            self._load_scripts,
        )
        return _shape(commands, replies, raise_on_error)

    async def _commit_expanded(
        self,
        commands: list[tuple[tuple[Any, ...], Callback | None]],
        packed: list[bytes],
        targets: list[int | None],
        scripts: dict[str, AsyncScript],
        timeout: float | None,
        raise_on_error: bool,
    ) -> list[Any]:
        """A queue with commands split by slot or sent to every primary: each command's
        parts sent with the others', their replies merged as ``ClusterStore.execute``
        merges them."""
        cluster = self.cluster
        nodes: list[RedisStore] = []
        sent: list[bytes] = []
        # per command: how its parts' replies merge, how many there are, the MGET groups
        plans: list[tuple[int, int, dict[int, list[int]] | None, str]] = []
        encoding = self._encoding
        for index, target in enumerate(targets):
            if target is None or target >= 0:
                nodes.append(cluster._node(cluster._target(target, None)))
                sent.append(packed[index])
                plans.append((KEYED, 1, None, ""))
                continue
            route = -1 - target
            args = commands[index][0]
            if route != SPLIT:  # to every primary (or node), merged as the store merges
                addresses = cluster.fan_out_nodes(route)
                nodes += [cluster._node(address) for address in addresses]
                sent += [packed[index]] * len(addresses)
                plans.append((route, len(addresses), None, route_of(args)[0].name))
                continue
            name = _lower(args[0])
            pairs = name == "mset"
            keys = args[1::2] if pairs else args[1:]
            groups = group_by_slot(keys) if keys and not (pairs and len(args) % 2 == 0) else {}
            if len(groups) < 2:  # one slot, or malformed (the server says what is wrong)
                slot = next(iter(groups)) if groups else None
                nodes.append(cluster._node(cluster._target(slot, None)))
                sent.append(packed[index])
                plans.append((KEYED, 1, None, ""))
                continue
            for slot, positions in groups.items():
                nodes.append(cluster._node(cluster._owner(slot)))
                if pairs:
                    part: list[Any] = [args[0]]
                    for position in positions:
                        part += args[1 + 2 * position : 3 + 2 * position]
                else:
                    part = [args[0], *[keys[position] for position in positions]]
                sent.append(pack_command(*part, encoding=encoding))
            kind = _MSET if pairs else _MGET if name == "mget" else SPLIT
            plans.append((kind, len(groups), groups, name))
        replies = await cluster._send_packed(nodes, sent, timeout, scripts, self._load_scripts)
        results: list[Any] = []
        start = 0
        for kind, count, slots, name in plans:
            mine = replies[start : start + count]
            start += count
            error = next((reply for reply in mine if isinstance(reply, ResponseError)), None)
            if error is not None or kind == KEYED or kind == _MSET:
                results.append(mine[0] if error is None else error)
            elif kind == _MGET:
                assert slots is not None
                results.append(merge_by_slot(slots, mine, sum(map(len, slots.values()))))
            elif kind in FANNED_OUT:
                results.append(merge_fanned_out(kind, name, mine))
            else:  # DEL, EXISTS... split
                results.append(sum(mine))
        return _shape(commands, results, raise_on_error)

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

    async def __aenter__(self) -> Self:
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
