/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab-rfbbench: measures one RFB server stack from the client side, the same
 * way for every stack (ArgoBox's unix socket, ArgoBox's broker websocket,
 * x11vnc over TCP or behind websockify, TigerVNC's Xvnc). bench/run drives it
 * and assembles the table; this program measures one thing per invocation and
 * prints one line of key=value pairs on stdout.
 *
 * Start reading at main(); rfbc.c is the RFB client (handshake, ZRLE/Tight/
 * CopyRect/Raw decoding into a local framebuffer that counts changed pixels),
 * conn.c the byte stream underneath (unix, TCP, or a websocket client of our own).
 *
 * Every mode takes --encodings LIST (rfbc.h: names, quality=N, compress=N, or the
 * preset "novnc", exactly what noVNC asks for); the default is ZRLE, CopyRect, Raw.
 *
 * Modes:
 *   first-frame TARGET [--repeat N]
 *       connect → first complete framebuffer (non-incremental request), N times;
 *       also each step's median: open (connect, websocket upgrade), handshake (RFB
 *       version to ServerInit), update (SetEncodings and the request to the whole frame)
 *   cold TARGET [--spawn CMD] [--timeout S]
 *       runs CMD (sh -c, own process group), connects as soon as the stack
 *       accepts, and times spawn → first complete frame; then stops CMD's group.
 *       Without --spawn: waits until TARGET serves a full frame (readiness).
 *   latency TARGET [--keys N] [--at X,Y]
 *       moves the pointer to X,Y (a terminal), then types N keys (letters and
 *       BackSpace, alternating) and times each key event → the end of the first
 *       FramebufferUpdate that changed a pixel
 *   workload TARGET --run CMD --pids P,.. [--quiet-ms N] [--timeout S]
 *       keeps an incremental update request outstanding (like noVNC) while CMD
 *       runs, until CMD has exited and the server has been quiet for N ms;
 *       reports bytes received and the CPU seconds the pids used meanwhile;
 *       with --stats also, per encoding, rectangles, bytes and pixels, and
 *       how many ZRLE tiles of each kind arrived
 *   idle TARGET --pids P,.. [--seconds S]
 *       connected and requesting updates, nothing happening: CPU of the pids
 *   snapshot TARGET --out FILE.ppm [--lossy-out FILE.pgm] [--stats]
 *       the first full frame, once the server has been quiet for --quiet-ms
 *       (default 300), as a binary PPM; --lossy-out also writes a PGM that is
 *       255 where a JPEG rectangle drew the pixel (to compare within a tolerance)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ab_err.h"
#include "ab_util.h"
#include "rfbc.h"

#define KEY_BACKSPACE 0xff08

struct opts {
	const char *mode, *target, *spawn, *run, *pids, *out, *lossy_out;
	const int32_t *encs; /* --encodings, NULL: rfbc's default */
	size_t n_encs;
	int repeat, keys, quiet_ms, at_x, at_y;
	bool stats;
	double timeout_s, seconds;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static double
median(const double *v, size_t n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * CPU seconds of one process's live threads from the scheduler's own account
 * (/proc/PID/task/TID/schedstat, nanoseconds on a CPU), or -1. utime + stime
 * in /proc/PID/stat count whole 10 ms ticks, too coarse for a 5 s drag.
 */
static double
proc_sched_cpu_s(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	double sum = 0;
	bool any = false;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char p[128];
		snprintf(p, sizeof(p), "/proc/%d/task/%.20s/schedstat", (int)pid, de->d_name);
		FILE *f = fopen(p, "re");
		unsigned long long ns;
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1) {
			sum += (double)ns / 1e9;
			any = true;
		}
		fclose(f);
	}
	closedir(d);
	return any ? sum : -1;
}

