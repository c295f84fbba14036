/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vnc.h"
#include "ab_randr.h"
#include "extclip.h"
#include "fbdiff.h"
#include "tight.h"
#include "zrle.h"
#include "ab_log.h"
#include "ab_sock.h"
#include "ab_util.h"

#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/Xrandr.h>
#include <X11/extensions/XTest.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * libvncserver (built with websockets) peeks for up to 100 ms at every new
 * client to sniff a websocket handshake, through rfbPeekExactTimeout(). Our
 * rfb.sock speaks plain RFB only (the broker terminates websockets), so this
 * definition, which the dynamic linker prefers to the library's, reports "no
 * data" at once and clients get the server greeting immediately. The
 * library calls it for nothing else.
 */
int
rfbPeekExactTimeout(rfbClientPtr cl, char *buf, int len, int timeout)
{
	errno = ETIMEDOUT;
	return -1;
}

struct vnc_client {
	struct vnc *v;
	struct ab_watch *watch;
	bool greeted;            /* got the current clipboard after its first update */
	bool clip_caps_sent;     /* our extended clipboard caps (libvncserver's lack notify) */
	bool clip_caps;          /* the client told us its extended clipboard caps */
	uint32_t clip_actions;   /* ... the actions it takes */
	uint32_t clip_text_max;  /* ... and the most text it takes unasked */
	bool clip_offered;       /* it notified text we requested and wait for */
	struct zrle_enc *zrle;   /* our ZRLE encoder and zlib stream, made on first use */
	struct tight_enc *tight; /* our Tight encoder and zlib streams, made on first use */
	/*
	 * Lossless refinement (Tight with a quality level): what this client was
	 * last sent as JPEG and still shows so, the part of it sent since the last
	 * refinement tick (still changing), and what the next updates re-send
	 * losslessly (made on first use, freed with the client).
	 */
	sraRegionPtr lossy, lossy_recent, refine;
	bool recording; /* its Tight rectangles are recorded into the first frame cache */
	uint8_t *tbuf;  /* pixels translated to the client's format */
	size_t tbuf_cap;
};

/* The client's CPIXEL layout (RFC 6143 7.7.6), decided as libvncserver's encoder does. */
static void
zrle_format_of(const rfbPixelFormat *pf, struct zrle_format *f)
{
	f->bytes_pp = pf->bitsPerPixel / 8;
	f->cpixel = f->bytes_pp;
	f->cpixel_off = 0;
	if (pf->bitsPerPixel != 32)
		return;
	bool ls3 = ((unsigned)pf->redMax << pf->redShift) < (1u << 24) &&
	           ((unsigned)pf->greenMax << pf->greenShift) < (1u << 24) &&
	           ((unsigned)pf->blueMax << pf->blueShift) < (1u << 24);
	bool ms3 = pf->redShift > 7 && pf->greenShift > 7 && pf->blueShift > 7;
	if ((ls3 && !pf->bigEndian) || (ms3 && pf->bigEndian)) {
		f->cpixel = 3;
	} else if (ls3 || ms3) {
		f->cpixel = 3;
		f->cpixel_off = 1;
	}
}

static rfbBool
write_update_buf(rfbClientPtr cl, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		size_t n = AB_MIN(len, (size_t)(UPDATE_BUF_SIZE - cl->ublen));
		memcpy(cl->updateBuf + cl->ublen, p, n);
		cl->ublen += (int)n;
		p += n;
		len -= n;
		if (cl->ublen == UPDATE_BUF_SIZE && !rfbSendUpdateBuf(cl))
			return FALSE;
	}
	return TRUE;
}

/*
 * Appends the header of rectangle (x, y, w, h) in `encoding` to cl's update buffer, sending
 * the buffer first when the header and `reserve` more bytes would not fit; *ret gets the
 * header as sent. false: the client is gone.
 */
static bool
put_rect_header(rfbClientPtr cl, int x, int y, int w, int h, int32_t encoding, int reserve,
                rfbFramebufferUpdateRectHeader *ret)
{
	if (cl->ublen + sz_rfbFramebufferUpdateRectHeader + reserve > UPDATE_BUF_SIZE &&
	    !rfbSendUpdateBuf(cl))
		return false;
	ret->r.x = Swap16IfLE(x);
	ret->r.y = Swap16IfLE(y);
	ret->r.w = Swap16IfLE(w);
	ret->r.h = Swap16IfLE(h);
	ret->encoding = Swap32IfLE(encoding);
	memcpy(cl->updateBuf + cl->ublen, ret, sz_rfbFramebufferUpdateRectHeader);
	cl->ublen += sz_rfbFramebufferUpdateRectHeader;
	return true;
}

/*
 * libvncserver's rfbSendFramebufferUpdate() calls this for every ZRLE
 * rectangle; this definition, which the dynamic linker prefers to the
 * library's (as rfbPeekExactTimeout above), encodes with zrle.c. ZYWRLE
 * (lossy) stays with the library's encoder.
 */
rfbBool
rfbSendRectEncodingZRLE(rfbClientPtr cl, int x, int y, int w, int h)
{
	struct vnc_client *vc = cl->clientData;
	if (!vc || cl->preferredEncoding != rfbEncodingZRLE || cl->format.bitsPerPixel < 8) {
		static rfbBool (*lib)(rfbClientPtr, int, int, int, int);
		if (!lib)
			lib = (rfbBool(*)(rfbClientPtr, int, int, int, int))dlsym(
			    RTLD_NEXT, "rfbSendRectEncodingZRLE");
		return lib ? lib(cl, x, y, w, h) : FALSE;
	}
	struct zrle_format f;
	zrle_format_of(&cl->format, &f);
	rfbScreenInfoPtr s = cl->scaledScreen;
	int sbpp = s->serverFormat.bitsPerPixel / 8;
	const uint8_t *src = (const uint8_t *)s->frameBuffer + (size_t)y * s->paddedWidthInBytes +
	                     (size_t)x * (size_t)sbpp;
	size_t stride = (size_t)s->paddedWidthInBytes;
	if (cl->translateFn != rfbTranslateNone) {
		size_t need = (size_t)w * (size_t)h * (size_t)f.bytes_pp;
		if (vc->tbuf_cap < need) {
			free(vc->tbuf);
			vc->tbuf = ab_xmalloc(need);
			vc->tbuf_cap = need;
		}
		cl->translateFn(cl->translateLookupTable, &s->serverFormat, &cl->format,
		                (char *)src, (char *)vc->tbuf, s->paddedWidthInBytes, w, h);
		src = vc->tbuf;
		stride = (size_t)w * (size_t)f.bytes_pp;
	}
	if (!vc->zrle)
		vc->zrle = zrle_enc_new(VNC_ZRLE_LEVEL);
	const uint8_t *data;
	long len = zrle_encode(vc->zrle, src, stride, w, h, &f, &data);
	if (len < 0) {
		rfbErr("ZRLE: zlib failed, dropping the client\n");
		rfbCloseClient(cl);
		return FALSE;
	}
	rfbStatRecordEncodingSent(cl, rfbEncodingZRLE,
	                          sz_rfbFramebufferUpdateRectHeader + sz_rfbZRLEHeader + (int)len,
	                          w * h * f.bytes_pp);
	rfbFramebufferUpdateRectHeader rect;
	if (!put_rect_header(cl, x, y, w, h, rfbEncodingZRLE, sz_rfbZRLEHeader, &rect))
		return FALSE;
	rfbZRLEHeader hdr;
	hdr.length = Swap32IfLE((uint32_t)len);
	memcpy(cl->updateBuf + cl->ublen, &hdr, sz_rfbZRLEHeader);
	cl->ublen += sz_rfbZRLEHeader;
	return write_update_buf(cl, data, (size_t)len);
}

/*
 * Our Tight encoder (tight.h) serves clients that prefer Tight in a 24-bit
 * colour format (noVNC: 32 bpp, depth 24) and take LastRect, so that the
 * number of rectangles need not be known up front. Anything else stays with
 * libvncserver's encoder.
 */
static bool
tight_ours(rfbClientPtr cl)
{
	const rfbPixelFormat *f = &cl->format, *sf = &cl->screen->serverFormat;
	return cl->clientData && cl->preferredEncoding == rfbEncodingTight &&
	       cl->enableLastRectEncoding && cl->screen == cl->scaledScreen && f->trueColour &&
	       f->bitsPerPixel == 32 && f->depth == 24 && f->redMax == 255 && f->greenMax == 255 &&
	       f->blueMax == 255 && sf->bitsPerPixel == 32 && sf->redShift == 16 &&
	       sf->greenShift == 8 && sf->blueShift == 0 && !sf->bigEndian;
}

