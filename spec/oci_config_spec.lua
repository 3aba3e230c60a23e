-- oci_config_spec.lua: ns.oci.config, an OCI config.json as a container
-- table. runc spec's own configs translate and pass the recipe check; a
-- bundle of the busybox tree runs from one and shows inside what runc run
-- shows for the same bundle; every field luactr cannot take is refused,
-- naming it.
local cjson = require "cjson"
local H = require "support.helper"
local oci = require "ns.oci.config"
local recipe = require "ns.recipe"
local ns = H.ns

local function sh(cmd)
  local out, code = H.sh(cmd)
  assert(code == 0, cmd .. ": " .. tostring(out))
  return out
end

local function have_runc() return select(2, H.sh("command -v runc >/dev/null")) == 0 end

local function readjson(path)
  local f = assert(io.open(path))
  local t = cjson.decode(f:read("a"))
  f:close()
  return t
end

local function writejson(path, t)
  local f = assert(io.open(path, "w"))
  f:write(cjson.encode(t))
  f:close()
end

-- A deep copy of a decoded JSON value.
local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

-- A small valid config, for the error cases: each edits a copy.
local function base()
  return {
    ociVersion = "1.1.0",
    process = { args = { "sh" }, cwd = "/", user = { uid = 0, gid = 0 }, env = { "PATH=/bin" } },
    root = { path = "rootfs" },
    hostname = "h",
    mounts = { { destination = "/proc", type = "proc", source = "proc" } },
    linux = { namespaces = { { type = "pid" }, { type = "mount" }, { type = "uts" }, { type = "ipc" } } },
  }
end

