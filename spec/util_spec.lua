-- util_spec.lua: what every area of ns.core shares: the module itself
-- (core/core.c), read-only constant tables, the error contract (nil,
-- "<call> <arg>: <strerror> (<ENAME>)", errno), name/option checks
-- (core/util.c) and fd handles (core/fd.c).
local H = require "support.helper"
local ns = require "ns"

-- A fresh lua5.4 that loads this tree's ns (never an installed copy).
local function lua(code)
  return H.sh(H.lua_env .. " lua5.4 -e '" .. code .. "' 2>&1")
end

local function is_open(n)
  return ns.readlink("/proc/self/fd/" .. n) ~= nil
end

local function fdflags(h)
  local info = assert(ns.readfile("/proc/self/fdinfo/" .. h:fileno()))
  return tonumber(info:match("flags:%s*(%d+)"), 8)
end

local O_CLOEXEC = tonumber("2000000", 8)

describe("ns.core", function()
  H.guard()

  describe("require", function()
    it("does not touch the global table", function()
      local out, code = lua([[
        local before = {}
        for k, v in pairs(_G) do before[k] = v end
        local ns = require "ns"
        assert(ns.getpid and require "ns.core")
        for k, v in pairs(_G) do
          if before[k] ~= v then io.write("added ", tostring(k), "\n") end
        end
        for k in pairs(before) do
          if _G[k] == nil then io.write("removed ", tostring(k), "\n") end
        end
        io.write("done")
      ]])
      assert.are.equal(0, code)
      assert.are.equal("done", out)
    end)

    it("gives every function of ns.core through ns", function()
      local core = require "ns.core"
      for k, v in pairs(core) do
        assert.are.equal(v, ns[k], k)
      end
      assert.matches("^luactr %d+%.%d+", ns._VERSION)
    end)

    it("lists only submodules that exist, each loaded on first use, none making a global", function()
      local names = {}
      for k in pairs(ns._submodules) do names[#names + 1] = k end
      table.sort(names)
      for _, k in ipairs(names) do
        local fresh = H.assert_no_new_globals("ns." .. k)
        assert.is_table(fresh, k)
        assert.is_table(ns[k], k)
      end
      assert.is_true(#names >= 9)
    end)

    it("raises on an unknown field of ns", function()
      local ok, err = pcall(function() return ns.no_such_binding end)
      assert.is_false(ok)
      assert.matches("ns has no field 'no_such_binding'", err)
    end)
  end)

  describe("constant tables", function()
    it("map names to the kernel's numbers", function()
      assert.are.equal(1, ns.E.EPERM)
      assert.are.equal(2, ns.E.ENOENT)
      assert.are.equal(13, ns.E.EACCES)
      assert.are.equal(9, ns.SIG.KILL)
      assert.are.equal(15, ns.SIG.TERM)
      assert.are.equal(0x20000000, ns.CLONE.pid)
      assert.are.equal(0x00020000, ns.CLONE.mnt)
      assert.are.equal(4096, ns.MS.bind)
      assert.are.equal(4096 | 16384, ns.MS.rbind)
      assert.are.equal(2, ns.MNT.detach)
      assert.are.equal(7, ns.RLIMIT.nofile)
      assert.are.equal(0, ns.O.rdonly)
    end)

    it("raise on an unknown key, naming the table and the key", function()
      for _, t in ipairs({ "E", "SIG", "CLONE", "MS", "MNT", "O", "RLIMIT" }) do
        local ok, err = pcall(function() return ns[t].NO_SUCH_KEY end)
        assert.is_false(ok)
        assert.matches("ns%." .. t .. " has no key 'NO_SUCH_KEY'", err)
      end
    end)

    it("list their keys sorted for an unknown key, or for a long table its size, after a typo's match", function()
      local ok, err = pcall(function() return ns.CLONE.bogus end)
      assert.is_false(ok)
      assert.are.equal("ns.CLONE has no key 'bogus' (valid: cgroup, files, fs, ipc, mnt, net, pid, sysvsem, time, user, uts)", err)
      ok, err = pcall(function() return ns.SIG.TREM end)
      assert.is_false(ok)
      assert.matches("^ns.SIG has no key 'TREM' %(did you mean 'TERM'%? valid: ABRT, ALRM, BUS, CHLD, CONT,", err)
      ok, err = pcall(function() return ns.MS.BIND end)
      assert.is_false(ok)
      assert.matches("^ns.MS has no key 'BIND' %(did you mean 'bind'%? valid: bind, dirsync,", err)
      ok, err = pcall(function() return ns.E.EPREM end)
      assert.is_false(ok)
      assert.matches("^ns.E has no key 'EPREM' %(did you mean 'EPERM'%? %d+ names: pairs%(ns.E%)%)$", err)
    end)

    it("are read-only and their metatable is protected", function()
      local ok, err = pcall(function() ns.E.EPERM = 99 end)
      assert.is_false(ok)
      assert.matches("ns.E is read%-only", err)
      ok = pcall(function() ns.MS.new_flag = 1 end)
      assert.is_false(ok)
      assert.are.equal(1, ns.E.EPERM)
      assert.is_false(getmetatable(ns.E))
      assert.has_error(function() setmetatable(ns.E, nil) end)
    end)

    it("walk with pairs", function()
      local n, seen = 0, {}
      for k, v in pairs(ns.E) do
        n = n + 1
        seen[k] = v
      end
      assert.is_true(n > 100)
      assert.are.equal(ns.E.ENOENT, seen.ENOENT)
      local flags = {}
      for k in pairs(ns.CLONE) do flags[#flags + 1] = k end
      table.sort(flags)
      assert.are.same({ "cgroup", "files", "fs", "ipc", "mnt", "net", "pid", "sysvsem", "time", "user", "uts" }, flags)
    end)
  end)

  describe("error contract", function()
    it("returns nil, '<call> <arg>: <strerror> (<ENAME>)', errno", function()
      local ok, msg, errno = ns.readfile("/nonexistent/luactr-spec")
      assert.is_nil(ok)
      assert.are.equal(ns.E.ENOENT, errno)
      assert.matches("^open /nonexistent/luactr%-spec: .+ %(ENOENT%)$", msg)
    end)

    it("leaves out the argument when the call has none", function()
      H.in_child(function()
        assert(ns.setrlimit("nofile", 0))
        local msg = H.fails_with(ns.E.EMFILE, ns.pipe())
        assert.matches("^pipe: .+ %(EMFILE%)$", msg)
      end)
    end)

    it("raises on misuse, naming the argument", function()
      local ok, err = pcall(ns.readfile, {})
      assert.is_false(ok)
      assert.matches("bad argument #1 to '[%w.]*readfile'", err)
    end)

    it("raises on an unknown name with the list of valid names", function()
      local ok, err = pcall(ns.unshare, "bogus")
      assert.is_false(ok)
      assert.matches("unknown namespace 'bogus' %(valid: cgroup, files, fs, ipc, mnt, net, pid, sysvsem, time, user, uts%)", err)
    end)

    it("names the valid name that an unknown one is a typo of", function()
      for _, case in ipairs({
        { function() return ns.prctl("nonewprivs") end, "invalid option 'nonewprivs' (did you mean 'no_new_privs'? "
          .. "valid: child_subreaper, dumpable, keepcaps, name, no_new_privs, pdeathsig)" },
        { function() return ns.sigmask("sett", {}) end, "(did you mean 'set'? valid: block, set, unblock)" },
        { function() return ns.kill(1, "TREM") end, "unknown signal 'TREM' (did you mean 'TERM'? valid: ABRT, ALRM," },
        { function() return ns.unshare("nett") end, "unknown namespace 'nett' (did you mean 'net'? valid: cgroup," },
        { function() return ns.writefile("/nonexistent/luactr-spec", "x", { Mode = "0644" }) end,
          "unknown option 'Mode' (did you mean 'mode'? valid: append, create, mode)" },
        { function() return ns.unshare("zzzzzz") end, "unknown namespace 'zzzzzz' (valid: cgroup," },
      }) do
        local ok, err = pcall(case[1])
        assert.is_false(ok)
        assert.matches(case[2], err, 1, true)
      end
    end)

    it("raises on a list of names that holds something else", function()
      local ok, err = pcall(ns.unshare, { "uts", true })
      assert.is_false(ok)
      assert.matches("namespace list holds a boolean", err)
      ok, err = pcall(ns.unshare, { 1.5 })
      assert.is_false(ok)
      assert.matches("namespace list holds a non%-integer number", err)
      ok, err = pcall(ns.unshare, true)
      assert.is_false(ok)
      assert.matches("name, list of names or number expected", err)
    end)

    it("raises on an unknown option key, naming it", function()
      local ok, err = pcall(ns.writefile, "/nonexistent/luactr-spec", "x", { creat = true })
      assert.is_false(ok)
      assert.matches("unknown option 'creat' %(did you mean 'create'%? valid: append, create, mode%)", err)
      ok, err = pcall(ns.writefile, "/nonexistent/luactr-spec", "x", { "create" })
      assert.is_false(ok)
      assert.matches("unknown option '1'", err)
    end)

    it("takes signals by name, SIG name, any case, or number", function()
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then ns.sleep(10); ns._exit(0) end
      assert.is_true(ns.kill(pid, 0))
      assert.is_true(ns.kill(pidfd, "sigstop"))
      assert.is_true(ns.kill(pidfd, "CONT"))
      assert.is_true(ns.kill(pid, ns.SIG.KILL))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal("KILL", st.signal)
      local ok, err = pcall(ns.kill, pid, "SIGBOGUS")
      assert.is_false(ok)
      assert.matches("unknown signal 'BOGUS' %(valid: ABRT, ALRM, BUS,", err)
      ok, err = pcall(ns.kill, pid, 1000)
      assert.is_false(ok)
      assert.matches("signal number out of range", err)
    end)
  end)

  describe("fd handles", function()
    it("are ns.fd userdata that say what they are", function()
      local r, w = assert(ns.pipe())
      assert.are.equal("pipe", r:kind())
      assert.matches("^pipe %(fd %d+%)$", tostring(r))
      assert.is_true(r:close())
      assert.are.equal("pipe (closed)", tostring(r))
      assert.is_nil(r:fileno())
      w:close()
    end)

    it("are opened close-on-exec", function()
      local r, w = assert(ns.pipe())
      local a, b = assert(ns.socketpair())
      local f = assert(ns.open("/dev/null"))
      for _, h in ipairs({ r, w, a, b, f }) do
        assert.are.equal(O_CLOEXEC, fdflags(h) & O_CLOEXEC, tostring(h))
        h:close()
      end
    end)

    it("close once however often :close, __close and __gc run", function()
      local n
      do
        local h <close> = assert(ns.open("/dev/null"))
        n = h:fileno()
        assert.is_true(is_open(n))
        assert.is_true(h:close())
        assert.is_true(h:close())
      end
      assert.is_false(is_open(n))
      do
        local h <close> = assert(ns.open("/dev/null"))
        n = h:fileno()
      end
      assert.is_false(is_open(n))
      do
        local h = assert(ns.open("/dev/null"))
        n = h:fileno()
      end
      collectgarbage()
      collectgarbage()
      assert.is_false(is_open(n))
    end)

    it("raise when used after close", function()
      local r, w = assert(ns.pipe())
      r:close()
      w:close()
      local ok, err = pcall(r.read, r)
      assert.is_false(ok)
      assert.matches("attempt to use a closed fd", err)
      ok, err = pcall(w.write, w, "x")
      assert.is_false(ok)
      assert.matches("attempt to use a closed fd", err)
    end)

    it("read, write and see end of file as ''", function()
      local r, w = assert(ns.pipe())
      assert.are.equal(5, w:write("hello"))
      assert.are.equal("he", r:read(2))
      assert.are.equal("llo", r:read())
      w:close()
      assert.are.equal("", r:read())
      r:close()
    end)

    it("report a failed read or write with errno", function()
      local r, w = assert(ns.pipe())
      local msg = H.fails_with(ns.E.EBADF, w:read())
      assert.matches("^read pipe: .+ %(EBADF%)$", msg)
      msg = H.fails_with(ns.E.EBADF, r:write("x"))
      assert.matches("^write pipe: .+ %(EBADF%)$", msg)
      r:close()
      w:close()
    end)

    it("raise on a read size out of range", function()
      local r, w = assert(ns.pipe())
      local ok, err = pcall(r.read, r, 0)
      assert.is_false(ok)
      assert.matches("size out of range", err)
      r:close()
      w:close()
    end)

    it("take a plain fd number in their methods without crashing", function()
      -- A child: a crash here must not take busted down.
      local out = H.child_value(function()
        local r, w = assert(ns.pipe())
        local fd = w:fileno()
        local _, m, e = r.read(fd)
        local _, m2, e2 = w.write(r:fileno(), "x")
        return ("%s|%d|%s|%d"):format(m, e, m2, e2)
      end)
      local m, e, m2, e2 = out:match("^(.-)|(%d+)|(.-)|(%d+)$")
      assert.are.equal(ns.E.EBADF, tonumber(e))
      assert.are.equal(ns.E.EBADF, tonumber(e2))
      assert.matches("^read fd: ", m)
      assert.matches("^write fd: ", m2)
    end)

    it("report a failed close", function()
      local h = assert(ns.open("/dev/null"))
      local n = h:fileno()
      -- A second owner of the same number closes it first.
      local other = ns.fd(n, "dir")
      assert.are.equal("dir", other:kind())
      assert.is_true(other:close())
      H.fails_with(ns.E.EBADF, h:close())
      assert.are.equal("fd (closed)", tostring(h))
      assert.is_true(h:close())
    end)
  end)

  describe("fd()", function()
    it("wraps an fd number in an owning handle", function()
      local h = assert(ns.open("/dev/null"))
      local n = h:fileno()
      local g = ns.fd(n, "pidfd")
      assert.are.equal("pidfd (fd " .. n .. ")", tostring(g))
      assert.are.equal(n, g:fileno())
      g:close()
      assert.is_false(is_open(n))
      H.fails_with(ns.E.EBADF, h:close())
      local r, w = assert(ns.pipe())
      local plain = ns.fd(r:fileno())
      assert.are.equal("fd", plain:kind())
      plain:close()
      H.fails_with(ns.E.EBADF, r:close())
      w:close()
    end)

    it("raises on a bad fd or kind", function()
      local ok, err = pcall(ns.fd, "x")
      assert.is_false(ok)
      assert.matches("fd expected", err)
      ok, err = pcall(ns.fd, -1)
      assert.is_false(ok)
      assert.matches("fd out of range", err)
      ok, err = pcall(ns.fd, 0, "bogus")
      assert.is_false(ok)
      assert.matches("invalid option 'bogus'", err)
    end)
  end)

  describe("fileno()", function()
    it("gives the fd of a Lua io file, an fd handle or a number", function()
      assert.are.equal(1, ns.fileno(io.stdout))
      assert.are.equal(2, ns.fileno(io.stderr))
      local f <close> = assert(io.tmpfile())
      local st = assert(ns.stat("/proc/self/fd/" .. ns.fileno(f)))
      assert.are.equal("file", st.type)
      local r, w = assert(ns.pipe())
      assert.are.equal(r:fileno(), ns.fileno(r))
      assert.are.equal(7, ns.fileno(7))
      r:close()
      w:close()
    end)

    it("raises on a closed file or handle, or what is no fd", function()
      local f = assert(io.tmpfile())
      f:close()
      local ok, err = pcall(ns.fileno, f)
      assert.is_false(ok)
      assert.matches("closed file", err, 1, true)
      local r, w = assert(ns.pipe())
      r:close()
      w:close()
      ok, err = pcall(ns.fileno, r)
      assert.is_false(ok)
      assert.matches("closed fd", err, 1, true)
      ok, err = pcall(ns.fileno, {})
      assert.is_false(ok)
      assert.matches("fd handle, io file or fd number expected, got table", err, 1, true)
    end)
  end)
end)
