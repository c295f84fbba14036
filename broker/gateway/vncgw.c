/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vncgw: the RFB gateway for native VNC clients (see vncgw.h, docs/vncgw.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ab_log.h"
#include "ab_metrics.h"
#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"
#include "broker_config.h"
#include "desktop.h"
#include "rfbflow.h"
#include "server.h"
#include "vncgw.h"

#define VNCGW_PW_LEN       8
#define VNCGW_USER_MAX     64
#define VNCGW_MAX_SOURCES  1024  /* failure records kept (the oldest go first) */
#define VNCGW_UP_REASON    1024  /* longest failure reason read from the session */
#define VNCGW_START_MS     60000 /* after auth: desktop start + session handshake */
#define VNCGW_FILE_MAX     (4u << 20)
#define VNCGW_HS_BUF       4096 /* per direction until the splice: handshake messages only */
#define VNCGW_FILE_VERSION 1

/* No look-alikes (0/O, 1/l/I, 5/S, B/8...): read aloud or typed from a phone. */
static const char pw_alphabet[] = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY2346789";

struct vncgw_pw {
	char user[VNCGW_USER_MAX];
	char password[VNCGW_PW_LEN + 1];
	int64_t created_ms, expires_ms; /* wall clock */
};

struct vncgw_source {
	char addr[INET6_ADDRSTRLEN];
	int failures;
	int64_t last_ms, locked_until_ms; /* monotonic */
};

enum vncgw_state {
	VG_VERSION,    /* waiting for the client's ProtocolVersion */
	VG_SECTYPE,    /* 3.7/3.8: waiting for the client's security type */
	VG_RESPONSE,   /* waiting for the 16-byte response */
	VG_DESKTOP,    /* authenticated: waiting for the desktop */
	VG_UP_VERSION, /* session handshake: its ProtocolVersion */
	VG_UP_NTYPES,  /* its number of security types (3.7/3.8) or the type (3.3: 4 bytes) */
	VG_UP_TYPES,   /* its security types */
	VG_UP_RESULT,  /* its SecurityResult (3.8) */
	VG_SPLICE,     /* bytes both ways */
	VG_CLOSING,    /* flushing a last message to the client, then closed */
	VG_DEAD,       /* closed, freed by the reaper */
};

struct vncgw_buf {
	uint8_t *d;
	size_t head, len, cap;
	size_t peak; /* the most it held */
};

struct vncgw_conn {
	struct vncgw *g;
	struct vncgw_conn *next;
	enum vncgw_state state;
	int cfd, ufd;
	struct ab_watch *cw, *uw;
	struct ab_timer *timer;
	struct ab_timer *pace; /* a request waits while the kernel holds the client's bytes */
	struct desktop_waiter *waiter;
	struct desktop *desktop;
	char peer[INET6_ADDRSTRLEN];
	char user[VNCGW_USER_MAX];
	int minor;    /* the client's protocol: 3, 7 or 8 */
	int up_minor; /* the session's */
	bool pending; /* counted as unauthenticated */
	bool locked;  /* the source is locked out: refuse after the version */
	bool shared_forced;
	uint8_t challenge[16];
	uint8_t hs[64]; /* handshake bytes being collected */
	size_t hs_len, hs_want;
	size_t up_ntypes;
	struct vncgw_buf toc, tou; /* to the client, to the session */
	uint64_t bytes_in, bytes_out;
	int64_t start_ms;
	int64_t paused_since_ms; /* toc full: the desktop is not read (0: it is) */
	int64_t paused_ms;       /* time the desktop was not read, closed spells */
	/* client -> session: update requests wait while the client is behind (rfbflow.h) */
	struct rfbflow flow;
};

struct vncgw {
	struct ab_loop *loop;
	struct desktop_manager *desktops;
	char *public_host, *data_dir, *path;
	char listen_host[INET6_ADDRSTRLEN];
	int64_t password_ttl_s, lockout_s, handshake_timeout_ms;
	int max_failures, max_pending, max_pending_per_source;
	size_t buffer_bytes;
	vncgw_user_ok_fn user_ok;
	void *user_ok_data;
	int lfd, port;
	struct ab_watch *lw;
	struct vncgw_pw *pws;
	size_t n_pws;
	struct vncgw_source sources[VNCGW_MAX_SOURCES];
	size_t n_sources;
	struct vncgw_conn *conns, *dead;
	struct ab_timer *reaper;
	int n_pending;
};

/* ---- DES (VNC Authentication) ---- */

static uint8_t
bitrev(uint8_t b)
{
	b = (uint8_t)((b & 0xf0) >> 4 | (b & 0x0f) << 4);
	b = (uint8_t)((b & 0xcc) >> 2 | (b & 0x33) << 2);
	return (uint8_t)((b & 0xaa) >> 1 | (b & 0x55) << 1);
}

int
vncgw_des_response(const char *password, const uint8_t challenge[16], uint8_t out[16])
{
	/*
	 * Single DES is in OpenSSL 3's legacy provider only; three-key triple DES
	 * (EDE) with K1 = K2 = K3 = K is E_K(D_K(E_K(x))) = E_K(x), and is in the
	 * default provider.
	 */
	uint8_t key[24] = {0};
	for (size_t i = 0; i < VNCGW_PW_LEN && password[i]; i++)
		key[i] = bitrev((uint8_t)password[i]);
	memcpy(key + 8, key, 8);
	memcpy(key + 16, key, 8);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	EVP_CIPHER *des = EVP_CIPHER_fetch(NULL, "DES-EDE3-ECB", NULL);
	int n = 0, ok = ctx && des && EVP_EncryptInit_ex2(ctx, des, key, NULL, NULL) == 1 &&
	                EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	                EVP_EncryptUpdate(ctx, out, &n, challenge, 16) == 1 && n == 16;
	EVP_CIPHER_free(des);
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(key, sizeof(key));
	return ok ? 0 : -EIO;
}

/* ---- addresses ---- */

bool
vncgw_addr_is_tailnet(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;
	static const uint8_t ts6[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) & 0xffc00000u) == 0x64400000u; /* 100.64.0.0/10 */
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return memcmp(a6.s6_addr, ts6, sizeof(ts6)) == 0;
	return false;
}

/*
 * Parses vnc_gateway.listen, "ADDR:PORT" or "[IPV6]:PORT" with a numeric
 * address or "localhost" (127.0.0.1), into *ret_ss / *ret_sl and `host`
 * (the numeric address). The one parser for --check-config and the listener.
 */
