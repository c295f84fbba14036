/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_app: the app library's X side — one top-level window with its ICCCM and
 * EWMH hints (WM_CLASS, _NET_WM_NAME, _NET_WM_ICON, WM_DELETE_WINDOW, _NET_WM_PID),
 * the wm's theme followed live (_ARGOBOX_THEME on the root, see lib/theme/ab_theme.h),
 * double-buffered cairo drawing, XIM text input (compose, non-US layouts),
 * PRIMARY/CLIPBOARD ownership and paste, and the one event loop (ab_loop_poll)
 * on the X fd plus whatever fds and timers the app adds.
 *
 * Start reading at ab_app_open() and ab_app_run(). An app fills a struct
 * ab_app_ops with its callbacks; every callback runs on the loop, never on
 * another thread. The app marks what needs painting with ab_app_redraw(); the
 * loop paints once per round, after all events of the round are handled.
 */
#ifndef AB_APP_H
#define AB_APP_H
#include "ab_theme.h"
#include "ab_cairo.h"
#include "ab_list.h"
#include "ab_loop.h"

#include <X11/Xlib.h>
#include <X11/keysym.h>
#include <cairo.h>
#include <jansson.h>
#include <pango/pangocairo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ab_err;
struct ab_app;

enum ab_sel {
	AB_SEL_PRIMARY,
	AB_SEL_CLIPBOARD,
	AB_SEL_MAX,
};

struct ab_app_ops {
	/* After the window opens, before the loop runs: the app's own fds, timers and state. */
	void (*start)(struct ab_app *app);
	/* After the loop ends, before the window closes: undoes what start did. */
	void (*stop)(struct ab_app *app);
	/* Paints the whole window; cr is the back buffer, w x h its size. */
	void (*draw)(struct ab_app *app, cairo_t *cr, int w, int h);
	/* A key: sym, modifier state, and the text it types (UTF-8 from the input method, may be
	 * empty). */
	void (*key)(struct ab_app *app, KeySym sym, unsigned state, const char *text, size_t len);
	void (*button)(struct ab_app *app, int button, bool press, int x, int y, unsigned state);
	void (*motion)(struct ab_app *app, int x, int y, unsigned state);
	void (*resize)(struct ab_app *app, int w, int h);
	/* The theme changed (app->theme is the new one); a redraw follows. */
	void (*theme)(struct ab_app *app);
	/* The text of a paste asked for with ab_app_paste() (UTF-8, not NUL-terminated). */
	void (*paste)(struct ab_app *app, enum ab_sel which, const char *text, size_t len);
	/* We lost the ownership of a selection (someone else copied). */
	void (*sel_lost)(struct ab_app *app, enum ab_sel which);
	void (*focus)(struct ab_app *app, bool in);
	/* WM_DELETE_WINDOW: return true to quit (NULL: quit). */
	bool (*close)(struct ab_app *app);
	/* An answer to an ab_app_request() (e.g. services_answer), relayed by the wm. */
	void (*answer)(struct ab_app *app, json_t *msg);
};

/* Draws the app's icon at size x size (for _NET_WM_ICON). */
typedef void (*ab_app_icon_fn)(cairo_t *cr, int size);

struct ab_app_config {
	/*
	 * WM_CLASS instance, e.g. "terminal"; the class is "ArgoBox" and the name capitalised
	 * ("ArgoBoxTerminal"), the program argobox-<name>.
	 */
	const char *name;
	const char *instance; /* WM_CLASS instance when it is not `name` (NULL: name) */
	const char *title;
	const char *operands; /* ab_app_main()'s usage after the program, e.g. "[DIRECTORY]" */
	int max_operands;     /* no options, at most this many operands */
	int width, height;
	ab_app_icon_fn icon;
	const struct ab_app_ops *ops;
	void *data;
	/*
	 * Open the input method at the first key press, not at start: the built-in one parses the
	 * locale's Compose file into ~0.3 MB that a window nobody typed into does not need. The
	 * press that opens it is filtered through it like any other.
	 */
	bool lazy_im;
};

struct ab_app {
	Display *dpy;
	int screen;
	Window root, win;
	Visual *visual;
	int depth;
	int w, h;
	struct ab_loop *loop;
	struct ab_theme theme;
	const struct ab_app_ops *ops;
	void *data;
	bool focused;
	/* internal */
	struct ab_watch *xwatch;
	XIM xim;
	XIC xic;
	bool im_pending; /* lazy_im: not opened yet */
	long event_mask;
	Pixmap back;
	int back_w, back_h;
	cairo_surface_t *back_surf;
	bool dirty, running;
	Time last_time;
	char *sel_text[AB_SEL_MAX];
	char *incr_buf; /* an incremental (INCR) paste being received */
	size_t incr_len;
	bool incr_active, incr_over;
	enum ab_sel incr_which;
	size_t sel_len[AB_SEL_MAX];
	Atom a_protocols, a_delete, a_net_wm_name, a_net_wm_icon, a_net_wm_pid, a_utf8, a_targets,
	    a_clipboard, a_theme, a_paste_prop, a_incr, a_text, a_sel_atoms[AB_SEL_MAX], a_ctl_req,
	    a_ctl_answer;
	char *drop_uris; /* what a drag out of the window carries (text/uri-list), owned */
};

