"""Lua scripts by EVALSHA with the NOSCRIPT fallback, directly and in pipelines."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from store.aio import NoScriptError, RedisStore, ResponseError

from .conftest import command_calls, pool_of, serving

StoreFactory = Callable[..., RedisStore]

INCR_BY = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
return {KEYS[1], value}
"""


async def script_calls(store: RedisStore) -> dict[str, int]:
    return await command_calls(store, "evalsha", "eval", "script|load", "script|exists")


async def test_sha_is_computed_locally(store: RedisStore) -> None:
    script = store.register_script(INCR_BY)
    assert script.sha == hashlib.sha1(INCR_BY.encode()).hexdigest()
    assert await store.execute("SCRIPT", "LOAD", INCR_BY) == script.sha.encode()
    assert store.register_script(INCR_BY.encode()).sha == script.sha
    with pytest.raises(TypeError):
        store.register_script(42)  # type: ignore[arg-type]


async def test_call_runs_evalsha(store: RedisStore) -> None:
    script = store.register_script(INCR_BY)
    await script.load()
    before = await script_calls(store)
    assert await script(keys=["n"], args=[5]) == [b"n", 5]
    assert await script(["n"], [2]) == [b"n", 7]
    after = await script_calls(store)
    assert after["evalsha"] == before["evalsha"] + 2
    assert after["script|load"] == before["script|load"]
    assert after["eval"] == before["eval"]


async def test_noscript_falls_back_to_load(store: RedisStore) -> None:
    script = store.register_script(INCR_BY)
    await store.execute("SCRIPT", "FLUSH")
    assert await script.exists() is False
    with pytest.raises(NoScriptError):  # what the fallback has to deal with
        await store.execute("EVALSHA", script.sha, 1, "n", 1)
    assert await script(keys=["n"], args=[1]) == [b"n", 1]
    assert await script.exists() is True
    await store.execute("SCRIPT", "FLUSH")
    assert await script(keys=["n"], args=[1]) == [b"n", 2]
    # through a client, too
    await store.execute("SCRIPT", "FLUSH")
    assert await script(keys=["n"], args=[1], client=store.client()) == [b"n", 3]


async def test_script_without_keys_or_args(store: RedisStore) -> None:
    script = store.register_script("return 'hello'")
    assert await script() == b"hello"


async def test_lua_errors_surface(store: RedisStore) -> None:
    runtime = store.register_script("local x = nil; return x + 1")
    with pytest.raises(ResponseError) as info:
        await runtime()
    assert "arithmetic" in str(info.value)
    assert not isinstance(info.value, NoScriptError)
    reported = store.register_script("return redis.error_reply('MYCODE custom failure')")
    with pytest.raises(ResponseError) as custom:
        await reported()
    assert custom.value.code == "MYCODE"
    assert "custom failure" in str(custom.value)
    await store.execute("SET", "s", "text")
    wrongtype = store.register_script("return redis.call('LPUSH', KEYS[1], 'x')")
    with pytest.raises(ResponseError) as wrong:
        await wrongtype(keys=["s"])
    assert "WRONGTYPE" in str(wrong.value)
    syntax = store.register_script("this is not lua")
    with pytest.raises(ResponseError) as bad:
        await syntax()
    assert "compiling" in str(bad.value) or "syntax" in str(bad.value).lower()
    assert await store.ping() is True
    assert pool_of(store, "s").idle == 1


async def test_script_in_a_pipeline_after_script_flush(store: RedisStore) -> None:
    script = store.register_script(INCR_BY)
    for transaction in (False, True):
        await script.load()
        pipe = store.pipeline(transaction=transaction)
        assert await script(keys=["n"], args=[1], client=pipe) is pipe
        await pipe.get("n")
        assert await store.execute("EXISTS", "n") == 0  # queued, not run
        await script(keys=["n"], args=[10], client=pipe)
        # the cache is emptied between queueing and commit: the commit loads it again
        await store.execute("SCRIPT", "FLUSH")
        results = await pipe.commit()
        assert results[1] == b"%d" % (results[0][1])
        assert results[2][1] == results[0][1] + 10
        # loaded where it ran (on a cluster, exists() is True once every primary has it)
        assert await serving(store, "n").execute("SCRIPT", "EXISTS", script.sha) == [1]
        await store.execute("DEL", "n")


async def test_pipeline_loads_only_missing_scripts(store: RedisStore) -> None:
    script = store.register_script(INCR_BY)
    other = store.register_script("return ARGV[1]")
    await store.execute("SCRIPT", "FLUSH")
    await other.load()
    before = await script_calls(store)
    pipe = store.pipeline()
    await script(keys=["n"], args=[1], client=pipe)
    # "n", unused by the script, sends it where the other one runs, on a cluster
    await other(keys=["n"], args=["x"], client=pipe)
    await script(keys=["n"], args=[1], client=pipe)
    assert await pipe.commit() == [[b"n", 1], b"x", [b"n", 2]]
    after = await script_calls(store)
    assert after["script|exists"] == before["script|exists"] + 1
    assert after["script|load"] == before["script|load"] + 1
    assert after["evalsha"] == before["evalsha"] + 3
    # once loaded, a second commit loads nothing
    await script(keys=["n"], args=[1], client=pipe)
    assert await pipe.commit() == [[b"n", 3]]
    assert (await script_calls(store))["script|load"] == after["script|load"]


async def test_lua_error_in_a_pipeline(store: RedisStore) -> None:
    failing = store.register_script("return redis.error_reply('ERR failing script')")
    pipe = store.pipeline(raise_on_error=False)
    await pipe.set("a", 1)
    await failing(client=pipe)
    await pipe.get("a")
    ok, error, value = await pipe.commit()
    assert ok is True and value == b"1"
    assert isinstance(error, ResponseError) and "failing script" in str(error)
    strict = store.pipeline()
    await failing(client=strict)
    with pytest.raises(ResponseError):
        await strict.commit()


async def test_script_that_does_not_compile_fails_the_commit(store: RedisStore) -> None:
    broken = store.register_script("not lua at all")
    pipe = store.pipeline()
    await pipe.set("a", 1)
    await broken(client=pipe)
    with pytest.raises(ResponseError):
        await pipe.commit()
    assert await store.execute("EXISTS", "a") == 0  # nothing was sent
    pool = pool_of(store, "a")
    assert pool.in_use == 0 and pool.idle == 1
    await pipe.set("a", 1)
    assert await pipe.commit() == [True]


async def test_script_in_immediate_mode_of_a_watching_pipeline(store: RedisStore) -> None:
    script = store.register_script(INCR_BY)
    read = store.register_script("return redis.call('GET', KEYS[1])")
    await store.execute("SET", "n", 3)
    await store.execute("SCRIPT", "FLUSH")
    async with store.pipeline(transaction=True) as pipe:
        await pipe.watch("n")
        assert await read(keys=["n"], client=pipe) == b"3"  # at once, loaded on NOSCRIPT
        pipe.multi()
        await store.execute("SCRIPT", "FLUSH")
        await script(keys=["n"], args=[4], client=pipe)
        assert await pipe.commit() == [[b"n", 7]]
