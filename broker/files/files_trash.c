/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files_trash: DELETE moves into the home trash of the freedesktop.org Trash specification
 * (~/.local/share/Trash/{files,info}), so the files app and desktop file managers restore.
 *
 * The spec's order: the info file is created first with O_EXCL (that reserves the name),
 * then the item is renamed into files/ under the same name; a taken name moves on to
 * "stem.2.ext", "stem.3.ext", ... Everything is reached beneath the home fd: a trash
 * directory swapped for a symlink is refused like any other path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ab_util.h"
#include "files_internal.h"

#define TRASH_TRIES 1000
#define INFO_SUFFIX ".trashinfo"
#define INFO_MAX    (FILES_NAME_MAX - (sizeof(INFO_SUFFIX) - 1))

/* The n-th candidate name for `name` (n = 1: the name itself), short enough for its info. */
static void
candidate(const char *name, unsigned n, char *out, size_t len)
{
	char suffix[16] = "";
	if (n > 1)
		snprintf(suffix, sizeof(suffix), ".%u", n);
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || strlen(dot) > 32)
		dot = name + strlen(name);
	size_t stem = (size_t)(dot - name), ext = strlen(dot);
	size_t room = INFO_MAX - strlen(suffix);
	if (stem + ext > room) {
		stem = room - ext;
		/* never cut a UTF-8 sequence in two */
		while (stem > 0 && ((unsigned char)name[stem] & 0xc0) == 0x80)
			stem--;
	}
	snprintf(out, len, "%.*s%s%s", (int)stem, name, suffix, dot);
}

int
files_trash(int homefd, const char *rel, const char *user, const struct files_home *h,
            char *ret_name, size_t ret_len)
{
	char name[FILES_NAME_MAX + 1];
	_cleanup_close_ int pfd = files_open_parent(homefd, rel, name, sizeof(name));
	if (pfd < 0)
		return pfd;
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	_cleanup_close_ int tfd = files_mkdirs(homefd, FILES_TRASH "/files", h);
	if (tfd < 0)
		return tfd;
	_cleanup_close_ int ifd = files_mkdirs(homefd, FILES_TRASH "/info", h);
	if (ifd < 0)
		return ifd;

	_cleanup_free_ char *abs = ab_xasprintf("/home/%s/%s", user, rel);
	char esc[3 * FILES_PATH_MAX + 64], date[32];
	ab_percent_encode(abs, "/-._~", esc, sizeof(esc)); /* RFC 2396 */
	time_t now = time(NULL);
	struct tm tm;
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
	_cleanup_free_ char *info =
	    ab_xasprintf("[Trash Info]\nPath=%s\nDeletionDate=%s\n", esc, date);

	for (unsigned n = 1; n <= TRASH_TRIES; n++) {
		char cand[FILES_NAME_MAX + 1], iname[FILES_NAME_MAX + 16];
		candidate(name, n, cand, sizeof(cand));
		snprintf(iname, sizeof(iname), "%s" INFO_SUFFIX, cand);
		int fd =
		    openat(ifd, iname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		int r = ab_write_all(fd, info, strlen(info));
		if (r == 0 && fchown(fd, h->uid, h->gid) < 0)
			r = -errno;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r == 0 && renameat2(pfd, name, tfd, cand, RENAME_NOREPLACE) < 0)
			r = -errno;
		if (r == 0) {
			snprintf(ret_name, ret_len, "%s", cand);
			return 0;
		}
		unlinkat(ifd, iname, 0);
		if (r != -EEXIST)
			return r;
	}
	return -EEXIST;
}
