/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wm.h: the window manager's shared state and its modules' interfaces.
 *
 * argobox-wm is one process with one loop: main.c polls the X connection and
 * the control socket (ab_loop_poll), drains X events through the handler
 * table in event.c, and the modules below act on the single `struct wm`.
 * Everything X-free (desktop state, .desktop files) lives in deskstate.h and
 * desktop.h so the broker and the unit tests can link it without X.
 *
 * Geometry convention: a client's x, y, w, h is its content area (the
 * application's own window) in root coordinates; the frame adds
 * theme borders around it (frame_extents()).
 */
#ifndef AB_WM_H
#define AB_WM_H

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <cairo/cairo-xlib.h>
#include <cairo/cairo.h>
#include <pango/pangocairo.h>
#include <stdbool.h>
#include <stdint.h>

#include "ab_cairo.h"
#include "ab_icon.h"
#include "ab_loop.h"
#include "ab_theme.h"
#include "deskstate.h"
#include "desktop_entry.h"

/* ---- atoms (ewmh.c) ---- */
enum atom_id {
	A_WM_PROTOCOLS,
	A_WM_DELETE_WINDOW,
	A_WM_TAKE_FOCUS,
	A_WM_STATE,
	A_WM_CHANGE_STATE,
	A_UTF8_STRING,
	A_NET_SUPPORTED,
	A_NET_SUPPORTING_WM_CHECK,
	A_NET_WM_NAME,
	A_NET_CLIENT_LIST,
	A_NET_CLIENT_LIST_STACKING,
	A_NET_ACTIVE_WINDOW,
	A_NET_WM_STATE,
	A_NET_WM_STATE_MAXIMIZED_VERT,
	A_NET_WM_STATE_MAXIMIZED_HORZ,
	A_NET_WM_STATE_FULLSCREEN,
	A_NET_WM_STATE_HIDDEN,
	A_NET_WM_STATE_ABOVE,
	A_NET_WM_STATE_DEMANDS_ATTENTION,
	A_NET_WM_WINDOW_TYPE,
	A_NET_WM_WINDOW_TYPE_NORMAL,
	A_NET_WM_WINDOW_TYPE_DIALOG,
	A_NET_WM_WINDOW_TYPE_DOCK,
	A_NET_WM_WINDOW_TYPE_SPLASH,
	A_NET_WM_WINDOW_TYPE_NOTIFICATION,
	A_NET_WM_WINDOW_TYPE_MENU,
	A_NET_WM_WINDOW_TYPE_UTILITY,
	A_NET_WM_WINDOW_TYPE_TOOLBAR,
	A_NET_WORKAREA,
	A_NET_CURRENT_DESKTOP,
	A_NET_NUMBER_OF_DESKTOPS,
	A_NET_DESKTOP_NAMES,
	A_NET_DESKTOP_GEOMETRY,
	A_NET_DESKTOP_VIEWPORT,
	A_NET_WM_DESKTOP,
	A_NET_FRAME_EXTENTS,
	A_NET_REQUEST_FRAME_EXTENTS,
	A_NET_CLOSE_WINDOW,
	A_NET_MOVERESIZE_WINDOW,
	A_NET_WM_ICON,
	A_NET_WM_PID,
	A_XROOTPMAP_ID,
	A_ARGOBOX_STATE,
	ATOM_MAX,
};

enum win_type {
	WT_NORMAL,
	WT_DIALOG,
	WT_DOCK,
	WT_SPLASH,
	WT_NOTIFICATION,
	WT_MENU,
	WT_UTILITY,
	WT_MAX,
};

struct client {
	Window win, frame;
	cairo_surface_t *surf; /* the frame's, NULL for undecorated clients */
	int x, y, w, h;        /* content area, root coordinates */
	int sx, sy, sw, sh;    /* geometry before maximize/fullscreen/snap */
	int ws;                /* workspace; -1 = sticky (docks) */
	bool maximized, minimized, fullscreen, above, decorated, urgent, snapped, in_taskbar;
	bool saved; /* sx..sh hold the normal geometry */
	bool delete_window, take_focus, mapped;
	enum win_type type;
	Window transient_for;
	int minw, minh, maxw, maxh, incw, inch, basew, baseh;
	char title[DESKSTATE_TITLE_MAX + 1];
	char wm_class[DESKSTATE_NAME_MAX + 1], wm_instance[DESKSTATE_NAME_MAX + 1];
	char desktop_id[DESKSTATE_NAME_MAX + 1];
	cairo_surface_t *icon; /* 20x20 ARGB from _NET_WM_ICON, or NULL */
	int ignore_unmap;      /* UnmapNotify events we caused while reparenting */
	int restore_rank;      /* stacking rank from a restored state, or -1 */
	uint64_t seq;          /* manage order */
	struct client *next;   /* all clients in manage order */
};

