"""``python -m store`` at its prompt, under a real pseudo-terminal: the prompt, replies as
redis-cli formats them on a terminal, SELECT and MULTI in the prompt, the history kept
across two sessions (never a password), HELP, Ctrl-C out of SUBSCRIBE, --askpass."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from store.sync import create_store
from tests.conftest import RedisServer, free_port

# makes the pseudo-terminal the controlling terminal of the session (getpass opens
# /dev/tty), then runs python with the arguments that follow
# the pty becomes the controlling terminal, and Ctrl-C works as in a terminal's shell:
# a test run started in the background (`cmd &` without job control) ignores SIGINT, and
# an ignored signal stays ignored across exec
CONTROLLING_TTY = (
    "import fcntl, os, signal, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable] + sys.argv[1:])"
)


class Terminal:
    """``python -m store ARGS`` on the slave side of a pty; the test types on the master."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        environment = {**os.environ, "TERM": "xterm", "INPUTRC": "/dev/null"}
        environment.pop("STORE_PASSWORD", None)
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-c", CONTROLLING_TTY, "-m", "store", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.output = b""
        self.seen = 0  # what expect() has matched so far

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the other side is closed
            return False
        self.output += data
        return bool(data)

    def expect(self, text: str | bytes, timeout: float = 10.0) -> bytes:
        """Wait until ``text`` appears after what was matched before; return what came
        up to its end."""
        wanted = text.encode() if isinstance(text, str) else text
        deadline = time.monotonic() + timeout
        while True:
            found = self.output.find(wanted, self.seen)
            if found >= 0:
                chunk = self.output[self.seen : found + len(wanted)]
                self.seen = found + len(wanted)
                return chunk
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.2)) and self.process.poll() is not None):
                if self._read(0.1):
                    continue
                raise AssertionError(f"{wanted!r} never came; the terminal shows:\n{self.output!r}")

    def type(self, text: str | bytes) -> None:
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def line(self, text: str) -> None:
        self.type(text + "\r")

    def wait(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        return self.process.wait(max(deadline - time.monotonic(), 0.1))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def host_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", str(parts.port or 6379)


def test_prompt_commands_select_multi_help(
    redis_url: str, terminals: list[Terminal], tmp_path: Path
) -> None:
    host, port = host_port(redis_url)
    prompt = f"{host}:{port}> "
    term = Terminal("-h", host, "-p", port, env={"XDG_DATA_HOME": str(tmp_path)})
    terminals.append(term)
    term.expect(prompt)
    term.line("SET cli:prompt 'hello world'")
    assert term.expect(prompt).endswith(b"\r\nOK\r\n" + prompt.encode())
    term.line("GET cli:prompt")
    assert b'\r\n"hello world"\r\n' in term.expect(prompt)
    term.line('RPUSH cli:list a "b\\tc"')
    assert b"(integer) 2\r\n" in term.expect(prompt)
    term.line("LRANGE cli:list 0 -1")
    assert b'\r\n1) "a"\r\n2) "b\\tc"\r\n' in term.expect(prompt)
    term.line("INCR cli:prompt")
    assert b"(error) ERR value is not an integer or out of range" in term.expect(prompt)
    term.line('GET "unbalanced')
    assert b"Invalid argument(s)" in term.expect(prompt)
    term.line("SELECT 5")
    term.expect("OK\r\n")
    db_prompt = f"{host}:{port}[5]> "
    term.expect(db_prompt)
    term.line("MULTI")
    term.expect(f"{host}:{port}[5](TX)> ")
    term.line("SELECT 0")
    term.expect("QUEUED")
    term.line("EXEC")
    assert b"1) OK" in term.expect(prompt)  # the transaction selected database 0
    term.line("HELP GET")
    shown = term.expect(prompt)
    assert b"\x1b[1mGET\x1b[0m \x1b[90mkey\x1b[0m" in shown
    assert b"summary:\x1b[0m Get the value of a key" in shown
    assert b"since:\x1b[0m 1.0.0" in shown and b"group:\x1b[0m string" in shown
    term.line("DEL cli:prompt cli:list")
    assert b"(integer) 2" in term.expect(prompt)
    term.type(b"\x04")  # Ctrl-D leaves
    assert term.wait() == 0


def test_history_is_kept_across_sessions_without_passwords(
    redis_url: str, terminals: list[Terminal], tmp_path: Path
) -> None:
    host, port = host_port(redis_url)
    prompt = f"{host}:{port}> "
    env = {"XDG_DATA_HOME": str(tmp_path)}
    first = Terminal("-h", host, "-p", port, env=env)
    terminals.append(first)
    first.expect(prompt)
    first.line("SET cli:history remembered")
    first.expect(prompt)
    first.line("AUTH hunter2-not-kept")
    first.expect(prompt)
    first.line("CONFIG SET requirepass ''")  # a password setting: not kept either
    first.expect(prompt)
    first.line("GET cli:history")
    first.expect(prompt)
    first.line("QUIT")
    assert first.wait() == 0
    history = tmp_path / "store" / "cli_history"
    kept = history.read_text()
    assert "SET cli:history remembered" in kept and "GET cli:history" in kept
    assert "hunter2" not in kept and "requirepass" not in kept
    assert stat.S_IMODE(history.stat().st_mode) == 0o600

    second = Terminal("-h", host, "-p", port, env=env)
    terminals.append(second)
    second.expect(prompt)
    second.type(b"\x10\x10\r")  # Ctrl-P twice: QUIT, then GET cli:history
    assert b'"remembered"' in second.expect(prompt)
    second.line("DEL cli:history")
    second.expect(prompt)
    second.line("EXIT")
    assert second.wait() == 0


def test_ctrl_c_leaves_subscribe_for_the_prompt(redis_url: str, terminals: list[Terminal]) -> None:
    host, port = host_port(redis_url)
    db_prompt = f"{host}:{port}[3]> "
    term = Terminal("-h", host, "-p", port, "-n", "3")
    terminals.append(term)
    term.expect(db_prompt)
    term.line("SUBSCRIBE cli:news")
    term.expect("Reading messages... (press Ctrl-C to quit)\r\n")
    term.expect('1) "subscribe"\r\n2) "cli:news"\r\n3) (integer) 1\r\n')
    publisher = create_store(redis_url)
    try:
        assert publisher.execute("PUBLISH", "cli:news", "extra extra") == 1
    finally:
        publisher.close()
    term.expect('1) "message"\r\n2) "cli:news"\r\n3) "extra extra"\r\n')
    term.type(b"\x03")
    term.expect(db_prompt)  # back at the prompt, in the same database
    term.line("PING")
    term.expect("PONG")
    # and the subscription is gone with its connection
    checker = create_store(redis_url)
    try:
        deadline = time.monotonic() + 5
        while checker.execute("PUBSUB", "NUMSUB", "cli:news")[1] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checker.execute("PUBSUB", "NUMSUB", "cli:news") == [b"cli:news", 0]
    finally:
        checker.close()
    term.line("MONITOR")
    term.expect("OK\r\n")
    other = create_store(redis_url)
    try:
        other.execute("ECHO", "watched")
    finally:
        other.close()
    term.expect('"ECHO" "watched"')
    term.type(b"\x03")
    term.expect(db_prompt)
    # Ctrl-C in any other command ends the session, status 1 (as redis-cli)
    term.line("BLPOP cli:nothing 0")
    time.sleep(0.3)
    term.type(b"\x03")
    assert term.wait() == 1


def test_askpass_and_the_embedded_default(
    redis_password_server: RedisServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    port = str(redis_password_server.port)
    term = Terminal("--askpass", "-p", port)
    terminals.append(term)
    term.expect("Please input password: ")
    term.line("s3cret-pass")
    term.expect(f"127.0.0.1:{port}> ")
    term.line("PING")
    term.expect("PONG")
    term.line("QUIT")
    assert term.wait(timeout=30) == 0
    assert b"s3cret-pass" not in term.output  # never echoed

    # no URL: PulsarDS started for the session, on $STORE_URL's port here
    pulsar_port = free_port()
    env = {"STORE_URL": f"pulsar://127.0.0.1:{pulsar_port}", "XDG_DATA_HOME": str(tmp_path)}
    embedded = Terminal(env=env)
    terminals.append(embedded)
    prompt = f"127.0.0.1:{pulsar_port}> "
    embedded.expect(prompt, timeout=20)
    embedded.line("SET greeting hello")
    assert b"OK" in embedded.expect(prompt)
    embedded.line("HELP GET")  # PulsarDS has no summaries: the table's since and group
    assert b"since:\x1b[0m 1.0.0" in embedded.expect(prompt)
    embedded.type(b"\x03")  # Ctrl-C at the prompt leaves, as redis-cli
    assert embedded.wait(timeout=30) == 0  # and stops its PulsarDS: slow on a loaded machine


def test_interrupted_one_command_ends_as_sigint(redis_url: str, terminals: list[Terminal]) -> None:
    """redis-cli SUBSCRIBE ch: Ctrl-C ends the program as SIGINT does."""
    host, port = host_port(redis_url)
    term = Terminal("-h", host, "-p", port, "SUBSCRIBE", "cli:oneshot")
    terminals.append(term)
    term.expect("3) (integer) 1")
    term.type(b"\x03")
    assert term.wait() == -signal.SIGINT
