--- ns.recipe.mounts: the checks of a recipe's mounts and devices keys,
-- loaded by ns.recipe when one is given.
local ns = require "ns.core"
local recipe = require "ns.recipe"
local util = require "ns.util"

local fmt = string.format
local show, quoted, choices, check_keys = util.show, util.quoted, util.choices, util.check_keys
local bad, str, str_list, abs_path = recipe.bad, recipe.str, recipe.str_list, recipe.abs_path

local M = {}

local MOUNT_KEYS = { source = true, target = true, type = true, flags = true, data = true, mkdir = true, dev = true,
  copy_up = true, idmap = true, recursive = true }
local IDMAP_KEYS = { uid_map = true, gid_map = true }
local RECURSIVE_KEYS = { set = true, clear = true, atime = true }
local ATTRS = { rdonly = true, nosuid = true, nodev = true, noexec = true, nodiratime = true, nosymfollow = true }
local ATIMES = { relatime = true, noatime = true, strictatime = true }

-- {{inside, outside, count}, ...}: an id map as user namespaces take it.
local function id_map(w, k, m)
  if type(m) ~= "table" or #m == 0 then bad(w, "%s must be a list of {inside, outside, count}", k) end
  for i, e in ipairs(m) do
    if type(e) ~= "table" or #e ~= 3 then bad(w, "%s[%d] must be {inside, outside, count}", k, i) end
    for j = 1, 3 do
      if math.type(e[j]) ~= "integer" or e[j] < 0 or e[j] > 0xffffffff or (j == 3 and e[j] == 0) then
        bad(w, "%s[%d][%d] must be an id (a count above 0), not %s", k, i, j, show(e[j]))
      end
    end
  end
  return m
end
local DEVICE_KEYS = { path = true, source = true, access = true, type = true, major = true, minor = true, mode = true,
  uid = true, gid = true }
local NODE_TYPES = { c = "chr", b = "blk", p = "fifo" }

local MS_NAMES -- made on first use

-- The flags with which a mount needs no filesystem type.
local TYPELESS = { bind = true, rbind = true, remount = true, move = true, private = true, rprivate = true,
  shared = true, rshared = true, slave = true, rslave = true, unbindable = true, runbindable = true }

local MOUNT_SHAPE = '{source = "/srv", target = "/data", flags = {"bind"}}'

local function check_mount(what, i, m)
  local w = fmt("%s: mounts[%d]", what, i)
  if type(m) ~= "table" then error(fmt("%s must be a table such as %s, not a %s", w, MOUNT_SHAPE, type(m)), 0) end
  if m[1] ~= nil then error(fmt("%s is a table of named keys such as %s, not a list", w, MOUNT_SHAPE), 0) end
  check_keys(w, m, MOUNT_KEYS)
  if m.target == nil then error(w .. " needs a target path", 0) end
  local out = { target = str(w, "target", m.target), mkdir = m.mkdir or false, dev = m.dev, copy_up = m.copy_up }
  for _, k in ipairs({ "source", "type", "data" }) do
    if m[k] ~= nil then out[k] = str(w, k, m[k]) end
  end
  for _, k in ipairs({ "mkdir", "dev", "copy_up" }) do
    if m[k] ~= nil and type(m[k]) ~= "boolean" then bad(w, "%s must be a boolean, not a %s", k, type(m[k])) end
  end
  local flags = m.flags
  if type(flags) == "string" then flags = { flags } end
  out.flags = flags == nil and {} or str_list(w, "flags", flags)
  if #out.flags > 0 and not MS_NAMES then
    MS_NAMES = {}
    for k in pairs(ns.MS) do MS_NAMES[k] = true end
  end
  local typeless, bind = false, false
  for _, f in ipairs(out.flags) do
    if not MS_NAMES[f] then bad(w, "unknown mount flag %s (%s)", quoted(f), choices(f, MS_NAMES, "ns.MS")) end
    typeless = typeless or TYPELESS[f] or false
    bind = bind or f == "bind" or f == "rbind"
  end
  if not out.type and not typeless then
    bad(w, "a mount on %s needs a type (type = \"tmpfs\"), or a source and flags = {\"bind\"}", show(out.target))
  end
  if bind and not out.source then bad(w, "a bind mount on %s needs a source (a path on the host)", show(out.target)) end
  if m.idmap ~= nil then
    -- An idmapped bind (mount_setattr(2) MOUNT_ATTR_IDMAP): the source's
    -- ids seen through the maps, "inside" being the ids on disk.
    if not bind then bad(w, "idmap is for a bind mount (flags = {\"bind\"} or {\"rbind\"})") end
    if type(m.idmap) ~= "table" then bad(w, "idmap must be {uid_map = ..., gid_map = ...}, not a %s", type(m.idmap)) end
    check_keys(w .. ".idmap", m.idmap, IDMAP_KEYS)
    out.idmap = { uid_map = id_map(w, "idmap.uid_map", m.idmap.uid_map), gid_map = id_map(w, "idmap.gid_map", m.idmap.gid_map) }
    if select(2, ns.getuid()) ~= 0 then
      bad(w, "idmap needs root: the source's filesystem is the host's user namespace's, where only root may idmap it")
    end
  end
  if m.recursive ~= nil then
    -- Attributes for the mount and every mount below it (mount_setattr(2)
    -- AT_RECURSIVE): runc's rro, rnosuid, rnoatime and the like.
    if type(m.recursive) ~= "table" then bad(w, "recursive must be {set = {...}, clear = {...}, atime = ...}") end
    check_keys(w .. ".recursive", m.recursive, RECURSIVE_KEYS)
    local r = {}
    for _, k in ipairs({ "set", "clear" }) do
      if m.recursive[k] ~= nil then
        r[k] = str_list(w, "recursive." .. k, m.recursive[k])
        for _, a in ipairs(r[k]) do
          if not ATTRS[a] then bad(w, "recursive.%s: unknown attribute %s (%s)", k, quoted(a), choices(a, ATTRS)) end
        end
      end
    end
    if m.recursive.atime ~= nil then
      if not ATIMES[m.recursive.atime] then
        bad(w, "recursive.atime %s (%s)", quoted(m.recursive.atime), choices(m.recursive.atime, ATIMES))
      end
      r.atime = m.recursive.atime
    end
    out.recursive = r
  end
  return out
