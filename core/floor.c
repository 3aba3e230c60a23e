/*
 * floor.c - the benchmark's floor: the syscalls that start /bin/true in an
 * isolated busybox container, with no Lua and no policy. Prints each run's
 * wall time in microseconds, one per line (nothing with -q).
 *
 * Every mode keeps the overlay's upper, work and merged dirs on a tmpfs
 * mounted on the state dir's .tmpfs (/run/luactr/.tmpfs, as luactr's
 * default) inside the container's own mount namespace: nothing is made on
 * disk but that empty directory, and nothing is left to remove when the
 * container ends.
 *
 *   floor LOWERDIR   the least: clone into new pid, mnt, uts, ipc, net and
 *                    cgroup namespaces; make / rprivate, the tmpfs, the
 *                    overlay, /proc, pivot_root, exec; the parent waits.
 *   floor -f ...     the work of luactr's default container (`./luactr
 *                    scripts/bench-true.lua`), syscall for syscall, in its
 *                    order: a socketpair for the child's report, clone3
 *                    with a pidfd (cgroup namespace unshared by the
 *                    child), no start signal (luactr has nothing to do
 *                    between clone and the child's work), keyring,
 *                    nodev overlay, proc, sysfs ro, the minimal /dev,
 *                    read-only and masked paths, pivot_root, hostname,
 *                    close_range, docker's 14 capabilities, no_new_privs.
 *   floor -c ...     -f plus the cgroups luactr makes for `cgroup = {
 *                    memory = "64M" }`: a group in every mounted hierarchy
 *                    (see cg_create), which the child joins itself first
 *                    ("0" to cgroup.procs) and sees, read-only, at its
 *                    /sys/fs/cgroup (child_cgroupfs), removed after.
 *   floor -s FILE    (with -f or -c) also what luactr's default seccomp
 *                    filter costs a start: the compiled program (a file of
 *                    struct sock_filter, luactr's cache of it) read by the
 *                    parent before the clone, installed by the child after
 *                    no_new_privs, right before exec.
 *
 * Usage: floor [-q] [-f | -c] [-s FILE] LOWERDIR [N]
 * See clone(2), clone3(2), mount(2), mount_setattr(2), pivot_root(2),
 * umount2(2), keyctl(2), close_range(2), capset(2), prctl(2), execve(2),
 * waitid(2), cgroups(7), overlayfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <unistd.h>

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)
#define STATE "/run/luactr"
#define TMPFS STATE "/.tmpfs"
#define ROOT TMPFS "/merged"

enum { PLAIN, FULL, CGROUP };
static int mode = PLAIN;
static const char *seccomp_file; /* -s */
static char options[PATH_MAX + 192]; /* the overlay's mount data */

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

/* ROOT followed by dst, in one of two buffers (a call takes two paths). */
static const char *in_root(const char *dst)
{
	static char buf[2][PATH_MAX];
	static int i;
	i ^= 1;
	snprintf(buf[i], sizeof buf[i], "%s%s", ROOT, dst);
	return buf[i];
}

static void child_mount(const char *src, const char *dst, const char *type,
			unsigned long flags, const char *data)
{
	const char *path = in_root(dst);
	if (mount(src, path, type, flags, data) < 0)
		child_die("mount on", path);
}

/* The tmpfs, the overlay's three dirs on it, the overlay. */
static void child_overlay(unsigned long flags)
{
	if (mount("tmpfs", TMPFS, "tmpfs", flags, "mode=0755") < 0)
		child_die("mount tmpfs on", TMPFS);
	if (mkdir(TMPFS "/upper", 0755) < 0)
		child_die("mkdir", TMPFS "/upper");
	if (mkdir(TMPFS "/work", 0700) < 0)
		child_die("mkdir", TMPFS "/work");
	if (mkdir(ROOT, 0755) < 0)
		child_die("mkdir", ROOT);
	if (mount("overlay", ROOT, "overlay", flags, options) < 0)
		child_die("mount overlay on", ROOT);
}

/* luactr's minimal /dev: a nodev tmpfs, the host's six nodes bound in,
 * devpts, shm, mqueue and the usual symlinks. */
