--- ns.image.store: the content-addressed image store under the image root
-- ($LUACTR_ROOT, default /var/lib/luactr):
--
--   store/blobs/sha256/HEX   manifests, configs and layer blobs, by digest
--   store/layers/HEX/        a layer unpacked once, by its diff_id; images
--                            that share a layer share its directory
--   store/images.json        name:tag -> manifest digest and what ls shows
--   store/tmp/               work in progress, renamed into place last
--   store/gc.lock            held shared by every writer, exclusively by rm
--                            and prune, so that nothing a pull has placed but
--                            not yet tagged is collected under it
--   store/index.lock         serialises changes to images.json
--
-- A blob or layer appears whole or not at all (written in tmp/, checked,
-- renamed); of two writers of the same one, the second discards its copy.
local ns = require "ns.core"
local util = require "ns.util"

local M = {}
M.__index = M

local fmt = string.format

local function fail(msg) error(msg, 0) end
local function check(what, ok, msg, ...)
  if not ok then fail(what .. ": " .. tostring(msg)) end
  return ok, msg, ...
end

local cjson
local function json()
  cjson = cjson or require "cjson"
  return cjson
end

--- json_decode(s, what) -> the value, or raises naming what could not be read.
function M.json_decode(s, what)
  local ok, v = pcall(json().decode, s)
  if not ok then fail(fmt("%s: not valid JSON (%s)", what, tostring(v):gsub("^.-: ", ""))) end
  return v
end

