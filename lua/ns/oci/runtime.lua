--- ns.oci.runtime: the OCI runtime's lifecycle (runtime-spec's
-- runtime.md), over the same container table and steps as a recipe's:
--
--   create(root, id, bundle, o)  set up the container from bundle's
--                                config.json (ns.oci.config) and leave its
--                                process held before exec (the hold op,
--                                released through <root>/<id>/exec.fifo);
--                                o: pid_file, console_socket, preserve_fds,
--                                no_new_keyring, rootless, systemd_cgroup
--   start(root, id)              let it exec; then the poststart hooks
--   state(root, id)              the OCI state: {ociVersion, id, status,
--                                pid, bundle, annotations, rootfs, created}
--   exec(root, id, p, o)         a process started in it (ns.exec)
--   kill(root, id, sig, all)     a signal to its process (all: every
--                                process of its cgroup)
--   delete(root, id, force)      its cgroup, its state, the poststop hooks
--   update(root, id, r)          new limits (an OCI LinuxResources object)
--   list(root), pids(root, id), pause(root, id), resume(root, id)
--
-- A container is <root>/<id>/ (0700): state.json (what create recorded:
-- pid and its start time, bundle, the container table, the cgroup, the
-- hooks), exec.fifo while it is created, a lock (flock) held by every
-- command on it. Its status is found, not stored: stopped once its process
-- is gone (or the pid is another process's now), created while the fifo
-- exists, paused between pause and resume, else running. Errors raise
-- {message, code}: code is runc's exit status for it.
local ns = require "ns.core"

local M = {}

local fmt = string.format

M.OCI_VERSION = "1.1.0"

local function fail(msg, ...) error({ message = fmt(msg, ...) }, 0) end
local function check(what, v, msg, ...)
  if v == nil or v == false then fail("%s: %s", what, tostring(msg)) end
  return v, msg, ...
end

--- default_root() -> where states go without --root: /run/luactr-oci, or
-- $XDG_RUNTIME_DIR/luactr-oci for a user.
function M.default_root()
  if select(2, ns.getuid()) ~= 0 and os.getenv("XDG_RUNTIME_DIR") then
    return os.getenv("XDG_RUNTIME_DIR") .. "/luactr-oci"
  end
  return "/run/luactr-oci"
end

--- check_id(id): runc's rule for an id, so that it is one path component.
function M.check_id(id)
  if type(id) ~= "string" or id == "" then fail("container id cannot be empty") end
  if #id > 1024 or not id:match("^[%w][%w+%-._]*$") then
    fail("invalid container id format: %s", id)
  end
end

local function dir_of(root, id) return root .. "/" .. id end

local function read_state(root, id)
  M.check_id(id)
  local path = dir_of(root, id) .. "/state.json"
  local text = ns.readfile(path)
  if not text then fail("container does not exist") end
  local ok, t = pcall(require("cjson").decode, text)
  if not ok or type(t) ~= "table" then fail("%s: not a state this runtime wrote", path) end
  -- cjson reads numbers as floats: whole ones become integers again (the
  -- container table's checks want integers).
  local function ints(v)
    if type(v) == "table" then
      for k, x in pairs(v) do v[k] = ints(x) end
    elseif math.type(v) == "float" then
      return math.tointeger(v) or v
    end
    return v
  end
  return ints(t)
end

-- text at path, whole or not at all (a temporary name, renamed).
local function write_file(what, path, text, mode)
  local tmp = path .. ".tmp"
  check(what .. " " .. path, ns.writefile(tmp, text, { create = true, mode = mode }))
  check(what .. " " .. path, ns.rename(tmp, path))
end

local function write_state(root, id, t)
  write_file("state", dir_of(root, id) .. "/state.json", require("ns.state").encode(t, "state"), "0600")
end

-- Take the container's lock (every command holds it while it works).
local function lock(root, id)
  local f = check("lock " .. id, ns.open(dir_of(root, id) .. "/lock", { "rdwr", "creat" }, "0600"))
  check("flock " .. id, ns.flock(f, "ex"))
  return f
end

-- Whether st's process is alive and is the one create started.
local function alive(st)
  if not st.pid then return false end
  local start, letter = require("ns.state").process_start(st.pid)
  return start ~= nil and start == st.start_time and letter ~= "Z" and letter ~= "X"
end

local function group_of(st)
  if not st.cgroup then return nil end
  local parent, name = st.cgroup:match("^(.*)/([^/]+)$")
  local ok, g = pcall(require("ns.cgroup").open, name, { parent = parent })
  return ok and g or nil
end

--- status(root, id, st) -> "created", "running", "paused" or "stopped".
local function status(root, id, st)
  if not alive(st) then return "stopped" end
  if ns.stat(dir_of(root, id) .. "/exec.fifo", "nofollow") then return "created" end
  return st.paused and "paused" or "running"
end

--- state(root, id) -> the OCI state of the container id.
function M.state(root, id)
  local st = read_state(root, id)
  return {
    ociVersion = M.OCI_VERSION, id = id, status = status(root, id, st),
    pid = alive(st) and st.pid or 0, bundle = st.bundle, rootfs = st.rootfs,
    created = st.created, owner = "", annotations = st.annotations or {},
  }
end

-- The state the hooks get on stdin: the spec's fields only.
-- (status: what it is now, or the one given: poststop's "stopped".)
local function hook_state(root, id, st, status_now)
  st = st or read_state(root, id)
  return require("ns.oci.hooks").state({ ociVersion = M.OCI_VERSION, id = id, bundle = st.bundle,
    annotations = st.annotations }, status_now or status(root, id, st), st.pid)
end

-- The hooks that run in the container (the op oci_hooks): createContainer
-- once the mounts are made, before what comes after them in runc's order
-- (the tunables, the read-only and masked paths, the read-only root,
-- pivot_root); startContainer after the hold. The first comes even
-- with no createContainer hooks: it learns the pid the host sees.
local AFTER_MOUNTS = { sysctl = true, oom_score_adj = true, readonly_paths = true, masked_paths = true,
  readonly_root = true, chroot = true, pivot_root = true }

local function inside_hooks(list, hooks, base, env)
  local cc, sc = hooks.createContainer or {}, {}
  -- As runc has it (not the spec's word): a startContainer hook with no
  -- env of its own gets the container's process's.
  for i, hk in ipairs(hooks.startContainer or {}) do
    sc[i] = (hk.env and #hk.env > 0) and hk or { path = hk.path, args = hk.args, env = env, timeout = hk.timeout }
  end
  if #cc == 0 and #sc == 0 then return end
  local at
  for i, op in ipairs(list) do
    if op.where == "child" and AFTER_MOUNTS[op.op] then at = i break end
  end
  if not at then fail("config.json: hooks: no pivot_root in the plan to run createContainer hooks before") end
  table.insert(list, at, { op = "oci_hooks", where = "child", kind = "createContainer", hooks = cc, state = base,
    status = "creating", name = "createContainer hooks (" .. #cc .. ")" })
  if #sc > 0 then
    for i, op in ipairs(list) do
      if op.op == "hold" then
        table.insert(list, i + 1, { op = "oci_hooks", where = "child", kind = "startContainer", hooks = sc, state = base,
          status = "created", name = "startContainer hooks (" .. #sc .. ")" })
        break
      end
    end
  end
end

--- run_hooks(list, stdin, what): each hook {path, args, env, timeout}
-- with stdin, in order; raises naming the first that failed.
function M.run_hooks(list, stdin, what)
  local ok, err = pcall(require("ns.oci.hooks").run, list, stdin, what)
  if not ok then fail("%s", tostring(err)) end
end

-- Send the pty master to the console socket (SCM_RIGHTS), as conmon and
-- the containerd shim wait for.
local function send_console(path, master)
  local sock = check("console socket " .. path, ns.unix_connect(path))
  check("console socket " .. path, ns.sendfd(sock, master, "/dev/ptmx"))
  sock:close()
end

--- create(root, id, bundle, o): see the module's comment.
function M.create(root, id, bundle, o)
  o = o or {}
  M.check_id(id)
  bundle = bundle or check("getcwd", ns.getcwd())
  if bundle:sub(1, 1) ~= "/" then bundle = check("getcwd", ns.getcwd()) .. "/" .. bundle end
  local text, why = ns.readfile(bundle .. "/config.json")
  if not text then fail("config.json: %s", why) end
  local okj, cfg = pcall(require("cjson").decode, text)
  if not okj or type(cfg) ~= "table" then fail("config.json: not a JSON object: %s", tostring(cfg)) end
  local t, x = require("ns.oci.config").table(cfg, bundle, { rootless = o.rootless,
    systemd_cgroup = o.systemd_cgroup, id = id })
  t.name = #id <= 64 and id:match("^[%w][%w._-]*$") and id or require("ns.state").short(ns.sha256(id))
  if t.cgroup == nil and select(2, ns.getuid()) == 0 then t.cgroup = {} end
  if t.cgroup and x.cgroups_path_given and x.cgroups_path then
    -- The group goes where the client said (podman: /libpod_parent/
    -- libpod-ID; a systemd unit's path); one component goes below luactr/.
    local p = x.cgroups_path:gsub("^/+", "")
    t.cgroup_path = p:find("/", 1, true) and p or ("luactr/" .. p)
  end
  if x.terminal and not o.console_socket then fail("cannot allocate tty if runc will detach without setting console socket") end
  if o.console_socket and not x.terminal then fail("cannot use console socket if runc will not detach or allocate tty") end
  t.tty = x.terminal == true
  if o.preserve_fds and o.preserve_fds > 0 then
    local keep = {}
    for fd = 3, 2 + o.preserve_fds do keep[#keep + 1] = fd end
    t.preserve_fds = keep
  end

  local rok, rmsg = ns.mkdir(root, "0700", true)
  if not rok then
    fail("the state root: %s%s", rmsg, select(2, ns.getuid()) ~= 0 and " (give --root, or set XDG_RUNTIME_DIR)" or "")
  end
  local dir = dir_of(root, id)
  local made, msg, e = ns.mkdir(dir, "0700")
  if not made then
    if e == ns.E.EEXIST then fail("container with id exists: %s", id) end
    fail("%s%s", msg, (e == ns.E.EACCES and select(2, ns.getuid()) ~= 0) and " (give --root, or set XDG_RUNTIME_DIR)" or "")
  end
  local lk, h
  local ok, err = pcall(function()
    lk = lock(root, id)
    local container = require "ns.container"
    local list = container.plan(t)
    local fifo = dir .. "/exec.fifo"
    check("mkfifo " .. fifo, ns.mknod(fifo, "fifo", tonumber("622", 8), 0, 0))
    check("chmod " .. fifo, ns.chmod(fifo, tonumber("622", 8)))
    local fd = check("open " .. fifo, ns.open(fifo, { "path" }))
    local at = #list
    -- Before a filter that comes last, as runc's wait comes before it; but
    -- one whose listener goes to a seccomp agent is loaded while luactr-oci
    -- is there to hand it over, as runc loads it before its wait too.
    for i, op in ipairs(list) do if op.op == "seccomp" and i >= #list - 1 and not op.listener then at = i break end end
    table.insert(list, at, { op = "hold", where = "child", name = "held until start (" .. fifo .. ")", fd = fd,
      close = { lk } })
    inside_hooks(list, x.hooks or {}, { ociVersion = M.OCI_VERSION, id = id, bundle = bundle, annotations = x.annotations },
      t.env)
    h = container.run_plan(list)
    fd:close()
    local st = {
      id = id, pid = h.pid, start_time = require("ns.state").process_start(h.pid), bundle = bundle,
      rootfs = type(t.rootfs) == "string" and t.rootfs or nil, created = require("ns.state").now(),
      annotations = x.annotations, hooks = x.hooks, table = t, cgroup = h.cgroup and h.cgroup.parent and
        (h.cgroup.parent .. "/" .. h.cgroup.name) or nil, name = t.name,
    }
    write_state(root, id, st)
    if h.master then
      -- process.consoleSize, as runc sets it (both given, else the
      -- terminal's size luactr saw, if any).
      local cs = x.console_size
      if cs and cs.height > 0 and cs.width > 0 then check("console size", ns.winsize(h.master, cs.height, cs.width)) end
      send_console(o.console_socket, h.master)
      h.master:close()
    end
    if h.pidfd then h.pidfd:close() end
    if h.sigfd then require("ns.supervise").forwarding_off(h.sigfd) end
    if h.cgroup then h.cgroup:detach() end
    if o.pid_file then
      write_file("pid file", o.pid_file, tostring(h.pid), "0644")
    end
    local hooks = x.hooks or {}
    if (hooks.prestart and #hooks.prestart > 0) or (hooks.createRuntime and #hooks.createRuntime > 0) then
      local s = hook_state(root, id)
      M.run_hooks(hooks.prestart, s, "prestart")
      M.run_hooks(hooks.createRuntime, s, "createRuntime")
    end
  end)
  if not ok then
    -- Nothing half made is left: the held process, its cgroup, the dir.
    local st = ns.readfile(dir .. "/state.json") and read_state(root, id)
    if st then
      pcall(M.remove, root, id, st, true)
    else
      -- Held already but not yet recorded: ended here, with its group.
      if h and h.pidfd then
        ns.kill(h.pidfd, "KILL")
        ns.wait(h.pidfd)
      end
      if h and h.cgroup then pcall(h.cgroup.remove, h.cgroup) end
      require("ns.rootfs").remove_tree(dir)
    end
    if lk then lk:close() end
    if type(err) == "table" and err.message then error(err, 0) end
    fail("%s", tostring(err))
  end
  lk:close()
end

--- start(root, id): the created container execs its process.
function M.start(root, id)
  local st = read_state(root, id)
  local lk = lock(root, id)
  local s = status(root, id, st)
  if s ~= "created" then lk:close() fail("cannot start a container that has %s", s == "stopped" and "stopped" or "already started") end
  local fifo = dir_of(root, id) .. "/exec.fifo"
  local r = check("open " .. fifo, ns.open(fifo, { "rdonly", "nonblock" }))
  local pidfd = ns.pidfd_open(st.pid)
  local got
  while true do
    local ready = ns.poll(pidfd and { r, pidfd } or { r }, 100)
    if ready[1] == 1 then
      got = r:read(1)
      if got and got ~= "" then break end
    end
    if not alive(st) then break end
  end
  r:close()
  if pidfd then pidfd:close() end
  ns.unlink(fifo)
  lk:close()
  if got ~= "0" then fail("container %s: its process ended before its start", id) end
  local hooks = st.hooks or {}
  if hooks.poststart and #hooks.poststart > 0 then
    M.run_hooks(hooks.poststart, hook_state(root, id), "poststart")
  end
end

--- exec(root, id, p, o) -> status, or {pid} detached: the process p (an
-- OCI process object, as exec --process gives it: args, env, cwd, user,
-- terminal, capabilities, noNewPrivileges) started in the running
-- container id, with the container's identity ops (ns.exec). o: detach
-- (return once it has exec'd: it is then the orphan of luactr-oci, the
-- caller's subreaper's to wait for), pid_file, console_socket (the pty's
-- master goes there), add_caps (exec --cap), add_env (p.env goes after
-- the container's env, as exec --env's does; else it is the whole env).
function M.exec(root, id, p, o)
  o = o or {}
  local st = read_state(root, id)
  local s = status(root, id, st)
  if s ~= "running" then fail("cannot exec in a %s container", s) end
  if type(p) ~= "table" or type(p.args) ~= "table" or #p.args == 0 then fail("process: args must be a non-empty list") end
  local t = {}
  for k, v in pairs(st.table or {}) do t[k] = v end
  local tty = p.terminal == true
  if tty and not o.console_socket and o.detach then fail("cannot allocate tty if runc will detach without setting console socket") end
  if o.console_socket and not o.detach then fail("--console-socket needs --detach") end
  t.tty = tty
  if p.user then
    -- (cjson reads numbers as floats.)
    local int = math.tointeger
    -- The groups exactly: the process's additionalGids, else the
    -- container's (exec --user keeps them, as runc's does).
    local groups = type(t.user) == "table" and t.user.groups or {}
    if type(p.user.additionalGids) == "table" then
      groups = {}
      for i, g in ipairs(p.user.additionalGids) do groups[i] = int(g) end
    end
    local u = { uid = int(p.user.uid or 0), gid = int(p.user.gid or 0), groups = groups }
    if type(t.user) == "table" and (t.uid_map or t.user.uid_map) then
      local copy = {}
      for k, v in pairs(t.user) do copy[k] = v end
      copy.uid, copy.gid, copy.groups = u.uid, u.gid, u.groups
      t.user = copy
    else
      t.user = u
    end
  end
  -- The process's own fields, read as config.json's process is.
  local cfg = require "ns.oci.config"
  local function translate(f, ...)
    local tok, r = pcall(f, ...)
    if not tok then fail("%s", (tostring(r):gsub("^config%.json: ", "process: "))) end
    return r
  end
  if p.capabilities then t.capabilities = translate(cfg.capabilities, p.capabilities, { debug = {} }) end
  if p.ioPriority then t.io_priority = translate(cfg.io_priority, p.ioPriority) end
  if p.noNewPrivileges ~= nil then t.no_new_privs = p.noNewPrivileges == true end
  if o.add_caps and #o.add_caps > 0 and t.capabilities ~= "all" then
    -- runc's exec --cap: bounding, effective and permitted, and ambient
    -- where the process has inheritable ones (else none could be raised).
    local function plus(list, ok)
      local out = {}
      for _, n in ipairs(type(list) == "table" and list or {}) do out[#out + 1] = n end
      for _, n in ipairs(o.add_caps) do
        n = tostring(n):lower():gsub("^cap_", "")
        if not ok or ok(n) then out[#out + 1] = n end
      end
      return out
    end
    local c = t.capabilities
    if type(c) == "table" and type(next(c)) == "string" then
      local inh = {}
      for _, n in ipairs(c.inheritable or {}) do inh[n] = true end
      t.capabilities = { bounding = plus(c.bounding), effective = plus(c.effective), permitted = plus(c.permitted),
        inheritable = c.inheritable, ambient = plus(c.ambient, function(n) return inh[n] end) }
    else
      t.capabilities = plus(c)
    end
  end
  -- runc's: the process's env whole (exec --process), or the container's
  -- with exec --env's after it (o.add_env); HOME added when it lacks one.
  local env = {}
  if o.add_env then for _, kv in ipairs(t.env or {}) do env[#env + 1] = kv end end
  for _, kv in ipairs(p.env or {}) do env[#env + 1] = kv end
  t.env = env
  local c = require("ns.recipe").check(t)
  local fd = check("container " .. id, ns.pidfd_open(st.pid))
  local g = group_of(st)
  local h = { c = c, pid = st.pid, pidfd = fd, cgroup = g }
  local ok, r = pcall(require("ns.exec").exec, h, p.args, { cwd = p.cwd, tty = tty, orphan = o.detach or nil })
  fd:close()
  if g then g:detach() end
  if not ok then fail("%s", type(r) == "table" and r.message or tostring(r)) end
  if o.detach then
    if r.master then
      local cs = type(p.consoleSize) == "table" and p.consoleSize or {}
      local rows, cols = math.tointeger(cs.height), math.tointeger(cs.width)
      if rows and cols and rows > 0 and cols > 0 and rows < 65536 and cols < 65536 then
        check("console size", ns.winsize(r.master, rows, cols))
      end
      send_console(o.console_socket, r.master)
      r.master:close()
    end
    if o.pid_file then
      write_file("pid file", o.pid_file, tostring(r.pid), "0644")
    end
  end
  return r
end

--- kill(root, id, sig, all): sig (a name or number) to the container's
-- process, or with all to every process of its cgroup.
function M.kill(root, id, sig, all)
  local st = read_state(root, id)
  if status(root, id, st) == "stopped" then fail("container not running") end
  local g = all and group_of(st)
  if g then
    for _, pid in ipairs(g:procs()) do ns.kill(pid, sig) end
    g:detach()
    return
  end
  local pidfd = check("pidfd_open " .. st.pid, ns.pidfd_open(st.pid))
  local ok, msg = ns.kill(pidfd, sig)
  pidfd:close()
  check("kill", ok, msg)
end

-- Wait up to s seconds for st's process to end.
local function wait_gone(st, s)
  local fd = ns.pidfd_open(st.pid)
  if not fd then return true end
  ns.poll({ fd }, math.floor(s * 1000))
  fd:close()
  return not alive(st)
end

--- remove(root, id, st, force): what delete removes, once the process
-- is gone (killed first with force).
function M.remove(root, id, st, force)
  if alive(st) then
    if not force then fail("cannot delete container %s that is not stopped: %s", id, status(root, id, st)) end
    local g = group_of(st)
    if g then g:thaw() g:detach() end
    local fd = ns.pidfd_open(st.pid)
    if fd then ns.kill(fd, "KILL") fd:close() end
    if not wait_gone(st, 10) then fail("container %s: its process did not end after SIGKILL", id) end
  end
  local g = group_of(st)
  if g then
    if g.kill then pcall(g.kill, g) end
    local ok, err = pcall(g.remove, g)
    if not ok then fail("container %s: remove its cgroup: %s", id, tostring(err)) end
  end
  require("ns.rootfs").remove_tree(dir_of(root, id))
end

--- delete(root, id, force): see the module's comment.
function M.delete(root, id, force)
  local st = read_state(root, id)
  local lk = lock(root, id)
  local hooks = st.hooks or {}
  -- The poststop hooks' state: the container's, stopped (it is gone
  -- when they run).
  local s = hook_state(root, id, st, "stopped")
  local ok, err = pcall(M.remove, root, id, st, force)
  lk:close()
  if not ok then error(err, 0) end
  if hooks.poststop and #hooks.poststop > 0 then
    -- Their failures are only warned of (runtime-spec).
    local hok, herr = pcall(M.run_hooks, hooks.poststop, s, "poststop")
    if not hok then io.stderr:write("luactr-oci: ", type(herr) == "table" and herr.message or tostring(herr), "\n") end
  end
end

--- list(root) -> the states of every container under root, by id.
function M.list(root)
  local out = {}
  for _, name in ipairs(ns.listdir(root) or {}) do
    if not name:match("^%.") and ns.stat(dir_of(root, name) .. "/state.json") then
      local ok, s = pcall(M.state, root, name)
      if ok then out[#out + 1] = s end
    end
  end
  table.sort(out, function(a, b) return a.id < b.id end)
  return out
end

--- pids(root, id) -> the host pids of the container's processes.
function M.pids(root, id)
  local st = read_state(root, id)
  local g = group_of(st)
  if not g then
    return alive(st) and { st.pid } or {}
  end
  local p = g:procs()
  g:detach()
  return p
end

--- update(root, id, r): the limits of r (an OCI LinuxResources object)
-- written to the running container's cgroup.
function M.update(root, id, r)
  local st = read_state(root, id)
  if status(root, id, st) == "stopped" then fail("container not running") end
  local limits = require("ns.oci.config").limits(r)
  local g = group_of(st)
  if not g then fail("container %s has no cgroup to update", id) end
  local ok, err = pcall(g.set, g, limits)
  g:detach()
  if not ok then fail("%s", tostring(err)) end
end

local function freezing(root, id, on)
  local st = read_state(root, id)
  local lk = lock(root, id)
  local s = status(root, id, st)
  if on and s ~= "running" then fail("container not running") end
  if not on and s ~= "paused" then fail("container not paused") end
  local g = group_of(st)
  if not g then fail("container %s has no cgroup to freeze", id) end
  if on then g:freeze() else g:thaw() end
  g:detach()
  st.paused = on or nil
  write_state(root, id, st)
  lk:close()
end

function M.pause(root, id) freezing(root, id, true) end
function M.resume(root, id) freezing(root, id, false) end

return M
