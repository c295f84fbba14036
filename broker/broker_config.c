/* SPDX-License-Identifier: GPL-2.0-or-later */
/* config: the broker's configuration table and its machine-dependent defaults. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ab_err.h"
#include "ab_util.h"
#include "broker_config.h"

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const launchers[] = {"auto", "oci", "process", NULL};

const struct broker_config broker_config_defaults = {
    .listen_address = "127.0.0.1",
    .listen_port = 8080,
    .listen_max_header_bytes = 32 << 10,
    .session_geometry = "1280x800",
    .session_start_timeout_ms = 20000,
    .session_stop_timeout_ms = 5000,
    .session_stop_on_shutdown = true,
    .session_launcher = "auto",
    .proxy_buffer_bytes = 1 << 20,
    .proxy_chunk_bytes = 64 << 10,
    .proxy_ping_interval_s = 20,
    .control_heartbeat_ms = 5000,
    .control_timeout_ms = 20000,
    .log_format = "text",
    .log_level = "info",
    .vnc_password_ttl_s = 30 * 86400,
    .vnc_max_failures = 5,
    .vnc_lockout_s = 300,
    .vnc_max_pending = 16,
    .vnc_max_pending_per_source = 4,
    .vnc_handshake_timeout_ms = 10000,
    .vnc_buffer_bytes = 1 << 20,
    .audit_store_enabled = true,
    .audit_retention_days = 30,
    .audit_prune_batch = 500,
    .audit_queue_max = 100000,
    .audit_max_detail_bytes = 16 << 10,
    .audit_query_budget_ms = 250,
    .audit_webhook_timeout_ms = 5000,
    .audit_webhook_max_attempts = 6,
    .audit_mirror = "auto",
    .audit_mirror_chunk_events = 1000,
    .audit_mirror_chunk_bytes = 256 << 10,
    .audit_mirror_interval_ms = 1000,
    .audit_mirror_max_lag = 1000000,
};

static const char *const audit_mirror_modes[] = {"auto", "on", "off", NULL};

/* What the issue asks to watch; every firing is audited ("audit.alert") and, with a webhook,
 * POSTed. */
#define AUDIT_DEFAULT_RULES                                                                        \
	"[{\"name\":\"failed-sign-ins-user\",\"event\":\"auth.login\",\"outcome\":\"deny\","       \
	"\"per\":\"user\",\"threshold\":5,\"window_s\":300},"                                      \
	"{\"name\":\"failed-sign-ins-source\",\"event\":\"auth.login\",\"outcome\":\"deny\","      \
	"\"per\":\"source\",\"threshold\":5,\"window_s\":300},"                                    \
	"{\"name\":\"seccomp-escape\",\"event\":\"container.seccomp\",\"outcome\":\"deny\"},"      \
	"{\"name\":\"admin-action\",\"event\":\"admin.\"},"                                        \
	"{\"name\":\"demo-cap\",\"event\":\"demo.start\",\"outcome\":\"deny\","                    \
	"\"reason\":\"concurrent demo cap reached\"}]"

