/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fanout: one upstream RFB connection, encoded once, served to many viewers (see fanout.h). */
#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"
#include "desktop.h"
#include "fanout.h"
#include "tight.h"

#define ENC_RAW       0
#define ENC_COPYRECT  1
#define ENC_TIGHT     7
#define ENC_LASTRECT  (-224)
#define ENC_CURSOR    (-239) /* asked for so the session does not draw the pointer in */
#define ENC_QUALITY0  (-32)  /* JPEG quality levels -32..-23 */
#define ENC_QUALITY9  (-23)
#define DAMAGE_MAX    32    /* rectangles of one update kept apart; more: their bounding box */
#define UP_READ_BYTES 65536 /* read from the desktop at a time */
#define UP_READS      16    /* reads in one loop turn at most */
#define UP_MAX_SIDE   8192  /* the desktop's width or height at most */
#define UP_MAX_SKIP   (64u << 20)

/* ---- the encoder ---- */

void
fanout_buf_free(struct fanout_buf *b)
{
	free(b->data);
	*b = (struct fanout_buf){0};
}

static uint8_t *
buf_grow(struct fanout_buf *b, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = AB_MAX(b->cap * 2, b->len + n + 4096);
		b->data = ab_xrealloc(b->data, b->cap);
	}
	uint8_t *p = b->data + b->len;
	b->len += n;
	return p;
}

static void
buf_put(struct fanout_buf *b, const void *p, size_t n)
{
	memcpy(buf_grow(b, n), p, n);
}

static void
buf_rect(struct fanout_buf *b, int x, int y, int w, int h, int32_t enc)
{
	uint8_t *p = buf_grow(b, 12);
	p[0] = (uint8_t)(x >> 8), p[1] = (uint8_t)x, p[2] = (uint8_t)(y >> 8), p[3] = (uint8_t)y;
	p[4] = (uint8_t)(w >> 8), p[5] = (uint8_t)w, p[6] = (uint8_t)(h >> 8), p[7] = (uint8_t)h;
	uint32_t e = (uint32_t)enc;
	p[8] = (uint8_t)(e >> 24), p[9] = (uint8_t)(e >> 16), p[10] = (uint8_t)(e >> 8);
	p[11] = (uint8_t)e;
}

/*
 * One Tight encoder (lib/tight, the session's own) for every upstream: the loop is one thread
 * and a message is encoded at a time. Every rectangle resets the zlib stream it uses
 * (tight_enc_reset_each), so every rectangle decodes on its own whichever messages a viewer
 * skipped, in noVNC too (whose inflater restarts a stream for one rectangle only).
 */
static struct tight_enc *tenc;

struct emit_ctx {
	struct fanout_buf *out;
	unsigned *n_rects;
};

static bool
emit_rect(void *data, int x, int y, int w, int h, enum tight_kind kind, const uint8_t *bytes,
          size_t len)
{
	struct emit_ctx *c = data;
	(void)kind;
	buf_rect(c->out, x, y, w, h, ENC_TIGHT);
	buf_put(c->out, bytes, len);
	(*c->n_rects)++;
	return true;
}

/* fb's rectangle as Tight (JPEG for photographs when jpeg), or as Raw if the encoder failed. */
static void
encode_tight(const struct fanout_fb *fb, int x, int y, int w, int h, bool jpeg,
             struct fanout_buf *out, unsigned *n_rects)
{
	if (!tenc) {
		tenc = tight_enc_new();
		tight_enc_reset_each(tenc, true);
	}
	size_t len0 = out->len;
	unsigned n0 = *n_rects;
	struct emit_ctx c = {out, n_rects};
	int r = tight_encode(tenc, fb->px + (size_t)y * fb->stride + (size_t)x * 4, fb->stride, x,
	                     y, w, h, jpeg ? FANOUT_QUALITY : -1, FANOUT_COMPRESS, emit_rect, &c);
	if (r >= 0)
		return;
	/* zlib or libjpeg failed: this rectangle goes as Raw, the next message gets a new encoder
	 */
	ab_warn("preview: the Tight encoder failed (%s); Raw for this update", strerror(-r));
	tight_enc_free(TAKE_PTR(tenc));
	out->len = len0;
	*n_rects = n0;
	fanout_encode_raw(fb, x, y, w, h, out, n_rects);
}

void
fanout_encode_tight(const struct fanout_fb *fb, int x, int y, int w, int h, struct fanout_buf *out,
                    unsigned *n_rects)
{
	encode_tight(fb, x, y, w, h, true, out, n_rects);
}

void
fanout_encode_raw(const struct fanout_fb *fb, int x, int y, int w, int h, struct fanout_buf *out,
                  unsigned *n_rects)
{
	buf_rect(out, x, y, w, h, ENC_RAW);
	for (int j = y; j < y + h; j++)
		buf_put(out, fb->px + (size_t)j * fb->stride + (size_t)x * 4, (size_t)w * 4);
	(*n_rects)++;
}

