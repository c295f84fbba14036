/* SPDX-License-Identifier: GPL-2.0-or-later */
/* deskstate_sync: desktop state wm -> session -> broker -> store, and back at start (see .h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "audit.h"
#include "deskstate.h"
#include "deskstate_sync.h"

#define API_PREFIX     "/api/desktops/"
#define RESTART_PREFIX "/api/desktop/"

struct entry {
	char *user;
	json_t *state;     /* last good state, NULL: none stored */
	bool written;      /* set by this process: the start-up load must not overwrite it */
	int64_t recv_ms;   /* when the state being written arrived */
	unsigned inflight; /* writes not yet acknowledged */
	struct entry *next;
};

struct deskstate_sync {
	struct ab_loop *loop;
	struct kv *kv;
	struct entry *entries;
	bool loaded;
	unsigned load_pending; /* list pages and gets of the start-up load */
	unsigned inflight;
	int64_t last_aside_ms;
	struct deskstate_sync_stats stats;
	struct desktop_manager *desktops; /* running desktops get PUTs live, or NULL */
	struct destroy *destroys;         /* desktops to stop once their state is flushed */
	struct restart *restarts;         /* stopped desktops to start again */
};

/*
 * DELETE /api/desktops/<user> of a ready desktop: stopped after its wm's next
 * state. POST /api/desktop[/<user>]/restart takes the same path and then
 * starts the desktop again (`restart`).
 */
struct destroy {
	struct deskstate_sync *s;
	char *user;
	struct ab_timer *timer;
	bool restart;
	struct destroy *next;
};

/* A restart whose old desktop is stopping: started again once it is gone. */
struct restart {
	struct deskstate_sync *s;
	char *user;
	struct ab_timer *timer;
	struct desktop_waiter *waiter; /* the new desktop's start, or NULL */
	int64_t deadline_ms;
	struct restart *next;
};

#define RESTART_POLL_MS 50
#define RESTART_GONE_MS 30000 /* the longest a restart waits for the old desktop to go */

#define DESTROY_FLUSH_MS 2000 /* the longest a destroy waits for the wm's current state */

struct op {
	struct deskstate_sync *s;
	char *user;
	char *runtime_dir;
	desktop_prepare_done_fn done;
	void *token;
	int64_t recv_ms;
};

static void
op_free(struct op *op)
{
	free(op->user);
	free(op->runtime_dir);
	free(op);
}

static struct op *
op_new(struct deskstate_sync *s, const char *user)
{
	struct op *op = ab_xcalloc(1, sizeof(*op));
	op->s = s;
	op->user = ab_xstrdup(user);
	return op;
}

static struct entry *
entry_get(struct deskstate_sync *s, const char *user, bool create)
{
	for (struct entry *e = s->entries; e; e = e->next)
		if (strcmp(e->user, user) == 0)
			return e;
	if (!create)
		return NULL;
	struct entry *e = ab_xcalloc(1, sizeof(*e));
	e->user = ab_xstrdup(user);
	e->next = s->entries;
	s->entries = e;
	return e;
}

/* Validates a state: an object that the window manager's validator accepts, not too big. */
static int
state_check(json_t *state, struct ab_err *err)
{
	if (!json_is_object(state))
		return ab_err_set(err, EINVAL, "state: not a JSON object");
	_cleanup_free_ char *text = json_dumps(state, JSON_COMPACT);
	if (!text)
		return ab_err_set(err, EINVAL, "state: cannot be encoded");
	if (strlen(text) > DESKSTATE_MAX_BYTES)
		return ab_err_set(err, E2BIG, "state: larger than %u bytes", DESKSTATE_MAX_BYTES);
	return deskstate_validate(state, err);
}

static char *
state_key(const char *user)
{
	return ab_xasprintf(DESKSTATE_SYNC_KEY_PREFIX "%s", user);
}

/* ---- writes ---- */

static void
on_written(int error, const char *errmsg, void *data)
{
	struct op *op = data;
	struct deskstate_sync *s = op->s;
	struct entry *e = entry_get(s, op->user, true);
	AB_ASSERT(s->inflight > 0 && e->inflight > 0);
	s->inflight--;
	e->inflight--;
	if (error < 0) {
		s->stats.failed++;
		ab_error("desktop state of '%s': store write failed: %s", op->user, errmsg);
		audit_log("state.store", AUDIT_FAILURE, op->user, NULL, NULL,
		          json_pack("{ss}", "reason", errmsg));
	} else {
		s->stats.stored++;
		s->stats.last_durable_ms = ab_now_ms() - op->recv_ms;
		ab_debug("desktop state of '%s' durable %lld ms after it arrived", op->user,
		         (long long)s->stats.last_durable_ms);
	}
	op_free(op);
}

