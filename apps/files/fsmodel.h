/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsmodel: argobox-files' model, free of X (unit-tested): a directory read a
 * slice at a time (so 100 000 entries never block the loop), sorting, the
 * freedesktop Trash, MIME types by name and the .desktop entry that opens one.
 */
#ifndef FILES_FSMODEL_H
#define FILES_FSMODEL_H
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct ab_err;

enum fs_sort {
	FS_SORT_NAME,
	FS_SORT_SIZE,
	FS_SORT_TIME,
	FS_SORT_MAX,
};

struct fs_entry {
	char *name;
	bool dir;
	uint64_t size;
	time_t mtime;
};

struct fs_dir {
	char *path;
	struct fs_entry *v;
	size_t n, cap;
	DIR *d; /* open while loading */
	bool done;
	bool hidden; /* include dot files */
};

/* Opens path for reading; nothing is read yet. A clear message on failure. */
int fs_dir_open(struct fs_dir *d, const char *path, bool hidden, struct ab_err *err);
/* Reads up to max more entries; returns 1 when the directory is complete, 0 when more remain. */
int fs_dir_load(struct fs_dir *d, size_t max);
void fs_dir_sort(struct fs_dir *d, enum fs_sort key, bool descending);
void fs_dir_free(struct fs_dir *d);

/*
 * Moves path to the home's Trash (home/.local/share/Trash/files, with a
 * .trashinfo in info/ holding the original path and the deletion time), under a
 * name not yet used there. *ret_name (optional, caller frees) gets that name.
 */
int fs_trash(const char *path, const char *home, char **ret_name, struct ab_err *err);
/* A MIME type guessed from the file name ("text/plain", "image/png", "inode/directory", ...). */
const char *fs_mime(const char *name, bool dir);
/*
 * The Exec line of the first .desktop file in desktop_app_dirs(dirs) (lib/desktop_entry)
 * whose MimeType lists mime, with its field codes replaced by the quoted file; NULL when
 * none. Only the entries the launcher offers count: those desktop_scan(dirs, allowed) keeps
 * (visible, TryExec installed, allowed by the profile's list, ARGOBOX_APPS; NULL or "": none).
 * The caller frees it.
 */
char *fs_open_command(const char *dirs, const char *allowed, const char *mime, const char *file);
/* Percent-encodes a path for a .trashinfo Path= line (out >= 3*strlen+1). */
void fs_uri_escape(const char *path, char *out, size_t size);

/*
 * The use of the file system holding `path` against its size (statvfs), e.g. "1.0 MiB used of
 * 4.0 MiB (25%)": on an SMB home (argobox-smbfs) or a quota image that is the user's quota,
 * elsewhere the disk. 0 and out filled, or -errno.
 */
int fs_usage(const char *path, char *out, size_t size);
#endif
