/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_files: what the files API (broker/files/) takes from a user's request before it
 * touches the home: the path check every route runs (files_path_check), the download's Range
 * header, and the tus upload's Upload-Length / Upload-Offset numbers and Upload-Metadata
 * (base64 filename and destination, decoded into the buffers upload_create uses). The input
 * is 8 bytes of file size, then path NUL Range NUL Upload-Metadata NUL Upload-Length.
 * Checks: a path that passes is relative, without ".", ".." or empty segments, control
 * characters or invalid UTF-8, and within the length limits; a range that passes lies inside
 * the file; numbers are below 2^53; decoded metadata fits its buffer and holds no NUL.
 */
#include "ab_util.h"
#include "files_internal.h"
#include "fuzz.h"

static void
check_path(const char *rel)
{
	const char *why = "x";
	if (files_path_check(rel, &why) < 0) {
		FUZZ_CHECK(why != NULL);
		return;
	}
	size_t len = strlen(rel);
	FUZZ_CHECK(why == NULL && len <= FILES_PATH_MAX && rel[0] != '/');
	FUZZ_CHECK(ab_utf8_valid(rel, len));
	char *copy = fuzz_cstr((const uint8_t *)rel, len), *save = NULL;
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((unsigned char)rel[i] >= 0x20 && rel[i] != 0x7f);
	for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
		FUZZ_CHECK(strcmp(seg, ".") != 0 && strcmp(seg, "..") != 0 &&
		           strlen(seg) <= FILES_NAME_MAX);
	FUZZ_CHECK(!strstr(rel, "//") && (len == 0 || rel[len - 1] != '/'));
	free(copy);
}

static void
check_meta(const char *meta, const char *key, size_t size)
{
	char *out = malloc(size);
	FUZZ_CHECK(out);
	int k = files_tus_meta_get(meta, key, out, size);
	FUZZ_CHECK(k >= -1 && k <= 1);
	if (k == 1) {
		FUZZ_CHECK(strlen(out) < size);
		check_path(out);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8 || size > 16384)
		return 0;
	unsigned long long fsize = 0;
	for (int i = 0; i < 8; i++)
		fsize = fsize << 8 | data[i];
	fsize >>= data[0] & 63; /* small sizes too */
	char *f[4], *block;
	fuzz_split(data + 8, size - 8, f, 4, &block);
	check_path(f[0]);
	unsigned long long a = 0, b = 0;
	int r = files_parse_range(f[1][0] ? f[1] : NULL, fsize, &a, &b);
	FUZZ_CHECK(r >= -1 && r <= 1);
	if (r == 1)
		FUZZ_CHECK(a <= b && b < fsize);
	/* the buffers upload_create decodes into */
	check_meta(f[2], "filename", FILES_NAME_MAX + 8);
	check_meta(f[2], "destination", FILES_PATH_MAX + 8);
	int64_t n = files_tus_parse_u53(f[3]);
	FUZZ_CHECK(n == -1 || (n >= 0 && n < (1LL << 53)));
	free(block);
	return 0;
}
