--- ns.cli.run: docker run's flags as one container table, the table a
-- recipe gives ns.container.run; `luactr run` (lua/luactr/run.lua) is
-- thin over it.
--
--   local cli = require "ns.cli.run"
--   local t, o = cli.parse({ "-e", "A=1", "--memory", "64m", "busybox", "env" })
--   --> t = {image = "busybox", args = {"env"}, env = {A = "1"}, cgroup = {memory = "64M"}, tty = false}
--   --> o = {interactive = false, rm = false, detach = false, help = false, image = "busybox",
--            log_max = 16777216, log_files = 2}
--
-- As docker's, the flags stop at the first word that is not one: IMAGE,
-- or RECIPE.lua (a word ending in .lua: a Lua file that returns a
-- container table, which the flags then override); every word after it
-- is the command, passed through untouched (`busybox ls -l /`). split()
-- finds that word, knowing from FLAGS which flags take a value, and
-- lua-argparse parses the words before it. A bad flag or value raises
-- one line that names the flag: `--memory lots: not a size (...)`.
local ns = require "ns.core"
local util = require "ns.util"

local M = {}

local fmt, concat = string.format, table.concat
local show, quoted = util.show, util.quoted
local tointeger = math.tointeger

local function bad(f, ...) error(fmt(f, ...), 0) end

--- FLAGS: every flag, in the order --help lists them: its names, what
-- it does, and for one that takes a value the value's name (many: it
-- may be repeated, each value kept).
M.FLAGS = {
  { "-d --detach", "Run it in the background under a monitor and print its id (luactr logs shows its output)." },
  { "-i --interactive", "Keep stdin attached (without it, stdin is /dev/null; with -d, a pipe that stays open)." },
  { "-t --tty", "A terminal (pty) for the container; needs one on luactr's stdin and stdout." },
  { "--rm", "Remove the container (its record, upper layer and log) when it ends." },
  { "--name", "The container's name (its cgroup's, its default hostname).", "NAME" },
  { "-e --env", "Set a variable: K=V, or K for its value in luactr's environment (unset: left out).", "K[=V]", many = true },
  { "--env-file", "Read variables from FILE: K=V lines, # comments, K alone as -e K.", "FILE", many = true },
  { "-w --workdir", "The command's working directory (absolute, inside the container).", "DIR" },
  { "-u --user", "The user (and group) the command runs as: name or uid, with :group or :gid.", "USER[:GROUP]" },
  { "-h --hostname", "The container's hostname.", "NAME" },
  { "-v --volume", "Bind the host's SRC (absolute, existing) on DST; ro: read-only.", "SRC:DST[:ro]", many = true },
  { "--tmpfs", "A tmpfs on DST; OPTS: size=64m, mode=1777, ro, exec, ... (default noexec,nosuid,nodev).",
    "DST[:OPTS]", many = true },
  { "--read-only", "A read-only root filesystem." },
  { "-m --memory", "Memory limit: a number with b, k, m or g (64m); at least 6m.", "SIZE" },
  { "--cpus", "CPU limit in CPUs (0.5: half of one; 0: none).", "N" },
  { "--pids-limit", "The most processes at once (0 or -1: no limit).", "N" },
  { "--cpuset-cpus", "The CPUs it may run on (0-1,3).", "LIST" },
  { "--cap-add", "Add a capability (NET_ADMIN, CAP_NET_ADMIN, net_admin, or ALL).", "CAP", many = true },
  { "--cap-drop", "Drop a capability (or ALL) from docker's default 14.", "CAP", many = true },
  { "--init", "A small init as PID 1 that forwards signals and reaps orphans." },
  { "--entrypoint", "The program to run instead of the image's Entrypoint; it drops the image's Cmd.", "CMD" },
  { "--ulimit", "A resource limit: nofile=1024:2048, core=0, nproc=-1 (-1: unlimited).", "NAME=N[:N]", many = true },
  { "--network", "none (the default: a network namespace with only lo) or host (the host's network).", "MODE" },
  { "-l --label", "Set a label: K=V (or K, empty).", "K=V", many = true },
  { "--security-opt", "seccomp=unconfined (no filter), seccomp=PROFILE.json (docker's/moby's JSON form), "
    .. "no-new-privileges (the default already).", "OPT", many = true },
  { "--log-opt", "With -d: max-size=SIZE (16m: past it the log is rotated), max-file=N (2: the files kept).",
    "K=V", many = true },
  { "--stop-signal", "The signal that stops it (TERM, SIGINT, 9...).", "SIGNAL" },
  { "--stop-timeout", "Seconds between the stop signal and SIGKILL.", "SECONDS" },
  { "--help", "Print this help." },
}

