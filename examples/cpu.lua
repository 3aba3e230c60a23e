-- cpu.lua: the classic busy loop, held to 20% of one CPU by the cpu
-- controller (cfs_quota_us/cfs_period_us on v1, cpu.max on v2).
--   luactr examples/cpu.lua [FRACTION|none] [SECONDS]
-- It prints the CPU time the loop got, as measured by the group itself.
local container = require "ns.container"
local ns = require "ns"

local limit = arg[1] == "none" and nil or tonumber(arg[1] or "0.2")
local seconds = tonumber(arg[2] or "2")

local h = container.start{
  cgroup = { cpu = limit }, -- no cpu key: a group with no limit, to measure
  args = { "/bin/sh", "-c", "while : ; do : ; done" },
}
local before, t0 = h.cgroup:stats().cpu_usage, ns.clock()
ns.sleep(seconds)
local used, wall = h.cgroup:stats().cpu_usage - before, ns.clock() - t0
h:kill("KILL")
h:wait()
print(("cpu: %.1f%% of one CPU over %.1f s (limit: %s)"):format(100 * used / wall, wall,
  limit and (100 * limit .. "%") or "none"))
