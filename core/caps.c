/* caps.c - placeholder until the area lands. */
#include "ns.h"
void ns_open_caps(lua_State *L) { (void)L; }
