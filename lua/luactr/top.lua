--- luactr top CONTAINER: the processes of a container (of its pid
-- namespace, else its cgroup), as the host sees them: PID, PPID, UID,
-- state, CPU time, command.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("top", "Show a container's processes.", function(p)
  p:argument("container", "A container (id, id prefix or name).")
end, arg)
local s, why = ctr.find(a.container)
if not s then ctr.die("top", why) end
if s.status ~= "running" and s.status ~= "paused" then ctr.die("top", ("container %q is %s: it has no processes"):format(s.name, s.status)) end
local rows = {}
for _, p in ipairs(require("ns.lifecycle").processes(s)) do
  local t = math.floor(p.time)
  rows[#rows + 1] = { tostring(p.pid), tostring(p.ppid or "?"), tostring(p.uid or "?"), p.state or "?",
    string.format("%02d:%02d:%02d", t // 3600, t // 60 % 60, t % 60), p.cmd }
end
ctr.table_out({ "PID", "PPID", "UID", "S", "TIME", "CMD" }, rows)
