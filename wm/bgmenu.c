/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bgmenu: the desktop menu. A right click on the desktop background opens it
 * at the pointer: the wallpapers of the wallpaper directory (the first
 * BG_MAX_WALLPAPERS PNGs by name), "Built-in", the fit modes and the theme
 * modes. Choosing an entry goes through wallpaper_set() / theme_set(), so
 * the change is exported like any other state change.
 *
 * The directory is read again every time the menu opens (new files show up
 * without a restart). Names that are not plain file names
 * (deskstate_valid_file_name: no '/', no control characters, at most
 * DESKSTATE_NAME_MAX bytes, not hidden), anything that is not a regular file
 * starting with the PNG signature, and everything past the first
 * BG_MAX_SCAN directory entries are left out.
 *
 * Mouse: click an entry (it is picked on the release, which the menu's grab
 * keeps from the window below), or press the right button on the desktop,
 * move and release on one; wheel to scroll a long list, click anywhere else to
 * close. Keyboard: Up/Down/Home/End, Enter, Escape.
 */
#include "wm.h"
#include "ab_log.h"
#include "ab_util.h"

#include <X11/keysym.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BG_MAX_WALLPAPERS 32
#define BG_MAX_SCAN       4096 /* directory entries looked at */
#define M_W               260
#define PAD               6
#define HEAD_H            26
#define ROW_H             30
#define GAP               8 /* above every section but the first */
#define MAX_ROW           (BG_MAX_WALLPAPERS + 16)
#define DRAG_MS           250 /* press-move-release: a release this late picks */

enum row_kind {
	ROW_HEADER,
	ROW_WALLPAPER, /* arg: index in names, -1 = built-in */
	ROW_FIT,       /* arg: enum deskstate_fit */
	ROW_THEME,     /* arg: enum deskstate_mode */
	ROW_MAX,
};

struct row {
	enum row_kind kind;
	int arg;
	const char *label;
	int y; /* in list coordinates */
};

static char names[BG_MAX_WALLPAPERS][DESKSTATE_NAME_MAX + 1];
static char labels[BG_MAX_WALLPAPERS][DESKSTATE_NAME_MAX + 1];
static size_t n_names;
static struct row rows[MAX_ROW];
static size_t n_rows;
static int list_h, menu_h, sel = -1, scroll;
static cairo_surface_t *surf;
static Time opened_at;
static bool pressed; /* a button went down inside the menu */

/* true for a regular file that starts with the PNG signature (never blocks on a FIFO) */
static bool
is_png(int dfd, const char *name)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	unsigned char sig[8];
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return read(fd, sig, sizeof(sig)) == (ssize_t)sizeof(sig) &&
	       memcmp(sig, "\x89PNG\r\n\x1a\n", sizeof(sig)) == 0;
}

static bool
png_name(const char *s)
{
	size_t n = strlen(s);
	return deskstate_valid_file_name(s) && n > 4 && strcasecmp(s + n - 4, ".png") == 0;
}

/*
 * Fills names[] with the first BG_MAX_WALLPAPERS wallpapers of `dir` in
 * strcmp order, keeping only that many at any time (a huge directory costs
 * no memory). A missing or unreadable directory gives an empty list.
 */
static void
scan(const char *dir)
{
	n_names = 0;
	if (!dir)
		return;
	DIR *d = opendir(dir);
	if (!d) {
		ab_debug("desktop menu: wallpaper dir '%s': %s", dir, strerror(errno));
		return;
	}
	size_t seen = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (++seen > BG_MAX_SCAN) {
			ab_warn("desktop menu: wallpaper dir '%s' has more than %d entries; "
			        "the rest is not listed",
			        dir, BG_MAX_SCAN);
			break;
		}
		const char *name = de->d_name;
		if (!png_name(name))
			continue;
		/* where it would go; past the end of a full list: not listed */
		size_t at = n_names;
		while (at > 0 && strcmp(names[at - 1], name) > 0)
			at--;
		if (at >= BG_MAX_WALLPAPERS || !is_png(dirfd(d), name))
			continue;
		size_t keep = AB_MIN(n_names, (size_t)BG_MAX_WALLPAPERS - 1);
		memmove(names[at + 1], names[at], (keep - at) * sizeof(names[0]));
		size_t len = strlen(name); /* <= DESKSTATE_NAME_MAX: png_name() */
		AB_ASSERT(len < sizeof(names[0]));
		memcpy(names[at], name, len + 1);
		n_names = keep + 1;
	}
	closedir(d);
	/* shown as "Calm dusk" for calm-dusk.png */
	for (size_t i = 0; i < n_names; i++) {
		char *l = labels[i];
		snprintf(l, sizeof(labels[0]), "%s", names[i]);
		l[strlen(l) - 4] = '\0';
		for (char *p = l; *p; p++) {
			if (*p == '-' || *p == '_')
				*p = ' ';
		}
		if (l[0] >= 'a' && l[0] <= 'z')
			l[0] = (char)(l[0] - 'a' + 'A');
	}
}

