/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "authz.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Column index: the three roles, then anonymous. */
#define ANON   USERS_ROLE_MAX
#define N_COLS (USERS_ROLE_MAX + 1)

#define D AUTHZ_DENY
#define A AUTHZ_ALLOW
#define V AUTHZ_VIEW_ONLY

static const struct rule {
	const char *name;
	bool owned;       /* acts on one user's desktop */
	bool audit_grant; /* audit grants too, not only denials */
	/* columns: admin, member, demo, anonymous */
	enum authz_decision self[N_COLS];  /* own desktop, or not owned */
	enum authz_decision other[N_COLS]; /* someone else's desktop */
} rules[AUTHZ_ENDPOINT_MAX] = {
    [AUTHZ_PUBLIC] = {"public", false, false, {A, A, A, A}, {D, D, D, D}},
    [AUTHZ_LOGIN] = {"login", false, false, {A, A, A, A}, {D, D, D, D}},
    [AUTHZ_DEMO_START] = {"demo.start", false, false, {D, D, D, A}, {D, D, D, D}},
    [AUTHZ_LOGOUT] = {"logout", false, false, {A, A, A, D}, {D, D, D, D}},
    [AUTHZ_ME] = {"me", false, false, {A, A, A, D}, {D, D, D, D}},
    [AUTHZ_DESKTOP_STATUS] = {"desktop.status", true, false, {A, A, A, D}, {V, D, D, D}},
    [AUTHZ_DESKTOP_CTL] = {"desktop.control", true, true, {A, A, A, D}, {A, D, D, D}},
    [AUTHZ_DESKTOP_DESTROY] = {"desktop.destroy", true, true, {A, A, A, D}, {A, D, D, D}},
    [AUTHZ_DESKTOP_WS] = {"desktop.websocket", true, true, {A, A, A, D}, {V, D, D, D}},
    [AUTHZ_STATE_READ] = {"state.read", true, false, {A, A, A, D}, {V, D, D, D}},
    [AUTHZ_STATE_WRITE] = {"state.write", true, false, {A, A, A, D}, {A, D, D, D}},
    [AUTHZ_SERVICES] = {"services", false, false, {A, A, A, D}, {D, D, D, D}},
    [AUTHZ_ADMIN_READ] = {"admin.read", false, true, {A, D, D, D}, {D, D, D, D}},
    [AUTHZ_ADMIN_WRITE] = {"admin.write", false, true, {A, D, D, D}, {D, D, D, D}},
    /* asked every few seconds per desktop while a console is open: grants are audited by the
     * thumbnails (once per admin, desktop and hour), denials here */
    [AUTHZ_ADMIN_THUMB] = {"admin.thumbnail", false, false, {A, D, D, D}, {D, D, D, D}},
    [AUTHZ_VNC_PASSWORD] = {"vnc.password", false, true, {A, A, D, D}, {D, D, D, D}},
    /* own home only: no path names another user's (docs/files.md); files.* audits each */
    [AUTHZ_FILES_READ] = {"files.read", false, false, {A, A, A, D}, {D, D, D, D}},
    [AUTHZ_FILES_WRITE] = {"files.write", false, false, {A, A, A, D}, {D, D, D, D}},
    /* the landing page's live preview: anyone, never more than watching (showcase.h) */
    [AUTHZ_PREVIEW_WS] = {"preview.websocket", false, false, {V, V, V, V}, {D, D, D, D}},
    /* own share links (not demo: its desktop is ephemeral); viewers: the token decides */
    [AUTHZ_SHARE] = {"share", false, true, {A, A, D, D}, {D, D, D, D}},
    [AUTHZ_SHARE_WS] = {"share.websocket", false, false, {V, V, V, V}, {D, D, D, D}},
    /* own inbox only; who may write to whom is the messages area's (message.send audits) */
    [AUTHZ_MESSAGES] = {"messages", false, false, {A, A, A, D}, {D, D, D, D}},
};

#undef D
#undef A
#undef V

static const char *const decision_names[AUTHZ_DECISION_MAX] = {"deny", "allow", "view-only"};

