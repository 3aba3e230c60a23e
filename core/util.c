/*
 * util.c - what every area shares, knowing none of them: error messages,
 * names to flags, read-only constant tables (ns.E, ns.SIG), option checks;
 * an unknown name's error lists the valid ones sorted, the nearest first.
 * The fd handle is fd.c's. See errno(3), signal(7).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ns.h"

const char *ns_errname(int err)
{
	const char *n = strerrorname_np(err);
	return n ? n : "E?";
}

/* Longer arguments are cut in messages, so that an error stays a line. */
#define ARG_SHOWN 200

int ns_fail_errno(lua_State *L, int err, const char *call, const char *arg)
{
	lua_pushnil(L);
	if (arg && *arg && strlen(arg) > ARG_SHOWN) {
		char cut[ARG_SHOWN + 1];
		memcpy(cut, arg, ARG_SHOWN);
		cut[ARG_SHOWN] = '\0';
		lua_pushfstring(L, "%s %s... (%d bytes): %s (%s)", call, cut, (int)strlen(arg), strerror(err),
				ns_errname(err));
	} else if (arg && *arg)
		lua_pushfstring(L, "%s %s: %s (%s)", call, arg, strerror(err), ns_errname(err));
	else
		lua_pushfstring(L, "%s: %s (%s)", call, strerror(err), ns_errname(err));
	lua_pushinteger(L, err);
	return 3;
}

int ns_fail(lua_State *L, const char *call, const char *arg)
{
	int err = errno;
	return ns_fail_errno(L, err, call, arg);
}

/* How much of a bad name an error shows. */
#define NAME_SHOWN 48

/* Add 'name' to b, quoted, cut at NAME_SHOWN bytes or a NUL, saying so. */
static void add_name(luaL_Buffer *b, const char *name, size_t len)
{
	size_t n = strnlen(name, len < NAME_SHOWN ? len : NAME_SHOWN);
	luaL_addchar(b, '\'');
	luaL_addlstring(b, name, n);
	if (n < len) {
		char note[64];
		snprintf(note, sizeof note, "...' (%zu bytes%s)", len, memchr(name, '\0', len) ? ", with a NUL" : "");
		luaL_addstring(b, note);
	} else {
		luaL_addchar(b, '\'');
	}
}

/* The most names a message sorts and lists (ns.E, the longest table, has
 * about 130); a longer list is cut there. */
#define NAMES_MAX 256
/* A list longer than this is not spelled out: only its nearest name. */
#define NAMES_LISTED 40

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Edit distance of a (len bytes) and b, a swap of two neighbours counting
 * as one edit (optimal string alignment), letters compared without case,
 * both cut at NAME_SHOWN bytes. */
static size_t distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), rows[3][NAME_SHOWN + 1];
	if (la > NAME_SHOWN)
		la = NAME_SHOWN;
	if (lb > NAME_SHOWN)
		lb = NAME_SHOWN;
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + (ca != cb);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return rows[la % 3][lb];
}

/* Add "(did you mean 'x'? valid: a, b, c)" to b for the unknown name (len
 * bytes): the nearest of the n names when one is a typo away (an edit for
 * a short name, two for a longer one, any change of case), then every
 * name, sorted; a list longer than NAMES_LISTED gives its count instead,
 * and where (a table) to read it. names is sorted in place. */
static void add_choices(luaL_Buffer *b, const char *name, size_t len, const char **names, int n, const char *where)
{
	qsort(names, (size_t)n, sizeof *names, cmp_names);
	const char *near = NULL;
	size_t best = (size_t)-1;
	for (int i = 0; i < n; i++) {
		size_t d = distance(name, len, names[i]), lb = strlen(names[i]);
		if (d <= (lb <= 4 ? 1 : 2) && d < lb && d < best) {
			best = d;
			near = names[i];
		}
	}
	luaL_addstring(b, " (");
	if (near) {
		luaL_addstring(b, "did you mean '");
		luaL_addstring(b, near);
		luaL_addstring(b, "'? ");
	}
	if (n > NAMES_LISTED && where) {
		char note[32];
		snprintf(note, sizeof note, "%d names: ", n);
		luaL_addstring(b, note);
		luaL_addstring(b, where);
	} else {
		luaL_addstring(b, "valid: ");
		for (int i = 0; i < n; i++) {
			if (i)
				luaL_addstring(b, ", ");
			luaL_addstring(b, names[i]);
		}
	}
	luaL_addstring(b, ")");
}

/* Raise "unknown <what> 'x' (did you mean 'y'? valid: a, b, c)". */
static int unknown_name(lua_State *L, int idx, const char *name, size_t len, const ns_name *names, const char *what)
{
	const char *list[NAMES_MAX];
	int n = 0;
	for (const ns_name *k = names; k->name && n < NAMES_MAX; k++)
		list[n++] = k->name;
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	luaL_addstring(&b, "unknown ");
	luaL_addstring(&b, what);
	luaL_addchar(&b, ' ');
	add_name(&b, name, len);
	add_choices(&b, name, len, list, n, NULL);
	luaL_pushresult(&b);
	return luaL_argerror(L, idx, lua_tostring(L, -1));
}