#define C struct broker_config
const struct ab_cfg_field broker_config_fields[] = {
    AB_CFG_STR("listen.address", C, listen_address, "address to listen on (loopback for now)"),
    AB_CFG_INT("listen.port", C, listen_port, 0, 65535, "TCP port (0: any free port)"),
    AB_CFG_INT("listen.max_header_bytes", C, listen_max_header_bytes, 8192, 256 << 10,
               "request headers larger than this are refused with 431 (audited "
               "http.headers); room for Access tokens with group claims plus cookies"),
    AB_CFG_STR("tls.cert", C, tls_cert, "PEM certificate; with tls.key enables HTTPS/WSS"),
    AB_CFG_STR("tls.key", C, tls_key, "PEM private key for tls.cert"),
    AB_CFG_STR("web.root", C, web_root, "directory of the web pages (web/)"),
    AB_CFG_STR("session.binary", C, session_binary,
               "argobox-session executable (\"\": next to the broker, then $PATH)"),
    AB_CFG_STR("session.runtime_base", C, session_runtime_base,
               "per-user runtime directories live under it (\"\": /run/argobox as root, "
               "else $XDG_RUNTIME_DIR/argobox or /tmp/argobox-UID)"),
    AB_CFG_JSON("session.desktop_command", C, session_desktop_command, JSON_ARRAY, "[]",
                "command the session runs on its display ([]: argobox-wm, else xterm)"),
    AB_CFG_STR("session.geometry", C, session_geometry, "initial desktop size WxH"),
    AB_CFG_INT("session.start_timeout_ms", C, session_start_timeout_ms, 100, 600000,
               "a session not ready within this is stopped"),
    AB_CFG_INT("session.stop_timeout_ms", C, session_stop_timeout_ms, 100, 600000,
               "SIGTERM grace period before SIGKILL"),
    AB_CFG_ENUM("session.launcher", C, session_launcher, launchers,
                "auto (containers when root and runc/crun are found, else processes), oci, "
                "process (docs/isolation.md)"),
    AB_CFG_STR("storage.home_base", C, storage_home_base,
               "users' persistent homes <home_base>/<user> (\"\": <data.dir>/home)"),
    AB_CFG_BOOL("images.enabled", C, images_enabled,
                "containers run on their profile's desktop image, built on first use "
                "(docs/images.md; false: on the host's /usr, with a loud warning)"),
    AB_CFG_STR("images.dir", C, images_dir,
               "where desktop images are built and kept (\"\": <data.dir>/images)"),
    AB_CFG_STR("images.fallback", C, images_fallback,
               "the image of profiles without \"image\" (\"\" or \"host\": the host's /usr)"),
    AB_CFG_JSON("runtime", C, runtime, JSON_OBJECT, "{}",
                "OCI runtime for containers (docs/isolation.md; broker/isolation/isolation.c)"),
    AB_CFG_JSON("netpol", C, netpol, JSON_OBJECT, "{}",
                "per-user network namespaces and nftables rules (docs/isolation.md)"),
    AB_CFG_BOOL("session.stop_on_shutdown", C, session_stop_on_shutdown,
                "process launcher: stop the sessions when the broker stops (false: they keep "
                "running and the next broker adopts them)"),
    AB_CFG_INT("proxy.buffer_bytes", C, proxy_buffer_bytes, 65536, 64 << 20,
               "browser-to-desktop buffer per connection (reads pause when full); 32 x it "
               "bounds the queue of a browser that reads nothing"),
    AB_CFG_INT("proxy.chunk_bytes", C, proxy_chunk_bytes, 4096, 1 << 20,
               "largest websocket message sent or read at once"),
    AB_CFG_INT("proxy.ping_interval_s", C, proxy_ping_interval_s, 1, 30,
               "websocket ping after this many idle seconds"),
    AB_CFG_INT("control.heartbeat_ms", C, control_heartbeat_ms, 100, 600000,
               "control-channel ping interval"),
    AB_CFG_INT("control.timeout_ms", C, control_timeout_ms, 200, 3600000,
               "a session silent for this long is declared dead"),
    AB_CFG_STR("admin.socket", C, admin_socket,
               "argoboxctl's unix socket (\"\": <runtime_base>/broker.sock)"),
    AB_CFG_STR("metrics.token_file", C, metrics_token_file,
               "file holding a bearer token that may scrape GET /metrics (\"\": admins and "
               "unproxied loopback only; docs/metrics.md)"),
    AB_CFG_STR("audit.path", C, audit_path, "audit log file (\"\": stderr)"),
    AB_CFG_BOOL("audit.store.enabled", C, audit_store_enabled,
                "every event also goes to the indexed, hash-chained SQLite store behind "
                "GET /api/admin/audit and argoboxctl audit (docs/audit.md)"),
    AB_CFG_STR("audit.store.path", C, audit_store_path,
               "the store's database (\"\": <data.dir>/audit/audit.db)"),
    AB_CFG_STR("audit.store.key", C, audit_store_key,
               "Ed25519 key that signs the chain's head and daily anchors, created 0600 "
               "with <key>.pub beside it (\"\": <data.dir>/audit/signing.key)"),
    AB_CFG_INT("audit.store.retention_days", C, audit_retention_days, 1, 3660,
               "records older than this are pruned, continuously in small batches"),
    AB_CFG_INT("audit.store.prune_batch", C, audit_prune_batch, 10, 100000,
               "records removed per prune step"),
    AB_CFG_INT("audit.store.queue_max", C, audit_queue_max, 1000, 10000000,
               "events waiting for the store's writer (disk slow or full); beyond, they are "
               "dropped from the store, counted and audited (the JSON-lines file has them)"),
    AB_CFG_INT("audit.store.max_db_mb", C, audit_max_db_mb, 0, 1 << 30,
               "cap on the database size; reaching it behaves like a full disk (0: none)"),
    AB_CFG_INT("audit.store.max_detail_bytes", C, audit_max_detail_bytes, 256, 1 << 20,
               "a larger detail is stored as {\"truncated\":true,\"bytes\":N,\"head\":...}"),
    AB_CFG_BOOL("audit.store.fail_closed_admin", C, audit_fail_closed_admin,
                "refuse admin actions (argoboxctl stop and services, admin.write endpoints, an "
                "admin acting on another user's desktop) while the store cannot record them"),
    AB_CFG_INT("audit.query.budget_ms", C, audit_query_budget_ms, 10, 60000,
               "a query (or each step of an export) that scans longer is answered 400: "
               "narrow it"),
    AB_CFG_JSON("audit.alerts.rules", C, audit_alert_rules, JSON_ARRAY, AUDIT_DEFAULT_RULES,
                "alert rules: {name, event (prefix), outcome, reason, per (user, source, "
                "all), threshold, window_s} (docs/audit.md)"),
    AB_CFG_STR("audit.alerts.webhook.url", C, audit_webhook_url,
               "alerts are POSTed here as JSON, signed X-ArgoBox-Signature: sha256=HMAC "
               "(\"\": audited only)"),
    AB_CFG_STR("audit.alerts.webhook.secret", C, audit_webhook_secret,
               "HMAC-SHA256 key of the webhook's signature (at least 16 characters)"),
    AB_CFG_INT("audit.alerts.webhook.timeout_ms", C, audit_webhook_timeout_ms, 100, 120000,
               "one delivery attempt"),
    AB_CFG_INT("audit.alerts.webhook.max_attempts", C, audit_webhook_max_attempts, 1, 20,
               "attempts per alert, 1 s apart then doubling (at most 60 s)"),
    AB_CFG_ENUM("audit.mirror.mode", C, audit_mirror, audit_mirror_modes,
                "copy the events to the kv store (expiration_ttl = the retention): \"auto\" "
                "(only to Cloudflare Workers KV, off the host), \"on\" (the embedded store "
                "too), \"off\""),
    AB_CFG_INT("audit.mirror.chunk_events", C, audit_mirror_chunk_events, 1, 100000,
               "records per kv entry (audit/<first seq>) at most"),
    AB_CFG_INT("audit.mirror.chunk_bytes", C, audit_mirror_chunk_bytes, 4096, 8 << 20,
               "bytes per kv entry at most (below the kv's max_value)"),
    AB_CFG_INT("audit.mirror.interval_ms", C, audit_mirror_interval_ms, 10, 600000,
               "a chunk with fewer records than chunk_events waits this long"),
    AB_CFG_INT("audit.mirror.max_lag", C, audit_mirror_max_lag, 10, 100000000,
               "records waiting for the mirror (kv down) at most; beyond, the oldest are "
               "skipped, counted and audited"),
    AB_CFG_STR("data.dir", C, data_dir,
               "persistent data (\"\": /var/lib/argobox as root, else $XDG_DATA_HOME/argobox "
               "or ~/.local/share/argobox)"),
    AB_CFG_JSON("kv", C, kv, JSON_OBJECT, "{}",
                "key-value store for desktop state (docs/kv.md; dir: <data.dir>/kv)"),
    AB_CFG_JSON("auth", C, auth, JSON_OBJECT, "{}",
                "sign-in: local, access (Cloudflare Access), demo (docs/auth.md)"),
    AB_CFG_JSON("users", C, users, JSON_ARRAY, "[]",
                "user table ([]: no sign-in, loopback only, everyone is 'local')"),
    AB_CFG_JSON("profiles", C, profiles, JSON_OBJECT, "{}", "desktop profiles (docs/auth.md)"),
    AB_CFG_JSON("files", C, files, JSON_OBJECT, "{}",
                "home storage: backend (local or smb), smb (server, share, path, credentials), "
                "local_quota (none or image), "
                "quota_bytes, profiles/users quotas, upload_max_bytes, usage_refresh_s, "
                "op_timeout_ms (the 504 of a request whose storage stalls) (docs/files.md)"),
    AB_CFG_JSON("messages", C, messages, JSON_OBJECT, "{}",
                "messages between users: max_chars, rate_burst, rate_per_minute, inbox_max, "
                "inbox_max_bytes, demo (docs/messages.md)"),
    AB_CFG_JSON(
        "share", C, share, JSON_OBJECT, "{}",
        "view-only share links: require_sign_in, min_ttl_s, max_ttl_s, default_ttl_s, max_links, "
        "max_viewers (docs/sharing.md)"),
    AB_CFG_JSON("services", C, services, JSON_ARRAY, "[]",
                "homelab services: registry, health checks, recovery (docs/services.md)"),
    AB_CFG_ENUM("log.format", C, log_format, log_formats, "text or json"),
    AB_CFG_ENUM("log.level", C, log_level, log_levels, "debug, info, warn or error"),
    AB_CFG_STR("vnc_gateway.listen", C, vnc_listen,
               "RFB/TCP listener for native VNC clients, ADDR:PORT, [V6]:PORT or "
               "localhost:PORT, e.g. a tailnet address (\"\": off; docs/vncgw.md)"),
    AB_CFG_STR("vnc_gateway.public_host", C, vnc_public_host,
               "host name shown to users for the gateway (\"\": the listen address)"),
    AB_CFG_INT("vnc_gateway.password_ttl_s", C, vnc_password_ttl_s, 60, 366 * 86400,
               "lifetime of a VNC access password"),
    AB_CFG_INT("vnc_gateway.max_failures", C, vnc_max_failures, 1, 1000,
               "failed VNC authentications from one address before it is locked out"),
    AB_CFG_INT("vnc_gateway.lockout_s", C, vnc_lockout_s, 1, 86400,
               "how long a locked-out address is refused"),
    AB_CFG_INT("vnc_gateway.max_pending", C, vnc_max_pending, 1, 4096,
               "concurrent unauthenticated VNC connections"),
    AB_CFG_INT("vnc_gateway.max_pending_per_source", C, vnc_max_pending_per_source, 1, 4096,
               "of those, from one address: one source cannot lock everyone out"),
    AB_CFG_INT("vnc_gateway.handshake_timeout_ms", C, vnc_handshake_timeout_ms, 100, 600000,
               "a VNC client that has not authenticated within this is dropped"),
    AB_CFG_INT("vnc_gateway.buffer_bytes", C, vnc_buffer_bytes, 65536, 64 << 20,
               "buffer per direction per VNC connection (reading the other side pauses when "
               "full)"),
    {0},
};
#undef C

