--- ns.ops.cgroup: the ops of a container with a cgroup of its own: the
-- group made and joined, and shown at /sys/fs/cgroup. Loaded by ns.ops
-- when a plan has one of them.
local ns = require "ns.core"
local errors = require "ns.errors"
local ops = require "ns.ops"
local paths = require "ns.paths"

local must, in_msg, RO = errors.must, paths.in_msg, ops.RO

local RUN, UNDO = {}, {}

function RUN.cgroup_create(x, o)
  x.cg = require("ns.cgroup").create(o.group, o.limits, o.parent and { parent = o.parent } or nil)
end

function UNDO.cgroup_create(x) if x.cg then x.cg:remove() end end

function RUN.cgroup_join(x, o)
  if o.where == "child" then
    -- A vfork child: it moves itself; luactr lets go of the group's
    -- lock once the child has exec'd (ns.launch).
    x.cg:enter()
  elseif x.cloned_into_cgroup then
    x.cg:unlock() -- with CLONE_INTO_CGROUP the child is in its group already
  else
    x.cg:add(x.pid)
  end
end

-- The container's own group at /sys/fs/cgroup, as docker shows it: what
-- a program reads to size itself (memory.max, cpu.max). Only the
-- hierarchies the group is in, each with the group as its root, so that
-- luactr's groups and the host's others stay out of sight; every mount
-- read-only, nosuid, nodev and noexec. It goes on the sysfs the child
-- mounted, where the image has no symlink on the way. cgroup2 is mounted
-- afresh in the container's cgroup namespace, whose root is the group
-- (and only there: a new mount in the host's namespace would reset the
-- tree's mount options, nsdelegate among them); elsewhere, and for the v1
-- hierarchies (whose mount would have to repeat the host's options
-- exactly), the group's directory is bound from the host's path to it
-- (the handle luactr holds is of a mount in luactr's namespace, which
-- mount(2) does not bind from another).
function RUN.cgroupfs(x, o)
  local g = x.cg
  local at = x.ours.sys .. "/fs/cgroup"
  local function mounted(ok, msg, e) must("mount", ok, msg and in_msg(msg, "/sys"), e) end
  local hs = g:hierarchies()
  local function v2(target, h)
    if o.cgroupns then
      mounted(ns.mount("cgroup2", target, "cgroup2", RO))
    else
      mounted(ns.mount(h.dir, target, nil, { "bind" }))
    end
  end
  if g.mode == "v2" then
    v2(at, hs[1])
    if o.cgroupns then return end
  else
    mounted(ns.mount("tmpfs", at, "tmpfs", { "nosuid", "nodev", "noexec" }, "mode=755"))
    for _, h in ipairs(hs) do
      local name = h.mount:match("([^/]+)/*$")
      local dir = at .. "/" .. name
      must("mkdir", ns.mkdir(dir, "0755"))
      if h.v2 then v2(dir, h) else mounted(ns.mount(h.dir, dir, nil, { "bind" })) end
      -- Co-mounted controllers: cpu -> cpu,cpuacct, as the host has them.
      for _, c in ipairs(h.ctrls) do
        if c ~= name then must("symlink", ns.symlink(name, at .. "/" .. c)) end
      end
    end
  end
  local ok, msg, e = ns.mount_setattr(at, RO, nil, "recursive")
  must("mount_setattr", ok, msg and in_msg(msg, "/sys"), e)
end

return { RUN = RUN, UNDO = UNDO }
