"""Servers for the test suite: a real redis-server of our own on a free port.

``$REDIS_URL`` points the tests at an existing server instead; ``$REDIS_SERVER`` names
the binary. With ``STORE_REQUIRE_REDIS=1`` (CI) a missing redis-server is an error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def bound_port() -> Iterator[int]:
    """A port bound but not listening: nothing answers, and nothing else can listen."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server process this test session owns."""

    binary: str
    port: int
    directory: str
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def unix_path(self) -> str:
        return os.path.join(self.directory, "redis.sock")

    def start(self) -> None:
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.directory,
            "--save",
            "",
            "--appendonly",
            "no",
            "--unixsocket",
            self.unix_path,
            "--unixsocketperm",
            "700",
            "--logfile",
            os.path.join(self.directory, "redis.log"),
            *self.args,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.02)
        log = open(os.path.join(self.directory, "redis.log")).read()[-2000:]
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def _redis_binary() -> str | None:
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server")


def _start_server(*args: str, port: int | None = None) -> Iterator[RedisServer]:
    binary = _redis_binary()
    if binary is None:
        message = "redis-server not found (install Debian's redis-server or set REDIS_SERVER)"
        if os.environ.get("STORE_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    directory = tempfile.mkdtemp(prefix="store-redis-")
    server = RedisServer(binary, port or free_port(), directory, list(args))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _start_server()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture(scope="session")
def redis_password_server() -> Iterator[RedisServer]:
    """A server that requires a password, and has an ACL user ``alice``."""
    yield from _start_server("--requirepass", "s3cret-pass")


@pytest.fixture
def restartable_server() -> Iterator[RedisServer]:
    """A server of the test's own, which the test may stop and start again."""
    yield from _start_server()


class ScriptedServer:
    """A loopback TCP server that answers with scripted bytes, for misbehaving-peer tests.

    ``respond(request_bytes) -> bytes | None``: None closes the connection; the hook sees
    each chunk received. Real sockets, run in a thread so both variants can use it.
    """

    def __init__(self, respond: Callable[[bytes], bytes | None]) -> None:
        import threading

        self.respond = respond
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        import threading

        while not self._stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                answer = self.respond(data)
                if answer is None:
                    return
                if answer:
                    conn.sendall(answer)

    def close(self) -> None:
        self._stop = True
        self.listener.close()


@pytest.fixture
def scripted_server() -> Iterator[Callable[[Callable[[bytes], bytes | None]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(respond: Callable[[bytes], bytes | None]) -> ScriptedServer:
        server = ScriptedServer(respond)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


# the machine is noisy: no per-example deadlines, and property tests stay reproducible
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("store", deadline=None, print_blob=True)
# CI explores the same examples every run: a landing never depends on a lucky draw
_hypothesis_settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
_hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "store")
)


@dataclass
class TLSFiles:
    directory: str

    @property
    def ca(self) -> str:
        return os.path.join(self.directory, "ca.crt")

    @property
    def cert(self) -> str:
        return os.path.join(self.directory, "server.crt")

    @property
    def key(self) -> str:
        return os.path.join(self.directory, "server.key")


def _make_certificates(directory: str) -> TLSFiles:
    """A throwaway CA and a server certificate for localhost/127.0.0.1 (openssl CLI)."""
    files = TLSFiles(directory)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        files.ca,
        "-days",
        "2",
        "-subj",
        "/CN=store-test-ca",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        files.key,
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    )
    with open(os.path.join(directory, "san.ext"), "w") as ext:
        ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        files.ca,
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        files.cert,
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    return files


@pytest.fixture(scope="session")
def redis_tls_server() -> Iterator[tuple[RedisServer, TLSFiles]]:
    """A redis-server that speaks TLS only, with its CA file."""
    files = _make_certificates(tempfile.mkdtemp(prefix="store-tls-"))
    port = free_port()
    for server in _start_server(
        "--port",
        "0",
        "--tls-port",
        str(port),
        "--tls-cert-file",
        files.cert,
        "--tls-key-file",
        files.key,
        "--tls-ca-cert-file",
        files.ca,
        "--tls-auth-clients",
        "no",
        port=port,
    ):
        yield server, files
    shutil.rmtree(files.directory, ignore_errors=True)


@pytest.fixture
def blackhole_url() -> Iterator[str]:
    """A port whose listen queue is full: connecting to it hangs until the client gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.socket()
    filler.connect(("127.0.0.1", port))  # takes the only place in the queue
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        filler.close()
        listener.close()


@pytest.fixture(scope="session")
def pulsar_server() -> Iterator[object]:
    """PulsarDS in this process (a thread with its own loop), on a free port, no files."""
    from store.server import ServerThread

    directory = tempfile.mkdtemp(prefix="store-pulsar-")
    unix_path = os.path.join(directory, "pulsar.sock")
    server = ServerThread(port=0, dir=directory, save=[], unixsocket=unix_path)
    server.start()
    server.unix_path = unix_path  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pulsar_url(pulsar_server: object) -> str:
    return f"redis://127.0.0.1:{pulsar_server.port}"  # type: ignore[attr-defined]


# -- the fault proxy (tests/faults.py) -------------------------------------------------------

from tests.faults import FaultProxy  # noqa: E402


@pytest.fixture
def make_fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    """Makes FaultProxy instances in front of ``host:port``; stops them after the test (and
    fails it if a proxy's own thread broke)."""
    proxies: list[FaultProxy] = []

    def make(port: int, host: str = "127.0.0.1") -> FaultProxy:
        proxy = FaultProxy(port, host)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()
    errors = [error for proxy in proxies for error in proxy.errors]
    if errors:
        pytest.fail(f"the fault proxy failed: {errors[0]!r}")


@pytest.fixture
def fault_proxy(redis_url: str, make_fault_proxy: Callable[..., FaultProxy]) -> FaultProxy:
    """A FaultProxy in front of the test redis-server (connect to ``fault_proxy.url``)."""
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    return make_fault_proxy(parts.port or 6379, parts.hostname or "127.0.0.1")


from tests.cluster_fixture import redis_cluster  # noqa: E402, F401
