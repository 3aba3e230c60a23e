--- ns.security.seccomp_check: what a start needs only for a profile of its
-- own, or for a program not yet compiled: the checks of a profile table
-- (each error names the key and the reason), the profile resolved for a
-- container (which groups apply to its capabilities, the architecture
-- and the kernel), the compile through libseccomp (ns.seccomp), and the
-- summary that `luactr seccomp show` prints. Loaded by
-- ns.security.seccomp when it needs one of them.
--
-- A profile: {default = action, errno = name or number (the errno of
-- the default and of the errno groups without their own), syscalls =
-- {group, ...}, architectures = {names} or arch_map = {{native, sub...}},
-- comment}; a group: {names = {...}, action = ..., errno = ..., args =
-- {{index, op, value [, value2]}, ...}, includes = {caps, arches,
-- min_kernel}, excludes = {...}, comment}. Actions: allow errno kill
-- (the process) kill_thread trap log, and notify for a group (only with
-- an agent, see value()); ops: eq ne lt le gt ge masked_eq (value the
-- mask, value2 what the masked argument equals, default 0).
local ns = require "ns.core"
local seccomp = require "ns.security.seccomp"
local util = require "ns.util"

local M = {}

local fmt, concat = string.format, table.concat
local show, quoted, choices, check_keys = util.show, util.quoted, util.choices, util.check_keys

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

M.ACTIONS = set { "allow", "errno", "kill", "kill_process", "kill_thread", "log", "trap", "notify" }
-- seccomp(2)'s SECCOMP_FILTER_FLAG_*, as ns.core's seccomp_load names them
-- (new_listener is luactr's to give).
M.FLAGS = set { "tsync", "log", "spec_allow", "wait_killable_recv" }
M.OPS = set { "eq", "ne", "lt", "le", "gt", "ge", "masked_eq" }
-- libseccomp's architecture names (core/seccomp.c's list).
M.ARCHES = set { "aarch64", "arm", "loongarch64", "mips", "mips64", "mips64n32", "mipsel", "mipsel64",
  "mipsel64n32", "parisc", "parisc64", "ppc", "ppc64", "ppc64le", "riscv64", "s390", "s390x", "x32", "x86", "x86_64" }
-- Other spellings of them: moby's includes.arches name the native
-- architecture as Go does.
M.ARCH_ALIAS = { amd64 = "x86_64", arm64 = "aarch64", ["386"] = "x86", i386 = "x86", i686 = "x86" }

local PROFILE_KEYS = set { "default", "errno", "syscalls", "architectures", "arch_map", "comment" }
local GROUP_KEYS = set { "names", "action", "errno", "args", "includes", "excludes", "comment" }
local COND_KEYS = set { "caps", "arches", "min_kernel" }
local VALUE_KEYS = set { "profile", "notify", "agent", "flags" }
local AGENT_KEYS = set { "socket", "metadata", "state" }

local function bad(where, f, ...) error(where .. ": " .. fmt(f, ...), 0) end

local function list(where, v)
  if type(v) ~= "table" then bad(where, "must be a list, not a %s", type(v)) end
  local n = #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then bad(where, "must be a list (keys 1..n, no holes), but has key %s", show(k)) end
  end
  return v
end

local function name_list(where, v, pattern, kind)
  list(where, v)
  for i, n in ipairs(v) do
    if type(n) ~= "string" or not n:match(pattern) then
      bad(fmt("%s[%d]", where, i), "%s is not a %s name", show(n), kind)
    end
  end
  return v
end

--- errno(where, v) -> the errno number of v (a name of ns.E, "EPERM", or 1..4095).
function M.errno(where, v)
  if math.type(v) == "integer" then
    if v < 1 or v > 4095 then bad(where, "errno %d is not 1 to 4095", v) end
    return v
  end
  if type(v) ~= "string" then bad(where, "must be an errno name (\"EPERM\") or number, not %s", show(v)) end
  local ok, n = pcall(function() return ns.E[v] end)
  if not ok then bad(where, "unknown errno %s (%s)", quoted(v), tostring(n):match("%((.*)%)$") or "see ns.E") end
  return n
