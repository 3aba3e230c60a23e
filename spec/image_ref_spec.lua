-- image_ref_spec.lua: the pure parts of ns.image: references (ns.image.ref),
-- platform choice and manifest checks (ns.image.oci), docker's rules for
-- the command (ns.image.config.argv), and the registry's challenge and
-- credential lookup (ns.image.registry).
local H = require "support.helper"
local ref = require "ns.image.ref"
local oci = require "ns.image.oci"
local config = require "ns.image.config"
local registry = require "ns.image.registry"

local HEX = ("ab"):rep(32)

describe("ns.image.ref", function()
  describe("parse()", function()
    it("fills in Docker Hub, library/ and :latest as docker does", function()
      local r = ref.parse("busybox")
      assert.are.same({ registry = "docker.io", repository = "library/busybox", tag = "latest",
        name = "docker.io/library/busybox", key = "docker.io/library/busybox:latest" }, r)
      assert.are.equal("docker.io/user/app:1.2", ref.parse("user/app:1.2").key)
    end)

    it("takes a registry with a port, localhost, and a digest", function()
      local r = ref.parse("127.0.0.1:5000/team/busybox:1")
      assert.are.equal("127.0.0.1:5000", r.registry)
      assert.are.equal("team/busybox", r.repository)
      assert.are.equal("1", r.tag)
      assert.are.equal("localhost/x:latest", ref.parse("localhost/x").key)
      local d = ref.parse("quay.io/a/b@sha256:" .. HEX)
      assert.is_nil(d.tag)
      assert.are.equal("quay.io/a/b@sha256:" .. HEX, d.key)
      assert.are.equal("1", ref.parse("r.io/a:1@sha256:" .. HEX).tag)
    end)

    it("refuses what the grammar does not allow, naming the part", function()
      for bad, why in pairs({
        [""] = "empty", ["Busybox"] = "bad repository component", ["a/../b"] = "bad repository component",
        ["busybox:"] = "bad tag", ["busybox:-x"] = "bad tag", ["a b"] = "space",
        ["busybox@sha256:abc"] = "64 lowercase hex", ["busybox@md5:" .. HEX] = "sha256",
        ["r.io/"] = "bad repository component", ["x__y___z"] = "bad repository component",
      }) do
        local ok, err = pcall(ref.parse, bad)
        assert(not ok, bad)
        assert(err:find(why, 1, true) and err:find("image reference", 1, true), err)
      end
    end)
  end)

  it("familiar() shortens Docker Hub names as docker prints them", function()
    assert.are.equal("busybox:latest", ref.familiar("docker.io/library/busybox:latest"))
    assert.are.equal("u/app:1", ref.familiar("docker.io/u/app:1"))
    assert.are.equal("127.0.0.1:5000/b:1", ref.familiar("127.0.0.1:5000/b:1"))
  end)

  it("is_loopback() knows 127/8, ::1 and localhost, with or without a port", function()
    assert.is_true(ref.is_loopback("127.0.0.1:5000"))
    assert.is_true(ref.is_loopback("127.1.2.3"))
    assert.is_true(ref.is_loopback("localhost:1"))
    assert.is_true(ref.is_loopback("[::1]:5000"))
    assert.is_false(ref.is_loopback("128.0.0.1"))
    assert.is_false(ref.is_loopback("registry.example.com"))
  end)
end)

