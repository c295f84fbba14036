/* SPDX-License-Identifier: GPL-2.0-or-later */
/* desktop_entry: freedesktop .desktop entries (see desktop_entry.h). */
#include "desktop_entry.h"
#include "ab_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const category_names[] = {"Internet", "Development", "Office",    "Graphics",
                                             "Media",    "System",      "Utilities", "Other"};

const char *
desktop_category_name(enum desktop_category c)
{
	return c < DESKTOP_CAT_MAX ? category_names[c] : "Other";
}

static enum desktop_category
category_of(const char *cats)
{
	static const struct {
		const char *word;
		enum desktop_category cat;
	} map[] = {
	    {"Network", DESKTOP_CAT_INTERNET},
	    {"WebBrowser", DESKTOP_CAT_INTERNET},
	    {"Development", DESKTOP_CAT_DEVELOPMENT},
	    {"Office", DESKTOP_CAT_OFFICE},
	    {"Graphics", DESKTOP_CAT_GRAPHICS},
	    {"AudioVideo", DESKTOP_CAT_MEDIA},
	    {"Audio", DESKTOP_CAT_MEDIA},
	    {"Video", DESKTOP_CAT_MEDIA},
	    {"System", DESKTOP_CAT_SYSTEM},
	    {"Settings", DESKTOP_CAT_SYSTEM},
	    {"Utility", DESKTOP_CAT_UTILITY},
	    {"TextEditor", DESKTOP_CAT_UTILITY},
	};
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", cats);
	char *save = NULL;
	for (char *w = strtok_r(buf, ";", &save); w; w = strtok_r(NULL, ";", &save)) {
		for (size_t i = 0; i < AB_ARRAY_SIZE(map); i++) {
			if (strcmp(w, map[i].word) == 0)
				return map[i].cat;
		}
	}
	return DESKTOP_CAT_OTHER;
}

static void
copy_value(char *dst, size_t n, const char *v)
{
	snprintf(dst, n, "%s", v);
}

/* TryExec: an absolute path that is executable, or a name found executable on $PATH. */
static bool
program_found(const char *prog)
{
	if (strchr(prog, '/'))
		return prog[0] == '/' && access(prog, X_OK) == 0;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char buf[1024];
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n && n + strlen(prog) + 2 <= sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
			if (access(buf, X_OK) == 0)
				return true;
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

int
desktop_parse(const char *id, const char *text, struct desktop_entry *ret, struct ab_err *err)
{
	struct desktop_entry e;
	memset(&e, 0, sizeof(e));
	copy_value(e.id, sizeof(e.id), id);
	bool in_entry = false, seen_entry = false, is_app = false, hidden = false;
	char cats[256] = "", tryexec[256] = "";
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		p = nl ? nl + 1 : p + strlen(p);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (line[0] == '[') {
			in_entry = strcmp(line, "[Desktop Entry]") == 0;
			seen_entry |= in_entry;
			continue;
		}
		if (!in_entry)
			continue;
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *key = line, *val = eq + 1;
		/* trim spaces around the key and before the value */
		for (char *k = eq - 1; k >= key && isspace((unsigned char)*k); k--)
			*k = '\0';
		while (isspace((unsigned char)*val))
			val++;
		if (strcmp(key, "Type") == 0)
			is_app = strcmp(val, "Application") == 0;
		else if (strcmp(key, "Name") == 0)
			copy_value(e.name, sizeof(e.name), val);
		else if (strcmp(key, "Comment") == 0)
			copy_value(e.comment, sizeof(e.comment), val);
		else if (strcmp(key, "Exec") == 0)
			copy_value(e.exec, sizeof(e.exec), val);
		else if (strcmp(key, "Icon") == 0)
			copy_value(e.icon, sizeof(e.icon), val);
		else if (strcmp(key, "Keywords") == 0)
			copy_value(e.keywords, sizeof(e.keywords), val);
		else if (strcmp(key, "StartupWMClass") == 0)
			copy_value(e.wm_class, sizeof(e.wm_class), val);
		else if (strcmp(key, "X-ArgoBox-App") == 0)
			copy_value(e.app, sizeof(e.app), val);
		else if (strcmp(key, "Categories") == 0)
			copy_value(cats, sizeof(cats), val);
		else if (strcmp(key, "TryExec") == 0)
			copy_value(tryexec, sizeof(tryexec), val);
		else if ((strcmp(key, "NoDisplay") == 0 || strcmp(key, "Hidden") == 0) &&
		         strcmp(val, "true") == 0)
			hidden = true;
		else if (strcmp(key, "Terminal") == 0 && strcmp(val, "true") == 0)
			hidden = true; /* no terminal wrapper: such apps cannot be started */
	}
	if (!seen_entry)
		return ab_err_set(err, EINVAL, "'%s': no [Desktop Entry] group", id);
	if (!is_app || hidden || !e.exec[0])
		return -ENOENT;
	/* a program this system lacks (e.g. xterm in a desktop image that has none) */
	if (tryexec[0] && !program_found(tryexec))
		return -ENOENT;
	if (!e.name[0])
		return ab_err_set(err, EINVAL, "'%s': no Name", id);
	if (!ab_utf8_valid(e.name, strlen(e.name)) || !ab_utf8_valid(e.comment, strlen(e.comment)))
		return ab_err_set(err, EINVAL, "'%s': not UTF-8", id);
	e.category = category_of(cats);
	*ret = e;
	return 0;
}

