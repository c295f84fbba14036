/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * smbfs_core: the parts of argobox-smbfs (smbfs.c) that decide rather than talk to SMB or
 * FUSE, so that unit tests reach them: how a FUSE path becomes an smb:// URL, which errors
 * mean the server is gone, the quota's accounting, and the attributes the desktop sees.
 */
#ifndef AB_SMBFS_CORE_H
#define AB_SMBFS_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#define SMBFS_BSIZE 4096 /* the block size statfs reports */

/*
 * Writes base followed by path (a FUSE path, "/..."), percent-encoded except for
 * [A-Za-z0-9/-._~], into out (len bytes), without a trailing '/' after the base. 0, or
 * -ENAMETOOLONG when it does not fit (out is then unspecified).
 */
int smbfs_url_encode(const char *base, const char *path, char *out, size_t len);

/* Whether errno e (positive) from libsmbclient means the server or the link is gone. */
bool smbfs_conn_error(int e);

/*
 * What a failed call (r < 0, -errno) is answered to the desktop: -EHOSTDOWN for a lost
 * server (smbfs_conn_error), r itself otherwise; r >= 0 is returned as it is.
 */
int smbfs_errno_map(int r);

/* The home's bytes against its quota (0 = none); `known` once summed over SMB. */
struct smbfs_usage {
	int64_t quota;
	int64_t used;
	bool known;
};

/*
 * Whether growing the home by delta bytes fits: 0 (also for delta <= 0 and no quota),
 * -EDQUOT over the quota, -EHOSTDOWN while the usage is not known (refused rather than
 * overrun).
 */
int smbfs_usage_fits(const struct smbfs_usage *u, int64_t delta);

/* Moves the usage by delta (a write, a truncate, an unlink); never below 0. */
void smbfs_usage_move(struct smbfs_usage *u, int64_t delta);

/* How many bytes a write of n bytes at off grows a file of `size` bytes by (0 inside it). */
int64_t smbfs_write_growth(int64_t size, int64_t off, size_t n);

/*
 * statfs with a quota: the quota as the size, in SMBFS_BSIZE blocks, the used bytes rounded
 * up to a block; free never below 0. Only for a quota > 0.
 */
void smbfs_usage_statvfs(const struct smbfs_usage *u, struct statvfs *st);

/*
 * The attributes the desktop sees for what SMB reported: directories 0700 with 2 links,
 * everything else a regular file 0600 with 1, owned by uid/gid, blocks from the size.
 */
void smbfs_stat_fix(struct stat *st, uid_t uid, gid_t gid);

#endif
