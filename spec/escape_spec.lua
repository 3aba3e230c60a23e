-- escape_spec.lua: the default container as a boundary. Each spec is what
-- an attacker who is root inside would try, run from inside a container
-- made with the defaults (and, where it applies, with user = true, with
-- init = true and with a cgroup), and checks that the host is out of
-- reach. Probes that busybox has no applet for use build/probe (a static
-- helper that make builds), bound into the container at /opt/luactr.
local H = require "support.helper"
local ns = H.ns

local PROBE_DIR = H.root .. "/build"

-- A recipe that runs cmd (a shell command line) in a busybox container
-- with the probe mounted, t's keys added; prints the output and exits
-- with the container's status.
local function recipe(cmd, extra)
  return ([[
local t = { args = { "/bin/sh", "-c", %q },
  mounts = {{ source = %q, target = "/opt/luactr", flags = { "bind", "rdonly" }, mkdir = true }} }
for k, v in pairs({ %s }) do t[k] = v end
os.exit(require("ns.container").run(t).status)
]]):format(cmd, PROBE_DIR, extra or "")
end

local function inside(cmd, extra, opts)
  return H.recipe(recipe(cmd, extra), opts)
end

local VARIANTS = {
  { "the defaults", "" },
  { "user = true", "user = true" },
  { "init = true", "init = true" },
  { "a cgroup", "cgroup = { pids = 64 }" },
}

-- A device of the host that docker's allow-list leaves out: "b major
-- minor" and its /dev path (ns.assert's choice).
local function host_device()
  local dev, path = require("ns.assert").host_device()
  return table.concat(dev, " "), path
end

