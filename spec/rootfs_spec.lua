-- rootfs_spec.lua: ns.rootfs - the busybox image, overlay directories and
-- remove_tree. Every image is built under a temp root; mounts happen in
-- children with their own mount namespace.
local H = require "support.helper"
local ns = H.ns

local function oct(s) return tonumber(s, 8) end

local defer = H.defer

-- A temp dir removed when the `it` ends.
local function tempdir()
  local d = H.tmpdir("rootfs")
  defer(function() H.rmrf(d) end)
  return d
end

local function lstat(p) return ns.stat(p, "nofollow") end

-- Every path under dir (relative), depth first.
local function walk(dir, rel, out)
  out = out or {}
  for _, name in ipairs(assert(ns.listdir(dir .. (rel and "/" .. rel or "")))) do
    local r = rel and rel .. "/" .. name or name
    out[#out + 1] = r
    if lstat(dir .. "/" .. r).type == "dir" then walk(dir, r, out) end
  end
  return out
end

-- The error a function raises, as a string.
local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("ns.rootfs", function()
  H.guard()
  local R = require "ns.rootfs"

  it("does not touch the global table", function()
    assert.is_table(H.assert_no_new_globals("ns.rootfs"))
  end)

  describe("root() and state()", function()
    local code = [[package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = "build/?.so;" .. package.cpath
      local R = require "ns.rootfs"; io.write(R.root(), " ", R.state())]]

    it("default to /var/lib/luactr and /run/luactr", function()
      local out, status = H.sh("env -u LUACTR_ROOT -u LUACTR_STATE lua5.4 -e '" .. code .. "'")
      assert.are.equal(0, status)
      assert.are.equal("/var/lib/luactr /run/luactr", out)
    end)

    it("follow LUACTR_ROOT and LUACTR_STATE", function()
      local out, status = H.sh("LUACTR_ROOT=/x/r LUACTR_STATE=/x/s lua5.4 -e '" .. code .. "'")
      assert.are.equal(0, status)
      assert.are.equal("/x/r /x/s", out)
    end)
  end)

  describe("tempdir()", function()
    it("makes /tmp/luactr-<prefix>-XXXXXX", function()
      local d = R.tempdir("spec")
      defer(function() ns.rmdir(d) end)
      assert.matches("^/tmp/luactr%-spec%-%w%w%w%w%w%w$", d)
      assert.are.equal("dir", lstat(d).type)
    end)
  end)

  describe("busybox()", function()
    it("lays out the image under <root>/images/busybox/rootfs, a link to the store's layer", function()
      local root = tempdir()
      local r = R.busybox { root = root }
      assert.are.equal(root .. "/images/busybox/rootfs", r)
      assert.are.equal("link", lstat(r).type)
      assert.matches("^%.%./%.%./store/layers/%x+$", ns.readlink(r))
      local st = ns.stat(r)
      assert.are.equal("dir", st.type)
      assert.are.equal(oct"755", st.mode)
      local bin = lstat(r .. "/bin/busybox")
      assert.are.equal("file", bin.type)
      assert.are.equal(oct"755", bin.mode)
      assert.are.equal(lstat("/bin/busybox").size, bin.size)
      local modes = { proc = "555", sys = "555", dev = "755", tmp = "1777", root = "700",
                      etc = "755", var = "755", run = "755", home = "755" }
      for d, m in pairs(modes) do
        local s = lstat(r .. "/" .. d)
        assert.are.equal("dir", s and s.type, d)
        assert.are.equal(oct(m), s.mode, d)
      end
      for _, d in ipairs { "proc", "sys", "dev", "tmp", "root", "var", "run", "home" } do
        assert.are.same({}, ns.listdir(r .. "/" .. d), d .. " is empty")
      end
      -- Nothing else is left beside the image.
      assert.are.same({ "rootfs" }, ns.listdir(root .. "/images/busybox"))
    end)

    it("links every applet to /bin/busybox, and none named busybox", function()
      local root = tempdir()
      local r = R.busybox { root = root }
      for _, a in ipairs { "bin/sh", "bin/ls", "bin/ps", "bin/true", "usr/bin/env" } do
        local st = lstat(r .. "/" .. a)
        assert.are.equal("link", st and st.type, a)
        assert.are.equal("/bin/busybox", ns.readlink(r .. "/" .. a), a)
      end
      local links = 0
      for _, p in ipairs(walk(r)) do
        local st = lstat(r .. "/" .. p)
        if st.type == "link" then
          links = links + 1
          assert.are.equal("/bin/busybox", ns.readlink(r .. "/" .. p), p)
          assert.are_not.equal("busybox", p:match("[^/]+$"), "self-link " .. p)
        end
      end
      -- One link per applet that busybox lists, less itself.
      local listed = select(2, H.sh("/bin/busybox --list-full"):gsub("\n", ""))
      assert.are.equal(listed - 1, links)
    end)

    it("writes /etc/passwd, group, hostname, hosts and resolv.conf", function()
      local r = R.busybox { root = tempdir() }
      local passwd = assert(ns.readfile(r .. "/etc/passwd"))
      assert.matches("^root:x:0:0:[^\n]*:/root:/bin/sh\n", passwd)
      assert.matches("\nnobody:x:65534:65534:", passwd)
      assert.matches("^root:x:0:", assert(ns.readfile(r .. "/etc/group")))
      assert.are.equal("luactr\n", ns.readfile(r .. "/etc/hostname"))
      assert.matches("127%.0%.0%.1%s+localhost", assert(ns.readfile(r .. "/etc/hosts")))
      assert.are.equal("", ns.readfile(r .. "/etc/resolv.conf"))
      for _, f in ipairs { "passwd", "group", "hostname", "hosts", "resolv.conf" } do
        assert.are.equal(oct"644", lstat(r .. "/etc/" .. f).mode, f)
      end
    end)

    it("is idempotent: a second call keeps the same image", function()
      local root = tempdir()
      local r = R.busybox { root = root }
      local ino, bin = lstat(r).ino, lstat(r .. "/bin/busybox").ino
      assert.are.equal(r, R.busybox { root = root })
      -- Once made, the image no longer needs (or looks at) the binary.
      assert.are.equal(r, R.busybox { root = root, busybox = "/nonexistent" })
      assert.are.equal(ino, lstat(r).ino)
      assert.are.equal(bin, lstat(r .. "/bin/busybox").ino)
      assert.are.same({ "rootfs" }, ns.listdir(root .. "/images/busybox"))
    end)

    it("replaces a plain directory that an older luactr made with the link", function()
      local root = tempdir()
      local old = root .. "/images/busybox/rootfs"
      assert(ns.mkdir(old .. "/bin", oct"755", true))
      assert(ns.writefile(old .. "/bin/old", "x", { create = true }))
      local r = R.busybox { root = root }
      assert.are.equal("link", lstat(r).type)
      assert.is_nil(lstat(r .. "/bin/old"))
      assert.are.equal("file", lstat(r .. "/bin/busybox").type)
      assert.are.same({ "rootfs" }, ns.listdir(root .. "/images/busybox"))
    end)

    it("says how to get busybox when the binary is missing", function()
      local root = tempdir()
      local err = raised(R.busybox, { root = root, busybox = "/nonexistent" })
      assert.are.equal("busybox rootfs: /nonexistent not found: apt-get install busybox-static", err)
      -- nothing half made: no image, no layer, nothing in the store's tmp/
      assert.is_nil(lstat(root .. "/images"))
      assert.are.same({}, ns.listdir(root .. "/store/layers"))
      assert.are.same({}, ns.listdir(root .. "/store/tmp"))
    end)

    it("rejects unknown options, naming the valid ones", function()
      local err = raised(R.busybox, { root = "/nonexistent", rot = 1 })
      assert.matches("unknown option 'rot' %(valid: busybox, root%)", err)
    end)

    it("survives builders racing in parallel processes: one builds, the others find its image", function()
      local root = tempdir()
      local kids = {}
      for i = 1, 4 do
        local pid, pidfd = assert(ns.clone {})
        if pid == 0 then
          local ok = pcall(R.busybox, { root = root })
          ns._exit(ok and 0 or 1)
        end
        kids[i] = pidfd
      end
      for _, pidfd in ipairs(kids) do
        local st = assert(ns.wait(pidfd))
        pidfd:close()
        assert.are.equal(0, st.code)
      end
      assert.are.same({ "rootfs" }, ns.listdir(root .. "/images/busybox"))
      assert.are.equal("file", lstat(root .. "/images/busybox/rootfs/bin/busybox").type)
      assert.are.equal(1, #ns.listdir(root .. "/store/layers"))
      assert.are.same({}, ns.listdir(root .. "/store/tmp"))
    end)
  end)

  describe("overlay_dirs()", function()
    it("makes upper, work and merged in a private dir and the options", function()
      local t = tempdir()
      ns.mkdir(t .. "/lower")
      local o = R.overlay_dirs(t .. "/lower", t .. "/state")
      assert.matches("^" .. t:gsub("%p", "%%%0") .. "/state/ovl%-%w+$", o.dir)
      assert.are.equal(oct"711", lstat(o.dir).mode)
      for _, k in ipairs { "upper", "work", "merged" } do
        assert.are.equal(o.dir .. "/" .. k, o[k])
        assert.are.equal("dir", lstat(o[k]).type, k)
      end
      assert.are.equal(oct"755", lstat(o.upper).mode)
      assert.are.equal(t .. "/lower", o.lower)
      assert.are.equal(("lowerdir=%s,upperdir=%s,workdir=%s"):format(o.lower, o.upper, o.work), o.options)
    end)

    it("joins a list of layers, top first, with ':' and takes an id", function()
      local t = tempdir()
      ns.mkdir(t .. "/a")
      ns.mkdir(t .. "/b")
      local o = R.overlay_dirs({ t .. "/a", t .. "/b" }, t .. "/state", "c1")
      assert.are.equal(t .. "/state/c1", o.dir)
      assert.are.equal(t .. "/a:" .. t .. "/b", o.lower)
      assert.matches("^lowerdir=" .. (t .. "/a:" .. t .. "/b,"):gsub("%p", "%%%0"), o.options)
      -- The same id twice is an error, not a shared upper layer.
      assert.matches("mkdir .*/state/c1: .*EEXIST", raised(R.overlay_dirs, t .. "/a", t .. "/state", "c1"))
    end)

    it("refuses a missing lower layer and paths overlay cannot take", function()
      local t = tempdir()
      assert.matches("lower layer " .. t:gsub("%p", "%%%0") .. "/nope is not a directory",
        raised(R.overlay_dirs, t .. "/nope", t .. "/state"))
      ns.mkdir(t .. "/a,b")
      assert.matches("overlay options cannot take", raised(R.overlay_dirs, t .. "/a,b", t .. "/state"))
      assert.matches("absolute path", raised(R.overlay_dirs, "relative", t .. "/state"))
      assert.is_nil(lstat(t .. "/state"))
    end)

    it("mounts as an overlay whose writes land in the upper dir only", function()
      local t = tempdir()
      local image = R.busybox { root = t }
      local o = R.overlay_dirs(image, t .. "/state")
      H.in_child(function()
        assert(ns.mount(nil, "/", nil, { "rprivate" }))
        assert(ns.mount("overlay", o.merged, "overlay", nil, o.options))
        assert(ns.writefile(o.merged .. "/etc/written", "hi\n", { create = true }))
        assert(ns.writefile(o.merged .. "/etc/hostname", "changed\n", { create = true }))
        assert(ns.unlink(o.merged .. "/bin/ls"))
        assert.are.equal("link", lstat(o.merged .. "/bin/sh").type)
        assert.are.equal("hi\n", ns.readfile(o.upper .. "/etc/written"))
        assert.are.equal("changed\n", ns.readfile(o.upper .. "/etc/hostname"))
        -- A deletion is a whiteout (a 0/0 character device) in upper.
        assert.are.equal("chr", lstat(o.upper .. "/bin/ls").type)
        assert(ns.umount(o.merged))
      end, { "mnt" })
      assert.is_nil(lstat(image .. "/etc/written"))
      assert.are.equal("luactr\n", ns.readfile(image .. "/etc/hostname"))
      assert.are.equal("link", lstat(image .. "/bin/ls").type)
      assert.are.equal("hi\n", ns.readfile(o.upper .. "/etc/written"))
      R.remove_tree(o.dir)
      assert.is_nil(lstat(o.dir))
    end)
  end)

  describe("remove_tree()", function()
    it("removes a nested tree, deleting symlinks without following them", function()
      local t = tempdir()
      local outside = t .. "/outside"
      ns.mkdir(outside)
      ns.writefile(outside .. "/keep", "x", { create = true })
      local d = t .. "/tree"
      assert(ns.mkdir(d .. "/a/b/c", oct"755", true))
      ns.writefile(d .. "/a/file", "1", { create = true })
      ns.writefile(d .. "/a/b/c/deep", "2", { create = true })
      ns.symlink(outside, d .. "/a/dirlink")
      ns.symlink(outside .. "/keep", d .. "/a/b/filelink")
      ns.symlink("/nonexistent", d .. "/dangling")
      ns.mkdir(d .. "/locked", 0)
      ns.writefile(d .. "/locked/f", "", { create = true })
      assert.is_true(R.remove_tree(d))
      assert.is_nil(lstat(d))
      assert.are.equal("x", ns.readfile(outside .. "/keep"))
      assert.are.same({ "keep" }, ns.listdir(outside))
    end)

    it("empties its own mode-000 and read-only dirs without privileges", function()
      -- What a rootless container leaves: overlayfs makes work/work 000.
      local t = tempdir()
      assert(ns.chmod(t, oct"755"))
      local d = t .. "/mine/tree"
      assert(ns.mkdir(d .. "/work/work", oct"755", true))
      assert(ns.mkdir(d .. "/ro/sub", oct"755", true))
      ns.writefile(d .. "/work/work/f", "", { create = true })
      ns.writefile(d .. "/ro/sub/f", "", { create = true })
      assert.are.equal(0, select(2, H.sh("chown -R 65534:65534 " .. t .. "/mine")))
      assert(ns.chmod(d .. "/work/work", 0))
      assert(ns.chmod(d .. "/ro/sub", oct"555"))
      assert(ns.chmod(d .. "/ro", oct"500"))
      H.in_child(function()
        assert(ns.setresgid(65534))
        assert(ns.setresuid(65534))
        H.fails_with(13, ns.listdir(d .. "/work/work"))
        assert.is_true(R.remove_tree(d))
      end)
      assert.is_nil(lstat(d))
    end)

    it("removes a single file or symlink, and accepts a missing path", function()
      local t = tempdir()
      ns.writefile(t .. "/f", "", { create = true })
      ns.symlink(t, t .. "/l")
      assert.is_true(R.remove_tree(t .. "/l"))
      assert.are.equal("dir", lstat(t).type)
      assert.is_true(R.remove_tree(t .. "/f"))
      assert.is_true(R.remove_tree(t .. "/missing"))
      assert.are.same({}, ns.listdir(t))
    end)

    it("removes a tree named through a symlink or a relative path", function()
      local t = tempdir()
      ns.mkdir(t .. "/real/x", oct"755", true)
      ns.symlink(t .. "/real", t .. "/via")
      assert.is_true(R.remove_tree(t .. "/via/x"))
      assert.are.same({}, ns.listdir(t .. "/real"))
    end)

    it("refuses to cross a mount point and removes nothing", function()
      local t = tempdir()
      local src = t .. "/src"
      ns.mkdir(src)
      ns.writefile(src .. "/precious", "p", { create = true })
      local d = t .. "/tree"
      ns.mkdir(d .. "/a/bind", oct"755", true)
      ns.mkdir(d .. "/b/tmpfs", oct"755", true)
      ns.writefile(d .. "/a/file", "f", { create = true })
      H.in_child(function()
        assert(ns.mount(nil, "/", nil, { "rprivate" }))
        -- A bind mount of the same filesystem: same st_dev, still refused.
        assert(ns.mount(src, d .. "/a/bind", nil, { "bind" }))
        local err = raised(R.remove_tree, d)
        assert.matches(d:gsub("%p", "%%%0") .. "/a/bind is a mount point", err)
        assert.are.equal("p", ns.readfile(src .. "/precious"))
        assert.are.equal("f", ns.readfile(d .. "/a/file"))
        assert(ns.umount(d .. "/a/bind"))
        -- Another filesystem.
        assert(ns.mount("tmpfs", d .. "/b/tmpfs", "tmpfs"))
        assert(ns.writefile(d .. "/b/tmpfs/t", "", { create = true }))
        err = raised(R.remove_tree, d)
        assert.matches(d:gsub("%p", "%%%0") .. "/b/tmpfs is a mount point", err)
        assert.are.equal("", ns.readfile(d .. "/b/tmpfs/t"))
        -- The top itself.
        err = raised(R.remove_tree, d .. "/b/tmpfs")
        assert.matches("/b/tmpfs is a mount point", err)
        assert(ns.umount(d .. "/b/tmpfs"))
        assert.is_true(R.remove_tree(d))
      end, { "mnt" })
      assert.is_nil(lstat(d))
      assert.are.equal("p", ns.readfile(src .. "/precious"))
    end)

    it("names the path when a removal fails", function()
      local err = raised(R.remove_tree, "")
      assert.matches("non%-empty string", err)
      local t = tempdir()
      ns.mkdir(t .. "/d/sub", oct"755", true)
      ns.writefile(t .. "/d/sub/f", "", { create = true })
      -- An immutable directory cannot lose entries, even for root; use a
      -- read-only bind mount in a child instead.
      H.in_child(function()
        assert(ns.mount(nil, "/", nil, { "rprivate" }))
        assert(ns.mount(t .. "/d", t .. "/d", nil, { "bind" }))
        assert(ns.mount(nil, t .. "/d", nil, { "bind", "remount", "rdonly" }))
        local e = raised(R.remove_tree, t .. "/d/sub")
        assert.matches("remove_tree " .. t:gsub("%p", "%%%0") .. "/d/sub: unlink .*/d/sub/f: .*EROFS", e)
        assert(ns.umount(t .. "/d"))
      end, { "mnt" })
    end)
  end)

  describe("hold() and gc_uppers()", function()
    -- A state dir with kept upper layers for names, each with a file.
    local function state_with(names)
      local state = tempdir()
      for _, n in ipairs(names) do
        assert(ns.mkdir(state .. "/" .. n .. "/upper", oct"755", true))
        assert(ns.writefile(state .. "/" .. n .. "/upper/f", "x", { create = true }))
      end
      return state
    end

    it("removes the kept upper layers that nothing holds, and nothing else", function()
      local state = state_with({ "a", "b" })
      assert(ns.mkdir(state .. "/.tmpfs", oct"755"))
      assert(ns.mkdir(state .. "/noupper", oct"755"))
      assert(ns.writefile(state .. "/file", "", { create = true }))
      assert.are.same({ state .. "/a/upper", state .. "/b/upper" }, R.gc_uppers(state))
      assert.are.same({ ".tmpfs", "file", "noupper" }, H.sorted(ns.listdir(state)))
      assert.are.same({}, R.gc_uppers(state))
      assert.are.same({}, R.gc_uppers(state .. "/missing"))
    end)

    it("never takes ns.state's containers/ and names/ for kept layers", function()
      local state = state_with({ "containers", "names", "a" })
      assert.are.same({ state .. "/a/upper" }, R.gc_uppers(state))
      assert.are.same({ "containers", "names" }, H.sorted(ns.listdir(state)))
      ns.mkdir(state .. "/lower")
      for _, id in ipairs { "containers", "names" } do
        local ok, err = pcall(R.overlay_dirs, state .. "/lower", state .. "/other", id)
        assert.is_false(ok)
        assert.matches("overlay_dirs: " .. id .. " is a directory of the state root's own", err)
      end
      assert.is_nil(lstat(state .. "/other/containers"))
    end)

    it("keeps a layer while a hold on it is open, whatever process holds it", function()
      local state = state_with({ "a", "b" })
      local fds, made = R.hold(state, { state .. "/a", state .. "/gone" }, function() return "made" end)
      assert.are.equal("made", made)
      assert.are.equal(1, #fds)
      assert.are.same({ state .. "/b/upper" }, R.gc_uppers(state))
      -- From another process too (flock: one lock an open file).
      assert.are.equal("0", H.child_value(function() return tostring(#R.gc_uppers(state)) end))
      fds[1]:close()
      assert.are.same({ state .. "/a/upper" }, R.gc_uppers(state))
    end)
  end)
end)
