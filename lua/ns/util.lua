--- ns.util: what the Lua layer writes once: sorted keys, short values for
-- messages, the unknown-key check with one wording, nearest names, the
-- state root.
local ns = require "ns.core"

local M = {}

local fmt, concat = string.format, table.concat

--- sorted_keys(t) -> the keys of t, sorted (as strings when mixed).
function M.sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return tostring(a) < tostring(b)
  end)
  return out
end

--- show(v) -> v for an error message: one short line, with the length
-- when cut, so that a megabyte of bad input gives a line of error.
function M.show(v)
  if type(v) ~= "string" then return tostring(v) end
  local s = fmt("%q", v:sub(1, 48)):gsub("\\\n", "\\n")
  if #v > 48 then s = s .. fmt("... (%d bytes)", #v) end
  return s
end

--- quoted(v) -> a name in an "unknown ..." message, quoted as the core
-- quotes its names.
function M.quoted(v)
  if type(v) ~= "string" then return M.show(v) end
  return "'" .. M.show(v):sub(2, -2) .. "'"
end

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
  local names = M.sorted_keys(valid)
  if #names <= 16 then
    local s, near, best = tostring(v):sub(1, 64):lower(), nil, math.huge
    for _, n in ipairs(names) do
      local name = tostring(n)
      local d = distance(s, name:lower())
      if d <= (#name <= 4 and 1 or 2) and d < #name and d < best then near, best = name, d end
    end
    return (near and fmt("did you mean %s? ", M.quoted(near)) or "") .. "valid: " .. concat(names, ", ")
  end
  local s = tostring(v):sub(1, 64):lower()
  local d = {}
  for _, n in ipairs(names) do d[n] = distance(s, tostring(n)) end
  table.sort(names, function(a, b) if d[a] ~= d[b] then return d[a] < d[b] end return tostring(a) < tostring(b) end)
  return fmt("nearest: %s; %d in all: %s", concat(names, ", ", 1, 4), #names, rest)
end

--- check_keys(what, t, valid [, rest]): raise "<what>: unknown key 'k'
-- (valid: ...)" for a key of t not in the set valid.
function M.check_keys(what, t, valid, rest)
  for k in pairs(t) do
    if not valid[k] then
      error(fmt("%s: unknown key %s (%s)", what, M.quoted(k), M.choices(k, valid, rest or "see README.md")), 0)
    end
  end
end

--- list(v) -> {} for nil, {v} for a non-table, v itself for a table.
function M.list(v)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  return v
end

--- has(t, v) -> whether the list t holds v.
function M.has(t, v)
  for _, x in ipairs(t) do if x == v then return true end end
  return false
end

--- image_root() -> where images live: $LUACTR_ROOT, or /var/lib/luactr.
function M.image_root()
  local r = os.getenv("LUACTR_ROOT")
  return (r and r ~= "") and r or "/var/lib/luactr"
end

--- busybox_image([root]) -> the busybox image's directory below the image
-- root: <root>/images/busybox/rootfs (ns.rootfs makes it).
function M.busybox_image(root)
  return (root or M.image_root()) .. "/images/busybox/rootfs"
end

--- TMPFS_DIR: the directory of the state root on which a container
-- mounts the private tmpfs of its upper layer (in its own mount
-- namespace); no container's name, which starts with a letter or digit.
M.TMPFS_DIR = ".tmpfs"

--- state_root() -> where luactr keeps per-container state: $LUACTR_STATE,
-- else /run/luactr for root, else $XDG_RUNTIME_DIR/luactr, else
-- /tmp/luactr-UID/luactr.
function M.state_root()
  local state = os.getenv("LUACTR_STATE")
  if state and state ~= "" then return state end
  if select(2, ns.getuid()) == 0 then return "/run/luactr" end
  return (os.getenv("XDG_RUNTIME_DIR") or ("/tmp/luactr-" .. select(1, ns.getuid()))) .. "/luactr"
end

return M
