/*
 * seccomp.c - ns.seccomp: libseccomp, to compile a profile (already
 * resolved by the Lua layer: no includes, no capabilities here) into the
 * raw classic BPF program that ns.core's seccomp_load installs, and to ask
 * it which syscall and architecture names it knows. A module of its own
 * (build/ns/seccomp.so), loaded only to compile or to check a profile: a
 * start whose program is cached never resolves libseccomp.
 * See seccomp_init(3), seccomp_rule_add(3), seccomp_export_bpf(3),
 * seccomp_syscall_resolve_name(3), seccomp_arch_add(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "ns.h"

/* libseccomp's architecture names (seccomp_arch_resolve_name knows each). */
static const char *const arch_names[] = {
	"aarch64", "arm", "loongarch64", "mips", "mips64", "mips64n32", "mipsel", "mipsel64", "mipsel64n32",
	"parisc", "parisc64", "ppc", "ppc64", "ppc64le", "riscv64", "s390", "s390x", "x32", "x86", "x86_64", NULL,
};

static const char *const action_names[] = {"allow", "errno", "kill", "kill_process", "kill_thread", "log",
					   "notify", "trap", NULL};

static const char *const cmp_names[] = {"eq", "ge", "gt", "le", "lt", "masked_eq", "ne", NULL};
static const enum scmp_compare cmp_ops[] = {SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_LE,
					    SCMP_CMP_LT, SCMP_CMP_MASKED_EQ, SCMP_CMP_NE};

/* The largest program the kernel takes: BPF_MAXINSNS instructions. */
#define PROG_MAX_INSNS 4096
#define PROG_MAX_BYTES (PROG_MAX_INSNS * 8)
/* How many numbers from an ABI's base are asked for a name. */
#define NR_SCAN 1024

/* The index in list of the string at the top of the stack, popped;
 * raises "<what>: unknown <kind> 'x'" for anything else. */
static int pop_option(lua_State *L, const char *const list[], const char *what, const char *kind)
{
	const char *s = lua_tostring(L, -1);
	if (s && lua_type(L, -1) == LUA_TSTRING)
		for (int i = 0; list[i]; i++)
			if (strcmp(list[i], s) == 0) {
				lua_pop(L, 1);
				return i;
			}
	return luaL_error(L, "%s: unknown %s '%s'", what, kind, s ? s : luaL_typename(L, -1));
}

/* One rule of the filter: a name of a group, with the group's action and
 * conditions. */
typedef struct rule {
	const char *name; /* the profile table's string, kept alive on the stack */
	uint32_t action;
	unsigned nargs;
	struct scmp_arg_cmp args[6];
	int skipped; /* the name is not libseccomp's */
} rule;

/* The action named by t's field "action" (t at idx), with its "errno". */
static uint32_t check_action(lua_State *L, int idx, const char *field, const char *errfield, const char *what)
{
	lua_getfield(L, idx, field);
	int a = pop_option(L, action_names, what, "action");
	lua_Integer e = 0;
	if (lua_getfield(L, idx, errfield) != LUA_TNIL) {
		int isnum;
		e = lua_tointegerx(L, -1, &isnum);
		if (!isnum || e < 0 || e > 4095)
			luaL_error(L, "%s: errno must be a number from 0 to 4095", what);
	}
	lua_pop(L, 1);
	switch (a) {
	case 0: return SCMP_ACT_ALLOW;
	case 1: return SCMP_ACT_ERRNO((uint16_t)e);
	case 2:
	case 3: return SCMP_ACT_KILL_PROCESS;
	case 4: return SCMP_ACT_KILL_THREAD;
	case 5: return SCMP_ACT_LOG;
	case 6: return SCMP_ACT_NOTIFY;
	default: return SCMP_ACT_TRAP;
	}
}

/* An integer field i of the list at the top, as the u64 the kernel compares. */
static uint64_t arg_value(lua_State *L, int i, const char *what)
{
	int isnum;
	lua_geti(L, -1, i);
	lua_Integer v = lua_tointegerx(L, -1, &isnum);
	if (!isnum)
		luaL_error(L, "%s: value %d must be an integer", what, i - 2);
	lua_pop(L, 1);
	return (uint64_t)v;
}

