/*
 * http.c - ns.http: HTTP(S) requests over libcurl, for the image layer's
 * registry client. A client holds one easy handle, so that the requests
 * it makes reuse their connection (keep-alive); a response body goes to
 * memory or streams to an fd, hashed on its way (libcrypto EVP). HTTP
 * error statuses are responses; only a transfer that fails is a failure.
 * See libcurl-easy(3), curl_easy_setopt(3), curl_easy_getinfo(3),
 * EVP_DigestInit(3).
 *
 * No Lua error may cross curl_easy_perform (a longjmp through libcurl
 * leaves its handle in a state it cannot recover from): the callbacks
 * only touch C buffers, the progress function runs under lua_pcall, and
 * what it raised is raised again once curl has returned.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "ns.h"

#define CLIENT_MT "ns.http.client"
#define REQUEST_MT "ns.http.request"

/* The default of option max: what a manifest or an index never reaches. */
#define MAX_BODY_DEFAULT (16 * 1024 * 1024)
/* The last response's header block may not grow over this. */
#define MAX_HEADERS (1024 * 1024)
#define MAX_REDIRECTS 10
/* The progress function's least interval, in seconds. */
#define PROGRESS_EVERY 0.1

typedef struct client {
	CURL *curl; /* NULL once closed */
	long timeout_ms; /* 0: none */
	long connect_timeout_ms;
	int verbose;
	int busy; /* a request runs (its progress function may call back) */
	int fds_marked; /* curl's own fds are close-on-exec (see mark_new_fds) */
	char *user_agent;
	char *cainfo; /* NULL: curl's default bundle */
} client;

/* A growing C buffer: what the callbacks fill while curl runs, as they
 * may not call Lua (an allocation error would raise through curl). */
typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

/* One request's resources, in a userdata whose __gc frees them, so that a
 * Lua error between acquiring and releasing them (a memory error) leaks
 * nothing. */
typedef struct request {
	lua_State *L;
	CURL *curl;
	int fd; /* where the body streams, or -1: into body */
	int own_fd; /* fd was opened here, from a path */
	const char *out_name; /* the path or "fd N", for messages */
	char fd_name[32];
	size_t max;
	curl_off_t bytes; /* body bytes of the final response */
	buf body;
	buf head; /* the last response's header lines, as received */
	EVP_MD_CTX *md;
	struct curl_slist *headers;
	int head_only; /* HEAD: no body, so no total to report */
	/* what made a callback stop the transfer */
	int write_errno;
	int no_memory;
	int over_max;
	int progress_idx; /* stack index of the progress function, or 0 */
	int progress_err; /* stack index of what it raised, or 0 */
	double progress_last;
} request;

static double monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Append n bytes; 0 when the buffer could not grow past limit or at all. */
static int buf_add(buf *b, const char *p, size_t n, size_t limit)
{
	if (n > limit - b->len)
		return 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap = cap > limit / 2 ? limit : cap * 2;
		char *q = realloc(b->p, cap);
		if (!q)
			return 0;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 1;
}

/* ---------------------------------------------------------------------
 * Option fields: each is read once to a stack slot of its own, so that
 * the strings stay anchored while curl reads them.
 */

static int field_error(lua_State *L, int arg, const char *key, const char *msg)
{
	return luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': %s", key, msg));
}

static int field_type_error(lua_State *L, int arg, int slot, const char *key, const char *want)
{
	return field_error(L, arg, key, lua_pushfstring(L, "%s expected, got %s", want, luaL_typename(L, slot)));
}

/* The string at slot, NULL when nil; raises unless a string without NUL. */
static const char *field_string(lua_State *L, int arg, int slot, const char *key)
{
	if (lua_isnil(L, slot))
		return NULL;
	if (lua_type(L, slot) != LUA_TSTRING)
		field_type_error(L, arg, slot, key, "string");
	size_t len;
	const char *s = lua_tolstring(L, slot, &len);
	if (strlen(s) != len)
		field_error(L, arg, key, "string holds a NUL byte (a C string would end there)");
	return s;
}

