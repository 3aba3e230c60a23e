-- uts.lua: a UTS namespace gives the container its own hostname;
-- the host's does not change.
local container = require "ns.container"
local ns = require "ns"

print("host before: " .. ns.gethostname())
local st = container.run{
  namespaces = { "uts", "mnt", "pid" },
  hostname = "westeros",
  args = { "/bin/sh", "-c", "echo \"inside: $(hostname)\"" },
}
print("host after: " .. ns.gethostname())
os.exit(st.status)
