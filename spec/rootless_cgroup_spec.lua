-- rootless_cgroup_spec.lua: cgroup limits for luactr run as an
-- unprivileged user (uid 1000, through setpriv). The spec delegates a v2
-- subtree to it as systemd does user@1000.service: a group of root's
-- with controllers on for its children, and below it the user's, chowned
-- (the directory, cgroup.procs, cgroup.subtree_control, cgroup.threads),
-- with a leaf that luactr runs in. The limits themselves need a v2 tree
-- with controllers (make test-v2); on this project's hybrid hosts the
-- user is told why it gets none.
local H = require "support.helper"
local ns = H.ns
local cjson = require "cjson"

local fmt = string.format
local UID = 1000
local AS_USER = "setpriv --reuid=1000 --regid=1000 --clear-groups"
local L = require("ns.cgroup").layout()
local V2 = L.v2
local seq = 0

local function words(s)
  local t = {}
  for w in (s or ""):gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

local function read(path) return (assert(ns.readfile(path)):gsub("%s+$", "")) end

-- The subdirectories of a group.
local function groups(dir)
  local t = {}
  for _, n in ipairs(ns.listdir(dir) or {}) do
    local st = ns.stat(dir .. "/" .. n, "nofollow")
    if st and st.type == "dir" then t[#t + 1] = n end
  end
  return H.sorted(t)
end

-- Why a subtree with these controllers cannot be delegated here, or nil.
local function cannot_delegate(ctrls)
  if not V2 then return "no cgroup v2 tree" end
  local on = words(ns.readfile(V2 .. "/cgroup.subtree_control"))
  for _, c in ipairs(ctrls) do
    if not has(on, c) then
      return fmt("%s host: the v2 tree's root has no %s controller for its children; runs in make test-v2", L.mode, c)
    end
  end
end

-- Remove the groups from the deepest up, once the processes that may
-- still be leaving them are gone.
local function remove_groups(dirs)
  for i = #dirs, 1, -1 do
    local ok, err, errno
    for _ = 1, 250 do
      ok, err, errno = ns.rmdir(dirs[i])
      if ok or errno == ns.E.ENOENT or errno ~= ns.E.EBUSY then break end
      ns.sleep(0.02)
    end
    assert(ok or errno == ns.E.ENOENT, err)
  end
end

-- A subtree delegated to UID, as systemd makes user@UID.service: top,
-- root's, with ctrls on for its children; base below it, the user's, with
-- ctrls on for its own children; leaf below base, the user's, for its
-- processes. Returns base and leaf; the spec removes them at its end.
local function delegate(ctrls)
  seq = seq + 1
  local top = fmt("%s/luactr-spec-deleg-%d-%d", V2, ns.getpid(), seq)
  local base, leaf = top .. "/user", top .. "/user/leaf"
  local made = {}
  H.defer(function() remove_groups(made) end)
  for _, d in ipairs({ top, base }) do
    assert(ns.mkdir(d, tonumber("755", 8)))
    made[#made + 1] = d
    if #ctrls > 0 then
      local on = {}
      for i, c in ipairs(ctrls) do on[i] = "+" .. c end
      assert(ns.writefile(d .. "/cgroup.subtree_control", table.concat(on, " ")))
    end
  end
  for _, f in ipairs({ "", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads" }) do
    assert(ns.chown(base .. f, UID, UID))
  end
  assert(ns.mkdir(leaf, tonumber("755", 8)))
  made[#made + 1] = leaf
  assert(ns.chown(leaf, UID, UID))
  assert(ns.chown(leaf .. "/cgroup.procs", UID, UID))
  return base, leaf
end

-- it(name, fn) for a spec that makes groups in the v2 tree.
local function it_tree(name, fn)
  if V2 then it(name, fn) else pending(name .. " (no cgroup v2 tree)") end
end

describe("ns.cgroup.delegation", function()
  H.guard()
  local delegation = require "ns.cgroup.delegation"

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.cgroup.delegation")
  end)

  it("check_base() takes a relative path below the tree and nothing else", function()
    assert.are.equal("user.slice/user@1000.service", delegation.check_base("user.slice/user@1000.service"))
    for _, bad in ipairs({ "", "/abs", "a//b", "a/", "..", "a/../b", "./a", "a\nb", 7 }) do
      assert.has_error(function() delegation.check_base(bad) end)
    end
  end)

  it("narrow() says why a layout cannot hold a user's group", function()
    local v1only = { mode = "v1", v1 = { memory = "/sys/fs/cgroup/memory" } }
    assert.has_error(function() delegation.narrow(v1only, nil, 1000, {}) end,
      "cgroup: rootless cgroups need a cgroup v2 subtree delegated to uid 1000 "
      .. "(this host has only cgroup v1, which only root can use)")
    local hybrid = { mode = "hybrid", v1 = { memory = "/sys/fs/cgroup/memory" }, v2 = "/nonexistent/unified" }
    assert.has_error(function() delegation.narrow(hybrid, nil, 1000, { pids = 8 }) end,
      "cgroup: rootless limits need a cgroup v2 subtree delegated to uid 1000 "
      .. "(this host's controllers are on cgroup v1, which only root can use)")
    -- Given a base, the v2 tree alone, below it.
    local n = delegation.narrow(hybrid, "a/b", 1000, nil)
    assert.are.same({ "v2", "a/b", "/nonexistent/unified/a/b", 1000 }, { n.mode, n.base, n.base_dir, n.uid })
    assert.are.same({}, n.v1)
    assert.are.same({}, n.v2_controllers)
    assert.are.equal("hybrid", hybrid.mode) -- l itself is left as it was
  end)

  it_tree("find() is the highest group of the user's above its own", function()
    local base, leaf = delegate({})
    local mid = leaf .. "/mid"
    assert(ns.mkdir(mid, tonumber("755", 8)))
    H.defer(function() remove_groups({ mid }) end)
    assert(ns.chown(mid, UID, UID))
    assert(ns.chown(mid .. "/cgroup.procs", UID, UID))
    local found = H.child_value(function()
      assert(ns.writefile(mid .. "/cgroup.procs", "0"))
      H.drop_privileges(UID)
      return assert(delegation.find(L, UID))
    end)
    assert.are.equal(base:sub(#V2 + 2), found)
    -- Another uid has none, and is told whose they are.
    local why = H.child_value(function()
      assert(ns.writefile(mid .. "/cgroup.procs", "0"))
      H.drop_privileges(65534)
      local b, w = delegation.find(L, 65534)
      assert(b == nil, b)
      return w
    end)
    assert.are.equal(fmt("its group %s and those above it are not uid 65534's", mid), why)
  end)
end)

describe("rootless cgroups", function()
  H.guard()

  local state, dir
  before_each(function()
    state = H.tmpdir("rootless-cg-state")
    assert(ns.chown(state, UID, UID))
    dir = H.tmpdir("rootless-cg-recipe")
    assert(ns.chmod(dir, tonumber("755", 8)))
    H.defer(function() H.rmrf(state); H.rmrf(dir) end)
  end)

  -- A recipe file the user can read.
  local function recipe(src)
    local path = fmt("%s/r%d.lua", dir, #(ns.listdir(dir) or {}))
    assert(ns.writefile(path, src, { create = true }))
    assert(ns.chmod(path, tonumber("644", 8)))
    return path
  end

  -- luactr as the user: in leaf (moved there first, by root, as a login
  -- puts a user's session in its group) when given; env: VAR=value words.
  local function rl(args, leaf, env)
    local user = fmt("%s env LUACTR_STATE=%s %s", AS_USER, state, env or "")
    if leaf then user = fmt("sh -c 'echo $$ >%s/cgroup.procs && exec \"$@\"' sh %s", leaf, user) end
    return H.run_luactr(args, { env = user })
  end

  it("without a cgroup asked, a rootless container gets none, as before", function()
    local r = recipe([[return { user = true, args = { "/bin/sh", "-c", "ls /sys/fs/cgroup; echo done" } }]])
    local plan = rl("--plan run " .. r)
    assert.is_nil(plan:find("cgroup_create", 1, true), plan)
    local out, code = rl("run --rm " .. r)
    assert.are.equal(0, code, out)
    assert.are.equal("done\n", out)
  end)

  it("refuses limits where nothing is delegated, says why, and leaves nothing", function()
    local r = recipe([[return { user = true, args = { "/bin/true" }, cgroup = { memory = "64M", pids = 8 } }]])
    local out, code = rl("run --rm " .. r)
    assert.are.equal(125, code, out)
    if L.mode == "hybrid" then
      assert.matches("step %d+ %(cgroup create%): cgroup: rootless limits need a cgroup v2 subtree delegated to "
        .. "uid 1000 %(this host's controllers are on cgroup v1, which only root can use%)\n$", out)
      -- Its v2 tree alone, which has no subtree for the user either.
      out, code = rl("run --rm " .. r, nil, "LUACTR_CGROUP_MODE=v2")
      assert.are.equal(125, code, out)
    end
    assert.matches("step %d+ %(cgroup create%): cgroup: rootless cgroups need a cgroup v2 subtree delegated to "
      .. "uid 1000 %(its group /sys/fs/cgroup%S* and those above it are not uid 1000's%)\n$", out)
    -- The guard checks that no group, state or temp dir is left.
  end)

  it_tree("makes, joins and removes a group in a delegated subtree; refuses a controller it lacks", function()
    local env = L.v1 and next(L.v1) and "LUACTR_CGROUP_MODE=v2" or nil
    local base, leaf = delegate({})
    local r = recipe([[return { user = true, args = { "/bin/sleep", "1000" }, cgroup = {} }]])
    local out, code = rl("run -d --name deleg " .. r, leaf, env)
    assert.are.equal(0, code, out)
    H.defer(function() rl("rm -f deleg", leaf, env) end)
    local rec = cjson.decode((rl("inspect deleg", leaf, env)))[1]
    local rel = base:sub(#V2 + 2)
    assert.are.equal(rel .. "/luactr/deleg", rec.cgroup)
    assert.are.equal(fmt("%d", rec.pid), read(base .. "/luactr/deleg/cgroup.procs"))
    -- The user's luactr finds it again: freeze and thaw it.
    out, code = rl("pause deleg", leaf, env)
    assert.are.equal(0, code, out)
    assert.matches("frozen 1", read(base .. "/luactr/deleg/cgroup.events"))
    out, code = rl("unpause deleg", leaf, env)
    assert.are.equal(0, code, out)
    out, code = rl("rm -f deleg", leaf, env)
    assert.are.equal(0, code, out)
    assert.are.same({ "leaf" }, groups(base))
    -- A limit whose controller the delegator did not give.
    r = recipe([[return { user = true, args = { "/bin/true" }, cgroup = { pids = 8 } }]])
    out, code = rl("run --rm --name nopids " .. r, leaf, env)
    assert.are.equal(125, code, out)
    assert.matches(fmt('cgroup "nopids": pids.max "8": controller pids is not delegated to uid 1000 %%(%s/'
      .. "cgroup.controllers is empty%%)\n$", H.esc(base)), out)
    assert.are.same({ "leaf" }, groups(base))
  end)

  describe("with memory and pids delegated", function()
    -- it(name, fn), or pending where the host cannot delegate them.
    local why = cannot_delegate({ "memory", "pids" })
    local function it_v2(name, fn)
      if why then pending(name .. " (" .. why .. ")") else it(name, fn) end
    end

    it_v2("writes memory.max and pids.max as asked, and the pids limit stops forks", function()
      local base, leaf = delegate({ "memory", "pids" })
      -- A shell that cannot fork ends (busybox's ash): the forks are tried
      -- in a subshell.
      local r = recipe([[return { user = true, cgroup = { memory = "64M", pids = 8 }, args = { "/bin/sh", "-c",
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; "
        .. "(for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1000 & done) 2>&1; echo started; exec sleep 1000" } }]])
      local out, code = rl("run -d --name lim " .. r, leaf)
      assert.are.equal(0, code, out)
      H.defer(function() rl("rm -f lim", leaf) end)
      local g = base .. "/luactr/lim"
      assert.are.equal("67108864", read(g .. "/memory.max"))
      assert.are.equal("8", read(g .. "/pids.max"))
      local log
      for _ = 1, 250 do
        log = rl("logs lim", leaf)
        if log:find("started", 1, true) then break end
        ns.sleep(0.02)
      end
      assert.matches("^67108864\n8\n", log)
      assert.matches("can't fork", log)
      assert.is_true(tonumber(read(g .. "/pids.current")) <= 8)
      assert.matches("max [1-9]", read(g .. "/pids.events"))
      out, code = rl("stats --no-stream lim", leaf)
      assert.are.equal(0, code, out)
      assert.matches("lim", out)
      out, code = rl("rm -f lim", leaf)
      assert.are.equal(0, code, out)
      assert.are.same({ "leaf" }, groups(base))
    end)

    it_v2("a container run in the foreground has its group removed when it ends", function()
      local base, leaf = delegate({ "memory", "pids" })
      local r = recipe([[return { user = true, cgroup = { pids = 3 }, args = { "/bin/sh", "-c",
        "cat /sys/fs/cgroup/pids.max; (sleep 1000 & sleep 1000 & sleep 1000 &) 2>&1; echo end" } }]])
      local out, code = rl("run --rm --name fg " .. r, leaf)
      assert.are.equal(0, code, out)
      assert.matches("^3\n.*can't fork.*end\n", out)
      assert.are.same({ "leaf" }, groups(base))
    end)

    it_v2("refuses a controller that is not delegated, naming it and the file", function()
      local base, leaf = delegate({ "pids" })
      local r = recipe([[return { user = true, args = { "/bin/true" }, cgroup = { memory = "64M", pids = 8 } }]])
      local out, code = rl("run --rm --name nomem " .. r, leaf)
      assert.are.equal(125, code, out)
      assert.matches(fmt('cgroup "nomem": memory.max "67108864": controller memory is not delegated to uid 1000 '
        .. "%%(%s/cgroup.controllers: pids%%)\n$", H.esc(base)), out)
      assert.are.same({ "leaf" }, groups(base))
    end)
  end)
end)