static int field_bool(lua_State *L, int arg, int slot, const char *key, int def)
{
	if (lua_isnil(L, slot))
		return def;
	if (!lua_isboolean(L, slot))
		field_type_error(L, arg, slot, key, "boolean");
	return lua_toboolean(L, slot);
}

/* Seconds (fractions allowed) as milliseconds; def when nil. */
static long field_seconds(lua_State *L, int arg, int slot, const char *key, long def_ms)
{
	if (lua_isnil(L, slot))
		return def_ms;
	if (lua_type(L, slot) != LUA_TNUMBER)
		field_type_error(L, arg, slot, key, "number of seconds");
	lua_Number s = lua_tonumber(L, slot);
	if (!(s >= 0 && s <= 86400.0 * 365))
		field_error(L, arg, key, "seconds out of range (0 to a year)");
	return (long)(s * 1000 + 0.5);
}

/* ---------------------------------------------------------------------
 * Close-on-exec. Sockets curl connects come from open_socket. What it
 * cannot be asked for is the socketpair that curl_easy_perform's inner
 * multi handle makes (its wakeup pair, one per easy handle, at the first
 * perform): the fds that the client's first request leaves open, and that
 * were not before it, are marked close-on-exec after it.
 */

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ud, (void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

typedef struct fdset {
	int *fd;
	size_t n;
	int ok;
} fdset;

/* The fds open now, but the one that reads them (ok = 0 when
 * /proc/self/fd could not be read). */
static fdset open_fds(void)
{
	fdset s = {NULL, 0, 0};
	size_t cap = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return s;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == dirfd(d))
			continue;
		if (s.n == cap) {
			int *p = realloc(s.fd, (cap ? cap * 2 : 64) * sizeof *p);
			if (!p) {
				closedir(d);
				free(s.fd);
				return (fdset){NULL, 0, 0};
			}
			s.fd = p;
			cap = cap ? cap * 2 : 64;
		}
		s.fd[s.n++] = atoi(e->d_name);
	}
	closedir(d);
	s.ok = 1;
	return s;
}

