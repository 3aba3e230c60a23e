/*
 * core.c - the module opener: require "ns.core" runs each area's opener,
 * in the order of one list, over one table (as Lua's linit.c opens the
 * standard libraries). An area is added here and nowhere else.
 */
#include "ns.h"

/* Each adds its functions and constants to the table at the top. */
static void (*const areas[])(lua_State *L) = {
	ns_open_util,
	ns_open_fd,
	ns_open_namespaces,
	ns_open_mounts,
	ns_open_process,
	ns_open_users,
	ns_open_caps,
	ns_open_filter,
	ns_open_files,
	ns_open_io,
	ns_open_signals,
	ns_open_tty,
	ns_open_ipc,
	ns_open_keys,
	ns_open_bpf,
	ns_open_landlock,
};

LUAMOD_API int luaopen_ns_core(lua_State *L);
__attribute__((visibility("default"))) int luaopen_ns_core(lua_State *L)
{
	/* Made at about its size (some 100 bindings and constant tables):
	 * grown one field at a time, it would be rehashed seven times. */
	lua_createtable(L, 0, 128);
	for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
		areas[i](L);
	lua_pushliteral(L, "luactr 0.1.0");
	lua_setfield(L, -2, "_VERSION");
	return 1;
}
