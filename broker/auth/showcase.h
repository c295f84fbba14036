/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * showcase: the landing page's live OS preview (docs/auth.md "Live preview").
 *
 * One showcase desktop per broker, however many visitors look: a demo identity
 * of the preview profile, reserved like a pool desktop (demo_reserve(): a slot
 * of the demo cap, a new name, never handed to anyone), whose desktop the
 * preview websocket (GET /ws/preview, anonymous) starts on the first viewer and
 * streams view-only: the gateway's view-only filter drops every input message
 * (key, pointer, clipboard, resize) before it reaches the desktop, and the
 * first one of a connection is audited (desktop.input deny). Once nobody has
 * watched for grace_ms the desktop is ended (demo.end "idle": container, data
 * and state go), so the preview costs nothing while nobody looks; the next
 * viewer starts a fresh one.
 *
 * The gateway serves every viewer from one connection to the desktop (gateway/fanout.h:
 * each update encoded once, a viewer costs only its bytes), so the session's own RFB client
 * limit does not bound them. Limits for anonymous viewers: at most max_viewers attached at
 * once (503) and
 * per_ip_per_minute preview connections per address per minute (429); every
 * refusal is answered and audited by the server's websocket filter
 * (desktop.connect deny with the reason). Audited here: preview.start,
 * preview.stop.
 */
#ifndef BROKER_SHOWCASE_H
#define BROKER_SHOWCASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "demo.h"
#include "desktop.h"
#include "users.h"

struct showcase_config {
	bool enabled;
	const struct users_profile *profile; /* a demo profile; NULL: the demo user's profile */
	int max_viewers;
	int per_ip_per_minute;
	int64_t grace_ms;
};

struct showcase;

/* Borrowed arguments must outlive it. NULL when cfg->enabled is false. */
struct showcase *showcase_new(struct ab_loop *loop, struct demo *demo,
                              struct desktop_manager *desktops, const struct showcase_config *cfg);
/* Forgets the showcase (its desktop stops with the desktop manager). Accepts NULL. */
void showcase_free(struct showcase *s);

/*
 * A preview websocket from `peer` asks to watch: on success *ret is the
 * showcase desktop's user name (borrowed; reserved now when there is none).
 * -EAGAIN: this address opened too many previews this minute (429); -EUSERS:
 * max_viewers are watching, or no demo slot is free (503); -EINVAL: no
 * preview profile (404). err says why.
 */
int showcase_viewer(struct showcase *s, const char *peer, const char **ret, struct ab_err *err);

/*
 * The showcase's look: before its desktop starts, seed(data, user, state) is handed a desktop
 * state (new reference) with the profile's demo apps (monitor, terminal, files: whichever the
 * profile allows) placed in a fixed layout, so the window manager opens them as it restores a
 * layout and the preview shows a desktop in use, its monitor graphs moving and the taskbar
 * clock. main.c stores it through the state area (deskstate_sync_publish). NULL: none.
 */
typedef int (*showcase_seed_fn)(void *data, const char *user, json_t *state);
void showcase_set_seed(struct showcase *s, showcase_seed_fn fn, void *data);
/* The seeded layout for a desktop of profile p (new reference; tests and docs). */
json_t *showcase_layout(const struct users_profile *p);

/* The current showcase desktop's user name, or NULL. */
const char *showcase_user(const struct showcase *s);

#endif
