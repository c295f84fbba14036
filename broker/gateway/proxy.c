/* SPDX-License-Identifier: GPL-2.0-or-later */
/* proxy: websocket <-> RFB unix socket splice (see proxy.h). */
#include <errno.h>
#include <libwebsockets.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"
#include "desktop.h"
#include "fanout.h"
#include "proxy.h"
#include "server.h"
#include "broker_config.h"
#include "rfbflow.h"

enum proxy_state {
	PROXY_WAITING,   /* desktop starting */
	PROXY_CONNECTED, /* splicing */
	PROXY_CLOSING,   /* close the websocket at the next writable callback */
	PROXY_STATE_MAX,
};

struct proxy_conn {
	struct lws *ws;
	struct ab_loop *loop;
	struct proxy_params p;
	char *user;
	char *peer;
	enum proxy_state state;
	struct desktop_waiter *waiter;
	struct desktop *desktop;
	int fd;
	struct ab_watch *watch;
	/* desktop -> browser: one chunk, LWS_PRE bytes of headroom */
	unsigned char *out;
	bool up_readable; /* the socket is readable: read at the next writable callback */
	/*
	 * desktop -> browser while the browser's socket is full: drained from the desktop
	 * at once, so the session (whose writes to its clients are synchronous, one loop for
	 * every viewer) never waits on this viewer; sent before anything newer. Bounded by
	 * PROXY_QUEUE_MAX(): rfbflow holds the viewer's requests while it is behind, so this
	 * is at most the update in flight when it fell behind; beyond, the viewer is cut off.
	 */
	unsigned char *q;
	size_t q_head, q_len, q_cap;
	bool up_ended;         /* the desktop closed its end while draining: not watched any more */
	struct ab_timer *wait; /* a writable callback asked for and not come: choked */
	/* browser -> desktop; update requests wait while the browser is behind (rfbflow.h) */
	unsigned char *in;
	size_t in_head, in_len;
	bool rx_paused;
	struct rfbflow flow;
	struct ab_timer *pace; /* a request waits: looked at again every RFBFLOW_PACE_MS */
	/* for the log at close */
	int64_t start_ms;
	int64_t paused_since_ms; /* the browser's socket is full: the desktop is not read */
	int64_t paused_ms;       /* closed spells of that */
	unsigned long long bytes_to_browser, bytes_to_desktop;
	/* view-only (an admin watching): client input is dropped, see proxy_rfb_filter() */
	bool view_only;
	struct proxy_rfb_filter f;
	bool input_audited; /* the first dropped input message is audited */
	enum lws_close_status close_status;
	char close_reason[64];
};

static struct proxy_stats stats;

#define PROXY_QUEUE_MAX(c) (32 * (c)->p.buffer_bytes)
/* A writable callback that has not come this long after it was asked for: the browser's
 * socket is full (lws_send_pipe_choked() cannot tell while the kernel still shows a little
 * room: POLLOUT needs a third of the buffer free). */
#define PROXY_WAIT_MS 20

static int proxy_drain(struct proxy_conn *c);
static void proxy_update_watch(struct proxy_conn *c);

static int64_t
proxy_wait_check(struct ab_loop *loop, void *data)
{
	struct proxy_conn *c = data;
	c->wait = NULL;
	if (c->state != PROXY_CONNECTED)
		return AB_TIMER_STOP;
	if (!c->paused_since_ms)
		c->paused_since_ms = ab_now_ms();
	if (!c->up_ended && proxy_drain(c) < 0)
		return AB_TIMER_STOP;
	proxy_update_watch(c);
	return AB_TIMER_STOP;
}

/* Asks lws for the next writable callback; if it does not come soon, drain meanwhile. */
static void
proxy_want_write(struct proxy_conn *c)
{
	lws_callback_on_writable(c->ws);
	if (!c->wait)
		c->wait = ab_loop_timer(c->loop, PROXY_WAIT_MS, proxy_wait_check, c);
}

void
proxy_get_stats(struct proxy_stats *s)
{
	*s = stats;
}

