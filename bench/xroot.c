// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ab-xroot: the benchmark's wallpaper. Reads a binary PPM (P6, maxval 255)
 * and makes it the root window's background on $DISPLAY, drawn at +0+0 (the
 * caller scales it to the screen first: bench/stack.sh does with ImageMagick),
 * then exits; the pixmap stays (RetainPermanent, as xsetroot's bitmaps do)
 * and is announced in _XROOTPMAP_ID like other root setters do.
 *
 *   ab-xroot FILE.ppm
 *
 * (ImageMagick's `display -window root` exits 1 without a word on a 24-bit
 * Xvfb here, and no Debian root setter is in the bench's dependencies.)
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one header token of a PPM: digits, after whitespace and # comments */
static int
ppm_int(FILE *f, int *ret)
{
	int c;
	for (;;) {
		c = fgetc(f);
		if (c == '#') {
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			break;
		}
	}
	if (c < '0' || c > '9')
		return -1;
	long v = 0;
	while (c >= '0' && c <= '9') {
		v = v * 10 + (c - '0');
		if (v > 1 << 16)
			return -1;
		c = fgetc(f);
	}
	*ret = (int)v; /* c: the one whitespace byte after the token */
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: ab-xroot FILE.ppm\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		fprintf(stderr, "ab-xroot: '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	int w, h, maxval;
	if (fgetc(f) != 'P' || fgetc(f) != '6' || ppm_int(f, &w) < 0 || ppm_int(f, &h) < 0 ||
	    ppm_int(f, &maxval) < 0 || maxval != 255 || w < 1 || h < 1) {
		fprintf(stderr, "ab-xroot: '%s' is not a binary PPM with maxval 255\n", argv[1]);
		return 1;
	}
	size_t n = (size_t)w * (size_t)h;
	unsigned char *rgb = malloc(n * 3);
	uint32_t *px = malloc(n * 4);
	if (!rgb || !px || fread(rgb, 3, n, f) != n) {
		fprintf(stderr, "ab-xroot: '%s': short or unreadable pixels\n", argv[1]);
		return 1;
	}
	fclose(f);
	for (size_t i = 0; i < n; i++)
		px[i] = (uint32_t)rgb[3 * i] << 16 | (uint32_t)rgb[3 * i + 1] << 8 | rgb[3 * i + 2];
	free(rgb);

	Display *dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "ab-xroot: cannot open the display\n");
		return 1;
	}
	int scr = DefaultScreen(dpy);
	Window root = RootWindow(dpy, scr);
	Visual *vis = DefaultVisual(dpy, scr);
	if (DefaultDepth(dpy, scr) != 24 || vis->red_mask != 0xff0000 || vis->blue_mask != 0xff) {
		fprintf(stderr, "ab-xroot: the screen is not 24-bit 0xRRGGBB\n");
		return 1;
	}
	XImage *img =
	    XCreateImage(dpy, vis, 24, ZPixmap, 0, (char *)px, (unsigned)w, (unsigned)h, 32, w * 4);
	XSetCloseDownMode(dpy, RetainPermanent);
	Pixmap pm = XCreatePixmap(dpy, root, (unsigned)w, (unsigned)h, 24);
	GC gc = XCreateGC(dpy, pm, 0, NULL);
	XPutImage(dpy, pm, gc, img, 0, 0, 0, 0, (unsigned)w, (unsigned)h);
	XSetWindowBackgroundPixmap(dpy, root, pm);
	XClearWindow(dpy, root);
	Atom id = XInternAtom(dpy, "_XROOTPMAP_ID", False);
	XChangeProperty(dpy, root, id, XA_PIXMAP, 32, PropModeReplace, (unsigned char *)&pm, 1);
	XFreeGC(dpy, gc);
	XDestroyImage(img); /* frees px */
	XSync(dpy, False);
	XCloseDisplay(dpy);
	return 0;
}
