/* SPDX-License-Identifier: GPL-2.0-or-later */
/* control.c over real unix sockets, driven by the poll loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ab_test.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_loop.h"
#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "control.h"

struct fixture {
	char dir[64];
	struct ab_loop *loop;
	struct control ctl;
};

struct peer {
	int fd;
	struct ab_proto_reader rd;
};

static int
setup(void **state)
{
	struct fixture *f = ab_xcalloc(1, sizeof(*f));
	ab_test_tmpdir(f->dir, sizeof(f->dir), "ab-ctl");
	f->loop = ab_loop_poll_new();
	struct ab_err err = {0};
	assert_int_equal(control_open(&f->ctl, f->loop, f->dir, "s1", 100000, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	control_close(&f->ctl);
	ab_loop_poll_free(f->loop);
	char p[128];
	snprintf(p, sizeof(p), "%s/control.sock", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/wm.sock", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
pump(struct fixture *f)
{
	for (int i = 0; i < 5; i++)
		ab_loop_poll_once(f->loop, 0);
}

static struct peer
peer_connect(struct fixture *f, const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	struct peer c = {.fd = ab_unix_connect(p, NULL)};
	assert_true(c.fd >= 0);
	ab_proto_reader_init(&c.rd);
	pump(f);
	return c;
}

static void
peer_close(struct peer *c)
{
	close(c->fd);
	ab_proto_reader_free(&c->rd);
}

static void
peer_send_raw(struct fixture *f, struct peer *c, const char *json)
{
	uint32_t n = (uint32_t)strlen(json);
	unsigned char h[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                      (unsigned char)(n >> 8), (unsigned char)n};
	assert_int_equal(ab_write_all(c->fd, h, 4), 0);
	assert_int_equal(ab_write_all(c->fd, json, n), 0);
	pump(f);
}

/* Next message from the session, or NULL when the connection was closed. */
static json_t *
peer_recv(struct fixture *f, struct peer *c)
{
	for (int i = 0; i < 1000; i++) {
		json_t *m = NULL;
		int r = ab_proto_reader_next(&c->rd, &m, NULL);
		assert_true(r >= 0);
		if (r == 1)
			return m;
		pump(f);
		char buf[4096];
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return NULL;
		if (n > 0)
			ab_proto_reader_feed(&c->rd, buf, (size_t)n);
		else
			usleep(1000);
	}
	fail_msg("no message from the session");
	return NULL;
}

static json_t *
peer_recv_type(struct fixture *f, struct peer *c, const char *type)
{
	for (;;) {
		json_t *m = peer_recv(f, c);
		assert_non_null(m);
		if (strcmp(ab_proto_type(m), type) == 0)
			return m;
		json_decref(m);
	}
}

/* A peer on NAME past the session's hello (read and dropped). */
static struct peer
peer_greeted(struct fixture *f, const char *name)
{
	struct peer p = peer_connect(f, name);
	json_decref(peer_recv_type(f, &p, "hello"));
	return p;
}

/* The broker on control.sock: greeted, then its own hello (role broker, version 1). */
static struct peer
peer_broker(struct fixture *f)
{
	struct peer b = peer_greeted(f, "control.sock");
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"hello\",\"role\":\"broker\",\"versions\":[1,1]}");
	return b;
}

static void
test_hello_and_ping(void **state)
{
	struct fixture *f = *state;
	struct peer b = peer_connect(f, "control.sock");
	json_t *m = peer_recv(f, &b);
	assert_string_equal(ab_proto_type(m), "hello");
	assert_string_equal(json_string_value(json_object_get(m, "role")), "session");
	assert_string_equal(json_string_value(json_object_get(m, "session")), "s1");
	json_decref(m);
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"hello\",\"role\":\"broker\",\"versions\":[1,3]}");
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"ping\",\"seq\":41,\"t\":5}");
	m = peer_recv_type(f, &b, "pong");
	assert_int_equal(json_integer_value(json_object_get(m, "seq")), 41);
	assert_int_equal(json_integer_value(json_object_get(m, "t")), 5);
	json_decref(m);
	peer_close(&b);
}

/* A greeted peer on control.sock sends FRAME: an error (its msg containing MSG_HAS, unless
 * NULL), then the session closes the connection. */
