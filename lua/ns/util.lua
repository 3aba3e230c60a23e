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

--- is_strings(v) -> whether v is a list of strings (1..n, nothing else).
function M.is_strings(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  for i = 1, n do if type(v[i]) ~= "string" then return false end end
  return true
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

--- choices(v, valid, rest) -> what "(...)" says for an unknown name v:
-- the valid names, or the nearest (ns.util.choices, loaded by the first
-- error that needs it).
function M.choices(v, valid, rest) return require("ns.util.choices").choices(v, valid, rest) end

--- nearest(v, names [, n]) -> the few of the list names that v is a typo
-- of, nearest first (ns.util.choices; for "did you mean ...").
function M.nearest(v, names, n) return require("ns.util.choices").nearest(v, names, n) end

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

--- image_root() -> where images live: $LUACTR_ROOT, else /var/lib/luactr
-- for root; for another user, a store of its own, whose files it owns
-- (so that a rootless container, root inside being the user, can copy
-- them up into its upper layer): $XDG_DATA_HOME/luactr, else
-- ~/.local/share/luactr when $HOME is the user's; else the shared one
-- (readable, but a rootless container cannot write over its files).
function M.image_root()
  local r = os.getenv("LUACTR_ROOT")
  if r and r ~= "" then return r end
  local uid = select(2, ns.getuid())
  if uid ~= 0 then
    local data = os.getenv("XDG_DATA_HOME")
    if data and data:sub(1, 1) == "/" then return data .. "/luactr" end
    local home = os.getenv("HOME")
    local st = home and home:sub(1, 1) == "/" and ns.stat(home)
    if st and st.type == "dir" and st.uid == uid then return home .. "/.local/share/luactr" end
  end
  return "/var/lib/luactr"
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

--- STATE_DIRS: the directories of the state root that ns.state keeps
-- (containers/<id>/, names/<name>): never a kept upper layer's
-- <state>/<name>, whatever a container is named.
M.STATE_DIRS = { containers = true, names = true }

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
