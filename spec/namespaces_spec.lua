-- namespaces_spec.lua: clone, unshare, setns, pidfd_open, nsid
-- (core/namespaces.c). Everything that makes or joins a namespace does it in
-- a child; the busted process only clones and waits.
local H = require "support.helper"
local ns = require "ns"

local TYPES = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" }

local function readlink_id(path)
  local l = assert(ns.readlink(path))
  return tonumber(l:match("%[(%d+)%]"))
end

-- A child in new namespaces that runs setup, says it is ready, then waits
-- until stop() closes its pipe. Returns pid, pidfd, stop.
local function holder(types, setup)
  local stop_r, stop_w = assert(ns.pipe())
  local ready_r, ready_w = assert(ns.pipe())
  local pid, pidfd = assert(ns.clone(types))
  if pid == 0 then
    stop_w:close()
    ready_r:close()
    local ok, err = pcall(setup or function() end)
    ready_w:write(ok and "+" or "-" .. tostring(err))
    ready_w:close()
    stop_r:read(1)
    ns._exit(0)
  end
  stop_r:close()
  ready_w:close()
  local said = ready_r:read(4096)
  ready_r:close()
  local function stop()
    stop_w:close()
    ns.wait(pidfd)
    pidfd:close()
  end
  if said ~= "+" then
    stop()
    error("holder setup failed: " .. said, 2)
  end
  return pid, pidfd, stop
end

