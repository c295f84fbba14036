/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * term: libvterm on a pty, drawn with cairo (termfont.h: no pango) into an ab_app window.
 *
 * Lines are addressed by an absolute index: 0..sb.count-1 are the scrollback
 * (oldest first), sb.count.. the screen rows. The view shows `rows` lines
 * ending `view_off` lines above the bottom. The selection and search results
 * are (line, column) pairs in that space.
 *
 * Drawing is paced: output that keeps coming (cat of a big file) is painted at
 * most every FRAME_MS; a lone keystroke's echo is painted in the same loop round.
 */
#include "term.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_text.h"
#include "ab_util.h"
#include "sbsave.h"
#include "termfont.h"
#include "scrollback.h"

#include <X11/Xutil.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vterm.h>

#define FRAME_MS   16
#define READ_MAX   (256u << 10) /* per loop round, so X events still get their turn */
#define PAD        4
#define SEARCH_MAX 128
#define TABS_MAX   SBSAVE_TABS_MAX
#define TAB_H      30 /* the tab bar */
#define TAB_W_MAX  220

struct term_win;

/* One tab: a terminal (libvterm, its pty and child, scrollback, selection, search). */
struct term {
	struct term_win *win;
	VTerm *vt;
	VTermScreen *vs;
	struct scrollback sb;
	int rows, cols;
	int font_px;
	int cell_w, cell_h, ascent;
	bool metrics_ok;
	int pty;
	pid_t child;
	struct ab_watch *pty_watch;
	char *out;
	size_t out_len;
	VTermPos cursor;
	bool cursor_visible;
	int mouse_mode;
	size_t view_off;
	/* selection: anchor and head, absolute lines */
	bool selecting, has_sel;
	long sel_l0, sel_c0, sel_l1, sel_c1;
	/* search bar */
	bool searching;
	char query[SEARCH_MAX];
	long found_line;
	char status[96];
	int exit_status;
	struct sb_cell *scratch; /* one line being pushed to the scrollback */
	size_t scratch_cap;
	char title[128]; /* the program's title (OSC 0/2), "" for none */
	bool save_dirty; /* changed since its text was last saved */
	bool exited;     /* its program exited: the window reaps the tab */
	bool activity;   /* output while another tab was shown */
	char *start_cwd; /* a restored tab's shell starts here (owned), NULL: the home */
};

/*
 * The window: its tabs (at least one while the loop runs), the one shown, and the tab bar
 * (TAB_H pixels at the top, shown from two tabs on).
 */
struct term_win {
	struct ab_app app;
	struct term *tabs[TABS_MAX];
	int ntabs, active;
	int bar_h;
	int font_px;
	struct termfont font; /* at font_px, shared by the tabs */
	char *const *argv;    /* each tab's command; NULL: the user's shell */
	struct ab_timer *frame_timer, *reap_timer;
	int64_t last_paint;
	/* scrollback restore (sbsave.h): the window's key, saved every SAVE_MS when changed */
	char key[SBSAVE_KEY_LEN + 1];
	struct ab_timer *save_timer;
	char *meta_saved; /* the tabs file as last written (owned), to write it only on change */
	struct ab_timer *trim_timer;
	bool busy; /* output or input since the last trim */
};

#define TOP(t) (PAD + (t)->win->bar_h)

static struct term *
term_cur(struct ab_app *app)
{
	struct term_win *w = app->data;
	return w->tabs[w->active];
}

static void term_tab_add(struct term_win *w);
static void term_tab_close(struct term_win *w, int i);
static void term_switch(struct term_win *w, int i);
static void term_tab_button(struct term_win *w, int button, int x);
static void term_draw_tabs(struct term_win *w, cairo_t *cr, int width);

/* ---- colours ---- */

static uint32_t
color_pack(struct term *t, VTermColor c, bool fg)
{
	if ((fg && VTERM_COLOR_IS_DEFAULT_FG(&c)) || (!fg && VTERM_COLOR_IS_DEFAULT_BG(&c)))
		return SB_DEFAULT;
	vterm_screen_convert_color_to_rgb(t->vs, &c);
	return ((uint32_t)c.rgb.red << 16) | ((uint32_t)c.rgb.green << 8) | c.rgb.blue;
}

static void
cell_from_vterm(struct term *t, const VTermScreenCell *v, struct sb_cell *o)
{
	o->ch[0] = v->chars[0];
	o->ch[1] = v->chars[0] ? v->chars[1] : 0;
	o->width = (uint8_t)v->width;
	o->fg = color_pack(t, v->fg, true);
	o->bg = color_pack(t, v->bg, false);
	o->attr = (uint8_t)((v->attrs.bold ? SB_BOLD : 0) | (v->attrs.italic ? SB_ITALIC : 0) |
	                    (v->attrs.underline ? SB_UNDERLINE : 0) |
	                    (v->attrs.reverse ? SB_REVERSE : 0));
}

/* Cell (line, col) in the absolute line space; false when outside. */
static bool
term_cell(struct term *t, long line, int col, struct sb_cell *o)
{
	memset(o, 0, sizeof(*o));
	o->fg = o->bg = SB_DEFAULT;
	o->width = 1;
	if (line < 0 || col < 0)
		return false;
	if ((size_t)line < t->sb.count) {
		const struct sb_line *l = sb_get(&t->sb, (size_t)line);
		if (col >= l->cols)
			return false;
		*o = l->cells[col];
		return true;
	}
	long r = line - (long)t->sb.count;
	if (r >= t->rows || col >= t->cols)
		return false;
	VTermScreenCell c;
	vterm_screen_get_cell(t->vs, (VTermPos){.row = (int)r, .col = col}, &c);
	cell_from_vterm(t, &c, o);
	return true;
}

static long
term_lines(const struct term *t)
{
	return (long)t->sb.count + t->rows;
}

/* The text of one absolute line, columns [c0, c1), trailing blanks cut. */
static size_t
term_line_text(struct term *t, long line, int c0, int c1, char *out, size_t size)
{
	size_t o = 0, keep = 0;
	for (int c = c0; c < c1; c++) {
		struct sb_cell cell;
		if (!term_cell(t, line, c, &cell) || !sb_cell_text(&cell, out, size, &o, &keep))
			break;
	}
	out[keep] = '\0';
	return keep;
}

/* ---- the pty ---- */

static void term_pty_io(struct ab_loop *loop, int fd, unsigned events, void *data);

static void
term_flush_out(struct term *t)
{
	while (t->out_len > 0) {
		ssize_t n = write(t->pty, t->out, t->out_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: the loop tells us when it can take more */
		}
		memmove(t->out, t->out + n, t->out_len - (size_t)n);
		t->out_len -= (size_t)n;
	}
	if (t->pty_watch)
		ab_loop_watch_update(t->win->app.loop, t->pty_watch,
		                     AB_LOOP_READ | (t->out_len ? AB_LOOP_WRITE : 0));
}

static void
term_vterm_output(const char *s, size_t len, void *user)
{
	struct term *t = user;
	t->out = ab_xrealloc(t->out, t->out_len + len);
	memcpy(t->out + t->out_len, s, len);
	t->out_len += len;
}

static void
term_send_pending(struct term *t)
{
	if (t->out_len)
		term_flush_out(t);
}

static int64_t
term_frame_due(struct ab_loop *loop, void *data)
{
	struct term_win *w = data;
	w->frame_timer = NULL;
	ab_app_redraw(&w->app);
	return AB_TIMER_STOP;
}

