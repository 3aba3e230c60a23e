--- The op oci_hooks: an OCI config's hooks that run in the container's
-- namespaces (runtime-spec config.md, "POSIX-platform Hooks"), in the
-- child. createContainer runs once the mounts are made, before
-- pivot_root, so its paths are the host's, as runc has it; startContainer
-- runs after start released the hold, before the filter and the exec, in
-- the container's root. The state's pid is the one the host sees: read
-- from the host's /proc while it is still there (the first of these ops
-- comes before pivot_root and keeps it in x).
local ns = require "ns.core"
local hooks = require "ns.oci.hooks"

local M = { RUN = {} }

function M.RUN.oci_hooks(x, o)
  if not x.oci_pid then
    local self = ns.readlink("/proc/self")
    x.oci_pid = self and math.tointeger(tonumber(self)) or ns.getpid()
  end
  if #o.hooks > 0 then hooks.run(o.hooks, hooks.state(o.state, o.status, x.oci_pid), o.kind) end
end

return M
