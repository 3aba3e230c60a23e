--- ns.plan: a canonical container table (ns.recipe) -> the ordered list
-- of typed ops that set it up. An op is plain data, {op = "mount", where =
-- "child", name = "mount proc on /proc", target = "/proc", fstype =
-- "proc", ...}: only a "hook" op holds a function. where is "parent" (in
-- luactr: before the "clone" op, or after it while the child waits) or
-- "child" (in the new namespaces, before "exec"). ns.ops runs such a list;
-- --plan prints it, --plan --json dumps it.
local ns = require "ns.core"
local security = require "ns.security"
local util = require "ns.util"

local M = {}

local fmt, concat = string.format, table.concat
local sorted_keys, list = util.sorted_keys, util.list

-- The namespaces clone makes: all but time, whose offsets can only be
-- written before a process enters it, and cgroup, unshared by the child
-- once it is in its group (so the group is its "/").
local function clone_types(c)
  local types = {}
  for _, n in ipairs(sorted_keys(c.nsset)) do
    if n ~= "time" and n ~= "cgroup" then types[#types + 1] = n end
  end
  return types
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

-- The device rules of a container with a cgroup: mknod of any node, but
-- only docker's few and the recipe's devices may be opened.
local function device_rules(c)
  local rules = {}
  for i, r in ipairs(security.device_rules) do rules[i] = r end
  for _, d in ipairs(c.devices) do
    if not d.fifo then
      rules[#rules + 1] = { type = d.type, major = d.major, minor = d.minor, access = d.access, allow = true }
    end
  end
  return rules
end

-- Whether the id maps map id 0.
local function maps_root(map)
  for _, r in ipairs(map) do
    if r[1] <= 0 and 0 < r[1] + r[3] then return true end
  end
  return false
end

--- become(c) -> the op that makes the child root of its user namespace,
-- for the setup (mounts made as root inside), or nil: without a user
-- namespace, or when the maps leave root inside unmapped. The container's
-- own ids come last (identity's setids).
function M.become(c)
  if c.user and maps_root(c.user.uid_map) and maps_root(c.user.gid_map) then
    return { op = "become", where = "child", name = "become root of the user namespace", uid = 0, gid = 0 }
  end
end

--- identity(c, t) -> the ops that give a process the container's identity
-- and privileges, from its ids to exec: what start and h:exec share.
-- t: {args, env (a map), cwd, fds = preserve list}.
function M.identity(c, t, out)
  out = out or {}
  local function add(o) o.where = "child"; out[#out + 1] = o end
  for _, name in ipairs(sorted_keys(c.rlimits)) do
    local v = c.rlimits[name]
    add { op = "setrlimit", name = "rlimit " .. name, resource = name, soft = v[1], hard = v[2] }
  end
  if t.stdio ~= false then
    if c.tty then
      add { op = "tty", name = "terminal (pty in the container's devpts)" }
    else
      add { op = "stdio", name = c.capture and "stdio (stdout and stderr captured)" or "stdio", stdin = c.stdin,
        stdout = c.stdout, stderr = c.stderr, capture = (c.capture and t.capture ~= false) or nil }
    end
  end
  add { op = "fds", fds = t.fds or {},
    name = fmt("fds (0-2%s, the rest closed at exec)",
      #(t.fds or {}) > 0 and fmt(" and %d preserved as 3-%d", #t.fds, 2 + #t.fds) or "") }
  add { op = "chdir", name = "cwd " .. t.cwd, path = t.cwd }
  if c.umask then add { op = "umask", name = fmt("umask %04o", c.umask), mask = c.umask } end
  for i, fn in ipairs(t.hooks or {}) do add { op = "hook", name = "inside hook " .. i, fn = fn } end
  -- While the process may still choose any class (the real-time one takes
  -- CAP_SYS_ADMIN), before a filter that might refuse the calls; both are
  -- kept across fork and exec.
  if c.personality then add { op = "personality", name = "personality " .. c.personality, persona = c.personality } end
  if c.io_priority then
    local io = c.io_priority
    add { op = "ioprio", name = fmt("io priority %s %d", io.class, io.level), class = io.class, level = io.level }
  end
  -- runc's order: the bounding set while we may still drop from it, the
  -- ids (keeping the permitted set across a uid change), then the other
  -- sets, then no_new_privs.
  local caps = c.capabilities ~= "all"
  -- The seccomp filter comes last, right before exec, so that as little
  -- as possible runs under it; but without no_new_privs the kernel takes
  -- one only from a holder of CAP_SYS_ADMIN, which the ids and the
  -- capability sets below take away: then it comes before them (runc's
  -- choice too), and must allow what they call (moby's profile does).
  -- A profile with notify handlers gives the container's first process
  -- (t.notify) a listener, which goes to luactr; an exec'd one has none.
  local sc = c.seccomp and { op = "seccomp", name = "seccomp filter (" .. c.seccomp.label .. ", "
    .. c.seccomp.insns .. " instructions" .. (c.seccomp.flags and ("; " .. concat(c.seccomp.flags, " ")) or "") .. ")",
    key = c.seccomp.key, listener = (c.seccomp.notify and t.notify) or nil, flags = c.seccomp.flags }
  if sc and not c.no_new_privs then add(sc) end
  if caps then
    add { op = "bounding", name = "bounding set (" .. #c.capabilities .. " kept)", keep = c.capabilities }
  end
  if c.ids then
    local ids = c.ids
    local label = tostring(ids.uid) .. (ids.gid ~= nil and (":" .. tostring(ids.gid)) or "")
    add { op = "setids", name = "user " .. label, uid = ids.uid, gid = ids.gid, groups = ids.groups }
  end
  -- Without luactr's defaults, HOME is the container's /etc/passwd's
  -- for the process's uid, else "/" (runc's), when the env has none.
  local home = not c.env_defaults and (t.env.HOME == nil or t.env.HOME == "")
  if home then add { op = "home", name = "HOME from the container's /etc/passwd (else /)" } end
  if caps and c.cap_sets then
    -- The four other sets as given; the ambient set last, from permitted
    -- and inheritable (capset clears what they no longer hold).
    local s = c.cap_sets
    add { op = "caps", name = fmt("capabilities (effective %d, permitted %d, inheritable %d, ambient %d)",
      #s.effective, #s.permitted, #s.inheritable, #s.ambient), effective = s.effective, permitted = s.permitted,
      inheritable = s.inheritable, ambient = s.ambient }
  elseif caps then
    add { op = "caps", name = "capabilities (" .. #c.capabilities .. " kept)", keep = c.capabilities }
  end
  if c.no_new_privs then add { op = "no_new_privs", name = "no_new_privs" } end
  if c.landlock then
    -- Last before exec: after no_new_privs, which landlock_restrict_self
    -- needs without CAP_SYS_ADMIN, and after the setup's own reads (the
    -- user's /etc/passwd), which are not the rules' business.
    local ll = require "ns.recipe.landlock"
    local rules = ll.rules(c.landlock)
    add { op = "landlock", name = "landlock (" .. ll.describe(rules) .. ")", rules = rules,
      required = c.landlock_required or nil }
  end
  if t.init then add { op = "init", name = "init (reaper)" } end
  if sc and c.no_new_privs then add(sc) end
  add { op = "exec", name = "exec " .. t.args[1], path = t.args[1], argv = t.args, env = t.env,
    -- docker's: HOME from the container's /etc/passwd for a user it lists
    passwd_home = home or (c.env_defaults and c.ids and not c.env_home) or nil }
  return out
end

-- Below this memory limit a container is forked, not vforked: its setup
-- is charged to its group, and an OOM kill in the middle of the ops would
-- leave luactr's memory, which a vfork child shares, half changed.
M.VFORK_MIN_MEMORY = 16 * 1024 * 1024

--- vfork(c) -> whether the container's child can be a vfork child
-- (ns.spawn: no copy of luactr's memory, luactr waits until exec): when
-- luactr has nothing to do between clone and the child's ops (no user
-- namespace to map, no parent hooks), no recipe code runs in the child
-- (hooks see a copy of luactr's memory, as with fork), the child execs
-- (with init = true it stays on as the reaper) and a memory limit, if
-- any, leaves room for the setup.
function M.vfork(c)
  if c.user or #c.parent > 0 or #c.inside > 0 or c.init or c.join then return false end
  -- A seccomp agent gets the listener from luactr while the child goes on.
  if c.seccomp and c.seccomp.agent and c.seccomp.notify then return false end
  local mem = c.cgroup and c.cgroup.memory
  if mem ~= nil then
    local ok, n = pcall(require("ns.cgroup.limits").parse_size, mem)
    if not ok or n < M.VFORK_MIN_MEMORY then return false end
  end
  return true
end

-- The directories (<state>/<name>) of the kept upper layers among layers
-- (<state>/<name>/upper, or a directory below one), which a start holds
-- against luactr gc --uppers; nil when there are none.
local function kept_uppers(layers)
  local state = util.state_root() .. "/"
  local out, seen = {}, {}
  for _, l in ipairs(layers) do
    local name, rest
    if l:sub(1, #state) == state then name, rest = l:sub(#state + 1):match("^([%w][%w_.%-]*)/upper(.*)$") end
    if name and (rest == "" or rest:sub(1, 1) == "/") and not seen[name] then
      seen[name] = true
      out[#out + 1] = state .. name
    end
  end
  return #out > 0 and out or nil
end

-- The flags of a bind mount that mount_setattr sets on it afterwards.
local BIND_ATTRS = { rdonly = true, nosuid = true, noexec = true, nodiratime = true, nosymfollow = true }

--- ops(c) -> the op list for the canonical table c.
function M.ops(c)
  local out = {}
  local function add(where, o) o.where = where; out[#out + 1] = o end
  local is_root = select(2, ns.getuid()) == 0

  -- luactr, before clone
  if c.rootfs ~= false then
    local layers = c.rootfs ~= "busybox" and list(c.rootfs) or nil
    local hold = layers and kept_uppers(layers)
    add("parent", { op = "image", name = layers and ("image " .. concat(layers, ":")) or "image busybox",
      busybox = not layers or nil, layers = layers, hold = hold, state = hold and util.state_root() })
    if c.upper_dir then
      -- A directory of the caller's (a recorded container's, under its
      -- state): its upper layer there is made once and reused by each
      -- start, and kept when the container ends.
      local o = { op = "overlay_dirs", name = "overlay dirs in " .. c.upper_dir, upper_dir = c.upper_dir, keep_upper = true }
      if c.user and is_root then o.chown = { M.outside_ids(c) } end
      add("parent", o)
    elseif c.overlay and not c.keep_upper then
      -- The upper layer lives on a tmpfs mounted in the container's own
      -- mount namespace: the kernel discards it with the namespace, so
      -- nothing is left on the host even if luactr is killed. Its mount
      -- point is an empty directory of the state dir's own, not the state
      -- dir: a tmpfs there would hide the kept upper layers below it, which
      -- a recipe may list among its layers.
      add("parent", { op = "state_dir", name = "state dir (the private tmpfs's mount point)",
        path = util.state_root() .. "/" .. util.TMPFS_DIR })
    elseif c.overlay then
      local o = { op = "overlay_dirs", name = "overlay dirs", state = util.state_root(), container = c.name, keep_upper = c.keep_upper }
      if c.user and is_root then
        -- overlayfs writes the upper layer with the mounter's creds, and
        -- the mounter is root inside the user namespace: give it the dirs.
        o.chown = { M.outside_ids(c) }
      end
      add("parent", o)
    else
      add("parent", { op = "root_dir", name = "root dir" })
    end
  end
  if c.cgroup then
    local limits = {}
    for k, v in pairs(c.cgroup) do limits[k] = v end
    -- A user's group has no device allow-list: the kernel makes device
    -- nodes only for CAP_MKNOD in the initial user namespace, and loads a
    -- device program only for CAP_BPF or CAP_SYS_ADMIN there; the host's
    -- nodes keep their modes.
    local devices = is_root and limits.devices == nil
    if devices then limits.devices = device_rules(c) end
    add("parent", { op = "cgroup_create", name = devices and "cgroup create (with the device allow-list)"
      or "cgroup create", group = c.name, limits = limits })
    if c.cgroup_path then
      local o = out[#out]
      o.parent, o.group = c.cgroup_path:gsub("^/+", ""):match("^(.+)/([^/]+)$")
      o.name = o.name .. " " .. c.cgroup_path
    end
  end
  if c.capture then add("parent", { op = "capture", name = "capture pipes (stdout, stderr)" }) end
  -- Namespaces to join: opened here (the child may not reach the paths);
  -- pid and time are the namespaces of children, so luactr joins those
  -- for the clone and goes back right after it.
  local for_children = {}
  if c.join then
    add("parent", { op = "join_open", name = "open the namespaces to join", paths = c.join })
    for _, ty in ipairs({ "pid", "time" }) do if c.join[ty] then for_children[#for_children + 1] = ty end end
    if #for_children > 0 then
      add("parent", { op = "join_children", name = "join " .. concat(for_children, ",") .. " for the clone", types = for_children })
    end
  end
  local idmapped = {}
  for _, m in ipairs(c.mounts) do
    if m.idmap then
      local rec = false
      for _, f in ipairs(m.flags) do if f == "rbind" or f == "rec" then rec = true end end
      idmapped[#idmapped + 1] = { source = m.source, recursive = rec, uid_map = m.idmap.uid_map, gid_map = m.idmap.gid_map }
      m.idmap_index = #idmapped
    end
  end
  if #idmapped > 0 then
    -- Made here, by root of the host's user namespace, which owns the
    -- sources' filesystems; the child moves them into its root.
    add("parent", { op = "idmap_mounts", name = fmt("idmapped mounts (%d)", #idmapped), mounts = idmapped })
  end
  if c.seccomp and c.seccomp.agent and c.seccomp.notify then
    -- Connected here: the agent's path is the host's.
    local a = c.seccomp.agent
    add("parent", { op = "seccomp_agent", name = "connect to the seccomp agent at " .. a.socket, socket = a.socket,
      metadata = a.metadata, state = a.state })
  end
  local types = clone_types(c)
  local vfork = M.vfork(c)
  add("parent", { op = "clone", name = "clone " .. concat(types, ","), types = types,
    into_cgroup = (c.cgroup ~= nil and not vfork) or nil, vfork = vfork or nil })

  if vfork then
    -- luactr waits in the clone until the child has exec'd: the child
    -- puts itself in its groups, first of all.
    if c.cgroup then add("child", { op = "cgroup_join", name = "cgroup join (itself)" }) end
  else
    -- luactr, after clone, while the child waits
    if c.user then
      -- Without privilege the kernel takes only the user's own id, and
      -- setgroups denied; newgidmap and newuidmap (setuid, checking
      -- /etc/subgid and /etc/subuid) write wider maps.
      local helpers = not is_root and c.user.helpers or nil
      if not is_root and not helpers then
        add("parent", { op = "setgroups_deny", name = "setgroups deny" .. (c.user.note and " (" .. c.user.note .. ")" or "") })
      end
      add("parent", { op = "gid_map", name = helpers and "gid_map (newgidmap)" or "gid_map", ranges = c.user.gid_map,
        helper = helpers and require("ns.recipe.user").MAP_HELPERS.gid })
      add("parent", { op = "uid_map", name = helpers and "uid_map (newuidmap)" or "uid_map", ranges = c.user.uid_map,
        helper = helpers and require("ns.recipe.user").MAP_HELPERS.uid })
    end
    if #for_children > 0 then add("parent", { op = "join_restore", name = "luactr's own pid and time namespaces again" }) end
    if c.cgroup then add("parent", { op = "cgroup_join", name = "cgroup join" }) end
    for i, fn in ipairs(c.parent) do add("parent", { op = "hook", name = "parent hook " .. i, fn = fn, parent = true }) end
    add("child", { op = "wait_go", name = "wait for parent" })
  end

  -- the child
  if c.join then
    -- The user namespace first: the others are joined with its privilege.
    local list = {}
    if c.join.user then list[1] = "user" end
    for _, ty in ipairs({ "ipc", "net", "uts", "cgroup" }) do if c.join[ty] then list[#list + 1] = ty end end
    if #list > 0 then add("child", { op = "join", name = "join " .. concat(list, ","), types = list }) end
  end
  add("child", { op = "keyring", name = "session keyring (new, empty)" })
  if c.nsset.cgroup then add("child", { op = "unshare", name = "cgroup namespace", types = { "cgroup" } }) end
  -- The offsets before the ids change: that makes the process not
  -- dumpable, and its /proc/self files root's, which it then cannot write.
  if c.time then
    local function offset(v)
      if type(v) == "table" then return { v[1], v[2] } end
      return { v or 0, 0 }
    end
    add("child", { op = "timens", name = "time offsets", monotonic = offset(c.time.monotonic), boottime = offset(c.time.boottime) })
  end
  local become = M.become(c)
  if become then add("child", become) end
  if c.nsset.mnt then
    -- rslave and rshared start from a slave copy of the host's mounts (as
    -- runc's do), so that what the host mounts below the rootfs comes in.
    -- (shared: pivot_root(2) takes no root in a peer group, so the root
    -- is made shared after it, a peer group of the container's own that
    -- stays the host's slave.)
    local rp = c.root_propagation or "rprivate"
    if rp:match("slave$") or rp:match("shared$") then
      add("child", { op = "mount", name = "make / rslave", target = "/", host = true, flags = { "rec", "slave" } })
    else
      add("child", { op = "mount", name = "make / rprivate", target = "/", host = true, flags = { "rec", "private" } })
    end
  end
  if c.rootfs ~= false then
    -- Rootless, overlayfs reads and writes user.overlay.* xattrs, the
    -- ones the user's store and upper layers can hold (Linux 5.11).
    local ux = not is_root or nil
    if c.overlay and not c.keep_upper and not c.upper_dir then
      add("child", { op = "overlay", name = "mount overlay (upper layer on a private tmpfs" .. (ux and "; userxattr)" or ")"),
        tmpfs = true, userxattr = ux })
    elseif c.overlay then
      add("child", { op = "overlay", name = "mount overlay" .. (ux and " (userxattr)" or ""), userxattr = ux })
    else
      add("child", { op = "bind_root", name = "bind rootfs (nodev)" })
    end
  elseif c.nsset.mnt then
    add("child", { op = "root", name = "root /", path = "/" })
  end
  if c.proc then
    add("child", { op = "mount", name = "mount proc on /proc", source = "proc", target = "/proc", fstype = "proc",
      flags = { "nosuid", "nodev", "noexec" }, ours = "proc" })
  end
  if c.sys then add("child", { op = "sysfs", name = "mount sysfs on /sys (read-only)" }) end
  if c.cgroupfs then
    -- What the container reads to size itself (memory.max, cpu.max):
    -- its own group, read-only, as docker shows it. Without a group of
    -- its own it would see luactr's, and the groups below: nothing then.
    add("child", { op = "cgroupfs", name = "cgroup fs on /sys/fs/cgroup (the container's group, read-only)",
      cgroupns = c.nsset.cgroup or nil })
  end
  if c.dev then
    add("child", { op = "dev", name = "minimal /dev (nodev tmpfs, host nodes bound in)", nodes = security.dev_nodes,
      devices = c.devices, mqueue = c.nsset.ipc or nil })
  end
  for _, m in ipairs(c.mounts) do
    local o = { op = "mount", name = fmt("mount %s on %s%s", m.source or m.type or "none", m.target,
      m.idmap_index and " (idmapped)" or ""),
      source = m.source or m.type or "none", target = m.target, fstype = m.type, flags = m.flags, data = m.data,
      mkdir = m.mkdir, copy_up = m.copy_up or nil, idmap = m.idmap_index, recursive_attrs = m.recursive }
    local bind, rec, attrs = false, false, {}
    for _, f in ipairs(m.flags) do
      if f == "bind" or f == "rbind" then bind = true end
      if f == "rbind" or f == "rec" then rec = true end
      if BIND_ATTRS[f] then attrs[#attrs + 1] = f end
    end
    if not m.dev and not bind then o.flags = { "nodev", table.unpack(m.flags) } end
    if not m.dev then attrs[#attrs + 1] = "nodev" end
    if bind and #attrs > 0 then
      -- A bind mount takes its flags from its source (mount(2) ignores
      -- those given with MS_BIND): set ours on it, leaving the rest (and
      -- the flags a user namespace locks) alone.
      o.attrs = attrs
      o.recursive = rec or nil
    end
    add("child", o)
  end
  -- Through the host's /proc, still there, before the container's is
  -- made read-only: each file is the child's own namespace's.
  if c.sysctl and #c.sysctl > 0 then
    add("child", { op = "sysctl", name = fmt("sysctl (%d)", #c.sysctl), values = c.sysctl })
  end
  if c.oom_score_adj then
    add("child", { op = "oom_score_adj", name = "oom_score_adj " .. c.oom_score_adj, value = c.oom_score_adj })
  end
  if #c.readonly_paths > 0 then
    add("child", { op = "readonly_paths", name = "read-only paths (" .. #c.readonly_paths .. ")", paths = c.readonly_paths,
      -- The net namespace belongs to the container's user namespace, so
      -- its sysctls are the container's own, as docker allows: writable.
      net_writable = (c.nsset.user and c.nsset.net and util.has(c.readonly_paths, "/proc/sys")) or nil })
  end
  if #c.masked_paths > 0 then
    add("child", { op = "masked_paths", name = "masked paths (" .. #c.masked_paths .. ")", paths = c.masked_paths })
  end
  if c.rootfs ~= false then
    if c.readonly then add("child", { op = "readonly_root", name = "read-only root" }) end
    if c.chroot then
      add("child", { op = "chroot", name = "chroot" })
    else
      add("child", { op = "pivot_root", name = "pivot_root" })
    end
    local rp = c.root_propagation
    if rp and rp ~= "rprivate" and rp ~= "rslave" and rp ~= "slave" then
      -- The root's own propagation once it is /: private, shared (a peer
      -- group of its own, still the host's slave) or unbindable.
      local mode = rp:match("^r(%l+)$")
      add("child", { op = "mount", name = "make / " .. rp, target = "/", host = true,
        flags = mode and { "rec", mode } or { rp } })
    end
  end
  if c.hostname then add("child", { op = "sethostname", name = "hostname " .. c.hostname, hostname = c.hostname }) end
  if c.domainname then
    add("child", { op = "setdomainname", name = "domainname " .. c.domainname, domainname = c.domainname })
  end
  return M.identity(c, { args = c.args, env = c.environ, cwd = c.cwd, fds = c.preserve_fds, hooks = c.inside,
    init = c.init, notify = true }, out)
end

return M
