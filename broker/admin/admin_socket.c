/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ctl: the broker's admin socket (see ctl.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"
#include "auditsvc.h"
#include "desktop.h"
#include "proxy.h"
#include "server.h"
#include "services.h"
#include "admin_socket.h"

#define CTL_MAX_CLIENTS 16

struct ctl_client {
	struct admin_socket *ctl;
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
	struct ctl_client *clients[CTL_MAX_CLIENTS];
	struct ab_timer *reap;
	int64_t started_ms;
};

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
			return ab_proto_msg("error", json_pack("{ss}", "msg", "no such service"));
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
			return ab_proto_msg(
			    "error", json_pack("{ss}", "msg", r < 0 ? err.msg : "no such service"));
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

static json_t *
admin_socket_answer(struct admin_socket *c, json_t *req)
{
	const char *type = ab_proto_type(req);
	/* an action the audit cannot record is refused when it is to fail closed (audit.h) */
	char why[256];
	if ((strcmp(type, "stop") == 0 || strcmp(type, "services_restart") == 0 ||
	     strcmp(type, "services_reload") == 0) &&
	    !audit_admin_allowed(why, sizeof(why))) {
		audit_log("admin.command", AUDIT_DENY, "argoboxctl", NULL, "argoboxctl",
		          json_pack("{ssss}", "command", type, "reason", why));
		return ab_proto_msg("error", json_pack("{ss}", "msg", why));
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
		return ab_proto_msg("list",
		                    json_pack("{so}", "desktops", desktop_manager_list(c->m)));
	if (strcmp(type, "stop") == 0) {
		const char *user = json_string_value(json_object_get(req, "user"));
		if (!user)
			return ab_proto_msg("error",
			                    json_pack("{ss}", "msg", "stop: missing 'user'"));
		int r = c->stop ? c->stop(c->stop_data, user) : desktop_stop(c->m, user);
		audit_log("admin.desktop.stop", r < 0 ? AUDIT_FAILURE : AUDIT_GRANT, user, NULL,
		          "argoboxctl", NULL);
		if (r < 0)
			return ab_proto_msg("error", json_pack("{ss}", "msg", "no such desktop"));
		return ab_proto_msg("stop", json_pack("{sb}", "ok", 1));
	}
	if (strncmp(type, "services_", 9) == 0)
		return admin_socket_services(c, type, req);
	if (strcmp(type, "audit_report") == 0)
		return admin_socket_audit_report(c, req);
	return ab_proto_msg("error", json_pack("{ss}", "msg", "unknown request"));
}

void
admin_socket_set_services(struct admin_socket *c, struct services *svc)
{
	if (c)
		c->services = svc;
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
		json_t *ans = admin_socket_answer(cl->ctl, req);
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
