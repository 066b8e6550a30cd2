"""The pieces of the example project's load tests: the project under waitress in a
subprocess (Django is never configured in the pytest process), HTTP clients with their own
keep-alive connection and session cookie, and a sampler of the store's connection count."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "django_project"
THREADS = 16  # waitress threads
MAX_CONNECTIONS = 8  # STORE_MAX_CONNECTIONS of the app
PRODUCTS = 40  # distinct keys of the get_or_set view


def expected_digest(number: int) -> str:
    """What the product view computes (demo/views.py's _expensive)."""
    return hashlib.sha256(str(number).encode() * 1000).hexdigest()


class App:
    """``with App(store_url) as app:`` runs the example project under waitress on
    ``app.port`` (16 threads) until exit."""

    def __init__(
        self,
        store_url: str,
        *,
        ignore_exceptions: bool = True,
        settings: str = "project.settings",
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.store_url = store_url
        self.ignore_exceptions = ignore_exceptions
        self.settings = settings
        self.max_connections = max_connections
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> App:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings,
            "STORE_URL": self.store_url,
            "STORE_MAX_CONNECTIONS": str(self.max_connections),
            "STORE_IGNORE_EXCEPTIONS": "1" if self.ignore_exceptions else "0",
            # the project, and the repository for the stand-in settings in tests/
            "PYTHONPATH": os.pathsep.join([str(PROJECT), str(ROOT)]),
        }
        for _ in range(3):  # another process may take the free port first
            self.port = free_port()
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "waitress",
                    f"--listen=127.0.0.1:{self.port}",
                    f"--threads={THREADS}",
                    "project.wsgi:application",
                ],
                cwd=PROJECT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            self._stop()
        raise RuntimeError(f"the example project did not start:\n{self.log()}")

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-5000:]

    def _stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __exit__(self, *exc_info: object) -> None:
        self._stop()


@dataclass
class Reply:
    path: str
    status: int  # 0: no HTTP reply (the exception is in body)
    body: Any
    sent: float  # time.monotonic() when the request was sent
    at: float  # when the reply arrived
    client: int


class Client:
    """One browser: a keep-alive connection of its own and its session cookie."""

    def __init__(self, port: int, number: int) -> None:
        self.port = port
        self.number = number
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        self.cookie: str | None = None

    def get(self, path: str) -> Reply:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        sent = time.monotonic()
        try:
            self.connection.request("GET", path, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()  # a fresh connection for the next request
            return Reply(path, 0, repr(error), sent, time.monotonic(), self.number)
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("sessionid="):
                self.cookie = value.split(";", 1)[0]
        try:
            body: Any = json.loads(data)
        except ValueError:
            body = data[:500].decode(errors="replace")
        return Reply(path, response.status, body, sent, time.monotonic(), self.number)

    def close(self) -> None:
        self.connection.close()


def mix(async_view: bool) -> list[str]:
    """One round of a client's requests: every product once, the cached page, the session
    counter four times, and (``async_view``) the async view four times."""
    paths = [f"/product/{n}" for n in range(PRODUCTS)] + ["/page"]
    extra = ["/visits"] * 4 + (["/async-hits"] * 4 if async_view else [])
    # spread the extra requests through the round
    step = len(paths) // len(extra)
    for i, path in enumerate(extra):
        paths.insert(i * (step + 1), path)
    return paths


def drive(
    port: int,
    *,
    clients: int,
    rounds: int | None = None,
    duration: float | None = None,
    async_view: bool = True,
) -> list[Reply]:
    """``clients`` threads each send ``rounds`` rounds of ``mix()`` (or rounds until
    ``duration`` seconds have passed), one request at a time; every reply, in order."""
    replies: list[list[Reply]] = [[] for _ in range(clients)]
    start = time.monotonic()
    paths = mix(async_view)

    def run(number: int) -> None:
        client = Client(port, number)
        done = 0
        try:
            while (rounds is None or done < rounds) and (
                duration is None or time.monotonic() - start < duration
            ):
                # each client starts at a different place of the round
                shift = (number * 7) % len(paths)
                for path in paths[shift:] + paths[:shift]:
                    replies[number].append(client.get(path))
                done += 1
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [reply for own in replies for reply in own]


def failures(replies: list[Reply]) -> list[Reply]:
    """Replies that are not a 200 with the JSON the view returns."""
    bad = []
    for reply in replies:
        ok = reply.status == 200 and isinstance(reply.body, dict)
        if ok and reply.path.startswith("/product/"):
            number = int(reply.path.rsplit("/", 1)[1])
            ok = reply.body.get("digest") == expected_digest(number)
        if not ok:
            bad.append(reply)
    return bad


def info_clients(sock: socket.socket) -> int:
    """connected_clients from INFO clients, on an open connection to the store."""
    sock.sendall(b"*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n")
    data = b""
    while b"connected_clients:" not in data or not data.endswith(b"\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the store closed the connection")
        data += chunk
    line = data.split(b"connected_clients:", 1)[1].split(b"\r\n", 1)[0]
    return int(line)


@dataclass
class ConnectionSampler:
    """Samples the store's connected_clients every ``interval`` seconds from a connection of
    its own (not counted), reconnecting when the store goes away."""

    port: int
    interval: float = 0.05
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ConnectionSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        sock: socket.socket | None = None
        while not self._stop.is_set():
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                self.samples.append((time.monotonic(), info_clients(sock) - 1))
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
            self._stop.wait(self.interval)
        if sock is not None:
            sock.close()

    @property
    def peak(self) -> int:
        return max((n for _, n in self.samples), default=-1)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def by_client(replies: list[Reply], path: str) -> Iterator[list[Reply]]:
    """Each client's replies to ``path``, in the order it sent them."""
    numbers = sorted({r.client for r in replies})
    for number in numbers:
        yield [r for r in replies if r.client == number and r.path == path]


def summary(replies: list[Reply], predicate: Callable[[Reply], bool] | None = None) -> str:
    shown = [r for r in replies if predicate is None or predicate(r)]
    return "\n".join(f"{r.status} {r.path} {r.body!r}"[:300] for r in shown[:10])
