--- ns.assert: luassert matchers that probe a running container from
-- inside, for the specs of those who write recipes.
--
--   require "ns.assert"                      -- registers the matchers
--   local probe = require("ns.assert").probe_mount()
--   local h = require("ns.container").start{ name = "web", mounts = { probe },
--     args = { "/bin/sleep", "1000" } }
--   assert.container(h).cannot_see_host_pids()
--   assert.container(h).has_no_capability("sys_admin")
--   assert.container(h).cannot_write("/proc/sys/kernel/core_pattern")
--   assert.container(h).syscall_blocked("kexec_load")
--   h:kill("KILL"); h:wait()
--
-- assert.container(x [, {probe = PATH}]) takes a handle of
-- ns.container.start or a record of ns.lifecycle (ns.state), and each
-- matcher after it runs a probe inside the running container: busybox's
-- sh and tools, and for what busybox lacks build/probe (core/probe.c), a
-- static binary that probe_mount() binds into the container read-only.
-- A failure says what the probe ran, what it printed and how it exited:
--   expected container "web" not to be able to write
--   /proc/sys/kernel/hostname, but "/opt/luactr/probe open
--   /proc/sys/kernel/hostname w" succeeded (exit 0): opened
-- `assert.container(h).is_not.cannot_mount()` turns one around. The
-- matchers are also plain assertions taking the container first:
-- `assert.cannot_mount(h)`.
--
-- The probes change nothing that outlives them: a path is opened for
-- writing but never written, a mount is undone at once, a privileged
-- system call gets arguments the kernel rejects only after its
-- permission check, a device node is removed after its open. Some run a
-- host process (a witness: sleep, as the container's user outside) for
-- the container to look for, or make a marker file under /tmp; both go
-- before the matcher returns.
local ns = require "ns.core"
local luassert = require "luassert"
local say = require "say"

local M = {}

local fmt, concat = string.format, table.concat

--- PROBE_TARGET: where probe_mount() binds the probe's directory inside.
M.PROBE_TARGET = "/opt/luactr"

-- The probe on the host, once found.
local probe_host

-- This file's tree (lua/ns/assert.lua -> its root), for build/probe.
local function tree_root()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)/lua/ns/assert%.lua$")
  return dir
end

--- probe_path() -> the host's build/probe: $LUACTR_PROBE, or build/probe
-- of the tree this module (or luactr) was loaded from, or of the working
-- directory. Raises naming the places it looked.
function M.probe_path()
  if probe_host then return probe_host end
  local tried = {}
  local function try(p)
    if not p then return nil end
    tried[#tried + 1] = p
    local st = ns.stat(p)
    if st and st.type == "file" then probe_host = p end
    return probe_host
  end
  local env = os.getenv("LUACTR_PROBE")
  if env then
    if try(env) then return env end
    error("ns.assert: LUACTR_PROBE=" .. env .. " is not a file", 2)
  end
  local root = tree_root()
  local exe_dir = (ns.readlink("/proc/self/exe") or ""):match("^(.*)/[^/]+$")
  local pwd = os.getenv("PWD")
  local found = try(root and root .. "/build/probe") or try(exe_dir and exe_dir .. "/build/probe")
    or try(pwd and pwd .. "/build/probe")
  if not found then
    error("ns.assert: no probe (make builds build/probe; or set LUACTR_PROBE): tried " .. concat(tried, ", "), 2)
  end
  return found
end

--- probe_mount([{target = DIR}]) -> the mount entry to add to a recipe's
-- mounts: the probe's directory bound read-only at DIR (default
-- /opt/luactr), made when missing. The matchers find it there by its
-- source; a container made without it can run only the matchers that
-- need no probe (hostname_is, memory_limit_is, has_no_capability,
-- cannot_read).
function M.probe_mount(opts)
  opts = opts or {}
  local dir = M.probe_path():match("^(.*)/[^/]+$")
  return { source = dir, target = opts.target or M.PROBE_TARGET, flags = { "bind", "rdonly" }, mkdir = true }
