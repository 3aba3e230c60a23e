-- recipe_spec.lua: ns.recipe, the schema of a container table. A bad
-- recipe is refused when it is normalised, before anything runs, with one
-- short line that names the container, the key and the reason; what is
-- fine in other spellings is accepted.
local H = require "support.helper"
local recipe = require "ns.recipe"

local CLOSED_FILE = io.tmpfile()
CLOSED_FILE:close()
local CLOSED_FD, W = H.ns.pipe()
CLOSED_FD:close()
W:close()

-- Each: a recipe (named "bad"), then the whole error it must raise.
local BAD = {
  { { cgroup = { memory = 64 } }, 'container "bad": cgroup.memory 64 is 64 bytes; for 64 MiB write "64M"' },
  { { cgroup = { memory_swap = "1G" } }, 'container "bad": cgroup.memory_swap (memory plus swap) needs a memory limit' },
  { { cgroup = { memory = "12Q" } },
    'container "bad": cgroup.memory: bad size "12Q" (bytes, or a number with K, M, G or T, e.g. "64M")' },
  { { cgroup = { cpu = "20%" } },
    'container "bad": cgroup.cpu must be a positive fraction of one CPU (0.2 = 20%) or "max", got 20%' },
  { { cgroup = { pids = 0 } }, 'container "bad": cgroup.pids must be a positive integer or "max", got 0' },
  { { cgroup = { cpuset = "0-" } }, 'container "bad": cgroup.cpuset must be a CPU list like "0" or "0-1,3", got 0-' },
  { { cgroup = { devices = { { type = "x", allow = true } } } },
    'container "bad": cgroup.devices[1]: type must be "c", "b" or "a", got x' },
  { { cgroup = { pid = 10 } }, "container \"bad\": cgroup: unknown key 'pid' (nearest: pids, cpu, cpu_idle, cpuset; 22 in all: "
    .. "see README.md)" },
  { { rlimits = { cpu = "1s" } }, 'container "bad": rlimits.cpu must be a whole number of seconds or "unlimited", not "1s"' },
  { { rlimits = { nofile = -1 } }, 'container "bad": rlimits.nofile must be a whole number or "unlimited", not -1' },
  { { rlimits = { stack = 1.5 } },
    'container "bad": rlimits.stack must be a size ("64M") or a number of bytes or "unlimited", not 1.5' },
  { { rlimits = { fsize = { "1M", "1X" } } },
    'container "bad": rlimits.fsize[2] "1X" is not a size (bytes, or a number with K, M, G or T: "64M")' },
  { { rlimits = { nofle = 10 } }, "container \"bad\": unknown rlimit 'nofle' (did you mean 'nofile'? valid: as, core, cpu, data, fsize, "
    .. "locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)" },
  { { namespaces = { "network" } },
    "container \"bad\": unknown namespace 'network' (valid: cgroup, ipc, mnt, net, pid, time, user, uts)" },
  { { rootfs = "" }, 'container "bad": rootfs is an empty path' },
  { { rootfs = { "/a", "" } }, 'container "bad": rootfs[2] is an empty path' },
  { { rootfs = false, overlay = true }, 'container "bad": overlay needs a rootfs (rootfs is false)' },
  { { rootfs = false, readonly = true }, 'container "bad": readonly needs a rootfs (rootfs is false)' },
  { { overlay = false, keep_upper = true }, 'container "bad": keep_upper needs the overlay (overlay is false)' },
  { { overlay = false, upper_dir = "/x" }, 'container "bad": upper_dir needs the overlay (overlay is false)' },
  { { keep_upper = true, upper_dir = "/x" }, 'container "bad": keep_upper and upper_dir both keep the upper layer: give one' },
  { { upper_dir = "rel/x" }, "container \"bad\": upper_dir must be an absolute path, got 'rel/x'" },
  { { user = { uid = 5, uid_map = { { 0, 1000, 1 } } } }, 'container "bad": user.uid 5 is not mapped by user.uid_map' },
  { { user = { gid_map = { { 1, 1000, 1 } } } },
    'container "bad": user.gid 0 (the default) is not mapped by user.gid_map' },
  { { mounts = { { "/srv", "/data" } } }, 'container "bad": mounts[1] is a table of named keys such as '
    .. '{source = "/srv", target = "/data", flags = {"bind"}}, not a list' },
  { { mounts = { "/srv:/data" } }, 'container "bad": mounts[1] must be a table such as '
    .. '{source = "/srv", target = "/data", flags = {"bind"}}, not a string' },
  { { mounts = { { source = "/srv", target = "/data" } } }, 'container "bad": mounts[1]: a mount on "/data" '
    .. 'needs a type (type = "tmpfs"), or a source and flags = {"bind"}' },
  { { mounts = { { target = "/data", flags = "rbind" } } },
    'container "bad": mounts[1]: a bind mount on "/data" needs a source (a path on the host)' },
  { { cwd = "etc" }, 'container "bad": cwd "etc" must be an absolute path' },
  { { args = { "" } }, 'container "bad": args[1], the program, is an empty string' },
  { { tty = true, stdout = 1 },
    "container \"bad\": stdout needs tty = false (with a tty, the pty is the container's stdio)" },
  { { stdout = io.stdout, stderr = setmetatable({}, {}) },
    "container \"bad\": 'stderr' must be a userdata or number, not a table" },
  { { stdout = io.stdout, stdin = CLOSED_FILE }, 'container "bad": stdin is a closed file' },
  { { preserve_fds = { io.stdout, CLOSED_FD } }, 'container "bad": preserve_fds[2] must be an open fd handle, '
    .. 'an io file or an fd number, not "pipe (closed)"' },
}

