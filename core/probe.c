/*
 * probe.c - a static helper that specs bind-mount into a busybox container
 * to try, from inside, what busybox has no applet for. It is not part of
 * the module. One subcommand per run; it prints one short line and exits 0
 * when the probed action worked, 1 when it failed (printing
 * "<what>: <strerror> (<ERRNO NAME>)") and 2 on a usage error.
 *
 * The subcommands from try on are ns.assert's (lua/ns/assert.lua): each
 * tries what an attacker who is root in a container would, in a way that
 * harms nothing when it works (a call given arguments that the kernel
 * refuses only after its permission check, a mount undone at once, a
 * namespace of the probe's own), and exits 0 when any attempt got
 * through. They end themselves (SIGALRM) after 20 seconds.
 * See ptrace(2), open(2), keyctl(2), add_key(2), mknod(2), proc(5),
 * unshare(2), mount(2), chroot(2), open_by_handle_at(2), bpf(2),
 * perf_event_open(2), userfaultfd(2), kexec_load(2), init_module(2),
 * personality(2), socket(2), clone(2) (clone3).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/keyctl.h>
#include <linux/userfaultfd.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/klog.h>
#include <stdint.h>

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);
	return n ? n : "E?";
}

/* Print "<what> <arg>: <strerror> (<ENAME>)" for errno; returns 1. */
static int fail(const char *what, const char *arg)
{
	int err = errno;
	if (arg)
		printf("%s %s: %s (%s)\n", what, arg, strerror(err), errname(err));
	else
		printf("%s: %s (%s)\n", what, strerror(err), errname(err));
	return 1;
}

static int usage(void)
{
	fputs("usage: probe ptrace PID\n"
	      "       probe open PATH [r|w|c]\n"
	      "       probe key-add DESC DATA CMD [ARGS...]\n"
	      "       probe key-search DESC\n"
	      "       probe fds\n"
	      "       probe mknod PATH b|c MAJOR MINOR\n"
	      "       probe syscall add_key|keyctl|userfaultfd|personality|socket-vsock|socket-alg|clone3|mseal|NUMBER\n"
	      "       probe try NAME (bpf, kexec_load, ...: probe try list)\n"
	      "       probe raw-socket\n"
	      "       probe mount-try DIR\n"
	      "       probe userns-escape [MASKED_PATH...]\n"
	      "       probe exes\n"
	      "       probe find-pid ARGV0\n"
	      "       probe reach PATH\n"
	      "       probe keyring\n",
	      stderr);
	return 2;
}

/* A decimal number in [0, max], or -1. */
static long number(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > max)
		return -1;
	return v;
}

/* Reads up to 16 bytes of fd and says how many. */
static int read_some(int fd, const char *path)
{
	char buf[16];
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail("read", path);
	printf("read %zd bytes\n", n);
	return 0;
}

static int cmd_ptrace(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	long pid = number(argv[2], 0x7fffffff);
	if (pid <= 0)
		return usage();
	if (ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL) < 0)
		return fail("ptrace attach", argv[2]);
	/* Detach only at the SIGSTOP that the attach sent: a detach with 0
	 * there drops it. Any other stop comes first (a tracee caught in
	 * execve reports SIGTRAP): hand that signal back and wait on. */
	for (;;) {
		int st;
		if (waitpid((pid_t)pid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return fail("waitpid", argv[2]);
		}
		if (!WIFSTOPPED(st)) {
			errno = ESRCH;
			return fail("ptrace attach", argv[2]);
		}
		if (WSTOPSIG(st) == SIGSTOP)
			break;
		if (ptrace(PTRACE_CONT, (pid_t)pid, NULL, (void *)(long)WSTOPSIG(st)) < 0)
			return fail("ptrace cont", argv[2]);
	}
	if (ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL) < 0)
		return fail("ptrace detach", argv[2]);
	puts("attached");
	return 0;
}

