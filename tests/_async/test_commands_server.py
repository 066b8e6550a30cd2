"""Server administration commands (ACL, CLIENT, CONFIG, COMMAND, MEMORY, SLOWLOG, LATENCY,
MODULE, persistence, replication, SHUTDOWN, HELLO, LOLWUT) against redis-server and
PulsarDS, RESP2 and RESP3, both parsers; the tests of the commands PulsarDS has not yet
(ACL, MEMORY, SLOWLOG, LATENCY, MODULE, REPLICAOF, FAILOVER, LOLWUT, CLIENT TRACKINGINFO:
issue 16) run on redis-server only. Those that start servers of their own or wait on
replication run on one target: no protocol or parser changes what they show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import RedisClient, RedisStore, create_store
from store.errors import AuthenticationError, DataError, ResponseError

from .conftest import TARGETS, _target_id

REDIS_TARGETS = [t for t in TARGETS if t[0] == "redis"]
ONE_REDIS = REDIS_TARGETS[-1:]


def redis_only(
    reason: str, targets: list[tuple[str, int, str]] = REDIS_TARGETS
) -> pytest.MarkDecorator:
    """The test runs on redis-server's targets only; ``reason`` names what PulsarDS lacks."""
    assert "PulsarDS" in reason
    return pytest.mark.parametrize(
        "target", targets, ids=[_target_id(t) for t in targets], indirect=True
    )


