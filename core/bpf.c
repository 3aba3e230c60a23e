/*
 * bpf.c - cgroup v2 device control: the BPF_PROG_TYPE_CGROUP_DEVICE program
 * that takes the place of v1's devices.allow/deny (what runc and crun load),
 * built from a rule list, and attaching it to a cgroup directory.
 * See bpf(2), cgroups(7) ("Device controller" in the kernel's cgroup-v2.rst).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "ns.h"

/* One rule, checked. type is BPF_DEVCG_DEV_* or 0 for "a"; major and minor
 * are -1 for any; access is BPF_DEVCG_ACC_* bits. */
typedef struct dev_rule {
	int type;
	long long major, minor;
	int access;
	int allow;
} dev_rule;

#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

/* The instructions this file emits, spelt out (linux/filter.h's macros are
 * not in the uapi headers). */
static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i;
	memset(&i, 0, sizeof i);
	i.code = code;
	i.dst_reg = dst & 0xf;
	i.src_reg = src & 0xf;
	i.off = off;
	i.imm = imm;
	return i;
}
/* dst = *(u32 *)(src + off) */
#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
/* w dst = w src / w dst op= imm (32-bit ALU: the upper half is cleared) */
#define MOV32_X(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define AND32_K(dst, imm) insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH32_K(dst, imm) insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define MOV64_K(dst, imm) insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
/* if (u32)dst != imm goto +off */
#define JNE32_K(dst, imm, off) insn(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, off, imm)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers: r1 the bpf_cgroup_dev_ctx, r3 the request's type, r4 its
 * access bits, r5 major, r6 minor, r7 scratch. */
enum { R_CTX = 1, R_ALL = 2, R_TYPE = 3, R_ACC = 4, R_MAJOR = 5, R_MINOR = 6, R_TMP = 7 };

/* The instructions one rule's test takes before its verdict. */
static int test_len(const dev_rule *r)
{
	return (r->type != 0) + (r->major >= 0) + (r->minor >= 0) + (r->access != ACC_ALL ? 3 : 0);
}

/* Emit the program into out (room for 7 + 8 * n + 2); returns its length.
 * Each rule is "if any test fails skip to the next rule; r0 = verdict;
 * exit". A rule without tests matches everything: what follows it could
 * never run, and the verifier rejects unreachable code, so it ends the
 * program. */
static int emit(const dev_rule *rules, int n, struct bpf_insn *out)
{
	int k = 0;
	out[k++] = LDX_W(R_ALL, R_CTX, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, access_type));
	out[k++] = MOV32_X(R_TYPE, R_ALL);
	out[k++] = AND32_K(R_TYPE, 0xffff);
	out[k++] = MOV32_X(R_ACC, R_ALL);
	out[k++] = RSH32_K(R_ACC, 16);
	out[k++] = LDX_W(R_MAJOR, R_CTX, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, major));
	out[k++] = LDX_W(R_MINOR, R_CTX, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, minor));
	for (int i = 0; i < n; i++) {
		const dev_rule *r = &rules[i];
		int len = test_len(r);
		/* Where the next rule starts: after the tests, r0 = and exit. */
		int end = k + len + 2;
		if (r->type)
			out[k] = JNE32_K(R_TYPE, r->type, 0), out[k].off = (int16_t)(end - k - 1), k++;
		if (r->major >= 0)
			out[k] = JNE32_K(R_MAJOR, (int32_t)(uint32_t)r->major, 0), out[k].off = (int16_t)(end - k - 1), k++;
		if (r->minor >= 0)
			out[k] = JNE32_K(R_MINOR, (int32_t)(uint32_t)r->minor, 0), out[k].off = (int16_t)(end - k - 1), k++;
		if (r->access != ACC_ALL) {
			/* Every access bit asked for must be one the rule names. */
			out[k++] = MOV32_X(R_TMP, R_ACC);
			out[k++] = AND32_K(R_TMP, ~r->access & ACC_ALL);
			out[k] = JNE32_K(R_TMP, 0, 0), out[k].off = (int16_t)(end - k - 1), k++;
		}
		out[k++] = MOV64_K(0, r->allow ? 1 : 0);
		out[k++] = EXIT();
		if (len == 0)
			return k;
	}
	out[k++] = MOV64_K(0, 0);
	out[k++] = EXIT();
	return k;
}