static int cmd_open(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		return usage();
	/* w: for writing; c: created (or truncated), as the shell's > does. */
	int wr = 0, flags = O_RDONLY;
	if (argc == 4) {
		if (strcmp(argv[3], "w") == 0)
			wr = 1, flags = O_WRONLY;
		else if (strcmp(argv[3], "c") == 0)
			wr = 1, flags = O_WRONLY | O_CREAT | O_TRUNC;
		else if (strcmp(argv[3], "r") != 0)
			return usage();
	}
	int fd = open(argv[2], flags | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return fail("open", argv[2]);
	int r = 0;
	if (wr)
		puts("opened");
	else
		r = read_some(fd, argv[2]);
	close(fd);
	return r;
}

static int cmd_key_add(int argc, char **argv)
{
	if (argc < 5)
		return usage();
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0) < 0)
		return fail("keyctl join session", NULL);
	const char *desc = argv[2], *data = argv[3];
	if (syscall(SYS_add_key, "user", desc, data, strlen(data), KEY_SPEC_SESSION_KEYRING) < 0)
		return fail("add_key", desc);
	/* What CMD prints is the output from here on. */
	fflush(stdout);
	execvp(argv[4], argv + 4);
	return fail("exec", argv[4]);
}

static int cmd_key_search(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	long key = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", argv[2], 0);
	if (key < 0)
		return fail("keyctl search", argv[2]);
	char buf[4096];
	long n = syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof buf, 0);
	if (n < 0)
		return fail("keyctl read", argv[2]);
	/* KEYCTL_READ gives the full size even when it copied less. */
	if ((size_t)n > sizeof buf)
		n = sizeof buf;
	printf("%.*s\n", (int)n, buf);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int cmd_fds(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		return usage();
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return fail("opendir", "/proc/self/fd");
	int self = dirfd(d), n = 0, fds[1024];
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		long fd = number(e->d_name, 0x7fffffff);
		if (fd >= 0 && fd != self && n < (int)(sizeof fds / sizeof fds[0]))
			fds[n++] = (int)fd;
		errno = 0;
	}
	if (errno) {
		int r = fail("readdir", "/proc/self/fd");
		closedir(d);
		return r;
	}
	closedir(d);
	qsort(fds, (size_t)n, sizeof fds[0], cmp_int);
	for (int i = 0; i < n; i++)
		printf(i ? " %d" : "%d", fds[i]);
	putchar('\n');
	return 0;
}

