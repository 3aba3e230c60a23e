--- helper.lua: what the specs share.
-- H.guard() makes every `it` in the enclosing describe fail when it leaves
-- an fd, a mount, a child process, a luactr cgroup, a /tmp/luactr-* dir or a
-- named network namespace behind. H.child(fn, types) runs fn in a forked
-- child (in new namespaces when types are given), so nothing a spec
-- unshares, mounts or pivots touches the busted process.
local ns = require "ns"

local H = {}

H.ns = ns
H.root = os.getenv("PWD")
H.luactr = H.root .. "/luactr"

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

local function cgroups()
  local t = {}
  for _, h in ipairs(ns.listdir("/sys/fs/cgroup") or {}) do
    for _, name in ipairs(ns.listdir("/sys/fs/cgroup/" .. h) or {}) do
      if name:match("^luactr") then t[#t + 1] = h .. "/" .. name .. ":" .. table.concat(ns.listdir("/sys/fs/cgroup/" .. h .. "/" .. name) or {}, ",") end
    end
  end
  return t
end

local function tmpdirs()
  local t = {}
  for _, name in ipairs(ns.listdir("/tmp") or {}) do
    if name:match("^luactr") then t[#t + 1] = name end
  end
  return t
end

local function netns()
  return ns.listdir("/run/netns") or {}
end

local function states()
  return ns.listdir(os.getenv("LUACTR_STATE") or "/run/luactr") or {}
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

-- Wait (briefly) for children to be reaped by whoever owns them, then
-- compare; a spec that leaks fails with the list of what it left.
function H.guard()
  -- busted puts before_each/after_each in the spec file's environment,
  -- not in _G: a required module reaches them through busted's api.
  local busted = require "busted"
  local before
  busted.before_each(function() before = H.snapshot() end)
  busted.after_each(function()
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

--- Run fn in a forked child (types: namespaces for it, default none).
-- Returns true, or false and the child's error (with traceback). fn's
-- return values are not passed back; use H.child_value for that.
function H.child(fn, types)
  local r, w = assert(ns.pipe())
  local pid, pidfd = assert(ns.clone(types or {}))
  if pid == 0 then
    r:close()
    local ok, err = xpcall(fn, debug.traceback)
    if not ok then w:write(tostring(err)) end
    ns._exit(ok and 0 or 1)
  end
  w:close()
  local chunks = {}
  repeat
    local s = assert(r:read(65536))
    chunks[#chunks + 1] = s
  until s == ""
  r:close()
  local st = assert(ns.wait(pidfd))
  pidfd:close()
  local msg = table.concat(chunks)
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
  local r, w = assert(ns.pipe())
  local pid, pidfd = assert(ns.clone(types or {}))
  if pid == 0 then
    r:close()
    local ok, v = xpcall(fn, debug.traceback)
    w:write((ok and "+" or "-") .. tostring(v))
    ns._exit(ok and 0 or 1)
  end
  w:close()
  local chunks = {}
  repeat
    local s = assert(r:read(65536))
    chunks[#chunks + 1] = s
  until s == ""
  r:close()
  local st = assert(ns.wait(pidfd))
  pidfd:close()
  local out = table.concat(chunks)
  if out == "" then error("child " .. describe_status(st) .. " before it answered", 2) end
  if out:sub(1, 1) ~= "+" then error(out:sub(2), 2) end
  return out:sub(2)
end

--- Run a shell command; returns its stdout and exit status.
function H.sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
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

return H