describe("the default container", function()
  H.guard()

  describe("/proc and /sys", function()
    for _, v in ipairs(VARIANTS) do
      it("cannot write host sysctls or sysrq-trigger, with " .. v[1], function()
        -- Writing core_pattern's own value back changes nothing even
        -- where the hole is open; that the write is refused is the check.
        local pattern = assert(ns.readfile("/proc/sys/kernel/core_pattern")):gsub("\n$", "")
        local out = inside(("printf '%%s\\n' %q > /proc/sys/kernel/core_pattern && echo WROTE; "
          .. "/opt/luactr/probe open /proc/sys/vm/drop_caches w; /opt/luactr/probe open /proc/sysrq-trigger w; "
          .. "grep -c ' /proc/sys ro,' /proc/self/mountinfo"):format(pattern), v[2])
        assert.not_matches("WROTE", out, 1, true)
        assert.not_matches("opened", out, 1, true)
        -- Root in a user namespace is refused by the kernel's own check
        -- first (EACCES); every other container by the read-only mount.
        local refused = v[2] == "user = true" and "Permission denied (EACCES)" or "Read-only file system (EROFS)"
        assert.matches("open /proc/sys/vm/drop_caches: " .. refused, out, 1, true)
        if ns.stat("/proc/sysrq-trigger") then -- not on a kernel without CONFIG_MAGIC_SYSRQ
          assert.matches("open /proc/sysrq-trigger: " .. refused, out, 1, true)
        end
        assert.are.equal(pattern .. "\n", ns.readfile("/proc/sys/kernel/core_pattern"))
      end)
    end

    it("leaves /proc/sys/net writable where the user namespace owns the net namespace, as docker does", function()
      local host = ns.readfile("/proc/sys/net/ipv4/ip_forward")
      local out, code = inside("echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward; "
        .. "echo 1 > /proc/sys/kernel/core_pattern || echo kernel read-only", 'user = true, capabilities = { "net_admin" }')
      assert.are.equal(0, code, out)
      assert.matches("^1\n", out)
      assert.matches("kernel read-only", out, 1, true)
      assert.are.equal(host, ns.readfile("/proc/sys/net/ipv4/ip_forward"))
      out = inside("grep -c ' /proc/sys/net rw' /proc/self/mountinfo")
      assert.matches("^0\n", out) -- without a user namespace it stays read-only
    end)

    it("hides host kernel state: keys, kcore, timer_list, sched_debug, firmware", function()
      local out, code = inside("for f in /proc/keys /proc/kcore /proc/timer_list /proc/sched_debug; do "
        .. "[ -e $f ] && echo \"$f $(head -c 64 $f | wc -c)\"; done; echo \"firmware: $(ls /sys/firmware | wc -l)\"")
      assert.are.equal(0, code, out)
      -- kcore and sched_debug are not on every kernel: checked where the host has them.
      for _, f in ipairs({ "/proc/keys", "/proc/kcore", "/proc/timer_list", "/proc/sched_debug" }) do
        if ns.stat(f) then assert.matches(f .. " 0\n", out, 1, true) end
      end
      assert.matches("firmware: 0\n", out, 1, true)
      -- the host does have them (user-mode-linux has no firmware)
      assert.is_true(#ns.readfile("/proc/timer_list") > 0)
    end)

    it("keeps masked and read-only paths under root's control: they cannot be unmounted", function()
      local out = inside("umount /proc/keys && echo UNMOUNTED; mount -o remount,rw /proc/sys && echo REMOUNTED; true")
      assert.not_matches("UNMOUNTED", out, 1, true)
      assert.not_matches("REMOUNTED", out, 1, true)
    end)

    it("lets a recipe relax them: masked_paths = {} and readonly_paths = {}", function()
      local out = inside("head -c 64 /proc/timer_list | wc -c; grep -c ' /proc/sys ro,' /proc/self/mountinfo",
        "masked_paths = {}, readonly_paths = {}")
      assert.matches("^64\n0\n", out)
    end)

    it("skips a masked path this kernel does not have, and masks a recipe's own", function()
      local out, code = inside("cat /etc/hostname | wc -c; ls /home | wc -l; touch /home/x",
        'masked_paths = { "/no/such/path", "/etc/hostname", "/home" }')
      assert.are_not.equal(0, code, out)
      assert.matches("^0\n0\ntouch: /home/x: Read%-only file system", out)
    end)
  end)

  describe("keyrings", function()
    it("has a session keyring of its own: a key the host added is not found", function()
      -- Outside: the probe joins a new session keyring, adds the key and
      -- runs a probe that finds it, then runs luactr with the same keyring.
      local out, code = H.sh(("%s/probe key-add luactr-spec s3cret %s/probe key-search luactr-spec"):format(PROBE_DIR, PROBE_DIR))
      assert.are.equal(0, code, out)
      assert.matches("s3cret", out, 1, true)
      local path = H.tmpfile(recipe("/opt/luactr/probe key-search luactr-spec"))
      out, code = H.sh(("%s/probe key-add luactr-spec s3cret %s %s 2>&1 </dev/null"):format(PROBE_DIR, H.luactr, path))
      os.remove(path)
      assert.are_not.equal(0, code, out)
      assert.not_matches("s3cret", out, 1, true)
    end)
  end)

  describe("file descriptors", function()
    for _, v in ipairs(VARIANTS) do
      it("inherits only 0, 1 and 2 from luactr's caller, with " .. v[1], function()
        local path = H.tmpfile(recipe("/opt/luactr/probe fds", v[2]))
        -- fd 3 on the host's /, fd 4 a pipe, fd 7 a file: all without close-on-exec.
        local out, code = H.sh(("exec 3</ 7<%s; : | %s %s 4<&0 2>&1 </dev/null"):format(path, H.luactr, path))
        os.remove(path)
        assert.are.equal(0, code, out)
        assert.are.equal("0 1 2\n", out)
      end)
    end

    it("passes preserve_fds as 3, 4, ... in their order", function()
      local out, code = H.recipe([[
        local ns = require "ns"
        local r1, w1 = assert(ns.pipe())
        local r2, w2 = assert(ns.pipe())
        local st = require("ns.container").run{ preserve_fds = { w2, w1 },
          args = { "/bin/sh", "-c", "echo two >&3; echo one >&4; ls /proc/self/fd | tr '\n' ' '" } }
        w1:close(); w2:close()
        print("one:", r1:read(), "two:", r2:read())
        os.exit(st.status)]])
      assert.are.equal(0, code, out)
      assert.matches("0 1 2 3 4", out, 1, true)
      assert.matches("one:\tone\n\ttwo:\ttwo\n", out, 1, true)
    end)
  end)

  describe("devices", function()
    local dev, devpath = host_device()
    for _, v in ipairs(VARIANTS) do
      it("cannot open a device node it makes (a host disk), with " .. v[1], function()
        local out = inside(("for d in /dev /tmp /; do /opt/luactr/probe mknod $d/luactr-x %s; done"):format(dev), v[2])
        assert.not_matches("read %d+ bytes", out)
        assert.not_matches("read: ", out, 1, true) -- the open itself must fail
      end)
    end

    for _, mode in ipairs({ "", "LUACTR_CGROUP_MODE=v2" }) do
      it("with a cgroup, denies a node on a dev mount through the device controller" .. (mode ~= "" and " (v2 only: BPF)" or " (the host's layout)"), function()
        -- dev = true leaves this tmpfs without nodev: only the cgroup stands in the way.
        local out, code = inside(("/opt/luactr/probe mknod /scratch/x %s; /opt/luactr/probe mknod /scratch/null c 1 3; "
          .. "/opt/luactr/probe open /dev/null w"):format(dev),
          'cgroup = {}, mounts = { { source = ' .. ("%q"):format(PROBE_DIR)
          .. ', target = "/opt/luactr", flags = { "bind", "rdonly" }, mkdir = true }, '
          .. '{ type = "tmpfs", target = "/scratch", mkdir = true, dev = true } }', { env = mode })
        assert.are.equal(0, code, out)
        assert.matches("open /scratch/x: Operation not permitted (EPERM)", out, 1, true)
        assert.matches("read 0 bytes", out, 1, true) -- the allowed /dev/null node it made
        assert.matches("opened", out, 1, true)
      end)
    end

    it("adds a recipe's devices to /dev and to the allow-list, with the access it gives", function()
      local out, code = inside("echo R; /opt/luactr/probe open /dev/disk/x; echo W; /opt/luactr/probe open /dev/disk/x w; true",
        ('cgroup = {}, devices = { { source = %q, path = "/dev/disk/x", access = "r" } }'):format(devpath))
      assert.are.equal(0, code, out)
      local r, w = out:match("^R\n(.*)W\n(.*)$")
      assert.is_string(r, out)
      assert.not_matches("open /dev/disk/x:", r, 1, true) -- opened (a read of kmsg may still say EINVAL)
      assert.matches("open /dev/disk/x: Operation not permitted (EPERM)", w, 1, true)
    end)
  end)

  describe("paths in the recipe", function()
    it("keeps a mount target with .. inside the root", function()
      local name = "luactr-escape-" .. ns.getpid()
      local out, code = inside("grep -c ' /" .. name .. " ' /proc/self/mountinfo",
        ('mounts = { { source = %q, target = "/opt/luactr", flags = { "bind", "rdonly" }, mkdir = true }, '
          .. '{ target = "../../../../%s", type = "tmpfs", mkdir = true } }'):format(PROBE_DIR, name))
      local leaked = ns.stat("/" .. name)
      if leaked then ns.rmdir("/" .. name) end
      assert.is_nil(leaked, "the mount target left the root: /" .. name .. " was made on the host")
      assert.are.equal(0, code, out)
      assert.matches("^1\n", out)
    end)

    it("refuses a path through a magic link (/proc/self/root, /dev/stdin), naming it", function()
      for _, t in ipairs({ '{ mounts = { { target = "/proc/self/root/tmp", type = "tmpfs" } } }',
        '{ masked_paths = { "/proc/1/root/etc" } }', '{ mounts = { { target = "/dev/stdin", type = "tmpfs" } } }' }) do
        local out, code = H.recipe(("local t = %s; t.args = { '/bin/true' }; require('ns.container').run(t)"):format(t))
        assert.are.equal(1, code, out)
        assert.matches(": /[%w/]+: Invalid cross%-device link %(EXDEV%)", out)
      end
    end)

    it("resolves symlinks in the image inside the root: mounts, mkdir and masked paths", function()
      local layer = H.tmpdir("layer")
      local target = H.tmpdir("target")
      finally(function() H.rmrf(layer); H.rmrf(target) end)
      assert(ns.symlink(target, layer .. "/abs"))
      assert(ns.symlink("../../../../../.." .. target, layer .. "/rel"))
      assert(ns.mkdir(layer .. "/opt"))
      local busybox = require("ns.rootfs").busybox()
      local out, code = inside("ls -d " .. target .. "/*; true",
        ('rootfs = { %q, %q }, mounts = { { source = %q, target = "/opt/luactr", '
          .. 'flags = { "bind", "rdonly" }, mkdir = true }, { target = "/abs/a/b", type = "tmpfs", mkdir = true }, '
          .. '{ target = "/rel/c", type = "tmpfs", mkdir = true } }'):format(layer, busybox, PROBE_DIR))
      assert.are.same({}, ns.listdir(target), "made on the host through a symlink")
      assert.are.equal(0, code, out)
      assert.matches(target .. "/a", out, 1, true)
      assert.matches(target .. "/c", out, 1, true)
    end)
  end)

  describe("the recipe", function()
    local function count_after(src)
      local out, code = H.recipe(([[
        local ns = require "ns"
        local ok, err = pcall(require("ns.container").run, %s)
        print("after", ns.getpid() == 1 and "INSIDE" or "outside", ok)
        io.stdout:write(tostring(err), "\n")]]):format(src))
      local n = 0
      for _ in out:gmatch("after\t") do n = n + 1 end
      return n, out, code
    end

    it("never runs twice when a child-side step raises, whatever it raises", function()
      for _, t in ipairs({
        [[{ args = { "/bin/true" }, inside = function() error(setmetatable({}, { __tostring = function() error("boom") end })) end }]],
        [[{ args = { "/bin/true" }, inside = function() error({}) end }]],
        [[{ args = { "/bin/true" }, inside = function() os.exit(0) end }]],
        [[{ args = { "/bin/true" }, inside = function() error("line one\nline two") end }]],
        [[{ args = { "/bin/true" }, cwd = "/no/such/dir" }]],
        [[{ args = { "/no/such/program" } }]],
      }) do
        local n, out = count_after(t)
        assert.are.equal(1, n, t .. "\n" .. out)
        assert.matches("after\toutside\tfalse", out, 1, true)
        assert.matches("step %d+ %(", out)
      end
      local _, out = count_after([[{ args = { "/bin/true" }, inside = function() error("line one\nline two") end }]])
      assert.matches("line one\nline two", out, 1, true)
      _, out = count_after([[{ args = { "/bin/true" }, inside = function() os.exit(0) end }]])
      assert.matches("died during setup (exit 0)", out, 1, true)
    end)

    it("rejects bad env and args in luactr, before anything starts", function()
      for _, t in ipairs({ [[{ env = { "NOEQUALS" } }]], [[{ args = { "/bin/true", {} } }]], [[{ env = { A = {} } }]] }) do
        local n, out = count_after(t)
        assert.are.equal(1, n, out)
        assert.not_matches("step %d", out)
      end
    end)
  end)

  describe("init = true", function()
    it("has a reaper that cannot be ptraced, nor its /proc/1/exe opened", function()
      local out, code = inside("/opt/luactr/probe ptrace 1; /opt/luactr/probe open /proc/1/exe; readlink /proc/1/exe; echo done",
        "init = true")
      assert.are.equal(0, code, out)
      assert.not_matches("attached", out, 1, true)
      assert.not_matches("read %d+ bytes", out)
      assert.not_matches("luactr", out:gsub("/opt/luactr/probe", ""), 1, true)
      assert.matches("done", out, 1, true)
    end)
  end)

  describe("a supervisor that dies", function()
    -- Start luactr on a recipe whose parent hook prints the container's
    -- pid, read until `until_line` shows on its stdout, SIGKILL it, and
    -- return the container's pid and luactr's status.
    local function kill_luactr(src, until_line)
      local path = H.tmpfile(src)
      local r, w = assert(ns.pipe())
      local pid, pidfd = assert(ns.clone({}))
      if pid == 0 then
        r:close()
        ns.dup2(w, 1)
        ns.exec(H.luactr, { "luactr", path })
        ns._exit(127)
      end
      w:close()
      local seen, cpid = "", nil
      local deadline = ns.clock() + 10
      while not seen:find(until_line, 1, true) and ns.clock() < deadline do
        local chunk = r:read(4096)
        if chunk == "" then break end
        seen = seen .. chunk
      end
      cpid = tonumber(seen:match("pid (%d+)"))
      assert(ns.kill(pidfd, "KILL"))
      local st = ns.wait(pidfd)
      pidfd:close()
      r:close()
      os.remove(path)
      assert.matches(until_line, seen, 1, true)
      return cpid, st
    end

    -- true once pid is gone (or a zombie that its new parent will reap).
    local function gone(pid)
      for _ = 1, 150 do
        local stat = ns.readfile("/proc/" .. pid .. "/stat")
        if not stat or stat:match("^%d+ %b() Z") then return true end
        ns.sleep(0.02)
      end
      return false
    end

    for _, user in ipairs({ "true", "false" }) do
      for _, when in ipairs({ "after exec", "during setup" }) do
        it(("takes the container with it, user = %s, %s; its cgroup is then collected"):format(user, when), function()
          local name = ("luactr-spec-orphan-%d-%s"):format(ns.getpid(), user)
          local cpid = kill_luactr(([[
            local ns = require "ns"
            require("ns.container").run{ name = %q, user = %s, cgroup = { pids = 64 },
              parent = function(h, pid) io.stdout:write("pid ", pid, "\n") io.stdout:flush() end,
              inside = %s,
              args = { "/bin/sh", "-c", "echo running; exec sleep 100" } }]]):format(name, user,
            when == "during setup" and [[function() io.stdout:write("in setup\n") io.stdout:flush() ns.sleep(2) end]] or "{}"),
            when == "during setup" and "in setup" or "running")
          assert.is_number(cpid)
          assert.is_true(gone(cpid), "the container outlived luactr: pid " .. cpid)
          local removed = require("ns.cgroup").gc()
          assert.is_truthy(table.concat(removed, " "):find(name, 1, true), "gc removed: " .. table.concat(removed, " "))
        end)
      end
    end
  end)

  describe("cgroups", function()
    -- What root inside would write through its view of its group at
    -- /sys/fs/cgroup: its limits, cgroup.procs (to move a process),
    -- release_agent (v1 runs it as root on the host when a group empties:
    -- the classic escape) and a new file there; and mkdir, a new group.
    local L = require("ns.cgroup").layout()
    local top = L.mode == "v2" and "" or "memory/"
    local FILES = { top .. (L.mode == "v2" and "memory.max" or "memory.limit_in_bytes"), top .. "cgroup.procs",
      top .. "release_agent", top .. "new" }
    if L.mode == "v2" then FILES[#FILES + 1] = "cgroup.subtree_control" else FILES[#FILES + 1] = "release_agent" end
    if L.mode == "hybrid" then FILES[#FILES + 1] = "unified/cgroup.procs" end
    for _, v in ipairs({ { "a cgroup", "" }, { "user = true and a cgroup", "user = true," } }) do
      it("cannot write a cgroup file through /sys/fs/cgroup, nor see another group, with " .. v[1], function()
        local cmd = {}
        for _, f in ipairs(FILES) do cmd[#cmd + 1] = "/opt/luactr/probe open /sys/fs/cgroup/" .. f .. " c" end
        cmd[#cmd + 1] = "mkdir /sys/fs/cgroup/" .. top .. "evil 2>/dev/null && echo MADE"
        cmd[#cmd + 1] = "find /sys/fs/cgroup -mindepth " .. (top == "" and 1 or 2) .. " -type d | wc -l"
        local out = inside(table.concat(cmd, "; "), v[2] .. ' cgroup = { memory = "64M" }')
        local n = 0
        for line in out:gmatch("[^\n]+") do
          n = n + 1
          if n <= #FILES then
            assert.matches("^open /sys/fs/cgroup/" .. H.esc(FILES[n]) .. ": ", line)
            assert.is_truthy(line:match("%(EROFS%)$") or line:match("%(EACCES%)$"), out)
          end
        end
        assert.are.equal(#FILES + 1, n, out)
        assert.matches("\n0\n$", out) -- no group below the container's own
      end)
    end

    -- Without a net namespace of its own, a user namespace gets the host's
    -- /sys bound (the kernel refuses it a new sysfs), with the host's
    -- cgroup hierarchies mounted in it.
    for _, v in ipairs({ { "no group", "" }, { "a cgroup", ' cgroup = { memory = "64M" },' } }) do
      it("sees none of the host's groups through the host's /sys, with user = true, no net namespace and " .. v[1], function()
        local out, code = inside("find /sys/fs/cgroup -mindepth " .. (top == "" and 1 or 2) .. " -type d | wc -l; "
          .. "ls /sys/fs/cgroup | wc -l",
          'user = true, namespaces = { "pid", "mnt", "uts", "ipc", "cgroup" },' .. v[2])
        assert.are.equal(0, code, out)
        local below, listed = out:match("^(%d+)\n(%d+)\n$")
        assert.are.equal("0", below, out)
        if v[2] == "" then assert.are.equal("0", listed, out) end
      end)
    end

    it("starts 20 containers with limits at once, every one of them, and leaves no group", function()
      local path = H.tmpfile([[os.exit(require("ns.container").run{ cgroup = { pids = 32, memory = "64M" },
        args = { "/bin/true" } }.status)]])
      local out = H.sh(("for i in $(seq 20); do (%s %s >/dev/null 2>&1; echo \"rc $?\") & done; wait"):format(H.luactr, path))
      os.remove(path)
      local ok = 0
      for _ in out:gmatch("rc 0\n") do ok = ok + 1 end
      assert.are.equal(20, ok, out)
    end)
  end)
end)