static int cmd_mknod(int argc, char **argv)
{
	if (argc != 6)
		return usage();
	mode_t type;
	if (strcmp(argv[3], "b") == 0)
		type = S_IFBLK;
	else if (strcmp(argv[3], "c") == 0)
		type = S_IFCHR;
	else
		return usage();
	long maj = number(argv[4], 0xfff), min = number(argv[5], 0xfffff);
	if (maj < 0 || min < 0)
		return usage();
	const char *path = argv[2];
	if (mknod(path, type | 0600, makedev((unsigned)maj, (unsigned)min)) < 0)
		return fail("mknod", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail("open", path);
	int r = read_some(fd, path);
	close(fd);
	return r;
}

/* One call that a seccomp profile may refuse, made with arguments that
 * need no capability, so that without a filter it does not fail with
 * EPERM: what the specs compare with and without one. */
static int cmd_syscall(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	const char *name = argv[2];
	long r;
	if (strcmp(name, "add_key") == 0)
		r = syscall(SYS_add_key, "user", "luactr-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	else if (strcmp(name, "keyctl") == 0)
		r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0);
	else if (strcmp(name, "userfaultfd") == 0)
		r = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	else if (strcmp(name, "personality") == 0)
		r = personality(PER_BSD); /* not one of the personas moby's profile allows */
	else if (strcmp(name, "socket-vsock") == 0)
		r = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	else if (strcmp(name, "socket-alg") == 0)
		r = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	else if (strcmp(name, "clone3") == 0)
		r = syscall(SYS_clone3, NULL, 0); /* EINVAL from the kernel: no arguments */
	else if (strcmp(name, "mseal") == 0)
		r = syscall(462, NULL, 0, 0); /* x86_64's number: newer than Debian 12's headers; 0 for no range */
	else if (name[0] >= '0' && name[0] <= '9' && strspn(name, "0123456789") == strlen(name))
		r = syscall(atol(name), 0, 0, 0, 0, 0, 0); /* a call by number, with zeros: the specs' own choice */
	else
		return usage();
	if (r < 0)
		return fail(name, NULL);
	printf("%s: ok\n", name);
	return 0;
}

/* ns.assert's probes. */

/* A call refused with one of these never got past its permission check
 * (or a seccomp filter, or a kernel built without it). */
static int refused(int err)
{
	return err == EPERM || err == EACCES || err == ENOSYS;
}

/* Print "<name>: permitted (...)" for a call that returned r with errno
 * err, or "<name>: <strerror> (<ENAME>)" when it was refused; returns the
 * exit status (0: permitted). */
static int verdict(const char *name, long r, int err)
{
	if (r >= 0) {
		printf("%s: permitted (returned %ld)\n", name, r);
		return 0;
	}
	if (!refused(err)) {
		printf("%s: permitted (%s past the permission check)\n", name, errname(err));
		return 0;
	}
	errno = err;
	return fail(name, NULL);
}

/* Each returns the call's result with errno set; an fd it got is closed
 * by try_one. The arguments are ones the kernel rejects once it has
 * checked the caller's privilege, or that change only the probe. */
static long try_kexec_load(void)
{
#ifdef SYS_kexec_load
	/* More segments than KEXEC_SEGMENT_MAX (16): EINVAL once permitted. */
	return syscall(SYS_kexec_load, 0UL, 17UL, NULL, 0UL);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static long try_kexec_file_load(void)
{
#ifdef SYS_kexec_file_load
	return syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL); /* EBADF once permitted */
#else
	errno = ENOSYS;
	return -1;
#endif
}

static long try_init_module(void)
{
	return syscall(SYS_init_module, NULL, 0UL, ""); /* ENOEXEC or EFAULT once permitted */
}

static long try_finit_module(void)
{
	return syscall(SYS_finit_module, -1, "", 0); /* EBADF once permitted */
}

static long try_delete_module(void)
{
	return syscall(SYS_delete_module, "luactr_no_such_module", O_NONBLOCK); /* ENOENT once permitted */
}

static long try_bpf(void)
{
	/* r0 = 0; exit: the smallest socket filter the verifier takes. */
	struct bpf_insn insns[2];
	memset(insns, 0, sizeof insns);
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[0].dst_reg = BPF_REG_0;
	insns[1].code = BPF_JMP | BPF_EXIT;
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = 2;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
}

static long try_perf_event_open(void)
{
	/* A software counter of the probe's own user-space time. */
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.size = sizeof attr;
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_TASK_CLOCK;
	attr.disabled = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0UL);
}

static long try_userfaultfd(void)
{
	long r = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (r < 0 && errno == EPERM)
		/* UFFD_USER_MODE_ONLY (1): what vm.unprivileged_userfaultfd = 0 still allows. */
		r = syscall(SYS_userfaultfd, O_CLOEXEC | 1);
	return r;
}

/* Shocker's escape: a handle forged for inode 2 (an ext4 root), opened
 * through the probe's own directory, a host filesystem bound in. The
 * kernel lets a caller without CAP_DAC_READ_SEARCH decode no handle,
 * and one with it out of the bind mount to the filesystem's root. */