/* libvncserver asks how many rectangles a Tight rectangle becomes: ours say LastRect (0). */
int
rfbNumCodedRectsTight(rfbClientPtr cl, int x, int y, int w, int h)
{
	if (tight_ours(cl))
		return 0;
	static int (*lib)(rfbClientPtr, int, int, int, int);
	if (!lib)
		lib = (int (*)(rfbClientPtr, int, int, int, int))dlsym(RTLD_NEXT,
		                                                       "rfbNumCodedRectsTight");
	return lib ? lib(cl, x, y, w, h) : 0;
}

static void refine_arm(struct vnc *v);
static void lossy_copy(struct vnc *v, const struct fbdiff_rect *dst, int dx, int dy);

static bool
tight_emit(void *data, int x, int y, int w, int h, enum tight_kind kind, const uint8_t *bytes,
           size_t len)
{
	rfbClientPtr cl = data;
	struct vnc_client *vc = cl->clientData;
	rfbStatRecordEncodingSent(cl, rfbEncodingTight,
	                          sz_rfbFramebufferUpdateRectHeader + (int)len, w * h * 4);
	rfbFramebufferUpdateRectHeader rect;
	if (!put_rect_header(cl, x, y, w, h, rfbEncodingTight, 0, &rect))
		return false;
	if (!write_update_buf(cl, bytes, len))
		return false;
	if (vc->recording) {
		struct vnc *v = vc->v;
		size_t need = v->ff.len + sz_rfbFramebufferUpdateRectHeader + len;
		if (need > v->ff.cap) {
			v->ff.cap = AB_MAX(need, v->ff.cap * 2);
			v->ff.bytes = ab_xrealloc(v->ff.bytes, v->ff.cap);
		}
		memcpy(v->ff.bytes + v->ff.len, &rect, sz_rfbFramebufferUpdateRectHeader);
		memcpy(v->ff.bytes + v->ff.len + sz_rfbFramebufferUpdateRectHeader, bytes, len);
		v->ff.len = need;
		v->ff.rects++;
	}
	if (kind == TIGHT_JPEG) {
		if (!vc->lossy) {
			vc->lossy = sraRgnCreate();
			vc->lossy_recent = sraRgnCreate();
		}
		sraRegionPtr r = sraRgnCreateRect(x, y, x + w, y + h);
		sraRgnOr(vc->lossy, r);
		sraRgnOr(vc->lossy_recent, r);
		sraRgnDestroy(r);
		refine_arm(vc->v);
	} else if (vc->lossy && !sraRgnEmpty(vc->lossy)) {
		sraRegionPtr r = sraRgnCreateRect(x, y, x + w, y + h);
		sraRgnSubtract(vc->lossy, r);
		sraRgnDestroy(r);
	}
	return true;
}

/* Encodes the pixels of region part (inside the screen) for cl at quality (-1: lossless). */
static bool
tight_send_region(rfbClientPtr cl, sraRegionPtr part, int quality)
{
	struct vnc_client *vc = cl->clientData;
	rfbScreenInfoPtr s = cl->screen;
	size_t stride = (size_t)s->paddedWidthInBytes;
	sraRectangleIterator *it = sraRgnGetIterator(part);
	sraRect r;
	int ret = 0;
	while (ret >= 0 && sraRgnIteratorNext(it, &r)) {
		const uint8_t *src =
		    (const uint8_t *)s->frameBuffer + (size_t)r.y1 * stride + (size_t)r.x1 * 4;
		ret = tight_encode(vc->tight, src, stride, r.x1, r.y1, r.x2 - r.x1, r.y2 - r.y1,
		                   quality, cl->tightCompressLevel, tight_emit, cl);
	}
	sraRgnReleaseIterator(it);
	if (ret == -EIO) {
		rfbErr("Tight: zlib or libjpeg failed, dropping the client\n");
		rfbCloseClient(cl);
	}
	return ret >= 0;
}

/*
 * The first-frame cache. The whole-screen Tight update of a client whose
 * zlib streams are new (tight_enc_fresh: its first frame) is kept, bytes and
 * rectangle headers, with a copy of the encoder's zlib streams after it
 * (tight_enc_dup). The next client whose streams are new and asks for the
 * whole screen at the same quality and compression level while the shadow is
 * unchanged (a reload, a reconnect) is sent those bytes, and its encoder
 * becomes a copy of the kept one: its streams continue where the frame left
 * them, as the client's do. No stream is ever reset (noVNC cannot restart a
 * zlib stream it has used, tight.h), and a client that has decoded anything
 * gets no replay: an earlier version sent the frame to any client asking
 * for the whole screen, also one with history on those streams (libvncclient
 * asks twice when it connects; under load the first update went out before
 * the second request arrived), whose zlib then failed (session_input,
 * _resize and _hostile hung up), and its fix, resetting the streams around
 * the frame, broke noVNC. session_test.py replay and web_e2e_session check.
 */
static void
ff_note_lossy(struct vnc_client *vc, sraRegionPtr lossy)
{
	if (!vc->lossy) {
		vc->lossy = sraRgnCreate();
		vc->lossy_recent = sraRgnCreate();
	}
	/* the whole screen was sent: only what this frame sent as JPEG is lossy now */
	sraRgnMakeEmpty(vc->lossy);
	sraRgnMakeEmpty(vc->lossy_recent);
	if (lossy) {
		sraRgnOr(vc->lossy, lossy);
		sraRgnOr(vc->lossy_recent, lossy);
	}
}

/*
 * Sends the cached whole-screen frame to cl, whose zlib streams are new (the
 * shadow has not changed since it was encoded, for a client of the same
 * quality and compression level, both taking our Tight: tight_ours()). Its
 * encoder continues the kept copy of the recording encoder's streams, and
 * the frame's JPEG areas are lossy for it too (refined as for any other).
 */
static rfbBool
ff_replay(rfbClientPtr cl)
{
	struct vnc_client *vc = cl->clientData;
	struct vnc *v = vc->v;
	rfbStatRecordEncodingSent(cl, rfbEncodingTight, (int)v->ff.len,
	                          v->ff.width * v->ff.height * 4);
	if (!write_update_buf(cl, v->ff.bytes, v->ff.len))
		return FALSE;
	tight_enc_free(vc->tight);
	vc->tight = tight_enc_dup(v->ff.enc);
	v->stats.ff_hits++;
	ab_info("first frame from the cache: %lld rectangles, %zu bytes (replay %lld)", v->ff.rects,
	        v->ff.len, v->stats.ff_hits);
	ff_note_lossy(vc, v->ff.lossy);
	if (!sraRgnEmpty(v->ff.lossy))
		refine_arm(v);
	return TRUE;
}

/*
 * libvncserver's rfbSendFramebufferUpdate() calls this for every Tight
 * rectangle; this definition, which the dynamic linker prefers to the
 * library's, encodes ours with tight.c. The part of the rectangle waiting
 * for lossless refinement goes out without JPEG.
 */
rfbBool
rfbSendRectEncodingTight(rfbClientPtr cl, int x, int y, int w, int h)
{
	if (!tight_ours(cl)) {
		static rfbBool (*lib)(rfbClientPtr, int, int, int, int);
		if (!lib)
			lib = (rfbBool(*)(rfbClientPtr, int, int, int, int))dlsym(
			    RTLD_NEXT, "rfbSendRectEncodingTight");
		return lib ? lib(cl, x, y, w, h) : FALSE;
	}
	struct vnc_client *vc = cl->clientData;
	struct vnc *v = vc->v;
	if (!vc->tight)
		vc->tight = tight_enc_new();
	int quality =
	    cl->tightQualityLevel >= 0 && cl->tightQualityLevel <= 9 ? cl->tightQualityLevel : -1;
	/* the whole screen, as a new client's first update asks (with cursor shapes: none drawn) */
	bool whole = x == 0 && y == 0 && w == v->width && h == v->height &&
	             cl->enableCursorShapeUpdates && (!vc->refine || sraRgnEmpty(vc->refine));
	bool fresh = whole && tight_enc_fresh(vc->tight);
	if (fresh && v->ff.valid && v->ff.gen == v->fb_gen && v->ff.quality == quality &&
	    v->ff.compress == cl->tightCompressLevel && v->ff.width == w && v->ff.height == h)
		return ff_replay(cl);
	vc->recording = fresh;
	if (vc->recording) {
		v->ff.valid = false;
		v->ff.len = 0;
		v->ff.rects = 0;
		ff_note_lossy(vc, NULL);
	}
	sraRegionPtr all = sraRgnCreateRect(x, y, x + w, y + h);
	bool ok = true;
	if (quality >= 0 && vc->refine && !sraRgnEmpty(vc->refine)) {
		sraRegionPtr exact = sraRgnCreateRgn(all);
		sraRgnAnd(exact, vc->refine);
		sraRgnSubtract(all, vc->refine);
		sraRgnSubtract(vc->refine, exact);
		ok = tight_send_region(cl, exact, -1);
		sraRgnDestroy(exact);
	}
	if (ok)
		ok = tight_send_region(cl, all, quality);
	sraRgnDestroy(all);
	if (vc->recording && ok) {
		tight_enc_free(v->ff.enc);
		v->ff.enc = tight_enc_dup(vc->tight); /* its streams after the frame */
		v->ff.valid = true;
		v->ff.gen = v->fb_gen;
		v->ff.quality = quality;
		v->ff.compress = cl->tightCompressLevel;
		v->ff.width = w;
		v->ff.height = h;
		if (!v->ff.lossy)
			v->ff.lossy = sraRgnCreate();
		sraRgnMakeEmpty(v->ff.lossy);
		if (vc->lossy)
			sraRgnOr(v->ff.lossy, vc->lossy);
	}
	vc->recording = false;
	return ok;
}

