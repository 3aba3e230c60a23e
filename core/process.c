/*
 * process.c - exec, wait, kill, pids, prctl bits, rlimits, host and domain
 * names, the umask, the execution domain, the I/O priority, clocks, sleep,
 * _exit.
 * See execve(2), waitid(2), pidfd_send_signal(2), prctl(2), getrlimit(2),
 * sethostname(2), setdomainname(2), umask(2), personality(2),
 * ioprio_set(2), clock_gettime(2), nanosleep(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ns.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* A NULL-ended char* array of the strings in the list at idx, kept alive by
 * a userdata left on the stack (so a Lua error frees it), with a table above
 * it that holds the strings made from numbers. */
static char **string_array(lua_State *L, int idx, const char *what)
{
	lua_Integer n = luaL_len(L, idx);
	char **a = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
	lua_newtable(L);
	for (lua_Integer i = 1; i <= n; i++) {
		int t = lua_geti(L, idx, i);
		if (t != LUA_TSTRING && !lua_isnumber(L, -1))
			luaL_argerror(L, idx, lua_pushfstring(L, "%s[%d] is not a string", what, (int)i));
		size_t len;
		a[i - 1] = (char *)lua_tolstring(L, -1, &len);
		if (strlen(a[i - 1]) != len)
			luaL_argerror(L, idx, lua_pushfstring(L, "%s[%d] holds a NUL byte", what, (int)i));
		/* The list holds a string; a number's new string only this copy
		 * holds, so anchor it before the pop (a collection may come before
		 * execve). */
		if (t == LUA_TSTRING)
			lua_pop(L, 1);
		else
			lua_rawseti(L, -2, i);
	}
	a[n] = NULL;
	return a;
}

/* An environment given as a list of "K=V" or a map K -> V. */
static char **env_array(lua_State *L, int idx)
{
	if (luaL_len(L, idx) > 0)
		return string_array(L, idx, "env");
	int n = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		n++;
	}
	char **a = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
	lua_newtable(L); /* keeps the K=V strings alive */
	int i = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && !lua_isnumber(L, -1)))
			luaL_argerror(L, idx, "env map must hold string keys and string values");
		lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
		size_t len, klen, vlen;
		lua_tolstring(L, -3, &klen);
		lua_tolstring(L, -2, &vlen);
		a[i] = (char *)lua_tolstring(L, -1, &len);
		if (strlen(a[i]) != len || len != klen + vlen + 1)
			luaL_argerror(L, idx, "env map holds a NUL byte");
		lua_rawseti(L, -4, i + 1);
		lua_pop(L, 1);
		i++;
	}
	a[i] = NULL;
	return a;
}

static const char *env_get(char **env, const char *key)
{
	size_t k = strlen(key);
	for (; env && *env; env++)
		if (strncmp(*env, key, k) == 0 && (*env)[k] == '=')
			return *env + k + 1;
	return NULL;
}

/* exec(file [, argv [, env]]) -> only on failure: nil, message, errno.
 * argv is the whole list, argv[1] being what the program sees as argv[0]
 * (default {file}); env is a list of "K=V" or a map (default: inherit).
 * A file without a slash is looked up in env's PATH (or the caller's). */
static int ns_process_exec(lua_State *L)
{
	const char *file = ns_checkstring(L, 1);
	char **argv, **envp = environ;
	int has_env = !lua_isnoneornil(L, 3);
	if (has_env)
		luaL_checktype(L, 3, LUA_TTABLE);
	if (lua_isnoneornil(L, 2)) {
		argv = lua_newuserdatauv(L, sizeof(char *) * 2, 0);
		argv[0] = (char *)file;
		argv[1] = NULL;
	} else {
		luaL_checktype(L, 2, LUA_TTABLE);
		argv = string_array(L, 2, "argv");
		luaL_argcheck(L, argv[0] != NULL, 2, "argv is empty");
	}
	/* The arrays are pushed above the arguments: read them by index. */
	if (has_env)
		envp = env_array(L, 3);
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return ns_fail(L, "exec", file);
	}
	const char *path = env_get(envp, "PATH");
	if (!path)
		path = getenv("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	int err = ENOENT;
	char buf[PATH_MAX];
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dl = (size_t)(end - p);
		if (dl == 0)
			snprintf(buf, sizeof buf, "%s", file);
		else
			snprintf(buf, sizeof buf, "%.*s/%s", (int)dl, p, file);
		execve(buf, argv, envp);
		/* EACCES somewhere on the path is reported if nothing else runs. */
		if (errno == EACCES)
			err = EACCES;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT)
			return ns_fail(L, "exec", buf);
		if (*end == '\0')
			break;
		p = end;
	}
	return ns_fail_errno(L, err, "exec", file);
}

