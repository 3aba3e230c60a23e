-- busybox.lua: what `docker run -it busybox /bin/sh` does.
-- A busybox root filesystem on an overlay, new pid, mount, uts, ipc, net and
-- cgroup namespaces, /proc, a minimal /dev, docker's 14 capabilities.
--   luactr examples/busybox.lua            an interactive shell (with a terminal)
--   luactr examples/busybox.lua ls /       any command, stdio passed through
-- Inside, `ps` shows two processes, sh being PID 1.
local container = require "ns.container"
local ns = require "ns"

local args = { ... }
if #args == 0 then
  if ns.isatty(0) then
    args = { "/bin/sh" }
  else
    -- No terminal (CI, a pipe): show the same facts without waiting for input.
    args = { "/bin/sh", "-c", "echo \"hostname: $(hostname)\"; echo 'ps:'; ps; echo 'ls /:'; ls /" }
  end
end

local st = container.run{ hostname = "busybox", args = args }
os.exit(st.status)
