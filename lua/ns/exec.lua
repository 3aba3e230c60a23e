--- ns.exec: run a command in a running container, as `docker exec` does.
-- A child joins the container's namespaces through its pidfd (one setns
-- for all), then forks so that its own child lands in the pid namespace
-- too; that grandchild runs the same identity ops as the container's first
-- process (ns.plan.identity: ids, rlimits, fds, cwd, capabilities,
-- no_new_privs) and execs.
local ns = require "ns.core"
local errors = require "ns.errors"
local launch = require "ns.launch"
local ops = require "ns.ops"
local plan = require "ns.plan"
local recipe = require "ns.recipe"
local util = require "ns.util"

local M = {}

local fmt = string.format
local must = errors.must

local OPTS = { env = true, cwd = true, tty = true, detach = true, listener = true, orphan = true }

-- "<container>: exec CMD: why", once: the child's report may name the
-- exec already.
local function failed(what, cmd, msg)
  msg = launch.unline(msg)
  local head = "exec " .. cmd .. ": "
  if msg:sub(1, #head) == head then msg = msg:sub(#head + 1) end
  return fmt("%s %s: %s", what, cmd, msg)
end

--- exec(h, args [, opts]) -> status. opts: env (added to the container's),
-- cwd (default: the container's), tty (a pty of the container's own
-- devpts, relayed to luactr's terminal as a start's is), detach (return
-- once args has been exec'd, its stdio /dev/null: the status is {pid},
-- the process the container's init inherits), listener (a function
-- given the seccomp listener of the command, when the container's profile
-- has notify handlers: luactr exec hands it to the process that holds
-- them). Without it the handlers in h answer the command's calls: while
-- exec waits, or, detached, while h is waited for; with tty that needs
-- listener. orphan: return {pid, master} once args has been exec'd,
-- keeping luactr's stdio (with tty: the pty's master, unrelayed, for the
-- caller to pass on), the command the orphan of luactr's middle child, so
-- that the nearest subreaper of the caller's adopts it and gets its
-- status (an OCI runtime's exec --detach, for a shim or conmon).
function M.exec(h, args, opts)
  local c = h.c
  local what = c.what .. ": exec"
  opts = opts or {}
  if type(opts) ~= "table" then error(what .. ": options must be a table", 2) end
  util.check_keys(what, opts, OPTS)
  if type(args) ~= "table" then error(what .. ": args must be a list", 2) end
  args = recipe.str_list(what, "args", args)
  if #args == 0 then error(what .. ": args is empty", 2) end
  local env = {}
  for k, v in pairs(c.environ) do env[k] = v end
  for _, kv in ipairs(recipe.check_env(what, opts.env or {})) do env[kv[1]] = kv[2] end
  local cwd = recipe.str(what, "cwd", opts.cwd or c.cwd)
  local tty, detach, orphan = opts.tty == true, opts.detach == true, opts.orphan == true
  if tty and detach then error(what .. ": tty and detach: a detached command has no terminal", 2) end
  if orphan and detach then error(what .. ": orphan and detach: one or the other", 2) end
  -- A session keyring of its own, as the container's first process has:
  -- the caller's (the host's) would be reachable otherwise.
  local list = { { op = "keyring", where = "child", name = "session keyring (new, empty)" } }
  list[#list + 1] = plan.become(c)
  -- With notify handlers the command's filter has a listener too, which
  -- comes back here (see the listener's way below).
  local notify = c.seccomp and c.seccomp.notify and true or nil
  if notify and tty and not opts.listener then
    error(what .. ": tty: a terminal's relay answers no seccomp notification; the handlers need tty = false", 2)
  end
  plan.identity(setmetatable({ tty = tty }, { __index = c }),
    { args = args, env = env, cwd = cwd, stdio = tty, notify = notify }, list)
  local types = {}
  for n in pairs(c.nsset) do types[#types + 1] = n end
  table.sort(types)
  ops.load(list)
  -- A seccomp agent (the profile's notify groups): the command's listener
  -- goes to it, with the command's pid, which the middle child writes
  -- first on the pipe (a detached command's is its own child's: not known).
  local agent = notify and c.seccomp.agent and not detach and c.seccomp.agent or nil
  local asock
  if agent then
    local e
    asock, e = ns.unix_connect(agent.socket)
    if not asock then error(fmt("%s %s: seccomp agent: %s", what, args[1], tostring(e)), 2) end
  end
  local r, w = must("pipe", ns.pipe())
  local gr, gw = must("pipe", ns.pipe())
  local psock, csock
  if tty or notify then psock, csock = must("socketpair", ns.socketpair()) end
  local null = detach and must("open /dev/null", ns.open("/dev/null", { "rdwr" }))
  local pid, pidfd = ns.clone({})
  if not pid then
    r:close(); w:close(); gr:close(); gw:close()
    if psock then psock:close(); csock:close() end
    if null then null:close() end
    error(fmt("%s %s: %s", what, args[1], pidfd), 2)
  end
  if pid == 0 then
    -- Neither child ever returns into the recipe: every failure is
    -- written to the pipe and ends the process.
    collectgarbage("stop")
    local _, oerr = pcall(function()
      r:close()
      gw:close()
      if psock then psock:close() end
      ns.prctl("pdeathsig", "KILL")
      -- Not dumpable: once it has joined, nothing in the container may
      -- ptrace it or open its /proc/PID/exe (the host's luactr).
      must("prctl", ns.prctl("dumpable", false))
      -- Wait until luactr has put us in the container's cgroup.
      if gr:read(1) ~= "g" then ns._exit(126) end
      -- A chroot container's root is not its mount namespace's: keep a
      -- handle on it from the host's side to go there after the setns.
      local root = c.chroot and must("open root", ns.open(("/proc/%d/root"):format(h.pid), { "path", "directory" }))
      must("setns", ns.setns(h.pidfd, types))
      if root then
        must("fchdir", ns.chdir(root))
        must("chroot", ns.chroot("."))
        root:close()
      end
      local cpid, cfd = ns.clone({})
      if not cpid then error(cfd, 0) end
      if cpid == 0 then
        -- A detached one outlives us: no parent-death signal for it.
        local x = { c = c, handle = h, sock = csock,
          rearm = not (detach or orphan) and function() must("prctl", ns.prctl("pdeathsig", "KILL")) end or nil }
        if orphan then must("prctl", ns.prctl("pdeathsig", false)) end
        local _, err = pcall(function()
          if detach then
            -- Once more: the command's parent then ends inside the
            -- container's pid namespace, whose init adopts it (and no
            -- subreaper of luactr's).
            local gpid, gerr = ns.clone({})
            if not gpid then error(gerr, 0) end
            if gpid ~= 0 then ns._exit(0) end
          end
          if null then
            for fd = 0, 2 do must("dup2", ns.dup2(null, fd)) end
            null:close()
            must("setsid", ns.setsid())
          end
          for i = 1, #list - 1 do ops.run(x, list, i) end
          local o = list[#list]
          local _, emsg, e = ns.exec(o.path, o.argv, ops.exec_env(x, o))
          errors.raise({ call = "exec", errno = e, message = emsg })
        end)
        pcall(w.write, w, launch.oneline(tostring(errors.wrap(err, {}).message)))
        ns._exit(127)
      end
      if csock then csock:close() end
      if orphan then
        -- Its pid as the host sees it; then it is the orphan of us.
        w:write(fmt("P%d\n", cpid))
        ns._exit(0)
      end
      if agent then w:write(fmt("P%d\n", cpid)) end
      w:close()
      if detach then
        ns.wait(cfd)
        ns._exit(0)
      end
      local st = ns.wait(cfd)
      ns._exit(st and st.status or 126)
    end)
    pcall(w.write, w, launch.oneline(tostring(oerr)))
    ns._exit(126)
  end
  w:close()
  gr:close()
  if csock then csock:close() end
  if null then null:close() end
  if h.cgroup then
    local ok, err = pcall(h.cgroup.add, h.cgroup, pid)
    if not ok then
      ns.kill(pidfd, "KILL")
      ns.wait(pidfd)
      pidfd:close(); gw:close(); r:close()
      if psock then psock:close() end
      error(fmt("%s %s: %s", what, args[1], tostring(err)), 2)
    end
  end
  gw:write("g")
  gw:close()
  local st
  -- The command's pid, for the agent (orphan's line, read again below).
  local pid_line = ""
  if agent then
    while not pid_line:find("\n", 1, true) do
      local b = r:read(1)
      if not b or b == "" then break end
      pid_line = pid_line .. b
    end
  end
  -- The pty's master, then the listener, as the command's ops send them
  -- (none when it failed first).
  local master, listener
  for _ = 1, (tty and 1 or 0) + (notify and 1 or 0) do
    local tag, fd = ns.recvfd(psock)
    if not fd then break end
    if tag == "N\n" then listener = fd else master = fd end
  end
  if psock then psock:close() end
  if asock then
    local ok, why = true, nil
    if listener then
      local cmd_pid = math.tointeger(tonumber(pid_line:match("^P(%d+)")))
      ok, why = ops.to_agent({ agent = asock, agent_op = agent, pid = cmd_pid, state_pid = h.pid, status = "running", c = c },
        listener)
      listener = nil
    else
      asock:close()
    end
    if not ok then
      -- Its notified calls would wait for nobody.
      ns.kill(pidfd, "KILL")
      error(fmt("%s %s: %s", what, args[1], why), 2)
    end
  end
  -- The listener's way: to opts.listener (luactr exec: the socket of the
  -- process that holds the handlers), else answered here while we wait,
  -- or, for a command we do not wait for (detached, or on a terminal we
  -- relay), by whoever waits for the container (h.listeners).
  if listener then
    if opts.listener then
      opts.listener(listener)
      listener:close()
      listener = nil
    elseif not c.seccomp.handlers then
      -- Nobody to answer: its notified calls fail with ENOSYS.
      listener:close()
      listener = nil
    elseif detach then
      h.listeners = h.listeners or {}
      h.listeners[#h.listeners + 1] = listener
      listener = nil
    end
  end
  if orphan then
    -- The middle child ends at once; the command's pid comes first on
    -- the pipe, then (when its exec failed) why.
    ns.wait(pidfd)
    pidfd:close()
    local got = { pid_line }
    while true do
      local chunk = r:read(4096)
      if not chunk or chunk == "" then break end
      got[#got + 1] = chunk
    end
    r:close()
    local text = table.concat(got)
    local cpid, rest = text:match("^P(%d+)\n(.*)$")
    if not cpid or rest ~= "" then
      if master then master:close() end
      error(failed(what, args[1], rest or text), 2)
    end
    return { pid = math.tointeger(tonumber(cpid)), master = master }
  end
  if tty then
    if master then
      local rows, cols = ns.winsize(0)
      if rows then ns.winsize(master, rows, cols) end
      local sigfd = require("ns.supervise").forwarding_on(true)
      local restore = ns.isatty(0) and ns.rawmode(0)
      ns.relay(master, { pidfd = pidfd, sigfd = sigfd })
      if restore then restore:restore() end
      require("ns.supervise").forwarding_off(sigfd)
      master:close()
    end
  end
  if detach then
    -- The middle child ends at once; the command, once exec'd, has
    -- closed the pipe's other end.
    ns.wait(pidfd)
    pidfd:close()
    local msg = r:read(4096)
    r:close()
    if msg and msg ~= "" then error(failed(what, args[1], msg), 2) end
    return { detached = true }
  end
  if listener then
    -- Answer the command's calls, and the container's (we hold its
    -- handlers, and its waiter may be this very caller), until it ends.
    local notif = require "ns.security.seccomp_notify"
    while listener do
      local list = { pidfd, listener }
      if h.listener then list[3] = h.listener end
      local ready, hup = ns.poll(list)
      for _, i in ipairs(ready or {}) do
        if i == 1 then
          listener:close()
          listener = nil
          break
        elseif i == 2 then
          if hup[2] or notif.handle(h, listener) == false then listener:close(); listener = nil; break end
        else
          notif.handle(h)
        end
      end
    end
  end
  st = assert(ns.wait(pidfd))
  pidfd:close()
  local msg = r:read(4096)
  r:close()
  if msg and msg ~= "" then error(failed(what, args[1], msg), 2) end
  return st
end

return M