async def _until(predicate: Callable[[], Any], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await async_sleep(0.01)


# ---------------------------------------------------------------------------------- ACL


async def test_acl_users(client: RedisClient) -> None:
    await client.acl_deluser("alice", "bob")
    try:
        assert await client.acl_setuser(
            "alice",
            enabled=True,
            passwords=["+secret1", "+secret2"],
            categories=["+all", "-@dangerous"],
            commands=["+get", "-set"],
            keys=["app:*", "%R~read:*"],
            channels=["news.*"],
            selectors=[("+hget", "hash:*")],
        )
        user = await client.acl_getuser("alice")
        assert user is not None
        assert user["enabled"] is True and "on" in user["flags"]
        assert len(user["passwords"]) == 2 and all(type(p) is str for p in user["passwords"])
        assert user["categories"] == ["+@all", "-@dangerous"]
        assert user["commands"] == ["-set"]  # +get is in +@all already
        assert user["keys"] == ["~app:*", "%R~read:*"]
        assert user["channels"] == ["&news.*"]
        [selector] = user["selectors"]
        assert selector["keys"] == "~hash:*" and "+hget" in selector["commands"]
        assert await client.acl_setuser("alice", reset_passwords=True, nopass=True)
        assert "nopass" in (await client.acl_getuser("alice") or {})["flags"]
        assert await client.acl_getuser("nobody") is None
        assert await client.acl_setuser("bob", reset=True) is True
        assert sorted(await client.acl_users()) == ["alice", "bob", "default"]
        rules = await client.acl_list()
        assert any(rule.startswith("user bob off") for rule in rules)
        assert await client.acl_whoami() == "default"
        assert await client.acl_dryrun("alice", "GET", "app:1") in (b"OK", "OK")
        denied = await client.acl_dryrun("alice", "SET", "app:1", "v")
        assert b"no permissions" in denied
        assert await client.acl_deluser("alice", "bob", "nobody") == 2
    finally:
        await client.acl_deluser("alice", "bob")
    with pytest.raises(DataError):
        await client.acl_setuser("x", passwords="no-prefix")
    with pytest.raises(DataError):
        await client.acl_setuser("x", nopass=True, passwords="+pw")
    with pytest.raises(DataError):
        await client.acl_setuser("x", categories=["string"])
    with pytest.raises(DataError):
        await client.acl_setuser("x", commands=["get"])


async def test_acl_cat_genpass_log(client: RedisClient, server_url: str) -> None:
    categories = await client.acl_cat()
    assert "string" in categories and all(type(c) is str for c in categories)
    assert "get" in await client.acl_cat("string")
    password = await client.acl_genpass()
    assert type(password) is str and len(password) == 64
    assert len(await client.acl_genpass(32)) == 8
    with pytest.raises(DataError):
        await client.acl_genpass(0)
    assert await client.acl_log_reset() is True
    with pytest.raises(AuthenticationError):
        async with create_store(server_url.replace("//", "//ghost:wrong@")) as bad:
            await bad.ping()
    [entry] = await client.acl_log(count=1)
    assert entry["reason"] == "auth" and entry["username"] == "ghost"
    assert type(entry["age-seconds"]) is float
    assert isinstance(entry["client-info"], dict) and "addr" in entry["client-info"]
    assert entry["count"] == 1
    assert await client.acl_log_reset() is True
    assert await client.acl_log() == []
    with pytest.raises(ResponseError, match="ACL file"):
        await client.acl_save()
    with pytest.raises(ResponseError, match="ACL file"):
        await client.acl_load()


# ------------------------------------------------------------------------------- CLIENT


async def test_client(client: RedisClient, store_factory: Callable[..., RedisStore]) -> None:
    info = await client.client_info()
    assert {"id", "addr", "laddr", "name", "db", "cmd"} <= set(info)
    assert all(type(v) is str for v in info.values())
    assert info["cmd"] == "client|info"
    assert await client.client_getredir() == -1
    assert await client.client_no_evict("on") is True
    assert await client.client_no_evict("off") is True
    assert await client.client_pause(10, all=False) is True
    assert await client.client_unpause() is True
    assert await client.client_unblock(999_999_999) is False
    assert await client.client_unblock(999_999_999, error=True) is False
    other = store_factory().client()
    victim = await other.client_id()
    assert await client.client_kill_filter(_id=victim) == 1
    assert await client.client_kill_filter(_id=victim, skipme=True) == 0
    with pytest.raises(ResponseError, match="No such client"):
        await client.client_kill("1.2.3.4:5")
    with pytest.raises(DataError):
        await client.client_kill_filter()
    with pytest.raises(DataError):
        await client.client_kill_filter(_type="robot")
    with pytest.raises(DataError):
        await client.client_kill_filter(skipme="yes")  # type: ignore[arg-type]
    with pytest.raises(DataError):
        await client.client_pause(1.5)  # type: ignore[arg-type]


async def test_client_trackinginfo(client: RedisClient) -> None:
    assert await client.client_trackinginfo() == {"flags": ["off"], "redirect": -1, "prefixes": []}


# ------------------------------------------------------------------------ CONFIG, COMMAND


async def test_config_resetstat_rewrite(client: RedisClient) -> None:
    await client.get("k")
    assert await client.config_resetstat() is True
    assert (await client.info("stats"))["total_commands_processed"] <= 2
    with pytest.raises(ResponseError, match="config file"):
        await client.config_rewrite()


async def test_command(client: RedisClient, target: Any) -> None:
    commands = await client.command()
    get = commands["get"]
    assert get["name"] == "get" and get["arity"] == 2
    assert "readonly" in get["flags"] and "@read" in get["acl_categories"]
    assert (get["first_key_pos"], get["last_key_pos"], get["step_count"]) == (1, 1, 1)
    [spec] = get["key_specifications"]
    assert spec["begin_search"] == {"type": "index", "spec": {"index": 1}}
    assert spec["flags"] == ["RO", "access"]
    config = commands["config"]
    assert "config|get" in {sub["name"] for sub in config["subcommands"]}
    assert set(await client.command_info("get", "nosuchcommand")) == {"get"}
    assert (await client.command_info("get"))["get"] == get
    docs = await client.command_docs("get", "set")
    assert set(docs) == {"get", "set"}
    assert docs["get"]["since"] == "1.0.0" and docs["get"]["group"] == "string"
    if target[0] == "redis":
        assert docs["get"]["summary"] == "Get the value of a key"
        assert docs["set"]["arguments"][0] == {
            "name": "key",
            "type": "key",
            "key_spec_index": 0,
        }
        assert docs["set"]["history"][0][0] == "2.6.12"
        client_docs = (await client.command_docs("client"))["client"]
        assert "client|list" in client_docs["subcommands"]
    assert await client.command_getkeys("MSET", "a", 1, "b", 2) == [b"a", b"b"]
    assert await client.command_getkeysandflags("LMOVE", "src", "dst", "LEFT", "RIGHT") == [
        [b"src", ["RW", "access", "delete"]],
        [b"dst", ["RW", "insert"]],
    ]
    names = await client.command_list()
    assert b"get" in names and b"config|get" in names and len(names) > len(commands)
    assert b"get" in await client.command_list(category="string")
    assert await client.command_list(pattern="getr*") == [b"getrange"]
    assert await client.command_list(module="nosuchmodule") == []
    with pytest.raises(DataError):
        await client.command_list(category="string", pattern="g*")
    with pytest.raises(ResponseError):
        await client.command_getkeys("GET")


# ------------------------------------------------------------------- MEMORY, SLOWLOG...


async def test_memory(client: RedisClient) -> None:
    await client.set("k", "v" * 100)
    usage = await client.memory_usage("k")
    assert isinstance(usage, int) and usage > 100
    assert await client.memory_usage("k", samples=0) == usage
    assert await client.memory_usage("missing") is None
    stats = await client.memory_stats()
    assert type(stats["peak.allocated"]) is int
    assert type(stats["dataset.percentage"]) is float
    assert isinstance(stats["db.0"], dict) and type(stats["db.0"]["overhead.hashtable.main"]) is int
    assert all(type(key) is str for key in stats)
    assert type(await client.memory_doctor()) is str
    assert type(await client.memory_malloc_stats()) is str
    assert await client.memory_purge() is True


async def test_slowlog(client: RedisClient) -> None:
    assert await client.slowlog_reset() is True
    await client.config_set("slowlog-log-slower-than", 0)
    try:
        await client.set("slow", "value")
        entries = await client.slowlog_get(10)
    finally:
        await client.config_set("slowlog-log-slower-than", 10000)
    commands = [e["command"] for e in entries]
    assert b"SET slow value" in commands
    entry = entries[commands.index(b"SET slow value")]
    assert type(entry["id"]) is int and type(entry["duration"]) is int
    assert entry["start_time"] <= time.time() + 1
    assert isinstance(entry["client_address"], bytes) and entry["client_name"] == b""
    assert await client.slowlog_len() >= 2
    assert len(await client.slowlog_get()) >= 2
    assert await client.slowlog_reset() is True
    assert await client.slowlog_len() <= 1


async def test_latency(client: RedisClient) -> None:
    await client.set("k", "v")
    histogram = await client.latency_histogram("set", "nosuchcommand")
    assert set(histogram) == {"set"}
    assert histogram["set"]["calls"] >= 1
    buckets = histogram["set"]["histogram_usec"]
    assert buckets and all(type(k) is int and type(v) is int for k, v in buckets.items())
    assert "get" not in await client.latency_histogram("get")  # no calls since the reset
    assert await client.latency_latest() == []
    assert await client.latency_history("command") == []
    assert await client.latency_reset() == 0
    assert await client.latency_reset("command") == 0
    assert type(await client.latency_doctor()) is str
    with pytest.raises(ResponseError, match="No samples"):
        await client.latency_graph("command")


@redis_only("PulsarDS has no MODULE yet (issue 16)")
async def test_module(client: RedisClient) -> None:
    assert await client.module_list() == []
    # MODULE LOAD/UNLOAD are disabled by default (enable-module-command)
    with pytest.raises(ResponseError, match="MODULE command not allowed"):
        await client.module_load("/nonexistent/module.so", "arg")
    with pytest.raises(ResponseError, match="MODULE command not allowed"):
        await client.module_loadex("/nonexistent/module.so", options=["k", "v"], args=["a"])
    with pytest.raises(ResponseError, match="MODULE command not allowed"):
        await client.module_unload("nosuchmodule")


# ------------------------------------------------------------ persistence, replication


async def test_save_bgsave_bgrewriteaof(client: RedisClient) -> None:
    async def idle() -> bool:
        persistence = await client.info("persistence")
        return not (persistence["rdb_bgsave_in_progress"] or persistence["aof_rewrite_in_progress"])

    await _until(idle)
    assert await client.save() is True
    assert await client.lastsave() is not None
    assert await client.bgsave() is True
    assert await client.bgrewriteaof() is True
    await _until(idle)
    assert await client.bgsave(schedule=False) is True
    await _until(idle)


@redis_only("PulsarDS has no REPLICAOF yet (issue 16)", ONE_REDIS)
async def test_replicaof_role_wait(
    client: RedisClient, restartable_server: Any, server_url: str
) -> None:
    port = int(server_url.rsplit(":", 1)[1])
    assert (await client.role())[0] == b"master"
    # the replica's full sync starts now, not after Redis's 5 s wait for more replicas
    delay = (await client.config_get("repl-diskless-sync-delay"))["repl-diskless-sync-delay"]
    await client.config_set("repl-diskless-sync-delay", 0)
    try:
        await _replicate(client, restartable_server, port)
    finally:
        await client.config_set("repl-diskless-sync-delay", delay)


async def _replicate(client: RedisClient, restartable_server: Any, port: int) -> None:
    async with create_store(restartable_server.url) as replica_store:
        replica = replica_store.client()
        assert await replica.replicaof("127.0.0.1", port) is True

        async def linked() -> bool:
            role = await replica.role()
            return bool(role[0] == b"slave" and role[3] == b"connected")

        await _until(linked)
        role = await replica.role()
        assert role[1:3] == [b"127.0.0.1", port]
        await client.set("replicated", "v")
        assert await client.wait(1, 5000) == 1
        master = await client.role()
        assert master[0] == b"master" and len(master[2]) == 1
        assert int(master[2][0][1]) == restartable_server.port
        assert await replica.replicaof("NO", "ONE") is True
        assert (await replica.role())[0] == b"master"
        assert await replica.get("replicated") == b"v"
        # SLAVEOF, REPLICAOF's old name: to a port nothing answers, then NO ONE
        assert await replica.slaveof("127.0.0.1", 1) is True
        assert (await replica.role())[0] == b"slave"
        assert await replica.slaveof() is True
        assert (await replica.role())[0] == b"master"


@redis_only("PulsarDS has no FAILOVER yet (issue 16)")
async def test_failover_errors(client: RedisClient) -> None:
    with pytest.raises(ResponseError, match="No failover in progress"):
        await client.failover(abort=True)
    with pytest.raises(ResponseError, match="replica"):
        await client.failover(to=("127.0.0.1", 1), timeout=100)
    with pytest.raises(DataError):
        await client.failover(force=True)


async def test_shutdown(restartable_server: Any) -> None:
    """On a redis-server of its own (once per variant: it needs no target)."""
    async with create_store(restartable_server.url) as own:
        client = own.client()
        with pytest.raises(ResponseError, match="No shutdown in progress"):
            await client.shutdown(abort=True)
        with pytest.raises(DataError):
            await client.shutdown(save=True, nosave=True)
        assert await client.shutdown(nosave=True, now=True) is None
    assert restartable_server.process.wait(10) == 0


async def test_hello(client: RedisClient, target: Any) -> None:
    hello = await client.hello()
    assert hello["proto"] == target[1]
    assert hello["server"] == b"redis" and hello["mode"] == b"standalone"
    assert hello["role"] == b"master" and type(hello["id"]) is int
    assert {"version", "modules"} <= set(hello)


async def test_lolwut(client: RedisClient) -> None:
    art = await client.lolwut()
    assert type(art) is str and "Redis ver." in art
    assert "Redis ver." in await client.lolwut(5, 1, 1)


async def test_in_a_pipeline(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.client_getredir()
    await pipe.command_getkeysandflags("SET", "a", "b")
    await pipe.command_info("get")
    await pipe.config_resetstat()
    await pipe.role()
    results = await pipe.commit()
    assert results[:2] == [-1, [[b"a", ["OW", "update"]]]]
    assert results[2]["get"]["arity"] == 2
    assert results[3] is True
    assert results[4][0] == b"master"
