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

--- SUBID_FILES: where the subordinate ranges are (subuid(5), subgid(5)).
M.SUBID_FILES = { uid = "/etc/subuid", gid = "/etc/subgid" }
--- MAP_HELPERS: the setuid helpers that write a user namespace's maps
-- with the ranges those files grant (Debian's uidmap package).
M.MAP_HELPERS = { uid = "/usr/bin/newuidmap", gid = "/usr/bin/newgidmap" }

-- The first subordinate range of the user (name or id) in file, as
-- start, count; nil when it lists none.
local function subid_range(file, name, id)
  local text = ns.readfile(file)
  if not text then return nil end
  for line in text:gmatch("[^\n]+") do
    local who, start, count = line:match("^%s*([^:#%s][^:]*):(%d+):(%d+)%s*$")
    if who and (who == name or who == tostring(id)) then
      return math.tointeger(tonumber(start)), math.tointeger(tonumber(count))
    end
  end
end

-- The user's name from /etc/passwd, or nil.
local function user_name(uid)
  for line in (ns.readfile("/etc/passwd") or ""):gmatch("[^\n]+") do
    local name, id = line:match("^([^:]*):[^:]*:(%d+):")
    if id and tonumber(id) == uid then return name end
  end
end

--- rootless_maps(uid, gid) -> the default maps of a user namespace for a
-- non-root user, and whether the map helpers must write them: 0 inside
-- is the user, and 1..65536 the first subordinate ranges of
-- /etc/subuid and /etc/subgid, when both list one and newuidmap and
-- newgidmap are there (so that chown inside works); else only 0, with
-- why not (a note for the plan).
function M.rootless_maps(uid, gid)
  local name = user_name(uid)
  local us, un = subid_range(M.SUBID_FILES.uid, name, uid)
  local gs, gn = subid_range(M.SUBID_FILES.gid, name, uid)
  local why
  if not us or not gs then
    why = fmt("no subordinate ids for %s in %s and %s", name or tostring(uid), M.SUBID_FILES.uid, M.SUBID_FILES.gid)
  elseif not ns.stat(M.MAP_HELPERS.uid) or not ns.stat(M.MAP_HELPERS.gid) then
    why = fmt("%s and %s are missing (Debian's uidmap package)", M.MAP_HELPERS.uid, M.MAP_HELPERS.gid)
  end
  if why then return { { 0, uid, 1 } }, { { 0, gid, 1 } }, false, why end
  return { { 0, uid, 1 }, { 1, us, math.min(un, 65536) } }, { { 0, gid, 1 }, { 1, gs, math.min(gn, 65536) } }, true
end

--- maps(what, c): the user namespace of the canonical table c: its maps,
-- defaults filled in, and the ids inside, which they must map.
function M.maps(what, c)
  if c.user then
    -- Default maps: root inside is you outside; run as root, it is uid
    -- 100000 with 65536 ids, the usual first subordinate range, so that
    -- root inside is nobody on the host. Run as another user, with
    -- subordinate ids of its own, those too (written by newuidmap).
    local u = c.user
    local uid, gid = select(2, ns.getuid()), select(2, ns.getgid())
    if uid ~= 0 and u.uid_map == nil and u.gid_map == nil then
      u.uid_map, u.gid_map, u.helpers, u.note = M.rootless_maps(uid, gid)
    elseif uid ~= 0 then
      -- Maps given: the helpers write them when they go past the user's
      -- own id (the kernel lets an unprivileged process map only that).
      local function own(map, id) return map == nil or (#map == 1 and map[1][2] == id and map[1][3] == 1) end
      u.helpers = not (own(u.uid_map, uid) and own(u.gid_map, gid))
    end
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
