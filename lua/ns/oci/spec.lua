--- ns.oci.spec: the config.json that `luactr-oci spec` writes, as
-- `runc spec` does: a shell in ./rootfs (read-only), with the usual /proc,
-- /dev, /sys mounts, the pid, network, ipc, uts, mount and cgroup
-- namespaces, three capabilities, no devices. default(true): the rootless
-- form, with a user namespace mapping 0 to the caller, /sys bound from
-- the host (a sysfs needs a network namespace of one's own user's), no
-- cgroup mount and no resources.
local ns = require "ns.core"

local M = {}

local CAPS = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" }

local MASKED = { "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi" }
local READONLY = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }

local function copy(t)
  local out = {}
  for i, v in ipairs(t) do out[i] = v end
  return out
end

--- default(rootless) -> the config as a Lua table (ns.state.encode writes it).
function M.default(rootless)
  local mounts = {
    { destination = "/proc", type = "proc", source = "proc" },
    { destination = "/dev", type = "tmpfs", source = "tmpfs", options = { "nosuid", "strictatime", "mode=755", "size=65536k" } },
    { destination = "/dev/pts", type = "devpts", source = "devpts",
      options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
    { destination = "/dev/shm", type = "tmpfs", source = "shm", options = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
    { destination = "/dev/mqueue", type = "mqueue", source = "mqueue", options = { "nosuid", "noexec", "nodev" } },
  }
  if rootless then
    mounts[#mounts + 1] = { destination = "/sys", type = "none", source = "/sys", options = { "rbind", "nosuid", "noexec", "nodev", "ro" } }
    mounts[4].options = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" }
    mounts[3].options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" }
  else
    mounts[#mounts + 1] = { destination = "/sys", type = "sysfs", source = "sysfs", options = { "nosuid", "noexec", "nodev", "ro" } }
    mounts[#mounts + 1] = { destination = "/sys/fs/cgroup", type = "cgroup", source = "cgroup",
      options = { "nosuid", "noexec", "nodev", "relatime", "ro" } }
  end
  local namespaces = { { type = "pid" }, { type = "ipc" }, { type = "uts" }, { type = "mount" }, { type = "cgroup" } }
  local linux = { namespaces = namespaces, maskedPaths = copy(MASKED), readonlyPaths = copy(READONLY) }
  if rootless then
    namespaces[#namespaces + 1] = { type = "user" }
    local _, euid = ns.getuid()
    local _, egid = ns.getgid()
    linux.uidMappings = { { containerID = 0, hostID = euid, size = 1 } }
    linux.gidMappings = { { containerID = 0, hostID = egid, size = 1 } }
  else
    table.insert(namespaces, 2, { type = "network" })
    linux.resources = { devices = { { allow = false, access = "rwm" } } }
  end
  return {
    ociVersion = "1.1.0",
    process = {
      terminal = true, user = { uid = 0, gid = 0 }, args = { "sh" },
      env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" },
      cwd = "/",
      capabilities = { bounding = copy(CAPS), effective = copy(CAPS), permitted = copy(CAPS), ambient = copy(CAPS) },
      rlimits = { { type = "RLIMIT_NOFILE", hard = 1024, soft = 1024 } },
      noNewPrivileges = true,
    },
    root = { path = "rootfs", readonly = true },
    hostname = "luactr",
    mounts = mounts,
    linux = linux,
  }
end

return M
