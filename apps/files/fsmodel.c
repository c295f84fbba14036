/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fsmodel: directory slices, sort, Trash, MIME (see fsmodel.h). */
#include "fsmodel.h"
#include "ab_err.h"
#include "ab_util.h"
#include "ab_text.h"
#include "desktop_entry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

int
fs_dir_open(struct fs_dir *d, const char *path, bool hidden, struct ab_err *err)
{
	DIR *dir = opendir(path);
	if (!dir)
		return ab_err_errno(err, errno, "cannot open '%s'", path);
	memset(d, 0, sizeof(*d));
	d->path = ab_xstrdup(path);
	d->d = dir;
	d->hidden = hidden;
	return 0;
}

int
fs_dir_load(struct fs_dir *d, size_t max)
{
	if (d->done)
		return 1;
	int dfd = dirfd(d->d);
	for (size_t k = 0; k < max; k++) {
		struct dirent *de = readdir(d->d);
		if (!de) {
			closedir(d->d);
			d->d = NULL;
			d->done = true;
			return 1;
		}
		const char *nm = de->d_name;
		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || (!d->hidden && nm[0] == '.'))
			continue;
		struct stat st;
		bool ok = fstatat(dfd, nm, &st, 0) == 0 ||
		          fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 256;
			d->v = ab_xrealloc(d->v, d->cap * sizeof(*d->v));
		}
		d->v[d->n++] = (struct fs_entry){.name = ab_xstrdup(nm),
		                                 .dir = ok && S_ISDIR(st.st_mode),
		                                 .size = ok ? (uint64_t)st.st_size : 0,
		                                 .mtime = ok ? st.st_mtime : 0};
	}
	return 0;
}

static enum fs_sort sort_key;
static bool sort_desc;

static int
cmp_entry(const void *a, const void *b)
{
	const struct fs_entry *x = a, *y = b;
	if (x->dir != y->dir)
		return x->dir ? -1 : 1; /* folders first, whatever the order */
	int r = 0;
	if (sort_key == FS_SORT_SIZE)
		r = (x->size > y->size) - (x->size < y->size);
	else if (sort_key == FS_SORT_TIME)
		r = (x->mtime > y->mtime) - (x->mtime < y->mtime);
	if (r == 0)
		r = strcasecmp(x->name, y->name);
	if (r == 0)
		r = strcmp(x->name, y->name);
	return sort_desc ? -r : r;
}

void
fs_dir_sort(struct fs_dir *d, enum fs_sort key, bool descending)
{
	sort_key = key;
	sort_desc = descending;
	if (d->n)
		qsort(d->v, d->n, sizeof(*d->v), cmp_entry);
}

void
fs_dir_free(struct fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d->path);
	if (d->d)
		closedir(d->d);
	memset(d, 0, sizeof(*d));
}

void
fs_uri_escape(const char *path, char *out, size_t size)
{
	ab_percent_encode(path, "/-_.~", out, size);
}

int
fs_trash(const char *path, const char *home, char **ret_name, struct ab_err *err)
{
	char files[4096], info[4096];
	snprintf(files, sizeof(files), "%s/.local/share/Trash/files", home);
	snprintf(info, sizeof(info), "%s/.local/share/Trash/info", home);
	int r;
	if ((r = ab_mkdir_p(files, 0700, err)) < 0 || (r = ab_mkdir_p(info, 0700, err)) < 0)
		return ab_err_wrap(err, "creating the Trash");
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!base[0])
		return ab_err_set(err, EINVAL, "'%s' has no file name", path);
	char name[512], ipath[4700], fpath[4700];
	/* claim a name with the .trashinfo first (O_EXCL), as the spec says */
	int fd = -1;
	for (int i = 0; i < 10000 && fd < 0; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%.400s", base);
		else
			snprintf(name, sizeof(name), "%.400s.%d", base, i);
		snprintf(ipath, sizeof(ipath), "%s/%s.trashinfo", info, name);
		snprintf(fpath, sizeof(fpath), "%s/%s", files, name);
		fd = open(ipath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return ab_err_errno(err, errno, "creating '%s'", ipath);
		if (fd >= 0 && access(fpath, F_OK) == 0) {
			close(fd);
			unlink(ipath);
			fd = -1;
		}
	}
	if (fd < 0)
		return ab_err_set(err, EEXIST, "no free name in the Trash for '%s'", base);
	char abs[4096], esc[3 * 4096 + 1], when[32];
	if (path[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", path);
	} else {
		char cwd[2048];
		snprintf(abs, sizeof(abs), "%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : ".", path);
	}
	fs_uri_escape(abs, esc, sizeof(esc));
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	_cleanup_free_ char *body =
	    ab_xasprintf("[Trash Info]\nPath=%s\nDeletionDate=%s\n", esc, when);
	r = ab_write_all(fd, body, strlen(body));
	close(fd);
	if (r < 0) {
		unlink(ipath);
		return ab_err_errno(err, -r, "writing '%s'", ipath);
	}
	if (rename(path, fpath) < 0) {
		int e = errno;
		unlink(ipath);
		if (e == EXDEV)
			return ab_err_set(err, e, "'%s' is on another file system than the Trash",
			                  path);
		return ab_err_errno(err, e, "moving '%s' to the Trash", path);
	}
	if (ret_name)
		*ret_name = ab_xstrdup(name);
	return 0;
}

const char *
fs_mime(const char *name, bool dir)
{
	static const struct {
		const char *ext, *mime;
	} map[] = {
	    {"txt", "text/plain"},      {"md", "text/markdown"},
	    {"c", "text/x-csrc"},       {"h", "text/x-chdr"},
	    {"py", "text/x-python"},    {"sh", "application/x-shellscript"},
	    {"log", "text/plain"},      {"json", "application/json"},
	    {"html", "text/html"},      {"htm", "text/html"},
	    {"css", "text/css"},        {"js", "text/javascript"},
	    {"png", "image/png"},       {"jpg", "image/jpeg"},
	    {"jpeg", "image/jpeg"},     {"gif", "image/gif"},
	    {"svg", "image/svg+xml"},   {"webp", "image/webp"},
	    {"pdf", "application/pdf"}, {"zip", "application/zip"},
	    {"gz", "application/gzip"}, {"tar", "application/x-tar"},
	    {"mp3", "audio/mpeg"},      {"mp4", "video/mp4"},
	    {"csv", "text/csv"},        {"xml", "application/xml"},
	};
	if (dir)
		return "inode/directory";
	const char *dot = strrchr(name, '.');
	if (dot && dot != name) {
		for (size_t i = 0; i < AB_ARRAY_SIZE(map); i++) {
			if (strcasecmp(dot + 1, map[i].ext) == 0)
				return map[i].mime;
		}
	}
	return "application/octet-stream";
}

/* The value of key in a .desktop file's [Desktop Entry] group (static buffer). */
static bool
desktop_value(const char *text, const char *key, char *out, size_t size)
{
	bool in = false;
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len && p[0] == '[')
			in = len == 15 && strncmp(p, "[Desktop Entry]", 15) == 0;
		else if (in && len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(out, size, "%.*s", (int)(len - kl - 1), p + kl + 1);
			return true;
		}
		p = eol ? eol + 1 : NULL;
	}
	return false;
}