/* Check the rules (the list at idx) and fill out (NULL: count only);
 * returns how many rules the groups make. Raises on misuse, before any
 * libseccomp state exists. */
static int parse_rules(lua_State *L, int idx, rule *out)
{
	int n = 0;
	lua_Integer groups = luaL_len(L, idx);
	for (lua_Integer g = 1; g <= groups; g++) {
		char what[48];
		snprintf(what, sizeof what, "rules[%lld]", (long long)g);
		if (lua_geti(L, idx, g) != LUA_TTABLE)
			luaL_error(L, "%s must be a table", what);
		int gi = lua_gettop(L);
		uint32_t action = check_action(L, gi, "action", "errno", what);
		struct scmp_arg_cmp args[6];
		unsigned nargs = 0;
		if (lua_getfield(L, gi, "args") == LUA_TTABLE) {
			lua_Integer na = luaL_len(L, -1);
			if (na > 6)
				luaL_error(L, "%s: at most 6 args", what);
			for (lua_Integer a = 1; a <= na; a++) {
				if (lua_geti(L, -1, a) != LUA_TTABLE)
					luaL_error(L, "%s: args[%d] must be a list", what, (int)a);
				lua_geti(L, -1, 1);
				lua_Integer index = lua_tointeger(L, -1);
				if (!lua_isinteger(L, -1) || index < 0 || index > 5)
					luaL_error(L, "%s: args[%d]: the index must be 0 to 5", what, (int)a);
				lua_pop(L, 1);
				lua_geti(L, -1, 2);
				int op = pop_option(L, cmp_names, what, "op");
				args[nargs].arg = (unsigned)index;
				args[nargs].op = cmp_ops[op];
				args[nargs].datum_a = arg_value(L, 3, what);
				args[nargs].datum_b = luaL_len(L, -1) >= 4 ? arg_value(L, 4, what) : 0;
				nargs++;
				lua_pop(L, 1);
			}
		} else if (!lua_isnil(L, -1)) {
			luaL_error(L, "%s: args must be a list", what);
		}
		lua_pop(L, 1);
		if (lua_getfield(L, gi, "names") != LUA_TTABLE)
			luaL_error(L, "%s: names must be a list", what);
		lua_Integer nn = luaL_len(L, -1);
		for (lua_Integer k = 1; k <= nn; k++) {
			if (lua_geti(L, -1, k) != LUA_TSTRING)
				luaL_error(L, "%s: names[%d] must be a string", what, (int)k);
			if (out) {
				rule *r = &out[n];
				r->name = lua_tostring(L, -1); /* anchored by the profile table */
				r->action = action;
				r->nargs = nargs;
				memcpy(r->args, args, sizeof args);
				r->skipped = 0;
			}
			n++;
			lua_pop(L, 1);
		}
		lua_pop(L, 2);
	}
	return n;
}

/* Push nil, "<call> <arg>: <strerror> (<ENAME>)", errno for libseccomp's
 * rc (a negative errno), after releasing ctx. */
static int lib_fail(lua_State *L, scmp_filter_ctx ctx, int rc, const char *call, const char *arg)
{
	seccomp_release(ctx);
	return ns_fail_errno(L, -rc, call, arg);
}

/* The numbers of an architecture's calls begin at its ABI's base: x32's
 * have bit 30 set (and share x86_64's audit arch), mips o32's begin at
 * 4000, n64's at 5000, n32's at 6000; the others' at 0. */
static uint32_t abi_base(uint32_t tok)
{
	switch (tok) {
	case SCMP_ARCH_X32: return 0x40000000u;
	case SCMP_ARCH_MIPS:
	case SCMP_ARCH_MIPSEL: return 4000;
	case SCMP_ARCH_MIPS64:
	case SCMP_ARCH_MIPSEL64: return 5000;
	case SCMP_ARCH_MIPS64N32:
	case SCMP_ARCH_MIPSEL64N32: return 6000;
	default: return 0;
	}
}

