--- oci.lua: images for the specs, made with shell tools (GNU tar, gzip,
-- zstd, sha256sum) and skopeo, never with luactr's own image code: what
-- the image layer pulls and unpacks must come from somewhere else.
--
-- oci.layout(dir, t) writes an OCI image layout (the oci-layout file,
-- index.json, blobs/sha256/...) of one image; oci.index(dir, list) one of
-- an image index over several platforms; oci.docker_archive and
-- oci.oci_archive turn a layout into the archives users bring, with skopeo.
local cjson = require "cjson"
local H = require "support.helper"
local ns = H.ns

local M = {}

M.MANIFEST = "application/vnd.oci.image.manifest.v1+json"
M.INDEX = "application/vnd.oci.image.index.v1+json"
M.CONFIG = "application/vnd.oci.image.config.v1+json"
M.LAYER = {
  gzip = "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd = "application/vnd.oci.image.layer.v1.tar+zstd",
  none = "application/vnd.oci.image.layer.v1.tar",
}
M.REF_NAME = "org.opencontainers.image.ref.name"

-- s as one word for the shell.
local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shquote = shquote

-- Run a shell command; its stdout, or raise with what it printed.
local function run(cmd)
  local out, code = H.sh("{ " .. cmd .. " ; } 2>&1")
  if code ~= 0 then error(("oci: `%s` failed (%s):\n%s"):format(cmd, tostring(code), out), 3) end
  return out
end
M.run = run

local function sha256(path)
  return assert(run("sha256sum " .. shquote(path)):match("^(%x+)"), "sha256sum said nothing")
end

local function size(path)
  return assert(ns.stat(path)).size
end

-- cjson 2.1 writes an empty table as {}; where JSON wants [], this marker
-- stands in and is replaced once encoded.
local EMPTY = "@@oci_empty_array@@"
local function list(t) return #t == 0 and EMPTY or t end

local function encode(v)
  return (cjson.encode(v):gsub('"' .. EMPTY .. '"', "[]"))
end

