/*
 * repl.c - luactr's interactive prompt: `luactr -i`, and luactr with no
 * arguments on a terminal. lua.c's loop, with ns loaded: a line is tried as
 * an expression first ("=expr" is one too), a chunk that is not finished
 * reads more lines under ">> ", and values print as luactr.runner.inspect
 * shows them. Where stdin is a terminal, lines come from readline(3), with
 * its editing and history, and Ctrl-C there drops the line; elsewhere they
 * are read as they come. Ctrl-C while a chunk runs stops it with
 * "interrupted!" (a count hook, as in lua.c); a second one kills luactr.
 * It is the runner's C module luactr.runner.repl (build/luactr/runner/repl.so),
 * which luactr loads for the prompt alone: readline linked into luactr
 * cost every start a thousand relocations of its keymaps and ten page
 * faults.
 * See readline(3), pselect(2), signal(7).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>

#define PROMPT1 "luactr> "
#define PROMPT2 ">> "
#define EOFMARK "<eof>"

/* read_chunk's results besides the load statuses */
enum { CHUNK_EOF = -1, CHUNK_DROPPED = -2 };

static int tty;                  /* stdin is a terminal: readline */
static lua_CFunction msghandler; /* luactr's, for lua_pcall */
static int values_ref = LUA_NOREF; /* luactr.runner.inspect.values */

/* The state whose chunk runs; NULL at the prompt. */
static lua_State *volatile running;
static pid_t repl_pid; /* not a child that shares our memory (ns.spawn) */
static volatile sig_atomic_t interrupted, resized;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	luaL_error(L, "interrupted!");
}

/* At the prompt: a note for the reader, which drops the line. While a
 * chunk runs: a hook that raises at its next instruction, and the default
 * action back for a second Ctrl-C (a chunk stuck in C). In a child before
 * its exec (ns.spawn's shares our memory): the default action, as without
 * the REPL. */
static void on_sigint(int sig)
{
	lua_State *L = running;
	int ours = getpid() == repl_pid;
	if (L == NULL && ours) {
		interrupted = 1;
		return;
	}
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(sig, &dfl, NULL);
	if (ours)
		lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
	else
		raise(sig); /* delivered once this handler returns */
}

static void on_sigwinch(int sig)
{
	(void)sig;
	resized = 1;
}

/* No SA_RESTART for SIGINT: a blocking call returns EINTR, so that the
 * hook gets its turn; a resize restarts what it interrupts. */
static void catch_sigint(void)
{
	struct sigaction sa = {.sa_handler = on_sigint};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

static void report(lua_State *L, int status)
{
	if (status == LUA_OK)
		return;
	const char *msg = lua_tostring(L, -1);
	fprintf(stderr, "luactr: %s\n", msg ? msg : "(error object is not a string)");
	fflush(stderr);
	lua_pop(L, 1);
}

/* lua_pcall with luactr's message handler, Ctrl-C stopping the call. */
static int run(lua_State *L, int narg, int nres)
{
	int base = lua_gettop(L) - narg;
	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	running = L;
	int status = lua_pcall(L, narg, nres, base);
	running = NULL;
	/* A Ctrl-C that came after the call's last instruction. */
	if (lua_gethook(L) == stop_hook)
		lua_sethook(L, NULL, 0, 0);
	catch_sigint();
	lua_remove(L, base);
	return status;
}

/* readline's callback interface hands the line over here. */
static char *line_result;
static int line_got;

static void on_line(char *line)
{
	line_result = line;
	line_got = 1;
	rl_callback_handler_remove();
}

/* A line from readline, which waits in pselect(2): SIGINT and SIGWINCH get
 * through only there, so that neither slips in between a check and the
 * wait. Returns the line, NULL at the end of input or (with *intr set)
 * when Ctrl-C dropped it. */
static char *tty_line(const char *prompt, int *intr)
{
	sigset_t block, mask, waiting;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, &mask);
	waiting = mask;
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGWINCH);
	interrupted = 0;
	line_got = 0;
	line_result = NULL;
	rl_callback_handler_install(prompt, on_line);
	while (!line_got) {
		if (resized) {
			resized = 0;
			rl_resize_terminal();
		}
		fd_set fds;
		FD_ZERO(&fds);
		FD_SET(STDIN_FILENO, &fds);
		int r = pselect(STDIN_FILENO + 1, &fds, NULL, NULL, NULL, &waiting);
		if (interrupted) {
			/* The whole line stays on the screen, ^C after it. */
			rl_point = rl_end;
			rl_redisplay();
			fputs("^C\n", rl_outstream);
			rl_replace_line("", 0);
			rl_free_line_state();
			rl_callback_sigcleanup();
			rl_callback_handler_remove();
			*intr = 1;
			break;
		}
		if (r > 0) {
			rl_callback_read_char();
		} else if (r < 0 && errno != EINTR) {
			rl_callback_handler_remove(); /* stdin is gone: the end */
			break;
		}
	}
	sigprocmask(SIG_SETMASK, &mask, NULL);
	return line_result;
}

