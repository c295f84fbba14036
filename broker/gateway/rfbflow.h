/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rfbflow: follows a VNC client's RFB stream (client -> server) and says how
 * much of it may reach the server now. RFB servers send a framebuffer update
 * only when asked, so while the client is behind (bytes meant for it still
 * wait in the broker, or pile up in the kernel's send queue of its socket) its
 * FramebufferUpdateRequests wait here: the server stays idle instead of
 * blocking on a socket nobody reads (argobox-session writes synchronously, and
 * its one loop serves every viewer of the desktop), and the client gets one
 * fresh update once it has caught up.
 *
 * While behind, the first FramebufferUpdateRequest not yet sent waits at
 * buf[f->fwd]; complete requests that follow it merge into it (the union of
 * the rectangles, incremental only if all were); complete key and pointer
 * events move ahead of it; anything else keeps its place behind it. A message
 * type rfbflow does not know, or a handshake it cannot follow, ends the pacing
 * for the connection (f->transparent: everything passes as it comes).
 *
 * Pure: no sockets, clock, logging or allocation. The caller owns the buffer
 * of the client's bytes not yet sent (buf[0] the oldest) and
 *   - calls rfbflow_scan() after bytes arrived and whenever `behind` may have
 *     changed (the client took bytes; and every RFBFLOW_PACE_MS while
 *     f->holding, as the kernel's queue drains without an event);
 *   - sends at most the first f->fwd bytes, and reports what went with
 *     rfbflow_sent().
 *
 * Users: the VNC gateway (vncgw.c, from the ClientInit: the gateway did the
 * handshake) and the websocket proxy (proxy.c, from the client's
 * ProtocolVersion). docs/vncgw.md "Slow clients", docs/broker.md.
 */
#ifndef BROKER_RFBFLOW_H
#define BROKER_RFBFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A waiting request is looked at again this often (ms). */
#define RFBFLOW_PACE_MS 20

/* Where the stream starts. */
enum rfbflow_start {
	RFBFLOW_START_VERSION,    /* the client's ProtocolVersion: it does the handshake */
	RFBFLOW_START_CLIENTINIT, /* the ClientInit byte: someone else did the handshake */
	RFBFLOW_START_MAX,
};

struct rfbflow {
	int stage;        /* internal: handshake step or messages */
	size_t fwd;       /* bytes at the front of the buffer that may be sent now */
	uint64_t skip;    /* bytes of the message being forwarded, still to come */
	uint8_t hs[12];   /* the ProtocolVersion being collected */
	size_t hs_len;    /* its bytes so far */
	bool transparent; /* no more pacing: everything is forwarded as it comes */
	int unknown;      /* why transparent: the message type, or -1 for the handshake */
	bool holding;     /* a FramebufferUpdateRequest waits at buf[fwd] */
	uint64_t held;    /* spells of holding (requests that waited) */
	uint64_t merged;  /* requests merged into a waiting one */
	uint64_t inputs;  /* key and pointer events cleared to go (the desktop's "last input") */
};

void rfbflow_init(struct rfbflow *f, enum rfbflow_start start);

/*
 * Scans buf[0..*len), the client's bytes not yet sent, of which the first
 * f->fwd were cleared by an earlier call. `behind`: the client has not taken
 * what was sent to it (see rfbflow_behind()). May rewrite the bytes after
 * f->fwd (moves input ahead of a waiting request) and shorten *len (merged
 * requests). Returns f->fwd: how many bytes at the front may be sent now.
 */
size_t rfbflow_scan(struct rfbflow *f, uint8_t *buf, size_t *len, bool behind);

/* n bytes (at most f->fwd) at the front went to the server. */
void rfbflow_sent(struct rfbflow *f, size_t n);

/*
 * Whether the client is behind: `buffered` bytes for it still wait in the
 * broker (any is too many: the server's last update has not left), or more
 * than `queue_limit` wait in the kernel's send queue of its socket (`queued`:
 * SIOCOUTQ, unsent or unacknowledged).
 */
bool rfbflow_behind(size_t buffered, size_t queued, size_t queue_limit);

/*
 * The length of the client message at p (RFB 3.8 and the extensions
 * libvncserver and TigerVNC use, including the extended clipboard's negative
 * ClientCutText length), given avail >= 1 bytes of it: 0 when more bytes are
 * needed to tell, -1 for a type rfbflow does not know.
 */
int64_t rfbflow_msg_len(const uint8_t *p, size_t avail);

#endif
