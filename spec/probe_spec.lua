-- probe_spec.lua: build/probe (core/probe.c), the static helper that specs
-- bind-mount into busybox containers, run here on the host: one line out,
-- exit 0 when the probed action worked, 1 when it failed, 2 on misuse.
local H = require "support.helper"
local ns = require "ns"

local probe = H.root .. "/build/probe"

-- Run probe with args (shell words); its stdout and exit status.
local function run(args, prefix)
  return H.sh((prefix or "") .. probe .. " " .. args .. " 2>/dev/null")
end

-- As uid and gid 1000 without groups, so without capabilities.
local unprivileged = "setpriv --reuid=1000 --regid=1000 --clear-groups "

-- probe fds in a child whose only fds are 0, 1 (a pipe to us), 2 and the
-- numbers in keep; returns what it printed.
local function fds_of_child(keep)
  local r, w = assert(ns.pipe())
  local pid, pidfd = assert(ns.clone({}))
  if pid == 0 then
    local null = ns.open("/dev/null", "rdwr")
    ns.dup2(null, 0)
    ns.dup2(w, 1)
    ns.dup2(null, 2)
    ns.close_range(3)
    for _, n in ipairs(keep) do ns.dup2(0, n) end
    ns.exec(probe, { "probe", "fds" })
    ns._exit(127)
  end
  w:close()
  local out = H.read_all(r)
  assert.are.equal(0, assert(ns.wait(pidfd)).code)
  pidfd:close()
  return out
end

-- The one-letter state of a process, from /proc/PID/stat.
local function state(pid)
  return ns.readfile("/proc/" .. pid .. "/stat"):match("^%d+ %b() (%a)")
end

describe("build/probe", function()
  H.guard()

  it("is a static executable", function()
    local out = H.sh("file -L " .. probe)
    assert.matches("statically linked", out)
  end)

  describe("usage", function()
    it("exits 2 without a subcommand, with an unknown one or bad arguments", function()
      for _, args in ipairs({ "", "nosuch", "open", "open /dev/null x", "ptrace", "ptrace abc",
                              "ptrace -1", "key-add d x", "key-search", "fds extra",
                              "mknod /x q 1 3", "mknod /x c -1 3", "mknod /x c 1" }) do
        local out, code = run(args)
        assert.are.equal(2, code, args)
        assert.are.equal("", out, args)
      end
    end)
  end)

  describe("open", function()
    it("reads up to 16 bytes, or opens for writing", function()
      assert.are.same({ "read 0 bytes\n", 0 }, { run("open /dev/null") })
      assert.are.same({ "read 0 bytes\n", 0 }, { run("open /dev/null r") })
      assert.are.same({ "read 16 bytes\n", 0 }, { run("open /dev/zero") })
      assert.are.same({ "opened\n", 0 }, { run("open /dev/null w") })
    end)

    it("creates a file for writing, as the shell's > does, with c", function()
      local dir = H.tmpdir()
      finally(function() H.rmrf(dir) end)
      assert.are.same({ "opened\n", 0 }, { run("open " .. dir .. "/new c") })
      assert.are.equal("file", ns.stat(dir .. "/new").type)
      local out, code = run("open " .. dir .. "/new w")
      assert.are.same({ "opened\n", 0 }, { out, code })
    end)

    it("fails with the call, the path and the errno name", function()
      local out, code = run("open /nonexistent/luactr")
      assert.are.equal(1, code)
      assert.matches("^open /nonexistent/luactr: .+ %(ENOENT%)\n$", out)
      out, code = run("open /tmp w")
      assert.are.equal(1, code)
      assert.matches("^open /tmp: .+ %(EISDIR%)\n$", out)
      out, code = run("open /etc/shadow", unprivileged)
      assert.are.equal(1, code)
      assert.matches("^open /etc/shadow: .+ %(EACCES%)\n$", out)
    end)
  end)

  describe("key-add and key-search", function()
    it("add a user key to a new session keyring that the command finds", function()
      assert.are.same({ "x\n", 0 }, { run("key-add d x " .. probe .. " key-search d") })
      assert.are.same({ "secret value\n", 0 },
        { run("key-add luactr-k 'secret value' " .. probe .. " key-search luactr-k") })
    end)

    it("fail with ENOKEY for a missing key, ENOENT for a missing command", function()
      local out, code = run("key-add d x " .. probe .. " key-search e")
      assert.are.equal(1, code)
      assert.matches("^keyctl search e: .+ %(ENOKEY%)\n$", out)
      out, code = run("key-add d x /nonexistent/cmd")
      assert.are.equal(1, code)
      assert.matches("^exec /nonexistent/cmd: .+ %(ENOENT%)\n$", out)
    end)
  end)

  describe("fds", function()
    it("lists the open fds, without the one it lists them through", function()
      assert.are.equal("0 1 2\n", fds_of_child({}))
      assert.are.equal("0 1 2 5 40\n", fds_of_child({ 40, 5 }))
    end)
  end)

  describe("ptrace", function()
    it("attaches to a process and detaches, leaving it running", function()
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then
        ns.sleep(30)
        ns._exit(0)
      end
      finally(function()
        ns.kill(pid, "KILL")
        ns.wait(pidfd)
        pidfd:close()
      end)
      assert.are.same({ "attached\n", 0 }, { run("ptrace " .. pid) })
      ns.sleep(0.05)
      assert.are.equal("S", state(pid))
      assert.are.same({ "attached\n", 0 }, { run("ptrace " .. pid) })
      assert.are.equal("S", state(pid))
    end)

    it("fails with ESRCH for a gone pid, EPERM without CAP_SYS_PTRACE", function()
      local gone, pidfd = H.reaped()
      pidfd:close()
      local out, code = run("ptrace " .. gone)
      assert.are.equal(1, code)
      assert.matches("^ptrace attach " .. gone .. ": .+ %(ESRCH%)\n$", out)
      out, code = run("ptrace 1", unprivileged)
      assert.are.equal(1, code)
      assert.matches("^ptrace attach 1: .+ %(EPERM%)\n$", out)
    end)
  end)

  describe("mknod", function()
    local d
    before_each(function() d = H.tmpdir() end)
    after_each(function() H.rmrf(d) end)

    it("makes a device node and reads from it", function()
      assert.are.same({ "read 0 bytes\n", 0 }, { run("mknod " .. d .. "/null c 1 3") })
      assert.are.same({ "read 16 bytes\n", 0 }, { run("mknod " .. d .. "/zero c 1 5") })
      local st = ns.stat(d .. "/zero")
      assert.are.equal("chr", st.type)
      assert.are.same({ 1, 5, tonumber("600", 8) }, { st.rdev_major, st.rdev_minor, st.mode })
    end)

    it("names the failing step: mknod (EEXIST, EPERM) or open (ENXIO)", function()
      assert(run("mknod " .. d .. "/null c 1 3"))
      local out, code = run("mknod " .. d .. "/null c 1 3")
      assert.are.equal(1, code)
      assert.matches("^mknod " .. H.esc(d) .. "/null: .+ %(EEXIST%)\n$", out)
      assert(ns.chmod(d, tonumber("777", 8)))
      out, code = run("mknod " .. d .. "/u c 1 3", unprivileged)
      assert.are.equal(1, code)
      assert.matches("^mknod " .. H.esc(d) .. "/u: .+ %(EPERM%)\n$", out)
      -- No driver has character major 0 minor 0.
      out, code = run("mknod " .. d .. "/none c 0 0")
      assert.are.equal(1, code)
      assert.matches("^open " .. H.esc(d) .. "/none: .+ %(ENXIO%)\n$", out)
    end)
  end)
end)
