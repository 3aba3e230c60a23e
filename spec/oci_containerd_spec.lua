-- oci_containerd_spec.lua: Debian's containerd, started by the spec with
-- a private root, state dir and sockets (its CRI plugin off), and `ctr run
-- --runc-binary`: the io.containerd.runc.v2 shim drives luactr-oci as it
-- drives runc. run, run -d, tasks exec, tasks kill, tasks ps, tasks pause
-- and resume, --memory-limit, --tty, delete; each scenario against both,
-- the pass counts side by side. The shim's sockets and runtime root are
-- fixed under /run/containerd in 1.6: that directory goes after, when the
-- spec made it, as do the cgroup parents the runs leave ("default").
local H = require "support.helper"
local ns = H.ns
local q = require("support.oci").shquote

local fmt = string.format

local RUNTIMES = { { "luactr-oci", H.root .. "/luactr-oci" }, { "runc", "/usr/sbin/runc" } }

local dir, ctr

-- ctr with the runtime rt; tty: under script(1), which gives it a pty.
local function run_ctr(args, tty)
  local cmd = fmt("%s %s", ctr, args)
  if tty then cmd = fmt("script -qec %s /dev/null", q(cmd)) end
  return H.sh(fmt("timeout 60 %s 2>&1 </dev/null", cmd))
end

local function task_status(id)
  local out = run_ctr("tasks ls")
  return out:match("\n" .. id .. "%s+%d+%s+(%u+)")
end

local SCENARIOS = {
  { "run --rm: output and exit status", function(rt)
    local out, code = run_ctr(fmt("run --rm --runc-binary %s --rootfs %s c1 /bin/sh -c 'echo hello; exit 4'", q(rt), q(dir .. "/rootfs")))
    assert.are.equal(4, code, out)
    assert.matches("^hello\n", out)
  end },
  { "run -d, tasks exec, ps, pause, resume, kill, delete; --memory-limit", function(rt)
    local out, code = run_ctr(fmt("run -d --runc-binary %s --memory-limit 67108864 --rootfs %s c2 /bin/sh -c "
      .. "'while :; do sleep 0.1; done'", q(rt), q(dir .. "/rootfs")))
    assert.are.equal(0, code, out)
    assert.are.equal("RUNNING", task_status("c2"))
    out, code = run_ctr("tasks exec --exec-id e1 c2 /bin/sh -c 'echo in c2; exit 6'")
    assert.are.equal(6, code, out)
    assert.matches("in c2", out)
    local pid = math.tointeger(tonumber(run_ctr("tasks ls"):match("\nc2%s+(%d+)")))
    assert.matches("\n" .. pid .. "%s", (run_ctr("tasks ps c2")))
    -- The limit, on the host's side of the group containerd named.
    local line = assert(ns.readfile(("/proc/%d/cgroup"):format(pid))):match("%d+:memory:([^\n]+)")
    assert.are.equal("67108864\n", ns.readfile("/sys/fs/cgroup/memory" .. line .. "/memory.limit_in_bytes"))
    assert.are.equal(0, select(2, run_ctr("tasks pause c2")))
    assert.are.equal("PAUSED", task_status("c2"))
    assert.are.equal(0, select(2, run_ctr("tasks resume c2")))
    assert.are.equal("RUNNING", task_status("c2"))
    assert.are.equal(0, select(2, run_ctr("tasks kill -s KILL c2")))
    for _ = 1, 100 do
      if task_status("c2") == "STOPPED" then break end
      ns.sleep(0.05)
    end
    assert.are.equal("STOPPED", task_status("c2"))
    assert.are.equal(0, select(2, run_ctr("tasks delete c2")))
    assert.are.equal(0, select(2, run_ctr("containers delete c2")))
  end },
  { "--tty, and tasks exec -t", function(rt)
    local out = run_ctr(fmt("run --rm -t --runc-binary %s --rootfs %s c3 /usr/bin/tty", q(rt), q(dir .. "/rootfs")), true)
    assert.matches("/dev/pts/%d+", out)
    assert.are.equal(0, select(2, run_ctr(fmt("run -d --runc-binary %s --rootfs %s c4 /bin/sleep 1000", q(rt), q(dir .. "/rootfs")))))
    out = run_ctr("tasks exec -t --exec-id e2 c4 /usr/bin/tty", true)
    assert.matches("/dev/pts/%d+", out)
    run_ctr("tasks kill -s KILL c4")
    for _ = 1, 100 do
      if task_status("c4") == "STOPPED" then break end
      ns.sleep(0.05)
    end
    run_ctr("tasks delete c4")
    run_ctr("containers delete c4")
  end },
}

