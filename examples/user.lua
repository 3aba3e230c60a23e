-- user.lua: a user namespace maps root inside to an unprivileged uid
-- outside. Run as root, uid 0 inside is 100000 outside; run as an ordinary
-- user, it is that user (no privilege needed at all).
local container = require "ns.container"
local ns = require "ns"

local uid, gid = ns.getuid(), ns.getgid()
local outside_uid = uid == 0 and 100000 or uid
local outside_gid = gid == 0 and 100000 or gid
local h = container.start{
  user = { uid_map = { { 0, outside_uid, 1 } }, gid_map = { { 0, outside_gid, 1 } } },
  args = { "/bin/sleep", "30" },
}
-- Seen from the host, the container's process runs as the mapped uid.
local status = ns.readfile(("/proc/%d/status"):format(h.pid))
print("outside: uid " .. status:match("Uid:%s+(%d+)"))
local st = h:exec({ "/bin/sh", "-c", "echo \"inside: $(id)\"; echo \"uid_map: $(cat /proc/self/uid_map)\"" })
h:kill("KILL")
h:wait()
os.exit(st.status)
