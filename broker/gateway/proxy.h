/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proxy: splices one websocket (binary frames) to a desktop's RFB unix
 * socket, with bounded memory in both directions:
 *   desktop -> browser: the socket is read only when the websocket is
 *     writable, one chunk at a time (a slow browser stops the reads, TCP
 *     back-pressure reaches the session);
 *   browser -> desktop: frames go to a buffer of buffer_bytes; above its
 *     high-water mark websocket reads stop (lws_rx_flow_control) until the
 *     socket drained it.
 * As the session's writes block its one loop (every viewer of the desktop
 * waits on a full socket), the browser's RFB stream is followed from its
 * ProtocolVersion (rfbflow.h) and its FramebufferUpdateRequests wait in the
 * buffer while the browser is behind: the desktop's last bytes have not left
 * the broker, or more than buffer_bytes wait in the kernel's send queue of
 * the browser's socket. The session stays idle instead of blocked; the close
 * is logged with requests_held and paused_ms (docs/broker.md).
 * proxy_serve() registers it as the server's websocket handler.
 */
#ifndef BROKER_PROXY_H
#define BROKER_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "ab_loop.h"

struct lws;
struct proxy_conn;
struct desktop_manager;
struct server;
struct broker_config;

/*
 * Makes the proxy the server's websocket endpoint (server_set_ws_handler) for the desktops of
 * `m`, with proxy.buffer_bytes and proxy.chunk_bytes from `cfg`, and adds the open
 * connections to /healthz. Once per process.
 */
void proxy_serve(struct server *srv, struct ab_loop *loop, struct desktop_manager *m,
                 const struct broker_config *cfg);

struct proxy_params {
	size_t buffer_bytes;
	size_t chunk_bytes;
};

/* After the upgrade: asks for the user's desktop; frames are held until it is ready. */
struct proxy_conn *proxy_open(struct lws *ws, struct ab_loop *loop, struct desktop_manager *m,
                              const struct proxy_params *p, const char *user, const char *peer);
/*
 * View-only (an admin watching someone's desktop): the client's RFB stream is
 * parsed and only the handshake, SetPixelFormat, SetEncodings, update
 * requests, EnableContinuousUpdates and Fence reach the desktop; key,
 * pointer, clipboard, SetDesktopSize and QEMU key messages are dropped; the
 * ClientInit shared flag is forced on; anything unknown closes the websocket.
 * Set right after proxy_open(), before any frame.
 */
void proxy_set_view_only(struct proxy_conn *c, bool on);
/*
 * The view-only filter itself, pure (proxy_receive runs every frame of a view-only client
 * through it; tests/fuzz/fuzz_proxy.c runs fuzzed streams): it follows the client's RFB
 * stream across frames in `f` (zeroed to start, at the ProtocolVersion), appends to `out`
 * what may reach the desktop (at most len + sizeof(f->hdr) bytes: a header collected across
 * frames is written with the frame that completes it) and adds their number to *out_len.
 * Returns 0, or -EPROTO for a message a view-only client may not send: close the connection.
 */
struct proxy_rfb_filter {
	int stage;             /* handshake step or messages (proxy.c's RFB_F_*) */
	unsigned char hdr[20]; /* the message header being collected */
	size_t hlen;
	unsigned long long rest; /* payload bytes still to pass or drop */
	bool drop;
	unsigned long long dropped; /* input messages dropped */
};
int proxy_rfb_filter(struct proxy_rfb_filter *f, const unsigned char *in, size_t len,
                     unsigned char *out, size_t *out_len);

/* A websocket frame (fragment) arrived. Returns < 0 to close the websocket. */
int proxy_receive(struct proxy_conn *c, const void *in, size_t len, bool binary);
/* The websocket is writable. Returns < 0 to close the websocket. */
int proxy_writeable(struct proxy_conn *c);
/* The websocket is closed: releases everything. Accepts NULL. */
void proxy_closed(struct proxy_conn *c);

/* Counters for status: open connections, bytes each way since start. */
struct proxy_stats {
	unsigned long long connections, open;
	unsigned long long bytes_to_browser, bytes_to_desktop;
	unsigned long long cut_off; /* viewers cut off: their queue passed 32 x buffer_bytes */
};
void proxy_get_stats(struct proxy_stats *s);

#endif