static long try_open_by_handle_at(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (slash && slash != exe)
		*slash = 0;
	struct {
		struct file_handle fh;
		uint32_t ino_gen[2];
	} h;
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = sizeof h.ino_gen;
	h.fh.handle_type = 1; /* FILEID_INO32_GEN */
	h.ino_gen[0] = 2;
	int dir = open(exe, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -1;
	long r = open_by_handle_at(dir, &h.fh, O_RDONLY | O_CLOEXEC);
	int err = errno;
	close(dir);
	errno = err;
	return r;
}

/* In a child, so that the probe keeps its namespaces: 0 or -1 and errno. */
static long try_unshare(void)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int e = unshare(CLONE_NEWUSER) < 0 ? errno : 0;
		if (write(p[1], &e, sizeof e) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	int e = EIO;
	ssize_t n = read(p[0], &e, sizeof e);
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (n != sizeof e)
		e = EIO;
	errno = e;
	return e ? -1 : 0;
}

static long try_keyctl(void)
{
	return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
}

static long try_add_key(void)
{
	/* To the process keyring: it goes with the probe. */
	return syscall(SYS_add_key, "user", "luactr-probe", "x", 1UL, KEY_SPEC_PROCESS_KEYRING);
}

static long try_request_key(void)
{
	return syscall(SYS_request_key, "user", "luactr-probe-none", NULL, 0); /* ENOKEY once permitted */
}

static long try_mount(void)
{
	/* The container's / is private already. */
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static long try_reboot(void)
{
	/* A wrong second magic number: EINVAL once permitted. */
	return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, 0, NULL);
}

static long try_swapon(void)
{
	return syscall(SYS_swapon, "/luactr-no-such-swap", 0); /* ENOENT once permitted */
}

static long try_acct(void)
{
	return syscall(SYS_acct, "/luactr-no-such-file"); /* ENOENT once permitted */
}

static long try_syslog(void)
{
	return klogctl(10, NULL, 0); /* SYSLOG_ACTION_SIZE_BUFFER */
}

static long try_iopl(void)
{
#ifdef SYS_iopl
	return syscall(SYS_iopl, 3); /* the probe's own I/O privilege level */
#else
	errno = ENOSYS;
	return -1;
#endif
}

static const struct attempt {
	const char *name;
	long (*call)(void);
	int fd; /* the result is an fd to close */
} attempts[] = {
	{"acct", try_acct, 0},
	{"add_key", try_add_key, 0},
	{"bpf", try_bpf, 1},
	{"delete_module", try_delete_module, 0},
	{"finit_module", try_finit_module, 0},
	{"init_module", try_init_module, 0},
	{"iopl", try_iopl, 0},
	{"kexec_file_load", try_kexec_file_load, 0},
	{"kexec_load", try_kexec_load, 0},
	{"keyctl", try_keyctl, 0},
	{"mount", try_mount, 0},
	{"open_by_handle_at", try_open_by_handle_at, 1},
	{"perf_event_open", try_perf_event_open, 1},
	{"reboot", try_reboot, 0},
	{"request_key", try_request_key, 0},
	{"swapon", try_swapon, 0},
	{"syslog", try_syslog, 0},
	{"unshare", try_unshare, 0},
	{"userfaultfd", try_userfaultfd, 1},
};

static int cmd_try(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	size_t n = sizeof attempts / sizeof attempts[0];
	if (strcmp(argv[2], "list") == 0) {
		for (size_t i = 0; i < n; i++)
			puts(attempts[i].name);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[2], attempts[i].name) != 0)
			continue;
		errno = 0;
		long r = attempts[i].call();
		int err = errno;
		if (r >= 0 && attempts[i].fd)
			close((int)r);
		return verdict(attempts[i].name, r, err);
	}
	return usage();
}

static int cmd_raw_socket(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		return usage();
	int got = 0;
	int s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (s < 0) {
		fail("socket AF_INET SOCK_RAW", NULL);
	} else {
		puts("socket AF_INET SOCK_RAW: opened");
		close(s);
		got = 1;
	}
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (s < 0) {
		fail("socket AF_PACKET SOCK_RAW", NULL);
	} else {
		puts("socket AF_PACKET SOCK_RAW: opened");
		close(s);
		got = 1;
	}
	return got ? 0 : 1;
}

static int cmd_mount_try(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	const char *dir = argv[2];
	int got = 0;
	/* Each mount that works is undone at once. */
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k") < 0) {
		fail("mount tmpfs on", dir);
	} else {
		printf("mount tmpfs on %s: mounted\n", dir);
		umount2(dir, MNT_DETACH);
		got = 1;
	}
	if (mount("/", dir, NULL, MS_BIND, NULL) < 0) {
		fail("mount --bind / on", dir);
	} else {
		printf("mount --bind / on %s: mounted\n", dir);
		umount2(dir, MNT_DETACH);
		got = 1;
	}
#ifdef SYS_fsopen
	/* The new mount API: a tmpfs made and mounted, never attached. */
	int fs = (int)syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
	if (fs < 0) {
		fail("fsopen tmpfs", NULL);
	} else if (syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0) < 0) {
		fail("fsconfig tmpfs create", NULL);
		close(fs);
	} else {
		int m = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
		if (m < 0) {
			fail("fsmount tmpfs", NULL);
		} else {
			puts("fsmount tmpfs: mounted (detached)");
			close(m);
			got = 1;
		}
		close(fs);
	}
