/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * auth_local: the embedded sign-in (docs/auth.md).
 *
 *  - passwords checked with crypt(3) against the user table's hashes
 *    (yescrypt "$y$", sha512-crypt "$6$"); an unknown user, or one without a
 *    hash, is checked against a dummy hash so it costs the same time;
 *  - failures are counted per user name and per source address; too many in
 *    the window lock that name / address out for a while (-EBUSY);
 *  - sessions: a random 256-bit id (hex) in the "argobox_session" cookie
 *    (HttpOnly, SameSite=Strict, Path=/, Secure under TLS), an absolute
 *    expiry, and a per-session CSRF token that every state-changing request
 *    must echo in the X-CSRF-Token header (plus an Origin check).
 *
 * Demo identities (demo.h) and any other sign-in path get their cookie
 * sessions from auth_local_session_new(). Every decision is audited.
 * Times are monotonic milliseconds (ab_now_ms()) passed in by the caller.
 */
#ifndef BROKER_AUTH_LOCAL_H
#define BROKER_AUTH_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include "users.h"

#define AUTH_LOCAL_COOKIE       "argobox_session"
#define AUTH_LOCAL_CSRF_HEADER  "X-CSRF-Token"
#define AUTH_LOCAL_ID_LEN       64 /* hex characters of a session id / CSRF token */
#define AUTH_LOCAL_PASSWORD_MAX 1024

struct auth_local_config {
	int64_t session_ttl_ms;    /* absolute lifetime of a session (default 12 h) */
	int user_max_failures;     /* failures per user name within the window (default 5) */
	int ip_max_failures;       /* failures per source address within the window (default 20) */
	int64_t failure_window_ms; /* default 15 min */
	int64_t lockout_ms;        /* default 15 min */
	size_t max_sessions;       /* default 10000; the oldest session goes first */
};

/* The compiled defaults, for the broker's config table and tests. */
extern const struct auth_local_config auth_local_defaults;

struct auth_session {
	char id[AUTH_LOCAL_ID_LEN + 1];
	char csrf[AUTH_LOCAL_ID_LEN + 1];
	char user[USERS_NAME_MAX + 1];
	enum users_role role;
	char source[64];
	int64_t created_ms, expires_ms;
};

struct auth_local;

/* `db` (may be NULL: nobody can sign in) must outlive the object; `cfg` is copied. */
struct auth_local *auth_local_new(const struct users_db *db, const struct auth_local_config *cfg);
void auth_local_free(struct auth_local *al);
/* Swaps the user table after a config reload (existing sessions stay). */
void auth_local_set_users(struct auth_local *al, const struct users_db *db);

/*
 * Counts one sign-in attempt in argobox_signins_total{method,result} (GET /metrics):
 * method "local", "cloudflare-access" or "demo"; result "ok" or "denied".
 */
void auth_local_signin_count(const char *method, bool ok);

/*
 * POST /api/login. Returns 0 and *ret_session (borrowed, valid until logout or
 * expiry) on success; -EACCES for a wrong name or password (the client must
 * see one generic message; err holds the precise reason for the audit log);
 * -EBUSY when the name or address is locked out (err says for how long: send
 * 429 with Retry-After); -EINVAL for unusable input (empty, too long, NUL).
 * Audited as "auth.login".
 */
int auth_local_login(struct auth_local *al, const char *user, const char *password,
                     const char *source, int64_t now_ms, const struct auth_session **ret_session,
                     struct ab_err *err);

/*
 * Clears `user`'s failure count and lockout (the admin console); an address's own lockout
 * stays. true when there was something to clear.
 */
bool auth_local_unlock(struct auth_local *al, const char *user);

/*
 * POST /api/login without the password hash on the loop: auth_local_login() with the hash
 * checked by `pool`'s threads (auth_hash.h). Returns < 0 when decided at once, as
 * auth_local_login() would (-EINVAL, -EBUSY locked out), and also -EBUSY when the sign-ins
 * of this user name or address still being checked reach its failure limit (they count as
 * failures until they are not: parallel guesses get no more tries than serial ones), -EAGAIN
 * when the pool's queue is full (503). Else AUTH_LOCAL_PENDING: fn(r, session, err, data)
 * runs later on the loop with what auth_local_login() would have returned (audited the
 * same), unless auth_local_login_abandon() (the client left) or auth_local_login_cancel()
 * (shutdown: not counted, not audited) first. *ret is valid until then.
 */
#define AUTH_LOCAL_PENDING 1
struct auth_hash;
struct auth_local_login;
typedef void (*auth_local_login_fn)(int r, const struct auth_session *s, const struct ab_err *err,
                                    void *data);
int auth_local_login_start(struct auth_local *al, struct auth_hash *pool, const char *user,
                           const char *password, const char *source, int64_t now_ms,
                           auth_local_login_fn fn, void *data, struct auth_local_login **ret,
                           struct ab_err *err);
