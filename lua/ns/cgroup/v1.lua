--- ns.cgroup.v1: what only the v1 hierarchies need.
-- The cpuset values that a new v1 cpuset lacks, the freezer's
-- freezer.state, and the device controller's devices.allow and
-- devices.deny lines. Everything else the v1 controllers take is planned
-- by ns.cgroup.limits and written by ns.cgroup.group. See
-- Documentation/admin-guide/cgroup-v1/ (cpusets, freezer-subsystem,
-- devices).
local ns = require "ns.core"

local readfile, writefile = ns.readfile, ns.writefile
local fmt = string.format

local M = {}

local CPUSET_FILES = { "cpuset.cpus", "cpuset.mems" }

local function fail(g, f, ...) error(fmt('cgroup "%s": ', g.name) .. fmt(f, ...), 0) end

-- The reason part of a core message ("write cpu.max: Invalid argument
-- (EINVAL)" -> "Invalid argument (EINVAL)").
local function reason(msg)
  return (tostring(msg):match("^[^:]*: (.*)$")) or tostring(msg)
end

--- fill_cpuset(g, mount, pdir). A new v1 cpuset is empty, and adding a
-- task to it fails (ENOSPC): copies the hierarchy root's (mount's) values
-- into the parent pdir where the parent has none. Raises on failure.
function M.fill_cpuset(g, mount, pdir)
  for _, f in ipairs(CPUSET_FILES) do
    local v = readfile(pdir .. "/" .. f)
    if v and v:match("^%s*$") then
      local from = (readfile(mount .. "/" .. f) or ""):match("^%s*(.-)%s*$")
      local ok, err = writefile(pdir .. "/" .. f, from)
      if not ok then fail(g, "write %s/%s %q: %s", pdir, f, from, reason(err)) end
    end
  end
end

--- copy_cpuset(g, fd, pdir). Copies the parent pdir's values into the new
-- group, whose directory fd is fd. Raises on failure.
function M.copy_cpuset(g, fd, pdir)
  for _, f in ipairs(CPUSET_FILES) do
    local v = (readfile(pdir .. "/" .. f) or ""):match("^%s*(.-)%s*$")
    local ok, err = writefile(fd, f, v)
    if not ok then fail(g, "write %s %q: %s", f, v, reason(err)) end
  end
end

--- device_writes(rules) -> the writes of a device allow-list (rules as
-- ns.cgroup's header describes them, already checked): devices.deny "a",
-- then one devices.allow or devices.deny line per rule, in order.
function M.device_writes(rules)
  local out = { { ctrl = "devices", file = "devices.deny", value = "a" } }
  for _, r in ipairs(rules) do
    local line = r.type == "a" and "a" or fmt("%s %s:%s %s", r.type, r.major or "*", r.minor or "*", r.access or "rwm")
    out[#out + 1] = { ctrl = "devices", file = r.allow and "devices.allow" or "devices.deny", value = line }
  end
  return out
end

--- freeze(g, d, on) -> done, what. Writes FROZEN (on) or THAWED to the
-- freezer.state of d (the group's freezer directory); done() is true once
-- the file reads so, and what says what did not happen when it never
-- does. Raises when the write fails.
function M.freeze(g, d, on)
  local state = on and "FROZEN" or "THAWED"
  local ok, err = writefile(d.fd, "freezer.state", state)
  if not ok then fail(g, "write freezer.state %q: %s", state, reason(err)) end
  return function()
    if (readfile(d.fd, "freezer.state") or ""):match("^%s*(%u+)") == state then return true end
    -- The kernel retries a FREEZING group only when asked again.
    writefile(d.fd, "freezer.state", state)
  end, "freezer.state did not read " .. state
end

return M
