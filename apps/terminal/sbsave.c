/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sbsave: a terminal window's scrollback text in the home (see sbsave.h). */
#include "sbsave.h"
#include "ab_err.h"
#include "ab_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
sbsave_key_valid(const char *key)
{
	if (!key || strlen(key) != SBSAVE_KEY_LEN || strncmp(key, "terminal-", 9) != 0)
		return false;
	for (const char *p = key + 9; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	}
	return true;
}

void
sbsave_key_new(char *out)
{
	unsigned char b[4] = {0};
	if (ab_random_bytes(b, sizeof(b)) < 0) {
		unsigned v = (unsigned)getpid() ^ (unsigned)time(NULL);
		memcpy(b, &v, sizeof(b));
	}
	snprintf(out, SBSAVE_KEY_LEN + 1, "terminal-%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

char *
sbsave_dir(void)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (state && state[0] == '/')
		return ab_xasprintf("%s/argobox/terminal", state);
	if (home && home[0] == '/')
		return ab_xasprintf("%s/.local/state/argobox/terminal", home);
	return NULL;
}

char *
sbsave_path(const char *key, int tab)
{
	if (!sbsave_key_valid(key) || tab < 0 || tab >= SBSAVE_TABS_MAX)
		return NULL;
	_cleanup_free_ char *dir = sbsave_dir();
	if (!dir)
		return NULL;
	return tab ? ab_xasprintf("%s/%s.%d.txt", dir, key, tab)
	           : ab_xasprintf("%s/%s.txt", dir, key);
}

int
sbsave_write(const char *key, int tab, const char *text, size_t len, struct ab_err *err)
{
	_cleanup_free_ char *path = sbsave_path(key, tab);
	_cleanup_free_ char *dir = sbsave_dir();
	if (!path || !dir)
		return ab_err_set(err, EINVAL, "no place for the scrollback of '%s' (HOME unset?)",
		                  key ? key : "");
	if (len > SBSAVE_MAX_BYTES) {
		/* the newest lines: from the first line start in the last SBSAVE_MAX_BYTES */
		const char *start = text + len - SBSAVE_MAX_BYTES;
		const char *nl = memchr(start, '\n', SBSAVE_MAX_BYTES);
		start = nl ? nl + 1 : start;
		len -= (size_t)(start - text);
		text = start;
	}
	int r = ab_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	return ab_write_file_atomic(path, text, len, 0600, err);
}

int
sbsave_read(const char *key, int tab, char **ret_text, size_t *ret_len, time_t *ret_mtime,
            struct ab_err *err)
{
	_cleanup_free_ char *path = sbsave_path(key, tab);
	if (!path)
		return ab_err_set(err, ENOENT, "no saved scrollback for '%s'", key ? key : "");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0)
		return ab_err_errno(err, errno, "scrollback '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return ab_err_set(err, EINVAL, "scrollback '%s' is not a regular file", path);
	/* the newest SBSAVE_MAX_BYTES when it grew (written by something else) */
	off_t from = st.st_size > (off_t)SBSAVE_MAX_BYTES ? st.st_size - SBSAVE_MAX_BYTES : 0;
	_cleanup_free_ char *buf = ab_xmalloc(SBSAVE_MAX_BYTES + 1);
	ssize_t n = pread(fd, buf, SBSAVE_MAX_BYTES, from);
	if (n < 0)
		return ab_err_errno(err, errno, "reading scrollback '%s'", path);
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			buf[i] = '?';
	}
	buf[n] = '\0';
	*ret_text = TAKE_PTR(buf);
	*ret_len = (size_t)n;
	*ret_mtime = st.st_mtime;
	return 0;
}

/* <dir>/<key>.tabs.json, owned; NULL like sbsave_path(). */
static char *
sbsave_meta_path(const char *key)
{
	if (!sbsave_key_valid(key))
		return NULL;
	_cleanup_free_ char *dir = sbsave_dir();
	return dir ? ab_xasprintf("%s/%s.tabs.json", dir, key) : NULL;
}

char *
sbsave_meta_dump(int active, int ntabs, const struct sbsave_tab *tabs)
{
	AB_ASSERT(ntabs >= 1 && ntabs <= SBSAVE_TABS_MAX && active >= 0 && active < ntabs);
	json_t *arr = json_array();
	for (int i = 0; i < ntabs; i++) {
		/* json_string() takes only UTF-8: a title or path that is not is kept as "" */
		json_t *tab = json_object(), *title = json_string(tabs[i].title);
		json_t *cwd = json_string(tabs[i].cwd);
		json_object_set_new(tab, "title", title ? title : json_string(""));
		json_object_set_new(tab, "cwd", cwd ? cwd : json_string(""));
		json_array_append_new(arr, tab);
	}
	json_t *o = json_object();
	json_object_set_new(o, "active", json_integer(active));
	json_object_set_new(o, "tabs", arr);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	AB_ASSERT(text);
	return text;
}

