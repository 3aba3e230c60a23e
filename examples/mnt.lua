-- mnt.lua: a mount namespace gives the container a private mount table.
-- A tmpfs on /tmp, mounted inside, hides the host's /tmp only in there;
-- the host's /tmp is unchanged. This recipe keeps the host's filesystem.
local container = require "ns.container"
local ns = require "ns"

local st = container.run{
  rootfs = false,
  namespaces = { "mnt", "pid" },
  mounts = { { type = "tmpfs", target = "/tmp", data = "size=1m" } },
  args = { "/bin/sh", "-c", "echo private > /tmp/luactr-mnt-demo; echo \"inside: $(ls /tmp)\"; grep ' /tmp ' /proc/self/mounts" },
}
print("host: /tmp/luactr-mnt-demo " .. (ns.stat("/tmp/luactr-mnt-demo") and "exists" or "does not exist"))
os.exit(st.status)
