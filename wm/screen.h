/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * screen: windows after the screen changes size (RandR, the session following the browser).
 *
 * When the screen shrinks, a window whose frame is no longer entirely on screen is moved in
 * (into the work area, as far as its size allows; a frame larger than the work area keeps its
 * top-left corner, so its title bar stays reachable). Its position from before is remembered;
 * when the screen grows again and the window is still where we put it (nobody moved it), it
 * goes back there, or as close as the new size allows. Maximized, full-screen and snapped
 * windows follow the work area instead (client_relayout_all), docks stay.
 */
#ifndef WM_SCREEN_H
#define WM_SCREEN_H

#include <stdbool.h>

struct screen_rect {
	int x, y, w, h;
};

/*
 * Pure: where a frame `f` goes in work area `a` so that it is inside as far as its size
 * allows. Returns true when that differs from where it is.
 */
bool screen_fit_rect(const struct screen_rect *f, const struct screen_rect *a, int *ret_x,
                     int *ret_y);
/* Pure: whether frame f lies entirely within w x h. */
bool screen_rect_inside(const struct screen_rect *f, int w, int h);

/* After wm.sw/wm.sh and the work area changed: move windows in, or back. */
void screen_fit_all(void);

#endif
