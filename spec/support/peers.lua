--- peers.lua: the same scenarios against luactr-oci and the runtimes it
-- is measured by (runc), for the specs that drive it through a real
-- client (podman, containerd):
--
--   peers.compare(label, runtimes, scenarios, run, after)
--
-- runtimes: {{name, binary}, ...}, luactr-oci's first; scenarios: {{name,
-- fn}, ...}; run(fn, binary) runs one (raising when it fails); after(binary)
-- clears what a scenario left. Prints "<label> scenarios: luactr-oci N/M
-- passed, runc N/M passed", then asserts that luactr-oci passed all of them
-- and no fewer than each other runtime, with every failure in the message.
local H = require "support.helper"
local ns = H.ns

local M = {}

local fmt = string.format
local assert = require "luassert"

function M.compare(label, runtimes, scenarios, run, after)
  local passed, failures, counts = {}, {}, {}
  for _, rt in ipairs(runtimes) do
    passed[rt[1]] = 0
    if ns.stat(rt[2]) then
      for _, sc in ipairs(scenarios) do
        local ok, err = pcall(run, sc[2], rt[2])
        after(rt[2])
        if ok then
          passed[rt[1]] = passed[rt[1]] + 1
        else
          failures[#failures + 1] = fmt("%s: %s: %s", rt[1], sc[1], tostring(err))
        end
      end
    end
    counts[#counts + 1] = fmt("%s %d/%d passed", rt[1], passed[rt[1]], #scenarios)
  end
  io.stdout:write(fmt("\n%s scenarios: %s\n", label, table.concat(counts, ", ")))
  local mine = runtimes[1][1]
  local why = table.concat(failures, "\n")
  assert.are.equal(#scenarios, passed[mine], why)
  for _, rt in ipairs(runtimes) do assert.is_true(passed[mine] >= passed[rt[1]], why) end
end

return M
