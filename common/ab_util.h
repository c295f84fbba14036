/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_util: cleanup attributes, ownership transfer, allocation that aborts on
 * out-of-memory, assertions, and the little helpers every binary needs.
 *
 * Ownership: a variable declared with a _cleanup_*_ attribute owns what it
 * points to; TAKE_PTR()/TAKE_FD() hand ownership to the caller and leave
 * NULL / -1 behind so the cleanup does nothing.
 */
#ifndef AB_UTIL_H
#define AB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <spawn.h>
#include <sys/types.h>

#define AB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define AB_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define AB_MAX(a, b)     ((a) > (b) ? (a) : (b))

void ab_assert_fail(const char *expr, const char *file, int line, const char *func)
    __attribute__((noreturn));
#define AB_ASSERT(expr)                                                                            \
	do {                                                                                       \
		if (!(expr))                                                                       \
			ab_assert_fail(#expr, __FILE__, __LINE__, __func__);                       \
	} while (0)

void *ab_xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *ab_xcalloc(size_t nmemb, size_t n) __attribute__((malloc, returns_nonnull));
void *ab_xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *ab_xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *ab_xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
char *ab_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2), returns_nonnull));

/* Destructors that accept NULL / -1. */
void ab_freep(void *p);
void ab_closep(int *fd);
void ab_fclosep(FILE **f);

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(ab_freep)
#define _cleanup_close_  _cleanup_(ab_closep)
#define _cleanup_fclose_ _cleanup_(ab_fclosep)

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* Monotonic and wall clocks in milliseconds / microseconds. */
int64_t ab_now_ms(void);
int64_t ab_now_us(void);
int64_t ab_wall_ms(void);

int ab_fd_set_nonblock(int fd, bool on);
int ab_fd_set_cloexec(int fd, bool on);

/* Writes all of buf, retrying on EINTR. Returns 0 or -errno. */
int ab_write_all(int fd, const void *buf, size_t len);

/*
 * Replaces `path` atomically with `len` bytes of `data`: writes a temporary
 * file in the same directory, fsyncs it, renames it over `path` and fsyncs the
 * directory. Readers see the old or the new content, never a mix; after it
 * returns 0 the new content survives a crash. `mode` is the new file's mode.
 */
struct ab_err;
int ab_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct ab_err *err);

/*
 * Reads a whole file, at most `max` bytes (a larger file is an error).
 * On success *ret_data owns a NUL-terminated buffer and *ret_len its length.
 */
int ab_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len,
                 struct ab_err *err);

/* ab_read_file() of /proc/<pid>/<what> ("stat", "cgroup", "cmdline", ...). */
int ab_read_proc(pid_t pid, const char *what, size_t max, char **ret_data, size_t *ret_len,
                 struct ab_err *err);

/*
 * posix_spawnattr_init(at) for a child in a session of its own with every signal unblocked
 * and at its default disposition (whatever the broker blocks or ignores).
 */
void ab_spawnattr_init_clean(posix_spawnattr_t *at);
/* In a forked child before exec: unblocks every signal (the parent's mask is inherited). */
void ab_unblock_signals(void);

/* mkdir -p with `mode` for the directories it creates. */
int ab_mkdir_p(const char *path, mode_t mode, struct ab_err *err);

/* Fills buf with cryptographically secure random bytes (getrandom). */
int ab_random_bytes(void *buf, size_t len);

/*
 * The exit status of a program whose usage was asked for (`asked`: --help, printed on stdout,
 * 0) or whose command line was wrong (printed on stderr, 2). `usage` prints the text to f.
 */
int ab_usage(void (*usage)(FILE *f), bool asked);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void ab_hex(const void *buf, size_t len, char *out);

/*
 * Percent-encodes s into out (size > 0 bytes, always NUL-terminated): ASCII letters, digits and
 * the bytes in `keep` stay, every other byte becomes %XX (upper-case hex). When out is too small
 * the text is cut before the byte that would not fit with an escape. Returns the length written.
 */
size_t ab_percent_encode(const char *s, const char *keep, char *out, size_t size);

/* true when s is valid UTF-8 of exactly len bytes with no NUL. */
bool ab_utf8_valid(const char *s, size_t len);

#endif
