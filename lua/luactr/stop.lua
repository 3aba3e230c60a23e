--- luactr stop [-t SECONDS] CONTAINER...: each container's stop signal
-- (its image's StopSignal, --stop-signal, else SIGTERM), then SIGKILL when
-- it still runs after SECONDS (default its --stop-timeout, else 10), as
-- docker stop. Prints each name given once it has exited.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("stop", "Stop running containers: the stop signal, then SIGKILL after the timeout.", function(p)
  ctr.timeout_option(p)
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local life = require "ns.lifecycle"
ctr.each("stop", a.container, function(s) life.stop(s, a.time) end)
