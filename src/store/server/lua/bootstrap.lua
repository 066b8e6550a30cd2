-- PulsarDS's Lua side (see engine.py): the sandbox, the redis library and reply encoding.
local python_functions, version, version_num, max_depth, hook_every, json_null, lib_impl = ...
-- Real C functions around the Python callables: a C function called in tail position
-- leaves the script's frame on the stack, which error positions need.
local py = {}
for name, f in next, python_functions do py[name] = python.as_function(f) end
local py_error_text, py_time_up = py.error_text, py.time_up

local error, type, tostring, tonumber, select, next = error, type, tostring, tonumber, select, next
local rawget, rawset, rawequal = rawget, rawset, rawequal
local setmetatable, getmetatable = setmetatable, getmetatable
local pcall, xpcall = pcall, xpcall
local unpack, setfenv, raw_loadstring = unpack, setfenv, loadstring
local getinfo, sethook = debug.getinfo, debug.sethook
local co_create, co_resume, co_wrap = coroutine.create, coroutine.resume, coroutine.wrap
local sbyte, ssub, smatch = string.byte, string.sub, string.match
local concat = table.concat

-- Scripts are compiled without tail calls (see _untail in engine.py).
local py_untail, sdump = py.untail, string.dump
local function compile_text(body, chunkname)
  local f, e = raw_loadstring(body, chunkname)
  if not f then return f, e end
  return raw_loadstring(py_untail(sdump(f)), chunkname)
end


local INTERNAL = '=pulsards'
local READONLY = 'Attempt to modify a readonly table'

local killed = false  -- the kill message once the time limit has passed
local readonly = {}  -- read-only proxy -> the table it shows
local gtable = {}  -- the globals scripts see (through genv, read-only)
local genv = {}  -- the scripts' global environment: an empty read-only proxy of gtable
local ftable = {}  -- the globals functions see when they run
local fenv = {}  -- the functions' environment: its __index is switched to lib_api on load

local function bad(i, fname, expected, ...)
  local got
  if select('#', ...) < i then got = 'no value' else got = type((select(i, ...))) end
  return "bad argument #" .. i .. " to '" .. fname .. "' ("
    .. expected .. " expected, got " .. got .. ")"
end

local function check_kill()
  if killed then error({err = killed}) end
end

local function hook()
  if not killed then
    local message = py_time_up()
    if not message then return end
    killed = message
  end
  error({err = killed})
end

-- An error raised by a Python callback arrives as a Python object: scripts only ever see
-- it as the table Redis would have raised.
local function as_table(e)
  if type(e) ~= 'userdata' then return e end
  local text, is_table = py_error_text(e)
  if is_table then return {err = text} end
  return text
end

local function protect(real)
  local proxy = setmetatable({}, {
    __index = real,
    __newindex = function() error(READONLY, 2) end,
    __metatable = false,
  })
  readonly[proxy] = real
  return proxy
end

local function is_readonly(t) return readonly[t] ~= nil end

-- Base library replacements that know about read-only tables.

local function s_next(...)
  local t, k = ...
  if type(t) ~= 'table' then error(bad(1, 'next', 'table', ...), 2) end
  return next(readonly[t] or t, k)
end

local function s_pairs(...)
  local t = ...
  if type(t) ~= 'table' then error(bad(1, 'pairs', 'table', ...), 2) end
  local real = readonly[t]
  if real then return function(_, k) return next(real, k) end, t, nil end
  return next, t, nil
end

local function s_rawget(...)
  local t, k = ...
  if type(t) ~= 'table' then error(bad(1, 'rawget', 'table', ...), 2) end
  return rawget(readonly[t] or t, k)
end

local function s_rawset(...)
  local t, k, v = ...
  if type(t) ~= 'table' then error(bad(1, 'rawset', 'table', ...), 2) end
  if is_readonly(t) then error(READONLY, 0) end
  if k == nil then error('table index is nil', 2) end
  return rawset(t, k, v)
end

local function s_setmetatable(...)
  local t, mt = ...
  if type(t) ~= 'table' then error(bad(1, 'setmetatable', 'table', ...), 2) end
  if mt ~= nil and type(mt) ~= 'table' then
    error(bad(2, 'setmetatable', 'nil or table', ...), 2)
  end
  if is_readonly(t) then error(READONLY, 0) end
  if not pcall(setmetatable, t, mt) then error('cannot change a protected metatable', 2) end
  return t
