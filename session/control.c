/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "control.h"
#include "ab_log.h"
#include "ab_sock.h"
#include "ab_util.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_io(struct ab_loop *loop, int fd, unsigned events, void *data);

static void
conn_free(struct control_conn *c)
{
	if (!c)
		return;
	ab_loop_unwatch(c->ctl->loop, c->watch);
	if (c->fd >= 0)
		close(c->fd);
	ab_proto_reader_free(&c->rd);
	free(c->out);
	free(c);
}

static void
conn_drop(struct control_conn *c, const char *why)
{
	struct control *ctl = c->ctl;
	ab_info("%s connection closed: %s", c->is_broker ? "broker" : "window manager", why);
	if (ctl->broker == c)
		ctl->broker = NULL;
	if (ctl->wm == c)
		ctl->wm = NULL;
	conn_free(c);
}

static void
conn_update_watch(struct control_conn *c)
{
	ab_loop_watch_update(c->ctl->loop, c->watch,
	                     AB_LOOP_READ | (c->out_len ? AB_LOOP_WRITE : 0));
}

static int
conn_flush(struct control_conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return -errno;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	conn_update_watch(c);
	return 0;
}

/* Queues msg (stolen) to c. A peer that lets too much pile up is marked dead. */
static void
conn_send(struct control_conn *c, json_t *msg)
{
	struct ab_err err = {0};
	char *buf = NULL;
	size_t len = 0;
	int r = ab_proto_encode(msg, &buf, &len, &err);
	json_decref(msg);
	if (r < 0) {
		ab_warn("control: not sending a message: %s", err.msg);
		return;
	}
	if (c->out_len + len > CONTROL_OUT_MAX) {
		free(buf);
		c->dead = true;
		return;
	}
	if (c->out_len + len > c->out_cap) {
		c->out_cap = AB_MAX(c->out_cap * 2, c->out_len + len);
		c->out = ab_xrealloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	free(buf);
	if (conn_flush(c) < 0)
		c->dead = true;
}

static void
send_error(struct control_conn *c, const char *msg)
{
	conn_send(c, ab_proto_msg("error", json_pack("{s:s}", "msg", msg)));
}

static void
send_hello(struct control_conn *c)
{
	json_t *f = json_pack("{s:s,s:[i,i]}", "role", "session", "versions", AB_PROTO_VERSION,
	                      AB_PROTO_VERSION);
	json_object_set_new(f, "session", json_string(c->ctl->session_id));
	conn_send(c, ab_proto_msg("hello", f));
}

static void
send_state(struct control *ctl)
{
	if (!ctl->broker || !ctl->broker->hello || !ctl->state)
		return;
	conn_send(ctl->broker, ab_proto_msg("state", json_pack("{s:O}", "state", ctl->state)));
	ctl->states_relayed++;
}

static void
send_isolation(struct control *ctl)
{
	if (!ctl->broker || !ctl->broker->hello || !ctl->isolation)
		return;
	conn_send(ctl->broker, json_incref(ctl->isolation));
}

/* the last desktop-command exit goes to the broker once (now, or after its hello) */
static void
send_exit(struct control *ctl)
{
	if (!ctl->broker || !ctl->broker->hello || !ctl->last_exit)
		return;
	conn_send(ctl->broker, ctl->last_exit);
	ctl->last_exit = NULL;
}

/*
 * The shell is up (a window manager said hello): {"type":"wm_ready"} to the broker, now or
 * after its hello. The broker's warm pool hands a desktop over only from then on.
 */
static void
send_wm_ready(struct control *ctl)
{
	if (!ctl->broker || !ctl->broker->hello || !ctl->wm_ready)
		return;
	conn_send(ctl->broker, ab_proto_msg("wm_ready", json_object()));
}

static void
flush_notifies(struct control *ctl)
{
	if (!ctl->wm)
		return;
	size_t i;
	json_t *m;
	json_array_foreach(ctl->notify_queue, i, m)
	{
		conn_send(ctl->wm, json_incref(m));
		ctl->notifies_relayed++;
	}
	json_array_clear(ctl->notify_queue);
}

static int
handle_hello(struct control_conn *c, json_t *msg)
{
	json_t *versions = json_object_get(msg, "versions");
	json_int_t lo = AB_PROTO_VERSION, hi = AB_PROTO_VERSION;
	if (versions) {
		if (!json_is_array(versions) || json_array_size(versions) != 2 ||
		    !json_is_integer(json_array_get(versions, 0)) ||
		    !json_is_integer(json_array_get(versions, 1))) {
			send_error(c, "hello: 'versions' must be [min, max]");
			return -EPROTO;
		}
		lo = json_integer_value(json_array_get(versions, 0));
		hi = json_integer_value(json_array_get(versions, 1));
	} else {
		lo = hi = json_integer_value(json_object_get(msg, "v"));
	}
	if (lo > AB_PROTO_VERSION || hi < AB_PROTO_VERSION) {
		char m[128];
		snprintf(m, sizeof(m), "hello: no common version (session speaks %d)",
		         AB_PROTO_VERSION);
		send_error(c, m);
		return -EPROTO;
	}
	c->hello = true;
	if (c->is_broker) {
		c->ctl->missed = 0;
		send_isolation(c->ctl);
		send_state(c->ctl);
		send_exit(c->ctl);
		send_wm_ready(c->ctl);
	} else if (!c->ctl->wm_ready) {
		c->ctl->wm_ready = true;
		send_wm_ready(c->ctl);
	}
	return 0;
}

/* a relayable type: 1..32 of [a-z0-9_] */
static bool
relay_type_ok(const char *type)
{
	size_t n = strlen(type);
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((type[i] >= 'a' && type[i] <= 'z') || (type[i] >= '0' && type[i] <= '9') ||
		      type[i] == '_'))
			return false;
	return true;
}