#endif
	return got ? 0 : 1;
}

/* Write s to the file path; 0 or -1. */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, s, strlen(s));
	int err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* In a user, mount and pid namespace of its own, where it is root with
 * every capability: what of the container's (and so the host's) it can
 * now change. The namespaces are the probe's: what works changes only
 * them, but for sethostname, which sets the name it reads. */
static int userns_escape(int argc, char **argv)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0)
		return fail("unshare user,mnt,pid", NULL);
	puts("unshare user,mnt,pid: done");
	if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		return fail("write", "/proc/self/setgroups");
	snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return fail("write", "/proc/self/uid_map");
	snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return fail("write", "/proc/self/gid_map");
	fflush(stdout);
	/* PID 1 of the new pid namespace, which a new proc shows. */
	pid_t pid = fork();
	if (pid < 0)
		return fail("fork", NULL);
	if (pid > 0) {
		int st;
		if (waitpid(pid, &st, 0) < 0)
			return fail("waitpid", NULL);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	int got = 0;
	char name[256];
	if (gethostname(name, sizeof name - 1) < 0)
		_exit(fail("gethostname", NULL));
	name[sizeof name - 1] = 0;
	/* Its own name again: the check is whether it may. */
	if (sethostname(name, strlen(name)) < 0) {
		fail("sethostname", NULL);
	} else {
		puts("sethostname: permitted");
		got = 1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("mount --make-rprivate", "/");
	for (int i = 2; i < argc; i++) {
		if (umount2(argv[i], MNT_DETACH) < 0) {
			fail("umount", argv[i]);
		} else {
			printf("umount %s: unmounted\n", argv[i]);
			got = 1;
		}
	}
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		fail("mount proc on", "/proc");
	} else {
		puts("mount proc on /proc: mounted (without the masks)");
		got = 1;
	}
	int fd = open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("open /proc/sys/kernel/core_pattern for writing", NULL);
	} else {
		puts("open /proc/sys/kernel/core_pattern for writing: opened");
		close(fd);
		got = 1;
	}
	fflush(stdout);
	_exit(got ? 0 : 1);
}