-- Each: an edit of base(), then the error it must raise.
local BAD = {
  { function(c) c.process.args = {} end, "config.json: process.args: must be a non-empty list of strings" },
  { function(c) c.process.args = { "sh", 3 } end, "config.json: process.args[2]: must be a string, not number" },
  { function(c) c.process.args = "sh" end, "config.json: process.args: must be a list, not string" },
  { function(c) c.process = nil end, "config.json: process: is required (the container's process: args, cwd, ...)" },
  { function(c) c.process.cwd = "tmp" end, 'config.json: process.cwd: "tmp" must be an absolute path' },
  { function(c) c.process.cwd = nil end, "config.json: process.cwd: is required (an absolute path)" },
  { function(c) c.process.env = { "NOEQUALS" } end, 'config.json: process.env[1]: "NOEQUALS" is not KEY=VALUE' },
  { function(c) c.process.terminal = "yes" end, "config.json: process.terminal: must be true or false, not string" },
  { function(c) c.process.user.uid = -1 end, "config.json: process.user.uid: must be at least 0, not -1" },
  { function(c) c.process.user.gid = 1.5 end, "config.json: process.user.gid: must be an integer, not 1.5" },
  { function(c) c.process.user.additionalGids = { "wheel" } end,
    "config.json: process.user.additionalGids[1]: must be an integer, not string" },
  { function(c) c.process.capabilities = { bounding = "CAP_KILL" } end,
    "config.json: process.capabilities.bounding: must be a list, not string" },
  { function(c) c.process.rlimits = { { type = "RLIMIT_FOO", soft = 1, hard = 1 } } end,
    'config.json: process.rlimits[1].type: unknown rlimit "RLIMIT_FOO" (RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, '
    .. "RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, "
    .. "RLIMIT_NPROC, RLIMIT_RSS, RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK)" },
  { function(c) c.process.rlimits = { { type = "RLIMIT_NOFILE", soft = 1, hard = 1 },
    { type = "RLIMIT_NOFILE", soft = 2, hard = 2 } } end, "config.json: process.rlimits[2].type: RLIMIT_NOFILE is given twice" },
  { function(c) c.process.rlimits = { { type = "RLIMIT_NOFILE", soft = 10, hard = 5 } } end,
    "config.json: process.rlimits[1]: soft limit 10 is above the hard limit 5" },
  { function(c) c.process.oomScoreAdj = 2000 end, "config.json: process.oomScoreAdj: must be at most 1000, not 2000" },
  { function(c) c.process.ioPriority = { class = "IOPRIO_CLASS_IDLE" } end,
    "config.json: process.ioPriority.priority: is required (0 (highest) to 7)" },
  { function(c) c.process.ioPriority = { class = "IOPRIO_CLASS_NONE", priority = 0 } end,
    'config.json: process.ioPriority.class: "IOPRIO_CLASS_NONE" is not IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE' },
  { function(c) c.process.ioPriority = { class = "IOPRIO_CLASS_BE", priority = 8 } end,
    "config.json: process.ioPriority.priority: must be at most 7, not 8" },
  { function(c) c.process.capabilities = { bounding = { "CAP_KILL" }, effective = { "CAP_KILL" } } end,
    "config.json: process.capabilities.effective: CAP_KILL is not in process.capabilities.permitted "
      .. "(capset(2) refuses an effective capability that is not permitted)" },
  { function(c) c.process.capabilities = { bounding = { "CAP_KILL" }, inheritable = { "CAP_CHOWN" } } end,
    "config.json: process.capabilities.inheritable: CAP_CHOWN is not in process.capabilities.bounding "
      .. "(capset(2) takes an inheritable capability only from the bounding set)" },
  { function(c) c.root.path = "nonexistent" end, "config.json: root.path: %s/nonexistent: No such file or directory" },
  { function(c) c.root = nil end, "config.json: root: is required ({path = the rootfs})" },
  { function(c) c.ociVersion = "2.0.0" end,
    'config.json: ociVersion: "2.0.0" is not a version of runtime-spec 1 (1.0.0 to 1.1.0)' },
  { function(c) c.hostname = 7 end, "config.json: hostname: must be a string, not number" },
  { function(c) c.linux.namespaces[3] = { type = "foo" } end,
    'config.json: linux.namespaces[3].type: unknown namespace type "foo" (mount, pid, network, ipc, uts, user, cgroup, time)' },
  { function(c) c.linux.namespaces[1].path = "proc/1/ns/pid" end,
    'config.json: linux.namespaces[1].path: must be an absolute path, not "proc/1/ns/pid"' },
  { function(c) c.linux.namespaces[1].path = "/proc/1/ns/nothere" end,
    "config.json: linux.namespaces[1].path: /proc/1/ns/nothere: No such file or directory" },
  { function(c) c.linux.namespaces[5] = { type = "pid" } end,
    'config.json: linux.namespaces[5].type: namespace "pid" is given twice' },
  { function(c) table.remove(c.linux.namespaces, 2) end,
    'config.json: linux.namespaces: a mount namespace is needed for the root (add {"type": "mount"})' },
  { function(c) table.remove(c.linux.namespaces, 3) end,
    'config.json: hostname: needs a uts namespace of its own ({"type": "uts"} in linux.namespaces, no path)' },
  { function(c) c.linux.namespaces[5] = { type = "user" } end,
    "config.json: linux.uidMappings: a user namespace needs uidMappings and gidMappings" },
  { function(c) c.linux.uidMappings = { { containerID = 0, hostID = 1000, size = 1 } } end,
    'config.json: linux.uidMappings: needs a user namespace ({"type": "user"} in linux.namespaces)' },
  { function(c)
      c.linux.namespaces[5] = { type = "user" }
      c.linux.uidMappings = { { containerID = 0, hostID = 100000, size = 10 } }
      c.linux.gidMappings = { { containerID = 0, hostID = 100000, size = 0 } }
    end, "config.json: linux.gidMappings[1].size: must be at least 1, not 0" },
  { function(c)
      c.linux.namespaces[5] = { type = "user" }
      c.process.user.uid = 1000
      c.linux.uidMappings = { { containerID = 0, hostID = 100000, size = 10 } }
      c.linux.gidMappings = { { containerID = 0, hostID = 100000, size = 10 } }
    end, "config.json: process.user.uid: 1000 is not mapped by linux.uidMappings" },
  { function(c) c.linux.timeOffsets = { monotonic = { secs = 1 } } end,
    'config.json: linux.timeOffsets: needs a time namespace ({"type": "time"} in linux.namespaces)' },
  { function(c) c.mounts[2] = { destination = "/data", type = "bind", source = "data", options = { "rbind", "tmpcopyup" } } end,
    "config.json: mounts[2].options: tmpcopyup is for a tmpfs, not a bind mount" },
  { function(c) c.mounts[2] = { destination = "/data", type = "none", source = "/tmp", options = { "rbind", "idmap" } } end,
    "config.json: mounts[2].uidMappings: an idmapped mount without mappings needs the container's (linux.uidMappings)" },
  { function(c) c.mounts[2] = { destination = "/data", type = "bind", source = "/tmp", options = { "rbind" },
      uidMappings = { { containerID = 0, hostID = 1, size = 1 } } } end,
    "config.json: mounts[2].gidMappings: an idmapped mount needs uidMappings and gidMappings" },
  { function(c) c.mounts[2] = { destination = "/data", type = "tmpfs", source = "tmpfs", options = { "idmap" },
      uidMappings = { { containerID = 0, hostID = 1, size = 1 } }, gidMappings = { { containerID = 0, hostID = 1, size = 1 } } } end,
    'config.json: mounts[2].options: an idmapped mount is a bind mount ("bind" or "rbind")' },
  { function(c) c.mounts[2] = { destination = "/data", source = "x" } end,
    'config.json: mounts[2].type: is required for a mount that is not a bind ("tmpfs", ...)' },
  { function(c) c.mounts[2] = { destination = "/data", type = "bind", source = "nonexistent", options = { "bind" } } end,
    "config.json: mounts[2].source: %s/nonexistent: No such file or directory" },
  { function(c) c.mounts[2] = { type = "tmpfs", source = "tmpfs" } end,
    "config.json: mounts[2].destination: is required (a path in the container)" },
  { function(c) c.mounts = { destination = "/proc" } end, "config.json: mounts: must be a list, not object" },
  { function(c) c.linux.resources = { memory = { limit = "64M" } } end,
    "config.json: linux.resources.memory.limit: must be an integer, not string" },
  { function(c) c.linux.resources = { memory = { swappiness = 101 } } end,
    "config.json: linux.resources.memory.swappiness: must be at most 100, not 101" },
  { function(c) c.linux.resources = { memory = { reservation = 0 } } end,
    "config.json: linux.resources.memory.reservation: must be positive, or -1 for no limit" },
  { function(c) c.linux.resources = { cpu = { idle = 2 } } end,
    "config.json: linux.resources.cpu.idle: must be at most 1, not 2" },
  { function(c) c.linux.resources = { cpu = { mems = "zero" } } end,
    'config.json: linux.resources.cpu.mems: cpuset_mems must be a node list like "0" or "0-1", got zero' },
  { function(c) c.linux.resources = { cpu = { realtimeRuntime = 2000, realtimePeriod = 1000 } } end,
    "config.json: linux.resources.cpu.realtimeRuntime: cpu_rt_runtime 2000 is above cpu_rt_period 1000" },
  { function(c) c.linux.resources = { cpu = { quota = 500, period = 100000 } } end,
    "config.json: linux.resources.cpu.quota: cpu 0.005 gives a quota of 500 µs, below the kernel's minimum of 1000 "
    .. "(raise cpu or cpu_period)" },
  { function(c) c.linux.resources = { hugepageLimits = { { pageSize = "2M", limit = 1 } } } end,
    'config.json: linux.resources.hugepageLimits[1].pageSize: "2M" is not a page size ("2MB", "1GB")' },
  { function(c) c.linux.resources = { unified = { ["cgroup.procs"] = "1" } } end,
    "config.json: linux.resources.unified: cgroup.procs is luactr's to write, not a limit" },
  { function(c) c.linux.resources = { unified = { ["../x"] = "1" } } end,
    'config.json: linux.resources.unified: "../x" is not a cgroup v2 file name (controller.file)' },
  { function(c) c.linux.resources = { blockIO = { throttleReadBpsDevice = { { major = 8, rate = 1 } } } } end,
    "config.json: linux.resources.blockIO.throttleReadBpsDevice[1].minor: is required (a number)" },
  { function(c) c.linux.resources = { blockIO = { leafWeight = 10 } } end,
    "config.json: linux.resources.blockIO.leafWeight: the kernel has no leaf weights any more (blkio.leaf_weight went with CFQ in 5.0)" },
  { function(c) c.linux.resources = { rdma = { mlx5_0 = { hcaHandles = 1 } } } end,
    "config.json: linux.resources.rdma: this kernel has no rdma controller (/proc/cgroups)" },
  { function(c) c.linux.resources = { network = { classID = 1 } } end,
    "config.json: linux.resources.network: net_cls and net_prio are cgroup v1 controllers that luactr does not mount "
    .. "(runc sets them only where the host mounts them); mark packets with nftables' socket cgroupv2 match instead" },
  { function(c) c.linux.resources = { devices = { { allow = true, type = "x" } } } end,
    'config.json: linux.resources.devices[1].type: must be "a", "c" or "b", not "x"' },
  { function(c) c.linux.resources = { devices = { { allow = true, access = "rwm" }, { allow = false, type = "c", major = 1,
      minor = 3 } } } end,
    "config.json: linux.resources.devices[2]: a deny after allowing every device is not supported "
    .. "(luactr's device rules are an allow-list)" },
  { function(c) c.linux.resources = { devices = { { access = "rwm" } } } end,
    "config.json: linux.resources.devices[1].allow: is required (true or false)" },
  { function(c)
      c.linux.namespaces[#c.linux.namespaces + 1] = { type = "user" }
      c.linux.uidMappings = { { containerID = 0, hostID = 100000, size = 65536 } }
      c.linux.gidMappings = { { containerID = 0, hostID = 100000, size = 65536 } }
      c.linux.devices = { { path = "/dev/luactr-none", type = "c", major = 10, minor = 250 } }
    end,
    "config.json: linux.devices[1]: no host device node c 10:250 at /dev/luactr-none to bind, and a user namespace cannot make one" },
  { function(c) c.linux.devices = { { path = "/dev/big", type = "c", major = 4096, minor = 0 } } end,
    "config.json: linux.devices[1].major: must be at most 4095, not 4096" },
  { function(c) c.linux.sysctl = { ["kernel.core_pattern"] = "x" } end,
    "config.json: linux.sysctl.kernel.core_pattern: is not a sysctl of the container's namespaces (kernel.shm*, "
    .. "kernel.msg*, kernel.sem, fs.mqueue.*, net.*, kernel.hostname, kernel.domainname)" },
  { function(c) c.linux.sysctl = { ["net.ipv4.ip_forward"] = "1" } end,
    'config.json: linux.sysctl.net.ipv4.ip_forward: needs a network namespace of the container\'s own ("network" in linux.namespaces)' },
  { function(c) c.linux.sysctl = { ["kernel.shmmax"] = 1 } end,
    "config.json: linux.sysctl.kernel.shmmax: must be a string, not number" },
  { function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW" },
      { names = { "write" }, action = "SCMP_ACT_FOO" } } } end,
    'config.json: linux.seccomp.syscalls[2].action: unknown action "SCMP_ACT_FOO" (valid: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, '
    .. "SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_NOTIFY, SCMP_ACT_TRAP)" },
  { function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", listenerPath = "agent.sock" } end,
    'config.json: linux.seccomp.listenerPath: must be an absolute path, not "agent.sock"' },
  { function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", flags = { "SECCOMP_FILTER_FLAG_FAST" } } end,
    'config.json: linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_FAST" (valid: SECCOMP_FILTER_FLAG_LOG, '
    .. "SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)" },
  { function(c) c.linux.maskedPaths = { "proc/kcore" } end,
    'config.json: linux.maskedPaths[1]: "proc/kcore" must be an absolute path' },
  { function(c) c.linux.readonlyPaths = "/proc/sys" end, "config.json: linux.readonlyPaths: must be a list, not string" },
  { function(c) c.linux.rootfsPropagation = "rslaves" end,
    'config.json: linux.rootfsPropagation: "rslaves" is not a propagation (private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable)' },
  { function(c) c.linux.personality = { domain = "PER_BSD" } end,
    'config.json: linux.personality.domain: "PER_BSD" is not LINUX or LINUX32' },
  { function(c) c.linux.personality = { flags = {} } end,
    "config.json: linux.personality.domain: is required (LINUX or LINUX32)" },
  { function(c) c.linux.personality = { domain = "LINUX", flags = { "ADDR_NO_RANDOMIZE" } } end,
    'config.json: linux.personality.flags: "ADDR_NO_RANDOMIZE": the runtime-spec defines no personality flags yet' },
  { function(c) c.linux.intelRdt = { closID = "x" } end, "config.json: linux.intelRdt: Intel RDT is not supported" },
  { function(c) c.hooks = { prestart = { { path = "bin/true" } } } end,
    'config.json: hooks.prestart[1].path: "bin/true" must be an absolute path' },
  { function(c) c.hooks = { poststop = { { path = "/bin/true", timeout = 0 } } } end,
    "config.json: hooks.poststop[1].timeout: must be at least 1, not 0" },
  { function(c) c.hooks = { createRuntime = { { path = "/bin/true", args = { 1 } } } } end,
    "config.json: hooks.createRuntime[1].args[1]: must be a string, not number" },
  { function(c) c.annotations = { a = 1 } end, "config.json: annotations.a: must be a string, not number" },
  { function(c) c.linux.cgroupsPath = 5 end, "config.json: linux.cgroupsPath: must be a string, not number" },
}