char *
fs_open_command(const char *dirs, const char *allowed, const char *mime, const char *file)
{
	/* the launcher's list: an entry the profile does not offer never opens a file */
	struct desktop_list offered = {0};
	desktop_scan(dirs, allowed, &offered);
	_cleanup_free_ bool *seen = ab_xcalloc(offered.n + 1, sizeof(bool));
	_cleanup_(desktop_app_dirs_freep) char **v = desktop_app_dirs(dirs);
	for (char **path = v; *path && offered.n; path++) {
		DIR *dir = opendir(*path);
		if (!dir)
			continue;
		struct dirent *de;
		while ((de = readdir(dir))) {
			size_t n = strlen(de->d_name);
			if (n < 9 || strcmp(de->d_name + n - 8, ".desktop") != 0)
				continue;
			const struct desktop_entry *e = desktop_find(&offered, de->d_name);
			/* the one the scan kept: the first dir's file of an id */
			if (!e || seen[e - offered.v])
				continue;
			seen[e - offered.v] = true;
			char fp[1400];
			snprintf(fp, sizeof(fp), "%s/%s", *path, de->d_name);
			_cleanup_free_ char *text = NULL;
			size_t len;
			if (ab_read_file(fp, 64 * 1024, &text, &len, NULL) < 0)
				continue;
			char types[2048], exec[1024];
			if (!desktop_value(text, "MimeType", types, sizeof(types)) ||
			    !desktop_value(text, "Exec", exec, sizeof(exec)))
				continue; /* a broken entry is skipped, never fatal */
			bool match = false;
			char *s2 = NULL;
			for (char *t = strtok_r(types, ";", &s2); t && !match;
			     t = strtok_r(NULL, ";", &s2))
				match = strcmp(t, mime) == 0;
			if (!match)
				continue;
			closedir(dir);
			/* field codes: %f %F %u %U -> 'file'; others dropped; %% -> % */
			size_t cap = strlen(exec) + strlen(file) * 4 + 16, o = 0;
			char *cmd = ab_xmalloc(cap);
			bool placed = false;
			for (const char *p = exec; *p; p++) {
				if (p[0] == '%' && p[1]) {
					p++;
					if (strchr("fFuU", *p) && !placed) {
						cmd[o++] = '\'';
						for (const char *q = file; *q; q++) {
							if (*q == '\'') {
								memcpy(cmd + o, "'\\''", 4);
								o += 4;
							} else {
								cmd[o++] = *q;
							}
						}
						cmd[o++] = '\'';
						placed = true;
					} else if (*p == '%') {
						cmd[o++] = '%';
					}
					continue;
				}
				cmd[o++] = *p;
			}
			cmd[o] = '\0';
			desktop_list_free(&offered);
			return cmd;
		}
		closedir(dir);
	}
	desktop_list_free(&offered);
	return NULL;
}

int
fs_usage(const char *path, char *out, size_t size)
{
	struct statvfs st;
	if (statvfs(path, &st) < 0)
		return -errno;
	uint64_t total = (uint64_t)st.f_blocks * st.f_frsize;
	uint64_t used = total - (uint64_t)st.f_bfree * st.f_frsize;
	if (total == 0)
		return -ENODATA;
	char u[32], t[32];
	text_format_bytes(used, u, sizeof(u));
	text_format_bytes(total, t, sizeof(t));
	snprintf(out, size, "%s used of %s (%.0f%%)", u, t, 100.0 * (double)used / (double)total);
	return 0;
}
