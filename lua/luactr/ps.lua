--- luactr ps [-a] [-q] [--no-trunc] [--format table|json]: the containers
-- luactr knows, as docker ps lists them (running ones; -a all): id,
-- image, command, created, status, pid, CPU % (its cgroup's CPU time over
-- the time it has run) and memory (its cgroup's), name. Records whose
-- process has gone are reconciled first.
local ctr = require "ns.cli.ctr"
local state = require "ns.state"

local a = ctr.parse("ps", "List containers (running ones; -a: all).", function(p)
  p:flag("-a --all", "Show every container, not only running ones.")
  p:flag("-q --quiet", "Only the ids.")
  p:flag("--no-trunc", "Full ids and commands.")
  p:option("--format", "table (the default) or json (one object per line)."):choices({ "table", "json" })
end, arg)

local life = require "ns.lifecycle"
local list = life.reconcile(ctr.store())
local rows, now = {}, require("ns.core").clock("realtime")
for _, s in ipairs(list) do
  if a.all or s.status == "running" or s.status == "paused" then
    local stats = life.stats(s)
    local cpu, mem
    if stats then
      local up = now - (ctr.epoch(s.started) or now)
      cpu = up > 0 and stats.cpu_usage and 100 * stats.cpu_usage / up or nil
      mem = stats.memory_current
    end
    if a.quiet then
      print(a.no_trunc and s.id or s:short_id())
    elseif a.format == "json" then
      local d = s:data()
      d.cpu_percent, d.memory_bytes, d.status_text = cpu, mem, ctr.status_text(s)
      d.config = nil
      print(state.encode(d))
    else
      rows[#rows + 1] = { a.no_trunc and s.id or s:short_id(), s.image or "", ctr.command_text(s, a.no_trunc),
        ctr.ago(s.created), ctr.status_text(s), s.pid and (s.status == "running" or s.status == "paused")
          and tostring(s.pid) or "-", cpu and string.format("%.2f%%", cpu) or "--", ctr.size(mem), s.name }
    end
  end
end
if not a.quiet and a.format ~= "json" then
  ctr.table_out({ "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PID", "CPU %", "MEM", "NAMES" }, rows)
end