describe("ns.core", function()
  H.guard()

  describe("clone()", function()
    it("returns 0 in the child and pid, pidfd in the parent", function()
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then ns._exit(7) end
      assert.is_true(pid > 0)
      assert.are.equal("pidfd", pidfd:kind())
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal(pid, st.pid)
      assert.is_true(st.exited)
      assert.are.equal(7, st.code)
    end)

    it("starts the child as pid 1 of a new pid namespace", function()
      local out = H.child_value(function()
        return ns.getpid() .. " " .. ns.getppid() .. " " .. ns.nsid("self", "pid")
      end, { "pid" })
      local pid, ppid, id = out:match("^(%d+) (%d+) (%d+)$")
      assert.are.equal("1", pid)
      assert.are.equal("0", ppid)
      assert.are_not.equal(ns.nsid("self", "pid"), tonumber(id))
    end)

    it("makes all eight namespace types, by name, list or number", function()
      local out = H.child_value(function()
        local t = {}
        for _, name in ipairs(TYPES) do t[#t + 1] = name .. "=" .. ns.nsid("self", name) end
        return table.concat(t, " ")
      end, TYPES)
      for _, name in ipairs(TYPES) do
        local id = tonumber(out:match(name .. "=(%d+)"))
        assert.is_number(id, name)
        assert.are_not.equal(ns.nsid("self", name), id, name)
      end
      local uts = H.child_value(function() return tostring(ns.nsid("self", "uts")) end, "uts")
      assert.are_not.equal(tostring(ns.nsid("self", "uts")), uts)
      local ipc = H.child_value(function() return tostring(ns.nsid("self", "ipc")) end, ns.CLONE.ipc)
      assert.are_not.equal(tostring(ns.nsid("self", "ipc")), ipc)
    end)

    it("starts the child in a cgroup v2 directory given as opts.cgroup", function()
      local dir = "/sys/fs/cgroup/unified"
      if (ns.stat(dir) or {}).type ~= "dir" then dir = "/sys/fs/cgroup" end
      local fd <close> = assert(ns.open(dir, "directory"))
      local r, w = assert(ns.pipe())
      local pid, pidfd = ns.clone({}, { cgroup = fd })
      if pid == 0 then
        r:close()
        w:write(ns.readfile("/proc/self/cgroup") or "")
        ns._exit(0)
      end
      w:close()
      local out = r:read(65536)
      r:close()
      if not pid then
        -- Not a cgroup v2 root on this host: the failure is still the contract's.
        assert.matches("^clone3 into cgroup", pidfd)
        return
      end
      ns.wait(pidfd)
      pidfd:close()
      assert.matches("\n?0::/\n", out)
    end)

    it("fails with EBADF when opts.cgroup is not a cgroup directory", function()
      H.in_child(function()
        local fd <close> = assert(ns.open("/", "directory"))
        local pid, msg, errno = ns.clone({}, { cgroup = fd })
        if pid == 0 then ns._exit(0) end
        H.fails_with(ns.E.EBADF, pid, msg, errno)
        assert.matches("^clone3 into cgroup", msg)
      end)
    end)

    it("fails with EPERM without CAP_SYS_ADMIN", function()
      H.in_child(function()
        H.drop_privileges(1000)
        local pid, msg, errno = ns.clone({ "uts", "pid" })
        if pid == 0 then ns._exit(0) end
        H.fails_with(ns.E.EPERM, pid, msg, errno)
        assert.matches("^clone pid,uts: .+ %(EPERM%)$", msg)
      end)
    end)

    it("fails with EINVAL for a user namespace that shares fs", function()
      H.in_child(function()
        local pid, msg, errno = ns.clone(ns.CLONE.user | ns.CLONE.fs)
        if pid == 0 then ns._exit(0) end
        H.fails_with(ns.E.EINVAL, pid, msg, errno)
      end)
    end)

    it("raises on an unknown namespace name, listing the valid ones", function()
      local ok, err = pcall(ns.clone, { "pid", "bogus" })
      assert.is_false(ok)
      assert.matches("unknown namespace 'bogus' %(valid: cgroup, ipc, mnt, net, pid, time, user, uts%)", err)
      ok, err = pcall(ns.clone, {}, { cgroups = 3 })
      assert.is_false(ok)
      assert.matches("unknown option 'cgroups'", err)
      ok, err = pcall(ns.clone, {}, { cgroup = "x" })
      assert.is_false(ok)
      assert.matches("option 'cgroup' must be a cgroup v2 directory fd", err, 1, true)
    end)
  end)

  describe("spawn()", function()
    it("runs fn in new namespaces and returns once the child has exec'd", function()
      local r, w = assert(ns.pipe())
      local pid, pidfd = assert(ns.spawn({ "uts", "pid" }, function()
        assert(ns.sethostname("spawned"))
        assert(ns.dup2(w, 1))
        ns.exec("/bin/sh", { "sh", "-c", "hostname; echo $$; sleep 0.2" })
        ns._exit(126)
      end))
      w:close()
      assert.is_true(pid > 0)
      -- The exec is done: the child runs the shell, not luactr's code.
      assert.are_not.equal(ns.readlink("/proc/self/exe"), ns.readlink("/proc/" .. pid .. "/exe"))
      local st = assert(ns.wait(pidfd))
      assert.are.equal(0, st.code)
      assert.are.equal("spawned\n1\n", r:read(100) .. (r:read(100) or ""))
      r:close()
      pidfd:close()
    end)

    it("shares luactr's memory until then, and leaves the collector as it was", function()
      local seen = {}
      assert.is_true(collectgarbage("isrunning"))
      local _, pidfd = assert(ns.spawn({}, function()
        seen.child = ns.getpid()
        seen.collecting = collectgarbage("isrunning")
        ns._exit(3)
      end))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal(3, st.code)
      assert.are.equal(st.pid, seen.child)
      assert.is_false(seen.collecting)
      assert.is_true(collectgarbage("isrunning"))
    end)

    it("leaves luactr's fds alone: the child's close, and its handles' collection", function()
      local r, w = assert(ns.pipe())
      local n = w:fileno()
      local made
      local _, pidfd = assert(ns.spawn({}, function()
        w:close() -- in the child's fd table only
        made = assert(ns.open("/dev/null", { "rdonly" }))
        ns._exit(made:fileno() == n and 0 or 1)
      end))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal(0, st.code) -- the child's handle took w's number
      assert.are.equal(n, w:fileno()) -- w is not closed for luactr
      made = nil
      collectgarbage()
      collectgarbage()
      -- The child's handle, collected here, did not close luactr's fd n.
      assert(w:write("still open"))
      assert.are.equal("still open", r:read(100))
      r:close()
      w:close()
    end)

    it("exits 127 with the error on stderr when fn raises", function()
      local out, code = H.run_luactr([[-e 'local ns = require "ns"
        local _, fd = ns.spawn({}, function() error("boom in the child", 0) end)
        local st = ns.wait(fd); print("code", st.code)']])
      assert.are.equal(0, code, out)
      assert.matches("luactr: spawn: boom in the child", out, 1, true)
      assert.matches("code\t127", out, 1, true)
    end)
  end)

  describe("unshare()", function()
    it("moves the caller into a new uts namespace, leaving the host's alone", function()
      local host = assert(ns.gethostname())
      local out = H.child_value(function()
        local before = ns.nsid("self", "uts")
        assert.is_true(ns.unshare({ "uts" }))
        assert.are_not.equal(before, ns.nsid("self", "uts"))
        assert(ns.sethostname("luactr-spec-uts"))
        return ns.gethostname()
      end)
      assert.are.equal("luactr-spec-uts", out)
      assert.are.equal(host, ns.gethostname())
    end)

    it("takes several types and the non-namespace flags", function()
      H.in_child(function()
        local ids = {}
        for _, t in ipairs({ "ipc", "net", "mnt" }) do ids[t] = ns.nsid("self", t) end
        assert.is_true(ns.unshare({ "ipc", "net", "mnt", "fs", "files", "sysvsem" }))
        for t, id in pairs(ids) do assert.are_not.equal(id, ns.nsid("self", t), t) end
      end)
    end)

    it("fails with EPERM without CAP_SYS_ADMIN", function()
      H.in_child(function()
        H.drop_privileges(1000)
        local msg = H.fails_with(ns.E.EPERM, ns.unshare({ "mnt", "uts" }))
        assert.matches("^unshare mnt,uts: .+ %(EPERM%)$", msg)
      end)
    end)

    it("fails with EINVAL for a flag unshare does not take", function()
      H.in_child(function()
        -- CSIGNAL bits: clone takes them, unshare does not.
        local msg = H.fails_with(ns.E.EINVAL, ns.unshare(ns.CLONE.uts | 1))
        assert.matches("^unshare uts: .+ %(EINVAL%)$", msg)
      end)
    end)

    it("raises on an unknown name, listing the valid ones", function()
      local ok, err = pcall(ns.unshare, { "bogus" })
      assert.is_false(ok)
      assert.matches("unknown namespace 'bogus' %(valid: cgroup, files, fs, ipc, mnt, net, pid, sysvsem, time, user, uts%)", err)
    end)
  end)

  describe("setns()", function()
    local function joined_hostname(target, types)
      return H.child_value(function()
        assert.is_true(ns.setns(target, types))
        return ns.gethostname()
      end)
    end

    it("joins a child's namespace through its pidfd", function()
      local _, pidfd, stop = holder({ "uts" }, function() assert(ns.sethostname("luactr-spec-a")) end)
      finally(stop)
      assert.are.equal("luactr-spec-a", joined_hostname(pidfd, { "uts" }))
    end)

    it("joins through a pid, a /proc/PID/ns path and a namespace fd", function()
      local pid, _, stop = holder({ "uts" }, function() assert(ns.sethostname("luactr-spec-b")) end)
      finally(stop)
      assert.are.equal("luactr-spec-b", joined_hostname(pid, "uts"))
      assert.are.equal("luactr-spec-b", joined_hostname("/proc/" .. pid .. "/ns/uts"))
      assert.are.equal("luactr-spec-b", joined_hostname("/proc/" .. pid .. "/ns/uts", "uts"))
      local fd <close> = assert(ns.open("/proc/" .. pid .. "/ns/uts"))
      assert.are.equal("luactr-spec-b", joined_hostname(fd))
      assert.are.equal("luactr-spec-b", joined_hostname(fd, { "uts" }))
    end)

    it("joins several namespaces at once through a pidfd", function()
      local pid, pidfd, stop = holder({ "uts", "ipc", "net" })
      finally(stop)
      local out = H.child_value(function()
        assert.is_true(ns.setns(pidfd, { "uts", "ipc", "net" }))
        return ns.nsid("self", "uts") .. " " .. ns.nsid("self", "ipc") .. " " .. ns.nsid("self", "net")
      end)
      assert.are.equal(ns.nsid(pid, "uts") .. " " .. ns.nsid(pid, "ipc") .. " " .. ns.nsid(pid, "net"), out)
    end)

    it("fails with ENOENT for a path that does not exist", function()
      H.in_child(function()
        local msg = H.fails_with(ns.E.ENOENT, ns.setns("/nonexistent/ns/uts"))
        assert.matches("^setns /nonexistent/ns/uts: .+ %(ENOENT%)$", msg)
      end)
    end)

    it("fails with ESRCH for the pidfd of a reaped process, or a gone pid", function()
      local pid, pidfd = H.reaped()
      finally(function() pidfd:close() end)
      H.in_child(function()
        H.fails_with(ns.E.ESRCH, ns.setns(pidfd, { "uts" }))
        local msg = H.fails_with(ns.E.ESRCH, ns.setns(pid, { "uts" }))
        assert.matches("^setns pid " .. pid .. ": ", msg)
      end)
    end)

    it("fails with EINVAL when the fd's namespace is not of the given type", function()
      H.in_child(function()
        H.fails_with(ns.E.EINVAL, ns.setns("/proc/self/ns/net", "uts"))
        local fd <close> = assert(ns.open("/dev/null"))
        H.fails_with(ns.E.EINVAL, ns.setns(fd))
      end)
    end)

    it("fails with EPERM without CAP_SYS_ADMIN", function()
      local _, pidfd, stop = holder({ "uts" })
      finally(stop)
      H.in_child(function()
        H.drop_privileges(1000)
        H.fails_with(ns.E.EPERM, ns.setns(pidfd, "uts"))
      end)
    end)

    it("raises on misuse", function()
      local ok, err = pcall(ns.setns, 1)
      assert.is_false(ok)
      assert.matches("needs the namespace types", err)
      local pidfd <close> = assert(ns.pidfd_open(ns.getpid()))
      ok, err = pcall(ns.setns, pidfd)
      assert.is_false(ok)
      assert.matches("needs the namespace types", err)
      ok, err = pcall(ns.setns, "/proc/self/ns/uts", "bogus")
      assert.is_false(ok)
      assert.matches("unknown namespace 'bogus'", err)
      ok, err = pcall(ns.setns, true, "uts")
      assert.is_false(ok)
      assert.matches("pidfd, pid or namespace path expected", err)
      ok, err = pcall(ns.setns, 1.5, "uts")
      assert.is_false(ok)
      assert.matches("pid %(integer%) expected", err)
      pidfd:close()
      ok, err = pcall(ns.setns, pidfd, "uts")
      assert.is_false(ok)
      assert.matches("closed fd", err)
    end)
  end)

  describe("pidfd_open()", function()
    it("returns a pidfd that wait and kill take", function()
      local pid, own = assert(ns.clone({}))
      if pid == 0 then ns.sleep(10); ns._exit(0) end
      own:close()
      local pidfd = assert(ns.pidfd_open(pid))
      assert.are.equal("pidfd", pidfd:kind())
      assert.is_true(ns.kill(pidfd, "KILL"))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal("KILL", st.signal)
      assert.are.equal(pid, st.pid)
    end)

    it("fails with ESRCH for a pid that is gone", function()
      local pid, pidfd = H.reaped()
      pidfd:close()
      local msg = H.fails_with(ns.E.ESRCH, ns.pidfd_open(pid))
      assert.matches("^pidfd_open " .. pid .. ": ", msg)
    end)

    it("raises when the pid is not a number", function()
      for _, bad in ipairs({ "1", 0, -1, 1.5 }) do
        local ok, err = pcall(ns.pidfd_open, bad)
        assert.is_false(ok, tostring(bad))
        assert.matches("bad argument #1", err)
      end
    end)
  end)

  describe("nsid()", function()
    it("gives the inode that /proc/self/ns/TYPE names, for all eight types", function()
      for _, t in ipairs(TYPES) do
        assert.are.equal(readlink_id("/proc/self/ns/" .. t), ns.nsid("self", t), t)
        assert.are.equal(ns.nsid("self", t), ns.nsid(ns.getpid(), t), t)
      end
    end)

    it("prints what readlink /proc/self/ns/pid shows, from lua5.4", function()
      local out = H.sh(H.lua_env .. [[ lua5.4 -e 'print(require("ns").nsid("self","pid"))'; readlink /proc/self/ns/pid]])
      local id, link = out:match("^(%d+)\npid:%[(%d+)%]\n$")
      assert.is_not_nil(id, out)
      assert.are.equal(link, id)
    end)

    it("prints what readlink /proc/self/ns/pid shows, from luactr -e", function()
      if H.sh(H.luactr .. " -e 'print(1)' 2>/dev/null") ~= "1\n" then
        pending("./luactr does not run -e yet")
      end
      local out = H.sh(H.luactr .. [[ -e 'print(require("ns").nsid("self","pid"))'; readlink /proc/self/ns/pid]])
      local id, link = out:match("^(%d+)\npid:%[(%d+)%]\n$")
      assert.is_not_nil(id, out)
      assert.are.equal(link, id)
    end)

    it("reads another process's namespaces by pid", function()
      local pid, _, stop = holder({ "net" })
      finally(stop)
      assert.are.equal(readlink_id("/proc/" .. pid .. "/ns/net"), ns.nsid(pid, "net"))
      assert.are_not.equal(ns.nsid("self", "net"), ns.nsid(pid, "net"))
    end)

    it("fails with ENOENT for a pid that is gone", function()
      local pid, pidfd = H.reaped()
      pidfd:close()
      local msg = H.fails_with(ns.E.ENOENT, ns.nsid(pid, "pid"))
      assert.matches("^nsid /proc/" .. pid .. "/ns/pid: ", msg)
    end)

    it("raises on an unknown namespace name, listing the valid ones", function()
      local ok, err = pcall(ns.nsid, "self", "bogus")
      assert.is_false(ok)
      assert.matches("bad argument #2 .*unknown namespace 'bogus' %(valid: cgroup, ipc, mnt, net, pid, time, user, uts%)", err)
      ok, err = pcall(ns.nsid, "self")
      assert.is_false(ok)
      assert.matches("bad argument #2", err)
    end)

    it("raises when the pid is not a number", function()
      for _, bad in ipairs({ "abc", "", {}, 1.5, 0 }) do
        local ok, err = pcall(ns.nsid, bad, "pid")
        assert.is_false(ok, tostring(bad))
        assert.matches("bad argument #1 .*pid", err)
      end
    end)
  end)
end)
