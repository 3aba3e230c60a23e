--- ns.monitor: a detached container's monitor loop, from the container's
-- start to its end, loading nothing but the core until then (so that the
-- lean `luactr monitor`, lua/luactr/monitor.lua, stays small):
--
--   run(o)   relay the container's stdout and stderr (or its pty's
--            output) to its log in the CRI format, pass on the signals
--            the monitor gets (INT TERM HUP QUIT USR1 USR2, blocked since
--            the start), enforce the timeout, and once the container has
--            ended reap it and have ns.lifecycle record the end and
--            collect. Returns when all that is done.
--
-- o: root, id (the record's), log_path; fds = {pidfd, lock, log, stdout,
-- stderr, stdin, init} (ns.fd handles; pidfd, lock and log needed);
-- stop_signal, stop_timeout, timeout (seconds, 0 none, as its text for
-- the message); log_max (bytes), log_files (how many the rotation keeps:
-- log -> log.1 -> ...); and, for a monitor that stays the luactr that
-- started the container (one whose seccomp handlers are Lua functions),
-- listener (the seccomp listener) with on_notify(fd), called when it (or
-- a listener handed over) is ready, false for one to drop; server, a
-- listening socket at server_path (removed at the end) on which luactr
-- exec hands over the listeners of the processes it starts; and more =
-- {name = fd}: other streams into the log (what the handlers print).
local ns = require "ns.core"

local M = {}

local fmt, concat = string.format, table.concat

-- ns.state.now's form; that module stays unloaded while the container runs.
local function now()
  local t = ns.clock("realtime")
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. fmt(".%06dZ", math.floor((t - s) * 1e6))
end

function M.run(o)
  local fds, log_path = o.fds, o.log_path
  local pidfd, log = fds.pidfd, fds.log
  local log_max, log_files = o.log_max, o.log_files
  local log_size = (ns.stat(log_path) or {}).size or 0

  -- Past log_max bytes: log -> log.1 -> ... -> log.<log_files - 1>, the
  -- oldest dropped, and a new log.
  local function rotate()
    if log_files <= 1 then
      log:close()
      log = assert(ns.open(log_path, { "wronly", "creat", "trunc" }, "0640"))
    else
      ns.unlink(log_path .. "." .. (log_files - 1))
      for i = log_files - 2, 1, -1 do ns.rename(log_path .. "." .. i, log_path .. "." .. (i + 1)) end
      ns.rename(log_path, log_path .. ".1")
      log:close()
      log = assert(ns.open(log_path, { "wronly", "creat", "append" }, "0640"))
    end
    log_size = 0
  end

  -- One CRI log line per line of a chunk: "<time> <stream> F <line>", and
  -- "P" for a part of a line that has not ended yet.
  local function write(stream, chunk)
    local out, t, at = {}, now(), 1
    while at <= #chunk do
      local nl = chunk:find("\n", at, true)
      if not nl then
        out[#out + 1] = fmt("%s %s P %s\n", t, stream, chunk:sub(at))
        break
      end
      out[#out + 1] = fmt("%s %s F %s\n", t, stream, chunk:sub(at, nl - 1))
      at = nl + 1
    end
    local text = concat(out)
    log:write(text)
    log_size = log_size + #text
    -- A file holds at most log_max bytes and one read's lines more.
    if log_size >= log_max then rotate() end
  end

  -- The streams: {stream name, fd}.
  local streams = {}
  for _, k in ipairs({ "stdout", "stderr" }) do
    if fds[k] then streams[#streams + 1] = { k, fds[k] } end
  end
  for k, fd in pairs(o.more or {}) do streams[#streams + 1] = { k, fd } end

  local sigfd = ns.signalfd({ "INT", "TERM", "HUP", "QUIT", "USR1", "USR2" })
  local timeout = o.timeout or 0
  local deadline = timeout > 0 and ns.clock() + timeout or nil
  local kill_at, timed_out

  -- Read what s holds into the log; false (and s closed) at its end. A
  -- pty's master reads EIO once no process has its slave open.
  local function read_into(s)
    local chunk = s[2]:read(65536)
    if chunk and chunk ~= "" then
      write(s[1], chunk)
      return true
    end
    s[2]:close()
    s.closed = true
    return false
  end

  -- Listeners of processes exec'd into the container, which luactr
  -- exec hands over on the server socket (o.server), answered as the
  -- container's own; each goes once its processes have.
  -- (ns.supervise's take_listener, which a monitor with a server, the
  -- full luactr, has loaded already.)
  local listeners = {}
  local served = { notify_server = o.server, listeners = listeners }

  while true do
    local list, act = { pidfd, sigfd }, {}
    local function add(fd, fn) list[#list + 1] = fd; act[#list] = fn end
    if o.listener then add(o.listener, function() o.on_notify(o.listener) end) end
    if o.server then add(o.server, function() require("ns.supervise").take_listener(served) end) end
    for i, fd in ipairs(listeners) do
      add(fd, function(hup)
        if hup or o.on_notify(fd) == false then fd:close(); listeners[i] = false end
      end)
    end
    for _, s in ipairs(streams) do
      if not s.closed then add(s[2], function() read_into(s) end) end
    end
    local ms = -1
    local at = kill_at or deadline
    if at then ms = math.max(0, math.ceil((at - ns.clock()) * 1000)) end
    local ready, hup = ns.poll(list, ms)
    ready, hup = ready or {}, hup or {}
    local ended = false
    for _, i in ipairs(ready) do
      if i == 1 then
        ended = true
      elseif i == 2 then
        local sig = ns.sigread(sigfd)
        while sig do
          ns.kill(pidfd, sig)
          sig = ns.sigread(sigfd)
        end
      else
        act[i](hup[i])
      end
    end
    for i = #listeners, 1, -1 do if not listeners[i] then table.remove(listeners, i) end end
    if ended then break end
    local t = ns.clock()
    if deadline and t >= deadline then
      deadline, timed_out = nil, true
      ns.kill(pidfd, o.stop_signal)
      kill_at = t + o.stop_timeout
    elseif kill_at and t >= kill_at then
      kill_at = nil
      ns.kill(pidfd, "KILL")
    end
  end
  -- What the pipes still hold; a process that outlived the container and
  -- holds one open is not waited for.
  for _, s in ipairs(streams) do
    while not s.closed and #ns.poll({ s[2] }, 0) > 0 and read_into(s) do end
    if not s.closed then s[2]:close() end
  end

  local st = ns.wait(pidfd) or { killed = true, signal = "KILL", status = 137 }
  pidfd:close()
  if fds.init then
    require("ns.supervise").init_report(st, fds.init:read(64) or "")
    fds.init:close()
  end
  if fds.stdin then fds.stdin:close() end
  if o.listener then o.listener:close() end
  for _, fd in ipairs(listeners) do fd:close() end
  if o.server then
    o.server:close()
    ns.unlink(o.server_path)
  end
  if timed_out then write("stderr", fmt("luactr monitor: stopped after its timeout of %s s\n", tostring(timeout))) end
  local ok, err = pcall(require("ns.lifecycle").finished, o.root, o.id, st)
  if not ok then write("stderr", "luactr monitor: " .. tostring(err) .. "\n") end
  log:close()
  fds.lock:close()
end

return M
