"""The example app (examples/flask_app): in process, under Flask's CLI, and under waitress
with 16 threads and thousands of requests, its connections bounded by max_connections."""

from __future__ import annotations

import http.client
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask

from store.sync import RedisStore
from tests.conftest import free_port

from .conftest import clients_named, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MAX_CONNECTIONS = 4
WAITRESS_THREADS = 16
CLIENTS = 32
REQUESTS_PER_CLIENT = 100  # 3,200 requests in all
PATHS = ("/hits", "/visits", "/report")


@pytest.fixture
def example_app(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    from examples.flask_app import create_app

    monkeypatch.setenv("STORE_URL", server_url)
    app = create_app({"TESTING": True})
    yield app
    app.extensions["store"].close()


def test_example_in_process(example_app: Flask, admin: RedisStore) -> None:
    client = example_app.test_client()
    assert client.get("/health").json == {"ok": True}
    assert [client.get("/hits").json for _ in range(3)] == [{"hits": n} for n in (1, 2, 3)]
    first = client.get("/report").json
    assert first["hits"] == 3
    client.get("/hits")
    assert client.get("/report").json == first  # cached: still 3 hits
    assert [client.get("/visits").json for _ in range(2)] == [{"visits": 1}, {"visits": 2}]
    assert admin.execute("KEYS", "example:session:*") != []
    assert client.post("/logout").json == {"logged_out": True}
    assert admin.execute("KEYS", "example:session:*") == []
    assert client.get("/visits").json == {"visits": 1}  # a new session
    cache = next(iter(example_app.extensions["cache"].values()))
    assert cache.store is example_app.extensions["store"]  # one store, one pool


def test_example_under_flask_cli(server_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "examples.flask_app", "routes"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "STORE_URL": server_url},
    )
    assert result.returncode == 0, result.stderr
    for path in ("/hits", "/report", "/visits", "/logout", "/health"):
        assert path in result.stdout


class Client:
    """One browser: a keep-alive HTTP connection and its session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie: str | None = None
        self.visits = 0
        self.hits = 0
        self.reports: set[float] = set()
        self.errors: list[str] = []

    def get(self, path: str) -> Any:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.connection.request("GET", path, headers=headers)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise AssertionError(f"GET {path}: {response.status} {body[:200]!r}")
        set_cookie = response.getheader("Set-Cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return json.loads(body)

    def run(self, offset: int, count: int) -> None:
        for i in range(count):
            path = PATHS[(offset + i) % len(PATHS)]
            try:
                reply = self.get(path)
                if path == "/hits":
                    self.hits += 1
                elif path == "/visits":
                    self.visits += 1
                    if reply != {"visits": self.visits}:  # this browser's session only
                        raise AssertionError(f"visits {reply} after {self.visits} visits")
                else:
                    self.reports.add(reply["generated_at"])
            except Exception as exc:
                self.errors.append(f"{path}: {exc!r}")
                self.connection.close()  # reconnects on the next request
        self.connection.close()


def test_example_under_waitress(server_url: str, admin: RedisStore) -> None:
    name = f"flask-example-{uuid.uuid4().hex[:8]}"  # the app's connections, by CLIENT SETNAME
    port = free_port()
    env = {
        **os.environ,
        "STORE_URL": f"{server_url}?max_connections={MAX_CONNECTIONS}&client_name={name}",
        "SECRET_KEY": "load-test",
    }
    command = [sys.executable, "-m", "examples.flask_app", "--port", str(port)]
    command += ["--threads", str(WAITRESS_THREADS)]
    # a file, not a pipe: waitress logs its queue depth, and a full pipe would stall it
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(clients_named(admin, name))
            time.sleep(0.01)

    try:
        probe = Client(port)

        def ready() -> bool:
            assert server.poll() is None, "the example app exited"
            try:
                return bool(probe.get("/health") == {"ok": True})
            except OSError:
                probe.connection.close()
                return False

        assert wait_until(ready, timeout=30)
        sampler = threading.Thread(target=sample)
        sampler.start()
        clients = [Client(port) for _ in range(CLIENTS)]
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            for offset, client in enumerate(clients):
                pool.submit(client.run, offset, REQUESTS_PER_CLIENT)
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        requests = CLIENTS * REQUESTS_PER_CLIENT
        errors = [error for client in clients for error in client.errors]
        hits = sum(client.hits for client in clients)
        reports = set().union(*(client.reports for client in clients))
        print(
            f"\n{requests} requests in {elapsed:.1f}s ({requests / elapsed:.0f}/s), "
            f"{len(errors)} errors, at most {max(samples)} connections "
            f"(max_connections={MAX_CONNECTIONS}) in {len(samples)} samples of CLIENT LIST, "
            f"{len(reports)} distinct cached reports"
        )
        assert errors == []
        assert 1 <= max(samples) <= MAX_CONNECTIONS
        assert admin.execute("GET", "example:hits") == str(hits).encode()  # each INCR once
        # /report is cached for 5 s and shared by every thread: computed again only when it
        # expires (by the threads that missed it at once), not for each of its ~1,000 requests
        windows = math.ceil(elapsed / 5) + 1
        assert len(reports) <= windows * WAITRESS_THREADS < REQUESTS_PER_CLIENT * CLIENTS // 10
    finally:
        stop.set()
        server.terminate()
        server.wait(30)
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
    assert server.returncode == 0, output[-3000:]
    assert wait_until(lambda: clients_named(admin, name) == 0)