local function writefile(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

--- The host's architecture as OCI names it (GOARCH).
function M.host_arch()
  local m = run("uname -m"):gsub("%s+$", "")
  local goarch = { x86_64 = "amd64", aarch64 = "arm64", armv7l = "arm", i686 = "386", s390x = "s390x",
    ppc64le = "ppc64le", riscv64 = "riscv64" }
  return goarch[m] or m
end

-- Store data as a blob of layout dir; its descriptor fields.
local function put_blob(dir, data)
  local tmp = dir .. "/blobs/sha256/.new"
  writefile(tmp, data)
  local digest = sha256(tmp)
  assert(os.rename(tmp, dir .. "/blobs/sha256/" .. digest))
  return { digest = "sha256:" .. digest, size = #data }
end

-- Tar the tree src (as it is: whiteouts are plain files to tar), compress
-- it, store it as a blob; {digest, diff_id, size, media_type}.
local function put_layer(dir, src, compression, n)
  local base = ("%s/blobs/sha256/.layer%d"):format(dir, n)
  local tar = base .. ".tar"
  run(("tar --numeric-owner --sort=name -C %s -cf %s ."):format(shquote(src), shquote(tar)))
  local diff_id = "sha256:" .. sha256(tar)
  local blob = tar
  if compression == "gzip" then
    blob = tar .. ".gz"
    run(("gzip -n -c %s >%s"):format(shquote(tar), shquote(blob)))
  elseif compression == "zstd" then
    blob = tar .. ".zst"
    run(("zstd -q -c %s >%s"):format(shquote(tar), shquote(blob)))
  end
  local digest = sha256(blob)
  local bytes = size(blob)
  assert(os.rename(blob, dir .. "/blobs/sha256/" .. digest))
  if blob ~= tar then os.remove(tar) end
  return { digest = "sha256:" .. digest, diff_id = diff_id, size = bytes, media_type = M.LAYER[compression] }
end

local CONFIG_KEYS = { Env = true, Cmd = true, Entrypoint = true, User = true, WorkingDir = true, Labels = true,
  StopSignal = true, ExposedPorts = true, Volumes = true }
local LAYOUT_KEYS = { layers = true, compression = true, config = true, architecture = true, os = true,
  tag = true, variant = true }

-- Write one image's blobs (layers, config, manifest) into dir; what
-- oci.layout returns, plus the manifest's descriptor and platform.
local function put_image(dir, t)
  for k in pairs(t) do
    if not LAYOUT_KEYS[k] then error("oci: unknown layout option '" .. tostring(k) .. "'", 3) end
  end
  local compression = t.compression or "gzip"
  if not M.LAYER[compression] then error("oci: compression is gzip, zstd or none, not " .. compression, 3) end
  run("mkdir -p " .. shquote(dir .. "/blobs/sha256"))
  writefile(dir .. "/oci-layout", encode({ imageLayoutVersion = "1.0.0" }))

  local layers, diff_ids, history, descs = {}, {}, {}, {}
  local created = os.date("!%Y-%m-%dT%H:%M:%SZ")
  for i, src in ipairs(t.layers or {}) do
    local l = put_layer(dir, src, compression, i)
    layers[i] = { digest = l.digest, diff_id = l.diff_id, size = l.size, media_type = l.media_type }
    diff_ids[i] = l.diff_id
    history[i] = { created = created, created_by = "spec/support/oci.lua: layer " .. i }
    descs[i] = { mediaType = l.media_type, digest = l.digest, size = l.size }
  end
  local config = {}
  for k, v in pairs(t.config or {}) do
    if not CONFIG_KEYS[k] then error("oci: unknown config key '" .. tostring(k) .. "'", 3) end
    config[k] = (k == "Env" or k == "Cmd" or k == "Entrypoint") and list(v) or v
  end
  local platform = { architecture = t.architecture or M.host_arch(), os = t.os or "linux", variant = t.variant }
  local cfg = {
    created = created,
    architecture = platform.architecture,
    os = platform.os,
    variant = platform.variant,
    config = next(config) and config or nil,
    rootfs = { type = "layers", diff_ids = list(diff_ids) },
    history = list(history),
  }
  local cdesc = put_blob(dir, encode(cfg))
  local manifest = {
    schemaVersion = 2,
    mediaType = M.MANIFEST,
    config = { mediaType = M.CONFIG, digest = cdesc.digest, size = cdesc.size },
    layers = list(descs),
  }
  local mjson = encode(manifest)
  local mdesc = put_blob(dir, mjson)
  return {
    manifest_digest = mdesc.digest,
    manifest_size = mdesc.size,
    manifest = mjson,
    config_digest = cdesc.digest,
    layers = layers,
    platform = platform,
  }
end

-- index.json with one entry for tag (an entry of that tag already there
-- is replaced, others stay).
local function put_ref(dir, desc, tag)
  local path = dir .. "/index.json"
  local index = { schemaVersion = 2, mediaType = M.INDEX, manifests = {} }
  local f = io.open(path)
  if f then
    index = cjson.decode(f:read("a"))
    f:close()
  end
  local kept = {}
  for _, m in ipairs(index.manifests or {}) do
    if not (m.annotations and m.annotations[M.REF_NAME] == tag) then kept[#kept + 1] = m end
  end
  desc.annotations = { [M.REF_NAME] = tag }
  kept[#kept + 1] = desc
  index.manifests = kept
  writefile(path, encode(index))
end

--- oci.layout(dir, t) -> {manifest_digest, config_digest, layers = {{digest,
-- diff_id, size, media_type}...}, manifest (its JSON), platform}: one
-- image in the OCI layout at dir (made when missing). t: layers (a list of
-- directories, bottom first), compression ("gzip", "zstd", "none"),
-- config (Env, Cmd, Entrypoint, User, WorkingDir, Labels, StopSignal...),
-- architecture (default the host's), os ("linux"), tag ("latest").
function M.layout(dir, t)
  t = t or {}
  local tag = t.tag or "latest"
  local img = put_image(dir, t)
  put_ref(dir, { mediaType = M.MANIFEST, digest = img.manifest_digest, size = img.manifest_size,
    platform = { architecture = img.platform.architecture, os = img.platform.os } }, tag)
  return img
end

--- oci.index(dir, list [, tag]) -> {index_digest, index (its JSON),
-- images = {what oci.layout returns, per entry}}: a multi-platform image
-- in the layout at dir, its index.json entry for tag (default "latest")
-- an image index whose manifests are the images of list (each a table of
-- oci.layout's options, their tags ignored).
function M.index(dir, images, tag)
  local manifests, out = {}, {}
  for i, t in ipairs(images) do
    local opts = {}
    for k, v in pairs(t) do if k ~= "tag" then opts[k] = v end end
    local img = put_image(dir, opts)
    out[i] = img
    manifests[i] = { mediaType = M.MANIFEST, digest = img.manifest_digest, size = img.manifest_size,
      platform = { architecture = img.platform.architecture, os = img.platform.os, variant = img.platform.variant } }
  end
  local ijson = encode({ schemaVersion = 2, mediaType = M.INDEX, manifests = list(manifests) })
  local idesc = put_blob(dir, ijson)
  put_ref(dir, { mediaType = M.INDEX, digest = idesc.digest, size = idesc.size }, tag or "latest")
  return { index_digest = idesc.digest, index = ijson, images = out }
end

--- oci.docker_archive(layout, tag, file, name) -> file: the image tagged
-- tag in the layout as a `docker save` archive of name ("name:tag").
function M.docker_archive(layout, tag, file, name)
  run(("skopeo --insecure-policy copy -q oci:%s:%s docker-archive:%s:%s"):format(
    shquote(layout), shquote(tag), shquote(file), shquote(name)))
  return file
end

--- oci.oci_archive(layout, tag, file) -> file: the image as an OCI archive
-- (a tar of a layout), under the same tag.
function M.oci_archive(layout, tag, file)
  run(("skopeo --insecure-policy copy -q oci:%s:%s oci-archive:%s:%s"):format(
    shquote(layout), shquote(tag), shquote(file), shquote(tag)))
  return file
end

return M