/* New output in t: painted now, or at the next frame when the last paint was too recent. */
static void
term_damaged(struct term *t)
{
	struct term_win *w = t->win;
	if (w->tabs[w->active] != t) {
		if (!t->activity) {
			t->activity = true; /* a mark on its tab */
			ab_app_redraw(&w->app);
		}
		return;
	}
	int64_t now = ab_now_ms();
	if (now - w->last_paint >= FRAME_MS) {
		ab_app_redraw(&w->app);
	} else if (!w->frame_timer) {
		w->frame_timer =
		    ab_loop_timer(w->app.loop, FRAME_MS - (now - w->last_paint), term_frame_due, w);
	}
}

static int64_t term_reap(struct ab_loop *loop, void *data);

static void
term_pty_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct term *t = data;
	if (events & AB_LOOP_WRITE)
		term_flush_out(t);
	if (!(events & (AB_LOOP_READ | AB_LOOP_ERROR)))
		return;
	static char buf[64 << 10];
	size_t total = 0;
	while (total < READ_MAX) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			vterm_input_write(t->vt, buf, (size_t)n);
			total += (size_t)n;
			t->save_dirty = true;
			t->win->busy = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EIO or EOF: the program exited */
		int st = 0;
		if (t->child > 0 && waitpid(t->child, &st, 0) == t->child)
			t->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		t->child = -1;
		t->exited = true;
		ab_loop_unwatch(t->win->app.loop, t->pty_watch);
		t->pty_watch = NULL;
		if (!t->win->reap_timer)
			t->win->reap_timer = ab_loop_timer(t->win->app.loop, 0, term_reap, t->win);
		return;
	}
	vterm_screen_flush_damage(t->vs);
	term_send_pending(t);
	if (total) {
		if (t->view_off && t->view_off < t->sb.count) {
			/* the view stays put while scrolled back */
		} else {
			t->view_off = 0;
		}
		term_damaged(t);
	}
}

static void
term_pty_resize(struct term *t)
{
	struct winsize ws = {.ws_row = (unsigned short)t->rows, .ws_col = (unsigned short)t->cols};
	ioctl(t->pty, TIOCSWINSZ, &ws);
}

static int
term_spawn(struct term *t, struct ab_err *err)
{
	char *const *argv = t->win->argv;
	struct winsize ws = {.ws_row = (unsigned short)t->rows, .ws_col = (unsigned short)t->cols};
	int fd = -1;
	pid_t pid = forkpty(&fd, NULL, NULL, &ws);
	if (pid < 0)
		return ab_err_errno(err, errno, "forkpty");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		setenv("TERM", "xterm-256color", 1);
		setenv("COLORTERM", "truecolor", 1);
		unsetenv("COLUMNS");
		unsetenv("LINES");
		if (argv) {
			execvp(argv[0], argv);
			fprintf(stderr, "argobox-terminal: cannot run '%s': %s\n", argv[0],
			        strerror(errno));
			_exit(127);
		}
		const char *home = getenv("HOME");
		struct passwd *pw = getpwuid(getuid());
		if (!home && pw)
			home = pw->pw_dir;
		const char *shell = getenv("SHELL");
		if (!shell || !shell[0])
			shell = pw && pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh";
		if (access(shell, X_OK) < 0)
			shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
		/* a restored tab: its shell's directory, when it still is one we may enter */
		const char *cwd = t->start_cwd;
		if (cwd && chdir(cwd) == 0) {
			setenv("PWD", cwd, 1);
		} else if (home) {
			if (chdir(home) == 0)
				setenv("PWD", home, 1);
		}
		if (home) {
			/* bash: write each command to the history file as it runs */
			char hist[4096];
			snprintf(hist, sizeof(hist), "%s/.bash_history", home);
			setenv("HISTFILE", hist, 0);
		}
		const char *pc = getenv("PROMPT_COMMAND");
		char prompt[1024];
		snprintf(prompt, sizeof(prompt), "history -a%s%s", pc && pc[0] ? "; " : "",
		         pc ? pc : "");
		setenv("PROMPT_COMMAND", prompt, 1);
		setenv("BASHOPTS", "histappend", 1); /* bash turns these options on at start */
		setenv("HISTSIZE", "10000", 0);
		setenv("HISTFILESIZE", "100000", 0);
		const char *base = strrchr(shell, '/');
		char arg0[64];
		snprintf(arg0, sizeof(arg0), "%s", base ? base + 1 : shell);
		execl(shell, arg0, (char *)NULL);
		_exit(127);
	}
	ab_fd_set_nonblock(fd, true);
	ab_fd_set_cloexec(fd, true);
	t->pty = fd;
	t->child = pid;
	return 0;
}

/* ---- vterm screen callbacks ---- */

static int
cb_damage(VTermRect rect, void *user)
{
	return 1;
}

static int
cb_movecursor(VTermPos pos, VTermPos old, int visible, void *user)
{
	struct term *t = user;
	t->cursor = pos;
	return 1;
}

static int
cb_settermprop(VTermProp prop, VTermValue *val, void *user)
{
	struct term *t = user;
	switch (prop) {
	case VTERM_PROP_CURSORVISIBLE:
		t->cursor_visible = val->boolean;
		break;
	case VTERM_PROP_MOUSE:
		t->mouse_mode = val->number;
		break;
	case VTERM_PROP_TITLE:
		if (val->string) {
			snprintf(t->title, sizeof(t->title), "%s", val->string);
			text_sanitize(t->title);
			if (t == t->win->tabs[t->win->active])
				ab_app_set_title(&t->win->app, t->title);
			ab_app_redraw(&t->win->app); /* the tab's label */
		}
		break;
	default:
		break;
	}
	return 1;
}

static int
cb_sb_pushline(int cols, const VTermScreenCell *cells, void *user)
{
	struct term *t = user;
	if ((size_t)cols > t->scratch_cap) {
		t->scratch_cap = (size_t)cols;
		t->scratch = ab_xrealloc(t->scratch, t->scratch_cap * sizeof(*t->scratch));
	}
	struct sb_cell *c = t->scratch;
	for (int i = 0; i < cols; i++)
		cell_from_vterm(t, &cells[i], &c[i]);
	bool full = t->sb.count == t->sb.cap;
	sb_push(&t->sb, c, (size_t)cols);
	if (t->view_off && !full)
		t->view_off++; /* keep what the user is reading in place */
	if (t->has_sel && full) {
		t->sel_l0--;
		t->sel_l1--;
	}
	return 1;
}

static int
cb_sb_popline(int cols, VTermScreenCell *cells, void *user)
{
	struct term *t = user;
	_cleanup_free_ struct sb_line *l = sb_pop(&t->sb);
	if (!l)
		return 0;
	for (int i = 0; i < cols; i++) {
		VTermScreenCell *o = &cells[i];
		memset(o, 0, sizeof(*o));
		o->width = 1;
		vterm_color_rgb(&o->fg, 0, 0, 0);
		o->fg.type = VTERM_COLOR_DEFAULT_FG;
		o->bg.type = VTERM_COLOR_DEFAULT_BG;
		if (i < l->cols) {
			const struct sb_cell *s = &l->cells[i];
			o->chars[0] = s->ch[0];
			o->chars[1] = s->ch[1];
			o->width = (char)s->width;
			if (!(s->fg & SB_DEFAULT))
				vterm_color_rgb(&o->fg, (s->fg >> 16) & 0xff, (s->fg >> 8) & 0xff,
				                s->fg & 0xff);
			if (!(s->bg & SB_DEFAULT))
				vterm_color_rgb(&o->bg, (s->bg >> 16) & 0xff, (s->bg >> 8) & 0xff,
				                s->bg & 0xff);
			o->attrs.bold = !!(s->attr & SB_BOLD);
			o->attrs.italic = !!(s->attr & SB_ITALIC);
			o->attrs.underline = !!(s->attr & SB_UNDERLINE);
			o->attrs.reverse = !!(s->attr & SB_REVERSE);
		}
	}
	return 1;
}

