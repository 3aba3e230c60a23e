--- luactr unpause CONTAINER...: thaw what luactr pause froze.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("unpause", "Thaw paused containers.", function(p)
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local life = require "ns.lifecycle"
ctr.each("unpause", a.container, function(s) life.unpause(s) end)