/* Raise "rule i: msg" against the rules argument. */
static int rule_error(lua_State *L, lua_Integer i, const char *msg)
{
	return luaL_argerror(L, 1, lua_pushfstring(L, "rule %d: %s", (int)i, msg));
}

/* A major or minor field of the rule at the top of the stack. */
static long long dev_number(lua_State *L, lua_Integer i, const char *field)
{
	long long v = -1;
	int t = lua_getfield(L, -1, field);
	if (t != LUA_TNIL) {
		int isint = 0;
		lua_Integer n = t == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
		if (!isint)
			rule_error(L, i, lua_pushfstring(L, "%s must be an integer or nil (any)", field));
		if (n < 0 || n > 0xffffffffLL)
			rule_error(L, i, lua_pushfstring(L, "%s out of range (0 to 2^32 - 1)", field));
		v = n;
	}
	lua_pop(L, 1);
	return v;
}

/* Check the rule at the top of the stack into r. */
static void check_rule(lua_State *L, lua_Integer i, dev_rule *r)
{
	static const char *const keys[] = {"access", "allow", "major", "minor", "type", NULL};
	if (!lua_istable(L, -1))
		rule_error(L, i, lua_pushfstring(L, "a table expected, got %s", luaL_typename(L, -1)));
	char prefix[32];
	snprintf(prefix, sizeof prefix, "rule %d: ", (int)i);
	ns_checkopts_arg(L, lua_absindex(L, -1), keys, 1, prefix);

	lua_getfield(L, -1, "type");
	const char *type = lua_tostring(L, -1);
	if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) != 1 || !strchr("abc", type[0]))
		rule_error(L, i, "type must be \"a\", \"b\" or \"c\"");
	r->type = type[0] == 'b' ? BPF_DEVCG_DEV_BLOCK : type[0] == 'c' ? BPF_DEVCG_DEV_CHAR : 0;
	lua_pop(L, 1);

	r->major = dev_number(L, i, "major");
	r->minor = dev_number(L, i, "minor");

	r->access = ACC_ALL;
	if (lua_getfield(L, -1, "access") != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TSTRING)
			rule_error(L, i, "access must be a string of r, w, m");
		const char *a = lua_tostring(L, -1);
		if (strlen(a) != lua_rawlen(L, -1))
			rule_error(L, i, "access holds a NUL byte");
		if (!*a)
			rule_error(L, i, "access is empty (nil means rwm)");
		r->access = 0;
		for (; *a; a++) {
			if (*a == 'r')
				r->access |= BPF_DEVCG_ACC_READ;
			else if (*a == 'w')
				r->access |= BPF_DEVCG_ACC_WRITE;
			else if (*a == 'm')
				r->access |= BPF_DEVCG_ACC_MKNOD;
			else
				rule_error(L, i, lua_pushfstring(L, "unknown access letter '%c' (valid: r, w, m)", *a));
		}
	}
	lua_pop(L, 1);

	if (lua_getfield(L, -1, "allow") != LUA_TBOOLEAN)
		rule_error(L, i, "allow must be true or false");
	r->allow = lua_toboolean(L, -1);
	lua_pop(L, 1);
}

static uint64_t ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Append "; verifier: <first line>[ ... <last line>]" to the message of the
 * failure triple at the top of the stack: the first line says where the
 * verifier stopped when it did at once, the last why it gave up. */
