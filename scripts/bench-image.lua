--- bench-image.lua: `make bench`'s image rows, each luactr row beside a
-- peer that does the same work, measured in the same run, interleaved
-- round by round in a new random order:
--   import  `luactr image import DIR` of an OCI layout holding one ~50 MB
--           gzip layer, into an empty store (unpack, both sha256 digests
--           checked as it streams, the blob copied into the store, the
--           image filed), against `tar -xzf` of the same layer into an
--           empty directory (gunzip + extract, no digests, no copy).
--   pull    `luactr image pull` of a 3-layer image from a docker-registry
--           on loopback into an empty store, against `skopeo copy` of it
--           to a dir: (which fetches and checks the blobs) followed by
--           `tar -xzf` of its three layers into one directory.
--   start   a container of /bin/true from a 10-layer image, against the
--           same container from the busybox tree (the recipe default);
--           each run is one ./luactr -e command.
-- Targets: import and pull <= 1.2x, start <= 1.1x.
-- Environment: BENCH_IMAGE_N (rounds of import and pull, default 5),
-- BENCH_START_N (rounds of start, default 40), BENCH_ONLY (import,pull,start).
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local ns = require "ns"
local oci = require "support.oci"
local registry = require "support.registry"
local H = require "support.helper"

local fmt = string.format
local q = oci.shquote

local N = tonumber(os.getenv("BENCH_IMAGE_N") or "") or 5
local START_N = tonumber(os.getenv("BENCH_START_N") or "") or 40
local ONLY = {}
for w in (os.getenv("BENCH_ONLY") or "import,pull,start"):gmatch("[^,]+") do ONLY[w] = true end

local function sh(cmd)
  local out, code = H.sh("{ " .. cmd .. " ; } 2>&1")
  if code ~= 0 then error(fmt("bench-image: `%s` failed (%s): %s", cmd, tostring(code), out), 0) end
  return out
end

-- One run: clone, exec argv (with env, a list "K=V"), wait; seconds.
local function run(argv, env)
  local t0 = ns.clock("monotonic")
  local pid, pidfd = ns.clone({})
  if pid == 0 then
    -- what the commands print is not what is timed
    local null = ns.open("/dev/null", { "wronly" })
    if null then ns.dup2(null, 1) end
    ns.exec(argv[1], argv, env)
    ns._exit(127)
  end
  local st = ns.wait(pidfd)
  pidfd:close()
  local dt = ns.clock("monotonic") - t0
  if not (st.exited and st.code == 0) then
    error(fmt("bench-image: %s ended with status %d", table.concat(argv, " "), st.status), 0)
  end
  return dt
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

