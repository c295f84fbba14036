/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wm-testclient: a small Xlib client for the window manager's tests. It sets
 * the hints and properties a test asks for, can misbehave on purpose, prints
 * its window id and exits when the window manager closes it.
 *
 *   --class C --instance I --title T --geometry WxH+X+Y
 *   --min WxH --max WxH --inc WxH --base WxH
 *   --type normal|dialog|dock|splash|notification|menu --transient-for 0xID
 *   --bad-title      _NET_WM_NAME with invalid UTF-8
 *   --absurd-hints   min 1000000x1000000, max 0x0... increments 0
 *   --never-map      create the window but never map it
 *   --die-after-map  queue requests and _exit without closing the connection
 *   --map-destroy    map and destroy at once
 *   --icon           a 16x16 and a 32x32 _NET_WM_ICON
 *   --no-delete      no WM_DELETE_WINDOW (the wm must kill the client)
 *   --fullscreen     ask for _NET_WM_STATE_FULLSCREEN before mapping
 *   --send-state ATOM            after mapping: _NET_WM_STATE toggle request for ATOM
 *   --send-moveresize X,Y,W,H    after mapping: _NET_MOVERESIZE_WINDOW request
 *   --send-close                 after mapping: _NET_CLOSE_WINDOW request
 *   --ctext-title T  WM_NAME as COMPOUND_TEXT only (no _NET_WM_NAME), as old toolkits do
 *   --probe-keyboard             print whether the keyboard can be grabbed ("free"/"grabbed"), exit
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
wh(const char *s, int *w, int *h)
{
	if (sscanf(s, "%dx%d", w, h) != 2) {
		fprintf(stderr, "bad size '%s'\n", s);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	const char *cls = "WmTest", *inst = "wmtest", *title = "wm test", *type = NULL;
	int x = 0, y = 0, w = 300, h = 200;
	int minw = 0, minh = 0, maxw = 0, maxh = 0, incw = 0, inch = 0, basew = -1, baseh = -1;
	bool bad_title = false, absurd = false, never_map = false, die = false, map_destroy = false,
	     icon = false, no_delete = false, pos = false;
	unsigned long transient = 0;
	bool fullscreen = false, send_close = false;
	const char *send_state = NULL, *send_mr = NULL, *ctext = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && ++i)
		if (ARG("--class"))
			cls = v;
		else if (ARG("--instance"))
			inst = v;
		else if (ARG("--title"))
			title = v;
		else if (ARG("--geometry")) {
			if (sscanf(v, "%dx%d+%d+%d", &w, &h, &x, &y) == 4)
				pos = true;
			else
				wh(v, &w, &h);
		} else if (ARG("--min"))
			wh(v, &minw, &minh);
		else if (ARG("--max"))
			wh(v, &maxw, &maxh);
		else if (ARG("--inc"))
			wh(v, &incw, &inch);
		else if (ARG("--base"))
			wh(v, &basew, &baseh);
		else if (ARG("--type"))
			type = v;
		else if (ARG("--transient-for"))
			transient = strtoul(v, NULL, 0);
		else if (strcmp(a, "--bad-title") == 0)
			bad_title = true;
		else if (strcmp(a, "--absurd-hints") == 0)
			absurd = true;
		else if (strcmp(a, "--never-map") == 0)
			never_map = true;
		else if (strcmp(a, "--die-after-map") == 0)
			die = true;
		else if (strcmp(a, "--map-destroy") == 0)
			map_destroy = true;
		else if (strcmp(a, "--icon") == 0)
			icon = true;
		else if (strcmp(a, "--no-delete") == 0)
			no_delete = true;
		else if (strcmp(a, "--fullscreen") == 0)
			fullscreen = true;
		else if (strcmp(a, "--probe-keyboard") == 0)
			; /* handled once the display is open */
		else if (strcmp(a, "--send-close") == 0)
			send_close = true;
		else if (ARG("--send-state"))
			send_state = v;
		else if (ARG("--ctext-title"))
			ctext = v;
		else if (ARG("--send-moveresize"))
			send_mr = v;
		else {
			fprintf(stderr, "unknown option '%s'\n", a);
			return 2;
		}
	}
	setlocale(LC_CTYPE, "C.UTF-8");
	Display *d = XOpenDisplay(NULL);
	if (!d) {
		fprintf(stderr, "no display\n");
		return 1;
	}
	int s = DefaultScreen(d);
	if (argc == 2 && strcmp(argv[1], "--probe-keyboard") == 0) {
		int g = XGrabKeyboard(d, RootWindow(d, s), False, GrabModeAsync, GrabModeAsync,
		                      CurrentTime);
		puts(g == GrabSuccess ? "free" : "grabbed");
		XCloseDisplay(d);
		return 0;
	}
	Window win = XCreateSimpleWindow(d, RootWindow(d, s), x, y, (unsigned)w, (unsigned)h, 0,
	                                 BlackPixel(d, s), 0x5a6b7c);
	XSelectInput(d, win, StructureNotifyMask);
	XClassHint ch = {(char *)inst, (char *)cls};
	XSetClassHint(d, win, &ch);
	Atom utf8 = XInternAtom(d, "UTF8_STRING", False);
	Atom net_name = XInternAtom(d, "_NET_WM_NAME", False);
	if (bad_title) {
		static const char bad[] = "bad \xff\xfe title \xc3";
		XChangeProperty(d, win, net_name, utf8, 8, PropModeReplace,
		                (const unsigned char *)bad, sizeof(bad) - 1);
	} else {
		XChangeProperty(d, win, net_name, utf8, 8, PropModeReplace,
		                (const unsigned char *)title, (int)strlen(title));
	}
	if (ctext) {
		XTextProperty tp;
		char *list[] = {(char *)ctext};
		XDeleteProperty(d, win, net_name);
		if (Xutf8TextListToTextProperty(d, list, 1, XCompoundTextStyle, &tp) >= Success) {
			XSetWMName(d, win, &tp);
			XFree(tp.value);
		}
	} else {
		XStoreName(d, win, title);
	}
	XSizeHints *sh = XAllocSizeHints();
	sh->flags = pos ? USPosition : 0;
	sh->x = x;
	sh->y = y;
	if (absurd) {
		sh->flags |= PMinSize | PMaxSize | PResizeInc | PBaseSize;
		sh->min_width = sh->min_height = 1000000;
		sh->max_width = sh->max_height = 5;
		sh->width_inc = sh->height_inc = 0;
		sh->base_width = sh->base_height = -40;
	}
	if (minw) {
		sh->flags |= PMinSize;
		sh->min_width = minw;
		sh->min_height = minh;
	}
	if (maxw) {
		sh->flags |= PMaxSize;
		sh->max_width = maxw;
		sh->max_height = maxh;
	}
	if (incw) {
		sh->flags |= PResizeInc;
		sh->width_inc = incw;
		sh->height_inc = inch;
	}
	if (basew >= 0) {
		sh->flags |= PBaseSize;
		sh->base_width = basew;
		sh->base_height = baseh;
	}
	XSetWMNormalHints(d, win, sh);
	XFree(sh);
	Atom wm_delete = XInternAtom(d, "WM_DELETE_WINDOW", False);
	Atom wm_protocols = XInternAtom(d, "WM_PROTOCOLS", False);
	if (!no_delete)
		XSetWMProtocols(d, win, &wm_delete, 1);
	if (type) {
		char name[64];
		snprintf(name, sizeof(name), "_NET_WM_WINDOW_TYPE_%s", type);
		for (char *p = name + 20; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		Atom t = XInternAtom(d, name, False);
		XChangeProperty(d, win, XInternAtom(d, "_NET_WM_WINDOW_TYPE", False), XA_ATOM, 32,
		                PropModeReplace, (unsigned char *)&t, 1);
	}
	if (transient)
		XSetTransientForHint(d, win, (Window)transient);
	if (icon) {
		long data[2 + 16 * 16 + 2 + 32 * 32];
		size_t n = 0;
		for (int size = 16; size <= 32; size *= 2) {
			data[n++] = size;
			data[n++] = size;
			for (int i = 0; i < size * size; i++)
				data[n++] = (long)0xff3d8bfd;
		}
		XChangeProperty(d, win, XInternAtom(d, "_NET_WM_ICON", False), XA_CARDINAL, 32,
		                PropModeReplace, (unsigned char *)data, (int)n);
	}
	Atom net_state = XInternAtom(d, "_NET_WM_STATE", False);
	if (fullscreen) {
		Atom fs = XInternAtom(d, "_NET_WM_STATE_FULLSCREEN", False);
		XChangeProperty(d, win, net_state, XA_ATOM, 32, PropModeReplace,
		                (unsigned char *)&fs, 1);
	}
	long pid = (long)getpid();
	XChangeProperty(d, win, XInternAtom(d, "_NET_WM_PID", False), XA_CARDINAL, 32,
	                PropModeReplace, (unsigned char *)&pid, 1);
	printf("0x%lx\n", win);
	fflush(stdout);
	if (never_map) {
		XSync(d, False);
		for (;;)
			pause();
	}
	XMapWindow(d, win);
	if (map_destroy) {
		XDestroyWindow(d, win);
		XCloseDisplay(d);
		return 0;
	}
	XFlush(d);
	for (;;) {
		XEvent ev;
		XNextEvent(d, &ev);
		if (ev.type == MapNotify && (send_state || send_mr || send_close)) {
			XEvent m = {
			    .xclient = {.type = ClientMessage, .window = win, .format = 32}};
			if (send_state) {
				m.xclient.message_type = net_state;
				m.xclient.data.l[0] = 2; /* toggle */
				m.xclient.data.l[1] = (long)XInternAtom(d, send_state, False);
				m.xclient.data.l[3] = 1;
			} else if (send_mr) {
				int mx, my, mw, mh;
				if (sscanf(send_mr, "%d,%d,%d,%d", &mx, &my, &mw, &mh) != 4)
					return 2;
				m.xclient.message_type =
				    XInternAtom(d, "_NET_MOVERESIZE_WINDOW", False);
				m.xclient.data.l[0] = (0xf << 8) | 10; /* x y w h, static gravity */
				m.xclient.data.l[1] = mx;
				m.xclient.data.l[2] = my;
				m.xclient.data.l[3] = mw;
				m.xclient.data.l[4] = mh;
			} else {
				m.xclient.message_type = XInternAtom(d, "_NET_CLOSE_WINDOW", False);
				m.xclient.data.l[1] = 1;
			}
			XSendEvent(d, RootWindow(d, s), False,
			           SubstructureRedirectMask | SubstructureNotifyMask, &m);
			XFlush(d);
			send_state = send_mr = NULL;
			send_close = false;
		}
		if (ev.type == MapNotify && die) {
			/* a burst of requests, then vanish without closing */
			for (int i = 0; i < 200; i++)
				XChangeProperty(d, win, net_name, utf8, 8, PropModeReplace,
				                (const unsigned char *)"dying", 5);
			XFlush(d);
			_exit(0);
		}
		if (ev.type == ClientMessage && ev.xclient.message_type == wm_protocols &&
		    (Atom)ev.xclient.data.l[0] == wm_delete) {
			XCloseDisplay(d);
			return 0;
		}
	}
}
