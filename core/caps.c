/*
 * caps.c - capabilities through libcap: the calling process's sets, the
 * bounding set and the ambient set. Names are "sys_admin", "net_raw", ...
 * (any case, "cap_" prefix optional).
 * See capabilities(7), cap_get_proc(3), cap_set_proc(3), cap_drop_bound(3),
 * cap_get_ambient(3), cap_from_name(3).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>

#include "ns.h"

/* A set of capability numbers. The kernel has 41 today; 256 leaves room. */
#define CAPBITS 256
typedef struct capbits {
	uint64_t w[CAPBITS / 64];
} capbits;

static void capbits_add(capbits *s, cap_value_t v)
{
	s->w[v / 64] |= UINT64_C(1) << (v % 64);
}

static int capbits_has(const capbits *s, cap_value_t v)
{
	return (s->w[v / 64] >> (v % 64)) & 1;
}

/* How many capabilities the running kernel knows (libcap probes it). */
static cap_value_t cap_count(void)
{
	cap_value_t n = (cap_value_t)cap_max_bits();
	return n > CAPBITS ? CAPBITS : n;
}

/* The name of v without "cap_" into buf ("sys_admin", or "41" for a bit
 * libcap has no name for). */
static void cap_name(cap_value_t v, char *buf, size_t size)
{
	char *s = cap_to_name(v);
	if (!s) {
		snprintf(buf, size, "%d", (int)v);
		return;
	}
	snprintf(buf, size, "%s", strncmp(s, "cap_", 4) == 0 ? s + 4 : s);
	cap_free(s);
}

/* The capability named by the string (or number) at the top of the stack;
 * raises as a bad argument idx when unknown. */
static cap_value_t check_cap_top(lua_State *L, int idx)
{
	if (lua_type(L, -1) == LUA_TNUMBER) {
		int isint;
		lua_Integer v = lua_tointegerx(L, -1, &isint);
		luaL_argcheck(L, isint && v >= 0 && v < cap_count(), idx, "capability number out of range");
		return (cap_value_t)v;
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_argerror(L, idx, lua_pushfstring(L, "capability name expected, got %s", luaL_typename(L, -1)));
	size_t len;
	const char *s = lua_tolstring(L, -1, &len);
	const char *name = s;
	if (len >= 4 && strncasecmp(s, "cap_", 4) == 0)
		name += 4;
	/* want: "cap_" and the lower-cased name, for cap_from_name(3). */
	char want[72] = "cap_", canon[72];
	size_t n = len - (size_t)(name - s);
	cap_value_t v = -1;
	if (n > 0 && n < sizeof want - 4 && strlen(name) == n) {
		for (size_t i = 0; i < n; i++)
			want[4 + i] = (char)tolower((unsigned char)name[i]);
		want[4 + n] = '\0';
		if (strspn(want + 4, "0123456789") == n)
			v = n < 4 ? (cap_value_t)atoi(want + 4) : -1;
		else if (cap_from_name(want, &v) < 0)
			v = -1;
		/* cap_from_name stops at the first character that is not a
		 * letter or '_' and ignores the rest, and a bit libcap has a
		 * name for is not called by its number: only an exact match
		 * with cap_names() counts. */
		if (v >= 0 && v < cap_count()) {
			cap_name(v, canon, sizeof canon);
			if (strcmp(canon, want + 4) != 0)
				v = -1;
		}
	}
	if (v < 0 || v >= cap_count())
		luaL_argerror(L, idx, lua_pushfstring(L, "unknown capability '%s'", s));
	return v;
}

/* Add the capabilities at idx (a name, a number or a list of them; nil is
 * none) to set. Raises on unknown names. */
static void check_caps(lua_State *L, int idx, int argidx, capbits *set)
{
	int t = lua_type(L, idx);
	if (t == LUA_TNIL || t == LUA_TNONE)
		return;
	if (t != LUA_TTABLE) {
		lua_pushvalue(L, idx);
		capbits_add(set, check_cap_top(L, argidx));
		lua_pop(L, 1);
		return;
	}
	lua_Integer n = luaL_len(L, idx);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, idx, i);
		capbits_add(set, check_cap_top(L, argidx));
		lua_pop(L, 1);
	}
}

/* Push the list of names in set, sorted by number. */
static void push_names(lua_State *L, const capbits *set)
{
	char name[64];
	lua_Integer k = 0;
	lua_newtable(L);
	for (cap_value_t v = 0; v < cap_count(); v++) {
		if (!capbits_has(set, v))
			continue;
		cap_name(v, name, sizeof name);
		lua_pushstring(L, name);
		lua_rawseti(L, -2, ++k);
	}
}

/* cap_get() -> {effective=, permitted=, inheritable=, bounding=, ambient=},
 * each a list of names, for the calling process. */
