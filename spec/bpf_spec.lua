-- bpf_spec.lua: devices_filter, devices_attach, devices_detach
-- (core/bpf.c). Each spec makes a group /sys/fs/cgroup/unified/luactr-spec-*
-- (the host's cgroup v2 tree: no controllers, but device programs attach to
-- any v2 group), moves a forked child into it to try devices, and removes
-- the group once the child is gone.
local H = require "support.helper"
local ns = require "ns"

local UNIFIED = "/sys/fs/cgroup/unified"
local E = ns.E

-- "ok" when path opens with flags, else the errno number as a string.
local function try_open(path, flags)
  local f, _, errno = ns.open(path, flags)
  if f then
    f:close()
    return "ok"
  end
  return tostring(errno)
end

-- Run fn(path, dirfd) with a new v2 group; the group is removed after,
-- once no process is left in it (rmdir is EBUSY until then).
local n_groups = 0
local function with_group(fn)
  n_groups = n_groups + 1
  local path = ("%s/luactr-spec-%d-%d"):format(UNIFIED, ns.getpid(), n_groups)
  assert(ns.mkdir(path))
  local dir = assert(ns.open(path, "directory"))
  local ok, err = pcall(fn, path, dir)
  dir:close()
  local removed, msg, errno
  for _ = 1, 100 do
    removed, msg, errno = ns.rmdir(path)
    if removed or errno ~= E.EBUSY then break end
    ns.sleep(0.02)
  end
  if not ok then error(err, 0) end
  assert(removed, msg)
end

