--- luactr-oci: an OCI runtime with runc's command line, so that podman
-- (conmon), containerd's runc shim and CRI-O can drive luactr. The global
-- flags come before the command, as those clients put them:
--
--   luactr-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]
--              [--systemd-cgroup] [--rootless true|false|auto] COMMAND ...
--
-- Commands: create, start, run, state, kill, delete, list, ps, pause,
-- resume, features, spec; --version. An error goes to stderr and, with
-- --log, to that file in the format asked (text: logrus's key=value line;
-- json: {"level", "msg", "time"}, which the clients read back), and the
-- exit status is 1, as runc's.
local ns = require "ns.core"
local rt = require "ns.oci.runtime"

local fmt = string.format

local VERSION = "0.1.0"

local argv = {}
for i = 1, #arg do argv[i] = arg[i] end

local log_path, log_format, debug = nil, "text", false

-- One line of the log at level, in the format asked.
local function log(level, msg)
  if not log_path then return end
  local st = require "ns.state"
  local line
  if log_format == "json" then
    line = st.encode({ level = level, msg = msg, time = st.now() }, "log") .. "\n"
  else
    line = fmt("time=%s level=%s msg=%s\n", st.encode(st.now(), "log"), level, st.encode(msg, "log"))
  end
  local f = ns.open(log_path, { "wronly", "creat", "append" }, "0644")
  if f then f:write(line) f:close() end
end

local function die(msg, code)
  msg = tostring(msg)
  log("error", msg)
  io.stderr:write("luactr-oci: ", msg, "\n")
  os.exit(code or 1)
end

