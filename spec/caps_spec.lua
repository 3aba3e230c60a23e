-- caps_spec.lua: capabilities (core/caps.c): cap_get, cap_names,
-- cap_drop_bound, cap_set, cap_ambient. Everything that changes a set runs
-- in a separate lua5.4 process, never in busted's.
local H = require "support.helper"
local ns = require "ns.core"

-- Run code (a function body) in a fresh lua5.4 (H.lua_child: ns is this
-- tree's ns.core, bits(field) reads /proc/self/status) and return what it
-- returns; raises with the child's output when it fails.
local function child(code)
  return select(2, H.lua_child(code))
end

local function without(list, drop)
  local gone, t = {}, {}
  for _, v in ipairs(drop) do gone[v] = true end
  for _, v in ipairs(list) do if not gone[v] then t[#t + 1] = v end end
  return t
end

describe("ns.core", function()
  H.guard()

  describe("caps", function()
    it("does not touch the global table", function()
      for _, name in ipairs { "cap_get", "cap_names", "cap_drop_bound", "cap_set", "cap_ambient" } do
        assert.is_function(ns[name], name)
        assert.is_nil(rawget(_G, name), name)
      end
    end)
  end)

  describe("cap_names()", function()
    it("lists every capability the kernel knows, by number, without cap_", function()
      local names = ns.cap_names()
      local f = assert(io.open("/proc/sys/kernel/cap_last_cap"))
      local last = tonumber(f:read("l"))
      f:close()
      assert.are.equal(last + 1, #names)
      assert.are.equal("chown", names[1])
      assert.are.equal("net_bind_service", names[11])
      assert.are.equal("sys_admin", names[22])
      assert.are.equal("sys_resource", names[25])
      for _, name in ipairs(names) do
        assert.matches("^[a-z0-9_]+$", name)
        assert.is_nil(name:match("^cap_"), name)
      end
    end)

    it("has no failure: it only reads the library's table", function()
      -- cap_names makes no system call that can fail; it ignores arguments.
      assert.are.same(ns.cap_names(), ns.cap_names("ignored"))
    end)
  end)

  describe("cap_get()", function()
    it("reports the calling process's five sets as /proc/self/status does", function()
      local caps = ns.cap_get()
      local fields = {
        effective = "CapEff", permitted = "CapPrm", inheritable = "CapInh",
        bounding = "CapBnd", ambient = "CapAmb",
      }
      local n = 0
      for k in pairs(caps) do n = n + 1; assert.is_truthy(fields[k], k) end
      assert.are.equal(5, n)
      for key, field in pairs(fields) do
        local expect = {}
        for line in io.lines("/proc/self/status") do
          local hex = line:match("^" .. field .. ":%s*(%x+)")
          if hex then
            local v = tonumber(hex, 16)
            for i = 0, 63 do if (v >> i) & 1 == 1 then expect[#expect + 1] = i end end
          end
        end
        -- lists come sorted by number already
        local got = {}
        local index = {}
        for i, name in ipairs(ns.cap_names()) do index[name] = i - 1 end
        for _, name in ipairs(caps[key]) do got[#got + 1] = index[name] end
        assert.are.same(expect, got, key)
      end
    end)

    it("follows changes the process made", function()
      local caps = child [[
        assert(ns.cap_drop_bound("sys_module"))
        assert(ns.cap_set { effective = { "kill" }, permitted = { "kill", "chown" } })
        return ns.cap_get()
      ]]
      assert.are.same({ "kill" }, caps.effective)
      assert.are.same({ "chown", "kill" }, caps.permitted)
      assert.are.same({}, caps.inheritable)
      assert.are.same({}, caps.ambient)
      local bnd = {}
      for _, name in ipairs(caps.bounding) do bnd[name] = true end
      assert.is_nil(bnd.sys_module)
      assert.is_true(bnd.chown)
    end)
  end)

  describe("cap_drop_bound()", function()
    it("drops a list of names, or one name, from the bounding set", function()
      local before, after, ok1, ok2 = child [[
        local before = bits("CapBnd")
        local ok1 = ns.cap_drop_bound { "net_raw", "CAP_SYS_TIME" }
        local ok2 = ns.cap_drop_bound "Mknod"
        return before, bits("CapBnd"), ok1, ok2
      ]]
      assert.is_true(ok1)
      assert.is_true(ok2)
      local dropped = { 13, 25, 27 } -- net_raw, sys_time, mknod
      local had = {}
      for _, v in ipairs(before) do had[v] = true end
      for _, v in ipairs(dropped) do assert.is_true(had[v], "bit " .. v) end
      assert.are.same(without(before, dropped), after)
      assert.are.equal(#before - 3, #after)
    end)

    it("accepts a capability that is already gone", function()
      local ok1, ok2, after = child [[
        return ns.cap_drop_bound("net_raw"), ns.cap_drop_bound({ "net_raw", "net_raw" }), bits("CapBnd")
      ]]
      assert.is_true(ok1)
      assert.is_true(ok2)
      for _, v in ipairs(after) do assert.are_not.equal(13, v) end
    end)

    it("fails with EPERM without CAP_SETPCAP, naming the capability", function()
      local ok, msg, errno, after = child [[
        assert(ns.cap_drop_bound("setpcap"))
        assert(ns.cap_set { effective = { "chown" }, permitted = { "chown" } })
        local ok, msg, errno = ns.cap_drop_bound { "chown" }
        return ok, msg, errno, bits("CapBnd")
      ]]
      msg = H.fails_with(ns.E.EPERM, ok, msg, errno)
      assert.are.equal("cap_drop_bound chown: Operation not permitted (EPERM)", msg)
      assert.are.equal(0, after[1])
    end)

    it("raises on an unknown name before dropping anything", function()
      local ok, err, after, before = child [[
        local before = bits("CapBnd")
        local ok, err = pcall(ns.cap_drop_bound, { "chown", "no_such_cap" })
        return ok, err, bits("CapBnd"), before
      ]]
      assert.is_false(ok)
      assert.matches("unknown capability 'no_such_cap'", err, 1, true)
      assert.are.same(before, after)
      assert.has_error(function() ns.cap_drop_bound({ true }) end)
      assert.has_error(function() ns.cap_drop_bound() end)
      assert.has_error(function() ns.cap_drop_bound("sys_admin2") end)
      assert.has_error(function() ns.cap_drop_bound(#ns.cap_names()) end)
    end)
  end)

  describe("cap_set()", function()
    it("sets exactly the effective, permitted and inheritable sets", function()
      local ok, eff, prm, inh, caps = child [[
        local ok = ns.cap_set { effective = { "chown" }, permitted = { "CAP_CHOWN", "kill" }, inheritable = { "kill" } }
        return ok, bits("CapEff"), bits("CapPrm"), bits("CapInh"), ns.cap_get()
      ]]
      assert.is_true(ok)
      assert.are.same({ 0 }, eff)
      assert.are.same({ 0, 5 }, prm)
      assert.are.same({ 5 }, inh)
      assert.are.same({ "kill" }, caps.inheritable)
    end)

    it("takes a missing key as the empty set", function()
      local ok, eff, prm, inh = child [[
        return ns.cap_set {}, bits("CapEff"), bits("CapPrm"), bits("CapInh")
      ]]
      assert.is_true(ok)
      assert.are.same({}, eff)
      assert.are.same({}, prm)
      assert.are.same({}, inh)
    end)

    it("fails with EPERM when raising a capability that is not permitted", function()
      local ok, msg, errno, prm = child [[
        assert(ns.cap_set { permitted = { "chown" } })
        local ok, msg, errno = ns.cap_set { permitted = { "chown", "kill" }, effective = { "kill" } }
        return ok, msg, errno, bits("CapPrm")
      ]]
      msg = H.fails_with(ns.E.EPERM, ok, msg, errno)
      assert.matches("^cap_set_proc .*kill.*: Operation not permitted %(EPERM%)$", msg)
      assert.are.same({ 0 }, prm)
    end)

    it("raises on an unknown key or name before changing anything", function()
      local ok1, err1, ok2, err2, eff, before = child [[
        local before = bits("CapEff")
        local ok1, err1 = pcall(ns.cap_set, { effective = {}, permited = { "chown" } })
        local ok2, err2 = pcall(ns.cap_set, { effective = { "chown", "nope" } })
        return ok1, err1, ok2, err2, bits("CapEff"), before
      ]]
      assert.is_false(ok1)
      assert.matches("unknown option", err1, 1, true)
      assert.is_false(ok2)
      assert.matches("unknown capability 'nope'", err2, 1, true)
      assert.are.same(before, eff)
      assert.has_error(function() ns.cap_set("chown") end)
    end)
  end)

  describe("cap_ambient()", function()
    it("clears the ambient set, then raises each named capability", function()
      local ok1, amb1, ok2, amb2, ok3, amb3, caps = child [[
        local all = { "net_admin", "kill" }
        assert(ns.cap_set { effective = all, permitted = all, inheritable = all })
        local ok1 = ns.cap_ambient { "net_admin", "KILL" }
        local amb1 = bits("CapAmb")
        local ok2 = ns.cap_ambient "kill"
        local amb2, caps = bits("CapAmb"), ns.cap_get()
        local ok3 = ns.cap_ambient {}
        return ok1, amb1, ok2, amb2, ok3, bits("CapAmb"), caps
      ]]
      assert.is_true(ok1)
      assert.are.same({ 5, 12 }, amb1)
      assert.is_true(ok2)
      assert.are.same({ 5 }, amb2)
      assert.are.same({ "kill" }, caps.ambient)
      assert.is_true(ok3)
      assert.are.same({}, amb3)
    end)

    it("fails with EPERM for a capability that is not inheritable", function()
      local ok, msg, errno, amb = child [[
        local ok, msg, errno = ns.cap_ambient { "net_admin" }
        return ok, msg, errno, bits("CapAmb")
      ]]
      msg = H.fails_with(ns.E.EPERM, ok, msg, errno)
      assert.are.equal("cap_set_ambient net_admin: Operation not permitted (EPERM)", msg)
      assert.are.same({}, amb)
    end)

    it("raises on an unknown name", function()
      local ok, err = child [[
        return pcall(ns.cap_ambient, { "kill", "cap_nope" })
      ]]
      assert.is_false(ok)
      assert.matches("unknown capability 'cap_nope'", err, 1, true)
    end)
  end)
end)
