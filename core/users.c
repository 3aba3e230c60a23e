/*
 * users.c - user namespace id maps, setgroups, and the process's ids.
 * See user_namespaces(7) (uid_map, gid_map, setgroups), setresuid(2),
 * setgroups(2), getuid(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ns.h"

/* "/proc/<pid>/<file>" for pid an integer or "self". */
static void proc_path(lua_State *L, int idx, const char *file, char *buf, size_t n)
{
	if (lua_type(L, idx) == LUA_TSTRING && strcmp(lua_tostring(L, idx), "self") == 0) {
		snprintf(buf, n, "/proc/self/%s", file);
		return;
	}
	if (lua_type(L, idx) != LUA_TNUMBER || !lua_isinteger(L, idx))
		luaL_typeerror(L, idx, "pid (integer) or \"self\"");
	lua_Integer pid = lua_tointeger(L, idx);
	luaL_argcheck(L, pid > 0 && pid <= 0x3fffffff, idx, "pid out of range");
	snprintf(buf, n, "/proc/%d/%s", (int)pid, file);
}

/* One write(2) of data to path: the kernel takes an id map whole or not at
 * all, and only once. */
static int write_once(lua_State *L, const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return ns_fail(L, "open", path);
	ssize_t w = write(fd, data, len);
	int err = errno;
	close(fd);
	if (w < 0)
		return ns_fail_errno(L, err, "write", path);
	if ((size_t)w != len)
		return ns_fail_errno(L, EIO, "write", path);
	lua_pushboolean(L, 1);
	return 1;
}

/* The ranges {{inside, outside, count}, ...} as uid_map text. */
static const char *map_text(lua_State *L, int idx, size_t *len)
{
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_Integer n = luaL_len(L, idx);
	luaL_argcheck(L, n > 0 && n <= 340, idx, "a map holds 1 to 340 ranges");
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_Integer v[3];
		if (lua_geti(L, idx, i) != LUA_TTABLE)
			luaL_argerror(L, idx, lua_pushfstring(L, "range %d is not a table {inside, outside, count}", (int)i));
		for (int j = 0; j < 3; j++) {
			lua_geti(L, -1, j + 1);
			int ok;
			v[j] = lua_tointegerx(L, -1, &ok);
			lua_pop(L, 1);
			if (!ok || v[j] < 0 || v[j] > UINT32_MAX || (j == 2 && v[j] == 0))
				luaL_argerror(L, idx, lua_pushfstring(L, "range %d needs three ids {inside, outside, count > 0}", (int)i));
		}
		lua_pop(L, 1);
		char line[64];
		snprintf(line, sizeof line, "%lld %lld %lld\n", (long long)v[0], (long long)v[1], (long long)v[2]);
		/* luaL_addstring may move the buffer box on the stack: keep the
		 * range tables' indexes absolute (idx), never relative. */
		luaL_addstring(&b, line);
	}
	luaL_pushresult(&b);
	return lua_tolstring(L, -1, len);
}

static int write_map(lua_State *L, const char *file)
{
	char path[64];
	size_t len;
	proc_path(L, 1, file, path, sizeof path);
	const char *text = map_text(L, 2, &len);
	return write_once(L, path, text, len);
}

/* uid_map(pid | "self", {{inside, outside, count}, ...}) -> true */
static int ns_users_uid_map(lua_State *L)
{
	return write_map(L, "uid_map");
}

/* gid_map(pid | "self", {{inside, outside, count}, ...}) -> true. Without
 * CAP_SETGID in the parent namespace, setgroups_deny must come first. */
static int ns_users_gid_map(lua_State *L)
{
	return write_map(L, "gid_map");
}

/* setgroups_deny(pid | "self") -> true: writes "deny" to /proc/PID/setgroups */
static int ns_users_setgroups_deny(lua_State *L)
{
	char path[64];
	proc_path(L, 1, "setgroups", path, sizeof path);
	return write_once(L, path, "deny", 4);
}