describe("ns.oci.config", function()
  H.guard()
  local bundle

  setup(function()
    bundle = H.tmpdir("oci")
    sh("mkdir " .. bundle .. "/rootfs " .. bundle .. "/data")
  end)
  teardown(function() H.rmrf(bundle) end)

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.oci.config")
  end)

  describe("table()", function()
    it("refuses each field it cannot take, naming it", function()
      for _, case in ipairs(BAD) do
        local c = base()
        case[1](c)
        local want = case[2]:gsub("%%s", bundle)
        local ok, err = pcall(oci.table, c, bundle, { id = "bad" })
        assert.is_false(ok, want)
        assert.are.equal(want, err)
      end
    end)

    it("refuses a bundle that is not an absolute path, and a config that is not an object", function()
      assert.has_error(function() oci.table(base(), "rel") end)
      assert.has_error(function() oci.table({ 1, 2 }, bundle) end, "config.json: (top level): must be an object, not array")
    end)

    it("lets v1-only limits go on cgroup v2 with a debug line, as runc does", function()
      local code = [[local t, x = require("ns.oci.config").table({ ociVersion = "1.1.0", root = { path = "/" },
        process = { args = { "/bin/true" }, cwd = "/" }, linux = { namespaces = { { type = "mount" } },
        resources = { memory = { swappiness = 10, disableOOMKiller = true, limit = 67108864 },
          cpu = { realtimeRuntime = 1000 } } } }, "/tmp", { id = "a" })
        print(tostring(t.cgroup.memory_swappiness), tostring(t.cgroup.oom_kill_disable), tostring(t.cgroup.cpu_rt_runtime),
          tostring(t.cgroup.memory))
        for _, d in ipairs(x.debug) do print(d) end]]
      local out = H.sh("LUACTR_CGROUP_MODE=v2 " .. H.root .. "/luactr -e " .. require("support.oci").shquote(code))
      assert.matches("^nil\tnil\tnil\t67108864\n", out)
      assert.matches("linux.resources.memory.swappiness: ignored: cgroup v2 has no such file", out, 1, true)
      assert.matches("linux.resources.cpu.realtimeRuntime: ignored: cgroup v2 has no such file", out, 1, true)
      -- On this host's v1 hierarchies they are set.
      out = H.sh("LUACTR_CGROUP_MODE=v1 " .. H.root .. "/luactr -e " .. require("support.oci").shquote(code))
      assert.matches("^10\ttrue\t1000\t67108864\n", out)
    end)

    it("ignores fields it does not know, and takes JSON null for absent", function()
      local c = base()
      c.future = { x = 1 }
      c.process.scheduler = { policy = "SCHED_OTHER" }
      c.linux.seccomp = cjson.null
      c.hooks = cjson.null
      local t = oci.table(c, bundle)
      assert.is_false(t.seccomp)
    end)

    it("maps the process, ids, namespaces and limits onto the recipe's keys", function()
      local c = base()
      c.process.user = { uid = 1000, gid = 1000, additionalGids = { 5, 6 }, umask = 18 }
      c.process.capabilities = { bounding = { "CAP_KILL", "CAP_CHOWN" }, effective = { "CAP_KILL" },
        permitted = { "CAP_KILL", "CAP_CHOWN", "CAP_NOPE" }, inheritable = { "CAP_KILL" }, ambient = { "CAP_KILL", "CAP_CHOWN" } }
      c.process.ioPriority = { class = "IOPRIO_CLASS_IDLE", priority = 7 }
      c.linux.personality = { domain = "LINUX32", flags = {} }
      c.process.rlimits = { { type = "RLIMIT_CORE", soft = 0, hard = 18446744073709551615 } }
      c.process.noNewPrivileges = true
      c.process.oomScoreAdj = 100
      c.domainname = "example.org"
      c.mounts = {
        { destination = "/proc", type = "proc", source = "proc" },
        { destination = "/dev", type = "tmpfs", source = "tmpfs", options = { "nosuid", "mode=755" } },
        { destination = "/dev/shm", type = "tmpfs", source = "shm", options = { "size=1m" } },
        { destination = "/data", type = "bind", source = "data", options = { "rbind", "ro", "nosuid", "rslave" } },
        { destination = "/scratch/", type = "tmpfs", source = "tmpfs", options = { "noexec", "size=1m", "mode=1777" } },
      }
      c.linux.namespaces[5] = { type = "user" }
      c.linux.namespaces[6] = { type = "network" }
      c.linux.namespaces[7] = { type = "time" }
      c.linux.uidMappings = { { containerID = 0, hostID = 100000, size = 65536 } }
      c.linux.gidMappings = { { containerID = 0, hostID = 100000, size = 65536 } }
      c.linux.timeOffsets = { boottime = { secs = 86400, nanosecs = 0 }, monotonic = { secs = -2, nanosecs = 250 } }
      c.linux.sysctl = { ["net.ipv4.ip_forward"] = "1", ["kernel/shmmax"] = "1000000" }
      c.linux.resources = { memory = { limit = 67108864, swap = 134217728 }, cpu = { shares = 512, quota = 50000,
        period = 100000, cpus = "0" }, pids = { limit = 64 }, blockIO = { weight = 500 },
        devices = { { allow = false, access = "rwm" }, { allow = true, type = "c", major = 10, minor = 200, access = "rw" } } }
      c.linux.maskedPaths = { "/proc/kcore" }
      c.linux.cgroupsPath = "/mine/abc"
      c.annotations = { ["org.example"] = "v" }
      c.hooks = { poststop = { { path = "/bin/echo", args = { "echo", "bye" }, timeout = 5 } } }
      local t, x = oci.table(c, bundle, { id = "abc" })
      assert.are.same({ uid = 1000, gid = 1000, groups = { 5, 6 }, uid_map = { { 0, 100000, 65536 } },
        gid_map = { { 0, 100000, 65536 } } }, t.user)
      assert.are.equal(18, t.umask)
      -- The five sets straight; an unknown name and an ambient capability
      -- that is not inheritable skipped, as runc skips them.
      assert.are.same({ bounding = { "kill", "chown" }, effective = { "kill" }, permitted = { "kill", "chown" },
        inheritable = { "kill" }, ambient = { "kill" } }, t.capabilities)
      assert.are.same({ class = "idle", level = 7 }, t.io_priority)
      assert.are.equal("linux32", t.personality)
      assert.is_false(t.env_defaults)
      assert.are.same({ core = { 0, "unlimited" } }, t.rlimits)
      assert.is_true(t.no_new_privs)
      assert.are.equal(100, t.oom_score_adj)
      assert.are.same({ "pid", "mnt", "uts", "ipc", "user", "net", "time" }, t.namespaces)
      assert.are.same({ boottime = 86400, monotonic = { -2, 250 } }, t.time)
      assert.are.same({ ["net.ipv4.ip_forward"] = "1", ["kernel.shmmax"] = "1000000" }, t.sysctl)
      assert.is_true(t.proc and t.dev)
      assert.is_false(t.sys)
      assert.are.same({
        { target = "/data", source = bundle .. "/data", flags = { "rbind", "rdonly", "nosuid" }, mkdir = true, dev = true },
        { target = "/data", flags = { "rslave" }, dev = true },
        { target = "/scratch", type = "tmpfs", source = "tmpfs", flags = { "noexec" }, data = "size=1m,mode=1777",
          mkdir = true, dev = true },
      }, t.mounts)
      assert.are.same({ "/proc/kcore" }, t.masked_paths)
      assert.are.same({}, t.readonly_paths)
      assert.are.same(67108864, t.cgroup.memory)
      assert.are.same(134217728, t.cgroup.memory_swap)
      assert.are.equal(0.5, t.cgroup.cpu)
      assert.are.equal(50, t.cgroup.cpu_weight)
      assert.are.equal("0", t.cgroup.cpuset)
      assert.are.equal(64, t.cgroup.pids)
      assert.are.equal(100, t.cgroup.io_weight)
      assert.are.same({ type = "c", major = 10, minor = 200, access = "rw", allow = true }, t.cgroup.devices[#t.cgroup.devices])
      assert.are.same(require("ns.security").device_rules[1], t.cgroup.devices[1])
      assert.are.equal("/mine/abc", x.cgroups_path)
      assert.are.same({ ["org.example"] = "v" }, x.annotations)
      assert.are.same({ ["org.example"] = "v" }, t.labels)
      assert.are.same({ { path = "/bin/echo", args = { "echo", "bye" }, timeout = 5 } }, x.hooks.poststop)
      assert.are.same({}, x.hooks.createRuntime)
      local debug = table.concat(x.debug, "\n")
      assert.matches('process.capabilities.permitted[3]: unknown capability "CAP_NOPE" skipped', debug, 1, true)
      assert.matches("process.capabilities.ambient: CAP_CHOWN skipped: not in inheritable", debug, 1, true)
      assert.not_matches("process.capabilities[.%w]*: approximated", debug)
      assert.not_matches("process.env", debug, 1, true)
      assert.matches("/dev/shm is 64 MiB, not 1m", debug, 1, true)
      assert.is_table(recipe.check(t))
    end)

    it("maps a systemd cgroupsPath onto the path systemd gives its unit", function()
      local function path(p, o)
        local c = base()
        c.linux.cgroupsPath = p
        o = o or {}
        o.systemd_cgroup = true
        return select(2, oci.table(c, bundle, o)).cgroups_path
      end
      assert.are.equal("/system.slice/libpod-abc.scope", path("system.slice:libpod:abc"))
      assert.are.equal("/user.slice/user-1000.slice/user-1000-app.slice/x-abc.scope", path("user-1000-app.slice:x:abc"))
      assert.are.equal("/system.slice/abc.scope", path(":" .. ":abc"))
      assert.are.equal("/user.slice/luactr-id1.scope", path(nil, { rootless = true, id = "id1" }))
      assert.are.equal("/m.slice/m-1.slice", path("machine.slice:x:m-1.slice"))
      assert.has_error(function() path("/a/b") end,
        'config.json: linux.cgroupsPath: "/a/b": with the systemd cgroup driver it must be "slice:prefix:name"')
      assert.has_error(function() path("a-.slice:p:n") end,
        'config.json: linux.cgroupsPath: "a-.slice" is not a systemd slice name ("system.slice", "user-1000.slice")')
    end)

    it("keeps only the devices runc's emulator would allow, after its own defaults", function()
      local c = base()
      c.linux.resources = { devices = { { allow = true, type = "c", major = 10, minor = 200, access = "rwm" },
        { allow = false, type = "c", major = 10, minor = 200, access = "rwm" },
        { allow = true, type = "b", major = 8, access = "r" } } }
      local t = oci.table(c, bundle)
      local n = #require("ns.security").device_rules
      assert.are.equal(n + 1, #t.cgroup.devices)
      assert.are.same({ type = "b", major = 8, access = "r", allow = true }, t.cgroup.devices[n + 1])
      c.linux.resources.devices = { { allow = true } }
      assert.are.same({ { type = "a", access = "rwm", allow = true } }, oci.table(c, bundle).cgroup.devices)
    end)

    it("gives a rootless container no cgroup, and says so", function()
      local c = base()
      c.linux.resources = { pids = { limit = 10 } }
      local t, x = oci.table(c, bundle, { rootless = true })
      assert.is_nil(t.cgroup)
      assert.matches("linux.resources: ignored: a rootless container has no cgroup", table.concat(x.debug, "\n"), 1, true)
    end)

    it("takes a linux.seccomp profile, skipping the calls libseccomp does not know", function()
      local c = base()
      c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", defaultErrnoRet = 1, architectures = { "SCMP_ARCH_X86_64" },
        syscalls = { { names = { "read", "write", "no_such_call_x" }, action = "SCMP_ACT_ALLOW" },
          { names = { "no_such_call_y" }, action = "SCMP_ACT_ERRNO" } } }
      local t, x = oci.table(c, bundle)
      assert.are.same({ "read", "write" }, t.seccomp.syscalls[1].names)
      assert.are.equal(1, #t.seccomp.syscalls)
      assert.matches('unknown syscall "no_such_call_x" skipped', table.concat(x.debug, "\n"), 1, true)
    end)
  end)

  describe("features()", function()
    it("lists what table() takes", function()
      local f = oci.features()
      assert.are.equal("1.0.0", f.ociVersionMin)
      assert.are.equal("1.1.0", f.ociVersionMax)
      assert.are.same(oci.HOOKS, f.hooks)
      assert.is_false(f.linux.cgroup.systemd)
      assert.is_false(f.linux.apparmor.enabled)
      assert.is_true(f.linux.mountExtensions.idmap.enabled)
      assert.is_true(#f.linux.capabilities == #ns.cap_names())
      local opts = {}
      for _, o in ipairs(f.mountOptions) do opts[o] = true end
      assert.is_true(opts.rbind and opts.ro and opts.nosuid and opts.rprivate and opts.tmpcopyup and opts.idmap and opts.ridmap
        and opts.rro and opts.rnoatime and not opts.remount)
      -- every listed action is one the translation takes
      for _, a in ipairs(f.linux.seccomp.actions) do
        local c = base()
        c.linux.seccomp = { defaultAction = a }
        assert.is_table(oci.table(c, bundle).seccomp)
      end
      -- encodes as JSON
      assert.is_string(cjson.encode(f))
    end)
  end)

  describe("runc spec's configs", function()
    local dir
    before_each(function()
      dir = H.tmpdir("ocispec")
      local d = dir
      H.defer(function() H.rmrf(d) end) -- in the guard's after_each, before it looks
    end)

    for _, rootless in ipairs({ false, true }) do
      it("translate (" .. (rootless and "--rootless" or "as root") .. "), and the recipe check takes them", function()
        if not have_runc() then return pending("runc is not installed (make deps-test installs it)") end
        sh("cd " .. dir .. " && runc spec" .. (rootless and " --rootless" or "") .. " && mkdir rootfs")
        local cfg = readjson(dir .. "/config.json")
        local t, x = oci.table(cfg, dir, { id = "spec", rootless = rootless })
        assert.is_true(t.proc and t.sys and t.dev and t.readonly)
        -- runc spec's ambient set, not inheritable, cannot be raised: skipped.
        local three = { "audit_write", "kill", "net_bind_service" }
        assert.are.same({ bounding = three, effective = three, permitted = three, inheritable = {}, ambient = {} },
          t.capabilities)
        assert.matches("process.capabilities.ambient: CAP_AUDIT_WRITE skipped", table.concat(x.debug, "\n"), 1, true)
        assert.are.equal("runc", t.hostname)
        assert.are.equal(rootless, t.cgroup == nil)
        assert.are.equal(not rootless, t.cgroupfs)
        assert.are.equal(rootless, t.user.uid_map ~= nil)
        assert.is_true(x.terminal)
        local c = recipe.check(t)
        assert.are.equal("spec", c.name)
        assert.is_falsy(c.seccomp)
      end)
    end
  end)

  describe("a bundle run from its config", function()
    local dir
    before_each(function()
      dir = H.tmpdir("ocirun")
      local d = dir
      H.defer(function() H.rmrf(d) end) -- in the guard's after_each, before it looks
    end)

    -- What the container prints about itself.
    local SCRIPT = table.concat({
      "echo host=$(hostname)", "echo uid=$(id -u) gid=$(id -g) groups=$(id -G)", "echo cwd=$(pwd)", "echo foo=$FOO",
      "echo data=$(cat /data/hello)", "touch /x 2>/dev/null && echo root=rw || echo root=ro",
      "touch /data/y 2>/dev/null && echo data=rw || echo data=ro",
      "echo nofile=$(ulimit -n)", "echo timer_list=$(cat /proc/timer_list | wc -c) firmware=$(ls /sys/firmware | wc -l)", "echo sys=$(ls /proc/sys >/dev/null && echo yes)",
      "touch /proc/sys/x 2>/dev/null && echo procsys=rw || echo procsys=ro",
      "echo tmp=$(touch /tmp/t && echo ok)",
      "echo caps=$(grep CapBnd /proc/self/status)",
    }, "; ")

    local function bundle_config()
      sh("cd " .. dir .. " && runc spec && mkdir rootfs data && cp -a " .. require("ns.rootfs").busybox()
        .. "/. rootfs/ && echo hi >data/hello")
      local cfg = readjson(dir .. "/config.json")
      cfg.process.terminal = false
      cfg.process.args = { "sh", "-c", SCRIPT }
      cfg.process.cwd = "/etc"
      cfg.process.user = { uid = 1000, gid = 1000, additionalGids = { 1001 } }
      cfg.process.env[#cfg.process.env + 1] = "FOO=bar"
      cfg.hostname = "ocitest"
      cfg.mounts[#cfg.mounts + 1] = { destination = "/data", type = "bind", source = "data", options = { "rbind", "ro" } }
      cfg.mounts[#cfg.mounts + 1] = { destination = "/tmp", type = "tmpfs", source = "tmpfs", options = { "mode=1777", "size=1m" } }
      cfg.process.rlimits[1].soft, cfg.process.rlimits[1].hard = 512, 512
      return cfg
    end

    it("shows inside what its config says, as runc run shows it", function()
      local cfg = bundle_config()
      local t = oci.table(cfg, dir, { id = "luactr-spec-oci" })
      t.capture = true
      local st = require("ns.container").run(t)
      assert.are.equal(0, st.status, st.stderr)
      local out = st.stdout
      for _, want in ipairs({ "host=ocitest", "uid=1000 gid=1000 groups=1000 1001", "cwd=/etc", "foo=bar", "data=hi",
        "root=ro", "data=ro", "nofile=512", "timer_list=0 firmware=0", "sys=yes", "procsys=ro", "tmp=ok" }) do
        assert.matches("\n" .. want:gsub("%p", "%%%0") .. "\n", "\n" .. out, nil, false)
      end
      if not have_runc() then return pending("runc is not installed: no comparison") end
      writejson(dir .. "/config.json", cfg)
      local runc = sh("runc --root " .. dir .. "/runc-state run --bundle " .. dir .. " luactr-spec-oci-runc </dev/null 2>&1")
      assert.are.equal(runc, out)
    end)
  end)
end)