describe("ns.image.oci", function()
  local host = oci.platform()
  local function desc(arch, n)
    return { digest = "sha256:" .. (n):rep(64), size = 10, mediaType = oci.OCI_MANIFEST,
      platform = { os = "linux", architecture = arch } }
  end

  it("choose() picks the host's platform from an index", function()
    local other = host.architecture == "s390x" and "ppc64le" or "s390x"
    local d = oci.choose({ manifests = { desc(other, "1"), desc(host.architecture, "2") } }, "pull x")
    assert.are.equal("sha256:" .. ("2"):rep(64), d.digest)
  end)

  it("choose() lists the platforms it has when none fits", function()
    local ok, err = pcall(oci.choose, { manifests = { desc("s390x-nope", "1"), desc("mips-nope", "2") } }, "pull x")
    assert.is_false(ok)
    assert.matches("^pull x: no image for linux/" .. H.esc(host.architecture), err)
    assert(err:find("it has: linux/s390x-nope, linux/mips-nope", 1, true), err)
  end)

  it("check_manifest() refuses other schema versions, configs and layer types, naming them", function()
    local good = { schemaVersion = 2, config = { digest = "sha256:" .. HEX, size = 2, mediaType = oci.OCI_CONFIG },
      layers = { { digest = "sha256:" .. HEX, size = 3, mediaType = "application/vnd.oci.image.layer.v1.tar+gzip" } } }
    local parts = oci.check_manifest(good, "m")
    assert.are.equal(3, parts.layers[1].size)
    assert.are.equal("integer", math.type(parts.layers[1].size))
    local ok, err = pcall(oci.check_manifest, { schemaVersion = 1 }, "m")
    assert(not ok and err:find("schemaVersion 1 is not supported", 1, true), err)
    good.layers[1].mediaType = "application/vnd.example.other"
    ok, err = pcall(oci.check_manifest, good, "m")
    assert(not ok and err:find("layer 1 (sha256:" .. HEX .. "): media type application/vnd.example.other is not supported", 1, true), err)
    good.layers[1].mediaType, good.layers[1].digest = oci.layer_type("gzip"), "sha256:short"
    ok, err = pcall(oci.check_manifest, good, "m")
    assert(not ok and err:find("layer 1 has no sha256 digest", 1, true), err)
  end)

  it("check_config() wants one diff_id per layer", function()
    local ok, err = pcall(oci.check_config, { rootfs = { diff_ids = { "sha256:" .. HEX } } }, 2, "c")
    assert(not ok and err:find("1 diff_ids for 2 layers", 1, true), err)
    assert.are.same({ "sha256:" .. HEX }, oci.check_config({ rootfs = { diff_ids = { "sha256:" .. HEX } } }, 1, "c"))
  end)
end)

describe("ns.image.config", function()
  it("argv() follows docker: entrypoint + args, else + Cmd; an own entrypoint drops Cmd", function()
    assert.are.same({ "/ep", "a" }, config.argv({ "/ep" }, { "c" }, { "a" }, false))
    assert.are.same({ "/ep", "c" }, config.argv({ "/ep" }, { "c" }, nil, false))
    assert.are.same({ "/mine" }, config.argv({ "/mine" }, { "c" }, nil, true))
    assert.are.same({ "ls", "/" }, config.argv(nil, { "sh" }, { "ls", "/" }, false))
    assert.are.same({ "sh" }, config.argv(nil, { "sh" }, nil, false))
    -- An empty entrypoint of the recipe's (--entrypoint ''): apply() passes false.
    assert.are.same({ "c" }, config.argv({}, { "c" }, nil, false))
  end)
end)

describe("ns.image.registry", function()
  it("challenge() reads a bearer challenge with quoted and escaped values", function()
    local scheme, p = registry.challenge('Bearer realm="https://auth.example/token",service="reg \\"one\\"",scope="repository:a/b:pull"')
    assert.are.equal("bearer", scheme)
    assert.are.same({ realm = "https://auth.example/token", service = 'reg "one"', scope = "repository:a/b:pull" }, p)
    scheme, p = registry.challenge('Basic realm="Registry Realm"')
    assert.are.equal("basic", scheme)
    assert.are.equal("Registry Realm", p.realm)
  end)

  it("allows plain HTTP only to loopback registries and those named in insecure", function()
    local function insecure(name, list)
      return registry.client(ref.parse(name .. "/x:1"), { insecure = list, creds = "u:p" }).insecure
    end
    assert.is_true(insecure("127.0.0.1:5000"))
    assert.is_true(insecure("localhost:5000"))
    assert.is_false(insecure("10.1.2.3:5000"))
    assert.is_false(insecure("registry.example.com", { "other.example.com" }))
    assert.is_true(insecure("10.1.2.3:5000", { "10.1.2.3:5000" }))
    assert.is_false(insecure("docker.io"))
  end)

  it("credentials() reads REGISTRY_AUTH_FILE first, the most specific entry first", function()
    local D = require "ns.digest"
    local dir = H.tmpdir()
    finally(function() H.rmrf(dir) end)
    local file = dir .. "/auth.json"
    assert(H.ns.writefile(file, require("cjson").encode({ auths = {
      ["127.0.0.1:5000"] = { auth = D.base64_encode("host:pw1") },
      ["127.0.0.1:5000/team"] = { auth = D.base64_encode("team:pw:2") },
    } }), { create = true }))
    local lua = ("REGISTRY_AUTH_FILE=%s XDG_RUNTIME_DIR=/nonexistent HOME=/nonexistent %s"):format(file, H.luactr)
    local function creds(repo)
      local out = H.sh(("%s -e 'print(require(\"ns.image.registry\").credentials(\"127.0.0.1:5000\", %q))'"):format(lua, repo))
      return out
    end
    assert.are.equal("team\tpw:2\t" .. file .. "\n", creds("team/app"))
    assert.are.equal("host\tpw1\t" .. file .. "\n", creds("other/app"))
  end)
end)
