-- seccomp_spec.lua: the seccomp filter of a container. The default
-- (moby's profile) refuses from inside what it refuses and nothing a
-- program needs, and seccomp = false lets the same calls through, so
-- that what refused them was the filter, not a missing capability; a
-- recipe's own profile allows, denies and kills as it says; bad profiles
-- are refused before anything runs, naming the key; a compiled program is
-- cached and found again by another luactr, and a damaged cache file is
-- compiled again; luactr exec is filtered too; luactr seccomp show sums a
-- profile up. Calls that busybox has no applet for go through build/probe
-- ("syscall" mode), bound into the container at /opt/luactr.
local H = require "support.helper"
local ns = H.ns
local seccomp = require "ns.security.seccomp"
local check = require "ns.security.seccomp_check"

local fmt = string.format
local PROBE_DIR = H.root .. "/build"

-- A recipe that runs cmd (a shell command line) in a busybox container
-- with the probe mounted, the Lua table text extra's keys added (a
-- seccomp key among them); prints its output and exits with its status,
-- or with 128 + n and the line "signal NAME" when signal n ended it.
local function recipe(cmd, extra, args)
  return ([[
local t = { args = %s,
  mounts = {{ source = %q, target = "/opt/luactr", flags = { "bind", "rdonly" }, mkdir = true }} }
for k, v in pairs({ %s }) do t[k] = v end
local st = require("ns.container").run(t)
if st.signal then print("signal " .. st.signal) end
os.exit(st.status)
]]):format(args or fmt("{ %q, %q, %q }", "/bin/sh", "-c", cmd), PROBE_DIR, extra or "")
end

local function inside(cmd, extra, opts)
  return H.recipe(recipe(cmd, extra), opts)
end

-- The calls of the probe that moby's profile refuses and that need no
-- capability: with the filter each fails with EPERM, without it none does.
local PROBED = { "add_key", "keyctl", "userfaultfd", "personality", "socket-vsock", "socket-alg" }

