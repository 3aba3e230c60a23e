--- ns.container: a container from a table.
--
--   local container = require "ns.container"
--   local st = container.run{ hostname = "box", args = {"/bin/sh"} }
--   os.exit(st.status)
--
-- The table is validated (unknown keys raise, listing the valid ones) and
-- compiled into an ordered list of steps, each run in the parent (luactr)
-- or in the child (inside the new namespaces, before exec). container.plan(t)
-- returns those steps as data. Parent steps that fail are undone in reverse;
-- child steps die with the child's mount namespace, and the parent then
-- undoes its own. Errors name the container and the step:
--   container "web": step 7 (mount proc on /proc): ... (EPERM)
--
-- Parent and child synchronise over a socketpair: the child waits for "go"
-- (sent once id maps and cgroup membership are written), then reports each
-- step's time ("T") or its failure ("E") on it; the socket is close-on-exec,
-- so end-of-file means the exec succeeded.
local ns = require "ns.core"

local M = {}

local fmt, concat, insert = string.format, table.concat, table.insert
local getenv = os.getenv

-- The capabilities docker keeps by default.
M.default_capabilities = {
  "chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid",
  "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill",
  "audit_write",
}

M.default_namespaces = { "pid", "mnt", "uts", "ipc", "net", "cgroup" }

-- Signals luactr passes on to the container.
M.forwarded_signals = { "INT", "TERM", "HUP", "QUIT", "USR1", "USR2" }

-- Host devices bound into the minimal /dev.
local DEVICES = { "null", "zero", "full", "random", "urandom", "tty" }

local KEYS = {
  name = "string", rootfs = "string|table|boolean", overlay = "boolean",
  keep_upper = "boolean", chroot = "boolean", hostname = "string",
  namespaces = "table", user = "table|boolean", mounts = "table",
  proc = "boolean", sys = "boolean", dev = "boolean", env = "table",
  cwd = "string", args = "table", tty = "boolean", capabilities = "table|string",
  no_new_privs = "boolean", inside = "function|table", parent = "function|table",
  init = "boolean", cgroup = "table", time = "table", rlimits = "table",
  readonly = "boolean", domainname = "string", stdin = "userdata",
  stdout = "userdata", stderr = "userdata",
}

local MOUNT_KEYS = { source = true, target = true, type = true, flags = true, data = true, mkdir = true }
local USER_KEYS = { uid_map = true, gid_map = true, uid = true, gid = true }
local TIME_KEYS = { monotonic = true, boottime = true }

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function check_keys(what, t, valid)
  for k in pairs(t) do
    if not valid[k] then
      error(fmt("%s: unknown key '%s' (valid: %s)", what, tostring(k), concat(sorted_keys(valid), ", ")), 0)
    end
  end
end

local function typecheck(what, key, v, want)
  local ty = type(v)
  for w in want:gmatch("[^|]+") do
    if ty == w then return end
  end
  error(fmt("%s: '%s' must be a %s, not a %s", what, key, want:gsub("|", " or "), ty), 0)
end

local function list(v)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  return v
end

local function join(a, b)
  if b:sub(1, 1) == "/" then b = b:sub(2) end
  if a:sub(-1) == "/" then return a .. b end
  return a .. "/" .. b
end

local function is_root_user() return select(2, ns.getuid()) == 0 end

local function random_id()
  local f = io.open("/dev/urandom", "rb")
  local s = f:read(6)
  f:close()
  return (s:gsub(".", function(c) return fmt("%02x", c:byte()) end))
end

