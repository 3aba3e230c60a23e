--- ns.container: a container from a table.
--
--   local container = require "ns.container"
--   local st = container.run{ hostname = "box", args = {"/bin/sh"} }
--   os.exit(st.status)
--
-- The table is checked (ns.recipe: unknown keys raise, listing the valid
-- ones), planned into an ordered list of typed ops (ns.plan), and run by
-- one interpreter (ns.ops) through the launcher (ns.launch): ops in the
-- parent (luactr) and in the child (inside the new namespaces, before
-- exec). container.plan(t) returns the ops; container.run_plan(ops) runs
-- a list, edited or not. The parent's ops that were done are undone in
-- reverse when a later one fails; the child's die with its mount
-- namespace. A failed op raises an ns.errors error ({container, step, op,
-- call, errno, message}) whose text names the container and the step:
--   container "web": step 7 (mount proc on /proc): ... (EPERM)
local ns = require "ns.core"
local recipe = require "ns.recipe"
local plan_mod = require "ns.plan"
local launch = require "ns.launch"
local supervise = require "ns.supervise"

local M = {}

M.default_capabilities = recipe.default_capabilities
M.default_namespaces = recipe.default_namespaces
M.forwarded_signals = supervise.forwarded_signals
M.outside_ids = plan_mod.outside_ids

--- hooks: what the runner (luactr --plan, --timings) plugs in. plan(c,
-- ops) is called instead of starting a container; finished(h) after one
-- has ended; failed(h, err) when its start failed, before err is raised
-- (h.times holds the steps done). The library itself neither prints nor
-- exits.
M.hooks = {}

local Handle = {}
Handle.__index = Handle

-- The canonical table of an op list: kept on the list by plan().
local CANON = setmetatable({}, { __mode = "k" })

--- plan(t) -> the op list for the recipe t: {{op = ..., where = ...,
-- name = "mount proc on /proc", n = 1, <the op's arguments>}, ...}.
function M.plan(t)
  local c = recipe.check(t)
  local list = plan_mod.ops(c)
  for i, o in ipairs(list) do o.n = i end
  CANON[list] = c
  return list
end

--- canonical(ops) -> the checked table (ns.recipe's canonical form) that
-- plan() made the op list from, or nil for a list it did not make.
function M.canonical(list) return CANON[list] end

--- run_plan(ops) -> a handle, like start: runs an op list that plan()
-- returned (edited or not).
function M.run_plan(list)
  local c = CANON[list]
  if not c then error("container.run_plan: not an op list from container.plan()", 2) end
  local ops = require "ns.ops"
  for i, o in ipairs(list) do
    if type(o) ~= "table" or not ops.known(o.op) then
      error(("%s: op %d: unknown op %s"):format(c.what, i, tostring(type(o) == "table" and o.op or o)), 2)
    end
    if o.where ~= "parent" and o.where ~= "child" then
      error(("%s: op %d (%s): where must be \"parent\" or \"child\""):format(c.what, i, tostring(o.op)), 2)
    end
  end
  -- The shape launch relies on: the parent's ops, "clone", more of the
  -- parent's, then the child's, ending with "exec".
  local seen_clone, in_child = false, false
  for i, o in ipairs(list) do
    local bad
    if o.op == "clone" then
      bad = (seen_clone or o.where ~= "parent") and "one \"clone\" op, in the parent"
      seen_clone = true
    elseif o.where == "child" then
      bad = not seen_clone and "the child's ops come after \"clone\""
      in_child = true
    elseif in_child then
      bad = "the parent's ops come before the child's"
    end
    if o.op == "exec" and (i ~= #list or o.where ~= "child") then bad = "\"exec\" is the child's last op" end
    if bad then error(("%s: op %d (%s): %s"):format(c.what, i, tostring(o.op), bad), 2) end
  end
  if not seen_clone or list[#list].op ~= "exec" then
    error(c.what .. ": an op list needs a \"clone\" op and ends with an \"exec\" op", 2)
  end
  if M.hooks.plan then M.hooks.plan(c, list) end
  local h = setmetatable({ c = c, ops = list, times = {}, name = c.name, t_start = ns.clock(),
    on_finish = M.hooks.finished }, Handle)
  h.x = { c = c, handle = h }
  local ok, res = pcall(launch.start, c, list, h)
  if not ok then
    if M.hooks.failed then M.hooks.failed(h, res) end
    error(res, 0)
  end
  local cap = h.x.capture
  if cap then
    h.capture = { stdout = cap.stdout, stderr = cap.stderr, buf = { stdout = {}, stderr = {} },
      size = { stdout = 0, stderr = 0 }, truncated = {} }
  end
  if c.timeout then h.timeout_at = ns.clock() + c.timeout end
  return h
end

--- start(t) -> a handle for a running container: h.pid, h.pidfd, h.name,
-- h:wait() -> status, h:kill(sig), h:exec(args) (docker exec), h:close().
function M.start(t)
  return M.run_plan(M.plan(t))
end

--- h:wait([{nohang = true}]) -> status {exited, code | killed, signal,
-- signo; status; oom, pids_limited, timeout, stdout, stderr, message}.
-- Relays the terminal (tty mode), or forwards signals and reads captured
-- output, until the container ends, then undoes the parent's ops (cgroup,
-- upper layer). With nohang, nil at once while it runs.
function Handle:wait(opts)
  if self.status then return self.status end
  local nohang = opts == "nohang"
  if type(opts) == "table" then
    require("ns.util").check_keys(self.c.what .. ": wait", opts, { nohang = true })
    nohang = opts.nohang == true
  elseif opts ~= nil and not nohang then
    error(self.c.what .. ": wait: options must be a table ({nohang = true})", 2)
  end
  return supervise.wait(self, nohang)
end

--- h:poll() -> status, or nil while the container runs (h:wait{nohang =
-- true}). h.pidfd becomes readable when it ends: select on it.
function Handle:poll() return self:wait({ nohang = true }) end

--- h:stop([seconds]) -> status: SIGTERM, then SIGKILL when it still runs
-- after seconds (default: the recipe's stop_timeout), as docker stop.
function Handle:stop(seconds)
  if seconds ~= nil and (type(seconds) ~= "number" or seconds < 0) then
    error(self.c.what .. ": stop: seconds must be a number, 0 or more", 2)
  end
  return supervise.stop(self, seconds)
end

function Handle:_finish(st) supervise.finish(self, st) end

--- h:kill([sig]) -> true: signals the container's first process.
function Handle:kill(sig)
  return ns.kill(self.pidfd, sig or "TERM")
end

--- h:exec(args [, opts]) -> status: runs args inside the running
-- container (see ns.exec); opts: env, cwd.
function Handle:exec(args, opts)
  return require("ns.exec").exec(self, args, opts)
end

Handle.__close = function(self)
  if self.pidfd and not self.status then
    ns.kill(self.pidfd, "KILL")
    local st = ns.wait(self.pidfd)
    supervise.finish(self, st)
  end
end

--- run(t) -> status: start the container and wait for it to end.
function M.run(t)
  local h = M.start(t)
  local st = h:wait()
  if st.message then io.stderr:write("luactr: ", h.c.what, ": ", st.message, "\n") end
  return st
end

return M
