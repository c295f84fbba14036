/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sbsave: a terminal window's scrollback kept in the home, so that the window a restored
 * desktop layout starts again shows what it showed (docs/apps.md, "Scrollback restore").
 * No X, no vterm: unit-tested.
 *
 * Each window has a key, "terminal-" and 8 hex digits, which is also its WM_CLASS instance: the
 * desktop state keeps it, and argobox-wm hands it back when it restores the window
 * (ARGOBOX_RESTORE_INSTANCE). The text is ~/.local/state/argobox/terminal/<key>.txt
 * ($XDG_STATE_HOME when set), plain UTF-8 lines, at most SBSAVE_MAX_BYTES (the newest lines),
 * written atomically with mode 0600. A window with several tabs keeps one text per tab, in the
 * tabs' order: tab 0 in <key>.txt, tab n (1..SBSAVE_TABS_MAX-1) in <key>.<n>.txt. What
 * else comes back with the window — which tab was shown, each tab's title and working
 * directory — is in <key>.tabs.json (sbsave_meta_*), same directory, same mode.
 */
#ifndef TERM_SBSAVE_H
#define TERM_SBSAVE_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct ab_err;

#define SBSAVE_MAX_BYTES (256u << 10)
#define SBSAVE_KEY_LEN   17 /* "terminal-" + 8 hex */
#define SBSAVE_TABS_MAX  16 /* tabs of one window */
#define SBSAVE_TITLE_MAX 128
#define SBSAVE_CWD_MAX   4096

/* What a tab gets back besides its text: its title ("" none) and its shell's directory ("" none).
 */
struct sbsave_tab {
	char title[SBSAVE_TITLE_MAX];
	char cwd[SBSAVE_CWD_MAX];
};

/* "terminal-" followed by exactly 8 lower-case hex digits. */
bool sbsave_key_valid(const char *key);
/* A new random key into out (SBSAVE_KEY_LEN + 1 bytes). */
void sbsave_key_new(char *out);
/* The directory the texts live in, owned; NULL without $HOME (and $XDG_STATE_HOME). */
char *sbsave_dir(void);
/*
 * <dir>/<key>.txt (tab 0) or <dir>/<key>.<tab>.txt, owned; NULL when the key is not valid, the
 * tab is not in 0..SBSAVE_TABS_MAX-1 or there is no directory.
 */
char *sbsave_path(const char *key, int tab);

/*
 * Writes `text` (len bytes; only its last SBSAVE_MAX_BYTES, from a line start) to the file of
 * the key's tab, creating the directory. 0 or -errno with err set.
 */
int sbsave_write(const char *key, int tab, const char *text, size_t len, struct ab_err *err);
/*
 * The saved text of the key's tab (owned, NUL-terminated, at most SBSAVE_MAX_BYTES), with every
 * control character but newline and tab replaced by '?' (it is fed to the terminal as text), and
 * its modification time. -ENOENT when there is none.
 */
int sbsave_read(const char *key, int tab, char **ret_text, size_t *ret_len, time_t *ret_mtime,
                struct ab_err *err);
/*
 * The window's tabs file as JSON text (owned): {"active": A, "tabs": [{"title", "cwd"}...]}.
 * ntabs 1..SBSAVE_TABS_MAX, active 0..ntabs-1 (asserted).
 */
char *sbsave_meta_dump(int active, int ntabs, const struct sbsave_tab *tabs);
/* Writes text from sbsave_meta_dump() to <key>.tabs.json atomically, 0600. 0 or -errno. */
int sbsave_meta_write(const char *key, const char *text, struct ab_err *err);
/*
 * Reads <key>.tabs.json into tabs[0..SBSAVE_TABS_MAX-1] (not followed when a symlink; at most
 * 256 KiB). A title with control characters has them replaced by '?'; a cwd that is not an
 * absolute path is left "". -ENOENT when there is none, -EINVAL naming what is wrong (bad
 * JSON, "active" out of range, a member of the wrong type); ret_ untouched on failure.
 */
int sbsave_meta_read(const char *key, int *ret_active, int *ret_ntabs, struct sbsave_tab *tabs,
                     struct ab_err *err);
/*
 * Removes the files of the key's tabs from `from_tab` on (0: the window's, closed by its user,
 * its tabs file too).
 */
void sbsave_remove(const char *key, int from_tab);
/* Removes saved texts not modified for max_age seconds (windows no layout will restore). */
void sbsave_prune(time_t max_age);
#endif
