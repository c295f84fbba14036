/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_util.h"
#include "ab_err.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
ab_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "assertion '%s' failed at %s:%d in %s()\n", expr, file, line, func);
	abort();
}

static void
oom(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

void *
ab_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
ab_xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
ab_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *
ab_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *
ab_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *
ab_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0 || !p)
		oom();
	return p;
}

void
ab_freep(void *p)
{
	free(*(void **)p);
}

void
ab_closep(int *fd)
{
	if (fd && *fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

void
ab_fclosep(FILE **f)
{
	if (f && *f) {
		fclose(*f);
		*f = NULL;
	}
}

int64_t
ab_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
ab_now_ms(void)
{
	return ab_now_us() / 1000;
}

int64_t
ab_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets or clears `flag` in the flags that fcntl's `get`/`set` commands read and write. */
static int
fd_toggle(int fd, int get, int set, int flag, bool on)
{
	int fl = fcntl(fd, get);
	if (fl < 0)
		return -errno;
	fl = on ? (fl | flag) : (fl & ~flag);
	if (fcntl(fd, set, fl) < 0)
		return -errno;
	return 0;
}

int
ab_fd_set_nonblock(int fd, bool on)
{
	return fd_toggle(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

int
ab_fd_set_cloexec(int fd, bool on)
{
	return fd_toggle(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}

/*
 * Runs `step` over all of buf until len bytes are done: a step may do fewer (a short
 * write, a partial getrandom) and is retried on EINTR. Returns 0 or -errno.
 */
static int
all_bytes(ssize_t (*step)(int fd, char *p, size_t len), int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = step(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t
write_step(int fd, char *p, size_t len)
{
	return write(fd, p, len);
}

int
ab_write_all(int fd, const void *buf, size_t len)
{
	return all_bytes(write_step, fd, (char *)buf, len);
}

int
ab_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                     struct ab_err *err)
{
	_cleanup_free_ char *dir_copy = ab_xstrdup(path);
	const char *dir = dirname(dir_copy);
	_cleanup_free_ char *tmp = ab_xasprintf("%s.tmp.XXXXXX", path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return ab_err_errno(err, errno, "creating temporary file for '%s'", path);
	int r = ab_write_all(fd, data, len);
	if (r < 0) {
		unlink(tmp);
		return ab_err_errno(err, -r, "writing '%s'", tmp);
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		r = errno;
		unlink(tmp);
		return ab_err_errno(err, r, "syncing '%s'", tmp);
	}
	if (rename(tmp, path) < 0) {
		r = errno;
		unlink(tmp);
		return ab_err_errno(err, r, "renaming '%s' to '%s'", tmp, path);
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return ab_err_errno(err, errno, "syncing directory '%s'", dir);
	return 0;
}

int
ab_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct ab_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ab_err_errno(err, errno, "opening '%s'", path);
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = ab_xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= max + 1)
				return ab_err_set(err, EFBIG, "'%s' is larger than %zu bytes", path,
				                  max);
			cap = AB_MIN(cap * 2, max + 1);
			buf = ab_xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ab_err_errno(err, errno, "reading '%s'", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return ab_err_set(err, EFBIG, "'%s' is larger than %zu bytes", path, max);
	}
	buf[len] = '\0';
	*ret_data = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int
ab_read_proc(pid_t pid, const char *what, size_t max, char **ret_data, size_t *ret_len,
             struct ab_err *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%.40s", (int)pid, what);
	return ab_read_file(path, max, ret_data, ret_len, err);
}

int
ab_mkdir_p(const char *path, mode_t mode, struct ab_err *err)
{
	_cleanup_free_ char *p = ab_xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return ab_err_errno(err, errno, "creating directory '%s'", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return ab_err_errno(err, errno, "creating directory '%s'", p);
	return 0;
}

static ssize_t
getrandom_step(int fd, char *p, size_t len)
{
	(void)fd;
	return getrandom(p, len, 0);
}

int
ab_random_bytes(void *buf, size_t len)
{
	return all_bytes(getrandom_step, -1, buf, len);
}

int
ab_usage(void (*usage)(FILE *f), bool asked)
{
	usage(asked ? stdout : stderr);
	return asked ? 0 : 2;
}

void
ab_hex(const void *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = buf;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

size_t
ab_percent_encode(const char *s, const char *keep, char *out, size_t size)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < size; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(keep, *p)) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = digits[*p >> 4];
			out[o++] = digits[*p & 15];
		}
	}
	out[o] = '\0';
	return o;
}

bool
ab_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p;
		size_t n;
		uint32_t cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		p += n + 1;
	}
	return true;
}

void
ab_spawnattr_init_clean(posix_spawnattr_t *at)
{
	posix_spawnattr_init(at);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setsigdefault(at, &all);
	posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	                                 POSIX_SPAWN_SETSIGDEF);
}

void
ab_unblock_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
