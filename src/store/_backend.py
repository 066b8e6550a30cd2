"""The seam: the only module that imports asyncio, socket, ssl, select or threading.

Each Async* class has a Sync* twin with the same method names and signatures, so that
code written against the Async* names in ``_async`` becomes blocking code when
``utils/gen_sync.py`` renames them. Protocol logic never lives here.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from .errors import ConnectionError, ImproperlyConfigured, TimeoutError

__all__ = [
    "AsyncCaller",
    "AsyncEvent",
    "AsyncFeatures",
    "AsyncMutex",
    "AsyncSemaphore",
    "AsyncStream",
    "AsyncWorker",
    "SyncCaller",
    "SyncEvent",
    "SyncFeatures",
    "SyncMutex",
    "SyncSemaphore",
    "SyncStream",
    "SyncWorker",
    "async_sleep",
    "make_ssl_context",
    "sleep",
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


# -- asyncio ---------------------------------------------------------------------------------


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


class AsyncFeatures:
    """What this variant can do: automatic pipelining needs an event loop."""

    auto_pipelining = True


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


class AsyncSemaphore:
    """A counter of free slots whose acquire waits at most ``timeout`` seconds."""

    __slots__ = ("_semaphore",)

    def __init__(self, value: int) -> None:
        self._semaphore = asyncio.Semaphore(value)

    async def acquire(self, timeout: float | None) -> bool:
        semaphore = self._semaphore
        if not semaphore.locked():
            return await semaphore.acquire()
        try:
            async with asyncio.timeout(timeout):
                return await semaphore.acquire()
        except builtins.TimeoutError:
            return False

    def release(self) -> None:
        self._semaphore.release()


async def async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


# -- blocking ----------------------------------------------------------------------------------


class SyncStream:
    """A connected byte stream (TCP, unix socket or TLS) over a blocking socket."""

    __slots__ = ("_poll", "_sock", "_timeout")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()
        self._poll = _readable_poll(sock)

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

    # receiver mode is for automatic pipelining, which needs an event loop
    # (SyncFeatures.auto_pipelining is False): these twins are never called

    def set_receiver(
        self,
        on_data: Callable[[bytes], None] | None,
        on_lost: Callable[[BaseException], None] | None,
    ) -> None:
        raise NotImplementedError("automatic pipelining needs the asyncio client")

    def write_now(self, data: bytes) -> None:
        raise NotImplementedError("automatic pipelining needs the asyncio client")

    def write_soon(self, data: bytes) -> None:
        raise NotImplementedError("automatic pipelining needs the asyncio client")

    def new_waiter(self) -> Any:
        raise NotImplementedError("automatic pipelining needs the asyncio client")

    def wait(self, waiter: Any, timeout: float) -> Any:
        raise NotImplementedError("automatic pipelining needs the asyncio client")

    def is_alive(self) -> bool:
        if self._sock.fileno() < 0:
            return False
        # readable while idle means EOF, a reset or unexpected bytes: not reusable
        if self._poll is not None and self._poll.poll(0):
            return False
        pending = getattr(self._sock, "pending", None)
        return not (pending is not None and pending())

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


class SyncFeatures:
    """What this variant can do: no automatic pipelining without an event loop."""

    auto_pipelining = False


class SyncSemaphore:
    """A counter of free slots whose acquire waits at most ``timeout`` seconds."""

    __slots__ = ("_condition", "_lock", "_value")

    def __init__(self, value: int) -> None:
        self._value = value
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)

    def acquire(self, timeout: float | None) -> bool:
        with self._lock:
            if self._value > 0:
                self._value -= 1
                return True
            if not self._condition.wait_for(self._available, timeout):
                return False
            self._value -= 1
            return True

    def _available(self) -> bool:
        return self._value > 0

    def release(self) -> None:
        with self._lock:
            self._value += 1
            self._condition.notify()


def sleep(seconds: float) -> None:
    time.sleep(seconds)


# -- pub/sub: events, a mutex, background workers, callbacks ------------------------------------
#
# A PubSub reads on one task or thread (its own, or the caller's) while others subscribe:
# its state changes and writes are serialised by a mutex, its waits end early on an event,
# and its background runner is a task in asyncio and a daemon thread in the blocking twin.


class AsyncEvent:
    """A flag to wait for, with a timeout (seconds, None for ever)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float | None) -> bool:
        """True when the flag is set, False when ``timeout`` passed first."""
        event = self._event
        if event.is_set():
            return True
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except builtins.TimeoutError:
            return False
        return True


