--- ns.image.commit: a new image from an overlayfs upper directory on top
-- of an image of the store (what docker commit does with a container's
-- upper layer). The upper is packed as a gzip'd tar with its overlayfs
-- whiteouts and opaque directories in OCI's form (ns.archive.pack), then
-- filed as a pulled layer is: unpacked by the store's add_layer (its
-- digests checked again as it streams), its blob renamed into blobs/.
-- The config is the parent's with the fields given replaced, the new
-- diff_id and a history entry appended; the manifest an OCI one (the
-- parent's docker layer types given as their OCI twins, the same bytes).
-- See the OCI image spec's config.md, manifest.md, layer.md (whiteouts)
-- and annotations.md (org.opencontainers.image.base.*).
local ns = require "ns.core"
local util = require "ns.util"
local ref = require "ns.image.ref"
local store = require "ns.image.store"
local oci = require "ns.image.oci"
local image = require "ns.image"

local M = {}

local fmt = string.format
local ipairs, pairs, type = ipairs, pairs, type

local function fail(msg) error(msg, 0) end

M.CREATED_BY = "luactr commit"
M.BASE_NAME = "org.opencontainers.image.base.name"
M.BASE_DIGEST = "org.opencontainers.image.base.digest"

local KEYS = { upper = true, parent = true, name = true, config = true, comment = true, author = true }

-- The fields of the image config's "config" a commit may set, and what
-- each must be.
local FIELDS = { Cmd = "strings", Entrypoint = "strings", Env = "env", WorkingDir = "path", User = "string",
  Labels = "labels", StopSignal = "string" }

local strings_ok = require("ns.util").is_strings

local CHECKS = {
  strings = { strings_ok, "a list of strings" },
  env = { function(v)
    if not strings_ok(v) then return false end
    for _, kv in ipairs(v) do if not kv:match("^[^=]+=") then return false end end
    return true
  end, 'a list of "KEY=VALUE" strings' },
  path = { function(v) return type(v) == "string" and v:sub(1, 1) == "/" end, "an absolute path" },
  string = { function(v) return type(v) == "string" end, "a string" },
  labels = { function(v)
    if type(v) ~= "table" then return false end
    for k, x in pairs(v) do if type(k) ~= "string" or type(x) ~= "string" then return false end end
    return true
  end, "a map of strings to strings" },
}

-- Raise unless t is a commit's table; its name's reference, parsed.
local function check(t)
  if type(t) ~= "table" then fail("commit: expected a table, got " .. type(t)) end
  util.check_keys("commit", t, KEYS)
  for _, k in ipairs({ "upper", "parent", "name" }) do
    if t[k] == nil then fail(fmt("commit: %s is required", k)) end
    if type(t[k]) ~= "string" then fail(fmt("commit: %s must be a string, got %s", k, type(t[k]))) end
  end
  for _, k in ipairs({ "comment", "author" }) do
    if t[k] ~= nil and type(t[k]) ~= "string" then fail(fmt("commit: %s must be a string, got %s", k, type(t[k]))) end
  end
  local ok, r = pcall(ref.parse, t.name)
  if not ok then fail("commit: " .. tostring(r)) end
  if r.digest then fail(fmt("commit: image reference %q: an image is committed under NAME[:TAG], not a digest", t.name)) end
  if t.config ~= nil then
    if type(t.config) ~= "table" then fail("commit: config must be a table, got " .. type(t.config)) end
    util.check_keys("commit: config", t.config, FIELDS)
    for k, v in pairs(t.config) do
      local c = CHECKS[FIELDS[k]]
      if not c[1](v) then fail(fmt("commit: config.%s must be %s, got %s", k, c[2], util.show(v))) end
    end
  end
  return r
end

-- cjson 2.1 writes every empty table as {} and reads [] as one: the
-- lists of an image config that may be empty are written through this
-- marker (JSON-encoded as "\u0000[]") and put back as [] once encoded.
local EMPTY = "\0[]"
local LISTS = { "Cmd", "Entrypoint", "Env", "Shell", "OnBuild" }

local function list(v) return (type(v) == "table" and next(v) == nil) and EMPTY or v end

local function encode_config(cfg)
  local c = type(cfg.config) == "table" and cfg.config or nil
  if c then
    for _, k in ipairs(LISTS) do c[k] = list(c[k]) end
    if type(c.Healthcheck) == "table" then c.Healthcheck.Test = list(c.Healthcheck.Test) end
  end
  cfg.history = list(cfg.history)
  return (store.json_encode(cfg):gsub('"\\u0000%[%]"', "[]"))
end

-- A copy of the list v (nil and JSON null give an empty one).
local function copy(v)
  local out = {}
  if type(v) == "table" then for i, x in ipairs(v) do out[i] = x end end
  return out
end

--- new_config(parent, diff_id, t, now) -> the image config of the commit:
-- the parent's (decoded) with t.config's fields replacing its own, the
-- new layer's diff_id last in rootfs.diff_ids and a history entry for it.
function M.new_config(cfg, diff_id, t, now)
  if type(cfg.config) ~= "table" then cfg.config = {} end
  for k, v in pairs(t.config or {}) do
    if k == "Labels" then
      local l = {}
      for lk, lv in pairs(v) do l[lk] = lv end
      cfg.config[k] = l
    elseif type(v) == "table" then
      cfg.config[k] = copy(v)
    else
      cfg.config[k] = v
    end
  end
  if type(cfg.rootfs) ~= "table" then cfg.rootfs = { type = "layers" } end
  local ids = copy(cfg.rootfs.diff_ids)
  ids[#ids + 1] = diff_id
  cfg.rootfs.diff_ids = ids
  local history = copy(cfg.history)
  history[#history + 1] = { created = now, created_by = M.CREATED_BY, comment = t.comment, author = t.author }
  cfg.history = history
  cfg.created = now
  if t.author then cfg.author = t.author end
  return cfg
end

-- Pack the upper dir as a gzip'd tar with OCI whiteouts: p (what
-- ns.archive.pack returns) or nil and why. The opaque marker is the
-- store's (store.layer_opts); with a rootless user's subordinate ids the
-- tree is read from inside a user namespace, where its owners are the
-- container's (uid 1, not 300000) and its directories of those ids can
-- be read.
local function pack(upper, blob)
  local lopts, shifted = store.layer_opts()
  local opts = { whiteouts = true, filter = "gzip", opaque_xattr = lopts.opaque_xattr }
  local function run()
    local p, why = require("ns.archive").pack(upper, blob, opts)
    return { p = p, why = why }
  end
  local r = shifted and require("ns.util.userns").run("pack " .. upper, run) or run()
  return r.p, r.why
end

--- commit(t) -> the key the new image is filed under and its id (the
-- config's digest). t: upper (a directory), parent (an image of the
-- store: name, name:tag or id), name (NAME[:TAG]), config (Cmd,
-- Entrypoint, Env, WorkingDir, User, Labels, StopSignal: each one given
-- replaces the parent's), comment, author. Raises naming what is wrong;
-- a failure leaves nothing in the store's tmp/ (a layer already filed
-- stays for prune, as a failed pull's does).
function M.commit(t)
  local r = check(t)
  local what = "commit " .. ref.familiar(r.key)
  local st, msg = ns.stat(t.upper)
  if not st then fail(fmt("%s: upper %s", what, (msg:gsub("^stat ", "")))) end
  if st.type ~= "dir" then fail(fmt("%s: upper %s: not a directory", what, t.upper)) end
  local s = store.open()
  -- Held shared from the parent's lookup to the tag: rm and prune wait,
  -- so the parent's layers and the blobs placed here stay.
  local gc <close> = s:lock("gc", "sh")
  local ok, pkey, img = pcall(image.get, t.parent, s)
  if not ok then fail(fmt("%s: parent %s", what, tostring(pkey))) end
  local pwhat = fmt("%s: parent image %s", what, ref.familiar(pkey))

  local tmp = s:tempdir("commit")
  local done, res = pcall(function()
    local m = store.json_decode(s:read_blob(img.manifest), pwhat .. ": manifest " .. img.manifest)
    local parts = oci.check_manifest(m, pwhat .. ": manifest " .. img.manifest)
    local cfg = store.json_decode(s:read_blob(img.config), pwhat .. ": config " .. img.config)
    oci.check_config(cfg, #parts.layers, pwhat .. ": config " .. img.config)
    local blob = tmp .. "/layer.tar.gz"
    local p, why = pack(t.upper, blob)
    if not p then fail(fmt("%s: %s", what, why)) end
    local digest, diff_id = "sha256:" .. p.digest, "sha256:" .. p.diff_id
    s:add_layer(blob, { digest = digest, size = p.bytes }, diff_id, fmt("%s: layer %s", what, digest))
    -- add_layer read it whole and checked its digest: the file is the blob.
    s:rename_into(blob, s:blob_path(digest))

    local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
    local cdata = encode_config(M.new_config(cfg, diff_id, t, now))
    local config = s:put_blob(cdata)
    local layers, blobs, diff_ids, sizes = {}, {}, {}, {}
    for i, d in ipairs(parts.layers) do
      layers[i] = { mediaType = oci.layer_type(oci.LAYERS[d.mediaType]), digest = d.digest, size = d.size }
      blobs[i], diff_ids[i] = d.digest, img.layers[i]
      sizes[i] = img.sizes and img.sizes[i] or image.known_size(s:images(), img.layers[i]) or 0
    end
    layers[#layers + 1] = { mediaType = oci.layer_type("gzip"), digest = digest, size = p.bytes }
    blobs[#blobs + 1], diff_ids[#diff_ids + 1], sizes[#sizes + 1] = digest, diff_id, p.size
    local manifest = s:put_blob(store.json_encode({
      schemaVersion = 2, mediaType = oci.OCI_MANIFEST,
      config = { mediaType = oci.OCI_CONFIG, digest = config, size = #cdata },
      layers = layers,
      annotations = { [M.BASE_NAME] = pkey, [M.BASE_DIGEST] = img.manifest },
    }))
    image.tag(s, r.key, { manifest = manifest, config = config, blobs = blobs, layers = diff_ids, sizes = sizes,
      created = now })
    return config
  end)
  store.remove(tmp)
  if not done then
    res = tostring(res)
    fail(res:sub(1, #what + 1) == what .. ":" and res or fmt("%s: %s", what, res))
  end
  return r.key, res
end

return M