static const VTermScreenCallbacks screen_cbs = {
    .damage = cb_damage,
    .movecursor = cb_movecursor,
    .settermprop = cb_settermprop,
    .sb_pushline = cb_sb_pushline,
    .sb_popline = cb_sb_popline,
};

/* ---- metrics and size ---- */

static void
term_set_font(struct term *t)
{
	t->metrics_ok = false;
}

/* The window's font at the tab's size (opened again when the size changed) and its cell. */
static void
term_metrics(struct term *t)
{
	struct termfont *f = &t->win->font, nf;
	if (f->px != t->font_px) {
		if (termfont_open(&nf, t->font_px) == 0) {
			termfont_close(f);
			*f = nf;
		} else {
			ab_warn("no monospace font at %d px: staying at %d px", t->font_px, f->px);
			t->font_px = t->win->font_px = f->px;
		}
	}
	t->cell_w = f->cell_w;
	t->cell_h = f->cell_h;
	t->ascent = f->ascent;
	t->metrics_ok = true;
}

static void
term_resize_grid(struct term *t)
{
	if (!t->metrics_ok)
		term_metrics(t);
	int bar = t->searching ? t->cell_h + 8 : 0;
	int cols = AB_MAX(2, (t->win->app.w - 2 * PAD) / t->cell_w);
	int rows = AB_MAX(1, (t->win->app.h - 2 * PAD - bar - t->win->bar_h) / t->cell_h);
	if (cols == t->cols && rows == t->rows)
		return;
	t->cols = cols;
	t->rows = rows;
	vterm_set_size(t->vt, rows, cols);
	vterm_screen_flush_damage(t->vs);
	if (t->pty >= 0)
		term_pty_resize(t);
	if (t->view_off > t->sb.count)
		t->view_off = t->sb.count;
}

/* Every tab's grid for the window's size (and the tab bar shown from two tabs on). */
static void
term_resize_all(struct term_win *w)
{
	w->bar_h = w->ntabs > 1 ? TAB_H : 0;
	for (int i = 0; i < w->ntabs; i++)
		term_resize_grid(w->tabs[i]);
}

/* ---- drawing ---- */

static void
set_rgb(cairo_t *cr, uint32_t c)
{
	cairo_set_source_rgb(cr, ((c >> 16) & 0xff) / 255.0, ((c >> 8) & 0xff) / 255.0,
	                     (c & 0xff) / 255.0);
}

static uint32_t
theme_rgb(const double *c)
{
	return ((uint32_t)(c[0] * 255 + 0.5) << 16) | ((uint32_t)(c[1] * 255 + 0.5) << 8) |
	       (uint32_t)(c[2] * 255 + 0.5);
}

/* The selection's ends in reading order: from line a, column ac to line b, column bc. */
static void
term_sel_range(const struct term *t, long *a, long *ac, long *b, long *bc)
{
	bool swap = t->sel_l0 > t->sel_l1 || (t->sel_l0 == t->sel_l1 && t->sel_c0 > t->sel_c1);
	*a = swap ? t->sel_l1 : t->sel_l0;
	*ac = swap ? t->sel_c1 : t->sel_c0;
	*b = swap ? t->sel_l0 : t->sel_l1;
	*bc = swap ? t->sel_c0 : t->sel_c1;
}

static bool
in_selection(const struct term *t, long line, int col)
{
	if (!t->has_sel)
		return false;
	long a, ac, b, bc;
	term_sel_range(t, &a, &ac, &b, &bc);
	if (line < a || line > b)
		return false;
	if (line == a && col < ac)
		return false;
	if (line == b && col >= bc)
		return false;
	return true;
}

/* Printable ASCII s[0..n) from column x (a run of cells). */
static void
draw_run(struct term *t, cairo_t *cr, const char *s, size_t n, bool bold, uint32_t fg, double x,
         double y)
{
	set_rgb(cr, fg);
	termfont_ascii(&t->win->font, cr, s, n, bold, x, y);
}

/* One cell's characters (base and combining mark) at (x, y). */
static void
draw_cell(struct term *t, cairo_t *cr, const struct sb_cell *cell, bool bold, uint32_t fg, double x,
          double y)
{
	set_rgb(cr, fg);
	termfont_cell(&t->win->font, cr, cell->ch, 2, bold, x, y);
}

