"""One connected client: its protocol state and the loop that runs its commands."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .config import OutputLimit
from .keyspace import CommandError, Database
from .protocol import Push, RequestError, RequestParser, encode_reply, error_line

if TYPE_CHECKING:
    from .core import PulsarDS

__all__ = ["NOT_READY", "Blocked", "Client"]

log = logging.getLogger("store.server")


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
        self.authenticated = not server.config.requirepass
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
            is_authenticated=lambda: self.authenticated,
        )

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
        self.send(Push(items))

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
            self.unblock(blocked.timeout_reply)

    def unblock(self, reply: Any, error: str | None = None) -> None:
        """End the wait with ``reply`` and go on with the commands queued behind it."""
        if self.blocked is None:
            return
        self.server.unblock(self, self.blocked)
        self.blocked = None
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
        """One line of CLIENT LIST. Arguments are never shown, so no password is either."""
        now = time.monotonic()
        flags = (
            "".join(
                flag
                for flag, on in (
                    ("b", self.blocked is not None),
                    ("x", self.multi is not None),
                    ("P", self.subscriptions > 0),
                )
                if on
            )
            or "N"
        )
        fields = (
            f"id={self.id} addr={self.address} laddr={self.local_address} fd=-1 "
            f"name={self.name.decode('utf-8', 'replace')} age={int(now - self.created)} "
            f"idle={int(now - self.last_interaction)} flags={flags} db={self.db.index} "
            f"sub={len(self.channels)} psub={len(self.patterns)} ssub={len(self.shard_channels)} "
            f"multi={-1 if self.multi is None else len(self.multi)} "
            f"qbuf={self.parser.buffered} "
            f"omem={self.output_queued()} "
            f"resp={3 if self.resp3 else 2} "
            f"cmd={self.last_command.decode('utf-8', 'replace').lower()} "
            f"lib-name={self.lib_name.decode('utf-8', 'replace')} "
            f"lib-ver={self.lib_version.decode('utf-8', 'replace')}"
        )
        return fields.encode()


def _format_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    if isinstance(address, str) and address:
        return address
    return "/unixsocket"