static struct vnc *the_vnc; /* X error handler needs it */
static int x_error_code;

static int
x_error_handler(Display *dpy, XErrorEvent *e)
{
	x_error_code = e->error_code;
	char msg[128];
	XGetErrorText(dpy, e->error_code, msg, sizeof(msg));
	ab_debug("X error: %s (request %d.%d)", msg, e->request_code, e->minor_code);
	return 0;
}

static int
x_io_error_handler(Display *dpy)
{
	ab_error("lost the connection to the X server");
	/* Xlib exits after this returns; the exit status tells the broker Xvfb is gone. */
	return 0;
}

/* libvncserver's message into buf, without the newline it ends with. */
static void __attribute__((format(printf, 3, 0)))
rfb_format(char *buf, size_t size, const char *fmt, va_list ap)
{
	vsnprintf(buf, size, fmt, ap);
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
}

static void __attribute__((format(printf, 1, 2))) rfb_log(const char *fmt, ...)
{
	if (!ab_log_enabled(AB_LOG_DEBUG))
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	rfb_format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ab_debug("rfb: %s", buf);
}

static void __attribute__((format(printf, 1, 2))) rfb_err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	rfb_format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strstr(buf, "TCP_NODELAY")) /* unix sockets have no Nagle to turn off */
		return;
	ab_warn("rfb: %s", buf);
}

void
vnc_clamp_size(const struct session_config *cfg, int *w, int *h)
{
	*w = (int)AB_MAX(AB_MIN((long long)*w, cfg->max_width), cfg->min_width);
	*h = (int)AB_MAX(AB_MIN((long long)*h, cfg->max_height), cfg->min_height);
}

/* ---- input hooks ---- */

static void
kbd_cb(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	input_key(&v->input, down, keysym);
}

static void
ptr_cb(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	x = AB_MAX(0, AB_MIN(x, v->width - 1));
	y = AB_MAX(0, AB_MIN(y, v->height - 1));
	input_pointer(&v->input, mask, x, y);
	rfbDefaultPtrAddEvent(mask, x, y, cl);
}

/* ---- clipboard ---- */

/*
 * libvncserver 0.9.14 announces the extended clipboard without "notify", so
 * noVNC falls back to Latin-1 cut text, and it takes no notify from a client.
 * We speak the extension ourselves (extclip.h): ClientCutText messages are
 * read here (rfbProcessClientMessage below), and X selections go out per
 * client: classic cut text (Latin-1) to clients without the extension, an
 * unsolicited provide to those that take it (no caps yet, or within their
 * limit), else a notify, answered with a provide when they request.
 */

static void
clip_write(rfbClientPtr cl, const uint8_t *m, size_t n)
{
	if (rfbWriteExact(cl, (const char *)m, (int)n) < 0)
		rfbCloseClient(cl);
}

static void
clip_send_to(struct vnc *v, rfbClientPtr cl, const char *utf8, size_t len)
{
	struct vnc_client *vc = cl->clientData;
	if (!vc || cl->state != RFB_NORMAL)
		return;
	size_t n;
	if (!cl->enableExtendedClipboard) {
		_cleanup_free_ char *l1 = clipboard_utf8_to_latin1(utf8, len, &n);
		uint8_t hdr[8] = {
		    3,         0, 0, 0, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
		    (uint8_t)n};
		if (rfbWriteExact(cl, (const char *)hdr, sizeof(hdr)) < 0 ||
		    rfbWriteExact(cl, l1, (int)n) < 0)
			rfbCloseClient(cl);
		return;
	}
	_cleanup_free_ uint8_t *m = NULL;
	if (!vc->clip_caps || len + 1 <= vc->clip_text_max || !(vc->clip_actions & EXTCLIP_REQUEST))
		m = extclip_provide_message(utf8, len, &n);
	else
		m = extclip_message(EXTCLIP_NOTIFY | EXTCLIP_TEXT, NULL, 0, &n);
	clip_write(cl, m, n);
}

static void
clip_send(const char *utf8, size_t len, void *data)
{
	struct vnc *v = data;
	rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
	rfbClientPtr cl;
	while ((cl = rfbClientIteratorNext(it)))
		clip_send_to(v, cl, utf8, len);
	rfbReleaseClientIterator(it);
	ab_debug("clipboard: %zu bytes sent to clients", len);
}

static int64_t
clip_offer_timeout_cb(struct ab_loop *loop, void *data)
{
	struct vnc *v = data;
	v->clip_timer = NULL;
	clipboard_offer_cancel(&v->clip);
	return AB_TIMER_STOP;
}

/* One extended ClientCutText (its flags and payload, n bytes after the flags). */
static void
clip_ext_from_client(struct vnc *v, rfbClientPtr cl, uint32_t flags, const uint8_t *p, size_t n)
{
	struct vnc_client *vc = cl->clientData;
	uint32_t action = flags & EXTCLIP_ACTIONS;
	size_t len;
	if (action & EXTCLIP_CAPS) {
		uint32_t max;
		if (extclip_caps_text_max(flags, p, n, &max) < 0) {
			rfbErr("client sent short extended clipboard caps, dropping it\n");
			rfbCloseClient(cl);
			return;
		}
		vc->clip_caps = true;
		vc->clip_actions = flags & EXTCLIP_ACTIONS;
		vc->clip_text_max = max;
	} else if (action == EXTCLIP_NOTIFY) {
		if (!(flags & EXTCLIP_TEXT) || cl->viewOnly)
			return; /* its clipboard is empty or not text */
		/* ask for it now; X requests wait for it (clipboard_client_offer) */
		clipboard_client_offer(&v->clip);
		vc->clip_offered = true;
		_cleanup_free_ uint8_t *m =
		    extclip_message(EXTCLIP_REQUEST | EXTCLIP_TEXT, NULL, 0, &len);
		clip_write(cl, m, len);
		if (v->clip_timer)
			ab_loop_timer_cancel(v->loop, v->clip_timer);
		v->clip_timer =
		    ab_loop_timer(v->loop, VNC_CLIP_OFFER_TIMEOUT_MS, clip_offer_timeout_cb, v);
	} else if (action == EXTCLIP_REQUEST) {
		if ((flags & EXTCLIP_TEXT) && v->clip.last_sent) {
			_cleanup_free_ uint8_t *m =
			    extclip_provide_message(v->clip.last_sent, v->clip.last_sent_len, &len);
			clip_write(cl, m, len);
		}
	} else if (action == EXTCLIP_PEEK) {
		uint32_t have = v->clip.last_sent ? EXTCLIP_TEXT : 0;
		_cleanup_free_ uint8_t *m = extclip_message(EXTCLIP_NOTIFY | have, NULL, 0, &len);
		clip_write(cl, m, len);
	} else if (action == EXTCLIP_PROVIDE) {
		vc->clip_offered = false;
		if (cl->viewOnly)
			return;
		_cleanup_free_ char *text = NULL;
		int r = extclip_provide_text(flags, p, n, v->clip.max, &text, &len);
		if (r == -ENOENT)
			return;
		if (v->clip_timer)
			ab_loop_timer_cancel(v->loop, v->clip_timer);
		v->clip_timer = NULL;
		if (r < 0) {
			ab_warn("clipboard: client text refused: %s",
			        r == -EMSGSIZE ? "larger than vnc.clipboard_max"
			                       : "broken zlib stream or not UTF-8");
			clipboard_offer_cancel(&v->clip);
			return;
		}
		clipboard_from_client(&v->clip, text, len);
		ab_debug("clipboard: %zu bytes from a client (extended)", len);
	}
}

