/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * notifycenter: the notification centre behind the taskbar's bell.
 *
 *   - History: every notification the desktop got this session (the last
 *     NC_HISTORY_MAX), read or unread; the bell shows the unread count.
 *   - Do-not-disturb: pop-ups are kept quiet (critical ones still show), the
 *     history is kept; the switch lives in the desktop state's prefs
 *     ("notifications": {"dnd": true}), so it follows the user.
 *   - The newest NC_PERSIST notifications are kept in the same prefs object
 *     (history_time/_title/_body/_urgency/_action: parallel arrays, as prefs
 *     nest three levels at most; bodies cut to PERSIST_BODY bytes), so the
 *     history comes back, read, on the next desktop (nc_restore).
 *   - Click to act: a notification may carry an action ("messages", or
 *     "app:<desktop id>", started only if this desktop may run that app).
 *   - Messages panel: the centre's second tab, the messages other users sent
 *     (broker "message", docs/messages.md), newest first, as plain text; and
 *     writing: R replies to the selected message, N writes a new one (Tab moves
 *     between To and Message, Return sends, Escape drops the draft). A message
 *     goes as {"type":"message_send","id","to","text"} on the control channel
 *     (the session relays it, the broker sends it as the desktop's owner with the
 *     browser's rules) and the answer ("message_answer") shows under the draft:
 *     "Sent to X", or why not (rate limit, block, a demo desktop's rule).
 *
 * Keyboard: Super+N opens/closes the centre; in it Tab/Left/Right switch tabs,
 * Up/Down select, Return acts, Delete removes, D toggles do-not-disturb,
 * C clears the tab, Escape closes. Everything shown is drawn as plain text
 * (pango_layout_set_text: never markup).
 *
 * The root window's _ARGOBOX_NOTIFICATIONS (UTF-8 JSON) mirrors the centre for
 * tools and tests: {"bell_x" (the bell's left edge on the taskbar), "unread", "dnd",
 * "open", "tab", "notifications": [...], "messages": [...]} (newest first, at most 10 of
 * each), "compose": {"open", "field" ("to"/"text"), "to", "text", "status", "sent"}.
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <X11/keysym.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define P_W          400
#define P_H          470
#define ROWS_Y       88
#define ROW_H        58
#define PREF_APP     "notifications"
#define MIRROR_N     10
#define NC_PERSIST   10
#define PERSIST_BODY 200
#define COMPOSE_H    112  /* the draft's box at the bottom of the Messages tab */
#define COMPOSE_MAX  2000 /* bytes of a draft (the broker's own limit is in characters) */

static struct nc_entry hist[NC_HISTORY_MAX]; /* oldest first */
static size_t n_hist;
static struct nc_message msgs[NC_MESSAGES_MAX]; /* oldest first */
static size_t n_msgs;
static uint64_t next_id = 1;
static enum nc_tab tab;
static int bell_x = -1; /* where the taskbar drew the bell (the mirror says, for tests) */
static int sel;         /* row index, newest first */

enum hit_kind {
	HIT_TAB,
	HIT_DND,
	HIT_CLEAR,
	HIT_ROW,
	HIT_MAX,
};

struct hit {
	int x, y, w, h;
	enum hit_kind kind;
	int idx;
};
static struct hit hits[24];
static size_t n_hits;

/* The draft being written in the Messages tab. */
static struct {
	bool open;
	bool on_text; /* the Message field has the keyboard (else To) */
	char to[64];
	char text[COMPOSE_MAX];
	char status[192];
	int64_t pending; /* the id of the message_send waiting for its answer, 0: none */
	int64_t next_id;
	unsigned sent;
} draft;

bool
nc_valid_action(const char *action)
{
	if (!action[0] || strcmp(action, "messages") == 0)
		return true;
	return strncmp(action, "app:", 4) == 0 && deskstate_valid_desktop_id(action + 4);
}

bool
nc_dnd(void)
{
	json_t *p = json_object_get(wm.ds.prefs, PREF_APP);
	return json_is_true(json_object_get(p, "dnd"));
}

size_t
nc_unread(void)
{
	size_t n = 0;
	for (size_t i = 0; i < n_hist; i++)
		n += !hist[i].read;
	return n;
}

/* The mirror on the root window (see the top of the file). */
static void
publish(void)
{
	static Atom prop;
	if (!prop)
		prop = XInternAtom(wm.dpy, "_ARGOBOX_NOTIFICATIONS", False);
	json_t *notes = json_array(), *ms = json_array();
	for (size_t i = n_hist; i-- > 0 && json_array_size(notes) < MIRROR_N;) {
		const struct nc_entry *e = &hist[i];
		json_array_append_new(notes,
		                      json_pack("{sIsssssssssb}", "id", (json_int_t)e->id, "title",
		                                e->title, "body", e->body, "urgency", e->urgency,
		                                "action", e->action, "read", e->read));
	}
	for (size_t i = n_msgs; i-- > 0 && json_array_size(ms) < MIRROR_N;) {
		const struct nc_message *m = &msgs[i];
		json_array_append_new(ms, json_pack("{sssssIsb}", "from", m->from, "text", m->text,
		                                    "time", (json_int_t)m->time, "read", m->read));
	}
	json_t *root =
	    json_pack("{sisIsbsssssoso}", "bell_x", bell_x, "unread", (json_int_t)nc_unread(),
	              "dnd", nc_dnd(), "open", wm.centre_open ? "yes" : "no", "tab",
	              tab == NC_TAB_MESSAGES ? "messages" : "notifications", "notifications", notes,
	              "messages", ms);
	json_object_set_new(root, "compose",
	                    json_pack("{sbsssssssssi}", "open", draft.open, "field",
	                              draft.on_text ? "text" : "to", "to", draft.to, "text",
	                              draft.text, "status", draft.status, "sent", (int)draft.sent));
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text) {
		XChangeProperty(wm.dpy, wm.root, prop, wm.atoms[A_UTF8_STRING], 8, PropModeReplace,
		                (unsigned char *)text, (int)strlen(text));
		free(text);
	}
}

static struct nc_entry *add_entry(const char *title, const char *body, const char *urgency,
                                  const char *action);

/* The desktop state's prefs.notifications, made an object if it is not one (borrowed). */
static json_t *
prefs_app(void)
{
	if (!wm.ds.prefs)
		wm.ds.prefs = json_object();
	json_t *p = json_object_get(wm.ds.prefs, PREF_APP);
	if (!json_is_object(p)) {
		p = json_object();
		json_object_set_new(wm.ds.prefs, PREF_APP, p);
	}
	return p;
}

/* The newest NC_PERSIST entries into prefs.notifications (see the top of the file). */
static void
persist(void)
{
	json_t *p = prefs_app();
	json_t *tm = json_array(), *ti = json_array(), *bo = json_array(), *ur = json_array(),
	       *ac = json_array();
	size_t first = n_hist > NC_PERSIST ? n_hist - NC_PERSIST : 0;
	for (size_t i = first; i < n_hist; i++) {
		char body[PERSIST_BODY + 1];
		size_t bl = AB_MIN(strlen(hist[i].body), (size_t)PERSIST_BODY);
		memcpy(body, hist[i].body, bl);
		body[bl] = '\0';
		deskstate_sanitize_utf8(body); /* a character cut in two */
		json_array_append_new(tm, json_integer(hist[i].time));
		json_array_append_new(ti, json_string(hist[i].title));
		json_array_append_new(bo, json_string(body));
		json_array_append_new(ur, json_string(hist[i].urgency));
		json_array_append_new(ac, json_string(hist[i].action));
	}
	json_object_set_new(p, "history_time", tm);
	json_object_set_new(p, "history_title", ti);
	json_object_set_new(p, "history_body", bo);
	json_object_set_new(p, "history_urgency", ur);
	json_object_set_new(p, "history_action", ac);
	state_changed();
}

void
nc_restore(void)
{
	json_t *p = json_object_get(wm.ds.prefs, PREF_APP);
	json_t *tm = json_object_get(p, "history_time"), *ti = json_object_get(p, "history_title");
	json_t *bo = json_object_get(p, "history_body"),
	       *ur = json_object_get(p, "history_urgency");
	json_t *ac = json_object_get(p, "history_action");
	size_t n = json_array_size(tm);
	if (!n || json_array_size(ti) != n || json_array_size(bo) != n ||
	    json_array_size(ur) != n || json_array_size(ac) != n)
		return;
	for (size_t i = 0; i < n && i < NC_PERSIST; i++) {
		const char *title = json_string_value(json_array_get(ti, i));
		const char *body = json_string_value(json_array_get(bo, i));
		const char *urg = json_string_value(json_array_get(ur, i));
		const char *action = json_string_value(json_array_get(ac, i));
		json_t *t = json_array_get(tm, i);
		if (!title || !body || !urg || !action || !json_is_integer(t) ||
		    (strcmp(urg, "low") && strcmp(urg, "normal") && strcmp(urg, "critical")))
			continue;
		struct nc_entry *e =
		    add_entry(title, body, urg, nc_valid_action(action) ? action : "");
		e->time = json_integer_value(t);
		e->read = true;
	}
	ab_info("notification history: %zu restored", n_hist);
	publish();
	taskbar_draw();
}

static void
changed(void)
{
	publish();
	taskbar_draw();
	if (wm.centre_open)
		nc_draw();
}

/* Removes entry i of the history (persisting is the caller's). */
static void
hist_drop(size_t i)
{
	memmove(&hist[i], &hist[i + 1], (n_hist - i - 1) * sizeof(hist[0]));
	n_hist--;
}

/* Removes message i and frees its text. */
static void
msg_drop(size_t i)
{
	free(msgs[i].text);
	memmove(&msgs[i], &msgs[i + 1], (n_msgs - i - 1) * sizeof(msgs[0]));
	n_msgs--;
}

static struct nc_entry *
add_entry(const char *title, const char *body, const char *urgency, const char *action)
{
	if (n_hist == NC_HISTORY_MAX)
		hist_drop(0);
	struct nc_entry *e = &hist[n_hist++];
	*e = (struct nc_entry){.id = next_id++, .time = (int64_t)time(NULL)};
	snprintf(e->title, sizeof(e->title), "%s", title);
	snprintf(e->body, sizeof(e->body), "%s", body);
	snprintf(e->urgency, sizeof(e->urgency), "%s", urgency);
	snprintf(e->action, sizeof(e->action), "%s", action);
	deskstate_sanitize_utf8(e->title);
	deskstate_sanitize_utf8(e->body);
	return e;
}

void
nc_notify(const char *title, const char *body, const char *urgency, int64_t timeout_ms,
          const char *action)
{
	bool critical = strcmp(urgency, "critical") == 0;
	struct nc_entry *e = add_entry(title, body, urgency, action);
	if (!nc_dnd() || critical)
		notify_show(e->title, e->body, critical, timeout_ms, e->action, e->id);
	else
		ab_info("notification '%s' kept quiet (do not disturb)", e->title);
	persist();
	changed();
}

void
nc_message(const char *id, const char *from, const char *text, int64_t when)
{
	/* the broker may hand a message over twice (reconnects): the id says so */
	static char seen[NC_MESSAGES_MAX][64];
	static size_t n_seen;
	if (id[0]) {
		for (size_t i = 0; i < AB_MIN(n_seen, (size_t)NC_MESSAGES_MAX); i++) {
			if (strcmp(seen[i], id) == 0)
				return;
		}
		snprintf(seen[n_seen++ % NC_MESSAGES_MAX], sizeof(seen[0]), "%s", id);
	}
	if (n_msgs == NC_MESSAGES_MAX)
		msg_drop(0);
	struct nc_message *m = &msgs[n_msgs++];
	*m = (struct nc_message){.id = next_id++, .time = when ? when : (int64_t)time(NULL)};
	snprintf(m->from, sizeof(m->from), "%s", from);
	deskstate_sanitize_utf8(m->from);
	m->text = ab_xstrdup(text);
	deskstate_sanitize_utf8(m->text);
	ab_info("message from '%s' (%zu bytes)", m->from, strlen(m->text));
	char title[128];
	snprintf(title, sizeof(title), "Message from %s", m->from);
	nc_notify(title, m->text, "normal", 10000, "messages");
}

static void open_tab(enum nc_tab t);

/* ---- writing a message ---- */

static void
draft_open(const char *to)
{
	draft.open = true;
	snprintf(draft.to, sizeof(draft.to), "%s", to ? to : "");
	draft.on_text = to && to[0];
	draft.text[0] = '\0';
	draft.status[0] = '\0';
}

static void
draft_send(void)
{
	if (draft.pending) {
		snprintf(draft.status, sizeof(draft.status), "Still sending the last one…");
		return;
	}
	if (!draft.to[0] || !draft.text[0]) {
		snprintf(draft.status, sizeof(draft.status), "%s",
		         !draft.to[0] ? "Whom to? Type a user name in To."
		                      : "Type a message first.");
		return;
	}
	draft.pending = ++draft.next_id;
	ctl_send(ab_proto_msg("message_send", json_pack("{sIssss}", "id", (json_int_t)draft.pending,
	                                                "to", draft.to, "text", draft.text)));
	snprintf(draft.status, sizeof(draft.status), "Sending to %s…", draft.to);
	ab_info("message to '%s' (%zu bytes) sent to the broker", draft.to, strlen(draft.text));
}

void
nc_message_answer(json_t *m)
{
	json_t *jid = json_object_get(m, "id");
	json_int_t id = json_integer_value(jid);
	int status = (int)json_integer_value(json_object_get(m, "status"));
	const char *err = json_string_value(json_object_get(m, "error"));
	if (!draft.pending || id != draft.pending) {
		ab_info("message answer %lld (%d) for no message waiting", (long long)id, status);
		return;
	}
	draft.pending = 0;
	if (status == 201) {
		draft.sent++;
		snprintf(draft.status, sizeof(draft.status), "Sent to %s", draft.to);
		draft.text[0] = '\0';
	} else {
		/* the broker's own words: rate limit ("try again in N s"), block, demo rule */
		snprintf(draft.status, sizeof(draft.status), "Not sent: %s", err ? err : "refused");
		deskstate_sanitize_utf8(draft.status);
	}
	ab_info("message to '%s': %d %s", draft.to, status, err ? err : "");
	changed();
}

/* Appends what a key typed (Latin-1 from XLookupString) to the focused field as UTF-8. */
static void
draft_type(const char *buf, int n)
{
	char *f = draft.on_text ? draft.text : draft.to;
	size_t cap = draft.on_text ? sizeof(draft.text) : sizeof(draft.to);
	size_t len = strlen(f);
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7f)
			continue;
		if (!draft.on_text && (c == ' ' || c >= 0x80))
			continue; /* user names are ASCII without spaces */
		if (c < 0x80 && len + 1 < cap) {
			f[len++] = (char)c;
		} else if (c >= 0x80 && len + 2 < cap) {
			f[len++] = (char)(0xc0 | c >> 6);
			f[len++] = (char)(0x80 | (c & 0x3f));
		}
	}
	f[len] = '\0';
}