-- Recipes that are fine, however they spell it.
local GOOD = {
  { cgroup = { memory = "64MB" } }, { cgroup = { memory = "64m" } }, { cgroup = { memory = "64Mi" } },
  { cgroup = { memory = "64MiB" } }, { cgroup = { memory = 64 * 1024 * 1024 } }, { cgroup = { memory = "max" } },
  { rlimits = { cpu = 10, nofile = { 64, 1024 }, core = 0, as = "1G", stack = { "8M", "unlimited" } } },
  { mounts = { { source = "/srv", target = "/data", flags = { "bind", "rdonly" }, mkdir = true },
    { type = "tmpfs", target = "/tmp" }, { target = "/", flags = { "rec", "private" } } } },
}

-- The first ```lua block of README.md that holds text.
local function readme_block(text)
  local f = assert(io.open("README.md"))
  local doc = f:read("a")
  f:close()
  for block in doc:gmatch("```lua\n(.-)```") do
    if block:find(text, 1, true) then return block end
  end
  error("README.md has no lua block with " .. text)
end

describe("ns.recipe", function()
  H.guard()

  it("takes README's mounts example, and its rlimits row, as written", function()
    local mounts = assert(load("return {" .. readme_block("mounts = {\n  { source") .. "}"))()
    local c = recipe.check(mounts)
    assert.are.same({ "bind", "rdonly" }, c.mounts[1].flags)
    assert.are.equal("tmpfs", c.mounts[2].type)
    local f = assert(io.open("README.md"))
    local row = f:read("a"):match("\n| `rlimits` | none | `name = n` or `name = {soft, hard}`: `(%b{})`")
    f:close()
    local ok, err = pcall(recipe.check, { rlimits = assert(load("return " .. row))() })
    assert.is_true(ok, tostring(err))
  end)

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.recipe")
  end)

  describe("check()", function()
    it("turns Lua io files into their fds, and keeps them open with the table", function()
      local f <close> = assert(io.tmpfile())
      local c = recipe.check({ stdin = io.stdin, stdout = f, stderr = 2, preserve_fds = { io.stderr, 7 } })
      assert.are.equal(0, c.stdin)
      assert.are.equal(H.ns.fileno(f), c.stdout)
      assert.are.equal(2, c.stderr)
      assert.are.same({ 2, 7 }, c.preserve_fds)
      assert.are.same({ io.stdin, f, io.stderr }, c.files)
    end)

    it("gives given stdio no pty, and a namespace named in the list its key's defaults", function()
      assert.is_false(recipe.check({ stdout = 1 }).tty)
      local c = recipe.check({ namespaces = { "mnt", "user", "time" } })
      assert.is_table(c.user.uid_map)
      assert.are.same({}, c.time)
    end)

    it("refuses each bad recipe with one line naming the container, the key and the reason", function()
      for _, case in ipairs(BAD) do
        local t = case[1]
        t.name = "bad"
        local ok, err = pcall(recipe.check, t)
        assert.is_false(ok, case[2])
        assert.are.equal(case[2], err)
      end
    end)

    it("accepts the other spellings of what it means", function()
      for _, t in ipairs(GOOD) do
        local ok, err = pcall(recipe.check, t)
        assert.is_true(ok, tostring(err))
      end
    end)
  end)
end)