static void
proxy_update_watch(struct proxy_conn *c)
{
	if (!c->watch)
		return;
	unsigned ev = 0;
	if (!c->up_ended && (!c->up_readable || c->paused_since_ms)) /* choked: drain */
		ev |= AB_LOOP_READ;
	if (c->flow.fwd) /* a waiting request is not: the pace timer looks at it */
		ev |= AB_LOOP_WRITE;
	ab_loop_watch_update(c->loop, c->watch, ev);
}

/* Schedules a clean close of the websocket (from outside its callbacks). */
static void
proxy_close_later(struct proxy_conn *c, enum lws_close_status status, const char *reason)
{
	if (c->state == PROXY_CLOSING)
		return;
	c->state = PROXY_CLOSING;
	c->close_status = status;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	ab_loop_unwatch(c->loop, c->watch);
	c->watch = NULL;
	ab_loop_timer_cancel(c->loop, c->pace);
	c->pace = NULL;
	ab_loop_timer_cancel(c->loop, c->wait);
	c->wait = NULL;
	lws_rx_flow_control(c->ws, 1);
	lws_callback_on_writable(c->ws);
}

/*
 * Whether the browser is behind: bytes of the desktop's stream still wait for
 * it on our side (unread in the desktop's socket, or part of a chunk lws
 * keeps), or more than buffer_bytes wait in the kernel's send queue of its
 * socket (unsent or unacknowledged); and its own bytes still fit (under a
 * quarter of buffer_bytes, where paused websocket reads resume: a waiting
 * request never keeps them paused).
 */
static bool
proxy_behind(struct proxy_conn *c)
{
	int unread = 0, outq = 0;
	if (ioctl(c->fd, SIOCINQ, &unread) < 0 || unread < 0)
		unread = 0;
	size_t buffered = (size_t)unread + c->q_len + (lws_partial_buffered(c->ws) ? 1 : 0);
	int wfd = lws_get_socket_fd(c->ws);
	if (wfd < 0 || ioctl(wfd, SIOCOUTQ, &outq) < 0 || outq < 0)
		outq = 0;
	return rfbflow_behind(buffered, (size_t)outq, c->p.buffer_bytes) &&
	       c->in_len < c->p.buffer_bytes / 4;
}

static int64_t proxy_pace(struct ab_loop *loop, void *data);

/*
 * Writes what may go to the desktop (an update request waits while the
 * browser is behind). Returns 0 or -errno.
 */
static int
proxy_flush_in(struct proxy_conn *c)
{
	bool was = c->flow.transparent;
	rfbflow_scan(&c->flow, c->in + c->in_head, &c->in_len, proxy_behind(c));
	if (c->flow.transparent && !was)
		ab_debug("websocket from %s: %s: forwarded unpaced from now on", c->peer,
		         c->flow.unknown < 0 ? "an RFB handshake it cannot follow"
		                             : "an RFB message type it does not know");
	while (c->flow.fwd) {
		ssize_t n = ab_sock_send_some(c->fd, c->in + c->in_head, c->flow.fwd);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		stats.bytes_to_desktop += (unsigned long long)n;
		c->bytes_to_desktop += (unsigned long long)n;
		rfbflow_sent(&c->flow, (size_t)n);
		c->in_head += (size_t)n;
		c->in_len -= (size_t)n;
	}
	/* nothing of ours says when the kernel's queue drains */
	if (c->flow.holding && !c->pace)
		c->pace = ab_loop_timer(c->loop, RFBFLOW_PACE_MS, proxy_pace, c);
	if (c->in_len == 0)
		c->in_head = 0;
	/* Resume websocket reads once below the low-water mark. */
	if (c->rx_paused && c->in_len <= c->p.buffer_bytes / 4) {
		c->rx_paused = false;
		lws_rx_flow_control(c->ws, 1);
	}
	return 0;
}

