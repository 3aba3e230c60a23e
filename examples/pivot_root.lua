-- pivot_root.lua: pivot_root makes the new root the mount namespace's root
-- and the old one is unmounted, so the chroot escape of chroot.lua finds
-- nothing to climb back to.
local container = require "ns.container"
local ns = require "ns"

local function escape()
  ns.mkdir("/escape", "0755")
  assert(ns.chroot("/escape"))
  for _ = 1, 64 do ns.chdir("..") end
  assert(ns.chroot("."))
end

local st = container.run{
  inside = escape,
  args = { "/bin/sh", "-c", "if [ -e /etc/debian_version ]; then echo 'escaped: the host root is visible'; else echo 'contained'; fi" },
}
os.exit(st.status)
