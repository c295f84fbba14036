/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * desktop_entry: freedesktop .desktop entries, free of X: the wm's launcher lists them, the
 * file manager (apps/files) finds the one that opens a file's MIME type.
 *
 * desktop_scan() reads $dir/applications/ for every dir of XDG_DATA_DIRS
 * (earlier dirs win on equal ids), keeps visible Type=Application entries
 * whose id is allowed by the profile's list, and sorts them by name.
 * An allowed list is comma or space separated ids ("xterm.desktop") or
 * bare names ("xterm"); "*" allows everything; NULL or "" allows nothing.
 */
#ifndef AB_DESKTOP_ENTRY_H
#define AB_DESKTOP_ENTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "ab_err.h"

enum desktop_category {
	DESKTOP_CAT_INTERNET,
	DESKTOP_CAT_DEVELOPMENT,
	DESKTOP_CAT_OFFICE,
	DESKTOP_CAT_GRAPHICS,
	DESKTOP_CAT_MEDIA,
	DESKTOP_CAT_SYSTEM,
	DESKTOP_CAT_UTILITY,
	DESKTOP_CAT_OTHER,
	DESKTOP_CAT_MAX,
};

struct desktop_entry {
	char id[129]; /* "xterm.desktop" */
	char name[128];
	char comment[256];
	char exec[512];
	char icon[128];
	char keywords[256];
	char wm_class[128]; /* StartupWMClass */
	char app[64];       /* X-ArgoBox-App: the profile app name it provides ("terminal") */
	enum desktop_category category;
};

struct desktop_list {
	struct desktop_entry *v; /* owned */
	size_t n;
};

/*
 * Parses one .desktop file's text. Returns 0, -ENOENT for an entry that
 * should not be shown (Hidden, NoDisplay, not an Application, no Exec, a TryExec
 * program that is not installed: an absolute path, else looked up on $PATH), or
 * -EINVAL for a malformed one. `id` is copied into the entry.
 */
int desktop_parse(const char *id, const char *text, struct desktop_entry *ret, struct ab_err *err);

bool desktop_allowed(const char *allowed, const char *id);

/*
 * The directories entries are read from, in order: "<dir>/applications" for every dir of `dirs`
 * (colon separated; NULL or "": $XDG_DATA_DIRS, and when that is unset or empty
 * /usr/local/share:/usr/share). A NULL-terminated array, owned: free with
 * desktop_app_dirs_free().
 */
char **desktop_app_dirs(const char *dirs);
void desktop_app_dirs_free(char **v);
static inline void
desktop_app_dirs_freep(char ***v)
{
	desktop_app_dirs_free(*v);
}

/* Scans desktop_app_dirs(dirs). */
void desktop_scan(const char *dirs, const char *allowed, struct desktop_list *ret);
void desktop_list_free(struct desktop_list *l);

/* Case-insensitive match of every word of `query` against name, comment, keywords, id. */
bool desktop_match(const struct desktop_entry *e, const char *query);

/*
 * Splits Exec into an argv (quoting per the spec, field codes such as %f
 * dropped). *ret_argv is NULL-terminated and owned (free with desktop_argv_free).
 */
int desktop_argv(const struct desktop_entry *e, char ***ret_argv, struct ab_err *err);
void desktop_argv_free(char **argv);

/* The entry for an id, or NULL. */
const struct desktop_entry *desktop_find(const struct desktop_list *l, const char *id);

/* The entry a window with this WM_CLASS belongs to (StartupWMClass, id or Exec name), or NULL. */
const struct desktop_entry *desktop_find_class(const struct desktop_list *l, const char *wm_class,
                                               const char *wm_instance);

const char *desktop_category_name(enum desktop_category c);

#endif