/* Reads one ClientCutText (classic or extended) from cl; the type byte is still unread. */
static void
clip_read_message(struct vnc *v, rfbClientPtr cl)
{
	uint8_t hdr[8];
	if (rfbReadExact(cl, (char *)hdr, sizeof(hdr)) <= 0) {
		rfbCloseClient(cl);
		return;
	}
	/* an extended message carries zlib data; allow for incompressible text doubled by CRLF */
	bool extended;
	long long r = extclip_cut_text_len(hdr, 2 * v->clip.max + 4096, &extended);
	if (r < 0) {
		rfbErr("client cut text %s, dropping it\n",
		       r == -EBADMSG ? "too short" : "over the limit");
		rfbCloseClient(cl);
		return;
	}
	size_t n = (size_t)r;
	_cleanup_free_ uint8_t *body = ab_xmalloc(n + 1);
	if (n > 0 && rfbReadExact(cl, (char *)body, (int)n) <= 0) {
		rfbCloseClient(cl);
		return;
	}
	if (!extended) {
		if (cl->viewOnly)
			return;
		size_t un;
		_cleanup_free_ char *u = clipboard_latin1_to_utf8((char *)body, n, &un);
		clipboard_from_client(&v->clip, u, un);
		return;
	}
	uint32_t flags =
	    (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 | (uint32_t)body[2] << 8 | body[3];
	clip_ext_from_client(v, cl, flags, body + 4, n - 4);
}

/*
 * libvncserver calls this (through the PLT, so this definition wins, as
 * rfbPeekExactTimeout above) when a client socket is readable. ClientCutText
 * is ours (see above); everything else goes to the library's.
 */
void
rfbProcessClientMessage(rfbClientPtr cl)
{
	static void (*lib)(rfbClientPtr);
	if (!lib)
		lib = (void (*)(rfbClientPtr))dlsym(RTLD_NEXT, "rfbProcessClientMessage");
	struct vnc_client *vc = cl->clientData;
	uint8_t type;
	if (vc && cl->state == RFB_NORMAL && cl->sock >= 0 &&
	    recv(cl->sock, &type, 1, MSG_PEEK | MSG_DONTWAIT) == 1 && type == rfbClientCutText) {
		clip_read_message(vc->v, cl);
		return;
	}
	lib(cl);
	/* SetEncodings just enabled the extension: libvncserver sent its caps, now ours */
	vc = cl->clientData;
	if (vc && cl->enableExtendedClipboard && !vc->clip_caps_sent && cl->sock >= 0) {
		vc->clip_caps_sent = true;
		size_t n;
		_cleanup_free_ uint8_t *m = extclip_caps_message((uint32_t)vc->v->clip.max, &n);
		clip_write(cl, m, n);
	}
}

/* ---- resize ---- */

static int
x_resize(struct vnc *v, int w, int h)
{
	x_error_code = 0;
	int r = ab_randr_set_size(v->dpy, v->root, w, h);
	XSync(v->dpy, False);
	if (r == 0 && x_error_code)
		r = -EIO;
	return r;
}

/*
 * Xvfb's pixels: 32 bpp, depth 24, red at bit 16. rfbGetScreen() says depth
 * 32 (8 * bytes per pixel), so a client asking for the usual depth 24 (noVNC,
 * TigerVNC, libvncclient) would have every pixel translated through lookup
 * tables (most of a full frame's time) instead of sent as it is.
 */
static void
set_server_format(rfbScreenInfoPtr s)
{
	s->depth = 24;
	s->serverFormat.depth = 24;
	s->serverFormat.redShift = 16;
	s->serverFormat.greenShift = 8;
	s->serverFormat.blueShift = 0;
}

/*
 * Makes the shadow a copy of the screen's visible w x h pixels, packed at
 * the visible width (sstride = w * 4) while Xvfb's rows keep its maximal
 * screen's stride: at 1920x1080 under a 3840-pixel stride, a shadow at
 * Xvfb's layout touched parts of about 3.7 MiB more pages (each row's end
 * shares a page with the next row's start). A new size gets a new buffer
 * (the old one is freed once libvncserver has the new one); returns the old
 * buffer for the caller to free, or NULL.
 */
static uint8_t *
shadow_sync(struct vnc *v, int w, int h)
{
	size_t stride = (size_t)v->xvfb->bytes_per_line, span = (size_t)w * 4;
	size_t len = span * (size_t)h;
	uint8_t *old = NULL;
	if (!v->shadow || v->shadow_len != len) {
		old = v->shadow;
		v->shadow = ab_xmalloc(len);
		v->shadow_len = len;
	}
	v->sstride = span;
	const uint8_t *src = (const uint8_t *)v->xvfb->pixels;
	for (int y = 0; y < h; y++)
		memcpy(v->shadow + (size_t)y * span, src + (size_t)y * stride, span);
	return old;
}

static void
fb_follow(struct vnc *v, int w, int h)
{
	if (w == v->width && h == v->height)
		return;
	v->width = w;
	v->height = h;
	v->fb_gen++;
	/*
	 * Xvfb keeps its maximal screen pixmap: same pixels, same stride. The
	 * shadow takes the whole new screen at the new width (a new framebuffer
	 * is sent in full).
	 */
	uint8_t *old = shadow_sync(v, w, h);
	rfbNewFramebuffer(v->screen, (char *)v->shadow, w, h, 8, 3, 4);
	v->screen->paddedWidthInBytes = (int)v->sstride;
	free(old);
	set_server_format(v->screen);
	/* translation was set up for libvncserver's own idea of the format */
	rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
	rfbClientPtr cl;
	while ((cl = rfbClientIteratorNext(it)))
		rfbSetTranslateFunction(cl);
	rfbReleaseClientIterator(it);
	ab_info("desktop is now %dx%d", w, h);
	xvfb_trim_later(v->xvfb, v->loop, v->dpy);
}

int
vnc_resize(struct vnc *v, int w, int h)
{
	vnc_clamp_size(v->cfg, &w, &h);
	if (w == v->width && h == v->height)
		return 0;
	int r = x_resize(v, w, h);
	if (r < 0) {
		ab_warn("resize to %dx%d failed", w, h);
		return r;
	}
	fb_follow(v, w, h);
	return 0;
}

static int
desktop_size_cb(int w, int h, int nscreens, struct rfbExtDesktopScreen *screens, rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	if (w <= 0 || h <= 0)
		return rfbExtDesktopSize_InvalidScreenLayout;
	return vnc_resize(v, w, h) < 0 ? rfbExtDesktopSize_OutOfResources
	                               : rfbExtDesktopSize_Success;
}

/* ---- QEMU extended key events (not handled by libvncserver 0.9.14 itself) ---- */

static int qemu_encodings[] = {(int)rfbEncodingQemuExtendedKeyEvent, 0};

/* The pseudo-encoding extensions keep no per-client state: every client is welcome. */
static rfbBool
ext_new_client(rfbClientPtr cl, void **data)
{
	return TRUE;
}

/*
 * An extension's enablePseudoEncoding for its one pseudo-encoding ours: FALSE for any other
 * enc; else tells the client we understand, with a FramebufferUpdate of one pseudo-rectangle
 * of that encoding (closing the client when the write fails), and returns TRUE.
 */
static rfbBool
ext_enable(rfbClientPtr cl, int enc, int ours)
{
	if (enc != ours)
		return FALSE;
	/* FramebufferUpdate, one rectangle: 0,0 0x0 of encoding ours */
	uint32_t e = (uint32_t)ours;
	unsigned char msg[16] = {0, 0, 0, 1};
	msg[12] = (unsigned char)(e >> 24);
	msg[13] = (unsigned char)(e >> 16);
	msg[14] = (unsigned char)(e >> 8);
	msg[15] = (unsigned char)e;
	if (rfbWriteExact(cl, (const char *)msg, sizeof(msg)) < 0)
		rfbCloseClient(cl);
	return TRUE;
}

/* Reads len bytes of a client message; false (the client closed) when they do not come. */
static bool
ext_read(rfbClientPtr cl, void *buf, size_t len)
{
	if (rfbReadExact(cl, buf, (int)len) <= 0) {
		rfbCloseClient(cl);
		return false;
	}
	return true;
}

static rfbBool
qemu_enable(rfbClientPtr cl, void **data, int enc)
{
	return ext_enable(cl, enc, (int)rfbEncodingQemuExtendedKeyEvent);
}

static rfbBool
qemu_message(rfbClientPtr cl, void *data, const rfbClientToServerMsg *m)
{
	if (m->type != rfbQemuEvent)
		return FALSE;
	unsigned char b[11];
	if (!ext_read(cl, b, sizeof(b)))
		return TRUE;
	if (b[0] != 0) { /* only subtype 0 (extended key event) exists */
		rfbErr("client sent QEMU message subtype %u, dropping it\n", b[0]);
		rfbCloseClient(cl);
		return TRUE;
	}
	bool down = (b[1] << 8 | b[2]) != 0;
	uint32_t keysym = (uint32_t)b[3] << 24 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 8 | b[6];
	uint32_t qnum = (uint32_t)b[7] << 24 | (uint32_t)b[8] << 16 | (uint32_t)b[9] << 8 | b[10];
	struct vnc *v = cl->screen->screenData;
	input_qemu_key(&v->input, down, keysym, qnum);
	return TRUE;
}

static rfbProtocolExtension qemu_ext = {
    .newClient = ext_new_client,
    .pseudoEncodings = qemu_encodings,
    .enablePseudoEncoding = qemu_enable,
    .handleMessage = qemu_message,
};

/*
 * The browser's keyboard layout (docs/session.md): a client that includes our pseudo-encoding
 * VNC_ENCODING_KBD_HINT is told we understand (a pseudo-rectangle, as for QEMU keys) and may
 * then send message VNC_MSG_KBD_HINT: u8 type, u8 padding, u16 length, that many bytes of an
 * XKB layout name ("de", "us(intl)"). We put it on the root window as _ARGOBOX_KBD_HINT for
 * the window manager, which takes it when the user has no layout yet (wm/kbd.c).
 */
static int kbd_encodings[] = {(int)VNC_ENCODING_KBD_HINT, 0};

static rfbBool
kbd_enable(rfbClientPtr cl, void **data, int enc)
{
	return ext_enable(cl, enc, (int)VNC_ENCODING_KBD_HINT);
}

/* [a-z]{2,12} with an optional "(variant)" of [a-z0-9_]: what lib/deskstate accepts */
static bool
kbd_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz");
	if (n < 2 || n > 12)
		return false;
	if (!s[n])
		return true;
	size_t v = strspn(s + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789_");
	return s[n] == '(' && v >= 1 && s[n + 1 + v] == ')' && !s[n + 2 + v];
}

static rfbBool
kbd_message(rfbClientPtr cl, void *data, const rfbClientToServerMsg *m)
{
	if (m->type != VNC_MSG_KBD_HINT)
		return FALSE;
	unsigned char hdr[3];
	char name[VNC_KBD_HINT_MAX + 1];
	if (!ext_read(cl, hdr, sizeof(hdr)))
		return TRUE;
	size_t len = (size_t)hdr[1] << 8 | hdr[2];
	if (len > VNC_KBD_HINT_MAX) {
		rfbErr("client sent a keyboard layout of %zu bytes, dropping it\n", len);
		rfbCloseClient(cl);
		return TRUE;
	}
	if (len && !ext_read(cl, name, len))
		return TRUE;
	name[len] = 0;
	if (!kbd_name_ok(name)) {
		ab_warn("keyboard: ignoring the client's layout: not an XKB layout name");
		return TRUE;
	}
	struct vnc *v = cl->screen->screenData;
	XChangeProperty(v->dpy, v->root, XInternAtom(v->dpy, "_ARGOBOX_KBD_HINT", False),
	                XInternAtom(v->dpy, "UTF8_STRING", False), 8, PropModeReplace,
	                (unsigned char *)name, (int)len);
	XFlush(v->dpy);
	ab_info("keyboard: the client's layout is '%s'", name);
	return TRUE;
}

static rfbProtocolExtension kbd_ext = {
    .newClient = ext_new_client,
    .pseudoEncodings = kbd_encodings,
    .enablePseudoEncoding = kbd_enable,
    .handleMessage = kbd_message,
};

/* ---- clients ---- */

static void
client_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	/* Reading happens in rfbProcessEvents() after the round (vnc_process). */
}

