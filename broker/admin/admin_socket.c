/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ctl: the broker's admin socket (see ctl.h). */
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"
#include "auditsvc.h"
#include "desktop.h"
#include "nsexec.h"
#include "proxy.h"
#include "server.h"
#include "services.h"
#include "admin_api.h"
#include "users_admin.h"
#include "admin_socket.h"

#define CTL_MAX_CLIENTS 16

struct ctl_client {
	struct admin_socket *ctl;
	uid_t uid;     /* the peer's (SO_PEERCRED): who, in every audit line */
	char name[64]; /* its login name, or "uid N" */
	int fd;
	struct ab_watch *watch;
	struct ab_proto_reader reader;
	bool dead;
};

struct admin_socket {
	struct ab_loop *loop;
	char *path;
	int fd;
	struct ab_watch *watch;
	struct server *srv;
	struct desktop_manager *m;
	admin_socket_stop_fn stop;
	void *stop_data;
	struct services *services;
	struct auditsvc *auditsvc;
	admin_socket_profile_fn profile_of;
	void *profile_data;
	struct users_admin *users; /* NULL: no users table */
	struct admin_api *admin;   /* the console's actions (desktops, broadcast); NULL: none */
	struct ctl_client *clients[CTL_MAX_CLIENTS];
	struct ab_timer *reap;
	int64_t started_ms;
};

static json_t *ctl_error(const char *code, const char *msg);

static void
client_free(struct ctl_client *cl)
{
	ab_loop_unwatch(cl->ctl->loop, cl->watch);
	ab_proto_reader_free(&cl->reader);
	close(cl->fd);
	free(cl);
}

static int64_t
admin_socket_reap(struct ab_loop *loop, void *data)
{
	struct admin_socket *c = data;
	c->reap = NULL;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (c->clients[i] && c->clients[i]->dead) {
			client_free(c->clients[i]);
			c->clients[i] = NULL;
		}
	}
	return AB_TIMER_STOP;
}

static void
client_kill(struct ctl_client *cl)
{
	cl->dead = true;
	ab_loop_unwatch(cl->ctl->loop, cl->watch);
	cl->watch = NULL;
	if (!cl->ctl->reap)
		cl->ctl->reap = ab_loop_timer(cl->ctl->loop, 0, admin_socket_reap, cl->ctl);
}

/* argoboxctl services list|reload|status|restart|diag (the peer is root or the broker's uid). */
static json_t *
admin_socket_services(struct admin_socket *c, const char *type, json_t *req)
{
	if (!c->services)
		return ab_proto_msg("error", json_pack("{ss}", "msg", "no services registry"));
	if (strcmp(type, "services_list") == 0)
		return ab_proto_msg(type,
		                    json_pack("{so}", "services", services_list_json(c->services)));
	if (strcmp(type, "services_reload") == 0) {
		struct ab_err err = {0};
		json_t *d = services_reload_request(c->services, "argoboxctl", &err);
		if (!d)
			return ab_proto_msg("error", json_pack("{ss}", "msg", err.msg));
		return ab_proto_msg(type, d);
	}
	const char *name = json_string_value(json_object_get(req, "name"));
	if (!name)
		return ab_proto_msg("error", json_pack("{ss}", "msg", "missing 'name'"));
	if (strcmp(type, "services_status") == 0) {
		json_t *s = services_entry_json(c->services, name, true);
		if (!s)
			return ctl_error("not_found", "no such service");
		return ab_proto_msg(type, json_pack("{so}", "service", s));
	}
	if (strcmp(type, "services_diag") == 0 || strcmp(type, "services_diag_result") == 0) {
		struct ab_err err = {0};
		bool start = strcmp(type, "services_diag") == 0;
		int r = start ? services_diag_start(c->services, name, &err) : 0;
		if (start)
			audit_log("service.diag", r < 0 ? AUDIT_DENY : AUDIT_GRANT, "argoboxctl",
			          NULL, "argoboxctl",
			          json_pack("{ssss}", "service", name, "step", "start"));
		json_t *d = r < 0 ? NULL : services_diag_json(c->services, name);
		if (!d)
			return r < 0 ? ab_proto_msg("error", json_pack("{ss}", "msg", err.msg))
			             : ctl_error("not_found", "no such service");
		return ab_proto_msg(type, d);
	}
	if (strcmp(type, "services_restart") == 0) {
		struct ab_err err = {0};
		int r = services_restart_now(c->services, name, "argoboxctl", &err);
		audit_log(
		    "service.restart", r < 0 ? AUDIT_DENY : AUDIT_GRANT, "argoboxctl", NULL,
		    "argoboxctl",
		    json_pack("{ssss}", "service", name, "reason", r < 0 ? err.msg : "admin"));
		if (r < 0)
			return ab_proto_msg("error", json_pack("{ss}", "msg", err.msg));
		return ab_proto_msg(type, json_pack("{sb}", "ok", 1));
	}
	return ab_proto_msg("error", json_pack("{ss}", "msg", "unknown request"));
}

