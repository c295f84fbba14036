/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clipboard.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <X11/extensions/Xfixes.h>
#include <string.h>

char *
clipboard_latin1_to_utf8(const char *s, size_t len, size_t *ret_len)
{
	char *out = ab_xmalloc(len * 2 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			out[o++] = (char)c;
		} else {
			out[o++] = (char)(0xc0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = 0;
	*ret_len = o;
	return out;
}

char *
clipboard_utf8_to_latin1(const char *s, size_t len, size_t *ret_len)
{
	char *out = ab_xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		unsigned cp;
		size_t n;
		if (c < 0x80) {
			cp = c;
			n = 1;
		} else if ((c & 0xe0) == 0xc0 && i + 1 < len) {
			cp = (unsigned)(c & 0x1f) << 6 | ((unsigned char)s[i + 1] & 0x3f);
			n = 2;
		} else if ((c & 0xf0) == 0xe0) {
			cp = 0x100;
			n = 3;
		} else if ((c & 0xf8) == 0xf0) {
			cp = 0x100;
			n = 4;
		} else {
			cp = '?';
			n = 1;
		}
		out[o++] = cp <= 0xff ? (char)cp : '?';
		i += n;
	}
	out[o] = 0;
	*ret_len = o;
	return out;
}

void
clipboard_init(struct clipboard *cb, Display *dpy, size_t max, clipboard_send_fn send, void *data)
{
	memset(cb, 0, sizeof(*cb));
	cb->dpy = dpy;
	cb->max = max;
	cb->send = send;
	cb->data = data;
	cb->win = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), -10, -10, 1, 1, 0, 0, 0);
	/* INCR transfers arrive as PropertyNotify on our window */
	XSelectInput(dpy, cb->win, PropertyChangeMask);
	cb->clipboard = XInternAtom(dpy, "CLIPBOARD", False);
	cb->primary = XA_PRIMARY;
	cb->targets = XInternAtom(dpy, "TARGETS", False);
	cb->utf8 = XInternAtom(dpy, "UTF8_STRING", False);
	cb->string = XA_STRING;
	cb->text_atom = XInternAtom(dpy, "TEXT", False);
	cb->mime = XInternAtom(dpy, "text/plain;charset=utf-8", False);
	cb->incr = XInternAtom(dpy, "INCR", False);
	cb->prop = XInternAtom(dpy, "ARGOBOX_SELECTION", False);
	int ev, er;
	if (XFixesQueryExtension(dpy, &ev, &er)) {
		cb->xfixes_event = ev;
		unsigned long mask = XFixesSetSelectionOwnerNotifyMask;
		XFixesSelectSelectionInput(dpy, DefaultRootWindow(dpy), cb->clipboard, mask);
		XFixesSelectSelectionInput(dpy, DefaultRootWindow(dpy), cb->primary, mask);
	} else {
		cb->xfixes_event = -1;
		ab_warn("clipboard: no XFixes, X -> client clipboard disabled");
	}
}

void
clipboard_free(struct clipboard *cb)
{
	free(cb->text);
	free(cb->last_sent);
	free(cb->incr_buf);
	cb->text = cb->last_sent = cb->incr_buf = NULL;
}

static void answer_request(struct clipboard *cb, XSelectionRequestEvent *rq);

/* Answers (or, text == NULL, refuses) the requests held for an offer. */
static void
release_held(struct clipboard *cb)
{
	cb->pending = false;
	for (int i = 0; i < cb->nheld; i++)
		answer_request(cb, &cb->held[i]);
	cb->nheld = 0;
}

void
clipboard_client_offer(struct clipboard *cb)
{
	cb->pending = true;
	XSetSelectionOwner(cb->dpy, cb->clipboard, cb->win, CurrentTime);
	XSetSelectionOwner(cb->dpy, cb->primary, cb->win, CurrentTime);
	XFlush(cb->dpy);
}

void
clipboard_offer_cancel(struct clipboard *cb)
{
	if (!cb->pending)
		return;
	ab_warn("clipboard: the offered client text did not come, %d request(s) refused",
	        cb->nheld);
	free(cb->text);
	cb->text = NULL;
	cb->text_len = 0;
	release_held(cb);
}

