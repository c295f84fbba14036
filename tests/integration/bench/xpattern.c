/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xpattern: the X client of the bench_tight test. It draws a 640x480 picture
 * at +0+0 that makes a Tight encoder use every kind of rectangle it has, moves
 * the pointer to the screen's bottom-right corner (away from the picture),
 * and once the picture is on the screen writes $DISPLAY to READY_FILE. Then it
 * stays, redrawing on Expose, until killed.
 *   top left      four solid blocks                       (fill)
 *   top right     black stripes on white, a 6-colour grid   (2-colour, palette)
 *   bottom left   a smooth diagonal ramp                    (full colour: JPEG or zlib)
 *   bottom right  plasma (sums of sines)                    (full colour: JPEG or zlib)
 *
 *   ab_xpattern READY_FILE
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW 640
#define PH 480

static uint32_t
pattern(int x, int y)
{
	if (y < PH / 2 && x < PW / 2) { /* solid blocks */
		static const uint32_t c[4] = {0xc03030, 0x30c030, 0x3030c0, 0xe0e0e0};
		return c[(y >= PH / 4) * 2 + (x >= PW / 4)];
	}
	if (y < PH / 2) { /* text-like stripes, then a 6-colour grid */
		if (y < PH / 4)
			return (x / 3 + y / 5) % 4 == 0 && y % 10 < 7 ? 0x000000 : 0xffffff;
		static const uint32_t c[6] = {0x000000, 0xffffff, 0xff0000,
		                              0x00ff00, 0x0000ff, 0xffff00};
		return c[(x / 8 + y / 8) % 6];
	}
	if (x < PW / 2) /* a smooth ramp */
		return (uint32_t)(x * 255 / (PW / 2)) << 16 |
		       (uint32_t)((y - PH / 2) * 255 / (PH / 2)) << 8 | (uint32_t)((x + y) % 256);
	double v = sin(x / 16.0) + sin(y / 11.0) + sin((x + y) / 23.0);
	int r = (int)(127.5 + 127.5 * sin(v)), g = (int)(127.5 + 127.5 * sin(v + 2.1)),
	    b = (int)(127.5 + 127.5 * sin(v + 4.2));
	return (uint32_t)r << 16 | (uint32_t)g << 8 | (uint32_t)b;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: ab_xpattern READY_FILE\n");
		return 2;
	}
	Display *d = XOpenDisplay(NULL);
	if (!d) {
		fprintf(stderr, "xpattern: cannot open display\n");
		return 1;
	}
	int scr = DefaultScreen(d);
	Visual *vis = DefaultVisual(d, scr);
	if (DefaultDepth(d, scr) != 24 || vis->red_mask != 0xff0000 || vis->green_mask != 0xff00 ||
	    vis->blue_mask != 0xff) {
		fprintf(stderr, "xpattern: needs a 24-bit 0xRRGGBB TrueColor visual\n");
		return 1;
	}
	XSetWindowAttributes a = {.override_redirect = True, .background_pixel = 0};
	Window w = XCreateWindow(d, RootWindow(d, scr), 0, 0, PW, PH, 0, 24, InputOutput, vis,
	                         CWOverrideRedirect | CWBackPixel, &a);
	XSelectInput(d, w, ExposureMask);
	XImage *img = XCreateImage(d, vis, 24, ZPixmap, 0, NULL, PW, PH, 32, 0);
	img->data = calloc((size_t)img->bytes_per_line, PH);
	for (int y = 0; y < PH; y++)
		for (int x = 0; x < PW; x++)
			XPutPixel(img, x, y, pattern(x, y));
	GC gc = XCreateGC(d, w, 0, NULL);
	XMapRaised(d, w);
	XWarpPointer(d, None, RootWindow(d, scr), 0, 0, 0, 0, DisplayWidth(d, scr) - 1,
	             DisplayHeight(d, scr) - 1);
	bool ready = false;
	for (;;) {
		XEvent ev;
		XNextEvent(d, &ev);
		if (ev.type != Expose || ev.xexpose.count != 0)
			continue;
		XPutImage(d, w, gc, img, 0, 0, 0, 0, PW, PH);
		XSync(d, False);
		if (!ready) {
			FILE *f = fopen(argv[1], "w");
			if (!f) {
				perror(argv[1]);
				return 1;
			}
			fprintf(f, "%s\n", DisplayString(d));
			fclose(f);
			ready = true;
		}
	}
}
