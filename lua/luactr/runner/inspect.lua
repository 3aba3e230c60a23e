--- luactr.runner.inspect: how the REPL (core/repl.c) shows the values of
-- what it evaluates. A table shows its contents on one line: the list part
-- in order, then the other keys sorted (numbers, strings, then the rest),
-- nested tables up to M.max_depth levels ({...} below), at most
-- M.max_items entries a table (then "... (N more)"), and a table met again
-- inside itself as <cycle>. Strings inside a table are quoted; everything
-- else, and a table with a __tostring, shows as tostring shows it.
local M = {}

local fmt, concat, sort = string.format, table.concat, table.sort
local mtype = math.type

M.max_depth = 3
M.max_items = 20

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[w] = true
end

-- Keys of different types sort by this rank, then by type name.
local RANK = { number = 1, string = 2 }

local function before(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    local ra, rb = RANK[ta] or 3, RANK[tb] or 3
    if ra ~= rb then return ra < rb end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

-- s as a Lua literal on one line.
local function quote(s)
  return (fmt("%q", s):gsub("\\\n", "\\n"))
end

local show

-- The entries of table t (through __pairs, as pairs walks them), sorted.
local function entries(t)
  local list = {}
  for k, v in pairs(t) do list[#list + 1] = { k, v } end
  sort(list, function(x, y) return before(x[1], y[1]) end)
  return list
end

local function show_table(t, depth, path)
  if path[t] then return "<cycle>" end
  if depth > M.max_depth then return "{...}" end
  path[t] = true
  local list, parts, next_index = entries(t), {}, 1
  for i, e in ipairs(list) do
    if i > M.max_items then
      parts[#parts + 1] = fmt("... (%d more)", #list - M.max_items)
      break
    end
    local k, v = e[1], e[2]
    local value = show(v, depth + 1, path)
    if k == next_index and mtype(k) == "integer" then
      parts[#parts + 1] = value
      next_index = next_index + 1
    elseif type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then
      parts[#parts + 1] = k .. " = " .. value
    else
      parts[#parts + 1] = "[" .. show(k, depth + 1, path) .. "] = " .. value
    end
  end
  path[t] = nil
  return "{" .. concat(parts, ", ") .. "}"
end

function show(v, depth, path)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__tostring") then return tostring(v) end
  return show_table(v, depth, path)
end

--- M.show(v) -> v as one line, strings quoted.
function M.show(v)
  return show(v, 1, {})
end

--- M.values(...) -> the line the REPL prints for an evaluation's values:
-- each shown, tab-separated, strings and other non-tables as print shows
-- them.
function M.values(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    local ok, s = false, nil
    if type(v) == "table" then ok, s = pcall(M.show, v) end -- a __pairs may raise
    out[i] = ok and s or tostring(v)
  end
  return concat(out, "\t")
end

return M
