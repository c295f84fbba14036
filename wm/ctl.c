/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctl: the window manager's end of the control channel to argobox-session
 * (framing: ab_proto; messages: docs/control-channel.md). The session
 * listens on $ARGOBOX_WM_SOCKET; we connect, say hello, send the state
 * whenever it changes, and take notify/theme/wallpaper/status messages.
 * When the session is not there we retry with backoff (250 ms doubling to
 * 5 s) and work on without it.
 */
#include "wm.h"
#include "kbd.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_MAX (8u << 20)

static struct ab_proto_reader reader;

static void ctl_io(struct ab_loop *loop, int fd, unsigned events, void *data);
static int64_t ctl_retry(struct ab_loop *loop, void *data);

static void
ctl_disconnect(const char *why)
{
	if (wm.ctl_fd < 0)
		return;
	ab_warn("control channel: %s; reconnecting", why);
	ab_loop_unwatch(wm.loop, wm.ctl_watch);
	wm.ctl_watch = NULL;
	close(wm.ctl_fd);
	wm.ctl_fd = -1;
	free(wm.out_buf);
	wm.out_buf = NULL;
	wm.out_len = 0;
	ab_proto_reader_free(&reader);
	wm.ctl_backoff_ms = 250;
	if (!wm.ctl_timer)
		wm.ctl_timer = ab_loop_timer(wm.loop, wm.ctl_backoff_ms, ctl_retry, NULL);
}

static void
flush_out(void)
{
	while (wm.out_len > 0) {
		ssize_t n = send(wm.ctl_fd, wm.out_buf, wm.out_len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			ctl_disconnect(strerror(errno));
			return;
		}
		memmove(wm.out_buf, wm.out_buf + n, wm.out_len - (size_t)n);
		wm.out_len -= (size_t)n;
	}
	if (wm.ctl_watch)
		ab_loop_watch_update(wm.loop, wm.ctl_watch,
		                     AB_LOOP_READ | (wm.out_len ? AB_LOOP_WRITE : 0));
}

void
ctl_send(json_t *msg)
{
	char *buf = NULL;
	size_t len = 0;
	struct ab_err err = {0};
	if (wm.ctl_fd < 0) {
		json_decref(msg);
		return;
	}
	int r = ab_proto_encode(msg, &buf, &len, &err);
	json_decref(msg);
	if (r < 0) {
		ab_warn("control channel: %s", err.msg);
		return;
	}
	if (wm.out_len + len > OUT_MAX) {
		free(buf);
		ctl_disconnect("peer does not read");
		return;
	}
	wm.out_buf = ab_xrealloc(wm.out_buf, wm.out_len + len);
	memcpy(wm.out_buf + wm.out_len, buf, len);
	wm.out_len += len;
	free(buf);
	flush_out();
}

