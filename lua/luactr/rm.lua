--- luactr rm [-f] CONTAINER...: remove containers: the record, the upper
-- layer it kept, its log; a running one only with -f (killed first), as
-- docker rm.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("rm", "Remove containers (their records, upper layers and logs).", function(p)
  p:flag("-f --force", "Kill a running container first.")
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local life = require "ns.lifecycle"
ctr.each("rm", a.container, function(s) life.remove(s, a.force) end)