static int
vncgw_parse_listen(const char *s, struct sockaddr_storage *ret_ss, socklen_t *ret_sl, char *host,
                   size_t host_len, struct ab_err *err)
{
	const char *h = s, *colon;
	size_t hl;
	bool v6 = s[0] == '[';
	if (v6) {
		const char *close = strchr(s, ']');
		if (!close)
			return ab_err_set(err, EINVAL, "vnc_gateway.listen: '%s': no ']' after '['",
			                  s);
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (!colon && close[1])
			return ab_err_set(
			    err, EINVAL, "vnc_gateway.listen: '%s': expected ':PORT' after ']'", s);
	} else {
		colon = strrchr(s, ':');
		if (colon && memchr(s, ':', (size_t)(colon - s)))
			return ab_err_set(
			    err, EINVAL,
			    "vnc_gateway.listen: '%s': an IPv6 address goes in brackets, "
			    "[IPV6]:PORT (e.g. [fd7a:115c:a1e0::1]:5900)",
			    s);
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (!colon)
		return ab_err_set(err, EINVAL,
		                  "vnc_gateway.listen: '%s' has no port: ADDR:PORT or [IPV6]:PORT "
		                  "(e.g. 100.101.102.103:5900)",
		                  s);
	if (hl == 0)
		return ab_err_set(err, EINVAL,
		                  "vnc_gateway.listen: '%s' has no address before the port (the "
		                  "tailnet address; 0.0.0.0 or [::] for every address)",
		                  s);
	const char *ps = colon + 1;
	size_t pl = strlen(ps);
	long port = -1;
	if (pl >= 1 && pl <= 5 && strspn(ps, "0123456789") == pl)
		port = strtol(ps, NULL, 10);
	if (port < 0 || port > 65535)
		return ab_err_set(err, ERANGE,
		                  "vnc_gateway.listen: '%s': the port '%s' is not a number in "
		                  "0..65535 (0: any free port)",
		                  s, ps);
	char hb[INET6_ADDRSTRLEN];
	if (hl >= sizeof(hb))
		return ab_err_set(err, EINVAL,
		                  "vnc_gateway.listen: '%s': '%.*s' is not an IP address or "
		                  "'localhost'",
		                  s, (int)hl, h);
	memcpy(hb, h, hl);
	hb[hl] = '\0';
	if (!v6 && strcmp(hb, "localhost") == 0)
		snprintf(hb, sizeof(hb), "127.0.0.1");
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	if (!v6 && inet_pton(AF_INET, hb, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (v6 && inet_pton(AF_INET6, hb, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		return ab_err_set(err, EINVAL,
		                  "vnc_gateway.listen: '%s': '%s' is not %s (host names are not "
		                  "resolved: use the tailnet address)",
		                  s, hb, v6 ? "an IPv6 address" : "an IPv4 address or 'localhost'");
	}
	if (host_len < sizeof(hb))
		return ab_err_set(err, ENOSPC, "vnc_gateway.listen: host buffer too small");
	*ret_ss = ss;
	*ret_sl = sl;
	snprintf(host, host_len, "%s", hb);
	return 0;
}

/* A DNS name (letters, digits, '-' inside labels of 1..63, dots) or an IP address. */
static bool
vncgw_host_valid(const char *s)
{
	struct in6_addr a6;
	size_t n = strlen(s), label = 0;
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return true;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');
		if (!alnum && !(ch == '-' && label > 0))
			return false;
		label++;
	}
	return true;
}

int
vncgw_check_config(const struct broker_config *cfg, struct ab_err *err)
{
	if (cfg->vnc_listen[0]) {
		struct sockaddr_storage ss;
		socklen_t sl;
		char host[INET6_ADDRSTRLEN];
		int r = vncgw_parse_listen(cfg->vnc_listen, &ss, &sl, host, sizeof(host), err);
		if (r < 0)
			return r;
	}
	if (cfg->vnc_public_host[0] && !vncgw_host_valid(cfg->vnc_public_host))
		return ab_err_set(
		    err, EINVAL,
		    "vnc_gateway.public_host: '%s' is not a host name or an IP address "
		    "(no scheme, port or path: the page shows HOST::PORT)",
		    cfg->vnc_public_host);
	return 0;
}

static int
vncgw_listen(struct vncgw *g, const char *spec, struct ab_err *err)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t sl;
	int r = vncgw_parse_listen(spec, &ss, &sl, host, sizeof(host), err);
	if (r < 0)
		return r;
	int family = ss.ss_family;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	_cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ab_err_errno(err, errno, "vnc_gateway.listen: socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		return ab_err_errno(err, errno, "vnc_gateway.listen: binding '%s'", spec);
	if (listen(fd, 64) < 0)
		return ab_err_errno(err, errno, "vnc_gateway.listen: listen");
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return ab_err_errno(err, errno, "vnc_gateway.listen: getsockname");
	g->port = ntohs(family == AF_INET ? s4->sin_port : s6->sin6_port);
	snprintf(g->listen_host, sizeof(g->listen_host), "%s", host);
	g->lfd = TAKE_FD(fd);
	return 0;
}

/* ---- passwords ---- */

static void
vncgw_iso_time(int64_t wall_ms, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Drops expired passwords. Returns how many went. */
static size_t
vncgw_prune(struct vncgw *g)
{
	int64_t now = ab_wall_ms();
	size_t out = 0, gone = 0;
	for (size_t i = 0; i < g->n_pws; i++) {
		if (g->pws[i].expires_ms <= now) {
			audit_log("vncgw.password", AUDIT_INFO, g->pws[i].user, NULL, NULL,
			          json_pack("{ss}", "action", "expired"));
			OPENSSL_cleanse(&g->pws[i], sizeof(g->pws[i]));
			gone++;
			continue;
		}
		g->pws[out++] = g->pws[i];
	}
	g->n_pws = out;
	return gone;
}

static struct vncgw_pw *
vncgw_pw_find(struct vncgw *g, const char *user)
{
	for (size_t i = 0; i < g->n_pws; i++)
		if (strcmp(g->pws[i].user, user) == 0)
			return &g->pws[i];
	return NULL;
}

static bool
vncgw_pw_valid(const char *s)
{
	if (strlen(s) != VNCGW_PW_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr(pw_alphabet, *p))
			return false;
	return true;
}

static int
vncgw_save(struct vncgw *g, struct ab_err *err)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < g->n_pws; i++)
		json_array_append_new(arr, json_pack("{sssssIsI}", "user", g->pws[i].user,
		                                     "password", g->pws[i].password, "created",
		                                     (json_int_t)g->pws[i].created_ms, "expires",
		                                     (json_int_t)g->pws[i].expires_ms));
	json_t *root = json_pack("{sisO}", "version", VNCGW_FILE_VERSION, "passwords", arr);
	json_decref(arr);
	char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	int r = ab_write_file_atomic(g->path, text, strlen(text), 0600, err);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (r < 0)
		return ab_err_wrap(err, "saving VNC access passwords");
	return 0;
}

/* Loads the file; a file that does not parse is moved aside (kept) and the gateway starts empty. */
static int
vncgw_load(struct vncgw *g, struct ab_err *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct ab_err lerr = {0};
	int r = ab_read_file(g->path, VNCGW_FILE_MAX, &data, &len, &lerr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ab_err_set(err, -r, "%s", lerr.msg);
	json_error_t je;
	json_t *root = json_loadb(data, len, 0, &je);
	OPENSSL_cleanse(data, len);
	json_t *arr = json_object_get(root, "passwords");
	const char *why = NULL;
	if (!root)
		why = je.text;
	else if (json_integer_value(json_object_get(root, "version")) != VNCGW_FILE_VERSION)
		why = "\"version\" is not 1";
	else if (!json_is_array(arr))
		why = "\"passwords\" is not an array";
	size_t i;
	json_t *v;
	if (!why) {
		g->pws = ab_xcalloc(json_array_size(arr) + 1, sizeof(*g->pws));
		json_array_foreach(arr, i, v)
		{
			const char *u = json_string_value(json_object_get(v, "user"));
			const char *pw = json_string_value(json_object_get(v, "password"));
			json_t *c = json_object_get(v, "created"),
			       *e = json_object_get(v, "expires");
			if (!u || !desktop_user_valid(u) || !pw || !vncgw_pw_valid(pw) ||
			    !json_is_integer(c) || !json_is_integer(e) || vncgw_pw_find(g, u)) {
				why = "an entry is not {user, password, created, expires}";
				break;
			}
			struct vncgw_pw *p = &g->pws[g->n_pws++];
			snprintf(p->user, sizeof(p->user), "%s", u);
			snprintf(p->password, sizeof(p->password), "%s", pw);
			p->created_ms = json_integer_value(c);
			p->expires_ms = json_integer_value(e);
		}
	}
	json_decref(root);
	if (why) {
		OPENSSL_cleanse(g->pws, g->n_pws * sizeof(*g->pws));
		free(g->pws);
		g->pws = NULL;
		g->n_pws = 0;
		_cleanup_free_ char *aside =
		    ab_xasprintf("%s.corrupt-%lld", g->path, (long long)ab_wall_ms());
		if (rename(g->path, aside) < 0)
			return ab_err_errno(err, errno, "%s: %s; moving it aside", g->path, why);
		ab_warn("%s: %s: moved to %s, starting with no VNC access passwords", g->path, why,
		        aside);
		return 0;
	}
	if (vncgw_prune(g) > 0)
		return vncgw_save(g, err);
	return 0;
}

/* A new random password no active one shares. */
static int
vncgw_generate(struct vncgw *g, char out[VNCGW_PW_LEN + 1])
{
	const size_t n = sizeof(pw_alphabet) - 1;
	const unsigned limit = 256 - 256 % n; /* no modulo bias */
	for (int attempt = 0; attempt < 16; attempt++) {
		size_t k = 0;
		while (k < VNCGW_PW_LEN) {
			uint8_t b[16];
			if (ab_random_bytes(b, sizeof(b)) < 0)
				return -EIO;
			for (size_t i = 0; i < sizeof(b) && k < VNCGW_PW_LEN; i++)
				if (b[i] < limit)
					out[k++] = pw_alphabet[b[i] % n];
		}
		out[k] = '\0';
		bool taken = false;
		for (size_t i = 0; i < g->n_pws; i++)
			taken |= strcmp(g->pws[i].password, out) == 0;
		if (!taken)
			return 0;
	}
	return -EEXIST;
}

/* ---- per-source failures ---- */

static struct vncgw_source *
vncgw_source(struct vncgw *g, const char *addr, bool create)
{
	struct vncgw_source *oldest = NULL;
	int64_t now = ab_now_ms();
	for (size_t i = 0; i < g->n_sources; i++) {
		struct vncgw_source *s = &g->sources[i];
		if (strcmp(s->addr, addr) == 0) {
			/* a lockout that ended, or failures long ago, start over */
			if ((s->locked_until_ms && s->locked_until_ms <= now) ||
			    (!s->locked_until_ms && now - s->last_ms > g->lockout_s * 1000)) {
				s->failures = 0;
				s->locked_until_ms = 0;
			}
			return s;
		}
		if (!oldest || s->last_ms < oldest->last_ms)
			oldest = s;
	}
	if (!create)
		return NULL;
	struct vncgw_source *s =
	    g->n_sources < VNCGW_MAX_SOURCES ? &g->sources[g->n_sources++] : oldest;
	*s = (struct vncgw_source){.last_ms = now};
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	return s;
}

static bool
vncgw_locked(struct vncgw *g, const char *addr)
{
	struct vncgw_source *s = vncgw_source(g, addr, false);
	return s && s->locked_until_ms > ab_now_ms();
}

/* ---- connections ---- */

static void vncgw_conn_update(struct vncgw_conn *c);

static int64_t
vncgw_reap(struct ab_loop *loop, void *data)
{
	struct vncgw *g = data;
	g->reaper = NULL;
	while (g->dead) {
		struct vncgw_conn *c = g->dead;
		g->dead = c->next;
		free(c->toc.d);
		free(c->tou.d);
		free(c);
	}
	return AB_TIMER_STOP;
}

static void
vncgw_unpend(struct vncgw_conn *c)
{
	if (c->pending) {
		c->pending = false;
		c->g->n_pending--;
	}
}

/* Closes both sides now; the memory goes on the next loop round. */
static void
vncgw_conn_close(struct vncgw_conn *c, const char *why)
{
	struct vncgw *g = c->g;
	if (c->state == VG_DEAD)
		return;
	if (c->state == VG_SPLICE) {
		int64_t now = ab_now_ms();
		ab_metrics_gauge_add("argobox_vnc_clients", "", -1);
		if (c->paused_since_ms)
			c->paused_ms += now - c->paused_since_ms;
		/* buffered_peak <= buffer_bytes: what a slow client cost the broker */
		audit_log("vncgw.session", AUDIT_INFO, c->user, NULL, c->peer,
		          json_pack("{sssIsIsIsIsIsIsI}", "reason", why, "bytes_in",
		                    (json_int_t)c->bytes_in, "bytes_out", (json_int_t)c->bytes_out,
		                    "duration_ms", (json_int_t)(now - c->start_ms), "buffered_peak",
		                    (json_int_t)AB_MAX(c->toc.peak, c->tou.peak), "buffer_bytes",
		                    (json_int_t)g->buffer_bytes, "paused_ms",
		                    (json_int_t)c->paused_ms, "requests_held",
		                    (json_int_t)c->flow.held));
	}
	ab_debug("vnc gateway: %s%s%s: closed (%s)", c->peer, c->user[0] ? " " : "", c->user, why);
	vncgw_unpend(c);
	ab_loop_unwatch(g->loop, c->cw);
	ab_loop_unwatch(g->loop, c->uw);
	c->cw = c->uw = NULL;
	ab_loop_timer_cancel(g->loop, c->timer);
	c->timer = NULL;
	ab_loop_timer_cancel(g->loop, c->pace);
	c->pace = NULL;
	if (c->waiter)
		desktop_waiter_cancel(c->waiter);
	c->waiter = NULL;
	if (c->desktop)
		desktop_client_vnc(c->desktop, false);
	c->desktop = NULL;
	ab_closep(&c->cfd);
	ab_closep(&c->ufd);
	c->state = VG_DEAD;
	struct vncgw_conn **pp = &g->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	c->next = g->dead;
	g->dead = c;
	if (!g->reaper)
		g->reaper = ab_loop_timer(g->loop, 0, vncgw_reap, g);
}

static void
vncgw_audit_deny(struct vncgw_conn *c, const char *event, const char *reason)
{
	audit_log(event, AUDIT_DENY, c->user[0] ? c->user : NULL, NULL, c->peer,
	          json_pack("{ss}", "reason", reason));
}

static void
buf_put(struct vncgw_buf *b, const void *p, size_t n)
{
	/* handshake messages only: small, the buffer is far larger */
	if (b->head + b->len + n > b->cap) {
		memmove(b->d, b->d + b->head, b->len);
		b->head = 0;
	}
	AB_ASSERT(b->len + n <= b->cap);
	memcpy(b->d + b->head + b->len, p, n);
	b->len += n;
}

static void
put_u32(struct vncgw_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	buf_put(b, x, 4);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Sends `reason` the way the client's version expects, then closes once it is out. */
static void
vncgw_refuse(struct vncgw_conn *c, bool after_auth, const char *reason)
{
	size_t n = strlen(reason);
	if (after_auth) {
		put_u32(&c->toc, 1); /* SecurityResult failed */
		if (c->minor >= 8) {
			put_u32(&c->toc, (uint32_t)n);
			buf_put(&c->toc, reason, n);
		}
	} else if (c->minor >= 7) {
		uint8_t zero = 0; /* no security types, then the reason */
		buf_put(&c->toc, &zero, 1);
		put_u32(&c->toc, (uint32_t)n);
		buf_put(&c->toc, reason, n);
	} else {
		put_u32(&c->toc, 0); /* 3.3: security type 0 = failed, then the reason */
		put_u32(&c->toc, (uint32_t)n);
		buf_put(&c->toc, reason, n);
	}
	vncgw_unpend(c);
	c->state = VG_CLOSING;
	ab_loop_unwatch(c->g->loop, c->uw);
	c->uw = NULL;
	ab_closep(&c->ufd);
}

/* Sends up to `limit` bytes of b to fd. Returns 0, or -errno (EPIPE and friends: the peer is gone).
 */
static int
buf_flush_n(struct vncgw_buf *b, int fd, size_t limit)
{
	limit = AB_MIN(limit, b->len);
	while (limit) {
		ssize_t n = ab_sock_send_some(fd, b->d + b->head, limit);
		if (n <= 0)
			return (int)n;
		b->head += (size_t)n;
		b->len -= (size_t)n;
		limit -= (size_t)n;
	}
	if (b->len == 0)
		b->head = 0;
	return 0;
}

/* Flushes b to fd. Returns 0, or -errno (EPIPE and friends: the peer is gone). */
static int
buf_flush(struct vncgw_buf *b, int fd, uint64_t *count)
{
	while (b->len) {
		ssize_t n = ab_sock_send_some(fd, b->d + b->head, b->len);
		if (n <= 0)
			return (int)n;
		b->head += (size_t)n;
		b->len -= (size_t)n;
		if (count) {
			*count += (uint64_t)n;
			ab_metrics_count("argobox_stream_bytes_total",
			                 "via=\"vnc\",direction=\"to_client\"", (double)n);
		}
	}
	b->head = 0;
	return 0;
}

/* Reads into the free space of b. Returns bytes read, 0 on EOF, -EAGAIN, or -errno. */
static ssize_t
buf_fill(struct vncgw_buf *b, int fd)
{
	if (b->head && b->head + b->len == b->cap) {
		memmove(b->d, b->d + b->head, b->len);
		b->head = 0;
	}
	size_t room = b->cap - b->head - b->len;
	if (room == 0)
		return -ENOBUFS;
	for (;;) {
		ssize_t n = recv(fd, b->d + b->head + b->len, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b->len += (size_t)n;
		b->peak = AB_MAX(b->peak, b->len);
		return n;
	}
}

/* Collects handshake bytes up to c->hs_want. Returns 1 when complete, 0 for more, < 0 closed. */
static int
vncgw_collect(struct vncgw_conn *c, int fd)
{
	while (c->hs_len < c->hs_want) {
		ssize_t n = recv(fd, c->hs + c->hs_len, c->hs_want - c->hs_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		c->hs_len += (size_t)n;
	}
	return 1;
}

static void
vncgw_want(struct vncgw_conn *c, size_t n)
{
	AB_ASSERT(n <= sizeof(c->hs));
	c->hs_len = 0;
	c->hs_want = n;
}

static void vncgw_desktop_ready(struct desktop *d, int status, void *data);

static int64_t
vncgw_timeout(struct ab_loop *loop, void *data)
{
	struct vncgw_conn *c = data;
	c->timer = NULL;
	if (c->state <= VG_RESPONSE) {
		vncgw_audit_deny(c, "vncgw.connect", "handshake timeout");
		vncgw_conn_close(c, "handshake timeout");
	} else if (c->state < VG_SPLICE) {
		audit_log("vncgw.connect", AUDIT_FAILURE, c->user, NULL, c->peer,
		          json_pack("{ss}", "reason", "desktop did not become ready"));
		vncgw_refuse(c, true, "the desktop did not start in time");
		vncgw_conn_update(c);
	} else {
		vncgw_conn_close(c, "closing timeout");
	}
	return AB_TIMER_STOP;
}

static void
vncgw_auth_failed(struct vncgw_conn *c, const char *reason)
{
	struct vncgw *g = c->g;
	struct vncgw_source *s = vncgw_source(g, c->peer, true);
	s->failures++;
	s->last_ms = ab_now_ms();
	bool lock = s->failures >= g->max_failures;
	if (lock)
		s->locked_until_ms = s->last_ms + g->lockout_s * 1000;
	audit_log(
	    "vncgw.auth", AUDIT_DENY, c->user[0] ? c->user : NULL, NULL, c->peer,
	    json_pack("{sssisb}", "reason", reason, "failures", s->failures, "locked_out", lock));
	if (lock)
		ab_warn("vnc gateway: %s locked out for %llds after %d failed authentications",
		        c->peer, (long long)g->lockout_s, s->failures);
	vncgw_refuse(c, true, "authentication failed");
}

int
vncgw_rfb_version(const uint8_t v[12], bool client)
{
	char s[13];
	unsigned major, minor;
	char nl;
	memcpy(s, v, 12);
	s[12] = '\0';
	if (client) {
		if (memcmp(s, "RFB ", 4) != 0 ||
		    sscanf(s, "RFB %3u.%3u%c", &major, &minor, &nl) != 3 || nl != '\n' ||
		    major != 3 || s[7] != '.')
			return -EPROTO;
	} else if (sscanf(s, "RFB %3u.%3u\n", &major, &minor) != 2 || major != 3) {
		return -EPROTO;
	}
	/* 3.4/3.6 (UltraVNC) speak 3.3; 3.889 (Apple) and later speak 3.8 */
	return minor >= 8 ? 8 : minor == 7 ? 7 : 3;
}

/* The response arrived: find whose password answers the challenge. */
static void
vncgw_check_response(struct vncgw_conn *c)
{
	struct vncgw *g = c->g;
	vncgw_prune(g);
	const struct vncgw_pw *match = NULL;
	/* every password is tried, each compare in constant time */
	for (size_t i = 0; i < g->n_pws; i++) {
		uint8_t want[16];
		if (vncgw_des_response(g->pws[i].password, c->challenge, want) < 0)
			continue;
		if (CRYPTO_memcmp(want, c->hs, 16) == 0 && !match)
			match = &g->pws[i];
		OPENSSL_cleanse(want, sizeof(want));
	}
	if (!match) {
		vncgw_auth_failed(c, "no VNC access password matches");
		return;
	}
	snprintf(c->user, sizeof(c->user), "%s", match->user);
	if (g->user_ok && !g->user_ok(g->user_ok_data, c->user)) {
		vncgw_auth_failed(c, "user may not use the VNC gateway");
		return;
	}
	struct vncgw_source *s = vncgw_source(g, c->peer, false);
	if (s)
		s->failures = 0;
	vncgw_unpend(c);
	audit_log("vncgw.auth", AUDIT_GRANT, c->user, NULL, c->peer,
	          json_pack("{si}", "rfb_minor", c->minor));
	ab_info("vnc gateway: %s signed in as '%s' (RFB 3.%d)", c->peer, c->user, c->minor);
	c->state = VG_DESKTOP;
	ab_loop_timer_cancel(g->loop, c->timer);
	c->timer = ab_loop_timer(g->loop, VNCGW_START_MS, vncgw_timeout, c);
	struct ab_err err = {0};
	if (desktop_acquire(g->desktops, c->user, vncgw_desktop_ready, c, &c->waiter, &err) < 0) {
		c->waiter = NULL;
		ab_warn("vnc gateway: desktop of '%s': %s", c->user, err.msg);
		audit_log("vncgw.connect", AUDIT_FAILURE, c->user, NULL, c->peer,
		          json_pack("{ss}", "reason", err.msg));
		vncgw_refuse(c, true, "the desktop is not available");
	}
}

/* One step of the client side of the handshake. Returns < 0 when the connection closed. */
static int
vncgw_client_step(struct vncgw_conn *c)
{
	int r = vncgw_collect(c, c->cfd);
	if (r <= 0) {
		if (r < 0) {
			vncgw_audit_deny(c, "vncgw.connect", "client left during the handshake");
			vncgw_conn_close(c, "client left during the handshake");
		}
		return r;
	}
	switch (c->state) {
	case VG_VERSION: {
		int minor = vncgw_rfb_version(c->hs, true);
		if (minor < 0) {
			vncgw_audit_deny(c, "vncgw.connect", "not an RFB 3.x ProtocolVersion");
			vncgw_conn_close(c, "bad ProtocolVersion");
			return -EPROTO;
		}
		c->minor = minor;
		if (c->locked) {
			vncgw_audit_deny(c, "vncgw.connect", "source locked out");
			vncgw_refuse(c, false, "too many failed authentications; try again later");
			return 0;
		}
		if (c->minor >= 7) {
			uint8_t types[2] = {1, 2}; /* one type: VNC Authentication */
			buf_put(&c->toc, types, 2);
			c->state = VG_SECTYPE;
			vncgw_want(c, 1);
			return 0;
		}
		put_u32(&c->toc, 2);
		break;
	}
	case VG_SECTYPE:
		if (c->hs[0] != 2) {
			vncgw_audit_deny(c, "vncgw.connect", "security type not offered");
			if (c->minor >= 8) {
				vncgw_refuse(c, true, "only VNC Authentication is offered");
			} else {
				vncgw_conn_close(c, "bad security type");
				return -EPROTO;
			}
			return 0;
		}
		break;
	case VG_RESPONSE:
		vncgw_check_response(c);
		return 0;
	default:
		return 0;
	}
	/* send the challenge */
	if (ab_random_bytes(c->challenge, sizeof(c->challenge)) < 0) {
		vncgw_conn_close(c, "no randomness");
		return -EIO;
	}
	buf_put(&c->toc, c->challenge, sizeof(c->challenge));
	c->state = VG_RESPONSE;
	vncgw_want(c, 16);
	return 0;
}

static void
vncgw_up_failed(struct vncgw_conn *c, const char *why)
{
	ab_warn("vnc gateway: desktop of '%s': session handshake: %s", c->user, why);
	audit_log("vncgw.connect", AUDIT_FAILURE, c->user, NULL, c->peer,
	          json_pack("{ss}", "reason", why));
	vncgw_refuse(c, true, "the desktop refused the connection");
}

/* Grows b (handshake size) to `cap` for the splice, keeping what it holds. */
static void
buf_grow(struct vncgw_buf *b, size_t cap)
{
	if (b->cap >= cap)
		return;
	if (b->head) {
		memmove(b->d, b->d + b->head, b->len);
		b->head = 0;
	}
	b->d = ab_xrealloc(b->d, cap);
	b->cap = cap;
}

/* The session accepted: tell the client, then splice. */
static void
vncgw_spliced(struct vncgw_conn *c)
{
	buf_grow(&c->toc, c->g->buffer_bytes);
	buf_grow(&c->tou, c->g->buffer_bytes);
	rfbflow_init(&c->flow, RFBFLOW_START_CLIENTINIT);
	c->flow.fwd = c->tou.len; /* the end of the session's handshake, if any is left */
	put_u32(&c->toc, 0);      /* SecurityResult OK */
	c->state = VG_SPLICE;
	c->start_ms = ab_now_ms();
	ab_metrics_gauge_add("argobox_vnc_clients", "", 1);
	ab_loop_timer_cancel(c->g->loop, c->timer);
	c->timer = NULL;
	audit_log("vncgw.session", AUDIT_GRANT, c->user, NULL, c->peer,
	          json_pack("{ss}", "desktop", c->user));
	ab_info("vnc gateway: %s connected to the desktop of '%s'", c->peer, c->user);
}

/* One step of the session side of the handshake (security None). Returns < 0 when closed. */
static int
vncgw_up_step(struct vncgw_conn *c)
{
	int r = vncgw_collect(c, c->ufd);
	if (r < 0) {
		vncgw_up_failed(c, "the session closed the connection");
		return 0;
	}
	if (r == 0)
		return 0;
	switch (c->state) {
	case VG_UP_VERSION: {
		int minor = vncgw_rfb_version(c->hs, false);
		if (minor < 0) {
			vncgw_up_failed(c, "not an RFB 3.x ProtocolVersion");
			return 0;
		}
		c->up_minor = minor;
		char v[16]; /* 12 used: the parser gives three digits (0..999) */
		snprintf(v, sizeof(v), "RFB 003.%03d\n", c->up_minor % 1000);
		buf_put(&c->tou, v, 12);
		c->state = VG_UP_NTYPES;
		vncgw_want(c, c->up_minor >= 7 ? 1 : 4);
		return 0;
	}
	case VG_UP_NTYPES:
		if (c->up_minor < 7) {
			if (get_u32(c->hs) != 1) {
				vncgw_up_failed(c, "the session does not offer security None");
				return 0;
			}
			vncgw_spliced(c);
			return 0;
		}
		if (c->hs[0] == 0) {
			vncgw_up_failed(c, "the session offers no security type");
			return 0;
		}
		c->up_ntypes = c->hs[0];
		c->state = VG_UP_TYPES;
		vncgw_want(c, c->up_ntypes);
		return 0;
	case VG_UP_TYPES:
		if (!memchr(c->hs, 1, c->up_ntypes)) {
			vncgw_up_failed(c, "the session does not offer security None");
			return 0;
		}
		uint8_t none = 1;
		buf_put(&c->tou, &none, 1);
		if (c->up_minor < 8) {
			vncgw_spliced(c);
			return 0;
		}
		c->state = VG_UP_RESULT;
		vncgw_want(c, 4);
		return 0;
	case VG_UP_RESULT:
		if (get_u32(c->hs) != 0) {
			vncgw_up_failed(c, "the session refused security None");
			return 0;
		}
		vncgw_spliced(c);
		return 0;
	default:
		return 0;
	}
}

/*
 * Decides how much of tou may go to the session (c->flow.fwd): while the
 * client is behind, its update requests wait in the gateway (rfbflow.h).
 */
static void
vncgw_scan(struct vncgw_conn *c)
{
	struct vncgw_buf *b = &c->tou;
	/*
	 * Behind: bytes wait for the client here, or more than buffer_bytes wait
	 * in the kernel's send queue (unsent or unacknowledged); and the client's
	 * own bytes still fit.
	 */
	int outq = 0;
	if (ioctl(c->cfd, SIOCOUTQ, &outq) < 0 || outq < 0)
		outq = 0;
	bool behind =
	    rfbflow_behind(c->toc.len, (size_t)outq, c->g->buffer_bytes) && b->len < b->cap / 2;
	bool was = c->flow.transparent;
	uint64_t inputs = c->flow.inputs;
	rfbflow_scan(&c->flow, b->d + b->head, &b->len, behind);
	if (c->flow.inputs != inputs && c->desktop)
		desktop_note_input(c->desktop); /* the admin console's "last input" */
	if (c->flow.transparent && !was)
		ab_debug("vnc gateway: %s: client message type %d: forwarded unpaced from now on",
		         c->peer, c->flow.unknown);
}

static int64_t vncgw_pace(struct ab_loop *loop, void *data);

/* Sends what may go to the session. Returns 0 or -errno. */
static int
vncgw_flush_up(struct vncgw_conn *c)
{
	if (c->ufd < 0)
		return 0;
	if (c->state != VG_SPLICE)
		return c->tou.len ? buf_flush(&c->tou, c->ufd, NULL) : 0;
	vncgw_scan(c);
	size_t before = c->tou.len;
	int r = buf_flush_n(&c->tou, c->ufd, c->flow.fwd);
	rfbflow_sent(&c->flow, before - c->tou.len);
	/* held for the kernel's queue alone: no event of ours says when it drains */
	if (c->flow.holding && c->toc.len == 0 && !c->pace)
		c->pace = ab_loop_timer(c->g->loop, RFBFLOW_PACE_MS, vncgw_pace, c);
	return r;
}

static int64_t
vncgw_pace(struct ab_loop *loop, void *data)
{
	struct vncgw_conn *c = data;
	if (c->state != VG_SPLICE) {
		c->pace = NULL;
		return AB_TIMER_STOP;
	}
	if (vncgw_flush_up(c) < 0) {
		c->pace = NULL;
		vncgw_conn_close(c, "desktop connection lost");
		return AB_TIMER_STOP;
	}
	vncgw_conn_update(c);
	bool again = c->flow.holding && c->toc.len == 0;
	if (!again)
		c->pace = NULL;
	return again ? RFBFLOW_PACE_MS : AB_TIMER_STOP;
}

static void
vncgw_conn_update(struct vncgw_conn *c)
{
	struct vncgw *g = c->g;
	if (c->state == VG_DEAD)
		return;
	if (c->state == VG_CLOSING && c->toc.len == 0) {
		vncgw_conn_close(c, "refused");
		return;
	}
	/* in the splice, only what may go to the session (a waiting request is not) */
	size_t up = c->state == VG_SPLICE ? c->flow.fwd : c->tou.len;
	unsigned ce = c->toc.len ? AB_LOOP_WRITE : 0, ue = up ? AB_LOOP_WRITE : 0;
	if (c->state <= VG_RESPONSE)
		ce |= AB_LOOP_READ;
	else if (c->state >= VG_UP_VERSION && c->state <= VG_UP_RESULT)
		ue |= AB_LOOP_READ;
	else if (c->state == VG_SPLICE) {
		/* read a side only while the other side's buffer has room */
		if (c->tou.len < c->tou.cap)
			ce |= AB_LOOP_READ;
		if (c->toc.len < c->toc.cap) {
			ue |= AB_LOOP_READ;
			if (c->paused_since_ms) {
				c->paused_ms += ab_now_ms() - c->paused_since_ms;
				c->paused_since_ms = 0;
			}
		} else if (!c->paused_since_ms) {
			c->paused_since_ms = ab_now_ms();
			ab_debug("vnc gateway: %s (%s) is not reading: %zu bytes buffered, the "
			         "desktop's stream waits",
			         c->peer, c->user, c->toc.len);
		}
	}
	if (c->cw)
		ab_loop_watch_update(g->loop, c->cw, ce);
	if (c->uw)
		ab_loop_watch_update(g->loop, c->uw, ue);
}

static void
vncgw_client_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct vncgw_conn *c = data;
	if (c->state == VG_DEAD)
		return;
	if (events & AB_LOOP_WRITE || c->toc.len) {
		if (buf_flush(&c->toc, c->cfd, &c->bytes_out) < 0) {
			if (c->state <= VG_RESPONSE)
				vncgw_audit_deny(c, "vncgw.connect",
				                 "client left during the handshake");
			vncgw_conn_close(c, "client gone");
			return;
		}
	}
	if (events & (AB_LOOP_READ | AB_LOOP_ERROR)) {
		if (c->state <= VG_RESPONSE) {
			if (vncgw_client_step(c) < 0)
				return;
		} else if (c->state == VG_SPLICE) {
			size_t before = c->tou.len;
			ssize_t n = buf_fill(&c->tou, c->cfd);
			if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS)) {
				vncgw_conn_close(c, n == 0 ? "client closed" : "client error");
				return;
			}
			if (n > 0) {
				c->bytes_in += (uint64_t)n;
				ab_metrics_count("argobox_stream_bytes_total",
				                 "via=\"vnc\",direction=\"to_desktop\"", (double)n);
				if (!c->shared_forced) {
					/* ClientInit: shared, so browsers and others stay on */
					c->tou.d[c->tou.head + before] = 1;
					c->shared_forced = true;
				}
			}
			/* a hang-up ends the watch: nothing would wake us for this fd again */
			if (events & AB_LOOP_ERROR) {
				vncgw_conn_close(c, "client gone");
				return;
			}
		} else if (events & AB_LOOP_ERROR) {
			vncgw_conn_close(c, "client gone");
			return;
		}
	}
	if (c->toc.len && buf_flush(&c->toc, c->cfd, &c->bytes_out) < 0) {
		vncgw_conn_close(c, "client gone");
		return;
	}
	/* after the client's buffer: a request waiting for it to drain may go now */
	if (c->state == VG_SPLICE && vncgw_flush_up(c) < 0) {
		vncgw_conn_close(c, "desktop connection lost");
		return;
	}
	vncgw_conn_update(c);
}

static void
vncgw_up_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct vncgw_conn *c = data;
	if (c->state == VG_DEAD || c->ufd < 0)
		return;
	if (vncgw_flush_up(c) < 0) {
		if (c->state == VG_SPLICE) {
			vncgw_conn_close(c, "desktop connection lost");
			return;
		}
		vncgw_up_failed(c, "the session closed the connection");
		vncgw_conn_update(c);
		return;
	}
	if (events & (AB_LOOP_READ | AB_LOOP_ERROR)) {
		if (c->state >= VG_UP_VERSION && c->state <= VG_UP_RESULT) {
			vncgw_up_step(c);
			if ((events & AB_LOOP_ERROR) && c->state >= VG_UP_VERSION &&
			    c->state <= VG_UP_RESULT)
				vncgw_up_failed(c, "the session hung up");
		} else if (c->state == VG_SPLICE) {
			bool full = c->toc.len == c->toc.cap;
			ssize_t n = buf_fill(&c->toc, c->ufd);
			bool failed = n < 0 && n != -EAGAIN && n != -ENOBUFS;
			/*
			 * EOF, an error or a hang-up (which ends the watch). With the
			 * buffer full, the session dropped a client that did not take
			 * its updates (vnc.client_wait_ms; docs/vncgw.md).
			 */
			if (n == 0 || failed || (events & AB_LOOP_ERROR)) {
				const char *why = failed ? "desktop error" : "desktop closed";
				if (full)
					why = "desktop closed while the client was not reading";
				vncgw_conn_close(c, why);
				return;
			}
		}
	}
	if (c->state == VG_SPLICE || c->state == VG_CLOSING) {
		if (c->toc.len && buf_flush(&c->toc, c->cfd, &c->bytes_out) < 0) {
			vncgw_conn_close(c, "client gone");
			return;
		}
	}
	if (vncgw_flush_up(c) < 0) {
		vncgw_conn_close(c, "desktop connection lost");
		return;
	}
	vncgw_conn_update(c);
}

static void
vncgw_desktop_ready(struct desktop *d, int status, void *data)
{
	struct vncgw_conn *c = data;
	c->waiter = NULL;
	if (c->state != VG_DESKTOP)
		return;
	if (status < 0) {
		ab_warn("vnc gateway: desktop of '%s' unavailable: %s", c->user, strerror(-status));
		audit_log("vncgw.connect", AUDIT_FAILURE, c->user, NULL, c->peer,
		          json_pack("{ss}", "reason", "desktop failed to start"));
		vncgw_refuse(c, true, "the desktop failed to start");
		vncgw_conn_update(c);
		return;
	}
	struct ab_err err = {0};
	int fd = desktop_connect(d, "rfb.sock", "vncgw", c->peer, &err);
	if (fd < 0) {
		ab_warn("vnc gateway: %s", err.msg);
		vncgw_up_failed(c, "desktop unreachable");
		vncgw_conn_update(c);
		return;
	}
	c->ufd = fd;
	c->desktop = d;
	desktop_client_vnc(d, true);
	c->uw = ab_loop_watch(c->g->loop, c->ufd, AB_LOOP_READ, vncgw_up_io, c);
	c->state = VG_UP_VERSION;
	vncgw_want(c, 12);
	vncgw_conn_update(c);
}

static void
vncgw_accept(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct vncgw *g = data;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				ab_warn("vnc gateway: accept: %m");
			return;
		}
		char peer[INET6_ADDRSTRLEN] = "?";
		if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer,
			          sizeof(peer));
		} else if (ss.ss_family == AF_INET6) {
			struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
			if (IN6_IS_ADDR_V4MAPPED(a))
				inet_ntop(AF_INET, &a->s6_addr[12], peer, sizeof(peer));
			else
				inet_ntop(AF_INET6, a, peer, sizeof(peer));
		}
		/* One source must not hold every slot: it would lock everyone out. */
		int from_peer = 0;
		for (struct vncgw_conn *o = g->conns; o; o = o->next)
			if (o->pending && !strcmp(o->peer, peer))
				from_peer++;
		if (g->n_pending >= g->max_pending || from_peer >= g->max_pending_per_source) {
			audit_log("vncgw.connect", AUDIT_DENY, NULL, NULL, peer,
			          json_pack("{sssi}", "reason",
			                    from_peer >= g->max_pending_per_source
			                        ? "too many unauthenticated connections from this "
			                          "source"
			                        : "too many unauthenticated connections",
			                    "pending", from_peer));
			close(cfd);
			continue;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct vncgw_conn *c = ab_xcalloc(1, sizeof(*c));
		c->g = g;
		c->cfd = cfd;
		c->ufd = -1;
		snprintf(c->peer, sizeof(c->peer), "%s", peer);
		c->toc = (struct vncgw_buf){.d = ab_xmalloc(VNCGW_HS_BUF), .cap = VNCGW_HS_BUF};
		c->tou = (struct vncgw_buf){.d = ab_xmalloc(VNCGW_HS_BUF), .cap = VNCGW_HS_BUF};
		c->pending = true;
		g->n_pending++;
		c->locked = vncgw_locked(g, peer);
		c->state = VG_VERSION;
		vncgw_want(c, 12);
		c->next = g->conns;
		g->conns = c;
		buf_put(&c->toc, "RFB 003.008\n", 12);
		c->cw = ab_loop_watch(loop, cfd, AB_LOOP_READ | AB_LOOP_WRITE, vncgw_client_io, c);
		c->timer = ab_loop_timer(loop, g->handshake_timeout_ms, vncgw_timeout, c);
		ab_debug("vnc gateway: connection from %s", peer);
	}
}

