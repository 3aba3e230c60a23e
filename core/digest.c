/*
 * digest.c - ns.digest: SHA-2 digests (OpenSSL's EVP) of strings, files and
 * streams fed piece by piece, as lowercase hex, and base64 (RFC 4648's
 * standard alphabet) for the registry's credentials.
 * See EVP_DigestInit(3ssl), read(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ns.h"

#define DIGEST_MT "ns.digest"
/* What D.file reads at a time. */
#define READ_CHUNK (1 << 20)

static const char *const alg_names[] = {"sha256", "sha384", "sha512", NULL};

typedef struct digest {
	EVP_MD_CTX *ctx; /* NULL once finished (or freed) */
	const char *alg;
} digest;

/* The algorithm named by argument idx (default sha256); raises when unknown. */
static const EVP_MD *check_alg(lua_State *L, int idx, const char **name)
{
	int i = ns_checkoption(L, idx, "sha256", alg_names);
	*name = alg_names[i];
	switch (i) {
	case 0:
		return EVP_sha256();
	case 1:
		return EVP_sha384();
	default:
		return EVP_sha512();
	}
}

/* Write the hex of md (n bytes) into out (2n + 1 bytes). */
static void to_hex(const unsigned char *md, unsigned n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A context ready for alg, or NULL when OpenSSL has no memory for one. */
static EVP_MD_CTX *ctx_new(const EVP_MD *md)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* Finish ctx into hex (at least 129 bytes) and free it; 0 on success. */
static int ctx_finish(EVP_MD_CTX *ctx, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int ok = EVP_DigestFinal_ex(ctx, md, &n) == 1;
	EVP_MD_CTX_free(ctx);
	if (ok)
		to_hex(md, n, hex);
	return ok ? 0 : -1;
}

static digest *check_digest(lua_State *L)
{
	digest *d = luaL_checkudata(L, 1, DIGEST_MT);
	luaL_argcheck(L, d->ctx != NULL, 1, "digest already finished");
	return d;
}

/* D.new([alg]): a digest object fed by update and read by hex. */
static int ns_digest_new(lua_State *L)
{
	const char *name;
	const EVP_MD *md = check_alg(L, 1, &name);
	digest *d = lua_newuserdatauv(L, sizeof *d, 0);
	d->ctx = NULL;
	d->alg = name;
	luaL_setmetatable(L, DIGEST_MT);
	d->ctx = ctx_new(md);
	if (!d->ctx)
		return luaL_error(L, "digest: cannot make an OpenSSL context for %s", name);
	return 1;
}

/* d:update(s): d, for chaining. */
static int ns_digest_update(lua_State *L)
{
	digest *d = check_digest(L);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	if (EVP_DigestUpdate(d->ctx, s, len) != 1)
		return luaL_error(L, "digest: OpenSSL update failed");
	lua_settop(L, 1);
	return 1;
}

/* d:hex(): the digest of all that was fed, as lowercase hex; finishes d. */
static int ns_digest_hex(lua_State *L)
{
	digest *d = check_digest(L);
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_MD_CTX *ctx = d->ctx;
	d->ctx = NULL;
	if (ctx_finish(ctx, hex) != 0)
		return luaL_error(L, "digest: OpenSSL final failed");
	lua_pushstring(L, hex);
	return 1;
}

static int ns_digest_gc(lua_State *L)
{
	digest *d = luaL_checkudata(L, 1, DIGEST_MT);
	if (d->ctx)
		EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
	return 0;
}

static int ns_digest_tostring(lua_State *L)
{
	digest *d = luaL_checkudata(L, 1, DIGEST_MT);
	lua_pushfstring(L, "digest %s%s", d->alg, d->ctx ? "" : " (finished)");
	return 1;
}

/* D.string(s [, alg]): the hex digest of s. */
static int ns_digest_string(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	const char *name;
	const EVP_MD *md = check_alg(L, 2, &name);
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	if (EVP_Digest(s, len, out, &n, md, NULL) != 1)
		return luaL_error(L, "digest: OpenSSL digest of a string failed");
	to_hex(out, n, hex);
	lua_pushstring(L, hex);
	return 1;
}

/* D.file(path or fd [, alg]): hex, bytes read. An fd is read from its
 * offset to its end and stays open. */
static int ns_digest_file(lua_State *L)
{
	const char *path = NULL;
	int fd = -1;
	ns_fd *h = luaL_testudata(L, 1, NS_FD_MT);
	if (h) {
		luaL_argcheck(L, h->fd >= 0, 1, "attempt to use a closed fd");
		fd = h->fd;
	} else if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_Integer n = luaL_checkinteger(L, 1);
		luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, 1, "fd out of range");
		fd = (int)n;
	} else {
		path = ns_checkstring(L, 1);
	}
	const char *name;
	const EVP_MD *md = check_alg(L, 2, &name);
	char what[32];
	if (!path)
		snprintf(what, sizeof what, "fd %d", fd);

	if (path) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return ns_fail(L, "open", path);
	}
	unsigned char *buf = malloc(READ_CHUNK);
	EVP_MD_CTX *ctx = ctx_new(md);
	int err = 0;
	long long size = 0;
	if (!buf || !ctx)
		err = ENOMEM;
	while (!err) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = errno;
		else if (n == 0)
			break;
		else if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			err = ENOMEM;
		else
			size += n;
	}
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	if (ctx) {
		if (ctx_finish(ctx, hex) != 0 && !err)
			err = ENOMEM;
	}
	free(buf);
	if (path)
		close(fd);
	if (err)
		return ns_fail_errno(L, err, "read", path ? path : what);
	lua_pushstring(L, hex);
	lua_pushinteger(L, size);
	return 2;
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* D.base64_encode(s): s in base64, padded, on one line. */
static int ns_digest_base64_encode(lua_State *L)
{
	size_t len;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, (len + 2) / 3 * 4);
	size_t o = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = b64_chars[(v >> 6) & 63];
		out[o++] = b64_chars[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < len ? (unsigned)s[i + 1] << 8 : 0);
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	luaL_pushresultsize(&b, o);
	return 1;
}

