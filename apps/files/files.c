/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-files: a file manager over the home. The directory is read in
 * slices of SLICE entries on a 0 ms timer (fsmodel.c), so a folder of 100 000
 * entries shows its first rows at once and the window never freezes; inotify
 * reloads it when it changes (debounced). Breadcrumbs, sort, hidden files,
 * open with the .desktop entry for the MIME type, rename, new folder, delete to
 * the freedesktop Trash. The window title says where we are and how many
 * entries there are (tests read it).
 *
 * Two views of the same list (Ctrl+1 list, Ctrl+2 icons): the icon view is a grid of tiles,
 * images shown as thumbnails, which a worker thread makes or finds in ~/.cache/thumbnails
 * (thumb.c, the freedesktop spec) while the loop goes on; a finished one comes back through
 * a pipe the loop watches.
 */
#include "ab_app.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_text.h"
#include "ab_util.h"
#include "fscopy.h"
#include "fsmodel.h"
#include "thumb.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLICE    4000
#define ROW_H    24
#define LIST_Y   84
#define EDIT_MAX 256
#define TILE_W   124 /* the icon view's tiles */
#define TILE_H   128
#define ICON_PX  88 /* the thumbnail or icon in a tile, at most */
#define JOBS_MAX 8  /* copies and moves running at once */
#define JOB_H    26 /* a job's progress row, at the bottom of the window */
#define CANCEL_W 96 /* its "Cancel" button, at the row's right end */

enum thumb_state { THUMB_PENDING, THUMB_READY, THUMB_NONE };

/* A thumbnail of the folder shown, by name (the entries are re-sorted and reloaded). */
struct thumb_slot {
	char *name;
	time_t mtime;
	enum thumb_state state;
	cairo_surface_t *img;
};

enum edit_mode { EDIT_NONE, EDIT_RENAME, EDIT_MKDIR };

/* A copy or move running (fscopy.h): its child, watched through its pipe, and its progress. */
struct files_job {
	struct fs_copy copy;
	struct ab_watch *watch;
	uint64_t done; /* bytes at the target at the last tick */
};

struct files {
	struct ab_app app;
	struct ab_list list;
	struct fs_dir dir;
	bool have_dir;
	char path[PATH_MAX];
	char home[PATH_MAX];
	const char *first_dir; /* the command line's DIRECTORY, or NULL: the home */
	char error[512];
	char message[512];
	char usage[96]; /* the home's file system: used of its size (fs_usage) */
	bool hidden;
	enum fs_sort sort;
	bool desc;
	struct ab_timer *load_timer, *reload_timer;
	int ino;
	int wd;
	struct ab_watch *ino_watch;
	enum edit_mode edit;
	char edit_buf[EDIT_MAX];
	int64_t load_start; /* µs, for the "listed and drawn" log line */
	bool report_pending;
	/*
	 * copy / move: what Ctrl+C / Ctrl+X took, and the jobs running (oldest first), each its
	 * own child, with a progress row and a Cancel button; one timer updates them all
	 */
	char clip[PATH_MAX + NAME_MAX + 2];
	bool clip_move;
	struct files_job *jobs[JOBS_MAX];
	int njobs;
	struct ab_timer *copy_timer;
	/* drag and drop within the window: the row pressed, and whether it is being dragged */
	long drag_row;
	int drag_x, drag_y;
	bool dragging;
	/* the icon view: its grid (columns, rows that fit, first row shown) and thumbnails */
	bool icons;
	size_t grid_cols, grid_rows, grid_top;
	struct thumb_queue thumbs;
	struct ab_watch *thumbs_watch;
	unsigned thumbs_gen; /* a new folder: results of the old one are dropped */
	struct thumb_slot *slots;
	size_t nslots;
};

/* ---- thumbnails (thumb.h) ---- */

static void
files_thumbs_reset(struct files *f)
{
	thumb_queue_clear(&f->thumbs);
	f->thumbs_gen++;
	for (size_t i = 0; i < f->nslots; i++) {
		free(f->slots[i].name);
		if (f->slots[i].img)
			cairo_surface_destroy(f->slots[i].img);
	}
	free(f->slots);
	f->slots = NULL;
	f->nslots = 0;
}

static struct thumb_slot *
files_thumb_slot(struct files *f, const char *name)
{
	for (size_t i = 0; i < f->nslots; i++) {
		if (strcmp(f->slots[i].name, name) == 0)
			return &f->slots[i];
	}
	return NULL;
}

static void files_child_path(struct files *f, const char *name, char *out, size_t size);

/* The entry's thumbnail when it is ready; asks the worker for it the first time. */
static cairo_surface_t *
files_thumb(struct files *f, const struct fs_entry *e)
{
	if (e->dir || !f->thumbs.started || !thumb_wanted(fs_mime(e->name, false)))
		return NULL;
	struct thumb_slot *s = files_thumb_slot(f, e->name);
	if (s && s->mtime != e->mtime) { /* changed since: made again */
		if (s->img)
			cairo_surface_destroy(s->img);
		s->img = NULL;
		s->mtime = e->mtime;
		s->state = THUMB_PENDING;
		char p[PATH_MAX + NAME_MAX + 2];
		files_child_path(f, e->name, p, sizeof(p));
		thumb_queue_add(&f->thumbs, f->thumbs_gen, p, e->mtime);
	} else if (!s) {
		f->slots = ab_xrealloc(f->slots, (f->nslots + 1) * sizeof(*f->slots));
		s = &f->slots[f->nslots++];
		*s = (struct thumb_slot){.name = ab_xstrdup(e->name), .mtime = e->mtime};
		char p[PATH_MAX + NAME_MAX + 2];
		files_child_path(f, e->name, p, sizeof(p));
		thumb_queue_add(&f->thumbs, f->thumbs_gen, p, e->mtime);
	}
	return s->state == THUMB_READY ? s->img : NULL;
}

