-- tty_spec.lua: terminals and the supervisor's event loop: openpty,
-- isatty, rawmode, winsize, setsid, setctty, relay (core/tty.c), signalfd,
-- sigread, sigmask, poll (core/signals.c) and dup2 (core/fd.c). What changes process-wide state (the
-- signal mask, the session, terminal modes, fd 0..9) runs in a separate
-- lua5.4 process; busted's own process only gets private ptys. Last,
-- ./luactr examples/busybox.lua in a private tmux server, typed at as a
-- user would.
local H = require "support.helper"
local ns = require "ns.core"

-- Read fd until want has come (a pty hands data on in pieces). One source
-- serves both sides: read_until below, and the children through LIB.
local READ_UNTIL = [==[
local function read_until(fd, want)
  local got = ""
  while not got:find(want, 1, true) do
    assert(ns.poll({ fd }, 2000)[1], "timed out waiting for " .. want .. " after " .. got)
    got = got .. fd:read()
  end
  return got
end
]==]
-- the busted process's own, from that source
local read_until = load(READ_UNTIL .. "return read_until", "=read_until", "t", { ns = ns, assert = assert })()

-- What a child has besides H.lua_child's ns and bits(field): helpers that
-- read /proc, spawn(path, cmd) and read_until.
local LIB = READ_UNTIL .. [==[
local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end
-- pid, session id and tty_nr, from /proc/self/stat
local function stat()
  local s = slurp("/proc/self/stat")
  local pid, rest = s:match("^(%d+) %b() (.*)$")
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  return { pid = tonumber(pid), session = tonumber(f[4]), tty_nr = tonumber(f[5]) }
end
-- Whether a program this process runs gets fd (false: close-on-exec).
local function inherited(fd)
  return os.execute("[ -e /proc/self/fd/" .. fd .. " ]") == true
end
-- dup2(n, n) changes nothing and fails with EBADF when n is not open.
local function openfds()
  local t = {}
  for n = 0, 127 do if ns.dup2(n, n) then t[n] = true end end
  return t
end
-- Run the shell command cmd with the terminal at path as its stdio. The
-- popen pipe is its fd 3: the write end that this process keeps reports
-- POLLERR once the shell and all it started have exited, which makes it a
-- stand-in for a pidfd. Returns the popen handle and that fd's number.
local function spawn(path, cmd)
  local before = openfds()
  local p = assert(io.popen("exec 3<&0 <" .. path .. " >" .. path .. " 2>&1; " .. cmd, "w"))
  local fd
  for n in pairs(openfds()) do
    if not before[n] then assert(not fd, "two new fds"); fd = n end
  end
  return p, assert(fd, "no new fd")
end
]==]

-- Run code (a function body) in a fresh lua5.4 that has LIB too; returns
-- what the child wrote to its fd 1, then what code returns. opts.stdin
-- (what feeds fd 0) and opts.sh (ulimit): see H.lua_child.
local function child(code, opts)
  return H.lua_child(LIB .. code, opts)
end

local ENOTTY, EBADF, EMFILE, EPERM, EINVAL = 25, 9, 24, 1, 22

-- A pty pair in the busted process, closed when the spec ends.
local function pty()
  local m, s, path = assert(ns.openpty())
  finally(function() m:close(); s:close() end)
  return m, s, path
end