/* Stores `state` (stolen; NULL deletes) as the user's state. */
static int
state_store(struct deskstate_sync *s, const char *user, json_t *state, int64_t recv_ms,
            struct ab_err *err)
{
	_cleanup_free_ char *key = state_key(user);
	struct op *op = op_new(s, user);
	op->recv_ms = recv_ms;
	int r;
	if (state) {
		_cleanup_free_ char *text = json_dumps(state, JSON_COMPACT);
		r = kv_put(s->kv, key, text, strlen(text),
		           &(struct kv_put_opts){.metadata = "{\"v\":1}"}, on_written, op, err);
	} else {
		r = kv_delete(s->kv, key, on_written, op, err);
	}
	if (r < 0) {
		json_decref(state);
		op_free(op);
		s->stats.failed++;
		return r;
	}
	struct entry *e = entry_get(s, user, true);
	json_decref(e->state);
	e->state = state;
	e->written = true;
	e->inflight++;
	s->inflight++;
	return 0;
}

int
deskstate_sync_forget(struct deskstate_sync *s, const char *user, struct ab_err *err)
{
	return state_store(s, user, NULL, ab_now_ms(), err);
}

int
deskstate_sync_publish(struct deskstate_sync *s, const char *user, json_t *state)
{
	int64_t now = ab_now_ms();
	s->stats.published++;
	struct ab_err err = {0};
	if (!desktop_user_valid(user))
		return -EINVAL;
	if (state_check(state, &err) < 0) {
		s->stats.rejected++;
		ab_warn("desktop state of '%s' rejected: %s", user, err.msg);
		audit_log("state.rejected", AUDIT_DENY, user, NULL, "session",
		          json_pack("{ss}", "reason", err.msg));
		return err.code ? -err.code : -EINVAL;
	}
	struct entry *e = entry_get(s, user, false);
	if (e && e->state && json_equal(e->state, state)) {
		s->stats.unchanged++;
		return 0;
	}
	int r = state_store(s, user, json_deep_copy(state), now, &err);
	if (r < 0)
		ab_error("desktop state of '%s': %s", user, err.msg);
	return r;
}

static void destroy_now(struct deskstate_sync *s, const char *user, const char *why);

void
deskstate_sync_on_message(void *data, const char *user, json_t *msg)
{
	struct deskstate_sync *s = data;
	const char *type = ab_proto_type(msg);
	if (!type || strcmp(type, "state") != 0)
		return;
	deskstate_sync_publish(s, user, json_object_get(msg, "state"));
	destroy_now(s, user, "state flushed");
}

/* ---- desktop start ---- */

static void
prepare_finish(struct op *op, const char *state_file)
{
	_cleanup_free_ char *env =
	    state_file ? ab_xasprintf("ARGOBOX_STATE_FILE=%s", state_file) : NULL;
	const char *envv[] = {env, NULL};
	op->done(op->token, 0, env ? envv : NULL);
	op_free(op);
}

static void
on_set_aside(int error, const char *errmsg, void *data)
{
	struct op *op = data;
	if (error < 0)
		ab_error("desktop state of '%s': setting the rejected value aside: %s", op->user,
		         errmsg);
	op_free(op);
}

/* A stored value failed validation: keep a copy under desktop-rejected/, drop it, audit. */
static void
set_aside(struct deskstate_sync *s, const char *user, const struct kv_value *v, const char *why)
{
	s->stats.rejected++;
	struct ab_err err = {0};
	/* unix ms; strictly increasing so that two rejections never share a key */
	s->last_aside_ms = AB_MAX(ab_wall_ms(), s->last_aside_ms + 1);
	_cleanup_free_ char *key = ab_xasprintf(DESKSTATE_SYNC_REJECTED_PREFIX "%s/%lld", user,
	                                        (long long)s->last_aside_ms);
	ab_warn("stored desktop state of '%s' rejected (%s): set aside as '%s', booting defaults",
	        user, why, key);
	audit_log("state.rejected", AUDIT_DENY, user, NULL, "store",
	          json_pack("{ssss}", "reason", why, "set_aside", key));
	struct op *op = op_new(s, user);
	if (kv_put(s->kv, key, v->data, v->len, NULL, on_set_aside, op, &err) < 0) {
		ab_error("desktop state of '%s': %s", user, err.msg);
		op_free(op);
	}
	ab_err_clear(&err);
	if (state_store(s, user, NULL, ab_now_ms(), &err) < 0)
		ab_error("desktop state of '%s': %s", user, err.msg);
}

