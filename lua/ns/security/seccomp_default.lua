--- ns.security.seccomp_default: the default seccomp profile of every
-- luactr container, as data: moby's default profile (the
-- profiles/seccomp/default.json of github.com/moby/profiles, v0.2.3, what
-- moby vendors), group for group in its order, each with its names in its
-- order, so that it diffs against the published file. What is ours is the
-- spelling (ns.security.seccomp reads it; a recipe's own profile has the
-- same form):
--
--   defaultAction SCMP_ACT_ERRNO, defaultErrnoRet 1   default = "errno", errno = "EPERM"
--   archMap                     arch_map: {native, sub-architectures...}, libseccomp's names
--   "action": "SCMP_ACT_ALLOW"  action = "allow" ("SCMP_ACT_ERRNO" + errnoRet: "errno" + errno)
--   "args": [{index, value, valueTwo, op: "SCMP_CMP_LT"}]   args = {{index, "lt", value[, value2]}}
--   "includes"/"excludes": {caps, arches, minKernel}        includes/excludes = {caps, arches, min_kernel}
--
-- A group applies when the container's capabilities hold every cap of its
-- includes.caps and none of its excludes.caps (docker decides against the
-- bounding set, which is luactr's capability list), when the host's
-- architecture is among includes.arches and not among excludes.arches
-- (moby's names: amd64 is x86_64, arm64 is aarch64), and when the kernel is
-- at least includes.min_kernel. The filter covers the host's architecture
-- and its sub-architectures (x86_64: x86 and x32; aarch64: arm), so that
-- 32-bit programs get the same rules. Names that a system does not have on
-- one of those architectures (chown32 on x86_64) are left out for it by
-- libseccomp; names that libseccomp itself does not know (it is older than
-- the profile) are left out of the filter, so those calls get the default
-- EPERM: `luactr seccomp show default` lists them.
return {
  default = "errno",
  errno = "EPERM",
  arch_map = {
    { "x86_64", "x86", "x32" },
    { "aarch64", "arm" },
    { "mips64", "mips", "mips64n32" },
    { "mips64n32", "mips", "mips64" },
    { "mipsel64", "mipsel", "mipsel64n32" },
    { "mipsel64n32", "mipsel", "mipsel64" },
    { "s390x", "s390" },
    { "riscv64" },
    { "loongarch64" },
  },
  syscalls = {
    -- 1: what any program may do
    { action = "allow", names = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
    "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
    "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
    "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
    "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
    "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
    "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
    "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64",
    "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
    "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
    "getuid32", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32",
    "lgetxattr", "link", "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr",
    "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
    "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat",
    "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
    "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
    "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
    "removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "riscv_hwprobe",
    "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity",
    "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
    "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
    "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
    "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64",
    "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev"
    } },
    -- 2
    { action = "allow", names = { "process_vm_readv", "process_vm_writev", "ptrace" },
      includes = { min_kernel = "4.8" } },
    -- 3-5: every address family but AF_ALG (38) and AF_VSOCK (40)
    { action = "allow", names = { "socket" }, args = { { 0, "lt", 38 } } },
    { action = "allow", names = { "socket" }, args = { { 0, "eq", 39 } } },
    { action = "allow", names = { "socket" }, args = { { 0, "gt", 40 } } },
    -- 6-10: personality PER_LINUX, UNAME26, PER_LINUX | ADDR_NO_RANDOMIZE,
    -- UNAME26 | ADDR_NO_RANDOMIZE, and 0xffffffff (a query)
    { action = "allow", names = { "personality" }, args = { { 0, "eq", 0 } } },
    { action = "allow", names = { "personality" }, args = { { 0, "eq", 8 } } },
    { action = "allow", names = { "personality" }, args = { { 0, "eq", 131072 } } },
    { action = "allow", names = { "personality" }, args = { { 0, "eq", 131080 } } },
    { action = "allow", names = { "personality" }, args = { { 0, "eq", 4294967295 } } },
    -- 11-16: one architecture's own
    { action = "allow", names = { "sync_file_range2", "swapcontext" }, includes = { arches = { "ppc64le" } } },
    { action = "allow", names = {
      "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls",
    }, includes = { arches = { "arm", "arm64" } } },
    { action = "allow", names = { "arch_prctl" }, includes = { arches = { "amd64", "x32" } } },
    { action = "allow", names = { "modify_ldt" }, includes = { arches = { "amd64", "x32", "x86" } } },
    { action = "allow", names = { "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr" },
      includes = { arches = { "s390", "s390x" } } },
    { action = "allow", names = { "riscv_flush_icache" }, includes = { arches = { "riscv64" } } },
    -- 17-: what a capability allows
    { action = "allow", names = { "open_by_handle_at" }, includes = { caps = { "CAP_DAC_READ_SEARCH" } } },
    { action = "allow", names = {
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
    "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
    "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
    "syslog", "umount", "umount2", "unshare"
    }, includes = { caps = { "CAP_SYS_ADMIN" } } },
    -- Without CAP_SYS_ADMIN, clone without a namespace flag (the mask is
    -- CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET,
    -- 0x7E020000)...
    { action = "allow", names = { "clone" }, args = { { 0, "masked_eq", 2114060288, 0 } },
      excludes = { caps = { "CAP_SYS_ADMIN" }, arches = { "s390", "s390x" } } },
    { action = "allow", names = { "clone" }, args = { { 1, "masked_eq", 2114060288, 0 } },
      comment = "s390 parameter ordering for clone is different",
      includes = { arches = { "s390", "s390x" } }, excludes = { caps = { "CAP_SYS_ADMIN" } } },
    -- ...and clone3, whose flags sit in memory a filter cannot read, fails
    -- with ENOSYS, so that glibc falls back to clone.
    { action = "errno", errno = "ENOSYS", names = { "clone3" }, excludes = { caps = { "CAP_SYS_ADMIN" } } },
    { action = "allow", names = { "reboot" }, includes = { caps = { "CAP_SYS_BOOT" } } },
    { action = "allow", names = { "chroot" }, includes = { caps = { "CAP_SYS_CHROOT" } } },
    { action = "allow", names = { "delete_module", "init_module", "finit_module" },
      includes = { caps = { "CAP_SYS_MODULE" } } },
    { action = "allow", names = { "acct" }, includes = { caps = { "CAP_SYS_PACCT" } } },
    { action = "allow", names = {
      "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
    }, includes = { caps = { "CAP_SYS_PTRACE" } } },
    { action = "allow", names = { "iopl", "ioperm" }, includes = { caps = { "CAP_SYS_RAWIO" } } },
    { action = "allow", names = { "settimeofday", "stime", "clock_settime", "clock_settime64" },
      includes = { caps = { "CAP_SYS_TIME" } } },
    { action = "allow", names = { "vhangup" }, includes = { caps = { "CAP_SYS_TTY_CONFIG" } } },
    { action = "allow", names = { "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node" },
      includes = { caps = { "CAP_SYS_NICE" } } },
    { action = "allow", names = { "syslog" }, includes = { caps = { "CAP_SYSLOG" } } },
    { action = "allow", names = { "bpf" }, includes = { caps = { "CAP_BPF" } } },
    { action = "allow", names = { "perf_event_open" }, includes = { caps = { "CAP_PERFMON" } } },
  },
}