static int64_t
proxy_pace(struct ab_loop *loop, void *data)
{
	struct proxy_conn *c = data;
	if (c->state != PROXY_CONNECTED) {
		c->pace = NULL;
		return AB_TIMER_STOP;
	}
	if (proxy_flush_in(c) < 0) {
		c->pace = NULL;
		proxy_close_later(c, LWS_CLOSE_STATUS_GOINGAWAY, "desktop connection lost");
		return AB_TIMER_STOP;
	}
	proxy_update_watch(c);
	if (!c->flow.holding) {
		c->pace = NULL;
		return AB_TIMER_STOP;
	}
	return RFBFLOW_PACE_MS;
}

/*
 * The browser's socket is full: what the desktop sent is read into the queue now, so the
 * session's write to this viewer completes. Leaves up_readable set when the desktop closed
 * or failed (the writable callback reports it). Returns -1 when the viewer is cut off.
 */
static int
proxy_drain(struct proxy_conn *c)
{
	for (;;) {
		if (!c->q_len)
			c->q_head = 0;
		if (c->q_head + c->q_len + c->p.chunk_bytes > c->q_cap) {
			if (c->q_head) { /* compact first */
				memmove(c->q, c->q + c->q_head, c->q_len);
				c->q_head = 0;
			}
			if (c->q_len + c->p.chunk_bytes > PROXY_QUEUE_MAX(c)) {
				ab_warn("websocket from %s: %zu bytes of the desktop of '%s' wait "
				        "for a browser that reads nothing: cut off",
				        c->peer, c->q_len, c->user);
				stats.cut_off++;
				/* the session's write fails now, not once the close is out */
				shutdown(c->fd, SHUT_RDWR);
				proxy_close_later(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				                  "too slow: the desktop's updates piled up");
				return -1;
			}
			if (c->q_len + c->p.chunk_bytes > c->q_cap) {
				c->q_cap = AB_MIN(AB_MAX(2 * c->q_cap, c->q_len + c->p.chunk_bytes),
				                  PROXY_QUEUE_MAX(c));
				c->q = ab_xrealloc(c->q, c->q_cap);
			}
		}
		ssize_t n =
		    recv(c->fd, c->q + c->q_head + c->q_len, c->p.chunk_bytes, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			c->up_readable = false;
			return 0;
		}
		if (n <= 0) { /* closed or failed: the writable callback says so */
			c->up_ended = true;
			return 0;
		}
		c->q_len += (size_t)n;
	}
}

static void
proxy_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct proxy_conn *c = data;
	if (events & AB_LOOP_WRITE) {
		int r = proxy_flush_in(c);
		if (r < 0) {
			proxy_close_later(c, LWS_CLOSE_STATUS_GOINGAWAY, "desktop connection lost");
			return;
		}
	}
	if (events & (AB_LOOP_READ | AB_LOOP_ERROR)) {
		/* Read when the websocket can take it; while it cannot, into the queue. */
		c->up_readable = true;
		if (c->paused_since_ms && !c->up_ended && proxy_drain(c) < 0)
			return; /* closing */
		proxy_want_write(c);
	}
	proxy_update_watch(c);
}

