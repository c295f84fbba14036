// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ab-xdrag: the benchmark's window drag. Finds the top-level window named
 * NAME on $DISPLAY and moves it along a triangle wave (x from 0 to MAX_X and
 * back at a fixed y) for SECONDS, RATE moves a second, each one flushed to
 * the X server and followed by a round trip, as a pointer drag of a window
 * manager would produce them.
 *
 *   ab-xdrag NAME SECONDS [RATE [MAX_X [Y]]]     (defaults: 50 moves/s, 760, 300)
 *
 * (xdotool's chained `windowmove ... sleep` queues every move until it exits,
 * which turned the drag into one jump: bench/README.md.)
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static Window
find_named(Display *dpy, Window w, const char *name, int depth)
{
	char *wn = NULL;
	if (XFetchName(dpy, w, &wn) && wn) {
		int same = strcmp(wn, name) == 0;
		XFree(wn);
		if (same)
			return w;
	}
	if (depth > 3)
		return None;
	Window root, parent, *kids = NULL;
	unsigned n = 0;
	if (!XQueryTree(dpy, w, &root, &parent, &kids, &n))
		return None;
	Window found = None;
	for (unsigned i = 0; i < n && found == None; i++)
		found = find_named(dpy, kids[i], name, depth + 1);
	if (kids)
		XFree(kids);
	return found;
}

/* The window to move: the top-level (a root child) holding the named one. */
static Window
top_level(Display *dpy, Window w)
{
	for (;;) {
		Window root, parent, *kids = NULL;
		unsigned n = 0;
		if (!XQueryTree(dpy, w, &root, &parent, &kids, &n))
			return w;
		if (kids)
			XFree(kids);
		if (parent == root || parent == None)
			return w;
		w = parent;
	}
}

static long
arg(const char *s, const char *what, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "ab-xdrag: %s '%s' is not a number in [%ld, %ld]\n", what, s, lo,
		        hi);
		exit(2);
	}
	return v;
}

static void
sleep_until(const struct timespec *t)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

int
main(int argc, char **argv)
{
	if (argc < 3 || argc > 6) {
		fprintf(stderr, "usage: ab-xdrag NAME SECONDS [RATE [MAX_X [Y]]]\n");
		return 2;
	}
	const char *name = argv[1];
	long secs = arg(argv[2], "SECONDS", 1, 3600);
	long rate = argc > 3 ? arg(argv[3], "RATE", 1, 1000) : 50;
	long max_x = argc > 4 ? arg(argv[4], "MAX_X", 1, 16384) : 760;
	long y = argc > 5 ? arg(argv[5], "Y", 0, 16384) : 300;

	Display *dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "ab-xdrag: cannot open display '%s'\n",
		        getenv("DISPLAY") ? getenv("DISPLAY") : "");
		return 1;
	}
	Window w = None;
	for (int tries = 0; tries < 400 && w == None; tries++) { /* up to 20 s */
		w = find_named(dpy, DefaultRootWindow(dpy), name, 0);
		if (w == None) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	if (w == None) {
		fprintf(stderr, "ab-xdrag: no window named '%s'\n", name);
		return 1;
	}
	w = top_level(dpy, w);

	long steps = secs * rate, half = steps / 2;
	long period_ns = 1000000000L / rate;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (long i = 0; i <= steps; i++) {
		long x = i <= half ? i * max_x / half : (steps - i) * max_x / half;
		XMoveWindow(dpy, w, (int)x, (int)y);
		XSync(dpy, False);
		t.tv_nsec += period_ns;
		while (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		sleep_until(&t);
	}
	XCloseDisplay(dpy);
	return 0;
}
