--- ns.image: images in the store (ns.image.store): import an OCI layout,
-- an oci-archive or a docker-archive and save as an oci-archive
-- (ns.image.import), pull from a registry (ns.image.registry), commit an
-- overlayfs upper directory as a new image (ns.image.commit), list,
-- inspect, remove, prune, and resolve a name to the layer directories and
-- config that a container runs from (what a start loads: this, the
-- store and references; the rest loads when used).
local ns = require "ns.core"
local ref = require "ns.image.ref"
local store = require "ns.image.store"

local M = {}

local fmt, concat = string.format, table.concat

local function fail(msg) error(msg, 0) end

--- open([root]) -> the store.
function M.open(root) return store.open(root) end

local function iso_now() return os.date("!%Y-%m-%dT%H:%M:%SZ") end

-- The index entry of a reference (a name, name:tag, name@digest, or an
-- id prefix of at least 4 hex digits): key, entry; or nil.
local function find(images, name)
  local hexid = name:match("^sha256:(%x+)$") or name:match("^(%x+)$")
  if hexid and #hexid >= 4 then
    local hit, n = nil, 0
    for key, img in pairs(images) do
      if img.config and img.config:sub(8, 7 + #hexid) == hexid:lower() then hit, n = key, n + 1 end
    end
    if n == 1 then return hit, images[hit] end
    if n > 1 then fail(fmt("image id %s is ambiguous: %d images start with it", name, n)) end
  end
  local r = ref.parse(name)
  if images[r.key] then return r.key, images[r.key] end
  if r.digest then
    for key, img in pairs(images) do
      if img.manifest == r.digest and key:sub(1, #r.name + 1) == r.name .. ":" then return key, img end
    end
  end
end

-- Local names for the hints of a missing image.
local function nearest(images, name)
  local names = {}
  for key in pairs(images) do names[ref.familiar(key)] = true end
  return require("ns.util").choices(name, names, "luactr image ls")
end

--- get(name[, s]) -> key, entry, store; raises when the store has no such image.
function M.get(name, s)
  s = s or store.open(nil, true)
  local images = s:images()
  local key, img = find(images, name)
  if not key and ref.parse(name).key == "docker.io/library/busybox:latest" then
    -- luactr's own busybox image is made on first use.
    s = store.open(s.root)
    require("ns.image.busybox").make(s)
    images = s:images()
    key, img = find(images, name)
  end
  if not key then
    fail(fmt("image %s: not in the store (%s); luactr image pull or luactr image import it first", name,
      next(images) and nearest(images, name) or "the store is empty"))
  end
  return key, img, s
end

-- An image no tag names any more, by its full id (sha256:<config
-- digest>), while the store has its config: key (the id) and an entry of
-- its layers, or nil. A pull or commit that gives a name to another image
-- leaves the old one so; a container that names it starts on it again
-- (rm and prune keep its config and layers while a record names it).
local function untagged(s, id)
  if not ref.digest_ok(id) or not s:has_blob(id) then return nil end
  local cfg = store.json_decode(s:read_blob(id), "image " .. id .. ": config")
  local ids = type(cfg) == "table" and type(cfg.rootfs) == "table" and cfg.rootfs.diff_ids
  if type(ids) ~= "table" then return nil end
  local layers = {}
  for i, d in ipairs(ids) do
    if not ref.digest_ok(d) then return nil end
    layers[i] = d
  end
  return id, { config = id, layers = layers }
end

--- resolve(name) -> { key, name, manifest, id, layers = {dirs, top first, each once},
-- config = the image config's "config" object (Env, Cmd ...) }: what a
-- container runs from; an untagged image by its full id too (manifest
-- nil). Raises naming the image when it or a layer is missing.
function M.resolve(name)
  local ok, key, img, s = pcall(M.get, name)
  if not ok then
    local err = key
    s = store.open(nil, true)
    key, img = untagged(s, name)
    if not key then error(err, 0) end
  end
  local cfg = store.json_decode(s:read_blob(img.config), "image " .. key .. ": config " .. img.config)
  local layers, seen = {}, {}
  local n = #img.layers
  for i = n, 1, -1 do
    local dir = s:layer_path(img.layers[i])
    if not s:has_layer(img.layers[i]) then
      fail(fmt("image %s: layer %s is missing from the store (luactr image rm it and pull it again)", key, img.layers[i]))
    end
    -- A layer listed twice (two commits of the same change, two empty
    -- ones) is one directory, which overlayfs refuses as a lower dir
    -- twice (ELOOP). Only its topmost copy is mounted: whatever a lower
    -- copy holds, adds, hides or makes opaque, the top one does first.
    if not seen[dir] then
      seen[dir] = true
      layers[#layers + 1] = dir
    end
  end
  return { key = key, name = ref.familiar(key), manifest = img.manifest, id = img.config,
    layers = layers, config = type(cfg.config) == "table" and cfg.config or {} }
end

--- tag(s, key, t): file an image under key. t: manifest, config digests,
-- blobs (the layers' blob digests), layers (diff_ids, bottom first), sizes.
function M.tag(s, key, t)
  local size = 0
  for _, n in ipairs(t.sizes or {}) do size = size + n end
  s:update(function(images)
    images[key] = { manifest = t.manifest, config = t.config, blobs = t.blobs, layers = t.layers,
      sizes = t.sizes, size = size, created = t.created, tagged = iso_now() }
  end)
end

-- The uncompressed size of a layer the store has (from an image that
-- lists it), or nil.
local function known_size(images, diff_id)
  for _, img in pairs(images) do
    for i, d in ipairs(img.layers or {}) do
      if d == diff_id and img.sizes and img.sizes[i] then return img.sizes[i] end
    end
  end
end
M.known_size = known_size

--- import(path[, name]) -> the keys filed: path is an OCI layout
-- directory, an oci-archive or a docker-archive (docker/podman save); name
-- (NAME:TAG) names the image when the source carries none or to rename it
-- (ns.image.import).
function M.import(path, name) return require("ns.image.import").import(path, name) end

--- save(name, file): write the image as an oci-archive (what skopeo's
-- oci-archive: and podman load read; ns.image.import).
function M.save(name, file) return require("ns.image.import").save(name, file) end

--- commit(t) -> key, id: the upper directory t.upper as a new layer on
-- the image t.parent, filed as t.name with t.config's fields replacing
-- the parent's (ns.image.commit).
function M.commit(t) return require("ns.image.commit").commit(t) end

--- list() -> the images, sorted by name: { {name, key, tag, id, size, created}... }.
function M.list()
  local s = store.open(nil, true)
  local out = {}
  for key, img in pairs(s:images()) do
    local r = ref.parse(key)
    out[#out + 1] = { key = key, name = ref.familiar(r.name), tag = r.tag or "<none>", id = img.config,
      manifest = img.manifest, size = img.size or 0, created = img.created or img.tagged }
  end
  table.sort(out, function(a, b) return a.key < b.key end)
  return out
end

--- inspect(name) -> the image's config (as JSON text) and its key.
function M.inspect(name)
  local key, img, s = M.get(name)
  return s:read_blob(img.config), key
end

--- users() -> the containers of the state root (ns.state, default
-- root) by the image id their record names, config.image_id, whatever
-- their status: { ["sha256:..."] = {s...} }, oldest first. Records that
-- cannot be read are left out, as ns.state.list leaves them.
function M.users()
  local by = {}
  for _, c in ipairs((require("ns.state").list())) do
    local id = type(c.config) == "table" and c.config.image_id
    if type(id) == "string" then
      by[id] = by[id] or {}
      by[id][#by[id] + 1] = c
    end
  end
  return by
end

-- "is used by container web (3f2a1b0c9d8e): luactr rm it first", at
-- most three of them named.
local function used_by(key, list)
  local names = {}
  for i = 1, math.min(#list, 3) do names[i] = fmt("%s (%s)", list[i].name, list[i]:short_id()) end
  local more = #list > 3 and fmt(" and %d more", #list - 3) or ""
  return fmt("image %s is used by container%s %s%s: luactr rm %s first", ref.familiar(key), #list > 1 and "s" or "",
    concat(names, ", "), more, #list > 1 and "them" or "it")
end

-- What the collection keeps for containers, tagged or not: the config of
-- each image id they name and its layers. An image whose name was given
-- to another (a pull or commit under the same tag) is in no index entry
-- any more, but a stopped container may start on its layers again.
local function kept_for(s, users)
  local blobs, layers = {}, {}
  for id in pairs(users) do
    if ref.digest_ok(id) and s:has_blob(id) then
      blobs[id] = true
      local ok, cfg = pcall(store.json_decode, s:read_blob(id), "config " .. id)
      local ids = ok and type(cfg) == "table" and type(cfg.rootfs) == "table" and cfg.rootfs.diff_ids
      for _, d in ipairs(type(ids) == "table" and ids or {}) do
        if ref.digest_ok(d) then layers[d] = true end
      end
    end
  end
  return { blobs = blobs, layers = layers }
end

--- remove(name) -> the key removed, and what the collection removed:
-- untag it, then drop the layers and blobs no other image (and no
-- container's image) uses. Refused while a container record names the
-- image and no other tag keeps it.
function M.remove(name)
  local s = store.open()
  local key = M.get(name, s)
  local users = M.users()
  s:update(function(images)
    local cur = images[key]
    if not cur then return end
    local list = cur.config and users[cur.config]
    if list then
      for k, img in pairs(images) do
        if k ~= key and img.config == cur.config then list = nil break end
      end
    end
    if list then fail(used_by(key, list)) end
    images[key] = nil
  end)
  return key, s:collect(kept_for(s, users))
end

--- prune() -> what was removed: blobs and layers no tagged image uses
-- and no container's image needs, and what interrupted imports left in
-- tmp/.
function M.prune()
  local s = store.open()
  return s:collect(kept_for(s, M.users()))
end

--- pull(reference[, opts]) -> the key filed (ns.image.registry).
function M.pull(reference, opts)
  return require("ns.image.registry").pull(reference, opts)
end

return M
