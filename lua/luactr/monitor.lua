--- luactr monitor ROOT ID FDS STOP_SIGNAL STOP_TIMEOUT TIMEOUT LOG_MAX
-- LOG_FILES LOG: the lean half of a detached container's monitor, not a
-- command for users. The monitor that `luactr run -d` forks starts the
-- container (it is its parent), then execs this with the fds it passes
-- (FDS: name=number pairs, the numbers ns.lifecycle chose: pidfd, lock,
-- log, stdout, stderr, stdin, init) and LOG, the log's path; ns.monitor
-- runs the rest, with nothing but the core loaded until the container ends.
local ns = require "ns.core"

local root, id, have = arg[1], arg[2], arg[3]
local function not_by_hand()
  io.stderr:write("luactr monitor: started by luactr run -d, not by hand\n")
  os.exit(2)
end
if not (root and id and have) then not_by_hand() end

local KNOWN = { pidfd = true, lock = true, log = true, stdout = true, stderr = true, stdin = true, init = true }
local fds = {}
for k, n in have:gmatch("([%w]+)=(%d+)") do
  if not KNOWN[k] then
    io.stderr:write("luactr monitor: unknown fd ", k, "\n")
    os.exit(2)
  end
  fds[k] = ns.fd(math.tointeger(tonumber(n)), k == "pidfd" and "pidfd" or "fd")
end
if not (fds.pidfd and fds.log and fds.lock and arg[9]) then not_by_hand() end

local stop_signal = arg[4] or "TERM"
-- Loaded as a file, not required: luactr's first require maps and
-- undumps the whole start bundle, some 180 kB more in every monitor.
local monitor = assert(loadfile(assert(package.searchpath("ns.monitor", package.path))))()
monitor.run {
  root = root, id = id, fds = fds, log_path = arg[9],
  stop_signal = math.tointeger(tonumber(stop_signal)) or stop_signal, stop_timeout = tonumber(arg[5]) or 10,
  timeout = tonumber(arg[6]) or 0,
  log_max = tonumber(arg[7]) or 16 * 1024 * 1024, log_files = math.tointeger(tonumber(arg[8])) or 2,
}
os.exit(0)