local function parser()
  local argparse = require "argparse"
  local p = argparse("luactr-oci", "An OCI runtime (runc's command line) over luactr.")
  p:add_help(false):help_max_width(100)
  p:flag("-h --help", "Print this help.")
  p:flag("-v --version", "Print the version and the runtime-spec version.")
  p:option("--root", "Where the containers' states are kept."):default(rt.default_root())
  p:option("--log", "Also write errors (and with --debug, more) to this file.")
  p:option("--log-format", "The log's format: text or json."):choices({ "text", "json" }):default("text")
  p:flag("--debug", "Log what luactr-oci does.")
  p:flag("--systemd-cgroup", "cgroupsPath is slice:prefix:name; mapped onto cgroupfs.")
  p:option("--rootless", "Rootless: true, false or auto."):default("auto")
  p:option("--criu", "Ignored (no checkpoint support).")
  p:command_target("command")
  p:require_command(false)

  local function create_flags(c)
    c:option("-b --bundle", "The bundle's directory (default: the current one).")
    c:option("--pid-file", "Write the container's pid there.")
    c:option("--console-socket", "Send the pty's master to this AF_UNIX socket.")
    c:flag("--no-pivot", "Accepted; luactr always pivots.")
    c:flag("--no-new-keyring", "Accepted; the container gets a new session keyring anyway.")
    c:option("--preserve-fds", "Pass this many fds from 3 on."):convert(math.tointeger):default("0")
    c:argument("id", "The container's id.")
  end
  create_flags(p:command("create", "Create a container, its process held before exec."))
  local r = p:command("run", "Create and start a container.")
  create_flags(r)
  r:flag("-d --detach", "Return once it runs.")
  r:flag("--keep", "Keep its state after it exits.")
  p:command("start", "Start a created container."):argument("id")
  p:command("state", "Print the OCI state of a container."):argument("id")
  local k = p:command("kill", "Send a signal to a container's process.")
  k:flag("-a --all", "To every process of its cgroup.")
  k:argument("id")
  k:argument("signal"):args("?"):default("SIGTERM")
  local d = p:command("delete", "Delete a container's state.")
  d:flag("-f --force", "Kill it first if it runs.")
  d:argument("id")
  local l = p:command("list", "List the containers.")
  l:option("-f --format", "table or json."):choices({ "table", "json" }):default("table")
  l:flag("-q --quiet", "Ids only.")
  local ps = p:command("ps", "The processes of a container.")
  ps:option("-f --format", "table or json."):choices({ "table", "json" }):default("table")
  ps:argument("id")
  ps:argument("ps_args"):args("*")
  local e = p:command("exec", "Run a process in a running container.")
  e:option("-p --process", "The process as an OCI process object (JSON).")
  e:flag("-d --detach", "Return once it runs (the caller's subreaper waits for it).")
  e:option("--pid-file", "Write its pid there.")
  e:flag("-t --tty", "A pty for it.")
  e:option("--console-socket", "Send the pty's master to this AF_UNIX socket.")
  e:option("--cwd", "Its working directory.")
  e:option("-e --env", "KEY=VALUE, repeated."):count("*")
  e:option("-u --user", "UID[:GID]."):target("exec_user")
  e:option("-c --cap", "A capability to add, repeated."):count("*")
  e:flag("--no-new-privs", "Set no_new_privs.")
  e:option("--preserve-fds", "Pass this many fds from 3 on."):convert(math.tointeger):default("0")
  e:option("--process-label", "Ignored (no SELinux).")
  e:option("--apparmor", "Ignored (no AppArmor).")
  e:argument("id")
  e:argument("args"):args("*")
  local u = p:command("update", "Change a running container's limits.")
  u:option("-r --resources", "An OCI LinuxResources object (JSON; - for stdin).")
  u:option("--memory", "Memory limit in bytes.")
  u:option("--memory-swap", "Memory plus swap in bytes.")
  u:option("--cpu-quota", "CPU CFS quota (microseconds a period).")
  u:option("--cpu-period", "CPU CFS period (microseconds).")
  u:option("--cpu-share", "CPU shares.")
  u:option("--cpuset-cpus", "CPUs to use.")
  u:option("--cpuset-mems", "Memory nodes to use.")
  u:option("--cpu-rt-period", "CPU realtime period (microseconds).")
  u:option("--cpu-rt-runtime", "CPU realtime runtime a period (microseconds).")
  u:option("--memory-reservation", "Memory soft limit in bytes.")
  u:option("--kernel-memory-tcp", "TCP buffer limit in bytes (cgroup v1).")
  u:option("--pids-limit", "Most processes.")
  u:option("--blkio-weight", "Block IO weight (10-1000).")
  u:argument("id")
  p:command("pause", "Freeze a container's processes."):argument("id")
  p:command("resume", "Thaw them."):argument("id")
  p:command("features", "What this runtime supports (runtime-spec features.md).")
  local sp = p:command("spec", "Write a default config.json.")
  sp:option("-b --bundle", "Where to write it.")
  sp:flag("--rootless", "For a rootless container."):target("spec_rootless")
  return p
end

-- runc exec ID CMD ARGS...: what follows the id is the command's, -c
-- and all; a "--" after the id keeps argparse from reading it.
local EXEC_VALUE = { ["-p"] = true, ["--process"] = true, ["--pid-file"] = true, ["--console-socket"] = true,
  ["--cwd"] = true, ["-e"] = true, ["--env"] = true, ["-u"] = true, ["--user"] = true, ["-c"] = true, ["--cap"] = true,
  ["--preserve-fds"] = true, ["--process-label"] = true, ["--apparmor"] = true }
local GLOBAL_VALUE = { ["--root"] = true, ["--log"] = true, ["--log-format"] = true, ["--rootless"] = true, ["--criu"] = true }
do
  local i = 1
  while i <= #argv and argv[i]:sub(1, 1) == "-" do
    if GLOBAL_VALUE[argv[i]] then i = i + 1 end
    i = i + 1
  end
  if argv[i] == "exec" then
    i = i + 1
    while i <= #argv and argv[i] ~= "--" and argv[i]:sub(1, 1) == "-" do
      if EXEC_VALUE[argv[i]] then i = i + 1 end
      i = i + 1
    end
    if i < #argv and argv[i] ~= "--" and argv[i + 1] ~= "--" then table.insert(argv, i + 1, "--") end
  end