-- Each name of FLAGS -> its entry; and the target in the parse result
-- that each entry writes (its longest name, as argparse makes it).
local BY_NAME = {}
for _, f in ipairs(M.FLAGS) do
  f.names = {}
  for n in f[1]:gmatch("%S+") do
    f.names[#f.names + 1] = n
    BY_NAME[n] = f
  end
  f.target = f.names[#f.names]:gsub("^%-+", ""):gsub("%-", "_")
end

local USAGE = "Usage: luactr run [flags] IMAGE|RECIPE.lua [CMD [ARG...]]"

local parser_cache
local function parser()
  if parser_cache then return parser_cache end
  local argparse = require "argparse"
  local p = argparse("luactr run", "Run a container, as docker run does (in the foreground, or with -d in the background): from IMAGE "
    .. "(an image of the store, such as busybox) or from RECIPE.lua (a Lua file that returns a container "
    .. "table, which the flags override). The flags stop at IMAGE: every word after it is the command.",
    "Exit status: the command's; 125 when luactr run fails, 126 when the command cannot be run, "
    .. "127 when it is not found.")
  p:add_help(false):usage(USAGE):help_max_width(100):help_description_margin(33)
  for _, f in ipairs(M.FLAGS) do
    local o = f[3] and p:option(f[1], f[2]):argname("<" .. f[3] .. ">") or p:flag(f[1], f[2])
    o:target(f.target)
    if f.many then o:count("*") end
  end
  p:argument("image", "An image (busybox, name:tag, name@sha256:...) or a RECIPE.lua.")
  p:argument("command", "The command and its arguments (default: the image's)."):args("*")
  parser_cache = p
  return p
end

--- help() -> the text of `luactr run --help`.
function M.help() return parser():get_help() .. "\n" end

--- split(argv) -> the flags' words, each value-taking flag joined with a
-- value that was the next word (--memory=64m, -i --env=A=1), so that
-- argparse never takes a value such as -1 for a flag; and the index of
-- IMAGE in argv (#argv + 1 when there is none). The flags stop at the
-- first word that is neither a flag nor a flag's value, or after "--".
-- An unknown flag counts as one without a value (argparse refuses it).
function M.split(argv)
  local words, i, n = {}, 1, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then return words, i + 1 end
    if a:sub(1, 1) ~= "-" or a == "-" then return words, i end
    local word = a
    if a:sub(2, 2) == "-" then
      local f = BY_NAME[a]
      if f and f[3] and i < n then -- --name VALUE (--name=VALUE is one word)
        i = i + 1
        word = a .. "=" .. argv[i]
      end
    else
      -- A cluster of short flags (-it); one that takes a value takes the
      -- rest of the word (-eA=1), or else the next word (-ie A=1: the
      -- flags before it stay a cluster, and it is written long).
      for j = 2, #a do
        local f = BY_NAME["-" .. a:sub(j, j)]
        if f and f[3] then
          if j == #a and i < n then
            if j > 2 then words[#words + 1] = a:sub(1, j - 1) end
            i = i + 1
            word = f.names[#f.names] .. "=" .. argv[i]
          end
          break
        end
      end
    end
    words[#words + 1] = word
    i = i + 1
  end
  return words, n + 1
end

-- argparse's message for a parse error, as one line about flags.
local function parse_error(msg)
  local name, tip = msg:match("^unknown option '([^']*)'\n?(.*)$")
  if name then
    local hint
    local one = tip:match("^Did you mean ('[^']*')%?$")
    if one then
      hint = "did you mean " .. one .. "?"
    elseif name:sub(2, 2) ~= "-" then
      local shorts = {}
      for n in pairs(BY_NAME) do if n:sub(2, 2) ~= "-" then shorts[#shorts + 1] = n end end
      table.sort(shorts)
      hint = "short flags: " .. concat(shorts, " ")
    else
      local longs = {}
      for n in pairs(BY_NAME) do if n:sub(2, 2) == "-" then longs[n] = true end end
      hint = util.choices(name, longs, "luactr run --help lists them")
    end
    return fmt("unknown flag %s (%s)", quoted(name), hint)
  end
  if msg:find("^missing argument 'image'") then
    return "needs an IMAGE or a RECIPE.lua (" .. USAGE:gsub("^Usage: ", "") .. ")"
  end
  return (msg:gsub("^option '", "flag '"):gsub("requires an argument", "needs a value"))
end

-- "K=V" -> K, V; "K" -> K, nil.
local function kv(s)
  local k, v = s:match("^([^=]*)=(.*)$")
  if k then return k, v end
  return s, nil
end

-- One variable of -e or --env-file into env (a map): "K=V", or "K" for
-- K's value in luactr's environment, left out when K is unset there.
local function set_env(env, where, s)
  local k, v = kv(s)
  if k == "" then bad("%s %s: no variable name before '='", where, show(s)) end
  if k:find("%z") then bad("%s %s: a NUL byte in the name", where, show(s)) end
  if v == nil then v = os.getenv(k) end
  if v ~= nil then env[k] = v end
end

-- An env file as docker reads it: a line is K=V or K (after any leading
-- white space), or a # comment, or blank; K may hold no white space.
local function env_file(env, path)
  local f, err = io.open(path, "r")
  if not f then bad("--env-file %s", err) end
  local n = 0
  for line in f:lines() do
    n = n + 1
    if n == 1 then line = line:gsub("^\239\187\191", "") end -- a UTF-8 byte order mark
    line = line:gsub("^%s+", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local where = fmt("--env-file %s:%d:", path, n)
      local k = kv(line)
      if k:find("%s") then
        f:close()
        bad("%s variable %s holds white space", where, show(k))
      end
      local ok, e = pcall(set_env, env, where, line)
      if not ok then
        f:close()
        error(e, 0)
      end
    end
  end
  f:close()
end

-- The value of a limit checked by ns.cgroup.limits as a recipe's would be.
local function check_limit(flag, s, key, v)
  local why = require("ns.cgroup.limits").check({ [key] = v })
  if why then bad("%s %s: %s", flag, show(s), why) end
  return v
end

-- docker's sizes: a number, then b, k, m, g, t or p (binary multiples,
-- "kb", "KiB" too). A unit of k..t stays as limits writes it ("64M", which
-- the OOM message shows); bytes become a number.
local MULT = { [""] = 1, b = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4, p = 1024 ^ 5 }
local MIN_MEMORY = 6 * 1024 * 1024 -- docker's minimum

local function memory(flag, s)
  local num, unit, tail = s:match("^(%d+%.?%d*) ?([bBkKmMgGtTpP]?)([iI]?[bB]?)$")
  unit = unit and unit:lower()
  if not num or (unit == "b" and tail ~= "") then
    bad("%s %s: not a size (a number with b, k, m or g: 64m, 1.5g)", flag, show(s))
  end
  local bytes = math.floor(tonumber(num) * MULT[unit])
  if bytes < MIN_MEMORY then bad("%s %s: below the minimum of 6m", flag, show(s)) end
  local v = (unit == "" or unit == "b" or unit == "p") and tointeger(bytes) or num .. unit:upper()
  if not v then bad("%s %s: too large", flag, show(s)) end
  return check_limit(flag, s, "memory", v)
end

local function cpus(flag, s)
  local n = s:match("^%d*%.?%d+$") and tonumber(s)
  if not n then bad("%s %s: not a number of CPUs (0.5, 2)", flag, show(s)) end
  if n == 0 then return nil end
  return check_limit(flag, s, "cpu", n)
end

local function pids(flag, s)
  local n = s:match("^%-?%d+$") and tointeger(tonumber(s))
  if not n then bad("%s %s: not a whole number (0 or -1 for no limit)", flag, show(s)) end
  if n <= 0 then return "max" end
  return check_limit(flag, s, "pids", n)
end

local CAPS, CAP_ORDER -- the kernel's capabilities, made on first use
local function cap(flag, s)
  if not CAPS then
    CAPS, CAP_ORDER = {}, ns.cap_names()
    for _, n in ipairs(CAP_ORDER) do CAPS[n] = true end
  end
  local k = s:lower():gsub("^cap_", "")
  if k == "all" then return k end
  if not CAPS[k] then
    bad("%s %s: unknown capability (%s)", flag, show(s), util.choices(k, CAPS, "see capabilities(7)"))
  end
  return k
end

-- The capabilities from base (the recipe's, else docker's 14) with adds
-- and drops, by docker's rules: ALL among the adds is every capability
-- but the drops; ALL among the drops is the adds alone; else base less
-- the drops, then the adds (an add wins over a drop).
local function capabilities(base, adds, drops)
  local add, drop, list, seen = {}, {}, {}, {}
  local function put(n)
    if n ~= "all" and not seen[n] then seen[n] = true; list[#list + 1] = n end
  end
  for i, s in ipairs(adds) do adds[i] = cap("--cap-add", s); add[adds[i]] = true end
  for _, s in ipairs(drops) do drop[cap("--cap-drop", s)] = true end
  if add.all then
    for _, n in ipairs(CAP_ORDER) do if not drop[n] then put(n) end end
    return list
  end
  if not drop.all then
    if base == nil then base = require("ns.recipe").default_capabilities end
    if base == "all" then base = CAP_ORDER end
    if base == "none" then base = {} end
    if type(base) ~= "table" then bad("the recipe's capabilities must be a list, \"all\" or \"none\"") end
    for _, s in ipairs(base) do
      local n = cap("the recipe's capabilities:", tostring(s))
      if not drop[n] then put(n) end
    end
  end
  for _, n in ipairs(adds) do put(n) end
  return list
end

-- -v SRC:DST[:ro|rw] -> a recursive bind mount of the host's SRC.
local function volume(s)
  local parts = {}
  for p in (s .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  if #parts < 2 or #parts > 3 then
    bad("-v %s: not SRC:DST[:ro|rw] (a host path, a path in the container)", show(s))
  end
  local src, dst, opts = parts[1], parts[2], parts[3]
  if src:sub(1, 1) ~= "/" then
    bad("-v %s: the source %s must be an absolute path on the host (named volumes are not supported)", show(s), show(src))
  end
  if dst:sub(1, 1) ~= "/" then bad("-v %s: the target %s must be an absolute path", show(s), show(dst)) end
  local st, msg = ns.stat(src)
  if not st then bad("-v %s: %s", show(s), msg) end
  local flags = { "rbind" }
  for o in (opts or ""):gmatch("[^,]+") do
    if o == "ro" then
      flags[#flags + 1] = "rdonly"
    elseif o ~= "rw" then
      bad("-v %s: unknown option %s (valid: ro, rw)", show(s), quoted(o))
    end
  end
  -- A missing target is made as a directory: a file's must be there.
  return { source = src, target = dst, flags = flags, mkdir = st.type == "dir" }
end

-- --tmpfs DST[:OPTS]: docker's defaults (noexec, nosuid, nodev), its
-- options that are mount flags, and the rest (size=, mode=...) as data.
local TMPFS_FLAGS = { "rdonly", "noexec", "nosuid", "noatime", "nodiratime", "relatime", "strictatime", "sync",
  "dirsync", "lazytime" }
local TMPFS_WORDS = { ro = { "rdonly", true }, rw = { "rdonly", false }, exec = { "noexec", false },
  suid = { "nosuid", false }, dev = { "nodev", false }, nodev = { "nodev", true } }
for _, f in ipairs(TMPFS_FLAGS) do if f ~= "rdonly" then TMPFS_WORDS[f] = { f, true } end end

local function tmpfs(s)
  local dst, opts = s:match("^([^:]*):?(.*)$")
  if dst:sub(1, 1) ~= "/" then bad("--tmpfs %s: the target %s must be an absolute path", show(s), show(dst)) end
  local on, data = { noexec = true, nosuid = true, nodev = true }, {}
  for o in opts:gmatch("[^,]+") do
    local w = TMPFS_WORDS[o]
    if o:find("=", 1, true) then
      data[#data + 1] = o
    elseif w then
      on[w[1]] = w[2]
    else
      local valid = {}
      for k in pairs(TMPFS_WORDS) do valid[k] = true end
      bad("--tmpfs %s: unknown option %s (%s, or KEY=VALUE such as size=64m)", show(s), quoted(o),
        util.choices(o, valid, "see tmpfs(5)"))
    end
  end
  local flags = {}
  for _, f in ipairs(TMPFS_FLAGS) do if on[f] then flags[#flags + 1] = f end end
  return { type = "tmpfs", target = dst, flags = flags, data = #data > 0 and concat(data, ",") or nil,
    dev = not on.nodev or nil, mkdir = true }
end

-- --ulimit NAME=SOFT[:HARD]: docker's names are the rlimits'; -1 is
-- unlimited. One value: soft and hard alike.
local function ulimit(rlimits, s)
  local name, soft, hard = s:match("^([%w_]+)=([^:]*):?(.*)$")
  if not name then bad("--ulimit %s: not NAME=SOFT[:HARD] (nofile=1024:2048)", show(s)) end
  if not pcall(function() return ns.RLIMIT[name] end) then
    bad("--ulimit %s: unknown limit %s (%s)", show(s), quoted(name), util.choices(name, ns.RLIMIT))
  end
  local function value(v)
    if v == "-1" or v == "unlimited" then return "unlimited" end
    local n = v:match("^%d+$") and tointeger(tonumber(v))
    if not n then bad("--ulimit %s: %s is not a whole number (or -1 for unlimited)", show(s), show(v)) end
    return n
  end
  local lo, hi = value(soft), hard ~= "" and value(hard) or nil
  if hi and (hi ~= "unlimited" and (lo == "unlimited" or lo > hi)) then
    bad("--ulimit %s: the soft limit is above the hard limit", show(s))
  end
  rlimits[name] = hi and { lo, hi } or lo
end

-- The table of a RECIPE.lua: what the file returns.
local function load_recipe(path)
  local chunk, err = loadfile(path)
  if not chunk then bad("%s", (tostring(err):gsub("^cannot open ", "cannot open recipe "))) end
  local ok, t = pcall(chunk)
  if not ok then bad("%s: %s", path, tostring(t)) end
  if type(t) ~= "table" then
    bad("%s returned %s, not a container table (end it with: return { ... })", path,
      t == nil and "nothing" or "a " .. type(t))
  end
  return t
end

-- A copy of t, one level deep (the recipe's tables stay as they were).
local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- The recipe's env (a map, a list of "K=V", or both) as a map; one that
-- is neither stays as it is, in a copy, for ns.recipe to refuse.
local function env_map(env)
  local out = {}
  if env == nil then return out end
  if type(env) ~= "table" then bad("the recipe's env must be a map or a list of \"K=V\", not a %s", type(env)) end
  for k, v in pairs(env) do
    if math.type(k) == "integer" and type(v) == "string" and v:find("=", 1, true) then
      local key, val = kv(v)
      out[key] = val
    elseif type(k) == "string" then
      out[k] = v
    else
      return copy(env)
    end
  end
  return out
end

local NETWORKS = { none = true, host = true }

--- parse(argv) -> t, o: t the container table of the flags and IMAGE (or
-- RECIPE.lua's table, overridden by them), o what is luactr run's own:
-- o.interactive (-i), o.rm, o.detach (-d), o.help, o.image or o.recipe
-- (the path).
-- Raises a one-line message naming the flag that is wrong.
function M.parse(argv)
  local words, at = M.split(argv)
  for _, w in ipairs(words) do if w == "--help" then return {}, { help = true } end end
  if argv[at] then
    words[#words + 1] = "--"
    for i = at, #argv do words[#words + 1] = argv[i] end
  end
  local ok, a = parser():pparse(words)
  if not ok then error(parse_error(a), 0) end

  local o = { interactive = a.interactive == true, rm = a.rm == true, detach = a.detach == true, help = false }
  local t
  if a.image:match("%.lua$") then
    o.recipe = a.image
    t = copy(load_recipe(a.image))
  else
    if a.image == "" then bad("needs an IMAGE or a RECIPE.lua, not an empty word") end
    o.image = a.image
    t = { image = a.image }
  end
  if #a.command > 0 then t.args = a.command end
  if a.entrypoint then t.entrypoint = a.entrypoint == "" and {} or a.entrypoint end

  if a.tty then t.tty = true elseif t.tty == nil then t.tty = false end
  if a.name then
    if not a.name:match("^[%w][%w_.-]*$") or #a.name > 64 then
      bad("--name %s: letters, digits, '.', '_' or '-', starting with a letter or digit (at most 64)", show(a.name))
    end
    t.name = a.name
  end
  if a.hostname then
    if a.hostname == "" or #a.hostname > 64 then bad("-h %s: a hostname of 1 to 64 bytes", show(a.hostname)) end
    t.hostname = a.hostname
  end
  if a.workdir then
    if a.workdir:sub(1, 1) ~= "/" then bad("-w %s: the working directory must be an absolute path", show(a.workdir)) end
    t.cwd = a.workdir
  end
  if a.user then
    if a.user == "" or a.user:sub(1, 1) == ":" then bad("-u %s: a user (name or uid), with :group if need be", show(a.user)) end
    t.user = a.user
  end

  if #a.env_file > 0 or #a.env > 0 then
    local env = env_map(t.env)
    for _, path in ipairs(a.env_file) do env_file(env, path) end
    for _, s in ipairs(a.env) do set_env(env, "-e", s) end
    t.env = env
  end

  if #a.volume > 0 or #a.tmpfs > 0 then
    local mounts = {}
    for i, m in ipairs(type(t.mounts) == "table" and t.mounts or {}) do mounts[i] = m end
    for _, s in ipairs(a.volume) do mounts[#mounts + 1] = volume(s) end
    for _, s in ipairs(a.tmpfs) do mounts[#mounts + 1] = tmpfs(s) end
    t.mounts = mounts
  end
  if a.read_only then t.readonly = true end

  if a.memory or a.cpus or a.pids_limit or a.cpuset_cpus then
    local cg = copy(t.cgroup)
    if a.memory then cg.memory = memory("--memory", a.memory) end
    if a.cpus then cg.cpu = cpus("--cpus", a.cpus) end
    if a.pids_limit then cg.pids = pids("--pids-limit", a.pids_limit) end
    if a.cpuset_cpus then cg.cpuset = check_limit("--cpuset-cpus", a.cpuset_cpus, "cpuset", a.cpuset_cpus) end
    if next(cg) then t.cgroup = cg end
  end

  if #a.cap_add > 0 or #a.cap_drop > 0 then t.capabilities = capabilities(t.capabilities, a.cap_add, a.cap_drop) end
  if a.init then t.init = true end

  if #a.ulimit > 0 then
    local rl = copy(t.rlimits)
    for _, s in ipairs(a.ulimit) do ulimit(rl, s) end
    t.rlimits = rl
  end

  if a.network then
    if not NETWORKS[a.network] then
      bad("--network %s: not supported (valid: none, a network namespace with only lo; host, the host's network)",
        show(a.network))
    end
    local list = {}
    for _, n in ipairs(t.namespaces or require("ns.recipe").default_namespaces) do
      if n ~= "net" then list[#list + 1] = n end
    end
    if a.network == "none" then
      list[#list + 1] = "net"
    elseif t.hostname == nil then
      -- docker's host network shows the host's name too.
      t.hostname = ns.gethostname()
    end
    t.namespaces = list
  end

  -- Rootless, as docker's rootless mode and podman's: a user namespace
  -- (root inside is the user, with its subordinate ids when it has
  -- some), without which no other namespace can be made.
  if select(2, ns.getuid()) ~= 0 then
    local list, has = {}, false
    for _, n in ipairs(t.namespaces or require("ns.recipe").default_namespaces) do
      list[#list + 1] = n
      if n == "user" then has = true end
    end
    if not has and t.user ~= true and type(t.user) ~= "table" then list[#list + 1] = "user" end
    t.namespaces = list
  end

  if #a.label > 0 then
    local labels = copy(t.labels)
    for _, s in ipairs(a.label) do
      local k, v = kv(s)
      if k == "" then bad("--label %s: no name before '='", show(s)) end
      labels[k] = v or ""
    end
    t.labels = labels
  end
  for _, opt in ipairs(a.security_opt) do
    local k, v = opt:match("^([%w-]+)[=:](.*)$")
    k = k or opt
    if k == "seccomp" and v == "unconfined" then
      t.seccomp = false
    elseif k == "seccomp" and v and v ~= "" then
      local ok, prof, extra = pcall(require("ns.security.seccomp_oci").read, v)
      if not ok then bad("--security-opt seccomp: %s", tostring(prof)) end
      -- listenerPath and flags as the recipe's agent and flags.
      t.seccomp = extra and { profile = prof, agent = extra.agent, flags = extra.flags } or prof
    elseif k == "no-new-privileges" and (v == nil or v == "true") then
      t.no_new_privs = true
    elseif k == "no-new-privileges" and v == "false" then
      t.no_new_privs = false
    else
      bad("--security-opt %s: not supported (valid: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges)",
        show(opt))
    end
  end
  o.log_max, o.log_files = 16 * 1024 * 1024, 2
  for _, kvs in ipairs(a.log_opt) do
    local k, v = kv(kvs)
    if k == "max-size" then
      local num, unit = (v or ""):match("^(%d+%.?%d*)([bBkKmMgG]?)$")
      local n = num and math.floor(tonumber(num) * MULT[unit:lower()])
      if not n or n < 4096 then bad("--log-opt %s: max-size is a size of at least 4k (16m, 512k)", show(kvs)) end
      o.log_max = n
    elseif k == "max-file" then
      local n = (v or ""):match("^%d+$") and tointeger(tonumber(v))
      if not n or n < 1 or n > 100 then bad("--log-opt %s: max-file is a number of files, 1 to 100", show(kvs)) end
      o.log_files = n
    else
      bad("--log-opt %s: unknown option (valid: max-size, max-file)", show(kvs))
    end
  end
  if a.stop_signal then
    local v = a.stop_signal:match("^%d+$") and tointeger(tonumber(a.stop_signal)) or a.stop_signal
    local oks, e = pcall(require("ns.recipe").signal, "luactr run", "--stop-signal", v)
    if not oks then error((tostring(e):gsub("^luactr run: ", "")), 0) end
    t.stop_signal = e
  end
  if a.stop_timeout then
    local n = a.stop_timeout:match("^%d+$") and tointeger(tonumber(a.stop_timeout))
    if not n then bad("--stop-timeout %s: a whole number of seconds, 0 or more", show(a.stop_timeout)) end
    t.stop_timeout = n
  end
  return t, o
end

return M
