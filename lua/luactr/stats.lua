--- luactr stats [-a] [--no-stream] [CONTAINER...]: each running
-- container's CPU %, memory (use, limit, %) and processes, from its
-- cgroup, refreshed every second (--no-stream: once), as docker stats.
-- CPU % is of one CPU over the last interval.
local ns = require "ns.core"
local ctr = require "ns.cli.ctr"
local a = ctr.parse("stats", "Show containers' CPU, memory and process counts, from their cgroups.", function(p)
  p:flag("-a --all", "Every container, not only running ones.")
  p:flag("--no-stream", "Print once and end.")
  p:argument("container", "Containers (default: every running one)."):args("*")
end, arg)
local life = require "ns.lifecycle"

local function records()
  local list = {}
  if #a.container > 0 then
    for _, ref in ipairs(a.container) do
      local s, why = ctr.find(ref)
      if not s then ctr.die("stats", why) end
      list[#list + 1] = s
    end
  else
    for _, s in ipairs(life.reconcile(ctr.store())) do
      if a.all or s.status == "running" or s.status == "paused" then list[#list + 1] = s end
    end
  end
  return list
end

local function sample(list)
  local t = {}
  for _, s in ipairs(list) do t[s.id] = life.stats(s) end
  return t, ns.clock()
end

local list = records()
local before, t0 = sample(list)
while true do
  ns.sleep(a.no_stream and 0.5 or 1)
  local now, t1 = sample(list)
  local rows = {}
  for _, s in ipairs(list) do
    local b, n = before[s.id], now[s.id]
    local cpu = b and n and b.cpu_usage and n.cpu_usage and 100 * (n.cpu_usage - b.cpu_usage) / (t1 - t0)
    local mem, limit = n and n.memory_current, n and n.memory_limit
    rows[#rows + 1] = { s:short_id(), s.name, cpu and string.format("%.2f%%", cpu) or "--",
      ctr.size(mem) .. " / " .. (limit and ctr.size(limit) or "--"),
      mem and limit and string.format("%.2f%%", 100 * mem / limit) or "--",
      n and n.pids_current and tostring(math.tointeger(n.pids_current) or n.pids_current) or "--" }
  end
  if not a.no_stream then io.stdout:write("\27[2J\27[H") end
  ctr.table_out({ "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS" }, rows)
  io.stdout:flush()
  if a.no_stream then break end
  before, t0 = now, t1
  if #a.container == 0 then list = records() end
end
