/* SPDX-License-Identifier: GPL-2.0-or-later */
/* users_store: the admin console's user table on disk (see users_store.h). */
#include <errno.h>
#include <string.h>

#include "ab_util.h"
#include "users.h"
#include "users_store.h"

#define USERS_STORE_MAX (16u << 20)

int
users_store_load(const char *path, json_t *profiles, json_t **ret_users, struct ab_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = ab_read_file(path, USERS_STORE_MAX, &text, &len, err);
	if (r == -ENOENT) {
		ab_err_clear(err);
		*ret_users = NULL;
		return 0;
	}
	if (r < 0)
		return ab_err_wrap(err, "user table '%s'", path);
	json_error_t je;
	_cleanup_(json_decrefp) json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ab_err_set(err, EINVAL, "user table '%s': line %d: %s", path, je.line,
		                  je.text);
	json_t *v = json_object_get(root, "version");
	json_t *users = json_object_get(root, "users");
	if (!json_is_object(root) || json_integer_value(v) != 1 || json_object_size(root) != 2 ||
	    !json_is_array(users))
		return ab_err_set(
		    err, EINVAL, "user table '%s': expected {\"version\":1,\"users\":[...]}", path);
	struct users_db *db = NULL;
	if ((r = users_load(users, profiles, &db, err)) < 0)
		return ab_err_wrap(err, "user table '%s'", path);
	users_free(db);
	*ret_users = json_incref(users);
	return 0;
}

int
users_store_save(const char *path, json_t *users, struct ab_err *err)
{
	_cleanup_(json_decrefp) json_t *root =
	    json_pack("{s:i, s:O}", "version", 1, "users", users);
	_cleanup_free_ char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return ab_err_set(err, ENOMEM, "user table: cannot encode");
	size_t n = strlen(text);
	text = ab_xrealloc(text, n + 2);
	text[n] = '\n';
	text[n + 1] = '\0';
	return ab_write_file_atomic(path, text, n + 1, 0600, err);
}
