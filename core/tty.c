/*
 * tty.c - terminals: pseudo-terminals, raw mode, window size, sessions and
 * controlling terminals, and the pty relay (the supervisor's loop between
 * a terminal and a container's pty). signals.c has signalfd and poll.
 * See pty(7), posix_openpt(3), termios(3), ioctl_tty(2), setsid(2),
 * poll(2), signalfd(2), pidfd_send_signal(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ns.h"

#define RAWMODE_MT "ns.rawmode"

/* "fd N", the argument part of an error message. */
static const char *fd_label(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "fd %d", fd);
	return buf;
}

/* openpty() -> master, slave (ns.fd "pty", close-on-exec, not made the
 * controlling terminal), the slave's path ("/dev/pts/3"). */
static int ns_tty_openpty(lua_State *L)
{
	ns_fd *m = ns_pushfd(L, -1, "pty");
	ns_fd *s = ns_pushfd(L, -1, "pty");
	char path[64];
	const char *call;
	int err;

	m->fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m->fd < 0)
		return ns_fail(L, "posix_openpt", "/dev/ptmx");
	/* grantpt is a no-op on devpts; POSIX asks for it all the same. */
	call = "grantpt";
	if (grantpt(m->fd) < 0)
		goto fail;
	call = "unlockpt";
	if (unlockpt(m->fd) < 0)
		goto fail;
	call = "ptsname_r";
	if ((errno = ptsname_r(m->fd, path, sizeof path)) != 0)
		goto fail;
	/* Open the peer through the master rather than by path: the path may
	 * name another devpts instance in this mount namespace. Before Linux
	 * 4.13 there is only the path. */
	call = "ioctl TIOCGPTPEER";
	s->fd = ioctl(m->fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->fd < 0 && (errno == EINVAL || errno == ENOTTY)) {
		call = "open";
		s->fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	if (s->fd < 0)
		goto fail;
	lua_pushstring(L, path);
	return 3;
fail:
	err = errno;
	close(m->fd);
	m->fd = -1;
	return ns_fail_errno(L, err, call, strcmp(call, "open") == 0 ? path : NULL);
}

/* isatty(fd) -> true when fd is a terminal (false too when it is not open) */
static int ns_tty_isatty(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	lua_pushboolean(L, isatty(fd));
	return 1;
}

/* The saved terminal state behind a rawmode handle. The handle does not own
 * fd: keep it open while the handle lives. */
typedef struct rawmode {
	int fd;
	int active;
	struct termios saved;
} rawmode;

/* rawmode(fd) -> a handle whose :restore() (also __close and __gc) puts
 * back the terminal settings fd had; cfmakeraw(3) settings meanwhile. */
static int ns_tty_rawmode(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	char arg[32];
	rawmode *r = lua_newuserdatauv(L, sizeof *r, 0);
	memset(r, 0, sizeof *r);
	r->fd = fd;
	luaL_setmetatable(L, RAWMODE_MT);
	if (tcgetattr(fd, &r->saved) < 0)
		return ns_fail(L, "tcgetattr", fd_label(fd, arg, sizeof arg));
	struct termios raw = r->saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return ns_fail(L, "tcsetattr", fd_label(fd, arg, sizeof arg));
	r->active = 1;
	return 1;
}

