--- luactr logs [-f] [--tail N] [-t] CONTAINER: what a detached container
-- wrote on its stdout (to stdout) and stderr (to stderr), from the log
-- its monitor keeps; -f follows it until the container ends.
local ns = require "ns.core"
local ctr = require "ns.cli.ctr"
local a = ctr.parse("logs", "Show what a container wrote.", function(p)
  p:flag("-f --follow", "Follow the log until the container ends.")
  p:option("-n --tail", "Only the last N lines (all: every line)."):convert(function(v)
    if v == "all" then return -1 end
    local n = v:match("^%d+$") and math.tointeger(tonumber(v))
    if not n then return nil, "--tail " .. v .. ": a number of lines, or all" end
    return n
  end)
  p:flag("-t --timestamps", "Each line with the time it was written.")
  p:argument("container", "A container (id, id prefix or name).")
end, arg)
local s, why = ctr.find(a.container)
if not s then ctr.die("logs", why) end
if not s.log then
  ctr.die("logs", ("container %q has no log: it ran in the foreground, its output went to the terminal"):format(s.name))
end
local life = require "ns.lifecycle"

-- A line ended (F) or a part of one (P), to its stream.
local at_start = { stdout = true, stderr = true }
local function show(r)
  local out = r.stream:match("stderr$") and io.stderr or io.stdout
  if a.timestamps and at_start[r.stream] ~= false then out:write(r.time, " ") end
  out:write(r.text)
  if not r.partial then out:write("\n") end
  at_start[r.stream] = not r.partial
end

-- The records of text, up to its last newline; the rest waits in rest.
local rest = ""
local function records_of(text)
  text = rest .. text
  local cut = text:match(".*()\n")
  if not cut then rest = text return {} end
  rest = text:sub(cut + 1)
  return life.log_lines(text:sub(1, cut))
end

-- Every file, oldest first (the rotated ones, then the log).
local records, f, ino = {}, nil, nil
for _, path in ipairs(life.log_files(s)) do
  local h = io.open(path, "rb")
  if h then
    local st = ns.stat(path)
    for _, r in ipairs(records_of(h:read("a") or "")) do records[#records + 1] = r end
    if path == s.log then f, ino = h, st and st.ino else h:close() end
  end
end
if not f then ctr.die("logs", ("container %q: its log %s is gone"):format(s.name, s.log)) end

local first = 1
if a.tail and a.tail >= 0 then
  -- The last N lines: records that end one, counted from the end.
  local lines = 0
  first = #records + 1
  for i = #records, 1, -1 do
    if not records[i].partial then
      if lines == a.tail then break end
      lines = lines + 1
    end
    first = i
  end
end
for i = first, #records do show(records[i]) end
io.stdout:flush()
if a.follow then
  while true do
    local ok = pcall(s.reload, s)
    local done = not ok or s.status == "exited" and not s:held()
    for _, r in ipairs(records_of(f:read("a") or "")) do show(r) end
    -- Rotated: what the old file got last, then the new one.
    local st = ns.stat(s.log)
    if st and st.ino ~= ino then
      f:close()
      f, ino = io.open(s.log, "rb"), st.ino
      if not f then break end
    elseif not done then
      io.stdout:flush()
      io.stderr:flush()
      ns.sleep(0.1)
    end
    if done and (not st or st.ino == ino) then
      for _, r in ipairs(records_of(f:read("a") or "")) do show(r) end
      break
    end
  end
end
f:close()