/* Thumbnails the worker finished: loaded (a small PNG) and shown. */
static void
files_thumbs_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct files *f = data;
	struct thumb_done d;
	while (thumb_queue_read(&f->thumbs, &d)) {
		const char *base = strrchr(d.path, '/');
		struct thumb_slot *s =
		    d.gen == f->thumbs_gen ? files_thumb_slot(f, base ? base + 1 : d.path) : NULL;
		if (s && s->state == THUMB_PENDING) {
			s->state = THUMB_NONE;
			if (d.result == 1) {
				cairo_surface_t *img = cairo_image_surface_create_from_png(d.thumb);
				if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
					s->img = img;
					s->state = THUMB_READY;
					ab_info("thumbnail of '%s' ready (%s)", d.path, d.thumb);
				} else {
					cairo_surface_destroy(img);
				}
			} else {
				ab_info("no thumbnail for '%s'", d.path);
			}
			ab_app_redraw(&f->app);
		}
		free(d.path);
		free(d.thumb);
	}
}

static void
files_title(struct files *f)
{
	char t[PATH_MAX + 64];
	if (f->error[0])
		snprintf(t, sizeof(t), "Files — %.4000s (error)", f->path);
	else if (!f->dir.done)
		snprintf(t, sizeof(t), "Files — %.4000s (loading %zu)", f->path, f->dir.n);
	else
		snprintf(t, sizeof(t), "Files — %.4000s (%zu items)", f->path, f->dir.n);
	ab_app_set_title(&f->app, t);
}

static int64_t
files_load_more(struct ab_loop *loop, void *data)
{
	struct files *f = data;
	int done = fs_dir_load(&f->dir, SLICE);
	if (done) {
		f->load_timer = NULL;
		fs_dir_sort(&f->dir, f->sort, f->desc);
		f->report_pending = true;
	}
	list_set_count(&f->list, f->dir.n);
	files_title(f);
	ab_app_redraw(&f->app);
	return done ? AB_TIMER_STOP : 0;
}

static void
files_watch(struct files *f)
{
	if (f->ino < 0)
		return;
	if (f->wd >= 0)
		inotify_rm_watch(f->ino, f->wd);
	f->wd = inotify_add_watch(f->ino, f->path,
	                          IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
	                              IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF);
}

/* (Re)reads path; keep_sel keeps the selected name when it is still there. */
static void
files_open_dir(struct files *f, const char *path, const char *select)
{
	struct ab_err err = {0};
	struct fs_dir d;
	ab_loop_timer_cancel(f->app.loop, f->load_timer);
	f->load_timer = NULL;
	char real[PATH_MAX];
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	if (fs_dir_open(&d, real, f->hidden, &err) < 0) {
		if (f->have_dir)
			fs_dir_free(&f->dir);
		f->have_dir = false;
		memset(&f->dir, 0, sizeof(f->dir));
		f->dir.done = true;
		snprintf(f->path, sizeof(f->path), "%s", real);
		snprintf(f->error, sizeof(f->error), "%.500s", err.msg);
		list_set_count(&f->list, 0);
		files_title(f);
		ab_app_redraw(&f->app);
		return;
	}
	if (f->have_dir)
		fs_dir_free(&f->dir);
	if (strcmp(real, f->path) != 0) {
		files_thumbs_reset(f);
		f->grid_top = 0;
	}
	f->dir = d;
	f->have_dir = true;
	f->error[0] = '\0';
	snprintf(f->path, sizeof(f->path), "%s", real);
	char usage[sizeof(f->usage)];
	if (fs_usage(real, usage, sizeof(usage)) < 0)
		usage[0] = '\0';
	if (strcmp(usage, f->usage) != 0 && usage[0])
		ab_info("'%s': %s", real, usage);
	snprintf(f->usage, sizeof(f->usage), "%s", usage);
	f->load_start = ab_now_us();
	/* the first slice now, so small folders are drawn in this round */
	int done = fs_dir_load(&f->dir, SLICE);
	if (done) {
		fs_dir_sort(&f->dir, f->sort, f->desc);
		f->report_pending = true;
	} else
		f->load_timer = ab_loop_timer(f->app.loop, 0, files_load_more, f);
	list_set_count(&f->list, f->dir.n);
	list_select(&f->list, 0);
	for (size_t i = 0; select && done && i < f->dir.n; i++) {
		if (strcmp(f->dir.v[i].name, select) == 0) {
			list_select(&f->list, i);
			break;
		}
	}
	files_watch(f);
	files_title(f);
	ab_app_redraw(&f->app);
}

static void
files_reload(struct files *f)
{
	char keep[NAME_MAX + 1] = "";
	if (f->have_dir && f->list.sel < f->dir.n)
		snprintf(keep, sizeof(keep), "%s", f->dir.v[f->list.sel].name);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", f->path);
	files_open_dir(f, p, keep[0] ? keep : NULL);
}

static int64_t
files_reload_due(struct ab_loop *loop, void *data)
{
	struct files *f = data;
	f->reload_timer = NULL;
	files_reload(f);
	return AB_TIMER_STOP;
}

static void
files_inotify(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct files *f = data;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	/* many events in a burst: one reload after they settle */
	if (!f->reload_timer && f->edit == EDIT_NONE)
		f->reload_timer = ab_loop_timer(loop, 150, files_reload_due, f);
}

/* ---- actions ---- */

static const struct fs_entry *
files_selected(struct files *f)
{
	return f->have_dir && f->dir.done && f->list.sel < f->dir.n ? &f->dir.v[f->list.sel] : NULL;
}

