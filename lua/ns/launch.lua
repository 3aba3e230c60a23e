--- ns.launch: runs an op list (ns.plan) to a running container. The
-- parent's ops run in luactr up to "clone"; the clone's child runs the
-- child's ops and execs, while luactr runs the ops between "clone" and the
-- child's first op (id maps, cgroup join, parent hooks) and then tells it
-- to go.
--
-- When luactr has nothing to do between the clone and the child's ops
-- (the plan marks the clone op vfork), the child is a vfork child
-- (ns.spawn): it shares luactr's memory, which spares the copy that a
-- fork costs both sides, and luactr waits in the clone until it has
-- exec'd. It works on a context of its own (a table over luactr's, so that
-- what it finds stays out of luactr's) and runs no recipe code: a plan
-- with hooks in the child forks.
--
-- Parent and child talk over a socketpair. A forked child with luactr's
-- work to wait for waits for "g" (the wait_go op). The child sends, in one
-- write, its start ("S<clock>"), each op's time ("T<i>\t<s>") and the exec
-- mark ("X<clock>"), or a failure ("E<i>\t<errno>\t<text>"); the socket is
-- close-on-exec, so end-of-file means the exec succeeded. A child that
-- dies without a report failed during setup.
local ns = require "ns.core"
local errors = require "ns.errors"
local ops = require "ns.ops"
local supervise = require "ns.supervise"

local M = {}

local fmt, concat = string.format, table.concat
local must = errors.must

-- One line of text, whatever e is, at most 4 KiB: a failure on the socket.
local function oneline(s)
  if #s > 4096 then s = s:sub(1, 4096) .. fmt("... (%d bytes)", #s) end
  return (s:gsub("[\\\n]", { ["\\"] = "\\\\", ["\n"] = "\\n" }))
end
M.oneline = oneline

function M.unline(s)
  return (s:gsub("\\(.)", { ["\\"] = "\\", n = "\n" }))
end

-- "E<i>\t<errno>\t<text>\n" for the error e of op i.
local function report_error(i, e)
  local w = errors.wrap(e, {})
  return fmt("E%d\t%d\t%s\n", i, math.tointeger(w.errno) or 0, oneline(w.message))
end

