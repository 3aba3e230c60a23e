--- luactr wait CONTAINER...: block until each container has exited, and
-- print its exit status (the code, or 128 + the signal), as docker wait.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("wait", "Wait for containers to exit; print their exit statuses.", function(p)
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local life = require "ns.lifecycle"
ctr.each("wait", a.container, function(s)
  if s.status == "created" and not s.pid and not s:held() then error(("container %q was never started"):format(s.name), 0) end
  assert(life.wait_exited(s))
  local code = s:exit_status()
  print(code and tostring(code) or ("? (" .. tostring(s.reason) .. ")"))
end, true)
