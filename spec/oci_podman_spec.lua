-- oci_podman_spec.lua: Debian's podman drives luactr-oci (`podman
-- --runtime`) as it drives runc: run, run -d, exec (-t), logs, ps, top,
-- inspect, pause and unpause, kill, stop, rm, limits, --user, --read-only,
-- -v, --cap-drop, --security-opt seccomp=FILE, exit codes and signals.
-- Every scenario runs against both, with podman's storage, state and
-- configuration in a directory of the spec's (vfs storage, the cgroupfs
-- manager, --network none: the host's network is never touched), and an
-- image that `podman import` makes from the busybox tree. The end says
-- both pass counts side by side; luactr-oci must pass every scenario runc
-- passes, and all of them.
local H = require "support.helper"
local ns = H.ns
local q = require("support.oci").shquote

local fmt = string.format

local RUNTIMES = { { "luactr-oci", H.root .. "/luactr-oci" }, { "runc", "/usr/sbin/runc" } }

local podman = require "support.podman"
local dir, env
local IMAGE = podman.IMAGE

-- The scenarios: each name, and a function(p) that raises (with assert)
-- when podman with its runtime does not do it; p(args) -> output, code.
local SCENARIOS = {
  { "run --rm: the command's output and exit status", function(p)
    local out, code = p(fmt("run --rm %s sh -c 'echo hello; exit 3'", IMAGE))
    assert.are.equal(3, code, out)
    assert.matches("^hello\n", out)
  end },
  { "run -d, exec, exec -t, logs, ps, top, inspect, kill, stop, rm", function(p)
    local out, code = p(fmt("run -d --name web %s sh -c 'trap \"echo got USR1\" USR1; echo started; "
      .. "while :; do sleep 0.1; done'", IMAGE))
    assert.are.equal(0, code, out)
    out = p("exec web hostname")
    assert.matches("^%x+\n$", out)
    out, code = p("exec web sh -c 'exit 5'")
    assert.are.equal(5, code, out)
    out = p("exec -t web tty")
    assert.matches("^/dev/pts/%d+", out)
    assert.matches("^uid=1000[ (].*gid=1000", (p("exec --user 1000:1000 web id")))
    assert.matches("web Up", (p("ps --format '{{.Names}} {{.Status}}'")))
    assert.matches("sh %-c", (p("top web")))
    assert.matches("^running %d+\n$", (p("inspect web --format '{{.State.Status}} {{.State.Pid}}'")))
    assert.are.equal(0, select(2, p("kill -s USR1 web")))
    local logs
    for _ = 1, 100 do
      logs = p("logs web")
      if logs:find("got USR1", 1, true) then break end
      ns.sleep(0.05)
    end
    assert.matches("started\n.*got USR1", logs)
    assert.are.equal(0, select(2, p("stop -t 1 web")))
    assert.matches("web Exited %(%d+%)", (p("ps -a --format '{{.Names}} {{.Status}}'")))
    assert.are.equal(0, select(2, p("rm web")))
  end },
  { "pause and unpause", function(p)
    assert.are.equal(0, select(2, p(fmt("run -d --name pz %s sleep 1000", IMAGE))))
    assert.are.equal(0, select(2, p("pause pz")))
    assert.matches("^paused\n", (p("inspect pz --format '{{.State.Status}}'")))
    assert.are.equal(0, select(2, p("unpause pz")))
    assert.matches("^running\n", (p("inspect pz --format '{{.State.Status}}'")))
    assert.are.equal(0, select(2, p("rm -f -t 0 pz")))
  end },
  { "--memory, --pids-limit, --cpus", function(p)
    local out, code = p(fmt("run --rm --memory 64m --pids-limit 20 --cpus 0.5 %s sh -c "
      .. "'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
      .. "/sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max "
      .. "/sys/fs/cgroup/cpu.max'", IMAGE))
    assert.are.equal(0, code, out)
    assert.matches("^67108864\n20\n50000", out)
  end },
  { "--user", function(p)
    local out = p(fmt("run --rm --user 1000:1000 %s id", IMAGE))
    assert.matches("^uid=1000[ (].*gid=1000", out)
  end },
  { "--read-only: / refused, /tmp a tmpfs", function(p)
    local out = p(fmt("run --rm --read-only %s sh -c 'touch /x; touch /tmp/y && echo tmp ok'", IMAGE))
    assert.matches("Read%-only file system", out)
    assert.matches("tmp ok", out)
  end },
  { "-v DIR:/data:ro", function(p)
    local out = p(fmt("run --rm -v %s:/data:ro %s sh -c 'cat /data/file; touch /data/new'", q(dir .. "/vol"), IMAGE))
    assert.matches("^in the volume\n", out)
    assert.matches("Read%-only file system", out)
    assert.is_nil(ns.stat(dir .. "/vol/new"))
  end },
  { "--cap-drop all", function(p)
    local out = p(fmt("run --rm --cap-drop all %s grep CapEff /proc/self/status", IMAGE))
    assert.matches("CapEff:%s+0000000000000000", out)
  end },
  { "--security-opt seccomp=FILE", function(p)
    local out = p(fmt("run --rm --security-opt seccomp=%s %s sh -c 'mkdir /x || echo refused'",
      q(dir .. "/seccomp.json"), IMAGE))
    assert.matches("Operation not permitted", out)
    assert.matches("refused", out)
  end },
}

describe("podman with luactr-oci", function()
  H.guard()

  setup(function()
    assert.is_truthy(ns.stat("/usr/bin/podman"), "podman is one of make test's packages")
  end)

  before_each(function()
    dir = H.tmpdir("podman")
    assert(ns.mkdir(dir .. "/vol"))
    assert(ns.writefile(dir .. "/vol/file", "in the volume\n", { create = true }))
    assert(ns.writefile(dir .. "/seccomp.json", [[{"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}]], { create = true }))
    env = podman.start(dir)
    H.defer(function()
      local rts = {}
      for i, rt in ipairs(RUNTIMES) do rts[i] = rt[2] end
      env.stop(rts)
      H.rmrf(dir)
    end)
  end)

  it("passes every scenario, as runc does (the counts side by side)", function()
    require("support.peers").compare("podman", RUNTIMES, SCENARIOS,
      function(fn, bin) fn(function(args) return env.run(bin, args) end) end,
      function(bin) env.run(bin, "rm -af -t 0") end)
  end)
end)
