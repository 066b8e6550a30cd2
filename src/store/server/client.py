"""One connected client: its protocol state and the loop that runs its commands."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ..command_table import COMMANDS as REDIS_COMMANDS
from .commands import COMMANDS, NO_MULTI, PUBSUB, lookup
from .config import OutputLimit
from .keyspace import CommandError, Database
from .protocol import (
    ErrorReply,
    Push,
    Replies,
    RequestError,
    RequestParser,
    encode_reply,
    error_line,
)

if TYPE_CHECKING:
    from .core import PulsarDS
    from .tracking import ClientTracking

__all__ = ["NOT_READY", "Blocked", "Client", "pause_clients", "unpause_clients"]

log = logging.getLogger("store.server")
_MAY_REPLICATE_TOO = frozenset({"eval", "evalsha", "fcall", "publish", "spublish"})


class _NotReady:
    def __repr__(self) -> str:
        return "NOT_READY"


NOT_READY: Any = _NotReady()

# A client whose class has no hard output limit has its pipeline held once this many bytes
# of replies are queued, until the socket drains: memory stays within this plus one reply.
OUTPUT_HIGH_WATER = 1 << 20
REPLY_BUFFER_BYTES = 16 << 10  # Redis's PROTO_REPLY_CHUNK_BYTES, see _over_limit
# asyncio's transport copies whatever the socket does not take at once into its own buffer:
# replies are handed to it in pieces of at most this size, as it drains (see _drain).
WRITE_PIECE = 256 << 10


@dataclass(slots=True)
class Blocked:
    """Returned by a blocking command that found nothing: the client waits on ``keys``.

    ``retry(key)`` runs when ``key`` may have data: it returns the reply, or NOT_READY
    to keep waiting; it does its own ``server.wrote``/``server.propagate``. ``timeout``
    is in seconds, 0 for ever; ``timeout_reply`` answers when it passes.
    """

    keys: list[bytes]
    timeout: float
    retry: Callable[[bytes], Any]
    timeout_reply: Any
    # set by the server: the command and the ns it ran before blocking (for the slow log
    # and the latency histogram when the wait ends, as Redis's updateStatsOnUnblock)
    args: list[bytes] | None = None
    ran_ns: int = 0


class Client(asyncio.Protocol):
    """A connection's state (database, protocol version, MULTI, subscriptions) and its
    command loop. Commands of one client run in order; a blocked command holds back the
    ones pipelined after it."""

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        self.id = server.next_client_id()
        self.name = b""
        self.db: Database = server.databases[0]
        self.resp3 = False
        acl = server.acl  # the default user; AUTH changes it (acl.py)
        self.user = acl.default
        self.authenticated = acl.logs_in_alone()
        self.restricted = acl.restricts(self)  # PulsarDS.call checks its commands
        self.multi: list[list[bytes]] | None = None
        self.multi_failed = False  # a command was refused while queueing: EXEC aborts
        self.dirty_cas = False  # a WATCHed key changed
        self.watched: list[tuple[Database, bytes]] = []
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.shard_channels: set[bytes] = set()
        self.blocked: Blocked | None = None
        self.propagate: list[list[bytes]] | None = None  # set by RANDOM commands
        self.in_script = False
        self.in_exec = False  # EXEC is running the queued commands
        self.closing = False
        # CLIENT REPLY: replies are off, the next command's reply is skipped (SKIP was the
        # last command), this command's reply is being skipped
        self.reply_off = False
        self.skip_armed = False
        self.muted_now = False
        self.no_evict = False
        self.monitoring = False  # MONITOR: the server feeds it every command it runs
        self.tracking: ClientTracking | None = None  # CLIENT TRACKING ON (tracking.py)
        self._switching = False  # see switch_runner
        self.address = ""
        self.local_address = ""
        self.created = time.monotonic()
        self.last_interaction = self.created
        self.last_command = b"NULL"
        self.lib_name = b""
        self.lib_version = b""
        self.transport: asyncio.Transport | None = None
        self._queue: list[list[bytes]] = []
        self._replies: list[bytes] = []  # encoded replies waiting for server.flush_replies
        self._timer: asyncio.TimerHandle | None = None
        self._reading_paused = False
        self._writing_paused = False  # the transport's buffer is above its high-water mark
        self._held = False  # the rest of the pipeline waits for the replies to drain
        self._pending = 0  # bytes in self._replies
        # replies flushed but not yet given to the transport (a big value is its stored
        # bytes, not a copy): handed over by _drain as the socket drains
        self._unsent: deque[bytes | memoryview] = deque()
        self._unsent_bytes = 0
        self._close_when_sent = False
        self._soft_since = 0.0  # when the queued replies reached the soft limit, or 0
        self._dropped = False  # cut off at the output limit; nothing more is sent
        config = server.config
        self.parser = RequestParser(
            max_bulk=config.proto_max_bulk_len,
            max_multibulk=config.max_multibulk_len,
            max_inline=config.max_inline_len,
            query_buffer_limit=config.client_query_buffer_limit,
            # Redis's authRequired (no AUTH needed while the default user has no password);
            # an unrestricted client needs none: one attribute test per read
            is_authenticated=lambda: not self.restricted or not server.acl.auth_required(self),
        )
        if server in _PAUSES:
            self.run = self._run_slowly  # type: ignore[method-assign]

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always an asyncio.Transport subclass (uvloop).
        stream = self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.address = _format_address(peer)
        self.local_address = _format_address(sock)
        if not self.server.accept(self):
            stream.write(error_line("ERR max number of clients reached"))
            stream.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._discard_unsent()
        self.server.forget(self)

    def pause_writing(self) -> None:
        # The peer is not reading: stop reading its requests until it catches up.
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._unsent:
            self._drain()
            if self._unsent or self._writing_paused:
                return
        if self._held:
            self._release()
        else:
            self._resume_reading()

    def _pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if (
            self.transport is not None
            and self._reading_paused
            and not (self._held or self._writing_paused)
        ):
            self._reading_paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.last_interaction = time.monotonic()
        try:
            commands = self.parser.feed(data)
        except RequestError as exc:
            self.protocol_error(str(exc))
            return
        if commands:
            if self.blocked is not None or self._queue:
                self._queue.extend(commands)
            else:
                self.run(commands)
        if self.parser.error is not None and not self._queue:
            self.protocol_error(str(self.parser.error))

    # -- running commands ----------------------------------------------------------------

    def run(self, commands: list[list[bytes]]) -> None:
        server = self.server
        call = server.call
        resp3 = self.resp3
        out: list[bytes] = []
        # Replies are counted as they are made, so that a pipeline of big replies is cut
        # off (or held) at the limit, not after all of it is in memory.
        limit = self.output_limit()
        # with a hard limit the client is cut off there rather than held (as in Redis)
        hold_at = limit.hard + REPLY_BUFFER_BYTES if limit.hard else OUTPUT_HIGH_WATER
        check_at = min(hold_at, limit.soft + REPLY_BUFFER_BYTES if limit.soft else hold_at)
        used = self.output_queued()
        budget = check_at - used
        size = counted = 0
        for index, args in enumerate(commands):
            try:
                reply = call(self, args)
            except CommandError as exc:
                out.append(error_line(exc.message))
                continue
            except Exception as exc:  # a bug in one command must not take the server down
                log.exception("command %r failed", args[0][:64])
                out.append(error_line(f"ERR internal error in PulsarDS: {exc!r}"))
                continue
            if reply.__class__ is Blocked:
                self._queue = commands[index + 1 :]
                self.write(out)
                self._block(reply)
                break
            if self.resp3 is not resp3:  # HELLO switched protocols
                resp3 = self.resp3
            encode_reply(reply, resp3, out)
            if len(out) == counted + 1:  # most replies are one chunk
                size += len(out[counted])
                counted += 1
            else:
                for chunk in out[counted:]:
                    size += len(chunk)
                counted = len(out)
            if self.closing:
                self.write(out, size)
                if self._switching:  # the rest runs as the command that ran decided
                    self._switching = self.closing = False
                    self.refresh_runner()
                    if index + 1 < len(commands):
                        self.run(commands[index + 1 :])
                        return
                    break
                self.close()
                return
            if size >= budget:
                if self._over_limit(used + size, limit):
                    self._drop()
                    break
                if used + size >= hold_at and index + 1 < len(commands):
                    self._queue = commands[index + 1 :]
                    self.write(out, size)
                    self._hold()
                    break
        else:
            # error replies are not counted as they are made: then count again
            self.write(out, size if counted == len(out) else -1)
        if server.ready_keys:
            server.serve_blocked()

    # -- CLIENT REPLY and CLIENT PAUSE --------------------------------------------------
    #
    # Both change how commands run, and cost nothing while neither is in use: ``run`` and
    # ``write`` are then the class's own; otherwise the instance's ``run`` is
    # _run_slowly (one command at a time, each checked against the pause, its reply muted
    # as CLIENT REPLY says) and its ``write`` is _write_quietly.

    def switch_runner(self) -> None:
        """For a command that changes how the commands after it run: ``run`` stops after
        it and hands the rest of the pipeline to ``self.run`` as it now is."""
        self.closing = self._switching = True

    def refresh_runner(self) -> None:
        quiet = self.reply_off or self.skip_armed
        if quiet:
            self.write = self._write_quietly  # type: ignore[method-assign]
        else:
            self.__dict__.pop("write", None)
            self.muted_now = False
        if quiet or self.server in _PAUSES:
            self.run = self._run_slowly  # type: ignore[method-assign]
        elif self.monitoring:
            self.run = self._run_as_monitor  # type: ignore[method-assign]
        else:
            self.__dict__.pop("run", None)

    def _run_as_monitor(self, commands: list[list[bytes]]) -> None:
        """A MONITOR client is a replica to Redis: what reads or writes keys is refused
        ("Replica can't interact with the keyspace"), the rest runs."""
        for index, args in enumerate(commands):
            if self.transport is None or self._dropped:
                return
            cmd = COMMANDS.get(args[0]) or lookup(args[0])
            if cmd is not None and cmd.name in _KEYSPACE_COMMANDS:
                exc = self.server._refuse(self, cmd, "Replica can't interact with the keyspace")
                Client.write(self, [error_line(exc.message)])
                continue
            Client.run(self, [args])
            if cmd is not None and cmd.name == "reset" and self.monitoring:
                self.monitoring = False  # RESET ends MONITOR (clearClientConnectionState)
                self.server.recorder.remove_monitor(self)
                self.refresh_runner()
                if index + 1 < len(commands):
                    self.run(commands[index + 1 :])
                return
            if self._queue or self.blocked is not None:
                self._queue.extend(commands[index + 1 :])
                return

    def _write_quietly(self, chunks: list[bytes], size: int = -1) -> None:
        if self.reply_off or self.muted_now:
            chunks.clear()  # Redis drops them all: replies, errors, pub/sub messages
            return
        Client.write(self, chunks, size)

    def _run_slowly(self, commands: list[list[bytes]]) -> None:
        server = self.server
        for index, args in enumerate(commands):
            if self.transport is None or self._dropped or self.closing:
                return
            pause = _PAUSES.get(server)
            if pause is not None and pause.holds(self, args):
                self._queue = commands[index:]
                pause.postpone(self)
                return
            # Redis's resetClient: a SKIP mutes the one command after it
            self.muted_now, self.skip_armed = self.skip_armed, False
            if not self._run_one(args):
                self._queue = commands[index + 1 :]
                return
            if not (self.reply_off or self.skip_armed or server in _PAUSES):
                self.refresh_runner()
                if index + 1 < len(commands) and self.transport is not None:
                    Client.run(self, commands[index + 1 :])
                return
        if server.ready_keys:
            server.serve_blocked()

    def _run_one(self, args: list[bytes]) -> bool:
        """One command for _run_slowly; False if the client now waits (it blocked)."""
        try:
            reply = self.server.call(self, args)
        except CommandError as exc:
            reply = ErrorReply(exc.message)
        except Exception as exc:  # a bug in one command must not take the server down
            log.exception("command %r failed", args[0][:64])
            reply = ErrorReply(f"ERR internal error in PulsarDS: {exc!r}")
        if reply.__class__ is Blocked:
            self._block(reply)
            return False
        if self.reply_off or self.muted_now:
            reply = _pushes_in(reply)  # Redis sends these anyway (CLIENT_PUSHING)
        if reply is not _NOTHING:
            out: list[bytes] = []
            encode_reply(reply, self.resp3, out)
            Client.write(self, out)
        if self.closing:
            if not self._switching:
                self.close()
                return True
            self._switching = self.closing = False
            self.refresh_runner()
        return True

    def write(self, chunks: list[bytes], size: int = -1) -> None:
        """Send encoded replies (``size`` bytes in all, if the caller counted them), now or
        with the server's next batch (``queue_flush``)."""
        transport = self.transport
        if not chunks or transport is None or self._dropped:
            chunks.clear()
            return
        self._pending += sum(map(len, chunks)) if size < 0 else size
        used = self.output_queued()
        limit = self.output_limit()
        if (limit.hard and used >= limit.hard) or (limit.soft and used >= limit.soft):
            if self._over_limit(used, limit):  # pub/sub messages pile up here
                chunks.clear()
                self._drop()
                return
        queued = bool(self._replies)  # already waiting for the server's flush
        self._replies += chunks
        chunks.clear()
        if not queued and not self.server.queue_flush(self):
            self.flush()

    def flush(self) -> None:
        """Send the queued replies now (the server has logged their writes)."""
        replies = self._replies
        transport = self.transport
        if not replies or transport is None:
            replies.clear()
            return
        aof = self.server.aof
        if aof is not None:
            aof.write_pending()  # a reply never goes out before its write is logged
        if self._pending <= WRITE_PIECE and not (self._unsent or self._writing_paused):
            transport.write(b"".join(replies) if len(replies) > 1 else replies[0])
            replies.clear()
        else:
            self._replies = []
            self._queue_unsent(replies)
            self._drain()
        self._pending = 0
        limit = self.output_limit()
        if limit.hard or limit.soft:
            if self._over_limit(self.output_queued(), limit):
                self._drop()

    def _queue_unsent(self, replies: list[bytes]) -> None:
        """Move ``replies`` to those waiting for the transport: small chunks joined into
        pieces (each chunk let go as it is joined, so the peak is one piece over the
        replies), big ones (a stored value) as they are."""
        unsent = self._unsent
        self._unsent_bytes += self._pending
        replies.reverse()  # popped from the end, in order
        pop = replies.pop
        run: list[bytes] = []
        run_size = 0
        while replies:
            chunk = pop()
            size = len(chunk)
            if size >= WRITE_PIECE:
                if run:
                    unsent.append(b"".join(run))
                    run = []
                    run_size = 0
                unsent.append(chunk)
                continue
            run.append(chunk)
            run_size += size
            if run_size >= WRITE_PIECE:
                unsent.append(b"".join(run))
                run = []
                run_size = 0
        if run:
            unsent.append(b"".join(run))

    def _drain(self) -> None:
        """Hand unsent replies to the transport a piece at a time until its buffer passes
        the high-water mark (``pause_writing``): it then holds one piece, not a copy of
        everything; ``resume_writing`` brings us back."""
        unsent = self._unsent
        transport = self.transport
        while unsent and transport is not None and not self._writing_paused:
            chunk = unsent[0]
            if len(chunk) > WRITE_PIECE:
                view = memoryview(chunk)
                piece: bytes | memoryview = view[:WRITE_PIECE]
                unsent[0] = view[WRITE_PIECE:]
            else:
                piece = unsent.popleft()
            self._unsent_bytes -= len(piece)
            transport.write(piece)
            transport = self.transport  # writing can fail and lose the connection
        if not unsent and self._close_when_sent and self.transport is not None:
            self.transport.close()

    def _discard_unsent(self) -> None:
        self._unsent.clear()
        self._unsent_bytes = 0

    # -- output limits (Redis's checkClientOutputBufferLimits) ---------------------------

    def output_limit(self) -> OutputLimit:
        """The limits of this client's class: pubsub while it has subscriptions."""
        limits = self.server.config.client_output_buffer_limit
        return limits["pubsub" if self.subscriptions else "normal"]

    def output_queued(self) -> int:
        """Bytes of replies not yet handed to the kernel: ours plus the transport's."""
        transport = self.transport
        queued = self._pending + self._unsent_bytes
        return queued + (transport.get_write_buffer_size() if transport else 0)

    def _over_limit(self, queued: int, limit: OutputLimit) -> bool:
        # Redis does not count the replies in its 16 KB static buffer, only the list
        # beyond it: a small limit does not cut off a client over small replies.
        used = queued - REPLY_BUFFER_BYTES
        if limit.hard and used >= limit.hard:
            return True
        if limit.soft and used >= limit.soft:
            now = time.monotonic()
            if not self._soft_since:
                self._soft_since = now
                return False
            return now - self._soft_since > limit.soft_seconds
        self._soft_since = 0.0
        return False

    def _drop(self) -> None:
        """Cut off a client over its output limit; what it had queued is freed now."""
        log.warning("closing client id=%d addr=%s: output buffer limit", self.id, self.address)
        self.server.stats.output_buffer_kills += 1
        self._dropped = True
        self._replies.clear()
        self._pending = 0
        self._discard_unsent()
        self._queue = []
        if self.transport is not None:
            self.transport.abort()

    def _hold(self) -> None:
        """Stop running this client's pipeline (and reading its socket) until the replies
        drain below the transport's low-water mark, as ``resume_writing`` reports."""
        self._held = True
        self.flush()  # now, not with the server's batch: the socket says when to go on
        if self._dropped or self.transport is None:
            return
        self._pause_reading()
        if not self._writing_paused:  # the socket took it all: go on after the others
            asyncio.get_running_loop().call_soon(self._release)

    def _release(self) -> None:
        if not self._held or self._writing_paused:
            return
        self._held = False
        self._resume()
        self._resume_reading()

    def send(self, value: Any) -> None:
        """Write one reply now (pub/sub messages, replies to unblocked clients)."""
        out: list[bytes] = []
        encode_reply(value, self.resp3, out)
        self.write(out)

    def push(self, *items: Any) -> None:
        """A pub/sub message: sent even while CLIENT REPLY mutes replies, as in Redis."""
        out: list[bytes] = []
        encode_reply(Push(items), self.resp3, out)
        Client.write(self, out)

    def protocol_error(self, message: str) -> None:
        log.info("protocol error from client id=%d addr=%s: %s", self.id, self.address, message)
        self.server.stats.protocol_errors += 1
        self.server.stats.error("ERR Protocol error")
        if self.transport is not None:
            self.write([error_line(f"ERR Protocol error: {message}")])
            self.close()

    def close(self) -> None:
        """Close after sending the queued replies."""
        self.flush()
        if self._unsent:
            self._close_when_sent = True
            self._pause_reading()
        elif self.transport is not None:
            self.transport.close()

    def kill(self) -> None:
        """Drop the connection now: the peer sees it closed before any later reply is sent
        (CLIENT KILL answers the killer only after the victim is gone, as Redis does)."""
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._discard_unsent()
        transport.abort()

    # -- blocking ------------------------------------------------------------------------

    def _block(self, blocked: Blocked) -> None:
        self.blocked = blocked
        self.server.block(self, blocked)
        if blocked.timeout > 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(blocked.timeout, self._block_timed_out)

    def _block_timed_out(self) -> None:
        blocked = self.blocked
        if blocked is not None:
            blocked.args = None  # Redis logs no slow log entry for a wait that timed out
            self.unblock(blocked.timeout_reply)

    def unblock(self, reply: Any, error: str | None = None) -> None:
        """End the wait with ``reply`` and go on with the commands queued behind it."""
        blocked = self.blocked
        if blocked is None:
            return
        self.server.unblock(self, blocked)
        self.blocked = None
        if blocked.args is not None:
            self.server.recorder.unblocked(self, blocked.args, blocked.ran_ns)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if error is not None:
            self.write([error_line(error)])
        else:
            self.send(reply)
        if self._queue:
            asyncio.get_running_loop().call_soon(self._resume)

    def _resume(self) -> None:
        if self.blocked is None and self._queue and self.transport is not None:
            commands, self._queue = self._queue, []
            self.run(commands)
            if self.parser.error is not None and not self._queue:
                self.protocol_error(str(self.parser.error))

    @property
    def can_block(self) -> bool:
        """Blocking commands inside EXEC or a script answer at once, as in Redis."""
        return not (self.in_exec or self.in_script)

    # -- introspection -------------------------------------------------------------------

    @property
    def subscriptions(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    def info_line(self) -> bytes:
        """One line of CLIENT LIST / CLIENT INFO, with Redis 7.0's fields in its order.
        Arguments are never shown, so no password is either."""
        now = time.monotonic()
        tracking = self.tracking
        flags = (
            "".join(
                flag
                for flag, on in (
                    ("O", self.monitoring),
                    ("P", self.subscriptions > 0),
                    ("x", self.multi is not None),
                    ("b", self.blocked is not None),
                    ("t", tracking is not None),
                    ("R", tracking is not None and tracking.broken),
                    ("B", tracking is not None and tracking.bcast),
                    ("d", self.dirty_cas),
                    ("c", self.closing),
                    ("e", self.no_evict),
                )
                if on
            )
            or "N"
        )
        transport = self.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        fd = sock.fileno() if sock is not None else -1
        queued = self.output_queued()
        buffered = self.parser.buffered
        multi = -1 if self.multi is None else len(self.multi)
        multi_mem = sum(len(arg) for queued_args in self.multi or () for arg in queued_args)
        fields = (
            f"id={self.id} addr={self.address} laddr={self.local_address} fd={fd} "
            f"name={self.name.decode('utf-8', 'replace')} age={int(now - self.created)} "
            f"idle={int(now - self.last_interaction)} flags={flags} db={self.db.index} "
            f"sub={len(self.channels)} psub={len(self.patterns)} ssub={len(self.shard_channels)} "
            f"multi={multi} qbuf={buffered} qbuf-free=0 argv-mem=0 multi-mem={multi_mem} "
            f"rbs={REPLY_BUFFER_BYTES} rbp=0 obl=0 oll={len(self._unsent)} omem={queued} "
            f"tot-mem={queued + buffered + multi_mem} events=r "
            f"cmd={self.last_command.decode('utf-8', 'replace').lower()} "
            f"user={self.user.name.decode('utf-8', 'replace')} "
            f"redir={-1 if tracking is None else tracking.redirect} "
            f"resp={3 if self.resp3 else 2}"
        )
        return fields.encode()


_NOTHING: Any = object()
# Redis's write, read-only and may-replicate commands: refused to a MONITOR client.
_KEYSPACE_COMMANDS = frozenset(
    name
    for name, info in REDIS_COMMANDS.items()
    if "write" in info.flags or "readonly" in info.flags or name in _MAY_REPLICATE_TOO
)


def _pushes_in(reply: Any) -> Any:
    """What of a muted reply is still sent: its pushes (SUBSCRIBE's confirmations)."""
    if reply.__class__ is Push:
        return reply
    if reply.__class__ is Replies:
        pushes = Replies(item for item in reply if item.__class__ is Push)
        return pushes if pushes else _NOTHING
    return _NOTHING


# -- CLIENT PAUSE -----------------------------------------------------------------------

# Commands that CLIENT PAUSE WRITE holds besides the write ones (Redis's may-replicate).
MAY_REPLICATE = frozenset({"eval", "evalsha", "fcall", "pfcount", "publish", "spublish"})


class _Pause:
    """A server's CLIENT PAUSE: until ``end`` (loop time), commands of every client
    (write ones only with ``writes_only``) wait, in the order they came."""

    def __init__(self, server: PulsarDS, writes_only: bool, end: float) -> None:
        self.server = server
        self.writes_only = writes_only
        self.end = end
        self.timer: asyncio.TimerHandle | None = None
        self.postponed: list[Client] = []

    def holds(self, client: Client, args: list[bytes]) -> bool:
        """Whether the command waits. A command Redis refuses before it looks at the
        pause (unknown, wrong arity, NOAUTH, no-multi in MULTI, subscribed context) does
        not: it is answered now."""
        cmd = COMMANDS.get(args[0]) or lookup(args[0])
        if cmd is None or not cmd.arity_ok(len(args)):
            return False
        if client.restricted and self.server.acl.refusal(client, cmd, args, False) is not None:
            return False
        if client.multi is not None and cmd.name in NO_MULTI:
            return False
        if client.subscriptions and not client.resp3 and PUBSUB not in cmd.flags:
            return False
        if not self.writes_only:
            return True
        if cmd.name == "exec" and client.multi:
            return any(_may_write(queued) for queued in client.multi)
        return _may_write(args)

    def postpone(self, client: Client) -> None:
        if client not in self.postponed:
            self.postponed.append(client)
        client._pause_reading()  # what it sends meanwhile stays in the socket

    def schedule(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_at(self.end, unpause_clients, self.server)


def _may_write(args: list[bytes]) -> bool:
    cmd = COMMANDS.get(args[0]) or lookup(args[0])
    return cmd is not None and (cmd.is_write or cmd.name in MAY_REPLICATE)


_PAUSES: weakref.WeakKeyDictionary[PulsarDS, _Pause] = weakref.WeakKeyDictionary()


def pause_clients(server: PulsarDS, milliseconds: int, writes_only: bool) -> None:
    """CLIENT PAUSE: a pause already on keeps the stricter kind and the later end."""
    loop = asyncio.get_running_loop()
    end = loop.time() + min(milliseconds, 1 << 40) / 1000
    pause = _PAUSES.get(server)
    if pause is None:
        if milliseconds <= 0:
            return  # Redis's end time 0 has passed already
        pause = _PAUSES[server] = _Pause(server, writes_only, end)
        for client in server.clients.values():
            client.refresh_runner()
    else:
        pause.writes_only = pause.writes_only and writes_only
        pause.end = max(pause.end, end)
    pause.schedule()


def unpause_clients(server: PulsarDS) -> None:
    """The pause ends (CLIENT UNPAUSE or its timeout): the postponed clients go on, in
    the order they were stopped, each after the loop's pending work (none blocks it)."""
    pause = _PAUSES.pop(server, None)
    if pause is None:
        return
    if pause.timer is not None:
        pause.timer.cancel()
    for client in server.clients.values():
        client.refresh_runner()
    loop = asyncio.get_running_loop()
    for client in pause.postponed:
        if client.transport is not None:
            client._resume_reading()
            loop.call_soon(client._resume)


def _format_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    if isinstance(address, str) and address:
        return address
    return "/unixsocket"
