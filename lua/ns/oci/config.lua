--- ns.oci.config: an OCI runtime-spec 1.1 config.json (Linux) as the
-- container table a recipe is, so that an OCI bundle goes the way of any
-- recipe (ns.recipe.check, ns.plan, ns.launch): one translation layer.
--
--   local oci = require "ns.oci.config"
--   local t, x = oci.table(cjson.decode(text), "/abs/bundle", {rootless, systemd_cgroup, id})
--   -- t: the container table; x: what the runtime needs beyond it:
--   --   hooks {prestart, createRuntime, createContainer, startContainer,
--   --   poststart, poststop} (lists of {path, args, env, timeout}),
--   --   annotations, oci_version, cgroups_path (resolved), terminal,
--   --   console_size {height, width}, debug (lines "field: why ignored")
--   oci.features()  -- the runtime-spec "features" document, as a table
--
-- Errors are raised as "config.json: <field path>: <reason>". Unknown
-- fields are ignored, as the spec asks; a known field that luactr cannot
-- honour is an error naming it, unless runc too lets it go (AppArmor and
-- SELinux labels where the host has neither), which is a line of x.debug.
-- JSON null counts as absent. README.md's "OCI runtime" section has the
-- mapping, field by field.
local ns = require "ns.core"
local util = require "ns.util"

local M = {}

local fmt, concat = string.format, table.concat
local tointeger, mtype = math.tointeger, math.type
local show = util.show

local NULL -- cjson.null, once cjson is loaded
do
  local ok, cjson = pcall(require, "cjson")
  if ok then NULL = cjson.null end
end

local function fail(path, f, ...) error("config.json: " .. path .. ": " .. fmt(f, ...), 0) end

-- The value of t[k], JSON null as nil.
local function get(t, k)
  local v = t[k]
  if v == NULL then return nil end
  return v
end

local function is_list(v)
  local n = #v
  for k in pairs(v) do
    if mtype(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

-- The JSON type of v, for messages.
local function jtype(v)
  if v == nil or v == NULL then return "null" end
  local ty = type(v)
  if ty == "table" then return (next(v) == nil or not is_list(v)) and "object" or "array" end
  if ty == "number" then return "number" end
  return ty
end

-- Checkers: each takes the field's path and value (nil allowed where the
-- field is optional: they return nil) and raises naming the path.
local function obj(path, v)
  if v == nil or v == NULL then return nil end
  if type(v) ~= "table" or (next(v) ~= nil and is_list(v)) then fail(path, "must be an object, not %s", jtype(v)) end
  return v
end

local function list(path, v)
  if v == nil or v == NULL then return nil end
  if type(v) ~= "table" or not is_list(v) then fail(path, "must be a list, not %s", jtype(v)) end
  return v
end

local function str(path, v)
  if v == nil or v == NULL then return nil end
  if type(v) ~= "string" then fail(path, "must be a string, not %s", jtype(v)) end
  if v:find("\0", 1, true) then fail(path, "%s has a NUL byte", show(v)) end
  return v
end

local function bool(path, v)
  if v == nil or v == NULL then return nil end
  if type(v) ~= "boolean" then fail(path, "must be true or false, not %s", jtype(v)) end
  return v
end

local function int(path, v, min, max)
  if v == nil or v == NULL then return nil end
  local n = type(v) == "number" and tointeger(v)
  if not n then fail(path, "must be an integer, not %s", type(v) == "number" and tostring(v) or jtype(v)) end
  if min and n < min then fail(path, "must be at least %d, not %d", min, n) end
  if max and n > max then fail(path, "must be at most %d, not %d", max, n) end
  return n
end

local function strings(path, v)
  v = list(path, v)
  if not v then return nil end
  local out = {}
  for i, s in ipairs(v) do out[i] = str(fmt("%s[%d]", path, i), s) end
  return out
end

local function abs(path, v)
  if v ~= nil and v:sub(1, 1) ~= "/" then fail(path, "%s must be an absolute path", show(v)) end
  return v
end

local function need(path, v, what)
  if v == nil then fail(path, "is required (%s)", what) end
  return v
end

-- The reason of a core message: "stat /x: No such file or directory (ENOENT)"
-- -> "No such file or directory".
local function reason(msg)
  return (tostring(msg):gsub("^[^:]*: ", ""):gsub(" %(E%u+%)$", ""))
end

-- A set of the list's values.
local function set(l)
  local s = {}
  for _, v in ipairs(l) do s[v] = true end
  return s
end