/*
 * argoboxctl audit report: the report as JSON (argoboxctl renders CSV or HTML from it). One
 * answer is one frame, so a report larger than a frame is refused with what to do instead.
 */
static json_t *
admin_socket_audit_report(struct admin_socket *c, json_t *req)
{
	if (!c->auditsvc)
		return ab_proto_msg("error", json_pack("{ss}", "msg", "no audit service"));
	json_t *limit = json_object_get(req, "limit");
	struct auditsvc_report_req rq = {
	    .from = json_string_value(json_object_get(req, "from")),
	    .to = json_string_value(json_object_get(req, "to")),
	    .user = json_string_value(json_object_get(req, "user")),
	    .format = json_string_value(json_object_get(req, "format")),
	    .limit = !limit ? 0
	             : json_is_integer(limit) && json_integer_value(limit) > 0 &&
	                     json_integer_value(limit) <= UINT32_MAX
	                 ? (unsigned)json_integer_value(limit)
	                 : UINT32_MAX,
	    .by_user = "argoboxctl",
	    .source = "argoboxctl",
	};
	json_t *rep = NULL;
	struct ab_err err = {0};
	if (auditsvc_report(c->auditsvc, &rq, &rep, &err) < 0)
		return ab_proto_msg("error", json_pack("{ss}", "msg", err.msg));
	size_t n = json_dumpb(rep, NULL, 0, JSON_COMPACT);
	if (n > AB_PROTO_MAX_FRAME - 4096) {
		json_decref(rep);
		return ab_proto_msg(
		    "error",
		    json_pack("{ss}", "msg",
		              "the report is larger than the admin socket carries (1 MiB): "
		              "narrow the period, name a user, lower --limit, or use GET "
		              "/api/admin/audit/report"));
	}
	return ab_proto_msg("audit_report", json_pack("{so}", "report", rep));
}

/* {"type":"audit_query","params":{...}} -> {"type":"audit_query","page":{events,count,next_cursor}}
 */
static json_t *
admin_socket_audit_query(struct admin_socket *c, json_t *req)
{
	if (!c->auditsvc)
		return ab_proto_msg("error", json_pack("{ss}", "msg", "no audit service"));
	json_t *page = NULL;
	struct ab_err err = {0};
	if (auditsvc_query(c->auditsvc, json_object_get(req, "params"), "argoboxctl", "argoboxctl",
	                   &page, &err) < 0)
		return ab_proto_msg(
		    "error",
		    json_pack("{ssss}", "msg", err.msg, "code",
		              err.code == EINVAL || err.code == ETIMEDOUT ? "invalid" : "error"));
	if (json_dumpb(page, NULL, 0, JSON_COMPACT) > AB_PROTO_MAX_FRAME - 4096) {
		json_decref(page);
		return ab_proto_msg("error",
		                    json_pack("{ssss}", "msg",
		                              "the page is larger than the admin socket carries "
		                              "(1 MiB): ask for fewer records per page",
		                              "code", "invalid"));
	}
	return ab_proto_msg("audit_query", json_pack("{so}", "page", page));
}

/* An error answer: {"type":"error","msg","code"}; code is what argoboxctl's exit status says. */
static json_t *
ctl_error(const char *code, const char *msg)
{
	return ab_proto_msg("error", json_pack("{ssss}", "msg", msg, "code", code));
}

