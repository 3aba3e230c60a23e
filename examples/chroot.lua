-- chroot.lua: chroot changes only where "/" points for path lookups. A root
-- process inside can chroot again into a subdirectory while its working
-- directory stays outside, climb with "..", and chroot(".") back to the
-- host's root: the classic escape. Compare pivot_root.lua.
local container = require "ns.container"
local ns = require "ns"

local function escape()
  ns.mkdir("/escape", "0755")
  assert(ns.chroot("/escape")) -- cwd is still outside the new root
  for _ = 1, 64 do ns.chdir("..") end
  assert(ns.chroot("."))
end

local st = container.run{
  chroot = true,
  inside = escape,
  args = { "/bin/sh", "-c", "if [ -e /etc/debian_version ]; then echo 'escaped: the host root is visible'; else echo 'contained'; fi" },
}
os.exit(st.status)
