-- examples/: each recipe run as a user would, checking the claim it makes.
local H = require "support.helper"
local ns = H.ns

-- Run examples/<name>.lua with args (see H.run_luactr for env).
local function run(name, args, env)
  return H.run_luactr(("examples/%s.lua %s"):format(name, args or ""), { env = env })
end

describe("examples", function()
  H.guard()

  it("busybox.lua: sh is PID 1 of two processes, with its own hostname and busybox's /", function()
    local out, code = run("busybox")
    assert.are.equal(0, code, out)
    assert.matches("hostname: busybox", out, 1, true)
    local ps = out:match("\nps:\n(.*)\nls /:\n")
    local n = 0
    for _ in ps:gmatch("\n") do n = n + 1 end
    assert.are.equal(2, n, ps) -- header, sh, ps (the last line has no newline here)
    assert.matches("\n%s*1 root%s+/bin/sh", ps)
    assert.matches("linuxrc", out, 1, true) -- busybox's root, not the host's
  end)

  it("busybox.lua CMD: runs the command and passes stdout through", function()
    local out, code = H.sh(H.luactr .. " examples/busybox.lua ls / </dev/null | wc -l")
    assert.are.equal(0, code)
    assert.is_true(tonumber(out) >= 10, out)
  end)

  it("judge.lua: the verdicts ok, cpu, timeout, oom and pids, with the output captured", function()
    for _, case in ipairs({
      { "ok", [[sh -c 'head -c 300000 /dev/zero | tr "\\0" x']], "stdout 300000 bytes" },
      { "cpu", [[sh -c 'while true; do :; done']] },
      { "timeout", "sleep 5" },
      { "oom", [[sh -c 'x=aaaaaaaa; while true; do x=$x$x; done']] },
      { "pids", [[sh -c 'while true; do sleep 10 & done']] },
    }) do
      local out = run("judge", case[2])
      assert.matches("^verdict: " .. case[1] .. " ", out)
      if case[3] then assert.matches(case[3], out, 1, true) end
    end
  end)

  it("pid.lua: PID 1 in a pid namespace whose id differs from the host's", function()
    local out, code = run("pid")
    assert.are.equal(0, code, out)
    local outside = tonumber(out:match("outside: pid %d+, pid namespace (%d+)"))
    local inside = tonumber(out:match("inside: pid 1, pid namespace (%d+)"))
    assert.are.equal(ns.nsid("self", "pid"), outside)
    assert.is_number(inside, out)
    assert.are_not.equal(outside, inside)
  end)

  it("uts.lua: westeros inside, the host's hostname unchanged", function()
    local host = ns.gethostname()
    local out, code = run("uts")
    assert.are.equal(0, code, out)
    assert.matches("inside: westeros", out, 1, true)
    assert.matches("host after: " .. host, out, 1, true)
    assert.are.equal(host, ns.gethostname())
  end)

  it("ipc.lua: a queue made inside is not visible outside", function()
    local out, code = run("ipc")
    assert.are.equal(0, code, out)
    assert.matches("inside: queues by key:\n19541", out, 1, true)
    assert.matches("host: msgget key 0x4c55: No such file or directory (ENOENT)", out, 1, true)
  end)

  it("mnt.lua: a tmpfs on /tmp inside is invisible on the host", function()
    local out, code = run("mnt")
    assert.are.equal(0, code, out)
    assert.matches("inside: luactr-mnt-demo", out, 1, true)
    assert.matches("tmpfs /tmp tmpfs", out, 1, true)
    assert.matches("host: /tmp/luactr-mnt-demo does not exist", out, 1, true)
    assert.is_nil(ns.stat("/tmp/luactr-mnt-demo"))
  end)

  it("net.lua: only lo", function()
    local out, code = run("net")
    assert.are.equal(0, code, out)
    local links = out:match("inside:\n(.*)$")
    assert.are.equal("lo: <LOOPBACK>\n", links)
  end)

  it("user.lua: root inside, uid 100000 outside", function()
    local out, code = run("user")
    assert.are.equal(0, code, out)
    assert.matches("outside: uid 100000", out, 1, true)
    assert.matches("inside: uid=0(root) gid=0(root)", out, 1, true)
    assert.matches("uid_map:%s+0%s+100000%s+1", out)
  end)

  it("user.lua: works for an unprivileged user, mapped to that user", function()
    local state = H.tmpdir()
    finally(function() H.rmrf(state) end)
    assert(ns.chown(state, 1000, 1000))
    local out, code = run("user", "", ("LUACTR_STATE=%s setpriv --reuid=1000 --regid=1000 --clear-groups"):format(state))
    assert.are.equal(0, code, out)
    assert.matches("outside: uid 1000", out, 1, true)
    assert.matches("inside: uid=0(root) gid=0(root)", out, 1, true)
    assert.matches("uid_map:%s+0%s+1000%s+1", out)
    -- Only the private tmpfs's mount point, which stays empty, and the
    -- seccomp filters' cache.
    assert.are.same({ ".seccomp", ".tmpfs" }, H.sorted(ns.listdir(state)))
    assert.are.same({}, ns.listdir(state .. "/.tmpfs"))
  end)

  it("overlay.lua: writes land in the upper layer, the image is untouched", function()
    local out, code = run("overlay")
    assert.are.equal(0, code, out)
    assert.matches("inside: hello", out, 1, true)
    assert.matches("upper layer: etc/", out, 1, true)
    assert.matches("etc/motd", out, 1, true)
    assert.matches("image: etc/motd does not exist, etc/hostname still there", out, 1, true)
  end)

  it("image.lua: busybox:latest from the store, its layers under the overlay, its config's PATH", function()
    local out, code = run("image")
    assert.are.equal(0, code, out)
    assert.matches("image busybox:latest: 1 layer%(s%), id %x+\nconfig: Cmd = sh, Env = PATH=", out)
    assert.matches("inside: lowerdir%+?=[^\n]*/store/layers/%x+", out)
    out, code = run("image", "spec/none:1")
    assert.are_not.equal(0, code)
    assert(out:find("image spec/none:1: not in the store", 1, true), out)
  end)

  it("chroot.lua: a root process escapes a chroot", function()
    local out, code = run("chroot")
    assert.are.equal(0, code, out)
    assert.matches("escaped: the host root is visible", out, 1, true)
  end)

  it("pivot_root.lua: the same escape fails after pivot_root", function()
    local out, code = run("pivot_root")
    assert.are.equal(0, code, out)
    assert.matches("contained", out, 1, true)
    assert.not_matches("escaped", out, 1, true)
  end)

  it("exec.lua: a command joins a running container's namespaces", function()
    local out, code = run("exec")
    assert.are.equal(0, code, out)
    assert.matches("exec: hostname running", out, 1, true)
    assert.matches("\n%s*1 /bin/sleep 30", out)
  end)

  it("detach.lua: a container under its monitor, found again by name, its output in its log", function()
    local out, code = run("detach")
    assert.are.equal(0, code, out)
    local pid, mon = out:match("^started detach%-demo %(%x+%), pid (%d+), monitor (%d+)\n")
    assert.is_truthy(pid, out)
    assert.are_not.equal(tostring(ns.getpid()), mon) -- not this process's child: its monitor's
    assert.matches("\nexec: hostname background, pid 1 is sleep\n", out)
    assert.matches("\nlog: stdout started\n", out)
    assert.matches("\nstatus: exited, exit 137\n$", out)
    -- Removed: no record, and the monitor has ended.
    assert.is_nil(ns.stat("/run/luactr/names/detach-demo"))
    for _ = 1, 100 do
      if not ns.readfile("/proc/" .. mon .. "/stat") or ns.readfile("/proc/" .. mon .. "/stat"):match("^%d+ %b() Z") then break end
      ns.sleep(0.02)
    end
    local st = ns.readfile("/proc/" .. mon .. "/stat")
    assert.is_true(st == nil or st:match("^%d+ %b() Z") ~= nil, st)
  end)

  it("time.lua: boot time offset by a week inside, not outside", function()
    local before = ns.clock("boottime")
    local out, code = run("time")
    assert.are.equal(0, code, out)
    local inside = tonumber(out:match("inside: uptime ([%d.]+) s"))
    assert.is_number(inside, out)
    assert.is_true(inside >= 7 * 86400 + before - 1, out)
    assert.is_true(ns.clock("boottime") < 7 * 86400)
  end)

  it("unshare.lua: host filesystem, new pid namespace, /proc remounted", function()
    local out, code = run("unshare", "/bin/sh -c 'echo pid=$$; ls /proc | grep -c ^[0-9]; test -e /etc/debian_version && echo host-fs'")
    assert.are.equal(0, code, out)
    assert.matches("pid=1\n", out, 1, true)
    -- sh, ls and grep (or only sh and ls, when ls reads /proc before
    -- the shell has forked grep): nothing of the host
    assert.matches("\n[23]\n", out)
    assert.matches("host-fs", out, 1, true)
  end)

  describe("cgroups", function()
    it("cpu.lua: the busy loop gets at most 25% of one CPU with a 20% limit", function()
      local out, code = run("cpu", "0.2 2")
      assert.are.equal(0, code, out)
      local pct = tonumber(out:match("cpu: ([%d.]+)%% of one CPU"))
      assert.is_number(pct, out)
      assert.is_true(pct <= 25, out)
      assert.is_true(pct >= 10, out) -- it did run
    end)

    it("cpu.lua none: at least 80% of one CPU without the limit", function()
      local out, code = run("cpu", "none 2")
      assert.are.equal(0, code, out)
      local pct = tonumber(out:match("cpu: ([%d.]+)%% of one CPU"))
      assert.is_true(pct >= 80, out)
    end)

    it("memory.lua: past 32M the OOM killer ends it, and luactr says so", function()
      local out, code = run("memory")
      assert.are.equal(137, code, out)
      assert.matches("killed by the OOM killer: memory limit 32M", out, 1, true)
      assert.matches("status 137, oom: true", out, 1, true)
    end)

    it("pids.lua: a fork bomb stops at pids.max and the host can still fork", function()
      local out, code = run("pids")
      assert.are.equal(0, code, out)
      local n = tonumber(out:match("pids in the container: (%d+) %(limit 64%)"))
      assert.is_number(n, out)
      assert.is_true(n >= 48 and n <= 64, out)
      assert.matches("host can fork: true", out, 1, true)
    end)

    it("stats.lua: one line a second with cpu, memory against the limit, pids", function()
      local out, code = run("stats", "2")
      assert.are.equal(0, code, out)
      local lines = {}
      for l in out:gmatch("stats%-demo[^\n]*") do lines[#lines + 1] = l end
      assert.are.equal(2, #lines, out)
      for _, l in ipairs(lines) do
        local cpu, mem, pids = l:match("stats%-demo%s+([%d.]+)%%%s+([%d.]+)MiB / 64MiB%s+(%d+)")
        assert.is_truthy(cpu, l)
        assert.is_true(tonumber(cpu) > 20 and tonumber(cpu) <= 60, l) -- held near 50%
        assert.is_true(tonumber(mem) > 0, l)
        assert.are.equal("3", pids, l)
      end
    end)
  end)
end)
