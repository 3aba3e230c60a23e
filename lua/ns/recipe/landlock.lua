--- ns.recipe.landlock: the check of a recipe's landlock key, and what its
-- lists mean in Landlock's access rights; loaded by ns.recipe when the key
-- is given, and by ns.plan to make the op's rules.
--
--   landlock = { read = {"/"}, write = {"/tmp"}, execute = {"/bin"} }
--
-- The paths are the container's (after pivot_root). Everything not
-- granted is denied: the op handles every filesystem right the kernel
-- knows (ns.ops.landlock).
local recipe = require "ns.recipe"
local util = require "ns.util"

local fmt, concat = string.format, table.concat
local bad, str_list, abs_path = recipe.bad, recipe.str_list, recipe.abs_path

local M = {}

-- The rights each list grants, beneath each of its paths.
--   read:    open files for reading, list directories.
--   write:   every change: write and truncate files, create, remove and
--            rename (refer: into another directory) every kind of entry,
--            and ioctl on the device files opened there.
--   execute: run a program, which the kernel opens for reading too (a
--            script's interpreter and an ELF's loader are run the same way).
M.ACCESS = {
  read = { "read_dir", "read_file" },
  write = { "ioctl_dev", "make_block", "make_char", "make_dir", "make_fifo", "make_reg", "make_sock", "make_sym",
    "refer", "remove_dir", "remove_file", "truncate", "write_file" },
  execute = { "execute", "read_file" },
}

local LISTS = { read = true, write = true, execute = true }

--- check(what, c): c.landlock (and c.landlock_required) checked in place:
-- nil for none (nil or false), else a copy {read, write, execute} of path
-- lists. Landlock needs no_new_privs, or CAP_SYS_ADMIN at the op.
function M.check(what, c)
  local v = c.landlock
  if v == nil or v == false then
    c.landlock = nil
    if c.landlock_required then bad(what, "landlock_required needs landlock rules (landlock = {read = ..., ...})") end
    return
  end
  if v == true then
    bad(what, "landlock must be a table {read = paths, write = paths, execute = paths} or false, not true")
  end
  util.check_keys(what .. ": landlock", v, LISTS)
  local out = {}
  for _, k in ipairs({ "read", "write", "execute" }) do
    local key = "landlock." .. k
    out[k] = str_list(what, key, v[k] == nil and {} or v[k])
    for i, p in ipairs(out[k]) do abs_path(what, fmt("%s[%d]", key, i), p) end
  end
  if c.no_new_privs == false and c.capabilities ~= "all" and not util.has(c.capabilities, "sys_admin") then
    bad(what, "landlock needs no_new_privs (it is false) or the sys_admin capability to restrict the container")
  end
  c.landlock = out
end

--- rules(l) -> the op's rules for the checked lists l: one {path, access}
-- a path (a path in two lists gets both lists' rights), sorted by path.
function M.rules(l)
  local by = {}
  for _, k in ipairs({ "read", "write", "execute" }) do
    for _, p in ipairs(l[k]) do
      by[p] = by[p] or {}
      for _, a in ipairs(M.ACCESS[k]) do by[p][a] = true end
    end
  end
  local out = {}
  for _, p in ipairs(util.sorted_keys(by)) do out[#out + 1] = { path = p, access = util.sorted_keys(by[p]) } end
  return out
end

--- describe(rules) -> a short label: "3 paths: /, /bin, /tmp".
function M.describe(rules)
  local paths = {}
  for i, r in ipairs(rules) do
    if i > 4 then paths[#paths + 1] = "..."; break end
    paths[i] = r.path
  end
  return fmt("%d path%s%s", #rules, #rules == 1 and "" or "s", #rules > 0 and (": " .. concat(paths, ", ")) or "")
end

return M
