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
import sys
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConnectionError, ImproperlyConfigured, TimeoutError, TLSHandshakeError

__all__ = [
    "AsyncStream",
    "SyncStream",
    "make_ssl_context",
]

READ_SIZE = 65536
# a send that never waits, whatever the socket's timeout (Linux, the BSDs, macOS)
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
# a write up to this size is one sendall: it fits the socket's buffer unless the server
# has stopped reading, and a bounded step loop would cost every command
_SMALL_WRITE = 65536

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


def _tls_failure(host: str, port: int, exc: BaseException) -> ConnectionError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSHandshakeError(f"TLS handshake with {host}:{port} failed: {exc.verify_message}")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return TLSHandshakeError(
        f"TLS handshake with {host}:{port} failed: {reason} "
        "(is it a TLS port? rediss:// expects one)"
    )


def _tls_timeout(host: str, port: int, timeout: float | None) -> TimeoutError:
    return TimeoutError(
        f"TLS handshake with {host}:{port} timed out after {_seconds(timeout)} "
        "(is it a TLS port? rediss:// expects one)"
    )


def _seconds(timeout: float | None) -> str:
    return f"{timeout:.3g}s"


def _write_timeout(timeout: float | None) -> TimeoutError:
    return TimeoutError(f"timed out after {timeout}s writing to the server (no progress)")


def _abandon(transport: Any) -> None:
    """Close a transport whose event loop is closed: its own closing runs callbacks on that
    loop, which never come, so close the socket and mark every layer (TLS, then TCP) closed,
    else it warns about an unclosed transport when collected."""
    inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
    for layer in (transport, inner):
        if layer is None:
            continue
        try:
            layer.close()  # marks it closing, then fails to schedule the rest
        except RuntimeError:
            pass
        sock = getattr(layer, "_sock", None)
        if sock is not None:
            layer._sock = None
            sock.close()


def _readable_poll(sock: Any) -> select.poll | None:
    """A poll object telling whether an idle socket is readable (EOF, reset or stray bytes)."""
    if sock is None:
        return None
    poll = select.poll()
    poll.register(sock.fileno(), select.POLLIN)
    return poll


# the peer's FIN without the data before it (Linux); elsewhere readable data counts too
_POLLRDHUP = getattr(select, "POLLRDHUP", select.POLLIN)


def _hangup_poll(sock: Any) -> select.poll | None:
    """A poll object telling whether the peer has closed (or reset) a socket in use."""
    if sock is None or sock.fileno() < 0:
        return None
    poll = select.poll()
    poll.register(sock.fileno(), _POLLRDHUP)
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


class _Stalled(Exception):
    """A write's buffer did not drain in time (internal to AsyncStream._drain)."""


def _stall(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(_Stalled())


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("timed out waiting for the server's reply"))


