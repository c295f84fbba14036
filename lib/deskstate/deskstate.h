/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * deskstate: the desktop state (docs/desktop-state.md), its strict validator
 * and its JSON form. Free of X: the broker links it (library ab_deskstate) to
 * check a state before storing it or handing it to a session.
 *
 * A state that fails validation is rejected as a whole, with a message that
 * names the JSON path of what was wrong; the caller then boots with
 * deskstate_init_default(). Nothing here trusts its input: every string is
 * checked for type, length and UTF-8, every number for its bounds, every
 * array for its size, and unknown keys are errors.
 */
#ifndef AB_DESKSTATE_H
#define AB_DESKSTATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ab_err.h"

#define DESKSTATE_VERSION        1
#define DESKSTATE_MAX_BYTES      (256u * 1024u) /* encoded state */
#define DESKSTATE_MAX_WINDOWS    64
#define DESKSTATE_MAX_PINNED     32
#define DESKSTATE_MAX_WS         16
#define DESKSTATE_MAX_PREFS      64
#define DESKSTATE_MAX_PREF_KEYS  64
#define DESKSTATE_MAX_PREF_DEPTH 3
#define DESKSTATE_MAX_PREF_BYTES (16u * 1024u)
#define DESKSTATE_NAME_MAX       128 /* class, instance, desktop id, wallpaper (bytes) */
#define DESKSTATE_TITLE_MAX      512 /* bytes of UTF-8 */
#define DESKSTATE_COORD_MIN      (-32768)
#define DESKSTATE_COORD_MAX      32767
#define DESKSTATE_SIZE_MAX       32767
#define DESKSTATE_KBD_MAX        47 /* "layout" or "layout(variant)" (bytes) */
#define DESKSTATE_MAX_KBD        8  /* layouts offered by the taskbar indicator */

enum deskstate_mode {
	DESKSTATE_DARK,
	DESKSTATE_LIGHT,
	DESKSTATE_MODE_MAX,
};

enum deskstate_fit {
	DESKSTATE_FILL, /* cover the screen, cropping */
	DESKSTATE_FIT,  /* whole image visible, letterboxed */
	DESKSTATE_FIT_MAX,
};

enum deskstate_edge {
	DESKSTATE_BOTTOM,
	DESKSTATE_TOP,
	DESKSTATE_EDGE_MAX,
};

struct deskstate_window {
	char wm_class[DESKSTATE_NAME_MAX + 1];    /* WM_CLASS class, e.g. "XTerm" */
	char wm_instance[DESKSTATE_NAME_MAX + 1]; /* WM_CLASS instance, e.g. "xterm" */
	char desktop_id[DESKSTATE_NAME_MAX + 1];  /* "xterm.desktop" or "" */
	char title[DESKSTATE_TITLE_MAX + 1];
	int workspace;  /* 0-based, < workspaces.count */
	int x, y, w, h; /* client area (no decorations), root coordinates, unmaximized */
	bool maximized, minimized, fullscreen;
	int stack; /* 0 = bottom; a permutation of 0..n-1 */
};

struct deskstate {
	int version;
	struct deskstate_window *windows; /* owned, n_windows entries */
	size_t n_windows;
	char wallpaper[DESKSTATE_NAME_MAX + 1]; /* file name in the wallpaper dir, "" = built-in */
	enum deskstate_fit wallpaper_fit;
	enum deskstate_mode mode;
	char accent[8]; /* "#rrggbb" */
	int ws_count, ws_current;
	enum deskstate_edge tb_position;
	bool tb_autohide;
	char pinned[DESKSTATE_MAX_PINNED][DESKSTATE_NAME_MAX + 1];
	size_t n_pinned;
	json_t *prefs; /* owned: {"app": {...}}, validated */
	/* XKB layout, "de" or "us(intl)"; "" = not chosen yet (the browser's is taken) */
	char kbd_layout[DESKSTATE_KBD_MAX + 1];
	char kbd_layouts[DESKSTATE_MAX_KBD][DESKSTATE_KBD_MAX + 1]; /* the indicator's list */
	size_t n_kbd_layouts;
};

/* The defaults a new desktop boots with (dark, blue accent, 4 workspaces). */
void deskstate_init_default(struct deskstate *ds);
void deskstate_free(struct deskstate *ds);

/*
 * Validates `root` strictly and fills *ret (which the caller frees with
 * deskstate_free()). On failure *ret is untouched and err names the path.
 */
int deskstate_from_json(json_t *root, struct deskstate *ret, struct ab_err *err);

/* Parses and validates JSON text of at most DESKSTATE_MAX_BYTES. */
int deskstate_parse(const char *buf, size_t len, struct deskstate *ret, struct ab_err *err);

/* Reads, parses and validates a state file. */
int deskstate_load_file(const char *path, struct deskstate *ret, struct ab_err *err);

/* Validation only (for the broker): 0 when `root` is an acceptable state. */
int deskstate_validate(json_t *root, struct ab_err *err);

/* Encodes a state (new reference). Key order is stable. */
json_t *deskstate_to_json(const struct deskstate *ds);

/* true for "name.desktop" made of [A-Za-z0-9._+-] (no '/', not starting with '.'). */
bool deskstate_valid_desktop_id(const char *s);

/* Replaces every byte that is not part of valid UTF-8 by '?' (in place). */
void deskstate_sanitize_utf8(char *s);

/* true for a plain file name: [A-Za-z0-9._-], no '/', not starting with '.'. */
bool deskstate_valid_file_name(const char *s);

/* true for an XKB layout name: [a-z]{2,12}, optionally "(variant)" of [a-z0-9_]{1,32}. */
bool deskstate_valid_kbd_layout(const char *s);

/* true for "#rrggbb". */
bool deskstate_valid_colour(const char *s);

const char *deskstate_mode_name(enum deskstate_mode m);
const char *deskstate_fit_name(enum deskstate_fit f);
const char *deskstate_edge_name(enum deskstate_edge e);

#endif
