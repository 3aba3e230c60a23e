--- ns.ops.ids: the ops of the container's ids: a user namespace's maps
-- (written by luactr while the child waits), root of it for the setup
-- (become), and the ids of the user key (setids), looked up in the
-- container's /etc/passwd and /etc/group, and HOME from there (home). Loaded by ns.ops when a plan
-- has one of them.
local ns = require "ns.core"
local errors = require "ns.errors"

local fmt = string.format
local must = errors.must

local RUN = {}

function RUN.setgroups_deny(x) must("setgroups deny", ns.setgroups_deny(x.pid)) end
-- Run a map helper (newuidmap, newgidmap): HELPER PID inside outside
-- count ...; raises with what it said when it fails.
local function map_helper(x, o, what)
  local argv = { o.helper, tostring(x.pid) }
  for _, r in ipairs(o.ranges) do
    for _, n in ipairs(r) do argv[#argv + 1] = tostring(n) end
  end
  local r, w = must("pipe", ns.pipe())
  local pid, pidfd = ns.clone({})
  if pid == 0 then
    r:close()
    ns.dup2(w, 2)
    ns.dup2(w, 1)
    local _, msg = ns.exec(o.helper, argv)
    io.stderr:write("exec ", o.helper, ": ", tostring(msg), "\n")
    ns._exit(127)
  end
  w:close()
  if not pid then r:close() errors.raise({ call = what, message = fmt("%s: %s", o.helper, tostring(pidfd)) }) end
  local said = {}
  repeat
    local s = r:read(4096)
    said[#said + 1] = s
  until not s or s == ""
  r:close()
  local st = ns.wait(pidfd)
  pidfd:close()
  if not st or st.status ~= 0 then
    local text = table.concat(said):gsub("%s+$", ""):gsub("\n", "; ")
    errors.raise({ call = what, message = fmt("%s %s: %s", o.helper:match("[^/]+$"), table.concat(argv, " ", 2),
      text ~= "" and text or ("exit " .. tostring(st and st.status))) })
  end
end

function RUN.gid_map(x, o)
  if o.helper then return map_helper(x, o, "gid_map") end
  must("gid_map", ns.gid_map(x.pid, o.ranges))
end
function RUN.uid_map(x, o)
  if o.helper then return map_helper(x, o, "uid_map") end
  must("uid_map", ns.uid_map(x.pid, o.ranges))
end

-- Take the container's ids inside its user namespace; a change of the
-- effective ids clears the parent-death signal, so set it again.
function RUN.become(x, o)
  must("setresgid", ns.setresgid(o.gid))
  must("setresuid", ns.setresuid(o.uid))
  if x.rearm then x.rearm() end
end

-- The entries of a colon-separated file (passwd, group) of the
-- container's root, each a list of its fields; none when it is missing or
-- not a regular file.
local function db_entries(file)
  local st = ns.stat(file)
  local text = st and st.type == "file" and ns.readfile(file) or ""
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local f = {}
    for v in (line .. ":"):gmatch("([^:]*):") do f[#f + 1] = v end
    out[#out + 1] = f
  end
  return out
end

-- The entry for a name or an id (field 3) in file, or nil.
local function db_entry(file, key)
  for _, f in ipairs(db_entries(file)) do
    if f[1] == key or (math.type(key) == "integer" and tonumber(f[3]) == key) then return f end
  end
end

-- g, or the gid of the group named g in the container's /etc/group.
local function gid_of(g)
  if type(g) ~= "string" then return g end
  local gr = db_entry("/etc/group", g)
  if not gr then errors.raise({ message = fmt("group %s: no such group in the container's /etc/group", g) }) end
  return math.tointeger(tonumber(gr[3]))
end

-- The gids of the groups that list name as a member.
local function member_of(name)
  local gids = {}
  for _, f in ipairs(db_entries("/etc/group")) do
    for m in (f[4] or ""):gmatch("[^,%s]+") do
      if m == name and tonumber(f[3]) then gids[#gids + 1] = math.tointeger(tonumber(f[3])) end
    end
  end
  return gids
end

-- The container's ids, as docker's --user: a name (or a uid that /etc/passwd
-- lists) takes its gid, home and groups from the container's /etc/passwd and
-- /etc/group; an unlisted uid gets gid 0. The permitted capabilities are
-- kept across the change for the caps op; the effective ids' change clears
-- the parent-death signal, so it is set again.
function RUN.setids(x, o)
  local uid, gid, groups = o.uid, o.gid, o.groups
  local pw = db_entry("/etc/passwd", uid)
  if type(uid) == "string" then
    if not pw then errors.raise({ message = fmt("user %s: no such user in the container's /etc/passwd", uid) }) end
    uid = math.tointeger(tonumber(pw[3]))
  end
  if gid == nil then gid = pw and math.tointeger(tonumber(pw[4])) or 0 end
  gid = gid_of(gid)
  if groups == nil then
    groups = pw and member_of(pw[1]) or {}
  else
    local list = {}
    for i, g in ipairs(groups) do list[i] = gid_of(g) end
    groups = list
  end
  if pw and pw[6] and pw[6] ~= "" then x.home = pw[6] end
  x.passwd_read = true
  must("prctl", ns.prctl("keepcaps", true))
  -- A user namespace whose setgroups is denied (unprivileged) allows no
  -- change of the groups, and none is needed to keep an empty list.
  local ok, msg, e = ns.setgroups(groups)
  if not ok and not (#groups == 0 and e == ns.E.EPERM) then must("setgroups", ok, msg, e) end
  -- An id the user namespace does not map is EINVAL: say so.
  local function set(call, f, id)
    local sok, smsg, se = f(id)
    if not sok and se == ns.E.EINVAL then
      smsg = smsg .. fmt(": %d is not mapped by the user namespace (an unprivileged user maps more ids with "
        .. "subordinate ranges in /etc/subuid and /etc/subgid)", id)
    end
    must(call, sok, smsg, se)
  end
  set("setresgid", ns.setresgid, gid)
  set("setresuid", ns.setresuid, uid)
  if x.rearm then x.rearm() end
end

-- HOME for an env that has none (env_defaults = false): the home of the
-- process's uid in the container's /etc/passwd (setids looked it up
-- already when it ran), else "/", as runc gives it.
function RUN.home(x)
  if not x.passwd_read then
    local pw = db_entry("/etc/passwd", (ns.getuid()))
    if pw and pw[6] and pw[6] ~= "" then x.home = pw[6] end
  end
  x.home = x.home or "/"
end

return { RUN = RUN }