bool
broker_addr_is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcmp(addr, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	return false;
}

bool
broker_config_auth_enabled(const struct broker_config *cfg)
{
	json_t *access = json_object_get(cfg->auth, "access");
	return json_array_size(cfg->users) > 0 || json_is_true(json_object_get(access, "enabled"));
}

int
broker_config_validate(void *p, struct ab_err *err)
{
	struct broker_config *cfg = p;
	unsigned w, h;
	char tail;
	if (!broker_config_auth_enabled(cfg) && !broker_addr_is_loopback(cfg->listen_address))
		return ab_err_set(err, EINVAL,
		                  "listen.address: '%s' is not a loopback address; without "
		                  "authentication the broker serves loopback only",
		                  cfg->listen_address);
	if (!!cfg->tls_cert[0] != !!cfg->tls_key[0])
		return ab_err_set(err, EINVAL, "tls.cert and tls.key: give both or neither");
	if (sscanf(cfg->session_geometry, "%ux%u%c", &w, &h, &tail) != 2 || w < 64 || h < 64 ||
	    w > 8192 || h > 8192)
		return ab_err_set(err, EINVAL,
		                  "session.geometry: '%s' is not WxH with 64 <= W,H <= 8192",
		                  cfg->session_geometry);
	size_t i;
	json_t *v;
	json_array_foreach(cfg->session_desktop_command, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0)
			return ab_err_set(
			    err, EINVAL, "session.desktop_command[%zu]: not a non-empty string", i);
	}
	if (cfg->proxy_buffer_bytes < 4 * cfg->proxy_chunk_bytes)
		return ab_err_set(
		    err, EINVAL,
		    "proxy.buffer_bytes: must be at least 4 x proxy.chunk_bytes (%lld)",
		    4 * cfg->proxy_chunk_bytes);
	if (cfg->control_timeout_ms < 2 * cfg->control_heartbeat_ms)
		return ab_err_set(err, EINVAL,
		                  "control.timeout_ms: must be at least 2 x control.heartbeat_ms");
	return 0;
}

