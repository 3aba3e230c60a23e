-- process_spec.lua: exec, wait, kill, getpid/getppid, pipe, socketpair,
-- prctl, get/setrlimit, get/sethostname, get/setdomainname, clock, sleep,
-- _exit (core/process.c). exec, prctl, rlimits and names are changed only in
-- children.
local H = require "support.helper"
local ns = require "ns"

local function tmpdir()
  return assert(ns.mkdtemp("/tmp/luactr-spec-XXXXXX"))
end

local function rmrf(path)
  H.sh("rm -rf '" .. path .. "'")
end

local function drop()
  assert(ns.setgroups({}))
  assert(ns.setresgid(1000))
  assert(ns.setresuid(1000))
end

-- exec(file, argv, env) in a child (in dir when given). Returns the wait
-- status and what exec returned when it failed ("errno message").
local function run(file, argv, env, dir)
  local r, w = assert(ns.pipe())
  local pid, pidfd = assert(ns.clone({}))
  if pid == 0 then
    r:close()
    local ok, err = pcall(function()
      if dir then assert(ns.chdir(dir)) end
      local _, msg, errno = ns.exec(file, argv, env)
      return tostring(errno) .. " " .. tostring(msg)
    end)
    w:write(ok and err or "raised " .. tostring(err))
    ns._exit(127)
  end
  w:close()
  local out = r:read(4096)
  r:close()
  local st = assert(ns.wait(pidfd))
  pidfd:close()
  return st, out
end

-- exec fails: the errno and message it returned.
local function exec_fails(e, file, argv, env)
  local st, out = run(file, argv, env)
  assert.are.equal(127, st.code, out)
  local errno, msg = out:match("^(%d+) (.*)$")
  assert.are.equal(e, tonumber(errno), out)
  return msg
end

-- A child that sleeps until killed; returns pid, pidfd.
local function sleeper()
  local pid, pidfd = assert(ns.clone({}))
  if pid == 0 then
    ns.sleep(30)
    ns._exit(0)
  end
  return pid, pidfd
end

local function reaped()
  local pid, pidfd = assert(ns.clone({}))
  if pid == 0 then ns._exit(0) end
  assert(ns.wait(pidfd))
  return pid, pidfd
end