static void
client_gone(rfbClientPtr cl)
{
	struct vnc_client *vc = cl->clientData;
	if (!vc)
		return;
	struct vnc *v = vc->v;
	ab_loop_unwatch(v->loop, vc->watch);
	if (vc->clip_offered) /* what it offered will not come */
		clipboard_offer_cancel(&v->clip);
	zrle_enc_free(vc->zrle);
	tight_enc_free(vc->tight);
	if (vc->lossy) {
		sraRgnDestroy(vc->lossy);
		sraRgnDestroy(vc->lossy_recent);
	}
	if (vc->refine)
		sraRgnDestroy(vc->refine);
	free(vc->tbuf);
	free(vc);
	cl->clientData = NULL;
	v->nclients--;
	ab_info("RFB client left (%d connected)", v->nclients);
	if (v->nclients == 0 && !v->x_broken)
		input_release_all(&v->input);
}

/*
 * After a client's first update (its encodings are known by then), it gets
 * the current X clipboard. libvncserver only offers a broadcast, so the
 * others receive the same text again, which changes nothing for them.
 */
static void
display_finished_cb(rfbClientPtr cl, int result)
{
	struct vnc_client *vc = cl->clientData;
	if (!vc || vc->greeted)
		return;
	vc->greeted = true;
	struct vnc *v = vc->v;
	if (v->clip.last_sent && v->clip.last_sent_len)
		clip_send_to(v, cl, v->clip.last_sent, v->clip.last_sent_len);
}

static enum rfbNewClientAction
new_client_cb(rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	if (v->nclients >= v->cfg->max_clients) {
		ab_warn("refusing RFB client: %d already connected", v->nclients);
		return RFB_CLIENT_REFUSE;
	}
	struct vnc_client *vc = ab_xcalloc(1, sizeof(*vc));
	vc->v = v;
	vc->watch = ab_loop_watch(v->loop, cl->sock, AB_LOOP_READ, client_io, vc);
	cl->clientData = vc;
	cl->clientGoneHook = client_gone;
	cl->tightQualityLevel = (int)v->cfg->jpeg_quality;
	v->nclients++;
	ab_info("RFB client connected (%d connected)", v->nclients);
	return RFB_CLIENT_ACCEPT;
}

static void
accept_cb(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct vnc *v = data;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			return;
		if (c >= FD_SETSIZE) { /* libvncserver select()s */
			close(c);
			continue;
		}
		/* rfbNewClient sends the greeting and calls new_client_cb (or closes c). */
		rfbNewClient(v->screen, c);
		return;
	}
}

/* ---- X events ---- */

static void
update_cursor(struct vnc *v)
{
	XFixesCursorImage *ci = XFixesGetCursorImage(v->dpy);
	if (!ci)
		return;
	int w = ci->width, h = ci->height;
	if (w <= 0 || h <= 0 || w > 256 || h > 256) {
		XFree(ci);
		return;
	}
	rfbCursorPtr c = ab_xcalloc(1, sizeof(*c));
	c->width = (unsigned short)w;
	c->height = (unsigned short)h;
	c->xhot = (unsigned short)AB_MIN(ci->xhot, (unsigned short)(w - 1));
	c->yhot = (unsigned short)AB_MIN(ci->yhot, (unsigned short)(h - 1));
	c->richSource = ab_xmalloc((size_t)w * h * 4);
	c->alphaSource = ab_xmalloc((size_t)w * h);
	for (int i = 0; i < w * h; i++) {
		unsigned long p = ci->pixels[i]; /* premultiplied ARGB in a long */
		unsigned a = (p >> 24) & 0xff, r = (p >> 16) & 0xff, g = (p >> 8) & 0xff,
		         b = p & 0xff;
		if (a && a < 255) {
			r = AB_MIN(255u, r * 255 / a);
			g = AB_MIN(255u, g * 255 / a);
			b = AB_MIN(255u, b * 255 / a);
		}
		/* server pixel format: 32 bpp little endian, red at bits 16..23 */
		c->richSource[i * 4 + 0] = (unsigned char)b;
		c->richSource[i * 4 + 1] = (unsigned char)g;
		c->richSource[i * 4 + 2] = (unsigned char)r;
		c->richSource[i * 4 + 3] = 0;
		c->alphaSource[i] = (unsigned char)a;
	}
	c->mask = (unsigned char *)rfbMakeMaskFromAlphaSource(w, h, c->alphaSource);
	c->cleanup = TRUE;
	c->cleanupMask = TRUE;
	c->cleanupRichSource = TRUE;
	c->cleanupSource = TRUE;
	XFree(ci);
	rfbSetCursor(v->screen, c);
}

