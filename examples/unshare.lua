-- unshare.lua: namespaces on the host's own filesystem, like
-- `unshare --pid --fork --mount-proc /bin/sh`: no rootfs, /proc remounted
-- so that ps sees only the new pid namespace.
local container = require "ns.container"

local args = { ... }
if #args == 0 then args = { "/bin/sh" } end
local st = container.run{ rootfs = false, namespaces = { "pid", "mnt" }, args = args }
os.exit(st.status)
