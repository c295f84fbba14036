/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config: argobox-session's configuration (one struct, one table; see
 * common/ab_config.h). `argobox-session --print-default-config` prints it.
 */
#ifndef SESSION_CONFIG_H
#define SESSION_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "ab_config.h"

struct session_config {
	long long width, height;         /* initial geometry */
	long long min_width, min_height; /* resize limits */
	long long max_width, max_height; /* also the size Xvfb allocates */
	long long depth;
	long long jpeg_quality;   /* default Tight quality level (0..9) for clients that ask none */
	long long client_wait_ms; /* how long a half-sent RFB message may stall before drop */
	long long max_clients;
	long long max_fps; /* damage is turned into updates at most this often a second */
	char xvfb_path[256];
	char fbdir[256];
	bool xvfb_glx; /* load Xvfb's GLX (Mesa's software renderer, ~10 MiB per desktop) */
	char log_format[8];
	char log_level[8];
	long long heartbeat_s; /* session pings the broker every N s; 3 missed pongs = gone */
	bool desktop_restart;
	long long restart_min_ms, restart_max_ms;
	long long clipboard_max;
	char session_id[128];
	char landlock_enabled[8];    /* auto | on | off (landlock.h) */
	json_t *landlock_read_write; /* extra paths: arrays of absolute path strings */
	json_t *landlock_read_only;
};

extern const struct ab_cfg_field session_config_fields[];
extern const struct session_config session_config_defaults;

/* Cross-field checks (min <= initial <= max). */
int session_config_validate(void *cfg, struct ab_err *err);

/* Parses "WxH" into *w and *h. Returns 0 or -EINVAL. */
int session_parse_geometry(const char *s, long long *w, long long *h);

#endif
