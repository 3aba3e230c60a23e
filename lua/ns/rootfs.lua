--- ns.rootfs: root filesystems for containers.
-- The busybox image (the embedded default, made from Debian's
-- busybox-static on first use), the directories of a container's overlay
-- (a private upper layer over read-only image layers), a careful
-- recursive remove for discarding that upper layer, and the collection
-- of kept upper layers that no container uses (gc_uppers).
-- Pure Lua over the ns.* file bindings; the overlay itself is mounted by
-- the container's child, in its own mount namespace.
-- See overlayfs (Documentation/filesystems/overlayfs.rst), rename(2),
-- mkdtemp(3), flock(2), proc(5) (mountinfo).
local ns = require "ns"

local error, ipairs, pairs, type, tostring = error, ipairs, pairs, type, tostring
local concat, sort = table.concat, table.sort

local M = {}

-- Lua has no octal literals: oct"755" is 0755.
local function oct(s) return tonumber(s, 8) end

-- The busybox image lives at <root>/images/busybox/rootfs.
local BUSYBOX = "/bin/busybox"
local HINT = "apt-get install busybox-static"

-- Empty directories every image has, with their modes.
local DIRS = {
  { "bin", oct"755" }, { "dev", oct"755" }, { "etc", oct"755" }, { "home", oct"755" },
  { "proc", oct"555" }, { "root", oct"700" }, { "run", oct"755" }, { "sbin", oct"755" },
  { "sys", oct"555" }, { "tmp", oct"1777" }, { "usr", oct"755" }, { "usr/bin", oct"755" },
  { "usr/sbin", oct"755" }, { "var", oct"755" },
}

local ETC = {
  { "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" },
  { "etc/group", "root:x:0:\nnogroup:x:65534:\n" },
  { "etc/hostname", "luactr\n" },
  { "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" },
  { "etc/resolv.conf", "" },
}

-- Raise msg as it is: it names the function and the path, no position.
local function fail(msg) error(msg, 0) end

-- v, or raise "<what>: <msg>" for a failed primitive's nil, msg.
local function check(what, v, msg)
  if v == nil then fail(what .. ": " .. tostring(msg)) end
  return v
end

