--- ns.cli.ctr: what the container commands (luactr ps, exec, stop, kill,
-- start, restart, wait, rm, logs, inspect, top, pause, unpause, stats)
-- share: a parser (lua-argparse) whose errors are one line, the store
-- reconciled once per command, lookups by id, prefix or name with
-- docker's "did you mean", and docker's ways of showing times and sizes.
local ns = require "ns.core"
local state = require "ns.state"

local M = {}

local fmt = string.format

--- die(cmd, msg [, code]): "luactr CMD: msg" on stderr, exit code
-- (default 1, docker's for a command that failed).
function M.die(cmd, msg, code)
  io.stderr:write("luactr ", cmd, ": ", tostring(msg), "\n")
  os.exit(code or 1)
end

--- parse(cmd, description, build, argv) -> the parsed arguments:
-- build(p) adds the command's flags and arguments to the argparse parser
-- p. --help prints the help and exits 0; a bad word dies naming it.
function M.parse(cmd, description, build, argv)
  local argparse = require "argparse"
  local p = argparse("luactr " .. cmd, description)
  p:add_help(false):help_max_width(100)
  p:flag("--help", "Print this help.")
  build(p)
  for _, a in ipairs(argv or {}) do
    if a == "--help" then
      io.stdout:write(p:get_help(), "\n")
      os.exit(0)
    end
    if a == "--" then break end
  end
  local ok, a = p:pparse(argv or {})
  if not ok then
    local name = a:match("^unknown option '([^']*)'")
    if name then a = fmt("unknown flag '%s' (luactr %s --help lists them)", name, cmd) end
    if a:match("^missing argument") then a = a .. " (" .. p:get_usage():gsub("^Usage: ", ""):gsub("%s+", " ") .. ")" end
    M.die(cmd, a, 2)
  end
  return a
end

--- timeout_option(p): stop's and restart's -t SECONDS on parser p.
function M.timeout_option(p)
  p:option("-t --time --timeout", "Seconds to wait before SIGKILL."):convert(function(v)
    local n = tonumber(v)
    if not n or n < 0 then return nil, "-t " .. v .. ": a number of seconds, 0 or more" end
    return n
  end)
end

local store
--- store() -> the state store, reconciled (ns.lifecycle) on first use.
function M.store()
  if not store then
    store = state.open()
    require("ns.lifecycle").reconcile(store)
  end
  return store
end

--- find(ref) -> the record ref names (a full id, a name or an id
-- prefix), or nil and docker's message with the near names.
function M.find(ref) return M.store():find(ref) end

--- each(cmd, refs, fn [, quiet]) -> exits: fn(s) for the record of each
-- ref, printing the ref when it returned (unless quiet), the error when
-- it raised; exit 1 when any failed.
function M.each(cmd, refs, fn, quiet)
  local failed = false
  for _, ref in ipairs(refs) do
    local s, why = M.find(ref)
    local ok, err = false, why
    if s then ok, err = pcall(fn, s) end
    if ok then
      if not quiet then print(ref) end
    else
      io.stderr:write("luactr ", cmd, ": ", tostring(err), "\n")
      failed = true
    end
  end
  os.exit(failed and 1 or 0)
end

-- Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
local function days(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- epoch(s) -> seconds since the epoch of an RFC 3339 UTC time as
-- ns.state writes them, or nil.
function M.epoch(s)
  local y, mo, d, h, mi, sec = (s or ""):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d.]+)Z$")
  if not y then return nil end
  return days(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

--- span(seconds) -> docker's words for a duration: "Less than a second",
-- "5 seconds", "About a minute", "3 minutes", "About an hour", "2 hours",
-- "3 days", "2 weeks", "4 months", "2 years".
function M.span(t)
  local floor = math.floor
  t = floor(t)
  if t < 1 then return "Less than a second" end
  if t < 60 then return fmt("%d second%s", t, t >= 2 and "s" or "") end
  local m = t / 60
  if m < 2 then return "About a minute" end
  if m < 60 then return fmt("%d minutes", floor(m)) end
  local h = m / 60
  if h < 1.5 then return "About an hour" end
  if h < 48 then return fmt("%d hours", floor(h + 0.5)) end
  local d = h / 24
  if d < 14 then return fmt("%d days", floor(d)) end
  if d < 60 then return fmt("%d weeks", floor(d / 7)) end
  if d < 730 then return fmt("%d months", floor(d / 30)) end
  return fmt("%d years", floor(d / 365))
end

--- ago(time) -> "5 seconds ago" for an RFC 3339 time.
function M.ago(time)
  local e = M.epoch(time)
  if not e then return "" end
  return M.span(math.max(0, ns.clock("realtime") - e)) .. " ago"
end

--- status_text(s) -> docker's STATUS column: "Up 5 seconds", "Up 2
-- minutes (Paused)", "Exited (0) 3 seconds ago", "Created".
function M.status_text(s)
  local now = ns.clock("realtime")
  if s.status == "running" or s.status == "paused" then
    local up = "Up " .. M.span(math.max(0, now - (M.epoch(s.started) or now)))
    return s.status == "paused" and up .. " (Paused)" or up
  elseif s.status == "exited" then
    local code = s:exit_status()
    return fmt("Exited (%s) %s", code and tostring(code) or "?", M.ago(s.finished))
  end
  return "Created"
end

--- size(n) -> "1.5MiB" (docker stats' units).
function M.size(n)
  if not n then return "--" end
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units do n = n / 1024; i = i + 1 end
  return i == 1 and fmt("%dB", n) or fmt("%.4g%s", n, units[i])
end

--- table_out(rows, header): columns padded as docker's, 3 spaces apart.
function M.table_out(header, rows)
  local w = {}
  local function width(v) return utf8.len(v) or #v end
  for i, h in ipairs(header) do w[i] = width(h) end
  for _, r in ipairs(rows) do
    for i, v in ipairs(r) do if width(v) > (w[i] or 0) then w[i] = width(v) end end
  end
  local function line(r)
    local out = {}
    for i, v in ipairs(r) do out[i] = i < #r and v .. (" "):rep(w[i] - width(v) + 3) or v end
    io.stdout:write(table.concat(out), "\n")
  end
  line(header)
  for _, r in ipairs(rows) do line(r) end
end

--- command_text(s) -> the COMMAND column: the command, quoted, at most
-- 20 characters.
function M.command_text(s, full)
  local cmd = table.concat(s.command or {}, " ")
  if not full and #cmd > 20 then cmd = cmd:sub(1, 19) .. "…" end
  return '"' .. cmd .. '"'
end

return M