-- The defaults, filled into a copy of the user's table.
local function normalize(t)
  if type(t) ~= "table" then error("container: expected a table, got " .. type(t), 0) end
  local what = fmt("container %q", tostring(t.name or "?"))
  check_keys(what, t, KEYS)
  for k, v in pairs(t) do typecheck(what, k, v, KEYS[k]) end
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  c.name = c.name or ("luactr-" .. random_id())
  if not c.name:match("^[%w][%w_.-]*$") or #c.name > 64 then
    error(fmt("container %q: name must be letters, digits, '.', '_' or '-' (at most 64)", c.name), 0)
  end
  c.what = fmt("container %q", c.name)
  if c.rootfs == nil then c.rootfs = "busybox" end
  if c.rootfs == true then c.rootfs = "busybox" end
  if c.overlay == nil then c.overlay = c.rootfs ~= false end
  c.namespaces = c.namespaces or M.default_namespaces
  local set = {}
  for _, n in ipairs(c.namespaces) do set[n] = true end
  if c.user and not set.user then set.user = true end
  if c.time and not set.time then set.time = true end
  c.nsset = set
  c.hostname = c.hostname or (set.uts and c.name or nil)
  if c.hostname and not set.uts then error(c.what .. ": hostname needs the uts namespace", 0) end
  if c.proc == nil then c.proc = set.pid or c.rootfs ~= false end
  if c.sys == nil then c.sys = c.rootfs ~= false end
  if c.dev == nil then c.dev = c.rootfs ~= false end
  c.mounts = c.mounts or {}
  for i, m in ipairs(c.mounts) do
    if type(m) ~= "table" then error(fmt("%s: mounts[%d] must be a table", c.what, i), 0) end
    check_keys(fmt("%s: mounts[%d]", c.what, i), m, MOUNT_KEYS)
    if type(m.target) ~= "string" then error(fmt("%s: mounts[%d] needs a target path", c.what, i), 0) end
  end
  local mounting = c.rootfs ~= false or c.proc or c.sys or c.dev or #c.mounts > 0
  if mounting and not set.mnt then
    error(c.what .. ": a rootfs or mounts need the mnt namespace (add \"mnt\" to namespaces)", 0)
  end
  if c.chroot and c.rootfs == false then error(c.what .. ": chroot needs a rootfs", 0) end
  if c.user then
    if c.user == true then c.user = {} end
    check_keys(c.what .. ": user", c.user, USER_KEYS)
    -- Default maps: root inside is you outside; run as root, it is uid
    -- 100000 with 65536 ids, the usual first subordinate range, so that
    -- root inside is nobody on the host.
    local u = {}
    for k, v in pairs(c.user) do u[k] = v end
    local uid, gid = select(2, ns.getuid()), select(2, ns.getgid())
    u.uid_map = u.uid_map or (uid == 0 and { { 0, 100000, 65536 } } or { { 0, uid, 1 } })
    u.gid_map = u.gid_map or (uid == 0 and { { 0, 100000, 65536 } } or { { 0, gid, 1 } })
    c.user = u
  end
  if c.time then check_keys(c.what .. ": time", c.time, TIME_KEYS) end
  c.args = c.args or { "/bin/sh" }
  if #c.args == 0 then error(c.what .. ": args is empty", 0) end
  c.cwd = c.cwd or "/"
  if c.capabilities == nil then c.capabilities = M.default_capabilities end
  if c.no_new_privs == nil then c.no_new_privs = true end
  if c.tty == nil then c.tty = ns.isatty(0) and ns.isatty(1) end
  c.inside = list(c.inside)
  c.parent = list(c.parent)
  return c
end

local function default_env(c)
  local env = {
    PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME = "/root",
  }
  if c.hostname then env.HOSTNAME = c.hostname end
  if c.tty then env.TERM = getenv("TERM") or "xterm" end
  if c.rootfs == false then
    env.PATH = getenv("PATH") or env.PATH
    env.HOME = getenv("HOME") or env.HOME
  end
  for k, v in pairs(c.env or {}) do
    if type(k) == "number" then
      local key, val = tostring(v):match("^([^=]+)=(.*)$")
      if not key then error(fmt("%s: env[%d] is not KEY=VALUE", c.what, k), 0) end
      env[key] = val
    else
      env[k] = tostring(v)
    end
  end
  return env
end

-- Raise the core's message (it already names the call and its argument).
local function must(what, ok, msg, ...)
  if not ok then error(msg and tostring(msg) or (what .. " failed"), 0) end
  return ok, msg, ...
end

-- Take the container's ids inside its user namespace (root by default).
local function become(user)
  must("setresgid", ns.setresgid(user.gid or 0))
  must("setresuid", ns.setresuid(user.uid or 0))
end

