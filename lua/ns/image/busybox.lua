--- ns.image.busybox: luactr's own image, busybox:latest, made from
-- Debian's busybox-static with no registry: one layer (the tree that
-- ns.rootfs.build_busybox fills, filed as an uncompressed tar blob and
-- unpacked as the store's layer), a config with Cmd sh, an OCI manifest.
-- <root>/images/busybox/rootfs links to the layer, so that the recipe
-- default rootfs = "busybox" costs one stat.
local ns = require "ns.core"
local util = require "ns.util"
local store = require "ns.image.store"
local oci = require "ns.image.oci"

local M = {}

M.KEY = "docker.io/library/busybox:latest"

local fmt = string.format

local function fail(msg) error(msg, 0) end
local function check(ok, msg)
  if not ok then fail("busybox image: " .. tostring(msg)) end
  return ok
end

-- Point <root>/images/busybox/rootfs at the layer (relative, so that the
-- root may move), replacing what was there in one rename.
local function link(s, final, diff_id)
  local target = "../../store/layers/" .. diff_id:sub(8)
  local base = final:match("^(.*)/[^/]+$")
  check(ns.mkdir(base, "0755", true))
  local cur = ns.stat(final, "nofollow")
  if cur and cur.type == "link" and ns.readlink(final) == target then return end
  local tmp = fmt("%s/.rootfs-link-%d", base, ns.getpid())
  ns.unlink(tmp)
  check(ns.symlink(target, tmp))
  local aside
  if cur and cur.type == "dir" then
    -- A plain directory of an older luactr: out of the way, then removed.
    aside = fmt("%s/.rootfs-old-%d", base, ns.getpid())
    check(ns.rename(final, aside))
  end
  check(ns.rename(tmp, final))
  if aside then require("ns.rootfs").remove_tree(aside) end
end

local function version(busybox)
  local p = io.popen("'" .. busybox:gsub("'", "'\\''") .. "' 2>&1 | head -1")
  local v = p and p:read("l") or ""
  if p then p:close() end
  return v:match("BusyBox (v%S+)") or "unknown"
end

--- make(s[, busybox]) -> the key: files busybox:latest in the store s
-- (built from the binary busybox, default /bin/busybox) unless the store
-- has it, and links <root>/images/busybox/rootfs to its layer. Builders
-- take turns; the second finds the first's image.
function M.make(s, busybox)
  busybox = busybox or "/bin/busybox"
  local gc <close> = s:lock("gc", "sh")
  local turn <close> = s:lock("busybox", "ex")
  local final = util.busybox_image(s.root)
  local img = s:images()[M.KEY]
  if img and img.layers and img.layers[1] and s:has_layer(img.layers[1]) then
    link(s, final, img.layers[1])
    return M.KEY
  end
  local tmp = s:tempdir("busybox")
  local ok, err = pcall(function()
    local tree = tmp .. "/fs"
    check(ns.mkdir(tree, "0755"))
    require("ns.rootfs").build_busybox(tree, busybox)
    local blob = tmp .. "/layer.tar"
    -- In a rootless store with subordinate ids, packed from inside its
    -- user namespace, where the user's files are root's: the tar says 0,
    -- as a layer unpacked there keeps it.
    local function pack()
      local r, msg = require("ns.archive").pack(tree, blob)
      return { r = r, msg = msg }
    end
    local p = select(2, store.layer_opts()) and require("ns.util.userns").run("busybox image", pack) or pack()
    local r, msg = p.r, p.msg
    if not r then fail("busybox image: " .. msg) end
    local diff_id = "sha256:" .. r.diff_id
    s:rename_into(blob, s:blob_path("sha256:" .. r.digest))
    if not s:has_layer(diff_id) then check(ns.rename(tree, s:layer_path(diff_id))) end
    local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
    local p = oci.platform()
    local cfg = {
      created = now, architecture = p.architecture, os = p.os, variant = p.variant,
      config = { Env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, Cmd = { "sh" } },
      rootfs = { type = "layers", diff_ids = { diff_id } },
      history = { { created = now, created_by = "luactr: busybox-static " .. version(busybox) } },
    }
    local cdata = store.json_encode(cfg)
    local config = s:put_blob(cdata)
    local manifest = s:put_blob(store.json_encode({
      schemaVersion = 2, mediaType = oci.OCI_MANIFEST,
      config = { mediaType = oci.OCI_CONFIG, digest = config, size = #cdata },
      layers = { { mediaType = oci.layer_type("none"), digest = "sha256:" .. r.digest, size = r.bytes } },
    }))
    require("ns.image").tag(s, M.KEY, { manifest = manifest, config = config, blobs = { "sha256:" .. r.digest },
      layers = { diff_id }, sizes = { r.size }, created = now })
    link(s, final, diff_id)
  end)
  store.remove(tmp)
  if not ok then fail(err) end
  return M.KEY
end

return M
