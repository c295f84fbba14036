/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state: the desktop state as the window manager sees it.
 *
 * Export: any change calls state_changed(); at most every EXPORT_MS the
 * state is built, and when it differs from the last one sent it goes to the
 * control channel ({"type":"state","state":{...}}) and to --state-out.
 *
 * Restore: state_restore_begin() keeps the saved windows as "pending",
 * starts the apps that are not already running (only through allowed
 * .desktop entries: a stored state never names a command), and
 * state_restore_match() gives each window that maps the workspace, geometry
 * and state of the first pending entry of the same app (same title first).
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXPORT_MS 500

static int64_t
export_tick(struct ab_loop *loop, void *data)
{
	wm.export_timer = NULL;
	state_export_now();
	return AB_TIMER_STOP;
}

void
state_changed(void)
{
	if (wm.export_timer || !wm.loop)
		return;
	int64_t wait = wm.last_export_ms + EXPORT_MS - ab_now_ms();
	wm.export_timer = ab_loop_timer(wm.loop, AB_MAX(wait, 0), export_tick, NULL);
}

json_t *
state_build(void)
{
	struct deskstate ds = wm.ds;
	struct deskstate_window wins[DESKSTATE_MAX_WINDOWS];
	size_t n = 0;
	/* stacking order, bottom first */
	for (size_t i = 0; i < wm.n_stack && n < DESKSTATE_MAX_WINDOWS; i++) {
		struct client *c = wm.stack[i];
		if (!c->in_taskbar)
			continue;
		struct deskstate_window *w = &wins[n];
		memset(w, 0, sizeof(*w));
		snprintf(w->wm_class, sizeof(w->wm_class), "%s", c->wm_class);
		snprintf(w->wm_instance, sizeof(w->wm_instance), "%s", c->wm_instance);
		snprintf(w->desktop_id, sizeof(w->desktop_id), "%s", c->desktop_id);
		snprintf(w->title, sizeof(w->title), "%s", c->title);
		w->workspace = c->ws < 0 ? 0 : c->ws;
		bool use_saved = (c->maximized || c->fullscreen) && c->saved;
		w->x = use_saved ? c->sx : c->x;
		w->y = use_saved ? c->sy : c->y;
		w->w = use_saved ? c->sw : c->w;
		w->h = use_saved ? c->sh : c->h;
		w->maximized = c->maximized;
		w->minimized = c->minimized;
		w->fullscreen = c->fullscreen;
		w->stack = (int)n;
		n++;
	}
	ds.windows = wins;
	ds.n_windows = n;
	return deskstate_to_json(&ds);
}

/*
 * Writes the --state-out copy: atomically (temp file + rename, so a reader
 * sees the old or the new state), but without fsync, which can stall the
 * event loop for seconds on a busy disk. The copy is for tools and tests;
 * the durable copy is the broker's.
 */
static void
write_state_copy(const char *path, const char *text)
{
	_cleanup_free_ char *tmp = ab_xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ab_warn("writing state '%s': %s", tmp, strerror(errno));
		return;
	}
	int r = ab_write_all(fd, text, strlen(text));
	close(fd);
	if (r < 0 || rename(tmp, path) < 0) {
		ab_warn("writing state '%s': %s", path, strerror(r < 0 ? -r : errno));
		unlink(tmp);
	}
}

void
state_export_now(void)
{
	/* while a restore runs the windows are not all there yet: publishing
	 * now would replace the saved layout with a partial one (a desktop
	 * stopped meanwhile would lose it); restore_finish() exports */
	if (wm.restoring) {
		ab_debug("state: not exported while restoring");
		return;
	}
	json_t *st = state_build();
	char *text = json_dumps(st, JSON_COMPACT);
	wm.last_export_ms = ab_now_ms();
	if (!text || (wm.last_export && strcmp(text, wm.last_export) == 0)) {
		free(text);
		json_decref(st);
		return;
	}
	free(wm.last_export);
	wm.last_export = text;
	ab_debug("state: exported %zu windows", json_array_size(json_object_get(st, "windows")));
	if (wm.state_out)
		write_state_copy(wm.state_out, text);
	ctl_send(ab_proto_msg("state", json_pack("{s:o}", "state", st)));
}

