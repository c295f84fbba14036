/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-services: the homelab services the user may see (the broker's registry,
 * docs/services.md), their state, last check and latency; open one in the browser; restart
 * one where the user may.
 *
 * The app never talks to the broker with the user's browser cookie: it asks through the
 * desktop's control channel (docs/control-channel.md, services_request): a request goes on
 * the root window's _ARGOBOX_CTL_REQUEST (ab_app_request), argobox-wm relays it to the
 * session and the session to the broker, which answers for the desktop's owner with exactly
 * what GET /api/services gives them (same visibility code, audited) and comes back on this
 * window (ops->answer). The list is asked for at start, every 5 s, and on F5.
 *
 * Keys: Up/Down select, Enter (or O) opens the URL (xdg-open), R restarts (the broker says
 * whether the user may), F5 refreshes, Escape / Ctrl+Q quit.
 */
#include "ab_app.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_util.h"

#include <inttypes.h>
#include <string.h>
#include <sys/time.h>

#define ROW_H      56
#define TOP_H      64
#define REFRESH_MS 5000

struct services_app {
	struct ab_app app;
	struct ab_list list;
	json_t *services; /* the last list (array), NULL before the first answer */
	char status[256]; /* the last answer's error, or what is going on */
	bool status_error;
	char message[256]; /* the last restart's outcome */
	json_int_t next_id, list_id;
	struct ab_timer *timer;
};

static int64_t
wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static const char *
str_of(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static json_t *
selected(struct services_app *s)
{
	return s->services && s->list.n ? json_array_get(s->services, s->list.sel) : NULL;
}

static void
ask_list(struct services_app *s)
{
	s->list_id = s->next_id++;
	ab_app_request(&s->app, json_pack("{sisIssss}", "v", 1, "id", s->list_id, "type",
	                                  "services_request", "op", "list"));
}

static int64_t
on_refresh(struct ab_loop *loop, void *data)
{
	ask_list(data);
	return REFRESH_MS;
}

/* The state's colour: up green, degraded amber, down red, unknown grey. */
static void
state_rgb(const char *state, double rgb[3])
{
	static const struct {
		const char *name;
		double c[3];
	} map[] = {
	    {"up", {0.18, 0.69, 0.35}},
	    {"degraded", {0.93, 0.62, 0.13}},
	    {"down", {0.86, 0.23, 0.24}},
	};
	rgb[0] = rgb[1] = rgb[2] = 0.55;
	for (size_t i = 0; i < AB_ARRAY_SIZE(map); i++) {
		if (strcmp(state, map[i].name) == 0)
			memcpy(rgb, map[i].c, sizeof(map[i].c));
	}
}

/* "checked 4 s ago, 12.3 ms" from the newest history entry. */
static void
last_check(json_t *svc, char *buf, size_t len)
{
	json_t *h = json_array_get(json_object_get(svc, "history"), 0);
	json_t *lat = json_object_get(svc, "latency_ms");
	if (!h) {
		snprintf(buf, len, "not checked yet");
		return;
	}
	int64_t ago = (wall_ms() - json_integer_value(json_object_get(h, "time_ms"))) / 1000;
	char l[32] = "";
	if (json_is_number(lat))
		snprintf(l, sizeof(l), ", %.1f ms", json_number_value(lat));
	snprintf(buf, len, "checked %" PRId64 " s ago%s", ago < 0 ? 0 : ago, l);
}

static void
svc_row(struct ab_app *app, cairo_t *cr, size_t i, bool sel, double x, double y, double w, double h)
{
	struct services_app *s = app->data;
	const struct ab_theme *t = &app->theme;
	json_t *svc = json_array_get(s->services, i);
	const char *state = str_of(svc, "state", "unknown");
	double c[3];
	state_rgb(state, c);
	ab_draw_rgb(cr, c);
	cairo_arc(cr, x + 20, y + h / 2, 7, 0, 6.2832);
	cairo_fill(cr);
	const double *fg = sel ? t->sel_text : t->text;
	const double *dim = sel ? t->sel_text : t->text_dim;
	ab_draw_text(cr, str_of(svc, "title", str_of(svc, "name", "?")), t->font, fg, x + 40, y + 8,
	             w - 300);
	ab_draw_text(cr, str_of(svc, "url", ""), t->font, dim, x + 40, y + 30, w - 300);
	ab_draw_text(cr, state, t->font, fg, x + w - 250, y + 8, 240);
	char b[96];
	last_check(svc, b, sizeof(b));
	ab_draw_text(cr, b, t->font, dim, x + w - 250, y + 30, 240);
}

static void
svc_draw(struct ab_app *app, cairo_t *cr, int w, int h)
{
	struct services_app *s = app->data;
	const struct ab_theme *t = &app->theme;
	ab_draw_page(cr, t, "Services", 20, 16, w - 40);
	ab_draw_text(cr, "Enter: open   R: restart   F5: refresh", t->font, t->text_dim, 20, 40,
	             w - 40);
	int bottom = h - 34;
	const char *foot = s->message[0] ? s->message : s->status;
	ab_draw_text(cr, foot, t->font, s->status_error && !s->message[0] ? t->close : t->text_dim,
	             20, bottom + 8, w - 40);
	if (!s->services) {
		ab_draw_text(cr,
		             s->status_error ? "The broker did not answer with a list."
		                             : "Asking the broker…",
		             t->font, t->text, 20, TOP_H + 10, w - 40);
		return;
	}
	if (json_array_size(s->services) == 0) {
		ab_draw_text(cr, "No services are visible to you.", t->font, t->text, 20,
		             TOP_H + 10, w - 40);
		ab_draw_text(cr,
		             "The broker's registry lists none that your role or profile may see.",
		             t->font, t->text_dim, 20, TOP_H + 34, w - 40);
		return;
	}
	s->list.focused = app->focused;
	ab_app_list_draw(app, cr, &s->list, ROW_H, 10, TOP_H, w - 20, bottom - TOP_H, svc_row);
}

static void
svc_open(struct services_app *s)
{
	json_t *svc = selected(s);
	const char *url = svc ? str_of(svc, "url", "") : "";
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(s->message, sizeof(s->message), "'%.64s' has no web address to open",
		         svc ? str_of(svc, "name", "?") : "");
		return;
	}
	if (ab_app_open_url(&s->app, url) == 0)
		snprintf(s->message, sizeof(s->message), "opening %.200s", url);
	else
		snprintf(s->message, sizeof(s->message), "%.200s copied (no browser here)", url);
}

