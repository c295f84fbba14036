/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smbfs_core: argobox-smbfs's path mapping, error mapping and quota accounting (header). */
#include "smbfs_core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
smbfs_url_encode(const char *base, const char *path, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t blen = strlen(base);
	if (blen + 1 > len)
		return -ENAMETOOLONG;
	memcpy(out, base, blen + 1);
	size_t n = blen;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		             (*p >= '0' && *p <= '9') || strchr("/-._~", *p);
		if (n + 4 >= len)
			return -ENAMETOOLONG;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (n > blen && out[n - 1] == '/')
		n--;
	out[n] = '\0';
	return 0;
}

bool
smbfs_conn_error(int e)
{
	switch (e) {
	case ECONNRESET:
	case ECONNREFUSED:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case ENOTCONN:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EIO:
	case EBADF:
		return true;
	default:
		return false;
	}
}

int
smbfs_errno_map(int r)
{
	return r < 0 && smbfs_conn_error(-r) ? -EHOSTDOWN : r;
}

int
smbfs_usage_fits(const struct smbfs_usage *u, int64_t delta)
{
	if (u->quota <= 0 || delta <= 0)
		return 0;
	if (!u->known)
		return -EHOSTDOWN;
	return u->used <= u->quota - delta ? 0 : -EDQUOT;
}

void
smbfs_usage_move(struct smbfs_usage *u, int64_t delta)
{
	u->used += delta;
	if (u->used < 0)
		u->used = 0;
}

int64_t
smbfs_write_growth(int64_t size, int64_t off, size_t n)
{
	int64_t end = off + (int64_t)n;
	return end > size ? end - size : 0;
}

void
smbfs_usage_statvfs(const struct smbfs_usage *u, struct statvfs *st)
{
	int64_t used = (u->used + SMBFS_BSIZE - 1) / SMBFS_BSIZE;
	int64_t total = u->quota / SMBFS_BSIZE;
	st->f_blocks = (fsblkcnt_t)total;
	st->f_bfree = st->f_bavail = (fsblkcnt_t)(total > used ? total - used : 0);
}

void
smbfs_stat_fix(struct stat *st, uid_t uid, gid_t gid)
{
	bool dir = S_ISDIR(st->st_mode);
	st->st_mode = dir ? (S_IFDIR | 0700) : (S_IFREG | 0600);
	st->st_nlink = dir ? 2 : 1;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_blksize = 65536;
	st->st_blocks = (st->st_size + 511) / 512;
}
