/*
 * signals.c - signals as events for the supervisor's loop: signalfd and
 * reading it, the signal mask, and poll over a list of fds.
 * See signalfd(2), sigprocmask(2), signal(7), poll(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ns.h"

/* "fd N", the argument part of an error message. */
static const char *fd_label(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "fd %d", fd);
	return buf;
}

/* The signals at idx into set: a list of names or numbers, one of them, or
 * "all". Raises on unknown names. */
static void check_sigset(lua_State *L, int idx, sigset_t *set)
{
	sigemptyset(set);
	if (lua_type(L, idx) == LUA_TSTRING && strcmp(lua_tostring(L, idx), "all") == 0) {
		sigfillset(set);
		return;
	}
	if (lua_type(L, idx) != LUA_TTABLE) {
		int sig = ns_checksignal(L, idx);
		luaL_argcheck(L, sig > 0, idx, "signal 0 is not a signal");
		sigaddset(set, sig);
		return;
	}
	/* Put each element in the argument's slot so that ns_checksignal's
	 * errors name the argument; the list goes back afterwards. */
	lua_pushvalue(L, idx);
	int list = lua_gettop(L);
	lua_Integer n = luaL_len(L, list);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, list, i);
		lua_replace(L, idx);
		int sig = ns_checksignal(L, idx);
		luaL_argcheck(L, sig > 0, idx, "signal 0 is not a signal");
		sigaddset(set, sig);
	}
	lua_replace(L, idx);
}

/* signalfd(signals) -> ns.fd "signalfd" (non-blocking, close-on-exec) that
 * receives those signals, which are also blocked in the calling process
 * (a signalfd only sees blocked signals). */
static int ns_signals_signalfd(lua_State *L)
{
	sigset_t set;
	check_sigset(L, 1, &set);
	ns_fd *h = ns_pushfd(L, -1, "signalfd");
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return ns_fail(L, "signalfd", NULL);
	h->fd = fd;
	/* Block only once the fd exists, so that a failure leaves the mask
	 * as it was. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		int err = errno;
		close(fd);
		h->fd = -1;
		return ns_fail_errno(L, err, "sigprocmask", "block");
	}
	return 1;
}

/* sigread(sfd) -> the name of the next pending signal ("TERM"; its number
 * when it has no name, as real-time signals), or nil when none is pending. */
static int ns_signals_sigread(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	char arg[32];
	struct signalfd_siginfo si;
	ssize_t r;
	do
		r = read(fd, &si, sizeof si);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN) {
		lua_pushnil(L);
		return 1;
	}
	if (r < 0)
		return ns_fail(L, "read", fd_label(fd, arg, sizeof arg));
	/* A signalfd hands out whole records; anything else is not one. */
	if (r != sizeof si)
		return ns_fail_errno(L, EINVAL, "read", fd_label(fd, arg, sizeof arg));
	const char *name = ns_signame((int)si.ssi_signo);
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushinteger(L, si.ssi_signo);
	return 1;
}

/* sigmask(how, signals) -> true. how: "block", "unblock" or "set";
 * signals: a list, one signal, or "all". */
static int ns_signals_sigmask(lua_State *L)
{
	static const char *const hows[] = {"block", "unblock", "set", NULL};
	static const int howv[] = {SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK};
	int how = ns_checkoption(L, 1, NULL, hows);
	sigset_t set;
	luaL_checkany(L, 2);
	check_sigset(L, 2, &set);
	if (sigprocmask(howv[how], &set, NULL) < 0)
		return ns_fail(L, "sigprocmask", hows[how]);
	lua_pushboolean(L, 1);
	return 1;
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC), at least 0. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* poll(fds [, timeout_ms]) -> the list of 1-based indexes of fds that are
 * readable, hung up or in error ({} on timeout), and the set of those
 * hung up (or in error) with nothing to read: hup[i] = true. No timeout, or a negative
 * one, waits for ever. A closed fd number fails with EBADF. */
static int ns_signals_poll(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer timeout = luaL_optinteger(L, 2, -1);
	lua_Integer n = luaL_len(L, 1);
	luaL_argcheck(L, n >= 0 && n <= 4096, 1, "too many fds");
	struct pollfd *p = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *p, 0);
	for (lua_Integer i = 0; i < n; i++) {
		char what[32];
		snprintf(what, sizeof what, "fds[%lld]", (long long)i + 1);
		lua_geti(L, 1, i + 1);
		p[i].fd = ns_popfd(L, 1, what);
		p[i].events = POLLIN;
		p[i].revents = 0;
	}

	int ms = timeout < 0 ? -1 : timeout > INT_MAX ? INT_MAX : (int)timeout;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	int r;
	while ((r = poll(p, (nfds_t)n, ms)) < 0 && errno == EINTR)
		if (ms > 0)
			ms = ms_left(&deadline);
	if (r < 0)
		return ns_fail(L, "poll", NULL);

	lua_newtable(L);
	lua_newtable(L);
	lua_Integer k = 0;
	for (lua_Integer i = 0; i < n; i++) {
		if (p[i].revents & POLLNVAL) {
			char arg[32];
			return ns_fail_errno(L, EBADF, "poll", fd_label(p[i].fd, arg, sizeof arg));
		}
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			lua_pushinteger(L, i + 1);
			lua_rawseti(L, -3, ++k);
		}
		if ((p[i].revents & (POLLHUP | POLLERR)) && !(p[i].revents & POLLIN)) {
			lua_pushboolean(L, 1);
			lua_rawseti(L, -2, i + 1);
		}
	}
	return 2;
}

static const luaL_Reg signals_funcs[] = {
	{"poll", ns_signals_poll},
	{"sigmask", ns_signals_sigmask},
	{"signalfd", ns_signals_signalfd},
	{"sigread", ns_signals_sigread},
	{NULL, NULL}
};

void ns_open_signals(lua_State *L)
{
	luaL_setfuncs(L, signals_funcs, 0);
}