end

local p = parser()
local ok, a = p:pparse(argv)
if not ok then die(a) end
log_path, log_format, debug = a.log, a.log_format, a.debug
if a.help then io.stdout:write(p:get_help(), "\n") os.exit(0) end
if a.version then
  io.stdout:write(fmt("luactr-oci version %s\nspec: %s\n", VERSION, rt.OCI_VERSION))
  os.exit(0)
end
if not a.command then io.stderr:write(p:get_usage(), "\n") os.exit(1) end

local function encode(v, indent)
  return require("ns.state").encode(v, "output", indent and "  " or nil)
end

local root = a.root
local rootless = a.rootless == "true" or (a.rootless == "auto" and select(2, ns.getuid()) ~= 0)

local function create(x)
  rt.create(root, x.id, x.bundle, { pid_file = x.pid_file, console_socket = x.console_socket,
    preserve_fds = x.preserve_fds, no_new_keyring = x.no_new_keyring, rootless = rootless,
    systemd_cgroup = a.systemd_cgroup })
end

local COMMANDS = {}

function COMMANDS.create() create(a) end
function COMMANDS.start() rt.start(root, a.id) end
function COMMANDS.state() io.stdout:write(encode(rt.state(root, a.id), true), "\n") end
function COMMANDS.kill()
  local sig = a.signal:gsub("^SIG", "")
  rt.kill(root, a.id, math.tointeger(tonumber(sig)) or sig, a.all)
end
function COMMANDS.delete()
  local okd, err = pcall(rt.delete, root, a.id, a.force)
  if not okd then
    -- runc: deleting what is not there is no error with --force.
    if a.force and type(err) == "table" and err.message == "container does not exist" then return end
    error(err, 0)
  end
end
function COMMANDS.exec()
  local proc
  if a.process then
    local text, why = ns.readfile(a.process)
    if not text then die("process: " .. tostring(why)) end
    local okj, v = pcall(require("cjson").decode, text)
    if not okj or type(v) ~= "table" then die("process: " .. a.process .. ": not a JSON object") end
    proc = v
  else
    if #a.args == 0 then die("exec: no command given (ARGS or --process FILE)") end
    proc = { args = a.args, env = a.env, cwd = a.cwd, terminal = a.tty or nil }
    if a.exec_user then
      local uid, gid = a.exec_user:match("^(%d+):?(%d*)$")
      if not uid then die("exec: --user " .. a.exec_user .. ": UID[:GID], in numbers") end
      proc.user = { uid = math.tointeger(tonumber(uid)), gid = math.tointeger(tonumber(gid)) or 0 }
    end
    if a.no_new_privs then proc.noNewPrivileges = true end
  end
  local r = rt.exec(root, a.id, proc, { detach = a.detach, pid_file = a.pid_file, console_socket = a.console_socket,
    add_caps = a.cap, add_env = not a.process or nil })
  if not a.detach then os.exit(r.status or 255) end
