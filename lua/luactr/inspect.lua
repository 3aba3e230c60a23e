--- luactr inspect CONTAINER...: each container's record as JSON (a list,
-- as docker inspect prints), with its state read afresh.
local ctr = require "ns.cli.ctr"
local state = require "ns.state"
local a = ctr.parse("inspect", "Print containers' records as JSON.", function(p)
  p:argument("container", "Containers (ids, id prefixes or names)."):args("+")
end, arg)
local out, failed = {}, false
for _, ref in ipairs(a.container) do
  local s, why = ctr.find(ref)
  if s then
    local d = s:data()
    d.dir = s:dir()
    out[#out + 1] = d
  else
    io.stderr:write("luactr inspect: ", why, "\n")
    failed = true
  end
end
print(#out > 0 and state.encode(out, "inspect", "    ") or "[]")
os.exit(failed and 1 or 0)
