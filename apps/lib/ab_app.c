/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_app: window, hints, theme, input method, selections and the loop (see ab_app.h). */
#include "ab_app.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <cairo-xlib.h>
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEL_MAX (16u << 20) /* the most a paste takes in (no INCR transfers) */

/* A window property as XGetWindowProperty() returns it. */
struct app_prop {
	Atom type;
	int fmt;
	unsigned long n, after; /* items read, bytes left unread */
	unsigned char *data;    /* owned (XFree); NULL when the property is not set */
};

static void
app_prop_free(struct app_prop *p)
{
	if (p->data)
		XFree(p->data);
	p->data = NULL;
}
#define _cleanup_prop_ _cleanup_(app_prop_free)

/*
 * Reads up to len 32-bit units of window w's property prop into *ret, deleting the property
 * afterwards when del (how selection transfers acknowledge). False when the request failed.
 */
static bool
app_get_prop(struct ab_app *app, Window w, Atom prop, long len, bool del, struct app_prop *ret)
{
	*ret = (struct app_prop){0};
	return XGetWindowProperty(app->dpy, w, prop, 0, len, del, AnyPropertyType, &ret->type,
	                          &ret->fmt, &ret->n, &ret->after, &ret->data) == Success;
}

char *
ab_app_root_text(struct ab_app *app, Atom prop, size_t *ret_len)
{
	_cleanup_prop_ struct app_prop p = {0};
	if (!app_get_prop(app, app->root, prop, 256, false, &p) || !p.data || p.fmt != 8)
		return NULL;
	char *s = ab_xmalloc(p.n + 1);
	memcpy(s, p.data, p.n);
	s[p.n] = '\0';
	*ret_len = p.n;
	return s;
}

void
ab_app_request(struct ab_app *app, json_t *msg)
{
	json_object_set_new(msg, "window", json_integer((json_int_t)app->win));
	_cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return;
	_cleanup_free_ char *line = ab_xasprintf("%s\n", text);
	XChangeProperty(app->dpy, app->root, app->a_ctl_req, app->a_utf8, 8, PropModeAppend,
	                (unsigned char *)line, (int)strlen(line));
	XFlush(app->dpy);
}

/* The wm appended answers to our _ARGOBOX_CTL_ANSWER: one JSON object a line. */
static void
app_read_answers(struct ab_app *app)
{
	_cleanup_prop_ struct app_prop p = {0};
	if (!app_get_prop(app, app->win, app->a_ctl_answer, 1 << 20, true, &p) || !p.data ||
	    p.fmt != 8)
		return;
	if (p.after)
		ab_warn("answers from the wm: more than 4 MiB at once; the rest is dropped");
	_cleanup_free_ char *text = ab_xstrndup((const char *)p.data, p.n);
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_error_t je;
		json_t *m = json_loads(l, 0, &je);
		if (!json_is_object(m))
			ab_warn("an answer from the wm is not a JSON object: %s", je.text);
		else if (app->ops->answer)
			app->ops->answer(app, m);
		json_decref(m);
	}
}

/* The first executable `name` on $PATH into path (size bytes); false when there is none. */
static bool
app_which(const char *name, char *path, size_t size)
{
	const char *p = getenv("PATH");
	_cleanup_free_ char *dirs = ab_xstrdup(p ? p : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, size, "%.1000s/%s", d, name);
		if (access(path, X_OK) == 0)
			return true;
	}
	return false;
}