static void child_dev(void)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};
	static const char *const links[][2] = {{"pts/ptmx", "/dev/ptmx"}, {"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"}, {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}};
	const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char dst[32], src[32];
	child_mount("tmpfs", "/dev", "tmpfs", nse | MS_STRICTATIME, "mode=755,size=65536k");
	for (const char *const *d = nodes; *d; d++) {
		snprintf(dst, sizeof dst, "/dev/%s", *d);
		int fd = open(in_root(dst), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0)
			child_die("create", in_root(dst));
		close(fd);
		snprintf(src, sizeof src, "/dev/%s", *d);
		child_mount(src, dst, NULL, MS_BIND, NULL);
	}
	static const char *const dirs[] = {"/dev/pts", "/dev/shm", "/dev/mqueue"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if (mkdir(in_root(dirs[i]), 0755) < 0)
			child_die("mkdir", in_root(dirs[i]));
	child_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	if (symlink(links[0][0], in_root(links[0][1])) < 0)
		child_die("symlink", in_root(links[0][1]));
	child_mount("shm", "/dev/shm", "tmpfs", nse, "mode=1777,size=65536k");
	child_mount("mqueue", "/dev/mqueue", "mqueue", nse, NULL);
	for (size_t i = 1; i < sizeof links / sizeof links[0]; i++)
		if (symlink(links[i][0], in_root(links[i][1])) < 0)
			child_die("symlink", in_root(links[i][1]));
}

/* The read-only and masked paths of ns.security, below the new root and
 * before pivot_root as luactr does them: a read-only path is a recursive
 * bind over itself made rdonly (skipped if the bind finds it missing); a
 * masked file gets /dev/null bound over it, a masked directory the one
 * read-only empty tmpfs (skipped if stat finds it missing). */