static void
proxy_desktop_ready(struct desktop *d, int status, void *data)
{
	struct proxy_conn *c = data;
	c->waiter = NULL;
	if (status < 0) {
		ab_warn("websocket from %s: desktop of '%s' unavailable: %s", c->peer, c->user,
		        strerror(-status));
		proxy_close_later(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
		                  "desktop failed to start");
		return;
	}
	struct ab_err err = {0};
	int fd = desktop_connect(d, "rfb.sock", "websocket", c->peer, &err);
	if (fd < 0) {
		ab_warn("websocket from %s: %s", c->peer, err.msg);
		proxy_close_later(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "desktop unreachable");
		return;
	}
	c->fd = fd;
	c->desktop = d;
	desktop_client_attach(d);
	c->state = PROXY_CONNECTED;
	c->watch = ab_loop_watch(c->loop, c->fd, AB_LOOP_READ, proxy_io, c);
	if (!c->watch) {
		proxy_close_later(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal error");
		return;
	}
	ab_info("websocket from %s connected to the desktop of '%s'", c->peer, c->user);
	/* Frames that arrived while waiting. */
	if (c->in_len && proxy_flush_in(c) < 0)
		proxy_close_later(c, LWS_CLOSE_STATUS_GOINGAWAY, "desktop connection lost");
	proxy_update_watch(c);
}

struct proxy_conn *
proxy_open(struct lws *ws, struct ab_loop *loop, struct desktop_manager *m,
           const struct proxy_params *p, const char *user, const char *peer)
{
	struct proxy_conn *c = ab_xcalloc(1, sizeof(*c));
	c->ws = ws;
	c->loop = loop;
	c->p = *p;
	c->user = ab_xstrdup(user);
	c->peer = ab_xstrdup(peer);
	c->fd = -1;
	c->out = ab_xmalloc(LWS_PRE + c->p.chunk_bytes);
	c->in = ab_xmalloc(c->p.buffer_bytes);
	c->state = PROXY_WAITING;
	c->start_ms = ab_now_ms();
	rfbflow_init(&c->flow, RFBFLOW_START_VERSION);
	stats.connections++;
	stats.open++;
	struct ab_err err = {0};
	if (desktop_acquire(m, user, proxy_desktop_ready, c, &c->waiter, &err) < 0) {
		ab_warn("websocket from %s: %s", peer, err.msg);
		proxy_close_later(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "desktop unavailable");
	}
	return c;
}

/* ---- view-only: parse client -> server RFB, drop input ---- */

enum { RFB_F_VERSION, RFB_F_SECTYPE, RFB_F_VNCAUTH, RFB_F_CLIENTINIT, RFB_F_MSG };

/* Header length of the message whose first hlen bytes are in hdr; 0: unknown type. */
static size_t
rfb_filter_hlen(const struct proxy_rfb_filter *f)
{
	switch (f->stage) {
	case RFB_F_VERSION:
		return 12;
	case RFB_F_VNCAUTH:
		return 16;
	case RFB_F_SECTYPE:
	case RFB_F_CLIENTINIT:
		return 1;
	default:
		break;
	}
	switch (f->hdr[0]) {
	case 0: /* SetPixelFormat */
		return 20;
	case 2: /* SetEncodings */
		return 4;
	case 3:   /* FramebufferUpdateRequest */
	case 150: /* EnableContinuousUpdates */
		return 10;
	case 4:   /* KeyEvent */
	case 6:   /* ClientCutText */
	case 251: /* SetDesktopSize */
		return 8;
	case 5: /* PointerEvent */
		return 6;
	case 248: /* Fence */
		return 9;
	case 250: /* xvp */
		return 4;
	case 255: /* QEMU: only the extended key event (subtype 0) */
		return f->hlen >= 2 && f->hdr[1] == 0 ? 12 : 2;
	default:
		return 0;
	}
}

/*
 * Runs the client's bytes through the filter: appends what may reach the
 * desktop to *out. Passes the handshake, pixel format, encodings, update
 * requests and fences; drops key, pointer, clipboard, resize, xvp and QEMU
 * key messages; forces the shared flag. Returns < 0 on anything else.
 */
int
proxy_rfb_filter(struct proxy_rfb_filter *f, const unsigned char *in, size_t len,
                 unsigned char *out, size_t *out_len)
{
	while (len) {
		if (f->rest) {
			size_t n = (size_t)AB_MIN((unsigned long long)len, f->rest);
			if (!f->drop) {
				memcpy(out + *out_len, in, n);
				*out_len += n;
			}
			f->rest -= n;
			in += n;
			len -= n;
			continue;
		}
		f->hdr[f->hlen++] = *in++;
		len--;
		size_t hl = rfb_filter_hlen(f);
		if (hl == 0 ||
		    (f->stage == RFB_F_MSG && f->hdr[0] == 255 && f->hlen == 2 && f->hdr[1] != 0))
			return -EPROTO;
		if (f->hlen < hl)
			continue;
		f->drop = false;
		switch (f->stage) {
		case RFB_F_VERSION:
			/* 3.3: the server chose the security type (None for our sessions). */
			f->stage = memcmp(f->hdr, "RFB 003.003", 11) == 0 ? RFB_F_CLIENTINIT
			                                                  : RFB_F_SECTYPE;
			break;
		case RFB_F_SECTYPE:
			if (f->hdr[0] != 1 && f->hdr[0] != 2)
				return -EPROTO;
			f->stage = f->hdr[0] == 2 ? RFB_F_VNCAUTH : RFB_F_CLIENTINIT;
			break;
		case RFB_F_VNCAUTH:
			f->stage = RFB_F_CLIENTINIT;
			break;
		case RFB_F_CLIENTINIT:
			f->hdr[0] = 1; /* shared: never disconnect the owner */
			f->stage = RFB_F_MSG;
			break;
		default:
			switch (f->hdr[0]) {
			case 2:
				f->rest = 4ull * ((unsigned)f->hdr[2] << 8 | f->hdr[3]);
				break;
			case 4:
			case 5:
			case 250:
			case 255:
				f->drop = true;
				f->dropped++;
				break;
			case 6: {
				int32_t n = (int32_t)((uint32_t)f->hdr[4] << 24 |
				                      (uint32_t)f->hdr[5] << 16 |
				                      (uint32_t)f->hdr[6] << 8 | f->hdr[7]);
				f->rest = n < 0 ? (unsigned long long)(-(int64_t)n)
				                : (unsigned long long)n;
				f->drop = true;
				f->dropped++;
				break;
			}
			case 248:
				f->rest = f->hdr[8];
				break;
			case 251:
				f->rest = 16ull * f->hdr[6];
				f->drop = true;
				f->dropped++;
				break;
			default:
				break;
			}
		}
		if (!f->drop) {
			memcpy(out + *out_len, f->hdr, f->hlen);
			*out_len += f->hlen;
		}
		f->hlen = 0;
	}
	return 0;
}

void
proxy_set_view_only(struct proxy_conn *c, bool on)
{
	if (c)
		c->view_only = on;
}

int
proxy_receive(struct proxy_conn *c, const void *in, size_t len, bool binary)
{
	if (c->state == PROXY_CLOSING)
		return 0;
	if (!binary) {
		ab_warn("websocket from %s: text frame refused (binary only, never base64)",
		        c->peer);
		lws_close_reason(c->ws, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
		                 (unsigned char *)"binary frames only", 18);
		return -1;
	}
	/* view-only: a header collected across frames is written with this one */
	size_t need = len + (c->view_only ? sizeof(c->f.hdr) : 0);
	if (c->in_head + c->in_len + need > c->p.buffer_bytes) {
		memmove(c->in, c->in + c->in_head, c->in_len);
		c->in_head = 0;
	}
	if (c->in_len + need > c->p.buffer_bytes) {
		/* Cannot happen while flow control works; never grow. */
		ab_warn("websocket from %s: buffer overrun, closing", c->peer);
		lws_close_reason(c->ws, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		                 (unsigned char *)"buffer overrun", 14);
		return -1;
	}
	if (c->view_only) {
		size_t n = 0;
		if (proxy_rfb_filter(&c->f, in, len, c->in + c->in_head + c->in_len, &n) < 0) {
			ab_warn(
			    "websocket from %s: view-only client sent an unexpected RFB message",
			    c->peer);
			lws_close_reason(c->ws, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			                 (unsigned char *)"view-only", 9);
			return -1;
		}
		c->in_len += n;
		if (c->f.dropped && !c->input_audited) {
			/* once per connection: a viewer's every key or move would flood the log */
			c->input_audited = true;
			audit_log("desktop.input", AUDIT_DENY, NULL, NULL, c->peer,
			          json_pack("{ssss}", "reason", "view-only: input dropped",
			                    "desktop", c->user));
		}
	} else {
		memcpy(c->in + c->in_head + c->in_len, in, len);
		c->in_len += len;
		/* noVNC sends a key (4) or pointer (5) event as a frame of its own: "last input" */
		const unsigned char *b = in;
		if (c->desktop && len > 0 && (b[0] == 4 || b[0] == 5))
			desktop_note_input(c->desktop);
	}
	if (c->state == PROXY_CONNECTED && proxy_flush_in(c) < 0) {
		proxy_close_later(c, LWS_CLOSE_STATUS_GOINGAWAY, "desktop connection lost");
		return 0;
	}
	/* Leave room for what lws may still deliver after pausing (two receive chunks). */
	if (!c->rx_paused && c->in_len + 2 * c->p.chunk_bytes > c->p.buffer_bytes / 2) {
		c->rx_paused = true;
		lws_rx_flow_control(c->ws, 0);
	}
	proxy_update_watch(c);
	return 0;
}

int
proxy_writeable(struct proxy_conn *c)
{
	if (c->state == PROXY_CLOSING) {
		lws_close_reason(c->ws, c->close_status, (unsigned char *)c->close_reason,
		                 strlen(c->close_reason));
		return -1;
	}
	if (c->state != PROXY_CONNECTED)
		return 0;
	ab_loop_timer_cancel(c->loop, c->wait);
	c->wait = NULL;
	if (c->paused_since_ms) { /* the browser's socket has room again */
		c->paused_ms += ab_now_ms() - c->paused_since_ms;
		c->paused_since_ms = 0;
	}
	if (c->q_len) { /* what was drained while the browser was full goes first */
		size_t k = AB_MIN(c->q_len, c->p.chunk_bytes);
		memcpy(c->out + LWS_PRE, c->q + c->q_head, k);
		if (lws_write(c->ws, c->out + LWS_PRE, k, LWS_WRITE_BINARY) < (int)k) {
			ab_warn("websocket from %s: write failed", c->peer);
			return -1;
		}
		stats.bytes_to_browser += (unsigned long long)k;
		c->bytes_to_browser += (unsigned long long)k;
		c->q_head += k;
		c->q_len -= k;
		if (!c->q_len)
			c->q_head = 0;
		if (!c->paused_since_ms && lws_send_pipe_choked(c->ws))
			c->paused_since_ms = ab_now_ms();
		proxy_update_watch(c);
		proxy_want_write(c);
		return 0;
	}
	if (!c->up_readable) {
		proxy_update_watch(c);
		return 0;
	}
	ssize_t n = recv(c->fd, c->out + LWS_PRE, c->p.chunk_bytes, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->up_readable = false;
		/* the desktop's bytes have all left: a waiting request may go now */
		if (c->flow.holding && proxy_flush_in(c) < 0) {
			proxy_close_later(c, LWS_CLOSE_STATUS_GOINGAWAY, "desktop connection lost");
			return 0;
		}
		proxy_update_watch(c);
		return 0;
	}
	if (n <= 0) {
		ab_info("websocket from %s: the desktop of '%s' closed the connection", c->peer,
		        c->user);
		lws_close_reason(c->ws, LWS_CLOSE_STATUS_GOINGAWAY,
		                 (unsigned char *)"desktop closed", 14);
		return -1;
	}
	if (lws_write(c->ws, c->out + LWS_PRE, (size_t)n, LWS_WRITE_BINARY) < n) {
		ab_warn("websocket from %s: write failed", c->peer);
		return -1;
	}
	stats.bytes_to_browser += (unsigned long long)n;
	c->bytes_to_browser += (unsigned long long)n;
	/*
	 * The browser's socket is full (or lws keeps part of this chunk): no
	 * writable callback, so the desktop is not read, until the browser reads.
	 */
	if (!c->paused_since_ms && lws_send_pipe_choked(c->ws))
		c->paused_since_ms = ab_now_ms();
	proxy_update_watch(c); /* choked: the desktop is drained into the queue meanwhile */
	/*
	 * More may be waiting: ask for the next writable callback rather than
	 * polling the socket; lws calls it only once this chunk left the process.
	 */
	proxy_want_write(c);
	return 0;
}

void
proxy_closed(struct proxy_conn *c)
{
	if (!c)
		return;
	stats.open--;
	desktop_waiter_cancel(c->waiter);
	ab_loop_unwatch(c->loop, c->watch);
	ab_loop_timer_cancel(c->loop, c->pace);
	ab_loop_timer_cancel(c->loop, c->wait);
	if (c->fd >= 0)
		close(c->fd);
	if (c->desktop) {
		int64_t now = ab_now_ms();
		if (c->paused_since_ms)
			c->paused_ms += now - c->paused_since_ms;
		desktop_client_detach(c->desktop);
		/* the same names as the vncgw.session audit record (docs/vncgw.md) */
		ab_info("websocket from %s left the desktop of '%s': duration_ms=%lld "
		        "bytes_to_browser=%llu bytes_to_desktop=%llu paused_ms=%lld "
		        "requests_held=%llu requests_merged=%llu input_dropped=%llu%s",
		        c->peer, c->user, (long long)(now - c->start_ms), c->bytes_to_browser,
		        c->bytes_to_desktop, (long long)c->paused_ms,
		        (unsigned long long)c->flow.held, (unsigned long long)c->flow.merged,
		        c->f.dropped, c->flow.transparent ? " unpaced" : "");
	}
	free(c->user);
	free(c->peer);
	free(c->out);
	free(c->in);
	free(c->q);
	free(c);
}

/* ---- the server's websocket endpoint ---- */

static struct {
	struct ab_loop *loop;
	struct desktop_manager *desktops;
	struct proxy_params params;
} endpoint;

static bool
ws_accepts(const char *user)
{
	return desktop_user_valid(user);
}

/* A websocket is spliced (proxy_conn) or one of the preview's fan-out viewers (fanout.h). */
struct ws_conn {
	struct proxy_conn *proxy;
	struct fanout_viewer *fan;
};

static void *
ws_open(struct lws *wsi, void *data, const char *user, const char *peer, bool view_only,
        const char *tag)
{
	struct ws_conn *w = ab_xcalloc(1, sizeof(*w));
	if (view_only && strcmp(tag, "preview") == 0) {
		w->fan = fanout_open(wsi, user, peer);
		return w;
	}
	w->proxy = proxy_open(wsi, endpoint.loop, endpoint.desktops, &endpoint.params, user, peer);
	proxy_set_view_only(w->proxy, view_only);
	return w;
}

static int
ws_receive(void *conn, const void *in, size_t len, bool binary)
{
	struct ws_conn *w = conn;
	return w->fan ? fanout_receive(w->fan, in, len, binary)
	              : proxy_receive(w->proxy, in, len, binary);
}

static int
ws_writeable(void *conn)
{
	struct ws_conn *w = conn;
	return w->fan ? fanout_writeable(w->fan) : proxy_writeable(w->proxy);
}

static void
ws_closed(void *conn)
{
	struct ws_conn *w = conn;
	if (!w)
		return;
	fanout_closed(w->fan);
	proxy_closed(w->proxy);
	free(w);
}

static const struct server_ws_ops proxy_ws_ops = {
    .accepts = ws_accepts,
    .open = ws_open,
    .receive = ws_receive,
    .writeable = ws_writeable,
    .closed = ws_closed,
};

static void
proxy_health(json_t *out, void *data)
{
	struct proxy_stats ps;
	proxy_get_stats(&ps);
	json_object_set_new(out, "connections", json_integer((json_int_t)ps.open));
	struct fanout_stats fs;
	fanout_get_stats(&fs);
	json_object_set_new(out, "preview_viewers", json_integer((json_int_t)fs.viewers));
	json_object_set_new(out, "preview_upstreams", json_integer((json_int_t)fs.upstreams));
}

void
proxy_serve(struct server *srv, struct ab_loop *loop, struct desktop_manager *m,
            const struct broker_config *cfg)
{
	endpoint.loop = loop;
	endpoint.desktops = m;
	endpoint.params.buffer_bytes = (size_t)cfg->proxy_buffer_bytes;
	endpoint.params.chunk_bytes = (size_t)cfg->proxy_chunk_bytes;
	fanout_init(loop, m);
	server_set_ws_handler(srv, &proxy_ws_ops, NULL);
	server_add_health(srv, proxy_health, NULL);
}
