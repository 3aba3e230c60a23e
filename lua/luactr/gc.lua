--- luactr gc [--uppers]: remove what luactr left behind, and say what:
-- the cgroups under the luactr parent (or $LUACTR_CGROUP_PARENT) that hold
-- no process (e.g. after a crash), in every hierarchy; with --uppers also
-- the kept upper layers under the state dir (<state>/<name>/upper, which
-- keep_upper = true leaves) that no container uses. Those are the user's
-- data, so only when asked.
local uppers = false
for _, a in ipairs(arg or {}) do
  if a == "--uppers" then
    uppers = true
  else
    io.stderr:write("luactr gc: unknown argument '", a, "' (valid: --uppers)\n")
    os.exit(2)
  end
end

local parent = os.getenv("LUACTR_CGROUP_PARENT") or "luactr"
local removed = require("ns.cgroup").gc()
if #removed == 0 then
  print("luactr gc: nothing to remove under " .. parent .. "/")
else
  for _, name in ipairs(removed) do print("removed cgroup " .. parent .. "/" .. name) end
end

if uppers then
  local rootfs = require "ns.rootfs"
  local state = rootfs.state()
  local gone = rootfs.gc_uppers(state)
  if #gone == 0 then print("luactr gc: no unused upper layer under " .. state) end
  for _, p in ipairs(gone) do print("removed upper layer " .. p) end
end
