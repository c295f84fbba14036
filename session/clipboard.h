/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * clipboard: X selections (CLIPBOARD and PRIMARY) <-> RFB cut text, UTF-8.
 *
 * Client -> X: the text becomes ours to serve on both selections (answering
 * TARGETS, UTF8_STRING, STRING, TEXT). X -> client: XFixes tells us when
 * another program takes a selection; we convert it to UTF8_STRING (falling
 * back to STRING) and hand the text to `send`, which relays it to RFB
 * clients (extended clipboard as UTF-8, classic cut text as Latin-1).
 * INCR transfers from X owners are read up to `max`.
 *
 * An extended-clipboard client first only says it has text (notify) and sends
 * it when asked: clipboard_client_offer() takes the selections at once and
 * holds X requests for the data until clipboard_from_client() brings it (or
 * clipboard_offer_cancel() gives up), so a paste keyed right after the offer
 * gets the new text, never the old.
 */
#ifndef SESSION_CLIPBOARD_H
#define SESSION_CLIPBOARD_H

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stddef.h>

#define CLIPBOARD_HELD_MAX 16

typedef void (*clipboard_send_fn)(const char *utf8, size_t len, void *data);

struct clipboard {
	Display *dpy;
	Window win;
	int xfixes_event;
	size_t max;
	char *text; /* what we own, UTF-8 */
	size_t text_len;
	char *last_sent; /* last text relayed to clients (avoids echo and duplicates) */
	size_t last_sent_len;
	Atom clipboard, primary, targets, utf8, string, text_atom, mime, incr, prop;
	clipboard_send_fn send;
	void *data;
	/* an INCR transfer from an X owner in progress */
	bool incr_active, incr_over; /* over: exceeded max, read on and discard */
	Atom incr_type;
	char *incr_buf;
	size_t incr_len;
	/* a client offered text that has not arrived: data requests wait in `held` */
	bool pending;
	XSelectionRequestEvent held[CLIPBOARD_HELD_MAX];
	int nheld;
};

void clipboard_init(struct clipboard *cb, Display *dpy, size_t max, clipboard_send_fn send,
                    void *data);
void clipboard_free(struct clipboard *cb);
/* Text from an RFB client (UTF-8). Invalid UTF-8 is rejected. */
void clipboard_from_client(struct clipboard *cb, const char *utf8, size_t len);
/* A client has text and will send it: own the selections, hold requests until it comes. */
void clipboard_client_offer(struct clipboard *cb);
/* The offered text will not come: held requests are refused. No-op when none is pending. */
void clipboard_offer_cancel(struct clipboard *cb);
/* Returns true when ev was a clipboard event (and handled it). */
bool clipboard_handle_event(struct clipboard *cb, XEvent *ev);

/* Latin-1 -> UTF-8 and UTF-8 -> Latin-1 ('?' for what Latin-1 lacks). Pure. */
char *clipboard_latin1_to_utf8(const char *s, size_t len, size_t *ret_len);
char *clipboard_utf8_to_latin1(const char *s, size_t len, size_t *ret_len);

#endif
