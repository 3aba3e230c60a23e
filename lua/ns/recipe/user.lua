--- ns.recipe.user: the checks of a recipe's user key and of a user
-- namespace's maps, loaded by ns.recipe when there is one.
local ns = require "ns.core"
local recipe = require "ns.recipe"
local util = require "ns.util"

local fmt = string.format
local show, check_keys = util.show, util.check_keys
local bad, str, check_list, int = recipe.bad, recipe.str, recipe.check_list, recipe.int

local M = {}

local USER_KEYS = { uid_map = true, gid_map = true, uid = true, gid = true, groups = true }

-- A uid or gid: a number, or a name that the container's /etc/passwd or
-- /etc/group resolves when it starts.
local function id_or_name(what, key, v)
  if type(v) == "string" and v:match("^%d+$") then v = math.tointeger(tonumber(v)) end
  if type(v) == "string" then
    str(what, key, v)
    if v == "" or v:find("[:/%s]") then bad(what, "%s %s is not a user or group name", key, show(v)) end
    return v
  end
  return int(what, key, v, 0)
end

--- user(what, v, userns) -> the user namespace's config (or nil), the
-- container's ids (or nil). v is the recipe's user: true (a user
-- namespace, root inside), "name|uid[:group|gid]" (docker's --user: ids,
-- no user namespace), or {uid, gid, groups, uid_map, gid_map}: ids, and a
-- user namespace when maps are given (or userns: "user" is in namespaces).
function M.user(what, v, userns)
  if v == nil or v == false then return userns and {} or nil, nil end
  if v == true then return {}, nil end
  if type(v) == "number" then v = tostring(v) end
  if type(v) == "string" then
    local u, g = v:match("^([^:]*):?(.*)$")
    if u == "" then bad(what, "user %s has no user before ':'", show(v)) end
    v = { uid = u, gid = g ~= "" and g or nil }
  end
  check_keys(what .. ": user", v, USER_KEYS)
  local ns_conf
  if v.uid_map ~= nil or v.gid_map ~= nil or userns then ns_conf = { uid_map = v.uid_map, gid_map = v.gid_map } end
  local ids
  if v.uid ~= nil or v.gid ~= nil or v.groups ~= nil then
    ids = { uid = v.uid ~= nil and id_or_name(what, "user.uid", v.uid) or 0 }
    if v.gid ~= nil then ids.gid = id_or_name(what, "user.gid", v.gid) end
    if v.groups ~= nil then
      local gs = check_list(what, "user.groups", v.groups)
      ids.groups = {}
      for i, g in ipairs(gs) do ids.groups[i] = id_or_name(what, fmt("user.groups[%d]", i), g) end
    end
  end
  return ns_conf, ids
end

local function check_idmap(what, key, map)
  check_list(what, key, map)
  if #map == 0 then bad(what, "%s is empty", key) end
  for i, r in ipairs(map) do
    local k = fmt("%s[%d]", key, i)
    check_list(what, k, r)
    if #r ~= 3 then bad(what, "%s must be {inside, outside, count}", k) end
    int(what, k .. "[1]", r[1], 0); int(what, k .. "[2]", r[2], 0); int(what, k .. "[3]", r[3], 1)
  end
  return map
end

--- maps(what, c): the user namespace of the canonical table c: its maps,
-- defaults filled in, and the ids inside, which they must map.
function M.maps(what, c)
  if c.user then
    -- Default maps: root inside is you outside; run as root, it is uid
    -- 100000 with 65536 ids, the usual first subordinate range, so that
    -- root inside is nobody on the host.
    local u = c.user
    local uid, gid = select(2, ns.getuid()), select(2, ns.getgid())
    u.uid_map = check_idmap(what, "user.uid_map", u.uid_map or (uid == 0 and { { 0, 100000, 65536 } } or { { 0, uid, 1 } }))
    u.gid_map = check_idmap(what, "user.gid_map", u.gid_map or (uid == 0 and { { 0, 100000, 65536 } } or { { 0, gid, 1 } }))
  end
  if c.user then
    -- The ids inside a user namespace (root by default) must be ones its
    -- maps map; names are looked up at the start, in the container's files.
    for _, k in ipairs({ "uid", "gid" }) do
      local given = c.ids and c.ids[k]
      local id = given == nil and 0 or given
      if math.type(id) == "integer" then
        local mapped = false
        for _, r in ipairs(c.user[k .. "_map"]) do
          if r[1] <= id and id < r[1] + r[3] then mapped = true end
        end
        if not mapped then
          bad(what, "user.%s %d%s is not mapped by user.%s_map", k, id, given == nil and " (the default)" or "", k)
        end
      end
    end
  end
end

return M
