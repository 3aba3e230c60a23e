-- security_spec.lua: the escape suite, written with ns.assert's matchers,
-- against three kinds of container: the default one (root, no user
-- namespace), one with a user namespace (user = true, luactr as root) and
-- a rootless one (luactr run -d as uid 1000, user = true, probed through
-- luactr exec as uid 1000). Each matcher is run once on a container
-- weakened for it (capabilities = "all", masked_paths = {}, ...) too, to
-- show that it can fail and says why (with seccomp = false where the
-- default filter would block the call anyway).
local H = require "support.helper"
local ns = H.ns
local A = require "ns.assert"
local container = require "ns.container"
local security = require "ns.security"

local ROOTLESS = "setpriv --reuid=1000 --regid=1000 --clear-groups"

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- The container table of a kind with extra's keys, the probe among its
-- mounts.
local function recipe(name, base, extra)
  local t = copy(base)
  for k, v in pairs(extra or {}) do t[k] = v end
  local mounts = { A.probe_mount() }
  for _, m in ipairs((extra or {}).mounts or {}) do mounts[#mounts + 1] = m end
  t.mounts = mounts
  t.name = name
  t.args = { "/bin/sleep", "1000" }
  return t
end

-- A handle's container: its target and its stop.
local function start_handle(t)
  local h = container.start(t)
  return A.target(h), function()
    h:kill("KILL")
    h:wait()
  end
end

-- v as Lua source (strings, numbers, booleans and tables of them).
local function lua_of(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. lua_of(k) .. "] = " .. lua_of(x) end
    return "{ " .. table.concat(parts, ", ") .. " }"
  elseif type(v) == "string" then
    return ("%q"):format(v)
  end
  return tostring(v)
end

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A rootless container: luactr run -d as uid 1000 on a recipe file that
-- returns t, its record in state (a directory of uid 1000's); probed
-- through luactr exec as uid 1000.
local function start_rootless(state, t)
  local path = state .. "/" .. t.name .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write("return ", lua_of(t), "\n")
  f:close()
  -- A luactr that hangs must not hang the suite.
  local env = ("LUACTR_STATE=%s timeout -s KILL 60 %s"):format(state, ROOTLESS)
  local out, code = H.run_luactr(("run -d --name %s %s"):format(t.name, path), { env = env })
  os.remove(path)
  assert(code == 0, out)
  local s = assert(require("ns.state").load(t.name, state))
  local function exec(argv)
    local words = {}
    for i, a in ipairs(argv) do words[i] = shq(a) end
    local _, _, c = os.execute(("%s %s exec %s %s </dev/null"):format(env, H.luactr, t.name, table.concat(words, " ")))
    return { status = c }
  end
  return A.target(s, { exec = exec }), function()
    H.run_luactr("rm -f " .. t.name, { env = env })
  end
end

local KINDS = {
  { label = "the default container", key = "default", base = {}, start = start_handle, cgroups = true },
  { label = "a user namespace (user = true, as root)", key = "user", base = { user = true }, start = start_handle,
    cgroups = true },
  { label = "a rootless container (uid 1000, user = true)", key = "rootless", base = { user = true }, rootless = true },
}

-- Docker's capabilities but net_raw.
local function without_net_raw()
  local caps = {}
  for _, c in ipairs(container.default_capabilities) do
    if c ~= "net_raw" then caps[#caps + 1] = c end
  end
  return caps
end

-- The capabilities that would let root inside act on the host.
local HOST_CAPS = { "sys_admin", "sys_module", "sys_ptrace", "sys_boot", "sys_rawio", "sys_time", "dac_read_search",
  "syslog", "net_admin", "mac_admin", "bpf", "perfmon", "sys_resource" }

describe("the escape suite", function()
  H.guard()

  local seq = 0
  for _, kind in ipairs(KINDS) do
    describe(kind.label, function()
      local state -- the rootless kind's state dir
      local started = {}
      -- Start a container of this kind with extra's keys; stopped after
      -- the test (or with the kind, for the shared one).
      local function start(extra, keep)
        seq = seq + 1
        local name = ("luactr-sec-%s-%d-%d"):format(kind.key, ns.getpid(), seq)
        local t = recipe(name, kind.base, extra)
        local target, stop
        if kind.rootless then
          target, stop = start_rootless(state, t)
        else
          target, stop = kind.start(t)
        end
        if keep then
          started[#started + 1] = stop
        else
          H.defer(stop)
        end
        return target
      end

      local c -- the kind's shared container, with the defaults
      setup(function()
        if kind.rootless then
          state = H.tmpdir("rootless")
          assert(ns.chown(state, 1000, 1000))
        end
        c = start(nil, true)
      end)
      teardown(function()
        for i = #started, 1, -1 do started[i]() end
        if state then H.rmrf(state) end
      end)

      it("does not see the host's processes", function()
        assert.container(c).cannot_see_host_pids()
      end)

      it("has none of the capabilities that reach the host", function()
        for _, cap in ipairs(HOST_CAPS) do assert.container(c).has_no_capability(cap) end
      end)

      it("cannot write host sysctls", function()
        for _, p in ipairs({ "/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sys/kernel/modprobe",
          "/proc/sys/kernel/hostname" }) do
          if ns.stat(p) then assert.container(c).cannot_write(p) end
        end
      end)

      it("cannot write /proc/sysrq-trigger", function()
        if not ns.stat("/proc/sysrq-trigger") then pending("this kernel has no /proc/sysrq-trigger") end
        assert.container(c).cannot_write("/proc/sysrq-trigger")
      end)

      it("cannot read /proc/kcore", function()
        if not ns.stat("/proc/kcore") then pending("this kernel has no /proc/kcore") end
        assert.container(c).cannot_read("/proc/kcore")
      end)

      it("reads nothing of the masked /proc and /sys paths", function()
        local n = 0
        for _, p in ipairs(security.masked_paths) do
          if ns.stat(p) then
            assert.container(c).cannot_read(p)
            n = n + 1
          end
        end
        assert.is_true(n >= 3, "only " .. n .. " masked paths on this host")
      end)

      it("cannot mount", function()
        assert.container(c).cannot_mount()
      end)

      it("cannot make and open a node of a host disk", function()
        assert.container(c).cannot_mknod()
      end)

      it("cannot open a raw socket with net_raw dropped", function()
        assert.container(start({ capabilities = without_net_raw() })).cannot_open_raw_socket()
      end)

      it("cannot ptrace a host process", function()
        assert.container(c).cannot_ptrace_host()
      end)

      it("cannot reach the host's files", function()
        assert.container(c).cannot_reach_host_fs()
      end)

      it("regains nothing over the host in a user namespace of its own (unshare -U)", function()
        assert.container(c).cannot_regain_privileges()
      end)

      it("cannot open the runtime's binary through /proc/PID/exe (init = true: luactr's reaper is PID 1)", function()
        assert.container(start({ init = true })).cannot_open_runtime_exe()
      end)

      it("has a hostname of its own", function()
        -- luactr run -d names it as docker does: by its short id.
        local name = c.id and c.id:sub(1, 12) or c.name
        assert.container(c).hostname_is(name)
        assert.are_not.equal(name, ns.gethostname())
      end)

      if kind.cgroups then
        it("reads its memory limit from /sys/fs/cgroup", function()
          assert.container(start({ cgroup = { memory = "64M" } })).memory_limit_is("64M")
        end)
      end

      it("cannot load kernel modules or kexec a kernel", function()
        for _, call in ipairs({ "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load" }) do
          assert.container(c).syscall_blocked(call)
        end
      end)

      it("cannot make the privileged calls its capabilities deny", function()
        for _, call in ipairs({ "bpf", "open_by_handle_at", "mount", "reboot", "swapon", "acct", "syslog", "iopl" }) do
          assert.container(c).syscall_blocked(call)
        end
      end)

      it("cannot use perf_event_open", function()
        assert.container(c).syscall_blocked("perf_event_open")
      end)

      it("cannot use userfaultfd", function()
        assert.container(c).syscall_blocked("userfaultfd")
      end)

      it("cannot make a user namespace (unshare -U)", function()
        assert.container(c).syscall_blocked("unshare")
      end)

      it("cannot use the kernel's keyrings (keyctl, add_key, request_key)", function()
        for _, call in ipairs({ "keyctl", "add_key", "request_key" }) do assert.container(c).syscall_blocked(call) end
      end)

      it("gives a command exec'd inside an empty session keyring of its own", function()
        -- The default filter refuses keyctl altogether (above): without
        -- it, the keyring a command exec'd inside sees is its own.
        assert.container(start({ seccomp = false })).has_own_session_keyring()
      end)
    end)
  end

  describe("holes found on the way, fixed", function()
    it("runs h:exec's command in a chroot = true container's root, not the host's", function()
      local t = recipe(("luactr-sec-chroot-%d"):format(ns.getpid()), { chroot = true })
      local h = container.start(t)
      H.defer(function() h:kill("KILL"); h:wait() end)
      -- busybox's /linuxrc is in the container's root and not in the host's.
      local st = h:exec({ "/bin/sh", "-c", "test -e /linuxrc" })
      assert.are.equal(0, st.status, "the command did not see /linuxrc: it runs in the host's /")
    end)
  end)

  describe("each matcher, on a container weakened for it", function()
    -- A default container (a handle) with extra's keys; fn(target).
    local n = 0
    local function weakened(extra)
      n = n + 1
      local t = recipe(("luactr-sec-weak-%d-%d"):format(ns.getpid(), n), {}, extra)
      local target, stop = start_handle(t)
      H.defer(stop)
      return target
    end

    -- The matcher's message, which it must raise.
    local function fails(fn)
      local ok, err = pcall(fn)
      assert.is_false(ok, "the matcher passed")
      return tostring(err)
    end

    local NO_PID_NS = { "mnt", "uts", "ipc", "net" }

    it("cannot_see_host_pids: without a pid namespace, names the host process it found", function()
      local c = weakened({ namespaces = NO_PID_NS })
      local msg = fails(function() assert.container(c).cannot_see_host_pids() end)
      assert.matches('expected container "' .. H.esc(c.name) .. '" not to see the host\'s processes, but '
        .. '"[^"]+ find%-pid luactr%-witness%-%x+" found the host\'s process %d+', msg)
    end)

    it("has_no_capability: with capabilities = \"all\", names the sets that hold it", function()
      local c = weakened({ capabilities = "all" })
      local msg = fails(function() assert.container(c).has_no_capability("CAP_SYS_ADMIN") end)
      assert.matches("not to have CAP_SYS_ADMIN, but \"grep ^Cap /proc/self/status /proc/1/status\" showed bit 21 in "
        .. "/proc/self's CapPrm", msg, 1, true)
    end)

    it("cannot_write: with readonly_paths = {}, shows the open that worked", function()
      local c = weakened({ readonly_paths = {} })
      local msg = fails(function() assert.container(c).cannot_write("/proc/sys/kernel/hostname") end)
      assert.matches('not to be able to write /proc/sys/kernel/hostname, but "/opt/luactr/probe open '
        .. '/proc/sys/kernel/hostname w" succeeded (exit 0): opened', msg, 1, true)
    end)

    it("cannot_read: with masked_paths = {}, says how much it read or listed", function()
      local c = weakened({ masked_paths = {} })
      local msg = fails(function() assert.container(c).cannot_read("/proc/timer_list") end)
      assert.matches('not to be able to read /proc/timer_list, but "head -c 16 /proc/timer_list | wc -c" read 16 bytes',
        msg, 1, true)
      msg = fails(function() assert.container(c).cannot_read("/sys/firmware") end)
      assert.matches('not to be able to read /sys/firmware, but "ls %-A /sys/firmware" listed %d+ entries: ', msg)
    end)

    it("syscall_blocked: with capabilities = \"all\" and no seccomp filter, shows the call getting past its permission check", function()
      local c = weakened({ capabilities = "all", seccomp = false })
      for _, call in ipairs({ "bpf", "open_by_handle_at", "mount", "reboot", "swapon", "acct", "syslog" }) do
        local msg = fails(function() assert.container(c).syscall_blocked(call) end)
        assert.matches(("to block %s, but \"/opt/luactr/probe try %s\" says: %s: permitted ("):format(call, call, call),
          msg, 1, true)
      end
    end)

    it("cannot_mount: with capabilities = \"all\", lists the mounts that worked", function()
      local c = weakened({ capabilities = "all" })
      local msg = fails(function() assert.container(c).cannot_mount() end)
      assert.matches('not to be able to mount, but "/opt/luactr/probe mount-try /tmp" succeeded (exit 0): '
        .. "mount tmpfs on /tmp: mounted", msg, 1, true)
    end)

    it("cannot_mknod: with a /tmp mounted without nodev and no cgroup, shows the read", function()
      local c = weakened({ mounts = { { type = "tmpfs", target = "/tmp", dev = true } } })
      local msg = fails(function() assert.container(c).cannot_mknod() end)
      assert.matches("not to be able to make and open a node of ", msg, 1, true)
      assert.matches("read %d+ bytes", msg)
    end)

    it("cannot_open_raw_socket: with docker's capabilities (net_raw kept), shows the socket", function()
      local c = weakened()
      local msg = fails(function() assert.container(c).cannot_open_raw_socket() end)
      assert.matches('not to be able to open a raw socket, but "/opt/luactr/probe raw-socket" succeeded (exit 0): '
        .. "socket AF_INET SOCK_RAW: opened", msg, 1, true)
    end)

    it("cannot_ptrace_host: without a pid namespace and with capabilities = \"all\", shows the attach", function()
      local c = weakened({ namespaces = NO_PID_NS, capabilities = "all" })
      local msg = fails(function() assert.container(c).cannot_ptrace_host() end)
      assert.matches("not to be able to ptrace a host process, but .* with the host's process %d+ running, "
        .. "printed: witness as %d+; attached", msg)
    end)

    it("cannot_reach_host_fs: without a pid namespace and with capabilities = \"all\", names the way in", function()
      local c = weakened({ namespaces = NO_PID_NS, capabilities = "all" })
      local msg = fails(function() assert.container(c).cannot_reach_host_fs() end)
      assert.matches('not to reach the host\'s files, but "/opt/luactr/probe reach /tmp/luactr%-assert%-%w+/marker", '
        .. "looking for a file made on the host, found it: .*stat /proc/%d+/root/tmp/luactr%-assert%-%w+/marker: found", msg)
    end)

    it("cannot_regain_privileges: with masked_paths = {}, readonly_paths = {} and no seccomp filter, shows the new /proc", function()
      local c = weakened({ masked_paths = {}, readonly_paths = {}, seccomp = false })
      local msg = fails(function() assert.container(c).cannot_regain_privileges() end)
      assert.matches("not to regain privileges in a user namespace of its own, but \"/opt/luactr/probe userns-escape\" "
        .. "succeeded (exit 0): unshare user,mnt,pid: done;", msg, 1, true)
      assert.matches("mount proc on /proc: mounted (without the masks)", msg, 1, true)
    end)

    it("cannot_open_runtime_exe: with init = true and capabilities = \"all\", names the /proc/PID/exe", function()
      local c = weakened({ init = true, capabilities = "all" })
      local msg = fails(function() assert.container(c).cannot_open_runtime_exe() end)
      assert.matches("not to be able to open the runtime's binary %(.+%), but \"/opt/luactr/probe exes\" opened it as "
        .. "/proc/1/exe", msg)
    end)

    it("hostname_is and memory_limit_is: say what the container has instead", function()
      local c = weakened({ cgroup = { memory = "64M" } })
      local msg = fails(function() assert.container(c).hostname_is("elsewhere") end)
      assert.matches(('to have the hostname "elsewhere", but "hostname" printed "%s" (exit 0)'):format(c.name), msg, 1, true)
      msg = fails(function() assert.container(c).memory_limit_is("32M") end)
      assert.matches("to have the memory limit 32M (33554432 bytes), but \"cat /sys/fs/cgroup/memory.max "
        .. "(or memory/memory.limit_in_bytes)\" printed 67108864 from /sys/fs/cgroup/", msg, 1, true)
      msg = fails(function() assert.container(weakened()).memory_limit_is("64M") end)
      assert.matches("failed (exit 1): no memory limit file", msg, 1, true)
    end)
  end)
end)