/*
 * A per-machine directory: `as_root` for root; else <$xdg_var>/argobox when that is an
 * absolute path; else <$HOME>/<home_rel> when home_rel is given and $HOME is absolute; else
 * /tmp/<tmp_name>-<uid>. A new string.
 */
static char *
default_dir(const char *as_root, const char *xdg_var, const char *home_rel, const char *tmp_name)
{
	if (geteuid() == 0)
		return ab_xstrdup(as_root);
	const char *xdg = getenv(xdg_var);
	if (xdg && xdg[0] == '/')
		return ab_xasprintf("%s/argobox", xdg);
	const char *home = home_rel ? getenv("HOME") : NULL;
	if (home && home[0] == '/')
		return ab_xasprintf("%s/%s", home, home_rel);
	return ab_xasprintf("/tmp/%s-%u", tmp_name, (unsigned)geteuid());
}

char *
broker_default_runtime_base(void)
{
	return default_dir("/run/argobox", "XDG_RUNTIME_DIR", NULL, "argobox");
}

char *
broker_default_data_dir(void)
{
	return default_dir("/var/lib/argobox", "XDG_DATA_HOME", ".local/share/argobox",
	                   "argobox-data");
}

char *
broker_exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return ab_xstrdup(buf);
}

static bool
is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Finds `name` next to the broker (../<dir>/<name> in the build tree, or ./<name>), else NULL. */
static char *
find_sibling(const char *exe_dir, const char *dir, const char *name)
{
	if (!exe_dir)
		return NULL;
	char *p = ab_xasprintf("%s/../%s/%s", exe_dir, dir, name);
	if (is_executable(p))
		return p;
	free(p);
	p = ab_xasprintf("%s/%s", exe_dir, name);
	if (is_executable(p))
		return p;
	free(p);
	return NULL;
}

