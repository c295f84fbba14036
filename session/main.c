/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-session: the first process of a user's desktop container.
 *
 *   argobox-session --runtime-dir DIR [--config FILE] [--geometry WxH]
 *                   [--ready-fd N] [--check-config] [--print-default-config]
 *                   -- DESKTOP-COMMAND [ARGS...]
 *   argobox-session --runtime-dir DIR [--config FILE] --exec -- COMMAND [ARGS...]
 *
 * --exec (argoboxctl exec, docs/argoboxctl.md): no session; COMMAND is confined by the
 * Landlock policy the desktop command gets from the same config (setup_landlock(), built for
 * COMMAND) and exec'd in place. argoboxctl runs it inside the container after joining its
 * namespaces, cgroups, credentials, capabilities and seccomp filter.
 *
 * It starts Xvfb (xvfb.c), serves the display over RFB on DIR/rfb.sock
 * (vnc.c, with input.c and clipboard.c), serves the broker on
 * DIR/control.sock and the window manager on DIR/wm.sock (control.c), and
 * runs DESKTOP-COMMAND with DISPLAY, ARGOBOX_RUNTIME_DIR and
 * ARGOBOX_WM_SOCKET set, restarting it with backoff (supervise.c), confined
 * by Landlock (landlock.c, `landlock.*` config) when the kernel has it. A
 * restarted window manager gets the latest desktop state the session holds
 * (before_wm_restart()), so a wm crash loses nothing.
 *
 * One poll loop (common/ab_loop_poll) drives everything; signals arrive on a
 * signalfd. SIGTERM/SIGINT: stop the desktop command's process group, then
 * Xvfb, remove the sockets, exit 0. Xvfb dying: exit 1. Start reading at
 * main() below, then vnc.c.
 */
#include "ab_config.h"
#include "ab_log.h"
#include "ab_paths.h"
#include "ab_loop.h"
#include "ab_util.h"
#include "config.h"
#include "control.h"
#include "landlock.h"
#include "supervise.h"
#include "ab_jpeg.h"
#include "thumb.h"
#include "vnc.h"
#include "xvfb.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the runtime dir: the latest state, handed to a restarted window manager. */
#define SESSION_WM_STATE_FILE "wm-state.json"

struct session {
	struct session_config cfg;
	const char *dir;
	struct ab_loop *loop;
	struct xvfb xvfb;
	struct vnc vnc;
	struct control ctl;
	struct supervise sup;
	struct landlock_policy ll;
	int sigfd;
	bool stop;
	bool exec_mode; /* --exec */
	int exit_code;
};

static struct session *the_session;

#if defined(__SANITIZE_ADDRESS__)
/*
 * LeakSanitizer (the CI build): libvncserver 0.9.14 keeps a few small
 * per-client allocations (extension data, iterators) at shutdown. They are
 * the library's, not ours, and must not turn a clean exit into a failure.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libvncserver.so\n";
}
#endif

static void
usage(FILE *f)
{
	fprintf(f, "usage: argobox-session --runtime-dir DIR [--config FILE] [--geometry WxH]\n"
	           "                       [--ready-fd N] [--check-config] "
	           "[--print-default-config]\n"
	           "                       -- DESKTOP-COMMAND [ARGS...]\n"
	           "       argobox-session --runtime-dir DIR [--config FILE] --exec -- COMMAND "
	           "[ARGS...]\n");
}

/* Runs at exit() too (Xlib exits on a lost X connection): no child outlives us. */
static void
kill_children(void)
{
	struct session *s = the_session;
	if (!s)
		return;
	if (s->sup.pid > 0)
		kill(-s->sup.pid, SIGKILL);
	if (s->xvfb.pid > 0)
		kill(-s->xvfb.pid, SIGKILL);
	if (s->xvfb.fbdir[0]) {
		char p[300];
		snprintf(p, sizeof(p), "%s/Xvfb_screen0", s->xvfb.fbdir);
		unlink(p);
		rmdir(s->xvfb.fbdir);
	}
}

static void
signal_cb(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct session *s = data;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP) {
			ab_info("signal %u: shutting down", si.ssi_signo);
			s->stop = true;
			continue;
		}
		if (si.ssi_signo != SIGCHLD)
			continue;
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == s->xvfb.pid) {
				s->xvfb.pid = 0;
				ab_error("Xvfb exited (status 0x%x): stopping", status);
				s->stop = true;
				s->exit_code = 1;
			} else {
				if (supervise_exited(&s->sup, pid, status))
					control_desktop_exit(&s->ctl, status, s->sup.timer != NULL);
			}
		}
	}
}

