/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xprobe: a tiny X client used as the desktop command in argobox-session's
 * integration tests. It draws known colours in a window at (0,0):
 *   red   (ff0000) in x 0..99,   y 0..99
 *   green (00ff00) in x 100..199, y 0..99
 *   blue  (0000ff) in x 0..199,   y 100..199
 * and prints one line per event on stdout:
 *   READY                      window drawn
 *   KEY <keysym-name> <text>   key press (text "-" when none)
 *   BUTTON <n> <x> <y>         button press
 *   CLIP <text>                another client took CLIPBOARD; its UTF-8 text
 *   WM <json>                  a frame received on ARGOBOX_WM_SOCKET
 * With XPROBE_OWN=text it owns CLIPBOARD with that text. It sends one desktop
 * state frame {"v":1,"type":"state","state":{"probe":"hello"}} on
 * ARGOBOX_WM_SOCKET when that is set.
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xfixes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static unsigned long
colour(Display *d, unsigned r, unsigned g, unsigned b)
{
	XColor c = {.red = (unsigned short)(r * 257),
	            .green = (unsigned short)(g * 257),
	            .blue = (unsigned short)(b * 257),
	            .flags = DoRed | DoGreen | DoBlue};
	XAllocColor(d, DefaultColormap(d, DefaultScreen(d)), &c);
	return c.pixel;
}

static int
wm_connect(void)
{
	const char *p = getenv("ARGOBOX_WM_SOCKET");
	if (!p)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", p);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	const char *msg = "{\"v\":1,\"type\":\"state\",\"state\":{\"probe\":\"hello\"}}";
	unsigned n = (unsigned)strlen(msg);
	unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                        (unsigned char)(n >> 8), (unsigned char)n};
	if (write(fd, hdr, 4) != 4 || write(fd, msg, n) != (ssize_t)n)
		return -1;
	return fd;
}

static void
draw(Display *d, Window w, GC gc, unsigned long red, unsigned long green, unsigned long blue)
{
	XSetForeground(d, gc, red);
	XFillRectangle(d, w, gc, 0, 0, 100, 100);
	XSetForeground(d, gc, green);
	XFillRectangle(d, w, gc, 100, 0, 100, 100);
	XSetForeground(d, gc, blue);
	XFillRectangle(d, w, gc, 0, 100, 200, 100);
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	Display *d = XOpenDisplay(NULL);
	if (!d) {
		fprintf(stderr, "xprobe: cannot open display\n");
		return 1;
	}
	Window root = DefaultRootWindow(d);
	XSetWindowAttributes at = {.override_redirect = True};
	Window w = XCreateWindow(d, root, 0, 0, 200, 200, 0, CopyFromParent, InputOutput,
	                         CopyFromParent, CWOverrideRedirect, &at);
	XSelectInput(d, w, ExposureMask | KeyPressMask | ButtonPressMask);
	GC gc = XCreateGC(d, w, 0, NULL);
	unsigned long red = colour(d, 255, 0, 0), green = colour(d, 0, 255, 0),
	              blue = colour(d, 0, 0, 255);
	Atom clip = XInternAtom(d, "CLIPBOARD", False);
	Atom utf8 = XInternAtom(d, "UTF8_STRING", False);
	Atom targets = XInternAtom(d, "TARGETS", False);
	Atom prop = XInternAtom(d, "XPROBE", False);
	const char *own = getenv("XPROBE_OWN");
	int xfixes_ev = 0, xfixes_err;
	XFixesQueryExtension(d, &xfixes_ev, &xfixes_err);
	XFixesSelectSelectionInput(d, root, clip, XFixesSetSelectionOwnerNotifyMask);
	XMapRaised(d, w);
	XSetInputFocus(d, w, RevertToParent, CurrentTime);
	if (own)
		XSetSelectionOwner(d, clip, w, CurrentTime);
	XFlush(d);
	int wm = wm_connect();
	int ready = 0;
	for (;;) {
		while (XPending(d)) {
			XEvent ev;
			XNextEvent(d, &ev);
			if (ev.type == MappingNotify) {
				XRefreshKeyboardMapping(&ev.xmapping);
			} else if (ev.type == Expose) {
				draw(d, w, gc, red, green, blue);
				XSync(d, False);
				if (!ready++)
					printf("READY\n");
			} else if (ev.type == KeyPress) {
				char text[32] = {0};
				KeySym ks;
				int n = XLookupString(&ev.xkey, text, sizeof(text) - 1, &ks, NULL);
				const char *name = XKeysymToString(ks);
				printf("KEY %s %s\n", name ? name : "?", n > 0 ? text : "-");
			} else if (ev.type == ButtonPress) {
				printf("BUTTON %u %d %d\n", ev.xbutton.button, ev.xbutton.x,
				       ev.xbutton.y);
			} else if (ev.type == SelectionRequest) {
				XSelectionRequestEvent *rq = &ev.xselectionrequest;
				XSelectionEvent se = {.type = SelectionNotify,
				                      .requestor = rq->requestor,
				                      .selection = rq->selection,
				                      .target = rq->target,
				                      .property = None,
				                      .time = rq->time};
				if (own && rq->target == utf8) {
					XChangeProperty(d, rq->requestor, rq->property, utf8, 8,
					                PropModeReplace, (const unsigned char *)own,
					                (int)strlen(own));
					se.property = rq->property;
				} else if (own && rq->target == targets) {
					Atom t[] = {targets, utf8};
					XChangeProperty(d, rq->requestor, rq->property, XA_ATOM, 32,
					                PropModeReplace, (unsigned char *)t, 2);
					se.property = rq->property;
				}
				XSendEvent(d, rq->requestor, False, 0, (XEvent *)&se);
				XFlush(d);
			} else if (ev.type == SelectionNotify) {
				if (ev.xselection.property == None)
					continue;
				Atom type;
				int fmt;
				unsigned long n, after;
				unsigned char *data = NULL;
				XGetWindowProperty(d, w, prop, 0, 1 << 20, True, AnyPropertyType,
				                   &type, &fmt, &n, &after, &data);
				printf("CLIP %.*s\n", (int)n, data ? (char *)data : "");
				if (data)
					XFree(data);
			} else if (ev.type == xfixes_ev + XFixesSelectionNotify) {
				XFixesSelectionNotifyEvent *se = (XFixesSelectionNotifyEvent *)&ev;
				if (se->owner != w && se->owner != None)
					XConvertSelection(d, clip, utf8, prop, w, CurrentTime);
			}
		}
		struct pollfd p[2] = {{.fd = ConnectionNumber(d), .events = POLLIN},
		                      {.fd = wm, .events = POLLIN}};
		if (poll(p, wm >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (wm >= 0 && (p[1].revents & (POLLIN | POLLHUP))) {
			unsigned char buf[65536];
			ssize_t n = read(wm, buf, sizeof(buf));
			if (n <= 0) {
				close(wm);
				wm = -1;
				continue;
			}
			/* frames: print every JSON object received (tests send small ones) */
			for (ssize_t off = 0; off + 4 <= n;) {
				unsigned len = (unsigned)buf[off] << 24 |
				               (unsigned)buf[off + 1] << 16 |
				               (unsigned)buf[off + 2] << 8 | buf[off + 3];
				if (off + 4 + (ssize_t)len > n)
					break;
				printf("WM %.*s\n", (int)len, (char *)buf + off + 4);
				off += 4 + len;
			}
		}
	}
}
