-- landlock_spec.lua: the Landlock bindings (core/landlock.c). Whatever
-- restricts itself does it in a forked child.
local H = require "support.helper"
local ns = H.ns

local E = ns.E

-- Every filesystem right, as the core names them.
local ALL_FS = {}
for k in pairs(ns.LANDLOCK_FS) do ALL_FS[#ALL_FS + 1] = k end
table.sort(ALL_FS)

-- "ok" or the errno number, for what a probe gave.
local function said(ok, _, errno)
  if ok then return "ok" end
  return tostring(errno)
end

describe("landlock", function()
  H.guard()

  describe("ns.landlock_abi()", function()
    it("gives the kernel's ABI version, a whole number of 1 or more", function()
      local abi = assert(ns.landlock_abi())
      assert.are.equal("integer", math.type(abi))
      assert.is_true(abi >= 1)
    end)
  end)

  describe("ns.landlock_ruleset()", function()
    it("gives a handle of kind landlock, closed by :close()", function()
      local rs = assert(ns.landlock_ruleset(ALL_FS, { "bind_tcp", "connect_tcp" }, { "abstract_unix_socket", "signal" }))
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
    it("fails with ENOMSG when it handles nothing, EINVAL for a right the kernel lacks", function()
      H.fails_with(E.ENOMSG, ns.landlock_ruleset({}))
      H.fails_with(E.ENOMSG, ns.landlock_ruleset())
      local msg = H.fails_with(E.EINVAL, ns.landlock_ruleset(1 << 40))
      assert.matches("^landlock_create_ruleset: ", msg)
    end)
  end)

  describe("ns.landlock_add_path()", function()
    it("adds a rule by path or by fd, and names what failed", function()
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
    it("raises on bad arguments before it opens anything", function()
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
    it("fails with EBADFD for an fd that is not a ruleset, and raises on a bad flag", function()
      local f <close> = assert(ns.open("/etc/passwd"))
      local msg = H.fails_with(E.EBADFD, ns.landlock_restrict(f))
      assert.matches("^landlock_restrict_self fd %d+: ", msg)
      local rs <close> = assert(ns.landlock_ruleset({ "read_file" }))
      local ok, err = pcall(ns.landlock_restrict, rs, "log_everything")
      assert.is_false(ok)
      assert.matches("log_new_exec_on", err, 1, true)
    end)
    it("needs no_new_privs or CAP_SYS_ADMIN: EPERM says so", function()
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
    it("holds the caller and what it starts to the rules: what no rule grants is EACCES", function()
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
    it("scoped to signal: the restricted process may not signal outside its domain", function()
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

end)