void auth_local_login_cancel(struct auth_local *al, struct auth_local_login *l);
/*
 * The client left: the check goes on and its verdict counts (a failure towards the lockout,
 * audited) but fn will not run and no session is opened (a right password is audited as
 * "info": the client left). Whoever leaves cannot skip the count by hanging up.
 */
void auth_local_login_abandon(struct auth_local *al, struct auth_local_login *l);

/* Seconds until `source` / `user` may try again (0: not locked). */
int64_t auth_local_locked_for(struct auth_local *al, const char *user, const char *source,
                              int64_t now_ms);

/*
 * Creates a session for an identity authenticated by other means (demo link).
 * ttl_ms <= 0 uses the configured session TTL. Never fails (the oldest
 * session is dropped when the table is full). Borrowed result.
 */
const struct auth_session *auth_local_session_new(struct auth_local *al, const char *user,
                                                  enum users_role role, const char *source,
                                                  int64_t ttl_ms, int64_t now_ms);

/*
 * Finds the live session named by the argobox_session cookie in a Cookie
 * header (may be NULL). NULL when absent, unknown or expired.
 */
const struct auth_session *auth_local_session_get(struct auth_local *al, const char *cookie_header,
                                                  int64_t now_ms);
/* By id (64 hex characters). */
const struct auth_session *auth_local_session_find(struct auth_local *al, const char *id,
                                                   int64_t now_ms);

/*
 * `fn(data)` runs after every change worth keeping across a crash: a session
 * created or ended, a failed sign-in counted, a lockout started or cleared.
 * The broker saves right there (auth_local_save()), before answering. NULL
 * stops it.
 */
typedef void (*auth_local_change_fn)(void *data);
void auth_local_on_change(struct auth_local *al, auth_local_change_fn fn, void *data);

/* POST /api/logout: ends the session (audited "auth.logout"). Returns 0 or -ENOENT. */
int auth_local_logout(struct auth_local *al, const char *id, const char *source);
/* Ends every session of `user` (demo expiry, admin action). Returns how many. */
size_t auth_local_logout_user(struct auth_local *al, const char *user);
/* Drops expired sessions and stale failure records. Returns sessions dropped. */
size_t auth_local_expire(struct auth_local *al, int64_t now_ms);
size_t auth_local_session_count(const struct auth_local *al);

/*
 * Sessions and sign-in failures across a broker restart or crash:
 * auth_local_save() writes every live session and every failure record
 * (counts, windows, lockouts) to `path` atomically (temp file, fsync, rename;
 * mode 0600; ids are bearer secrets, keep the file in the broker's private
 * state directory) with their remaining lifetimes and the wall-clock time of
 * the save; auth_local_load() adds them back, counting the time the broker
 * was down (expired ones and ones whose user is no longer in the table with
 * the same role are skipped; demo sessions are kept only when `keep_demo`
 * says the demo still exists). A missing file is not an error. Returns the
 * number of sessions written / loaded, or -errno.
 */
int auth_local_save(const struct auth_local *al, const char *path, int64_t now_ms,
                    struct ab_err *err);
int auth_local_load(struct auth_local *al, const char *path, int64_t now_ms,
                    bool (*keep_demo)(const char *user, void *data), void *data,
                    struct ab_err *err);

/*
 * The Set-Cookie header value for a session (new string):
 *   argobox_session=<id>; Path=/; Max-Age=<s>; HttpOnly; SameSite=Strict[; Secure]
 * and the one that clears it on logout.
 */
char *auth_local_set_cookie(const struct auth_session *s, int64_t now_ms, bool tls);
char *auth_local_clear_cookie(bool tls);

/* true for GET, HEAD, OPTIONS: methods that must not change state. */
bool auth_local_method_safe(const char *method);

/*
 * Origin check for state-changing requests: when an Origin header is present
 * it must be exactly "<scheme>://<host>" of this request (scheme https under
 * TLS). Returns 0 or -EACCES.
 */
int auth_local_check_origin(const char *origin, const char *host, bool tls, struct ab_err *err);

/*
 * CSRF check for a request made with session `s`: safe methods pass; others
 * need X-CSRF-Token equal to s->csrf (constant-time) and pass the Origin
 * check. Returns 0 or -EACCES; denials are audited as "auth.csrf".
 */
int auth_local_check_csrf(const struct auth_session *s, const char *method, const char *csrf_token,
                          const char *origin, const char *host, bool tls, struct ab_err *err);

/*
 * Finds cookie `name` in a Cookie header ("a=1; b=2"). Returns a pointer
 * into the header and the value's length, or NULL.
 */
const char *auth_local_cookie_find(const char *cookie_header, const char *name, size_t *ret_len);

#endif
