--- ns.ops.rootfs: the ops of a root other than the default's overlay on
-- a private tmpfs: a kept upper layer (overlay_dirs), the image itself
-- (root_dir, bind_root), the host's / (root), a read-only root, chroot.
-- Loaded by ns.ops when a plan has one of them.
local ns = require "ns.core"
local errors = require "ns.errors"
local ops = require "ns.ops"
local paths = require "ns.paths"

local must, let_go = errors.must, ops.let_go

local RUN, UNDO = {}, {}

function RUN.overlay_dirs(x, o)
  local rootfs = require "ns.rootfs"
  if o.upper_dir then
    x.ov = rootfs.upper_dirs(x.layers, o.upper_dir)
    x.root = x.ov.merged
    if o.chown then
      for _, d in ipairs({ x.ov.upper, x.ov.work }) do must("chown", ns.chown(d, o.chown[1], o.chown[2])) end
    end
    return
  end
  x.state = o.state
  -- Its directory is held from the moment it is made (see ns.rootfs.hold).
  x.ov_hold, x.ov = rootfs.hold(o.state, { o.state .. "/" .. o.container },
    function() return rootfs.overlay_dirs(x.layers, o.state, o.container) end)
  x.root = x.ov.merged
  if o.chown then
    for _, d in ipairs({ x.ov.upper, x.ov.work }) do must("chown", ns.chown(d, o.chown[1], o.chown[2])) end
  end
end

function UNDO.overlay_dirs(x, o)
  if not x.ov then return end
  local remove_tree = require("ns.util.userns").remove_tree
  if o.keep_upper then
    -- keep upper/ (the rest is made again by the next start), drop the rest
    for _, d in ipairs({ x.ov.work, x.ov.merged }) do remove_tree(d) end
  else
    remove_tree(x.ov.dir)
  end
  let_go(x.ov_hold)
end

function RUN.root_dir(x) x.root = x.lower:match("^[^:]+") end

function RUN.bind_root(x)
  must("mount", ns.mount(x.root, x.root, nil, { "bind", "rec" }))
  must("mount_setattr", ns.mount_setattr(x.root, { "nodev" }, nil, "recursive"))
  paths.set_root(x, x.root)
end

function RUN.root(x, o) paths.set_root(x, o.path) end

function RUN.readonly_root(x) must("mount_setattr", ns.mount_setattr(x.rootfd, { "rdonly" })) end

function RUN.chroot(x)
  must("chroot", ns.chroot(x.root))
  must("chdir", ns.chdir("/"))
end

return { RUN = RUN, UNDO = UNDO }