/* The shell's geometry in pixels: a window's title bar and border, the taskbar. */
#define THEME_TITLE_H  32
#define THEME_BORDER_W 4
#define THEME_BAR_H    44

enum drag_mode {
	DRAG_NONE,
	DRAG_MOVE,
	DRAG_RESIZE,
	DRAG_MAX,
};

/* Edges for resizing, OR-ed. */
#define EDGE_LEFT   1
#define EDGE_RIGHT  2
#define EDGE_TOP    4
#define EDGE_BOTTOM 8

/* What a click on a notification does: "" nothing, "messages" the messages panel,
 * "app:<desktop id>" start that app (if this desktop may run it). */
#define NOTIFY_ACTION_MAX 160

struct notification {
	Window win;
	cairo_surface_t *surf;
	char title[128], body[512];
	char action[NOTIFY_ACTION_MAX];
	uint64_t hist_id; /* the centre's history entry */
	bool critical;
	int h;
	int64_t expires_ms; /* 0: sticky */
	struct notification *next;
};

/* The notification centre's history (notifycenter.c), newest last. */
#define NC_HISTORY_MAX  50
#define NC_MESSAGES_MAX 50

struct nc_entry {
	uint64_t id;
	int64_t time; /* unix seconds */
	char title[128], body[512];
	char action[NOTIFY_ACTION_MAX];
	char urgency[12];
	bool read;
};

struct nc_message {
	uint64_t id;
	int64_t time;  /* unix seconds, as the broker stamped it */
	char from[64]; /* the sender's user name */
	char *text;    /* owned, plain text (never markup) */
	bool read;
};

struct status_item {
	char id[32], text[64];
};

struct pending {
	struct deskstate_window w;
	bool done;
	bool launched;
};

struct wm {
	Display *dpy;
	int screen;
	Window root, check, bar, launcher, bgmenu, switcher;
	Visual *visual;
	Colormap cmap;
	int sw, sh; /* screen size */
	Atom atoms[ATOM_MAX];
	struct ab_loop *loop;
	bool running;
	int restart_exit; /* exit status once stopped */

	struct client *clients; /* manage order */
	struct client **stack;  /* bottom to top */
	size_t n_stack, cap_stack;
	struct client **mru; /* focus history, most recent first */
	size_t n_mru, cap_mru;
	struct client *focus;
	uint64_t next_seq;

	struct ab_theme theme; /* colours, mode, accent, font (lib/theme, shared with apps) */
	struct deskstate ds;   /* settings part (theme, wallpaper, workspaces, taskbar, prefs) */
	struct desktop_list apps;
	struct ab_icons *icons; /* icon themes (lib/icon): app icons by Icon= name */
	char *allowed;
	char *wallpaper_dir;
	char *state_out; /* optional file the exported state is also written to */

	/* drag */
	enum drag_mode drag;
	struct client *drag_c;
	int drag_edges, drag_px, drag_py, drag_x, drag_y, drag_w, drag_h;
	Window last_click_win;
	Time last_click_time;

	/* keys */
	bool super_alone, cycling; /* cycling: the Alt+Tab switcher is open */
	unsigned numlock;

	/* taskbar */
	cairo_surface_t *bar_surf;
	struct status_item status[8];
	size_t n_status;
	struct ab_timer *clock_timer;

	/* launcher */
	cairo_surface_t *launcher_surf;
	bool launcher_open;
	char query[64];
	int sel, scroll;

	/* desktop menu (bgmenu.c; its rows are its own) */
	bool bgmenu_open;

	/* notifications: pop-ups (notify.c) and the centre (notifycenter.c) */
	struct notification *notes;
	struct ab_timer *note_timer;
	Window centre;
	cairo_surface_t *centre_surf;
	bool centre_open;

	/* state export */
	struct ab_timer *export_timer;
	int64_t last_export_ms;
	char *last_export;

	/* restore */
	struct pending *pending;
	size_t n_pending, n_placed, n_dropped; /* dropped: no allowed app to start them */
	int64_t restore_start_ms;
	bool restoring;
	struct ab_timer *restore_timer;
	int restore_timeout_ms; /* a restore ends (and exports) after this at the latest */

	/* control channel */
	char *sock_path;
	int ctl_fd;
	struct ab_watch *ctl_watch;
	struct ab_timer *ctl_timer;
	int ctl_backoff_ms;
	char *out_buf;
	size_t out_len;
	void *reader; /* struct ab_proto_reader */
};

extern struct wm wm;

