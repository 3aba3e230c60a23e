/*
 * filter.c - seccomp(2) filters: install a classic BPF program compiled
 * ahead (ns.seccomp, libseccomp, compiles it; a start only installs the
 * bytes, so it needs no libseccomp), and the user-notification side of
 * SECCOMP_RET_USER_NOTIF: receive a notification, answer it, check that it
 * is still live, and read a target's memory for a handler. Also a SHA-256
 * of a string, the key of the Lua layer's cache of compiled programs
 * (ns.digest's libcrypto would cost every start a load).
 * See seccomp(2), seccomp_unotify(2), process_vm_readv(2), FIPS 180-4.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "ns.h"

/* The libseccomp that ns.seccomp was built against, for the cache key: a
 * program another version compiled is compiled again (Makefile). */
#ifndef NS_LIBSECCOMP_VERSION
#define NS_LIBSECCOMP_VERSION "unknown"
#endif

/* The build's architecture in libseccomp's names (seccomp_arch_resolve_name). */
#if defined(__x86_64__) && defined(__ILP32__)
#define NS_ARCH "x32"
#elif defined(__x86_64__)
#define NS_ARCH "x86_64"
#elif defined(__i386__)
#define NS_ARCH "x86"
#elif defined(__aarch64__)
#define NS_ARCH "aarch64"
#elif defined(__arm__)
#define NS_ARCH "arm"
#elif defined(__riscv) && __riscv_xlen == 64
#define NS_ARCH "riscv64"
#elif defined(__s390x__)
#define NS_ARCH "s390x"
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define NS_ARCH "ppc64le"
#elif defined(__loongarch64)
#define NS_ARCH "loongarch64"
#else
#define NS_ARCH "unknown"
#endif

/* A program mapped from a file of the cache (seccomp_prog): the kernel
 * reads it from the page cache, where a copy into Lua's memory would cost
 * a start a page fault each fresh page. owner is the process that mapped
 * it: another (ns.spawn's child shares the mapping) never unmaps it. */
typedef struct prog_map {
	const struct sock_filter *insns; /* NULL once unmapped */
	size_t len;                       /* bytes */
	pid_t owner;
} prog_map;
#define PROG_MT "ns.seccomp_prog"

/* The largest program the kernel takes: BPF_MAXINSNS instructions. */
#define PROG_MAX_BYTES (BPF_MAXINSNS * sizeof(struct sock_filter))

