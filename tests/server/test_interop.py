"""Independent clients against PulsarDS: redis-cli (Debian's) and redis-py."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest


def _cli(port: int, *args: str, stdin: str | None = None) -> str:
    binary = shutil.which("redis-cli")
    assert binary is not None, "redis-cli comes with Debian's redis-server package"
    done = subprocess.run(
        [binary, "-p", str(port), *args], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_redis_cli(pulsar: Any) -> None:
    port = pulsar.port
    assert _cli(port, "PING").strip() == "PONG"
    assert _cli(port, "SET", "greeting", "hello world").strip() == "OK"
    assert _cli(port, "GET", "greeting").strip() == "hello world"
    assert _cli(port, "INCR", "n").strip() == "1"
    assert _cli(port, "-3", "HELLO", "3").count("proto") == 1
    assert "redis_version" in _cli(port, "INFO", "server")
    # inline commands typed at the prompt arrive without RESP framing
    assert _cli(port, stdin="SET typed 'with space'\nGET typed\n").split("\n")[:2] == [
        "OK",
        "with space",
    ]
    # redis-cli --pipe streams raw RESP and counts the replies
    lines = "".join(f"SET key:{i} {i}\r\n" for i in range(1000))
    out = _cli(port, "--pipe", stdin=lines)
    assert "errors: 0, replies: 1000" in out
    assert _cli(port, "DBSIZE").strip() == "1003"  # greeting, n, typed and 1000 keys


def test_redis_py(pulsar: Any) -> None:
    redis = pytest.importorskip("redis", reason="redis-py is in the bench extra")
    client = redis.Redis(port=pulsar.port, decode_responses=True)
    try:
        assert client.ping() is True
        assert client.set("a", "1") is True
        assert client.incrby("a", 41) == 42
        client.rpush("list", "x", "y", "z")
        assert client.lrange("list", 0, -1) == ["x", "y", "z"]
        client.hset("h", mapping={"f": "v", "g": "w"})
        assert client.hgetall("h") == {"f": "v", "g": "w"}
        client.zadd("z", {"a": 1.5, "b": 2})
        assert client.zrange("z", 0, -1, withscores=True) == [("a", 1.5), ("b", 2.0)]
        with client.pipeline() as pipe:
            pipe.set("p", "1").incr("p").get("p")
            assert pipe.execute() == [True, 2, "2"]
        pubsub = client.pubsub()
        pubsub.subscribe("news")
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"
        assert client.publish("news", "hi") == 1
        message = pubsub.get_message(timeout=5)
        assert message is not None and message["data"] == "hi"
        pubsub.close()
        assert client.eval("return redis.call('GET', KEYS[1])", 1, "a") == "42"
    finally:
        client.close()


def test_redis_py_resp3(pulsar: Any) -> None:
    redis = pytest.importorskip("redis", reason="redis-py is in the bench extra")
    client = redis.Redis(port=pulsar.port, protocol=3, decode_responses=True)
    try:
        client.hset("h", "f", "v")
        assert client.hgetall("h") == {"f": "v"}
        client.sadd("s", "a", "b")
        assert client.smembers("s") == {"a", "b"}
    finally:
        client.close()
