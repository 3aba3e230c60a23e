--- luactr.runner.report: what `luactr --plan [--json]` and `luactr
-- --timings` print, plugged into ns.container's hooks by the runner. The
-- library only calls the hooks; printing and ending the process is the
-- runner's.
local container = require "ns.container"

local fmt = string.format
local mode = os.getenv("LUACTR_PLAN")

-- A value for the plan: functions as <lua function file:line>, fd handles
-- as <fd N>; the rest as it is.
local function plain(v, seen)
  local t = type(v)
  if t == "function" then
    local i = debug.getinfo(v, "S")
    return fmt("<lua function %s:%d>", i.short_src, i.linedefined)
  elseif t == "userdata" then
    return "<" .. tostring(v) .. ">"
  elseif t == "table" then
    seen = seen or {}
    if seen[v] then return "<cycle>" end
    seen[v] = true
    local out = {}
    for k, x in pairs(v) do out[k] = plain(x, seen) end
    seen[v] = nil
    return out
  end
  return v
end

local function args_of(o)
  local t = {}
  for k, v in pairs(o) do
    if k ~= "op" and k ~= "where" and k ~= "name" and k ~= "n" then t[k] = plain(v) end
  end
  return t
end

-- Every key in v (tables, recursively), sorted, the first ones first: a
-- key order for dkjson that makes its output the same from run to run.
local function keyorder(v, first)
  local seen, out = {}, {}
  for _, k in ipairs(first) do seen[k] = true; out[#out + 1] = k end
  local rest = {}
  local function walk(t)
    for k, x in pairs(t) do
      if type(k) == "string" and not seen[k] then seen[k] = true; rest[#rest + 1] = k end
      if type(x) == "table" then walk(x) end
    end
  end
  walk(v)
  table.sort(rest)
  for _, k in ipairs(rest) do out[#out + 1] = k end
  return out
end

if mode then
  container.hooks.plan = function(c, ops)
    local json = require "dkjson"
    if mode == "json" then
      local list = {}
      for i, o in ipairs(ops) do list[i] = plain(o) end
      local doc = { container = c.name, ops = list }
      io.stdout:write(json.encode(doc, { indent = true, keyorder = keyorder(doc, { "container", "n", "where", "op", "name" }) }), "\n")
    else
      io.stdout:write(fmt("%s: %d ops\n", c.what, #ops))
      for i, o in ipairs(ops) do
        local t = args_of(o)
        local a = next(t) and ("  " .. json.encode(t, { keyorder = keyorder(t, {}) })) or ""
        io.stdout:write(fmt("%3d  %-6s  %-14s %s%s\n", i, o.where, o.op, o.name, a))
      end
    end
    io.stdout:flush()
    -- Nothing runs, not even the rest of the recipe (which would act on a
    -- container that does not exist).
    os.exit(0, true)
  end
end

-- The steps of h that have a time, in order, on stderr.
local function steps(h)
  for i, o in ipairs(h.ops) do
    local t = h.times[i]
    if t then io.stderr:write(fmt("%3d  %-6s  %8.3f ms  %s\n", i, o.where, t * 1e3, o.name)) end
  end
end

if os.getenv("LUACTR_TIMINGS") then
  container.hooks.finished = function(h)
    io.stderr:write(fmt("%s: timings\n", h.c.what))
    steps(h)
    io.stderr:write(fmt("     total   %8.3f ms (start to exit)\n", (h.t_end - h.t_start) * 1e3))
  end
  -- A start that failed: the steps it got through, then the one that
  -- failed (its error follows, as luactr prints it).
  container.hooks.failed = function(h, err)
    local n = type(err) == "table" and math.tointeger(err.step)
    io.stderr:write(fmt("%s: timings (the start failed)\n", h.c.what))
    steps(h)
    local o = n and h.ops[n]
    if o then io.stderr:write(fmt("%3d  %-6s  %8s     %s\n", n, o.where, "failed", o.name)) end
    io.stderr:write(fmt("     total   %8.3f ms (start to failure)\n", (require("ns").clock() - h.t_start) * 1e3))
  end
end
