/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_paths.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AB_SOURCE_DIR
#define AB_SOURCE_DIR ""
#endif

static bool
is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool
ab_share_dir_for(const char *exe, char *out, unsigned long out_size)
{
	char prefix[PATH_MAX];
	snprintf(prefix, sizeof(prefix), "%s", exe ? exe : "");
	/* <prefix>/libexec/argobox/<name>: strip three components */
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(prefix, '/');
		if (!slash) {
			prefix[0] = '\0';
			break;
		}
		*slash = '\0';
	}
	char share[PATH_MAX], assets[PATH_MAX + 8];
	if (exe && strstr(exe, "/libexec/argobox/")) {
		/* prefix is at most PATH_MAX - 1; a longer result is cut, and is_dir() says no */
		snprintf(share, sizeof(share), "%.4000s/share/argobox", prefix);
		snprintf(assets, sizeof(assets), "%s/assets", share);
		if (is_dir(assets)) {
			snprintf(out, out_size, "%s", share);
			return true;
		}
	}
	snprintf(out, out_size, "%s", AB_SOURCE_DIR);
	return false;
}

static char share_dir[PATH_MAX];
static bool share_installed;
static bool share_known;

static void
share_find(void)
{
	if (share_known)
		return;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	share_installed = ab_share_dir_for(n > 0 ? exe : NULL, share_dir, sizeof(share_dir));
	share_known = true;
}

const char *
ab_share_dir(void)
{
	share_find();
	return share_dir;
}

const char *
ab_assets_dir(void)
{
	static char assets[PATH_MAX + 8];
	if (!assets[0])
		snprintf(assets, sizeof(assets), "%s/assets", ab_share_dir());
	return assets;
}

bool
ab_installed(void)
{
	share_find();
	return share_installed;
}