static void
draft_backspace(void)
{
	char *f = draft.on_text ? draft.text : draft.to;
	size_t len = strlen(f);
	while (len > 0 && ((unsigned char)f[len - 1] & 0xc0) == 0x80)
		len--; /* continuation bytes of the last character */
	if (len > 0)
		len--;
	f[len] = '\0';
}

/* A key while the draft is open: true when it was the draft's. */
static bool
draft_key(KeySym sym, const char *buf, int n)
{
	switch (sym) {
	case XK_Escape:
		draft.open = false;
		draft.status[0] = '\0';
		break;
	case XK_Tab:
	case XK_ISO_Left_Tab:
		draft.on_text = !draft.on_text;
		break;
	case XK_Return:
	case XK_KP_Enter:
		draft_send();
		break;
	case XK_BackSpace:
		draft_backspace();
		break;
	default:
		if (n <= 0)
			return false;
		draft_type(buf, n);
		break;
	}
	changed();
	return true;
}

void
nc_act(const char *action, uint64_t hist_id)
{
	for (size_t i = 0; i < n_hist; i++) {
		if (hist[i].id == hist_id)
			hist[i].read = true;
	}
	if (strcmp(action, "messages") == 0) {
		open_tab(NC_TAB_MESSAGES);
	} else if (strncmp(action, "app:", 4) == 0) {
		const struct desktop_entry *de = desktop_find(&wm.apps, action + 4);
		nc_close();
		if (de)
			launcher_spawn(de);
		else
			ab_warn("notification action: '%s' is not an app of this desktop",
			        action + 4);
	}
	changed();
}

