/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xdnd: the desktop takes files dropped on it by XDND (version 5). The root window is
 * XdndAware; the desktop's apps (argobox-files, apps/lib's ab_app_drop_on_desktop) send their
 * XdndEnter, XdndPosition and XdndDrop to the root with the redirect mask the wm selects there.
 * A drop asks the source for its text/uri-list (XdndSelection, answered on wm.check); each
 * local file:// entry that exists is copied into ~/Desktop by `cp -a -n` in a child of its own
 * (the loop never waits for it; SIGCHLD is SA_NOCLDWAIT), a notification says so, and the
 * source gets XdndFinished.
 */
#include "ab_log.h"
#include "ab_util.h"
#include "wm.h"

#include <X11/Xatom.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	X_AWARE,
	X_ENTER,
	X_POSITION,
	X_STATUS,
	X_LEAVE,
	X_DROP,
	X_FINISHED,
	X_SELECTION,
	X_COPY,
	X_URI_LIST,
	X_PROP,
	X_MAX
};
static const char *const names[X_MAX] = {"XdndAware",     "XdndEnter",        "XdndPosition",
                                         "XdndStatus",    "XdndLeave",        "XdndDrop",
                                         "XdndFinished",  "XdndSelection",    "XdndActionCopy",
                                         "text/uri-list", "ARGOBOX_XDND_DROP"};
static Atom a[X_MAX];
static Window source; /* the drag's source window, None when no drag is over the desktop */

void
xdnd_init(void)
{
	XInternAtoms(wm.dpy, (char **)names, X_MAX, False, a);
	long version = 5;
	XChangeProperty(wm.dpy, wm.root, a[X_AWARE], XA_ATOM, 32, PropModeReplace,
	                (unsigned char *)&version, 1);
}

static void
xdnd_send(Window to, Atom type, long l1, long l2, long l3, long l4)
{
	XEvent ev = {.xclient = {.type = ClientMessage,
	                         .window = to,
	                         .message_type = type,
	                         .format = 32,
	                         .data.l = {(long)wm.root, l1, l2, l3, l4}}};
	XSendEvent(wm.dpy, to, False, NoEventMask, &ev);
}

bool
xdnd_client_message(XClientMessageEvent *e)
{
	if (e->window != wm.root || e->format != 32)
		return false;
	Atom t = e->message_type;
	if (t == a[X_ENTER]) {
		source = (Window)e->data.l[0];
	} else if (t == a[X_POSITION] && source == (Window)e->data.l[0]) {
		/* anywhere on the desktop takes a copy */
		xdnd_send(source, a[X_STATUS], 1, 0, 0, (long)a[X_COPY]);
	} else if (t == a[X_LEAVE]) {
		source = None;
	} else if (t == a[X_DROP] && source == (Window)e->data.l[0]) {
		XConvertSelection(wm.dpy, a[X_SELECTION], a[X_URI_LIST], a[X_PROP], wm.check,
		                  (Time)e->data.l[2]);
	} else {
		return t == a[X_STATUS] || t == a[X_FINISHED] || t == a[X_POSITION] ||
		       t == a[X_DROP];
	}
	return true;
}

/* "file:///a%20b" or "file://localhost/a%20b" into path (PATH_MAX); false for anything else. */
static bool
xdnd_file_path(const char *uri, char *path)
{
	const char *p;
	if (strncmp(uri, "file:///", 8) == 0)
		p = uri + 7;
	else if (strncmp(uri, "file://localhost/", 17) == 0)
		p = uri + 16;
	else
		return false;
	size_t o = 0;
	for (; *p && o + 1 < PATH_MAX; p++) {
		unsigned v;
		if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1 && v) {
			path[o++] = (char)v;
			p += 2;
		} else {
			path[o++] = *p;
		}
	}
	path[o] = '\0';
	return !*p && o > 1;
}

/* Copies path into dir (~/Desktop) in a child: cp -a -n, so nothing there is replaced. */
static void
xdnd_copy(const char *path, const char *dir)
{
	pid_t pid = fork();
	if (pid < 0) {
		ab_warn("xdnd: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		launcher_child_reset();
		execlp("cp", "cp", "-a", "-n", "--", path, dir, (char *)NULL);
		_exit(127);
	}
	const char *base = strrchr(path, '/');
	char body[PATH_MAX + 64];
	snprintf(body, sizeof(body), "'%s' copied to the Desktop", base ? base + 1 : path);
	ab_info("xdnd: copying '%s' into '%s' (pid %d)", path, dir, (int)pid);
	nc_notify("Desktop", body, "normal", 4000, NULL);
}

void
xdnd_selection_notify(XSelectionEvent *e)
{
	if (e->requestor != wm.check || e->selection != a[X_SELECTION])
		return;
	Window src = source;
	source = None;
	if (e->property == None) {
		ab_warn("xdnd: the drop's source gave no text/uri-list");
		if (src)
			xdnd_send(src, a[X_FINISHED], 0, 0, 0, 0);
		return;
	}
	Atom type;
	int fmt;
	unsigned long n = 0, after;
	unsigned char *v = NULL;
	if (XGetWindowProperty(wm.dpy, wm.check, e->property, 0, 256 << 10, True, AnyPropertyType,
	                       &type, &fmt, &n, &after, &v) != Success ||
	    fmt != 8 || !v) {
		if (v)
			XFree(v);
		return;
	}
	const char *home = getenv("HOME");
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/Desktop", home && home[0] == '/' ? home : "/tmp");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		ab_warn("xdnd: '%s': %s", dir, strerror(errno));
	int copied = 0;
	char *save = NULL;
	for (char *l = strtok_r((char *)v, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
		char path[PATH_MAX];
		struct stat st;
		if (l[0] == '#')
			continue;
		if (!xdnd_file_path(l, path) || lstat(path, &st) < 0) {
			ab_warn("xdnd: '%.200s' is not a local file: not copied", l);
			continue;
		}
		xdnd_copy(path, dir);
		copied++;
	}
	XFree(v);
	if (src)
		xdnd_send(src, a[X_FINISHED], copied > 0, copied > 0 ? (long)a[X_COPY] : 0, 0, 0);
}