/* ---- HTTP API ---- */

static const char *
vncgw_host(struct vncgw *g, const struct http_request *req, char *buf, size_t len)
{
	if (g->public_host[0])
		return g->public_host;
	if (strcmp(g->listen_host, "0.0.0.0") != 0 && strcmp(g->listen_host, "::") != 0)
		return g->listen_host;
	/* a wildcard listener: the host the page was loaded from (none for the desktop) */
	const char *h = req ? http_request_header(req, "host", buf, len) : NULL;
	if (!h)
		return g->listen_host;
	char *colon = h[0] == '[' ? strchr(buf, ']') : strrchr(buf, ':');
	if (h[0] == '[' && colon) {
		memmove(buf, buf + 1, (size_t)(colon - buf - 1));
		buf[colon - buf - 1] = '\0';
	} else if (colon) {
		*colon = '\0';
	}
	return buf;
}

static void
vncgw_close_user(struct vncgw *g, const char *user)
{
	for (struct vncgw_conn *c = g->conns, *next; c; c = next) {
		next = c->next;
		if (c->user[0] && strcmp(c->user, user) == 0)
			vncgw_conn_close(c, "password revoked");
	}
}

int
vncgw_revoke(struct vncgw *g, const char *user, struct ab_err *err)
{
	struct vncgw_pw *pw = vncgw_pw_find(g, user);
	if (!pw)
		return 0;
	struct vncgw_pw saved = *pw;
	*pw = g->pws[--g->n_pws];
	if (vncgw_save(g, err) < 0) {
		g->pws[g->n_pws++] = saved; /* nothing changes when it cannot be stored */
		OPENSSL_cleanse(&saved, sizeof(saved));
		return -EIO;
	}
	OPENSSL_cleanse(&saved, sizeof(saved));
	vncgw_close_user(g, user);
	return 1;
}

