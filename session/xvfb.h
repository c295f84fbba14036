/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xvfb: starts Xvfb and maps its framebuffer.
 *
 * Xvfb runs with -displayfd (readiness without sleeps), -noreset, -nocursor
 * and -fbdir in a fresh directory under the configured fbdir (/dev/shm), so
 * its screen lives in a file that we mmap read-only and hand to libvncserver
 * without copying. The screen is allocated at the maximum size; RandR picks
 * the visible size within it.
 */
#ifndef SESSION_XVFB_H
#define SESSION_XVFB_H

#include <stddef.h>
#include <sys/types.h>

#include "ab_err.h"

struct xvfb {
	pid_t pid;       /* Xvfb, leader of its own process group; 0 when reaped */
	int display;     /* N of ":N" */
	char fbdir[256]; /* our private directory holding Xvfb_screen0 */
	void *map;       /* the whole XWD file */
	size_t map_len;
	char *pixels;       /* first pixel (after header and colour map) */
	int bytes_per_line; /* of the allocated (maximum) screen */
	int max_width, max_height;
};

/*
 * Starts `xvfb_path` with a screen of max_w x max_h x 24 and waits (at most
 * 10 s) for it to print its display number. On success *x is filled and
 * Xvfb runs; free with xvfb_stop().
 */
int xvfb_start(struct xvfb *x, const char *xvfb_path, const char *fbdir_parent, int max_w,
               int max_h, struct ab_err *err);

/* Maps Xvfb_screen0 (call after connecting to the display). */
int xvfb_map(struct xvfb *x, struct ab_err *err);

/*
 * Terminates Xvfb (SIGTERM, then SIGKILL after 3 s), reaps it unless already
 * reaped (x->pid == 0), unmaps and removes the fb directory.
 */
void xvfb_stop(struct xvfb *x);

/* Parses an XWD header (big-endian). Returns the pixel offset or -EINVAL. */
long xvfb_parse_xwd(const void *data, size_t len, int *ret_width, int *ret_height, int *ret_bpp,
                    int *ret_bytes_per_line);

#endif
