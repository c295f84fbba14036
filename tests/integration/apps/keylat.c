/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apps-keylat: key -> pixels latency of whatever has the input focus, for
 * bench/apps_bench.sh. Sends a key with XTest and waits for the first
 * DamageNotify on the root window (all drawing on the screen), N times, and
 * prints "median_us p95_us". Run it with nothing else drawing (no wm clock).
 * usage: apps-keylat N
 */
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/extensions/Xdamage.h>
#include <X11/keysym.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include "ab_util.h"
#include <unistd.h>

static int
cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* Waits up to ms for a damage event; returns 1 when one came. Drains everything. */
static int
wait_damage(Display *d, int base, int ms)
{
	long long end = ab_now_us() + ms * 1000LL;
	for (;;) {
		while (XPending(d)) {
			XEvent ev;
			XNextEvent(d, &ev);
			if (ev.type == base + XDamageNotify)
				return 1;
		}
		long long left = end - ab_now_us();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = ConnectionNumber(d), .events = POLLIN};
		poll(&p, 1, (int)(left / 1000) + 1);
	}
}

static void
key(Display *d, KeyCode kc)
{
	XTestFakeKeyEvent(d, kc, True, 0);
	XTestFakeKeyEvent(d, kc, False, 0);
	XFlush(d);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 50;
	if (n < 1 || n > 10000)
		n = 50;
	Display *d = XOpenDisplay(NULL);
	if (!d) {
		fprintf(stderr, "apps-keylat: no display\n");
		return 1;
	}
	int base, err;
	if (!XDamageQueryExtension(d, &base, &err)) {
		fprintf(stderr, "apps-keylat: no DAMAGE extension\n");
		return 1;
	}
	Damage dmg = XDamageCreate(d, DefaultRootWindow(d), XDamageReportNonEmpty);
	KeyCode a = XKeysymToKeycode(d, XK_a), bs = XKeysymToKeycode(d, XK_BackSpace);
	long long *v = calloc((size_t)n, sizeof(*v));
	int got = 0;
	for (int i = 0; i < n; i++) {
		/* settle: nothing pending */
		XDamageSubtract(d, dmg, None, None);
		while (wait_damage(d, base, 30))
			XDamageSubtract(d, dmg, None, None);
		long long t0 = ab_now_us();
		key(d, i % 2 ? bs : a);
		if (wait_damage(d, base, 1000))
			v[got++] = ab_now_us() - t0;
	}
	if (!got) {
		fprintf(stderr, "apps-keylat: nothing was drawn\n");
		return 1;
	}
	qsort(v, (size_t)got, sizeof(*v), cmp);
	printf("%lld %lld\n", v[got / 2], v[(got * 95) / 100 >= got ? got - 1 : (got * 95) / 100]);
	XCloseDisplay(d);
	free(v);
	return 0;
}
