--- ns.cgroup.layout: where this host mounts its cgroup hierarchies.
-- Reads /proc/self/mountinfo: which v1 controllers are mounted where, the
-- v2 tree and the controllers its root offers, the narrowing of a hybrid
-- host that LUACTR_CGROUP_MODE asks for, and the hierarchies a group is
-- made in. See proc(5) (mountinfo) and cgroups(7).
local ns = require "ns.core"

local readfile = ns.readfile

local M = {}

-- The v1 hierarchies a group is made in, in creation order.
M.v1_controllers = { "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "blkio", "devices" }

local KNOWN_V1 = {}
for _, c in ipairs { "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls",
  "net_prio", "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc" } do KNOWN_V1[c] = true end

local function words(s)
  local t = {}
  for w in (s or ""):gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function unescape(s)
  return (s:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end))
end

--- parse_mountinfo(text) -> {mode, v1 = {controller -> mount path}, v2 =
-- mount path or nil} from /proc/PID/mountinfo text. Named v1 hierarchies
-- (name=systemd) are not controllers and are left out. A controller mounted
-- twice keeps the mount of the hierarchy's root ("/").
function M.parse_mountinfo(text)
  local v1, v1root, v2, v2root = {}, {}, nil, nil
  for line in text:gmatch("[^\n]+") do
    local pre, post = line:match("^(.-) %- (.*)$")
    if pre then
      local root, mp = pre:match("^%S+ %S+ %S+ (%S+) (%S+)")
      local fstype, _, sopts = post:match("^(%S+) (%S+) ?(%S*)")
      if mp and fstype == "cgroup" then
        for opt in sopts:gmatch("[^,]+") do
          if KNOWN_V1[opt] and (not v1[opt] or (v1root[opt] ~= "/" and root == "/")) then
            v1[opt], v1root[opt] = unescape(mp), root
          end
        end
      elseif mp and fstype == "cgroup2" and (not v2 or (v2root ~= "/" and root == "/")) then
        v2, v2root = unescape(mp), root
      end
    end
  end
  local any = next(v1) ~= nil
  local mode = (any and v2) and "hybrid" or any and "v1" or v2 and "v2" or nil
  return { mode = mode, v1 = v1, v2 = v2 }
end

local cached

--- layout([opts]) -> {mode = "v1"|"v2"|"hybrid", v1 = {controller -> mount},
-- v2 = mount or nil, v2_controllers = {...}} (the v2 root's
-- cgroup.controllers). Cached; opts.refresh reads again; opts.mountinfo
-- parses the given text instead (not cached). Raises when no cgroup
-- filesystem is mounted.
function M.layout(opts)
  opts = opts or {}
  if cached and not opts.refresh and not opts.mountinfo then return cached end
  local text = opts.mountinfo
  if not text then
    local err
    text, err = readfile("/proc/self/mountinfo")
    if not text then error("cgroup: " .. err, 2) end
  end
  local l = M.parse_mountinfo(text)
  if not l.mode then error("cgroup: no cgroup filesystem is mounted (see /proc/self/mountinfo)", 2) end
  l.v2_controllers = l.v2 and words(readfile(l.v2 .. "/cgroup.controllers")) or {}
  if not opts.mountinfo then
    -- LUACTR_CGROUP_MODE=v2 (or v1) uses only that part of a hybrid host:
    -- the v2 tree for one hierarchy with freeze, kill, events and
    -- CLONE_INTO_CGROUP, or the v1 controllers alone.
    local want = os.getenv("LUACTR_CGROUP_MODE")
    if want == "v2" and l.v2 then
      l.v1, l.mode = {}, "v2"
    elseif want == "v1" and l.v1 and next(l.v1) then
      l.v2, l.v2_controllers, l.mode = nil, {}, "v1"
    elseif want and want ~= "" and want ~= l.mode then
      error(("cgroup: LUACTR_CGROUP_MODE=%s, but this host has no %s hierarchy (it is %s)"):format(want, want, l.mode), 2)
    end
    cached = l
  end
  return l
end

--- hierarchies(l) -> the hierarchies of a group in layout l, in creation
-- order: {key, mount, ctrls[, v2 = true]} with key "v2" or the v1
-- controller first mounted there (co-mounted controllers share one
-- hierarchy and one directory).
function M.hierarchies(l)
  local out, seen = {}, {}
  for _, c in ipairs(M.v1_controllers) do
    local mp = l.v1 and l.v1[c]
    if mp then
      if seen[mp] then
        local h = seen[mp]
        h.ctrls[#h.ctrls + 1] = c
      else
        seen[mp] = { key = c, mount = mp, ctrls = { c } }
        out[#out + 1] = seen[mp]
      end
    end
  end
  if l.v2 then out[#out + 1] = { key = "v2", mount = l.v2, ctrls = {}, v2 = true } end
  return out
end

return M