class AsyncStream:
    """A connected byte stream (TCP, unix socket or TLS)."""

    __slots__ = (
        "_fd",
        "_hangup",
        "_out",
        "_poll",
        "_protocol",
        "_transport",
        "loop",
        "write_timeout",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: _StreamProtocol,
        write_timeout: float | None = None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self.loop = asyncio.get_running_loop()  # the loop it belongs to (read-only)
        sock = transport.get_extra_info("socket")
        self._poll = _readable_poll(sock)
        # read_now's descriptor: a plain socket only (TLS bytes must go through the
        # transport's SSL object)
        self._fd = (
            sock.fileno()
            if sock is not None and transport.get_extra_info("ssl_object") is None
            else -1
        )
        self._out: list[bytes] = []
        self._hangup: select.poll | None = None  # made by the first peer_closed()
        # seconds a write may make no progress (the server takes no bytes) before failing
        self.write_timeout = write_timeout

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        path: str | None,
        timeout: float | None,
        ssl_context: ssl.SSLContext | None,
        keepalive: bool,
        write_timeout: float | None = None,
    ) -> AsyncStream:
        """Connect within ``timeout`` seconds, the TLS handshake included; a failed TLS
        handshake raises TLSHandshakeError (or TimeoutError), saying what was expected."""
        loop = asyncio.get_running_loop()
        tls = False  # in the TLS handshake: its failures say what was expected
        try:
            async with asyncio.timeout(timeout):
                if path is not None:
                    transport, protocol = await loop.create_unix_connection(_StreamProtocol, path)
                else:
                    transport, protocol = await loop.create_connection(_StreamProtocol, host, port)
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    _tune(sock, keepalive)
                if ssl_context is not None:
                    tls = True
                    tcp = transport
                    try:
                        tls_transport = await loop.start_tls(
                            tcp, protocol, ssl_context, server_hostname=host
                        )
                    except BaseException:
                        tcp.abort()
                        raise
                    assert tls_transport is not None
                    transport = tls_transport
        except builtins.TimeoutError:
            if tls:
                raise _tls_timeout(host, port, timeout) from None
            raise TimeoutError(f"timed out connecting after {_seconds(timeout)}") from None
        except (OSError, EOFError) as exc:
            if tls:  # ssl.SSLError, or a plain server that answered or hung up
                raise _tls_failure(host, port, exc) from None
            if not isinstance(exc, OSError):
                raise
            raise ConnectionError(f"cannot connect: {_reason(exc)}") from None
        return cls(transport, protocol, write_timeout)

    async def read(self, timeout: float | None) -> bytes:
        """The bytes received so far, waiting for some when there are none."""
        protocol = self._protocol
        chunks = protocol.chunks
        if not chunks:
            if protocol.closed is not None:
                raise protocol.closed
            waiter = protocol.waiter = self.loop.create_future()
            if timeout is None:
                await waiter
            else:
                handle = self.loop.call_later(timeout, _expire, waiter)
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
        """Write ``data``; when the transport's buffer is full, wait for it to drain.
        TimeoutError (and the connection aborted) when no byte left the buffer for
        ``write_timeout`` seconds."""
        protocol = self._protocol
        if protocol.closed is not None:
            raise protocol.closed
        self._transport.write(data)
        if protocol.paused:
            await self._drain()

    async def _drain(self) -> None:
        protocol = self._protocol
        transport = self._transport
        timeout = self.write_timeout
        while protocol.paused:
            waiter = protocol.drain_waiter = self.loop.create_future()
            if timeout is None:
                await waiter
            else:
                left = transport.get_write_buffer_size()
                handle = self.loop.call_later(timeout, _stall, waiter)
                try:
                    await waiter
                except _Stalled:
                    if transport.get_write_buffer_size() < left:
                        continue  # slow but moving: wait on
                    transport.abort()  # close() would wait for the buffer to drain
                    raise _write_timeout(timeout) from None
                finally:
                    handle.cancel()
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
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        out = self._out
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if self._protocol.closed is None and not self._transport.is_closing():
            self._transport.write(data)

    def new_waiter(self) -> asyncio.Future[Any]:
        """A future of this stream's loop, for a reply dispatched by a receiver."""
        return self.loop.create_future()

    async def wait(self, waiter: asyncio.Future[Any], timeout: float) -> Any:
        """The result of ``waiter``; TimeoutError (set on it) after ``timeout`` seconds."""
        handle = self.loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            handle.cancel()

    def read_now(self) -> bytes:
        """The bytes readable right now without waiting (b"" when none), in either mode:
        those buffered for read(), else straight from a plain socket, before the event
        loop gets to them (its own read then finds nothing, which it tolerates); over
        TLS only what the loop delivered. ConnectionError when the stream has ended."""
        protocol = self._protocol
        chunks = protocol.chunks
        if chunks:
            data = b"".join(chunks)
            chunks.clear()
            return data
        if protocol.closed is not None or self._transport.is_closing():
            # closing: its descriptor may soon be another socket's
            raise protocol.closed or ConnectionError("connection closed")
        poll = self._poll
        if self._fd < 0 or poll is None or not poll.poll(0):
            return b""  # (a poll is cheaper than the exception of a read with nothing)
        try:
            data = os.read(self._fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:
            raise ConnectionError(f"connection lost: {exc.strerror or exc}") from None
        if not data:
            raise ConnectionError("connection closed by the server")
        return data

    def peer_closed(self) -> bool:
        """Whether the server has closed this stream (or it is closing), unread replies
        or not: asks the kernel, whatever the event loop has seen so far."""
        if self._protocol.closed is not None or self._transport.is_closing():
            return True
        hangup = self._hangup
        if hangup is None:
            hangup = self._hangup = _hangup_poll(self._transport.get_extra_info("socket"))
        return hangup is not None and bool(hangup.poll(0))

    def is_alive(self) -> bool:
        """True when the peer has not closed and nothing unexpected is waiting to be read."""
        protocol = self._protocol
        return (
            protocol.closed is None
            and not protocol.chunks
            and not self._transport.is_closing()
            # (its event loop is not checked here: the pool, its one user, drops the
            # connections of another loop before it asks)
            # the loop may not have run since the peer closed: ask the kernel
            and not (self._poll is not None and self._poll.poll(0))
        )

    def close(self) -> None:
        transport = self._transport
        if self.loop.is_closed():
            _abandon(transport)
        elif transport.get_write_buffer_size():
            transport.abort()  # close() would wait for a stuck server to take the rest
        else:
            transport.close()


class SyncStream:
    """A connected byte stream (TCP, unix socket or TLS) over a blocking socket."""

    __slots__ = (
        "_hangup",
        "_pending",
        "_poll",
        "_sendall_max",
        "_sock",
        "_timeout",
        "_tls",
        "write_timeout",
    )

    def __init__(self, sock: socket.socket, write_timeout: float | None = None) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()
        self._poll = _readable_poll(sock)
        # TLS: decrypted bytes buffered in the SSL object, which poll() cannot see
        self._pending: Callable[[], int] | None = getattr(sock, "pending", None)
        self._tls = isinstance(sock, ssl.SSLSocket)
        self._hangup: select.poll | None = None  # made by the first peer_closed()
        # seconds a write may make no progress (the server takes no bytes) before failing
        self.write_timeout = write_timeout
        self._sendall_max = 0
        self._set_sendall_max()

    def _set_sendall_max(self) -> None:
        """The largest write sent in one sendall: any for TLS (it cannot step), none when
        the socket has no timeout but writes must have one, else a small one."""
        if self._tls:
            self._sendall_max = sys.maxsize
        elif self._timeout is None and self.write_timeout is not None:
            self._sendall_max = -1
        else:
            self._sendall_max = _SMALL_WRITE

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        path: str | None,
        timeout: float | None,
        ssl_context: ssl.SSLContext | None,
        keepalive: bool,
        write_timeout: float | None = None,
    ) -> SyncStream:
        """Connect within ``timeout`` seconds, the TLS handshake included; a failed TLS
        handshake raises TLSHandshakeError (or TimeoutError), saying what was expected."""
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
        except builtins.TimeoutError:
            raise TimeoutError(f"timed out connecting after {_seconds(timeout)}") from None
        except OSError as exc:
            raise ConnectionError(f"cannot connect: {exc.strerror or exc}") from None
        try:
            _tune(sock, keepalive)
            if ssl_context is not None:
                if deadline is not None:
                    sock.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    sock = ssl_context.wrap_socket(sock, server_hostname=host)
                except builtins.TimeoutError:
                    raise _tls_timeout(host, port, timeout) from None
                except OSError as exc:  # ssl.SSLError, or a plain server that hung up
                    raise _tls_failure(host, port, exc) from None
            # until a read sets its own, the timeout of the first writes
            sock.settimeout(write_timeout)
        except BaseException:
            sock.close()
            raise
        return cls(sock, write_timeout)

    def read(self, timeout: float | None) -> bytes:
        sock = self._sock
        if timeout != self._timeout:
            sock.settimeout(timeout)
            self._timeout = timeout
            self._set_sendall_max()
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
        """Write ``data``; TimeoutError when the server takes no byte for the socket's
        timeout (the last read's) or, when that is none, for ``write_timeout``.

        The socket's timeout is never changed here: that would race with a reader in
        another thread (a pub/sub runner). A small write is one sendall under that
        timeout; a large one (or one with no timeout to bound it) goes out in steps, each
        waiting that long at most, so that a slow reader is not taken for a stuck one.
        A TLS socket cannot step: its writes are bounded by the last read's timeout,
        the whole write at once."""
        try:
            if len(data) <= self._sendall_max:
                self._sock.sendall(data)
            else:
                self._send_in_steps(data)
        except OSError as exc:  # one clause: cheaper on the hot path than two
            if isinstance(exc, builtins.TimeoutError):
                raise _write_timeout(self._timeout or self.write_timeout) from None
            raise ConnectionError(f"connection lost: {exc.strerror or exc}") from None

    def _send_in_steps(self, data: bytes) -> None:
        sock = self._sock
        timeout = self._timeout if self._timeout is not None else self.write_timeout
        wait_ms = None if timeout is None else max(int(timeout * 1000), 1)
        poll = select.poll()
        poll.register(sock.fileno(), select.POLLOUT)
        view = memoryview(data)
        while True:
            try:
                view = view[sock.send(view, _DONTWAIT) :]
            except BlockingIOError:
                pass
            if not view:
                return
            if not poll.poll(wait_ms):
                raise builtins.TimeoutError

    def read_now(self) -> bytes:
        """The bytes readable right now without waiting (b"" when none); ConnectionError
        when the stream has ended. Not to be mixed with a read() in another thread."""
        sock = self._sock
        pending = self._pending
        if not (self._poll is not None and self._poll.poll(0)) and not (
            pending is not None and pending()
        ):
            return b""
        try:
            if self._tls:
                # an SSL socket takes no recv flags: non-blocking for this one call
                sock.settimeout(0.0)
                try:
                    data = sock.recv(READ_SIZE)
                finally:
                    sock.settimeout(self._timeout)
            else:
                data = sock.recv(READ_SIZE, _DONTWAIT)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            return b""
        except OSError as exc:
            raise ConnectionError(f"connection lost: {exc.strerror or exc}") from None
        if not data:
            raise ConnectionError("connection closed by the server")
        return data

    def peer_closed(self) -> bool:
        """Whether the server has closed this stream, unread replies or not."""
        if self._sock.fileno() < 0:
            return True
        hangup = self._hangup
        if hangup is None:
            hangup = self._hangup = _hangup_poll(self._sock)
        return hangup is not None and bool(hangup.poll(0))

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