/* The code of an HTTP status, for an error answer. */
static const char *
ctl_code_of(int status)
{
	return status == 404                    ? "not_found"
	       : status == 401 || status == 403 ? "refused"
	       : status == 400 || status == 409 ? "invalid"
	                                        : "error";
}

/*
 * Runs METHOD PATH through the broker's own routes (server_dispatch_local) as the admin
 * "argoboxctl" from source "argoboxctl": the area behind the route decides and audits, as it
 * does for the web console. Returns the answer's JSON body (new reference; {"error"} or
 * {"text"} when it was not JSON) and its status in *status.
 */
static json_t *
ctl_local_http(struct admin_socket *c, const char *method, const char *path, int *status)
{
	struct http_request req = {
	    .method = method,
	    .path = path,
	    .query = "",
	    .body = "",
	    .peer = "argoboxctl",
	};
	snprintf(req.user, sizeof(req.user), "argoboxctl");
	snprintf(req.role, sizeof(req.role), "admin");
	struct http_response resp = {0};
	server_dispatch_local(c->srv, &req, &resp);
	*status = resp.status;
	json_t *body = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
	if (!body)
		body = json_pack("{ss#}", "text", resp.body ? resp.body : "", (int)resp.body_len);
	http_response_clear(&resp);
	return body;
}

/* A route's answer as a ctl answer of `type`: {"type", "status", "result"} or an error. */
static json_t *
ctl_http_answer(const char *type, int status, json_t *body)
{
	if (status >= 200 && status < 300)
		return ab_proto_msg(type, json_pack("{siso}", "status", status, "result", body));
	const char *msg = json_string_value(json_object_get(body, "error"));
	json_t *e = ctl_error(ctl_code_of(status), msg ? msg : "refused");
	json_object_set_new(e, "status", json_integer(status));
	json_decref(body);
	return e;
}

static const char *
ctl_profile(struct admin_socket *c, const char *user)
{
	const char *p = c->profile_of ? c->profile_of(c->profile_data, user) : NULL;
	return p ? p : "";
}

/* list: the desktops, each with its profile. */
static json_t *
admin_socket_list(struct admin_socket *c)
{
	json_t *list = desktop_manager_list(c->m);
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
	{
		const char *user = json_string_value(json_object_get(d, "user"));
		json_object_set_new(d, "profile", json_string(ctl_profile(c, user)));
	}
	return ab_proto_msg("list", json_pack("{so}", "desktops", list));
}

/* argoboxctl as the console's actions know it (admin_api.h): audited by "argoboxctl". */
static const struct admin_who ctl_who = {
    .user = "argoboxctl", .role = "admin", .source = "argoboxctl"};

/*
 * desktop: {"action": "stop"|"restart"|"destroy", "user"}: the console's own action
 * (desktops_admin_act: stop flushes the window manager's state first, restart starts the
 * desktop again from it, destroy ends it at once and resets its stored state; audited as
 * admin.desktop.<action>).
 */
static json_t *
admin_socket_desktop(struct admin_socket *c, json_t *req)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *user = json_string_value(json_object_get(req, "user"));
	if (!action || !user)
		return ctl_error("invalid", "desktop: 'action' and 'user' are required");
	if (!c->admin)
		return ctl_error("error", "desktop: the admin console's backend is not running");
	json_t *users = json_pack("[s]", user), *res = NULL;
	struct ab_err err = {0};
	int r = desktops_admin_act(c->admin, action, users, &ctl_who, &res, &err);
	json_decref(users);
	if (r < 0)
		return ctl_error("invalid", err.msg);
	json_t *one = json_incref(json_array_get(res, 0));
	json_decref(res);
	if (json_is_true(json_object_get(one, "ok")))
		return ab_proto_msg("desktop", one);
	const char *why = json_string_value(json_object_get(one, "error"));
	json_t *e = ctl_error(!why                                     ? "error"
	                      : strcmp(why, "no desktop running") == 0 ? "not_found"
	                      : strcmp(why, "invalid user name") == 0  ? "invalid"
	                                                               : "error",
	                      why ? why : "failed");
	json_decref(one);
	return e;
}

