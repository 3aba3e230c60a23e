/*
 * namespaces.c - clone (fork-like, clone3 with a pidfd), spawn (vfork-like),
 * unshare, setns,
 * pidfd_open and namespace ids.
 * See clone(2), clone3 in clone(2), unshare(2), setns(2), pidfd_open(2),
 * namespaces(7).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ns.h"

/* AddressSanitizer follows a switch of stacks only when told (see
 * sanitizer/common_interface_defs.h): spawn's child runs on a stack of its
 * own, in the same thread state as its parent. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#define FIBER_START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define FIBER_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define FIBER_START(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define FIBER_FINISH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* The eight namespace types, by the names /proc/PID/ns uses. */
static const ns_name ns_types[] = {
	{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"mnt", CLONE_NEWNS},
	{"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"time", CLONE_NEWTIME},
	{"user", CLONE_NEWUSER}, {"uts", CLONE_NEWUTS},
	{NULL, 0}
};

/* unshare(2) also takes these, which are not namespaces. */
static const ns_name unshare_types[] = {
	{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"mnt", CLONE_NEWNS},
	{"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"time", CLONE_NEWTIME},
	{"user", CLONE_NEWUSER}, {"uts", CLONE_NEWUTS},
	{"files", CLONE_FILES}, {"fs", CLONE_FS}, {"sysvsem", CLONE_SYSVSEM},
	{NULL, 0}
};

/* "pid,mnt,uts" for messages. */
static const char *flag_names(lua_State *L, long long flags)
{
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	int first = 1;
	for (const ns_name *n = unshare_types; n->name; n++)
		if (flags & n->value) {
			if (!first)
				luaL_addchar(&b, ',');
			luaL_addstring(&b, n->name);
			first = 0;
		}
	if (first)
		luaL_addstring(&b, "(none)");
	luaL_pushresult(&b);
	return lua_tostring(L, -1);
}

static pid_t raw_clone3(struct clone_args *args)
{
	return (pid_t)syscall(SYS_clone3, args, sizeof *args);
}

/* clone(types [, opts]) -> 0 in the child; pid, pidfd in the parent.
 * Fork-like: both processes return to Lua. opts.cgroup is a cgroup v2
 * directory fd to start the child in (CLONE_INTO_CGROUP). Without clone3
 * (ENOSYS) it falls back to clone(2) with CLONE_PIDFD, or without it. */
static int ns_namespaces_clone(lua_State *L)
{
	static const char *const keys[] = {"cgroup", NULL};
	long long flags = ns_checkflags(L, 1, ns_types, "namespace");
	int cgfd = -1;
	ns_checkopts(L, 2, keys);
	if (lua_istable(L, 2)) {
		if (lua_getfield(L, 2, "cgroup") != LUA_TNIL) {
			luaL_argcheck(L, ns_tofd(L, -1) || lua_isinteger(L, -1), 2, "option 'cgroup' must be a cgroup v2 directory fd");
			cgfd = ns_checkfd(L, lua_absindex(L, -1));
		}
		lua_pop(L, 1);
	}
	/* Room for the pidfd userdata before the fork, so that no allocation
	 * failure can strand a pidfd. */
	ns_fd *h = ns_pushfd(L, -1, "pidfd");
	int pidfd = -1;
	struct clone_args args;
	memset(&args, 0, sizeof args);
	args.flags = (uint64_t)flags | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	if (cgfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgfd;
	}
	fflush(NULL);
	pid_t pid = raw_clone3(&args);
	if (pid < 0 && errno == ENOSYS && cgfd < 0) {
		/* clone(2) on x86_64: flags, stack, parent_tid, child_tid, tls;
		 * with CLONE_PIDFD the pidfd lands in parent_tid. */
		pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
	}
	if (pid < 0) {
		/* Save errno before the message allocates (a collection may run
		 * __gc handlers that make calls of their own). */
		int err = errno;
		return ns_fail_errno(L, err, cgfd >= 0 ? "clone3 into cgroup" : "clone", flag_names(L, flags));
	}
	if (pid == 0) {
		/* Memory of its own, even when forked from ns.spawn's child. */
		ns_spawn_active = 0;
		lua_pushinteger(L, 0);
		return 1;
	}
	h->fd = pidfd;
	lua_pushinteger(L, pid);
	lua_insert(L, -2);
	return 2;
}

/* The child's stack for spawn, below it a page that faults: an overflow
 * ends the child instead of writing over luactr's memory. */
#define SPAWN_STACK (1 << 20)
#define SPAWN_GUARD 4096

struct spawn_arg {
	lua_State *T;
	char *stack;                /* its lowest usable byte */
	const void *parent_bottom;  /* for AddressSanitizer only */
	size_t parent_size;
};

static int spawn_child(void *p)
{
	struct spawn_arg *a = p;
	lua_State *T = a->T;
	/* Now on the new stack, which this child never leaves. */
	FIBER_START(NULL, a->stack, SPAWN_STACK);
	FIBER_FINISH(NULL, &a->parent_bottom, &a->parent_size);
	if (lua_pcall(T, 0, 1, 0) != LUA_OK) {
		size_t n;
		const char *msg = lua_tolstring(T, -1, &n);
		if (!msg)
			msg = "(error object is not a string)", n = strlen(msg);
		if (write(2, "luactr: spawn: ", 15) > 0 && write(2, msg, n) > 0 && write(2, "\n", 1) > 0) {
		}
		_exit(127);
	}
	_exit(lua_isinteger(T, -1) ? (int)(lua_tointeger(T, -1) & 0xff) : 0);
}

/* spawn(types, fn) -> pid, pidfd. A vfork-like clone (CLONE_VM |
 * CLONE_VFORK) into new namespaces of the given types: the child runs fn
 * on a stack and a Lua thread of its own, in luactr's memory, and luactr
 * goes on only when the child has exec'd or ended. That spares the copy of
 * luactr's page tables and every copy-on-write fault that a fork-like
 * clone costs both sides. fn should end in exec or _exit; if it returns,
 * the child exits with its integer result (or 0), and if it raises, with
 * 127 after writing the error to stderr.
 * What the child changes in Lua is luactr's: the collector is stopped
 * while it runs (a collection in the child would run luactr's finalizers
 * there), the fds it opens are its own (the fd table is not shared), and
 * see fd.c for how handles behave across the two. */
static int ns_namespaces_spawn(lua_State *L)
{
	long long flags = ns_checkflags(L, 1, ns_types, "namespace");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	ns_fd *h = ns_pushfd(L, -1, "pidfd");
	lua_State *T = lua_newthread(L);
	lua_pushvalue(L, 2);
	lua_xmove(L, T, 1);
	char *stack = mmap(NULL, SPAWN_STACK + SPAWN_GUARD, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return ns_fail(L, "mmap", "spawn stack");
	if (mprotect(stack, SPAWN_GUARD, PROT_NONE) < 0) {
		int err = errno;
		munmap(stack, SPAWN_STACK + SPAWN_GUARD);
		return ns_fail_errno(L, err, "mprotect", "spawn stack");
	}
	int collecting = lua_gc(L, LUA_GCISRUNNING);
	lua_gc(L, LUA_GCSTOP);
	int pidfd = -1;
	/* A child that _exits leaves its frames' redzones marked in the
	 * shadow of an address range that the next mmap may hand out again. */
	UNPOISON(stack + SPAWN_GUARD, SPAWN_STACK);
	struct spawn_arg a = {.T = T, .stack = stack + SPAWN_GUARD};
	fflush(NULL);
	ns_spawn_active = 1;
	pid_t pid = clone(spawn_child, stack + SPAWN_STACK + SPAWN_GUARD,
			  (int)flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
	int err = errno;
	/* The child ran in our thread state: say that we are back on our own
	 * stack, as it found it. */
	if (a.parent_bottom) {
		FIBER_START(NULL, a.parent_bottom, a.parent_size);
		FIBER_FINISH(NULL, NULL, NULL);
	}
	ns_spawn_active = 0;
	if (collecting)
		lua_gc(L, LUA_GCRESTART);
	munmap(stack, SPAWN_STACK + SPAWN_GUARD);
	lua_pop(L, 1); /* the thread */
	if (pid < 0)
		return ns_fail_errno(L, err, "clone", flag_names(L, flags));
	h->fd = pidfd;
	lua_pushinteger(L, pid);
	lua_insert(L, -2);
	return 2;
}

/* unshare(types) -> true */
static int ns_namespaces_unshare(lua_State *L)
{
	long long flags = ns_checkflags(L, 1, unshare_types, "namespace");
	if (unshare((int)flags) < 0) {
		int err = errno;
		return ns_fail_errno(L, err, "unshare", flag_names(L, flags));
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int pidfd_open_raw(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static pid_t check_pid(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TNUMBER || !lua_isinteger(L, idx))
		luaL_typeerror(L, idx, "pid (integer)");
	lua_Integer pid = lua_tointeger(L, idx);
	luaL_argcheck(L, pid > 0 && pid <= 0x3fffffff, idx, "pid out of range");
	return (pid_t)pid;
}

/* pidfd_open(pid) -> pidfd */
static int ns_namespaces_pidfd_open(lua_State *L)
{
	pid_t pid = check_pid(L, 1);
	char arg[16];
	snprintf(arg, sizeof arg, "%d", (int)pid);
	ns_fd *h = ns_pushfd(L, -1, "pidfd");
	int fd = pidfd_open_raw(pid);
	if (fd < 0)
		return ns_fail(L, "pidfd_open", arg);
	h->fd = fd;
	return 1;
}

/* setns(target [, types]) -> true. target: a pidfd (types required: which
 * of its namespaces to join, all at once), a pid (likewise, through a
 * pidfd), a /proc/PID/ns/TYPE path, or a namespace fd (types, when given,
 * must match the namespace's type). */
static int ns_namespaces_setns(lua_State *L)
{
	long long flags = ns_checkflags(L, 2, ns_types, "namespace");
	ns_fd *h = ns_tofd(L, 1);
	char arg[64];
	int fd, own = 0;
	if (h) {
		fd = ns_checkfd(L, 1);
		luaL_argcheck(L, strcmp(h->kind, "pidfd") != 0 || flags != 0, 2,
		              "joining through a pidfd needs the namespace types");
		snprintf(arg, sizeof arg, "%s %d", h->kind, fd);
	} else if (lua_type(L, 1) == LUA_TNUMBER) {
		pid_t pid = check_pid(L, 1);
		luaL_argcheck(L, flags != 0, 2, "joining a pid's namespaces needs the namespace types");
		snprintf(arg, sizeof arg, "pid %d", (int)pid);
		fd = pidfd_open_raw(pid);
		if (fd < 0)
			return ns_fail(L, "setns", arg);
		own = 1;
	} else if (lua_type(L, 1) == LUA_TSTRING) {
		const char *path = ns_checkstring(L, 1);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ns_fail(L, "setns", path);
		snprintf(arg, sizeof arg, "%s", path);
		own = 1;
	} else {
		return luaL_typeerror(L, 1, "pidfd, pid or namespace path");
	}
	int r = setns(fd, (int)flags);
	int err = errno;
	if (own)
		close(fd);
	if (r < 0)
		return ns_fail_errno(L, err, "setns", arg);
	lua_pushboolean(L, 1);
	return 1;
}

/* nsid(pid | "self", type) -> the namespace's inode number, the id that
 * lsns(8) prints and readlink /proc/PID/ns/TYPE shows as type:[id]. */
static int ns_namespaces_nsid(lua_State *L)
{
	char path[64];
	if (lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), "self") == 0)
		snprintf(path, sizeof path, "/proc/self/ns/");
	else
		snprintf(path, sizeof path, "/proc/%d/ns/", (int)check_pid(L, 1));
	/* A name, or a CLONE_NEW* value as ns.CLONE gives it. */
	long long v = ns_checkname(L, 2, ns_types, "namespace");
	const char *type = NULL;
	for (const ns_name *t = ns_types; t->name; t++)
		if (t->value == v)
			type = t->name;
	luaL_argcheck(L, type != NULL, 2, "not a namespace type");
	size_t n = strlen(path);
	snprintf(path + n, sizeof path - n, "%s", type);
	struct stat st;
	if (stat(path, &st) < 0)
		return ns_fail(L, "nsid", path);
	lua_pushinteger(L, (lua_Integer)st.st_ino);
	return 1;
}

static const luaL_Reg namespaces_funcs[] = {
	{"clone", ns_namespaces_clone},
	{"spawn", ns_namespaces_spawn},
	{"nsid", ns_namespaces_nsid},
	{"pidfd_open", ns_namespaces_pidfd_open},
	{"setns", ns_namespaces_setns},
	{"unshare", ns_namespaces_unshare},
	{NULL, NULL}
};

void ns_open_namespaces(lua_State *L)
{
	luaL_setfuncs(L, namespaces_funcs, 0);
	ns_setconst(L, "CLONE", unshare_types);
}
