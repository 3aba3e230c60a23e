--- luactr kill [-s SIGNAL] CONTAINER...: a signal (default SIGKILL) to each
-- container's first process, through a pidfd checked to be it, as docker kill.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("kill", "Send a signal to running containers (default KILL).", function(p)
  p:option("-s --signal", "The signal: KILL, SIGTERM, 15 ...", "KILL")
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local sig = a.signal:match("^%d+$") and math.tointeger(tonumber(a.signal)) or a.signal
local ok, e = pcall(require("ns.recipe").signal, "luactr kill", "-s", sig)
if not ok then ctr.die("kill", (tostring(e):gsub("^luactr kill: ", "")), 2) end
local life = require "ns.lifecycle"
ctr.each("kill", a.container, function(s) life.kill(s, e) end)