static void push_status(lua_State *L, const siginfo_t *si)
{
	lua_createtable(L, 0, 6);
	lua_pushinteger(L, si->si_pid);
	lua_setfield(L, -2, "pid");
	if (si->si_code == CLD_EXITED) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "exited");
		lua_pushinteger(L, si->si_status);
		lua_setfield(L, -2, "code");
		lua_pushinteger(L, si->si_status);
	} else {
		const char *name = ns_signame(si->si_status);
		lua_pushboolean(L, si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED);
		lua_setfield(L, -2, "killed");
		lua_pushboolean(L, si->si_code == CLD_DUMPED);
		lua_setfield(L, -2, "core");
		lua_pushboolean(L, si->si_code == CLD_STOPPED || si->si_code == CLD_TRAPPED);
		lua_setfield(L, -2, "stopped");
		if (name)
			lua_pushstring(L, name);
		else
			lua_pushfstring(L, "%d", si->si_status);
		lua_setfield(L, -2, "signal");
		lua_pushinteger(L, si->si_status);
		lua_setfield(L, -2, "signo");
		lua_pushinteger(L, 128 + si->si_status);
	}
	/* status: the shell's $? for it, code or 128 + signal. */
	lua_setfield(L, -2, "status");
}

/* wait([pid | pidfd | -1 [, opts]]) -> {pid, exited, code | killed, signal,
 * signo, core, status}; false with "nohang" when nothing has ended yet.
 * opts: "nohang" (or a list of it). */