/* Parses and validates a stored value; NULL (with why) when it is not acceptable. */
static json_t *
stored_state(const struct kv_value *v, struct ab_err *err)
{
	json_error_t je;
	if (v->len > DESKSTATE_MAX_BYTES) {
		ab_err_set(err, E2BIG, "larger than %u bytes", DESKSTATE_MAX_BYTES);
		return NULL;
	}
	json_t *root = json_loadb(v->data, v->len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		ab_err_set(err, EINVAL, "not JSON: %s", je.text);
		return NULL;
	}
	if (state_check(root, err) < 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static void
on_prepare_get(int error, const char *errmsg, const struct kv_value *v, void *data)
{
	struct op *op = data;
	struct deskstate_sync *s = op->s;
	if (error == -ENOENT) {
		ab_info("desktop of '%s': no stored state, booting defaults", op->user);
		prepare_finish(op, NULL);
		return;
	}
	if (error < 0) {
		/* The store is unreachable: the desktop still starts (with defaults). */
		ab_error("desktop of '%s': reading its stored state: %s; booting defaults",
		         op->user, errmsg);
		prepare_finish(op, NULL);
		return;
	}
	struct ab_err err = {0};
	_cleanup_(json_decrefp) json_t *state = stored_state(v, &err);
	if (!state) {
		set_aside(s, op->user, v, err.msg);
		prepare_finish(op, NULL);
		return;
	}
	_cleanup_free_ char *path = ab_xasprintf("%s/" DESKSTATE_SYNC_FILE, op->runtime_dir);
	if (ab_write_file_atomic(path, v->data, v->len, 0600, &err) < 0) {
		ab_error("desktop of '%s': %s; booting defaults", op->user, err.msg);
		prepare_finish(op, NULL);
		return;
	}
	struct entry *e = entry_get(s, op->user, true);
	if (!e->written && !e->state)
		e->state = json_incref(state);
	ab_info("desktop of '%s': restoring its stored state (%zu bytes)", op->user, v->len);
	prepare_finish(op, path);
}

int
deskstate_sync_prepare(void *data, const char *user, const char *runtime_dir,
                       desktop_prepare_done_fn done, void *token)
{
	struct deskstate_sync *s = data;
	struct ab_err err = {0};
	/* An old file must never be restored by mistake. */
	_cleanup_free_ char *path = ab_xasprintf("%s/" DESKSTATE_SYNC_FILE, runtime_dir);
	if (unlink(path) < 0 && errno != ENOENT)
		ab_warn("desktop of '%s': removing '%s': %m", user, path);
	struct op *op = op_new(s, user);
	op->runtime_dir = ab_xstrdup(runtime_dir);
	op->done = done;
	op->token = token;
	_cleanup_free_ char *key = state_key(user);
	int r = kv_get(s->kv, key, on_prepare_get, op, &err);
	if (r < 0) {
		ab_error("desktop of '%s': %s", user, err.msg);
		op_free(op);
	}
	return r;
}

/* ---- start-up load of the "desktop/" keys ---- */

static void load_done_one(struct deskstate_sync *s);

static void
on_load_get(int error, const char *errmsg, const struct kv_value *v, void *data)
{
	struct op *op = data;
	struct deskstate_sync *s = op->s;
	if (error == 0) {
		struct ab_err err = {0};
		json_t *state = stored_state(v, &err);
		struct entry *e = entry_get(s, op->user, true);
		if (!state)
			ab_warn("stored desktop state of '%s' is not valid (%s); it will be set "
			        "aside at the desktop's next start",
			        op->user, err.msg);
		if (!e->written && state && !e->state)
			e->state = json_incref(state);
		json_decref(state);
	} else if (error != -ENOENT) {
		ab_error("loading the desktop state of '%s': %s", op->user, errmsg);
	}
	op_free(op);
	load_done_one(s);
}

static void on_load_page(int error, const char *errmsg, const struct kv_list_result *r, void *data);

static void
load_done_one(struct deskstate_sync *s)
{
	AB_ASSERT(s->load_pending > 0);
	if (--s->load_pending == 0) {
		s->loaded = true;
		unsigned n = 0;
		for (struct entry *e = s->entries; e; e = e->next)
			n += e->state != NULL;
		ab_info("desktop states loaded: %u user(s)", n);
	}
}

static void
on_load_page(int error, const char *errmsg, const struct kv_list_result *r, void *data)
{
	struct deskstate_sync *s = data;
	struct ab_err err = {0};
	if (error < 0) {
		ab_error("listing the stored desktop states: %s", errmsg);
		load_done_one(s);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const char *user = r->entries[i].name + strlen(DESKSTATE_SYNC_KEY_PREFIX);
		if (!desktop_user_valid(user))
			continue;
		struct op *op = op_new(s, user);
		if (kv_get(s->kv, r->entries[i].name, on_load_get, op, &err) < 0) {
			ab_error("%s", err.msg);
			ab_err_clear(&err);
			op_free(op);
			continue;
		}
		s->load_pending++;
	}
	if (r->cursor) {
		if (kv_list(s->kv, DESKSTATE_SYNC_KEY_PREFIX, r->cursor, 100, on_load_page, s,
		            &err) == 0)
			return; /* the next page takes over this pending count */
		ab_error("%s", err.msg);
	}
	load_done_one(s);
}

int
deskstate_sync_new(struct ab_loop *loop, struct kv *kv, struct deskstate_sync **ret,
                   struct ab_err *err)
{
	struct deskstate_sync *s = ab_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->kv = kv;
	s->stats.last_durable_ms = -1;
	int r = kv_list(kv, DESKSTATE_SYNC_KEY_PREFIX, NULL, 100, on_load_page, s, err);
	if (r < 0) {
		free(s);
		return ab_err_wrap(err, "loading the stored desktop states");
	}
	s->load_pending = 1;
	*ret = s;
	return 0;
}

void
deskstate_sync_free(struct deskstate_sync *s)
{
	if (!s)
		return;
	for (struct destroy *x = s->destroys, *next; x; x = next) {
		next = x->next;
		ab_loop_timer_cancel(s->loop, x->timer);
		free(x->user);
		free(x);
	}
	/* a waiter still pending belongs to the desktop manager, freed before us */
	for (struct restart *r = s->restarts, *next; r; r = next) {
		next = r->next;
		ab_loop_timer_cancel(s->loop, r->timer);
		free(r->user);
		free(r);
	}
	for (struct entry *e = s->entries, *next; e; e = next) {
		next = e->next;
		json_decref(e->state);
		free(e->user);
		free(e);
	}
	free(s);
}

bool
deskstate_sync_idle(const struct deskstate_sync *s)
{
	return s->loaded && s->inflight == 0;
}

void
deskstate_sync_get_stats(const struct deskstate_sync *s, struct deskstate_sync_stats *ret)
{
	*ret = s->stats;
}

/* ---- HTTP ---- */

static int
http_deny(struct http_request *req, struct http_response *resp, const char *event,
          const char *target, int status, const char *why)
{
	audit_log(event, AUDIT_DENY, req->user[0] ? req->user : NULL,
	          req->role[0] ? req->role : NULL, req->peer,
	          json_pack("{ssss}", "target", target, "reason", why));
	http_response_error(resp, status, why);
	return 0;
}

/* 405 for a method the route does not take; `allow` lists those it does (the Allow header). */
static int
not_allowed(struct http_response *resp, const char *msg, const char *allow)
{
	http_response_error(resp, 405, msg);
	http_response_add_header(resp, "Allow", allow);
	return 0;
}

/*
 * Refuses, audited as `event`, a caller who may not act on target's desktop: 401 when nobody
 * is signed in; 403 with `why_not` when target is someone else and the caller is no admin.
 * Returns true when it refused (the answer is in resp).
 */
static bool
refuse_other_user(struct http_request *req, struct http_response *resp, const char *event,
                  const char *target, const char *why_not)
{
	if (!req->user[0]) {
		http_deny(req, resp, event, target, 401, "not signed in");
		return true;
	}
	if (strcmp(req->role, "admin") == 0 || strcmp(req->user, target) == 0)
		return false;
	http_deny(req, resp, event, target, 403, why_not);
	return true;
}

/* refuse_other_user(), then 503 while there are no desktops to act on. */
static bool
refuse_desktop_action(struct deskstate_sync *s, struct http_request *req,
                      struct http_response *resp, const char *event, const char *target,
                      const char *why_not)
{
	if (refuse_other_user(req, resp, event, target, why_not))
		return true;
	if (!s->desktops) {
		http_response_error(resp, 503, "desktops are not available");
		return true;
	}
	return false;
}

/* ---- /api/desktops/<user>: status and destroy ---- */

static void
destroy_free(struct deskstate_sync *s, struct destroy *x)
{
	for (struct destroy **pp = &s->destroys; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	free(x->user);
	free(x);
}

static struct destroy *
destroy_find(struct deskstate_sync *s, const char *user)
{
	for (struct destroy *x = s->destroys; x; x = x->next)
		if (strcmp(x->user, user) == 0)
			return x;
	return NULL;
}

static void
restart_free(struct restart *r)
{
	for (struct restart **pp = &r->s->restarts; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	ab_loop_timer_cancel(r->s->loop, r->timer);
	free(r->user);
	free(r);
}

static void
on_restarted(struct desktop *d, int status, void *data)
{
	struct restart *r = data;
	r->waiter = NULL; /* freed by the manager after this call */
	if (status < 0)
		ab_error("desktop of '%s': restart: the new desktop did not start: %s", r->user,
		         strerror(-status));
	else
		ab_info("desktop of '%s': restarted", r->user);
	audit_log("desktop.restart", status < 0 ? AUDIT_DENY : AUDIT_INFO, r->user, NULL, "broker",
	          json_pack("{ssss}", "target", r->user, "result",
	                    status < 0 ? strerror(-status) : "ready"));
	restart_free(r);
}

/* Polls until the old desktop is gone, then starts a new one (with the stored state). */
static int64_t
restart_tick(struct ab_loop *loop, void *data)
{
	struct restart *r = data;
	struct deskstate_sync *s = r->s;
	if (!s->desktops) {
		r->timer = NULL;
		restart_free(r);
		return AB_TIMER_STOP;
	}
	if (desktop_exists(s->desktops, r->user)) {
		if (ab_now_ms() < r->deadline_ms)
			return RESTART_POLL_MS;
		r->timer = NULL;
		ab_error("desktop of '%s': restart: the old desktop did not stop within %d ms",
		         r->user, RESTART_GONE_MS);
		restart_free(r);
		return AB_TIMER_STOP;
	}
	r->timer = NULL;
	struct ab_err err = {0};
	if (desktop_acquire(s->desktops, r->user, on_restarted, r, &r->waiter, &err) < 0) {
		ab_error("desktop of '%s': restart: %s", r->user, err.msg);
		restart_free(r);
	}
	return AB_TIMER_STOP;
}

static void
restart_after_stop(struct deskstate_sync *s, const char *user)
{
	struct restart *r = ab_xcalloc(1, sizeof(*r));
	r->s = s;
	r->user = ab_xstrdup(user);
	r->deadline_ms = ab_now_ms() + RESTART_GONE_MS;
	r->next = s->restarts;
	s->restarts = r;
	r->timer = ab_loop_timer(s->loop, 0, restart_tick, r);
}

/* Stops the desktop of a destroy or restart whose state is flushed (or not coming). */
static void
destroy_finish(struct deskstate_sync *s, struct destroy *x)
{
	if (s->desktops)
		desktop_stop(s->desktops, x->user);
	if (x->restart)
		restart_after_stop(s, x->user);
	destroy_free(s, x);
}

/* Stops `user`'s desktop when a destroy waits for it. */
static void
destroy_now(struct deskstate_sync *s, const char *user, const char *why)
{
	struct destroy *x = destroy_find(s, user);
	if (!x)
		return;
	ab_loop_timer_cancel(s->loop, x->timer);
	x->timer = NULL;
	ab_info("desktop of '%s': %s, stopping it (%s)", user, why,
	        x->restart ? "restart" : "destroy");
	destroy_finish(s, x);
}

static int64_t
on_destroy_timeout(struct ab_loop *loop, void *data)
{
	struct destroy *x = data;
	x->timer = NULL; /* returning AB_TIMER_STOP ends it */
	ab_warn("desktop of '%s': no state from its window manager within %d ms; stopping it "
	        "with the last state received",
	        x->user, DESTROY_FLUSH_MS);
	destroy_finish(x->s, x);
	return AB_TIMER_STOP;
}

/*
 * Ends `user`'s desktop. A ready one is first asked for its current state
 * (get_state: the wm exports at once instead of after its debounce), which
 * deskstate_sync_on_message() stores before stopping it; at most
 * DESTROY_FLUSH_MS later it is stopped anyway. Stopping removes the session
 * (with the OCI launcher: the container, its network rules, netns and
 * bundle); the home and the stored state stay.
 */
static void
destroy_start(struct deskstate_sync *s, const char *user, bool ready, bool restart)
{
	struct destroy *x = destroy_find(s, user);
	if (x) {
		x->restart = x->restart && restart; /* a destroy meanwhile wins */
		return;
	}
	if (ready && desktop_send(s->desktops, user, ab_proto_msg("get_state", NULL)) == 0) {
		x = ab_xcalloc(1, sizeof(*x));
		x->s = s;
		x->user = ab_xstrdup(user);
		x->restart = restart;
		x->timer = ab_loop_timer(s->loop, DESTROY_FLUSH_MS, on_destroy_timeout, x);
		x->next = s->destroys;
		s->destroys = x;
		return;
	}
	desktop_stop(s->desktops, user);
	if (restart)
		restart_after_stop(s, user);
}

/* The entry of desktop_manager_list() for `user` (new reference), or NULL. */
static json_t *
desktop_info(struct desktop_manager *m, const char *user)
{
	_cleanup_(json_decrefp) json_t *all = desktop_manager_list(m);
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "user")) ?: "", user) == 0)
			return json_incref(d);
	}
	return NULL;
}

