"""One connected client: its protocol state and the loop that runs its commands."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

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
        self.server.forget(self)

    def pause_writing(self) -> None:
        # The peer is not reading: stop reading its requests until it catches up.
        if self.transport is not None and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self._reading_paused:
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
            if self.closing:
                self.write(out)
                self.close()
                return
        else:
            self.write(out)
        if server.ready_keys:
            server.serve_blocked()

    def write(self, chunks: list[bytes]) -> None:
        """Send encoded replies, now or with the server's next batch (``queue_flush``)."""
        if not chunks or self.transport is None:
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
        transport.write(b"".join(replies) if len(replies) > 1 else replies[0])
        replies.clear()
        if transport.get_write_buffer_size() > self.server.config.client_output_buffer_limit:
            log.warning("closing client id=%d addr=%s: output buffer limit", self.id, self.address)
            self.server.stats.output_buffer_kills += 1
            transport.abort()

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
        if self.transport is not None:
            self.write([error_line(f"ERR Protocol error: {message}")])
            self.close()

    def close(self) -> None:
        """Close after sending the queued replies."""
        self.flush()
        if self.transport is not None:
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
            f"omem={self.transport.get_write_buffer_size() if self.transport else 0} "
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