void
clipboard_from_client(struct clipboard *cb, const char *utf8, size_t len)
{
	if (len > cb->max || !ab_utf8_valid(utf8, len)) {
		if (len > cb->max)
			ab_warn("clipboard: ignoring %zu bytes of client text (limit %zu)", len,
			        cb->max);
		else
			ab_warn("clipboard: ignoring client text that is not valid UTF-8");
		clipboard_offer_cancel(cb);
		return;
	}
	free(cb->text);
	cb->text = ab_xstrndup(utf8, len);
	cb->text_len = len;
	/* remember it as "sent", so taking ownership does not echo it back */
	free(cb->last_sent);
	cb->last_sent = ab_xstrndup(utf8, len);
	cb->last_sent_len = len;
	if (cb->pending) {
		release_held(cb); /* we already own the selections */
		XFlush(cb->dpy);
		return;
	}
	XSetSelectionOwner(cb->dpy, cb->clipboard, cb->win, CurrentTime);
	XSetSelectionOwner(cb->dpy, cb->primary, cb->win, CurrentTime);
	XFlush(cb->dpy);
}

static void
answer_request(struct clipboard *cb, XSelectionRequestEvent *rq)
{
	XSelectionEvent ev = {.type = SelectionNotify,
	                      .display = rq->display,
	                      .requestor = rq->requestor,
	                      .selection = rq->selection,
	                      .target = rq->target,
	                      .property = None,
	                      .time = rq->time};
	Atom prop = rq->property != None ? rq->property : rq->target;
	if ((cb->text || cb->pending) && rq->target == cb->targets) {
		Atom list[] = {cb->targets, cb->utf8, cb->string, cb->text_atom, cb->mime};
		XChangeProperty(cb->dpy, rq->requestor, prop, XA_ATOM, 32, PropModeReplace,
		                (unsigned char *)list, (int)AB_ARRAY_SIZE(list));
		ev.property = prop;
	} else if (cb->text && (rq->target == cb->utf8 || rq->target == cb->mime ||
	                        rq->target == cb->text_atom)) {
		XChangeProperty(cb->dpy, rq->requestor, prop,
		                rq->target == cb->text_atom ? cb->utf8 : rq->target, 8,
		                PropModeReplace, (unsigned char *)cb->text, (int)cb->text_len);
		ev.property = prop;
	} else if (cb->text && rq->target == cb->string) {
		size_t n;
		_cleanup_free_ char *l1 = clipboard_utf8_to_latin1(cb->text, cb->text_len, &n);
		XChangeProperty(cb->dpy, rq->requestor, prop, XA_STRING, 8, PropModeReplace,
		                (unsigned char *)l1, (int)n);
		ev.property = prop;
	}
	XSendEvent(cb->dpy, rq->requestor, False, NoEventMask, (XEvent *)&ev);
	XFlush(cb->dpy);
}

static void
relay(struct clipboard *cb, const char *s, size_t n)
{
	if (cb->last_sent && n == cb->last_sent_len && memcmp(s, cb->last_sent, n) == 0)
		return;
	free(cb->last_sent);
	cb->last_sent = ab_xstrndup(s, n);
	cb->last_sent_len = n;
	cb->send(s, n, cb->data);
}

/* relays selection data of `type` (STRING: Latin-1, else UTF-8 if valid) */
static void
relay_data(struct clipboard *cb, Atom type, const char *data, size_t n)
{
	if (type == cb->string) {
		size_t un;
		_cleanup_free_ char *u = clipboard_latin1_to_utf8(data, n, &un);
		relay(cb, u, un);
	} else if (ab_utf8_valid(data, n)) {
		relay(cb, data, n);
	} else {
		ab_warn("clipboard: X selection is not valid UTF-8, not relayed");
	}
}

static void
incr_reset(struct clipboard *cb)
{
	free(cb->incr_buf);
	cb->incr_buf = NULL;
	cb->incr_len = 0;
	cb->incr_active = cb->incr_over = false;
}