static const ns_name load_flags[] = {
	{"tsync", SECCOMP_FILTER_FLAG_TSYNC},
	{"log", SECCOMP_FILTER_FLAG_LOG},
	{"new_listener", SECCOMP_FILTER_FLAG_NEW_LISTENER},
	{"spec_allow", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	{"wait_killable_recv", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
	{NULL, 0}
};

/* seccomp_load(prog [, flags]) -> true, or with "new_listener" the
 * listener's fd handle (kind "seccomp"). prog: the raw program, 8 bytes an
 * instruction (struct sock_filter), 1 to BPF_MAXINSNS of them, as a string
 * or a handle of seccomp_prog. flags: tsync, log, new_listener, spec_allow,
 * wait_killable_recv (Linux 6.0; only with new_listener). Without
 * no_new_privs the caller needs CAP_SYS_ADMIN in its user namespace
 * (EACCES). SECCOMP_SET_MODE_FILTER, seccomp(2) */
static int ns_filter_seccomp_load(lua_State *L)
{
	size_t len;
	const char *prog;
	prog_map *m = luaL_testudata(L, 1, PROG_MT);
	if (m) {
		luaL_argcheck(L, m->insns != NULL, 1, "the program is unmapped");
		prog = (const char *)m->insns;
		len = m->len;
	} else {
		prog = luaL_checklstring(L, 1, &len);
	}
	unsigned long flags = (unsigned long)ns_checkflags(L, 2, load_flags, "seccomp flag");
	luaL_argcheck(L, len > 0 && len % sizeof(struct sock_filter) == 0, 1,
		      "a program is a whole number of 8-byte instructions");
	luaL_argcheck(L, len <= PROG_MAX_BYTES, 1, "a program has at most 4096 instructions");
	struct sock_fprog fprog = {
		.len = (unsigned short)(len / sizeof(struct sock_filter)),
		/* The kernel copies it in; it never writes to it. */
		.filter = (struct sock_filter *)(uintptr_t)prog,
	};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
	if (r < 0)
		return ns_fail(L, "seccomp", "SECCOMP_SET_MODE_FILTER");
	if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
		ns_pushfd(L, (int)r, "seccomp"); /* the kernel made it close-on-exec */
	else
		lua_pushboolean(L, 1);
	return 1;
}

/* seccomp_prog(fd) -> a handle of the program in the file fd (mapped
 * read-only; fd may be closed after), for seccomp_load. The file must be
 * a whole number of instructions, 1 to 4096 (EINVAL). #p is its number of
 * instructions, p:insn(i) the i-th as code, jt, jf, k, p:bytes() a copy
 * as a string, p:close() (and the collector) unmaps it. mmap(2) */
static int ns_filter_seccomp_prog(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	prog_map *m = lua_newuserdatauv(L, sizeof *m, 0);
	m->insns = NULL;
	m->len = 0;
	m->owner = (pid_t)syscall(SYS_getpid);
	luaL_setmetatable(L, PROG_MT);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ns_fail(L, "fstat", "(the program's file)");
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    (size_t)st.st_size > PROG_MAX_BYTES)
		return ns_fail_errno(L, EINVAL, "seccomp_prog", "(not a whole program of 1 to 4096 instructions)");
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return ns_fail(L, "mmap", "(the program's file)");
	m->insns = p;
	m->len = (size_t)st.st_size;
	return 1;
}

static prog_map *check_prog(lua_State *L)
{
	prog_map *m = luaL_checkudata(L, 1, PROG_MT);
	luaL_argcheck(L, m->insns != NULL, 1, "the program is unmapped");
	return m;
}

static int prog_len(lua_State *L)
{
	prog_map *m = luaL_checkudata(L, 1, PROG_MT);
	lua_pushinteger(L, (lua_Integer)(m->len / sizeof(struct sock_filter)));
	return 1;
}

static int prog_insn(lua_State *L)
{
	prog_map *m = check_prog(L);
	lua_Integer i = luaL_checkinteger(L, 2);
	lua_Integer n = (lua_Integer)(m->len / sizeof(struct sock_filter));
	luaL_argcheck(L, i >= 1 && i <= n, 2, "no such instruction");
	const struct sock_filter *f = &m->insns[i - 1];
	lua_pushinteger(L, f->code);
	lua_pushinteger(L, f->jt);
	lua_pushinteger(L, f->jf);
	lua_pushinteger(L, (lua_Integer)f->k);
	return 4;
}

static int prog_bytes(lua_State *L)
{
	prog_map *m = check_prog(L);
	lua_pushlstring(L, (const char *)m->insns, m->len);
	return 1;
}

/* Idempotent: close, __close and __gc. */
static int prog_close(lua_State *L)
{
	prog_map *m = luaL_checkudata(L, 1, PROG_MT);
	if (m->insns && m->owner == (pid_t)syscall(SYS_getpid) && !ns_spawn_active)
		munmap((void *)(uintptr_t)m->insns, m->len);
	m->insns = NULL;
	return 0;
}

static int prog_tostring(lua_State *L)
{
	prog_map *m = luaL_checkudata(L, 1, PROG_MT);
	if (m->insns)
		lua_pushfstring(L, "seccomp program (%d instructions)", (int)(m->len / sizeof(struct sock_filter)));
	else
		lua_pushliteral(L, "seccomp program (unmapped)");
	return 1;
}

static const luaL_Reg prog_methods[] = {
	{"bytes", prog_bytes},
	{"close", prog_close},
	{"insn", prog_insn},
	{NULL, NULL}
};

static const luaL_Reg prog_meta[] = {
	{"__close", prog_close},
	{"__gc", prog_close},
	{"__len", prog_len},
	{"__tostring", prog_tostring},
	{NULL, NULL}
};

/* The kernel's sizes of the notification structures, which may outgrow
 * the headers': buffers are made to the larger. */
static struct seccomp_notif_sizes sizes;

static int notif_sizes(void)
{
	if (sizes.seccomp_notif)
		return 0;
	struct seccomp_notif_sizes s;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s) < 0)
		return -1;
	if (s.seccomp_notif < sizeof(struct seccomp_notif))
		s.seccomp_notif = sizeof(struct seccomp_notif);
	if (s.seccomp_notif_resp < sizeof(struct seccomp_notif_resp))
		s.seccomp_notif_resp = sizeof(struct seccomp_notif_resp);
	sizes = s;
	return 0;
}

/* A zeroed buffer of n bytes, owned by a userdata left on the stack. */
static void *zeroed(lua_State *L, size_t n)
{
	void *p = lua_newuserdatauv(L, n, 0);
	memset(p, 0, n);
	return p;
}

