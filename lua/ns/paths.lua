--- ns.paths: paths inside a container, as its child sets it up before
-- pivot_root.
local ns = require "ns.core"
local security = require "ns.security"
local errors = require "ns.errors"

local M = {}

local fmt, concat = string.format, table.concat
local must = errors.must

-- Paths inside the container.
--
-- Every path a recipe names for inside the container is opened below the
-- container's root with openat2(RESOLVE_IN_ROOT): "..", absolute symlinks
-- and symlinks that point out of the image all resolve inside it, as they
-- will after pivot_root. What is mounted there then targets the opened fd
-- through /proc/self/fd (the host's /proc, still at /proc before
-- pivot_root), so the image's path is never walked a second time.

function M.fdpath(h) return "/proc/self/fd/" .. h:fileno() end

-- msg with the fd path of a target put back as the container's path p.
function M.in_msg(msg, p)
  return (tostring(msg):gsub("/proc/self/fd/%d+", (p:gsub("%%", "%%%%"))))
end

local ENOENT = ns.E.ENOENT

-- Make the directories of p that are missing, each inside x.rootfd (mkdir
-- -p, resolving as RESOLVE_IN_ROOT does): ".." stops at the root, and a
-- symlink on the way, dangling ones included, is followed inside the root,
-- so that what it points to is made there and never on the host.
function M.mkdir_in(x, p)
  local todo, cur, links = {}, {}, 0
  for comp in p:gmatch("[^/]+") do todo[#todo + 1] = comp end
  local i = 1
  while i <= #todo do
    local comp = todo[i]
    i = i + 1
    if comp == ".." then
      cur[#cur] = nil
    elseif comp ~= "." then
      local parent <close> = must("openat2", ns.openat2(x.rootfd, #cur > 0 and concat(cur, "/") or ".",
        { "path", "directory" }, "in_root"))
      local at = M.fdpath(parent) .. "/" .. comp
      local st = ns.stat(at, "nofollow")
      if not st then
        -- mkdir never follows its last component: it is made right here.
        local ok, msg, e = ns.mkdir(at, "0755")
        if not ok and e ~= ns.E.EEXIST then
          errors.raise({ call = "mkdir", errno = e, message = fmt("mkdir %s: %s", p, (tostring(msg):gsub("^.-: ", ""))) })
        end
        cur[#cur + 1] = comp
      elseif st.type == "link" then
        links = links + 1
        if links > 40 then
          errors.raise({ call = "mkdir", errno = ns.E.ELOOP, message = fmt("mkdir %s: Too many levels of symbolic links (ELOOP)", p) })
        end
        local target = must("readlink", ns.readlink(at))
        if target:sub(1, 1) == "/" then cur = {} end
        local rest = {}
        for c2 in target:gmatch("[^/]+") do rest[#rest + 1] = c2 end
        for j = i, #todo do rest[#rest + 1] = todo[j] end
        todo, i = rest, 1
      elseif st.type == "dir" then
        cur[#cur + 1] = comp
      else
        errors.raise({ call = "mkdir", errno = ns.E.ENOTDIR,
          message = fmt("mkdir %s: /%s is not a directory (ENOTDIR)", p, concat(cur, "/") .. (#cur > 0 and "/" or "") .. comp) })
      end
    end
  end
end

-- An O_PATH handle of p inside x.rootfd. With mkdir, missing directories
-- on the way are made first (mkdir_in); with optional, a missing p gives
-- nil. Other failures raise, naming p.
function M.inroot(x, p, mkdir, optional)
  local rel = p:gsub("^/+", "")
  if rel == "" then rel = "." end
  local h, msg, e = ns.openat2(x.rootfd, rel, { "path" }, "in_root")
  if h then return h end
  if e == ENOENT and mkdir then
    M.mkdir_in(x, p)
    h, msg, e = ns.openat2(x.rootfd, rel, { "path" }, "in_root")
    if h then return h end
  end
  if e == ENOENT and optional then return nil end
  errors.raise({ call = "openat2", errno = e, message = fmt("%s: %s", p, (tostring(msg):gsub("^openat2 [^:]*: ", ""))) })
end

-- The container's root, for M.where() and M.inroot(): its path (x.top, "" for
-- "/"), an O_PATH handle of it, and the mounts of our own below it.
function M.set_root(x, path)
  x.rootfd = must("open", ns.open(path, { "path", "directory" }))
  x.top = path == "/" and "" or path:gsub("/+$", "")
  x.ours, x.keep = {}, {}
end

-- The default masked and read-only paths: fixed names below the proc and
-- sysfs mounts the child makes itself, with no symlink of the image's (nor
-- a magic link such as /proc/self/root) on the way.
local KNOWN = { ["/proc/sys/net"] = true }
for _, p in ipairs(security.masked_paths) do KNOWN[p] = true end
for _, p in ipairs(security.readonly_paths) do KNOWN[p] = true end

-- The path by which the child reaches p inside the container, and the
-- handle that keeps that path valid (nil for a plain path). A plain path
-- is used where the image cannot have put a symlink on the way: p is one
-- entry of the root that is not a symlink, or one of the KNOWN paths below
-- a mount the child made itself on such an entry (x.ours: proc, sys).
-- Anything else, every other path a recipe gives included, is opened with
-- inroot, and its path is the fd's. With optional, a p that is not there
-- gives nil (or, for a KNOWN path, one the caller's call finds missing).
function M.where(x, p, mkdir, optional)
  local top, rest = p:match("^/+([^/]+)(.*)$")
  if top and top ~= "." and top ~= ".." then
    if rest:match("^/*$") then
      local at = x.top .. "/" .. top
      local st = ns.stat(at, "nofollow")
      if st and st.type ~= "link" then return at end
    elseif KNOWN[p] and x.ours[top] then
      return x.ours[top] .. rest
    end
  end
  local h = M.inroot(x, p, mkdir, optional)
  if not h then return nil end
  return M.fdpath(h), h
end

-- Whether flags (a list of mount flag names) make a bind mount.
local function is_bind(flags)
  for _, f in ipairs(flags or {}) do if f == "bind" or f == "rbind" then return true end end
  return false
end

--- touch_in(x, p): an empty file at p inside the root when nothing is
-- there, its directories made as mkdir_in makes them; the file is made
-- in its directory's handle, never through a symlink (excl, nofollow).
function M.touch_in(x, p)
  local rel = p:gsub("^/+", "")
  if ns.openat2(x.rootfd, rel, { "path" }, "in_root") then return end
  local dir, name = rel:match("^(.-)/*([^/]+)$")
  if not name or name == ".." or name == "." then return end
  if dir ~= "" then M.mkdir_in(x, "/" .. dir) end
  local parent <close> = must("openat2", ns.openat2(x.rootfd, dir ~= "" and dir or ".", { "path", "directory" }, "in_root"))
  local f, msg, e = ns.open(M.fdpath(parent) .. "/" .. name, { "wronly", "creat", "excl", "nofollow" }, "0644")
  if f then f:close() return end
  if e ~= ns.E.EEXIST then
    errors.raise({ call = "open", errno = e, message = fmt("create %s: %s", p, (tostring(msg):gsub("^.-: ", ""))) })
  end
end

--- copy_tree(from, to, what): the files below the directory from copied
-- into the directory to (files, directories, symlinks, fifos; owners,
-- modes kept; device nodes skipped), and to's own owner and mode made
-- from's. Nothing is followed: from is what the image had (a mount's
-- copy_up, runc's tmpcopyup). what names the target in errors.
function M.copy_tree(from, to, what)
  local function one(src, dst)
    -- (from itself may be a /proc/self/fd link to the directory.)
    local st = must("stat", ns.stat(src, src ~= from and "nofollow" or nil))
    if st.type == "dir" then
      if dst ~= to then must("mkdir", ns.mkdir(dst, "0700")) end
      for _, name in ipairs(must("listdir", ns.listdir(src))) do one(src .. "/" .. name, dst .. "/" .. name) end
    elseif st.type == "file" then
      local data = must("read " .. what, ns.readfile(src))
      must("write " .. what, ns.writefile(dst, data, { create = true, mode = "0600" }))
    elseif st.type == "link" then
      must("symlink", ns.symlink(must("readlink", ns.readlink(src)), dst))
    elseif st.type == "fifo" then
      must("mknod", ns.mknod(dst, "fifo", st.mode & 0xfff, 0, 0))
    else
      return
    end
    must("chown", ns.chown(dst, st.uid, st.gid))
    if st.type ~= "link" then must("chmod", ns.chmod(dst, st.mode & 0xfff)) end
  end
  one(from, to)
end

-- msg with at, the path by which the child reached p (a plain path under
-- the merged root, or an fd path), put back as p: messages name paths as
-- the container sees them.
local function as_inside(msg, at, p)
  local s = tostring(msg)
  local i, j = s:find(at, 1, true)
  if i then s = s:sub(1, i - 1) .. p .. s:sub(j + 1) end
  return M.in_msg(s, p)
end

-- mount(source, p inside the root, ...) -> the path it was mounted on
-- (see where) and its handle. Raises naming p, or with soft returns the
-- core's triple instead. mkdir: true makes a missing p (and the
-- directories on the way); false, as a recipe's mount has it, raises
-- with the hint to set it; nil, for luactr's own mounts, raises plainly.
-- The target p of a mount of source (a bind when bind), made when mkdir
-- asks: -> the path to mount on and its handle, or with soft nil and the
-- core's triple; else raises.
local function target(x, p, source, bind, soft, mkdir)
  if mkdir and source and bind then
    -- A bind of a file needs a file to go on: an empty one is made
    -- (its directories first), as runc does.
    local st = ns.stat(source)
    if st and st.type ~= "dir" then M.touch_in(x, p) end
  end
  local at, h = M.where(x, p, mkdir, true)
  if not at then
    local msg = fmt("%s: No such file or directory (ENOENT) in the container", p)
    if mkdir == false then msg = msg .. "; add mkdir = true to the mount to make it" end
    if soft then return nil, msg, ENOENT end
    errors.raise({ call = "openat2", errno = ENOENT, message = msg })
  end
  return at, h
end

function M.mount_in(x, p, source, fstype, flags, data, soft, mkdir)
  local at, h, e0 = target(x, p, source, is_bind(flags), soft, mkdir)
  if not at then return nil, h, e0 end
  local ok, msg, e = ns.mount(source, at, fstype, flags, data)
  if soft and not ok then
    if h then h:close() end
    return ok, msg, e
  end
  if not ok then
    if h then h:close() end
    msg = as_inside(msg, at, p)
    if e == ENOENT and source and source:sub(1, 1) == "/" and not ns.stat(source) then
      msg = msg .. fmt("; the source %s is not there on the host", source)
    end
    errors.raise({ call = "mount", errno = e, message = msg })
  end
  return at, h
end

--- move_in(x, p, mnt, source, mkdir) -> the path and handle as mount_in:
-- the detached mount mnt (open_tree's) attached at p inside the root
-- (move_mount(2)), p made as mount_in makes a bind's target.
function M.move_in(x, p, mnt, source, mkdir)
  local at, h = target(x, p, source, true, false, mkdir)
  local ok, msg, e = ns.move_mount(mnt, at)
  if not ok then
    if h then h:close() end
    errors.raise({ call = "move_mount", errno = e, message = as_inside(msg, at, p) })
  end
  return at, h
end

-- Mount a kernel filesystem (proc, sysfs, /dev's tmpfs) on /name and note
-- where, so that the KNOWN paths below it need no resolving (where).
-- Returns the path of the new mount's root.
function M.mount_ours(x, name, source, fstype, flags, data)
  local at, h = M.mount_in(x, "/" .. name, source, fstype, flags, data)
  if h then
    -- Reached through a symlink of the image: reopen to get the new
    -- mount (the handle is the directory under it), and keep that fd.
    h:close()
    h = M.inroot(x, "/" .. name)
    x.keep[#x.keep + 1] = h
    at = M.fdpath(h)
  end
  x.ours[name] = at
  return at
end


return M
