/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "xvfb.h"
#include "ab_log.h"
#include "ab_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

long
xvfb_parse_xwd(const void *data, size_t len, int *ret_width, int *ret_height, int *ret_bpp,
               int *ret_bytes_per_line)
{
	const unsigned char *p = data;
	if (len < 100)
		return -EINVAL;
	uint32_t header_size = be32(p), version = be32(p + 4);
	uint32_t width = be32(p + 16), height = be32(p + 20);
	uint32_t bpp = be32(p + 44), bpl = be32(p + 48), ncolors = be32(p + 76);
	if (version != 7 || header_size < 100 || header_size > 4096 || ncolors > 65536)
		return -EINVAL;
	if (bpp != 32 || width == 0 || height == 0 || width > 16384 || height > 16384 ||
	    bpl < width * 4)
		return -EINVAL;
	uint64_t off = header_size + (uint64_t)ncolors * 12; /* sizeof(XWDColor) */
	if (off + (uint64_t)bpl * height > len)
		return -EINVAL;
	*ret_width = (int)width;
	*ret_height = (int)height;
	*ret_bpp = (int)bpp;
	*ret_bytes_per_line = (int)bpl;
	return (long)off;
}

int
xvfb_start(struct xvfb *x, const char *xvfb_path, const char *fbdir_parent, int max_w, int max_h,
           bool glx, struct ab_err *err)
{
	memset(x, 0, sizeof(*x));
	x->display = -1;
	x->trim_row = -1;
	int n = snprintf(x->fbdir, sizeof(x->fbdir), "%s/argobox-fb-XXXXXX", fbdir_parent);
	if (n < 0 || (size_t)n >= sizeof(x->fbdir))
		return ab_err_set(err, ENAMETOOLONG, "fbdir '%s' is too long", fbdir_parent);
	if (!mkdtemp(x->fbdir)) {
		int e = errno;
		x->fbdir[0] = 0;
		return ab_err_errno(err, e, "creating a framebuffer directory in '%s'",
		                    fbdir_parent);
	}

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return ab_err_errno(err, errno, "pipe");
	_cleanup_close_ int rd = pfd[0];
	_cleanup_close_ int wr = pfd[1];

	char screen[64], fdbuf[16];
	snprintf(screen, sizeof(screen), "%dx%dx24", max_w, max_h);
	snprintf(fdbuf, sizeof(fdbuf), "%d", 3);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return ab_err_errno(err, errno, "fork");
	if (pid == 0) {
		setpgid(0, 0);
		/* dies with the session: a session killed -9 must not leave its X server (and
		 * through it its window manager) running beside the next session of its dir */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (dup2(wr, 3) < 0)
			_exit(127);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0) {
			dup2(devnull, 0);
		}
		execl(xvfb_path, xvfb_path, "-displayfd", fdbuf, "-noreset", "-nocursor",
		      "-nolisten", "tcp", "-fbdir", x->fbdir, "-screen", "0", screen, "+extension",
		      "DAMAGE", "+extension", "RANDR", "+extension", "XFIXES", "+extension",
		      "XTEST", glx ? "+extension" : "-extension", "GLX", "-dpi", "96",
		      (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	x->pid = pid;
	ab_closep(&wr);

	char buf[32];
	size_t got = 0;
	int64_t deadline = ab_now_ms() + 10000;
	while (got < sizeof(buf) - 1) {
		int64_t left = deadline - ab_now_ms();
		if (left <= 0)
			return ab_err_set(err, ETIMEDOUT, "'%s' did not report a display in 10 s",
			                  xvfb_path);
		struct pollfd p = {.fd = rd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ab_err_errno(err, errno, "poll");
		if (r == 0)
			continue;
		ssize_t m = read(rd, buf + got, sizeof(buf) - 1 - got);
		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0)
			return ab_err_set(err, EIO, "'%s' exited before reporting a display",
			                  xvfb_path);
		got += (size_t)m;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = 0;
	char *end;
	long d = strtol(buf, &end, 10);
	if (end == buf || d < 0 || d > 65535)
		return ab_err_set(err, EPROTO, "Xvfb reported a bad display number '%s'", buf);
	x->display = (int)d;
	x->max_width = max_w;
	x->max_height = max_h;
	ab_info("Xvfb (pid %d) ready on display :%d, framebuffer in '%s'", (int)pid, x->display,
	        x->fbdir);
	return 0;
}

int
xvfb_map(struct xvfb *x, struct ab_err *err)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/Xvfb_screen0", x->fbdir);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ab_err_errno(err, errno, "opening '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ab_err_errno(err, errno, "stat '%s'", path);
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return ab_err_errno(err, errno, "mapping '%s'", path);
	int w, h, bpp, bpl;
	long off = xvfb_parse_xwd(m, (size_t)st.st_size, &w, &h, &bpp, &bpl);
	if (off < 0) {
		munmap(m, (size_t)st.st_size);
		return ab_err_set(err, EPROTO, "'%s' is not a 32 bpp XWD framebuffer", path);
	}
	x->map = m;
	x->map_len = (size_t)st.st_size;
	x->pixels = (char *)m + off;
	x->bytes_per_line = bpl;
	return 0;
}

int64_t
xvfb_resident(const struct xvfb *x)
{
	_cleanup_free_ char *path = ab_xasprintf("%s/Xvfb_screen0", x->fbdir);
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return (int64_t)st.st_blocks * 512;
}

/* Frees the pages wholly inside [from, to) of the file (our mapping starts at offset 0). */
static int
release_range(struct xvfb *x, size_t from, size_t to)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	from = (from + page - 1) / page * page;
	to = to / page * page;
	if (from >= to)
		return 0;
	if (madvise((char *)x->map + from, to - from, MADV_REMOVE) < 0)
		return -errno;
	return 0;
}

static size_t
pixel_offset(const struct xvfb *x, int col, int row)
{
	return (size_t)(x->pixels - (char *)x->map) + (size_t)row * (size_t)x->bytes_per_line +
	       (size_t)col * 4;
}

/* The last visible row's part right of w and every row below h, to the end of the file. */
static int
release_below(struct xvfb *x, int w, int h)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t from = h > 0 ? pixel_offset(x, w, h - 1) : pixel_offset(x, 0, 0);
	return release_range(x, from, (x->map_len + page - 1) / page * page);
}