/* An audit line's detail for a password action: the endpoint named when it is the desktop. */
static json_t *
vncgw_detail(json_t *detail, const char *endpoint)
{
	if (endpoint)
		json_object_set_new(detail, "endpoint", json_string(endpoint));
	return detail;
}

/* {"error": why} with `status`, for vncgw_password_op's callers. */
static int
vncgw_fail(json_t **ret_body, int status, const char *why)
{
	*ret_body = json_pack("{ss}", "error", why);
	return status;
}

/*
 * The caller's own VNC access password, whichever way they asked (GET/POST/DELETE
 * /api/vnc-password, or their desktop's request through the control channel): GET or HEAD
 * says whether there is one, POST makes a new one (replacing any; its sessions closed),
 * DELETE revokes it. `user` with `role` from `peer`; `req` is the HTTP request (for the host
 * a wildcard listener names), NULL from the desktop, whose audit lines say endpoint "desktop".
 * Same rules and audit events both ways. Returns the HTTP status; *ret_body is the answer
 * (an object; {"error": ...} from 400 on).
 */
static int
vncgw_password_op(struct vncgw *g, const char *m, const char *user, const char *role,
                  const char *peer, const struct http_request *req, json_t **ret_body)
{
	const char *endpoint = req ? NULL : "desktop";
	if (!user[0] || !desktop_user_valid(user))
		return vncgw_fail(ret_body, 401, "not signed in");
	if (!role || (strcmp(role, "admin") != 0 && strcmp(role, "member") != 0)) {
		audit_log("vncgw.password", AUDIT_DENY, user, role && role[0] ? role : NULL, peer,
		          vncgw_detail(json_pack("{ssss}", "action", m, "reason",
		                                 "demo identities get no VNC access"),
		                       endpoint));
		return vncgw_fail(ret_body, 403, "demo desktops cannot be used from VNC clients");
	}
	bool removed = vncgw_prune(g) > 0;
	struct vncgw_pw *pw = vncgw_pw_find(g, user);
	char hb[256], when[32];
	struct ab_err err = {0};
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
		if (removed && vncgw_save(g, &err) < 0)
			ab_warn("%s", err.msg);
		json_t *o = json_pack("{sbsb}", "enabled", g->lfd >= 0, "exists", pw != NULL);
		if (pw) {
			vncgw_iso_time(pw->expires_ms, when, sizeof(when));
			json_object_set_new(o, "expires", json_string(when));
			vncgw_iso_time(pw->created_ms, when, sizeof(when));
			json_object_set_new(o, "created", json_string(when));
		}
		if (g->lfd >= 0) {
			json_object_set_new(o, "host",
			                    json_string(vncgw_host(g, req, hb, sizeof(hb))));
			json_object_set_new(o, "port", json_integer(g->port));
		}
		*ret_body = o;
		return 200;
	}
	if (strcmp(m, "DELETE") == 0) {
		int r = vncgw_revoke(g, user, &err);
		if (r < 0) {
			ab_error("%s", err.msg);
			return vncgw_fail(ret_body, 500, "could not store the change");
		}
		if (r > 0)
			audit_log("vncgw.password", AUDIT_INFO, user, role, peer,
			          vncgw_detail(json_pack("{ss}", "action", "revoked"), endpoint));
		*ret_body = json_pack("{sb}", "revoked", r > 0);
		return 200;
	}
	if (strcmp(m, "POST") != 0)
		return vncgw_fail(ret_body, 405, "method not allowed");
	if (g->lfd < 0)
		return vncgw_fail(
		    ret_body, 409,
		    "the VNC gateway is disabled on this server (vnc_gateway.listen)");
	struct vncgw_pw fresh = {0};
	snprintf(fresh.user, sizeof(fresh.user), "%s", user);
	if (vncgw_generate(g, fresh.password) < 0)
		return vncgw_fail(ret_body, 500, "could not generate a password");
	fresh.created_ms = ab_wall_ms();
	fresh.expires_ms = fresh.created_ms + g->password_ttl_s * 1000;
	struct vncgw_pw old = {0};
	bool had = pw != NULL;
	if (had) {
		old = *pw;
		*pw = fresh;
	} else {
		g->pws = ab_xrealloc(g->pws, (g->n_pws + 1) * sizeof(*g->pws));
		pw = &g->pws[g->n_pws++];
		*pw = fresh;
	}
	if (vncgw_save(g, &err) < 0) {
		if (had)
			*pw = old;
		else
			g->n_pws--;
		ab_error("%s", err.msg);
		OPENSSL_cleanse(&fresh, sizeof(fresh));
		OPENSSL_cleanse(&old, sizeof(old));
		return vncgw_fail(ret_body, 500, "could not store the password");
	}
	if (had)
		vncgw_close_user(g, user); /* the old password is gone: so are its sessions */
	vncgw_iso_time(fresh.expires_ms, when, sizeof(when));
	audit_log("vncgw.password", AUDIT_GRANT, user, role, peer,
	          vncgw_detail(
	              json_pack("{sssssb}", "action", "created", "expires", when, "replaced", had),
	              endpoint));
	*ret_body = json_pack("{sssssssi}", "password", fresh.password, "expires", when, "host",
	                      vncgw_host(g, req, hb, sizeof(hb)), "port", g->port);
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	OPENSSL_cleanse(&old, sizeof(old));
	return 200;
}

