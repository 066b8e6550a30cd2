-- The cjson and cmsgpack libraries Redis 7.0 gives scripts, written in Lua to give the
-- same bytes as Redis's C code (lua_cjson 2.1.0, lua-cmsgpack 0.4.0). Errors are raised as
-- strings without a position: bootstrap.lua's wrappers add the script's position and the
-- function's name as luaL_error and luaL_argerror do. Tables are walked with next() and made in the same order as the C
-- code does, so that the order of keys is the same as in Redis's Lua.
local null = ...
local type, next, error, tostring, tonumber, select = type, next, error, tostring, tonumber, select
local floor, huge = math.floor, math.huge
local sbyte, schar, ssub, sfind, sformat, slower = string.byte, string.char, string.sub,
  string.find, string.format, string.lower
local concat = table.concat
local rawget, rawequal, pcall, unpack, ipairs = rawget, rawequal, pcall, unpack, ipairs

local readonly_of = function(t) return t end  -- replaced by bootstrap.lua

local function is_nan_or_inf(n) return n ~= n or n == huge or n == -huge end

-- cjson ------------------------------------------------------------------------------------

local cfg = {
  sparse_convert = false, sparse_ratio = 2, sparse_safe = 10,
  encode_max_depth = 1000, decode_max_depth = 1000,
  encode_invalid_numbers = 0, decode_invalid_numbers = true,
  keep_buffer = true, precision = 14,
}

local escapes = {}
for i = 0, 31 do escapes[schar(i)] = sformat('\\u%04x', i) end
escapes['\b'], escapes['\t'], escapes['\n'], escapes['\f'], escapes['\r'] =
  '\\b', '\\t', '\\n', '\\f', '\\r'
escapes['"'], escapes['\\'], escapes['/'], escapes['\127'] = '\\"', '\\\\', '\\/', '\\u007f'

local function typename(v)
  local t = type(v)
  if t == 'userdata' and v == null then return 'userdata' end
  return t
end

local function encode_string(s)
  return '"' .. s:gsub('[%z\1-\31"\\/\127]', escapes) .. '"'
end

local function encode_number(n)
  if cfg.encode_invalid_numbers == 0 then
    if is_nan_or_inf(n) then error('Cannot serialise number: must not be NaN or Inf', 0) end
  elseif cfg.encode_invalid_numbers == 1 then
    if n ~= n then return 'nan' end
  elseif is_nan_or_inf(n) then
    return 'null'
  end
  return sformat('%.' .. cfg.precision .. 'g', n)
end

local encode_value

local function array_length(t)
  local max, items = 0, 0
  for k in next, t do
    if type(k) == 'number' and k ~= 0 and floor(k) == k and k >= 1 then
      if k > max then max = k end
      items = items + 1
    else
      return -1
    end
  end
  if cfg.sparse_ratio > 0 and max > items * cfg.sparse_ratio and max > cfg.sparse_safe then
    if not cfg.sparse_convert then error('Cannot serialise table: excessively sparse array', 0) end
    return -1
  end
  return max
end

encode_value = function(v, depth, out, n)
  local t = type(v)
  if t == 'string' then out[n + 1] = encode_string(v); return n + 1 end
  if t == 'number' then out[n + 1] = encode_number(v); return n + 1 end
  if t == 'boolean' then out[n + 1] = v and 'true' or 'false'; return n + 1 end
  if t == 'nil' or rawequal(v, null) then out[n + 1] = 'null'; return n + 1 end
  if t ~= 'table' then error('Cannot serialise ' .. t .. ': type not supported', 0) end
  v = readonly_of(v)
  depth = depth + 1
  if depth > cfg.encode_max_depth then
    error(sformat('Cannot serialise, excessive nesting (%d)', depth), 0)
  end
  local len = array_length(v)
  if len > 0 then
    out[n + 1] = '['
    n = n + 1
    for i = 1, len do
      if i > 1 then out[n + 1] = ','; n = n + 1 end
      n = encode_value(v[i], depth, out, n)
    end
    out[n + 1] = ']'
    return n + 1
  end
  out[n + 1] = '{'
  n = n + 1
  local comma = false
  for key, value in next, v do
    if comma then out[n + 1] = ','; n = n + 1 else comma = true end
    local kt = type(key)
    if kt == 'number' then
      out[n + 1] = '"' .. encode_number(key) .. '":'
    elseif kt == 'string' then
      out[n + 1] = encode_string(key) .. ':'
    else
      error('Cannot serialise ' .. kt .. ': table key must be a number or string', 0)
    end
    n = encode_value(value, depth, out, n + 1)
  end
  out[n + 1] = '}'
  return n + 1