/* state: {"action": "show"|"reset", "user"}: GET / DELETE /api/desktops/<user>/state. */
static json_t *
admin_socket_state(struct admin_socket *c, json_t *req)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *user = json_string_value(json_object_get(req, "user"));
	if (!action || !user || !desktop_user_valid(user) ||
	    (strcmp(action, "show") != 0 && strcmp(action, "reset") != 0))
		return ctl_error("invalid", "state: action show or reset, and a user name");
	char path[128];
	snprintf(path, sizeof(path), "/api/desktops/%s/state", user);
	int status = 0;
	json_t *body =
	    ctl_local_http(c, strcmp(action, "show") == 0 ? "GET" : "DELETE", path, &status);
	return ctl_http_answer("state", status, body);
}

/*
 * broadcast: {"title", "body", "urgency", and "user" | "profile" | "all": true}: the console's
 * broadcast (admin_broadcast: a "notify" control message to each matching running desktop,
 * audited as admin.broadcast). A user without a running desktop is not found.
 */
static json_t *
admin_socket_broadcast(struct admin_socket *c, json_t *req)
{
	const char *user = json_string_value(json_object_get(req, "user"));
	const char *profile = json_string_value(json_object_get(req, "profile"));
	bool all = json_is_true(json_object_get(req, "all"));
	if ((user != NULL) + (profile != NULL) + all != 1)
		return ctl_error("invalid",
		                 "broadcast: name exactly one of a user, a profile, or everyone");
	if (!c->admin)
		return ctl_error("error", "broadcast: the admin console's backend is not running");
	json_t *b =
	    json_pack("{sssO?sO?sO?}", "to",
	              user      ? "user"
	              : profile ? "profile"
	                        : "all",
	              "title", json_object_get(req, "title"), "body", json_object_get(req, "body"),
	              "urgency", json_object_get(req, "urgency"));
	if (user || profile)
		json_object_set_new(b, "target", json_string(user ? user : profile));
	json_t *res = NULL;
	struct ab_err err = {0};
	int r = admin_broadcast(c->admin, b, &ctl_who, &res, &err);
	json_decref(b);
	if (r < 0)
		return ctl_error("invalid", err.msg);
	if (user && !json_array_size(json_object_get(res, "delivered"))) {
		json_decref(res);
		return ctl_error("not_found", "no running desktop for this user");
	}
	return ab_proto_msg("broadcast", res);
}

/* true when pid's user and mount namespaces are not the broker's (a container). */
static bool
in_container(pid_t pid)
{
	static const char *const ns[] = {"user", "mnt"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(ns); i++) {
		char a[64], b[64];
		struct stat sa, sb;
		snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns[i]);
		snprintf(b, sizeof(b), "/proc/self/ns/%s", ns[i]);
		if (stat(a, &sa) < 0 || stat(b, &sb) < 0 || sa.st_ino == sb.st_ino)
			return false;
	}
	return true;
}

/* exec's argv: 1..64 strings, 64 KiB in all; NULL when it is not. */
static const char *
exec_argv_check(json_t *argv)
{
	size_t i, total = 0;
	json_t *a;
	if (!json_is_array(argv) || json_array_size(argv) < 1 || json_array_size(argv) > 64)
		return "exec: 'argv' is 1 to 64 strings";
	json_array_foreach(argv, i, a)
	{
		if (!json_is_string(a) || !json_string_length(a))
			return "exec: every argument is a non-empty string";
		total += json_string_length(a) + 1;
	}
	return total > 65536 ? "exec: the command line is longer than 64 KiB" : NULL;
}

/*
 * exec: {"user","argv"} -> {"pid","starttime"}: the container's first process, which
 * argoboxctl (root) enters with nsexec_run. Refused unless the desktop is ready and runs in a
 * container. Audited as admin.exec (grant with the command line, or deny with the reason).
 */
