--- luactr gc: remove the cgroups luactr left behind (groups under the
-- luactr parent, or $LUACTR_CGROUP_PARENT, that hold no process, e.g.
-- after a crash) in every hierarchy, and say which.
local cgroup = require "ns.cgroup"

local parent = os.getenv("LUACTR_CGROUP_PARENT") or "luactr"
local removed = cgroup.gc()
if #removed == 0 then
  print("luactr gc: nothing to remove under " .. parent .. "/")
else
  for _, name in ipairs(removed) do print("removed cgroup " .. parent .. "/" .. name) end
end
