/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_http: the request path as the broker judges it before any handler runs: the static
 * server's path check (broker/http/server.c), the MIME type, and the authorization table
 * (broker/auth/authz.c: route, owner, decision for every role). The input is method NUL
 * path NUL caller. Whatever the input: a path the check passes has no "..", dotfile, "//" or
 * backslash; an owner taken from the path is a valid user name; anonymous callers reach
 * public routes only (and the landing page's preview and share links' websockets, view-only
 * like everyone: a share link's token decides later, share.c); members and
 * demos never reach another user's desktop, and nobody but an admin gets the admin endpoints.
 */
#include "audit.h"
#include "authz.h"
#include "fuzz.h"
#include "server.h"
#include "users.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	audit_open("/dev/null", NULL);
	return 0;
}

static void
check_path(const char *path, size_t len)
{
	if (server_path_check(path, len) < 0)
		return;
	FUZZ_CHECK(len > 0 && path[0] == '/');
	FUZZ_CHECK(!memmem(path, len, "/.", 2) && !memmem(path, len, "//", 2));
	FUZZ_CHECK(!memchr(path, '\\', len) && !memchr(path, '\0', len));
	FUZZ_CHECK(server_mime_type(path) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *f[3], *block;
	fuzz_split(data, size, f, 3, &block);
	check_path(f[1], strlen(f[1]));
	enum authz_endpoint ep;
	char owner[USERS_NAME_MAX + 1] = "x";
	int r = authz_route(f[0], f[1], &ep, owner, sizeof(owner));
	if (r == 0) {
		FUZZ_CHECK(ep < AUTHZ_ENDPOINT_MAX);
		FUZZ_CHECK(owner[0] == '\0' || users_name_valid(owner));
		const char *caller = f[2][0] ? f[2] : "bea";
		for (int role = 0; role <= USERS_ROLE_MAX; role++) {
			struct authz_subject who = {
			    .user = role == USERS_ROLE_MAX ? NULL : caller,
			    .role =
			        role == USERS_ROLE_MAX ? USERS_ROLE_MEMBER : (enum users_role)role,
			    .source = "192.0.2.7",
			};
			enum authz_decision d = authz_check(&who, ep, owner[0] ? owner : NULL);
			FUZZ_CHECK(d < AUTHZ_DECISION_MAX);
			if (d == AUTHZ_DENY)
				continue;
			if (!who.user)
				FUZZ_CHECK(ep == AUTHZ_PUBLIC || ep == AUTHZ_LOGIN ||
				           ep == AUTHZ_DEMO_START || ep == AUTHZ_PREVIEW_WS ||
				           ep == AUTHZ_SHARE_WS);
			/* the showcase and share links: everyone watches, nobody types */
			if (ep == AUTHZ_PREVIEW_WS || ep == AUTHZ_SHARE_WS)
				FUZZ_CHECK(d == AUTHZ_VIEW_ONLY);
			if (ep == AUTHZ_ADMIN_READ || ep == AUTHZ_ADMIN_WRITE)
				FUZZ_CHECK(who.role == USERS_ROLE_ADMIN && who.user);
			if (owner[0] && who.user && strcmp(owner, who.user) != 0 &&
			    ep != AUTHZ_SERVICES)
				FUZZ_CHECK(who.role == USERS_ROLE_ADMIN);
		}
	} else {
		FUZZ_CHECK(r == -ENOENT || r == -EINVAL);
	}
	free(block);
	return 0;
}