/* CPU seconds (user + system, all threads) of one process, or -1. */
static double
proc_cpu_s(pid_t pid)
{
	double s = proc_sched_cpu_s(pid);
	if (s >= 0)
		return s;
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	/* after ")": state(3) ... utime is field 14, stime 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Sum over a comma-separated pid list; -1 when one is gone. */
static double
pids_cpu_s(const char *pids)
{
	if (!pids || !*pids)
		return 0;
	double sum = 0;
	_cleanup_free_ char *copy = ab_xstrdup(pids);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		double s = proc_cpu_s((pid_t)atoi(t));
		if (s < 0)
			return -1;
		sum += s;
	}
	return sum;
}

/* Reads messages until a requested full frame has been covered; keeps one request outstanding. */
static int
full_frame(struct rfbc *r, int64_t deadline, struct ab_err *err)
{
	int ret = rfbc_request(r, false, err);
	if (ret < 0)
		return ret;
	r->conn.deadline_us = deadline;
	uint64_t area = 0;
	while (area < (uint64_t)r->w * (uint64_t)r->h) {
		ret = rfbc_read_msg(r, err);
		if (ret < 0)
			return ab_err_wrap(err, "waiting for the first full frame");
		if (ret == 1) {
			/*
			 * An update of pseudo-rectangles only (ExtendedDesktopSize comes
			 * alone) does not answer for the pixels, which are still owed: ask
			 * incrementally, as noVNC does; a non-incremental request would be
			 * answered with another ExtendedDesktopSize, forever.
			 */
			bool more = r->last_area > 0 &&
			            area + r->last_area < (uint64_t)r->w * (uint64_t)r->h;
			area += r->last_area;
			if ((ret = rfbc_request(r, !more, err)) < 0)
				return ret;
		}
	}
	return 0;
}

/* Consumes updates until the server has been quiet for quiet_ms (at most max_ms). */
static int
settle(struct rfbc *r, int quiet_ms, int max_ms, struct ab_err *err)
{
	int64_t end = ab_now_us() + (int64_t)max_ms * 1000;
	while (ab_now_us() < end) {
		int w = conn_wait(&r->conn, quiet_ms);
		if (w < 0)
			return ab_err_errno(err, -w, "poll");
		if (w == 0)
			return 0;
		r->conn.deadline_us = ab_now_us() + 5000000;
		int ret = rfbc_read_msg(r, err);
		if (ret < 0)
			return ret;
		if (ret == 1 && (ret = rfbc_request(r, true, err)) < 0)
			return ret;
	}
	return 0;
}

/* A client with the options' encodings (before connecting). */
static void
client_init(struct rfbc *r, const struct opts *o)
{
	memset(r, 0, sizeof(*r));
	r->encodings = o->encs;
	r->n_encodings = o->n_encs;
}

static int
open_ready(struct rfbc *r, const struct opts *o, struct ab_err *err)
{
	client_init(r, o);
	int ret = rfbc_connect(r, o->target, err);
	if (ret < 0)
		return ret;
	if ((ret = full_frame(r, ab_now_us() + 10000000, err)) < 0)
		return ret;
	return settle(r, 100, 3000, err);
}

static int
mode_first_frame(const struct opts *o, struct ab_err *err)
{
	int n = o->repeat > 0 ? o->repeat : 10;
	/* the whole time and its steps: connect (+ websocket upgrade), RFB handshake, frame */
	_cleanup_free_ double *v = ab_xcalloc((size_t)n * 4, sizeof(double));
	double *open_ms = v + n, *init_ms = v + 2 * n, *upd_ms = v + 3 * n;
	int w = 0, h = 0;
	for (int i = 0; i < n; i++) {
		struct rfbc r;
		client_init(&r, o);
		int64_t t0 = ab_now_us();
		r.conn.deadline_us = t0 + 10000000;
		int64_t t_open = t0, t_init = t0;
		int ret = conn_open(&r.conn, o->target, err);
		if (ret >= 0) {
			t_open = ab_now_us();
			ret = rfbc_handshake(&r, err);
			t_init = ab_now_us();
		}
		if (ret >= 0)
			ret = full_frame(&r, t0 + 10000000, err);
		int64_t t1 = ab_now_us();
		w = r.w;
		h = r.h;
		rfbc_free(&r);
		if (ret < 0)
			return ret;
		v[i] = (double)(t1 - t0) / 1000.0;
		open_ms[i] = (double)(t_open - t0) / 1000.0;
		init_ms[i] = (double)(t_init - t_open) / 1000.0;
		upd_ms[i] = (double)(t1 - t_init) / 1000.0;
	}
	for (int k = 0; k < 4; k++)
		qsort(v + k * n, (size_t)n, sizeof(double), cmp_double);
	printf("first_frame_ms=%.2f first_frame_min_ms=%.2f first_frame_n=%d geometry=%dx%d "
	       "open_ms=%.2f handshake_ms=%.2f update_ms=%.2f\n",
	       median(v, (size_t)n), v[0], n, w, h, median(open_ms, (size_t)n),
	       median(init_ms, (size_t)n), median(upd_ms, (size_t)n));
	return 0;
}

