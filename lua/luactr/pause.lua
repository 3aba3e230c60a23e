--- luactr pause CONTAINER...: freeze every process of each container
-- (its cgroup's freezer: v2 cgroup.freeze, else v1's), as docker pause.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("pause", "Freeze every process of containers.", function(p)
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local life = require "ns.lifecycle"
ctr.each("pause", a.container, function(s) life.pause(s) end)
