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
local security = require "ns.security"

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

local KEYS = {
  name = "string", rootfs = "string|table|boolean", overlay = "boolean",
  keep_upper = "boolean", chroot = "boolean", hostname = "string",
  namespaces = "table", user = "table|boolean", mounts = "table",
  proc = "boolean", sys = "boolean", dev = "boolean", env = "table",
  cwd = "string", args = "table", tty = "boolean", capabilities = "table|string",
  no_new_privs = "boolean", inside = "function|table", parent = "function|table",
  init = "boolean", cgroup = "table", time = "table", rlimits = "table",
  readonly = "boolean", domainname = "string", stdin = "userdata|number",
  stdout = "userdata|number", stderr = "userdata|number",
  masked_paths = "table", readonly_paths = "table", preserve_fds = "table",
  devices = "table",
}

local MOUNT_KEYS = { source = true, target = true, type = true, flags = true, data = true, mkdir = true, dev = true }
local USER_KEYS = { uid_map = true, gid_map = true, uid = true, gid = true }
local TIME_KEYS = { monotonic = true, boottime = true }
local DEVICE_KEYS = { path = true, source = true, access = true }
local NAMESPACES = { cgroup = true, ipc = true, mnt = true, net = true, pid = true, time = true, user = true, uts = true }

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out, function(a, b) return tostring(a) < tostring(b) end)
  return out
end

-- v for an error message: one short line, with the length when cut, so
-- that a megabyte of bad input gives a line of error.
local function show(v)
  if type(v) ~= "string" then return tostring(v) end
  local s = fmt("%q", v:sub(1, 48)):gsub("\\\n", "\\n")
  if #v > 48 then s = s .. fmt("... (%d bytes)", #v) end
  return s
end

-- A name in an "unknown ..." message, quoted as the core quotes its names.
local function quoted(v)
  if type(v) ~= "string" then return show(v) end
  return "'" .. show(v):sub(2, -2) .. "'"
end

local function bad(what, f, ...) error(what .. ": " .. fmt(f, ...), 0) end