/* The value of the name that is the string at sidx (argument idx for
 * errors); a name with a NUL in it matches none. */
static long long lookup(lua_State *L, int idx, int sidx, const ns_name *names, const char *what)
{
	size_t len;
	const char *name = lua_tolstring(L, sidx, &len);
	if (strlen(name) == len)
		for (const ns_name *n = names; n->name; n++)
			if (strcmp(n->name, name) == 0)
				return n->value;
	unknown_name(L, idx, name, len, names, what);
	return 0;
}

const char *ns_checkstring(lua_State *L, int idx)
{
	size_t len;
	const char *s = luaL_checklstring(L, idx, &len);
	if (strlen(s) != len)
		luaL_argerror(L, idx, "string holds a NUL byte (a C string would end there)");
	return s;
}

const char *ns_optstring(lua_State *L, int idx, const char *def)
{
	return lua_isnoneornil(L, idx) ? def : ns_checkstring(L, idx);
}

int ns_checkoption(lua_State *L, int idx, const char *def, const char *const lst[])
{
	size_t len;
	const char *name = def && lua_isnoneornil(L, idx) ? def : luaL_checklstring(L, idx, &len);
	if (name == def)
		len = strlen(def);
	if (strlen(name) == len)
		for (int i = 0; lst[i]; i++)
			if (strcmp(lst[i], name) == 0)
				return i;
	const char *list[NAMES_MAX];
	int n = 0;
	while (lst[n] && n < NAMES_MAX) {
		list[n] = lst[n];
		n++;
	}
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	luaL_addstring(&b, "invalid option ");
	add_name(&b, name, len);
	add_choices(&b, name, len, list, n, NULL);
	luaL_pushresult(&b);
	return luaL_argerror(L, idx, lua_tostring(L, -1));
}

long long ns_checkname(lua_State *L, int idx, const ns_name *names, const char *what)
{
	if (lua_type(L, idx) == LUA_TNUMBER)
		return luaL_checkinteger(L, idx);
	luaL_checkstring(L, idx);
	return lookup(L, idx, idx, names, what);
}

long long ns_checkflags(lua_State *L, int idx, const ns_name *names, const char *what)
{
	long long flags = 0;
	switch (lua_type(L, idx)) {
	case LUA_TNONE:
	case LUA_TNIL:
		return 0;
	case LUA_TNUMBER:
		return luaL_checkinteger(L, idx);
	case LUA_TSTRING:
		return lookup(L, idx, idx, names, what);
	case LUA_TTABLE: {
		lua_Integer n = luaL_len(L, idx);
		for (lua_Integer i = 1; i <= n; i++) {
			int t = lua_geti(L, idx, i), isint;
			if (t == LUA_TNUMBER) {
				flags |= lua_tointegerx(L, -1, &isint);
				if (!isint)
					luaL_argerror(L, idx, lua_pushfstring(L, "%s list holds a non-integer number", what));
			} else if (t == LUA_TSTRING) {
				flags |= lookup(L, idx, lua_gettop(L), names, what);
			} else {
				luaL_argerror(L, idx, lua_pushfstring(L, "%s list holds a %s", what, luaL_typename(L, -1)));
			}
			lua_pop(L, 1);
		}
		return flags;
	}
	default:
		luaL_typeerror(L, idx, "name, list of names or number");
		return 0;
	}
}

/* Pushes the values table of a constant table, whose metatable is at mt:
 * made from its names (__names) when first asked for, by pairs() or an
 * error message. A start reads a few constants by name (const_lookup),
 * and filling ns.E's 131 names, ns.SIG's and the rest cost 250,000
 * instructions at every start. */
static int const_values(lua_State *L, int mt)
{
	if (lua_getfield(L, mt, "__values") == LUA_TTABLE)
		return lua_gettop(L);
	lua_pop(L, 1);
	lua_getfield(L, mt, "__names");
	const ns_name *names = lua_touserdata(L, -1);
	lua_pop(L, 1);
	int count = 0;
	while (names[count].name)
		count++;
	lua_createtable(L, 0, count);
	for (const ns_name *n = names; n->name; n++) {
		lua_pushinteger(L, n->value);
		lua_setfield(L, -2, n->name);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, mt, "__values");
	return lua_gettop(L);
}

/* Raise "ns.MS has no key 'x' (did you mean 'y'? valid: a, b, ...)", the
 * keys sorted; a long table (ns.E has over a hundred names) gives only
 * its nearest key and its size. */