void
nc_set_dnd(bool on)
{
	json_t *p = prefs_app();
	json_object_set_new(p, "dnd", json_boolean(on));
	ab_info("do not disturb %s", on ? "on" : "off");
	state_changed();
	changed();
}

/* ---- the panel ---- */

static size_t
n_rows(void)
{
	return tab == NC_TAB_MESSAGES ? n_msgs : n_hist;
}

/* Row r (0 = newest) as an index into hist/msgs. */
static size_t
row_index(int r)
{
	return n_rows() - 1 - (size_t)r;
}

/* Row r the user picked, as an index into t's list: false unless the panel shows tab t and r is
 * one of its rows. */
static bool
row_in(enum nc_tab t, int r, size_t *ret_i)
{
	if (tab != t || r < 0 || r >= (int)n_rows())
		return false;
	*ret_i = row_index(r);
	return true;
}

static void
mark_tab_read(void)
{
	if (tab == NC_TAB_MESSAGES) {
		for (size_t i = 0; i < n_msgs; i++)
			msgs[i].read = true;
		for (size_t i = 0; i < n_hist; i++)
			hist[i].read |= strcmp(hist[i].action, "messages") == 0;
	} else {
		for (size_t i = 0; i < n_hist; i++)
			hist[i].read = true;
	}
}