/* token bucket: `rate` messages a second, bursts of `burst` */
static bool
take_token(int64_t *tokens, int64_t *last_ms, int rate, int burst)
{
	int64_t now = ab_now_ms(), full = (int64_t)burst * 1000;
	if (*last_ms == 0)
		*tokens = full; /* thousandths of a message */
	else
		*tokens = AB_MIN(full, *tokens + (now - *last_ms) * rate);
	*last_ms = now;
	if (*tokens < 1000)
		return false;
	*tokens -= 1000;
	return true;
}

static bool
relay_take_token(struct control *ctl)
{
	return take_token(&ctl->relay_tokens, &ctl->relay_last_ms, CONTROL_RELAY_RATE,
	                  CONTROL_RELAY_BURST);
}

/*
 * The desktop's requests to the broker (services_request from the wm, for the apps) go to the
 * broker as they are, rate-limited; without a broker, or beyond the rate, the wm gets the
 * services_answer at once (503 / 429), so an app never waits for nothing. The broker decides
 * who asks by the channel, never by the message.
 */
static int
relay_request(struct control *ctl, struct control_conn *c, json_t *msg)
{
	/* services_request -> services_answer, message_send -> message_answer */
	bool svc = strcmp(ab_proto_type(msg), "services_request") == 0;
	const char *why = NULL;
	int status = 0;
	if (!take_token(&ctl->req_tokens, &ctl->req_last_ms, CONTROL_REQUEST_RATE,
	                CONTROL_REQUEST_BURST)) {
		status = 429;
		why = "too many requests";
	} else if (!ctl->broker || !ctl->broker->hello) {
		status = 503;
		why = "the broker is not connected";
	}
	if (!why) {
		conn_send(ctl->broker, json_incref(msg));
		return 0;
	}
	json_t *f = svc ? json_pack("{sOsOsiss}", "id", json_object_get(msg, "id"), "op",
	                            json_object_get(msg, "op"), "status", status, "error", why)
	                : json_pack("{sOsiss}", "id", json_object_get(msg, "id"), "status", status,
	                            "error", why);
	if (!f) /* id or op missing: the broker would refuse it too */
		f = svc ? json_pack("{sisssiss}", "id", -1, "op", "?", "status", 400, "error",
		                    "a services_request needs 'id' and 'op'")
		        : json_pack("{sisiss}", "id", -1, "status", 400, "error",
		                    "a message_send needs 'id'");
	conn_send(c, ab_proto_msg(svc ? "services_answer" : "message_answer", f));
	return 0;
}

/*
 * Every broker message the session does not handle itself goes to the window
 * manager as it is (notify, status, theme, wallpaper, taskbar, get_state,
 * restore and any type added later), rate-limited; while no window manager
 * is connected, up to CONTROL_NOTIFY_QUEUE messages wait for it.
 */
static int
relay_to_wm(struct control *ctl, struct control_conn *c, const char *type, json_t *msg)
{
	if (!relay_type_ok(type)) {
		send_error(c, "message type must be 1 to 32 of [a-z0-9_]");
		return 0;
	}
	if (!relay_take_token(ctl)) {
		ctl->relays_dropped++;
		char m[96];
		snprintf(m, sizeof(m), "relay rate exceeded: '%s' dropped", type);
		send_error(c, m);
		return 0;
	}
	if (ctl->wm) {
		conn_send(ctl->wm, json_incref(msg));
		ctl->notifies_relayed++;
		return 0;
	}
	if (json_array_size(ctl->notify_queue) >= CONTROL_NOTIFY_QUEUE)
		json_array_remove(ctl->notify_queue, 0);
	json_array_append(ctl->notify_queue, msg);
	return 0;
}