static void
refused_and_closed(struct fixture *f, const char *frame, const char *msg_has)
{
	struct peer b = peer_greeted(f, "control.sock");
	peer_send_raw(f, &b, frame);
	json_t *m = peer_recv_type(f, &b, "error");
	if (msg_has)
		assert_non_null(strstr(json_string_value(json_object_get(m, "msg")), msg_has));
	json_decref(m);
	assert_null(peer_recv(f, &b));
	peer_close(&b);
}

static void
test_hello_required(void **state)
{
	refused_and_closed(*state, "{\"v\":1,\"type\":\"ping\",\"seq\":1}", NULL);
}

static void
test_bad_frame_closes(void **state)
{
	struct fixture *f = *state;
	refused_and_closed(f, "[1,2,3]", "object");
	struct peer b;
	json_t *m;
	/* the session still accepts a new broker */
	b = peer_connect(f, "control.sock");
	m = peer_recv(f, &b);
	assert_string_equal(ab_proto_type(m), "hello");
	json_decref(m);
	peer_close(&b);
}

static void
test_state_kept_and_relayed(void **state)
{
	struct fixture *f = *state;
	struct peer wm = peer_greeted(f, "wm.sock");
	peer_send_raw(f, &wm, "{\"v\":1,\"type\":\"state\",\"state\":{\"n\":1}}");
	peer_send_raw(f, &wm, "{\"v\":1,\"type\":\"state\",\"state\":{\"n\":2}}");
	/* no broker yet: the latest is kept and sent after the broker's hello */
	struct peer b = peer_broker(f);
	json_t *m = peer_recv_type(f, &b, "state");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "state"), "n")), 2);
	json_decref(m);
	/* live relay */
	peer_send_raw(f, &wm, "{\"v\":1,\"type\":\"state\",\"state\":{\"n\":3}}");
	m = peer_recv_type(f, &b, "state");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "state"), "n")), 3);
	json_decref(m);
	/* a state that is not an object is refused with an error, the old one stays */
	peer_send_raw(f, &wm, "{\"v\":1,\"type\":\"state\",\"state\":[1]}");
	m = peer_recv_type(f, &wm, "error");
	json_decref(m);
	assert_int_equal(json_integer_value(json_object_get(f->ctl.state, "n")), 3);
	/* a state the broker sends to be restored is the latest too (a wm restarted before it
	 * publishes again begins from it, issue 13); a restore without an object changes nothing */
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"restore\",\"state\":{\"n\":4}}");
	json_decref(peer_recv_type(f, &wm, "restore"));
	assert_int_equal(json_integer_value(json_object_get(f->ctl.state, "n")), 4);
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"restore\",\"state\":7}");
	json_decref(peer_recv_type(f, &wm, "restore"));
	assert_int_equal(json_integer_value(json_object_get(f->ctl.state, "n")), 4);
	peer_close(&b);
	peer_close(&wm);
}

static void
test_notify_queued_for_wm(void **state)
{
	struct fixture *f = *state;
	struct peer b = peer_broker(f);
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"notify\",\"title\":\"t1\"}");
	assert_int_equal(json_array_size(f->ctl.notify_queue), 1);
	struct peer wm = peer_connect(f, "wm.sock");
	json_t *m = peer_recv_type(f, &wm, "notify");
	assert_string_equal(json_string_value(json_object_get(m, "title")), "t1");
	json_decref(m);
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"notify\",\"title\":\"t2\"}");
	m = peer_recv_type(f, &wm, "notify");
	assert_string_equal(json_string_value(json_object_get(m, "title")), "t2");
	json_decref(m);
	assert_int_equal(f->ctl.notifies_relayed, 2);
	peer_close(&b);
	peer_close(&wm);
}

static void
test_new_broker_replaces_old(void **state)
{
	struct fixture *f = *state;
	struct peer b1 = peer_greeted(f, "control.sock");
	struct peer b2 = peer_greeted(f, "control.sock");
	json_t *m = peer_recv_type(f, &b1, "error");
	json_decref(m);
	assert_null(peer_recv(f, &b1));
	peer_close(&b1);
	peer_close(&b2);
}

