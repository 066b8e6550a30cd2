"""``python -m store [URL] COMMAND [ARG...]`` prints replies like redis-cli."""

from __future__ import annotations

import subprocess
import sys

from store.__main__ import format_reply
from store.errors import ResponseError


def run(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "store", *words], capture_output=True, text=True, timeout=60
    )


def test_cli_runs_commands(redis_url: str) -> None:
    url = redis_url + "/9"
    assert run(url, "SET", "cli", "hello world").stdout == "OK\n"
    assert run(url, "GET", "cli").stdout == '"hello world"\n'
    assert run(url, "INCR", "n").stdout == "(integer) 1\n"
    assert run(url, "GET", "missing").stdout == "(nil)\n"
    run(url, "RPUSH", "l", "a", "b")
    assert run(url, "LRANGE", "l", "0", "-1").stdout == '1) "a"\n2) "b"\n'
    failed = run(url, "INCR", "cli")
    assert failed.returncode == 1
    assert failed.stdout.startswith("(error) ERR value is not an integer")
    run(url, "FLUSHDB")


def test_cli_reports_connection_errors_without_secrets() -> None:
    from tests.conftest import free_port

    result = run(f"redis://:topsecret@127.0.0.1:{free_port()}", "PING")
    assert result.returncode == 2
    assert "cannot connect" in result.stderr
    assert "topsecret" not in result.stderr + result.stdout


def test_format_reply_nests_like_redis_cli() -> None:
    assert format_reply([b"a", [1, None]]) == '1) "a"\n2) 1) (integer) 1\n   2) (nil)'
    assert format_reply({b"k": 1.5}) == '1) "k"\n2) (double) 1.5'
    assert format_reply([]) == "(empty array)"
    assert format_reply(True) == "(true)"
    assert format_reply(ResponseError("WRONGTYPE bad")) == "(error) WRONGTYPE bad"


def test_cli_embedded_default_keeps_data_between_commands(tmp_path: object) -> None:
    """Without a URL the CLI starts PulsarDS for the command and keeps a snapshot."""
    import os

    from tests.conftest import free_port

    env = {
        **os.environ,
        "STORE_URL": f"pulsar://127.0.0.1:{free_port()}",
        "XDG_DATA_HOME": str(tmp_path),
    }

    def cli(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "store", *words],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    assert cli("SET", "greeting", "hello").stdout == "OK\n"
    assert os.path.exists(os.path.join(str(tmp_path), "pulsards", "pulsards.snapshot"))
    assert cli("GET", "greeting").stdout == '"hello"\n'
    assert cli("DBSIZE").stdout == "(integer) 1\n"


def test_cli_serve_rejects_bad_settings() -> None:
    result = run("serve", "--appendfsync", "sometimes")
    assert result.returncode == 2
    assert "--appendfsync" in result.stderr
