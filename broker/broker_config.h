/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config: argobox-broker's configuration (one struct, one table; see
 * common/ab_config.h). Other broker areas add their fields here, or keep
 * a JSON subtree (AB_CFG_JSON) that their module validates.
 */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "ab_config.h"

struct broker_config {
	char listen_address[64];
	long long listen_port;
	long long listen_max_header_bytes; /* larger request headers: 431 (server.c) */
	char tls_cert[PATH_MAX];
	char tls_key[PATH_MAX];
	char web_root[PATH_MAX];
	char session_binary[PATH_MAX];       /* "" = next to the broker, then $PATH */
	char session_runtime_base[PATH_MAX]; /* "" = /run/argobox, $XDG_RUNTIME_DIR/argobox... */
	json_t *session_desktop_command;     /* [] = argobox-wm next to the broker, else xterm */
	char session_geometry[32];
	long long session_start_timeout_ms;
	long long session_stop_timeout_ms;
	bool session_stop_on_shutdown;    /* false: process sessions outlive the broker (adopted) */
	char session_launcher[8];         /* "auto", "oci", "process" (isolation.h) */
	char storage_home_base[PATH_MAX]; /* "" = <data_dir>/home */
	bool images_enabled;              /* per-profile desktop images (docs/images.md) */
	char images_dir[PATH_MAX];        /* "" = <data_dir>/images */
	char images_fallback[64];         /* recipe of profiles without "image" ("": host /usr) */
	json_t *runtime;                  /* isolation.c: OCI runtime settings */
	json_t *netpol;                   /* isolation.c: network policy settings */
	long long proxy_buffer_bytes;
	long long proxy_chunk_bytes;
	long long proxy_ping_interval_s;
	long long control_heartbeat_ms;
	long long control_timeout_ms;
	char admin_socket[PATH_MAX];       /* "" = <runtime_base>/broker.sock */
	char metrics_token_file[PATH_MAX]; /* "" = no bearer token for GET /metrics */
	char audit_path[PATH_MAX];         /* "" = stderr */
	/* broker/auditsvc/: the store, the query API, the alerts (docs/audit.md) */
	bool audit_store_enabled;
	char audit_store_path[PATH_MAX]; /* "" = <data_dir>/audit/audit.db */
	char audit_store_key[PATH_MAX];  /* "" = <data_dir>/audit/signing.key */
	long long audit_retention_days;
	long long audit_prune_batch;
	long long audit_queue_max;
	long long audit_max_db_mb; /* 0: no cap */
	long long audit_max_detail_bytes;
	long long audit_query_budget_ms;
	bool audit_fail_closed_admin;
	json_t *audit_alert_rules;
	char audit_webhook_url[1024];
	char audit_webhook_secret[256];
	long long audit_webhook_timeout_ms;
	long long audit_webhook_max_attempts;
	char audit_mirror[16]; /* "auto" (Workers KV only), "on", "off" */
	long long audit_mirror_chunk_events;
	long long audit_mirror_chunk_bytes;
	long long audit_mirror_interval_ms;
	long long audit_mirror_max_lag;
	char data_dir[PATH_MAX]; /* "" = /var/lib/argobox (root), else $XDG_DATA_HOME/argobox */
	json_t *kv;       /* broker/state/kv.h configuration; "dir" defaults to <data.dir>/kv */
	json_t *auth;     /* docs/auth.md: {"local","access","demo"} (authn.c) */
	json_t *users;    /* [{"name","role","profile","uid",...}] */
	json_t *profiles; /* {"name": {...}} */
	json_t *files;    /* broker/files: quotas and upload limits (docs/files.md) */
	json_t *messages; /* broker/messages: limits and the demo policy (docs/messages.md) */
	json_t *share;    /* broker/auth/share.c: view-only share links (docs/sharing.md) */
	json_t *services; /* services/registry.c: [{"name","url","check",...}] */
	char log_format[8];
	char log_level[8];
	/* vncgw.c: native VNC clients (docs/vncgw.md) */
	char vnc_listen[80];       /* "" = off; "ADDR:PORT" or "[V6]:PORT" */
	char vnc_public_host[256]; /* shown to users ("" = the listen address) */
	long long vnc_password_ttl_s;
	long long vnc_max_failures;
	long long vnc_lockout_s;
	long long vnc_max_pending;
	long long vnc_max_pending_per_source;
	long long vnc_handshake_timeout_ms;
	long long vnc_buffer_bytes; /* per direction, per connection */
};

extern const struct ab_cfg_field broker_config_fields[];
extern const struct broker_config broker_config_defaults;

/* Checks the configuration as a whole (cross-field rules). */
int broker_config_validate(void *cfg, struct ab_err *err);

/*
 * Fills the "" defaults that depend on the machine: session.binary,
 * session.runtime_base, session.desktop_command, admin.socket. `exe_dir` is
 * the directory of the running executable (may be NULL).
 */
void broker_config_resolve(struct broker_config *cfg, const char *exe_dir);

/* The default data directory: /var/lib/argobox as root, else $XDG_DATA_HOME/argobox or
 * ~/.local/share/argobox. */
char *broker_default_data_dir(void);

/* The default runtime base for this process: /run/argobox as root, else per user. */
char *broker_default_runtime_base(void);

/* The directory of /proc/self/exe (owned), or NULL. */
char *broker_exe_dir(void);

/*
 * true when identity is configured (a user table or Cloudflare Access): every
 * request then goes through authn's authorize hook and any address may be used.
 */
bool broker_config_auth_enabled(const struct broker_config *cfg);

/* true when `addr` is a loopback address (127.0.0.0/8, ::1, "localhost"). */
bool broker_addr_is_loopback(const char *addr);

#endif