end

-- Redis 7.0's pcall: an error table becomes its message.
local function after_pcall(ok, ...)
  check_kill()
  if ok then return true, ... end
  local e = as_table((...))
  if type(e) == 'table' and not is_readonly(e) then
    local message = rawget(e, 'err')
    if type(message) == 'string' or type(message) == 'number' then e = message end
  end
  return false, e
end

local function s_pcall(...)
  if select('#', ...) == 0 then return false, "bad argument #1 to 'pcall' (value expected)" end
  return after_pcall(pcall(...))
end

local function after_xpcall(...)
  check_kill()
  return ...
end

local function s_xpcall(f, handler)
  return after_xpcall(xpcall(f, function(e)
    -- A kill raised by the hook reaches the handler with hooks off: skip user code then.
    if killed then return e end
    return handler(as_table(e))
  end))
end

local function chunkid(source)
  local first = ssub(source, 1, 1)
  if first == '=' or first == '@' then return ssub(source, 2) end
  local line = smatch(source, '^[^\r\n%z]*')
  if #line > 45 then line = ssub(line, 1, 45) .. '...'
  elseif #line < #source and sbyte(source, #line + 1) ~= 0 then line = line .. '...' end
  return '[string "' .. line .. '"]'
end

local function s_loadstring(...)
  local s, chunkname = ...
  if type(s) ~= 'string' and type(s) ~= 'number' then
    error(bad(1, 'loadstring', 'string', ...), 2)
  end
  s = tostring(s)
  if sbyte(s, 1) == 27 then
    -- Bytecode is compiled as text, as Redis does, so it never reaches the undumper.
    return nil, chunkid(chunkname or s) .. ":1: unexpected symbol near 'char(27)'"
  end
  local f, e = compile_text(s, chunkname)
  if f then setfenv(f, genv) end
  return f, e
end

local function s_load(...)
  local reader, chunkname = ...
  if type(reader) ~= 'function' then error(bad(1, 'load', 'function', ...), 2) end
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    if type(piece) == 'number' then piece = tostring(piece) end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return s_loadstring(concat(parts), chunkname or '=(load)')
end

-- Coroutines get the time-limit hook too (hooks are per thread: the first thing a new
-- coroutine does is hook itself), and resuming one passes a kill on.

local function hooked(f)
  return function(...)
    sethook(hook, '', hook_every)
    return f(...)
  end
end

local function s_co_create(...)
  local f = ...
  if type(f) ~= 'function' then error(bad(1, 'create', 'function', ...), 2) end
  return co_create(hooked(f))
end

local function after_resume(ok, ...)
  check_kill()
  if ok then return true, ... end
  return false, as_table((...))
end

local function s_co_resume(...)
  return after_resume(co_resume(...))
end

local function s_co_wrap(...)
  local f = ...
  if type(f) ~= 'function' then error(bad(1, 'wrap', 'function', ...), 2) end
  return co_wrap(hooked(f))
end

-- The redis library: the functions that can fail are the Python ones.

local function trim_crlf(s) return smatch(s, '^[\r\n]*(.-)[\r\n]*$') end

local function error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  if sbyte(e, 1) == 45 then e = ssub(e, 2) end
  local code, message = smatch(e, '^([^ ]*) (.*)$')
  if not code then code, message = 'ERR', e end
  return {err = code .. ' ' .. trim_crlf(message)}
end

local function status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end

-- More arguments than lupa hands to Python (it needs stack room of its own) go in a table.
local MANY_ARGS = 7900
local py_call, py_pcall, py_call_args = py.call, py.pcall, py.call_args
local function redis_call(...)
  if select('#', ...) < MANY_ARGS then return py_call(...) end
  return py_call_args(false, {...}, select('#', ...))
end
local function redis_pcall(...)
  if select('#', ...) < MANY_ARGS then return py_pcall(...) end
  return py_call_args(true, {...}, select('#', ...))
end

local s_redis = {
  call = redis_call, pcall = redis_pcall, error_reply = error_reply,
  status_reply = status_reply, sha1hex = py.sha1hex, log = py.log, setresp = py.setresp,
  set_repl = py.set_repl, acl_check_cmd = py.acl_check_cmd,
  replicate_commands = function() return true end,
  breakpoint = function() return false end,
  debug = function() end,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = version, REDIS_VERSION_NUM = version_num,
}

local function copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  return c
end