static void mark_new_fds(fdset *before)
{
	fdset after = open_fds();
	for (size_t i = 0; after.ok && before->ok && i < after.n; i++) {
		int known = 0;
		for (size_t j = 0; j < before->n && !known; j++)
			known = before->fd[j] == after.fd[i];
		int fl = known ? -1 : fcntl(after.fd[i], F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(after.fd[i], F_SETFD, fl | FD_CLOEXEC);
	}
	free(after.fd);
	free(before->fd);
	before->fd = NULL;
}

/* ---------------------------------------------------------------------
 * The client.
 */

static client *check_client(lua_State *L, int idx)
{
	client *c = luaL_checkudata(L, idx, CLIENT_MT);
	if (!c->curl)
		luaL_argerror(L, idx, "attempt to use a closed http client");
	return c;
}

/* Idempotent: close(), __close and __gc land here. */
static void client_free(client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	free(c->user_agent);
	free(c->cainfo);
	c->user_agent = c->cainfo = NULL;
}

static const char *const client_keys[] = {"cainfo", "connect_timeout", "timeout", "user_agent", "verbose", NULL};

enum { C_TIMEOUT = 2, C_CONNECT_TIMEOUT, C_USER_AGENT, C_CAINFO, C_VERBOSE };

/* client([opts]) -> a client, closed by close(), <close> and the collector. */
static int ns_http_client(lua_State *L)
{
	if (!lua_isnoneornil(L, 1))
		luaL_checktype(L, 1, LUA_TTABLE);
	ns_checkopts(L, 1, client_keys);
	lua_settop(L, 1);
	const char *fields[] = {"timeout", "connect_timeout", "user_agent", "cainfo", "verbose"};
	for (int i = 0; i < 5; i++) {
		if (lua_istable(L, 1))
			lua_getfield(L, 1, fields[i]);
		else
			lua_pushnil(L);
	}
	long timeout = field_seconds(L, 1, C_TIMEOUT, "timeout", 0);
	long connect_timeout = field_seconds(L, 1, C_CONNECT_TIMEOUT, "connect_timeout", 10000);
	const char *ua = field_string(L, 1, C_USER_AGENT, "user_agent");
	const char *cainfo = field_string(L, 1, C_CAINFO, "cainfo");
	int verbose = field_bool(L, 1, C_VERBOSE, "verbose", 0);

	client *c = lua_newuserdatauv(L, sizeof *c, 0);
	memset(c, 0, sizeof *c);
	luaL_setmetatable(L, CLIENT_MT);
	c->timeout_ms = timeout;
	c->connect_timeout_ms = connect_timeout;
	c->verbose = verbose;
	c->user_agent = strdup(ua ? ua : "luactr");
	c->cainfo = cainfo ? strdup(cainfo) : NULL;
	if (!c->user_agent || (cainfo && !c->cainfo))
		return luaL_error(L, "http client: out of memory");
	c->curl = curl_easy_init();
	if (!c->curl)
		return ns_fail_errno(L, ENOMEM, "curl_easy_init", NULL);
	return 1;
}

static int client_close(lua_State *L)
{
	client *c = luaL_checkudata(L, 1, CLIENT_MT);
	luaL_argcheck(L, !c->busy, 1, "http client is in use (by the request this runs in)");
	client_free(c);
	lua_pushboolean(L, 1);
	return 1;
}

static int client_gc(lua_State *L)
{
	client_free(luaL_checkudata(L, 1, CLIENT_MT));
	return 0;
}

static int client_tostring(lua_State *L)
{
	client *c = luaL_checkudata(L, 1, CLIENT_MT);
	if (c->curl)
		lua_pushfstring(L, "http client (%p)", (void *)c);
	else
		lua_pushliteral(L, "http client (closed)");
	return 1;
}

/* ---------------------------------------------------------------------
 * A request's resources.
 */

static void request_free(request *r)
{
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->own_fd = 0;
	free(r->body.p);
	free(r->head.p);
	r->body = r->head = (buf){0};
	if (r->md)
		EVP_MD_CTX_free(r->md);
	r->md = NULL;
	if (r->headers)
		curl_slist_free_all(r->headers);
	r->headers = NULL;
}

static int request_gc(lua_State *L)
{
	request_free(luaL_checkudata(L, 1, REQUEST_MT));
	return 0;
}

/* ---------------------------------------------------------------------
 * Callbacks: they run inside curl_easy_perform and touch only C memory,
 * but for the progress function, which runs protected.
 */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	request *r = ud;
	size_t len = size * n;
	if (r->fd >= 0) {
		for (size_t done = 0; done < len;) {
			ssize_t w = write(r->fd, p + done, len - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r->write_errno = errno;
				return 0;
			}
			done += (size_t)w;
		}
	} else if (!buf_add(&r->body, p, len, r->max)) {
		if (len > r->max - r->body.len)
			r->over_max = 1;
		else
			r->no_memory = 1;
		return 0;
	}
	if (r->md && EVP_DigestUpdate(r->md, p, len) != 1) {
		r->no_memory = 1;
		return 0;
	}
	r->bytes += (curl_off_t)len;
	return len;
}

/* Each header line of each response, its status line first. With
 * redirects followed, a new status line starts the headers over: only
 * the last response's are kept. (libcurl itself skips the body of a
 * response it follows, so that never reaches on_body.) */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	request *r = ud;
	size_t len = size * n;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
		r->head.len = 0;
	if (!buf_add(&r->head, p, len, MAX_HEADERS)) {
		r->no_memory = 1;
		return 0;
	}
	return len;
}

