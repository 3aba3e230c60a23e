--- luactr restart [-t SECONDS] CONTAINER...: stop (as luactr stop) and
-- start again (as luactr start) each container.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("restart", "Stop, then start again, containers.", function(p)
  ctr.timeout_option(p)
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local life = require "ns.lifecycle"
ctr.each("restart", a.container, function(s)
  life.stop(s, a.time)
  life.start(s)
end)