class AsyncMutex:
    """Mutual exclusion between tasks (``async with mutex:``); not reentrant."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    async def try_acquire(self) -> bool:
        """Take the mutex only if it is free (then ``release()`` it): True if taken."""
        if self._lock.locked():
            return False
        await self._lock.acquire()  # free: returns without waiting
        return True

    def release(self) -> None:
        self._lock.release()


class AsyncWorker:
    """Runs ``target()`` as a background task until it returns or ``stop`` cancels it."""

    __slots__ = ("_name", "_target", "_task")

    def __init__(self, target: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._target = target
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._target(), name=self._name)

    def is_running(self) -> bool:
        task = self._task
        return task is not None and not task.done()

    async def stop(self, timeout: float | None) -> bool:
        """Cancel the task and wait at most ``timeout`` seconds for it to end: True when it
        ended. Called from the task itself, it returns False at once (the target's loop
        must see for itself that it is asked to stop)."""
        task = self._task
        if task is None:
            return True
        if task is asyncio.current_task():
            return False
        if not task.done():
            task.cancel()
            await asyncio.wait((task,), timeout=timeout)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the target logs its own failures
        return task.done()


class AsyncCaller:
    """Calls handlers: ``call(func, *args)`` waits for the result of a coroutine function."""

    __slots__ = ()

    @staticmethod
    async def call(func: Callable[..., Any], *args: Any) -> Any:
        result = func(*args)
        if inspect.isawaitable(result):
            result = await result
        return result


class SyncEvent:
    """A flag to wait for, with a timeout (seconds, None for ever)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None) -> bool:
        """True when the flag is set, False when ``timeout`` passed first."""
        return self._event.wait(timeout)


class SyncMutex:
    """Mutual exclusion between threads (``with mutex:``); not reentrant."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def try_acquire(self) -> bool:
        """Take the mutex only if it is free (then ``release()`` it): True if taken."""
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        self._lock.release()


class SyncWorker:
    """Runs ``target()`` in a daemon thread; ``stop`` waits for it to return (a thread
    cannot be cancelled: the target's loop must see for itself that it is asked to stop)."""

    __slots__ = ("_name", "_target", "_thread")

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self._target = target
        self._name = name
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        thread = threading.Thread(target=self._target, name=self._name, daemon=True)
        self._thread = thread
        thread.start()

    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds for the thread to end: True when it ended.
        Called from the thread itself, it returns False at once."""
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        return not thread.is_alive()


class SyncCaller:
    """Calls handlers: ``call(func, *args)``; the blocking twin takes plain callables only."""

    __slots__ = ()

    @staticmethod
    def call(func: Callable[..., Any], *args: Any) -> Any:
        return func(*args)


class AsyncEmbeddedServer:
    """A PulsarDS on the running event loop (``store.aio.start_store``)."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.port: int = server.port

    @classmethod
    async def start(cls, settings: dict[str, Any]) -> AsyncEmbeddedServer:
        from .server import start_server

        return cls(await start_server(**settings))

    async def stop(self) -> None:
        await self._server.close()


class SyncEmbeddedServer:
    """A PulsarDS on a thread with its own loop (``store.sync.start_store``)."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.port: int = server.port

    @classmethod
    def start(cls, settings: dict[str, Any]) -> SyncEmbeddedServer:
        from .server import ServerThread

        return cls(ServerThread(**settings).start())

    def stop(self) -> None:
        self._server.stop()
