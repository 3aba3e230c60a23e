-- seccomp-default.lua: checks that ns.security.seccomp's DEFAULT_SHA256 is
-- the SHA-256 of the default profile's canonical text, which a start
-- uses instead of reading the profile: a stale value would find the
-- program of the profile as it was. `make` runs it; on a mismatch it says
-- the value to put there, and fails.
-- Usage: lua5.4 scripts/seccomp-default.lua (from the tree's root, built)
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local ns = require "ns.core"
local seccomp = require "ns.security.seccomp"
local sha = ns.sha256(seccomp.text_of(seccomp.default_profile()))
if sha ~= seccomp.DEFAULT_SHA256 then
  io.stderr:write(("seccomp-default: the default profile (lua/ns/security/seccomp_default.lua) changed: "
    .. "set DEFAULT_SHA256 in lua/ns/security/seccomp.lua to \"%s\"\n"):format(sha))
  os.exit(1)
end
