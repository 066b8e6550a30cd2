"""Pipelines (one round trip for many commands) and MULTI/EXEC transactions.

A pipeline queues commands (``execute`` and every typed method return the pipeline
itself) and ``commit()`` sends them in one write on one pooled connection, then returns
their replies in order, each shaped by its ``callback=``. Nothing is sent before
``commit()``; a pipeline left without committing sends nothing at all.

``watch(*keys)`` takes a dedicated connection and switches the pipeline to immediate
mode: commands run at once on that connection and return their replies (reads for an
optimistic transaction) until ``multi()`` is called; from then on they queue again, and
``commit()`` sends them wrapped in MULTI ... EXEC on the watching connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..command_table import DETACHED, PLAIN, REFUSED, CommandInfo, command_for
from ..errors import (
    ConnectionError,
    DataError,
    ResponseError,
    StatefulCommandError,
    StoreError,
    TimeoutError,
    WatchError,
    response_error,
)
from ..resp import pack_command
from .commands import AsyncCommands

if TYPE_CHECKING:
    from .connection import AsyncConnection
    from .protocols import AsyncCommandTarget
    from .scripts import AsyncScript

Callback = Callable[[Any], Any]

_MULTI = pack_command("MULTI")
_EXEC = pack_command("EXEC")
_UNWATCH = pack_command("UNWATCH")
_WATCH_LOST = (
    "the connection watching the keys was lost, and the watch with it: "
    "reset the pipeline and start again"
)


def _name(args: tuple[Any, ...]) -> str:
    first = args[0] if args else ""
    if isinstance(first, (bytes, bytearray, memoryview)):
        return bytes(first).decode("utf-8", "replace").upper()
    return str(first).upper()


def _allowed(args: tuple[Any, ...]) -> CommandInfo:
    """The command's row; StatefulCommandError for a command that would change the state
    of the pipeline's connection, which goes back to the pool (the pipeline's own watch(),
    multi() and commit() send WATCH, MULTI and EXEC)."""
    try:
        info = PLAIN[args[0]]  # command_for's first lookup, without the call
    except (KeyError, TypeError):
        info = command_for(args)
    if info.route >= DETACHED:  # DETACHED or REFUSED: one test for every queued command
        if info.route == REFUSED:
            raise StatefulCommandError(info.refusal())
        raise StatefulCommandError(
            f"{info.name.upper()} changes the state of its connection, which a pipeline "
            "gives back to the pool: send it with store.execute() (on a connection closed "
            "afterwards) or on a connection of your own from store.connect()"
        )
    return info


def _shape(
    commands: list[tuple[tuple[Any, ...], Callback | None]],
    replies: list[Any],
    raise_on_error: bool,
) -> list[Any]:
    """Each reply shaped by its command's callback; error replies become ResponseError
    instances in place, and the first is raised once all are shaped if ``raise_on_error``."""
    results: list[Any] = []
    append = results.append
    first_error = -1
    for index, ((_, callback), reply) in enumerate(zip(commands, replies, strict=True)):
        if isinstance(reply, ResponseError):
            reply = response_error(reply)
            if first_error < 0:
                first_error = index
        elif callback is not None:
            reply = callback(reply)
        append(reply)
    if first_error >= 0 and raise_on_error:
        error: ResponseError = results[first_error]
        error.add_note(
            f"command {first_error + 1} of {len(commands)} in the pipeline: "
            f"{_name(commands[first_error][0])}"
        )
        raise error
    return results


class AsyncPipeline(AsyncCommands):
    """Queues commands; ``commit()`` sends them in one write and returns their replies.

    Use it as a context manager: leaving the block without ``commit()`` drops the queue
    (nothing is sent) and gives back a watching connection.
    """

    def __init__(self, store: AsyncCommandTarget, transaction: bool, raise_on_error: bool) -> None:
        self.store = store
        self.transaction = transaction
        self.raise_on_error = raise_on_error
        encoding = store.encoding
        self._encoding = "utf-8" if encoding.replace("-", "").lower() == "utf8" else encoding
        self._socket_timeout: float | None = store.settings.socket_timeout
        self._packed: list[bytes] = []
        self._commands: list[tuple[tuple[Any, ...], Callback | None]] = []
        self._scripts: dict[str, AsyncScript] = {}
        self._timeout = self._socket_timeout
        self._blocks_forever = False
        self._connection: AsyncConnection | None = None
        self._watching = False
        self._multi = False

    def __repr__(self) -> str:
        mode = "transaction" if self.transaction or self._multi else "pipeline"
        watching = " watching" if self._watching else ""
        return f"<{type(self).__name__} {mode}{watching} queued={len(self._commands)}>"

    def __len__(self) -> int:
        return len(self._commands)

    def __bool__(self) -> bool:
        return True  # an empty pipeline is still a pipeline (``if pipe:`` must not lie)

    @property
    def watching(self) -> bool:
        """True between ``watch()`` and the end of the transaction (commit/reset/unwatch)."""
        return self._watching

    @property
    def queueing(self) -> bool:
        """True when commands are queued for ``commit()``; False in immediate mode (after
        ``watch()`` and before ``multi()``), where they run at once."""
        return not self._watching or self._multi

    # ------------------------------------------------------------------ queueing

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Queue one command and return the pipeline (so calls chain); ``callback=fn``
        shapes its reply at commit time. In immediate mode: run it, return its reply."""
        callback = options.get("callback") if options else None
        if self._watching and not self._multi:
            return await self._execute_now(args, callback)
        packed = pack_command(*args, encoding=self._encoding)  # DataError: nothing queued
        info = _allowed(args)
        self._packed.append(packed)
        self._commands.append((args, callback))
        timeout = self._socket_timeout
        if timeout is not None and info.timeout is not None:
            blocking = info.read_timeout(args, timeout)
            if blocking is None:
                self._blocks_forever = True
            elif self._timeout is None or blocking > self._timeout:
                self._timeout = blocking
        return self

    def add_script(self, script: AsyncScript) -> None:
        """Make sure ``script`` is loaded on the server before this pipeline's commit."""
        self._scripts[script.sha] = script

    def multi(self) -> None:
        """End immediate mode: the next commands queue, and commit wraps them in
        MULTI ... EXEC (even when the pipeline was made with ``transaction=False``)."""
        if self._multi:
            raise StoreError("multi() was already called on this pipeline")
        self._multi = True

    def _clear_queue(self) -> None:
        self._packed = []
        self._commands = []
        self._scripts = {}
        self._timeout = self._socket_timeout
        self._blocks_forever = False
        self._multi = False

    # ------------------------------------------------------------------ watching

    async def watch(self, *names: Any) -> bool:
        """WATCH ``names`` on a connection this pipeline keeps until commit or reset."""
        if self._multi:
            raise StoreError("watch() after multi(): keys must be watched before MULTI")
        if self._commands:
            raise StoreError("watch() after queued commands: watch the keys first")
        if not names:
            raise DataError("watch() needs at least one key")
        packed = pack_command("WATCH", *names, encoding=self._encoding)
        connection = self._connection
        if connection is None:
            if self._watching:
                raise WatchError(_WATCH_LOST)
            connection = await self.store.pool.acquire()
            self._connection = connection
        try:
            reply = await connection.request(packed, self._socket_timeout)
        except BaseException:
            self._drop_connection()
            raise
        if isinstance(reply, ResponseError):
            if not self._watching:
                await self._give_back(unwatch=False)
            raise response_error(reply)
        self._watching = True
        return True

    async def unwatch(self) -> bool:
        """Forget the watched keys and give the connection back; queued commands stay."""
        if self._watching:
            await self._give_back(unwatch=True)
        return True

    async def reset(self) -> None:
        """Drop the queue and the watch (UNWATCH), giving the connection back to the pool."""
        self._clear_queue()
        await self._give_back(unwatch=self._watching)

    async def _execute_now(self, args: tuple[Any, ...], callback: Callback | None) -> Any:
        connection = self._connection
        if connection is None:
            raise WatchError(_WATCH_LOST)
        packed = pack_command(*args, encoding=self._encoding)
        timeout = _allowed(args).read_timeout(args, self._socket_timeout)
        try:
            reply = await connection.request(packed, timeout)
        except BaseException:
            self._drop_connection()  # its reply may still arrive: never reuse it
            raise
        if isinstance(reply, ResponseError):
            raise response_error(reply)
        if callback is not None:
            return callback(reply)
        return reply

    def _drop_connection(self) -> None:
        """Close the dedicated connection after a failure; ``_watching`` stays set, so that
        the lost watch is reported instead of running a transaction unguarded."""
        connection = self._connection
        if connection is not None:
            self._connection = None
            self.store.pool.discard(connection)

    async def _give_back(self, unwatch: bool) -> None:
        connection = self._connection
        self._connection = None
        self._watching = False
        if connection is None:
            return
        pool = self.store.pool
        if unwatch and connection.is_connected:
            try:
                await connection.request(_UNWATCH, self._socket_timeout)
            except (ConnectionError, TimeoutError):
                pool.discard(connection)  # closed: the server forgot the watch with it
                return
            except BaseException:
                pool.discard(connection)
                raise
        pool.release(connection)

    # ------------------------------------------------------------------ commit

    async def commit(self, raise_on_error: bool | None = None) -> list[Any]:
        """Send the queued commands in one write and return their replies in order.

        Error replies are raised (the first one, once every reply was read) or, with
        ``raise_on_error=False``, returned in place as ResponseError instances. In a
        transaction, EXEC's replies are the results; a watched key that changed raises
        WatchError, a command refused while queueing raises the EXECABORT ResponseError.
        The queue is empty afterwards, whatever happened: the pipeline can be reused.
        """
        if raise_on_error is None:
            raise_on_error = self.raise_on_error
        commands = self._commands
        watching = self._watching
        transaction = self.transaction or self._multi
        if not commands and not (watching and self._multi):
            await self.reset()
            return []
        packed = self._packed
        scripts = self._scripts
        timeout = None if self._blocks_forever else self._timeout
        connection = self._connection
        self._clear_queue()
        self._connection = None
        self._watching = False
        if connection is None:
            if watching:
                raise WatchError(_WATCH_LOST)
            # on a failure the lease discards the connection: replies may still be pending
            async with self.store.pool.lease() as connection:
                replies = await self._send_queue(connection, packed, scripts, transaction, timeout)
        else:
            pool = self.store.pool
            try:
                replies = await self._send_queue(connection, packed, scripts, transaction, timeout)
            except BaseException:
                pool.discard(connection)  # replies may still be pending: never reuse it
                raise
            if isinstance(replies, ResponseError):
                pool.discard(connection)  # never give a connection back still watching
            else:
                pool.release(connection)
        if isinstance(replies, ResponseError):
            raise replies
        if transaction:
            return self._exec_results(commands, replies, raise_on_error)
        return _shape(commands, replies, raise_on_error)

    async def _send_queue(
        self,
        connection: AsyncConnection,
        packed: list[bytes],
        scripts: dict[str, AsyncScript],
        transaction: bool,
        timeout: float | None,
    ) -> list[Any] | ResponseError:
        """The replies to the queued commands (MULTI's, the QUEUED ones and EXEC's in a
        transaction); or the error of a script that failed to load, returned rather than
        raised, so that the connection goes back to the pool: nothing else was sent then,
        and every reply was read."""
        if scripts:
            error = await self._load_scripts(connection, scripts)
            if error is not None:
                return error
        if transaction:
            await connection.send(b"".join([_MULTI, *packed, _EXEC]))
            count = len(packed) + 2
        else:
            await connection.send(b"".join(packed))
            count = len(packed)
        return await connection.read_replies(count, timeout)

    async def _load_scripts(
        self, connection: AsyncConnection, scripts: dict[str, AsyncScript]
    ) -> ResponseError | None:
        """SCRIPT EXISTS for the scripts the queue uses, SCRIPT LOAD for the missing ones:
        None when they are all loaded, else the first error (every reply was read)."""
        timeout = self._socket_timeout
        shas = list(scripts)
        exists = await connection.request(pack_command("SCRIPT", "EXISTS", *shas), timeout)
        if isinstance(exists, ResponseError):
            return response_error(exists)
        missing = [scripts[sha] for sha, found in zip(shas, exists, strict=True) if not found]
        if not missing:
            return None
        encoding = self._encoding
        await connection.send(
            b"".join(pack_command("SCRIPT", "LOAD", s.script, encoding=encoding) for s in missing)
        )
        replies = await connection.read_replies(len(missing), timeout)
        for reply in replies:
            if isinstance(reply, ResponseError):
                return response_error(reply)
        return None

    def _exec_results(
        self,
        commands: list[tuple[tuple[Any, ...], Callback | None]],
        replies: list[Any],
        raise_on_error: bool,
    ) -> list[Any]:
        multi, queued, results = replies[0], replies[1:-1], replies[-1]
        if isinstance(multi, ResponseError):
            raise response_error(multi)
        if isinstance(results, ResponseError):
            error = response_error(results)
            cause = None
            for index, reply in enumerate(queued):
                if isinstance(reply, ResponseError):
                    cause = cause or response_error(reply)
                    error.add_note(
                        f"command {index + 1} of {len(commands)} in the transaction "
                        f"({_name(commands[index][0])}) was refused: {reply}"
                    )
            raise error from cause
        if results is None:
            raise WatchError("a watched key changed before EXEC: the transaction was not applied")
        if not isinstance(results, list) or len(results) != len(commands):
            raise StoreError(
                f"EXEC answered {results!r} for a transaction of {len(commands)} commands"
            )
        return _shape(commands, results, raise_on_error)

    # ------------------------------------------------------------------ context manager

    async def __aenter__(self) -> AsyncPipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.reset()