/* ---- top-level windows: the moves the X server reports are CopyRect candidates ---- */

static struct vnc_win *
win_find(struct vnc *v, unsigned long id)
{
	for (int i = 0; i < v->nwins; i++)
		if (v->wins[i].id == id)
			return &v->wins[i];
	return NULL;
}

static struct vnc_win *
win_add(struct vnc *v, unsigned long id, int x, int y, int w, int h)
{
	struct vnc_win *win = win_find(v, id);
	if (!win) {
		if (v->nwins == v->wins_cap) {
			v->wins_cap = v->wins_cap ? v->wins_cap * 2 : 32;
			v->wins = ab_xrealloc(v->wins, (size_t)v->wins_cap * sizeof(*v->wins));
		}
		win = &v->wins[v->nwins++];
		*win = (struct vnc_win){.id = id, .px = x, .py = y};
	}
	win->x = x;
	win->y = y;
	win->w = w;
	win->h = h;
	return win;
}

static void
win_remove(struct vnc *v, unsigned long id)
{
	struct vnc_win *win = win_find(v, id);
	if (win)
		*win = v->wins[--v->nwins];
}

static void
wins_load(struct vnc *v)
{
	Window root, parent, *kids = NULL;
	unsigned n = 0;
	if (!XQueryTree(v->dpy, v->root, &root, &parent, &kids, &n))
		return;
	for (unsigned i = 0; i < n; i++) {
		XWindowAttributes a;
		if (!XGetWindowAttributes(v->dpy, kids[i], &a))
			continue;
		struct vnc_win *w = win_add(v, kids[i], a.x, a.y, a.width + 2 * a.border_width,
		                            a.height + 2 * a.border_width);
		w->mapped = w->pmapped = a.map_state == IsViewable;
	}
	if (kids)
		XFree(kids);
}

/* SubstructureNotify on the root window keeps v->wins current. Returns true if it was one. */
static bool
wins_handle_event(struct vnc *v, XEvent *ev)
{
	struct vnc_win *w;
	switch (ev->type) {
	case CreateNotify:
		if (ev->xcreatewindow.parent == v->root)
			win_add(v, ev->xcreatewindow.window, ev->xcreatewindow.x,
			        ev->xcreatewindow.y,
			        ev->xcreatewindow.width + 2 * ev->xcreatewindow.border_width,
			        ev->xcreatewindow.height + 2 * ev->xcreatewindow.border_width);
		return true;
	case ConfigureNotify:
		if ((w = win_find(v, ev->xconfigure.window))) {
			w->x = ev->xconfigure.x;
			w->y = ev->xconfigure.y;
			w->w = ev->xconfigure.width + 2 * ev->xconfigure.border_width;
			w->h = ev->xconfigure.height + 2 * ev->xconfigure.border_width;
		}
		return true;
	case GravityNotify:
		if ((w = win_find(v, ev->xgravity.window))) {
			w->x = ev->xgravity.x;
			w->y = ev->xgravity.y;
		}
		return true;
	case MapNotify:
		if ((w = win_find(v, ev->xmap.window)))
			w->mapped = true;
		return true;
	case UnmapNotify:
		if ((w = win_find(v, ev->xunmap.window)))
			w->mapped = false;
		return true;
	case DestroyNotify:
		win_remove(v, ev->xdestroywindow.window);
		return true;
	case ReparentNotify:
		if (ev->xreparent.parent == v->root) {
			XWindowAttributes a; /* rare (a window manager leaving): ask */
			if (XGetWindowAttributes(v->dpy, ev->xreparent.window, &a)) {
				w = win_add(v, ev->xreparent.window, a.x, a.y,
				            a.width + 2 * a.border_width,
				            a.height + 2 * a.border_width);
				w->mapped = a.map_state == IsViewable;
			}
		} else {
			win_remove(v, ev->xreparent.window);
		}
		return true;
	default:
		return false;
	}
}

/*
 * The largest window that moved since the last damage pass, while mapped at
 * both: if its pixels arrived unchanged at the new place (the shadow holds
 * the old place), they go out as one CopyRect. Returns true when scheduled.
 */
static bool
copy_moved_window(struct vnc *v, const uint8_t *cur, size_t stride, int *ret_dx, int *ret_dy,
                  struct fbdiff_rect *ret_band)
{
	struct vnc_win *best = NULL;
	long best_area = 0;
	for (int i = 0; i < v->nwins; i++) {
		struct vnc_win *w = &v->wins[i];
		if (!w->mapped || !w->pmapped || (w->x == w->px && w->y == w->py))
			continue;
		if ((long)w->w * w->h > best_area) {
			best = w;
			best_area = (long)w->w * w->h;
		}
	}
	if (!best)
		return false;
	int dx = best->x - best->px, dy = best->y - best->py;
	/* the window's new place, on screen, whose old place is on screen too */
	struct fbdiff_rect dst = {AB_MAX(best->x, AB_MAX(0, dx)), AB_MAX(best->y, AB_MAX(0, dy)),
	                          AB_MIN(best->x + best->w, AB_MIN(v->width, v->width + dx)),
	                          AB_MIN(best->y + best->h, AB_MIN(v->height, v->height + dy))};
	if (dst.x2 - dst.x1 <= 0 || dst.y2 - dst.y1 <= 0 ||
	    (long)(dst.x2 - dst.x1) * (dst.y2 - dst.y1) < VNC_MOVE_MIN_AREA ||
	    fbdiff_sample_shift(v->shadow, v->sstride, cur, stride, &dst, dx, dy,
	                        VNC_MOVE_SAMPLES) < VNC_MOVE_SAMPLES / 2)
		return false;
	/*
	 * Most of it arrived unchanged: the clients copy the whole place and the
	 * shadow does the same, comparing each moved row with the screen on the
	 * way (one pass). Rows that differ (drawn during the move, or under
	 * another window) are left to the damage pass below, which sends them
	 * after the CopyRect; the rows that match are known equal and skipped.
	 */
	int y1 = 0, y2 = 0;
	int bad = fbdiff_shift_compare(v->shadow, v->sstride, cur, stride, &dst, dx, dy, &y1, &y2);
	rfbScheduleCopyRect(v->screen, dst.x1, dst.y1, dst.x2, dst.y2, dx, dy);
	lossy_copy(v, &dst, dx, dy);
	v->stats.window_moves++;
	*ret_dx = dx;
	*ret_dy = dy;
	*ret_band = dst;
	if (bad) { /* the larger clean band, above or below the rows that differ */
		if (y1 - dst.y1 >= dst.y2 - y2)
			ret_band->y2 = y1;
		else
			ret_band->y1 = y2;
	}
	return true;
}

static void
mark_cb(void *data, const struct fbdiff_rect *r)
{
	struct vnc *v = data;
	v->fb_gen++;
	rfbMarkRectAsModified(v->screen, r->x1, r->y1, r->x2, r->y2);
}

static void handle_x_event(struct vnc *v, XEvent *ev);

/*
 * Damage is a hint: the shadow (what clients are sent) is compared with
 * Xvfb's screen over the damaged area, scrolls become CopyRect, and only the
 * pixels that really changed are marked modified.
 */
