/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-monitor: the container's processes and its use of CPU, memory, pids,
 * network and the home's disk against the cgroup's limits, sampled once a
 * second (sysinfo.c), with graphs over the last five minutes. Own processes
 * can be ended (SIGTERM). One window on the app library (apps/lib), one loop:
 * a 1 s timer samples, X events drive the list and the filter.
 */
#include "ab_app.h"
#include "ab_err.h"
#include "ab_log.h"
#include "ab_text.h"
#include "ab_util.h"
#include "sysinfo.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define HIST       300 /* samples = seconds */
#define ROW_H      22
#define CARD_H     118
#define FILTER_MAX 64

enum series { S_CPU, S_MEM, S_PIDS, S_NET, S_MAX };

struct monitor {
	struct ab_app app;
	struct ab_list list;
	struct proc_info *procs, *prev;
	size_t n_procs, n_prev;
	size_t *rows; /* indices into procs after the filter, sorted */
	size_t n_rows;
	struct cg_info cg;
	struct net_info net, net_prev;
	uint64_t cpu_total, cpu_total_prev, cg_usec_prev;
	int64_t t_prev_ms;
	int ncpu;
	double cpu_now; /* CPUs in use */
	double rx_rate, tx_rate;
	uint64_t disk_used, disk_total;
	double hist[S_MAX][HIST];
	size_t hist_n;
	char filter[FILTER_MAX];
	char message[160];
	struct ab_timer *timer;
	uid_t uid;
};

