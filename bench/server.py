"""A redis-server of the benchmark's own: loopback, free port, temp dir, no persistence."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType

__all__ = ["RedisServer", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if the benchmark is killed without cleaning up.
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


class RedisServer:
    """``with RedisServer() as server:`` runs redis-server on ``server.port`` until exit."""

    host = "127.0.0.1"

    def __init__(self, binary: str | None = None) -> None:
        binary = binary or os.environ.get("REDIS_SERVER") or "redis-server"
        found = shutil.which(binary)
        if found is None:
            raise FileNotFoundError(f"{binary} not found: install it or set $REDIS_SERVER")
        self.binary = found
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @property
    def version(self) -> str:
        out = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, check=False
        ).stdout
        found = re.search(r"v=(\S+)", out)
        return found.group(1) if found else out.strip()

    def __enter__(self) -> RedisServer:
        self._directory = tempfile.TemporaryDirectory(prefix="store-bench-")
        try:
            # another process may grab the free port before the server binds it: retry
            for _ in range(3):
                if self._start(self._directory.name):
                    return self
            raise RuntimeError(f"redis-server did not start:\n{self._log_tail()}")
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _start(self, directory: str) -> bool:
        self.port = free_port()
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", directory,
            "--save", "",
            "--appendonly", "no",
            "--logfile", os.path.join(directory, "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # own session: Ctrl-C reaches the benchmark only, which then stops the server
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            if self._pong():
                return True
            time.sleep(0.02)
        self._stop()
        return False

    def _pong(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self) -> str:
        if self._directory is None:
            return ""
        try:
            with open(os.path.join(self._directory.name, "redis.log")) as log:
                return log.read()[-2000:]
        except OSError:
            return ""

    def _stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()  # redis-server shuts down cleanly on SIGTERM (nothing to save)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._stop()
        finally:
            if self._directory is not None:
                self._directory.cleanup()
                self._directory = None