/* path/name into out; an over-long result is cut (then the file is simply not found). */
static void
files_child_path(struct files *f, const char *name, char *out, size_t size)
{
	int n = snprintf(out, size, "%s%s%s", f->path, strcmp(f->path, "/") ? "/" : "", name);
	if (n < 0 || (size_t)n >= size)
		ab_warn("path too long: '%.200s/%.200s'", f->path, name);
}

static void
files_spawn(struct files *f, const char *cmd)
{
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		/* a grandchild, so nothing is left for us to reap */
		if (fork() == 0) {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void
files_activate(struct files *f)
{
	const struct fs_entry *e = files_selected(f);
	if (!e)
		return;
	char p[PATH_MAX];
	files_child_path(f, e->name, p, sizeof(p));
	if (e->dir) {
		files_open_dir(f, p, NULL);
		return;
	}
	const char *mime = fs_mime(e->name, false);
	_cleanup_free_ char *cmd =
	    fs_open_command(getenv("XDG_DATA_DIRS"), getenv("ARGOBOX_APPS"), mime, p);
	if (!cmd) {
		snprintf(f->message, sizeof(f->message),
		         "no app of this desktop's profile opens '%.200s' (%s)", e->name, mime);
	} else {
		files_spawn(f, cmd);
		snprintf(f->message, sizeof(f->message), "opened '%.200s'", e->name);
	}
	ab_info("%s", f->message);
	ab_app_redraw(&f->app);
}

static void
files_up(struct files *f)
{
	char p[PATH_MAX], name[NAME_MAX + 1] = "";
	snprintf(p, sizeof(p), "%s", f->path);
	char *slash = strrchr(p, '/');
	if (!slash || strcmp(p, "/") == 0)
		return;
	snprintf(name, sizeof(name), "%s", slash + 1);
	if (slash == p)
		slash[1] = '\0';
	else
		*slash = '\0';
	files_open_dir(f, p, name);
}

static void
files_trash(struct files *f)
{
	const struct fs_entry *e = files_selected(f);
	if (!e)
		return;
	char p[PATH_MAX];
	files_child_path(f, e->name, p, sizeof(p));
	struct ab_err err = {0};
	if (fs_trash(p, f->home, NULL, &err) < 0)
		snprintf(f->message, sizeof(f->message), "%.500s", err.msg);
	else
		snprintf(f->message, sizeof(f->message), "'%.200s' moved to the Trash", e->name);
	files_reload(f);
}

static void
files_commit_edit(struct files *f)
{
	char p[PATH_MAX], q[PATH_MAX];
	const char *name = f->edit_buf;
	enum edit_mode mode = f->edit;
	f->edit = EDIT_NONE;
	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(f->message, sizeof(f->message), "'%.200s' is not a valid name", name);
		ab_info("%s", f->message);
		ab_app_redraw(&f->app);
		return;
	}
	files_child_path(f, name, q, sizeof(q));
	if (mode == EDIT_MKDIR) {
		if (mkdir(q, 0755) < 0)
			snprintf(f->message, sizeof(f->message), "new folder '%.200s': %s", name,
			         strerror(errno));
		else
			snprintf(f->message, sizeof(f->message), "folder '%.200s' created", name);
	} else {
		const struct fs_entry *e = files_selected(f);
		if (!e)
			return;
		files_child_path(f, e->name, p, sizeof(p));
		if (access(q, F_OK) == 0)
			snprintf(f->message, sizeof(f->message), "'%.200s' already exists", name);
		else if (rename(p, q) < 0)
			snprintf(f->message, sizeof(f->message), "rename: %s", strerror(errno));
		else
			snprintf(f->message, sizeof(f->message), "renamed to '%.200s'", name);
	}
	ab_info("%s", f->message);
	char keep[EDIT_MAX];
	snprintf(keep, sizeof(keep), "%s", name);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", f->path);
	files_open_dir(f, dir, keep);
}

/* ---- drawing ---- */

static void
files_row(struct ab_app *app, cairo_t *cr, size_t i, bool selected, double x, double y, double w,
          double h)
{
	struct files *f = app->data;
	const struct ab_theme *t = &app->theme;
	const struct fs_entry *e = &f->dir.v[i];
	const double *fg = selected ? t->sel_text : t->text;
	const double *dim = selected ? t->sel_text : t->text_dim;
	/* a small folder or page glyph */
	cairo_set_line_width(cr, 1.5);
	if (e->dir) {
		cairo_set_source_rgb(cr, 0.96, 0.72, 0.26);
		ab_cairo_rounded(cr, x + 10, y + 6, 16, 12, 2);
		cairo_fill(cr);
	} else {
		ab_draw_rgb(cr, dim);
		cairo_rectangle(cr, x + 12.5, y + 4.5, 11, 15);
		cairo_stroke(cr);
	}
	char name[NAME_MAX + 2];
	snprintf(name, sizeof(name), "%s", e->name);
	text_sanitize(name);
	ab_draw_text(cr, name, t->font, fg, x + 34, y + 3, w - 300);
	char b[64];
	if (!e->dir) {
		text_format_bytes(e->size, b, sizeof(b));
		ab_draw_text(cr, b, t->font, dim, x + w - 260, y + 3, 90);
	}
	struct tm tm;
	localtime_r(&e->mtime, &tm);
	strftime(b, sizeof(b), "%Y-%m-%d %H:%M", &tm);
	ab_draw_text(cr, b, t->font, dim, x + w - 160, y + 3, 150);
}

/* Scrolls the grid so that the selected tile is in view. */
static void
files_grid_show_sel(struct files *f)
{
	size_t cols = AB_MAX(1, f->grid_cols), rows = AB_MAX(1, f->grid_rows);
	size_t row = f->list.sel / cols;
	if (row < f->grid_top)
		f->grid_top = row;
	else if (row >= f->grid_top + rows)
		f->grid_top = row - rows + 1;
}

/* The icon view: tiles of ICON_PX icons (thumbnails for images) and names, in rows. */
static void
files_grid_draw(struct files *f, cairo_t *cr, double x0, double y0, double w, double h)
{
	const struct ab_theme *t = &f->app.theme;
	f->grid_cols = AB_MAX(1, (size_t)(w / TILE_W));
	f->grid_rows = AB_MAX(1, (size_t)(h / TILE_H));
	files_grid_show_sel(f);
	size_t first = f->grid_top * f->grid_cols;
	size_t end = AB_MIN(f->dir.n, first + (f->grid_rows + 1) * f->grid_cols);
	cairo_save(cr);
	cairo_rectangle(cr, x0, y0, w, h);
	cairo_clip(cr);
	for (size_t i = first; i < end; i++) {
		const struct fs_entry *e = &f->dir.v[i];
		double tx = x0 + (double)((i - first) % f->grid_cols) * TILE_W;
		double ty = y0 + (double)((i - first) / f->grid_cols) * TILE_H;
		bool sel = i == f->list.sel;
		if (sel) {
			ab_draw_rgb(cr, t->accent);
			ab_cairo_rounded(cr, tx + 3, ty + 3, TILE_W - 6, TILE_H - 6, 8);
			cairo_fill(cr);
		}
		double ix = tx + (TILE_W - ICON_PX) / 2.0, iy = ty + 8;
		cairo_surface_t *img = files_thumb(f, e);
		if (img) {
			int iw = cairo_image_surface_get_width(img);
			int ih = cairo_image_surface_get_height(img);
			double sc = AB_MIN(1.0, AB_MIN((double)ICON_PX / iw, (double)ICON_PX / ih));
			cairo_save(cr);
			cairo_translate(cr, ix + (ICON_PX - iw * sc) / 2,
			                iy + (ICON_PX - ih * sc) / 2);
			cairo_scale(cr, sc, sc);
			cairo_set_source_surface(cr, img, 0, 0);
			cairo_paint(cr);
			cairo_restore(cr);
		} else if (e->dir) {
			cairo_set_source_rgb(cr, 0.93, 0.66, 0.2);
			ab_cairo_rounded(cr, ix + 6, iy + 14, 34, 14, 4);
			cairo_fill(cr);
			cairo_set_source_rgb(cr, 0.98, 0.76, 0.3);
			ab_cairo_rounded(cr, ix + 6, iy + 20, ICON_PX - 12, ICON_PX - 34, 6);
			cairo_fill(cr);
		} else {
			ab_draw_rgb(cr, sel ? t->sel_text : t->text_dim);
			cairo_set_line_width(cr, 2);
			cairo_rectangle(cr, ix + 20, iy + 8, ICON_PX - 40, ICON_PX - 16);
			cairo_stroke(cr);
		}
		char name[NAME_MAX + 2];
		snprintf(name, sizeof(name), "%s", e->name);
		text_sanitize(name);
		ab_draw_text(cr, name, t->font, sel ? t->sel_text : t->text, tx + 8,
		             ty + ICON_PX + 16, TILE_W - 16);
	}
	cairo_restore(cr);
	if (f->list.focused)
		ab_draw_focus_ring(cr, t, x0, y0, w, h);
}

/* Arrows, Page Up/Down, Home and End in the icon view; true when handled. */
static bool
files_grid_key(struct files *f, KeySym sym)
{
	size_t n = f->dir.n, sel = f->list.sel, cols = AB_MAX(1, f->grid_cols);
	size_t page = cols * AB_MAX(1, f->grid_rows);
	if (!n)
		return false;
	switch (sym) {
	case XK_Left:
	case XK_KP_Left:
		sel = sel ? sel - 1 : 0;
		break;
	case XK_Right:
	case XK_KP_Right:
		sel = AB_MIN(n - 1, sel + 1);
		break;
	case XK_Up:
	case XK_KP_Up:
		sel = sel >= cols ? sel - cols : sel;
		break;
	case XK_Down:
	case XK_KP_Down:
		sel = sel + cols < n ? sel + cols : (sel / cols < (n - 1) / cols ? n - 1 : sel);
		break;
	case XK_Page_Up:
		sel = sel >= page ? sel - page : sel % cols;
		break;
	case XK_Page_Down:
		sel = AB_MIN(n - 1, sel + page);
		break;
	case XK_Home:
		sel = 0;
		break;
	case XK_End:
		sel = n - 1;
		break;
	default:
		return false;
	}
	list_select(&f->list, sel);
	files_grid_show_sel(f);
	return true;
}

/* The entry under (x, y) in either view, or -1. */
static long
files_hit(struct files *f, int x, int y)
{
	if (!f->icons)
		return list_row_at(&f->list, y - (LIST_Y - 16), ROW_H);
	if (x < 8 || y < LIST_Y - 16)
		return -1;
	size_t c = (size_t)(x - 8) / TILE_W, r = (size_t)(y - (LIST_Y - 16)) / TILE_H;
	if (c >= f->grid_cols)
		return -1;
	size_t i = (f->grid_top + r) * f->grid_cols + c;
	return i < f->dir.n ? (long)i : -1;
}

/* A job's row: what, how far (a bar in the accent), and its Cancel button. */
static void
files_job_text(const struct files_job *j, char *out, size_t size)
{
	char a[32], b[32];
	text_format_bytes(j->done, a, sizeof(a));
	text_format_bytes(j->copy.total, b, sizeof(b));
	snprintf(out, size, "%s '%.200s': %s of %s (%.0f%%)", j->copy.move ? "moving" : "copying",
	         strrchr(j->copy.dst, '/') + 1, a, b,
	         j->copy.total
	             ? 100.0 * (double)AB_MIN(j->done, j->copy.total) / (double)j->copy.total
	             : 0.0);
}

static void
files_draw_jobs(struct files *f, cairo_t *cr, int top, int w)
{
	const struct ab_theme *t = &f->app.theme;
	for (int i = 0; i < f->njobs; i++) {
		const struct files_job *j = f->jobs[i];
		double y = top + i * JOB_H, bar = w - 24 - CANCEL_W;
		char m[320];
		files_job_text(j, m, sizeof(m));
		ab_draw_rgb(cr, t->panel);
		cairo_rectangle(cr, 8, y + 1, w - 16, JOB_H - 2);
		cairo_fill(cr);
		if (j->copy.total) {
			ab_draw_rgb(cr, t->accent);
			cairo_rectangle(cr, 8, y + JOB_H - 4,
			                bar * (double)AB_MIN(j->done, j->copy.total) /
			                    (double)j->copy.total,
			                3);
			cairo_fill(cr);
		}
		ab_draw_text(cr, m, t->font, t->text, 16, y + 5, (int)bar - 16);
		ab_draw_text(cr, "✕ Cancel", t->font, t->accent, w - 8 - CANCEL_W + 10, y + 5,
		             CANCEL_W - 12);
	}
}

static void
files_draw(struct ab_app *app, cairo_t *cr, int w, int h)
{
	struct files *f = app->data;
	const struct ab_theme *t = &app->theme;
	ab_draw_rgb(cr, t->bg);
	cairo_paint(cr);
	/* breadcrumbs: home-relative when inside the home */
	double x = 14;
	const char *rel = f->path;
	size_t hl = strlen(f->home);
	char crumbs[PATH_MAX + 8];
	if (hl && strncmp(f->path, f->home, hl) == 0 && (f->path[hl] == '/' || !f->path[hl]))
		snprintf(crumbs, sizeof(crumbs), "Home%s", f->path + hl);
	else
		snprintf(crumbs, sizeof(crumbs), "%s", rel);
	char *save = NULL;
	bool first = true;
	for (char *seg = strtok_r(crumbs, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (!first)
			x += ab_draw_text(cr, "›", t->font, t->text_dim, x + 4, 14, 0) + 8;
		char s[NAME_MAX + 1];
		snprintf(s, sizeof(s), "%s", seg);
		text_sanitize(s);
		ab_draw_rgb(cr, t->panel);
		int tw = ab_draw_text(cr, s, t->font, t->text, x + 6, 14, 220);
		x += tw + 14;
		first = false;
		if (x > w - (f->usage[0] ? 270 : 40))
			break;
	}
	static const char *const sorts[] = {"name", "size", "date"};
	char help[256];
	snprintf(
	    help, sizeof(help),
	    "Enter open · Backspace up · F2 rename · Ctrl+N new folder · Delete to Trash · "
	    "Ctrl+C/X, Ctrl+V copy/move · Ctrl+H hidden (%s) · Ctrl+S sort: %s%s · Ctrl+%c %s view",
	    f->hidden ? "shown" : "hidden", sorts[f->sort], f->desc ? " ↓" : "",
	    f->icons ? '1' : '2', f->icons ? "list" : "icon");
	ab_draw_text(cr, help, t->font, t->text_dim, 14, 42, w - 28);
	int bottom = h - 8 - f->njobs * JOB_H;
	files_draw_jobs(f, cr, bottom, w);
	if (f->edit != EDIT_NONE || f->message[0]) {
		bottom -= 30;
		char m[EDIT_MAX + 64];
		if (f->edit != EDIT_NONE) {
			snprintf(m, sizeof(m), "%s: %s▏  (Enter: done, Escape: cancel)",
			         f->edit == EDIT_RENAME ? "Rename to" : "New folder", f->edit_buf);
			ab_draw_rgb(cr, t->panel);
			cairo_rectangle(cr, 8, bottom + 2, w - 16, 28);
			cairo_fill(cr);
			ab_draw_focus_ring(cr, t, 8, bottom + 2, w - 16, 28);
			ab_draw_text(cr, m, t->font, t->text, 16, bottom + 8, w - 32);
		} else {
			ab_draw_text(cr, f->message, t->font, t->accent, 16, bottom + 8, w - 32);
		}
	}
	if (f->error[0]) {
		ab_draw_text(cr, f->error, t->font, t->text, 24, LIST_Y + 20, w - 48);
		ab_draw_text(cr, "Backspace goes back up.", t->font, t->text_dim, 24, LIST_Y + 46,
		             w - 48);
		return;
	}
	if (f->dir.n == 0 && f->dir.done) {
		ab_draw_text(cr, "This folder is empty.", t->font, t->text_dim, 24, LIST_Y + 20,
		             w - 48);
		return;
	}
	f->list.focused = app->focused && f->edit == EDIT_NONE;
	if (f->icons)
		files_grid_draw(f, cr, 8, LIST_Y - 16, w - 16, bottom - LIST_Y + 14);
	else
		ab_app_list_draw(app, cr, &f->list, ROW_H, 8, LIST_Y - 16, w - 16,
		                 bottom - LIST_Y + 14, files_row);
	if (f->report_pending && f->dir.done) {
		/* read, sorted and drawn (cairo has sent its requests; the X server draws next) */
		cairo_surface_flush(cairo_get_target(cr));
		f->report_pending = false;
		ab_info("'%s': %zu entries listed and drawn in %.1f ms", f->path, f->dir.n,
		        (double)(ab_now_us() - f->load_start) / 1000.0);
	}
	if (!f->dir.done) {
		char s[64];
		snprintf(s, sizeof(s), "loading… %zu", f->dir.n);
		ab_draw_text(cr, s, t->font, t->accent, w - 170, 14, 160);
	} else if (f->usage[0]) {
		ab_draw_text(cr, f->usage, t->font, t->text_dim, w - 250, 14, 240);
	}
}

/* ---- input ---- */

/* ---- copy and move (Ctrl+C / Ctrl+X, Ctrl+V) ---- */

static int64_t
files_copy_tick(struct ab_loop *loop, void *data)
{
	struct files *f = data;
	for (int i = 0; i < f->njobs; i++) {
		struct files_job *j = f->jobs[i];
		char m[320];
		j->done = fs_copy_done_bytes(&j->copy);
		files_job_text(j, m, sizeof(m));
		ab_debug("%s", m);
	}
	ab_app_redraw(&f->app);
	if (f->njobs)
		return 300;
	f->copy_timer = NULL;
	return AB_TIMER_STOP;
}

/* Takes job i off the list (its row goes); the caller has reaped or cancelled its child. */
static void
files_job_remove(struct files *f, int i)
{
	struct files_job *j = f->jobs[i];
	ab_loop_unwatch(f->app.loop, j->watch);
	free(j);
	memmove(&f->jobs[i], &f->jobs[i + 1], (size_t)(f->njobs - i - 1) * sizeof(f->jobs[0]));
	f->jobs[--f->njobs] = NULL;
	files_reload(f);
	ab_app_redraw(&f->app);
}

/* Job i's child exited (its pipe's EOF), or a rename was done at once: the outcome, reaped. */
static void
files_job_done(struct files *f, int i)
{
	struct files_job *j = f->jobs[i];
	char name[NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", strrchr(j->copy.dst, '/') + 1);
	bool move = j->copy.move;
	struct ab_err err = {0};
	if (fs_copy_finish(&j->copy, &err) < 0)
		snprintf(f->message, sizeof(f->message), "%.500s", err.msg);
	else
		snprintf(f->message, sizeof(f->message), "%s '%.200s'", move ? "moved" : "copied",
		         name);
	ab_info("%s", f->message);
	files_job_remove(f, i);
}

/* The Cancel button of job i (or Escape, the newest): its child stopped, its partial copy gone. */
static void
files_job_cancel(struct files *f, int i)
{
	if (i < 0 || i >= f->njobs)
		return;
	struct files_job *j = f->jobs[i];
	char name[NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", strrchr(j->copy.dst, '/') + 1);
	bool move = j->copy.move;
	fs_copy_cancel(&j->copy);
	if (move)
		snprintf(f->message, sizeof(f->message),
		         "moving '%.200s' cancelled: what was moved is at the target", name);
	else
		snprintf(f->message, sizeof(f->message), "copying '%.200s' cancelled", name);
	ab_info("%s", f->message);
	files_job_remove(f, i);
}

static void
files_copy_io(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct files *f = data;
	char b[64];
	ssize_t n = read(fd, b, sizeof(b));
	if (n > 0 || (n < 0 && errno == EINTR))
		return;
	for (int i = 0; i < f->njobs; i++) {
		if (f->jobs[i]->copy.fd == fd) {
			files_job_done(f, i); /* EOF: the child exited */
			return;
		}
	}
}

/*
 * Copies (moves) src into the folder dst_dir as a job of its own, beside the others running;
 * false when it could not start (message set).
 */
static bool
files_transfer(struct files *f, const char *src, const char *dst_dir, bool move)
{
	if (f->njobs >= JOBS_MAX) {
		snprintf(f->message, sizeof(f->message),
		         "%d copies are running: wait for one to finish", JOBS_MAX);
		return false;
	}
	struct ab_err err = {0};
	struct files_job *j = ab_xcalloc(1, sizeof(*j));
	if (fs_copy_start(&j->copy, src, dst_dir, move, &err) < 0) {
		free(j);
		snprintf(f->message, sizeof(f->message), "%.500s", err.msg);
		ab_info("%s", f->message);
		return false;
	}
	int i = f->njobs++;
	f->jobs[i] = j;
	if (j->copy.fd < 0) { /* a rename: done */
		files_job_done(f, i);
		return true;
	}
	j->watch = ab_loop_watch(f->app.loop, j->copy.fd, AB_LOOP_READ, files_copy_io, f);
	if (!f->copy_timer)
		f->copy_timer = ab_loop_timer(f->app.loop, 300, files_copy_tick, f);
	char m[320];
	files_job_text(j, m, sizeof(m));
	ab_info("%s (%d running)", m, f->njobs);
	ab_app_redraw(&f->app);
	return true;
}

static void
files_paste(struct files *f)
{
	if (!f->clip[0]) {
		snprintf(f->message, sizeof(f->message),
		         "nothing to paste: Ctrl+C or Ctrl+X first");
		return;
	}
	if (files_transfer(f, f->clip, f->path, f->clip_move) && f->clip_move)
		f->clip[0] = '\0'; /* moved once */
}

static void
files_take(struct files *f, bool move)
{
	const struct fs_entry *e = files_selected(f);
	if (!e)
		return;
	snprintf(f->clip, sizeof(f->clip), "%s/%s", f->path, e->name);
	f->clip_move = move;
	snprintf(f->message, sizeof(f->message), "%s '%.200s': Ctrl+V pastes it into a folder",
	         move ? "cut" : "copied", e->name);
}

static void
files_key(struct ab_app *app, KeySym sym, unsigned state, const char *text, size_t len)
{
	struct files *f = app->data;
	bool ctrl = state & ControlMask;
	if (f->edit != EDIT_NONE) {
		if (sym == XK_Escape) {
			f->edit = EDIT_NONE;
		} else if (sym == XK_Return || sym == XK_KP_Enter) {
			files_commit_edit(f);
		} else if (sym == XK_BackSpace) {
			f->edit_buf[text_utf8_prev(f->edit_buf, strlen(f->edit_buf))] = '\0';
		} else if (ctrl && (sym == XK_u || sym == XK_U)) {
			f->edit_buf[0] = '\0';
		} else if (len && !ctrl && (unsigned char)text[0] >= 0x20 &&
		           strlen(f->edit_buf) + len < EDIT_MAX) {
			strncat(f->edit_buf, text, len);
		}
		ab_app_redraw(app);
		return;
	}
	if (f->icons && !ctrl && files_grid_key(f, sym)) {
		ab_app_redraw(app);
		return;
	}
	if (ab_app_list_keysym(&f->list, sym, NULL)) {
		ab_app_redraw(app);
		return;
	}
	f->message[0] = '\0';
	if (sym == XK_Escape && f->njobs) {
		files_job_cancel(f, f->njobs - 1);
	} else if (sym == XK_Return || sym == XK_KP_Enter) {
		files_activate(f);
	} else if (sym == XK_BackSpace || ((state & Mod1Mask) && sym == XK_Up)) {
		files_up(f);
	} else if (sym == XK_Delete) {
		files_trash(f);
	} else if (sym == XK_F2 && files_selected(f)) {
		f->edit = EDIT_RENAME;
		snprintf(f->edit_buf, sizeof(f->edit_buf), "%s", files_selected(f)->name);
		ab_info("rename '%s': editing the name", f->edit_buf);
	} else if (ctrl && (sym == XK_n || sym == XK_N)) {
		f->edit = EDIT_MKDIR;
		f->edit_buf[0] = '\0';
		ab_info("new folder: editing its name");
	} else if (ctrl && (sym == XK_h || sym == XK_H)) {
		f->hidden = !f->hidden;
		files_reload(f);
	} else if (ctrl && (sym == XK_s || sym == XK_S)) {
		if (state & ShiftMask) {
			f->desc = !f->desc;
		} else {
			f->sort = (f->sort + 1) % FS_SORT_MAX;
		}
		files_reload(f);
	} else if (ctrl && (sym == XK_c || sym == XK_C || sym == XK_x || sym == XK_X)) {
		files_take(f, sym == XK_x || sym == XK_X);
	} else if (ctrl && (sym == XK_v || sym == XK_V)) {
		files_paste(f);
	} else if (ctrl && (sym == XK_1 || sym == XK_2 || sym == XK_KP_1 || sym == XK_KP_2)) {
		f->icons = sym == XK_2 || sym == XK_KP_2;
		ab_info("view: %s", f->icons ? "icons" : "list");
	} else if (sym == XK_F5 || (ctrl && (sym == XK_r || sym == XK_R))) {
		files_reload(f);
	} else if (ctrl && (sym == XK_q || sym == XK_w)) {
		ab_app_quit(app);
	} else if (sym == XK_Home && ctrl) {
		files_open_dir(f, f->home, NULL);
	}
	ab_app_redraw(app);
}

/*
 * Drag and drop within the window: a row dragged onto a folder's row is moved into it (copied
 * with Ctrl held), through the same path as Ctrl+X / Ctrl+V.
 */
static void
files_drop(struct files *f, long r, bool copy)
{
	bool dragging = f->dragging;
	long from = f->drag_row;
	f->dragging = false;
	f->drag_row = -1;
	if (!dragging || from < 0 || (size_t)from >= f->dir.n)
		return;
	if (r < 0 || r == from || (size_t)r >= f->dir.n || !f->dir.v[r].dir) {
		snprintf(f->message, sizeof(f->message), "drop on a folder to move it there");
		ab_app_redraw(&f->app);
		return;
	}
	char src[PATH_MAX + NAME_MAX + 2], dst[PATH_MAX + NAME_MAX + 2];
	snprintf(src, sizeof(src), "%s/%s", f->path, f->dir.v[from].name);
	snprintf(dst, sizeof(dst), "%s/%s", f->path, f->dir.v[r].name);
	files_transfer(f, src, dst, !copy);
	ab_app_redraw(&f->app);
}

/*
 * A row dragged out of the window and let go over the desktop: handed to argobox-wm by XDND as
 * a file:// URI (ab_app_drop_on_desktop); the wm copies it into ~/Desktop.
 */
static void
files_drop_out(struct files *f, int x, int y)
{
	long from = f->drag_row;
	f->dragging = false;
	f->drag_row = -1;
	if (from < 0 || (size_t)from >= f->dir.n)
		return;
	char path[PATH_MAX + NAME_MAX + 2], uri[3 * sizeof(path) + 16];
	snprintf(path, sizeof(path), "%s/%s", f->path, f->dir.v[from].name);
	size_t o = (size_t)snprintf(uri, sizeof(uri), "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p && o + 4 < sizeof(uri); p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-_.~", *p))
			uri[o++] = (char)*p;
		else
			o += (size_t)snprintf(uri + o, sizeof(uri) - o, "%%%02X", *p);
	}
	snprintf(uri + o, sizeof(uri) - o, "\r\n");
	int rx = 0, ry = 0;
	Window child;
	XTranslateCoordinates(f->app.dpy, f->app.win, f->app.root, x, y, &rx, &ry, &child);
	if (ab_app_drop_on_desktop(&f->app, uri, rx, ry) < 0)
		snprintf(f->message, sizeof(f->message),
		         "the desktop takes no drops here: drop on a folder to move it there");
	else
		snprintf(f->message, sizeof(f->message), "dropped '%.200s' on the desktop",
		         f->dir.v[from].name);
	ab_info("%s", f->message);
	ab_app_redraw(&f->app);
}

static void
files_motion(struct ab_app *app, int x, int y, unsigned state)
{
	struct files *f = app->data;
	if (!(state & Button1Mask) || f->drag_row < 0 || f->dragging ||
	    (size_t)f->drag_row >= f->dir.n)
		return;
	if (abs(x - f->drag_x) + abs(y - f->drag_y) < 8)
		return;
	f->dragging = true;
	snprintf(f->message, sizeof(f->message), "drop '%.200s' on a folder (Ctrl: copy)",
	         f->dir.v[f->drag_row].name);
	ab_app_redraw(app);
}

static void
files_button(struct ab_app *app, int button, bool press, int x, int y, unsigned state)
{
	struct files *f = app->data;
	static int64_t last_click;
	static long last_row = -1;
	if (!press && button != 1)
		return;
	if (button == 4 || button == 5) {
		if (f->icons) {
			size_t rows =
			    (f->dir.n + AB_MAX(1, f->grid_cols) - 1) / AB_MAX(1, f->grid_cols);
			if (button == 4 && f->grid_top)
				f->grid_top--;
			else if (button == 5 && f->grid_top + f->grid_rows < rows)
				f->grid_top++;
		} else {
			list_scroll(&f->list, button == 4 ? -3 : 3);
		}
		ab_app_redraw(app);
		return;
	}
	int job_top = f->app.h - 8 - f->njobs * JOB_H;
	if (button == 1 && press && f->njobs && y >= job_top) {
		int i = (y - job_top) / JOB_H;
		if (i < f->njobs && x >= f->app.w - 8 - CANCEL_W)
			files_job_cancel(f, i);
		return;
	}
	if (button == 1 && !press && f->dragging &&
	    (x < 0 || y < 0 || x >= app->w || y >= app->h)) {
		files_drop_out(f, x, y);
		return;
	}
	long r = files_hit(f, x, y);
	if (button == 1 && !press) {
		files_drop(f, r, state & ControlMask);
		return;
	}
	if (button != 1 || r < 0)
		return;
	f->drag_row = r;
	f->drag_x = x;
	f->drag_y = y;
	f->dragging = false;
	list_select(&f->list, (size_t)r);
	int64_t now = ab_now_ms();
	if (r == last_row && now - last_click < 400)
		files_activate(f);
	last_click = now;
	last_row = r;
	ab_app_redraw(app);
}

static void
files_icon(cairo_t *cr, int s)
{
	cairo_set_source_rgb(cr, 0.93, 0.66, 0.2);
	ab_cairo_rounded(cr, s * 0.06, s * 0.14, s * 0.4, s * 0.2, s * 0.05);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0.98, 0.76, 0.3);
	ab_cairo_rounded(cr, s * 0.06, s * 0.24, s * 0.88, s * 0.62, s * 0.08);
	cairo_fill(cr);
}

static void
files_start(struct ab_app *app)
{
	struct files *f = app->data;
	f->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ino < 0)
		ab_warn("inotify: %s; the list is not updated live", strerror(errno));
	else
		f->ino_watch = ab_loop_watch(app->loop, f->ino, AB_LOOP_READ, files_inotify, f);
	struct ab_err err = {0};
	if (thumb_queue_start(&f->thumbs, &err) < 0)
		ab_warn("%s; the icon view shows no thumbnails", err.msg);
	else
		f->thumbs_watch =
		    ab_loop_watch(app->loop, f->thumbs.fd[0], AB_LOOP_READ, files_thumbs_io, f);
	files_open_dir(f, f->first_dir ? f->first_dir : f->home, NULL);
}

