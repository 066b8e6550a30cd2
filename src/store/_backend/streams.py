"""Streams: a connected byte stream (TCP, unix socket or TLS) per variant, and what
opening one needs (the SSL context, socket tuning, error texts).

``AsyncStream`` reads and writes through an asyncio transport and a light protocol class;
``SyncStream`` is its blocking twin over a plain socket. Only ``AsyncStream`` has the
receiver mode of automatic pipelining (``set_receiver``, ``write_now``, ``write_soon``,
``new_waiter``, ``wait``): the module that uses it has no blocking twin.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConnectionError, ImproperlyConfigured, TimeoutError

__all__ = [
    "AsyncStream",
    "SyncStream",
    "make_ssl_context",
]

READ_SIZE = 65536

_CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def make_ssl_context(
    ca_certs: str | None,
    certfile: str | None,
    keyfile: str | None,
    cert_reqs: str,
    check_hostname: bool,
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_certs)
    context.check_hostname = check_hostname and cert_reqs != "none"
    context.verify_mode = _CERT_REQS[cert_reqs]
    if certfile:
        try:
            context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise ImproperlyConfigured(f"cannot load ssl_certfile/ssl_keyfile: {exc}") from None
    return context


def _readable_poll(sock: Any) -> select.poll | None:
    """A poll object telling whether an idle socket is readable (EOF, reset or stray bytes)."""
    if sock is None:
        return None
    poll = select.poll()
    poll.register(sock.fileno(), select.POLLIN)
    return poll


def _reason(exc: OSError) -> str:
    """Why connecting failed, as the blocking variant says it ("Connection refused"):
    asyncio's own text ("Connect call failed ('127.0.0.1', 6379)") names no reason."""
    if exc.errno and exc.errno > 0 and not isinstance(exc, (ssl.SSLError, socket.gaierror)):
        return os.strerror(exc.errno)
    return str(exc.strerror or exc)


def _tune(sock: socket.socket, keepalive: bool) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        # one command is one small write: Nagle would hold it back for the previous ACK
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


class _StreamProtocol(asyncio.Protocol):
    """Collects received chunks and wakes one reader; lighter than StreamReader."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self.paused = False
        # receiver mode (AsyncStream.set_receiver): chunks go straight to on_data
        self.on_data: Callable[[bytes], None] | None = None
        self.on_lost: Callable[[BaseException], None] | None = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        on_data = self.on_data
        if on_data is not None:
            on_data(data)
            return
        self.chunks.append(data)
        self._wake()

    def _lost(self) -> None:
        on_lost = self.on_lost
        if on_lost is not None and self.closed is not None:
            self.on_data = self.on_lost = None
            on_lost(self.closed)

    def eof_received(self) -> bool:
        self.closed = ConnectionError("connection closed by the server")
        self._wake()
        self._lost()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed is None:
            self.closed = ConnectionError(
                f"connection lost: {exc}" if exc else "connection closed by the server"
            )
        self._wake()
        self._lost()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        waiter = self.drain_waiter
        if waiter is not None:
            self.drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("timed out waiting for the server's reply"))


class AsyncStream:
    """A connected byte stream (TCP, unix socket or TLS)."""

    __slots__ = ("_loop", "_out", "_poll", "_protocol", "_transport")

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._poll = _readable_poll(transport.get_extra_info("socket"))
        self._out: list[bytes] = []

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        path: str | None,
        timeout: float | None,
        ssl_context: ssl.SSLContext | None,
        keepalive: bool,
    ) -> AsyncStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                if path is not None:
                    transport, protocol = await loop.create_unix_connection(_StreamProtocol, path)
                else:
                    transport, protocol = await loop.create_connection(
                        _StreamProtocol,
                        host,
                        port,
                        ssl=ssl_context,
                        server_hostname=host if ssl_context else None,
                    )
        except builtins.TimeoutError:
            raise TimeoutError(f"timed out connecting after {timeout}s") from None
        except OSError as exc:
            raise ConnectionError(f"cannot connect: {_reason(exc)}") from None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _tune(sock, keepalive)
        return cls(transport, protocol)

    async def read(self, timeout: float | None) -> bytes:
        """The bytes received so far, waiting for some when there are none."""
        protocol = self._protocol
        chunks = protocol.chunks
        if not chunks:
            if protocol.closed is not None:
                raise protocol.closed
            waiter = protocol.waiter = self._loop.create_future()
            if timeout is None:
                await waiter
            else:
                handle = self._loop.call_later(timeout, _expire, waiter)
                try:
                    await waiter
                finally:
                    handle.cancel()
            if not chunks:
                raise protocol.closed or ConnectionError("connection closed")
        if len(chunks) == 1:
            data = chunks[0]
        else:
            data = b"".join(chunks)
        chunks.clear()
        return data

    async def write(self, data: bytes) -> None:
        protocol = self._protocol
        if protocol.closed is not None:
            raise protocol.closed
        self._transport.write(data)
        if protocol.paused:
            waiter = protocol.drain_waiter = self._loop.create_future()
            await waiter
            if protocol.closed is not None:
                raise protocol.closed

    # -- receiver mode (automatic pipelining): no read(), replies dispatched by the caller

    def set_receiver(
        self,
        on_data: Callable[[bytes], None] | None,
        on_lost: Callable[[BaseException], None] | None,
    ) -> None:
        """Hand every chunk received to ``on_data`` and the end of the stream (once) to
        ``on_lost``, from the transport's callbacks, instead of buffering them for read();
        ``None, None`` goes back to buffering. Refused (ConnectionError) on a closed stream
        or one with unread bytes."""
        protocol = self._protocol
        if on_data is not None:
            if protocol.closed is not None or self._transport.is_closing():
                raise protocol.closed or ConnectionError("connection closed")
            if protocol.chunks:
                raise ConnectionError("unexpected bytes on an idle connection")
        protocol.on_data = on_data
        protocol.on_lost = on_lost

    def write_now(self, data: bytes) -> None:
        """Write without waiting (the transport buffers what the socket does not take)."""
        protocol = self._protocol
        if protocol.closed is not None or self._transport.is_closing():
            raise protocol.closed or ConnectionError("connection closed")
        self._transport.write(data)

    def write_soon(self, data: bytes) -> None:
        """Write at the end of this event loop iteration, together with every other
        write_soon of the same iteration (one send)."""
        out = self._out
        out.append(data)
        if len(out) == 1:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        out = self._out
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if self._protocol.closed is None and not self._transport.is_closing():
            self._transport.write(data)

    def new_waiter(self) -> asyncio.Future[Any]:
        """A future of this stream's loop, for a reply dispatched by a receiver."""
        return self._loop.create_future()

    async def wait(self, waiter: asyncio.Future[Any], timeout: float) -> Any:
        """The result of ``waiter``; TimeoutError (set on it) after ``timeout`` seconds."""
        handle = self._loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            handle.cancel()

    def is_alive(self) -> bool:
        """True when the peer has not closed and nothing unexpected is waiting to be read."""
        protocol = self._protocol
        return (
            protocol.closed is None
            and not protocol.chunks
            and not self._transport.is_closing()
            # a connection made on another (maybe closed) event loop cannot be used here
            and self._loop is asyncio.get_running_loop()
            # the loop may not have run since the peer closed: ask the kernel
            and not (self._poll is not None and self._poll.poll(0))
        )

    def close(self) -> None:
        try:
            self._transport.close()
        except RuntimeError:  # its event loop is closed: close the socket itself
            raw = getattr(self._transport, "_sock", None)  # the selector transport's socket
            if raw is not None:
                raw.close()


