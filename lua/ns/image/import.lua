--- ns.image.import: images into the store from what other tools write:
-- an OCI image layout directory, an oci-archive (a tar of one: skopeo's
-- oci-archive:, podman save --format oci-archive) or a docker-archive
-- (docker save, podman save); and out of it as an oci-archive. Every blob
-- is checked against its descriptor (layers as they unpack), files of the
-- source are opened beneath its directory (openat2), and an archive is
-- unpacked into the store's tmp/ first, with libarchive's checks.
local ns = require "ns.core"
local ref = require "ns.image.ref"
local store = require "ns.image.store"
local oci = require "ns.image.oci"
local image = require "ns.image"

local M = {}

local fmt, concat = string.format, table.concat

local function fail(msg) error(msg, 0) end

M.REF_NAME = "org.opencontainers.image.ref.name"
M.CONTAINERD_NAME = "io.containerd.image.name"

local known_size = image.known_size

-- A file of a directory we read (an import's), opened beneath dirfd:
-- no absolute path, no "..", and with no_symlinks none on the way.
local function open_in(dirfd, rel, what, no_symlinks)
  if type(rel) ~= "string" or rel == "" then fail(what .. ": no path") end
  local resolve = no_symlinks and { "beneath", "no_symlinks" } or { "beneath" }
  local fd, msg = ns.openat2(dirfd, rel, { "rdonly" }, resolve)
  if not fd then fail(fmt("%s: %s", what, (msg:gsub("^openat2 [^:]*: ", "")))) end
  return fd
end

local function read_all(fd)
  local parts = {}
  while true do
    local s = fd:read(1 << 20)
    if not s or s == "" then break end
    parts[#parts + 1] = s
  end
  return concat(parts)
end

-- Copy the file fd to a new file path (in the store's tmp/).
local function copy_fd(fd, path)
  local out <close> = assert(ns.open(path, { "wronly", "creat", "excl" }, "0644"))
  while true do
    local s = fd:read(1 << 20)
    if not s or s == "" then break end
    assert(out:write(s))
  end
end

-- A layout's blob, checked: its bytes (for JSON), or it is placed in the
-- store as it is (moved when the layout is ours, else copied).
local Layout = {}
Layout.__index = Layout

local function layout(s, dir, ours)
  local fd, msg = ns.open(dir, { "rdonly", "directory" })
  if not fd then fail("import " .. dir .. ": " .. msg) end
  return setmetatable({ s = s, dir = dir, fd = fd, ours = ours, what = "import " .. dir }, Layout)
end

function Layout:open(rel) return open_in(self.fd, rel, fmt("%s: %s", self.what, rel), self.ours) end
function Layout:blob_rel(digest)
  if not ref.digest_ok(digest) then fail(fmt("%s: bad digest %s", self.what, tostring(digest))) end
  return "blobs/sha256/" .. digest:sub(8)
end

-- Bytes of the blob digest (a manifest, config or index), checked.
function Layout:json(desc, kind)
  local fd <close> = self:open(self:blob_rel(desc.digest))
  local data = read_all(fd)
  local got = "sha256:" .. require("ns.digest").string(data)
  if got ~= desc.digest then fail(fmt("%s: %s %s: digest mismatch: the data is %s", self.what, kind, desc.digest, got)) end
  if desc.size and #data ~= desc.size then
    fail(fmt("%s: %s %s: %d bytes, but its descriptor says %d", self.what, kind, desc.digest, #data, desc.size))
  end
  return data, store.json_decode(data, fmt("%s: %s %s", self.what, kind, desc.digest))
end

-- Place the file rel as blob digest in the store, unless it is there.
function Layout:place(rel, digest)
  if self.s:has_blob(digest) then return end
  if self.ours then
    self.s:rename_into(self.dir .. "/" .. rel, self.s:blob_path(digest))
  else
    local fd <close> = self:open(rel)
    local path = self.s:tempfile("blob")
    copy_fd(fd, path)
    self.s:place_blob(path, digest)
  end
end

-- Unpack layer i (desc) of an image unless the store has it; the blob
-- goes into the store too. Returns its uncompressed size.
function Layout:layer(rel, desc, diff_id, images)
  local s = self.s
  if s:has_layer(diff_id) then
    if not s:has_blob(desc.digest) then
      local fd <close> = self:open(rel)
      local path = s:tempfile("blob")
      copy_fd(fd, path)
      s:place_blob(path, desc.digest, desc.size)
    end
    return known_size(images, diff_id) or 0
  end
  local fd <close> = self:open(rel)
  local _, r = s:add_layer(fd, desc, diff_id)
  self:place(rel, desc.digest)
  return r and r.size or known_size(images, diff_id) or 0
end

-- Import the image whose manifest descriptor is desc (from a layout):
-- returns the tag fields.
function Layout:image(desc, images)
  local mdata, m = self:json(desc, "manifest")
  local mt = m.mediaType or desc.mediaType
  if oci.INDEXES[mt] then
    local d = oci.choose(m, self.what)
    return self:image({ digest = d.digest, size = math.tointeger(d.size), mediaType = d.mediaType }, images)
  end
  local parts = oci.check_manifest(m, self.what .. ": manifest " .. desc.digest)
  local cdata, cfg = self:json(parts.config, "config")
  local diff_ids = oci.check_config(cfg, #parts.layers, self.what .. ": config " .. parts.config.digest)
  local t = { manifest = desc.digest, config = parts.config.digest, blobs = {}, layers = {}, sizes = {},
    created = type(cfg.created) == "string" and cfg.created or nil }
  for i, l in ipairs(parts.layers) do
    t.sizes[i] = self:layer(self:blob_rel(l.digest), l, diff_ids[i], images)
    t.blobs[i], t.layers[i] = l.digest, diff_ids[i]
  end
  self.s:put_blob(cdata)
  self.s:put_blob(mdata)
  return t
end

-- The names an index entry carries: a full reference from containerd's
-- annotation or a ref.name that is one; a bare tag needs a given name.
local function entry_name(d)
  local a = type(d.annotations) == "table" and d.annotations or {}
  for _, n in ipairs({ a[M.CONTAINERD_NAME], a[M.REF_NAME] }) do
    if type(n) == "string" and (n:find("/", 1, true) or n:find(":", 1, true)) and pcall(ref.parse, n) then
      return ref.parse(n).key
    end
  end
  return nil, a[M.REF_NAME]
end

local function import_layout(s, dir, name, ours, docker_tags)
  local L = layout(s, dir, ours)
  local lfd <close> = L.fd
  local okl, lay = pcall(function()
    local fd <close> = L:open("oci-layout")
    return store.json_decode(read_all(fd), L.what .. ": oci-layout")
  end)
  if not okl or type(lay) ~= "table" or type(lay.imageLayoutVersion) ~= "string" then
    fail(L.what .. ": not an OCI image layout (no valid oci-layout file)")
  end
  local ifd <close> = L:open("index.json")
  local index = store.json_decode(read_all(ifd), L.what .. ": index.json")
  local list = type(index.manifests) == "table" and index.manifests or {}
  if #list == 0 then fail(L.what .. ": index.json lists no image") end
  local want = name and ref.parse(name)
  local jobs = {}
  for _, d in ipairs(list) do
    local key, tag = entry_name(d)
    if want then
      if #list == 1 or key == want.key or tag == want.tag or tag == want.key then jobs[#jobs + 1] = { d = d, key = want.key } end
    elseif key then
      jobs[#jobs + 1] = { d = d, key = key }
    elseif docker_tags and #list == 1 then
      for _, k in ipairs(docker_tags) do jobs[#jobs + 1] = { d = d, key = k } end
    end
  end
  if #jobs == 0 then
    if want then fail(fmt("%s: no image tagged %s in index.json", L.what, name)) end
    fail(L.what .. ": its images carry no name: give one (luactr image import FILE NAME:TAG)")
  end
  local done, images = {}, s:images()
  for _, j in ipairs(jobs) do
    local t = L:image({ digest = j.d.digest, size = math.tointeger(j.d.size), mediaType = j.d.mediaType }, images)
    image.tag(s, j.key, t)
    done[#done + 1] = j.key
  end
  return done
end

-- docker save's layout: manifest.json lists each image's config file,
-- its RepoTags and its layer tars (bottom first).
local function import_docker(s, dir, name)
  local L = layout(s, dir, true)
  local lfd <close> = L.fd
  local mfd <close> = L:open("manifest.json")
  local list = store.json_decode(read_all(mfd), L.what .. ": manifest.json")
  if type(list) ~= "table" or #list == 0 then fail(L.what .. ": manifest.json lists no image") end
  local D = require "ns.digest"
  local done, images = {}, s:images()
  for n, item in ipairs(list) do
    local what = fmt("%s: image %d", L.what, n)
    local tags = {}
    if name then tags = { ref.parse(name).key }
    else for _, t in ipairs(type(item.RepoTags) == "table" and item.RepoTags or {}) do tags[#tags + 1] = ref.parse(t).key end end
    if #tags == 0 then fail(what .. ": it carries no name: give one (luactr image import FILE NAME:TAG)") end
    local cfd <close> = L:open(item.Config)
    local cdata = read_all(cfd)
    local cfg = store.json_decode(cdata, what .. ": config " .. tostring(item.Config))
    local layers = type(item.Layers) == "table" and item.Layers or {}
    local diff_ids = oci.check_config(cfg, #layers, what .. ": config")
    local m = { schemaVersion = 2, mediaType = oci.DOCKER_MANIFEST,
      config = { mediaType = oci.DOCKER_CONFIG, digest = s:put_blob(cdata), size = #cdata }, layers = {} }
    local t = { config = m.config.digest, blobs = {}, layers = {}, sizes = {},
      created = type(cfg.created) == "string" and cfg.created or nil }
    for i, rel in ipairs(layers) do
      local lwhat = fmt("%s: layer %s", what, tostring(rel))
      local fd <close> = L:open(rel)
      -- The blob's digest is only known as it streams: it is filed under
      -- what unpack computed.
      local _, r = s:add_layer(fd, {}, diff_ids[i], lwhat)
      if not r then
        -- the store has the layer: only its blob's name and type are wanted
        local hex, size = D.file(fd)
        if not hex then fail(lwhat .. ": " .. size) end
        local head <close> = L:open(rel)
        local magic = head:read(4) or ""
        r = { digest = hex, bytes = size, size = known_size(images, diff_ids[i]) or 0,
          filter = magic:sub(1, 2) == "\x1f\x8b" and "gzip" or magic == "\x28\xb5\x2f\xfd" and "zstd" or "none" }
      end
      local digest = "sha256:" .. r.digest
      L:place(rel, digest)
      m.layers[i] = { mediaType = r.filter == "gzip" and "application/vnd.docker.image.rootfs.diff.tar.gzip"
        or r.filter == "zstd" and "application/vnd.docker.image.rootfs.diff.tar.zstd"
        or "application/vnd.docker.image.rootfs.diff.tar", digest = digest, size = r.bytes }
      t.blobs[i], t.layers[i], t.sizes[i] = digest, diff_ids[i], r.size
    end
    t.manifest = s:put_blob(store.json_encode(m))
    for _, key in ipairs(tags) do
      image.tag(s, key, t)
      done[#done + 1] = key
    end
  end
  return done
end

--- import(path[, name]) -> the keys filed: path is an OCI layout
-- directory, an oci-archive or a docker-archive (docker/podman save); name
-- (NAME:TAG) names the image when the source carries none or to rename it.
function M.import(path, name)
  if name then ref.parse(name) end
  local st, msg = ns.stat(path)
  if not st then fail("import " .. msg:gsub("^stat ", "")) end
  local s = store.open()
  local gc <close> = s:lock("gc", "sh")
  if st.type == "dir" then return import_layout(s, path, name, false) end
  -- An archive: unpacked as it is into tmp/ (libarchive's checks keep it
  -- there), then read as a layout.
  local tmp = s:tempdir("import")
  local ok, res = pcall(function()
    local r, why = require("ns.archive").unpack(path, tmp, { owners = false, xattrs = false })
    if not r then fail("import " .. why:gsub("^unpack ", "")) end
    local is_layout, is_docker = ns.stat(tmp .. "/oci-layout", "nofollow"), ns.stat(tmp .. "/manifest.json", "nofollow")
    if is_layout then
      local tags
      if is_docker and not name then
        -- docker 25+ writes both: the names are in manifest.json
        local fd <close> = open_in(assert(ns.open(tmp, { "rdonly", "directory" })), "manifest.json", "manifest.json", true)
        local list = store.json_decode(read_all(fd), "import " .. path .. ": manifest.json")
        tags = {}
        for _, t in ipairs(type(list) == "table" and list[1] and list[1].RepoTags or {}) do tags[#tags + 1] = ref.parse(t).key end
      end
      return import_layout(s, tmp, name, true, tags)
    elseif is_docker then
      return import_docker(s, tmp, name)
    end
    fail(fmt("import %s: not an OCI layout or docker archive (no oci-layout or manifest.json in it)", path))
  end)
  store.remove(tmp)
  if not ok then fail((tostring(res):gsub(tmp, path))) end
  return res
end

--- save(name, file): write the image as an oci-archive (what skopeo's
-- oci-archive: and podman load read).
function M.save(name, file)
  local key, img, s = image.get(name)
  if ns.stat(file, "nofollow") then fail(fmt("save %s: %s exists", name, file)) end
  local gc <close> = s:lock("gc", "sh")
  local dir = s:tempdir("save")
  local ok, err = pcall(function()
    assert(ns.mkdir(dir .. "/blobs", "0755"))
    assert(ns.mkdir(dir .. "/blobs/sha256", "0755"))
    local function put(digest)
      local to = dir .. "/blobs/sha256/" .. digest:sub(8)
      if ns.stat(to) then return end
      local from = s:blob_path(digest)
      if not ns.stat(from) then fail(fmt("save %s: blob %s is missing from the store", key, digest)) end
      local linked = ns.link(from, to)
      if not linked then
        local fd <close> = assert(ns.open(from))
        copy_fd(fd, to)
      end
    end
    local mdata = s:read_blob(img.manifest)
    local m = store.json_decode(mdata, "manifest " .. img.manifest)
    put(img.manifest)
    put(img.config)
    for _, b in ipairs(img.blobs) do put(b) end
    local r = ref.parse(key)
    local index = { schemaVersion = 2, mediaType = oci.OCI_INDEX, manifests = { {
      mediaType = m.mediaType or oci.OCI_MANIFEST, digest = img.manifest, size = #mdata,
      annotations = { [M.REF_NAME] = r.tag or "latest", [M.CONTAINERD_NAME] = key } } } }
    assert(ns.writefile(dir .. "/index.json", store.json_encode(index), { create = true, mode = "0644" }))
    assert(ns.writefile(dir .. "/oci-layout", '{"imageLayoutVersion":"1.0.0"}', { create = true, mode = "0644" }))
    local res, msg = require("ns.archive").pack(dir, file)
    if not res then fail(fmt("save %s: %s", key, msg)) end
  end)
  store.remove(dir)
  if not ok then fail(err) end
  return key
end

return M
