--- ns.security: what the default container hides from, and denies to,
-- the root user inside it. Data only: ns.container reads these tables as
-- the defaults of the recipe keys of the same names, and a recipe relaxes
-- each one explicitly (`masked_paths = {}`, ...).
--
-- The paths are runc's defaults (the OCI runtime-spec's sample
-- config.json): host kernel state that /proc and /sys show to any
-- namespace, and /proc files that change the whole host.
local M = {}

-- Host-wide /proc files made read-only (a bind mount of each over itself,
-- remounted rdonly): /proc/sys/kernel/core_pattern, vm/drop_caches,
-- sysrq-trigger and the rest act on the host, not on the container.
M.readonly_paths = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

-- Paths hidden: a directory gets an empty read-only tmpfs over it, a file
-- /dev/null. /proc/keys lists the host's keys, kcore is the host's memory,
-- timer_list and sched_debug show every host task, /sys/firmware holds the
-- ACPI tables. A path this kernel does not have is skipped.
M.masked_paths = {
  "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
  "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
  "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
}

-- The device nodes a container's minimal /dev gets, each a bind mount of
-- the host's node: {name, type, major, minor}.
M.dev_nodes = {
  { "null", "c", 1, 3 }, { "zero", "c", 1, 5 }, { "full", "c", 1, 7 },
  { "random", "c", 1, 8 }, { "urandom", "c", 1, 9 }, { "tty", "c", 5, 0 },
}

-- The device cgroup's allow-list when the container has a cgroup (v1
-- devices.allow, v2 a BPF_PROG_TYPE_CGROUP_DEVICE program), as docker's:
-- mknod of any node is allowed, but only these may be opened. Everything
-- else is denied. /dev/console 5:1, /dev/ptmx 5:2 and the ptys 136:* are
-- what a terminal needs.
M.device_rules = {
  { type = "c", access = "m", allow = true },
  { type = "b", access = "m", allow = true },
  { type = "c", major = 1, minor = 3, access = "rwm", allow = true },
  { type = "c", major = 1, minor = 5, access = "rwm", allow = true },
  { type = "c", major = 1, minor = 7, access = "rwm", allow = true },
  { type = "c", major = 1, minor = 8, access = "rwm", allow = true },
  { type = "c", major = 1, minor = 9, access = "rwm", allow = true },
  { type = "c", major = 5, minor = 0, access = "rwm", allow = true },
  { type = "c", major = 5, minor = 1, access = "rwm", allow = true },
  { type = "c", major = 5, minor = 2, access = "rwm", allow = true },
  { type = "c", major = 136, access = "rwm", allow = true },
}

return M