static json_t *
admin_socket_exec(struct admin_socket *c, struct ctl_client *cl, json_t *req)
{
	const char *user = json_string_value(json_object_get(req, "user"));
	json_t *argv = json_object_get(req, "argv");
	const char *why =
	    !user || !desktop_user_valid(user) ? "exec: not a user name" : exec_argv_check(argv);
	if (why)
		return ctl_error("invalid", why);
	json_int_t pid = 0;
	json_t *list = desktop_manager_list(c->m), *d;
	size_t i;
	json_array_foreach(list, i, d)
	{
		const char *state = json_string_value(json_object_get(d, "state"));
		if (strcmp(json_string_value(json_object_get(d, "user")), user) == 0 && state &&
		    strcmp(state, "ready") == 0)
			pid = json_integer_value(json_object_get(d, "pid"));
	}
	json_decref(list);
	const char *code = NULL;
	unsigned long long start = pid > 0 ? nsexec_starttime((pid_t)pid) : 0;
	if (pid <= 0 || !start) {
		code = "not_found";
		why = "no ready desktop for this user";
	} else if (!in_container((pid_t)pid)) {
		code = "refused";
		why = "the desktop does not run in a container (session.launcher \"process\"): "
		      "there is nothing to enter but the host";
	}
	json_t *det =
	    json_pack("{sIsssO}", "by_uid", (json_int_t)cl->uid, "by", cl->name, "argv", argv);
	if (why)
		json_object_set_new(det, "reason", json_string(why));
	else
		json_object_set_new(det, "pid", json_integer(pid));
	audit_log("admin.exec", why ? AUDIT_DENY : AUDIT_GRANT, user, NULL, "argoboxctl", det);
	if (why)
		return ctl_error(code, why);
	return ab_proto_msg("exec",
	                    json_pack("{sIsI}", "pid", pid, "starttime", (json_int_t)start));
}

/* exec_done: {"user","status"}: how the command ended, audited as admin.exec info. */
static json_t *
admin_socket_exec_done(struct ctl_client *cl, json_t *req)
{
	const char *user = json_string_value(json_object_get(req, "user"));
	json_t *status = json_object_get(req, "status");
	if (!user || !desktop_user_valid(user) || !json_is_integer(status))
		return ctl_error("invalid", "exec_done: 'user' and an integer 'status'");
	audit_log("admin.exec", AUDIT_INFO, user, NULL, "argoboxctl",
	          json_pack("{sIsssOss}", "by_uid", (json_int_t)cl->uid, "by", cl->name, "status",
	                    status, "step", "done"));
	return ab_proto_msg("exec_done", json_pack("{sb}", "ok", 1));
}

/*
 * users: {"action":"list"} or {"action", "name", "body"} as the console's user management
 * (users_admin_do: validated, stored atomically, applied at once, audited as
 * admin.user.<action> by "argoboxctl").
 */
static json_t *
admin_socket_users(struct admin_socket *c, json_t *req)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	if (!c->users)
		return ctl_error("not_found", "users: the broker has no users table");
	if (!action)
		return ctl_error("invalid", "users: 'action' is required");
	if (strcmp(action, "list") == 0)
		return ab_proto_msg("users",
		                    json_pack("{so}", "result", users_admin_list(c->users)));
	const char *name = json_string_value(json_object_get(req, "name"));
	json_t *body = json_object_get(req, "body");
	if (strcmp(action, "add") != 0 && !name)
		return ctl_error("invalid", "users: 'name' is required");
	struct admin_who who = {.user = "argoboxctl", .role = "admin", .source = "argoboxctl"};
	json_t *ret = NULL;
	struct ab_err err = {0};
	_cleanup_(json_decrefp) json_t *empty = json_object();
	int r = users_admin_do(c->users, action, strcmp(action, "add") == 0 ? NULL : name,
	                       json_is_object(body) ? body : empty, &who, &ret, &err);
	if (r < 0)
		return ctl_error(r == -ENOENT   ? "not_found"
		                 : r == -EINVAL ? "invalid"
		                 : r == -EPERM  ? "refused"
		                                : "error",
		                 err.msg);
	return ab_proto_msg("users", json_pack("{so}", "result", ret ? ret : json_object()));
}

/*
 * Requests that only read, and exec_done (audited as admin.exec itself): no admin.ctl line (the
 * areas audit what they must).
 */
static bool
ctl_read_only(const char *type)
{
	static const char *const reads[] = {
	    "status",   "list", "services_list", "services_status", "services_diag_result",
	    "exec_done"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(reads); i++)
		if (strcmp(type, reads[i]) == 0)
			return true;
	return false;
}

