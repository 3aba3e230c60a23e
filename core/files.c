/*
 * files.c - the small file primitives that cgroup, /proc and rootfs work goes
 * through: read or write a whole file in one call, open, mkdir -p, rmdir,
 * unlink, stat and listdir (each relative to a directory fd when given one),
 * symlink, readlink, rename, chmod, chown, mkdtemp, mknod; openat2 for
 * confined path resolution and flock for advisory locks.
 * See open(2), openat(2), openat2(2), read(2), write(2), mkdir(2),
 * unlinkat(2), stat(2), mknod(2), flock(2).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "ns.h"

static const ns_name open_flags[] = {
	{"rdonly", O_RDONLY}, {"wronly", O_WRONLY}, {"rdwr", O_RDWR},
	{"append", O_APPEND}, {"creat", O_CREAT}, {"directory", O_DIRECTORY},
	{"excl", O_EXCL}, {"noctty", O_NOCTTY}, {"nofollow", O_NOFOLLOW},
	{"nonblock", O_NONBLOCK}, {"path", O_PATH}, {"sync", O_SYNC},
	{"trunc", O_TRUNC},
	{NULL, 0}
};


static const ns_name resolve_flags[] = {
	{"beneath", RESOLVE_BENEATH}, {"in_root", RESOLVE_IN_ROOT},
	{"no_magiclinks", RESOLVE_NO_MAGICLINKS}, {"no_symlinks", RESOLVE_NO_SYMLINKS},
	{"no_xdev", RESOLVE_NO_XDEV}, {"cached", RESOLVE_CACHED},
	{NULL, 0}
};

static const ns_name flock_ops[] = {
	{"ex", LOCK_EX}, {"sh", LOCK_SH}, {"un", LOCK_UN}, {"nb", LOCK_NB},
	{NULL, 0}
};

/* Arguments of the (dirfd, name, ...) or (path, ...) forms: returns the
 * dirfd (AT_FDCWD without one) and sets *next to the first argument after
 * the path. */
static int at_args(lua_State *L, const char **path, int *next)
{
	/* A leading handle or fd number is the dirfd (a path is a string:
	 * taking 3 as the path "3" would act on the wrong file and ignore the
	 * path that follows). */
	if (ns_tofd(L, 1) || lua_type(L, 1) == LUA_TNUMBER) {
		int dfd = ns_checkfd(L, 1);
		*path = ns_checkstring(L, 2);
		*next = 3;
		return dfd;
	}
	*path = ns_checkstring(L, 1);
	*next = 2;
	return AT_FDCWD;
}

/* A mode is a number or an octal string ("0755"): Lua has no octal
 * literals, and 0755 in Lua is the decimal 755. */
static mode_t check_mode(lua_State *L, int idx, lua_Integer def)
{
	lua_Integer m;
	if (lua_type(L, idx) == LUA_TSTRING) {
		char *end;
		const char *s = ns_checkstring(L, idx);
		m = (lua_Integer)strtol(s, &end, 8);
		luaL_argcheck(L, *s && *end == '\0', idx, "mode string must be octal digits");
	} else {
		m = luaL_optinteger(L, idx, def);
	}
	luaL_argcheck(L, m >= 0 && m <= 07777, idx, "mode out of range (0 to 07777)");
	return (mode_t)m;
}

/* open([dirfd,] path [, flags [, mode]]) -> ns.fd; O_CLOEXEC always. */
static int ns_files_open(lua_State *L)
{
	const char *path;
	int next, dfd = at_args(L, &path, &next);
	int flags = (int)ns_checkflags(L, next, open_flags, "open flag");
	mode_t mode = check_mode(L, next + 1, 0644);
	/* The handle first, so that no allocation failure can strand the fd. */
	ns_fd *h = ns_pushfd(L, -1, (flags & O_DIRECTORY) ? "dir" : "fd");
	int fd = openat(dfd, path, flags | O_CLOEXEC, mode);
	if (fd < 0)
		return ns_fail(L, "open", path);
	h->fd = fd;
	return 1;
}

/* openat2(dirfd, path [, flags [, resolve [, mode]]]) -> ns.fd: "path" for
 * O_PATH, "dir" for O_DIRECTORY, else "fd"; O_CLOEXEC always. flags are
 * open()'s; resolve is RESOLVE_* by name. mode is for creat (and O_TMPFILE)
 * only: openat2 rejects a mode with any other flags (EINVAL), so one given
 * without them raises here. */