static int
vncgw_route(struct http_request *req, struct http_response *resp, void *data)
{
	struct vncgw *g = data;
	http_response_add_header(resp, "Cache-Control", "no-store");
	json_t *body = NULL;
	int st = vncgw_password_op(g, req->method, req->user, req->role, req->peer, req, &body);
	if (st >= 400) {
		http_response_error(resp, st, json_string_value(json_object_get(body, "error")));
		json_decref(body);
	} else {
		http_response_json(resp, st, body);
	}
	return 0;
}

json_t *
vncgw_desktop_request(struct vncgw *g, const char *user, const char *role, json_t *msg)
{
	static const struct {
		const char *action, *method;
	} actions[] = {{"status", "GET"}, {"create", "POST"}, {"revoke", "DELETE"}};
	const char *action = json_string_value(json_object_get(msg, "action"));
	const char *m = NULL;
	for (size_t i = 0; action && i < AB_ARRAY_SIZE(actions); i++) {
		if (strcmp(action, actions[i].action) == 0)
			m = actions[i].method;
	}
	json_t *body = NULL;
	int st = m ? vncgw_password_op(g, m, user, role, "desktop", NULL, &body)
	           : vncgw_fail(&body, 400, "'action' must be status, create or revoke");
	json_t *id = json_object_get(msg, "id");
	json_object_set_new(body, "id", json_is_integer(id) ? json_incref(id) : json_integer(-1));
	json_object_set_new(body, "op", json_string("vnc_password"));
	json_object_set_new(body, "status", json_integer(st));
	return ab_proto_msg("services_answer", body);
}

