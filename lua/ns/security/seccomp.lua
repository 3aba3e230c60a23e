--- ns.security.seccomp: a container's seccomp filter, from the recipe's
-- seccomp key to the program its process installs last before exec. What
-- every start runs, and so kept small:
--
--   check(what, v, c)  the recipe's value (nil or "default", false, a
--                      profile table, {profile =, notify =}) -> nil for
--                      none, or {key, label, insns, notify, handlers}: the
--                      program compiled, or found compiled, under key
--   program(key)       its bytes (for the seccomp op, which ns.core's
--                      seccomp_load installs: no libseccomp on that path)
--
-- A profile is compiled by libseccomp (ns.seccomp) once: the program is
-- kept in memory under its key, for a luactr that starts many containers,
-- and on disk under the state root for the next luactr process:
-- <state>/.seccomp/<key>.bpf, 0600 in a 0700 directory, written to a
-- temporary name and renamed, checked when read (its owner, its mode, a
-- whole number of instructions within the kernel's limit, a program that
-- begins as libseccomp's do and ends with a return); one that fails is
-- compiled again and replaced. The key is the SHA-256 of the profile's
-- canonical text (every group, whatever applies to this container) with
-- what decides which groups apply (the capabilities, the kernel release),
-- the architecture and the libseccomp that compiles: the same key, the
-- same program. A profile table is checked (ns.security.seccomp_check)
-- at every start; the names in it are checked against libseccomp when it
-- is compiled, and a cached program is one whose names were.
local ns = require "ns.core"
local util = require "ns.util"

local M = {}

local fmt, concat = string.format, table.concat

--- stats: compiles counts the programs this process compiled (specs read
-- it: a start whose program was cached compiles none).
M.stats = { compiles = 0 }

--- DIR: the directory of the state root that holds compiled programs
-- (a name no container has, as ns.util.TMPFS_DIR).
M.DIR = ".seccomp"

-- The kernel's limit, BPF_MAXINSNS instructions of 8 bytes.
local PROG_MAX = 4096 * 8

local PROGRAMS = {} -- key -> program
local TEXT = setmetatable({}, { __mode = "k" }) -- profile table -> its canonical text

local DEFAULT -- the default profile (ns.security.seccomp_default), once loaded

--- default_profile() -> the default profile, as data.
function M.default_profile()
  DEFAULT = DEFAULT or require("ns.security.seccomp_default")
  return DEFAULT
end

-- A list of values (names, caps, arches) in the text.
local function words(t) return t and concat(t, ",") or "" end

local function cond(t)
  if not t then return "-" end
  return fmt("caps=%s arches=%s kernel=%s", words(t.caps), words(t.arches), t.min_kernel or "")
end

-- The canonical text of a profile table (checked, or the default): one
-- line a group, in order, with every field that changes the filter.
local function text_of(p)
  local s = TEXT[p]
  if s then return s end
  local out = { fmt("default %s %s", p.default, tostring(p.errno or "")) }
  local arch = {}
  for i, a in ipairs(p.architectures or {}) do arch[i] = a end
  out[#out + 1] = "architectures " .. words(arch)
  for _, m in ipairs(p.arch_map or {}) do out[#out + 1] = "arch_map " .. words(m) end
  for _, g in ipairs(p.syscalls) do
    local args = {}
    for i, a in ipairs(g.args or {}) do args[i] = fmt("%d %s %s %s", a[1], a[2], tostring(a[3]), tostring(a[4] or 0)) end
    out[#out + 1] = fmt("%s %s %s | %s | %s | %s", g.action, tostring(g.errno or ""), words(g.names), concat(args, ","),
      cond(g.includes), cond(g.excludes))
  end
  s = concat(out, "\n")
  TEXT[p] = s
  return s
end
M.text_of = text_of

local ARCH, LIBVERSION, RELEASE = ns.seccomp_abi()
local EUID = select(2, ns.getuid())

--- DEFAULT_SHA256: the SHA-256 of the default profile's canonical text
-- (text_of), so that a start finds its program without loading the
-- profile. `make` checks it against the data (scripts/seccomp-default.lua,
-- which prints the value to put here when the profile changes).
M.DEFAULT_SHA256 = "22e237a37c8e3e71d51e34a6099cde3e4ab54f9db1c5f10bf7cfa071d69c654e"

-- Whether a profile has a group that only some kernels get.
local function has_min_kernel(p)
  for _, g in ipairs(p.syscalls) do
    if (g.includes and g.includes.min_kernel) or (g.excludes and g.excludes.min_kernel) then return true end
  end
  return false
end

--- release() -> the running kernel's release ("6.1.0-18-amd64").
function M.release() return RELEASE end

local function caps_word(caps)
  if caps == "all" then return "all" end
  local sorted = {}
  for i, n in ipairs(caps) do sorted[i] = n end
  table.sort(sorted)
  return words(sorted)
end

--- key(text_sha, kernel, caps, notify) -> the cache key of a profile
-- whose canonical text has the SHA-256 text_sha, for a container with
-- the capability list caps ("all" or names) whose notify names are
-- notify (a sorted list, or nil); kernel says whether the profile has
-- groups that depend on the kernel's release.
function M.key(text_sha, kernel, caps, notify)
  return ns.sha256(fmt("luactr seccomp 4\nabi %s %s\nkernel %s\ncaps %s\nnotify %s\nprofile %s\n", ARCH,
    LIBVERSION, kernel and RELEASE or "-", caps_word(caps), words(notify), text_sha))
end

--- profile_key(p, caps, notify) -> key for the profile table p.
function M.profile_key(p, caps, notify)
  return M.key(ns.sha256(text_of(p)), has_min_kernel(p), caps, notify)
end

--- cache_dir() -> where compiled programs are kept: <state>/.seccomp.
function M.cache_dir() return util.state_root() .. "/" .. M.DIR end

--- valid(prog) -> whether prog (a string, or a handle of ns.seccomp_prog)
-- looks like a program libseccomp wrote: 2 to 4096 instructions, the
-- first loading the architecture (BPF_LD|BPF_W|BPF_ABS of offset 4), the
-- last a BPF_RET.
function M.valid(prog)
  local n, code, k, last
  if type(prog) == "string" then
    if #prog % 8 ~= 0 then return false end
    n = #prog // 8
    if n < 2 or n > 4096 then return false end
    code, _, _, k = string.unpack("=I2BBI4", prog)
    last = string.unpack("=I2", prog, #prog - 7)
  else
    n = #prog
    if n < 2 then return false end
    code, _, _, k = prog:insn(1)
    last = prog:insn(n)
  end
  return code == 0x20 and k == 4 and last & 0x07 == 0x06
end

-- The program cached on disk under key (a mapping of the file, which
-- costs a start no copy), or nil when there is none that passes the checks.
local function read_cache(key)
  local path = fmt("%s/%s.bpf", M.cache_dir(), key)
  local st = ns.stat(path, "nofollow")
  if not (st and st.type == "file" and st.uid == EUID and st.mode & 0x3f == 0) then return nil end
  local f = ns.open(path, { "rdonly", "nofollow" })
  if not f then return nil end
  local prog = ns.seccomp_prog(f)
  f:close()
  if prog and M.valid(prog) then return prog end
  if prog then prog:close() end
end

-- Keep prog on disk under key, if the directory is ours (made 0700 when
-- missing); a state root that cannot take it only costs the next luactr
-- a compile.
local function write_cache(key, prog)
  local dir = M.cache_dir()
  local st = ns.stat(dir, "nofollow")
  if not st then
    ns.mkdir(util.state_root(), "0755", true)
    ns.mkdir(dir, "0700")
    st = ns.stat(dir, "nofollow")
  end
  if not (st and st.type == "dir" and st.uid == EUID and st.mode == tonumber("700", 8)) then return end
  local path = fmt("%s/%s.bpf", dir, key)
  local tmp = fmt("%s/.%s.%d.tmp", dir, key, ns.getpid())
  if ns.writefile(tmp, prog, { create = true, mode = "0600" }) then
    if not ns.rename(tmp, path) then ns.unlink(tmp) end
  end
end

--- check(what, v, c) -> nil when the container has no filter (v is
-- false), else {key, label, insns, notify = sorted names, handlers =
-- {name = fn}}, the program compiled (or found) for the container c
-- (its capabilities decide which groups apply). v: nil or "default",
-- a profile table, or {profile = "default" | table, notify = {name =
-- function}}. Raises "<what>: seccomp...: why" for a bad value.
function M.check(what, v, c)
  if v == false then return nil end
  local p, label, notify, handlers, key, extra
  if v == nil or v == "default" then
    label = "default profile"
    key = M.key(M.DEFAULT_SHA256, true, c.capabilities)
  elseif type(v) == "table" then
    p, label, notify, handlers, extra = require("ns.security.seccomp_check").value(what, v, c)
    extra = extra or {}
    -- An agent's notify calls are the profile's own groups; handlers'
    -- are added to it as one group.
    local added = not extra.agent and notify or nil
    key = p == DEFAULT and M.key(M.DEFAULT_SHA256, true, c.capabilities, added)
      or M.profile_key(p, c.capabilities, added)
  else
    error(fmt("%s: seccomp must be \"default\", false or a profile table, not %s", what, util.show(v)), 0)
  end
  local prog = PROGRAMS[key] or read_cache(key)
  if not prog then
    p = p or M.default_profile()
    prog = require("ns.security.seccomp_check").compile(what, p, c.capabilities, not (extra and extra.agent) and notify or nil,
      p == DEFAULT)
    M.stats.compiles = M.stats.compiles + 1
    write_cache(key, prog)
  end
  PROGRAMS[key] = prog
  return { key = key, label = label, insns = type(prog) == "string" and #prog // 8 or #prog, notify = notify,
    handlers = handlers, agent = extra and extra.agent, flags = extra and extra.flags }
end

--- program(key) -> the compiled program kept under key, or nil.
function M.program(key) return PROGRAMS[key] end

return M