/*
 * Before the window manager is restarted (it exited or crashed): it must
 * begin from the latest desktop state, never from the defaults nor from the
 * state file the broker wrote before the first start (stale once anything
 * moved). The latest is the session's live copy (ctl.state: the last state
 * the wm published, or one the broker sent to be restored); it is written
 * atomically to DIR/wm-state.json and handed over as ARGOBOX_STATE_FILE.
 * With no live copy (the wm never published: it died while restoring) the
 * first start's file is still the latest and stays in place.
 */
static void
before_wm_restart(void *data)
{
	struct session *s = data;
	if (!s->ctl.state)
		return;
	_cleanup_free_ char *path = ab_xasprintf("%s/" SESSION_WM_STATE_FILE, s->dir);
	_cleanup_free_ char *text = json_dumps(s->ctl.state, JSON_COMPACT);
	struct ab_err err = {0};
	if (!text || ab_write_file_atomic(path, text, strlen(text), 0600, &err) < 0) {
		ab_error("handing the latest desktop state to the window manager: %s",
		         text ? err.msg : "cannot encode it");
		return;
	}
	supervise_setenv(&s->sup, "ARGOBOX_STATE_FILE", path);
	ab_info("restarting the window manager from the latest desktop state (%zu windows)",
	        json_array_size(json_object_get(s->ctl.state, "windows")));
}

#define SESSION_LOCK_FILE    "session.lock"
#define SESSION_LOCK_WAIT_MS 15000

/*
 * One session per runtime dir: an exclusive flock on <dir>/session.lock, held (close-on-exec,
 * so no child keeps it) until the process exits. A session whose broker was killed while it
 * was starting stops by itself (its READY finds the pipe closed) and unlinks its sockets on
 * the way out; the session the next broker starts for the same dir waits here until that
 * one is gone instead of binding the same socket paths beside it. Returns the fd or -errno.
 */
static int
session_lock(const char *dir, struct ab_err *err)
{
	_cleanup_free_ char *p = ab_xasprintf("%s/" SESSION_LOCK_FILE, dir);
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ab_err_errno(err, errno, "'%s'", p);
	int64_t end = ab_now_ms() + SESSION_LOCK_WAIT_MS;
	bool told = false;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return ab_err_errno(err, errno, "locking '%s'", p);
		if (ab_now_ms() >= end)
			return ab_err_set(err, EBUSY,
			                  "another session still runs in '%s' after %d ms", dir,
			                  SESSION_LOCK_WAIT_MS);
		if (!told)
			ab_info("waiting for the previous session of '%s' to exit", dir);
		told = true;
		usleep(50 * 1000);
	}
	return TAKE_FD(fd);
}

static void
unlink_socket(const char *dir, const char *name)
{
	_cleanup_free_ char *p = ab_xasprintf("%s/%s", dir, name);
	unlink(p);
}

/* NULL-terminated borrowed strings of a JSON array of strings (validated by config.c). */
static const char **
json_strv(json_t *a)
{
	const char **v = ab_xcalloc(json_array_size(a) + 1, sizeof(char *));
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e)
	{
		v[i] = json_string_value(e);
	}
	return v;
}

/*
 * Builds the desktop command's Landlock policy from the config and the
 * environment, and hands it to the supervisor. Returns 0 or -errno.
 */
/* The desktop command's Landlock outcome, for the broker's audit (control_isolation). */
static void
report_landlock(void *data, int result)
{
	struct session *s = data;
	json_t *ll = json_pack("{ss}", "mode", s->cfg.landlock_enabled);
	json_object_set_new(ll, "abi",
	                    s->sup.ll_abi > 0 ? json_integer(s->sup.ll_abi) : json_null());
	json_object_set_new(ll, "applied", json_boolean(result == 0));
	if (result == 0) {
		_cleanup_free_ char *d = landlock_policy_describe(s->sup.ll_policy);
		json_object_set_new(ll, "rules", json_string(d ? d : ""));
		json_object_set_new(ll, "signals_scoped",
		                    json_boolean(landlock_scoped(s->sup.ll_abi) &&
		                                 s->sup.ll_policy->scope_signals));
	} else if (result < 0) {
		json_object_set_new(ll, "error", json_string(strerror(-result)));
	}
	control_isolation(&s->ctl, ll);
}

/*
 * The broker's "thumb" request: {"id", "width"} -> a JPEG of the screen as clients see it (the
 * shadow framebuffer), base64, in {"type":"thumb","id","format":"jpeg","width","height",
 * "data"}; {"type":"thumb","id","error"} when it cannot be taken.
 */