/* handle:restore() -> true, also when already restored. */
static int rawmode_restore(lua_State *L)
{
	rawmode *r = luaL_checkudata(L, 1, RAWMODE_MT);
	if (r->active) {
		r->active = 0;
		if (tcsetattr(r->fd, TCSANOW, &r->saved) < 0) {
			char arg[32];
			return ns_fail(L, "tcsetattr", fd_label(r->fd, arg, sizeof arg));
		}
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int rawmode_tostring(lua_State *L)
{
	rawmode *r = luaL_checkudata(L, 1, RAWMODE_MT);
	if (r->active)
		lua_pushfstring(L, "rawmode (fd %d)", r->fd);
	else
		lua_pushliteral(L, "rawmode (restored)");
	return 1;
}

/* winsize(fd) -> rows, cols; winsize(fd, rows, cols) -> true */
static int ns_tty_winsize(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	char arg[32];
	struct winsize ws;
	memset(&ws, 0, sizeof ws);
	if (lua_isnoneornil(L, 2)) {
		if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
			return ns_fail(L, "ioctl TIOCGWINSZ", fd_label(fd, arg, sizeof arg));
		lua_pushinteger(L, ws.ws_row);
		lua_pushinteger(L, ws.ws_col);
		return 2;
	}
	lua_Integer rows = luaL_checkinteger(L, 2);
	lua_Integer cols = luaL_checkinteger(L, 3);
	luaL_argcheck(L, rows >= 0 && rows <= USHRT_MAX, 2, "rows out of range");
	luaL_argcheck(L, cols >= 0 && cols <= USHRT_MAX, 3, "cols out of range");
	ws.ws_row = (unsigned short)rows;
	ws.ws_col = (unsigned short)cols;
	if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
		return ns_fail(L, "ioctl TIOCSWINSZ", fd_label(fd, arg, sizeof arg));
	lua_pushboolean(L, 1);
	return 1;
}

/* setsid() -> the new session id */
static int ns_tty_setsid(lua_State *L)
{
	pid_t sid = setsid();
	if (sid < 0)
		return ns_fail(L, "setsid", NULL);
	lua_pushinteger(L, sid);
	return 1;
}

/* setctty(fd) -> true: fd's terminal becomes the session's controlling
 * terminal (the caller must be a session leader without one). */
static int ns_tty_setctty(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	if (ioctl(fd, TIOCSCTTY, 0) < 0) {
		char arg[32];
		return ns_fail(L, "ioctl TIOCSCTTY", fd_label(fd, arg, sizeof arg));
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* One direction of the relay: bytes read and not yet written. */
#define RELAY_BUF 16384
typedef struct relaybuf {
	size_t off, len;
	char data[RELAY_BUF];
} relaybuf;

/* Why the relay stopped early: the call, what it was on, and errno. */
typedef struct relayerr {
	const char *call;
	const char *arg;
	int err;
} relayerr;

static int relay_fail(relayerr *e, const char *call, const char *arg)
{
	e->call = call;
	e->arg = arg;
	e->err = errno;
	return -1;
}

/* Write what b holds to fd: all of it, waiting when fd is non-blocking. */
static int write_all(int fd, relaybuf *b, relayerr *e, const char *what)
{
	while (b->len > 0) {
		ssize_t w = write(fd, b->data + b->off, b->len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};
				if (poll(&p, 1, -1) < 0 && errno != EINTR)
					return relay_fail(e, "poll", what);
				continue;
			}
			return relay_fail(e, "write", what);
		}
		b->off += (size_t)w;
		b->len -= (size_t)w;
	}
	b->off = 0;
	return 0;
}

/* Fill an empty b from fd: 1 when bytes came, 0 at end of file (or EIO, a
 * terminal's end), 2 when nothing is there now, -1 on failure. */
static int fill(int fd, relaybuf *b, relayerr *e, const char *what)
{
	ssize_t r;
	do
		r = read(fd, b->data, sizeof b->data);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		b->off = 0;
		b->len = (size_t)r;
		return 1;
	}
	if (r == 0 || errno == EIO)
		return 0;
	if (errno == EAGAIN)
		return 2;
	return relay_fail(e, "read", what);
}

/* What relay's loop knows: the fds and the two directions. */
typedef struct relay {
	int master, pidfd, sigfd, in, out;
	int in_open, master_open;
	relaybuf to_master, to_out;
	sigset_t stop;              /* signals that arm the kill */
	double kill_after;          /* seconds; < 0: never */
	double kill_at, timeout_at; /* monotonic seconds; < 0: not armed */
	int timed_out;
} relay;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void arm_kill(relay *r)
{
	if (r->kill_at < 0 && r->kill_after >= 0)
		r->kill_at = mono() + r->kill_after;
}

/* The poll timeout until the nearer deadline, in ms (-1: none); at a
 * deadline, what is due: SIGTERM at the timeout, SIGKILL at the kill. */
static int relay_deadlines(relay *r)
{
	double now = mono(), next = -1;
	if (r->timeout_at >= 0 && now >= r->timeout_at) {
		r->timeout_at = -1;
		r->timed_out = 1;
		syscall(SYS_pidfd_send_signal, r->pidfd, SIGTERM, NULL, 0);
		arm_kill(r);
	}
	if (r->kill_at >= 0 && now >= r->kill_at) {
		r->kill_at = -1;
		r->kill_after = -1; /* once */
		syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
	}
	if (r->timeout_at >= 0)
		next = r->timeout_at;
	if (r->kill_at >= 0 && (next < 0 || r->kill_at < next))
		next = r->kill_at;
	if (next < 0)
		return -1;
	double ms = (next - now) * 1000 + 1;
	return ms > 1e9 ? 1000000000 : (int)ms;
}

/* Handle one record from the signalfd: SIGWINCH copies fd 0's window size
 * to the master, any other signal goes to the child. */
static int relay_signal(relay *r, relayerr *e)
{
	struct signalfd_siginfo si;
	ssize_t n = read(r->sigfd, &si, sizeof si);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : relay_fail(e, "read", "sigfd");
	if (n != sizeof si) {
		errno = EINVAL;
		return relay_fail(e, "read", "sigfd");
	}
	int sig = (int)si.ssi_signo;
	if (sig == SIGWINCH) {
		/* fd 0 not being a terminal is no failure: there is no size. */
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ioctl(r->master, TIOCSWINSZ, &ws) < 0)
			return relay_fail(e, "ioctl TIOCSWINSZ", "master");
		return 0;
	}
	/* ESRCH: the child is gone, and the pidfd is about to say so. */
	if (syscall(SYS_pidfd_send_signal, r->pidfd, sig, NULL, 0) < 0 && errno != ESRCH) {
		const char *name = ns_signame(sig);
		return relay_fail(e, "pidfd_send_signal", name ? name : "signal");
	}
	if (sigismember(&r->stop, sig) == 1)
		arm_kill(r);
	return 0;
}

