-- judge.lua: a code judge's sandbox. The untrusted command runs with no
-- network, a read-only busybox root with a small tmpfs /tmp, 64M of memory,
-- 1 s of cpu time, 32 pids and a 2 s wall clock; its stdout and stderr come
-- back as strings. One line says the verdict: ok, exit (code), cpu,
-- timeout, oom, pids or signal; then the output.
--   luactr examples/judge.lua sh -c 'echo hello'
local container = require "ns.container"

local function judge(args)
  -- start and wait, not run: run also prints why the container ended
  local st = container.start {
    args = args,
    readonly = true,
    mounts = { { type = "tmpfs", target = "/tmp", data = "size=16m,mode=1777" } },
    cgroup = { memory = "64M", pids = 32 },
    rlimits = { cpu = { 1, 2 } }, -- SIGXCPU at 1 s of cpu, SIGKILL at 2
    init = true, -- the command is PID 2 under a reaper: a PID 1 ignores SIGXCPU
    timeout = 2, stop_timeout = 0, -- wall clock: then kill at once
    capture = true, capture_limit = "1M",
  }:wait()
  local verdict
  if st.timeout then verdict = "timeout"
  elseif st.oom then verdict = "oom"
  elseif st.signal == "XCPU" then verdict = "cpu"
  elseif st.pids_limited then verdict = "pids"
  elseif st.exited and st.code == 0 then verdict = "ok"
  elseif st.exited then verdict = "exit " .. st.code
  else verdict = "signal " .. tostring(st.signal) end
  return verdict, st
end

local args = { ... }
if #args == 0 then args = { "/bin/sh", "-c", "echo hello from the sandbox" } end
local verdict, st = judge(args)
print(("verdict: %s (stdout %d bytes%s, stderr %d bytes)"):format(verdict, #st.stdout,
  st.stdout_truncated and ", cut" or "", #st.stderr))
io.write(st.stdout:sub(1, 200))
io.stderr:write(st.stderr:sub(1, 200))