static json_t *
thumb_answer(void *data, json_t *req)
{
	struct session *s = data;
	json_t *idv = json_object_get(req, "id"), *wv = json_object_get(req, "width");
	json_int_t id = json_is_integer(idv) ? json_integer_value(idv) : 0;
	int width = json_is_integer(wv) ? (int)AB_MAX(0, AB_MIN(json_integer_value(wv), 100000))
	                                : THUMB_WIDTH_DEFAULT;
	rfbScreenInfoPtr scr = s->vnc.screen;
	struct thumb_src src = {0};
	if (scr)
		src = (struct thumb_src){
		    .pixels = (const uint8_t *)scr->frameBuffer,
		    .width = scr->width,
		    .height = scr->height,
		    .stride = scr->paddedWidthInBytes,
		    .red_shift = scr->serverFormat.redShift,
		    .green_shift = scr->serverFormat.greenShift,
		    .blue_shift = scr->serverFormat.blueShift,
		};
	struct ab_err err = {0};
	_cleanup_free_ uint8_t *rgb = NULL;
	unsigned char *jpeg = NULL;
	size_t len = 0;
	int tw = 0, th = 0;
	if (thumb_scale(&src, width, &rgb, &tw, &th, &err) < 0 ||
	    ab_jpeg_rgb(rgb, tw, th, THUMB_QUALITY, &jpeg, &len, &err) < 0)
		return ab_proto_msg("thumb", json_pack("{sIss}", "id", id, "error", err.msg));
	_cleanup_free_ char *b64 = thumb_base64(jpeg, len);
	free(jpeg);
	return ab_proto_msg("thumb", json_pack("{sIsssisiss}", "id", id, "format", "jpeg", "width",
	                                       tw, "height", th, "data", b64));
}

static int
setup_landlock(struct session *s, struct ab_err *err)
{
	landlock_policy_init(&s->ll);
	int mode = landlock_mode_from_string(s->cfg.landlock_enabled);
	if (mode < 0)
		return ab_err_set(err, EINVAL, "landlock.enabled: '%s' is not auto, on or off",
		                  s->cfg.landlock_enabled);
	if (mode == LANDLOCK_MODE_OFF) {
		supervise_set_landlock(&s->sup, NULL, 0, LANDLOCK_MODE_OFF);
		return 0;
	}
	int abi = landlock_abi();
	if (abi < 0 && mode == LANDLOCK_MODE_ON)
		return ab_err_set(err, -abi,
		                  "landlock.enabled is \"on\" but this kernel has no Landlock (%s)",
		                  strerror(-abi));
	_cleanup_free_ char *dir = realpath(s->dir, NULL);
	_cleanup_free_ const char **rw = json_strv(s->cfg.landlock_read_write);
	_cleanup_free_ const char **ro = json_strv(s->cfg.landlock_read_only);
	/*
	 * Read-only, whatever the config: the command itself, absolute paths of
	 * regular files among its arguments (a script given to an interpreter), and ArgoBox's own
	 * files (the tree argobox-session runs from, e.g. /opt or a build directory, and the assets
	 * the window manager reads).
	 */
	size_t n = 0;
	while (s->sup.argv[n])
		n++;
	char **own = ab_xcalloc(n + 4, sizeof(char *));
	size_t k = 0;
	own[k++] = landlock_which(s->sup.argv[0]);
	for (size_t i = 1; i < n; i++) {
		/* files only: an argument of "/" or "/home" must not open whole trees */
		struct stat st;
		if (s->sup.argv[i][0] == '/' && stat(s->sup.argv[i], &st) == 0 &&
		    S_ISREG(st.st_mode))
			own[k++] = ab_xstrdup(s->sup.argv[i]);
	}
	_cleanup_free_ char *exe = realpath("/proc/self/exe", NULL);
	if (exe) {
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			slash = strrchr(exe, '/');
		}
		if (slash && slash != exe) {
			*slash = 0;
			own[k++] = ab_xstrdup(exe);
		}
	}
	own[k++] = ab_xstrdup(ab_assets_dir());
	struct landlock_paths in = {
	    .home = getenv("HOME"),
	    .runtime_dir = dir ? dir : s->dir,
	    .xdg_runtime = getenv("XDG_RUNTIME_DIR"),
	    .extra_rw = rw,
	    .extra_ro = ro,
	    .own_ro = (const char *const *)own,
	};
	int r = landlock_policy_default(&s->ll, &in, err);
	for (size_t i = 0; i < k; i++)
		free(own[i]);
	free(own);
	if (r < 0)
		return r;
	supervise_set_landlock(&s->sup, &s->ll, abi, mode);
	return 0;
}

