--- luactr run [flags] IMAGE|RECIPE.lua [CMD [ARG...]]: a container in the
-- foreground, as docker run runs one. ns.cli.run turns the flags into
-- one container table, and ns.container runs it. The exit status is the
-- container's (128+n when signal n killed it), else docker's: 125 when
-- luactr run itself fails (a bad flag, a missing image, a start that
-- fails), 126 when the command cannot be run, 127 when it is not found.
local ns = require "ns.core"
local cli = require "ns.cli.run"

local function die(msg, code)
  io.stderr:write("luactr run: ", tostring(msg), "\n")
  os.exit(code or 125)
end

local ok, t, o = pcall(cli.parse, arg or {})
if not ok then die(t) end
if o.help then
  io.stdout:write(cli.help())
  os.exit(0)
end

-- What only a run needs (luactr --plan prints the ops and stops).
if not os.getenv("LUACTR_PLAN") then
  if t.tty then
    if o.interactive and not ns.isatty(0) then die("the input device is not a TTY (-t with -i needs a terminal on stdin)") end
    if not ns.isatty(1) then die("the output device is not a TTY (-t needs a terminal on stdout)") end
  end
  -- Without -i the container's stdin is /dev/null, as docker's is; with
  -- -t, the pty gets no input (the relay reads luactr's stdin).
  if not o.interactive and t.stdin == nil then
    local null = assert(io.open("/dev/null", "r"))
    assert(ns.dup2(ns.fileno(null), 0))
    null:close()
  end
end

local started, st = pcall(require("ns.container").run, t)
if not started then
  local code = 125
  if type(st) == "table" and st.op == "exec" then code = st.errno == ns.E.ENOENT and 127 or 126 end
  die(st, code)
end
os.exit(st.status)