/* deskstate_sync_end() and deskstate_sync_restart(). */
static int
end_or_restart(struct deskstate_sync *s, const char *user, bool restart)
{
	if (!s->desktops)
		return -ENOENT;
	_cleanup_(json_decrefp) json_t *info = desktop_info(s->desktops, user);
	if (!info)
		return -ENOENT;
	const char *state = json_string_value(json_object_get(info, "state"));
	if (restart && state && strcmp(state, "stopping") == 0 && !destroy_find(s, user))
		return -EBUSY;
	destroy_start(s, user, state && strcmp(state, "ready") == 0, restart);
	return 0;
}

int
deskstate_sync_end(void *data, const char *user)
{
	return end_or_restart(data, user, false);
}

int
deskstate_sync_restart(void *data, const char *user)
{
	return end_or_restart(data, user, true);
}

/* Answers 404 to event on target, who has no desktop running (audited as info). */
static int
no_desktop(const char *event, struct http_request *req, struct http_response *resp,
           const char *target)
{
	audit_log(event, AUDIT_INFO, req->user, req->role, req->peer,
	          json_pack("{ssss}", "target", target, "reason", "no desktop running"));
	http_response_error(resp, 404, "no desktop is running for this user");
	return 0;
}

/*
 * Grants event (audited): starts ending target's desktop, in state (NULL: unknown), and
 * with restart starting it again once it is gone; answers 202 {"user","status"}.
 */
