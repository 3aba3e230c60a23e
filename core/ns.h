/*
 * ns.h - what the core's files share: the error contract, names-to-flags
 * tables, read-only constant tables (util.c) and the fd userdata (fd.c).
 *
 * Contract (DESIGN.md): misuse raises (luaL_arg*); an OS failure returns
 * nil, "<call> <arg>: <strerror> (<ERRNO>)", errno.
 */
#ifndef LUACTR_NS_H
#define LUACTR_NS_H

#include <lua.h>
#include <lauxlib.h>
#include <linux/openat2.h>

/* openat2's RESOLVE_* bits that older headers lack; the values are the
 * ABI's (files.c, archive.c). */
#ifndef RESOLVE_NO_XDEV
#define RESOLVE_NO_XDEV 0x01
#endif
#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#endif
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_SYMLINKS 0x04
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_BENEATH 0x08
#endif
#ifndef RESOLVE_IN_ROOT
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20
#endif

#define NS_HIDDEN __attribute__((visibility("hidden")))

/* One name of a flag set or constant table. */
typedef struct ns_name {
	const char *name;
	long long value;
} ns_name;

/* Push nil, "<call>[ <arg>]: <strerror> (<ENAME>)", errno; returns 3.
 * Reads errno first, so call it straight after the failing call. */
NS_HIDDEN int ns_fail(lua_State *L, const char *call, const char *arg);
/* Same, for an explicit error number. */
NS_HIDDEN int ns_fail_errno(lua_State *L, int err, const char *call, const char *arg);
/* "EPERM" for EPERM, "E?" for an unknown number. */
NS_HIDDEN const char *ns_errname(int err);

/* A string argument that the kernel takes as a C string: one with a NUL
 * byte inside raises (the kernel would silently see less of it). */
NS_HIDDEN const char *ns_checkstring(lua_State *L, int idx);
NS_HIDDEN const char *ns_optstring(lua_State *L, int idx, const char *def);
/* luaL_checkoption, with a bounded message that lists the valid names. */
NS_HIDDEN int ns_checkoption(lua_State *L, int idx, const char *def, const char *const lst[]);

/* Flags given as a name, a list of names or a number. Unknown names raise
 * with the list of valid ones. nil/none gives 0. */
NS_HIDDEN long long ns_checkflags(lua_State *L, int idx, const ns_name *names, const char *what);
/* One name out of a table (or the number itself); raises on unknown names. */
NS_HIDDEN long long ns_checkname(lua_State *L, int idx, const ns_name *names, const char *what);
/* Set t[field] = read-only table of names, t at the top of the stack. */
NS_HIDDEN void ns_setconst(lua_State *L, const char *field, const ns_name *names);
/* A signal given as "TERM", "SIGTERM" or a number; raises when unknown. */
NS_HIDDEN int ns_checksignal(lua_State *L, int idx);
NS_HIDDEN const char *ns_signame(int sig);
NS_HIDDEN extern const ns_name ns_signals[];

/* fd userdata: "ns.fd". kind is a short label for __tostring ("pipe",
 * "pidfd", "pty", "dir", "signalfd", ...); it must be a static string.
 * owner and spawned say which process made it and whether that was
 * ns.spawn's child, which shares luactr's memory but not its fd table
 * (see fd.c for what that changes). */
typedef struct ns_fd {
	int fd;
	int owner;
	int spawned;
	const char *kind;
} ns_fd;
#define NS_FD_MT "ns.fd"
/* Set while ns.spawn's child runs (it is luactr's memory, so the parent
 * clears it when the child has gone). */
NS_HIDDEN extern int ns_spawn_active;
/* Push a new fd userdata owning fd (fd < 0 pushes a closed handle). */
NS_HIDDEN ns_fd *ns_pushfd(lua_State *L, int fd, const char *kind);
/* An fd userdata or a plain integer; raises when closed or wrong type. */
NS_HIDDEN int ns_checkfd(lua_State *L, int idx);
/* The userdata itself, or NULL when idx is not one. */
NS_HIDDEN ns_fd *ns_tofd(lua_State *L, int idx);
/* The fd at the top of the stack (a handle or an integer), which argument
 * arg holds as what ("fds[2]", "option 'pidfd'"); pops it. Raises naming
 * it when it is closed or not an fd. */
NS_HIDDEN int ns_popfd(lua_State *L, int arg, const char *what);

/* Reject keys of the option table at idx that are not in keys (NULL-ended). */
NS_HIDDEN void ns_checkopts(lua_State *L, int idx, const char *const keys[]);
/* Same for a table nested in argument arg (a list entry): the error names
 * arg and starts with prefix ("rule 2: "). */
NS_HIDDEN void ns_checkopts_arg(lua_State *L, int idx, const char *const keys[], int arg, const char *prefix);

/* Area openers, which core.c runs in order: each adds its functions (and
 * constants) to the table at the top of the stack. */
NS_HIDDEN void ns_open_util(lua_State *L);
NS_HIDDEN void ns_open_fd(lua_State *L);
NS_HIDDEN void ns_open_namespaces(lua_State *L);
NS_HIDDEN void ns_open_mounts(lua_State *L);
NS_HIDDEN void ns_open_process(lua_State *L);
NS_HIDDEN void ns_open_users(lua_State *L);
NS_HIDDEN void ns_open_caps(lua_State *L);
NS_HIDDEN void ns_open_filter(lua_State *L);
NS_HIDDEN void ns_open_files(lua_State *L);
NS_HIDDEN void ns_open_io(lua_State *L);
NS_HIDDEN void ns_open_signals(lua_State *L);
NS_HIDDEN void ns_open_tty(lua_State *L);
NS_HIDDEN void ns_open_ipc(lua_State *L);
NS_HIDDEN void ns_open_keys(lua_State *L);
NS_HIDDEN void ns_open_bpf(lua_State *L);
NS_HIDDEN void ns_open_landlock(lua_State *L);

#endif