-- The translation under way: t the table, x the extra, d its debug lines.
local function note(x, path, why) x.debug[#x.debug + 1] = path .. ": " .. why end

-- ociVersion, root, hostname, domainname ---------------------------------

local function version(cfg, x)
  local v = need("ociVersion", str("ociVersion", get(cfg, "ociVersion")), "the spec's version, \"1.1.0\"")
  if not v:match("^1%.%d+%.%d+") then fail("ociVersion", "%s is not a version of runtime-spec 1 (1.0.0 to 1.1.0)", show(v)) end
  x.oci_version = v
end

local function root(cfg, bundle, t)
  local r = need("root", obj("root", get(cfg, "root")), "{path = the rootfs}")
  local p = need("root.path", str("root.path", get(r, "path")), "the rootfs directory")
  if p:sub(1, 1) ~= "/" then p = bundle .. "/" .. p end
  local st, msg = ns.stat(p)
  if not st then fail("root.path", "%s: %s", p, reason(msg)) end
  if st.type ~= "dir" then fail("root.path", "%s: Not a directory", p) end
  -- The OCI root is the container's as it is, and writable unless readonly.
  t.rootfs, t.overlay = p, false
  t.readonly = bool("root.readonly", get(r, "readonly")) or false
end

-- process -------------------------------------------------------------------

local CAP_SETS = { "bounding", "effective", "permitted", "inheritable", "ambient" }

--- capabilities(caps, x [, path]) -> the recipe's capabilities: the five
-- sets of caps (an OCI process.capabilities object, or nil for none) as
-- they are. As runc does, a name the kernel or libcap does not know is
-- skipped, and so is an ambient capability that is not both permitted and
-- inheritable (the kernel would refuse to raise it: runc warns and goes
-- on), each with a line in x.debug; what capset(2) refuses is an error.
function M.capabilities(caps, x, path)
  path = path or "process.capabilities"
  caps = obj(path, caps)
  if not caps then return {} end
  local known = set(ns.cap_names())
  local sets, has = {}, {}
  for _, k in ipairs(CAP_SETS) do
    local p = path .. "." .. k
    local s, seen = {}, {}
    for i, n in ipairs(strings(p, get(caps, k)) or {}) do
      local name = n:lower():gsub("^cap_", "")
      if not known[name] then
        note(x, fmt("%s[%d]", p, i), fmt("unknown capability %s skipped", show(n)))
      elseif not seen[name] then
        seen[name] = true
        s[#s + 1] = name
      end
    end
    sets[k], has[k] = s, seen
  end
  local function within(k, of, why)
    for _, n in ipairs(sets[k]) do
      if not has[of][n] then fail(path .. "." .. k, "CAP_%s is not in %s.%s (%s)", n:upper(), path, of, why) end
    end
  end
  within("effective", "permitted", "capset(2) refuses an effective capability that is not permitted")
  within("inheritable", "bounding", "capset(2) takes an inheritable capability only from the bounding set")
  local ambient = {}
  for _, n in ipairs(sets.ambient) do
    if has.permitted[n] and has.inheritable[n] then
      ambient[#ambient + 1] = n
    else
      note(x, path .. ".ambient", fmt("CAP_%s skipped: not in %s (the kernel raises only a capability both permitted and "
        .. "inheritable; runc warns and goes on)", n:upper(), has.permitted[n] and "inheritable" or "permitted"))
    end
  end
  sets.ambient = ambient
  return sets
end

local IO_CLASSES = { IOPRIO_CLASS_RT = "rt", IOPRIO_CLASS_BE = "be", IOPRIO_CLASS_IDLE = "idle" }

--- io_priority(io) -> the recipe's io_priority {class, level} of an OCI
-- process.ioPriority object, or nil for none.
function M.io_priority(io)
  io = obj("process.ioPriority", io)
  if not io then return nil end
  local want = "IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE"
  local class = need("process.ioPriority.class", str("process.ioPriority.class", get(io, "class")), want)
  if not IO_CLASSES[class] then fail("process.ioPriority.class", "%s is not %s", show(class), want) end
  local level = need("process.ioPriority.priority", int("process.ioPriority.priority", get(io, "priority"), 0, 7),
    "0 (highest) to 7")
  return { class = IO_CLASSES[class], level = level }
end

local TWO63 = 2 ^ 63

local function rlimit_value(path, v)
  if type(v) == "number" and v >= TWO63 then return "unlimited" end -- RLIM_INFINITY, as a uint64
  return need(path, int(path, v, 0), "a number")
end

local function rlimits(p, t)
  local l = list("process.rlimits", get(p, "rlimits"))
  if not l then return end
  t.rlimits = {}
  for i, r in ipairs(l) do
    local path = fmt("process.rlimits[%d]", i)
    obj(path, r)
    local ty = need(path .. ".type", str(path .. ".type", get(r, "type")), "\"RLIMIT_NOFILE\", ...")
    local name = ty:match("^RLIMIT_(%u+)$")
    name = name and name:lower()
    if not name or not pcall(function() return ns.RLIMIT[name] end) then
      local names = {}
      for k in pairs(ns.RLIMIT) do names[#names + 1] = "RLIMIT_" .. k:upper() end
      table.sort(names)
      fail(path .. ".type", "unknown rlimit %s (%s)", show(ty), concat(names, ", "))
    end
    if t.rlimits[name] then fail(path .. ".type", "%s is given twice", ty) end
    local soft, hard = rlimit_value(path .. ".soft", get(r, "soft")), rlimit_value(path .. ".hard", get(r, "hard"))
    local s, h = soft == "unlimited" and math.huge or soft, hard == "unlimited" and math.huge or hard
    if s > h then fail(path, "soft limit %s is above the hard limit %s", tostring(soft), tostring(hard)) end
    t.rlimits[name] = { soft, hard }
  end
end

local function user(p, t, x)
  local u = obj("process.user", get(p, "user")) or {}
  local uid = int("process.user.uid", get(u, "uid"), 0, 0xfffffffe) or 0
  local gid = int("process.user.gid", get(u, "gid"), 0, 0xfffffffe) or 0
  local groups = {}
  for i, g in ipairs(list("process.user.additionalGids", get(u, "additionalGids")) or {}) do
    groups[i] = int(fmt("process.user.additionalGids[%d]", i), g, 0, 0xfffffffe)
  end
  -- The ids exactly: no groups from the container's /etc/group.
  t.user = { uid = uid, gid = gid, groups = groups }
  local umask = int("process.user.umask", get(u, "umask"), 0, 511)
  if umask ~= nil then t.umask = umask end
  if get(u, "username") ~= nil then note(x, "process.user.username", "ignored: Windows only") end
  return uid
end

local function process(cfg, t, x)
  local p = obj("process", get(cfg, "process"))
  if not p then
    -- A bundle that only runs hooks (create without start) still has none:
    -- the spec makes process REQUIRED only for start.
    fail("process", "is required (the container's process: args, cwd, ...)")
  end
  local args = strings("process.args", get(p, "args"))
  if not args or #args == 0 then fail("process.args", "must be a non-empty list of strings") end
  if args[1] == "" then fail("process.args[1]", "the program is an empty string") end
  t.args = args
  local env = strings("process.env", get(p, "env")) or {}
  for i, kv in ipairs(env) do
    if not kv:match("^[^=]+=") then fail(fmt("process.env[%d]", i), "%s is not KEY=VALUE", show(kv)) end
  end
  t.env = env
  -- runc's environment: the list as it is, HOME added when it has none.
  t.env_defaults = false
  t.cwd = abs("process.cwd", need("process.cwd", str("process.cwd", get(p, "cwd")), "an absolute path"))
  t.tty = bool("process.terminal", get(p, "terminal")) or false
  x.terminal = t.tty
  local cs = obj("process.consoleSize", get(p, "consoleSize"))
  if cs then
    x.console_size = { height = int("process.consoleSize.height", get(cs, "height"), 0, 65535) or 0,
      width = int("process.consoleSize.width", get(cs, "width"), 0, 65535) or 0 }
  end
  local uid = user(p, t, x)
  t.capabilities = M.capabilities(get(p, "capabilities"), x)
  rlimits(p, t)
  t.no_new_privs = bool("process.noNewPrivileges", get(p, "noNewPrivileges")) or false
  local oom = int("process.oomScoreAdj", get(p, "oomScoreAdj"), -1000, 1000)
  if oom ~= nil then t.oom_score_adj = oom end
  for _, k in ipairs({ "apparmorProfile", "selinuxLabel" }) do
    local v = str("process." .. k, get(p, k))
    if v and v ~= "" then
      note(x, "process." .. k, fmt("ignored: %s is not supported (features: disabled)", k == "apparmorProfile" and "AppArmor" or "SELinux"))
    end
  end
  t.io_priority = M.io_priority(get(p, "ioPriority"))
  return uid
end

-- mounts --------------------------------------------------------------------

-- Options that are mount flags (ns.MS names), and those that clear one.
local FLAG_OPTS = {
  ro = "rdonly", nosuid = "nosuid", nodev = "nodev", noexec = "noexec", sync = "sync", dirsync = "dirsync",
  mand = "mandlock", noatime = "noatime", nodiratime = "nodiratime", relatime = "relatime",
  strictatime = "strictatime", lazytime = "lazytime", nosymfollow = "nosymfollow", silent = "silent",
}
local CLEAR_OPTS = {
  rw = true, suid = true, dev = true, exec = true, async = true, nomand = true, atime = true, diratime = true,
  norelatime = true, nostrictatime = true, nolazytime = true, symfollow = true, loud = true, defaults = true,
}
local PROPAGATION = { private = true, rprivate = true, shared = true, rshared = true, slave = true, rslave = true,
  unbindable = true, runbindable = true }
-- runc's recursive options (mount_setattr(2) AT_RECURSIVE): an attribute
-- set or cleared, or the atime mode, on the mount and all below it.
local RECURSIVE_OPTS = {
  rro = { "set", "rdonly" }, rrw = { "clear", "rdonly" }, rnosuid = { "set", "nosuid" }, rsuid = { "clear", "nosuid" },
  rnodev = { "set", "nodev" }, rdev = { "clear", "nodev" }, rnoexec = { "set", "noexec" }, rexec = { "clear", "noexec" },
  rnodiratime = { "set", "nodiratime" }, rdiratime = { "clear", "nodiratime" },
  rnosymfollow = { "set", "nosymfollow" }, rsymfollow = { "clear", "nosymfollow" },
  rrelatime = { "atime", "relatime" }, rnoatime = { "atime", "noatime" }, rstrictatime = { "atime", "strictatime" },
  -- the default atime mode is relatime: its opposite is that
  rnorelatime = { "atime", "strictatime" }, ratime = { "atime", "relatime" }, rnostrictatime = { "atime", "relatime" },
}
local REFUSED_OPTS = {}

-- Mount options -> {flags = {...}, data = {...}, bind, rbind, ro,
-- propagation, nodev}.
local function options(path, m)
  local o = { flags = {}, data = {}, dev = true }
  for i, opt in ipairs(strings(path .. ".options", get(m, "options")) or {}) do
    local p = fmt("%s.options[%d]", path, i)
    if REFUSED_OPTS[opt] then fail(p, "%s: %s", opt, REFUSED_OPTS[opt]) end
    if opt == "tmpcopyup" then
      o.copy_up = true
    elseif opt == "idmap" or opt == "ridmap" then
      o.idmap = opt
    elseif RECURSIVE_OPTS[opt] then
      local r = RECURSIVE_OPTS[opt]
      o.rec = o.rec or {}
      if r[1] == "atime" then
        o.rec.atime = r[2]
      else
        o.rec[r[1]] = o.rec[r[1]] or {}
        table.insert(o.rec[r[1]], r[2])
      end
    elseif opt == "bind" or opt == "rbind" then
      o.bind = opt
    elseif PROPAGATION[opt] then
      o.propagation = opt
    elseif FLAG_OPTS[opt] then
      o.flags[#o.flags + 1] = FLAG_OPTS[opt]
      if opt == "ro" then o.ro = true end
      if opt == "nodev" then o.dev = false end
    elseif CLEAR_OPTS[opt] then
      if opt == "rw" then o.ro = false end
      -- the default, but for nodev: luactr's mounts are nodev unless dev = true
    elseif opt == "remount" or opt == "move" then
      fail(p, "%s is not a mount of its own", opt)
    else
      o.data[#o.data + 1] = opt
    end
  end
  if o.ro == false then
    local f = {}
    for _, v in ipairs(o.flags) do if v ~= "rdonly" then f[#f + 1] = v end end
    o.flags = f
  end
  return o
end

-- What luactr's /dev (dev = true) makes of its own: the OCI mounts of
-- these types there are covered by it.
local DEV_COVERED = { ["/dev/pts"] = "devpts", ["/dev/shm"] = "tmpfs", ["/dev/mqueue"] = "mqueue" }

-- Trailing slashes off, "//" as "/"; a relative destination is taken
-- from / (runc's reading of the older spec).
local function clean(p)
  p = p:gsub("/+", "/")
  if #p > 1 then p = p:gsub("/$", "") end
  return p
end

local idmap -- an id mapping list's reader, with linux.uidMappings' below

local function mounts(cfg, bundle, t, x)
  local l = list("mounts", get(cfg, "mounts")) or {}
  t.proc, t.sys, t.dev, t.mounts = false, false, false, {}
  local cgroupfs
  local later = {} -- the /dev sub-mounts, known covered only once /dev is seen
  for i, m in ipairs(l) do
    local path = fmt("mounts[%d]", i)
    obj(path, m)
    local dest = need(path .. ".destination", str(path .. ".destination", get(m, "destination")), "a path in the container")
    if dest:sub(1, 1) ~= "/" then
      note(x, path .. ".destination", fmt("%s is relative: taken from /", show(dest)))
      dest = "/" .. dest
    end
    dest = clean(dest)
    local ty = str(path .. ".type", get(m, "type"))
    local src = str(path .. ".source", get(m, "source"))
    local o = options(path, m)
    local mu = idmap(path .. ".uidMappings", get(m, "uidMappings"))
    local mg = idmap(path .. ".gidMappings", get(m, "gidMappings"))
    if (mu or mg) and not (mu and mg) then
      fail(path .. (mu and ".gidMappings" or ".uidMappings"), "an idmapped mount needs uidMappings and gidMappings")
    end
    if (mu or o.idmap) and not (o.bind or ty == "bind") then
      fail(path .. ".options", "an idmapped mount is a bind mount (\"bind\" or \"rbind\")")
    end
    local bind = o.bind or ty == "bind"
    if dest == "/proc" and ty == "proc" then
      t.proc = true
      if #o.data > 0 then note(x, path .. ".options", "ignored: luactr mounts /proc with nosuid, nodev, noexec and no data") end
    elseif dest == "/sys" and (ty == "sysfs" or (bind and src == "/sys")) then
      -- A new sysfs, or the host's bound where the kernel refuses one (no
      -- net namespace of its own): what runc spec --rootless asks.
      t.sys = true
      if not o.ro then note(x, path, "approximated: luactr's /sys is always read-only") end
    elseif dest == "/dev" and ty == "tmpfs" then
      t.dev = true
      note(x, path .. ".options", "approximated: luactr's /dev is a nodev tmpfs of 64 MiB, mode 755, with the host's "
        .. "null, zero, full, random, urandom and tty bound in, devpts, shm and mqueue")
    elseif dest == "/sys/fs/cgroup" and (ty == "cgroup" or ty == "cgroup2") then
      cgroupfs = path
    elseif DEV_COVERED[dest] and ty == DEV_COVERED[dest] then
      later[#later + 1] = { i = i, path = path, dest = dest, ty = ty, src = src, o = o }
    else
      if not bind and not ty then fail(path .. ".type", "is required for a mount that is not a bind (\"tmpfs\", ...)") end
      if bind and not src then fail(path .. ".source", "is required for a bind mount") end
      local e = { target = dest, dev = o.dev or nil }
      local flags = {}
      if bind then
        if o.copy_up then fail(path .. ".options", "tmpcopyup is for a tmpfs, not a bind mount") end
        if src:sub(1, 1) ~= "/" then src = bundle .. "/" .. src end
        local st, msg = ns.stat(src)
        if not st then fail(path .. ".source", "%s: %s", src, reason(msg)) end
        flags[1] = o.bind or "bind"
        e.source = src
        -- A missing target is made: a directory, or for a file an empty
        -- file (as runc does: podman binds /run/.containerenv, /etc/hosts).
        e.mkdir = true
        if #o.data > 0 then note(x, path .. ".options", "ignored for a bind mount: " .. concat(o.data, ",")) end
      else
        e.type, e.source, e.mkdir = ty, src, true
        if o.copy_up then
          if ty ~= "tmpfs" then fail(path .. ".options", "tmpcopyup is for a tmpfs, not %s", ty) end
          e.copy_up = true
        end
        if #o.data > 0 then e.data = concat(o.data, ",") end
      end
      for _, f in ipairs(o.flags) do if f ~= "nodev" or not bind then flags[#flags + 1] = f end end
      e.flags = flags
      if mu or o.idmap then
        -- Without mappings of its own: the container's (runtime-spec).
        mu, mg = mu or (t.user and t.user.uid_map), mg or (t.user and t.user.gid_map)
        if not mu then fail(path .. ".uidMappings", "an idmapped mount without mappings needs the container's (linux.uidMappings)") end
        e.idmap = { uid_map = mu, gid_map = mg }
      end
      if o.rec then e.recursive = o.rec end
      t.mounts[#t.mounts + 1] = e
      if o.propagation then
        -- mount(2) ignores propagation given with a new mount: a second call.
        -- (dev: no nodev in a propagation change, which takes no other flag)
        t.mounts[#t.mounts + 1] = { target = dest, flags = { o.propagation }, dev = true }
      end
    end
  end
  for _, m in ipairs(later) do
    if t.dev then
      if m.dest == "/dev/mqueue" and not util.has(t.namespaces, "ipc") then
        note(x, m.path, "ignored: luactr mounts /dev/mqueue only in an ipc namespace of the container's own")
      end
      local size = m.ty == "tmpfs" and concat(m.o.data, ","):match("size=([^,]+)")
      if size and size ~= "65536k" and size ~= "64m" and size ~= "64M" then
        note(x, m.path .. ".options", fmt("approximated: /dev/shm is 64 MiB, not %s", size))
      end
    else
      -- No /dev of luactr's: mounted as given, on the root's /dev.
      local e = { target = m.dest, type = m.ty, source = m.src, flags = m.o.flags, mkdir = true, dev = m.o.dev or nil }
      if #m.o.data > 0 then e.data = concat(m.o.data, ",") end
      table.insert(t.mounts, 1, e)
    end
  end
  return cgroupfs
end

-- linux.namespaces, ids, time ------------------------------------------------

local NS_TYPES = { mount = "mnt", pid = "pid", network = "net", ipc = "ipc", uts = "uts", user = "user",
  cgroup = "cgroup", time = "time" }
local NS_ORDER = "mount, pid, network, ipc, uts, user, cgroup, time"

local function namespaces(linux, t)
  local l = list("linux.namespaces", get(linux, "namespaces")) or {}
  local out, seen = {}, {}
  for i, n in ipairs(l) do
    local path = fmt("linux.namespaces[%d]", i)
    obj(path, n)
    local ty = need(path .. ".type", str(path .. ".type", get(n, "type")), NS_ORDER)
    local name = NS_TYPES[ty]
    if not name then fail(path .. ".type", "unknown namespace type %s (%s)", show(ty), NS_ORDER) end
    if seen[name] then fail(path .. ".type", "namespace %s is given twice", show(ty)) end
    seen[name] = true
    local p = str(path .. ".path", get(n, "path"))
    if p and p ~= "" then
      -- Joined, not new: the recipe's join key (a pod's sandbox).
      if p:sub(1, 1) ~= "/" then fail(path .. ".path", "must be an absolute path, not %s", show(p)) end
      if name == "mnt" then fail(path .. ".path", "joining a mount namespace is not supported (the root is set up in a new one)") end
      local st, msg = ns.stat(p)
      if not st then fail(path .. ".path", "%s: %s", p, reason(msg)) end
      t.join = t.join or {}
      t.join[name] = p
    else
      out[#out + 1] = name
    end
  end
  if not seen.mnt then fail("linux.namespaces", "a mount namespace is needed for the root (add {\"type\": \"mount\"})") end
  t.namespaces = out
  return seen
end

function idmap(path, l)
  l = list(path, l)
  if not l or #l == 0 then return nil end
  local out = {}
  for i, r in ipairs(l) do
    local p = fmt("%s[%d]", path, i)
    obj(p, r)
    out[i] = { need(p .. ".containerID", int(p .. ".containerID", get(r, "containerID"), 0, 0xffffffff), "a number"),
      need(p .. ".hostID", int(p .. ".hostID", get(r, "hostID"), 0, 0xffffffff), "a number"),
      need(p .. ".size", int(p .. ".size", get(r, "size"), 1, 0xffffffff), "a number") }
  end
  return out
end

local function maps(linux, t, seen)
  local u = idmap("linux.uidMappings", get(linux, "uidMappings"))
  local g = idmap("linux.gidMappings", get(linux, "gidMappings"))
  if (u or g) and not seen.user then
    fail(u and "linux.uidMappings" or "linux.gidMappings", "needs a user namespace ({\"type\": \"user\"} in linux.namespaces)")
  end
  if seen.user and not (u and g) then
    fail(u and "linux.gidMappings" or "linux.uidMappings", "a user namespace needs uidMappings and gidMappings")
  end
  if not seen.user then return end
  t.user.uid_map, t.user.gid_map = u, g
  for _, k in ipairs({ "uid", "gid" }) do
    local id, mapped = t.user[k], false
    for _, r in ipairs(k == "uid" and u or g) do
      if r[1] <= id and id < r[1] + r[3] then mapped = true end
    end
    if not mapped then fail("process.user." .. k, "%d is not mapped by linux.%sMappings", id, k) end
  end
end

local function time_offsets(linux, t, seen)
  local o = obj("linux.timeOffsets", get(linux, "timeOffsets"))
  if not o then return end
  if not seen.time then fail("linux.timeOffsets", "needs a time namespace ({\"type\": \"time\"} in linux.namespaces)") end
  t.time = {}
  for _, k in ipairs({ "monotonic", "boottime" }) do
    local path = "linux.timeOffsets." .. k
    local v = obj(path, get(o, k))
    if v then
      local secs = int(path .. ".secs", get(v, "secs")) or 0
      local nsecs = int(path .. ".nanosecs", get(v, "nanosecs"), 0, 999999999) or 0
      t.time[k] = nsecs == 0 and secs or { secs, nsecs }
    end
  end
end

-- linux.resources -------------------------------------------------------------

-- OCI device rules -> the cgroup's allow-list. The spec's rules apply in
-- order over a deny-everything start (runc's emulator), the last that
-- matches winning; luactr's list is allows, so a rule that would need an
-- exception to an allow is refused.
local function device_rules(path, l, defaults)
  local all, allows = false, {}
  for i, r in ipairs(list(path, l) or {}) do
    local p = fmt("%s[%d]", path, i)
    obj(p, r)
    local allow = need(p .. ".allow", bool(p .. ".allow", get(r, "allow")), "true or false")
    local ty = str(p .. ".type", get(r, "type")) or "a"
    if ty ~= "a" and ty ~= "c" and ty ~= "b" then fail(p .. ".type", "must be \"a\", \"c\" or \"b\", not %s", show(ty)) end
    local major = int(p .. ".major", get(r, "major"), -1)
    local minor = int(p .. ".minor", get(r, "minor"), -1)
    if major == -1 then major = nil end
    if minor == -1 then minor = nil end
    local access = str(p .. ".access", get(r, "access")) or "rwm"
    if access == "" or access:find("[^rwm]") then fail(p .. ".access", "must be letters of \"rwm\", not %s", show(access)) end
    if ty == "a" and allow then
      all, allows = true, {}
    elseif ty == "a" and access:find("r") and access:find("w") and access:find("m") then
      all, allows = false, {}
    elseif allow then
      if not all then allows[#allows + 1] = { type = ty, major = major, minor = minor, access = access, allow = true } end
    else
      if all then fail(p, "a deny after allowing every device is not supported (luactr's device rules are an allow-list)") end
      local keep = {}
      for _, a in ipairs(allows) do
        local overlap = (ty == "a" or a.type == ty) and (major == nil or a.major == nil or a.major == major)
          and (minor == nil or a.minor == nil or a.minor == minor) and a.access:find("[" .. access .. "]")
        if overlap then
          local covers = (ty == "a" or a.type == ty) and (major == nil or a.major == major)
            and (minor == nil or a.minor == minor) and not a.access:find("[^" .. access .. "]")
          if not covers then fail(p, "a deny that narrows an earlier allow is not supported (luactr's device rules are an allow-list)") end
        else
          keep[#keep + 1] = a
        end
      end
      allows = keep
    end
  end
  if all then return { { type = "a", access = "rwm", allow = true } } end
  local out = {}
  for _, r in ipairs(defaults) do out[#out + 1] = r end
  for _, r in ipairs(allows) do out[#out + 1] = r end
  return out
end

-- A controller the kernel has (/proc/cgroups), for the reason of a field
-- luactr cannot set without it.
local function kernel_has(ctrl)
  for line in (ns.readfile("/proc/cgroups") or ""):gmatch("[^\n]+") do
    if line:match("^" .. ctrl .. "%s") then return true end
  end
  return false
end

local function bytes(path, v)
  if v == nil or v == NULL then return nil end
  if type(v) == "number" and v >= TWO63 then return "max" end
  local n = int(path, v, -1)
  if n == -1 then return "max" end
  if n == 0 then fail(path, "must be positive, or -1 for no limit") end
  -- "B": a count of bytes as given, however small (a bare number is taken
  -- for a unit left out below 1 MiB).
  return n < 1024 * 1024 and fmt("%dB", n) or n
end

local function resources(linux, t, x, o, devices)
  local r = obj("linux.resources", get(linux, "resources"))
  if o.rootless then
    if r and next(r) then note(x, "linux.resources", "ignored: a rootless container has no cgroup here (runc ignores it too without a delegated cgroup)") end
    return
  end
  r = r or {}
  local c = {}
  local defaults = {}
  for _, d in ipairs(require("ns.security").device_rules) do defaults[#defaults + 1] = d end
  for _, d in ipairs(devices) do
    defaults[#defaults + 1] = { type = d.type, major = d.major, minor = d.minor, access = "rwm", allow = true }
  end
  c.devices = device_rules("linux.resources.devices", get(r, "devices"), defaults)
  local m = obj("linux.resources.memory", get(r, "memory"))
  if m then
    c.memory = bytes("linux.resources.memory.limit", get(m, "limit"))
    c.memory_reservation = bytes("linux.resources.memory.reservation", get(m, "reservation"))
    c.memory_tcp = bytes("linux.resources.memory.kernelTCP", get(m, "kernelTCP"))
    local sw = get(m, "swappiness")
    -- uint64: runc takes 2^64-1 (-1 as int64) for "not set".
    if sw ~= nil and not (type(sw) == "number" and (sw == -1 or sw >= TWO63)) then
      c.memory_swappiness = int("linux.resources.memory.swappiness", sw, 0, 100)
    end
    c.memory_swap = bytes("linux.resources.memory.swap", get(m, "swap"))
    if c.memory_swap and not c.memory then
      fail("linux.resources.memory.swap", "needs a memory limit (swap is memory plus swap)")
    end
    if c.memory_swap == "max" and c.memory == "max" then c.memory_swap = nil end
    if bool("linux.resources.memory.disableOOMKiller", get(m, "disableOOMKiller")) then c.oom_kill_disable = true end
    if get(m, "kernel") ~= nil then note(x, "linux.resources.memory.kernel", "ignored: kernel memory limits are gone from the kernel (runc ignores them too)") end
    if get(m, "useHierarchy") ~= nil then note(x, "linux.resources.memory.useHierarchy", "ignored: v1 groups are hierarchical") end
  end
  local cpu = obj("linux.resources.cpu", get(r, "cpu"))
  if cpu then
    local shares = int("linux.resources.cpu.shares", get(cpu, "shares"), 0)
    if shares and shares > 0 then
      -- luactr's weight is v2's scale, written to v1 as 1024 * weight / 100.
      local w = math.max(1, math.min(10000, (shares * 100 + 512) // 1024))
      c.cpu_weight = w
      if math.max(2, math.min(262144, 1024 * w // 100)) ~= shares then
        note(x, "linux.resources.cpu.shares", fmt("approximated: %d shares as cpu_weight %d (%d shares)", shares, w, 1024 * w // 100))
      end
    end
    local quota = int("linux.resources.cpu.quota", get(cpu, "quota"), -1)
    local period = int("linux.resources.cpu.period", get(cpu, "period"), 0)
    if period and period > 0 then c.cpu_period = period end
    if quota and quota > 0 then c.cpu = quota / (period and period > 0 and period or 100000) end
    local cpus = str("linux.resources.cpu.cpus", get(cpu, "cpus"))
    if cpus and cpus ~= "" then c.cpuset = cpus end
    local mems = str("linux.resources.cpu.mems", get(cpu, "mems"))
    if mems and mems ~= "" then c.cpuset_mems = mems end
    local idle = int("linux.resources.cpu.idle", get(cpu, "idle"), 0, 1)
    if idle ~= nil then c.cpu_idle = idle == 1 end
    local burst = int("linux.resources.cpu.burst", get(cpu, "burst"), 0)
    if burst ~= nil then c.cpu_burst = burst end
    local rtr = int("linux.resources.cpu.realtimeRuntime", get(cpu, "realtimeRuntime"), -1)
    local rtp = int("linux.resources.cpu.realtimePeriod", get(cpu, "realtimePeriod"), 0)
    if rtr and rtr ~= 0 then c.cpu_rt_runtime = rtr end
    if rtp and rtp > 0 then c.cpu_rt_period = rtp end
  end
  local pids = obj("linux.resources.pids", get(r, "pids"))
  if pids then
    local n = int("linux.resources.pids.limit", get(pids, "limit"))
    c.pids = (n == nil or n <= 0) and "max" or n
  end
  local bio = obj("linux.resources.blockIO", get(r, "blockIO"))
  if bio then
    if get(bio, "leafWeight") ~= nil then
      fail("linux.resources.blockIO.leafWeight", "the kernel has no leaf weights any more (blkio.leaf_weight went with CFQ in 5.0)")
    end
    local wd = {}
    for i, d in ipairs(list("linux.resources.blockIO.weightDevice", get(bio, "weightDevice")) or {}) do
      local p = fmt("linux.resources.blockIO.weightDevice[%d]", i)
      obj(p, d)
      if get(d, "leafWeight") ~= nil then fail(p .. ".leafWeight", "the kernel has no leaf weights any more (blkio.leaf_weight went with CFQ in 5.0)") end
      local w = int(p .. ".weight", get(d, "weight"), 10, 1000)
      if w then
        wd[#wd + 1] = { major = need(p .. ".major", int(p .. ".major", get(d, "major"), 0), "a number"),
          minor = need(p .. ".minor", int(p .. ".minor", get(d, "minor"), 0), "a number"), weight = math.max(1, (w + 2) // 5) }
      end
    end
    if #wd > 0 then c.io_weight_device = wd end
    local by = {}
    local order = {}
    for field, key in pairs({ throttleReadBpsDevice = "rbps", throttleWriteBpsDevice = "wbps",
      throttleReadIOPSDevice = "riops", throttleWriteIOPSDevice = "wiops" }) do
      for i, d in ipairs(list("linux.resources.blockIO." .. field, get(bio, field)) or {}) do
        local p = fmt("linux.resources.blockIO.%s[%d]", field, i)
        obj(p, d)
        local major = need(p .. ".major", int(p .. ".major", get(d, "major"), 0), "a number")
        local minor = need(p .. ".minor", int(p .. ".minor", get(d, "minor"), 0), "a number")
        local dev = major .. ":" .. minor
        if not by[dev] then
          by[dev] = { major = major, minor = minor }
          order[#order + 1] = dev
        end
        by[dev][key] = need(p .. ".rate", int(p .. ".rate", get(d, "rate"), 0), "a number")
      end
    end
    if #order > 0 then
      table.sort(order)
      c.io_max = {}
      for _, dev in ipairs(order) do c.io_max[#c.io_max + 1] = by[dev] end
    end
    local w = int("linux.resources.blockIO.weight", get(bio, "weight"), 0, 1000)
    if w and w > 0 then
      if w < 10 then fail("linux.resources.blockIO.weight", "must be 10..1000, not %d", w) end
      -- v1's blkio.weight is 5 * io_weight (500, the default, is 100).
      c.io_weight = math.max(2, (w + 2) // 5)
      if c.io_weight * 5 ~= w then note(x, "linux.resources.blockIO.weight", fmt("approximated: %d as %d", w, c.io_weight * 5)) end
    end
  end
  local hp = list("linux.resources.hugepageLimits", get(r, "hugepageLimits"))
  if hp and #hp > 0 then
    c.hugetlb = {}
    for i, e in ipairs(hp) do
      local p = fmt("linux.resources.hugepageLimits[%d]", i)
      obj(p, e)
      local size = need(p .. ".pageSize", str(p .. ".pageSize", get(e, "pageSize")), "\"2MB\", \"1GB\"")
      if not size:match("^%d+[KMG]B$") then fail(p .. ".pageSize", "%s is not a page size (\"2MB\", \"1GB\")", show(size)) end
      local lim = get(e, "limit")
      c.hugetlb[size] = (type(lim) == "number" and lim >= TWO63) and "max"
        or fmt("%dB", need(p .. ".limit", int(p .. ".limit", lim, 0), "a number of bytes"))
    end
  end
  local u = obj("linux.resources.unified", get(r, "unified"))
  if u and next(u) then
    c.unified = {}
    for k, v in pairs(u) do c.unified[k] = str("linux.resources.unified." .. tostring(k), v) end
  end
  local rdma = obj("linux.resources.rdma", get(r, "rdma"))
  if rdma and next(rdma) then
    fail("linux.resources.rdma", kernel_has("rdma") and "is not supported (luactr sets no rdma.max)"
      or "this kernel has no rdma controller (/proc/cgroups)")
  end
  local net = obj("linux.resources.network", get(r, "network"))
  if net and (get(net, "classID") ~= nil or (get(net, "priorities") and next(get(net, "priorities")))) then
    fail("linux.resources.network", "net_cls and net_prio are cgroup v1 controllers that luactr does not mount (runc sets them only where the host mounts them); "
      .. "mark packets with nftables' socket cgroupv2 match instead")
  end
  -- What cgroup v2 has no file for, runc lets go there (a warning): so
  -- does luactr-oci, with a debug line, where the controller is not v1's.
  local ok_l, l = pcall(function() return require("ns.cgroup").layout() end)
  local v1 = ok_l and l.v1 or {}
  for k, v in pairs({ memory_swappiness = { "memory", "memory.swappiness" }, oom_kill_disable = { "memory", "memory.disableOOMKiller" },
    memory_tcp = { "memory", "memory.kernelTCP" }, cpu_rt_runtime = { "cpu", "cpu.realtimeRuntime" },
    cpu_rt_period = { "cpu", "cpu.realtimePeriod" } }) do
    if c[k] ~= nil and not v1[v[1]] then
      note(x, "linux.resources." .. v[2], "ignored: cgroup v2 has no such file (runc ignores it there too)")
      c[k] = nil
    end
  end
  local why = require("ns.cgroup.limits").check(c)
  if why then
    local key = why:match("^([%w_]+)")
    local field = ({ memory = "memory.limit", memory_swap = "memory.swap", cpu = "cpu.quota", cpu_period = "cpu.period",
      cpuset = "cpu.cpus", pids = "pids.limit", cpu_weight = "cpu.shares", io_weight = "blockIO.weight",
      memory_reservation = "memory.reservation", memory_tcp = "memory.kernelTCP", memory_swappiness = "memory.swappiness",
      cpuset_mems = "cpu.mems", cpu_burst = "cpu.burst", cpu_rt_runtime = "cpu.realtimeRuntime",
      cpu_rt_period = "cpu.realtimePeriod", hugetlb = "hugepageLimits", unified = "unified",
      io_max = "blockIO", io_weight_device = "blockIO.weightDevice" })[key] or key
    -- "unified: x is ..." names the field already.
    fail("linux.resources." .. field, "%s", (why:gsub("^" .. key .. ": ", "")))
  end
  t.cgroup = c
end

-- linux.cgroupsPath: a cgroupfs path as it is; with systemd's
-- "slice:prefix:name", the path systemd gives that unit.
local function slice_path(path, s)
  if s == "-.slice" then return "" end
  local name = s:match("^(.+)%.slice$")
  if not name or name:find("/") or name:find("^%-") or name:find("%-$") or name:find("%-%-") then
    fail(path, "%s is not a systemd slice name (\"system.slice\", \"user-1000.slice\")", show(s))
  end
  local out, prefix = {}, nil
  for part in name:gmatch("[^-]+") do
    prefix = prefix and (prefix .. "-" .. part) or part
    out[#out + 1] = "/" .. prefix .. ".slice"
  end
  return concat(out)
end

local function cgroups_path(linux, x, o)
  local p = str("linux.cgroupsPath", get(linux, "cgroupsPath"))
  if p == "" then p = nil end
  if not o.systemd_cgroup then
    x.cgroups_path = p or (o.id and "/" .. o.id) or nil
    return
  end
  p = p or (":luactr:" .. (o.id or ""))
  local slice, prefix, name = p:match("^([^:]*):([^:]*):([^:]*)$")
  if not slice or name == "" then
    fail("linux.cgroupsPath", "%s: with the systemd cgroup driver it must be \"slice:prefix:name\"", show(p))
  end
  if slice == "" then slice = o.rootless and "user.slice" or "system.slice" end
  if name:match("%.slice$") then
    x.cgroups_path = slice_path("linux.cgroupsPath", name)
  else
    x.cgroups_path = slice_path("linux.cgroupsPath", slice) .. "/" .. (prefix ~= "" and prefix .. "-" or "") .. name .. ".scope"
  end
end

-- linux.devices, sysctl, seccomp, the rest -----------------------------------

local DEV_NODES -- luactr's own nodes in /dev, by path
local function devices(linux, t, x, seen)
  local out = {}
  if not DEV_NODES then
    DEV_NODES = {}
    for _, d in ipairs(require("ns.security").dev_nodes) do DEV_NODES["/dev/" .. d[1]] = d end
  end
  for i, d in ipairs(list("linux.devices", get(linux, "devices")) or {}) do
    local p = fmt("linux.devices[%d]", i)
    obj(p, d)
    local path = clean(abs(p .. ".path", need(p .. ".path", str(p .. ".path", get(d, "path")), "a path under /dev")))
    local ty = need(p .. ".type", str(p .. ".type", get(d, "type")), "\"c\", \"b\", \"u\" or \"p\"")
    if ty ~= "c" and ty ~= "b" and ty ~= "u" and ty ~= "p" then fail(p .. ".type", "must be \"c\", \"b\", \"u\" or \"p\", not %s", show(ty)) end
    if ty == "u" then ty = "c" end
    local major = ty == "p" and (int(p .. ".major", get(d, "major"), 0) or 0)
      or need(p .. ".major", int(p .. ".major", get(d, "major"), 0, 4095), "a number")
    local minor = ty == "p" and (int(p .. ".minor", get(d, "minor"), 0) or 0)
      or need(p .. ".minor", int(p .. ".minor", get(d, "minor"), 0, 1048575), "a number")
    local mode = int(p .. ".fileMode", get(d, "fileMode"), 0, 4095)
    local uid = int(p .. ".uid", get(d, "uid"), 0)
    local gid = int(p .. ".gid", get(d, "gid"), 0)
    local own = DEV_NODES[path]
    t.devices = t.devices or {}
    if own and own[2] == ty and own[3] == major and own[4] == minor then
      -- luactr's /dev has it already
    elseif ty ~= "p" and seen.user then
      -- As runc: no mknod of a device in a user namespace, the host's node bound instead.
      local st = ns.stat(path)
      if not st or st.type ~= (ty == "c" and "chr" or "blk") or st.rdev_major ~= major or st.rdev_minor ~= minor then
        fail(p, "no host device node %s %d:%d at %s to bind, and a user namespace cannot make one", ty, major, minor, path)
      end
      if mode ~= nil or uid ~= nil or gid ~= nil then note(x, p, "approximated: the host's node keeps its own mode and owner") end
      t.devices[#t.devices + 1] = { source = path, path = path, access = "rwm" }
    else
      t.devices[#t.devices + 1] = { path = path, type = ty, major = ty ~= "p" and major or nil,
        minor = ty ~= "p" and minor or nil, mode = (mode or 438) & 511, uid = uid, gid = gid, access = "rwm" }
    end
    if ty ~= "p" then out[#out + 1] = { type = ty, major = major, minor = minor } end
  end
  return out
end

local NS_OF = { ipc = "ipc", net = "network", uts = "uts" }

local function sysctl(linux, t, seen)
  local s = obj("linux.sysctl", get(linux, "sysctl"))
  if not s or next(s) == nil then return end
  t.sysctl = {}
  for k, v in pairs(s) do
    local p = "linux.sysctl." .. tostring(k)
    str(p, v)
    local name = k:gsub("/", ".")
    local rp = require "ns.recipe.process"
    local need_ns = rp.sysctl_ns(name)
    if not need_ns then fail(p, "is not a sysctl of the container's namespaces (%s)", rp.SYSCTLS) end
    if not seen[need_ns] then
      fail(p, "needs a %s namespace of the container's own (%s in linux.namespaces)", NS_OF[need_ns], show(NS_OF[need_ns]))
    end
    t.sysctl[name] = v
  end
end

local function seccomp(linux, t, x)
  local s = obj("linux.seccomp", get(linux, "seccomp"))
  if not s then
    t.seccomp = false -- none unless given
    return
  end
  local p, extra = require("ns.security.seccomp_oci").profile(s, "config.json: linux.seccomp")
  -- runc skips the names its libseccomp does not know; so does luactr,
  -- but in an allow group it keeps those the filter allows by number.
  local lib = require "ns.seccomp"
  local newer = require("ns.security.seccomp_check").NEWER
  local groups = {}
  for i, g in ipairs(p.syscalls) do
    local names = {}
    for _, n in ipairs(g.names) do
      if lib.resolve(n) or (g.action == "allow" and newer[n]) then
        names[#names + 1] = n
      else
        note(x, fmt("linux.seccomp.syscalls[%d].names", i), fmt("unknown syscall %s skipped (libseccomp %s)", show(n), lib.version()))
      end
    end
    if #names > 0 then
      g.names = names
      groups[#groups + 1] = g
    end
  end
  p.syscalls = groups
  t.seccomp = p
  if extra then
    -- The agent's state is the container's (annotations: M.table, later).
    if extra.agent then extra.agent.state = { ociVersion = x.oci_version, id = t.name or "", bundle = x.bundle } end
    t.seccomp = { profile = p, agent = extra.agent, flags = extra.flags }
  end
end

local function paths(linux, field)
  local l = strings("linux." .. field, get(linux, field)) or {}
  for i, v in ipairs(l) do abs(fmt("linux.%s[%d]", field, i), v) end
  return l
end

-- linux.personality: the execution domain (personality(2)).
local function personality(linux, t)
  local pers = obj("linux.personality", get(linux, "personality"))
  if not pers then return end
  local domains = { LINUX = "linux", LINUX32 = "linux32" }
  local dom = need("linux.personality.domain", str("linux.personality.domain", get(pers, "domain")), "LINUX or LINUX32")
  if not domains[dom] then fail("linux.personality.domain", "%s is not LINUX or LINUX32", show(dom)) end
  local flags = strings("linux.personality.flags", get(pers, "flags"))
  if flags and #flags > 0 then
    fail("linux.personality.flags", "%s: the runtime-spec defines no personality flags yet", show(flags[1]))
  end
  t.personality = domains[dom]
end

-- linux.rootfsPropagation: the recipe's root_propagation. Without one
-- luactr's root stays rprivate (runc's default is rslave: a host's mounts
-- below the rootfs then come in; ask for it).
local PROPAGATIONS = { private = true, rprivate = true, slave = true, rslave = true, shared = true, rshared = true,
  unbindable = true, runbindable = true }
local function propagation(linux, t)
  local prop = str("linux.rootfsPropagation", get(linux, "rootfsPropagation"))
  if not prop or prop == "" then return end
  if not PROPAGATIONS[prop] then
    fail("linux.rootfsPropagation", "%s is not a propagation (private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable)", show(prop))
  end
  if prop ~= "rprivate" then t.root_propagation = prop end
end

local function rest(linux, x)
  if get(linux, "intelRdt") ~= nil then fail("linux.intelRdt", "Intel RDT is not supported") end
  local ml = str("linux.mountLabel", get(linux, "mountLabel"))
  if ml and ml ~= "" then note(x, "linux.mountLabel", "ignored: SELinux is not supported (features: disabled)") end
end

-- hooks, annotations -----------------------------------------------------------

M.HOOKS = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" }

local function hooks(cfg, x)
  local h = obj("hooks", get(cfg, "hooks")) or {}
  x.hooks = {}
  for _, kind in ipairs(M.HOOKS) do
    local out = {}
    for i, e in ipairs(list("hooks." .. kind, get(h, kind)) or {}) do
      local p = fmt("hooks.%s[%d]", kind, i)
      obj(p, e)
      local path = abs(p .. ".path", need(p .. ".path", str(p .. ".path", get(e, "path")), "an absolute path"))
      out[i] = { path = path, args = strings(p .. ".args", get(e, "args")), env = strings(p .. ".env", get(e, "env")),
        timeout = int(p .. ".timeout", get(e, "timeout"), 1) }
    end
    x.hooks[kind] = out
  end
  if #x.hooks.prestart > 0 then note(x, "hooks.prestart", "deprecated: run as createRuntime hooks are, before them") end
end

local function annotations(cfg, t, x)
  local a = obj("annotations", get(cfg, "annotations")) or {}
  x.annotations = {}
  for k, v in pairs(a) do x.annotations[k] = str("annotations." .. tostring(k), v) end
  if next(x.annotations) then
    t.labels = {}
    for k, v in pairs(x.annotations) do t.labels[k] = v end
  end
end

--- table(cfg, bundle [, o]) -> t, x: the container table of the decoded
-- config.json cfg, whose relative paths are the bundle directory's
-- (absolute); o: {rootless, systemd_cgroup, id}. Raises naming the field.
function M.table(cfg, bundle, o)
  o = o or {}
  if type(cfg) ~= "table" then error("config.json: must be a JSON object, not " .. jtype(cfg), 0) end
  obj("(top level)", cfg)
  if type(bundle) ~= "string" or bundle:sub(1, 1) ~= "/" then
    error("ns.oci.config.table: bundle must be an absolute path, not " .. show(bundle), 2)
  end
  local t, x = {}, { debug = {}, bundle = bundle }
  if o.id ~= nil then t.name = o.id end
  version(cfg, x)
  root(cfg, bundle, t)
  local linux = obj("linux", get(cfg, "linux")) or {}
  local seen = namespaces(linux, t)
  process(cfg, t, x)
  maps(linux, t, seen)
  time_offsets(linux, t, seen)
  local own_uts = seen.uts and not (t.join and t.join.uts)
  for _, k in ipairs({ "hostname", "domainname" }) do
    local v = str(k, get(cfg, k))
    if v and v ~= "" then
      if not own_uts then fail(k, "needs a uts namespace of its own ({\"type\": \"uts\"} in linux.namespaces, no path)") end
      if #v > 64 then fail(k, "%s is longer than 64 bytes", show(v)) end
      t[k] = v
    end
  end
  -- Without one, a new uts namespace keeps the host's name (luactr's
  -- default would be the container's name).
  if own_uts and not t.hostname then t.hostname = ns.gethostname() end
  local cgroupfs_at = mounts(cfg, bundle, t, x)
  local devs = devices(linux, t, x, seen)
  if t.devices and not t.dev then fail("linux.devices", "need luactr's /dev: a tmpfs mount on /dev in mounts") end
  resources(linux, t, x, o, devs)
  if cgroupfs_at then
    if t.cgroup and t.sys then
      t.cgroupfs = true
    else
      note(x, cgroupfs_at, "ignored: /sys/fs/cgroup is left empty without a cgroup and /sys")
    end
  end
  t.cgroupfs = t.cgroupfs or false
  cgroups_path(linux, x, o)
  local given = get(linux, "cgroupsPath")
  x.cgroups_path_given = (type(given) == "string" and given ~= "") or o.systemd_cgroup or nil
  sysctl(linux, t, seen)
  seccomp(linux, t, x)
  t.masked_paths = paths(linux, "maskedPaths")
  t.readonly_paths = paths(linux, "readonlyPaths")
  propagation(linux, t)
  personality(linux, t)
  rest(linux, x)
  hooks(cfg, x)
  annotations(cfg, t, x)
  if type(t.seccomp) == "table" and t.seccomp.agent then t.seccomp.agent.state.annotations = x.annotations end
  return t, x
end

--- features() -> the runtime-spec 1.1 features document (features.md),
-- listing what table() translates.
--- limits(r) -> the cgroup limits of r, an OCI LinuxResources object
-- (runc update --resources FILE): as linux.resources in a config, but
-- without the device rules unless r has some; raises naming the field.
function M.limits(r)
  local t, x = {}, { debug = {} }
  resources({ resources = r }, t, x, {}, {})
  if get(r, "devices") == nil then t.cgroup.devices = nil end
  return t.cgroup, x.debug
end

function M.features()
  local caps = {}
  for i, n in ipairs(ns.cap_names()) do caps[i] = "CAP_" .. n:upper() end
  local mount_opts = {}
  for k in pairs(FLAG_OPTS) do mount_opts[#mount_opts + 1] = k end
  for k in pairs(CLEAR_OPTS) do mount_opts[#mount_opts + 1] = k end
  for k in pairs(PROPAGATION) do mount_opts[#mount_opts + 1] = k end
  for k in pairs(RECURSIVE_OPTS) do mount_opts[#mount_opts + 1] = k end
  for _, k in ipairs({ "bind", "rbind", "tmpcopyup", "idmap", "ridmap" }) do mount_opts[#mount_opts + 1] = k end
  table.sort(mount_opts)
  local actions = { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRAP" }
  -- Each flag is the kernel's since: TSYNC 3.17, LOG 4.14, SPEC_ALLOW 4.17,
  -- WAIT_KILLABLE_RECV 6.0 (seccomp(2)).
  local known = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" }
  local since = { { 3, 17 }, { 4, 14 }, { 4, 17 }, { 6, 0 } }
  local ka, kb = (ns.readfile("/proc/sys/kernel/osrelease") or ""):match("^(%d+)%.(%d+)")
  ka, kb = tonumber(ka) or 0, tonumber(kb) or 0
  local supported = {}
  for i, f in ipairs(known) do
    local sa, sb = since[i][1], since[i][2]
    if ka > sa or (ka == sa and kb >= sb) then supported[#supported + 1] = f end
  end
  local ops = { "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE" }
  local archs = { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64" }
  return {
    ociVersionMin = "1.0.0",
    ociVersionMax = "1.1.0",
    hooks = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" },
    mountOptions = mount_opts,
    linux = {
      namespaces = { "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts" },
      capabilities = caps,
      cgroup = { v1 = true, v2 = true, systemd = false, systemdUser = false, rdma = false },
      seccomp = { enabled = true, actions = actions, operators = ops, archs = archs,
        knownFlags = known, supportedFlags = supported },
      apparmor = { enabled = false },
      selinux = { enabled = false },
      intelRdt = { enabled = false },
      mountExtensions = { idmap = { enabled = true } },
    },
    annotations = { ["org.opencontainers.runtime-spec.features.runtime"] = "luactr",
      -- --systemd-cgroup takes "slice:prefix:name" and puts the group
      -- where systemd would, on cgroupfs: luactr talks to no systemd.
      ["io.github.luactr.systemd-cgroup"] = "slice:prefix:name mapped onto cgroupfs (no systemd unit)" },
  }
end

return M
