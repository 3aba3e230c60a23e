--- ns.security.seccomp_oci: a seccomp profile in the JSON form that
-- docker's --security-opt seccomp=FILE, moby's profiles and the OCI
-- runtime spec's linux.seccomp take, as the profile table of a luactr
-- recipe (ns.security.seccomp_check documents it):
--
--   defaultAction "SCMP_ACT_ERRNO", defaultErrnoRet 1   default = "errno", errno = 1
--   architectures ["SCMP_ARCH_X86_64", ...]             architectures = {"x86_64", ...}
--   archMap [{architecture, subArchitectures}]          arch_map = {{native, sub...}}
--   syscalls [{names, action, errnoRet, args, includes, excludes, comment}]
--   args [{index, value, valueTwo, op "SCMP_CMP_EQ"}]   args = {{index, "eq", value[, value2]}}
--   includes/excludes {caps, arches, minKernel}          {caps, arches, min_kernel}
--
--   SCMP_ACT_NOTIFY                                      action = "notify"
--   listenerPath, listenerMetadata, flags               the second value, extra:
--                                                       {agent = {socket, metadata}, flags}
--
-- The table is then checked as any recipe's profile; the recipe gives
-- extra as seccomp = {profile = p, agent = ..., flags = ...}: the
-- listener of the notify groups goes to the agent at listenerPath (a
-- profile with notify groups and no agent is refused there). Flags are
-- seccomp(2)'s SECCOMP_FILTER_FLAG_TSYNC, LOG, SPEC_ALLOW and
-- WAIT_KILLABLE_RECV. Unknown keys are ignored, as the OCI spec asks.
local M = {}

local fmt = string.format

local function bad(where, f, ...) error(where .. ": " .. fmt(f, ...), 0) end

local ACTIONS = {
  SCMP_ACT_ALLOW = "allow", SCMP_ACT_ERRNO = "errno", SCMP_ACT_KILL = "kill_thread",
  SCMP_ACT_KILL_THREAD = "kill_thread", SCMP_ACT_KILL_PROCESS = "kill", SCMP_ACT_TRAP = "trap",
  SCMP_ACT_LOG = "log", SCMP_ACT_NOTIFY = "notify",
}
local OPS = {
  SCMP_CMP_EQ = "eq", SCMP_CMP_NE = "ne", SCMP_CMP_LT = "lt", SCMP_CMP_LE = "le", SCMP_CMP_GT = "gt",
  SCMP_CMP_GE = "ge", SCMP_CMP_MASKED_EQ = "masked_eq",
}
local FLAGS = { SECCOMP_FILTER_FLAG_TSYNC = "tsync", SECCOMP_FILTER_FLAG_LOG = "log",
  SECCOMP_FILTER_FLAG_SPEC_ALLOW = "spec_allow", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = "wait_killable_recv" }
M.FLAGS = FLAGS

-- cjson's null, for "absent".
local NULL
do
  local ok, cjson = pcall(require, "cjson")
  if ok then NULL = cjson.null end
end

-- "SCMP_ARCH_X86_64" -> "x86_64".
local function arch(where, v)
  if type(v) ~= "string" or not v:match("^SCMP_ARCH_[%w_]+$") then
    bad(where, "%s is not an architecture (SCMP_ARCH_X86_64, ...)", require("ns.util").show(v))
  end
  return v:sub(11):lower()
end

local function action(where, v)
  local a = type(v) == "string" and ACTIONS[v]
  if not a then
    bad(where, "unknown action %s (valid: %s)", require("ns.util").show(v),
      table.concat(require("ns.util").sorted_keys(ACTIONS), ", "))
  end
  return a
end

local function strings(where, v)
  if v == nil then return nil end
  if type(v) ~= "table" then bad(where, "must be a list of strings") end
  local out = {}
  for i, s in ipairs(v) do
    if type(s) ~= "string" then bad(fmt("%s[%d]", where, i), "must be a string") end
    out[i] = s
  end
  return out
end

local function condition(where, v)
  if v == nil then return nil end
  if type(v) ~= "table" then bad(where, "must be an object {caps, arches, minKernel}") end
  local out = { caps = strings(where .. ".caps", v.caps), arches = strings(where .. ".arches", v.arches) }
  if v.minKernel ~= nil then
    if type(v.minKernel) ~= "string" then bad(where .. ".minKernel", "must be a string (\"4.8\")") end
    out.min_kernel = v.minKernel
  end
  if not out.caps and not out.arches and not out.min_kernel then return nil end
  return out
end

local function int(where, v)
  local n = math.tointeger(v)
  if not n then bad(where, "must be an integer, not %s", require("ns.util").show(v)) end
  return n
end

local function opt_string(where, v)
  if v == nil or v == NULL or v == "" then return nil end
  if type(v) ~= "string" then bad(where, "must be a string") end
  return v
