/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * images: the per-profile desktop images (docs/images.md). A profile names a recipe
 * (containers/rootfs/recipes/<name>.recipe, "image" in the profile); its image is built by
 * containers/rootfs/image-build under <data.dir>/images/<name>/ and shared read-only by every
 * desktop of the profile (the bundle binds its /usr and shared /etc entries).
 *
 * The first desktop of a recipe in the broker's life runs image-build in the background
 * (one build at a time, output read on the loop): it leaves an image whose hash matches the
 * recipe alone, and rebuilds a stale one while the previous one stays in service. A desktop
 * whose recipe has no image yet waits for the build (images_hold: every start of the recipe
 * waits on the one build, and starts when it is done, or fails with the build's message); a
 * failed build is retried at most once a minute, and refused with its message meanwhile. A profile
 * without an image ("host", or images off) runs on the host's /usr, with a loud warning at every
 * start.
 */
#ifndef BROKER_IMAGES_H
#define BROKER_IMAGES_H

#include <jansson.h>
#include <stdbool.h>

#include "ab_err.h"
#include "ab_loop.h"

struct users_profile;

struct images_config {
	bool enabled;         /* false: every desktop on the host's /usr (loud warning) */
	const char *dir;      /* <data.dir>/images */
	const char *builder;  /* containers/rootfs/image-build */
	const char *programs; /* ':'-separated programs/dirs whose libraries images need */
	const char *fallback; /* recipe of profiles without "image" ("" or "host": host /usr) */
};

struct images;

/* Copies what it needs from cfg. */
struct images *images_new(struct ab_loop *loop, const struct images_config *cfg);
/* Stops a running build (SIGTERM to its process group; the builder removes its work). */
void images_free(struct images *im);

/*
 * The image root a desktop of `user` with profile `prof` (may be NULL) starts on:
 * *ret_root = an absolute directory (borrowed until the next call), or NULL for the host's
 * /usr (logged loudly). Fails with -EAGAIN while the recipe's first image is being built and
 * -EIO when its build failed and there is no image, with a message for the user; audits
 * image.use (grant: which image; deny: why).
 */
int images_for(struct images *im, const char *user, const struct users_profile *prof,
               const char **ret_root, struct ab_err *err);

/*
 * The state of a recipe's image for the boot screen: {"image", "state": "ready" | "building"
 * | "failed" | "missing" | "host", "step", "steps", "detail", "error", "root", "profile",
 * "profile_title", and while building "elapsed_s" (since it was asked for) and "waiting" (desktop
 * starts held for it)}.
 */
json_t *images_status(struct images *im, const struct users_profile *prof);

/*
 * The desktop manager's hold (desktop.h): 0 when a desktop of `user` may start now (its image
 * is in service, it runs on the host's /usr, or its build failed: images_for refuses it); 1 when
 * its recipe's image is being built: done(token, 0 or -EIO, message) is called once, from the
 * loop, when the build ends (a failure is audited for the user: image.use and container.start
 * deny), unless images_hold_cancel(token) comes first. Audits image.wait.
 */
typedef void (*images_done_fn)(void *token, int status, const char *msg);
int images_hold(struct images *im, const char *user, const struct users_profile *prof,
                images_done_fn done, void *token);
void images_hold_cancel(struct images *im, void *token);

/* Starts image-build for `recipe` now (tests, argoboxctl); 0, or -EALREADY when one runs. */
int images_build(struct images *im, const char *recipe, struct ab_err *err);

#endif