/* A line from stdin as it comes, without its newline; as tty_line. */
static char *plain_line(const char *prompt, int *intr)
{
	char *line = NULL;
	size_t cap = 0;
	fputs(prompt, stdout);
	fflush(stdout);
	interrupted = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n < 0) {
		free(line);
		if (interrupted && !feof(stdin)) {
			clearerr(stdin);
			fputs("\n", stdout);
			*intr = 1;
		}
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

static char *read_line(const char *prompt, int *intr)
{
	return tty ? tty_line(prompt, intr) : plain_line(prompt, intr);
}

/* A syntax error at the end of the text: a chunk that is not finished. */
static int incomplete(lua_State *L, int status)
{
	size_t len;
	const char *msg = lua_tolstring(L, -1, &len);
	return status == LUA_ERRSYNTAX && len >= sizeof EOFMARK - 1 &&
	       strcmp(msg + len - (sizeof EOFMARK - 1), EOFMARK) == 0;
}

static void remember(const char *text)
{
	if (tty && text[strspn(text, " \t")] != '\0')
		add_history(text);
}

/* Compiles what is typed next: "return LINE;" first, so that an
 * expression's values print, else statements, read on under PROMPT2 while
 * the chunk is not finished. Pushes the function and returns LUA_OK, or
 * pushes the error and returns a load status; pushes nothing and returns
 * CHUNK_EOF at the end of input, CHUNK_DROPPED when Ctrl-C dropped it. */
static int read_chunk(lua_State *L)
{
	int intr = 0;
	char *line = read_line(PROMPT1, &intr);
	if (line == NULL)
		return intr ? CHUNK_DROPPED : CHUNK_EOF;
	int eq = line[0] == '='; /* "=expr": "return expr", as in lua.c */
	if (!eq) {
		const char *ret = lua_pushfstring(L, "return %s;", line);
		if (luaL_loadbuffer(L, ret, strlen(ret), "=stdin") == LUA_OK) {
			lua_remove(L, -2);
			remember(line);
			free(line);
			return LUA_OK;
		}
		lua_pop(L, 2);
	}
	lua_pushstring(L, line); /* the text as typed, lines joined */
	free(line);
	int status;
	for (;;) {
		const char *text = lua_tostring(L, -1);
		const char *code = eq ? lua_pushfstring(L, "return %s", text + 1) : lua_pushstring(L, text);
		status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
		lua_remove(L, -2);
		if (!incomplete(L, status))
			break;
		char *more = read_line(PROMPT2, &intr);
		if (more == NULL) {
			if (!intr)
				break; /* the end of input: the error says what is missing */
			lua_pop(L, 2);
			return CHUNK_DROPPED;
		}
		lua_pop(L, 1);
		lua_pushfstring(L, "\n%s", more);
		free(more);
		lua_concat(L, 2);
	}
	remember(lua_tostring(L, -2));
	lua_remove(L, -2);
	return status;
}

/* Prints the n values on top of the stack (and pops them): through
 * luactr.runner.inspect, or print when that did not load. */
static void print_values(lua_State *L, int n)
{
	if (values_ref == LUA_NOREF) {
		lua_getglobal(L, "print");
		lua_insert(L, -n - 1);
		report(L, run(L, n, 0));
		return;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, values_ref);
	lua_insert(L, -n - 1);
	int status = run(L, n, 1);
	if (status == LUA_OK) {
		size_t len;
		const char *s = lua_tolstring(L, -1, &len);
		fwrite(s, 1, len, stdout);
		fputs("\n", stdout);
		fflush(stdout);
		lua_pop(L, 1);
	}
	report(L, status);
}

/* luactr.runner.inspect's values(), kept in the registry. */
static void load_inspect(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "luactr.runner.inspect");
	if (run(L, 1, 1) != LUA_OK) {
		lua_pop(L, 1);
		return;
	}
	if (lua_getfield(L, -1, "values") == LUA_TFUNCTION)
		values_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	else
		lua_pop(L, 1);
	lua_pop(L, 1);
}

