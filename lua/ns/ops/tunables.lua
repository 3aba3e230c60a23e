--- ns.ops.tunables: the ops of the recipe keys that tune the kernel for
-- the container: sysctl (the files of /proc/sys that its own namespaces
-- hold), oom_score_adj, umask, the execution domain (personality) and the
-- I/O priority (ioprio). See sysctl(8), proc(5), umask(2), personality(2),
-- ioprio_set(2).
local ns = require "ns.core"
local errors = require "ns.errors"

local must = errors.must

local RUN = {}

-- Each {name, value}, written under /proc/sys: the files there are those
-- of the writer's namespaces (net, ipc, uts), which the child is in,
-- whichever procfs the path goes through; the host's /proc is still at
-- /proc before pivot_root, and is not made read-only as the container's is.
function RUN.sysctl(_, o)
  for _, kv in ipairs(o.values) do
    local path = "/proc/sys/" .. kv[1]:gsub("%.", "/")
    local ok, msg, e = ns.writefile(path, kv[2])
    must("sysctl", ok, msg and ("sysctl " .. kv[1] .. ": " .. tostring(msg):gsub("^[^:]*: ", "")), e)
  end
end

-- Before the capabilities go: lowering the score takes CAP_SYS_RESOURCE.
function RUN.oom_score_adj(_, o)
  must("oom_score_adj", ns.writefile("/proc/self/oom_score_adj", tostring(o.value)))
end

function RUN.umask(_, o) ns.umask(o.mask) end

function RUN.personality(_, o) must("personality", ns.personality(o.persona)) end

-- The process's own (pid 0): what it starts inherits it.
function RUN.ioprio(_, o) must("ioprio_set", ns.ioprio_set(o.class, o.level)) end

return { RUN = RUN }