/*
 * Drops `uris` (text/uri-list: "file:///a%20b\r\n"...) on the desktop by XDND (version 5):
 * when the root window is XdndAware (argobox-wm sets it), the app owns XdndSelection with the
 * list and sends XdndEnter, XdndPosition and XdndDrop to the root at (x_root, y_root); the wm
 * asks for the list and copies the files. -ENOENT when the desktop takes no drops.
 */
int ab_app_drop_on_desktop(struct ab_app *app, const char *uris, int x_root, int y_root);

/*
 * An app's main(): checks the command line (no options, at most cfg->max_operands operands;
 * else "usage: <cfg->usage>", to stdout for a lone --help), opens the window, calls
 * ops->start, runs the loop, calls ops->stop and closes. Returns main()'s exit status: 0, 1
 * when the window cannot open (logged) or the X connection breaks, 2 for a bad command line.
 */
int ab_app_main(struct ab_app *app, const struct ab_app_config *cfg, int argc, char **argv);
/* Opens the display ($DISPLAY), creates and maps the window. */
int ab_app_open(struct ab_app *app, const struct ab_app_config *cfg, struct ab_err *err);
/* Frees everything ab_app_open() made; accepts a zeroed struct. */
void ab_app_close(struct ab_app *app);
/* Runs the loop until ab_app_quit(). Returns 0, or -errno when the X connection breaks. */
int ab_app_run(struct ab_app *app);
void ab_app_quit(struct ab_app *app);
/* Asks for a repaint at the end of this loop round. */
void ab_app_redraw(struct ab_app *app);
/* Paints now if a repaint is pending (for apps that pace their own frames). */
void ab_app_flush(struct ab_app *app);
void ab_app_set_title(struct ab_app *app, const char *title);
/* Owns `which` with a copy of text[0..len) (UTF-8), served as UTF8_STRING/STRING/TEXT. */
void ab_app_own(struct ab_app *app, enum ab_sel which, const char *text, size_t len);
/* Asks the owner of `which` for its text; ops->paste gets it. */
void ab_app_paste(struct ab_app *app, enum ab_sel which);
/*
 * A control message for the wm (docs/apps.md, "Requests"): appended, one JSON object a line, to
 * the root window's _ARGOBOX_CTL_REQUEST with "window" set to this app's window, where the
 * answers to requests that have them (services_request) come back: ops->answer gets each one.
 * msg is stolen.
 */
void ab_app_request(struct ab_app *app, json_t *msg);
/*
 * Opens an http(s) URL in the desktop's browser with xdg-open (detached, in its own session);
 * where the desktop has no xdg-open the URL goes to CLIPBOARD instead, to paste into the
 * browser the desktop is shown in. Returns 0 when xdg-open was started, 1 when copied.
 */
int ab_app_open_url(struct ab_app *app, const char *url);
/* Tells the input method where the cursor is (for candidate windows). */
void ab_app_set_spot(struct ab_app *app, int x, int y);
/*
 * The root window's 8-bit property `prop` (up to 1 KiB), copied and NUL-terminated, its
 * length in *ret_len; NULL (ret_len untouched) when it is missing. The caller frees it.
 */
char *ab_app_root_text(struct ab_app *app, Atom prop, size_t *ret_len);

/* Drawing helpers on the app's theme. */
void ab_draw_rgb(cairo_t *cr, const double *c);
/*
 * An app icon's tile: a rounded s x s square filled with bg, then fg as the source and a
 * line width of s/12 for the glyph the caller draws on it.
 */
void ab_draw_icon_tile(cairo_t *cr, int s, const double *bg, const double *fg);
/* One line of text at (x, y) top-left, ellipsized to w (w <= 0: no limit); returns its width. */
int ab_draw_text(cairo_t *cr, const char *text, const char *font, const double *rgb, double x,
                 double y, double w);
/*
 * A page: paints the whole surface in the theme's background, then `title` at (x, y) in the
 * theme's font made bold at 15 pt, ellipsized to w.
 */
void ab_draw_page(cairo_t *cr, const struct ab_theme *t, const char *title, double x, double y,
                  double w);
/* Pixel height of a line of `font`. */
int ab_draw_line_height(cairo_t *cr, const char *font);
/* A 2 px focus ring in the accent colour around (x, y, w, h). */
void ab_draw_focus_ring(cairo_t *cr, const struct ab_theme *t, double x, double y, double w,
                        double h);

/* Draws one row (index i) of a list inside (x, y, w, h); selected: drawn on the accent. */
typedef void (*ab_list_row_fn)(struct ab_app *app, cairo_t *cr, size_t i, bool selected, double x,
                               double y, double w, double h);
/*
 * Draws the visible rows of l inside (x, y, w, h) with rows of row_h pixels, the
 * selection on the accent, a scroll bar, and the focus ring when l->focused.
 * Updates l->visible.
 */
void ab_app_list_draw(struct ab_app *app, cairo_t *cr, struct ab_list *l, int row_h, double x,
                      double y, double w, double h, ab_list_row_fn row);
/* Maps the usual keys (arrows, Page Up/Down, Home/End) to list_key(); true when handled. */
bool ab_app_list_keysym(struct ab_list *l, KeySym sym, bool *changed);
#endif
