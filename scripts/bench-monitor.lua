--- bench-monitor.lua: `make bench`'s monitor row: the memory of the
-- monitors of 50 detached containers running at once (luactr run -d
-- --rm busybox sleep), each one's proportional set size (PSS: its
-- private pages, plus its share of the pages it shares with the other
-- 49, such as the luactr binary and liblua), read from
-- /proc/PID/smaps_rollup once all 50 run. Target: <= 1 MiB each.
-- No peer: conmon, which does this job for podman, needs an OCI runtime
-- to drive (the OCI runtime issue brings one). In a private LUACTR_STATE;
-- every container is removed at the end.
-- Environment: BENCH_MONITORS (how many, default 50).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local ns = require "ns"
local fmt = string.format

local N = tonumber(os.getenv("BENCH_MONITORS") or "") or 50
local TARGET_KB = 1024

local state = assert(ns.mkdtemp("/tmp/luactr-bench-state-XXXXXX"))
local env = "LUACTR_STATE=" .. state .. " "

local function sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function field(text, name) return tonumber(text:match("\n" .. name .. ":%s+(%d+) kB") or text:match("^" .. name .. ":%s+(%d+) kB")) end

local ids, t0 = {}, ns.clock()
local ok, err = pcall(function()
  for i = 1, N do
    local out, fine = sh(env .. "./luactr run -d --rm busybox sleep 1000 2>&1")
    if not fine then error("luactr run -d: " .. out, 0) end
    ids[i] = out:match("^(%x+)")
  end
  local started = ns.clock() - t0
  local pss, anon = {}, {}
  local S = require "ns.state"
  for _, s in ipairs(S.list(state)) do
    local stat = ns.readfile(("/proc/%d/stat"):format(s.pid))
    local mon = stat and math.tointeger(tonumber(stat:match("^%d+ %b() %S+ (%d+)")))
    local roll = mon and ns.readfile(("/proc/%d/smaps_rollup"):format(mon))
    if roll then
      pss[#pss + 1] = field(roll, "Pss")
      anon[#anon + 1] = field(roll, "Pss_Anon")
    end
  end
  if #pss ~= N then error(fmt("found %d monitors of %d containers", #pss, N), 0) end
  table.sort(pss)
  table.sort(anon)
  local sum = 0
  for _, v in ipairs(pss) do sum = sum + v end
  print(fmt("\nmonitors: %d detached containers running at once (luactr run -d --rm busybox sleep 1000, %.0f ms each to start)",
    N, started * 1000 / N))
  print(fmt("%-20s %9s %9s %9s %12s   %s", "name", "median kB", "max kB", "mean kB", "anon med kB", "what"))
  print(fmt("%-20s %9d %9d %9.0f %12d   %s", "monitor PSS", pss[(N + 1) // 2], pss[N], sum / N, anon[(N + 1) // 2],
    "each monitor's proportional set size (its private pages + its share of those the 50 share)"))
  print(fmt("target: monitor PSS <= %d kB each: max %d kB, %s", TARGET_KB, pss[N], pss[N] <= TARGET_KB and "met" or "NOT met"))
end)
sh(env .. "./luactr rm -f $(" .. env .. "./luactr ps -aq) >/dev/null 2>&1")
for _ = 1, 200 do
  local left = ns.listdir(state .. "/containers") or {}
  if #left == 0 then break end
  ns.sleep(0.05)
end
require("ns.rootfs").remove_tree(state)
if not ok then
  print("monitor PSS: failed: " .. tostring(err))
  os.exit(1)
end