static void
stop_group(pid_t pid)
{
	kill(-pid, SIGTERM);
	int64_t end = ab_now_us() + 5000000;
	while (ab_now_us() < end) {
		pid_t p = waitpid(pid, NULL, WNOHANG);
		if (p == pid || (p < 0 && errno == ECHILD))
			break;
		usleep(5000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
}

static pid_t
spawn_sh(const char *cmd, bool new_group)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (new_group)
			setsid();
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int
mode_cold(const struct opts *o, struct ab_err *err)
{
	int64_t t0 = ab_now_us();
	int64_t deadline = t0 + (int64_t)((o->timeout_s > 0 ? o->timeout_s : 20) * 1e6);
	pid_t pid = o->spawn ? spawn_sh(o->spawn, true) : 0;
	if (pid < 0)
		return ab_err_errno(err, errno, "fork");
	int ret = -ETIMEDOUT, tries = 0;
	struct ab_err last = {0};
	while (ab_now_us() < deadline) {
		struct rfbc r;
		client_init(&r, o);
		r.conn.deadline_us = deadline;
		tries++;
		ret = rfbc_connect(&r, o->target, &last);
		if (ret >= 0)
			ret = full_frame(&r, deadline, &last);
		rfbc_free(&r);
		if (ret >= 0)
			break;
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid) {
			ab_err_set(err, ECHILD, "the stack exited before serving a frame");
			return -ECHILD;
		}
		usleep(1000); /* retry backoff while the stack starts */
	}
	int64_t t1 = ab_now_us();
	if (pid > 0)
		stop_group(pid);
	if (ret < 0) {
		*err = last;
		return ab_err_wrap(err, "cold start (%d attempts)", tries);
	}
	printf("cold_ms=%.1f attempts=%d\n", (double)(t1 - t0) / 1000.0, tries);
	return 0;
}

static int
mode_latency(const struct opts *o, struct ab_err *err)
{
	struct rfbc r;
	int ret = open_ready(&r, o, err);
	int n = o->keys > 0 ? o->keys : 100;
	_cleanup_free_ double *v = ab_xcalloc((size_t)n, sizeof(double));
	_cleanup_free_ double *px = ab_xcalloc((size_t)n, sizeof(double));
	int got = 0, lost = 0;
	if (ret >= 0)
		ret = rfbc_pointer(&r, o->at_x, o->at_y, 0, err);
	if (ret >= 0)
		ret = settle(&r, 100, 3000, err);
	for (int i = 0; ret >= 0 && i < n; i++) {
		uint32_t ks = i % 2 ? KEY_BACKSPACE : (uint32_t)('a' + (i / 2) % 26);
		int64_t t0 = ab_now_us();
		if ((ret = rfbc_key_tap(&r, ks, err)) < 0)
			break;
		r.conn.deadline_us = t0 + 2000000;
		for (;;) {
			struct ab_err e = {0};
			ret = rfbc_read_msg(&r, &e);
			if (ret == -ETIMEDOUT) {
				lost++;
				ret = 0;
				break;
			}
			if (ret < 0) {
				*err = e;
				break;
			}
			if (ret == 1) {
				int64_t t1 = ab_now_us();
				if ((ret = rfbc_request(&r, true, err)) < 0)
					break;
				if (r.last_changed > 0) {
					px[got] = (double)r.last_changed;
					v[got++] = (double)(t1 - t0) / 1000.0;
					break;
				}
			}
		}
		if (ret >= 0)
			ret = settle(&r, 30, 1000, err);
	}
	rfbc_free(&r);
	if (ret < 0)
		return ret;
	if (got == 0)
		return ab_err_set(err, ETIMEDOUT, "no key produced a screen change (%d lost)",
		                  lost);
	qsort(v, (size_t)got, sizeof(double), cmp_double);
	qsort(px, (size_t)got, sizeof(double), cmp_double);
	/* key_px: pixels changed by the measured update (a glyph: similar on every stack) */
	printf("key_median_ms=%.2f key_p95_ms=%.2f key_p99_ms=%.2f key_min_ms=%.2f key_max_ms=%.2f "
	       "key_n=%d key_lost=%d key_px=%.0f\n",
	       median(v, (size_t)got), percentile(v, (size_t)got, 95),
	       percentile(v, (size_t)got, 99), v[0], v[got - 1], got, lost,
	       median(px, (size_t)got));
	return 0;
}

static int
mode_workload(const struct opts *o, struct ab_err *err)
{
	if (!o->run)
		return ab_err_set(err, EINVAL, "workload needs --run CMD");
	struct rfbc r;
	int ret = open_ready(&r, o, err);
	if (ret < 0) {
		rfbc_free(&r);
		return ret;
	}
	int quiet = o->quiet_ms > 0 ? o->quiet_ms : 300;
	double cpu0 = pids_cpu_s(o->pids);
	uint64_t b0 = r.conn.wire_bytes, u0 = r.updates;
	struct rfbc base = r; /* the counters before the workload */
	int64_t t0 = ab_now_us(), last = t0;
	int64_t deadline = t0 + (int64_t)((o->timeout_s > 0 ? o->timeout_s : 60) * 1e6);
	pid_t pid = spawn_sh(o->run, false);
	bool running = pid > 0;
	int status = 0;
	while (ret >= 0) {
		if (running && waitpid(pid, &status, WNOHANG) == pid)
			running = false;
		int64_t now = ab_now_us();
		if (!running && now - last >= (int64_t)quiet * 1000)
			break;
		if (now > deadline) {
			ret = ab_err_set(err, ETIMEDOUT, "workload did not finish in time");
			break;
		}
		int w = conn_wait(&r.conn, 10);
		if (w < 0) {
			ret = ab_err_errno(err, -w, "poll");
			break;
		}
		if (w == 0)
			continue;
		r.conn.deadline_us = ab_now_us() + 5000000;
		ret = rfbc_read_msg(&r, err);
		if (ret == 1) {
			last = ab_now_us();
			ret = rfbc_request(&r, true, err);
		}
	}
	double cpu1 = pids_cpu_s(o->pids);
	if (running)
		stop_group(pid);
	uint64_t bytes = r.conn.wire_bytes - b0, ups = r.updates - u0;
	if (ret < 0 || (WIFEXITED(status) && WEXITSTATUS(status) != 0) || cpu0 < 0 || cpu1 < 0) {
		rfbc_free(&r);
		if (ret < 0)
			return ret;
		if (cpu0 < 0 || cpu1 < 0)
			return ab_err_set(err, ESRCH, "a server process in '%s' went away",
			                  o->pids);
		return ab_err_set(err, ECHILD, "workload command '%s' exited with %d", o->run,
		                  WEXITSTATUS(status));
	}
	printf("bytes=%llu updates=%llu cpu_s=%.2f duration_s=%.2f", (unsigned long long)bytes,
	       (unsigned long long)ups, cpu1 - cpu0, (double)(last - t0) / 1e6);
	if (o->stats)
		rfbc_print_stats(&r, &base, stdout);
	printf("\n");
	rfbc_free(&r);
	return 0;
}

#define IDLE_SETTLE_MS 1500

static int
mode_idle(const struct opts *o, struct ab_err *err)
{
	struct rfbc r;
	int ret = open_ready(&r, o, err);
	/*
	 * idle is the steady state: the first frame's follow-ups (lossless
	 * refinement of its JPEG areas, ArgoBox's and TigerVNC's) are over first
	 */
	if (ret >= 0)
		ret = settle(&r, IDLE_SETTLE_MS, 10000, err);
	double secs = o->seconds > 0 ? o->seconds : 10;
	double cpu0 = pids_cpu_s(o->pids);
	uint64_t b0 = r.conn.wire_bytes;
	int64_t t0 = ab_now_us(), end = t0 + (int64_t)(secs * 1e6);
	while (ret >= 0 && ab_now_us() < end) {
		int w = conn_wait(&r.conn, (int)AB_MAX(1, (end - ab_now_us()) / 1000));
		if (w <= 0) {
			if (w < 0)
				ret = ab_err_errno(err, -w, "poll");
			continue;
		}
		r.conn.deadline_us = ab_now_us() + 5000000;
		ret = rfbc_read_msg(&r, err);
		if (ret == 1)
			ret = rfbc_request(&r, true, err);
	}
	double cpu1 = pids_cpu_s(o->pids);
	double wall = (double)(ab_now_us() - t0) / 1e6;
	uint64_t bytes = r.conn.wire_bytes - b0;
	rfbc_free(&r);
	if (ret < 0)
		return ret;
	if (cpu0 < 0 || cpu1 < 0)
		return ab_err_set(err, ESRCH, "a server process in '%s' went away", o->pids);
	printf("idle_cpu_pct=%.2f idle_cpu_s=%.2f idle_bytes=%llu idle_s=%.1f\n",
	       100.0 * (cpu1 - cpu0) / wall, cpu1 - cpu0, (unsigned long long)bytes, wall);
	return 0;
}

static int
write_image(const char *path, const char *magic, int w, int h, const uint8_t *data, size_t n,
            struct ab_err *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return ab_err_errno(err, errno, "creating '%s'", path);
	fprintf(f, "%s\n%d %d\n255\n", magic, w, h);
	if (fwrite(data, 1, n, f) != n || fflush(f) != 0)
		return ab_err_errno(err, errno, "writing '%s'", path);
	return 0;
}

static int
mode_snapshot(const struct opts *o, struct ab_err *err)
{
	if (!o->out)
		return ab_err_set(err, EINVAL, "snapshot needs --out FILE.ppm");
	struct rfbc r;
	client_init(&r, o);
	r.track_lossy = o->lossy_out != NULL;
	int ret = rfbc_connect(&r, o->target, err);
	if (ret >= 0)
		ret = full_frame(&r, ab_now_us() + 10000000, err);
	if (ret >= 0)
		ret = settle(&r, o->quiet_ms > 0 ? o->quiet_ms : 300, 10000, err);
	if (ret < 0) {
		rfbc_free(&r);
		return ret;
	}
	size_t npx = (size_t)r.w * (size_t)r.h;
	_cleanup_free_ uint8_t *rgb = ab_xmalloc(npx * 3);
	for (size_t i = 0; i < npx; i++) {
		rgb[3 * i] = (uint8_t)(r.fb[i] >> 16);
		rgb[3 * i + 1] = (uint8_t)(r.fb[i] >> 8);
		rgb[3 * i + 2] = (uint8_t)r.fb[i];
	}
	ret = write_image(o->out, "P6", r.w, r.h, rgb, npx * 3, err);
	if (ret >= 0 && o->lossy_out) {
		for (size_t i = 0; i < npx; i++)
			rgb[i] = r.lossy[i] ? 255 : 0;
		ret = write_image(o->lossy_out, "P5", r.w, r.h, rgb, npx, err);
	}
	if (ret >= 0) {
		static const struct rfbc zero;
		printf("snapshot=%s geometry=%dx%d updates=%llu", o->out, r.w, r.h,
		       (unsigned long long)r.updates);
		if (o->stats)
			rfbc_print_stats(&r, &zero, stdout);
		printf("\n");
	}
	rfbc_free(&r);
	return ret;
}

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ab-rfbbench MODE TARGET [options]\n"
	    "  MODE: first-frame | cold | latency | workload | idle | snapshot\n"
	    "  TARGET: unix:PATH | tcp:HOST:PORT | ws://HOST:PORT/PATH\n"
	    "  --repeat N  --spawn CMD  --timeout S  --keys N  --at X,Y\n"
	    "  --run CMD  --pids P,..  --quiet-ms N  --seconds S\n"
	    "  --out FILE.ppm  --lossy-out FILE.pgm   snapshot: the client's framebuffer\n"
	    "  --stats     workload, snapshot: also per encoding rects/bytes/pixels, ZRLE tile\n"
	    "              and Tight rectangle kinds\n"
	    "  --encodings LIST  comma-separated, in preference order (default: "
	    "zrle,copyrect,raw,desktopsize,lastrect)\n"
	    "              %s\n",
	    rfbc_encoding_names);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"repeat", required_argument, NULL, 'r'},
	    {"spawn", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"keys", required_argument, NULL, 'k'},
	    {"at", required_argument, NULL, 'a'},
	    {"run", required_argument, NULL, 'R'},
	    {"pids", required_argument, NULL, 'p'},
	    {"quiet-ms", required_argument, NULL, 'q'},
	    {"seconds", required_argument, NULL, 'S'},
	    {"stats", no_argument, NULL, 'D'},
	    {"encodings", required_argument, NULL, 'E'},
	    {"out", required_argument, NULL, 'o'},
	    {"lossy-out", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct opts o = {.at_x = 40, .at_y = 40};
	_cleanup_free_ int32_t *encs = NULL;
	struct ab_err perr = {0};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.repeat = atoi(optarg);
			break;
		case 's':
			o.spawn = optarg;
			break;
		case 't':
			o.timeout_s = atof(optarg);
			break;
		case 'k':
			o.keys = atoi(optarg);
			break;
		case 'a':
			if (sscanf(optarg, "%d,%d", &o.at_x, &o.at_y) != 2) {
				fprintf(stderr, "ab-rfbbench: --at wants X,Y, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'R':
			o.run = optarg;
			break;
		case 'p':
			o.pids = optarg;
			break;
		case 'q':
			o.quiet_ms = atoi(optarg);
			break;
		case 'S':
			o.seconds = atof(optarg);
			break;
		case 'D':
			o.stats = true;
			break;
		case 'E':
			free(encs);
			encs = NULL;
			if (rfbc_parse_encodings(optarg, &encs, &o.n_encs, &perr) < 0) {
				fprintf(stderr, "ab-rfbbench: --encodings: %s\n", perr.msg);
				return 2;
			}
			o.encs = encs;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'L':
			o.lossy_out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	o.mode = argv[optind];
	o.target = argv[optind + 1];
	signal(SIGPIPE, SIG_IGN);
	static const struct {
		const char *name;
		int (*fn)(const struct opts *o, struct ab_err *err);
	} modes[] = {
	    {"first-frame", mode_first_frame}, {"cold", mode_cold}, {"latency", mode_latency},
	    {"workload", mode_workload},       {"idle", mode_idle}, {"snapshot", mode_snapshot},
	};
	for (size_t i = 0; i < AB_ARRAY_SIZE(modes); i++) {
		if (strcmp(o.mode, modes[i].name) != 0)
			continue;
		struct ab_err err = {0};
		if (modes[i].fn(&o, &err) < 0) {
			fprintf(stderr, "ab-rfbbench: %s %s: %s\n", o.mode, o.target, err.msg);
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "ab-rfbbench: unknown mode '%s'\n", o.mode);
	usage(stderr);
	return 2;
}
