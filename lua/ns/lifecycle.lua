--- ns.lifecycle: containers with a record (ns.state), as docker keeps
-- them: created by `luactr run` (in the foreground, or detached with a
-- monitor), found again by id or name, stopped, started again on the
-- upper layer they kept, and collected when whoever ran them is gone.
-- The commands under lua/luactr/ are thin over it; so is a recipe that
-- wants a container to outlive it:
--
--   local life = require "ns.lifecycle"
--   local s = life.run({ image = "busybox", args = {"sleep", "100"} }, { detach = true, name = "web" })
--   life.exec(s, { "hostname" })          --> status
--   life.stop(s, 10); life.remove(s)
--
-- A recorded container's upper layer lives in its state directory
-- (<state>/containers/<id>/fs/upper: the recipe key upper_dir), kept
-- across a stop until it is removed; its cgroup is luactr/<name>; its
-- default hostname is its short id. The record's config keeps the
-- container table as given (the image pinned to its id), or, for a
-- recipe with functions, the argv and directory to read it again.
--
-- Whoever runs a container holds its record (s:hold()): `luactr run` in
-- the foreground, or the monitor of a detached one: a process of its
-- own (its session's leader, out of luactr's process group), the
-- container's parent, which relays its stdout and stderr (or its pty's
-- output) to the log file, records how it ended, and collects. If the
-- monitor dies, the container dies with it (its parent-death signal,
-- SIGKILL), and the next command that reconciles (every command does)
-- marks it exited and collects what it left: its cgroup, the overlay's
-- work dirs, with --rm the record and upper layer.
--
-- The log (<state>/containers/<id>/log) is in the CRI format that
-- containerd and CRI-O write: one line per line of output,
-- "<RFC 3339 time> <stdout|stderr> <F|P> <text>", P for a part of a line
-- that had not ended when it was read.
local ns = require "ns.core"
local state = require "ns.state"

local M = {}

local fmt, concat = string.format, table.concat

local function fail(msg) error(msg, 0) end
local function check(what, v, msg)
  if v == nil then fail(what .. ": " .. tostring(msg)) end
  return v
end

local function oct(s) return tonumber(s, 8) end

-- A pipe's two ends, or raises.
local function pipe()
  local r, w = ns.pipe()
  if not r then fail("pipe: " .. tostring(w)) end
  return r, w
end

--- LOG_MAX, LOG_FILES: a detached container's log is rotated once it
-- has LOG_MAX bytes (log -> log.1 -> log.2 ...), LOG_FILES files kept
-- (run -d --log-opt max-size, max-file): the state root is a tmpfs, and
-- a container must not fill the host's memory by writing.
M.LOG_MAX, M.LOG_FILES = 16 * 1024 * 1024, 2