static void add_log(lua_State *L, const char *log)
{
	const char *first_end = strchrnul(log, '\n');
	const char *last = NULL, *last_end = NULL;
	if (!*log)
		return;
	for (const char *p = log; *p;) {
		const char *e = strchrnul(p, '\n');
		/* Not the "processed N insns" summary. */
		if (e > p && strncmp(p, "processed ", 10) != 0)
			last = p, last_end = e;
		p = *e ? e + 1 : e;
	}
	char buf[300];
	int fl = (int)(first_end - log > 120 ? 120 : first_end - log);
	if (last && last != log) {
		int ll = (int)(last_end - last > 120 ? 120 : last_end - last);
		snprintf(buf, sizeof buf, "%.*s ... %.*s", fl, log, ll, last);
	} else {
		snprintf(buf, sizeof buf, "%.*s", fl, log);
	}
	lua_pushfstring(L, "%s; verifier: %s", lua_tostring(L, -2), buf);
	lua_replace(L, -3);
}

#define LOG_SIZE (64 * 1024)

/* devices_filter(rules) -> ns.fd "bpf": a loaded cgroup device program.
 * rules: a list of {type = "a"|"b"|"c", major = n|nil, minor = n|nil,
 * access = some of "rwm" (nil: all), allow = boolean}. The first rule that
 * matches a request decides; none matching denies. */
static int ns_bpf_devices_filter(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = luaL_len(L, 1);
	luaL_argcheck(L, n <= 100000, 1, "too many rules (at most 100000)");
	dev_rule *rules = lua_newuserdatauv(L, sizeof *rules * (size_t)(n ? n : 1), 0);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 1, i);
		check_rule(L, i, &rules[i - 1]);
		lua_pop(L, 1);
	}
	struct bpf_insn *prog = lua_newuserdatauv(L, sizeof *prog * (size_t)(9 + 9 * n), 0);
	int len = emit(rules, (int)n, prog);
	char *log = lua_newuserdatauv(L, LOG_SIZE, 0);
	ns_fd *h = ns_pushfd(L, -1, "bpf");

	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.expected_attach_type = BPF_CGROUP_DEVICE;
	attr.insns = ptr(prog);
	attr.insn_cnt = (uint32_t)len;
	attr.license = ptr("Apache-2.0");
	snprintf(attr.prog_name, sizeof attr.prog_name, "luactr_devices");
	int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
	if (fd < 0 && (errno == EACCES || errno == EINVAL)) {
		/* Again with the verifier's log, to say why. */
		log[0] = '\0';
		attr.log_level = 1;
		attr.log_buf = ptr(log);
		attr.log_size = LOG_SIZE;
		fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
		if (fd < 0) {
			int err = errno;
			log[LOG_SIZE - 1] = '\0';
			ns_fail_errno(L, err, "bpf_prog_load", "devices");
			add_log(L, log);
			return 3;
		}
	}
	if (fd < 0)
		return ns_fail(L, "bpf_prog_load", "devices");
	h->fd = fd;
	return 1;
}

/* BPF_PROG_ATTACH or BPF_PROG_DETACH of prog on the cgroup at idx 1. */
static int attach(lua_State *L, int cmd, const char *call)
{
	int cg = ns_checkfd(L, 1);
	int prog = ns_checkfd(L, 2);
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.target_fd = (uint32_t)cg;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	/* Others' programs stay: a device is allowed only if all say yes. */
	if (cmd == BPF_PROG_ATTACH)
		attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, cmd, &attr, sizeof attr) < 0) {
		int err = errno;
		char arg[24];
		snprintf(arg, sizeof arg, "cgroup fd %d", cg);
		return ns_fail_errno(L, err, call, arg);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* devices_attach(cgroup_dirfd, prog) -> true (BPF_F_ALLOW_MULTI) */
static int ns_bpf_devices_attach(lua_State *L)
{
	return attach(L, BPF_PROG_ATTACH, "bpf_prog_attach");
}

/* devices_detach(cgroup_dirfd, prog) -> true */
static int ns_bpf_devices_detach(lua_State *L)
{
	return attach(L, BPF_PROG_DETACH, "bpf_prog_detach");
}

static const luaL_Reg bpf_funcs[] = {
	{"devices_attach", ns_bpf_devices_attach},
	{"devices_detach", ns_bpf_devices_detach},
	{"devices_filter", ns_bpf_devices_filter},
	{NULL, NULL}
};

void ns_open_bpf(lua_State *L)
{
	luaL_setfuncs(L, bpf_funcs, 0);
}