static int ns_files_openat2(lua_State *L)
{
	int dfd = ns_checkfd(L, 1);
	const char *path = ns_checkstring(L, 2);
	long long flags = ns_checkflags(L, 3, open_flags, "open flag");
	long long resolve = ns_checkflags(L, 4, resolve_flags, "resolve flag");
	luaL_argcheck(L, flags >= 0, 3, "flags out of range");
	luaL_argcheck(L, resolve >= 0, 4, "resolve flags out of range");
	int creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	mode_t mode = 0;
	if (creates)
		mode = check_mode(L, 5, 0644);
	else
		luaL_argcheck(L, lua_isnoneornil(L, 5), 5, "mode needs the creat flag");
	const char *kind = (flags & O_PATH) ? "path" : (flags & O_DIRECTORY) ? "dir" : "fd";
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)flags | O_CLOEXEC;
	how.mode = mode;
	how.resolve = (unsigned long long)resolve;
	ns_fd *h = ns_pushfd(L, -1, kind);
	int fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof how);
	if (fd < 0)
		return ns_fail(L, "openat2", path);
	h->fd = fd;
	return 1;
}

/* readfile([dirfd,] path) -> the whole content as a string. */
static int ns_files_readfile(lua_State *L)
{
	const char *path;
	int next, dfd = at_args(L, &path, &next);
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ns_fail(L, "open", path);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (;;) {
		char *p = luaL_prepbuffer(&b);
		ssize_t r = read(fd, p, LUAL_BUFFERSIZE);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			close(fd);
			return ns_fail_errno(L, err, "read", path);
		}
		if (r == 0)
			break;
		luaL_addsize(&b, (size_t)r);
	}
	close(fd);
	luaL_pushresult(&b);
	return 1;
}

/* writefile([dirfd,] path, data [, opts]) -> true. The data goes out in one
 * write(2), which cgroup and /proc files need (they parse each write whole),
 * and replaces the file's content (O_TRUNC, as the shell's > does; cgroup
 * and /proc files ignore it) unless appended. opts: create (O_CREAT), mode
 * (with create), append (O_APPEND, no truncation). */
static int ns_files_writefile(lua_State *L)
{
	static const char *const keys[] = {"append", "create", "mode", NULL};
	const char *path;
	size_t len;
	int next, dfd = at_args(L, &path, &next);
	const char *data = luaL_checklstring(L, next, &len);
	int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
	mode_t mode = 0644;
	ns_checkopts(L, next + 1, keys);
	if (lua_istable(L, next + 1)) {
		if (lua_getfield(L, next + 1, "create") != LUA_TNIL && lua_toboolean(L, -1))
			flags |= O_CREAT;
		if (lua_getfield(L, next + 1, "append") != LUA_TNIL && lua_toboolean(L, -1))
			flags |= O_APPEND;
		if (lua_getfield(L, next + 1, "mode") != LUA_TNIL)
			mode = check_mode(L, lua_absindex(L, -1), 0644);
		lua_pop(L, 3);
	}
	if (!(flags & O_APPEND))
		flags |= O_TRUNC;
	int fd = openat(dfd, path, flags, mode);
	if (fd < 0)
		return ns_fail(L, "open", path);
	size_t done = 0;
	do {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			close(fd);
			return ns_fail_errno(L, err, "write", path);
		}
		done += (size_t)w;
	} while (done < len);
	if (close(fd) < 0 && errno != EINTR)
		return ns_fail(L, "close", path);
	lua_pushboolean(L, 1);
	return 1;
}

/* mkdir(path [, mode [, parents]]) -> true. With parents, missing parents
 * are made too and an existing directory is not an error (mkdir -p).
 * mkdir(dirfd, path [, mode]) -> true: mkdirat, without parents. */