/*
 * Every row is a route the broker serves and every route it serves is a row:
 * tests/unit/auth/authz_routes.py (ctest authz_routes) compares this table with the
 * server_route_add() calls and the route lists next to them, the websocket
 * paths and the web root. Any other GET outside /api/ and /ws is a static file
 * (public, below); the /api/admin/ rows are reserved for areas not built yet (listed as
 * such there: they answer 404/405 until they are). /api/services/{user}: {user} stands for a
 * service name (same grammar); who may see or restart which service is the services area's
 * decision (broker/services/services.c, audited there).
 * The audit API (broker/auditsvc/) is admin.read: admins only.
 */
const struct authz_route_example authz_routes[] = {
    {"GET", "/", AUTHZ_PUBLIC},
    {"GET", "/healthz", AUTHZ_PUBLIC},
    /* its handler lets admins, the metrics token and unproxied loopback in (metrics.h) */
    {"GET", "/metrics", AUTHZ_PUBLIC},
    {"GET", "/api/demo/profiles", AUTHZ_PUBLIC},
    {"POST", "/api/login", AUTHZ_LOGIN},
    {"POST", "/api/demo", AUTHZ_DEMO_START},
    {"POST", "/api/logout", AUTHZ_LOGOUT},
    {"GET", "/api/me", AUTHZ_ME},
    {"GET", "/api/image", AUTHZ_ME}, /* the caller's desktop image (docs/images.md) */
    {"GET", "/api/desktop", AUTHZ_DESKTOP_STATUS},
    {"GET", "/api/desktop/{user}", AUTHZ_DESKTOP_STATUS},
    {"POST", "/api/desktop/restart", AUTHZ_DESKTOP_CTL},
    {"POST", "/api/desktop/{user}/restart", AUTHZ_DESKTOP_CTL},
    {"GET", "/api/desktops/{user}", AUTHZ_DESKTOP_STATUS},
    {"DELETE", "/api/desktops/{user}", AUTHZ_DESKTOP_DESTROY},
    {"GET", "/api/desktops/{user}/state", AUTHZ_STATE_READ},
    {"PUT", "/api/desktops/{user}/state", AUTHZ_STATE_WRITE},
    {"DELETE", "/api/desktops/{user}/state", AUTHZ_STATE_WRITE},
    {"GET", "/websockify", AUTHZ_DESKTOP_WS},
    {"GET", "/ws", AUTHZ_DESKTOP_WS},
    {"GET", "/ws/desktop", AUTHZ_DESKTOP_WS},
    {"GET", "/ws/desktop/{user}", AUTHZ_DESKTOP_WS},
    {"GET", "/ws/preview", AUTHZ_PREVIEW_WS},
    {"GET", "/api/state", AUTHZ_STATE_READ},
    {"GET", "/api/state/{user}", AUTHZ_STATE_READ},
    {"PUT", "/api/state", AUTHZ_STATE_WRITE},
    {"GET", "/api/services", AUTHZ_SERVICES},
    {"GET", "/api/services/{user}", AUTHZ_SERVICES},
    {"GET", "/api/services/{user}/history", AUTHZ_SERVICES},
    {"GET", "/api/services/{user}/diag", AUTHZ_SERVICES},
    {"POST", "/api/services/{user}/diag", AUTHZ_SERVICES},
    {"POST", "/api/services/{user}/restart", AUTHZ_SERVICES},
    {"GET", "/api/admin/audit", AUTHZ_ADMIN_READ},
    {"POST", "/api/admin/audit/query", AUTHZ_ADMIN_READ},
    {"GET", "/api/admin/audit/tail", AUTHZ_ADMIN_READ},
    {"GET", "/api/admin/audit/status", AUTHZ_ADMIN_READ},
    {"POST", "/api/admin/services/reload", AUTHZ_ADMIN_WRITE},
    {"GET", "/api/admin/audit/report", AUTHZ_ADMIN_READ},
    {"GET", "/api/admin/desktops", AUTHZ_ADMIN_READ},
    {"POST", "/api/admin/desktops/stop", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/desktops/restart", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/desktops/destroy", AUTHZ_ADMIN_WRITE},
    {"GET", "/api/admin/events", AUTHZ_ADMIN_READ},
    {"GET", "/api/admin/desktops/{user}/thumbnail", AUTHZ_ADMIN_THUMB},
    {"POST", "/api/admin/broadcast", AUTHZ_ADMIN_WRITE},
    {"GET", "/api/admin/users", AUTHZ_ADMIN_READ},
    {"POST", "/api/admin/users", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/disable", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/enable", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/password", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/role", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/profile", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/unlock", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/vnc-reset", AUTHZ_ADMIN_WRITE},
    {"POST", "/api/admin/users/{user}/delete", AUTHZ_ADMIN_WRITE},
    {"GET", "/api/admin/*", AUTHZ_ADMIN_READ},
    {"POST", "/api/admin/*", AUTHZ_ADMIN_WRITE},
    {"PUT", "/api/admin/*", AUTHZ_ADMIN_WRITE},
    {"DELETE", "/api/admin/*", AUTHZ_ADMIN_WRITE},
    {"GET", "/api/vnc-password", AUTHZ_VNC_PASSWORD},
    {"POST", "/api/vnc-password", AUTHZ_VNC_PASSWORD},
    {"DELETE", "/api/vnc-password", AUTHZ_VNC_PASSWORD},
    {"GET", "/api/files", AUTHZ_FILES_READ},
    {"GET", "/api/files/*", AUTHZ_FILES_READ},
    {"POST", "/api/files/*", AUTHZ_FILES_WRITE},
    {"DELETE", "/api/files/*", AUTHZ_FILES_WRITE},
    {"POST", "/api/uploads", AUTHZ_FILES_WRITE},
    {"GET", "/api/uploads/*", AUTHZ_FILES_WRITE},
    {"PATCH", "/api/uploads/*", AUTHZ_FILES_WRITE},
    {"DELETE", "/api/uploads/*", AUTHZ_FILES_WRITE},
    {"GET", "/api/share", AUTHZ_SHARE},
    {"POST", "/api/share", AUTHZ_SHARE},
    {"DELETE", "/api/share/*", AUTHZ_SHARE},
    {"GET", "/ws/share/*", AUTHZ_SHARE_WS},
    {"GET", "/api/messages", AUTHZ_MESSAGES},
    {"POST", "/api/messages", AUTHZ_MESSAGES},
    {"GET", "/api/messages/blocks", AUTHZ_MESSAGES},
    {"POST", "/api/messages/blocks", AUTHZ_MESSAGES},
    {"DELETE", "/api/messages/blocks", AUTHZ_MESSAGES},
    {NULL, NULL, 0},
};

const char *
authz_endpoint_name(enum authz_endpoint ep)
{
	return ep < AUTHZ_ENDPOINT_MAX ? rules[ep].name : "unknown";
}

const char *
authz_decision_name(enum authz_decision d)
{
	return d < AUTHZ_DECISION_MAX ? decision_names[d] : "unknown";
}

/*
 * Matches path (without query) against pattern: literal segments, "{user}"
 * for one segment (copied to owner), a final "*" for one or more segments.
 * Returns 1 on a match, 0 otherwise, -EINVAL when {user} is not a user name.
 */
static int
match(const char *pattern, const char *path, size_t path_len, char *owner, size_t owner_len)
{
	const char *p = pattern, *s = path, *end = path + path_len;
	while (*p) {
		if (strcmp(p, "*") == 0)
			return s < end ? 1 : 0;
		if (strncmp(p, "{user}", 6) == 0) {
			const char *seg_end = memchr(s, '/', (size_t)(end - s));
			if (!seg_end)
				seg_end = end;
			size_t n = (size_t)(seg_end - s);
			char name[USERS_NAME_MAX + 2];
			if (n == 0)
				return 0;
			if (n > USERS_NAME_MAX)
				return -EINVAL;
			memcpy(name, s, n);
			name[n] = '\0';
			if (!users_name_valid(name))
				return -EINVAL;
			if (owner && owner_len > n)
				memcpy(owner, name, n + 1);
			p += 6;
			s = seg_end;
			continue;
		}
		if (s >= end || *p != *s)
			return 0;
		p++;
		s++;
	}
	return s == end ? 1 : 0;
}

int
authz_route(const char *method, const char *path, enum authz_endpoint *ret_ep, char *owner,
            size_t owner_len)
{
	if (owner && owner_len)
		owner[0] = '\0';
	if (!method || !path || path[0] != '/')
		return -ENOENT;
	size_t len = strcspn(path, "?#");
	/* no dot segments, empty segments or NULs in routed paths */
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '/' && i + 1 < len && path[i + 1] == '/')
			return -ENOENT;
		if (path[i] == '/' && i + 1 < len && path[i + 1] == '.' &&
		    (i + 2 >= len || path[i + 2] == '/' ||
		     (path[i + 2] == '.' && (i + 3 >= len || path[i + 3] == '/'))))
			return -ENOENT;
	}
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
	for (const struct authz_route_example *r = authz_routes; r->method; r++) {
		if (strcmp(r->method, m) != 0)
			continue;
		char tmp[USERS_NAME_MAX + 1] = "";
		int k = match(r->path, path, len, tmp, sizeof(tmp));
		if (k < 0)
			return k;
		if (k == 1) {
			if (owner && owner_len > strlen(tmp))
				strcpy(owner, tmp);
			*ret_ep = r->ep;
			return 0;
		}
	}
	/* any other GET outside /api/ and /ws is a static file (web.root), public */
	if (strcmp(m, "GET") == 0 && strncmp(path, "/api/", 5) != 0 &&
	    !(len == 4 && strncmp(path, "/api", 4) == 0) && strncmp(path, "/ws", 3) != 0 &&
	    strncmp(path, "/websockify", 11) != 0) {
		*ret_ep = AUTHZ_PUBLIC;
		return 0;
	}
	return -ENOENT;
}