end

local function arch(where, a)
  local n = type(a) == "string" and (M.ARCH_ALIAS[a] or a)
  if not (n and M.ARCHES[n]) then bad(where, "unknown architecture %s (%s)", quoted(a), choices(a, M.ARCHES, "libseccomp's names")) end
  return n
end

local CAP_NAMES
local function cap(where, v)
  if not CAP_NAMES then CAP_NAMES = set(ns.cap_names()) end
  local n = type(v) == "string" and v:lower():gsub("^cap_", "")
  if not (n and CAP_NAMES[n]) then bad(where, "unknown capability %s (%s)", quoted(v), choices(v, CAP_NAMES, "ns.cap_names()")) end
  return n
end

local function condition(where, t)
  if t == nil then return nil end
  if type(t) ~= "table" then bad(where, "must be a table {caps =, arches =, min_kernel =}, not a %s", type(t)) end
  check_keys(where, t, COND_KEYS)
  local out = {}
  if t.caps ~= nil then
    out.caps = {}
    for i, c in ipairs(list(where .. ".caps", t.caps)) do out.caps[i] = cap(fmt("%s.caps[%d]", where, i), c) end
  end
  if t.arches ~= nil then
    out.arches = {}
    for i, a in ipairs(list(where .. ".arches", t.arches)) do out.arches[i] = arch(fmt("%s.arches[%d]", where, i), a) end
  end
  if t.min_kernel ~= nil then
    if type(t.min_kernel) ~= "string" or not t.min_kernel:match("^%d+%.%d+$") then
      bad(where .. ".min_kernel", "must be a kernel version such as \"4.8\", not %s", show(t.min_kernel))
    end
    out.min_kernel = t.min_kernel
  end
  return out
end

local function action(where, v)
  if not M.ACTIONS[v] then bad(where, "unknown action %s (%s)", quoted(v), choices(v, M.ACTIONS)) end
  return v == "kill_process" and "kill" or v
end

local function arg(where, a)
  list(where, a)
  if #a < 3 or #a > 4 then bad(where, "must be {index, op, value [, value2]}, not %d values", #a) end
  local index, op = a[1], a[2]
  if math.type(index) ~= "integer" or index < 0 or index > 5 then
    bad(where, "the index (first) must be an argument number 0 to 5, not %s", show(index))
  end
  if not M.OPS[op] then bad(where, "unknown op %s (%s)", quoted(op), choices(op, M.OPS)) end
  for i = 3, #a do
    if math.type(a[i]) ~= "integer" then bad(where, "value%s must be an integer, not %s", i == 4 and "2" or "", show(a[i])) end
  end
  if #a == 4 and op ~= "masked_eq" then bad(where, "a value2 is only for masked_eq") end
  return { index, op, a[3], op == "masked_eq" and (a[4] or 0) or nil }
end