static void
panel_pos(int *x, int *y)
{
	int bh = taskbar_height();
	*x = wm.sw - P_W - 8;
	*y = wm.ds.tb_position == DESKSTATE_TOP ? bh + 8 : wm.sh - bh - P_H - 8;
}

static void
open_tab(enum nc_tab t)
{
	tab = t;
	sel = 0;
	int x, y;
	panel_pos(&x, &y);
	if (!wm.centre) {
		XSetWindowAttributes sa = {
		    .override_redirect = True,
		    .background_pixmap = None,
		    .event_mask = ButtonPressMask | ExposureMask | KeyPressMask,
		};
		wm.centre = XCreateWindow(wm.dpy, wm.root, x, y, P_W, P_H, 0, CopyFromParent,
		                          InputOutput, CopyFromParent,
		                          CWOverrideRedirect | CWBackPixmap | CWEventMask, &sa);
		wm.centre_surf = cairo_xlib_surface_create(wm.dpy, wm.centre, wm.visual, P_W, P_H);
	} else {
		XMoveWindow(wm.dpy, wm.centre, x, y);
	}
	mark_tab_read();
	if (!wm.centre_open) {
		launcher_close();
		bgmenu_close();
		wm.centre_open = true;
		taskbar_reveal(true);
		XMapRaised(wm.dpy, wm.centre);
		client_restack();
		XGrabKeyboard(wm.dpy, wm.root, True, GrabModeAsync, GrabModeAsync, CurrentTime);
		XGrabPointer(wm.dpy, wm.centre, True, ButtonPressMask, GrabModeAsync, GrabModeAsync,
		             None, None, CurrentTime);
	}
	changed();
}