/*
 * --exec: `cmd` under the desktop's Landlock policy (built for cmd, as for a desktop command),
 * exec'd in place. Returns only on failure: 126 (the policy could not be applied and
 * landlock.enabled is "on", or could not be built), 127 (cmd could not be exec'd).
 */
static int
exec_confined(struct session *s, char **cmd)
{
	struct ab_err err = {0};
	s->sup.argv = cmd;
	if (setup_landlock(s, &err) < 0) {
		fprintf(stderr, "argobox-session: --exec: landlock: %s\n", err.msg);
		return 126;
	}
	if (s->sup.ll_policy && s->sup.ll_abi >= 1 &&
	    landlock_apply(s->sup.ll_policy, s->sup.ll_abi, &err) < 0 &&
	    s->sup.ll_mode == LANDLOCK_MODE_ON) {
		fprintf(stderr, "argobox-session: --exec: landlock: %s\n", err.msg);
		return 126;
	}
	execvp(cmd[0], cmd);
	fprintf(stderr, "argobox-session: --exec: '%s': %s\n", cmd[0], strerror(errno));
	return 127;
}

static int
parse_args(struct session *s, int argc, char **argv, long long *gw, long long *gh, int *ready_fd,
           char ***ret_cmd)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (strcmp(a, "--") == 0) {
			*ret_cmd = i + 1 < argc ? argv + i + 1 : NULL;
			return 0;
		} else if (strcmp(a, "--runtime-dir") == 0 && has_val) {
			s->dir = argv[++i];
		} else if (strcmp(a, "--config") == 0 && has_val) {
			i++;
		} else if (strncmp(a, "--config=", 9) == 0 || strcmp(a, "--check-config") == 0 ||
		           strcmp(a, "--print-default-config") == 0 ||
		           strcmp(a, "--print-config-reference") == 0) {
			continue;
		} else if (strcmp(a, "--geometry") == 0 && has_val) {
			if (session_parse_geometry(argv[++i], gw, gh) < 0) {
				fprintf(stderr, "argobox-session: bad --geometry '%s' (want WxH)\n",
				        argv[i]);
				return -EINVAL;
			}
		} else if (strcmp(a, "--ready-fd") == 0 && has_val) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < 0 || n > 65535) {
				fprintf(stderr, "argobox-session: bad --ready-fd '%s'\n", argv[i]);
				return -EINVAL;
			}
			*ready_fd = (int)n;
		} else if (strcmp(a, "--exec") == 0) {
			s->exec_mode = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else {
			fprintf(stderr, "argobox-session: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return -EINVAL;
		}
	}
	*ret_cmd = NULL;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct session s;
	s.sigfd = -1;
	ab_log_init("session");
	ab_config_init(session_config_fields, &s.cfg, &session_config_defaults, sizeof(s.cfg));

	long long gw = 0, gh = 0;
	int ready_fd = -1;
	char **cmd = NULL;
	if (parse_args(&s, argc, argv, &gw, &gh, &ready_fd, &cmd) < 0)
		return 2;
	int ex = -1;
	ab_config_cli(session_config_fields, &s.cfg, argc, argv, session_config_validate, &ex);
	if (ex >= 0) {
		ab_config_free(session_config_fields, &s.cfg);
		return ex;
	}
	struct ab_err err = {0};
	if (gw) {
		s.cfg.width = gw;
		s.cfg.height = gh;
		if (session_config_validate(&s.cfg, &err) < 0) {
			fprintf(stderr, "argobox-session: --geometry: %s\n", err.msg);
			return 2;
		}
	}
	ab_log_set_format(ab_log_format_from_string(s.cfg.log_format));
	ab_log_set_level(ab_log_level_from_string(s.cfg.log_level));
	if (!s.dir || !cmd || !cmd[0]) {
		fprintf(stderr,
		        "argobox-session: --runtime-dir and a desktop command are required\n");
		usage(stderr);
		return 2;
	}

	if (s.exec_mode)
		return exec_confined(&s, cmd);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s.sigfd < 0) {
		ab_error("signalfd: %s", strerror(errno));
		return 1;
	}
	if (ab_mkdir_p(s.dir, 0700, &err) < 0) {
		ab_error("runtime directory '%s': %s", s.dir, err.msg);
		return 1;
	}
	_cleanup_close_ int lock_fd = session_lock(s.dir, &err);
	if (lock_fd < 0) {
		ab_error("runtime directory: %s", err.msg);
		return 1;
	}
	if (!s.cfg.session_id[0]) {
		_cleanup_free_ char *d = ab_xstrdup(s.dir);
		snprintf(s.cfg.session_id, sizeof(s.cfg.session_id), "%s", basename(d));
	}

	the_session = &s;
	atexit(kill_children);
	s.loop = ab_loop_poll_new();
	struct ab_watch *sigw = ab_loop_watch(s.loop, s.sigfd, AB_LOOP_READ, signal_cb, &s);

	/* each step's end, for the "ready in" line (where a cold start's time goes) */
	int64_t t0 = ab_now_ms(), t_xvfb = 0, t_vnc = 0;
	int r = xvfb_start(&s.xvfb, s.cfg.xvfb_path, s.cfg.fbdir, (int)s.cfg.max_width,
	                   (int)s.cfg.max_height, s.cfg.xvfb_glx, &err);
	t_xvfb = ab_now_ms();
	if (r >= 0)
		r = vnc_open(&s.vnc, &s.cfg, s.loop, &s.xvfb, s.dir, &err);
	t_vnc = ab_now_ms();
	if (r >= 0)
		r = control_open(&s.ctl, s.loop, s.dir, s.cfg.session_id, s.cfg.heartbeat_s * 1000,
		                 &err);
	if (r < 0) {
		ab_error("starting: %s", err.msg);
		s.exit_code = 1;
		goto out;
	}

	char display[32];
	snprintf(display, sizeof(display), ":%d", s.xvfb.display);
	_cleanup_free_ char *wm_sock = ab_xasprintf("%s/wm.sock", s.dir);
	supervise_init(&s.sup, s.loop, cmd, s.cfg.desktop_restart, s.cfg.restart_min_ms,
	               s.cfg.restart_max_ms);
	supervise_setenv(&s.sup, "DISPLAY", display);
	supervise_setenv(&s.sup, "ARGOBOX_RUNTIME_DIR", s.dir);
	supervise_setenv(&s.sup, "ARGOBOX_WM_SOCKET", wm_sock);
	supervise_on_landlock(&s.sup, report_landlock, &s);
	control_on_thumb(&s.ctl, thumb_answer, &s);
	supervise_on_restart(&s.sup, before_wm_restart, &s);
	unlink_socket(s.dir, SESSION_WM_STATE_FILE); /* a previous session's */
	if (setup_landlock(&s, &err) < 0) {
		ab_error("desktop command: %s", err.msg);
		s.exit_code = 1;
		goto out;
	}
	if (supervise_start(&s.sup, &err) < 0) {
		ab_error("starting the desktop command: %s", err.msg);
		s.exit_code = 1;
		goto out;
	}
	int64_t t_ready = ab_now_ms();
	ab_info("ready in %lld ms (Xvfb %lld ms, display and RFB socket %lld ms, control socket "
	        "and desktop command %lld ms)",
	        (long long)(t_ready - t0), (long long)(t_xvfb - t0), (long long)(t_vnc - t_xvfb),
	        (long long)(t_ready - t_vnc));
	if (ready_fd >= 0) {
		if (ab_write_all(ready_fd, "READY\n", 6) < 0) {
			/* EPIPE: the broker that started us is gone and no one will adopt a
			 * session it never saw ready; the next broker starts its own */
			ab_error("--ready-fd %d: %s: the broker that started this session is gone; "
			         "stopping",
			         ready_fd, strerror(errno));
			s.stop = true;
		}
		close(ready_fd);
	}
	/* soon, from the loop: the framebuffer's pages outside the first size go back (xvfb.h) */
	xvfb_trim_later(&s.xvfb, s.loop, s.vnc.dpy);

	while (!s.stop) {
		vnc_process(&s.vnc);
		if (s.stop)
			break;
		if (ab_loop_poll_once(s.loop, -1) < 0 && errno != EINTR)
			break;
	}

out:
	supervise_stop(&s.sup, 2000);
	supervise_free(&s.sup);
	landlock_policy_free(&s.ll);
	control_close(&s.ctl);
	vnc_close(&s.vnc);
	xvfb_stop(&s.xvfb);
	unlink_socket(s.dir, "rfb.sock");
	unlink_socket(s.dir, "control.sock");
	unlink_socket(s.dir, "wm.sock");
	unlink_socket(s.dir, SESSION_WM_STATE_FILE);
	ab_loop_unwatch(s.loop, sigw);
	ab_loop_poll_free(s.loop);
	close(s.sigfd);
	ab_config_free(session_config_fields, &s.cfg);
	the_session = NULL;
	ab_info("stopped");
	return s.exit_code;
}