class SyncStream:
    """A connected byte stream (TCP, unix socket or TLS) over a blocking socket."""

    __slots__ = ("_pending", "_poll", "_sock", "_timeout")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()
        self._poll = _readable_poll(sock)
        # TLS: decrypted bytes buffered in the SSL object, which poll() cannot see
        self._pending: Callable[[], int] | None = getattr(sock, "pending", None)

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        path: str | None,
        timeout: float | None,
        ssl_context: ssl.SSLContext | None,
        keepalive: bool,
    ) -> SyncStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            if path is not None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(timeout)
                    sock.connect(path)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection((host, port), timeout)
            try:
                _tune(sock, keepalive)
                if ssl_context is not None:
                    if deadline is not None:
                        sock.settimeout(max(deadline - time.monotonic(), 0.001))
                    sock = ssl_context.wrap_socket(sock, server_hostname=host)
                sock.settimeout(None)
            except BaseException:
                sock.close()
                raise
        except builtins.TimeoutError:
            raise TimeoutError(f"timed out connecting after {timeout}s") from None
        except OSError as exc:
            raise ConnectionError(f"cannot connect: {exc.strerror or exc}") from None
        return cls(sock)

    def read(self, timeout: float | None) -> bytes:
        sock = self._sock
        if timeout != self._timeout:
            sock.settimeout(timeout)
            self._timeout = timeout
        try:
            data = sock.recv(READ_SIZE)
        except builtins.TimeoutError:
            raise TimeoutError("timed out waiting for the server's reply") from None
        except OSError as exc:
            raise ConnectionError(f"connection lost: {exc.strerror or exc}") from None
        if not data:
            raise ConnectionError("connection closed by the server")
        return data

    def write(self, data: bytes) -> None:
        # the timeout of the last read bounds the write too: changing it here would race
        # with a reader in another thread (a pub/sub runner)
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise ConnectionError(f"connection lost: {exc.strerror or exc}") from None

    def is_alive(self) -> bool:
        if self._sock.fileno() < 0:
            return False
        # readable while idle means EOF, a reset or unexpected bytes: not reusable
        if self._poll is not None and self._poll.poll(0):
            return False
        pending = self._pending
        return not (pending is not None and pending())

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
