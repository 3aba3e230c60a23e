/*
 * floor.c - the benchmark's floor: only the syscalls that start /bin/true
 * in a fully isolated container, with no Lua and no policy. Per run: make
 * a temp dir with the overlay's upper, work and merged dirs; clone into new
 * pid, mnt, uts, ipc, net and cgroup namespaces; in the child make /
 * rprivate, mount the overlay (lower = LOWERDIR), pivot_root into it,
 * detach the old root, mount /proc and exec /bin/true; in the parent wait,
 * then remove the temp dirs. Prints each run's wall time in microseconds,
 * one per line (nothing with -q). With -f it also does what luactr's
 * defaults add: sysfs read-only, a minimal /dev (tmpfs, null, zero, full,
 * random, urandom, tty, devpts, shm, mqueue), nodev on the overlay and
 * /dev, runc's read-only and masked /proc and /sys paths, a new session
 * keyring and every fd from 3 up close-on-exec.
 * Usage: floor [-q] [-f] LOWERDIR [N]
 * See clone(2), mount(2), pivot_root(2), umount2(2), execve(2), waitpid(2),
 * nftw(3), overlayfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <unistd.h>

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)

static void die(const char *what, const char *arg)
{
	int err = errno;
	fprintf(stderr, "floor: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(err));
	exit(1);
}

/* In the child: report and end without running the parent's atexit work. */
static void child_die(const char *what, const char *arg)
{
	int err = errno;
	fprintf(stderr, "floor: child: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(err));
	_exit(127);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int full;

static void child_mount(const char *src, const char *root, const char *dst,
			const char *type, unsigned long flags, const char *data)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s%s", root, dst);
	if (mount(src, path, type, flags, data) < 0)
		child_die("mount on", path);
}

/* -f: sysfs read-only and a minimal /dev, under the new root. */
static void child_full(const char *root)
{
	static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};
	const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char path[PATH_MAX], src[64];
	child_mount("sysfs", root, "/sys", "sysfs", nse | MS_RDONLY, NULL);
	child_mount("tmpfs", root, "/dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME, "mode=755,size=65536k");
	for (const char *const *d = devs; *d; d++) {
		snprintf(path, sizeof path, "%s/dev/%s", root, *d);
		int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
		if (fd < 0)
			child_die("create", path);
		close(fd);
		snprintf(src, sizeof src, "/dev/%s", *d);
		if (mount(src, path, NULL, MS_BIND, NULL) < 0)
			child_die("bind mount on", path);
	}
	const char *dirs[] = {"/dev/pts", "/dev/shm", "/dev/mqueue"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s%s", root, dirs[i]);
		if (mkdir(path, 0755) < 0)
			child_die("mkdir", path);
	}
	child_mount("devpts", root, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	child_mount("shm", root, "/dev/shm", "tmpfs", nse, "mode=1777,size=65536k");
	child_mount("mqueue", root, "/dev/mqueue", "mqueue", nse, NULL);
}

/* -f, after /proc: the paths luactr makes read-only and masks by default
 * (ns.security), each skipped when this kernel lacks it. */
static void child_paths(void)
{
	static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
	static const char *const masked[] = {"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
		"/proc/keys", "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
		"/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware", NULL};
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	struct stat st;
	for (const char *const *p = ro; *p; p++) {
		if (stat(*p, &st) < 0)
			continue;
		if (mount(*p, *p, NULL, MS_BIND | MS_REC, NULL) < 0)
			child_die("bind mount on", *p);
		if (syscall(SYS_mount_setattr, AT_FDCWD, *p, AT_RECURSIVE, &attr, sizeof attr) < 0)
			child_die("mount_setattr", *p);
	}
	const char *empty = NULL;
	for (const char *const *p = masked; *p; p++) {
		if (stat(*p, &st) < 0)
			continue;
		int r;
		if (!S_ISDIR(st.st_mode))
			r = mount("/dev/null", *p, NULL, MS_BIND, NULL);
		else if (empty)
			r = mount(empty, *p, NULL, MS_BIND, NULL);
		else if ((r = mount("tmpfs", *p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555")) == 0)
			empty = *p;
		if (r < 0)
			child_die("mask", *p);
	}
}

/* The container: runs in the new namespaces, never returns. */
static void child(const char *merged, const char *options)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_die("mount --make-rprivate", "/");
	if (full) {
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
			child_die("keyctl join", NULL);
		if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			child_die("close_range", NULL);
	}
	if (mount("overlay", merged, "overlay", full ? MS_NODEV : 0, options) < 0)
		child_die("mount overlay on", merged);
	if (full)
		child_full(merged);
	if (chdir(merged) < 0)
		child_die("chdir", merged);
	/* pivot_root(".", ".") stacks the old root on the new one; detaching
	 * it leaves only the overlay (crun's sequence). */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_die("pivot_root", merged);
	if (umount2(".", MNT_DETACH) < 0)
		child_die("umount old root", ".");
	if (chdir("/") < 0)
		child_die("chdir", "/");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		child_die("mount proc on", "/proc");
	if (full)
		child_paths();
	char *const argv[] = {"/bin/true", NULL};
	char *const envp[] = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", NULL};
	execve(argv[0], argv, envp);
	child_die("exec", argv[0]);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		die(flag == FTW_DP ? "rmdir" : "unlink", path);
	return 0;
}

/* One container start to exit; returns its wall time in microseconds. */
static double run_once(const char *lower)
{
	char dir[] = "/tmp/luactr-floor-XXXXXX";
	char upper[64], work[64], merged[64], options[PATH_MAX + 192];
	double t0 = now_us();
	if (!mkdtemp(dir))
		die("mkdtemp", dir);
	snprintf(upper, sizeof upper, "%s/upper", dir);
	snprintf(work, sizeof work, "%s/work", dir);
	snprintf(merged, sizeof merged, "%s/merged", dir);
	if (mkdir(upper, 0755) < 0)
		die("mkdir", upper);
	if (mkdir(work, 0700) < 0)
		die("mkdir", work);
	if (mkdir(merged, 0755) < 0)
		die("mkdir", merged);
	snprintf(options, sizeof options, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);

	pid_t pid = (pid_t)syscall(SYS_clone, NS_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		int err = errno;
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		errno = err;
		die("clone", NULL);
	}
	if (pid == 0)
		child(merged, options);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid", NULL);
	/* FTW_PHYS: never follow symlinks; FTW_MOUNT: stay on this filesystem. */
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		die("remove", dir);
	double t1 = now_us();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "floor: /bin/true ended with status 0x%x\n", (unsigned)status);
		exit(1);
	}
	return t1 - t0;
}

int main(int argc, char **argv)
{
	int quiet = 0, opt;
	while ((opt = getopt(argc, argv, "qf")) != -1) {
		if (opt == 'q')
			quiet = 1;
		else if (opt == 'f')
			full = 1;
		else
			argc = 0;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "usage: floor [-q] [-f] LOWERDIR [N]\n");
		return 2;
	}
	const char *lower = argv[0];
	long n = argc == 2 ? strtol(argv[1], NULL, 10) : 1;
	if (n < 1 || n > 1000000) {
		fprintf(stderr, "floor: N must be 1 to 1000000\n");
		return 2;
	}
	if (lower[0] != '/' || strlen(lower) > PATH_MAX || strpbrk(lower, ",:\\")) {
		fprintf(stderr, "floor: LOWERDIR must be an absolute path without ',', ':' or '\\'\n");
		return 2;
	}
	struct stat st;
	if (stat(lower, &st) < 0)
		die("stat", lower);
	for (long i = 0; i < n; i++) {
		double us = run_once(lower);
		if (!quiet) {
			printf("%.0f\n", us);
			fflush(stdout);
		}
	}
	return 0;
}
