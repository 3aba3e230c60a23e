--- ns.util.choices: the names an error for an unknown name offers (the
-- one it is a typo of, the valid ones, or the nearest few); loaded by
-- util.choices() on the first such error.
local util = require "ns.util"

local M = {}

local fmt, concat = string.format, table.concat

-- Edit distance of a and b (both short).
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- choices(v, valid, rest) -> what "(...)" says for an unknown name v:
-- every valid name when there are few, after the one v is a typo of, if
-- any (as the core says it); else the nearest few and where to find the
-- rest, so that the error stays a line.
function M.choices(v, valid, rest)
  local names = util.sorted_keys(valid)
  if #names <= 16 then
    local s, near, best = tostring(v):sub(1, 64):lower(), nil, math.huge
    for _, n in ipairs(names) do
      local name = tostring(n)
      local d = distance(s, name:lower())
      if d <= (#name <= 4 and 1 or 2) and d < #name and d < best then near, best = name, d end
    end
    return (near and fmt("did you mean %s? ", util.quoted(near)) or "") .. "valid: " .. concat(names, ", ")
  end
  local s = tostring(v):sub(1, 64):lower()
  local d = {}
  for _, n in ipairs(names) do d[n] = distance(s, tostring(n)) end
  table.sort(names, function(a, b) if d[a] ~= d[b] then return d[a] < d[b] end return tostring(a) < tostring(b) end)
  return fmt("nearest: %s; %d in all: %s", concat(names, ", ", 1, 4), #names, rest)
end

-- Edit distance of a and b where swapping two neighbours counts one
-- ("wbe" is one from "web"), the optimal string alignment distance.
local function swaps_distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[#a][#b]
end

--- nearest(v, names [, n]) -> up to n (default 3) of the strings names
-- that v is close to (an edit distance of at most a third of the longer,
-- at least 1; a swap of neighbours counts one), nearest first, ties by name: what "did you mean" offers.
function M.nearest(v, names, n)
  local s = tostring(v):sub(1, 64)
  local near, d = {}, {}
  for _, name in ipairs(names) do
    local k = swaps_distance(s:lower(), name:sub(1, 64):lower())
    if k <= math.max(1, math.max(#s, #name) // 3) and k < #name and not d[name] then
      d[name] = k
      near[#near + 1] = name
    end
  end
  table.sort(near, function(a, b) if d[a] ~= d[b] then return d[a] < d[b] end return a < b end)
  for i = #near, (n or 3) + 1, -1 do near[i] = nil end
  return near
end

return M