static uint32_t check_id(lua_State *L, int idx)
{
	lua_Integer v = luaL_optinteger(L, idx, -1);
	luaL_argcheck(L, v >= -1 && v <= UINT32_MAX, idx, "id out of range");
	return (uint32_t)v;
}

/* setresuid(ruid [, euid [, suid]]) -> true; a missing id is the first one,
 * -1 leaves that id as it is. */
static int ns_users_setresuid(lua_State *L)
{
	uint32_t r = check_id(L, 1);
	uint32_t e = lua_isnoneornil(L, 2) ? r : check_id(L, 2);
	uint32_t s = lua_isnoneornil(L, 3) ? r : check_id(L, 3);
	if (setresuid(r, e, s) < 0) {
		/* errno before lua_tostring, which may allocate. */
		int err = errno;
		return ns_fail_errno(L, err, "setresuid", lua_tostring(L, 1));
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* setresgid(rgid [, egid [, sgid]]) -> true; as setresuid. */
static int ns_users_setresgid(lua_State *L)
{
	uint32_t r = check_id(L, 1);
	uint32_t e = lua_isnoneornil(L, 2) ? r : check_id(L, 2);
	uint32_t s = lua_isnoneornil(L, 3) ? r : check_id(L, 3);
	if (setresgid(r, e, s) < 0) {
		/* errno before lua_tostring, which may allocate. */
		int err = errno;
		return ns_fail_errno(L, err, "setresgid", lua_tostring(L, 1));
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* setgroups(list) -> true */
static int ns_users_setgroups(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = luaL_len(L, 1);
	luaL_argcheck(L, n >= 0 && n <= 65536, 1, "too many groups");
	gid_t *g = lua_newuserdatauv(L, sizeof(gid_t) * (size_t)(n ? n : 1), 0);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 1, i);
		int ok;
		lua_Integer v = lua_tointegerx(L, -1, &ok);
		lua_pop(L, 1);
		luaL_argcheck(L, ok && v >= 0 && v <= UINT32_MAX, 1, "groups must be ids");
		g[i - 1] = (gid_t)v;
	}
	if (setgroups((size_t)n, g) < 0)
		return ns_fail(L, "setgroups", NULL);
	lua_pushboolean(L, 1);
	return 1;
}

/* getgroups() -> list of supplementary group ids */
static int ns_users_getgroups(lua_State *L)
{
	/* As many as the process has (up to NGROUPS_MAX, 65536): ask the count
	 * first. The list cannot change between the calls: only this
	 * single-threaded process sets it. */
	int n = getgroups(0, NULL);
	if (n < 0)
		return ns_fail(L, "getgroups", NULL);
	gid_t *g = lua_newuserdatauv(L, sizeof(gid_t) * (size_t)(n ? n : 1), 0);
	n = getgroups(n, g);
	if (n < 0)
		return ns_fail(L, "getgroups", NULL);
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushinteger(L, g[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* getuid() -> ruid, euid, suid */
static int ns_users_getuid(lua_State *L)
{
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	lua_pushinteger(L, r);
	lua_pushinteger(L, e);
	lua_pushinteger(L, s);
	return 3;
}

/* getgid() -> rgid, egid, sgid */
static int ns_users_getgid(lua_State *L)
{
	gid_t r, e, s;
	getresgid(&r, &e, &s);
	lua_pushinteger(L, r);
	lua_pushinteger(L, e);
	lua_pushinteger(L, s);
	return 3;
}

static const luaL_Reg users_funcs[] = {
	{"getgid", ns_users_getgid},
	{"getgroups", ns_users_getgroups},
	{"getuid", ns_users_getuid},
	{"gid_map", ns_users_gid_map},
	{"setgroups", ns_users_setgroups},
	{"setgroups_deny", ns_users_setgroups_deny},
	{"setresgid", ns_users_setresgid},
	{"setresuid", ns_users_setresuid},
	{"uid_map", ns_users_uid_map},
	{NULL, NULL}
};

void ns_open_users(lua_State *L)
{
	luaL_setfuncs(L, users_funcs, 0);
}