static void
read_selection(struct clipboard *cb, XSelectionEvent *se)
{
	if (se->property == None) {
		/* UTF8_STRING refused: try plain STRING */
		if (se->target == cb->utf8)
			XConvertSelection(cb->dpy, se->selection, cb->string, cb->prop, cb->win,
			                  CurrentTime);
		return;
	}
	Atom type;
	int format;
	unsigned long nitems, after;
	unsigned char *data = NULL;
	long max_words = (long)(cb->max / 4 + 1);
	if (XGetWindowProperty(cb->dpy, cb->win, se->property, 0, max_words, True, AnyPropertyType,
	                       &type, &format, &nitems, &after, &data) != Success)
		return;
	if (type == cb->incr) {
		/* deleting the property (done above) asks the owner for the first chunk */
		incr_reset(cb);
		cb->incr_active = true;
		ab_debug("clipboard: incremental transfer started");
	} else if (format != 8 || after > 0) {
		ab_warn("clipboard: X selection larger than %zu bytes, not relayed", cb->max);
	} else {
		relay_data(cb, type, (char *)data, nitems);
	}
	if (data)
		XFree(data);
}

/* One INCR chunk: appended (within cb->max), an empty one ends the transfer. */
static void
read_incr_chunk(struct clipboard *cb)
{
	Atom type;
	int format;
	unsigned long nitems, after;
	unsigned char *data = NULL;
	if (XGetWindowProperty(cb->dpy, cb->win, cb->prop, 0, (long)(cb->max / 4 + 1), True,
	                       AnyPropertyType, &type, &format, &nitems, &after,
	                       &data) != Success) {
		incr_reset(cb);
		return;
	}
	if (nitems == 0 || format != 8) {
		if (cb->incr_over)
			ab_warn("clipboard: X selection larger than %zu bytes, not relayed",
			        cb->max);
		else if (format == 8 || nitems == 0)
			relay_data(cb, cb->incr_type, cb->incr_buf ? cb->incr_buf : "",
			           cb->incr_len);
		incr_reset(cb);
	} else {
		size_t n = (size_t)nitems;
		cb->incr_type = type;
		if (after > 0 || cb->incr_len + n > cb->max) {
			cb->incr_over = true; /* keep deleting so the owner finishes */
			free(cb->incr_buf);
			cb->incr_buf = NULL;
			cb->incr_len = 0;
		}
		if (!cb->incr_over) {
			cb->incr_buf = ab_xrealloc(cb->incr_buf, cb->incr_len + n + 1);
			memcpy(cb->incr_buf + cb->incr_len, data, n);
			cb->incr_len += n;
		}
	}
	if (data)
		XFree(data);
}

bool
clipboard_handle_event(struct clipboard *cb, XEvent *ev)
{
	switch (ev->type) {
	case SelectionRequest:
		/* data waits for an offered text; TARGETS is known already */
		if (cb->pending && ev->xselectionrequest.target != cb->targets &&
		    cb->nheld < CLIPBOARD_HELD_MAX) {
			cb->held[cb->nheld++] = ev->xselectionrequest;
			return true;
		}
		answer_request(cb, &ev->xselectionrequest);
		return true;
	case SelectionClear:
		return true;
	case PropertyNotify:
		if (ev->xproperty.window != cb->win)
			return false;
		if (cb->incr_active && ev->xproperty.atom == cb->prop &&
		    ev->xproperty.state == PropertyNewValue)
			read_incr_chunk(cb);
		return true;
	case SelectionNotify:
		if (ev->xselection.requestor != cb->win)
			return false;
		read_selection(cb, &ev->xselection);
		return true;
	default:
		break;
	}
	if (cb->xfixes_event >= 0 && ev->type == cb->xfixes_event + XFixesSelectionNotify) {
		XFixesSelectionNotifyEvent *se = (XFixesSelectionNotifyEvent *)ev;
		if (se->owner != None && se->owner != cb->win) {
			incr_reset(cb); /* a new owner: an unfinished transfer is over */
			XConvertSelection(cb->dpy, se->selection, cb->utf8, cb->prop, cb->win,
			                  CurrentTime);
		}
		return true;
	}
	return false;
}