describe("containerd with luactr-oci", function()
  H.guard()

  local had_run, had_default = false, {}
  local daemon

  setup(function()
    assert.is_truthy(ns.stat("/usr/bin/containerd"), "containerd is one of make test's packages")
    had_run = ns.stat("/run/containerd") ~= nil
    for _, h in ipairs(ns.listdir("/sys/fs/cgroup") or {}) do
      had_default[h] = ns.stat("/sys/fs/cgroup/" .. h .. "/default") ~= nil
    end
  end)

  before_each(function()
    dir = H.tmpdir("containerd")
    assert(ns.writefile(dir .. "/config.toml", table.concat({
      "version = 2", fmt('root = "%s/root"', dir), fmt('state = "%s/state"', dir),
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", '
        .. '"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      "[grpc]", fmt('  address = "%s/c.sock"', dir), "[ttrpc]", fmt('  address = "%s/c.sock.ttrpc"', dir),
      "[debug]", fmt('  address = "%s/debug.sock"', dir), "[metrics]", '  address = ""', "" }, "\n"), { create = true }))
    local src = require("ns.rootfs").busybox()
    assert(H.sh(fmt("cp -a \"$(readlink -f %s)\" %s/rootfs && echo ok", q(src), q(dir))):match("ok"))
    -- containerd, ours: started here, ended by its pid after.
    local log = assert(ns.open(dir .. "/containerd.log", { "wronly", "creat" }, "0644"))
    local pid, pidfd = ns.clone({})
    if pid == 0 then
      ns.dup2(log, 1)
      ns.dup2(log, 2)
      ns.setsid()
      ns.exec("/usr/bin/containerd", { "containerd", "--config", dir .. "/config.toml" })
      ns._exit(127)
    end
    log:close()
    daemon = pidfd
    ctr = fmt("ctr -a %s", q(dir .. "/c.sock"))
    local up
    for _ = 1, 200 do
      up = select(2, H.sh(ctr .. " version >/dev/null 2>&1")) == 0
      if up then break end
      ns.sleep(0.05)
    end
    assert(up, "containerd did not come up: " .. tostring(ns.readfile(dir .. "/containerd.log")))
    H.defer(function()
      for _, id in ipairs({ "c1", "c2", "c3", "c4" }) do
        run_ctr("tasks kill -s KILL " .. id)
        run_ctr("tasks delete -f " .. id)
        run_ctr("containers delete " .. id)
      end
      ns.kill(daemon, "TERM")
      if #ns.poll({ daemon }, 10000) == 0 then ns.kill(daemon, "KILL") end
      ns.wait(daemon)
      daemon:close()
      H.rmrf(dir)
      if not had_run then H.rmrf("/run/containerd") end
      for h, had in pairs(had_default) do
        local p = "/sys/fs/cgroup/" .. h .. "/default"
        if not had and ns.stat(p) then ns.rmdir(p) end
      end
    end)
  end)

  it("runs every scenario through the runc shim, as runc does (the counts side by side)", function()
    require("support.peers").compare("containerd", RUNTIMES, SCENARIOS, function(fn, bin) fn(bin) end, function()
      for _, id in ipairs({ "c1", "c2", "c3", "c4" }) do
        run_ctr("tasks kill -s KILL " .. id)
        run_ctr("tasks delete -f " .. id)
        run_ctr("containers delete " .. id)
      end
    end)
  end)
end)
