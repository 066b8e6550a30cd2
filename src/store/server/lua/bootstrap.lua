-- PulsarDS's Lua side (see engine.py): the sandbox, the redis library and reply encoding.
local python_functions, version, version_num, max_depth, hook_every = ...
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

local INTERNAL = '=pulsards'
local READONLY = 'Attempt to modify a readonly table'

local killed = false  -- the kill message once the time limit has passed
local readonly = {}  -- read-only proxy -> the table it shows
local genv = {}  -- the scripts' global environment

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

local function is_readonly(t) return readonly[t] ~= nil or rawequal(t, genv) end

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
  local f, e = raw_loadstring(s, chunkname)
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

local s_redis = {
  call = py.call, pcall = py.pcall, error_reply = error_reply,
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

local s_math = copy(math)
s_math.random, s_math.randomseed = py.random, py.randomseed
local s_coroutine = copy(coroutine)
s_coroutine.create, s_coroutine.resume, s_coroutine.wrap = s_co_create, s_co_resume, s_co_wrap

local string_proxy = protect(copy(string))
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
  _G = genv,
}

setmetatable(genv, {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = function() error(READONLY, 2) end,
  __metatable = protect({}),
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

local function compile(body)
  local f, e = raw_loadstring(body, '@user_script')
  if not f then return false, e end
  setfenv(f, genv)
  return f, nil
end

local function run(f, keys, argv)
  -- Scripts cannot assign globals, but every run starts from the pristine set anyway.
  for name in next, genv do
    if pristine[name] == nil then rawset(genv, name, nil) end
  end
  for name, value in next, pristine do rawset(genv, name, value) end
  rawset(genv, 'KEYS', keys)
  rawset(genv, 'ARGV', argv)
  killed = false
  sethook(hook, '', hook_every)
  local ok, result = xpcall(f, handler)
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

-- luaL_where(1) for a Python function: the position of the code that called it.
local function where()
  local info = getinfo(3, 'Sl')
  if info and info.currentline > 0 then return info.short_src .. ':' .. info.currentline .. ': ' end
  return ''
end

-- Hands a table's items to Python many at a time (each item fetched alone costs more).
local function slice(t, i, j) return unpack(t, i, j) end

return compile, run, where, slice