/* The highest number libseccomp knows a call of arch tok by (0: none). */
static uint32_t highest_known(uint32_t tok)
{
	uint32_t base = abi_base(tok), top = 0;
	for (uint32_t nr = 0; nr < NR_SCAN; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(tok, (int)(base + nr));
		if (name) {
			top = base + nr;
			free(name);
		}
	}
	return top;
}

/* One call libseccomp is too old to know, allowed by its number: the
 * number in the common table (every architecture's since Linux 5.1 but
 * for the ABI's base), or of one architecture only. */
typedef struct extra {
	uint32_t nr;
	uint32_t arch; /* 0: every architecture of the filter */
} extra;

/* Put before libseccomp's program (prog, n instructions) the prologue
 * that runc's idea asks for: per architecture of the filter (but x32,
 * whose calls go on to libseccomp's program as before), a call numbered
 * above every call that libseccomp knows there fails with ENOSYS, which a
 * program takes for "this kernel is older" and falls back (glibc does),
 * rather than the default's EPERM; and the extras are allowed. Returns the
 * new length, or -1 when the prologue's jumps would not fit (out has room
 * for PROG_MAX_INSNS). BPF jumps go forward only, and libseccomp's jumps are
 * relative, so its program is unchanged behind the prologue. */
static int prologue(struct sock_filter *out, const struct sock_filter *prog, int n, const uint32_t *arches,
		    int narch, const extra *extras, int nextra, int enosys)
{
	enum { T_NEXT = -1, T_OUT = -2, T_ALLOW = -3, T_ENOSYS = -4 };
	struct sock_filter code[PROG_MAX_INSNS];
	int jt[PROG_MAX_INSNS], jf[PROG_MAX_INSNS], block[24];
	int k = 0, nb = 0;
	code[k] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4);
	jt[k] = jf[k] = 0;
	k++;
	for (int i = 0; i < narch; i++) {
		uint32_t tok = arches[i];
		if (tok == SCMP_ARCH_X32)
			continue;
		uint32_t top = highest_known(tok);
		if (!top)
			continue;
		for (int e = 0; e < nextra; e++)
			if ((!extras[e].arch || extras[e].arch == tok) && abi_base(tok) + extras[e].nr > top)
				top = abi_base(tok) + extras[e].nr;
		uint32_t low = UINT32_MAX; /* the lowest extra of this arch */
		for (int e = 0; e < nextra; e++)
			if ((!extras[e].arch || extras[e].arch == tok) && abi_base(tok) + extras[e].nr < low)
				low = abi_base(tok) + extras[e].nr;
		if (k + 6 + nextra + 2 >= PROG_MAX_INSNS)
			return -1;
		/* Most calls pass four tests here (the kernel runs every number
		 * through this to fill its action cache, at each filter's load):
		 * past the last known, below the lowest extra, then the extras. */
		block[nb++] = k;
		code[k] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, tok, 0, 0);
		jt[k] = 0, jf[k] = T_NEXT, k++;
		code[k] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
		jt[k] = jf[k] = 0, k++;
		if (tok == SCMP_ARCH_X86_64) {
			code[k] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 0);
			jt[k] = T_OUT, jf[k] = 0, k++;
		}
		code[k] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, top, 0, 0);
		jt[k] = enosys ? T_ENOSYS : T_OUT, jf[k] = 0, k++;
		if (low != UINT32_MAX) {
			code[k] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, low, 0, 0);
			jt[k] = 0, jf[k] = T_OUT, k++;
			for (int e = 0; e < nextra; e++) {
				if (extras[e].arch && extras[e].arch != tok)
					continue;
				code[k] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, abi_base(tok) + extras[e].nr, 0, 0);
				jt[k] = T_ALLOW, jf[k] = 0, k++;
			}
		}
		code[k] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0);
		jt[k] = jf[k] = T_OUT, k++;
	}
	if (nb == 0)
		return -2; /* nothing to add */
	int out_at = k, allow_at = k + 1, enosys_at = k + 2, after = k + 3;
	code[out_at] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 2);
	code[allow_at] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	code[enosys_at] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
	jt[out_at] = jf[out_at] = jt[allow_at] = jf[allow_at] = jt[enosys_at] = jf[enosys_at] = 0;
	if (after + n > PROG_MAX_INSNS)
		return -1;
	for (int i = 0, b = 0; i < out_at; i++) {
		while (b < nb && block[b] <= i)
			b++;
		int next = b < nb ? block[b] : out_at;
		if (code[i].code == (BPF_JMP | BPF_JA)) {
			/* An unconditional jump's offset is its k (32 bits). */
			code[i].k = (uint32_t)((jt[i] == T_OUT ? out_at : i + 1) - i - 1);
			code[i].jt = code[i].jf = 0;
			continue;
		}
		int *t[2] = {&jt[i], &jf[i]};
		unsigned char *field[2] = {&code[i].jt, &code[i].jf};
		for (int j = 0; j < 2; j++) {
			int to = *t[j] == T_NEXT ? next : *t[j] == T_OUT ? out_at : *t[j] == T_ALLOW ? allow_at
				: *t[j] == T_ENOSYS ? enosys_at : i + 1;
			if (to - i - 1 > 255)
				return -1;
			*field[j] = (unsigned char)(to - i - 1);
		}
	}
	memcpy(out, code, (size_t)after * sizeof *code);
	memcpy(out + after, prog, (size_t)n * sizeof *prog);
	return after + n;
}

