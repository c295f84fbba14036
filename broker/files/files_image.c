/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files_image: quotas on the desktop's own writes to a *local* home (docs/files.md, "Local
 * homes with a quota"). With files.local_quota "image", a user's home on the host is an ext4
 * file system in a sparse image file of exactly their quota's size,
 * <data.dir>/files/images/<user>.img, loop-mounted (nosuid, nodev) on the home directory
 * before anything uses it: a program in the desktop that fills it gets ENOSPC from the
 * kernel, at native speed; "discard" gives deleted blocks back to the host's disk. The image is
 * created (mkfs.ext4, its root owned by the desktop's user) the first time; a quota changed later
 * is not applied to an existing image (growing it is `truncate -s` + `losetup -c` + `resize2fs`, by
 * hand, docs/files.md).
 */
#include "files_internal.h"

#include "ab_log.h"
#include "ab_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXT4_SUPER_MAGIC 0xEF53

int
files_image_check_config(json_t *files, struct ab_err *err)
{
	json_t *v = json_object_get(files, "local_quota");
	if (v && (!json_is_string(v) || (strcmp(json_string_value(v), "none") != 0 &&
	                                 strcmp(json_string_value(v), "image") != 0)))
		return ab_err_set(err, EINVAL, "files.local_quota: must be \"none\" or \"image\"");
	return 0;
}

bool
files_image_enabled(const struct files *f)
{
	json_t *v = json_object_get(f->config, "local_quota");
	return v && strcmp(json_string_value(v), "image") == 0 && !files_smb_enabled(f);
}

/* Runs argv (a system tool, found on PATH) to its end; 0 when it exited 0, else -errno. */
static int
run(const char *const *argv)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* Whether dir is the mount point of an ext4 file system (the image), not just on one. */
static bool
image_mounted(const char *dir)
{
	struct statfs sf;
	struct stat st, parent;
	_cleanup_free_ char *up = ab_xasprintf("%s/..", dir);
	return statfs(dir, &sf) == 0 && sf.f_type == EXT4_SUPER_MAGIC && stat(dir, &st) == 0 &&
	       stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
}

bool
files_dir_has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool any = false;
	struct dirent *e;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return any;
}

static int
image_create(const char *img, int64_t quota, const struct files_home *h, struct ab_err *err)
{
	_cleanup_close_ int fd =
	    open(img, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ab_err_errno(err, errno, "creating '%s'", img);
	if (ftruncate(fd, quota) < 0) {
		int e = errno;
		unlink(img);
		return ab_err_errno(err, e, "sizing '%s'", img);
	}
	char opts[128];
	snprintf(opts, sizeof(opts), "root_owner=%u:%u,lazy_itable_init=1,lazy_journal_init=1",
	         (unsigned)h->uid, (unsigned)h->gid);
	const char *mkfs[] = {"mkfs.ext4",    "-q", "-F", "-m", "0", "-L",
	                      "argobox-home", "-E", opts, img,  NULL};
	int r = run(mkfs);
	if (r < 0) {
		unlink(img);
		return ab_err_set(err, -r, "mkfs.ext4 on '%s' failed", img);
	}
	return 0;
}

int
files_image_mount(struct files *f, const char *user, const struct files_home *h, struct ab_err *err)
{
	int64_t quota = files_quota(f, user, h->profile);
	_cleanup_free_ char *img = ab_xasprintf("%s/%s.img", f->images, user);
	struct stat st;
	if (image_mounted(h->dir))
		return 0; /* mounted (also by a previous broker): kept as it is */
	if (quota <= 0)
		return 0; /* no quota: the plain directory */
	bool fresh = false;
	if (lstat(img, &st) < 0) {
		if (files_dir_has_entries(h->dir)) {
			files_audit_as("files.image", AUDIT_FAILURE, user, NULL, NULL,
			               json_pack("{ssss}", "step", "create", "reason",
			                         "the home already holds files"));
			return ab_err_set(
			    err, EEXIST,
			    "home of '%s' holds files: move them into the image by hand "
			    "(docs/files.md)",
			    user);
		}
		if (ab_mkdir_p(f->images, 0700, err) < 0)
			return ab_err_wrap(err, "files images");
		int r = image_create(img, quota, h, err);
		if (r < 0)
			return r;
		fresh = true;
	} else if (!S_ISREG(st.st_mode)) {
		return ab_err_set(err, EINVAL, "'%s' is not a regular file", img);
	}
	if (mkdir(h->dir, 0700) < 0 && errno != EEXIST)
		return ab_err_errno(err, errno, "creating '%s'", h->dir);
	const char *mount[] = {"mount", "-o",   "loop,nosuid,nodev,noatime,discard",
	                       img,     h->dir, NULL};
	int r = run(mount);
	if (r < 0 || !image_mounted(h->dir)) {
		files_audit_as(
		    "files.image", AUDIT_FAILURE, user, NULL, NULL,
		    json_pack("{ssss}", "step", "mount", "reason", "mount -o loop failed"));
		return ab_err_set(err, EIO, "mounting '%s' on '%s' failed", img, h->dir);
	}
	if (fresh) {
		_cleanup_free_ char *lf = ab_xasprintf("%s/lost+found", h->dir);
		(void)rmdir(
		    lf); /* the user's home starts empty (e2fsck makes it again if needed) */
		(void)chmod(h->dir, 0700);
	}
	files_audit_as("files.image", AUDIT_GRANT, user, NULL, NULL,
	               json_pack("{sssssIsb}", "step", "mount", "home", h->dir, "quota",
	                         (json_int_t)quota, "created", fresh));
	return 0;
}