static int
end_desktop(struct deskstate_sync *s, const char *event, struct http_request *req,
            struct http_response *resp, const char *target, const char *state, bool restart)
{
	audit_log(event, AUDIT_GRANT, req->user, req->role, req->peer,
	          json_pack("{ssss}", "target", target, "state", state ? state : "?"));
	ab_info("desktop of '%s': %s by '%s' (%s)", target, restart ? "restart asked" : "ended",
	        req->user, req->role);
	destroy_start(s, target, state && strcmp(state, "ready") == 0, restart);
	http_response_json(
	    resp, 202,
	    json_pack("{ssss}", "user", target, "status", restart ? "restarting" : "stopping"));
	return 0;
}

static int
desktop_http(struct deskstate_sync *s, struct http_request *req, struct http_response *resp,
             const char *target)
{
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	bool del = strcmp(req->method, "DELETE") == 0;
	if (!get && !del)
		return not_allowed(resp, "method not allowed (GET or DELETE)", "GET, DELETE");
	const char *event = get ? "desktop.status" : "desktop.destroy";
	if (strlen(target) > 32 || !desktop_user_valid(target))
		return http_deny(req, resp, event, target, 400, "invalid user name");
	if (refuse_desktop_action(s, req, resp, event, target,
	                          get ? "only an admin may see another user's desktop"
	                              : "only an admin may end another user's desktop"))
		return 0;
	_cleanup_(json_decrefp) json_t *info = desktop_info(s->desktops, target);
	const char *state = json_string_value(json_object_get(info, "state"));
	struct entry *e = entry_get(s, target, false);
	if (get) {
		json_t *body =
		    json_pack("{sssbss?sbsbsb}", "user", target, "running", info != NULL, "state",
		              state, "ending", destroy_find(s, target) != NULL, "stored_state",
		              e && e->state, "durable", !e || e->inflight == 0);
		if (info) {
			json_object_set(body, "clients", json_object_get(info, "clients"));
			json_object_set(body, "uptime_ms", json_object_get(info, "uptime_ms"));
		}
		http_response_json(resp, 200, body);
		http_response_add_header(resp, "Cache-Control", "no-store");
		return 0;
	}
	if (!info) {
		return no_desktop(event, req, resp, target);
	}
	return end_desktop(s, event, req, resp, target, state, false);
}

