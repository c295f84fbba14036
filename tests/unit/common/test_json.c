/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>

#include "ab_json.h"
#include "ab_util.h"

static void
test_snapshot_new_says_version_and_when(void **state)
{
	int64_t before = ab_wall_ms();
	json_t *o = ab_json_snapshot_new();
	int64_t after = ab_wall_ms();
	assert_int_equal(json_integer_value(json_object_get(o, "v")), 1);
	json_int_t saved = json_integer_value(json_object_get(o, "saved_wall_ms"));
	assert_true(saved >= before && saved <= after);
	assert_int_equal(json_object_size(o), 2);
	int64_t age = ab_json_snapshot_age_ms(o);
	assert_true(age >= 0 && age <= ab_wall_ms() - before);
	json_decref(o);
}

/* The time the process was down is the snapshot's age; a clock that went back is no age. */
static void
test_snapshot_age(void **state)
{
	json_t *o =
	    json_pack("{s:i, s:I}", "v", 1, "saved_wall_ms", (json_int_t)(ab_wall_ms() - 5000));
	int64_t age = ab_json_snapshot_age_ms(o);
	assert_true(age >= 5000 && age < 65000);
	json_object_set_new(o, "saved_wall_ms", json_integer(ab_wall_ms() + 60000));
	assert_int_equal(ab_json_snapshot_age_ms(o), 0);
	json_object_del(o, "saved_wall_ms");
	assert_int_equal(ab_json_snapshot_age_ms(o), 0);
	json_decref(o);
}

static void
test_snapshot_other_versions_refused(void **state)
{
	json_t *o = json_pack("{s:i, s:I}", "v", 2, "saved_wall_ms", (json_int_t)ab_wall_ms());
	assert_int_equal(ab_json_snapshot_age_ms(o), -EINVAL);
	json_object_del(o, "v");
	assert_int_equal(ab_json_snapshot_age_ms(o), -EINVAL);
	json_decref(o);
	o = json_array();
	assert_int_equal(ab_json_snapshot_age_ms(o), -EINVAL);
	json_decref(o);
	assert_int_equal(ab_json_snapshot_age_ms(NULL), -EINVAL);
}

static bool
no_space(const char *s)
{
	return !strchr(s, ' ');
}

/* ab_json_get_strv: a copy of the list; every refusal names the item's JSON path. */
static void
test_get_strv(void **state)
{
	json_t *o = json_loads("{\"l\": [\"a\", \"bc\"], \"n\": 5, \"m\": [\"a\", 3],"
	                       " \"e\": [\"\"], \"s\": [\"x\", \"y z\"]}",
	                       0, NULL);
	assert_non_null(o);
	struct ab_err err = {0};
	char **l = NULL;
	size_t n = 0;
	assert_int_equal(ab_json_get_strv(o, "p", "absent", NULL, &l, &n, &err), 0);
	assert_null(l); /* absent: untouched */
	assert_int_equal(ab_json_get_strv(o, "p", "l", no_space, &l, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0], "a");
	assert_string_equal(l[1], "bc");
	assert_null(l[2]);
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
	l = NULL;
	assert_int_equal(ab_json_get_strv(o, "p", "n", NULL, &l, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "p.n: must be an array, not an integer");
	assert_int_equal(ab_json_get_strv(o, "p", "m", NULL, &l, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "p.m[1]: must be a string, not an integer");
	assert_int_equal(ab_json_get_strv(o, "p", "e", NULL, &l, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "p.e[0]: must be 1..128 characters");
	assert_int_equal(ab_json_get_strv(o, "p", "s", no_space, &l, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "p.s[1]: 'y z' is not a valid name");
	assert_null(l);
	json_decref(o);
}

static void
test_path_line(void **state)
{
	static const char text[] = "{\n"
	                           "  \"a\": {\"b\": 1,\n"
	                           "        \"c\": [10,\n"
	                           "              {\"d\\\"x\": \"}]\\\"\", \"e\": 2}]},\n"
	                           "  \"f\": \"x\"\n"
	                           "}\n";
	size_t n = sizeof(text) - 1;
	assert_int_equal(ab_json_path_line(text, n, "a"), 2);
	assert_int_equal(ab_json_path_line(text, n, "a.b"), 2);
	assert_int_equal(ab_json_path_line(text, n, "a.c"), 3);
	assert_int_equal(ab_json_path_line(text, n, "a.c[1]"), 4);
	/* a string holding brackets and an escaped quote does not confuse the scan */
	assert_int_equal(ab_json_path_line(text, n, "a.c[1].e"), 4);
	assert_int_equal(ab_json_path_line(text, n, "'f'"), 5);
	/* annotations are skipped; a missing leaf gives its deepest ancestor */
	assert_int_equal(ab_json_path_line(text, n, "a ('x').c[1].zzz"), 4);
	assert_int_equal(ab_json_path_line(text, n, "a.c[7]"), 3);
	/* a key that only starts like the path is no match */
	assert_int_equal(ab_json_path_line(text, n, "ab"), 0);
	assert_int_equal(ab_json_path_line(text, n, "nothing"), 0);
	/* truncated or hostile text: no crash, no match beyond what was read */
	assert_int_equal(ab_json_path_line(text, 10, "a.c"), 2);
	assert_int_equal(ab_json_path_line("[[[[[[", 6, "[0]"), 1);
	assert_int_equal(ab_json_path_line("", 0, "a"), 0);
}

AB_TEST_MAIN(NULL, NULL, test_snapshot_new_says_version_and_when, test_snapshot_age,
             test_snapshot_other_versions_refused, test_get_strv, test_path_line);
