--- ns.ops.tty: the container's terminal, a pty of its own devpts. Loaded
-- by ns.ops when a plan has the op.
local ns = require "ns.core"
local errors = require "ns.errors"

local must = errors.must

local RUN = {}

function RUN.tty(x)
  -- Opened here, after the mounts, so that the terminal is /dev/pts/0
  -- of the container's own devpts (ttyname works); the master side
  -- goes to luactr over the socket.
  local master, slave = must("openpty", ns.openpty())
  must("sendfd", ns.sendfd(x.sock, master, "P\n"))
  master:close()
  must("setsid", ns.setsid())
  must("setctty", ns.setctty(slave))
  for fd = 0, 2 do must("dup2", ns.dup2(slave, fd)) end
  slave:close()
end

return { RUN = RUN }