static void child_paths(void)
{
	static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
	static const char *const masked[] = {"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
		"/proc/keys", "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
		"/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware", NULL};
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	for (const char *const *p = ro; *p; p++) {
		const char *path = in_root(*p);
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			child_die("bind mount on", path);
		}
		if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) < 0)
			child_die("mount_setattr", path);
	}
	char empty[PATH_MAX] = "";
	struct stat st;
	for (const char *const *p = masked; *p; p++) {
		const char *path = in_root(*p);
		if (stat(path, &st) < 0)
			continue;
		int r;
		if (!S_ISDIR(st.st_mode))
			r = mount("/dev/null", path, NULL, MS_BIND, NULL);
		else if (empty[0])
			r = mount(empty, path, NULL, MS_BIND, NULL);
		else if ((r = mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555")) == 0)
			snprintf(empty, sizeof empty, "%s", path);
		if (r < 0)
			child_die("mask", path);
	}
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it
 * leaves only the overlay (crun's sequence). */
static void child_pivot(void)
{
	if (chdir(ROOT) < 0)
		child_die("chdir", ROOT);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_die("pivot_root", ROOT);
	if (umount2(".", MNT_DETACH) < 0)
		child_die("umount old root", ".");
	if (chdir("/") < 0)
		child_die("chdir", "/");
}

/* Docker's 14 capabilities, luactr's default: every other one leaves the
 * bounding set, then the effective and permitted sets are the 14. */
/* -s: the compiled program, read by the parent before each clone, as
 * luactr maps its cache file before the clone, and installed by the child
 * after no_new_privs. */
static struct sock_filter insns[4096];
static unsigned short ninsns;

static void read_seccomp(void)
{
	int fd = open(seccomp_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", seccomp_file);
	ssize_t n = read(fd, insns, sizeof insns);
	close(fd);
	if (n <= 0 || n % (ssize_t)sizeof insns[0] != 0)
		die("read", seccomp_file);
	ninsns = (unsigned short)(n / (ssize_t)sizeof insns[0]);
}

static void child_seccomp(void)
{
	struct sock_fprog prog = {.len = ninsns, .filter = insns};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		child_die("seccomp", seccomp_file);
}

static void child_caps(void)
{
	static const int keep[] = {CAP_AUDIT_WRITE, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID,
		CAP_KILL, CAP_MKNOD, CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SETFCAP, CAP_SETGID, CAP_SETPCAP,
		CAP_SETUID, CAP_SYS_CHROOT};
	uint64_t set = 0;
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		set |= UINT64_C(1) << keep[i];
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (!(set & (UINT64_C(1) << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			child_die("prctl PR_CAPBSET_DROP", NULL);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {
		{.effective = (uint32_t)set, .permitted = (uint32_t)set, .inheritable = 0},
		{.effective = (uint32_t)(set >> 32), .permitted = (uint32_t)(set >> 32), .inheritable = 0},
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_die("capset", NULL);
}

static void child_exec(void)
{
	char *const argv[] = {"/bin/true", NULL};
	char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "HOSTNAME=luactr-floor", NULL};
	execve(argv[0], argv, envp);
	child_die("exec", argv[0]);
}

/* The least container: runs in the new namespaces, never returns. */
static void child_plain(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_die("mount --make-rprivate", "/");
	child_overlay(0);
	child_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	child_pivot();
	child_exec();
}

static void cg_join(void);
static void child_cgroupfs(void);

/* luactr's default container, step for step (see `luactr --plan`). */
static void child_full(int sock)
{
	const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_die("prctl PR_SET_PDEATHSIG", NULL);
	/* A parent gone before the prctl has closed its end. */
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	if (poll(&pfd, 1, 0) != 0)
		child_die("parent went away", NULL);
	if (mode == CGROUP)
		cg_join();
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
		child_die("keyctl join", NULL);
	/* Only now that we are in our groups, so that the namespace's root
	 * is the group. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		child_die("unshare", "cgroup");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_die("mount --make-rprivate", "/");
	child_overlay(MS_NODEV);
	child_mount("proc", "/proc", "proc", nse, NULL);
	child_mount("sysfs", "/sys", "sysfs", nse | MS_RDONLY, NULL);
	if (mode == CGROUP)
		child_cgroupfs();
	child_dev();
	child_paths();
	child_pivot();
	if (sethostname("luactr-floor", 12) < 0)
		child_die("sethostname", NULL);
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_die("close_range", NULL);
	child_caps();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_die("prctl PR_SET_NO_NEW_PRIVS", NULL);
	if (seccomp_file)
		child_seccomp();
	child_exec();
}

/* -c: the cgroups. luactr's `cgroup = { memory = "64M" }` on this kind of
 * host makes a group in every mounted hierarchy, v1 controllers and the
 * v2 tree alike (not the named name=systemd one), below a parent of its
 * own that it removes again when it made it; it copies the cpuset values
 * down (an empty cpuset cannot take a process), writes the memory limit
 * and docker's device allow-list, adds the child to every group before
 * "go", reads the OOM count when it ended and removes the groups. The
 * floor does the same, with luactr-bench-floor-<pid> as the parent and
 * ctr as the group. */
#define MAX_HIER 16

struct hier {
	char mount[256];
	char parent[PATH_MAX], group[PATH_MAX]; /* luactr-bench-floor-<pid>, its ctr */
	int cpuset, memory, devices, v2;
	int fd; /* O_PATH of the group, -1 when not made */
	int made_parent;
};

static struct hier hiers[MAX_HIER];
static int nhier;
static int child_pidfd = -1;

/* Whether the comma-separated list opts has the word w. */
static int has_opt(const char *opts, const char *w)
{
	size_t n = strlen(w);
	for (const char *p = opts; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, w, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* The hierarchies mounted at their root, from /proc/self/mountinfo. */
static void cg_layout(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		die("open", "/proc/self/mountinfo");
	char line[4096], root[PATH_MAX], mnt[PATH_MAX], type[64], super[512];
	int self = (int)getpid();
	while (fgets(line, sizeof line, f)) {
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(sep + 3, "%63s %*s %511s", type, super) != 2)
			continue;
		int v1 = strcmp(type, "cgroup") == 0, v2 = strcmp(type, "cgroup2") == 0;
		if ((!v1 && !v2) || strcmp(root, "/") != 0 || (v1 && strstr(super, "name=")) ||
		    strlen(mnt) >= sizeof hiers[0].mount)
			continue;
		if (nhier == MAX_HIER) {
			errno = E2BIG;
			die("cgroup hierarchies", "more than 16");
		}
		struct hier *h = &hiers[nhier++];
		snprintf(h->mount, sizeof h->mount, "%s", mnt);
		snprintf(h->parent, sizeof h->parent, "%s/luactr-bench-floor-%d", mnt, self);
		snprintf(h->group, sizeof h->group, "%s/luactr-bench-floor-%d/ctr", mnt, self);
		h->cpuset = v1 && has_opt(super, "cpuset");
		h->memory = v1 && has_opt(super, "memory");
		h->devices = v1 && has_opt(super, "devices");
		h->v2 = v2;
		h->fd = -1;
	}
	fclose(f);
	if (nhier == 0) {
		errno = ENOENT;
		die("cgroup", "no hierarchy mounted");
	}
}

/* The group at the child's /sys/fs/cgroup, as luactr's cgroupfs op does
 * it: on pure v2 a cgroup2 mount in the cgroup namespace; else a tmpfs,
 * each hierarchy's group bound on a directory named as the host names it
 * (the v2 tree mounted afresh), all made read-only. */
static void child_cgroupfs(void)
{
	const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (nhier == 1 && hiers[0].v2) {
		child_mount("cgroup2", "/sys/fs/cgroup", "cgroup2", ro, NULL);
		return;
	}
	child_mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
	char dir[PATH_MAX];
	for (int i = 0; i < nhier; i++) {
		const struct hier *h = &hiers[i];
		const char *name = strrchr(h->mount, '/');
		int n = snprintf(dir, sizeof dir, "%s/sys/fs/cgroup/%s", ROOT, name ? name + 1 : h->mount);
		if (n < 0 || (size_t)n >= sizeof dir || mkdir(dir, 0755) < 0)
			child_die("mkdir", dir);
		if ((h->v2 ? mount("cgroup2", dir, "cgroup2", ro, NULL) : mount(h->group, dir, NULL, MS_BIND, NULL)) < 0)
			child_die("mount on", dir);
	}
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	const char *top = in_root("/sys/fs/cgroup");
	if (syscall(SYS_mount_setattr, AT_FDCWD, top, AT_RECURSIVE, &attr, sizeof attr) < 0)
		child_die("mount_setattr", top);
}

/* Writes value to file in the directory dirfd (named dir, for errors). */
static void write_at(int dirfd, const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	int fd = openat(dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) < 0) {
		snprintf(path, sizeof path, "%s/%s", dir, file);
		die("write", path);
	}
	close(fd);
}

/* The first line of dir/file, in buf. */
static void read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (n < 0)
		die("read", path);
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static void cg_create(void)
{
	static const char *const rules[] = {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
		"c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", NULL};
	char cpus[256], mems[256];
	for (int i = 0; i < nhier; i++) {
		struct hier *h = &hiers[i];
		const char *parent = h->parent, *group = h->group;
		if (mkdir(parent, 0755) < 0)
			die("mkdir", parent);
		h->made_parent = 1;
		if (h->cpuset) {
			read_file(h->mount, "cpuset.cpus", cpus, sizeof cpus);
			read_file(h->mount, "cpuset.mems", mems, sizeof mems);
			int pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (pfd < 0)
				die("open", parent);
			write_at(pfd, parent, "cpuset.cpus", cpus);
			write_at(pfd, parent, "cpuset.mems", mems);
			close(pfd);
		}
		if (mkdir(group, 0755) < 0)
			die("mkdir", group);
		if ((h->fd = open(group, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			die("open", group);
		if (h->cpuset) {
			write_at(h->fd, group, "cpuset.cpus", cpus);
			write_at(h->fd, group, "cpuset.mems", mems);
		}
	}
	for (int i = 0; i < nhier; i++) {
		struct hier *h = &hiers[i];
		if (h->memory)
			write_at(h->fd, h->mount, "memory.limit_in_bytes", "67108864");
		if (h->devices) {
			write_at(h->fd, h->mount, "devices.deny", "a");
			/* One rule a write, as the kernel takes them (luactr
			 * opens the file again for each). */
			int fd = openat(h->fd, "devices.allow", O_WRONLY | O_CLOEXEC);
			if (fd < 0)
				die("open devices.allow in", h->mount);
			for (const char *const *r = rules; *r; r++)
				if (write(fd, *r, strlen(*r)) < 0)
					die("write devices.allow", *r);
			close(fd);
		}
	}
}

/* The calling process (the child) into every group. */
static void cg_join(void)
{
	for (int i = 0; i < nhier; i++) {
		int fd = openat(hiers[i].fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) < 0)
			child_die("join", hiers[i].mount);
		close(fd);
	}
}

/* rmdir, again while the kernel still counts the ended child (EBUSY). */
static int rmdir_wait(const char *path)
{
	struct timespec ts = {0, 50000};
	for (int try = 0; try < 2000; try++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -1;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Groups first, then their parents, in reverse order of creation. */
static int cg_remove(void)
{
	int r = 0;
	for (int i = nhier - 1; i >= 0; i--) {
		struct hier *h = &hiers[i];
		if (h->fd >= 0) {
			if (rmdir_wait(h->group) < 0) {
				fprintf(stderr, "floor: rmdir %s: %s\n", h->group, strerror(errno));
				r = -1;
			}
			close(h->fd);
			h->fd = -1;
		}
	}
	for (int i = nhier - 1; i >= 0; i--) {
		struct hier *h = &hiers[i];
		if (h->made_parent) {
			if (rmdir_wait(h->parent) < 0) {
				fprintf(stderr, "floor: rmdir %s: %s\n", h->parent, strerror(errno));
				r = -1;
			}
			h->made_parent = 0;
		}
	}
	return r;
}

/* atexit: a failed run leaves no child and no group behind. */
static void cg_cleanup(void)
{
	if (child_pidfd >= 0) {
		siginfo_t info;
		syscall(SYS_pidfd_send_signal, child_pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)child_pidfd, &info, WEXITED);
		close(child_pidfd);
		child_pidfd = -1;
	}
	cg_remove();
}

/* How many processes the OOM killer killed in the group (oom_kill of
 * memory.oom_control), as luactr reads it once the container ended. */
static long cg_oom_kills(void)
{
	char buf[512];
	for (int i = 0; i < nhier; i++) {
		if (!hiers[i].memory)
			continue;
		int fd = openat(hiers[i].fd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		if (fd >= 0)
			close(fd);
		if (n < 0)
			die("read memory.oom_control in", hiers[i].mount);
		buf[n] = '\0';
		const char *k = strstr(buf, "oom_kill ");
		return k ? strtol(k + 9, NULL, 10) : 0;
	}
	return 0;
}

/* The tmpfs's mount point, made when missing (luactr's "state dir" op). */
static void state_dir(void)
{
	struct stat st;
	if (stat(TMPFS, &st) == 0)
		return;
	if (mkdir(STATE, 0755) < 0 && errno != EEXIST)
		die("mkdir", STATE);
	if (mkdir(TMPFS, 0755) < 0 && errno != EEXIST)
		die("mkdir", TMPFS);
}

/* One start to exit of the least container; its wall time in µs. */
static double run_plain(void)
{
	double t0 = now_us();
	state_dir();
	pid_t pid = (pid_t)syscall(SYS_clone, NS_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		die("clone", NULL);
	if (pid == 0)
		child_plain();
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid", NULL);
	double t1 = now_us();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "floor: /bin/true ended with status 0x%x\n", (unsigned)status);
		exit(1);
	}
	return t1 - t0;
}

/* One start to exit as luactr does it (-f, -c); its wall time in µs. The
 * parent's side: state dir, groups, socketpair, clone3, join, "go", read
 * to end-of-file (the child's end is close-on-exec: the exec happened or
 * the child died), wait, groups removed. */
static double run_full(void)
{
	double t0 = now_us();
	if (seccomp_file)
		read_seccomp();
	state_dir();
	if (mode == CGROUP)
		cg_create();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", NULL);
	int pidfd = -1;
	struct clone_args args = {
		.flags = CLONE_PIDFD | (NS_FLAGS & ~(uint64_t)CLONE_NEWCGROUP),
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
	};
	pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0)
		die("clone3", NULL);
	if (pid == 0) {
		close(sv[0]);
		child_full(sv[1]);
	}
	child_pidfd = pidfd;
	close(sv[1]);
	char buf[512];
	ssize_t n;
	while ((n = read(sv[0], buf, sizeof buf)) != 0)
		if (n < 0 && errno != EINTR)
			die("read", "socket");
	close(sv[0]);
	siginfo_t info;
	while (waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED) < 0)
		if (errno != EINTR)
			die("waitid", NULL);
	close(pidfd);
	child_pidfd = -1;
	if (mode == CGROUP) {
		if (cg_oom_kills() > 0)
			fprintf(stderr, "floor: the OOM killer ended /bin/true\n");
		if (cg_remove() < 0)
			exit(1);
	}
	double t1 = now_us();
	if (info.si_code != CLD_EXITED || info.si_status != 0) {
		fprintf(stderr, "floor: /bin/true ended with code %d, status %d\n", info.si_code, info.si_status);
		exit(1);
	}
	return t1 - t0;
}

int main(int argc, char **argv)
{
	int quiet = 0, opt;
	while ((opt = getopt(argc, argv, "qfcs:")) != -1) {
		if (opt == 'q')
			quiet = 1;
		else if (opt == 's')
			seccomp_file = optarg;
		else if (opt == 'f')
			mode = FULL;
		else if (opt == 'c')
			mode = CGROUP;
		else
			argc = 0;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "usage: floor [-q] [-f | -c] [-s FILE] LOWERDIR [N]\n");
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
	snprintf(options, sizeof options, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, TMPFS, TMPFS);
	if (mode == CGROUP) {
		cg_layout();
		if (atexit(cg_cleanup) != 0)
			die("atexit", NULL);
	}
	for (long i = 0; i < n; i++) {
		double us = mode == PLAIN ? run_plain() : run_full();
		if (!quiet) {
			printf("%.0f\n", us);
			fflush(stdout);
		}
	}
	return 0;
}
