--- ns.supervise: a running container's supervisor, written once: signal
-- forwarding (luactr's, and the init reaper's: ns.ops.reaper), waiting
-- for the container (relaying the terminal with one), and the end of its
-- life: OOM verdict, undoing the parent's ops.
local ns = require "ns.core"
local errors = require "ns.errors"
local ops = require "ns.ops"

local M = {}

local fmt, concat = string.format, table.concat
local must = errors.must

-- Signals luactr passes on to the container (and the init reaper,
-- ns.ops.reaper, to its child).
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

--- forward(sigfd, pidfd [, skip [, sent]]): pass every pending signal of
-- sigfd to pidfd, but skip; each one passed goes to sent(name) too, when
-- given.
local function forward(sigfd, pidfd, skip, sent)
  local s = ns.sigread(sigfd)
  while s do
    if s ~= skip then
      ns.kill(pidfd, s)
      if sent then sent(s) end
    end
    s = ns.sigread(sigfd)
  end
end
M.forward = forward

-- The signals whose forwarding starts the grace period (HUP: the
-- terminal or session went away): a container
-- whose PID 1 has no handler for them (PID 1 of a pid namespace ignores
-- those) is killed when stop_timeout runs out, as docker stop does.
local STOP_LIST = { "HUP", "INT", "TERM" }
local STOP = {}
for _, n in ipairs(STOP_LIST) do STOP[n] = true end

-- Arm the kill: stop_timeout seconds from now, unless armed already.
local function arm_kill(h)
  if not h.kill_at then h.kill_at = ns.clock() + h.c.stop_timeout end
end

-- Pass every pending signal of h.sigfd to the container; a stop signal
-- arms the kill.
local function forward_all(h)
  forward(h.sigfd, h.pidfd, nil, function(s) if STOP[s] then arm_kill(h) end end)
end

