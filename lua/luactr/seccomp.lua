--- luactr seccomp show [--caps LIST] [default | FILE.lua]: a short summary
-- of a seccomp profile as luactr applies it: the default action, the
-- architectures, how many calls it allows whatever the arguments, its
-- conditional rules, the calls that only a capability or an architecture
-- allows (marked when the container would get them), the names that this
-- libseccomp cannot filter, and the size of the compiled program. FILE.lua
-- returns a profile table, or a recipe's seccomp value ({profile =, notify
-- = ...}). --caps: the container's capabilities, comma-separated, "all" or
-- "none" (default: docker's 14, luactr's default).
local usage = "usage: luactr seccomp show [--caps LIST|all|none] [default | FILE.lua]\n"

local function fail(msg, code)
  io.stderr:write("luactr seccomp: ", msg, "\n")
  os.exit(code or 1)
end

local args = arg or {}
if args[1] == "--help" or args[1] == "-h" then
  io.stdout:write(usage)
  os.exit(0)
end
if args[1] ~= "show" then io.stderr:write(usage); os.exit(2) end
local caps, what
local i = 2
while args[i] do
  local a = args[i]
  if a == "--caps" then
    caps = args[i + 1] or fail("--caps needs a list of capabilities", 2)
    i = i + 2
  elseif a:sub(1, 2) == "--" then
    fail("unknown flag '" .. a .. "' (valid: --caps)", 2)
  elseif what then
    fail("one profile at a time\n" .. usage, 2)
  else
    what = a
    i = i + 1
  end
end
what = what or "default"

local recipe = require "ns.recipe"
local t = { name = "seccomp-show" }
if caps == "all" or caps == "none" then
  t.capabilities = caps
elseif caps then
  local list = {}
  for n in caps:gmatch("[^,%s]+") do list[#list + 1] = n end
  t.capabilities = list
end

local value, label
if what == "default" then
  value, label = nil, "default profile (moby's profiles/seccomp/default.json)"
else
  local chunk, err = loadfile(what)
  if not chunk then fail(err) end
  local ok, v = pcall(chunk)
  if not ok then fail(tostring(v)) end
  if type(v) ~= "table" then fail(what .. " must return a profile table, not a " .. type(v)) end
  value, label = v, what
end
t.seccomp = value

local ok, c = pcall(recipe.check, t)
if not ok then fail((tostring(c):gsub('^container "seccomp%-show": ', what .. ": "))) end
local check = require "ns.security.seccomp_check"
local seccomp = require "ns.security.seccomp"
local p = seccomp.default_profile()
if type(value) == "table" then p = check.value(c.what, value) end
print(check.summary(p, c.capabilities, label))
if c.seccomp.notify then print("  notify (luactr's handlers decide): " .. table.concat(c.seccomp.notify, " ")) end
print(("  compiled: %d instructions (%s/%s.bpf)"):format(c.seccomp.insns, seccomp.cache_dir(), c.seccomp.key))
