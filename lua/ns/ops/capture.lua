--- ns.ops.capture: the pipes of capture = true. Loaded by ns.ops when a
-- plan has the op.
local ns = require "ns.core"
local errors = require "ns.errors"

local must = errors.must

local RUN, UNDO = {}, {}

-- Pipes for the container's stdout and stderr, read by luactr while it
-- runs (ns.supervise); the write ends are closed in luactr after clone.
function RUN.capture(x)
  local cap = {}
  x.capture = cap
  cap.stdout, cap.stdout_w = must("pipe", ns.pipe())
  cap.stderr, cap.stderr_w = must("pipe", ns.pipe())
  x.close_after_clone = { cap.stdout_w, cap.stderr_w }
end

function UNDO.capture(x)
  for _, k in ipairs({ "stdout", "stdout_w", "stderr", "stderr_w" }) do
    if x.capture and x.capture[k] then x.capture[k]:close() end
  end
end

return { RUN = RUN, UNDO = UNDO }
