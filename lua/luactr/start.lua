--- luactr start CONTAINER...: start stopped (exited or created)
-- containers again, each under a monitor, on the upper layer it kept
-- (the files it wrote are there), as docker start.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("start", "Start stopped containers again, on the upper layers they kept.", function(p)
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local life = require "ns.lifecycle"
ctr.each("start", a.container, function(s) life.start(s) end)