end

-- Shell quoting, for the scripts the probes run and their display.
local function q(s)
  if s:match("^[%w/._:,=+-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Output cut to one readable line for a message.
local function summary(out)
  local s = out:gsub("%s+$", ""):gsub("\n", "; ")
  if s == "" then return "(nothing)" end
  if #s > 400 then s = s:sub(1, 400) .. fmt("... (%d bytes)", #out) end
  return s
end

local function random_hex(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local s = f:read(n)
  f:close()
  return (s:gsub(".", function(c) return fmt("%02x", c:byte()) end))
end

-- Targets --------------------------------------------------------------------

-- Known by its name, not by identity: a module loaded afresh (a spec's
-- no-new-globals check) registers matchers that must take the targets of
-- the copy loaded before.
local Target = { __name = "ns.assert target" }
Target.__index = Target

-- The probe's path inside: the target of a bind mount whose source is
-- the probe's directory (or the probe itself).
local function probe_inside(mounts)
  local ok, host = pcall(M.probe_path)
  if not ok then return nil end
  local want = ns.stat(host)
  local function same(p)
    local st = p and ns.stat(p)
    return st and st.dev == want.dev and st.ino == want.ino
  end
  for _, m in ipairs(mounts or {}) do
    if type(m) == "table" and type(m.source) == "string" and type(m.target) == "string" then
      local target = m.target:gsub("/+$", "")
      if same(m.source .. "/probe") then return target .. "/probe" end
      if same(m.source) then return target end
    end
  end
end

local function is_handle(x)
  return type(x) == "table" and type(x.c) == "table" and x.pidfd ~= nil and type(x.exec) == "function"
end

local function is_record(x)
  return type(x) == "table" and type(x.id) == "string" and type(x.can_exec) == "function"
end

--- target(x [, opts]) -> the matchers' view of x, a handle of
-- ns.container.start or an ns.lifecycle record (t.name, t.pid, and a
-- record's t.id). opts:
-- probe, the probe's path inside when probe_mount() did not put it
-- there; exec, a function(argv) -> a wait status that runs argv inside
-- instead of h:exec or ns.lifecycle.exec (say, `luactr exec` as the
-- user who runs the container), with stdout and stderr inherited.
function M.target(x, opts)
  local mt = getmetatable(x)
  if type(mt) == "table" and mt.__name == Target.__name then return x end
  opts = opts or {}
  if type(opts) ~= "table" then error("ns.assert: container(x, opts): opts must be a table", 3) end
  local t = setmetatable({}, Target)
  if is_handle(x) then
    local c = x.c
    t.name, t.pid, t.init, t.masked = c.name, x.pid, c.init == true, c.masked_paths
    t.probe = opts.probe or probe_inside(c.mounts)
    t.run = function(argv) return x:exec(argv) end
  elseif is_record(x) then
    local life = require "ns.lifecycle"
    local rt = life.table_of(x)
    t.name, t.id, t.pid, t.init = x.name, x.id, x.pid, rt.init == true
    t.masked = rt.masked_paths
    t.probe = opts.probe or probe_inside(rt.mounts)
    t.run = function(argv) return life.exec(x, argv) end
  else
    error("ns.assert: container(x): x must be a handle of ns.container.start or an ns.lifecycle record, not "
      .. (type(x) == "table" and "this table" or type(x)), 3)
  end
  if opts.exec ~= nil then
    if type(opts.exec) ~= "function" then error("ns.assert: container(x, opts): opts.exec must be a function", 3) end
    t.run = opts.exec
  end
  t.masked = t.masked or require("ns.security").masked_paths
  t.what = fmt("container %q", t.name or "?")
  return t
end

-- Run fn with stdout and stderr on an unlinked temp file (stdin
-- /dev/null): what an exec'd command inherits. Returns the file's text
-- and fn's result.
local function captured(fn)
  io.stdout:flush()
  io.stderr:flush()
  local file = assert(io.tmpfile())
  local null <close> = assert(ns.open("/dev/null", { "rdonly" }))
  local saved = { [0] = assert(ns.dup(0, 10)), assert(ns.dup(1, 10)), assert(ns.dup(2, 10)) }
  ns.dup2(null, 0)
  ns.dup2(ns.fileno(file), 1)
  ns.dup2(ns.fileno(file), 2)
  local ok, res = pcall(fn)
  for fd = 0, 2 do
    ns.dup2(saved[fd], fd)
    saved[fd]:close()
  end
  file:seek("set")
  local out = file:read("a")
  file:close()
  if not ok then error(res, 0) end
  return out, res
end

--- t:exec(argv, display) -> {cmd = display, out = output (stdout and
-- stderr), code = exit status}. Raises when the command could not run.
function Target:exec(argv, display)
  local out, st = captured(function() return self.run(argv) end)
  return { cmd = display or concat(argv, " "), out = out, code = st.status or st.code or -1 }
end

--- t:sh(script [, display]) -> as exec, for a busybox sh script;
-- display is what messages show of it (default: the script).
function Target:sh(script, display)
  return self:exec({ "/bin/sh", "-c", script }, display or script)
end

-- The probe's path inside, or a raise that says how to put it there.
function Target:probe_bin(matcher)
  if not self.probe then
    error(fmt("ns.assert: %s: %s needs the probe inside: add require(\"ns.assert\").probe_mount() to its mounts "
      .. "(or give {probe = PATH} to assert.container)", self.what, matcher), 0)
  end
  return self.probe
end

-- A probe run: "<probe> ARGS", args shell-quoted.
function Target:probe_run(matcher, ...)
  local argv = { self:probe_bin(matcher), ... }
  local words = {}
  for i, a in ipairs(argv) do words[i] = q(a) end
  local r = self:exec(argv, concat(words, " "))
  if r.code == 2 or r.code >= 126 then
    error(fmt("ns.assert: %s: %s: %q could not run (exit %d): %s", self.what, matcher, r.cmd, r.code, summary(r.out)), 0)
  end
  return r
end

-- The container's first process's ids outside: whom a witness runs as.
function Target:outside_ids()
  local status = self.pid and ns.readfile(("/proc/%d/status"):format(self.pid)) or ""
  return tonumber(status:match("\nUid:%s+%d+%s+(%d+)")), tonumber(status:match("\nGid:%s+%d+%s+(%d+)"))
end

-- A host process for the container to look for: sleep with a token for
-- its argv[0], as the container's user outside (when we may). Returns
-- the token, its pid and a function that ends it.
function Target:witness()
  local token = "luactr-witness-" .. random_hex(6)
  local uid, gid = self:outside_ids()
  local me = ns.getuid()
  local pid, pidfd = assert(ns.clone({}))
  if pid == 0 then
    if me == 0 and uid and uid ~= 0 then
      ns.setgroups({})
      ns.setresgid(gid or uid)
      ns.setresuid(uid)
    end
    ns.exec("/bin/sleep", { token, "60" })
    ns._exit(127)
  end
  local function stop()
    if pidfd then
      ns.kill(pidfd, "KILL")
      ns.wait(pidfd)
      pidfd:close()
      pidfd = nil
    end
  end
  -- Until it has exec'd its cmdline is ours.
  local deadline = ns.clock() + 5
  while not (ns.readfile(("/proc/%d/cmdline"):format(pid)) or ""):find(token, 1, true) do
    if ns.clock() > deadline or ns.wait(pidfd, "nohang") then
      stop()
      error("ns.assert: the witness process did not start (/bin/sleep)", 0)
    end
    ns.sleep(0.002)
  end
  return token, pid, stop
end

-- Run fn(token, pid) with a witness, which ends whatever fn does.
function Target:with_witness(fn)
  local token, pid, stop = self:witness()
  local r = table.pack(pcall(fn, token, pid))
  stop()
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

-- The matchers -----------------------------------------------------------------
--
-- Each takes the target and the matcher's arguments, and returns holds
-- (the container is as the matcher's name says), the claim ("not to be
-- able to mount"), the claim turned around ("to be able to mount") and
-- what the probe saw, which ends either message ("but ...").

local checks = {}

-- "<cmd>" succeeded (exit 0): <output>
local function ran(r)
  return fmt("%q %s (exit %d): %s", r.cmd, r.code == 0 and "succeeded" or "failed", r.code, summary(r.out))
end

--- cannot_see_host_pids(): a host process (the witness) is not in the
-- container's /proc. Probe: probe find-pid TOKEN (its argv[0]).
function checks.cannot_see_host_pids(t)
  return t:with_witness(function(token, pid)
    local r = t:probe_run("cannot_see_host_pids", "find-pid", token)
    local seen = r.out:match("^(%d+)")
    local detail = seen and fmt("%q found the host's process %d (%s) as pid %s", r.cmd, pid, token, seen)
      or fmt("%q did not find the host's process %d (%s): %s", r.cmd, pid, token, summary(r.out))
    return not seen, "not to see the host's processes", "to see the host's processes", detail
  end)
end

-- A capability's bit number, from a name as ns.cap_names() gives it,
-- with or without cap_, in any case.
local function cap_bit(name)
  if type(name) ~= "string" then error("ns.assert: has_no_capability: a capability name, not " .. type(name), 0) end
  local want = name:lower():gsub("^cap_", "")
  for i, n in ipairs(ns.cap_names()) do
    if n == want then return i - 1, want end
  end
  error(fmt("ns.assert: has_no_capability: unknown capability %q (see ns.cap_names())", name), 0)
end

--- has_no_capability(name): the bit is clear in every set (effective,
-- permitted, inheritable, bounding, ambient) of a process exec'd inside
-- and of the container's PID 1. Probe: grep ^Cap /proc/self/status
-- /proc/1/status.
function checks.has_no_capability(t, name)
  local bit, cap = cap_bit(name)
  local r = t:sh("grep ^Cap /proc/self/status /proc/1/status")
  local found = {}
  local lines = 0
  for file, set, hex in r.out:gmatch("(/proc/%w+)/status:Cap(%a+):%s*(%x+)") do
    lines = lines + 1
    local v = tonumber(hex, 16)
    if v and (v >> bit) & 1 == 1 then found[#found + 1] = fmt("%s's Cap%s %s", file, set, hex) end
  end
  if lines == 0 then
    error(fmt("ns.assert: %s: has_no_capability: %s", t.what, ran(r)), 0)
  end
  local label = "CAP_" .. cap:upper()
  local detail = #found > 0 and fmt("%q showed bit %d in %s", r.cmd, bit, concat(found, ", "))
    or fmt("%q showed bit %d in none of its sets: %s", r.cmd, bit, summary(r.out))
  return #found == 0, "not to have " .. label, "to have " .. label, detail
end

-- errno names that mean the path is not there to open.
local function absent(out) return out:find("(ENOENT)", 1, true) ~= nil end

--- cannot_write(path): path cannot be opened for writing (it is never
-- written: opening is where the kernel refuses a read-only mount, a
-- permission or a missing capability). Probe: probe open PATH w.
function checks.cannot_write(t, path)
  if type(path) ~= "string" then error("ns.assert: cannot_write: a path, not " .. type(path), 0) end
  local r = t:probe_run("cannot_write", "open", path, "w")
  local holds = r.code ~= 0
  local detail = ran(r)
  if holds and absent(r.out) then detail = detail .. " (there is no such path inside)" end
  return holds, "not to be able to write " .. path, "to be able to write " .. path, detail
end

--- cannot_read(path): nothing of path can be read: it cannot be opened,
-- or reads as empty (a masked file is /dev/null), or, a directory, lists
-- nothing (a masked one is an empty tmpfs). Probe: head -c 16 PATH | wc
-- -c, or ls -A for a directory.
function checks.cannot_read(t, path)
  if type(path) ~= "string" then error("ns.assert: cannot_read: a path, not " .. type(path), 0) end
  local p = q(path)
  local r = t:sh(fmt("if [ -d %s ]; then echo dir; ls -A %s; else head -c 16 %s | wc -c; fi", p, p, p))
  local holds, detail
  local listing = r.out:match("^dir\n(.*)$")
  r.cmd = listing and "ls -A " .. p or "head -c 16 " .. p .. " | wc -c"
  if listing then
    local n = 0
    for _ in listing:gmatch("[^\n]+") do n = n + 1 end
    holds = n == 0
    detail = fmt("%q listed %d entries%s", r.cmd, n, n > 0 and ": " .. summary(listing) or "")
  else
    local n = tonumber(r.out:match("(%d+)%s*$"))
    if not n then error(fmt("ns.assert: %s: cannot_read: %s", t.what, ran(r)), 0) end
    holds = n == 0
    local why = r.out:gsub("%s*%d+%s*$", "")
    detail = fmt("%q read %d bytes%s", r.cmd, n, why ~= "" and " (" .. summary(why) .. ")" or "")
  end
  return holds, "not to be able to read " .. path, "to be able to read " .. path, detail
end

--- SYSCALLS: the calls syscall_blocked knows (probe try NAME), each
-- made with arguments that the kernel rejects only after its permission
-- check (kexec_load with too many segments, reboot with a wrong magic
-- number, ...), or that act on the probe alone (unshare in a child,
-- add_key to its process keyring, a socket filter it loads and closes).
M.SYSCALLS = {
  "acct", "add_key", "bpf", "delete_module", "finit_module", "init_module", "iopl", "kexec_file_load",
  "kexec_load", "keyctl", "mount", "open_by_handle_at", "perf_event_open", "reboot", "request_key",
  "swapon", "syslog", "unshare", "userfaultfd",
}

--- syscall_blocked(name): the call is refused (EPERM, EACCES or ENOSYS:
-- a missing capability, a sysctl, a seccomp filter or a kernel without
-- it). Probe: probe try NAME.
function checks.syscall_blocked(t, name)
  local known = false
  for _, n in ipairs(M.SYSCALLS) do known = known or n == name end
  if not known then
    error(fmt("ns.assert: syscall_blocked: unknown call %s (known: %s)", tostring(name), concat(M.SYSCALLS, ", ")), 0)
  end
  local r = t:probe_run("syscall_blocked", "try", name)
  return r.code ~= 0, "to block " .. name, "to allow " .. name, fmt("%q says: %s", r.cmd, summary(r.out))
end

--- cannot_mount([dir]): no mount works: a tmpfs and a bind of / on dir
-- (default /tmp), and a detached tmpfs by fsopen/fsmount; each that
-- works is undone at once. Probe: probe mount-try DIR.
function checks.cannot_mount(t, dir)
  dir = dir or "/tmp"
  local r = t:probe_run("cannot_mount", "mount-try", dir)
  return r.code ~= 0, "not to be able to mount", "to be able to mount", ran(r)
end

--- cannot_reach_host_fs(): a marker file on the host (a new directory
-- under /tmp) is not found inside: not at its path, not through any
-- /proc/PID/root, not by the chroot escape (chroot below, climb with
-- .., chroot there). Probe: probe reach PATH.
function checks.cannot_reach_host_fs(t)
  local dir = assert(ns.mkdtemp("/tmp/luactr-assert-XXXXXX"))
  local marker = dir .. "/marker"
  local ok, a, b, c, d = pcall(function()
    assert(ns.chmod(dir, tonumber("755", 8)))
    local f = assert(io.open(marker, "w"))
    f:write("luactr\n")
    f:close()
    assert(ns.chmod(marker, tonumber("644", 8)))
    local r = t:probe_run("cannot_reach_host_fs", "reach", marker)
    return r.code ~= 0, "not to reach the host's files", "to reach the host's files",
      fmt("%q, looking for a file made on the host, %s", r.cmd, r.code == 0 and "found it: " .. summary(r.out)
        or "did not find it: " .. summary(r.out))
  end)
  os.remove(marker)
  ns.rmdir(dir)
  if not ok then error(a, 0) end
  return a, b, c, d
end

--- hostname_is(name) (also hostname(name)): hostname inside prints name.
function checks.hostname(t, name)
  if type(name) ~= "string" then error("ns.assert: hostname_is: a name, not " .. type(name), 0) end
  local r = t:sh("hostname")
  local got = r.out:gsub("\n$", "")
  return r.code == 0 and got == name, fmt("to have the hostname %q", name), fmt("not to have the hostname %q", name),
    fmt("%q printed %q (exit %d)", r.cmd, got, r.code)
end

-- v1's "no limit": the largest page-aligned value.
local UNLIMITED_V1 = 0x7FFFFFFFFFFFF000

--- memory_limit_is(size) (also memory_limit(size)): the limit the
-- container reads at /sys/fs/cgroup (memory.max on v2,
-- memory/memory.limit_in_bytes on v1 and hybrid hosts) is size ("64M",
-- or bytes; "max" or false: no limit).
function checks.memory_limit(t, size)
  local want
  if size == false or size == "max" then
    want = false
  else
    local ok, n = pcall(require("ns.cgroup.limits").parse_size, size)
    if not ok then error("ns.assert: memory_limit_is: " .. tostring(n):gsub("^.-parse_size: ", ""), 0) end
    want = n
  end
  local r = t:sh("for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do "
    .. "[ -r $f ] && { echo $f; cat $f; exit; }; done; echo 'no memory limit file'; exit 1",
    "cat /sys/fs/cgroup/memory.max (or memory/memory.limit_in_bytes)")
  local file, value = r.out:match("^(%S+)\n(%S+)")
  local got
  if value == "max" then
    got = false
  elseif value then
    got = tonumber(value)
    if got and got >= UNLIMITED_V1 then got = false end
  end
  local label = want and fmt("%s (%d bytes)", tostring(size), want) or "none"
  local saw = file and fmt("%q printed %s from %s", r.cmd, value, file) or ran(r)
  if got == false and value then saw = saw .. " (no limit)" end
  local holds = file ~= nil and got == want
  return holds, "to have the memory limit " .. label, "not to have the memory limit " .. label, saw
end

--- host_device() -> a host device for cannot_mknod: {"b", MAJOR, MINOR}
-- of the first block device sysfs lists with a node in /dev, else
-- /dev/kmsg ({"c", "1", "11"}, for a machine without block devices such
-- as user-mode-linux on hostfs), and its /dev path.
local function host_device()
  local names = ns.listdir("/sys/dev/block") or {}
  table.sort(names)
  for _, n in ipairs(names) do
    local maj, min = n:match("^(%d+):(%d+)$")
    local name = (ns.readfile("/sys/dev/block/" .. n .. "/uevent") or ""):match("DEVNAME=(%S+)")
    if maj and name and ns.stat("/dev/" .. name) then return { "b", maj, min }, "/dev/" .. name end
  end
  return { "c", "1", "11" }, "/dev/kmsg"
end

--- cannot_mknod([{dirs = {...}, device = {"b", major, minor}}]): a node
-- of a host device (default: the host's first disk), made in each of
-- dirs (default /dev, /tmp and /), cannot be opened: mknod refused, or
-- the open (nodev mounts, the device cgroup). Each node is removed.
-- Probe: probe mknod PATH b MAJOR MINOR.
function checks.cannot_mknod(t, opts)
  opts = opts or {}
  local dev, name = opts.device, nil
  if dev then
    dev = { tostring(dev[1]), tostring(dev[2]), tostring(dev[3]) }
  else
    dev, name = host_device()
  end
  local probe = t:probe_bin("cannot_mknod")
  local lines = {}
  for _, d in ipairs(opts.dirs or { "/dev", "/tmp", "/" }) do
    local node = (d:gsub("/+$", "")) .. "/luactr-assert-node"
    lines[#lines + 1] = fmt("%s mknod %s %s; rm -f %s", q(probe), q(node), concat(dev, " "), q(node))
  end
  local r = t:sh(concat(lines, "; "))
  local read = r.out:match("read %d+ bytes")
  local label = fmt("a node of %s (%s)", name or "the device", concat(dev, " "))
  return not read, "not to be able to make and open " .. label, "to be able to make and open " .. label,
    fmt("%q printed: %s", r.cmd, summary(r.out))
end

--- cannot_ptrace(pid): PTRACE_ATTACH to pid (as the container numbers
-- it) fails. Probe: probe ptrace PID.
function checks.cannot_ptrace(t, pid)
  if math.type(pid) ~= "integer" then error("ns.assert: cannot_ptrace: a pid, not " .. tostring(pid), 0) end
  local r = t:exec({ t:probe_bin("cannot_ptrace"), "ptrace", tostring(pid) },
    q(t.probe) .. " ptrace " .. pid)
  return r.code ~= 0, "not to be able to ptrace pid " .. pid, "to be able to ptrace pid " .. pid, ran(r)
end

--- cannot_ptrace_host(): no host process can be attached to: the
-- witness (as the container's user outside), wherever the container
-- sees it, and with init = true the reaper at PID 1 (luactr's).
-- Probe: probe find-pid TOKEN, then probe ptrace each.
function checks.cannot_ptrace_host(t)
  local probe = q(t:probe_bin("cannot_ptrace_host"))
  return t:with_witness(function(token, pid)
    local script = fmt("for p in $(%s find-pid %s); do echo \"witness as $p\"; %s ptrace $p; done", probe, token, probe)
    if t.init then script = script .. "; " .. probe .. " ptrace 1" end
    local r = t:sh(script .. "; true")
    local attached = r.out:find("attached", 1, true) ~= nil
    return not attached, "not to be able to ptrace a host process", "to be able to ptrace a host process",
      fmt("%q, with the host's process %d running, printed: %s", r.cmd, pid, summary(r.out))
  end)
end

-- The host binaries a container's runtime runs as: the exe of the
-- container's first process when it is luactr's (init = true), of its
-- parent, and of the process running the matcher (h:exec's helper is a
-- fork of it). A set of "dev:ino".
local function runtime_exes(t)
  local set, names = {}, {}
  local function add(pid)
    local path = ("/proc/%s/exe"):format(pid)
    local st = ns.stat(path)
    if st and not set[st.dev .. ":" .. st.ino] then
      set[st.dev .. ":" .. st.ino] = true
      names[#names + 1] = ns.readlink(path) or path
    end
  end
  add("self")
  if t.pid then
    local stat = ns.readfile(("/proc/%d/stat"):format(t.pid))
    local ppid = stat and stat:match("^%d+ %b() %a (%d+)")
    if ppid then add(ppid) end
    if t.init then add(t.pid) end
  end
  return set, names
end

--- cannot_open_runtime_exe(): no /proc/PID/exe inside opens the
-- runtime's binary (luactr, or the lua5.4 running it): the processes of
-- luactr's that are in the container (the init = true reaper, h:exec's
-- helper until it execs) are not dumpable. Opening it for reading is
-- what a write through it (CVE-2019-5736) needs first. Probe: probe exes.
function checks.cannot_open_runtime_exe(t)
  local set, names = runtime_exes(t)
  local r = t:probe_run("cannot_open_runtime_exe", "exes")
  local hits = {}
  for path, dev, ino in r.out:gmatch("open (%S+): opened dev (%d+) ino (%d+)") do
    if set[dev .. ":" .. ino] then hits[#hits + 1] = path end
  end
  local label = "the runtime's binary (" .. concat(names, ", ") .. ")"
  return #hits == 0, "not to be able to open " .. label, "to be able to open " .. label,
    #hits > 0 and fmt("%q opened it as %s", r.cmd, concat(hits, ", "))
      or fmt("%q opened it nowhere: %s", r.cmd, summary(r.out))
end

--- cannot_open_raw_socket(): neither an AF_INET SOCK_RAW nor an
-- AF_PACKET socket opens (CAP_NET_RAW dropped). Probe: probe raw-socket.
function checks.cannot_open_raw_socket(t)
  local r = t:probe_run("cannot_open_raw_socket", "raw-socket")
  return r.code ~= 0, "not to be able to open a raw socket", "to be able to open a raw socket", ran(r)
end

--- cannot_regain_privileges(): a new user namespace (with mount and pid
-- namespaces of its own, where the probe has every capability), if the
-- container may make one, gains nothing over what it did not make: not
-- the hostname, not an unmount of a masked path, not a new /proc without
-- the masks, not /proc/sys/kernel/core_pattern. Probe: probe
-- userns-escape MASKED_PATH...
function checks.cannot_regain_privileges(t)
  local args = { "userns-escape" }
  for i = 1, math.min(#t.masked, 8) do args[#args + 1] = t.masked[i] end
  local r = t:probe_run("cannot_regain_privileges", table.unpack(args))
  return r.code ~= 0, "not to regain privileges in a user namespace of its own",
    "to regain privileges in a user namespace of its own", ran(r)
end

-- The session keyring's serial and keys as probe keyring prints them.
local function keyring_of(out)
  local serial = out:match("session keyring (%d+)")
  local keys = {}
  for k in out:gmatch("\nkey (%-?%d+)") do keys[#keys + 1] = k end
  return serial, keys
end

--- has_own_session_keyring(): a process exec'd inside has a session
-- keyring that is not the host's (the one this process, whose fork runs
-- the exec, has) and holds no key. Probe: probe keyring, inside and here.
function checks.has_own_session_keyring(t)
  local r = t:probe_run("has_own_session_keyring", "keyring")
  local serial, keys = keyring_of(r.out)
  if not serial then error(fmt("ns.assert: %s: has_own_session_keyring: %s", t.what, ran(r)), 0) end
  local p = io.popen(q(M.probe_path()) .. " keyring 2>&1", "r")
  local host_serial = keyring_of(p:read("a"))
  p:close()
  local shared = serial == host_serial
  local detail
  if shared then
    detail = fmt("%q showed the host's session keyring %s: %s", r.cmd, serial, summary(r.out))
  elseif #keys > 0 then
    detail = fmt("%q showed %d keys in it: %s", r.cmd, #keys, summary(r.out))
  else
    detail = fmt("%q showed an empty keyring of its own (%s; the host's is %s)", r.cmd, serial, tostring(host_serial))
  end
  return not shared and #keys == 0, "to have an empty session keyring of its own",
    "not to have an empty session keyring of its own", detail
end

-- Registration ----------------------------------------------------------------

M.checks = checks

-- luassert's message keys: the callback writes the whole message as the
-- one argument.
say:set("assertion.ns_container.positive", "%s")
say:set("assertion.ns_container.negative", "%s")

local function register(name, fn)
  luassert:register("assertion", name, function(state, arguments)
    local t = rawget(state, "ns_container")
    local first = 1
    if not t then
      t = M.target(arguments[1])
      first = 2
    end
    local holds, claim, negated, detail = fn(t, table.unpack(arguments, first, arguments.n))
    local msg = fmt("expected %s %s, but %s", t.what, state.mod and claim or negated, detail)
    for i = 1, arguments.n do arguments[i] = nil end
    arguments[1], arguments.n, arguments.nofmt = msg, 1, { true }
    return holds
  end, "assertion.ns_container.positive", "assertion.ns_container.negative")
end

for name, fn in pairs(checks) do register(name, fn) end

-- assert.container(x [, opts]): the matchers after it probe x.
luassert:register("modifier", "container", function(state, arguments)
  if arguments and arguments.n and arguments.n > 0 then
    rawset(state, "ns_container", M.target(arguments[1], arguments[2]))
  end
  return state
end)

M.host_device = host_device

return M
