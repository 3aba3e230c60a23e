--- ns: the luactr library.
-- `require "ns"` gives every binding of the C core (`ns.core`) plus the Lua
-- submodules, each loaded on first use: `ns.container`, `ns.cgroup`,
-- `ns.rootfs`, `ns.security`, `ns.state`, `ns.errors`, `ns.util`, and the container's
-- parts (`ns.recipe`, `ns.plan`, `ns.ops`). Nothing here touches the global
-- table.
local core = require "ns.core"

local M = {}
for k, v in pairs(core) do M[k] = v end

local submodules = {
  cgroup = true, container = true, errors = true, ops = true, plan = true, recipe = true, rootfs = true,
  security = true, state = true, util = true,
}
M._submodules = submodules

return setmetatable(M, {
  __index = function(t, k)
    if submodules[k] then
      local mod = require("ns." .. k)
      rawset(t, k, mod)
      return mod
    end
    error(("ns has no field '%s'"):format(tostring(k)), 2)
  end,
})
