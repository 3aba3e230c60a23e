--- ns.recipe: the schema of a container table and its defaults. check(t)
-- validates a recipe (unknown keys, wrong types, holes in lists, NUL bytes,
-- unknown names: each an error that names the key, in one short line) and
-- returns the canonical table that the planner (ns.plan) turns into ops.
local ns = require "ns.core"
local security = require "ns.security"
local util = require "ns.util"

local M = {}

local fmt = string.format
local getenv = os.getenv
local show, quoted, choices, check_keys = util.show, util.quoted, util.choices, util.check_keys

-- The capabilities docker keeps by default.
M.default_capabilities = {
  "chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid",
  "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill",
  "audit_write",
}

M.default_namespaces = { "pid", "mnt", "uts", "ipc", "net", "cgroup" }

local KEYS = {
  name = "string", rootfs = "string|table|boolean", overlay = "boolean",
  keep_upper = "boolean", chroot = "boolean", hostname = "string",
  namespaces = "table", user = "table|boolean|string|number", mounts = "table",
  proc = "boolean", sys = "boolean", dev = "boolean", env = "table",
  cwd = "string", args = "table", tty = "boolean", capabilities = "table|string",
  seccomp = "boolean|string|table",
  no_new_privs = "boolean", inside = "function|table", parent = "function|table",
  init = "boolean", cgroup = "table", time = "table", rlimits = "table",
  readonly = "boolean", domainname = "string", stdin = "userdata|number",
  stdout = "userdata|number", stderr = "userdata|number",
  masked_paths = "table", readonly_paths = "table", preserve_fds = "table",
  devices = "table", capture = "boolean", capture_limit = "number|string", timeout = "number",
  stop_timeout = "number", cgroupfs = "boolean", image = "string", entrypoint = "table|string",
  stop_signal = "string|number", labels = "table", upper_dir = "string", cgroup_path = "string",
  join = "table",
}

-- The process's umask, OOM score and the sysctls of the container's own
-- namespaces (ns.recipe.process).
KEYS.umask, KEYS.oom_score_adj, KEYS.sysctl = "number", "number", "table"

-- The propagation of the container's root (mount_namespaces(7)): rprivate
-- unless given; rslave lets mounts the host makes below the rootfs in;
-- rshared too, the root then a peer group of the container's own.
KEYS.root_propagation = "string"
local PROPAGATIONS = { private = true, rprivate = true, slave = true, rslave = true, shared = true, rshared = true,
  unbindable = true, runbindable = true }

-- The execution domain, the I/O priority, and whether luactr fills in
-- the environment's defaults (ns.recipe.process).
KEYS.personality, KEYS.io_priority, KEYS.env_defaults = "string", "table", "boolean"

-- Landlock's rules and whether they must be enforced (ns.recipe.landlock).
KEYS.landlock, KEYS.landlock_required = "table|boolean", "boolean"

local TIME_KEYS = { monotonic = true, boottime = true }
local NAMESPACES = { cgroup = true, ipc = true, mnt = true, net = true, pid = true, time = true, user = true, uts = true }

local function bad(what, f, ...) error(what .. ": " .. fmt(f, ...), 0) end
M.bad = bad

local function typecheck(what, key, v, want)
  local ty = type(v)
  for w in want:gmatch("[^|]+") do
    if ty == w then return end
  end
  bad(what, "'%s' must be a %s, not a %s", key, (want:gsub("|", " or ")), ty)
end

-- A string without NUL bytes (the kernel would silently cut it there).
local function str(what, key, v)
  if type(v) ~= "string" then bad(what, "%s must be a string, not a %s", key, type(v)) end
  if v:find("\0", 1, true) then bad(what, "%s %s has a NUL byte", key, show(v)) end
  return v
end

-- t must be a list: keys 1..n and nothing else.
local function check_list(what, key, t)
  if type(t) ~= "table" then bad(what, "%s must be a list, not a %s", key, type(t)) end
  local n = #t
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      bad(what, "%s must be a list (keys 1..n, no holes), but has key %s", key, show(k))
    end
  end
  return t
end

