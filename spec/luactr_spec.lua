-- luactr, the runner: options, arg, errors, shipped commands, install,
-- `make run`.
local H = require "support.helper"
local T = require "support.tmux"
local ns = H.ns

describe("luactr", function()
  H.guard()

  it("-e prints the pid namespace id that readlink shows", function()
    local out, code = H.run_luactr([[-e 'print(require("ns").nsid("self","pid"))']])
    assert.are.equal(0, code)
    local link = ns.readlink("/proc/self/ns/pid")
    assert.are.equal(link:match("%[(%d+)%]") .. "\n", out)
  end)

  it("runs a recipe with arg and ... set as lua5.4 does", function()
    local out, code = H.recipe("print(arg[0] == ..., arg[1], arg[2], select('#', ...))", { args = "a b" })
    assert.are.equal(0, code)
    assert.are.equal("false\ta\tb\t2\n", out)
  end)

  it("exits 1 with file:line on a syntax error", function()
    local out, code, path = H.recipe("x = = 1\n")
    assert.are.equal(1, code)
    assert.matches(path .. ":1: unexpected symbol near '='", out, 1, true)
  end)

  it("exits 1 naming a missing file", function()
    local out, code = H.run_luactr("/nonexistent/recipe.lua")
    assert.are.equal(1, code)
    assert.matches("cannot open /nonexistent/recipe.lua", out, 1, true)
  end)

  it("prints a recipe's error, with a traceback only under LUACTR_DEBUG=1", function()
    local path = H.tmpfile("local function f() error('boom') end\nf()\n")
    finally(function() os.remove(path) end)
    local out, code = H.run_luactr(path)
    assert.are.equal(1, code)
    assert.matches(":1: boom", out, 1, true)
    assert.not_matches("stack traceback", out, 1, true)
    out = H.run_luactr(path, { env = "LUACTR_DEBUG=1" })
    assert.matches("stack traceback", out, 1, true)
  end)

  it("passes os.exit codes through", function()
    local _, code = H.run_luactr([[-e 'os.exit(42)']])
    assert.are.equal(42, code)
  end)

  it("-i reads and prints expressions, with ns loaded", function()
    local out, code = H.run_luactr("-i", { input = "1 + 2\nns.getpid() > 0\n" })
    assert.are.equal(0, code)
    assert.matches("3\n", out, 1, true)
    assert.matches("true\n", out, 1, true)
  end)

  it("reads a recipe from stdin with -", function()
    local out, code = H.run_luactr("-", { input = "print('from stdin')" })
    assert.are.equal(0, code)
    assert.are.equal("from stdin\n", out)
  end)

  it("--version, --help, and an unknown option", function()
    local out, code = H.run_luactr("--version")
    assert.are.equal(0, code)
    assert.matches("^luactr %d+%.%d+%.%d+ %(Lua 5%.4", out)
    out, code = H.run_luactr("--help")
    assert.are.equal(0, code)
    assert.matches("--plan", out, 1, true)
    out, code = H.run_luactr("--bogus")
    assert.are.equal(1, code)
    assert.matches("unrecognized option '--bogus'", out, 1, true)
  end)

  it("--timings prints the steps a failed start got through, then the step that failed", function()
    local path = H.tmpfile([[require("ns.container").run{ name = "tfail", tty = false, args = { "/bin/true" },
      mounts = { { type = "nosuchfs", target = "/x", mkdir = true } } }]])
    finally(function() os.remove(path) end)
    local out, code = H.run_luactr("--timings " .. path)
    assert.are.equal(1, code, out)
    local n = 0
    for _ in out:gmatch("\n%s*%d+  %a+ +[%d.]+ ms  ") do n = n + 1 end
    assert.is_true(n >= 5, out)
    assert.matches('^container "tfail": timings %(the start failed%)\n', out)
    assert.matches("\n%s*%d+  %a+ +[%d.]+ ms  minimal /dev[^\n]*\n%s*%d+  child +failed +mount nosuchfs on /x\n", out)
    assert.matches("\n +total +[%d.]+ ms %(start to failure%)\nluactr: container \"tfail\": step %d+ %(mount nosuchfs", out)
  end)

  it("runs shipped commands by name (luactr gc)", function()
    local out, code = H.run_luactr("gc")
    assert.are.equal(0, code, out)
    assert.matches("luactr gc: nothing to remove", out, 1, true)
  end)

  it("prefers a precompiled (stripped) module only while it is not older than its source, and not under LUACTR_DEBUG", function()
    local dir = H.tmpdir("bc")
    finally(function() H.rmrf(dir) end)
    -- A copy of the runner with its lua/ beside it; sources first, so the
    -- bytecode is newer.
    local _, code = H.sh(("mkdir -p %s/build/lua/ns && cp luactr %s/ && cp -r lua %s/ && sleep 0.01 && cp build/lua/ns/*.luac %s/build/lua/ns/ && cp build/lua/bundle.luac %s/build/lua/")
      :format(dir, dir, dir, dir, dir))
    assert.are.equal(0, code)
    local probe = ("%s/luactr -e 'print(debug.getinfo(require(\"ns.container\").run, \"S\").source)'"):format(dir)
    -- The bytecode is stripped: it names no source.
    assert.are.equal("=?\n", (H.sh(probe)))
    -- LUACTR_DEBUG=1 loads the source, for tracebacks with lines.
    assert.are.equal("@" .. dir .. "/lua/ns/container.lua\n", (H.sh("LUACTR_DEBUG=1 " .. probe)))
    -- A newer source wins over the stale bytecode, in the bundle too.
    local src = dir .. "/lua/ns/container.lua"
    assert(ns.writefile(src, assert(ns.readfile(src))))
    assert.are.equal("@" .. src .. "\n", (H.sh(probe)))
    -- Without the per-module file, the bundle alone serves a fresh module.
    assert(ns.unlink(dir .. "/build/lua/ns/plan.luac"))
    local p2 = ("%s/luactr -e 'print(debug.getinfo(require(\"ns.plan\").ops, \"S\").source)'"):format(dir)
    assert.are.equal("=?\n", (H.sh(p2)))
    assert(ns.unlink(dir .. "/build/lua/bundle.luac"))
    assert.are.equal("@" .. dir .. "/lua/ns/plan.lua\n", (H.sh(p2)))
  end)
end)

