/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "auth_local.h"
#include "ab_json.h"
#include "ab_log.h"
#include "ab_util.h"
#include "ab_metrics.h"
#include "audit.h"
#include "auth_hash.h"

#include <crypt.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#define FAIL_TABLE_MAX 4096

const struct auth_local_config auth_local_defaults = {
    .session_ttl_ms = 12 * 3600 * 1000LL,
    .user_max_failures = 5,
    .ip_max_failures = 20,
    .failure_window_ms = 15 * 60 * 1000LL,
    .lockout_ms = 15 * 60 * 1000LL,
    .max_sessions = 10000,
};

struct fail_rec {
	char key[96]; /* "u:<name>" or "a:<address>" */
	int count;
	int64_t window_start_ms;
	int64_t locked_until_ms;
};

struct auth_local {
	const struct users_db *db;
	struct auth_local_config cfg;
	struct auth_session **sessions;
	size_t n_sessions, cap_sessions;
	struct fail_rec *fails;
	size_t n_fails;
	char dummy_hash[CRYPT_OUTPUT_SIZE];
	struct crypt_data *cd;
	auth_local_change_fn on_change;
	void *on_change_data;
	struct auth_local_login *logins; /* checks in flight (auth_local_login_start) */
};

struct auth_local_login {
	struct auth_local *al;
	struct auth_hash *pool;
	struct auth_hash_job *job;
	char user[USERS_NAME_MAX + 1];
	char source[64];
	int64_t start_ms, start_mono_ms;
	auth_local_login_fn fn;
	void *data;
	struct auth_local_login *next;
};

/* --- helpers ------------------------------------------------------------------------- */

static void
changed(struct auth_local *al)
{
	if (al->on_change)
		al->on_change(al->on_change_data);
}

void
auth_local_on_change(struct auth_local *al, auth_local_change_fn fn, void *data)
{
	al->on_change = fn;
	al->on_change_data = data;
}

static void
random_hex(char out[AUTH_LOCAL_ID_LEN + 1])
{
	unsigned char b[AUTH_LOCAL_ID_LEN / 2];
	AB_ASSERT(ab_random_bytes(b, sizeof(b)) == 0);
	ab_hex(b, sizeof(b), out);
}

static bool
str_ok(const char *s, size_t max)
{
	return s && s[0] && strnlen(s, max + 1) <= max;
}

static bool
ct_equal(const char *a, const char *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

static json_t *
reason(const char *r)
{
	return json_pack("{s:s}", "reason", r);
}

const char *
auth_local_cookie_find(const char *cookie_header, const char *name, size_t *ret_len)
{
	if (!cookie_header || !name)
		return NULL;
	size_t nlen = strlen(name);
	const char *p = cookie_header;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t vlen = (size_t)(end - v);
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			*ret_len = vlen;
			return v;
		}
		p = end;
	}
	return NULL;
}

/* --- object -------------------------------------------------------------------------- */

struct auth_local *
auth_local_new(const struct users_db *db, const struct auth_local_config *cfg)
{
	struct auth_local *al = ab_xcalloc(1, sizeof(*al));
	al->db = db;
	al->cfg = cfg ? *cfg : auth_local_defaults;
	if (al->cfg.max_sessions == 0)
		al->cfg.max_sessions = auth_local_defaults.max_sessions;
	if (al->cfg.session_ttl_ms <= 0)
		al->cfg.session_ttl_ms = auth_local_defaults.session_ttl_ms;
	al->fails = ab_xcalloc(FAIL_TABLE_MAX, sizeof(*al->fails));
	al->cd = ab_xcalloc(1, sizeof(*al->cd));
	/* a hash of a random password: unknown users are checked against it so they
	 * take as long as known ones */
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	char pw[AUTH_LOCAL_ID_LEN + 1];
	random_hex(pw);
	AB_ASSERT(crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)));
	const char *h = crypt_rn(pw, salt, al->cd, sizeof(*al->cd));
	AB_ASSERT(h && h[0] == '$');
	snprintf(al->dummy_hash, sizeof(al->dummy_hash), "%s", h);
	return al;
}

