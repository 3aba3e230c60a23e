/* tty.c - placeholder until the area lands. */
#include "ns.h"
void ns_open_tty(lua_State *L) { (void)L; }
