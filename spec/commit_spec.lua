-- commit_spec.lua: ns.image.commit as a user runs it: an overlayfs upper
-- dir made by hand (a new file, a changed one, a whiteout, an opaque
-- directory) becomes an image on busybox, which containers then run,
-- luactr image ls lists, skopeo reads and luactr image rm removes; its
-- errors; and image rm and prune, which spare what a container's record
-- names. Each spec has its own store (LUACTR_ROOT) and state root
-- (LUACTR_STATE) in temp dirs.
local H = require "support.helper"
local oci = require "support.oci"
local cjson = require "cjson"
local ns = H.ns

local q = oci.shquote

local root, state

local function luactr(args)
  return H.run_luactr(args, { env = ("LUACTR_ROOT=%s LUACTR_STATE=%s"):format(q(root), q(state)) })
end

-- v as Lua source: strings, numbers, booleans and tables of them.
local function lit(v)
  if type(v) == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if type(v) ~= "table" then return tostring(v) end
  local out = {}
  for i, x in ipairs(v) do out[i] = lit(x) end
  local keys = {}
  for k in pairs(v) do if type(k) == "string" then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = ("[%q] = %s"):format(k, lit(v[k])) end
  return "{" .. table.concat(out, ", ") .. "}"
end

-- ns.image.commit(t) in this spec's store: its output (the key and id on
-- two lines, or the error) and exit status.
local function commit(t)
  return luactr("-e " .. q("local key, id = require('ns.image').commit(" .. lit(t) .. "); print(key); print(id)"))
end

local function committed(t)
  local out, code = commit(t)
  assert.are.equal(0, code, out)
  local key, id = out:match("^(%S+)\n(sha256:%x+)\n$")
  assert(key, out)
  return key, id
end