--- profile(where, t) -> the checked copy of the profile table t, every
-- spelling made canonical (errno numbers, libseccomp's architecture
-- names, capabilities as ns names); raises "<where>.<key>: why".
function M.profile(where, t)
  if type(t) ~= "table" then bad(where, "must be a profile table, not a %s", type(t)) end
  check_keys(where, t, PROFILE_KEYS)
  local p = {}
  p.default = action(where .. ".default", t.default == nil and "errno" or t.default)
  if p.default == "notify" then bad(where .. ".default", "notify is for a group's calls, not the default (the agent would answer every call)") end
  p.errno = M.errno(where .. ".errno", t.errno == nil and "EPERM" or t.errno)
  if t.architectures ~= nil and t.arch_map ~= nil then
    bad(where, "architectures and arch_map both say which architectures the filter covers: give one")
  end
  if t.architectures ~= nil then
    p.architectures = {}
    for i, a in ipairs(list(where .. ".architectures", t.architectures)) do
      p.architectures[i] = arch(fmt("%s.architectures[%d]", where, i), a)
    end
    if #p.architectures == 0 then bad(where .. ".architectures", "is empty: the filter must cover one") end
  end
  if t.arch_map ~= nil then
    p.arch_map = {}
    for i, m in ipairs(list(where .. ".arch_map", t.arch_map)) do
      local w = fmt("%s.arch_map[%d]", where, i)
      list(w, m)
      if #m == 0 then bad(w, "is empty: {native, sub-architectures...}") end
      p.arch_map[i] = {}
      for j, a in ipairs(m) do p.arch_map[i][j] = arch(fmt("%s[%d]", w, j), a) end
    end
  end
  p.syscalls = {}
  for i, g in ipairs(list(where .. ".syscalls", t.syscalls == nil and {} or t.syscalls)) do
    local w = fmt("%s.syscalls[%d]", where, i)
    if type(g) ~= "table" then bad(w, "must be a table {names =, action =, ...}, not a %s", type(g)) end
    check_keys(w, g, GROUP_KEYS)
    if g.action == nil then bad(w, "has no action (action = \"allow\", \"errno\", ...)") end
    local q = { action = action(w .. ".action", g.action) }
    if g.names == nil then bad(w, "has no names (names = {\"read\", ...})") end
    q.names = {}
    for j, n in ipairs(name_list(w .. ".names", g.names, "^[%a_][%w_]*$", "syscall")) do q.names[j] = n end
    if #q.names == 0 then bad(w .. ".names", "is empty") end
    if g.errno ~= nil then
      if q.action ~= "errno" then bad(w, "errno is for action = \"errno\", not %s", show(q.action)) end
      q.errno = M.errno(w .. ".errno", g.errno)
    end
    if g.args ~= nil then
      q.args = {}
      for j, a in ipairs(list(w .. ".args", g.args)) do q.args[j] = arg(fmt("%s.args[%d]", w, j), a) end
      if #q.args > 6 then bad(w .. ".args", "has %d conditions: a call has 6 arguments", #q.args) end
    end
    q.includes = condition(w .. ".includes", g.includes)
    q.excludes = condition(w .. ".excludes", g.excludes)
    p.syscalls[i] = q
  end
  return p
end

-- The calls that the container's process makes itself after it has
-- loaded the filter (sending the listener and its report, exec) and that
-- the memory of its Lua code may need: their notifications would wait for
-- a luactr that waits for them.
M.SETUP_CALLS = set { "brk", "close", "execve", "exit", "exit_group", "madvise", "mmap", "mremap", "munmap",
  "sendmsg", "sendto", "write" }