/* seccomp_notif_recv(listener) -> {id, pid, flags, syscall, arch,
 * instruction_pointer, args = {a0 .. a5}}: the next notification, waiting
 * for one unless the fd is non-blocking. ENOENT: its caller went away
 * meanwhile. The id and the arguments are the kernel's 64-bit values as
 * Lua integers (above 2^63 they show negative). SECCOMP_IOCTL_NOTIF_RECV,
 * seccomp_unotify(2) */
static int ns_filter_seccomp_notif_recv(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	if (notif_sizes() < 0)
		return ns_fail(L, "seccomp", "SECCOMP_GET_NOTIF_SIZES");
	struct seccomp_notif *n = zeroed(L, sizes.seccomp_notif);
	int r;
	do
		r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return ns_fail(L, "ioctl", "SECCOMP_IOCTL_NOTIF_RECV");
	lua_createtable(L, 0, 7);
	lua_pushinteger(L, (lua_Integer)n->id);
	lua_setfield(L, -2, "id");
	lua_pushinteger(L, (lua_Integer)n->pid);
	lua_setfield(L, -2, "pid");
	lua_pushinteger(L, (lua_Integer)n->flags);
	lua_setfield(L, -2, "flags");
	lua_pushinteger(L, (lua_Integer)n->data.nr);
	lua_setfield(L, -2, "syscall");
	lua_pushinteger(L, (lua_Integer)n->data.arch);
	lua_setfield(L, -2, "arch");
	lua_pushinteger(L, (lua_Integer)n->data.instruction_pointer);
	lua_setfield(L, -2, "instruction_pointer");
	lua_createtable(L, 6, 0);
	for (int i = 0; i < 6; i++) {
		lua_pushinteger(L, (lua_Integer)n->data.args[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "args");
	return 1;
}

/* seccomp_notif_send(listener, id, {continue = true} | {error = errno} |
 * {val = n}) -> true: the answer to notification id. continue lets the
 * call run as if the filter had allowed it (seccomp_unotify(2) says why a
 * decision on memory the target can change is no security check); error
 * (a positive errno) fails it; val is what it returns. ENOENT: the target
 * went away, or the id was answered already. SECCOMP_IOCTL_NOTIF_SEND */
static int ns_filter_seccomp_notif_send(lua_State *L)
{
	static const char *const keys[] = {"continue", "error", "val", NULL};
	int fd = ns_checkfd(L, 1);
	lua_Integer id = luaL_checkinteger(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	ns_checkopts(L, 3, keys);
	int cont = lua_getfield(L, 3, "continue") != LUA_TNIL && lua_toboolean(L, -1);
	lua_pop(L, 1);
	int isnum;
	lua_getfield(L, 3, "error");
	lua_Integer err = lua_isnil(L, -1) ? 0 : lua_tointegerx(L, -1, &isnum);
	luaL_argcheck(L, lua_isnil(L, -1) || (isnum && err > 0 && err < 4096), 3, "error must be an errno number (1-4095)");
	lua_pop(L, 1);
	lua_getfield(L, 3, "val");
	lua_Integer val = lua_isnil(L, -1) ? 0 : lua_tointegerx(L, -1, &isnum);
	luaL_argcheck(L, lua_isnil(L, -1) || isnum, 3, "val must be an integer");
	lua_pop(L, 1);
	luaL_argcheck(L, !cont || (err == 0 && val == 0), 3, "continue takes neither error nor val");
	if (notif_sizes() < 0)
		return ns_fail(L, "seccomp", "SECCOMP_GET_NOTIF_SIZES");
	struct seccomp_notif_resp *resp = zeroed(L, sizes.seccomp_notif_resp);
	resp->id = (uint64_t)id;
	resp->error = -(int32_t)err;
	resp->val = (int64_t)val;
	resp->flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
	int r;
	do
		r = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return ns_fail(L, "ioctl", "SECCOMP_IOCTL_NOTIF_SEND");
	lua_pushboolean(L, 1);
	return 1;
}

/* seccomp_notif_id_valid(listener, id) -> true while notification id's
 * target is still in that call: what a handler asks after reading the
 * target's memory, so that what it read is known to belong to this call
 * and not to a recycled pid (ENOENT otherwise). SECCOMP_IOCTL_NOTIF_ID_VALID */
static int ns_filter_seccomp_notif_id_valid(lua_State *L)
{
	int fd = ns_checkfd(L, 1);
	uint64_t id = (uint64_t)luaL_checkinteger(L, 2);
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return ns_fail(L, "ioctl", "SECCOMP_IOCTL_NOTIF_ID_VALID");
	lua_pushboolean(L, 1);
	return 1;
}

/* The most process_vm_readv reads in one call here. */
#define VM_READ_MAX (1 << 20)

/* process_vm_readv(pid, addr, len) -> the bytes at addr in pid's memory:
 * up to len (at most 1 MiB), fewer when a page past addr is not mapped
 * (EFAULT when not even the first is). Needs ptrace access to pid (EPERM).
 * process_vm_readv(2) */
static int ns_filter_process_vm_readv(lua_State *L)
{
	lua_Integer pid = luaL_checkinteger(L, 1);
	lua_Integer addr = luaL_checkinteger(L, 2);
	lua_Integer len = luaL_checkinteger(L, 3);
	luaL_argcheck(L, pid > 0 && pid <= INT32_MAX, 1, "not a pid");
	luaL_argcheck(L, len >= 0 && len <= VM_READ_MAX, 3, "length must be 0 to 1 MiB");
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, (size_t)len);
	struct iovec local = {p, (size_t)len}, remote = {(void *)(uintptr_t)addr, (size_t)len};
	ssize_t n = len ? process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0) : 0;
	if (n < 0) {
		int err = errno;
		char what[64];
		snprintf(what, sizeof what, "%lld at 0x%llx", (long long)pid, (unsigned long long)addr);
		return ns_fail_errno(L, err, "process_vm_readv", what);
	}
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

/* seccomp_abi() -> what a compiled program depends on: the build's
 * architecture in libseccomp's names ("x86_64"), the version of the
 * libseccomp it was built against, and the running kernel's release
 * (which calls exist; uname(2)). */
static int ns_filter_seccomp_abi(lua_State *L)
{
	struct utsname u;
	lua_pushliteral(L, NS_ARCH);
	lua_pushliteral(L, NS_LIBSECCOMP_VERSION);
	/* uname fails only for a bad buffer (EFAULT). */
	lua_pushstring(L, uname(&u) == 0 ? u.release : "");
	return 3;
}

/* SHA-256, FIPS 180-4 section 6.2. */
typedef struct sha256 {
	uint32_t h[8];
	uint8_t block[64];
	size_t fill;
} sha256;

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256 *s, const uint8_t *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
	s->h[5] += f;
	s->h[6] += g;
	s->h[7] += h;
}

static void sha256_update(sha256 *s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t take = 64 - s->fill < n ? 64 - s->fill : n;
		memcpy(s->block + s->fill, p, take);
		s->fill += take;
		p += take;
		n -= take;
		if (s->fill == 64) {
			sha256_block(s, s->block);
			s->fill = 0;
		}
	}
}

