/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config: argobox-session's configuration: one list of its fields (SESSION_CONFIG) is the
 * struct, its defaults and its table (common/ab_config.h). `argobox-session
 * --print-default-config` prints it.
 */
#ifndef SESSION_CONFIG_H
#define SESSION_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "ab_config.h"

/* Every field: member, default, bounds, help (common/ab_config.h, "One list"). */
#define SESSION_CONFIG(INT, BOOL, STR, ENUM, JSON)                                                 \
	INT("display.width", width, 1280, 64, 8192, "initial desktop width in pixels")             \
	INT("display.height", height, 800, 64, 8192, "initial desktop height in pixels")           \
	INT("display.min_width", min_width, 320, 64, 8192, "smallest width a client may ask")      \
	INT("display.min_height", min_height, 200, 64, 8192, "smallest height a client may ask")   \
	INT("display.max_width", max_width, 3840, 64, 8192,                                        \
	    "largest width a client may ask (Xvfb's screen; only the visible part stays in "       \
	    "memory)")                                                                             \
	INT("display.max_height", max_height, 2160, 64, 8192,                                      \
	    "largest height a client may ask (Xvfb's screen; only the visible part stays in "      \
	    "memory)")                                                                             \
	INT("display.depth", depth, 24, 24, 24, "colour depth (24 only)")                          \
	INT("vnc.jpeg_quality", jpeg_quality, 7, 0, 9,                                             \
	    "Tight JPEG quality level for clients that do not ask for one")                        \
	INT("vnc.client_wait_ms", client_wait_ms, 1000, 50, 20000,                                 \
	    "a client that stops in the middle of a message is dropped after this long")           \
	INT("vnc.max_clients", max_clients, 8, 1, 64, "simultaneous RFB clients")                  \
	INT("vnc.max_fps", max_fps, 60, 1, 1000,                                                   \
	    "screen changes are collected at most this often a second (a change after a "          \
	    "quiet spell goes out at once)")                                                       \
	INT("vnc.clipboard_max", clipboard_max, 1 << 20, 1024, 16 << 20,                           \
	    "largest clipboard text relayed, in bytes")                                            \
	STR("xvfb.path", xvfb_path, 256, "/usr/bin/Xvfb", "the Xvfb binary")                       \
	STR("xvfb.fbdir", fbdir, 256, "/dev/shm",                                                  \
	    "directory (memory-backed) where Xvfb's framebuffer file is created")                  \
	BOOL("xvfb.glx", xvfb_glx, false,                                                          \
	     "load Xvfb's GLX extension (OpenGL in Mesa's software renderer: ~10 MiB more "        \
	     "per desktop; off unless a desktop's applications need OpenGL)")                      \
	ENUM("log.format", log_format, 8, log_formats, "text", "text or json")                     \
	ENUM("log.level", log_level, 8, log_levels, "info", "debug, info, warn or error")          \
	INT("control.heartbeat_s", heartbeat_s, 10, 1, 3600,                                       \
	    "seconds between pings to the broker")                                                 \
	STR("control.session_id", session_id, 128, "",                                             \
	    "session id sent in hello (default: the runtime directory's name)")                    \
	BOOL("desktop.restart", desktop_restart, true,                                             \
	     "restart the desktop command when it exits (with backoff)")                           \
	INT("desktop.restart_min_ms", restart_min_ms, 250, 10, 600000,                             \
	    "first restart delay; doubles on every quick exit")                                    \
	INT("desktop.restart_max_ms", restart_max_ms, 30000, 10, 600000, "largest restart delay")  \
	ENUM("landlock.enabled", landlock_enabled, 8, landlock_modes, "auto",                      \
	     "confine the desktop command with Landlock: auto (when the kernel has it), on "       \
	     "(failing to apply stops the desktop command), off")                                  \
	JSON("landlock.read_write", landlock_read_write, JSON_ARRAY, "[]",                         \
	     "extra absolute paths the desktop may write (besides $HOME, /tmp, the runtime "       \
	     "dir...)")                                                                            \
	JSON("landlock.read_only", landlock_read_only, JSON_ARRAY, "[]",                           \
	     "extra absolute paths the desktop may read and execute")

struct session_config {
	AB_CFG_MEMBERS(SESSION_CONFIG)
};

extern const struct ab_cfg_field session_config_fields[];
extern const struct session_config session_config_defaults;

/* Cross-field checks (min <= initial <= max). */
int session_config_validate(void *cfg, struct ab_err *err);

/* Parses "WxH" into *w and *h. Returns 0 or -EINVAL. */
int session_parse_geometry(const char *s, long long *w, long long *h);

#endif
