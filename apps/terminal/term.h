/* SPDX-License-Identifier: GPL-2.0-or-later */
/* term: the terminal emulator (libvterm + a pty) drawn into an ab_app window. */
#ifndef TERM_TERM_H
#define TERM_TERM_H
#include "ab_app.h"

struct ab_err;

struct term_options {
	char *const *argv; /* command to run; NULL: the user's shell with live history */
	int font_px;       /* 0: 14 */
	size_t scrollback; /* lines; 0: 10000 */
};

/* Runs one terminal window until its command exits or the window is closed. */
int term_main(const struct term_options *opt, struct ab_err *err);
#endif
