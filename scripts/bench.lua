--- bench.lua: `make bench` - start-to-exit of /bin/true in a fully isolated
-- busybox container, for luactr, the C floor (build/floor: only the
-- syscalls, in three modes: the least, luactr's default work, and that
-- plus luactr's cgroups) and whichever peers are installed (bwrap,
-- unshare, runc, crun), side by side in one run: 3 warm-ups each, then
-- BENCH_N (default 50) runs each, interleaved round by round, each round
-- in a new random order (a fixed rotation would always put the same row
-- before a given one; after a cgroup attach, the next one is fast for a
-- while, which would favour one cgroup row over the other). Each run is
-- one whole command, started with clone + exec and waited for (no shell
-- in the timed path). Then, every 10th round, 100 containers in a row:
-- from one luactr process, and as 100 bwrap commands.
-- Prints median, p10-p90 spread and the ratio to the floor, and at the
-- end luactr's ratios to the floors that do the same work, against the
-- target (1.3x).
-- Run from the tree root: lua5.4 scripts/bench.lua
-- Environment: BENCH_N (runs), BENCH_ONLY (comma-separated names to run;
-- the floor, and the floor a luactr row is compared with, always run),
-- BENCH_BASELINE (the top of another luactr tree, built, e.g. a worktree
-- of an earlier commit: its ./luactr runs the same recipe as one more row,
-- and the result says luactr's ratio to it), BENCH_SEED (the random
-- order's seed; default the time).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local ns = require "ns"
local rootfs = require "ns.rootfs"

local N = tonumber(os.getenv("BENCH_N") or "") or 50
local WARMUP = 3
local TARGET = 1.3
local SEQ = 100     -- containers in a row, in a "seq" row's one run
local SEQ_EVERY = 10 -- a "seq" row runs in every SEQ_EVERY-th round

local function sh(cmd)
  local p = io.popen(cmd, "r")
  if not p then return "", false end
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function first_line(s)
  s = (s or ""):gsub("^%s+", "")
  return (s:match("[^\n]*") or ""):sub(1, 160)
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The executable named name on PATH (plus the sbin dirs), or nil.
local function which(name)
  local path = (os.getenv("PATH") or "") .. ":/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
  for dir in path:gmatch("[^:]+") do
    local st = ns.stat(dir .. "/" .. name)
    if st and st.type == "file" then return dir .. "/" .. name end
  end
end

-- A small JSON encoder, enough for an OCI config (objects get sorted keys).
local function json(v, ind)
  ind = ind or ""
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t" })[c]
        or ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t == "number" or t == "boolean" then
    return tostring(v)
  end
  local inner, parts = ind .. "  ", {}
  if v[1] ~= nil then
    for _, x in ipairs(v) do parts[#parts + 1] = inner .. json(x, inner) end
    return "[\n" .. table.concat(parts, ",\n") .. "\n" .. ind .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = inner .. json(k) .. ": " .. json(v[k], inner) end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. ind .. "}"
end

-- The capabilities docker keeps, which are luactr's default too.
local CAPS = {
  "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
  "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
  "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

-- An OCI config like `runc spec`'s, adapted: /bin/true, no terminal, a
-- writable root, the six namespaces, docker's capabilities, the mounts
-- luactr makes by default (proc, sys read-only, a small /dev); no masked
-- paths and no /sys/fs/cgroup, which luactr does not do either.
local function oci_config(cgroup_path)
  return json {
    ociVersion = "1.0.2",
    process = {
      terminal = false,
      user = { uid = 0, gid = 0 },
      args = { "/bin/true" },
      env = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin" },
      cwd = "/",
      capabilities = { bounding = CAPS, effective = CAPS, permitted = CAPS },
      noNewPrivileges = true,
    },
    root = { path = "rootfs", readonly = false },
    hostname = "bench",
    mounts = {
      { destination = "/proc", type = "proc", source = "proc" },
      { destination = "/dev", type = "tmpfs", source = "tmpfs", options = { "nosuid", "strictatime", "mode=755", "size=65536k" } },
      { destination = "/dev/pts", type = "devpts", source = "devpts", options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } },
      { destination = "/dev/shm", type = "tmpfs", source = "shm", options = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
      { destination = "/dev/mqueue", type = "mqueue", source = "mqueue", options = { "nosuid", "noexec", "nodev" } },
      { destination = "/sys", type = "sysfs", source = "sysfs", options = { "nosuid", "noexec", "nodev", "ro" } },
    },
    linux = {
      cgroupsPath = cgroup_path,
      resources = { devices = { { allow = false, access = "rwm" } } },
      namespaces = {
        { type = "pid" }, { type = "network" }, { type = "ipc" },
        { type = "uts" }, { type = "mount" }, { type = "cgroup" },
      },
    },
  }
end

-- Timing: one run is clone, exec, wait, times times over (default once);
-- returns seconds, or nil and why.
local function run(argv, times)
  local t0 = ns.clock("monotonic")
  for _ = 1, times or 1 do
    local pid, pidfd = ns.clone({})
    if not pid then return nil, pidfd end
    if pid == 0 then
      ns.exec(argv[1], argv)
      ns._exit(127)
    end
    local st, err = ns.wait(pidfd)
    pidfd:close()
    if not st then return nil, err end
    if not (st.exited and st.code == 0) then
      return nil, ("%s ended with status %d"):format(argv[1], st.status)
    end
  end
  return ns.clock("monotonic") - t0
end

local function percentile(sorted, p)
  local x = 1 + (#sorted - 1) * p
  local i = math.floor(x)
  local f = x - i
  return sorted[i] + ((sorted[i + 1] or sorted[i]) - sorted[i]) * f
end

-- "0.8.0" out of "bubblewrap 0.8.0", "runc version 1.1.5+ds1", ...
local function version(cmd)
  return first_line((sh(cmd .. " 2>&1"))):match("%d+%.%d+[%.%d]*")
end

local function info()
  local kernel = first_line(ns.readfile("/proc/sys/kernel/osrelease"))
  local cpu = (ns.readfile("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"
  return ("date: %s   kernel: %s   nproc: %s\ncpu: %s"):format(
    os.date("!%Y-%m-%d %H:%M UTC"), kernel, first_line((sh("nproc"))), cpu)
end

-- Empty cgroups a runtime (or a floor that was killed) may leave under a
-- top-level "luactr-bench-*", with their groups one level below.
local function cgroup_leftovers(remove)
  local left = {}
  for _, h in ipairs(ns.listdir("/sys/fs/cgroup") or {}) do
    for _, name in ipairs(ns.listdir("/sys/fs/cgroup/" .. h) or {}) do
      if name:match("^luactr%-bench%-") then
        local p = "/sys/fs/cgroup/" .. h .. "/" .. name
        if remove then
          for _, sub in ipairs(ns.listdir(p) or {}) do
            local st = ns.stat(p .. "/" .. sub, "nofollow")
            if st and st.type == "dir" then ns.rmdir(p .. "/" .. sub) end
          end
        end
        if not (remove and ns.rmdir(p)) then left[#left + 1] = p end
      end
    end
  end
  return left
end

local function main(tmp)
  local image = rootfs.busybox()
  print("luactr bench: start-to-exit of /bin/true in a fully isolated busybox container")
  print(info())
  print(("runs: %d each after %d warm-ups, interleaved in random order; image %s\n"):format(N, WARMUP, image))

  local cands = {}
  local function add(c) cands[#cands + 1] = c end

  add { name = "floor", argv = { "build/floor", "-q", image, "1" },
        what = "C, the least: clone 6 ns, tmpfs on the state dir, overlay, /proc, pivot_root" }
  -- luactr's default seccomp program, as its cache holds it: the floors
  -- of luactr's rows read and install the same one (floor -s).
  local sec_op
  for _, o in ipairs(require("ns.container").plan {}) do if o.op == "seccomp" then sec_op = o end end
  local sec_file = require("ns.security.seccomp").cache_dir() .. "/" .. sec_op.key .. ".bpf"
  local function cached_program()
    if not ns.stat(sec_file) then sh("./luactr scripts/bench-true.lua >/dev/null 2>&1") end
    if not ns.stat(sec_file) then return "no compiled default seccomp program at " .. sec_file end
  end
  add { name = "floor -f", argv = { "build/floor", "-q", "-f", "-s", sec_file, image, "1" }, prepare = cached_program,
        what = "C, luactr's default work: report socketpair, clone3 5 ns (fork of a small C process; luactr's is "
          .. "a vfork), cgroup ns unshared by the child, keyring, "
          .. "nodev overlay on a tmpfs, /proc, /sys ro, /dev, 5 ro + 12 masked paths, pivot_root, "
          .. "hostname, close_range, 14 caps, no_new_privs, the default seccomp program read and installed" }
  add { name = "floor -f nosec", argv = { "build/floor", "-q", "-f", image, "1" },
        what = "floor -f without the seccomp program: the floor of luactr no seccomp" }
  add { name = "floor cgroup", argv = { "build/floor", "-q", "-c", "-s", sec_file, image, "1" }, prepare = cached_program,
        what = "floor -f plus luactr's cgroups: a group (below a parent) in each of the 9 hierarchies, "
          .. "cpuset copied, memory 64M, devices allow-list, joined by the child first, oom count read, removed; "
          .. "not luactr's flock and 5 stats reads; the seccomp program as floor -f" }
  add { name = "luactr", argv = { "./luactr", "scripts/bench-true.lua" }, floor = "floor -f",
        what = "ns.container defaults (bench-true.lua): the same work as floor -f" }
  add { name = "luactr no seccomp", argv = { "./luactr", "scripts/bench-noseccomp.lua" }, floor = "floor -f nosec",
        what = "the defaults with seccomp = false (bench-noseccomp.lua): what the luactr row pays for its filter "
          .. "(moby's profile, its program read from the cache and installed before exec, run on every later call)" }
  add { name = "luactr cgroup", argv = { "./luactr", "scripts/bench-cgroup.lua" }, floor = "floor cgroup",
        what = "the defaults plus cgroup = { memory = \"64M\" } (bench-cgroup.lua): the work of floor cgroup" }
  add { name = "luactr (lua5.4)", argv = { which("lua5.4") or "lua5.4", "-e",
          'package.path="lua/?.lua;lua/?/init.lua;"..package.path;package.cpath="build/?.so;"..package.cpath',
          "scripts/bench-true.lua" },
        what = "the same recipe run by stock lua5.4 instead of ./luactr" }
  add { name = "luactr run", argv = { "./luactr", "run", "--rm", "busybox", "/bin/true" },
        what = "luactr run --rm busybox /bin/true: docker run's path, as runc run's: a record (state dir, lock, "
          .. "name), a cgroup in each hierarchy, the image's overlay with its upper layer on disk, all removed" }
  local base = os.getenv("BENCH_BASELINE")
  if base and base ~= "" then
    add { name = "luactr @base", missing = not ns.stat(base .. "/luactr"), argv = { base .. "/luactr", "scripts/bench-true.lua" },
          what = "the same recipe, run by the luactr built in " .. base }
  end

  local bwrap = which("bwrap")
  local bwrap_argv = { bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
    "--unshare-cgroup", "--ro-bind", image, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true" }
  add { name = "bwrap", missing = not bwrap, version = bwrap and version(bwrap .. " --version"), argv = bwrap_argv,
        what = "read-only bind of the image (no overlay in bwrap 0.8), /proc, /dev" }

  local unshare = which("unshare")
  add { name = "unshare", missing = not unshare, version = unshare and version(unshare .. " --version"),
        argv = { unshare, "-fpmuinC", "--mount-proc", "--root=" .. image, "/bin/true" },
        what = "chroot into the image (no overlay, no pivot_root), /proc" }

  for _, rt in ipairs { "runc", "crun" } do
    local bin = which(rt)
    local c = { name = rt, missing = not bin, version = bin and version(bin .. " --version"),
                what = "OCI bundle on a copy of the image (no overlay), cgroups, /proc, /sys, /dev" }
    local bundle, id = tmp .. "/" .. rt, "luactr-bench-" .. rt
    c.argv = { bin, "--root", tmp .. "/" .. rt .. "-state", "run", "--bundle", bundle, id }
    -- The bundle: a copy of the image and config.json; its cgroup is
    -- /luactr-bench-<runtime> in every hierarchy, removed by the runtime.
    c.prepare = function()
      assert(ns.mkdir(bundle))
      assert(ns.mkdir(bundle .. "/rootfs"))
      -- image is a link to the store's layer: copy what it points at
      local _, ok = sh(("cp -a %s/. %s/rootfs"):format(quote(image), quote(bundle)))
      if not ok then return "cannot copy the image to " .. bundle end
      assert(ns.writefile(bundle .. "/config.json", oci_config("/" .. id), { create = true }))
    end
    add(c)
  end

  -- 100 in a row: luactr's own start paid once, against 100 bwraps.
  add { name = "luactr seq", argv = { "./luactr", "scripts/bench-seq.lua", tostring(SEQ) }, seq = SEQ,
        what = ("one luactr process running %d default containers in a row (bench-seq.lua)"):format(SEQ) }
  add { name = "bwrap seq", missing = not bwrap, argv = bwrap_argv, seq = SEQ, times_each = SEQ,
        what = ("%d bwrap commands in a row, as the bwrap row (clone + exec + wait each, no shell)"):format(SEQ) }

  local only = os.getenv("BENCH_ONLY")
  if only and only ~= "" then
    local keep = {}
    for n in only:gmatch("[^,]+") do keep[n] = true end
    keep.floor = true
    for _, c in ipairs(cands) do
      if keep[c.name] and c.floor then keep[c.floor] = true end
    end
    for i = #cands, 1, -1 do
      if not keep[cands[i].name] then table.remove(cands, i) end
    end
  end

  -- Warm-ups; the first one through a shell, to catch the reason a
  -- candidate fails.
  local live = {}
  for _, c in ipairs(cands) do
    local why = not c.missing and c.prepare and c.prepare()
    if c.missing then
      c.failed = "skipped: not installed"
    elseif why then
      c.failed = "failed: " .. why
    else
      local words = {}
      for i, a in ipairs(c.argv) do words[i] = quote(a) end
      local out, ok = sh(table.concat(words, " ") .. " 2>&1 </dev/null")
      if not ok then
        c.failed = "failed: " .. (out ~= "" and first_line(out) or "exit status not 0")
      elseif not c.seq then
        for _ = 2, WARMUP do
          local t, err = run(c.argv)
          if not t then c.failed = "failed: " .. tostring(err); break end
        end
      end
    end
    if not c.failed then
      c.times = {}
      live[#live + 1] = c
    end
  end

  -- Interleaved rounds, each in a random order (Fisher-Yates); the seq
  -- rows in every SEQ_EVERY-th round only (at least once).
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "") or os.time())
  for r = 1, N do
    local order = {}
    for i = 1, #live do order[i] = live[i] end
    for i = #order, 2, -1 do
      local j = math.random(i)
      order[i], order[j] = order[j], order[i]
    end
    for _, c in ipairs(order) do
      if not c.failed and (not c.seq or r % SEQ_EVERY == 0 or (r == N and #c.times == 0)) then
        local t, err = run(c.argv, c.times_each)
        if t then
          c.times[#c.times + 1] = t
        else
          c.failed = ("failed on run %d: %s"):format(r, tostring(err))
        end
      end
    end
  end

  -- The equal floor's own view: the syscalls without the exec of build/floor.
  local inproc
  local eq
  for _, c in ipairs(cands) do if c.name == "floor -f" then eq = c end end
  if eq and eq.times and not eq.failed then
    local out, ok = sh(("build/floor -f %s %d"):format(quote(image), N))
    if ok then
      inproc = { name = "floor -f inproc", times = {},
                 what = "floor -f on build/floor's own clock: no fork+exec of the command" }
      for l in out:gmatch("%d+") do inproc.times[#inproc.times + 1] = tonumber(l) / 1e6 end
    end
  end

  local floor
  for _, c in ipairs(cands) do
    if c.times and not c.failed then
      table.sort(c.times)
      c.median = percentile(c.times, 0.5)
    end
  end
  floor = cands[1].median
  if inproc then
    table.sort(inproc.times)
    inproc.median = percentile(inproc.times, 0.5)
  end

  print(("%-20s %9s %15s %8s   %s"):format("name", "median ms", "p10-p90 ms", "x floor", "what"))
  local function row(c)
    local name = c.name .. (c.version and " " .. c.version or "")
    if c.median then
      local ratio = floor and ("%.2f"):format(c.median / floor) or "-"
      print(("%-20s %9.2f %7.2f-%-7.2f %8s   %s"):format(name, c.median * 1e3,
        percentile(c.times, 0.1) * 1e3, percentile(c.times, 0.9) * 1e3, ratio, c.what))
    else
      print(("%-20s %s"):format(name, c.failed or "failed"))
    end
  end
  local by = {}
  for _, c in ipairs(cands) do
    by[c.name] = c
    if not c.seq then row(c) end
  end
  if inproc then row(inproc) end

  local seqs = {}
  for _, c in ipairs(cands) do if c.seq then seqs[#seqs + 1] = c end end
  if #seqs > 0 then
    print(("\n%d containers in a row, one run every %d rounds:"):format(SEQ, SEQ_EVERY))
    print(("%-20s %8s %15s %8s   %s"):format("name", "median s", "p10-p90 s", "ms each", "what"))
    for _, c in ipairs(seqs) do
      if c.median then
        print(("%-20s %8.3f %7.3f-%-7.3f %8.2f   %s; runs: %d"):format(c.name, c.median,
          percentile(c.times, 0.1), percentile(c.times, 0.9), c.median / c.seq * 1e3, c.what, #c.times))
      else
        print(("%-20s %s"):format(c.name, c.failed or "failed"))
      end
    end
  end

  -- The targets: each luactr row against the floor that does its work.
  print()
  for _, name in ipairs { "luactr", "luactr no seccomp", "luactr cgroup" } do
    local l = by[name]
    local f = l and by[l.floor]
    if l and l.median and f and f.median then
      local ratio = l.median / f.median
      print(("target: %s / %s <= %.1fx: %.2fx, %s (p10 / p10: %.2fx)"):format(name, f.name, TARGET, ratio,
        ratio <= TARGET and "met" or "NOT met", percentile(l.times, 0.1) / percentile(f.times, 0.1)))
    elseif l then
      print(("target: %s / %s: not measured (%s)"):format(name, l.floor,
        not l.median and (l.failed or "failed") or (f and f.failed or "not run")))
    end
  end
  local ld, ln = by.luactr, by["luactr no seccomp"]
  if ld and ld.median and ln and ln.median then
    local ratio = ld.median / ln.median
    print(("target: luactr / luactr no seccomp <= 1.05x: %.2fx, %s (p10 / p10: %.2fx; the default filter's cost)"):format(
      ratio, ratio <= 1.05 and "met" or "NOT met", percentile(ld.times, 0.1) / percentile(ln.times, 0.1)))
  end
  local fs, fn = by["floor -f"], by["floor -f nosec"]
  if fs and fs.median and fn and fn.median then
    print(("floor -f / floor -f nosec: %.2fx (what the same program costs a start in C: the kernel's part)"):format(
      fs.median / fn.median))
  end
  local ls, bs = by["luactr seq"], by["bwrap seq"]
  if ls and ls.median and bs and bs.median then
    print(("luactr seq / bwrap seq: %.2fx (%d starts from one luactr against %d bwrap commands)"):format(
      ls.median / bs.median, SEQ, SEQ))
  end
  local lr, rc = by["luactr run"], by.runc
  if lr and lr.median and rc and rc.median then
    print(("luactr run / runc: %.2fx (a run with a record and cgroups, removed after, from the command line)"):format(
      lr.median / rc.median))
  end
  local l = by.luactr
  for _, c in ipairs(cands) do
    if c.name == "luactr @base" and c.median and l and l.median then
      print(("luactr / luactr @base: %.2fx (the same recipe, this tree's luactr against %s's)"):format(l.median / c.median, base))
    end
  end
end

local tmp = rootfs.tempdir("bench")
local ok, err = xpcall(main, debug.traceback, tmp)
local cok, cerr = pcall(rootfs.remove_tree, tmp)
local left = cgroup_leftovers(true)
if #left > 0 then io.stderr:write("bench: cgroups left behind: " .. table.concat(left, " ") .. "\n") end
if not cok then io.stderr:write("bench: cleaning up: " .. tostring(cerr) .. "\n") end
if not ok then
  io.stderr:write("bench: " .. tostring(err) .. "\n")
  os.exit(1)
end
os.exit(cok and #left == 0)
