-- stats.lua: a running container's figures from its cgroup, refreshed each
-- second, like `docker stats`.
--   luactr examples/stats.lua [SECONDS]
local container = require "ns.container"
local ns = require "ns"

local seconds = tonumber(arg[1] or "5")
local h = container.start{
  name = "stats-demo",
  cgroup = { cpu = 0.5, memory = "64M", pids = 32 },
  -- a half-busy shell with a few helpers around it
  args = { "/bin/sh", "-c", "sleep 60 & sleep 60 & while : ; do : ; done" },
}

local function mib(b) return b and ("%.1fMiB"):format(b / 1048576) or "-" end
print(("%-12s %8s %20s %6s %10s"):format("NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS", "THROTTLED"))
local last, t = h.cgroup:stats(), ns.clock()
for _ = 1, seconds do
  ns.sleep(1)
  local now, t2 = h.cgroup:stats(), ns.clock()
  local cpu = 100 * (now.cpu_usage - last.cpu_usage) / (t2 - t)
  print(("%-12s %7.1f%% %20s %6d %9.2fs"):format(h.name, cpu,
    mib(now.memory_current) .. " / 64MiB", now.pids_current or 0, now.throttled or 0))
  io.stdout:flush()
  last, t = now, t2
end
h:kill("KILL")
h:wait()
