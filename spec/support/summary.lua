-- summary.lua: a busted output handler that prints one line per test and
-- closes with "N passed, N failed[, N skipped]", the line CI reads.
-- Errors outside a test (a describe block that raises, a file that does not
-- load) count as failures.
local pretty = require "pl.pretty"

return function(options)
  local busted = require "busted"
  local handler = require "busted.outputHandlers.base"()
  local passed, failed, skipped = 0, 0, 0

  local function say(s) io.write(s, "\n"); io.flush() end

  local function where(t)
    local tr = t.element and t.element.trace
    if not tr then return "?" end
    return tostring(tr.short_src or "?") .. ":" .. tostring(tr.currentline or "?")
  end

  local function report(kind, t)
    local msg = t.message
    if type(msg) ~= "string" then msg = msg == nil and "nil error" or pretty.write(msg) end
    say(("%s %s (%s)"):format(kind, t.name or "?", where(t)))
    say("    " .. msg:gsub("\n", "\n    "))
    if t.trace and t.trace.traceback and os.getenv("LUACTR_DEBUG") then
      say("    " .. t.trace.traceback:gsub("\n", "\n    "))
    end
  end

  handler.testEnd = function(element, parent, status)
    local name = handler.getFullName(element)
    if status == "success" then
      passed = passed + 1
      if options.verbose then say("ok   " .. name) end
    elseif status == "pending" then
      skipped = skipped + 1
      local t = handler.pendings[#handler.pendings]
      say(("skip %s: %s"):format(name, t.message or "pending"))
    else
      failed = failed + 1
      local list = status == "failure" and handler.failures or handler.errors
      report("FAIL", list[#list])
    end
    return nil, true
  end

  handler.error = function(element)
    if element.descriptor ~= "it" then
      failed = failed + 1
      report("ERROR", handler.errors[#handler.errors])
    end
    return nil, true
  end

  handler.suiteEnd = function()
    local line = ("%d passed, %d failed"):format(passed, failed)
    if skipped > 0 then line = line .. (", %d skipped"):format(skipped) end
    say(line)
    return nil, true
  end

  busted.subscribe({ "test", "end" }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ "error" }, handler.error)
  busted.subscribe({ "failure" }, handler.error)
  busted.subscribe({ "suite", "end" }, handler.suiteEnd)
  return handler
end