-- A copy of t, a list of strings (numbers become strings).
local function str_list(what, key, t)
  check_list(what, key, t)
  local out = {}
  for i, v in ipairs(t) do
    if type(v) == "number" then v = tostring(v) end
    -- The element's name, for the message, only when there is one to make.
    if type(v) ~= "string" or v:find("\0", 1, true) then str(what, fmt("%s[%d]", key, i), v) end
    out[i] = v
  end
  return out
end

local function int(what, key, v, min)
  if math.type(v) ~= "integer" then bad(what, "%s must be an integer, not %s", key, show(v)) end
  if min and v < min then bad(what, "%s must be at least %d, not %d", key, min, v) end
  return v
end

local function abs_path(what, key, v)
  str(what, key, v)
  if v:sub(1, 1) ~= "/" then bad(what, "%s %s must be an absolute path", key, show(v)) end
  return v
end

local function fns(what, key, v)
  if type(v) == "function" then return { v } end
  check_list(what, key, v)
  for i, f in ipairs(v) do
    if type(f) ~= "function" then bad(what, "%s[%d] must be a function, not a %s", key, i, type(f)) end
  end
  return v
end

-- The checks of the keys that a recipe seldom gives are in lua/ns/recipe/
-- (mounts and devices; user and its maps; env, rlimits and fds), loaded
-- when one is given.
local function lazy(mod, name)
  return function(...) return require("ns.recipe." .. mod)[name](...) end
end
local check_mount, check_device = lazy("mounts", "check_mount"), lazy("mounts", "check_device")
local check_rlimit, check_fd = lazy("process", "check_rlimit"), lazy("process", "check_fd")

--- size(what, key, v) -> bytes: a number, or a string such as "64M".
function M.size(what, key, v)
  local ok, n = pcall(require("ns.cgroup.limits").parse_size, v)
  if not ok then bad(what, "%s: %s", key, (tostring(n):gsub("^parse_size: ", ""))) end
  return n
end

--- user(what, v, userns) -> the user namespace's config (or nil), the
-- container's ids (or nil), for the recipe's user v (see ns.recipe.user).
function M.user(what, v, userns)
  if v == nil or v == false then return userns and {} or nil, nil end
  return require("ns.recipe.user").user(what, v, userns)
end

local CAP_NAMES
local DEFAULT_CAPS -- the checked copy of M.default_capabilities, made once

-- The list v (of the key named key) in canonical names: lower case,
-- without cap_; raises naming the key on an unknown one.
local function cap_list(what, key, v)
  local names = str_list(what, key, v)
  if not CAP_NAMES then
    CAP_NAMES = {}
    for _, n in ipairs(ns.cap_names()) do CAP_NAMES[n] = true end
  end
  for i, n in ipairs(names) do
    local k = n:lower():gsub("^cap_", "")
    if not CAP_NAMES[k] then
      bad(what, "%sunknown capability %s (%s)", key == "capabilities" and "" or key .. ": ", quoted(n),
        choices(n, CAP_NAMES, "ns.cap_names()"))
    end
    names[i] = k
  end
  return names
end
M.cap_list = cap_list

-- capabilities -> the bounding set ("all" or a list), and the other four
-- sets when v gives the five ({bounding = ..., ambient = ...}, see
-- ns.recipe.process); a list is the bounding, permitted and effective
-- sets, with no inheritable or ambient one.
local function check_caps(what, v)
  if v == "all" then return "all" end
  if v == M.default_capabilities and DEFAULT_CAPS then return DEFAULT_CAPS end
  if v == M.default_capabilities then
    -- Our own list, in the canonical form already: no need to ask libcap
    -- for every name (a spec checks that it stays valid).
    DEFAULT_CAPS = {}
    for i, n in ipairs(v) do DEFAULT_CAPS[i] = n end
    return DEFAULT_CAPS
  end
  if v == "none" then return {} end
  if type(v) == "string" then bad(what, "capabilities must be \"all\", \"none\", a list of names or the five sets, not %s", show(v)) end
  if type(next(v)) == "string" then return require("ns.recipe.process").check_cap_sets(what, v) end
  return cap_list(what, "capabilities", v)
end

-- env (a list of "KEY=VALUE" or a map) -> a list of {key, value}.
local function check_env(what, env)
  if type(env) == "table" and next(env) == nil then return {} end
  return require("ns.recipe.process").check_env(what, env)
end

