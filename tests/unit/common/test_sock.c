/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ab_sock.h"

/* What the peer can take goes out; a full buffer is 0, not an error; everything arrives. */
static void
test_send_some_until_full(void **state)
{
	int sv[2];
	ab_test_socketpair(sv);
	static char chunk[65536];
	memset(chunk, 'a', sizeof(chunk));
	size_t sent = 0;
	ssize_t n;
	while ((n = ab_sock_send_some(sv[0], chunk, sizeof(chunk))) > 0)
		sent += (size_t)n;
	assert_int_equal(n, 0);
	assert_true(sent > 0);
	size_t got = 0;
	char buf[65536];
	while ((n = read(sv[1], buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			assert_int_equal(buf[i], 'a');
		got += (size_t)n;
	}
	assert_int_equal(got, sent);
	/* drained: it takes more again */
	assert_int_equal(ab_sock_send_some(sv[0], "b", 1), 1);
	close(sv[0]);
	close(sv[1]);
}

/* A peer that is gone: -EPIPE, and no SIGPIPE (the test process would die of it). */
static void
test_send_some_to_closed_peer(void **state)
{
	int sv[2];
	ab_test_socketpair(sv);
	close(sv[1]);
	assert_int_equal(ab_sock_send_some(sv[0], "x", 1), -EPIPE);
	close(sv[0]);
}

AB_TEST_MAIN(NULL, NULL, test_send_some_until_full, test_send_some_to_closed_peer);
