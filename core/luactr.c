/*
 * luactr.c - the runner: Lua 5.4 with ns.core preloaded and the tree's (or
 * the installed) lua/ on package.path. `luactr RECIPE.lua [args]` runs a
 * recipe as lua5.4 would; `luactr NAME [args]` runs the shipped command
 * lua/luactr/NAME.lua (run, image, gc); -e, -i (the REPL, repl.c), --plan,
 * --timings, --version.
 * See lua.c in the Lua 5.4 sources for the conventions it follows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_ns_core(lua_State *L);

#define LUACTR_VERSION "0.1.0"

static const char *progname = "luactr";

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [options] [RECIPE.lua | COMMAND] [args...]\n"
	        "Runs a Lua recipe with the ns library (require \"ns\").\n"
	        "  -e CODE      run CODE (may be repeated)\n"
	        "  -i           interactive prompt with ns loaded (after a recipe or -e);\n"
	        "               with no arguments on a terminal, luactr opens it too\n"
	        "  --plan       print each container's ops (with --json: as JSON) instead of running them\n"
	        "  --timings    print each container step's time after the run (or the failure)\n"
	        "  --version    print the version\n"
	        "  --help       print this help\n"
	        "  -            read the recipe from standard input (what no arguments do\n"
	        "               when it is not a terminal)\n"
	        "Commands shipped in lua/luactr/: run (a container from an image or a\n"
	        "recipe, with docker run's flags, -d in the background: luactr run --help;\n"
	        "--plan and --timings go before it); ps, exec, logs, stop, kill, start,\n"
	        "restart, wait, rm, inspect, top, pause, unpause, stats, commit (containers\n"
	        "by id, id prefix or name: luactr CMD --help); image (pull, import, save,\n"
	        "ls, inspect, rm, prune: luactr image --help); seccomp show (a profile's\n"
	        "summary); gc (remove leftover cgroups; with --uppers, also the kept upper\n"
	        "layers that no container uses).\n"
	        "Environment: LUACTR_DEBUG=1 prints tracebacks; LUACTR_ROOT, LUACTR_STATE\n"
	        "set where images and running state live.\n",
	        progname);
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The directory of the running binary, or "" when /proc is not there. */
static void exe_dir(char *buf, size_t n)
{
	ssize_t r = readlink("/proc/self/exe", buf, n - 1);
	if (r <= 0 || (size_t)r == n - 1) { /* none, or cut short */
		buf[0] = '\0';
		return;
	}
	buf[r] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
}

/* Where the modules are, found by find_dirs(): the sources (libdir), the
 * C modules (cdir) and the bytecode that the build made of the sources
 * (bcdir); "" for none. */
static char libdir[PATH_MAX], cdir[PATH_MAX], bcdir[PATH_MAX];

