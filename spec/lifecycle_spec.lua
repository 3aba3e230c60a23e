-- lifecycle_spec.lua: containers with records, as a docker user drives
-- them: luactr run -d under a monitor, ps, exec, logs, stop, kill, start,
-- restart, wait, rm, inspect, top, pause, unpause, stats, commit; the
-- monitor killed, luactr killed halfway, names raced; and at the end of
-- each test nothing left on the host. This process is a child subreaper
-- while the file runs, so that the monitors (which luactr run -d leaves
-- to the nearest subreaper) are its children: the guard sees any that
-- stays, and each test reaps those that ended.
local H = require "support.helper"
local ns = H.ns
local cjson = require "cjson"
local q = require("support.oci").shquote

local fmt = string.format

local function luactr(args, opts) return H.run_luactr(args, opts) end

-- Run luactr, which must succeed: its output.
local function ok(args, opts)
  local out, code = luactr(args, opts)
  assert(code == 0, fmt("luactr %s: exit %s: %s", args, tostring(code), out))
  return out
end

-- Reap the monitors that have ended; wait (up to 5 s) until none is left.
local function reap_all()
  local deadline = ns.clock() + 5
  while true do
    while ns.wait(-1, "nohang") do end
    local pid = ns.getpid()
    local f = io.open(("/proc/%d/task/%d/children"):format(pid, pid))
    local kids = f and f:read("a") or ""
    if f then f:close() end
    if not kids:match("%d") or ns.clock() > deadline then return end
    ns.sleep(0.01)
  end
end

-- The record of a container, as luactr inspect prints it.
local function inspect(ref)
  local list = cjson.decode(ok("inspect " .. ref))
  return list[1]
end

-- The names of every container luactr ps -a lists, with their statuses.
local function ps_all()
  local t = {}
  for line in ok("ps -a --format json"):gmatch("[^\n]+") do
    local r = cjson.decode(line)
    t[r.name] = r
  end
  return t
end

-- rm -f every container luactr knows, then reap: the test's clean-up.
local function rm_all()
  local ids = ok("ps -aq --no-trunc")
  if ids:match("%S") then ok("rm -f " .. ids:gsub("\n", " ")) end
  reap_all()
end