bool
desktop_allowed(const char *allowed, const char *id)
{
	if (!allowed || !*allowed)
		return false;
	size_t idlen = strlen(id);
	size_t base = idlen > 8 && strcmp(id + idlen - 8, ".desktop") == 0 ? idlen - 8 : idlen;
	const char *p = allowed;
	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 1 && *p == '*')
			return true;
		if (n && ((n == idlen && strncmp(p, id, n) == 0) ||
		          (n == base && strncmp(p, id, n) == 0)))
			return true;
		p += n;
	}
	return false;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct desktop_entry *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);
	return c ? c : strcmp(x->id, y->id);
}

const struct desktop_entry *
desktop_find(const struct desktop_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].id, id) == 0)
			return &l->v[i];
	}
	return NULL;
}

static void
scan_dir(const char *dir, const char *prefix, const char *allowed, struct desktop_list *l,
         size_t *cap, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[1024], id[300];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(id, sizeof(id), "%s%s", prefix, de->d_name);
		if (de->d_type == DT_DIR && depth < 1) {
			char sub[sizeof(id) + 2];
			snprintf(sub, sizeof(sub), "%s-", id);
			scan_dir(path, sub, allowed, l, cap, depth + 1);
			continue;
		}
		size_t n = strlen(id);
		if (n <= 8 || n > 128 || strcmp(id + n - 8, ".desktop") != 0)
			continue;
		if (!allowed || !*allowed || desktop_find(l, id))
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (ab_read_file(path, 64 * 1024, &text, &len, NULL) < 0)
			continue;
		struct desktop_entry e;
		if (desktop_parse(id, text, &e, NULL) < 0)
			continue;
		/* allowed by its id/name, or by the profile app it provides (X-ArgoBox-App) */
		if (!desktop_allowed(allowed, id) && !(e.app[0] && desktop_allowed(allowed, e.app)))
			continue;
		if (l->n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			l->v = ab_xrealloc(l->v, *cap * sizeof(*l->v));
		}
		l->v[l->n++] = e;
	}
	closedir(d);
}

char **
desktop_app_dirs(const char *dirs)
{
	if (!dirs || !*dirs)
		dirs = getenv("XDG_DATA_DIRS");
	if (!dirs || !*dirs)
		dirs = "/usr/local/share:/usr/share";
	_cleanup_free_ char *copy = ab_xstrdup(dirs);
	char **v = ab_xcalloc(strlen(dirs) / 2 + 2, sizeof(*v)); /* ':' between non-empty dirs */
	size_t n = 0;
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
		v[n++] = ab_xasprintf("%s/applications", d);
	return v;
}

