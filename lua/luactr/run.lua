--- luactr run [flags] IMAGE|RECIPE.lua [CMD [ARG...]]: a container, as
-- docker run runs one: in the foreground, or with -d in the background
-- under a monitor (luactr prints its id and returns). ns.cli.run turns
-- the flags into one container table; ns.lifecycle records it (luactr
-- ps, exec, stop, logs ... find it by id or name) and runs it. The exit
-- status is the container's (128+n when signal n killed it), else
-- docker's: 125 when luactr run itself fails (a bad flag, a missing
-- image, a start that fails), 126 when the command cannot be run, 127
-- when it is not found.
local ns = require "ns.core"
local cli = require "ns.cli.run"

local function die(msg, code)
  io.stderr:write("luactr run: ", tostring(msg), "\n")
  os.exit(code or 125)
end

-- The words after "run" (arg also has the script at 0, luactr at -1).
local argv = table.move(arg or {}, 1, #(arg or {}), 1, {})
local ok, t, o = pcall(cli.parse, argv)
if not ok then die(t) end
if o.help then
  io.stdout:write(cli.help())
  os.exit(0)
end

local plan = os.getenv("LUACTR_PLAN")
-- What only a run needs (luactr --plan prints the ops and stops).
if not plan and not o.detach then
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

local function exit_code(err)
  if type(err) == "table" and err.op == "exec" then return err.errno == ns.E.ENOENT and 127 or 126 end
  return 125
end

if plan then
  -- --plan: the ops of the table, no record made.
  local started, err = pcall(require("ns.container").run, t)
  if not started then die(err, exit_code(err)) end
  os.exit(0)
end

local life = require "ns.lifecycle"
local started, s, st = pcall(life.run, t, { name = t.name, rm = o.rm, detach = o.detach,
  interactive = o.interactive, argv = argv, image = o.image or o.recipe, log_max = o.log_max, log_files = o.log_files })
if not started then die(s, exit_code(s)) end
if o.detach then
  print(s.id)
  os.exit(0)
end
os.exit(st.status)