/* mtime of path in nanoseconds, or -1 */
static long long mtime_ns(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

/* A package.searchers entry that loads lua/NAME.lua precompiled by the
 * build (build/lua/NAME.luac, installed as PREFIX/lib/luactr/NAME.luac)
 * when that is at least as new as the source:
 * compiling the container modules costs more than the syscalls of a
 * container start on a small machine. The bytecode is stripped of debug
 * information (loading that costs a tenth of a start); under LUACTR_DEBUG
 * the sources are loaded instead, so that tracebacks have their lines. A
 * stale or missing .luac falls through to the ordinary Lua searcher. */
/* The bundle: bcdir/bundle.luac, the start path's modules as loaders in
 * one chunk (scripts/bundle.lua), read once at the first require instead
 * of a file a module. */
static int bundle_ref = LUA_NOREF, bundle_tried;
static long long bundle_mtime = -1;

/* The bundle is mapped and undumped from memory: luaL_loadfilex opens it
 * twice and reads it 4 KiB at a time through stdio, 16 system calls a
 * start for one file. */
static void load_bundle(lua_State *L)
{
	char path[PATH_MAX + 300];
	struct stat st;
	bundle_tried = 1;
	snprintf(path, sizeof path, "%s/bundle.luac", bcdir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	void *map = fstat(fd, &st) == 0 && st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
	                                                    : MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED)
		return;
	int status = luaL_loadbufferx(L, map, (size_t)st.st_size, "=bundle", "b");
	munmap(map, (size_t)st.st_size);
	if (status != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
		lua_pop(L, 1); /* a broken bundle: the files are loaded one by one */
		return;
	}
	bundle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	bundle_mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

static int bytecode_searcher(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	static const char *const tails[] = {".lua", "/init.lua"};
	char rel[256], src[PATH_MAX + 300], bc[PATH_MAX + 300];
	const char *dbg = getenv("LUACTR_DEBUG");
	if (!bcdir[0] || strlen(name) >= sizeof rel || (dbg && *dbg && strcmp(dbg, "0") != 0)) {
		lua_pushliteral(L, "no precompiled module");
		return 1;
	}
	for (size_t i = 0; name[i] || (rel[i] = '\0'); i++)
		rel[i] = name[i] == '.' ? '/' : name[i];
	if (!bundle_tried)
		load_bundle(L);
	if (bundle_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, bundle_ref);
		if (lua_getfield(L, -1, name) == LUA_TFUNCTION) {
			/* Fresh only while its source is not newer than the bundle. */
			for (size_t f = 0; f < sizeof tails / sizeof tails[0]; f++) {
				snprintf(src, sizeof src, "%s/%s%s", libdir, rel, tails[f]);
				long long ms = mtime_ns(src);
				if (ms >= 0 && ms <= bundle_mtime) {
					lua_pushstring(L, src);
					return 2;
				}
				if (ms >= 0)
					break;
			}
		}
		lua_pop(L, 2);
	}
	for (size_t f = 0; f < sizeof tails / sizeof tails[0]; f++) {
		snprintf(src, sizeof src, "%s/%s%s", libdir, rel, tails[f]);
		snprintf(bc, sizeof bc, "%s/%s%sc", bcdir, rel, tails[f]);
		long long ms = mtime_ns(src), mb = mtime_ns(bc);
		if (ms < 0 || mb < ms)
			continue;
		if (luaL_loadfilex(L, bc, "b") != LUA_OK)
			return lua_error(L);
		lua_pushstring(L, src);
		return 2;
	}
	lua_pushfstring(L, "no precompiled module '%s' in %s", name, bcdir);
	return 1;
}

#define LUADIR_TAIL "lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR

/* Finds the module dirs from the binary's own path, so that an install
 * follows its prefix whatever the build was made for: lua/, build/lua/ and build/ (C modules)
 * beside ./luactr in a build tree; for PREFIX/bin/luactr, PREFIX/share/lua/5.4,
 * PREFIX/lib/lua/5.4 and PREFIX/lib/luactr (see `make install`); else none,
 * and lua5.4's default paths alone. */
static void find_dirs(void)
{
	/* Room after the directory for the longest tail below. */
	char dir[PATH_MAX - 64], probe[PATH_MAX];
	exe_dir(dir, sizeof dir);
	snprintf(probe, sizeof probe, "%s/lua/ns/init.lua", dir);
	if (dir[0] && file_exists(probe)) {
		snprintf(libdir, sizeof libdir, "%s/lua", dir);
		snprintf(bcdir, sizeof bcdir, "%s/build/lua", dir);
		snprintf(cdir, sizeof cdir, "%s/build", dir); /* build/ns/NAME.so */
		return;
	}
	char *slash = strrchr(dir, '/');
	if (!slash || strcmp(slash, "/bin") != 0)
		return;
	*slash = '\0'; /* the prefix, "" for /bin */
	snprintf(probe, sizeof probe, "%s/share/" LUADIR_TAIL "/ns/init.lua", dir);
	if (!file_exists(probe))
		return;
	snprintf(libdir, sizeof libdir, "%s/share/" LUADIR_TAIL, dir);
	snprintf(cdir, sizeof cdir, "%s/lib/" LUADIR_TAIL, dir);
	snprintf(bcdir, sizeof bcdir, "%s/lib/luactr", dir);
}

/* Puts libdir first on package.path and cdir on package.cpath, preloads
 * ns.core, and puts bytecode_searcher right after the preload searcher. */
static void set_paths(lua_State *L)
{
	find_dirs();
	lua_getglobal(L, "package");
	if (libdir[0]) {
		lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", libdir, libdir);
		lua_getfield(L, -2, "path");
		lua_concat(L, 2);
		lua_setfield(L, -2, "path");
	}
	if (cdir[0]) {
		lua_pushfstring(L, "%s/?.so;", cdir);
		lua_getfield(L, -2, "cpath");
		lua_concat(L, 2);
		lua_setfield(L, -2, "cpath");
	}
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, luaopen_ns_core);
	lua_setfield(L, -2, "ns.core");
	lua_pop(L, 1);
	/* searchers: preload, then ours, then Lua's and C's. */
	lua_getfield(L, -1, "searchers");
	for (lua_Integer i = luaL_len(L, -1); i >= 2; i--) {
		lua_geti(L, -1, i);
		lua_seti(L, -2, i + 1);
	}
	lua_pushcfunction(L, bytecode_searcher);
	lua_seti(L, -2, 2);
	lua_pop(L, 2);
}