void
nc_close(void)
{
	if (!wm.centre_open)
		return;
	wm.centre_open = false;
	XUngrabKeyboard(wm.dpy, CurrentTime);
	XUngrabPointer(wm.dpy, CurrentTime);
	XUnmapWindow(wm.dpy, wm.centre);
	taskbar_reveal(false);
	if (wm.focus)
		client_focus(wm.focus);
	publish();
}

void
nc_toggle(enum nc_tab t)
{
	if (wm.centre_open && tab == t)
		nc_close();
	else
		open_tab(t);
}

static void
add_hit(int x, int y, int w, int h, enum hit_kind k, int idx)
{
	if (n_hits < AB_ARRAY_SIZE(hits))
		hits[n_hits++] = (struct hit){x, y, w, h, k, idx};
}

static void
pill(cairo_t *cr, const char *text, double x, double y, double w, double h, bool on)
{
	const struct ab_theme *t = &wm.theme;
	ab_cairo_rounded(cr, x, y, w, h, h / 2);
	if (on)
		theme_set_rgb(cr, t->accent);
	else
		theme_set_rgba(cr, t->hover);
	cairo_fill(cr);
	if (on)
		cairo_set_source_rgb(cr, 1, 1, 1);
	else
		theme_set_rgb(cr, t->text);
	theme_text(cr, text, "Noto Sans,DejaVu Sans Bold 9", x, y, w, h, true);
}