/* compile(t) -> the program (8 bytes an instruction), and the list of the
 * names left out because libseccomp does not know them. t: default (an
 * action: allow errno kill kill_process kill_thread log notify trap),
 * errno (the default's, for errno), arches (libseccomp names: the filter
 * covers those, and no other), rules = {{action, errno, names = {...},
 * args = {{index, op, value [, value2]}, ...}}, ...} (op: eq ne lt le gt
 * ge masked_eq; the conditions of a rule all hold for it to match). A
 * rule whose action is the default's is left out (libseccomp refuses it).
 * The program is a binary tree of the syscalls (SCMP_FLTATR_CTL_OPTIMIZE
 * 2); a call of another architecture kills the process. extra = {{nr [,
 * arch]}, ...}: calls libseccomp does not know, allowed by number (the
 * common table's, from each ABI's base; arch: of that one only); enosys:
 * a call numbered above every one known fails with ENOSYS (see prologue). */
static int ns_seccomp_compile(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	uint32_t def = check_action(L, 1, "default", "errno", "default");
	if (lua_getfield(L, 1, "arches") != LUA_TTABLE)
		luaL_error(L, "arches must be a list of architecture names");
	uint32_t arches[24];
	int narch = 0;
	lua_Integer na = luaL_len(L, -1);
	if (na < 1 || na > 20)
		luaL_error(L, "arches must list 1 to 20 architectures");
	for (lua_Integer i = 1; i <= na; i++) {
		lua_geti(L, -1, i);
		int a = pop_option(L, arch_names, "arches", "architecture");
		arches[narch++] = seccomp_arch_resolve_name(arch_names[a]);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "rules") != LUA_TTABLE)
		luaL_error(L, "rules must be a list");
	int ri = lua_gettop(L);
	extra extras[32];
	int nextra = 0;
	if (lua_getfield(L, 1, "extra") == LUA_TTABLE) {
		lua_Integer ne = luaL_len(L, -1);
		if (ne > 32)
			luaL_error(L, "extra: at most 32 calls");
		for (lua_Integer i = 1; i <= ne; i++) {
			if (lua_geti(L, -1, i) != LUA_TTABLE)
				luaL_error(L, "extra[%d] must be a table", (int)i);
			lua_getfield(L, -1, "nr");
			int isnum;
			lua_Integer nr = lua_tointegerx(L, -1, &isnum);
			if (!isnum || nr < 0 || nr >= NR_SCAN)
				luaL_error(L, "extra[%d]: nr must be a number from 0 to %d", (int)i, NR_SCAN - 1);
			lua_pop(L, 1);
			extras[nextra].nr = (uint32_t)nr;
			extras[nextra].arch = 0;
			if (lua_getfield(L, -1, "arch") != LUA_TNIL)
				extras[nextra].arch = seccomp_arch_resolve_name(arch_names[pop_option(L, arch_names, "extra", "architecture")]);
			else
				lua_pop(L, 1);
			nextra++;
			lua_pop(L, 1);
		}
	} else if (!lua_isnil(L, -1)) {
		luaL_error(L, "extra must be a list");
	}
	lua_pop(L, 1);
	lua_getfield(L, 1, "enosys");
	int enosys = lua_toboolean(L, -1);
	lua_pop(L, 1);
	int n = parse_rules(L, ri, NULL);
	rule *rules = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(rule), 0);
	parse_rules(L, ri, rules);

	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return ns_fail_errno(L, ENOMEM, "seccomp_init", NULL);
	int rc;
	uint32_t native = seccomp_arch_native();
	int keep_native = 0;
	for (int i = 0; i < narch; i++) {
		if (arches[i] == native) {
			keep_native = 1;
		} else if ((rc = seccomp_arch_add(ctx, arches[i])) < 0 && rc != -EEXIST) {
			return lib_fail(L, ctx, rc, "seccomp_arch_add", NULL);
		}
	}
	if (!keep_native && (rc = seccomp_arch_remove(ctx, native)) < 0)
		return lib_fail(L, ctx, rc, "seccomp_arch_remove", NULL);
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		return lib_fail(L, ctx, rc, "seccomp_attr_set", "SCMP_FLTATR_ACT_BADARCH");
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
		return lib_fail(L, ctx, rc, "seccomp_attr_set", "SCMP_FLTATR_CTL_OPTIMIZE");
	for (int i = 0; i < n; i++) {
		rule *r = &rules[i];
		if (r->action == def)
			continue;
		int nr = seccomp_syscall_resolve_name(r->name);
		if (nr == __NR_SCMP_ERROR) {
			r->skipped = 1;
			continue;
		}
		rc = seccomp_rule_add_array(ctx, r->action, nr, r->nargs, r->args);
		if (rc < 0)
			return lib_fail(L, ctx, rc, "seccomp_rule_add", r->name);
	}
	int fd = memfd_create("luactr-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		seccomp_release(ctx);
		return ns_fail_errno(L, err, "memfd_create", NULL);
	}
	rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (rc < 0) {
		close(fd);
		return ns_fail_errno(L, -rc, "seccomp_export_bpf", NULL);
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > PROG_MAX_BYTES) {
		int err = errno ? errno : E2BIG;
		close(fd);
		return ns_fail_errno(L, err, "seccomp_export_bpf", "(the program's size)");
	}
	struct sock_filter *raw = lua_newuserdatauv(L, 2 * PROG_MAX_BYTES, 0);
	ssize_t got = pread(fd, raw, (size_t)st.st_size, 0);
	int err = errno;
	close(fd);
	if (got != st.st_size)
		return ns_fail_errno(L, got < 0 ? err : EIO, "read", "(the exported program)");
	int len = (int)(got / 8);
	if (enosys || nextra) {
		int m = prologue(raw + PROG_MAX_INSNS, raw, len, arches, narch, extras, nextra, enosys);
		if (m == -1)
			return ns_fail_errno(L, E2BIG, "seccomp", "(the program with its prologue)");
		if (m > 0)
			raw += PROG_MAX_INSNS, len = m;
	}
	lua_pushlstring(L, (const char *)raw, (size_t)len * 8);
	lua_newtable(L);
	int k = 0;
	for (int i = 0; i < n; i++)
		if (rules[i].skipped) {
			lua_pushstring(L, rules[i].name);
			lua_rawseti(L, -2, ++k);
		}
	return 2;
}