/* Call the progress function with (bytes so far, total or nil); 0 when it
 * returned, 1 when it raised (its error left at the top of the stack). */
static int call_progress(request *r)
{
	lua_State *L = r->L;
	if (!lua_checkstack(L, 4))
		return 0;
	curl_off_t total = -1;
	if (!r->head_only && curl_easy_getinfo(r->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total) != CURLE_OK)
		total = -1;
	lua_pushvalue(L, r->progress_idx);
	lua_pushinteger(L, (lua_Integer)r->bytes);
	if (total >= 0)
		lua_pushinteger(L, (lua_Integer)total);
	else
		lua_pushnil(L);
	if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
		r->progress_err = lua_gettop(L);
		return 1;
	}
	return 0;
}

/* Nonzero stops the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	request *r = ud;
	if (r->progress_err)
		return 1;
	double now = monotonic();
	if (now - r->progress_last < PROGRESS_EVERY)
		return 0;
	r->progress_last = now;
	return call_progress(r);
}

/* ---------------------------------------------------------------------
 * Messages.
 */

/* Push url with the password of its userinfo masked, as messages show it. */
static const char *push_shown_url(lua_State *L, const char *url)
{
	const char *auth = strstr(url, "://");
	if (auth) {
		auth += 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = memrchr(auth, '@', alen);
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			lua_pushlstring(L, url, (size_t)(colon + 1 - url));
			lua_pushliteral(L, "***");
			lua_pushstring(L, at);
			lua_concat(L, 3);
			return lua_tostring(L, -1);
		}
	}
	return lua_pushstring(L, url);
}

/* nil, "<METHOD> <url>: <detail> (curl error N)", N. */
static int curl_fail(lua_State *L, const char *method, const char *url, CURLcode code, const char *detail)
{
	lua_pushnil(L);
	push_shown_url(L, url);
	const char *shown = lua_tostring(L, -1);
	lua_pushfstring(L, "%s %s: %s (curl error %d)", method, shown, detail, (int)code);
	lua_remove(L, -2);
	lua_pushinteger(L, (lua_Integer)code);
	return 3;
}

/* ---------------------------------------------------------------------
 * request(t)
 */

static const char *const request_keys[] = {"body", "digest", "follow", "headers", "insecure", "max",
					    "method", "out", "progress", "url", NULL};

static const char *const methods[] = {"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", NULL};
enum { M_GET, M_HEAD, M_PUT, M_POST, M_PATCH, M_DELETE };

/* Stack slots of the request's fields (argument 2 is the table). */
enum { R_URL = 3, R_METHOD, R_HEADERS, R_BODY, R_OUT, R_DIGEST, R_MAX, R_FOLLOW, R_PROGRESS, R_INSECURE, R_END };

static int check_method(lua_State *L, int slot)
{
	const char *m = field_string(L, 2, slot, "method");
	if (!m)
		return M_GET;
	for (int i = 0; methods[i]; i++)
		if (strcmp(m, methods[i]) == 0)
			return i;
	return field_error(L, 2, "method",
			   lua_pushfstring(L, "invalid method '%s' (valid: DELETE, GET, HEAD, PATCH, POST, PUT)", m));
}

/* A header name is an HTTP token. */
static int is_token(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && !strchr("!#$%&'*+-.^_`|~", ch))
			return 0;
	}
	return 1;
}

/* Raise unless every header is name = string, number or false, the name a
 * token and the value free of CR, LF and NUL. Sets *has_type and *has_expect
 * when the caller gave those headers. */