static void
draw_row(cairo_t *cr, int r, double y)
{
	const struct ab_theme *t = &wm.theme;
	size_t i = row_index(r);
	const char *title, *body;
	int64_t when;
	bool unread, critical = false;
	if (tab == NC_TAB_MESSAGES) {
		title = msgs[i].from;
		body = msgs[i].text;
		when = msgs[i].time;
		unread = !msgs[i].read;
	} else {
		title = hist[i].title;
		body = hist[i].body;
		when = hist[i].time;
		unread = !hist[i].read;
		critical = strcmp(hist[i].urgency, "critical") == 0;
	}
	if (r == sel) {
		ab_cairo_rounded(cr, 8, y, P_W - 16, ROW_H - 4, 8);
		theme_set_rgba(cr, t->hover);
		cairo_fill(cr);
	}
	if (unread || critical) {
		cairo_arc(cr, 20, y + 18, 4, 0, 2 * M_PI);
		theme_set_rgb(cr, critical ? t->close : t->accent);
		cairo_fill(cr);
	}
	char clk[16];
	time_t tt = (time_t)when;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(clk, sizeof(clk), "%H:%M", &tm);
	theme_set_rgb(cr, t->text);
	theme_text(cr, title, "Noto Sans,DejaVu Sans Bold 10", 32, y + 6, P_W - 110, 22, false);
	theme_set_rgb(cr, t->text_dim);
	theme_text(cr, clk, "Noto Sans,DejaVu Sans 8.5", P_W - 70, y + 6, 50, 22, true);
	theme_text(cr, body, t->font, 32, y + 27, P_W - 52, 22, false);
	add_hit(8, (int)y, P_W - 16, ROW_H - 4, HIT_ROW, r);
}