-- A container from image (args: a list, or nil for the image's command):
-- its captured stdout (its stderr too when it failed) and status.
local function run(image, args)
  return luactr("-e " .. q(("local st = require('ns.container').run{image = %s, capture = true, args = %s}; "
    .. "io.write(st.stdout); if st.status ~= 0 then io.write(st.stderr or '') end; os.exit(st.status)")
    :format(lit(image), args and lit(args) or "nil")))
end

local function inspect(name)
  local out, code = luactr("image inspect " .. q(name))
  assert.are.equal(0, code, out)
  return cjson.decode(out)
end

local function listing(dir)
  local t = ns.listdir(dir) or {}
  table.sort(t)
  return t
end

local function store_layers() return listing(root .. "/store/layers") end
local function store_blobs() return listing(root .. "/store/blobs/sha256") end
local function assert_store_clean() assert.are.same({}, listing(root .. "/store/tmp")) end

local function images()
  local data = ns.readfile(root .. "/store/images.json")
  local keys = {}
  for k in pairs(data and cjson.decode(data).images or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- The busybox image's id, made on first use.
local function busybox_id()
  local out, code = luactr("-e " .. q("print(require('ns.image').resolve('busybox').id)"))
  assert.are.equal(0, code, out)
  return (out:gsub("\n$", ""))
end

-- An upper dir as a container's overlay leaves it: /hello new,
-- /etc/passwd changed, /bin/false deleted (a 0/0 character device),
-- /sbin made anew (opaque: none of the lower's entries show) with only
-- /sbin/only in it, and /opt/app/data new below a new directory.
local function upper_dir()
  local u = H.tmpdir("upper")
  assert(ns.mkdir(u .. "/etc", "0755"))
  assert(ns.mkdir(u .. "/bin", "0755"))
  assert(ns.mkdir(u .. "/sbin", "0755"))
  assert(ns.mkdir(u .. "/opt/app", "0755", true))
  assert(ns.writefile(u .. "/hello", "a new file\n", { create = true, mode = "0644" }))
  assert(ns.writefile(u .. "/etc/passwd", "root:x:0:0:committed:/root:/bin/sh\n", { create = true, mode = "0644" }))
  assert(ns.writefile(u .. "/sbin/only", "only\n", { create = true, mode = "0644" }))
  assert(ns.writefile(u .. "/opt/app/data", "data\n", { create = true, mode = "0644" }))
  assert(ns.mknod(u .. "/bin/false", "chr", "0000", 0, 0))
  oci.run("setfattr -n trusted.overlay.opaque -v y " .. q(u .. "/sbin"))
  return u
end

local PROBE = { "sh", "-c", "cat /hello /etc/passwd /opt/app/data; test -e /bin/false && echo false-is-there; "
  .. "test -x /bin/true && echo true-is-there; ls /sbin" }

describe("ns.image.commit", function()
  local temps = {}
  local function temp(d) temps[#temps + 1] = d return d end

  before_each(function()
    root, state = H.tmpdir("root"), H.tmpdir("state")
  end)

  after_each(function()
    for _, d in ipairs(temps) do H.rmrf(d) end
    temps = {}
    H.rmrf(root)
    H.rmrf(state)
  end)
  -- after the clean-up above (busted runs after_each in order)
  H.guard()

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.image.commit")
  end)

  describe("commit()", function()
    it("files an upper dir on busybox: its files, whiteouts and opaque dirs, Cmd and Env", function()
      local parent = busybox_id()
      -- the lower has what the upper hides
      local out = run("busybox", PROBE)
      assert.matches("false%-is%-there\n", out)
      assert.matches("\nhalt\n", out)
      local upper = temp(upper_dir())
      local key, id = committed({ upper = upper, parent = "busybox", name = "spec/commit:1", comment = "by hand",
        config = { Cmd = { "sh", "-c", "echo cmd: $FOO; pwd" }, Env = { "FOO=committed", "PATH=/bin:/sbin" } } })
      assert.are.equal("docker.io/spec/commit:1", key)
      out, code = run("spec/commit:1", PROBE)
      assert.are.equal(0, code, out)
      assert.are.equal("a new file\nroot:x:0:0:committed:/root:/bin/sh\ndata\ntrue-is-there\nonly\n", out)
      out, code = run("spec/commit:1")
      assert.are.equal(0, code, out)
      assert.are.equal("cmd: committed\n/\n", out)
      -- the config: the parent's, the new layer and its history entry last
      local cfg = inspect("spec/commit:1")
      local base = inspect(parent)
      assert.are.same({ "FOO=committed", "PATH=/bin:/sbin" }, cfg.config.Env)
      assert.are.equal(#base.rootfs.diff_ids + 1, #cfg.rootfs.diff_ids)
      assert.are.equal(base.rootfs.diff_ids[1], cfg.rootfs.diff_ids[1])
      assert(ns.stat(root .. "/store/layers/" .. cfg.rootfs.diff_ids[2]:sub(8)))
      local h = cfg.history[#cfg.history]
      assert.are.equal("luactr commit", h.created_by)
      assert.are.equal("by hand", h.comment)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", cfg.created)
      assert.are.equal(cfg.created, h.created)
      assert.are.equal(base.architecture, cfg.architecture)
      assert.are.equal(2, #store_layers())
      -- the id is the config's digest, what resolve gives a container
      local data = ns.readfile(root .. "/store/blobs/sha256/" .. id:sub(8))
      assert.are.equal(id, "sha256:" .. require("ns.digest").string(data))
      assert.are.same(cfg, cjson.decode(data))
      out = luactr("image ls")
      assert.matches("\nspec/commit%s+1%s+" .. id:sub(8, 19) .. "%s+%S+%s+just now\n", out)
      assert.matches("\nbusybox%s+latest%s+", out)
      assert_store_clean()
    end)

    it("writes an OCI manifest: skopeo reads the saved image, the new layer a gzip'd tar of OCI whiteouts", function()
      local upper = temp(upper_dir())
      local _, id = committed({ upper = upper, parent = "busybox", name = "spec/commit:1" })
      local file = temp(H.tmpdir("save")) .. "/img.tar"
      local out, code = luactr("image save spec/commit:1 " .. q(file))
      assert.are.equal(0, code, out)
      out, code = H.sh("skopeo --insecure-policy inspect --raw oci-archive:" .. q(file) .. " 2>&1")
      assert.are.equal(0, code, out)
      local m = cjson.decode(out)
      assert.are.equal(oci.MANIFEST, m.mediaType)
      assert.are.equal(oci.CONFIG, m.config.mediaType)
      assert.are.equal(id, m.config.digest)
      assert.are.equal(2, #m.layers)
      assert.are.equal(oci.LAYER.gzip, m.layers[2].mediaType)
      assert.are.equal("docker.io/library/busybox:latest", m.annotations["org.opencontainers.image.base.name"])
      -- the layer as GNU tar sees it: OCI's whiteout files, no device
      local blob = root .. "/store/blobs/sha256/" .. m.layers[2].digest:sub(8)
      assert.are.equal(m.layers[2].size, ns.stat(blob).size)
      out = oci.run("tar -tvzf " .. q(blob))
      assert.matches("bin/%.wh%.false\n", out)
      assert.matches("sbin/%.wh%.%.wh%.%.opq\n", out)
      assert.is_nil(out:find("\nc", 1, true))
      out, code = H.sh("tar -xOzf " .. q(blob) .. " etc/passwd 2>&1")
      assert.are.equal(0, code, out)
      assert.are.equal("root:x:0:0:committed:/root:/bin/sh\n", out)
    end)

    it("commits on a docker-archive's image: the manifest gives its docker layer types as OCI's", function()
      local tree = temp(H.tmpdir("tree"))
      require("ns.rootfs").build_busybox(tree)
      local layout = temp(H.tmpdir("layout"))
      oci.layout(layout, { tag = "1", layers = { tree }, config = { Cmd = { "true" } } })
      local archive = temp(H.tmpdir("archive")) .. "/docker.tar"
      oci.docker_archive(layout, "1", archive, "spec/docker:1")
      local out, code = luactr("image import " .. q(archive))
      assert.are.equal(0, code, out)
      -- what import filed: a docker manifest of an uncompressed docker layer
      local index = cjson.decode((ns.readfile(root .. "/store/images.json"))).images
      local mdigest = index["docker.io/spec/docker:1"].manifest
      local pm = cjson.decode((ns.readfile(root .. "/store/blobs/sha256/" .. mdigest:sub(8))))
      assert.are.equal("application/vnd.docker.distribution.manifest.v2+json", pm.mediaType)
      assert.are.equal("application/vnd.docker.image.rootfs.diff.tar", pm.layers[1].mediaType)
      local upper = temp(upper_dir())
      committed({ upper = upper, parent = "spec/docker:1", name = "spec/ondocker:1" })
      local file = temp(H.tmpdir("save")) .. "/img.tar"
      out, code = luactr("image save spec/ondocker:1 " .. q(file))
      assert.are.equal(0, code, out)
      out, code = H.sh("skopeo --insecure-policy inspect --raw oci-archive:" .. q(file) .. " 2>&1")
      assert.are.equal(0, code, out)
      local m = cjson.decode(out)
      assert.are.equal(oci.MANIFEST, m.mediaType)
      assert.are.equal(oci.CONFIG, m.config.mediaType)
      assert.are.same({ oci.LAYER.none, oci.LAYER.gzip }, { m.layers[1].mediaType, m.layers[2].mediaType })
      assert.are.equal(pm.layers[1].digest, m.layers[1].digest)
      out, code = run("spec/ondocker:1", PROBE)
      assert.are.equal(0, code, out)
      assert.matches("^a new file\n", out)
    end)

    it("keeps the parent's fields that are not given, stacks on an image named by id, and records the author", function()
      local a = temp(H.tmpdir("a"))
      assert(ns.mkdir(a .. "/opt"))
      assert(ns.writefile(a .. "/opt/a", "A", { create = true }))
      local _, id1 = committed({ upper = a, parent = "busybox", name = "spec/stack:1",
        config = { WorkingDir = "/opt", Labels = { role = "spec" }, StopSignal = "SIGINT", Entrypoint = { "sh", "-c" },
          Cmd = { "pwd; cat a" } } })
      local b = temp(H.tmpdir("b"))
      assert(ns.writefile(b .. "/b", "B", { create = true }))
      committed({ upper = b, parent = id1, name = "spec/stack:2", author = "Spec <spec@example.org>",
        config = { Cmd = { "pwd; cat a /b" }, Labels = { tier = "2" } } })
      local cfg = inspect("spec/stack:2")
      assert.are.same({ "sh", "-c" }, cfg.config.Entrypoint)
      assert.are.same({ "pwd; cat a /b" }, cfg.config.Cmd)
      assert.are.same({ tier = "2" }, cfg.config.Labels)
      assert.are.equal("/opt", cfg.config.WorkingDir)
      assert.are.equal("SIGINT", cfg.config.StopSignal)
      -- busybox's own Env stays: no commit here gave one
      assert.are.same(inspect("busybox").config.Env, cfg.config.Env)
      assert.are.equal(3, #cfg.rootfs.diff_ids)
      assert.are.equal("Spec <spec@example.org>", cfg.author)
      assert.are.equal("Spec <spec@example.org>", cfg.history[#cfg.history].author)
      assert.are.equal("luactr commit", cfg.history[#cfg.history - 1].created_by)
      local out, code = run("spec/stack:2")
      assert.are.equal(0, code, out)
      assert.are.equal("/opt\nAB", out)
    end)

    it("commits an empty upper dir as an empty layer", function()
      local empty = temp(H.tmpdir("empty"))
      committed({ upper = empty, parent = "busybox", name = "spec/empty" })
      local cfg = inspect("spec/empty:latest")
      assert.are.equal(2, #cfg.rootfs.diff_ids)
      -- an empty tar: its 10240 bytes of zeros
      assert.are.equal("sha256:84ff92691f909a05b224e1c56abb4864f01b4f8e3c854e4bb4c7baf1d3f6d652", cfg.rootfs.diff_ids[2])
      assert.are.same({ "sh" }, cfg.config.Cmd)
      assert.are.same({}, listing(root .. "/store/layers/" .. cfg.rootfs.diff_ids[2]:sub(8)))
      local out, code = run("spec/empty", { "cat", "/etc/passwd" })
      assert.are.equal(0, code, out)
      assert.matches("^root:", out)
      assert_store_clean()
    end)

    it("writes an empty list as [], given or the parent's", function()
      local empty = temp(H.tmpdir("empty"))
      committed({ upper = empty, parent = "busybox", name = "spec/lists:1", config = { Entrypoint = {}, Env = {} } })
      committed({ upper = empty, parent = "spec/lists:1", name = "spec/lists:2" })
      for _, name in ipairs({ "spec/lists:1", "spec/lists:2" }) do
        local out = luactr("image inspect " .. name)
        assert(out:find('"Entrypoint":[]', 1, true), out)
        assert(out:find('"Env":[]', 1, true), out)
        assert(out:find('"Cmd":["sh"]', 1, true), out)
      end
      local out, code = run("spec/lists:2", { "echo", "ran" })
      assert.are.equal(0, code, out)
      assert.are.equal("ran\n", out)
    end)

    it("runs an image that lists a layer twice: the same change committed again over its undoing", function()
      local add, del = temp(H.tmpdir("add")), temp(H.tmpdir("del"))
      assert(ns.writefile(add .. "/f", "1", { create = true }))
      assert(ns.mknod(del .. "/f", "chr", "0000", 0, 0))
      committed({ upper = add, parent = "busybox", name = "spec/twice:1" })
      committed({ upper = del, parent = "spec/twice:1", name = "spec/twice:2" })
      committed({ upper = add, parent = "spec/twice:2", name = "spec/twice:3" })
      local ids = inspect("spec/twice:3").rootfs.diff_ids
      assert.are.equal(4, #ids)
      assert.are.equal(ids[2], ids[4])
      local probe = { "sh", "-c", "cat /f 2>/dev/null || echo no-f" }
      assert.are.equal("no-f\n", (run("spec/twice:2", probe)))
      local out, code = run("spec/twice:3", probe)
      assert.are.equal(0, code, out)
      assert.are.equal("1", out)
    end)

    it("image rm removes it and leaves the parent whole", function()
      local upper = temp(upper_dir())
      busybox_id()
      local layers, blobs = store_layers(), store_blobs()
      committed({ upper = upper, parent = "busybox", name = "spec/commit:1" })
      assert.are.equal(#layers + 1, #store_layers())
      local out, code = luactr("image rm spec/commit:1")
      assert.are.equal(0, code, out)
      assert.are.equal("removed spec/commit:1 (1 layers, 3 blobs freed)\n", out)
      assert.are.same(layers, store_layers())
      assert.are.same(blobs, store_blobs())
      assert.are.same({ "docker.io/library/busybox:latest" }, images())
      out = run("busybox", PROBE)
      assert.matches("false%-is%-there\n", out)
      assert.is_nil(out:find("a new file", 1, true))
    end)

    it("README's example runs as written", function()
      local f = assert(io.open("README.md"))
      local doc = f:read("a")
      f:close()
      local snippet
      for block in doc:gmatch("```lua\n(.-)```") do
        if block:find('require("ns.image").commit{', 1, true) then snippet = block end
      end
      assert(snippet, "README.md has no commit example")
      local upper = temp(H.tmpdir("readme"))
      local src = snippet:gsub("/path/to/upper", upper) .. "\nprint(key, id)\n"
      local out, code = luactr("-e " .. q(src))
      assert.are.equal(0, code, out)
      assert.matches("^docker%.io/library/myapp:1\tsha256:%x+\n$", out)
      out, code = run("myapp:1")
      assert.are.equal(0, code, out)
      assert.are.equal("hi\n", out)
    end)

    describe("refuses, naming the thing and the reason, and files nothing", function()
      local function refused(t, want)
        local out, code = commit(t)
        assert.are.equal(1, code, out)
        assert(out:find(want, 1, true), out)
        for _, k in ipairs(images()) do assert.are.equal("docker.io/library/busybox:latest", k) end
        assert_store_clean()
        return out
      end

      it("a missing upper dir, or one that is a file", function()
        local d = temp(H.tmpdir("up"))
        refused({ upper = d .. "/nope", parent = "busybox", name = "spec/x:1" },
          "commit spec/x:1: upper " .. d .. "/nope: No such file or directory (ENOENT)")
        assert(ns.writefile(d .. "/file", "x", { create = true }))
        refused({ upper = d .. "/file", parent = "busybox", name = "spec/x:1" },
          "commit spec/x:1: upper " .. d .. "/file: not a directory")
      end)

      it("an unknown parent, with ns.image.get's message", function()
        local d = temp(H.tmpdir("up"))
        busybox_id()
        refused({ upper = d, parent = "spec/nope:1", name = "spec/x:1" },
          "commit spec/x:1: parent image spec/nope:1: not in the store (")
        refused({ upper = d, parent = "sha256:" .. ("0"):rep(64), name = "spec/x:1" }, "not in the store")
      end)

      it("a bad name, a digest for a name, and a bad table", function()
        local d = temp(H.tmpdir("up"))
        refused({ upper = d, parent = "busybox", name = "Spec/X:1" }, 'commit: image reference "Spec/X:1": bad repository component "Spec"')
        refused({ upper = d, parent = "busybox", name = "spec/x:bad tag" }, "has a space")
        refused({ upper = d, parent = "busybox", name = "spec/x@sha256:" .. ("a"):rep(64) }, "not a digest")
        refused({ upper = d, parent = "busybox" }, "commit: name is required")
        refused({ upper = d, name = "spec/x:1" }, "commit: parent is required")
        refused({ upper = d, parent = "busybox", name = "spec/x:1", tag = "1" }, "commit: unknown key 'tag'")
        refused({ upper = d, parent = "busybox", name = "spec/x:1", config = { cmd = { "sh" } } },
          "commit: config: unknown key 'cmd' (did you mean 'Cmd'?")
        refused({ upper = d, parent = "busybox", name = "spec/x:1", config = { Cmd = "sh" } },
          'commit: config.Cmd must be a list of strings, got "sh"')
        refused({ upper = d, parent = "busybox", name = "spec/x:1", config = { Env = { "NOVALUE" } } },
          'commit: config.Env must be a list of "KEY=VALUE" strings')
        refused({ upper = d, parent = "busybox", name = "spec/x:1", config = { WorkingDir = "rel" } },
          "commit: config.WorkingDir must be an absolute path")
      end)

      it("a layer the store cannot file: its tmp/ work is gone", function()
        local upper = temp(upper_dir())
        busybox_id()
        local layers = store_layers()
        -- root passes permissions, not an immutable directory
        oci.run("chattr +i " .. q(root .. "/store/layers"))
        local ok, err = pcall(refused, { upper = upper, parent = "busybox", name = "spec/x:1" },
          "commit spec/x:1: image store: rename ")
        oci.run("chattr -i " .. q(root .. "/store/layers"))
        assert(ok, err)
        assert.are.same(layers, store_layers())
      end)
    end)
  end)

  describe("image rm and prune", function()
    local S = require "ns.state"

    local function record(name, id)
      return S.open(state):create({ name = name, config = { image_id = id } })
    end

    it("rm refuses an image a container's record names, whatever its status, while no other tag keeps it", function()
      local upper = temp(upper_dir())
      local _, id = committed({ upper = upper, parent = "busybox", name = "spec/commit:1" })
      local web = record("web", id)
      local out, code = luactr("image rm spec/commit:1")
      assert.are.equal(1, code, out)
      assert.are.equal(("luactr image rm: image spec/commit:1 is used by container web (%s): luactr rm it first\n")
        :format(web:short_id()), out)
      web:exited({ code = 0 })
      out, code = luactr("image rm spec/commit:1")
      assert.are.equal(1, code, out)
      assert.matches("is used by container web ", out)
      -- still whole: it runs
      out, code = run("spec/commit:1", { "cat", "/hello" })
      assert.are.equal(0, code, out)
      assert.are.equal("a new file\n", out)
      -- several: three named, the rest counted
      local more = {}
      for i = 1, 4 do more[i] = record("db" .. i, id) end
      out = luactr("image rm spec/commit:1")
      assert.are.equal(("luactr image rm: image spec/commit:1 is used by containers web (%s), db1 (%s), db2 (%s) "
        .. "and 2 more: luactr rm them first\n"):format(web:short_id(), more[1]:short_id(), more[2]:short_id()), out)
      -- a second tag of the same image: the first one goes, the last stays
      out, code = luactr("-e " .. q("local I = require('ns.image'); local _, img, s = I.get('spec/commit:1'); "
        .. "I.tag(require('ns.image.store').open(), 'docker.io/spec/alias:1', img)"))
      assert.are.equal(0, code, out)
      out, code = luactr("image rm spec/commit:1")
      assert.are.equal(0, code, out)
      assert.are.equal("removed spec/commit:1 (0 layers, 0 blobs freed)\n", out)
      out, code = luactr("image rm spec/alias:1")
      assert.are.equal(1, code, out)
      assert.matches("image spec/alias:1 is used by containers web", out)
      for _, s in ipairs(more) do s:remove({ force = true }) end
      web:remove()
      out, code = luactr("image rm spec/alias:1")
      assert.are.equal(0, code, out)
      assert.are.same({ "docker.io/library/busybox:latest" }, images())
      assert.are.equal(1, #store_layers())
    end)

    it("rm refuses busybox too, and the records of another state root do not count", function()
      local id = busybox_id()
      local s = record("web", id)
      local out, code = luactr("image rm busybox")
      assert.are.equal(1, code, out)
      assert.matches("^luactr image rm: image busybox:latest is used by container web %(%x+%): luactr rm it first\n$", out)
      out, code = H.run_luactr("image rm busybox", { env = ("LUACTR_ROOT=%s LUACTR_STATE=%s"):format(q(root),
        q(temp(H.tmpdir("other")))) })
      assert.are.equal(0, code, out)
      s:remove({ force = true })
    end)

    it("prune keeps an image a container names after its tag went to another, which still runs by its id", function()
      local a, b = temp(H.tmpdir("a")), temp(H.tmpdir("b"))
      assert(ns.writefile(a .. "/v", "1", { create = true }))
      assert(ns.writefile(b .. "/v", "2", { create = true }))
      local _, old = committed({ upper = a, parent = "busybox", name = "spec/app:1" })
      local s = record("web", old)
      local _, new = committed({ upper = b, parent = "busybox", name = "spec/app:1" })
      assert.are_not.equal(old, new)
      assert.are.equal(3, #store_layers())
      local old_cfg = root .. "/store/blobs/sha256/" .. old:sub(8)
      local old_layers = cjson.decode((assert(ns.readfile(old_cfg)))).rootfs.diff_ids
      -- no tag names it, but a container may start on it by its id
      local out, code = run(old, { "cat", "/v" })
      assert.are.equal(0, code, out)
      assert.are.equal("1", out)
      out, code = luactr("image prune")
      assert.are.equal(0, code, out)
      -- the old image's manifest and layer blob go; its config and layers stay
      assert.matches("^removed 0 layers and 2 blobs ", out)
      assert(ns.stat(old_cfg))
      for _, d in ipairs(old_layers) do assert(ns.stat(root .. "/store/layers/" .. d:sub(8)), d) end
      out, code = run(old, { "cat", "/v" })
      assert.are.equal(0, code, out)
      assert.are.equal("1", out)
      s:remove({ force = true })
      out, code = luactr("image prune")
      assert.are.equal(0, code, out)
      assert.matches("^removed 1 layers and 1 blobs ", out)
      assert.is_nil(ns.stat(old_cfg))
      assert.are.equal(2, #store_layers())
      out, code = run(old, { "cat", "/v" })
      assert.are_not.equal(0, code)
      assert(out:find("image " .. old .. ": not in the store", 1, true), out)
      out, code = run("spec/app:1", { "cat", "/v" })
      assert.are.equal(0, code, out)
      assert.are.equal("2", out)
    end)
  end)
end)