static void
term_draw(struct ab_app *app, cairo_t *cr, int w, int h)
{
	struct term *t = term_cur(app);
	if (!t->metrics_ok)
		term_metrics(t);
	uint32_t dbg = theme_rgb(app->theme.bg), dfg = theme_rgb(app->theme.text);
	uint32_t acc = theme_rgb(app->theme.accent);
	set_rgb(cr, dbg);
	cairo_paint(cr);

	long first = term_lines(t) - t->rows - (long)t->view_off;
	char run[1024];
	for (int r = 0; r < t->rows; r++) {
		long line = first + r;
		double y = TOP(t) + r * t->cell_h;
		/* backgrounds and selection */
		for (int c = 0; c < t->cols; c++) {
			struct sb_cell cell;
			if (!term_cell(t, line, c, &cell))
				break;
			uint32_t bg = cell.bg & SB_DEFAULT ? dbg : cell.bg;
			uint32_t fg = cell.fg & SB_DEFAULT ? dfg : cell.fg;
			if (cell.attr & SB_REVERSE)
				bg = fg;
			if (in_selection(t, line, c))
				bg = acc;
			if (bg != dbg) {
				set_rgb(cr, bg);
				cairo_rectangle(cr, PAD + c * t->cell_w, y,
				                t->cell_w * AB_MAX(1, cell.width), t->cell_h);
				cairo_fill(cr);
			}
		}
		/* text: runs of printable ASCII in one layout; anything else one cell at a time at
		 * its column, so wide characters and fallback fonts never shift the grid */
		size_t rn = 0;
		int run_col = 0;
		uint32_t run_fg = 0;
		bool run_bold = false;
		for (int c = 0; c <= t->cols; c++) {
			struct sb_cell cell;
			bool have = c < t->cols && term_cell(t, line, c, &cell);
			uint32_t fg = 0;
			bool bold = false, ascii = false;
			if (have) {
				uint32_t bg = cell.bg & SB_DEFAULT ? dbg : cell.bg;
				fg = cell.fg & SB_DEFAULT ? dfg : cell.fg;
				if (cell.attr & SB_REVERSE)
					fg = bg;
				if (in_selection(t, line, c))
					fg = 0xffffff;
				bold = cell.attr & SB_BOLD;
				ascii = cell.width == 1 && cell.ch[0] >= 0x21 &&
				        cell.ch[0] < 0x7f && !cell.ch[1];
			}
			bool blank =
			    have && cell.width == 1 && (cell.ch[0] == 0 || cell.ch[0] == ' ');
			if (rn && (!have || (!ascii && !blank) || fg != run_fg ||
			           bold != run_bold || rn + 2 >= sizeof(run))) {
				draw_run(t, cr, run, rn, run_bold, run_fg,
				         PAD + run_col * t->cell_w, y);
				rn = 0;
			}
			if (!have)
				break;
			if (ascii || (blank && rn)) {
				if (!rn) {
					run_col = c;
					run_fg = fg;
					run_bold = bold;
				}
				run[rn++] = blank ? ' ' : (char)cell.ch[0];
			} else if (!blank && cell.width > 0 && cell.ch[0]) {
				draw_cell(t, cr, &cell, bold, fg, PAD + c * t->cell_w, y);
			}
			if (have && (cell.attr & SB_UNDERLINE) && cell.width) {
				set_rgb(cr, fg);
				cairo_rectangle(cr, PAD + c * t->cell_w, y + t->ascent + 1,
				                t->cell_w * cell.width, 1);
				cairo_fill(cr);
			}
		}
	}
	/* cursor */
	if (t->cursor_visible && t->view_off == 0 && !t->searching) {
		double cx = PAD + t->cursor.col * t->cell_w,
		       cy = TOP(t) + t->cursor.row * t->cell_h;
		set_rgb(cr, acc);
		if (app->focused) {
			cairo_rectangle(cr, cx, cy, t->cell_w, t->cell_h);
			cairo_fill(cr);
			struct sb_cell cell;
			if (term_cell(t, (long)t->sb.count + t->cursor.row, t->cursor.col, &cell) &&
			    cell.ch[0] > ' ') {
				draw_cell(t, cr, &cell, false, 0xffffff, cx, cy);
			}
		} else {
			cairo_set_line_width(cr, 1);
			cairo_rectangle(cr, cx + 0.5, cy + 0.5, t->cell_w - 1, t->cell_h - 1);
			cairo_stroke(cr);
		}
		ab_app_set_spot(app, (int)cx, (int)cy + t->ascent);
	}
	/* scroll position */
	if (t->view_off) {
		char s[64];
		snprintf(s, sizeof(s), "−%zu", t->view_off);
		ab_draw_rgb(cr, app->theme.accent);
		termfont_ui_text(cr, app->theme.font, s, w - 90, TOP(t), 86);
	}
	/* search bar */
	if (t->searching) {
		int bh = t->cell_h + 8;
		ab_draw_rgb(cr, app->theme.panel);
		cairo_rectangle(cr, 0, h - bh, w, bh);
		cairo_fill(cr);
		ab_draw_focus_ring(cr, &app->theme, 2, h - bh + 1, w - 4, bh - 2);
		char s[SEARCH_MAX + 120];
		snprintf(s, sizeof(s), "Find: %s▏  %s", t->query, t->status);
		ab_draw_rgb(cr, app->theme.text);
		termfont_ui_text(cr, app->theme.font, s, 10, h - bh + 4, w - 20);
	}
	term_draw_tabs(t->win, cr, w);
	t->win->last_paint = ab_now_ms();
}

/* ---- selection, copy, paste ---- */

static char *
term_selection_text(struct term *t, size_t *ret_len)
{
	long a, ac, b, bc;
	term_sel_range(t, &a, &ac, &b, &bc);
	size_t cap = 4096, len = 0;
	char *out = ab_xmalloc(cap);
	char line[8192];
	for (long ln = a; ln <= b; ln++) {
		int c0 = ln == a ? (int)ac : 0, c1 = ln == b ? (int)bc : t->cols;
		size_t n = term_line_text(t, ln, c0, c1, line, sizeof(line));
		if (len + n + 2 > cap) {
			cap = (len + n + 2) * 2;
			out = ab_xrealloc(out, cap);
		}
		memcpy(out + len, line, n);
		len += n;
		if (ln != b)
			out[len++] = '\n';
	}
	out[len] = '\0';
	*ret_len = len;
	return out;
}

static void
term_paste(struct ab_app *app, enum ab_sel which, const char *text, size_t len)
{
	struct term *t = term_cur(app);
	/* bracketed paste when the program asked for it (vterm adds ESC[200~ / ESC[201~) */
	vterm_keyboard_start_paste(t->vt);
	_cleanup_free_ char *conv = ab_xmalloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		conv[i] = text[i] == '\n' ? '\r' : text[i];
	term_vterm_output(conv, len, t);
	vterm_keyboard_end_paste(t->vt);
	term_send_pending(t);
	t->view_off = 0;
}

static void
term_pos(struct term *t, int x, int y, long *line, long *col)
{
	int c = (x - PAD + t->cell_w / 2) / AB_MAX(1, t->cell_w);
	int r = (y - TOP(t)) / AB_MAX(1, t->cell_h);
	*col = AB_MAX(0, AB_MIN(c, t->cols));
	r = AB_MAX(0, AB_MIN(r, t->rows - 1));
	*line = term_lines(t) - t->rows - (long)t->view_off + r;
}

/*
 * Ctrl+click on an http(s) URL: xdg-open when the desktop has it, else the URL goes to
 * CLIPBOARD (to paste into the browser the desktop runs in).
 */
static void
term_open_url(struct term *t, long line, int col)
{
	char text[8192];
	size_t len = 0, at = SIZE_MAX;
	for (int c = 0; c < t->cols; c++) {
		struct sb_cell cell;
		if (!term_cell(t, line, c, &cell))
			break;
		if (c == col)
			at = len;
		if (cell.width == 0)
			continue;
		uint32_t cp = cell.ch[0] ? cell.ch[0] : ' ';
		char u[4];
		size_t n = text_utf8_encode(cp, u);
		if (len + n >= sizeof(text))
			break;
		memcpy(text + len, u, n);
		len += n;
	}
	size_t s, e;
	if (at == SIZE_MAX || !text_url_at(text, len, at, &s, &e))
		return;
	_cleanup_free_ char *url = ab_xstrndup(text + s, e - s);
	ab_app_open_url(&t->win->app, url);
}

static VTermModifier
term_mod(unsigned state)
{
	VTermModifier m = VTERM_MOD_NONE;
	if (state & ShiftMask)
		m |= VTERM_MOD_SHIFT;
	if (state & ControlMask)
		m |= VTERM_MOD_CTRL;
	if (state & Mod1Mask)
		m |= VTERM_MOD_ALT;
	return m;
}

static void
term_button(struct ab_app *app, int button, bool press, int x, int y, unsigned state)
{
	struct term *t = term_cur(app);
	struct term_win *w = app->data;
	if (y < w->bar_h) {
		if (press)
			term_tab_button(w, button, x);
		return;
	}
	if (t->mouse_mode && !(state & ShiftMask)) {
		int c = AB_MAX(0, (x - PAD) / t->cell_w), r = AB_MAX(0, (y - TOP(t)) / t->cell_h);
		vterm_mouse_move(t->vt, r, c, term_mod(state));
		vterm_mouse_button(t->vt, button, press, term_mod(state));
		term_send_pending(t);
		return;
	}
	if (button == 4 || button == 5) {
		if (press) {
			long d = button == 4 ? 3 : -3;
			long v = (long)t->view_off + d;
			t->view_off = (size_t)AB_MAX(0, AB_MIN(v, (long)t->sb.count));
			ab_app_redraw(app);
		}
		return;
	}
	if (button == 2 && press) {
		ab_app_paste(app, AB_SEL_PRIMARY);
		return;
	}
	if (button != 1)
		return;
	long line, col;
	term_pos(t, x, y, &line, &col);
	if (press && (state & ControlMask)) {
		int c = AB_MAX(0, (x - PAD) / AB_MAX(1, t->cell_w));
		term_open_url(t, line, c);
		return;
	}
	if (press) {
		t->selecting = true;
		t->has_sel = false;
		t->sel_l0 = t->sel_l1 = line;
		t->sel_c0 = t->sel_c1 = col;
	} else if (t->selecting) {
		t->selecting = false;
		t->sel_l1 = line;
		t->sel_c1 = col;
		t->has_sel = t->sel_l0 != t->sel_l1 || t->sel_c0 != t->sel_c1;
		if (t->has_sel) {
			size_t n;
			_cleanup_free_ char *s = term_selection_text(t, &n);
			ab_app_own(app, AB_SEL_PRIMARY, s, n);
		}
	}
	ab_app_redraw(app);
}