static void
add(enum row_kind kind, int arg, const char *label, int *y)
{
	AB_ASSERT(n_rows < MAX_ROW);
	if (kind == ROW_HEADER && n_rows > 0)
		*y += GAP;
	rows[n_rows++] = (struct row){kind, arg, label, *y};
	*y += kind == ROW_HEADER ? HEAD_H : ROW_H;
}

static void
build_rows(void)
{
	int y = 0;
	n_rows = 0;
	add(ROW_HEADER, 0, "Wallpaper", &y);
	add(ROW_WALLPAPER, -1, "Built-in", &y);
	for (size_t i = 0; i < n_names; i++)
		add(ROW_WALLPAPER, (int)i, labels[i], &y);
	add(ROW_HEADER, 0, "Fit", &y);
	add(ROW_FIT, DESKSTATE_FILL, "Fill the screen", &y);
	add(ROW_FIT, DESKSTATE_FIT, "Show the whole image", &y);
	add(ROW_HEADER, 0, "Theme", &y);
	add(ROW_THEME, DESKSTATE_DARK, "Dark", &y);
	add(ROW_THEME, DESKSTATE_LIGHT, "Light", &y);
	list_h = y;
}

/* whether the row is the current setting (drawn with a check mark) */
static bool
is_current(const struct row *r)
{
	switch (r->kind) {
	case ROW_WALLPAPER:
		return r->arg < 0 ? !wm.ds.wallpaper[0]
		                  : strcmp(wm.ds.wallpaper, names[r->arg]) == 0;
	case ROW_FIT:
		return (int)wm.ds.wallpaper_fit == r->arg;
	case ROW_THEME:
		return (int)wm.ds.mode == r->arg;
	default:
		return false;
	}
}

static int
next_selectable(int from, int dir)
{
	for (int i = from; i >= 0 && i < (int)n_rows; i += dir) {
		if (rows[i].kind != ROW_HEADER)
			return i;
	}
	return -1;
}

static int
max_scroll(void)
{
	return AB_MAX(0, list_h - (menu_h - 2 * PAD));
}

static void
keep_visible(void)
{
	if (sel < 0)
		return;
	int vis = menu_h - 2 * PAD;
	int top = rows[sel].y;
	/* the header of the first entry of a section comes along */
	if (sel > 0 && rows[sel - 1].kind == ROW_HEADER)
		top = rows[sel - 1].y;
	if (top < scroll)
		scroll = top;
	if (rows[sel].y + ROW_H > scroll + vis)
		scroll = rows[sel].y + ROW_H - vis;
	scroll = AB_MAX(0, AB_MIN(scroll, max_scroll()));
}

/* The selectable row at menu coordinates (x, y), or -1. */
static int
row_at(int x, int y)
{
	if (x < 0 || x >= M_W || y < PAD || y >= menu_h - PAD)
		return -1;
	int ly = y - PAD + scroll;
	for (size_t i = 0; i < n_rows; i++) {
		if (rows[i].kind != ROW_HEADER && ly >= rows[i].y && ly < rows[i].y + ROW_H)
			return (int)i;
	}
	return -1;
}