/* ---- upstream and viewers ---- */

/* What a viewer is sent: one message per update and kind, made only for kinds in use. */
enum kind {
	KIND_TIGHT,       /* Tight with JPEG (the client sent a quality level) */
	KIND_TIGHT_PLAIN, /* Tight without JPEG */
	KIND_RAW,         /* Raw in the broker's pixel format */
	KIND_MAX,
};

struct msg {
	uint8_t *data; /* LWS_PRE bytes of headroom, then the FramebufferUpdate */
	size_t len;    /* of the FramebufferUpdate */
};

struct frame {
	uint64_t seq;
	struct msg m[KIND_MAX];
};

struct rect {
	int x, y, w, h;
};

enum up_stage {
	UP_VERSION,
	UP_SECCOUNT,
	UP_SECTYPES,
	UP_SECRESULT,
	UP_INIT,
	UP_NAME,
	UP_MSG,
	UP_FBU,
	UP_RECT,
	UP_RAW,
	UP_COPY,
	UP_CMAP,
	UP_CUT,
	UP_SKIP,
	UP_RECT_DONE, /* after a skip: the rectangle is done */
	UP_STAGE_MAX,
};

struct fanout {
	struct fanout *next;
	char *user;
	struct desktop_waiter *waiter;
	struct desktop *desktop;
	int fd;
	struct ab_watch *watch;
	bool dead;  /* the upstream failed or closed: the viewers are being closed */
	bool ready; /* the first whole frame arrived */
	/* the upstream stream being parsed */
	enum up_stage stage;
	uint8_t hdr[24];
	size_t hlen, need;
	bool sec_none;
	uint64_t skip;
	enum up_stage after_skip;
	unsigned rects_left;
	struct rect r;
	size_t raw_done;
	struct fanout_fb fb;
	struct rect damage[DAMAGE_MAX];
	size_t n_damage;
	bool damage_box; /* too many: damage[0] is their bounding box */
	/* what the viewers are sent */
	struct frame ring[FANOUT_RING];
	uint64_t seq; /* the newest update's; 0: none yet */
	struct msg key[KIND_MAX];
	uint64_t key_seq[KIND_MAX];
	unsigned kind_users[KIND_MAX];
	int64_t last_request_ms;
	struct ab_timer *request_timer;
	struct fanout_viewer *viewers;
	size_t n_viewers;
};

enum v_stage { V_VERSION, V_SECTYPE, V_CLIENTINIT, V_MSG, V_STAGE_MAX };

struct fanout_viewer {
	struct fanout_viewer *next;
	struct fanout *f;
	struct lws *ws;
	char *peer;
	enum v_stage stage;
	int minor;
	uint8_t hdr[20];
	size_t hlen;
	uint64_t rest; /* payload bytes to skip (or encodings to read, 4 bytes each) */
	bool reading_encodings;
	uint8_t ctl[128]; /* handshake bytes for the viewer */
	size_t ctl_len;
	/* what it asked for */
	bool enc_tight, enc_quality, enc_raw, pf_native, pf_tight;
	int kind; /* -1: not yet known */
	bool init_pending, inited, want, need_key;
	uint64_t seq;
	bool attached;
	bool closing;
	enum lws_close_status close_status;
	char close_reason[64];
	bool input_audited;
	int64_t start_ms;
	unsigned long long dropped, bytes, updates, keys;
};

static struct {
	struct ab_loop *loop;
	struct desktop_manager *desktops;
	struct fanout *list;
	struct fanout_stats stats;
} hub;

void
fanout_init(struct ab_loop *loop, struct desktop_manager *m)
{
	hub.loop = loop;
	hub.desktops = m;
}

void
fanout_get_stats(struct fanout_stats *s)
{
	*s = hub.stats;
}

static void
msg_free(struct msg *m)
{
	free(m->data);
	*m = (struct msg){0};
}

static void
viewer_close(struct fanout_viewer *v, enum lws_close_status status, const char *why)
{
	if (v->closing)
		return;
	v->closing = true;
	v->close_status = status;
	snprintf(v->close_reason, sizeof(v->close_reason), "%s", why);
	lws_callback_on_writable(v->ws);
}

/* The upstream is gone: every viewer is closed; the fanout goes with the last of them. */
static void
fanout_fail(struct fanout *f, const char *why)
{
	if (f->dead)
		return;
	f->dead = true;
	ab_info("preview fan-out of '%s': %s; closing its %zu viewer(s)", f->user, why,
	        f->n_viewers);
	desktop_waiter_cancel(f->waiter);
	f->waiter = NULL;
	ab_loop_unwatch(hub.loop, f->watch);
	f->watch = NULL;
	ab_loop_timer_cancel(hub.loop, f->request_timer);
	f->request_timer = NULL;
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
		hub.stats.upstreams--;
	}
	for (struct fanout_viewer *v = f->viewers; v; v = v->next)
		viewer_close(v, LWS_CLOSE_STATUS_GOINGAWAY, "desktop closed");
}

