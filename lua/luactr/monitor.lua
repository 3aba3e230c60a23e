--- luactr monitor ROOT ID FDS STOP_SIGNAL STOP_TIMEOUT TIMEOUT LOG_MAX
-- LOG_FILES LOG: the lean half of a detached container's monitor, not a
-- command for users. The monitor that `luactr run -d` forks starts the
-- container (it is its parent), then execs this with the fds it passes
-- (FDS: name=number pairs, the numbers of ns.lifecycle.MONITOR_FDS:
-- pidfd, lock, log, stdout, stderr, stdin, init) and LOG, the log's path. Until the container ends it loads
-- nothing but the core: it relays the container's stdout and stderr (or
-- its pty's output) to the log in the CRI format, passes on the signals
-- it gets (INT TERM HUP QUIT USR1 USR2, blocked since the start), and
-- enforces a recipe's timeout. The log is rotated (log -> log.1 ...)
-- once it holds LOG_MAX bytes, LOG_FILES files kept. Then it reaps the container and has
-- ns.lifecycle record the end and collect.
local ns = require "ns.core"

local fmt, concat = string.format, table.concat

local root, id, have = arg[1], arg[2], arg[3]
if not (root and id and have) then
  io.stderr:write("luactr monitor: started by luactr run -d, not by hand\n")
  os.exit(2)
end
local stop_signal, stop_timeout, timeout = arg[4] or "TERM", tonumber(arg[5]) or 10, tonumber(arg[6]) or 0
stop_signal = math.tointeger(tonumber(stop_signal)) or stop_signal
local log_max, log_files = tonumber(arg[7]) or 16 * 1024 * 1024, math.tointeger(tonumber(arg[8])) or 2
local log_path = arg[9]

local KNOWN = { pidfd = true, lock = true, log = true, stdout = true, stderr = true, stdin = true, init = true }
local fds = {}
for k, n in have:gmatch("([%w]+)=(%d+)") do
  if not KNOWN[k] then
    io.stderr:write("luactr monitor: unknown fd ", k, "\n")
    os.exit(2)
  end
  fds[k] = ns.fd(math.tointeger(tonumber(n)), k == "pidfd" and "pidfd" or "fd")
end
local pidfd, log = fds.pidfd, fds.log
if not pidfd or not log or not fds.lock or not log_path then
  io.stderr:write("luactr monitor: started by luactr run -d, not by hand\n")
  os.exit(2)
end

-- One CRI log line per line of a chunk: "<time> <stream> F <line>", and
-- "P" for a part of a line that has not ended yet.
-- (ns.state.now's form; that module stays unloaded while the container runs.)
local function now()
  local t = ns.clock("realtime")
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. fmt(".%06dZ", math.floor((t - s) * 1e6))
end

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

local streams = { stdout = fds.stdout, stderr = fds.stderr }
local sigfd = ns.signalfd({ "INT", "TERM", "HUP", "QUIT", "USR1", "USR2" })
local deadline = timeout > 0 and ns.clock() + timeout or nil
local kill_at, timed_out

local function read_into(k)
  local s = streams[k]:read(65536)
  -- A pty's master reads EIO once no process has its slave open.
  if s and s ~= "" then
    write(k, s)
    return true
  end
  streams[k]:close()
  streams[k] = nil
  return false
end

while true do
  local list, keys = { pidfd, sigfd }, {}
  for k, fd in pairs(streams) do list[#list + 1] = fd; keys[#list] = k end
  local ms = -1
  local at = kill_at or deadline
  if at then ms = math.max(0, math.ceil((at - ns.clock()) * 1000)) end
  local ready = ns.poll(list, ms) or {}
  local ended = false
  for _, i in ipairs(ready) do
    if i == 1 then
      ended = true
    elseif i == 2 then
      local s = ns.sigread(sigfd)
      while s do
        ns.kill(pidfd, s)
        s = ns.sigread(sigfd)
      end
    else
      read_into(keys[i])
    end
  end
  if ended then break end
  local t = ns.clock()
  if deadline and t >= deadline then
    deadline, timed_out = nil, true
    ns.kill(pidfd, stop_signal)
    kill_at = t + stop_timeout
  elseif kill_at and t >= kill_at then
    kill_at = nil
    ns.kill(pidfd, "KILL")
  end
end
-- What the pipes still hold; a process that outlived the container and
-- holds one open is not waited for.
for k in pairs(streams) do
  while streams[k] and #ns.poll({ streams[k] }, 0) > 0 and read_into(k) do end
  if streams[k] then streams[k]:close() end
end

local st = ns.wait(pidfd) or { killed = true, signal = "KILL", status = 137 }
pidfd:close()
if fds.init then
  require("ns.supervise").init_report(st, fds.init:read(64) or "")
  fds.init:close()
end
if fds.stdin then fds.stdin:close() end
if timed_out then write("stderr", fmt("luactr monitor: stopped after its timeout of %s s\n", arg[6])) end
local ok, err = pcall(require("ns.lifecycle").finished, root, id, st)
if not ok then write("stderr", "luactr monitor: " .. tostring(err) .. "\n") end
log:close()
fds.lock:close()
os.exit(0)