/* The target of a request, for the audit line: its user, or its service name. */
static const char *
ctl_target(json_t *req)
{
	const char *keys[] = {"user", "name", "profile"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(keys); i++) {
		const char *v = json_string_value(json_object_get(req, keys[i]));
		if (v)
			return v;
	}
	return json_is_true(json_object_get(req, "all")) ? "*" : NULL;
}

static json_t *
admin_socket_answer(struct admin_socket *c, struct ctl_client *cl, json_t *req)
{
	const char *type = ab_proto_type(req);
	/* an action the audit cannot record is refused when it is to fail closed (audit.h) */
	char why[256];
	if (!ctl_read_only(type) && !audit_admin_allowed(why, sizeof(why))) {
		/* desktop actions are named by their action: "stop", "restart", "destroy" */
		const char *action = json_string_value(json_object_get(req, "action"));
		audit_log("admin.command", AUDIT_DENY, "argoboxctl", NULL, "argoboxctl",
		          json_pack("{ssss}", "command",
		                    strcmp(type, "desktop") == 0 && action ? action : type,
		                    "reason", why));
		return ctl_error("refused", why);
	}
	if (strcmp(type, "status") == 0) {
		struct proxy_stats ps;
		proxy_get_stats(&ps);
		return ab_proto_msg("status",
		                    json_pack("{sIsisIsIsIsIsIsI}", "pid", (json_int_t)getpid(),
		                              "port", server_port(c->srv), "uptime_ms",
		                              (json_int_t)(ab_now_ms() - c->started_ms), "desktops",
		                              (json_int_t)desktop_manager_count(c->m),
		                              "connections", (json_int_t)ps.open,
		                              "connections_total", (json_int_t)ps.connections,
		                              "bytes_to_browser", (json_int_t)ps.bytes_to_browser,
		                              "bytes_to_desktop", (json_int_t)ps.bytes_to_desktop));
	}
	if (strcmp(type, "list") == 0)
		return admin_socket_list(c);
	if (strcmp(type, "stop") == 0) {
		/* the older form of {"type":"desktop","action":"stop"} */
		json_t *d = json_pack("{ssso?}", "action", "stop", "user",
		                      json_incref(json_object_get(req, "user")));
		json_t *ans = admin_socket_desktop(c, d);
		json_decref(d);
		if (strcmp(ab_proto_type(ans), "desktop") == 0)
			json_object_set_new(ans, "type", json_string("stop"));
		return ans;
	}
	if (strcmp(type, "desktop") == 0)
		return admin_socket_desktop(c, req);
	if (strcmp(type, "state") == 0)
		return admin_socket_state(c, req);
	if (strcmp(type, "broadcast") == 0)
		return admin_socket_broadcast(c, req);
	if (strcmp(type, "exec") == 0)
		return admin_socket_exec(c, cl, req);
	if (strcmp(type, "users") == 0)
		return admin_socket_users(c, req);
	if (strcmp(type, "exec_done") == 0)
		return admin_socket_exec_done(cl, req);
	if (strncmp(type, "services_", 9) == 0)
		return admin_socket_services(c, type, req);
	if (strcmp(type, "audit_report") == 0)
		return admin_socket_audit_report(c, req);
	if (strcmp(type, "audit_query") == 0)
		return admin_socket_audit_query(c, req);
	return ab_proto_msg("error", json_pack("{ss}", "msg", "unknown request"));
}

void
admin_socket_set_services(struct admin_socket *c, struct services *svc)
{
	if (c)
		c->services = svc;
}

void
admin_socket_set_profiles(struct admin_socket *c, admin_socket_profile_fn fn, void *data)
{
	if (!c)
		return;
	c->profile_of = fn;
	c->profile_data = data;
}

void
admin_socket_set_admin_api(struct admin_socket *c, struct admin_api *a)
{
	if (c)
		c->admin = a;
}

void
admin_socket_set_users(struct admin_socket *c, struct users_admin *ua)
{
	if (c)
		c->users = ua;
}

void
admin_socket_set_audit(struct admin_socket *c, struct auditsvc *a)
{
	if (c)
		c->auditsvc = a;
}