-- Drop every capability but those in keep, from the bounding set too.
local function keep_caps(names)
  local keep = {}
  for _, n in ipairs(names) do keep[(n:lower():gsub("^cap_", ""))] = true end
  local drop = {}
  for _, n in ipairs(ns.cap_names()) do
    if not keep[n] then drop[#drop + 1] = n end
  end
  must("cap_drop_bound", ns.cap_drop_bound(drop))
  local have = {}
  for _, n in ipairs(ns.cap_get().permitted) do if keep[n] then have[#have + 1] = n end end
  must("cap_set", ns.cap_set({ effective = have, permitted = have, inheritable = {} }))
end

---------------------------------------------------------------------------
-- Steps. Each is {name, where = "parent"|"child", run = fn(ctx), undo = fn(ctx)}.

local function steps_for(c)
  local S = {}
  local function step(where, name, run, undo) S[#S + 1] = { where = where, name = name, run = run, undo = undo } end
  local rootfs_mod = c.rootfs ~= false and require("ns.rootfs") or nil
  local is_root = select(2, ns.getuid()) == 0

  -- parent: before clone
  if c.rootfs ~= false then
    step("parent", c.rootfs == "busybox" and "image busybox" or ("image " .. concat(list(c.rootfs), ":")), function(x)
      x.layers = c.rootfs == "busybox" and { rootfs_mod.busybox() } or list(c.rootfs)
      for _, l in ipairs(x.layers) do
        local st, msg = ns.stat(l)
        if not st then error("rootfs " .. msg:gsub("^stat ", ""), 0) end
        if st.type ~= "dir" then error(fmt("rootfs %s: not a directory", l), 0) end
      end
      x.lower = concat(x.layers, ":")
    end)
    local function state_root()
      local state = getenv("LUACTR_STATE")
      if not state then
        state = is_root and "/run/luactr" or ((getenv("XDG_RUNTIME_DIR") or ("/tmp/luactr-" .. select(1, ns.getuid()))) .. "/luactr")
      end
      return state
    end
    if c.overlay and not c.keep_upper then
      -- The upper layer lives on a tmpfs mounted in the container's own
      -- mount namespace (over the state dir, which only serves as a mount
      -- point): the kernel discards it with the namespace, so nothing is
      -- left on the host even if luactr is killed, and nothing needs
      -- removing at the end.
      step("parent", "state dir", function(x)
        x.state = state_root()
        local st = ns.stat(x.state)
        if not st then must("mkdir", ns.mkdir(x.state, "0755", true)) end
      end)
    elseif c.overlay then
      step("parent", "overlay dirs", function(x)
        local state = state_root()
        x.state = state
        x.ov = rootfs_mod.overlay_dirs(x.layers, state, c.name)
        x.root = x.ov.merged
        if c.user and is_root then
          -- overlayfs writes the upper layer with the mounter's creds, and
          -- the mounter is root inside the user namespace: give it the dirs.
          local uid, gid = M.outside_ids(c)
          for _, d in ipairs({ x.ov.upper, x.ov.work }) do must("chown", ns.chown(d, uid, gid)) end
        end
      end, function(x)
        if x.ov then
          if c.keep_upper then
            -- keep upper/, drop the rest
            for _, d in ipairs({ x.ov.work, x.ov.merged }) do rootfs_mod.remove_tree(d) end
          else
            rootfs_mod.remove_tree(x.ov.dir)
          end
        end
      end)
    else
      step("parent", "root dir", function(x) x.root = x.lower:match("^[^:]+") end)
    end
  end
  if c.cgroup then
    step("parent", "cgroup create", function(x)
      local cgroup = require("ns.cgroup")
      -- Groups a crashed luactr left behind (no process in them) go first.
      pcall(cgroup.gc)
      x.cg = cgroup.create(c.name, c.cgroup)
    end, function(x) if x.cg then x.cg:remove() end end)
  end
  local cloned = {}
  for _, n in ipairs(sorted_keys(c.nsset)) do
    if n ~= "time" and n ~= "cgroup" then cloned[#cloned + 1] = n end
  end
  step("parent", "clone " .. concat(cloned, ","), nil)

  -- child
  step("child", "wait for parent", function(x) x.wait_go() end)
  if c.nsset.cgroup then
    -- Unshared only now that the parent has put us in our group, so that
    -- the namespace's root is the group: the container sees it as "/".
    step("child", "cgroup namespace", function() must("unshare", ns.unshare({ "cgroup" })) end)
  end
  if c.user then
    step("child", "become " .. (c.user.uid or 0) .. ":" .. (c.user.gid or 0), function() become(c.user) end)
  end
  if c.time then
    step("child", "time offsets", function()
      must("unshare time", ns.unshare({ "time" }))
      local text = fmt("monotonic %d 0\nboottime %d 0\n", c.time.monotonic or 0, c.time.boottime or 0)
      must("timens_offsets", ns.writefile("/proc/self/timens_offsets", text))
    end)
  end
  if c.nsset.mnt then
    step("child", "make / rprivate", function() must("mount", ns.mount(nil, "/", nil, { "rec", "private" })) end)
  end
  local root
  if c.rootfs ~= false then
    if c.overlay and not c.keep_upper then
      step("child", "mount overlay (upper layer on a private tmpfs)", function(x)
        local t = x.state
        must("mount", ns.mount("tmpfs", t, "tmpfs", nil, "mode=0755"))
        must("mkdir", ns.mkdir(t .. "/upper", "0755"))
        must("mkdir", ns.mkdir(t .. "/work", "0700"))
        must("mkdir", ns.mkdir(t .. "/merged", "0755"))
        x.root = t .. "/merged"
        must("mount", ns.mount("overlay", x.root, "overlay", nil,
          fmt("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", x.lower, t, t)))
      end)
    elseif c.overlay then
      step("child", "mount overlay", function(x)
        must("mount", ns.mount("overlay", x.root, "overlay", nil, x.ov.options))
      end)
    else
      step("child", "bind rootfs", function(x)
        must("mount", ns.mount(x.root, x.root, nil, { "bind", "rec" }))
      end)
    end
    root = function(x) return x.root end
  else
    root = function() return "/" end
  end
  local function at(x, p) return join(root(x), p) end
  if c.proc then
    step("child", "mount proc on /proc", function(x)
      must("mount", ns.mount("proc", at(x, "/proc"), "proc", { "nosuid", "nodev", "noexec" }))
    end)
  end
  if c.sys then
    step("child", "mount sysfs on /sys (read-only)", function(x)
      local ok, msg, e = ns.mount("sysfs", at(x, "/sys"), "sysfs", { "nosuid", "nodev", "noexec", "rdonly" })
      if not ok and e == ns.E.EPERM then
        -- Without our own net namespace the kernel refuses a new sysfs: bind the host's.
        ok, msg = ns.mount("/sys", at(x, "/sys"), nil, { "rbind", "rdonly" })
      end
      must("mount", ok, msg)
    end)
  end
  if c.dev then
    step("child", "minimal /dev", function(x)
      local dev = at(x, "/dev")
      must("mount", ns.mount("tmpfs", dev, "tmpfs", { "nosuid", "noexec", "strictatime" }, "mode=755,size=65536k"))
      for _, d in ipairs(DEVICES) do
        local p = dev .. "/" .. d
        must("create " .. p, ns.writefile(p, "", { create = true, mode = "0666" }))
        must("mount", ns.mount("/dev/" .. d, p, nil, { "bind" }))
      end
      for _, d in ipairs({ "pts", "shm", "mqueue" }) do must("mkdir", ns.mkdir(dev .. "/" .. d, "0755")) end
      must("mount", ns.mount("devpts", dev .. "/pts", "devpts", { "nosuid", "noexec" }, "newinstance,ptmxmode=0666,mode=0620"))
      must("symlink", ns.symlink("pts/ptmx", dev .. "/ptmx"))
      must("mount", ns.mount("shm", dev .. "/shm", "tmpfs", { "nosuid", "nodev", "noexec" }, "mode=1777,size=65536k"))
      if c.nsset.ipc then
        must("mount", ns.mount("mqueue", dev .. "/mqueue", "mqueue", { "nosuid", "nodev", "noexec" }))
      end
      for name, target in pairs({ fd = "/proc/self/fd", stdin = "/proc/self/fd/0", stdout = "/proc/self/fd/1", stderr = "/proc/self/fd/2" }) do
        must("symlink", ns.symlink(target, dev .. "/" .. name))
      end
    end)
  end
  for _, m in ipairs(c.mounts) do
    step("child", fmt("mount %s on %s", m.source or m.type or "none", m.target), function(x)
      local target = at(x, m.target)
      if m.mkdir then must("mkdir", ns.mkdir(target, "0755", true)) end
      must("mount", ns.mount(m.source or m.type or "none", target, m.type, m.flags, m.data))
      local fl = list(m.flags)
      local bind, ro = false, false
      for _, f in ipairs(fl) do
        if f == "bind" or f == "rbind" then bind = true elseif f == "rdonly" then ro = true end
      end
      if bind and ro then
        -- A bind mount ignores rdonly until remounted.
        must("mount", ns.mount(nil, target, nil, { "remount", "bind", "rdonly" }))
      end
    end)
  end
  if c.rootfs ~= false then
    if c.readonly then
      step("child", "read-only root", function(x)
        must("mount", ns.mount(nil, x.root, nil, { "remount", "bind", "rdonly" }))
      end)
    end
    if c.chroot then
      step("child", "chroot", function(x)
        must("chroot", ns.chroot(x.root))
        must("chdir", ns.chdir("/"))
      end)
    else
      step("child", "pivot_root", function(x)
        must("chdir", ns.chdir(x.root))
        must("pivot_root", ns.pivot_root(".", "."))
        -- The old root now sits on top of the new one: detach it.
        must("umount old root", ns.umount(".", "detach"))
        must("chdir", ns.chdir("/"))
      end)
    end
  end
  if c.hostname then
    step("child", "hostname " .. c.hostname, function() must("sethostname", ns.sethostname(c.hostname)) end)
  end
  if c.domainname then
    step("child", "domainname " .. c.domainname, function() must("setdomainname", ns.setdomainname(c.domainname)) end)
  end
  for name, v in pairs(c.rlimits or {}) do
    step("child", "rlimit " .. name, function()
      local soft, hard = v, v
      if type(v) == "table" then soft, hard = v[1], v[2] or v[1] end
      must("setrlimit", ns.setrlimit(name, soft, hard))
    end)
  end
  if c.tty then
    step("child", "terminal (pty in the container's devpts)", function(x)
      -- Opened here, after the mounts, so that the terminal is /dev/pts/0
      -- of the container's own devpts (ttyname works); the master side
      -- goes to luactr over the socket.
      local master, slave = ns.openpty()
      must("openpty", master, slave)
      must("sendfd", ns.sendfd(x.sock, master, "P\n"))
      master:close()
      must("setsid", ns.setsid())
      must("setctty", ns.setctty(slave))
      for fd = 0, 2 do must("dup2", ns.dup2(slave, fd)) end
      slave:close()
    end)
  else
    step("child", "stdio", function(x)
      if c.stdin then must("dup2", ns.dup2(c.stdin, 0)) end
      if c.stdout then must("dup2", ns.dup2(c.stdout, 1)) end
      if c.stderr then must("dup2", ns.dup2(c.stderr, 2)) end
    end)
  end
  step("child", "cwd " .. c.cwd, function() must("chdir", ns.chdir(c.cwd)) end)
  for i, hook in ipairs(c.inside) do
    step("child", "inside hook " .. i, function(x) hook(x.handle) end)
  end
  if c.capabilities ~= "all" then
    step("child", "capabilities (" .. #c.capabilities .. " kept)", function() keep_caps(c.capabilities) end)
  end
  if c.no_new_privs then
    step("child", "no_new_privs", function() must("prctl", ns.prctl("no_new_privs", true)) end)
  end
  if c.init then
    step("child", "init (reaper)", function(x) x.start_init() end)
  end
  step("child", "exec " .. c.args[1], nil)
  return S
end

--- plan(t) -> the steps as data: {{n = 1, where = "parent", name = "..."}, ...}
function M.plan(t)
  local c = normalize(t)
  local out = {}
  for i, s in ipairs(steps_for(c)) do out[i] = { n = i, where = s.where, name = s.name } end
  return out
end

local function print_plan(c, steps)
  io.stdout:write(fmt("%s: %d steps\n", c.what, #steps))
  for i, s in ipairs(steps) do
    io.stdout:write(fmt("%3d  %-6s  %s\n", i, s.where, s.name))
  end
  io.stdout:flush()
end

local function print_timings(c, steps, times, total)
  io.stderr:write(fmt("%s: timings\n", c.what))
  for i, s in ipairs(steps) do
    if times[i] then io.stderr:write(fmt("%3d  %-6s  %8.3f ms  %s\n", i, s.where, times[i] * 1e3, s.name)) end
  end
  io.stderr:write(fmt("     total   %8.3f ms (start to exit)\n", total * 1e3))
end

---------------------------------------------------------------------------
-- The child side: runs the child steps, reports over the socket, execs.

local function child_main(c, steps, x, sock, first)
  -- A parent that dies before this is seen by "wait for parent" (its end
  -- of the socket closes); after it, pdeathsig ends the child.
  ns.prctl("pdeathsig", "KILL")
  x.wait_go = function()
    local b = sock:read(1)
    if b ~= "g" then error("parent went away before the start signal", 0) end
  end
  x.start_init = function()
    -- PID 1 stays here as a reaper; its child goes on to exec.
    local pid, pidfd = ns.clone({})
    if pid ~= 0 then
      sock:close()
      local sigs = { "CHLD" } -- wakes the reaper for orphans that end
      for _, n in ipairs(M.forwarded_signals) do sigs[#sigs + 1] = n end
      local sigfd = ns.signalfd(sigs)
      local code
      while true do
        local r = ns.poll({ pidfd, sigfd }, -1)
        for _, i in ipairs(r) do
          if i == 2 then
            local s = ns.sigread(sigfd)
            while s do
              if s ~= "CHLD" then ns.kill(pidfd, s) end
              s = ns.sigread(sigfd)
            end
          end
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
  end
  ns.sigmask("set", {})
  local exec_step = #steps
  for i = first, exec_step - 1 do
    local s = steps[i]
    local t0 = ns.clock()
    local ok, err = pcall(s.run, x)
    if not ok then
      sock:write(fmt("E%d\t%s\n", i, tostring(err)))
      ns._exit(127)
    end
    sock:write(fmt("T%d\t%.9f\n", i, ns.clock() - t0))
  end
  local env = default_env(c)
  sock:write(fmt("X%.9f\n", ns.clock()))
  local _, msg, e = ns.exec(c.args[1], c.args, env)
  sock:write(fmt("E%d\t%s\n", exec_step, msg))
  ns._exit(e == ns.E.ENOENT and 127 or 126)
end

---------------------------------------------------------------------------
-- The parent side.

local Handle = {}
Handle.__index = Handle

-- luactr blocks the signals it forwards (a signalfd only sees blocked
-- signals) while any of its containers runs, and unblocks them when the
-- last one ends, so that a recipe that goes on afterwards can be
-- interrupted again.
local forwarding = 0
local FORWARD_TTY = { "WINCH" }
for _, n in ipairs(M.forwarded_signals) do FORWARD_TTY[#FORWARD_TTY + 1] = n end

local function forwarding_on(tty)
  local fd = assert(ns.signalfd(tty and FORWARD_TTY or M.forwarded_signals))
  forwarding = forwarding + 1
  return fd
end

local function forwarding_off(fd)
  if not fd:fileno() then return end -- closed already
  fd:close()
  forwarding = forwarding - 1
  if forwarding == 0 then ns.sigmask("unblock", FORWARD_TTY) end
end

local function undo_all(steps, x, upto)
  local errs = {}
  for i = upto, 1, -1 do
    local s = steps[i]
    if s.where == "parent" and s.undo then
      local ok, err = pcall(s.undo, x)
      if not ok then errs[#errs + 1] = tostring(err) end
    end
  end
  return errs
end

--- outside_ids(c) -> the host uid and gid that the container's root maps to.
function M.outside_ids(c)
  local function find(map)
    for _, r in ipairs(map) do
      if r[1] <= 0 and 0 < r[1] + r[3] then return r[2] - r[1] end
    end
    error(c.what .. ": the user maps leave root inside unmapped", 0)
  end
  return find(c.user.uid_map), find(c.user.gid_map)
end

local function id_maps(c, pid)
  if not is_root_user() then must("setgroups deny", ns.setgroups_deny(pid)) end
  must("gid_map", ns.gid_map(pid, c.user.gid_map))
  must("uid_map", ns.uid_map(pid, c.user.uid_map))
end

--- start(t) -> a handle for a running container: h.pid, h.pidfd, h.name,
-- h:wait() -> status, h:kill(sig), h:exec(args) (docker exec), h:close().
function M.start(t)
  local c = normalize(t)
  local steps = steps_for(c)
  if getenv("LUACTR_PLAN") then
    -- luactr --plan: the steps, and nothing run, not even the rest of the
    -- recipe (which would act on a container that does not exist).
    print_plan(c, steps)
    os.exit(0, true)
  end
  local x = { c = c }
  local times = {}
  local t_start = ns.clock()
  local clone_step
  for i, s in ipairs(steps) do
    if s.where == "child" then break end
    if s.run then
      local t0 = ns.clock()
      local ok, err = pcall(s.run, x)
      if not ok then
        undo_all(steps, x, i)
        error(fmt("%s: step %d (%s): %s", c.what, i, s.name, tostring(err)), 0)
      end
      times[i] = ns.clock() - t0
    else
      clone_step = i
      break
    end
  end

  local function fail(i, msg)
    undo_all(steps, x, clone_step)
    error(fmt("%s: step %d (%s): %s", c.what, i, steps[i].name, msg), 0)
  end

  local psock, csock = ns.socketpair()
  if not psock then fail(clone_step, csock) end
  local master
  -- Signals for luactr to forward: blocked before the clone, so none is
  -- lost between the clone and the relay; the child clears its mask.
  local sigfd = forwarding_on(c.tty)
  local h = setmetatable({ c = c, steps = steps, times = times, x = x, name = c.name, t_start = t_start,
    sigfd = sigfd }, Handle)
  x.handle = h

  local opts
  local v2 = x.cg and x.cg.v2_path and x.cg:v2_path()
  if v2 and x.cg.mode == "v2" then
    x.cgfd = ns.open(v2, { "path", "directory" })
    opts = x.cgfd and { cgroup = x.cgfd } or nil
  end
  local t0 = ns.clock()
  -- The time namespace is unshared by the child itself: its offsets can
  -- only be written before a process enters it.
  local types = {}
  for _, n in ipairs(sorted_keys(c.nsset)) do
    if n ~= "time" and n ~= "cgroup" then types[#types + 1] = n end
  end
  local pid, pidfd = ns.clone(types, opts)
  if pid == 0 then
    psock:close()
    x.sock = csock
    child_main(c, steps, x, csock, clone_step + 1)
  end
  if x.cgfd then x.cgfd:close() end
  csock:close()
  if not pid then
    psock:close()
    forwarding_off(sigfd)
    local msg = pidfd
    if not is_root_user() and not c.nsset.user and tostring(msg):find("EPERM", 1, true) then
      msg = msg .. ": namespaces other than user need privilege; add user = true to the recipe (root inside, you outside)"
    end
    fail(clone_step, msg)
  end
  times[clone_step] = ns.clock() - t0
  h.pid, h.pidfd, h.cgroup = pid, pidfd, x.cg
  h.cloned_into_cgroup = opts ~= nil

  local function abort(i, msg)
    ns.kill(pidfd, "KILL")
    ns.wait(pidfd)
    pidfd:close()
    psock:close()
    forwarding_off(sigfd)
    fail(i, msg)
  end
  -- What the parent does while the child waits.
  local ok, err = pcall(function()
    if c.user then id_maps(c, pid) end
    if x.cg and not opts then x.cg:add(pid) end
    for _, hook in ipairs(c.parent) do hook(h, pid) end
  end)
  if not ok then abort(clone_step, tostring(err)) end
  psock:write("g")
  -- Read the child's reports until exec closes the socket.
  local buf = ""
  while true do
    local s, fd = ns.recvfd(psock)
    if fd then master = fd end
    if not s or s == "" then break end
    buf = buf .. s
  end
  psock:close()
  if master then
    h.master = master
    local rows, cols = ns.winsize(0)
    if rows then ns.winsize(master, rows, cols) end
  end
  for line in buf:gmatch("[^\n]+") do
    local kind, i, rest = line:match("^([TE])(%d+)\t(.*)$")
    if kind == "T" then
      times[tonumber(i)] = tonumber(rest)
    elseif kind == "E" then
      local st = ns.wait(pidfd)
      pidfd:close()
      forwarding_off(sigfd)
      if master then master:close(); h.master = nil end
      h.pidfd = nil
      fail(tonumber(i), rest)
    else
      local xt = line:match("^X(.*)$")
      if xt then h.t_exec = tonumber(xt) end
    end
  end
  times[#steps] = h.t_exec and (ns.clock() - h.t_exec) or nil
  return h
end

--- h:wait() -> status {exited, code | killed, signal, signo; status; oom}
-- Relays the terminal (tty mode) or forwards signals until the container
-- ends, then undoes the parent's steps (cgroup, upper layer).
function Handle:wait()
  if self.status then return self.status end
  local pidfd, sigfd = self.pidfd, self.sigfd
  if self.master then
    local restore = ns.rawmode(0)
    local ok, msg = ns.relay(self.master, { pidfd = pidfd, sigfd = sigfd })
    if restore then restore:restore() end
    if not ok then io.stderr:write("luactr: relay: ", tostring(msg), "\n") end
  else
    while true do
      local r = ns.poll({ pidfd, sigfd }, -1)
      local ended = false
      for _, i in ipairs(r) do
        if i == 1 then ended = true end
        if i == 2 then
          local s = ns.sigread(sigfd)
          while s do ns.kill(pidfd, s); s = ns.sigread(sigfd) end
        end
      end
      if ended then break end
    end
  end
  local st = assert(ns.wait(pidfd))
  self:_finish(st)
  return st
end

function Handle:_finish(st)
  local x, c = self.x, self.c
  if x.cg then
    local ok, n = pcall(x.cg.oom_killed, x.cg)
    if ok and n and n > 0 and st.killed then
      st.oom = true
      st.message = fmt("killed by the OOM killer: memory limit %s", tostring(c.cgroup.memory))
    end
  end
  if self.pidfd then self.pidfd:close() end
  if self.sigfd then forwarding_off(self.sigfd) end
  if self.master then self.master:close() end
  self.status = st
  local errs = undo_all(self.steps, x, #self.steps)
  if x.ov and c.keep_upper then st.upper = x.ov.upper end
  if getenv("LUACTR_TIMINGS") then print_timings(c, self.steps, self.times, ns.clock() - self.t_start) end
  if #errs > 0 then error(fmt("%s: cleanup: %s", c.what, concat(errs, "; ")), 0) end
end

--- h:kill([sig]) -> true: signals the container's first process.
function Handle:kill(sig)
  return ns.kill(self.pidfd, sig or "TERM")
end

--- h:exec(args [, opts]) -> status: runs args inside the running
-- container's namespaces, as `docker exec` does: a child joins them
-- through the pidfd (one setns for all), then forks so that its own child
-- lands in the pid namespace too, and execs there.
function Handle:exec(args, opts)
  opts = opts or {}
  local types = {}
  for n in pairs(self.c.nsset) do types[#types + 1] = n end
  table.sort(types)
  local r, w = ns.pipe()
  local gr, gw = ns.pipe()
  local pid, pidfd = ns.clone({})
  if pid == 0 then
    r:close()
    gw:close()
    ns.prctl("pdeathsig", "KILL")
    -- Wait until luactr has put us in the container's cgroup.
    if gr:read(1) ~= "g" then ns._exit(126) end
    local ok, msg = ns.setns(self.pidfd, types)
    if not ok then w:write(msg); ns._exit(126) end
    local cpid, cfd = ns.clone({})
    if cpid == 0 then
      -- The same identity and privileges as the container's first process.
      local c = self.c
      local ok2, err = pcall(function()
        if c.user then become(c.user) end
        if c.capabilities ~= "all" then keep_caps(c.capabilities) end
        if c.no_new_privs then must("prctl", ns.prctl("no_new_privs", true)) end
      end)
      if not ok2 then w:write(tostring(err)); ns._exit(126) end
      local env = default_env(self.c)
      for k, v in pairs(opts.env or {}) do env[k] = v end
      ns.chdir(opts.cwd or "/")
      local _, emsg = ns.exec(args[1], args, env)
      w:write(emsg)
      ns._exit(127)
    end
    w:close()
    local st = ns.wait(cfd)
    ns._exit(st.status)
  end
  w:close()
  gr:close()
  if self.cgroup then
    local ok, err = pcall(self.cgroup.add, self.cgroup, pid)
    if not ok then
      ns.kill(pidfd, "KILL")
      ns.wait(pidfd)
      pidfd:close(); gw:close(); r:close()
      error(fmt("%s: exec %s: %s", self.c.what, args[1], tostring(err)), 2)
    end
  end
  gw:write("g")
  gw:close()
  local st = assert(ns.wait(pidfd))
  pidfd:close()
  local msg = r:read(4096)
  r:close()
  if msg and msg ~= "" then
    error(fmt("%s: exec %s: %s", self.c.what, args[1], msg), 2)
  end
  return st
end

Handle.__close = function(self)
  if self.pidfd and not self.status then
    ns.kill(self.pidfd, "KILL")
    local st = ns.wait(self.pidfd)
    self:_finish(st)
  end
end

--- run(t) -> status: start the container and wait for it to end.
function M.run(t)
  local h = M.start(t)
  local st = h:wait()
  if st.message then io.stderr:write("luactr: ", h.c.what, ": ", st.message, "\n") end
  return st
end

return M