static void
test_socket_modes(void **state)
{
	struct fixture *f = *state;
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/control.sock", f->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/wm.sock", f->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_every_type_relayed_to_wm(void **state)
{
	struct fixture *f = *state;
	struct peer b = peer_broker(f);
	struct peer wm = peer_greeted(f, "wm.sock");
	const char *types[] = {"status",    "theme",   "wallpaper",       "taskbar",
	                       "get_state", "restore", "some_future_type"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(types); i++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "{\"v\":1,\"type\":\"%s\",\"k\":%zu}", types[i], i);
		peer_send_raw(f, &b, buf);
		json_t *m = peer_recv(f, &wm);
		assert_non_null(m);
		assert_string_equal(ab_proto_type(m), types[i]);
		assert_int_equal(json_integer_value(json_object_get(m, "k")), i);
		json_decref(m);
	}
	/* a restore carries its state through untouched */
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"restore\",\"state\":{\"windows\":[1,2]}}");
	json_t *m = peer_recv_type(f, &wm, "restore");
	assert_int_equal(json_array_size(json_object_get(json_object_get(m, "state"), "windows")),
	                 2);
	json_decref(m);
	/* a type that is not a plain name is refused, with an error to the broker */
	peer_send_raw(f, &b, "{\"v\":1,\"type\":\"../x\"}");
	m = peer_recv_type(f, &b, "error");
	json_decref(m);
	peer_close(&b);
	peer_close(&wm);
}

static void
test_relay_rate_limited(void **state)
{
	struct fixture *f = *state;
	struct peer b = peer_broker(f);
	struct peer wm = peer_greeted(f, "wm.sock");
	for (int i = 0; i < CONTROL_RELAY_BURST * 3; i++)
		peer_send_raw(f, &b, "{\"v\":1,\"type\":\"status\",\"id\":\"x\",\"text\":\"y\"}");
	/* a flood is cut down to about the burst; the broker hears why */
	assert_true(f->ctl.relays_dropped > 0);
	assert_true(f->ctl.notifies_relayed < CONTROL_RELAY_BURST * 2);
	json_t *m = peer_recv_type(f, &b, "error");
	assert_non_null(strstr(json_string_value(json_object_get(m, "msg")), "rate"));
	json_decref(m);
	peer_close(&b);
	peer_close(&wm);
}

static void
test_desktop_exit_reported(void **state)
{
	struct fixture *f = *state;
	/* an exit before any broker is kept for its hello */
	control_desktop_exit(&f->ctl, 3 << 8, true);
	struct peer b = peer_broker(f);
	json_t *m = peer_recv_type(f, &b, "desktop_exit");
	assert_int_equal(json_integer_value(json_object_get(m, "status")), 3);
	assert_true(json_is_true(json_object_get(m, "restarting")));
	json_decref(m);
	/* killed by a signal: status null, the signal named */
	control_desktop_exit(&f->ctl, 9, false);
	pump(f);
	m = peer_recv_type(f, &b, "desktop_exit");
	assert_true(json_is_null(json_object_get(m, "status")));
	assert_int_equal(json_integer_value(json_object_get(m, "signal")), 9);
	assert_true(json_is_false(json_object_get(m, "restarting")));
	json_decref(m);
	peer_close(&b);
}

static void
test_isolation_sent_after_every_hello(void **state)
{
	struct fixture *f = *state;
	control_isolation(&f->ctl, json_pack("{sssisb}", "mode", "auto", "abi", 7, "applied", 1));
	for (int round = 0; round < 2; round++) { /* a second broker (restart) hears it too */
		struct peer b = peer_broker(f);
		json_t *m = peer_recv_type(f, &b, "isolation");
		json_t *ll = json_object_get(m, "landlock");
		assert_string_equal(json_string_value(json_object_get(ll, "mode")), "auto");
		assert_int_equal(json_integer_value(json_object_get(ll, "abi")), 7);
		assert_true(json_is_true(json_object_get(ll, "applied")));
		json_decref(m);
		peer_close(&b);
		pump(f);
	}
}

AB_TEST_MAIN_FIXTURE(setup, teardown, test_hello_and_ping, test_hello_required,
                     test_bad_frame_closes, test_state_kept_and_relayed, test_notify_queued_for_wm,
                     test_new_broker_replaces_old, test_socket_modes, test_every_type_relayed_to_wm,
                     test_relay_rate_limited, test_desktop_exit_reported,
                     test_isolation_sent_after_every_hello);
