-- keys_spec.lua: keyctl_join_session (core/keys.c). Joining a keyring
-- changes the process's session keyring, so every join happens in a child.
local H = require "support.helper"
local ns = require "ns"

-- The /proc/keys line of the key with this serial, or nil.
local function key_line(serial)
  return ns.readfile("/proc/keys"):match(("\n?(%08x [^\n]*)"):format(serial))
end

describe("ns.core", function()
  H.guard()

  describe("keyctl_join_session()", function()
    it("joins a new anonymous session keyring and gives its serial", function()
      local out = H.child_value(function()
        local a = assert(ns.keyctl_join_session())
        local b = assert(ns.keyctl_join_session(nil))
        return ("%d %d %s"):format(a, b, key_line(a) or "none")
      end)
      local a, b, line = out:match("^(%d+) (%d+) (.*)$")
      assert.is_truthy(a, out)
      assert.are_not.equal(a, b)
      assert.matches(" keyring +_ses: empty$", line)
    end)

    it("creates a keyring of the given name", function()
      local name = "luactr-spec-" .. ns.getpid()
      local out = H.child_value(function()
        local a = assert(ns.keyctl_join_session(name))
        -- A new keyring grants its owner no search without possession, so
        -- a second join of the name does not find it: another one is made.
        local b = assert(ns.keyctl_join_session(name))
        return ("%d %d %s|%s"):format(a, b, key_line(a) or "none", key_line(b) or "none")
      end)
      local a, b, la, lb = out:match("^(%d+) (%d+) (.*)|(.*)$")
      assert.is_truthy(a, out)
      assert.are_not.equal(a, b)
      assert.matches(" keyring +" .. H.esc(name) .. ": empty$", la)
      assert.matches(" keyring +" .. H.esc(name) .. ": empty$", lb)
    end)

    it("fails with EINVAL for an empty or over-long name", function()
      H.in_child(function()
        local msg = H.fails_with(ns.E.EINVAL, ns.keyctl_join_session(""))
        assert.matches("^keyctl_join_session: .+ %(EINVAL%)$", msg)
        H.fails_with(ns.E.EINVAL, ns.keyctl_join_session(("k"):rep(5000)))
      end)
    end)

    it("raises on a name that is not a string", function()
      local ok, err = pcall(ns.keyctl_join_session, {})
      assert.is_false(ok)
      assert.matches("bad argument #1", err)
    end)
  end)
end)