static void
svc_restart(struct services_app *s)
{
	json_t *svc = selected(s);
	if (!svc)
		return;
	const char *name = str_of(svc, "name", "");
	ab_app_request(&s->app, json_pack("{sisIssssss}", "v", 1, "id", s->next_id++, "type",
	                                  "services_request", "op", "restart", "name", name));
	snprintf(s->message, sizeof(s->message), "asking to restart '%.64s'…", name);
}

static void
svc_key(struct ab_app *app, KeySym sym, unsigned state, const char *text, size_t len)
{
	struct services_app *s = app->data;
	bool changed = false;
	if (sym == XK_Escape || ((state & ControlMask) && (sym == XK_q || sym == XK_w))) {
		ab_app_quit(app);
		return;
	}
	if (ab_app_list_keysym(&s->list, sym, &changed)) {
		if (changed)
			ab_app_redraw(app);
		return;
	}
	if (sym == XK_Return || sym == XK_KP_Enter || sym == XK_o)
		svc_open(s);
	else if (sym == XK_r)
		svc_restart(s);
	else if (sym == XK_F5)
		ask_list(s);
	else
		return;
	ab_app_redraw(app);
}

static void
svc_button(struct ab_app *app, int button, bool press, int x, int y, unsigned state)
{
	struct services_app *s = app->data;
	if (!press)
		return;
	if (button == 4 || button == 5) {
		list_scroll(&s->list, button == 4 ? -1 : 1);
	} else if (button == 1) {
		long r = list_row_at(&s->list, y - TOP_H, ROW_H);
		if (r < 0)
			return;
		list_select(&s->list, (size_t)r);
	}
	ab_app_redraw(app);
}

