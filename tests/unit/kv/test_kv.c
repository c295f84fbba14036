/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The embedded kv backend: deferred callbacks, reopen, torn log tails, TTL
 * expiry (clock seam), compaction, config errors, path-like keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_util.h"
#include "kv.h"

struct fx {
	char dir[64];
	struct ab_loop *loop;
	json_t *cfg;
};

static int64_t fake_now_ms;
static int64_t
fake_clock(void)
{
	return fake_now_ms;
}

static int
setup(void **state)
{
	struct fx *f = ab_xcalloc(1, sizeof(*f));
	ab_test_tmpdir(f->dir, sizeof(f->dir), "ab-kv-unit");
	f->loop = ab_loop_poll_new();
	f->cfg = json_pack("{s:s, s:s}", "backend", "embedded", "dir", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *cmd = ab_xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	json_decref(f->cfg);
	ab_loop_poll_free(f->loop);
	kv_set_clock(NULL);
	free(f);
	return 0;
}

struct res {
	bool done;
	int error;
	char val[256];
	size_t len;
};

static void
on_done(int error, const char *msg, void *data)
{
	struct res *r = data;
	r->done = true;
	r->error = error;
}

static void
on_get(int error, const char *msg, const struct kv_value *v, void *data)
{
	struct res *r = data;
	r->done = true;
	r->error = error;
	if (v) {
		r->len = v->len;
		memcpy(r->val, v->data, AB_MIN(v->len + 1, sizeof(r->val)));
	}
}

static void
wait(struct fx *f, struct res *r)
{
	for (int i = 0; i < 1000 && !r->done; i++)
		assert_int_equal(ab_loop_poll_once(f->loop, 10), 0);
	assert_true(r->done);
}

static struct kv *
open_kv(struct fx *f)
{
	struct kv *kv = NULL;
	struct ab_err err = {0};
	int r = kv_open(f->cfg, f->loop, &kv, &err);
	if (r < 0)
		fail_msg("kv_open: %s", err.msg);
	return kv;
}

static void
put(struct fx *f, struct kv *kv, const char *k, const char *v, int64_t ttl)
{
	struct res r = {0};
	struct kv_put_opts o = {ttl, NULL};
	assert_int_equal(kv_put(kv, k, v, strlen(v), &o, on_done, &r, NULL), 0);
	assert_false(r.done); /* never inside kv_put */
	wait(f, &r);
	assert_int_equal(r.error, 0);
}

static int
get(struct fx *f, struct kv *kv, const char *k, char *out)
{
	struct res r = {0};
	assert_int_equal(kv_get(kv, k, on_get, &r, NULL), 0);
	assert_false(r.done);
	wait(f, &r);
	if (out)
		strcpy(out, r.error ? "" : r.val);
	return r.error;
}

static void
test_reopen(void **state)
{
	struct fx *f = *state;
	struct kv *kv = open_kv(f);
	assert_string_equal(kv_backend(kv), "embedded");
	put(f, kv, "a", "1", 0);
	put(f, kv, "b", "2", 0);
	put(f, kv, "a", "3", 0);
	struct res r = {0};
	assert_int_equal(kv_delete(kv, "b", on_done, &r, NULL), 0);
	wait(f, &r);
	kv_close(kv);
	kv = open_kv(f);
	char v[64];
	assert_int_equal(get(f, kv, "a", v), 0);
	assert_string_equal(v, "3");
	assert_int_equal(get(f, kv, "b", NULL), -ENOENT);
	kv_close(kv);
}

/* One owner per store directory: a second open fails clearly and changes nothing. */
static void
test_dir_lock(void **state)
{
	struct fx *f = *state;
	struct kv *kv = open_kv(f);
	put(f, kv, "a", "1", 0);
	struct kv *kv2 = NULL;
	struct ab_err err = {0};
	assert_int_equal(kv_open(f->cfg, f->loop, &kv2, &err), -EBUSY);
	assert_null(kv2);
	assert_non_null(strstr(err.msg, "in use by another process"));
	_cleanup_free_ char *pid = ab_xasprintf("(pid %ld)", (long)getpid());
	assert_non_null(strstr(err.msg, pid));
	/* the owner goes on working */
	put(f, kv, "b", "2", 0);
	char v[64];
	assert_int_equal(get(f, kv, "a", v), 0);
	assert_string_equal(v, "1");
	kv_close(kv);
	/* closing releases it */
	kv = open_kv(f);
	assert_int_equal(get(f, kv, "b", v), 0);
	assert_string_equal(v, "2");
	kv_close(kv);
}

static void
test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct kv *kv = open_kv(f);
	put(f, kv, "keep", "yes", 0);
	kv_close(kv);
	_cleanup_free_ char *path = ab_xasprintf("%s/store.log", f->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* a crash in the middle of appending a record: garbage after the last good one */
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x40\x00\x00\x00garbage", 11), 11);
	close(fd);
	kv = open_kv(f);
	char v[64];
	assert_int_equal(get(f, kv, "keep", v), 0);
	assert_string_equal(v, "yes");
	struct stat st2;
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_size, st.st_size); /* the torn tail was cut */
	put(f, kv, "after", "ok", 0);              /* and later records are reachable */
	kv_close(kv);
	kv = open_kv(f);
	assert_int_equal(get(f, kv, "after", v), 0);
	assert_string_equal(v, "ok");
	kv_close(kv);
}

