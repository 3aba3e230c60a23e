-- bench-cgroup.lua: bench-true.lua's container with a memory limit: the
-- same defaults, plus the cgroup luactr makes for it (a group in every
-- mounted v1 hierarchy, the v2 tree too on a hybrid host, with docker's
-- device allow-list) and removes after. What `make bench` times as
-- "luactr cgroup": ./luactr scripts/bench-cgroup.lua
local st = require("ns.container").run { args = { "/bin/true" }, cgroup = { memory = "64M" } }
os.exit(st.exited == true and st.code == 0)