static int ns_caps_cap_get(lua_State *L)
{
	static const cap_flag_t flags[] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
	static const char *const fields[] = {"effective", "permitted", "inheritable", "bounding", "ambient"};
	capbits sets[5];
	memset(sets, 0, sizeof sets);
	cap_value_t n = cap_count();

	cap_t caps = cap_get_proc();
	if (!caps)
		return ns_fail(L, "cap_get_proc", NULL);
	for (int f = 0; f < 3; f++)
		for (cap_value_t v = 0; v < n; v++) {
			cap_flag_value_t on = CAP_CLEAR;
			if (cap_get_flag(caps, v, flags[f], &on) == 0 && on == CAP_SET)
				capbits_add(&sets[f], v);
		}
	cap_free(caps);
	/* Both return -1 for bits the kernel lacks (or, for ambient, on
	 * kernels before 4.3): those count as absent. */
	for (cap_value_t v = 0; v < n; v++) {
		if (cap_get_bound(v) > 0)
			capbits_add(&sets[3], v);
		if (cap_get_ambient(v) > 0)
			capbits_add(&sets[4], v);
	}

	lua_createtable(L, 0, 5);
	for (int f = 0; f < 5; f++) {
		push_names(L, &sets[f]);
		lua_setfield(L, -2, fields[f]);
	}
	return 1;
}

/* cap_names() -> the list of every capability the kernel knows, by number
 * (names[1] is "chown", capability 0). */
static int ns_caps_cap_names(lua_State *L)
{
	char name[64];
	cap_value_t n = cap_count();
	lua_createtable(L, (int)n, 0);
	for (cap_value_t v = 0; v < n; v++) {
		cap_name(v, name, sizeof name);
		lua_pushstring(L, name);
		lua_rawseti(L, -2, v + 1);
	}
	return 1;
}

/* The failure triple for a call on one capability, named as cap_names does. */
static int cap_fail(lua_State *L, const char *call, cap_value_t v)
{
	int err = errno;
	char name[64];
	cap_name(v, name, sizeof name);
	return ns_fail_errno(L, err, call, name);
}

/* cap_drop_bound(names) -> true. names: a name or a list; dropping one that
 * is already gone succeeds. Needs CAP_SETPCAP. */
static int ns_caps_cap_drop_bound(lua_State *L)
{
	capbits drop;
	memset(&drop, 0, sizeof drop);
	luaL_checkany(L, 1);
	check_caps(L, 1, 1, &drop);
	for (cap_value_t v = 0; v < cap_count(); v++) {
		if (!capbits_has(&drop, v))
			continue;
		if (cap_drop_bound(v) < 0)
			return cap_fail(L, "cap_drop_bound", v);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* cap_set({effective=, permitted=, inheritable=}) -> true. Sets exactly
 * those three sets (a missing key is the empty set). */
static int ns_caps_cap_set(lua_State *L)
{
	static const char *const keys[] = {"effective", "permitted", "inheritable", NULL};
	static const cap_flag_t flags[] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
	capbits sets[3];
	memset(sets, 0, sizeof sets);
	luaL_checktype(L, 1, LUA_TTABLE);
	ns_checkopts(L, 1, keys);
	for (int f = 0; f < 3; f++) {
		lua_getfield(L, 1, keys[f]);
		check_caps(L, -1, 1, &sets[f]);
		lua_pop(L, 1);
	}

	cap_t caps = cap_init();
	if (!caps)
		return ns_fail(L, "cap_init", NULL);
	for (int f = 0; f < 3; f++)
		for (cap_value_t v = 0; v < cap_count(); v++)
			if (capbits_has(&sets[f], v) && cap_set_flag(caps, flags[f], 1, &v, CAP_SET) < 0) {
				int r = cap_fail(L, "cap_set_flag", v);
				cap_free(caps); /* after: cap_fail reads errno first */
				return r;
			}
	if (cap_set_proc(caps) < 0) {
		/* Name what was asked for, in cap_to_text(3) form ("cap_chown=ep"). */
		int err = errno;
		char text[1024] = "";
		char *s = cap_to_text(caps, NULL);
		if (s) {
			snprintf(text, sizeof text, "%s", s);
			cap_free(s);
		}
		cap_free(caps);
		return ns_fail_errno(L, err, "cap_set_proc", text);
	}
	cap_free(caps);
	lua_pushboolean(L, 1);
	return 1;
}

/* cap_ambient(names) -> true. Clears the ambient set, then raises each
 * named capability; each must already be permitted and inheritable. */
static int ns_caps_cap_ambient(lua_State *L)
{
	capbits up;
	memset(&up, 0, sizeof up);
	luaL_checkany(L, 1);
	check_caps(L, 1, 1, &up);
	if (cap_reset_ambient() < 0)
		return ns_fail(L, "cap_reset_ambient", NULL);
	for (cap_value_t v = 0; v < cap_count(); v++) {
		if (!capbits_has(&up, v))
			continue;
		if (cap_set_ambient(v, CAP_SET) < 0)
			return cap_fail(L, "cap_set_ambient", v);
	}
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg caps_funcs[] = {
	{"cap_ambient", ns_caps_cap_ambient},
	{"cap_drop_bound", ns_caps_cap_drop_bound},
	{"cap_get", ns_caps_cap_get},
	{"cap_names", ns_caps_cap_names},
	{"cap_set", ns_caps_cap_set},
	{NULL, NULL}
};

void ns_open_caps(lua_State *L)
{
	luaL_setfuncs(L, caps_funcs, 0);
}