int
vncgw_add_routes(struct vncgw *g, struct server *srv)
{
	static const struct server_route_def routes[] = {
	    {"GET", "/api/vnc-password", vncgw_route},
	    {"POST", "/api/vnc-password", vncgw_route},
	    {"DELETE", "/api/vnc-password", vncgw_route},
	};
	return SERVER_ROUTES_ADD(srv, routes, g);
}

/* ---- lifecycle ---- */

int
vncgw_new(struct ab_loop *loop, const struct vncgw_params *p, struct desktop_manager *desktops,
          struct vncgw **ret, struct ab_err *err)
{
	struct vncgw *g = ab_xcalloc(1, sizeof(*g));
	g->loop = loop;
	g->desktops = desktops;
	g->public_host = ab_xstrdup(p->public_host ? p->public_host : "");
	g->data_dir = ab_xstrdup(p->data_dir);
	g->path = ab_xasprintf("%s/vnc-passwords.json", p->data_dir);
	g->password_ttl_s = p->password_ttl_s > 0 ? p->password_ttl_s : 30 * 86400;
	g->max_failures = p->max_failures > 0 ? p->max_failures : 5;
	g->lockout_s = p->lockout_s > 0 ? p->lockout_s : 300;
	g->max_pending = p->max_pending > 0 ? p->max_pending : 16;
	g->max_pending_per_source = p->max_pending_per_source > 0 ? p->max_pending_per_source : 4;
	g->handshake_timeout_ms = p->handshake_timeout_ms > 0 ? p->handshake_timeout_ms : 10000;
	g->buffer_bytes = AB_MAX(p->buffer_bytes, (size_t)VNCGW_HS_BUF);
	g->user_ok = p->user_ok;
	g->user_ok_data = p->user_ok_data;
	g->lfd = -1;
	int r = vncgw_load(g, err);
	if (r >= 0 && p->listen && p->listen[0])
		r = vncgw_listen(g, p->listen, err);
	if (r < 0) {
		vncgw_free(g);
		return r;
	}
	if (g->lfd >= 0) {
		g->lw = ab_loop_watch(loop, g->lfd, AB_LOOP_READ, vncgw_accept, g);
		bool v6 = strchr(g->listen_host, ':') != NULL;
		ab_info("vnc gateway listening on %s%s%s:%d (%zu access password(s))",
		        v6 ? "[" : "", g->listen_host, v6 ? "]" : "", g->port, g->n_pws);
		if (!broker_addr_is_loopback(g->listen_host) &&
		    !vncgw_addr_is_tailnet(g->listen_host))
			ab_warn(
			    "!!! vnc gateway: %s is neither loopback nor a tailnet address "
			    "(100.64.0.0/10, fd7a:115c:a1e0::/48): VNC traffic is NOT encrypted "
			    "and VNC passwords are weak; anyone who can reach this address can "
			    "try them. Bind it to the tailnet address. !!!",
			    g->listen_host);
		audit_log("vncgw.listen", AUDIT_INFO, NULL, NULL, NULL,
		          json_pack("{sssi}", "address", g->listen_host, "port", g->port));
	}
	*ret = g;
	return 0;
}

int
vncgw_port(const struct vncgw *g)
{
	return g && g->lfd >= 0 ? g->port : 0;
}

void
vncgw_free(struct vncgw *g)
{
	if (!g)
		return;
	while (g->conns)
		vncgw_conn_close(g->conns, "broker stopping");
	ab_loop_timer_cancel(g->loop, g->reaper);
	g->reaper = NULL;
	vncgw_reap(g->loop, g);
	ab_loop_unwatch(g->loop, g->lw);
	ab_closep(&g->lfd);
	if (g->pws)
		OPENSSL_cleanse(g->pws, g->n_pws * sizeof(*g->pws));
	free(g->pws);
	free(g->public_host);
	free(g->data_dir);
	free(g->path);
	free(g);
}