-- In a child that joins the group at path: what each {path, flags} of
-- probes gives (try_open), space separated; a {"mknod", path, major,
-- minor} probe tries mknod instead.
local function in_group(path, probes)
  return H.child_value(function()
    assert(ns.writefile(path .. "/cgroup.procs", "0"))
    local out = {}
    for _, p in ipairs(probes) do
      if p[1] == "mknod" then
        local ok, _, errno = ns.mknod(p[2], "chr", "0600", p[3], p[4])
        out[#out + 1] = ok and "ok" or tostring(errno)
      else
        out[#out + 1] = try_open(p[1], p[2])
      end
    end
    return table.concat(out, " ")
  end)
end

local function words(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  return table.concat(t, " ")
end

describe("ns.core", function()
  H.guard()

  describe("devices_filter()", function()
    it("loads a program as a bpf handle, for an empty list too", function()
      local p <close> = assert(ns.devices_filter({ { type = "c", major = 1, minor = 3, allow = true } }))
      assert.are.equal("bpf", p:kind())
      assert.matches("^bpf %(fd %d+%)$", tostring(p))
      local info = ns.readfile("/proc/self/fdinfo/" .. p:fileno())
      assert.matches("prog_type:%s*15", info) -- BPF_PROG_TYPE_CGROUP_DEVICE
      local none <close> = assert(ns.devices_filter({}))
      assert.are.equal("bpf", none:kind())
      -- A rule that matches everything ends the program: later rules
      -- would be unreachable, which the verifier rejects.
      local all <close> = assert(ns.devices_filter({ { type = "a", allow = true }, { type = "c", allow = false } }))
    end)

    it("fails with EPERM without CAP_SYS_ADMIN", function()
      H.in_child(function()
        H.drop_privileges(1000)
        local msg = H.fails_with(E.EPERM, ns.devices_filter({ { type = "a", allow = true } }))
        assert.matches("^bpf_prog_load devices: .+ %(EPERM%)$", msg)
      end)
    end)

    it("raises on a bad rule before it loads anything, naming the rule", function()
      local cases = {
        { { 1 }, "rule 1: a table expected, got number" },
        { { { type = "c", allow = true }, { type = "x", allow = true } }, "rule 2: type must be \"a\", \"b\" or \"c\"" },
        { { { allow = true } }, "rule 1: type must be" },
        { { { type = "cb", allow = true } }, "rule 1: type must be" },
        { { { type = "c" } }, "rule 1: allow must be true or false" },
        { { { type = "c", allow = 1 } }, "rule 1: allow must be true or false" },
        { { { type = "c", allow = true, major = -1 } }, "rule 1: major out of range" },
        { { { type = "c", allow = true, minor = -5 } }, "rule 1: minor out of range" },
        { { { type = "c", allow = true, minor = 1 << 32 } }, "rule 1: minor out of range" },
        { { { type = "c", allow = true, major = 1.5 } }, "rule 1: major must be an integer or nil" },
        { { { type = "c", allow = true, major = "1" } }, "rule 1: major must be an integer or nil" },
        { { { type = "c", allow = true, access = "rx" } }, "rule 1: unknown access letter 'x' %(valid: r, w, m%)" },
        { { { type = "c", allow = true, access = "" } }, "rule 1: access is empty" },
        { { { type = "c", allow = true, access = 7 } }, "rule 1: access must be a string" },
        { { { type = "c", allow = true, acess = "r" } }, "rule 1: unknown option 'acess' %(did you mean 'access'%? valid: access, allow, major, minor, type%)" },
      }
      local fds = #ns.listdir("/proc/self/fd")
      for _, c in ipairs(cases) do
        local ok, err = pcall(ns.devices_filter, c[1])
        assert.is_false(ok)
        assert.matches("bad argument #1 .*" .. c[2], err)
      end
      assert.are.equal(fds, #ns.listdir("/proc/self/fd"))
      local ok, err = pcall(ns.devices_filter, "c 1:3 rwm")
      assert.is_false(ok)
      assert.matches("bad argument #1 .*table expected", err)
    end)
  end)

  describe("devices_attach() and devices_detach()", function()
    local d
    before_each(function() d = H.tmpdir() end)
    after_each(function() H.rmrf(d) end)

    it("let a group open only what the filter allows: c 1:3, not c 1:5 (EPERM)", function()
      with_group(function(path, dir)
        local p <close> = assert(ns.devices_filter({ { type = "c", major = 1, minor = 3, allow = true } }))
        assert.is_true(ns.devices_attach(dir, p))
        assert.are.equal(words("ok", "ok", E.EPERM, E.EPERM, "ok"),
          in_group(path, { { "/dev/null" }, { "/dev/null", "rdwr" }, { "/dev/zero" }, { "/dev/zero", "wronly" },
                           { "mknod", d .. "/null", 1, 3 } }))
        -- Not in the group, nothing changes.
        assert.are.equal("ok", try_open("/dev/zero"))
        assert.is_true(ns.devices_detach(dir, p))
        assert.are.equal(words("ok", "ok"), in_group(path, { { "/dev/null" }, { "/dev/zero" } }))
      end)
    end)

    it("match the access letters: r lets a device be read, not written or made", function()
      with_group(function(path, dir)
        local p <close> = assert(ns.devices_filter({
          { type = "c", major = 1, minor = 3, allow = true },
          { type = "c", major = 1, minor = 5, access = "r", allow = true },
        }))
        assert(ns.devices_attach(dir:fileno(), p:fileno()))
        assert.are.equal(words("ok", E.EPERM, E.EPERM, E.EPERM),
          in_group(path, { { "/dev/zero" }, { "/dev/zero", "wronly" }, { "/dev/zero", "rdwr" },
                           { "mknod", d .. "/zero", 1, 5 } }))
        assert(ns.devices_detach(dir, p))
      end)
    end)

    it("let the first matching rule decide, and any major/minor/type match", function()
      with_group(function(path, dir)
        local p <close> = assert(ns.devices_filter({
          { type = "c", major = 1, minor = 5, allow = false },
          { type = "c", major = 1, access = "rw", allow = true },
          { type = "a", major = 1, minor = 8, access = "m", allow = true },
        }))
        assert(ns.devices_attach(dir, p))
        -- 1:5 denied by rule 1 though rule 2 would allow it; 1:8 (random)
        -- and 1:9 (urandom) opened through rule 2, made only for 1:8 (rule 3).
        assert.are.equal(words(E.EPERM, "ok", "ok", "ok", "ok", E.EPERM, E.EPERM),
          in_group(path, { { "/dev/zero" }, { "/dev/null" }, { "/dev/urandom" }, { "/dev/random", "rdwr" },
                           { "mknod", d .. "/random", 1, 8 }, { "mknod", d .. "/urandom", 1, 9 },
                           { "/dev/tty", "rdonly" } }))
        assert(ns.devices_detach(dir, p))
      end)
    end)

    it("deny what no rule matches, and an empty list denies all", function()
      with_group(function(path, dir)
        local p <close> = assert(ns.devices_filter({}))
        assert(ns.devices_attach(dir, p))
        assert.are.equal(words(E.EPERM, E.EPERM), in_group(path, { { "/dev/null" }, { "/dev/zero" } }))
        -- Regular files are not devices: the program is not asked.
        assert.are.equal("ok", in_group(path, { { "/etc/hostname" } }))
        assert(ns.devices_detach(dir, p))
      end)
    end)

    it("stack programs: a device needs every attached one to allow it", function()
      with_group(function(path, dir)
        local both <close> = assert(ns.devices_filter({ { type = "c", major = 1, allow = true } }))
        local null <close> = assert(ns.devices_filter({ { type = "c", major = 1, minor = 3, allow = true } }))
        assert(ns.devices_attach(dir, both))
        assert.are.equal(words("ok", "ok"), in_group(path, { { "/dev/null" }, { "/dev/zero" } }))
        assert(ns.devices_attach(dir, null))
        assert.are.equal(words("ok", E.EPERM), in_group(path, { { "/dev/null" }, { "/dev/zero" } }))
        assert(ns.devices_detach(dir, null))
        assert(ns.devices_detach(dir, both))
      end)
    end)

    it("fail with EBADF off cgroup v2, EINVAL for a second attach or a non-program, ENOENT to detach", function()
      with_group(function(_, dir)
        local p <close> = assert(ns.devices_filter({ { type = "a", allow = true } }))
        local tmp <close> = assert(ns.open(d, "directory"))
        local msg = H.fails_with(E.EBADF, ns.devices_attach(tmp, p))
        assert.matches("^bpf_prog_attach cgroup fd " .. tmp:fileno() .. ": .+ %(EBADF%)$", msg)
        local msg2 = H.fails_with(E.ENOENT, ns.devices_detach(dir, p))
        assert.matches("^bpf_prog_detach cgroup fd %d+: .+ %(ENOENT%)$", msg2)
        assert(ns.devices_attach(dir, p))
        H.fails_with(E.EINVAL, ns.devices_attach(dir, p))
        local r, w = assert(ns.pipe())
        H.fails_with(E.EINVAL, ns.devices_attach(dir, r))
        r:close()
        w:close()
        assert(ns.devices_detach(dir, p))
        H.fails_with(E.ENOENT, ns.devices_detach(dir, p))
      end)
    end)

    it("raise on a closed handle or a non-fd", function()
      local p = assert(ns.devices_filter({}))
      p:close()
      local ok, err = pcall(ns.devices_attach, 0, p)
      assert.is_false(ok)
      assert.matches("bad argument #2 .*closed fd", err)
      ok, err = pcall(ns.devices_detach, UNIFIED, 0)
      assert.is_false(ok)
      assert.matches("bad argument #1", err)
    end)
  end)
end)