/* The whole pages right of w in rows [y0, y1) (the last visible row is release_below's). */
static int
release_right(struct xvfb *x, int w, int y0, int y1)
{
	int r = 0;
	for (int y = y0; y < y1 && r == 0; y++)
		r = release_range(x, pixel_offset(x, w, y), pixel_offset(x, 0, y + 1));
	return r;
}

int64_t
xvfb_release_outside(struct xvfb *x, int w, int h, struct ab_err *err)
{
	if (!x->map)
		return ab_err_set(err, EINVAL, "the framebuffer is not mapped");
	w = AB_MAX(0, AB_MIN(w, x->max_width));
	h = AB_MAX(0, AB_MIN(h, x->max_height));
	int64_t before = xvfb_resident(x);
	int r = release_below(x, w, h);
	if (r == 0)
		r = release_right(x, w, 0, h - 1);
	if (r < 0)
		return ab_err_errno(err, -r, "releasing the framebuffer outside %dx%d", w, h);
	int64_t after = xvfb_resident(x);
	return before >= 0 && after >= 0 && before > after ? before - after : 0;
}

/*
 * One step of xvfb_trim_later(): with the server grabbed (no client draws or resizes), reads
 * the screen's size; a new size (or the first step) starts over with everything below it,
 * then each step frees the pages right of it in XVFB_TRIM_ROWS more rows.
 */
static int64_t
trim_step(struct ab_loop *loop, void *data)
{
	struct xvfb *x = data;
	XGrabServer(x->dpy);
	Window root;
	int gx, gy;
	unsigned w = 0, h = 0, bw, depth;
	Status ok =
	    XGetGeometry(x->dpy, DefaultRootWindow(x->dpy), &root, &gx, &gy, &w, &h, &bw, &depth);
	int r = 0;
	if (ok) {
		w = AB_MIN(w, (unsigned)x->max_width);
		h = AB_MIN(h, (unsigned)x->max_height);
		if ((int)w != x->trim_w || (int)h != x->trim_h || x->trim_row < 0) {
			if (x->trim_row < 0)
				x->trim_before = xvfb_resident(x);
			x->trim_w = (int)w;
			x->trim_h = (int)h;
			x->trim_row = 0;
			r = release_below(x, (int)w, (int)h);
		} else {
			int y1 = AB_MIN(x->trim_row + XVFB_TRIM_ROWS, (int)h - 1);
			r = release_right(x, (int)w, x->trim_row, y1);
			x->trim_row = y1;
		}
	}
	XUngrabServer(x->dpy);
	XFlush(x->dpy);
	if (ok && r == 0 && x->trim_row < (int)h - 1)
		return 1;
	x->trim_timer = NULL;
	x->trim_row = -1;
	if (!ok || r < 0) {
		ab_warn("framebuffer: giving back the pages outside the screen: %s",
		        ok ? strerror(-r) : "cannot read the screen's size");
		return AB_TIMER_STOP;
	}
	int64_t now = xvfb_resident(x);
	ab_info("framebuffer: %ux%u visible, %lld KiB given back, %lld KiB resident of %zu KiB", w,
	        h, (long long)(x->trim_before > now ? (x->trim_before - now) / 1024 : 0),
	        (long long)(now / 1024), x->map_len / 1024);
	return AB_TIMER_STOP;
}

void
xvfb_trim_later(struct xvfb *x, struct ab_loop *loop, Display *dpy)
{
	if (!x->map)
		return;
	if (x->trim_timer)
		ab_loop_timer_cancel(x->loop, x->trim_timer);
	x->loop = loop;
	x->dpy = dpy;
	x->trim_row = -1; /* start over: the size may have changed again */
	x->trim_timer = ab_loop_timer(loop, XVFB_TRIM_DELAY_MS, trim_step, x);
}

void
xvfb_stop(struct xvfb *x)
{
	if (x->trim_timer)
		ab_loop_timer_cancel(x->loop, x->trim_timer);
	x->trim_timer = NULL;
	if (x->pid > 0) {
		kill(-x->pid, SIGTERM);
		kill(x->pid, SIGTERM);
		int64_t deadline = ab_now_ms() + 3000;
		for (;;) {
			pid_t r = waitpid(x->pid, NULL, WNOHANG);
			if (r == x->pid || (r < 0 && errno == ECHILD))
				break;
			if (ab_now_ms() > deadline) {
				kill(-x->pid, SIGKILL);
				waitpid(x->pid, NULL, 0);
				break;
			}
			/* bounded wait for the child to exit: no signal to wait on here */
			struct timespec ts = {0, 5 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		x->pid = 0;
	}
	if (x->map) {
		munmap(x->map, x->map_len);
		x->map = NULL;
	}
	if (x->fbdir[0]) {
		_cleanup_free_ char *p = ab_xasprintf("%s/Xvfb_screen0", x->fbdir);
		unlink(p);
		rmdir(x->fbdir);
		x->fbdir[0] = 0;
	}
}
