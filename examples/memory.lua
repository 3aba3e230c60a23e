-- memory.lua: a process that allocates past its memory limit is killed by
-- the OOM killer, and luactr says so instead of reporting a bare SIGKILL.
-- dd with a 64M block size allocates (and fills) a 64M buffer; the limit
-- is 32M.
local container = require "ns.container"

local st = container.run{
  cgroup = { memory = "32M" },
  args = { "/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1" },
}
-- container.run has printed "killed by the OOM killer: memory limit 32M".
print(("status %d, oom: %s"):format(st.status, tostring(st.oom == true)))
os.exit(st.status)