static int state_http(struct deskstate_sync *s, struct http_request *req,
                      struct http_response *resp, const char *target);

int
deskstate_sync_http(struct http_request *req, struct http_response *resp, void *data)
{
	struct deskstate_sync *s = data;
	const char *rest = req->path + strlen(API_PREFIX);
	if (strncmp(req->path, API_PREFIX, strlen(API_PREFIX)) != 0) {
		http_response_error(resp, 404, "not found");
		return 0;
	}
	const char *slash = strchr(rest, '/');
	if (!slash)
		return desktop_http(s, req, resp, rest);
	if (strcmp(slash, "/state") != 0 || (size_t)(slash - rest) > 32) {
		http_response_error(resp, 404, "not found");
		return 0;
	}
	char target[40];
	snprintf(target, sizeof(target), "%.*s", (int)(slash - rest), rest);
	return state_http(s, req, resp, target);
}

/*
 * The store refused a write (disk full, queue full, I/O error): nothing changed, the stored
 * state is kept. The user gets what happened without the server's paths (507 for a full
 * disk, else 503); the log and a failure audit line have the whole error.
 */
static int
store_failed(struct http_request *req, struct http_response *resp, const char *event,
             const char *target, const struct ab_err *err)
{
	bool full = err->code == ENOSPC || err->code == EDQUOT;
	ab_warn("desktop state of '%s' not stored: %s", target, err->msg);
	audit_log(event, AUDIT_FAILURE, req->user, req->role, req->peer,
	          json_pack("{ssssss}", "target", target, "reason",
	                    full ? "no space left in the store" : "the store failed", "error",
	                    err->msg));
	http_response_error(resp, full ? 507 : 503,
	                    full
	                        ? "no space left to save the desktop state (the server's disk or "
	                          "the store's queue is full): it was not saved, the stored one is "
	                          "kept"
	                        : "the desktop state store failed: the state was not saved (the "
	                          "stored one is kept); try again later");
	return 0;
}

