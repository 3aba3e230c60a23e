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

  describe("ns.core's primitives", function()
    it("sha256 is FIPS 180-4's", function()
      assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ns.sha256(""))
      assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ns.sha256("abc"))
      assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ns.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      assert.equal(require("ns.digest").string(("x"):rep(1000)), ns.sha256(("x"):rep(1000)))
    end)

    it("seccomp_load refuses what is not a program, and installs one that is", function()
      assert.has_error(function() ns.seccomp_load("1234567") end)
      assert.has_error(function() ns.seccomp_load(("x"):rep(8 * 4097)) end)
      assert.has_error(function() ns.seccomp_load(("x"):rep(8), "tsunami") end)
      local prog = require("ns.seccomp").compile { default = "allow", arches = { (ns.seccomp_abi()) },
        rules = { { action = "errno", errno = ns.E.EXDEV, names = { "mkdir", "mkdirat" } } } }
      H.in_child(function()
        assert(ns.prctl("no_new_privs", true))
        assert(ns.seccomp_load(prog))
        -- The flags reach the kernel: this one is only for a filter with a listener.
        H.fails_with(ns.E.EINVAL, ns.seccomp_load(prog, "wait_killable_recv"))
        assert(ns.seccomp_load(prog, { "log", "spec_allow", "tsync" }))
        local dir = "/tmp/luactr-spec-never"
        H.fails_with(ns.E.EXDEV, ns.mkdir(dir))
        -- A program the kernel's checker refuses: a jump out of it.
        H.fails_with(ns.E.EINVAL, ns.seccomp_load(string.pack("=I2BBI4", 0x15, 9, 9, 0) .. string.pack("=I2BBI4", 0x06, 0, 0, 0x7fff0000)))
      end)
    end)

    it("seccomp_prog maps a whole program only, and the notification calls fail on another fd", function()
      local path = H.tmpfile(("\0"):rep(12))
      local f = assert(ns.open(path))
      H.fails_with(ns.E.EINVAL, ns.seccomp_prog(f))
      f:close()
      assert(ns.writefile(path, string.pack("=I2BBI4", 0x20, 0, 0, 4) .. string.pack("=I2BBI4", 0x06, 0, 0, 0x7fff0000)))
      f = assert(ns.open(path))
      local p = assert(ns.seccomp_prog(f))
      f:close()
      os.remove(path)
      assert.equal(2, #p)
      assert.same({ 0x06, 0, 0, 0x7fff0000 }, { p:insn(2) })
      assert.is_true(seccomp.valid(p))
      assert.equal("seccomp program (2 instructions)", tostring(p))
      p:close()
      assert.equal("seccomp program (unmapped)", tostring(p))
      local r, w = assert(ns.pipe())
      H.fails_with(ns.E.ENOTTY, ns.seccomp_notif_recv(r))
      H.fails_with(ns.E.ENOTTY, ns.seccomp_notif_id_valid(r, 1))
      H.fails_with(ns.E.ENOTTY, ns.seccomp_notif_send(r, 1, { error = 1 }))
      assert.has_error(function() ns.seccomp_notif_send(r, 1, { continue = true, error = 1 }) end)
      assert.has_error(function() ns.seccomp_notif_send(r, 1, { erno = 1 }) end)
      r:close(); w:close()
    end)
  end)

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

    it("allows the calls newer than libseccomp by number; one above every known call gets ENOSYS, a gap EPERM", function()
      if ns.seccomp_abi() ~= "x86_64" then pending("the numbers probed are x86_64's") return end
      -- mseal (462) is in the profile but newer than Debian 12's
      -- libseccomp; 470 is no call of this kernel's; 420 is in x86_64's
      -- gap from 336 to 423, below calls libseccomp knows.
      local cmd = "/opt/luactr/probe syscall mseal; /opt/luactr/probe syscall 470; /opt/luactr/probe syscall 420; true"
      local out = inside(cmd)
      assert.matches("mseal: ok", out)
      assert.matches("470: Function not implemented %(ENOSYS%)", out)
      assert.matches("420: Operation not permitted %(EPERM%)", out)
      -- Without the filter: the kernel's own answers, the same but for 420.
      out = inside(cmd, "seccomp = false")
      assert.matches("mseal: ok", out)
      assert.matches("470: Function not implemented %(ENOSYS%)", out)
      assert.matches("420: Function not implemented %(ENOSYS%)", out)
      -- A profile that allows by default has no such rule: nothing to fall back from.
      out = inside(cmd, [[seccomp = { default = "allow", syscalls = { { names = { "kexec_load" }, action = "errno" } } }]])
      assert.matches("470: Function not implemented %(ENOSYS%)", out)
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
          .. "kill_thread, log, notify, trap)" },
      { 'seccomp = { syscalls = { { names = { "mkdir" }, action = "notify" } } }',
        'container "bad": seccomp: a group with action notify needs an agent (seccomp = {profile = ..., agent = {socket = PATH}})' },
      { 'seccomp = { profile = { default = "notify" }, agent = { socket = "/run/a.sock" } }',
        "container \"bad\": seccomp.profile.default: notify is for a group's calls, not the default (the agent would answer every call)" },
      { 'seccomp = { profile = { syscalls = { { names = { "sendmsg" }, action = "notify" } } }, agent = { socket = "/run/a.sock" } }',
        'container "bad": seccomp.profile: notify of sendmsg: the listener itself is sent to the agent with it' },
      { 'seccomp = { profile = "default", agent = { socket = "run/a.sock" } }',
        'container "bad": seccomp.agent.socket: must be the absolute path of the agent\'s unix socket, not "run/a.sock"' },
      { 'seccomp = { profile = "default", flags = { "fast" } }',
        "container \"bad\": seccomp.flags[1]: unknown flag 'fast' (valid: log, spec_allow, tsync, wait_killable_recv)" },
      { 'seccomp = { profile = "default", flags = { "wait_killable_recv" } }',
        'container "bad": seccomp.flags: wait_killable_recv is for a filter with a listener (notify)' },
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
          .. "log, notify, trap)" },
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

  describe("notify handlers", function()
    it("see every mount of examples/notify.lua, with its paths, and refuse the one on /secret", function()
      local out, code = H.run_luactr(H.root .. "/examples/notify.lua")
      assert.equal(0, code, out)
      assert.matches("luactr: pid %d+: mount scratch on /scratch %(tmpfs%)\nscratch mounted\n", out)
      assert.matches("luactr: pid %d+: mount hidden on /secret %(tmpfs%)\n", out)
      assert.matches("secret refused", out)
    end)

    it("answer with an errno, a value without the call, or EPERM for a handler that fails", function()
      local out, code = inside("mkdir /a /b /c /d; echo a; mkdir /a/x; echo b; mkdir /b/x; echo c; mkdir /c/x; "
        .. "echo d; mkdir /d/x; ls -d /a/x /b/x /c/x /d/x 2>/dev/null; rmdir /zz",
        [[seccomp = { notify = { mkdir = function(req)
            if req.path == "/a/x" then return { errno = "EACCES" } end
            if req.path == "/b/x" then return { value = 0 } end
            if req.path == "/c/x" then error("no view on /c") end
            if req.path == "/d/x" then return "allow" end
            return "allow"
          end, rmdir = function(req) return "ENOTEMPTY" end } }]])
      assert.equal(1, code, out)
      assert.matches("a\nmkdir: can't create directory '/a/x': Permission denied\n", out)
      -- {value = 0}: mkdir says it made /b/x, which is not there.
      assert.matches("b\nc\n", out)
      assert.matches('seccomp notify mkdir: [^\n]*no view on /c', out)
      assert.matches("can't create directory '/c/x': Operation not permitted", out)
      assert.matches("\n/d/x\n", out)
      assert.not_matches("/b/x\n", out)
      assert.matches("rmdir: '/zz': Directory not empty", out)
    end)

    it("run in luactr while it waits, leaving no listener behind", function()
      local seen = {}
      local st = require("ns.container").run { args = { "/bin/sh", "-c", "mkdir /x /y; ls -d /x /y" }, capture = true,
        seccomp = { notify = { mkdir = function(req) seen[#seen + 1] = req.path; return "allow" end } } }
      assert.equal(0, st.status, st.stderr)
      assert.equal("/x\n/y\n", st.stdout)
      assert.same({ "/x", "/y" }, seen)
    end)

    it("answer an exec'd command's calls too: in h:exec while it waits, a detached one's while h is waited for", function()
      local out, code = H.recipe([[
local seen = {}
local h = require("ns.container").start { tty = false,
  args = { "/bin/sh", "-c", "sleep 1; mkdir /late; ls -d /x /d /late" },
  seccomp = { notify = { mkdir = function(req)
    seen[#seen + 1] = req.path
    if req.path == "/no" then return "EACCES" end
    return "allow"
  end } } }
local st = h:exec({ "/bin/sh", "-c", "mkdir /x; mkdir /no 2>&1; echo $?" })
assert(st.status == 0)
h:exec({ "/bin/mkdir", "/d" }, { detach = true })
local ok, err = pcall(h.exec, h, { "/bin/true" }, { tty = true })
print(err)
local fin = h:wait()
table.sort(seen)
print(table.concat(seen, " "))
os.exit(fin.status)
]])
      assert.equal(0, code, out)
      assert.matches("mkdir: can't create directory '/no': Permission denied\n1\n", out)
      assert.matches("\n/d\n/late\n/x\n", out)
      assert.matches("\n/d /late /no /x\n", out)
      assert.matches(": exec: tty: a terminal's relay answers no seccomp notification; the handlers need tty = false", out)
    end)

    it("are refused for the setup's own calls, without no_new_privs, and with a terminal", function()
      local recipe_mod = require "ns.recipe"
      local f = function() return "allow" end
      for _, b in ipairs({
        { { seccomp = { notify = { write = f } } },
          "container \"bad\": seccomp.notify.write: luactr's own setup makes that call after the filter, before it can answer it" },
        { { seccomp = { notify = { mount = f } }, no_new_privs = false },
          "container \"bad\": seccomp.notify: needs no_new_privs: without it the filter comes before the setup's own calls" },
        { { seccomp = { notify = { mount = f } }, tty = true },
          "container \"bad\": seccomp.notify: needs tty = false: a terminal's relay answers no notification" },
        { { seccomp = { notify = { muont = f } } },
          'container "bad": seccomp.notify.muont: unknown syscall "muont" (did you mean "mount"?)' },
      }) do
        b[1].name = "bad"
        local ok, err = pcall(recipe_mod.check, b[1])
        assert.is_false(ok)
        assert.equal(b[2], tostring(err))
      end
    end)
  end)

  describe("the JSON form (docker's --security-opt seccomp=FILE, OCI's linux.seccomp)", function()
    local oci = require "ns.security.seccomp_oci"

    it("becomes the recipe's profile table, field by field", function()
      local t = oci.profile({
        defaultAction = "SCMP_ACT_ERRNO", defaultErrnoRet = 1,
        archMap = { { architecture = "SCMP_ARCH_X86_64", subArchitectures = { "SCMP_ARCH_X86", "SCMP_ARCH_X32" } } },
        flags = { "SECCOMP_FILTER_FLAG_TSYNC" },
        syscalls = {
          { names = { "read", "write" }, action = "SCMP_ACT_ALLOW" },
          { names = { "personality" }, action = "SCMP_ACT_ALLOW",
            args = { { index = 0, value = 8, valueTwo = 0, op = "SCMP_CMP_EQ" } } },
          { names = { "clone" }, action = "SCMP_ACT_ALLOW",
            args = { { index = 0, value = 2114060288, op = "SCMP_CMP_MASKED_EQ" } },
            excludes = { caps = { "CAP_SYS_ADMIN" }, arches = { "s390x" } } },
          { names = { "clone3" }, action = "SCMP_ACT_ERRNO", errnoRet = 38, includes = { minKernel = "5.3" } },
        },
        someFutureField = true,
      })
      assert.are.same({
        default = "errno", errno = 1, arch_map = { { "x86_64", "x86", "x32" } },
        syscalls = {
          { names = { "read", "write" }, action = "allow" },
          { names = { "personality" }, action = "allow", args = { { 0, "eq", 8 } } },
          { names = { "clone" }, action = "allow", args = { { 0, "masked_eq", 2114060288, 0 } },
            excludes = { caps = { "CAP_SYS_ADMIN" }, arches = { "s390x" } } },
          { names = { "clone3" }, action = "errno", errno = 38, includes = { min_kernel = "5.3" } },
        },
      }, t)
      -- ...which the recipe's checks take as they are.
      assert.is_table(require("ns.recipe").check({ seccomp = t }))
    end)

    it("takes listenerPath, listenerMetadata and flags as the recipe's agent and flags; refuses what is wrong, naming the key", function()
      local function err(t)
        local ok, e = pcall(oci.profile, t)
        assert.is_false(ok)
        return e
      end
      local p, extra = oci.profile({ defaultAction = "SCMP_ACT_ALLOW", listenerPath = "/run/agent.sock", listenerMetadata = "m",
        flags = { "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW" },
        syscalls = { { names = { "mkdir" }, action = "SCMP_ACT_NOTIFY" } } })
      assert.are.equal("notify", p.syscalls[1].action)
      assert.are.same({ agent = { socket = "/run/agent.sock", metadata = "m" }, flags = { "log", "spec_allow" } }, extra)
      assert.is_nil(select(2, oci.profile({ defaultAction = "SCMP_ACT_ALLOW" })))
      assert.matches("^seccomp%.listenerPath: must be an absolute path",
        err({ defaultAction = "SCMP_ACT_ALLOW", listenerPath = "agent.sock" }))
      assert.matches("^seccomp%.flags%[1%]: unknown flag \"SECCOMP_FILTER_FLAG_FAST\"",
        err({ defaultAction = "SCMP_ACT_ALLOW", flags = { "SECCOMP_FILTER_FLAG_FAST" } }))
      assert.matches('^seccomp%.syscalls%[1%]%.action: unknown action "SCMP_ACT_MAYBE" %(valid: SCMP_ACT_ALLOW, ',
        err({ syscalls = { { names = { "read" }, action = "SCMP_ACT_MAYBE" } } }))
      assert.matches('^seccomp%.syscalls%[1%]%.args%[1%]%.op: unknown op "SCMP_CMP_ABOUT"',
        err({ syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW", args = { { index = 0, op = "SCMP_CMP_ABOUT" } } } } }))
      assert.matches('^seccomp%.architectures%[1%]: "x86_64" is not an architecture',
        err({ architectures = { "x86_64" } }))
    end)

    it("luactr run --security-opt seccomp=FILE.json filters with it; seccomp=unconfined with none", function()
      local dir = H.tmpdir("seccomp-json")
      H.defer(function() H.rmrf(dir) end)
      local file = dir .. "/deny-mkdir.json"
      assert(ns.writefile(file, [[{"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}]],
        { create = true }))
      local out, code = H.run_luactr("run --rm --security-opt seccomp=" .. file .. " busybox mkdir /made")
      assert.are.equal(1, code, out)
      assert.matches("Permission denied", out)
      out, code = H.run_luactr("run --rm busybox sh -c 'mkdir /made && echo made'")
      assert.are.same({ "made\n", 0 }, { out, code })
      -- unconfined: a call the default profile refuses goes through.
      out = H.run_luactr("run --rm --security-opt seccomp=unconfined busybox grep Seccomp: /proc/self/status")
      assert.matches("Seccomp:%s+0", out)
      out = H.run_luactr("run --rm busybox grep Seccomp: /proc/self/status")
      assert.matches("Seccomp:%s+2", out)
      out, code = H.run_luactr("run --rm --security-opt seccomp=" .. dir .. "/none.json busybox true")
      assert.are.equal(125, code)
      assert.matches("^luactr run: %-%-security%-opt seccomp: seccomp profile [^\n]*none%.json: No such file", out)
      out, code = H.run_luactr("run --rm --security-opt apparmor=x busybox true")
      assert.are.equal(125, code)
      assert.matches("not supported %(valid: seccomp=unconfined, seccomp=PROFILE.json, no%-new%-privileges%)", out)
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
