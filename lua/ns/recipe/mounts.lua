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
  copy_up = true }
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
