-- run_spec.lua: `luactr run`, docker run's flags over one container
-- table: ns.cli.run.parse() on argv lists (the table each flag makes), then
-- ./luactr run as a user types it: the busybox image, an image of the
-- specs' own (spec/support/oci.lua, in a private LUACTR_ROOT) whose Env,
-- Cmd, Entrypoint, WorkingDir and User meet -e, --entrypoint, -w and -u,
-- exit statuses, errors, --plan and --timings, and -it on a terminal
-- (tmux).
local H = require "support.helper"
local oci = require "support.oci"
local T = require "support.tmux"
local cli = require "ns.cli.run"
local recipe = require "ns.recipe"
local ns = H.ns

local q = oci.shquote

-- parse(...) on the words given.
local function parse(...) return cli.parse({ ... }) end

-- The message parse(...) raises.
local function parse_error(...)
  local ok, err = pcall(cli.parse, { ... })
  assert(not ok, "no error for: " .. table.concat({ ... }, " "))
  return err
end

-- luactr run --rm: the records of containers that ran are kept
-- otherwise (docker's), and the guard would find them.
local function run(args, opts) return H.run_luactr("run --rm " .. args, opts) end

describe("ns.cli.run", function()
  H.guard()

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.cli.run")
  end)

  describe("split()", function()
    it("ends the flags at the first word that is neither a flag nor a flag's value", function()
      assert.are.same({ {}, 1 }, { cli.split({ "busybox", "ls", "-l" }) })
      assert.are.same({ { "--env=A=1", "-i" }, 4 }, { cli.split({ "-e", "A=1", "-i", "busybox", "-e" }) })
      assert.are.same({ { "-i", "--env=A=1" }, 3 }, { cli.split({ "-ie", "A=1", "img" }) }) -- -e in a cluster takes the next word
      assert.are.same({ { "-eA=1" }, 2 }, { cli.split({ "-eA=1", "img" }) })                 -- or the rest of its own
      assert.are.same({ { "--env=A=1" }, 2 }, { cli.split({ "--env=A=1", "img" }) })
      assert.are.same({ { "--cpus=-1", "--entrypoint=" }, 5 }, { cli.split({ "--cpus", "-1", "--entrypoint", "", "img" }) })
      assert.are.same({ { "-i" }, 3 }, { cli.split({ "-i", "--", "-img", "x" }) })
      assert.are.same({ { "--bogus" }, 2 }, { cli.split({ "--bogus", "img" }) })          -- for argparse to refuse
      assert.are.same({ { "-i", "--name" }, 3 }, { cli.split({ "-i", "--name" }) })         -- no value, no image
    end)
  end)

  describe("parse()", function()
    it("makes the image the table's image and passes the command through untouched", function()
      local t, o = parse("busybox")
      assert.are.same({ image = "busybox", tty = false }, t)
      assert.are.same({ interactive = false, rm = false, detach = false, help = false, image = "busybox",
        log_max = 16 * 1024 * 1024, log_files = 2 }, o)
      t = parse("-e", "A=1", "busybox", "ls", "-l", "--name", "x", "-e", "--", "/")
      assert.are.same({ "ls", "-l", "--name", "x", "-e", "--", "/" }, t.args)
      assert.are.same({ A = "1" }, t.env)
      t = parse("--", "busybox", "-x")
      assert.are.same({ "-x" }, t.args)
    end)

    it("-i, -t, --rm and --help are luactr run's own, but -t's tty", function()
      local t, o = parse("-it", "--rm", "busybox")
      assert.is_true(t.tty)
      assert.is_true(o.interactive)
      assert.is_true(o.rm)
      t, o = parse("--interactive", "--tty", "busybox")
      assert.is_true(t.tty and o.interactive)
      t, o = parse("-e", "A=1", "--help")
      assert.is_true(o.help)
      t, o = parse("busybox", "--help")
      assert.are.same({ "--help" }, t.args)
    end)

    it("--name, -h, -w, -u, --read-only, --init", function()
      local t = parse("--name", "web", "-h", "box", "-w", "/srv", "-u", "nobody:nogroup", "--read-only", "--init", "img")
      assert.are.same({ image = "img", tty = false, name = "web", hostname = "box", cwd = "/srv", user = "nobody:nogroup",
        readonly = true, init = true }, t)
      assert.are.equal("1000", parse("--user=1000", "img").user)
      assert.matches("^--name \"a b\": letters", parse_error("--name", "a b", "img"))
      assert.matches("^%-w \"rel\": the working directory must be an absolute path", parse_error("-w", "rel", "img"))
      assert.matches("^%-h \"\": a hostname", parse_error("-h", "", "img"))
      assert.matches("^%-u \":0\"", parse_error("-u", ":0", "img"))
    end)

    it("-e K=V sets, -e K takes K's value here and leaves an unset K out", function()
      local t = parse("-e", "A=1", "-eB=x=y", "--env=C=", "-e", "PATH", "-e", "LUACTR_SPEC_SURELY_UNSET", "img")
      assert.are.same({ A = "1", B = "x=y", C = "", PATH = os.getenv("PATH") }, t.env)
      assert.are.same({ A = "2" }, parse("-e", "A=1", "-e", "A=2", "img").env) -- the last wins
      assert.matches("^%-e \"=1\": no variable name", parse_error("-e", "=1", "img"))
    end)

    it("--env-file reads docker's format, and -e overrides it", function()
      local path = H.tmpfile("\239\187\191# a comment\n\n  A=1\nB=2\nPATH\nLUACTR_SPEC_SURELY_UNSET\nC=a b # kept\n")
      H.defer(function() os.remove(path) end)
      local t = parse("--env-file", path, "-e", "A=9", "img")
      assert.are.same({ A = "9", B = "2", PATH = os.getenv("PATH"), C = "a b # kept" }, t.env)
      local bad = H.tmpfile("A=1\nMY VAR=2\n")
      H.defer(function() os.remove(bad) end)
      local err = parse_error("--env-file", bad, "img")
      assert.matches(":2: variable \"MY VAR\" holds white space", err, 1, true)
      assert.matches("^%-%-env%-file /nonexistent/env: No such file", parse_error("--env-file", "/nonexistent/env", "img"))
    end)

    it("--env-file refuses a name with white space before '='", function()
      local path = H.tmpfile("B =2\n")
      H.defer(function() os.remove(path) end)
      assert.matches("variable \"B \" holds white space", parse_error("--env-file", path, "img"), 1, true)
    end)

    it("-v binds the host's path recursively, read-only with ro; a directory's target is made", function()
      local file = H.tmpfile("x")
      H.defer(function() os.remove(file) end)
      local t = parse("-v", "/tmp:/data", "--volume", "/tmp:/ro:ro", "-v", file .. ":/etc/x:rw", "img")
      assert.are.same({
        { source = "/tmp", target = "/data", flags = { "rbind" }, mkdir = true },
        { source = "/tmp", target = "/ro", flags = { "rbind", "rdonly" }, mkdir = true },
        { source = file, target = "/etc/x", flags = { "rbind" }, mkdir = false },
      }, t.mounts)
      assert.matches("must be an absolute path on the host %(named volumes are not supported%)", parse_error("-v", "data:/x", "img"))
      assert.matches("^%-v \"/tmp:x\": the target \"x\" must be an absolute path", parse_error("-v", "/tmp:x", "img"))
      assert.matches("^%-v \"/nonexistent:/x\": .*No such file or directory", parse_error("-v", "/nonexistent:/x", "img"))
      assert.matches("unknown option 'z' %(valid: ro, rw%)", parse_error("-v", "/tmp:/x:z", "img"))
      assert.matches("not SRC:DST", parse_error("-v", "/tmp", "img"))
    end)

    it("--tmpfs mounts a tmpfs, noexec, nosuid and nodev unless its options say otherwise", function()
      local t = parse("--tmpfs", "/run", "--tmpfs", "/s:size=64m,mode=1777,ro,exec,dev,noatime", "img")
      assert.are.same({
        { type = "tmpfs", target = "/run", flags = { "noexec", "nosuid" }, mkdir = true },
        { type = "tmpfs", target = "/s", flags = { "rdonly", "nosuid", "noatime" }, data = "size=64m,mode=1777",
          dev = true, mkdir = true },
      }, t.mounts)
      assert.matches("unknown option 'bogus'", parse_error("--tmpfs", "/s:bogus", "img"))
      assert.matches("must be an absolute path", parse_error("--tmpfs", "s", "img"))
    end)

    it("--memory, --cpus, --pids-limit and --cpuset-cpus become the cgroup's limits", function()
      local t = parse("-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "--cpuset-cpus", "0", "img")
      assert.are.same({ memory = "64M", cpu = 0.5, pids = 50, cpuset = "0" }, t.cgroup)
      assert.are.equal("1.5G", parse("--memory", "1.5g", "img").cgroup.memory)
      assert.are.equal("64M", parse("--memory", "64MiB", "img").cgroup.memory)
      assert.are.equal("8192K", parse("--memory", "8192kb", "img").cgroup.memory)
    end)

    it("--memory takes docker's sizes, bytes as a number, and refuses what docker refuses", function()
      assert.are.equal("64M", parse("--memory", "64mb", "img").cgroup.memory)
      assert.are.equal(67108864, parse("--memory", "67108864", "img").cgroup.memory)
      assert.are.equal(67108864, parse("--memory", "67108864b", "img").cgroup.memory)
      assert.matches("^%-%-memory \"lots\": not a size", parse_error("--memory", "lots", "img"))
      assert.matches("^%-%-memory \"512k\": below the minimum of 6m", parse_error("--memory", "512k", "img"))
      assert.matches("^%-%-memory \"64\": below the minimum", parse_error("-m", "64", "img"))
    end)

    it("--cpus 0 and --pids-limit -1 are no limit; bad values name the flag", function()
      assert.is_nil(parse("--cpus", "0", "img").cgroup)
      assert.are.same({ pids = "max" }, parse("--pids-limit", "-1", "img").cgroup)
      assert.are.same({ pids = "max" }, parse("--pids-limit", "0", "img").cgroup)
      assert.matches("^%-%-cpus \"%-1\": not a number", parse_error("--cpus", "-1", "img"))
      assert.matches("^%-%-cpus \"0.001\": cpu 0.001 gives a quota", parse_error("--cpus", "0.001", "img"))
      assert.matches("^%-%-pids%-limit \"x\"", parse_error("--pids-limit", "x", "img"))
      assert.matches("^%-%-cpuset%-cpus \"a%-b\": cpuset must be a CPU list", parse_error("--cpuset-cpus", "a-b", "img"))
    end)

    it("--cap-add and --cap-drop start from docker's 14, by docker's rules", function()
      local default = recipe.default_capabilities
      local function without(name)
        local t = {}
        for _, n in ipairs(default) do if n ~= name then t[#t + 1] = n end end
        return t
      end
      assert.is_nil(parse("img").capabilities)
      assert.are.same(without("chown"), parse("--cap-drop", "CHOWN", "img").capabilities)
      local plus = without("x")
      plus[#plus + 1] = "net_admin"
      assert.are.same(plus, parse("--cap-add", "NET_ADMIN", "img").capabilities)
      assert.are.same(plus, parse("--cap-add", "cap_net_admin", "img").capabilities)
      assert.are.same(plus, parse("--cap-add", "net_admin", "--cap-drop", "net_admin", "img").capabilities) -- an add wins
      assert.are.same({ "net_admin", "sys_time" },
        parse("--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "sys_time", "img").capabilities)
      assert.are.same({}, parse("--cap-drop", "all", "img").capabilities)
      local all = parse("--cap-add", "ALL", "--cap-drop", "MKNOD", "img").capabilities
      assert.are.equal(#ns.cap_names() - 1, #all)
      for _, n in ipairs(all) do assert.are_not.equal("mknod", n) end
      assert.matches("^%-%-cap%-add \"NET_ADMN\": unknown capability %(nearest: net_admin, ",
        parse_error("--cap-add", "NET_ADMN", "img"))
      assert.matches("^%-%-cap%-drop \"bogus\": unknown capability", parse_error("--cap-drop", "bogus", "img"))
    end)

    it("--entrypoint is one string; '' is an empty entrypoint", function()
      local t = parse("--entrypoint", "/bin/echo", "img", "a", "-n")
      assert.are.equal("/bin/echo", t.entrypoint)
      assert.are.same({ "a", "-n" }, t.args)
      assert.are.same({}, parse("--entrypoint", "", "img").entrypoint)
    end)

    it("--ulimit NAME=SOFT[:HARD] becomes rlimits, -1 unlimited", function()
      local t = parse("--ulimit", "nofile=1024:2048", "--ulimit", "core=0", "--ulimit", "nproc=-1", "--ulimit",
        "stack=8388608:-1", "img")
      assert.are.same({ nofile = { 1024, 2048 }, core = 0, nproc = "unlimited", stack = { 8388608, "unlimited" } }, t.rlimits)
      assert.matches("unknown limit 'nofiles' %(did you mean 'nofile'%?", parse_error("--ulimit", "nofiles=1", "img"))
      assert.matches("the soft limit is above the hard limit", parse_error("--ulimit", "nofile=10:5", "img"))
      assert.matches("not NAME=SOFT%[:HARD%]", parse_error("--ulimit", "nofile", "img"))
      assert.matches("\"x\" is not a whole number", parse_error("--ulimit", "nofile=x", "img"))
    end)

    it("--network none keeps the net namespace, host leaves it out (and takes the host's name)", function()
      local t = parse("--network", "host", "img")
      assert.are.same({ "pid", "mnt", "uts", "ipc", "cgroup" }, t.namespaces)
      assert.are.equal(ns.gethostname(), t.hostname)
      assert.are.equal("box", parse("--network", "host", "-h", "box", "img").hostname)
      assert.are.same({ "pid", "mnt", "uts", "ipc", "cgroup", "net" }, parse("--network", "none", "img").namespaces)
      assert.matches("^%-%-network \"bridge\": not supported %(valid: none, .*host", parse_error("--network", "bridge", "img"))
    end)

    it("--label, --stop-signal and --stop-timeout", function()
      local t = parse("-l", "a=1", "--label", "b", "--stop-signal", "SIGINT", "--stop-timeout", "3", "img")
      assert.are.same({ a = "1", b = "" }, t.labels)
      assert.are.equal("INT", t.stop_signal)
      assert.are.equal(3, t.stop_timeout)
      assert.are.equal("KILL", parse("--stop-signal", "9", "img").stop_signal)
      assert.matches("^%-%-stop%-signal \"BOGUS\" is not a signal", parse_error("--stop-signal", "BOGUS", "img"))
      assert.matches("^%-%-stop%-timeout \"%-1\"", parse_error("--stop-timeout", "-1", "img"))
    end)

    it("refuses an unknown flag with the nearest ones, a missing value, a missing image", function()
      assert.are.equal("unknown flag '--nmae' (did you mean '--name'?)", parse_error("--nmae", "x", "img"))
      assert.matches("^unknown flag '%-%-bogus' %(nearest: .*luactr run %-%-help", parse_error("--bogus", "img"))
      assert.matches("^unknown flag '%-x' %(short flags: %-d %-e %-h %-i", parse_error("-itx", "img"))
      assert.are.equal("flag '--memory' needs a value", parse_error("--memory"))
      assert.matches("^needs an IMAGE or a RECIPE.lua", parse_error("-i"))
      assert.matches("^needs an IMAGE or a RECIPE.lua", parse_error())
      assert.matches("flag '%-%-rm' does not take arguments", parse_error("--rm=1", "img"))
    end)

    it("makes tables that ns.recipe takes, every flag at once", function()
      local t = parse("-t", "--name", "all", "-e", "A=1", "-w", "/", "-u", "0:0", "-h", "h", "-v", "/tmp:/t:ro",
        "--tmpfs", "/s:size=1m", "--read-only", "-m", "64m", "--cpus", "1", "--pids-limit", "10", "--cpuset-cpus", "0",
        "--cap-drop", "ALL", "--cap-add", "kill", "--init", "--entrypoint", "/bin/echo", "--ulimit", "nofile=64",
        "--network", "none", "-l", "k=v", "--stop-signal", "INT", "--stop-timeout", "1", "img", "x")
      t.image = nil -- no store needed: the busybox rootfs
      local c = recipe.check(t)
      assert.are.same({ "/bin/echo", "x" }, c.args)
      assert.are.equal("all", c.name)
    end)

    describe("RECIPE.lua", function()
      local function recipe_file(src)
        local path = H.tmpfile(src)
        local lua = path .. ".lua"
        assert(os.rename(path, lua))
        H.defer(function() os.remove(lua) end)
        return lua
      end

      it("is the table the file returns, which the flags override", function()
        local path = recipe_file([[return { hostname = "rec", env = { "A=1", "B=2" }, mounts = { { type = "tmpfs", target = "/a" } },
          cgroup = { pids = 5 }, capabilities = { "KILL", "chown" }, namespaces = { "pid", "mnt", "net" }, args = { "sh" } }]])
        local t, o = parse("-e", "B=3", "--tmpfs", "/b", "-m", "64m", "--cap-drop", "chown", "--network", "host",
          path, "echo", "hi")
        assert.are.equal(path, o.recipe)
        assert.is_nil(o.image)
        assert.are.equal("rec", t.hostname)
        assert.are.same({ A = "1", B = "3" }, t.env)
        assert.are.equal(2, #t.mounts)
        assert.are.equal("/b", t.mounts[2].target)
        assert.are.same({ pids = 5, memory = "64M" }, t.cgroup)
        assert.are.same({ "kill" }, t.capabilities)
        assert.are.same({ "pid", "mnt" }, t.namespaces)
        assert.are.same({ "echo", "hi" }, t.args)
        assert.is_false(t.tty)
      end)

      it("leaves the file's own tables as they were", function()
        local path = recipe_file("T = T or { env = { A = '1' } }; return T")
        H.defer(function() _G.T = nil end)
        parse("-e", "A=2", path)
        assert.are.same({ A = "1" }, _G.T.env)
      end)

      it("must return a table, and load", function()
        assert.matches("returned nothing, not a container table", parse_error(recipe_file("local x = 1")))
        assert.matches("returned a string, not a container table", parse_error(recipe_file("return 'x'")))
        assert.matches(":1: .*near", parse_error(recipe_file("return {")))
        assert.matches(": boom", parse_error(recipe_file("error('boom', 0)")))
        assert.matches("^cannot open recipe /nonexistent/r.lua", parse_error("/nonexistent/r.lua"))
      end)
    end)
  end)
end)

describe("luactr run", function()
  H.guard()

  it("runs a command of the busybox image, its arguments untouched", function()
    assert.are.same({ "hi\n", 0 }, { run("busybox echo hi") })
    assert.are.same({ "-x --y -- -e z\n", 0 }, { run("busybox sh -c 'echo \"$@\"' sh -x --y -- -e z") })
  end)

  it("exits with the command's status, 127 for a command not found, 126 for one that cannot run", function()
    assert.are.same({ "", 7 }, { run("busybox sh -c 'exit 7'") })
    local out, code = run("busybox nosuchcommand")
    assert.are.equal(127, code)
    assert.matches("^luactr run: container \".-\": step %d+ %(exec nosuchcommand%): .*%(ENOENT%)\n$", out)
    out, code = run("busybox /etc/passwd")
    assert.are.equal(126, code)
    assert.matches("(EACCES)", out, 1, true)
    -- (PID 1 of a pid namespace cannot be killed from inside: --init's PID 2 can.)
    assert.are.same({ "", 137 }, { run("--init busybox sh -c 'kill -KILL $$'") })
  end)

  it("fails with 125 and one line naming the flag for a bad flag or value, or a missing image", function()
    local out, code = run("--nmae x busybox true")
    assert.are.same({ "luactr run: unknown flag '--nmae' (did you mean '--name'?)\n", 125 }, { out, code })
    out, code = run("--memory lots busybox true")
    assert.are.same({ "luactr run: --memory \"lots\": not a size (a number with b, k, m or g: 64m, 1.5g)\n", 125 }, { out, code })
    out, code = run("-v relative:/x busybox true")
    assert.are.equal(125, code)
    assert.matches("^luactr run: %-v \"relative:/x\": [^\n]*\n$", out)
    out, code = run("--network bridge busybox true")
    assert.are.equal(125, code)
    assert.matches("^luactr run: %-%-network \"bridge\": not supported [^\n]*none[^\n]*host[^\n]*\n$", out)
    out, code = run("nosuchimage true")
    assert.are.equal(125, code)
    assert.matches("^luactr run: image nosuchimage: not in the store %(.-busybox.-%)[^\n]*\n$", out)
    out, code = run("")
    assert.are.equal(125, code)
    assert.matches("^luactr run: needs an IMAGE or a RECIPE.lua", out)
  end)

  it("--help lists the flags", function()
    local out, code = run("--help")
    assert.are.equal(0, code)
    for _, f in ipairs(cli.FLAGS) do
      for _, n in ipairs(f.names) do assert.matches(n:gsub("%-", "%%-") .. "[ ,]", out) end
    end
  end)

  it("gives /dev/null as stdin without -i, and luactr's stdin with it", function()
    assert.are.same({ "", 0 }, { run("busybox cat", { input = "typed\n" }) })
    assert.are.same({ "typed\n", 0 }, { run("-i busybox cat", { input = "typed\n" }) })
  end)

  it("refuses -t without a terminal, as docker does", function()
    local out, code = run("-it busybox true")
    assert.are.equal(125, code)
    assert.matches("^luactr run: the input device is not a TTY", out)
    out, code = run("-t busybox true")
    assert.are.equal(125, code)
    assert.matches("^luactr run: the output device is not a TTY", out)
  end)

  it("-e and --env-file set the environment", function()
    local path = H.tmpfile("# vars\nFROM_FILE=f\nFROM_HOST\n")
    H.defer(function() os.remove(path) end)
    local out, code = run("-e A=1 -e FROM_HOST --env-file " .. path .. " busybox env",
      { env = "FROM_HOST=host" })
    assert.are.equal(0, code)
    assert.matches("\nA=1\n", "\n" .. out, 1, true)
    assert.matches("\nFROM_FILE=f\n", "\n" .. out, 1, true)
    assert.matches("\nFROM_HOST=host\n", "\n" .. out, 1, true)
  end)

  it("-w, -u and -h set the working directory, the user and the hostname", function()
    assert.are.same({ "/etc\n65534:65534\nbox\n", 0 },
      { run("-w /etc -u nobody -h box busybox sh -c 'pwd; echo $(id -u):$(id -g); hostname'") })
    assert.are.same({ "1000:0\n", 0 }, { run("-u 1000 busybox sh -c 'echo $(id -u):$(id -g)'") })
  end)

  it("-v binds a host directory, and a write to a read-only one fails", function()
    local dir = H.tmpdir("vol")
    H.defer(function() H.rmrf(dir) end)
    assert(ns.writefile(dir .. "/in", "from the host\n", { create = true }))
    local out, code = run(("-v %s:/data busybox sh -c 'cat /data/in; echo out > /data/out'"):format(dir))
    assert.are.same({ "from the host\n", 0 }, { out, code })
    assert.are.equal("out\n", ns.readfile(dir .. "/out"))
    out, code = run(("-v %s:/data:ro busybox sh -c 'cat /data/in; echo x > /data/x'"):format(dir))
    assert.are.equal(1, code)
    assert.matches("^from the host\n.*Read%-only file system", out)
    assert.is_nil(ns.stat(dir .. "/x"))
  end)

  it("--tmpfs mounts a tmpfs with its options; --read-only makes the root read-only", function()
    local out, code = run("--tmpfs /scratch:size=1m,mode=1700 busybox sh -c 'grep \" /scratch \" /proc/mounts; stat -c %a /scratch'")
    assert.are.equal(0, code)
    assert.matches("^tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,[^\n]*size=1024k[^\n]*mode=1700", out)
    assert.matches("\n1700\n$", out)
    out, code = run("--read-only busybox touch /x")
    assert.are.equal(1, code)
    assert.matches("Read-only file system", out, 1, true)
  end)

  it("--cap-drop and --cap-add change the bounding set", function()
    local function capbnd(flags)
      local out, code = run(flags .. " busybox grep CapBnd /proc/self/status")
      assert.are.equal(0, code, out)
      return tonumber(out:match("CapBnd:%s+(%x+)"), 16)
    end
    assert.are.equal(0, capbnd("--cap-drop ALL"))
    assert.are.equal(1 << 12, capbnd("--cap-drop ALL --cap-add NET_ADMIN")) -- CAP_NET_ADMIN is 12
    local default = capbnd("")
    assert.are.equal(default & ~(1 << 13), capbnd("--cap-drop net_raw")) -- CAP_NET_RAW is 13
  end)

  it("--ulimit sets rlimits", function()
    assert.are.same({ "100\n200\n", 0 }, { run("--ulimit nofile=100:200 busybox sh -c 'ulimit -n; ulimit -Hn'") })
  end)

  it("--network none has only lo; host has the host's links", function()
    local function links(out)
      local t = {}
      for name in out:gmatch("\n%s*([%w%.%-_@]+):") do t[#t + 1] = name end
      return H.sorted(t)
    end
    local out, code = run("--network none busybox cat /proc/net/dev")
    assert.are.equal(0, code)
    assert.are.same({ "lo" }, links(out))
    out, code = run("--network host busybox cat /proc/net/dev")
    assert.are.equal(0, code)
    local host = assert(ns.readfile("/proc/net/dev"))
    assert.are.same(links(host), links(out))
  end)

  it("--memory and --pids-limit are the cgroup's limits, visible inside", function()
    local file = H.layout == "v2" and "memory.max" or "memory/memory.limit_in_bytes"
    local pids = H.layout == "v2" and "pids.max" or "pids/pids.max"
    assert.are.same({ "67108864\n50\n", 0 },
      { run(("--memory 64m --pids-limit 50 busybox cat /sys/fs/cgroup/%s /sys/fs/cgroup/%s"):format(file, pids)) })
  end)

  it("--init makes the reaper PID 1 and the command PID 2", function()
    local out, code = run("--init busybox sh -c 'echo $$; tr \"\\0\" \" \" </proc/1/cmdline'")
    assert.are.equal(0, code)
    assert.matches("^2\n[^\n]*luactr run %-%-rm %-%-init busybox", out)
    assert.are.same({ "1\n", 0 }, { run("busybox sh -c 'echo $$'") })
  end)

  it("luactr --plan run prints the ops of the table and runs nothing; --timings the steps", function()
    local out, code = H.run_luactr("--plan run -m 64m --name planned busybox ls -l /")
    assert.are.equal(0, code)
    assert.matches("^container \"planned\": %d+ ops\n", out)
    assert.matches("cgroup_create", out, 1, true)
    assert.matches("exec ls", out, 1, true)
    assert.matches('"argv":["ls","-l","/"]', out, 1, true)
    out, code = H.run_luactr("--plan run -t busybox sh")
    assert.are.equal(0, code)
    assert.matches("terminal (pty", out, 1, true)
    out, code = H.run_luactr("--timings run --rm busybox echo timed")
    assert.are.equal(0, code)
    assert.matches("^timed\n.-: timings\n.-exec echo\n.-total", out)
  end)

  it("runs a RECIPE.lua with the flags over it", function()
    local path = H.tmpfile('return { hostname = "rec", env = { A = "1" }, args = { "sh", "-c", "echo $(hostname) $A $B" } }')
    local lua = path .. ".lua"
    assert(os.rename(path, lua))
    H.defer(function() os.remove(lua) end)
    assert.are.same({ "rec 1 2\n", 0 }, { run("-e B=2 " .. lua) })
    assert.are.same({ "rec 1\n", 0 }, { run(lua .. " sh -c 'echo $(hostname) $A'") })
  end)

  describe("with an image's config", function()
    local base, layout, root

    local function irun(args, opts)
      opts = opts or {}
      opts.env = "LUACTR_ROOT=" .. q(root) .. " " .. (opts.env or "")
      return run(args, opts)
    end

    setup(function()
      base = H.tmpdir("run-base")
      require("ns.rootfs").build_busybox(base)
      layout = H.tmpdir("run-layout")
      root = H.tmpdir("run-root")
      oci.layout(layout, { layers = { base }, config = {
        Env = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "A=image", "B=image" },
        Entrypoint = { "/bin/sh", "-c", 'echo "ep: $*"; echo "A=$A B=$B"; pwd; id -u', "sh" },
        Cmd = { "echo", "from-cmd" },
        WorkingDir = "/etc", User = "nobody",
      } })
      local out, code = H.run_luactr("image import " .. q(layout) .. " spec/run:1", { env = "LUACTR_ROOT=" .. q(root) })
      assert(code == 0, out)
    end)

    teardown(function()
      for _, d in ipairs({ base, layout, root }) do if d then H.rmrf(d) end end
    end)

    it("runs Entrypoint with Cmd, in WorkingDir, as User, with Env", function()
      assert.are.same({ "ep: echo from-cmd\nA=image B=image\n/etc\n65534\n", 0 }, { irun("spec/run:1") })
    end)

    it("CMD replaces Cmd; -e overrides Env key by key; -w and -u override WorkingDir and User", function()
      assert.are.same({ "ep: x -y\nA=flag B=image\n/\n0\n", 0 }, { irun("-e A=flag -w / -u 0 spec/run:1 x -y") })
    end)

    it("--entrypoint replaces Entrypoint and drops Cmd; '' keeps Cmd", function()
      assert.are.same({ "\n", 0 }, { irun("--entrypoint /bin/echo spec/run:1") })
      assert.are.same({ "a b\n", 0 }, { irun("--entrypoint /bin/echo spec/run:1 a b") })
      assert.are.same({ "from-cmd\n", 0 }, { irun("--entrypoint '' spec/run:1") })
    end)

    it("names the nearest images when one is missing", function()
      local out, code = irun("spec/rnu:1")
      assert.are.equal(125, code)
      assert.matches("^luactr run: [^\n]*not in the store %([^\n]*spec/run:1", out)
    end)
  end)

  describe("-it on a terminal", function()
    it("gets a prompt, a tty of its own, and exit's status", function()
      local term = T.start(H.luactr .. ' run --rm -it busybox sh; echo "[run exited $?]"')
      H.defer(function() term:close() end)
      term:wait_for("/ #")
      term:type("tty")
      term:keys("Enter")
      term:wait_for("\n/dev/pts/0\n")
      term:type("exit 3")
      term:keys("Enter")
      term:wait_for("%[run exited 3%]")
    end)
  end)
end)