describe("ns.core", function()
  H.guard()

  describe("exec()", function()
    it("runs a program and its exit code is what wait reports", function()
      local st, out = run("/bin/sh", { "sh", "-c", "exit 7" })
      assert.are.equal("", out)
      assert.is_true(st.exited)
      assert.are.equal(7, st.code)
      assert.are.equal(0, (run("/bin/true")).code)
    end)

    it("searches PATH from the given env for a name without a slash", function()
      assert.are.equal(3, (run("sh", { "sh", "-c", "exit 3" }, { PATH = "/bin" })).code)
      assert.are.equal(4, (run("sh", { "sh", "-c", "exit 4" }, { PATH = "/nonexistent:/bin" })).code)
      assert.are.equal(5, (run("sh", { "sh", "-c", "exit 5" }, { "PATH=/nonexistent::/bin" })).code)
      -- Without an env, the caller's PATH.
      assert.are.equal(6, (run("sh", { "sh", "-c", "exit 6" })).code)
    end)

    it("hands the program its env, given as a map or a list, and nothing else", function()
      local d = tmpdir()
      finally(function() rmrf(d) end)
      local script = 'echo "$X $Y" > out; env > env'
      assert.are.equal(0, (run("/bin/sh", { "sh", "-c", script }, { X = "map", Y = 1 }, d)).code)
      assert.are.equal("map 1\n", ns.readfile(d .. "/out"))
      assert.is_nil(ns.readfile(d .. "/env"):match("HOME="))
      assert.are.equal(0, (run("/bin/sh", { "sh", "-c", script }, { "X=list", "Y=2" }, d)).code)
      assert.are.equal("list 2\n", ns.readfile(d .. "/out"))
      assert.are.equal(0, (run("/bin/sh", { "sh", "-c", script }, {}, d)).code)
      assert.are.equal(" \n", ns.readfile(d .. "/out"))
    end)

    it("inherits the caller's env without one", function()
      local d = tmpdir()
      finally(function() rmrf(d) end)
      assert.are.equal(0, (run("/bin/sh", { "sh", "-c", 'echo "$PATH" > out' }, nil, d)).code)
      assert.are.equal(os.getenv("PATH") .. "\n", ns.readfile(d .. "/out"))
    end)

    it("passes argv whole: argv[1] is the program's $0, numbers become strings", function()
      local d = tmpdir()
      finally(function() rmrf(d) end)
      local script = [[tr '\0' ' ' < /proc/$$/cmdline > out; exit "$1"]]
      local st = run("/bin/sh", { "luactr-argv0", "-c", script, "x", 42 }, nil, d)
      assert.are.equal(42, st.code)
      assert.are.equal("luactr-argv0 -c " .. script .. " x 42 ", ns.readfile(d .. "/out"))
    end)

    it("keeps the strings made from numbers alive until execve", function()
      local d = tmpdir()
      finally(function() rmrf(d) end)
      local want = {}
      for i = 1, 50 do want[#want + 1] = ("%.1f"):format(i * 1000.0) end
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then
        -- A collector that runs at every step and a big env: the numbers'
        -- strings would be reclaimed while the env is built.
        collectgarbage("incremental", 1, 1000, 0)
        local argv = { "sh", "-c", 'echo "$@" > ' .. d .. '/out', "sh" }
        for i = 1, 50 do argv[#argv + 1] = i * 1000.0 end
        local env = { PATH = "/bin" }
        for i = 1, 500 do env["V" .. i] = ("x"):rep(100) end
        ns.exec("/bin/sh", argv, env)
        ns._exit(127)
      end
      assert.are.equal(0, assert(ns.wait(pidfd)).code)
      pidfd:close()
      assert.are.equal(table.concat(want, " ") .. "\n", ns.readfile(d .. "/out"))
    end)

    it("fails with ENOENT for a missing file or a name not on PATH", function()
      local msg = exec_fails(ns.E.ENOENT, "/nonexistent/luactr-spec")
      assert.matches("^exec /nonexistent/luactr%-spec: .+ %(ENOENT%)$", msg)
      msg = exec_fails(ns.E.ENOENT, "luactr-no-such-command", nil, { PATH = "/bin:/usr/bin" })
      assert.matches("^exec luactr%-no%-such%-command: ", msg)
    end)

    it("fails with EACCES for a file without x bits or a directory", function()
      local d = tmpdir()
      finally(function() rmrf(d) end)
      assert(ns.writefile(d .. "/prog", "#!/bin/sh\nexit 0\n", { create = true, mode = tonumber("644", 8) }))
      exec_fails(ns.E.EACCES, d .. "/prog")
      exec_fails(ns.E.EACCES, d)
      -- On PATH, a match that cannot run is reported when nothing else runs.
      exec_fails(ns.E.EACCES, "prog", nil, { PATH = "/nonexistent:" .. d })
    end)

    it("fails with ENOEXEC for an executable that is no known format", function()
      local d = tmpdir()
      finally(function() rmrf(d) end)
      assert(ns.writefile(d .. "/junk", "\1\2\3\4 not a program\n", { create = true, mode = tonumber("755", 8) }))
      exec_fails(ns.E.ENOEXEC, d .. "/junk")
    end)

    it("raises on an empty argv, a non-string in argv or env, or a non-table env", function()
      H.in_child(function()
        local ok, err = pcall(ns.exec, "/bin/true", {})
        assert.is_false(ok)
        assert.matches("argv is empty", err)
        ok, err = pcall(ns.exec, "/bin/true", { "true", {} })
        assert.is_false(ok)
        assert.matches("argv%[2%] is not a string", err)
        ok, err = pcall(ns.exec, "/bin/true", nil, { X = true })
        assert.is_false(ok)
        assert.matches("env map must hold string keys and string values", err)
        ok, err = pcall(ns.exec, "/bin/true", nil, "X=1")
        assert.is_false(ok)
        assert.matches("bad argument #3", err)
        ok, err = pcall(ns.exec)
        assert.is_false(ok)
        assert.matches("bad argument #1", err)
      end)
    end)
  end)

  describe("wait()", function()
    it("reports an exit by pidfd, by pid and for any child", function()
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then ns._exit(3) end
      local st = assert(ns.wait(pid))
      pidfd:close()
      assert.are.same({ pid = pid, exited = true, code = 3, status = 3 }, st)
      H.in_child(function()
        local p = assert(ns.clone({}))
        if p == 0 then ns._exit(4) end
        st = assert(ns.wait())
        assert.are.equal(p, st.pid)
        assert.are.equal(4, st.code)
        p = assert(ns.clone({}))
        if p == 0 then ns._exit(5) end
        assert.are.equal(5, assert(ns.wait(-1)).code)
      end)
    end)

    it("reports a kill: signal name and number, core, status 128 + signal", function()
      local pid, pidfd = sleeper()
      assert(ns.kill(pidfd, "KILL"))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.same({ pid = pid, killed = true, signal = "KILL", signo = 9, core = false,
        stopped = false, status = 137 }, st)
    end)

    it("returns false with nohang while the child runs", function()
      local _, pidfd = sleeper()
      assert.is_false(ns.wait(pidfd, "nohang"))
      assert.is_false(ns.wait(pidfd, { "nohang" }))
      assert(ns.kill(pidfd, "TERM"))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal("TERM", st.signal)
      assert.are.equal(143, st.status)
    end)

    it("fails with ECHILD for a process that is not a child, or one already reaped", function()
      local msg = H.fails_with(ns.E.ECHILD, ns.wait(ns.getppid()))
      assert.matches("^wait " .. ns.getppid() .. ": .+ %(ECHILD%)$", msg)
      local _, pidfd = reaped()
      H.fails_with(ns.E.ECHILD, ns.wait(pidfd))
      pidfd:close()
      H.in_child(function()
        msg = H.fails_with(ns.E.ECHILD, ns.wait())
        assert.matches("^wait any child: ", msg)
      end)
    end)

    it("raises on a pid that is not one, or an unknown option", function()
      for _, bad in ipairs({ "abc", 0, -2, 1.5 }) do
        local ok, err = pcall(ns.wait, bad)
        assert.is_false(ok, tostring(bad))
        assert.matches("bad argument #1", err)
      end
      local ok, err = pcall(ns.wait, ns.getpid(), "hang")
      assert.is_false(ok)
      assert.matches("unknown wait option 'hang' %(valid: nohang%)", err)
    end)
  end)

  describe("kill()", function()
    it("signals through a pid, TERM by default", function()
      local pid, pidfd = sleeper()
      assert.is_true(ns.kill(pid, 0))
      assert.is_true(ns.kill(pid))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal("TERM", st.signal)
    end)

    it("signals through a pidfd", function()
      local _, pidfd = sleeper()
      assert.is_true(ns.kill(pidfd, "SIGUSR1"))
      local st = assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.equal("USR1", st.signal)
      assert.are.equal(ns.SIG.USR1, st.signo)
    end)

    it("fails with ESRCH for a process that is gone", function()
      local pid, pidfd = reaped()
      local msg = H.fails_with(ns.E.ESRCH, ns.kill(pid, "KILL"))
      assert.matches("^kill " .. pid .. ": .+ %(ESRCH%)$", msg)
      msg = H.fails_with(ns.E.ESRCH, ns.kill(pidfd, 0))
      assert.matches("^kill pidfd %d+: ", msg)
      pidfd:close()
    end)

    it("fails with EPERM for another user's process", function()
      H.in_child(function()
        local root_pid = ns.getppid()
        drop()
        H.fails_with(ns.E.EPERM, ns.kill(root_pid, 0))
      end)
    end)

    it("raises when the pid is not a number, or the signal unknown", function()
      for _, bad in ipairs({ "abc", 1.5, {}, 2 ^ 40 }) do
        local ok, err = pcall(ns.kill, bad, 0)
        assert.is_false(ok, tostring(bad))
        assert.matches("bad argument #1", err)
      end
      local ok, err = pcall(ns.kill, ns.getpid(), "NOSUCHSIG")
      assert.is_false(ok)
      assert.matches("unknown signal 'NOSUCHSIG'", err)
    end)
  end)

  describe("getpid() and getppid()", function()
    it("give the process and its parent", function()
      local me = ns.getpid()
      assert.are.equal(me, tonumber(ns.readlink("/proc/self")))
      local r, w = assert(ns.pipe())
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then
        w:write(ns.getpid() .. " " .. ns.getppid())
        ns._exit(0)
      end
      w:close()
      local out = r:read()
      r:close()
      ns.wait(pidfd)
      pidfd:close()
      assert.are.equal(pid .. " " .. me, out)
    end)
  end)

  describe("pipe()", function()
    it("gives a read end and a write end; '' once every writer is closed", function()
      local r, w = assert(ns.pipe())
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then
        r:close()
        w:write("from child")
        ns._exit(0)
      end
      w:close()
      local got = {}
      repeat
        local s = assert(r:read())
        got[#got + 1] = s
      until s == ""
      r:close()
      ns.wait(pidfd)
      pidfd:close()
      assert.are.equal("from child", table.concat(got))
    end)

    it("fails with EMFILE when no fd is left", function()
      H.in_child(function()
        assert(ns.setrlimit("nofile", 0))
        H.fails_with(ns.E.EMFILE, ns.pipe())
      end)
    end)
  end)

  describe("socketpair()", function()
    it("gives two connected sockets that talk both ways", function()
      local a, b = assert(ns.socketpair())
      assert.are.equal("socket", a:kind())
      assert.are.equal(4, a:write("ping"))
      assert.are.equal("ping", b:read())
      assert.are.equal(4, b:write("pong"))
      assert.are.equal("pong", a:read())
      b:close()
      assert.are.equal("", a:read())
      a:close()
    end)

    it("fails with EMFILE when no fd is left", function()
      H.in_child(function()
        assert(ns.setrlimit("nofile", 0))
        local msg = H.fails_with(ns.E.EMFILE, ns.socketpair())
        assert.matches("^socketpair: ", msg)
      end)
    end)
  end)

  describe("prctl()", function()
    it("sets no_new_privs for good", function()
      H.in_child(function()
        assert.is_false(ns.prctl("no_new_privs"))
        assert.is_true(ns.prctl("no_new_privs", true))
        assert.is_true(ns.prctl("no_new_privs"))
        local ok, err = pcall(ns.prctl, "no_new_privs", false)
        assert.is_false(ok)
        assert.matches("no_new_privs cannot be unset", err)
      end)
    end)

    it("gets and sets pdeathsig by name or number", function()
      H.in_child(function()
        assert.are.equal(0, ns.prctl("pdeathsig"))
        assert.is_true(ns.prctl("pdeathsig", "TERM"))
        assert.are.equal("TERM", ns.prctl("pdeathsig"))
        assert.is_true(ns.prctl("pdeathsig", 9))
        assert.are.equal("KILL", ns.prctl("pdeathsig"))
        -- A real-time signal has no name: its number comes back.
        assert.is_true(ns.prctl("pdeathsig", 40))
        assert.are.equal(40, ns.prctl("pdeathsig"))
        assert.is_true(ns.prctl("pdeathsig", 0))
        assert.are.equal(0, ns.prctl("pdeathsig"))
      end)
    end)

    it("gets and sets child_subreaper, dumpable, keepcaps and name", function()
      H.in_child(function()
        assert.is_false(ns.prctl("child_subreaper"))
        assert.is_true(ns.prctl("child_subreaper", true))
        assert.is_true(ns.prctl("child_subreaper"))
        assert.is_true(ns.prctl("dumpable"))
        assert.is_true(ns.prctl("dumpable", false))
        assert.is_false(ns.prctl("dumpable"))
        assert.is_false(ns.prctl("keepcaps"))
        assert.is_true(ns.prctl("keepcaps", true))
        assert.is_true(ns.prctl("keepcaps"))
        assert.is_true(ns.prctl("name", "luactr-spec"))
        assert.are.equal("luactr-spec", ns.prctl("name"))
        assert.are.equal("luactr-spec\n", ns.readfile("/proc/self/comm"))
      end)
    end)

    it("kills an orphan with its pdeathsig and hands it to the subreaper", function()
      H.in_child(function()
        assert(ns.prctl("child_subreaper", true))
        local r, w = assert(ns.pipe())
        local mid = assert(ns.clone({}))
        if mid == 0 then
          local leaf = ns.clone({})
          if leaf == 0 then
            ns.prctl("pdeathsig", "KILL")
            w:write(tostring(ns.getpid()))
            ns.sleep(30)
            ns._exit(0)
          end
          -- Leave once the leaf has armed its pdeathsig.
          r:read(64)
          ns._exit(0)
        end
        w:close()
        assert.are.equal(0, assert(ns.wait(mid)).code)
        local st = assert(ns.wait())
        assert.are_not.equal(mid, st.pid)
        assert.are.equal("KILL", st.signal)
        r:close()
      end)
    end)

    it("fails with EPERM when keepcaps is locked", function()
      local env = ("LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH='%s/build/?.so;;'")
        :format(H.root, H.root, H.root)
      local out = H.sh(env .. " setpriv --securebits +keep_caps_locked lua5.4 -e '" ..
        [[local ns = require "ns"; print(select(3, ns.prctl("keepcaps", true)))]] .. "' 2>&1")
      assert.are.equal(tostring(ns.E.EPERM) .. "\n", out)
    end)

    it("raises on an unknown name or a wrong value", function()
      local ok, err = pcall(ns.prctl, "no_such_bit")
      assert.is_false(ok)
      assert.matches("invalid option 'no_such_bit'", err)
      ok, err = pcall(ns.prctl, "dumpable", "yes")
      assert.is_false(ok)
      assert.matches("boolean expected", err)
      ok, err = pcall(ns.prctl, "pdeathsig", "NOSUCHSIG")
      assert.is_false(ok)
      assert.matches("unknown signal", err)
    end)
  end)

  describe("getrlimit()", function()
    it("gives soft and hard limits, math.huge for unlimited", function()
      local limits = assert(ns.readfile("/proc/self/limits"))
      local function want(label)
        local s, h = limits:match(label .. "%s+(%S+)%s+(%S+)")
        return s == "unlimited" and math.huge or tonumber(s), h == "unlimited" and math.huge or tonumber(h)
      end
      local s, h = ns.getrlimit("nofile")
      local ws, wh = want("Max open files")
      assert.are.equal(ws, s)
      assert.are.equal(wh, h)
      s, h = ns.getrlimit(ns.RLIMIT.cpu)
      ws, wh = want("Max cpu time")
      assert.are.equal(ws, s)
      assert.are.equal(wh, h)
    end)

    it("raises on an unknown resource, listing the valid ones", function()
      local ok, err = pcall(ns.getrlimit, "files")
      assert.is_false(ok)
      assert.matches("unknown rlimit 'files' %(valid: as, core, cpu, .*nofile", err)
    end)

    it("fails with EINVAL for a resource number the kernel does not know", function()
      H.fails_with(ns.E.EINVAL, ns.getrlimit(1000))
    end)
  end)

  describe("setrlimit()", function()
    it("lowers the soft limit, keeping the hard one by default", function()
      H.in_child(function()
        local _, hard = ns.getrlimit("nofile")
        assert.is_true(ns.setrlimit("nofile", 64))
        assert.are.same({ 64, hard }, { ns.getrlimit("nofile") })
        assert.is_true(ns.setrlimit("nofile", 32, 64))
        assert.are.same({ 32, 64 }, { ns.getrlimit("nofile") })
        assert.is_true(ns.setrlimit("cpu", "unlimited", math.huge))
        assert.are.equal(math.huge, (ns.getrlimit("cpu")))
      end)
    end)

    it("fails with EPERM raising a hard limit (no CAP_SYS_RESOURCE here)", function()
      H.in_child(function()
        local soft, hard = ns.getrlimit("nofile")
        assert(ns.setrlimit("nofile", soft - 1, hard - 1))
        local msg = H.fails_with(ns.E.EPERM, ns.setrlimit("nofile", soft - 1, hard))
        assert.matches("^setrlimit nofile: .+ %(EPERM%)$", msg)
      end)
    end)

    it("fails with EINVAL when soft exceeds hard", function()
      H.in_child(function()
        H.fails_with(ns.E.EINVAL, ns.setrlimit("nofile", 100, 50))
      end)
    end)

    it("raises on a limit that is not a count", function()
      for _, bad in ipairs({ -1, 1.5, "many", {} }) do
        local ok, err = pcall(ns.setrlimit, "nofile", bad)
        assert.is_false(ok, tostring(bad))
        assert.matches("bad argument #2", err)
      end
      local ok, err = pcall(ns.setrlimit, "nofiles", 1)
      assert.is_false(ok)
      assert.matches("unknown rlimit 'nofiles'", err)
    end)
  end)

  describe("sethostname() and gethostname()", function()
    it("set the name in a new uts namespace, not the host's", function()
      local host = assert(ns.gethostname())
      local out = H.child_value(function()
        assert.is_true(ns.sethostname("luactr-spec"))
        return ns.gethostname()
      end, { "uts" })
      assert.are.equal("luactr-spec", out)
      assert.are.equal(host, ns.gethostname())
      assert.are.equal(host .. "\n", ns.readfile("/proc/sys/kernel/hostname"))
    end)

    it("fail with EPERM without CAP_SYS_ADMIN", function()
      H.in_child(function()
        drop()
        local msg = H.fails_with(ns.E.EPERM, ns.sethostname("luactr-spec"))
        assert.matches("^sethostname luactr%-spec: .+ %(EPERM%)$", msg)
      end, { "uts" })
    end)

    it("fail with EINVAL for a name longer than 64 bytes", function()
      H.in_child(function()
        H.fails_with(ns.E.EINVAL, ns.sethostname(("x"):rep(65)))
      end, { "uts" })
    end)

    it("raise on a name that is not a string", function()
      local ok, err = pcall(ns.sethostname, {})
      assert.is_false(ok)
      assert.matches("bad argument #1", err)
    end)
  end)

  describe("setdomainname() and getdomainname()", function()
    it("set the NIS domain in a new uts namespace, not the host's", function()
      local host = assert(ns.getdomainname())
      local out = H.child_value(function()
        assert.is_true(ns.setdomainname("luactr.spec"))
        return ns.getdomainname()
      end, { "uts" })
      assert.are.equal("luactr.spec", out)
      assert.are.equal(host, ns.getdomainname())
    end)

    it("fail with EPERM without CAP_SYS_ADMIN, EINVAL for a long name", function()
      H.in_child(function()
        H.fails_with(ns.E.EINVAL, ns.setdomainname(("x"):rep(65)))
        drop()
        H.fails_with(ns.E.EPERM, ns.setdomainname("luactr.spec"))
      end, { "uts" })
    end)
  end)

  describe("clock() and sleep()", function()
    it("measure and wait", function()
      local t0 = ns.clock()
      assert.is_true(ns.sleep(0.02))
      local dt = ns.clock("monotonic") - t0
      assert.is_true(dt >= 0.02 and dt < 5, tostring(dt))
      assert.is_true(math.abs(ns.clock("realtime") - os.time()) < 2)
      assert.is_true(ns.clock("boottime") >= ns.clock("monotonic") - 1)
      assert.is_true(ns.clock("process") > 0)
      assert.is_true(ns.clock("thread") > 0)
    end)

    it("raise on an unknown clock or a negative time", function()
      local ok, err = pcall(ns.clock, "wall")
      assert.is_false(ok)
      assert.matches("invalid option 'wall'", err)
      ok, err = pcall(ns.sleep, -1)
      assert.is_false(ok)
      assert.matches("seconds out of range", err)
    end)
  end)

  describe("_exit()", function()
    it("ends the process with the low 8 bits of the code", function()
      for code, want in pairs({ [0] = 0, [1] = 1, [300] = 44 }) do
        local pid, pidfd = assert(ns.clone({}))
        if pid == 0 then ns._exit(code) end
        assert.are.equal(want, assert(ns.wait(pidfd)).code)
        pidfd:close()
      end
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then ns._exit() end
      assert.are.equal(0, assert(ns.wait(pidfd)).code)
      pidfd:close()
    end)
  end)
end)
