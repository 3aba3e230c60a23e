--- ns.ops.reaper: the init op of init = true, and the reaper it starts:
-- the container's first process forks, its child goes on to exec the
-- command, and it stays as PID 1. Loaded by ns.ops when a plan has it.
local ns = require "ns.core"
local errors = require "ns.errors"
local launch = require "ns.launch"
local supervise = require "ns.supervise"

local fmt = string.format
local must = errors.must
local forward = supervise.forward

local RUN = {}

--- reaper(pid, pidfd): what init = true puts in front of the command:
-- PID 1 stays here and its child goes on to exec. It forwards signals to
-- that child, reaps every orphan, and ends with the child's status. It is
-- not dumpable, so nothing in the container can ptrace it or open its
-- /proc/1/exe (the host's luactr binary). Never returns.
local function reaper(pid, pidfd, report)
  collectgarbage("restart") -- it lives as long as the container
  must("prctl", ns.prctl("dumpable", false))
  local sigs = { "CHLD" } -- wakes the reaper for orphans that end
  for _, n in ipairs(supervise.forwarded_signals) do sigs[#sigs + 1] = n end
  local sigfd = must("signalfd", ns.signalfd(sigs))
  -- It never execs: what luactr (or a monitor) had open, it would hold
  -- for the container's life (the pipe on which a monitor says it has
  -- started, its lock). Only its child's pidfd, the report pipe and the
  -- signalfd stay, besides 0-2. It opens nothing after this, so no
  -- number closed here is ever another file's when a stale handle of
  -- luactr's is collected.
  local keep = { [pidfd:fileno()] = true, [sigfd:fileno()] = true, [report and report:fileno() or -1] = true }
  for _, name in ipairs(ns.listdir("/proc/self/fd") or {}) do
    local n = math.tointeger(tonumber(name))
    if n and n > 2 and not keep[n] then ns.close_range(n, n) end
  end
  local code
  while true do
    local r = ns.poll({ pidfd, sigfd }, -1)
    for _, i in ipairs(r) do
      if i == 2 then forward(sigfd, pidfd, "CHLD") end
    end
    -- Reap everything; note the main child's status.
    while true do
      local st = ns.wait(-1, "nohang")
      if not st then break end
      if st.pid == pid then
        code = st.status
        -- PID 1 cannot die of a signal it sends itself: say how the
        -- child ended, for luactr's verdict (an OOM kill, say).
        if report then
          report:write(st.killed and fmt("killed %d %s\n", st.signo, st.signal) or fmt("exited %d x\n", st.code))
        end
      end
    end
    if code then ns._exit(code) end
  end
end

function RUN.init(x)
  -- The read end goes to luactr, for the reaper to say how its child ended.
  local r, w = must("pipe", ns.pipe())
  must("sendfd", ns.sendfd(x.sock, r, "I\n"))
  r:close()
  local pid, pidfd = ns.clone({})
  if not pid then error(pidfd, 0) end
  if pid ~= 0 then
    x.sock:close()
    local _, err = pcall(reaper, pid, pidfd, w)
    io.stderr:write("luactr: init: ", launch.oneline(tostring(err)), "\n")
    ns.kill(pidfd, "KILL")
    ns._exit(125)
  end
  w:close()
end

return { RUN = RUN }