int
sbsave_meta_write(const char *key, const char *text, struct ab_err *err)
{
	_cleanup_free_ char *path = sbsave_meta_path(key);
	_cleanup_free_ char *dir = sbsave_dir();
	if (!path || !dir)
		return ab_err_set(err, EINVAL, "no place for the tabs of '%s' (HOME unset?)",
		                  key ? key : "");
	int r = ab_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	return ab_write_file_atomic(path, text, strlen(text), 0600, err);
}

int
sbsave_meta_read(const char *key, int *ret_active, int *ret_ntabs, struct sbsave_tab *tabs,
                 struct ab_err *err)
{
	_cleanup_free_ char *path = sbsave_meta_path(key);
	if (!path)
		return ab_err_set(err, ENOENT, "no saved tabs for '%s'", key ? key : "");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0)
		return ab_err_errno(err, errno, "tabs file '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (256 << 10))
		return ab_err_set(err, EINVAL,
		                  "tabs file '%s': not a regular file of at most 256 KiB", path);
	json_error_t je;
	json_t *o = json_loadfd(fd, 0, &je);
	if (!o)
		return ab_err_set(err, EINVAL, "tabs file '%s': %s (line %d)", path, je.text,
		                  je.line);
	json_t *arr = json_object_get(o, "tabs"), *act = json_object_get(o, "active");
	int n = json_is_array(arr) ? (int)json_array_size(arr) : 0;
	if (n < 1 || n > SBSAVE_TABS_MAX || !json_is_integer(act) || json_integer_value(act) < 0 ||
	    json_integer_value(act) >= n) {
		json_decref(o);
		return ab_err_set(
		    err, EINVAL, "tabs file '%s': needs \"tabs\" (1..%d) and \"active\" among them",
		    path, SBSAVE_TABS_MAX);
	}
	for (int i = 0; i < n; i++) {
		json_t *tab = json_array_get(arr, (size_t)i);
		json_t *title = json_object_get(tab, "title"), *cwd = json_object_get(tab, "cwd");
		if (!json_is_object(tab) || (title && !json_is_string(title)) ||
		    (cwd && !json_is_string(cwd))) {
			json_decref(o);
			return ab_err_set(err, EINVAL,
			                  "tabs file '%s': tabs[%d] must be an object of strings",
			                  path, i);
		}
	}
	for (int i = 0; i < n; i++) {
		json_t *tab = json_array_get(arr, (size_t)i);
		const char *title = json_string_value(json_object_get(tab, "title"));
		const char *cwd = json_string_value(json_object_get(tab, "cwd"));
		snprintf(tabs[i].title, sizeof(tabs[i].title), "%s", title ? title : "");
		for (char *p = tabs[i].title; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		}
		tabs[i].cwd[0] = '\0';
		if (cwd && cwd[0] == '/' && strlen(cwd) < sizeof(tabs[i].cwd))
			snprintf(tabs[i].cwd, sizeof(tabs[i].cwd), "%s", cwd);
	}
	*ret_active = (int)json_integer_value(act);
	*ret_ntabs = n;
	json_decref(o);
	return 0;
}

void
sbsave_remove(const char *key, int from_tab)
{
	if (from_tab <= 0) {
		_cleanup_free_ char *meta = sbsave_meta_path(key);
		if (meta)
			unlink(meta);
	}
	for (int tab = AB_MAX(0, from_tab); tab < SBSAVE_TABS_MAX; tab++) {
		_cleanup_free_ char *path = sbsave_path(key, tab);
		if (path)
			unlink(path);
	}
}

/* A saved file's name: "<key>.txt", "<key>.<1..SBSAVE_TABS_MAX-1>.txt" or "<key>.tabs.json". */
static bool
sbsave_name_valid(const char *name)
{
	char key[SBSAVE_KEY_LEN + 1];
	size_t n = strlen(name);
	if (n < SBSAVE_KEY_LEN + 4)
		return false;
	memcpy(key, name, SBSAVE_KEY_LEN);
	key[SBSAVE_KEY_LEN] = '\0';
	if (!sbsave_key_valid(key))
		return false;
	if (strcmp(name + SBSAVE_KEY_LEN, ".tabs.json") == 0)
		return true;
	if (strcmp(name + n - 4, ".txt") != 0)
		return false;
	if (n == SBSAVE_KEY_LEN + 4)
		return true;
	const char *p = name + SBSAVE_KEY_LEN;
	if (*p++ != '.' || *p < '1' || *p > '9')
		return false;
	int tab = 0;
	for (; p < name + n - 4; p++) {
		if (*p < '0' || *p > '9')
			return false;
		tab = tab * 10 + (*p - '0');
		if (tab >= SBSAVE_TABS_MAX)
			return false;
	}
	return true;
}

void
sbsave_prune(time_t max_age)
{
	_cleanup_free_ char *dir = sbsave_dir();
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (!sbsave_name_valid(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (now - st.st_mtime > max_age)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}
