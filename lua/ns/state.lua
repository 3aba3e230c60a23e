--- ns.state: the record of every container luactr knows, shared by its
-- commands (run -d, ps, exec, stop, kill, rm, logs, inspect) and the OCI
-- runtime (create, start, state, kill, delete). The lifecycle rules live
-- here, once, as youki's container/state.rs keeps them: a status enum
-- with can_start/can_kill/can_delete..., and save/load of one state file.
--
-- Layout under the state root R (a parameter, default
-- ns.util.state_root(): $LUACTR_STATE, else /run/luactr for root):
--
--   R/containers.lock              flock(2): exclusive while a container is
--                                  created, changed or removed, shared while
--                                  one is read, so no reader sees half of it
--   R/containers/<id>/state.json   the record, replaced whole by rename(2)
--   R/containers/<id>/             room for the commands' files (s:path():
--                                  log, config.json, an upper dir); its
--                                  monitor holds a flock on it (s:hold())
--   R/names/<name> -> <id>         a symlink: symlink(2) makes it or fails
--                                  with EEXIST, so one creator of a name wins
--   R/containers/.new-XXXXXX       a container being made, renamed to <id>
--   R/containers/.rm-<id>          one being removed
--
-- A crash leaves at worst a .new-/.rm- directory, a stray temp file
-- beside a state.json, or a name whose container is gone: all ignored by
-- readers and cleaned (or reclaimed) by the next writer, under the lock.
-- containers/ and names/ are never a kept upper layer's <R>/<name>
-- (ns.util.STATE_DIRS; see ns.rootfs.gc_uppers). No fsync: R is a tmpfs
-- (/run) whose records mean nothing after a reboot, and rename(2) is what
-- keeps a record whole when its writer dies.
--
-- An id is 64 hex digits from /dev/urandom (the short id, its first 12,
-- is what messages show); a name matches [A-Za-z0-9][A-Za-z0-9_.-]*, at
-- most 64 bytes, and is generated (adjective_surname) when none is given.
-- A reference (load, find) is a full id, a name, or a unique id prefix,
-- tried in that order, as docker does.
--
-- API (st = state.open([root]); state.create/find/load/list/
-- reconcile_all take the root as their last argument instead):
--   st:create(t) -> s      st:find(ref) -> s | nil, why    st:load(ref) -> s
--   st:list() -> {s...}, bad    st:reconcile(s) -> s, changed
--   st:reconcile_all() -> {s...}, marked
--   s:running{pid}  s:paused()  s:resumed()  s:exited{code|signal, oom, reason}
--   s:recreated()
--   s:set{fields}  s:save()  s:reload()  s:remove{force}
--   s:can_start() can_kill() can_delete() can_pause() can_resume() can_exec()
--     -> true | false, why
--   s:alive()  s:pidfd()  s:hold()  s:held()  s:exit_status()  s:data()
--   s:dir()  s:path(name)  s:short_id()
--
-- Status: created -> running <-> paused, and any of them -> exited.
-- A record (the fields of s, all plain data, stored as JSON):
--   version (of this format), id, name, status, created, started, finished
--   (RFC 3339, UTC), pid, start_time (field 22 of /proc/PID/stat: clock
--   ticks since boot, so that a recycled pid is never taken for the
--   container's), boot_id (/proc/sys/kernel/random/boot_id when it ran),
--   exit_code, signal (a name, "KILL"), oom, reason (why it is exited when
--   no exit status is known), image, command (a list), config (the
--   container's table as given: strings, numbers, booleans and tables
--   only), cgroup (a path, or a map of them by hierarchy), rootfs, upper,
--   bundle, log, namespaces ({pid = inode, ...}), labels ({k = "v"}).
--
-- Misuse (a wrong type, an unknown key) raises; so does a failure to read
-- or write the state root, with the path and the reason. A lookup that
-- finds nothing raises from load, returns nil, message from find.
-- See flock(2), rename(2), symlink(2), proc(5) (/proc/PID/stat),
-- random(4) (boot_id).
local ns = require "ns"
local util = require "ns.util"

local error, ipairs, pairs, type, tostring = error, ipairs, pairs, type, tostring
local setmetatable, rawget, rawset, pcall = setmetatable, rawget, rawset, pcall
local fmt, concat, sort = string.format, table.concat, table.sort
local mtype, tointeger = math.type, math.tointeger

local M = {}

--- VERSION: the record's format; a record of a newer one is refused.
M.VERSION = 1

-- Lua has no octal literals: oct"711" is 0711.
local function oct(s) return tonumber(s, 8) end

-- Raise msg as it is: it names the thing and the reason, no position.
local function fail(msg) error(msg, 0) end

-- v, or raise "<what>: <msg>" for a failed primitive's nil, msg.
local function check(what, v, msg)
  if v == nil then fail(what .. ": " .. tostring(msg)) end
  return v
end

local STATUS = { created = true, running = true, paused = true, exited = true }

--- STATUS: the statuses (STATUS.running is "running"), a read-only table
-- whose unknown keys raise.
M.STATUS = setmetatable({}, {
  __index = function(_, k)
    if STATUS[k] then return k end
    fail(fmt("ns.state.STATUS: unknown status %s (%s)", util.quoted(k), util.choices(k, STATUS)))
  end,
  __newindex = function() fail("ns.state.STATUS is read-only") end,
})

local GONE = "its process is gone (monitor killed?)"
local REBOOTED = "the host rebooted"

-- Time, ids, /proc -------------------------------------------------------

--- now() -> the time as RFC 3339 in UTC with microseconds
-- ("2024-05-01T12:00:00.123456Z"): such strings sort as times do.
function M.now()
  local t = ns.clock("realtime")
  local s = math.floor(t)
  local us = math.floor((t - s) * 1e6)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. fmt(".%06dZ", us)
end

-- n random bytes as 2n hex digits.
local function random_hex(n)
  local f <close> = check("random id", ns.open("/dev/urandom", { "rdonly" }))
  local got = {}
  local have = 0
  while have < n do
    local s = check("random id", f:read(n - have))
    if s == "" then fail("random id: /dev/urandom ended") end
    got[#got + 1] = s
    have = have + #s
  end
  return (concat(got):gsub(".", function(c) return fmt("%02x", c:byte()) end))
end

--- new_id() -> a fresh id: 64 hex digits.
function M.new_id() return random_hex(32) end

--- short(id) -> the id as messages and ps show it: its first 12 digits.
function M.short(id) return id:sub(1, 12) end

--- boot_id() -> this boot's id (/proc/sys/kernel/random/boot_id).
function M.boot_id()
  local s = check("boot id", ns.readfile("/proc/sys/kernel/random/boot_id"))
  return (s:gsub("%s+$", ""))
end

--- process_start(pid) -> the start time of process pid (field 22 of
-- /proc/PID/stat, clock ticks since boot) and its state letter (R, S, Z,
-- ...), or nil when there is no such process.
function M.process_start(pid)
  local s = ns.readfile("/proc/" .. tostring(pid) .. "/stat")
  -- comm, field 2, is in parentheses and may hold spaces and ")": the
  -- fields after it start after the last ") ".
  local rest = s and s:match("^%d+ %(.*%) (.*)$")
  if not rest then return nil end
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  local start = tointeger(tonumber(f[20]))
  if not start then return nil end
  return start, f[1]
end

-- JSON ---------------------------------------------------------------------
--
-- Written here rather than by cjson.encode: cjson 2.1 writes numbers with
-- 14 digits (a 64-bit inode or byte count would lose its last ones), and
-- this writer checks that a value is plain data, naming where it is not.
-- Read by cjson.decode, whose floats become integers where they are whole.

local EXACT = 2 ^ 53

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t" }

local function jstring(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return ESC[c] or fmt("\\u%04x", c:byte()) end) .. '"'
end

-- A key path for messages: config.env.HOME, config.args[2].
local function sub(path, k)
  if type(k) == "number" then return fmt("%s[%d]", path, k) end
  if k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  return fmt("%s[%s]", path, jstring(k))
end

local function encode(v, path, out, seen, ind, depth)
  local t = type(v)
  -- With ind (pretty), each entry on a line of its own, indented.
  local nl, close, colon = "", "", ":"
  if ind then
    nl = "\n" .. ind:rep(depth + 1)
    close = "\n" .. ind:rep(depth)
    colon = ": "
  end
  if t == "string" then
    out[#out + 1] = jstring(v)
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      fail(fmt("%s: %s cannot be stored (JSON has no such number)", path, tostring(v)))
    end
    if mtype(v) == "integer" then
      if v > EXACT or v < -EXACT then
        fail(fmt("%s: %d is too large to store exactly (at most 2^53): give it as a string", path, v))
      end
      out[#out + 1] = fmt("%d", v)
    else
      out[#out + 1] = fmt("%.17g", v)
    end
  elseif t == "table" then
    if seen[v] then fail(path .. ": a table inside itself cannot be stored") end
    if getmetatable(v) ~= nil then fail(path .. ": a table with a metatable cannot be stored (only plain data)") end
    seen[v] = true
    local n, keys, strings = 0, {}, true
    for k in pairs(v) do
      n = n + 1
      if type(k) ~= "string" then strings = false end
      keys[#keys + 1] = k
    end
    if n == 0 then
      out[#out + 1] = "{}"
    elseif strings then
      sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = nl .. jstring(k) .. colon
        encode(v[k], sub(path, k), out, seen, ind, (depth or 0) + 1)
      end
      out[#out + 1] = close .. "}"
    else
      for _, k in ipairs(keys) do
        if mtype(k) ~= "integer" or k < 1 or k > n then
          fail(fmt("%s: key %s: a table is stored as a list (keys 1..n) or a map (string keys), not both",
            path, util.quoted(k)))
        end
      end
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = nl
        encode(v[i], sub(path, i), out, seen, ind, (depth or 0) + 1)
      end
      out[#out + 1] = close .. "]"
    end
    seen[v] = nil
  else
    fail(fmt("%s: a %s cannot be stored (only strings, numbers, booleans and tables)", path, t))
  end
end

--- encode(v [, what [, indent]]) -> v as JSON (map keys sorted); raises,
-- naming where below what (default "value"), on anything but plain
-- data. indent (a string, "  "): pretty, one entry per line.
function M.encode(v, what, indent)
  local out = {}
  encode(v, what or "value", out, {}, indent, 0)
  return concat(out)
end

-- Whole floats to integers, JSON null to nothing, in place.
local function normalise(v)
  if type(v) == "number" then
    if mtype(v) == "float" and v == math.floor(v) and v <= EXACT and v >= -EXACT then return tointeger(v) end
    return v
  end
  if type(v) ~= "table" then return v end
  local null = require("cjson").null
  for k, x in pairs(v) do
    if x == null then v[k] = nil else v[k] = normalise(x) end
  end
  return v
end

--- decode(s [, what]) -> the value of the JSON text s, whole numbers as
-- integers; raises "<what>: not JSON (...)".
function M.decode(s, what)
  local ok, v = pcall(require("cjson").decode, s)
  if not ok then fail(fmt("%s: not JSON (%s)", what or "value", tostring(v))) end
  return normalise(v)
end

-- Fields ---------------------------------------------------------------------

local is_list_of_strings = util.is_strings

local function is_map_of(v, kind)
  if type(v) ~= "table" then return false end
  for k, x in pairs(v) do
    if type(k) ~= "string" then return false end
    if kind == "integer" and mtype(x) ~= "integer" then return false end
    if kind == "string" and type(x) ~= "string" then return false end
  end
  return true
end

-- Each field, what it must be (a predicate) and how the message says it.
local KINDS = {
  string = { function(v) return type(v) == "string" end, "a string" },
  integer = { function(v) return mtype(v) == "integer" end, "an integer" },
  boolean = { function(v) return type(v) == "boolean" end, "a boolean" },
  status = { function(v) return STATUS[v] == true end, "one of created, exited, paused, running" },
  signal = { function(v) return type(v) == "string" or mtype(v) == "integer" end, "a signal name or number" },
  strings = { is_list_of_strings, "a list of strings" },
  data = { function(v) return type(v) == "table" end, "a table" },
  cgroup = { function(v) return type(v) == "string" or is_map_of(v, "string") end,
    "a path, or a map of paths by hierarchy" },
  namespaces = { function(v) return is_map_of(v, "integer") end, "a map of namespace types to inodes" },
  labels = { function(v) return is_map_of(v, "string") end, "a map of strings to strings" },
}

local FIELDS = {
  version = "integer", id = "string", name = "string", status = "status",
  created = "string", started = "string", finished = "string",
  pid = "integer", start_time = "integer", boot_id = "string",
  exit_code = "integer", signal = "signal", oom = "boolean", reason = "string",
  image = "string", command = "strings", config = "data", cgroup = "cgroup",
  rootfs = "string", upper = "string", bundle = "string", log = "string",
  namespaces = "namespaces", labels = "labels",
}

-- What create and set take; the rest is the lifecycle's.
local CREATE = { name = true, image = true, command = true, config = true, cgroup = true, rootfs = true,
  upper = true, bundle = true, log = true, labels = true, namespaces = true, hold = true }
local SET = { image = true, command = true, config = true, cgroup = true, rootfs = true, upper = true,
  bundle = true, log = true, labels = true, namespaces = true, pid = true, start_time = true }

-- Raise unless each field of t that FIELDS knows has its kind.
local function check_fields(what, t)
  for k, kind in pairs(FIELDS) do
    local v = t[k]
    if v ~= nil and not KINDS[kind][1](v) then
      fail(fmt("%s: %s must be %s, got %s", what, k, KINDS[kind][2], util.show(v)))
    end
  end
  if t.pid ~= nil and t.pid <= 0 then fail(fmt("%s: pid must be positive, got %d", what, t.pid)) end
end

--- valid_name(name) -> true, or false and why not.
function M.valid_name(name)
  if type(name) ~= "string" then return false, "a name must be a string, got " .. type(name) end
  if not name:match("^[%w][%w_.%-]*$") or #name > 64 then
    return false, fmt("bad container name %s: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 bytes", util.show(name))
  end
  if #name == 64 and name:match("^%x+$") then
    return false, fmt("bad container name %s: it would be taken for an id", util.show(name))
  end
  return true
end

-- Generated names -----------------------------------------------------------
--
-- docker's style: an adjective and a surname of someone whose work
-- computers run on.

local ADJECTIVES = {
  "admiring", "amazing", "bold", "brave", "busy", "calm", "clever", "cool", "dazzling", "eager",
  "ecstatic", "elegant", "epic", "festive", "focused", "gallant", "gentle", "happy", "hopeful", "jolly",
  "keen", "kind", "lucid", "modest", "nifty", "nostalgic", "patient", "quirky", "relaxed", "serene",
  "sharp", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "wizardly", "youthful", "zealous",
}
local SURNAMES = {
  "allen", "babbage", "backus", "bell", "borg", "cerf", "dijkstra", "engelbart", "hamilton", "hopper",
  "joy", "kahn", "knuth", "lamport", "liskov", "lovelace", "mccarthy", "minsky", "morse", "noether",
  "perlman", "pike", "ritchie", "shannon", "shaw", "sinoussi", "stallman", "sutherland", "tharp", "thompson",
  "torvalds", "turing", "vaughan", "wilkes", "wing", "wirth", "wozniak", "yalow", "yonath", "zuse",
}

--- generate_name() -> a random adjective_surname (not checked for use).
function M.generate_name()
  local r = tonumber(random_hex(4), 16)
  return ADJECTIVES[r % #ADJECTIVES + 1] .. "_" .. SURNAMES[(r // #ADJECTIVES) % #SURNAMES + 1]
end

-- The store ------------------------------------------------------------------

local Store = {}
Store.__index = Store

local State = {}
State.__index = State
State.__name = "ns.state"

-- The store a state object belongs to: kept out of the record's fields.
local STORE = setmetatable({}, { __mode = "k" })

--- open([root]) -> the store of the state root root (default
-- ns.util.state_root()); nothing is made until a container is.
function M.open(root)
  root = root or util.state_root()
  if type(root) ~= "string" or root:sub(1, 1) ~= "/" then
    fail("ns.state: the state root must be an absolute path, got " .. util.show(root))
  end
  root = root:gsub("(.)/+$", "%1")
  return setmetatable({ root = root, containers = root .. "/containers", names = root .. "/names",
    lockpath = root .. "/containers.lock" }, Store)
end

local function exists(path) return ns.stat(path, "nofollow") ~= nil end

--- st:locked(mode, fn, ...) -> what fn(...) returns, run holding the
-- store's lock in mode "ex" or "sh". Nested calls on one store share the
-- lock (an "ex" inside an "sh" raises: flock would wait on itself). A
-- shared lock on a root that has no lock file yet holds nothing: there
-- is nothing there to read.
function Store:locked(mode, fn, ...)
  if self.held then
    if mode == "ex" and self.held_mode ~= "ex" then fail("ns.state: an exclusive lock asked for under a shared one") end
    return fn(...)
  end
  local what = "state " .. self.root
  local fd
  if mode == "ex" then
    check(what, ns.mkdir(self.root, oct"711", true))
    for _, d in ipairs { self.containers, self.names } do
      local ok, msg, e = ns.mkdir(d, oct"711")
      if not ok and e ~= ns.E.EEXIST then fail(what .. ": " .. msg) end
    end
    fd = check(what, ns.open(self.lockpath, { "rdwr", "creat" }, "0600"))
  else
    local msg, e
    fd, msg, e = ns.open(self.lockpath, { "rdonly" })
    if not fd and e ~= ns.E.ENOENT then fail(what .. ": " .. msg) end
    if not fd then return fn(...) end
  end
  local ok, msg = ns.flock(fd, mode)
  if not ok then
    fd:close()
    fail(what .. ": " .. msg)
  end
  self.held, self.held_mode = fd, mode
  local r = table.pack(pcall(fn, ...))
  self.held, self.held_mode = nil, nil
  fd:close()
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

local function dir_of(store, id) return store.containers .. "/" .. id end

-- A state object over the record t of store.
local function wrap(store, t)
  local s = setmetatable(t, State)
  STORE[s] = store
  return s
end

-- The record of container id as a state object, or nil, why.
function Store:read(id)
  local path = dir_of(self, id) .. "/state.json"
  local text, msg, e = ns.readfile(path)
  if not text then
    if e == ns.E.ENOENT or e == ns.E.ENOTDIR then return nil, "gone" end
    fail("state " .. path .. ": " .. msg)
  end
  local what = "state " .. path
  local t = M.decode(text, what)
  if type(t) ~= "table" then fail(what .. ": not a record") end
  if mtype(t.version) ~= "integer" then fail(what .. ": no format version") end
  if t.version > M.VERSION then
    fail(fmt("%s: written by a newer luactr (format %d; this one reads up to %d)", what, t.version, M.VERSION))
  end
  check_fields(what, t)
  if t.id ~= id or not t.name or not t.status then fail(what .. ": id, name or status missing or wrong") end
  for k in pairs(t) do if not FIELDS[k] then t[k] = nil end end
  return wrap(self, t)
end

-- Write the record of s into directory dir: a temp file beside
-- state.json, renamed over it. Temp files there are a dead writer's (a
-- writer holds the lock): removed first.
local function write(dir, s)
  local what = "state " .. dir .. "/state.json"
  local data = {}
  for k in pairs(FIELDS) do data[k] = s[k] end
  data.version = M.VERSION
  local text = M.encode(data, "container " .. fmt("%q", s.name))
  for _, name in ipairs(check(what, ns.listdir(dir))) do
    if name:match("^%.state%.json%.") then ns.unlink(dir .. "/" .. name) end
  end
  local tmp = dir .. "/.state.json." .. random_hex(6)
  local f = check(what, ns.open(tmp, { "wronly", "creat", "excl" }, "0600"))
  local ok, msg = f:write(text .. "\n")
  f:close()
  if ok then ok, msg = ns.rename(tmp, dir .. "/state.json") end
  if not ok then
    ns.unlink(tmp)
    fail(what .. ": " .. tostring(msg))
  end
end

-- Remove what dead writers left: containers being made or removed. Only
-- under the exclusive lock, which every maker and remover holds.
function Store:sweep()
  for _, name in ipairs(ns.listdir(self.containers) or {}) do
    if name:match("^%.new%-") or name:match("^%.rm%-") then
      pcall(require("ns.util.userns").remove_tree, self.containers .. "/" .. name)
    end
  end
end

local function is_id(s) return #s == 64 and s:match("^%x+$") ~= nil end

-- The id names/<name> points at, if its container is there.
function Store:name_id(name)
  local id = ns.readlink(self.names .. "/" .. name)
  if id and is_id(id) and exists(dir_of(self, id) .. "/state.json") then return id end
  return nil, id
end

-- Make names/<name> point at id: true, or false and the id of the
-- container that has it. A name whose container is gone (its maker or
-- remover died) is taken over.
function Store:claim(name, id)
  local link = self.names .. "/" .. name
  for _ = 1, 2 do
    local ok, msg, e = ns.symlink(id, link)
    if ok then return true end
    if e ~= ns.E.EEXIST then fail(fmt("container name %q: %s", name, msg)) end
    local other, stale = self:name_id(name)
    if other then return false, other end
    if stale ~= nil or exists(link) then check(fmt("container name %q", name), ns.unlink(link)) end
  end
  return false, "?"
end

local function in_use(name, other)
  return fmt("container name %q is already in use by container %s: remove it, or choose another name",
    name, M.short(other))
end

--- st:create(t) -> s, a new container's state, status "created".
-- t: name (default a generated one), image, command, config, cgroup,
-- rootfs, upper, bundle, log, labels, namespaces; hold = true also
-- returns the fd of s:hold(), taken before the record is there, so no
-- other process ever sees it unheld. Raises when t's name is
-- taken: `container name "x" is already in use by container <short id>`
-- (of two creators of one name, at once, exactly one wins).
function Store:create(t)
  if type(t) ~= "table" then fail("state.create: expected a table, got " .. type(t)) end
  util.check_keys("state.create", t, CREATE)
  local what = t.name ~= nil and fmt("container %s", util.show(t.name)) or "state.create"
  if t.name ~= nil then
    local ok, why = M.valid_name(t.name)
    if not ok then fail(why) end
  end
  check_fields(what, t)
  -- Refuse what cannot be stored before anything is made.
  M.encode(t, "state.create")
  return self:locked("ex", function()
    self:sweep()
    local id = M.new_id()
    local name = t.name
    if name then
      local ok, other = self:claim(name, id)
      if not ok then fail(in_use(name, other)) end
    else
      for i = 1, 1000 do
        local try = M.generate_name() .. (i > 8 and "_" .. (i - 7) or "")
        if self:claim(try, id) then name = try break end
      end
      if not name then fail("state.create: found no free name to generate") end
    end
    local rec = {}
    for k in pairs(CREATE) do rec[k] = t[k] end
    rec.hold = nil
    rec.id, rec.name, rec.status, rec.created, rec.version = id, name, "created", M.now(), M.VERSION
    local tmp, lock
    local ok, err = pcall(function()
      tmp = check("state " .. self.containers, ns.mkdtemp(self.containers .. "/.new-XXXXXX"))
      check("state " .. tmp, ns.chmod(tmp, oct"711"))
      if t.hold then
        -- The lock is the directory's inode's: it moves with the rename.
        lock = check("state " .. tmp, ns.open(tmp, { "rdonly", "directory" }))
        check("state " .. tmp, ns.flock(lock, { "ex", "nb" }))
      end
      write(tmp, rec)
      check("state " .. tmp, ns.rename(tmp, dir_of(self, id)))
    end)
    if not ok then
      if lock then lock:close() end
      if tmp then pcall(require("ns.util.userns").remove_tree, tmp) end
      ns.unlink(self.names .. "/" .. name)
      error(err, 0)
    end
    -- What is in memory is what a load gives.
    return check("state " .. dir_of(self, id), self:read(id)), lock
  end)
end

-- The names and ids there are (unlocked).
function Store:ids()
  local out = {}
  for _, name in ipairs(ns.listdir(self.containers) or {}) do
    if is_id(name) then out[#out + 1] = name end
  end
  sort(out)
  return out
end

-- "did you mean" for ref among the names and ids of the store.
function Store:near(ref)
  local cands, show = {}, {}
  for _, name in ipairs(ns.listdir(self.names) or {}) do
    if self:name_id(name) then cands[#cands + 1] = name; show[name] = name end
  end
  for _, id in ipairs(self:ids()) do
    local p = id:sub(1, math.max(#ref, 1))
    if not show[p] then cands[#cands + 1] = p; show[p] = M.short(id) end
  end
  local near = util.nearest(ref, cands)
  if #near == 0 then return "" end
  for i, n in ipairs(near) do near[i] = fmt("%q", show[n]) end
  local last = table.remove(near)
  return fmt(" (did you mean %s?)", #near > 0 and concat(near, ", ") .. " or " .. last or last)
end

--- st:find(ref) -> s, or nil and why: ref is a full id, a name, or a
-- unique prefix of an id. "no such container: "wbe" (did you mean
-- "web"?)"; a prefix of several: `container id prefix "3f" is ambiguous:
-- 3fa2b1c0d4e5, 3f01...`.
function Store:find(ref)
  if type(ref) ~= "string" then fail("state.find: expected a container id or name, got " .. type(ref)) end
  return self:locked("sh", function()
    if ref == "" then return nil, "no such container: \"\"" end
    if is_id(ref) then
      local s = self:read(ref:lower())
      if s then return s end
    end
    if M.valid_name(ref) then
      local id = self:name_id(ref)
      local s = id and self:read(id)
      if s then return s end
    end
    if ref:match("^%x+$") then
      local low, hits = ref:lower(), {}
      for _, id in ipairs(self:ids()) do
        if id:sub(1, #low) == low then hits[#hits + 1] = id end
      end
      if #hits == 1 then
        local s = self:read(hits[1])
        if s then return s end
      elseif #hits > 1 then
        for i, id in ipairs(hits) do hits[i] = M.short(id) end
        return nil, fmt("container id prefix %q is ambiguous: %s", ref, concat(hits, ", "))
      end
    end
    return nil, fmt("no such container: %s%s", util.show(ref), self:near(ref))
  end)
end

--- st:load(ref) -> s, as find, raising when there is none.
function Store:load(ref)
  local s, why = self:find(ref)
  if not s then fail(why) end
  return s
end

-- Every record, sorted by creation, and the messages of those unreadable.
local function all(store)
  local out, bad = {}, {}
  for _, id in ipairs(store:ids()) do
    local ok, s = pcall(store.read, store, id)
    if ok and s then out[#out + 1] = s elseif not ok then bad[#bad + 1] = tostring(s) end
  end
  sort(out, function(a, b)
    if a.created ~= b.created then return a.created < b.created end
    return a.id < b.id
  end)
  return out, bad
end

--- st:list() -> every container's state, oldest first, and a list of
-- messages for records that could not be read (they are left out).
function Store:list()
  return self:locked("sh", all, self)
end

-- Whether someone (a monitor) holds container dir's lock (s:hold()).
local function held(dir)
  local fd <close> = ns.open(dir, { "rdonly", "directory" })
  if not fd then return false end
  local ok, _, e = ns.flock(fd, { "sh", "nb" })
  return not ok and e == ns.E.EAGAIN
end

-- The reason s (a record just read, under the lock) is stale, or nil.
local function stale(store, s)
  if s.status == "exited" or not s.pid then return nil end
  if s.boot_id and s.boot_id ~= M.boot_id() then return REBOOTED end
  local start = M.process_start(s.pid)
  if start and (s.start_time == nil or start == s.start_time) then return nil end
  -- Its monitor, still there, is about to say how it ended.
  if held(dir_of(store, s.id)) then return nil end
  return GONE
end

-- Copy the fields of the record from into the object s.
local function refresh(s, from)
  for k in pairs(FIELDS) do rawset(s, k, from[k]) end
  return s
end

-- Under the exclusive lock: read s's record afresh, let fn change it,
-- write it back, and refresh s (also when fn refuses the change). Raises
-- when the container was removed.
local function change(s, fn)
  local store = STORE[s]
  return store:locked("ex", function()
    local cur = store:read(s.id)
    if not cur then fail(fmt("container %q (%s): no such container (removed)", s.name, M.short(s.id))) end
    -- A change refused leaves s as the record is, not as s thought it.
    local ok, err = pcall(fn, cur)
    if not ok then
      refresh(s, store:read(s.id))
      error(err, 0)
    end
    check_fields(fmt("container %q", cur.name), cur)
    write(dir_of(store, cur.id), cur)
    return refresh(s, cur)
  end)
end

local function mark_exited(s, reason)
  s.status, s.reason, s.finished, s.exit_code, s.signal = "exited", reason, M.now(), nil, nil
end

--- st:reconcile(s) -> s, changed: a created, running or paused container
-- whose process is gone, or is another process now (its pid recycled: a
-- start time not the recorded one), or whose boot_id is not this boot's,
-- becomes exited with the reason "its process is gone (monitor killed?)"
-- or "the host rebooted", saved. One whose monitor still holds it is
-- left alone: the monitor is about to record the end itself.
function Store:reconcile(s)
  local changed = false
  change(s, function(cur)
    local why = stale(self, cur)
    if why then mark_exited(cur, why); changed = true end
  end)
  return s, changed
end

--- st:reconcile_all() -> every container's state (as list), each
-- reconciled, and the list of those it marked exited. Also removes what
-- dead creators and removers left.
function Store:reconcile_all()
  if not exists(self.containers) then return {}, {} end
  return self:locked("ex", function()
    self:sweep()
    local list = all(self)
    local marked = {}
    for _, s in ipairs(list) do
      local why = stale(self, s)
      if why then
        mark_exited(s, why)
        write(dir_of(self, s.id), s)
        marked[#marked + 1] = s
      end
    end
    return list, marked
  end)
end

-- The module's functions over the default root (or the one given last).
function M.create(t, root) return M.open(root):create(t) end
function M.find(ref, root) return M.open(root):find(ref) end
function M.load(ref, root) return M.open(root):load(ref) end
function M.list(root) return M.open(root):list() end
function M.reconcile(s) return STORE[s]:reconcile(s) end
function M.reconcile_all(root) return M.open(root):reconcile_all() end

-- A state ---------------------------------------------------------------------

--- s:short_id() -> the first 12 digits of s's id.
function State:short_id() return M.short(self.id) end

--- s:store() -> the store s belongs to.
function State:store() return STORE[self] end

--- s:dir() -> s's directory, containers/<id>; s:path(name) -> a file in
-- it (name: one component, "log", "config.json"...).
function State:dir() return dir_of(STORE[self], self.id) end
function State:path(name)
  if type(name) ~= "string" or name == "" or name:find("/") or name == "." or name == ".."
      or name == "state.json" or name:match("^%.state%.json") then
    fail(fmt("container %q: bad file name %s", self.name, util.show(name)))
  end
  return self:dir() .. "/" .. name
end

--- s:data() -> a plain copy of s's record (for inspect or JSON output).
function State:data()
  local t = {}
  for k in pairs(FIELDS) do t[k] = rawget(self, k) end
  t.version = M.VERSION
  return M.decode(M.encode(t))
end

-- The lifecycle, as youki's ContainerStatus has it. Each returns true, or
-- false and why not.
local function can(s, ok, hint)
  if ok then return true end
  return false, fmt("container %q is %s: %s", s.name, s.status, hint)
end

--- s:can_start(): only a created container starts.
function State:can_start() return can(self, self.status == "created", "only a created container starts") end
--- s:can_kill(): a created, running or paused one has a process to signal.
function State:can_kill() return can(self, self.status ~= "exited", "it has no process to signal") end
--- s:can_delete(): only an exited one (remove{force = true} kills first).
function State:can_delete()
  return can(self, self.status == "exited", "stop it first, or remove it with force")
end
--- s:can_pause(): only a running one.
function State:can_pause() return can(self, self.status == "running", "only a running container pauses") end
--- s:can_resume(): only a paused one.
function State:can_resume() return can(self, self.status == "paused", "only a paused container resumes") end
--- s:can_exec(): only a running one.
function State:can_exec() return can(self, self.status == "running", "only a running container runs commands") end

-- Fill in start_time and boot_id for t.pid from /proc, if not given.
local function process_fields(what, t)
  if t.pid == nil then return end
  if t.start_time == nil then
    t.start_time = M.process_start(t.pid)
    if not t.start_time then fail(fmt("%s: process %d is gone", what, t.pid)) end
  end
  t.boot_id = M.boot_id()
end

-- The ids of the namespaces of process pid ({pid = inode, ...}), those
-- that can be read.
local NS_TYPES = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" }
local function namespaces_of(pid)
  local t = {}
  for _, kind in ipairs(NS_TYPES) do t[kind] = ns.nsid(pid, kind) or nil end
  return t
end

-- Copy the keys of t into cur (cleared where t says false).
local function apply(cur, t)
  for k, v in pairs(t) do
    if v == false and k ~= "oom" then cur[k] = nil else cur[k] = v end
  end
end

--- s:set(t) -> s: change fields other than the lifecycle's (image,
-- command, config, cgroup, rootfs, upper, bundle, log, labels,
-- namespaces, pid, start_time), saved at once; false clears one. A pid
-- without start_time gets it from /proc, and the boot's id (an OCI
-- container has its process while created).
function State:set(t)
  if type(t) ~= "table" then fail("s:set: expected a table, got " .. type(t)) end
  local what = fmt("container %q", self.name)
  util.check_keys(what .. ": set", t, SET)
  local u = {}
  for k, v in pairs(t) do u[k] = v end
  for k, v in pairs(u) do if v == false then u[k] = nil end end
  check_fields(what, u)
  process_fields(what, u)
  M.encode(u, what)
  return change(self, function(cur)
    apply(cur, t)
    if u.pid then cur.start_time, cur.boot_id = u.start_time, u.boot_id end
    if t.pid == false then cur.start_time, cur.boot_id = nil, nil end
  end)
end

--- s:save() -> s: write s's fields as they are (for a caller that set
-- them itself; the transitions below read the record afresh instead).
function State:save()
  local what = fmt("container %q", self.name)
  local mine = {}
  for k in pairs(FIELDS) do mine[k] = rawget(self, k) end
  check_fields(what, mine)
  if not STATUS[mine.status] then fail(what .. ": no status") end
  M.encode(mine, what)
  return change(self, function(cur)
    if cur.name ~= mine.name then fail(fmt("container %q: a save cannot rename it", cur.name)) end
    for k in pairs(FIELDS) do cur[k] = mine[k] end
  end)
end

--- s:reload() -> s, its fields read afresh; raises if it was removed.
function State:reload()
  local store = STORE[self]
  local cur = store:locked("sh", store.read, store, self.id)
  if not cur then fail(fmt("container %q (%s): no such container (removed)", self.name, self:short_id())) end
  return refresh(self, cur)
end

-- Raise unless cur may go through a transition: ok, why from a can_*.
local function must(ok, why) if not ok then fail(why) end end

--- s:running(t) -> s: created -> running. t: pid (required), start_time
-- (default from /proc), namespaces (default those of the pid that can be
-- read), cgroup; started is now. A pidfd may be given and is not kept
-- (an fd means nothing to another process: s:pidfd() opens one).
function State:running(t)
  t = t or {}
  local what = fmt("container %q", self.name)
  util.check_keys(what .. ": running", t, { pid = true, start_time = true, namespaces = true, cgroup = true,
    pidfd = true })
  if mtype(t.pid) ~= "integer" then fail(what .. ": running needs the pid, an integer") end
  local u = { pid = t.pid, start_time = t.start_time, namespaces = t.namespaces, cgroup = t.cgroup }
  check_fields(what, u)
  process_fields(what, u)
  u.namespaces = u.namespaces or namespaces_of(u.pid)
  return change(self, function(cur)
    must(cur:can_start())
    apply(cur, u)
    cur.status, cur.started = "running", M.now()
  end)
end

--- s:exited(t) -> s: created, running or paused -> exited. t: code
-- (0..255) or signal (a name or number), oom, reason (required when
-- neither code nor signal is known). A record that reconcile marked
-- exited (no code, no signal) takes the real end when it comes.
function State:exited(t)
  t = t or {}
  local what = fmt("container %q", self.name)
  util.check_keys(what .. ": exited", t, { code = true, signal = true, oom = true, reason = true })
  if t.code ~= nil and (mtype(t.code) ~= "integer" or t.code < 0 or t.code > 255) then
    fail(what .. ": exit code must be an integer 0..255, got " .. util.show(t.code))
  end
  if t.code == nil and t.signal == nil and t.reason == nil then
    fail(what .. ": exited needs a code, a signal or a reason")
  end
  local u = { exit_code = t.code, signal = t.signal, oom = t.oom, reason = t.reason }
  check_fields(what, u)
  return change(self, function(cur)
    local inferred = cur.status == "exited" and cur.exit_code == nil and cur.signal == nil
    if cur.status == "exited" and not inferred then fail(what .. " has already exited") end
    cur.exit_code, cur.signal, cur.oom, cur.reason = u.exit_code, u.signal, u.oom, u.reason
    cur.status, cur.finished = "exited", M.now()
  end)
end

--- s:recreated() -> s: exited -> created, its last run's pid, times
-- and end cleared (docker start of a stopped container: a new run on
-- what it kept). Only an exited one; the caller holds it first
-- (s:hold(), which fails while its last monitor is still finishing).
function State:recreated()
  return change(self, function(cur)
    if cur.status ~= "exited" then fail(fmt("container %q is %s: only an exited container is started again", cur.name, cur.status)) end
    cur.status = "created"
    cur.pid, cur.start_time, cur.boot_id, cur.started, cur.finished = nil, nil, nil, nil, nil
    cur.exit_code, cur.signal, cur.oom, cur.reason, cur.namespaces = nil, nil, nil, nil, nil
  end)
end

--- s:paused() -> s: running -> paused; s:resumed() -> s: paused -> running.
function State:paused()
  return change(self, function(cur) must(cur:can_pause()); cur.status = "paused" end)
end
function State:resumed()
  return change(self, function(cur) must(cur:can_resume()); cur.status = "running" end)
end

--- s:exit_status() -> the status a shell would see: the code, or 128 +
-- the signal's number; nil when not exited or not known.
function State:exit_status()
  if self.status ~= "exited" then return nil end
  if self.exit_code then return self.exit_code end
  local n = mtype(self.signal) == "integer" and self.signal
  if type(self.signal) == "string" then
    local ok, v = pcall(function() return ns.SIG[self.signal:upper():gsub("^SIG", "")] end)
    n = ok and v
  end
  return n and 128 + n or nil
end

--- s:alive() -> true when s's process is there and is still the one
-- recorded (its start time); else false and why.
function State:alive()
  if not self.pid then return false, fmt("container %q has no process", self.name) end
  local start = M.process_start(self.pid)
  if not start then return false, fmt("container %q: process %d is gone", self.name, self.pid) end
  if self.start_time and start ~= self.start_time then
    return false, fmt("container %q: process %d is another one now (pid reused)", self.name, self.pid)
  end
  return true
end

--- s:pidfd() -> a pidfd of s's process, checked to be the one recorded
-- after it was opened (so a signal sent through it never reaches a
-- process that took a recycled pid); or nil and why.
function State:pidfd()
  local ok, why = self:alive()
  if not ok then return nil, why end
  local fd, msg = ns.pidfd_open(self.pid)
  if not fd then return nil, fmt("container %q: %s", self.name, msg) end
  ok, why = self:alive()
  if not ok then fd:close() return nil, why end
  return fd
end

--- s:hold() -> an fd holding s's directory's lock, which its monitor
-- keeps while the container runs (close it to let go): reconcile leaves
-- a held container alone. Raises when another holds it.
function State:hold()
  local dir = self:dir()
  local fd = check(fmt("container %q", self.name), ns.open(dir, { "rdonly", "directory" }))
  local ok, msg, e = ns.flock(fd, { "ex", "nb" })
  if not ok then
    fd:close()
    if e == ns.E.EAGAIN then fail(fmt("container %q is held by another process (its monitor)", self.name)) end
    fail(fmt("container %q: %s", self.name, msg))
  end
  return fd
end

--- s:held() -> whether a process holds s (s:hold()).
function State:held() return held(self:dir()) end

--- s:remove([opts]) -> true: the container's directory and its name go.
-- Refused unless it has exited (can_delete) or opts.force; the caller
-- kills a running one first. Nothing of it is left under the root.
function State:remove(opts)
  opts = opts or {}
  util.check_keys(fmt("container %q: remove", self.name), opts, { force = true })
  local store = STORE[self]
  return store:locked("ex", function()
    local cur = store:read(self.id)
    if not cur then fail(fmt("container %q (%s): no such container (removed)", self.name, self:short_id())) end
    if not opts.force then must(cur:can_delete()) end
    local dir, gone = dir_of(store, cur.id), store.containers .. "/.rm-" .. cur.id
    check(fmt("container %q: remove", cur.name), ns.rename(dir, gone))
    if ns.readlink(store.names .. "/" .. cur.name) == cur.id then ns.unlink(store.names .. "/" .. cur.name) end
    require("ns.util.userns").remove_tree(gone)
    refresh(self, cur)
    return true
  end)
end

State.__tostring = function(s) return fmt("container %s (%s, %s)", s.name, s:short_id(), s.status) end

return M
