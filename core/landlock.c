/*
 * landlock.c - the Landlock LSM: the ABI version, a ruleset of handled
 * access rights, path-beneath rules, and restricting the calling thread.
 * Raw syscalls, no policy: which rights to handle and grant is the
 * caller's. See landlock(7), landlock_create_ruleset(2),
 * landlock_add_rule(2), landlock_restrict_self(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ns.h"

/* The ABI's numbers, spelt out: the installed headers may predate the
 * later rights (Debian 12's stop at ABI 2). */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#define CREATE_RULESET_VERSION (1U << 0)
#define RULE_PATH_BENEATH 1

/* struct landlock_ruleset_attr as of ABI 6. A kernel that knows fewer
 * fields takes the larger struct as long as the fields it lacks are 0. */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* struct landlock_path_beneath_attr (packed: 12 bytes). */
struct path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

/* LANDLOCK_ACCESS_FS_*: 1-13 since ABI 1, refer ABI 2, truncate ABI 3,
 * ioctl_dev ABI 5. */
static const ns_name fs_access[] = {
	{"execute", 1LL << 0}, {"write_file", 1LL << 1}, {"read_file", 1LL << 2},
	{"read_dir", 1LL << 3}, {"remove_dir", 1LL << 4}, {"remove_file", 1LL << 5},
	{"make_char", 1LL << 6}, {"make_dir", 1LL << 7}, {"make_reg", 1LL << 8},
	{"make_sock", 1LL << 9}, {"make_fifo", 1LL << 10}, {"make_block", 1LL << 11},
	{"make_sym", 1LL << 12}, {"refer", 1LL << 13}, {"truncate", 1LL << 14},
	{"ioctl_dev", 1LL << 15},
	{NULL, 0}
};

/* LANDLOCK_ACCESS_NET_* (ABI 4). */
static const ns_name net_access[] = {
	{"bind_tcp", 1LL << 0}, {"connect_tcp", 1LL << 1},
	{NULL, 0}
};

/* LANDLOCK_SCOPE_* (ABI 6). */
static const ns_name scopes[] = {
	{"abstract_unix_socket", 1LL << 0}, {"signal", 1LL << 1},
	{NULL, 0}
};

/* LANDLOCK_RESTRICT_SELF_* (ABI 7): what the audit log records. */
static const ns_name restrict_flags[] = {
	{"log_same_exec_off", 1LL << 0}, {"log_new_exec_on", 1LL << 1},
	{"log_subdomains_off", 1LL << 2},
	{NULL, 0}
};

/* landlock_abi() -> the ABI version the kernel offers (1 or more).
 * ENOSYS: a kernel built without Landlock; EOPNOTSUPP: built with it but
 * not enabled at boot (lsm=). */
static int ns_landlock_landlock_abi(lua_State *L)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, CREATE_RULESET_VERSION);
	if (abi < 0)
		return ns_fail(L, "landlock_create_ruleset", "(version)");
	lua_pushinteger(L, (lua_Integer)abi);
	return 1;
}

/* landlock_ruleset(handled_fs [, handled_net [, scoped]]) -> a ruleset
 * (handle "landlock"). What it handles it denies once enforced, except
 * what a rule grants; a right the kernel does not know is EINVAL, and
 * nothing handled at all ENOMSG. */
static int ns_landlock_landlock_ruleset(lua_State *L)
{
	struct ruleset_attr attr = {0};
	attr.handled_access_fs = (uint64_t)ns_checkflags(L, 1, fs_access, "landlock fs access");
	attr.handled_access_net = (uint64_t)ns_checkflags(L, 2, net_access, "landlock net access");
	attr.scoped = (uint64_t)ns_checkflags(L, 3, scopes, "landlock scope");
	/* Made closed first: a memory error after the syscall would leak it. */
	ns_fd *h = ns_pushfd(L, -1, "landlock");
	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (fd < 0)
		return ns_fail(L, "landlock_create_ruleset", NULL);
	h->fd = fd;
	return 1;
}

/* landlock_add_path(ruleset, path | fd, access) -> true: a path-beneath
 * rule granting access (fs access names) to the file or the hierarchy
 * under the directory. A path is opened O_PATH for the call (following a
 * last symlink) and closed after. A right the ruleset does not handle is
 * EINVAL, as are directory rights on a file; no right at all is ENOMSG. */
static int ns_landlock_landlock_add_path(lua_State *L)
{
	int ruleset = ns_checkfd(L, 1);
	const char *path = NULL;
	int parent = -1;
	if (lua_type(L, 2) == LUA_TSTRING)
		path = ns_checkstring(L, 2);
	else
		parent = ns_checkfd(L, 2);
	struct path_beneath_attr attr;
	attr.allowed_access = (uint64_t)ns_checkflags(L, 3, fs_access, "landlock fs access");
	if (path) {
		parent = open(path, O_PATH | O_CLOEXEC);
		if (parent < 0)
			return ns_fail(L, "open", path);
	}
	attr.parent_fd = parent;
	int r = (int)syscall(SYS_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &attr, 0);
	int err = errno;
	if (path)
		close(parent);
	if (r < 0) {
		char arg[24];
		if (!path)
			snprintf(arg, sizeof arg, "fd %d", parent);
		return ns_fail_errno(L, err, "landlock_add_rule", path ? path : arg);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* landlock_restrict(ruleset [, flags]) -> true: the calling thread (and
 * all it starts from now on) is held to the ruleset, for good. It needs
 * no_new_privs or CAP_SYS_ADMIN in its user namespace (EPERM), which the
 * message says. */
static int ns_landlock_landlock_restrict(lua_State *L)
{
	int ruleset = ns_checkfd(L, 1);
	unsigned flags = (unsigned)ns_checkflags(L, 2, restrict_flags, "landlock restrict flag");
	if (syscall(SYS_landlock_restrict_self, ruleset, flags) < 0) {
		int err = errno;
		char arg[24];
		snprintf(arg, sizeof arg, "fd %d", ruleset);
		int n = ns_fail_errno(L, err, "landlock_restrict_self", arg);
		if (err == EPERM) {
			lua_pushvalue(L, -2);
			lua_pushliteral(L, "; it needs no_new_privs (prctl) or CAP_SYS_ADMIN");
			lua_concat(L, 2);
			lua_replace(L, -3);
		}
		return n;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg landlock_funcs[] = {
	{"landlock_abi", ns_landlock_landlock_abi},
	{"landlock_add_path", ns_landlock_landlock_add_path},
	{"landlock_restrict", ns_landlock_landlock_restrict},
	{"landlock_ruleset", ns_landlock_landlock_ruleset},
	{NULL, NULL}
};

void ns_open_landlock(lua_State *L)
{
	luaL_setfuncs(L, landlock_funcs, 0);
	ns_setconst(L, "LANDLOCK_FS", fs_access);
	ns_setconst(L, "LANDLOCK_NET", net_access);
	ns_setconst(L, "LANDLOCK_SCOPE", scopes);
}
