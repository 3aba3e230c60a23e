-- bench-seq.lua: bench-true.lua's container, COUNT times one after the
-- other (default 100) from one luactr process, so that luactr's own start
-- (the binary, the Lua state, the modules) is paid once. What `make bench`
-- times as "luactr seq", as one command:
--   ./luactr scripts/bench-seq.lua [COUNT]
local container = require "ns.container"
local count = math.tointeger(tonumber(arg and arg[1] or "")) or 100
for i = 1, count do
  local st = container.run { args = { "/bin/true" } }
  if not (st.exited == true and st.code == 0) then
    io.stderr:write(("bench-seq: container %d of %d ended with status %d\n"):format(i, count, st.status))
    os.exit(false)
  end
end
