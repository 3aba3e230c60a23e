/*
 * ipc.c - System V message queues, enough to show what an IPC namespace
 * isolates. See msgget(2), msgctl(2), ipc_namespaces(7).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "ns.h"

static const ns_name ipc_flags[] = {
	{"creat", IPC_CREAT}, {"excl", IPC_EXCL},
	{NULL, 0}
};

/* msgget(key [, flags [, mode]]) -> the queue id. key 0 is IPC_PRIVATE. */
static int ns_ipc_msgget(lua_State *L)
{
	lua_Integer key = luaL_checkinteger(L, 1);
	int flags = (int)ns_checkflags(L, 2, ipc_flags, "msgget flag");
	lua_Integer mode = luaL_optinteger(L, 3, 0600);
	luaL_argcheck(L, mode >= 0 && mode <= 0777, 3, "mode out of range (0 to 0777)");
	char arg[32];
	snprintf(arg, sizeof arg, "key 0x%llx", (unsigned long long)key);
	int id = msgget((key_t)key, flags | (int)mode);
	if (id < 0)
		return ns_fail(L, "msgget", arg);
	lua_pushinteger(L, id);
	return 1;
}

/* msgrm(id) -> true: removes the queue (msgctl IPC_RMID). */
static int ns_ipc_msgrm(lua_State *L)
{
	lua_Integer id = luaL_checkinteger(L, 1);
	luaL_argcheck(L, id >= 0 && id <= 0x7fffffff, 1, "queue id out of range");
	char arg[24];
	snprintf(arg, sizeof arg, "%d", (int)id);
	if (msgctl((int)id, IPC_RMID, NULL) < 0)
		return ns_fail(L, "msgctl IPC_RMID", arg);
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg ipc_funcs[] = {
	{"msgget", ns_ipc_msgget},
	{"msgrm", ns_ipc_msgrm},
	{NULL, NULL}
};

void ns_open_ipc(lua_State *L)
{
	luaL_setfuncs(L, ipc_funcs, 0);
}
