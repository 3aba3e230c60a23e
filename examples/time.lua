-- time.lua: a time namespace offsets the monotonic and boot-time clocks
-- (not the wall clock). Inside, the machine seems up for a week longer.
local container = require "ns.container"
local ns = require "ns"

local WEEK = 7 * 24 * 3600
print(("outside: uptime %.0f s"):format(ns.clock("boottime")))
local st = container.run{
  time = { boottime = WEEK, monotonic = WEEK },
  args = { "/bin/sh", "-c", "echo \"inside: uptime $(cut -d' ' -f1 /proc/uptime) s\"" },
}
os.exit(st.status)
