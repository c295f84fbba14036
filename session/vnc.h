/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vnc: serves the Xvfb display over RFB with libvncserver on DIR/rfb.sock.
 *
 * We own the listening unix socket (0600, no TCP) and hand accepted fds to
 * libvncserver. The session's one poll loop watches the X connection, the
 * listening socket and every client fd; after each round vnc_process()
 * drains X events (XDamage, XFixes cursor and selection, RandR) and runs
 * rfbProcessEvents(screen, 0), so an idle desktop costs no CPU.
 *
 * Framebuffer: Xvfb's -fbdir file, mapped; clients are sent a shadow copy.
 * Updates: XDamage (ReportNonEmpty; each batch is subtracted as one region,
 * so damage coalesces in the X server and none is lost); the damaged area is
 * compared with the shadow (fbdiff.h): a top-level window the X server moved
 * (ConfigureNotify) and vertical scrolls go out as CopyRect, and only truly
 * changed pixels are marked modified. ZRLE is our own encoder (zrle.h), and so
 * is Tight for 24-bit colour clients (tight.h: noVNC's), whose JPEG areas are
 * re-sent losslessly once they stop changing. Input: XTest (input.c).
 * Cursor: XFixes cursor image -> rich cursor. Clipboard: clipboard.c, the RFB
 * extended clipboard (UTF-8, notify/request/provide) in vnc.c with extclip.c.
 * Resize: SetDesktopSize -> RandR within [min, max] of the config.
 */
#ifndef SESSION_VNC_H
#define SESSION_VNC_H

#include <X11/Xlib.h>
#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <stdbool.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "clipboard.h"
#include "config.h"
#include "input.h"
#include "xvfb.h"

struct tight_enc; /* lib/tight/tight.h */

struct vnc {
	const struct session_config *cfg;
	struct ab_loop *loop;
	struct xvfb *xvfb;
	Display *dpy;
	Window root;
	struct ab_watch *xwatch;
	int listen_fd;
	struct ab_watch *lwatch;
	rfbScreenInfoPtr screen;
	unsigned long damage; /* Damage */
	int damage_event, xfixes_event, randr_event;
	bool damaged;
	int64_t last_damage_ms;        /* last damage pass (vnc.max_fps) */
	struct ab_timer *damage_timer; /* the next one, when damage waits */
	bool cursor_changed;
	struct input input;
	struct clipboard clip;
	struct ab_timer *clip_timer; /* gives up on text a client offered (notify) */
	int width, height;
	int nclients;
	bool x_broken; /* X connection lost */
	/* top-level windows (root's children): where they are, where they were at the last damage
	 * pass */
	struct vnc_win {
		unsigned long id;
		int x, y, w, h; /* outer rectangle, border included */
		int px, py;     /* position at the last damage pass */
		bool mapped, pmapped;
	} * wins;
	int nwins, wins_cap;
	uint8_t *shadow;   /* what clients are sent: Xvfb's screen as of the last damage */
	size_t shadow_len; /* sstride * height */
	size_t sstride;    /* bytes per shadow row: the visible width's (packed) */
	struct ab_timer
	    *refine_timer; /* lossless refinement (vnc.c), while lossy pixels are shown */
	uint64_t fb_gen;   /* counts changes of the shadow (marked, copied, resized) */
	/*
	 * The last whole-screen Tight update a new client was sent, as sent
	 * (rectangle headers included), replayed to the next new client while the
	 * shadow is unchanged (same fb_gen) and it asks the same quality and
	 * compression: a reconnect's first frame costs no encoding.
	 */
	struct {
		bool valid;
		uint64_t gen;
		int quality, compress, width, height;
		uint8_t *bytes;
		size_t len, cap;
		long long rects;
		sraRegionPtr lossy;    /* its JPEG areas */
		struct tight_enc *enc; /* the recording encoder's zlib streams after it */
	} ff;
	struct {
		long long damaged_px, changed_px, copies, moves, window_moves, refines, ff_hits;
	} stats;
};

/* scroll detection runs on damage at least this large (pixels) */
#define VNC_SCROLL_MIN_WIDTH 64
#define VNC_SCROLL_MIN_ROWS  8
/* a moved block (window drag) is sent as CopyRect from this many pixels */
#define VNC_MOVE_MIN_AREA 4096
/* rows of a moved window sampled before committing to its CopyRect (half must match) */
#define VNC_MOVE_SAMPLES 8
/* the browser's keyboard layout: our pseudo-encoding and message (vnc.c, docs/session.md) */
#define VNC_ENCODING_KBD_HINT 0x41424b01 /* "ABK\1" */
#define VNC_MSG_KBD_HINT      240
#define VNC_KBD_HINT_MAX      47
/* how long X requests wait for text a client offered before they are refused */
#define VNC_CLIP_OFFER_TIMEOUT_MS 5000
/* JPEG pixels a client shows are re-sent losslessly once unchanged for one to two of these */
#define VNC_REFINE_MS 300
/* zlib level of our ZRLE encoder (zrle.h) */
#define VNC_ZRLE_LEVEL 6

/* Connects to Xvfb's display, maps the framebuffer, listens on dir/rfb.sock. */
int vnc_open(struct vnc *v, const struct session_config *cfg, struct ab_loop *loop,
             struct xvfb *xvfb, const char *dir, struct ab_err *err);

/* Runs everything pending (X events, damage, RFB messages and updates). Never blocks. */
void vnc_process(struct vnc *v);

/* Resizes the X screen and the framebuffer (clamped to the limits). Returns 0 or -errno. */
int vnc_resize(struct vnc *v, int w, int h);

/* Disconnects every client, closes the socket and the X connection. */
void vnc_close(struct vnc *v);

/* Clamps a requested size to the configured limits (pure; unit tested). */
void vnc_clamp_size(const struct session_config *cfg, int *w, int *h);

#endif
