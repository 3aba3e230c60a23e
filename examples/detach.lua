-- detach.lua: what `docker run -d` keeps, and how a container outlives
-- the command that started it. The container gets a record (an id, a
-- name, a status) and a monitor: a small process of its own that is
-- its parent, writes its output to a log, and records how it ended.
-- This recipe starts one, comes back to it by name as later commands
-- would (luactr ps, exec, logs, stop, rm), and removes it.
local life = require "ns.lifecycle"

local s = life.run({ image = "busybox", hostname = "background",
  args = { "sh", "-c", "echo started; sleep 1000" } }, { detach = true, name = "detach-demo" })
print(("started %s (%s), pid %d, monitor %s"):format(s.name, s:short_id(), s.pid,
  (require("ns").readfile(("/proc/%d/stat"):format(s.pid)) or ""):match("^%d+ %b() %S+ (%d+)")))

-- The record, found again by name, as another luactr would.
local again = require("ns.state").load("detach-demo")
life.exec(again, { "sh", "-c", "echo \"exec: hostname $(hostname), pid 1 is $(cat /proc/1/comm)\"" })

-- What it wrote went to its log.
local text = ""
for _ = 1, 100 do
  text = io.open(again.log):read("a")
  if text:find("started") then break end
  require("ns").sleep(0.02)
end
for _, r in ipairs(life.log_lines(text)) do print("log: " .. r.stream .. " " .. r.text) end

life.stop(again, 1)
print("status: " .. again.status .. ", exit " .. tostring(again:exit_status()))
life.remove(again)