void
nc_draw(void)
{
	if (!wm.centre_open || !wm.centre_surf)
		return;
	const struct ab_theme *t = &wm.theme;
	n_hits = 0;
	cairo_t *cr = cairo_create(wm.centre_surf);
	theme_card(cr, P_W, P_H);
	char label[48];
	snprintf(label, sizeof(label), "Notifications");
	pill(cr, label, 14, 12, 130, 28, tab == NC_TAB_NOTIFICATIONS);
	add_hit(14, 12, 130, 28, HIT_TAB, NC_TAB_NOTIFICATIONS);
	size_t unread_msgs = 0;
	for (size_t i = 0; i < n_msgs; i++)
		unread_msgs += !msgs[i].read;
	if (unread_msgs)
		snprintf(label, sizeof(label), "Messages (%zu)", unread_msgs);
	else
		snprintf(label, sizeof(label), "Messages");
	pill(cr, label, 150, 12, 130, 28, tab == NC_TAB_MESSAGES);
	add_hit(150, 12, 130, 28, HIT_TAB, NC_TAB_MESSAGES);
	pill(cr, nc_dnd() ? "Do not disturb: on" : "Do not disturb: off", 14, 50, 170, 26,
	     nc_dnd());
	add_hit(14, 50, 170, 26, HIT_DND, 0);
	pill(cr, "Clear", P_W - 14 - 70, 50, 70, 26, false);
	add_hit(P_W - 14 - 70, 50, 70, 26, HIT_CLEAR, 0);

	bool composing = draft.open && tab == NC_TAB_MESSAGES;
	int fit = (P_H - ROWS_Y - 8 - (composing ? COMPOSE_H : 0)) / ROW_H, n = (int)n_rows();
	int first = AB_MAX(0, sel - fit + 1);
	for (int r = first; r < n && r < first + fit; r++)
		draw_row(cr, r, ROWS_Y + (r - first) * ROW_H);
	if (n == 0) {
		theme_set_rgb(cr, t->text_dim);
		theme_text(cr, tab == NC_TAB_MESSAGES ? "No messages" : "No notifications", t->font,
		           0, ROWS_Y + 20, P_W, 30, true);
	}
	if (tab == NC_TAB_MESSAGES && !composing) {
		theme_set_rgb(cr, t->text_dim);
		theme_text(cr, "R: reply   N: new message", "Noto Sans,DejaVu Sans 8.5", 0,
		           P_H - 26, P_W, 20, true);
	}
	if (composing) {
		double y = P_H - COMPOSE_H;
		ab_cairo_rounded(cr, 8, y, P_W - 16, COMPOSE_H - 8, 8);
		theme_set_rgba(cr, t->hover);
		cairo_fill(cr);
		char line[COMPOSE_MAX + 16];
		snprintf(line, sizeof(line), "To: %s%s", draft.to, draft.on_text ? "" : "▏");
		theme_set_rgb(cr, draft.on_text ? t->text_dim : t->text);
		theme_text(cr, line, "Noto Sans,DejaVu Sans Bold 10", 20, y + 6, P_W - 40, 22,
		           false);
		snprintf(line, sizeof(line), "%s%s", draft.text, draft.on_text ? "▏" : "");
		theme_set_rgb(cr, draft.on_text ? t->text : t->text_dim);
		theme_text(cr, line[0] ? line : "Message", t->font, 20, y + 30, P_W - 40, 22,
		           false);
		theme_set_rgb(cr, t->text_dim);
		theme_text(cr,
		           draft.status[0] ? draft.status
		                           : "Return: send   Tab: To/Message   Escape: drop",
		           "Noto Sans,DejaVu Sans 8.5", 20, y + 60, P_W - 40, 20, false);
	}
	cairo_destroy(cr);
	cairo_surface_flush(wm.centre_surf);
}

static void
remove_row(int r)
{
	size_t i;
	if (row_in(NC_TAB_MESSAGES, r, &i)) {
		msg_drop(i);
	} else if (row_in(NC_TAB_NOTIFICATIONS, r, &i)) {
		hist_drop(i);
		persist();
	} else {
		return;
	}
	sel = AB_MAX(0, AB_MIN(sel, (int)n_rows() - 1));
}

static void
clear_tab(void)
{
	while (n_rows())
		remove_row(0);
	sel = 0;
}

static void
activate(int r)
{
	size_t i;
	if (row_in(NC_TAB_MESSAGES, r, &i)) {
		msgs[i].read = true;
		changed();
	} else if (row_in(NC_TAB_NOTIFICATIONS, r, &i)) {
		char action[NOTIFY_ACTION_MAX];
		snprintf(action, sizeof(action), "%s", hist[i].action);
		nc_act(action, hist[i].id);
	}
}

void
nc_key(XKeyEvent *e)
{
	char buf[8];
	KeySym sym = NoSymbol;
	int typed = XLookupString(e, buf, sizeof(buf), &sym, NULL);
	if (draft.open && tab == NC_TAB_MESSAGES && draft_key(sym, buf, typed))
		return;
	int n = (int)n_rows();
	if (tab == NC_TAB_MESSAGES && (sym == XK_r || sym == XK_R) && n > 0) {
		draft_open(msgs[row_index(sel)].from);
		changed();
		return;
	}
	if (tab == NC_TAB_MESSAGES && (sym == XK_n || sym == XK_N)) {
		draft_open(NULL);
		changed();
		return;
	}
	switch (sym) {
	case XK_Escape:
		nc_close();
		return;
	case XK_Tab:
	case XK_ISO_Left_Tab:
	case XK_Left:
	case XK_Right:
		open_tab(tab == NC_TAB_MESSAGES ? NC_TAB_NOTIFICATIONS : NC_TAB_MESSAGES);
		return;
	case XK_Down:
		sel = AB_MIN(sel + 1, AB_MAX(n - 1, 0));
		break;
	case XK_Up:
		sel = AB_MAX(sel - 1, 0);
		break;
	case XK_Return:
	case XK_KP_Enter:
		activate(sel);
		return;
	case XK_Delete:
		remove_row(sel);
		break;
	case XK_d:
	case XK_D:
		nc_set_dnd(!nc_dnd());
		return;
	case XK_c:
	case XK_C:
		clear_tab();
		break;
	default:
		return;
	}
	changed();
}

