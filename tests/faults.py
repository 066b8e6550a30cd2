"""A fault-injecting TCP proxy for the test suite, and a helper to act in the background.

``FaultProxy(port)`` listens on a free loopback port and forwards every connection to
``127.0.0.1:port`` (a real redis-server or PulsarDS). It runs on a thread of its own, so
sync and async tests drive it the same way, with plain method calls:

- ``set_delay(s)``: hold every server->client chunk ``s`` seconds before passing it on;
- ``stall(requests=False)`` / ``resume()``: hold replies (and requests too) until resumed;
- ``cut()``: close every connection now; ``cut(after_reply_bytes=n)`` after ``n`` more
  server->client bytes (mid-reply), ``cut(after_request_bytes=n)`` after ``n`` more
  client->server bytes (mid-request: the command never completes on the server);
- ``drop(reply_bytes=n, request_bytes=m)``: silently discard the next bytes;
- ``refuse()`` / ``accept()``: stop listening (connections are refused), listen again.

It counts what it forwarded: ``commands(name)`` lists the complete requests that were
passed on to the server (parsed from the forwarded bytes, so a request cut in the middle
is not counted), ``connections`` the connections accepted, ``cuts`` the cuts done.

Cutting closes the client's side at once, but closes the server's side gracefully
(FIN after the forwarded bytes, then read until the server closes): everything counted as
forwarded really reaches the server and is executed, so tests can count its effect exactly.

Control methods take effect on the proxy's thread before they return (a few milliseconds).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["Background", "FaultProxy", "send_command"]

_CHUNK = 65536


class _RequestCounter:
    """Splits a client->server byte stream into complete commands (RESP arrays or inline)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, ...]]:
        self.buffer += data
        done: list[tuple[bytes, ...]] = []
        while True:
            command = self._one()
            if command is None:
                return done
            done.append(command)

    def _one(self) -> tuple[bytes, ...] | None:
        buf = self.buffer
        if not buf:
            return None
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        if buf[0:1] != b"*":  # an inline command
            line = bytes(buf[:end])
            del buf[: end + 2]
            return tuple(line.split())
        count = int(buf[1:end])
        pos = end + 2
        args: list[bytes] = []
        for _ in range(count):
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            size = int(buf[pos + 1 : end])
            start = end + 2
            if len(buf) < start + size + 2:
                return None
            args.append(bytes(buf[start : start + size]))
            pos = start + size + 2
        del buf[:pos]
        return tuple(args)