local function shuffle(t)
  for i = #t, 2, -1 do
    local j = math.random(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

local function env_with(extra)
  local out = {}
  for _, k in ipairs({ "PATH", "HOME", "TERM" }) do
    local v = os.getenv(k)
    if v then out[#out + 1] = k .. "=" .. v end
  end
  for _, kv in ipairs(extra or {}) do out[#out + 1] = kv end
  return out
end

-- A tree at dir made of the host's trees in sources (text and binaries,
-- as an image layer holds), taken in order until their gzip'd tar
-- reaches want bytes.
local function make_tree(dir, sources, want)
  local list = {}
  for _, src in ipairs(sources) do
    if ns.stat(src) then
      list[#list + 1] = q(src)
      local n = tonumber((sh(fmt("tar -cf - %s 2>/dev/null | gzip -c | wc -c", table.concat(list, " ")))))
      if n >= want then break end
    end
  end
  assert(ns.mkdir(dir, "0755", true))
  sh(fmt("tar -cf - %s 2>/dev/null | tar -xf - -C %s", table.concat(list, " "), q(dir)))
  return dir
end

local rows = {}
local function report(name, what, peer, mine, target, peer_what)
  local r = median(mine) / median(peer)
  rows[#rows + 1] = fmt("%-7s luactr %8.1f ms   peer %8.1f ms   ratio %.2fx (target <= %.1fx)\n        luactr: %s\n        peer:   %s",
    name, median(mine) * 1e3, median(peer) * 1e3, r, target, what, peer_what)
end

local function main(tmp)
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "") or os.time())
  local luactr = ns.getcwd() .. "/luactr"
  local base = tmp .. "/busybox"
  assert(ns.mkdir(base))
  require("ns.rootfs").build_busybox(base)

  if ONLY.import then
    -- One layer of ~50 MB gzip from the host's /usr.
    local t = make_tree(tmp .. "/big-tree", { "/usr/lib/python3.11", "/usr/share/vim", "/usr/lib/git-core",
      "/usr/share/perl", "/usr/lib/x86_64-linux-gnu/perl", "/usr/share/man", "/usr/share/locale", "/usr/share/doc",
      "/usr/lib/x86_64-linux-gnu" }, 48e6)
    local layout = tmp .. "/big-layout"
    local img = oci.layout(layout, { tag = "1", layers = { t }, config = { Cmd = { "true" } } })
    sh("rm -rf " .. q(t))
    local blob = layout .. "/blobs/sha256/" .. img.layers[1].digest:sub(8)
    local mine, peer = {}, {}
    for round = 1, N + 1 do
      for _, which in ipairs(shuffle({ "mine", "peer" })) do
        local dest = tmp .. "/dest"
        local dt
        if which == "mine" then
          dt = run({ luactr, "image", "import", layout, "bench/big:1" }, env_with({ "LUACTR_ROOT=" .. dest }))
        else
          assert(ns.mkdir(dest))
          dt = run({ "/bin/tar", "-xzf", blob, "-C", dest }, env_with())
        end
        sh("rm -rf " .. q(dest))
        if round > 1 then table.insert(which == "mine" and mine or peer, dt) end
      end
    end
    report("import", fmt("image import of a layout with one %.1f MB gzip layer into an empty store", ns.stat(blob).size / 1e6),
      peer, mine, 1.2, "tar -xzf of the same layer into an empty dir")
    print(rows[#rows])
  end

  if ONLY.pull then
    local reg = registry.start()
    local ok, err = pcall(function()
      local layers = {}
      for i, src in ipairs({ { "/usr/lib/python3.11", "/usr/share/perl" }, { "/usr/share/vim", "/usr/lib/git-core" },
        { "/usr/share/man", "/usr/lib/x86_64-linux-gnu/perl" } }) do
        layers[i] = make_tree(tmp .. "/p" .. i, src, 15e6)
      end
      local layout = tmp .. "/pull-layout"
      local img = oci.layout(layout, { tag = "1", layers = layers, config = { Cmd = { "true" } } })
      for _, l in ipairs(layers) do sh("rm -rf " .. q(l)) end
      reg:push(layout, "1", "bench/three:1")
      local name = reg.host .. "/bench/three:1"
      local total = 0
      for _, f in ipairs(ns.listdir(layout .. "/blobs/sha256")) do total = total + ns.stat(layout .. "/blobs/sha256/" .. f).size end
      -- skopeo's dir: names each blob by its digest (which the push kept)
      local peer_cmd = {
        fmt("skopeo --insecure-policy copy -q --src-tls-verify=false docker://%s dir:%s/skopeo-dir", name, tmp),
        fmt("mkdir %s/skopeo-out", tmp),
      }
      for _, l in ipairs(img.layers) do
        peer_cmd[#peer_cmd + 1] = fmt("tar -xzf %s/skopeo-dir/%s -C %s/skopeo-out", tmp, l.digest:sub(8), tmp)
      end
      peer_cmd = table.concat(peer_cmd, " && ")
      local mine, peer = {}, {}
      for round = 1, N + 1 do
        for _, which in ipairs(shuffle({ "mine", "peer" })) do
          local dt
          if which == "mine" then
            dt = run({ luactr, "image", "pull", "-q", name }, env_with({ "LUACTR_ROOT=" .. tmp .. "/pull-root" }))
            sh("rm -rf " .. q(tmp .. "/pull-root"))
          else
            dt = run({ "/bin/sh", "-c", peer_cmd }, env_with())
            sh(fmt("rm -rf %s/skopeo-dir %s/skopeo-out", q(tmp), q(tmp)))
          end
          if round > 1 then table.insert(which == "mine" and mine or peer, dt) end
        end
      end
      report("pull", fmt("image pull of a 3-layer image (%.1f MB of gzip blobs) from a loopback docker-registry into an empty store", total / 1e6),
        peer, mine, 1.2, "skopeo copy of it to a dir:, then tar -xzf of its 3 layers into one dir")
      print(rows[#rows])
    end)
    reg:stop()
    if not ok then error(err, 0) end
  end

  if ONLY.start then
    local root = tmp .. "/start-root"
    local layout = tmp .. "/ten-layout"
    local layers = { base }
    for i = 2, 10 do
      local d = tmp .. "/ten-" .. i
      assert(ns.mkdir(d))
      assert(ns.writefile(d .. "/layer" .. i, tostring(i), { create = true }))
      layers[i] = d
    end
    oci.layout(layout, { tag = "1", layers = layers, compression = "none", config = { Cmd = { "true" } } })
    local env = env_with({ "LUACTR_ROOT=" .. root })
    run({ luactr, "image", "import", layout, "bench/ten:1" }, env)
    run({ luactr, "-e", "require('ns.rootfs').busybox()" }, env)
    local cmds = {
      mine = { luactr, "-e", "os.exit(require('ns.container').run{image = 'bench/ten:1', args = {'/bin/true'}}.status)" },
      peer = { luactr, "-e", "os.exit(require('ns.container').run{args = {'/bin/true'}}.status)" },
    }
    local mine, peer = {}, {}
    for round = 1, START_N + 3 do
      for _, which in ipairs(shuffle({ "mine", "peer" })) do
        local dt = run(cmds[which], env)
        if round > 3 then table.insert(which == "mine" and mine or peer, dt) end
      end
    end
    report("start", "a container of /bin/true from a 10-layer image (image = 'bench/ten:1')", peer, mine, 1.1,
      "the same container from the busybox tree (rootfs default)")
    print(rows[#rows])
  end
end

local tmp = assert(ns.mkdtemp("/tmp/luactr-bench-image-XXXXXX"))
print("image rows (medians; N = " .. N .. " for import and pull, " .. START_N .. " for start):")
local ok, err = pcall(main, tmp)
sh("rm -rf " .. q(tmp))
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
