/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared helpers for the cmocka tests (tests/lib/c, linked into every ab_unit_test).
 *
 *   AB_TEST_MAIN(group_setup, group_teardown, test_a, test_b, ...)
 *       main() running the named tests as one cmocka group (NULL, NULL: no group fixture).
 *   AB_TEST_MAIN_FIXTURE(setup, teardown, test_a, test_b, ...)
 *       the same, each test wrapped in its own setup/teardown.
 *   ab_test_tmpdir(buf, size, tag)   mkdtemp() of $TMPDIR (or /tmp)/tag.XXXXXX, asserts.
 *   ab_test_rmtree(dir)              removes a test's tree, like rm -rf (no-op on NULL or "").
 *   ab_test_dir_setup, ab_test_dir_teardown
 *       a cmocka fixture: a fresh ab_test_dir ($TMPDIR or /tmp/<program>.XXXXXX) for each test,
 *       removed after it (e.g. AB_TEST_MAIN_FIXTURE(ab_test_dir_setup, ab_test_dir_teardown, ...)).
 *   AB_TEST_CONFIG_FIXTURE(type, fields, defaults)
 *       static ab_test_config_setup/_teardown: each test's *state is a type (malloc'd) that
 *       ab_config_init(fields, ..., defaults) filled, ab_config_free'd after it (the test
 *       includes ab_config.h and links ab_common).
 *   ab_test_socketpair(sv)           AF_UNIX SOCK_STREAM pair, non-blocking, close-on-exec.
 *   AB_ASSERT_EACH(pred, want, "a", "b", ...)
 *       one assertion per string s: pred(s) == want, for a bool pred(const char *); a failure
 *       names the predicate and the string.
 */
#ifndef AB_TEST_H
#define AB_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <cmocka.h>

/* AB__MAP(f, ud, a, b, ...) -> f(a, ud), f(b, ud), ... (up to 80 names). */
#define AB__EVAL0(...) __VA_ARGS__
#define AB__EVAL1(...) AB__EVAL0(AB__EVAL0(AB__EVAL0(__VA_ARGS__)))
#define AB__EVAL2(...) AB__EVAL1(AB__EVAL1(AB__EVAL1(__VA_ARGS__)))
#define AB__EVAL3(...) AB__EVAL2(AB__EVAL2(AB__EVAL2(__VA_ARGS__)))
#define AB__EVAL(...)  AB__EVAL3(AB__EVAL3(AB__EVAL3(__VA_ARGS__)))
#define AB__END(...)
#define AB__OUT
#define AB__GET_END2()                0, AB__END
#define AB__GET_END1(...)             AB__GET_END2
#define AB__GET_END(...)              AB__GET_END1
#define AB__NEXT0(test, next, ...)    next AB__OUT
#define AB__NEXT1(test, next)         AB__NEXT0(test, next, 0)
#define AB__NEXT(test, next)          AB__NEXT1(AB__GET_END test, next)
#define AB__MAP0(f, ud, x, peek, ...) f(x, ud), AB__NEXT(peek, AB__MAP1)(f, ud, peek, __VA_ARGS__)
#define AB__MAP1(f, ud, x, peek, ...) f(x, ud), AB__NEXT(peek, AB__MAP0)(f, ud, peek, __VA_ARGS__)
#define AB__MAP(f, ud, ...)           AB__EVAL(AB__MAP1(f, ud, __VA_ARGS__, ()()(), ()()(), ()()(), 0))

#define AB__UNIT(t, ud)        cmocka_unit_test(t)
#define AB__FIXTURE_(t, s, td) cmocka_unit_test_setup_teardown(t, s, td)
#define AB__FIXTURE(t, st)     AB__FIXTURE_(t, AB__ST_SETUP st, AB__ST_TEARDOWN st)
#define AB__ST_SETUP(s, td)    s
#define AB__ST_TEARDOWN(s, td) td

#define AB__MAIN(gsetup, gteardown, ...)                                                           \
	int main(void)                                                                             \
	{                                                                                          \
		const struct CMUnitTest ab_tests[] = {__VA_ARGS__};                                \
		return cmocka_run_group_tests(ab_tests, gsetup, gteardown);                        \
	}

#define AB_TEST_MAIN(gsetup, gteardown, ...)                                                       \
	AB__MAIN(gsetup, gteardown, AB__MAP(AB__UNIT, 0, __VA_ARGS__))
#define AB_TEST_MAIN_FIXTURE(setup, teardown, ...)                                                 \
	AB__MAIN(NULL, NULL, AB__MAP(AB__FIXTURE, (setup, teardown), __VA_ARGS__))

#define AB_TEST_CONFIG_FIXTURE(type, fields, defaults)                                             \
	static int ab_test_config_setup(void **state)                                              \
	{                                                                                          \
		type *c = test_malloc(sizeof(*c));                                                 \
		ab_config_init(fields, c, defaults, sizeof(*c));                                   \
		*state = c;                                                                        \
		return 0;                                                                          \
	}                                                                                          \
	static int ab_test_config_teardown(void **state)                                           \
	{                                                                                          \
		ab_config_free(fields, *state);                                                    \
		test_free(*state);                                                                 \
		return 0;                                                                          \
	}

#define AB_ASSERT_EACH(pred, want, ...)                                                            \
	ab_test_each(pred, #pred, want, (const char *const[]){__VA_ARGS__, NULL})

extern char ab_test_dir[64];

char *ab_test_tmpdir(char *buf, size_t size, const char *tag);
int ab_test_dir_setup(void **state);
int ab_test_dir_teardown(void **state);
void ab_test_rmtree(const char *dir);
void ab_test_socketpair(int sv[2]);
void ab_test_each(bool (*pred)(const char *), const char *name, bool want, const char *const *s);

#endif