void
auth_local_free(struct auth_local *al)
{
	if (!al)
		return;
	while (al->logins)
		auth_local_login_cancel(al, al->logins);
	for (size_t i = 0; i < al->n_sessions; i++)
		free(al->sessions[i]);
	free(al->sessions);
	free(al->fails);
	free(al->cd);
	free(al);
}

void
auth_local_set_users(struct auth_local *al, const struct users_db *db)
{
	al->db = db;
}

/* --- failures and lockout ------------------------------------------------------------ */

static struct fail_rec *
fail_get(struct auth_local *al, const char *prefix, const char *what, bool create, int64_t now_ms)
{
	char key[96];
	snprintf(key, sizeof(key), "%s%s", prefix, what ? what : "");
	struct fail_rec *oldest = NULL;
	for (size_t i = 0; i < al->n_fails; i++) {
		struct fail_rec *f = &al->fails[i];
		if (strcmp(f->key, key) == 0)
			return f;
		if (!oldest || AB_MAX(f->window_start_ms, f->locked_until_ms) <
		                   AB_MAX(oldest->window_start_ms, oldest->locked_until_ms))
			oldest = f;
	}
	if (!create)
		return NULL;
	struct fail_rec *f = al->n_fails < FAIL_TABLE_MAX ? &al->fails[al->n_fails++] : oldest;
	memset(f, 0, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->window_start_ms = now_ms;
	return f;
}

static int64_t
fail_locked_ms(struct auth_local *al, const char *prefix, const char *what, int64_t now_ms)
{
	struct fail_rec *f = fail_get(al, prefix, what, false, now_ms);
	return f && f->locked_until_ms > now_ms ? f->locked_until_ms - now_ms : 0;
}

/* Counts one failure; returns true when this failure started a lockout. */
static bool
fail_count(struct auth_local *al, const char *prefix, const char *what, int max, int64_t now_ms)
{
	struct fail_rec *f = fail_get(al, prefix, what, true, now_ms);
	if (now_ms - f->window_start_ms > al->cfg.failure_window_ms) {
		f->window_start_ms = now_ms;
		f->count = 0;
	}
	f->count++;
	bool locked = false;
	if (max > 0 && f->count >= max) {
		f->locked_until_ms = now_ms + al->cfg.lockout_ms;
		f->count = 0;
		f->window_start_ms = now_ms;
		locked = true;
	}
	changed(al);
	return locked;
}

static void
fail_reset(struct auth_local *al, const char *prefix, const char *what)
{
	struct fail_rec *f = fail_get(al, prefix, what, false, 0);
	if (f && (f->count || f->locked_until_ms)) {
		f->count = 0;
		f->locked_until_ms = 0;
		changed(al);
	}
}

int64_t
auth_local_locked_for(struct auth_local *al, const char *user, const char *source, int64_t now_ms)
{
	int64_t a = user ? fail_locked_ms(al, "u:", user, now_ms) : 0;
	int64_t b = source ? fail_locked_ms(al, "a:", source, now_ms) : 0;
	int64_t ms = AB_MAX(a, b);
	return ms ? (ms + 999) / 1000 : 0;
}

bool
auth_local_unlock(struct auth_local *al, const char *user)
{
	struct fail_rec *f = fail_get(al, "u:", user, false, 0);
	if (!f)
		return false;
	bool locked = f->locked_until_ms > 0 || f->count > 0;
	f->locked_until_ms = 0;
	f->count = 0;
	changed(al);
	return locked;
}

/* --- login --------------------------------------------------------------------------- */

void
auth_local_signin_count(const char *method, bool ok)
{
	char labels[96];
	snprintf(labels, sizeof(labels), "method=\"%s\",result=\"%s\"", method,
	         ok ? "ok" : "denied");
	ab_metrics_count("argobox_signins_total", labels, 1);
}

/* The checks before any hash: input, lockout, attempts in flight. 0 or < 0 (audited). */
static int
login_precheck(struct auth_local *al, const char *user, const char *password, const char *source,
               int64_t now_ms, struct ab_err *err)
{
	if (!str_ok(user, USERS_NAME_MAX) || !str_ok(password, AUTH_LOCAL_PASSWORD_MAX)) {
		audit_log("auth.login", AUDIT_DENY, NULL, NULL, source,
		          reason("missing or oversized user name or password"));
		auth_local_signin_count("local", false);
		return ab_err_set(err, EINVAL, "missing or oversized user name or password");
	}
	int64_t locked = auth_local_locked_for(al, user, source, now_ms);
	if (locked > 0) {
		json_t *d = reason("locked out after repeated failures");
		json_object_set_new(d, "retry_after_s", json_integer(locked));
		audit_log("auth.login", AUDIT_DENY, user, NULL, source, d);
		auth_local_signin_count("local", false);
		return ab_err_set(err, EBUSY,
		                  "too many failed sign-ins, try again in %" PRId64 " s", locked);
	}
	/*
	 * Checks run off the loop now: attempts still in flight count against the limits as if
	 * they had failed, so a burst of parallel guesses gets no more than the lockout allows.
	 */
	unsigned by_user = 0, by_source = 0;
	for (struct auth_local_login *l = al->logins; l; l = l->next) {
		by_user += strcmp(l->user, user) == 0;
		by_source += source && strcmp(l->source, source) == 0;
	}
	if (by_user || by_source) {
		struct fail_rec *fu = fail_get(al, "u:", user, false, now_ms);
		struct fail_rec *fa = source ? fail_get(al, "a:", source, false, now_ms) : NULL;
		int cu =
		    fu && now_ms - fu->window_start_ms <= al->cfg.failure_window_ms ? fu->count : 0;
		int ca =
		    fa && now_ms - fa->window_start_ms <= al->cfg.failure_window_ms ? fa->count : 0;
		if ((al->cfg.user_max_failures > 0 &&
		     cu + (int)by_user >= al->cfg.user_max_failures) ||
		    (al->cfg.ip_max_failures > 0 &&
		     ca + (int)by_source >= al->cfg.ip_max_failures)) {
			audit_log(
			    "auth.login", AUDIT_DENY, user, NULL, source,
			    reason("too many sign-ins in flight for this user name or address"));
			auth_local_signin_count("local", false);
			return ab_err_set(err, EBUSY, "too many sign-ins in progress, try again");
		}
	}
	return 0;
}

/* The hash to check `user`'s password against (the dummy one for unknown users). */
static const char *
login_hash(struct auth_local *al, const char *user)
{
	const struct users_user *u = al->db ? users_find(al->db, user) : NULL;
	return u && u->password_hash ? u->password_hash : al->dummy_hash;
}

/* The verdict once the hash was checked: counts, audits, opens the session. */
static int
login_finish(struct auth_local *al, const char *user, const char *source, int64_t now_ms,
             bool match, bool usable, bool abandoned, const struct auth_session **ret_session,
             struct ab_err *err)
{
	const struct users_user *u = al->db ? users_find(al->db, user) : NULL;
	const char *why = NULL;
	if (!u)
		why = "unknown user";
	else if (!u->password_hash)
		why = "user has no password (other sign-in methods only)";
	else if (!usable)
		why = "password hash in the config is not usable by crypt(3)";
	else if (!match)
		why = "wrong password";
	else if (u->role == USERS_ROLE_DEMO)
		why = "demo identities cannot sign in with a password";
	else if (u->disabled)
		why = "account disabled by an administrator";

	if (why) {
		bool lu = fail_count(al, "u:", user, al->cfg.user_max_failures, now_ms);
		bool la = source && fail_count(al, "a:", source, al->cfg.ip_max_failures, now_ms);
		audit_log("auth.login", AUDIT_DENY, user, u ? users_role_name(u->role) : NULL,
		          source, reason(why));
		auth_local_signin_count("local", false);
		if (lu || la) {
			json_t *d = reason(lu ? "too many failures for this user name"
			                      : "too many failures from this address");
			json_object_set_new(d, "lockout_s",
			                    json_integer(al->cfg.lockout_ms / 1000));
			audit_log("auth.lockout", AUDIT_DENY, user, NULL, source, d);
			ab_metrics_count("argobox_signin_lockouts_total", "", 1);
		}
		return ab_err_set(err, EACCES, "%s", why);
	}
	fail_reset(al, "u:", user);
	if (abandoned) {
		/* the client left before the answer: no session nobody would hold */
		audit_log("auth.login", AUDIT_INFO, u->name, users_role_name(u->role), source,
		          reason("password ok, but the client left before the answer"));
		return ab_err_set(err, ECONNABORTED, "the client left");
	}
	const struct auth_session *s =
	    auth_local_session_new(al, u->name, u->role, source, 0, now_ms);
	json_t *d = reason("password ok");
	json_object_set_new(d, "method", json_string("local"));
	audit_log("auth.login", AUDIT_GRANT, u->name, users_role_name(u->role), source, d);
	auth_local_signin_count("local", true);
	*ret_session = s;
	return 0;
}

int
auth_local_login(struct auth_local *al, const char *user, const char *password, const char *source,
                 int64_t now_ms, const struct auth_session **ret_session, struct ab_err *err)
{
	int r = login_precheck(al, user, password, source, now_ms, err);
	if (r < 0)
		return r;
	const char *hash = login_hash(al, user);
	const char *out = crypt_rn(password, hash, al->cd, sizeof(*al->cd));
	size_t hl = strlen(hash);
	bool usable = out && out[0] != '*';
	bool match = usable && strlen(out) == hl && ct_equal(out, hash, hl);
	memset(al->cd, 0, sizeof(*al->cd));
	return login_finish(al, user, source, now_ms, match, usable, false, ret_session, err);
}

static void
login_unlink(struct auth_local *al, struct auth_local_login *l)
{
	for (struct auth_local_login **p = &al->logins; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			return;
		}
}

static void
login_checked(bool match, bool usable, void *data)
{
	struct auth_local_login *l = data;
	struct auth_local *al = l->al;
	login_unlink(al, l);
	const struct auth_session *s = NULL;
	struct ab_err err = {0};
	/* the verdict's time is the answer's: a session starts when it is handed out */
	int64_t now_ms = l->start_ms + (ab_now_ms() - l->start_mono_ms);
	int r = login_finish(al, l->user, l->source, now_ms, match, usable, !l->fn, &s, &err);
	if (l->fn)
		l->fn(r, s, &err, l->data);
	free(l);
}

int
auth_local_login_start(struct auth_local *al, struct auth_hash *pool, const char *user,
                       const char *password, const char *source, int64_t now_ms,
                       auth_local_login_fn fn, void *data, struct auth_local_login **ret,
                       struct ab_err *err)
{
	int r = login_precheck(al, user, password, source, now_ms, err);
	if (r < 0)
		return r;
	struct auth_local_login *l = ab_xcalloc(1, sizeof(*l));
	l->al = al;
	l->pool = pool;
	snprintf(l->user, sizeof(l->user), "%s", user);
	snprintf(l->source, sizeof(l->source), "%s", source ? source : "");
	l->start_ms = now_ms;
	l->start_mono_ms = ab_now_ms();
	l->fn = fn;
	l->data = data;
	if (auth_hash_check(pool, password, login_hash(al, user), login_checked, l, &l->job) < 0) {
		free(l);
		audit_log("auth.login", AUDIT_DENY, user, NULL, source,
		          reason("too many sign-ins being checked (queue full)"));
		auth_local_signin_count("local", false);
		return ab_err_set(err, EAGAIN, "too many sign-ins being checked, try again");
	}
	l->next = al->logins;
	al->logins = l;
	*ret = l;
	return AUTH_LOCAL_PENDING;
}

void
auth_local_login_abandon(struct auth_local *al, struct auth_local_login *l)
{
	if (l)
		l->fn = NULL;
}

void
auth_local_login_cancel(struct auth_local *al, struct auth_local_login *l)
{
	if (!l)
		return;
	auth_hash_cancel(l->pool, l->job);
	login_unlink(al, l);
	free(l);
}

/* --- sessions ------------------------------------------------------------------------ */

static void
session_remove_at(struct auth_local *al, size_t i)
{
	free(al->sessions[i]);
	memmove(&al->sessions[i], &al->sessions[i + 1],
	        (al->n_sessions - i - 1) * sizeof(*al->sessions));
	al->n_sessions--;
}

const struct auth_session *
auth_local_session_new(struct auth_local *al, const char *user, enum users_role role,
                       const char *source, int64_t ttl_ms, int64_t now_ms)
{
	auth_local_expire(al, now_ms);
	if (al->n_sessions >= al->cfg.max_sessions) {
		/* sessions are kept in creation order: drop the oldest */
		audit_log("auth.session", AUDIT_INFO, al->sessions[0]->user,
		          users_role_name(al->sessions[0]->role), al->sessions[0]->source,
		          reason("dropped: session table full"));
		session_remove_at(al, 0);
	}
	if (al->n_sessions == al->cap_sessions) {
		al->cap_sessions = al->cap_sessions ? 2 * al->cap_sessions : 16;
		al->sessions = ab_xrealloc(al->sessions, al->cap_sessions * sizeof(*al->sessions));
	}
	struct auth_session *s = ab_xcalloc(1, sizeof(*s));
	random_hex(s->id);
	random_hex(s->csrf);
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->role = role;
	snprintf(s->source, sizeof(s->source), "%s", source ? source : "");
	s->created_ms = now_ms;
	s->expires_ms = now_ms + (ttl_ms > 0 ? ttl_ms : al->cfg.session_ttl_ms);
	al->sessions[al->n_sessions++] = s;
	changed(al);
	return s;
}

static bool
id_valid(const char *id, size_t len)
{
	if (len != AUTH_LOCAL_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static ssize_t
session_index(struct auth_local *al, const char *id, size_t len)
{
	if (!id_valid(id, len))
		return -1;
	ssize_t found = -1;
	/* compare against every entry in constant time per entry */
	for (size_t i = 0; i < al->n_sessions; i++)
		if (ct_equal(al->sessions[i]->id, id, AUTH_LOCAL_ID_LEN))
			found = (ssize_t)i;
	return found;
}

const struct auth_session *
auth_local_session_find(struct auth_local *al, const char *id, int64_t now_ms)
{
	ssize_t i = id ? session_index(al, id, strlen(id)) : -1;
	if (i < 0 || al->sessions[i]->expires_ms <= now_ms)
		return NULL;
	return al->sessions[i];
}

const struct auth_session *
auth_local_session_get(struct auth_local *al, const char *cookie_header, int64_t now_ms)
{
	size_t len = 0;
	const char *v = auth_local_cookie_find(cookie_header, AUTH_LOCAL_COOKIE, &len);
	ssize_t i = v ? session_index(al, v, len) : -1;
	if (i < 0 || al->sessions[i]->expires_ms <= now_ms)
		return NULL;
	return al->sessions[i];
}

int
auth_local_logout(struct auth_local *al, const char *id, const char *source)
{
	ssize_t i = id ? session_index(al, id, strlen(id)) : -1;
	if (i < 0) {
		audit_log("auth.logout", AUDIT_DENY, NULL, NULL, source, reason("no such session"));
		return -ENOENT;
	}
	struct auth_session *s = al->sessions[i];
	audit_log("auth.logout", AUDIT_INFO, s->user, users_role_name(s->role), source,
	          reason("signed out"));
	session_remove_at(al, (size_t)i);
	changed(al);
	return 0;
}

size_t
auth_local_logout_user(struct auth_local *al, const char *user)
{
	size_t n = 0;
	for (size_t i = al->n_sessions; i-- > 0;) {
		if (strcmp(al->sessions[i]->user, user) == 0) {
			session_remove_at(al, i);
			n++;
		}
	}
	if (n)
		changed(al);
	return n;
}

size_t
auth_local_expire(struct auth_local *al, int64_t now_ms)
{
	size_t n = 0;
	for (size_t i = al->n_sessions; i-- > 0;) {
		if (al->sessions[i]->expires_ms <= now_ms) {
			session_remove_at(al, i);
			n++;
		}
	}
	/* forget failure records whose window and lockout are over */
	for (size_t i = al->n_fails; i-- > 0;) {
		struct fail_rec *f = &al->fails[i];
		if (f->locked_until_ms <= now_ms &&
		    now_ms - f->window_start_ms > al->cfg.failure_window_ms)
			al->fails[i] = al->fails[--al->n_fails];
	}
	if (n)
		changed(al);
	return n;
}

size_t
auth_local_session_count(const struct auth_local *al)
{
	return al->n_sessions;
}

char *
auth_local_set_cookie(const struct auth_session *s, int64_t now_ms, bool tls)
{
	int64_t max_age = AB_MAX(0, (s->expires_ms - now_ms) / 1000);
	return ab_xasprintf("%s=%s; Path=/; Max-Age=%" PRId64 "; HttpOnly; SameSite=Strict%s",
	                    AUTH_LOCAL_COOKIE, s->id, max_age, tls ? "; Secure" : "");
}

char *
auth_local_clear_cookie(bool tls)
{
	return ab_xasprintf("%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
	                    AUTH_LOCAL_COOKIE, tls ? "; Secure" : "");
}

/* --- CSRF ---------------------------------------------------------------------------- */

bool
auth_local_method_safe(const char *method)
{
	return method && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	                  strcmp(method, "OPTIONS") == 0);
}

int
auth_local_check_origin(const char *origin, const char *host, bool tls, struct ab_err *err)
{
	if (!origin)
		return 0;
	const char *scheme = tls ? "https://" : "http://";
	size_t sl = strlen(scheme);
	if (!host || strncasecmp(origin, scheme, sl) != 0 || strcasecmp(origin + sl, host) != 0)
		return ab_err_set(err, EACCES, "cross-origin request from '%.200s'", origin);
	return 0;
}

int
auth_local_check_csrf(const struct auth_session *s, const char *method, const char *csrf_token,
                      const char *origin, const char *host, bool tls, struct ab_err *err)
{
	if (auth_local_method_safe(method))
		return 0;
	const char *why = NULL;
	struct ab_err e = {0};
	if (!csrf_token)
		why = "missing X-CSRF-Token";
	else if (strlen(csrf_token) != AUTH_LOCAL_ID_LEN ||
	         !ct_equal(csrf_token, s->csrf, AUTH_LOCAL_ID_LEN))
		why = "wrong X-CSRF-Token";
	else if (auth_local_check_origin(origin, host, tls, &e) < 0)
		why = e.msg;
	if (!why)
		return 0;
	json_t *d = reason(why);
	json_object_set_new(d, "method", json_string(method ? method : ""));
	audit_log("auth.csrf", AUDIT_DENY, s->user, users_role_name(s->role), s->source, d);
	return ab_err_set(err, EACCES, "%s", why);
}

/* --- persistence --------------------------------------------------------------------- */

#define SESSIONS_FILE_MAX (16u << 20)

int
auth_local_save(const struct auth_local *al, const char *path, int64_t now_ms, struct ab_err *err)
{
	json_t *list = json_array();
	int n = 0;
	for (size_t i = 0; i < al->n_sessions; i++) {
		const struct auth_session *s = al->sessions[i];
		if (s->expires_ms <= now_ms)
			continue;
		json_array_append_new(list,
		                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", s->id,
		                                "csrf", s->csrf, "user", s->user, "role",
		                                users_role_name(s->role), "source", s->source,
		                                "age_ms", (json_int_t)(now_ms - s->created_ms),
		                                "left_ms", (json_int_t)(s->expires_ms - now_ms)));
		n++;
	}
	json_t *fails = json_array();
	for (size_t i = 0; i < al->n_fails; i++) {
		const struct fail_rec *f = &al->fails[i];
		json_array_append_new(
		    fails, json_pack("{s:s, s:i, s:I, s:I}", "key", f->key, "count", f->count,
		                     "window_age_ms", (json_int_t)(now_ms - f->window_start_ms),
		                     "locked_left_ms",
		                     (json_int_t)AB_MAX(0, f->locked_until_ms - now_ms)));
	}
	json_t *root = ab_json_snapshot_new();
	json_object_set_new(root, "sessions", list);
	json_object_set_new(root, "fails", fails);
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	int r = ab_write_file_atomic(path, text, strlen(text), 0600, err);
	free(text);
	if (r < 0)
		return ab_err_wrap(err, "saving sessions");
	return n;
}

static bool
hex_id_ok(const char *s)
{
	return s && strlen(s) == AUTH_LOCAL_ID_LEN &&
	       strspn(s, "0123456789abcdef") == AUTH_LOCAL_ID_LEN;
}

int
auth_local_load(struct auth_local *al, const char *path, int64_t now_ms,
                bool (*keep_demo)(const char *user, void *data), void *data, struct ab_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int r = ab_read_file(path, SESSIONS_FILE_MAX, &text, &len, err);
	if (r == -ENOENT) {
		ab_err_clear(err);
		return 0;
	}
	if (r < 0)
		return ab_err_wrap(err, "loading sessions");
	json_t *root = json_loadb(text, len, 0, NULL);
	free(text);
	json_t *list = json_object_get(root, "sessions");
	/* the time the broker was down counts (a lockout runs out, a session ages) */
	int64_t gone = ab_json_snapshot_age_ms(root);
	if (!json_is_array(list) || gone < 0) {
		json_decref(root);
		return ab_err_set(err, EINVAL, "loading sessions: '%s' is not a sessions file",
		                  path);
	}
	int n = 0;
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(root, "fails"), i, o)
	{
		const char *key = json_string_value(json_object_get(o, "key"));
		json_int_t count = json_integer_value(json_object_get(o, "count"));
		json_int_t wage = json_integer_value(json_object_get(o, "window_age_ms")) + gone;
		json_int_t lleft = json_integer_value(json_object_get(o, "locked_left_ms")) - gone;
		if (!key || strlen(key) < 3 || strlen(key) >= sizeof(al->fails[0].key) ||
		    (strncmp(key, "u:", 2) != 0 && strncmp(key, "a:", 2) != 0) || count < 0 ||
		    count > INT_MAX || wage < 0)
			continue;
		if (lleft <= 0 && wage > al->cfg.failure_window_ms)
			continue; /* over */
		char prefix[3] = {key[0], key[1], '\0'};
		struct fail_rec *f = fail_get(al, prefix, key + 2, true, now_ms);
		f->count = (int)count;
		f->window_start_ms = now_ms - wage;
		f->locked_until_ms = lleft > 0 ? now_ms + lleft : 0;
	}
	json_array_foreach(list, i, o)
	{
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *csrf = json_string_value(json_object_get(o, "csrf"));
		const char *user = json_string_value(json_object_get(o, "user"));
		const char *source = json_string_value(json_object_get(o, "source"));
		int role = users_role_from_string(json_string_value(json_object_get(o, "role")));
		json_int_t left = json_integer_value(json_object_get(o, "left_ms")) - gone;
		json_int_t age = json_integer_value(json_object_get(o, "age_ms")) + gone;
		if (!hex_id_ok(id) || !hex_id_ok(csrf) || !users_name_valid(user) || role < 0 ||
		    left <= 0)
			continue;
		if (role == USERS_ROLE_DEMO) {
			if (!keep_demo || !keep_demo(user, data))
				continue;
		} else {
			const struct users_user *u = al->db ? users_find(al->db, user) : NULL;
			if (!u || (int)u->role != role)
				continue;
		}
		if (auth_local_session_find(al, id, now_ms))
			continue;
		struct auth_session *s = (struct auth_session *)auth_local_session_new(
		    al, user, (enum users_role)role, source, left, now_ms);
		memcpy(s->id, id, AUTH_LOCAL_ID_LEN + 1);
		memcpy(s->csrf, csrf, AUTH_LOCAL_ID_LEN + 1);
		s->created_ms = now_ms - AB_MAX(0, age);
		n++;
	}
	json_decref(root);
	return n;
}
