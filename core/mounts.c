/*
 * mounts.c - mount, mount_setattr, umount, pivot_root, chroot, chdir.
 * See mount(2), mount_setattr(2), umount2(2), pivot_root(2), chroot(2),
 * chdir(2), mount_namespaces(7).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ns.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static const ns_name mount_flags[] = {
	{"bind", MS_BIND}, {"dirsync", MS_DIRSYNC}, {"lazytime", MS_LAZYTIME},
	{"mandlock", MS_MANDLOCK}, {"move", MS_MOVE}, {"noatime", MS_NOATIME},
	{"nodev", MS_NODEV}, {"nodiratime", MS_NODIRATIME}, {"noexec", MS_NOEXEC},
	{"nosuid", MS_NOSUID}, {"nosymfollow", MS_NOSYMFOLLOW}, {"private", MS_PRIVATE},
	{"rbind", MS_BIND | MS_REC}, {"rdonly", MS_RDONLY}, {"rec", MS_REC},
	{"relatime", MS_RELATIME}, {"remount", MS_REMOUNT}, {"rprivate", MS_PRIVATE | MS_REC},
	{"rshared", MS_SHARED | MS_REC}, {"rslave", MS_SLAVE | MS_REC},
	{"runbindable", MS_UNBINDABLE | MS_REC}, {"shared", MS_SHARED}, {"silent", MS_SILENT},
	{"slave", MS_SLAVE}, {"strictatime", MS_STRICTATIME}, {"sync", MS_SYNCHRONOUS},
	{"unbindable", MS_UNBINDABLE},
	{NULL, 0}
};

/* The per-mount attributes that mount_setattr sets or clears one by one
 * (the atime mode is a field of its own, left alone here). */
static const ns_name mount_attrs[] = {
	{"nodev", MOUNT_ATTR_NODEV}, {"nodiratime", MOUNT_ATTR_NODIRATIME},
	{"noexec", MOUNT_ATTR_NOEXEC}, {"nosuid", MOUNT_ATTR_NOSUID},
	{"nosymfollow", MOUNT_ATTR_NOSYMFOLLOW}, {"rdonly", MOUNT_ATTR_RDONLY},
	{NULL, 0}
};

static const ns_name umount_flags[] = {
	{"detach", MNT_DETACH}, {"expire", MNT_EXPIRE}, {"force", MNT_FORCE},
	{"nofollow", UMOUNT_NOFOLLOW},
	{NULL, 0}
};

/* mount(source, target [, fstype [, flags [, data]]]) -> true.
 * source and fstype may be nil (a propagation change takes neither). */
static int ns_mounts_mount(lua_State *L)
{
	const char *source = ns_optstring(L, 1, NULL);
	const char *target = ns_checkstring(L, 2);
	const char *fstype = ns_optstring(L, 3, NULL);
	unsigned long flags = (unsigned long)ns_checkflags(L, 4, mount_flags, "mount flag");
	const char *data = ns_optstring(L, 5, NULL);
	if (mount(source, target, fstype, flags, data) < 0) {
		int err = errno;
		lua_pushfstring(L, "%s on %s", source ? source : (fstype ? fstype : "none"), target);
		return ns_fail_errno(L, err, "mount", lua_tostring(L, -1));
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* umount(target [, flags]) -> true */
static int ns_mounts_umount(lua_State *L)
{
	const char *target = ns_checkstring(L, 1);
	int flags = (int)ns_checkflags(L, 2, umount_flags, "umount flag");
	if (umount2(target, flags) < 0)
		return ns_fail(L, "umount", target);
	lua_pushboolean(L, 1);
	return 1;
}

/* pivot_root(new_root, put_old) -> true. pivot_root(".", ".") stacks the
 * old root on top of the new one, to be unmounted with "detach". */
static int ns_mounts_pivot_root(lua_State *L)
{
	const char *new_root = ns_checkstring(L, 1);
	const char *put_old = ns_checkstring(L, 2);
	if (syscall(SYS_pivot_root, new_root, put_old) < 0) {
		int err = errno;
		lua_pushfstring(L, "%s (old root to %s)", new_root, put_old);
		return ns_fail_errno(L, err, "pivot_root", lua_tostring(L, -1));
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* chroot(path) -> true */
static int ns_mounts_chroot(lua_State *L)
{
	const char *path = ns_checkstring(L, 1);
	if (chroot(path) < 0)
		return ns_fail(L, "chroot", path);
	lua_pushboolean(L, 1);
	return 1;
}

/* chdir(path | dirfd) -> true */
static int ns_mounts_chdir(lua_State *L)
{
	if (ns_tofd(L, 1) || lua_type(L, 1) == LUA_TNUMBER) {
		int fd = ns_checkfd(L, 1);
		if (fchdir(fd) < 0) {
			char arg[24];
			snprintf(arg, sizeof arg, "fd %d", fd);
			return ns_fail(L, "fchdir", arg);
		}
	} else {
		const char *path = ns_checkstring(L, 1);
		if (chdir(path) < 0)
			return ns_fail(L, "chdir", path);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* mount_setattr(target, set [, clear [, "recursive"]]) -> true.
 * target: a path, or an fd (a handle) of the mount itself (AT_EMPTY_PATH).
 * Unlike a remount, attributes not named stay as they are, so a mount's
 * locked flags (inherited from a more privileged namespace) never need
 * restating; "recursive" applies them to every mount below too. */
static int ns_mounts_mount_setattr(lua_State *L)
{
	static const char *const modes[] = {"single", "recursive", NULL};
	int dfd = AT_FDCWD, flags = 0;
	const char *path = "";
	char arg[32];
	if (ns_tofd(L, 1) || lua_type(L, 1) == LUA_TNUMBER) {
		dfd = ns_checkfd(L, 1);
		flags |= AT_EMPTY_PATH;
		snprintf(arg, sizeof arg, "fd %d", dfd);
	} else {
		path = ns_checkstring(L, 1);
	}
	struct mount_attr attr = {0};
	attr.attr_set = (unsigned long long)ns_checkflags(L, 2, mount_attrs, "mount attribute");
	attr.attr_clr = (unsigned long long)ns_checkflags(L, 3, mount_attrs, "mount attribute");
	if (ns_checkoption(L, 4, "single", modes) == 1)
		flags |= AT_RECURSIVE;
	if (syscall(SYS_mount_setattr, dfd, path, flags, &attr, sizeof attr) < 0)
		return ns_fail(L, "mount_setattr", dfd == AT_FDCWD ? path : arg);
	lua_pushboolean(L, 1);
	return 1;
}

/* getcwd() -> path */
static int ns_mounts_getcwd(lua_State *L)
{
	char buf[4096];
	if (!getcwd(buf, sizeof buf))
		return ns_fail(L, "getcwd", NULL);
	lua_pushstring(L, buf);
	return 1;
}

static const luaL_Reg mounts_funcs[] = {
	{"chdir", ns_mounts_chdir},
	{"chroot", ns_mounts_chroot},
	{"getcwd", ns_mounts_getcwd},
	{"mount", ns_mounts_mount},
	{"mount_setattr", ns_mounts_mount_setattr},
	{"pivot_root", ns_mounts_pivot_root},
	{"umount", ns_mounts_umount},
	{NULL, NULL}
};

void ns_open_mounts(lua_State *L)
{
	luaL_setfuncs(L, mounts_funcs, 0);
	ns_setconst(L, "MS", mount_flags);
	ns_setconst(L, "MNT", umount_flags);
}
