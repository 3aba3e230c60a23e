-- overlay.lua: a container's root is an overlay: the read-only image below,
-- a private upper layer on top. Writes land in the upper layer; the image
-- stays untouched (what AUFS did in the classic write-ups).
local container = require "ns.container"
local ns = require "ns"
local rootfs = require "ns.rootfs"

local st = container.run{
  keep_upper = true, -- keep the upper layer after exit, to look at it
  args = { "/bin/sh", "-c", "echo hello > /etc/motd; rm /etc/hostname; echo \"inside: $(cat /etc/motd)\"" },
}
local image = rootfs.busybox()
print("upper layer: etc/" .. table.concat(ns.listdir(st.upper .. "/etc"), ", etc/"))
print("image: etc/motd " .. (ns.stat(image .. "/etc/motd") and "exists" or "does not exist")
  .. ", etc/hostname " .. (ns.stat(image .. "/etc/hostname") and "still there" or "gone"))
rootfs.remove_tree(st.upper:match("^(.*)/upper$"))
os.exit(st.status)
