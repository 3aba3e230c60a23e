--- ns.image.oci: what the OCI image spec and docker's v2 schema 2 say about
-- manifests, indexes, configs and layers: their media types, the checks of
-- a manifest before anything is fetched, and the choice of the host's
-- platform from an index or manifest list.
local M = {}

local fmt, concat = string.format, table.concat

M.OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
M.OCI_INDEX = "application/vnd.oci.image.index.v1+json"
M.OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
M.DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
M.DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
M.DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

M.MANIFESTS = { [M.OCI_MANIFEST] = true, [M.DOCKER_MANIFEST] = true }
M.INDEXES = { [M.OCI_INDEX] = true, [M.DOCKER_LIST] = true }
M.CONFIGS = { [M.OCI_CONFIG] = true, [M.DOCKER_CONFIG] = true }

-- Layer media types -> the compression they say (libarchive detects the
-- real one; this only decides what luactr accepts).
M.LAYERS = {
  ["application/vnd.oci.image.layer.v1.tar"] = "none",
  ["application/vnd.oci.image.layer.v1.tar+gzip"] = "gzip",
  ["application/vnd.oci.image.layer.v1.tar+zstd"] = "zstd",
  ["application/vnd.docker.image.rootfs.diff.tar"] = "none",
  ["application/vnd.docker.image.rootfs.diff.tar.gzip"] = "gzip",
  ["application/vnd.docker.image.rootfs.diff.tar.zstd"] = "zstd",
}

-- What a registry is asked for (Accept).
M.ACCEPT = concat({ M.OCI_INDEX, M.OCI_MANIFEST, M.DOCKER_LIST, M.DOCKER_MANIFEST }, ", ")

--- layer_type(compression) -> the OCI media type of a layer so compressed.
function M.layer_type(compression)
  if compression == "gzip" then return "application/vnd.oci.image.layer.v1.tar+gzip" end
  if compression == "zstd" then return "application/vnd.oci.image.layer.v1.tar+zstd" end
  return "application/vnd.oci.image.layer.v1.tar"
end

-- Go's architecture names, which images use, for what uname -m says.
local GOARCH = { x86_64 = "amd64", aarch64 = "arm64", armv7l = "arm", armv6l = "arm", i686 = "386", i386 = "386",
  ppc64le = "ppc64le", s390x = "s390x", riscv64 = "riscv64", mips64 = "mips64le" }

local host
--- platform() -> { os = "linux", architecture = "amd64", variant = ... } of this host.
function M.platform()
  if host then return host end
  local p = io.popen("uname -m 2>/dev/null")
  local m = p and p:read("l") or "x86_64"
  if p then p:close() end
  host = { os = "linux", architecture = GOARCH[m] or m }
  if m == "aarch64" then host.variant = "v8" elseif m == "armv7l" then host.variant = "v7" elseif m == "armv6l" then host.variant = "v6" end
  return host
end

local function show_platform(p)
  if type(p) ~= "table" then return "?" end
  local s = tostring(p.os) .. "/" .. tostring(p.architecture)
  if p.variant and p.variant ~= "" then s = s .. "/" .. p.variant end
  return s
end
M.show_platform = show_platform

--- choose(index, what) -> the descriptor of the manifest for the host's
-- platform in an image index or docker manifest list; raises naming the
-- platforms it has when none fits.
function M.choose(index, what)
  local want = M.platform()
  local list = type(index.manifests) == "table" and index.manifests or {}
  local best
  for _, d in ipairs(list) do
    local p = d.platform
    if type(p) == "table" and p.os == want.os and p.architecture == want.architecture then
      -- an exact variant beats none; arm64 images often give none
      if not best or (want.variant and p.variant == want.variant) then best = d end
    end
  end
  if best then return best end
  local have = {}
  for _, d in ipairs(list) do have[#have + 1] = show_platform(d.platform) end
  error(fmt("%s: no image for %s in its index (it has: %s)", what, show_platform(want),
    #have > 0 and concat(have, ", ") or "none"), 0)
end

local function descriptor(what, d, i)
  if type(d) ~= "table" or type(d.digest) ~= "string" or not d.digest:match("^sha256:%x+$") or #d.digest ~= 71 then
    error(fmt("%s: %s has no sha256 digest", what, i), 0)
  end
  local size = math.tointeger(d.size)
  if not size or size < 0 then error(fmt("%s: %s (%s) has no size", what, i, d.digest), 0) end
  return { digest = d.digest, size = size, mediaType = d.mediaType, urls = d.urls }
end

--- check_manifest(m, what) -> { config = desc, layers = {desc...} }: a
-- manifest's descriptors, checked before anything is fetched.
function M.check_manifest(m, what)
  if type(m) ~= "table" then error(what .. ": the manifest is not a JSON object", 0) end
  if m.schemaVersion ~= 2 and m.schemaVersion ~= 2.0 then
    error(fmt("%s: manifest schemaVersion %s is not supported (only 2: docker v2 schema 2 and OCI)", what,
      tostring(m.schemaVersion)), 0)
  end
  local config = descriptor(what, m.config, "the config")
  if config.mediaType and not M.CONFIGS[config.mediaType] then
    error(fmt("%s: config media type %s is not an image config", what, config.mediaType), 0)
  end
  local layers = {}
  for i, l in ipairs(type(m.layers) == "table" and m.layers or {}) do
    local d = descriptor(what, l, "layer " .. i)
    if not M.LAYERS[d.mediaType or ""] then
      error(fmt("%s: layer %d (%s): media type %s is not supported", what, i, d.digest, tostring(d.mediaType)), 0)
    end
    layers[i] = d
  end
  return { config = config, layers = layers }
end

--- check_config(cfg, n, what) -> the diff_ids, one per layer (n of them).
function M.check_config(cfg, n, what)
  local ids = type(cfg) == "table" and type(cfg.rootfs) == "table" and cfg.rootfs.diff_ids
  if type(ids) ~= "table" then error(what .. ": the config has no rootfs.diff_ids", 0) end
  if #ids ~= n then error(fmt("%s: the config lists %d diff_ids for %d layers", what, #ids, n), 0) end
  for i, d in ipairs(ids) do
    if type(d) ~= "string" or not d:match("^sha256:%x+$") or #d ~= 71 then
      error(fmt("%s: diff_id %d is not a sha256 digest", what, i), 0)
    end
  end
  return ids
end

return M