int
ab_app_open_url(struct ab_app *app, const char *url)
{
	char path[1100];
	if (!app_which("xdg-open", path, sizeof(path))) {
		ab_app_own(app, AB_SEL_CLIPBOARD, url, strlen(url));
		ab_info("no xdg-open here: '%.200s' copied to the clipboard", url);
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		if (fork() == 0) {
			int devnull = open("/dev/null", O_RDWR);
			if (devnull >= 0) {
				dup2(devnull, 0);
				dup2(devnull, 1);
				dup2(devnull, 2);
			}
			execl(path, "xdg-open", url, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	ab_info("opening '%.200s' with xdg-open", url);
	return 0;
}

static void
app_read_theme(struct ab_app *app)
{
	struct ab_theme t;
	ab_theme_default(&t);
	size_t n;
	_cleanup_free_ char *s = ab_app_root_text(app, app->a_theme, &n);
	if (s) {
		struct ab_err err = {0};
		if (ab_theme_parse(s, &t, &err) < 0)
			ab_warn("%s; using the default theme", err.msg);
	}
	app->theme = t;
}

static void
app_set_icon(struct ab_app *app, ab_app_icon_fn icon)
{
	static const int sizes[] = {16, 32, 48};
	size_t total = 0;
	for (size_t i = 0; i < AB_ARRAY_SIZE(sizes); i++)
		total += 2 + (size_t)(sizes[i] * sizes[i]);
	/* format-32 properties are arrays of long on the client side */
	_cleanup_free_ unsigned long *buf = ab_xcalloc(total, sizeof(unsigned long));
	size_t o = 0;
	for (size_t i = 0; i < AB_ARRAY_SIZE(sizes); i++) {
		int s = sizes[i];
		cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, s, s);
		cairo_t *cr = cairo_create(surf);
		icon(cr, s);
		cairo_destroy(cr);
		cairo_surface_flush(surf);
		const unsigned char *px = cairo_image_surface_get_data(surf);
		int stride = cairo_image_surface_get_stride(surf);
		buf[o++] = (unsigned long)s;
		buf[o++] = (unsigned long)s;
		for (int y = 0; y < s; y++) {
			const uint32_t *row = (const uint32_t *)(const void *)(px + y * stride);
			for (int x = 0; x < s; x++)
				buf[o++] = row[x];
		}
		cairo_surface_destroy(surf);
	}
	XChangeProperty(app->dpy, app->win, app->a_net_wm_icon, XA_CARDINAL, 32, PropModeReplace,
	                (unsigned char *)buf, (int)total);
}

static void
app_open_im(struct ab_app *app)
{
	app->xim = XOpenIM(app->dpy, NULL, NULL, NULL);
	if (!app->xim) {
		/* no input method server: the built-in one (compose from the locale) */
		XSetLocaleModifiers("@im=none");
		app->xim = XOpenIM(app->dpy, NULL, NULL, NULL);
	}
	if (!app->xim) {
		ab_warn("no X input method; typing works without compose");
		return;
	}
	app->xic = XCreateIC(app->xim, XNInputStyle, XIMPreeditNothing | XIMStatusNothing,
	                     XNClientWindow, app->win, XNFocusWindow, app->win, NULL);
	if (!app->xic) {
		ab_warn("cannot create an X input context; typing works without compose");
		return;
	}
	long im_mask = 0;
	XGetICValues(app->xic, XNFilterEvents, &im_mask, NULL);
	XSelectInput(app->dpy, app->win, app->event_mask | im_mask);
	if (app->focused)
		XSetICFocus(app->xic);
}

int
ab_app_open(struct ab_app *app, const struct ab_app_config *cfg, struct ab_err *err)
{
	memset(app, 0, sizeof(*app));
	ab_log_init(cfg->name);
	/* UTF-8 text input needs a UTF-8 locale for the input method; containers often have
	 * none set */
	if (!setlocale(LC_CTYPE, "") || !XSupportsLocale())
		setlocale(LC_CTYPE, "C.UTF-8");
	XSetLocaleModifiers("");
	app->dpy = XOpenDisplay(NULL);
	if (!app->dpy) {
		const char *d = getenv("DISPLAY");
		return ab_err_set(err, ENXIO, "cannot open the X display '%s'", d ? d : "");
	}
	app->ops = cfg->ops;
	app->data = cfg->data;
	app->screen = DefaultScreen(app->dpy);
	app->root = RootWindow(app->dpy, app->screen);
	app->visual = DefaultVisual(app->dpy, app->screen);
	app->depth = DefaultDepth(app->dpy, app->screen);
	app->w = cfg->width > 0 ? cfg->width : 640;
	app->h = cfg->height > 0 ? cfg->height : 420;

	struct {
		Atom *a;
		const char *name;
	} atoms[] = {
	    {&app->a_protocols, "WM_PROTOCOLS"},
	    {&app->a_delete, "WM_DELETE_WINDOW"},
	    {&app->a_net_wm_name, "_NET_WM_NAME"},
	    {&app->a_net_wm_icon, "_NET_WM_ICON"},
	    {&app->a_net_wm_pid, "_NET_WM_PID"},
	    {&app->a_utf8, "UTF8_STRING"},
	    {&app->a_targets, "TARGETS"},
	    {&app->a_clipboard, "CLIPBOARD"},
	    {&app->a_theme, "_ARGOBOX_THEME"},
	    {&app->a_paste_prop, "_ARGOBOX_PASTE"},
	    {&app->a_incr, "INCR"},
	    {&app->a_text, "TEXT"},
	    {&app->a_ctl_req, "_ARGOBOX_CTL_REQUEST"},
	    {&app->a_ctl_answer, "_ARGOBOX_CTL_ANSWER"},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(atoms); i++)
		*atoms[i].a = XInternAtom(app->dpy, atoms[i].name, False);
	app->a_sel_atoms[AB_SEL_PRIMARY] = XA_PRIMARY;
	app->a_sel_atoms[AB_SEL_CLIPBOARD] = app->a_clipboard;

	app_read_theme(app);
	XSelectInput(app->dpy, app->root, PropertyChangeMask);

	XSetWindowAttributes wa = {
	    .background_pixmap = None,
	    .bit_gravity = NorthWestGravity,
	    .event_mask = ExposureMask | KeyPressMask | KeyReleaseMask | ButtonPressMask |
	                  ButtonReleaseMask | PointerMotionMask | StructureNotifyMask |
	                  FocusChangeMask | PropertyChangeMask,
	};
	app->win = XCreateWindow(app->dpy, app->root, 0, 0, (unsigned)app->w, (unsigned)app->h, 0,
	                         app->depth, InputOutput, app->visual,
	                         CWBackPixmap | CWBitGravity | CWEventMask, &wa);
	char klass[64];
	snprintf(klass, sizeof(klass), "ArgoBox%c%s", toupper((unsigned char)cfg->name[0]),
	         cfg->name[0] ? cfg->name + 1 : "");
	XClassHint ch = {.res_name = (char *)(cfg->instance ? cfg->instance : cfg->name),
	                 .res_class = klass};
	XSizeHints sh = {.flags = PMinSize, .min_width = 200, .min_height = 120};
	XWMHints wmh = {
	    .flags = InputHint | StateHint, .input = True, .initial_state = NormalState};
	XSetWMProperties(app->dpy, app->win, NULL, NULL, NULL, 0, &sh, &wmh, &ch);
	XSetWMProtocols(app->dpy, app->win, &app->a_delete, 1);
	long pid = (long)getpid();
	XChangeProperty(app->dpy, app->win, app->a_net_wm_pid, XA_CARDINAL, 32, PropModeReplace,
	                (unsigned char *)&pid, 1);
	ab_app_set_title(app, cfg->title ? cfg->title : cfg->name);
	if (cfg->icon)
		app_set_icon(app, cfg->icon);
	app->event_mask = wa.event_mask;
	if (cfg->lazy_im)
		app->im_pending = true;
	else
		app_open_im(app);
	app->loop = ab_loop_poll_new();
	XMapWindow(app->dpy, app->win);
	XFlush(app->dpy);
	app->dirty = true;
	return 0;
}

int
ab_app_main(struct ab_app *app, const struct ab_app_config *cfg, int argc, char **argv)
{
	if (argc - 1 > cfg->max_operands || (argc >= 2 && argv[1][0] == '-')) {
		bool asked = argc == 2 && strcmp(argv[1], "--help") == 0;
		fprintf(asked ? stdout : stderr, "usage: argobox-%s%s%s\n", cfg->name,
		        cfg->operands ? " " : "", cfg->operands ? cfg->operands : "");
		return asked ? 0 : 2;
	}
	struct ab_err err = {0};
	if (ab_app_open(app, cfg, &err) < 0) {
		ab_error("argobox-%s: %s", cfg->name, err.msg);
		return 1;
	}
	if (app->ops->start)
		app->ops->start(app);
	int r = ab_app_run(app);
	if (app->ops->stop)
		app->ops->stop(app);
	ab_app_close(app);
	return r < 0 ? 1 : 0;
}

void
ab_app_close(struct ab_app *app)
{
	if (!app->dpy)
		return;
	ab_loop_unwatch(app->loop, app->xwatch);
	app->xwatch = NULL;
	if (app->loop)
		ab_loop_poll_free(app->loop);
	app->loop = NULL;
	for (int i = 0; i < AB_SEL_MAX; i++) {
		free(app->sel_text[i]);
		app->sel_text[i] = NULL;
	}
	free(TAKE_PTR(app->drop_uris));
	free(TAKE_PTR(app->incr_buf));
	if (app->back_surf)
		cairo_surface_destroy(app->back_surf);
	if (app->back)
		XFreePixmap(app->dpy, app->back);
	if (app->xic)
		XDestroyIC(app->xic);
	if (app->xim)
		XCloseIM(app->xim);
	XDestroyWindow(app->dpy, app->win);
	XCloseDisplay(app->dpy);
	app->dpy = NULL;
}

void
ab_app_set_title(struct ab_app *app, const char *title)
{
	XStoreName(app->dpy, app->win, title);
	XChangeProperty(app->dpy, app->win, app->a_net_wm_name, app->a_utf8, 8, PropModeReplace,
	                (const unsigned char *)title, (int)strlen(title));
}

void
ab_app_redraw(struct ab_app *app)
{
	app->dirty = true;
}

void
ab_app_quit(struct ab_app *app)
{
	app->running = false;
}

static void
app_paint(struct ab_app *app)
{
	if (!app->back || app->back_w != app->w || app->back_h != app->h) {
		if (app->back_surf)
			cairo_surface_destroy(app->back_surf);
		if (app->back)
			XFreePixmap(app->dpy, app->back);
		app->back = XCreatePixmap(app->dpy, app->win, (unsigned)app->w, (unsigned)app->h,
		                          (unsigned)app->depth);
		app->back_surf =
		    cairo_xlib_surface_create(app->dpy, app->back, app->visual, app->w, app->h);
		app->back_w = app->w;
		app->back_h = app->h;
	}
	cairo_t *cr = cairo_create(app->back_surf);
	if (app->ops->draw)
		app->ops->draw(app, cr, app->w, app->h);
	cairo_destroy(cr);
	cairo_surface_flush(app->back_surf);
	GC gc = DefaultGC(app->dpy, app->screen);
	XCopyArea(app->dpy, app->back, app->win, gc, 0, 0, (unsigned)app->w, (unsigned)app->h, 0,
	          0);
	app->dirty = false;
}

void
ab_app_flush(struct ab_app *app)
{
	if (app->dirty) {
		app_paint(app);
		XFlush(app->dpy);
	}
}

void
ab_app_own(struct ab_app *app, enum ab_sel which, const char *text, size_t len)
{
	free(app->sel_text[which]);
	app->sel_text[which] = ab_xstrndup(text, len);
	app->sel_len[which] = len;
	XSetSelectionOwner(app->dpy, app->a_sel_atoms[which], app->win, app->last_time);
	if (XGetSelectionOwner(app->dpy, app->a_sel_atoms[which]) != app->win) {
		ab_warn("could not own the %s selection",
		        which == AB_SEL_PRIMARY ? "PRIMARY" : "CLIPBOARD");
		free(TAKE_PTR(app->sel_text[which]));
	}
}

void
ab_app_paste(struct ab_app *app, enum ab_sel which)
{
	if (app->sel_text[which] &&
	    XGetSelectionOwner(app->dpy, app->a_sel_atoms[which]) == app->win) {
		if (app->ops->paste)
			app->ops->paste(app, which, app->sel_text[which], app->sel_len[which]);
		return;
	}
	XConvertSelection(app->dpy, app->a_sel_atoms[which], app->a_utf8, app->a_paste_prop,
	                  app->win, app->last_time);
}

void
ab_app_set_spot(struct ab_app *app, int x, int y)
{
	if (!app->xic)
		return;
	XPoint spot = {(short)x, (short)y};
	XVaNestedList l = XVaCreateNestedList(0, XNSpotLocation, &spot, NULL);
	XSetICValues(app->xic, XNPreeditAttributes, l, NULL);
	XFree(l);
}

static void
app_selection_request(struct ab_app *app, XSelectionRequestEvent *r)
{
	XSelectionEvent ev = {.type = SelectionNotify,
	                      .display = r->display,
	                      .requestor = r->requestor,
	                      .selection = r->selection,
	                      .target = r->target,
	                      .property = None,
	                      .time = r->time};
	int which = r->selection == XA_PRIMARY         ? AB_SEL_PRIMARY
	            : r->selection == app->a_clipboard ? AB_SEL_CLIPBOARD
	                                               : -1;
	Atom prop = r->property != None ? r->property : r->target; /* obsolete clients */
	Atom xdnd = XInternAtom(app->dpy, "XdndSelection", False);
	Atom uri_list = XInternAtom(app->dpy, "text/uri-list", False);
	if (r->selection == xdnd && app->drop_uris) {
		if (r->target == app->a_targets) {
			Atom t[] = {app->a_targets, uri_list};
			XChangeProperty(app->dpy, r->requestor, prop, XA_ATOM, 32, PropModeReplace,
			                (unsigned char *)t, (int)AB_ARRAY_SIZE(t));
			ev.property = prop;
		} else if (r->target == uri_list) {
			XChangeProperty(app->dpy, r->requestor, prop, uri_list, 8, PropModeReplace,
			                (unsigned char *)app->drop_uris,
			                (int)strlen(app->drop_uris));
			ev.property = prop;
		}
	} else if (which >= 0 && app->sel_text[which]) {
		if (r->target == app->a_targets) {
			Atom t[] = {app->a_targets, app->a_utf8, XA_STRING, app->a_text};
			XChangeProperty(app->dpy, r->requestor, prop, XA_ATOM, 32, PropModeReplace,
			                (unsigned char *)t, (int)AB_ARRAY_SIZE(t));
			ev.property = prop;
		} else if (r->target == app->a_utf8 || r->target == XA_STRING ||
		           r->target == app->a_text) {
			XChangeProperty(app->dpy, r->requestor, prop,
			                r->target == XA_STRING ? XA_STRING : app->a_utf8, 8,
			                PropModeReplace, (unsigned char *)app->sel_text[which],
			                (int)app->sel_len[which]);
			ev.property = prop;
		}
	}
	XSendEvent(app->dpy, r->requestor, False, 0, (XEvent *)&ev);
}

/* An XDND message from the app's window to the root (argobox-wm selects its redirect mask). */
static void
app_xdnd_send(struct ab_app *app, const char *type, long l1, long l2, long l3, long l4)
{
	XEvent ev = {.xclient = {.type = ClientMessage,
	                         .window = app->root,
	                         .message_type = XInternAtom(app->dpy, type, False),
	                         .format = 32,
	                         .data.l = {(long)app->win, l1, l2, l3, l4}}};
	XSendEvent(app->dpy, app->root, False, SubstructureRedirectMask | SubstructureNotifyMask,
	           &ev);
}

int
ab_app_drop_on_desktop(struct ab_app *app, const char *uris, int x_root, int y_root)
{
	Atom aware = XInternAtom(app->dpy, "XdndAware", False), type;
	int fmt;
	unsigned long n = 0, after;
	unsigned char *v = NULL;
	if (XGetWindowProperty(app->dpy, app->root, aware, 0, 1, False, XA_ATOM, &type, &fmt, &n,
	                       &after, &v) != Success ||
	    n != 1) {
		if (v)
			XFree(v);
		return -ENOENT;
	}
	XFree(v);
	free(app->drop_uris);
	app->drop_uris = ab_xstrdup(uris);
	Atom xdnd = XInternAtom(app->dpy, "XdndSelection", False);
	XSetSelectionOwner(app->dpy, xdnd, app->win, app->last_time);
	/* version 5 in the top byte; a single type, given in l[2] */
	app_xdnd_send(app, "XdndEnter", 5L << 24,
	              (long)XInternAtom(app->dpy, "text/uri-list", False), 0, 0);
	app_xdnd_send(app, "XdndPosition", 0, ((long)x_root << 16) | (y_root & 0xffff),
	              (long)app->last_time, (long)XInternAtom(app->dpy, "XdndActionCopy", False));
	app_xdnd_send(app, "XdndDrop", 0, (long)app->last_time, 0, 0);
	XFlush(app->dpy);
	return 0;
}

static void
app_selection_notify(struct ab_app *app, XSelectionEvent *e)
{
	enum ab_sel which = e->selection == XA_PRIMARY ? AB_SEL_PRIMARY : AB_SEL_CLIPBOARD;
	if (e->property == None) {
		if (e->target == app->a_utf8) /* old owners: plain STRING */
			XConvertSelection(app->dpy, e->selection, XA_STRING, app->a_paste_prop,
			                  app->win, e->time);
		return;
	}
	_cleanup_prop_ struct app_prop p = {0};
	if (!app_get_prop(app, app->win, e->property, SEL_MAX / 4, true, &p))
		return;
	if (p.type == app->a_incr) {
		/* deleting the property (done above) asks the owner for the first chunk */
		free(TAKE_PTR(app->incr_buf));
		app->incr_len = 0;
		app->incr_active = true;
		app->incr_over = false;
		app->incr_which = which;
		ab_info("paste: receiving an incremental (INCR) transfer");
	} else if (p.data && p.fmt == 8) {
		if (p.after)
			ab_warn("paste: longer than %u bytes; truncated", SEL_MAX);
		if (app->ops->paste)
			app->ops->paste(app, which, (const char *)p.data, p.n);
	}
}

/* One INCR chunk (PropertyNotify NewValue on our paste property); an empty one ends it. */
static void
app_incr_chunk(struct ab_app *app)
{
	_cleanup_prop_ struct app_prop p = {0};
	if (!app_get_prop(app, app->win, app->a_paste_prop, SEL_MAX / 4, true, &p))
		return;
	if (p.n == 0) {
		app->incr_active = false;
		if (app->incr_over)
			ab_warn("paste: longer than %u bytes; dropped", SEL_MAX);
		else if (app->ops->paste)
			app->ops->paste(app, app->incr_which, app->incr_buf ? app->incr_buf : "",
			                app->incr_len);
		free(TAKE_PTR(app->incr_buf));
		app->incr_len = 0;
	} else if (p.fmt == 8 && !app->incr_over) {
		if (app->incr_len + p.n > SEL_MAX) {
			app->incr_over = true; /* keep deleting, so the owner finishes */
			free(TAKE_PTR(app->incr_buf));
			app->incr_len = 0;
		} else {
			app->incr_buf = ab_xrealloc(app->incr_buf, app->incr_len + p.n + 1);
			memcpy(app->incr_buf + app->incr_len, p.data, p.n);
			app->incr_len += p.n;
		}
	}
}

static void
app_key(struct ab_app *app, XKeyEvent *e)
{
	char buf[64];
	_cleanup_free_ char *big = NULL;
	char *text = buf;
	KeySym sym = NoSymbol;
	int len;
	if (app->xic) {
		Status st;
		len = Xutf8LookupString(app->xic, e, buf, sizeof(buf) - 1, &sym, &st);
		if (st == XBufferOverflow) {
			big = ab_xmalloc((size_t)len + 1);
			len = Xutf8LookupString(app->xic, e, big, len, &sym, &st);
			text = big;
		}
		if (st == XLookupNone)
			len = 0;
		if (st == XLookupChars)
			sym = NoSymbol;
	} else {
		len = XLookupString(e, buf, sizeof(buf) - 1, &sym, NULL);
	}
	if (len < 0)
		len = 0;
	text[len] = '\0';
	if (app->ops->key)
		app->ops->key(app, sym, e->state, text, (size_t)len);
}

static void
app_event(struct ab_app *app, XEvent *ev)
{
	switch (ev->type) {
	case KeyPress:
		app->last_time = ev->xkey.time;
		app_key(app, &ev->xkey);
		break;
	case ButtonPress:
	case ButtonRelease:
		app->last_time = ev->xbutton.time;
		if (app->ops->button)
			app->ops->button(app, (int)ev->xbutton.button, ev->type == ButtonPress,
			                 ev->xbutton.x, ev->xbutton.y, ev->xbutton.state);
		break;
	case MotionNotify:
		app->last_time = ev->xmotion.time;
		if (app->ops->motion)
			app->ops->motion(app, ev->xmotion.x, ev->xmotion.y, ev->xmotion.state);
		break;
	case Expose:
		if (ev->xexpose.count == 0)
			app->dirty = true;
		break;
	case ConfigureNotify:
		if (ev->xconfigure.window != app->win)
			break;
		if (ev->xconfigure.width != app->w || ev->xconfigure.height != app->h) {
			app->w = ev->xconfigure.width;
			app->h = ev->xconfigure.height;
			if (app->ops->resize)
				app->ops->resize(app, app->w, app->h);
			app->dirty = true;
		}
		break;
	case FocusIn:
	case FocusOut:
		app->focused = ev->type == FocusIn;
		if (app->xic) {
			if (app->focused)
				XSetICFocus(app->xic);
			else
				XUnsetICFocus(app->xic);
		}
		if (app->ops->focus)
			app->ops->focus(app, app->focused);
		app->dirty = true;
		break;
	case PropertyNotify:
		app->last_time = ev->xproperty.time;
		if (ev->xproperty.window == app->win && ev->xproperty.atom == app->a_paste_prop &&
		    ev->xproperty.state == PropertyNewValue && app->incr_active) {
			app_incr_chunk(app);
		} else if (ev->xproperty.window == app->win &&
		           ev->xproperty.atom == app->a_ctl_answer &&
		           ev->xproperty.state == PropertyNewValue) {
			app_read_answers(app);
		} else if (ev->xproperty.window == app->root &&
		           ev->xproperty.atom == app->a_theme) {
			app_read_theme(app);
			if (app->ops->theme)
				app->ops->theme(app);
			app->dirty = true;
		}
		break;
	case ClientMessage:
		if (ev->xclient.message_type == app->a_protocols &&
		    (Atom)ev->xclient.data.l[0] == app->a_delete) {
			if (!app->ops->close || app->ops->close(app))
				app->running = false;
		}
		break;
	case SelectionRequest:
		app_selection_request(app, &ev->xselectionrequest);
		break;
	case SelectionClear: {
		enum ab_sel w =
		    ev->xselectionclear.selection == XA_PRIMARY ? AB_SEL_PRIMARY : AB_SEL_CLIPBOARD;
		free(TAKE_PTR(app->sel_text[w]));
		if (app->ops->sel_lost)
			app->ops->sel_lost(app, w);
		break;
	}
	case SelectionNotify:
		app_selection_notify(app, &ev->xselection);
		break;
	case MappingNotify:
		/* a layout change (setxkbmap, the wm's keyboard setting, xdotool) */
		XRefreshKeyboardMapping(&ev->xmapping);
		break;
	default:
		break;
	}
}

static void
app_drain(struct ab_app *app)
{
	while (app->running && XPending(app->dpy)) {
		XEvent ev;
		XNextEvent(app->dpy, &ev);
		if (app->im_pending && ev.type == KeyPress) { /* lazy_im: now */
			app->im_pending = false;
			app_open_im(app);
		}
		if (XFilterEvent(&ev, None))
			continue;
		app_event(app, &ev);
	}
}

static void
app_x_readable(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	/* events are read by app_drain() at the top of the next round */
}

int
ab_app_run(struct ab_app *app)
{
	app->xwatch =
	    ab_loop_watch(app->loop, ConnectionNumber(app->dpy), AB_LOOP_READ, app_x_readable, app);
	app->running = true;
	while (app->running) {
		app_drain(app);
		if (!app->running)
			break;
		if (app->dirty)
			app_paint(app);
		XFlush(app->dpy);
		/*
		 * Painting makes round trips (cairo, properties) that can read events off the
		 * socket into Xlib's queue: poll() would not see them and the app would sleep on
		 * them (a broker's answer arriving during the first paint went unread).
		 */
		if (XEventsQueued(app->dpy, QueuedAlready) > 0)
			continue;
		int r = ab_loop_poll_once(app->loop, -1);
		if (r < 0 && r != -EINTR)
			return r;
	}
	return 0;
}