void
desktop_app_dirs_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

void
desktop_scan(const char *dirs, const char *allowed, struct desktop_list *ret)
{
	struct desktop_list l = {0};
	size_t cap = 0;
	_cleanup_(desktop_app_dirs_freep) char **v = desktop_app_dirs(dirs);
	for (char **p = v; *p; p++)
		scan_dir(*p, "", allowed, &l, &cap, 0);
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_entry);
	*ret = l;
}

void
desktop_list_free(struct desktop_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool
desktop_match(const struct desktop_entry *e, const char *query)
{
	char q[128];
	snprintf(q, sizeof(q), "%s", query);
	char *save = NULL;
	for (char *w = strtok_r(q, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (!strcasestr(e->name, w) && !strcasestr(e->comment, w) &&
		    !strcasestr(e->keywords, w) && !strcasestr(e->id, w))
			return false;
	}
	return true;
}

void
desktop_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

int
desktop_argv(const struct desktop_entry *e, char ***ret_argv, struct ab_err *err)
{
	char **argv = ab_xcalloc(64, sizeof(*argv));
	size_t argc = 0;
	const char *p = e->exec;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		char word[512];
		size_t n = 0;
		bool quoted = false, had_quotes = false;
		while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
			char c = *p++;
			if (c == '"') {
				quoted = !quoted;
				had_quotes = true;
				continue;
			}
			if (c == '\\' && quoted && *p) {
				c = *p++;
			} else if (c == '%' && *p) {
				if (*p++ != '%')
					continue; /* field codes (%f %u %i %c %k ...) expand to
					             nothing */
			}
			if (n + 1 < sizeof(word))
				word[n++] = c;
		}
		if (quoted) {
			desktop_argv_free(argv);
			return ab_err_set(err, EINVAL, "'%s': unterminated quote in Exec", e->id);
		}
		word[n] = '\0';
		if (n == 0 && !had_quotes)
			continue;
		if (argc + 1 >= 64) {
			desktop_argv_free(argv);
			return ab_err_set(err, E2BIG, "'%s': too many Exec arguments", e->id);
		}
		argv[argc++] = ab_xstrdup(word);
	}
	if (argc == 0) {
		desktop_argv_free(argv);
		return ab_err_set(err, EINVAL, "'%s': empty Exec", e->id);
	}
	*ret_argv = argv;
	return 0;
}

static const char *
base_name(const char *s)
{
	const char *b = strrchr(s, '/');
	return b ? b + 1 : s;
}

const struct desktop_entry *
desktop_find_class(const struct desktop_list *l, const char *wm_class, const char *wm_instance)
{
	if (!wm_class)
		wm_class = "";
	if (!wm_instance)
		wm_instance = "";
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].wm_class[0] && (strcasecmp(l->v[i].wm_class, wm_class) == 0))
			return &l->v[i];
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct desktop_entry *e = &l->v[i];
		/* an entry that names its class makes windows of that class only
		 * (a wrapper such as "xterm -class Editor -e vi" is no XTerm) */
		if (e->wm_class[0])
			continue;
		char id[129];
		snprintf(id, sizeof(id), "%s", e->id);
		id[strlen(id) - 8] = '\0';
		char exe[256];
		size_t n = strcspn(e->exec, " \t");
		snprintf(exe, sizeof(exe), "%.*s", (int)n, e->exec);
		const char *eb = base_name(exe);
		if ((*wm_instance &&
		     (strcasecmp(id, wm_instance) == 0 || strcasecmp(eb, wm_instance) == 0)) ||
		    (*wm_class && (strcasecmp(id, wm_class) == 0 || strcasecmp(eb, wm_class) == 0)))
			return e;
	}
	return NULL;
}