/* GET|PUT|DELETE of `target`'s stored state (the /api/desktops/<user>/state and /api/state routes).
 */
static int
state_http(struct deskstate_sync *s, struct http_request *req, struct http_response *resp,
           const char *target)
{
	const char *event = strcmp(req->method, "GET") == 0      ? "state.read"
	                    : strcmp(req->method, "PUT") == 0    ? "state.replace"
	                    : strcmp(req->method, "DELETE") == 0 ? "state.reset"
	                                                         : NULL;
	if (!event)
		return not_allowed(resp, "method not allowed (GET, PUT or DELETE)",
		                   "GET, PUT, DELETE");
	if (!desktop_user_valid(target))
		return http_deny(req, resp, event, target, 400, "invalid user name");
	if (refuse_other_user(req, resp, event, target,
	                      "only an admin may access another user's desktop state"))
		return 0;
	if (!s->loaded) {
		http_response_error(resp, 503, "desktop states are still loading; retry");
		http_response_add_header(resp, "Retry-After", "1");
		return 0;
	}
	struct entry *e = entry_get(s, target, false);
	struct ab_err err = {0};
	if (strcmp(event, "state.read") == 0) {
		json_t *state;
		bool stored = e && e->state;
		if (stored) {
			state = json_incref(e->state);
		} else {
			struct deskstate ds;
			deskstate_init_default(&ds);
			state = deskstate_to_json(&ds);
			deskstate_free(&ds);
		}
		audit_log(event, AUDIT_GRANT, req->user, req->role, req->peer,
		          json_pack("{ss}", "target", target));
		http_response_json(resp, 200,
		                   json_pack("{sssosbsb}", "user", target, "state", state, "stored",
		                             stored, "durable", !e || e->inflight == 0));
		return 0;
	}
	if (strcmp(event, "state.replace") == 0) {
		json_error_t je;
		_cleanup_(json_decrefp) json_t *state = json_loadb(
		    req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &je);
		if (!state) {
			ab_err_set(&err, EINVAL, "not JSON: %s", je.text);
		} else if (state_check(state, &err) == 0) {
			if (state_store(s, target, json_incref(state), ab_now_ms(), &err) < 0)
				return store_failed(req, resp, event, target, &err);
			audit_log(event, AUDIT_GRANT, req->user, req->role, req->peer,
			          json_pack("{ss}", "target", target));
			/* a running desktop applies it now (the wm validates it again);
			 * else the next start restores it */
			bool live = s->desktops &&
			            desktop_send(s->desktops, target,
			                         ab_proto_msg("restore", json_pack("{sO}", "state",
			                                                           state))) == 0;
			http_response_json(resp, 200,
			                   json_pack("{ssss}", "status", "saved", "applied",
			                             live ? "now" : "next desktop start"));
			return 0;
		}
		audit_log("state.rejected", AUDIT_DENY, req->user, req->role, req->peer,
		          json_pack("{ssss}", "target", target, "reason", err.msg));
		http_response_error(resp, 400, err.msg);
		return 0;
	}
	/* reset */
	if (state_store(s, target, NULL, ab_now_ms(), &err) < 0)
		return store_failed(req, resp, event, target, &err);
	audit_log(event, AUDIT_GRANT, req->user, req->role, req->peer,
	          json_pack("{ss}", "target", target));
	http_response_json(resp, 200,
	                   json_pack("{ssss}", "status", "reset", "applied", "next desktop start"));
	return 0;
}

/*
 * POST /api/desktop/restart (the caller's own desktop) and POST
 * /api/desktop/<user>/restart (own; an admin anyone's): a restart that keeps
 * the desktop's state. A ready desktop is asked for its current state first
 * (get_state, as DELETE does: what the wm holds back in its debounce is
 * stored), then stopped, then started again once it is gone: the new session
 * restores the stored state (windows, wallpaper, theme, ...). 202
 * {"user","status":"restarting"}; 404 when no desktop runs.
 */
