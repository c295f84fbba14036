/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const landlock_modes[] = {"auto", "on", "off", NULL};

#define S struct session_config
const struct ab_cfg_field session_config_fields[] = {
    AB_CFG_INT("display.width", S, width, 64, 8192, "initial desktop width in pixels"),
    AB_CFG_INT("display.height", S, height, 64, 8192, "initial desktop height in pixels"),
    AB_CFG_INT("display.min_width", S, min_width, 64, 8192, "smallest width a client may ask"),
    AB_CFG_INT("display.min_height", S, min_height, 64, 8192, "smallest height a client may ask"),
    AB_CFG_INT("display.max_width", S, max_width, 64, 8192,
               "largest width a client may ask (Xvfb's screen; only the visible part stays in "
               "memory)"),
    AB_CFG_INT("display.max_height", S, max_height, 64, 8192,
               "largest height a client may ask (Xvfb's screen; only the visible part stays in "
               "memory)"),
    AB_CFG_INT("display.depth", S, depth, 24, 24, "colour depth (24 only)"),
    AB_CFG_INT("vnc.jpeg_quality", S, jpeg_quality, 0, 9,
               "Tight JPEG quality level for clients that do not ask for one"),
    AB_CFG_INT("vnc.client_wait_ms", S, client_wait_ms, 50, 20000,
               "a client that stops in the middle of a message is dropped after this long"),
    AB_CFG_INT("vnc.max_clients", S, max_clients, 1, 64, "simultaneous RFB clients"),
    AB_CFG_INT("vnc.max_fps", S, max_fps, 1, 1000,
               "screen changes are collected at most this often a second (a change after a "
               "quiet spell goes out at once)"),
    AB_CFG_INT("vnc.clipboard_max", S, clipboard_max, 1024, 16 << 20,
               "largest clipboard text relayed, in bytes"),
    AB_CFG_STR("xvfb.path", S, xvfb_path, "the Xvfb binary"),
    AB_CFG_STR("xvfb.fbdir", S, fbdir,
               "directory (memory-backed) where Xvfb's framebuffer file is created"),
    AB_CFG_BOOL("xvfb.glx", S, xvfb_glx,
                "load Xvfb's GLX extension (OpenGL in Mesa's software renderer: ~10 MiB more "
                "per desktop; off unless a desktop's applications need OpenGL)"),
    AB_CFG_ENUM("log.format", S, log_format, log_formats, "text or json"),
    AB_CFG_ENUM("log.level", S, log_level, log_levels, "debug, info, warn or error"),
    AB_CFG_INT("control.heartbeat_s", S, heartbeat_s, 1, 3600,
               "seconds between pings to the broker"),
    AB_CFG_STR("control.session_id", S, session_id,
               "session id sent in hello (default: the runtime directory's name)"),
    AB_CFG_BOOL("desktop.restart", S, desktop_restart,
                "restart the desktop command when it exits (with backoff)"),
    AB_CFG_INT("desktop.restart_min_ms", S, restart_min_ms, 10, 600000,
               "first restart delay; doubles on every quick exit"),
    AB_CFG_INT("desktop.restart_max_ms", S, restart_max_ms, 10, 600000, "largest restart delay"),
    AB_CFG_ENUM("landlock.enabled", S, landlock_enabled, landlock_modes,
                "confine the desktop command with Landlock: auto (when the kernel has it), on "
                "(failing to apply stops the desktop command), off"),
    AB_CFG_JSON("landlock.read_write", S, landlock_read_write, JSON_ARRAY, "[]",
                "extra absolute paths the desktop may write (besides $HOME, /tmp, the runtime "
                "dir...)"),
    AB_CFG_JSON("landlock.read_only", S, landlock_read_only, JSON_ARRAY, "[]",
                "extra absolute paths the desktop may read and execute"),
    {0},
};
#undef S

const struct session_config session_config_defaults = {
    .width = 1280,
    .height = 800,
    .min_width = 320,
    .min_height = 200,
    .max_width = 3840,
    .max_height = 2160,
    .depth = 24,
    .jpeg_quality = 7,
    .client_wait_ms = 1000,
    .max_fps = 60,
    .max_clients = 8,
    .clipboard_max = 1 << 20,
    .xvfb_path = "/usr/bin/Xvfb",
    .fbdir = "/dev/shm",
    .xvfb_glx = false,
    .log_format = "text",
    .log_level = "info",
    .heartbeat_s = 10,
    .session_id = "",
    .desktop_restart = true,
    .restart_min_ms = 250,
    .restart_max_ms = 30000,
    .landlock_enabled = "auto",
};

/* `a` (a JSON array, or NULL) holds only absolute, non-empty path strings. */
static int
check_paths(const char *name, json_t *a, struct ab_err *err)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		const char *p = json_string_value(v);
		if (!p)
			return ab_err_set(err, EINVAL, "%s[%zu]: expected a string, got %s", name,
			                  i, ab_config_json_type_name(json_typeof(v)));
		if (p[0] != '/' || strlen(p) >= 4096)
			return ab_err_set(err, EINVAL, "%s[%zu]: '%s' is not an absolute path",
			                  name, i, p);
	}
	return 0;
}

int
session_config_validate(void *p, struct ab_err *err)
{
	struct session_config *c = p;
	if (c->min_width > c->max_width || c->min_height > c->max_height)
		return ab_err_set(
		    err, EINVAL,
		    "display.min_width/min_height exceed display.max_width/max_height");
	if (c->width < c->min_width || c->width > c->max_width)
		return ab_err_set(err, EINVAL,
		                  "display.width %lld outside [display.min_width %lld, "
		                  "display.max_width %lld]",
		                  c->width, c->min_width, c->max_width);
	if (c->height < c->min_height || c->height > c->max_height)
		return ab_err_set(err, EINVAL,
		                  "display.height %lld outside [display.min_height %lld, "
		                  "display.max_height %lld]",
		                  c->height, c->min_height, c->max_height);
	if (c->restart_min_ms > c->restart_max_ms)
		return ab_err_set(err, EINVAL,
		                  "desktop.restart_min_ms exceeds desktop.restart_max_ms");
	int r;
	if ((r = check_paths("landlock.read_write", c->landlock_read_write, err)) < 0 ||
	    (r = check_paths("landlock.read_only", c->landlock_read_only, err)) < 0)
		return r;
	return 0;
}

int
session_parse_geometry(const char *s, long long *w, long long *h)
{
	char *end;
	errno = 0;
	long long a = strtoll(s, &end, 10);
	if (errno || end == s || (*end != 'x' && *end != 'X'))
		return -EINVAL;
	const char *p = end + 1;
	long long b = strtoll(p, &end, 10);
	if (errno || end == p || *end || a <= 0 || b <= 0)
		return -EINVAL;
	*w = a;
	*h = b;
	return 0;
}