static int b64_value(unsigned char c)
{
	const char *p = c ? strchr(b64_chars, c) : NULL;
	return p ? (int)(p - b64_chars) : -1;
}

/* D.base64_decode(s): the bytes, or nil, "base64: invalid input". Padding
 * may be missing; anything else outside the alphabet is invalid. */
static int ns_digest_base64_decode(lua_State *L)
{
	size_t len;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	/* Up to two '=' at the end, and then only where they complete a
	 * group of four. */
	size_t pad = 0;
	while (len > 0 && pad < 2 && s[len - 1] == '=') {
		len--;
		pad++;
	}
	int ok = len % 4 != 1 && (pad == 0 || (len + pad) % 4 == 0);
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, len / 4 * 3 + 3);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; ok && i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0) {
			ok = 0;
			break;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* The bits left over must be zero, as an encoder writes them. */
	if (ok && (acc & ((1u << bits) - 1)) != 0)
		ok = 0;
	if (!ok) {
		lua_pushnil(L);
		lua_pushliteral(L, "base64: invalid input");
		return 2;
	}
	luaL_pushresultsize(&b, o);
	return 1;
}

static const luaL_Reg digest_methods[] = {
	{"hex", ns_digest_hex},
	{"update", ns_digest_update},
	{NULL, NULL}
};

static const luaL_Reg digest_meta[] = {
	{"__gc", ns_digest_gc},
	{"__close", ns_digest_gc},
	{"__tostring", ns_digest_tostring},
	{NULL, NULL}
};

static const luaL_Reg digest_funcs[] = {
	{"base64_decode", ns_digest_base64_decode},
	{"base64_encode", ns_digest_base64_encode},
	{"file", ns_digest_file},
	{"new", ns_digest_new},
	{"string", ns_digest_string},
	{NULL, NULL}
};

LUAMOD_API int luaopen_ns_digest(lua_State *L);
__attribute__((visibility("default"))) int luaopen_ns_digest(lua_State *L)
{
	if (luaL_newmetatable(L, DIGEST_MT)) {
		luaL_setfuncs(L, digest_meta, 0);
		luaL_newlib(L, digest_methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	luaL_newlib(L, digest_funcs);
	return 1;
}