/* Loads ns as the global ns, then reads, evaluates and prints on stdin
 * until its end (readline(3) where stdin is a terminal). Errors are
 * reported on stderr and the loop goes on; msgh is the lua_pcall message
 * handler that shapes them (with a traceback under LUACTR_DEBUG). */
static void luactr_repl(lua_State *L, lua_CFunction msgh)
{
	struct sigaction old_int, old_winch;
	msghandler = msgh;
	repl_pid = getpid();
	tty = isatty(STDIN_FILENO);
	sigaction(SIGINT, NULL, &old_int);
	catch_sigint();
	if (tty) {
		struct sigaction sa = {.sa_handler = on_sigwinch, .sa_flags = SA_RESTART};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, &old_winch);
		/* Ours, not readline's: it would catch them only inside
		 * rl_callback_read_char. */
		rl_catch_signals = 0;
		rl_catch_sigwinch = 0;
		rl_readline_name = "luactr";
		using_history();
	}
	if (luaL_loadstring(L, "ns = require 'ns'") != LUA_OK || run(L, 0, 0) != LUA_OK) {
		report(L, LUA_ERRRUN);
		goto out;
	}
	load_inspect(L);
	for (;;) {
		int top = lua_gettop(L);
		int status = read_chunk(L);
		if (status == CHUNK_EOF)
			break;
		if (status == CHUNK_DROPPED)
			continue;
		if (status == LUA_OK)
			status = run(L, 0, LUA_MULTRET);
		if (status == LUA_OK && lua_gettop(L) > top)
			print_values(L, lua_gettop(L) - top);
		report(L, status);
		lua_settop(L, top);
	}
	fputs("\n", stdout);
out:
	fflush(stdout);
	if (values_ref != LUA_NOREF)
		luaL_unref(L, LUA_REGISTRYINDEX, values_ref);
	values_ref = LUA_NOREF;
	sigaction(SIGINT, &old_int, NULL);
	if (tty)
		sigaction(SIGWINCH, &old_winch, NULL);
}

/* repl(msgh): the prompt, until the end of stdin; msgh is the runner's
 * message handler (a C function). */
static int repl_run(lua_State *L)
{
	lua_CFunction msgh = lua_tocfunction(L, 1);
	luaL_argcheck(L, msgh != NULL, 1, "the runner's message handler (a C function)");
	lua_settop(L, 0);
	luactr_repl(L, msgh);
	return 0;
}

int luaopen_luactr_runner_repl(lua_State *L);
__attribute__((visibility("default"))) int luaopen_luactr_runner_repl(lua_State *L)
{
	lua_pushcfunction(L, repl_run);
	return 1;
}
