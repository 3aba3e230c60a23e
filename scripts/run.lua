-- run.lua: the last step of `make run`: a recipe (examples/busybox.lua)
-- run as luactr runs it, with the container's exit status reported as a
-- line of its own. make would print any status but 0 as "*** [Makefile:NN:
-- run] Error 3", which reads as a failed build, when the user only typed
-- `exit 3` in the container's shell. The recipe ends with
-- os.exit(st.status), so that call is where the status is known to be the
-- container's; luactr's own failure (an error, no os.exit) still fails make.
-- Usage: luactr scripts/run.lua RECIPE [args...]
local recipe = assert(arg[1], "usage: luactr scripts/run.lua RECIPE [args...]")

local exit = os.exit
os.exit = function(code, close)
  if code == nil or code == true then
    code = 0
  elseif code == false then
    code = 1
  end
  if code ~= 0 then
    io.stderr:write(("make run: the shell in the container exited with status %d\n"):format(code))
  end
  exit(0, close)
end

-- The recipe sees the arg and ... that `luactr RECIPE args...` gives it.
arg = table.move(arg, 1, #arg, 0, {})
assert(loadfile(recipe))(table.unpack(arg, 1, #arg))