static const char *
str_field(json_t *m, const char *key, const char *dflt)
{
	json_t *v = json_object_get(m, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static void
handle(json_t *m)
{
	const char *type = ab_proto_type(m);
	if (strcmp(type, "notify") == 0) {
		const char *title = str_field(m, "title", NULL), *body = str_field(m, "body", "");
		const char *urg = str_field(m, "urgency", "normal");
		const char *action = str_field(m, "action", "");
		json_t *to = json_object_get(m, "timeout_ms");
		bool critical = strcmp(urg, "critical") == 0;
		if (!title || (strcmp(urg, "low") && strcmp(urg, "normal") && !critical) ||
		    (to && (!json_is_integer(to) || json_integer_value(to) < 0 ||
		            json_integer_value(to) > 3600000))) {
			ab_warn("control channel: notify needs a string 'title', 'urgency' "
			        "low/normal/critical and 'timeout_ms' in [0, 3600000]; ignored");
			return;
		}
		if (!nc_valid_action(action)) {
			ab_warn("control channel: notify action '%.64s' is not 'messages' or "
			        "'app:<desktop id>'; shown without it",
			        action);
			action = "";
		}
		int64_t t = to ? json_integer_value(to) : (critical ? 0 : 6000);
		nc_notify(title, body, urg, t, action);
	} else if (strcmp(type, "message") == 0) {
		/* a message from another user (docs/messages.md): plain text, never markup */
		const char *id = str_field(m, "id", ""), *from = str_field(m, "from", NULL);
		const char *text = str_field(m, "text", NULL);
		json_t *tm = json_object_get(m, "time");
		if (!from || !text || !from[0] || strlen(from) >= 64 || strlen(id) >= 64 ||
		    (tm && !json_is_integer(tm))) {
			ab_warn("control channel: message needs strings 'from' (< 64 bytes) and "
			        "'text', an integer 'time'; ignored");
			return;
		}
		nc_message(id, from, text, tm ? json_integer_value(tm) : 0);
	} else if (strcmp(type, "theme") == 0) {
		const char *mode = str_field(m, "mode", deskstate_mode_name(wm.ds.mode));
		const char *accent = str_field(m, "accent", wm.ds.accent);
		enum deskstate_mode md;
		if (strcmp(mode, "dark") == 0)
			md = DESKSTATE_DARK;
		else if (strcmp(mode, "light") == 0)
			md = DESKSTATE_LIGHT;
		else {
			ab_warn("control channel: theme mode '%.32s' is not dark/light", mode);
			return;
		}
		if (!deskstate_valid_colour(accent)) {
			ab_warn("control channel: accent '%.32s' is not #rrggbb", accent);
			return;
		}
		theme_set(md, accent);
	} else if (strcmp(type, "wallpaper") == 0) {
		const char *image = str_field(m, "image", "");
		const char *fit = str_field(m, "fit", "fill");
		if (strcmp(fit, "fill") && strcmp(fit, "fit")) {
			ab_warn("control channel: wallpaper fit '%.32s' is not fill/fit", fit);
			return;
		}
		if (wallpaper_set(image, strcmp(fit, "fit") == 0 ? DESKSTATE_FIT : DESKSTATE_FILL) <
		    0)
			ab_warn("control channel: wallpaper '%.64s' is not a plain file name",
			        image);
	} else if (strcmp(type, "status") == 0) {
		const char *id = str_field(m, "id", NULL), *text = str_field(m, "text", "");
		if (!id || strlen(id) >= sizeof(wm.status[0].id)) {
			ab_warn("control channel: status needs a short string 'id'");
			return;
		}
		size_t i;
		for (i = 0; i < wm.n_status; i++) {
			if (strcmp(wm.status[i].id, id) == 0)
				break;
		}
		if (!text[0]) {
			if (i < wm.n_status) {
				memmove(&wm.status[i], &wm.status[i + 1],
				        (wm.n_status - i - 1) * sizeof(wm.status[0]));
				wm.n_status--;
			}
		} else if (i < AB_ARRAY_SIZE(wm.status)) {
			snprintf(wm.status[i].id, sizeof(wm.status[i].id), "%s", id);
			snprintf(wm.status[i].text, sizeof(wm.status[i].text), "%s", text);
			deskstate_sanitize_utf8(wm.status[i].text);
			if (i == wm.n_status)
				wm.n_status++;
		}
		taskbar_draw();
	} else if (strcmp(type, "taskbar") == 0) {
		const char *pos = str_field(m, "position", deskstate_edge_name(wm.ds.tb_position));
		json_t *ah = json_object_get(m, "autohide");
		if ((strcmp(pos, "top") && strcmp(pos, "bottom")) || (ah && !json_is_boolean(ah))) {
			ab_warn(
			    "control channel: taskbar needs 'position' top/bottom and a boolean "
			    "'autohide'");
			return;
		}
		taskbar_configure(strcmp(pos, "top") == 0 ? DESKSTATE_TOP : DESKSTATE_BOTTOM,
		                  ah ? json_is_true(ah) : wm.ds.tb_autohide);
	} else if (strcmp(type, "keyboard") == 0) {
		/* {"layout": "de", "layouts": ["de", "us"]}: for a settings app (kbd_set) */
		const char *layout = str_field(m, "layout", NULL);
		json_t *l = json_object_get(m, "layouts");
		const char *list[DESKSTATE_MAX_KBD];
		size_t n = 0, i;
		json_t *e;
		bool ok =
		    layout && (!l || (json_is_array(l) && json_array_size(l) <= DESKSTATE_MAX_KBD));
		if (ok && l) {
			json_array_foreach(l, i, e)
			{
				ok &= json_is_string(e);
				if (ok)
					list[n++] = json_string_value(e);
			}
		}
		struct ab_err err = {0};
		if (!ok)
			ab_warn("control channel: keyboard needs a string 'layout' and at most %d "
			        "'layouts'",
			        DESKSTATE_MAX_KBD);
		else if (kbd_set(layout, l ? list : NULL, n, &err) < 0)
			ab_warn("control channel: keyboard: %s", err.msg);
	} else if (strcmp(type, "ping") == 0) {
		json_t *f = json_object();
		json_object_set(f, "seq", json_object_get(m, "seq"));
		json_object_set(f, "t", json_object_get(m, "t"));
		ctl_send(ab_proto_msg("pong", f));
	} else if (strcmp(type, "get_state") == 0) {
		free(wm.last_export);
		wm.last_export = NULL;
		state_export_now();
	} else if (strcmp(type, "restore") == 0) {
		/* a state replaced through the broker's API: strictly validated,
		 * applied to the running desktop, then exported */
		struct deskstate ds;
		struct ab_err err = {0};
		json_t *st = json_object_get(m, "state");
		if (!st || deskstate_from_json(st, &ds, &err) < 0) {
			ab_warn("control channel: restore: %s", st ? err.msg : "no 'state' object");
			return;
		}
		state_apply_live(&ds);
		if (ds.kbd_layout[0]) {
			const char *list[DESKSTATE_MAX_KBD];
			for (size_t i = 0; i < ds.n_kbd_layouts; i++)
				list[i] = ds.kbd_layouts[i];
			if (kbd_set(ds.kbd_layout, list, ds.n_kbd_layouts, &err) < 0)
				ab_warn("control channel: restore: keyboard: %s", err.msg);
		}
		deskstate_free(&ds);
	} else if (strcmp(type, "font") == 0) {
		/* {"size": 11}: the UI font size (argobox-settings) */
		json_t *sz = json_object_get(m, "size");
		if (!json_is_integer(sz) || json_integer_value(sz) < THEME_FONT_MIN ||
		    json_integer_value(sz) > THEME_FONT_MAX)
			ab_warn("control channel: font needs an integer 'size' in [%d, %d]",
			        THEME_FONT_MIN, THEME_FONT_MAX);
		else
			theme_set_font_size((int)json_integer_value(sz));
	} else if (strcmp(type, "notifications") == 0) {
		/* {"dnd": true}: do not disturb on or off (argobox-settings) */
		json_t *d = json_object_get(m, "dnd");
		if (!json_is_boolean(d))
			ab_warn("control channel: notifications needs a boolean 'dnd'");
		else
			nc_set_dnd(json_is_true(d));
	} else if (strcmp(type, "message_answer") == 0) {
		nc_message_answer(m);
	} else if (strcmp(type, "services_answer") == 0) {
		apprelay_answer(m); /* to the app that asked (apprelay.c) */
	} else if (strcmp(type, "hello") == 0 || strcmp(type, "pong") == 0) {
		/* nothing to do */
	} else {
		ab_debug("control channel: ignoring message type '%.32s'", type);
	}
}

static void
ctl_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	if (events & AB_LOOP_WRITE)
		flush_out();
	if (wm.ctl_fd < 0 || !(events & (AB_LOOP_READ | AB_LOOP_ERROR)))
		return;
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		ctl_disconnect(n == 0 ? "closed by the session" : strerror(errno));
		return;
	}
	if (n < 0)
		return;
	ab_proto_reader_feed(&reader, buf, (size_t)n);
	for (;;) {
		json_t *m = NULL;
		struct ab_err err = {0};
		int r = ab_proto_reader_next(&reader, &m, &err);
		if (r < 0) {
			ctl_disconnect(err.msg);
			return;
		}
		if (r == 0)
			break;
		handle(m);
		json_decref(m);
		if (wm.ctl_fd < 0)
			return;
	}
}