-- Edit distance of a and b (both short).
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- What "(valid: ...)" says for an unknown name v: every name when there
-- are few, else the nearest few and where to find the rest, so that the
-- error stays a line.
local function choices(v, valid, rest)
  local names = sorted_keys(valid)
  if #names <= 16 then return "valid: " .. concat(names, ", ") end
  local s = tostring(v):sub(1, 64):lower()
  local d = {}
  for _, n in ipairs(names) do d[n] = distance(s, tostring(n)) end
  table.sort(names, function(a, b) if d[a] ~= d[b] then return d[a] < d[b] end return tostring(a) < tostring(b) end)
  return fmt("nearest: %s; %d in all: %s", concat(names, ", ", 1, 4), #names, rest)
end

local function check_keys(what, t, valid)
  for k in pairs(t) do
    if not valid[k] then
      bad(what, "unknown key %s (%s)", quoted(k), choices(k, valid, "see README.md"))
    end
  end
end

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
    out[i] = str(what, fmt("%s[%d]", key, i), v)
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

local MS_NAMES -- made on first use

local function check_mount(what, i, m)
  local w = fmt("%s: mounts[%d]", what, i)
  if type(m) ~= "table" then error(fmt("%s must be a table, not a %s", w, type(m)), 0) end
  check_keys(w, m, MOUNT_KEYS)
  if m.target == nil then error(w .. " needs a target path", 0) end
  local out = { target = str(w, "target", m.target), mkdir = m.mkdir, dev = m.dev }
  for _, k in ipairs({ "source", "type", "data" }) do
    if m[k] ~= nil then out[k] = str(w, k, m[k]) end
  end
  for _, k in ipairs({ "mkdir", "dev" }) do
    if m[k] ~= nil and type(m[k]) ~= "boolean" then bad(w, "%s must be a boolean, not a %s", k, type(m[k])) end
  end
  local flags = m.flags
  if type(flags) == "string" then flags = { flags } end
  out.flags = flags == nil and {} or str_list(w, "flags", flags)
  if #out.flags > 0 and not MS_NAMES then
    MS_NAMES = {}
    for k in pairs(ns.MS) do MS_NAMES[k] = true end
  end
  for _, f in ipairs(out.flags) do
    if not MS_NAMES[f] then bad(w, "unknown mount flag %s (%s)", quoted(f), choices(f, MS_NAMES, "ns.MS")) end
  end
  return out
end

local function check_idmap(what, key, map)
  check_list(what, key, map)
  if #map == 0 then bad(what, "%s is empty", key) end
  for i, r in ipairs(map) do
    local k = fmt("%s[%d]", key, i)
    check_list(what, k, r)
    if #r ~= 3 then bad(what, "%s must be {inside, outside, count}", k) end
    int(what, k .. "[1]", r[1], 0); int(what, k .. "[2]", r[2], 0); int(what, k .. "[3]", r[3], 1)
  end
  return map
end

local function check_rlimit(what, name, v)
  local key = "rlimits." .. tostring(name)
  local function one(k, x)
    if x == "unlimited" or x == math.huge then return math.huge end
    return int(what, k, x, 0)
  end
  if type(v) == "table" then
    check_list(what, key, v)
    if #v ~= 2 then bad(what, "%s must be a number or {soft, hard}", key) end
    local soft, hard = one(key .. "[1]", v[1]), one(key .. "[2]", v[2])
    if soft > hard then bad(what, "%s: soft limit %s is above the hard limit %s", key, tostring(soft), tostring(hard)) end
    return { soft, hard }
  end
  local n = one(key, v)
  return { n, n }
end

local CAP_NAMES
local DEFAULT_CAPS -- the checked copy of M.default_capabilities, made once
local function check_caps(what, v)
  if v == "all" then return "all" end
  if v == M.default_capabilities and DEFAULT_CAPS then return DEFAULT_CAPS end
  if v == "none" then return {} end
  if type(v) == "string" then bad(what, "capabilities must be \"all\", \"none\" or a list of names, not %s", show(v)) end
  local names = str_list(what, "capabilities", v)
  if not CAP_NAMES then
    CAP_NAMES = {}
    for _, n in ipairs(ns.cap_names()) do CAP_NAMES[n] = true end
  end
  for i, n in ipairs(names) do
    local k = n:lower():gsub("^cap_", "")
    if not CAP_NAMES[k] then
      bad(what, "unknown capability %s (%s)", quoted(n), choices(n, CAP_NAMES, "ns.cap_names()"))
    end
    names[i] = k
  end
  if v == M.default_capabilities then DEFAULT_CAPS = names end
  return names
end

local function check_env(what, env)
  local out = {}
  local n = #env
  for k, v in pairs(env) do
    if math.type(k) == "integer" and k >= 1 and k <= n then
      local s = str(what, fmt("env[%d]", k), v)
      local key, val = s:match("^([^=]+)=(.*)$")
      if not key then bad(what, "env[%d] %s is not KEY=VALUE", k, show(s)) end
      out[#out + 1] = { key, val }
    elseif type(k) == "string" then
      if k == "" or k:find("=", 1, true) then bad(what, "env key %s must be a name without '='", show(k)) end
      str(what, "env key", k)
      if type(v) ~= "string" and type(v) ~= "number" then
        bad(what, "env.%s must be a string or a number, not a %s", show(k):sub(2, -2), type(v))
      end
      out[#out + 1] = { k, str(what, "env." .. k, tostring(v)) }
    else
      bad(what, "env must be a list of \"KEY=VALUE\" or a map KEY = value, but has key %s", show(k))
    end
  end
  return out
end

local function check_fd(what, key, v)
  if type(v) == "number" then return int(what, key, v, 0) end
  if getmetatable(v) == nil or type(v) ~= "userdata" or not pcall(v.fileno, v) or not v:fileno() then
    bad(what, "%s must be an open ns.fd handle or an fd number", key)
  end
  return v
end

local function check_device(what, i, d)
  local key = fmt("devices[%d]", i)
  if type(d) == "string" then d = { source = d } end
  if type(d) ~= "table" then bad(what, "%s must be a host device path or a table", key) end
  check_keys(what .. ": " .. key, d, DEVICE_KEYS)
  local src = abs_path(what, key .. ".source", d.source)
  local st, msg = ns.stat(src)
  if not st then bad(what, "%s: %s", key, msg) end
  if st.type ~= "chr" and st.type ~= "blk" then bad(what, "%s: %s is not a device node", key, show(src)) end
  local path = d.path == nil and src or abs_path(what, key .. ".path", d.path)
  if not path:match("^/dev/[^/]") or path:find("/%.%.?/") or path:find("/%.%.?$") then
    bad(what, "%s.path %s must be a path under /dev", key, show(path))
  end
  local access = d.access == nil and "rwm" or str(what, key .. ".access", d.access)
  if access == "" or access:find("[^rwm]") then bad(what, "%s.access %s must be letters of \"rwm\"", key, show(access)) end
  return { source = src, path = path, access = access, type = st.type == "chr" and "c" or "b",
    major = st.rdev_major, minor = st.rdev_minor }
end

local function is_root_user() return select(2, ns.getuid()) == 0 end

local function random_id()
  local f = io.open("/dev/urandom", "rb")
  local s = f:read(6)
  f:close()
  return (s:gsub(".", function(c) return fmt("%02x", c:byte()) end))
end

local function environment(c, list)
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
  for _, kv in ipairs(list) do env[kv[1]] = kv[2] end
  return env
end

-- The defaults, filled into a checked copy of the user's table.
local function normalize(t)
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
  if c.rootfs == nil or c.rootfs == true then c.rootfs = "busybox" end
  if type(c.rootfs) == "string" then c.rootfs = str(what, "rootfs", c.rootfs) end
  if type(c.rootfs) == "table" then
    c.rootfs = str_list(what, "rootfs", c.rootfs)
    if #c.rootfs == 0 then bad(what, "rootfs is an empty list of layers") end
  end
  if c.overlay == nil then c.overlay = c.rootfs ~= false end
  c.namespaces = str_list(what, "namespaces", c.namespaces or M.default_namespaces)
  local set = {}
  for _, n in ipairs(c.namespaces) do
    if not NAMESPACES[n] then bad(what, "unknown namespace %s (%s)", quoted(n), choices(n, NAMESPACES)) end
    set[n] = true
  end
  if c.user and not set.user then set.user = true end
  if c.time and not set.time then set.time = true end
  c.nsset = set
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
  local mounts = check_list(what, "mounts", c.mounts or {})
  c.mounts = {}
  for i, m in ipairs(mounts) do c.mounts[i] = check_mount(what, i, m) end
  c.masked_paths = c.masked_paths or security.masked_paths
  c.readonly_paths = c.readonly_paths or security.readonly_paths
  for _, k in ipairs({ "masked_paths", "readonly_paths" }) do
    c[k] = str_list(what, k, c[k])
    for i, p in ipairs(c[k]) do abs_path(what, fmt("%s[%d]", k, i), p) end
  end
  if not c.proc and not c.sys then c.masked_paths, c.readonly_paths = {}, {} end
  local devices = check_list(what, "devices", c.devices or {})
  c.devices = {}
  for i, d in ipairs(devices) do c.devices[i] = check_device(what, i, d) end
  if #c.devices > 0 and not c.dev then bad(what, "devices need the container's /dev (dev = true)") end
  local mounting = c.rootfs ~= false or c.proc or c.sys or c.dev or #c.mounts > 0
  if mounting and not set.mnt then
    bad(what, "a rootfs or mounts need the mnt namespace (add \"mnt\" to namespaces)")
  end
  if c.chroot and c.rootfs == false then bad(what, "chroot needs a rootfs") end
  if c.user then
    if c.user == true then c.user = {} end
    check_keys(what .. ": user", c.user, USER_KEYS)
    -- Default maps: root inside is you outside; run as root, it is uid
    -- 100000 with 65536 ids, the usual first subordinate range, so that
    -- root inside is nobody on the host.
    local u = {}
    for k, v in pairs(c.user) do u[k] = v end
    local uid, gid = select(2, ns.getuid()), select(2, ns.getgid())
    u.uid_map = check_idmap(what, "user.uid_map", u.uid_map or (uid == 0 and { { 0, 100000, 65536 } } or { { 0, uid, 1 } }))
    u.gid_map = check_idmap(what, "user.gid_map", u.gid_map or (uid == 0 and { { 0, 100000, 65536 } } or { { 0, gid, 1 } }))
    if u.uid ~= nil then int(what, "user.uid", u.uid, 0) end
    if u.gid ~= nil then int(what, "user.gid", u.gid, 0) end
    c.user = u
  end
  if c.time then
    check_keys(what .. ": time", c.time, TIME_KEYS)
    for k, v in pairs(c.time) do int(what, "time." .. k, v) end
  end
  c.args = str_list(what, "args", c.args or { "/bin/sh" })
  if #c.args == 0 then bad(what, "args is empty") end
  c.cwd = str(what, "cwd", c.cwd or "/")
  c.capabilities = check_caps(what, c.capabilities == nil and M.default_capabilities or c.capabilities)
  if c.no_new_privs == nil then c.no_new_privs = true end
  if c.tty == nil then c.tty = ns.isatty(0) and ns.isatty(1) end
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
  for _, k in ipairs({ "stdin", "stdout", "stderr" }) do
    if c[k] ~= nil then check_fd(what, k, c[k]) end
  end
  c.preserve_fds = check_list(what, "preserve_fds", c.preserve_fds or {})
  for i, fd in ipairs(c.preserve_fds) do check_fd(what, fmt("preserve_fds[%d]", i), fd) end
  c.environ = environment(c, check_env(what, c.env or {}))
  return c
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

local function list(v)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  return v
end

-- Paths inside the container.
--
-- Every path a recipe names for inside the container is opened below the
-- container's root with openat2(RESOLVE_IN_ROOT): "..", absolute symlinks
-- and symlinks that point out of the image all resolve inside it, as they
-- will after pivot_root. What is mounted there then targets the opened fd
-- through /proc/self/fd (the host's /proc, still at /proc before
-- pivot_root), so the image's path is never walked a second time.

local function has(t, v)
  for _, x in ipairs(t) do if x == v then return true end end
  return false
end

local function fdpath(h) return "/proc/self/fd/" .. h:fileno() end

-- msg with the fd path of a target put back as the container's path p.
local function in_msg(msg, p)
  return (tostring(msg):gsub("/proc/self/fd/%d+", (p:gsub("%%", "%%%%"))))
end

local ENOENT = ns.E.ENOENT

-- Make the directories of p that are missing, each inside x.rootfd (mkdir
-- -p, resolving as RESOLVE_IN_ROOT does): ".." stops at the root, and a
-- symlink on the way, dangling ones included, is followed inside the root,
-- so that what it points to is made there and never on the host.
local function mkdir_in(x, p)
  local todo, cur, links = {}, {}, 0
  for comp in p:gmatch("[^/]+") do todo[#todo + 1] = comp end
  local i = 1
  while i <= #todo do
    local comp = todo[i]
    i = i + 1
    if comp == ".." then
      cur[#cur] = nil
    elseif comp ~= "." then
      local parent <close> = must("openat2", ns.openat2(x.rootfd, #cur > 0 and concat(cur, "/") or ".",
        { "path", "directory" }, "in_root"))
      local at = fdpath(parent) .. "/" .. comp
      local st = ns.stat(at, "nofollow")
      if not st then
        -- mkdir never follows its last component: it is made right here.
        local ok, msg, e = ns.mkdir(at, "0755")
        if not ok and e ~= ns.E.EEXIST then error(fmt("mkdir %s: %s", p, (tostring(msg):gsub("^.-: ", ""))), 0) end
        cur[#cur + 1] = comp
      elseif st.type == "link" then
        links = links + 1
        if links > 40 then error(fmt("mkdir %s: Too many levels of symbolic links (ELOOP)", p), 0) end
        local target = must("readlink", ns.readlink(at))
        if target:sub(1, 1) == "/" then cur = {} end
        local rest = {}
        for c2 in target:gmatch("[^/]+") do rest[#rest + 1] = c2 end
        for j = i, #todo do rest[#rest + 1] = todo[j] end
        todo, i = rest, 1
      elseif st.type == "dir" then
        cur[#cur + 1] = comp
      else
        error(fmt("mkdir %s: /%s is not a directory (ENOTDIR)", p, concat(cur, "/") .. (#cur > 0 and "/" or "") .. comp), 0)
      end
    end
  end
end

-- An O_PATH handle of p inside x.rootfd. With mkdir, missing directories
-- on the way are made first (mkdir_in); with optional, a missing p gives
-- nil. Other failures raise, naming p.
local function inroot(x, p, mkdir, optional)
  local rel = p:gsub("^/+", "")
  if rel == "" then rel = "." end
  local h, msg, e = ns.openat2(x.rootfd, rel, { "path" }, "in_root")
  if h then return h end
  if e == ENOENT and mkdir then
    mkdir_in(x, p)
    h, msg, e = ns.openat2(x.rootfd, rel, { "path" }, "in_root")
    if h then return h end
  end
  if e == ENOENT and optional then return nil end
  error(fmt("%s: %s", p, (tostring(msg):gsub("^openat2 [^:]*: ", ""))), 0)
end

-- The container's root, for where() and inroot(): its path (x.top, "" for
-- "/"), an O_PATH handle of it, and the mounts of our own below it.
local function set_root(x, path)
  x.rootfd = must("open", ns.open(path, { "path", "directory" }))
  x.top = path == "/" and "" or path:gsub("/+$", "")
  x.ours, x.keep = {}, {}
end

-- The default masked and read-only paths: fixed names below the proc and
-- sysfs mounts the child makes itself, with no symlink of the image's (nor
-- a magic link such as /proc/self/root) on the way.
local KNOWN = { ["/proc/sys/net"] = true }
for _, p in ipairs(security.masked_paths) do KNOWN[p] = true end
for _, p in ipairs(security.readonly_paths) do KNOWN[p] = true end

-- The path by which the child reaches p inside the container, and the
-- handle that keeps that path valid (nil for a plain path). A plain path
-- is used where the image cannot have put a symlink on the way: p is one
-- entry of the root that is not a symlink, or one of the KNOWN paths below
-- a mount the child made itself on such an entry (x.ours: proc, sys).
-- Anything else, every other path a recipe gives included, is opened with
-- inroot, and its path is the fd's. With optional, a p that is not there
-- gives nil (or, for a KNOWN path, one the caller's call finds missing).
local function where(x, p, mkdir, optional)
  local top, rest = p:match("^/+([^/]+)(.*)$")
  if top and top ~= "." and top ~= ".." then
    if rest:match("^/*$") then
      local at = x.top .. "/" .. top
      local st = ns.stat(at, "nofollow")
      if st and st.type ~= "link" then return at end
    elseif KNOWN[p] and x.ours[top] then
      return x.ours[top] .. rest
    end
  end
  local h = inroot(x, p, mkdir, optional)
  if not h then return nil end
  return fdpath(h), h
end

-- mount(source, p inside the root, ...) -> the path it was mounted on
-- (see where) and its handle. Raises naming p, or with soft returns the
-- core's triple instead.
local function mount_in(x, p, source, fstype, flags, data, soft, mkdir)
  local at, h = where(x, p, mkdir)
  local ok, msg, e = ns.mount(source, at, fstype, flags, data)
  if soft and not ok then
    if h then h:close() end
    return ok, msg, e
  end
  if not ok then
    if h then h:close() end
    error(in_msg(msg, p), 0)
  end
  return at, h
end

-- Mount a kernel filesystem (proc, sysfs, /dev's tmpfs) on /name and note
-- where, so that the KNOWN paths below it need no resolving (where).
-- Returns the path of the new mount's root.
local function mount_ours(x, name, source, fstype, flags, data)
  local at, h = mount_in(x, "/" .. name, source, fstype, flags, data)
  if h then
    -- Reached through a symlink of the image: reopen to get the new
    -- mount (the handle is the directory under it), and keep that fd.
    h:close()
    h = inroot(x, "/" .. name)
    x.keep[#x.keep + 1] = h
    at = fdpath(h)
  end
  x.ours[name] = at
  return at
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
    step("parent", "cgroup create (with the device allow-list)", function(x)
      local cgroup = require("ns.cgroup")
      local limits = {}
      for k, v in pairs(c.cgroup) do limits[k] = v end
      if limits.devices == nil then
        -- Mknod of any node, but only docker's few and the recipe's
        -- devices may be opened.
        local rules = {}
        for i, r in ipairs(security.device_rules) do rules[i] = r end
        for _, d in ipairs(c.devices) do
          rules[#rules + 1] = { type = d.type, major = d.major, minor = d.minor, access = d.access, allow = true }
        end
        limits.devices = rules
      end
      x.cg = cgroup.create(c.name, limits)
    end, function(x) if x.cg then x.cg:remove() end end)
  end
  local cloned = {}
  for _, n in ipairs(sorted_keys(c.nsset)) do
    if n ~= "time" and n ~= "cgroup" then cloned[#cloned + 1] = n end
  end
  step("parent", "clone " .. concat(cloned, ","), nil)

  -- child
  step("child", "wait for parent", function(x) x.wait_go() end)
  step("child", "session keyring (new, empty)", function()
    -- The host's session keyring is inherited across clone: a keyring of
    -- the container's own hides the host's keys from it.
    must("keyctl", ns.keyctl_join_session())
  end)
  if c.nsset.cgroup then
    -- Unshared only now that the parent has put us in our group, so that
    -- the namespace's root is the group: the container sees it as "/".
    step("child", "cgroup namespace", function() must("unshare", ns.unshare({ "cgroup" })) end)
  end
  if c.user then
    step("child", "become " .. (c.user.uid or 0) .. ":" .. (c.user.gid or 0), function(x)
      become(c.user)
      x.rearm()
    end)
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
  if c.rootfs ~= false then
    if c.overlay and not c.keep_upper then
      step("child", "mount overlay (upper layer on a private tmpfs)", function(x)
        local t = x.state
        must("mount", ns.mount("tmpfs", t, "tmpfs", { "nodev" }, "mode=0755"))
        must("mkdir", ns.mkdir(t .. "/upper", "0755"))
        must("mkdir", ns.mkdir(t .. "/work", "0700"))
        must("mkdir", ns.mkdir(t .. "/merged", "0755"))
        x.root = t .. "/merged"
        must("mount", ns.mount("overlay", x.root, "overlay", { "nodev" },
          fmt("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", x.lower, t, t)))
        set_root(x, x.root)
      end)
    elseif c.overlay then
      step("child", "mount overlay", function(x)
        must("mount", ns.mount("overlay", x.root, "overlay", { "nodev" }, x.ov.options))
        set_root(x, x.root)
      end)
    else
      step("child", "bind rootfs (nodev)", function(x)
        must("mount", ns.mount(x.root, x.root, nil, { "bind", "rec" }))
        must("mount_setattr", ns.mount_setattr(x.root, { "nodev" }, nil, "recursive"))
        set_root(x, x.root)
      end)
    end
  elseif c.nsset.mnt then
    step("child", "root /", function(x) set_root(x, "/") end)
  end
  if c.proc then
    step("child", "mount proc on /proc", function(x)
      mount_ours(x, "proc", "proc", "proc", { "nosuid", "nodev", "noexec" })
    end)
  end
  if c.sys then
    step("child", "mount sysfs on /sys (read-only)", function(x)
      local flags = { "nosuid", "nodev", "noexec", "rdonly" }
      local ok, msg, e = pcall(mount_ours, x, "sys", "sysfs", "sysfs", flags)
      if not ok and tostring(msg):find("(EPERM)", 1, true) then
        -- Without our own net namespace the kernel refuses a new sysfs: bind the host's.
        local at = mount_ours(x, "sys", "/sys", nil, { "rbind" })
        must("mount_setattr", ns.mount_setattr(at, { "rdonly", "nodev", "nosuid", "noexec" }, nil, "recursive"))
      elseif not ok then
        error(msg, 0)
      end
    end)
  end
  if c.dev then
    step("child", "minimal /dev (nodev tmpfs, host nodes bound in)", function(x)
      -- Everything below is made inside the new tmpfs itself, never by
      -- walking the image's path to it again.
      local dev = mount_ours(x, "dev", "tmpfs", "tmpfs", { "nosuid", "nodev", "noexec", "strictatime" }, "mode=755,size=65536k")
      local function bind_node(src, name)
        local p = dev .. "/" .. name
        must("create /dev/" .. name, ns.writefile(p, "", { create = true, mode = "0666" }))
        local ok, msg = ns.mount(src, p, nil, { "bind" })
        must("mount", ok, msg and in_msg(msg, "/dev/" .. name))
      end
      for _, d in ipairs(security.dev_nodes) do bind_node("/dev/" .. d[1], d[1]) end
      for _, d in ipairs(c.devices) do
        local rel = d.path:sub(6) -- below /dev/
        local parent = rel:match("^(.*)/[^/]+$")
        if parent then must("mkdir", ns.mkdir(dev .. "/" .. parent, "0755", true)) end
        bind_node(d.source, rel)
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
      local bind, rec, ro = false, false, false
      for _, f in ipairs(m.flags) do
        if f == "bind" or f == "rbind" then bind = true end
        if f == "rbind" or f == "rec" then rec = true end
        if f == "rdonly" then ro = true end
      end
      local flags = m.flags
      if not m.dev and not bind then flags = { "nodev", table.unpack(flags) } end
      local _, h <close> = mount_in(x, m.target, m.source or m.type or "none", m.type, flags, m.data, false, m.mkdir)
      if bind and (ro or not m.dev) then
        -- A bind mount takes its flags from its source: set ours on it,
        -- leaving the rest (and the flags a user namespace locks) alone.
        local set = {}
        if ro then set[#set + 1] = "rdonly" end
        if not m.dev then set[#set + 1] = "nodev" end
        local at, t <close> = where(x, m.target)
        local ok, msg = ns.mount_setattr(at, set, nil, rec and "recursive" or nil)
        must("mount_setattr", ok, msg and in_msg(msg, m.target))
      end
    end)
  end
  if #c.readonly_paths > 0 then
    step("child", "read-only paths (" .. #c.readonly_paths .. ")", function(x)
      -- Each: a bind mount over itself, then read-only (where() resolves
      -- the path again, so the attribute goes on the new mount).
      local function readonly(p, set, clear)
        local at, t <close> = where(x, p, false, true)
        if not at then return end
        local ok, msg, e = ns.mount(at, at, nil, { "rbind" })
        if e == ENOENT then return end -- not on this kernel
        must("mount", ok, msg and in_msg(msg, p))
        local at2, t2 <close> = where(x, p)
        ok, msg = ns.mount_setattr(at2, set, clear, "recursive")
        must("mount_setattr", ok, msg and in_msg(msg, p))
      end
      for _, p in ipairs(c.readonly_paths) do readonly(p, { "rdonly", "nosuid", "nodev" }) end
      if c.nsset.user and c.nsset.net and has(c.readonly_paths, "/proc/sys") then
        -- The net namespace belongs to the container's user namespace, so
        -- its sysctls are the container's own, as docker allows: writable.
        readonly("/proc/sys/net", nil, { "rdonly" })
      end
    end)
  end
  if #c.masked_paths > 0 then
    step("child", "masked paths (" .. #c.masked_paths .. ")", function(x)
      local empty -- one read-only empty tmpfs, bound over every masked directory
      for _, p in ipairs(c.masked_paths) do
        local at, t <close> = where(x, p, false, true)
        local st = at and ns.stat(at)
        if st then
          local ok, msg
          if st.type ~= "dir" then
            ok, msg = ns.mount("/dev/null", at, nil, { "bind" })
          elseif empty then
            ok, msg = ns.mount(empty, at, nil, { "bind" })
          else
            ok, msg = ns.mount("tmpfs", at, "tmpfs", { "rdonly", "nosuid", "nodev", "noexec" }, "size=0,mode=0555")
            if ok then
              -- A fd path names the directory under the new mount: bind
              -- from a plain path, or from a reopened handle.
              if t then
                local e2 = inroot(x, p)
                x.keep[#x.keep + 1] = e2
                empty = fdpath(e2)
              else
                empty = at
              end
            end
          end
          must("mount", ok, msg and in_msg(msg, p))
        end
      end
    end)
  end
  if c.rootfs ~= false then
    if c.readonly then
      step("child", "read-only root", function(x)
        must("mount_setattr", ns.mount_setattr(x.rootfd, { "rdonly" }))
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
  for _, name in ipairs(sorted_keys(c.rlimits)) do
    local v = c.rlimits[name]
    step("child", "rlimit " .. name, function() must("setrlimit", ns.setrlimit(name, v[1], v[2])) end)
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
  step("child", fmt("fds (0-2%s, the rest closed at exec)",
    #c.preserve_fds > 0 and fmt(" and %d preserved as 3-%d", #c.preserve_fds, 2 + #c.preserve_fds) or ""), function()
    -- Whatever luactr's caller left open without close-on-exec would
    -- reach the container (a pipe, a directory fd on the host's /): mark
    -- every fd from 3 up close-on-exec, from here on, so that what the
    -- hooks start gets none of them either. Preserved fds are then dup2'd
    -- to 3, 4, ... in their order (dup2 clears close-on-exec); each goes
    -- first to a number above those, so that none is overwritten before
    -- it is copied.
    must("close_range", ns.close_range(3, nil, "cloexec"))
    local n = #c.preserve_fds
    local tmp = {}
    for i, fd in ipairs(c.preserve_fds) do tmp[i] = must("dup", ns.dup(fd, 3 + n)) end
    for i, fd in ipairs(tmp) do
      must("dup2", ns.dup2(fd, 2 + i))
      fd:close()
    end
  end)
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

-- e as one line of text, whatever e is (an error object whose __tostring
-- fails or returns no string included), at most 4 KiB: what the child
-- sends as a step's failure.
local function errtext(e)
  local ok, s = pcall(tostring, e)
  if not ok or type(s) ~= "string" then s = fmt("(a %s error that tostring() cannot convert)", type(e)) end
  if #s > 4096 then s = s:sub(1, 4096) .. fmt("... (%d bytes)", #s) end
  return (s:gsub("[\\\n]", { ["\\"] = "\\\\", ["\n"] = "\\n" }))
end

local function untext(s)
  return (s:gsub("\\(.)", { ["\\"] = "\\", n = "\n" }))
end

-- The reaper that init = true puts in front of the command: PID 1 stays
-- here and its child goes on to exec. It forwards signals to that child,
-- reaps every orphan, and ends with the child's status. It is not
-- dumpable, so nothing in the container can ptrace it or open its
-- /proc/1/exe (the host's luactr binary).
local function reaper(pid, pidfd)
  collectgarbage("restart") -- it lives as long as the container
  must("prctl", ns.prctl("dumpable", false))
  local sigs = { "CHLD" } -- wakes the reaper for orphans that end
  for _, n in ipairs(M.forwarded_signals) do sigs[#sigs + 1] = n end
  local sigfd = must("signalfd", ns.signalfd(sigs))
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

-- The child's steps, then exec. Returns only by raising: the caller ends
-- the child, so that it never returns into the recipe.
local function child_main(c, steps, x, sock, first)
  -- A parent that dies before this is seen by "wait for parent" (its end
  -- of the socket closes); after it, pdeathsig ends the child.
  must("prctl", ns.prctl("pdeathsig", "KILL"))
  x.wait_go = function()
    local b = sock:read(1)
    if b ~= "g" then error("parent went away before the start signal", 0) end
  end
  x.rearm = function()
    -- A change of the effective ids clears the parent-death signal: set
    -- it again, then check that the parent did not die in between. It
    -- writes nothing after "g", so a readable socket is its end closing.
    must("prctl", ns.prctl("pdeathsig", "KILL"))
    if #ns.poll({ sock }, 0) > 0 then error("parent went away during setup", 0) end
  end
  x.start_init = function()
    local pid, pidfd = ns.clone({})
    if not pid then error(pidfd, 0) end
    if pid ~= 0 then
      sock:close()
      local ok, err = pcall(reaper, pid, pidfd)
      io.stderr:write("luactr: init: ", errtext(err), "\n")
      ns.kill(pidfd, "KILL")
      ns._exit(ok and 0 or 125)
    end
  end
  must("sigmask", ns.sigmask("set", {}))
  -- Step times are kept here and go to the parent in one write, with the
  -- exec mark or the failure: one wake-up of luactr, not one a step.
  local report = x.report
  local exec_step = #steps
  for i = first, exec_step - 1 do
    x.step = i
    local t0 = ns.clock()
    steps[i].run(x)
    report[#report + 1] = fmt("T%d\t%.9f\n", i, ns.clock() - t0)
  end
  x.step = exec_step
  report[#report + 1] = fmt("X%.9f\n", ns.clock())
  sock:write(concat(report))
  local _, msg, e = ns.exec(c.args[1], c.args, c.environ)
  sock:write(fmt("E%d\t%s\n", exec_step, errtext(msg)))
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
    -- The child: it never returns from here, whatever fails. It lives a
    -- few hundred microseconds until exec: no collector in it, whose
    -- marking would write to, and so copy, every page of the heap it
    -- shares with luactr.
    collectgarbage("stop")
    psock:close()
    x.sock = csock
    x.step = clone_step + 1
    x.report = {}
    local _, err = pcall(child_main, c, steps, x, csock, clone_step + 1)
    x.report[#x.report + 1] = fmt("E%d\t%s\n", x.step, errtext(err))
    pcall(csock.write, csock, concat(x.report))
    ns._exit(127)
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
  if opts then x.cg:unlock() end -- the child is in its group: gc may judge it
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
  local failed, last = nil, clone_step
  for line in buf:gmatch("[^\n]+") do
    local kind, i, rest = line:match("^([TE])(%d+)\t(.*)$")
    if kind == "T" then
      times[tonumber(i)] = tonumber(rest)
      last = tonumber(i)
    elseif kind == "E" then
      failed = failed or { tonumber(i), untext(rest) }
    else
      local xt = line:match("^X(.*)$")
      if xt then h.t_exec = tonumber(xt) end
    end
  end
  if not failed and not h.t_exec then
    -- The socket closed with no report of exec: the child died in setup.
    failed = { math.min(last + 1, #steps), "the container's process died during setup" }
  end
  if failed then
    local st = ns.wait(pidfd)
    pidfd:close()
    forwarding_off(sigfd)
    if master then master:close(); h.master = nil end
    h.pidfd = nil
    local msg = failed[2]
    if failed[2]:match("died during setup$") and st then
      msg = msg .. " (" .. (st.exited and ("exit " .. st.code) or ("killed by SIG" .. tostring(st.signal))) .. ")"
    end
    fail(failed[1], msg)
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
  local c = self.c
  args = str_list(c.what .. ": exec", "args", args)
  if #args == 0 then error(c.what .. ": exec: args is empty", 2) end
  local env = {}
  for k, v in pairs(c.environ) do env[k] = v end
  for _, kv in ipairs(check_env(c.what .. ": exec", opts.env or {})) do env[kv[1]] = kv[2] end
  local cwd = str(c.what .. ": exec", "cwd", opts.cwd or c.cwd)
  local types = {}
  for n in pairs(c.nsset) do types[#types + 1] = n end
  table.sort(types)
  local r, w = ns.pipe()
  local gr, gw = ns.pipe()
  local pid, pidfd = ns.clone({})
  if pid == 0 then
    -- Neither child ever returns into the recipe: every failure is
    -- written to the pipe and ends the process.
    local _, oerr = pcall(function()
      r:close()
      gw:close()
      ns.prctl("pdeathsig", "KILL")
      -- Not dumpable: once it has joined, nothing in the container may
      -- ptrace it or open its /proc/PID/exe (the host's luactr).
      must("prctl", ns.prctl("dumpable", false))
      -- Wait until luactr has put us in the container's cgroup.
      if gr:read(1) ~= "g" then ns._exit(126) end
      must("setns", ns.setns(self.pidfd, types))
      local cpid, cfd = ns.clone({})
      if not cpid then error(cfd, 0) end
      if cpid == 0 then
        local ok, err = pcall(function()
          -- The same identity and privileges as the container's first process.
          if c.user then
            become(c.user)
            must("prctl", ns.prctl("pdeathsig", "KILL"))
          end
          if c.capabilities ~= "all" then keep_caps(c.capabilities) end
          if c.no_new_privs then must("prctl", ns.prctl("no_new_privs", true)) end
          must("close_range", ns.close_range(3, nil, "cloexec"))
          must("chdir", ns.chdir(cwd))
          local _, emsg = ns.exec(args[1], args, env)
          error(emsg, 0)
        end)
        pcall(w.write, w, errtext(err))
        ns._exit(ok and 0 or 127)
      end
      w:close()
      local st = ns.wait(cfd)
      ns._exit(st and st.status or 126)
    end)
    pcall(w.write, w, errtext(oerr))
    ns._exit(126)
  end
  w:close()
  gr:close()
  if self.cgroup then
    local ok, err = pcall(self.cgroup.add, self.cgroup, pid)
    if not ok then
      ns.kill(pidfd, "KILL")
      ns.wait(pidfd)
      pidfd:close(); gw:close(); r:close()
      error(fmt("%s: exec %s: %s", c.what, args[1], tostring(err)), 2)
    end
  end
  gw:write("g")
  gw:close()
  local st = assert(ns.wait(pidfd))
  pidfd:close()
  local msg = r:read(4096)
  r:close()
  if msg and msg ~= "" then
    error(fmt("%s: exec %s: %s", c.what, args[1], untext(msg)), 2)
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
