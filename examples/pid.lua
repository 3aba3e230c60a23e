-- pid.lua: a new PID namespace. Inside, the shell is PID 1 and its pid
-- namespace has another id than the host's (the number `lsns -t pid` prints).
local container = require "ns.container"
local ns = require "ns"

print(("outside: pid %d, pid namespace %d"):format(ns.getpid(), ns.nsid("self", "pid")))
local st = container.run{
  namespaces = { "pid", "mnt" },
  args = { "/bin/sh", "-c", [[echo "inside: pid $$, pid namespace $(readlink /proc/self/ns/pid | tr -dc 0-9)"]] },
}
os.exit(st.status)
