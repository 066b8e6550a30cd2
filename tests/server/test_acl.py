"""PulsarDS's ACL users: through raw RESP and through the ``store`` client, the cost of
the check while unused, the ACL file at startup, and passwords kept secret.

What redis-server does alike is in test_differential_acl.py."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from typing import Any

import pytest

import store.aio
import store.sync
from store.errors import AuthenticationError
from store.server import PulsarDS, ServerThread
from store.server.config import ServerConfig

from .conftest import RawClient

SECRET = "s3cr3t-Pa55word"


def _server_clients(pulsar: ServerThread) -> list[Any]:
    return list(pulsar.server.clients.values())


def test_the_default_user_costs_one_flag(
    pulsar: ServerThread, raw: Callable[..., RawClient]
) -> None:
    """While only the default user exists with every permission, nothing is checked:
    ``client.restricted`` (the one attribute PulsarDS.call tests) stays False."""
    admin = raw()
    assert admin.call("PING") == b"PONG"
    assert [c.restricted for c in _server_clients(pulsar)] == [False]
    assert admin.call("ACL", "SETUSER", "other", "on", ">x", "+get") == b"OK"
    assert [c.restricted for c in _server_clients(pulsar)] == [False]  # not its user
    assert admin.call("ACL", "SETUSER", "default", "-debug") == b"OK"
    assert [c.restricted for c in _server_clients(pulsar)] == [True]
    assert admin.call("ACL", "SETUSER", "default", "+@all") == b"OK"
    assert [c.restricted for c in _server_clients(pulsar)] == [False]
    assert admin.call("CONFIG", "SET", "requirepass", SECRET) == b"OK"
    assert admin.call("PING") == b"PONG"  # authenticated when it connected
    fresh = raw()
    assert str(fresh.call("GET", "k")) == "NOAUTH Authentication required."
    assert sorted(c.restricted for c in _server_clients(pulsar)) == [False, True]
    assert fresh.call("AUTH", SECRET) == b"OK"
    assert [c.restricted for c in _server_clients(pulsar)] == [False, False]
    assert admin.call("CONFIG", "SET", "requirepass", "") == b"OK"
    assert raw().call("PING") == b"PONG"


def test_permissions_through_raw_resp(raw: Callable[..., RawClient]) -> None:
    admin = raw()
    rules = ["on", ">pw", "-@all", "+get", "+set", "+publish", "~app:*", "&events.*"]
    assert admin.call("ACL", "SETUSER", "app", *rules) == b"OK"
    user = raw()
    assert user.call("AUTH", "app", "pw") == b"OK"
    assert str(user.call("ACL", "WHOAMI")) == (
        "NOPERM this user has no permissions to run the 'acl|whoami' command"
    )
    assert user.call("SET", "app:1", "v") == b"OK"
    assert user.call("GET", "app:1") == b"v"
    assert str(user.call("GET", "other")) == (
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    )
    assert str(user.call("DEL", "app:1")) == (
        "NOPERM this user has no permissions to run the 'del' command"
    )
    assert user.call("PUBLISH", "events.x", "m") == 0
    assert str(user.call("PUBLISH", "other", "m")) == (
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    )
    log = admin.call("ACL", "LOG")
    reasons = [(entry[3], entry[5], entry[7], entry[9], entry[1]) for entry in log]
    assert reasons == [
        (b"channel", b"toplevel", b"other", b"app", 1),
        (b"command", b"toplevel", b"del", b"app", 1),
        (b"key", b"toplevel", b"other", b"app", 1),
        (b"command", b"toplevel", b"acl|whoami", b"app", 1),
    ]
    fields = dict(zip(log[0][::2], log[0][1::2], strict=True))
    assert fields[b"reason"] == b"channel" and fields[b"object"] == b"other"
    assert b"user=app" in fields[b"client-info"] and b"cmd=publish" in fields[b"client-info"]
    assert admin.call("ACL", "LOG", "RESET") == b"OK"
    assert admin.call("ACL", "LOG") == []


def test_store_client_with_user_and_password(
    pulsar: ServerThread, raw: Callable[..., RawClient]
) -> None:
    admin = raw()
    rules = ["on", ">" + SECRET, "+@all", "-flushall", "~app:*", "&*"]
    assert admin.call("ACL", "SETUSER", "app", *rules) == b"OK"
    url = f"redis://app:{SECRET}@127.0.0.1:{pulsar.port}"
    with store.sync.create_store(url) as client:
        client.execute("SET", "app:k", "v")
        assert client.execute("GET", "app:k") == b"v"
        assert client.execute("ACL", "WHOAMI") == b"app"
        with pytest.raises(AuthenticationError, match=r"NOPERM .* keys used as arguments"):
            client.execute("GET", "elsewhere")
        with pytest.raises(AuthenticationError, match="'flushall' command"):
            client.execute("FLUSHALL")
    wrong = f"redis://app:wrong@127.0.0.1:{pulsar.port}"
    with store.sync.create_store(wrong) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.execute("PING")
        assert "wrong" not in str(caught.value)

    async def use_aio() -> Any:
        async with store.aio.create_store(url) as client:
            return await client.execute("ACL", "WHOAMI")

    assert asyncio.run(use_aio()) == b"app"


def test_hello_auth_and_reset(raw: Callable[..., RawClient]) -> None:
    admin = raw()
    assert admin.call("ACL", "SETUSER", "h", "on", ">pw", "+@all", "~*") == b"OK"
    client = raw()
    assert str(client.call("HELLO", "3", "AUTH", "h", "nope")).startswith("WRONGPASS")
    hello = client.call("HELLO", "3", "AUTH", "h", "pw")
    assert hello[b"proto"] == 3
    assert client.call("ACL", "WHOAMI") == b"h"
    assert client.call("RESET") == b"RESET"
    assert client.call("ACL", "WHOAMI") == b"default"
    info = client.call("CLIENT", "INFO")
    assert b" user=default " in bytes(info)


def test_multi_and_scripts_are_checked(raw: Callable[..., RawClient]) -> None:
    admin = raw()
    assert admin.call("ACL", "SETUSER", "m", "on", "nopass", "+@all", "-get", "~*") == b"OK"
    user = raw()
    assert user.call("AUTH", "m", "any") == b"OK"
    assert user.call("MULTI") == b"OK"
    assert str(user.call("GET", "k")).startswith("NOPERM")
    assert str(user.call("EXEC")).startswith("EXECABORT")
    failed = user.call("EVAL", "return redis.call('get', 'k')", "0")
    assert str(failed).startswith("ERR The user executing the script can't run this command")
    last = admin.call("ACL", "LOG", "1")[0]
    entry = dict(zip(last[::2], last[1::2], strict=True))
    assert entry[b"context"] == b"lua" and entry[b"object"] == b"get"


# -- passwords are never shown ------------------------------------------------------------


def test_password_never_shown(pulsar: ServerThread, raw: Callable[..., RawClient]) -> None:
    """Not in ACL LIST / GETUSER (only its SHA-256), MONITOR, SLOWLOG, ACL LOG, errors,
    CLIENT LIST, reprs."""
    admin = raw()
    monitor = raw()
    assert monitor.call("MONITOR") == b"OK"
    assert admin.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == b"OK"
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    replies = [
        admin.call("ACL", "SETUSER", "u", "on", ">" + SECRET, "+@all", "~*"),
        admin.call("ACL", "SETUSER", "u", ">" + SECRET, "+nosuch"),
        admin.call("ACL", "SETUSER", "u", "<" + SECRET + "x"),
        admin.call("ACL", "LIST"),
        admin.call("ACL", "GETUSER", "u"),
    ]
    user = raw()
    replies.append(user.call("AUTH", "u", SECRET))
    replies.append(user.call("AUTH", "u", SECRET + "wrong"))
    replies.append(user.call("HELLO", "2", "AUTH", "u", SECRET))
    replies.append(admin.call("CONFIG", "SET", "requirepass", SECRET))
    replies.append(admin.call("AUTH", SECRET))
    replies.append(admin.call("CONFIG", "SET", "requirepass", ""))
    replies.append(admin.call("ACL", "LOG"))
    replies.append(admin.call("CLIENT", "LIST"))
    slowlog = admin.call("SLOWLOG", "GET", "100")
    replies.append(slowlog)
    admin.call("PING")
    lines = []
    while True:
        line = monitor.read()
        lines.append(line)
        if b'"PING"' in line:
            break
    text = repr(replies) + repr(lines)
    assert SECRET not in text
    assert digest in repr(replies[3]) and digest in repr(replies[4])
    assert any(b'"AUTH" "(redacted)" "(redacted)"' in line for line in lines)
    shown = [entry[3] for entry in slowlog if entry[3][:2] == [b"ACL", b"SETUSER"]]
    assert shown and all(args[2:] == [b"(redacted)"] * (len(args) - 2) for args in shown)
    server = pulsar.server
    for thing in (server.acl, server.acl.users[b"u"], server.config):
        assert SECRET not in repr(thing)
    assert "(redacted)" in str(replies[2])


# -- the ACL file -------------------------------------------------------------------------


def _config(tmp_path: Any, text: str) -> ServerConfig:
    path = os.path.join(str(tmp_path), "users.acl")
    with open(path, "w") as handle:
        handle.write(text)
    config = ServerConfig(port=0, dir=str(tmp_path), save=[])
    config.set_text("aclfile", path)
    return config


def test_aclfile_at_startup(tmp_path: Any) -> None:
    digest = hashlib.sha256(b"pw").hexdigest()
    config = _config(
        tmp_path, f"user default on #{digest} ~* &* +@all\nuser ro on nopass +@read ~*\n"
    )
    with ServerThread(config) as server:
        client = RawClient(server.port)
        try:
            assert str(client.call("PING")) == "NOAUTH Authentication required."
            assert client.call("AUTH", "ro", "x") == b"OK"
            assert client.call("GET", "k") is None
            assert str(client.call("SET", "k", "v")).startswith("NOPERM")
            assert client.call("AUTH", "pw") == b"OK"
            assert client.call("ACL", "USERS") == [b"default", b"ro"]
            assert client.call("ACL", "SAVE") == b"OK"
        finally:
            client.close()
    with open(config.get_text("aclfile")) as handle:
        assert handle.read() == (
            f"user default on #{digest} ~* &* +@all\n"
            "user ro on nopass ~* resetchannels -@all +@read\n"
        )


def test_bad_aclfile_refuses_to_start(tmp_path: Any) -> None:
    config = _config(tmp_path, "user a on +nosuch\n")
    with pytest.raises(ValueError, match="Unknown command or category name in ACL"):
        PulsarDS(config)
    missing = ServerConfig(port=0, dir=str(tmp_path), save=[])
    missing.set_text("aclfile", os.path.join(str(tmp_path), "none.acl"))
    with pytest.raises(ValueError, match="opening file"):
        PulsarDS(missing)


def test_acl_save_load_without_file(raw: Callable[..., RawClient]) -> None:
    admin = raw()
    for sub in ("SAVE", "LOAD"):
        assert str(admin.call("ACL", sub)).startswith(
            "ERR This Redis instance is not configured to use an ACL file."
        )


def test_acl_log_grouping_and_length(raw: Callable[..., RawClient]) -> None:
    admin = raw()
    assert admin.call("ACL", "SETUSER", "l", "on", "nopass", "-@all", "+get", "~k*") == b"OK"
    user = raw()
    assert user.call("AUTH", "l", "x") == b"OK"
    for _ in range(3):  # the same denial again: one entry, counted
        assert str(user.call("GET", "other")).startswith("NOPERM")
    log = admin.call("ACL", "LOG")
    assert [(entry[1], entry[7]) for entry in log] == [(3, b"other")]
    assert admin.call("CONFIG", "SET", "acllog-max-len", "2") == b"OK"
    for name in ("STRLEN", "DEL", "INCR"):
        assert str(user.call(name, "k1")).startswith("NOPERM")
    assert [entry[7] for entry in admin.call("ACL", "LOG")] == [b"incr", b"del"]
    assert [entry[7] for entry in admin.call("ACL", "LOG", "1")] == [b"incr"]