static void
term_motion(struct ab_app *app, int x, int y, unsigned state)
{
	struct term *t = term_cur(app);
	if (t->mouse_mode >= VTERM_PROP_MOUSE_DRAG && !(state & ShiftMask)) {
		int c = AB_MAX(0, (x - PAD) / t->cell_w), r = AB_MAX(0, (y - TOP(t)) / t->cell_h);
		vterm_mouse_move(t->vt, r, c, term_mod(state));
		term_send_pending(t);
		return;
	}
	if (!t->selecting)
		return;
	long line, col;
	term_pos(t, x, y, &line, &col);
	t->sel_l1 = line;
	t->sel_c1 = col;
	t->has_sel = true;
	ab_app_redraw(app);
}

static void
term_sel_lost(struct ab_app *app, enum ab_sel which)
{
	struct term *t = term_cur(app);
	if (which == AB_SEL_PRIMARY && t->has_sel) {
		t->has_sel = false;
		ab_app_redraw(app);
	}
}

/* ---- search ---- */

/* Searches upwards from the line above `from` (wrapping to the bottom) for the query. */
static void
term_search(struct term *t, long from)
{
	long n = term_lines(t);
	char line[8192];
	if (!t->query[0])
		return;
	for (long k = 1; k <= n; k++) {
		long ln = ((from - k) % n + n) % n;
		size_t len = term_line_text(t, ln, 0, 65535, line, sizeof(line));
		long at = text_find_ci(line, len, t->query);
		if (at < 0)
			continue;
		t->found_line = ln;
		/* the match becomes the selection; column = characters before it */
		long col = 0;
		for (long i = 0; i < at; i++)
			col += ((unsigned char)line[i] & 0xC0) != 0x80;
		long qn = 0;
		for (const char *p = t->query; *p; p++)
			qn += ((unsigned char)*p & 0xC0) != 0x80;
		t->has_sel = true;
		t->sel_l0 = t->sel_l1 = ln;
		t->sel_c0 = col;
		t->sel_c1 = col + qn;
		long bottom = term_lines(t) - 1;
		long off = bottom - ln - t->rows / 2;
		t->view_off = (size_t)AB_MAX(0, AB_MIN(off, (long)t->sb.count));
		snprintf(t->status, sizeof(t->status), "line %ld of %ld", ln + 1, n);
		return;
	}
	t->found_line = -1;
	snprintf(t->status, sizeof(t->status), "not found");
}

static void
term_search_key(struct term *t, KeySym sym, const char *text, size_t len)
{
	if (sym == XK_Escape) {
		t->searching = false;
		t->view_off = 0;
		term_resize_grid(t);
	} else if (sym == XK_Return || sym == XK_KP_Enter) {
		term_search(t, t->found_line >= 0 ? t->found_line : term_lines(t));
	} else if (sym == XK_BackSpace) {
		size_t n = strlen(t->query);
		t->query[text_utf8_prev(t->query, n)] = '\0';
		t->found_line = -1;
	} else if (len && (unsigned char)text[0] >= 0x20 && strlen(t->query) + len < SEARCH_MAX) {
		strncat(t->query, text, len);
		t->found_line = -1;
		term_search(t, term_lines(t));
	}
	ab_app_redraw(&t->win->app);
}

/* ---- keys ---- */

/* The font size of every tab of the window. */
static void
term_zoom(struct term *t, int px)
{
	struct term_win *w = t->win;
	w->font_px = AB_MAX(6, AB_MIN(72, px));
	for (int i = 0; i < w->ntabs; i++) {
		w->tabs[i]->font_px = w->font_px;
		term_set_font(w->tabs[i]);
	}
	term_resize_all(w);
	ab_app_redraw(&w->app);
}

/*
 * The tab keys: Ctrl+Shift+T new tab, Ctrl+Shift+W close the tab, Ctrl+Page Up/Down and
 * Ctrl+(Shift+)Tab the tab before/after, Alt+1..9 tab n. True when handled.
 */
static bool
term_tab_key(struct term_win *w, KeySym lower, bool ctrl, bool shift, bool alt)
{
	int n = w->ntabs;
	if (ctrl && shift && lower == XK_t) {
		term_tab_add(w);
	} else if (ctrl && shift && lower == XK_w) {
		term_tab_close(w, w->active);
	} else if (ctrl && !shift && (lower == XK_Page_Up || lower == XK_KP_Page_Up)) {
		term_switch(w, (w->active + n - 1) % n);
	} else if (ctrl && !shift && (lower == XK_Page_Down || lower == XK_KP_Page_Down)) {
		term_switch(w, (w->active + 1) % n);
	} else if (ctrl && (lower == XK_Tab || lower == XK_ISO_Left_Tab)) {
		term_switch(w, (w->active + (shift || lower == XK_ISO_Left_Tab ? n - 1 : 1)) % n);
	} else if (alt && !ctrl && n > 1 && lower >= XK_1 && lower <= XK_9 &&
	           (int)(lower - XK_1) < n) {
		term_switch(w, (int)(lower - XK_1));
	} else {
		return false;
	}
	return true;
}

static bool
term_special(struct term *t, KeySym sym, VTermModifier mod)
{
	static const struct {
		KeySym sym;
		VTermKey key;
	} map[] = {
	    {XK_Return, VTERM_KEY_ENTER},
	    {XK_KP_Enter, VTERM_KEY_ENTER},
	    {XK_Tab, VTERM_KEY_TAB},
	    {XK_ISO_Left_Tab, VTERM_KEY_TAB},
	    {XK_BackSpace, VTERM_KEY_BACKSPACE},
	    {XK_Escape, VTERM_KEY_ESCAPE},
	    {XK_Up, VTERM_KEY_UP},
	    {XK_Down, VTERM_KEY_DOWN},
	    {XK_Left, VTERM_KEY_LEFT},
	    {XK_Right, VTERM_KEY_RIGHT},
	    {XK_Insert, VTERM_KEY_INS},
	    {XK_Delete, VTERM_KEY_DEL},
	    {XK_Home, VTERM_KEY_HOME},
	    {XK_End, VTERM_KEY_END},
	    {XK_Page_Up, VTERM_KEY_PAGEUP},
	    {XK_Page_Down, VTERM_KEY_PAGEDOWN},
	    {XK_KP_Up, VTERM_KEY_UP},
	    {XK_KP_Down, VTERM_KEY_DOWN},
	    {XK_KP_Left, VTERM_KEY_LEFT},
	    {XK_KP_Right, VTERM_KEY_RIGHT},
	};
	if (sym == XK_ISO_Left_Tab)
		mod |= VTERM_MOD_SHIFT;
	for (size_t i = 0; i < AB_ARRAY_SIZE(map); i++) {
		if (map[i].sym == sym) {
			vterm_keyboard_key(t->vt, map[i].key, mod);
			return true;
		}
	}
	if (sym >= XK_F1 && sym <= XK_F12) {
		vterm_keyboard_key(t->vt, (VTermKey)(VTERM_KEY_FUNCTION(1 + (int)(sym - XK_F1))),
		                   mod);
		return true;
	}
	return false;
}

