/*
 * io.c - channels between processes: pipes, socketpairs, and passing an fd
 * over an AF_UNIX socket (SCM_RIGHTS), which lets a container's child open
 * its terminal inside its own devpts and hand the master side to luactr.
 * Named sockets too (unix_listen, unix_connect, accept), for a peer that
 * hands luactr an fd by a path: a console socket, a monitor's.
 * See pipe2(2), socketpair(2), unix(7), sendmsg(2), recvmsg(2), cmsg(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ns.h"

/* pipe() -> read end, write end (close-on-exec) */
static int ns_io_pipe(lua_State *L)
{
	ns_fd *r = ns_pushfd(L, -1, "pipe");
	ns_fd *w = ns_pushfd(L, -1, "pipe");
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return ns_fail(L, "pipe", NULL);
	r->fd = fds[0];
	w->fd = fds[1];
	return 2;
}

/* socketpair() -> two connected AF_UNIX stream sockets (close-on-exec) */
static int ns_io_socketpair(lua_State *L)
{
	ns_fd *a = ns_pushfd(L, -1, "socket");
	ns_fd *b = ns_pushfd(L, -1, "socket");
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return ns_fail(L, "socketpair", NULL);
	a->fd = fds[0];
	b->fd = fds[1];
	return 2;
}

/* sendfd(sock, fd [, data]) -> true: sends data (at least one byte, "F" by
 * default) with fd attached. */
static int ns_io_sendfd(lua_State *L)
{
	int sock = ns_checkfd(L, 1);
	int fd = ns_checkfd(L, 2);
	size_t len;
	const char *data = luaL_optlstring(L, 3, "F", &len);
	luaL_argcheck(L, len > 0, 3, "data must not be empty");
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = {(void *)data, len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	ssize_t r;
	do
		r = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		char arg[24];
		snprintf(arg, sizeof arg, "fd %d", fd);
		return ns_fail(L, "sendmsg", arg);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* recvfd(sock [, n]) -> data (up to n bytes, "" at end of file), and the fd
 * that came with it as a handle (kind "fd"), or nil when none did. */
static int ns_io_recvfd(lua_State *L)
{
	int sock = ns_checkfd(L, 1);
	lua_Integer n = luaL_optinteger(L, 2, 4096);
	luaL_argcheck(L, n > 0 && n <= (1 << 20), 2, "size out of range");
	ns_fd *h = ns_pushfd(L, -1, "fd");
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, (size_t)n);
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;
	struct iovec iov = {p, (size_t)n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	ssize_t r;
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return ns_fail(L, "recvmsg", NULL);
	int got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			/* Keep the first; more than one was not asked for. */
			if (!got) {
				h->fd = fd;
				got = 1;
			} else {
				close(fd);
			}
		}
	}
	luaL_pushresultsize(&b, (size_t)r);
	if (got)
		lua_pushvalue(L, -2);
	else
		lua_pushnil(L);
	return 2;
}

/* Fill sa with path's address. A path longer than sun_path holds is
 * reached through its directory: "/proc/self/fd/N/<name>", N an O_PATH fd
 * of the directory, which *dirfd gets (-1 when none was needed). */
static int unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	*dirfd = -1;
	size_t n = strlen(path);
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	if (n < sizeof sa->sun_path) {
		memcpy(sa->sun_path, path, n);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	if (!slash || strlen(slash + 1) + 32 >= sizeof sa->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char dir[4096];
	size_t dn = slash == path ? 1 : (size_t)(slash - path);
	if (dn >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, dn);
	dir[dn] = 0;
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return -1;
	snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", *dirfd, slash + 1);
	return 0;
}

/* A close-on-exec AF_UNIX stream socket bound (listen) or connected to
 * path; -1 with errno set and *call the call that failed. */
static int unix_socket(const char *path, int listen_backlog, const char **call)
{
	struct sockaddr_un sa;
	int dirfd;
	*call = listen_backlog >= 0 ? "bind" : "connect";
	if (unix_addr(path, &sa, &dirfd) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = -1;
	if (fd < 0) {
		*call = "socket";
	} else if (listen_backlog >= 0) {
		rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	} else {
		while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof sa)) < 0 && errno == EINTR)
			;
	}
	int err = errno;
	if (dirfd >= 0)
		close(dirfd);
	if (fd >= 0 && rc == 0 && listen_backlog >= 0 && listen(fd, listen_backlog) < 0) {
		err = errno;
		*call = "listen";
		rc = -1;
	}
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* unix_listen(path [, backlog]) -> a listening AF_UNIX stream socket bound
 * at path (close-on-exec; the file is made with the umask's mode, and is
 * the caller's to remove). unix(7), bind(2), listen(2) */
static int ns_io_unix_listen(lua_State *L)
{
	const char *path = ns_checkstring(L, 1);
	int backlog = (int)luaL_optinteger(L, 2, 16);
	luaL_argcheck(L, backlog >= 0, 2, "backlog must not be negative");
	ns_fd *h = ns_pushfd(L, -1, "socket");
	const char *call;
	int fd = unix_socket(path, backlog, &call);
	if (fd < 0)
		return ns_fail(L, call, path);
	h->fd = fd;
	return 1;
}

/* unix_connect(path) -> an AF_UNIX stream socket connected to path
 * (close-on-exec). connect(2) */
static int ns_io_unix_connect(lua_State *L)
{
	const char *path = ns_checkstring(L, 1);
	ns_fd *h = ns_pushfd(L, -1, "socket");
	const char *call;
	int fd = unix_socket(path, -1, &call);
	if (fd < 0)
		return ns_fail(L, call, path);
	h->fd = fd;
	return 1;
}

/* accept(sock) -> the next connection's socket (close-on-exec). accept4(2) */
static int ns_io_accept(lua_State *L)
{
	int sock = ns_checkfd(L, 1);
	ns_fd *h = ns_pushfd(L, -1, "socket");
	int fd;
	while ((fd = accept4(sock, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (fd < 0)
		return ns_fail(L, "accept", NULL);
	h->fd = fd;
	return 1;
}

static const luaL_Reg io_funcs[] = {
	{"accept", ns_io_accept},
	{"pipe", ns_io_pipe},
	{"recvfd", ns_io_recvfd},
	{"sendfd", ns_io_sendfd},
	{"socketpair", ns_io_socketpair},
	{"unix_connect", ns_io_unix_connect},
	{"unix_listen", ns_io_unix_listen},
	{NULL, NULL}
};

void ns_open_io(lua_State *L)
{
	luaL_setfuncs(L, io_funcs, 0);
}