/* What the broker said, once per change: "services: 2 from the broker: mine (up), ...". */
static void
log_list(json_t *list)
{
	static char last[1024];
	char line[1024];
	size_t i, n = 0;
	json_t *svc;
	n += (size_t)snprintf(line, sizeof(line), "%zu from the broker:", json_array_size(list));
	json_array_foreach(list, i, svc)
	{
		if (n < sizeof(line))
			n +=
			    (size_t)snprintf(line + n, sizeof(line) - n, "%s %s (%s)", i ? "," : "",
			                     str_of(svc, "name", "?"), str_of(svc, "state", "?"));
	}
	if (strcmp(line, last) != 0)
		ab_info("services: %s", line);
	snprintf(last, sizeof(last), "%s", line);
}

/* A services_answer (docs/control-channel.md) for one of our requests. */
static void
svc_answer(struct ab_app *app, json_t *m)
{
	struct services_app *s = app->data;
	const char *op = str_of(m, "op", "");
	json_int_t status = json_integer_value(json_object_get(m, "status"));
	const char *err = str_of(m, "error", "");
	if (strcmp(str_of(m, "type", ""), "services_answer") != 0)
		return;
	if (strcmp(op, "list") == 0) {
		json_t *list = json_object_get(m, "services");
		if (status == 200 && json_is_array(list)) {
			json_decref(s->services);
			s->services = json_incref(list);
			list_set_count(&s->list, json_array_size(list));
			snprintf(s->status, sizeof(s->status), "%zu service%s, from the broker",
			         json_array_size(list), json_array_size(list) == 1 ? "" : "s");
			s->status_error = false;
			log_list(list);
		} else {
			snprintf(s->status, sizeof(s->status), "The broker answered %d: %.200s",
			         (int)status, err);
			s->status_error = true;
			ab_warn("services: %s", s->status);
		}
	} else if (strcmp(op, "restart") == 0) {
		const char *name = str_of(m, "service", "");
		if (status == 202)
			snprintf(s->message, sizeof(s->message), "restarting '%.64s'", name);
		else
			snprintf(s->message, sizeof(s->message), "cannot restart '%.64s': %.160s",
			         name, err[0] ? err : "refused");
		ab_info("services: %s", s->message);
		ask_list(s);
	}
	ab_app_redraw(app);
}

static void
svc_icon(cairo_t *cr, int s)
{
	ab_draw_icon_tile(cr, s, (const double[]){0.17, 0.35, 0.3},
	                  (const double[]){0.55, 0.9, 0.75});
	for (int i = 0; i < 3; i++) {
		ab_cairo_rounded(cr, s * 0.18, s * (0.18 + 0.23 * i), s * 0.64, s * 0.16, s * 0.04);
		cairo_fill(cr);
	}
}

static void
svc_start(struct ab_app *app)
{
	struct services_app *s = app->data;
	s->next_id = 1;
	snprintf(s->status, sizeof(s->status), "asking the broker through the desktop…");
	ask_list(s);
	s->timer = ab_loop_timer(app->loop, REFRESH_MS, on_refresh, s);
}

static void
svc_stop(struct ab_app *app)
{
	struct services_app *s = app->data;
	ab_loop_timer_cancel(app->loop, s->timer);
	json_decref(s->services);
}

static const struct ab_app_ops services_ops = {
    .start = svc_start,
    .stop = svc_stop,
    .draw = svc_draw,
    .key = svc_key,
    .button = svc_button,
    .answer = svc_answer,
};

int
main(int argc, char **argv)
{
	struct services_app *s = ab_xcalloc(1, sizeof(*s));
	struct ab_app_config cfg = {.name = "services",
	                            .title = "Services",
	                            .width = 720,
	                            .height = 440,
	                            .icon = svc_icon,
	                            .ops = &services_ops,
	                            .data = s};
	int code = ab_app_main(&s->app, &cfg, argc, argv);
	free(s);
	return code;
}
