/*
 * repl.h - luactr's interactive prompt (repl.c), for the runner (luactr.c).
 */
#ifndef LUACTR_REPL_H
#define LUACTR_REPL_H

#include <lua.h>

/* Loads ns as the global ns, then reads, evaluates and prints on stdin
 * until its end (readline(3) where stdin is a terminal). Errors are
 * reported on stderr and the loop goes on; msgh is the lua_pcall message
 * handler that shapes them (with a traceback under LUACTR_DEBUG). */
void luactr_repl(lua_State *L, lua_CFunction msgh);

#endif