-- Fill every free fd (ulimit -n 16), run what, then let go.
local FILL = [[
  local hold = {}
  while true do
    local f = io.open("/dev/null")
    if not f then break end
    hold[#hold + 1] = f
  end
]]

describe("ns.core", function()
  H.guard()

  describe("tty", function()
    it("does not touch the global table", function()
      for _, name in ipairs { "openpty", "isatty", "rawmode", "winsize", "setsid", "setctty",
        "dup2", "signalfd", "sigread", "sigmask", "poll", "relay" } do
        assert.is_function(ns[name], name)
        assert.is_nil(rawget(_G, name), name)
      end
    end)
  end)

  describe("openpty()", function()
    it("opens a master and a slave that talk to each other", function()
      local m, s, path = pty()
      assert.are.equal("pty", m:kind())
      assert.are.equal("pty", s:kind())
      assert.matches("^/dev/pts/%d+$", path)
      assert.are.equal(m:fileno() + 1, s:fileno())
      m:write("ping\n")
      assert.are.same({ 1 }, ns.poll({ s }, 2000))
      assert.are.equal("ping\n", s:read())
      s:write("pong")
      assert.are.same({ 1 }, ns.poll({ m }, 2000))
      assert.are.equal("ping\r\npong", read_until(m, "pong")) -- after the echo of "ping"
    end)

    it("opens both close-on-exec, and the slave without making it the controlling terminal", function()
      local _, cm, cs, tty_nr, sid, pid = child [[
        local sid = ns.setsid()
        local m, s = ns.openpty()
        return not inherited(m:fileno()), not inherited(s:fileno()), stat().tty_nr, sid, stat().pid
      ]]
      assert.is_true(cm)
      assert.is_true(cs)
      assert.are.equal(pid, sid)
      assert.are.equal(0, tty_nr)
    end)

    it("fails with EMFILE when no fd is free, and leaves no fd behind", function()
      local _, ok, msg, errno, ok2, msg2, errno2, freed = child(FILL .. [[
        local ok, msg, errno = ns.openpty()
        hold[#hold]:close()
        hold[#hold] = nil
        -- one fd free: the master opens, the slave cannot
        local ok2, msg2, errno2 = ns.openpty()
        local f = io.open("/dev/null")
        return ok, msg, errno, ok2, msg2, errno2, f ~= nil
      ]], { sh = "ulimit -n 16; " })
      msg = H.fails_with(EMFILE, ok, msg, errno)
      assert.matches("^posix_openpt /dev/ptmx: .* %(EMFILE%)$", msg)
      msg2 = H.fails_with(EMFILE, ok2, msg2, errno2)
      assert.matches("^ioctl TIOCGPTPEER: .* %(EMFILE%)$", msg2)
      assert.is_true(freed)
    end)
  end)

  describe("isatty()", function()
    it("says true for a terminal", function()
      local m, s = pty()
      assert.is_true(ns.isatty(m))
      assert.is_true(ns.isatty(s:fileno()))
    end)

    it("says false for a pipe and for a closed fd", function()
      local _, pipe, closed = child [[ return ns.isatty(0), ns.isatty(1 << 30) ]]
      assert.is_false(pipe)
      assert.is_false(closed)
      assert.has_error(function() ns.isatty("0") end)
    end)
  end)

  describe("rawmode()", function()
    it("makes a terminal raw until restore() puts its settings back", function()
      local _, t = child [[
        local t = {}
        local m, s = ns.openpty()
        local r = assert(ns.rawmode(s))
        t.name = tostring(r)
        m:write("a")
        t.raw_ready = ns.poll({ s }, 2000)   -- no line needed
        t.raw_read = s:read()
        t.raw_echo = ns.poll({ m }, 100)     -- and no echo
        t.restore1 = r:restore()
        t.restore2 = r:restore()             -- idempotent
        t.restored = tostring(r)
        m:write("b")
        t.cooked_ready = ns.poll({ s }, 100) -- waits for a line again
        t.cooked_echo = ns.poll({ m }, 2000)
        m:write("\n")
        t.line = s:read()
        t.echo = read_until(m, "\n")
        do
          local r2 <close> = assert(ns.rawmode(s))
        end
        m:write("c")
        t.closed_ready = ns.poll({ s }, 100)  -- <close> restored it
        return t
      ]]
      assert.matches("^rawmode %(fd %d+%)$", t.name)
      assert.are.same({ 1 }, t.raw_ready)
      assert.are.equal("a", t.raw_read)
      assert.are.same({}, t.raw_echo)
      assert.is_true(t.restore1)
      assert.is_true(t.restore2)
      assert.are.equal("rawmode (restored)", t.restored)
      assert.are.same({}, t.cooked_ready)
      assert.are.same({ 1 }, t.cooked_echo)
      assert.are.equal("b\n", t.line)
      assert.are.equal("b\r\n", t.echo)
      assert.are.same({}, t.closed_ready)
    end)

    it("fails with ENOTTY on a pipe", function()
      local _, ok, msg, errno = child [[ return ns.rawmode(0) ]]
      msg = H.fails_with(ENOTTY, ok, msg, errno)
      assert.are.equal("tcgetattr fd 0: Inappropriate ioctl for device (ENOTTY)", msg)
    end)
  end)

  describe("winsize()", function()
    it("sets and gets a terminal's size", function()
      local m, s = pty()
      assert.is_true(ns.winsize(s, 24, 80))
      local rows, cols = ns.winsize(m)
      assert.are.equal(24, rows)
      assert.are.equal(80, cols)
      assert.is_true(ns.winsize(m:fileno(), 50, 132))
      rows, cols = ns.winsize(s)
      assert.are.equal(50, rows)
      assert.are.equal(132, cols)
      assert.has_error(function() ns.winsize(s, 70000, 1) end)
      assert.has_error(function() ns.winsize(s, 24) end)
    end)

    it("fails with ENOTTY on a pipe", function()
      local _, ok, msg, errno, ok2, _, errno2 = child [[
        local ok, msg, errno = ns.winsize(0)
        return ok, msg, errno, ns.winsize(0, 24, 80)
      ]]
      msg = H.fails_with(ENOTTY, ok, msg, errno)
      assert.are.equal("ioctl TIOCGWINSZ fd 0: Inappropriate ioctl for device (ENOTTY)", msg)
      assert.is_nil(ok2)
      assert.are.equal(ENOTTY, errno2)
    end)
  end)

  describe("setsid()", function()
    it("starts a new session and returns its id", function()
      local _, sid, st = child [[ local sid = ns.setsid(); return sid, stat() ]]
      assert.are.equal(st.pid, sid)
      assert.are.equal(st.pid, st.session)
    end)

    it("fails with EPERM for a session leader", function()
      local _, ok, msg, errno = child [[ assert(ns.setsid()); return ns.setsid() ]]
      msg = H.fails_with(EPERM, ok, msg, errno)
      assert.are.equal("setsid: Operation not permitted (EPERM)", msg)
    end)
  end)

  describe("setctty()", function()
    it("makes a terminal the session's controlling terminal", function()
      local _, ok, before, after, devtty = child [[
        assert(ns.setsid())
        local m, s = ns.openpty()
        local before = stat().tty_nr
        local ok = ns.setctty(s)
        -- the master closing at exit hangs the terminal up: no SIGHUP death
        assert(ns.sigmask("block", "HUP"))
        local f = io.open("/dev/tty")
        if f then f:close() end
        return ok, before, stat().tty_nr, f ~= nil
      ]]
      assert.is_true(ok)
      assert.are.equal(0, before)
      assert.are_not.equal(0, after)
      assert.is_true(devtty)
    end)

    it("fails with ENOTTY on a pipe", function()
      local _, ok, msg, errno = child [[ assert(ns.setsid()); return ns.setctty(0) ]]
      msg = H.fails_with(ENOTTY, ok, msg, errno)
      assert.are.equal("ioctl TIOCSCTTY fd 0: Inappropriate ioctl for device (ENOTTY)", msg)
    end)
  end)

  describe("dup2()", function()
    it("duplicates an fd onto a number, not close-on-exec", function()
      local _, ok1, ok2, ce9, ce8, got = child [[
        local m, s = ns.openpty()
        local ok1 = ns.dup2(s, 9)
        local ok2 = ns.dup2(s:fileno(), 8)
        local ce9, ce8 = not inherited(9), not inherited(8)
        local h9 <close> = ns.fd(9, "pty")
        local h8 <close> = ns.fd(8, "pty")
        h9:write("x\n")
        h8:write("y\n")
        return ok1, ok2, ce9, ce8, read_until(m, "y\r\n")
      ]]
      assert.is_true(ok1)
      assert.is_true(ok2)
      assert.is_false(ce9)
      assert.is_false(ce8)
      assert.are.equal("x\r\ny\r\n", got)
    end)

    it("fails with EBADF for an fd that is not open", function()
      local _, ok, msg, errno = child [[ return ns.dup2(1 << 30, 9) ]]
      msg = H.fails_with(EBADF, ok, msg, errno)
      assert.are.equal("dup2 fd 1073741824 to fd 9: Bad file descriptor (EBADF)", msg)
      assert.has_error(function() ns.dup2(0) end)
      assert.has_error(function() ns.dup2(-1, 3) end)
    end)
  end)

  describe("signalfd()", function()
    it("receives the given signals, which it blocks", function()
      local _, t = child [[
        local t = {}
        local sfd = ns.signalfd { "USR1", "SIGTERM", 12 }
        t.kind, t.cloexec, t.blocked = sfd:kind(), not inherited(sfd:fileno()), bits("SigBlk")
        t.none = ns.sigread(sfd) == nil
        os.execute("kill -USR1 " .. stat().pid .. "; kill -USR2 " .. stat().pid)
        t.ready = ns.poll({ sfd }, 2000)
        t.first, t.second = ns.sigread(sfd), ns.sigread(sfd)
        t.after = ns.sigread(sfd) == nil
        sfd:close()
        return t
      ]]
      assert.are.equal("signalfd", t.kind)
      assert.is_true(t.cloexec)
      assert.are.same({ 9, 11, 14 }, t.blocked) -- USR1, USR2, TERM (bit = signal - 1)
      assert.is_true(t.none)
      assert.are.same({ 1 }, t.ready)
      assert.are.equal("USR1", t.first)
      assert.are.equal("USR2", t.second)
      assert.is_true(t.after)
    end)

    it("fails with EMFILE when no fd is free, leaving the mask alone", function()
      local _, ok, msg, errno, blocked = child(FILL .. [[
        local ok, msg, errno = ns.signalfd { "TERM" }
        hold[#hold]:close()
        return ok, msg, errno, bits("SigBlk")
      ]], { sh = "ulimit -n 16; " })
      msg = H.fails_with(EMFILE, ok, msg, errno)
      assert.matches("^signalfd: .* %(EMFILE%)$", msg)
      assert.are.same({}, blocked)
    end)

    it("raises on an unknown signal", function()
      assert.has_error(function() ns.signalfd { "TERM", "NOPE" } end)
      assert.has_error(function() ns.signalfd { 0 } end)
    end)
  end)

  describe("sigread()", function()
    it("gives nil when nothing is pending, then the next signal's name", function()
      local _, none, got = child [[
        local sfd = ns.signalfd "HUP"
        local none = ns.sigread(sfd)
        os.execute("kill -HUP " .. stat().pid)
        return none == nil, ns.sigread(sfd)
      ]]
      assert.is_true(none)
      assert.are.equal("HUP", got)
    end)

    it("fails with EBADF on a closed fd and EINVAL on what is not a signalfd", function()
      local _, ok, msg, errno, ok2, msg2, errno2 = child [[
        local ok, msg, errno = ns.sigread(1 << 30)
        return ok, msg, errno, ns.sigread(0) -- fd 0: a pipe at its end
      ]]
      msg = H.fails_with(EBADF, ok, msg, errno)
      assert.are.equal("read fd 1073741824: Bad file descriptor (EBADF)", msg)
      msg2 = H.fails_with(EINVAL, ok2, msg2, errno2)
      assert.are.equal("read fd 0: Invalid argument (EINVAL)", msg2)
    end)
  end)

  describe("sigmask()", function()
    it("blocks, unblocks and sets the signal mask", function()
      local _, t = child [[
        local t = {}
        t.block = { ns.sigmask("block", { "USR1", 12 }), bits("SigBlk") }
        t.unblock = { ns.sigmask("unblock", "SIGUSR1"), bits("SigBlk") }
        t.all = { ns.sigmask("set", "all"), bits("SigBlk") }
        t.clear = { ns.sigmask("set", {}), bits("SigBlk") }
        return t
      ]]
      assert.are.same({ true, { 9, 11 } }, t.block)
      assert.are.same({ true, { 11 } }, t.unblock)
      assert.is_true(t.all[1])
      local all = {}
      for _, b in ipairs(t.all[2]) do all[b] = true end
      for sig = 1, 31 do
        if sig ~= 9 and sig ~= 19 then assert.is_true(all[sig - 1], "signal " .. sig) end
      end
      assert.is_nil(all[8])  -- KILL cannot be blocked
      assert.is_nil(all[18]) -- nor STOP
      assert.are.same({ true, {} }, t.clear)
    end)

    it("raises on an unknown how or signal (it has no failure of its own)", function()
      -- sigprocmask(2) fails only for a bad how or pointer, which the
      -- checks rule out; misuse raises before the mask changes.
      local _, ok1, err1, ok2, err2, blocked = child [[
        local ok1, err1 = pcall(ns.sigmask, "add", { "TERM" })
        local ok2, err2 = pcall(ns.sigmask, "block", { "TERM", "NOPE" })
        return ok1, err1, ok2, err2, bits("SigBlk")
      ]]
      assert.is_false(ok1)
      assert.matches("invalid option 'add'", err1, 1, true)
      assert.is_false(ok2)
      assert.matches("unknown signal 'NOPE'", err2, 1, true)
      assert.are.same({}, blocked)
    end)
  end)

  describe("poll()", function()
    it("lists the indexes of the fds that are readable", function()
      local m, s = pty()
      assert.are.same({}, ns.poll({ m, s }, 0))
      m:write("x\n")
      assert.are.same({ 1 }, ns.poll({ s }, 2000))
      assert.are.same({ 1 }, ns.poll({ m }, 2000)) -- the echo
      assert.are.same({ 1, 2 }, ns.poll({ m:fileno(), s }, 0))
      assert.are.equal("x\n", s:read())
      read_until(m, "x\r\n")
      assert.are.same({}, ns.poll({ s, m }, 0))
    end)

    it("returns {} on timeout, and reports a hang-up", function()
      local m, s = assert(ns.openpty())
      finally(function() m:close() end)
      assert.are.same({}, ns.poll({ s }, 50))
      assert.are.same({}, ns.poll({}, 10))
      s:close()
      assert.are.same({ 1 }, ns.poll({ m }))
    end)

    it("fails with EBADF for an fd that is not open", function()
      local ok, msg, errno = ns.poll({ 1 << 30 }, 0)
      msg = H.fails_with(EBADF, ok, msg, errno)
      assert.are.equal("poll fd 1073741824: Bad file descriptor (EBADF)", msg)
      assert.has_error(function() ns.poll({ 0, "x" }, 0) end)
      assert.has_error(function() ns.poll(0) end)
      local m, s = pty()
      s:close()
      assert.has_error(function() ns.poll({ m, s }, 0) end)
    end)
  end)

  describe("relay()", function()
    it("copies the child's output until it exits, then what is left", function()
      local out, ok, msg = child [[
        local m, s, path = ns.openpty()
        local p, fake = spawn(path, "echo hello from the pty; echo and more")
        local ok, msg, errno = ns.relay(m, { pidfd = fake })
        p:close()
        return ok, msg, errno
      ]]
      assert.is_true(ok, msg)
      assert.matches("hello from the pty\r\nand more\r\n", out, 1, true)
    end)

    it("copies out all that a child which has already exited left", function()
      local out, ok, msg, exited = child [[
        local m, s, path = ns.openpty()
        -- more than the master hands out in one read, less than the pty holds
        local p, fake = spawn(path, "head -c 10000 /dev/zero | tr '\\0' x; echo; echo end-of-output")
        local exited = ns.poll({ fake }, 5000)[1] == 1
        local ok, msg, errno = ns.relay(m, { pidfd = fake })
        p:close()
        return ok, msg, exited
      ]]
      assert.is_true(exited)
      assert.is_true(ok, msg)
      assert.are.equal(string.rep("x", 10000) .. "\r\nend-of-output\r\n", out)
    end)

    it("copies input to the child and keeps going after its end", function()
      local out, ok, msg = child([[
        local m, s, path = ns.openpty()
        local p, fake = spawn(path, "read line; sleep 0.1; echo got:$line")
        local ok, msg, errno = ns.relay(m, { pidfd = fake })
        p:close()
        return ok, msg, errno
      ]], { stdin = "printf 'ping\\n'" })
      assert.is_true(ok, msg)
      assert.matches("got:ping\r\n", out, 1, true)
    end)

    it("takes input and output fds", function()
      local out, ok, msg, _, copied = child [[
        local m, s, path = ns.openpty()
        local m2, s2 = ns.openpty()
        local raw = assert(ns.rawmode(s2)) -- kept: its __gc would restore
        m2:write("from-input\n")
        local p, fake = spawn(path, "read line; echo got:$line")
        local ok, msg, errno = ns.relay(m, { pidfd = fake, input = s2, output = s2:fileno() })
        p:close()
        return ok, msg, errno, read_until(m2, "got:from-input\r\n")
      ]]
      assert.is_true(ok, msg)
      assert.are.equal("", out)
      assert.matches("got:from-input\r\n", copied, 1, true)
    end)

    it("stops reading the master when the slave side closes, and waits for the child", function()
      local _, ok, msg, first, exited = child [[
        local m, s, path = ns.openpty()
        local p, fake = spawn(path, "echo ready; exec >&- 2>&- <&-; sleep 0.3")
        assert(ns.poll({ m }, 5000)[1])
        local first = m:read()
        s:close()
        local ok, msg = ns.relay(m, { pidfd = fake })
        local exited = ns.poll({ fake }, 0)[1] == 1
        p:close()
        return ok, msg, first, exited
      ]]
      assert.is_true(ok, msg)
      assert.matches("^ready", first)
      assert.is_true(exited)
    end)

    it("on SIGWINCH from sigfd copies fd 0's window size to the master", function()
      local out, ok, msg = child [[
        local m, s, path = ns.openpty()
        local m2, s2 = ns.openpty()
        assert(ns.winsize(s2, 33, 77))
        assert(ns.dup2(s2, 0)) -- fd 0: a terminal of 33 rows, 77 columns
        local p, fake = spawn(path, "sleep 0.3; stty size")
        local sfd = ns.signalfd { "WINCH" }
        os.execute("kill -WINCH " .. stat().pid)
        local ok, msg, errno = ns.relay(m, { pidfd = fake, sigfd = sfd })
        p:close()
        return ok, msg, errno
      ]]
      assert.is_true(ok, msg)
      assert.matches("33 77\r\n", out, 1, true)
    end)

    -- A shell on the pty that ignores SIGTERM and would say no-kill after
    -- 5 s; relay's options as given; returns its output and what relay did.
    local IGNORES_TERM = [[
        local m, s, path = ns.openpty()
        local p = io.popen("exec 3>&1 <" .. path .. " >" .. path .. " 2>&1;"
          .. " trap '' TERM; echo $$ >&3; exec 3>&-;"
          .. " i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; echo no-kill")
        local pid = tonumber(p:read("l"))
        local pidfd <close> = assert(ns.pidfd_open(pid))
        local t0 = ns.clock()
    ]]

    it("kills the child kill_after seconds after it sent on a stop signal", function()
      if not ns.pidfd_open then pending("needs ns.pidfd_open") return end
      local out, ok, timed_out, dt = child(IGNORES_TERM .. [[
        local sfd = ns.signalfd { "TERM" }
        os.execute("kill -TERM " .. stat().pid)
        local ok, timed_out = ns.relay(m, { pidfd = pidfd, sigfd = sfd, stop = { "TERM" }, kill_after = 0.2 })
        p:close()
        return ok, timed_out, ns.clock() - t0
      ]])
      assert.is_true(ok)
      assert.is_false(timed_out)
      assert.is_nil(out:find("no-kill", 1, true))
      assert.is_true(dt < 4, dt)
    end)

    it("sends SIGTERM at timeout, then SIGKILL kill_after later, and says it timed out", function()
      if not ns.pidfd_open then pending("needs ns.pidfd_open") return end
      local out, ok, timed_out, dt = child(IGNORES_TERM .. [[
        local ok, timed_out = ns.relay(m, { pidfd = pidfd, timeout = 0.3, kill_after = 0.1 })
        p:close()
        return ok, timed_out, ns.clock() - t0
      ]])
      assert.is_true(ok)
      assert.is_true(timed_out)
      assert.is_nil(out:find("no-kill", 1, true))
      assert.is_true(dt >= 0.3 and dt < 4, dt)
    end)

    it("sends other signals from sigfd on to the child", function()
      if not ns.pidfd_open then pending("needs ns.pidfd_open") return end
      local out, ok, msg = child [[
        local m, s, path = ns.openpty()
        -- the shell gets its pid out on fd 3 once its trap is set
        local p = io.popen("exec 3>&1 <" .. path .. " >" .. path .. " 2>&1;"
          .. " trap 'echo got-term; exit 7' TERM; echo $$ >&3; exec 3>&-;"
          .. " i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; echo no-term")
        local pid = tonumber(p:read("l"))
        local pidfd <close> = assert(ns.pidfd_open(pid))
        -- after the shell started: it must not inherit the blocked TERM
        local sfd = ns.signalfd { "TERM" }
        os.execute("kill -TERM " .. stat().pid)
        local ok, msg, errno = ns.relay(m, { pidfd = pidfd, sigfd = sfd })
        p:close()
        return ok, msg, errno
      ]]
      assert.is_true(ok, msg)
      assert.matches("got-term\r\n", out, 1, true)
      assert.is_nil(out:find("no-term", 1, true))
    end)

    it("fails when a signal cannot be sent on, and on a closed fd", function()
      local _, ok, msg, errno, ok2, msg2, errno2 = child [[
        local m, s, path = ns.openpty()
        local p, fake = spawn(path, "sleep 0.2")
        local sfd = ns.signalfd { "TERM" }
        os.execute("kill -TERM " .. stat().pid)
        -- the stand-in is a pipe, not a pidfd
        local ok, msg, errno = ns.relay(m, { pidfd = fake, sigfd = sfd })
        p:close()
        return ok, msg, errno, ns.relay(m, { pidfd = 1 << 30 })
      ]]
      msg = H.fails_with(EBADF, ok, msg, errno)
      assert.are.equal("pidfd_send_signal TERM: Bad file descriptor (EBADF)", msg)
      msg2 = H.fails_with(EBADF, ok2, msg2, errno2)
      assert.are.equal("poll pidfd: Bad file descriptor (EBADF)", msg2)
    end)

    it("raises on a missing pidfd, an unknown option or a bad fd", function()
      local m = pty()
      local ok, err = pcall(ns.relay, m, {})
      assert.is_false(ok)
      assert.matches("bad argument #2 to '[%w.]*relay' %(option 'pidfd' is required%)", err)
      assert.has_error(function() ns.relay(m, { pidfd = 0, output = "1" }) end)
      assert.has_error(function() ns.relay(m, { pidfd = 0, inptu = 0 }) end)
      assert.has_error(function() ns.relay(m) end)
      assert.has_error(function() ns.relay("m", { pidfd = 0 }) end)
    end)
  end)

  -- luactr as a user meets it: examples/busybox.lua in a tmux pane (tmux
  -- plays the user's terminal, answering queries such as ESC [ 6 n), keys
  -- sent with tmux send-keys and the screen read with capture-pane.
  describe("luactr's terminal, driven through tmux", function()
    local sock -- a private tmux server: a socket of its own, no config file
    local function tmux(args)
      return H.sh(("tmux -S %s -f /dev/null %s 2>&1"):format(sock, args))
    end
    -- A line of the pane that is exactly s (capture-pane drops trailing blanks).
    local function has_line(text, s)
      for l in text:gmatch("[^\n]*") do
        if l:gsub("%s+$", "") == s then return true end
      end
      return false
    end
    -- The pane's text once check(text) holds; fails after 5 s, showing it.
    local function screen_until(what, check)
      local text = ""
      for _ = 1, 250 do
        text = tmux("capture-pane -p")
        if check(text) then return text end
        ns.sleep(0.02)
      end
      error(("timed out waiting for %s; the pane shows:\n%s"):format(what, text), 0)
    end

    -- A private tmux server in a temp dir, its pane running luactr with
    -- args (shell words); once its first prompt shows, returns luactr's
    -- pidfd and the dir. A finally ends both, and luactr if it still runs.
    local function pane(args)
      local dir = H.tmpdir("tty")
      sock = dir .. "/tmux"
      local handle = {}
      finally(function()
        tmux("kill-server")
        if handle.pidfd then
          if not ns.poll({ handle.pidfd }, 1000)[1] then
            ns.kill(handle.pidfd, "KILL")
            ns.poll({ handle.pidfd }, 5000)
          end
          handle.pidfd:close()
        end
        H.rmrf(dir)
      end)
      if type(args) == "function" then args = args(dir) end
      local out, code = tmux(("new-session -d -x 120 -y 30 '%s %s'"):format(H.luactr, args))
      assert.are.equal(0, code, out)
      -- the pane's process is luactr (sh -c execs a lone command)
      local pid = tmux("display-message -p '#{pane_pid}'")
      handle.pidfd = assert(ns.pidfd_open(assert(tonumber(pid), pid)))
      screen_until("the first prompt", function(t) return has_line(t, "/ #") end)
      return handle.pidfd, dir
    end

    it("loses no keystroke typed right after clear", function()
      local pidfd = pane(H.root .. "/examples/busybox.lua")
      for i = 1, 4 do
        local word = "typed-fast-" .. i
        -- One send-keys: the burst in one write, as a paste sends it.
        -- Typed a key at a time less than 50 ms apart, busybox's line
        -- editor eats up to 10 keys here with or without luactr: after
        -- clear the prompt ends at row 1, column 5, and the terminal's
        -- answer to ESC [ 6 n, ESC [ 1 ; 5 R, begins as Ctrl-Right does
        -- (ESC [ 1 ; 5 C), so its read_key misses the R and reads on.
        tmux(("send-keys clear Enter 'echo %s' Enter"):format(word))
        local text = screen_until(word .. " or an error", function(t)
          return has_line(t, word) or t:find("not found", 1, true)
        end)
        assert.is_true(has_line(text, word), text)
        assert.is_nil(text:find("not found", 1, true), text)
      end
      tmux("send-keys exit Enter")
      assert.are.same({ 1 }, ns.poll({ pidfd }, 5000), "luactr did not end after exit")
    end)

    it("ends when its terminal goes away, though the shell (PID 1) ignores SIGHUP", function()
      local pidfd = pane(function(dir)
        local recipe = dir .. "/hup.lua"
        assert(ns.writefile(recipe, 'require("ns.container").run{ stop_timeout = 1, args = { "/bin/sh" } }',
          { create = true }))
        return recipe
      end)
      local t0 = ns.clock()
      tmux("kill-server") -- the terminal hangs up: SIGHUP, forwarded, then the kill
      assert.are.same({ 1 }, ns.poll({ pidfd }, 8000), "luactr did not end after its terminal went away")
      assert.is_true(ns.clock() - t0 >= 0.9)
    end)
  end)
end)