-- The sorted names of p's notify groups, or nil.
local function notify_groups(p)
  local names, seen = {}, {}
  for _, g in ipairs(p.syscalls) do
    if g.action == "notify" then
      for _, n in ipairs(g.names) do
        if not seen[n] then seen[n], names[#names + 1] = true, n end
      end
    end
  end
  table.sort(names)
  return #names > 0 and names or nil
end

--- value(what, v [, c]) -> the profile, its label, the sorted notify names
-- (or nil), the handlers, and {agent, flags} (or nil), for the recipe's
-- seccomp table v: a profile, or {profile = "default" | a profile, notify
-- = {name = function}, agent = {socket, metadata, state}, flags = {...}}.
-- With handlers, the container c must have no_new_privs (else the filter
-- comes before the ids and capabilities, whose calls luactr could not
-- answer then) and no terminal (its relay is C's, which answers none);
-- tty, when the recipe leaves it out, becomes false. With an agent (a
-- seccomp agent's unix socket: runtime-spec's listenerPath), the calls of
-- the profile's notify groups go to it instead: the listener and the
-- container process state are sent there as the filter is loaded.
function M.value(what, v, c)
  local where = what .. ": seccomp"
  local wrapped = v.profile ~= nil or v.notify ~= nil or v.agent ~= nil or v.flags ~= nil
  if not wrapped then
    local p = M.profile(where, v)
    if notify_groups(p) then bad(where, "a group with action notify needs an agent (seccomp = {profile = ..., agent = {socket = PATH}})") end
    return p, "the recipe's profile"
  end
  check_keys(where, v, VALUE_KEYS)
  local p, label
  if v.profile == nil or v.profile == "default" then
    p, label = seccomp.default_profile(), "default profile"
  elseif type(v.profile) == "table" then
    p, label = M.profile(where .. ".profile", v.profile), "the recipe's profile"
  else
    bad(where .. ".profile", "must be \"default\" or a profile table, not %s", show(v.profile))
  end
  local extra
  if v.flags ~= nil then
    local flags = {}
    for i, f in ipairs(name_list(where .. ".flags", v.flags, "^[%l_]+$", "flag")) do
      if not M.FLAGS[f] then bad(fmt("%s.flags[%d]", where, i), "unknown flag %s (%s)", quoted(f), choices(f, M.FLAGS)) end
      flags[#flags + 1] = f
    end
    if #flags > 0 then extra = { flags = flags } end
  end
  local names, handlers
  local groups = notify_groups(p)
  if v.agent ~= nil then
    local a = v.agent
    if type(a) ~= "table" then bad(where .. ".agent", "must be a table {socket = PATH, metadata = ...}, not a %s", type(a)) end
    check_keys(where .. ".agent", a, AGENT_KEYS)
    if type(a.socket) ~= "string" or a.socket:sub(1, 1) ~= "/" then
      bad(where .. ".agent.socket", "must be the absolute path of the agent's unix socket, not %s", show(a.socket))
    end
    if a.metadata ~= nil and type(a.metadata) ~= "string" then bad(where .. ".agent.metadata", "must be a string, not a %s", type(a.metadata)) end
    if a.state ~= nil and type(a.state) ~= "table" then bad(where .. ".agent.state", "must be a table, not a %s", type(a.state)) end
    if v.notify ~= nil then bad(where .. ".agent", "give notify handlers or an agent, not both") end
    if groups then
      for _, n in ipairs(groups) do
        if n == "sendmsg" then bad(where .. ".profile", "notify of sendmsg: the listener itself is sent to the agent with it") end
      end
      names = groups
      extra = extra or {}
      extra.agent = { socket = a.socket, metadata = a.metadata or "", state = a.state }
      label = label .. ", notify " .. concat(names, " ") .. " to the agent at " .. a.socket
    end
  elseif groups then
    bad(where .. ".profile", "a group with action notify needs an agent (agent = {socket = PATH})")
  end
  if extra and extra.flags and util.has(extra.flags, "wait_killable_recv") and not names then
    bad(where .. ".flags", "wait_killable_recv is for a filter with a listener (notify)")
  end
  if v.notify ~= nil then
    if type(v.notify) ~= "table" then bad(where .. ".notify", "must map syscall names to functions, not a %s", type(v.notify)) end
    names, handlers = {}, {}
    for k, fn in pairs(v.notify) do
      if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then bad(where .. ".notify", "%s is not a syscall name", show(k)) end
      if type(fn) ~= "function" then bad(where .. ".notify." .. k, "must be a function(req), not a %s", type(fn)) end
      if M.SETUP_CALLS[k] then
        bad(where .. ".notify." .. k, "luactr's own setup makes that call after the filter, before it can answer it")
      end
      names[#names + 1] = k
      handlers[k] = fn
    end
    table.sort(names)
    if #names == 0 then names, handlers = nil, nil end
    if names then
      label = label .. ", notify " .. concat(names, " ")
      if c and c.no_new_privs == false then
        bad(where .. ".notify", "needs no_new_privs: without it the filter comes before the setup's own calls")
      end
      if c and c.tty then bad(where .. ".notify", "needs tty = false: a terminal's relay answers no notification") end
      if c and c.tty == nil then c.tty = false end
    end
  end
  return p, label, names, handlers, extra
end

-- Resolution -----------------------------------------------------------------

-- {major, minor} of a release or version string.
local function version(s)
  local a, b = tostring(s):match("^(%d+)%.(%d+)")
  return { tonumber(a) or 0, tonumber(b) or 0 }
end

local function at_least(release, min)
  local r, m = version(release), version(min)
  return r[1] > m[1] or (r[1] == m[1] and r[2] >= m[2])
end

local function has_all(capset, caps)
  for _, c in ipairs(caps) do
    if not capset(c) then return false end
  end
  return true
end

local function has_any(capset, caps)
  for _, c in ipairs(caps) do
    if capset(c) then return true end
  end
  return false
end

local function norm_cap(c) return (c:lower():gsub("^cap_", "")) end
local function norm_arch(a) return M.ARCH_ALIAS[a] or a end

local function has_arch(list_, native)
  for _, a in ipairs(list_) do if norm_arch(a) == native then return true end end
  return false
end

-- Whether group g applies on this host to a container with capset.
local function applies(g, capset, native, release)
  local i, e = g.includes, g.excludes
  if e then
    if e.arches and has_arch(e.arches, native) then return false end
    if e.caps and has_any(capset, e.caps) then return false end
    if e.min_kernel and at_least(release, e.min_kernel) then return false end
  end
  if i then
    if i.arches and not has_arch(i.arches, native) then return false end
    if i.caps and not has_all(capset, i.caps) then return false end
    if i.min_kernel and not at_least(release, i.min_kernel) then return false end
  end
  return true
end
M.applies = applies

local function errno_of(v) return math.type(v) == "integer" and v or ns.E[v] end

--- architectures(p [, lib]) -> the architectures p's filter covers, and
-- those left out: p's list as it is; else the native one with its
-- companions (p's arch_map, or the default profile's), but for those this
-- kernel does not run (x86 on an x86_64 kernel whose ia32 emulation is
-- off: a 32-bit call never reaches the filter there, and its rules would
-- cost every start the kernel's work on a third more program).
function M.architectures(p, lib)
  if p.architectures then
    local out = {}
    for i, a in ipairs(p.architectures) do out[i] = norm_arch(a) end
    return out, {}
  end
  local native = ns.seccomp_abi()
  for _, m in ipairs(p.arch_map or seccomp.default_profile().arch_map) do
    if norm_arch(m[1]) == native then
      lib = lib or require "ns.seccomp"
      local out, off = { native }, {}
      for i = 2, #m do
        local a = norm_arch(m[i])
        if lib.runs(a) == false then off[#off + 1] = a else out[#out + 1] = a end
      end
      return out, off
    end
  end
  return { native }, {}
end

--- capset(caps) -> a function telling whether a capability (any
-- spelling) is among caps ("all" or a list of ns names).
function M.capset(caps)
  if caps == "all" then return function() return true end end
  local s = {}
  for _, c in ipairs(caps) do s[norm_cap(c)] = true end
  return function(c) return s[norm_cap(c)] == true end
end

--- NEWER: calls newer than Debian 12's libseccomp (2.5.4, which knows
-- x86_64's up to 456) that the default profile allows, by number: since
-- Linux 5.1 a new call has one number on every architecture (from the
-- ABI's base: x32's bit 30, mips' 4000, 5000, 6000), from the kernel's
-- syscall tables; {nr, arch} for a call of one architecture only. The
-- filter allows them by number where libseccomp does not know the name.
M.NEWER = {
  statmount = 457, listmount = 458, lsm_get_self_attr = 459, lsm_set_self_attr = 460, lsm_list_modules = 461,
  mseal = 462, setxattrat = 463, getxattrat = 464, listxattrat = 465, removexattrat = 466,
  uretprobe = { 335, "x86_64" }, riscv_hwprobe = { 258, "riscv64" },
}

-- The {nr, arch} that the filter allows name by, when libseccomp (lib)
-- does not know it and it is one of NEWER.
local function newer(name, lib)
  local v = M.NEWER[name]
  if not v or lib.resolve(name) then return nil end
  if type(v) == "number" then return { nr = v } end
  return { nr = v[1], arch = v[2] }
end

--- resolve(p, caps [, notify]) -> what ns.seccomp.compile takes: the
-- groups of p that apply to a container with capabilities caps here,
-- each {action, errno, names, args, group = its index in p}, the notify
-- names taken out of them and given one group of their own (a notify
-- rule and another for the same call would conflict); extra, the calls of
-- plain allow groups that libseccomp is too old to know, by number
-- (NEWER); and enosys when the default denies: a call numbered above
-- every call the filter knows then fails with ENOSYS, not the default's
-- errno, so that a program takes it for an older kernel and falls back,
-- as glibc does (runc's rule, for the same reason).
function M.resolve(p, caps, notify)
  local lib = require "ns.seccomp"
  local capset, native, release = M.capset(caps), ns.seccomp_abi(), seccomp.release()
  local skip = set(notify or {})
  local t = { default = p.default == "kill_process" and "kill" or p.default, errno = errno_of(p.errno or "EPERM"),
    arches = M.architectures(p), rules = {}, extra = {} }
  t.enosys = t.default ~= "allow" and t.default ~= "log"
  local arches, extra = set(t.arches), {}
  for i, g in ipairs(p.syscalls) do
    if applies(g, capset, native, release) then
      local names = {}
      for _, n in ipairs(g.names) do
        local x = not skip[n] and g.action == "allow" and not g.args and t.enosys and newer(n, lib)
        if x then
          if (not x.arch or arches[x.arch]) and not extra[n] then extra[n] = true; t.extra[#t.extra + 1] = x end
        elseif not skip[n] then
          names[#names + 1] = n
        end
      end
      if #names > 0 then
        local a = g.action == "kill_process" and "kill" or g.action
        t.rules[#t.rules + 1] = { action = a, errno = a == "errno" and errno_of(g.errno or p.errno or "EPERM") or nil,
          names = names, args = g.args, group = i }
      end
    end
  end
  if notify then t.rules[#t.rules + 1] = { action = "notify", names = notify } end
  return t
end

-- Names --------------------------------------------------------------------

local KNOWN -- every syscall name libseccomp knows here, for hints
local LISTED -- the names of the default profile (which may be newer than libseccomp)

local function listed(name)
  if not LISTED then
    LISTED = {}
    for _, g in ipairs(seccomp.default_profile().syscalls) do
      for _, n in ipairs(g.names) do LISTED[n] = true end
    end
  end
  return LISTED[name]
end

-- "<where>: unknown syscall "x" (did you mean "y"?)" for a name libseccomp
-- does not know.
local function unknown(where, name, lib)
  KNOWN = KNOWN or lib.names()
  if listed(name) then
    bad(where, "syscall %s is newer than libseccomp %s, which cannot filter it: allow it, or leave it out",
      show(name), lib.version())
  end
  local near = util.nearest(name, KNOWN)
  bad(where, "unknown syscall %s (%s)", show(name),
    #near > 0 and fmt("did you mean %s?", show(near[1])) or ("not a name libseccomp " .. lib.version() .. " knows"))
end

--- check_names(where, p, notify [, lib]): every syscall name of p (each
-- group, whether it applies or not) and of notify is one that libseccomp
-- knows; but a group that allows may list a syscall that libseccomp is
-- too old to know (one of the default profile's): the filter leaves it
-- out, and the call gets the default action, as the default profile's do.
function M.check_names(where, p, notify, lib)
  lib = lib or require "ns.seccomp"
  for i, g in ipairs(p.syscalls) do
    for j, n in ipairs(g.names) do
      if not lib.resolve(n) and not (g.action == "allow" and listed(n)) then
        unknown(fmt("%s.syscalls[%d].names[%d]", where, i, j), n, lib)
      end
    end
  end
  for _, n in ipairs(notify or {}) do
    if not lib.resolve(n) then unknown(where .. ".notify." .. n, n, lib) end
  end
end

--- compile(what, p, caps, notify, trusted) -> the program of p for a
-- container with capabilities caps. The names of a profile not trusted
-- (the recipe's) are checked first; the default profile's that this
-- libseccomp does not know are left out (the calls get the default
-- action).
function M.compile(what, p, caps, notify, trusted)
  local lib = require "ns.seccomp"
  local where = what .. ": seccomp" .. (notify and ".profile" or "")
  if not trusted then M.check_names(where, p, nil, lib) end
  if notify then M.check_names(what .. ": seccomp", { syscalls = {} }, notify, lib) end
  local prog, skipped, e = lib.compile(M.resolve(p, caps, notify))
  if not prog then error(fmt("%s: seccomp: %s", what, tostring(skipped)), 0) end
  if not seccomp.valid(prog) then error(fmt("%s: seccomp: libseccomp wrote a program that does not look like one", what), 0) end
  return prog, skipped, e
end

-- Summary ------------------------------------------------------------------

local function hex(v) return v >= 0 and v < 256 and tostring(v) or fmt("0x%x", v) end

local OPSYM = { eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }

local function args_text(args)
  local out = {}
  for _, a in ipairs(args) do
    if a[2] == "masked_eq" then
      out[#out + 1] = fmt("arg%d & %s == %s", a[1], hex(a[3]), hex(a[4] or 0))
    else
      out[#out + 1] = fmt("arg%d %s %s", a[1], OPSYM[a[2]], hex(a[3]))
    end
  end
  return concat(out, " and ")
end

local function action_text(g, p)
  if g.action == "errno" then
    local e = errno_of(g.errno or p.errno or "EPERM")
    for k, v in pairs(ns.E) do if v == e then return "errno " .. k end end
    return "errno " .. e
  end
  return g.action
end

local function wrap_words(names, indent, width)
  local lines, line = {}, indent
  for _, n in ipairs(names) do
    if #line + #n + 1 > width and line ~= indent then
      lines[#lines + 1] = line
      line = indent
    end
    line = line .. (line == indent and "" or " ") .. n
  end
  if line ~= indent then lines[#lines + 1] = line end
  return concat(lines, "\n")
end

--- summary(p, caps [, label]) -> a few readable lines about profile p for
-- a container with capabilities caps: the default action, the
-- architectures, how many calls it allows, its conditional rules, the
-- calls a capability or an architecture adds, and the names this
-- libseccomp would leave out.
function M.summary(p, caps, label)
  local lib = require "ns.seccomp"
  local capset, native, release = M.capset(caps), ns.seccomp_abi(), seccomp.release()
  local out = {}
  local function add(f, ...) out[#out + 1] = fmt(f, ...) end
  local ncaps = caps == "all" and "every capability" or fmt("%d capabilities", #caps)
  add("%s: %d groups; as luactr compiles it for a container with %s on %s (kernel %s)",
    label or "profile", #p.syscalls, ncaps, native, release)
  add("  default action: %s", action_text({ action = p.default, errno = p.errno }, p))
  local arches, off = M.architectures(p, lib)
  add("  architectures: %s%s", concat(arches, ", "),
    #off > 0 and fmt(" (not %s: this kernel does not run its calls)", concat(off, ", ")) or "")
  local plain, cond, bycap, byarch, seen = {}, {}, {}, {}, {}
  local unknownn = {}
  for _, g in ipairs(p.syscalls) do
    local on = applies(g, capset, native, release)
    local capped = g.includes and g.includes.caps
    local arched = g.includes and g.includes.arches
    for _, n in ipairs(g.names) do
      if not lib.resolve(n) and not seen["?" .. n] then seen["?" .. n] = true; unknownn[#unknownn + 1] = n end
    end
    if capped then
      local k = {}
      for i, c in ipairs(capped) do k[i] = norm_cap(c) end
      local key = concat(k, "+")
      bycap[key] = bycap[key] or { names = {}, on = on }
      for _, n in ipairs(g.names) do bycap[key].names[#bycap[key].names + 1] = n end
    elseif arched and not g.args then
      local key = concat(arched, ", ")
      byarch[key] = byarch[key] or { names = {}, on = on }
      for _, n in ipairs(g.names) do byarch[key].names[#byarch[key].names + 1] = n end
    elseif g.args or g.excludes or g.action ~= "allow" or (g.includes and g.includes.min_kernel) then
      cond[#cond + 1] = g
    elseif on then
      for _, n in ipairs(g.names) do
        if not seen[n] then seen[n] = true; plain[#plain + 1] = n end
      end
    end
  end
  add("  allowed whatever the arguments: %d names (%d of them calls of %s)", #plain,
    (function()
      local k = 0
      for _, n in ipairs(plain) do local nr = lib.resolve(n); if nr and nr >= 0 then k = k + 1 end end
      return k
    end)(), native)
  if #cond > 0 then
    add("  conditional rules (%s: applies to this container):", "*")
    for _, g in ipairs(cond) do
      local when = {}
      if g.args then when[#when + 1] = "when " .. args_text(g.args) end
      if g.excludes and g.excludes.caps then
        local k = {}
        for i, c in ipairs(g.excludes.caps) do k[i] = norm_cap(c) end
        when[#when + 1] = "without " .. concat(k, ", ")
      end
      if g.excludes and g.excludes.arches then when[#when + 1] = "not on " .. concat(g.excludes.arches, ", ") end
      if g.includes and g.includes.arches then when[#when + 1] = "on " .. concat(g.includes.arches, ", ") end
      if g.includes and g.includes.min_kernel then when[#when + 1] = "from kernel " .. g.includes.min_kernel end
      add("    %s %s: %s%s", applies(g, capset, native, release) and "*" or " ", concat(g.names, " "),
        action_text(g, p), #when > 0 and (" " .. concat(when, ", ")) or "")
    end
  end
  local keys = util.sorted_keys(bycap)
  if #keys > 0 then
    add("  allowed only with a capability (*: this container has it):")
    for _, k in ipairs(keys) do
      local head = fmt("    %s %s:", bycap[k].on and "*" or " ", k)
      add("%s", head .. wrap_words(bycap[k].names, "      ", 100):gsub("^%s+", " "))
    end
  end
  keys = util.sorted_keys(byarch)
  if #keys > 0 then
    add("  allowed only on an architecture (*: this one):")
    for _, k in ipairs(keys) do add("    %s %s: %s", byarch[k].on and "*" or " ", k, concat(byarch[k].names, " ")) end
  end
  local bynr, left = {}, {}
  for _, n in ipairs(unknownn) do
    local v = M.NEWER[n]
    if v and p.default ~= "allow" and p.default ~= "log" then
      bynr[#bynr + 1] = type(v) == "number" and fmt("%s (%d)", n, v) or fmt("%s (%d, %s only)", n, v[1], v[2])
    else
      left[#left + 1] = n
    end
  end
  if #bynr > 0 then
    add("  allowed by number, newer than libseccomp %s:", lib.version())
    add("%s", wrap_words(bynr, "    ", 100))
  end
  if #left > 0 then
    add("  left out, unknown to libseccomp %s (those calls get the default action):", lib.version())
    add("%s", wrap_words(left, "    ", 100))
  end
  if p.default ~= "allow" and p.default ~= "log" then
    add("  a call numbered past the last one known here: errno ENOSYS, an older kernel's answer, not the default")
  end
  return concat(out, "\n")
end

return M
