/*
 * archive.c - ns.archive: image layers in and out. unpack extracts a
 * (compressed) tar into a directory, never writing outside it, and gives
 * the sha256 of the blob and of the tar stream from the same single pass;
 * pack writes a tree as a reproducible pax tar (optionally compressed)
 * with the same two digests. OCI/docker whiteouts convert to and from
 * overlayfs' form (a 0/0 character device, the opaque xattr).
 * See libarchive(3), archive_read(3), archive_write_disk(3), openat2(2),
 * mknod(2), setxattr(2), pthread_create(3), and the OCI image-spec's
 * layer.md for whiteouts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "ns.h"


/* The decompressed stream goes from the decompressing thread to the
 * extracting one through SLOTS buffers of SLOT bytes; src is read IN_CHUNK
 * bytes at a time. */
#define SLOTS 8
#define SLOT (1 << 20)
#define IN_CHUNK (1 << 20)
#define MSG_MAX 1024
#define HEX_MAX (2 * EVP_MAX_MD_SIZE + 1)

/* The one prefix that marks a whiteout, and the opaque marker's name. */
#define WH_PREFIX ".wh."
#define WH_META ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

/* A message for the caller: "<verb> <label>: ..." and an errno. */
typedef struct failure {
	char msg[MSG_MAX];
	int err;
} failure;

static void failf(failure *f, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failf(failure *f, int err, const char *fmt, ...)
{
	if (f->msg[0])
		return; /* the first failure is the one to report */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	f->err = err;
}

/* A libarchive errno as a real one: its own codes are not above 0. */
static int archive_err(struct archive *a)
{
	int e = archive_errno(a);
	return e > 0 ? e : EIO;
}

static void finish_hex(EVP_MD_CTX *ctx, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1)
		n = 0;
	for (unsigned i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

static EVP_MD_CTX *sha256_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

/* An fd argument: a handle or an integer; -1 when idx is neither. */
static int opt_fd(lua_State *L, int idx)
{
	ns_fd *h = luaL_testudata(L, idx, NS_FD_MT);
	if (h) {
		luaL_argcheck(L, h->fd >= 0, idx, "attempt to use a closed fd");
		return h->fd;
	}
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Integer n = luaL_checkinteger(L, idx);
		luaL_argcheck(L, n >= 0 && n <= INT_MAX, idx, "fd out of range");
		return (int)n;
	}
	return -1;
}

/* opts[key] as a boolean, def when nil; another type raises. */
static int opt_bool(lua_State *L, int idx, const char *key, int def)
{
	if (lua_isnoneornil(L, idx))
		return def;
	int t = lua_getfield(L, idx, key);
	int v = def;
	if (t == LUA_TBOOLEAN)
		v = lua_toboolean(L, -1);
	else if (t != LUA_TNIL)
		luaL_argerror(L, idx, lua_pushfstring(L, "option '%s': boolean expected, got %s", key, luaL_typename(L, -1)));
	lua_pop(L, 1);
	return v;
}

/* opts[key] as an id (an integer 0..UINT32_MAX - 1), -1 when nil;
 * anything else raises. */
static long long opt_id(lua_State *L, int idx, const char *key)
{
	if (lua_isnoneornil(L, idx))
		return -1;
	long long v = -1;
	if (lua_getfield(L, idx, key) != LUA_TNIL) {
		int isint;
		lua_Integer n = lua_tointegerx(L, -1, &isint);
		if (lua_type(L, -1) != LUA_TNUMBER || !isint || n < 0 || n >= (lua_Integer)UINT32_MAX)
			luaL_argerror(L, idx, lua_pushfstring(L, "option '%s': an id (an integer from 0) expected", key));
		v = (long long)n;
	}
	lua_pop(L, 1);
	return v;
}

/* opts.opaque_xattr into out (default trusted.overlay.opaque). */
static void opt_xattr_name(lua_State *L, int idx, char *out, size_t size)
{
	const char *v = "trusted.overlay.opaque";
	if (!lua_isnoneornil(L, idx) && lua_getfield(L, idx, "opaque_xattr") != LUA_TNIL) {
		size_t len;
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_argerror(L, idx, lua_pushfstring(L, "option 'opaque_xattr': string expected, got %s",
							      luaL_typename(L, -1)));
		v = lua_tolstring(L, -1, &len);
		luaL_argcheck(L, len > 0 && len < size && strlen(v) == len && strchr(v, '.'), idx,
			      "option 'opaque_xattr': an xattr name (namespace.name) expected");
	}
	snprintf(out, size, "%s", v);
	if (!lua_isnoneornil(L, idx))
		lua_pop(L, 1);
}

/* Whether xattr name is in the namespace of the opaque marker's
 * ("trusted.overlay." for "trusted.overlay.opaque"): overlayfs' own. */
static int overlay_own(const char *marker, const char *name)
{
	const char *dot = strrchr(marker, '.');
	size_t n = dot ? (size_t)(dot - marker) + 1 : 0;
	return n > 0 && strncmp(name, marker, n) == 0;
}

/* pax keeps names in UTF-8; in the C locale (lua5.4's) libarchive can
 * convert none that is not ASCII. uselocale changes the calling thread's
 * alone, until utf8_leave puts *old back. Without C.UTF-8, nothing
 * changes. */
static locale_t utf8_enter(locale_t *old)
{
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	*old = utf8 ? uselocale(utf8) : (locale_t)0;
	return utf8;
}

static void utf8_leave(locale_t utf8, locale_t old)
{
	if (utf8) {
		uselocale(old);
		freelocale(utf8);
	}
}

/* Set t[k] = v for the result tables. */
static void set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, long long v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

/* ---- unpack: the decompressing thread ---- */

typedef struct feed {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *slot[SLOTS];
	size_t len[SLOTS];
	int head, count; /* filled slots, the first (head) held by the reader */
	int held;        /* the reader holds slots[head] until its next read */
	int eof;         /* the producer has ended; fail says whether it failed */
	int done;        /* the reader needs no more data: hash the rest only */
	int abort;       /* the reader failed: stop now */

	int src;
	unsigned char *in;
	EVP_MD_CTX *blob, *tar;
	long long bytes, size;
	int filter;
	failure fail;
} feed;

/* libarchive's read callback for the blob: every byte read is hashed as
 * it is read (here, and in the producer's drain after the end), so the
 * digest is of exactly what was read. */
static la_ssize_t src_read(struct archive *a, void *data, const void **buf)
{
	feed *f = data;
	for (;;) {
		ssize_t n = read(f->src, f->in, IN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "read: %s (%s)", strerror(errno), ns_errname(errno));
			return -1;
		}
		EVP_DigestUpdate(f->blob, f->in, (size_t)n);
		f->bytes += n;
		*buf = f->in;
		return n;
	}
}