void
bgmenu_draw(void)
{
	if (!wm.bgmenu_open)
		return;
	const struct ab_theme *t = &wm.theme;
	cairo_t *cr = cairo_create(surf);
	theme_card(cr, M_W, menu_h);
	cairo_rectangle(cr, 0, PAD, M_W, menu_h - 2 * PAD);
	cairo_clip(cr);
	for (size_t i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];
		double y = PAD + r->y - scroll;
		if (y + ROW_H < 0 || y > menu_h)
			continue;
		if (r->kind == ROW_HEADER) {
			theme_set_rgb(cr, t->text_dim);
			theme_text(cr, r->label, "Noto Sans,DejaVu Sans Bold 8.5", 14, y + 4,
			           M_W - 28, HEAD_H - 4, false);
			continue;
		}
		if ((int)i == sel) {
			ab_cairo_rounded(cr, 6, y + 2, M_W - 12, ROW_H - 4, 7);
			theme_set_rgba(cr, t->hover);
			cairo_fill(cr);
			ab_cairo_rounded(cr, 6, y + 9, 3, ROW_H - 18, 1.5);
			theme_set_rgb(cr, t->accent);
			cairo_fill(cr);
		}
		if (is_current(r)) {
			theme_set_rgb(cr, t->accent);
			theme_text(cr, "\xe2\x9c\x93", "Noto Sans,DejaVu Sans Bold 10", 14, y, 16,
			           ROW_H, false);
		}
		theme_set_rgb(cr, t->text);
		theme_text(cr, r->label, t->font, 36, y, M_W - 50, ROW_H, false);
	}
	cairo_destroy(cr);
	cairo_surface_flush(surf);
}

void
bgmenu_open(int px, int py, Time when)
{
	if (wm.launcher_open)
		launcher_close();
	scan(wm.wallpaper_dir);
	build_rows();
	menu_h = AB_MIN(list_h + 2 * PAD, wm.sh - 8);
	/* at the pointer, shifted to stay on the screen */
	int x = px + M_W > wm.sw - 4 ? px - M_W : px;
	int y = py + menu_h > wm.sh - 4 ? wm.sh - 4 - menu_h : py;
	x = AB_MAX(4, x);
	y = AB_MAX(4, y);
	if (!wm.bgmenu) {
		XSetWindowAttributes sa = {
		    .override_redirect = True,
		    .background_pixmap = None,
		    .event_mask = ButtonPressMask | ButtonReleaseMask | PointerMotionMask |
		                  ExposureMask | KeyPressMask,
		};
		wm.bgmenu = XCreateWindow(wm.dpy, wm.root, x, y, M_W, (unsigned)menu_h, 0,
		                          CopyFromParent, InputOutput, CopyFromParent,
		                          CWOverrideRedirect | CWBackPixmap | CWEventMask, &sa);
		XStoreName(wm.dpy, wm.bgmenu, "argobox-wm desktop menu");
		surf = cairo_xlib_surface_create(wm.dpy, wm.bgmenu, wm.visual, M_W, menu_h);
	} else {
		XMoveResizeWindow(wm.dpy, wm.bgmenu, x, y, M_W, (unsigned)menu_h);
		cairo_xlib_surface_set_size(surf, M_W, menu_h);
	}
	sel = -1;
	scroll = 0;
	opened_at = when;
	pressed = false;
	wm.bgmenu_open = true;
	XMapRaised(wm.dpy, wm.bgmenu);
	client_restack();
	XGrabKeyboard(wm.dpy, wm.root, True, GrabModeAsync, GrabModeAsync, CurrentTime);
	if (XGrabPointer(wm.dpy, wm.bgmenu, True,
	                 ButtonPressMask | ButtonReleaseMask | PointerMotionMask, GrabModeAsync,
	                 GrabModeAsync, None, None, CurrentTime) != GrabSuccess) {
		/* without the grab a click elsewhere would not close it */
		ab_warn("desktop menu: the pointer is grabbed by another client");
		bgmenu_close();
		return;
	}
	ab_debug("desktop menu at %d,%d: %zu wallpapers", x, y, n_names);
	for (size_t i = 0; i < n_names; i++)
		ab_debug("desktop menu lists '%s'", names[i]);
	bgmenu_draw();
}