static int ns_files_mkdir(lua_State *L)
{
	if (ns_tofd(L, 1) || lua_type(L, 1) == LUA_TNUMBER) {
		int dfd = ns_checkfd(L, 1);
		const char *name = ns_checkstring(L, 2);
		mode_t dmode = check_mode(L, 3, 0755);
		luaL_argcheck(L, lua_isnoneornil(L, 4), 4, "parents is not taken with a dirfd");
		if (mkdirat(dfd, name, dmode) < 0)
			return ns_fail(L, "mkdir", name);
		lua_pushboolean(L, 1);
		return 1;
	}
	const char *path = ns_checkstring(L, 1);
	mode_t mode = check_mode(L, 2, 0755);
	int parents = lua_toboolean(L, 3);
	if (!parents) {
		if (mkdir(path, mode) < 0)
			return ns_fail(L, "mkdir", path);
		lua_pushboolean(L, 1);
		return 1;
	}
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return ns_fail_errno(L, n ? ENAMETOOLONG : ENOENT, "mkdir", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return ns_fail(L, "mkdir", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return ns_fail(L, "mkdir", path);
	if (!S_ISDIR(st.st_mode))
		return ns_fail_errno(L, ENOTDIR, "mkdir", path);
	lua_pushboolean(L, 1);
	return 1;
}

/* Both removals are unlinkat(2): from dirfd when given one, else from the
 * working directory, which is what unlink(2) and rmdir(2) do. */
static int remove_at(lua_State *L, const char *call, int flags)
{
	const char *path;
	int next, dfd = at_args(L, &path, &next);
	if (unlinkat(dfd, path, flags) < 0)
		return ns_fail(L, call, path);
	lua_pushboolean(L, 1);
	return 1;
}

/* rmdir([dirfd,] path) -> true */
static int ns_files_rmdir(lua_State *L)
{
	return remove_at(L, "rmdir", AT_REMOVEDIR);
}

/* unlink([dirfd,] path) -> true; a symlink goes, not what it names. */
static int ns_files_unlink(lua_State *L)
{
	return remove_at(L, "unlink", 0);
}

/* symlink(target, linkpath) -> true */
static int ns_files_symlink(lua_State *L)
{
	const char *target = ns_checkstring(L, 1);
	const char *link = ns_checkstring(L, 2);
	if (symlink(target, link) < 0)
		return ns_fail(L, "symlink", link);
	lua_pushboolean(L, 1);
	return 1;
}

/* link(existing, new) -> true: a hard link; a last symlink of existing is
 * not followed. link(2) */
static int ns_files_link(lua_State *L)
{
	const char *from = ns_checkstring(L, 1);
	const char *to = ns_checkstring(L, 2);
	if (link(from, to) < 0)
		return ns_fail(L, "link", to);
	lua_pushboolean(L, 1);
	return 1;
}

/* readlink(path) -> the link's target */
static int ns_files_readlink(lua_State *L)
{
	const char *path = ns_checkstring(L, 1);
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof buf);
	if (n < 0)
		return ns_fail(L, "readlink", path);
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

/* rename(from, to) -> true */
static int ns_files_rename(lua_State *L)
{
	const char *from = ns_checkstring(L, 1);
	const char *to = ns_checkstring(L, 2);
	if (rename(from, to) < 0)
		return ns_fail(L, "rename", from);
	lua_pushboolean(L, 1);
	return 1;
}

/* chmod(path, mode) -> true */
static int ns_files_chmod(lua_State *L)
{
	const char *path = ns_checkstring(L, 1);
	luaL_checkany(L, 2);
	mode_t mode = check_mode(L, 2, 0);
	if (chmod(path, mode) < 0)
		return ns_fail(L, "chmod", path);
	lua_pushboolean(L, 1);
	return 1;
}

/* chown(path, uid, gid) -> true; -1 leaves that id; does not follow a
 * final symlink (lchown), which is what rootfs and id-map work wants. */
static int ns_files_chown(lua_State *L)
{
	const char *path = ns_checkstring(L, 1);
	lua_Integer uid = luaL_checkinteger(L, 2), gid = luaL_checkinteger(L, 3);
	luaL_argcheck(L, uid >= -1 && uid <= 0xffffffffLL, 2, "uid out of range");
	luaL_argcheck(L, gid >= -1 && gid <= 0xffffffffLL, 3, "gid out of range");
	if (lchown(path, (uid_t)uid, (gid_t)gid) < 0)
		return ns_fail(L, "chown", path);
	lua_pushboolean(L, 1);
	return 1;
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "link";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	default: return "unknown";
	}
}

#define SETINT(k, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, k))

/* stat([dirfd,] path [, "nofollow"]) -> {type, mode, ino, dev, rdev, rdev_major,
 * rdev_minor, uid, gid, size, nlink, mtime}; type is file, dir, link, chr,
 * blk, fifo, sock. */
static int ns_files_stat(lua_State *L)
{
	static const char *const opts[] = {"follow", "nofollow", NULL};
	const char *path;
	int next, dfd = at_args(L, &path, &next);
	int nofollow = ns_checkoption(L, next, "follow", opts);
	struct stat st;
	if (fstatat(dfd, path, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) < 0)
		return ns_fail(L, "stat", path);
	lua_createtable(L, 0, 12);
	lua_pushstring(L, type_name(st.st_mode));
	lua_setfield(L, -2, "type");
	SETINT("mode", st.st_mode & 07777);
	SETINT("ino", st.st_ino);
	SETINT("dev", st.st_dev);
	SETINT("rdev", st.st_rdev);
	SETINT("rdev_major", major(st.st_rdev));
	SETINT("rdev_minor", minor(st.st_rdev));
	SETINT("uid", st.st_uid);
	SETINT("gid", st.st_gid);
	SETINT("size", st.st_size);
	SETINT("nlink", st.st_nlink);
	SETINT("mtime", st.st_mtime);
	return 1;
}

/* listdir([dirfd,] path) -> sorted-by-the-kernel list of names, without . and .. */
static int ns_files_listdir(lua_State *L)
{
	const char *path;
	int next, dfd = at_args(L, &path, &next);
	int fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ns_fail(L, "opendir", path);
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = errno;
		close(fd);
		return ns_fail_errno(L, err, "opendir", path);
	}
	lua_newtable(L);
	lua_Integer i = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		lua_pushstring(L, e->d_name);
		lua_rawseti(L, -2, ++i);
		errno = 0;
	}
	int err = errno;
	closedir(d);
	if (err)
		return ns_fail_errno(L, err, "readdir", path);
	return 1;
}

