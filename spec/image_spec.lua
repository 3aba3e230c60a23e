-- image_spec.lua: images end to end, as a user runs them: `luactr image`
-- import (OCI layout, oci-archive, docker-archive), pull from a real
-- registry (Debian's docker-registry on loopback, pushed to with skopeo),
-- save, ls, rm, prune, and containers that run from them (image = ...).
-- The images come from spec/support/oci.lua (GNU tar, gzip, sha256sum,
-- skopeo), never from luactr's own image code. Every run uses a store of
-- its own (LUACTR_ROOT in a temp dir).
local H = require "support.helper"
local oci = require "support.oci"
local registry = require "support.registry"
local cjson = require "cjson"
local ns = H.ns

local sh, q = H.sh, oci.shquote

-- A busybox tree to build layers on (made once, in a temp dir).
local base, root

local function luactr(args, env)
  return H.run_luactr(args, { env = "LUACTR_ROOT=" .. q(root) .. " " .. (env or "") })
end

-- Run a container from image with args (a list), in this spec's store;
-- its output and exit status.
local function run(image, args, extra)
  local code = ("os.exit(require('ns.container').run{image = %q, args = %s%s}.status)"):format(image,
    args and ("{" .. table.concat((function() local t = {} for i, a in ipairs(args) do t[i] = ("%q"):format(a) end return t end)(), ",") .. "}") or "nil",
    extra and (", " .. extra) or "")
  return luactr("-e " .. q(code))
end

local function tree(files)
  local d = H.tmpdir("layer")
  for path, content in pairs(files) do
    local dir = path:match("^(.*)/[^/]+$")
    if dir then assert(ns.mkdir(d .. "/" .. dir, "0755", true)) end
    if content == "<dir>" then assert(ns.mkdir(d .. "/" .. path, "0755", true))
    else assert(ns.writefile(d .. "/" .. path, content, { create = true, mode = "0644" })) end
  end
  return d
end

local function store_layers()
  local t = ns.listdir(root .. "/store/layers") or {}
  table.sort(t)
  return t
end

local function assert_store_clean()
  assert.are.same({}, ns.listdir(root .. "/store/tmp") or {})
end

describe("luactr image", function()
  local temps = {}
  local function temp(prefix)
    local d = H.tmpdir(prefix)
    temps[#temps + 1] = d
    return d
  end

  setup(function()
    base = H.tmpdir("base")
    require("ns.rootfs").build_busybox(base)
    assert(ns.writefile(base .. "/etc/gone", "deleted by the upper layer\n", { create = true }))
    assert(ns.mkdir(base .. "/opt/data", "0755", true))
    for _, f in ipairs({ "x", "y" }) do assert(ns.writefile(base .. "/opt/data/" .. f, f, { create = true })) end
  end)

  teardown(function()
    if base then H.rmrf(base) end
  end)

  before_each(function()
    root = H.tmpdir("root")
  end)

  after_each(function()
    for _, d in ipairs(temps) do H.rmrf(d) end
    temps = {}
    H.rmrf(root)
  end)
  -- after the clean-up above (busted runs after_each in order)
  H.guard()

  -- A two-layer image: busybox (with /etc/gone, /opt/data/{x,y}) below an
  -- upper layer that deletes /etc/gone, makes /opt/data opaque with only
  -- new in it, and adds /hello.
  local function two_layers(dir, tag, compression)
    local upper = tree({ ["etc/.wh.gone"] = "", ["opt/data/.wh..wh..opq"] = "", ["opt/data/new"] = "new",
      hello = "hello from layer 2\n" })
    temps[#temps + 1] = upper
    return oci.layout(dir, { tag = tag or "1", layers = { base, upper }, compression = compression,
      config = { Env = { "FOO=from-image", "PATH=/bin:/usr/bin" }, Cmd = { "sh", "-c", "echo FOO=$FOO; id -u; pwd" },
        User = "nobody", WorkingDir = "/opt", Labels = { role = "spec" }, StopSignal = "SIGINT" } })
  end

  local function check_two_layers(name)
    local out, code = run(name, nil)
    assert.are.equal(0, code, out)
    assert.are.equal("FOO=from-image\n65534\n/opt\n", out)
    out, code = run(name, { "sh", "-c", "ls /opt/data; cat /hello; test -e /etc/gone && echo still-there; echo $FOO" },
      "user = 'root', env = { FOO = 'from-recipe' }")
    assert.are.equal(0, code, out)
    assert.are.equal("new\nhello from layer 2\nfrom-recipe\n", out)
    -- StopSignal and Labels reach the canonical table; the recipe's win
    out, code = luactr("-e " .. q(("local c = require('ns.recipe').check{image = %q, labels = {mine = 'x'}}; "
      .. "print(c.stop_signal, c.labels.role, c.labels.mine, c.cwd, c.args[1])"):format(name)))
    assert.are.equal(0, code, out)
    assert.are.equal("INT\tspec\tx\t/opt\tsh\n", out)
  end

  describe("import", function()
    it("reads an OCI layout directory; the container has its layers, whiteouts and config", function()
      local dir = temp("layout")
      two_layers(dir, "1")
      local out, code = luactr("image import " .. q(dir) .. " spec/two:1")
      assert.are.equal(0, code, out)
      assert.are.equal("docker.io/spec/two:1\n", out)
      -- zstd layers too
      local z = temp("zstd")
      two_layers(z, "1", "zstd")
      out, code = luactr("image import " .. q(z) .. " spec/zstd:1")
      assert.are.equal(0, code, out)
      check_two_layers("spec/zstd:1")
      out = luactr("image ls")
      assert.matches("\nspec/two%s+1%s+%x+%s+%S+%s+", out)
      check_two_layers("spec/two:1")
      assert_store_clean()
    end)

    it("reads an oci-archive and a docker-archive that skopeo wrote, named by what they carry", function()
      local dir = temp("layout")
      two_layers(dir, "1")   -- gzip: skopeo writes no zstd into a docker-archive
      local files = temp("archives")
      oci.oci_archive(dir, "1", files .. "/img.oci.tar")
      oci.docker_archive(dir, "1", files .. "/img.docker.tar", "spec/docker:2")
      local out, code = luactr("image import " .. q(files .. "/img.docker.tar"))
      assert.are.equal(0, code, out)
      assert.are.equal("docker.io/spec/docker:2\n", out)
      check_two_layers("spec/docker:2")
      out, code = luactr("image import " .. q(files .. "/img.oci.tar") .. " spec/oci:3")
      assert.are.equal(0, code, out)
      check_two_layers("spec/oci:3")
      -- the same layers: unpacked once
      assert.are.equal(2, #store_layers())
      assert_store_clean()
    end)

    it("stores a layer two images share once", function()
      local a, b = temp("a"), temp("b")
      local top1, top2 = tree({ one = "1" }), tree({ two = "2" })
      temps[#temps + 1], temps[#temps + 2] = top1, top2
      oci.layout(a, { layers = { base, top1 }, config = { Cmd = { "true" } } })
      oci.layout(b, { layers = { base, top2 }, config = { Cmd = { "true" } } })
      assert.are.equal(0, select(2, luactr("image import " .. q(a) .. " spec/a:1")))
      assert.are.equal(0, select(2, luactr("image import " .. q(b) .. " spec/b:1")))
      assert.are.equal(3, #store_layers())
      -- rm of one keeps the shared layer for the other
      local out, code = luactr("image rm spec/a:1")
      assert.are.equal(0, code, out)
      assert.matches("removed spec/a:1 %(1 layers", out)
      assert.are.equal(2, #store_layers())
      out, code = run("spec/b:1", { "cat", "/two" })
      assert.are.equal("2", out)
      assert.are.equal(0, code)
    end)

    it("runs an image of 120 layers (past mount(2)'s page of options)", function()
      local dir = temp("layout")
      local layers = { base }
      for i = 2, 120 do
        local l = tree({ [("l%03d"):format(i)] = tostring(i) })
        temps[#temps + 1] = l
        layers[i] = l
      end
      oci.layout(dir, { layers = layers, compression = "none", config = { Cmd = { "sh", "-c", "ls / | grep -c '^l[0-9]'; cat /l002 /l120" } } })
      local out, code = luactr("image import " .. q(dir) .. " spec/many:1")
      assert.are.equal(0, code, out)
      out, code = run("spec/many:1")
      assert.are.equal(0, code, out)
      assert.are.equal("119\n2120", out)
    end)
  end)

  describe("refuses hostile images, leaving nothing in the store or outside it", function()
    -- A layout of one layer made from the tar file tarball (gzip'd here).
    local function layout_of(dir, tarball, how)
      how = how or {}
      assert(ns.mkdir(dir .. "/blobs/sha256", "0755", true))
      local function blob(path, name)
        local hex = name or sh("sha256sum " .. q(path)):match("^(%x+)")
        local size = ns.stat(path).size
        assert(os.rename(path, dir .. "/blobs/sha256/" .. hex))
        return "sha256:" .. hex, size
      end
      local diff_id = "sha256:" .. sh("sha256sum " .. q(tarball)):match("^(%x+)")
      oci.run(("gzip -n -c %s >%s"):format(q(tarball), q(dir .. "/layer.gz")))
      if how.truncate then oci.run(("truncate -s %d %s"):format(how.truncate, q(dir .. "/layer.gz"))) end
      -- bad_digest: the blob is filed under a digest that is not its own;
      -- missing: the descriptor names a blob the layout does not have
      local ldigest, lsize = blob(dir .. "/layer.gz", how.bad_digest and ("0"):rep(64) or nil)
      if how.missing then ldigest = "sha256:" .. ("1"):rep(64) end
      if how.truncate then lsize = lsize + 1000 end
      local function put(t)
        local p = dir .. "/blob.json"
        assert(ns.writefile(p, cjson.encode(t), { create = true }))
        return blob(p)
      end
      local cdigest, csize = put({ architecture = oci.host_arch(), os = "linux", config = { Cmd = { "true" } },
        rootfs = { type = "layers", diff_ids = { diff_id } } })
      local mdigest, msize = put({ schemaVersion = 2, mediaType = oci.MANIFEST,
        config = { mediaType = oci.CONFIG, digest = cdigest, size = csize },
        layers = { { mediaType = oci.LAYER.gzip, digest = ldigest, size = lsize } } })
      assert(ns.writefile(dir .. "/oci-layout", '{"imageLayoutVersion":"1.0.0"}', { create = true }))
      assert(ns.writefile(dir .. "/index.json", cjson.encode({ schemaVersion = 2, manifests = {
        { mediaType = oci.MANIFEST, digest = mdigest, size = msize } } }), { create = true }))
    end

    local outside
    before_each(function() outside = temp("outside") end)

    local function refused(tarball, how, why)
      local dir = temp("hostile")
      layout_of(dir, tarball, how)
      local out, code = luactr("image import " .. q(dir) .. " spec/hostile:1")
      assert.are_not.equal(0, code)
      assert.matches("^luactr image import: ", out)
      assert(out:find(why, 1, true), out)
      assert.are.same({}, store_layers())
      assert_store_clean()
      assert.are.same({}, ns.listdir(outside))
      assert.is_nil(ns.stat(root .. "/store/images.json"))
      return out
    end

    it("a ../ path", function()
      local src = tree({ evil = "x" })
      temps[#temps + 1] = src
      local t = temp("tar") .. "/l.tar"
      oci.run(("tar -P -C %s --transform 's,^\\./evil,../../../../..%s/evil,' -cf %s ./evil"):format(q(src), outside, q(t)))
      refused(t, nil, "..")
    end)

    it("an absolute path", function()
      local src = tree({ evil = "x" })
      temps[#temps + 1] = src
      local t = temp("tar") .. "/l.tar"
      oci.run(("tar -P -C %s --transform 's,^\\./evil,%s/evil,' -cf %s ./evil"):format(q(src), outside, q(t)))
      refused(t, nil, outside .. "/evil")
    end)

    it("a symlink, then a file written through it", function()
      local d = temp("tars")
      local src = temp("src")
      assert(ns.symlink(outside, src .. "/link"))
      oci.run(("tar -C %s -cf %s ./link"):format(q(src), q(d .. "/l.tar")))
      H.rmrf(src .. "/link")
      assert(ns.mkdir(src .. "/link"))
      assert(ns.writefile(src .. "/link/evil", "x", { create = true }))
      oci.run(("tar -C %s -rf %s ./link/evil"):format(q(src), q(d .. "/l.tar")))
      refused(d .. "/l.tar", nil, "link")
    end)

    it("a symlink in a lower layer that an upper one writes through: each layer stays in its own directory", function()
      local lower, upper = temp("lower"), temp("upper")
      assert(ns.symlink(outside, lower .. "/escape"))
      assert(ns.mkdir(upper .. "/escape"))
      assert(ns.writefile(upper .. "/escape/evil", "x", { create = true }))
      local dir = temp("layout")
      oci.layout(dir, { tag = "1", layers = { base, lower, upper }, config = { Cmd = { "cat", "/escape/evil" } } })
      local out, code = luactr("image import " .. q(dir) .. " spec/layered:1")
      assert.are.equal(0, code, out)
      assert.are.same({}, ns.listdir(outside))
      out, code = run("spec/layered:1")
      assert.are.equal(0, code, out)
      assert.are.equal("x", out)
      assert.are.same({}, ns.listdir(outside))
    end)

    it("a blob whose digest is not its descriptor's, and a missing blob", function()
      local src = tree({ fine = "x" })
      temps[#temps + 1] = src
      local t = temp("tar") .. "/l.tar"
      oci.run(("tar -C %s -cf %s ."):format(q(src), q(t)))
      local out = refused(t, { bad_digest = true }, "layer sha256:" .. ("0"):rep(64) .. ": digest mismatch: the data is sha256:")
      out = refused(t, { missing = true }, "blobs/sha256/" .. ("1"):rep(64) .. ": No such file or directory (ENOENT)")
    end)

    it("a truncated blob", function()
      local src = tree({ big = ("0123456789"):rep(100000) })
      temps[#temps + 1] = src
      local t = temp("tar") .. "/l.tar"
      oci.run(("tar -C %s -cf %s ."):format(q(src), q(t)))
      refused(t, { truncate = 2000 }, "layer sha256:")
    end)
  end)

  describe("pull", function()
    local reg
    after_each(function() if reg then reg:stop() reg = nil end end)

    it("pulls from a loopback registry by tag and by digest, and runs it", function()
      reg = registry.start()
      local dir = temp("layout")
      local img = two_layers(dir, "1")
      reg:push(dir, "1", "spec/busybox:1")
      local name = reg.host .. "/spec/busybox:1"
      local out, code = luactr("image pull " .. name)
      assert.are.equal(0, code, out)
      assert.are.equal(name .. "\n", out) -- no progress line without a terminal
      check_two_layers(name)
      out, code = luactr("-e " .. q(("os.exit(require('ns.container').run{image=%q, args={'ls','/'}}.status)"):format(name)))
      assert.are.equal(0, code, out)
      assert.matches("hello\n", out)
      -- by digest: the layers are in the store, so nothing more is fetched
      local by_digest = reg.host .. "/spec/busybox@" .. img.manifest_digest
      out, code = luactr("image pull " .. by_digest)
      assert.are.equal(0, code, out)
      out, code = run(by_digest, { "cat", "/hello" })
      assert.are.equal(0, code, out)
      assert.are.equal("hello from layer 2\n", out)
    end)

    it("does not fetch again a layer the store has", function()
      reg = registry.start()
      local dir = temp("layout")
      local img = oci.layout(dir, { tag = "1", layers = { base }, config = { Cmd = { "true" } } })
      oci.layout(dir, { tag = "2", layers = { base }, config = { Cmd = { "false" } } })
      reg:push(dir, "1", "spec/b:1")
      reg:push(dir, "2", "spec/b:2")
      assert.are.equal(0, select(2, luactr("image pull " .. reg.host .. "/spec/b:1")))
      -- the layer's blob goes from the registry: a fetch of it would fail
      local hex = img.layers[1].digest:sub(8)
      local data = ("%s/storage/docker/registry/v2/blobs/sha256/%s/%s/data"):format(reg.dir, hex:sub(1, 2), hex)
      assert(ns.stat(data), "the registry's blob layout is not what this spec expects: " .. data)
      assert(os.remove(data))
      local out, code = luactr("image pull " .. reg.host .. "/spec/b:2")
      assert.are.equal(0, code, out)
      assert.are.equal(1, select(2, run(reg.host .. "/spec/b:2")))
    end)

    it("picks the host's platform from an image index", function()
      reg = registry.start()
      local dir = temp("layout")
      local mine, other = tree({ arch = "mine" }), tree({ arch = "other" })
      temps[#temps + 1], temps[#temps + 2] = mine, other
      local foreign = oci.host_arch() == "s390x" and "ppc64le" or "s390x"
      oci.index(dir, { { layers = { base, other }, architecture = foreign, config = { Cmd = { "cat", "/arch" } } },
        { layers = { base, mine }, config = { Cmd = { "cat", "/arch" } } } }, "multi")
      reg:push(dir, "multi", "spec/multi:1")
      assert.are.equal(0, select(2, luactr("image pull " .. reg.host .. "/spec/multi:1")))
      local out, code = run(reg.host .. "/spec/multi:1")
      assert.are.equal(0, code, out)
      assert.are.equal("mine", out)
      -- an index with no image for this host: the error lists what it has
      local d2 = temp("layout")
      oci.index(d2, { { layers = { base }, architecture = foreign, config = { Cmd = { "true" } } } }, "only")
      reg:push(d2, "only", "spec/foreign:1")
      out, code = luactr("image pull " .. reg.host .. "/spec/foreign:1")
      assert.are_not.equal(0, code)
      assert(out:find("no image for linux/" .. oci.host_arch() .. " in its index (it has: linux/" .. foreign .. ")", 1, true), out)
    end)

    it("shows a progress line on a terminal, and two pulls at once both file the image whole", function()
      reg = registry.start()
      local dir = temp("layout")
      oci.layout(dir, { tag = "1", layers = { base }, config = { Cmd = { "echo", "pulled" } } })
      reg:push(dir, "1", "spec/p:1")
      local name = reg.host .. "/spec/p:1"
      local term = require("support.tmux").start(("LUACTR_ROOT=%s %s image pull %s"):format(q(root), H.luactr, name))
      local ok, screen = pcall(term.wait_for, term, "layers 1/1, [%d.]+ MB, [%d.]+ MB/s", 20)
      term:close()
      assert(ok, screen)
      assert.are.equal(0, select(2, luactr("image rm " .. name)))
      -- two at once, in the background of one shell
      local out, code = H.sh(("cd %s && for i in 1 2; do LUACTR_ROOT=%s ./luactr image pull %s >%s/pull$i.out 2>&1 & done; wait"):format(
        q(H.root), q(root), name, q(dir)))
      assert.are.equal(0, code, out)
      for i = 1, 2 do assert.are.equal(name .. "\n", ns.readfile(dir .. "/pull" .. i .. ".out")) end
      assert.are.equal(1, #store_layers())
      assert_store_clean()
      assert.are.equal("pulled\n", (run(name)))
    end)

    it("names what the registry said for a missing tag", function()
      reg = registry.start()
      local out, code = luactr("image pull " .. reg.host .. "/spec/none:1")
      assert.are_not.equal(0, code)
      assert(out:find("manifest 1: HTTP 404 (MANIFEST_UNKNOWN", 1, true) or out:find("HTTP 404 (NAME_UNKNOWN", 1, true), out)
      assert_store_clean()
    end)

    it("with basic auth: refuses without credentials, pulls with auth.json or --creds", function()
      reg = registry.start({ auth = { user = "spec", password = "s3cret" } })
      local dir = temp("layout")
      oci.layout(dir, { tag = "1", layers = { base }, config = { Cmd = { "echo", "authed" } } })
      reg:push(dir, "1", "spec/private:1")
      local name = reg.host .. "/spec/private:1"
      local noauth = "REGISTRY_AUTH_FILE=/nonexistent XDG_RUNTIME_DIR=/nonexistent HOME=/nonexistent"
      local out, code = luactr("image pull " .. name, noauth)
      assert.are_not.equal(0, code)
      assert(out:find("asks for a user name and password", 1, true), out)
      out, code = luactr("image pull --creds spec:wrong " .. name, noauth)
      assert.are_not.equal(0, code)
      assert(out:find("401", 1, true), out)
      local auth = temp("auth") .. "/auth.json"
      assert(ns.writefile(auth, cjson.encode({ auths = { [reg.host] = { auth = require("ns.digest").base64_encode("spec:s3cret") } } }),
        { create = true, mode = "0600" }))
      out, code = luactr("image pull " .. name, "REGISTRY_AUTH_FILE=" .. q(auth))
      assert.are.equal(0, code, out)
      assert.are.equal("authed\n", (run(name)))
      assert.are.equal(0, select(2, luactr("image rm " .. name)))
      out, code = luactr("image pull --creds spec:s3cret " .. name, noauth)
      assert.are.equal(0, code, out)
    end)
  end)

  describe("busybox, save, inspect, prune", function()
    it("has luactr's own busybox:latest, made on first use, with Cmd sh", function()
      assert.are.equal("NAME   TAG   ID   SIZE   CREATED\n", (luactr("image ls")))
      local out, code = run("busybox", { "echo", "ok" })
      assert.are.equal(0, code, out)
      assert.are.equal("ok\n", out)
      out = luactr("image ls")
      assert.matches("\nbusybox%s+latest%s+%x+", out)
      out = luactr("image inspect busybox")
      local cfg = cjson.decode(out)
      assert.are.same({ "sh" }, cfg.config.Cmd)
      -- the recipe default (rootfs = "busybox") is the same layer
      assert.are.equal("link", ns.stat(root .. "/images/busybox/rootfs", "nofollow").type)
    end)

    it("saves an oci-archive that skopeo reads back, with the same digests", function()
      local dir = temp("layout")
      local img = two_layers(dir, "1")
      assert.are.equal(0, select(2, luactr("image import " .. q(dir) .. " spec/two:1")))
      local file = temp("save") .. "/two.tar"
      local out, code = luactr("image save spec/two:1 " .. q(file))
      assert.are.equal(0, code, out)
      out, code = sh("skopeo --insecure-policy inspect --raw oci-archive:" .. q(file) .. " 2>&1")
      assert.are.equal(0, code, out)
      local m = cjson.decode(out)
      assert.are.equal(img.config_digest, m.config.digest)
      assert.are.equal(img.layers[2].digest, m.layers[2].digest)
      local copy = temp("copy")
      out, code = sh(("skopeo --insecure-policy copy -q oci-archive:%s oci:%s:x 2>&1"):format(q(file), q(copy)))
      assert.are.equal(0, code, out)
    end)

    it("inspect and rm name a missing image and the nearest ones", function()
      local dir = temp("layout")
      oci.layout(dir, { tag = "1", layers = { base }, config = { Cmd = { "true" } } })
      assert.are.equal(0, select(2, luactr("image import " .. q(dir) .. " spec/alpha:1")))
      local out, code = luactr("image inspect spec/alpah:1")
      assert.are.equal(1, code)
      assert(out:find("image spec/alpah:1: not in the store", 1, true), out)
      assert(out:find("spec/alpha:1", 1, true), out)
      out, code = run("spec/nope:1")
      assert.are_not.equal(0, code)
      assert(out:find("image spec/nope:1: not in the store", 1, true), out)
    end)

    it("prune removes what no image uses and what an interrupted import left", function()
      local dir = temp("layout")
      oci.layout(dir, { tag = "1", layers = { base }, config = { Cmd = { "true" } } })
      assert.are.equal(0, select(2, luactr("image import " .. q(dir) .. " spec/p:1")))
      assert(ns.mkdir(root .. "/store/tmp/layer-leftover"))
      -- untag behind luactr's back: prune finds the layer unused
      assert(ns.writefile(root .. "/store/images.json", '{"version":1,"images":{}}'))
      local out, code = luactr("image prune")
      assert.are.equal(0, code, out)
      assert.matches("removed 1 layers and 3 blobs", out)
      assert.are.same({}, store_layers())
      assert_store_clean()
    end)
  end)
end)
