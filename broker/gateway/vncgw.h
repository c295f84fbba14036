/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vncgw: the RFB gateway for native VNC clients (TigerVNC, Remmina, RealVNC,
 * macOS Screen Sharing), usually over a tailnet (docs/vncgw.md).
 *
 * A TCP listener on the broker's loop speaks RFB 3.8 (and 3.3/3.7) with VNC
 * Authentication (security type 2). VNC auth carries no user name: each
 * signed-in admin or member may have one VNC access password (8 characters,
 * issued by POST /api/vnc-password, shown once, TTL), and the response to the
 * challenge is checked against every active password to find whose it is.
 * Then the user's desktop is acquired (started when needed), the gateway does
 * the client side of the session's own handshake on its rfb.sock (security
 * None), answers the native client "OK" and splices both ways with bounded
 * buffers (buffer_bytes per direction; a side is read only while the other
 * side's buffer has room; while the client is behind, its update requests
 * wait in the gateway, so the session is not asked for more than the client
 * takes). The ClientInit shared flag is forced on, so browsers stay connected.
 *
 * Passwords live in <data_dir>/vnc-passwords.json (0600, written atomically).
 * Per source address, max_failures failed authentications lock the address
 * out for lockout_s; unauthenticated connections are bounded in number and
 * time. Every grant and denial is audited (vncgw.* events, docs/audit.md).
 */
#ifndef BROKER_VNCGW_H
#define BROKER_VNCGW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"
#include <jansson.h>
#include "ab_loop.h"

struct vncgw;
struct server;
struct desktop_manager;
struct broker_config;

/* May `user` (authenticated by a VNC access password) use the gateway now? */
typedef bool (*vncgw_user_ok_fn)(void *data, const char *user);

struct vncgw_params {
	const char *listen;      /* "" or NULL: no listener (the API says "disabled") */
	const char *public_host; /* "" or NULL: the listen address */
	const char *data_dir;    /* vnc-passwords.json lives here */
	int64_t password_ttl_s;
	int max_failures;
	int64_t lockout_s;
	int max_pending;
	int max_pending_per_source; /* of those, from one address (0: 4) */
	int64_t handshake_timeout_ms;
	size_t buffer_bytes;      /* per direction, per connection (vnc_gateway.buffer_bytes) */
	vncgw_user_ok_fn user_ok; /* NULL: everyone with a password */
	void *user_ok_data;
};

/*
 * --check-config: vnc_gateway.listen parses as the listener will take it
 * ("" for off, ADDR:PORT or [IPV6]:PORT with a numeric address or
 * "localhost", port 0..65535) and vnc_gateway.public_host is a host name or
 * an IP address. The error names the key.
 */
int vncgw_check_config(const struct broker_config *cfg, struct ab_err *err);

/*
 * Loads the passwords and, when p->listen is set, binds the listener (a
 * loud warning when the address is neither loopback nor tailnet). Strings in
 * p are copied; `loop` and `desktops` are borrowed and must outlive it.
 */
int vncgw_new(struct ab_loop *loop, const struct vncgw_params *p, struct desktop_manager *desktops,
              struct vncgw **ret, struct ab_err *err);

/*
 * Adds GET/POST/DELETE /api/vnc-password (the caller's own password; the
 * authorize hook and authz decide who gets there: admins and members).
 */
int vncgw_add_routes(struct vncgw *g, struct server *srv);

/*
 * Revokes `user`'s VNC access password and closes their VNC clients (DELETE
 * /api/vnc-password, the admin console): 1 revoked, 0 there was none, < 0 when the change
 * could not be stored (nothing changed; err says why). The caller audits.
 */
int vncgw_revoke(struct vncgw *g, const char *user, struct ab_err *err);
/*
 * A desktop's request about its owner's VNC access password (docs/control-channel.md: a
 * services_request with op "vnc_password" and action "status", "create" or "revoke"), for
 * `user` with `role` as the control channel says (never the message): the same rules, answers
 * and audit events (endpoint "desktop") as GET/POST/DELETE /api/vnc-password. Returns the
 * services_answer to send back (owned), with the request's id and an HTTP-like status.
 */
json_t *vncgw_desktop_request(struct vncgw *g, const char *user, const char *role, json_t *msg);
/* The TCP port bound (useful with port 0), or 0 when disabled. */
int vncgw_port(const struct vncgw *g);

/* Closes the listener and every connection. Accepts NULL. */
void vncgw_free(struct vncgw *g);

/*
 * VNC Authentication: the 16-byte response to `challenge` for `password`
 * (its first 8 bytes, NUL-padded, bit-reversed, as a DES key). Exposed for
 * tests. Returns 0 or -EIO.
 */
int vncgw_des_response(const char *password, const uint8_t challenge[16], uint8_t out[16]);

/*
 * A ProtocolVersion (its 12 bytes) as the gateway reads it: the RFB 3.x minor version it
 * speaks in answer (3 for 3.3 to 3.6, 7, or 8 for 3.8 and later), or -EPROTO when it is not
 * one. `client`: the VNC client's, held to "RFB xxx.yyy\n" exactly; else the session's.
 */
int vncgw_rfb_version(const uint8_t v[12], bool client);

/* true for addresses in 100.64.0.0/10 or fd7a:115c:a1e0::/48 (Tailscale). */
bool vncgw_addr_is_tailnet(const char *addr);

#endif
