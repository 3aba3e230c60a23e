-- ns.container: validation, the plan, running, failures and cleanup.
local H = require "support.helper"
local ns = H.ns
local container = require "ns.container"

-- Run luactr with argv, its stdout on a pipe; once it has said "ready",
-- send it SIGTERM. Returns its wait status and what it wrote after "ready".
local function term_when_ready(argv)
  local r, w = ns.pipe()
  local pid, pidfd = ns.clone({})
  if pid == 0 then
    r:close()
    ns.dup2(w, 1)
    ns.exec(H.luactr, argv)
    ns._exit(127)
  end
  w:close()
  assert.matches("ready", r:read(64), 1, true)
  ns.sleep(0.1)
  assert(ns.kill(pidfd, "TERM"))
  local st = ns.wait(pidfd)
  pidfd:close()
  local rest = r:read(4096)
  r:close()
  return st, rest
end

describe("ns.container", function()
  H.guard()

  describe("validation", function()
    it("rejects an unknown key and lists the valid ones", function()
      local ok, err = pcall(container.plan, { hostnme = "x" })
      assert.is_false(ok)
      assert.matches("unknown key 'hostnme'", err, 1, true)
      assert.matches("hostname", err, 1, true)
    end)
    it("rejects a value of the wrong type", function()
      local ok, err = pcall(container.plan, { args = "/bin/sh" })
      assert.is_false(ok)
      assert.matches("'args' must be a table", err, 1, true)
    end)
    it("refuses mounts without a mount namespace", function()
      local ok, err = pcall(container.plan, { namespaces = { "pid" } })
      assert.is_false(ok)
      assert.matches("mnt namespace", err, 1, true)
    end)
    it("has default capabilities that are all names the kernel knows, in canonical form", function()
      local known = {}
      for _, n in ipairs(ns.cap_names()) do known[n] = true end
      assert.are.equal(14, #container.default_capabilities)
      for _, n in ipairs(container.default_capabilities) do assert.is_true(known[n], n) end
    end)
    it("refuses a name that is not one path component", function()
      local ok, err = pcall(container.plan, { name = "../x" })
      assert.is_false(ok)
      assert.matches("name must be", err, 1, true)
    end)
  end)

  describe("plan()", function()
    it("lists parent and child steps in order, pivot_root by default", function()
      local names = {}
      for _, s in ipairs(container.plan({ hostname = "h" })) do names[#names + 1] = s.where .. ":" .. s.name end
      local text = table.concat(names, "\n")
      local order = { "parent:image busybox", "parent:state dir", "parent:clone", "child:mount overlay (upper layer on a private tmpfs)",
        "child:mount proc on /proc", "child:pivot_root", "child:hostname h", "child:capabilities", "child:exec /bin/sh" }
      local pos = 0
      for _, want in ipairs(order) do
        local at = text:find(want, pos + 1, true)
        assert.is_truthy(at, "missing or out of order: " .. want .. "\n" .. text)
        pos = at
      end
    end)
    it("uses chroot when asked, and no rootfs steps without a rootfs", function()
      local function names(t)
        local out = {}
        for _, s in ipairs(container.plan(t)) do out[#out + 1] = s.name end
        return table.concat(out, "|")
      end
      assert.matches("chroot", names({ chroot = true }), 1, true)
      assert.not_matches("pivot_root", names({ chroot = true }), 1, true)
      local host = names({ rootfs = false, namespaces = { "pid", "mnt" } })
      assert.not_matches("overlay", host, 1, true)
      assert.matches("mount proc on /proc", host, 1, true)
    end)
    it("returns typed ops that hold their arguments as plain values; only hooks hold functions", function()
      local hook = function() end
      local ops = container.plan({ hostname = "h", inside = hook, mounts = { { type = "tmpfs", target = "/scratch", mkdir = true } } })
      local by = {}
      for i, o in ipairs(ops) do
        assert.are.equal(i, o.n)
        assert.is_string(o.op)
        by[o.name] = o
        for k, v in pairs(o) do
          if type(v) == "function" then assert.are.equal("hook", o.op, "a function in op " .. o.op .. "." .. k) end
        end
      end
      local m = by["mount tmpfs on /scratch"]
      assert.are.same({ "child", "mount", "/scratch", "tmpfs", true }, { m.where, m.op, m.target, m.fstype, m.mkdir })
      assert.are.equal("h", by["hostname h"].hostname)
      assert.are.equal(hook, by["inside hook 1"].fn)
      local clone = by["clone ipc,mnt,net,pid,uts"]
      assert.are.same({ "ipc", "mnt", "net", "pid", "uts" }, clone.types)
      assert.are.equal("exec", ops[#ops].op)
      assert.are.same({ "/bin/sh" }, ops[#ops].argv)
    end)
    it("run_plan runs an edited op list", function()
      local out, code = H.recipe([[
        local container = require "ns.container"
        local ops = container.plan{ hostname = "before", args = { "/bin/hostname" } }
        for _, o in ipairs(ops) do if o.op == "sethostname" then o.hostname = "edited" end end
        os.exit(container.run_plan(ops):wait().status)]])
      assert.are.equal(0, code, out)
      assert.are.equal("edited\n", out)
      local ok, err = pcall(container.run_plan, { { op = "mount", where = "child" } })
      assert.is_false(ok)
      assert.matches("not an op list from container.plan", err, 1, true)
      -- an edit that breaks the list's shape is refused before anything runs
      local ops = container.plan{ args = { "/bin/true" } }
      local child = table.remove(ops, #ops - 1)
      table.insert(ops, 1, child)
      ok, err = pcall(container.run_plan, ops)
      assert.is_false(ok)
      assert.matches("the child's ops come after \"clone\"", err, 1, true)
      ops = container.plan{ args = { "/bin/true" } }
      ops[#ops].where = "parent"
      ok, err = pcall(container.run_plan, ops)
      assert.is_false(ok)
      assert.matches("\"exec\" is the child's last op", err, 1, true)
    end)
    it("luactr --plan --json prints every op with its arguments, hooks as <lua function file:line>", function()
      local path = H.tmpfile([[require("ns.container").run{ hostname = "j", inside = function() end, args = { "/bin/true" } }]])
      local out, code = H.run_luactr("--plan --json " .. path)
      os.remove(path)
      assert.are.equal(0, code, out)
      local doc = require("dkjson").decode(out)
      assert.is_table(doc, out)
      local seen = {}
      for i, o in ipairs(doc.ops) do
        assert.are.equal(i, o.n)
        seen[o.op] = o
      end
      assert.are.equal("j", seen.sethostname.hostname)
      assert.matches("^<lua function .+:1>$", seen.hook.fn)
      assert.are.same({ "/bin/true" }, seen.exec.argv)
    end)
    it("mounts the cgroup fs, after sysfs, for a container with a cgroup, unless cgroupfs = false", function()
      local function ops(t)
        t.args = { "/bin/true" }
        local by, order = {}, {}
        for _, o in ipairs(container.plan(t)) do by[o.op] = o; order[#order + 1] = o.op end
        return by, table.concat(order, " ")
      end
      local by, order = ops({ cgroup = { memory = "64M" } })
      assert.matches("sysfs cgroupfs", order, 1, true)
      assert.are.same({ "child", true }, { by.cgroupfs.where, by.cgroupfs.cgroupns })
      assert.is_nil(ops({}).cgroupfs)
      assert.is_nil(ops({ cgroup = {}, cgroupfs = false }).cgroupfs)
      assert.is_nil(ops({ cgroup = {}, sys = false }).cgroupfs)
      assert.is_nil(ops({ cgroup = {}, namespaces = { "pid", "mnt" } }).cgroupfs.cgroupns)
      local ok, err = pcall(container.plan, { cgroupfs = true })
      assert.is_false(ok)
      assert.matches("cgroupfs needs a cgroup of the container's own", err, 1, true)
    end)
    it("luactr --plan prints the steps and runs nothing", function()
      local out, code = H.run_luactr("--plan examples/busybox.lua")
      assert.are.equal(0, code)
      assert.matches("pivot_root", out, 1, true)
      assert.matches("exec /bin/sh", out, 1, true)
      assert.not_matches("hostname: busybox", out, 1, true)
    end)
    it("luactr --plan stops a recipe that would go on to use its container", function()
      local out, code = H.run_luactr("--plan examples/exec.lua")
      assert.are.equal(0, code, out)
      assert.matches("exec /bin/sleep", out, 1, true)
      assert.not_matches("exec: hostname", out, 1, true)
    end)
  end)

  describe("run()", function()
    it("passes the exit code through", function()
      local out, code = H.recipe([[os.exit(require("ns.container").run{ args = {"/bin/sh", "-c", "exit 7"} }.status)]])
      assert.are.equal(7, code, out)
    end)
    it("reports death by signal as 128 + n", function()
      local out, code = H.recipe([[
        -- PID 1 cannot be killed from inside its namespace: kill it from here.
        local h = require("ns.container").start{ args = {"/bin/sleep", "30"} }
        h:kill("KILL")
        local st = h:wait()
        print(st.killed, st.signal)
        os.exit(st.status)]])
      assert.are.equal(137, code, out)
      assert.matches("true\tKILL", out, 1, true)
    end)
    it("runs the command as PID 1 with its own hostname, root and /proc", function()
      local out = H.recipe([[require("ns.container").run{ hostname = "box",
        args = {"/bin/sh", "-c", "echo pid=$$ host=$(hostname); ls /bin/busybox; ps | wc -l"} }]])
      assert.matches("pid=1 host=box", out, 1, true)
      assert.matches("/bin/busybox", out, 1, true)
      assert.matches("\n%s*4\n", out) -- header, sh, ps, wc
    end)
    it("keeps docker's 14 capabilities and sets no_new_privs", function()
      local out = H.recipe([[require("ns.container").run{ args = {"/bin/sh", "-c", "grep -E 'CapBnd|CapEff|NoNewPrivs' /proc/self/status"} }]])
      assert.matches("CapBnd:%s+00000000a80425fb", out)
      assert.matches("NoNewPrivs:%s+1", out)
    end)
    it("applies rlimits, a read-only root, env (map and list), cwd and mounts", function()
      local out, code = H.recipe([[os.exit(require("ns.container").run{ rlimits = { nofile = 256, stack = "8M" }, readonly = true,
        env = { FOO = "bar", "BAZ=qux" }, cwd = "/etc",
        mounts = {{ type = "tmpfs", target = "/scratch", mkdir = true, data = "size=1m" }},
        args = {"/bin/sh", "-c", "ulimit -n; ulimit -s; pwd; echo $FOO $BAZ; touch /x; grep ' /scratch ' /proc/mounts"} }.status)]])
      assert.matches("^256\n8192\n/etc\nbar qux\ntouch: /x: Read%-only file system\ntmpfs /scratch tmpfs rw", out)
      assert.are.equal(0, code, out)
    end)
    it("sets sysctls of its own namespaces, its oom_score_adj and umask, the host's untouched", function()
      local host = ns.readfile("/proc/sys/net/ipv4/ip_forward")
      local out, code = H.recipe([[os.exit(require("ns.container").run{ umask = 63, oom_score_adj = 500,
        sysctl = { ["net.ipv4.ip_forward"] = 1, ["kernel/shmmni"] = "100" }, readonly = true,
        args = {"/bin/sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/self/oom_score_adj; umask"} }.status)]])
      assert.are.equal(0, code, out)
      assert.are.equal("1\n100\n500\n0077\n", out)
      assert.are.equal(host, ns.readfile("/proc/sys/net/ipv4/ip_forward"))
    end)
    it("refuses a sysctl of the host's, or of a namespace it does not have", function()
      local ok, err = pcall(container.plan, { name = "s", sysctl = { ["kernel.core_pattern"] = "x" } })
      assert.is_false(ok)
      assert.are.equal('container "s": sysctl.kernel.core_pattern is the host\'s, not of the container\'s namespaces '
        .. "(kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*, kernel.hostname, kernel.domainname)", err)
      ok, err = pcall(container.plan, { name = "s", namespaces = { "mnt", "pid" }, sysctl = { ["net.ipv4.ip_forward"] = "1" } })
      assert.are.equal('container "s": sysctl.net.ipv4.ip_forward needs the net namespace', err)
      ok, err = pcall(container.plan, { name = "s", sysctl = { ["../../x"] = "1" } })
      assert.are.equal('container "s": sysctl "../../x" is not a sysctl name ("net.ipv4.ip_forward")', err)
      ok, err = pcall(container.plan, { name = "s", umask = 512 })
      assert.are.equal('container "s": umask must be 0..0777 (511), not 512', err)
      ok, err = pcall(container.plan, { name = "s", oom_score_adj = -1001 })
      assert.are.equal('container "s": oom_score_adj must be at least -1000, not -1001', err)
    end)
    it("gives a bind mount the nosuid and noexec of its flags, which mount(2) ignores with MS_BIND", function()
      local out, code = H.recipe([[os.exit(require("ns.container").run{
        mounts = {{ source = "/tmp", target = "/hosttmp", flags = { "bind", "nosuid", "noexec" }, mkdir = true }},
        args = {"/bin/sh", "-c", "grep ' /hosttmp ' /proc/mounts"} }.status)]])
      assert.are.equal(0, code, out)
      assert.matches("^%S+ /hosttmp %S+ rw,nosuid,nodev,noexec", out)
    end)
    it("passes stdio through without a terminal", function()
      local out, code = H.sh(H.luactr .. " examples/busybox.lua ls / </dev/null | wc -l")
      assert.are.equal(0, code)
      assert.is_true(tonumber(out) >= 10, out)
    end)
    it("takes Lua io files for stdin, stdout and stderr", function()
      local path = os.tmpname()
      local out, code = H.recipe(([[
        local f = assert(io.open(%q, "w"))
        local st = require("ns.container").run{ stdin = io.stdin, stdout = f, stderr = io.stdout, tty = false,
          args = { "/bin/sh", "-c", "echo to-file; echo to-stderr >&2" } }
        f:close()
        os.exit(st.status)]]):format(path))
      local f = assert(io.open(path))
      local text = f:read("a")
      f:close()
      os.remove(path)
      assert.are.equal(0, code, out)
      assert.are.equal("to-file\n", text)
      assert.are.equal("to-stderr\n", out)
    end)
    it("runs inside hooks in the new namespaces, before exec", function()
      local out, code = H.recipe([[
        local ns = require "ns"
        local st = require("ns.container").run{ hostname = "hooked",
          inside = function(h) assert(ns.gethostname() == "hooked"); assert(ns.getpid() == 1)
            assert(ns.writefile("/marker", h.name, { create = true })) end,
          args = {"/bin/cat", "/marker"}, name = "hookspec" }
        os.exit(st.status)]])
      assert.are.equal(0, code, out)
      assert.matches("hookspec", out, 1, true)
    end)
    it("gives parent hooks the child's pid while it waits", function()
      local out, code = H.recipe([[
        local seen
        local st = require("ns.container").run{ parent = function(h, pid) seen = pid end,
          args = {"/bin/true"} }
        print("pid", type(seen), seen > 1)
        os.exit(st.status)]])
      assert.are.equal(0, code, out)
      assert.matches("pid\tnumber\ttrue", out, 1, true)
    end)
    it("forwards SIGTERM to the container and exits with its status", function()
      local st, rest = term_when_ready({ "luactr", "examples/busybox.lua", "/bin/sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; sleep 30 & wait" })
      assert.are.equal(42, st.code)
      assert.matches("got TERM", rest, 1, true)
    end)
    it("unblocks the forwarded signals once its containers have ended", function()
      local out, code = H.recipe([[
        local ns = require "ns"
        local container = require "ns.container"
        local a = container.start{ args = {"/bin/sleep", "30"} }
        local b = container.start{ args = {"/bin/true"} }
        b:wait()
        print("a running:", ns.readfile("/proc/self/status"):match("SigBlk:%s+(%x+)"))
        a:kill("KILL"); a:wait()
        print("none running:", ns.readfile("/proc/self/status"):match("SigBlk:%s+(%x+)"))]])
      assert.are.equal(0, code, out)
      assert.not_matches("a running:\t0000000000000000", out, 1, true)
      assert.matches("none running:\t0000000000000000", out, 1, true)
    end)
    it("puts a reaper in front with init = true", function()
      local out, code = H.recipe([[
        local st = require("ns.container").run{ init = true,
          args = {"/bin/sh", "-c", "echo pid=$$; (sleep 0.1 &); sleep 0.3; ps -o stat,pid | grep -c Z; exit 5"} }
        os.exit(st.status)]])
      assert.are.equal(5, code, out)
      assert.matches("pid=2", out, 1, true)
      assert.matches("\n0\n", out, 1, true) -- no zombie left
    end)
    it("prints step timings with --timings", function()
      local out, code = H.run_luactr("--timings examples/busybox.lua /bin/true")
      assert.are.equal(0, code)
      assert.matches("pivot_root", out, 1, true)
      assert.matches("ms", out, 1, true)
      assert.matches("total", out, 1, true)
    end)
  end)

  describe("the process", function()
    -- The mask of /proc/self/status for a list of capability names.
    local function mask(list)
      local bit = {}
      for i, n in ipairs(ns.cap_names()) do bit[n] = i - 1 end
      local m = 0
      for _, n in ipairs(list) do m = m | (1 << bit[n]) end
      return m
    end
    -- The Cap* masks that the container's /proc/self/status shows.
    local function caps_of(out)
      local t = {}
      for set, hex in out:gmatch("Cap(%a+):%s*(%x+)") do t[set] = tonumber(hex, 16) end
      return t
    end

    it("keeps no inheritable or ambient capability by default (the list form)", function()
      local out, code = H.recipe([[os.exit(require("ns.container").run{ user = { uid = 1000, gid = 1000 },
        args = {"/bin/sh", "-c", "grep ^Cap /proc/self/status"} }.status)]])
      assert.are.equal(0, code, out)
      local c = caps_of(out)
      assert.are.same({ Inh = 0, Prm = 0, Eff = 0, Amb = 0, Bnd = mask(container.default_capabilities) }, c)
    end)

    it("gives uid 1000 the ambient capabilities asked: net_bind_service binds port 80 after exec", function()
      local out, code = H.recipe([[os.exit(require("ns.container").run{ user = { uid = 1000, gid = 1000 },
        capabilities = { bounding = { "net_bind_service", "kill", "chown" }, permitted = { "net_bind_service", "kill" },
          effective = { "net_bind_service" }, inheritable = { "net_bind_service", "chown" }, ambient = { "net_bind_service" } },
        args = {"/bin/sh", "-c", "id -u; grep ^Cap /proc/self/status; nc -l -p 80 & sleep 0.3; "
          .. "kill -0 $! && echo bound; kill $!"} }.status)]])
      assert.are.equal(0, code, out)
      assert.matches("^1000\n", out)
      local c = caps_of(out)
      -- capabilities(7): without file capabilities, a non-root exec's
      -- permitted and effective sets are its ambient set.
      assert.are.same({ Inh = mask({ "net_bind_service", "chown" }), Prm = mask({ "net_bind_service" }),
        Eff = mask({ "net_bind_service" }), Amb = mask({ "net_bind_service" }),
        Bnd = mask({ "net_bind_service", "kill", "chown" }) }, c)
      assert.matches("\nbound\n", out)
      -- Without the ambient set the same user cannot.
      out, code = H.recipe([[os.exit(require("ns.container").run{ user = { uid = 1000, gid = 1000 },
        capabilities = { bounding = { "net_bind_service" }, permitted = { "net_bind_service" },
          effective = { "net_bind_service" }, inheritable = { "net_bind_service" } },
        args = {"/bin/sh", "-c", "grep ^CapEff /proc/self/status; nc -l -p 80 & sleep 0.3; kill -0 $! && echo bound; true"} }.status)]])
      assert.are.equal(0, code, out)
      assert.are.equal(0, caps_of(out).Eff)
      assert.not_matches("bound", out, 1, true)
    end)

    it("gives root its bounding set when permitted is larger, and the inheritable set asked", function()
      local out, code = H.recipe([[os.exit(require("ns.container").run{
        capabilities = { bounding = { "kill", "chown" }, permitted = { "kill", "chown", "sys_admin", "net_admin" },
          effective = { "kill", "sys_admin" }, inheritable = { "chown" } },
        args = {"/bin/sh", "-c", "id -u; grep ^Cap /proc/self/status"} }.status)]])
      assert.are.equal(0, code, out)
      assert.matches("^0\n", out)
      -- Root's exec: permitted = inheritable | bounding, effective the same.
      assert.are.same({ Inh = mask({ "chown" }), Prm = mask({ "kill", "chown" }), Eff = mask({ "kill", "chown" }),
        Amb = 0, Bnd = mask({ "kill", "chown" }) }, caps_of(out))
    end)

    it("plans the five sets as given, each in the kernel's order", function()
      local ops = container.plan{ name = "c5", capabilities = { bounding = { "CAP_KILL", "chown", "kill" },
        permitted = { "kill" }, effective = {}, inheritable = { "kill" }, ambient = { "kill" } } }
      local by = {}
      for _, o in ipairs(ops) do by[o.op] = o end
      assert.are.same({ "chown", "kill" }, by.bounding.keep)
      assert.are.same({ {}, { "kill" }, { "kill" }, { "kill" } },
        { by.caps.effective, by.caps.permitted, by.caps.inheritable, by.caps.ambient })
      assert.are.equal("capabilities (effective 0, permitted 1, inheritable 1, ambient 1)", by.caps.name)
    end)

    it("refuses sets the kernel would refuse, naming the set and the capability", function()
      local cases = {
        { { bounding = { "kill" }, effective = { "kill" } },
          'container "c5": capabilities.effective: kill is not in permitted (capset(2) refuses an effective capability that is not permitted)' },
        { { bounding = { "kill" }, inheritable = { "chown" } },
          'container "c5": capabilities.inheritable: chown is not in bounding (capset(2) takes an inheritable capability only from the bounding set)' },
        { { bounding = { "kill" }, permitted = { "kill" }, ambient = { "kill" } },
          'container "c5": capabilities.ambient: kill is not in inheritable (PR_CAP_AMBIENT_RAISE raises only a capability both permitted and inheritable: EPERM)' },
        { { bounding = { "kill" }, inheritable = { "kill" }, ambient = { "kill" } },
          'container "c5": capabilities.ambient: kill is not in permitted (PR_CAP_AMBIENT_RAISE raises only a capability both permitted and inheritable: EPERM)' },
        { { bounding = { "kill" }, ambient = { "nope" } }, 'container "c5": capabilities.ambient: unknown capability' },
        { { bounding = { "kill" }, permited = { "kill" } }, 'container "c5": capabilities: unknown key \'permited\'' },
      }
      for _, case in ipairs(cases) do
        local ok, err = pcall(container.plan, { name = "c5", capabilities = case[1] })
        assert.is_false(ok, case[2])
        assert.are.equal(case[2], err:sub(1, #case[2]))
      end
    end)

    it("runs in the linux32 execution domain and the I/O priority asked", function()
      local out, code = H.recipe([[os.exit(require("ns.container").run{ personality = "linux32",
        io_priority = { class = "idle", level = 5 }, args = {"/bin/sh", "-c", "uname -m; ionice -p $$; ionice -p 1"} }.status)]])
      assert.are.equal(0, code, out)
      -- What this kernel makes of PER_LINUX32 (i686 on x86_64; a kernel
      -- without 32-bit emulation, as test-v2's, keeps x86_64).
      local want = H.sh("setarch linux32 uname -m")
      -- busybox's ionice says "idle: prio 5", util-linux's "idle".
      assert.matches("^" .. H.esc(want:gsub("%s+$", "")) .. "\nidle[^\n]*\nidle", out)
      out, code = H.recipe([[os.exit(require("ns.container").run{ io_priority = { class = "be", level = 2 },
        args = {"/bin/sh", "-c", "uname -m; ionice -p $$"} }.status)]])
      assert.are.equal(0, code, out)
      assert.matches("^" .. H.esc((H.sh("uname -m"):gsub("%s+$", ""))) .. "\nbest%-effort: prio 2\n", out)
      local ok, err = pcall(container.plan, { name = "p", personality = "bsd" })
      assert.is_false(ok)
      assert.matches('personality "bsd" is not an execution domain', err, 1, true)
      ok, err = pcall(container.plan, { name = "p", io_priority = { class = "be", level = 8 } })
      assert.are.equal('container "p": io_priority.level must be 0..7, not 8', err)
      ok, err = pcall(container.plan, { name = "p", io_priority = { class = "fast" } })
      assert.matches('io_priority.class "fast" is not an I/O scheduling class', err, 1, true)
    end)

    it("without env_defaults, has the env as given and HOME from /etc/passwd, else /", function()
      local out, code = H.recipe([[
        local c = require "ns.container"
        local function run(t)
          t.args, t.env_defaults = { "/usr/bin/env" }, false
          io.write("--\n")
          io.stdout:flush()
          assert(c.run(t).status == 0)
        end
        run{ env = { "A=1", "HOME=", "A=2" }, hostname = "h", tty = false }
        run{ env = { "HOME=/x" }, user = { uid = 1000, gid = 1000 } }
        run{ env = {}, user = { uid = 1000, gid = 1000 } }
        run{ env = {}, user = "nobody" }]])
      assert.are.equal(0, code, out)
      local runs = {}
      for block in (out .. "--\n"):gmatch("%-%-\n(.-)%f[-]") do
        local l = {}
        for line in block:gmatch("[^\n]+") do l[#l + 1] = line end
        table.sort(l)
        runs[#runs + 1] = table.concat(l, " ")
      end
      local home = ns.readfile(require("ns.rootfs").busybox() .. "/etc/passwd"):match("\nnobody:[^:]*:[^:]*:[^:]*:[^:]*:([^:]*):")
      assert.is_string(home)
      assert.are.same({ "A=2 HOME=/root", "HOME=/x", "HOME=/", "HOME=" .. home }, runs)
    end)
  end)

  describe("failures", function()
    it("names the step of a missing rootfs and leaves nothing", function()
      local out, code = H.recipe([[require("ns.container").run{ rootfs = "/nonexistent/rootfs", args = {"/bin/true"} }]])
      assert.are.equal(1, code)
      assert.matches("step 1 (image /nonexistent/rootfs): rootfs /nonexistent/rootfs: No such file or directory (ENOENT)", out, 1, true)
    end)
    it("names an unknown mount flag and the mount, before anything starts", function()
      local out, code = H.recipe([[require("ns.container").run{ mounts = {{ type = "tmpfs", target = "/tmp", flags = {"bogus"} }}, args = {"/bin/true"} }]])
      assert.are.equal(1, code)
      assert.matches("mounts[1]: unknown mount flag 'bogus'", out, 1, true)
      assert.not_matches("step %d", out)
    end)
    it("names the failing mount and its errno, and undoes the overlay", function()
      local out, code = H.recipe([[require("ns.container").run{ mounts = {{ type = "nosuchfs", target = "/tmp" }}, args = {"/bin/true"} }]])
      assert.are.equal(1, code)
      assert.matches("(mount nosuchfs on /tmp): mount nosuchfs on ", out, 1, true)
      assert.matches("(ENODEV)", out, 1, true)
    end)
    it("names a missing mount target as the container sees it, and says to set mkdir", function()
      local out, code = H.recipe([[require("ns.container").run{ mounts = {{ source = "/tmp", target = "/srv/data",
        flags = {"bind"} }}, args = {"/bin/true"}, tty = false }]])
      assert.are.equal(1, code)
      assert.matches("(mount /tmp on /srv/data): /srv/data: No such file or directory (ENOENT) in the container; "
        .. "add mkdir = true to the mount to make it\n", out, 1, true)
    end)
    it("names a missing bind source, and the target as the container sees it", function()
      local out, code = H.recipe([[require("ns.container").run{ mounts = {{ source = "/nonexistent", target = "/tmp",
        flags = {"bind"} }}, args = {"/bin/true"}, tty = false }]])
      assert.are.equal(1, code)
      assert.matches("(mount /nonexistent on /tmp): mount /nonexistent on /tmp: No such file or directory (ENOENT); "
        .. "the source /nonexistent is not there on the host\n", out, 1, true)
    end)
    it("raises an error object that carries the step, the op and the errno", function()
      local out, code = H.recipe([[
        local ns = require "ns"
        local ok, err = pcall(require("ns.container").run, { mounts = { { type = "nosuchfs", target = "/x", mkdir = true } },
          args = { "/bin/true" } })
        print(ok, type(err), err.op, err.errno == ns.E.ENODEV, type(err.step))
        print(tostring(err))]])
      assert.are.equal(0, code, out)
      assert.matches("^false\ttable\tmount\ttrue\tnumber\n", out)
      assert.matches("step %d+ %(mount nosuchfs on /x%): mount nosuchfs on /x: No such device %(ENODEV%)", out)
    end)
    it("h:exec runs with the container's cwd and rlimits, and checks its options", function()
      local out, code = H.recipe([[
        local h = require("ns.container").start{ cwd = "/etc", rlimits = { nofile = 99 }, args = { "/bin/sleep", "30" } }
        h:exec({ "/bin/sh", "-c", "pwd; ulimit -n" })
        print(pcall(h.exec, h, { "/bin/true" }, { cdw = "/" }))
        h:kill("KILL"); h:wait()]])
      assert.are.equal(0, code, out)
      assert.matches("^/etc\n99\n", out)
      assert.matches("unknown key 'cdw'", out, 1, true)
    end)
    it("reports an exec failure with the errno", function()
      local out, code = H.recipe([[require("ns.container").run{ args = {"/bin/nonexistent"} }]])
      assert.are.equal(1, code)
      assert.matches("(exec /bin/nonexistent): exec /bin/nonexistent: No such file or directory (ENOENT)", out, 1, true)
    end)
    it("reports a failing inside hook by its number", function()
      local out, code = H.recipe([[require("ns.container").run{ inside = { function() end, function() error("hook says no", 0) end }, args = {"/bin/true"} }]])
      assert.are.equal(1, code)
      assert.matches("(inside hook 2): hook says no", out, 1, true)
    end)
  end)
end)

describe("ns.container stopping, capture and deadlines", function()
  H.guard()

  it("a forwarded SIGTERM that PID 1 ignores ends the container after stop_timeout", function()
    local t0 = ns.clock()
    local st = term_when_ready({ "luactr", "-e", [[
      local st = require("ns.container").run{ stop_timeout = 1,
        args = {"/bin/sh", "-c", "echo ready; exec sleep 30"} }
      print("status", st.status, st.signal)
      os.exit(0)]] })
    local dt = ns.clock() - t0
    assert.are.equal(0, st.code)
    assert.is_true(dt >= 1 and dt < 5, "ended after " .. dt .. " s")
  end)

  it("h:stop(seconds): SIGTERM, then SIGKILL for a PID 1 that ignores it; at once for one that handles it", function()
    local h = container.start { args = { "/bin/sleep", "30" } }
    local t0 = ns.clock()
    local st = h:stop(0.5)
    assert.is_true(st.killed)
    assert.are.equal("KILL", st.signal)
    assert.is_true(ns.clock() - t0 < 5)
    h = container.start { args = { "/bin/sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done" } }
    ns.sleep(0.3)
    st = h:stop(20)
    assert.are.equal(7, st.code)
  end)

  it("with init = true, the reaper says how its child ended: an OOM kill stays an OOM kill", function()
    local st = container.start { init = true, cgroup = { memory = "32M" },
      args = { "/bin/sh", "-c", "x=aaaaaaaa; while true; do x=$x$x; done" } }:wait()
    assert.is_true(st.killed)
    assert.are.equal("KILL", st.signal)
    assert.are.equal(137, st.status)
    assert.is_true(st.oom)
    st = container.run { init = true, args = { "/bin/sh", "-c", "exit 3" } }
    assert.are.equal(3, st.code)
    assert.is_nil(st.oom)
  end)

  it("capture = true reads stdout and stderr while it runs, past a pipe's 64 KiB", function()
    local st = container.run { capture = true,
      args = { "/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo oops >&2; exit 4" } }
    assert.are.equal(4, st.code)
    assert.are.equal(300000, #st.stdout)
    assert.are.equal(string.rep("a", 300000), st.stdout)
    assert.are.equal("oops\n", st.stderr)
    assert.is_nil(st.stdout_truncated)
  end)

  it("capture_limit keeps that much and drains the rest, so the command never blocks", function()
    local st = container.run { capture = true, capture_limit = "1K",
      args = { "/bin/sh", "-c", "head -c 500000 /dev/zero; echo done >&2" } }
    assert.are.equal(0, st.code)
    assert.are.equal(1024, #st.stdout)
    assert.is_true(st.stdout_truncated)
    assert.are.equal("done\n", st.stderr)
  end)

  it("timeout = SECONDS stops the container by the wall clock and says so", function()
    local t0 = ns.clock()
    local st = container.start { timeout = 1, stop_timeout = 0.5, args = { "/bin/sleep", "30" } }:wait()
    local dt = ns.clock() - t0
    assert.is_true(st.timeout)
    assert.is_true(st.killed)
    assert.is_true(dt >= 1 and dt < 5, "ended after " .. dt .. " s")
    st = container.run { timeout = 5, args = { "/bin/true" } }
    assert.is_nil(st.timeout)
    assert.are.equal(0, st.code)
  end)

  it("h:wait{nohang = true} and h:poll() return nil while it runs, the status after", function()
    local h = container.start { capture = true, args = { "/bin/sh", "-c", "sleep 0.5; echo late" } }
    assert.is_nil(h:wait({ nohang = true }))
    assert.is_nil(h:poll())
    local st
    for _ = 1, 100 do
      st = h:poll()
      if st then break end
      ns.poll({ h.pidfd }, 100)
    end
    assert.are.equal(0, st.code)
    assert.are.equal("late\n", st.stdout)
    assert.are.equal(st, h:wait())
    h = container.start { args = { "/bin/true" } }
    local ok, err = pcall(h.wait, h, { nohangs = true })
    assert.is_false(ok)
    assert.matches("unknown key 'nohangs'", tostring(err), 1, true)
    assert.are.equal(0, h:wait().code)
  end)

  it("says that pids.max refused a fork", function()
    local st = container.run { cgroup = { pids = 8 }, capture = true,
      args = { "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; wait" } }
    assert.is_true(st.pids_limited)
    st = container.run { cgroup = { pids = 8 }, args = { "/bin/true" } }
    assert.is_nil(st.pids_limited)
  end)

  it("refuses capture with a terminal or with stdout, and a timeout that is not a positive number", function()
    for _, case in ipairs({
      { { capture = true, tty = true }, "capture needs tty = false" },
      { { capture = true, stdout = 1 }, "capture takes stdout and stderr" },
      { { timeout = 0 }, "timeout must be a number of seconds above 0" },
      { { stop_timeout = -1 }, "stop_timeout must be a number of seconds, 0 or more" },
      { { capture = true, capture_limit = "lots" }, "capture_limit: bad size" },
    }) do
      local ok, err = pcall(container.plan, case[1])
      assert.is_false(ok)
      assert.matches(case[2], tostring(err), 1, true)
    end
  end)
end)

describe("ns.container joining namespaces (join)", function()
  H.guard()

  it("joins a sandbox's net, uts, ipc and pid namespaces by path; refuses a path of another type", function()
    -- The sandbox: a child in new net, uts, ipc and pid namespaces.
    local pid, pidfd = assert(ns.clone({ "net", "uts", "ipc", "pid" }))
    if pid == 0 then
      ns.sleep(30)
      ns._exit(0)
    end
    H.defer(function() ns.kill(pidfd, "KILL") ns.wait(pidfd) pidfd:close() end)
    local want, join = {}, {}
    for _, ty in ipairs({ "net", "uts", "ipc", "pid" }) do
      join[ty] = ("/proc/%d/ns/%s"):format(pid, ty)
      want[#want + 1] = assert(ns.readlink(join[ty]))
    end
    local st = container.run { namespaces = { "mnt", "cgroup" }, join = join, capture = true,
      args = { "/bin/sh", "-c", "for n in net uts ipc pid; do readlink /proc/self/ns/$n; done; echo $$" } }
    assert.are.equal(0, st.status, st.stderr)
    -- The sandbox is PID 1 of its pid namespace: the shell is 2.
    assert.are.equal(table.concat(want, "\n") .. "\n2\n", st.stdout)
    -- luactr is back in its own pid namespace for its children.
    assert.are.equal(ns.readlink("/proc/self/ns/pid"), ns.readlink("/proc/self/ns/pid_for_children"))
    local ok, err = pcall(container.run, { namespaces = { "mnt" }, join = { net = join.uts }, args = { "true" } })
    assert.is_false(ok)
    assert.matches("join%.net: /proc/%d+/ns/uts is not a net namespace", tostring(err))
    ok, err = pcall(container.run, { join = { net = join.net }, args = { "true" } })
    assert.is_false(ok)
    assert.matches("join%.net: the net namespace is also a new one", tostring(err))
  end)
end)

describe("ns.container user ids", function()
  H.guard()

  -- A layer over busybox with a user and groups of its own.
  local layer
  setup(function()
    layer = H.tmpdir("ids")
    assert(ns.chmod(layer, "0755")) -- the root of the container's root: root inside a user namespace is not its owner
    assert(ns.mkdir(layer .. "/etc", "0755"))
    assert(ns.writefile(layer .. "/etc/passwd",
      "root:x:0:0:root:/root:/bin/sh\njudge:x:1234:2345:the judge:/home/judge:/bin/sh\n", { create = true }))
    assert(ns.writefile(layer .. "/etc/group",
      "root:x:0:\njudges:x:2345:\nextra:x:3456:other,judge\nnone:x:4567:\n", { create = true }))
  end)
  teardown(function() H.rmrf(layer) end)

  it("leave luactr dumpable: a vfork child's change of ids clears the flag of the mm it shares", function()
    H.in_child(function()
      assert.is_true(ns.prctl("dumpable"))
      local st = container.run { args = { "/bin/true" }, user = { uid = 1000, gid = 1000 } }
      assert.are.equal(0, st.status)
      assert.is_true(ns.prctl("dumpable"))
    end)
  end)

  local function run(user, cmd)
    return H.recipe(([[
      local busybox = require("ns.util").busybox_image()
      local st = require("ns.container").run{ rootfs = { %q, busybox }, user = %s,
        args = { "/bin/sh", "-c", %q } }
      os.exit(st.status)]]):format(layer, user, cmd))
  end

  it("switch ids without a user namespace, as docker's --user does", function()
    local host_userns = ns.readlink("/proc/self/ns/user")
    local out, code = run("{ uid = 1000 }", "id; grep CapEff /proc/self/status; readlink /proc/self/ns/user; echo HOME=$HOME")
    assert.are.equal(0, code, out)
    assert.matches("uid=1000 gid=0(root)", out, 1, true) -- a uid /etc/passwd does not list: gid 0
    assert.matches("CapEff:\t0000000000000000", out, 1, true)
    assert.matches(host_userns, out, 1, true)
    assert.matches("HOME=/root", out, 1, true)
  end)

  it("take a name's uid, gid, home and groups from the container's /etc/passwd and /etc/group", function()
    local out, code = run('"judge"', "id; echo HOME=$HOME")
    assert.are.equal(0, code, out)
    assert.matches("uid=1234(judge) gid=2345(judges) groups=3456(extra)", out, 1, true)
    assert.matches("HOME=/home/judge", out, 1, true)
    out, code = run('"judge:none"', "id -g")
    assert.are.equal(0, code, out)
    assert.matches("^4567\n", out)
    out, code = run('{ uid = "judge", groups = { "none", 99 } }', "id -G")
    assert.are.equal(0, code, out)
    assert.matches("^2345 99 4567\n$", out)
  end)

  it("work inside a user namespace too, the setup done as its root", function()
    local out, code = run("{ uid = 1234, gid = 2345, uid_map = { { 0, 100000, 65536 } }, gid_map = { { 0, 100000, 65536 } } }",
      "id -u; id -g; cat /proc/self/uid_map")
    assert.are.equal(0, code, out)
    assert.matches("^1234\n2345\n%s*0%s+100000%s+65536\n$", out)
  end)

  it("name a user the image does not have, and a bad one before anything runs", function()
    local out, code = run('"nosuch"', "true")
    assert.are.equal(1, code, out)
    assert.matches("user nosuch: no such user in the container's /etc/passwd", out, 1, true)
    local ok, err = pcall(container.plan, { user = "a b" })
    assert.is_false(ok)
    assert.matches("user.uid \"a b\" is not a user or group name", tostring(err), 1, true)
  end)

  it("h:exec runs as the container's user", function()
    local out, code = H.recipe(([[
      local busybox = require("ns.util").busybox_image()
      local h = require("ns.container").start{ rootfs = { %q, busybox }, user = "judge", args = { "/bin/sleep", "30" } }
      local st = h:exec({ "/bin/sh", "-c", "id -u; echo $HOME" })
      h:kill("KILL"); h:wait(); os.exit(st.status)]]):format(layer))
    assert.are.equal(0, code, out)
    assert.matches("^1234\n/home/judge\n$", out)
  end)
end)

describe("ns.container with a terminal", function()
  H.guard()

  -- Run luactr on a pty of our own, as a terminal user would. script is a
  -- list of {n, text}: once the shell's prompt "# " has shown n times, type
  -- text.
  local function on_pty(args, script)
    local master, slave, _ = assert(ns.openpty())
    ns.winsize(master, 24, 77)
    local pid, pidfd = assert(ns.clone({}))
    if pid == 0 then
      master:close()
      ns.setsid()
      ns.setctty(slave)
      for fd = 0, 2 do ns.dup2(slave, fd) end
      ns.exec(H.luactr, args)
      ns._exit(127)
    end
    slave:close()
    local out = ""
    local deadline = ns.clock() + 15
    local step = 1
    while ns.clock() < deadline do
      local r = ns.poll({ master }, 100)
      if #r > 0 then
        local s = master:read(4096)
        if not s or s == "" then break end
        out = out .. s
      end
      local _, prompts = out:gsub("# ", "")
      local next_step = script[step]
      if next_step and prompts >= next_step[1] then
        if next_step.delay then ns.sleep(next_step.delay) end
        master:write(next_step[2])
        step = step + 1
      end
    end
    local st = ns.wait(pidfd)
    pidfd:close()
    master:close()
    return out, st
  end

  it("gives the container its own /dev/pts/0 as controlling terminal, with our size", function()
    local out, st = on_pty({ "luactr", "examples/busybox.lua" }, { { 1, "tty; stty size; exit 4\n" } })
    assert.matches("/dev/pts/0", out, 1, true)
    assert.matches("24 77", out, 1, true)
    assert.are.equal(4, st.code, out)
  end)

  it("passes Ctrl-C to the container's foreground command, not to luactr", function()
    local t0 = ns.clock()
    local out, st = on_pty({ "luactr", "examples/busybox.lua" }, {
      { 1, "sleep 10; echo slept\n" },
      { 1, "\003", delay = 0.5 },               -- while sleep runs
      { 2, "echo after-interrupt; exit 5\n" },   -- at the next prompt
    })
    assert.are.equal(5, st.code, out)
    assert.matches("^C", out, 1, true)
    assert.matches("after-interrupt", out, 1, true)
    assert.not_matches("\nslept", out)
    assert.is_true(ns.clock() - t0 < 8, out)
  end)
end)

describe("ns.container with a cgroup", function()
  H.guard()
  -- Where the pids limit goes: v1's pids hierarchy, or a pure v2 tree.
  local L = require("ns.cgroup").layout()
  local PIDS = L.v1.pids or L.v2

  it("is in its group before exec, and sees the group as / (cgroup namespace)", function()
    local out, code = H.recipe([[
      local h = require("ns.container").start{ name = "cgspec", cgroup = { pids = 16 },
        args = {"/bin/sh", "-c", "cat /proc/self/cgroup; sleep 1"} }
      local procs = h.cgroup:procs()
      print("in group:", procs[1] == h.pid)
      local cg = require("ns").readfile("/proc/" .. h.pid .. "/cgroup")
      print("host view:", cg:match("pids:(%S+)") or cg:match("^0::(%S+)"))
      os.exit(h:wait().status)]])
    assert.are.equal(0, code, out)
    assert.matches(L.v1.pids and "8:pids:/\n" or "0::/\n", out, 1, true)
    assert.matches("in group:\ttrue", out, 1, true)
    assert.matches("host view:\t/luactr/cgspec", out, 1, true)
  end)

  -- What /sys/fs/cgroup holds inside: on v1 and hybrid hosts a directory
  -- for each hierarchy the container has a group in (named as the host
  -- names them); on pure v2 the group's own files.
  local VIEWS = {}
  if L.mode ~= "v2" then
    for _, h in ipairs(require("ns.cgroup.layout").hierarchies(L)) do
      VIEWS[#VIEWS + 1] = h.mount:match("[^/]+$")
    end
    table.sort(VIEWS)
  end

  -- A shell command that prints, in order: the memory limit the container
  -- reads; "in <dir>" for each view whose cgroup.procs lists its PID 1 (a
  -- view rooted at its own group); what /sys/fs/cgroup lists (v1); how many
  -- directories lie below the views (groups of others); each mount there
  -- with its options.
  local function views_cmd(limit_file)
    local dirs = #VIEWS > 0 and ("/sys/fs/cgroup/" .. table.concat(VIEWS, " /sys/fs/cgroup/")) or "/sys/fs/cgroup"
    return ("cat /sys/fs/cgroup/%s; for d in %s; do grep -qx 1 $d/cgroup.procs && echo in $d; done; "
      .. "echo $(ls /sys/fs/cgroup%s); find /sys/fs/cgroup -mindepth %d -type d | wc -l; "
      .. "grep ' /sys/fs/cgroup' /proc/self/mountinfo | cut -d' ' -f5,6,9"):format(limit_file, dirs,
        #VIEWS > 0 and "" or " | grep -c memory", #VIEWS > 0 and 2 or 1)
  end

  for _, case in ipairs({ { "its cgroup namespace", "" },
    { "no cgroup namespace", 'namespaces = { "pid", "mnt", "uts", "ipc", "net" },' } }) do
    it("reads its own memory limit at /sys/fs/cgroup, a read-only view of its group only, with " .. case[1], function()
      local limit = L.v1.memory and "memory/memory.limit_in_bytes" or "memory.max"
      local out, code = H.recipe(([[os.exit(require("ns.container").run{ %s cgroup = { memory = "64M" },
        args = { "/bin/sh", "-c", %q } }.status)]]):format(case[2], views_cmd(limit)))
      assert.are.equal(0, code, out)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.are.equal("67108864", lines[1], out)
      local n = 1
      for _, v in ipairs(#VIEWS > 0 and VIEWS or { "" }) do
        n = n + 1
        assert.are.equal("in /sys/fs/cgroup" .. (v ~= "" and "/" .. v or ""), lines[n], out)
      end
      if #VIEWS > 0 then
        assert.are.equal(table.concat(VIEWS, " "), lines[n + 1], out) -- the views, nothing else
      else
        assert.is_true(tonumber(lines[n + 1]) > 0, out) -- the group's memory files
      end
      assert.are.equal("0", lines[n + 2], out)
      local mounts = { table.unpack(lines, n + 3) }
      assert.are.equal(1 + #VIEWS, #mounts, out)
      for _, m in ipairs(mounts) do
        assert.matches("^/sys/fs/cgroup%S* ro,nosuid,nodev,noexec", m)
      end
    end)
  end

  it("mounts cgroup2 in its cgroup namespace at /sys/fs/cgroup on a v2-only layout", function()
    local out, code = H.run_luactr([[-e '
      os.exit(require("ns.container").run{ cgroup = {}, args = { "/bin/sh", "-c",
        "grep -x 1 /sys/fs/cgroup/cgroup.procs; grep \" /sys/fs/cgroup \" /proc/self/mountinfo | cut -d\" \" -f4,5,6,9" } }.status)']],
      { env = "LUACTR_CGROUP_MODE=v2" })
    assert.are.equal(0, code, out)
    assert.matches("^1\n/ /sys/fs/cgroup ro,nosuid,nodev,noexec%S* cgroup2\n$", out)
  end)

  it("removes its group when setup fails half-way", function()
    local out, code = H.recipe([[require("ns.container").run{ name = "cgfail", cgroup = { pids = 16 },
      mounts = {{ type = "nosuchfs", target = "/tmp" }}, args = {"/bin/true"} }]])
    assert.are.equal(1, code, out)
    assert.matches("ENODEV", out, 1, true)
    assert.is_nil(ns.stat(PIDS .. "/luactr/cgfail"))
  end)

  it("refuses a bad limit before anything runs, naming the limit and the value", function()
    local out, code = H.recipe([[require("ns.container").run{ name = "cgbad", cgroup = { cpu = -1 }, args = {"/bin/true"} }]])
    assert.are.equal(1, code, out)
    assert.matches('container "cgbad": cgroup.cpu must be a positive fraction of one CPU', out, 1, true)
    assert.matches("got -1", out, 1, true)
    assert.not_matches("step %d", out)
  end)

  it("reports a container the OOM killer ends during setup, whatever the socket says", function()
    for _, m in ipairs({ "4K", "8K", "16K" }) do
      local out, code = H.recipe(([[require("ns.container").run{ cgroup = { memory = %q }, args = {"/bin/true"},
        tty = false }]]):format(m))
      assert.are.equal(1, code, out)
      -- Here the child dies in setup; a v2 kernel may refuse the clone.
      assert.matches('^luactr: container "luactr%-%x+": step %d+ %(', out)
      assert.is_nil(out:find("attempt to", 1, true), out)
    end
  end)

  it("refuses a limit the host cannot take, naming the file and the value", function()
    local out, code = H.recipe([[require("ns.container").run{ cgroup = { cpuset = "999" }, args = {"/bin/true"} }]])
    assert.are.equal(1, code, out)
    assert.matches("cgroup create", out, 1, true)
    assert.matches('cpuset.cpus "999"', out, 1, true)
  end)

  it("luactr gc removes a leftover empty group, keeps a busy one", function()
    assert(ns.mkdir(PIDS .. "/luactr", "0755", true))
    assert(ns.mkdir(PIDS .. "/luactr/leftover-spec"))
    local out, code = H.run_luactr("gc")
    assert.are.equal(0, code, out)
    assert.matches("removed cgroup luactr/leftover-spec", out, 1, true)
    assert.is_nil(ns.stat(PIDS .. "/luactr/leftover-spec"))
  end)
end)

describe("ns.container with upper_dir", function()
  H.guard()

  it("keeps the upper layer in the directory given, reused by the next start", function()
    local dir = H.tmpdir("upper-dir")
    H.defer(function() H.rmrf(dir) end)
    local up = dir .. "/fs"
    local container = require "ns.container"
    for i = 1, 2 do
      local st = container.run{ upper_dir = up, capture = true,
        args = { "/bin/sh", "-c", "cat /count 2>/dev/null; echo " .. i .. " >> /count" } }
      assert.are.equal(0, st.status)
      assert.are.equal(i == 1 and "" or "1\n", st.stdout)
    end
    assert.are.equal("1\n2\n", ns.readfile(up .. "/upper/count"))
    -- Only the upper layer stays; no mount of it is left on the host.
    assert.are.same({ "upper" }, H.sorted(ns.listdir(up)))
    assert.is_nil(ns.readfile("/proc/self/mountinfo"):find(up, 1, true))
  end)
end)

describe("ns.container with a kept upper layer", function()
  H.guard()

  -- A state dir of the spec's own, so that gc --uppers judges only its
  -- layers; then a container named name with keep_upper that writes
  -- /kept.txt. Returns its upper layer's path.
  local state, env
  local function keep(name)
    state = H.tmpdir("state")
    env = { env = "LUACTR_STATE=" .. state }
    finally(function() H.rmrf(state) end)
    local out, code = H.recipe(([[
      local st = require("ns.container").run{ name = %q, keep_upper = true,
        args = {"/bin/sh", "-c", "echo from-the-first > /kept.txt"} }
      print("upper", st.upper)
      os.exit(st.status)]]):format(name), env)
    assert.are.equal(0, code, out)
    local upper = state .. "/" .. name .. "/upper"
    assert.are.equal("upper\t" .. upper .. "\n", out)
    return upper
  end

  it("is a lower layer, where it is, of a later container (its tmpfs hides nothing)", function()
    local upper = keep("kept")
    -- The default container (upper layer on a tmpfs), and one that keeps its own.
    for _, extra in ipairs({ "", "name = \"again\", keep_upper = true," }) do
      local out, code = H.recipe(([[
        os.exit(require("ns.container").run{ %s rootfs = { %q, require("ns.util").busybox_image() },
          args = {"/bin/cat", "/kept.txt"} }.status)]]):format(extra, upper), env)
      assert.are.equal(0, code, out)
      assert.are.equal("from-the-first\n", out)
    end
  end)

  it("is removed by luactr gc --uppers once unused, and only with --uppers", function()
    local upper = keep("kept")
    local out, code = H.run_luactr("gc", env)
    assert.are.equal(0, code, out)
    assert.is_table(ns.stat(upper))
    out, code = H.run_luactr("gc --uppers", env)
    assert.are.equal(0, code, out)
    assert.matches("removed upper layer " .. H.esc(upper) .. "\n", out)
    assert.is_nil(ns.stat(state .. "/kept"))
    out, code = H.run_luactr("gc --uppers", env)
    assert.are.equal(0, code, out)
    assert.matches("luactr gc: no unused upper layer under " .. H.esc(state), out)
    out, code = H.run_luactr("gc --bogus", env)
    assert.are.equal(2, code, out)
    assert.matches("unknown argument '--bogus'", out, 1, true)
  end)

  it("is kept by gc --uppers while a container uses it: its own upper layer, or a lower one", function()
    local upper = keep("kept")
    local out, code = H.recipe(([[
      local container = require "ns.container"
      local bb = require("ns.util").busybox_image()
      local a = container.start{ name = "running", keep_upper = true, args = {"/bin/sleep", "30"} }
      local b = container.start{ rootfs = { %q, bb }, args = {"/bin/sleep", "30"} }
      print("removed", #require("ns.rootfs").gc_uppers())
      a:kill("KILL"); a:wait(); b:kill("KILL"); b:wait()
      print("removed", table.concat(require("ns.rootfs").gc_uppers(), " "))]]):format(upper), env)
    assert.are.equal(0, code, out)
    assert.are.equal(("removed\t0\nremoved\t%s %s\n"):format(upper, state .. "/running/upper"), out)
  end)

  it("is kept by gc --uppers while any mount namespace has it in an overlay", function()
    local upper = keep("kept")
    -- An overlay that luactr did not make: only the mount table tells.
    local options = "lowerdir=" .. upper .. ":" .. require("ns.util").busybox_image()
    local r, w = assert(ns.pipe())
    local pid, pidfd = assert(ns.clone({ "mnt" }))
    if pid == 0 then
      pcall(function()
        r:close()
        local ok, msg = ns.mount("none", "/", nil, { "rec", "private" })
        if ok then ok, msg = ns.mount("tmpfs", "/mnt", "tmpfs") end
        if ok then ok, msg = ns.mkdir("/mnt/m", "0755") end
        if ok then ok, msg = ns.mount("overlay", "/mnt/m", "overlay", { "rdonly" }, options) end
        w:write(ok and "y" or tostring(msg))
        w:close()
        ns.sleep(30)
      end)
      ns._exit(0)
    end
    w:close()
    local said = r:read(4096)
    r:close()
    local ok, removed = pcall(require("ns.rootfs").gc_uppers, state)
    ns.kill(pidfd, "KILL")
    ns.wait(pidfd)
    pidfd:close()
    assert.are.equal("y", said)
    assert(ok, removed)
    assert.are.same({}, removed)
    assert.are.same({ upper }, require("ns.rootfs").gc_uppers(state))
  end)
end)

describe("ns.container edge cases", function()
  H.guard()

  it("says what to do when an unprivileged user asks for namespaces without a user namespace", function()
    local state = H.tmpdir()
    finally(function() H.rmrf(state) end)
    assert(ns.chown(state, 1000, 1000))
    local out, code = H.run_luactr("examples/uts.lua",
      { env = ("LUACTR_STATE=%s setpriv --reuid=1000 --regid=1000 --clear-groups"):format(state) })
    assert.are.equal(1, code, out)
    assert.matches("step 3 (clone mnt,pid,uts): clone mnt,pid,uts: Operation not permitted (EPERM)", out, 1, true)
    assert.matches("add user = true", out, 1, true)
  end)

  it("forwards signals through the init reaper to the command", function()
    local st, rest = term_when_ready({ "luactr", "-e", [[
      local st = require("ns.container").run{ init = true,
        args = {"/bin/sh", "-c", "trap 'echo got TERM as pid $$; exit 43' TERM; echo ready; sleep 30 & wait"} }
      os.exit(st.status)]] })
    assert.are.equal(43, st.code)
    assert.matches("got TERM as pid 2", rest, 1, true)
  end)

  it("user = true maps root inside to 100000.. when run as root, and root can write its root", function()
    local out, code = H.run_luactr([[-e '
      local h = require("ns.container").start{ user = true, args = {"/bin/sleep", "30"} }
      io.write(require("ns").readfile("/proc/" .. h.pid .. "/uid_map"))
      local st = h:exec({"/bin/sh", "-c", "id -u; touch /written && echo wrote"})
      h:kill("KILL"); h:wait(); os.exit(st.status)']])
    assert.are.equal(0, code, out)
    assert.matches("^%s*0%s+100000%s+65536\n0\nwrote\n$", out)
  end)

  -- Start a container with extra (Lua table fields), h:exec a shell
  -- command in it, and return the output and exit status.
  local function exec_in(extra, cmd)
    return H.run_luactr(([[-e '
      local h = require("ns.container").start{ name = "execspec", cgroup = { pids = 20 }, %s
        hostname = "inner", args = {"/bin/sleep", "30"} }
      local st = h:exec({"/bin/sh", "-c", "%s"})
      h:kill("KILL"); h:wait(); os.exit(st.status)']]):format(extra, cmd))
  end

  it("h:exec joins every namespace and the container's cgroup", function()
    local v1 = require("ns.cgroup").layout().v1.pids
    local out, code = exec_in("", ("hostname; grep %s /proc/self/cgroup; echo $$"):format(v1 and "pids" or "^0::"))
    assert.are.equal(0, code, out)
    local host, cg, pid = out:match("^(%S+)\n(%S+)\n(%d+)\n$")
    assert.are.equal("inner", host, out)
    assert.are.equal(v1 and "8:pids:/" or "0::/", cg, out)
    assert.are.equal("2", pid, out)
  end)

  it("sets time offsets in a user namespace too (before the ids change)", function()
    if not ns.stat("/proc/self/ns/time") then
      pending("the kernel has no time namespaces (no /proc/self/ns/time)")
      return
    end
    local st = container.run { user = true, time = { boottime = 86400 }, capture = true,
      args = { "/bin/sh", "-c", "cut -d' ' -f1 /proc/uptime" } }
    assert.are.equal(0, st.code, st.stderr)
    assert.is_true(tonumber(st.stdout) >= 86400, st.stdout)
  end)

  it("idmap: a bind's ids seen through the maps, with and without a user namespace; a write lands unmapped", function()
    local src, why = H.idmap_source("idmap")
    if not src then
      pending(why)
      return
    end
    assert(ns.mkdir(src .. "/sub", "0777"))
    -- Without one: on-disk 0 is seen as 1234:4321.
    local st = container.run { capture = true,
      mounts = { { source = src, target = "/home", flags = { "bind" },
        idmap = { uid_map = { { 0, 1234, 1 } }, gid_map = { { 0, 4321, 1 } } } } },
      args = { "/bin/sh", "-c", "stat -c %u:%g /home/f" } }
    assert.are.equal(0, st.code, st.stderr)
    assert.are.equal("1234:4321\n", st.stdout)
    -- In a user namespace whose root is host 200000: the same map makes
    -- the files the container root's, and what it writes is uid 0 on disk.
    local map = { { 0, 200000, 65536 } }
    st = container.run { capture = true, user = { uid_map = map, gid_map = map },
      mounts = { { source = src, target = "/home", flags = { "bind" },
        idmap = { uid_map = map, gid_map = map } } },
      args = { "/bin/sh", "-c", "stat -c %u:%g /home/f; touch /home/sub/new && stat -c %u:%g /home/sub/new" } }
    assert.are.equal(0, st.code, st.stderr)
    assert.are.equal("0:0\n0:0\n", st.stdout)
    local made = assert(ns.stat(src .. "/sub/new"))
    assert.are.same({ 0, 0 }, { made.uid, made.gid })
    -- Without the idmap the same container sees the files as nobody's.
    st = container.run { capture = true, user = { uid_map = map, gid_map = map },
      mounts = { { source = src, target = "/home", flags = { "bind" } } },
      args = { "/bin/sh", "-c", "stat -c %u:%g /home/f" } }
    assert.are.equal("65534:65534\n", st.stdout)
    -- Refused: in a user namespace whose root keeps sys_admin (it could
    -- clear the unlocked flags: a remount of a read-only tree rw); not a
    -- bind; a bad map.
    local ok, err = pcall(require("ns.recipe").check, { user = { uid_map = map, gid_map = map }, capabilities = "all",
      mounts = { { source = src, target = "/mnt", flags = { "bind", "rdonly" }, idmap = { uid_map = map, gid_map = map } } } })
    assert.is_false(ok)
    assert.matches("mounts[1]: idmap in a user namespace whose root keeps sys_admin", err, 1, true)
    for _, case in ipairs({
      { { target = "/mnt", type = "tmpfs", idmap = { uid_map = map, gid_map = map } }, "idmap is for a bind mount" },
      { { source = src, target = "/mnt", flags = { "bind" }, idmap = { uid_map = { { 0, 1 } }, gid_map = map } },
        "idmap.uid_map[1] must be {inside, outside, count}" },
    }) do
      local ok, err = pcall(require("ns.recipe").check, { mounts = { case[1] } })
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
    end
  end)

  it("recursive mount attributes: set on the mount and every mount below it", function()
    local src = H.tmpdir("rattr")
    H.defer(function()
      H.sh("umount " .. src .. "/inner 2>/dev/null")
      H.rmrf(src)
    end)
    assert(ns.mkdir(src .. "/inner", "0755"))
    assert(H.sh("mount -t tmpfs rattr " .. src .. "/inner && echo ok"):match("ok"))
    for _, rec in ipairs({ false, true }) do
      local st = container.run { capture = true,
        mounts = { { source = src, target = "/mnt/r", flags = { "rbind" }, mkdir = true,
          recursive = rec and { set = { "rdonly" }, atime = "noatime" } or nil } },
        args = { "/bin/sh", "-c", "touch /mnt/r/inner/x 2>/dev/null && echo writable || echo read-only; grep ' /mnt/r/inner ' /proc/self/mountinfo" } }
      if rec then
        assert.matches("^read%-only\n", st.stdout)
        assert.matches("ro,[^ ]*noatime", st.stdout)
      else
        assert.matches("^writable\n", st.stdout)
      end
    end
    local ok, err = pcall(require("ns.recipe").check, { mounts = { { source = src, target = "/m", flags = { "bind" },
      recursive = { set = { "readonly" } } } } })
    assert.is_false(ok)
    assert.matches("recursive.set: unknown attribute 'readonly'", err, 1, true)
  end)

  it("devices: a node made in /dev (type, major, minor, mode, owner), a fifo; the staging tmpfs is gone", function()
    local st = container.run { capture = true, cgroup = {},
      devices = { { path = "/dev/mynull", type = "c", major = 1, minor = 3, mode = "0620", uid = 5, gid = 6 },
        { path = "/dev/sub/fifo", type = "p", mode = 384 } },
      args = { "/bin/sh", "-c", "ls -ln /dev/mynull /dev/sub/fifo; echo hi > /dev/mynull && echo wrote; "
        .. "wc -c < /dev/mynull; grep -c luactr-nodes /proc/self/mountinfo; ls -a /dev | grep -c nodes" } }
    assert.matches("^crw%-%-w%-%-%-%-%s+1 5%s+6%s+1,%s+3 [^\n]* /dev/mynull\n", st.stdout)
    assert.matches("\nprw%-%-%-%-%-%-%-%s+1 0%s+0%s+0 [^\n]* /dev/sub/fifo\nwrote\n%s*0\n0\n0\n$", st.stdout)
    assert.is_truthy(st.stdout:find("wrote", 1, true), st.stderr)
    for _, case in ipairs({
      { { path = "/dev/x", type = "z" }, 'devices[1].type "z" must be "c", "b" or "p"' },
      { { path = "/dev/x", type = "c", major = 1 }, "devices[1].minor must be the device's minor number, not nil" },
      { { path = "/dev/x", type = "c", major = 1, minor = 3, mode = "999" }, 'devices[1].mode "999" must be permission bits' },
      { { path = "/tmp/x", type = "c", major = 1, minor = 3 }, 'devices[1].path "/tmp/x" must be a path under /dev' },
      { { source = "/dev/null", major = 1 }, "devices[1].major is for a node made here" },
    }) do
      local ok, err = pcall(require("ns.recipe").check, { devices = { case[1] } })
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
    end
    local ok, err = pcall(require("ns.recipe").check, { user = true, devices = { { path = "/dev/x", type = "c", major = 1, minor = 3 } } })
    assert.is_false(ok)
    assert.matches("devices[1]: a device node cannot be made in a user namespace", err, 1, true)
  end)

  it("time offsets in nanoseconds: {seconds, nanoseconds}, as /proc/self/timens_offsets has them", function()
    if not ns.stat("/proc/self/ns/time") then
      pending("the kernel has no time namespaces (no /proc/self/ns/time)")
      return
    end
    local st = container.run { time = { monotonic = { -1, 500000000 }, boottime = 7 }, capture = true,
      args = { "/bin/cat", "/proc/self/timens_offsets" } }
    assert.are.equal(0, st.code, st.stderr)
    assert.matches("monotonic%s+%-1%s+500000000\n", st.stdout)
    assert.matches("boottime%s+7%s+0\n", st.stdout)
    local ok, err = pcall(require("ns.recipe").check, { time = { monotonic = { 1, 1000000000 } } })
    assert.is_false(ok)
    assert.matches("time.monotonic must be seconds or {seconds, nanoseconds} %(0 to 999999999%)", err)
  end)

  it("h:exec joins the time namespace too", function()
    if not ns.stat("/proc/self/ns/time") then
      pending("the kernel has no time namespaces (no /proc/self/ns/time)")
      return
    end
    local out, code = exec_in("time = { boottime = 86400 },", [[cut -d\" \" -f1 /proc/uptime]])
    assert.are.equal(0, code, out)
    local up = out:match("^([%d.]+)\n$")
    assert.is_true(tonumber(up) >= 86400, out)
  end)

  -- The default (vfork) child moves itself into its group first; a forked
  -- one (init = true) is cloned into it with CLONE_INTO_CGROUP.
  for _, case in ipairs({ { "", "false" }, { "init = true,", "true" } }) do
    it("starts the child in its v2 group on a v2-only layout" .. (case[1] ~= "" and " (" .. case[1] .. ")" or ""), function()
      local out, code = H.run_luactr(([[-e '
        local h = require("ns.container").start{ name = "v2spec", cgroup = {}, %s
          args = {"/bin/sh", "-c", "grep ^0:: /proc/self/cgroup; sleep 0.3"} }
        print("mode", h.cgroup.mode, "into", h.cloned_into_cgroup)
        print("host view", require("ns").readfile("/proc/" .. h.pid .. "/cgroup"):match("0::(%%S+)"))
        os.exit(h:wait().status)']]):format(case[1]), { env = "LUACTR_CGROUP_MODE=v2" })
      assert.are.equal(0, code, out)
      assert.matches("mode\tv2\tinto\t" .. case[2], out, 1, true)
      assert.matches("host view\t/luactr/v2spec", out, 1, true)
      assert.matches("0::/\n", out, 1, true) -- the group is the container's cgroup root
    end)
  end

  it("a container with hooks in the child, a user namespace or init forks; the default vforks", function()
    local container = require "ns.container"
    local function clone_of(t)
      for _, o in ipairs(container.plan(t)) do if o.op == "clone" then return o end end
    end
    assert.is_true(clone_of { args = { "/bin/true" } }.vfork)
    assert.is_true(clone_of { args = { "/bin/true" }, cgroup = { memory = "64M" } }.vfork)
    assert.is_nil(clone_of { args = { "/bin/true" }, cgroup = { memory = "4M" } }.vfork)
    assert.is_nil(clone_of { args = { "/bin/true" }, user = true }.vfork)
    assert.is_nil(clone_of { args = { "/bin/true" }, init = true }.vfork)
    assert.is_nil(clone_of { args = { "/bin/true" }, inside = function() end }.vfork)
    assert.is_nil(clone_of { args = { "/bin/true" }, parent = function() end }.vfork)
  end)
end)