void
admin_socket_set_stop(struct admin_socket *c, admin_socket_stop_fn fn, void *data)
{
	if (!c)
		return;
	c->stop = fn;
	c->stop_data = data;
}

/*
 * admin.ctl: who (the peer's uid and name), what (the request type and action), the target,
 * and how it ended: every request that is not a read (docs/argoboxctl.md).
 */
static void
ctl_audit(struct ctl_client *cl, json_t *req, json_t *ans)
{
	const char *type = ab_proto_type(req);
	if (ctl_read_only(type))
		return;
	bool failed = strcmp(ab_proto_type(ans), "error") == 0;
	const char *code = json_string_value(json_object_get(ans, "code"));
	json_t *d = json_pack("{sIssssssss?}", "by_uid", (json_int_t)cl->uid, "by", cl->name,
	                      "command", type, "result", failed ? (code ? code : "error") : "ok",
	                      "action", json_string_value(json_object_get(req, "action")));
	if (failed)
		json_object_set_new(d, "reason", json_incref(json_object_get(ans, "msg")));
	const char *target = ctl_target(req);
	if (target)
		json_object_set_new(d, "target", json_string(target));
	audit_log("admin.ctl", failed ? AUDIT_DENY : AUDIT_GRANT, cl->name, "admin", "argoboxctl",
	          d);
}

static void
client_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct ctl_client *cl = data;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_kill(cl);
		return;
	}
	ab_proto_reader_feed(&cl->reader, buf, (size_t)n);
	for (;;) {
		json_t *req = NULL;
		int r = ab_proto_reader_next(&cl->reader, &req, NULL);
		if (r < 0) {
			client_kill(cl);
			return;
		}
		if (r == 0)
			return;
		json_t *ans = admin_socket_answer(cl->ctl, cl, req);
		ctl_audit(cl, req, ans);
		json_decref(req);
		_cleanup_free_ char *out = NULL;
		size_t len;
		r = ab_proto_encode(ans, &out, &len, NULL);
		json_decref(ans);
		/* Answers are small; the client is local and waits for them. */
		if (r < 0 || ab_write_all(fd, out, len) < 0) {
			client_kill(cl);
			return;
		}
	}
}

static void
admin_socket_accept(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct admin_socket *c = data;
	_cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		audit_log("admin.connect", AUDIT_DENY, NULL, NULL, "argoboxctl",
		          json_pack("{sI}", "uid", (json_int_t)cred.uid));
		return;
	}
	int slot = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS && slot < 0; i++)
		if (!c->clients[i])
			slot = i;
	if (slot < 0)
		return;
	struct ctl_client *client = ab_xcalloc(1, sizeof(*client));
	client->ctl = c;
	client->uid = cred.uid;
	struct passwd pw, *pwp = NULL;
	char pwbuf[1024];
	if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp)
		snprintf(client->name, sizeof(client->name), "%s", pw.pw_name);
	else
		snprintf(client->name, sizeof(client->name), "uid %u", (unsigned)cred.uid);
	ab_proto_reader_init(&client->reader);
	client->fd = TAKE_FD(cfd);
	client->watch = ab_loop_watch(loop, client->fd, AB_LOOP_READ, client_io, client);
	c->clients[slot] = client;
}

int
admin_socket_open(struct ab_loop *loop, const char *path, struct server *srv,
                  struct desktop_manager *m, struct admin_socket **ret, struct ab_err *err)
{
	int fd = ab_unix_listen(path, 0600, err);
	if (fd < 0)
		return ab_err_wrap(err, "admin socket");
	struct admin_socket *c = ab_xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->path = ab_xstrdup(path);
	c->fd = fd;
	c->srv = srv;
	c->m = m;
	c->started_ms = ab_now_ms();
	c->watch = ab_loop_watch(loop, fd, AB_LOOP_READ, admin_socket_accept, c);
	*ret = c;
	return 0;
}

void
admin_socket_close(struct admin_socket *c)
{
	if (!c)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i])
			client_free(c->clients[i]);
	ab_loop_timer_cancel(c->loop, c->reap);
	ab_loop_unwatch(c->loop, c->watch);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	free(c);
}