static void check_headers(lua_State *L, int slot, int *has_type, int *has_expect)
{
	if (lua_isnil(L, slot))
		return;
	if (!lua_istable(L, slot))
		field_type_error(L, 2, slot, "headers", "table");
	lua_pushnil(L);
	while (lua_next(L, slot)) {
		size_t nlen, vlen;
		if (lua_type(L, -2) != LUA_TSTRING)
			field_error(L, 2, "headers", lua_pushfstring(L, "a %s key (names are strings)", luaL_typename(L, -2)));
		const char *name = lua_tolstring(L, -2, &nlen);
		if (!is_token(name, nlen))
			field_error(L, 2, "headers", lua_pushfstring(L, "invalid header name '%s'", name));
		int t = lua_type(L, -1);
		if (t == LUA_TSTRING || t == LUA_TNUMBER) {
			const char *v = lua_tolstring(L, -1, &vlen); /* a number becomes a string in the table's copy */
			if (strlen(v) != vlen || strpbrk(v, "\r\n"))
				field_error(L, 2, "headers", lua_pushfstring(L, "header '%s': value holds CR, LF or NUL", name));
		} else if (!(t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
			field_error(L, 2, "headers",
				    lua_pushfstring(L, "header '%s': string or false expected, got %s", name,
						    luaL_typename(L, -1)));
		}
		if (strcasecmp(name, "content-type") == 0)
			*has_type = 1;
		if (strcasecmp(name, "expect") == 0)
			*has_expect = 1;
		lua_pop(L, 1);
	}
}

/* Add one line of curl's header syntax to the list; 0 when out of memory. */
static int add_header(request *r, const char *line)
{
	struct curl_slist *l = curl_slist_append(r->headers, line);
	if (!l)
		return 0;
	r->headers = l;
	return 1;
}

/* The headers as curl takes them: "Name: value"; "Name;" sends Name with
 * an empty value; "Name:" (for false) removes a header curl would add. */
static int build_headers(lua_State *L, request *r, int slot)
{
	if (lua_isnil(L, slot))
		return 1;
	lua_pushnil(L);
	while (lua_next(L, slot)) {
		const char *name = lua_tostring(L, -2);
		int ok;
		if (lua_isboolean(L, -1)) {
			lua_pushfstring(L, "%s:", name);
		} else {
			const char *v = lua_tostring(L, -1);
			lua_pushfstring(L, *v ? "%s: %s" : "%s;", name, v);
		}
		ok = add_header(r, lua_tostring(L, -1));
		lua_pop(L, 2);
		if (!ok) {
			lua_pop(L, 1);
			return 0;
		}
	}
	return 1;
}

/* Push name lowercased. */
static void push_lower(lua_State *L, const char *s, size_t len)
{
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, len);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)tolower((unsigned char)s[i]);
	luaL_pushresultsize(&b, len);
}

/* Set resp.headers and resp.header_list (resp at the top) from the last
 * response's header lines: names lowercased, values trimmed, a folded
 * line joined to its header with a space, a repeated name's last value in
 * headers. */
static void push_headers(lua_State *L, const buf *h)
{
	int resp = lua_gettop(L);
	lua_newtable(L);
	int map = lua_gettop(L);
	lua_newtable(L);
	int list = lua_gettop(L);
	lua_Integer n = 0;
	const char *p = h->p, *end = h->p + h->len;
	int first = 1;
	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		const char *e = eol ? eol : end;
		while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (first || e == p) {
			first = 0;
			p = next;
			continue;
		}
		if ((*p == ' ' || *p == '\t') && n > 0) {
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			lua_geti(L, list, n);
			lua_geti(L, -1, 2);
			lua_pushliteral(L, " ");
			lua_pushlstring(L, p, (size_t)(e - p));
			lua_concat(L, 3);
			lua_pushvalue(L, -1);
			lua_seti(L, -3, 2);
			lua_geti(L, -2, 1);
			lua_insert(L, -2);
			lua_settable(L, map);
			lua_pop(L, 1);
			p = next;
			continue;
		}
		const char *colon = memchr(p, ':', (size_t)(e - p));
		if (colon) {
			const char *v = colon + 1;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			lua_createtable(L, 2, 0);
			push_lower(L, p, (size_t)(colon - p));
			lua_pushvalue(L, -1);
			lua_seti(L, -3, 1);
			lua_pushlstring(L, v, (size_t)(e - v));
			lua_pushvalue(L, -1);
			lua_seti(L, -4, 2);
			lua_settable(L, map);
			lua_seti(L, list, ++n);
		}
		p = next;
	}
	lua_setfield(L, resp, "header_list");
	lua_setfield(L, resp, "headers");
}