-- The parent of pid (for a container's first process: its monitor).
local function ppid(pid)
  local stat = assert(ns.readfile(("/proc/%d/stat"):format(pid)))
  return math.tointeger(tonumber(stat:match("^%d+ %b() %S+ (%d+)")))
end

describe("luactr's container lifecycle", function()
  H.guard()

  setup(function()
    assert(ns.prctl("child_subreaper", true))
    -- Nothing of an earlier run may be taken for this one's.
    assert.are.equal("", ok("ps -aq"))
  end)

  teardown(function()
    ns.prctl("child_subreaper", false)
  end)

  before_each(function() H.defer(rm_all) end)

  it("run -d --name web: exec sees its hostname and PID 1, logs shows what it wrote", function()
    local id = ok("run -d --name web busybox sh -c 'echo started; echo oops >&2; sleep 1000'")
    assert.matches("^%x+\n$", id)
    assert.are.equal(65, #id)
    assert.are.equal(id:sub(1, 12) .. "\n", ok("exec web hostname"))
    assert.are.equal("1\n", ok("exec web sh -c 'cat /proc/1/stat | cut -d\" \" -f1'"))
    -- busybox sh execs its last command: that is PID 1 now.
    assert.are.equal("sleep 1000 ", ok("exec web sh -c 'tr \"\\0\" \" \" </proc/1/cmdline'"))
    -- The log is written as it comes: poll for it. stdout to stdout,
    -- stderr to stderr (two pipes: their order is not kept).
    local out
    for _ = 1, 100 do
      out = ok("logs web")
      if out:find("oops") and out:find("started") then break end
      ns.sleep(0.02)
    end
    assert.are.equal("started\n", H.sh(H.luactr .. " logs web 2>/dev/null"))
    assert.are.equal("oops\n", H.sh(H.luactr .. " logs web 2>&1 >/dev/null"))
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z started\n$", H.sh(H.luactr .. " logs -t web 2>/dev/null"))
    local s = inspect("web")
    assert.are.equal("running", s.status)
    assert.are.equal("busybox", s.image)
    assert.are.same({ "sh", "-c", "echo started; echo oops >&2; sleep 1000" }, s.command)
    assert.matches("^luactr/web$", s.cgroup)
    assert.are.equal("/run/luactr/containers/" .. s.id .. "/fs/upper", s.upper)
    assert.is_truthy(ns.stat(s.rootfs:match("^[^:]+") .. "/bin/busybox"), s.rootfs)
    -- ps: one row, the id prefix and the name.
    local rows = ok("ps")
    assert.matches("CONTAINER ID", rows, 1, true)
    assert.matches(id:sub(1, 12) .. ".-busybox.-Up .-web\n", rows)
    -- Its pid namespace is not the host's, and top lists it from the host.
    assert.matches("PID%s+PPID.-sleep 1000", ok("top web"))
  end)

  it("20 detached containers: exec, stop, monitors killed, restart, commit, ps -a, rm -f: nothing left", function()
    local n = 20
    local ids = {}
    for i = 1, n do
      ids[i] = ok(fmt("run -d --name c%d -h host%d busybox sh -c 'echo hi %d; sleep 1000'", i, i, i)):sub(1, 64)
    end
    for i = 1, n do
      assert.are.equal(fmt("host%d\n1\n", i), ok(fmt("exec c%d sh -c 'hostname; cut -d\" \" -f1 /proc/1/stat'", i)))
    end
    -- Stop five (sh as PID 1 ignores SIGTERM: the kill after 1 s).
    ok("stop -t 1 c1 c2 c3 c4 c5")
    -- SIGKILL the monitors of five more: their containers die with them.
    local pids = {}
    for i = 6, 10 do
      pids[i] = inspect("c" .. i).pid
      local mon = ppid(pids[i])
      assert.is_truthy(ns.readfile(("/proc/%d/cmdline"):format(mon)):find("luactr\0monitor", 1, true))
      assert(ns.kill(mon, "KILL"))
    end
    reap_all()
    -- Restart one on its kept layer, and commit another, then run that.
    ok("exec c11 sh -c 'echo kept > /kept'")
    ok("restart -t 0 c11")
    assert.are.equal("kept\n", ok("exec c11 cat /kept"))
    ok("exec c12 sh -c 'echo committed > /made; rm /etc/motd 2>/dev/null; mkdir -p /data; echo x > /data/f'")
    ok("commit c12 spec/lifecycle:1")
    H.defer(function() ok("image rm spec/lifecycle:1") end)
    assert.are.equal("committed\nx\n", ok("run --rm spec/lifecycle:1 sh -c 'cat /made /data/f'"))
    -- Every one is accounted for.
    local all = ps_all()
    local count = 0
    for _ in pairs(all) do count = count + 1 end
    assert.are.equal(n, count)
    for i = 1, 5 do
      assert.are.equal("exited", all["c" .. i].status)
      assert.are.equal("KILL", all["c" .. i].signal)
    end
    for i = 6, 10 do
      assert.are.equal("exited", all["c" .. i].status)
      assert.are.equal("its process is gone (monitor killed?)", all["c" .. i].reason)
      assert.is_nil(ns.readfile(("/proc/%d/stat"):format(pids[i])))
    end
    for i = 11, n do assert.are.equal("running", all["c" .. i].status, "c" .. i) end
    -- The cgroups of the dead ones are gone already, the others' are there.
    local root = H.layout == "v2" and "/sys/fs/cgroup/luactr" or "/sys/fs/cgroup/pids/luactr"
    local groups = {}
    for _, g in ipairs(ns.listdir(root) or {}) do groups[g] = true end
    for i = 1, n do assert.are.equal(i > 10, groups["c" .. i] == true, "cgroup of c" .. i) end
    ok("rm -f " .. table.concat(ids, " "))
    reap_all()
    assert.are.equal("", ok("ps -aq"))
    for _, id in ipairs(ids) do
      assert.is_nil(ns.stat("/run/luactr/containers/" .. id))
    end
  end)

  it("a RECIPE.lua with functions: kept as its argv, read again by start", function()
    local dir = H.tmpdir("fn-recipe")
    H.defer(function() H.rmrf(dir) end)
    local recipe = dir .. "/hooks.lua"
    -- The inside hook runs at every start: the file it writes says how many.
    assert(ns.writefile(recipe, [[
      return { image = "busybox", args = { "sleep", "1000" },
        inside = function() local f = io.open("/starts", "a"); f:write("x"); f:close() end }
    ]], { create = true }))
    ok("run -d --name fn " .. recipe)
    local s = inspect("fn")
    assert.are.same({ "-d", "--name", "fn", recipe }, s.config.argv)
    assert.is_nil(s.config.table)
    ok("restart -t 0 fn")
    assert.are.equal("xx", ok("exec fn cat /starts"))
  end)

  it("a container that ignores SIGTERM is stopped within the timeout", function()
    ok("run -d --name hard busybox sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'")
    local t0 = ns.clock()
    assert.are.equal("hard\n", ok("stop -t 1 hard"))
    local took = ns.clock() - t0
    assert.is_true(took >= 0.9 and took < 5, "stop took " .. took .. " s")
    local s = inspect("hard")
    assert.are.equal("exited", s.status)
    assert.are.equal("KILL", s.signal)
    assert.are.equal("137\n", ok("wait hard"))
    -- A stopped one keeps its record and layer until rm, as docker's.
    assert.matches("Exited %(137%)", ok("ps -a"))
  end)

  it("start runs an exited container again on the files it wrote", function()
    ok("run --name once busybox sh -c 'echo 1 >> /count; cat /count'")
    ok("start once")
    assert.are.equal("0\n", ok("wait once"))
    -- The foreground run's output went to the terminal; the start's to the log.
    assert.are.equal("1\n1\n", ok("logs once"))
    local s = inspect("once")
    assert.are.equal(0, s.exit_code)
    -- A foreground run has no log; a start does.
    assert.matches("/log$", s.log)
  end)

  it("kill, wait, pause and unpause", function()
    ok("run -d --name k busybox sleep 1000")
    ok("pause k")
    assert.matches("Up .-%(Paused%)", ok("ps"))
    local out, code = luactr("exec k true")
    assert.are.equal(1, code)
    assert.matches('container "k" is paused: only a running container runs commands', out)
    local pid = inspect("k").pid
    local state = ns.readfile(("/proc/%d/status"):format(pid)):match("State:%s+(%a)")
    assert.is_truthy(state == "D" or state == "S" or state == "T", state)
    ok("unpause k")
    assert.are.equal("running", inspect("k").status)
    ok("kill -s TERM k")
    -- sleep as PID 1 has no handler: TERM does nothing; KILL does.
    ns.sleep(0.1)
    assert.are.equal("running", inspect("k").status)
    ok("kill k")
    assert.are.equal("137\n", ok("wait k"))
    out, code = luactr("kill k")
    assert.are.equal(1, code)
    assert.matches('container "k" is exited: it has no process to signal', out)
  end)

  it("exec: status, -e, -w, -u, -d, and errors", function()
    ok("run -d --name box busybox sleep 1000")
    local out, code = luactr("exec box sh -c 'exit 7'")
    assert.are.equal(7, code)
    assert.are.equal("v /tmp 65534\n", ok("exec -e A=v -w /tmp -u nobody box sh -c 'echo $A $(pwd) $(id -u)'"))
    out, code = luactr("exec box nosuchcommand")
    assert.are.equal(127, code)
    assert.are.equal('luactr exec: container "box": exec nosuchcommand: No such file or directory (ENOENT)\n', out)
    ok("exec -d box sh -c 'sleep 0.1; echo detached > /tmp/d'")
    for _ = 1, 100 do
      if luactr("exec box cat /tmp/d") == "detached\n" then break end
      ns.sleep(0.02)
    end
    assert.are.equal("detached\n", ok("exec box cat /tmp/d"))
    out, code = luactr("exec bxo true")
    assert.are.equal(1, code)
    assert.are.equal('luactr exec: no such container: "bxo" (did you mean "box"?)\n', out)
    out, code = luactr("exec box")
    assert.are.equal(2, code)
    assert.matches("needs a command", out)
  end)

  it("exec joins a container with a user namespace, and a rootless one", function()
    local dir = H.tmpdir("recipe")
    H.defer(function() H.rmrf(dir) end)
    assert(ns.chmod(dir, tonumber("755", 8)))
    local recipe = dir .. "/userns.lua"
    assert(ns.writefile(recipe, "return { user = true, args = {'/bin/sleep', '1000'} }", { create = true }))
    assert(ns.chmod(recipe, tonumber("644", 8)))
    ok("run -d --name u " .. recipe)
    assert.are.equal("0\n", ok("exec u id -u"))
    local inside = ok("exec u cat /proc/self/uid_map")
    assert.matches("^%s*0%s+%d+%s+%d+", inside)
    -- Rootless: uid 1000, a state root of its own.
    local st = H.tmpdir("rl-state")
    H.defer(function() H.rmrf(st) end)
    assert(ns.chown(st, 1000, 1000))
    local env = "setpriv --reuid=1000 --regid=1000 --clear-groups env LUACTR_STATE=" .. st
    local rl = function(args)
      local out, code = luactr(args, { env = env })
      assert(code == 0, args .. ": " .. out)
      return out
    end
    rl("run -d --name r " .. recipe)
    assert.are.equal("uid=0(root) gid=0(root)\n", rl("exec r id"))
    local pid = cjson.decode(rl("inspect r"))[1].pid
    assert.matches("Uid:%s+1000", ns.readfile(("/proc/%d/status"):format(pid)))
    rl("rm -f r")
    reap_all()
    assert.are.same({}, ns.listdir(st .. "/containers"))
  end)

  it("two run --name x at once: one wins, the other says the name is taken", function()
    local out = H.sh(fmt("(%s run -d --name twin busybox sleep 1000 & %s run -d --name twin busybox sleep 1000 & wait) 2>&1",
      H.luactr, H.luactr))
    local ids, errs = 0, 0
    for line in out:gmatch("[^\n]+") do
      if line:match("^%x+$") then ids = ids + 1 end
      if line:match('^luactr run: container name "twin" is already in use by container %x+') then errs = errs + 1 end
    end
    assert.are.same({ 1, 1 }, { ids, errs }, out)
    assert.are.equal(1, #H.sorted(ns.listdir("/run/luactr/containers")))
  end)

  it("--rm: a detached container's record goes when it ends", function()
    local id = ok("run -d --rm --name gone busybox sh -c 'echo bye'"):sub(1, 64)
    for _ = 1, 200 do
      if not ns.stat("/run/luactr/containers/" .. id) then break end
      ns.sleep(0.01)
    end
    assert.is_nil(ns.stat("/run/luactr/containers/" .. id))
    local out, code = luactr("logs gone")
    assert.are.equal(1, code)
    assert.matches('no such container: "gone"', out)
  end)

  it("luactr killed after its start or halfway: the next command reconciles and collects", function()
    -- A luactr that starts a container and dies before it records the end.
    local code = [[
      local life = require "ns.lifecycle"
      local s, lock, list = life.create({ image = "busybox", args = { "sleep", "1000" } }, { name = "orphan" })
      life.launch(s, list)
      local ns = require "ns.core"
      ns.kill(ns.getpid(), "KILL")
    ]]
    local out, status = luactr("-e " .. q(code))
    assert.are.equal(137, status, out)
    -- One killed before it started anything: a created record.
    code = [[
      local life = require "ns.lifecycle"
      life.create({ image = "busybox", args = { "true" } }, { name = "halfway" })
      local ns = require "ns.core"
      ns.kill(ns.getpid(), "KILL")
    ]]
    out, status = luactr("-e " .. q(code))
    assert.are.equal(137, status, out)
    reap_all()
    local all = ps_all()
    assert.are.equal("exited", all.orphan.status)
    assert.are.equal("its process is gone (monitor killed?)", all.orphan.reason)
    assert.are.equal("created", all.halfway.status)
    assert.is_nil(ns.stat("/sys/fs/cgroup/" .. (H.layout == "v2" and "" or "pids/") .. "luactr/orphan"))
    assert.matches("Created", ok("ps -a"))
    ok("rm orphan halfway")
  end)

  it("bad input: ids, names and flags named, with the near ones", function()
    ok("run -d --name webserver busybox sleep 1000")
    local out, code = luactr("stop webservre")
    assert.are.equal(1, code)
    assert.are.equal('luactr stop: no such container: "webservre" (did you mean "webserver"?)\n', out)
    out, code = luactr("rm webserver")
    assert.are.equal(1, code)
    assert.matches('container "webserver" is running: stop it first, or remove it with %-f', out)
    out, code = luactr("ps --bogus")
    assert.are.equal(2, code)
    assert.matches("unknown flag '%-%-bogus'", out)
    out, code = luactr("kill -s NOPE webserver")
    assert.are.equal(2, code)
    assert.matches("NOPE", out)
    out, code = luactr("logs --tail x webserver")
    assert.are.equal(2, code)
    assert.matches("%-%-tail x", out)
    out, code = luactr("commit webserver nope")
    assert.are.equal(0, code, out) -- committing works on a running container (paused meanwhile)
    H.defer(function() luactr("image rm nope") end)
    assert.are.equal("running", inspect("webserver").status)
  end)

  it("the OOM killer's verdict is in the record", function()
    ok("run -d --name hog -m 8m busybox sh -c 'x=aaaaaaaa; while true; do x=$x$x; done'")
    local out = luactr("wait hog")
    assert.are.equal("137\n", out)
    local s = inspect("hog")
    assert.are.equal("KILL", s.signal)
    assert.is_true(s.oom)
    ok("run -d --name fine -m 8m busybox true")
    ok("wait fine")
    assert.is_nil(inspect("fine").oom)
  end)

  it("a log is rotated past --log-opt max-size: a container cannot fill the state root", function()
    local id = ok("run -d --name chatty --log-opt max-size=4k --log-opt max-file=2 busybox sh -c "
      .. "'i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); [ $((i % 100)) = 0 ] && sleep 0.005; done'"):sub(1, 64)
    assert.are.equal("0\n", ok("wait chatty"))
    local dir = "/run/luactr/containers/" .. id
    local total = 0
    for _, name in ipairs(ns.listdir(dir)) do
      if name:match("^log") then total = total + ns.stat(dir .. "/" .. name).size end
    end
    assert.is_nil(ns.stat(dir .. "/log.2"))
    -- Two files of 4 KiB and one read's lines more each, not 3000 lines' 50 KiB.
    assert.is_true(total < 2 * (4096 + 16384), "log files hold " .. total .. " bytes")
    local out = ok("logs chatty")
    assert.matches("line 2999\n$", out)
    assert.is_nil(out:find("line 0\n", 1, true))
    local err, code = luactr("run -d --log-opt max-file=0 busybox true")
    assert.are.equal(125, code)
    assert.matches('%-%-log%-opt "max%-file=0": max%-file is a number of files, 1 to 100', err)
  end)

  it("logs --tail and -f; stats --no-stream", function()
    ok("run -d --name lg busybox sh -c 'for i in 1 2 3 4 5; do echo $i; done; sleep 0.3; echo six'")
    local out = ok("logs -f lg")
    assert.are.equal("1\n2\n3\n4\n5\nsix\n", out)
    assert.are.equal("5\nsix\n", ok("logs --tail 2 lg"))
    ok("run -d --name st -m 64m busybox sleep 1000")
    out = ok("stats --no-stream")
    assert.matches("CONTAINER ID%s+NAME%s+CPU %%%s+MEM USAGE / LIMIT", out)
    assert.matches("st%s+[%d.]+%%%s+[%d.]+%a+ / 64MiB", out)
  end)

  it("a recipe's seccomp notify handlers answer exec'd commands, under the monitor (-d) and in the foreground", function()
    local dir = H.tmpdir("notify-recipe")
    H.defer(function() H.rmrf(dir) end)
    assert(ns.chmod(dir, tonumber("755", 8)))
    local recipe = dir .. "/r.lua"
    assert(ns.writefile(recipe, [[
return { args = { "/bin/sh", "-c", "mkdir /tmp/a; sleep 1000" },
  seccomp = { notify = { mkdir = function(req)
    print("handler: mkdir " .. req.path)
    if req.path:match("no") then return "EACCES" end
    return "allow"
  end } } }
]], { create = true }))
    -- Detached: the monitor stays the luactr that holds the handlers.
    local id = ok("run -d --name nd " .. recipe):match("%x+")
    local out, code = luactr("exec nd mkdir /tmp/no")
    assert.are.equal(1, code, out)
    assert.matches("can't create directory '/tmp/no': Permission denied", out)
    ok("exec nd mkdir /tmp/b")
    ok("exec -d nd mkdir /tmp/c")
    for _ = 1, 100 do
      if ok("exec nd ls /tmp"):find("c") then break end
      ns.sleep(0.02)
    end
    assert.are.equal("a\nb\nc\n", ok("exec nd ls /tmp"))
    local logs = ok("logs nd")
    for _, p in ipairs({ "a", "no", "b", "c" }) do assert.matches("handler: mkdir /tmp/" .. p .. "\n", logs) end
    local sock = "/run/luactr/containers/" .. id .. "/notify.sock"
    local st = assert(ns.stat(sock, "nofollow"))
    assert.are.equal("sock", st.type)
    assert.are.equal(tonumber("600", 8), st.mode & tonumber("777", 8))
    ok("rm -f nd")
    reap_all()
    assert.is_nil(ns.stat(sock, "nofollow"))
    -- In the foreground: luactr run answers on the same socket.
    H.sh(fmt("%s run --name fg %s >%s/fg.out 2>&1 </dev/null &", H.luactr, recipe, dir))
    local up
    for _ = 1, 250 do
      up = (luactr("ps --format json")):match('"name":"fg"')
      if up then break end
      ns.sleep(0.02)
    end
    assert.is_truthy(up, "fg runs")
    ok("exec fg mkdir /tmp/b")
    out, code = luactr("exec fg mkdir /tmp/no")
    assert.are.equal(1, code, out)
    ok("kill fg")
    reap_all()
    local fg = assert(ns.readfile(dir .. "/fg.out"))
    for _, p in ipairs({ "a", "b", "no" }) do assert.matches("handler: mkdir /tmp/" .. p .. "\n", fg) end
  end)
end)
