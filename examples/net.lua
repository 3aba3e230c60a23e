-- net.lua: a new network namespace has only a loopback interface, down
-- until someone brings it up; none of the host's interfaces are there.
local container = require "ns.container"

local st = container.run{
  namespaces = { "net", "mnt", "pid" },
  args = { "/bin/sh", "-c", "echo 'inside:'; ip -o link | cut -d' ' -f2,3" },
}
os.exit(st.status)
