-- ipc.lua: System V IPC objects live in an IPC namespace. A message queue
-- made inside the container (by an inside hook, in the new namespaces) is
-- listed in the container's /proc/sysvipc/msg and not on the host.
local container = require "ns.container"
local ns = require "ns"

local KEY = 0x4c55 -- "LU", 19541
local st = container.run{
  namespaces = { "ipc", "mnt", "pid" },
  inside = function() assert(ns.msgget(KEY, { "creat", "excl" }, 384)) end, -- 384 = 0600
  args = { "/bin/sh", "-c", "echo 'inside: queues by key:'; awk 'NR > 1 { print $1 }' /proc/sysvipc/msg" },
}
-- On the host, msgget without "creat" finds no queue with that key.
local id, msg = ns.msgget(KEY)
print("host: " .. (id and ("queue " .. KEY .. " exists (id " .. id .. ")") or msg))
os.exit(st.status)
