/* SPDX-License-Identifier: GPL-2.0-or-later */
/* showcase: the landing page's live OS preview desktop (see showcase.h, docs/auth.md). */
#include "showcase.h"
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <string.h>

#define SHOWCASE_TICK_MS 1000
#define SHOWCASE_RECENT  512 /* preview connections remembered for the per-address rate */

struct recent {
	char peer[64];
	int64_t at_ms;
};

struct showcase {
	struct ab_loop *loop;
	struct demo *demo;
	struct desktop_manager *desktops;
	struct showcase_config cfg;
	char user[USERS_NAME_MAX + 1]; /* "" while there is no showcase desktop */
	int64_t started_ms, last_seen_ms;
	struct ab_timer *timer;
	struct recent recent[SHOWCASE_RECENT];
	size_t next_recent;
	showcase_seed_fn seed;
	void *seed_data;
};

void
showcase_set_seed(struct showcase *s, showcase_seed_fn fn, void *data)
{
	if (!s)
		return;
	s->seed = fn;
	s->seed_data = data;
}

static bool
profile_has_app(const struct users_profile *p, const char *app)
{
	for (size_t i = 0; i < p->n_apps; i++)
		if (strcmp(p->apps[i], app) == 0)
			return true;
	return false;
}

json_t *
showcase_layout(const struct users_profile *p)
{
	/* 1280x800 (the default geometry), the taskbar at the bottom */
	static const struct {
		const char *app, *klass, *id;
		int x, y, w, h;
	} layout[] = {
	    {"files", "ArgoBoxFiles", "argobox-files.desktop", 300, 380, 720, 330},
	    {"terminal", "ArgoBoxTerminal", "argobox-terminal.desktop", 660, 50, 580, 300},
	    {"monitor", "ArgoBoxMonitor", "argobox-monitor.desktop", 40, 40, 580, 400},
	};
	json_t *windows = json_array();
	for (size_t i = 0; i < AB_ARRAY_SIZE(layout); i++) {
		if (!profile_has_app(p, layout[i].app))
			continue;
		json_array_append_new(
		    windows,
		    json_pack("{s{ssss}sssisisisisisbsbsbsi}", "app", "class", layout[i].klass,
		              "desktop_id", layout[i].id, "title", "", "workspace", 0, "x",
		              layout[i].x, "y", layout[i].y, "w", layout[i].w, "h", layout[i].h,
		              "maximized", false, "minimized", false, "fullscreen", false, "stack",
		              (int)json_array_size(windows)));
	}
	return json_pack("{sisos{ssss}s{ssss}s{sisi}s{sss[]sb}s{}}", "version", 1, "windows",
	                 windows, "wallpaper", "image", "", "fit", "fill", "theme", "mode", "dark",
	                 "accent", "#3d8bfd", "workspaces", "count", 4, "current", 0, "taskbar",
	                 "position", "bottom", "pinned", "autohide", false, "prefs");
}

/* Viewers attached to the showcase desktop; -1 when it does not exist. */
static int
showcase_clients(const struct showcase *s)
{
	json_t *list = desktop_manager_list(s->desktops);
	int n = -1;
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "user")) ?: "", s->user) == 0)
			n = (int)json_integer_value(json_object_get(v, "clients"));
	}
	json_decref(list);
	return n;
}

static void
showcase_stop(struct showcase *s, const char *why)
{
	char user[sizeof(s->user)];
	snprintf(user, sizeof(user), "%s", s->user);
	s->user[0] = '\0';
	audit_log("preview.stop", AUDIT_INFO, user, "demo", NULL,
	          json_pack("{sssI}", "reason", why, "watched_s",
	                    (json_int_t)((ab_now_ms() - s->started_ms) / 1000)));
	ab_info("preview: showcase desktop '%s' ends (%s)", user, why);
	demo_end(s->demo, user, DEMO_END_IDLE);
}

static int64_t
showcase_tick(struct ab_loop *loop, void *data)
{
	struct showcase *s = data;
	if (!s->user[0])
		return SHOWCASE_TICK_MS;
	int64_t now = ab_now_ms();
	int n = showcase_clients(s);
	if (n > 0)
		s->last_seen_ms = now;
	else if (now - s->last_seen_ms >= s->cfg.grace_ms)
		showcase_stop(s, n < 0 ? "desktop gone" : "nobody watching");
	return SHOWCASE_TICK_MS;
}

struct showcase *
showcase_new(struct ab_loop *loop, struct demo *demo, struct desktop_manager *desktops,
             const struct showcase_config *cfg)
{
	if (!cfg->enabled)
		return NULL;
	struct showcase *s = ab_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->demo = demo;
	s->desktops = desktops;
	s->cfg = *cfg;
	s->timer = ab_loop_timer(loop, SHOWCASE_TICK_MS, showcase_tick, s);
	return s;
}

void
showcase_free(struct showcase *s)
{
	if (!s)
		return;
	ab_loop_timer_cancel(s->loop, s->timer);
	free(s);
}

const char *
showcase_user(const struct showcase *s)
{
	return s && s->user[0] ? s->user : NULL;
}

/* Counts this address's preview connections of the last minute, then remembers this one. */
static int
recent_hit(struct showcase *s, const char *peer, int64_t now)
{
	int n = 0;
	for (size_t i = 0; i < SHOWCASE_RECENT; i++)
		if (s->recent[i].at_ms && now - s->recent[i].at_ms < 60000 &&
		    strcmp(s->recent[i].peer, peer) == 0)
			n++;
	if (n >= s->cfg.per_ip_per_minute)
		return n;
	struct recent *r = &s->recent[s->next_recent++ % SHOWCASE_RECENT];
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->at_ms = now;
	return n;
}

int
showcase_viewer(struct showcase *s, const char *peer, const char **ret, struct ab_err *err)
{
	int64_t now = ab_now_ms();
	const char *src = peer ? peer : "";
	if (recent_hit(s, src, now) >= s->cfg.per_ip_per_minute)
		return ab_err_set(err, EAGAIN,
		                  "too many previews from this address, try again later");
	if (s->user[0] && showcase_clients(s) >= s->cfg.max_viewers)
		return ab_err_set(err, EUSERS, "the preview has %d viewers, try again later",
		                  s->cfg.max_viewers);
	if (!s->user[0]) {
		const struct users_profile *p =
		    s->cfg.profile ? s->cfg.profile : demo_default_profile(s->demo);
		if (!p)
			return ab_err_set(err, EINVAL, "no demo profile to preview");
		const struct demo_identity *id = NULL;
		int r = demo_reserve(s->demo, p, &id, err);
		if (r < 0)
			return r == -EUSERS ? ab_err_set(err, EUSERS,
			                                 "no demo desktop free for the "
			                                 "preview, try again later")
			                    : r;
		snprintf(s->user, sizeof(s->user), "%s", id->name);
		s->started_ms = now;
		if (s->seed && s->seed(s->seed_data, s->user, showcase_layout(p)) < 0)
			ab_warn("preview: the showcase layout was not stored: it starts empty");
		audit_log("preview.start", AUDIT_INFO, s->user, "demo", peer,
		          json_pack("{ssss}", "reason", "first viewer", "profile", p->name));
		ab_info("preview: showcase desktop '%s' (%s) starts for its first viewer", s->user,
		        p->name);
	}
	s->last_seen_ms = now;
	*ret = s->user;
	return 0;
}