enum authz_decision
authz_check(const struct authz_subject *who, enum authz_endpoint ep, const char *owner)
{
	bool anon = !who || !who->user;
	int col = anon ? ANON : (who->role < USERS_ROLE_MAX ? (int)who->role : -1);
	const char *user = anon ? NULL : who->user;
	const char *role = anon ? NULL : users_role_name(who->role);
	const char *source = who ? who->source : NULL;
	enum authz_decision d = AUTHZ_DENY;
	const char *why = "no rule (deny by default)";
	bool other = false;
	if (ep < AUTHZ_ENDPOINT_MAX && col >= 0) {
		const struct rule *r = &rules[ep];
		other = r->owned && owner && owner[0] && (!user || strcmp(owner, user) != 0);
		d = other ? r->other[col] : r->self[col];
		if (d == AUTHZ_DENY)
			why = other ? "not the owner of this desktop"
			            : (anon ? "not signed in" : "role may not use this endpoint");
		else if (d == AUTHZ_VIEW_ONLY)
			why = ep == AUTHZ_PREVIEW_WS
			          ? "the landing page's preview, view-only"
			          : "admin opens another user's desktop view-only";
		else if (other)
			why = "admin acts on another user's desktop";
		else
			why = "allowed";
		/* admin actions fail closed when the audit cannot record them (audit.h) */
		static char gate_why[256];
		if (d == AUTHZ_ALLOW && (ep == AUTHZ_ADMIN_WRITE || other) &&
		    !audit_admin_allowed(gate_why, sizeof(gate_why))) {
			d = AUTHZ_DENY;
			why = gate_why;
		}
		bool audit = d != AUTHZ_ALLOW || r->audit_grant;
		if (!audit)
			return d;
	}
	json_t *det = json_pack("{s:s, s:s}", "endpoint", authz_endpoint_name(ep), "reason", why);
	if (owner && owner[0])
		json_object_set_new(det, "owner", json_string(owner));
	audit_log("authz", d == AUTHZ_DENY ? AUDIT_DENY : AUDIT_GRANT, user, role, source, det);
	return d;
}
