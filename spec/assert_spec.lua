-- assert_spec.lua: ns.assert's API: the matchers' forms (assert.container(h).x,
-- is_not, the plain assertion), its targets (a handle, an ns.lifecycle
-- record, a given exec), probe_mount, and the errors of misuse. What each
-- matcher finds is in security_spec.lua.
local H = require "support.helper"
local ns = H.ns
local A = require "ns.assert"
local container = require "ns.container"

describe("ns.assert", function()
  H.guard()

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.assert")
  end)

  -- A default container with the probe; stopped after the test.
  local function start(extra)
    local t = { mounts = { A.probe_mount() }, args = { "/bin/sleep", "1000" } }
    for k, v in pairs(extra or {}) do t[k] = v end
    local h = container.start(t)
    H.defer(function() h:kill("KILL"); h:wait() end)
    return h
  end

  describe("probe_path() and probe_mount()", function()
    it("find build/probe and bind its directory read-only at /opt/luactr", function()
      assert.are.equal(H.root .. "/build/probe", A.probe_path())
      assert.are.same({ source = H.root .. "/build", target = "/opt/luactr", flags = { "bind", "rdonly" }, mkdir = true },
        A.probe_mount())
      assert.are.equal("/srv/p", A.probe_mount({ target = "/srv/p" }).target)
    end)

    it("find the probe inside by its mount's source, wherever it is bound", function()
      local h = start({ mounts = { A.probe_mount({ target = "/srv/p" }) } })
      assert.are.equal("/srv/p/probe", A.target(h).probe)
      assert.container(h).cannot_mount()
    end)
  end)

  describe("the forms", function()
    it("assert.container(h).matcher(), its negation, and the plain assertion with h first", function()
      local h = start({ hostname = "box" })
      assert.container(h).hostname_is("box")
      assert.container(h).hostname("box")
      assert.container(h).is_not.hostname_is("other")
      assert.hostname_is(h, "box")
      assert.is_not.cannot_open_raw_socket(h)
      local ok, err = pcall(function() assert.container(h).is_not.hostname_is("box") end)
      assert.is_false(ok)
      assert.matches('expected container "[^"]+" not to have the hostname "box", but "hostname" printed "box" %(exit 0%)',
        tostring(err))
    end)

    it("raise at the caller's line, with luassert's message", function()
      local h = start({ hostname = "box" })
      local ok, err = pcall(function() assert.container(h).hostname_is("x") end)
      assert.is_false(ok)
      assert.matches("^spec/[%w_]+%.lua:%d+: expected container ", tostring(err))
    end)
  end)

  describe("targets", function()
    it("an ns.lifecycle record, probed through lifecycle.exec", function()
      local state = H.tmpdir("state")
      H.defer(function() H.rmrf(state) end) -- last, after the rm below
      local out, code = H.run_luactr(("run -d --name luactr-assert-%d -v %s:/opt/luactr:ro busybox sleep 1000")
        :format(ns.getpid(), H.root .. "/build"), { env = "LUACTR_STATE=" .. state })
      assert.are.equal(0, code, out)
      H.defer(function() H.run_luactr("rm -f luactr-assert-" .. ns.getpid(), { env = "LUACTR_STATE=" .. state }) end)
      local s = assert(require("ns.state").load("luactr-assert-" .. ns.getpid(), state))
      local t = A.target(s)
      assert.are.equal("/opt/luactr/probe", t.probe)
      assert.are.equal(s.pid, t.pid)
      assert.container(s).hostname_is(s.id:sub(1, 12))
      assert.container(s).cannot_mount()
      assert.container(s).has_no_capability("sys_admin")
    end)

    it("a given exec, with its output caught", function()
      local h = start()
      local argvs = {}
      local t = A.target(h, { exec = function(argv)
        argvs[#argvs + 1] = argv
        return h:exec(argv)
      end })
      assert.container(t).hostname_is(t.name)
      assert.are.same({ { "/bin/sh", "-c", "hostname" } }, argvs)
      local r = t:sh("echo out; echo err >&2; exit 3")
      assert.are.same({ cmd = "echo out; echo err >&2; exit 3", out = "out\nerr\n", code = 3 }, r)
    end)
  end)

  describe("misuse", function()
    it("a matcher that needs the probe, on a container without it, says how to add it", function()
      local h = container.start({ args = { "/bin/sleep", "1000" } })
      H.defer(function() h:kill("KILL"); h:wait() end)
      assert.container(h).has_no_capability("sys_admin") -- needs none
      assert.has_error(function() assert.container(h).cannot_mount() end,
        ('ns.assert: container %q: cannot_mount needs the probe inside: add require("ns.assert").probe_mount() '
          .. "to its mounts (or give {probe = PATH} to assert.container)"):format(h.name))
    end)

    it("an unknown call or capability, or a target that is none, raises listing what is known", function()
      local h = start()
      assert.error_matches(function() assert.container(h).syscall_blocked("kexec") end,
        "unknown call kexec %(known: acct, add_key, bpf, ")
      assert.error_matches(function() assert.container(h).has_no_capability("sys_admn") end,
        'unknown capability "sys_admn"')
      assert.error_matches(function() assert.container({}).cannot_mount() end,
        "x must be a handle of ns.container.start or an ns.lifecycle record, not this table")
      assert.error_matches(function() assert.container(h, { exec = 1 }).cannot_mount() end, "opts.exec must be a function")
    end)

    it("the probe's subcommands for it exit 2, printing nothing, on bad arguments", function()
      for _, args in ipairs({ "try", "try nosuch", "try bpf x", "raw-socket x", "mount-try", "exes x", "find-pid",
        "find-pid ''", "reach", "reach relative", "keyring x" }) do
        local out, code = H.sh(A.probe_path() .. " " .. args .. " 2>/dev/null")
        assert.are.same({ "", 2 }, { out, code }, args)
      end
    end)

    it("knows every call the probe does", function()
      local out = H.sh(A.probe_path() .. " try list")
      local list = {}
      for n in out:gmatch("[^\n]+") do list[#list + 1] = n end
      assert.are.same(list, A.SYSCALLS)
    end)
  end)
end)