-- The cgroup limits, checked as far as no layout is needed (ns.cgroup.limits
-- checks the rest when it makes the group).
local LIMIT_NAMES
local function check_cgroup(what, t)
  local limits = require "ns.cgroup.limits"
  if not LIMIT_NAMES then
    LIMIT_NAMES = {}
    for _, k in ipairs(limits.names) do LIMIT_NAMES[k] = true end
  end
  check_keys(what .. ": cgroup", t, LIMIT_NAMES)
  local why = limits.check(t)
  if why then bad(what, "cgroup.%s", why) end
end

local function random_id()
  local f = io.open("/dev/urandom", "rb")
  local s = f:read(6)
  f:close()
  return fmt("%02x%02x%02x%02x%02x%02x", s:byte(1, 6))
end

-- The process's environment: luactr's defaults (unless env_defaults is
-- false), the image's, the recipe's. Without the defaults, an empty HOME
-- counts as none: the plan's home op fills it in, as runc does.
local function environment(c, list)
  local env = {}
  if c.env_defaults then
    env.PATH, env.HOME = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "/root"
    if c.hostname then env.HOSTNAME = c.hostname end
    if c.tty then env.TERM = getenv("TERM") or "xterm" end
    if c.rootfs == false then
      env.PATH = getenv("PATH") or env.PATH
      env.HOME = getenv("HOME") or env.HOME
    end
  end
  for _, kv in ipairs(c.image_env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    env[k] = v
    if k == "HOME" then c.env_home = true end
  end
  for _, kv in ipairs(list) do
    env[kv[1]] = kv[2]
    if kv[1] == "HOME" then c.env_home = true end
  end
  if not c.env_defaults and env.HOME == "" then env.HOME, c.env_home = nil, nil end
  return env
end

--- signal(what, key, v) -> the signal's name without SIG ("TERM"), for
-- v given as "TERM", "SIGTERM" or a number; raises naming key otherwise.
function M.signal(what, key, v)
  local name = v
  if math.type(v) == "integer" then
    name = nil
    for n, num in pairs(ns.SIG) do if num == v then name = n end end
  elseif type(v) == "string" then
    name = v:upper():gsub("^SIG", "")
    if not pcall(function() return ns.SIG[name] end) then name = nil end
  else
    name = nil
  end
  if not name then bad(what, "%s %s is not a signal (TERM, SIGTERM or a number)", key, show(v)) end
  return name
end

--- check(t) -> the canonical table: the defaults filled into a checked
-- copy of the recipe t.
function M.check(t)
  if type(t) ~= "table" then error("container: expected a table, got " .. type(t), 0) end
  local what = fmt("container %s", type(t.name) == "string" and show(t.name) or "\"?\"")
  check_keys(what, t, KEYS)
  for k, v in pairs(t) do typecheck(what, k, v, KEYS[k]) end
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  c.name = c.name or ("luactr-" .. random_id())
  if not c.name:match("^[%w][%w_.-]*$") or #c.name > 64 then
    bad(what, "name must be letters, digits, '.', '_' or '-' (at most 64)")
  end
  what = fmt("container %q", c.name)
  c.what = what
  if c.image ~= nil then
    -- The image's config fills what the recipe leaves out (ns.image.config).
    str(what, "image", c.image)
    require("ns.image.config").apply(what, c)
  elseif c.entrypoint ~= nil then
    local ep = type(c.entrypoint) == "string" and { c.entrypoint } or str_list(what, "entrypoint", c.entrypoint)
    local args = c.args and str_list(what, "args", c.args) or {}
    c.args = {}
    for _, s in ipairs(ep) do c.args[#c.args + 1] = s end
    for _, s in ipairs(args) do c.args[#c.args + 1] = s end
    c.entrypoint = nil
  end
  if c.rootfs == nil or c.rootfs == true then c.rootfs = "busybox" end
  if type(c.rootfs) == "string" then
    c.rootfs = str(what, "rootfs", c.rootfs)
    if c.rootfs == "" then bad(what, "rootfs is an empty path") end
  end
  if type(c.rootfs) == "table" then
    c.rootfs = str_list(what, "rootfs", c.rootfs)
    if #c.rootfs == 0 then bad(what, "rootfs is an empty list of layers") end
    for i, l in ipairs(c.rootfs) do
      if l == "" then bad(what, "rootfs[%d] is an empty path", i) end
    end
  end
  if c.overlay == nil then c.overlay = c.rootfs ~= false end
  if c.rootfs == false then
    for _, k in ipairs({ "overlay", "readonly" }) do
      if c[k] then bad(what, "%s needs a rootfs (rootfs is false)", k) end
    end
  end
  if c.keep_upper and not c.overlay then bad(what, "keep_upper needs the overlay (overlay is false)") end
  if c.upper_dir ~= nil then
    if not c.overlay then bad(what, "upper_dir needs the overlay (overlay is false)") end
    if c.keep_upper then bad(what, "keep_upper and upper_dir both keep the upper layer: give one") end
    if c.upper_dir:sub(1, 1) ~= "/" then bad(what, "upper_dir must be an absolute path, got %s", quoted(c.upper_dir)) end
  end
  c.namespaces = str_list(what, "namespaces", c.namespaces or M.default_namespaces)
  local set = {}
  for _, n in ipairs(c.namespaces) do
    if not NAMESPACES[n] then bad(what, "unknown namespace %s (%s)", quoted(n), choices(n, NAMESPACES)) end
    set[n] = true
  end
  c.user, c.ids = M.user(what, c.user, set.user)
  if c.user then set.user = true end
  if c.time and not set.time then set.time = true end
  -- A time namespace named in the list gets zero offsets (and "user" in
  -- it the user key's default maps, by M.user above).
  if set.time and not c.time then c.time = {} end
  c.nsset = set
  if c.join ~= nil then
    -- Namespaces joined by path (an OCI config's linux.namespaces[].path:
    -- a pod's sandbox): /proc/PID/ns/TYPE or a bind mount of one.
    local n = 0
    for ty, p in pairs(c.join) do
      if not NAMESPACES[ty] then bad(what, "join: unknown namespace %s (%s)", quoted(tostring(ty)), choices(tostring(ty), NAMESPACES)) end
      if type(p) ~= "string" or p:sub(1, 1) ~= "/" then bad(what, "join.%s must be an absolute path, not %s", ty, util.show(p)) end
      if set[ty] then bad(what, "join.%s: the %s namespace is also a new one (namespaces, or a key that makes it): one or the other", ty, ty) end
      if ty == "mnt" then bad(what, "join.mnt: joining a mount namespace is not supported (the root is set up in a new one)") end
      n = n + 1
    end
    if n == 0 then c.join = nil end
  end
  c.hostname = c.hostname or (set.uts and c.name or nil)
  for _, k in ipairs({ "hostname", "domainname" }) do
    if c[k] then
      str(what, k, c[k])
      if #c[k] > 64 then bad(what, "%s %s is longer than 64 bytes", k, show(c[k])) end
      if not set.uts then bad(what, "%s needs the uts namespace", k) end
    end
  end
  if c.proc == nil then c.proc = set.pid or c.rootfs ~= false end
  if c.sys == nil then c.sys = c.rootfs ~= false end
  if c.dev == nil then c.dev = c.rootfs ~= false end
  -- On the host's filesystem (rootfs = false) a new sysfs would cover
  -- the host's group directories, which cgroupfs binds from.
  local cgroupfs_ok = c.sys and c.cgroup ~= nil and c.rootfs ~= false
  if c.cgroupfs == nil then
    c.cgroupfs = cgroupfs_ok
  elseif c.cgroupfs and not cgroupfs_ok then
    bad(what, "cgroupfs needs a cgroup of the container's own (cgroup = {...}), a rootfs and sys")
  end
  local mounts = check_list(what, "mounts", c.mounts or {})
  c.mounts = {}
  for i, m in ipairs(mounts) do c.mounts[i] = check_mount(what, i, m) end
  c.masked_paths = c.masked_paths or security.masked_paths
  c.readonly_paths = c.readonly_paths or security.readonly_paths
  for _, k in ipairs({ "masked_paths", "readonly_paths" }) do
    c[k] = str_list(what, k, c[k])
    for i, p in ipairs(c[k]) do
      if p:sub(1, 1) ~= "/" then abs_path(what, fmt("%s[%d]", k, i), p) end
    end
  end
  if not c.proc and not c.sys then c.masked_paths, c.readonly_paths = {}, {} end
  local devices = check_list(what, "devices", c.devices or {})
  c.devices = {}
  for i, d in ipairs(devices) do c.devices[i] = check_device(what, i, d) end
  if #c.devices > 0 and not c.dev then bad(what, "devices need the container's /dev (dev = true)") end
  for i, d in ipairs(c.devices) do
    if d.node and not d.fifo and c.nsset.user then
      bad(what, "devices[%d]: a device node cannot be made in a user namespace (mknod needs the host's CAP_MKNOD); "
        .. "give source = the host's node to bind", i)
    end
  end
  local mounting = c.rootfs ~= false or c.proc or c.sys or c.dev or #c.mounts > 0
  if mounting and not set.mnt then
    bad(what, "a rootfs or mounts need the mnt namespace (add \"mnt\" to namespaces)")
  end
  if c.chroot and c.rootfs == false then bad(what, "chroot needs a rootfs") end
  if c.root_propagation ~= nil then
    if not PROPAGATIONS[c.root_propagation] then
      bad(what, "root_propagation %s (%s)", util.quoted(c.root_propagation), util.choices(c.root_propagation, PROPAGATIONS))
    end
    if c.root_propagation ~= "rprivate" and not c.nsset.mnt then
      bad(what, "root_propagation %s needs a mount namespace", util.quoted(c.root_propagation))
    end
    if c.root_propagation:match("shared$") and c.chroot then
      bad(what, "root_propagation %s: a chroot container's root is the host's mount namespace's", util.quoted(c.root_propagation))
    end
  end
  if c.user then require("ns.recipe.user").maps(what, c) end
  if c.time then
    check_keys(what .. ": time", c.time, TIME_KEYS)
    -- Whole seconds, or {seconds, nanoseconds} (0 to 999999999, added
    -- to the seconds, which may be negative), as timens_offsets takes them.
    for k, v in pairs(c.time) do
      if type(v) == "table" then
        if #v ~= 2 or math.type(v[1]) ~= "integer" or math.type(v[2]) ~= "integer" or v[2] < 0 or v[2] > 999999999 then
          bad(what, "time.%s must be seconds or {seconds, nanoseconds} (0 to 999999999), not %s", k, show(v))
        end
      else
        int(what, "time." .. k, v)
      end
    end
  end
  if c.capture then
    if c.tty then bad(what, "capture needs tty = false (a terminal has no separate stdout and stderr)") end
    if c.stdout ~= nil or c.stderr ~= nil then bad(what, "capture takes stdout and stderr: leave those keys out") end
  end
  -- (the size parser is ns.cgroup's: loaded only for a limit given)
  c.capture_limit = c.capture_limit == nil and 16 * 1024 * 1024 or M.size(what, "capture_limit", c.capture_limit)
  if c.timeout ~= nil and not (c.timeout > 0 and c.timeout < math.huge) then
    bad(what, "timeout must be a number of seconds above 0, not %s", show(c.timeout))
  end
  c.stop_timeout = c.stop_timeout or 10
  if not (c.stop_timeout >= 0 and c.stop_timeout < math.huge) then
    bad(what, "stop_timeout must be a number of seconds, 0 or more, not %s", show(c.stop_timeout))
  end
  c.stop_signal = M.signal(what, "stop_signal", c.stop_signal or "TERM")
  if c.labels ~= nil then
    for k, v in pairs(c.labels) do
      if type(k) ~= "string" or type(v) ~= "string" then bad(what, "labels must map strings to strings (%s)", show(k)) end
    end
  end
  c.args = str_list(what, "args", c.args or { "/bin/sh" })
  if #c.args == 0 then bad(what, "args is empty") end
  if c.args[1] == "" then bad(what, "args[1], the program, is an empty string") end
  c.cwd = abs_path(what, "cwd", c.cwd or "/")
  c.capabilities, c.cap_sets = check_caps(what, c.capabilities == nil and M.default_capabilities or c.capabilities)
  -- An idmapped tree is made in luactr's mount namespace and moved into the
  -- container's: the kernel locks none of its flags (ro, nosuid, nodev)
  -- against the root of a user namespace, as it locks a copied mount's,
  -- so that root must not hold CAP_SYS_ADMIN, which could clear them.
  if c.nsset.user and (c.capabilities == "all" or util.has(c.capabilities, "sys_admin")) then
    for i, m in ipairs(c.mounts) do
      if m.idmap then
        bad(what, "mounts[%d]: idmap in a user namespace whose root keeps sys_admin: the idmapped mount's flags "
          .. "are not locked against it (drop sys_admin, or give no user namespace)", i)
      end
    end
  end
  if c.no_new_privs == nil then c.no_new_privs = true end
  -- The filter, compiled (or found compiled) for the capabilities above.
  c.seccomp = require("ns.security.seccomp").check(what, c.seccomp, c)
  local stdio = (c.stdin ~= nil and "stdin") or (c.stdout ~= nil and "stdout") or (c.stderr ~= nil and "stderr")
  if c.tty and stdio then bad(what, "%s needs tty = false (with a tty, the pty is the container's stdio)", stdio) end
  -- Given stdio means no pty, whatever luactr's own fds are.
  if c.tty == nil then c.tty = not stdio and ns.isatty(0) and ns.isatty(1) end
  c.inside = fns(what, "inside", c.inside or {})
  c.parent = fns(what, "parent", c.parent or {})
  local limits = {}
  for name, v in pairs(c.rlimits or {}) do
    if type(name) ~= "string" or not pcall(function() return ns.RLIMIT[name] end) then
      bad(what, "unknown rlimit %s (%s)", quoted(name), choices(name, ns.RLIMIT))
    end
    limits[name] = check_rlimit(what, name, v)
  end
  c.rlimits = limits
  if c.umask ~= nil then int(what, "umask", c.umask, 0); if c.umask > 511 then bad(what, "umask must be 0..0777 (511), not %d", c.umask) end end
  if c.oom_score_adj ~= nil then
    int(what, "oom_score_adj", c.oom_score_adj, -1000)
    if c.oom_score_adj > 1000 then bad(what, "oom_score_adj must be -1000..1000, not %d", c.oom_score_adj) end
  end
  if c.sysctl ~= nil then c.sysctl = require("ns.recipe.process").check_sysctl(what, c.sysctl, set) end
  if c.personality ~= nil then c.personality = require("ns.recipe.process").check_personality(what, c.personality) end
  if c.io_priority ~= nil then c.io_priority = require("ns.recipe.process").check_io_priority(what, c.io_priority) end
  if c.cgroup then check_cgroup(what, c.cgroup) end
  if c.cgroup_path ~= nil then
    -- PARENT/.../NAME below each hierarchy's root (an OCI cgroupsPath).
    if c.cgroup == nil then bad(what, "cgroup_path needs a cgroup (cgroup = {} for no limits)") end
    local n = 0
    for comp in c.cgroup_path:gsub("^/+", ""):gmatch("[^/]*") do
      if comp ~= "" then
        if comp == "." or comp == ".." or not comp:match("^[%w_][%w_.%-]*$") or #comp > 200 then
          bad(what, "cgroup_path %s: %q is not a safe path component (letters, digits, _ . -)", util.show(c.cgroup_path), comp)
        end
        n = n + 1
      end
    end
    if n < 2 or n > 9 or c.cgroup_path:find("//", 1, true) then
      bad(what, "cgroup_path %s: PARENT/NAME, 2 to 9 components", util.show(c.cgroup_path))
    end
  end
  if c.landlock ~= nil or c.landlock_required ~= nil then require("ns.recipe.landlock").check(what, c) end
  c.files = {}
  for _, k in ipairs({ "stdin", "stdout", "stderr" }) do
    if c[k] ~= nil then c[k] = check_fd(what, k, c[k], c.files) end
  end
  local fds = check_list(what, "preserve_fds", c.preserve_fds or {})
  c.preserve_fds = {}
  for i, fd in ipairs(fds) do c.preserve_fds[i] = check_fd(what, fmt("preserve_fds[%d]", i), fd, c.files) end
  if c.env_defaults == nil then c.env_defaults = true end
  c.environ = environment(c, check_env(what, c.env or {}))
  return c
end


M.str, M.str_list, M.check_env = str, str_list, check_env
M.check_list, M.int, M.abs_path = check_list, int, abs_path

return M