static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	const char *dbg = getenv("LUACTR_DEBUG");
	if (dbg && *dbg && strcmp(dbg, "0") != 0)
		luaL_traceback(L, L, msg, 1);
	else
		lua_pushstring(L, msg);
	return 1;
}

static int report(lua_State *L, int status)
{
	if (status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
		fflush(stderr);
		lua_pop(L, 1);
	}
	return status;
}

static int docall(lua_State *L, int narg, int nres)
{
	int base = lua_gettop(L) - narg;
	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	int status = lua_pcall(L, narg, nres, base);
	lua_remove(L, base);
	return status;
}

static int dostring(lua_State *L, const char *s, const char *name)
{
	int status = luaL_loadbuffer(L, s, strlen(s), name);
	if (status == LUA_OK)
		status = docall(L, 0, 0);
	return report(L, status);
}

/* The prompt: the C module luactr.runner.repl (repl.c, with readline),
 * loaded only for it. */
static int repl(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "luactr.runner.repl");
	int status = docall(L, 1, 1);
	if (status == LUA_OK) {
		lua_pushcfunction(L, msghandler);
		status = docall(L, 1, 0);
	}
	return report(L, status);
}

/* arg = { [-n..-1] = options, [0] = script, [1..] = its arguments } */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
	lua_createtable(L, argc - script - 1, script + 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - script);
	}
	lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, const char *fname, char **argv, int argc, int script)
{
	int status = luaL_loadfile(L, strcmp(fname, "-") == 0 ? NULL : fname);
	if (status != LUA_OK)
		return report(L, status);
	int n = argc - script - 1;
	luaL_checkstack(L, n + 3, "too many arguments to script");
	for (int i = script + 1; i < argc; i++)
		lua_pushstring(L, argv[i]);
	return report(L, docall(L, n, 0));
}