static void
term_key(struct ab_app *app, KeySym sym, unsigned state, const char *text, size_t len)
{
	struct term *t = term_cur(app);
	t->win->busy = true;
	bool ctrl = state & ControlMask, shift = state & ShiftMask;
	KeySym lower = sym >= XK_A && sym <= XK_Z ? sym + (XK_a - XK_A) : sym;
	if (term_tab_key(t->win, lower, ctrl, shift, state & Mod1Mask))
		return;
	if (ctrl && shift && lower == XK_c) {
		if (t->has_sel) {
			size_t n;
			_cleanup_free_ char *s = term_selection_text(t, &n);
			ab_app_own(app, AB_SEL_CLIPBOARD, s, n);
		}
		return;
	}
	if (ctrl && shift && lower == XK_v) {
		ab_app_paste(app, AB_SEL_CLIPBOARD);
		return;
	}
	if (ctrl && shift && lower == XK_f) {
		t->searching = true;
		t->query[0] = '\0';
		t->status[0] = '\0';
		t->found_line = -1;
		term_resize_grid(t);
		ab_app_redraw(app);
		return;
	}
	if (t->searching) {
		term_search_key(t, sym, text, len);
		return;
	}
	if (ctrl && (sym == XK_plus || sym == XK_equal || sym == XK_KP_Add)) {
		term_zoom(t, t->font_px + 1);
		return;
	}
	if (ctrl && (sym == XK_minus || sym == XK_KP_Subtract)) {
		term_zoom(t, t->font_px - 1);
		return;
	}
	if (ctrl && sym == XK_0) {
		term_zoom(t, 14);
		return;
	}
	if (shift && (sym == XK_Page_Up || sym == XK_Page_Down)) {
		long d = (sym == XK_Page_Up ? 1 : -1) * AB_MAX(1, t->rows - 1);
		long v = (long)t->view_off + d;
		t->view_off = (size_t)AB_MAX(0, AB_MIN(v, (long)t->sb.count));
		ab_app_redraw(app);
		return;
	}
	if (shift && sym == XK_Insert) {
		ab_app_paste(app, AB_SEL_PRIMARY);
		return;
	}
	VTermModifier mod = term_mod(state);
	if (!term_special(t, sym, mod) && len) {
		size_t i = 0;
		while (i < len) {
			uint32_t cp;
			i += text_utf8_next(text + i, len - i, &cp);
			VTermModifier m = mod & ~VTERM_MOD_SHIFT;
			if (cp < 0x20 || cp == 0x7f) /* the input method already applied Ctrl */
				m &= ~VTERM_MOD_CTRL;
			vterm_keyboard_unichar(t->vt, cp, m);
		}
	} else if (!len && ctrl && lower >= XK_a && lower <= XK_z) {
		vterm_keyboard_unichar(t->vt, (uint32_t)(lower - XK_a + 1), mod & ~VTERM_MOD_CTRL);
	}
	if (t->out_len) {
		t->view_off = 0;
		term_send_pending(t);
	}
}

static void
term_resize(struct ab_app *app, int w, int h)
{
	term_resize_all(app->data);
}

static void
term_theme(struct ab_app *app)
{
	ab_app_redraw(app);
}

static void
term_focus(struct ab_app *app, bool in)
{
	struct term *t = term_cur(app);
	VTermState *st = vterm_obtain_state(t->vt);
	if (in)
		vterm_state_focus_in(st);
	else
		vterm_state_focus_out(st);
	term_send_pending(t);
}

static void
term_icon(cairo_t *cr, int s)
{
	ab_draw_icon_tile(cr, s, (const double[]){0.13, 0.15, 0.19},
	                  (const double[]){0.36, 0.85, 0.55});
	cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
	cairo_move_to(cr, s * 0.22, s * 0.32);
	cairo_line_to(cr, s * 0.42, s * 0.5);
	cairo_line_to(cr, s * 0.22, s * 0.68);
	cairo_stroke(cr);
	cairo_move_to(cr, s * 0.5, s * 0.7);
	cairo_line_to(cr, s * 0.78, s * 0.7);
	cairo_stroke(cr);
}

/* ---- idle memory ---- */

#define TRIM_MS 1000

/*
 * Gives the heap's free pages back once the window is idle: start-up (fontconfig's
 * configuration, XIM's compose table, the first paint) and bursts of output leave free memory
 * in the heap that would otherwise stay resident (docs/apps.md, "Bench"). Runs every TRIM_MS
 * but trims only after a second with no output and no key.
 */
static int64_t
term_trim(struct ab_loop *loop, void *data)
{
	struct term_win *w = data;
	static bool trimmed;
	if (w->busy) {
		w->busy = false;
		trimmed = false;
	} else if (!trimmed) {
		malloc_trim(0);
		trimmed = true;
	}
	return TRIM_MS;
}

/* ---- scrollback restore (sbsave.h) ---- */

#define SAVE_MS        5000
#define SAVE_MAX_LINES 5000
#define SAVE_MAX_AGE   (14 * 24 * 3600) /* texts of windows no layout restored since */

/* The text of the last SAVE_MAX_LINES lines (scrollback and screen), blank lines at the end cut. */
static char *
term_save_text(struct term *t, size_t *ret_len)
{
	long total = term_lines(t), first = AB_MAX(0, total - SAVE_MAX_LINES);
	size_t cap = 64 << 10, len = 0, keep = 0;
	char *out = ab_xmalloc(cap);
	char line[16384];
	for (long l = first; l < total; l++) {
		size_t n = term_line_text(t, l, 0, 65535, line, sizeof(line));
		if (len + n + 2 > cap) {
			cap = (len + n + 2) * 2;
			out = ab_xrealloc(out, cap);
		}
		memcpy(out + len, line, n);
		len += n;
		out[len++] = '\n';
		if (n)
			keep = len;
	}
	*ret_len = keep;
	return out;
}

/* Writes the text of tab number `i` (its place in the tab bar) to the window's file for it. */
static void
term_save(struct term_win *w, int i)
{
	struct term *t = w->tabs[i];
	size_t len;
	_cleanup_free_ char *text = term_save_text(t, &len);
	struct ab_err err = {0};
	if (sbsave_write(w->key, i, text, len, &err) < 0)
		ab_warn("saving the scrollback of tab %d: %s", i + 1, err.msg);
	t->save_dirty = false;
}

/*
 * Writes the window's tabs file (which tab is shown, each tab's title and its shell's working
 * directory, read from /proc) when it differs from what was last written.
 */
