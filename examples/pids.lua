-- pids.lua: a fork bomb inside a group with pids.max = 64 stops at 64
-- processes; the host can still fork. The bomb is then ended by killing
-- every process in the group.
local container = require "ns.container"
local ns = require "ns"

local h = container.start{
  cgroup = { pids = 64 },
  -- (stderr silenced: every failed fork says "can't fork")
  args = { "/bin/sh", "-c", "exec 2>/dev/null; bomb() { bomb | bomb & }; bomb; sleep 30" },
}
ns.sleep(1.5)
print(("pids in the container: %d (limit 64)"):format(h.cgroup:stats().pids_current))
-- The host is unharmed: it can still start a process.
local pid, pidfd = ns.clone({})
if pid == 0 then ns._exit(0) end
print("host can fork: " .. tostring(ns.wait(pidfd).code == 0))
pidfd:close()
h.cgroup:kill()
h:wait()
