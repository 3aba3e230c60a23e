-- support_spec.lua: the specs' own image producer (spec/support/oci.lua),
-- checked with the tools users have: what it writes is an OCI layout that
-- skopeo reads, and the archives skopeo makes from it are the ones users
-- bring (docker save's, and OCI's).
local cjson = require "cjson"
local H = require "support.helper"
local oci = require "support.oci"
local ns = H.ns

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function blob(layout, digest)
  return layout .. "/blobs/sha256/" .. digest:match("^sha256:(%x+)$")
end

describe("support.oci", function()
  local dir

  before_each(function()
    dir = H.tmpdir("oci")
    assert(ns.mkdir(dir .. "/l1/etc", "0755", true))
    assert(ns.writefile(dir .. "/l1/etc/hello", "hello\n", { create = true }))
    assert(ns.mkdir(dir .. "/l2/etc", "0755", true))
    assert(ns.writefile(dir .. "/l2/etc/.wh.hello", "", { create = true }))
    assert(ns.writefile(dir .. "/l2/etc/.wh..wh..opq", "", { create = true }))
  end)

  after_each(function() H.rmrf(dir) end)
  -- after the two above, so that it sees the dir made and gone
  H.guard()

  it("writes a layout: index.json's ref, manifest, config with diff_ids, layers as tar carries them", function()
    local layout = dir .. "/layout"
    local img = oci.layout(layout, { layers = { dir .. "/l1", dir .. "/l2" }, tag = "v1",
      config = { Env = { "PATH=/bin" }, Cmd = { "/bin/sh" }, Entrypoint = {}, User = "1000", WorkingDir = "/w",
        Labels = { a = "b" }, StopSignal = "SIGINT" } })
    assert.equal('{"imageLayoutVersion":"1.0.0"}', readfile(layout .. "/oci-layout"))
    local index = cjson.decode(readfile(layout .. "/index.json"))
    assert.equal(1, #index.manifests)
    assert.equal(img.manifest_digest, index.manifests[1].digest)
    assert.equal("v1", index.manifests[1].annotations[oci.REF_NAME])
    local manifest = cjson.decode(readfile(blob(layout, img.manifest_digest)))
    assert.equal(oci.MANIFEST, manifest.mediaType)
    assert.equal(img.config_digest, manifest.config.digest)
    local config = cjson.decode(readfile(blob(layout, img.config_digest)))
    assert.equal(oci.host_arch(), config.architecture)
    assert.equal("linux", config.os)
    assert.are.same({ "/bin/sh" }, config.config.Cmd)
    assert.matches('"Entrypoint":%[%]', readfile(blob(layout, img.config_digest)))
    assert.equal("SIGINT", config.config.StopSignal)
    assert.equal(2, #config.rootfs.diff_ids)
    assert.equal(2, #config.history)
    for i, l in ipairs(img.layers) do
      assert.equal(oci.LAYER.gzip, manifest.layers[i].mediaType)
      assert.equal(l.digest, manifest.layers[i].digest)
      assert.equal(l.size, ns.stat(blob(layout, l.digest)).size)
      assert.equal(l.diff_id, config.rootfs.diff_ids[i])
      local unzipped = oci.run("gzip -dc " .. blob(layout, l.digest) .. " | sha256sum")
      assert.equal(l.diff_id, "sha256:" .. unzipped:match("^(%x+)"))
    end
    local names = oci.run("tar -tzf " .. blob(layout, img.layers[2].digest))
    assert.matches("./etc/.wh.hello\n", names, 1, true)
    assert.matches("./etc/.wh..wh..opq\n", names, 1, true)
    -- skopeo reads it
    local inspect = cjson.decode(oci.run("skopeo inspect --raw oci:" .. layout .. ":v1"))
    assert.equal(img.config_digest, inspect.config.digest)
  end)

  it("compresses with zstd, or not at all", function()
    local layout = dir .. "/layout"
    local z = oci.layout(layout, { layers = { dir .. "/l1" }, compression = "zstd", tag = "z" })
    local n = oci.layout(layout, { layers = { dir .. "/l1" }, compression = "none", tag = "n" })
    assert.equal(oci.LAYER.zstd, z.layers[1].media_type)
    assert.equal(oci.LAYER.none, n.layers[1].media_type)
    -- the same tree: one diff_id; uncompressed, the blob is the tar
    assert.equal(z.layers[1].diff_id, n.layers[1].diff_id)
    assert.equal(n.layers[1].diff_id, n.layers[1].digest)
    local unzstd = oci.run("zstd -dc " .. blob(layout, z.layers[1].digest) .. " | sha256sum")
    assert.equal(z.layers[1].diff_id, "sha256:" .. unzstd:match("^(%x+)"))
    local index = cjson.decode(readfile(layout .. "/index.json"))
    assert.equal(2, #index.manifests)
  end)

  it("writes an image index over two platforms", function()
    local layout = dir .. "/layout"
    local ix = oci.index(layout, { { layers = { dir .. "/l1" } }, { layers = { dir .. "/l1" }, architecture = "s390x" } })
    local index = cjson.decode(readfile(layout .. "/index.json"))
    assert.equal(oci.INDEX, index.manifests[1].mediaType)
    assert.equal(ix.index_digest, index.manifests[1].digest)
    assert.equal("latest", index.manifests[1].annotations[oci.REF_NAME])
    local list = cjson.decode(readfile(blob(layout, ix.index_digest)))
    assert.equal("s390x", list.manifests[2].platform.architecture)
    assert.equal(ix.images[2].manifest_digest, list.manifests[2].digest)
  end)

  it("makes docker-archive and oci-archive files with skopeo", function()
    local layout = dir .. "/layout"
    local img = oci.layout(layout, { layers = { dir .. "/l1", dir .. "/l2" } })
    local docker = oci.docker_archive(layout, "latest", dir .. "/docker.tar", "spec/img:1")
    local m = cjson.decode(oci.run("tar -xOf " .. docker .. " manifest.json"))
    -- skopeo names it as docker does: docker.io/ first
    assert.are.same({ "docker.io/spec/img:1" }, m[1].RepoTags)
    assert.equal(2, #m[1].Layers)
    local archive = oci.oci_archive(layout, "latest", dir .. "/oci.tar")
    local index = cjson.decode(oci.run("tar -xOf " .. archive .. " index.json"))
    assert.equal(img.manifest_digest, index.manifests[1].digest)
    assert.equal("latest", index.manifests[1].annotations[oci.REF_NAME])
    -- skopeo 1.9 has no zstd layers in a docker archive
    oci.layout(layout, { layers = { dir .. "/l1" }, compression = "zstd", tag = "z" })
    local ok, err = pcall(oci.docker_archive, layout, "z", dir .. "/z.tar", "spec/img:z")
    assert.is_false(ok)
    assert.matches("zstd compression is not supported for docker images", err, 1, true)
  end)

  it("rejects unknown options", function()
    assert.has_error(function() oci.layout(dir .. "/x", { layer = {} }) end, nil)
    assert.has_error(function() oci.layout(dir .. "/x", { layers = {}, compression = "xz" }) end)
    assert.has_error(function() oci.layout(dir .. "/x", { config = { Cmdd = {} } }) end)
  end)
end)
