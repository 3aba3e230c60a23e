--- luactr exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...:
-- run CMD in a running container, as docker exec: it joins every
-- namespace of the container (the user namespace first, the time
-- namespace too) through a pidfd, its cgroup, its root and working
-- directory, with its identity and capabilities. The exit status is
-- CMD's; 126 when it cannot be run, 127 when it is not found, 1 when
-- luactr exec itself fails (no such container, not running).
local ns = require "ns.core"
local ctr = require "ns.cli.ctr"

-- The flags stop at the container: what follows is the command's.
local argv, cut = arg or {}, nil
local VALUE = { ["-e"] = true, ["--env"] = true, ["-w"] = true, ["--workdir"] = true, ["-u"] = true, ["--user"] = true }
local i = 1
while i <= #argv do
  local w = argv[i]
  if w == "--" then cut = i + 1 break end
  if w:sub(1, 1) ~= "-" then cut = i break end
  if VALUE[w] then i = i + 1 end
  i = i + 1
end
local flags = {}
for j = 1, (cut or #argv + 1) - 1 do if argv[j] ~= "--" then flags[#flags + 1] = argv[j] end end
local a = ctr.parse("exec", "Run a command in a running container.", function(p)
  p:flag("-i --interactive", "Keep stdin attached.")
  p:flag("-t --tty", "A terminal (pty) for the command; needs one on luactr's stdin and stdout.")
  p:flag("-d --detach", "Run it in the background (its output goes nowhere).")
  p:option("-e --env", "Set a variable: K=V, or K for its value here."):count("*")
  p:option("-w --workdir", "The working directory inside the container.")
  p:option("-u --user", "The user: name or uid, with :group or :gid.")
end, flags)
local ref = cut and argv[cut]
if not ref then ctr.die("exec", "needs a CONTAINER and a command (luactr exec [flags] CONTAINER CMD...)", 2) end
local cmd = {}
for j = cut + 1, #argv do cmd[#cmd + 1] = argv[j] end
if #cmd == 0 then ctr.die("exec", "needs a command after the container (luactr exec " .. ref .. " CMD...)", 2) end
if a.tty and not a.detach then
  if a.interactive and not ns.isatty(0) then ctr.die("exec", "the input device is not a TTY (-t with -i needs a terminal on stdin)") end
  if not ns.isatty(1) then ctr.die("exec", "the output device is not a TTY (-t needs a terminal on stdout)") end
end
if not a.interactive and not a.detach then
  local null = assert(ns.open("/dev/null", { "rdonly" }))
  ns.dup2(null, 0)
  null:close()
end
local env = {}
for _, kv in ipairs(a.env) do
  local k, v = kv:match("^([^=]+)=(.*)$")
  if k then env[k] = v
  elseif kv ~= "" then env[kv] = os.getenv(kv) end
end
if a.workdir and a.workdir:sub(1, 1) ~= "/" then ctr.die("exec", "-w " .. a.workdir .. ": the working directory must be absolute", 2) end

local s, why = ctr.find(ref)
if not s then ctr.die("exec", why) end
local ok, st = pcall(require("ns.lifecycle").exec, s, cmd,
  { env = env, cwd = a.workdir, user = a.user, tty = a.tty and not a.detach, detach = a.detach })
if not ok then
  local msg = tostring(st)
  local code = 1
  -- ns.exec's "container "x": exec CMD: why": the command's fault.
  if msg:find(": exec " .. cmd[1] .. ": ", 1, true) then
    code = msg:find("(ENOENT)", 1, true) and 127 or 126
  end
  ctr.die("exec", msg, code)
end
os.exit(st.status or 0)