static void
files_stop(struct ab_app *app)
{
	struct files *f = app->data;
	ab_loop_timer_cancel(app->loop, f->load_timer);
	ab_loop_timer_cancel(app->loop, f->reload_timer);
	ab_loop_unwatch(app->loop, f->ino_watch);
	if (f->ino >= 0)
		close(f->ino);
	/* copies running: each finishes on its own; reap them */
	ab_loop_timer_cancel(app->loop, f->copy_timer);
	for (int i = 0; i < f->njobs; i++) {
		ab_loop_unwatch(app->loop, f->jobs[i]->watch);
		fs_copy_finish(&f->jobs[i]->copy, NULL);
		free(f->jobs[i]);
	}
	f->njobs = 0;
	if (f->have_dir)
		fs_dir_free(&f->dir);
	ab_loop_unwatch(app->loop, f->thumbs_watch);
	thumb_queue_stop(&f->thumbs);
	files_thumbs_reset(f);
}

static const struct ab_app_ops files_ops = {
    .start = files_start,
    .stop = files_stop,
    .draw = files_draw,
    .key = files_key,
    .button = files_button,
    .motion = files_motion,
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	struct files *f = ab_xcalloc(1, sizeof(*f));
	const char *home = getenv("HOME");
	snprintf(f->home, sizeof(f->home), "%s", home && home[0] ? home : "/");
	f->first_dir = argc == 2 ? argv[1] : NULL;
	f->ino = -1;
	f->wd = -1;
	f->drag_row = -1;
	struct ab_app_config cfg = {.name = "files",
	                            .title = "Files",
	                            .operands = "[DIRECTORY]",
	                            .max_operands = 1,
	                            .width = 820,
	                            .height = 560,
	                            .icon = files_icon,
	                            .ops = &files_ops,
	                            .data = f};
	int code = ab_app_main(&f->app, &cfg, argc, argv);
	free(f);
	return code;
}
