-- exec.lua: what `docker exec` does. Start a container in the background,
-- then run a second command inside it: a child joins all the container's
-- namespaces at once through its pidfd (setns), forks into its pid
-- namespace, and execs there. It sees the container's hostname, root and
-- processes.
local container = require "ns.container"

local h = container.start{ hostname = "running", args = { "/bin/sleep", "30" } }
local st = h:exec({ "/bin/sh", "-c", "echo \"exec: hostname $(hostname)\"; ps -o pid,args" })
h:kill("KILL")
h:wait()
os.exit(st.status)
