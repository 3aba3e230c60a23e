-- notify.lua: seccomp user notification, decided in Lua. The filter sends
-- every mount(2) of the container to luactr (SECCOMP_RET_USER_NOTIF), whose
-- handler logs it, with the paths read from the caller's memory, and
-- refuses those on /secret; the others go on (here the container holds
-- CAP_SYS_ADMIN, which moby's profile answers with mount among its calls,
-- so that an allowed mount works). The decision on a path is only as good
-- as the path: another thread of the caller could change it between the
-- handler's read and the kernel's (seccomp_unotify(2)), and a real policy
-- resolves it in the container's root; this shows the mechanism.
local container = require "ns.container"

local caps = { "sys_admin" }
for _, c in ipairs(container.default_capabilities) do caps[#caps + 1] = c end

local st = container.run {
  capabilities = caps,
  seccomp = {
    notify = {
      mount = function(req)
        io.stdout:write(("luactr: pid %d: mount %s on %s (%s)\n"):format(req.pid, req.source or "-",
          req.target or "?", req.fstype or "-"))
        io.stdout:flush()
        if req.target and req.target:match("^/?secret") then return "EPERM" end
        return "allow"
      end,
    },
  },
  args = { "/bin/sh", "-c", "mkdir -p /secret /scratch; mount -t tmpfs scratch /scratch && echo scratch mounted; "
    .. "mount -t tmpfs hidden /secret || echo secret refused" },
}
os.exit(st.status)