/* resolve(name [, arch]) -> the syscall's number on arch (default the
 * native one; negative: a name libseccomp knows that arch lacks), or nil
 * when libseccomp does not know the name. seccomp_syscall_resolve_name(3) */
static int ns_seccomp_resolve(lua_State *L)
{
	const char *name = ns_checkstring(L, 1);
	int nr;
	if (lua_isnoneornil(L, 2)) {
		nr = seccomp_syscall_resolve_name(name);
	} else {
		int a = ns_checkoption(L, 2, NULL, arch_names);
		nr = seccomp_syscall_resolve_name_arch(seccomp_arch_resolve_name(arch_names[a]), name);
	}
	if (nr == __NR_SCMP_ERROR)
		lua_pushnil(L);
	else
		lua_pushinteger(L, nr);
	return 1;
}


/* names() -> every syscall of the native architecture that libseccomp
 * knows, by number: the list an unknown name's hint is chosen from.
 * seccomp_syscall_resolve_num_arch(3) */
static int ns_seccomp_names(lua_State *L)
{
	lua_createtable(L, 512, 0);
	int k = 0;
	for (int nr = 0; nr < NR_SCAN; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name) {
			lua_pushstring(L, name); /* a memory error here leaks one name: harmless */
			free(name);
			lua_rawseti(L, -2, ++k);
		}
	}
	return 1;
}

