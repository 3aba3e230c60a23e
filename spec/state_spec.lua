-- state_spec.lua: ns.state - container records under a state root, their
-- names, lookups, lifecycle, locks and the reconciling of stale ones.
-- Every store is opened on a private temp root, never /run/luactr.
local H = require "support.helper"
local ns = H.ns
local S = require "ns.state"

local function oct(s) return tonumber(s, 8) end

local defer = H.defer

-- A store on a fresh root (below a temp dir removed when the `it` ends).
local function store()
  local d = H.tmpdir("state")
  defer(function() H.rmrf(d) end)
  return S.open(d .. "/run"), d .. "/run"
end

-- The message fn(...) raises.
local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

local function lstat(p) return ns.stat(p, "nofollow") end

local function sorted_list(dir) return H.sorted(ns.listdir(dir) or {}) end

-- A child that waits until its pipe closes: its pid, pidfd and the end
-- to close to let it go.
local function waiting_child()
  local r, w = assert(ns.pipe())
  local pid, pidfd = assert(ns.clone {})
  if pid == 0 then
    w:close()
    r:read(1)
    ns._exit(0)
  end
  r:close()
  return pid, pidfd, w
end

describe("ns.state", function()
  H.guard()

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.state")
    assert.are.equal(S, require("ns").state)
  end)

  describe("STATUS", function()
    it("names the four statuses, is read-only and raises on unknown ones", function()
      for _, s in ipairs { "created", "running", "paused", "exited" } do assert.are.equal(s, S.STATUS[s]) end
      assert.matches("unknown status 'runing' %(did you mean 'running'%? valid: created, exited, paused, running%)",
        raised(function() return S.STATUS.runing end))
      assert.matches("read%-only", raised(function() S.STATUS.x = 1 end))
    end)
  end)

  describe("open()", function()
    it("takes an absolute root, default ns.util.state_root(), and makes nothing", function()
      local st, root = store()
      assert.are.equal(root, st.root)
      assert.are.equal(root, S.open(root .. "//").root)
      assert.are.equal(require("ns.util").state_root(), S.open().root)
      assert.matches("absolute path", raised(S.open, "relative/dir"))
      assert.are.same({}, st:list())
      assert.are.same({}, st:reconcile_all())
      assert.is_nil(st:find("web"))
      assert.is_nil(lstat(root))
    end)
  end)

  describe("create()", function()
    it("records a container with a 64-hex id, its name and status created", function()
      local st, root = store()
      local t0 = S.now()
      local s = st:create { name = "web", image = "busybox", command = { "/bin/sh", "-c", "true" },
        labels = { app = "x" }, config = { hostname = "web", args = { "/bin/sh" } } }
      assert.matches("^" .. ("%x"):rep(64) .. "$", s.id)
      assert.are.equal(s.id:sub(1, 12), s:short_id())
      assert.are.equal("web", s.name)
      assert.are.equal("created", s.status)
      assert.are.equal(S.VERSION, s.version)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$", s.created)
      assert.is_true(s.created >= t0)
      assert.are.same({ "/bin/sh", "-c", "true" }, s.command)
      assert.are.same({ hostname = "web", args = { "/bin/sh" } }, s.config)
      assert.are.equal("container web (" .. s:short_id() .. ", created)", tostring(s))
      -- The layout.
      assert.are.same({ "containers", "containers.lock", "names" }, sorted_list(root))
      assert.are.same({ s.id }, sorted_list(root .. "/containers"))
      assert.are.same({ "state.json" }, sorted_list(s:dir()))
      assert.are.equal(root .. "/containers/" .. s.id, s:dir())
      assert.are.equal(oct"600", lstat(s:dir() .. "/state.json").mode)
      assert.are.equal(oct"711", lstat(s:dir()).mode)
      assert.are.equal("link", lstat(root .. "/names/web").type)
      assert.are.equal(s.id, ns.readlink(root .. "/names/web"))
      assert.are.same(s:data(), st:load("web"):data())
    end)

    it("generates unique adjective_surname names when none is given", function()
      local st = store()
      local seen = {}
      for _ = 1, 30 do
        local s = st:create {}
        assert.matches("^%l+_%l+[_%d]*$", s.name)
        assert.is_nil(seen[s.name])
        seen[s.name] = true
      end
      assert.are.equal(30, #st:list())
    end)

    it("keeps integers exact and floats as floats, and refuses what is not plain data", function()
      local st, root = store()
      local big = 1 << 53
      local s = st:create { config = { memory = 1099511627776, max = big, cpu = 0.25, inode = 4026531836,
        on = true, list = {}, nested = { { a = "x\n\"y\"" } } } }
      local c = st:load(s.id).config
      assert.are.equal(1099511627776, c.memory)
      assert.are.equal("integer", math.type(c.memory))
      assert.are.equal(big, c.max)
      assert.are.equal(0.25, c.cpu)
      assert.are.equal(4026531836, c.inode)
      assert.are.same({ { a = "x\n\"y\"" } }, c.nested)
      local n = #st:list()
      assert.matches("state.create.config.parent%[1%]: a function cannot be stored",
        raised(st.create, st, { name = "f", config = { parent = { print } } }))
      local cyc = {}
      cyc.me = cyc
      assert.matches("config.me: a table inside itself", raised(st.create, st, { config = cyc }))
      assert.matches("config: key 'x': a table is stored as a list %(keys 1..n%) or a map",
        raised(st.create, st, { config = { 1, 2, x = 3 } }))
      assert.matches("config.n: " .. big + 1 .. " is too large", raised(st.create, st, { config = { n = big + 1 } }))
      assert.matches("config.n: inf cannot be stored", raised(st.create, st, { config = { n = math.huge } }))
      assert.matches("config.m: a table with a metatable", raised(st.create, st, { config = { m = setmetatable({}, {}) } }))
      -- Nothing was made for them, and their names stay free.
      assert.are.equal(n, #st:list())
      assert.is_nil(lstat(root .. "/names/f"))
    end)

    it("refuses bad names, unknown keys and fields of the wrong type", function()
      local st = store()
      assert.matches('bad container name "%-x"', raised(st.create, st, { name = "-x" }))
      assert.matches('bad container name "a/b"', raised(st.create, st, { name = "a/b" }))
      assert.matches("at most 64 bytes", raised(st.create, st, { name = ("a"):rep(65) }))
      assert.matches("would be taken for an id", raised(st.create, st, { name = ("ab"):rep(32) }))
      assert.matches("state.create: unknown key 'status'", raised(st.create, st, { status = "running" }))
      assert.matches("unknown key 'nmae' %(.*valid: bundle, cgroup", raised(st.create, st, { nmae = "x" }))
      assert.matches("command must be a list of strings", raised(st.create, st, { command = { 1 } }))
      assert.matches("labels must be a map of strings to strings", raised(st.create, st, { labels = { a = 1 } }))
      assert.matches("expected a table", raised(st.create, st, "web"))
      assert.are.same({}, st:list())
      assert.are.equal(64, #st:create({ name = ("n"):rep(64) }).name)
    end)

    it("refuses a name in use, naming the container that has it", function()
      local st, root = store()
      local s = st:create { name = "x" }
      local err = raised(st.create, st, { name = "x" })
      assert.are.equal('container name "x" is already in use by container ' .. s:short_id()
        .. ": remove it, or choose another name", err)
      assert.are.same({ s.id }, sorted_list(root .. "/containers"))
    end)

    it("takes over a name whose container is gone (its creator died)", function()
      local st, root = store()
      st:create { name = "other" }
      assert(ns.symlink(("0"):rep(64), root .. "/names/x"))
      local s = st:create { name = "x" }
      assert.are.equal(s.id, ns.readlink(root .. "/names/x"))
    end)

    it("of processes creating one name at once, exactly one wins; the others are told", function()
      local st, root = store()
      st:create { name = "warm" }
      local kids = {}
      for i = 1, 6 do
        local pid, pidfd = assert(ns.clone {})
        if pid == 0 then
          local ok, err = pcall(st.create, st, { name = "x" })
          ns._exit(ok and 0 or (tostring(err):match('^container name "x" is already in use by container %x+') and 1 or 2))
        end
        kids[i] = pidfd
      end
      local codes = {}
      for _, pidfd in ipairs(kids) do
        local w = assert(ns.wait(pidfd))
        pidfd:close()
        codes[#codes + 1] = w.code
      end
      assert.are.same({ 0, 1, 1, 1, 1, 1 }, H.sorted(codes))
      assert.are.equal(2, #sorted_list(root .. "/containers"))
      assert.are.same({ "warm", "x" }, sorted_list(root .. "/names"))
      assert.are.equal("x", st:load("x").name)
    end)

    it("gives processes creating at once without names distinct ones", function()
      local st, root = store()
      local kids = {}
      for i = 1, 4 do
        local pid, pidfd = assert(ns.clone {})
        if pid == 0 then ns._exit(pcall(st.create, st, {}) and 0 or 1) end
        kids[i] = pidfd
      end
      for _, pidfd in ipairs(kids) do
        assert.are.equal(0, assert(ns.wait(pidfd)).code)
        pidfd:close()
      end
      assert.are.equal(4, #sorted_list(root .. "/names"))
      assert.are.equal(4, #st:list())
    end)
  end)

  describe("find() and load()", function()
    it("finds by full id, name, or a unique id prefix", function()
      local st = store()
      local a, b = st:create { name = "web" }, st:create { name = "db" }
      assert.are.equal("web", st:load(a.id).name)
      assert.are.equal("web", st:load(a.id:upper()).name)
      assert.are.equal("db", st:load("db").name)
      -- The shortest prefix of a that b does not share.
      local n = 1
      while a.id:sub(1, n) == b.id:sub(1, n) do n = n + 1 end
      assert.are.equal("web", st:load(a.id:sub(1, n)).name)
      assert.are.equal("web", st:load(a:short_id()).name)
      assert.are.equal("db", S.load("db", st.root).name)
      assert.are.equal("db", select(1, S.find("db", st.root)).name)
    end)

    it("prefers a name over an id prefix", function()
      local st = store()
      local s = st:create {}
      local named = st:create { name = s.id:sub(1, 4) }
      assert.are.equal(named.id, st:load(s.id:sub(1, 4)).id)
    end)

    it("says an ambiguous prefix is, listing the ids it matches", function()
      local st = store()
      -- 17 ids: two share a first digit.
      local by = {}
      local d
      for _ = 1, 17 do
        local s = st:create {}
        local c = s.id:sub(1, 1)
        by[c] = by[c] or {}
        table.insert(by[c], s:short_id())
        if #by[c] == 2 then d = c end
      end
      local s, why = st:find(d)
      assert.is_nil(s)
      assert.matches(('^container id prefix "%s" is ambiguous: '):format(d), why)
      for _, short in ipairs(by[d]) do assert.matches(short, why, 1, true) end
      assert.are.equal(why, raised(st.load, st, d))
    end)

    it("lists the nearest names and ids of an unknown one", function()
      local st = store()
      st:create { name = "web" }
      st:create { name = "web2" }
      local s = st:create { name = "db" }
      assert.are.equal('no such container: "wbe" (did you mean "web"?)', select(2, st:find("wbe")))
      assert.are.equal('no such container: "web3" (did you mean "web" or "web2"?)', select(2, st:find("web3")))
      assert.are.equal('no such container: "zzzzzz"', select(2, st:find("zzzzzz")))
      assert.are.equal('no such container: "zzzzzz"', raised(st.load, st, "zzzzzz"))
      -- A mistyped id prefix: one digit off.
      local p = s.id:sub(1, 8)
      local typo = p:sub(1, 7) .. (p:sub(8, 8) == "0" and "1" or "0")
      local why = select(2, st:find(typo))
      assert.matches("did you mean .*" .. s:short_id(), why)
      assert.are.equal('no such container: ""', select(2, st:find("")))
      assert.matches("expected a container id or name", raised(st.find, st, 42))
    end)
  end)

  describe("list()", function()
    it("gives every container oldest first, skipping what is not a record", function()
      local st, root = store()
      local names = {}
      for i = 1, 5 do names[i] = st:create({ name = "c" .. i }).name end
      local got = {}
      for i, s in ipairs(st:list()) do got[i] = s.name end
      assert.are.same(names, got)
      -- A creator's and a remover's leftovers, and a stray entry.
      assert(ns.mkdir(root .. "/containers/.new-abcdef"))
      assert(ns.mkdir(root .. "/containers/.rm-" .. ("1"):rep(64)))
      assert(ns.mkdir(root .. "/containers/junk"))
      local list, bad = st:list()
      assert.are.equal(5, #list)
      assert.are.same({}, bad)
      -- An unreadable record is left out and said.
      assert(ns.writefile(st:load("c3"):dir() .. "/state.json", "{not json"))
      list, bad = st:list()
      assert.are.equal(4, #list)
      assert.are.equal(1, #bad)
      assert.matches("state .*/state.json: not JSON", bad[1])
      assert.matches("not JSON", raised(st.load, st, "c3"))
    end)
  end)

  describe("save()", function()
    it("replaces the record whole (a temp file renamed over it)", function()
      local st = store()
      local s = st:create { name = "web" }
      local before = lstat(s:dir() .. "/state.json").ino
      s.labels = { tier = "front" }
      s.rootfs = "/srv/rootfs"
      assert.are.equal(s, s:save())
      assert.are_not.equal(before, lstat(s:dir() .. "/state.json").ino)
      assert.are.same({ "state.json" }, sorted_list(s:dir()))
      local again = st:load("web")
      assert.are.same({ tier = "front" }, again.labels)
      assert.are.equal("/srv/rootfs", again.rootfs)
      s.name = "other"
      assert.matches("a save cannot rename it", raised(s.save, s))
      s.name = "web"
      s.status = "bogus"
      assert.matches("status must be one of", raised(s.save, s))
    end)

    it("leaves the old record readable after a writer died before its rename", function()
      local st = store()
      local s = st:create { name = "web" }
      local dir = s:dir()
      -- What a writer killed between its write and its rename leaves.
      assert(ns.writefile(dir .. "/.state.json.deadbeef0000", '{"version":1,"id":"x","status":"ha', { create = true }))
      assert.are.equal("created", st:load("web").status)
      assert.are.equal(1, #st:list())
      -- The next write cleans it up.
      s:set { image = "busybox" }
      assert.are.same({ "state.json" }, sorted_list(dir))
      assert.are.equal("busybox", st:load("web").image)
    end)

    it("leaves nothing of a creator that died half-way, once another writes", function()
      local st, root = store()
      assert(ns.mkdir(root, oct"755", true))
      assert(ns.mkdir(root .. "/containers", oct"711"))
      assert(ns.mkdir(root .. "/containers/.new-XXXX12"))
      assert(ns.writefile(root .. "/containers/.new-XXXX12/state.json", "{}", { create = true }))
      assert.are.same({}, st:list())
      st:create { name = "web" }
      assert.are.same({ st:load("web").id }, sorted_list(root .. "/containers"))
    end)
  end)

  describe("set()", function()
    it("changes the fields that are not the lifecycle's, at once", function()
      local st = store()
      local s = st:create { name = "web", image = "busybox" }
      s:set { cgroup = { memory = "/sys/fs/cgroup/memory/luactr/web" }, upper = "/u", log = s:path("log"),
        namespaces = { pid = 4026531836 } }
      local l = st:load("web")
      assert.are.same({ memory = "/sys/fs/cgroup/memory/luactr/web" }, l.cgroup)
      assert.are.equal(s:dir() .. "/log", l.log)
      assert.are.same({ pid = 4026531836 }, l.namespaces)
      s:set { image = false }
      assert.is_nil(st:load("web").image)
      assert.matches("container \"web\": set: unknown key 'status'", raised(s.set, s, { status = "running" }))
      assert.matches("unknown key 'exit_code'", raised(s.set, s, { exit_code = 1 }))
      assert.matches("upper must be a string", raised(s.set, s, { upper = 1 }))
      assert.matches("bad file name", raised(s.path, s, "../x"))
      assert.matches("bad file name", raised(s.path, s, "state.json"))
    end)

    it("fills a pid's start time and the boot id from /proc (an OCI created container)", function()
      local st = store()
      local s = st:create { name = "oci" }
      s:set { pid = ns.getpid() }
      assert.are.equal(S.process_start(ns.getpid()), s.start_time)
      assert.are.equal(S.boot_id(), s.boot_id)
      assert.are.equal("created", s.status)
      local pid, gone <close> = H.reaped()
      assert.matches("process " .. pid .. " is gone", raised(s.set, s, { pid = pid }))
      assert.matches("pid must be positive", raised(s.set, s, { pid = 0 }))
      s:set { pid = false }
      assert.is_nil(s.pid)
      assert.is_nil(s.start_time)
    end)
  end)

  describe("lifecycle", function()
    it("goes created -> running -> paused -> running -> exited", function()
      local st = store()
      local s = st:create { name = "web" }
      assert.are.equal(s, s:running { pid = ns.getpid(), cgroup = "/sys/fs/cgroup/unified/luactr/web" })
      assert.are.equal("running", s.status)
      assert.are.equal(S.process_start(ns.getpid()), s.start_time)
      assert.are.equal(ns.nsid("self", "pid"), s.namespaces.pid)
      assert.are.equal(ns.nsid("self", "mnt"), s.namespaces.mnt)
      assert.is_string(s.started)
      s:paused()
      assert.are.equal("paused", st:load("web").status)
      s:resumed()
      assert.are.equal("running", st:load("web").status)
      s:exited { code = 3 }
      local l = st:load("web")
      assert.are.equal("exited", l.status)
      assert.are.equal(3, l.exit_code)
      assert.are.equal(3, l:exit_status())
      assert.is_true(l.finished >= l.started)
    end)

    it("says what each status allows, and why not", function()
      local st = store()
      local s = st:create { name = "web" }
      local function allowed()
        local t = {}
        for _, k in ipairs { "start", "kill", "delete", "pause", "resume", "exec" } do
          if s["can_" .. k](s) then t[#t + 1] = k end
        end
        return table.concat(t, " ")
      end
      assert.are.equal("start kill", allowed())
      s:running { pid = ns.getpid() }
      assert.are.equal("kill pause exec", allowed())
      assert.are.same({ false, 'container "web" is running: stop it first, or remove it with force' },
        { s:can_delete() })
      s:paused()
      assert.are.equal("kill resume", allowed())
      s:exited { signal = "KILL", oom = true }
      assert.are.equal("delete", allowed())
      assert.are.same({ false, 'container "web" is exited: only a created container starts' }, { s:can_start() })
      assert.is_true(st:load("web").oom)
      assert.are.equal(137, s:exit_status())
    end)

    it("refuses a transition the status does not allow", function()
      local st = store()
      local s = st:create { name = "web" }
      assert.matches('container "web" is created: only a running container pauses', raised(s.paused, s))
      assert.matches('only a paused container resumes', raised(s.resumed, s))
      assert.matches("running needs the pid", raised(s.running, s, {}))
      assert.matches("unknown key 'pdi'", raised(s.running, s, { pdi = 1 }))
      s:running { pid = ns.getpid(), pidfd = 3 }
      assert.matches('container "web" is running: only a created container starts',
        raised(s.running, s, { pid = ns.getpid() }))
      assert.matches("exited needs a code, a signal or a reason", raised(s.exited, s, {}))
      assert.matches("exit code must be an integer 0..255", raised(s.exited, s, { code = 256 }))
      s:exited { code = 0 }
      assert.matches('container "web" has already exited', raised(s.exited, s, { code = 1 }))
      assert.is_nil(st:create({ name = "x" }):exit_status())
    end)

    it("reads the record afresh: a stale copy's transition sees another's change", function()
      local st = store()
      local s = st:create { name = "web" }
      local other = st:load("web")
      other:running { pid = ns.getpid() }
      assert.are.equal("created", s.status)
      assert.matches("is running: only a created container starts", raised(s.running, s, { pid = ns.getpid() }))
      assert.are.equal("running", s.status)
      s:exited { code = 0 }
      assert.are.equal("exited", other:reload().status)
      assert.is_true(other:remove())
      assert.matches('container "web" %(%x+%): no such container %(removed%)', raised(s.paused, s))
      assert.matches("no such container %(removed%)", raised(s.reload, s))
    end)
  end)

  describe("reconcile()", function()
    it("marks exited a container whose process is gone, or is another process now", function()
      local st = store()
      local s = st:create { name = "short" }
      local pid, pidfd, w = waiting_child()
      s:running { pid = pid }
      assert.is_true(s:alive())
      local _, changed = st:reconcile(s)
      assert.is_false(changed)
      assert.are.equal("running", s.status)
      w:close()
      assert(ns.wait(pidfd))
      pidfd:close()
      assert.are.same({ false, ('container "short": process %d is gone'):format(pid) }, { s:alive() })
      assert.are.equal(s, select(1, S.reconcile(s)))
      assert.are.equal("exited", s.status)
      assert.are.equal("its process is gone (monitor killed?)", s.reason)
      assert.is_nil(s.exit_code)
      assert.are.equal("exited", st:load("short").status)
      -- A live pid whose start time is not the one recorded: recycled.
      local r = st:create { name = "recycled" }
      r:running { pid = ns.getpid(), start_time = S.process_start(ns.getpid()) - 1 }
      assert.matches("is another one now %(pid reused%)", select(2, r:alive()))
      assert.is_nil(r:pidfd())
      assert.is_true(select(2, st:reconcile(r)))
      assert.are.equal("its process is gone (monitor killed?)", st:load("recycled").reason)
      -- Its real end, when it comes, replaces the guess.
      r:exited { code = 7 }
      assert.are.equal(7, st:load("recycled").exit_code)
      assert.is_nil(st:load("recycled").reason)
    end)

    it("marks exited a container of another boot", function()
      local st = store()
      local s = st:create { name = "old" }
      s:running { pid = ns.getpid() }
      s.boot_id = "00000000-0000-0000-0000-000000000000"
      s:save()
      st:reconcile(s)
      assert.are.equal("exited", s.status)
      assert.are.equal("the host rebooted", s.reason)
    end)

    it("leaves alone a live process, one never started, one exited, and one its monitor holds", function()
      local st = store()
      local live = st:create { name = "live" }
      live:running { pid = ns.getpid() }
      local fd <close> = live:pidfd()
      assert.are.equal("pidfd", fd:kind())
      local created = st:create { name = "created" }
      local done = st:create { name = "done" }
      done:exited { code = 1 }
      local held = st:create { name = "held" }
      held:running { pid = ns.getpid() }
      local gone_pid, gone <close> = H.reaped()
      held.pid = gone_pid
      held:save()
      local h = held:hold()
      assert.is_true(held:held())
      for _, s in ipairs { live, created, done, held } do
        assert.is_false(select(2, st:reconcile(s)), s.name)
      end
      assert.are.equal("running", st:load("held").status)
      -- Once its monitor has gone, it is stale.
      h:close()
      assert.is_false(held:held())
      assert.is_true(select(2, st:reconcile(held)))
    end)
  end)

  describe("reconcile_all()", function()
    it("reconciles every container and sweeps dead writers' leftovers", function()
      local st, root = store()
      local a = st:create { name = "a" }
      a:running { pid = ns.getpid() }
      local b = st:create { name = "b" }
      b:running { pid = ns.getpid() }
      local gone_pid, gone <close> = H.reaped()
      b.pid = gone_pid
      b:save()
      st:create { name = "c" }
      assert(ns.mkdir(root .. "/containers/.rm-" .. ("2"):rep(64)))
      assert(ns.writefile(root .. "/containers/.rm-" .. ("2"):rep(64) .. "/log", "x", { create = true }))
      local list, marked = S.reconcile_all(root)
      assert.are.same({ "a", "b", "c" }, { list[1].name, list[2].name, list[3].name })
      assert.are.equal(1, #marked)
      assert.are.equal("b", marked[1].name)
      assert.are.equal("exited", list[2].status)
      assert.are.same({ "running", "exited", "created" },
        { st:load("a").status, st:load("b").status, st:load("c").status })
      assert.are.equal(3, #sorted_list(root .. "/containers"))
      assert.are.equal(0, #select(2, st:reconcile_all()))
    end)
  end)

  describe("remove()", function()
    it("removes an exited container's directory and name, leaving nothing", function()
      local st, root = store()
      local s = st:create { name = "web" }
      assert(ns.writefile(s:path("log"), "hello\n", { create = true }))
      assert(ns.mkdir(s:path("upper") .. "/etc", oct"755", true))
      s:exited { reason = "start failed" }
      assert.is_true(s:remove())
      assert.are.same({}, sorted_list(root .. "/containers"))
      assert.are.same({}, sorted_list(root .. "/names"))
      assert.is_nil(st:find("web"))
      assert.matches("no such container %(removed%)", raised(s.remove, s))
      -- The name is free again.
      assert.are.equal("web", st:create({ name = "web" }).name)
    end)

    it("refuses a running one unless forced", function()
      local st, root = store()
      local s = st:create { name = "web" }
      s:running { pid = ns.getpid() }
      assert.are.equal('container "web" is running: stop it first, or remove it with force', raised(s.remove, s))
      assert.are.equal("running", st:load("web").status)
      assert.matches("unknown key 'forse'", raised(s.remove, s, { forse = true }))
      assert.is_true(s:remove { force = true })
      assert.are.same({}, sorted_list(root .. "/containers"))
      assert.are.same({}, sorted_list(root .. "/names"))
    end)
  end)

  describe("hold()", function()
    it("lets one process at a time hold a container", function()
      local st = store()
      local s = st:create { name = "web" }
      assert.is_false(s:held())
      local h = s:hold()
      assert.is_true(s:held())
      assert.matches('container "web" is held by another process', raised(s.hold, s))
      assert.matches("held by another process", H.child_value(function()
        local ok, err = pcall(s.hold, st:load("web"))
        return ok and "held" or tostring(err)
      end))
      h:close()
      assert.is_false(s:held())
      s:hold():close()
    end)
  end)

  describe("process_start()", function()
    it("reads field 22 of /proc/PID/stat, and nil for no process", function()
      local start, letter = S.process_start(ns.getpid())
      assert.are.equal("integer", math.type(start))
      assert.are.equal("R", letter)
      local stat = assert(ns.readfile("/proc/self/stat"))
      assert.are.equal(start, S.process_start("self"))
      assert.matches(" " .. start .. " ", stat, 1, true)
      local pid, gone <close> = H.reaped()
      assert.is_nil(S.process_start(pid))
    end)
  end)

  describe("encode() and decode()", function()
    it("writes sorted keys and exact integers, and reads whole numbers as integers", function()
      assert.are.equal('{"a":[1,2.5,"x"],"b":{},"c":true,"d":"q\\"\\n\\u0001"}',
        S.encode { d = 'q"\n\1', c = true, b = {}, a = { 1, 2.5, "x" } })
      local v = S.decode('{"n":9007199254740992,"f":0.5,"z":null}')
      assert.are.same({ n = 9007199254740992, f = 0.5 }, v)
      assert.are.equal("integer", math.type(v.n))
      assert.matches("^x: not JSON", raised(S.decode, "[", "x"))
      assert.matches("^value.k: a userdata cannot be stored", raised(S.encode, { k = io.stdout }))
    end)
  end)

  describe("ns.util.nearest()", function()
    it("offers the few names a typo is near, nearest first", function()
      local util = require "ns.util"
      assert.are.same({ "web" }, util.nearest("wbe", { "db", "web", "cache" }))
      assert.are.same({ "web", "web1", "web2" }, util.nearest("web3", { "web2", "web1", "web", "x" }))
      assert.are.same({ "web2" }, util.nearest("web22", { "web", "web2", "db" }))
      assert.are.same({ "web" }, util.nearest("web3", { "web2", "web1", "web" }, 1))
      assert.are.same({}, util.nearest("zzz", { "web", "db" }))
    end)
  end)
end)
