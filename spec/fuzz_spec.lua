-- fuzz_spec.lua: malformed recipes and malformed core arguments. For every
-- recipe key, values of every wrong type, holes, NULs and huge values; for
-- the core's bindings, arguments of every type. Each must give a short,
-- clear error naming what was wrong: no crash, no container that runs
-- twice, nothing left behind (the guard). The generator is seeded, so a
-- failure names the seed that reproduces it.
local H = require "support.helper"
local ns = H.ns
local container = require "ns.container"

local HUGE = ("x"):rep(1024 * 1024)
local NUL = "a\0b"

-- Values of every type, and strings that are wrong in themselves.
local function samples()
  return {
    0, -1, 1.5, math.huge, 0 / 0, math.maxinteger, "", NUL, HUGE, "bogus",
    true, false, {}, { {} }, { [2] = "hole" }, { x = 1 }, { NUL }, { HUGE },
    function() end, io.stdout, coroutine.create(function() end),
  }
end

local KEYS = {
  "name", "rootfs", "overlay", "keep_upper", "chroot", "hostname", "namespaces", "user", "mounts", "proc",
  "sys", "dev", "env", "cwd", "args", "tty", "capabilities", "no_new_privs", "inside", "parent", "init",
  "cgroup", "time", "rlimits", "readonly", "domainname", "stdin", "stdout", "stderr", "masked_paths",
  "readonly_paths", "preserve_fds", "devices", "cgroupfs",
}
for _, k in ipairs({ "landlock", "landlock_required", "umask", "oom_score_adj", "sysctl" }) do KEYS[#KEYS + 1] = k end

-- Tables that are wrong inside: each with the words its error must contain.
local NESTED = {
  { { capabilities = { "bogus" } }, "unknown capability 'bogus'" },
  { { capabilities = "" }, "capabilities" },
  { { capabilities = { "chown", nil, "kill" } }, nil }, -- a hole at the end is just a shorter list
  { { capabilities = { [1] = "chown", [3] = "kill" } }, "capabilities must be a list" },
  { { mounts = { { target = "/a", type = "tmpfs" }, [3] = { target = "/b", type = "tmpfs" } } }, "mounts must be a list" },
  { { mounts = { { target = "/a", flags = { "bogus" } } } }, "unknown mount flag 'bogus'" },
  { { mounts = { { target = NUL } } }, "NUL" },
  { { mounts = { { target = {} } } }, "target" },
  { { mounts = { { target = "/a", source = 5 } } }, "source" },
  { { mounts = { "/a" } }, "mounts[1]" },
  { { rlimits = { [1] = 5 } }, "unknown rlimit 1" },
  { { rlimits = { nofile = { 1, 2, 3 } } }, "rlimits.nofile" },
  { { rlimits = { nofile = { 10, 5 } } }, "above the hard limit" },
  { { rlimits = { nofile = -1 } }, "rlimits.nofile" },
  { { rlimits = { nofile = "many" } }, "rlimits.nofile" },
  { { rlimits = { bogus = 1 } }, "unknown rlimit 'bogus'" },
  { { hostname = NUL }, "hostname" },
  { { hostname = HUGE }, "hostname" },
  { { domainname = ("d"):rep(65) }, "longer than 64" },
  { { args = { "/bin/echo", NUL } }, "args[2]" },
  { { args = { {} } }, "args[1]" },
  { { args = { "/bin/true", {} } }, "args[2]" },
  { { args = {} }, "args is empty" },
  { { args = { "/bin/true", [3] = "x" } }, "args must be a list" },
  { { env = { A = {} } }, "env.A" },
  { { env = { "NOEQUALS" } }, "env[1]" },
  { { env = { ["A=B"] = "c" } }, "env key" },
  { { env = { [true] = "c" } }, "env" },
  { { env = { A = NUL } }, "env.A" },
  { { rootfs = { {} } }, "rootfs[1]" },
  { { rootfs = {} }, "rootfs" },
  { { rootfs = NUL }, "rootfs" },
  { { namespaces = { "pid", "bogus" } }, "unknown namespace 'bogus'" },
  { { namespaces = { 1 } }, "unknown namespace" },
  { { user = { uid_map = { { 0, 1000 } } } }, "user.uid_map[1]" },
  { { user = { uid_map = {} } }, "user.uid_map" },
  { { user = { uid = -1 } }, "user.uid" },
  { { user = { bogus = 1 } }, "unknown key 'bogus'" },
  { { time = { monotonic = 1.5 } }, "time.monotonic" },
  { { time = { bogus = 1 } }, "unknown key 'bogus'" },
  { { root_propagation = "slaves" }, "root_propagation 'slaves' (did you mean 'slave'?" },
  { { root_propagation = "rshared", chroot = true }, "a chroot container's root is the host's mount namespace's" },
  { { landlock = { read = { "relative" } } }, "landlock.read[1]" },
  { { landlock = { write = { "/tmp", [3] = "/x" } } }, "landlock.write must be a list" },
  { { landlock = { execute = { NUL } } }, "landlock.execute[1]" },
  { { landlock = { bogus = {} } }, "unknown key 'bogus'" },
  { { landlock = {} }, nil }, -- no rules: every filesystem access denied
  { { inside = { function() end, 5 } }, "inside[2]" },
  { { masked_paths = { "relative" } }, "masked_paths[1]" },
  { { readonly_paths = { NUL } }, "readonly_paths[1]" },
  { { preserve_fds = { -1 } }, "preserve_fds[1]" },
  { { preserve_fds = { "3" } }, "preserve_fds[1]" },
  { { devices = { "/dev/no-such-device" } }, "devices[1]" },
  { { devices = { "/etc/passwd" } }, "not a device node" },
  { { devices = { { source = "/dev/null", path = "/etc/x" } } }, "under /dev" },
  { { devices = { { source = "/dev/null", path = "/dev/../etc/x" } } }, "under /dev" },
  { { devices = { { source = "/dev/null", access = "rx" } } }, "access" },
  { { [HUGE] = 1 }, "unknown key" },
  { { name = HUGE }, "name must be" },
}

describe("fuzz", function()
  H.guard()

  describe("recipes", function()
    it("reject a value of every wrong type for every key, naming the key, in a few hundred bytes", function()
      for _, key in ipairs(KEYS) do
        for i, v in ipairs(samples()) do
          local ok, err = pcall(container.plan, { [key] = v })
          if not ok then
            assert.is_string(err, key)
            assert.is_true(#err <= 400, ("%s = sample %d: %d-byte error: %s"):format(key, i, #err, err:sub(1, 200)))
            assert.is_truthy(err:find(key, 1, true) or err:find("container", 1, true),
              ("%s = sample %d: the error does not name the key: %s"):format(key, i, err))
            assert.is_nil(err:find("attempt to", 1, true), ("%s = sample %d: internal error: %s"):format(key, i, err))
          end
        end
      end
    end)

    it("reject what is wrong inside a table, naming it", function()
      for _, case in ipairs(NESTED) do
        local t, want = case[1], case[2]
        local ok, err = pcall(container.plan, t)
        if want then
          assert.is_false(ok, "accepted: " .. want)
          assert.is_true(#err <= 400, ("%d-byte error: %s"):format(#err, err:sub(1, 200)))
          assert.matches(want, err, 1, true)
          assert.is_nil(err:find("attempt to", 1, true), err)
        else
          assert.is_true(ok, tostring(err))
        end
      end
    end)

    it("reject random nestings of bad values (seeded)", function()
      local seed = tonumber(os.getenv("LUACTR_FUZZ_SEED") or "") or os.time()
      math.randomseed(seed)
      local s = samples()
      for _ = 1, 2000 do
        local t = {}
        for _ = 1, math.random(1, 3) do
          local key = KEYS[math.random(#KEYS)]
          local v = s[math.random(#s)]
          if math.random() < 0.3 then v = { v, s[math.random(#s)] } end
          if math.random() < 0.2 then v = { [key] = v } end
          t[key] = v
        end
        local ok, err = pcall(container.plan, t)
        if not ok then
          assert.is_string(err, "seed " .. seed)
          assert.is_true(#err <= 400, ("seed %d: %d-byte error"):format(seed, #err))
          assert.is_nil(err:find("attempt to", 1, true), ("seed %d: internal error: %s"):format(seed, err))
        end
      end
    end)

    it("run: a bad value found only when running fails once, in luactr, leaving nothing", function()
      -- Bad cgroup values, which plan() refuses, and what it cannot see: a
      -- CPU the host lacks, a rootfs that is missing, a mount the kernel
      -- refuses, a program that is not there.
      for _, t in ipairs({
        [[{ cgroup = { memory = "-5M" } }]], [[{ cgroup = { cpu = 0 } }]], [[{ cgroup = { pids = 1.5 } }]],
        [[{ cgroup = { cpuset = "999" } }]], [[{ cgroup = { bogus = 1 } }]],
        [[{ cgroup = { devices = { { type = "x", allow = true } } } }]],
        [[{ rootfs = "/nonexistent" }]], [[{ mounts = { { type = "nosuchfs", target = "/x", mkdir = true } } }]],
        [[{ args = { "/no/such/program" } }]], [[{ rlimits = { nofile = { 1, math.maxinteger } } }]],
      }) do
        local out = H.recipe(([[
          local ns = require "ns"
          local t = %s
          t.args = t.args or { "/bin/true" }
          local ok, err = pcall(require("ns.container").run, t)
          print("after", ns.getpid() == 1 and "INSIDE" or "outside", ok, #tostring(err))
          io.stdout:write(tostring(err), "\n")]]):format(t))
        local n = 0
        for _ in out:gmatch("after\t") do n = n + 1 end
        assert.are.equal(1, n, t .. "\n" .. out)
        assert.matches("after\toutside\tfalse", out, 1, true)
        assert.is_nil(out:find("attempt to", 1, true), out)
        local len = tonumber(out:match("after\toutside\tfalse\t(%d+)"))
        assert.is_true(len <= 600, t .. ": " .. out)
      end
    end)
  end)

  describe("core bindings", function()
    it("raise or return the failure triple for arguments of every type, and never crash", function()
      -- Run in a fresh lua5.4 so that a crash shows as a dead child, not a
      -- dead busted. Bindings that change the calling process itself
      -- (exit, exec, ids, mounts, signals, the terminal) are left out: each
      -- has its own spec of bad arguments.
      local _, n, bad = H.lua_child([[
        local skip = {}
        for n in ("_exit exec clone unshare setns mount umount pivot_root chroot chdir kill sigmask signalfd " ..
          "setresuid setresgid setgroups sethostname setdomainname setrlimit prctl cap_drop_bound cap_set cap_ambient " ..
          "rawmode relay setsid setctty dup2 close_range sleep poll keyctl_join_session mount_setattr " ..
          "writefile mkdir rmdir unlink rename chmod chown symlink mknod mkdtemp uid_map gid_map setgroups_deny " ..
          "devices_attach devices_detach flock fd msgget msgrm"):gmatch("%S+") do skip[n] = true end
        local HUGE = ("x"):rep(1024 * 1024)
        local args = { 0, -1, 1.5, math.huge, 0 / 0, math.mininteger, "", "a\0b", HUGE, true, {}, { {} }, { "bogus" },
          function() end }
        local names = {}
        for k, v in pairs(ns) do if type(v) == "function" and not skip[k] then names[#names + 1] = k end end
        table.sort(names)
        local bad = {}
        for _, name in ipairs(names) do
          for _, a in ipairs(args) do
            for _, b in ipairs({ false, "a\0b", {}, 2.5 }) do
              local r = table.pack(pcall(ns[name], a, b))
              if r[1] then
                -- a success, or the contract's failure triple
                if r[2] == nil and not (type(r[3]) == "string" and math.type(r[4]) == "integer") then
                  bad[#bad + 1] = name .. ": nil without message and errno"
                end
                -- a fd handle it made goes at once
                for i = 2, r.n do if type(r[i]) == "userdata" and r[i].close then pcall(r[i].close, r[i]) end end
              elseif type(r[2]) ~= "string" or #r[2] > 4096 then
                bad[#bad + 1] = name .. ": error is not a short string"
              end
            end
          end
        end
        return #names, table.concat(bad, "\n")
      ]])
      assert.is_true(n >= 25, "bindings fuzzed: " .. tostring(n))
      assert.are.equal("", bad)
    end)

    it("refuse strings with NUL bytes where the kernel takes a C string", function()
      local _, r = H.lua_child([[
        local out = {}
        for _, call in ipairs({
          function() return ns.open("/etc/passwd\0/x") end,
          function() return ns.readfile("/etc/passwd\0/x") end,
          function() return ns.stat("/\0/x") end,
          function() return ns.openat2(ns.open("/", "directory"), "etc\0x", "path") end,
          function() return ns.listdir("/\0/x") end,
          function() return ns.readlink("/\0/x") end,
        }) do
          local ok, a = pcall(call)
          out[#out + 1] = (not ok and tostring(a):find("NUL", 1, true)) and "refused" or ("accepted: " .. tostring(a))
        end
        return table.concat(out, " ")
      ]])
      assert.are.equal(("refused "):rep(6):sub(1, -2), r)
    end)
  end)
end)