describe("make install", function()
  H.guard()

  it("installs a tree where plain lua5.4 finds ns from /", function()
    local dest = H.tmpdir("install")
    finally(function() H.rmrf(dest) end)
    local out, code = H.sh(("make -s install DESTDIR=%s PREFIX=/usr/local 2>&1"):format(dest))
    assert.are.equal(0, code, out)
    -- lua5.4's default paths, rebased under DESTDIR.
    local env = ("LUA_PATH='%s/usr/local/share/lua/5.4/?.lua;%s/usr/local/share/lua/5.4/?/init.lua' LUA_CPATH='%s/usr/local/lib/lua/5.4/?.so'")
      :format(dest, dest, dest)
    out, code = H.sh(("cd / && %s lua5.4 -e 'local ns = require \"ns\"; print(ns.nsid(\"self\", \"pid\"), type(ns.container.run))' 2>&1"):format(env))
    assert.are.equal(0, code, out)
    assert.matches("^%d+\tfunction\n$", out)
    assert.is_table(ns.stat(dest .. "/usr/local/bin/luactr"))
  end)

  it("gives, whatever was built before, a luactr that runs busybox.lua from / with the prefix's modules", function()
    local dest = H.tmpdir("prefix")
    finally(function() H.rmrf(dest) end)
    -- `make` has built already, for the default prefix.
    local out, code = H.sh(("make -s install PREFIX=%s 2>&1"):format(dest))
    assert.are.equal(0, code, out)
    local bin = dest .. "/bin/luactr"
    out, code = H.sh(("cd / && %s %s/examples/busybox.lua /bin/sh -c 'echo ok' </dev/null 2>&1"):format(bin, H.root))
    assert.are.equal(0, code, out)
    assert.are.equal("ok\n", out)
    -- The modules come from the prefix, as bytecode while it is fresh; the
    -- sources under LUACTR_DEBUG; shipped commands too.
    local where = [[-e 'print(package.searchpath("ns.container", package.path))']]
    out = H.sh(("cd / && %s %s 2>&1"):format(bin, where))
    assert.are.equal(dest .. "/share/lua/5.4/ns/container.lua\n", out)
    local src = [[-e 'print(debug.getinfo(require("ns.container").run, "S").source)']]
    assert.are.equal("=?\n", (H.sh(("cd / && %s %s 2>&1"):format(bin, src))))
    assert.are.equal("@" .. dest .. "/share/lua/5.4/ns/container.lua\n",
      (H.sh(("cd / && LUACTR_DEBUG=1 %s %s 2>&1"):format(bin, src))))
    out, code = H.sh(("cd / && %s gc 2>&1"):format(bin))
    assert.are.equal(0, code, out)
    -- uninstall leaves nothing of ours: not a file, not a directory.
    out, code = H.sh(("make -s uninstall PREFIX=%s 2>&1"):format(dest))
    assert.are.equal(0, code, out)
    assert.are.same({}, ns.listdir(dest))
  end)
end)

describe("make run", function()
  H.guard()

  it("reports the container shell's exit status as such, not as a make error", function()
    local term = T.start("make run; echo \"[make: $?]\"")
    finally(function() term:close() end)
    -- The busybox shell, once make has checked the packages, the build
    -- and the image.
    term:wait_for("\n/ #\n", 120)
    term:type("echo in''side; exit 3")
    term:keys("Enter")
    local s = term:wait_for("%[make: %d+%]", 30)
    assert.matches("\ninside\r?\n", s)
    assert.matches("the shell in the container exited with status 3", s, 1, true)
    assert.not_matches("Error 3", s, 1, true)
    assert.matches("[make: 0]", s, 1, true)
  end)
end)