async def run_transaction(
    store: AsyncCommandTarget,
    func: Callable[[AsyncPipeline], Any],
    keys: Iterable[Any],
    retries: int | None,
    pipe: AsyncPipeline | None = None,
) -> list[Any]:
    """Run ``func`` on a pipeline watching ``keys``; re-run it on WatchError.

    ``func(pipe)`` reads with the pipeline in immediate mode, calls ``pipe.multi()`` and
    queues its writes (``multi()`` is called for it if it did not). The result is the list
    of EXEC replies. ``retries=None`` retries until the transaction applies; an int
    allows that many retries after the first attempt, then the WatchError is raised.
    ``pipe`` is the pipeline to use (a cluster's); by default one of ``store``.
    """
    if retries is not None and retries < 0:
        raise ValueError(f"retries must be None or >= 0, got {retries!r}")
    keys = tuple(keys)
    if pipe is None:
        pipe = AsyncPipeline(store, transaction=True, raise_on_error=True)
    attempt = 0
    while True:
        try:
            if keys:
                await pipe.watch(*keys)
            await func(pipe)
            if not pipe._multi:
                pipe.multi()
            return await pipe.commit()
        except WatchError:
            if retries is not None and attempt >= retries:
                raise
            attempt += 1
        finally:
            await pipe.reset()