--- log_files(s) -> the paths of s's log, oldest first (rotated ones,
-- then the one being written).
function M.log_files(s)
  local out = {}
  if not s.log then return out end
  for i = ((s.config or {}).log_files or M.LOG_FILES) - 1, 1, -1 do
    if ns.stat(s.log .. "." .. i) then out[#out + 1] = s.log .. "." .. i end
  end
  out[#out + 1] = s.log
  return out
end

--- FS: the directory of a record's dir that holds its overlay dirs.
M.FS = "fs"

local function fs_dir(s) return s:dir() .. "/" .. M.FS end

-- Records, config ----------------------------------------------------------

-- Whether v can be kept in a record (plain data only).
local function plain(v) return (pcall(state.encode, v)) end

-- What a record keeps of t and o to start it again.
local function config_of(t, o)
  local cfg = { rm = o.rm or nil, detach = o.detach or nil, interactive = o.interactive or nil,
    log_max = o.log_max, log_files = o.log_files }
  local copy = {}
  for k, v in pairs(t) do copy[k] = v end
  if copy.image then
    local img = require("ns.image").resolve(copy.image)
    cfg.image_id = img.id
    copy.image = img.id
  end
  if plain(copy) then
    cfg.table = copy
  elseif o.argv then
    cfg.argv, cfg.cwd = o.argv, check("getcwd", ns.getcwd())
  else
    fail("the container table holds functions or handles, which a record cannot keep: run it from a RECIPE.lua")
  end
  return cfg
end

--- table_of(s) -> the container table of s's record: what it was run
-- with, with its name, its default hostname and its upper dir.
function M.table_of(s)
  local cfg = s.config or {}
  local t
  if cfg.table then
    t = state.decode(state.encode(cfg.table))
  elseif cfg.argv then
    local here = ns.getcwd()
    check("chdir " .. cfg.cwd, ns.chdir(cfg.cwd))
    local ok, v = pcall(require("ns.cli.run").parse, cfg.argv)
    if here then ns.chdir(here) end
    if not ok then fail(fmt("container %q: its recipe: %s", s.name, tostring(v))) end
    t = v
  else
    fail(fmt("container %q: its record keeps no config to run it from", s.name))
  end
  t.name = s.name
  if t.hostname == nil then t.hostname = s:short_id() end
  if t.rootfs ~= false and t.overlay ~= false and not t.keep_upper then t.upper_dir = fs_dir(s) end
  -- A group of its own even without limits, as docker gives one: what
  -- ps and stats read, what pause freezes (root only: a rootless luactr
  -- has no cgroup it may make).
  if t.cgroup == nil and select(2, ns.getuid()) == 0 then t.cgroup = {} end
  return t
end

-- The op list of s, and what the record keeps of it (command, cgroup,
-- stop signal and timeout).
local function plan_of(s, t)
  local container = require "ns.container"
  local list = container.plan(t)
  local c = container.canonical(list)
  local cg, rootfs, upper
  for _, o in ipairs(list) do
    if o.op == "cgroup_create" then
      cg = (os.getenv("LUACTR_CGROUP_PARENT") or "luactr") .. "/" .. o.group
      if select(2, ns.getuid()) ~= 0 then
        -- A user's group is below its delegated subtree; where it has
        -- none, the start fails at the group's step and says why.
        local ok, p = pcall(require("ns.cgroup").path, o.group)
        if ok then cg = p end
      end
    elseif o.op == "image" then
      rootfs = o.layers and concat(o.layers, ":") or require("ns.util").busybox_image()
    elseif o.op == "overlay_dirs" and o.upper_dir then
      upper = o.upper_dir .. "/upper"
    end
  end
  local cfg = s.config
  cfg.stop_signal, cfg.stop_timeout = c.stop_signal, c.stop_timeout
  s:set { command = list[#list].argv, cgroup = cg or false, config = cfg, rootfs = rootfs or false,
    upper = upper or false }
  return list
end

--- create(t, o) -> s, lock, list: a record for the container table t,
-- held (lock: the fd of s:hold()), and its op list. o: name (default
-- t.name, else generated), rm, detach, interactive, argv (luactr run's,
-- to read a recipe with functions again), image (what ps shows). Raises
-- on bad input, leaving no record.
function M.create(t, o)
  o = o or {}
  local st = state.open()
  M.reconcile(st)
  local name = o.name or t.name
  local s, lock = st:create { name = name, image = o.image or (type(t.image) == "string" and t.image) or nil,
    config = config_of(t, o), labels = type(t.labels) == "table" and plain(t.labels) and t.labels or nil,
    log = nil, hold = true }
  local ok, list = pcall(function() return plan_of(s, M.table_of(s)) end)
  if not ok then
    lock:close()
    pcall(s.remove, s, { force = true })
    error(list, 0)
  end
  return s, lock, list
end

--- NOTIFY_SOCKET: the socket in a record's directory on which the
-- process holding a container's seccomp notify handlers (its monitor, or
-- the luactr running it in the foreground) takes the listeners of the
-- processes luactr exec starts in it.
M.NOTIFY_SOCKET = "notify.sock"

--- launch(s, list) -> the handle of the container started from list,
-- its record running.
function M.launch(s, list)
  local h = require("ns.container").run_plan(list)
  local ok, err = pcall(function()
    s:running { pid = h.pid }
    if h.listener then
      -- The seccomp handlers are this process's: luactr exec hands the
      -- listeners of what it starts over on this socket (see ns.monitor).
      local path = s:path(M.NOTIFY_SOCKET)
      ns.unlink(path)
      h.notify_server = check("notify socket " .. path, ns.unix_listen(path))
      h.notify_path = path
      check("chmod " .. path, ns.chmod(path, oct"600"))
    end
  end)
  if not ok then
    h:kill("KILL")
    pcall(h.wait, h)
    error(err, 0)
  end
  return h
end

-- How st (a wait status) goes into a record.
local function ending(st)
  local t = { oom = st.oom or nil }
  if st.exited then t.code = st.code else t.signal = st.signal end
  return t
end

--- ended(s, st): s's container has ended with wait status st: recorded, and
-- with --rm removed.
function M.ended(s, st)
  local ok, err = pcall(s.exited, s, ending(st))
  if ok then ok, err = pcall(s.set, s, { cgroup = false }) end
  if (s.config or {}).rm then
    pcall(M.collect_fs, s)
    ok, err = pcall(s.remove, s, { force = true })
  end
  if not ok and not tostring(err):find("no such container", 1, true) then error(err, 0) end
end

--- collect_fs(s): the overlay's work dirs a container left in its state
-- dir (its upper layer stays).
function M.collect_fs(s)
  local userns = require "ns.util.userns"
  for _, d in ipairs({ "work", "merged" }) do
    local p = fs_dir(s) .. "/" .. d
    if ns.stat(p, "nofollow") then userns.remove_tree(p) end
  end
end

-- The cgroup and overlay work dirs a container left (a process still in
-- its cgroup is killed).
local function leftovers(s)
  if s.cgroup then
    local ok, g = pcall(M.group, s)
    if ok then g:remove() end
  end
  M.collect_fs(s)
end

--- finished(root, id, st): what a monitor does once its container has
-- ended with wait status st: the OOM verdict from its cgroup, its
-- leftovers collected, its end recorded (and with --rm, the record
-- removed).
function M.finished(root, id, st)
  local s = state.open(root):load(id)
  if s.cgroup and st.killed then
    local ok, g = pcall(M.group, s)
    if ok then
      local sok, stats = pcall(g.stats, g)
      if sok and (stats.oom_kills or 0) > 0 then st.oom = true end
      g:detach()
    end
  end
  local ok, err = pcall(leftovers, s)
  M.ended(s, st)
  if not ok then error(err, 0) end
end

--- collect(s): what a container whose runner is gone left: its cgroup
-- (any process still in it is killed), the overlay's work dirs; with
-- --rm its record. For a record that nobody holds.
function M.collect(s)
  leftovers(s)
  if (s.config or {}).rm and s.status ~= "running" and s.status ~= "paused" then
    s:remove { force = true }
  elseif s.cgroup then
    s:set { cgroup = false }
  end
end

--- reconcile([st]) -> every record, each reconciled (ns.state), and what
-- runners that are gone left collected.
function M.reconcile(st)
  st = st or state.open()
  local list = st:reconcile_all()
  local out = {}
  for _, s in ipairs(list) do
    local idle = s.status == "exited" or (s.status == "created" and not s.pid)
    if idle and (s.cgroup or (s.config or {}).rm) and not s:held() then
      local ok, err = pcall(M.collect, s)
      if not ok then io.stderr:write("luactr: collect ", s.name, ": ", tostring(err), "\n") end
      if ok and (s.config or {}).rm then s = nil end
    end
    if s then out[#out + 1] = s end
  end
  return out
end

-- The monitor ---------------------------------------------------------------

local LOGMODE = oct"640"

-- A start that failed: the record goes (a new container), or stays,
-- exited with why (one started again, o.keep).
local function drop(s, o, err)
  if o.keep then
    pcall(s.exited, s, { reason = "its start failed: " .. tostring(err) })
  else
    pcall(s.remove, s, { force = true })
  end
end

-- The fds the monitor passes on to the lean one it execs (lua/luactr/
-- monitor.lua), at these numbers.
M.MONITOR_FDS = { pidfd = 3, lock = 4, log = 5, stdout = 6, stderr = 7, stdin = 8, init = 9 }

-- The monitor's life: start the container with its stdio on pipes (or
-- its pty), say "OK" (or "E<message>") on w, then exec a fresh luactr
-- that relays, records and collects (lua/luactr/monitor.lua, over
-- ns.monitor): what the start loaded (the recipe's checks, the planner,
-- the image store) is not kept for the container's whole life. But a
-- container with seccomp notify handlers keeps this process, which holds
-- them, as its monitor (ns.monitor with the listener).
local function monitor(s, lock, list, o, w)
  ns.setsid()
  local null = assert(ns.open("/dev/null", { "rdwr" }))
  local streams, stdin_w, log = {}, nil, nil
  local tty = (s.config.table or {}).tty == true
  local exe = ns.readlink("/proc/self/exe")
  local ok, h = pcall(function()
    local path = s:path("log")
    log = check("log " .. path, ns.open(path, { "wronly", "creat", "append" }, LOGMODE))
    s:set { log = path }
    if o.interactive and not tty then
      -- -d -i: a stdin that stays open and says nothing (docker's, with
      -- no one attached), so that a shell waits instead of ending.
      local r, wr = pipe()
      check("dup2", ns.dup2(r, 0))
      r:close()
      stdin_w = wr
    else
      check("dup2", ns.dup2(null, 0))
    end
    if tty then
      check("dup2", ns.dup2(null, 1))
      check("dup2", ns.dup2(null, 2))
    else
      for i, k in ipairs({ "stdout", "stderr" }) do
        local r, wr = pipe()
        check("dup2", ns.dup2(wr, i))
        wr:close()
        streams[k] = r
      end
    end
    local handle = M.launch(s, list)
    -- The container has its copies: ours would keep the pipes open.
    check("dup2", ns.dup2(null, 1))
    check("dup2", ns.dup2(null, 2))
    if handle.master then
      streams.stdout = handle.master
      ns.winsize(streams.stdout, 24, 80)
    end
    return handle
  end)
  if not ok then
    lock:close()
    drop(s, o, h)
    -- The op and errno, so luactr run can tell a command not found.
    local e = type(h) == "table" and h or {}
    pcall(w.write, w, fmt("E%s\t%s\t%s\n", tostring(e.op or ""), tostring(e.errno or ""),
      tostring(h):gsub("\n", " ")))
    ns._exit(1)
  end
  if h.listener then
    -- The recipe's seccomp handlers are functions of this process: it
    -- stays the monitor (the full luactr, not the lean one) and answers
    -- the listener, and what the handlers print goes to the log.
    local more = {}
    for i, k in ipairs({ "stdout", "stderr" }) do
      local r, wr = pipe()
      check("dup2", ns.dup2(wr, i))
      wr:close()
      more["luactr-" .. k] = r
    end
    w:write("OK\n")
    w:close()
    local c = h.c
    local notify = require "ns.security.seccomp_notify"
    require("ns.monitor").run {
      root = s:store().root, id = s.id, log_path = s.log,
      fds = { pidfd = h.pidfd, lock = lock, log = log, stdout = streams.stdout, stderr = streams.stderr,
        stdin = stdin_w, init = h.init_status },
      stop_signal = c.stop_signal or "TERM", stop_timeout = c.stop_timeout or 10, timeout = c.timeout or 0,
      log_max = s.config.log_max or M.LOG_MAX, log_files = s.config.log_files or M.LOG_FILES,
      listener = h.listener, more = more, server = h.notify_server, server_path = h.notify_path,
      on_notify = function(fd)
        local ok = notify.handle(h, fd)
        io.stdout:flush()
        io.stderr:flush()
        return ok
      end,
    }
    ns._exit(0)
  end
  -- dup2 gives fds without close-on-exec: these cross the exec.
  local F = M.MONITOR_FDS
  local pass = { pidfd = h.pidfd, lock = lock, log = log, stdout = streams.stdout, stderr = streams.stderr,
    stdin = stdin_w, init = h.init_status }
  -- First all out of the way (any may be at one of the numbers), then
  -- each to its number.
  local have, high = {}, {}
  w = assert(ns.dup(w, 20))
  for k, fd in pairs(pass) do high[k] = assert(ns.dup(fd, 20)) end
  for k, fd in pairs(high) do
    assert(ns.dup2(fd, F[k]))
    have[#have + 1] = k .. "=" .. F[k]
  end
  table.sort(have)
  local c = h.c
  w:write("OK\n")
  local _, msg = ns.exec(exe, { "luactr", "monitor", s:store().root, s.id, concat(have, ","),
    tostring(c.stop_signal or "TERM"), tostring(c.stop_timeout or 10), tostring(c.timeout or 0),
    tostring(s.config.log_max or M.LOG_MAX), tostring(s.config.log_files or M.LOG_FILES), s.log })
  -- Not reached unless exec failed: the container goes with us.
  io.stderr:write("luactr monitor: exec ", tostring(exe), ": ", tostring(msg), "\n")
  ns._exit(1)
end

--- detach(s, lock, list, o): start the container of the record s (held
-- by lock, planned as list) under a monitor of its own, and return once
-- it runs; raises (and removes the record) when it did not start.
-- The monitor is a grandchild, so that it is no child of the caller:
-- once luactr's middle child has gone, init (or the nearest subreaper)
-- is its parent. o: interactive (a stdin that stays open), keep (a
-- failed start leaves the record, exited with why).
function M.detach(s, lock, list, o)
  o = o or {}
  local r, w = pipe()
  local pid, pidfd = ns.clone({})
  if not pid then
    r:close(); w:close(); lock:close()
    local msg = "fork the monitor: " .. tostring(pidfd)
    drop(s, o, msg)
    fail(msg)
  end
  if pid == 0 then
    r:close()
    local mpid, merr = ns.clone({})
    if mpid == 0 then monitor(s, lock, list, o, w) end
    if not mpid then pcall(w.write, w, "E\t\tfork the monitor: " .. tostring(merr) .. "\n") end
    ns._exit(0)
  end
  w:close()
  lock:close()
  -- One line: a process that keeps the pipe open (the init reaper, say)
  -- must not keep us waiting for its end.
  local chunks = {}
  repeat
    local c = r:read(65536)
    chunks[#chunks + 1] = c
  until not c or c == "" or c:find("\n", 1, true)
  r:close()
  ns.wait(pidfd)
  pidfd:close()
  local said = concat(chunks):gsub("\n.*$", "")
  if said ~= "OK" then
    if said == "" then
      said = "E\t\tthe monitor died before the container started"
      drop(s, o, said:sub(4))
    end
    local op, errno, text = said:match("^E([^\t]*)\t([^\t]*)\t(.*)$")
    if not op then fail((said:gsub("^E", ""))) end
    error(require("ns.errors").new({ op = op ~= "" and op or nil, errno = math.tointeger(tonumber(errno)),
      message = text, text = text }), 0)
  end
  return s:reload()
end

--- run(t, o) -> s, status: a container with a record, from the container
-- table t. o: name, rm, detach, interactive, argv, image (see create).
-- Detached: returns once it runs (status nil). In the foreground: waits
-- for its end, relaying the terminal or passing signals on, as
-- ns.container.run does; status is its wait status.
function M.run(t, o)
  o = o or {}
  local s, lock, list = M.create(t, o)
  if o.detach then return M.detach(s, lock, list, o) end
  local ok, h = pcall(M.launch, s, list)
  if not ok then
    lock:close()
    pcall(s.remove, s, { force = true })
    error(h, 0)
  end
  local st = h:wait()
  if st.message then io.stderr:write("luactr: ", h.c.what, ": ", st.message, "\n") end
  M.ended(s, st)
  lock:close()
  return s, st
end

--- start(s) -> s: an exited (or created, never started) container,
-- started again on its kept upper layer, under a monitor, as docker
-- start does. A start that fails leaves it exited, with why.
function M.start(s)
  local lock = s:hold()
  local ok, list = pcall(function()
    s:reload()
    if s.status == "exited" then
      s:recreated()
    elseif s.status ~= "created" or s.pid then
      fail(fmt("container %q is %s already", s.name, s.status))
    end
    leftovers(s)
    local cfg = s.config
    cfg.detach = true
    s:set { config = cfg }
    return plan_of(s, M.table_of(s))
  end)
  if not ok then
    lock:close()
    if s.status == "created" then pcall(s.exited, s, { reason = "its start failed: " .. tostring(list) }) end
    error(list, 0)
  end
  return M.detach(s, lock, list, { interactive = s.config.interactive, keep = true })
end

-- Waiting, signals ------------------------------------------------------------

--- wait_exited(s [, seconds]) -> s, its record exited; nil and why when
-- it is still not after seconds (default: for ever). Polls its pidfd,
-- then the record, which its monitor writes once it has reaped it.
function M.wait_exited(s, seconds)
  local deadline = seconds and ns.clock() + seconds
  local fd = s.status ~= "exited" and s:pidfd()
  if fd then
    local ms = seconds and math.floor(seconds * 1000) or -1
    ns.poll({ fd }, ms)
    fd:close()
  end
  local pause = 0.002
  while true do
    s:reload()
    if s.status == "exited" and not s:held() then return s end
    if s.status ~= "exited" and not s:held() then
      -- Its runner has gone: reconcile says how it ended.
      M.reconcile(s:store())
      local ok = pcall(s.reload, s)
      if not ok or s.status == "exited" then return s end
    end
    if deadline and ns.clock() >= deadline then
      return nil, fmt("container %q is still %s after %s s", s.name, s.status, tostring(seconds))
    end
    ns.sleep(pause)
    pause = math.min(pause * 2, 0.05)
  end
end

--- kill(s [, sig]) -> true: a signal (default KILL, as docker kill) to
-- the container's first process, through a pidfd checked to be it.
function M.kill(s, sig)
  s:reload()
  local ok, why = s:can_kill()
  if not ok then fail(why) end
  local fd = check(fmt("container %q", s.name), s:pidfd())
  local sent, msg = ns.kill(fd, sig or "KILL")
  fd:close()
  if not sent then fail(fmt("container %q: %s", s.name, msg)) end
  if s.status == "paused" and (sig == nil or sig == "KILL" or sig == 9) then
    -- A frozen process takes SIGKILL only once thawed.
    pcall(M.unpause, s)
  end
  return true
end

--- stop(s [, seconds]) -> s: its stop signal, then SIGKILL when it still
-- runs after seconds (default: its stop_timeout, 10), as docker stop;
-- returns once its record says exited. A container that is not running
-- is left as it is.
function M.stop(s, seconds)
  s:reload()
  if s.status == "exited" or (s.status == "created" and not s.pid) then return s end
  local cfg = s.config or {}
  seconds = seconds or cfg.stop_timeout or 10
  local fd = s:pidfd()
  if fd then
    ns.kill(fd, cfg.stop_signal or "TERM")
    if s.status == "paused" then pcall(M.unpause, s) end
    if #ns.poll({ fd }, math.floor(seconds * 1000)) == 0 then ns.kill(fd, "KILL") end
    fd:close()
  end
  local ok, why = M.wait_exited(s, seconds + 10)
  if not ok then fail(why) end
  return s
end

--- remove(s [, force]) -> true: the record, its upper layer and log go.
-- A running one only with force (killed first, as docker rm -f).
function M.remove(s, force)
  s:reload()
  if s.status ~= "exited" and not (s.status == "created" and not s.pid and not s:held()) then
    if not force then
      fail(fmt("container %q is %s: stop it first, or remove it with -f", s.name, s.status))
    end
    if s.pid and s:alive() then pcall(M.kill, s, "KILL") end
    local ok, why = M.wait_exited(s, 10)
    if not ok then fail(why) end
  end
  if s:held() then
    local ok, why = M.wait_exited(s, 10)
    if not ok then fail(why) end
  end
  M.collect(s)
  if pcall(s.reload, s) then s:remove { force = true } end
  return true
end

-- Cgroups: pause, stats ------------------------------------------------------

--- group(s) -> the container's cgroup (ns.cgroup.open), or raises.
function M.group(s)
  if not s.cgroup then fail(fmt("container %q has no cgroup (%s)", s.name, s.status == "running"
    and "it runs without one: rootless, or cgroup = false" or "it is " .. s.status)) end
  return require("ns.cgroup").open_path(s.cgroup)
end

-- Freeze (on) or thaw s's cgroup, and record it.
local function freezing(s, on)
  s:reload()
  local ok, why
  if on then ok, why = s:can_pause() else ok, why = s:can_resume() end
  if not ok then fail(why) end
  local g = M.group(s)
  if on then g:freeze() else g:thaw() end
  g:detach()
  if on then return s:paused() end
  return s:resumed()
end

--- pause(s) / unpause(s) -> s: its cgroup frozen or thawed (docker
-- pause uses the freezer too).
function M.pause(s) return freezing(s, true) end
function M.unpause(s) return freezing(s, false) end

--- stats(s) -> the cgroup's figures (ns.cgroup's g:stats(), plus
-- memory_limit), or nil when it has none.
function M.stats(s)
  if not s.cgroup or (s.status ~= "running" and s.status ~= "paused") then return nil end
  local ok, g = pcall(M.group, s)
  if not ok then return nil end
  local sok, st = pcall(g.stats, g)
  g:detach()
  if not sok then return nil end
  local limit = ((s.config or {}).table or {}).cgroup
  st.memory_limit = limit and limit.memory and require("ns.cgroup").parse_size(limit.memory) or nil
  return st
end

--- processes(s) -> the processes of the container's pid namespace (or,
-- without one, its cgroup): {pid, ppid, uid, state, time (s), cmd}
-- each, by pid.
function M.processes(s)
  local want = s.namespaces and s.namespaces.pid
  local host = ns.nsid("self", "pid")
  local pids = {}
  if want and want ~= host then
    for _, name in ipairs(ns.listdir("/proc") or {}) do
      local p = math.tointeger(tonumber(name))
      if p and ns.nsid(p, "pid") == want then pids[#pids + 1] = p end
    end
  elseif s.cgroup then
    local ok, g = pcall(M.group, s)
    if ok then
      pids = g:procs()
      g:detach()
    end
  end
  table.sort(pids)
  local out, hz = {}, 100
  for _, p in ipairs(pids) do
    local stat = ns.readfile(fmt("/proc/%d/stat", p))
    local status = ns.readfile(fmt("/proc/%d/status", p)) or ""
    if stat then
      local comm, rest = stat:match("^%d+ %((.*)%) (.*)$")
      local f = {}
      for w in (rest or ""):gmatch("%S+") do f[#f + 1] = w end
      local cmd = (ns.readfile(fmt("/proc/%d/cmdline", p)) or ""):gsub("%z$", ""):gsub("%z", " ")
      out[#out + 1] = { pid = p, ppid = math.tointeger(tonumber(f[2])), state = f[1],
        uid = math.tointeger(tonumber(status:match("\nUid:%s+(%d+)"))),
        time = ((tonumber(f[12]) or 0) + (tonumber(f[13]) or 0)) / hz,
        cmd = cmd ~= "" and cmd or "[" .. (comm or "?") .. "]" }
    end
  end
  return out
end

-- Logs --------------------------------------------------------------------------

--- log_lines(text) -> the records of a log's text, in order: {time,
-- stream, text, partial} each (a partial one's text has no newline).
function M.log_lines(text)
  local out = {}
  for line in text:gmatch("([^\n]*)\n") do
    local time, stream, tag, rest = line:match("^(%S+) (%S+) ([FP]) (.*)$")
    if not time then time, stream, tag = line:match("^(%S+) (%S+) ([FP])$"); rest = "" end
    if time then out[#out + 1] = { time = time, stream = stream, text = rest, partial = tag == "P" } end
  end
  return out
end

-- Commit ------------------------------------------------------------------------

-- What a container's table changes in its image's config (docker
-- commit keeps the container's Cmd, Env, WorkingDir, User, Labels).
local function config_changes(s, t)
  local out = {}
  if t.args then out.Cmd = t.args end
  if t.entrypoint then out.Entrypoint = type(t.entrypoint) == "string" and { t.entrypoint } or t.entrypoint end
  if type(t.env) == "table" and next(t.env) then
    local parent = require("ns.image").resolve(s.config.image_id).config.Env
    local env, order = {}, {}
    for _, kv in ipairs(type(parent) == "table" and parent or {}) do
      local k, v = kv:match("^([^=]*)=(.*)$")
      if k then
        if env[k] == nil then order[#order + 1] = k end
        env[k] = v
      end
    end
    local keys = {}
    for k, v in pairs(t.env) do
      if type(k) == "string" then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      if env[k] == nil then order[#order + 1] = k end
      env[k] = tostring(t.env[k])
    end
    out.Env = {}
    for _, k in ipairs(order) do out.Env[#out.Env + 1] = k .. "=" .. env[k] end
  end
  if type(t.cwd) == "string" then out.WorkingDir = t.cwd end
  if type(t.user) == "string" then out.User = t.user end
  if type(t.labels) == "table" and next(t.labels) then out.Labels = t.labels end
  if t.stop_signal then out.StopSignal = type(t.stop_signal) == "number" and tostring(t.stop_signal) or "SIG" .. tostring(t.stop_signal):upper():gsub("^SIG", "") end
  return out
end

--- commit(s, name [, opts]) -> the key of the new image: s's upper
-- layer on top of its image, with its config (ns.image.commit). opts:
-- message, author, pause (default true: a running container is paused
-- while its layer is read).
function M.commit(s, name, opts)
  opts = opts or {}
  s:reload()
  local cfg = s.config or {}
  if not cfg.image_id then fail(fmt("container %q was not run from an image: nothing to commit onto", s.name)) end
  local upper = fs_dir(s) .. "/upper"
  if not ns.stat(upper) then fail(fmt("container %q has no upper layer at %s", s.name, upper)) end
  local t = cfg.table or M.table_of(s)
  local paused = false
  if opts.pause ~= false and s.status == "running" and s.cgroup then
    M.pause(s)
    paused = true
  end
  local ok, key = pcall(require("ns.image").commit, { upper = upper, parent = cfg.image_id, name = name,
    config = config_changes(s, t), comment = opts.message, author = opts.author })
  if paused then pcall(M.unpause, s) end
  if not ok then error(key, 0) end
  return key
end

-- Exec ----------------------------------------------------------------------------

--- exec(s, args [, opts]) -> status: args run inside the running
-- container s, joining its namespaces, cgroup, root and cwd with its
-- identity (ns.exec). opts: env (a map or "K=V" list, added), cwd, user
-- (USER[:GROUP], instead of the container's), tty (a pty of the
-- container's devpts, relayed to luactr's terminal), detach (return at
-- once: status {pid}).
function M.exec(s, args, opts)
  opts = opts or {}
  s:reload()
  local ok, why = s:can_exec()
  if not ok then fail(why) end
  local t = M.table_of(s)
  if opts.user then
    if type(t.user) == "table" or t.user == true then
      fail(fmt("container %q: exec -u: its user key is a user namespace's; give the user in the recipe", s.name))
    end
    t.user = opts.user
  end
  if opts.tty ~= nil then t.tty = opts.tty end
  local c = require("ns.recipe").check(t)
  local fd = check(fmt("container %q", s.name), s:pidfd())
  local pid = s.pid
  if c.init then
    -- PID 1 is luactr's reaper, not dumpable: a user without privilege
    -- over it cannot join through it. Its child, the command, is in the
    -- same namespaces.
    local kids = ns.readfile(("/proc/%d/task/%d/children"):format(pid, pid)) or ""
    local child = math.tointeger(tonumber(kids:match("%d+")))
    local cfd = child and ns.pidfd_open(child)
    if cfd then
      fd:close()
      fd, pid = cfd, child
    end
  end
  local g
  if s.cgroup then
    local gok, grp = pcall(M.group, s)
    if gok then g = grp end
  end
  local h = { c = c, pid = pid, pidfd = fd, cgroup = g }
  -- The command's seccomp listener goes to the process that holds the
  -- container's handlers, on its socket.
  local sock = s:path(M.NOTIFY_SOCKET)
  local listener = ns.stat(sock, "nofollow") and function(l)
    local conn = check("notify socket " .. sock, ns.unix_connect(sock))
    check("sendfd " .. sock, ns.sendfd(conn, l, "N\n"))
    conn:close()
  end or nil
  local eok, st = pcall(require("ns.exec").exec, h, args,
    { env = opts.env, cwd = opts.cwd, tty = opts.tty, detach = opts.detach, listener = listener })
  fd:close()
  if g then g:detach() end
  if not eok then error(st, 0) end
  return st
end

return M