static int ns_process_wait(lua_State *L)
{
	static const ns_name wait_opts[] = {{"nohang", WNOHANG}, {NULL, 0}};
	idtype_t type = P_ALL;
	id_t id = 0;
	char arg[32] = "any child";
	ns_fd *h = ns_tofd(L, 1);
	if (h) {
		type = (idtype_t)P_PIDFD;
		id = (id_t)ns_checkfd(L, 1);
		snprintf(arg, sizeof arg, "pidfd %d", (int)id);
	} else if (!lua_isnoneornil(L, 1)) {
		lua_Integer pid = luaL_checkinteger(L, 1);
		luaL_argcheck(L, pid == -1 || (pid > 0 && pid <= INT_MAX), 1, "pid out of range");
		if (pid > 0) {
			type = P_PID;
			id = (id_t)pid;
			snprintf(arg, sizeof arg, "%d", (int)pid);
		}
	}
	int opts = (int)ns_checkflags(L, 2, wait_opts, "wait option");
	siginfo_t si;
	int r;
	memset(&si, 0, sizeof si);
	do
		r = waitid(type, id, &si, WEXITED | opts);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return ns_fail(L, "wait", arg);
	if (si.si_pid == 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	push_status(L, &si);
	return 1;
}

/* kill(pid | pidfd [, signal]) -> true. signal: "TERM" (default), "SIGKILL",
 * a number, or 0 to test that the process exists. */
static int ns_process_kill(lua_State *L)
{
	int sig = lua_isnoneornil(L, 2) ? SIGTERM : ns_checksignal(L, 2);
	char arg[32];
	ns_fd *h = ns_tofd(L, 1);
	int r;
	if (h) {
		int fd = ns_checkfd(L, 1);
		snprintf(arg, sizeof arg, "pidfd %d", fd);
		r = (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
	} else {
		if (lua_type(L, 1) != LUA_TNUMBER || !lua_isinteger(L, 1))
			return luaL_typeerror(L, 1, "pid (integer) or pidfd");
		lua_Integer pid = lua_tointeger(L, 1);
		luaL_argcheck(L, pid >= INT_MIN && pid <= INT_MAX, 1, "pid out of range");
		snprintf(arg, sizeof arg, "%d", (int)pid);
		r = kill((pid_t)pid, sig);
	}
	if (r < 0)
		return ns_fail(L, "kill", arg);
	lua_pushboolean(L, 1);
	return 1;
}

static int ns_process_getpid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	return 1;
}

static int ns_process_getppid(lua_State *L)
{
	lua_pushinteger(L, getppid());
	return 1;
}

/* prctl(name [, value]) -> the current value without one; true after
 * setting it. Names: no_new_privs (set-only to true), pdeathsig (a signal,
 * false to clear it), child_subreaper, dumpable, keepcaps (booleans), name
 * (a string). */
static int ns_process_prctl(lua_State *L)
{
	static const char *const names[] = {"child_subreaper", "dumpable", "keepcaps", "name", "no_new_privs", "pdeathsig", NULL};
	static const int getters[] = {PR_GET_CHILD_SUBREAPER, PR_GET_DUMPABLE, PR_GET_KEEPCAPS, PR_GET_NAME, PR_GET_NO_NEW_PRIVS, PR_GET_PDEATHSIG};
	static const int setters[] = {PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, PR_SET_KEEPCAPS, PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG};
	int which = ns_checkoption(L, 1, NULL, names);
	const char *name = names[which];
	if (lua_isnone(L, 2)) {
		int v = 0, r;
		char buf[17] = {0};
		if (setters[which] == PR_SET_NAME)
			r = prctl(PR_GET_NAME, buf, 0, 0, 0);
		else if (getters[which] == PR_GET_CHILD_SUBREAPER || getters[which] == PR_GET_PDEATHSIG)
			r = prctl(getters[which], &v, 0, 0, 0);
		else
			r = v = prctl(getters[which], 0, 0, 0, 0);
		if (r < 0)
			return ns_fail(L, "prctl", name);
		if (setters[which] == PR_SET_NAME)
			lua_pushstring(L, buf);
		else if (setters[which] == PR_SET_PDEATHSIG)
			ns_signame(v) ? lua_pushstring(L, ns_signame(v)) : lua_pushinteger(L, v);
		else
			lua_pushboolean(L, v != 0);
		return 1;
	}
	unsigned long arg;
	if (setters[which] == PR_SET_NAME) {
		const char *s = ns_checkstring(L, 2);
		arg = (unsigned long)s;
	} else if (setters[which] == PR_SET_PDEATHSIG) {
		/* false clears it: the process outlives its parent. */
		arg = lua_isboolean(L, 2) && !lua_toboolean(L, 2) ? 0 : (unsigned long)ns_checksignal(L, 2);
	} else {
		luaL_checktype(L, 2, LUA_TBOOLEAN);
		arg = (unsigned long)lua_toboolean(L, 2);
		luaL_argcheck(L, setters[which] != PR_SET_NO_NEW_PRIVS || arg == 1, 2, "no_new_privs cannot be unset");
	}
	if (prctl(setters[which], arg, 0, 0, 0) < 0)
		return ns_fail(L, "prctl", name);
	lua_pushboolean(L, 1);
	return 1;
}

static const ns_name rlimits[] = {
	{"as", RLIMIT_AS}, {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA}, {"fsize", RLIMIT_FSIZE}, {"locks", RLIMIT_LOCKS},
	{"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS},
	{"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},
	{NULL, 0}
};

static void push_rlim(lua_State *L, rlim_t v)
{
	if (v == RLIM_INFINITY)
		lua_pushnumber(L, HUGE_VAL);
	else
		lua_pushinteger(L, (lua_Integer)v);
}

static rlim_t check_rlim(lua_State *L, int idx)
{
	if (lua_type(L, idx) == LUA_TSTRING && strcmp(lua_tostring(L, idx), "unlimited") == 0)
		return RLIM_INFINITY;
	lua_Number n = luaL_checknumber(L, idx);
	if (n == HUGE_VAL)
		return RLIM_INFINITY;
	lua_Integer i = luaL_checkinteger(L, idx);
	luaL_argcheck(L, i >= 0, idx, "limit must be >= 0, math.huge or \"unlimited\"");
	return (rlim_t)i;
}

/* getrlimit(resource) -> soft, hard (math.huge for unlimited) */
static int ns_process_getrlimit(lua_State *L)
{
	int res = (int)ns_checkname(L, 1, rlimits, "rlimit");
	struct rlimit rl;
	if (getrlimit(res, &rl) < 0) {
		/* errno before lua_tostring, which may allocate. */
		int err = errno;
		return ns_fail_errno(L, err, "getrlimit", lua_tostring(L, 1));
	}
	push_rlim(L, rl.rlim_cur);
	push_rlim(L, rl.rlim_max);
	return 2;
}

/* setrlimit(resource, soft [, hard]) -> true; hard defaults to the current
 * hard limit. Raising a hard limit needs CAP_SYS_RESOURCE (EPERM). */
static int ns_process_setrlimit(lua_State *L)
{
	int res = (int)ns_checkname(L, 1, rlimits, "rlimit");
	const char *name = lua_tostring(L, 1);
	struct rlimit rl;
	if (getrlimit(res, &rl) < 0)
		return ns_fail(L, "getrlimit", name);
	rl.rlim_cur = check_rlim(L, 2);
	if (!lua_isnoneornil(L, 3))
		rl.rlim_max = check_rlim(L, 3);
	if (setrlimit(res, &rl) < 0)
		return ns_fail(L, "setrlimit", name);
	lua_pushboolean(L, 1);
	return 1;
}

static int ns_process_gethostname(lua_State *L)
{
	char buf[HOST_NAME_MAX + 1];
	if (gethostname(buf, sizeof buf) < 0)
		return ns_fail(L, "gethostname", NULL);
	buf[HOST_NAME_MAX] = '\0';
	lua_pushstring(L, buf);
	return 1;
}

/* sethostname(name) -> true */
static int ns_process_sethostname(lua_State *L)
{
	size_t n;
	const char *name = luaL_checklstring(L, 1, &n);
	luaL_argcheck(L, strlen(name) == n, 1, "name holds a NUL byte");
	if (sethostname(name, n) < 0)
		return ns_fail(L, "sethostname", name);
	lua_pushboolean(L, 1);
	return 1;
}

/* umask(mask) -> the previous mask. mask: 0..0777 (write 0o22 as 18 or
 * tonumber("022", 8)). umask(2) cannot fail. */
static int ns_process_umask(lua_State *L)
{
	lua_Integer mask = luaL_checkinteger(L, 1);
	luaL_argcheck(L, mask >= 0 && mask <= 0777, 1, "mask must be 0..0777");
	lua_pushinteger(L, (lua_Integer)umask((mode_t)mask));
	return 1;
}

/* The execution domains personality(2) takes by name; any other persona
 * is given as a number. */
static const ns_name personas[] = {{"linux", PER_LINUX}, {"linux32", PER_LINUX32}, {NULL, 0}};

/* personality([persona]) -> the persona before the call (a number).
 * persona: "linux", "linux32" or a number; without one, only reads it. */
static int ns_process_personality(lua_State *L)
{
	unsigned long persona = 0xffffffffUL; /* reads, changes nothing */
	if (!lua_isnoneornil(L, 1)) {
		long long v = ns_checkname(L, 1, personas, "persona");
		luaL_argcheck(L, v >= 0 && v < 0xffffffffLL, 1, "persona out of range");
		persona = (unsigned long)v;
	}
	int r = personality(persona);
	if (r < 0)
		return ns_fail(L, "personality", lua_isnoneornil(L, 1) ? NULL : lua_tostring(L, 1));
	lua_pushinteger(L, r);
	return 1;
}

/* The I/O scheduling classes (linux/ioprio.h: IOPRIO_CLASS_*), by name. */
static const char *const ioprio_classes[] = {"none", "rt", "be", "idle", NULL};
#define NS_IOPRIO_CLASS_SHIFT 13
#define NS_IOPRIO_WHO_PROCESS 1

/* ioprio_set(class, level [, pid]) -> true: the I/O priority of the thread
 * pid (default 0, the calling one). class: "none", "rt", "be" or "idle";
 * level 0 (highest) to 7 (none takes 0). */
static int ns_process_ioprio_set(lua_State *L)
{
	int class = ns_checkoption(L, 1, NULL, ioprio_classes);
	lua_Integer level = luaL_checkinteger(L, 2);
	lua_Integer pid = luaL_optinteger(L, 3, 0);
	luaL_argcheck(L, level >= 0 && level <= 7, 2, "level must be 0..7");
	luaL_argcheck(L, pid >= 0 && pid <= INT_MAX, 3, "pid out of range");
	long prio = ((long)class << NS_IOPRIO_CLASS_SHIFT) | (long)level;
	if (syscall(SYS_ioprio_set, NS_IOPRIO_WHO_PROCESS, (int)pid, (int)prio) < 0)
		return ns_fail(L, "ioprio_set", ioprio_classes[class]);
	lua_pushboolean(L, 1);
	return 1;
}

/* ioprio_get([pid]) -> class, level of the thread pid (default 0, the
 * calling one); a thread never given one is "none", 0 (the kernel then
 * derives its priority from its nice value). */
static int ns_process_ioprio_get(lua_State *L)
{
	lua_Integer pid = luaL_optinteger(L, 1, 0);
	luaL_argcheck(L, pid >= 0 && pid <= INT_MAX, 1, "pid out of range");
	long r = syscall(SYS_ioprio_get, NS_IOPRIO_WHO_PROCESS, (int)pid);
	if (r < 0)
		return ns_fail(L, "ioprio_get", NULL);
	int class = (int)((r >> NS_IOPRIO_CLASS_SHIFT) & 0x07);
	if (class <= 3)
		lua_pushstring(L, ioprio_classes[class]);
	else
		lua_pushinteger(L, class);
	lua_pushinteger(L, r & ((1 << NS_IOPRIO_CLASS_SHIFT) - 1));
	return 2;
}

static int ns_process_getdomainname(lua_State *L)
{
	char buf[256];
	if (getdomainname(buf, sizeof buf) < 0)
		return ns_fail(L, "getdomainname", NULL);
	buf[255] = '\0';
	lua_pushstring(L, buf);
	return 1;
}

/* setdomainname(name) -> true */
static int ns_process_setdomainname(lua_State *L)
{
	size_t n;
	const char *name = luaL_checklstring(L, 1, &n);
	luaL_argcheck(L, strlen(name) == n, 1, "name holds a NUL byte");
	if (setdomainname(name, n) < 0)
		return ns_fail(L, "setdomainname", name);
	lua_pushboolean(L, 1);
	return 1;
}

/* clock([name]) -> seconds as a float; name: monotonic (default), realtime,
 * boottime, process, thread. */
static int ns_process_clock(lua_State *L)
{
	static const char *const names[] = {"monotonic", "realtime", "boottime", "process", "thread", NULL};
	static const clockid_t ids[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
	int which = ns_checkoption(L, 1, "monotonic", names);
	struct timespec ts;
	if (clock_gettime(ids[which], &ts) < 0)
		return ns_fail(L, "clock_gettime", names[which]);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

/* sleep(seconds) -> true (fractions allowed; resumes after signals) */
static int ns_process_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);
	luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds out of range");
	struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	lua_pushboolean(L, 1);
	return 1;
}

/* _exit([code]): ends the process now, without flushing or closing Lua;
 * what a clone child calls. */
static int ns_process__exit(lua_State *L)
{
	lua_Integer code = luaL_optinteger(L, 1, 0);
	_exit((int)(code & 0xff));
	return 0;
}

static const luaL_Reg process_funcs[] = {
	{"_exit", ns_process__exit},
	{"clock", ns_process_clock},
	{"exec", ns_process_exec},
	{"getdomainname", ns_process_getdomainname},
	{"gethostname", ns_process_gethostname},
	{"getpid", ns_process_getpid},
	{"getppid", ns_process_getppid},
	{"getrlimit", ns_process_getrlimit},
	{"ioprio_get", ns_process_ioprio_get},
	{"ioprio_set", ns_process_ioprio_set},
	{"kill", ns_process_kill},
	{"personality", ns_process_personality},
	{"prctl", ns_process_prctl},
	{"setdomainname", ns_process_setdomainname},
	{"sethostname", ns_process_sethostname},
	{"setrlimit", ns_process_setrlimit},
	{"sleep", ns_process_sleep},
	{"umask", ns_process_umask},
	{"wait", ns_process_wait},
	{NULL, NULL}
};

void ns_open_process(lua_State *L)
{
	luaL_setfuncs(L, process_funcs, 0);
	ns_setconst(L, "RLIMIT", rlimits);
}
