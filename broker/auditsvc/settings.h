/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * settings: changes to the broker's configuration between two starts, audited
 * (docs/audit.md, "Settings changes"). The settings are the whole configuration as the
 * table reads it (ab_config_to_json) with every secret — a key named *password*, *secret*,
 * *token* or *key* — replaced by "sha256:" and the first 16 hex digits of its SHA-256, so a
 * changed password shows as changed without showing either value. Each start compares them
 * with the copy kept at `state_path` (written atomically, 0600) and logs "admin.settings":
 * the changed paths (lists of objects with a "name" are keyed by it: "users.bea.role"),
 * at most 64 of them, and the summary's hash; the first start records a baseline
 * ("broker.settings").
 */
#ifndef BROKER_SETTINGS_H
#define BROKER_SETTINGS_H

#include <jansson.h>

/* The settings (a new reference) of `config` (borrowed: ab_config_to_json's output). */
json_t *settings_redacted(json_t *config);

/*
 * Compares with the copy at state_path, audits a change (or the first start) and keeps
 * the new copy. Failures to read or write the copy are logged and audited, never fatal.
 */
void settings_audit(json_t *config, const char *state_path);

#endif