static void
fanout_free(struct fanout *f)
{
	fanout_fail(f, "nobody watching");
	for (struct fanout **p = &hub.list; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	for (size_t i = 0; i < FANOUT_RING; i++)
		for (int k = 0; k < KIND_MAX; k++)
			msg_free(&f->ring[i].m[k]);
	for (int k = 0; k < KIND_MAX; k++)
		msg_free(&f->key[k]);
	free(f->fb.px);
	free(f->user);
	free(f);
}

static int
up_send(struct fanout *f, const void *p, size_t n)
{
	/* a few bytes a frame to a socket the session reads: a short write means it does not */
	ssize_t w = ab_sock_send_some(f->fd, p, n);
	return w == (ssize_t)n ? 0 : w < 0 ? (int)w : -EAGAIN;
}

static int
up_request(struct fanout *f, bool incremental)
{
	uint8_t m[10] = {3, incremental ? 1 : 0, 0, 0, 0, 0};
	m[6] = (uint8_t)(f->fb.width >> 8), m[7] = (uint8_t)f->fb.width;
	m[8] = (uint8_t)(f->fb.height >> 8), m[9] = (uint8_t)f->fb.height;
	f->last_request_ms = ab_now_ms();
	return up_send(f, m, sizeof(m));
}

static int64_t
request_tick(struct ab_loop *loop, void *data)
{
	struct fanout *f = data;
	f->request_timer = NULL;
	if (!f->dead && up_request(f, true) < 0)
		fanout_fail(f, "the desktop does not read its socket");
	return AB_TIMER_STOP;
}

/* The next incremental request, FANOUT_FRAME_MS after the last. */
static void
up_schedule(struct fanout *f)
{
	if (f->dead || f->request_timer)
		return;
	int64_t wait = f->last_request_ms + FANOUT_FRAME_MS - ab_now_ms();
	if (wait <= 0) {
		request_tick(hub.loop, f);
		return;
	}
	f->request_timer = ab_loop_timer(hub.loop, wait, request_tick, f);
}

static void
damage_add(struct fanout *f, int x, int y, int w, int h)
{
	if (w <= 0 || h <= 0)
		return;
	if (!f->damage_box && f->n_damage < DAMAGE_MAX) {
		f->damage[f->n_damage++] = (struct rect){x, y, w, h};
		return;
	}
	if (!f->damage_box) {
		struct rect b = f->damage[0];
		for (size_t i = 1; i < f->n_damage; i++) {
			struct rect *r = &f->damage[i];
			int x1 = AB_MAX(b.x + b.w, r->x + r->w),
			    y1 = AB_MAX(b.y + b.h, r->y + r->h);
			b.x = AB_MIN(b.x, r->x), b.y = AB_MIN(b.y, r->y);
			b.w = x1 - b.x, b.h = y1 - b.y;
		}
		f->damage[0] = b;
		f->n_damage = 1;
		f->damage_box = true;
	}
	struct rect *b = &f->damage[0];
	int x1 = AB_MAX(b->x + b->w, x + w), y1 = AB_MAX(b->y + b->h, y + h);
	b->x = AB_MIN(b->x, x), b->y = AB_MIN(b->y, y);
	b->w = x1 - b->x, b->h = y1 - b->y;
}

/* A FramebufferUpdate of `kind` for the rectangles (LWS_PRE headroom). */
static struct msg
encode_msg(const struct fanout_fb *fb, const struct rect *rs, size_t n, int kind)
{
	struct fanout_buf b = {0};
	buf_grow(&b, LWS_PRE + 4);
	unsigned count = 0;
	for (size_t i = 0; i < n; i++) {
		if (kind == KIND_RAW)
			fanout_encode_raw(fb, rs[i].x, rs[i].y, rs[i].w, rs[i].h, &b, &count);
		else
			encode_tight(fb, rs[i].x, rs[i].y, rs[i].w, rs[i].h, kind == KIND_TIGHT, &b,
			             &count);
	}
	AB_ASSERT(count <= 0xffff);
	uint8_t *h = b.data + LWS_PRE;
	h[0] = 0, h[1] = 0, h[2] = (uint8_t)(count >> 8), h[3] = (uint8_t)count;
	return (struct msg){b.data, b.len - LWS_PRE};
}

static void
viewer_send_init(struct fanout_viewer *v)
{
	struct fanout *f = v->f;
	static const char name[] = "ArgoBox preview";
	uint8_t *p = v->ctl + v->ctl_len;
	p[0] = (uint8_t)(f->fb.width >> 8), p[1] = (uint8_t)f->fb.width;
	p[2] = (uint8_t)(f->fb.height >> 8), p[3] = (uint8_t)f->fb.height;
	/* 32 bpp, depth 24, little endian, true colour, 255 each, red 16, green 8, blue 0 */
	static const uint8_t pf[16] = {32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0};
	memcpy(p + 4, pf, sizeof(pf));
	p[20] = p[21] = p[22] = 0, p[23] = (uint8_t)(sizeof(name) - 1);
	memcpy(p + 24, name, sizeof(name) - 1);
	v->ctl_len += 24 + sizeof(name) - 1;
	v->inited = true;
	v->init_pending = false;
	v->need_key = true;
	lws_callback_on_writable(v->ws);
}

/* An update is complete: encoded once for every kind a viewer is following. */
static void
up_frame_done(struct fanout *f)
{
	if (f->ready && !f->n_damage) { /* nothing changed: no update for anyone */
		up_schedule(f);
		return;
	}
	f->seq++;
	ab_debug("preview fan-out of '%s': update %llu, %zu rectangle(s)%s", f->user,
	         (unsigned long long)f->seq, f->n_damage, f->damage_box ? " (bounding box)" : "");
	struct frame *fr = &f->ring[f->seq % FANOUT_RING];
	for (int k = 0; k < KIND_MAX; k++)
		msg_free(&fr->m[k]);
	fr->seq = f->seq;
	bool first = !f->ready;
	if (!first)
		for (int k = 0; k < KIND_MAX; k++)
			if (f->kind_users[k] && f->n_damage)
				fr->m[k] = encode_msg(&f->fb, f->damage, f->n_damage, k);
	f->n_damage = 0;
	f->damage_box = false;
	hub.stats.frames++;
	if (first) {
		f->ready = true;
		ab_info("preview fan-out of '%s': %dx%d, serving %zu viewer(s)", f->user,
		        f->fb.width, f->fb.height, f->n_viewers);
	}
	for (struct fanout_viewer *v = f->viewers; v; v = v->next) {
		if (v->init_pending)
			viewer_send_init(v);
		else if (v->want)
			lws_callback_on_writable(v->ws);
	}
	up_schedule(f);
}

static int
up_rect_done(struct fanout *f)
{
	if (--f->rects_left == 0)
		up_frame_done(f);
	f->stage = f->rects_left ? UP_RECT : UP_MSG;
	return 0;
}

static int
up_handshake_done(struct fanout *f)
{
	/* our pixel format (what fanout_fb holds), Raw and CopyRect, then the whole screen */
	static const uint8_t setpf[20] = {0,   0, 0,   0, 32,  24, 0, 1, 0,
	                                  255, 0, 255, 0, 255, 16, 8, 0};
	static const uint8_t setenc[16] = {2,    0,    0,    3,
	                                   0,    0,    0,    ENC_RAW,
	                                   0,    0,    0,    ENC_COPYRECT,
	                                   0xff, 0xff, 0xff, (uint8_t)ENC_CURSOR};
	int r;
	if ((r = up_send(f, setpf, sizeof(setpf))) < 0 ||
	    (r = up_send(f, setenc, sizeof(setenc))) < 0)
		return r;
	return up_request(f, false);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned
be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void
up_skip(struct fanout *f, uint64_t n, enum up_stage then)
{
	f->skip = n;
	f->after_skip = then;
	f->stage = n ? UP_SKIP : then;
}

/* A complete header of the current stage is in f->hdr. Returns 0 or -errno (err says). */
static int
up_header(struct fanout *f, struct ab_err *err)
{
	const uint8_t *h = f->hdr;
	switch (f->stage) {
	case UP_VERSION:
		if (memcmp(h, "RFB 003.", 8) != 0 || atoi((const char *)h + 8) < 8)
			return ab_err_set(err, EPROTO, "the desktop speaks '%.11s', not RFB 3.8",
			                  (const char *)h);
		f->stage = UP_SECCOUNT;
		return up_send(f, "RFB 003.008\n", 12);
	case UP_SECCOUNT:
		if (h[0] == 0)
			return ab_err_set(err, EPROTO, "the desktop refused the connection");
		f->need = h[0];
		f->sec_none = false;
		f->stage = UP_SECTYPES;
		return 0;
	case UP_SECTYPES: /* one type at a time */
		f->sec_none |= h[0] == 1;
		if (--f->need)
			return 0;
		if (!f->sec_none)
			return ab_err_set(err, EPROTO, "the desktop offers no security type None");
		f->stage = UP_SECRESULT;
		return up_send(f, "\x01", 1);
	case UP_SECRESULT:
		if (be32(h) != 0)
			return ab_err_set(err, EPROTO, "the desktop refused the security type");
		f->stage = UP_INIT;
		return up_send(f, "\x01", 1); /* shared */
	case UP_INIT: {
		int w = (int)be16(h), hh = (int)be16(h + 2);
		if (w < 1 || hh < 1 || w > UP_MAX_SIDE || hh > UP_MAX_SIDE)
			return ab_err_set(err, EPROTO, "the desktop is %dx%d", w, hh);
		f->fb.width = w;
		f->fb.height = hh;
		f->fb.stride = (size_t)w * 4;
		f->fb.px = ab_xcalloc((size_t)hh, f->fb.stride);
		uint32_t n = be32(h + 20);
		if (n > 4096)
			return ab_err_set(err, EPROTO, "a desktop name of %u bytes", n);
		up_skip(f, n, UP_MSG);
		return up_handshake_done(f);
	}
	case UP_MSG:
		switch (h[0]) {
		case 0:
			f->stage = UP_FBU;
			return 0;
		case 1:
			f->stage = UP_CMAP;
			return 0;
		case 2:
			return 0; /* bell */
		case 3:
			f->stage = UP_CUT;
			return 0;
		default:
			return ab_err_set(err, EPROTO, "the desktop sent message type %u", h[0]);
		}
	case UP_FBU:
		f->rects_left = be16(h + 1);
		if (f->rects_left == 0)
			up_frame_done(f);
		f->stage = f->rects_left ? UP_RECT : UP_MSG;
		return 0;
	case UP_RECT: {
		struct rect r = {(int)be16(h), (int)be16(h + 2), (int)be16(h + 4),
		                 (int)be16(h + 6)};
		int32_t enc = (int32_t)be32(h + 8);
		if (enc == ENC_LASTRECT) {
			f->rects_left = 1;
			return up_rect_done(f);
		}
		if (enc != ENC_CURSOR && (r.x + r.w > f->fb.width || r.y + r.h > f->fb.height))
			return ab_err_set(err, EPROTO, "a rectangle %dx%d+%d+%d outside %dx%d", r.w,
			                  r.h, r.x, r.y, f->fb.width, f->fb.height);
		f->r = r;
		if (enc == ENC_RAW) {
			f->raw_done = 0;
			damage_add(f, r.x, r.y, r.w, r.h);
			if ((size_t)r.w * r.h == 0)
				return up_rect_done(f);
			f->stage = UP_RAW;
			return 0;
		}
		if (enc == ENC_COPYRECT) {
			f->stage = UP_COPY;
			return 0;
		}
		if (enc == ENC_CURSOR) { /* the pointer's shape: not shown in the preview */
			uint64_t n = (uint64_t)r.w * r.h * 4 + (uint64_t)(r.w + 7) / 8 * r.h;
			if (n == 0)
				return up_rect_done(f);
			up_skip(f, n, UP_RECT_DONE);
			return 0;
		}
		return ab_err_set(err, EPROTO, "the desktop sent encoding %d", enc);
	}
	case UP_COPY: {
		int sx = (int)be16(h), sy = (int)be16(h + 2);
		struct rect r = f->r;
		if (sx + r.w > f->fb.width || sy + r.h > f->fb.height)
			return ab_err_set(err, EPROTO, "a CopyRect from outside the screen");
		size_t row = (size_t)r.w * 4;
		bool up = sy < r.y; /* copy the bottom row first when moving down */
		for (int j = 0; j < r.h; j++) {
			int k = up ? r.h - 1 - j : j;
			memmove(f->fb.px + (size_t)(r.y + k) * f->fb.stride + (size_t)r.x * 4,
			        f->fb.px + (size_t)(sy + k) * f->fb.stride + (size_t)sx * 4, row);
		}
		damage_add(f, r.x, r.y, r.w, r.h);
		return up_rect_done(f);
	}
	case UP_CMAP:
		up_skip(f, 6ull * be16(h + 3), UP_MSG);
		return 0;
	case UP_CUT: {
		int32_t n = (int32_t)be32(h + 3);
		uint64_t len = n < 0 ? (uint64_t)(-(int64_t)n) : (uint64_t)n;
		if (len > UP_MAX_SKIP)
			return ab_err_set(err, EPROTO, "a clipboard of %llu bytes",
			                  (unsigned long long)len);
		up_skip(f, len, UP_MSG);
		return 0;
	}
	default:
		return ab_err_set(err, EPROTO, "internal: stage %d", f->stage);
	}
}

static size_t
up_header_len(const struct fanout *f)
{
	switch (f->stage) {
	case UP_VERSION:
		return 12;
	case UP_SECCOUNT:
	case UP_SECTYPES:
	case UP_MSG:
		return 1;
	case UP_SECRESULT:
	case UP_COPY:
		return 4;
	case UP_INIT:
		return 24;
	case UP_FBU:
		return 3;
	case UP_RECT:
		return 12;
	case UP_CMAP:
		return 5;
	case UP_CUT:
		return 7;
	default:
		return 0;
	}
}

/* Bytes from the desktop. Returns 0 or -errno (err says). */
static int
up_feed(struct fanout *f, const uint8_t *p, size_t len, struct ab_err *err)
{
	while (len) {
		if (f->stage == UP_SKIP) {
			size_t n = (size_t)AB_MIN((uint64_t)len, f->skip);
			f->skip -= n, p += n, len -= n;
			if (f->skip)
				continue;
			f->stage = f->after_skip;
			if (f->stage == UP_RECT_DONE) {
				int r = up_rect_done(f);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (f->stage == UP_RAW) {
			size_t row = (size_t)f->r.w * 4;
			size_t j = f->raw_done / row, off = f->raw_done % row;
			size_t n = AB_MIN(len, row - off);
			memcpy(f->fb.px + (f->r.y + j) * f->fb.stride + (size_t)f->r.x * 4 + off, p,
			       n);
			f->raw_done += n, p += n, len -= n;
			if (f->raw_done == row * (size_t)f->r.h) {
				int r = up_rect_done(f);
				if (r < 0)
					return r;
			}
			continue;
		}
		size_t need = up_header_len(f);
		size_t n = AB_MIN(len, need - f->hlen);
		memcpy(f->hdr + f->hlen, p, n);
		f->hlen += n, p += n, len -= n;
		if (f->hlen < need)
			continue;
		f->hlen = 0;
		int r = up_header(f, err);
		if (r < 0) {
			if (!err->msg[0])
				ab_err_set(err, -r, "writing to the desktop");
			return r;
		}
	}
	return 0;
}

static void
up_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct fanout *f = data;
	static uint8_t buf[UP_READ_BYTES];
	for (int i = 0; i < UP_READS && !f->dead; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			fanout_fail(f, "the desktop closed the connection");
			return;
		}
		struct ab_err err = {0};
		if (up_feed(f, buf, (size_t)n, &err) < 0) {
			ab_warn("preview fan-out of '%s': %s", f->user, err.msg);
			fanout_fail(f, "protocol error");
			return;
		}
	}
}

static void
viewer_attach(struct fanout_viewer *v)
{
	if (v->attached || !v->f->desktop)
		return;
	desktop_client_attach(v->f->desktop);
	v->attached = true;
}

static void
up_ready(struct desktop *d, int status, void *data)
{
	struct fanout *f = data;
	f->waiter = NULL;
	if (status < 0) {
		ab_warn("preview fan-out: the desktop of '%s' is unavailable: %s", f->user,
		        strerror(-status));
		fanout_fail(f, "the desktop failed to start");
		return;
	}
	struct ab_err err = {0};
	int fd = desktop_connect(d, "rfb.sock", "preview", NULL, &err);
	if (fd < 0) {
		ab_warn("preview fan-out: %s", err.msg);
		fanout_fail(f, "the desktop is unreachable");
		return;
	}
	f->fd = fd;
	f->desktop = d;
	hub.stats.upstreams++;
	for (struct fanout_viewer *v = f->viewers; v; v = v->next)
		viewer_attach(v);
	f->watch = ab_loop_watch(hub.loop, fd, AB_LOOP_READ, up_io, f);
	if (!f->watch)
		fanout_fail(f, "internal error");
}

static struct fanout *
fanout_get(const char *user, struct ab_err *err)
{
	for (struct fanout *f = hub.list; f; f = f->next)
		if (!f->dead && strcmp(f->user, user) == 0)
			return f;
	struct fanout *f = ab_xcalloc(1, sizeof(*f));
	f->user = ab_xstrdup(user);
	f->fd = -1;
	if (desktop_acquire(hub.desktops, user, up_ready, f, &f->waiter, err) < 0) {
		free(f->user);
		free(f);
		return NULL;
	}
	f->next = hub.list;
	hub.list = f;
	return f;
}

/* ---- a viewer ---- */

struct fanout_viewer *
fanout_open(struct lws *ws, const char *user, const char *peer)
{
	struct fanout_viewer *v = ab_xcalloc(1, sizeof(*v));
	v->ws = ws;
	v->peer = ab_xstrdup(peer);
	v->kind = -1;
	v->start_ms = ab_now_ms();
	memcpy(v->ctl, "RFB 003.008\n", 12);
	v->ctl_len = 12;
	hub.stats.viewers++;
	struct ab_err err = {0};
	struct fanout *f = fanout_get(user, &err);
	if (!f) {
		ab_warn("preview from %s: %s", peer, err.msg);
		viewer_close(v, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "desktop unavailable");
		return v;
	}
	v->f = f;
	v->next = f->viewers;
	f->viewers = v;
	f->n_viewers++;
	viewer_attach(v);
	lws_callback_on_writable(ws);
	return v;
}

/* The kind of messages this viewer can take now, or -1. */
static int
viewer_kind(const struct fanout_viewer *v)
{
	if (v->enc_tight && v->pf_tight)
		return v->enc_quality ? KIND_TIGHT : KIND_TIGHT_PLAIN;
	if (v->pf_native)
		return KIND_RAW;
	return -1;
}

static void
viewer_set_kind(struct fanout_viewer *v, int kind)
{
	if (kind == v->kind)
		return;
	if (v->f && v->kind >= 0)
		v->f->kind_users[v->kind]--;
	if (v->f && kind >= 0)
		v->f->kind_users[kind]++;
	v->kind = kind;
	v->need_key = true;
}

static void
viewer_input(struct fanout_viewer *v)
{
	v->dropped++;
	if (v->input_audited)
		return;
	/* once per connection: a viewer's every key or move would flood the log */
	v->input_audited = true;
	audit_log("desktop.input", AUDIT_DENY, NULL, NULL, v->peer,
	          json_pack("{ssss}", "reason", "view-only: input dropped", "desktop",
	                    v->f ? v->f->user : ""));
}

static size_t
viewer_header_len(const struct fanout_viewer *v)
{
	switch (v->stage) {
	case V_VERSION:
		return 12;
	case V_SECTYPE:
	case V_CLIENTINIT:
		return 1;
	default:
		break;
	}
	switch (v->hdr[0]) {
	case 0:
		return 20;
	case 2:
	case 250:
		return 4;
	case 3:
	case 150:
		return 10;
	case 4:
	case 6:
	case 251:
		return 8;
	case 5:
		return 6;
	case 248:
		return 9;
	case 255:
		return v->hlen >= 2 && v->hdr[1] == 0 ? 12 : 2;
	default:
		return 0;
	}
}

static void
ctl_put(struct fanout_viewer *v, const void *p, size_t n)
{
	AB_ASSERT(v->ctl_len + n <= sizeof(v->ctl));
	memcpy(v->ctl + v->ctl_len, p, n);
	v->ctl_len += n;
	lws_callback_on_writable(v->ws);
}

/* A complete message header of the viewer's. Returns 0, or -1 to close (reason set). */
static int
viewer_message(struct fanout_viewer *v)
{
	const uint8_t *h = v->hdr;
	switch (v->stage) {
	case V_VERSION:
		if (memcmp(h, "RFB 003.", 8) != 0 || h[11] != '\n') {
			viewer_close(v, LWS_CLOSE_STATUS_PROTOCOL_ERR, "not RFB");
			return -1;
		}
		v->minor = atoi((const char *)h + 8);
		if (v->minor < 7) { /* 3.3: the server names the type */
			ctl_put(v, "\0\0\0\x01", 4);
			v->stage = V_CLIENTINIT;
		} else {
			ctl_put(v, "\x01\x01", 2);
			v->stage = V_SECTYPE;
		}
		return 0;
	case V_SECTYPE:
		if (h[0] != 1) {
			viewer_close(v, LWS_CLOSE_STATUS_PROTOCOL_ERR, "security type None only");
			return -1;
		}
		if (v->minor >= 8)
			ctl_put(v, "\0\0\0\0", 4);
		v->stage = V_CLIENTINIT;
		return 0;
	case V_CLIENTINIT: /* the shared flag does not matter: everyone shares */
		v->stage = V_MSG;
		if (v->f && v->f->ready)
			viewer_send_init(v);
		else
			v->init_pending = true;
		/* RFB's defaults until told otherwise: Raw in the server's format */
		v->pf_native = true;
		v->enc_raw = true;
		viewer_set_kind(v, viewer_kind(v));
		return 0;
	default:
		break;
	}
	switch (h[0]) {
	case 0: {
		bool tc = h[7] != 0,
		     b255 = be16(h + 8) == 255 && be16(h + 10) == 255 && be16(h + 12) == 255;
		v->pf_tight = h[4] == 32 && h[5] == 24 && tc && b255;
		v->pf_native = v->pf_tight && h[6] == 0 && h[14] == 16 && h[15] == 8 && h[16] == 0;
		v->need_key = true;
		break;
	}
	case 2:
		v->enc_tight = v->enc_quality = false;
		v->rest = 4ull * be16(h + 2);
		v->reading_encodings = true;
		break;
	case 3:
		if (!h[1])
			v->need_key = true;
		v->want = true;
		viewer_set_kind(v, viewer_kind(v));
		if (v->kind < 0) {
			ab_info("preview from %s: neither Tight nor the server's pixel format",
			        v->peer);
			viewer_close(v, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			             "Tight or the server's pixel format only");
			return -1;
		}
		if (v->inited)
			lws_callback_on_writable(v->ws);
		break;
	case 4:
	case 5:
	case 250:
		viewer_input(v);
		break;
	case 6: {
		int32_t n = (int32_t)be32(h + 4);
		v->rest = n < 0 ? (uint64_t)(-(int64_t)n) : (uint64_t)n;
		viewer_input(v);
		break;
	}
	case 251:
		v->rest = 16ull * h[6];
		viewer_input(v);
		break;
	case 255:
		viewer_input(v);
		break;
	case 150: /* never announced: nothing to do */
		break;
	case 248:
		v->rest = h[8];
		break;
	default:
		break;
	}
	return 0;
}

int
fanout_receive(struct fanout_viewer *v, const void *in, size_t len, bool binary)
{
	if (v->closing)
		return 0;
	if (!binary) {
		lws_close_reason(v->ws, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
		                 (unsigned char *)"binary frames only", 18);
		return -1;
	}
	const uint8_t *p = in;
	while (len) {
		if (v->rest) {
			if (!v->reading_encodings) {
				size_t n = (size_t)AB_MIN((uint64_t)len, v->rest);
				v->rest -= n, p += n, len -= n;
				continue;
			}
			/* an encoding: 4 bytes, collected in hdr[4..7] */
			v->hdr[4 + (4 - v->rest % 4) % 4] = *p++;
			len--;
			if (--v->rest % 4 == 0) {
				int32_t e = (int32_t)be32(v->hdr + 4);
				if (e == ENC_TIGHT)
					v->enc_tight = true;
				else if (e >= ENC_QUALITY0 && e <= ENC_QUALITY9)
					v->enc_quality = true;
				else if (e == ENC_RAW)
					v->enc_raw = true;
			}
			if (!v->rest)
				v->reading_encodings = false;
			continue;
		}
		v->hdr[v->hlen++] = *p++;
		len--;
		size_t need = viewer_header_len(v);
		if (need == 0 ||
		    (v->stage == V_MSG && v->hdr[0] == 255 && v->hlen == 2 && v->hdr[1] != 0)) {
			ab_warn("preview from %s: view-only client sent an unexpected RFB message",
			        v->peer);
			lws_close_reason(v->ws, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			                 (unsigned char *)"view-only", 9);
			return -1;
		}
		if (v->hlen < need)
			continue;
		v->hlen = 0;
		if (viewer_message(v) < 0)
			return 0; /* closed at the next writable callback */
	}
	return 0;
}

/* Writes one message (shared: lws writes its frame header into the headroom). */
static int
viewer_write(struct fanout_viewer *v, uint8_t *data, size_t len)
{
	if (lws_write(v->ws, data + LWS_PRE, len, LWS_WRITE_BINARY) < (int)len) {
		ab_warn("preview from %s: write failed", v->peer);
		return -1;
	}
	v->bytes += len;
	hub.stats.bytes_out += len;
	return 0;
}

int
fanout_writeable(struct fanout_viewer *v)
{
	if (v->closing) {
		lws_close_reason(v->ws, v->close_status, (unsigned char *)v->close_reason,
		                 strlen(v->close_reason));
		return -1;
	}
	if (v->ctl_len) {
		uint8_t buf[LWS_PRE + sizeof(v->ctl)];
		memcpy(buf + LWS_PRE, v->ctl, v->ctl_len);
		size_t n = v->ctl_len;
		v->ctl_len = 0;
		if (viewer_write(v, buf, n) < 0)
			return -1;
		lws_callback_on_writable(v->ws);
		return 0;
	}
	struct fanout *f = v->f;
	if (!f || !v->inited || !v->want || v->kind < 0)
		return 0;
	int k = v->kind;
	bool key = v->need_key || v->seq + FANOUT_RING <= f->seq;
	struct frame *next = &f->ring[(v->seq + 1) % FANOUT_RING];
	if (!key && v->seq < f->seq && (next->seq != v->seq + 1 || !next->m[k].data))
		key = true; /* that update was not made for this kind: start over */
	if (key) {
		if (f->key_seq[k] != f->seq || !f->key[k].data) {
			msg_free(&f->key[k]);
			struct rect all = {0, 0, f->fb.width, f->fb.height};
			f->key[k] = encode_msg(&f->fb, &all, 1, k);
			f->key_seq[k] = f->seq;
			hub.stats.keyframes++;
		}
		if (viewer_write(v, f->key[k].data, f->key[k].len) < 0)
			return -1;
		v->seq = f->seq;
		v->need_key = false;
		v->keys++;
	} else if (v->seq < f->seq) {
		if (viewer_write(v, next->m[k].data, next->m[k].len) < 0)
			return -1;
		v->seq++;
		v->updates++;
	} else {
		return 0; /* nothing new: the request waits for the next update */
	}
	if (v->seq == f->seq)
		v->want = false; /* answered: the next request asks again */
	else
		lws_callback_on_writable(v->ws);
	return 0;
}

void
fanout_closed(struct fanout_viewer *v)
{
	if (!v)
		return;
	hub.stats.viewers--;
	struct fanout *f = v->f;
	if (f) {
		for (struct fanout_viewer **p = &f->viewers; *p; p = &(*p)->next)
			if (*p == v) {
				*p = v->next;
				break;
			}
		f->n_viewers--;
		if (v->kind >= 0)
			f->kind_users[v->kind]--;
		if (v->attached)
			desktop_client_detach(f->desktop);
		ab_info("preview from %s left the desktop of '%s': duration_ms=%lld bytes=%llu "
		        "updates=%llu key_frames=%llu input_dropped=%llu",
		        v->peer, f->user, (long long)(ab_now_ms() - v->start_ms), v->bytes,
		        v->updates, v->keys, v->dropped);
		if (f->n_viewers == 0)
			fanout_free(f);
	}
	free(v->peer);
	free(v);
}
