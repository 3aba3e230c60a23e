/*
 * fd.c - the fd handle (ns.fd: read, write, close, closed by __gc and
 * __close), the fd table (dup, dup2, close_range) and the fd of a Lua io
 * file (fileno). See close(2), read(2), write(2), dup(2), fcntl(2),
 * close_range(2), fileno(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "ns.h"

ns_fd *ns_tofd(lua_State *L, int idx)
{
	return luaL_testudata(L, idx, NS_FD_MT);
}

int ns_checkfd(lua_State *L, int idx)
{
	ns_fd *h = ns_tofd(L, idx);
	if (h) {
		luaL_argcheck(L, h->fd >= 0, idx, "attempt to use a closed fd");
		return h->fd;
	}
	if (lua_type(L, idx) != LUA_TNUMBER)
		luaL_typeerror(L, idx, "fd");
	lua_Integer fd = luaL_checkinteger(L, idx);
	luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, idx, "fd out of range");
	return (int)fd;
}

int ns_popfd(lua_State *L, int arg, const char *what)
{
	ns_fd *h = ns_tofd(L, -1);
	lua_Integer v = -1;
	if (h) {
		if (h->fd < 0)
			luaL_argerror(L, arg, lua_pushfstring(L, "%s is a closed fd", what));
		v = h->fd;
	} else if (lua_type(L, -1) == LUA_TNUMBER) {
		int isint;
		v = lua_tointegerx(L, -1, &isint);
		if (!isint)
			v = -1;
	}
	if (v < 0 || v > INT_MAX)
		luaL_argerror(L, arg, lua_pushfstring(L, "%s: fd expected, got %s", what, luaL_typename(L, -1)));
	lua_pop(L, 1);
	return (int)v;
}

int ns_spawn_active;

static int self_pid(void)
{
	return (int)syscall(SYS_getpid);
}

ns_fd *ns_pushfd(lua_State *L, int fd, const char *kind)
{
	ns_fd *h = lua_newuserdatauv(L, sizeof *h, 0);
	h->fd = fd;
	h->owner = self_pid();
	h->spawned = ns_spawn_active;
	h->kind = kind;
	luaL_setmetatable(L, NS_FD_MT);
	return h;
}

/* Idempotent: __close and :close() land here. In ns.spawn's child, a
 * handle of luactr's is closed in the child's fd table only: marked
 * closed, it would read as closed to luactr too, whose fd stays open. */
static int fd_close(lua_State *L)
{
	ns_fd *h = luaL_checkudata(L, 1, NS_FD_MT);
	if (h->fd < 0)
		return lua_pushboolean(L, 1), 1;
	int fd = h->fd;
	if (!ns_spawn_active || h->owner == self_pid())
		h->fd = -1;
	/* close(2): the fd is gone even when close reports EINTR. */
	if (close(fd) < 0 && errno != EINTR)
		return ns_fail(L, "close", h->kind);
	lua_pushboolean(L, 1);
	return 1;
}

static int fd_gc(lua_State *L)
{
	ns_fd *h = luaL_checkudata(L, 1, NS_FD_MT);
	/* What ns.spawn's child opened is luactr's garbage once the child has
	 * gone, and its number names some fd of luactr's own: leave it. */
	if (h->fd >= 0 && (!h->spawned || h->owner == self_pid())) {
		close(h->fd);
		h->fd = -1;
	}
	return 0;
}

static int fd_tostring(lua_State *L)
{
	ns_fd *h = luaL_checkudata(L, 1, NS_FD_MT);
	if (h->fd < 0)
		lua_pushfstring(L, "%s (closed)", h->kind);
	else
		lua_pushfstring(L, "%s (fd %d)", h->kind, h->fd);
	return 1;
}

/* The label of the handle at idx for messages: its kind, or "fd" for a
 * plain number (the methods take either). */
static const char *fd_label(lua_State *L, int idx)
{
	ns_fd *h = ns_tofd(L, idx);
	return h ? h->kind : "fd";
}

/* fd:read([n]) -> up to n bytes (default 4096), "" at end of file. */
static int fd_read(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	lua_Integer n = luaL_optinteger(L, 2, 4096);
	luaL_argcheck(L, n > 0 && n <= (1 << 24), 2, "size out of range");
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, (size_t)n);
	ssize_t r;
	do
		r = read(fd, p, (size_t)n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return ns_fail(L, "read", fd_label(L, 1));
	luaL_pushresultsize(&b, (size_t)r);
	return 1;
}

/* fd:write(s) -> bytes written (all of s, unless the call fails). */
/* h:write(s) -> bytes written (all of s). On a socket it is a send with
 * MSG_NOSIGNAL: a peer that has gone gives EPIPE, never SIGPIPE, so a
 * supervisor does not die of its container's death. */
static int fd_write(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	size_t len, done = 0;
	const char *s = luaL_checklstring(L, 2, &len);
	ns_fd *h = ns_tofd(L, 1);
	int sock = h && h->kind && strcmp(h->kind, "socket") == 0;
	while (done < len) {
		ssize_t w = sock ? send(fd, s + done, len - done, MSG_NOSIGNAL) : write(fd, s + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ns_fail(L, "write", fd_label(L, 1));
		}
		done += (size_t)w;
	}
	lua_pushinteger(L, (lua_Integer)done);
	return 1;
}

static int fd_fileno(lua_State *L)
{
	ns_fd *h = luaL_checkudata(L, 1, NS_FD_MT);
	if (h->fd < 0)
		return lua_pushnil(L), 1;
	lua_pushinteger(L, h->fd);
	return 1;
}