int
deskstate_sync_restart_http(struct http_request *req, struct http_response *resp, void *data)
{
	struct deskstate_sync *s = data;
	const char *event = "desktop.restart";
	const char *rest = req->path + strlen(RESTART_PREFIX);
	char target[sizeof(req->user) + 1];
	if (strncmp(req->path, RESTART_PREFIX, strlen(RESTART_PREFIX)) != 0) {
		http_response_error(resp, 404, "not found");
		return 0;
	}
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
		/* GET /api/desktop/<user>: the status, as GET /api/desktops/<user> */
		if (!rest[0] || strchr(rest, '/') || strlen(rest) > 32) {
			http_response_error(resp, 404, "not found");
			return 0;
		}
		return desktop_http(s, req, resp, rest);
	}
	if (strcmp(rest, "restart") == 0) {
		snprintf(target, sizeof(target), "%s", req->user);
	} else {
		const char *slash = strchr(rest, '/');
		if (!slash || strcmp(slash, "/restart") != 0) {
			http_response_error(resp, 404, "not found");
			return 0;
		}
		if ((size_t)(slash - rest) > 32)
			return http_deny(req, resp, event, "?", 400, "invalid user name");
		snprintf(target, sizeof(target), "%.*s", (int)(slash - rest), rest);
	}
	if (strcmp(req->method, "POST") != 0)
		return not_allowed(resp, "method not allowed (POST)", "POST");
	/* signed in before the name: the own-desktop form has no name without a user */
	if (!req->user[0])
		return http_deny(req, resp, event, target[0] ? target : "-", 401, "not signed in");
	if (!desktop_user_valid(target))
		return http_deny(req, resp, event, target, 400, "invalid user name");
	if (refuse_desktop_action(s, req, resp, event, target,
	                          "only an admin may restart another user's desktop"))
		return 0;
	_cleanup_(json_decrefp) json_t *info = desktop_info(s->desktops, target);
	if (!info) {
		return no_desktop(event, req, resp, target);
	}
	const char *state = json_string_value(json_object_get(info, "state"));
	if (state && strcmp(state, "stopping") == 0 && !destroy_find(s, target)) {
		http_response_error(resp, 409, "the desktop is stopping");
		return 0;
	}
	return end_desktop(s, event, req, resp, target, state, true);
}

/* GET /api/desktop: the caller's own desktop status. */
static int
own_desktop_http(struct http_request *req, struct http_response *resp, void *data)
{
	if (!req->user[0])
		return http_deny(req, resp, "desktop.status", "-", 401, "not signed in");
	return desktop_http(data, req, resp, req->user);
}

/* GET|PUT /api/state (the caller's own), GET /api/state/<user>: as /api/desktops/<user>/state. */
static int
state_alias_http(struct http_request *req, struct http_response *resp, void *data)
{
	const char *rest = strncmp(req->path, "/api/state/", 11) == 0 ? req->path + 11 : NULL;
	if (!rest && !req->user[0])
		return http_deny(req, resp, "state.read", "-", 401, "not signed in");
	if (rest && (!rest[0] || strchr(rest, '/') || strlen(rest) > 32)) {
		http_response_error(resp, 404, "not found");
		return 0;
	}
	return state_http(data, req, resp, rest ? rest : req->user);
}

/*
 * The routes, one per authz row (tests/unit/auth/authz_routes.py compares this
 * list with broker/auth/authz.c's table; the prefix routes below serve exactly these):
 *
 * routes:
 *   GET    /api/desktops/{user}
 *   DELETE /api/desktops/{user}
 *   GET    /api/desktops/{user}/state
 *   PUT    /api/desktops/{user}/state
 *   DELETE /api/desktops/{user}/state
 *   GET    /api/desktop
 *   GET    /api/desktop/{user}
 *   POST   /api/desktop/restart
 *   POST   /api/desktop/{user}/restart
 *   GET    /api/state
 *   PUT    /api/state
 *   GET    /api/state/{user}
 * end routes
 */
int
deskstate_sync_add_routes(struct deskstate_sync *s, struct server *srv)
{
	static const struct server_route_def routes[] = {
	    {NULL, API_PREFIX, deskstate_sync_http},
	    {"GET", "/api/desktop", own_desktop_http},
	    {NULL, RESTART_PREFIX, deskstate_sync_restart_http},
	    {NULL, "/api/state", state_alias_http},
	    {NULL, "/api/state/", state_alias_http},
	};
	return SERVER_ROUTES_ADD(srv, routes, s);
}

void
deskstate_sync_set_desktops(struct deskstate_sync *s, struct desktop_manager *m)
{
	s->desktops = m;
}
