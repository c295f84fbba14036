/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * users_store: the user table as the admin console changed it (docs/admin.md), kept in
 * <data.dir>/users.json (0600, replaced atomically: temporary file, fsync, rename, fsync of the
 * directory). The file holds {"version":1,"users":[...]}, the config's "users" array with the
 * admin console's changes (users.h: "disabled", "deleted"). When it exists it replaces the
 * config file's "users" at start-up; the config's profiles stay the config's.
 */
#ifndef BROKER_USERS_STORE_H
#define BROKER_USERS_STORE_H

#include <jansson.h>

#include "ab_err.h"

#define USERS_STORE_FILE "users.json"

/*
 * Reads and validates the store at `path` against `profiles` (users_load's rules). *ret_users
 * is the users array (new reference), or NULL when there is no file (0 returned). A file that
 * is not valid is an error naming the path and what is wrong: the broker does not start on a
 * table it cannot trust.
 */
int users_store_load(const char *path, json_t *profiles, json_t **ret_users, struct ab_err *err);

/* Writes `users` (borrowed) to `path` atomically, mode 0600. */
int users_store_save(const char *path, json_t *users, struct ab_err *err);

#endif
