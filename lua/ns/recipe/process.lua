--- ns.recipe.process: the checks of the keys of the container's process
-- that a recipe seldom gives: env, rlimits, stdio and preserved fds, the
-- five capability sets, the personality and the I/O priority; loaded by
-- ns.recipe when one is given. See capabilities(7), personality(2),
-- ioprio_set(2).
local ns = require "ns.core"
local recipe = require "ns.recipe"
local util = require "ns.util"

local fmt = string.format
local show = util.show
local bad, str, check_list, int = recipe.bad, recipe.str, recipe.check_list, recipe.int

local M = {}

-- What an rlimit counts, for the units it takes and the messages: bytes
-- (given as "64M" too), seconds, microseconds, or a plain count.
local RLIMIT_UNITS = { cpu = "seconds", rttime = "microseconds" }
for _, k in ipairs({ "as", "core", "data", "fsize", "memlock", "msgqueue", "rss", "stack" }) do RLIMIT_UNITS[k] = "bytes" end

local function check_rlimit(what, name, v)
  local key = "rlimits." .. tostring(name)
  local unit = RLIMIT_UNITS[name]
  local function one(k, x)
    if x == "unlimited" or x == math.huge then return math.huge end
    if unit == "bytes" and type(x) == "string" then
      local ok, n = pcall(require("ns.cgroup.limits").parse_size, x)
      if ok then return n end
      bad(what, "%s %s is not a size (bytes, or a number with K, M, G or T: \"64M\")", k, show(x))
    end
    if math.type(x) ~= "integer" or x < 0 then
      bad(what, "%s must be %s or \"unlimited\", not %s", k,
        unit == "bytes" and "a size (\"64M\") or a number of bytes" or
        unit and ("a whole number of " .. unit) or "a whole number", show(x))
    end
    return x
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

