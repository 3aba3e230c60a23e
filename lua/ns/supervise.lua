--- ns.supervise: a running container's supervisor, written once: signal
-- forwarding (luactr's and the init reaper's), waiting for the container
-- (relaying the terminal with one), and the end of its life: OOM
-- verdict, undoing the parent's ops.
local ns = require "ns.core"
local errors = require "ns.errors"
local ops = require "ns.ops"

local M = {}

local fmt, concat = string.format, table.concat
local must = errors.must

-- Signals luactr passes on to the container.
M.forwarded_signals = { "INT", "TERM", "HUP", "QUIT", "USR1", "USR2" }

-- luactr blocks the signals it forwards (a signalfd only sees blocked
-- signals) while any of its containers runs, and unblocks them when the
-- last one ends, so that a recipe that goes on afterwards can be
-- interrupted again.
local forwarding = 0
local FORWARD_TTY = { "WINCH" }
for _, n in ipairs(M.forwarded_signals) do FORWARD_TTY[#FORWARD_TTY + 1] = n end

--- forwarding_on(tty) -> a signalfd of the signals to forward (with
-- SIGWINCH for a terminal).
function M.forwarding_on(tty)
  local fd = assert(ns.signalfd(tty and FORWARD_TTY or M.forwarded_signals))
  forwarding = forwarding + 1
  return fd
end

function M.forwarding_off(fd)
  if not fd:fileno() then return end -- closed already
  fd:close()
  forwarding = forwarding - 1
  if forwarding == 0 then ns.sigmask("unblock", FORWARD_TTY) end
end

-- Pass every pending signal of sigfd to pidfd; returns whether one was
-- other than those skipped.
local function forward(sigfd, pidfd, skip)
  local s = ns.sigread(sigfd)
  while s do
    if s ~= skip then ns.kill(pidfd, s) end
    s = ns.sigread(sigfd)
  end
end

--- reaper(pid, pidfd): what init = true puts in front of the command:
-- PID 1 stays here and its child goes on to exec. It forwards signals to
-- that child, reaps every orphan, and ends with the child's status. It is
-- not dumpable, so nothing in the container can ptrace it or open its
-- /proc/1/exe (the host's luactr binary). Never returns.
function M.reaper(pid, pidfd)
  collectgarbage("restart") -- it lives as long as the container
  must("prctl", ns.prctl("dumpable", false))
  local sigs = { "CHLD" } -- wakes the reaper for orphans that end
  for _, n in ipairs(M.forwarded_signals) do sigs[#sigs + 1] = n end
  local sigfd = must("signalfd", ns.signalfd(sigs))
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
      if st.pid == pid then code = st.status end
    end
    if code then ns._exit(code) end
  end
end

--- wait(h) -> status: relay the terminal (tty mode) or forward signals
-- until the container ends, then finish(h, status).
function M.wait(h)
  local pidfd, sigfd = h.pidfd, h.sigfd
  if h.master then
    local restore = ns.rawmode(0)
    local ok, msg = ns.relay(h.master, { pidfd = pidfd, sigfd = sigfd })
    if restore then restore:restore() end
    if not ok then io.stderr:write("luactr: relay: ", tostring(msg), "\n") end
  else
    while true do
      local r = ns.poll({ pidfd, sigfd }, -1)
      local ended = false
      for _, i in ipairs(r) do
        if i == 1 then ended = true end
        if i == 2 then forward(sigfd, pidfd) end
      end
      if ended then break end
    end
  end
  local st = assert(ns.wait(pidfd))
  M.finish(h, st)
  return st
end

--- finish(h, st): the container has ended with status st: the OOM
-- verdict, close its fds, undo the parent's ops (cgroup, upper layer).
-- Raises when an undo failed, after doing all of them.
function M.finish(h, st)
  local x, c = h.x, h.c
  if x.cg then
    local ok, n = pcall(x.cg.oom_killed, x.cg)
    if ok and n and n > 0 and st.killed then
      st.oom = true
      st.message = fmt("killed by the OOM killer: memory limit %s", tostring(c.cgroup.memory))
    end
  end
  if h.pidfd then h.pidfd:close() end
  if h.sigfd then M.forwarding_off(h.sigfd) end
  if h.master then h.master:close() end
  h.status = st
  h.t_end = ns.clock()
  local errs = ops.undo(x, h.ops, #h.ops)
  if x.ov and c.keep_upper then st.upper = x.ov.upper end
  if h.on_finish then h.on_finish(h) end
  if #errs > 0 then error(fmt("%s: cleanup: %s", c.what, concat(errs, "; ")), 0) end
end

return M