static int fd_kind(lua_State *L)
{
	ns_fd *h = luaL_checkudata(L, 1, NS_FD_MT);
	lua_pushstring(L, h->kind);
	return 1;
}

static const luaL_Reg fd_methods[] = {
	{"close", fd_close},
	{"fileno", fd_fileno},
	{"kind", fd_kind},
	{"read", fd_read},
	{"write", fd_write},
	{NULL, NULL}
};

static const luaL_Reg fd_meta[] = {
	{"__close", fd_close},
	{"__gc", fd_gc},
	{"__tostring", fd_tostring},
	{NULL, NULL}
};

/* ns.fd(n [, kind]) -> a handle that owns fd n (closes it when collected). */
static int ns_fd_fd(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	/* kind must outlive the handle: keep only the static labels. */
	static const char *const kinds[] = {"fd", "pidfd", "nsfd", "dir", "pipe", "socket", "pty", "signalfd", NULL};
	int k = ns_checkoption(L, 2, "fd", kinds);
	ns_pushfd(L, fd, kinds[k]);
	return 1;
}

/* dup(fd [, min]) -> a new handle owning a close-on-exec duplicate of fd,
 * numbered min (default 0) or above; its kind is the source handle's, or
 * "fd" for a plain number. */
static int ns_fd_dup(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	lua_Integer min = luaL_optinteger(L, 2, 0);
	luaL_argcheck(L, min >= 0 && min <= INT_MAX, 2, "min out of range");
	ns_fd *src = ns_tofd(L, 1);
	/* kind labels are static strings: the new handle may share one. */
	ns_fd *h = ns_pushfd(L, -1, src ? src->kind : "fd");
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)min);
	if (nfd < 0) {
		int err = errno;
		char arg[24];
		snprintf(arg, sizeof arg, "fd %d", fd);
		return ns_fail_errno(L, err, "dup", arg);
	}
	h->fd = nfd;
	return 1;
}

/* dup2(oldfd, newfd) -> true. newfd is not close-on-exec: this is how stdio
 * is redirected before exec. */
static int ns_fd_dup2(lua_State *L)
{
	int oldfd = ns_checkfd(L, 1);
	int newfd = ns_checkfd(L, 2);
	int r;
	do
		r = dup2(oldfd, newfd);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		char arg[48];
		snprintf(arg, sizeof arg, "fd %d to fd %d", oldfd, newfd);
		return ns_fail(L, "dup2", arg);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* fileno(f) -> the fd number of f: an fd handle, a Lua io file
 * (io.stdout, io.open(...), io.popen(...)) or a number. The number is
 * borrowed: f still owns it and closes it when collected. */
static int ns_fd_fileno(lua_State *L)
{
	luaL_Stream *s = luaL_testudata(L, 1, LUA_FILEHANDLE);
	if (s) {
		/* io marks a closed file by its closef, as io.type does. */
		luaL_argcheck(L, s->closef != NULL, 1, "attempt to use a closed file");
		lua_pushinteger(L, fileno(s->f));
		return 1;
	}
	if (!ns_tofd(L, 1) && lua_type(L, 1) != LUA_TNUMBER)
		luaL_typeerror(L, 1, "fd handle, io file or fd number");
	lua_pushinteger(L, ns_checkfd(L, 1));
	return 1;
}

static const ns_name close_range_flags[] = {
	{"cloexec", CLOSE_RANGE_CLOEXEC}, {"unshare", CLOSE_RANGE_UNSHARE},
	{NULL, 0}
};

/* close_range(first [, last [, flags]]) -> true. last defaults to the
 * highest fd (~0U); any number at or above 2^32 - 1 (math.maxinteger,
 * math.huge) means the same. flags: cloexec (mark instead of close),
 * unshare (unshare the fd table first). Handles over the closed fds keep
 * their numbers: close them or let them go before reusing the range. */
static int ns_fd_close_range(lua_State *L)
{
	lua_Integer first = luaL_checkinteger(L, 1);
	luaL_argcheck(L, first >= 0 && first <= (lua_Integer)UINT_MAX, 1, "first out of range");
	unsigned int last = ~0U;
	if (!lua_isnoneornil(L, 2) && !(lua_type(L, 2) == LUA_TNUMBER && lua_tonumber(L, 2) == HUGE_VAL)) {
		lua_Integer l = luaL_checkinteger(L, 2);
		luaL_argcheck(L, l >= first, 2, "last is below first");
		if (l < (lua_Integer)UINT_MAX)
			last = (unsigned int)l;
	}
	long long flags = ns_checkflags(L, 3, close_range_flags, "close_range flag");
	luaL_argcheck(L, flags >= 0 && flags <= UINT_MAX, 3, "flags out of range");
	if (syscall(SYS_close_range, (unsigned int)first, last, (unsigned int)flags) < 0) {
		int err = errno;
		char arg[48];
		snprintf(arg, sizeof arg, "%u to %u", (unsigned int)first, last);
		return ns_fail_errno(L, err, "close_range", arg);
	}
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg fd_funcs[] = {
	{"close_range", ns_fd_close_range},
	{"dup", ns_fd_dup},
	{"dup2", ns_fd_dup2},
	{"fd", ns_fd_fd},
	{"fileno", ns_fd_fileno},
	{NULL, NULL}
};

void ns_open_fd(lua_State *L)
{
	if (luaL_newmetatable(L, NS_FD_MT)) {
		luaL_setfuncs(L, fd_meta, 0);
		luaL_newlib(L, fd_methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	luaL_setfuncs(L, fd_funcs, 0);
}
