/*
 * keys.c - the kernel keyring: join a new session keyring, so that a
 * container's keys are not the caller's. Raw keyctl(2), no libkeyutils.
 * See keyctl(2), KEYCTL_JOIN_SESSION_KEYRING(2const), keyrings(7),
 * session-keyring(7).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/keyctl.h>

#include "ns.h"

/* keyctl_join_session([name]) -> the serial of the session keyring now
 * joined: a new anonymous one without a name; with one, the keyring of
 * that name when the caller may search it, else a new one so named. */
static int ns_keys_keyctl_join_session(lua_State *L)
{
	const char *name = ns_optstring(L, 1, NULL);
	long serial = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
	if (serial < 0)
		return ns_fail(L, "keyctl_join_session", name ? name : "(anonymous)");
	lua_pushinteger(L, (lua_Integer)serial);
	return 1;
}

static const luaL_Reg keys_funcs[] = {
	{"keyctl_join_session", ns_keys_keyctl_join_session},
	{NULL, NULL}
};

void ns_open_keys(lua_State *L)
{
	luaL_setfuncs(L, keys_funcs, 0);
}