-- Reject keys of opts not in valid (a set), naming them and the valid ones.
local function check_opts(fname, opts, valid)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    fail(("%s: options must be a table, got %s"):format(fname, type(opts)))
  end
  for k in pairs(opts) do
    if not valid[k] then
      local names = {}
      for n in pairs(valid) do names[#names + 1] = n end
      sort(names)
      fail(("%s: unknown option '%s' (valid: %s)"):format(fname, tostring(k), concat(names, ", ")))
    end
  end
  return opts
end

--- The image root: $LUACTR_ROOT, or /var/lib/luactr.
function M.root() return require("ns.util").image_root() end

--- The state root (running containers): ns.util.state_root(), the one
-- rule for it ($LUACTR_STATE, else /run/luactr for root, else a per-user
-- runtime directory).
function M.state() return require("ns.util").state_root() end

--- A new directory /tmp/luactr-<prefix>-XXXXXX; returns its path.
function M.tempdir(prefix)
  return check("tempdir", ns.mkdtemp("/tmp/luactr-" .. (prefix or "tmp") .. "-XXXXXX"))
end

-- Shell-quote s for io.popen.
local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- The applets' paths relative to /, as `busybox --list-full` prints them
-- (usr/bin/env, bin/sh, ...), each checked to stay inside the image.
local function applets(busybox)
  local p = io.popen(quote(busybox) .. " --list-full 2>/dev/null", "r")
  if not p then fail("busybox rootfs: cannot run " .. busybox .. " --list-full") end
  local out = p:read("a")
  local ok, how, code = p:close()
  if not ok then
    fail(("busybox rootfs: %s --list-full failed (%s %s)"):format(busybox, tostring(how), tostring(code)))
  end
  local list, seen = {}, {}
  for line in out:gmatch("[^\n]+") do
    if line:sub(1, 1) == "/" or line:find("%.%./") or line:find("/%.%.$") or line == ".."
        or line:find("//") or line:find("[%c%s]") then
      fail("busybox rootfs: unexpected applet path from --list-full: " .. line)
    end
    if not seen[line] then
      seen[line] = true
      list[#list + 1] = line
    end
  end
  if #list == 0 then fail("busybox rootfs: " .. busybox .. " --list-full listed no applets") end
  return list
end

--- build_busybox(dir[, busybox]): fill the empty directory dir with the
-- busybox tree (the binary busybox, default /bin/busybox, its applets as
-- symlinks, the directories and /etc files every image has).
function M.build_busybox(dir, busybox)
  busybox = busybox or BUSYBOX
  local bst = ns.stat(busybox)
  if not bst or bst.type ~= "file" then
    fail(("busybox rootfs: %s not found: %s"):format(busybox, HINT))
  end
  for _, d in ipairs(DIRS) do
    local path = dir .. "/" .. d[1]
    check("busybox rootfs", ns.mkdir(path, d[2]))
    -- mkdir's mode passes through the umask; the image's must not.
    check("busybox rootfs", ns.chmod(path, d[2]))
  end
  local bin = dir .. "/bin/busybox"
  check("busybox rootfs", ns.writefile(bin, check("busybox rootfs", ns.readfile(busybox)), { create = true, mode = oct"755" }))
  check("busybox rootfs", ns.chmod(bin, oct"755"))
  for _, rel in ipairs(applets(busybox)) do
    -- A link named busybox would point at itself (bin/busybox) or shadow
    -- the binary; the binary is already in place.
    if not rel:match("^busybox$") and not rel:match("/busybox$") then
      local parent = rel:match("^(.*)/[^/]+$")
      if parent then check("busybox rootfs", ns.mkdir(dir .. "/" .. parent, oct"755", true)) end
      check("busybox rootfs", ns.symlink("/bin/busybox", dir .. "/" .. rel))
    end
  end
  for _, f in ipairs(ETC) do
    local path = dir .. "/" .. f[1]
    check("busybox rootfs", ns.writefile(path, f[2], { create = true, mode = oct"644" }))
    check("busybox rootfs", ns.chmod(path, oct"644"))
  end
  -- mkdtemp made dir 0700; it becomes the container's /.
  check("busybox rootfs", ns.chmod(dir, oct"755"))
end

--- The busybox image's root directory, <root>/images/busybox/rootfs: a
-- link to the one layer of the image busybox:latest in the image store,
-- which ns.image.busybox makes on first use from Debian's busybox-static.
-- opts: root (default M.root()), busybox (the binary to use, default
-- /bin/busybox). Once made, a call is one stat.
function M.busybox(opts)
  opts = check_opts("busybox rootfs", opts, { root = true, busybox = true })
  local root = opts.root or M.root()
  local final = require("ns.util").busybox_image(root)
  local lst = ns.stat(final, "nofollow")
  if lst and lst.type == "link" then
    local st = ns.stat(final)
    if st and st.type == "dir" then return final end
  end
  -- Not made, its layer removed (luactr image rm busybox), or a plain
  -- directory that an older luactr made: (re)made in the store.
  require("ns.image.busybox").make(require("ns.image.store").open(root), opts.busybox)
  return final
end

-- Overlay option values cannot hold these unescaped.
local function check_overlay_path(what, p)
  if type(p) ~= "string" or p:sub(1, 1) ~= "/" then
    fail(("overlay_dirs: %s must be an absolute path, got %s"):format(what, tostring(p)))
  end
  if p:find("[,:\\]") then
    fail(("overlay_dirs: %s %s holds ',', ':' or '\\', which overlay options cannot take"):format(what, p))
  end
end

--- Make a container's private overlay directories (without mounting).
-- lower: an image layer's directory, or a list of them, top first.
-- state_dir: where the container's directory goes (default M.state()).
-- id: the directory's name (it must not exist); default a fresh
-- "ovl-XXXXXX". Returns { lower, layers, upper, work, merged, dir, options }
-- where options is what mount(2) of type "overlay" takes and dir holds the
-- rest (remove it with M.remove_tree(t.dir) when the container ends).
function M.overlay_dirs(lower, state_dir, id)
  local layers = type(lower) == "table" and lower or { lower }
  if #layers == 0 then fail("overlay_dirs: no lower layer given") end
  for i, l in ipairs(layers) do
    check_overlay_path("lower layer " .. i, l)
    local st = ns.stat(l)
    if not st or st.type ~= "dir" then
      fail(("overlay_dirs: lower layer %s is not a directory"):format(l))
    end
  end
  state_dir = state_dir or M.state()
  check_overlay_path("state_dir", state_dir)
  check("overlay_dirs", ns.mkdir(state_dir, oct"755", true))
  local dir
  if id ~= nil then
    if type(id) ~= "string" or id == "" or id == "." or id == ".." or id:find("[/,:\\]") then
      fail("overlay_dirs: bad id " .. tostring(id))
    end
    if require("ns.util").STATE_DIRS[id] then
      fail(("overlay_dirs: %s is a directory of the state root's own (ns.state): name the container otherwise"):format(id))
    end
    dir = state_dir .. "/" .. id
    check("overlay_dirs", ns.mkdir(dir, oct"711"))
  else
    dir = check("overlay_dirs", ns.mkdtemp(state_dir .. "/ovl-XXXXXX"))
  end
  local t = {
    lower = concat(layers, ":"), layers = layers, dir = dir,
    upper = dir .. "/upper", work = dir .. "/work", merged = dir .. "/merged",
  }
  -- The upper dir's mode and owner are those of the container's /.
  local ok, err = pcall(function()
    check("overlay_dirs", ns.chmod(dir, oct"711"))
    check("overlay_dirs", ns.mkdir(t.upper, oct"755"))
    check("overlay_dirs", ns.chmod(t.upper, oct"755"))
    check("overlay_dirs", ns.mkdir(t.work, oct"700"))
    check("overlay_dirs", ns.mkdir(t.merged, oct"755"))
  end)
  if not ok then
    pcall(M.remove_tree, dir)
    fail(err)
  end
  t.options = ("lowerdir=%s,upperdir=%s,workdir=%s"):format(t.lower, t.upper, t.work)
  return t
end

--- upper_dirs(lower, dir) -> as overlay_dirs, for the upper layer kept in
-- dir (absolute; made when missing, with its parents): dir/upper is made
-- on the first start and reused by later ones (a stopped container
-- started again finds its files); dir/work and dir/merged are made
-- afresh. Remove only work and merged when the container ends.
function M.upper_dirs(lower, dir)
  local layers = type(lower) == "table" and lower or { lower }
  if #layers == 0 then fail("upper_dirs: no lower layer given") end
  for i, l in ipairs(layers) do check_overlay_path("lower layer " .. i, l) end
  check_overlay_path("upper_dir", dir)
  check("upper_dirs", ns.mkdir(dir, oct"711", true))
  local t = {
    lower = concat(layers, ":"), layers = layers, dir = dir,
    upper = dir .. "/upper", work = dir .. "/work", merged = dir .. "/merged",
  }
  local st = ns.stat(t.upper, "nofollow")
  if st and st.type ~= "dir" then fail(("upper_dirs: %s is not a directory"):format(t.upper)) end
  if not st then
    check("upper_dirs", ns.mkdir(t.upper, oct"755"))
    check("upper_dirs", ns.chmod(t.upper, oct"755"))
  end
  for _, d in ipairs({ t.work, t.merged }) do
    if ns.stat(d, "nofollow") then M.remove_tree(d) end
  end
  check("upper_dirs", ns.mkdir(t.work, oct"700"))
  check("upper_dirs", ns.mkdir(t.merged, oct"755"))
  t.options = ("lowerdir=%s,upperdir=%s,workdir=%s"):format(t.lower, t.upper, t.work)
  return t
end

-- "\040" and the like in /proc/self/mountinfo fields.
local function unescape(s)
  return (s:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end))
end

-- The set of mount points of the caller's mount namespace.
local function mount_points()
  local set = {}
  local info = ns.readfile("/proc/self/mountinfo")
  if not info then return set end
  for line in info:gmatch("[^\n]+") do
    local mp = line:match("^%d+ %d+ %S+ %S+ (%S+)")
    if mp then set[unescape(mp)] = true end
  end
  return set
end

-- path made absolute with every symlink resolved, as realpath(3) does; the
-- last component need not exist.
local function realpath(path)
  if path:sub(1, 1) ~= "/" then
    path = check("remove_tree", ns.getcwd()) .. "/" .. path
  end
  local todo = {}
  for c in path:gmatch("[^/]+") do todo[#todo + 1] = c end
  local done, links = {}, 0
  local i = 1
  while i <= #todo do
    local c = todo[i]
    i = i + 1
    if c == ".." then
      done[#done] = nil
    elseif c ~= "." then
      local p = "/" .. concat(done, "/", 1, #done) .. (#done > 0 and "/" or "") .. c
      local st = ns.stat(p, "nofollow")
      if st and st.type == "link" then
        links = links + 1
        if links > 40 then fail("remove_tree " .. path .. ": too many levels of symbolic links") end
        local target = check("remove_tree", ns.readlink(p))
        local rest = {}
        for t in target:gmatch("[^/]+") do rest[#rest + 1] = t end
        for j = i, #todo do rest[#rest + 1] = todo[j] end
        todo, i = rest, 1
        if target:sub(1, 1) == "/" then done = {} end
      else
        done[#done + 1] = c
      end
    end
  end
  return "/" .. concat(done, "/")
end

local EACCES = 13

-- How remove_tree opens a directory: to list it, and never through a
-- symlink; and as a bare handle, which needs no permission on it.
local DIR = { "rdonly", "directory", "nofollow" }
local DIR_PATH = { "path", "directory", "nofollow" }

-- Longer paths are cut in messages, from the left, so an error stays a
-- line (a tree walked by handle can be deeper than PATH_MAX).
local function shown(p)
  return #p > 240 and "..." .. p:sub(-240) or p
end

-- A primitive's failure message "<call> <name>: <reason>", which names only
-- what it was given relative to a handle, renamed to the whole path that
-- the handle's directory dir and name make ("." is dir itself).
local function named(dir, name, msg)
  local call, reason = msg:match("^(%S+) .*: ([^:]*)$")
  if not call then return msg end
  return ("%s %s: %s"):format(call, shown(name == "." and dir or dir .. "/" .. name), reason)
end

-- Give the directory behind handle h rwx for its owner. chmod(2) has no
-- form for a handle that fchmod refuses (O_PATH), but /proc/self/fd/N
-- names exactly the directory h holds, where its path may by now name
-- another.
local function grant(h)
  return ns.chmod("/proc/self/fd/" .. h:fileno(), oct"700")
end

-- fn(dirfd, ...), retried once after granting dirfd's directory rwx if it
-- failed with EACCES: without CAP_DAC_OVERRIDE (a rootless container's
-- upper layer), a directory of mode 000, as overlayfs makes work/work, can
-- be neither listed nor emptied until its owner chmods it.
local function with_access(fn, dirfd, ...)
  local v, msg, e = fn(dirfd, ...)
  if v == nil and e == EACCES and grant(dirfd) then
    v, msg, e = fn(dirfd, ...)
  end
  return v, msg
end

-- A handle of directory name under dirfd (of path name, without one),
-- granted rwx first if its mode keeps it from being opened.
local function opendir(dirfd, name)
  local function open(flags)
    if dirfd then return ns.open(dirfd, name, flags) end
    return ns.open(name, flags)
  end
  local h, msg, e = open(DIR)
  if h == nil and e == EACCES then
    local bare <close> = open(DIR_PATH)
    if bare and grant(bare) then h, msg = open(DIR) end
  end
  return h, msg
end

--- Remove the tree at path, as rm -r would, but carefully: entries are
-- lstat'ed and symlinks removed, never followed; the walk never enters
-- another filesystem or a mount point (it raises an error naming it, having
-- removed nothing under it). A missing path is not an error. Returns true.
-- The walk goes by directory handle, each name relative to its parent's
-- (the *at calls), so a symlink put in place of a directory on the way is
-- never followed; a tree that others still modify (a running container's
-- upper dir) is still not safe to remove: stop the container first.
function M.remove_tree(path)
  if type(path) ~= "string" or path == "" then
    fail("remove_tree: path must be a non-empty string")
  end
  local top = ns.stat(path, "nofollow")
  if not top then return true end
  local what = "remove_tree " .. path
  if top.type ~= "dir" then
    check(what, ns.unlink(path))
    return true
  end
  local real = realpath(path)
  if real == "/" then fail(what .. ": refusing to remove /") end
  local mounts = mount_points()
  if mounts[real] then
    fail(("%s: %s is a mount point; not removing through it"):format(what, real))
  end
  local dev = top.dev
  local function refuse(p)
    fail(("%s: %s is a mount point; not removing through it"):format(what, shown(p)))
  end
  -- A handle of the directory name (lstat st) under the handle dirfd of
  -- directory p. It must be on its parent's filesystem, which is the top's,
  -- dev: checked by name first (lstat sees a mount's root), then on the
  -- handle opened, which is what the walk goes on with.
  local function enter(dirfd, p, name, st)
    local child = p .. "/" .. name
    if st.dev ~= dev then refuse(child) end
    local h, msg = opendir(dirfd, name)
    check(what, h, msg and named(p, name, msg))
    local hst, hmsg = with_access(ns.stat, h, ".")
    if not hst or hst.dev ~= dev then h:close() end
    check(what, hst, hmsg and named(child, ".", hmsg))
    if hst.dev ~= dev then refuse(child) end
    return h, child
  end
  -- The entries of directory p (handle dirfd), each with its lstat.
  local function entries(dirfd, p)
    local names, msg = with_access(ns.listdir, dirfd, ".")
    check(what, names, msg and named(p, ".", msg))
    local list = {}
    for i, name in ipairs(names) do
      local st, smsg = with_access(ns.stat, dirfd, name, "nofollow")
      list[i] = { name, check(what, st, smsg and named(p, name, smsg)) }
    end
    return list
  end
  -- Refuse before removing anything: find every mount below first. rp is
  -- p with its symlinks resolved, as mountinfo names mount points (a bind
  -- mount of the same filesystem has the same st_dev).
  local function scan(dirfd, p, rp)
    for _, e in ipairs(entries(dirfd, p)) do
      local name, st = e[1], e[2]
      if st.type == "dir" then
        if mounts[rp .. "/" .. name] then refuse(p .. "/" .. name) end
        local h <close>, child = enter(dirfd, p, name, st)
        scan(h, child, rp .. "/" .. name)
      end
    end
  end
  -- Then empty each directory, deepest first.
  local function empty(dirfd, p)
    for _, e in ipairs(entries(dirfd, p)) do
      local name, st = e[1], e[2]
      local v, msg
      if st.type == "dir" then
        do
          local h <close>, child = enter(dirfd, p, name, st)
          empty(h, child)
        end
        v, msg = with_access(ns.rmdir, dirfd, name)
      else
        v, msg = with_access(ns.unlink, dirfd, name)
      end
      check(what, v, msg and named(p, name, msg))
    end
  end
  local h, msg = opendir(nil, path)
  local topfd <close> = check(what, h, msg)
  local st, smsg = with_access(ns.stat, topfd, ".")
  if check(what, st, smsg).dev ~= dev then refuse(path) end
  scan(topfd, path, real)
  empty(topfd, path)
  check(what, ns.rmdir(path))
  return true
end

-- Kept upper layers ---------------------------------------------------------
--
-- A container with keep_upper leaves its upper layer at
-- <state>/<name>/upper, and a later one may list it among its layers.
-- A start holds a shared flock on <state>/<name> for each such layer it
-- uses (its own, and the ones among its layers) until its container ends;
-- gc_uppers removes only what none holds and no mount table names. Both
-- take the state dir's own flock (starts shared, gc exclusively), so that
-- a start is never between finding a layer and holding it while gc judges.

local FLOCK_DIR = { "rdonly", "directory" }

--- hold(state_dir, dirs [, make]) -> fds, made: fds hold a shared flock
-- on each of dirs that exists (close them to let go); make(), when given,
-- runs first, under the state dir's lock, and made is what it returned
-- (overlay_dirs: a container's directory made and held in one step).
-- Raises when the state dir cannot be made or locked.
function M.hold(state_dir, dirs, make)
  local what = "hold " .. state_dir
  check(what, ns.mkdir(state_dir, oct"755", true))
  local top <close> = check(what, ns.open(state_dir, FLOCK_DIR))
  check(what, ns.flock(top, "sh"))
  local made = make and make()
  local fds = {}
  for _, d in ipairs(dirs) do
    local fd = ns.open(d, FLOCK_DIR)
    if fd and ns.flock(fd, "sh") then fds[#fds + 1] = fd elseif fd then fd:close() end
  end
  return fds, made
end

-- The paths that the overlays of every mount namespace name as layers
-- (lowerdir, upperdir), as a set, and their files as a set of "dev:ino".
-- Each namespace's table is read once, from a process in it; a container
-- whose luactr has gone is seen here too.
local function overlay_layers()
  local paths, files, seen = {}, {}, {}
  for _, pid in ipairs(ns.listdir("/proc") or {}) do
    local nst = pid:match("^%d+$") and ns.stat("/proc/" .. pid .. "/ns/mnt")
    local key = nst and nst.dev .. ":" .. nst.ino
    local text = key and not seen[key] and ns.readfile("/proc/" .. pid .. "/mountinfo")
    if text then
      seen[key] = true
      for opts in text:gmatch(" %- overlay %S+ (%S+)") do
        for k, v in ("," .. opts):gmatch(",([%w+]+)=([^,]*)") do
          if k == "lowerdir" or k == "upperdir" or k == "lowerdir+" or k == "datadir+" then
            for p in unescape(v):gmatch("[^:]+") do
              paths[p] = true
              local st = ns.stat(p)
              if st then files[st.dev .. ":" .. st.ino] = true end
            end
          end
        end
      end
    end
  end
  return paths, files
end

--- overlay_paths() -> the paths that the overlays of every mount
-- namespace name as layers, as a set, and their directories as a set of
-- "dev:ino" (a layer named through a symlink is found by the second).
function M.overlay_paths() return overlay_layers() end

--- gc_uppers([state_dir]) -> sorted list of the kept upper layers removed:
-- each <state_dir>/<name>/upper (default state dir M.state()) that no
-- start holds and no overlay of any mount namespace has as a layer, with
-- its directory <name> (and the work and merged dirs a killed luactr
-- left there). ns.state's own directories (containers/, names/) are
-- never taken for one. Raises when a removal fails.
function M.gc_uppers(state_dir)
  state_dir = state_dir or M.state()
  local what = "gc_uppers " .. state_dir
  local top <close>, msg, e = ns.open(state_dir, FLOCK_DIR)
  if not top and e == ns.E.ENOENT then return {} end
  check(what, top, msg)
  check(what, ns.flock(top, "ex"))
  local paths, files = overlay_layers()
  local names = check(what, ns.listdir(state_dir))
  sort(names)
  local removed = {}
  for _, name in ipairs(names) do
    local dir = state_dir .. "/" .. name
    local upper = dir .. "/upper"
    -- containers/ and names/ are ns.state's, whatever they hold.
    local dst = name:match("^[%w][%w_.%-]*$") and not require("ns.util").STATE_DIRS[name]
      and ns.stat(dir, "nofollow")
    local st = dst and dst.type == "dir" and ns.stat(upper, "nofollow")
    if st and st.type == "dir" and not files[st.dev .. ":" .. st.ino] then
      local used = false
      for p in pairs(paths) do
        if p == upper or p:sub(1, #dir + 1) == dir .. "/" then used = true break end
      end
      local d <close> = not used and ns.open(dir, FLOCK_DIR) or nil
      if d and ns.flock(d, { "ex", "nb" }) then
        -- a rootless container's upper may hold subordinate ids' dirs
        require("ns.util.userns").remove_tree(dir)
        removed[#removed + 1] = upper
      end
    end
  end
  return removed
end

return M