static void
process_damage(struct vnc *v)
{
	/*
	 * A window moved (its ConfigureNotify came before the damage): hold the
	 * other X clients for this pass, so the framebuffer, the damage and the
	 * window positions we read agree (a drag keeps moving it meanwhile).
	 */
	bool grab = false;
	for (int i = 0; i < v->nwins && !grab; i++)
		grab = v->wins[i].mapped &&
		       (v->wins[i].x != v->wins[i].px || v->wins[i].y != v->wins[i].py);
	if (grab)
		XGrabServer(v->dpy);
	XserverRegion region = XFixesCreateRegion(v->dpy, NULL, 0);
	XDamageSubtract(v->dpy, v->damage, None, region);
	int n = 0;
	XRectangle *rects = XFixesFetchRegion(v->dpy, region, &n);
	XFixesDestroyRegion(v->dpy, region);
	/*
	 * The events the X server sent before that reply are queued now: take
	 * them, so window positions are as recent as the damage (the moves of a
	 * drag arrive in bursts).
	 */
	while (XEventsQueued(v->dpy, QueuedAlready) > 0) {
		XEvent ev;
		XNextEvent(v->dpy, &ev);
		handle_x_event(v, &ev);
	}
	const uint8_t *cur = (const uint8_t *)v->xvfb->pixels;
	size_t stride = (size_t)v->xvfb->bytes_per_line;
	struct fbdiff_rect box = {v->width, v->height, 0, 0};
	for (int i = 0; i < n; i++) {
		box.x1 = AB_MIN(box.x1, AB_MAX(0, rects[i].x));
		box.y1 = AB_MIN(box.y1, AB_MAX(0, rects[i].y));
		box.x2 = AB_MAX(box.x2, AB_MIN(v->width, rects[i].x + rects[i].width));
		box.y2 = AB_MAX(box.y2, AB_MIN(v->height, rects[i].y + rects[i].height));
	}
	struct fbdiff_rect band;
	struct fbdiff_rect same = {0, 0, 0, 0}; /* known equal to the shadow: not compared */
	int dx = 0, dy = 0;
	if (copy_moved_window(v, cur, stride, &dx, &dy, &band)) {
		/* exact: the X server said where the window went */
		same = band;
	} else if (box.x2 - box.x1 >= VNC_SCROLL_MIN_WIDTH &&
	           box.y2 - box.y1 >= VNC_SCROLL_MIN_ROWS &&
	           fbdiff_find_vscroll(v->shadow, v->sstride, cur, stride, &box,
	                               VNC_SCROLL_MIN_ROWS, &dy, &band) > 0) {
		/* the clients copy the same rows of what they were sent as we do here */
		fbdiff_shift_rows(v->shadow, v->sstride, &band, dy);
		rfbScheduleCopyRect(v->screen, band.x1, band.y1, band.x2, band.y2, 0, dy);
		lossy_copy(v, &band, 0, dy);
		v->stats.copies++;
	} else if (box.x2 - box.x1 >= VNC_SCROLL_MIN_WIDTH &&
	           (long)(box.x2 - box.x1) * (box.y2 - box.y1) >= VNC_MOVE_MIN_AREA * 2 &&
	           fbdiff_find_move(v->shadow, v->sstride, cur, stride, &box, VNC_MOVE_MIN_AREA,
	                            n >= 2 ? v->height : 0, &dx, &dy, &band) > 0) {
		/*
		 * A dragged block. Its damage is the old and the new place: 2+
		 * rects, or one for a sideways move. In a terminal's redraw (one
		 * rect) chance matches of text blocks cost more than they save.
		 */
		fbdiff_move_rect(v->shadow, v->sstride, &band, dx, dy);
		rfbScheduleCopyRect(v->screen, band.x1, band.y1, band.x2, band.y2, dx, dy);
		lossy_copy(v, &band, dx, dy);
		v->stats.moves++;
	} else {
		dx = dy = 0;
	}
	ab_debug("damage: %d rects, box %d,%d-%d,%d, copy %d,%d", n, box.x1, box.y1, box.x2, box.y2,
	         dx, dy);
	for (int i = 0; i < n; i++) {
		struct fbdiff_rect r = {AB_MAX(0, rects[i].x), AB_MAX(0, rects[i].y),
		                        AB_MIN(v->width, rects[i].x + rects[i].width),
		                        AB_MIN(v->height, rects[i].y + rects[i].height)};
		if (r.x2 <= r.x1 || r.y2 <= r.y1)
			continue;
		v->stats.damaged_px += (long long)(r.x2 - r.x1) * (r.y2 - r.y1);
		struct fbdiff_rect parts[4];
		int np = fbdiff_subtract(&r, &same, parts);
		for (int k = 0; k < np; k++)
			v->stats.changed_px += fbdiff_update(v->shadow, v->sstride, cur, stride,
			                                     &parts[k], mark_cb, v);
	}
	if (rects)
		XFree(rects);
	if (grab)
		XUngrabServer(v->dpy); /* flushed at the end of vnc_process() */
	for (int i = 0; i < v->nwins; i++) {
		v->wins[i].px = v->wins[i].x;
		v->wins[i].py = v->wins[i].y;
		v->wins[i].pmapped = v->wins[i].mapped;
	}
}

static void
handle_x_event(struct vnc *v, XEvent *ev)
{
	if (ev->type == v->damage_event + XDamageNotify) {
		v->damaged = true;
		return;
	}
	if (ev->type == v->xfixes_event + XFixesCursorNotify) {
		v->cursor_changed = true;
		return;
	}
	if (ev->type == v->randr_event + RRScreenChangeNotify) {
		XRRUpdateConfiguration(ev);
		/* events also report intermediate sizes: follow the current one */
		Window r;
		int x, y;
		unsigned w, h, bw, depth;
		if (XGetGeometry(v->dpy, v->root, &r, &x, &y, &w, &h, &bw, &depth) &&
		    (int)w <= v->xvfb->max_width && (int)h <= v->xvfb->max_height)
			fb_follow(v, (int)w, (int)h);
		return;
	}
	if (ev->type == MappingNotify) {
		/* the window manager loaded another layout: keysym input maps through it */
		XRefreshKeyboardMapping(&ev->xmapping);
		if (ev->xmapping.request == MappingKeyboard)
			input_keymap_changed(&v->input);
		return;
	}
	if (wins_handle_event(v, ev))
		return;
	if (clipboard_handle_event(&v->clip, ev))
		return;
}

static void
x_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	/* Events are read in vnc_process(), which runs after every round. */
}

static int64_t
damage_timer_cb(struct ab_loop *loop, void *data)
{
	struct vnc *v = data;
	v->damage_timer = NULL;
	return AB_TIMER_STOP; /* vnc_process() runs after this round and takes the damage */
}

/*
 * Lossless refinement: every VNC_REFINE_MS while some client shows JPEG
 * pixels, the parts of them that were not sent again since the last tick
 * (they stopped changing) are marked modified for that client alone and go
 * out through Tight without JPEG (rfbSendRectEncodingTight), so the picture
 * converges to the exact screen, as TigerVNC's does. No client with lossy
 * pixels left: no timer, nothing runs.
 */
static int64_t
refine_tick(struct ab_loop *loop, void *data)
{
	struct vnc *v = data;
	bool again = false;
	rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
	rfbClientPtr cl;
	while ((cl = rfbClientIteratorNext(it))) {
		struct vnc_client *vc = cl->clientData;
		if (!vc || !vc->lossy || sraRgnEmpty(vc->lossy))
			continue;
		sraRegionPtr quiet = sraRgnCreateRgn(vc->lossy);
		sraRgnSubtract(quiet, vc->lossy_recent);
		again = again || !sraRgnEmpty(vc->lossy_recent);
		sraRgnMakeEmpty(vc->lossy_recent);
		if (!sraRgnEmpty(quiet)) {
			if (!vc->refine)
				vc->refine = sraRgnCreate();
			sraRgnOr(vc->refine, quiet);
			sraRgnOr(cl->modifiedRegion, quiet);
			v->stats.refines++;
		}
		sraRgnDestroy(quiet);
	}
	rfbReleaseClientIterator(it);
	if (again)
		return VNC_REFINE_MS;
	v->refine_timer = NULL;
	return AB_TIMER_STOP; /* vnc_process() sends what was marked after this round */
}

static void
refine_arm(struct vnc *v)
{
	if (!v->refine_timer)
		v->refine_timer = ab_loop_timer(v->loop, VNC_REFINE_MS, refine_tick, v);
}

/*
 * A CopyRect of dst from dst - (dx, dy) was scheduled for every client: what
 * a client showed lossy there moves along, and the rest of dst becomes exact.
 */
static void
lossy_copy(struct vnc *v, const struct fbdiff_rect *dst, int dx, int dy)
{
	v->fb_gen++; /* the shadow moved too */
	rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
	rfbClientPtr cl;
	while ((cl = rfbClientIteratorNext(it))) {
		struct vnc_client *vc = cl->clientData;
		if (!vc || !vc->lossy || sraRgnEmpty(vc->lossy))
			continue;
		sraRegionPtr moved =
		    sraRgnCreateRect(dst->x1 - dx, dst->y1 - dy, dst->x2 - dx, dst->y2 - dy);
		sraRgnAnd(moved, vc->lossy);
		sraRgnOffset(moved, dx, dy);
		sraRegionPtr d = sraRgnCreateRect(dst->x1, dst->y1, dst->x2, dst->y2);
		sraRgnSubtract(vc->lossy, d);
		sraRgnDestroy(d);
		if (!sraRgnEmpty(moved)) {
			sraRgnOr(vc->lossy, moved);
			sraRgnOr(vc->lossy_recent, moved);
			refine_arm(v);
		}
		sraRgnDestroy(moved);
	}
	rfbReleaseClientIterator(it);
}