--- json_object(s) -> the JSON object in s, or nil when s is not one
-- (what a registry's error body or token answer may well not be).
function M.json_object(s)
  local ok, v = pcall(json().decode, s or "")
  return ok and type(v) == "table" and v or nil
end

function M.json_encode(v) return (json().encode(v):gsub("\\/", "/")) end

--- open([root[, look]]) -> the store of the image root, made when
-- missing unless look (a store to read: ls, inspect, resolve).
function M.open(root, look)
  root = root or util.image_root()
  local dir = root .. "/store"
  local s = setmetatable({ root = root, dir = dir, blobs = dir .. "/blobs/sha256", layers = dir .. "/layers",
    tmp = dir .. "/tmp", index = dir .. "/images.json" }, M)
  -- Layers are the containers' lower dirs: the path to them must be
  -- searchable by a container's root in a user namespace (overlayfs
  -- reaches them with the mounter's credentials), the rest is luactr's.
  if look then return s end
  for _, d in ipairs({ { root, "0755" }, { dir, "0711" }, { s.layers, "0711" }, { dir .. "/blobs", "0700" },
    { s.blobs, "0700" }, { s.tmp, "0700" } }) do
    if not ns.stat(d[1]) then
      check("image store " .. dir, ns.mkdir(d[1], d[2], true))
      check("image store " .. dir, ns.chmod(d[1], d[2]))
    end
  end
  return s
end

--- lock(kind, how) -> a handle holding the flock ("gc" or "index"; how
-- "sh" or "ex"); close it to let go.
function M:lock(kind, how)
  local path = fmt("%s/%s.lock", self.dir, kind)
  local fd = check("image store lock " .. path, ns.open(path, { "creat", "rdwr" }, "0600"))
  check("image store lock " .. path, ns.flock(fd, how))
  return fd
end

local function hex(digest) return digest:match("^sha256:(%x+)$") end

function M:blob_path(digest) return self.blobs .. "/" .. assert(hex(digest), digest) end
function M:layer_path(diff_id) return self.layers .. "/" .. assert(hex(diff_id), diff_id) end
function M:has_blob(digest) return ns.stat(self:blob_path(digest)) ~= nil end
function M:has_layer(diff_id)
  local st = ns.stat(self:layer_path(diff_id), "nofollow")
  return st ~= nil and st.type == "dir"
end

--- read_blob(digest) -> its bytes, or raises naming it.
function M:read_blob(digest)
  local data, msg = ns.readfile(self:blob_path(digest))
  if not data then fail(fmt("blob %s: %s", digest, msg)) end
  return data
end

--- tempfile(prefix) -> a path in tmp/ that does not exist yet.
function M:tempfile(prefix)
  local d = check("image store", ns.mkdtemp(fmt("%s/%s-XXXXXX", self.tmp, prefix or "f")))
  return d .. "/data", d
end

--- tempdir(prefix) -> a new directory in tmp/.
function M:tempdir(prefix)
  return check("image store", ns.mkdtemp(fmt("%s/%s-XXXXXX", self.tmp, prefix or "d")))
end

--- remove(path): a file or tree of the store, whatever it holds (a
-- rootless store's layers hold directories of subordinate ids: removed
-- from a user namespace, ns.util.userns).
function M.remove(path)
  local st = ns.stat(path, "nofollow")
  if not st then return end
  if st.type == "dir" then require("ns.util.userns").remove_tree(path) else check("remove " .. path, ns.unlink(path)) end
end

--- layer_opts() -> opts, in_userns: the options of ns.archive.unpack
-- (and the opaque marker of pack) for a layer of this caller's, and
-- whether the work runs in a user namespace (ns.util.userns.run). Root's
-- marker is trusted.overlay.opaque; another user's user.overlay.opaque
-- (the only one it may set, and what its overlay, mounted with
-- userxattr, reads). With subordinate ids the tar's owners are kept, in
-- a user namespace, up to the ids it maps; without, every file is the
-- user's.
function M.layer_opts()
  if select(2, ns.getuid()) == 0 then return { whiteouts = true }, false end
  local userns = require "ns.util.userns"
  local max_uid, max_gid = userns.max_ids()
  if not max_uid then return { whiteouts = true, opaque_xattr = userns.OPAQUE_XATTR, owners = false }, false end
  return { whiteouts = true, opaque_xattr = userns.OPAQUE_XATTR, owners = true, max_uid = max_uid,
    max_gid = max_gid }, true
end

--- place_blob(path, digest[, size]): move the file at path (in tmp/) to
-- the blob digest, after checking its sha256 and size; the file is gone
-- either way. Raises naming the blob when it does not match.
function M:place_blob(path, digest, size)
  local D = require "ns.digest"
  local got, n = D.file(path)
  if not got then M.remove(path); fail(fmt("blob %s: %s", digest, n)) end
  if size and n ~= size then
    M.remove(path)
    fail(fmt("blob %s: %d bytes, but its descriptor says %d (truncated?)", digest, n, size))
  end
  if "sha256:" .. got ~= digest then
    M.remove(path)
    fail(fmt("blob %s: digest mismatch: the data is sha256:%s", digest, got))
  end
  self:rename_into(path, self:blob_path(digest))
end

--- put_blob(data) -> its digest: bytes luactr made (a manifest, a config).
function M:put_blob(data)
  local digest = "sha256:" .. require("ns.digest").string(data)
  if not self:has_blob(digest) then
    local path, dir = self:tempfile("blob")
    check("image store", ns.writefile(path, data, { create = true, mode = "0644" }))
    self:rename_into(path, self:blob_path(digest))
    ns.rmdir(dir)
  end
  return digest
end

-- rename(from, to), where an existing to (another writer's) wins.
function M:rename_into(from, to)
  local ok, msg = ns.rename(from, to)
  if not ok then
    if ns.stat(to) then M.remove(from) else fail("image store: " .. msg) end
  end
  local dir = from:match("^(.*)/[^/]+$")
  if dir and dir:sub(1, #self.tmp + 1) == self.tmp .. "/" and dir ~= self.tmp then ns.rmdir(dir) end
end

--- add_layer(src, desc, diff_id[, what]) -> the layer's directory, and
-- what ns.archive.unpack returned (nil when the store had the layer).
-- src: the blob's path or an fd; desc: its descriptor {digest, size}
-- (a nil digest is not checked: a docker-archive's layer has none);
-- diff_id: what the image's config says the uncompressed layer is. Unpacks
-- into tmp/ with overlayfs whiteouts and the owners of layer_opts (a
-- rootless user's subordinate ids: in a user namespace), checks the
-- digests and the size as it streams, then renames the tree into place.
-- Nothing is left when it fails; the error names the layer (what) and
-- the reason.
function M:add_layer(src, desc, diff_id, what)
  local final = self:layer_path(diff_id)
  if self:has_layer(diff_id) then return final end
  what = what or ("layer " .. desc.digest)
  local A = require "ns.archive"
  local tmp = self:tempdir("layer")
  local tree = tmp .. "/fs"
  local opts, shifted = M.layer_opts()
  -- Unpacked, checked and renamed into place by one process: with
  -- subordinate ids, a child in a user namespace (the top directory may
  -- be uid 300000's, which only root there can rename).
  local function unpack()
    check("image store", ns.mkdir(tree, "0755"))
    local r, msg, e = A.unpack(src, tree, opts)
    if not r and e == ns.E.EOVERFLOW and shifted then
      msg = msg .. ": a rootless store maps a layer's ids to the user (0) and its subordinate ids (/etc/subuid, /etc/subgid)"
    end
    if not r then fail(fmt("%s: %s", what, msg)) end
    if desc.size and r.bytes ~= desc.size then
      fail(fmt("%s: %d bytes, but its descriptor says %d (truncated?)", what, r.bytes, desc.size))
    end
    if desc.digest and "sha256:" .. r.digest ~= desc.digest then
      fail(fmt("%s: digest mismatch: the data is sha256:%s", what, r.digest))
    end
    if "sha256:" .. r.diff_id ~= diff_id then
      fail(fmt("%s: uncompressed it is sha256:%s, but the image config says %s", what, r.diff_id, diff_id))
    end
    local renamed, rmsg = ns.rename(tree, final)
    if not renamed and not self:has_layer(diff_id) then fail("image store: " .. rmsg) end
    return r
  end
  local ok, r
  if shifted then
    ok, r = pcall(require("ns.util.userns").run, what, unpack)
  else
    ok, r = pcall(unpack)
  end
  -- What a failed unpack left (subordinate ids' files) goes as it came.
  M.remove(tmp)
  if not ok then fail(r) end
  return final, r
end

--- images() -> the index: { [key] = { manifest, config, size, created, layers = {diff_ids} } }.
function M:images()
  local data = ns.readfile(self.index)
  if not data then return {} end
  local t = M.json_decode(data, self.index)
  return type(t.images) == "table" and t.images or {}
end

--- update(fn): fn(images) changes the index under its lock; saved atomically.
function M:update(fn)
  local lk <close> = self:lock("index", "ex")
  local images = self:images()
  local r = fn(images)
  local path, dir = self:tempfile("index")
  -- cjson writes {} for an empty table: the index's "images" is a map.
  check("image store", ns.writefile(path, M.json_encode({ version = 1, images = images }), { create = true, mode = "0644" }))
  check("image store", ns.rename(path, self.index))
  ns.rmdir(dir)
  return r
end

--- used() -> the sets of blob digests and layer diff_ids that tagged images use.
function M:used()
  local blobs, layers = {}, {}
  for _, img in pairs(self:images()) do
    blobs[img.manifest] = true
    if img.config then blobs[img.config] = true end
    for _, d in ipairs(img.blobs or {}) do blobs[d] = true end
    for _, d in ipairs(img.layers or {}) do layers[d] = true end
  end
  return blobs, layers
end

--- collect([keep]) -> removed blobs and layers: those no tagged image
-- uses and keep (sets of blob digests and diff_ids, {blobs, layers})
-- does not name, and tmp/ leftovers. Layers that a mounted overlay uses
-- stay (they are listed in kept). Takes the gc lock exclusively (waits
-- for pulls).
function M:collect(keep)
  local lk <close> = self:lock("gc", "ex")
  local blobs, layers = self:used()
  for d in pairs(keep and keep.blobs or {}) do blobs[d] = true end
  for d in pairs(keep and keep.layers or {}) do layers[d] = true end
  local paths, files = require("ns.rootfs").overlay_paths()
  local removed, kept = { blobs = 0, layers = 0, bytes = 0 }, {}
  for _, h in ipairs(ns.listdir(self.layers) or {}) do
    local p = self.layers .. "/" .. h
    local st = ns.stat(p, "nofollow")
    if not layers["sha256:" .. h] then
      if paths[p] or (st and files[st.dev .. ":" .. st.ino]) then kept[#kept + 1] = "sha256:" .. h
      else M.remove(p); removed.layers = removed.layers + 1 end
    end
  end
  for _, h in ipairs(ns.listdir(self.blobs) or {}) do
    if not blobs["sha256:" .. h] then
      local st = ns.stat(self.blobs .. "/" .. h)
      removed.bytes = removed.bytes + (st and st.size or 0)
      M.remove(self.blobs .. "/" .. h)
      removed.blobs = removed.blobs + 1
    end
  end
  -- Nobody writes in tmp/ while the gc lock is held exclusively.
  for _, n in ipairs(ns.listdir(self.tmp) or {}) do M.remove(self.tmp .. "/" .. n) end
  return removed, kept
end

return M
