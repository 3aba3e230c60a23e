--- helper.lua: what the specs share.
-- H.guard() makes every `it` in the enclosing describe fail when it leaves
-- an fd, a mount, a child process, a luactr cgroup (v1, hybrid or pure v2),
-- a /tmp/luactr-* dir or a named network namespace behind. H.child(fn, types) runs fn in a forked
-- child (in new namespaces when types are given), so nothing a spec
-- unshares, mounts or pivots touches the busted process. The rest is what
-- several spec files need: temp dirs and files, dropping root in a child,
-- running ./luactr (H.run_luactr, H.recipe) and code in a fresh lua5.4
-- (H.lua_child).
local ns = require "ns"

local H = {}

H.ns = ns
H.root = os.getenv("PWD")
H.luactr = H.root .. "/luactr"
-- The cgroup layout the specs expect of the machine: "hybrid" (this
-- project's hosts) unless LUACTR_SPEC_LAYOUT says otherwise, as
-- scripts/test-v2.sh does ("v2") for its user-mode-linux kernel.
H.layout = os.getenv("LUACTR_SPEC_LAYOUT") or "hybrid"

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function lines(path)
  local t = {}
  local f = io.open(path)
  if not f then return t end
  for l in f:lines() do t[#t + 1] = l end
  f:close()
  return t
end

local function mounts()
  local t = {}
  for _, l in ipairs(lines("/proc/self/mountinfo")) do
    -- mount id, then the mount point (field 5)
    local id, mp = l:match("^(%d+) %d+ %S+ %S+ (%S+)")
    t[#t + 1] = id .. " " .. mp
  end
  return t
end

local function children()
  local pid = ns.getpid()
  local raw = lines(("/proc/%d/task/%d/children"):format(pid, pid))[1] or ""
  local t = {}
  for c in raw:gmatch("%d+") do t[#t + 1] = c end
  return t
end

local function fds()
  -- listdir opens one fd of its own, the same before and after.
  return ns.listdir("/proc/self/fd") or {}
end

-- luactr* groups with what each holds: in each hierarchy (v1, hybrid:
-- /sys/fs/cgroup/<h>/) and at the top of a pure v2 tree (/sys/fs/cgroup/).
local function cgroups()
  local t = {}
  local function scan(dir, label)
    for _, name in ipairs(ns.listdir(dir) or {}) do
      if name:match("^luactr") then t[#t + 1] = label .. name .. ":" .. table.concat(ns.listdir(dir .. "/" .. name) or {}, ",") end
    end
  end
  scan("/sys/fs/cgroup", "")
  for _, h in ipairs(ns.listdir("/sys/fs/cgroup") or {}) do
    scan("/sys/fs/cgroup/" .. h, h .. "/")
  end
  return t
end

-- luactr's temp dirs, and the files of os.tmpname (H.tmpfile) too.
local function tmpdirs()
  local t = {}
  for _, name in ipairs(ns.listdir("/tmp") or {}) do
    if name:match("^luactr") or name:match("^lua_%w%w%w%w%w%w") then t[#t + 1] = name end
  end
  return t
end

local function netns()
  return ns.listdir("/run/netns") or {}
end

-- The state dir's entries but its fixed ones (".tmpfs", made once, and
-- ns.state's containers.lock), and inside ns.state's containers/ and
-- names/ their entries (containers/<id>, names/<name>), not the two
-- directories, which stay once made.
local function states()
  local t = {}
  local root = os.getenv("LUACTR_STATE") or "/run/luactr"
  for _, name in ipairs(ns.listdir(root) or {}) do
    if name == "containers" or name == "names" then
      for _, e in ipairs(ns.listdir(root .. "/" .. name) or {}) do t[#t + 1] = name .. "/" .. e end
    elseif name:sub(1, 1) ~= "." and name ~= "containers.lock" then
      t[#t + 1] = name
    end
  end
  return t
end

H.probes = { fd = fds, mount = mounts, process = children, cgroup = cgroups, tmp = tmpdirs, netns = netns, state = states }

function H.snapshot()
  local s = {}
  for k, f in pairs(H.probes) do s[k] = f() end
  return s
end

-- What is in after but not before, by probe: nil when nothing leaked.
function H.leaks(before, after)
  local out = {}
  for k, list in pairs(after) do
    local was = set(before[k])
    for _, v in ipairs(list) do
      if not was[v] then out[#out + 1] = k .. " " .. v end
    end
  end
  table.sort(out)
  return #out > 0 and out or nil
end

--- Run fn when the running `it` ends, in H.guard's after_each before it
-- looks for leaks; last in, first run. busted keeps one finally per test
-- (a second replaces the first), so a spec with more than one clean-up
-- goes through this (its file must call H.guard).
local pending = {}
function H.defer(fn)
  pending[#pending + 1] = fn
end

local function run_deferred()
  local p = pending
  pending = {}
  local first
  for i = #p, 1, -1 do
    local ok, err = pcall(p[i])
    if not ok and not first then first = err end
  end
  if first then error(first, 0) end
end

-- Wait (briefly) for children to be reaped by whoever owns them, then
-- compare; a spec that leaks fails with the list of what it left.
function H.guard()
  -- busted puts before_each/after_each in the spec file's environment,
  -- not in _G: a required module reaches them through busted's api.
  local busted = require "busted"
  local before
  busted.before_each(function() before = H.snapshot() end)
  busted.after_each(function()
    run_deferred()
    local leaked
    for _ = 1, 50 do
      leaked = H.leaks(before, H.snapshot())
      if not leaked then return end
      ns.sleep(0.02)
    end
    error("spec left behind: " .. table.concat(leaked, "; "), 0)
  end)
end

local function describe_status(st)
  if st.exited then return "exited with " .. st.code end
  return "killed by " .. tostring(st.signal)
end

-- Everything r gives until its end; r is closed after.
local function read_all(r)
  local chunks = {}
  repeat
    local s = assert(r:read(65536))
    chunks[#chunks + 1] = s
  until s == ""
  r:close()
  return table.concat(chunks)
end
H.read_all = read_all

-- Fork a child (in new namespaces types) that runs fn under xpcall, writes
-- report(ok, value) to a pipe and exits 0 or 1. Returns what it wrote and
-- its wait status.
local function forked(fn, types, report)
  local r, w = assert(ns.pipe())
  local pid, pidfd = assert(ns.clone(types or {}))
  if pid == 0 then
    r:close()
    local ok, v = xpcall(fn, debug.traceback)
    local said = report(ok, v)
    if said ~= "" then w:write(said) end
    ns._exit(ok and 0 or 1)
  end
  w:close()
  local out = read_all(r)
  local st = assert(ns.wait(pidfd))
  pidfd:close()
  return out, st
end

--- block_device() -> "MAJ:MIN" of one of the host's disks (not a loop or
-- zram device), or nil.
function H.block_device()
  for name in H.sh("ls /sys/block"):gmatch("%S+") do
    local mm = ns.readfile("/sys/block/" .. name .. "/dev")
    if mm and not name:match("^loop") and not name:match("^zram") then return (mm:match("^(%d+:%d+)")) end
  end
end

--- cannot_idmap(dir) -> nil when the kernel can idmap a mount of dir's
-- filesystem (mount_setattr(2) MOUNT_ATTR_IDMAP on a detached copy), else
-- why not (tmpfs can from Linux 6.3), for a pending test.
function H.cannot_idmap(dir)
  local t, msg = ns.open_tree(dir)
  if not t then return "open_tree: " .. tostring(msg) end
  local uns = require("ns.util.userns").fd({ { 0, 1234, 1 } }, { { 0, 1234, 1 } })
  local ok, err, e = ns.mount_setattr(t, {}, nil, nil, { userns = uns })
  uns:close()
  t:close()
  if ok then return nil end
  if e == ns.E.EINVAL then
    return string.format("this kernel (%s) cannot idmap %s's filesystem (tmpfs can from Linux 6.3)",
      (ns.readfile("/proc/sys/kernel/osrelease") or "?"):gsub("%s+$", ""), dir)
  end
  error("idmap probe: " .. tostring(err))
end

--- idmap_source(prefix) -> a temp dir (0755, removed after the test) with
-- a file f of root's, to bind idmapped; or nil and why the kernel cannot
-- idmap it (for pending).
function H.idmap_source(prefix)
  local src = H.tmpdir(prefix)
  H.defer(function() H.rmrf(src) end)
  local why = H.cannot_idmap(src)
  if why then return nil, why end
  assert(ns.chmod(src, tonumber("755", 8)))
  assert(ns.writefile(src .. "/f", "x", { create = true }))
  assert(ns.chown(src .. "/f", 0, 0))
  return src
end

--- Run fn in a forked child (types: namespaces for it, default none).
-- Returns true, or false and the child's error (with traceback). fn's
-- return values are not passed back; use H.child_value for that.
function H.child(fn, types)
  local msg, st = forked(fn, types, function(ok, err) return ok and "" or tostring(err) end)
  if st.exited and st.code == 0 then return true end
  return false, msg ~= "" and msg or describe_status(st)
end

--- Assert that fn succeeds in a child (see H.child).
function H.in_child(fn, types)
  local ok, err = H.child(fn, types)
  if not ok then error(err, 2) end
end

--- Run fn in a child and return the string it returns (its result must be
-- a string), or raise the child's error.
function H.child_value(fn, types)
  local out, st = forked(fn, types, function(ok, v) return (ok and "+" or "-") .. tostring(v) end)
  if out == "" then error("child " .. describe_status(st) .. " before it answered", 2) end
  if out:sub(1, 1) ~= "+" then error(out:sub(2), 2) end
  return out:sub(2)
end

--- A pid that was a child of ours and is gone, and its (open) pidfd.
function H.reaped()
  local pid, pidfd = assert(ns.clone({}))
  if pid == 0 then ns._exit(0) end
  assert(ns.wait(pidfd))
  return pid, pidfd
end

--- In a child: give up root for uid (and gid) uid, with no supplementary
-- groups and so no capabilities left.
function H.drop_privileges(uid)
  assert(ns.setgroups({}))
  assert(ns.setresgid(uid))
  assert(ns.setresuid(uid))
end

--- Give uid subordinate ids in /etc/subuid and /etc/subgid (count from
-- start, default 65536) until the running `it` ends, when both files are
-- put back as they were (through H.defer: the spec calls H.guard).
function H.with_subids(uid, start, count)
  local old = {}
  for _, f in ipairs({ "/etc/subuid", "/etc/subgid" }) do
    old[f] = ns.readfile(f) or false
    local text = old[f] or ""
    if text ~= "" and text:sub(-1) ~= "\n" then text = text .. "\n" end
    assert(ns.writefile(f, text .. ("%d:%d:%d\n"):format(uid, start, count or 65536), { create = true }))
  end
  H.defer(function()
    for f, text in pairs(old) do
      if text then assert(ns.writefile(f, text)) else os.remove(f) end
    end
  end)
end

--- Run a shell command; returns its stdout and exit status.
function H.sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

-- s as one word for the shell.
local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Shell variables that make a plain lua5.4 load this tree's ns (never an
-- installed copy): put them before the command.
H.lua_env = ("LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH='%s/build/?.so;;'")
  :format(H.root, H.root, H.root)

--- A new directory /tmp/luactr-spec-XXXXXX (/tmp/luactr-spec-<prefix>-XXXXXX
-- with a prefix); the spec removes it with H.rmrf.
function H.tmpdir(prefix)
  return assert(ns.mkdtemp("/tmp/luactr-spec-" .. (prefix and prefix .. "-" or "") .. "XXXXXX"))
end

--- Remove the tree at path, if there is one (ns.rootfs.remove_tree: it
-- never follows a symlink nor crosses a mount point).
function H.rmrf(path)
  require("ns.rootfs").remove_tree(path)
end

--- A new temp file that holds text; returns its path.
function H.tmpfile(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

--- Run ./luactr with args (shell words, a string) as a user would, with
-- opts.env (VAR=value words, a wrapper such as setpriv) before it and
-- opts.input (text, through a temp file) or else nothing on its stdin.
-- Returns its stdout and stderr together, and its exit status.
function H.run_luactr(args, opts)
  opts = opts or {}
  local input = opts.input and H.tmpfile(opts.input)
  local out, code = H.sh(("%s %s %s 2>&1 <%s"):format(opts.env or "", H.luactr, args, input or "/dev/null"))
  if input then os.remove(input) end
  return out, code
end

--- Run src (Lua source) as a recipe file with ./luactr (see H.run_luactr),
-- opts.args after it; the file is removed after the run. Returns output,
-- exit status and the file's path.
function H.recipe(src, opts)
  local path = H.tmpfile(src)
  local out, code = H.run_luactr(path .. " " .. (opts and opts.args or ""), opts)
  os.remove(path)
  return out, code, path
end

--- s as a literal in a Lua pattern.
function H.esc(s)
  return (s:gsub("%p", "%%%0"))
end

--- t, sorted in place.
function H.sorted(t)
  table.sort(t)
  return t
end

--- Assert that loading the module name afresh (the loaded one is put back
-- after) makes no new global; returns the fresh copy.
function H.assert_no_new_globals(name)
  local assert = require "luassert"
  local before = {}
  for k in pairs(_G) do before[k] = true end
  local loaded = package.loaded[name]
  package.loaded[name] = nil
  local fresh = require(name)
  package.loaded[name] = loaded
  for k in pairs(_G) do assert.is_true(before[k], "new global " .. tostring(k)) end
  return fresh
end

--- Assert the contract's failure triple: nil, a message, and errno e.
function H.fails_with(e, ok, msg, errno)
  -- luassert, as the spec files see it (busted's assert is not in _G).
  local assert = require "luassert"
  assert.is_nil(ok, "expected a failure, got " .. tostring(ok))
  assert.is_string(msg)
  assert.are.equal(e, errno, "errno for: " .. tostring(msg))
  return msg
end

-- What an H.lua_child script runs: this tree's ns.core as ns; bits(field),
-- the bit numbers set in a mask of /proc/self/status (CapEff, SigBlk...);
-- then the spec's code as a function body, whose results are serialised on
-- fd 1 after a marker line.
local LUA_CHILD_PRELUDE = [==[
package.cpath = "build/?.so;" .. package.cpath
local ns = require "ns.core"
local function bits(field)
  for line in io.lines("/proc/self/status") do
    local hex = line:match("^" .. field .. ":%s*(%x+)")
    if hex then
      local n, t = tonumber(hex, 16), {}
      for i = 0, 63 do if (n >> i) & 1 == 1 then t[#t + 1] = i end end
      return t
    end
  end
  error("no " .. field .. " in /proc/self/status")
end
local function ser(v)
  local t = type(v)
  if t == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. ser(k) .. "]=" .. ser(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" or t == "number" then
    return string.format("%q", v)
  end
  return tostring(v)
end
local r = table.pack(xpcall(function()
]==]

local LUA_CHILD_POSTLUDE = [==[
end, debug.traceback))
local out = {}
for i = 1, r.n do out[i] = ser(r[i]) end
io.stdout:write("\n@@result@@\nreturn ", table.concat(out, ","), "\n")
-- now: closing a controlling terminal's master at exit hangs the session up
io.stdout:flush()
]==]

--- Run code (a function body) in a fresh lua5.4 process, for what must not
-- change busted's own (capabilities, the signal mask, the session, fds).
-- Returns what the child wrote to its fd 1 (before the results), then what
-- code returns (tables, strings, numbers, booleans); raises with the child's
-- output when it fails. opts.stdin: a shell command whose output is the
-- child's fd 0 (default: nothing, an empty pipe); opts.sh: shell commands
-- to run first (ulimit).
function H.lua_child(code, opts)
  opts = opts or {}
  local script = LUA_CHILD_PRELUDE .. code .. "\n" .. LUA_CHILD_POSTLUDE
  local cmd = (opts.sh or "") .. (opts.stdin or ":") .. " | timeout -s KILL 60 lua5.4 -e "
    .. shquote(script) .. " 2>&1"
  local out = H.sh(cmd)
  local raw, result = out:match("^(.-)\n@@result@@\n(.*)$")
  local f = result and load(result)
  if not f then error("child failed:\n" .. out, 2) end
  local r = table.pack(f())
  if not r[1] then error("child raised: " .. tostring(r[2]) .. "\n" .. raw, 2) end
  return raw, table.unpack(r, 2, r.n)
end

return H
