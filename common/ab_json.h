/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_json: typed access to members of JSON objects that came from outside (configuration,
 * desktop state), with errors that name the JSON path: "users[2].role: must be a string,
 * not integer", "profiles.dev: unknown key 'colour'". Shared by every module that validates
 * a subtree of its own (users, profiles, services, the desktop state).
 *
 * Contract, for every getter: `path` is the object's own path; a member that is absent (or
 * JSON null for strings) leaves *ret untouched and is an error only when `required`; on
 * failure *ret is untouched and -errno is returned with `err` set.
 */
#ifndef AB_JSON_H
#define AB_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ab_err.h"

/* "object", "array", "string", "integer", "real", "boolean" or "null". */
const char *ab_json_type(const json_t *v);

/* Only the keys of `allowed` (NULL-terminated) may appear in `obj`. */
int ab_json_check_keys(json_t *obj, const char *path, const char *const *allowed,
                       struct ab_err *err);

/*
 * obj[key] in *ret, NULL when it is missing; when it is missing and required, -EINVAL
 * naming path.key ("path.key: missing") and ret untouched.
 */
int ab_json_member(json_t *obj, const char *path, const char *key, bool required, json_t **ret,
                   struct ab_err *err);
/* A string without NUL characters; *ret borrows from `obj`. */
int ab_json_get_str(json_t *obj, const char *path, const char *key, bool required, const char **ret,
                    struct ab_err *err);

/* An integer within [lo, hi]. */
int ab_json_get_int(json_t *obj, const char *path, const char *key, long long lo, long long hi,
                    bool required, long long *ret, struct ab_err *err);

/*
 * An optional array of strings, each 1..128 bytes without NUL and passing `valid` when it is
 * given ("path.key[2]: 'x y' is not a valid name"). *ret is a NULL-terminated copy (owned),
 * *ret_n its length.
 */
int ab_json_get_strv(json_t *obj, const char *path, const char *key, bool (*valid)(const char *),
                     char ***ret, size_t *ret_n, struct ab_err *err);

/* A boolean (optional). */
int ab_json_get_bool(json_t *obj, const char *path, const char *key, bool *ret, struct ab_err *err);

/*
 * A snapshot of timers meant to outlive the process (sign-in sessions, lockouts, rate-limit
 * windows), which holds ages rather than times: {"v": 1, "saved_wall_ms": <wall clock now>},
 * to which the caller adds its members. A new reference.
 */
json_t *ab_json_snapshot_new(void);

/*
 * How long ago, by the wall clock, the snapshot `o` was saved (>= 0 ms; 0 when it does not
 * say): the caller adds it to the ages it restores, so the time the process was down counts
 * (a lockout runs out, a session ages). -EINVAL when `o` is not a version-1 snapshot.
 */
int64_t ab_json_snapshot_age_ms(const json_t *o);

/*
 * The line (1-based) where the value at `path` starts in the JSON text, for error messages
 * (jansson keeps no positions). `path` is how the validators name a place: keys joined by
 * '.', array indexes as [N], e.g. "services[3].check.timeout_ms"; annotations in
 * parentheses (" ('gitea')") are skipped. When the path is not in the text, the line of its
 * deepest ancestor that is; 0 when not even the first step is (or the text is not JSON).
 */
int ab_json_path_line(const char *text, size_t len, const char *path);

#endif
