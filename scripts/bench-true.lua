-- bench-true.lua: /bin/true in a fully isolated busybox container, with
-- ns.container's defaults (busybox rootfs as an overlay with a private
-- upper layer, new pid, mnt, uts, ipc, net and cgroup namespaces,
-- pivot_root, /proc). What `make bench` times for luactr, as a whole
-- command: ./luactr scripts/bench-true.lua
local st = require("ns.container").run { args = { "/bin/true" } }
os.exit(st.exited == true and st.code == 0)