static void
term_save_meta(struct term_win *w)
{
	_cleanup_free_ struct sbsave_tab *tabs = ab_xcalloc((size_t)w->ntabs, sizeof(*tabs));
	for (int i = 0; i < w->ntabs; i++) {
		struct term *t = w->tabs[i];
		snprintf(tabs[i].title, sizeof(tabs[i].title), "%s", t->title);
		char link[64];
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)t->child);
		ssize_t n =
		    t->child > 0 ? readlink(link, tabs[i].cwd, sizeof(tabs[i].cwd) - 1) : -1;
		tabs[i].cwd[n > 0 ? n : 0] = '\0';
		if (n <= 0 && t->start_cwd) /* its shell is gone: where it started */
			snprintf(tabs[i].cwd, sizeof(tabs[i].cwd), "%s", t->start_cwd);
	}
	_cleanup_free_ char *text = sbsave_meta_dump(w->active, w->ntabs, tabs);
	if (w->meta_saved && strcmp(text, w->meta_saved) == 0)
		return;
	struct ab_err err = {0};
	if (sbsave_meta_write(w->key, text, &err) < 0) {
		ab_warn("saving the window's tabs: %s", err.msg);
		return;
	}
	free(w->meta_saved);
	w->meta_saved = TAKE_PTR(text);
}

static int64_t
term_save_tick(struct ab_loop *loop, void *data)
{
	struct term_win *w = data;
	for (int i = 0; i < w->ntabs; i++) {
		if (w->tabs[i]->save_dirty)
			term_save(w, i);
	}
	term_save_meta(w);
	return SAVE_MS;
}

/*
 * The window's key: the one argobox-wm hands back when it restores this window
 * (ARGOBOX_RESTORE_INSTANCE, our WM_CLASS instance in the saved layout), else a new one.
 */
static bool
term_pick_key(struct term_win *w)
{
	const char *r = getenv("ARGOBOX_RESTORE_INSTANCE");
	bool restoring = sbsave_key_valid(r);
	if (restoring)
		snprintf(w->key, sizeof(w->key), "%s", r);
	else
		sbsave_key_new(w->key);
	unsetenv("ARGOBOX_RESTORE_INSTANCE"); /* not for the shell's programs */
	return restoring;
}

/*
 * Shows the saved text of the restored window's tab `i` above the new shell, dimmed, then a
 * marker line. False when that tab has no saved text.
 */
static bool
term_restore(struct term *t, int i)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	time_t when;
	struct ab_err err = {0};
	if (sbsave_read(t->win->key, i, &text, &len, &when, &err) < 0) {
		if (i == 0)
			ab_info("no scrollback to restore for '%s' (%s)", t->win->key, err.msg);
		return false;
	}
	vterm_input_write(t->vt, "\x1b[2m", 4);
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		vterm_input_write(t->vt, l, strlen(l));
		vterm_input_write(t->vt, "\r\n", 2);
	}
	char mark[128], stamp[32];
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M", localtime(&when));
	int n = snprintf(mark, sizeof(mark), "\x1b[0m\x1b[2m--- restored (saved %s) ---\x1b[0m\r\n",
	                 stamp);
	vterm_input_write(t->vt, mark, (size_t)n);
	ab_info("restored %zu bytes of scrollback for '%s' tab %d", len, t->win->key, i + 1);
	return true;
}

/* ---- tabs ---- */

/* Frees a tab: hangs up its program and waits for it. Accepts NULL. */
static void
term_tab_free(struct term *t)
{
	if (!t)
		return;
	if (t->child > 0) {
		kill(t->child, SIGHUP);
		waitpid(t->child, NULL, 0);
	}
	if (t->win->app.loop)
		ab_loop_unwatch(t->win->app.loop, t->pty_watch);
	if (t->pty >= 0)
		close(t->pty);
	if (t->vt)
		vterm_free(t->vt);
	sb_free(&t->sb);
	free(t->out);
	free(t->scratch);
	free(t->start_cwd);
	free(t);
}

/* A tab's terminal without its program (term_tab_start runs that), sized for the window. */
static struct term *
term_tab_new(struct term_win *w, size_t scrollback)
{
	struct term *t = ab_xcalloc(1, sizeof(*t));
	t->win = w;
	t->pty = -1;
	t->child = -1;
	t->cursor_visible = true;
	t->found_line = -1;
	t->font_px = w->font_px;
	term_set_font(t);
	sb_init(&t->sb, scrollback);
	t->vt = vterm_new(24, 80);
	vterm_set_utf8(t->vt, 1);
	vterm_output_set_callback(t->vt, term_vterm_output, t);
	t->vs = vterm_obtain_screen(t->vt);
	vterm_screen_set_callbacks(t->vs, &screen_cbs, t);
	vterm_screen_set_damage_merge(t->vs, VTERM_DAMAGE_SCREEN);
	vterm_screen_enable_altscreen(t->vs, 1);
	vterm_screen_reset(t->vs, 1);
	term_resize_grid(t);
	return t;
}

static int
term_tab_start(struct term *t, struct ab_err *err)
{
	int r = term_spawn(t, err);
	if (r < 0)
		return r;
	t->pty_watch = ab_loop_watch(t->win->app.loop, t->pty, AB_LOOP_READ, term_pty_io, t);
	return 0;
}

/* Shows tab i: its title on the window, its grid, focus reports to the old and new tab. */
static void
term_switch(struct term_win *w, int i)
{
	if (i < 0 || i >= w->ntabs)
		return;
	struct term *old = w->tabs[w->active], *t = w->tabs[i];
	if (old != t && w->app.focused) {
		vterm_state_focus_out(vterm_obtain_state(old->vt));
		term_send_pending(old);
		vterm_state_focus_in(vterm_obtain_state(t->vt));
		term_send_pending(t);
	}
	w->active = i;
	t->activity = false;
	ab_app_set_title(&w->app, t->title[0] ? t->title : "Terminal");
	ab_app_redraw(&w->app);
}

/* Ctrl+Shift+T or the "+" button: a new tab with a new shell, shown. */
static void
term_tab_add(struct term_win *w)
{
	if (w->ntabs >= TABS_MAX) {
		ab_warn("a window has at most %d tabs", TABS_MAX);
		return;
	}
	struct term *cur = w->tabs[w->active];
	struct term *t = term_tab_new(w, cur->sb.cap);
	struct ab_err err = {0};
	w->tabs[w->ntabs++] = t;
	term_resize_all(w);
	if (term_tab_start(t, &err) < 0) {
		ab_warn("new tab: %s", err.msg);
		w->tabs[--w->ntabs] = NULL;
		term_tab_free(t);
		term_resize_all(w);
		return;
	}
	term_switch(w, w->ntabs - 1);
}

/*
 * Closes tab i (its user closed it, or its program exited): the tabs after it move up, and
 * their saved texts with them; the last tab's closing quits the window.
 */
static void
term_tab_close(struct term_win *w, int i)
{
	if (i < 0 || i >= w->ntabs)
		return;
	if (w->ntabs == 1) {
		ab_app_quit(&w->app);
		return;
	}
	struct term *t = w->tabs[i];
	memmove(&w->tabs[i], &w->tabs[i + 1], (size_t)(w->ntabs - i - 1) * sizeof(w->tabs[0]));
	w->tabs[--w->ntabs] = NULL;
	term_tab_free(t);
	for (int k = i; k < w->ntabs; k++)
		term_save(w, k); /* each text to its tab's new place */
	sbsave_remove(w->key, w->ntabs);
	if (w->active > i || w->active >= w->ntabs)
		w->active--;
	w->active = AB_MAX(0, w->active);
	term_resize_all(w);
	term_switch(w, w->active);
	term_save_meta(w); /* the tabs' places changed with their texts */
}

