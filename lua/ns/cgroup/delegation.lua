--- ns.cgroup.delegation: where a non-root user's groups go.
-- Only the v2 tree can be handed to a user: the delegator chowns a
-- directory and its cgroup.procs, cgroup.subtree_control and
-- cgroup.threads (systemd does it for user@UID.service), and the user may
-- then make groups below it, enable for them what the delegator enabled
-- for it, and move its processes between them (a move needs write access
-- to the cgroup.procs of the common ancestor, which the delegated
-- directory is). The v1 hierarchies stay root's. See cgroups(7) "Cgroups
-- v2 delegation" and Documentation/admin-guide/cgroup-v2.rst
-- "Delegation".
local ns = require "ns.core"

local readfile, stat = ns.readfile, ns.stat
local fmt = string.format

local M = {}

local function words(s)
  local t = {}
  for w in (s or ""):gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- check_base(base) -> base, or raises: a path below the v2 tree's root,
-- relative ("user.slice/user-1000.slice/user@1000.service"), with no
-- empty, "." or ".." component (it may come from a container's record).
function M.check_base(base)
  local ok = type(base) == "string" and base ~= "" and #base < 4096 and not base:find("[%z\n]")
  if ok then
    for part in (base .. "/"):gmatch("([^/]*)/") do
      if part == "" or part == "." or part == ".." then ok = false break end
    end
  end
  if not ok then error(fmt("cgroup: base %q is not a relative path below the v2 tree", tostring(base)), 0) end
  return base
end

--- own() -> the calling process's v2 group as /proc/self/cgroup says it
-- ("0::/user.slice/..."): a path from the tree's root, "/" for the root
-- itself; nil when it has none.
function M.own()
  local text = readfile("/proc/self/cgroup") or ""
  return text:match("^0::(/[^\n]*)") or text:match("\n0::(/[^\n]*)")
end

-- dir, and its cgroup.procs, are uid's, the file writable by its owner:
-- what a delegator's chown makes.
local function owned(dir, uid)
  local d, p = stat(dir), stat(dir .. "/cgroup.procs")
  return d and p and d.uid == uid and p.uid == uid and (p.mode & 128) ~= 0
end

--- find(l, uid) -> the delegation base, relative to the v2 tree's root
-- (l.v2): the highest directory above (or at) the calling process's own
-- group that, like every one between them, is uid's; or nil and why not.
function M.find(l, uid)
  local own = M.own()
  if not own then return nil, "/proc/self/cgroup has no v2 group" end
  local rel = own:gsub("^/+", ""):gsub("/+$", "")
  local base
  while rel ~= "" do
    if owned(l.v2 .. "/" .. rel, uid) then
      base = rel
    elseif base then
      break
    end
    rel = rel:match("^(.*)/[^/]*$") or ""
  end
  if base then return base end
  return nil, fmt("its group %s and those above it are not uid %d's", l.v2 .. (own == "/" and "" or own), uid)
end

--- narrow(l, base, uid, limits) -> the layout a group of uid's is made
-- in: l's v2 tree alone, below base (l.v2 .. "/" .. base), with the
-- controllers base offers (v2_controllers, from its cgroup.controllers)
-- and those it has on for its children (v2_enabled); base.uid, base_dir
-- and base set. base nil: find()'s. Raises, naming what is missing, when
-- there is no v2 tree, when limits (a table, may be nil) ask for any
-- while the host's controllers are on v1, or when nothing is delegated.
function M.narrow(l, base, uid, limits)
  local who = fmt("uid %d", uid)
  if not l.v2 then
    error(fmt("cgroup: rootless cgroups need a cgroup v2 subtree delegated to %s "
      .. "(this host has only cgroup v1, which only root can use)", who), 0)
  end
  if limits and next(limits) ~= nil and l.v1 and next(l.v1) then
    error(fmt("cgroup: rootless limits need a cgroup v2 subtree delegated to %s "
      .. "(this host's controllers are on cgroup v1, which only root can use)", who), 0)
  end
  if base then
    M.check_base(base)
  else
    local why
    base, why = M.find(l, uid)
    if not base then
      error(fmt("cgroup: rootless cgroups need a cgroup v2 subtree delegated to %s (%s)", who, why), 0)
    end
  end
  local n = copy(l)
  local dir = l.v2 .. "/" .. base
  n.mode, n.v1, n.base, n.base_dir, n.uid = "v2", {}, base, dir, uid
  n.v2_controllers = words(readfile(dir .. "/cgroup.controllers"))
  n.v2_enabled = words(readfile(dir .. "/cgroup.subtree_control"))
  return n
end

return M