static int
ctl_connect(void)
{
	struct ab_err err = {0};
	int fd = ab_unix_connect(wm.sock_path, &err);
	if (fd < 0)
		return fd;
	ab_fd_set_nonblock(fd, true);
	wm.ctl_fd = fd;
	ab_proto_reader_init(&reader);
	wm.ctl_watch = ab_loop_watch(wm.loop, fd, AB_LOOP_READ, ctl_io, NULL);
	ab_info("control channel: connected to '%s'", wm.sock_path);
	ctl_send(ab_proto_msg(
	    "hello", json_pack("{s:s, s:[i,i]}", "role", "wm", "versions", 1, AB_PROTO_VERSION)));
	/* the session gets the full state at once */
	free(wm.last_export);
	wm.last_export = NULL;
	state_changed();
	return 0;
}

static int64_t
ctl_retry(struct ab_loop *loop, void *data)
{
	if (ctl_connect() == 0) {
		wm.ctl_timer = NULL;
		wm.ctl_backoff_ms = 250;
		return AB_TIMER_STOP;
	}
	wm.ctl_backoff_ms = AB_MIN(wm.ctl_backoff_ms * 2, 5000);
	return wm.ctl_backoff_ms;
}

void
ctl_start(const char *path)
{
	wm.ctl_fd = -1;
	if (!path || !*path)
		return;
	wm.sock_path = ab_xstrdup(path);
	wm.ctl_backoff_ms = 250;
	if (ctl_connect() < 0) {
		ab_info("control channel: '%s' not there yet; retrying in the background", path);
		wm.ctl_timer = ab_loop_timer(wm.loop, wm.ctl_backoff_ms, ctl_retry, NULL);
	}
}