-- The child's ops, then exec. Returns only by raising: the caller ends the
-- child, so that it never returns into the recipe.
local function child_main(x, list, first, go)
  local sock = x.sock
  -- A parent that dies before this is seen by "wait for parent" (its end
  -- of the socket closes), or without one by the check below; after it,
  -- pdeathsig ends the child.
  must("prctl", ns.prctl("pdeathsig", "KILL"))
  x.wait_go = function()
    local b = sock:read(1)
    if b ~= "g" then error("parent went away before the start signal", 0) end
  end
  x.rearm = function()
    -- A change of the effective ids clears the parent-death signal: set
    -- it again, then check that the parent did not die in between. It
    -- writes nothing after "g", so a readable socket is its end closing.
    must("prctl", ns.prctl("pdeathsig", "KILL"))
    if #ns.poll({ sock }, 0) > 0 then error("parent went away during setup", 0) end
  end
  if not go and #ns.poll({ sock }, 0) > 0 then error("parent went away before setup", 0) end
  must("sigmask", ns.sigmask("set", {}))
  -- Op times are kept here and go to the parent in one write, with the
  -- exec mark or the failure: one wake-up of luactr, not one an op.
  -- (x.report, not a local: the hold op sends what it holds and starts
  -- a new one.)
  local last = #list
  for i = first, last - 1 do
    x.step = i
    local t0 = ns.clock()
    ops.run(x, list, i)
    x.report[#x.report + 1] = fmt("T%d\t%.9f\n", i, ns.clock() - t0)
  end
  local o = list[last]
  x.step = last
  x.report[#x.report + 1] = fmt("X%.9f\n", ns.clock())
  -- A parent that has gone (EPIPE) gets no container: nothing would
  -- supervise it. Once held, luactr has gone on purpose.
  if not x.held then must("report to luactr", sock:write(concat(x.report))) end
  local _, msg, e = ns.exec(o.path, o.argv, ops.exec_env(x, o))
  sock:write(fmt("E%d\t%d\t%s\n", last, e or 0, oneline(tostring(msg))))
  ns._exit(e == ns.E.ENOENT and 127 or 126)
end

-- The child's life from the clone on: its ops, then exec; it never returns.
local function child_entry(x, sock, list, first, go, shared)
  if shared then x = setmetatable({}, { __index = x }) end
  x.sock = sock
  x.step = first
  x.report = { fmt("S%.9f\n", ns.clock()) }
  local _, err = pcall(child_main, x, list, first, go)
  if x.held then
    -- Held, then started: nobody reads the socket now. The container's
    -- stderr is where its failure shows, as with runc's init.
    local o = list[x.step]
    pcall(io.stderr.write, io.stderr, fmt("luactr: step %d (%s): %s\n", x.step, o and o.name or "?",
      oneline(errors.wrap(err, {}).message)))
    ns._exit(127)
  end
  x.report[#x.report + 1] = report_error(x.step, err)
  pcall(sock.write, sock, concat(x.report))
  ns._exit(127)
end

-- Index of the op named name in list, or nil.
local function find(list, name)
  for i, o in ipairs(list) do if o.op == name then return i end end
end

--- start(c, list, h) -> h, running: c the canonical table, list its ops,
-- h the handle to fill (h.x is the context).
function M.start(c, list, h)
  local clone_i, exec_i = find(list, "clone"), #list
  if not clone_i or list[exec_i].op ~= "exec" then
    error(c.what .. ": an op list needs a \"clone\" op and ends with an \"exec\" op", 0)
  end
  local first_child = clone_i + 1
  while list[first_child] and list[first_child].where ~= "child" do first_child = first_child + 1 end
  local x = h.x
  local times = h.times
  ops.load(list)
  local function fail(e, upto)
    ops.undo(x, list, upto)
    error(e, 0)
  end
  for i = 1, clone_i - 1 do
    local t0 = ns.clock()
    local ok, err = pcall(ops.run, x, list, i)
    if not ok then fail(err, i) end
    times[i] = ns.clock() - t0
  end
  local function step_error(i, msg, errno, call)
    return errors.new({ container = c.what, step = i, op = list[i].op, label = list[i].name, message = msg,
      errno = errno, call = call })
  end

  local psock, csock, serr = ns.socketpair()
  if not psock then fail(step_error(clone_i, csock, serr, "socketpair"), clone_i) end
  -- Signals for luactr to forward: blocked before the clone, so none is
  -- lost between the clone and the relay; the child clears its mask.
  local sigfd = supervise.forwarding_on(c.tty)
  h.sigfd = sigfd

  -- Recipe code in the child, or a child that stays (the init reaper),
  -- needs a fork, whatever the clone op says.
  local clone, go, fork = list[clone_i], false, false
  for i = first_child, exec_i do
    local op = list[i].op
    if op == "wait_go" then go = true end
    if op == "hook" or op == "init" or op == "hold" or op == "oci_hooks" then fork = true end
  end
  local vfork = clone.vfork and first_child == clone_i + 1 and not go and not fork
  local opts
  local v2 = not vfork and x.cg and x.cg.v2_path and x.cg:v2_path()
  if v2 and x.cg.mode == "v2" then
    x.cgfd = ns.open(v2, { "path", "directory" })
    opts = x.cgfd and { cgroup = x.cgfd } or nil
  end
  local t0 = ns.clock()
  local pid, pidfd, cerrno
  if vfork then
    -- The child shares our mm, whose dumpable flag its change of ids
    -- clears (commit_creds): ours comes back once it has exec'd.
    local dumpable = ns.prctl("dumpable")
    pid, pidfd, cerrno = ns.spawn(clone.types, function() child_entry(x, csock, list, first_child, false, true) end)
    if dumpable and not ns.prctl("dumpable") then ns.prctl("dumpable", true) end
    -- The child is in its groups, or failed before: gc may judge them.
    if x.cg then x.cg:unlock() end
  else
    pid, pidfd, cerrno = ns.clone(clone.types, opts)
    if pid == 0 then
      -- The child: it never returns from here, whatever fails. It lives
      -- a few hundred microseconds until exec: no collector in it, whose
      -- marking would write to, and so copy, every page of the heap it
      -- shares with luactr.
      collectgarbage("stop")
      psock:close()
      child_entry(x, csock, list, first_child, go, false)
    end
  end
  if x.cgfd then x.cgfd:close() end
  csock:close()
  -- What only the child needed open (the capture pipes' write ends):
  -- luactr's copies would keep the pipes from ever ending.
  for _, fd in ipairs(x.close_after_clone or {}) do fd:close() end
  if not pid then
    psock:close()
    supervise.forwarding_off(sigfd)
    local msg = tostring(pidfd)
    if cerrno == ns.E.EPERM and select(2, ns.getuid()) ~= 0 and not c.nsset.user then
      msg = msg .. ": namespaces other than user need privilege; add user = true to the recipe (root inside, you outside)"
    end
    fail(step_error(clone_i, msg, cerrno, "clone"), clone_i)
  end
  times[clone_i] = ns.clock() - t0
  h.pid, h.pidfd, h.cgroup = pid, pidfd, x.cg
  x.pid, x.cloned_into_cgroup = pid, opts ~= nil
  h.cloned_into_cgroup = opts ~= nil

  local function abort(e)
    ns.kill(pidfd, "KILL")
    ns.wait(pidfd)
    pidfd:close()
    psock:close()
    supervise.forwarding_off(sigfd)
    h.pidfd = nil
    fail(e, clone_i)
  end
  -- What luactr does while the child waits.
  for i = clone_i + 1, first_child - 1 do
    local t1 = ns.clock()
    local ok, err = pcall(ops.run, x, list, i)
    if not ok then abort(err) end
    times[i] = ns.clock() - t1
  end
  -- A child that died already makes this fail with EPIPE (sockets never
  -- raise SIGPIPE): its report, or none, tells what happened.
  if go then psock:write("g") end
  -- Read the child's reports until exec closes the socket.
  local buf, master, agent_failed = "", nil, nil
  while true do
    local s, fd = ns.recvfd(psock)
    if s and fd then -- a failed recvfd gives nil, message
      local tag = s:sub(1, 2)
      if tag == "I\n" then
        h.init_status = fd
      elseif tag == "N\n" and x.agent then
        local ok, why = ops.to_agent(x, fd)
        if not ok then agent_failed = why end
      elseif tag == "N\n" then
        h.listener = fd
      else
        master = fd
      end
    end
    if not s or s == "" then break end
    buf = buf .. s
    -- Held (the hold op): set up, waiting for its start; the socket
    -- stays open until the exec.
    if buf:find("\nH[%d.]+\n$") or buf:find("^H[%d.]+\n$") then break end
  end
  psock:close()
  if master then
    h.master = master
    local rows, cols = ns.winsize(0)
    if rows then ns.winsize(master, rows, cols) end
  end
  local failed, last = nil, first_child - 1
  for line in buf:gmatch("[^\n]+") do
    local kind, i, rest = line:match("^([TE])(%d+)\t(.*)$")
    if kind == "T" then
      times[tonumber(i)] = tonumber(rest)
      last = tonumber(i)
    elseif kind == "E" then
      local errno, text = rest:match("^(%d+)\t(.*)$")
      failed = failed or { tonumber(i), M.unline(text or rest), tonumber(errno) }
    else
      local mark, t = line:match("^([SXH])(.*)$")
      if mark == "X" then h.t_exec = tonumber(t) elseif mark == "S" then h.t_child = tonumber(t)
      elseif mark == "H" then h.held = tonumber(t) end
    end
  end
  if agent_failed and not failed then
    -- Its notified calls would wait for an agent that has no listener.
    ns.kill(pidfd, "KILL")
    failed = { find(list, "seccomp") or exec_i, agent_failed }
  end
  if x.agent then x.agent:close(); x.agent = nil end
  if not failed and not h.t_exec and not h.held then
    -- The socket closed with no report of exec: the child died in setup.
    failed = { math.min(last + 1, exec_i), "the container's process died during setup" }
  end
  if failed then
    local st = ns.wait(pidfd)
    pidfd:close()
    if h.init_status then h.init_status:close(); h.init_status = nil end
    if h.listener then h.listener:close(); h.listener = nil end
    supervise.forwarding_off(sigfd)
    if master then master:close(); h.master = nil end
    h.pidfd = nil
    local msg = failed[2]
    if msg:match("died during setup$") and st then
      msg = msg .. " (" .. (st.exited and ("exit " .. st.code) or ("killed by SIG" .. tostring(st.signal))) .. ")"
    end
    fail(step_error(failed[1], msg, failed[3] ~= 0 and failed[3] or nil), clone_i)
  end
  times[exec_i] = h.t_exec and (ns.clock() - h.t_exec) or nil
  -- luactr came back from a vfork clone only after the exec: the clone
  -- took until the child started.
  if vfork and h.t_child then times[clone_i] = h.t_child - t0 end
  return h
end

return M