static void
test_corrupt_magic(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *path = ab_xasprintf("%s/store.log", f->dir);
	assert_int_equal(ab_write_file_atomic(path, "NOTALOG!", 8, 0600, NULL), 0);
	struct kv *kv = NULL;
	struct ab_err err = {0};
	assert_int_equal(kv_open(f->cfg, f->loop, &kv, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a kv log"));
	assert_null(kv);
}

static void
test_ttl(void **state)
{
	struct fx *f = *state;
	fake_now_ms = 1700000000000;
	kv_set_clock(fake_clock);
	struct kv *kv = open_kv(f);
	put(f, kv, "short", "lived", 60);
	put(f, kv, "forever", "x", 0);
	assert_int_equal(get(f, kv, "short", NULL), 0);
	fake_now_ms += 59000;
	assert_int_equal(get(f, kv, "short", NULL), 0);
	fake_now_ms += 2000;
	assert_int_equal(get(f, kv, "short", NULL), -ENOENT);
	assert_int_equal(get(f, kv, "forever", NULL), 0);
	kv_close(kv);
}

static void
test_compaction(void **state)
{
	struct fx *f = *state;
	struct kv *kv = open_kv(f);
	char big[4000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 600; i++)
		put(f, kv, "same", big, 0); /* 2.4 MB of log for 4 KB of data */
	put(f, kv, "same", "final", 0);
	struct kv_stats st;
	kv_get_stats(kv, &st);
	assert_true(st.log_bytes < (1u << 20) + 8192);
	kv_close(kv);
	kv = open_kv(f);
	char v[64];
	assert_int_equal(get(f, kv, "same", v), 0);
	assert_string_equal(v, "final");
	kv_close(kv);
}

static void
test_keys_stay_inside(void **state)
{
	struct fx *f = *state;
	struct kv *kv = open_kv(f);
	put(f, kv, "../../escape", "v", 0);
	put(f, kv, "/etc/passwd", "v", 0);
	kv_close(kv);
	DIR *d = opendir(f->dir);
	assert_non_null(d);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			assert_true(strcmp(e->d_name, "store.log") == 0 ||
			            strcmp(e->d_name, "lock") == 0);
			files++;
		}
	closedir(d);
	assert_int_equal(files, 2);
	_cleanup_free_ char *esc = ab_xasprintf("%s/../../escape", f->dir);
	assert_int_equal(access(esc, F_OK), -1);
}

static void
test_bad_config(void **state)
{
	struct fx *f = *state;
	struct kv *kv = NULL;
	struct ab_err err = {0};
	json_t *c = json_pack("{s:s}", "backend", "redis");
	assert_int_equal(kv_open(c, f->loop, &kv, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "backend"));
	json_decref(c);
	c = json_pack("{s:{s:s}}", "cf", "bogus", "x");
	assert_true(kv_open(c, f->loop, &kv, &err) < 0);
	assert_non_null(strstr(err.msg, "cf.bogus"));
	json_decref(c);
	unsetenv("CLOUDFLARE_API_TOKEN");
	c = json_pack("{s:s, s:s}", "backend", "cfkv", "dir", f->dir);
	assert_int_equal(kv_open(c, f->loop, &kv, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "api_token"));
	json_decref(c);
	assert_null(kv);
}

AB_TEST_MAIN_FIXTURE(setup, teardown, test_reopen, test_dir_lock, test_torn_tail,
                     test_corrupt_magic, test_ttl, test_compaction, test_keys_stay_inside,
                     test_bad_config);