/* arches() -> the architecture names compile takes; the native one. */
static int ns_seccomp_arches(lua_State *L)
{
	lua_newtable(L);
	const char *native = NULL;
	for (int i = 0; arch_names[i]; i++) {
		uint32_t tok = seccomp_arch_resolve_name(arch_names[i]);
		if (!tok)
			continue;
		if (tok == seccomp_arch_native())
			native = arch_names[i];
		lua_pushstring(L, arch_names[i]);
		lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	}
	lua_pushstring(L, native ? native : "unknown");
	return 2;
}

/* Whether this kernel runs 32-bit x86 calls: a child makes one (getpid
 * through int $0x80) and exits; a kernel whose ia32 emulation is off
 * answers the int with SIGSEGV. 1 yes, 0 no, -1 unknown (the child died
 * otherwise: a filter of ours over luactr, say). */
static int ia32_runs(void)
{
#if defined(__x86_64__) && !defined(__ILP32__)
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Whatever it returns (an outer filter's errno too), the call
		 * reached the syscall layer, where filters act. A sanitizer's
		 * handler must not take the SIGSEGV. */
		signal(SIGSEGV, SIG_DFL);
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		(void)r;
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? 0 : -1;
#else
	return -1;
#endif
}

/* runs(arch) -> whether this kernel runs the calls of arch, a companion
 * of the native architecture: true, false, or nil when it cannot tell
 * (only x86 on x86_64 is probed: ia32 emulation, which a kernel may have
 * off at boot, ia32_emulation=). A filter's rules for an architecture the
 * kernel does not run could never apply. */
static int ns_seccomp_runs(lua_State *L)
{
	int a = ns_checkoption(L, 1, NULL, arch_names);
	int r = strcmp(arch_names[a], "x86") == 0 ? ia32_runs() : -1;
	if (r < 0)
		lua_pushnil(L);
	else
		lua_pushboolean(L, r);
	return 1;
}

/* version() -> the running libseccomp's "major.minor.micro". seccomp_version(3) */
static int ns_seccomp_version(lua_State *L)
{
	const struct scmp_version *v = seccomp_version();
	lua_pushfstring(L, "%d.%d.%d", (int)v->major, (int)v->minor, (int)v->micro);
	return 1;
}

static const luaL_Reg seccomp_funcs[] = {
	{"arches", ns_seccomp_arches},
	{"compile", ns_seccomp_compile},
	{"names", ns_seccomp_names},
	{"resolve", ns_seccomp_resolve},
	{"runs", ns_seccomp_runs},
	{"version", ns_seccomp_version},
	{NULL, NULL}
};

LUAMOD_API int luaopen_ns_seccomp(lua_State *L);
__attribute__((visibility("default"))) int luaopen_ns_seccomp(lua_State *L)
{
	luaL_newlib(L, seccomp_funcs);
	return 1;
}