static int
cmp_pid(const void *a, const void *b)
{
	const struct proc_info *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static struct monitor *sort_ctx;

static int
cmp_rows(const void *a, const void *b)
{
	const struct proc_info *x = &sort_ctx->procs[*(const size_t *)a];
	const struct proc_info *y = &sort_ctx->procs[*(const size_t *)b];
	if (x->cpu_pct != y->cpu_pct)
		return x->cpu_pct < y->cpu_pct ? 1 : -1;
	if (x->rss != y->rss)
		return x->rss < y->rss ? 1 : -1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static void
mon_filter(struct monitor *m)
{
	pid_t keep = m->n_rows && m->list.sel < m->n_rows ? m->procs[m->rows[m->list.sel]].pid : 0;
	free(m->rows);
	m->rows = ab_xcalloc(m->n_procs ? m->n_procs : 1, sizeof(*m->rows));
	m->n_rows = 0;
	for (size_t i = 0; i < m->n_procs; i++) {
		if (m->filter[0] &&
		    text_find_ci(m->procs[i].name, strlen(m->procs[i].name), m->filter) < 0)
			continue;
		m->rows[m->n_rows++] = i;
	}
	sort_ctx = m;
	qsort(m->rows, m->n_rows, sizeof(*m->rows), cmp_rows);
	list_set_count(&m->list, m->n_rows);
	for (size_t i = 0; keep && i < m->n_rows; i++) {
		if (m->procs[m->rows[i]].pid == keep) {
			list_select(&m->list, i);
			break;
		}
	}
}

static void
hist_push(struct monitor *m, const double *v)
{
	if (m->hist_n == HIST) {
		for (int s = 0; s < S_MAX; s++)
			memmove(m->hist[s], m->hist[s] + 1, (HIST - 1) * sizeof(double));
		m->hist_n--;
	}
	for (int s = 0; s < S_MAX; s++)
		m->hist[s][m->hist_n] = v[s];
	m->hist_n++;
}

static void
mon_sample(struct monitor *m)
{
	struct ab_err err = {0};
	struct proc_info *procs = NULL;
	int n = sysinfo_procs("", &procs, &err);
	if (n < 0) {
		snprintf(m->message, sizeof(m->message), "%.150s", err.msg);
		n = 0;
	}
	int64_t now = ab_now_ms();
	uint64_t total = 0;
	int ncpu = 1;
	sysinfo_cpu_total("", &total, &ncpu);
	uint64_t dt = total > m->cpu_total_prev ? total - m->cpu_total_prev : 0;
	/* per process: share of one CPU since the last sample, as top shows it */
	for (int i = 0; i < n; i++) {
		struct proc_info *old =
		    m->prev ? bsearch(&procs[i], m->prev, m->n_prev, sizeof(*m->prev), cmp_pid)
		            : NULL;
		if (old && dt && procs[i].cpu_ticks >= old->cpu_ticks)
			procs[i].cpu_pct = 100.0 * ncpu *
			                   (double)(procs[i].cpu_ticks - old->cpu_ticks) /
			                   (double)dt;
	}
	qsort(procs, (size_t)n, sizeof(*procs), cmp_pid);
	free(m->prev);
	m->prev = m->procs;
	m->n_prev = m->n_procs;
	m->procs = procs;
	m->n_procs = (size_t)n;
	/* whole container */
	sysinfo_cgroup("", &m->cg);
	double sec = m->t_prev_ms ? (double)(now - m->t_prev_ms) / 1000.0 : 0;
	double cpus = 0;
	if (m->cg.have_cpu_usage && m->cg_usec_prev && sec > 0)
		cpus = (double)(m->cg.cpu_usec - m->cg_usec_prev) / 1e6 / sec;
	else
		for (size_t i = 0; i < m->n_procs; i++)
			cpus += m->procs[i].cpu_pct / 100.0;
	m->cpu_now = cpus;
	m->cg_usec_prev = m->cg.cpu_usec;
	m->cpu_total_prev = total;
	m->ncpu = ncpu;
	m->net_prev = m->net;
	sysinfo_net("", &m->net);
	if (sec > 0 && m->net.rx >= m->net_prev.rx && m->net.tx >= m->net_prev.tx) {
		m->rx_rate = (double)(m->net.rx - m->net_prev.rx) / sec;
		m->tx_rate = (double)(m->net.tx - m->net_prev.tx) / sec;
	}
	m->t_prev_ms = now;
	const char *home = getenv("HOME");
	struct statvfs vfs;
	if (home && statvfs(home, &vfs) == 0) {
		m->disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		m->disk_used = m->disk_total - (uint64_t)vfs.f_bfree * vfs.f_frsize;
	}
	uint64_t mem = m->cg.mem_used;
	if (!m->cg.version)
		for (size_t i = 0; i < m->n_procs; i++)
			mem += m->procs[i].rss;
	double v[S_MAX] = {cpus, (double)mem,
	                   (double)(m->cg.pids_cur ? m->cg.pids_cur : m->n_procs),
	                   m->rx_rate + m->tx_rate};
	hist_push(m, v);
	mon_filter(m);
	ab_app_redraw(&m->app);
}

static int64_t
mon_tick(struct ab_loop *loop, void *data)
{
	mon_sample(data);
	return 1000;
}

/* ---- drawing ---- */

static void
draw_card(struct monitor *m, cairo_t *cr, double x, double y, double w, double h, const char *title,
          const char *value, enum series s, double limit)
{
	const struct ab_theme *t = &m->app.theme;
	ab_draw_rgb(cr, t->panel);
	ab_cairo_rounded(cr, x, y, w, h, 8);
	cairo_fill_preserve(cr);
	ab_draw_rgb(cr, t->border);
	cairo_set_line_width(cr, 1);
	cairo_stroke(cr);
	char font[96];
	snprintf(font, sizeof(font), "%s", t->font);
	ab_draw_text(cr, title, font, t->text_dim, x + 10, y + 8, w - 20);
	ab_draw_text(cr, value, font, t->text, x + 10, y + 26, w - 20);
	/* graph: the last HIST samples, scaled to the limit (or to the peak) */
	double gx = x + 10, gy = y + 50, gw = w - 20, gh = h - 60;
	double top = limit;
	for (size_t i = 0; i < m->hist_n; i++)
		top = m->hist[s][i] > top ? m->hist[s][i] : top;
	if (top <= 0)
		top = 1;
	if (m->hist_n < 2)
		return;
	cairo_save(cr);
	cairo_rectangle(cr, gx, gy, gw, gh);
	cairo_clip(cr);
	cairo_move_to(cr, gx + gw, gy + gh);
	for (size_t i = m->hist_n; i-- > 0;) {
		double px = gx + gw - (double)(m->hist_n - 1 - i) * gw / (HIST - 1);
		double py = gy + gh - m->hist[s][i] / top * gh;
		cairo_line_to(cr, px, py);
	}
	double x0 = gx + gw - (double)(m->hist_n - 1) * gw / (HIST - 1);
	cairo_line_to(cr, x0, gy + gh);
	cairo_close_path(cr);
	cairo_set_source_rgba(cr, t->accent[0], t->accent[1], t->accent[2], 0.25);
	cairo_fill_preserve(cr);
	ab_draw_rgb(cr, t->accent);
	cairo_set_line_width(cr, 2);
	cairo_stroke(cr);
	cairo_restore(cr);
}

static void
mon_row(struct ab_app *app, cairo_t *cr, size_t i, bool selected, double x, double y, double w,
        double h)
{
	struct monitor *m = app->data;
	const struct ab_theme *t = &app->theme;
	const struct proc_info *p = &m->procs[m->rows[i]];
	const double *fg = selected ? t->sel_text : t->text;
	const double *dim = selected ? t->sel_text : t->text_dim;
	char b[64], mem[32];
	double ty = y + 3;
	snprintf(b, sizeof(b), "%d", (int)p->pid);
	ab_draw_text(cr, b, t->font, dim, x + 10, ty, 60);
	ab_draw_text(cr, p->name, t->font, fg, x + 80, ty, w - 380);
	snprintf(b, sizeof(b), "%.1f%%", p->cpu_pct);
	ab_draw_text(cr, b, t->font, fg, x + w - 290, ty, 70);
	text_format_bytes(p->rss, mem, sizeof(mem));
	ab_draw_text(cr, mem, t->font, fg, x + w - 210, ty, 90);
	snprintf(b, sizeof(b), "%s · nice %d", p->uid == m->uid ? "yours" : "other", p->nice);
	ab_draw_text(cr, b, t->font, dim, x + w - 110, ty, 108);
}

static void
mon_draw(struct ab_app *app, cairo_t *cr, int w, int h)
{
	struct monitor *m = app->data;
	const struct ab_theme *t = &app->theme;
	ab_draw_rgb(cr, t->bg);
	cairo_paint(cr);
	double cw = (w - 50) / 4.0;
	char v[128], a[32], b[32];
	if (m->cg.cpu_limit > 0)
		snprintf(v, sizeof(v), "%.0f%% of %.1f CPUs (limit)",
		         m->cpu_now / m->cg.cpu_limit * 100, m->cg.cpu_limit);
	else
		snprintf(v, sizeof(v), "%.2f of %d CPUs", m->cpu_now, m->ncpu);
	draw_card(m, cr, 10, 10, cw, CARD_H, "CPU", v, S_CPU, m->cg.cpu_limit);
	double mem = m->hist_n ? m->hist[S_MEM][m->hist_n - 1] : 0;
	text_format_bytes((uint64_t)mem, a, sizeof(a));
	if (m->cg.mem_limit) {
		text_format_bytes(m->cg.mem_limit, b, sizeof(b));
		snprintf(v, sizeof(v), "%s of %s", a, b);
	} else {
		snprintf(v, sizeof(v), "%s (no limit)", a);
	}
	draw_card(m, cr, 20 + cw, 10, cw, CARD_H, "Memory", v, S_MEM, (double)m->cg.mem_limit);
	double pids = m->hist_n ? m->hist[S_PIDS][m->hist_n - 1] : 0;
	if (m->cg.pids_limit)
		snprintf(v, sizeof(v), "%.0f of %llu", pids, (unsigned long long)m->cg.pids_limit);
	else
		snprintf(v, sizeof(v), "%.0f (no limit)", pids);
	draw_card(m, cr, 30 + 2 * cw, 10, cw, CARD_H, "Processes", v, S_PIDS,
	          (double)m->cg.pids_limit);
	text_format_bytes((uint64_t)m->rx_rate, a, sizeof(a));
	text_format_bytes((uint64_t)m->tx_rate, b, sizeof(b));
	snprintf(v, sizeof(v), "↓ %s/s  ↑ %s/s", a, b);
	draw_card(m, cr, 40 + 3 * cw, 10, cw, CARD_H, "Network", v, S_NET, 0);

	double y = 20 + CARD_H;
	if (m->disk_total) {
		text_format_bytes(m->disk_used, a, sizeof(a));
		text_format_bytes(m->disk_total, b, sizeof(b));
		snprintf(v, sizeof(v), "Home: %s used of %s (%.0f%%)", a, b,
		         100.0 * (double)m->disk_used / (double)m->disk_total);
	} else {
		snprintf(v, sizeof(v), "Home: disk use unknown");
	}
	ab_draw_text(cr, v, t->font, t->text, 14, y, w / 2.0);
	snprintf(v, sizeof(v), "%s cgroup v%d", m->cg.version ? "limits from" : "no cgroup limits",
	         m->cg.version);
	if (!m->cg.version)
		snprintf(v, sizeof(v), "no cgroup found: machine-wide figures");
	ab_draw_text(cr, v, t->font, t->text_dim, w / 2.0, y, w / 2.0 - 14);
	y += 26;
	char f[FILTER_MAX + 160];
	snprintf(f, sizeof(f),
	         "Filter: %s▏   %zu of %zu processes   Delete: end (SIGTERM)   +/-: nice",
	         m->filter, m->n_rows, m->n_procs);
	ab_draw_text(cr, f, t->font, t->text_dim, 14, y, w - 28);
	y += 24;
	if (m->message[0]) {
		ab_draw_text(cr, m->message, t->font, t->accent, 14, h - 24, w - 28);
		h -= 28;
	}
	m->list.focused = app->focused;
	ab_app_list_draw(app, cr, &m->list, ROW_H, 10, y, w - 20, h - y - 10, mon_row);
}

/* ---- input ---- */

static void
mon_end_selected(struct monitor *m)
{
	if (!m->n_rows)
		return;
	const struct proc_info *p = &m->procs[m->rows[m->list.sel]];
	if (p->uid != m->uid) {
		snprintf(m->message, sizeof(m->message), "'%s' (%d) is not yours: not ended",
		         p->name, (int)p->pid);
	} else if (p->pid == getpid()) {
		snprintf(m->message, sizeof(m->message), "that is this monitor: close the window");
	} else if (kill(p->pid, SIGTERM) < 0) {
		snprintf(m->message, sizeof(m->message), "ending '%s' (%d): %s", p->name,
		         (int)p->pid, strerror(errno));
	} else {
		snprintf(m->message, sizeof(m->message), "sent SIGTERM to '%s' (%d)", p->name,
		         (int)p->pid);
	}
	ab_app_redraw(&m->app);
}

/* '+' makes the selected own process nicer (lower priority); '-' asks for the opposite,
 * which the kernel allows only down to the RLIMIT_NICE floor. */
static void
mon_renice(struct monitor *m, int delta)
{
	if (!m->n_rows)
		return;
	struct proc_info *p = &m->procs[m->rows[m->list.sel]];
	int to = AB_MAX(-20, AB_MIN(19, p->nice + delta));
	if (p->uid != m->uid)
		snprintf(m->message, sizeof(m->message), "'%s' (%d) is not yours: nice unchanged",
		         p->name, (int)p->pid);
	else if (setpriority(PRIO_PROCESS, (id_t)p->pid, to) < 0)
		snprintf(m->message, sizeof(m->message), "nice %d for '%s' (%d): %s", to, p->name,
		         (int)p->pid, strerror(errno));
	else {
		snprintf(m->message, sizeof(m->message), "'%s' (%d) now runs at nice %d", p->name,
		         (int)p->pid, to);
		p->nice = to;
	}
	ab_app_redraw(&m->app);
}

static void
mon_key(struct ab_app *app, KeySym sym, unsigned state, const char *text, size_t len)
{
	struct monitor *m = app->data;
	bool changed;
	if (ab_app_list_keysym(&m->list, sym, &changed)) {
		ab_app_redraw(app);
		return;
	}
	if (sym == XK_Delete || ((state & ControlMask) && (sym == XK_k || sym == XK_K))) {
		mon_end_selected(m);
		return;
	}
	if (sym == XK_F5) {
		mon_sample(m);
		return;
	}
	if (sym == XK_plus || sym == XK_KP_Add || sym == XK_minus || sym == XK_KP_Subtract) {
		mon_renice(m, sym == XK_plus || sym == XK_KP_Add ? 1 : -1);
		return;
	}
	if (sym == XK_Escape) {
		m->filter[0] = '\0';
	} else if (sym == XK_BackSpace) {
		m->filter[text_utf8_prev(m->filter, strlen(m->filter))] = '\0';
	} else if (len && !(state & ControlMask) && (unsigned char)text[0] >= 0x20 &&
	           strlen(m->filter) + len < FILTER_MAX) {
		strncat(m->filter, text, len);
	} else {
		return;
	}
	m->message[0] = '\0';
	mon_filter(m);
	list_select(&m->list, 0);
	ab_app_redraw(app);
}

static void
mon_button(struct ab_app *app, int button, bool press, int x, int y, unsigned state)
{
	struct monitor *m = app->data;
	if (!press)
		return;
	if (button == 4 || button == 5) {
		list_scroll(&m->list, button == 4 ? -3 : 3);
		ab_app_redraw(app);
		return;
	}
	double top = 20 + CARD_H + 50 + (m->message[0] ? 0 : 0);
	long r = list_row_at(&m->list, (int)(y - top), ROW_H);
	if (button == 1 && r >= 0) {
		list_select(&m->list, (size_t)r);
		ab_app_redraw(app);
	}
}

static void
mon_icon(cairo_t *cr, int s)
{
	ab_draw_icon_tile(cr, s, (const double[]){0.12, 0.23, 0.36},
	                  (const double[]){0.49, 0.77, 1.0});
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	cairo_move_to(cr, s * 0.1, s * 0.6);
	cairo_line_to(cr, s * 0.3, s * 0.6);
	cairo_line_to(cr, s * 0.4, s * 0.3);
	cairo_line_to(cr, s * 0.52, s * 0.75);
	cairo_line_to(cr, s * 0.62, s * 0.25);
	cairo_line_to(cr, s * 0.7, s * 0.6);
	cairo_line_to(cr, s * 0.9, s * 0.6);
	cairo_stroke(cr);
}

static void
mon_start(struct ab_app *app)
{
	struct monitor *m = app->data;
	mon_sample(m);
	m->timer = ab_loop_timer(app->loop, 1000, mon_tick, m);
}

static void
mon_stop(struct ab_app *app)
{
	struct monitor *m = app->data;
	ab_loop_timer_cancel(app->loop, m->timer);
	free(m->procs);
	free(m->prev);
	free(m->rows);
}

static const struct ab_app_ops mon_ops = {
    .start = mon_start,
    .stop = mon_stop,
    .draw = mon_draw,
    .key = mon_key,
    .button = mon_button,
};

int
main(int argc, char **argv)
{
	struct monitor *m = ab_xcalloc(1, sizeof(*m));
	m->uid = getuid();
	struct ab_app_config cfg = {.name = "monitor",
	                            .title = "System Monitor",
	                            .width = 860,
	                            .height = 600,
	                            .icon = mon_icon,
	                            .ops = &mon_ops,
	                            .data = m};
	int code = ab_app_main(&m->app, &cfg, argc, argv);
	free(m);
	return code;
}