static void push_hex_digest(lua_State *L, EVP_MD_CTX *md)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_DigestFinal_ex(md, d, &dlen);
	for (unsigned int i = 0; i < dlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	lua_pushlstring(L, hex, 2 * (size_t)dlen);
}

static const char *http_version(long v)
{
	switch (v) {
	case CURL_HTTP_VERSION_1_0:
		return "1.0";
	case CURL_HTTP_VERSION_1_1:
		return "1.1";
	case CURL_HTTP_VERSION_2_0:
		return "2";
	case CURL_HTTP_VERSION_3:
		return "3";
	default:
		return NULL;
	}
}

/* The response table, from what the transfer left in r and the handle. */
static void push_response(lua_State *L, request *r, int want_digest)
{
	long status = 0, version = 0, redirects = 0, connects = 0;
	char *url = NULL;
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->curl, CURLINFO_HTTP_VERSION, &version);
	curl_easy_getinfo(r->curl, CURLINFO_REDIRECT_COUNT, &redirects);
	curl_easy_getinfo(r->curl, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(r->curl, CURLINFO_EFFECTIVE_URL, &url);
	lua_createtable(L, 0, 10);
	lua_pushinteger(L, status);
	lua_setfield(L, -2, "status");
	push_headers(L, &r->head);
	if (r->fd < 0) {
		lua_pushlstring(L, r->body.p ? r->body.p : "", r->body.len);
		lua_setfield(L, -2, "body");
	}
	lua_pushinteger(L, (lua_Integer)r->bytes);
	lua_setfield(L, -2, "bytes");
	if (want_digest) {
		push_hex_digest(L, r->md);
		lua_setfield(L, -2, "digest");
	}
	if (url) {
		lua_pushstring(L, url);
		lua_setfield(L, -2, "url");
	}
	if (http_version(version)) {
		lua_pushstring(L, http_version(version));
		lua_setfield(L, -2, "http_version");
	}
	lua_pushinteger(L, redirects);
	lua_setfield(L, -2, "redirects");
	lua_pushinteger(L, connects);
	lua_setfield(L, -2, "connects");
}

/* The client's own settings, again after each curl_easy_reset (which keeps
 * the connections, but drops every option). */
static void set_client_options(client *c, request *r, char *errbuf)
{
	CURL *h = c->curl;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	if (c->cainfo)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cainfo);
	curl_easy_setopt(h, CURLOPT_VERBOSE, (long)c->verbose);
	/* Signal dispositions are luactr's (its supervisor's): curl may not
	 * change them. Linux's send(MSG_NOSIGNAL) keeps SIGPIPE away. */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
}

