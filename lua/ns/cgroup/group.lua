--- ns.cgroup.group: a group's life, from create to remove.
-- Makes a group under the parent in every hierarchy of the layout, puts
-- processes in it, writes its limits (planned by ns.cgroup.limits), reads
-- its stats, freezes, kills and removes it, and collects leftovers (gc).
-- A group's files are written relative to its directory fd (openat), as
-- crun does. Creating a group and gc exclude each other through the lock
-- described in ns.cgroup's header. See cgroups(7).
local ns = require "ns.core"
local layout = require "ns.cgroup.layout"
local lim = require "ns.cgroup.limits"
local v1 = require "ns.cgroup.v1"
local v2 = require "ns.cgroup.v2"
local delegation = require "ns.cgroup.delegation"

local readfile, writefile, listdir, stat = ns.readfile, ns.writefile, ns.listdir, ns.stat
local mkdir, rmdir, open, kill = ns.mkdir, ns.rmdir, ns.open, ns.kill
local sleep, clock, getpid = ns.sleep, ns.clock, ns.getpid
local fmt, concat, sort = string.format, table.concat, table.sort
local ENOENT, EEXIST, EBUSY, EACCES, EPERM = ns.E.ENOENT, ns.E.EEXIST, ns.E.EBUSY, ns.E.EACCES, ns.E.EPERM

local M = {}

local WAIT = 2 -- seconds that freeze, kill and remove wait for the kernel

