/* SPDX-License-Identifier: GPL-2.0-or-later */
/* control: broker side of the session control channel (see control.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "desktop_control.h"

#define CONTROL_OUT_MAX (4u << 20)

struct desktop_control {
	struct ab_loop *loop;
	struct desktop_control_params p;
	char *path;
	int fd;
	struct ab_watch *watch;
	struct ab_timer *timer;
	struct ab_proto_reader reader;
	char *out;
	size_t out_len;
	int64_t last_rx_ms;
	int64_t seq;
	int64_t rtt_ms;
	bool hello_seen;
	bool dead;
};

static void
desktop_control_fail(struct desktop_control *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	ab_loop_unwatch(c->loop, c->watch);
	c->watch = NULL;
	c->p.on_dead(c, why, c->p.data);
}

static void
desktop_control_update_watch(struct desktop_control *c)
{
	if (c->watch)
		ab_loop_watch_update(c->loop, c->watch,
		                     AB_LOOP_READ | (c->out_len ? AB_LOOP_WRITE : 0));
}

static int
desktop_control_flush(struct desktop_control *c)
{
	while (c->out_len) {
		ssize_t n = ab_sock_send_some(c->fd, c->out, c->out_len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	desktop_control_update_watch(c);
	return 0;
}

int
desktop_control_send(struct desktop_control *c, json_t *msg)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	/* A frame the session would refuse (and close the channel on, stopping the desktop)
	 * is a broker bug: ab_proto_encode() refuses it and it is never sent. */
	struct ab_err err = {0};
	int r = ab_proto_encode(msg, &buf, &len, &err);
	json_decref(msg);
	if (r < 0) {
		ab_error("control %s: not sending: %s", c->path, err.msg);
		return r;
	}
	if (c->dead)
		return -EPIPE;
	if (c->out_len + len > CONTROL_OUT_MAX)
		return -ENOBUFS;
	c->out = ab_xrealloc(c->out, c->out_len + len);
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return desktop_control_flush(c);
}

static void
desktop_control_handle(struct desktop_control *c, json_t *msg)
{
	const char *type = ab_proto_type(msg);
	if (strcmp(type, "hello") == 0) {
		c->hello_seen = true;
		ab_debug("control %s: hello from session '%s'", c->path,
		         json_string_value(json_object_get(msg, "session")) ?: "?");
	} else if (strcmp(type, "ping") == 0) {
		json_t *f = json_pack("{sO*sO*}", "seq", json_object_get(msg, "seq"), "t",
		                      json_object_get(msg, "t"));
		desktop_control_send(c, ab_proto_msg("pong", f));
	} else if (strcmp(type, "pong") == 0) {
		json_t *t = json_object_get(msg, "t");
		if (json_is_integer(t))
			c->rtt_ms = ab_now_ms() - json_integer_value(t);
	} else if (strcmp(type, "error") == 0) {
		ab_warn("control %s: session says: %s", c->path,
		        json_string_value(json_object_get(msg, "msg")) ?: "?");
	} else if (c->p.on_msg) {
		c->p.on_msg(c, msg, c->p.data);
	} else {
		ab_debug("control %s: ignoring message '%s'", c->path, type);
	}
}

static void
desktop_control_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct desktop_control *c = data;
	if (events & AB_LOOP_WRITE) {
		if (desktop_control_flush(c) < 0) {
			desktop_control_fail(c, "write failed");
			return;
		}
	}
	if (events & (AB_LOOP_READ | AB_LOOP_ERROR)) {
		char buf[16384];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			desktop_control_fail(c, n == 0 ? "control channel closed" : "read failed");
			return;
		}
		c->last_rx_ms = ab_now_ms();
		ab_proto_reader_feed(&c->reader, buf, (size_t)n);
		for (;;) {
			json_t *msg = NULL;
			struct ab_err err = {0};
			int r = ab_proto_reader_next(&c->reader, &msg, &err);
			if (r < 0) {
				ab_warn("control %s: %s", c->path, err.msg);
				desktop_control_fail(c, "protocol error");
				return;
			}
			if (r == 0)
				break;
			desktop_control_handle(c, msg);
			json_decref(msg);
			if (c->dead)
				return;
		}
	}
}

static int64_t
desktop_control_tick(struct ab_loop *loop, void *data)
{
	struct desktop_control *c = data;
	if (c->dead) {
		c->timer = NULL;
		return AB_TIMER_STOP;
	}
	if (ab_now_ms() - c->last_rx_ms > c->p.timeout_ms) {
		c->timer = NULL;
		desktop_control_fail(c, "heartbeat timeout");
		return AB_TIMER_STOP;
	}
	json_t *f = json_pack("{sIsI}", "seq", (json_int_t)++c->seq, "t", (json_int_t)ab_now_ms());
	if (desktop_control_send(c, ab_proto_msg("ping", f)) < 0) {
		c->timer = NULL;
		desktop_control_fail(c, "write failed");
		return AB_TIMER_STOP;
	}
	return c->p.heartbeat_ms;
}

int
desktop_control_open(struct ab_loop *loop, const struct desktop_control_params *p,
                     struct desktop_control **ret, struct ab_err *err)
{
	int fd = ab_unix_connect(p->path, err);
	if (fd < 0)
		return fd;
	return desktop_control_open_fd(loop, p, fd, ret, err);
}

int
desktop_control_open_fd(struct ab_loop *loop, const struct desktop_control_params *p,
                        int connected_fd, struct desktop_control **ret, struct ab_err *err)
{
	_cleanup_close_ int fd = connected_fd;
	ab_fd_set_nonblock(fd, true);
	struct desktop_control *c = ab_xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->p = *p;
	c->path = ab_xstrdup(p->path);
	c->p.path = c->path;
	c->rtt_ms = -1;
	c->last_rx_ms = ab_now_ms();
	ab_proto_reader_init(&c->reader);
	c->fd = TAKE_FD(fd);
	c->watch = ab_loop_watch(loop, c->fd, AB_LOOP_READ, desktop_control_io, c);
	if (!c->watch) {
		desktop_control_close(c);
		return ab_err_set(err, ENOMEM, "control %s: cannot watch the socket", p->path);
	}
	json_t *hello = json_pack("{sss[ii]}", "role", "broker", "versions", AB_PROTO_VERSION,
	                          AB_PROTO_VERSION);
	int r = desktop_control_send(c, ab_proto_msg("hello", hello));
	if (r < 0) {
		desktop_control_close(c);
		return ab_err_errno(err, -r, "control %s: sending hello", p->path);
	}
	c->timer = ab_loop_timer(loop, c->p.heartbeat_ms, desktop_control_tick, c);
	*ret = c;
	return 0;
}

bool
desktop_control_hello_seen(const struct desktop_control *c)
{
	return c && c->hello_seen;
}

int64_t
desktop_control_rtt_ms(const struct desktop_control *c)
{
	return c ? c->rtt_ms : -1;
}

void
desktop_control_close(struct desktop_control *c)
{
	if (!c)
		return;
	ab_loop_unwatch(c->loop, c->watch);
	ab_loop_timer_cancel(c->loop, c->timer);
	ab_proto_reader_free(&c->reader);
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	free(c->path);
	free(c);
}