void
control_desktop_exit(struct control *ctl, int status, bool restarting)
{
	if (!ctl->loop)
		return;
	json_t *f = json_object();
	if (WIFEXITED(status))
		json_object_set_new(f, "status", json_integer(WEXITSTATUS(status)));
	else
		json_object_set_new(f, "status", json_null());
	if (WIFSIGNALED(status))
		json_object_set_new(f, "signal", json_integer(WTERMSIG(status)));
	json_object_set_new(f, "restarting", json_boolean(restarting));
	json_decref(ctl->last_exit);
	ctl->last_exit = ab_proto_msg("desktop_exit", f);
	send_exit(ctl);
}

void
control_isolation(struct control *ctl, json_t *landlock)
{
	if (!ctl->loop) {
		json_decref(landlock);
		return;
	}
	json_decref(ctl->isolation);
	ctl->isolation = ab_proto_msg("isolation", json_pack("{so}", "landlock", landlock));
	send_isolation(ctl);
}

int
control_handle(struct control_conn *c, json_t *msg)
{
	struct control *ctl = c->ctl;
	const char *type = ab_proto_type(msg);
	json_int_t v = json_integer_value(json_object_get(msg, "v"));
	if (strcmp(type, "hello") == 0)
		return handle_hello(c, msg);
	if (v != AB_PROTO_VERSION) {
		send_error(c, "unsupported protocol version");
		return -EPROTO;
	}
	if (c->is_broker && !c->hello) {
		send_error(c, "expected 'hello' first");
		return -EPROTO;
	}
	if (strcmp(type, "ping") == 0) {
		json_t *f = json_object();
		json_t *seq = json_object_get(msg, "seq"), *t = json_object_get(msg, "t");
		if (seq)
			json_object_set(f, "seq", seq);
		if (t)
			json_object_set(f, "t", t);
		conn_send(c, ab_proto_msg("pong", f));
		return 0;
	}
	if (strcmp(type, "pong") == 0) {
		if (c->is_broker) {
			ctl->missed = 0;
			ctl->pongs++;
		}
		return 0;
	}
	if (strcmp(type, "error") == 0) {
		const char *m = json_string_value(json_object_get(msg, "msg"));
		ab_warn("%s reports an error: '%s'", c->is_broker ? "broker" : "window manager",
		        m ? m : "?");
		return 0;
	}
	if (strcmp(type, "state") == 0 && !c->is_broker) {
		json_t *st = json_object_get(msg, "state");
		if (!json_is_object(st)) {
			send_error(c, "state: 'state' must be an object");
			return 0;
		}
		json_decref(ctl->state);
		ctl->state = json_incref(st);
		send_state(ctl);
		return 0;
	}
	if (c->is_broker && strcmp(type, "thumb") == 0) {
		if (!ctl->thumb) {
			send_error(c, "thumb: no framebuffer");
			return 0;
		}
		conn_send(c, ctl->thumb(ctl->thumb_data, msg));
		return 0;
	}
	if (c->is_broker && strcmp(type, "restore") == 0 &&
	    json_is_object(json_object_get(msg, "state"))) {
		/* the state the desktop is about to have: a wm restarted before it
		 * publishes again must begin from this one (the broker validated it) */
		json_decref(ctl->state);
		ctl->state = json_incref(json_object_get(msg, "state"));
	}
	if (!c->is_broker &&
	    (strcmp(type, "services_request") == 0 || strcmp(type, "message_send") == 0))
		return relay_request(ctl, c, msg);
	if (c->is_broker)
		return relay_to_wm(ctl, c, type, msg);
	ab_debug("control: ignoring message of type '%s'", type);
	return 0;
}

void
control_on_thumb(struct control *ctl, json_t *(*fn)(void *data, json_t *req), void *data)
{
	ctl->thumb = fn;
	ctl->thumb_data = data;
}

