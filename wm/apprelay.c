/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apprelay: the desktop apps' requests to the broker (argobox-services), relayed over the
 * control channel; never with the user's browser cookie (docs/control-channel.md).
 *
 *   app  --root _ARGOBOX_CTL_REQUEST: {"type":"services_request","id":N,"window":W,"op":..}-->
 *   wm   --control channel: services_request with the wm's own id-->  session  -->  broker
 *   broker --services_answer (same id)-->  session  -->  wm
 *   wm   --W's _ARGOBOX_CTL_ANSWER (appended, one JSON object a line): the answer, app's id-->
 *
 * The wm keeps at most APPRELAY_MAX requests in flight; one that gets no answer within
 * APPRELAY_TIMEOUT_MS is answered with status 504, one made while the channel is down with
 * 503, a malformed one with 400 (when it names a window) — an app always hears back.
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"

#include <string.h>

#define APPRELAY_MAX        32
#define APPRELAY_TIMEOUT_MS 10000

struct pending_req {
	json_int_t wm_id, app_id;
	Window win;
	char op[16];
	int64_t deadline_ms;
};

static struct pending_req reqs[APPRELAY_MAX];
static size_t n_reqs;
static json_int_t next_id = 1;
static struct ab_timer *timer;

/* Appends the answer to the app's window (an app's window that is gone: the error is ignored). */
static void
deliver(Window win, json_t *answer)
{
	static Atom prop, utf8;
	if (!prop) {
		prop = XInternAtom(wm.dpy, "_ARGOBOX_CTL_ANSWER", False);
		utf8 = XInternAtom(wm.dpy, "UTF8_STRING", False);
	}
	_cleanup_free_ char *text = json_dumps(answer, JSON_COMPACT);
	json_decref(answer);
	if (!text)
		return;
	_cleanup_free_ char *line = ab_xasprintf("%s\n", text);
	XChangeProperty(wm.dpy, win, prop, utf8, 8, PropModeAppend, (unsigned char *)line,
	                (int)strlen(line));
	XFlush(wm.dpy);
}

static void
answer_error(Window win, json_int_t app_id, const char *op, int status, const char *why)
{
	deliver(win, ab_proto_msg("services_answer", json_pack("{sIsssiss}", "id", app_id, "op", op,
	                                                       "status", status, "error", why)));
}

static void
drop(size_t i)
{
	memmove(&reqs[i], &reqs[i + 1], (n_reqs - i - 1) * sizeof(reqs[0]));
	n_reqs--;
}

static int64_t
on_timeout(struct ab_loop *loop, void *data)
{
	int64_t now = ab_now_ms(), next = -1;
	for (size_t i = 0; i < n_reqs;) {
		if (reqs[i].deadline_ms <= now) {
			answer_error(reqs[i].win, reqs[i].app_id, reqs[i].op, 504,
			             "no answer from the broker");
			drop(i);
			continue;
		}
		int64_t left = reqs[i].deadline_ms - now;
		next = next < 0 ? left : AB_MIN(next, left);
		i++;
	}
	if (next < 0) {
		timer = NULL;
		return AB_TIMER_STOP;
	}
	return next;
}

void
apprelay_request(json_t *m)
{
	json_t *jwin = json_object_get(m, "window"), *jid = json_object_get(m, "id");
	const char *op = json_string_value(json_object_get(m, "op"));
	const char *name = json_string_value(json_object_get(m, "name"));
	const char *action = json_string_value(json_object_get(m, "action"));
	if (!json_is_integer(jwin) || json_integer_value(jwin) <= 0 ||
	    json_integer_value(jwin) > 0xffffffffLL) {
		ab_warn("app request: services_request needs the app's 'window'; ignored");
		return;
	}
	Window win = (Window)json_integer_value(jwin);
	json_int_t app_id = json_is_integer(jid) ? json_integer_value(jid) : -1;
	bool vnc = op && strcmp(op, "vnc_password") == 0;
	if (app_id < 0 || !op || (strcmp(op, "list") && strcmp(op, "restart") && !vnc) ||
	    (strcmp(op, "restart") == 0 && (!name || strlen(name) > 64)) ||
	    (vnc && (!action || strlen(action) > 16))) {
		answer_error(win, app_id, op && strlen(op) < 16 ? op : "?", 400,
		             "needs an integer 'id' >= 0, 'op' list, restart or vnc_password, "
		             "'name' to restart and 'action' for vnc_password");
		return;
	}
	if (wm.ctl_fd < 0) {
		answer_error(win, app_id, op, 503, "the desktop is not connected to the broker");
		return;
	}
	if (n_reqs == APPRELAY_MAX) {
		answer_error(reqs[0].win, reqs[0].app_id, reqs[0].op, 503, "too many requests");
		drop(0);
	}
	struct pending_req *p = &reqs[n_reqs++];
	*p = (struct pending_req){
	    .wm_id = next_id++,
	    .app_id = app_id,
	    .win = win,
	    .deadline_ms = ab_now_ms() + APPRELAY_TIMEOUT_MS,
	};
	snprintf(p->op, sizeof(p->op), "%s", op);
	json_t *f = json_pack("{sIss}", "id", p->wm_id, "op", op);
	if (name)
		json_object_set_new(f, "name", json_string(name));
	if (vnc)
		json_object_set_new(f, "action", json_string(action));
	ctl_send(ab_proto_msg("services_request", f));
	if (!timer)
		timer = ab_loop_timer(wm.loop, APPRELAY_TIMEOUT_MS, on_timeout, NULL);
}

void
apprelay_answer(json_t *m)
{
	json_t *jid = json_object_get(m, "id");
	for (size_t i = 0; json_is_integer(jid) && i < n_reqs; i++) {
		if (reqs[i].wm_id != json_integer_value(jid))
			continue;
		json_t *a = json_deep_copy(m);
		json_object_set_new(a, "id", json_integer(reqs[i].app_id));
		deliver(reqs[i].win, a);
		drop(i);
		return;
	}
	ab_debug("control channel: services_answer for no pending request; ignored");
}

void
apprelay_stop(void)
{
	for (size_t i = 0; i < n_reqs; i++)
		answer_error(reqs[i].win, reqs[i].app_id, reqs[i].op, 503,
		             "the window manager is stopping");
	n_reqs = 0;
	ab_loop_timer_cancel(wm.loop, timer);
	timer = NULL;
}
