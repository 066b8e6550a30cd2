"""Scripting commands (EVAL, EVALSHA, their _RO forms, SCRIPT *, FUNCTION *, FCALL,
FCALL_RO) against redis-server and PulsarDS, RESP2 and RESP3, both parsers.
"""

from __future__ import annotations

import hashlib

import pytest

from store.aio import RedisClient, RedisStore
from store.errors import DataError, NoScriptError, ResponseError

LIBRARY = """#!lua name=mylib
redis.register_function('echo_key', function(keys, args) return redis.call('GET', keys[1]) end)
redis.register_function{function_name='peek', callback=function(keys, args) return args[1] end,
  flags={'no-writes'}, description='gives its argument back'}
"""


async def test_eval_evalsha(client: RedisClient) -> None:
    await client.set("k", "v")
    assert await client.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    assert await client.eval("return {1, 'two', ARGV[1]}", 0, "three") == [1, b"two", b"three"]
    assert await client.eval_ro("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    with pytest.raises(ResponseError, match="Write commands are not allowed"):
        await client.eval_ro("return redis.call('SET', KEYS[1], 'x')", 1, "k")
    script = "return ARGV[1] .. '!'"
    sha = await client.script_load(script)
    assert sha == hashlib.sha1(script.encode()).hexdigest()
    assert await client.evalsha(sha, 0, "hi") == b"hi!"
    assert await client.evalsha_ro(sha, 0, "ho") == b"ho!"
    assert await client.script_exists(sha, "0" * 40) == [True, False]
    assert await client.script_flush() is True
    assert await client.script_exists(sha) == [False]
    with pytest.raises(NoScriptError):
        await client.evalsha(sha, 0, "hi")
    assert await client.script_flush("ASYNC") is True
    with pytest.raises(DataError):
        await client.script_flush("SOMETIMES")
    with pytest.raises(ResponseError, match="NOTBUSY"):
        await client.script_kill()


async def test_functions(client: RedisClient) -> None:
    assert await client.function_flush() is True
    assert await client.function_load(LIBRARY) == b"mylib"
    with pytest.raises(ResponseError, match="already exists"):
        await client.function_load(LIBRARY)
    assert await client.function_load(LIBRARY, replace=True) == b"mylib"
    await client.set("k", "v")
    assert await client.fcall("echo_key", 1, "k") == b"v"
    assert await client.fcall_ro("peek", 0, "arg") == b"arg"
    with pytest.raises(ResponseError, match="write flag"):
        await client.fcall_ro("echo_key", 1, "k")
    [library] = await client.function_list()
    assert library["library_name"] == b"mylib" and library["engine"] == b"LUA"
    functions = {f["name"]: f for f in library["functions"]}
    assert functions[b"peek"]["flags"] == ["no-writes"]
    assert functions[b"peek"]["description"] == b"gives its argument back"
    assert functions[b"echo_key"]["flags"] == [] and functions[b"echo_key"]["description"] is None
    assert "library_code" not in library
    [with_code] = await client.function_list(library="my*", withcode=True)
    assert with_code["library_code"] == LIBRARY.encode()
    assert await client.function_list(library="other*") == []
    stats = await client.function_stats()
    assert stats["running_script"] is None
    assert stats["engines"]["LUA"] == {"libraries_count": 1, "functions_count": 2}
    payload = await client.function_dump()
    assert isinstance(payload, bytes)
    assert await client.function_delete("mylib") is True
    assert await client.function_list() == []
    assert await client.function_restore(payload) is True
    with pytest.raises(ResponseError, match="already exists"):
        await client.function_restore(payload)
    assert await client.function_restore(payload, "REPLACE") is True
    assert await client.function_restore(payload, "FLUSH") is True
    assert len(await client.function_list()) == 1
    with pytest.raises(ResponseError, match="NOTBUSY"):
        await client.function_kill()
    assert await client.function_flush("ASYNC") is True
    with pytest.raises(ResponseError, match="Library not found"):
        await client.function_delete("mylib")


async def test_in_a_pipeline(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.function_flush()
    await pipe.function_load(LIBRARY)
    await pipe.fcall_ro("peek", 0, 1)
    await pipe.script_load("return 1")
    await pipe.eval("return 2", 0)
    await pipe.function_stats()
    results = await pipe.commit()
    assert results[:5] == [True, b"mylib", b"1", hashlib.sha1(b"return 1").hexdigest(), 2]
    assert results[5]["engines"]["LUA"]["functions_count"] == 2
    await store.client().function_flush()