/* A free slot's index, or -1 when the reader aborted. */
static int slot_wait(feed *f)
{
	pthread_mutex_lock(&f->mu);
	while (f->count == SLOTS && !f->abort && !f->done)
		pthread_cond_wait(&f->cv, &f->mu);
	int i = f->abort ? -1 : (f->head + f->count) % SLOTS;
	pthread_mutex_unlock(&f->mu);
	return i;
}

/* Queue slot i (len bytes), unless the reader is done with the stream. */
static void slot_put(feed *f, int i, size_t len)
{
	pthread_mutex_lock(&f->mu);
	if (!f->done && !f->abort && len > 0) {
		f->len[i] = len;
		f->count++;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
}

static void *producer(void *data)
{
	feed *f = data;
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	if (!a) {
		failf(&f->fail, ENOMEM, "archive_read_new: out of memory");
		goto out;
	}
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_format_raw(a);
	archive_read_support_format_empty(a);
	if (archive_read_open2(a, f, NULL, src_read, NULL, NULL) != ARCHIVE_OK) {
		failf(&f->fail, archive_err(a), "%s", archive_error_string(a));
		goto out;
	}
	int r = archive_read_next_header(a, &e);
	f->filter = archive_filter_code(a, 0);
	if (r == ARCHIVE_EOF)
		goto drain; /* an empty blob */
	if (r < ARCHIVE_WARN) {
		failf(&f->fail, archive_err(a), "%s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		int i = slot_wait(f);
		if (i < 0)
			goto out;
		size_t len = 0;
		int end = 0;
		while (len < SLOT) {
			la_ssize_t n = archive_read_data(a, f->slot[i] + len, SLOT - len);
			if (n < 0) {
				failf(&f->fail, archive_err(a), "%s", archive_error_string(a));
				goto out;
			}
			if (n == 0) {
				end = 1;
				break;
			}
			EVP_DigestUpdate(f->tar, f->slot[i] + len, (size_t)n);
			len += (size_t)n;
			f->size += n;
		}
		slot_put(f, i, len);
		if (end)
			break;
	}
drain:
	/* What the filter left unread (a blob's trailing bytes) is still the
	 * blob's: the digest is of all of src. */
	for (;;) {
		ssize_t n = read(f->src, f->in, IN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			failf(&f->fail, errno, "read: %s (%s)", strerror(errno), ns_errname(errno));
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(f->blob, f->in, (size_t)n);
		f->bytes += n;
	}
out:
	if (a)
		archive_read_free(a);
	pthread_mutex_lock(&f->mu);
	f->eof = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* The tar reader's callback: the next filled slot, kept until the next
 * call; 0 at the end, -1 when the producer failed. */
static la_ssize_t feed_read(struct archive *a, void *data, const void **buf)
{
	feed *f = data;
	pthread_mutex_lock(&f->mu);
	if (f->held) {
		f->head = (f->head + 1) % SLOTS;
		f->count--;
		f->held = 0;
		pthread_cond_broadcast(&f->cv);
	}
	while (f->count == 0 && !f->eof)
		pthread_cond_wait(&f->cv, &f->mu);
	la_ssize_t n = 0;
	if (f->count > 0) {
		f->held = 1;
		*buf = f->slot[f->head];
		n = (la_ssize_t)f->len[f->head];
	} else if (f->fail.msg[0]) {
		archive_set_error(a, EIO, "decompression failed");
		n = -1;
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* Tell the producer that the reader is done (ok) or failed. */
static void feed_stop(feed *f, int ok)
{
	pthread_mutex_lock(&f->mu);
	if (ok)
		f->done = 1;
	else
		f->abort = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* ---- unpack: the extracting side ---- */

typedef struct unpacker {
	const char *label; /* src as the messages name it */
	int dest;          /* O_PATH fd of dest */
	int owners, xattrs, whiteouts;
	long long max_uid, max_gid; /* -1: any id */
	char opaque[XATTR_NAME_MAX + 1];
	/* The last parent directory found free of symlinks (see check_parent). */
	char parent_ok[PATH_MAX];
	int parent_valid;
	failure fail;
} unpacker;

/* Clean an entry's path into out: no leading "/" (refused), no "." or
 * empty components, no ".." (refused). "" is dest itself. Returns 0, or
 * -1 with why. */
static int clean_path(const char *in, char *out, size_t size, const char **why)
{
	size_t o = 0;
	if (in[0] == '/') {
		*why = "absolute path";
		return -1;
	}
	const char *p = in;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*why = "path escapes the directory";
			return -1;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > size) {
				*why = "path too long";
				return -1;
			}
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *end ? end + 1 : end;
	}
	out[o] = '\0';
	return 0;
}

static int openat2_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* The first prefix of path (a clean relative path) that is a symlink in
 * dest, into out; 0 when one was found. */
static int find_symlink(int dest, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s", path);
	for (char *p = out;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			struct stat st;
			if (fstatat(dest, out, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				return 0;
			*p = c;
			if (!c)
				return -1;
		}
	}
}

/* Check that dir (a clean path, "" for dest) resolves beneath dest
 * through no symlink. A missing part is fine (it will be made a
 * directory); a symlink anywhere is refused, naming it. what names the
 * entry for the message ("entry" or "hard link of entry"). */
static int check_dir(unpacker *u, const char *entry, const char *what, const char *dir)
{
	if (!*dir)
		return 0;
	int fd = openat2_beneath(u->dest, dir, O_PATH);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	int err = errno;
	if (err == ENOENT || err == ENOTDIR)
		return 0; /* libarchive makes (or replaces) the missing directory */
	if (err == ELOOP) {
		char link[PATH_MAX];
		if (find_symlink(u->dest, dir, link, sizeof link) != 0)
			snprintf(link, sizeof link, "%s", dir);
		failf(&u->fail, ELOOP, "unpack %s: %s \"%s\": through symlink \"%s\"", u->label, what, entry, link);
	} else if (err == EXDEV) {
		failf(&u->fail, EXDEV, "unpack %s: %s \"%s\": path escapes the directory", u->label, what, entry);
	} else {
		failf(&u->fail, err, "unpack %s: %s \"%s\": openat2 %s: %s (%s)", u->label, what, entry, dir,
		      strerror(err), ns_errname(err));
	}
	return -1;
}

/* path's parent directory, checked as check_dir does; the last parent found
 * good is remembered until an entry that could make a symlink. */
static int check_parent(unpacker *u, const char *entry, const char *what, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (u->parent_valid && strcmp(dir, u->parent_ok) == 0)
		return 0;
	if (check_dir(u, entry, what, dir) != 0)
		return -1;
	memcpy(u->parent_ok, dir, n + 1);
	u->parent_valid = 1;
	return 0;
}

/* A real (not O_PATH) fd of the directory dir beneath dest, through no
 * symlink, making what is missing 0755; -1 with u->fail set. */
static int open_dir(unpacker *u, const char *entry, const char *dir)
{
	int fd = openat2_beneath(u->dest, ".", O_RDONLY | O_DIRECTORY);
	char part[PATH_MAX];
	snprintf(part, sizeof part, "%s", dir);
	char *p = part;
	while (fd >= 0 && *p) {
		char *end = strchrnul(p, '/');
		char c = *end;
		*end = '\0';
		int next = openat2_beneath(fd, p, O_RDONLY | O_DIRECTORY);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(fd, p, 0755) == 0 || errno == EEXIST) {
				fchmodat(fd, p, 0755, 0); /* whatever the caller's umask */
				next = openat2_beneath(fd, p, O_RDONLY | O_DIRECTORY);
			}
		}
		int err = errno;
		close(fd);
		fd = next;
		if (fd < 0) {
			if (err == ELOOP) {
				failf(&u->fail, ELOOP, "unpack %s: entry \"%s\": through symlink \"%s\"", u->label, entry,
				      part);
			} else {
				failf(&u->fail, err, "unpack %s: entry \"%s\": open %s: %s (%s)", u->label, entry, part,
				      strerror(err), ns_errname(err));
			}
			return -1;
		}
		*end = c;
		p = c ? end + 1 : end;
	}
	if (fd < 0)
		failf(&u->fail, errno, "unpack %s: open the directory: %s (%s)", u->label, strerror(errno),
		      ns_errname(errno));
	return fd;
}

/* Remove name in dirfd, a directory with all it holds; never follows a
 * symlink. ENOENT is not a failure. */
static int remove_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -1;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = remove_at(fd, de->d_name);
	}
	closedir(d);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* A whiteout entry (path clean, base its last part, which starts with
 * ".wh."): done here, never written as a file. 0 or -1. */
static int whiteout(unpacker *u, struct archive_entry *e, const char *path, const char *base)
{
	char dir[PATH_MAX];
	size_t n = (size_t)(base - path);
	memcpy(dir, path, n);
	dir[n ? n - 1 : 0] = '\0';
	if (strncmp(base, WH_META, sizeof WH_META - 1) == 0 && strcmp(base, WH_OPAQUE) != 0)
		return 0; /* other markers of the OCI spec's: nothing to do */
	const char *name = base + sizeof WH_PREFIX - 1;
	int opaque = strcmp(base, WH_OPAQUE) == 0;
	if (!opaque && (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)) {
		failf(&u->fail, EINVAL, "unpack %s: entry \"%s\": invalid whiteout", u->label, path);
		return -1;
	}
	int fd = open_dir(u, path, dir);
	if (fd < 0)
		return -1;
	int rc = 0;
	if (opaque) {
		if (fsetxattr(fd, u->opaque, "y", 1, 0) != 0) {
			failf(&u->fail, errno, "unpack %s: entry \"%s\": setxattr %s: %s (%s)", u->label, path, u->opaque,
			      strerror(errno), ns_errname(errno));
			rc = -1;
		}
	} else if (remove_at(fd, name) != 0) {
		failf(&u->fail, errno, "unpack %s: entry \"%s\": remove %s: %s (%s)", u->label, path, name,
		      strerror(errno), ns_errname(errno));
		rc = -1;
	} else if (mknodat(fd, name, S_IFCHR | 0, makedev(0, 0)) != 0) {
		failf(&u->fail, errno, "unpack %s: entry \"%s\": mknod %s: %s (%s)", u->label, path, name,
		      strerror(errno), ns_errname(errno));
		rc = -1;
	} else if (u->owners && fchownat(fd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
					 AT_SYMLINK_NOFOLLOW) != 0) {
		failf(&u->fail, errno, "unpack %s: entry \"%s\": chown %s: %s (%s)", u->label, path, name,
		      strerror(errno), ns_errname(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

/* Refuse an entry whose owner is past max_uid or max_gid (what a user
 * namespace maps: chown to an id it does not map is EINVAL, which
 * libarchive reports without the id). 0 or -1. */
static int check_ids(unpacker *u, struct archive_entry *e, const char *raw)
{
	if (!u->owners)
		return 0;
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	const char *kind = NULL;
	long long id = 0, max = 0;
	if (u->max_uid >= 0 && uid > u->max_uid)
		kind = "uid", id = (long long)uid, max = u->max_uid;
	else if (u->max_gid >= 0 && gid > u->max_gid)
		kind = "gid", id = (long long)gid, max = u->max_gid;
	if (!kind)
		return 0;
	failf(&u->fail, EOVERFLOW, "unpack %s: entry \"%s\": %s %lld is not mapped (only %ss 0-%lld are)", u->label,
	      raw, kind, id, kind, max);
	return -1;
}

/* Leave out overlayfs' own xattrs (those in the opaque marker's
 * namespace) of an entry: a layer says what it hides with whiteouts, and
 * an overlay would follow a redirect or origin xattr it carried.
 * libarchive removes no single xattr: the others are copied, the list
 * cleared, the copies added back. 0 or -1. */
static int drop_overlay_xattrs(unpacker *u, struct archive_entry *e, const char *raw)
{
	int n = archive_entry_xattr_reset(e);
	if (n <= 0)
		return 0;
	struct kept {
		char *name;
		void *value;
		size_t size;
	} *keep = calloc((size_t)n, sizeof *keep);
	if (!keep) {
		failf(&u->fail, ENOMEM, "unpack %s: entry \"%s\": out of memory", u->label, raw);
		return -1;
	}
	int k = 0, dropped = 0, rc = 0;
	const char *name;
	const void *value;
	size_t size;
	while (k < n && archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (overlay_own(u->opaque, name)) {
			dropped = 1;
			continue;
		}
		keep[k].name = strdup(name);
		keep[k].value = malloc(size ? size : 1);
		if (!keep[k].name || !keep[k].value) {
			free(keep[k].name);
			free(keep[k].value);
			rc = -1;
			break;
		}
		memcpy(keep[k].value, value, size);
		keep[k++].size = size;
	}
	if (rc == 0 && dropped) {
		archive_entry_xattr_clear(e);
		for (int i = 0; i < k; i++)
			archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
	}
	for (int i = 0; i < k; i++) {
		free(keep[i].name);
		free(keep[i].value);
	}
	free(keep);
	if (rc != 0)
		failf(&u->fail, ENOMEM, "unpack %s: entry \"%s\": out of memory", u->label, raw);
	return rc;
}

/* Our own checks of an entry before libarchive's: clean its path (and its
 * hard link's) in place, refuse what would leave dest. Returns 1 when the
 * entry was a whiteout (done), 0 to extract it, -1 when refused. */
static int vet_entry(unpacker *u, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	char path[PATH_MAX];
	const char *why;
	if (!raw) {
		failf(&u->fail, EILSEQ, "unpack %s: an entry without a readable name", u->label);
		return -1;
	}
	if (clean_path(raw, path, sizeof path, &why) != 0) {
		failf(&u->fail, strcmp(why, "path too long") == 0 ? ENAMETOOLONG : EXDEV, "unpack %s: entry \"%s\": %s",
		      u->label, raw, why);
		return -1;
	}
	int type = archive_entry_filetype(e);
	const char *link = archive_entry_hardlink(e);
	if (!*path && (type != AE_IFDIR || link)) {
		failf(&u->fail, EEXIST, "unpack %s: entry \"%s\": the directory itself, as a non-directory", u->label, raw);
		return -1;
	}
	if (check_parent(u, raw, "entry", path) != 0 || check_ids(u, e, raw) != 0)
		return -1;
	if (u->whiteouts) {
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (strncmp(base, WH_PREFIX, sizeof WH_PREFIX - 1) == 0) {
			u->parent_valid = 0;
			return whiteout(u, e, path, base) == 0 ? 1 : -1;
		}
	}
	if (link) {
		char target[PATH_MAX];
		if (clean_path(link, target, sizeof target, &why) != 0) {
			failf(&u->fail, EXDEV, "unpack %s: entry \"%s\": hard link to \"%s\": %s", u->label, raw, link,
			      link[0] == '/' ? "absolute path" : why);
			return -1;
		}
		if (!*target) {
			failf(&u->fail, EXDEV, "unpack %s: entry \"%s\": hard link to the directory itself", u->label, raw);
			return -1;
		}
		/* The target's last part may be a symlink (a link to the
		 * symlink itself, as link(2) makes it); no part before. */
		u->parent_valid = 0;
		if (check_parent(u, raw, "hard link of entry", target) != 0)
			return -1;
		u->parent_valid = 0;
		archive_entry_copy_hardlink(e, target);
	}
	if (type == AE_IFLNK)
		u->parent_valid = 0;
	if (u->whiteouts && u->xattrs && drop_overlay_xattrs(u, e, raw) != 0)
		return -1;
	archive_entry_copy_pathname(e, *path ? path : ".");
	return 0;
}

/* Extract every entry that the tar reader r gives; 0 or -1 (u->fail). */
static int extract(unpacker *u, struct archive *r, struct archive *w, long long *entries)
{
	struct archive_entry *e;
	for (;;) {
		int rc = archive_read_next_header(r, &e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc < ARCHIVE_WARN) {
			failf(&u->fail, archive_err(r), "unpack %s: %s", u->label, archive_error_string(r));
			return -1;
		}
		(*entries)++;
		char name[PATH_MAX];
		snprintf(name, sizeof name, "%s", archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
		int v = vet_entry(u, e);
		if (v < 0)
			return -1;
		if (v > 0)
			continue;
		if (archive_write_header(w, e) != ARCHIVE_OK) {
			failf(&u->fail, archive_err(w), "unpack %s: entry \"%s\": %s", u->label, name,
			      archive_error_string(w));
			return -1;
		}
		const void *buf;
		size_t len;
		la_int64_t off;
		while ((rc = archive_read_data_block(r, &buf, &len, &off)) == ARCHIVE_OK) {
			if (archive_write_data_block(w, buf, len, off) != ARCHIVE_OK) {
				failf(&u->fail, archive_err(w), "unpack %s: entry \"%s\": %s", u->label, name,
				      archive_error_string(w));
				return -1;
			}
		}
		if (rc != ARCHIVE_EOF) {
			failf(&u->fail, archive_err(r), "unpack %s: entry \"%s\": %s", u->label, name,
			      archive_error_string(r));
			return -1;
		}
		if (archive_write_finish_entry(w) != ARCHIVE_OK) {
			failf(&u->fail, archive_err(w), "unpack %s: entry \"%s\": %s", u->label, name,
			      archive_error_string(w));
			return -1;
		}
	}
}

static const char *filter_name(int code)
{
	switch (code) {
	case ARCHIVE_FILTER_NONE:
		return "none";
	case ARCHIVE_FILTER_GZIP:
		return "gzip";
	case ARCHIVE_FILTER_ZSTD:
		return "zstd";
	case ARCHIVE_FILTER_XZ:
		return "xz";
	case ARCHIVE_FILTER_BZIP2:
		return "bzip2";
	default:
		return "unknown";
	}
}

/* The extracting half, in dest (cwd): the tar reader and the disk writer
 * over the feed. Everything libarchive does relative to the cwd, its
 * deferred fix-ups of directory modes and times included, ends here. */
static void run_extract(unpacker *u, feed *f, long long *entries)
{
	struct archive *r = archive_read_new();
	struct archive *w = archive_write_disk_new();
	if (!r || !w) {
		failf(&u->fail, ENOMEM, "unpack %s: out of memory", u->label);
		goto out;
	}
	archive_read_support_format_tar(r);
	archive_read_support_format_empty(r);
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
	if (u->owners)
		flags |= ARCHIVE_EXTRACT_OWNER;
	if (u->xattrs)
		flags |= ARCHIVE_EXTRACT_XATTR;
	/* No user or group lookup is set: owners stay the numbers of the tar. */
	archive_write_disk_set_options(w, flags);
	if (archive_read_open2(r, f, NULL, feed_read, NULL, NULL) != ARCHIVE_OK) {
		failf(&u->fail, archive_err(r), "unpack %s: %s", u->label, archive_error_string(r));
		goto out;
	}
	if (extract(u, r, w, entries) != 0)
		goto out;
	if (archive_write_close(w) != ARCHIVE_OK)
		failf(&u->fail, archive_err(w), "unpack %s: %s", u->label, archive_error_string(w));
out:
	if (w)
		archive_write_free(w);
	if (r)
		archive_read_free(r);
}

/* A.unpack(src, dest [, opts]): see API.md. */
static int ns_archive_unpack(lua_State *L)
{
	static const char *const keys[] = {"max_gid", "max_uid", "opaque_xattr", "owners", "whiteouts", "xattrs", NULL};
	int srcfd = opt_fd(L, 1);
	const char *src = srcfd < 0 ? ns_checkstring(L, 1) : NULL;
	const char *dest = ns_checkstring(L, 2);
	ns_checkopts(L, 3, keys);
	unpacker u = {0};
	u.owners = opt_bool(L, 3, "owners", geteuid() == 0);
	u.xattrs = opt_bool(L, 3, "xattrs", 1);
	u.whiteouts = opt_bool(L, 3, "whiteouts", 0);
	u.max_uid = opt_id(L, 3, "max_uid");
	u.max_gid = opt_id(L, 3, "max_gid");
	opt_xattr_name(L, 3, u.opaque, sizeof u.opaque);
	char label[PATH_MAX + 16];
	if (src)
		snprintf(label, sizeof label, "%s", src);
	else
		snprintf(label, sizeof label, "fd %d", srcfd);
	u.label = label;
	u.dest = -1;

	/* From here on no Lua error: every resource is released below. */
	feed f = {.src = srcfd, .filter = ARCHIVE_FILTER_NONE};
	int cwd = -1, own_src = 0, err;
	long long entries = 0;
	pthread_t tid;
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	if (src) {
		f.src = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (f.src < 0) {
			failf(&u.fail, errno, "unpack %s: %s (%s)", label, strerror(errno), ns_errname(errno));
			goto out;
		}
		own_src = 1;
	}
	u.dest = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (u.dest < 0) {
		failf(&u.fail, errno, "unpack %s: dest %s: %s (%s)", label, dest, strerror(errno), ns_errname(errno));
		goto out;
	}
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0) {
		failf(&u.fail, errno, "unpack %s: open the working directory: %s (%s)", label, strerror(errno),
		      ns_errname(errno));
		goto out;
	}
	f.in = malloc(IN_CHUNK);
	for (int i = 0; i < SLOTS; i++)
		f.slot[i] = malloc(SLOT);
	f.blob = sha256_new();
	f.tar = sha256_new();
	int nomem = !f.in || !f.blob || !f.tar;
	for (int i = 0; i < SLOTS; i++)
		nomem |= !f.slot[i];
	if (nomem) {
		failf(&u.fail, ENOMEM, "unpack %s: out of memory", label);
		goto out;
	}
	if ((err = pthread_create(&tid, NULL, producer, &f)) != 0) {
		failf(&u.fail, err, "unpack %s: pthread_create: %s (%s)", label, strerror(err), ns_errname(err));
		goto out;
	}
	locale_t old, utf8 = utf8_enter(&old);
	if (fchdir(u.dest) != 0) {
		failf(&u.fail, errno, "unpack %s: chdir %s: %s (%s)", label, dest, strerror(errno), ns_errname(errno));
	} else {
		run_extract(&u, &f, &entries);
		if (fchdir(cwd) != 0)
			failf(&u.fail, errno, "unpack %s: back to the working directory: %s (%s)", label,
			      strerror(errno), ns_errname(errno));
	}
	utf8_leave(utf8, old);
	feed_stop(&f, !u.fail.msg[0]);
	pthread_join(tid, NULL);
	/* The producer's failure explains the reader's ("decompression
	 * failed"), so it comes first. */
	if (f.fail.msg[0]) {
		u.fail.msg[0] = '\0';
		failf(&u.fail, f.fail.err, "unpack %s: %s", label, f.fail.msg);
	}
out:
	if (own_src && f.src >= 0)
		close(f.src);
	if (u.dest >= 0)
		close(u.dest);
	if (cwd >= 0)
		close(cwd);
	char digest[HEX_MAX] = "", diff_id[HEX_MAX] = "";
	if (f.blob) {
		finish_hex(f.blob, digest);
		EVP_MD_CTX_free(f.blob);
	}
	if (f.tar) {
		finish_hex(f.tar, diff_id);
		EVP_MD_CTX_free(f.tar);
	}
	free(f.in);
	for (int i = 0; i < SLOTS; i++)
		free(f.slot[i]);
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.cv);
	if (u.fail.msg[0]) {
		lua_pushnil(L);
		lua_pushstring(L, u.fail.msg);
		lua_pushinteger(L, u.fail.err);
		return 3;
	}
	lua_createtable(L, 0, 6);
	set_str(L, "digest", digest);
	set_str(L, "diff_id", diff_id);
	set_int(L, "bytes", f.bytes);
	set_int(L, "size", f.size);
	set_int(L, "entries", entries);
	set_str(L, "filter", filter_name(f.filter));
	return 1;
}

/* ---- pack ---- */

/* A file met before with more than one link: later ones become hard
 * links to its path. */
typedef struct seen {
	dev_t dev;
	ino_t ino;
	char *path; /* NULL: an empty slot */
} seen;

typedef struct packer {
	const char *label; /* src_dir, for messages */
	int out;           /* dest_path, O_EXCL */
	struct archive *tar, *z; /* z: the compressor, NULL for filter none */
	EVP_MD_CTX *blob, *tarh;
	long long bytes, size, entries;
	int xattrs, whiteouts;
	char opaque[XATTR_NAME_MAX + 1];
	char path[PATH_MAX]; /* the current file: label, "/", then rel */
	size_t root;         /* where rel starts in path */
	seen *links;
	size_t nlinks, cap;
	unsigned char *buf;
	char *xlist, *xval;
	const char **xnames; /* the names in xlist */
	failure fail;
} packer;

static size_t seen_slot(const packer *p, dev_t dev, ino_t ino)
{
	size_t h = ((size_t)ino * 0x9E3779B97F4A7C15ull) ^ (size_t)dev;
	size_t i = h & (p->cap - 1);
	while (p->links[i].path && !(p->links[i].dev == dev && p->links[i].ino == ino))
		i = (i + 1) & (p->cap - 1);
	return i;
}

/* The path first packed for (dev, ino), or NULL after noting rel as it;
 * sets *err on ENOMEM. */
static const char *seen_lookup(packer *p, dev_t dev, ino_t ino, const char *rel, int *err)
{
	if (p->cap && p->links[seen_slot(p, dev, ino)].path)
		return p->links[seen_slot(p, dev, ino)].path;
	if ((p->nlinks + 1) * 2 > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		seen *old = p->links, *links = calloc(cap, sizeof *links);
		if (!links) {
			*err = ENOMEM;
			return NULL;
		}
		size_t oldcap = p->cap;
		p->links = links;
		p->cap = cap;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].path)
				p->links[seen_slot(p, old[i].dev, old[i].ino)] = old[i];
		free(old);
	}
	char *copy = strdup(rel);
	if (!copy) {
		*err = ENOMEM;
		return NULL;
	}
	p->links[seen_slot(p, dev, ino)] = (seen){dev, ino, copy};
	p->nlinks++;
	return NULL;
}

/* All of buf to dest_path, hashed as the blob. */
static int out_write(packer *p, const void *buf, size_t len)
{
	const char *b = buf;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(p->out, b, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		b += n;
		left -= (size_t)n;
	}
	EVP_DigestUpdate(p->blob, buf, len);
	p->bytes += (long long)len;
	return 0;
}

/* The compressor's output. */
static la_ssize_t z_write(struct archive *a, void *data, const void *buf, size_t len)
{
	if (out_write(data, buf, len) != 0) {
		archive_set_error(a, errno, "write: %s (%s)", strerror(errno), ns_errname(errno));
		return -1;
	}
	return (la_ssize_t)len;
}

/* The tar stream: hashed as the diff_id, then compressed or written. */
static la_ssize_t tar_write(struct archive *a, void *data, const void *buf, size_t len)
{
	packer *p = data;
	EVP_DigestUpdate(p->tarh, buf, len);
	p->size += (long long)len;
	if (p->z) {
		const char *b = buf;
		size_t left = len;
		while (left > 0) {
			la_ssize_t n = archive_write_data(p->z, b, left);
			if (n <= 0) {
				archive_set_error(a, archive_err(p->z), "%s", archive_error_string(p->z));
				return -1;
			}
			b += n;
			left -= (size_t)n;
		}
	} else if (out_write(p, buf, len) != 0) {
		archive_set_error(a, errno, "write: %s (%s)", strerror(errno), ns_errname(errno));
		return -1;
	}
	return (la_ssize_t)len;
}

static int pack_fail_os(packer *p, const char *call)
{
	int err = errno;
	failf(&p->fail, err, "pack %s: %s %s: %s (%s)", p->label, call, p->path, strerror(err), ns_errname(err));
	return -1;
}

static int pack_fail_ar(packer *p, const char *rel)
{
	failf(&p->fail, archive_err(p->tar), "pack %s: entry \"%s\": %s", p->label, rel, archive_error_string(p->tar));
	return -1;
}

/* Add the xattrs of p->path to e; *opaque says whether it had the opaque
 * xattr "y" (which, with whiteouts, is left out). */
static int add_xattrs(packer *p, struct archive_entry *e, int isdir, int *opaque)
{
	ssize_t n = llistxattr(p->path, p->xlist, XATTR_LIST_MAX);
	if (n < 0) {
		if (errno == ENOTSUP)
			return 0;
		return pack_fail_os(p, "listxattr");
	}
	/* Sorted, so that the same xattrs give the same bytes. */
	const char **names = p->xnames;
	size_t k = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(p->xlist + i) + 1)
		names[k++] = p->xlist + i;
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < k; i++) {
		ssize_t len = lgetxattr(p->path, names[i], p->xval, XATTR_SIZE_MAX);
		if (len < 0) {
			if (errno == ENODATA)
				continue;
			return pack_fail_os(p, "getxattr");
		}
		if (p->whiteouts && isdir && strcmp(names[i], p->opaque) == 0) {
			*opaque = len == 1 && p->xval[0] == 'y';
			if (*opaque)
				continue;
		}
		/* An upper dir's other overlayfs xattrs (origin, impure, ...)
		 * are the mounter's bookkeeping, about this host's files: a
		 * layer made from it leaves them out. */
		if (p->whiteouts && overlay_own(p->opaque, names[i]))
			continue;
		archive_entry_xattr_add_entry(e, names[i], p->xval, (size_t)len);
	}
	return 0;
}

/* Copy the regular file p->path (size bytes as lstat saw it) into the tar. */
static int add_data(packer *p, const char *rel, long long size)
{
	int fd = open(p->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pack_fail_os(p, "open");
	int rc = 0;
	while (size > 0) {
		ssize_t n = read(fd, p->buf, IN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pack_fail_os(p, "read");
			break;
		}
		if (n == 0)
			break; /* shrunk meanwhile: libarchive pads the entry */
		if (n > size)
			n = (ssize_t)size;
		if (archive_write_data(p->tar, p->buf, (size_t)n) < 0) {
			rc = pack_fail_ar(p, rel);
			break;
		}
		size -= n;
	}
	close(fd);
	return rc;
}

/* An entry for an empty regular file rel, with st's owners and time. */
static int add_marker(packer *p, const char *rel, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();
	if (!e) {
		failf(&p->fail, ENOMEM, "pack %s: out of memory", p->label);
		return -1;
	}
	archive_entry_set_pathname(e, rel);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, st->st_mode & 0777);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtime, 0);
	archive_entry_set_size(e, 0);
	int rc = archive_write_header(p->tar, e) >= ARCHIVE_WARN ? 0 : pack_fail_ar(p, rel);
	archive_entry_free(e);
	if (rc == 0)
		p->entries++;
	return rc;
}

static int walk(packer *p);

/* Pack p->path (rel: from p->root on), and below it when a directory. */
static int pack_one(packer *p)
{
	const char *rel = p->path + p->root;
	struct stat st;
	if (lstat(p->path, &st) != 0)
		return pack_fail_os(p, "lstat");
	if (S_ISSOCK(st.st_mode))
		return 0; /* a tar holds no sockets (GNU tar skips them too) */
	struct archive_entry *e = archive_entry_new();
	if (!e) {
		failf(&p->fail, ENOMEM, "pack %s: out of memory", p->label);
		return -1;
	}
	char name[PATH_MAX];
	snprintf(name, sizeof name, "%s", rel);
	archive_entry_set_pathname(e, rel);
	archive_entry_set_perm(e, st.st_mode & 07777);
	archive_entry_set_uid(e, st.st_uid);
	archive_entry_set_gid(e, st.st_gid);
	/* Whole seconds, as ustar holds them: pax records for sub-second
	 * times would make every entry three blocks. */
	archive_entry_set_mtime(e, st.st_mtime, 0);
	int rc = 0, data = 0, opaque = 0, marker = 0;
	if (S_ISREG(st.st_mode)) {
		archive_entry_set_filetype(e, AE_IFREG);
		const char *first = NULL;
		int err = 0;
		if (st.st_nlink > 1)
			first = seen_lookup(p, st.st_dev, st.st_ino, rel, &err);
		if (err) {
			errno = err;
			rc = pack_fail_os(p, "remember");
		} else if (first) {
			archive_entry_set_hardlink(e, first);
			archive_entry_set_size(e, 0);
		} else {
			archive_entry_set_size(e, st.st_size);
			data = st.st_size > 0;
		}
	} else if (S_ISDIR(st.st_mode)) {
		archive_entry_set_filetype(e, AE_IFDIR);
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(p->path, target, sizeof target - 1);
		if (n < 0) {
			rc = pack_fail_os(p, "readlink");
		} else {
			target[n] = '\0';
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, target);
		}
	} else if (S_ISCHR(st.st_mode) && p->whiteouts && st.st_rdev == makedev(0, 0)) {
		/* overlayfs' whiteout: the OCI form is an empty .wh.NAME. */
		marker = 1;
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		archive_entry_set_filetype(e, S_ISCHR(st.st_mode) ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdev(e, st.st_rdev);
	} else if (S_ISFIFO(st.st_mode)) {
		archive_entry_set_filetype(e, AE_IFIFO);
	}
	if (rc == 0 && marker) {
		char wh[PATH_MAX];
		const char *slash = strrchr(rel, '/');
		size_t dir = slash ? (size_t)(slash - rel) + 1 : 0;
		if (snprintf(wh, sizeof wh, "%.*s" WH_PREFIX "%s", (int)dir, rel, rel + dir) >= (int)sizeof wh) {
			errno = ENAMETOOLONG;
			rc = pack_fail_os(p, "whiteout");
		} else {
			rc = add_marker(p, wh, &st);
		}
		archive_entry_free(e);
		return rc;
	}
	if (rc == 0 && p->xattrs) {
		rc = add_xattrs(p, e, S_ISDIR(st.st_mode), &opaque);
	} else if (rc == 0 && p->whiteouts && S_ISDIR(st.st_mode)) {
		/* Opaque even when no xattr is stored. */
		char v[2];
		opaque = lgetxattr(p->path, p->opaque, v, sizeof v) == 1 && v[0] == 'y';
	}
	/* ARCHIVE_WARN: a name that is not UTF-8, stored as its bytes (with
	 * a pax hdrcharset=BINARY), as readers expect it. */
	if (rc == 0 && archive_write_header(p->tar, e) < ARCHIVE_WARN)
		rc = pack_fail_ar(p, name);
	archive_entry_free(e);
	if (rc != 0)
		return rc;
	p->entries++;
	if (data && add_data(p, name, st.st_size) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (opaque) {
		char wh[PATH_MAX];
		if (snprintf(wh, sizeof wh, "%s/" WH_OPAQUE, name) >= (int)sizeof wh) {
			errno = ENAMETOOLONG;
			return pack_fail_os(p, "whiteout");
		}
		if (add_marker(p, wh, &st) != 0)
			return -1;
	}
	return walk(p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pack the entries of the directory p->path, sorted by name (bytes). */
static int walk(packer *p)
{
	DIR *d = opendir(p->path);
	if (!d)
		return pack_fail_os(p, "opendir");
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **more = realloc(names, cap * sizeof *names);
			if (!more) {
				rc = -1;
				break;
			}
			names = more;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -1;
			break;
		}
		n++;
	}
	if (rc != 0) {
		errno = ENOMEM;
		pack_fail_os(p, "readdir");
	} else if (errno) {
		rc = pack_fail_os(p, "readdir");
	}
	closedir(d);
	if (rc == 0 && n > 1)
		qsort(names, n, sizeof *names, cmp_str);
	size_t len = strlen(p->path);
	for (size_t i = 0; i < n && rc == 0; i++) {
		/* At the top, rel starts at the name (no "./" or "/"). */
		int top = len == p->root;
		if (len + strlen(names[i]) + 2 > sizeof p->path) {
			errno = ENAMETOOLONG;
			rc = pack_fail_os(p, "open");
			break;
		}
		snprintf(p->path + len, sizeof p->path - len, "%s%s", top ? "" : "/", names[i]);
		rc = pack_one(p);
		p->path[len] = '\0';
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static const char *const pack_filters[] = {"gzip", "none", "zstd", NULL};

/* A.pack(src_dir, dest_path [, opts]): see API.md. */
static int ns_archive_pack(lua_State *L)
{
	static const char *const keys[] = {"filter", "opaque_xattr", "whiteouts", "xattrs", NULL};
	const char *src = ns_checkstring(L, 1);
	const char *dest = ns_checkstring(L, 2);
	ns_checkopts(L, 3, keys);
	int filter = 1;
	if (!lua_isnoneornil(L, 3) && lua_getfield(L, 3, "filter") != LUA_TNIL) {
		const char *v = lua_tostring(L, -1);
		filter = -1;
		for (int i = 0; v && lua_type(L, -1) == LUA_TSTRING && pack_filters[i]; i++)
			if (strcmp(v, pack_filters[i]) == 0)
				filter = i;
		if (filter < 0)
			luaL_argerror(L, 3, lua_pushfstring(L, "option 'filter': invalid '%s' (valid: gzip, none, zstd)",
							    luaL_tolstring(L, -1, NULL)));
		lua_pop(L, 1);
	}
	int xattrs = opt_bool(L, 3, "xattrs", 1);
	int whiteouts = opt_bool(L, 3, "whiteouts", 0);
	char opaque[XATTR_NAME_MAX + 1];
	opt_xattr_name(L, 3, opaque, sizeof opaque);
	/* No Lua error from here on: p is freed below on every path. */
	packer *p = calloc(1, sizeof *p);
	if (!p)
		return ns_fail_errno(L, ENOMEM, "pack", src);
	p->xattrs = xattrs;
	p->whiteouts = whiteouts;
	memcpy(p->opaque, opaque, sizeof opaque);
	p->label = src;
	p->out = -1;
	int made = 0;
	struct stat st;
	if (strlen(src) + 2 > sizeof p->path) {
		errno = ENAMETOOLONG;
		snprintf(p->path, sizeof p->path, "%s", "");
		pack_fail_os(p, "stat");
		goto out;
	}
	snprintf(p->path, sizeof p->path, "%s/", src);
	p->root = strlen(p->path);
	if (stat(src, &st) != 0 || (!S_ISDIR(st.st_mode) && (errno = ENOTDIR))) {
		failf(&p->fail, errno, "pack %s: %s (%s)", src, strerror(errno), ns_errname(errno));
		goto out;
	}
	p->out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
	if (p->out < 0) {
		failf(&p->fail, errno, "pack %s: open %s: %s (%s)", src, dest, strerror(errno), ns_errname(errno));
		goto out;
	}
	made = 1;
	fchmod(p->out, 0644); /* whatever the caller's umask */
	p->buf = malloc(IN_CHUNK);
	p->xlist = malloc(XATTR_LIST_MAX);
	p->xval = malloc(XATTR_SIZE_MAX);
	p->xnames = malloc(XATTR_LIST_MAX / 2 * sizeof *p->xnames);
	p->blob = sha256_new();
	p->tarh = sha256_new();
	p->tar = archive_write_new();
	if (filter != 1)
		p->z = archive_write_new();
	if (!p->buf || !p->xlist || !p->xval || !p->xnames || !p->blob || !p->tarh || !p->tar || (filter != 1 && !p->z)) {
		failf(&p->fail, ENOMEM, "pack %s: out of memory", src);
		goto out;
	}
	if (p->z) {
		/* The compressor: a raw stream of one entry, unpadded. */
		struct archive_entry *e = archive_entry_new();
		archive_write_set_format_raw(p->z);
		int ok = (filter == 0 ? archive_write_add_filter_gzip(p->z) : archive_write_add_filter_zstd(p->z)) ==
			 ARCHIVE_OK;
		if (ok && filter == 0)
			archive_write_set_filter_option(p->z, "gzip", "timestamp", NULL);
		archive_write_set_bytes_per_block(p->z, SLOT);
		archive_write_set_bytes_in_last_block(p->z, 1);
		ok = ok && e && archive_write_open2(p->z, p, NULL, z_write, NULL, NULL) == ARCHIVE_OK;
		if (ok) {
			archive_entry_set_pathname(e, "layer.tar");
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			ok = archive_write_header(p->z, e) == ARCHIVE_OK;
		}
		archive_entry_free(e);
		if (!ok) {
			failf(&p->fail, archive_err(p->z), "pack %s: %s", src, archive_error_string(p->z));
			goto out;
		}
	}
	archive_write_set_format_pax_restricted(p->tar);
	archive_write_add_filter_none(p->tar);
	if (archive_write_open2(p->tar, p, NULL, tar_write, NULL, NULL) != ARCHIVE_OK) {
		failf(&p->fail, archive_err(p->tar), "pack %s: %s", src, archive_error_string(p->tar));
		goto out;
	}
	p->path[p->root] = '\0';
	locale_t old, utf8 = utf8_enter(&old);
	int walked = walk(p);
	utf8_leave(utf8, old);
	if (walked != 0)
		goto out;
	if (archive_write_close(p->tar) != ARCHIVE_OK) {
		failf(&p->fail, archive_err(p->tar), "pack %s: %s", src, archive_error_string(p->tar));
		goto out;
	}
	if (p->z && archive_write_close(p->z) != ARCHIVE_OK) {
		failf(&p->fail, archive_err(p->z), "pack %s: %s", src, archive_error_string(p->z));
		goto out;
	}
	if (close(p->out) != 0) {
		p->out = -1;
		failf(&p->fail, errno, "pack %s: close %s: %s (%s)", src, dest, strerror(errno), ns_errname(errno));
		goto out;
	}
	p->out = -1;
out:
	if (p->tar)
		archive_write_free(p->tar);
	if (p->z)
		archive_write_free(p->z);
	if (p->out >= 0)
		close(p->out);
	if (made && p->fail.msg[0])
		unlink(dest);
	char digest[HEX_MAX] = "", diff_id[HEX_MAX] = "";
	if (p->blob) {
		finish_hex(p->blob, digest);
		EVP_MD_CTX_free(p->blob);
	}
	if (p->tarh) {
		finish_hex(p->tarh, diff_id);
		EVP_MD_CTX_free(p->tarh);
	}
	for (size_t i = 0; i < p->cap; i++)
		free(p->links[i].path);
	free(p->links);
	free(p->buf);
	free(p->xlist);
	free(p->xval);
	free(p->xnames);
	failure fail = p->fail;
	long long bytes = p->bytes, size = p->size, entries = p->entries;
	free(p);
	if (fail.msg[0]) {
		lua_pushnil(L);
		lua_pushstring(L, fail.msg);
		lua_pushinteger(L, fail.err);
		return 3;
	}
	lua_createtable(L, 0, 5);
	set_str(L, "digest", digest);
	set_str(L, "diff_id", diff_id);
	set_int(L, "bytes", bytes);
	set_int(L, "size", size);
	set_int(L, "entries", entries);
	return 1;
}

static const luaL_Reg archive_funcs[] = {
	{"pack", ns_archive_pack},
	{"unpack", ns_archive_unpack},
	{NULL, NULL}
};

LUAMOD_API int luaopen_ns_archive(lua_State *L);
__attribute__((visibility("default"))) int luaopen_ns_archive(lua_State *L)
{
	luaL_newlib(L, archive_funcs);
	return 1;
}