/* c:request(t) -> resp, or nil, message, code. */
static int client_request(lua_State *L)
{
	client *c = check_client(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	ns_checkopts(L, 2, request_keys);
	luaL_argcheck(L, !c->busy, 1, "http client is in use (by the request this runs in)");
	lua_settop(L, 2);
	/* the fields' slots, then what headers and the response push */
	luaL_checkstack(L, 40, "http request");
	const char *fields[] = {"url", "method", "headers", "body", "out", "digest", "max", "follow", "progress", "insecure"};
	for (int i = 0; i < R_END - R_URL; i++)
		lua_getfield(L, 2, fields[i]);

	const char *url = field_string(L, 2, R_URL, "url");
	if (!url)
		field_type_error(L, 2, R_URL, "url", "string");
	int method = check_method(L, R_METHOD);
	int has_type = 0, has_expect = 0;
	check_headers(L, R_HEADERS, &has_type, &has_expect);
	size_t body_len = 0;
	const char *body = NULL;
	if (!lua_isnil(L, R_BODY)) {
		if (lua_type(L, R_BODY) != LUA_TSTRING)
			field_type_error(L, 2, R_BODY, "body", "string");
		if (method != M_PUT && method != M_POST && method != M_PATCH)
			field_error(L, 2, "body", "only PUT, POST and PATCH send a body");
		body = lua_tolstring(L, R_BODY, &body_len);
	}
	int out_fd = -1;
	const char *out_path = NULL;
	if (!lua_isnil(L, R_OUT)) {
		ns_fd *h = luaL_testudata(L, R_OUT, NS_FD_MT);
		if (h) {
			if (h->fd < 0)
				field_error(L, 2, "out", "attempt to use a closed fd");
			out_fd = h->fd;
		} else if (lua_type(L, R_OUT) == LUA_TNUMBER) {
			int isint;
			lua_Integer v = lua_tointegerx(L, R_OUT, &isint);
			if (!isint || v < 0 || v > 0x7fffffff)
				field_error(L, 2, "out", "fd out of range");
			out_fd = (int)v;
		} else if (lua_type(L, R_OUT) == LUA_TSTRING) {
			out_path = field_string(L, 2, R_OUT, "out");
		} else {
			field_type_error(L, 2, R_OUT, "out", "fd, fd handle or path");
		}
	}
	int want_digest = 0;
	if (!lua_isnil(L, R_DIGEST)) {
		const char *d = field_string(L, 2, R_DIGEST, "digest");
		if (strcmp(d, "sha256") != 0)
			field_error(L, 2, "digest", lua_pushfstring(L, "invalid digest '%s' (valid: sha256)", d));
		want_digest = 1;
	}
	lua_Integer max = MAX_BODY_DEFAULT;
	if (!lua_isnil(L, R_MAX)) {
		int isint;
		max = lua_tointegerx(L, R_MAX, &isint);
		if (lua_type(L, R_MAX) != LUA_TNUMBER || !isint)
			field_type_error(L, 2, R_MAX, "max", "integer");
		if (max < 0)
			field_error(L, 2, "max", "a negative size");
	}
	int follow = field_bool(L, 2, R_FOLLOW, "follow", 1);
	if (!lua_isnil(L, R_PROGRESS) && !lua_isfunction(L, R_PROGRESS))
		field_type_error(L, 2, R_PROGRESS, "progress", "function");
	int insecure = field_bool(L, 2, R_INSECURE, "insecure", 0);

	/* Every field is checked: from here on, resources. */
	request *r = lua_newuserdatauv(L, sizeof *r, 0);
	memset(r, 0, sizeof *r);
	r->fd = -1;
	luaL_setmetatable(L, REQUEST_MT);
	int ridx = lua_gettop(L);
	r->L = L;
	r->curl = c->curl;
	r->max = (size_t)max;
	r->head_only = method == M_HEAD;
	r->progress_idx = lua_isnil(L, R_PROGRESS) ? 0 : R_PROGRESS;
	r->progress_last = -PROGRESS_EVERY; /* the first call is at once */
	if (want_digest) {
		r->md = EVP_MD_CTX_new();
		if (!r->md || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1)
			return luaL_error(L, "http request: cannot set up sha256 (libcrypto)");
	}
	int ok = build_headers(L, r, R_HEADERS);
	if (ok && (method == M_PUT || method == M_POST || method == M_PATCH)) {
		/* curl would label a body form data, and hold a large one back
		 * for a 100 Continue first. */
		if (!has_type)
			ok = add_header(r, "Content-Type:");
		if (ok && !has_expect)
			ok = add_header(r, "Expect:");
	}
	if (!ok)
		return luaL_error(L, "http request: out of memory");
	if (out_path) {
		r->fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
		if (r->fd < 0) {
			int err = errno;
			request_free(r);
			return ns_fail_errno(L, err, "open", out_path);
		}
		r->own_fd = 1;
		r->out_name = out_path;
	} else if (out_fd >= 0) {
		r->fd = out_fd;
		snprintf(r->fd_name, sizeof r->fd_name, "fd %d", out_fd);
		r->out_name = r->fd_name;
	}

	CURL *h = c->curl;
	char errbuf[CURL_ERROR_SIZE];
	errbuf[0] = '\0';
	curl_easy_reset(h);
	set_client_options(c, r, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
	/* libcurl (7.58 on, and for a port or scheme change 7.83 on) sends a
	 * custom Authorization header to the first host only: a redirect
	 * elsewhere goes without it, unless CURLOPT_UNRESTRICTED_AUTH, which
	 * stays off. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, (long)follow);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
	curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
	if (insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	switch (method) {
	case M_GET:
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		break;
	case M_HEAD:
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		break;
	case M_DELETE:
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	default:
		/* PUT, POST, PATCH: the body from memory (the string stays
		 * on the stack), an empty one when none is given. */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		if (method != M_POST)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, methods[method]);
		break;
	}
	if (r->progress_idx) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	}

	fdset before = {NULL, 0, 0};
	if (!c->fds_marked)
		before = open_fds();
	c->busy = 1;
	CURLcode res = curl_easy_perform(h);
	c->busy = 0;
	if (!c->fds_marked) {
		mark_new_fds(&before);
		c->fds_marked = 1;
	}
	/* The handle must not point at r, which goes with this call. */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

	if (res == CURLE_OK && r->progress_idx && !r->progress_err)
		call_progress(r);
	if (r->progress_err || res != CURLE_OK) {
		int unlink_it = r->own_fd;
		request_free(r);
		if (unlink_it)
			unlink(out_path);
		if (r->progress_err) {
			lua_pushvalue(L, r->progress_err);
			return lua_error(L);
		}
		const char *m = methods[method];
		if (r->write_errno)
			return ns_fail_errno(L, r->write_errno, "write", r->out_name);
		if (r->over_max) {
			const char *detail = lua_pushfstring(L, "response body over %I bytes (option max)", max);
			return curl_fail(L, m, url, CURLE_FILESIZE_EXCEEDED, detail);
		}
		if (r->no_memory)
			return ns_fail_errno(L, ENOMEM, m, url);
		size_t n = strlen(errbuf);
		while (n > 0 && (errbuf[n - 1] == '\n' || errbuf[n - 1] == '\r'))
			errbuf[--n] = '\0';
		return curl_fail(L, m, url, res, n ? errbuf : curl_easy_strerror(res));
	}
	push_response(L, r, want_digest);
	lua_replace(L, ridx);
	request_free(r);
	lua_settop(L, ridx);
	return 1;
}

static const luaL_Reg client_methods[] = {
	{"close", client_close},
	{"request", client_request},
	{NULL, NULL},
};

static const luaL_Reg client_meta[] = {
	{"__close", client_gc},
	{"__gc", client_gc},
	{"__tostring", client_tostring},
	{NULL, NULL},
};

static const luaL_Reg http_funcs[] = {
	{"client", ns_http_client},
	{NULL, NULL},
};

LUAMOD_API int luaopen_ns_http(lua_State *L);
__attribute__((visibility("default"))) int luaopen_ns_http(lua_State *L)
{
	static int curl_ready;
	if (!curl_ready) {
		CURLcode res = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (res != CURLE_OK)
			return luaL_error(L, "curl_global_init: %s (curl error %d)", curl_easy_strerror(res), (int)res);
		curl_ready = 1;
	}
	luaL_newmetatable(L, CLIENT_MT);
	luaL_setfuncs(L, client_meta, 0);
	luaL_newlib(L, client_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, REQUEST_MT);
	lua_pushcfunction(L, request_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, http_funcs);
	lua_pushstring(L, curl_version());
	lua_setfield(L, -2, "curl_version");
	return 1;
}