end

local function cjson_encode(...)
  if select('#', ...) ~= 1 then error("bad argument #1 to 'encode' (expected 1 argument)", 0) end
  local out = {}
  local n = encode_value((...), 0, out, 0)
  return concat(out, '', 1, n)
end

-- Decoding: a tokenizer like the C one, so that errors name the same character.

local T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END = 'T_OBJ_BEGIN', 'T_OBJ_END',
  'T_ARR_BEGIN', 'T_ARR_END'
local single = {
  ['{'] = T_OBJ_BEGIN, ['}'] = T_OBJ_END, ['['] = T_ARR_BEGIN, [']'] = T_ARR_END,
  [','] = 'T_COMMA', [':'] = 'T_COLON',
}
local unescape = {
  ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', t = '\t', n = '\n', f = '\f', r = '\r',
}

local function utf8(cp)
  if cp <= 0x7F then return schar(cp) end
  if cp <= 0x7FF then return schar(floor(cp / 64) + 0xC0, cp % 64 + 0x80) end
  if cp <= 0xFFFF then
    return schar(floor(cp / 4096) + 0xE0, floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
  end
  return schar(floor(cp / 262144) + 0xF0, floor(cp / 4096) % 64 + 0x80,
    floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
end

local function hex4(s, pos)
  local h = ssub(s, pos, pos + 3)
  if #h < 4 or not sfind(h, '^%x%x%x%x$') then return nil end
  return tonumber(h, 16)
end

-- strtod's longest prefix at pos: (number, end position) or nil.
local strtod = nil  -- set by bootstrap.lua (a Python function)

local function is_invalid_number(s, pos)
  local c = ssub(s, pos, pos)
  if c == '+' then return true end
  if c == '-' then pos = pos + 1; c = ssub(s, pos, pos) end
  if c == '0' then
    local c2 = sbyte(s, pos + 1) or 0
    if c2 == 88 or c2 == 120 or (c2 >= 48 and c2 <= 57) then return true end
    return false
  elseif c ~= '' and sbyte(c) <= 57 then
    return false
  end
  local word = slower(ssub(s, pos, pos + 2))
  return word == 'inf' or word == 'nan'
end

-- A token: kind, value, index (0-based, as the C code counts) and the next position.
local function next_token(s, pos)
  local _, e = sfind(s, '^[ \t\n\r]*', pos)
  pos = e + 1
  local c = ssub(s, pos, pos)
  local index = pos - 1
  if c == '' or c == '\0' then return 'T_END', nil, index, pos end
  local kind = single[c]
  if kind then return kind, nil, index, pos + 1 end
  if c == '"' then
    local parts, n = {}, 0
    local p = pos + 1
    while true do
      local q = sfind(s, '["\\%z]', p)
      if q == nil or sbyte(s, q) == 0 then
        return 'T_ERROR', 'unexpected end of string', (q or #s + 1) - 1, pos
      end
      if q > p then n = n + 1; parts[n] = ssub(s, p, q - 1) end
      if sbyte(s, q) == 34 then
        return 'T_STRING', concat(parts, '', 1, n), index, q + 1
      end
      local esc = ssub(s, q + 1, q + 1)
      if esc == 'u' then
        local cp = hex4(s, q + 2)
        local len = 6
        local bad = cp == nil
        if not bad and cp >= 0xD800 and cp <= 0xDFFF then
          if cp >= 0xDC00 or ssub(s, q + 6, q + 7) ~= '\\u' then
            bad = true
          else
            local low = hex4(s, q + 8)
            if low == nil or low < 0xDC00 or low > 0xDFFF then
              bad = true
            else
              cp = (cp - 0xD800) * 1024 + (low - 0xDC00) + 0x10000
              len = 12
            end
          end
        end
        if bad then return 'T_ERROR', 'invalid unicode escape code', q - 1, pos end
        n = n + 1
        parts[n] = utf8(cp)
        p = q + len
      else
        local ch = unescape[esc]
        if ch == nil then return 'T_ERROR', 'invalid escape code', q - 1, pos end
        n = n + 1
        parts[n] = ch
        p = q + 2
      end
    end
  end
  if c == '-' or (c >= '0' and c <= '9') then
    if not cfg.decode_invalid_numbers and is_invalid_number(s, pos) then
      return 'T_ERROR', 'invalid number', index, pos
    end
    local number, stop = strtod(s, pos)
    if number == nil then return 'T_ERROR', 'invalid number', index, pos end
    return 'T_NUMBER', number, index, stop
  end
  if ssub(s, pos, pos + 3) == 'true' then return 'T_BOOLEAN', true, index, pos + 4 end
  if ssub(s, pos, pos + 4) == 'false' then return 'T_BOOLEAN', false, index, pos + 5 end
  if ssub(s, pos, pos + 3) == 'null' then return 'T_NULL', nil, index, pos + 4 end
  if cfg.decode_invalid_numbers and is_invalid_number(s, pos) then
    local number, stop = strtod(s, pos)
    if number == nil then return 'T_ERROR', 'invalid number', index, pos end
    return 'T_NUMBER', number, index, stop
  end
  return 'T_ERROR', 'invalid token', index, pos
end

local function parse_error(expected, kind, value, index)
  local found = kind == 'T_ERROR' and value or kind
  error(sformat('Expected %s but found %s at character %d', expected, found, index + 1), 0)
end

local process_value

local function descend(depth, pos)
  depth = depth + 1
  if depth > cfg.decode_max_depth then
    error(sformat('Found too many nested data structures (%d) at character %d', depth, pos - 1), 0)
  end
  return depth
end

local function parse_object(s, pos, depth)
  depth = descend(depth, pos)
  local t = {}
  local kind, value, index
  kind, value, index, pos = next_token(s, pos)
  if kind == T_OBJ_END then return t, pos end
  while true do
    if kind ~= 'T_STRING' then parse_error('object key string', kind, value, index) end
    local key = value
    kind, value, index, pos = next_token(s, pos)
    if kind ~= 'T_COLON' then parse_error('colon', kind, value, index) end
    kind, value, index, pos = next_token(s, pos)
    local item
    item, pos = process_value(s, kind, value, index, pos, depth)
    t[key] = item
    kind, value, index, pos = next_token(s, pos)
    if kind == T_OBJ_END then return t, pos end
    if kind ~= 'T_COMMA' then parse_error('comma or object end', kind, value, index) end
    kind, value, index, pos = next_token(s, pos)
  end
end

local function parse_array(s, pos, depth)
  depth = descend(depth, pos)
  local t = {}
  local kind, value, index
  kind, value, index, pos = next_token(s, pos)
  if kind == T_ARR_END then return t, pos end
  local i = 1
  while true do
    local item
    item, pos = process_value(s, kind, value, index, pos, depth)
    t[i] = item
    i = i + 1
    kind, value, index, pos = next_token(s, pos)
    if kind == T_ARR_END then return t, pos end
    if kind ~= 'T_COMMA' then parse_error('comma or array end', kind, value, index) end
    kind, value, index, pos = next_token(s, pos)
  end
end

process_value = function(s, kind, value, index, pos, depth)
  if kind == 'T_STRING' or kind == 'T_NUMBER' or kind == 'T_BOOLEAN' then return value, pos end
  if kind == T_OBJ_BEGIN then return parse_object(s, pos, depth) end
  if kind == T_ARR_BEGIN then return parse_array(s, pos, depth) end
  if kind == 'T_NULL' then return null, pos end
  parse_error('value', kind, value, index)
end

local function cjson_decode(...)
  if select('#', ...) ~= 1 then error("bad argument #1 to 'decode' (expected 1 argument)", 0) end
  local s = ...
  if type(s) == 'number' then s = tostring(s) end
  if type(s) ~= 'string' then
    error("bad argument #1 to 'decode' (string expected, got " .. typename(s) .. ')', 0)
  end
  if #s >= 2 and (sbyte(s, 1) == 0 or sbyte(s, 2) == 0) then
    error('JSON parser does not support UTF-16 or UTF-32', 0)
  end
  local kind, value, index, pos = next_token(s, 1)
  local result
  result, pos = process_value(s, kind, value, index, pos, 0)
  kind, value, index = next_token(s, pos)
  if kind ~= 'T_END' then parse_error('the end', kind, value, index) end
  return result
end

-- The configuration functions: (arguments) -> current setting(s).
local function too_many(count, limit, fname)
  if count > limit then
    error(sformat("bad argument #%d to '%s' (found too many arguments)", limit + 1, fname), 0)
  end
end

local function check_integer(v, index, fname)
  local n = tonumber(v)
  if type(v) ~= 'number' and type(v) ~= 'string' or n == nil then
    error(sformat("bad argument #%d to '%s' (number expected, got %s)", index, fname,
      typename(v)), 0)
  end
  if n >= 0 then return floor(n) end
  return -floor(-n)
end

local function integer_option(v, index, key, min, max, fname)
  if v ~= nil then
    local n = check_integer(v, index, fname)
    if n < min or n > max then
      error(sformat("bad argument #1 to '%s' (expected integer between %d and %d)", fname,
        min, max), 0)
    end
    cfg[key] = n
  end
  return cfg[key]
end

local function enum_option(v, index, options, fname)
  if type(v) == 'boolean' then return v and 1 or 0 end
  if type(v) ~= 'string' and type(v) ~= 'number' then
    error(sformat("bad argument #%d to '%s' (string expected, got %s)", index, fname,
      typename(v)), 0)
  end
  v = tostring(v)
  for i, name in ipairs(options) do
    if name == v then return i - 1 end
  end
  error(sformat("bad argument #%d to '%s' (invalid option '%s')", index, fname, v), 0)
end

local bool_options = {'off', 'on'}

local function bool_setting(fname, key)
  return function(...)
    too_many(select('#', ...), 1, fname)
    local v = ...
    if v ~= nil then cfg[key] = enum_option(v, 1, bool_options, fname) == 1 end
    return cfg[key]
  end
end

local cjson = {
  encode = cjson_encode,
  decode = cjson_decode,
  encode_sparse_array = function(...)
    too_many(select('#', ...), 3, 'encode_sparse_array')
    local convert, ratio, safe = ...
    if convert ~= nil then
      cfg.sparse_convert = enum_option(convert, 1, bool_options, 'encode_sparse_array') == 1
    end
    integer_option(ratio, 2, 'sparse_ratio', 0, 2147483647, 'encode_sparse_array')
    integer_option(safe, 3, 'sparse_safe', 0, 2147483647, 'encode_sparse_array')
    return cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
  end,
  encode_max_depth = function(...)
    too_many(select('#', ...), 1, 'encode_max_depth')
    return integer_option((...), 1, 'encode_max_depth', 1, 2147483647, 'encode_max_depth')
  end,
  decode_max_depth = function(...)
    too_many(select('#', ...), 1, 'decode_max_depth')
    return integer_option((...), 1, 'decode_max_depth', 1, 2147483647, 'decode_max_depth')
  end,
  encode_number_precision = function(...)
    too_many(select('#', ...), 1, 'encode_number_precision')
    return integer_option((...), 1, 'precision', 1, 14, 'encode_number_precision')
  end,
  encode_keep_buffer = bool_setting('encode_keep_buffer', 'keep_buffer'),
  encode_invalid_numbers = function(...)
    too_many(select('#', ...), 1, 'encode_invalid_numbers')
    local v = ...
    if v ~= nil then
      cfg.encode_invalid_numbers = enum_option(v, 1, {'off', 'on', 'null'},
        'encode_invalid_numbers')
    end
    local setting = cfg.encode_invalid_numbers
    if setting == 2 then return 'null' end
    return setting == 1
  end,
  decode_invalid_numbers = bool_setting('decode_invalid_numbers', 'decode_invalid_numbers'),
}

-- cmsgpack ---------------------------------------------------------------------------------

local MAX_NESTING = 16
local pack_number = nil  -- set by bootstrap.lua (a Python function)
local unpack_number = nil

local function be(n, bytes)
  local out = {}
  for i = bytes, 1, -1 do
    out[i] = n % 256
    n = floor(n / 256)
  end
  return schar(unpack(out))
end

local function mp_length(len, fix, fixmax, b16, b32)
  if len <= fixmax then return schar(fix + len) end
  if len <= 0xffff then return schar(b16) .. be(len, 2) end
  return schar(b32) .. be(len, 4)
end

local mp_encode

local function is_array(t)
  local count, max = 0, 0
  for k in next, t do
    if type(k) ~= 'number' or k <= 0 or k ~= floor(k) or k >= 2147483648 then return false end
    if k > max then max = k end
    count = count + 1
  end
  return max == count
end

mp_encode = function(v, level, out)
  local t = type(v)
  if t == 'table' and level == MAX_NESTING then t = 'nil' end
  if t == 'string' then
    local len = #v
    if len < 32 then out[#out + 1] = schar(0xa0 + len)
    elseif len <= 0xff then out[#out + 1] = schar(0xd9, len)
    else out[#out + 1] = mp_length(len, 0, -1, 0xda, 0xdb) end
    out[#out + 1] = v
  elseif t == 'boolean' then
    out[#out + 1] = v and '\195' or '\194'
  elseif t == 'number' then
    out[#out + 1] = pack_number(v)
  elseif t == 'table' then
    v = readonly_of(v)
    if is_array(v) then
      local len = #v
      out[#out + 1] = mp_length(len, 0x90, 15, 0xdc, 0xdd)
      for i = 1, len do mp_encode(v[i], level + 1, out) end
    else
      local len = 0
      for _ in next, v do len = len + 1 end
      out[#out + 1] = mp_length(len, 0x80, 15, 0xde, 0xdf)
      for key, value in next, v do
        mp_encode(key, level + 1, out)
        mp_encode(value, level + 1, out)
      end
    end
  else
    out[#out + 1] = '\192'
  end
end

local function mp_pack(...)
  local count = select('#', ...)
  if count == 0 then error("bad argument #0 to 'pack' (MessagePack pack needs input.)", 0) end
  if count * 2 > 8000 then  -- lua_checkstack(L, nargs) fails beyond LUAI_MAXCSTACK
    error("bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)", 0)
  end
  local out = {}
  for i = 1, count do mp_encode((select(i, ...)), 0, out) end
  return concat(out)
end

local EOF, BADFMT = {}, {}

local function uint(s, pos, bytes)
  local n = 0
  for i = pos, pos + bytes - 1 do n = n * 256 + sbyte(s, i) end
  return n
end

local mp_decode

local function need(s, pos, count)
  if #s - pos + 1 < count then error(EOF, 0) end
end

local function decode_array(s, pos, len)
  local t = {}
  for i = 1, len do
    local v
    v, pos = mp_decode(s, pos)
    t[i] = v
  end
  return t, pos
end

local function decode_map(s, pos, len)
  local t = {}
  for _ = 1, len do
    local k, v
    k, pos = mp_decode(s, pos)
    v, pos = mp_decode(s, pos)
    if k == nil then error('table index is nil', 0) end
    if k ~= k then error('table index is NaN', 0) end
    t[k] = v
  end
  return t, pos
end

mp_decode = function(s, pos)
  need(s, pos, 1)
  local c = sbyte(s, pos)
  if c < 0x80 then return c, pos + 1 end
  if c >= 0xe0 then return c - 256, pos + 1 end
  if c >= 0xa0 and c < 0xc0 then
    local len = c - 0xa0
    need(s, pos, 1 + len)
    return ssub(s, pos + 1, pos + len), pos + 1 + len
  end
  if c >= 0x90 and c < 0xa0 then return decode_array(s, pos + 1, c - 0x90) end
  if c >= 0x80 and c < 0x90 then return decode_map(s, pos + 1, c - 0x80) end
  if c == 0xc0 then return nil, pos + 1 end
  if c == 0xc3 then return true, pos + 1 end
  if c == 0xc2 then return false, pos + 1 end
  if c == 0xcc then need(s, pos, 2); return sbyte(s, pos + 1), pos + 2 end
  if c == 0xd0 then
    need(s, pos, 2)
    local n = sbyte(s, pos + 1)
    return n >= 128 and n - 256 or n, pos + 2
  end
  if c == 0xcd then need(s, pos, 3); return uint(s, pos + 1, 2), pos + 3 end
  if c == 0xd1 then
    need(s, pos, 3)
    local n = uint(s, pos + 1, 2)
    return n >= 32768 and n - 65536 or n, pos + 3
  end
  if c == 0xce then need(s, pos, 5); return uint(s, pos + 1, 4), pos + 5 end
  if c == 0xd2 then
    need(s, pos, 5)
    local n = uint(s, pos + 1, 4)
    return n >= 2147483648 and n - 4294967296 or n, pos + 5
  end
  if c == 0xcf or c == 0xd3 or c == 0xca or c == 0xcb then
    local size = (c == 0xca) and 5 or 9
    need(s, pos, size)
    return unpack_number(c, ssub(s, pos + 1, pos + size - 1)), pos + size
  end
  if c == 0xd9 then
    need(s, pos, 2)
    local len = sbyte(s, pos + 1)
    need(s, pos, 2 + len)
    return ssub(s, pos + 2, pos + 1 + len), pos + 2 + len
  end
  if c == 0xda then
    need(s, pos, 3)
    local len = uint(s, pos + 1, 2)
    need(s, pos, 3 + len)
    return ssub(s, pos + 3, pos + 2 + len), pos + 3 + len
  end
  if c == 0xdb then
    need(s, pos, 5)
    local len = uint(s, pos + 1, 4)
    need(s, pos + 5, len)
    return ssub(s, pos + 5, pos + 4 + len), pos + 5 + len
  end
  if c == 0xdc then need(s, pos, 3); return decode_array(s, pos + 3, uint(s, pos + 1, 2)) end
  if c == 0xdd then need(s, pos, 5); return decode_array(s, pos + 5, uint(s, pos + 1, 4)) end
  if c == 0xde then need(s, pos, 3); return decode_map(s, pos + 3, uint(s, pos + 1, 2)) end
  if c == 0xdf then need(s, pos, 5); return decode_map(s, pos + 5, uint(s, pos + 1, 4)) end
  error(BADFMT, 0)
end

local function unpack_full(s, limit, offset)
  if type(s) == 'number' then s = tostring(s) end
  if type(s) ~= 'string' then
    error("bad argument #1 to 'unpack' (string expected, got " .. typename(s) .. ')', 0)
  end
  local len = #s
  if offset < 0 or limit < 0 then
    error(sformat('Invalid request to unpack with offset of %d and limit of %d.', offset, len), 0)
  elseif offset > len then
    error(sformat('Start offset %d greater than input length %d.', offset, len), 0)
  end
  local decode_all = limit == 0 and offset == 0
  if decode_all then limit = 2147483647 end
  local results, count = {}, 0
  local pos = offset + 1
  local ok, e = pcall(function()
    while pos <= len and count < limit do
      local v
      v, pos = mp_decode(s, pos)
      count = count + 1
      results[count] = v
    end
  end)
  if not ok then
    if e == EOF then error('Missing bytes in input.', 0) end
    if e == BADFMT then error('Bad data format in input.', 0) end
    error(e, 0)
  end
  if decode_all then return unpack(results, 1, count) end
  return (pos > len) and -1 or (pos - 1), unpack(results, 1, count)
end

local function opt_integer(v, index, fname, default)
  if v == nil then return default end
  return check_integer(v, index, fname)
end

local cmsgpack = {
  pack = mp_pack,
  unpack = function(s) return unpack_full(s, 0, 0) end,
  unpack_one = function(s, offset)
    return unpack_full(s, 1, opt_integer(offset, 2, 'unpack_one', 0))
  end,
  unpack_limit = function(s, limit, offset)
    if limit == nil then
      error("bad argument #2 to 'unpack_limit' (number expected, got no value)", 0)
    end
    limit = check_integer(limit, 2, 'unpack_limit')
    return unpack_full(s, limit, opt_integer(offset, 3, 'unpack_limit', 0))
  end,
}

local function configure(readonly, py_strtod, py_pack_number, py_unpack_number)
  readonly_of, strtod = readonly, py_strtod
  pack_number, unpack_number = py_pack_number, py_unpack_number
end

return {cjson = cjson, cmsgpack = cmsgpack}, configure
