-- bench-noseccomp.lua: bench-true.lua's container without its seccomp
-- filter (seccomp = false): what `make bench` sets beside the default, to
-- show what the filter costs a start (its compiled program cached).
local st = require("ns.container").run { args = { "/bin/true" }, seccomp = false }
os.exit(st.exited == true and st.code == 0)