-- Read what one capture pipe has (it is readable), up to capture_limit
-- kept; the rest is read and dropped, so that the container never blocks
-- on a full pipe. Returns false at end of file.
local function take(h, k)
  local cap = h.capture
  local s = cap[k]:read(65536)
  if not s or s == "" then
    cap[k]:close()
    cap[k] = nil
    return false
  end
  local room = h.c.capture_limit - cap.size[k]
  if #s > room then
    s = s:sub(1, math.max(room, 0))
    cap.truncated[k] = true
  end
  if #s > 0 then
    local buf = cap.buf[k]
    buf[#buf + 1] = s
    cap.size[k] = cap.size[k] + #s
  end
  return true
end

--- take_listener(h): accept one connection on h.notify_server and add
-- the seccomp listener it hands over (within a second) to h.listeners.
function M.take_listener(h)
  local conn = ns.accept(h.notify_server)
  if not conn then return end
  if #ns.poll({ conn }, 1000) > 0 then
    local _, fd = ns.recvfd(conn)
    if fd then
      h.listeners = h.listeners or {}
      h.listeners[#h.listeners + 1] = fd
    end
  end
  conn:close()
end

--- drop_listener(h, fd): fd (one of h.listeners) is closed and dropped:
-- its processes have gone.
function M.drop_listener(h, fd)
  for i, l in ipairs(h.listeners or {}) do
    if l == fd then table.remove(h.listeners, i) break end
  end
  fd:close()
end

-- One round: wait up to ms (-1: until something happens, bounded by the
-- deadlines) for the container's end, a signal to forward, output to
-- capture or a deadline. Returns whether the container has ended.
local function step(h, ms)
  local fds, keys = { h.pidfd, h.sigfd }, {}
  if h.capture then
    for _, k in ipairs({ "stdout", "stderr" }) do
      if h.capture[k] then fds[#fds + 1] = h.capture[k]; keys[#fds] = k end
    end
  end
  -- The seccomp listener: a call of the container waits for its handler;
  -- and those of processes exec'd into it (h.listeners), some handed
  -- over on h.notify_server by luactr exec.
  if h.listener then fds[#fds + 1] = h.listener; keys[#fds] = false end
  for _, fd in ipairs(h.listeners or {}) do fds[#fds + 1] = fd; keys[#fds] = fd end
  if h.notify_server then fds[#fds + 1] = h.notify_server; keys[#fds] = true end
  local now = ns.clock()
  for _, at in ipairs({ h.timeout_at or math.huge, h.kill_at or math.huge }) do
    if at < math.huge then
      local left = math.max(0, math.ceil((at - now) * 1000))
      if ms < 0 or left < ms then ms = left end
    end
  end
  local r, hup = ns.poll(fds, ms)
  local ended = false
  for _, i in ipairs(r or {}) do
    if i == 1 then
      ended = true
    elseif i == 2 then
      forward_all(h)
    elseif keys[i] == false then
      require("ns.security.seccomp_notify").handle(h)
    elseif keys[i] == true then
      M.take_listener(h)
    elseif type(keys[i]) ~= "string" then
      local fd = keys[i]
      if hup[i] or require("ns.security.seccomp_notify").handle(h, fd) == false then M.drop_listener(h, fd) end
    else
      take(h, keys[i])
    end
  end
  if ended then return true end
  now = ns.clock()
  if h.timeout_at and now >= h.timeout_at then
    -- The wall clock ran out: stop it, then kill it.
    h.timeout_at, h.timed_out = nil, true
    ns.kill(h.pidfd, h.c.stop_signal or "TERM")
    arm_kill(h)
  end
  if h.kill_at and now >= h.kill_at then
    h.kill_at = math.huge -- once
    ns.kill(h.pidfd, "KILL")
  end
  return false
end

-- What the capture pipes still hold once the container has ended; a
-- process that outlived it and holds a pipe open is not waited for.
local function drain(h)
  local cap = h.capture
  for _, k in ipairs({ "stdout", "stderr" }) do
    while cap[k] and #ns.poll({ cap[k] }, 0) > 0 and take(h, k) do end
    if cap[k] then cap[k]:close(); cap[k] = nil end
  end
end

--- wait(h [, nohang]) -> status: relay the terminal (tty mode), or forward
-- signals and read captured output, until the container ends, then
-- finish(h, status). With nohang, one round that does not block: nil
-- while the container runs.
function M.wait(h, nohang)
  local pidfd = h.pidfd
  if h.master then
    local restore = ns.rawmode(0)
    local left = h.timeout_at and math.max(h.timeout_at - ns.clock(), 0.001) or nil
    local ok, msg = ns.relay(h.master, { pidfd = pidfd, sigfd = h.sigfd, stop = STOP_LIST,
      kill_after = h.c.stop_timeout, timeout = left })
    if ok and msg then h.timed_out = true end
    if restore then restore:restore() end
    if not ok then io.stderr:write("luactr: relay: ", tostring(msg), "\n") end
  elseif nohang then
    if not step(h, 0) then return nil end
  else
    while not step(h, -1) do end
  end
  local st = assert(ns.wait(pidfd))
  if h.capture then drain(h) end
  M.finish(h, st)
  return st
end

--- stop(h [, seconds]) -> status: the recipe's stop_signal (default
-- SIGTERM, or the image's StopSignal), then SIGKILL after seconds (default
-- the recipe's stop_timeout) if the container is still running, as docker
-- stop does; waits for the end.
function M.stop(h, seconds)
  if h.status then return h.status end
  ns.kill(h.pidfd, h.c.stop_signal or "TERM")
  h.kill_at = ns.clock() + (seconds or h.c.stop_timeout)
  return M.wait(h)
end

--- init_report(st, how): the wait status st of an init reaper (which
-- exits with its child's code) made its child's, from what the reaper
-- wrote on its status pipe ("killed 9 KILL" when a signal ended it).
function M.init_report(st, how)
  local kind, n, name = how:match("^(%a+) (%d+) (%S+)")
  n = math.tointeger(tonumber(n))
  if kind == "killed" and n then
    for k in pairs(st) do if k ~= "pid" then st[k] = nil end end
    st.killed, st.signo, st.signal, st.status = true, n, name, 128 + n
  end
end

--- finish(h, st): the container has ended with status st: the OOM
-- verdict, close its fds, undo the parent's ops (cgroup, upper layer).
-- Raises when an undo failed, after doing all of them.
function M.finish(h, st)
  local x, c = h.x, h.c
  if h.init_status then
    -- The reaper (PID 1) exits with its child's code; how the child
    -- really ended comes over this pipe.
    M.init_report(st, h.init_status:read(64) or "")
    h.init_status:close()
    h.init_status = nil
  end
  if x.cg then
    local ok, s = pcall(x.cg.stats, x.cg)
    if ok and (s.oom_kills or 0) > 0 and st.killed then
      st.oom = true
      st.message = fmt("killed by the OOM killer: memory limit %s", tostring(c.cgroup.memory))
    end
    if ok and (s.pids_limit_hits or 0) > 0 then st.pids_limited = true end
  end
  if h.timed_out then
    st.timeout = true
    st.message = st.message or fmt("stopped after its timeout of %s s", tostring(c.timeout))
  end
  if h.capture then
    local cap = h.capture
    for _, k in ipairs({ "stdout", "stderr" }) do
      if cap[k] then cap[k]:close(); cap[k] = nil end
      st[k] = concat(cap.buf[k])
      if cap.truncated[k] then st[k .. "_truncated"] = true end
    end
  end
  if h.pidfd then h.pidfd:close() end
  if h.listener then h.listener:close(); h.listener = nil end
  for _, fd in ipairs(h.listeners or {}) do fd:close() end
  h.listeners = nil
  if h.notify_server then
    h.notify_server:close()
    h.notify_server = nil
    ns.unlink(h.notify_path)
  end
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