end
function COMMANDS.update()
  local r
  if a.resources then
    local text = a.resources == "-" and io.stdin:read("a") or ns.readfile(a.resources)
    if not text then die("update: --resources " .. a.resources .. ": cannot read it") end
    local okj, v = pcall(require("cjson").decode, text)
    if not okj or type(v) ~= "table" then die("update: --resources: not a JSON object") end
    r = v
  else
    local function n(v, flag)
      if v == nil then return nil end
      local x = math.tointeger(tonumber(v))
      if not x then die(fmt("update: --%s %s: a whole number", flag, v)) end
      return x
    end
    r = {}
    if a.memory or a.memory_swap or a.memory_reservation or a.kernel_memory_tcp then
      r.memory = { limit = n(a.memory, "memory"), swap = n(a.memory_swap, "memory-swap"),
        reservation = n(a.memory_reservation, "memory-reservation"), kernelTCP = n(a.kernel_memory_tcp, "kernel-memory-tcp") }
    end
    if a.cpu_quota or a.cpu_period or a.cpu_share or a.cpuset_cpus or a.cpuset_mems or a.cpu_rt_period or a.cpu_rt_runtime then
      r.cpu = { quota = n(a.cpu_quota, "cpu-quota"), period = n(a.cpu_period, "cpu-period"),
        shares = n(a.cpu_share, "cpu-share"), cpus = a.cpuset_cpus, mems = a.cpuset_mems,
        realtimePeriod = n(a.cpu_rt_period, "cpu-rt-period"), realtimeRuntime = n(a.cpu_rt_runtime, "cpu-rt-runtime") }
    end
    if a.pids_limit then r.pids = { limit = n(a.pids_limit, "pids-limit") } end
    if a.blkio_weight then r.blockIO = { weight = n(a.blkio_weight, "blkio-weight") } end
  end
  rt.update(root, a.id, r)
end
function COMMANDS.pause() rt.pause(root, a.id) end
function COMMANDS.resume() rt.resume(root, a.id) end

function COMMANDS.run()
  create(a)
  local st = rt.state(root, a.id)
  local fd = ns.pidfd_open(st.pid)
  rt.start(root, a.id)
  if a.detach then
    if fd then fd:close() end
    return
  end
  -- It is our child (create cloned it): wait, then delete.
  local w = fd and ns.wait(fd) or { status = 255 }
  if fd then fd:close() end
  if not a.keep then pcall(rt.delete, root, a.id, true) end
  os.exit(w.status or 255)
end

function COMMANDS.list()
  local all = rt.list(root)
  if a.quiet then
    for _, s in ipairs(all) do print(s.id) end
  elseif a.format == "json" then
    io.stdout:write(encode(all), "\n")
  else
    print(fmt("%-12s %-8s %-10s %-40s %-30s %s", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"))
    for _, s in ipairs(all) do
      print(fmt("%-12s %-8d %-10s %-40s %-30s %s", s.id, s.pid, s.status, s.bundle or "", s.created or "", "root"))
    end
  end
end

function COMMANDS.ps()
  local pids = rt.pids(root, a.id)
  if a.format == "json" then
    io.stdout:write(encode(pids), "\n")
    return
  end
  local args = { "ps" }
  for _, x in ipairs(a.ps_args or {}) do args[#args + 1] = x end
  if #args == 1 then args[2] = "-ef" end
  -- ps's header, then the lines of the container's pids (the second
  -- column of ps -ef and most formats).
  local want = {}
  for _, pid in ipairs(pids) do want[tostring(pid)] = true end
  local cmd = {}
  for _, x in ipairs(args) do cmd[#cmd + 1] = "'" .. x:gsub("'", "'\\''") .. "'" end
  local f = io.popen(table.concat(cmd, " "))
  local first = true
  for line in f:lines() do
    if first then print(line) first = false
    else
      local words = {}
      for wd in line:gmatch("%S+") do words[#words + 1] = wd end
      if want[words[2] or ""] or want[words[1] or ""] then print(line) end
    end
  end
  f:close()
end

function COMMANDS.features() io.stdout:write(encode(require("ns.oci.config").features(), true), "\n") end

function COMMANDS.spec()
  local dir = a.bundle or ns.getcwd()
  local path = dir .. "/config.json"
  if ns.stat(path) then die("File " .. path .. " exists. Remove it first") end
  local spec = require("ns.oci.spec").default(a.spec_rootless)
  local okw, err = ns.writefile(path, encode(spec, true) .. "\n", { create = true, mode = "0644" })
  if not okw then die(err) end
end

local okc, err = pcall(COMMANDS[a.command])
if not okc then
  die(type(err) == "table" and err.message or tostring(err))
end
if debug then log("debug", a.command .. " " .. (a.id or "") .. ": done") end
os.exit(0)
