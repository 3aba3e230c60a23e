--- ns.cgroup.v2: what only the unified (v2) hierarchy needs.
-- Enabling controllers for children (cgroup.subtree_control), freezing
-- through cgroup.freeze and cgroup.events, cgroup.kill, and the device
-- allow-list as a BPF_PROG_TYPE_CGROUP_DEVICE program (ns.devices_filter,
-- ns.devices_attach) on the group's directory. See
-- Documentation/admin-guide/cgroup-v2.rst.
local ns = require "ns.core"

local readfile, writefile, open = ns.readfile, ns.writefile, ns.open
local fmt, concat = string.format, table.concat
local EBUSY = ns.E.EBUSY

local M = {}

-- The controllers enabled for every group (for stats) when the tree has
-- them.
local STAT_CONTROLLERS = { "cpu", "memory", "pids" }

local function has(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

local function words(s)
  local t = {}
  for w in (s or ""):gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function fail(g, f, ...) error(fmt('cgroup "%s": ', g.name) .. fmt(f, ...), 0) end

-- The reason part of a core message ("write cpu.max: Invalid argument
-- (EINVAL)" -> "Invalid argument (EINVAL)").
local function reason(msg)
  return (tostring(msg):match("^[^:]*: (.*)$")) or tostring(msg)
end

--- controllers(l, need) -> the list of controllers that a new group in
-- layout l needs enabled above it: those for stats that the tree offers
-- (below a delegated subtree, those it has on already: turning one on
-- there fails while it holds processes), then those of need (a set, as
-- ns.cgroup.limits plans it). Empty when l has no v2 tree.
function M.controllers(l, need)
  local list = {}
  if l.v2 then
    for _, c in ipairs(STAT_CONTROLLERS) do
      if has(l.v2_enabled or l.v2_controllers, c) then list[#list + 1] = c end
    end
    for c in pairs(need) do
      if not has(list, c) then list[#list + 1] = c end
    end
  end
  return list
end

--- enable(g, dir, ctrls). Enables the controllers of ctrls that are not yet
-- on for the children of dir (cgroup.subtree_control). Raises on failure.
function M.enable(g, dir, ctrls)
  local now = words(readfile(dir .. "/cgroup.subtree_control"))
  local add = {}
  for _, c in ipairs(ctrls) do
    if not has(now, c) then add[#add + 1] = "+" .. c end
  end
  if #add == 0 then return end
  local ok, err, errno = writefile(dir .. "/cgroup.subtree_control", concat(add, " "))
  if not ok then
    local hint = errno == EBUSY and " (the cgroup holds processes: v2 lets only leaves hold them)" or ""
    fail(g, "write %s/cgroup.subtree_control %q: %s%s", dir, concat(add, " "), reason(err), hint)
  end
end

--- delegate(g, root, pdir, ctrls). Enables ctrls for the children of
-- root (the tree's root, or a delegated subtree) and then of the parent
-- pdir below it, so that the group below pdir has their files; nothing
-- when ctrls is empty.
function M.delegate(g, root, pdir, ctrls)
  if #ctrls == 0 then return end
  M.enable(g, root, ctrls)
  M.enable(g, pdir, ctrls)
end

--- attach_devices(g, d, rules). Builds the device program from rules and
-- attaches it to the group's v2 directory d, then detaches and closes the
-- program it replaces (g._devprog, which now holds the new one). Raises on
-- failure, leaving the old program in place.
function M.attach_devices(g, d, rules)
  -- BPF_PROG_ATTACH wants a real (not O_PATH) fd of the directory.
  local dfd <close>, derr = open(d.dir, { "rdonly", "directory" })
  if not dfd then fail(g, "devices: %s", reason(derr)) end
  local prog, perr = ns.devices_filter(rules)
  if not prog then fail(g, "devices: %s", reason(perr)) end
  local ok, aerr = ns.devices_attach(dfd, prog)
  if not ok then prog:close() fail(g, "devices: %s", reason(aerr)) end
  if g._devprog then
    ns.devices_detach(dfd, g._devprog)
    g._devprog:close()
  end
  g._devprog = prog
end

--- freeze(g, d, on) -> done, what. Writes 1 (on) or 0 to the cgroup.freeze
-- of d (the group's v2 directory); done() is true once cgroup.events says
-- "frozen 1" (or "frozen 0"), and what says what did not happen when it
-- never does. Raises when the write fails.
function M.freeze(g, d, on)
  local ok, err = writefile(d.fd, "cgroup.freeze", on and "1" or "0")
  if not ok then fail(g, "write cgroup.freeze %q: %s", on and "1" or "0", reason(err)) end
  local want = on and "frozen 1" or "frozen 0"
  return function() return (readfile(d.fd, "cgroup.events") or ""):find(want, 1, true) end,
    fmt("cgroup.events did not say %q", want)
end

--- kill(d) -> true, or nil, message, errno: writes 1 to the cgroup.kill of
-- d (the group's v2 directory), which SIGKILLs every process in the group
-- and below it (Linux 5.14).
function M.kill(d)
  return writefile(d.fd, "cgroup.kill", "1")
end

return M
