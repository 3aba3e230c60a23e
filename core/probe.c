/*
 * probe.c - a static helper that specs bind-mount into a busybox container
 * to try, from inside, what busybox has no applet for. It is not part of
 * the module. One subcommand per run; it prints one short line and exits 0
 * when the probed action worked, 1 when it failed (printing
 * "<what>: <strerror> (<ERRNO NAME>)") and 2 on a usage error.
 * See ptrace(2), open(2), keyctl(2), add_key(2), mknod(2), proc(5),
 * userfaultfd(2), personality(2), socket(2), clone(2) (clone3).
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
#include <linux/keyctl.h>
#include <linux/userfaultfd.h>

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
	      "       probe syscall add_key|keyctl|userfaultfd|personality|socket-vsock|socket-alg|clone3\n",
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
	else
		return usage();
	if (r < 0)
		return fail(name, NULL);
	printf("%s: ok\n", name);
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
	if (argc < 2)
		return usage();
	/* One line each: a reader sees it whole even when the probe ends. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc, argv);
	return usage();
}
