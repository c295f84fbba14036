/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * users: the user table and the profiles (docs/auth.md, config/argobox.sample.json).
 *
 * The broker's configuration holds two JSON subtrees that this module
 * validates and turns into an immutable database:
 *
 *   "users": [ {"name":"bea", "email":"bea@example.org", "role":"member",
 *               "profile":"developer", "uid":1003, "gid":1003,
 *               "password_hash":"$y$..."}, ... ],
 *   "profiles": { "developer": {"title":"Developer", "apps":["terminal", ...],
 *                 "limits":{"cpu_millis":2000, "memory_mb":4096, "pids":1024},
 *                 "network":{"egress":"lan", "lan":["192.168.20.0/24"],
 *                            "services":["gitea"]},
 *                 "services":["gitea"], "read_only_root":false,
 *                 "persistent":true, "ttl_minutes":0, "demo":false}, ... }
 *
 * Every error names the JSON path of what is wrong ("users[2].role: ...").
 * The database owns all its strings; lookups return borrowed pointers that
 * live as long as the database.
 */
#ifndef BROKER_USERS_H
#define BROKER_USERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"

#define USERS_NAME_MAX 32 /* user and profile names, without the NUL */

enum users_role {
	USERS_ROLE_ADMIN,
	USERS_ROLE_MEMBER,
	USERS_ROLE_DEMO,
	USERS_ROLE_MAX,
};

enum users_egress {
	USERS_EGRESS_NONE,     /* "none": no network beyond the broker */
	USERS_EGRESS_SERVICES, /* "services": only the listed services */
	USERS_EGRESS_LAN,      /* "lan": the lan ranges and the services */
	USERS_EGRESS_ANY,      /* "any": unrestricted (admins) */
	USERS_EGRESS_MAX,
};

struct users_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
	char *text; /* as written in the config */
};

struct users_profile {
	char *name;
	char *title;
	char *image; /* desktop image: a recipe name (containers/rootfs/recipes), "host", or NULL:
	                the broker's default (docs/images.md) */
	char **apps; /* visible apps (launcher entries) */
	size_t n_apps;
	long long cpu_millis; /* 1000 = one CPU */
	long long memory_mb;
	long long pids;
	enum users_egress egress;
	struct users_cidr *lan;
	size_t n_lan;
	char **net_services; /* services reachable over the network */
	size_t n_net_services;
	char **services; /* services shown in the Services app */
	size_t n_services;
	bool read_only_root;
	bool persistent;
	long long ttl_minutes; /* 0: no TTL */
	bool demo;             /* offered on the landing page's demo link */
};

struct users_user {
	char *name;
	char *email; /* may be NULL */
	enum users_role role;
	const struct users_profile *profile;
	uid_t uid;
	gid_t gid;
	char *password_hash; /* crypt(3) "$y$..." or "$6$...", NULL: no local login */
	bool disabled;       /* "disabled": true: no sign-in of any kind, no VNC (admin console) */
	/*
	 * "deleted": true: a removed user's place in the table, kept so that the users after it
	 * keep their container id slot (isolation maps slot n to host ids base + n*65536).
	 * users_find() and users_find_email() never return one; users_at() does.
	 */
	bool deleted;
};

struct users_db;

/*
 * Validates `users` (a JSON array) and `profiles` (a JSON object) and builds
 * the database. Neither reference is stolen. Returns 0 or -EINVAL with the
 * JSON path of the first problem in err.
 */
int users_load(json_t *users, json_t *profiles, struct users_db **ret_db, struct ab_err *err);

/* Loads {"users": [...], "profiles": {...}} from a JSON file (tests, argoboxctl). */
int users_load_file(const char *path, struct users_db **ret_db, struct ab_err *err);

void users_free(struct users_db *db);

/* Lookups; NULL when absent or deleted. Email comparison ignores ASCII case. */
const struct users_user *users_find(const struct users_db *db, const char *name);
const struct users_user *users_find_email(const struct users_db *db, const char *email);
const struct users_profile *users_profile(const struct users_db *db, const char *name);

/* Iteration: index in [0, users_count()). */
size_t users_count(const struct users_db *db);
const struct users_user *users_at(const struct users_db *db, size_t i);
size_t users_profile_count(const struct users_db *db);
const struct users_profile *users_profile_at(const struct users_db *db, size_t i);

/* "admin", "member", "demo"; users_role_from_string returns -EINVAL when unknown. */
const char *users_role_name(enum users_role role);
int users_role_from_string(const char *s);
const char *users_egress_name(enum users_egress e);

/* true when `name` is a valid user or profile name: [a-z_][a-z0-9_-]{0,31}. */
bool users_name_valid(const char *name);

/* A profile as JSON for GET /api/me and the admin API (new reference). */
json_t *users_profile_to_json(const struct users_profile *p);

#endif