void
nc_button_press(XButtonEvent *e)
{
	if (e->window != wm.centre || e->x < 0 || e->y < 0 || e->x >= P_W || e->y >= P_H) {
		nc_close();
		return;
	}
	if (e->button == Button4 || e->button == Button5) {
		int n = (int)n_rows();
		sel = e->button == Button5 ? AB_MIN(sel + 1, AB_MAX(n - 1, 0)) : AB_MAX(sel - 1, 0);
		nc_draw();
		return;
	}
	for (size_t i = 0; i < n_hits; i++) {
		const struct hit *h = &hits[i];
		if (e->x < h->x || e->x >= h->x + h->w || e->y < h->y || e->y >= h->y + h->h)
			continue;
		switch (h->kind) {
		case HIT_TAB:
			open_tab((enum nc_tab)h->idx);
			break;
		case HIT_DND:
			nc_set_dnd(!nc_dnd());
			break;
		case HIT_CLEAR:
			clear_tab();
			changed();
			break;
		case HIT_ROW:
			sel = h->idx;
			activate(h->idx);
			break;
		default:
			break;
		}
		return;
	}
}

void
nc_draw_bell(cairo_t *cr, double x, double y, double s)
{
	const struct ab_theme *t = &wm.theme;
	bell_x = (int)x;
	double cx = x + s / 2, top = y + s * 0.22, bot = y + s * 0.70, w = s * 0.30;
	theme_set_rgb(cr, t->text);
	cairo_move_to(cr, cx - w, bot);
	cairo_curve_to(cr, cx - w * 0.8, bot - s * 0.12, cx - w * 0.85, top + s * 0.05, cx, top);
	cairo_curve_to(cr, cx + w * 0.85, top + s * 0.05, cx + w * 0.8, bot - s * 0.12, cx + w,
	               bot);
	cairo_close_path(cr);
	cairo_fill(cr);
	cairo_arc(cr, cx, bot + s * 0.07, s * 0.07, 0, 2 * M_PI);
	cairo_fill(cr);
	if (nc_dnd()) {
		cairo_set_line_width(cr, 2);
		theme_set_rgb(cr, t->close);
		cairo_move_to(cr, x + s * 0.2, y + s * 0.2);
		cairo_line_to(cr, x + s * 0.8, y + s * 0.8);
		cairo_stroke(cr);
	}
	size_t n = nc_unread();
	if (n) {
		char num[8];
		if (n > 9)
			snprintf(num, sizeof(num), "9+");
		else
			snprintf(num, sizeof(num), "%zu", n);
		double r = s * 0.22, bx = x + s * 0.78, by = y + s * 0.24;
		cairo_arc(cr, bx, by, r, 0, 2 * M_PI);
		theme_set_rgb(cr, t->close);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 1, 1, 1);
		theme_text(cr, num, "Noto Sans,DejaVu Sans Bold 7", bx - r, by - r, 2 * r, 2 * r,
		           true);
	}
}

void
nc_free(void)
{
	nc_close();
	for (size_t i = 0; i < n_msgs; i++)
		free(msgs[i].text);
	n_msgs = 0;
	n_hist = 0;
	if (wm.centre_surf)
		cairo_surface_destroy(wm.centre_surf);
	wm.centre_surf = NULL;
	if (wm.centre)
		XDestroyWindow(wm.dpy, wm.centre);
	wm.centre = None;
}
