/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_randr: resizing an X screen with RandR the way Xvfb accepts it. argobox-session does it
 * for a viewer's SetDesktopSize, argobox-settings for the user's choice of screen size.
 */
#ifndef AB_RANDR_H
#define AB_RANDR_H
#include <X11/Xlib.h>

/*
 * Sets the screen of `root` to w x h: with outputs (Xvfb has one), the first CRTC is switched
 * off, the screen resized and the CRTC set to a w x h mode (created and added to the output
 * when missing); without outputs, only the screen size (96 dpi). Protocol errors go to the
 * caller's X error handler (XSync after to see them). 0, or -ENOTSUP without RandR screen
 * resources.
 */
int ab_randr_set_size(Display *dpy, Window root, int w, int h);
#endif
