/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state-kv: pokes the embedded store of a stopped broker, for the tests.
 *   state-kv DIR put KEY FILE     stores FILE's bytes under KEY
 *   state-kv DIR count PREFIX     prints how many keys start with PREFIX
 *   state-kv DIR get KEY          prints the value (exit 3 when absent)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab_loop.h"
#include "ab_util.h"
#include "kv.h"

static bool done;
static int result;
static size_t counted;

static void
on_done(int error, const char *msg, void *data)
{
	if (error < 0)
		fprintf(stderr, "state-kv: %s\n", msg);
	result = error;
	done = true;
}

static void
on_list(int error, const char *msg, const struct kv_list_result *r, void *data)
{
	result = error;
	if (error == 0)
		counted = r->n;
	done = true;
}

static void
on_get(int error, const char *msg, const struct kv_value *v, void *data)
{
	result = error;
	if (v)
		fwrite(v->data, 1, v->len, stdout);
	done = true;
}

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: state-kv DIR put KEY FILE | count PREFIX | get KEY\n");
		return 2;
	}
	struct ab_loop *loop = ab_loop_poll_new();
	json_t *cfg = json_pack("{ssss}", "backend", "embedded", "dir", argv[1]);
	struct kv *kv = NULL;
	struct ab_err err = {0};
	if (kv_open(cfg, loop, &kv, &err) < 0) {
		fprintf(stderr, "state-kv: %s\n", err.msg);
		return 1;
	}
	int r;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (strcmp(argv[2], "put") == 0 && argc == 5) {
		if (ab_read_file(argv[4], 4 << 20, &data, &len, &err) < 0) {
			fprintf(stderr, "state-kv: %s\n", err.msg);
			return 1;
		}
		r = kv_put(kv, argv[3], data, len, NULL, on_done, NULL, &err);
	} else if (strcmp(argv[2], "count") == 0) {
		r = kv_list(kv, argv[3], NULL, KV_LIST_MAX, on_list, NULL, &err);
	} else if (strcmp(argv[2], "get") == 0) {
		r = kv_get(kv, argv[3], on_get, NULL, &err);
	} else {
		fprintf(stderr, "state-kv: unknown command '%s'\n", argv[2]);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "state-kv: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < 3000 && !done; i++)
		ab_loop_poll_once(loop, 10);
	if (strcmp(argv[2], "count") == 0 && result == 0)
		printf("%zu\n", counted);
	kv_close(kv);
	json_decref(cfg);
	ab_loop_poll_free(loop);
	if (!done)
		return 1;
	return result == -ENOENT ? 3 : result < 0 ? 1 : 0;
}