local s_bit = {}
for _, name in ipairs({'tobit', 'tohex', 'bnot', 'band', 'bor', 'bxor', 'lshift', 'rshift',
                       'arshift', 'rol', 'ror', 'bswap'}) do
  s_bit[name] = py['bit.' .. name]
end

-- cjson and cmsgpack (libs.lua) behind wrappers that raise their errors as luaL_error and
-- luaL_argerror do (at the caller's position, with the name it used); struct (Python).
local function pack(...) return {n = select('#', ...), ...} end

local function lib_function(f)
  return function(...)
    local results = pack(pcall(f, ...))
    if results[1] then return unpack(results, 2, results.n) end
    check_kill()
    local e = results[2]
    if type(e) ~= 'string' then error(e, 0) end
    local index, message = smatch(e, "^bad argument #(%d+) to '[^']*' %((.*)%)$")
    if index then
      local info = getinfo(1, 'n')
      local name = info and info.name or '?'
      index = tonumber(index)
      if info and info.namewhat == 'method' then
        index = index - 1
        if index == 0 then error("calling '" .. name .. "' on bad self (" .. message .. ')', 2) end
      end
      e = 'bad argument #' .. index .. " to '" .. name .. "' (" .. message .. ')'
    end
    error(e, 2)
  end
end

local libs = {cjson = {}, cmsgpack = {}, struct = {}}
for lib, functions in next, lib_impl do
  for fname, f in next, functions do libs[lib][fname] = lib_function(f) end
end
for name, f in next, py do
  local lib, fname = smatch(name, '^(%a+)%.([%w_]+)$')
  if lib and libs[lib] then libs[lib][fname] = f end
end
libs.cjson.null, libs.cjson._NAME, libs.cjson._VERSION = json_null, 'cjson', '2.1.0'
libs.cjson.new = function() return libs.cjson end
libs.cmsgpack._NAME, libs.cmsgpack._VERSION = 'cmsgpack', 'lua-cmsgpack 0.4.0'
libs.cmsgpack._COPYRIGHT = 'Copyright (C) 2012, Salvatore Sanfilippo'
libs.cmsgpack._DESCRIPTION = 'MessagePack C implementation for Lua'

local s_math = copy(math)
s_math.random, s_math.randomseed = py.random, py.randomseed
local s_coroutine = copy(coroutine)
s_coroutine.create, s_coroutine.resume, s_coroutine.wrap = s_co_create, s_co_resume, s_co_wrap

-- string.dump of the engine's own functions fails as it does on Redis's C functions.
local s_string = copy(string)
s_string.dump = function(...)
  local f = ...
  if type(f) == 'function' then
    local info = getinfo(f, 'S')
    if info.what == 'C' or info.source == INTERNAL then
      error('unable to dump given function', 2)
    end
  end
  return sdump(...)
end
local string_proxy = protect(s_string)
local string_meta = getmetatable('')
string_meta.__index = string_proxy
string_meta.__metatable = protect({__index = string_proxy})

local pristine = {
  assert = assert, collectgarbage = collectgarbage, error = error, gcinfo = gcinfo,
  getmetatable = getmetatable, ipairs = ipairs, load = s_load, loadstring = s_loadstring,
  next = s_next, pairs = s_pairs, pcall = s_pcall, rawequal = rawequal, rawget = s_rawget,
  rawset = s_rawset, select = select, setmetatable = s_setmetatable, tonumber = tonumber,
  tostring = tostring, type = type, unpack = unpack, xpcall = s_xpcall, _VERSION = _VERSION,
  string = string_proxy, table = protect(copy(table)), math = protect(s_math),
  coroutine = protect(s_coroutine), redis = protect(s_redis), bit = protect(s_bit),
  cjson = protect(libs.cjson), cmsgpack = protect(libs.cmsgpack), struct = protect(libs.struct),
}

local function nonexistent(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
local function refuse_write() error(READONLY, 2) end

-- Redis protects the global table itself: no global can be set, not even an existing one.
local function proxy_env(env, real)
  local meta = {__index = real, __newindex = refuse_write, __metatable = protect({})}
  setmetatable(env, meta)
  readonly[env] = real
  return meta
end

for name, value in next, pristine do gtable[name] = value; ftable[name] = value end
gtable._G, ftable._G = genv, fenv
setmetatable(gtable, {__index = nonexistent})
setmetatable(ftable, {__index = nonexistent})
proxy_env(genv, gtable)
local fmeta = proxy_env(fenv, ftable)

-- What a library's code sees while FUNCTION LOAD runs it: redis.register_function, log
-- and the version, nothing else.
local registered = nil  -- the functions of the library being loaded
local function register_function(...)
  local count = select('#', ...)
  if registered == nil then
    error({err = 'ERR redis.register_function can only be called on FUNCTION LOAD command'})
  end
  local name, callback, flags, description
  if count == 1 then
    local args = ...
    if type(args) ~= 'table' then
      error({err = 'ERR calling redis.register_function with a single argument is only '
        .. 'applicable to Lua table (representing named arguments).'})
    end
    for key, value in next, readonly[args] or args do
      if type(key) ~= 'string' and type(key) ~= 'number' then
        error({err = 'ERR named argument key given to redis.register_function is not a string'})
      end
      local lower = string.lower(tostring(key))
      if lower == 'function_name' then
        if type(value) ~= 'string' and type(value) ~= 'number' then
          error({err = 'ERR function_name argument given to redis.register_function must be a string'})
        end
        name = tostring(value)
      elseif lower == 'description' then
        if type(value) ~= 'string' and type(value) ~= 'number' then
          error({err = 'ERR description argument given to redis.register_function must be a string'})
        end
        description = tostring(value)
      elseif lower == 'callback' then
        if type(value) ~= 'function' then
          error({err = 'ERR callback argument given to redis.register_function must be a function'})
        end
        callback = value
      elseif lower == 'flags' then
        if type(value) ~= 'table' then
          error({err = 'ERR flags argument to redis.register_function must be a table representing function flags'})
        end
        flags = {}
        local i = 1
        while true do
          local flag = value[i]
          if flag == nil then break end
          if type(flag) ~= 'string' and type(flag) ~= 'number' then
            error({err = 'ERR unknown flag given'})
          end
          flags[i] = tostring(flag)
          i = i + 1
        end
      else
        error({err = 'ERR unknown argument given to redis.register_function'})
      end
    end
    if name == nil then error({err = 'ERR redis.register_function must get a function name argument'}) end
    if callback == nil then error({err = 'ERR redis.register_function must get a callback argument'}) end
  elseif count == 2 then
    name, callback = ...
    if type(name) ~= 'string' and type(name) ~= 'number' then
      error({err = 'ERR first argument to redis.register_function must be a string'})
    end
    name = tostring(name)
    if type(callback) ~= 'function' then
      error({err = 'ERR second argument to redis.register_function must be a function'})
    end
  else
    error({err = 'ERR wrong number of arguments to redis.register_function'})
  end
  local problem = py.check_function(name, flags or {}, registered)
  if problem then error({err = problem}) end
  registered[#registered + 1] = {name, callback, flags or {}, description}
end

local function api_table(t)
  setmetatable(t, {__index = nonexistent})
  return protect(t)
end
local lib_api = api_table({
  redis = api_table({
    register_function = register_function, log = py.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = version, REDIS_VERSION_NUM = version_num,
  }),
})

-- Errors become {err=..., source=..., line=...}: the position is the first frame that is
-- a script's, like Redis's __redis__err__handler (which skips one C frame).
local function handler(e)
  local info
  local level = 2
  while true do
    local frame = getinfo(level, 'Sl')
    if frame == nil then break end
    if frame.what ~= 'C' and frame.what ~= 'tail' and frame.source ~= INTERNAL then
      info = frame
      break
    end
    level = level + 1
  end
  e = as_table(e)
  if type(e) ~= 'table' or is_readonly(e) then e = {err = 'ERR ' .. tostring(e)} end
  if info then
    rawset(e, 'source', info.source)
    rawset(e, 'line', info.currentline)
  end
  return e
end

-- A script's reply as a flat list of tagged values, read by the engine.
local encode
encode = function(v, out, n, depth)
  local kind = type(v)
  if kind == 'string' then out[n + 1] = 1; out[n + 2] = v; return n + 2 end
  if kind == 'number' then out[n + 1] = 2; out[n + 2] = v; return n + 2 end
  if kind == 'boolean' then out[n + 1] = 3; out[n + 2] = v; return n + 2 end
  if kind ~= 'table' then out[n + 1] = 0; return n + 1 end
  if depth >= max_depth then
    out[n + 1] = 4; out[n + 2] = 'ERR reached lua stack limit'; return n + 2
  end
  local field = rawget(v, 'err')
  if type(field) == 'string' then out[n + 1] = 4; out[n + 2] = field; return n + 2 end
  field = rawget(v, 'ok')
  if type(field) == 'string' then out[n + 1] = 5; out[n + 2] = field; return n + 2 end
  field = rawget(v, 'double')
  if type(field) == 'number' then out[n + 1] = 6; out[n + 2] = field; return n + 2 end
  field = rawget(v, 'big_number')
  if type(field) == 'string' then out[n + 1] = 7; out[n + 2] = field; return n + 2 end
  field = rawget(v, 'verbatim_string')
  if type(field) == 'table' then
    local format, text = rawget(field, 'format'), rawget(field, 'string')
    if type(format) == 'string' and type(text) == 'string' then
      out[n + 1] = 8; out[n + 2] = text; return n + 2
    end
  end
  field = rawget(v, 'map')
  if type(field) == 'table' then
    out[n + 1] = 9
    local at, count = n + 2, 0
    n = n + 2
    for key, value in next, field do
      n = encode(key, out, n, depth + 1)
      n = encode(value, out, n, depth + 1)
      count = count + 1
    end
    out[at] = count
    return n
  end
  field = rawget(v, 'set')
  if type(field) == 'table' then
    out[n + 1] = 10
    local at, count = n + 2, 0
    n = n + 2
    for key in next, field do
      n = encode(key, out, n, depth + 1)
      count = count + 1
    end
    out[at] = count
    return n
  end
  out[n + 1] = 11
  local at, i = n + 2, 1
  n = n + 2
  while true do
    local item = rawget(v, i)
    if item == nil then break end
    n = encode(item, out, n, depth + 1)
    i = i + 1
  end
  out[at] = i - 1
  return n
end

-- Redis 7.0 leaves its error handler among the scripts' globals.
rawset(gtable, '__redis__err__handler', handler)

local function compile(body, chunkname, env)
  local f, e = compile_text(body, chunkname or '@user_script')
  if not f then return false, e end
  setfenv(f, env or genv)
  return f, nil
end

local function finish(ok, result)
  sethook()
  killed = false
  if not ok then
    if type(result) ~= 'table' then return false, 'ERR ' .. tostring(result) end
    local message = rawget(result, 'err')
    if type(message) == 'number' then message = tostring(message) end
    if type(message) ~= 'string' then message = nil end
    return false, message, rawget(result, 'source'), rawget(result, 'line')
  end
  local out = {}
  local n = encode(result, out, 0, 0)
  return true, out, n
end

local function run(f, keys, argv, is_function)
  killed = false
  sethook(hook, '', hook_every)
  if is_function then
    return finish(xpcall(function() return f(keys, argv) end, handler))
  end
  rawset(gtable, 'KEYS', keys)
  rawset(gtable, 'ARGV', argv)
  return finish(xpcall(f, handler))
end

-- FUNCTION LOAD: run a library's code with the load API as its globals; the functions it
-- registered, or false and the error.
local function load_library(f)
  registered = {}
  fmeta.__index, readonly[fenv] = lib_api, lib_api
  killed = false
  sethook(hook, '', hook_every)
  local ok, e = xpcall(f, handler)
  sethook()
  killed = false
  fmeta.__index, readonly[fenv] = ftable, ftable
  local functions = registered
  registered = nil
  if not ok then
    if type(e) == 'table' then
      local message = rawget(e, 'err')
      if type(message) == 'number' then message = tostring(message) end
      if type(message) ~= 'string' then message = 'ERR the error raised has no err field' end
      e = message
    end
    return false, tostring(e)
  end
  return true, functions
end

-- luaL_where(1) for a Python function: the position of the code that called it.
local function where()
  local info = getinfo(3, 'Sl')
  if info and info.currentline > 0 then return info.short_src .. ':' .. info.currentline .. ': ' end
  return ''
end

-- Hands a table's items to Python many at a time (each item fetched alone costs more).
local function slice(t, i, j) return unpack(t, i, j) end

local function readonly_of(t) return readonly[t] or t end

-- What luaL_argerror calls the C function that is running (a Python one): its name as the
-- caller spelled it, or nil, and how ("method", "field", "local"...).
local function callee()
  local info = getinfo(2, 'n')
  if info == nil then return nil, nil end
  return info.name, info.namewhat
end

return compile, run, where, slice, load_library, fenv, readonly_of, callee
