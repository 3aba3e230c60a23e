--- ns.errors: the error a failed container step raises. A table
--   {container =, step =, op =, call =, errno =, message =}
-- whose tostring is the text luactr prints:
--   container "web": step 7 (mount proc on /proc): mount proc on /proc: Operation not permitted (EPERM)
-- so that callers test err.errno == ns.E.EPERM instead of matching text.
local M = {}

local fmt = string.format

local Error = {}
Error.__index = Error
Error.__tostring = function(e) return e.text end
Error.__name = "ns.error"

--- is(v) -> whether v is such an error.
function M.is(v) return getmetatable(v) == Error end

--- new(t) -> an error from its fields; t.text, if missing, is made from
-- them: "<container>: step <n> (<label>): <message>".
function M.new(t)
  if not t.text then
    local head = t.container or "luactr"
    if t.step then head = fmt("%s: step %d (%s)", head, t.step, t.label or t.op or "?") end
    t.text = head .. ": " .. tostring(t.message)
  end
  return setmetatable(t, Error)
end

--- raise(t): error(new(t)), without a position.
function M.raise(t) error(M.new(t), 0) end

--- fail(call, ok, msg, errno, ...) -> ok, msg, errno, ... when ok; else
-- raises an error that keeps the core's message and errno (no step yet:
-- the interpreter adds it).
function M.must(call, ok, msg, errno, ...)
  if ok then return ok, msg, errno, ... end
  error(setmetatable({ call = call, errno = errno, message = msg and tostring(msg) or (call .. " failed"),
    text = msg and tostring(msg) or (call .. " failed") }, Error), 0)
end

--- wrap(e, fields) -> an error with e's message and errno (e an error of
-- ours or any value) and the fields given (container, step, op, label).
function M.wrap(e, fields)
  local t = {}
  if M.is(e) then
    t.call, t.errno, t.message = e.call, e.errno, e.message
  else
    local ok, s = pcall(tostring, e)
    t.message = ok and type(s) == "string" and s or fmt("(a %s error that tostring() cannot convert)", type(e))
  end
  for k, v in pairs(fields) do t[k] = v end
  return M.new(t)
end

return M