class _Pair:
    """One client connection and its connection to the server."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.down: deque[tuple[float, bytes]] = deque()  # (release time, reply bytes)
        self.up: deque[bytes] = deque()  # requests held while stalled
        self.server_eof = False
        self.requests = _RequestCounter()


class FaultProxy:
    """A loopback TCP proxy in front of ``127.0.0.1:upstream_port`` that injects faults."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener: socket.socket | None = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._wake_r, self._wake_w = socket.socketpair()
        self._tasks: deque[tuple[Callable[[], Any], threading.Event, list[Any]]] = deque()
        self._pairs: list[_Pair] = []
        self._draining: list[tuple[socket.socket, float]] = []  # server sides being closed
        self._delay = 0.0
        self._stall_replies = False
        self._stall_requests = False
        self._cut_replies: int | None = None
        self._cut_requests: int | None = None
        self._drop_replies = 0
        self._drop_requests = 0
        self._commands: list[tuple[bytes, ...]] = []
        self.connections = 0
        self.cuts = 0
        self.errors: list[BaseException] = []
        self._running = True
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()

    # -- control, from any thread ------------------------------------------------------

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def commands(self, name: str | None = None) -> list[tuple[bytes, ...]]:
        """The complete requests forwarded to the server (all, or those named ``name``)."""
        forwarded = list(self._commands)
        if name is None:
            return forwarded
        wanted = name.upper().encode()
        return [command for command in forwarded if command and command[0].upper() == wanted]

    def count(self, name: str) -> int:
        return len(self.commands(name))

    @property
    def open_connections(self) -> int:
        return int(self._call(lambda: len(self._pairs)))

    @property
    def cut_armed(self) -> bool:
        return bool(
            self._call(lambda: self._cut_replies is not None or self._cut_requests is not None)
        )

    def set_delay(self, seconds: float) -> None:
        def apply() -> None:
            self._delay = seconds

        self._call(apply)

    def stall(self, requests: bool = False) -> None:
        """Hold every reply (and every request when ``requests``) until ``resume()``."""

        def apply() -> None:
            self._stall_replies = True
            self._stall_requests = requests

        self._call(apply)

    def resume(self) -> None:
        def apply() -> None:
            self._stall_replies = self._stall_requests = False
            self._flush()

        self._call(apply)

    def cut(
        self, after_reply_bytes: int | None = None, after_request_bytes: int | None = None
    ) -> None:
        """Close every connection now, or once that many more bytes went the given way."""

        def apply() -> None:
            if after_reply_bytes is None and after_request_bytes is None:
                self._cut_all()
            else:
                self._cut_replies = after_reply_bytes
                self._cut_requests = after_request_bytes

        self._call(apply)

    def drop(self, reply_bytes: int = 0, request_bytes: int = 0) -> None:
        """Discard the next ``reply_bytes`` server->client / ``request_bytes`` client->server."""

        def apply() -> None:
            self._drop_replies = reply_bytes
            self._drop_requests = request_bytes

        self._call(apply)

    def refuse(self) -> None:
        """Stop listening: new connections are refused (open ones are left alone)."""

        def apply() -> None:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

        self._call(apply)

    def accept(self) -> None:
        """Listen again on the same port."""

        def apply() -> None:
            if self._listener is None:
                self._listener = self._listen(self.port)

        self._call(apply)

    def close(self) -> None:
        if not self._running:
            return

        def apply() -> None:
            self._running = False
            self._cut_all()

        self._call(apply)
        self._thread.join(10)
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the proxy's thread ----------------------------------------------------------------

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _call(self, func: Callable[[], Any]) -> Any:
        if threading.current_thread() is self._thread:
            return func()
        if not self._running or not self._thread.is_alive():
            raise RuntimeError("the fault proxy is not running")
        done = threading.Event()
        result: list[Any] = []
        self._tasks.append((func, done, result))
        self._wake_w.send(b"x")
        if not done.wait(10):
            raise RuntimeError("the fault proxy did not answer")
        if result and isinstance(result[0], BaseException):
            raise result[0]
        return result[0] if result else None

    def _run(self) -> None:
        try:
            while self._running or self._draining:
                self._step()
        except BaseException as exc:  # surfaced by the fixture: a broken proxy fails tests
            self.errors.append(exc)
            raise
        finally:
            self._running = False
            for pair in self._pairs:
                self._close_pair(pair)
            for sock, _ in self._draining:
                sock.close()
            if self._listener is not None:
                self._listener.close()
            while self._tasks:  # nobody waits for ever on a dead proxy
                self._tasks.popleft()[1].set()

    def _timeout(self) -> float:
        timeout = 0.5
        now = time.monotonic()
        if not self._stall_replies:
            for pair in self._pairs:
                if pair.down:
                    timeout = min(timeout, max(pair.down[0][0] - now, 0.0))
        return timeout

    def _step(self) -> None:
        readable: list[Any] = [self._wake_r]
        if self._listener is not None and self._running:
            readable.append(self._listener)
        for pair in self._pairs:
            readable.append(pair.client)
            if not pair.server_eof:
                readable.append(pair.server)
        readable.extend(sock for sock, _ in self._draining)
        ready, _, _ = select.select(readable, [], [], self._timeout())
        for sock in ready:
            if sock is self._wake_r:
                self._wake_r.recv(4096)
            elif sock is self._listener:
                self._accept()
            else:
                self._readable(sock)
        while self._tasks:
            func, done, result = self._tasks.popleft()
            try:
                result.append(func())
            except Exception as exc:
                result.append(exc)
            done.set()
        self._flush()
        now = time.monotonic()
        for entry in list(self._draining):
            if entry[1] < now:
                self._draining.remove(entry)
                entry[0].close()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()  # the server is down: the client sees its connection end
            return
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(5)
        self.connections += 1
        self._pairs.append(_Pair(client, server))

    def _readable(self, sock: socket.socket) -> None:
        for entry in self._draining:
            if entry[0] is sock:
                try:
                    data = sock.recv(_CHUNK)
                except OSError:
                    data = b""
                if not data:
                    self._draining.remove(entry)
                    sock.close()
                return
        for pair in self._pairs:
            if sock is pair.client:
                try:
                    data = sock.recv(_CHUNK)
                except OSError:
                    data = b""
                if not data:  # the client went away: so does its server connection
                    self._pairs.remove(pair)
                    self._close_pair(pair)
                elif self._stall_requests or pair.up:
                    pair.up.append(data)
                else:
                    self._forward_up(pair, data)
                return
            if sock is pair.server:
                try:
                    data = sock.recv(_CHUNK)
                except OSError:
                    data = b""
                if data:
                    pair.down.append((time.monotonic() + self._delay, data))
                else:
                    pair.server_eof = True
                return

    def _flush(self) -> None:
        """Pass on the held bytes that are due."""
        now = time.monotonic()
        for pair in list(self._pairs):
            if not self._stall_requests:
                while pair.up and pair in self._pairs:
                    self._forward_up(pair, pair.up.popleft())
            if not self._stall_replies:
                while pair.down and pair.down[0][0] <= now and pair in self._pairs:
                    self._forward_down(pair, pair.down.popleft()[1])
            if pair.server_eof and not pair.down and pair in self._pairs:
                self._pairs.remove(pair)
                self._close_pair(pair)

    def _forward_up(self, pair: _Pair, data: bytes) -> None:
        if self._drop_requests:
            dropped = min(self._drop_requests, len(data))
            self._drop_requests -= dropped
            data = data[dropped:]
        budget = self._cut_requests
        if budget is not None:
            data = data[:budget]
            self._cut_requests = budget - len(data)
        if data:
            try:
                pair.server.sendall(data)
            except OSError:
                self._pairs.remove(pair)
                self._close_pair(pair)
                return
            self._commands.extend(pair.requests.feed(data))
        if self._cut_requests == 0:
            self._cut_all()

    def _forward_down(self, pair: _Pair, data: bytes) -> None:
        if self._drop_replies:
            dropped = min(self._drop_replies, len(data))
            self._drop_replies -= dropped
            data = data[dropped:]
        budget = self._cut_replies
        if budget is not None:
            data = data[:budget]
            self._cut_replies = budget - len(data)
        if data:
            try:
                pair.client.sendall(data)
            except OSError:
                self._pairs.remove(pair)
                self._close_pair(pair)
                return
        if self._cut_replies == 0:
            self._cut_all()

    def _cut_all(self) -> None:
        self._cut_replies = self._cut_requests = None
        self.cuts += 1  # counted first: a client may see the cut before this thread goes on
        pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._close_pair(pair)

    def _close_pair(self, pair: _Pair) -> None:
        pair.down.clear()
        pair.up.clear()
        pair.client.close()
        # FIN after the forwarded bytes, then read until the server closes: what was
        # forwarded is executed (closing with unread bytes would send a reset instead)
        try:
            pair.server.shutdown(socket.SHUT_WR)
        except OSError:
            pair.server.close()
            return
        self._draining.append((pair.server, time.monotonic() + 5))


def send_command(port: int, *args: str | bytes | int) -> bytes:
    """Send one command straight to the server on ``port`` (RESP2); its raw reply."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        value = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(value), value))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"".join(parts))
        return sock.recv(_CHUNK)


class Background:
    """Runs ``func()`` on a thread after ``delay`` seconds; ``join()`` waits and re-raises."""

    def __init__(self, func: Callable[[], Any], delay: float = 0.0) -> None:
        self._func = func
        self._delay = delay
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-background", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            time.sleep(self._delay)
            self._func()
        except BaseException as exc:
            self._error = exc

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float = 30) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the background call did not finish")
        if self._error is not None:
            raise self._error
