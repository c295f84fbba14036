/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-terminal: the desktop's terminal emulator. libvterm parses what the
 * program on the pty writes; term.c keeps the screen, the scrollback
 * (scrollback.c), selection and search, and draws with pango on the app
 * library's window (apps/lib). One poll() loop on the X connection and the
 * pty. Start reading at term_main() in term.c.
 *
 * The user's shell writes its history as each command runs (HISTFILE in the
 * home, PROMPT_COMMAND='history -a', histappend), so history survives the
 * desktop being closed or the container re-created.
 */
#include "ab_err.h"
#include "ab_log.h"
#include "ab_util.h"
#include "term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: argobox-terminal [--font-px N] [--scrollback LINES] [-e COMMAND [ARG...]]\n");
}

int
main(int argc, char **argv)
{
	struct term_options opt = {0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
			opt.argv = &argv[i + 1];
			break;
		} else if (strcmp(argv[i], "--font-px") == 0 && i + 1 < argc) {
			opt.font_px = atoi(argv[++i]);
			if (opt.font_px < 6 || opt.font_px > 72) {
				fprintf(stderr, "argobox-terminal: --font-px must be 6..72\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--scrollback") == 0 && i + 1 < argc) {
			long n = atol(argv[++i]);
			if (n < 100 || n > 1000000) {
				fprintf(stderr,
				        "argobox-terminal: --scrollback must be 100..1000000\n");
				return 2;
			}
			opt.scrollback = (size_t)n;
		} else {
			return ab_usage(usage, strcmp(argv[i], "--help") == 0);
		}
	}
	struct ab_err err = {0};
	if (term_main(&opt, &err) < 0) {
		ab_error("argobox-terminal: %s", err.msg);
		return 1;
	}
	return 0;
}
