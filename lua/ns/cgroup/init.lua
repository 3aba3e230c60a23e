--- ns.cgroup: one API over cgroup v1, v2 and hybrid hosts.
-- Detects the layout from /proc/self/mountinfo, creates a group under one
-- parent (`luactr`, or $LUACTR_CGROUP_PARENT) in every hierarchy it needs,
-- writes limits given by meaning into the host's files, reads stats,
-- freezes, kills and removes. Every file operation goes through the core's
-- file primitives; a group's files are written relative to the group's
-- directory fd (openat), as crun does.
-- See cgroups(7), Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/.
--
-- Limits (unknown keys raise, listing the valid ones):
--   cpu         fraction of one CPU (0.2 = 20%, 2 = two CPUs) or "max":
--               v1 cpu.cfs_quota_us = cpu * cpu_period; v2 cpu.max "quota period"
--   cpu_period  CFS period in µs (1000..1000000, default 100000)
--   cpu_weight  1..10000 (v2 cpu.weight, default 100); on v1 cpu.shares =
--               1024 * weight / 100, clamped to 2..262144 (100 -> 1024)
--   cpuset      CPU list as the kernel writes it ("0", "0-1", "0,2"); every
--               CPU must be one the parent has
--   memory      a size ("64M", "64MB", "64Mi", "1G", "512K"; binary), bytes
--               (a bare number, at least 1 MiB: 64 is a unit left out) or
--               "max": v1 memory.limit_in_bytes; v2 memory.max
--   memory_swap memory plus swap, as Docker's --memory-swap (>= memory) or
--               "max": v1 memory.memsw.limit_in_bytes; v2 memory.swap.max =
--               memory_swap - memory
--   pids        a positive integer or "max": pids.max
--   io_weight   1..10000 on v2's scale (default 100): v2 io.weight (or
--               io.bfq.weight, clamped to 1..1000); v1 blkio.weight =
--               5 * weight clamped to 10..1000 (100 -> 500, the default), or
--               blkio.bfq.weight = weight clamped to 1..1000
--   devices     the device nodes the group's processes may create (m), read
--               (r) and write (w): a list of {type = "c"|"b"|"a", major,
--               minor (nil = any), access = "rwm", allow = true|false}; the
--               first rule that matches decides, and what none matches is
--               denied. v1: devices.deny "a", then devices.allow/deny per
--               rule; v2: a BPF_PROG_TYPE_CGROUP_DEVICE program from the
--               rules, attached to the group's directory
--   memory_reservation  a soft limit (a size or "max"): v1
--               memory.soft_limit_in_bytes; v2 memory.low
--   memory_tcp  a size or "max": v1 memory.kmem.tcp.limit_in_bytes (v2 has none)
--   memory_swappiness  0..100: v1 memory.swappiness (v2 has none: refused)
--   oom_kill_disable   true: v1 memory.oom_control 1 (v2 has none: refused)
--   cpu_idle    true|false: cpu.idle (SCHED_IDLE for the group, 5.15)
--   cpu_burst   µs a period may borrow: v1 cpu.cfs_burst_us; v2 cpu.max.burst
--   cpu_rt_runtime, cpu_rt_period  µs: v1 cpu.rt_runtime_us and
--               cpu.rt_period_us (within the parent's budget; v2 has none)
--   cpuset_mems memory node list ("0"): cpuset.mems
--   io_max      {{major, minor, rbps, wbps, riops, wiops}, ...}: v1
--               blkio.throttle.{read,write}_{bps,iops}_device; v2 io.max
--   io_weight_device  {{major, minor, weight = 1..10000}, ...}: as io_weight,
--               per device (v1 blkio.weight_device or blkio.bfq.weight_device;
--               v2 io.weight or io.bfq.weight "MAJ:MIN W")
--   hugetlb     {["2MB"] = size or "max", ...}: v1 hugetlb.2MB.limit_in_bytes;
--               v2 hugetlb.2MB.max (a page size the kernel has)
--   unified     {["memory.high"] = "64M", ...}: files of the group's v2
--               directory written as given, after the rest (not cgroup.procs,
--               .threads, .subtree_control, .kill, .freeze, .type)
--
-- Creating a group and gc() exclude each other through a flock of the
-- first hierarchy's root directory: create holds it shared from before it
-- makes the group until a process is in it (g:add, or g:unlock after
-- CLONE_INTO_CGROUP), and gc takes it exclusively, so a gc never removes
-- a group that a start has made and not yet filled.
--
-- A process whose euid is not 0 gets its groups below the cgroup v2
-- subtree delegated to it (systemd's user@UID.service): the highest
-- directory above its own group that is its own. The v1 hierarchies are
-- root's; a user's limits there are refused, saying so.
--
-- This file is the face of lua/ns/cgroup/: layout.lua (mountinfo, the
-- hierarchies), delegation.lua (a user's subtree), limits.lua (one translator per controller, limits to
-- writes), group.lua (create, open, gc and a group's methods: add, unlock,
-- set, procs, stats, oom_killed, freeze, thaw, kill, remove, detach,
-- v2_path), v1.lua and v2.lua (what only one version has).
local layout = require "ns.cgroup.layout"
local lim = require "ns.cgroup.limits"
local group = require "ns.cgroup.group"

local M = {}

-- The v1 hierarchies a group is made in, in creation order.
M.v1_controllers = layout.v1_controllers

-- The host's layout (ns.cgroup.layout).
M.parse_mountinfo = layout.parse_mountinfo
M.layout = layout.layout

-- Sizes as limits take them (ns.cgroup.limits).
M.parse_size = lim.parse_size

-- Groups (ns.cgroup.group).
M.create = group.create
M.open = group.open
M.gc = group.gc
M.path = group.path
M.open_path = group.open_path

return M