static int const_index(lua_State *L)
{
	lua_getmetatable(L, 1);
	int mt = lua_gettop(L);
	lua_getfield(L, mt, "__name");
	const char *name = lua_tostring(L, -1);
	size_t len;
	const char *key = luaL_tolstring(L, 2, &len);
	int vals = const_values(L, mt);
	/* The keys are strings of the values table, which outlives this
	 * call: their pointers stay valid once popped. */
	const char *list[NAMES_MAX];
	int n = 0;
	lua_pushnil(L);
	while (lua_next(L, vals)) {
		lua_pop(L, 1);
		if (n < NAMES_MAX && lua_type(L, -1) == LUA_TSTRING)
			list[n++] = lua_tostring(L, -1);
	}
	lua_pushfstring(L, "pairs(%s)", name);
	const char *where = lua_tostring(L, -1);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	luaL_addstring(&b, name);
	luaL_addstring(&b, " has no key ");
	add_name(&b, key, len);
	add_choices(&b, key, len, list, n, where);
	luaL_pushresult(&b);
	return lua_error(L);
}

static int const_newindex(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__name");
	return luaL_error(L, "%s is read-only", lua_tostring(L, -1));
}

/* A proxy whose __index is the real table, so that reads of unknown keys
 * and every write raise; pairs() walks the real table through __pairs. */
static int const_next(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 2);
	if (lua_next(L, 1))
		return 2;
	lua_pushnil(L);
	return 1;
}

static int const_pairs(lua_State *L)
{
	lua_pushcfunction(L, const_next);
	lua_getmetatable(L, 1);
	const_values(L, lua_gettop(L));
	lua_remove(L, -2);
	lua_pushnil(L);
	return 3;
}

/* A name is looked up in the C list itself (the longest, ns.E, is read a
 * few times a start). */
static int const_lookup(lua_State *L)
{
	size_t len;
	const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL;
	if (key) {
		lua_getmetatable(L, 1);
		lua_getfield(L, -1, "__names");
		for (const ns_name *n = lua_touserdata(L, -1); n->name; n++) {
			if (strlen(n->name) == len && memcmp(n->name, key, len) == 0) {
				lua_pushinteger(L, n->value);
				return 1;
			}
		}
		lua_pop(L, 2);
	}
	return const_index(L);
}

/* names must outlive the state (a static array). */
void ns_setconst(lua_State *L, const char *field, const ns_name *names)
{
	lua_newtable(L); /* proxy */
	lua_createtable(L, 0, 7); /* metatable */
	lua_pushlightuserdata(L, (void *)names);
	lua_setfield(L, -2, "__names");
	lua_pushfstring(L, "ns.%s", field);
	lua_setfield(L, -2, "__name");
	lua_pushcfunction(L, const_lookup);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, const_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, const_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, field);
}

void ns_checkopts_arg(lua_State *L, int idx, const char *const keys[], int arg, const char *prefix)
{
	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int ok = 0;
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING)
			for (int i = 0; keys[i]; i++)
				if (strcmp(keys[i], lua_tostring(L, -1)) == 0)
					ok = 1;
		if (!ok) {
			const char *list[NAMES_MAX];
			int n = 0;
			while (keys[n] && n < NAMES_MAX) {
				list[n] = keys[n];
				n++;
			}
			size_t len;
			const char *key = luaL_tolstring(L, -1, &len);
			luaL_Buffer b;
			luaL_buffinit(L, &b);
			if (prefix)
				luaL_addstring(&b, prefix);
			luaL_addstring(&b, "unknown option ");
			add_name(&b, key, len);
			add_choices(&b, key, len, list, n, NULL);
			luaL_pushresult(&b);
			luaL_argerror(L, arg, lua_tostring(L, -1));
		}
	}
}

void ns_checkopts(lua_State *L, int idx, const char *const keys[])
{
	ns_checkopts_arg(L, idx, keys, idx, NULL);
}

/* Signals, by their abbreviations as sigabbrev_np(3) gives them. */
const ns_name ns_signals[] = {
	{"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL},
	{"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE},
	{"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
	{"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
	{"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU},
	{"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
	{"IO", SIGIO}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
	{NULL, 0}
};

const char *ns_signame(int sig)
{
	for (const ns_name *n = ns_signals; n->name; n++)
		if (n->value == sig)
			return n->name;
	return NULL;
}

int ns_checksignal(lua_State *L, int idx)
{
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Integer s = luaL_checkinteger(L, idx);
		luaL_argcheck(L, s >= 0 && s <= SIGRTMAX, idx, "signal number out of range");
		return (int)s;
	}
	size_t len;
	const char *name = luaL_checklstring(L, idx, &len);
	if (len >= 3 && strncasecmp(name, "SIG", 3) == 0) {
		name += 3;
		len -= 3;
	}
	if (strlen(name) == len)
		for (const ns_name *n = ns_signals; n->name; n++)
			if (strcasecmp(n->name, name) == 0)
				return (int)n->value;
	unknown_name(L, idx, name, len, ns_signals, "signal");
	return 0;
}

void ns_open_util(lua_State *L)
{
	/* ns.E: errno names to numbers, from the C library's own list. */
	static ns_name errs[160];
	int k = 0;
	for (int e = 1; e < 134 && k < 159; e++) {
		const char *n = strerrorname_np(e);
		if (n)
			errs[k++] = (ns_name){n, e};
	}
	errs[k] = (ns_name){NULL, 0};
	ns_setconst(L, "E", errs);
	ns_setconst(L, "SIG", ns_signals);
}
