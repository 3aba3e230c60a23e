/*
 * io.c - channels between processes: pipes, socketpairs, and passing an fd
 * over an AF_UNIX socket (SCM_RIGHTS), which lets a container's child open
 * its terminal inside its own devpts and hand the master side to luactr.
 * See pipe2(2), socketpair(2), unix(7), sendmsg(2), recvmsg(2), cmsg(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

static const luaL_Reg io_funcs[] = {
	{"pipe", ns_io_pipe},
	{"recvfd", ns_io_recvfd},
	{"sendfd", ns_io_sendfd},
	{"socketpair", ns_io_socketpair},
	{NULL, NULL}
};

void ns_open_io(lua_State *L)
{
	luaL_setfuncs(L, io_funcs, 0);
}