void
bgmenu_close(void)
{
	if (!wm.bgmenu_open)
		return;
	wm.bgmenu_open = false;
	XUngrabKeyboard(wm.dpy, CurrentTime);
	XUngrabPointer(wm.dpy, CurrentTime);
	XUnmapWindow(wm.dpy, wm.bgmenu);
	if (wm.focus)
		client_focus(wm.focus);
}

void
bgmenu_free(void)
{
	bgmenu_close();
	if (surf)
		cairo_surface_destroy(surf);
	surf = NULL;
}

static void
activate(int i)
{
	if (i < 0 || i >= (int)n_rows || rows[i].kind == ROW_HEADER)
		return;
	struct row r = rows[i];
	char image[DESKSTATE_NAME_MAX + 1] = "";
	if (r.kind == ROW_WALLPAPER && r.arg >= 0)
		snprintf(image, sizeof(image), "%s", names[r.arg]);
	bgmenu_close();
	switch (r.kind) {
	case ROW_WALLPAPER:
		ab_info("desktop menu: chose wallpaper '%s'", image[0] ? image : "(built-in)");
		if (wallpaper_set(image, wm.ds.wallpaper_fit) < 0)
			ab_warn("desktop menu: wallpaper '%s' refused", image);
		break;
	case ROW_FIT:
		ab_info("desktop menu: chose fit %s",
		        deskstate_fit_name((enum deskstate_fit)r.arg));
		wallpaper_set(wm.ds.wallpaper, (enum deskstate_fit)r.arg);
		break;
	case ROW_THEME:
		ab_info("desktop menu: chose theme %s",
		        deskstate_mode_name((enum deskstate_mode)r.arg));
		theme_set((enum deskstate_mode)r.arg, NULL);
		break;
	default:
		break;
	}
}

void
bgmenu_key(XKeyEvent *e)
{
	KeySym sym = XLookupKeysym(e, 0);
	int s = -1;
	switch (sym) {
	case XK_Escape:
		bgmenu_close();
		return;
	case XK_Return:
	case XK_KP_Enter:
	case XK_space:
		activate(sel);
		return;
	case XK_Down:
	case XK_KP_Down:
		s = sel < 0 ? next_selectable(0, 1) : next_selectable(sel + 1, 1);
		break;
	case XK_Up:
	case XK_KP_Up:
		s = sel < 0 ? next_selectable((int)n_rows - 1, -1) : next_selectable(sel - 1, -1);
		break;
	case XK_Home:
		s = next_selectable(0, 1);
		break;
	case XK_End:
		s = next_selectable((int)n_rows - 1, -1);
		break;
	default:
		return;
	}
	wm.super_alone = false;
	if (s >= 0)
		sel = s;
	keep_visible();
	bgmenu_draw();
}

void
bgmenu_motion(XMotionEvent *e)
{
	if (e->window != wm.bgmenu)
		return;
	int s = row_at(e->x, e->y);
	if (s >= 0 && s != sel) {
		sel = s;
		bgmenu_draw();
	}
}

void
bgmenu_button_press(XButtonEvent *e)
{
	if (e->window != wm.bgmenu || e->x < 0 || e->y < 0 || e->x >= M_W || e->y >= menu_h) {
		bgmenu_close();
		/* another right click on the desktop opens it there */
		if (e->window == wm.root && e->subwindow == None && e->button == Button3)
			bgmenu_open(e->x_root, e->y_root, e->time);
		return;
	}
	if (e->button == Button4 || e->button == Button5) {
		scroll += e->button == Button5 ? ROW_H : -ROW_H;
		scroll = AB_MAX(0, AB_MIN(scroll, max_scroll()));
		bgmenu_draw();
		return;
	}
	if (e->button == Button1 || e->button == Button3) {
		/* picked on release, so the release does not land on a window below */
		pressed = true;
		int s = row_at(e->x, e->y);
		if (s >= 0 && s != sel) {
			sel = s;
			bgmenu_draw();
		}
	}
}

void
bgmenu_button_release(XButtonEvent *e)
{
	if ((e->button != Button1 && e->button != Button3) || e->window != wm.bgmenu)
		return;
	/* a click on an entry, or the right button held since it opened the menu and
	 * released on one */
	if (pressed || (e->button == Button3 && e->time - opened_at >= DRAG_MS))
		activate(row_at(e->x, e->y));
	pressed = false;
}
