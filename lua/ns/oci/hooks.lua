--- ns.oci.hooks: an OCI config's hooks, run as the runtime-spec says:
-- each program with the container's state (JSON) on its stdin, its own
-- args and env, in order, the first failure or timeout ending the run.
--
--   local hooks = require "ns.oci.hooks"
--   hooks.run(list, state_json, "poststart")   -- raises naming the hook
--   hooks.state(base, status, pid)             -- the state's JSON
--
-- Used by luactr-oci on the host (prestart, createRuntime, poststart,
-- poststop) and by the op oci_hooks in the container's namespaces
-- (createContainer before pivot_root, startContainer before the exec).
local ns = require "ns.core"
-- At load: the child that runs the op has pivoted, lua/ is out of reach.
local encode = require("ns.state").encode

local M = {}

local fmt = string.format

--- state(base, status, pid) -> JSON: base's ociVersion, id, bundle and
-- annotations with status and pid.
function M.state(base, status, pid)
  return encode({ ociVersion = base.ociVersion, id = base.id, status = status, pid = pid,
    bundle = base.bundle, annotations = base.annotations or {} }, "state")
end

local function check(what, ok, msg, ...)
  if not ok then error(fmt("%s: %s", what, tostring(msg)), 0) end
  return ok, msg, ...
end

--- run(list, stdin, what): each hook {path, args, env, timeout} with
-- stdin, in order; raises "WHAT hook N (PATH): why" for the first that
-- fails, is killed or outlives its timeout (then it is killed).
function M.run(list, stdin, what)
  for i, hk in ipairs(list or {}) do
    local name = fmt("%s hook %d (%s)", what, i, hk.path)
    local r, w = check(name, ns.pipe())
    -- A state fits a pipe's buffer (64 KiB) but for huge annotations:
    -- written before the hook starts, a hook that exits without reading
    -- it cannot end us with SIGPIPE.
    local early = #stdin <= 60000
    if early then
      w:write(stdin)
      w:close()
    end
    local pid, pidfd = ns.clone({})
    if pid == 0 then
      if not early then w:close() end
      ns.dup2(r, 0)
      local args = hk.args and #hk.args > 0 and hk.args or { hk.path }
      local _, msg = ns.exec(hk.path, args, hk.env or {})
      io.stderr:write(fmt("%s: %s\n", name, tostring(msg)))
      ns._exit(127)
    end
    r:close()
    if not pid then
      if not early then w:close() end
      error(fmt("%s: %s", name, tostring(pidfd)), 0)
    end
    if not early then
      w:write(stdin)
      w:close()
    end
    local ready = ns.poll({ pidfd }, hk.timeout and math.ceil(hk.timeout * 1000) or -1)
    if #ready == 0 then
      ns.kill(pidfd, "KILL")
      ns.wait(pidfd)
      pidfd:close()
      error(fmt("%s: timed out after %d s", name, hk.timeout), 0)
    end
    local st = ns.wait(pidfd)
    pidfd:close()
    if not (st and st.exited and st.code == 0) then
      error(fmt("%s: %s", name,
        st and (st.exited and ("exit status " .. st.code) or ("killed by SIG" .. tostring(st.signal))) or "lost"), 0)
    end
  end
end

return M