static int cmd_userns_escape(int argc, char **argv)
{
	/* In a child: the unshare changes the probe itself. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return fail("fork", NULL);
	if (pid == 0) {
		int r = userns_escape(argc, argv);
		fflush(stdout);
		_exit(r);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return fail("waitpid", NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* Call fn(pid) for every process /proc lists but the probe; 0, or what
 * fail() returns. */
static int each_pid(void (*fn)(long, void *), void *arg)
{
	DIR *d = opendir("/proc");
	if (!d)
		return fail("opendir", "/proc");
	long self = getpid();
	struct dirent *e;
	while ((e = readdir(d))) {
		long pid = number(e->d_name, 0x7fffffff);
		if (pid > 0 && pid != self)
			fn(pid, arg);
	}
	closedir(d);
	return 0;
}

static void exe_of(long pid, void *arg)
{
	(void)arg;
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%ld/exe", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) /* a kernel thread's, or a process gone */
			fail("open", path);
		return;
	}
	if (fstat(fd, &st) < 0)
		fail("fstat", path);
	else
		printf("open %s: opened dev %ju ino %ju\n", path, (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	close(fd);
}

static int cmd_exes(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		return usage();
	return each_pid(exe_of, NULL);
}

/* A process whose argv[0] is the token (not one that has it among its
 * arguments: the shell that runs the probe). */
static void pid_with(long pid, void *token)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if (strcmp(buf, token) == 0)
		printf("%ld\n", pid);
}

static int cmd_find_pid(int argc, char **argv)
{
	if (argc != 3 || !*argv[2])
		return usage();
	return each_pid(pid_with, argv[2]);
}

struct reach {
	const char *path;
	int found, shown;
};

static void reach_via_root(long pid, void *arg)
{
	struct reach *r = arg;
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%ld/root%s", pid, r->path);
	if (stat(path, &st) == 0) {
		/* The first few: on the host every process is a way in. */
		if (r->shown++ < 4)
			printf("stat %s: found\n", path);
		r->found = 1;
	}
}

/* The chroot escape, in a child: chroot to a directory below the root
 * while the cwd stays above it, climb with .., chroot there. Only a
 * root that is not its mount namespace's own (chroot, not pivot_root)
 * lets .. out. 0: the path was found that way. */
static int chroot_escape(const char *path)
{
	static const char *dirs[] = {"/dev", "/proc", "/tmp", "/etc"};
	pid_t pid = fork();
	if (pid < 0)
		return fail("fork", NULL);
	if (pid == 0) {
		struct stat st;
		const char *dir = NULL;
		for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !dir; i++)
			if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
				dir = dirs[i];
		if (!dir || chdir("/") < 0)
			_exit(fail("chdir", "/"));
		if (chroot(dir) < 0)
			_exit(fail("chroot", dir));
		for (int i = 0; i < 64; i++)
			if (chdir("..") < 0)
				_exit(fail("chdir", ".."));
		if (chroot(".") < 0)
			_exit(fail("chroot", "."));
		if (stat(path, &st) < 0)
			_exit(fail("stat after a chroot escape", path));
		printf("stat %s after a chroot escape: found\n", path);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return fail("waitpid", NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int cmd_reach(int argc, char **argv)
{
	if (argc != 3 || argv[2][0] != '/')
		return usage();
	struct reach r = {argv[2], 0, 0};
	struct stat st;
	if (stat(r.path, &st) == 0) {
		printf("stat %s: found\n", r.path);
		r.found = 1;
	} else {
		fail("stat", r.path);
	}
	each_pid(reach_via_root, &r);
	if (r.shown > 4)
		printf("stat /proc/PID/root%s: found through %d more processes\n", r.path, r.shown - 4);
	fflush(stdout);
	if (chroot_escape(r.path) == 0)
		r.found = 1;
	return r.found ? 0 : 1;
}

/* keyctl's description of key: "type;uid;gid;perm;description". */
static int describe_key(long key, char *buf, size_t size)
{
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, buf, size, 0);
	if (n < 0)
		return -1;
	if ((size_t)n >= size)
		n = (long)size - 1;
	buf[n] = 0;
	return 0;
}

static int cmd_keyring(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		return usage();
	char desc[512];
	int32_t keys[256];
	long ring = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	if (ring < 0)
		return fail("keyctl get session keyring", NULL);
	if (describe_key(ring, desc, sizeof desc) < 0)
		return fail("keyctl describe session keyring", NULL);
	printf("session keyring %ld %s\n", ring, desc);
	long n = syscall(SYS_keyctl, KEYCTL_READ, ring, keys, sizeof keys, 0);
	if (n < 0)
		return fail("keyctl read session keyring", NULL);
	if ((size_t)n > sizeof keys)
		n = sizeof keys;
	for (long i = 0; i < n / (long)sizeof keys[0]; i++) {
		if (describe_key(keys[i], desc, sizeof desc) < 0)
			printf("key %d: %s (%s)\n", keys[i], strerror(errno), errname(errno));
		else
			printf("key %d %s\n", keys[i], desc);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} cmds[] = {
		{"fds", cmd_fds},
		{"key-add", cmd_key_add},
		{"key-search", cmd_key_search},
		{"mknod", cmd_mknod},
		{"open", cmd_open},
		{"ptrace", cmd_ptrace},
		{"syscall", cmd_syscall},
	};
	/* ns.assert's: each ends itself if it hangs (a ptrace of a stuck
	 * process, a mount that waits). */
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} asserts[] = {
		{"exes", cmd_exes},
		{"find-pid", cmd_find_pid},
		{"keyring", cmd_keyring},
		{"mount-try", cmd_mount_try},
		{"raw-socket", cmd_raw_socket},
		{"reach", cmd_reach},
		{"try", cmd_try},
		{"userns-escape", cmd_userns_escape},
	};
	if (argc < 2)
		return usage();
	/* One line each: a reader sees it whole even when the probe ends. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc, argv);
	for (size_t i = 0; i < sizeof asserts / sizeof asserts[0]; i++)
		if (strcmp(argv[1], asserts[i].name) == 0) {
			alarm(20);
			return asserts[i].run(argc, argv);
		}
	return usage();
}