/* sha256(s) -> the SHA-256 of the string s, as 64 lowercase hex digits. */
static int ns_filter_sha256(lua_State *L)
{
	size_t n;
	const uint8_t *p = (const uint8_t *)luaL_checklstring(L, 1, &n);
	sha256 s = {{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19},
		    {0}, 0};
	uint64_t bits = (uint64_t)n * 8;
	sha256_update(&s, p, n);
	/* The padding: a 1 bit, zeros to 56 bytes of the last block, the
	 * length in bits, big-endian. */
	static const uint8_t one = 0x80, zeros[64] = {0};
	sha256_update(&s, &one, 1);
	sha256_update(&s, zeros, (s.fill <= 56 ? 56 : 120) - s.fill);
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(&s, len, 8);
	static const char digits[] = "0123456789abcdef";
	char hex[65];
	for (int i = 0; i < 32; i++) {
		uint8_t byte = (uint8_t)(s.h[i / 4] >> (24 - 8 * (i % 4)));
		hex[2 * i] = digits[byte >> 4];
		hex[2 * i + 1] = digits[byte & 15];
	}
	lua_pushlstring(L, hex, 64);
	return 1;
}

static const luaL_Reg filter_funcs[] = {
	{"process_vm_readv", ns_filter_process_vm_readv},
	{"seccomp_abi", ns_filter_seccomp_abi},
	{"seccomp_load", ns_filter_seccomp_load},
	{"seccomp_notif_id_valid", ns_filter_seccomp_notif_id_valid},
	{"seccomp_notif_recv", ns_filter_seccomp_notif_recv},
	{"seccomp_notif_send", ns_filter_seccomp_notif_send},
	{"seccomp_prog", ns_filter_seccomp_prog},
	{"sha256", ns_filter_sha256},
	{NULL, NULL}
};

void ns_open_filter(lua_State *L)
{
	if (luaL_newmetatable(L, PROG_MT)) {
		luaL_setfuncs(L, prog_meta, 0);
		luaL_newlib(L, prog_methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	luaL_setfuncs(L, filter_funcs, 0);
}
