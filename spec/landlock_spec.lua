-- landlock_spec.lua: the Landlock bindings (core/landlock.c) and the
-- recipe key landlock (ns.recipe.landlock, the landlock op of
-- ns.ops.landlock). Whatever restricts itself does it in a child: a
-- forked one for the core, a container for the key.
local H = require "support.helper"
local ns = H.ns
local container = require "ns.container"

local E = ns.E

-- The kernel's Landlock ABI, nil without Landlock; every filesystem right
-- it knows, as the core names them.
local ABI = ns.landlock_abi()
local SINCE = { refer = 2, truncate = 3, ioctl_dev = 5 }
local ALL_FS = {}
for k in pairs(ns.LANDLOCK_FS) do
  if ABI and (SINCE[k] or 1) <= ABI then ALL_FS[#ALL_FS + 1] = k end
end
table.sort(ALL_FS)

-- it(name, fn) for a spec that needs ABI n of the kernel (1: Landlock at
-- all); pending on a kernel without it (`make test` on Linux 6.1 has ABI 2).
local function with_abi(n, name, fn)
  if ABI and ABI >= n then
    it(name, fn)
  else
    pending(("%s (needs Landlock ABI %d; this kernel has %s)"):format(name, n, ABI or "none"))
  end
end

-- "ok" or the errno number, for what a probe gave.
local function said(ok, _, errno)
  if ok then return "ok" end
  return tostring(errno)
end

-- The rules the brief of this feature names: the whole tree readable,
-- /tmp writable, programs only from /bin.
local RULES = { read = { "/" }, write = { "/tmp" }, execute = { "/bin" } }

-- A busybox shell script in a container (t's keys added), its stdout.
local function sh(script, t)
  t = t or {}
  t.args = { "/bin/sh", "-c", script }
  t.tty, t.capture = false, true
  local st = container.run(t)
  return st.stdout, st
end

-- What the busybox shell reports of reading /etc, writing /etc and /tmp,
-- and running a copy of busybox from /tmp.
local PROBES = table.concat({
  "grep -q root /etc/passwd 2>&- && echo read-etc=ok || echo read-etc=no",
  "(echo x > /etc/luactr-probe) 2>&- && echo write-etc=ok || echo write-etc=no",
  "(echo x > /tmp/probe) 2>&- && echo write-tmp=ok || echo write-tmp=no",
  "cp /bin/busybox /tmp/busybox 2>&-; /tmp/busybox true 2>&-; echo exec-tmp=$?",
}, "; ")

-- The op of list named op, or nil.
local function op_of(list, name)
  for _, o in ipairs(list) do if o.op == name then return o end end
end

describe("landlock", function()
  H.guard()

  it("ns.recipe.landlock and ns.ops.landlock do not touch the global table", function()
    H.assert_no_new_globals("ns.recipe.landlock")
    H.assert_no_new_globals("ns.ops.landlock")
  end)

  describe("ns.landlock_abi()", function()
    it("gives the kernel's ABI version, a whole number of 1 or more, or ENOSYS or EOPNOTSUPP", function()
      local abi, msg, errno = ns.landlock_abi()
      if abi then
        assert.are.equal("integer", math.type(abi))
        assert.is_true(abi >= 1)
      else
        assert.is_true(errno == E.ENOSYS or errno == E.EOPNOTSUPP, msg)
      end
    end)
  end)

  describe("ns.landlock_ruleset()", function()
    with_abi(1, "gives a handle of kind landlock, closed by :close()", function()
      local rs = assert(ns.landlock_ruleset(ALL_FS, ABI >= 4 and { "bind_tcp", "connect_tcp" } or nil,
        ABI >= 6 and { "abstract_unix_socket", "signal" } or nil))
      assert.are.equal("landlock", rs:kind())
      assert.matches("^landlock %(fd %d+%)$", tostring(rs))
      rs:close()
      assert.are.equal("landlock (closed)", tostring(rs))
    end)
    it("raises on an unknown name, listing the valid ones", function()
      local ok, err = pcall(ns.landlock_ruleset, { "read_file", "raed_dir" })
      assert.is_false(ok)
      assert.matches("unknown landlock fs access 'raed_dir'", err, 1, true)
      assert.matches("did you mean 'read_dir'", err, 1, true)
      assert.matches("execute, ioctl_dev, make_block", err, 1, true)
      ok, err = pcall(ns.landlock_ruleset, "read_file", "connect_udp")
      assert.is_false(ok)
      assert.matches("valid: bind_tcp, connect_tcp", err, 1, true)
      ok, err = pcall(ns.landlock_ruleset, "read_file", nil, "signals")
      assert.is_false(ok)
      assert.matches("valid: abstract_unix_socket, signal", err, 1, true)
    end)
    with_abi(1, "fails with ENOMSG when it handles nothing, EINVAL for a right the kernel lacks", function()
      H.fails_with(E.ENOMSG, ns.landlock_ruleset({}))
      H.fails_with(E.ENOMSG, ns.landlock_ruleset())
      local msg = H.fails_with(E.EINVAL, ns.landlock_ruleset(1 << 40))
      assert.matches("^landlock_create_ruleset: ", msg)
    end)
  end)

  describe("ns.landlock_add_path()", function()
    with_abi(1, "adds a rule by path or by fd, and names what failed", function()
      local rs <close> = assert(ns.landlock_ruleset({ "read_file", "read_dir" }))
      assert.is_true(ns.landlock_add_path(rs, "/etc", { "read_file", "read_dir" }))
      assert.is_true(ns.landlock_add_path(rs, "/etc/passwd", "read_file"))
      local dir <close> = assert(ns.open("/usr", { "path", "directory" }))
      assert.is_true(ns.landlock_add_path(rs, dir, "read_dir"))
      assert.is_true(ns.landlock_add_path(rs, ns.fileno(dir), "read_dir"))
      local msg = H.fails_with(E.ENOENT, ns.landlock_add_path(rs, "/nonexistent/x", "read_file"))
      assert.are.equal("open /nonexistent/x: No such file or directory (ENOENT)", msg)
      -- not handled by the ruleset; a directory's right on a file; nothing
      msg = H.fails_with(E.EINVAL, ns.landlock_add_path(rs, "/etc", "execute"))
      assert.matches("^landlock_add_rule /etc: ", msg)
      H.fails_with(E.EINVAL, ns.landlock_add_path(rs, "/etc/passwd", "read_dir"))
      H.fails_with(E.ENOMSG, ns.landlock_add_path(rs, "/etc", {}))
      -- not a ruleset
      local f <close> = assert(ns.open("/etc/passwd"))
      msg = H.fails_with(E.EBADFD, ns.landlock_add_path(f, "/etc", "read_file"))
      assert.matches("^landlock_add_rule /etc: ", msg)
    end)
    with_abi(1, "raises on bad arguments before it opens anything", function()
      local rs <close> = assert(ns.landlock_ruleset({ "read_file" }))
      assert.is_false(pcall(ns.landlock_add_path, rs, "/etc\0x", "read_file"))
      local ok, err = pcall(ns.landlock_add_path, rs, "/etc", "read")
      assert.is_false(ok)
      assert.matches("unknown landlock fs access 'read'", err, 1, true)
      assert.is_false(pcall(ns.landlock_add_path, rs, {}, "read_file"))
      rs:close()
      ok, err = pcall(ns.landlock_add_path, rs, "/etc", "read_file")
      assert.is_false(ok)
      assert.matches("closed fd", err, 1, true)
    end)
  end)

  describe("ns.landlock_restrict()", function()
    with_abi(1, "fails with EBADFD for an fd that is not a ruleset, and raises on a bad flag", function()
      local f <close> = assert(ns.open("/etc/passwd"))
      local msg = H.fails_with(E.EBADFD, ns.landlock_restrict(f))
      assert.matches("^landlock_restrict_self fd %d+: ", msg)
      local rs <close> = assert(ns.landlock_ruleset({ "read_file" }))
      local ok, err = pcall(ns.landlock_restrict, rs, "log_everything")
      assert.is_false(ok)
      assert.matches("log_new_exec_on", err, 1, true)
    end)
    with_abi(1, "needs no_new_privs or CAP_SYS_ADMIN: EPERM says so", function()
      local out = H.child_value(function()
        H.drop_privileges(65534)
        local rs <close> = assert(ns.landlock_ruleset({ "read_file" }))
        local ok, msg, errno = ns.landlock_restrict(rs)
        assert(ok == nil and errno == E.EPERM, tostring(msg))
        -- and with no_new_privs it may
        assert(ns.prctl("no_new_privs", true))
        assert(ns.landlock_restrict(rs))
        return msg
      end)
      assert.matches("Operation not permitted (EPERM); it needs no_new_privs (prctl) or CAP_SYS_ADMIN", out, 1, true)
    end)
    with_abi(1, "holds the caller and what it starts to the rules: what no rule grants is EACCES", function()
      local dir = H.tmpdir("landlock")
      H.defer(function() H.rmrf(dir) end)
      assert(ns.mkdir(dir .. "/granted"))
      assert(ns.mkdir(dir .. "/other"))
      local out = H.child_value(function()
        assert(ns.prctl("no_new_privs", true))
        local rs <close> = assert(ns.landlock_ruleset(ALL_FS))
        assert(ns.landlock_add_path(rs, "/etc", { "read_file", "read_dir" }))
        assert(ns.landlock_add_path(rs, dir .. "/granted", { "read_file", "write_file", "make_reg" }))
        assert(ns.landlock_restrict(rs))
        local r = {
          said(ns.readfile("/etc/passwd")),
          said(ns.open("/etc/passwd", { "wronly" })),
          said(ns.writefile(dir .. "/granted/x", "1", { create = true })),
          said(ns.writefile(dir .. "/other/x", "1", { create = true })),
          said(ns.listdir("/")),
        }
        -- a child of the restricted process is held too
        local pid, pidfd = assert(ns.clone({}))
        if pid == 0 then
          local _, _, e = ns.writefile(dir .. "/other/y", "1", { create = true })
          ns._exit(e == E.EACCES and 0 or 1)
        end
        r[#r + 1] = tostring(ns.wait(pidfd).code)
        pidfd:close()
        return table.concat(r, " ")
      end)
      local A = tostring(E.EACCES)
      assert.are.equal(table.concat({ "ok", A, "ok", A, A, "0" }, " "), out)
      -- what the kernel refused left nothing behind
      assert.is_nil(ns.stat(dir .. "/other/x"))
      assert.are.equal("1", ns.readfile(dir .. "/granted/x"))
    end)
    with_abi(6, "scoped to signal: the restricted process may not signal outside its domain", function()
      local parent = ns.getpid()
      local out = H.child_value(function()
        assert(ns.prctl("no_new_privs", true))
        local rs <close> = assert(ns.landlock_ruleset(nil, nil, { "signal" }))
        local before = said(ns.kill(parent, 0))
        assert(ns.landlock_restrict(rs))
        return table.concat({ before, said(ns.kill(parent, 0)), said(ns.kill(ns.getpid(), 0)) }, " ")
      end)
      assert.are.equal("ok " .. E.EPERM .. " ok", out)
    end)
  end)

  describe("the recipe key", function()
    local function refused(t)
      local ok, err = pcall(container.plan, t)
      assert.is_false(ok, "accepted")
      return err
    end
    it("refuses a relative path, an unknown list, a wrong type, naming the key", function()
      assert.matches('landlock.read[1] "usr" must be an absolute path', refused { landlock = { read = { "usr" } } }, 1, true)
      assert.matches('landlock.execute[2] "bin" must be an absolute path',
        refused { landlock = { execute = { "/bin", "bin" } } }, 1, true)
      assert.matches("landlock: unknown key 'reed' (did you mean 'read'? valid: execute, read, write)",
        refused { landlock = { reed = { "/" } } }, 1, true)
      assert.matches("landlock.write must be a list, not a string", refused { landlock = { write = "/tmp" } }, 1, true)
      assert.matches("'landlock' must be a table or boolean, not a string", refused { landlock = "/" }, 1, true)
      assert.matches("landlock must be a table", refused { landlock = true }, 1, true)
      assert.matches("landlock.read[1] must be a string, not a table", refused { landlock = { read = { {} } } }, 1, true)
      assert.matches("NUL", refused { landlock = { read = { "/a\0b" } } }, 1, true)
      assert.matches("'landlock_required' must be a boolean", refused { landlock = {}, landlock_required = "yes" }, 1, true)
    end)
    it("refuses landlock_required without rules, and rules without no_new_privs or sys_admin", function()
      assert.matches("landlock_required needs landlock rules", refused { landlock_required = true }, 1, true)
      assert.matches("landlock_required needs landlock rules", refused { landlock = false, landlock_required = true }, 1, true)
      assert.matches("landlock needs no_new_privs (it is false) or the sys_admin capability",
        refused { landlock = RULES, no_new_privs = false }, 1, true)
      assert.is_truthy(op_of(container.plan { landlock = RULES, no_new_privs = false, capabilities = { "sys_admin" } }, "landlock"))
    end)
    it("false or nil plans no landlock op", function()
      assert.is_nil(op_of(container.plan {}, "landlock"))
      assert.is_nil(op_of(container.plan { landlock = false }, "landlock"))
      assert.is_nil(op_of(container.plan { landlock = false, landlock_required = false }, "landlock"))
    end)
    it("plans one op after no_new_privs, right before the seccomp filter and exec, with each path's rights merged", function()
      local list = container.plan { landlock = { read = { "/usr", "/" }, write = { "/tmp" }, execute = { "/usr" } },
        landlock_required = true }
      local o = op_of(list, "landlock")
      assert.are.equal("child", o.where)
      assert.are.equal("no_new_privs", list[o.n - 1].op)
      assert.are.equal("seccomp", list[o.n + 1].op)
      assert.are.equal("exec", list[o.n + 2].op)
      assert.is_true(o.required)
      assert.are.equal("landlock (3 paths: /, /tmp, /usr)", o.name)
      assert.are.same({ path = "/", access = { "read_dir", "read_file" } }, o.rules[1])
      assert.are.same({ path = "/usr", access = { "execute", "read_dir", "read_file" } }, o.rules[3])
      assert.are.same({ "ioctl_dev", "make_block", "make_char", "make_dir", "make_fifo", "make_reg", "make_sock",
        "make_sym", "refer", "remove_dir", "remove_file", "truncate", "write_file" }, o.rules[2].access)
      -- every right named is one the core knows
      for _, r in ipairs(o.rules) do
        for _, a in ipairs(r.access) do assert.is_number(ns.LANDLOCK_FS[a]) end
      end
      -- with init = true the reaper is held too: the op comes before it
      list = container.plan { landlock = RULES, init = true }
      o = op_of(list, "landlock")
      assert.are.equal("init", list[o.n + 1].op)
    end)
  end)

  describe("a container", function()
    with_abi(1, "reads /etc, writes /tmp, but neither writes /etc nor runs a program from /tmp", function()
      local out = sh(PROBES, { landlock = RULES })
      assert.are.equal("read-etc=ok\nwrite-etc=no\nwrite-tmp=ok\nexec-tmp=126\n", out)
    end)
    with_abi(1, "README's example holds the container to what it says", function()
      local f = assert(io.open("README.md"))
      local doc = f:read("a")
      f:close()
      local block = doc:match("## Landlock.-```lua\n(.-)```")
      assert.is_string(block, "README.md has no landlock example")
      local t
      assert(load(block, "README", "t", { container = { run = function(x) t = x end } }))()
      local out = sh(PROBES, { landlock = t.landlock })
      assert.are.equal("read-etc=ok\nwrite-etc=no\nwrite-tmp=ok\nexec-tmp=126\n", out)
    end)
    it("without the key does all four: it is Landlock that refuses", function()
      local out = sh(PROBES)
      assert.are.equal("read-etc=ok\nwrite-etc=ok\nwrite-tmp=ok\nexec-tmp=0\n", out)
    end)
    with_abi(1, "gets EACCES from the kernel for what no rule grants (host tree, lua5.4 inside)", function()
      local dir = H.tmpdir("landlock")
      H.defer(function() H.rmrf(dir) end)
      for _, d in ipairs({ "/w", "/r" }) do assert(ns.mkdir(dir .. d)) end
      assert(ns.writefile(dir .. "/w/busybox", assert(ns.readfile("/bin/busybox")), { create = true, mode = "0755" }))
      local code = ([[
        local ns = require "ns.core"
        local function said(ok, _, e) return ok and "ok" or tostring(e) end
        local d = %q
        io.write(said(ns.readfile("/etc/passwd")), " ", said(ns.open("/etc/passwd", { "wronly" })), " ",
          said(ns.writefile(d .. "/w/x", "1", { create = true })), " ",
          said(ns.writefile(d .. "/r/x", "1", { create = true })), " ")
        io.stdout:flush()
        io.write(said(ns.exec(d .. "/w/busybox", { "busybox", "echo", "ran" })), "\n")
      ]]):format(dir)
      local function run(landlock)
        local st = container.run { rootfs = false, namespaces = { "pid", "mnt" }, tty = false, capture = true,
          landlock = landlock, args = { "/usr/bin/lua5.4", "-e", code },
          -- (and make asan's preloads, for its sanitised core.so)
          env = { LUA_CPATH = H.root .. "/build/?.so", LD_PRELOAD = os.getenv("LD_PRELOAD"),
            ASAN_OPTIONS = os.getenv("ASAN_OPTIONS") } }
        assert.are.equal(0, st.status, st.stderr)
        return st.stdout
      end
      local A = tostring(E.EACCES)
      assert.are.equal(table.concat({ "ok", A, "ok", A, A }, " ") .. "\n",
        run { read = { "/" }, write = { dir .. "/w" }, execute = { "/usr" } })
      assert.is_nil(ns.stat(dir .. "/r/x"))
      -- the same without Landlock: every probe passes, and busybox runs
      assert(os.remove(dir .. "/w/x"))
      assert.are.equal("ok ok ok ok ran\n", run(nil))
    end)
    with_abi(1, "denies a right that no list grants, anywhere: without write nothing is writable", function()
      local out = sh(PROBES, { landlock = { read = { "/" }, execute = { "/bin" } } })
      -- (no copy of busybox in /tmp to run: 127)
      assert.are.equal("read-etc=ok\nwrite-etc=no\nwrite-tmp=no\nexec-tmp=127\n", out)
    end)
    with_abi(1, "a rule on a file grants that file alone", function()
      local out = sh("cat /etc/hostname >/dev/null 2>&1 && echo one=ok; cat /etc/passwd 2>/dev/null || echo other=no",
        { landlock = { read = { "/etc/hostname" }, write = { "/dev/null" }, execute = { "/bin" } } })
      assert.are.equal("one=ok\nother=no\n", out)
    end)
    it("with landlock_required starts and is restricted where the kernel has ABI 5, else does not start", function()
      if ABI and ABI >= 5 then
        local out = sh(PROBES, { landlock = RULES, landlock_required = true })
        assert.are.equal("read-etc=ok\nwrite-etc=no\nwrite-tmp=ok\nexec-tmp=126\n", out)
      else
        local ok, err = pcall(sh, PROBES, { landlock = RULES, landlock_required = true })
        assert.is_false(ok)
        assert.matches("landlock_required, but", tostring(err), 1, true)
      end
    end)
    with_abi(1, "with capabilities = \"all\" and no no_new_privs is restricted through CAP_SYS_ADMIN", function()
      local out = sh(PROBES, { landlock = RULES, no_new_privs = false, capabilities = "all" })
      assert.are.equal("read-etc=ok\nwrite-etc=no\nwrite-tmp=ok\nexec-tmp=126\n", out)
    end)
    with_abi(1, "fails to start, naming the path, when a rule's path is not in the container", function()
      local ok, err = pcall(container.run, { landlock = { read = { "/nonexistent" } }, args = { "/bin/true" }, tty = false })
      assert.is_false(ok)
      assert.are.equal(E.ENOENT, err.errno)
      assert.matches("landlock rule for /nonexistent: No such file or directory", tostring(err), 1, true)
    end)
    with_abi(1, "h:exec is restricted the same way", function()
      local h = container.start { landlock = RULES, args = { "/bin/sleep", "30" }, tty = false }
      H.defer(function()
        h:kill("KILL")
        h:wait()
      end)
      local function st(script) return h:exec({ "/bin/sh", "-c", script }).status end
      assert.are.equal(0, st("cat /etc/passwd >/tmp/out"))
      assert.are.equal(1, st("(echo x > /etc/luactr-probe) 2>/tmp/e"))
      assert.are.equal(0, st("(echo x > /tmp/probe) 2>/tmp/e"))
      assert.are.equal(126, st("cp /bin/busybox /tmp/busybox; /tmp/busybox true 2>/tmp/e"))
    end)
  end)

  describe("best effort", function()
    -- A plan whose landlock op is pinned to an older ABI than the
    -- kernel's: the op then handles only what that ABI knows, as on an
    -- older kernel (0: none at all), and the kernel enforces that.
    local function pinned(abi, t)
      t.args = { "/bin/sh", "-c", PROBES }
      t.tty, t.capture = false, true
      local list = container.plan(t)
      op_of(list, "landlock").abi = abi
      return list
    end
    it("without Landlock warns on the container's stderr and runs unrestricted", function()
      local st = container.run_plan(pinned(0, { landlock = RULES })):wait()
      assert.are.equal("read-etc=ok\nwrite-etc=ok\nwrite-tmp=ok\nexec-tmp=0\n", st.stdout)
      assert.matches("warning: landlock: not available (", st.stderr, 1, true)
      assert.matches("the container runs unrestricted", st.stderr, 1, true)
    end)
    it("on a kernel whose landlock_abi fails (ENOSYS) warns with the reason; required, fails with its errno", function()
      -- The op asks ns.core at run time; the container's child is a copy
      -- (or a vfork) of this process, so it sees the stand-in.
      local core = require "ns.core"
      local real = core.landlock_abi
      core.landlock_abi = function()
        return nil, "landlock_create_ruleset (version): Function not implemented (ENOSYS)", E.ENOSYS
      end
      H.defer(function() core.landlock_abi = real end)
      local out, st = sh(PROBES, { landlock = RULES })
      assert.are.equal("read-etc=ok\nwrite-etc=ok\nwrite-tmp=ok\nexec-tmp=0\n", out)
      assert.matches("warning: landlock: not available (landlock_create_ruleset (version): Function not implemented (ENOSYS)): " ..
        "the container runs unrestricted", st.stderr, 1, true)
      local ok, err = pcall(sh, PROBES, { landlock = RULES, landlock_required = true })
      assert.is_false(ok)
      assert.are.equal(E.ENOSYS, err.errno)
      assert.matches("landlock_required, but Landlock is not available: landlock_create_ruleset", tostring(err), 1, true)
    end)
    with_abi(1, "with an older ABI warns of the rights it lacks and restricts the rest", function()
      local st = container.run_plan(pinned(2, { landlock = RULES })):wait()
      assert.are.equal("read-etc=ok\nwrite-etc=no\nwrite-tmp=ok\nexec-tmp=126\n", st.stdout)
      assert.matches("truncate, ioctl_dev: truncate and ioctl_dev not restricted", st.stderr, 1, true)
    end)
    it("with landlock_required is an error naming the reason, and nothing runs", function()
      local ok, err = pcall(container.run_plan, pinned(0, { landlock = RULES, landlock_required = true }))
      assert.is_false(ok)
      -- (on a kernel without Landlock, its own errno)
      assert.are.equal(ABI and E.EOPNOTSUPP or select(3, ns.landlock_abi()), err.errno)
      assert.matches("landlock_required, but Landlock is not available", tostring(err), 1, true)
      if not ABI then return end
      ok, err = pcall(container.run_plan, pinned(2, { landlock = RULES, landlock_required = true }))
      assert.is_false(ok)
      assert.matches("truncate (ABI 3), ioctl_dev (ABI 5)", tostring(err), 1, true)
    end)
  end)
end)
