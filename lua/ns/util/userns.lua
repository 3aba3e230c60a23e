--- ns.util.userns: work on a rootless user's files that its subordinate
-- ids own (the layers of its image store, a container's upper layer):
-- in a child in a new user namespace with a rootless container's maps
-- (0 the user, 1..65536 its first subordinate ids, written by newuidmap
-- and newgidmap), where the child is root over every id it maps, so
-- chown keeps a tar's owners and rm reaches directories of uid 300000.
-- Without subordinate ranges there is nothing to shift: callers do as
-- before, as the user. See user_namespaces(7), newuidmap(1), subuid(5).
local ns = require "ns.core"

local M = {}

local fmt, concat = string.format, table.concat

local function fail(msg) error(msg, 0) end

--- fd(uid_map, gid_map) -> an fd of a new user namespace with these maps
-- ({{inside, outside, count}, ...}), as an idmapped mount takes it
-- (mount_setattr(2) MOUNT_ATTR_IDMAP): made by a child that only waits,
-- its maps written from here (which takes root, or the ids' owner), then
-- ended. Raises naming the step.
function M.fd(uid_map, gid_map)
  local r, w = ns.pipe()
  if not r then fail("idmap: pipe: " .. tostring(w)) end
  local pid, pidfd = ns.clone({ "user" })
  if pid == 0 then
    w:close()
    r:read(1)
    ns._exit(0)
  end
  r:close()
  if not pid then
    w:close()
    fail("idmap: a user namespace for the mapping: " .. tostring(pidfd))
  end
  local function text(m)
    local lines = {}
    for i, e in ipairs(m) do lines[i] = fmt("%d %d %d", e[1], e[2], e[3]) end
    return concat(lines, "\n") .. "\n"
  end
  local ok, err = ns.writefile(fmt("/proc/%d/uid_map", pid), text(uid_map))
  if ok then ok, err = ns.writefile(fmt("/proc/%d/gid_map", pid), text(gid_map)) end
  local fd
  if ok then fd, err = ns.open(fmt("/proc/%d/ns/user", pid), { "rdonly" }) end
  w:close()
  ns.wait(pidfd)
  pidfd:close()
  if not fd then fail("idmap: the mapping's user namespace: " .. tostring(err)) end
  return fd
end

--- OPAQUE_XATTR: the opaque marker of a rootless store's layers. An
-- unprivileged user may set no trusted.* xattr, and its overlay, mounted
-- with userxattr, reads user.overlay.* instead (Linux 5.11).
M.OPAQUE_XATTR = "user.overlay.opaque"

local cached

--- maps() -> uid_map, gid_map ({{inside, outside, count}...}) when the
-- caller is not root and /etc/subuid and /etc/subgid give it ranges
-- (and newuidmap and newgidmap are there); else nil and why not (a
-- root caller's own ids are the tar's: it needs none).
function M.maps()
  if not cached then
    local uid, gid = select(2, ns.getuid()), select(2, ns.getgid())
    if uid == 0 then
      cached = { why = "root needs no user namespace to keep a layer's owners" }
    else
      local um, gm, helpers, why = require("ns.recipe.user").rootless_maps(uid, gid)
      cached = helpers and { uid_map = um, gid_map = gm } or { why = why }
    end
  end
  if not cached.uid_map then return nil, cached.why end
  return cached.uid_map, cached.gid_map
end

--- max_ids() -> the highest uid and gid that the maps map inside
-- (65536 with a full range), or nil without maps.
function M.max_ids()
  local um, gm = M.maps()
  if not um then return nil end
  local function top(map)
    local n = 0
    for _, r in ipairs(map) do n = math.max(n, r[1] + r[3] - 1) end
    return n
  end
  return top(um), top(gm)
end

-- v as Lua source (strings, numbers, booleans, tables of them): what the
-- child sends back. %q writes integers, floats and any bytes exactly.
local function ser(v)
  local t = type(v)
  if t == "string" or t == "number" then return fmt("%q", v) end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t ~= "table" then return "nil" end
  local out = {}
  for k, x in pairs(v) do
    if type(k) == "string" or math.type(k) == "integer" then out[#out + 1] = fmt("[%s]=%s", ser(k), ser(x)) end
  end
  return "{" .. concat(out, ",") .. "}"
end

local function read_all(fd)
  local parts = {}
  repeat
    local s = fd:read(65536)
    parts[#parts + 1] = s
  until not s or s == ""
  return concat(parts)
end

--- run(what, fn, ...) -> what fn returned (its first value: a table or
-- plain value): fn(...) run in a child in a new user namespace with
-- maps(), as root there. Raises fn's error (its text), or "<what>: ..."
-- when the namespace cannot be made (newuidmap's own words). The child
-- shares nothing with the caller after the fork: only what fn returns
-- comes back.
function M.run(what, fn, ...)
  local um, gm = M.maps()
  if not um then fail(fmt("%s: no user namespace with subordinate ids: %s", what, tostring(gm))) end
  local go_r, go_w = assert(ns.pipe())
  local res_r, res_w = assert(ns.pipe())
  local pid, pidfd = ns.clone({ "user" })
  if pid == 0 then
    go_w:close()
    res_r:close()
    ns.prctl("pdeathsig", "KILL")
    -- EOF without a byte: the parent could not write the maps.
    if go_r:read(1) ~= "g" then ns._exit(1) end
    local ok, v = pcall(function(...)
      assert(ns.setresgid(0))
      assert(ns.setresuid(0))
      assert(ns.setgroups({}))
      return fn(...)
    end, ...)
    local msg = ok and ser({ ok = true, v = v }) or ser({ ok = false, err = tostring(v) })
    res_w:write(msg)
    ns._exit(ok and 0 or 1)
  end
  go_r:close()
  res_w:close()
  if not pid then
    go_w:close()
    res_r:close()
    fail(fmt("%s: clone user: %s", what, tostring(pidfd)))
  end
  local ids = require("ns.ops.ids").RUN
  local helpers = require("ns.recipe.user").MAP_HELPERS
  local mapped, err = pcall(function()
    ids.gid_map({ pid = pid }, { helper = helpers.gid, ranges = gm })
    ids.uid_map({ pid = pid }, { helper = helpers.uid, ranges = um })
  end)
  if mapped then go_w:write("g") end
  go_w:close()
  local text = read_all(res_r)
  res_r:close()
  local st = ns.wait(pidfd)
  pidfd:close()
  if not mapped then
    fail(fmt("%s: the user namespace's maps: %s", what, type(err) == "table" and tostring(err.message) or tostring(err)))
  end
  local chunk = text ~= "" and load("return " .. text, "=userns", "t", {})
  local okr, r = false, nil
  if chunk then okr, r = pcall(chunk) end
  if not okr or type(r) ~= "table" then
    fail(fmt("%s: the child in the user namespace ended (%s) without an answer", what,
      st and (st.exited and "exit " .. st.code or "signal " .. tostring(st.signal)) or "?"))
  end
  if not r.ok then fail(r.err) end
  return r.v
end

--- remove_tree(path) -> true: ns.rootfs.remove_tree, for a tree that
-- may hold directories of subordinate ids (which the user can neither
-- list nor empty): what the user owns goes at once; when the walk fails
-- and there are maps, it is done again from inside a user namespace.
function M.remove_tree(path)
  local rootfs = require "ns.rootfs"
  local ok, err = pcall(rootfs.remove_tree, path)
  if ok then return true end
  if not M.maps() then error(err, 0) end
  M.run("remove " .. path, rootfs.remove_tree, path)
  return true
end

return M
