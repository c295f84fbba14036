/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * admin_api: the admin console's backend (see admin_api.h, docs/admin.md). Start at
 * admin_api_add_routes(); usage figures come from usage_read() (the session's cgroup).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_util.h"
#include "admin_api.h"
#include "audit.h"

#define STREAM_MAX    16
#define STREAM_BUFFER (4u << 20) /* per stream; a slower client skips snapshots */
#define KEEPALIVE_MS  15000
#define TITLE_MAX     200
#define BODY_MAX      2000

struct cpu_sample {
	struct cpu_sample *next;
	char user[USERS_NAME_MAX + 2];
	pid_t pid;
	unsigned long long cpu_ns;
	int64_t at_ms;
	double percent; /* of one CPU over the last interval; < 0: unknown yet */
};

struct stream;

struct admin_api {
	struct ab_loop *loop;
	struct server *srv; /* for the state area's own routes (destroy's reset) */
	struct admin_api_params p;
	struct stream *streams;
	unsigned n_streams;
	struct ab_timer *timer;
	char *last; /* the last "desktops" snapshot sent */
	int64_t last_sent_ms;
	struct cpu_sample *cpu;
	int64_t epoch_offset_ms; /* wall clock minus ab_now_ms(), taken once */
};

/* ---- usage: the session's cgroup (or its process when it has none of its own) ---- */

struct usage {
	const char *source; /* "cgroup", "process" or NULL */
	unsigned long long cpu_ns;
	long long memory_bytes; /* -1: unknown */
	long long pids;         /* -1: unknown */
};

static bool
cgroup_path_ok(const char *p)
{
	return p[0] == '/' && !strstr(p, "/..") && !strstr(p, "//") && !strchr(p, '\n');
}

/*
 * The path of controller `ctl` ("memory", "pids", "cpuacct"; "" for the v2 hierarchy) in
 * /proc/<pid>/cgroup, into buf. 0 or -ENOENT.
 */
static int
cgroup_of(const char *proc_cgroup, const char *ctl, char *buf, size_t len)
{
	for (const char *l = proc_cgroup; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		const char *c1 = memchr(l, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - l)) : NULL;
		if (c2) {
			size_t cl = (size_t)(c2 - c1 - 1);
			bool match = false;
			if (!ctl[0]) {
				match = cl == 0;
			} else {
				/* "cpu,cpuacct" names two controllers */
				for (const char *s = c1 + 1; s < c2;) {
					const char *e = memchr(s, ',', (size_t)(c2 - s));
					size_t sl = e ? (size_t)(e - s) : (size_t)(c2 - s);
					if (sl == strlen(ctl) && strncmp(s, ctl, sl) == 0)
						match = true;
					s += sl + 1;
				}
			}
			if (match) {
				snprintf(buf, len, "%.*s", (int)(n - (size_t)(c2 + 1 - l)), c2 + 1);
				return cgroup_path_ok(buf) ? 0 : -ENOENT;
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

static long long
read_ll(const char *path)
{
	_cleanup_free_ char *s = NULL;
	size_t n = 0;
	struct ab_err err = {0};
	if (ab_read_file(path, 4096, &s, &n, &err) < 0)
		return -1;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	return end == s ? -1 : v;
}

/* The v1 directory of controller `ctl` ("cpu,cpuacct" is mounted under either name). */
static char *
cgroup_v1_file(const char *ctl, const char *path, const char *file)
{
	return ab_xasprintf("/sys/fs/cgroup/%s%s/%s", ctl, path, file);
}

static int
usage_cgroup(const char *mine, const char *theirs, struct usage *u)
{
	char a[1024], b[1024];
	/* cgroup v1: the memory controller's path tells whether it has one of its own */
	if (cgroup_of(theirs, "memory", a, sizeof(a)) == 0) {
		if (cgroup_of(mine, "memory", b, sizeof(b)) == 0 && strcmp(a, b) == 0)
			return -ENOENT;
		_cleanup_free_ char *mem = cgroup_v1_file("memory", a, "memory.usage_in_bytes");
		u->memory_bytes = read_ll(mem);
		if (cgroup_of(theirs, "pids", a, sizeof(a)) == 0) {
			_cleanup_free_ char *pids = cgroup_v1_file("pids", a, "pids.current");
			u->pids = read_ll(pids);
		}
		if (cgroup_of(theirs, "cpuacct", a, sizeof(a)) == 0) {
			_cleanup_free_ char *cpu = cgroup_v1_file("cpuacct", a, "cpuacct.usage");
			long long ns = read_ll(cpu);
			u->cpu_ns = ns > 0 ? (unsigned long long)ns : 0;
		}
		u->source = "cgroup";
		return 0;
	}
	/* cgroup v2 */
	if (cgroup_of(theirs, "", a, sizeof(a)) < 0 ||
	    (cgroup_of(mine, "", b, sizeof(b)) == 0 && strcmp(a, b) == 0))
		return -ENOENT;
	_cleanup_free_ char *mem = ab_xasprintf("/sys/fs/cgroup%s/memory.current", a);
	_cleanup_free_ char *pids = ab_xasprintf("/sys/fs/cgroup%s/pids.current", a);
	_cleanup_free_ char *stat = ab_xasprintf("/sys/fs/cgroup%s/cpu.stat", a);
	u->memory_bytes = read_ll(mem);
	u->pids = read_ll(pids);
	_cleanup_free_ char *s = NULL;
	size_t n = 0;
	struct ab_err err = {0};
	unsigned long long usec = 0;
	if (ab_read_file(stat, 65536, &s, &n, &err) == 0 &&
	    sscanf(s, "usage_usec %llu", &usec) == 1)
		u->cpu_ns = usec * 1000ull;
	u->source = "cgroup";
	return 0;
}

/* No cgroup of its own (the process launcher): the session's first process alone. */
static int
usage_process(pid_t pid, struct usage *u)
{
	_cleanup_free_ char *s = NULL;
	size_t n = 0;
	struct ab_err err = {0};
	if (ab_read_proc(pid, "stat", 8192, &s, &n, &err) < 0)
		return -ENOENT;
	const char *p = strrchr(s, ')');
	unsigned long long ut = 0, st = 0;
	long long threads = 0, rss = 0;
	/* fields 3.. after the command: state ppid pgrp ... utime(14) stime(15) ... */
	if (!p || sscanf(p + 2,
	                 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
	                 "%lld %*d %*u %*u %lld",
	                 &ut, &st, &threads, &rss) != 4)
		return -EINVAL;
	long tck = sysconf(_SC_CLK_TCK);
	u->cpu_ns = (ut + st) * (1000000000ull / (unsigned long long)(tck > 0 ? tck : 100));
	u->memory_bytes = rss * sysconf(_SC_PAGESIZE);
	u->pids = threads;
	u->source = "process";
	return 0;
}

/* `mine`: the broker's own /proc/self/cgroup (read once per list), or NULL. */
static void
usage_read(pid_t pid, const char *mine, struct usage *u)
{
	*u = (struct usage){.memory_bytes = -1, .pids = -1};
	if (pid <= 0)
		return;
	_cleanup_free_ char *theirs = NULL;
	size_t n = 0;
	struct ab_err err = {0};
	if (mine && ab_read_proc(pid, "cgroup", 65536, &theirs, &n, &err) == 0 &&
	    usage_cgroup(mine, theirs, u) == 0)
		return;
	*u = (struct usage){.memory_bytes = -1, .pids = -1};
	usage_process(pid, u);
}

/* The CPU share since the previous reading of `user`'s desktop (-1 on the first). */
static double
cpu_percent(struct admin_api *a, const char *user, pid_t pid, unsigned long long ns)
{
	int64_t now = ab_now_ms();
	struct cpu_sample *c = a->cpu;
	while (c && strcmp(c->user, user) != 0)
		c = c->next;
	if (!c) {
		c = ab_xcalloc(1, sizeof(*c));
		snprintf(c->user, sizeof(c->user), "%s", user);
		c->percent = -1;
		c->next = a->cpu;
		a->cpu = c;
	} else if (c->pid == pid && ns >= c->cpu_ns && now - c->at_ms >= 500) {
		c->percent = (double)(ns - c->cpu_ns) / 1e4 / (double)(now - c->at_ms);
	} else if (c->pid == pid && now - c->at_ms < 500) {
		return c->percent; /* too soon for a new figure */
	} else {
		c->percent = -1; /* another session since */
	}
	c->pid = pid;
	c->cpu_ns = ns;
	c->at_ms = now;
	return c->percent;
}

/* Forgets the samples of desktops that are gone. */
static void
cpu_prune(struct admin_api *a)
{
	for (struct cpu_sample **pc = &a->cpu; *pc;) {
		if (!desktop_exists(a->p.desktops, (*pc)->user)) {
			struct cpu_sample *dead = *pc;
			*pc = dead->next;
			free(dead);
		} else {
			pc = &(*pc)->next;
		}
	}
}

/* ---- the list ---- */

static json_t *
desktop_row(struct admin_api *a, json_t *d, const char *mine)
{
	const char *user = json_string_value(json_object_get(d, "user"));
	const struct users_profile *p =
	    a->p.profile_of && user ? a->p.profile_of(a->p.profile_data, user) : NULL;
	json_int_t clients = json_integer_value(json_object_get(d, "clients"));
	json_int_t vnc = json_integer_value(json_object_get(d, "vnc_clients"));
	pid_t pid = (pid_t)json_integer_value(json_object_get(d, "pid"));
	struct usage u;
	usage_read(pid, mine, &u);
	/*
	 * Times as epoch seconds and figures at display precision: a snapshot changes only when
	 * something an admin would see changed, so an idle console gets (and draws) nothing.
	 */
	int64_t now = ab_now_ms() + a->epoch_offset_ms;
	json_t *input = json_object_get(d, "input_ago_ms");
	json_t *row = json_pack(
	    "{s:s, s:s?, s:O, s:I, s:I, s:I, s:o, s:s?}", "user", user, "profile",
	    p ? p->name : NULL, "state", json_object_get(d, "state"), "started",
	    (json_int_t)((now - json_integer_value(json_object_get(d, "uptime_ms"))) / 1000),
	    "browser_clients", clients - vnc, "vnc_clients", vnc, "last_input",
	    json_is_integer(input) ? json_integer((now - json_integer_value(input)) / 1000)
	                           : json_null(),
	    "network", p ? users_egress_name(p->egress) : NULL);
	json_t *usage = json_object();
	if (u.source) {
		double pc = cpu_percent(a, user, pid, u.cpu_ns);
		json_object_set_new(usage, "source", json_string(u.source));
		json_object_set_new(usage, "cpu_percent",
		                    pc >= 0 ? json_integer((long long)(pc + 0.5)) : json_null());
		json_object_set_new(usage, "memory_bytes",
		                    u.memory_bytes >= 0 ? json_integer(u.memory_bytes & ~0xfffffLL)
		                                        : json_null());
		json_object_set_new(usage, "pids",
		                    u.pids >= 0 ? json_integer(u.pids) : json_null());
	}
	json_object_set_new(row, "usage", usage);
	json_t *limits = json_object();
	if (p) {
		json_object_set_new(limits, "cpu_millis", json_integer(p->cpu_millis));
		json_object_set_new(limits, "memory_mb", json_integer(p->memory_mb));
		json_object_set_new(limits, "pids", json_integer(p->pids));
	}
	json_object_set_new(row, "limits", limits);
	return row;
}

json_t *
desktops_admin_list(struct admin_api *a)
{
	_cleanup_(json_decrefp) json_t *all = desktop_manager_list(a->p.desktops);
	json_t *out = json_array();
	/* the broker's own cgroup, to tell a desktop with a cgroup of its own: once per list */
	_cleanup_free_ char *mine = NULL;
	size_t n = 0;
	struct ab_err err = {0};
	if (json_array_size(all) && ab_read_file("/proc/self/cgroup", 65536, &mine, &n, &err) < 0)
		mine = NULL;
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d)
	{
		json_array_append_new(out, desktop_row(a, d, mine));
	}
	cpu_prune(a);
	return out;
}

/* ---- actions ---- */

static void
admin_audit(const char *event, enum audit_outcome o, const struct admin_who *who, json_t *detail)
{
	audit_log(event, o, who->user, who->role, who->source, detail);
}

/*
 * Resets `user`'s stored desktop state through the state area's own route (DELETE
 * /api/desktops/<user>/state), as `who`: the state area decides and audits it. 1 when reset.
 */
static int
state_reset(struct admin_api *a, const char *user, const struct admin_who *who)
{
	if (!a->srv)
		return 0;
	_cleanup_free_ char *path = ab_xasprintf("/api/desktops/%s/state", user);
	struct http_request req = {
	    .method = "DELETE",
	    .path = path,
	    .query = "",
	    .body = "",
	    .peer = who->source,
	};
	snprintf(req.user, sizeof(req.user), "%s", who->user);
	snprintf(req.role, sizeof(req.role), "%s", who->role);
	struct http_response resp = {0};
	server_dispatch_local(a->srv, &req, &resp);
	int ok = resp.status >= 200 && resp.status < 300;
	http_response_clear(&resp);
	return ok;
}

static json_t *
act_one(struct admin_api *a, const char *action, const char *user, const struct admin_who *who)
{
	_cleanup_free_ char *event = ab_xasprintf("admin.desktop.%s", action);
	int r = -ENOENT;
	int reset = -1;
	const char *status = "stopping";
	if (!desktop_user_valid(user)) {
		r = -EINVAL;
	} else if (!desktop_exists(a->p.desktops, user)) {
		r = -ENOENT;
	} else if (strcmp(action, "stop") == 0) {
		r = a->p.stop ? a->p.stop(a->p.sync_data, user) : desktop_stop(a->p.desktops, user);
	} else if (strcmp(action, "restart") == 0) {
		r = a->p.restart ? a->p.restart(a->p.sync_data, user) : -EOPNOTSUPP;
		status = "restarting";
	} else {
		/* destroy: at once, without asking the wm for its state first; the layout goes */
		r = desktop_stop(a->p.desktops, user);
		if (r == 0)
			reset = state_reset(a, user, who);
	}
	const char *why = r == -EINVAL   ? "invalid user name"
	                  : r == -ENOENT ? "no desktop running"
	                  : r == -EBUSY  ? "the desktop is stopping"
	                  : r < 0        ? strerror(-r)
	                                 : NULL;
	json_t *detail = json_pack("{s:s, s:s?}", "target", user, "reason", why);
	if (reset >= 0)
		json_object_set_new(detail, "state_reset", json_boolean(reset));
	admin_audit(event, r < 0 ? AUDIT_INFO : AUDIT_GRANT, who, json_incref(detail));
	if (r < 0) {
		json_decref(detail);
		return json_pack("{s:s, s:b, s:s}", "user", user, "ok", false, "error", why);
	}
	ab_info("desktop of '%s': %s by '%s'", user, action, who->user);
	json_t *out = json_pack("{s:s, s:b, s:s}", "user", user, "ok", true, "status", status);
	if (reset >= 0)
		json_object_set(out, "state_reset", json_object_get(detail, "state_reset"));
	json_decref(detail);
	return out;
}

int
desktops_admin_act(struct admin_api *a, const char *action, json_t *users,
                   const struct admin_who *who, json_t **ret, struct ab_err *err)
{
	if (strcmp(action, "stop") != 0 && strcmp(action, "restart") != 0 &&
	    strcmp(action, "destroy") != 0)
		return ab_err_set(err, EINVAL, "unknown action '%s' (stop, restart or destroy)",
		                  action);
	if (!json_is_array(users) || json_array_size(users) == 0 ||
	    json_array_size(users) > ADMIN_API_BULK_MAX)
		return ab_err_set(err, EINVAL, "users: a list of 1 to %d user names",
		                  ADMIN_API_BULK_MAX);
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
	{
		if (!json_is_string(u))
			return ab_err_set(err, EINVAL, "users[%zu]: not a string", i);
	}
	json_t *out = json_array();
	json_array_foreach(users, i, u)
	{
		json_array_append_new(out, act_one(a, action, json_string_value(u), who));
	}
	*ret = out;
	return 0;
}

static bool
broadcast_selects(struct admin_api *a, const char *to, const char *target, const char *user)
{
	if (strcmp(to, "all") == 0)
		return true;
	if (strcmp(to, "user") == 0)
		return strcmp(target, user) == 0;
	const struct users_profile *p =
	    a->p.profile_of ? a->p.profile_of(a->p.profile_data, user) : NULL;
	return p && strcmp(p->name, target) == 0;
}

int
admin_broadcast(struct admin_api *a, json_t *req, const struct admin_who *who, json_t **ret,
                struct ab_err *err)
{
	const char *to = json_string_value(json_object_get(req, "to"));
	const char *target = json_string_value(json_object_get(req, "target"));
	const char *title = json_string_value(json_object_get(req, "title"));
	const char *body = json_string_value(json_object_get(req, "body"));
	const char *urgency = json_string_value(json_object_get(req, "urgency"));
	if (!to ||
	    (strcmp(to, "all") != 0 && strcmp(to, "user") != 0 && strcmp(to, "profile") != 0))
		return ab_err_set(err, EINVAL, "to: \"user\", \"profile\" or \"all\"");
	if (strcmp(to, "all") != 0 && (!target || !users_name_valid(target)))
		return ab_err_set(err, EINVAL, "target: a %s name", to);
	if (!body || !body[0] || strlen(body) > BODY_MAX)
		return ab_err_set(err, EINVAL, "body: a message of 1 to %d bytes", BODY_MAX);
	if (title && strlen(title) > TITLE_MAX)
		return ab_err_set(err, EINVAL, "title: at most %d bytes", TITLE_MAX);
	if (!urgency)
		urgency = "normal";
	if (strcmp(urgency, "low") != 0 && strcmp(urgency, "normal") != 0 &&
	    strcmp(urgency, "critical") != 0)
		return ab_err_set(err, EINVAL, "urgency: \"low\", \"normal\" or \"critical\"");
	if (!title || !title[0])
		title = "Message from your administrator";
	_cleanup_(json_decrefp) json_t *all = desktop_manager_list(a->p.desktops);
	json_t *delivered = json_array();
	json_int_t skipped = 0;
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d)
	{
		const char *user = json_string_value(json_object_get(d, "user"));
		if (!user || !broadcast_selects(a, to, target, user))
			continue;
		json_t *msg = ab_proto_msg("notify", json_pack("{s:s, s:s, s:s}", "title", title,
		                                               "body", body, "urgency", urgency));
		if (desktop_send(a->p.desktops, user, msg) == 0)
			json_array_append_new(delivered, json_string(user));
		else
			skipped++;
	}
	admin_audit("admin.broadcast", AUDIT_GRANT, who,
	            json_pack("{s:s, s:s?, s:s, s:O, s:I}", "to", to, "target", target, "title",
	                      title, "delivered", delivered, "skipped", skipped));
	*ret = json_pack("{s:o, s:I}", "delivered", delivered, "skipped", skipped);
	return 0;
}

/* ---- the live channel (server-sent events) ---- */

struct stream {
	struct stream *next;
	struct admin_api *a;
	struct http_stream *h;
	char *buf;
	size_t len, off, cap;
};

static void
stream_add(struct stream *s, const char *data, size_t n)
{
	if (s->len - s->off + n > STREAM_BUFFER)
		return; /* the client is behind: the next snapshot carries everything */
	if (s->off && s->off == s->len)
		s->off = s->len = 0;
	if (s->len + n > s->cap) {
		if (s->off) {
			memmove(s->buf, s->buf + s->off, s->len - s->off);
			s->len -= s->off;
			s->off = 0;
		}
		if (s->len + n > s->cap) {
			s->cap = s->len + n + 4096;
			s->buf = ab_xrealloc(s->buf, s->cap);
		}
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	server_stream_wake(s->h);
}

static void
stream_event(struct stream *s, const char *event, const char *data)
{
	_cleanup_free_ char *m = ab_xasprintf("event: %s\ndata: %s\n\n", event, data);
	stream_add(s, m, strlen(m));
}

static int64_t admin_tick(struct ab_loop *loop, void *data);

static char *
snapshot(struct admin_api *a)
{
	_cleanup_(json_decrefp) json_t *list = desktops_admin_list(a);
	return json_dumps(list, JSON_COMPACT);
}

static void
stream_start(void *ctx, struct http_stream *h)
{
	struct stream *s = ctx;
	struct admin_api *a = s->a;
	s->h = h;
	stream_add(s, ": argobox admin events\nretry: 3000\n\n", 36);
	_cleanup_free_ char *snap = snapshot(a);
	stream_event(s, "desktops", snap);
	if (!a->timer)
		a->timer = ab_loop_timer(a->loop, ADMIN_API_TICK_MS, admin_tick, a);
}

static long
stream_read(void *ctx, char *out, size_t cap)
{
	struct stream *s = ctx;
	size_t n = AB_MIN(cap, s->len - s->off);
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	if (s->off == s->len)
		s->off = s->len = 0;
	return (long)n;
}

static void
stream_close(void *ctx)
{
	struct stream *s = ctx;
	struct admin_api *a = s->a;
	for (struct stream **p = &a->streams; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			a->n_streams--;
			break;
		}
	free(s->buf);
	free(s);
}

static const struct http_stream_ops stream_ops = {stream_start, stream_read, stream_close};

/* While someone listens: a new snapshot when anything changed, else a keepalive. */
static int64_t
admin_tick(struct ab_loop *loop, void *data)
{
	struct admin_api *a = data;
	if (!a->streams) {
		a->timer = NULL;
		free(a->last);
		a->last = NULL;
		return AB_TIMER_STOP;
	}
	char *snap = snapshot(a);
	int64_t now = ab_now_ms();
	bool changed = !a->last || strcmp(a->last, snap) != 0;
	for (struct stream *s = a->streams; s; s = s->next) {
		if (!s->h)
			continue;
		if (changed)
			stream_event(s, "desktops", snap);
		else if (now - a->last_sent_ms >= KEEPALIVE_MS)
			stream_add(s, ": keepalive\n\n", 13);
	}
	if (changed || now - a->last_sent_ms >= KEEPALIVE_MS)
		a->last_sent_ms = now;
	free(a->last);
	a->last = snap;
	return ADMIN_API_TICK_MS;
}

/* ---- routes ---- */

static struct admin_who
who_of(const struct http_request *req)
{
	return (struct admin_who){.user = req->user, .role = req->role, .source = req->peer};
}

/* The authorize hook let only admins through; refused here too should it ever not. */
static bool
refuse_non_admin(struct http_request *req, struct http_response *resp)
{
	if (strcmp(req->role, "admin") == 0)
		return false;
	audit_log("admin.api", AUDIT_DENY, req->user[0] ? req->user : NULL,
	          req->role[0] ? req->role : NULL, req->peer,
	          json_pack("{s:s, s:s, s:s}", "path", req->path, "method", req->method, "reason",
	                    "not an admin"));
	http_response_error(resp, 403, "admins only");
	return true;
}

/* The request's JSON object body, or NULL with a 400 answered. */
static json_t *
body_object(struct http_request *req, struct http_response *resp)
{
	json_error_t je;
	json_t *j = req->body_len
	                ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je)
	                : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		http_response_error(resp, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static int
route_list(struct http_request *req, struct http_response *resp, void *data)
{
	if (refuse_non_admin(req, resp))
		return 0;
	http_response_json(resp, 200, json_pack("{s:o}", "desktops", desktops_admin_list(data)));
	http_response_add_header(resp, "Cache-Control", "no-store");
	return 0;
}

static int
route_act(struct http_request *req, struct http_response *resp, void *data)
{
	if (refuse_non_admin(req, resp))
		return 0;
	const char *action = strrchr(req->path, '/') + 1;
	_cleanup_(json_decrefp) json_t *body = body_object(req, resp);
	if (!body)
		return 0;
	struct admin_who who = who_of(req);
	struct ab_err err = {0};
	json_t *results = NULL;
	if (desktops_admin_act(data, action, json_object_get(body, "users"), &who, &results, &err) <
	    0) {
		http_response_error(resp, 400, err.msg);
		return 0;
	}
	http_response_json(resp, 200, json_pack("{s:o}", "results", results));
	return 0;
}

static int
route_broadcast(struct http_request *req, struct http_response *resp, void *data)
{
	if (refuse_non_admin(req, resp))
		return 0;
	_cleanup_(json_decrefp) json_t *body = body_object(req, resp);
	if (!body)
		return 0;
	struct admin_who who = who_of(req);
	struct ab_err err = {0};
	json_t *out = NULL;
	if (admin_broadcast(data, body, &who, &out, &err) < 0) {
		http_response_error(resp, 400, err.msg);
		return 0;
	}
	http_response_json(resp, 200, out);
	return 0;
}

static int
route_events(struct http_request *req, struct http_response *resp, void *data)
{
	struct admin_api *a = data;
	if (refuse_non_admin(req, resp))
		return 0;
	if (a->n_streams >= STREAM_MAX) {
		http_response_error(resp, 503, "too many live consoles open");
		return 0;
	}
	struct stream *s = ab_xcalloc(1, sizeof(*s));
	s->a = a;
	s->next = a->streams;
	a->streams = s;
	a->n_streams++;
	http_response_stream(resp, 200, "text/event-stream", &stream_ops, s);
	http_response_add_header(resp, "Cache-Control", "no-cache");
	return 0;
}

int
admin_api_add_routes(struct admin_api *a, struct server *srv)
{
	a->srv = srv;
	static const struct server_route_def routes[] = {
	    {"GET", "/api/admin/desktops", route_list},
	    {"POST", "/api/admin/desktops/stop", route_act},
	    {"POST", "/api/admin/desktops/restart", route_act},
	    {"POST", "/api/admin/desktops/destroy", route_act},
	    {"GET", "/api/admin/events", route_events},
	    {"POST", "/api/admin/broadcast", route_broadcast},
	};
	return SERVER_ROUTES_ADD(srv, routes, a);
}

int
admin_api_new(struct ab_loop *loop, const struct admin_api_params *p, struct admin_api **ret,
              struct ab_err *err)
{
	if (!p->desktops)
		return ab_err_set(err, EINVAL, "admin API: no desktops");
	struct admin_api *a = ab_xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->p = *p;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	a->epoch_offset_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - ab_now_ms();
	*ret = a;
	return 0;
}

void
admin_api_free(struct admin_api *a)
{
	if (!a)
		return;
	AB_ASSERT(!a->streams); /* server_close() closed them */
	ab_loop_timer_cancel(a->loop, a->timer);
	while (a->cpu) {
		struct cpu_sample *c = a->cpu;
		a->cpu = c->next;
		free(c);
	}
	free(a->last);
	free(a);
}
