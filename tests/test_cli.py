"""``python -m store``, the command line, without a terminal: one command, or commands piped
in, printed as the real redis-cli 7.0 prints them (differential tests against the same
redis-server), exit statuses, and the password kept out of the process list. The prompt
under a pseudo-terminal: tests/test_cli_prompt.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from store.cli import Reply, ReplyReader, format_raw, format_tty, is_sensitive, split_args
from tests.conftest import RedisServer, bound_port, free_port

STORE = [sys.executable, "-m", "store"]


def run(
    *words: str, input: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*STORE, *words], input=input, capture_output=True, timeout=60, env=env)


def redis_cli() -> str:
    binary = shutil.which("redis-cli")
    if binary is None:
        pytest.skip("redis-cli not found: the differential tests compare with it")
    return binary


def address(url: str) -> list[str]:
    parts = urlsplit(url)
    return ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]


def both(url: str, *words: str, input: bytes | None = None) -> tuple[Any, Any]:
    """The same command line given to redis-cli and to ``python -m store``."""
    target = address(url)
    theirs = subprocess.run(
        [redis_cli(), *target, *words], input=input, capture_output=True, timeout=60
    )
    ours = run(*target, *words, input=input)
    return theirs, ours


# Each line as redis-cli reads it: quoting, escapes, bad quotes, repeat counts, every
# reply type (status vs bulk "OK", nil, empty, nested, errors, binary), HELP.
PIPED = rb"""FLUSHDB
SET a "x\ny\t\x41\x4z\"q\\"
GET a
SET b 'p\nq\'r "s"'
GET b
SET c "unbalanced
SET "a"b c
SET 'a'b c
GET c
SET d  "spaced out"   'and more'
GET d
3 INCR n
0 PING
-1 PING
SET k OK
GET k
TYPE k
RPUSH l a "b c" '' ""
LRANGE l 0 -1
LRANGE nolist 0 -1
MGET a nokey n
INCR a
EVAL "return {1,{2,'x'},{},redis.status_reply('FINE'),redis.error_reply('BAD thing')}" 0
HSET h f1 v1 f2 v2
HGETALL h
ZADD z 1.5 m
ZRANGE z 0 -1 WITHSCORES
SET bin "\xff\x00\x7f\x80\xc3\xa9"
GET bin
EXISTS a b c
NOSUCHCOMMAND x
get\x20a
HELP GET
HELP client list
HELP @nosuchgroup
FLUSHDB
"""


@pytest.mark.parametrize(
    "mode", [["--raw"], ["--no-raw"], ["-3", "--no-raw"], ["-3", "--raw"]], ids=" ".join
)
def test_piped_commands_print_what_redis_cli_prints(redis_url: str, mode: list[str]) -> None:
    theirs, ours = both(redis_url, "-n", "14", *mode, input=PIPED)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout.decode("utf-8", "backslashreplace") == theirs.stdout.decode(
        "utf-8", "backslashreplace"
    )
    assert ours.stderr == theirs.stderr == b""
    assert ours.returncode == 0
    # the comparison saw the cases it is about
    assert ours.stdout.count(b"Invalid argument(s)\n") == 3
    assert b"Invalid redis-cli repeat command option value." in ours.stdout
    assert b"summary:\x1b[0m Get the value of a key" in ours.stdout
    if "--no-raw" in mode:
        assert b'\n"OK"\n' in ours.stdout and b"\nstring\n" in ours.stdout


ONE_COMMAND_CASES = [
    ["SET", "cli:k", "v"],
    ["--no-raw", "GET", "cli:k"],
    ["INCR", "cli:k"],  # an error reply: printed, status 0
    ["--no-raw", "INCR", "cli:k"],
    ["-e", "INCR", "cli:k"],  # -e: on stderr, status 1
    ["-r", "2", "--no-raw", "LRANGE", "cli:none", "0", "-1"],
    ["HELP", "SET"],
]


def test_one_command_prints_and_exits_as_redis_cli(redis_url: str) -> None:
    for words in ONE_COMMAND_CASES:
        theirs, ours = both(redis_url, "-n", "13", *words)
        got = (ours.returncode, ours.stdout, ours.stderr)
        assert got == (theirs.returncode, theirs.stdout, theirs.stderr), words
    theirs, ours = both(redis_url, "-n", "13", "-e", "INCRBY", "x", "notanumber")
    assert ours.returncode == theirs.returncode == 1
    run(*address(redis_url), "-n", "13", "DEL", "cli:k", "cli:n")


def test_unreachable_server_is_reported_as_redis_cli_does() -> None:
    with bound_port() as port:
        theirs, ours = both(f"redis://127.0.0.1:{port}", "PING")
        assert ours.stderr == theirs.stderr
        assert (
            ours.stderr
            == f"Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n".encode()
        )
        assert ours.returncode == theirs.returncode == 1
        # piped commands: each one says so, the status stays 0 (as redis-cli)
        theirs, ours = both(f"redis://127.0.0.1:{port}", input=b"PING\nPING\n")
        assert ours.stderr == theirs.stderr
        assert ours.stderr.count(b"Could not connect") == 3
        assert ours.returncode == theirs.returncode == 0


def test_options_and_exit_statuses(redis_url: str) -> None:
    host_port = address(redis_url)
    assert run(*host_port, "-n", "9", "SET", "cli", "hello world").stdout == b"OK\n"
    url = redis_url + "/9"
    assert run(url, "GET", "cli").stdout == b"hello world\n"  # raw: stdout is a pipe
    assert run("--no-raw", url, "GET", "cli").stdout == b'"hello world"\n'
    assert run("-u", url, "--no-raw", "STRLEN", "cli").stdout == b"(integer) 11\n"
    started = time.monotonic()
    repeated = run(url, "-r", "3", "-i", "0.2", "INCR", "cli:count")
    assert time.monotonic() - started >= 0.6
    assert repeated.stdout == b"1\n2\n3\n"
    assert run(url, "DEL", "cli", "cli:count").stdout == b"2\n"
    # arguments that look like options, after the command
    assert run(url, "--no-raw", "INCRBY", "cli:neg", "-5").stdout == b"(integer) -5\n"
    run(url, "DEL", "cli:neg")
    bad = run("--frobnicate", "PING")
    assert bad.returncode == 1
    assert b"Unrecognized option" in bad.stderr
    both_given = run(url, "-p", "6379", "PING")
    assert both_given.returncode == 1


def test_a_connection_lost_mid_command_is_reported_as_redis_cli_does(
    scripted_server: Callable[[Callable[[bytes], bytes | None]], Any],
) -> None:
    server = scripted_server(lambda request: None)  # hangs up on the first command
    theirs, ours = both(server.url, "PING")
    assert ours.stderr == theirs.stderr == b"Error: Server closed the connection\n"
    assert ours.returncode == theirs.returncode == 1


def test_help_lists_serve_and_where_the_password_comes_from() -> None:
    result = run("--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "python -m store serve" in text
    assert "STORE_PASSWORD" in text and "--askpass" in text and "no -a" in text
    refused = run("-a", "topsecret", "PING")
    assert refused.returncode == 1
    assert b"-a is not supported" in refused.stderr and b"STORE_PASSWORD" in refused.stderr


@pytest.fixture
def password_server() -> Iterator[RedisServer]:
    from tests.conftest import _start_server

    yield from _start_server("--requirepass", "pw-Zq81-never-shown")


PASSWORD = "pw-Zq81-never-shown"


def test_password_from_the_environment_never_in_ps_or_output(
    password_server: RedisServer,
) -> None:
    port = str(password_server.port)
    env = {**os.environ, "STORE_PASSWORD": PASSWORD}
    # a session that waits for its commands: look at its arguments meanwhile
    process = subprocess.Popen(
        [*STORE, "-p", port],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        time.sleep(0.5)
        listing = subprocess.run(
            ["ps", "-ww", "-o", "args=", "-p", str(process.pid)],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        assert "store" in listing  # ps did see the session
        assert PASSWORD not in listing
        out, _ = process.communicate(b"PING\nCONFIG GET requirepass\n", timeout=30)
    finally:
        process.kill()
        process.wait()
    assert out.startswith(b"PONG\n")  # authenticated
    assert process.returncode == 0
    assert b"requirepass" in out  # CONFIG GET answers: the connection is authenticated
    # without it: refused by the server, as redis-cli shows it
    plain = run("-p", port, "--no-raw", "PING")
    assert plain.stdout == b"(error) NOAUTH Authentication required.\n"
    # a wrong one: said, never echoed
    wrong = run("-p", port, "PING", env={**os.environ, "STORE_PASSWORD": "not-" + PASSWORD})
    assert wrong.returncode == 1
    assert b"AUTH failed: WRONGPASS" in wrong.stderr
    assert PASSWORD.encode() not in wrong.stderr + wrong.stdout
    # in the URL: accepted, with a warning that never repeats it
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}"
    warned = run(url, "PING")
    assert warned.stdout == b"PONG\n"
    assert b"Warning: Using a password in a URL" in warned.stderr
    assert PASSWORD.encode() not in warned.stderr


def test_cli_embedded_default_keeps_data_between_commands(tmp_path: Path) -> None:
    """Without a URL the CLI starts PulsarDS for the command and keeps a snapshot."""
    env = {
        **os.environ,
        "STORE_URL": f"pulsar://127.0.0.1:{free_port()}",
        "XDG_DATA_HOME": str(tmp_path),
    }
    assert run("SET", "greeting", "hello", env=env).stdout == b"OK\n"
    assert (tmp_path / "pulsards" / "pulsards.snapshot").exists()
    assert run("--no-raw", "GET", "greeting", env=env).stdout == b'"hello"\n'
    piped = run(env=env, input=b"DBSIZE\nGET greeting\n")
    assert piped.stdout == b"1\nhello\n"


def test_cli_serve_rejects_bad_settings() -> None:
    result = run("serve", "--appendfsync", "sometimes")
    assert result.returncode == 2
    assert b"--appendfsync" in result.stderr


# -- the pieces, on their own -------------------------------------------------------------


def test_split_args_like_sdssplitargs() -> None:
    assert split_args(b"set k \"a b\\n\\x41\\\"\" 'c\\'d\\n'") == [
        b"set",
        b"k",
        b'a b\nA"',
        b"c'd\\n",
    ]
    assert split_args(b"  ") == []
    assert split_args(b'get "a') is None
    assert split_args(b'get "a"b') is None
    assert split_args(b"get 'a") is None
    assert split_args(b'a"b c" d') == [b"ab c", b"d"]
    assert split_args(b'"\\x4"') == [b"x4"]


def test_sensitive_commands_are_recognised() -> None:
    for words in (
        [b"AUTH", b"pw"],
        [b"auth", b"user", b"pw"],
        [b"ACL", b"SETUSER", b"u", b">pw"],
        [b"CONFIG", b"SET", b"requirepass", b"pw"],
        [b"HELLO", b"3", b"AUTH", b"u", b"pw"],
        [b"MIGRATE", b"h", b"1", b"", b"0", b"5", b"AUTH", b"pw", b"KEYS", b"k"],
    ):
        assert is_sensitive(words), words
    assert not is_sensitive([b"GET", b"auth"])
    assert not is_sensitive([b"CONFIG", b"SET", b"maxmemory", b"1"])


def parse(data: bytes) -> Reply:
    reader = ReplyReader()
    for index in range(len(data)):  # a byte at a time: the reader resumes
        reader.feed(data[index : index + 1])
        reply = reader.get()
        if reply is not None:
            return reply
    raise AssertionError("incomplete")


def test_reply_types_are_kept_and_formatted() -> None:
    assert format_tty(parse(b"+OK\r\n")) == b"OK\n"
    assert format_tty(parse(b"$2\r\nOK\r\n")) == b'"OK"\n'
    assert format_tty(parse(b"*2\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n")) == (
        b'1) "a"\n2) 1) (integer) 1\n   2) (nil)\n'
    )
    assert format_tty(parse(b"%1\r\n+k\r\n,1.5\r\n")) == b"1# k => (double) 1.5\n"
    assert format_tty(parse(b"|1\r\n+a\r\n+b\r\n#t\r\n")) == b"(true)\n"
    assert format_tty(parse(b"~0\r\n")) == b"(empty set)\n"
    assert format_raw(parse(b"-ERR bad\r\n")) == b"ERR bad\n"
    assert format_raw(parse(b"=8\r\ntxt:text\r\n")) == b"text"