end

--- profile(t [, where]) -> the profile table of the decoded JSON object
-- t (where names it in messages, default "seccomp"), and extra: nil, or
-- {agent = {socket, metadata}, flags = {...}}. Raises naming the key and
-- the reason.
function M.profile(t, where)
  where = where or "seccomp"
  if type(t) ~= "table" then bad(where, "must be a JSON object") end
  local out = { default = action(where .. ".defaultAction", t.defaultAction or "SCMP_ACT_ALLOW") }
  if t.defaultErrnoRet ~= nil then out.errno = int(where .. ".defaultErrnoRet", t.defaultErrnoRet) end
  local extra = {}
  local path = opt_string(where .. ".listenerPath", t.listenerPath)
  if path then
    if path:sub(1, 1) ~= "/" then bad(where .. ".listenerPath", "must be an absolute path, not %s", require("ns.util").show(path)) end
    extra.agent = { socket = path, metadata = opt_string(where .. ".listenerMetadata", t.listenerMetadata) }
  end
  for i, f in ipairs(strings(where .. ".flags", t.flags ~= NULL and t.flags or nil) or {}) do
    if not FLAGS[f] then
      bad(fmt("%s.flags[%d]", where, i), "unknown flag %s (valid: %s)", require("ns.util").show(f),
        table.concat(require("ns.util").sorted_keys(FLAGS), ", "))
    end
    extra.flags = extra.flags or {}
    extra.flags[#extra.flags + 1] = FLAGS[f]
  end
  if t.architectures ~= nil then
    out.architectures = {}
    for i, a in ipairs(strings(where .. ".architectures", t.architectures)) do
      out.architectures[i] = arch(fmt("%s.architectures[%d]", where, i), a)
    end
  end
  if t.archMap ~= nil then
    if type(t.archMap) ~= "table" then bad(where .. ".archMap", "must be a list") end
    out.arch_map = {}
    for i, m in ipairs(t.archMap) do
      local w = fmt("%s.archMap[%d]", where, i)
      if type(m) ~= "table" then bad(w, "must be an object {architecture, subArchitectures}") end
      local row = { arch(w .. ".architecture", m.architecture) }
      for j, s in ipairs(strings(w .. ".subArchitectures", m.subArchitectures) or {}) do
        row[#row + 1] = arch(fmt("%s.subArchitectures[%d]", w, j), s)
      end
      out.arch_map[i] = row
    end
  end
  out.syscalls = {}
  if t.syscalls ~= nil then
    if type(t.syscalls) ~= "table" then bad(where .. ".syscalls", "must be a list") end
    for i, g in ipairs(t.syscalls) do
      local w = fmt("%s.syscalls[%d]", where, i)
      if type(g) ~= "table" then bad(w, "must be an object {names, action, ...}") end
      local names = strings(w .. ".names", g.names)
      if not names and type(g.name) == "string" then names = { g.name } end -- the older form
      local grp = { names = names or {}, action = action(w .. ".action", g.action), comment = g.comment }
      if g.errnoRet ~= nil then grp.errno = int(w .. ".errnoRet", g.errnoRet) end
      if g.args ~= nil then
        if type(g.args) ~= "table" then bad(w .. ".args", "must be a list") end
        grp.args = {}
        for j, a in ipairs(g.args) do
          local aw = fmt("%s.args[%d]", w, j)
          if type(a) ~= "table" then bad(aw, "must be an object {index, value, valueTwo, op}") end
          local op = type(a.op) == "string" and OPS[a.op]
          if not op then
            bad(aw .. ".op", "unknown op %s (valid: %s)", require("ns.util").show(a.op),
              table.concat(require("ns.util").sorted_keys(OPS), ", "))
          end
          local arg = { int(aw .. ".index", a.index), op, int(aw .. ".value", a.value or 0) }
          if a.valueTwo ~= nil and a.valueTwo ~= 0 or op == "masked_eq" then arg[4] = int(aw .. ".valueTwo", a.valueTwo or 0) end
          grp.args[j] = arg
        end
      end
      grp.includes = condition(w .. ".includes", g.includes)
      grp.excludes = condition(w .. ".excludes", g.excludes)
      out.syscalls[i] = grp
    end
  end
  return out, next(extra) and extra or nil
end

--- read(path) -> the profile table of a JSON file (docker's
-- --security-opt seccomp=FILE).
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then error(fmt("seccomp profile %s", tostring(err)), 0) end
  local text = f:read("a")
  f:close()
  local ok, t = pcall(require("cjson").decode, text)
  if not ok then error(fmt("seccomp profile %s: not valid JSON (%s)", path, tostring(t):gsub("^.-: ", "")), 0) end
  return M.profile(t, "seccomp profile " .. path)
end

return M