static void
restore_finish(void)
{
	if (!wm.restoring)
		return;
	wm.restoring = false;
	/* restored windows take the saved stacking order, above the others */
	struct client **v = ab_xcalloc(wm.n_stack + 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < wm.n_stack; i++) {
		if (wm.stack[i]->restore_rank < 0)
			v[k++] = wm.stack[i];
	}
	for (int rank = 0; rank < DESKSTATE_MAX_WINDOWS; rank++) {
		for (size_t i = 0; i < wm.n_stack; i++) {
			if (wm.stack[i]->restore_rank == rank)
				v[k++] = wm.stack[i];
		}
	}
	AB_ASSERT(k == wm.n_stack);
	if (k)
		memcpy(wm.stack, v, k * sizeof(*v));
	free(v);
	for (struct client *c = wm.clients; c; c = c->next)
		c->restore_rank = -1;
	client_restack();
	/* focus the topmost visible window */
	for (size_t i = wm.n_stack; i-- > 0;) {
		if (client_visible(wm.stack[i]) && wm.stack[i]->in_taskbar) {
			client_focus(wm.stack[i]);
			break;
		}
	}
	size_t missing = wm.n_pending - wm.n_placed - wm.n_dropped;
	ab_info("restore: placed %zu of %zu windows in %lld ms (%zu dropped: no allowed app to "
	        "start them; %zu did not appear in time)",
	        wm.n_placed, wm.n_pending, (long long)(ab_now_ms() - wm.restore_start_ms),
	        wm.n_dropped, missing);
	ab_loop_timer_cancel(wm.loop, wm.restore_timer);
	wm.restore_timer = NULL;
	free(wm.pending);
	wm.pending = NULL;
	wm.n_pending = 0;
	state_changed();
}

static int64_t
restore_timeout(struct ab_loop *loop, void *data)
{
	wm.restore_timer = NULL;
	for (size_t i = 0; i < wm.n_pending; i++) {
		if (!wm.pending[i].done)
			ab_warn("restore: '%s' (%s) did not appear within %d ms: not placed",
			        wm.pending[i].w.title, wm.pending[i].w.wm_class,
			        wm.restore_timeout_ms);
	}
	ab_warn("restore: gave up waiting for %zu windows",
	        wm.n_pending - wm.n_placed - wm.n_dropped);
	restore_finish();
	return AB_TIMER_STOP;
}

static int64_t
restore_done_tick(struct ab_loop *loop, void *data)
{
	wm.restore_timer = NULL;
	restore_finish();
	return AB_TIMER_STOP;
}

static bool
same_app(const struct deskstate_window *w, const struct client *c)
{
	if (strcmp(w->wm_class, c->wm_class) != 0)
		return false;
	return !w->wm_instance[0] || strcmp(w->wm_instance, c->wm_instance) == 0;
}

bool
state_restore_match(struct client *c)
{
	if (!wm.restoring || !c->in_taskbar)
		return false;
	struct pending *best = NULL;
	for (size_t i = 0; i < wm.n_pending; i++) {
		struct pending *p = &wm.pending[i];
		if (p->done || !same_app(&p->w, c))
			continue;
		if (strcmp(p->w.title, c->title) == 0) {
			best = p;
			break;
		}
		if (!best)
			best = p;
	}
	if (!best)
		return false;
	const struct deskstate_window *w = &best->w;
	best->done = true;
	wm.n_placed++;
	c->x = w->x;
	c->y = w->y;
	c->w = w->w;
	c->h = w->h;
	c->ws = w->workspace < wm.ds.ws_count ? w->workspace : 0;
	c->minimized = w->minimized;
	c->maximized = w->maximized;
	c->fullscreen = w->fullscreen;
	c->restore_rank = w->stack;
	ab_debug("restore: '%s' (%s) -> %dx%d%+d%+d ws %d", c->title, c->wm_class, c->w, c->h, c->x,
	         c->y, c->ws);
	if (wm.n_placed + wm.n_dropped == wm.n_pending) {
		/* finish after this window is fully managed */
		ab_loop_timer_cancel(wm.loop, wm.restore_timer);
		wm.restore_timer = ab_loop_timer(wm.loop, 0, restore_done_tick, NULL);
	}
	return true;
}

/* The command for a saved window: its .desktop entry, only if the profile allows it. */
static const struct desktop_entry *
entry_for(const struct deskstate_window *w)
{
	const struct desktop_entry *e = NULL;
	if (w->desktop_id[0])
		e = desktop_find(&wm.apps, w->desktop_id);
	if (!e)
		e = desktop_find_class(&wm.apps, w->wm_class, w->wm_instance);
	return e;
}

void
state_restore_begin(struct deskstate *ds)
{
	wm.restore_start_ms = ab_now_ms();
	wm.n_placed = 0;
	wm.n_dropped = 0;
	wm.n_pending = ds->n_windows;
	wm.pending = ab_xcalloc(ds->n_windows + 1, sizeof(*wm.pending));
	for (size_t i = 0; i < ds->n_windows; i++)
		wm.pending[i].w = ds->windows[i];
	wm.restoring = ds->n_windows > 0;
	if (wm.restoring)
		wm.restore_timer =
		    ab_loop_timer(wm.loop, wm.restore_timeout_ms, restore_timeout, NULL);
}