/* The poll loop until the pidfd is readable; then what is left on the
 * master is copied out. 0, or -1 with e set. */
static int relay_run(relay *r, relayerr *e)
{
	for (;;) {
		struct pollfd p[5];
		int np = 0, pp, sp = -1, ip = -1, mp = -1, op = -1;
		p[pp = np++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
		if (r->sigfd >= 0)
			p[sp = np++] = (struct pollfd){.fd = r->sigfd, .events = POLLIN};
		if (r->in_open && r->to_master.len == 0)
			p[ip = np++] = (struct pollfd){.fd = r->in, .events = POLLIN};
		short mev = (short)((r->master_open && r->to_out.len == 0 ? POLLIN : 0) |
				    (r->to_master.len ? POLLOUT : 0));
		if (mev)
			p[mp = np++] = (struct pollfd){.fd = r->master, .events = mev};
		if (r->to_out.len)
			p[op = np++] = (struct pollfd){.fd = r->out, .events = POLLOUT};

		if (poll(p, (nfds_t)np, relay_deadlines(r)) < 0) {
			if (errno == EINTR)
				continue;
			return relay_fail(e, "poll", NULL);
		}
		for (int i = 0; i < np; i++)
			if (p[i].revents & POLLNVAL) {
				errno = EBADF;
				return relay_fail(e, "poll", i == pp ? "pidfd" : i == sp ? "sigfd" : i == ip ? "input" : i == mp ? "master" : "output");
			}

		if (sp >= 0 && p[sp].revents && relay_signal(r, e) < 0)
			return -1;
		if (ip >= 0 && p[ip].revents) {
			int got = fill(r->in, &r->to_master, e, "input");
			if (got < 0)
				return -1;
			if (got == 0)
				r->in_open = 0;
		}
		if (mp >= 0 && (p[mp].revents & (POLLOUT | POLLERR | POLLHUP)) && r->to_master.len) {
			ssize_t w = write(r->master, r->to_master.data + r->to_master.off, r->to_master.len);
			if (w >= 0) {
				r->to_master.off += (size_t)w;
				r->to_master.len -= (size_t)w;
				if (r->to_master.len == 0)
					r->to_master.off = 0;
			} else if (errno == EIO) {
				/* Nobody has the slave open: what was typed is lost. */
				r->to_master.len = r->to_master.off = 0;
				r->in_open = 0;
			} else if (errno != EAGAIN && errno != EINTR) {
				return relay_fail(e, "write", "master");
			}
		}
		if (mp >= 0 && (mev & POLLIN) && (p[mp].revents & (POLLIN | POLLERR | POLLHUP))) {
			/* EIO (or 0): the slave side is closed. */
			int got = fill(r->master, &r->to_out, e, "master");
			if (got < 0)
				return -1;
			if (got == 0)
				r->master_open = 0;
		}
		if (op >= 0 && p[op].revents) {
			relaybuf *b = &r->to_out;
			ssize_t w = write(r->out, b->data + b->off, b->len);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return relay_fail(e, "write", "output");
			if (w > 0) {
				b->off += (size_t)w;
				b->len -= (size_t)w;
				if (b->len == 0)
					b->off = 0;
			}
		}
		if (p[pp].revents)
			break;
	}

	/* The child has exited: copy out what it left, without waiting for
	 * more (a reader of the master flushes the pty's pending input first,
	 * so nothing written before the exit is lost). */
	if (write_all(r->out, &r->to_out, e, "output") < 0)
		return -1;
	while (r->master_open) {
		int got = fill(r->master, &r->to_out, e, "master");
		if (got < 0)
			return -1;
		if (got != 1)
			break;
		if (write_all(r->out, &r->to_out, e, "output") < 0)
			return -1;
	}
	return 0;
}

/* An fd option of the table at idx: def when absent (-2: required, raises). */
static int opt_fd(lua_State *L, int idx, const char *key, int def)
{
	char what[32];
	if (lua_getfield(L, idx, key) == LUA_TNIL) {
		lua_pop(L, 1);
		if (def == -2)
			luaL_argerror(L, idx, lua_pushfstring(L, "option '%s' is required", key));
		return def;
	}
	snprintf(what, sizeof what, "option '%s'", key);
	return ns_popfd(L, idx, what);
}

/* relay(master, {pidfd=, sigfd=, input=, output=, stop=, kill_after=,
 * timeout=}) -> true, timed_out once the child behind pidfd has exited and
 * what it wrote has been copied out. Copies input (default fd 0) to master
 * and master to output (default fd 1). sigfd: a signalfd; SIGWINCH copies
 * fd 0's window size to master, other signals are sent on to the child.
 * A signal of the list stop, once sent on, arms a SIGKILL kill_after
 * seconds later; timeout (seconds) sends SIGTERM and arms it too. */
static int ns_tty_relay(lua_State *L)
{
	static const char *const keys[] = {"input", "kill_after", "output", "pidfd", "sigfd", "stop", "timeout", NULL};
	int master = ns_checkfd(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	ns_checkopts(L, 2, keys);
	int pidfd = opt_fd(L, 2, "pidfd", -2);
	int sigfd = opt_fd(L, 2, "sigfd", -1);
	int in = opt_fd(L, 2, "input", 0);
	int out = opt_fd(L, 2, "output", 1);

	relay *r = lua_newuserdatauv(L, sizeof *r, 0);
	memset(r, 0, sizeof *r);
	r->master = master;
	r->pidfd = pidfd;
	r->sigfd = sigfd;
	r->in = in;
	r->out = out;
	r->in_open = r->master_open = 1;
	r->kill_after = r->kill_at = r->timeout_at = -1;
	sigemptyset(&r->stop);
	if (lua_getfield(L, 2, "stop") != LUA_TNIL) {
		luaL_argcheck(L, lua_istable(L, -1), 2, "option 'stop' must be a list of signals");
		for (lua_Integer i = 1; lua_geti(L, -1, i) != LUA_TNIL; i++) {
			sigaddset(&r->stop, ns_checksignal(L, lua_gettop(L)));
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_getfield(L, 2, "kill_after");
	if (!lua_isnil(L, -1)) {
		r->kill_after = luaL_checknumber(L, -1);
		luaL_argcheck(L, r->kill_after >= 0, 2, "option 'kill_after' must be 0 or more seconds");
	}
	lua_getfield(L, 2, "timeout");
	if (!lua_isnil(L, -1)) {
		double t = luaL_checknumber(L, -1);
		luaL_argcheck(L, t > 0, 2, "option 'timeout' must be more than 0 seconds");
		r->timeout_at = mono() + t;
	}
	lua_pop(L, 2);

	/* The master is read and written without blocking (the child may stop
	 * reading); its flags are put back before returning. */
	int flags = fcntl(master, F_GETFL);
	if (flags < 0)
		return ns_fail(L, "fcntl F_GETFL", "master");
	if (!(flags & O_NONBLOCK) && fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
		return ns_fail(L, "fcntl F_SETFL", "master");
	relayerr e = {NULL, NULL, 0};
	int rc = relay_run(r, &e);
	if (!(flags & O_NONBLOCK))
		fcntl(master, F_SETFL, flags);
	if (rc < 0) {
		char arg[64];
		snprintf(arg, sizeof arg, "%s", e.arg ? e.arg : "");
		return ns_fail_errno(L, e.err, e.call, arg);
	}
	lua_pushboolean(L, 1);
	lua_pushboolean(L, r->timed_out);
	return 2;
}

static const luaL_Reg tty_funcs[] = {
	{"isatty", ns_tty_isatty},
	{"openpty", ns_tty_openpty},
	{"rawmode", ns_tty_rawmode},
	{"relay", ns_tty_relay},
	{"setctty", ns_tty_setctty},
	{"setsid", ns_tty_setsid},
	{"winsize", ns_tty_winsize},
	{NULL, NULL}
};

static const luaL_Reg rawmode_meta[] = {
	{"__close", rawmode_restore},
	{"__gc", rawmode_restore},
	{"__tostring", rawmode_tostring},
	{NULL, NULL}
};

static const luaL_Reg rawmode_methods[] = {
	{"restore", rawmode_restore},
	{NULL, NULL}
};

void ns_open_tty(lua_State *L)
{
	if (luaL_newmetatable(L, RAWMODE_MT)) {
		luaL_setfuncs(L, rawmode_meta, 0);
		luaL_newlib(L, rawmode_methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	luaL_setfuncs(L, tty_funcs, 0);
}