/*
 * At most cfg->max_fps damage passes a second (as TigerVNC's FrameRate): a
 * change after a quiet spell is taken at once, a stream of changes (a
 * scrolling terminal, a drag) is collected into fewer, fuller updates.
 */
static bool
damage_due(struct vnc *v)
{
	int64_t now = ab_now_ms(), gap = 1000 / v->cfg->max_fps;
	if (now - v->last_damage_ms >= gap) {
		v->last_damage_ms = now;
		return true;
	}
	if (!v->damage_timer)
		v->damage_timer =
		    ab_loop_timer(v->loop, gap - (now - v->last_damage_ms), damage_timer_cb, v);
	return false;
}

void
vnc_process(struct vnc *v)
{
	if (!v->dpy)
		return;
	do {
		while (XPending(v->dpy)) {
			XEvent ev;
			XNextEvent(v->dpy, &ev);
			handle_x_event(v, &ev);
		}
		if (v->cursor_changed) {
			v->cursor_changed = false;
			update_cursor(v);
		}
		if (v->damaged && damage_due(v)) {
			v->damaged = false;
			process_damage(v);
		}
		rfbProcessEvents(v->screen, 0);
		XFlush(v->dpy);
		/*
		 * A damage pass reads the events queued before its damage reply
		 * (window positions): damage and cursor changes among them are
		 * taken now or by the timer, never left waiting for an event that
		 * ReportNonEmpty damage does not send again.
		 */
	} while (XEventsQueued(v->dpy, QueuedAlready) > 0 || v->cursor_changed ||
	         (v->damaged && !v->damage_timer));
}

int
vnc_open(struct vnc *v, const struct session_config *cfg, struct ab_loop *loop, struct xvfb *xvfb,
         const char *dir, struct ab_err *err)
{
	memset(v, 0, sizeof(*v));
	v->cfg = cfg;
	v->loop = loop;
	v->xvfb = xvfb;
	v->listen_fd = -1;
	the_vnc = v;
	char name[32];
	snprintf(name, sizeof(name), ":%d", xvfb->display);
	XSetErrorHandler(x_error_handler);
	XSetIOErrorHandler(x_io_error_handler);
	v->dpy = XOpenDisplay(name);
	if (!v->dpy)
		return ab_err_set(err, EIO, "cannot open X display '%s'", name);
	v->root = DefaultRootWindow(v->dpy);
	int ev, er, maj, min;
	if (!XDamageQueryExtension(v->dpy, &ev, &er))
		return ab_err_set(err, ENOTSUP, "X server lacks DAMAGE");
	v->damage_event = ev;
	if (!XFixesQueryExtension(v->dpy, &ev, &er))
		return ab_err_set(err, ENOTSUP, "X server lacks XFIXES");
	v->xfixes_event = ev;
	if (!XRRQueryExtension(v->dpy, &ev, &er))
		return ab_err_set(err, ENOTSUP, "X server lacks RANDR");
	v->randr_event = ev;
	if (!XTestQueryExtension(v->dpy, &ev, &er, &maj, &min))
		return ab_err_set(err, ENOTSUP, "X server lacks XTEST");

	int r = xvfb_map(xvfb, err);
	if (r < 0)
		return r;

	/* the visible size within the maximal screen */
	int w = (int)cfg->width, h = (int)cfg->height;
	if (w != xvfb->max_width || h != xvfb->max_height) {
		if (x_resize(v, w, h) < 0)
			return ab_err_set(err, EIO, "setting the initial size %dx%d with RandR", w,
			                  h);
	}
	v->width = w;
	v->height = h;

	XRRSelectInput(v->dpy, v->root, RRScreenChangeNotifyMask);
	XSelectInput(v->dpy, v->root, SubstructureNotifyMask);
	wins_load(v);
	v->damage = XDamageCreate(v->dpy, v->root, XDamageReportNonEmpty);
	XFixesSelectCursorInput(v->dpy, v->root, XFixesDisplayCursorNotifyMask);
	input_init(&v->input, v->dpy);
	clipboard_init(&v->clip, v->dpy, (size_t)cfg->clipboard_max, clip_send, v);
	XSync(v->dpy, False);

	rfbLog = rfb_log;
	rfbErr = rfb_err;
	rfbMaxClientWait = (int)cfg->client_wait_ms;
	rfbRegisterProtocolExtension(&qemu_ext);
	rfbRegisterProtocolExtension(&kbd_ext);

	/* clients are sent the shadow, which only changes where we mark it (fbdiff.h) */
	shadow_sync(v, w, h);

	int argc = 1;
	char *argv[] = {"argobox-session", NULL};
	rfbScreenInfoPtr s = rfbGetScreen(&argc, argv, w, h, 8, 3, 4);
	if (!s)
		return ab_err_set(err, ENOMEM, "rfbGetScreen failed");
	v->screen = s;
	s->screenData = v;
	s->frameBuffer = (char *)v->shadow;
	s->paddedWidthInBytes = (int)v->sstride;
	set_server_format(s);
	s->desktopName = "ArgoBox";
	s->alwaysShared = TRUE;
	s->deferUpdateTime = 0;
	s->autoPort = FALSE;
	s->port = -1;
	s->ipv6port = -1;
	s->httpPort = -1;
	s->http6Port = -1;
	s->kbdAddEvent = kbd_cb;
	s->ptrAddEvent = ptr_cb;
	s->newClientHook = new_client_cb;
	s->setDesktopSizeHook = desktop_size_cb;
	s->displayFinishedHook = display_finished_cb;
	s->ignoreSIGPIPE = TRUE;
	/* read every queued message per round, not one (key bursts, less latency) */
	s->handleEventsEagerly = TRUE;
	/* We listen ourselves: keep libvncserver from opening TCP sockets. */
	s->socketState = RFB_SOCKET_READY;
	FD_ZERO(&s->allFds);
	s->maxFd = -1;
	rfbInitServer(s);
	update_cursor(v);

	_cleanup_free_ char *path = ab_xasprintf("%s/rfb.sock", dir);
	int fd = ab_unix_listen(path, 0600, err);
	if (fd < 0)
		return ab_err_wrap(err, "RFB socket");
	v->listen_fd = fd;
	v->lwatch = ab_loop_watch(loop, fd, AB_LOOP_READ, accept_cb, v);
	v->xwatch = ab_loop_watch(loop, ConnectionNumber(v->dpy), AB_LOOP_READ, x_io, v);
	ab_info("serving %dx%d on '%s'", w, h, path);
	return 0;
}

void
vnc_close(struct vnc *v)
{
	if (v->stats.damaged_px)
		ab_info("damage: %lld px reported, %lld px changed; CopyRect for %lld scrolls, "
		        "%lld moves, %lld window moves; %lld lossless refinements; %lld first "
		        "frames from the cache",
		        v->stats.damaged_px, v->stats.changed_px, v->stats.copies, v->stats.moves,
		        v->stats.window_moves, v->stats.refines, v->stats.ff_hits);
	if (v->screen) {
		rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
		rfbClientPtr cl;
		while ((cl = rfbClientIteratorNext(it)))
			rfbCloseClient(cl);
		rfbReleaseClientIterator(it);
		/* closed clients are freed (client_gone) by one more round */
		rfbProcessEvents(v->screen, 0);
		rfbShutdownServer(v->screen, TRUE);
		rfbScreenCleanup(v->screen);
		v->screen = NULL;
	}
	if (v->damage_timer)
		ab_loop_timer_cancel(v->loop, v->damage_timer);
	v->damage_timer = NULL;
	if (v->refine_timer)
		ab_loop_timer_cancel(v->loop, v->refine_timer);
	v->refine_timer = NULL;
	if (v->clip_timer)
		ab_loop_timer_cancel(v->loop, v->clip_timer);
	v->clip_timer = NULL;
	ab_loop_unwatch(v->loop, v->lwatch);
	ab_loop_unwatch(v->loop, v->xwatch);
	v->lwatch = v->xwatch = NULL;
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	v->listen_fd = -1;
	clipboard_free(&v->clip);
	free(v->shadow);
	v->shadow = NULL;
	free(v->ff.bytes);
	tight_enc_free(v->ff.enc);
	if (v->ff.lossy)
		sraRgnDestroy(v->ff.lossy);
	memset(&v->ff, 0, sizeof(v->ff));
	free(v->wins);
	v->wins = NULL;
	v->nwins = v->wins_cap = 0;
	if (v->dpy)
		XCloseDisplay(v->dpy);
	v->dpy = NULL;
}
