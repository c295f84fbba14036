/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apps-ctlreq: a desktop app's request to the broker, from the command line (tests).
 *
 *   apps-ctlreq [--count N] [--timeout-ms MS] JSON...
 *
 * Creates a window, appends each JSON object (with "window" set to that window) to the root's
 * _ARGOBOX_CTL_REQUEST exactly as ab_app_request() does, then prints every line argobox-wm
 * appends to the window's _ARGOBOX_CTL_ANSWER, until N answers (default: one per request)
 * have come or the timeout (default 10 s) passes. Exit status 0 when all came, 1 otherwise.
 */
#include "ab_util.h"

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
print_answers(Display *dpy, Window w, Atom prop)
{
	Atom type;
	int fmt, n_lines = 0;
	unsigned long n = 0, after = 0;
	unsigned char *data = NULL;
	if (XGetWindowProperty(dpy, w, prop, 0, 1 << 20, True, AnyPropertyType, &type, &fmt, &n,
	                       &after, &data) != Success ||
	    !data)
		return 0;
	for (unsigned long i = 0; i < n; i++)
		n_lines += data[i] == '\n';
	fwrite(data, 1, n, stdout);
	fflush(stdout);
	XFree(data);
	return n_lines;
}

int
main(int argc, char **argv)
{
	int want = -1, timeout_ms = 10000, i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--count") == 0)
			want = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			timeout_ms = atoi(argv[i + 1]);
	}
	if (i >= argc) {
		fprintf(stderr, "usage: apps-ctlreq [--count N] [--timeout-ms MS] JSON...\n");
		return 2;
	}
	if (want < 0)
		want = argc - i;
	Display *dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "apps-ctlreq: cannot open the display\n");
		return 1;
	}
	Window root = DefaultRootWindow(dpy);
	Window w = XCreateSimpleWindow(dpy, root, 0, 0, 10, 10, 0, 0, 0);
	XSelectInput(dpy, w, PropertyChangeMask);
	Atom req = XInternAtom(dpy, "_ARGOBOX_CTL_REQUEST", False);
	Atom ans = XInternAtom(dpy, "_ARGOBOX_CTL_ANSWER", False);
	Atom utf8 = XInternAtom(dpy, "UTF8_STRING", False);
	for (; i < argc; i++) {
		json_t *m = json_loads(argv[i], 0, NULL);
		if (!json_is_object(m)) {
			fprintf(stderr, "apps-ctlreq: '%s' is not a JSON object\n", argv[i]);
			return 2;
		}
		if (!json_object_get(m, "window"))
			json_object_set_new(m, "window", json_integer((json_int_t)w));
		char *text = json_dumps(m, JSON_COMPACT);
		char *line = ab_xasprintf("%s\n", text);
		XChangeProperty(dpy, root, req, utf8, 8, PropModeAppend, (unsigned char *)line,
		                (int)strlen(line));
		free(line);
		free(text);
		json_decref(m);
	}
	XFlush(dpy);
	int got = 0;
	int64_t end = ab_now_ms() + timeout_ms;
	while (got < want && ab_now_ms() < end) {
		while (XPending(dpy)) {
			XEvent ev;
			XNextEvent(dpy, &ev);
			if (ev.type == PropertyNotify && ev.xproperty.atom == ans &&
			    ev.xproperty.state == PropertyNewValue)
				got += print_answers(dpy, w, ans);
		}
		struct pollfd p = {.fd = ConnectionNumber(dpy), .events = POLLIN};
		poll(&p, 1, 100);
	}
	XCloseDisplay(dpy);
	return got >= want ? 0 : 1;
}