/* Closes the tabs whose program exited (deferred from their own pty callback). */
static int64_t
term_reap(struct ab_loop *loop, void *data)
{
	struct term_win *w = data;
	w->reap_timer = NULL;
	for (int i = w->ntabs - 1; i >= 0; i--) {
		if (!w->tabs[i]->exited)
			continue;
		if (w->ntabs == 1) {
			ab_app_quit(&w->app);
			break;
		}
		term_tab_close(w, i);
	}
	return AB_TIMER_STOP;
}

/* The tab bar's geometry: each tab's width, and where the "+" button starts. */
static int
term_tab_width(const struct term_win *w, int width)
{
	int plus = TAB_H;
	return AB_MAX(40, AB_MIN(TAB_W_MAX, (width - plus) / AB_MAX(1, w->ntabs)));
}

static void
term_draw_tabs(struct term_win *w, cairo_t *cr, int width)
{
	if (!w->bar_h)
		return;
	const struct ab_theme *th = &w->app.theme;
	int tw = term_tab_width(w, width);
	ab_draw_rgb(cr, th->panel);
	cairo_rectangle(cr, 0, 0, width, w->bar_h);
	cairo_fill(cr);
	for (int i = 0; i < w->ntabs; i++) {
		struct term *t = w->tabs[i];
		double x = i * tw;
		if (i == w->active) {
			ab_draw_rgb(cr, th->bg);
			cairo_rectangle(cr, x, 0, tw, w->bar_h);
			cairo_fill(cr);
			ab_draw_rgb(cr, th->accent);
			cairo_rectangle(cr, x, w->bar_h - 3, tw, 3);
			cairo_fill(cr);
		}
		char label[160];
		snprintf(label, sizeof(label), "%s%d  %s", t->activity ? "• " : "", i + 1,
		         t->title[0] ? t->title : "Terminal");
		ab_draw_rgb(cr, th->text);
		termfont_ui_text(cr, th->font, label, x + 10, 6, tw - 10 - 26);
		termfont_ui_text(cr, th->font, "×", x + tw - 20, 6, 16);
		cairo_set_line_width(cr, 1);
		cairo_move_to(cr, x + tw - 0.5, 6);
		cairo_line_to(cr, x + tw - 0.5, w->bar_h - 6);
		cairo_stroke(cr);
	}
	ab_draw_rgb(cr, th->text);
	termfont_ui_text(cr, th->font, "+", w->ntabs * tw + 10, 6, 16);
}

/*
 * A press on the tab bar: a tab shows it (the middle button, or its "×", closes it), "+" adds
 * one, the wheel goes to the tab before or after.
 */
static void
term_tab_button(struct term_win *w, int button, int x)
{
	int tw = term_tab_width(w, w->app.w), i = x / tw;
	if (button == 4 || button == 5) {
		int n = w->active + (button == 4 ? -1 : 1);
		term_switch(w, (n + w->ntabs) % w->ntabs);
		return;
	}
	if (i >= w->ntabs) {
		if (button == 1 && x < w->ntabs * tw + TAB_H)
			term_tab_add(w);
		return;
	}
	if (button == 2 || (button == 1 && x >= (i + 1) * tw - 24))
		term_tab_close(w, i);
	else if (button == 1)
		term_switch(w, i);
}

static const struct ab_app_ops term_ops = {
    .draw = term_draw,
    .key = term_key,
    .button = term_button,
    .motion = term_motion,
    .resize = term_resize,
    .theme = term_theme,
    .paste = term_paste,
    .sel_lost = term_sel_lost,
    .focus = term_focus,
};

int
term_main(const struct term_options *opt, struct ab_err *err)
{
	struct term_win *w = ab_xcalloc(1, sizeof(*w));
	int r;
	w->font_px = opt->font_px ? opt->font_px : 14;
	w->argv = opt->argv;
	signal(SIGPIPE, SIG_IGN);
	bool restoring = term_pick_key(w);
	sbsave_prune(SAVE_MAX_AGE);
	size_t scrollback = opt->scrollback ? opt->scrollback : 10000;

	struct ab_app_config cfg = {.name = "terminal",
	                            .instance = w->key,
	                            .title = "Terminal",
	                            .width = 740,
	                            .height = 460,
	                            .icon = term_icon,
	                            .ops = &term_ops,
	                            .data = w,
	                            .lazy_im = true};
	if ((r = termfont_open(&w->font, w->font_px)) < 0) {
		ab_err_set(err, -r, "no monospace font (fontconfig finds none)");
		goto out;
	}
	if ((r = ab_app_open(&w->app, &cfg, err)) < 0)
		goto out;
	/*
	 * A restored window gets back a tab for each saved text (or entry of its tabs file), in
	 * order, each with its title and its shell in its directory, and shows the tab it showed.
	 */
	int meta_active = 0, meta_n = 0;
	_cleanup_free_ struct sbsave_tab *meta = NULL;
	if (restoring) {
		struct ab_err merr = {0};
		meta = ab_xcalloc(SBSAVE_TABS_MAX, sizeof(*meta));
		if (sbsave_meta_read(w->key, &meta_active, &meta_n, meta, &merr) < 0 &&
		    merr.code != ENOENT)
			ab_warn("restoring the tabs of '%s': %s (their texts only)", w->key,
			        merr.msg);
	}
	do {
		struct term *t = term_tab_new(w, scrollback);
		int i = w->ntabs;
		w->tabs[w->ntabs++] = t;
		if (!restoring)
			break;
		if (!term_restore(t, i) && i >= meta_n) {
			if (w->ntabs > 1) {
				w->tabs[--w->ntabs] = NULL;
				term_tab_free(t);
			}
			break;
		}
		if (i < meta_n) {
			snprintf(t->title, sizeof(t->title), "%s", meta[i].title);
			if (meta[i].cwd[0])
				t->start_cwd = ab_xstrdup(meta[i].cwd);
		}
	} while (w->ntabs < TABS_MAX);
	term_resize_all(w);
	for (int i = 0; i < w->ntabs; i++) {
		if ((r = term_tab_start(w->tabs[i], err)) < 0)
			goto out;
	}
	w->active = meta_active < w->ntabs ? meta_active : 0;
	term_switch(w, w->active);
	if (restoring)
		ab_info("restored %d tab(s) of '%s', showing tab %d", w->ntabs, w->key,
		        w->active + 1);
	w->save_timer = ab_loop_timer(w->app.loop, SAVE_MS, term_save_tick, w);
	w->trim_timer = ab_loop_timer(w->app.loop, TRIM_MS, term_trim, w);
	r = ab_app_run(&w->app);
	if (r < 0) {
		ab_err_set(err, -r, "event loop");
		/* the desktop went away: its layout may bring this window back */
		for (int i = 0; i < w->ntabs; i++)
			term_save(w, i);
		sbsave_remove(w->key, w->ntabs);
		term_save_meta(w);
	} else {
		sbsave_remove(w->key, 0); /* closed, or its shells exited: nothing to restore */
	}
out:
	for (int i = 0; i < w->ntabs; i++)
		term_tab_free(w->tabs[i]);
	if (w->app.loop) {
		ab_loop_timer_cancel(w->app.loop, w->frame_timer);
		ab_loop_timer_cancel(w->app.loop, w->reap_timer);
		ab_loop_timer_cancel(w->app.loop, w->save_timer);
		ab_loop_timer_cancel(w->app.loop, w->trim_timer);
	}
	ab_app_close(&w->app);
	termfont_close(&w->font);
	free(w->meta_saved);
	free(w);
	return r;
}