void
ctl_stop(void)
{
	if (wm.ctl_fd >= 0) {
		/* best effort: hand over what is queued (the final state) */
		ab_fd_set_nonblock(wm.ctl_fd, false);
		if (wm.out_len)
			ab_write_all(wm.ctl_fd, wm.out_buf, wm.out_len);
		ab_loop_unwatch(wm.loop, wm.ctl_watch);
		close(wm.ctl_fd);
		wm.ctl_fd = -1;
	}
	ab_loop_timer_cancel(wm.loop, wm.ctl_timer);
	wm.ctl_timer = NULL;
	free(wm.out_buf);
	wm.out_buf = NULL;
	ab_proto_reader_free(&reader);
	free(wm.sock_path);
	wm.sock_path = NULL;
}

/*
 * Requests from apps in the desktop (argobox-settings): control messages, one JSON object
 * a line, appended to the root window's _ARGOBOX_CTL_REQUEST. Read and deleted at once;
 * only the settings types are taken (theme, wallpaper, keyboard, taskbar, notifications, font),
 * with the same validation as from the control channel, so the change is exported like any other,
 * and services_request, relayed to the broker (apprelay.c).
 */
bool
ctl_handle_property(XPropertyEvent *e)
{
	static Atom req;
	if (!req)
		req = XInternAtom(wm.dpy, "_ARGOBOX_CTL_REQUEST", False);
	if (e->window != wm.root || e->atom != req)
		return false;
	if (e->state != PropertyNewValue)
		return true;
	Atom type;
	int fmt;
	unsigned long n = 0, after = 0;
	unsigned char *data = NULL;
	if (XGetWindowProperty(wm.dpy, wm.root, req, 0, 16384, True, AnyPropertyType, &type, &fmt,
	                       &n, &after, &data) != Success ||
	    !data)
		return true;
	_cleanup_free_ char *text = fmt == 8 ? ab_xstrndup((const char *)data, n) : NULL;
	XFree(data);
	char *save = NULL;
	for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *m = json_loads(line, 0, NULL);
		const char *t = json_is_object(m) ? ab_proto_type(m) : NULL;
		if (!t)
			t = "";
		if (strcmp(t, "theme") == 0 || strcmp(t, "wallpaper") == 0 ||
		    strcmp(t, "keyboard") == 0 || strcmp(t, "taskbar") == 0 ||
		    strcmp(t, "notifications") == 0 || strcmp(t, "font") == 0)
			handle(m);
		else if (strcmp(t, "services_request") == 0)
			apprelay_request(m);
		else
			ab_warn("app request: '%.32s' is not a settings message; ignored", t);
		json_decref(m);
	}
	return true;
}