local function probes()
  local cmd = {}
  for _, c in ipairs(PROBED) do cmd[#cmd + 1] = "/opt/luactr/probe syscall " .. c end
  cmd[#cmd + 1] = "/opt/luactr/probe syscall clone3"
  cmd[#cmd + 1] = "unshare -U true 2>/dev/null && echo 'unshare: ok' || echo 'unshare: refused'"
  return table.concat(cmd, "; ")
end

-- The default profile's first group without some names: an allow-list
-- that runs busybox, for a profile of the recipe's.
local function allow_list_without(drop)
  local skip = {}
  for _, n in ipairs(drop) do skip[n] = true end
  local names = {}
  for _, n in ipairs(seccomp.default_profile().syscalls[1].names) do
    if not skip[n] then names[#names + 1] = fmt("%q", n) end
  end
  return "{ " .. table.concat(names, ", ") .. " }"
end

describe("seccomp", function()
  H.guard()

  describe("the default profile", function()
    it("refuses the calls moby's profile refuses with EPERM, and clone3 with ENOSYS", function()
      local out, code = inside(probes())
      assert.equal(0, code, out)
      for _, c in ipairs(PROBED) do
        assert.matches(H.esc(c) .. ": Operation not permitted %(EPERM%)", out)
      end
      -- ENOSYS, so that glibc falls back to clone (whose namespace flags
      -- the filter can read).
      assert.matches("clone3: Function not implemented %(ENOSYS%)", out)
      assert.matches("unshare: refused", out)
    end)

    it("is what refused them: with seccomp = false the same calls go through", function()
      local out, code = inside(probes(), "seccomp = false")
      assert.equal(0, code, out)
      assert.not_matches("EPERM", out)
      for _, c in ipairs({ "add_key", "keyctl", "userfaultfd", "personality" }) do
        assert.matches(H.esc(c) .. ": ok", out)
      end
      assert.matches("clone3: Invalid argument %(EINVAL%)", out)
      assert.matches("unshare: ok", out)
    end)

    it("lets ordinary programs run: sh, ls, ps, date, a download that finds nothing", function()
      local out, code = inside("echo hi; ls / | grep -c etc; ps | grep -c ps; date +%Y >/dev/null && echo date; "
        .. "wget -O /dev/null http://127.0.0.1:9/ 2>&1; grep '^Seccomp:' /proc/self/status")
      assert.equal(0, code, out)
      assert.matches("^hi\n1\n", out)
      assert.matches("date\n", out)
      -- The socket and the connect were allowed: the refusal is the
      -- network's (the namespace's lo is down).
      assert.matches("wget: can't connect", out)
      assert.not_matches("not permitted", out)
      assert.matches("Seccomp:%s+2", out)
    end)

    it("gives what a capability allows to a container that has it (unshare with sys_admin)", function()
      local caps = {}
      for _, c in ipairs(require("ns.recipe").default_capabilities) do caps[#caps + 1] = fmt("%q", c) end
      caps[#caps + 1] = '"sys_admin"'
      local out, code = inside("unshare -U true && echo 'unshare: ok'; /opt/luactr/probe syscall add_key; true",
        "capabilities = { " .. table.concat(caps, ", ") .. " }")
      assert.equal(0, code, out)
      assert.matches("unshare: ok", out)
      assert.matches("add_key: Operation not permitted", out)
    end)

    it("is loaded with no_new_privs off, before the capabilities go, for root and for a user", function()
      for _, extra in ipairs({ "no_new_privs = false", "no_new_privs = false, user = 'nobody'" }) do
        local out, code = inside("grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status; "
          .. "/opt/luactr/probe syscall add_key; true", extra)
        assert.equal(0, code, out)
        assert.matches("NoNewPrivs:%s+0", out)
        assert.matches("Seccomp:%s+2", out)
        assert.matches("add_key: Operation not permitted", out)
      end
    end)

    it("filters the command of init = true and of user = true", function()
      for _, extra in ipairs({ "init = true", "user = true" }) do
        local out, code = inside("/opt/luactr/probe syscall keyctl", extra)
        assert.equal(1, code, out)
        assert.matches("keyctl: Operation not permitted", out)
      end
    end)

    it("is the op before exec, or before the bounding set without no_new_privs", function()
      local container = require "ns.container"
      local list = container.plan { args = { "/bin/true" } }
      assert.equal("seccomp", list[#list - 1].op)
      assert.equal("no_new_privs", list[#list - 2].op)
      list = container.plan { args = { "/bin/true" }, no_new_privs = false }
      local at
      for i, o in ipairs(list) do if o.op == "seccomp" then at = i end end
      assert.equal("bounding", list[at + 1].op)
      list = container.plan { args = { "/bin/true" }, seccomp = false }
      for _, o in ipairs(list) do assert.not_equal("seccomp", o.op) end
    end)

    it("is moby's data: it checks as a profile, its names are syscalls, and make's key is its text's", function()
      local p = seccomp.default_profile()
      check.profile("default", p)
      check.check_names("default", p)
      assert.equal(33, #p.syscalls)
      assert.equal(ns.sha256(seccomp.text_of(p)), seccomp.DEFAULT_SHA256)
    end)
  end)

  describe("a profile of the recipe's", function()
    it("allows its list and gives the rest its errno, a group its own", function()
      local profile = ([[seccomp = { default = "errno", errno = "EACCES", syscalls = {
        { names = %s, action = "allow" },
        { names = { "rmdir" }, action = "errno", errno = "ENOTEMPTY" } } }]]):format(
        allow_list_without({ "mkdir", "mkdirat", "rmdir" }):gsub("^{ ", '{ "arch_prctl", "clone", '))
      local out, code = inside("echo hi; mkdir /tmp/x || echo mkdir refused; rmdir /tmp 2>&1; "
        .. "/opt/luactr/probe syscall add_key", profile)
      assert.equal(1, code, out)
      assert.matches("hi\n", out)
      assert.matches("Permission denied", out)
      assert.matches("mkdir refused", out)
      assert.matches("not empty", out)
      assert.matches("add_key: Permission denied %(EACCES%)", out)
    end)

    it("kills with kill (SIGSYS), traps with trap, lets a call through with log", function()
      local out, code = H.recipe(recipe(nil, [[seccomp = { default = "allow",
        syscalls = { { names = { "mkdir", "mkdirat" }, action = "kill" } } }]], '{ "/bin/mkdir", "/tmp/x" }'))
      assert.equal(128 + ns.SIG.SYS, code, out)
      assert.matches("signal SYS", out)
      out, code = H.recipe(recipe(nil, [[seccomp = { default = "allow",
        syscalls = { { names = { "mkdir", "mkdirat" }, action = "trap" } } }]], '{ "/bin/mkdir", "/tmp/x" }'))
      assert.equal(128 + ns.SIG.SYS, code, out)
      out, code = inside("mkdir /tmp/x && echo made", [[seccomp = { default = "allow",
        syscalls = { { names = { "mkdir", "mkdirat" }, action = "log" } } }]])
      assert.equal(0, code, out)
      assert.matches("made", out)
    end)

    it("holds conditions on arguments", function()
      -- socket(AF_UNIX) only: busybox's nc to a TCP port is refused.
      local out, code = inside("/opt/luactr/probe syscall socket-vsock; nc 127.0.0.1 9 </dev/null 2>&1; echo done",
        [[seccomp = { default = "allow", syscalls = { { names = { "socket" }, action = "errno", args = { { 0, "ne", 1 } } } } }]])
      assert.equal(0, code, out)
      assert.matches("socket%-vsock: Operation not permitted", out)
      assert.matches("not permitted", (out:gsub("socket%-vsock[^\n]*", "")))
    end)
  end)

  describe("a bad profile", function()
    local recipe_mod = require "ns.recipe"
    local BAD = {
      { 'seccomp = "strict"', 'container "bad": seccomp must be "default", false or a profile table, not "strict"' },
      { 'seccomp = { syscalls = { { names = { "read", "mountt" }, action = "allow" } } }',
        'container "bad": seccomp.syscalls[1].names[2]: unknown syscall "mountt" (did you mean "mount"?)' },
      { 'seccomp = { syscalls = { { names = { "read" }, action = "deny" } } }',
        "container \"bad\": seccomp.syscalls[1].action: unknown action 'deny' (valid: allow, errno, kill, kill_process, "
          .. "kill_thread, log, trap)" },
      { 'seccomp = { syscalls = { { names = { "read" }, action = "allow", args = { { 0, "lq", 1 } } } } }',
        "container \"bad\": seccomp.syscalls[1].args[1]: unknown op 'lq' (did you mean 'eq'? valid: eq, ge, gt, le, lt, "
          .. "masked_eq, ne)" },
      { 'seccomp = { syscalls = { { names = { "read" }, action = "allow", args = { { 6, "eq", 1 } } } } }',
        'container "bad": seccomp.syscalls[1].args[1]: the index (first) must be an argument number 0 to 5, not 6' },
      { 'seccomp = { syscalls = { { nmes = { "read" }, action = "allow" } } }',
        "container \"bad\": seccomp.syscalls[1]: unknown key 'nmes' (did you mean 'names'? valid: action, args, comment, "
          .. "errno, excludes, includes, names)" },
      { 'seccomp = { defualt = "allow" }',
        "container \"bad\": seccomp: unknown key 'defualt' (did you mean 'default'? valid: arch_map, architectures, comment, "
          .. "default, errno, syscalls)" },
      { 'seccomp = { default = "deny" }',
        "container \"bad\": seccomp.default: unknown action 'deny' (valid: allow, errno, kill, kill_process, kill_thread, "
          .. "log, trap)" },
      { 'seccomp = { errno = "EPRM" }',
        "container \"bad\": seccomp.errno: unknown errno 'EPRM' (did you mean 'EPERM'? 131 names: pairs(ns.E))" },
      { 'seccomp = { architectures = { "x86-64" } }',
        "container \"bad\": seccomp.architectures[1]: unknown architecture 'x86-64' (nearest: x86_64, x86, mips64, ppc64; "
          .. "20 in all: libseccomp's names)" },
      { 'seccomp = { syscalls = { { names = { "read" }, action = "allow", includes = { caps = { "sys_admn" } } } } }',
        "container \"bad\": seccomp.syscalls[1].includes.caps[1]: unknown capability 'sys_admn' (nearest: sys_admin, "
          .. "sys_time, mac_admin, net_admin; 41 in all: ns.cap_names())" },
      { 'seccomp = { notify = { mount = true } }',
        'container "bad": seccomp.notify.mount: must be a function(req), not a boolean' },
    }
    for _, b in ipairs(BAD) do
      it("is refused by recipe.check: " .. b[1], function()
        local t = assert(load("return { name = 'bad', " .. b[1] .. " }"))()
        local ok, err = pcall(recipe_mod.check, t)
        assert.is_false(ok)
        assert.equal(b[2], tostring(err))
      end)
    end
  end)

  describe("the cache of compiled programs", function()
    -- A luactr with a state root of its own: starts a container with
    -- the default profile (or the recipe's profile text), then says how
    -- many programs it compiled and whether it loaded libseccomp.
    local function start(state, profile)
      return H.recipe(([[
local st = require("ns.container").run { args = { "/bin/true" }%s }
print(require("ns.security.seccomp").stats.compiles, package.loaded["ns.seccomp"] and "libseccomp" or "no libseccomp")
os.exit(st.status)
]]):format(profile and (", seccomp = " .. profile) or ""), { env = "LUACTR_STATE=" .. state })
    end

    local function files(dir)
      local out = {}
      for _, n in ipairs(ns.listdir(dir) or {}) do out[#out + 1] = n end
      table.sort(out)
      return out
    end

    it("compiles a profile once: the next luactr maps the program without libseccomp", function()
      local state = H.tmpdir("seccomp")
      H.defer(function() H.rmrf(state) end)
      local out, code = start(state)
      assert.equal(0, code, out)
      assert.equal("1\tlibseccomp\n", out)
      local dir = state .. "/" .. seccomp.DIR
      local st = assert(ns.stat(dir))
      assert.equal(tonumber("700", 8), st.mode)
      local list = files(dir)
      assert.equal(1, #list)
      assert.matches("^%x+%.bpf$", list[1])
      local f = assert(ns.stat(dir .. "/" .. list[1]))
      assert.equal(tonumber("600", 8), f.mode)
      assert.equal(0, f.size % 8)
      out, code = start(state)
      assert.equal(0, code, out)
      assert.equal("0\tno libseccomp\n", out)
      -- Another profile, another program.
      local custom = '{ default = "allow", syscalls = { { names = { "kexec_load" }, action = "errno" } } }'
      out = start(state, custom)
      assert.equal("1\tlibseccomp\n", out)
      assert.equal(2, #files(dir))
      out = start(state, custom)
      assert.equal("0\tno libseccomp\n", out)
    end)

    it("compiles again, and replaces, a cache file that is damaged", function()
      local state = H.tmpdir("seccomp")
      H.defer(function() H.rmrf(state) end)
      assert.equal("1\tlibseccomp\n", (start(state)))
      local dir = state .. "/" .. seccomp.DIR
      local path = dir .. "/" .. files(dir)[1]
      local good = assert(ns.readfile(path))
      for _, damaged in ipairs({ good .. "xyz", good:sub(1, 8), string.rep("\0", #good), "" }) do
        assert(ns.writefile(path, damaged))
        local out, code = start(state)
        assert.equal(0, code, out)
        assert.equal("1\tlibseccomp\n", out)
        assert.equal(good, ns.readfile(path))
      end
      -- One that others may write is not trusted either.
      assert(ns.chmod(path, "0644"))
      assert.equal("1\tlibseccomp\n", (start(state)))
      assert.equal(tonumber("600", 8), ns.stat(path).mode)
    end)
  end)

  describe("luactr exec and h:exec", function()
    it("run under the container's filter", function()
      local out, code = H.recipe(([[
local ns = require "ns"
local h = require("ns.container").start { args = { "/bin/sleep", "100" },
  mounts = {{ source = %q, target = "/opt/luactr", flags = { "bind", "rdonly" }, mkdir = true }} }
local st = h:exec({ "/opt/luactr/probe", "syscall", "add_key" })
print("exec status " .. st.status)
h:kill("KILL")
h:wait()
]]):format(PROBE_DIR))
      assert.equal(0, code, out)
      assert.matches("add_key: Operation not permitted", out)
      assert.matches("exec status 1", out)
    end)

    it("luactr exec into a container started by luactr run -d", function()
      local state = H.tmpdir("seccomp")
      H.defer(function() H.rmrf(state) end)
      local env = "LUACTR_STATE=" .. state
      local name = "seccomp-spec-" .. ns.getpid()
      local out, code = H.run_luactr(("run -d --name %s -v %s:/opt/luactr:ro busybox sleep 100"):format(name, PROBE_DIR),
        { env = env })
      assert.equal(0, code, out)
      H.defer(function() H.run_luactr("rm -f " .. name, { env = env }) end)
      out, code = H.run_luactr(("exec %s /opt/luactr/probe syscall keyctl"):format(name), { env = env })
      assert.equal(1, code, out)
      assert.matches("keyctl: Operation not permitted", out)
      out, code = H.run_luactr(("exec %s grep Seccomp: /proc/self/status"):format(name), { env = env })
      assert.equal(0, code, out)
      assert.matches("Seccomp:%s+2", out)
    end)
  end)

  describe("luactr seccomp show", function()
    it("sums up the default profile", function()
      local out, code = H.run_luactr("seccomp show default")
      assert.equal(0, code, out)
      assert.matches("default action: errno EPERM", out)
      -- x86's rules only where the kernel runs 32-bit x86 calls.
      if require("ns.seccomp").runs("x86") == false then
        assert.matches("architectures: x86_64, x32 (not x86: this kernel does not run its calls)", out, 1, true)
      else
        assert.matches("architectures: x86_64, x86, x32", out, 1, true)
      end
      assert.matches("clone3: errno ENOSYS without sys_admin", out, 1, true)
      assert.matches("socket: allow when arg0 < 38", out, 1, true)
      assert.matches("\n      sys_admin: bpf clone", out, 1, true)
      assert.matches("\n    %* sys_chroot: chroot", out)
      assert.matches("compiled: %d+ instructions", out)
    end)

    it("sums up a profile file, and names what is wrong with a bad one", function()
      local path = H.tmpfile([[return { default = "kill", syscalls = { { names = { "read", "write" }, action = "allow" },
        { names = { "mkdir" }, action = "errno", errno = "EACCES" } } }]])
      local out, code = H.run_luactr("seccomp show " .. path)
      os.remove(path)
      assert.equal(0, code, out)
      assert.matches("default action: kill", out)
      assert.matches("mkdir: errno EACCES", out)
      path = H.tmpfile([[return { syscalls = { { names = { "raed" }, action = "allow" } } }]])
      out, code = H.run_luactr("seccomp show " .. path)
      os.remove(path)
      assert.equal(1, code, out)
      assert.matches('seccomp.syscalls[1].names[1]: unknown syscall "raed" (did you mean "read"?)', out, 1, true)
    end)
  end)
end)
