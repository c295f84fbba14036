/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_request: the one call the broker makes per request, auth_request_check
 * (broker/auth/auth_request.c): the route and its owner, the session cookie among the Cookie
 * header's, the Origin against the Host, the CSRF token, the authorization table. Users are
 * the sample config's; two sessions are open (daniel, an admin; bea, a member). The input is
 * one byte of flags, then method, path, Host, Origin, Cookie, X-CSRF-Token and the Access
 * assertion separated by NULs; "@S" in the cookie stands for the chosen session's id and
 * "@C" in the token for its CSRF token, so the fuzzer reaches signed-in requests.
 * Whatever the input: a request served to nobody is a public route; an unsafe method served
 * on a session carried that session's CSRF token, and no Origin or one matching Host; only an
 * admin is served someone else's desktop.
 */
#include "audit.h"
#include "auth_local.h"
#include "auth_request.h"
#include "fuzz.h"
#include "users.h"

#define NOW_MS 1800000000000LL

static struct users_db *db;
static struct auth_local *local;
static const struct auth_session *sessions[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ab_err err = {0};
	if (users_load_file(AB_SOURCE_DIR "/config/argobox.sample.json", &db, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		abort();
	}
	audit_open("/dev/null", NULL);
	local = auth_local_new(db, &auth_local_defaults);
	sessions[0] = auth_local_session_new(local, "daniel", USERS_ROLE_ADMIN, "127.0.0.1", 0,
	                                     NOW_MS - 1000);
	sessions[1] =
	    auth_local_session_new(local, "bea", USERS_ROLE_MEMBER, "127.0.0.1", 0, NOW_MS - 1000);
	FUZZ_CHECK(sessions[0] && sessions[1]);
	return 0;
}

/* s with every `mark` replaced by `with` (malloc'd). */
static char *
replace(const char *s, const char *mark, const char *with)
{
	size_t ml = strlen(mark), wl = strlen(with), n = 0;
	for (const char *p = s; (p = strstr(p, mark)); p += ml)
		n++;
	char *out = malloc(strlen(s) + n * wl + 1), *o = out;
	FUZZ_CHECK(out);
	for (const char *p = s, *q; *p; p = q + ml) {
		q = strstr(p, mark);
		if (!q) {
			o = stpcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o = stpcpy(o + (q - p), with);
	}
	*o = '\0';
	return out;
}

static bool
public_endpoint(enum authz_endpoint ep)
{
	return ep == AUTHZ_PUBLIC || ep == AUTHZ_LOGIN || ep == AUTHZ_DEMO_START ||
	       ep == AUTHZ_PREVIEW_WS || ep == AUTHZ_SHARE_WS;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	uint8_t flags = data[0];
	const struct auth_session *s = sessions[flags & 1];
	char *f[7], *block;
	fuzz_split(data + 1, size - 1, f, 7, &block);
	char *cookie = replace(f[4], "@S", s->id);
	char *csrf = replace(f[5], "@C", s->csrf);
	struct auth_request rq = {
	    .method = f[0],
	    .path = f[1],
	    .peer = "192.0.2.7",
	    .host = f[2],
	    .origin = flags & 2 ? f[3] : NULL,
	    .cookie = flags & 4 ? cookie : NULL,
	    .csrf_token = flags & 8 ? csrf : NULL,
	    .cf_assertion = flags & 16 ? f[6] : NULL,
	    .tls = flags & 32,
	};
	struct auth_ctx ctx = {.db = db, .local = local, .local_login = true};
	struct auth_decision d;
	auth_request_check(&ctx, &rq, NOW_MS, &d);
	if (d.status == 0) {
		FUZZ_CHECK(d.access == AUTHZ_ALLOW || d.access == AUTHZ_VIEW_ONLY);
		if (d.endpoint == AUTHZ_PREVIEW_WS || d.endpoint == AUTHZ_SHARE_WS)
			FUZZ_CHECK(d.access == AUTHZ_VIEW_ONLY);
		if (!d.id.user[0])
			FUZZ_CHECK(public_endpoint(d.endpoint));
		if (d.id.via == AUTH_VIA_SESSION && !auth_local_method_safe(rq.method)) {
			FUZZ_CHECK(rq.csrf_token && strcmp(rq.csrf_token, d.id.session->csrf) == 0);
			/* no Origin is allowed (scripts); one that is sent names this host */
			FUZZ_CHECK(!rq.origin || auth_local_check_origin(rq.origin, rq.host, rq.tls,
			                                                 &(struct ab_err){0}) == 0);
		}
		if (d.owner[0] && strcmp(d.owner, d.id.user) != 0 && !public_endpoint(d.endpoint) &&
		    d.endpoint != AUTHZ_SERVICES) /* there the "owner" is a service name */
			FUZZ_CHECK(d.id.role == USERS_ROLE_ADMIN);
	} else {
		FUZZ_CHECK(d.status >= 400 && d.status < 600 && d.message);
	}
	free(cookie);
	free(csrf);
	free(block);
	return 0;
}