/* ewmh.c: atoms and the root/client properties of ICCCM and EWMH */
void ewmh_init(void);
void ewmh_announce(void);
void ewmh_update_client_list(void);
void ewmh_update_desktops(void);
void ewmh_update_active(void);
void ewmh_update_workarea(void);
void ewmh_set_client_state(struct client *c);
void ewmh_set_frame_extents(struct client *c);
void ewmh_set_wm_state(Window w, long state);
void ewmh_client_message(XClientMessageEvent *e);

/* xdnd.c: files dropped on the desktop (XDND on the root) are copied into ~/Desktop. */
void xdnd_init(void);
/* True when e was an XDND message to the root (handled). */
bool xdnd_client_message(XClientMessageEvent *e);
void xdnd_selection_notify(XSelectionEvent *e);
bool ewmh_get_atoms(Window w, Atom prop, Atom *out, int max, int *ret_n);
void ewmh_read_title(struct client *c);
void ewmh_read_icon(struct client *c);
enum win_type ewmh_window_type(Window w);

/* client.c: managed windows */
struct client *client_find(Window w); /* by client or frame window */
struct client *client_manage(Window w, bool adopt);
void client_unmanage(struct client *c, bool destroyed);
void client_read_hints(struct client *c);
void client_apply_hints(struct client *c, int *w, int *h);
void client_move_resize(struct client *c, int x, int y, int w, int h);
void client_focus(struct client *c);
void client_raise(struct client *c);
void client_restack(void);
void client_close(struct client *c);
void client_set_maximized(struct client *c, bool on);
void client_set_fullscreen(struct client *c, bool on);
void client_set_minimized(struct client *c, bool on);
void client_snap(struct client *c, int where); /* EDGE_LEFT/RIGHT, EDGE_TOP = maximize */
void client_show_hide(struct client *c);
bool client_visible(struct client *c);
void client_send_configure(struct client *c);
void client_workarea(int *x, int *y, int *w, int *h);
void client_focus_top(void);
void client_adopt_all(void);
void client_release(struct client *c);
void client_relayout_all(void); /* after the work area changed */

/* frame.c: decorations, hit testing, drags */
void frame_extents(struct client *c, int *l, int *r, int *t, int *b);
void frame_create(struct client *c);
void frame_destroy(struct client *c);
void frame_place(struct client *c);
void frame_draw(struct client *c);
void frame_button_press(struct client *c, XButtonEvent *e);
void frame_motion(XMotionEvent *e);
void frame_button_release(XButtonEvent *e);

/* event.c: the handler table */
void event_dispatch(XEvent *e);
int event_x_error(Display *dpy, XErrorEvent *e);

/* keys.c */
void keys_grab(void);
void keys_press(XKeyEvent *e);
void keys_release(XKeyEvent *e);

/* workspace.c */
void workspace_switch(int ws);
void workspace_send(struct client *c, int ws);

/* theme.c: colours and drawing helpers */
void theme_apply(void);
/* The UI font's size in points (prefs "settings": {"font_size"}), for the shell and the apps. */
#define THEME_FONT_MIN 7
#define THEME_FONT_MAX 18
int theme_set_font_size(int size); /* 0, or -EINVAL out of range */
void theme_set(enum deskstate_mode mode, const char *accent);
void theme_text(cairo_t *cr, const char *text, const char *font, double x, double y, double w,
                double h, bool center);
void theme_set_rgb(cairo_t *cr, const double *c);
void theme_set_rgba(cairo_t *cr, const double *c);
/* A pop-up's background on a w x h surface: the theme's panel over its background, a 1 px border.
 */
void theme_card(cairo_t *cr, double w, double h);
/* The selected row of a list (launcher, switcher): hover background and an accent bar. */
void theme_row_selected(cairo_t *cr, double x, double y, double w, double h);
void theme_letter_icon(cairo_t *cr, const char *name, double x, double y, double size);
/* The app's icon from the icon theme (entry's Icon=), else a letter tile of its name. */
void theme_app_icon(cairo_t *cr, const struct desktop_entry *e, double x, double y, double size);
/* A window's icon: its _NET_WM_ICON, else its app's (desktop id or class), else a letter tile. */
void theme_client_icon(cairo_t *cr, const struct client *c, double x, double y, double size,
                       double alpha);
void theme_redraw_all(void);

/* wallpaper.c */
void wallpaper_apply(void);
int wallpaper_set(const char *image, enum deskstate_fit fit);

/* taskbar.c */
void taskbar_create(void);
void taskbar_draw(void);
void taskbar_button_press(XButtonEvent *e);
int taskbar_height(void);   /* drawn height */
int taskbar_reserved(void); /* height taken from the work area (0 with autohide) */
void taskbar_reveal(bool show);
void taskbar_configure(enum deskstate_edge position, bool autohide);

