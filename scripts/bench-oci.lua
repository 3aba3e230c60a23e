-- bench-oci.lua: luactr-oci against the other OCI runtimes here, in one
-- run (make bench; run from the tree's top as root):
--
--   run /bin/true   luactr-oci, runc and crun `run` the same bundle (a copy
--                   of the busybox tree, `luactr-oci spec`'s config with
--                   /bin/true and no terminal): create, start, wait,
--                   delete. Targets: luactr-oci <= 0.5x runc, <= 1.0x crun
--                   where crun runs (it refuses this hybrid host's cgroups).
--   podman x N      N `podman run --rm IMAGE /bin/true` in a row (N =
--                   BENCH_PODMAN_SEQ, 100), --runtime luactr-oci and runc,
--                   podman's storage and config the specs' (vfs, cgroupfs,
--                   no network). Target: <= 0.9x.
--   create RSS      the peak resident set of `create` (GNU time's %M: the
--                   command and what it waited for) and, once created, of
--                   the held process (luactr's fork; runc's `runc init`).
--                   Target: luactr-oci <= runc.
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local ns = require "ns"
local H = require "support.helper"

local fmt = string.format
local ROUNDS = tonumber(os.getenv("BENCH_OCI_ROUNDS")) or 20
local SEQ = tonumber(os.getenv("BENCH_PODMAN_SEQ")) or 100

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function which(n)
  local out = H.sh("command -v " .. n .. " 2>/dev/null")
  return out:match("^(%S+)")
end

-- Seconds for argv (clone, exec, wait), or nil and why.
local function run(argv)
  local t0 = ns.clock("monotonic")
  local pid, pidfd = ns.clone({})
  if pid == 0 then
    local null = ns.open("/dev/null", { "rdwr" })
    for fd = 0, 2 do ns.dup2(null, fd) end
    ns.exec(argv[1], argv)
    ns._exit(127)
  end
  local st = ns.wait(pidfd)
  pidfd:close()
  if not (st and st.exited and st.code == 0) then return nil, argv[1] .. " failed" end
  return ns.clock("monotonic") - t0
end

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

local tmp = ns.mkdtemp("/tmp/luactr-bench-oci-XXXXXX")
local runtimes = {
  { name = "luactr-oci", bin = H.root .. "/luactr-oci" },
  { name = "runc", bin = which("runc") },
  { name = "crun", bin = which("crun") },
}

local function bundle(name)
  local b = tmp .. "/" .. name
  assert(ns.mkdir(b))
  local src = require("ns.rootfs").busybox()
  assert(select(2, H.sh(fmt("cp -a \"$(readlink -f %s)\" %s/rootfs", q(src), q(b)))) == 0)
  local cfg = require("ns.oci.spec").default(false)
  cfg.process.terminal, cfg.process.args, cfg.root.readonly = false, { "/bin/true" }, false
  assert(ns.writefile(b .. "/config.json", require("ns.state").encode(cfg, "config"), { create = true }))
  return b
end

local function main()
  print(fmt("bench-oci: %d rounds of run /bin/true after 3 warm-ups; %d podman runs in a row", ROUNDS, SEQ))
  print("  run /bin/true: BIN --root DIR run --bundle B ID of one bundle (busybox copy, luactr-oci spec's config, "
    .. "/bin/true): create, start, wait, delete")
  local by = {}
  for _, rt in ipairs(runtimes) do
    if not rt.bin then
      print(fmt("  %-11s skipped: not installed", rt.name))
    else
      local b = bundle(rt.name)
      local argv = { rt.bin, "--root", tmp .. "/" .. rt.name .. "-state", "run", "--bundle", b, "bench-" .. rt.name }
      local ok, why = run(argv)
      if not ok then
        print(fmt("  %-11s failed: %s (crun refuses hybrid cgroups)", rt.name, why))
      else
        for _ = 1, 2 do run(argv) end
        local times = {}
        for i = 1, ROUNDS do times[i] = assert(run(argv)) end
        rt.median = median(times)
        by[rt.name] = rt
        print(fmt("  %-11s median %.1f ms", rt.name, rt.median * 1000))
      end
    end
  end
  local l, r, c = by["luactr-oci"], by.runc, by.crun
  if l and r then
    local x = l.median / r.median
    print(fmt("target: luactr-oci run / runc run <= 0.5x: %.2fx, %s", x, x <= 0.5 and "met" or "NOT met"))
  end
  if l and c then
    local x = l.median / c.median
    print(fmt("target: luactr-oci run / crun run <= 1.0x: %.2fx, %s", x, x <= 1.0 and "met" or "NOT met"))
  else
    print("target: luactr-oci run / crun run: not measured (crun did not run here)")
  end

  -- Peak RSS of create, and of the held process.
  local time = which("time") and "/usr/bin/time"
  local rss = {}
  for _, rt in ipairs({ by["luactr-oci"], by.runc }) do
    if rt and time then
      local root = tmp .. "/" .. rt.name .. "-rss"
      local b = tmp .. "/" .. rt.name
      -- time's report into a file: the created process keeps the stdio
      -- it was given, and a pipe would wait for its end.
      local rep = tmp .. "/" .. rt.name .. "-rss.txt"
      H.sh(fmt("%s -o %s -f 'RSS %%M' %s --root %s create --bundle %s rss1 </dev/null >/dev/null 2>&1", time, q(rep),
        q(rt.bin), q(root), q(b)))
      local peak = tonumber((ns.readfile(rep) or ""):match("RSS (%d+)"))
      local st = H.sh(fmt("%s --root %s state rss1 2>/dev/null", q(rt.bin), q(root)))
      local pid = st:match('"pid":%s*(%d+)')
      local held = pid and (ns.readfile("/proc/" .. pid .. "/status") or ""):match("VmRSS:%s+(%d+)")
      H.sh(fmt("%s --root %s delete --force rss1 >/dev/null 2>&1", q(rt.bin), q(root)))
      rss[rt.name] = { peak = peak, held = tonumber(held) }
      print(fmt("  create RSS %-11s peak %s kB (the create command), held process %s kB", rt.name, tostring(peak),
        tostring(held)))
    end
  end
  if rss["luactr-oci"] and rss.runc and rss["luactr-oci"].peak and rss.runc.peak then
    local a, b = rss["luactr-oci"], rss.runc
    print(fmt("target: create peak RSS luactr-oci <= runc: %d kB vs %d kB, %s; held: %s kB vs %s kB", a.peak, b.peak,
      a.peak <= b.peak and "met" or "NOT met", tostring(a.held), tostring(b.held)))
  end

  -- podman x SEQ.
  if not which("podman") then
    print("podman: skipped: not installed")
    return
  end
  local pdir = tmp .. "/podman"
  assert(ns.mkdir(pdir))
  local env = require("support.podman").start(pdir)
  local ok, err = pcall(function()
    print(fmt("  podman x %d: for i in 1..%d: podman --runtime BIN run --rm %s /bin/true (one shell loop each)", SEQ, SEQ,
      require("support.podman").IMAGE))
    local t = {}
    for _, rt in ipairs({ by["luactr-oci"], by.runc }) do
      if rt then
        env.run(rt.bin, "run --rm " .. require("support.podman").IMAGE .. " /bin/true")
        local t0 = ns.clock("monotonic")
        local _, code = H.sh(fmt("i=0; while [ $i -lt %d ]; do %s --runtime %s run --rm %s /bin/true >/dev/null 2>&1 "
          .. "</dev/null || exit 1; i=$((i+1)); done", SEQ, env.base, q(rt.bin), require("support.podman").IMAGE))
        local dt = ns.clock("monotonic") - t0
        if code ~= 0 then
          print(fmt("  podman x %d %-11s failed", SEQ, rt.name))
        else
          t[rt.name] = dt
          print(fmt("  podman x %d %-11s %.2f s (%.0f ms a run)", SEQ, rt.name, dt, dt / SEQ * 1000))
        end
      end
    end
    if t["luactr-oci"] and t.runc then
      local x = t["luactr-oci"] / t.runc
      print(fmt("target: podman x %d luactr-oci / runc <= 0.9x: %.2fx, %s", SEQ, x, x <= 0.9 and "met" or "NOT met"))
    end
  end)
  env.stop({ by["luactr-oci"] and by["luactr-oci"].bin, by.runc and by.runc.bin })
  if not ok then error(err, 0) end
end

local ok, err = xpcall(main, debug.traceback)
require("ns.rootfs").remove_tree(tmp)
if not ok then
  io.stderr:write("bench-oci: ", tostring(err), "\n")
  os.exit(1)
end