end

local function check_device(what, i, d)
  local key = fmt("devices[%d]", i)
  if type(d) == "string" then d = { source = d } end
  if type(d) ~= "table" then bad(what, "%s must be a host device path or a table", key) end
  check_keys(what .. ": " .. key, d, DEVICE_KEYS)
  if d.source == nil and d.type ~= nil then
    -- A node made in the container's /dev (mknod(2)), not the host's bound.
    if not NODE_TYPES[d.type] then bad(what, "%s.type %s must be \"c\", \"b\" or \"p\"", key, show(d.type)) end
    local path = abs_path(what, key .. ".path", d.path)
    if not path:match("^/dev/[^/]") or path:find("/%.%.?/") or path:find("/%.%.?$") then
      bad(what, "%s.path %s must be a path under /dev", key, show(path))
    end
    local node = { type = NODE_TYPES[d.type], major = 0, minor = 0 }
    if d.type ~= "p" then
      for _, k in ipairs({ "major", "minor" }) do
        if math.type(d[k]) ~= "integer" or d[k] < 0 or d[k] >= (k == "major" and 4096 or 1048576) then
          bad(what, "%s.%s must be the device's %s number, not %s", key, k, k, show(d[k]))
        end
        node[k] = d[k]
      end
    end
    local mode = d.mode == nil and 438 or (type(d.mode) == "string" and tonumber(d.mode, 8)) or d.mode
    if math.type(mode) ~= "integer" or mode < 0 or mode > 511 then
      bad(what, "%s.mode %s must be permission bits (0666, \"0620\")", key, show(d.mode))
    end
    node.mode = mode
    for _, k in ipairs({ "uid", "gid" }) do
      if d[k] ~= nil and (math.type(d[k]) ~= "integer" or d[k] < 0) then bad(what, "%s.%s must be an id, not %s", key, k, show(d[k])) end
      node[k] = d[k] or 0
    end
    local access = d.access == nil and "rwm" or str(what, key .. ".access", d.access)
    if access == "" or access:find("[^rwm]") then bad(what, "%s.access %s must be letters of \"rwm\"", key, show(access)) end
    return { path = path, node = node, access = access, type = d.type == "b" and "b" or "c", major = node.major,
      minor = node.minor, fifo = d.type == "p" or nil }
  end
  for _, k in ipairs({ "major", "minor", "mode", "uid", "gid" }) do
    if d[k] ~= nil then bad(what, "%s.%s is for a node made here (type = \"c\", no source)", key, k) end
  end
  local src = abs_path(what, key .. ".source", d.source)
  local st, msg = ns.stat(src)
  if not st then bad(what, "%s: %s", key, msg) end
  if st.type ~= "chr" and st.type ~= "blk" then bad(what, "%s: %s is not a device node", key, show(src)) end
  local path = d.path == nil and src or abs_path(what, key .. ".path", d.path)
  if not path:match("^/dev/[^/]") or path:find("/%.%.?/") or path:find("/%.%.?$") then
    bad(what, "%s.path %s must be a path under /dev", key, show(path))
  end
  local access = d.access == nil and "rwm" or str(what, key .. ".access", d.access)
  if access == "" or access:find("[^rwm]") then bad(what, "%s.access %s must be letters of \"rwm\"", key, show(access)) end
  return { source = src, path = path, access = access, type = st.type == "chr" and "c" or "b",
    major = st.rdev_major, minor = st.rdev_minor }
end

M.check_mount, M.check_device = check_mount, check_device

return M
