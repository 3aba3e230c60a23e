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

M.check_rlimit, M.check_env, M.check_fd = check_rlimit, check_env, check_fd

return M