/* The real main, run protected: parses options, then runs what they say. */
static int pmain(lua_State *L)
{
	int argc = (int)lua_tointeger(L, 1);
	char **argv = (char **)lua_touserdata(L, 2);
	int interactive = 0, ran_code = 0, script = 0;
	luaL_openlibs(L);
	set_paths(L);
	lua_gc(L, LUA_GCRESTART);
	lua_gc(L, LUA_GCGEN, 0, 0);

	/* Called as luactr-oci (a link to this binary): the OCI runtime's
	 * command line, runc's, parsed by lua/luactr/oci.lua. */
	const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : argv[0];
	if (base && strcmp(base, "luactr-oci") == 0 && libdir[0]) {
		char oci[PATH_MAX + 32];
		snprintf(oci, sizeof oci, "%s/luactr/oci.lua", libdir);
		create_arg_table(L, argv, argc, 0);
		lua_pushboolean(L, run_script(L, oci, argv, argc, 0) == LUA_OK);
		return 1;
	}

	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
			printf("luactr %s (%s)\n", LUACTR_VERSION, LUA_RELEASE);
			lua_pushboolean(L, 1);
			return 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			lua_pushboolean(L, 1);
			return 1;
		} else if (strcmp(a, "--plan") == 0 || strcmp(a, "--json") == 0 || strcmp(a, "--timings") == 0) {
			/* --json goes with --plan: the op list as JSON. What they
			 * print is the runner's (lua/luactr/runner/report.lua, on
			 * ns.container's hooks), never the library's. */
			if (strcmp(a, "--timings") == 0)
				setenv("LUACTR_TIMINGS", "1", 1);
			else if (strcmp(a, "--json") == 0 || !getenv("LUACTR_PLAN"))
				setenv("LUACTR_PLAN", a[2] == 'j' ? "json" : "1", 1);
			if (dostring(L, "package.loaded['luactr.runner.report'] = nil; require 'luactr.runner.report'",
				     "=(luactr)") != LUA_OK) {
				lua_pushboolean(L, 0);
				return 1;
			}
		} else if (strcmp(a, "-i") == 0) {
			interactive = 1;
		} else if (strcmp(a, "-e") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "%s: '-e' needs an argument\n", progname);
				usage(stderr);
				lua_pushboolean(L, 0);
				return 1;
			}
			ran_code = 1;
			/* arg exists for -e code too, with nothing after the script slot. */
			create_arg_table(L, argv, argc, argc - 1);
			if (dostring(L, argv[i], "=(command line)") != LUA_OK) {
				lua_pushboolean(L, 0);
				return 1;
			}
		} else if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
			usage(stderr);
			lua_pushboolean(L, 0);
			return 1;
		} else {
			break;
		}
	}
	if (i < argc) {
		script = i;
		const char *fname = argv[script];
		char cmd[PATH_MAX + 64];
		/* A bare word that is not a file is a shipped command. */
		if (libdir[0] && !strchr(fname, '/') && !file_exists(fname) && strcmp(fname, "-") != 0) {
			snprintf(cmd, sizeof cmd, "%s/luactr/%s.lua", libdir, fname);
			if (file_exists(cmd))
				fname = cmd;
		}
		create_arg_table(L, argv, argc, script);
		if (run_script(L, fname, argv, argc, script) != LUA_OK) {
			lua_pushboolean(L, 0);
			return 1;
		}
	} else if (!ran_code && !interactive) {
		if (isatty(0)) {
			interactive = 1;
		} else {
			create_arg_table(L, argv, argc, argc - 1);
			if (run_script(L, "-", argv, argc, argc - 1) != LUA_OK) {
				lua_pushboolean(L, 0);
				return 1;
			}
		}
	}
	if (interactive) {
		if (isatty(STDIN_FILENO))
			printf("luactr %s (%s), ns loaded: =expr prints, Ctrl-C stops a chunk, Ctrl-D leaves\n",
			       LUACTR_VERSION, LUA_RELEASE);
		if (repl(L) != LUA_OK) {
			lua_pushboolean(L, 0);
			return 1;
		}
	}
	lua_pushboolean(L, 1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argv[0] && argv[0][0])
		progname = "luactr";
	lua_State *L = luaL_newstate();
	if (L == NULL) {
		fprintf(stderr, "%s: cannot create Lua state: not enough memory\n", progname);
		return EXIT_FAILURE;
	}
	lua_gc(L, LUA_GCSTOP);
	lua_pushcfunction(L, pmain);
	lua_pushinteger(L, argc);
	lua_pushlightuserdata(L, argv);
	int status = lua_pcall(L, 2, 1, 0);
	int ok = lua_toboolean(L, -1);
	report(L, status);
	lua_close(L);
	return (ok && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