static void
copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

void
broker_config_resolve(struct broker_config *cfg, const char *exe_dir)
{
	if (!cfg->session_binary[0]) {
		_cleanup_free_ char *p = find_sibling(exe_dir, "session", "argobox-session");
		copy_str(cfg->session_binary, sizeof(cfg->session_binary),
		         p ? p : "argobox-session");
	}
	if (!cfg->session_runtime_base[0]) {
		_cleanup_free_ char *b = broker_default_runtime_base();
		copy_str(cfg->session_runtime_base, sizeof(cfg->session_runtime_base), b);
	}
	if (json_array_size(cfg->session_desktop_command) == 0) {
		_cleanup_free_ char *wm = find_sibling(exe_dir, "wm", "argobox-wm");
		json_array_append_new(cfg->session_desktop_command, json_string(wm ? wm : "xterm"));
	}
	if (!cfg->data_dir[0]) {
		_cleanup_free_ char *d = broker_default_data_dir();
		copy_str(cfg->data_dir, sizeof(cfg->data_dir), d);
	}
	if (!json_object_get(cfg->kv, "dir"))
		json_object_set_new(cfg->kv, "dir", json_sprintf("%s/kv", cfg->data_dir));
	if (!cfg->admin_socket[0])
		snprintf(cfg->admin_socket, sizeof(cfg->admin_socket), "%.4000s/broker.sock",
		         cfg->session_runtime_base);
}
