--- ns.ops.landlock: the landlock op, which holds the container's process
-- (and all it starts) to the recipe's rules with the Landlock LSM, last
-- before exec. Loaded by ns.ops when a plan has it.
--
-- The ruleset handles every filesystem right this kernel's ABI knows, so
-- that whatever no rule grants is denied. Best effort: a kernel without
-- Landlock (ENOSYS, or EOPNOTSUPP when it is not enabled at boot) leaves
-- the container unrestricted, and an older ABI drops the rights it lacks
-- from the ruleset, each with a warning on the container's stderr; with
-- required, either is an error and the container does not start.
local ns = require "ns.core"
local errors = require "ns.errors"

local fmt, concat = string.format, table.concat
local must = errors.must

local RUN = {}

-- Every filesystem right, and the ABI that brought it (1 when not listed).
local FS = { "execute", "write_file", "read_file", "read_dir", "remove_dir", "remove_file", "make_char",
  "make_dir", "make_reg", "make_sock", "make_fifo", "make_block", "make_sym", "refer", "truncate", "ioctl_dev" }
local SINCE = { refer = 2, truncate = 3, ioctl_dev = 5 }
-- What a rule on a file (not a directory) may grant.
local FILE = { execute = true, write_file = true, read_file = true, truncate = true, ioctl_dev = true }

-- Say msg on fd 2 (the container's stderr by now): through a handle of
-- our own, not io.stderr, whose FILE a vfork child shares with luactr.
local function warn(x, msg)
  local fd = ns.dup(2, 3)
  if not fd then return end
  fd:write(fmt("luactr: %s: warning: landlock: %s\n", x.c.what, msg))
  fd:close()
end

-- The ABI to use and what to call it: the kernel's, or o.abi when that is
-- lower (an op pinned to an older ABI, as a spec simulates one); nil, why,
-- errno without one.
local function abi_of(o)
  local abi, why, e = ns.landlock_abi()
  if abi and o.abi and o.abi < abi then
    local pin = math.tointeger(o.abi)
    if not pin or pin < 1 then
      return nil, fmt("the op's abi is %s; the kernel's %d", tostring(o.abi), abi), ns.E.EOPNOTSUPP
    end
    return pin, fmt("ABI %d (the op's abi; the kernel's is %d)", pin, abi)
  end
  if not abi then return nil, why, e end
  return abi, fmt("this kernel's ABI %d", abi)
end

function RUN.landlock(x, o)
  local abi, why, e = abi_of(o)
  if not abi then
    if o.required then
      errors.raise({ call = "landlock_create_ruleset", errno = e,
        message = "landlock_required, but Landlock is not available: " .. why })
    end
    warn(x, "not available (" .. why .. "): the container runs unrestricted")
    return
  end
  local handled, lacking = {}, {}
  for _, a in ipairs(FS) do
    if (SINCE[a] or 1) <= abi then handled[#handled + 1] = a else lacking[#lacking + 1] = a end
  end
  if #lacking > 0 then
    local need = {}
    for i, a in ipairs(lacking) do need[i] = fmt("%s (ABI %d)", a, SINCE[a]) end
    if o.required then
      errors.raise({ call = "landlock_create_ruleset", errno = ns.E.EOPNOTSUPP,
        message = fmt("landlock_required, but %s lacks %s", why, concat(need, ", ")) })
    end
    -- Without refer the kernel denies more, not less: a rename or link
    -- into another directory, always.
    local loose = {}
    for _, a in ipairs(lacking) do if a ~= "refer" then loose[#loose + 1] = a end end
    local msg = fmt("%s lacks %s", why, concat(lacking, ", "))
    if #loose > 0 then msg = msg .. ": " .. concat(loose, " and ") .. " not restricted" end
    if abi < 2 then msg = msg .. "; without refer, nothing may be renamed or linked into another directory" end
    warn(x, msg)
  end
  local is_handled = {}
  for _, a in ipairs(handled) do is_handled[a] = true end
  local rs <close> = must("landlock_ruleset", ns.landlock_ruleset(handled))
  for _, r in ipairs(o.rules) do
    local st, msg, se = ns.stat(r.path)
    if not st then errors.raise({ call = "stat", errno = se, message = "landlock rule for " .. msg:gsub("^stat ", "") }) end
    local access = {}
    for _, a in ipairs(r.access) do
      if is_handled[a] and (st.type == "dir" or FILE[a]) then access[#access + 1] = a end
    end
    if #access > 0 then
      local ok, amsg, ae = ns.landlock_add_path(rs, r.path, access)
      must("landlock_add_rule", ok, amsg and ("landlock rule for " .. amsg:gsub("^%S+ ", "")), ae)
    end
  end
  must("landlock_restrict_self", ns.landlock_restrict(rs))
end

return { RUN = RUN }
