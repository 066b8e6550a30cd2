"""Lua scripting: the same replies as redis-server 7.0 (differential), plus PulsarDS-only
checks (the sandbox, the time limit, the append-only file)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from store.errors import ResponseError
from store.server import ServerThread
from tests.server.conftest import Differential, RawClient


def run_all(same: Differential, *scripts: str) -> None:
    for script in scripts:
        same("EVAL", script, "0")


def test_lua_values_become_replies(same: Differential) -> None:
    run_all(
        same,
        "return 1",
        "return 3.99",
        "return -3.99",
        "return 1e20",  # out of range: LLONG_MIN, like the C cast
        "return 1/0",
        "return 'text'",
        "return ''",
        "return true",
        "return false",
        "return nil",
        "return {}",
        "return {1, 2, 3, 'x', nil, 5}",  # an array stops at the first nil
        "return {1, {2, {3, {}}}}",
        "return {1, true, false, 3}",
        "return {foo = 'bar'}",
        "return 'first', 'second'",
        "return {ok = 'fine'}",
        "return {ok = 'a\\r\\nb'}",
        "return {err = 'My Error'}",
        "return {err = 'X\\r\\ny\\n'}",
        "return {1, 2, {err = 'inside'}, {ok = 'status'}}",
        "return {ok = 5}",
        "return {err = true}",
        "return {err = nil, ok = 'x'}",
        "return {double = 1.5}",
        "return {double = 1e300}",
        "return {map = {a = 1}}",
        "return {set = {x = true}}",
        "return {verbatim_string = {format = 'txt', string = 'hi'}}",
        "local t = {} for i = 1, 300 do t = {t} end return 1",
    )


def test_replies_become_lua_values(same: Differential) -> None:
    same("SET", "k", "v")
    same("HSET", "h", "f", "1")
    same("ZADD", "z", "1.5", "a")
    same("SADD", "s", "x")
    run_all(
        same,
        "return redis.call('get', 'k')",
        "return redis.call('get', 'missing')",
        "return type(redis.call('get', 'missing'))",
        "return redis.call('ping')",
        "return redis.call('set', 'k', 'v2')",
        "local t = redis.call('set', 'k', 'v') return t.ok",
        "return redis.call('mget', 'k', 'missing', 'k')",
        "return #redis.call('mget', 'k', 'missing', 'k')",
        "return redis.call('hgetall', 'h')",
        "return redis.call('zscore', 'z', 'a')",
        "return redis.call('zrange', 'z', 0, -1, 'withscores')",
        "return redis.call('smembers', 's')",
        "return redis.call('exists', 'k', 'missing')",
        "return redis.call('incrbyfloat', 'f', '1.5')",
        "return redis.call('type', 'h')",
        "return redis.call('lpop', 'nolist', 2)",
        "return redis.pcall('incr', 'k')",
        "local r = redis.pcall('incr', 'k') return r.err",
        "return redis.call('set', 'n', 3.14)",  # numbers are sent with %.17g
        "return redis.call('get', 'n')",
        "redis.call('set', 'n', 1e20) return redis.call('get', 'n')",
        "return redis.call('echo', 12345678901234567)",
        "return redis.call('echo', -0.5)",
        "return redis.call('echo', 1/0)",
    )


def test_resp3_inside_scripts(same: Differential) -> None:
    same("HSET", "h", "f", "1")
    same("ZADD", "z", "1.5", "a")
    same("SADD", "s", "x")
    run_all(
        same,
        "redis.setresp(3) return redis.call('hgetall', 'h')",
        "redis.setresp(3) local r = redis.call('hgetall', 'h') return {type(r.map), r.map.f}",
        "redis.setresp(3) return redis.call('zscore', 'z', 'a')",
        "redis.setresp(3) local r = redis.call('zscore', 'z', 'a') return tostring(r.double)",
        "redis.setresp(3) return redis.call('zrange', 'z', 0, -1, 'withscores')",
        "redis.setresp(3) return redis.call('smembers', 's')",
        "redis.setresp(3) local r = redis.call('smembers', 's') return tostring(r.set.x)",
        "redis.setresp(3) return redis.call('get', 'missing')",
        "redis.setresp(3) return type(redis.call('get', 'missing'))",
        "redis.setresp(3) return redis.call('smismember', 's', 'x', 'y')",
        "redis.setresp(3) return {true, false}",
        "redis.setresp(3) return {double = 3.5}",
        "redis.setresp(3) return redis.call('ping')",
        "redis.setresp(2) return redis.call('hgetall', 'h')",
    )


def test_script_errors(same: Differential) -> None:
    same("SET", "s", "text")
    run_all(
        same,
        "error('boom')",
        "error('x', 0)",
        "error(5)",
        "error(nil)",
        "error({err = 'X custom'})",
        "error({err = 5})",
        "return 1 + nil",
        "local f = function() error('inner') end f()",
        "return 'x' 'y'",  # compile error
        "return 1 +",
        "return redis.call('incr', 's')",
        "return redis.call('nosuch')",
        "return redis.call('get')",
        "return redis.call('get', 's', 'x')",
        "return redis.call()",
        "return redis.call({})",
        "return redis.call('echo', true)",
        "return redis.call('echo', nil)",
        "return redis.call('echo', 'a', nil)",
        "return redis.pcall('nosuch')",
        "return redis.pcall()",
        "return redis.call('multi')",
        "return redis.call('eval', 'return 1', 0)",
        "return redis.call('script', 'load', 'return 1')",
        "return redis.call('blpop', 'nolist', 0)",
        "return redis.call('subscribe', 'ch')",
        "local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), e}",
        "local ok, e = pcall(function() return redis.call('nosuch') end) return e",
        "local ok, e = pcall(function() local x = nil + 1 end) return e",
        "local ok, e = pcall(error, 'x') return e",
        "local ok, e = pcall(function() error({err = 'x'}) end) return {type(e), e}",
        "local ok, e = xpcall(function() redis.call('nosuch') end, function(e) return e.err end)"
        " return e",
        "local co = coroutine.create(function() redis.call('nosuch') end)"
        " local ok, e = coroutine.resume(co) return {tostring(ok), type(e), e.err}",
        "return coroutine.wrap(function() error('x') end)()",
        "return loadstring('return x')()",
    )


def test_redis_library(same: Differential) -> None:
    run_all(
        same,
        "return redis.error_reply('My Error')",
        "return redis.error_reply('boom')",
        "return redis.error_reply('-X y')",
        "return redis.error_reply('')",
        "return redis.error_reply({})",
        "return redis.error_reply('a b\\r\\nc')",
        "return redis.status_reply('fine')",
        "return redis.status_reply()",
        "return redis.status_reply(1)",
        "return redis.sha1hex('')",
        "return redis.sha1hex(1)",
        "return redis.sha1hex(1.5)",
        "return redis.sha1hex({})",
        "return redis.sha1hex()",
        "return redis.setresp()",
        "return redis.setresp(4)",
        "return redis.setresp('3')",
        "local ok, e = pcall(redis.setresp, 5) return e",
        "return redis.log()",
        "return redis.log(1)",
        "return redis.log('a', 'b')",
        "return redis.log(99, 'b')",
        "return redis.log(redis.LOG_DEBUG, 'a', 1, {})",
        "return redis.set_repl()",
        "return redis.set_repl(99)",
        "return redis.set_repl(redis.REPL_ALL)",
        "return redis.replicate_commands()",
        "return redis.breakpoint()",
        "return redis.debug('x')",
        "return redis.acl_check_cmd('get', 'x')",
        "return redis.acl_check_cmd('nosuch')",
        "return redis.acl_check_cmd()",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_ALL}",
        "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}",
        "return type(redis.call)",
        "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
    )


def test_globals_are_read_only(same: Differential) -> None:
    run_all(
        same,
        "x = 5",
        "return undefined_name",
        "redis.foo = 1",
        "string.foo = 1",
        "rawset(_G, 'x', 1)",
        "setmetatable(_G, nil)",
        "local ok, e = pcall(function() y = 1 end) return e",
        "KEYS[1] = 'a' return KEYS[1]",
        "local t = {} t.x = 1 setmetatable(t, {}) return t.x",
        "return rawget(_G, 'redis') ~= nil",
        "return rawequal(_G, _G)",
        "return type(getmetatable(_G))",
    )


def test_environment(same: Differential) -> None:
    for name in ("os", "io", "require", "debug", "print", "dofile", "loadfile", "getfenv",
                 "setfenv", "module", "package", "newproxy"):  # fmt: skip
        same("EVAL", f"return type({name})", "0")
    run_all(
        same,
        "return _VERSION",
        "return {type(loadstring), type(load), type(string.dump), type(coroutine.wrap)}",
        "return {type(bit), type(gcinfo), type(unpack), type(select)}",
        "return ('x'):rep(3)",
        "return string.format('%d', 3.7)",
        "return table.concat({'a', 'b'}, ',')",
        "return {string.byte('abc', 1, 3)}",
        "return #KEYS",
        "return loadstring('return 1')()",
        "return select(2, loadstring('x x'))",
        "return select('#', loadstring(string.dump(function() return 5 end)))",
        "local f, e = load('return 1') return e",
        "return load(function() return nil end)",
        "local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)"
        " local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co, 10)"
        " return {x, y, coroutine.status(co)}",
        "return select(2, xpcall(function() error('e') end, function(m) return 'got ' .. m end))",
        "math.randomseed(42) return {math.random(1000), math.random(1000), math.random(5, 9)}",
        "math.randomseed(-7) return {math.random(1000), tostring(math.random())}",
        "return math.random(0)",
        "return math.random(1, 2, 3)",
        "return math.random('x')",
        "return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 1), bit.bnot(0)}",
        "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(1, 33)}",
        "return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(65535, 2), bit.tohex(1, 0)}",
        "return {bit.ror(0x12345678, 8), bit.bswap(0x12345678), bit.tobit(2^32 + 5)}",
        "return {bit.tobit(1.5), bit.tobit(2.5), bit.tobit('12')}",
        "return bit.band()",
        "return bit.band('x')",
        "return bit.lshift(1)",
    )


def test_keys_argv_and_numkeys(same: Differential) -> None:
    script = "return {KEYS[1], KEYS[2], ARGV[1], #ARGV, #KEYS}"
    same("EVAL", script, "2", "k1", "k2", "a1", "a2")
    same("EVAL", script, "0", "a1")
    same("EVAL", script, "3", "a", "b")
    same("EVAL", script, "-1")
    same("EVAL", script, "abc")
    same("EVAL", "return 1 +", "abc")  # the key count is checked first
    same("EVAL", script)
    same("EVAL")


def test_script_cache(same: Differential) -> None:
    same("SCRIPT", "FLUSH")
    sha = hashlib.sha1(b"return 'loaded'").hexdigest()
    same("EVALSHA", sha, "0")
    same("SCRIPT", "LOAD", "return 'loaded'")
    same("EVALSHA", sha, "0")
    same("EVALSHA", sha.upper(), "0")
    same("EVALSHA_RO", sha, "0")
    same("SCRIPT", "EXISTS", sha, sha.upper(), "0" * 40)
    same("EVAL", "return 'cached'", "0")
    same("SCRIPT", "EXISTS", hashlib.sha1(b"return 'cached'").hexdigest())
    same("SCRIPT", "LOAD", "return 1 +")
    same("SCRIPT", "FLUSH", "ASYNC")
    same("SCRIPT", "EXISTS", sha)
    same("EVALSHA", sha, "0")
    same("SCRIPT", "FLUSH", "SYNC")
    same("EVALSHA", "abc", "0")
    same("EVALSHA", "abc", "x")  # the length is checked before the key count
    same("EVALSHA", "f" * 40, "x")


def test_script_subcommands(same: Differential) -> None:
    same("SCRIPT", "KILL")
    same("SCRIPT", "HELP")
    same("SCRIPT", "DEBUG", "NO")
    same("SCRIPT", "DEBUG", "foo")
    same("SCRIPT", "FLUSH", "foo")
    same("SCRIPT", "FLUSH", "a", "b")
    same("SCRIPT", "LOAD")
    same("SCRIPT", "KILL", "x")
    same("SCRIPT", "HELP", "x")
    same("SCRIPT", "DEBUG")
    same("SCRIPT", "EXISTS")
    same("SCRIPT", "foo")
    same("SCRIPT")


def test_shebang_and_read_only_scripts(same: Differential) -> None:
    same("EVAL", "#!lua\nreturn redis.call('set', 'x', 'y')", "0")
    same("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'x', 'y')", "0")
    same("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'x')", "0")
    same("EVAL", "#!lua flags=\nreturn 1", "0")
    same("EVAL", "#!lua   flags=no-writes,allow-oom   \nreturn 1", "0")
    same("EVAL", "#!lua flags=no-writes,,allow-oom\nreturn 1", "0")
    same("EVAL", "#!lua flags=bad\nreturn 1", "0")
    same("EVAL", "#!python\nreturn 1", "0")
    same("EVAL", "#!lua foo=bar\nreturn 1", "0")
    same("EVAL", "#!lua", "0")
    same("EVAL", "#!lua\nerror('line two')", "0")
    same("EVAL_RO", "#!lua\nreturn 1", "0")
    same("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0")
    same("EVAL_RO", "return redis.call('set', 'a', 'b')", "0")
    same("EVAL_RO", "return redis.pcall('set', 'a', 'b')", "0")
    same("EVAL_RO", "return redis.call('get', 'x')", "0")


def test_scripts_touch_watched_keys(same: Differential) -> None:
    same("WATCH", "k")
    same("EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k")
    same("MULTI")
    same("GET", "k")
    same("EXEC")


# -- PulsarDS only ----------------------------------------------------------------------------


def test_select_inside_a_script_does_not_leak(raw: Callable[..., RawClient]) -> None:
    client = raw()
    script = "redis.call('select', 5) redis.call('set', 'k', 'in5') return redis.call('get', 'k')"
    assert client.call("EVAL", script, "0") == b"in5"
    assert client.call("GET", "k") is None
    client.call("SELECT", "5")
    assert client.call("GET", "k") == b"in5"


def test_resp3_caller_gets_resp3_shapes(raw: Callable[..., RawClient]) -> None:
    client = raw(protocol=3)
    assert client.call("EVAL", "return {map = {a = 1}}", "0") == {b"a": 1}
    assert client.call("EVAL", "return {double = 1.5}", "0") == 1.5
    assert client.call("EVAL", "redis.setresp(3) return true", "0") is True
    # The script speaks RESP2 until it asks otherwise, whatever the caller speaks.
    client.call("HSET", "h", "f", "v")
    assert client.call("EVAL", "return redis.call('hgetall', 'h')", "0") == [b"f", b"v"]


@pytest.mark.parametrize(
    "script",
    [
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function() while true do end end)"
        " end",
        "local co = coroutine.wrap(function() while true do end end) co()",
        "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
        "while true do redis.pcall('incr', 'n') end",
    ],
)
def test_runaway_scripts_are_killed(
    raw: Callable[..., RawClient], pulsar: ServerThread, script: str
) -> None:
    pulsar.server.config.busy_reply_threshold = 100
    client = raw()
    reply = client.call("EVAL", script, "0")
    assert isinstance(reply, ResponseError)
    assert str(reply).startswith("ERR Script killed: it ran for longer than the 100 ms")
    assert client.call("EVAL", "return 'alive'", "0") == b"alive"


@pytest.mark.parametrize(
    "script",
    [
        "return type(python)",
        "return loadstring('return os')()",
        "return loadstring('return debug')()",
        "return load(function() return nil end)() or getfenv",
        "return string.dump(redis.call)",
        "local mt = getmetatable('') mt.__index = {} return 1",
    ],
)
def test_sandbox_refuses(raw: Callable[..., RawClient], script: str) -> None:
    reply = raw().call("EVAL", script, "0")
    assert isinstance(reply, ResponseError) or reply in (0, None), reply


def test_errors_from_python_reach_lua_as_tables_or_strings(raw: Callable[..., RawClient]) -> None:
    client = raw()
    assert client.call("EVAL", "return type(select(2, pcall(redis.call, 'nosuch')))", "0") == (
        b"string"
    )
    script = "return select(2, xpcall(function() redis.call('nosuch') end, type))"
    assert client.call("EVAL", script, "0") == b"table"
    script = (
        "local co = coroutine.create(function() redis.call('nosuch') end)"
        " return type(select(2, coroutine.resume(co)))"
    )
    assert client.call("EVAL", script, "0") == b"table"
    assert client.call("EVAL", "return tostring(redis.call):sub(1, 9)", "0") == b"function:"


def test_bytecode_is_refused(raw: Callable[..., RawClient]) -> None:
    script = "return select(2, loadstring(string.dump(function() return 5 end)))"
    reply = raw().call("EVAL", script, "0")
    assert isinstance(reply, bytes) and reply.endswith(b"unexpected symbol near 'char(27)'")


def test_script_state_does_not_leak_between_runs(raw: Callable[..., RawClient]) -> None:
    client = raw()
    client.call("EVAL", "pcall(rawset, _G, 'leak', 1) KEYS.x = 1", "0")
    reply = client.call("EVAL", "return leak", "0")
    assert isinstance(reply, ResponseError) and "nonexistent global variable 'leak'" in str(reply)
    assert client.call("EVAL", "return KEYS.x", "0") is None


def test_script_flush_keeps_the_engine_usable(raw: Callable[..., RawClient]) -> None:
    client = raw()
    sha = client.call("SCRIPT", "LOAD", "return ARGV[1]")
    assert client.call("EVALSHA", sha, "0", "a") == b"a"
    assert client.call("SCRIPT", "FLUSH") == b"OK"
    assert isinstance(client.call("EVALSHA", sha, "0", "a"), ResponseError)
    assert client.call("EVAL", "return ARGV[1]", "0", "b") == b"b"


def test_script_writes_are_one_block_in_the_aof(tmp_path: Any) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as server:
        client = RawClient(server.port)
        script = "redis.call('set', KEYS[1], '1') redis.call('incr', KEYS[1]) return 1"
        assert client.call("EVAL", script, "1", "k") == 1
        assert client.call("EVAL", "return redis.call('get', KEYS[1])", "1", "k") == b"2"
        script = "redis.set_repl(redis.REPL_NONE) redis.call('set', 'unlogged', '1') return 1"
        assert client.call("EVAL", script, "0") == 1
        client.call("MULTI")
        client.call("EVAL", "return redis.call('incr', KEYS[1])", "1", "k")
        client.call("SET", "after", "1")
        assert client.call("EXEC") == [3, b"OK"]
        client.close()
    log = (tmp_path / "pulsards.aof").read_bytes()
    assert b"EVAL" not in log and b"unlogged" not in log
    assert log.count(b"MULTI") == 2 and log.count(b"EXEC") == 2  # no block inside a block
    with ServerThread(port=0, dir=str(tmp_path), save=[], appendonly=True) as server:
        client = RawClient(server.port)
        assert client.call("MGET", "k", "after", "unlogged") == [b"3", b"1", None]
        client.close()