/* mkdtemp(template) -> the new directory's path (template ends in XXXXXX) */
static int ns_files_mkdtemp(lua_State *L)
{
	size_t n;
	const char *tmpl = luaL_checklstring(L, 1, &n);
	luaL_argcheck(L, n >= 6 && strcmp(tmpl + n - 6, "XXXXXX") == 0, 1, "template must end in XXXXXX");
	char buf[PATH_MAX];
	luaL_argcheck(L, n < sizeof buf, 1, "template too long");
	memcpy(buf, tmpl, n + 1);
	if (!mkdtemp(buf))
		return ns_fail(L, "mkdtemp", tmpl);
	lua_pushstring(L, buf);
	return 1;
}

/* mknod(path, type, mode, major, minor) -> true; type "chr", "blk" or "fifo". */
static int ns_files_mknod(lua_State *L)
{
	static const char *const types[] = {"chr", "blk", "fifo", NULL};
	static const mode_t fmt[] = {S_IFCHR, S_IFBLK, S_IFIFO};
	const char *path = ns_checkstring(L, 1);
	int t = ns_checkoption(L, 2, NULL, types);
	mode_t mode = check_mode(L, 3, 0666);
	lua_Integer maj = luaL_optinteger(L, 4, 0), min = luaL_optinteger(L, 5, 0);
	luaL_argcheck(L, maj >= 0 && maj < (1 << 12), 4, "major out of range");
	luaL_argcheck(L, min >= 0 && min < (1 << 20), 5, "minor out of range");
	if (mknod(path, fmt[t] | mode, makedev((unsigned)maj, (unsigned)min)) < 0)
		return ns_fail(L, "mknod", path);
	lua_pushboolean(L, 1);
	return 1;
}

/* flock(fd, how) -> true. how: ex, sh or un, with nb to fail at once
 * (EWOULDBLOCK, which is EAGAIN) rather than wait for the lock. */
static int ns_files_flock(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	luaL_checkany(L, 2);
	long long how = ns_checkflags(L, 2, flock_ops, "flock operation");
	long long op = how & ~(long long)LOCK_NB;
	luaL_argcheck(L, op == LOCK_EX || op == LOCK_SH || op == LOCK_UN, 2,
	              "needs exactly one of ex, sh, un (nb may be added)");
	int r;
	do
		r = flock(fd, (int)how);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int err = errno;
		char arg[24];
		snprintf(arg, sizeof arg, "fd %d", fd);
		return ns_fail_errno(L, err, "flock", arg);
	}
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg files_funcs[] = {
	{"chmod", ns_files_chmod},
	{"chown", ns_files_chown},
	{"flock", ns_files_flock},
	{"link", ns_files_link},
	{"listdir", ns_files_listdir},
	{"mkdir", ns_files_mkdir},
	{"mkdtemp", ns_files_mkdtemp},
	{"mknod", ns_files_mknod},
	{"open", ns_files_open},
	{"openat2", ns_files_openat2},
	{"readfile", ns_files_readfile},
	{"readlink", ns_files_readlink},
	{"rename", ns_files_rename},
	{"rmdir", ns_files_rmdir},
	{"stat", ns_files_stat},
	{"symlink", ns_files_symlink},
	{"unlink", ns_files_unlink},
	{"writefile", ns_files_writefile},
	{NULL, NULL}
};

void ns_open_files(lua_State *L)
{
	luaL_setfuncs(L, files_funcs, 0);
	ns_setconst(L, "O", open_flags);
	ns_setconst(L, "RESOLVE", resolve_flags);
	ns_setconst(L, "LOCK", flock_ops);
}
