/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_paths: where ArgoBox's shared files are (web/, assets/, containers/, the sample
 * configuration), for a program run from its build tree and for an installed one alike.
 *
 * An installed program lives in <prefix>/libexec/argobox/ (cmake/Install.cmake) and finds
 * <prefix>/share/argobox; a program in the build tree finds the source tree it was built
 * from. Nothing here reads the environment: the answer depends only on where the running
 * executable is, so a desktop user cannot redirect it.
 */
#ifndef AB_PATHS_H
#define AB_PATHS_H

#include <stdbool.h>

/* The directory holding web/, assets/ and containers/, without a trailing slash; a static
 * string, valid for the life of the process. Never NULL: the source tree when nothing else
 * is found. */
const char *ab_share_dir(void);

/* <ab_share_dir()>/assets: .desktop entries, wallpapers, icons. */
const char *ab_assets_dir(void);

/* True when the running program is an installed one (ab_share_dir() is <prefix>/share). */
bool ab_installed(void);

/* Testing seam: compute the answer for an executable at `exe` instead of /proc/self/exe.
 * Writes into `out` (PATH_MAX bytes) and returns whether it is an installed layout. */
bool ab_share_dir_for(const char *exe, char *out, unsigned long out_size);

#endif