static void
conn_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct control_conn *c = data;
	if (events & AB_LOOP_WRITE) {
		if (conn_flush(c) < 0) {
			conn_drop(c, "write failed");
			return;
		}
	}
	if (events & (AB_LOOP_READ | AB_LOOP_ERROR)) {
		char buf[16384];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_drop(c, n == 0 ? "peer closed" : strerror(errno));
			return;
		}
		ab_proto_reader_feed(&c->rd, buf, (size_t)n);
		for (;;) {
			json_t *msg = NULL;
			struct ab_err err = {0};
			int r = ab_proto_reader_next(&c->rd, &msg, &err);
			if (r == 0)
				break;
			if (r < 0) {
				send_error(c, err.msg);
				conn_drop(c, err.msg);
				return;
			}
			r = control_handle(c, msg);
			json_decref(msg);
			if (r < 0) {
				conn_drop(c, "protocol error");
				return;
			}
		}
	}
	struct control *ctl = c->ctl;
	/* a relay may have overflowed the other peer */
	if (ctl->wm && ctl->wm->dead)
		conn_drop(ctl->wm, "too much output queued");
	if (ctl->broker && ctl->broker->dead)
		conn_drop(ctl->broker, "too much output queued");
}

static void
accept_cb(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct control *ctl = data;
	bool broker = fd == ctl->broker_listen;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	struct control_conn *c = ab_xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->fd = cfd;
	c->is_broker = broker;
	ab_proto_reader_init(&c->rd);
	c->watch = ab_loop_watch(loop, cfd, AB_LOOP_READ, conn_io, c);
	struct control_conn **slot = broker ? &ctl->broker : &ctl->wm;
	if (*slot) {
		send_error(*slot, "replaced by a new connection");
		conn_drop(*slot, "replaced by a new connection");
	}
	*slot = c;
	ab_info("%s connected", broker ? "broker" : "window manager");
	send_hello(c);
	if (!broker)
		flush_notifies(ctl);
}

static int64_t
heartbeat_cb(struct ab_loop *loop, void *data)
{
	struct control *ctl = data;
	struct control_conn *b = ctl->broker;
	if (b && b->hello) {
		if (ctl->missed >= CONTROL_MAX_MISSED) {
			conn_drop(b, "heartbeat lost");
			return ctl->heartbeat_ms;
		}
		ctl->missed++;
		conn_send(b, ab_proto_msg("ping",
		                          json_pack("{s:I,s:I}", "seq", (json_int_t)++ctl->ping_seq,
		                                    "t", (json_int_t)ab_now_ms())));
		if (b->dead)
			conn_drop(b, "too much output queued");
	}
	return ctl->heartbeat_ms;
}

int
control_open(struct control *ctl, struct ab_loop *loop, const char *dir, const char *session_id,
             int64_t heartbeat_ms, struct ab_err *err)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->loop = loop;
	ctl->broker_listen = ctl->wm_listen = -1;
	snprintf(ctl->session_id, sizeof(ctl->session_id), "%s", session_id);
	ctl->heartbeat_ms = heartbeat_ms;
	_cleanup_free_ char *cp = ab_xasprintf("%s/control.sock", dir);
	_cleanup_free_ char *wp = ab_xasprintf("%s/wm.sock", dir);
	_cleanup_close_ int b = ab_unix_listen(cp, 0600, err);
	if (b < 0)
		return ab_err_wrap(err, "control socket");
	_cleanup_close_ int w = ab_unix_listen(wp, 0600, err);
	if (w < 0)
		return ab_err_wrap(err, "window manager socket");
	ctl->broker_listen = TAKE_FD(b);
	ctl->wm_listen = TAKE_FD(w);
	ctl->broker_lw = ab_loop_watch(loop, ctl->broker_listen, AB_LOOP_READ, accept_cb, ctl);
	ctl->wm_lw = ab_loop_watch(loop, ctl->wm_listen, AB_LOOP_READ, accept_cb, ctl);
	ctl->notify_queue = json_array();
	ctl->hb_timer = ab_loop_timer(loop, heartbeat_ms, heartbeat_cb, ctl);
	return 0;
}

void
control_close(struct control *ctl)
{
	if (!ctl->loop)
		return;
	if (ctl->broker)
		conn_drop(ctl->broker, "session stopping");
	if (ctl->wm)
		conn_drop(ctl->wm, "session stopping");
	ab_loop_timer_cancel(ctl->loop, ctl->hb_timer);
	ab_loop_unwatch(ctl->loop, ctl->broker_lw);
	ab_loop_unwatch(ctl->loop, ctl->wm_lw);
	if (ctl->broker_listen >= 0)
		close(ctl->broker_listen);
	if (ctl->wm_listen >= 0)
		close(ctl->wm_listen);
	json_decref(ctl->state);
	json_decref(ctl->notify_queue);
	json_decref(ctl->isolation);
	ctl->isolation = NULL;
	json_decref(ctl->last_exit);
	memset(ctl, 0, sizeof(*ctl));
}
