/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xvfb: starts Xvfb and maps its framebuffer.
 *
 * Xvfb runs with -displayfd (readiness without sleeps), -noreset, -nocursor
 * and -fbdir in a fresh directory under the configured fbdir (/dev/shm), so
 * its screen lives in a file that we mmap and read without copying. Without
 * GLX unless asked (Mesa's software renderer costs ~10 MiB per desktop).
 *
 * Memory: Xvfb's RandR cannot grow a screen beyond the size it started with,
 * so the screen is created at the maximum size (3840x2160 by default, 32 MiB)
 * and RandR picks the visible size within it. Only the visible part is paid
 * for: xvfb_trim() punches holes in the file outside the visible w x h (the
 * kernel frees those pages; they read as zeros and come back only when drawn
 * on), from the loop soon after the first size is set and after every change
 * (xvfb_trim_later()). Growing needs
 * nothing: newly visible rows are drawn, and so allocated, by X. A 1920x1080
 * desktop costs its rows at the maximal stride, less the whole pages right of
 * the visible width: ~11.6 MiB instead of 32.
 */
#ifndef SESSION_XVFB_H
#define SESSION_XVFB_H

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_err.h"
#include "ab_loop.h"

struct xvfb {
	pid_t pid;       /* Xvfb, leader of its own process group; 0 when reaped */
	int display;     /* N of ":N" */
	char fbdir[256]; /* our private directory holding Xvfb_screen0 */
	void *map;       /* the whole XWD file */
	size_t map_len;
	char *pixels;       /* first pixel (after header and colour map) */
	int bytes_per_line; /* of the allocated (maximum) screen */
	int max_width, max_height;
	/* xvfb_trim_later() */
	struct ab_loop *loop;
	Display *dpy;
	struct ab_timer *trim_timer;
	int trim_w, trim_h, trim_row; /* the size being trimmed to; next row (-1: idle) */
	int64_t trim_before;          /* resident bytes when it started */
};

/* xvfb_trim_later(): first step after the size settled this long; rows per step */
#define XVFB_TRIM_DELAY_MS 1000
#define XVFB_TRIM_ROWS     128

/*
 * Starts `xvfb_path` with a screen of max_w x max_h x 24 (GLX only when `glx`) and waits (at
 * most 10 s) for it to print its display number. On success *x is filled and Xvfb runs; free
 * with xvfb_stop().
 */
int xvfb_start(struct xvfb *x, const char *xvfb_path, const char *fbdir_parent, int max_w,
               int max_h, bool glx, struct ab_err *err);

/* Maps Xvfb_screen0 (call after connecting to the display). */
int xvfb_map(struct xvfb *x, struct ab_err *err);

/*
 * Gives back the framebuffer's pages outside the visible w x h screen (top left): the rows
 * below it and, in each visible row, the whole pages right of it. Holes read as zeros.
 * Needs xvfb_map(). Returns the bytes released (pages that were resident), or -errno.
 * Pure memory work, in one go: the caller makes sure X draws nothing outside w x h
 * meanwhile (the session uses xvfb_trim_later()).
 */
int64_t xvfb_release_outside(struct xvfb *x, int w, int h, struct ab_err *err);

/*
 * The same for the screen's current size, from `loop`, in steps: the first
 * XVFB_TRIM_DELAY_MS after the last call (a window being resized pays once, and a first
 * frame never waits for it), then XVFB_TRIM_ROWS rows a step; each step reads the size and
 * punches with the X server grabbed, so no client resizes the screen or draws on it
 * meanwhile (a size changed between steps starts over). Logs the result. Cancelled by
 * xvfb_stop(). `dpy` must stay open until then.
 */
void xvfb_trim_later(struct xvfb *x, struct ab_loop *loop, Display *dpy);

/* Bytes of the framebuffer file in memory (its allocated blocks), or -errno. */
int64_t xvfb_resident(const struct xvfb *x);

/*
 * Terminates Xvfb (SIGTERM, then SIGKILL after 3 s), reaps it unless already
 * reaped (x->pid == 0), unmaps and removes the fb directory.
 */
void xvfb_stop(struct xvfb *x);

/* Parses an XWD header (big-endian). Returns the pixel offset or -EINVAL. */
long xvfb_parse_xwd(const void *data, size_t len, int *ret_width, int *ret_height, int *ret_bpp,
                    int *ret_bytes_per_line);

#endif