/* launcher.c */
void launcher_toggle(void);
void launcher_close(void);
void launcher_draw(void);
void launcher_key(XKeyEvent *e);
void launcher_button_press(XButtonEvent *e);
int launcher_spawn(const struct desktop_entry *e);
/*
 * In a child the wm forked, before its exec: no signal blocked, SIGCHLD and SIGPIPE at their
 * defaults (the wm ignores both) and the wm's X connection closed.
 */
void launcher_child_reset(void);
/* The same for a window of a restored layout: the app gets the window's saved WM_CLASS
 * instance in ARGOBOX_RESTORE_INSTANCE (argobox-terminal finds its scrollback by it). */
int launcher_spawn_restore(const struct desktop_entry *e, const char *instance);
/* Starts the allowed app providing profile app `app` ("terminal"), ArgoBox's own first; without
 * one, says so in a notification. */
int launcher_spawn_app(const char *app);

/* apprelay.c: apps' services_request to the broker over the control channel, and back */
void apprelay_request(json_t *m); /* from _ARGOBOX_CTL_REQUEST */
void apprelay_answer(json_t *m);  /* services_answer from the session */
void apprelay_stop(void);         /* answers what is pending (503) */

/* switcher.c: the Alt+Tab window switcher */
void switcher_start(int dir); /* +1: Alt+Tab, -1: Alt+Shift+Tab; steps when already open */
void switcher_step(int dir);
void switcher_key(XKeyEvent *e);
void switcher_commit(void); /* focus the selected window (Alt released) */
void switcher_cancel(void);
void switcher_draw(void);
void switcher_forget(struct client *c); /* c is going away */
void switcher_free(void);
const char *launcher_desktop_id_for_pid(pid_t pid); /* NULL if we did not start it */

/* bgmenu.c: the desktop menu (right click on the background): wallpaper, fit, theme */
void bgmenu_open(int x, int y, Time when); /* at root coordinates x, y */
void bgmenu_close(void);
void bgmenu_free(void); /* at exit */
void bgmenu_draw(void);
void bgmenu_key(XKeyEvent *e);
void bgmenu_button_press(XButtonEvent *e);
void bgmenu_button_release(XButtonEvent *e);
void bgmenu_motion(XMotionEvent *e);

/* notify.c: pop-ups. A click on the body acts (nc_act) and dismisses, on the cross dismisses. */
void notify_show(const char *title, const char *body, bool critical, int64_t timeout_ms,
                 const char *action, uint64_t hist_id);
bool notify_button_press(XButtonEvent *e);
void notify_expose(Window w);
void notify_dismiss_all(void);

/* notifycenter.c: the history behind the taskbar's bell, do-not-disturb (kept in the state's
 * prefs), the messages panel; the root's _ARGOBOX_NOTIFICATIONS mirrors it for tools/tests. */
enum nc_tab {
	NC_TAB_NOTIFICATIONS,
	NC_TAB_MESSAGES,
	NC_TAB_MAX,
};
/* A notification from the control channel: into the history, and a pop-up unless
 * do-not-disturb is on (critical ones still pop up). */
void nc_notify(const char *title, const char *body, const char *urgency, int64_t timeout_ms,
               const char *action);
/* A message from another user (broker "message"): into the panel, and a notification. */
void nc_message(const char *id, const char *from, const char *text, int64_t time);
/* The broker's answer to a message the panel sent (control "message_answer"). */
void nc_message_answer(json_t *m);
bool nc_valid_action(const char *action);
void nc_act(const char *action, uint64_t hist_id); /* marks hist_id read, then acts */
size_t nc_unread(void);
bool nc_dnd(void);
void nc_set_dnd(bool on);
void nc_toggle(enum nc_tab tab); /* opens the centre on tab, or closes it */
void nc_close(void);
void nc_draw(void);
void nc_key(XKeyEvent *e);
void nc_button_press(XButtonEvent *e);
void nc_free(void);
/* At start, after the state's prefs are in wm.ds: the persisted history comes back, read. */
void nc_restore(void);
/* The bell on the taskbar: a bell, crossed with do-not-disturb, a badge with the unread count. */
void nc_draw_bell(cairo_t *cr, double x, double y, double s);

/* state.c: export (debounced) and restore */
void state_changed(void);
json_t *state_build(void);
void state_restore_begin(struct deskstate *ds);
void state_restore_launch(void);
bool state_restore_match(struct client *c);
/* applies a validated state to the running desktop (takes ds->prefs) */
void state_apply_live(struct deskstate *ds);
void state_export_now(void);

/* ctl.c: the control channel to argobox-session */
void ctl_start(const char *path);
void ctl_send(json_t *msg); /* stolen */
void ctl_stop(void);
/* _ARGOBOX_CTL_REQUEST on the root (settings from apps); true when the event was that. */
bool ctl_handle_property(XPropertyEvent *e);

#endif
