--- ns.cgroup.limits: limits given by meaning, planned as file writes.
-- One translator per controller, in a table keyed by limit (cpu and
-- cpu_period share one, as do memory and memory_swap): each checks the
-- limits in force and emits the writes that the layout's v1 or v2 files
-- need. plan() runs the translators of the changed limits in a fixed
-- order; ns.cgroup's header lists the limits and the files they become.
-- See Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/.
local ns = require "ns.core"
local util = require "ns.util"
local v1 = require "ns.cgroup.v1"

local readfile, stat = ns.readfile, ns.stat
local fmt, concat, sort, floor = string.format, table.concat, table.sort, math.floor
local tointeger = math.tointeger

local M = {}

local RULE_KEYS = { type = true, major = true, minor = true, access = true, allow = true }

local function has(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

--- parse_size(v) -> bytes. v: a non-negative integer, or a string "512",
-- "512K", "64M", "1G", "2T" (binary multiples, case-insensitive, optional
-- "B", "i" or "iB": "64MB", "64Mi", "64MiB"; decimals allowed: "1.5G").
-- Raises on bad input.
local UNITS = { [""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4 }
local SUFFIXES = { [""] = true, b = true, i = "unit", ib = "unit" }

-- bytes, and whether v was a bare number (no unit); or nil, why not.
local function size(v)
  if math.type(v) == "integer" then
    if v < 0 then return nil, fmt("negative size %d", v) end
    return v, true
  end
  if type(v) == "number" then
    local i = tointeger(v)
    if i and i >= 0 then return i, true end
    return nil, fmt("size %s is not a whole number of bytes", tostring(v))
  end
  if type(v) ~= "string" then return nil, fmt("size must be a number or a string, got %s", type(v)) end
  local num, unit, suffix = v:match("^%s*(%d+%.?%d*)%s*([KkMmGgTt]?)(%a*)%s*$")
  local ok = num and SUFFIXES[suffix:lower()]
  if not ok or (ok == "unit" and unit == "") then
    return nil, fmt("bad size %q (bytes, or a number with K, M, G or T, e.g. \"64M\")", v:sub(1, 48))
  end
  local bytes = tointeger(floor(tonumber(num) * UNITS[unit:lower()]))
  if not bytes then return nil, fmt("size %q is too large", v:sub(1, 48)) end
  return bytes, unit == "" and suffix == ""
end

function M.parse_size(v)
  local n, err = size(v)
  if not n then error("parse_size: " .. err, 2) end
  return n
end

-- A memory limit this small is a size written without its unit: 64 for
-- 64M would be 64 bytes, and an OOM kill at once.
M.MIN_BARE_BYTES = 1024 * 1024

-- CPU lists ("0-2,4") as a set; nil when malformed.
local function cpulist(s)
  if type(s) ~= "string" or s == "" then return nil end
  local set = {}
  for part in (s .. ","):gmatch("([^,]*),") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a or part:match("^(%d+)$")), tonumber(b)
    if not a or (b and b < a) or (b or a) > 65535 then return nil end
    for c = a, b or a do set[c] = true end
  end
  return set
end

-- v for a message: as tostring gives it, cut to a line.
local function shown(v)
  local s = tostring(v)
  if #s > 48 then s = s:sub(1, 48) .. fmt("... (%d bytes)", #s) end
  return s
end

-- What each limit's value must be, whatever the layout: shared by the
-- translators (whose messages name the file) and check() (which a recipe
-- runs before anything starts). Each takes m, every limit in force, and
-- returns what to write, or nil and why; every why starts with the name
-- of the limit at fault.
local V = {}

-- cpu and cpu_period -> {quota = µs or nil for none, period = µs}.
function V.cpu(m)
  local period = tointeger(m.cpu_period or 100000)
  if not period then
    return nil, fmt("cpu_period must be an integer number of µs, got %s", shown(m.cpu_period)), "cpu_period"
  end
  if period < 1000 or period > 1000000 then
    return nil, fmt("cpu_period %d out of range (1000..1000000 µs)", period), "cpu_period"
  end
  local cpu = m.cpu
  if cpu == nil or cpu == "max" then return { period = period } end
  if type(cpu) ~= "number" or cpu ~= cpu or cpu <= 0 or cpu == math.huge then
    return nil, fmt("cpu must be a positive fraction of one CPU (0.2 = 20%%) or \"max\", got %s", shown(cpu)), "cpu"
  end
  local quota = floor(cpu * period + 0.5)
  if quota < 1000 then
    return nil, fmt("cpu %s gives a quota of %d µs, below the kernel's minimum of 1000 (raise cpu or cpu_period)",
      shown(cpu), quota), "cpu"
  end
  return { quota = quota, period = period }
end

-- The weight limit key as an integer 1..10000 (v2's scale).
local function weight(m, key)
  local w = tointeger(m[key])
  if not w or w < 1 or w > 10000 then return nil, fmt("%s must be an integer 1..10000, got %s", key, shown(m[key])) end
  return w
end
function V.cpu_weight(m) return weight(m, "cpu_weight") end
function V.io_weight(m) return weight(m, "io_weight") end

-- cpuset -> the set of CPUs it names.
function V.cpuset(m)
  local set = cpulist(m.cpuset)
  if not set then return nil, fmt("cpuset must be a CPU list like \"0\" or \"0-1,3\", got %s", shown(m.cpuset)) end
  return set
end

-- The byte limit key -> bytes or "max": positive, and a bare number
-- (no unit) of at least MIN_BARE_BYTES.
local function bytes(m, key)
  local v = m[key]
  if v == "max" then return "max" end
  local n, bare = size(v)
  if not n then return nil, fmt("%s: %s", key, bare) end
  if n <= 0 then return nil, fmt("%s must be positive, got %s", key, shown(v)) end
  if bare and n < M.MIN_BARE_BYTES then
    return nil, fmt("%s %s is %d bytes; for %d MiB write \"%dM\"", key, shown(v), n, n, n)
  end
  return n
end

-- memory and memory_swap -> {memory = bytes|"max"|nil, swap = bytes|"max"|nil}:
-- memory_swap is memory plus swap, so it needs a memory limit below it.
function V.memory(m)
  local out = {}
  for _, k in ipairs({ "memory", "memory_swap" }) do
    if m[k] ~= nil then
      local n, why = bytes(m, k)
      if not n then return nil, why, k end
      out[k == "memory" and "memory" or "swap"] = n
    end
  end
  local mem, total = out.memory, out.swap
  if total and total ~= "max" then
    if mem == nil or mem == "max" then
      return nil, "memory_swap (memory plus swap) needs a memory limit", "memory_swap"
    end
    if total < mem then
      return nil, fmt("memory_swap is memory plus swap and must be >= memory (%d)", mem), "memory_swap"
    end
  end
  return out
end

-- pids -> a positive integer or "max".
function V.pids(m)
  local v = m.pids
  if v == "max" then return v end
  v = tointeger(v)
  if not v or v <= 0 then return nil, fmt("pids must be a positive integer or \"max\", got %s", shown(m.pids)) end
  return v
end

-- devices -> the list of rules, each {type, major, minor, access, allow}.
function V.devices(m)
  local rules = m.devices
  if type(rules) ~= "table" then return nil, fmt("devices must be a list of rules, got %s", type(rules)) end
  local n = #rules
  for k, r in pairs(rules) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      return nil, fmt("devices must be a list (no holes), but has key %s", shown(k))
    end
    local what = fmt("devices[%d]", k)
    if type(r) ~= "table" then return nil, fmt("%s must be a table", what) end
    for rk in pairs(r) do
      if not RULE_KEYS[rk] then
        return nil, fmt("%s: unknown key '%s' (valid: access, allow, major, minor, type)", what, shown(rk))
      end
    end
    if r.type ~= "c" and r.type ~= "b" and r.type ~= "a" then
      return nil, fmt("%s: type must be \"c\", \"b\" or \"a\", got %s", what, shown(r.type))
    end
    for _, f in ipairs({ "major", "minor" }) do
      if r[f] ~= nil and (math.type(r[f]) ~= "integer" or r[f] < 0) then
        return nil, fmt("%s: %s must be a number >= 0 or nil (any)", what, f)
      end
    end
    if r.access ~= nil and (type(r.access) ~= "string" or r.access == "" or r.access:find("[^rwm]")) then
      return nil, fmt("%s: access must be letters of \"rwm\", got %s", what, shown(r.access))
    end
    if type(r.allow) ~= "boolean" then return nil, fmt("%s: allow must be true or false", what) end
  end
  return rules
end
V.cpu_period, V.memory_swap = V.cpu, V.memory

-- memory_reservation -> bytes or "max" (a soft limit: reclaimed down to
-- it only under pressure).
function V.memory_reservation(m) return bytes(m, "memory_reservation") end

local function int_in(m, key, lo, hi, what)
  local v = tointeger(m[key])
  if not v or v < lo or v > hi then return nil, fmt("%s must be %s, got %s", key, what, shown(m[key])) end
  return v
end
function V.memory_swappiness(m) return int_in(m, "memory_swappiness", 0, 100, "an integer 0..100") end
function V.cpu_idle(m)
  if m.cpu_idle == true or m.cpu_idle == false then return m.cpu_idle and 1 or 0 end
  return nil, fmt("cpu_idle must be true or false, got %s", shown(m.cpu_idle))
end
function V.cpu_burst(m) return int_in(m, "cpu_burst", 0, 2 ^ 53, "a number of µs, 0 or more") end
function V.oom_kill_disable(m)
  if m.oom_kill_disable == true or m.oom_kill_disable == false then return m.oom_kill_disable end
  return nil, fmt("oom_kill_disable must be true or false, got %s", shown(m.oom_kill_disable))
end

-- cpu_rt_runtime and cpu_rt_period (µs): {runtime, period}, either nil.
function V.cpu_rt(m)
  local out = {}
  if m.cpu_rt_period ~= nil then
    local v, why = int_in(m, "cpu_rt_period", 1, 1000000, "a number of µs 1..1000000")
    if not v then return nil, why, "cpu_rt_period" end
    out.period = v
  end
  if m.cpu_rt_runtime ~= nil then
    local v, why = int_in(m, "cpu_rt_runtime", -1, 1000000, "a number of µs up to 1000000, or -1 for no limit")
    if not v then return nil, why, "cpu_rt_runtime" end
    if out.period and v > out.period then
      return nil, fmt("cpu_rt_runtime %d is above cpu_rt_period %d", v, out.period), "cpu_rt_runtime"
    end
    out.runtime = v
  end
  return out
end
V.cpu_rt_runtime, V.cpu_rt_period = V.cpu_rt, V.cpu_rt

-- cpuset_mems -> the memory nodes' list as given.
function V.cpuset_mems(m)
  if not cpulist(m.cpuset_mems) then
    return nil, fmt("cpuset_mems must be a node list like \"0\" or \"0-1\", got %s", shown(m.cpuset_mems))
  end
  return m.cpuset_mems
end

-- A list of per-device entries {major, minor, ...} whose other keys are
-- the names of keys (each a non-negative integer): checked.
local function device_list(m, key, fields, min)
  local l = m[key]
  if type(l) ~= "table" then return nil, fmt("%s must be a list of {major =, minor =, ...}, got %s", key, shown(l)) end
  for i, e in ipairs(l) do
    local what = fmt("%s[%d]", key, i)
    if type(e) ~= "table" then return nil, fmt("%s must be a table {major =, minor =, ...}", what) end
    for k in pairs(e) do
      if k ~= "major" and k ~= "minor" and not fields[k] then
        return nil, fmt("%s: unknown key %s (valid: major, minor, %s)", what, util.quoted(k), concat(util.sorted_keys(fields), ", "))
      end
    end
    for _, k in ipairs({ "major", "minor" }) do
      if math.type(e[k]) ~= "integer" or e[k] < 0 then return nil, fmt("%s: %s must be a number >= 0", what, k) end
    end
    local any = false
    for k in pairs(fields) do
      if e[k] ~= nil then
        any = true
        if math.type(e[k]) ~= "integer" or e[k] < (min or 0) then
          return nil, fmt("%s: %s must be an integer >= %d, got %s", what, k, min or 0, shown(e[k]))
        end
      end
    end
    if not any then return nil, fmt("%s: gives no %s", what, concat(util.sorted_keys(fields), ", ")) end
  end
  return l
end
local IO_MAX = { rbps = true, wbps = true, riops = true, wiops = true }
function V.io_max(m) return device_list(m, "io_max", IO_MAX) end
function V.io_weight_device(m)
  local l, why = device_list(m, "io_weight_device", { weight = true }, 1)
  if not l then return nil, why end
  for i, e in ipairs(l) do
    if e.weight > 10000 then return nil, fmt("io_weight_device[%d]: weight must be 1..10000, got %d", i, e.weight) end
  end
  return l
end

-- hugetlb -> {page size ("2MB") = bytes or "max"}.
function V.hugetlb(m)
  if type(m.hugetlb) ~= "table" then return nil, fmt("hugetlb must map page sizes (\"2MB\") to limits, got %s", shown(m.hugetlb)) end
  local out = {}
  for k, v in pairs(m.hugetlb) do
    if type(k) ~= "string" or not k:match("^%d+[KMG]B$") then
      return nil, fmt("hugetlb: %s is not a page size like \"2MB\" or \"1GB\"", shown(k))
    end
    local n, why = bytes({ [k] = v }, k)
    if not n then return nil, "hugetlb." .. why end
    out[k] = n
  end
  return out
end

-- unified -> {file = value}: v2 files of the group written as given.
local UNIFIED_DENY = { ["cgroup.procs"] = true, ["cgroup.threads"] = true, ["cgroup.subtree_control"] = true,
  ["cgroup.kill"] = true, ["cgroup.freeze"] = true, ["cgroup.type"] = true }
function V.unified(m)
  if type(m.unified) ~= "table" then return nil, fmt("unified must map v2 file names to values, got %s", shown(m.unified)) end
  for k, v in pairs(m.unified) do
    if type(k) ~= "string" or not k:match("^%l[%w_]*%.[%w_.]+$") or k:find("..", 1, true) then
      return nil, fmt("unified: %s is not a cgroup v2 file name (controller.file)", util.show(k))
    end
    if UNIFIED_DENY[k] then return nil, fmt("unified: %s is luactr's to write, not a limit", k) end
    if type(v) ~= "string" and math.type(v) ~= "integer" then
      return nil, fmt("unified.%s must be a string or an integer, got %s", k, shown(v))
    end
  end
  return m.unified
end

-- The plan under way: p.name, p.l (the layout), p.changes, p.merged (every
-- limit in force), p.cur (reads a live group's file, or nil on create),
-- p.v2ok (the v2 tree's controllers, or a delegated subtree's) and p.out
-- (the writes so far).

local function fail(p, f, ...) error(fmt('cgroup "%s": ', p.name) .. fmt(f, ...), 0) end

-- Why a controller is unavailable, in the terms of the host's layout.
local function missing(p, v1ctrl, v2ctrl)
  local l, v2ok = p.l, p.v2ok
  if l.v2 then
    local have = #v2ok > 0 and "cgroup.controllers: " .. concat(v2ok, " ") or "cgroup.controllers is empty"
    if l.base then
      return fmt("controller %s is not delegated to uid %d (%s/%s)", v2ctrl, l.uid, l.base_dir, have)
    end
    if l.mode == "v2" then return fmt("controller %s not available in the v2 tree (%s)", v2ctrl, have) end
    return fmt("controller %s is not mounted (v1) and %s is not available in the v2 tree (%s)", v1ctrl, v2ctrl, have)
  end
  return fmt("controller %s is not mounted", v1ctrl)
end

-- Where a limit goes: "v1", v1 file, or "v2", v2 file, or nil, the file
-- it would be (v2's when there is a v2 tree), why not.
local function where(p, v1ctrl, v1file, v2ctrl, v2file)
  local l = p.l
  if l.v1 and l.v1[v1ctrl] then return "v1", v1file end
  if has(p.v2ok, v2ctrl) then return "v2", v2file end
  return nil, l.v2 and v2file or v1file, missing(p, v1ctrl, v2ctrl)
end

-- One write of value to file for kind ("v1", "v2" or nil: raise why).
local function emit(p, kind, ctrl, file, value, why)
  if not kind then fail(p, "%s \"%s\": %s", file, tostring(value), why) end
  p.out[#p.out + 1] = { ctrl = kind == "v1" and ctrl or "v2", file = file, value = tostring(value) }
end

-- The translators, keyed by limit.
local T = {}

-- A quota per period: v1 cpu.cfs_period_us and cpu.cfs_quota_us, v2
-- cpu.max "quota period".
function T.cpu(p)
  local kind, file, why = where(p, "cpu", "cpu.cfs_quota_us", "cpu", "cpu.max")
  local q, bad, key = V.cpu(p.merged)
  if not q then fail(p, "%s: %s", key == "cpu_period" and kind == "v1" and "cpu.cfs_period_us" or file, bad) end
  if kind == "v2" or (not kind and p.l.v2) then
    emit(p, kind, "cpu", file, fmt("%s %d", q.quota and tostring(q.quota) or "max", q.period), why)
  elseif not kind then
    emit(p, kind, "cpu", file, q.quota or -1, why)
  else
    emit(p, kind, "cpu", "cpu.cfs_period_us", q.period)
    emit(p, kind, "cpu", "cpu.cfs_quota_us", q.quota or -1)
  end
end
T.cpu_period = T.cpu

-- v2 cpu.weight; v1 cpu.shares on its own scale.
function T.cpu_weight(p)
  local kind, file, why = where(p, "cpu", "cpu.shares", "cpu", "cpu.weight")
  local w, bad = V.cpu_weight(p.merged)
  if not w then fail(p, "%s: %s", file, bad) end
  if kind == "v1" then w = math.max(2, math.min(262144, 1024 * w // 100)) end
  emit(p, kind, "cpu", file, w, why)
end

-- cpuset.cpus, every CPU one the host offers.
function T.cpuset(p)
  local l = p.l
  local kind, file, why = where(p, "cpuset", "cpuset.cpus", "cpuset", "cpuset.cpus")
  local v = p.merged.cpuset
  local want, bad = V.cpuset(p.merged)
  if not want then fail(p, "%s: %s", file, bad) end
  -- The CPUs the host offers: the hierarchy root's, else sysfs's.
  local avail
  if kind == "v1" then avail = readfile(l.v1.cpuset .. "/cpuset.effective_cpus") or readfile(l.v1.cpuset .. "/cpuset.cpus")
  elseif kind == "v2" then avail = readfile(l.v2 .. "/cpuset.cpus.effective") end
  avail = avail or readfile("/sys/devices/system/cpu/online") or ""
  avail = avail:match("^%s*(.-)%s*$")
  local have = cpulist(avail)
  if have then
    for c in pairs(want) do
      if not have[c] then fail(p, "%s %q: the host has no CPU %d (it has %s)", file, v, c, avail) end
    end
  end
  emit(p, kind, "cpuset", file, v, why)
end

-- memory and memory_swap: v1 memory.limit_in_bytes and
-- memory.memsw.limit_in_bytes (memory plus swap), v2 memory.max and
-- memory.swap.max (swap alone).
function T.memory(p)
  local l, m = p.l, p.merged
  local mkind, mfile, mwhy = where(p, "memory", "memory.limit_in_bytes", "memory", "memory.max")
  local skind, sfile, swhy = where(p, "memory", "memory.memsw.limit_in_bytes", "memory", "memory.swap.max")
  if m.memory_swap ~= nil and skind == "v1" and not stat(l.v1.memory .. "/memory.memsw.limit_in_bytes") then
    fail(p, "%s %s: the host lacks it (swap accounting is off; boot with swapaccount=1)", sfile, shown(m.memory_swap))
  end
  local v, bad, key = V.memory(m)
  if not v then
    if key == "memory" then fail(p, "%s: %s", mfile, bad) end
    fail(p, "%s %s: %s", sfile, shown(m.memory_swap), bad)
  end
  local writes = {}
  if p.changes.memory ~= nil then
    local n = v.memory
    if mkind == "v1" and n == "max" then n = -1 end
    writes[#writes + 1] = { mkind, mfile, n, mwhy }
  end
  if v.swap ~= nil then
    local n = v.swap
    if n ~= "max" and skind ~= "v1" then n = n - v.memory end
    if n == "max" and skind == "v1" then n = -1 end
    local w = { skind, sfile, n, swhy }
    -- v1 keeps limit_in_bytes <= memsw.limit_in_bytes at every step:
    -- memsw goes first when the new memory limit exceeds the current memsw.
    local first = false
    if skind == "v1" and p.cur and writes[1] then
      local now = tonumber(p.cur("memory", "memory.memsw.limit_in_bytes"))
      local mw = writes[1][3]
      first = now and (mw == -1 or mw > now) or false
    end
    table.insert(writes, first and 1 or #writes + 1, w)
  end
  for _, w in ipairs(writes) do emit(p, w[1], "memory", w[2], w[3], w[4]) end
end
T.memory_swap = T.memory

-- pids.max, the same on v1 and v2.
function T.pids(p)
  local kind, file, why = where(p, "pids", "pids.max", "pids", "pids.max")
  local v, bad = V.pids(p.merged)
  if not v then fail(p, "%s: %s", file, bad) end
  emit(p, kind, "pids", file, v, why)
end

-- The first of two files that the group has (the host's I/O scheduler
-- decides): v2 io.weight or io.bfq.weight, v1 blkio.weight or
-- blkio.bfq.weight, each on its own scale.
function T.io_weight(p)
  local kind, file, why = where(p, "blkio", "blkio.weight", "io", "io.weight")
  local w, bad = V.io_weight(p.merged)
  if not w then fail(p, "%s: %s", file, bad) end
  if not kind then fail(p, "%s \"%d\": %s", file, w, why) end
  local bfq = math.max(1, math.min(1000, w))
  local alts = kind == "v1"
    and { { "blkio.weight", math.max(10, math.min(1000, 5 * w)) }, { "blkio.bfq.weight", bfq } }
    or { { "io.weight", w }, { "io.bfq.weight", bfq } }
  for _, a in ipairs(alts) do a[2] = tostring(a[2]) end
  p.out[#p.out + 1] = { ctrl = kind == "v1" and "blkio" or "v2", alts = alts, what = fmt("io_weight %d", w) }
end

-- A device allow-list: v1 devices.deny and devices.allow lines, or on v2
-- one write that stands for the BPF program built from the rules.
function T.devices(p)
  local l = p.l
  local rules, bad = V.devices(p.merged)
  if not rules then fail(p, "%s", bad) end
  if l.v1 and l.v1.devices then
    for _, w in ipairs(v1.device_writes(rules)) do p.out[#p.out + 1] = w end
  elseif l.v2 then
    p.out[#p.out + 1] = { ctrl = "v2", devices = rules, what = "devices" }
  else
    fail(p, "devices: %s", missing(p, "devices", "devices"))
  end
end

-- The limits of one file each: ctrl's v1 file and v2 file (the same
-- controller on both), or with v2 = false none on v2, where v2_none says
-- why. max: v1's -1; value(v): what to write, when not v itself.
local function single(key, ctrl, v1file, v2file, o)
  o = o or {}
  T[key] = function(p)
    local kind, file, why = where(p, ctrl, v1file, ctrl, v2file or v1file)
    local v, bad = V[key](p.merged)
    if v == nil then fail(p, "%s: %s", file, bad) end
    if kind == "v2" and not v2file then fail(p, o.v2_none, v) end
    if kind == "v1" and v == "max" then v = -1 end
    emit(p, kind, ctrl, file, o.value and o.value(v) or v, why)
  end
end

-- A soft limit: v1 memory.soft_limit_in_bytes, v2 memory.low.
single("memory_reservation", "memory", "memory.soft_limit_in_bytes", "memory.low")
-- v1 memory.kmem.tcp.limit_in_bytes (TCP buffers); v2 has no such limit.
function V.memory_tcp(m) return bytes(m, "memory_tcp") end
single("memory_tcp", "memory", "memory.kmem.tcp.limit_in_bytes", false,
  { v2_none = "memory_tcp: cgroup v2 has no limit of TCP buffers of its own (memory.kmem.tcp is v1's)" })
-- v1 memory.swappiness; v2 has none (the host's vm.swappiness).
single("memory_swappiness", "memory", "memory.swappiness", false,
  { v2_none = "memory.swappiness \"%d\": cgroup v2 has no swappiness of a group's own" })
-- v1 memory.oom_control 1: the group's tasks wait on OOM instead of
-- being killed; v2 has no such switch.
single("oom_kill_disable", "memory", "memory.oom_control", false,
  { v2_none = "oom_kill_disable: cgroup v2 has no switch for the OOM killer (memory.oom_control is v1's)",
    value = function(v) return v and 1 or 0 end })
-- cpu.idle (Linux 5.15): the group's tasks at SCHED_IDLE.
single("cpu_idle", "cpu", "cpu.idle", "cpu.idle")
-- v1 cpu.cfs_burst_us, v2 cpu.max.burst (Linux 5.14): at most the quota.
single("cpu_burst", "cpu", "cpu.cfs_burst_us", "cpu.max.burst")
-- cpuset.mems, v1 and v2.
single("cpuset_mems", "cpuset", "cpuset.mems", "cpuset.mems")

-- v1 cpu.rt_period_us, then cpu.rt_runtime_us (v2 has no realtime
-- budget). The kernel takes a budget only within the parent's.
local function cpu_rt(p)
  local kind, file, why = where(p, "cpu", "cpu.rt_runtime_us", "cpu", "cpu.rt_runtime_us")
  local v, bad, key = V.cpu_rt(p.merged)
  if not v then fail(p, "%s: %s", key == "cpu_rt_period" and "cpu.rt_period_us" or file, bad) end
  if kind == "v2" or (not kind and p.l.v2 and not p.l.v1) then
    fail(p, "cpu_rt_runtime and cpu_rt_period: cgroup v2 has no realtime budget of a group's own (cpu.rt_runtime_us is v1's)")
  end
  if v.period then emit(p, kind, "cpu", "cpu.rt_period_us", v.period, why) end
  if v.runtime then emit(p, kind, "cpu", "cpu.rt_runtime_us", v.runtime, why) end
end
T.cpu_rt_runtime, T.cpu_rt_period = cpu_rt, cpu_rt

-- Throttles per device: v1 blkio.throttle.{read,write}_{bps,iops}_device
-- "MAJ:MIN N", one write each; v2 io.max "MAJ:MIN rbps=N ...", a line a
-- device.
local V1_THROTTLE = { rbps = "blkio.throttle.read_bps_device", wbps = "blkio.throttle.write_bps_device",
  riops = "blkio.throttle.read_iops_device", wiops = "blkio.throttle.write_iops_device" }
function T.io_max(p)
  local kind, file, why = where(p, "blkio", "blkio.throttle.read_bps_device", "io", "io.max")
  local l, bad = V.io_max(p.merged)
  if not l then fail(p, "%s: %s", file, bad) end
  for _, e in ipairs(l) do
    local dev = fmt("%d:%d", e.major, e.minor)
    if kind == "v1" then
      for _, k in ipairs({ "rbps", "wbps", "riops", "wiops" }) do
        if e[k] then emit(p, kind, "blkio", V1_THROTTLE[k], dev .. " " .. e[k]) end
      end
    else
      local parts = { dev }
      for _, k in ipairs({ "rbps", "wbps", "riops", "wiops" }) do
        if e[k] then parts[#parts + 1] = k .. "=" .. e[k] end
      end
      emit(p, kind, "io", file, concat(parts, " "), why)
    end
  end
end

-- A weight per device, where the I/O scheduler has one (bfq): v1
-- blkio.weight_device or blkio.bfq.weight_device, v2 io.weight or
-- io.bfq.weight "MAJ:MIN W".
function T.io_weight_device(p)
  local kind, file, why = where(p, "blkio", "blkio.weight_device", "io", "io.weight")
  local l, bad = V.io_weight_device(p.merged)
  if not l then fail(p, "%s: %s", file, bad) end
  if not kind then fail(p, "%s: %s", file, why) end
  for _, e in ipairs(l) do
    local dev, w = fmt("%d:%d", e.major, e.minor), e.weight
    local bfq = math.max(1, math.min(1000, w))
    local alts = kind == "v1"
      and { { "blkio.weight_device", dev .. " " .. math.max(10, math.min(1000, 5 * w)) }, { "blkio.bfq.weight_device", dev .. " " .. bfq } }
      or { { "io.weight", dev .. " " .. w }, { "io.bfq.weight", dev .. " " .. bfq } }
    p.out[#p.out + 1] = { ctrl = kind == "v1" and "blkio" or "v2", alts = alts, what = fmt("io_weight_device %s %d", dev, w) }
  end
end

-- On a hybrid host the v2 tree's root is the host's, with the controllers
-- its owner turned on: luactr enables none there itself.
local function hybrid_off(p, kind, ctrl, file, value)
  local l = p.l
  if kind == "v2" and l.mode == "hybrid" and not l.base then
    local on = {}
    for w in (readfile(l.v2 .. "/cgroup.subtree_control") or ""):gmatch("%S+") do on[#on + 1] = w end
    if not has(on, ctrl) then
      fail(p, "%s \"%s\": controller %s is in the v2 tree but not on for its groups (%s/cgroup.subtree_control: %s); "
        .. "luactr does not change the host's root: echo +%s > %s/cgroup.subtree_control", file, tostring(value), ctrl, l.v2,
        #on > 0 and concat(on, " ") or "empty", ctrl, l.v2)
    end
  end
end

-- Huge page limits: v1 hugetlb.SIZE.limit_in_bytes, v2 hugetlb.SIZE.max,
-- for a size the kernel has (/sys/kernel/mm/hugepages).
function T.hugetlb(p)
  local v, bad = V.hugetlb(p.merged)
  if not v then fail(p, "%s", bad) end
  local sizes = {}
  for k in pairs(v) do sizes[#sizes + 1] = k end
  sort(sizes)
  for _, k in ipairs(sizes) do
    local kind, file, why = where(p, "hugetlb", "hugetlb." .. k .. ".limit_in_bytes", "hugetlb", "hugetlb." .. k .. ".max")
    local kb = tointeger(tonumber(k:match("^(%d+)")) * ({ K = 1, M = 1024, G = 1024 * 1024 })[k:match("(%a)B$")])
    if not stat(fmt("/sys/kernel/mm/hugepages/hugepages-%dkB", kb)) then
      fail(p, "%s: this kernel has no %s huge pages (/sys/kernel/mm/hugepages)", file, k)
    end
    local n = v[k]
    if kind == "v1" and n == "max" then n = -1 end
    hybrid_off(p, kind, "hugetlb", file, n)
    emit(p, kind, "hugetlb", file, n, why)
  end
end

-- Files of the group's v2 directory, written as given (runtime-spec's
-- linux.resources.unified), after the typed limits.
function T.unified(p)
  local l = p.l
  local v, bad = V.unified(p.merged)
  if not v then fail(p, "%s", bad) end
  if not l.v2 then fail(p, "unified: the host has no cgroup v2 tree") end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys)
  for _, k in ipairs(keys) do
    local ctrl = k:match("^(%l[%w_]*)%.")
    if ctrl ~= "cgroup" and not has(p.v2ok, ctrl) then
      local have = #p.v2ok > 0 and concat(p.v2ok, " ") or "none"
      fail(p, "unified.%s: the v2 tree has no %s controller here (cgroup.controllers: %s)", k, ctrl, have)
    end
    if ctrl ~= "cgroup" then hybrid_off(p, "v2", ctrl, k, v[k]) end
    p.out[#p.out + 1] = { ctrl = "v2", file = k, value = tostring(v[k]), unified = ctrl == "cgroup" or nil }
  end
end

-- The valid limits, sorted (for the message that lists them), and the
-- order in which the translators run, which is the order of the writes.
local KEYS = {}
for k in pairs(T) do KEYS[#KEYS + 1] = k end
sort(KEYS)
M.names = KEYS

-- "unknown limit 'x' (...)", with the limit x is a typo of.
local function unknown(k) return fmt("unknown limit %s (%s)", util.quoted(k), util.choices(k, T, "ns.cgroup's header lists them")) end
local ORDER = { "cpu", "cpu_weight", "cpu_burst", "cpu_idle", "cpu_rt_runtime", "cpuset", "cpuset_mems", "memory",
  "memory_reservation", "memory_tcp", "memory_swappiness", "oom_kill_disable", "pids", "io_weight", "io_weight_device", "io_max",
  "hugetlb", "devices", "unified" }

--- check(limits) -> nil when every limit and value is one that some
-- layout can take; else why not, naming the limit first ("memory 64 is
-- 64 bytes; ..."). What depends on the host (a controller that is
-- missing, a CPU it lacks) is left to plan().
function M.check(limits)
  for k in pairs(limits) do
    if not T[k] then return unknown(k) end
  end
  for _, k in ipairs(ORDER) do
    if limits[k] ~= nil or (k == "cpu" and limits.cpu_period ~= nil) or (k == "memory" and limits.memory_swap ~= nil)
      or (k == "cpu_rt_runtime" and limits.cpu_rt_period ~= nil) then
      local ok, why = V[k](limits)
      if not ok then return why end
    end
  end
  return nil
end

--- plan(name, l, changes, merged, cur) -> writes, need. Turns limits (the
-- changed keys) into an ordered list of writes for layout l: {ctrl = v1
-- controller or "v2", file, value}, or, where the host decides the file,
-- {ctrl, alts = {{file, value}, ...}, what}, or the v2 device program
-- {ctrl = "v2", devices = rules, what}. merged holds every limit in force
-- (for keys that depend on each other); cur(ctrl, file) reads a live
-- group's file (for write order), or is nil on create. need: the v2
-- controllers that the writes need enabled in the parents'
-- subtree_control, as a set. Raises on an unknown or impossible limit.
function M.plan(name, l, changes, merged, cur)
  local p = { name = name, l = l, changes = changes, merged = merged, cur = cur,
    v2ok = l.v2 and l.v2_controllers or {}, out = {} }
  for k in pairs(changes) do
    if not T[k] then
      fail(p, "%s", unknown(k))
    end
  end
  local due = {}
  for k in pairs(changes) do due[T[k]] = true end
  for _, k in ipairs(ORDER) do
    if due[T[k]] then T[k](p) end
  end
  local need = {}
  for _, w in ipairs(p.out) do
    if w.ctrl == "v2" and not w.devices and not w.unified then
      local f = w.file or w.alts[1][1]
      need[f:match("^(%w+)%.")] = true
    end
  end
  return p.out, need
end

return M
