/*
 * mounts.c - mount, mount_setattr, umount, pivot_root, chroot, chdir, and
 * the new mount API (fsopen, fsconfig, fsmount, move_mount).
 * See mount(2), mount_setattr(2), umount2(2), pivot_root(2), chroot(2),
 * chdir(2), fsopen(2), fsconfig(2), fsmount(2), move_mount(2),
 * mount_namespaces(7).
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

/* mount_setattr(target, set [, clear [, "recursive" [, {atime, userns}]]])
 * -> true. target: a path, or an fd (a handle) of the mount itself
 * (AT_EMPTY_PATH: open_tree's or fsmount's). Unlike a remount, attributes
 * not named stay as they are, so a mount's locked flags (inherited from a
 * more privileged namespace) never need restating; "recursive" applies
 * them to every mount below too. atime: "relatime", "noatime" or
 * "strictatime"; userns: a user namespace's fd, whose maps the mount then
 * applies to its ids (MOUNT_ATTR_IDMAP, for a detached mount only). */
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
	if (!lua_isnoneornil(L, 5)) {
		static const char *const atimes[] = {"relatime", "noatime", "strictatime", NULL};
		static const unsigned long long atime_attr[] = {MOUNT_ATTR_RELATIME, MOUNT_ATTR_NOATIME,
								MOUNT_ATTR_STRICTATIME};
		luaL_checktype(L, 5, LUA_TTABLE);
		if (lua_getfield(L, 5, "atime") != LUA_TNIL) {
			/* The atime mode is one field: cleared, then set. */
			int a = luaL_checkoption(L, -1, NULL, atimes);
			attr.attr_clr |= MOUNT_ATTR__ATIME;
			attr.attr_set |= atime_attr[a];
		}
		lua_pop(L, 1);
		if (lua_getfield(L, 5, "userns") != LUA_TNIL) {
			/* An idmapped mount: ids mapped through that user namespace. */
			attr.attr_set |= MOUNT_ATTR_IDMAP;
			attr.userns_fd = (unsigned long long)ns_checkfd(L, -1);
		}
		lua_pop(L, 1);
	}
	if (syscall(SYS_mount_setattr, dfd, path, flags, &attr, sizeof attr) < 0)
		return ns_fail(L, "mount_setattr", dfd == AT_FDCWD ? path : arg);
	lua_pushboolean(L, 1);
	return 1;
}

/* fsopen(fstype) -> a filesystem context (handle "fscontext"). */
static int ns_mounts_fsopen(lua_State *L)
{
	const char *fstype = ns_checkstring(L, 1);
	int fd = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fd < 0)
		return ns_fail(L, "fsopen", fstype);
	ns_pushfd(L, fd, "fscontext");
	return 1;
}

/* Append to the message at the top of the stack what the filesystem wrote
 * to the context's log ("e overlay: failed to resolve '/x': -2"): the
 * reason that the errno alone does not give. */
static void append_fslog(lua_State *L, int fd)
{
	char buf[512];
	for (int i = 0; i < 8; i++) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		if (n <= 0)
			break;
		while (n > 0 && buf[n - 1] == '\n')
			n--;
		buf[n] = '\0';
		/* "e " errors, "w " warnings, "i " notes. */
		if (n > 2 && buf[1] == ' ' && buf[0] != 'i') {
			lua_pushfstring(L, "; %s", buf + 2);
			lua_concat(L, 2);
		}
	}
}

/* fsconfig(ctx, cmd [, key [, value]]) -> true. cmd: "flag" (key),
 * "string" (key, value), "path" (key, a path), "fd" (key, an fd),
 * "create", "reconfigure". A failure's message carries the kernel's own
 * words for it from the context's log. */
static int ns_mounts_fsconfig(lua_State *L)
{
	static const char *const cmds[] = {"flag", "string", "path", "fd", "create", "reconfigure", NULL};
	static const unsigned codes[] = {FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSCONFIG_SET_PATH,
	                                 FSCONFIG_SET_FD, FSCONFIG_CMD_CREATE, FSCONFIG_CMD_RECONFIGURE};
	int ctx = ns_checkfd(L, 1);
	int c = ns_checkoption(L, 2, NULL, cmds);
	const char *key = NULL, *value = NULL;
	int aux = 0;
	if (c <= 3)
		key = ns_checkstring(L, 3);
	if (c == 1 || c == 2)
		value = ns_checkstring(L, 4);
	if (c == 2)
		aux = AT_FDCWD;
	if (c == 3)
		aux = ns_checkfd(L, 4);
	if (syscall(SYS_fsconfig, ctx, codes[c], key, value, aux) < 0) {
		int err = errno;
		if (key && value)
			lua_pushfstring(L, "%s %s", key, value);
		else
			lua_pushstring(L, key ? key : cmds[c]);
		int n = ns_fail_errno(L, err, "fsconfig", lua_tostring(L, -1));
		lua_pushvalue(L, -2);
		append_fslog(L, ctx);
		lua_replace(L, -3);
		return n;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* fsmount(ctx [, attrs]) -> a detached mount (handle "mount"). attrs: names
 * of rdonly nosuid nodev noexec nodiratime nosymfollow. */
static int ns_mounts_fsmount(lua_State *L)
{
	int ctx = ns_checkfd(L, 1);
	unsigned attrs = (unsigned)ns_checkflags(L, 2, mount_attrs, "mount attribute");
	int fd = (int)syscall(SYS_fsmount, ctx, FSMOUNT_CLOEXEC, attrs);
	if (fd < 0) {
		int n = ns_fail(L, "fsmount", NULL);
		lua_pushvalue(L, -2);
		append_fslog(L, ctx);
		lua_replace(L, -3);
		return n;
	}
	ns_pushfd(L, fd, "mount");
	return 1;
}

/* move_mount(mnt, target) -> true: attach a detached mount (fsmount's, or
 * a handle of a mount) on the path target. */
static int ns_mounts_move_mount(lua_State *L)
{
	int mfd = ns_checkfd(L, 1);
	const char *target = ns_checkstring(L, 2);
	/* T_SYMLINKS: a target such as /proc/self/fd/N (a handle resolved in
	 * the container's root) is followed, as mount(2) follows it. */
	if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) < 0)
		return ns_fail(L, "move_mount", target);
	lua_pushboolean(L, 1);
	return 1;
}

/* open_tree(path [, "recursive"]) -> a detached copy of the mount at path
 * (handle "mount", for mount_setattr and move_mount): OPEN_TREE_CLONE,
 * with its submounts when recursive. open_tree(2) */
static int ns_mounts_open_tree(lua_State *L)
{
	static const char *const modes[] = {"single", "recursive", NULL};
	const char *path = ns_checkstring(L, 1);
	unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
	if (ns_checkoption(L, 2, "single", modes) == 1)
		flags |= AT_RECURSIVE;
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, flags);
	if (fd < 0)
		return ns_fail(L, "open_tree", path);
	ns_pushfd(L, fd, "mount");
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
	{"fsconfig", ns_mounts_fsconfig},
	{"fsmount", ns_mounts_fsmount},
	{"fsopen", ns_mounts_fsopen},
	{"getcwd", ns_mounts_getcwd},
	{"mount", ns_mounts_mount},
	{"mount_setattr", ns_mounts_mount_setattr},
	{"open_tree", ns_mounts_open_tree},
	{"move_mount", ns_mounts_move_mount},
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
