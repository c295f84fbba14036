/* SPDX-License-Identifier: GPL-2.0-or-later */
/* settings: configuration changes between starts, audited (see settings.h). */
#include "settings.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"
#include "auditdb.h"

#include <errno.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CHANGES  64
#define SETTINGS_MAX (4 << 20)

static bool
is_secret(const char *key)
{
	static const char *const words[] = {"password", "secret", "token", "key"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(words); i++)
		if (strcasestr(key, words[i]))
			return true;
	return false;
}

static json_t *
digest(json_t *v)
{
	_cleanup_free_ char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	unsigned char h[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, h);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	auditdb_hex(h, SHA256_DIGEST_LENGTH, hex);
	hex[16] = '\0';
	_cleanup_free_ char *s = ab_xasprintf("sha256:%s", hex);
	return json_string(s);
}

json_t *
settings_redacted(json_t *v)
{
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			json_array_append_new(out, settings_redacted(x));
		}
		return out;
	}
	if (!json_is_object(v))
		return json_incref(v);
	json_t *out = json_object();
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x)
	{
		bool empty = json_is_string(x) && !json_string_length(x);
		json_object_set_new(out, k,
		                    is_secret(k) && !empty ? digest(x) : settings_redacted(x));
	}
	return out;
}

/* An array whose items are all objects with a string "name": compared by name. */
static bool
named_list(json_t *a)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x)
	{
		if (!json_is_string(json_object_get(x, "name")))
			return false;
	}
	return json_is_array(a) && json_array_size(a) > 0;
}

static void
note(json_t *changes, const char *path)
{
	if (json_array_size(changes) < MAX_CHANGES)
		json_array_append_new(changes, json_string(path));
}

static json_t *
by_name(json_t *list, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x)
	{
		if (strcmp(json_string_value(json_object_get(x, "name")), name) == 0)
			return x;
	}
	return NULL;
}

/* Appends to `changes` every path where `a` and `b` differ. */
static void
diff(json_t *a, json_t *b, const char *path, json_t *changes)
{
	if (json_equal(a, b))
		return;
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *x;
		json_object_foreach(a, k, x)
		{
			_cleanup_free_ char *p =
			    path[0] ? ab_xasprintf("%s.%s", path, k) : ab_xstrdup(k);
			diff(x, json_object_get(b, k), p, changes);
		}
		json_object_foreach(b, k, x)
		{
			if (json_object_get(a, k))
				continue;
			_cleanup_free_ char *p =
			    path[0] ? ab_xasprintf("%s.%s", path, k) : ab_xstrdup(k);
			note(changes, p); /* added */
		}
		return;
	}
	if (named_list(a) && named_list(b)) {
		size_t i;
		json_t *x;
		json_array_foreach(a, i, x)
		{
			const char *n = json_string_value(json_object_get(x, "name"));
			_cleanup_free_ char *p = ab_xasprintf("%s.%s", path, n);
			json_t *other = by_name(b, n);
			if (other)
				diff(x, other, p, changes);
			else
				note(changes, p); /* removed */
		}
		json_array_foreach(b, i, x)
		{
			const char *n = json_string_value(json_object_get(x, "name"));
			if (!by_name(a, n)) {
				_cleanup_free_ char *p = ab_xasprintf("%s.%s", path, n);
				note(changes, p); /* added */
			}
		}
		return;
	}
	note(changes, path);
}

void
settings_audit(json_t *config, const char *state_path)
{
	json_t *now = settings_redacted(config);
	json_t *hash = digest(now);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct ab_err err = {0};
	json_t *before = NULL;
	bool first = false;
	if (ab_read_file(state_path, SETTINGS_MAX, &text, &len, &err) < 0) {
		first = true;
		if (err.code != ENOENT)
			ab_warn("audit settings: %s: recording them anew", err.msg);
	} else if (!(before = json_loadb(text, len, 0, NULL))) {
		first = true;
		ab_warn("audit settings: '%s' is not JSON: recording them anew", state_path);
	}
	json_t *changes = json_array();
	if (before)
		diff(before, now, "", changes);
	if (first) /* a baseline, not an admin's change: broker.* */
		audit_log("broker.settings", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sssbsO}", "reason", "the settings are recorded (first start)",
		                    "first", 1, "sha256", hash));
	else if (json_array_size(changes))
		audit_log("admin.settings", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sssOsO}", "reason",
		                    "the settings changed since the last start", "changed", changes,
		                    "sha256", hash));
	if (first || json_array_size(changes)) {
		_cleanup_free_ char *out = json_dumps(now, JSON_INDENT(1) | JSON_SORT_KEYS);
		struct ab_err werr = {0};
		if (!out || ab_write_file_atomic(state_path, out, strlen(out), 0600, &werr) < 0) {
			ab_warn("audit settings: keeping '%s' failed: %s", state_path, werr.msg);
			audit_log(
			    "audit.store", AUDIT_FAILURE, NULL, NULL, NULL,
			    json_pack("{ssss}", "reason",
			              "the settings could not be kept: the next start cannot tell "
			              "what changed",
			              "error", werr.msg));
		}
	}
	json_decref(changes);
	json_decref(before);
	json_decref(hash);
	json_decref(now);
}
