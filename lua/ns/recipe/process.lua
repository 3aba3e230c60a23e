--- ns.recipe.process: the checks of the keys of the container's process
-- that a recipe seldom gives: env, rlimits, stdio and preserved fds;
-- loaded by ns.recipe when one is given.
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

M.check_rlimit, M.check_env, M.check_fd, M.check_sysctl = check_rlimit, check_env, check_fd, check_sysctl

return M