void
state_restore_launch(void)
{
	if (!wm.restoring)
		return;
	size_t launched = 0, skipped = 0;
	for (size_t i = 0; i < wm.n_pending; i++) {
		struct pending *p = &wm.pending[i];
		if (p->done)
			continue; /* already running (adopted) */
		const struct desktop_entry *e = entry_for(&p->w);
		if (!e) {
			/* e.g. an app started outside the launcher (no .desktop id) or one
			 * the profile no longer allows: a state never names a command */
			ab_warn("restore: dropped '%s' (%s%s%s): no allowed .desktop entry starts "
			        "it (a state never carries a command line)",
			        p->w.title, p->w.wm_class, p->w.desktop_id[0] ? ", " : "",
			        p->w.desktop_id);
			p->done = true;
			skipped++;
			continue;
		}
		if (launcher_spawn_restore(e, p->w.wm_instance) > 0)
			launched++;
	}
	ab_info("restore: %zu windows, %zu already open, %zu apps started, %zu dropped (no "
	        "allowed app)",
	        wm.n_pending, wm.n_placed, launched, skipped);
	/* dropped entries are not waited for: the restore completes without them */
	wm.n_dropped = skipped;
	if (wm.n_placed + wm.n_dropped == wm.n_pending) {
		ab_loop_timer_cancel(wm.loop, wm.restore_timer);
		wm.restore_timer = ab_loop_timer(wm.loop, 0, restore_done_tick, NULL);
	}
}

/* The saved entry for a running window: same app, same title first. */
static const struct deskstate_window *
live_match(const struct deskstate *ds, bool *used, const struct client *c)
{
	ssize_t best = -1;
	for (size_t i = 0; i < ds->n_windows; i++) {
		if (used[i] || !same_app(&ds->windows[i], c))
			continue;
		if (strcmp(ds->windows[i].title, c->title) == 0) {
			best = (ssize_t)i;
			break;
		}
		if (best < 0)
			best = (ssize_t)i;
	}
	if (best < 0)
		return NULL;
	used[best] = true;
	return &ds->windows[best];
}

void
state_apply_live(struct deskstate *ds)
{
	/* settings */
	theme_set(ds->mode, ds->accent);
	wallpaper_set(ds->wallpaper, ds->wallpaper_fit);
	memcpy(wm.ds.pinned, ds->pinned, sizeof(ds->pinned));
	wm.ds.n_pinned = ds->n_pinned;
	json_decref(wm.ds.prefs);
	wm.ds.prefs = ds->prefs;
	ds->prefs = NULL;
	wm.ds.ws_count = ds->ws_count;
	for (struct client *c = wm.clients; c; c = c->next) {
		if (c->ws >= wm.ds.ws_count)
			c->ws = wm.ds.ws_count - 1;
	}
	if (wm.ds.ws_current >= wm.ds.ws_count)
		wm.ds.ws_current = 0;
	workspace_switch(ds->ws_current);
	ewmh_update_desktops();
	taskbar_configure(ds->tb_position, ds->tb_autohide);

	/* windows that are open and saved: geometry, state, workspace, stacking */
	bool *used = ab_xcalloc(ds->n_windows + 1, sizeof(*used));
	int *rank = ab_xcalloc(wm.n_stack + 1, sizeof(*rank));
	size_t matched = 0;
	for (size_t i = 0; i < wm.n_stack; i++) {
		struct client *c = wm.stack[i];
		rank[i] = -1;
		if (!c->in_taskbar)
			continue;
		const struct deskstate_window *w = live_match(ds, used, c);
		if (!w)
			continue;
		matched++;
		rank[i] = w->stack;
		client_set_fullscreen(c, false);
		client_set_maximized(c, false);
		c->snapped = false;
		c->saved = false;
		client_move_resize(c, w->x, w->y, w->w, w->h);
		if (c->ws >= 0 && w->workspace != c->ws) {
			c->ws = w->workspace;
			ewmh_set_client_state(c);
		}
		client_set_maximized(c, w->maximized);
		client_set_fullscreen(c, w->fullscreen);
		client_set_minimized(c, w->minimized);
		client_show_hide(c);
	}
	/* matched windows take the saved order, above the others */
	struct client **v = ab_xcalloc(wm.n_stack + 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < wm.n_stack; i++) {
		if (rank[i] < 0)
			v[k++] = wm.stack[i];
	}
	for (int r = 0; r < DESKSTATE_MAX_WINDOWS; r++) {
		for (size_t i = 0; i < wm.n_stack; i++) {
			if (rank[i] == r)
				v[k++] = wm.stack[i];
		}
	}
	AB_ASSERT(k == wm.n_stack);
	if (k)
		memcpy(wm.stack, v, k * sizeof(*v));
	free(v);
	free(rank);
	free(used);
	client_restack();
	client_focus_top();
	taskbar_draw();
	ab_info("restore (live): %zu of %zu saved windows matched open windows", matched,
	        ds->n_windows);
	state_changed();
}