local function has(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

-- "key value" lines (cpu.stat, memory.events, memory.oom_control) as a map.
local function keyed(s)
  local t = {}
  for k, v in (s or ""):gmatch("(%S+)%s+(%-?%d+)") do t[k] = tonumber(v) end
  return t
end

-- The reason part of a core message ("write cpu.max: Invalid argument
-- (EINVAL)" -> "Invalid argument (EINVAL)").
local function reason(msg)
  return (tostring(msg):match("^[^:]*: (.*)$")) or tostring(msg)
end

-- Poll pred until it holds or timeout seconds pass; backs off to 50 ms.
local function wait_for(pred, timeout)
  local deadline, d = clock() + timeout, 0.001
  while true do
    if pred() then return true end
    if clock() >= deadline then return false end
    sleep(d)
    d = math.min(d * 2, 0.05)
  end
end

local function check_component(what, s)
  if type(s) ~= "string" or not s:match("^[%w_][%w_.%-]*$") or #s > 200 then
    error(fmt("cgroup: %s %q is not a safe single path component (letters, digits, _ . -)", what, tostring(s)), 3)
  end
end

local hierarchies = layout.hierarchies

-- The layout a group is made or found in: the host's for root; the
-- delegated v2 subtree for another euid, or for root given one's base
-- (ns.cgroup.delegation, which raises why there is none). limits: those
-- asked (nil to open or collect).
local function layout_for(opts, limits)
  local l = opts.layout or layout.layout()
  local uid = select(2, ns.getuid())
  if uid ~= 0 or opts.base ~= nil then return delegation.narrow(l, opts.base, uid, limits) end
  return l
end

-- The parent: one component, or a path of them ("libpod_parent/pod1",
-- an OCI cgroupsPath's), at most 8, each checked.
local function parent_name(opts)
  local p = opts and opts.parent or os.getenv("LUACTR_CGROUP_PARENT") or "luactr"
  if type(p) == "string" then p = p:gsub("^/+", ""):gsub("/+$", "") end
  local n = 0
  for comp in (type(p) == "string" and p or ""):gmatch("[^/]+") do
    check_component("parent", comp)
    n = n + 1
  end
  if n == 0 or n > 8 or (type(p) == "string" and p:find("//", 1, true)) then check_component("parent", p) end
  return p
end

-- The levels of parent p under root: root/a, root/a/b, ... (top first).
local function levels(root, p)
  local out, cur = {}, root
  for comp in p:gmatch("[^/]+") do
    cur = cur .. "/" .. comp
    out[#out + 1] = cur
  end
  return out
end

local Group = {}
Group.__index = Group

local function gfail(g, f, ...) error(fmt('cgroup "%s": ', g.name) .. fmt(f, ...), 0) end

local function dir_of(g, ctrl)
  for _, d in ipairs(g._dirs) do
    if d.key == ctrl or has(d.ctrls, ctrl) then return d end
  end
end

local function read_in(g, ctrl, file)
  local d = dir_of(g, ctrl)
  if not d or not d.fd then return nil end
  return readfile(d.fd, file)
end

-- Make the writes that ns.cgroup.limits planned, in order.
local function apply(g, writes)
  for _, w in ipairs(writes) do
    local d = dir_of(g, w.ctrl)
    if not d then gfail(g, "write %s: no %s hierarchy for the group", w.file or w.what, w.ctrl) end
    if w.devices then
      v2.attach_devices(g, d, w.devices)
    else
      local file, value = w.file, w.value
      if w.alts then
        for _, a in ipairs(w.alts) do
          if stat(d.fd, a[1]) then file, value = a[1], a[2] break end
        end
        if not file then
          local names = {}
          for i, a in ipairs(w.alts) do names[i] = a[1] end
          gfail(g, "%s: the host lacks %s (in %s)", w.what, concat(names, " and "), d.dir)
        end
      end
      local ok, err, errno = writefile(d.fd, file, value)
      if not ok then
        local hint = ""
        if file == "cpu.rt_runtime_us" and errno == ns.E.EINVAL then
          hint = " (a realtime budget must fit in the parent group's cpu.rt_runtime_us)"
        elseif file:match("weight_device$") or file:match("bfq%.weight$") then
          if errno == ns.E.EOPNOTSUPP then hint = " (the device's I/O scheduler is not bfq: /sys/block/*/queue/scheduler)" end
        end
        gfail(g, "write %s %q: %s%s", file, value, reason(err), hint)
      end
    end
  end
end

-- Raise for a mkdir of dir that failed; one refused for lack of rights
-- below a delegated subtree says whose the parent pdir is.
local function mkdir_fail(g, dir, pdir, err, errno)
  local hint = ""
  if (errno == EACCES or errno == EPERM) and g.layout.base then
    local at = dir == pdir and g.layout.base_dir or pdir
    local st = stat(at)
    hint = fmt("; %s is uid %s's, not uid %d's", at, st and st.uid or "?", g.layout.uid)
  end
  gfail(g, "mkdir %s: %s%s", dir, reason(err), hint)
end

-- Make the parent in one hierarchy ready: mkdir, cpuset values (v1), v2
-- controllers for the children.
local function prepare_parent(g, d, pdir, v2need)
  local up = d.root
  for _, lvl in ipairs(levels(d.root, g.parent)) do
    local ok, err, errno = mkdir(lvl, 493)
    if not ok and errno ~= EEXIST then mkdir_fail(g, lvl, lvl, err, errno) end
    if has(d.ctrls, "cpuset") then v1.fill_cpuset(g, d.mount, lvl) end
    if d.v2 then v2.delegate(g, up, lvl, v2need) end
    up = lvl
  end
  local _ = pdir
end

-- Remove a directory tree of cgroups (children first); true, or nil and
-- the error of the first rmdir that failed. ENOENT counts as removed.
local function rmtree(dir)
  local st = stat(dir)
  if not st then return true end
  if st.nlink > 2 then
    for _, n in ipairs(listdir(dir) or {}) do
      local s = stat(dir .. "/" .. n, "nofollow")
      if s and s.type == "dir" then
        local ok, err, errno = rmtree(dir .. "/" .. n)
        if not ok then return nil, err, errno end
      end
    end
  end
  local ok, err, errno = rmdir(dir)
  if not ok and errno ~= ENOENT then return nil, err, errno end
  return true
end

-- Pids in dir and every group below it.
local function tree_procs(dir, acc)
  local s = readfile(dir .. "/cgroup.procs")
  for p in (s or ""):gmatch("%d+") do acc[tonumber(p)] = true end
  local st = stat(dir)
  if st and st.nlink > 2 then
    for _, n in ipairs(listdir(dir) or {}) do
      local c = stat(dir .. "/" .. n, "nofollow")
      if c and c.type == "dir" then tree_procs(dir .. "/" .. n, acc) end
    end
  end
  return acc
end

local function sorted_keys(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  sort(t)
  return t
end

local function new_group(name, l, parent)
  local g = setmetatable({
    name = name, mode = l.mode, layout = l, parent = parent, base = l.base,
    paths = {}, limits = {}, _dirs = {}, _owner = getpid(),
  }, Group)
  for _, h in ipairs(hierarchies(l)) do
    -- root: the directory the parent is made in (a delegated subtree's
    -- for a user's group, else the hierarchy's root).
    local root = h.v2 and l.base_dir or h.mount
    local d = { key = h.key, ctrls = h.ctrls, mount = h.mount, v2 = h.v2, root = root,
      dir = root .. "/" .. parent .. "/" .. name }
    g._dirs[#g._dirs + 1] = d
    for _, c in ipairs(h.ctrls) do g.paths[c] = d.dir end
    if h.v2 then g.paths.v2 = d.dir end
  end
  return g
end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

local function close_fds(g)
  for _, d in ipairs(g._dirs) do
    if d.fd then d.fd:close() d.fd = nil end
  end
  if g._devprog then g._devprog:close() g._devprog = nil end
  if g._lock then g._lock:close() g._lock = nil end
end

-- Try to remove the shared parents; another group may still hold them
-- (EBUSY, ENOTEMPTY) or one may have gone already (ENOENT): fine.
local function drop_parents(g)
  for _, d in ipairs(g._dirs) do
    local lv = levels(d.root, g.parent)
    for i = #lv, 1, -1 do
      if not rmdir(lv[i]) then break end
    end
  end
end

-- A group: g.name, g.mode (the layout's), g.limits (every limit in force),
-- g.paths (controller -> directory, co-mounted controllers sharing one, and
-- "v2" -> the v2 directory), g.parent (the parent group's name), g.base
-- (for a user's group, its delegated subtree, relative to the v2 tree's
-- root; nil for root's).

-- The lock that create and gc share (see ns.cgroup's header): a flock of
-- the first hierarchy's root directory, which every luactr sees and none
-- removes. how: "sh", "ex" or {"ex", "nb"}. Returns the fd, or nil,
-- message, errno.
local function lock(l, how)
  local hs = hierarchies(l)
  if #hs == 0 then return nil, "no cgroup hierarchy", ENOENT end
  local fd, err, errno = open(hs[1].mount, { "rdonly", "directory" })
  if not fd then return nil, err, errno end
  local ok, lerr, lerrno = ns.flock(fd, how)
  if not ok then fd:close() return nil, lerr, lerrno end
  return fd
end

--- create(name, limits [, opts]) -> group. Makes <mount>/<parent>/<name> in
-- every hierarchy (v1: cpu, cpuacct, cpuset, memory, pids, freezer, blkio
-- where mounted; the v2 tree when there is one) and writes the limits.
-- opts: layout (a table as layout() returns, for tests), parent (default
-- $LUACTR_CGROUP_PARENT or "luactr"), base (a delegated v2 subtree, as
-- g.base says; found from /proc/self/cgroup when euid is not 0). A user's
-- group is made below its delegated subtree: <base>/<parent>/<name> in the
-- v2 tree alone. On failure undoes what it made and raises: cgroup "web":
-- write cpu.max "20000 100000": Invalid argument (EINVAL).
function M.create(name, limits, opts)
  opts = opts or {}
  check_component("name", name)
  if limits ~= nil and type(limits) ~= "table" then error("cgroup: limits must be a table", 2) end
  local parent = parent_name(opts)
  local l = layout_for(opts, limits or {})
  local merged = copy(limits)
  local writes, need = lim.plan(name, l, merged, merged, nil)
  local v2need = v2.controllers(l, need)
  local g = new_group(name, l, parent)
  g.limits = merged
  local made = {}
  local ok, err = pcall(function()
    local lk, lerr = lock(l, "sh")
    if not lk then gfail(g, "lock %s: %s", hierarchies(l)[1].mount, reason(lerr)) end
    g._lock = lk
    for _, d in ipairs(g._dirs) do
      local pdir = d.root .. "/" .. parent
      -- Another group's remove() may drop the shared parent between our
      -- mkdirs (ENOENT): make it again, a few times.
      for try = 1, 5 do
        prepare_parent(g, d, pdir, v2need)
        local mok, merr, errno = mkdir(d.dir, 493)
        if mok then break end
        if errno ~= ENOENT or try == 5 then mkdir_fail(g, d.dir, pdir, merr, errno) end
      end
      made[#made + 1] = d
      local fd, ferr = open(d.dir, { "path", "directory" })
      if not fd then gfail(g, "%s", ferr) end
      d.fd = fd
      if has(d.ctrls, "cpuset") then v1.copy_cpuset(g, fd, pdir) end
    end
    apply(g, writes)
  end)
  if not ok then
    close_fds(g)
    for i = #made, 1, -1 do rmdir(made[i].dir) end
    drop_parents(g)
    g._removed = true
    error(err, 0)
  end
  return g
end

--- open(name [, opts]) -> group for a group that exists (made by another
-- process, e.g. a running container): stats, procs, freeze, kill, remove.
-- Raises when the group is in none of the hierarchies.
function M.open(name, opts)
  opts = opts or {}
  check_component("name", name)
  local parent = parent_name(opts)
  local g = new_group(name, layout_for(opts), parent)
  local found = {}
  for _, d in ipairs(g._dirs) do
    d.fd = open(d.dir, { "path", "directory" })
    if d.fd then found[#found + 1] = d end
  end
  if #found == 0 then error(fmt('cgroup "%s": no such group under %s', name, g.base and g.base .. "/" .. parent or parent), 2) end
  g._dirs = found
  return g
end

--- path(name [, opts]) -> where the group name is, or would be made,
-- from the hierarchies' roots: "<parent>/<name>", and for a user's group
-- "<base>/<parent>/<name>" (its delegated subtree's). opts as create's.
-- Raises as create does where a user has no delegated subtree.
function M.path(name, opts)
  opts = opts or {}
  check_component("name", name)
  local parent = parent_name(opts)
  local base = layout_for(opts).base
  return (base and base .. "/" or "") .. parent .. "/" .. name
end

--- open_path(p) -> the group at p, as path() gives it (see open).
function M.open_path(p)
  if type(p) ~= "string" then error("cgroup: open_path: path must be a string", 2) end
  local base, parent, name = p:match("^(.+)/([^/]+)/([^/]+)$")
  if not base then parent, name = p:match("^([^/]+)/([^/]+)$") end
  if not name then error(fmt("cgroup: open_path: %q is not <parent>/<name> or <base>/<parent>/<name>", p), 2) end
  return M.open(name, { parent = parent, base = base })
end

--- g:hierarchies() -> the hierarchies the group is in, in creation order:
-- {key, mount (the hierarchy's mount point), ctrls, v2 (true for the v2
-- tree), dir (the group's directory)}, each a copy. The container layer
-- binds them at its /sys/fs/cgroup.
function Group:hierarchies()
  local out = {}
  for i, d in ipairs(self._dirs) do
    out[i] = { key = d.key, mount = d.mount, ctrls = d.ctrls, v2 = d.v2, dir = d.dir }
  end
  return out
end

--- g:v2_path() -> the group's v2 directory, or nil (pure v1). The container
-- layer opens it for CLONE_INTO_CGROUP on pure v2.
function Group:v2_path() return self.paths.v2 end

local function live(g, what)
  if g._removed then gfail(g, "%s: the group was removed", what) end
end

--- g:add(pid) -> true. Writes pid to cgroup.procs in every hierarchy.
function Group:add(pid)
  live(self, "add")
  if math.type(pid) ~= "integer" or pid <= 0 then error("cgroup: add: pid must be a positive integer", 2) end
  for _, d in ipairs(self._dirs) do
    local ok, err = writefile(d.fd, "cgroup.procs", tostring(pid))
    if not ok then
      gfail(self, "add pid %d to %s (%s/cgroup.procs): %s", pid, d.key, d.dir, reason(err))
    end
  end
  self:unlock()
  return true
end

--- g:enter() -> true. Moves the calling process into the group, in every
-- hierarchy ("0" to cgroup.procs), and leaves the lock that create() took
-- to whoever made the group (it may be another process that shares this
-- memory: ns.spawn's child).
function Group:enter()
  live(self, "enter")
  for _, d in ipairs(self._dirs) do
    local ok, err = writefile(d.fd, "cgroup.procs", "0")
    if not ok then gfail(self, "enter %s (%s/cgroup.procs): %s", d.key, d.dir, reason(err)) end
  end
  return true
end

--- g:unlock() -> true. Says that the group holds its process now (after
-- CLONE_INTO_CGROUP; g:add does it itself), so gc may judge it by its
-- processes again.
function Group:unlock()
  if self._lock then self._lock:close() self._lock = nil end
  return true
end

--- g:set(limits) -> true. Changes limits on a live group; g.limits holds
-- every limit in force.
function Group:set(limits)
  live(self, "set")
  if type(limits) ~= "table" then error("cgroup: set: limits must be a table", 2) end
  local merged = copy(self.limits)
  for k, v in pairs(limits) do merged[k] = v end
  local writes, need = lim.plan(self.name, self.layout, limits, merged, function(c, f) return read_in(self, c, f) end)
  local d2 = dir_of(self, "v2")
  if d2 then
    local list = {}
    for c in pairs(need) do list[#list + 1] = c end
    local up = d2.root
    for _, lvl in ipairs(levels(d2.root, self.parent)) do
      v2.delegate(self, up, lvl, list)
      up = lvl
    end
  end
  apply(self, writes)
  self.limits = merged
  return true
end

--- g:procs() -> sorted list of the pids in the group and its subgroups, in
-- any hierarchy.
function Group:procs()
  local acc = {}
  if self._removed then return {} end
  for _, d in ipairs(self._dirs) do tree_procs(d.dir, acc) end
  return sorted_keys(acc)
end

local function num(s) return s and tonumber((s:match("%-?%d+"))) end

--- g:stats() -> {cpu_usage (s), memory_current, memory_peak, pids_current,
-- oom_kills, throttled (s), nr_throttled}. A figure the host has no file
-- for is nil (memory_peak before Linux 5.19 on v2; memory and pids on a v2
-- tree without those controllers).
function Group:stats()
  live(self, "stats")
  local s = {}
  local mounted = self.layout.v1 or {}
  local function in_v2(file) return read_in(self, "v2", file) end
  if mounted.cpuacct then
    s.cpu_usage = (num(read_in(self, "cpuacct", "cpuacct.usage")) or 0) / 1e9
  else
    s.cpu_usage = (keyed(in_v2("cpu.stat")).usage_usec or 0) / 1e6
  end
  if mounted.cpu then
    local st = keyed(read_in(self, "cpu", "cpu.stat"))
    s.throttled = st.throttled_time and st.throttled_time / 1e9 or (st.throttled_usec or 0) / 1e6
    s.nr_throttled = st.nr_throttled or 0
  else
    local st = keyed(in_v2("cpu.stat"))
    s.throttled = st.throttled_usec and st.throttled_usec / 1e6
    s.nr_throttled = st.nr_throttled
  end
  if mounted.memory then
    s.memory_current = num(read_in(self, "memory", "memory.usage_in_bytes"))
    s.memory_peak = num(read_in(self, "memory", "memory.max_usage_in_bytes"))
    s.oom_kills = keyed(read_in(self, "memory", "memory.oom_control")).oom_kill or 0
  else
    s.memory_current = num(in_v2("memory.current"))
    s.memory_peak = num(in_v2("memory.peak"))
    local ev = in_v2("memory.events")
    s.oom_kills = ev and keyed(ev).oom_kill or nil
  end
  s.pids_current = num(mounted.pids and read_in(self, "pids", "pids.current") or in_v2("pids.current"))
  -- How many forks pids.max refused ("max N" in pids.events, v1 and v2).
  local pev = mounted.pids and read_in(self, "pids", "pids.events") or in_v2("pids.events")
  s.pids_limit_hits = pev and keyed(pev).max or nil
  return s
end

--- g:oom_killed() -> how many processes the OOM killer killed in the group
-- (0 when the host cannot tell).
function Group:oom_killed()
  return self:stats().oom_kills or 0
end

-- The v2 directory when it has the file, else nil.
local function v2_with(g, file)
  local d = dir_of(g, "v2")
  if d and d.fd and stat(d.fd, file) then return d end
end

-- Freeze (on) or thaw the group, through its v2 directory where that
-- has cgroup.freeze, else its v1 freezer; waits until the kernel says so.
local function set_frozen(g, on)
  local what = on and "freeze" or "thaw"
  local done, said
  local d = v2_with(g, "cgroup.freeze")
  if d then
    done, said = v2.freeze(g, d, on)
  else
    d = dir_of(g, "freezer")
    if not d then gfail(g, "%s: no v2 tree and no v1 freezer hierarchy", what) end
    done, said = v1.freeze(g, d, on)
  end
  if not wait_for(done, WAIT) then gfail(g, "%s: %s within %d s", what, said, WAIT) end
end

--- g:freeze() -> true once every process is frozen (v2 cgroup.freeze and
-- cgroup.events where the group has a v2 directory, hybrid included;
-- otherwise v1 freezer.state).
function Group:freeze()
  live(self, "freeze")
  set_frozen(self, true)
  return true
end

--- g:thaw() -> true
function Group:thaw()
  live(self, "thaw")
  set_frozen(self, false)
  return true
end

local function signal_all(g)
  for _, p in ipairs(g:procs()) do kill(p, "KILL") end
end

--- g:kill() -> true once the group is empty: cgroup.kill where the group
-- has one, else freeze, SIGKILL each process, thaw. Raises when processes
-- are still there after 2 s.
function Group:kill()
  if self._removed then return true end
  local d = v2_with(self, "cgroup.kill")
  local ok = d and v2.kill(d)
  if not ok and #self:procs() > 0 then
    local frozen = pcall(set_frozen, self, true)
    signal_all(self)
    if frozen then set_frozen(self, false) end
  end
  -- A process may sit in only some hierarchies (added elsewhere): kill
  -- stragglers on each round.
  local empty = wait_for(function()
    if #self:procs() == 0 then return true end
    signal_all(self)
  end, WAIT)
  if not empty then
    gfail(self, "kill: still holds %s after %d s", concat(self:procs(), " "), WAIT)
  end
  return true
end

--- g:remove() -> true. Kills what is left, waits until the group is empty,
-- removes its directory (and any subgroups) in every hierarchy, then the
-- shared parents when nobody else uses them. Idempotent; also run by
-- __close and (best effort) __gc, but only in the process that made or
-- opened the group, so a forked child never tears it down by accident.
function Group:remove()
  if self._removed then return true end
  if #self:procs() > 0 then self:kill() end
  for i = #self._dirs, 1, -1 do
    local d = self._dirs[i]
    local ok, err, errno
    wait_for(function()
      ok, err, errno = rmtree(d.dir)
      return ok or errno ~= EBUSY
    end, WAIT)
    if not ok then gfail(self, "%s", err) end
  end
  close_fds(self)
  self._removed = true
  drop_parents(self)
  return true
end

--- g:detach() -> true. Lets go of the group without removing it (closes
-- its directory fds); __close and __gc then leave it alone.
function Group:detach()
  close_fds(self)
  self._removed = true
  return true
end

Group.__close = function(g)
  if getpid() == g._owner then g:remove() end
end

Group.__gc = function(g)
  if not g._removed and getpid() == g._owner then pcall(g.remove, g) end
end

Group.__tostring = function(g)
  return fmt('cgroup "%s"%s', g.name, g._removed and " (removed)" or "")
end

--- gc([opts]) -> sorted list of the names removed. Removes the groups under
-- the parent (every hierarchy) that hold no process, e.g. leftovers of a
-- crash, and then the parent itself when it is empty. opts: layout, parent,
-- base, nowait (when a start holds the lock, remove nothing and return {}
-- at once, instead of waiting for it). A group that a start has made and
-- not yet filled is never removed: gc waits for, or skips, the lock it
-- holds. A user's gc collects its delegated subtree's groups (none where
-- nothing is delegated).
function M.gc(opts)
  opts = opts or {}
  local parent = parent_name(opts)
  local lok, l = pcall(layout_for, opts)
  if not lok then
    if select(2, ns.getuid()) ~= 0 then return {} end
    error(l, 0)
  end
  local hs = hierarchies(l)
  for _, h in ipairs(hs) do h.pdir = (h.v2 and l.base_dir or h.mount) .. "/" .. parent end
  local lk <close>, lerr, lerrno = lock(l, opts.nowait and { "ex", "nb" } or "ex")
  if not lk then
    if lerrno == ns.E.EAGAIN then return {} end
    error(fmt("cgroup: gc: lock %s: %s", hs[1] and hs[1].mount or "?", reason(lerr)), 2)
  end
  local names = {}
  for _, h in ipairs(hs) do
    local pdir = h.pdir
    for _, n in ipairs(listdir(pdir) or {}) do
      local s = stat(pdir .. "/" .. n, "nofollow")
      if s and s.type == "dir" then names[n] = true end
    end
  end
  local removed = {}
  for _, n in ipairs(sorted_keys(names)) do
    local busy = false
    for _, h in ipairs(hs) do
      if next(tree_procs(h.pdir .. "/" .. n, {})) then busy = true break end
    end
    if not busy then
      local all = true
      for i = #hs, 1, -1 do
        if not rmtree(hs[i].pdir .. "/" .. n) then all = false end
      end
      if all then removed[#removed + 1] = n end
    end
  end
  for _, h in ipairs(hs) do rmdir(h.pdir) end
  return removed
end

return M