-- An fd for stdio or preserve_fds: a number, an open ns.fd handle, or a
-- Lua io file (io.stdout, io.open(...)), which becomes its fd number; the
-- file goes on the list files, which the canonical table keeps, so that
-- it stays open as long as the container's table does.
local function check_fd(what, key, v, files)
  if type(v) == "number" then return int(what, key, v, 0) end
  local kind = io.type(v)
  if kind == "file" then
    files[#files + 1] = v
    return ns.fileno(v)
  end
  if kind == "closed file" then bad(what, "%s is a closed file", key) end
  if type(v) ~= "userdata" or not pcall(ns.fileno, v) then
    bad(what, "%s must be an open fd handle, an io file or an fd number, not %s", key, show(tostring(v)))
  end
  return v
end

-- The sysctls that a container's own namespaces hold, as runc allows
-- them: the namespace each needs.
local IPC_SYSCTLS = { ["kernel.msgmax"] = true, ["kernel.msgmnb"] = true, ["kernel.msgmni"] = true,
  ["kernel.sem"] = true, ["kernel.shmall"] = true, ["kernel.shmmax"] = true, ["kernel.shmmni"] = true,
  ["kernel.shm_rmid_forced"] = true }

--- sysctl_ns(name) -> "ipc", "net" or "uts": the namespace of the
-- container's that holds the sysctl name ("net.ipv4.ip_forward"), or nil
-- for one that is the host's.
function M.sysctl_ns(name)
  if IPC_SYSCTLS[name] or name:match("^fs%.mqueue%.") then return "ipc" end
  if name:match("^net%.") then return "net" end
  if name == "kernel.domainname" or name == "kernel.hostname" then return "uts" end
end

M.SYSCTLS = "kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*, kernel.hostname, kernel.domainname"

-- sysctl = {["net.ipv4.ip_forward"] = "1"} (or "net/ipv4/ip_forward") ->
-- a sorted list of {name, value}; each must be one of the namespaces in
-- nsset, which the container has of its own.
local function check_sysctl(what, t, nsset)
  local out = {}
  for k, v in pairs(t) do
    if type(k) ~= "string" then bad(what, "sysctl must map names to values, but has key %s", show(k)) end
    local name = k:gsub("/", ".")
    local key = "sysctl." .. name
    if not name:match("^[%w_-]+%.[%w_.-]+$") or name:find("..", 1, true) or name:find("%.$") then
      bad(what, "sysctl %s is not a sysctl name (\"net.ipv4.ip_forward\")", show(k))
    end
    if type(v) == "number" and math.type(v) == "integer" then v = tostring(v) end
    str(what, key, v)
    local need = M.sysctl_ns(name)
    if not need then bad(what, "%s is the host's, not of the container's namespaces (%s)", key, M.SYSCTLS) end
    if not nsset[need] then bad(what, "%s needs the %s namespace", key, need) end
    out[#out + 1] = { name, v }
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

-- The capability sets a process has, in the order runc gives them.
local CAP_SETS = { "bounding", "effective", "permitted", "inheritable", "ambient" }
local CAP_SET_KEYS = {}
for _, k in ipairs(CAP_SETS) do CAP_SET_KEYS[k] = true end

-- The first of list that set lacks, or nil.
local function missing(list, set)
  for _, n in ipairs(list) do if not set[n] then return n end end
end

--- check_cap_sets(what, v) -> the bounding set, {effective, permitted,
-- inheritable, ambient}: v = {bounding = {...}, ...}, each a list of
-- names (a set left out is empty), as the kernel takes them: capset(2)
-- refuses an effective capability that is not permitted and an
-- inheritable one out of the bounding set; PR_CAP_AMBIENT_RAISE one
-- that is not both permitted and inheritable. Each list comes back in
-- the kernel's order, each name once.
function M.check_cap_sets(what, v)
  util.check_keys(what .. ": capabilities", v, CAP_SET_KEYS, "bounding, effective, permitted, inheritable, ambient")
  local number = {}
  for i, n in ipairs(ns.cap_names()) do number[n] = i end
  local sets, has = {}, {}
  for _, k in ipairs(CAP_SETS) do
    local list = v[k] == nil and {} or recipe.cap_list(what, "capabilities." .. k, v[k])
    local seen, out = {}, {}
    for _, n in ipairs(list) do
      if not seen[n] then seen[n] = true; out[#out + 1] = n end
    end
    table.sort(out, function(a, b) return number[a] < number[b] end)
    sets[k], has[k] = out, seen
  end
  local n = missing(sets.effective, has.permitted)
  if n then bad(what, "capabilities.effective: %s is not in permitted (capset(2) refuses an effective capability that is not permitted)", n) end
  n = missing(sets.inheritable, has.bounding)
  if n then bad(what, "capabilities.inheritable: %s is not in bounding (capset(2) takes an inheritable capability only from the bounding set)", n) end
  n = missing(sets.ambient, has.permitted) or missing(sets.ambient, has.inheritable)
  if n then
    bad(what, "capabilities.ambient: %s is not in %s (PR_CAP_AMBIENT_RAISE raises only a capability both permitted and inheritable: EPERM)",
      n, has.permitted[n] and "inheritable" or "permitted")
  end
  return sets.bounding, { effective = sets.effective, permitted = sets.permitted, inheritable = sets.inheritable,
    ambient = sets.ambient }
end

-- The execution domains personality(2) takes by name.
local PERSONAS = { linux = true, linux32 = true }

--- check_personality(what, v) -> v: "linux" or "linux32" (uname -m then
-- says i686 on x86_64).
function M.check_personality(what, v)
  str(what, "personality", v)
  if not PERSONAS[v] then bad(what, "personality %s is not an execution domain (%s)", show(v), util.choices(v, PERSONAS)) end
  return v
end

local IO_CLASSES = { rt = true, be = true, idle = true }
local IO_KEYS = { class = true, level = true }

--- check_io_priority(what, v) -> {class, level}: v = {class = "rt", "be"
-- or "idle", level = 0 (highest) to 7 (default 4, the kernel's own for a
-- process of nice 0)}.
function M.check_io_priority(what, v)
  util.check_keys(what .. ": io_priority", v, IO_KEYS, "class, level")
  local class = v.class
  if class == nil then bad(what, "io_priority.class is required (rt, be or idle)") end
  str(what, "io_priority.class", class)
  if not IO_CLASSES[class] then bad(what, "io_priority.class %s is not an I/O scheduling class (%s)", show(class), util.choices(class, IO_CLASSES)) end
  local level = v.level == nil and 4 or int(what, "io_priority.level", v.level, 0)
  if level > 7 then bad(what, "io_priority.level must be 0..7, not %d", level) end
  return { class = class, level = level }
end

M.check_rlimit, M.check_env, M.check_fd, M.check_sysctl = check_rlimit, check_env, check_fd, check_sysctl

return M
