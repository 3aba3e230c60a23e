-- users_spec.lua: uid_map, gid_map, setgroups_deny, setresuid, setresgid,
-- setgroups, getgroups, getuid, getgid (core/users.c). Ids change only in
-- children; maps are written by the parent for a child that waits.
local H = require "support.helper"
local ns = require "ns"

-- A pid that was a child of ours and is gone.
local function reaped()
  local pid, pidfd = H.reaped()
  pidfd:close()
  return pid
end

-- A child in a new user namespace (and types) that waits until setup(pid)
-- has run in the parent, then runs fn; fn's string result (or error) comes
-- back. setup's own failures are raised after the child is reaped.
local function userns(setup, fn, types)
  local go_r, go_w = assert(ns.pipe())
  local out_r, out_w = assert(ns.pipe())
  local t = { "user" }
  for _, v in ipairs(types or {}) do t[#t + 1] = v end
  local pid, pidfd = assert(ns.clone(t))
  if pid == 0 then
    go_w:close()
    out_r:close()
    go_r:read(1)
    local ok, v = xpcall(fn, debug.traceback)
    out_w:write((ok and "+" or "-") .. tostring(v))
    ns._exit(0)
  end
  go_r:close()
  out_w:close()
  local ok, err = pcall(setup, pid)
  go_w:close()
  local out = H.read_all(out_r)
  ns.wait(pidfd)
  pidfd:close()
  if not ok then error(err, 0) end
  if out:sub(1, 1) ~= "+" then error(out:sub(2), 2) end
  return out:sub(2)
end

local function map_lines(text)
  local t = {}
  for a, b, c in text:gmatch("(%d+)%s+(%d+)%s+(%d+)") do t[#t + 1] = { tonumber(a), tonumber(b), tonumber(c) } end
  return t
end

describe("ns.core", function()
  H.guard()

  describe("uid_map() and gid_map()", function()
    it("map root inside a user namespace to an id outside", function()
      -- The child runs as uid 0 outside (ours): mapping 0 to 0 makes it
      -- root inside; the second range is there to be read back.
      local out = userns(function(pid)
        assert.is_true(ns.uid_map(pid, { { 0, 0, 1 }, { 1, 100000, 10 } }))
        assert.is_true(ns.gid_map(pid, { { 0, 0, 1 } }))
      end, function()
        local r, e, s = ns.getuid()
        local g = ns.getgid()
        return ("%d %d %d %d|%s|%s"):format(r, e, s, g,
          ns.readfile("/proc/self/uid_map"), ns.readfile("/proc/self/gid_map"))
      end)
      local ids, umap, gmap = out:match("^(.-)|(.-)|(.*)$")
      assert.are.equal("0 0 0 0", ids)
      assert.are.same({ { 0, 0, 1 }, { 1, 100000, 10 } }, map_lines(umap))
      assert.are.same({ { 0, 0, 1 } }, map_lines(gmap))
    end)

    it("write several ranges at once", function()
      local ranges = { { 0, 100000, 1 }, { 1, 200000, 1000 }, { 5000, 300000, 10 } }
      local out = userns(function(pid)
        assert.is_true(ns.uid_map(pid, ranges))
      end, function() return ns.readfile("/proc/self/uid_map") end)
      assert.are.same(ranges, map_lines(out))
    end)

    it("leave an unmapped child with the overflow id", function()
      local out = userns(function() end, function() return tostring((ns.getuid())) end)
      assert.are.equal(ns.readfile("/proc/sys/kernel/overflowuid"):match("%d+"), out)
    end)

    it("fail with EPERM the second time", function()
      userns(function(pid)
        assert(ns.uid_map(pid, { { 0, 1000, 1 } }))
        local msg = H.fails_with(ns.E.EPERM, ns.uid_map(pid, { { 0, 1000, 1 } }))
        assert.matches("^write /proc/" .. pid .. "/uid_map: .+ %(EPERM%)$", msg)
        assert(ns.gid_map(pid, { { 0, 1000, 1 } }))
        H.fails_with(ns.E.EPERM, ns.gid_map(pid, { { 0, 1001, 1 } }))
      end, function() return "" end)
    end)

    it("fail with EINVAL for overlapping ranges", function()
      userns(function(pid)
        H.fails_with(ns.E.EINVAL, ns.uid_map(pid, { { 0, 1000, 10 }, { 5, 2000, 10 } }))
      end, function() return "" end)
    end)

    it("fail with ENOENT for a pid that is gone", function()
      local pid = reaped()
      local msg = H.fails_with(ns.E.ENOENT, ns.uid_map(pid, { { 0, 0, 1 } }))
      assert.matches("^open /proc/" .. pid .. "/uid_map: ", msg)
      H.fails_with(ns.E.ENOENT, ns.gid_map(pid, { { 0, 0, 1 } }))
    end)

    it("raise on a map that is not a list of ranges, or a pid that is not a number", function()
      local bad = {
        {}, { 0, 1, 1 }, { { 0, 1 } }, { { 0, 1, 0 } }, { { -1, 1, 1 } },
        { { 0, 2 ^ 32, 1 } }, { { "a", 1, 1 } },
      }
      for i, map in ipairs(bad) do
        local ok, err = pcall(ns.uid_map, "self", map)
        assert.is_false(ok, "map " .. i)
        assert.matches("bad argument #2", err)
      end
      local ok, err = pcall(ns.uid_map, "abc", { { 0, 0, 1 } })
      assert.is_false(ok)
      assert.matches("bad argument #1 .*pid %(integer%) or \"self\" expected", err)
      ok, err = pcall(ns.gid_map, 1.5, { { 0, 0, 1 } })
      assert.is_false(ok)
      assert.matches("bad argument #1", err)
      ok, err = pcall(ns.gid_map, -3, { { 0, 0, 1 } })
      assert.is_false(ok)
      assert.matches("pid out of range", err)
    end)
  end)

  describe("setgroups_deny()", function()
    it("writes deny to /proc/PID/setgroups, after which setgroups fails", function()
      local out = userns(function(pid)
        assert.is_true(ns.setgroups_deny(pid))
        assert.are.equal("deny\n", ns.readfile("/proc/" .. pid .. "/setgroups"))
        assert(ns.uid_map(pid, { { 0, 0, 1 } }))
        assert(ns.gid_map(pid, { { 0, 0, 1 } }))
      end, function()
        local _, _, errno = ns.setgroups({})
        return tostring(errno)
      end)
      assert.are.equal(tostring(ns.E.EPERM), out)
    end)

    it("fails with EPERM once the gid map is written", function()
      userns(function(pid)
        assert(ns.gid_map(pid, { { 0, 0, 1 } }))
        local msg = H.fails_with(ns.E.EPERM, ns.setgroups_deny(pid))
        assert.matches("^write /proc/" .. pid .. "/setgroups: ", msg)
      end, function() return "" end)
    end)

    it("fails with ENOENT for a pid that is gone, raises for one that is no number", function()
      H.fails_with(ns.E.ENOENT, ns.setgroups_deny(reaped()))
      local ok, err = pcall(ns.setgroups_deny, "1")
      assert.is_false(ok)
      assert.matches("bad argument #1", err)
    end)
  end)

  describe("rootless", function()
    it("clones user+uts as uid 1000 and sets the hostname inside", function()
      local code = [[
        local ns = require "ns"
        assert(ns.getuid() == 1000)
        local r, w = assert(ns.pipe())
        local pid, pidfd = assert(ns.clone({ "user", "uts" }))
        if pid == 0 then
          w:close()
          r:read(1)
          local ok = ns.getuid() == 0 and ns.sethostname("luactr-rootless")
            and ns.gethostname() == "luactr-rootless"
          ns._exit(ok and 0 or 1)
        end
        r:close()
        assert(ns.setgroups_deny(pid))
        assert(ns.uid_map(pid, { { 0, 1000, 1 } }))
        assert(ns.gid_map(pid, { { 0, 1000, 1 } }))
        w:close()
        local st = assert(ns.wait(pidfd))
        -- and without a user namespace, no uts one
        local _, _, e = ns.clone({ "uts" })
        io.write(st.code, " ", e)
      ]]
      local out = H.sh(H.lua_env .. " setpriv --reuid=1000 --regid=1000 --clear-groups lua5.4 -e '"
        .. code .. "' 2>&1")
      assert.are.equal("0 " .. ns.E.EPERM, out)
      assert.are_not.equal("luactr-rootless", ns.gethostname())
    end)
  end)

  describe("setresuid() and setresgid()", function()
    it("drop to an unprivileged user, who cannot open root's files", function()
      local d = H.tmpdir()
      finally(function() H.rmrf(d) end)
      assert(ns.chmod(d, tonumber("755", 8)))
      assert(ns.writefile(d .. "/secret", "root only", { create = true, mode = tonumber("600", 8) }))
      H.in_child(function()
        assert.is_true(ns.setgroups({}))
        assert.is_true(ns.setresgid(1000))
        assert.is_true(ns.setresuid(1000))
        assert.are.same({ 1000, 1000, 1000 }, { ns.getuid() })
        assert.are.same({ 1000, 1000, 1000 }, { ns.getgid() })
        local msg = H.fails_with(ns.E.EACCES, ns.readfile(d .. "/secret"))
        assert.matches("^open " .. d:gsub("%p", "%%%0") .. "/secret: ", msg)
      end)
    end)

    it("set real, effective and saved ids apart; -1 keeps one", function()
      H.in_child(function()
        assert.is_true(ns.setresgid(1001, 1002, 1003))
        assert.are.same({ 1001, 1002, 1003 }, { ns.getgid() })
        assert.is_true(ns.setresgid(-1, 1003, -1))
        assert.are.same({ 1001, 1003, 1003 }, { ns.getgid() })
        assert.is_true(ns.setresuid(1001, 0, 1003))
        assert.are.same({ 1001, 0, 1003 }, { ns.getuid() })
        assert.is_true(ns.setresuid(-1, 1002))
        assert.are.same({ 1001, 1002, 1003 }, { ns.getuid() })
      end)
    end)

    it("fail with EPERM for an unprivileged user", function()
      H.in_child(function()
        H.drop_privileges(1000)
        local msg = H.fails_with(ns.E.EPERM, ns.setresuid(0))
        assert.matches("^setresuid 0: .+ %(EPERM%)$", msg)
        msg = H.fails_with(ns.E.EPERM, ns.setresgid(0))
        assert.matches("^setresgid 0: .+ %(EPERM%)$", msg)
      end)
    end)

    it("report their own errno even when a finalizer fails a call meanwhile", function()
      H.in_child(function()
        H.drop_privileges(1000)
        -- Building the message allocates; a collection then may run __gc
        -- handlers, whose failing calls set errno.
        local mt = { __gc = function() ns.readfile("/nonexistent/luactr-spec") end }
        collectgarbage("incremental", 1, 1000, 0)
        for round = 1, 100 do
          for _ = 1, 50 do setmetatable({}, mt) end
          H.fails_with(ns.E.EPERM, ns.setresuid(round))
          H.fails_with(ns.E.EPERM, ns.setresgid(round))
          H.fails_with(ns.E.EPERM, ns.unshare({ "uts", "ipc" }))
        end
      end)
    end)

    it("raise on an id that is not one", function()
      for _, bad in ipairs({ "abc", 1.5, -2, 2 ^ 32 }) do
        local ok, err = pcall(ns.setresuid, bad)
        assert.is_false(ok, tostring(bad))
        assert.matches("bad argument #1", err)
        ok, err = pcall(ns.setresgid, 0, bad)
        assert.is_false(ok, tostring(bad))
        assert.matches("bad argument #2", err)
      end
    end)
  end)

  describe("setgroups() and getgroups()", function()
    it("set and read the supplementary groups", function()
      H.in_child(function()
        assert.is_true(ns.setgroups({ 5, 6, 7 }))
        assert.are.same({ 5, 6, 7 }, ns.getgroups())
        assert.is_true(ns.setgroups({}))
        assert.are.same({}, ns.getgroups())
        local many = {}
        for i = 1, 1000 do many[i] = 100000 + i end
        assert.is_true(ns.setgroups(many))
        local got = assert(ns.getgroups())
        assert.are.equal(#many, #got)
        assert.are.equal(table.concat(many, " "), table.concat(got, " "))
      end)
      local want = {}
      for g in ns.readfile("/proc/self/status"):match("Groups:([^\n]*)"):gmatch("%d+") do
        want[#want + 1] = tonumber(g)
      end
      assert.are.same(want, ns.getgroups())
    end)

    it("fail with EPERM for an unprivileged user", function()
      H.in_child(function()
        H.drop_privileges(1000)
        local msg = H.fails_with(ns.E.EPERM, ns.setgroups({ 0 }))
        assert.matches("^setgroups: .+ %(EPERM%)$", msg)
      end)
    end)

    it("raise on a list that holds something other than ids", function()
      for _, bad in ipairs({ { "a" }, { -1 }, { 1.5 }, "1" }) do
        local ok, err = pcall(ns.setgroups, bad)
        assert.is_false(ok)
        assert.matches("bad argument #1", err)
      end
    end)
  end)

  describe("getuid() and getgid()", function()
    it("give the real, effective and saved ids", function()
      local status = ns.readfile("/proc/self/status")
      local u = { status:match("Uid:%s+(%d+)%s+(%d+)%s+(%d+)") }
      local g = { status:match("Gid:%s+(%d+)%s+(%d+)%s+(%d+)") }
      assert.are.same({ tonumber(u[1]), tonumber(u[2]), tonumber(u[3]) }, { ns.getuid() })
      assert.are.same({ tonumber(g[1]), tonumber(g[2]), tonumber(g[3]) }, { ns.getgid() })
    end)
  end)
end)
