--- ns.ops: the one interpreter of a container's op list (ns.plan): the
-- only place where ops become ns.* calls. run(x, ops, i) runs op i in the
-- context x (what earlier ops found or made: the layers, the root, the
-- group, the child's pid...); undo(x, ops, upto) undoes the parent's ops
-- in reverse. A failure raises an ns.errors error naming the container,
-- the step and the op, with the errno of the call that failed. The
-- "clone" and "exec" ops mark the two ends of the child's life; ns.launch
-- carries them out. The ops a default container does not run are in
-- lua/ns/ops/ (rootfs, capture, cgroup, ids, tty, reaper, tunables), loaded on
-- first use: load(ops) loads a list's before the clone.
local ns = require "ns.core"
local errors = require "ns.errors"
local paths = require "ns.paths"

local M = {}

local fmt, concat = string.format, table.concat
local must = errors.must
local fdpath, in_msg, where, inroot, mount_in, mount_ours =
  paths.fdpath, paths.in_msg, paths.where, paths.inroot, paths.mount_in, paths.mount_ours

local RUN, UNDO = {}, {}
M.RUN, M.UNDO = RUN, UNDO

-- The ops that a default container does not run live in the module of
-- their concern (lua/ns/ops/NAME.lua, returning its {RUN =, UNDO =}),
-- loaded the first time RUN or UNDO is asked for one of them, so that a
-- start loads only the code it runs.
local MODULE = {
  overlay_dirs = "rootfs", root_dir = "rootfs", bind_root = "rootfs", root = "rootfs",
  readonly_root = "rootfs", chroot = "rootfs",
  capture = "capture",
  cgroup_create = "cgroup", cgroup_join = "cgroup", cgroupfs = "cgroup",
  setgroups_deny = "ids", gid_map = "ids", uid_map = "ids", become = "ids", setids = "ids", home = "ids",
  tty = "tty",
  init = "reaper",
  landlock = "landlock",
  sysctl = "tunables", oom_score_adj = "tunables", umask = "tunables", personality = "tunables", ioprio = "tunables",
  oci_hooks = "oci_hooks",
}

local function load_op(t, name)
  local mod = MODULE[name]
  if not mod then return nil end
  local m = require("ns.ops." .. mod)
  for k, f in pairs(m.RUN) do rawset(RUN, k, f) end
  for k, f in pairs(m.UNDO or {}) do rawset(UNDO, k, f) end
  return rawget(t, name)
end
setmetatable(RUN, { __index = load_op })
setmetatable(UNDO, { __index = load_op })

-- luactr, before clone ----------------------------------------------------

function RUN.image(x, o)
  if o.busybox then
    -- Made once (ns.rootfs builds it on first use); a start only looks.
    local p = require("ns.util").busybox_image()
    local st = ns.stat(p)
    x.layers = { st and st.type == "dir" and p or require("ns.rootfs").busybox() }
  else
    x.layers = o.layers
  end
  if o.hold then
    -- Kept upper layers among them: held against luactr gc --uppers
    -- until the container ends.
    x.holds = require("ns.rootfs").hold(o.state, o.hold)
  end
  for _, l in ipairs(x.layers) do
    local st, msg, e = ns.stat(l)
    if not st then errors.raise({ call = "stat", errno = e, message = "rootfs " .. msg:gsub("^stat ", "") }) end
    if st.type ~= "dir" then errors.raise({ call = "stat", errno = ns.E.ENOTDIR, message = fmt("rootfs %s: not a directory", l) }) end
  end
  x.lower = concat(x.layers, ":")
end

local function let_go(fds)
  for _, fd in ipairs(fds or {}) do fd:close() end
end
M.let_go = let_go

function UNDO.image(x) let_go(x.holds) end

function RUN.state_dir(x, o)
  x.state = o.path
  if not ns.stat(x.state) then must("mkdir", ns.mkdir(x.state, "0755", true)) end
end

-- the child ----------------------------------------------------------------

function RUN.wait_go(x) x.wait_go() end

function RUN.keyring()
  -- The host's session keyring is inherited across clone: a keyring of
  -- the container's own hides the host's keys from it.
  must("keyctl", ns.keyctl_join_session())
end

function RUN.unshare(_, o) must("unshare", ns.unshare(o.types)) end

-- Each idmapped bind's tree, detached (open_tree), its ids mapped through
-- a user namespace with its maps: fds the child inherits and moves in.
function RUN.idmap_mounts(x, o)
  x.idmapped = {}
  local userns = require "ns.util.userns"
  for i, m in ipairs(o.mounts) do
    local t, msg, e = ns.open_tree(m.source, m.recursive and "recursive" or nil)
    must("open_tree", t, msg, e)
    x.idmapped[i] = t
    local uns = userns.fd(m.uid_map, m.gid_map)
    local ok
    ok, msg, e = ns.mount_setattr(t, {}, nil, m.recursive and "recursive" or nil, { userns = uns })
    uns:close()
    if not ok then
      errors.raise({ call = "mount_setattr", errno = e, message = fmt("idmap %s: %s", m.source, tostring(msg)) ..
        (e == ns.E.EINVAL and " (its filesystem cannot be idmapped)" or "") })
    end
  end
end

function UNDO.idmap_mounts(x)
  for _, t in ipairs(x.idmapped or {}) do t:close() end
  x.idmapped = nil
end

function RUN.timens(_, o)
  must("unshare time", ns.unshare({ "time" }))
  must("timens_offsets", ns.writefile("/proc/self/timens_offsets",
    fmt("monotonic %d %d\nboottime %d %d\n", o.monotonic[1], o.monotonic[2], o.boottime[1], o.boottime[2])))
end

function RUN.mount(x, o)
  if o.host then
    -- A path of the child's own view (before any root is set up).
    must("mount", ns.mount(o.source, o.target, o.fstype, o.flags, o.data))
  elseif o.ours then
    mount_ours(x, o.ours, o.source, o.fstype, o.flags, o.data)
  else
    -- copy_up: the image's files at the target, read through a handle
    -- taken before the mount covers them, are copied into it.
    local below <close> = o.copy_up and paths.inroot(x, o.target, o.mkdir, true)
    local old <close> = below and must("open " .. o.target, ns.open(paths.fdpath(below), { "rdonly", "directory" }))
    local at, h
    if o.idmap then
      -- The detached, idmapped tree that idmap_mounts made, moved in.
      at, h = paths.move_in(x, o.target, x.idmapped[o.idmap], o.source, o.mkdir)
    else
      at, h = mount_in(x, o.target, o.source, o.fstype, o.flags, o.data, false, o.mkdir)
    end
    local _ <close> = h
    if old then paths.copy_tree(paths.fdpath(old), at, o.target) end
    if o.attrs then
      local at2, t <close> = where(x, o.target)
      local ok, msg, e = ns.mount_setattr(at2, o.attrs, nil, o.recursive and "recursive" or nil)
      must("mount_setattr", ok, msg and in_msg(msg, o.target), e)
    end
    if o.recursive_attrs then
      local r = o.recursive_attrs
      local at2, t <close> = where(x, o.target)
      local ok, msg, e = ns.mount_setattr(at2, r.set or {}, r.clear, "recursive", r.atime and { atime = r.atime } or nil)
      must("mount_setattr", ok, msg and in_msg(msg, o.target), e)
    end
  end
end

-- Mount the overlay of x.layers (top first) with upper and work at
-- target (userxattr: overlayfs' xattrs in user.overlay.*): with the new mount API, each layer its own lowerdir+ (kernel
-- 6.8+), so that an image's many layers are not capped by mount(2)'s page
-- of options; with mount(2) where that fails with EINVAL: a kernel before
-- 6.8 has no lowerdir+ (before 6.5 overlayfs takes fsconfig's strings
-- as they come and refuses them only at create).
local function mount_overlay(x, target, upper, work, userxattr)
  local ctx, msg, e = ns.fsopen("overlay")
  if ctx then
    local call, ok = "fsconfig", true
    for i = 1, #x.layers do
      ok, msg, e = ns.fsconfig(ctx, "string", "lowerdir+", x.layers[i])
      if not ok then break end
    end
    if ok and userxattr then ok, msg, e = ns.fsconfig(ctx, "flag", "userxattr") end
    if ok then ok, msg, e = ns.fsconfig(ctx, "string", "upperdir", upper) end
    if ok then ok, msg, e = ns.fsconfig(ctx, "string", "workdir", work) end
    if ok then ok, msg, e = ns.fsconfig(ctx, "create") end
    if ok then
      call = "fsmount"
      local mnt <close>, m2, e2 = ns.fsmount(ctx, { "nodev" })
      ctx:close()
      must(call, mnt, m2, e2)
      must("move_mount", ns.move_mount(mnt, target))
      return
    end
    ctx:close()
    if e ~= ns.E.EINVAL then must(call, nil, msg, e) end
  elseif e ~= ns.E.ENOSYS then
    must("fsopen", nil, msg, e)
  end
  must("mount", ns.mount("overlay", target, "overlay", { "nodev" },
    fmt("lowerdir=%s,upperdir=%s,workdir=%s%s", x.lower, upper, work, userxattr and ",userxattr" or "")))
end

function RUN.overlay(x, o)
  if o.tmpfs then
    local t = x.state
    must("mount", ns.mount("tmpfs", t, "tmpfs", { "nodev" }, "mode=0755"))
    must("mkdir", ns.mkdir(t .. "/upper", "0755"))
    must("mkdir", ns.mkdir(t .. "/work", "0700"))
    must("mkdir", ns.mkdir(t .. "/merged", "0755"))
    x.root = t .. "/merged"
    mount_overlay(x, x.root, t .. "/upper", t .. "/work", o.userxattr)
  else
    mount_overlay(x, x.root, x.ov.upper, x.ov.work, o.userxattr)
  end
  paths.set_root(x, x.root)
end

local RO = { "rdonly", "nosuid", "nodev", "noexec" }
M.RO = RO

function RUN.sysfs(x)
  local ok, err = pcall(mount_ours, x, "sys", "sysfs", "sysfs", RO)
  if not ok and errors.is(err) and err.errno == ns.E.EPERM then
    -- Without our own net namespace the kernel refuses a new sysfs: bind the host's.
    local at = mount_ours(x, "sys", "/sys", nil, { "rbind" })
    must("mount_setattr", ns.mount_setattr(at, RO, nil, "recursive"))
    -- That brings the host's cgroup hierarchies along, every group in
    -- them: hide them, as a new sysfs would (the cgroupfs op, if any,
    -- then shows the container's own group over this).
    must("mount", ns.mount("tmpfs", at .. "/fs/cgroup", "tmpfs", RO, "size=0,mode=0555"))
  elseif not ok then
    error(err, 0)
  end
end

function RUN.dev(x, o)
  -- Everything below is made inside the new tmpfs itself, never by
  -- walking the image's path to it again.
  local dev = mount_ours(x, "dev", "tmpfs", "tmpfs", { "nosuid", "nodev", "noexec", "strictatime" }, "mode=755,size=65536k")
  local function bind_node(src, name)
    local p = dev .. "/" .. name
    must("create /dev/" .. name, ns.writefile(p, "", { create = true, mode = "0666" }))
    local ok, msg, e = ns.mount(src, p, nil, { "bind" })
    must("mount", ok, msg and in_msg(msg, "/dev/" .. name), e)
  end
  for _, d in ipairs(o.nodes) do bind_node("/dev/" .. d[1], d[1]) end
  -- Nodes made here (mknod) go on a staging tmpfs without nodev, each
  -- bound into the nodev /dev, and the staging tmpfs is then detached:
  -- the container sees the nodes only, and the cgroup's device rules
  -- still decide what opens.
  local stage
  for _, d in ipairs(o.devices) do
    local rel = d.path:sub(6) -- below /dev/
    local parent = rel:match("^(.*)/[^/]+$")
    if parent then must("mkdir", ns.mkdir(dev .. "/" .. parent, "0755", true)) end
    if d.node and d.node.type == "fifo" then
      -- A fifo is no device: made in /dev itself.
      local n, p = d.node, dev .. "/" .. rel
      local ok, msg, e = ns.mknod(p, "fifo", n.mode)
      must("mknod", ok, msg and in_msg(msg, d.path), e)
      must("chmod", ns.chmod(p, n.mode))
      if n.uid ~= 0 or n.gid ~= 0 then must("chown", ns.chown(p, n.uid, n.gid)) end
    elseif d.node then
      if not stage then
        stage = dev .. "/.luactr-nodes"
        must("mkdir", ns.mkdir(stage, "0700"))
        must("mount", ns.mount("nodes", stage, "tmpfs", { "nosuid", "noexec" }, "mode=700,size=4k"))
      end
      local n, tmp = d.node, stage .. "/node"
      local ok, msg, e = ns.mknod(tmp, n.type, n.mode, n.major, n.minor)
      must("mknod", ok, msg and in_msg(msg, d.path), e)
      must("chmod", ns.chmod(tmp, n.mode))
      if n.uid ~= 0 or n.gid ~= 0 then must("chown", ns.chown(tmp, n.uid, n.gid)) end
      bind_node(tmp, rel)
      -- A name of its own on the staging tmpfs, unreachable once it is
      -- detached; the node keeps its link.
      must("rename", ns.rename(tmp, stage .. "/" .. rel:gsub("/", "_")))
    else
      bind_node(d.source, rel)
    end
  end
  if stage then
    must("umount", ns.umount(stage, "detach"))
    must("rmdir", ns.rmdir(stage))
  end
  for _, d in ipairs({ "pts", "shm", "mqueue" }) do must("mkdir", ns.mkdir(dev .. "/" .. d, "0755")) end
  must("mount", ns.mount("devpts", dev .. "/pts", "devpts", { "nosuid", "noexec" }, "newinstance,ptmxmode=0666,mode=0620"))
  must("symlink", ns.symlink("pts/ptmx", dev .. "/ptmx"))
  must("mount", ns.mount("shm", dev .. "/shm", "tmpfs", { "nosuid", "nodev", "noexec" }, "mode=1777,size=65536k"))
  if o.mqueue then must("mount", ns.mount("mqueue", dev .. "/mqueue", "mqueue", { "nosuid", "nodev", "noexec" })) end
  for _, l in ipairs({ { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
    { "stderr", "/proc/self/fd/2" } }) do
    must("symlink", ns.symlink(l[2], dev .. "/" .. l[1]))
  end
end

-- Each: a bind mount over itself, then read-only (where() resolves the
-- path again, so the attribute goes on the new mount).
local function readonly(x, p, set, clear)
  local at, t <close> = where(x, p, false, true)
  if not at then return end
  local ok, msg, e = ns.mount(at, at, nil, { "rbind" })
  if e == ns.E.ENOENT then return end -- not on this kernel
  must("mount", ok, msg and in_msg(msg, p), e)
  local at2, t2 <close> = where(x, p)
  ok, msg, e = ns.mount_setattr(at2, set, clear, "recursive")
  must("mount_setattr", ok, msg and in_msg(msg, p), e)
end

function RUN.readonly_paths(x, o)
  for _, p in ipairs(o.paths) do readonly(x, p, { "rdonly", "nosuid", "nodev" }) end
  if o.net_writable then readonly(x, "/proc/sys/net", nil, { "rdonly" }) end
end

function RUN.masked_paths(x, o)
  local empty -- one read-only empty tmpfs, bound over every masked directory
  for _, p in ipairs(o.paths) do
    local at, t <close> = where(x, p, false, true)
    local st = at and ns.stat(at)
    if st then
      local ok, msg, e
      if st.type ~= "dir" then
        ok, msg, e = ns.mount("/dev/null", at, nil, { "bind" })
      elseif empty then
        ok, msg, e = ns.mount(empty, at, nil, { "bind" })
      else
        ok, msg, e = ns.mount("tmpfs", at, "tmpfs", { "rdonly", "nosuid", "nodev", "noexec" }, "size=0,mode=0555")
        if ok then
          -- A fd path names the directory under the new mount: bind from
          -- a plain path, or from a reopened handle.
          if t then
            local e2 = inroot(x, p)
            x.keep[#x.keep + 1] = e2
            empty = fdpath(e2)
          else
            empty = at
          end
        end
      end
      must("mount", ok, msg and in_msg(msg, p), e)
    end
  end
end

function RUN.pivot_root(x)
  must("chdir", ns.chdir(x.root))
  must("pivot_root", ns.pivot_root(".", "."))
  -- The old root now sits on top of the new one: detach it.
  must("umount old root", ns.umount(".", "detach"))
  must("chdir", ns.chdir("/"))
end

function RUN.sethostname(_, o) must("sethostname", ns.sethostname(o.hostname)) end
function RUN.setdomainname(_, o) must("setdomainname", ns.setdomainname(o.domainname)) end
function RUN.setrlimit(_, o) must("setrlimit", ns.setrlimit(o.resource, o.soft, o.hard)) end

function RUN.stdio(x, o)
  if o.capture then
    must("dup2", ns.dup2(x.capture.stdout_w, 1))
    must("dup2", ns.dup2(x.capture.stderr_w, 2))
  end
  -- Each source is copied above 2 first: one that is itself 0, 1 or 2
  -- (stderr = io.stdout with stdout elsewhere) is read before it is replaced.
  local src = {}
  for i, k in ipairs({ "stdin", "stdout", "stderr" }) do
    if o[k] then src[i] = must("dup", ns.dup(o[k], 3)) end
  end
  for i = 1, 3 do
    if src[i] then
      must("dup2", ns.dup2(src[i], i - 1))
      src[i]:close()
    end
  end
end

function RUN.fds(_, o)
  -- Whatever luactr's caller left open without close-on-exec would reach
  -- the container (a pipe, a directory fd on the host's /): mark every fd
  -- from 3 up close-on-exec, from here on, so that what the hooks start
  -- gets none of them either. Preserved fds are then dup2'd to 3, 4, ...
  -- in their order (dup2 clears close-on-exec); each goes first to a
  -- number above those, so that none is overwritten before it is copied.
  must("close_range", ns.close_range(3, nil, "cloexec"))
  local n = #o.fds
  local tmp = {}
  for i, fd in ipairs(o.fds) do tmp[i] = must("dup", ns.dup(fd, 3 + n)) end
  for i, fd in ipairs(tmp) do
    must("dup2", ns.dup2(fd, 2 + i))
    fd:close()
  end
end

function RUN.chdir(_, o) must("chdir", ns.chdir(o.path)) end

function RUN.hook(x, o)
  if o.parent then o.fn(x.handle, x.pid) else o.fn(x.handle) end
end

local function set_of(list)
  local s = {}
  for _, n in ipairs(list) do s[n] = true end
  return s
end

-- Drop every capability but those kept from the bounding set (it needs
-- CAP_SETPCAP, so it comes before the ids change).
function RUN.bounding(_, o)
  local keep = set_of(o.keep)
  local drop = {}
  for _, n in ipairs(ns.cap_names()) do
    if not keep[n] then drop[#drop + 1] = n end
  end
  must("cap_drop_bound", ns.cap_drop_bound(drop))
end

-- The effective, permitted and inheritable sets: the kept capabilities
-- (o.keep, the list form), or each set as given and then the ambient set.
function RUN.caps(_, o)
  local sets = o.keep and { effective = o.keep, permitted = o.keep, inheritable = {} }
    or { effective = o.effective, permitted = o.permitted, inheritable = o.inheritable }
  -- Root holds every capability, so the kept ones are all permitted; only
  -- when that fails (a kept one we do not hold) read the permitted set,
  -- which costs a prctl a capability, and keep no more than it holds.
  local ok = ns.cap_set(sets)
  if not ok then
    local have = set_of(ns.cap_get().permitted)
    local function held(list)
      local out = {}
      for _, n in ipairs(list) do if have[n] then out[#out + 1] = n end end
      return out
    end
    sets = { effective = held(sets.effective), permitted = held(sets.permitted), inheritable = held(sets.inheritable) }
    must("cap_set", ns.cap_set(sets))
  end
  if o.ambient then
    -- Cleared, then each raised: it must be permitted and inheritable now
    -- (the recipe check saw to it, unless the fallback above left one
    -- out: then it stays out). Cleared even when none is asked for: what
    -- luactr's caller had is none of the container's.
    local p, i, up = set_of(sets.permitted), set_of(sets.inheritable), {}
    for _, n in ipairs(o.ambient) do if p[n] and i[n] then up[#up + 1] = n end end
    must("cap_ambient", ns.cap_ambient(up))
  end
end

function RUN.no_new_privs() must("prctl", ns.prctl("no_new_privs", true)) end

-- Namespaces joined by path (the join key). join_open: each path opened
-- and checked to be a namespace of its type (the fd's link says
-- "net:[...]"). join_children: luactr joins pid and time for its next
-- child, keeping its own to go back to (join_restore, after the clone,
-- or the undo). join: the child joins the rest.
function RUN.join_open(x, o)
  x.join = {}
  for ty, path in pairs(o.paths) do
    local fd = must("open " .. path, ns.open(path, { "rdonly" }))
    x.join[ty] = fd
    local link = ns.readlink("/proc/self/fd/" .. fd:fileno()) or ""
    if link:match("^([%a_]+):%[") ~= ty then
      errors.raise({ call = "join", errno = ns.E.EINVAL,
        message = fmt("join.%s: %s is not a %s namespace (%s)", ty, path, ty, link) })
    end
  end
end

function UNDO.join_open(x)
  for _, fd in pairs(x.join or {}) do fd:close() end
  x.join = nil
end

local function join_restore(x)
  for ty, fd in pairs(x.join_own or {}) do
    ns.setns(fd, { ty })
    fd:close()
  end
  x.join_own = nil
end

function RUN.join_children(x, o)
  x.join_own = {}
  for _, ty in ipairs(o.types) do
    x.join_own[ty] = must("open", ns.open("/proc/self/ns/" .. ty .. "_for_children", { "rdonly" }))
    must("setns " .. ty, ns.setns(x.join[ty], { ty }))
  end
end

UNDO.join_children = join_restore
RUN.join_restore = join_restore

function RUN.join(x, o)
  for _, ty in ipairs(o.types) do must("setns " .. ty, ns.setns(x.join[ty], { ty })) end
end

-- Created, not started (an OCI runtime's create): the child, set up but
-- for its filter and the exec, outlives the luactr that made it (no
-- parent-death signal), reports "H" (held) so that luactr returns, and
-- waits until someone opens the fifo for reading (start). o.fd is an
-- O_PATH handle on the fifo that luactr opened before the clone (the
-- child, pivoted and perhaps another user by now, could not reach the
-- path); it is opened again for writing through /proc/self/fd. o.close:
-- fds to close first.
function RUN.hold(x, o)
  -- What luactr holds that must not stay held while we wait (its lock).
  for _, fd in ipairs(o.close or {}) do fd:close() end
  must("prctl", ns.prctl("pdeathsig", false))
  x.report[#x.report + 1] = fmt("H%.9f\n", ns.clock())
  must("report to luactr", x.sock:write(concat(x.report)))
  x.report, x.held = {}, true
  local fifo = must("open the start fifo", ns.open("/proc/self/fd/" .. o.fd:fileno(), { "wronly" }))
  must("write the start fifo", fifo:write("0"))
  fifo:close()
  o.fd:close()
end

-- The program that the recipe check compiled (or found compiled) for
-- the op's key, kept in luactr's memory, which this child shares or has
-- a copy of: the child needs no libseccomp, and no file of the host.
-- With notify handlers, the filter's listener goes to luactr, which
-- answers the calls while it waits for the container (ns.supervise).
function RUN.seccomp(x, o)
  local prog = require("ns.security.seccomp").program(o.key)
  if not prog then
    errors.raise({ call = "seccomp", message = "seccomp: no program compiled for key " .. tostring(o.key)
      .. " in this luactr (plan and run an op list in one process)" })
  end
  local flags = o.flags or {}
  if o.listener then
    local f = { "new_listener" }
    for _, v in ipairs(flags) do f[#f + 1] = v end
    local fd = must("seccomp", ns.seccomp_load(prog, f))
    must("sendfd", ns.sendfd(x.sock, fd, "N\n"))
    fd:close()
  else
    must("seccomp", ns.seccomp_load(prog, flags))
  end
end

-- A seccomp agent (runtime-spec's listenerPath): connected before the
-- clone, from the host's paths; the listener goes to it as soon as the
-- child sends it to luactr (to_agent), before the child's next call,
-- which may be one of those the agent answers.
function RUN.seccomp_agent(x, o)
  local sock, msg, e = ns.unix_connect(o.socket)
  if not sock then errors.raise({ call = "connect", errno = e, message = "seccomp agent: " .. tostring(msg) }) end
  x.agent = sock
  x.agent_op = o
end

function UNDO.seccomp_agent(x)
  if x.agent then x.agent:close(); x.agent = nil end
end

--- to_agent(x, fd): the listener fd and runtime-spec's container process
-- state ({ociVersion, fds = {"seccompFd"}, pid, metadata, state}) to the
-- agent that the op seccomp_agent connected (x.agent, x.agent_op), in one
-- message (SCM_RIGHTS); then luactr keeps neither. x.pid: the process's;
-- x.state_pid and x.status, the container's when they differ (an exec).
-- Returns true, or nil and why.
function M.to_agent(x, fd)
  local o, sock = x.agent_op, x.agent
  x.agent = nil
  local st = {}
  for k, v in pairs(o.state or {}) do st[k] = v end
  st.ociVersion = st.ociVersion or "1.1.0"
  st.id = st.id or x.c.name or ""
  st.status, st.pid = x.status or "creating", x.state_pid or x.pid
  st.bundle = st.bundle or (type(x.c.rootfs) == "string" and x.c.rootfs or "")
  st.annotations = st.annotations or x.c.labels or {}
  local msg = require("ns.state").encode({ ociVersion = st.ociVersion, fds = { "seccompFd" }, pid = x.pid,
    metadata = o.metadata or "", state = st }, "the container process state")
  local ok, why = ns.sendfd(sock, fd, msg)
  sock:close()
  fd:close()
  if not ok then return nil, "seccomp agent " .. o.socket .. ": " .. tostring(why) end
  return true
end

---------------------------------------------------------------------------

--- exec_env(x, o) -> the environment of the exec op o: its env, with HOME
-- from the container's /etc/passwd when setids found one (o.passwd_home).
function M.exec_env(x, o)
  if not (o.passwd_home and x.home) then return o.env end
  local env = {}
  for k, v in pairs(o.env) do env[k] = v end
  env.HOME = x.home
  return env
end

--- known(name) -> whether ops has an op of that name.
function M.known(name) return rawget(RUN, name) ~= nil or MODULE[name] ~= nil or name == "clone" or name == "exec" end

--- load(ops): load the modules of the ops of the list, in luactr before
-- the clone: a child that has pivoted, or joined a running container,
-- no longer sees lua/.
function M.load(ops)
  for _, o in ipairs(ops) do
    local _ = RUN[o.op]
  end
end

--- run(x, ops, i): run op i; a failure raises an ns.errors error for step i.
function M.run(x, ops, i)
  local o = ops[i]
  local ok, err = pcall(RUN[o.op], x, o)
  if not ok then
    error(errors.wrap(err, { container = x.c.what, step = i, op = o.op, label = o.name }), 0)
  end
end

--- undo(x, ops, upto) -> list of the messages of undos that failed: the
-- parent's ops 1..upto that have an undo, in reverse.
function M.undo(x, ops, upto)
  local errs = {}
  for i = upto, 1, -1 do
    local o = ops[i]
    local u = o.where == "parent" and UNDO[o.op]
    if u then
      local ok, err = pcall(u, x, o)
      if not ok then errs[#errs + 1] = tostring(err) end
    end
  end
  return errs
end

return M
