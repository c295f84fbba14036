/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "extclip.h"
#include "ab_util.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

long long
extclip_cut_text_len(const uint8_t hdr[8], size_t limit, bool *ret_extended)
{
	int32_t len = (int32_t)get32(hdr + 4);
	size_t n = len < 0 ? (size_t) - (int64_t)len : (size_t)len;
	if (n > limit)
		return -EMSGSIZE;
	if (len < 0 && n < 4)
		return -EBADMSG;
	*ret_extended = len < 0;
	return (long long)n;
}

uint8_t *
extclip_message(uint32_t flags, const void *payload, size_t n, size_t *ret_len)
{
	AB_ASSERT(n <= INT32_MAX - 4);
	uint8_t *m = ab_xmalloc(12 + n);
	m[0] = 3; /* ServerCutText */
	m[1] = m[2] = m[3] = 0;
	put32(m + 4, (uint32_t) - (int32_t)(n + 4));
	put32(m + 8, flags);
	if (n)
		memcpy(m + 12, payload, n);
	*ret_len = 12 + n;
	return m;
}

uint8_t *
extclip_caps_message(uint32_t text_max, size_t *ret_len)
{
	uint8_t sz[4];
	put32(sz, text_max);
	return extclip_message(EXTCLIP_CAPS | EXTCLIP_REQUEST | EXTCLIP_PEEK | EXTCLIP_NOTIFY |
	                           EXTCLIP_PROVIDE | EXTCLIP_TEXT,
	                       sz, sizeof(sz), ret_len);
}

uint8_t *
extclip_provide_message(const char *utf8, size_t len, size_t *ret_len)
{
	/* u32 size, the text with CRLF line ends, NUL */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += utf8[i] == '\n' && (i == 0 || utf8[i - 1] != '\r');
	size_t tlen = len + lines + 1;
	_cleanup_free_ uint8_t *plain = ab_xmalloc(4 + tlen);
	put32(plain, (uint32_t)tlen);
	size_t o = 4;
	for (size_t i = 0; i < len; i++) {
		if (utf8[i] == '\n' && (i == 0 || utf8[i - 1] != '\r'))
			plain[o++] = '\r';
		plain[o++] = (uint8_t)utf8[i];
	}
	plain[o++] = 0;

	z_stream zs = {0};
	AB_ASSERT(deflateInit(&zs, Z_DEFAULT_COMPRESSION) == Z_OK);
	size_t cap = deflateBound(&zs, (uLong)o) + 16;
	_cleanup_free_ uint8_t *z = ab_xmalloc(cap);
	zs.next_in = plain;
	zs.avail_in = (uInt)o;
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	int r = deflate(&zs, Z_SYNC_FLUSH);
	AB_ASSERT(r == Z_OK && zs.avail_in == 0);
	size_t zlen = cap - zs.avail_out;
	deflateEnd(&zs);
	return extclip_message(EXTCLIP_PROVIDE | EXTCLIP_TEXT, z, zlen, ret_len);
}

size_t
extclip_to_lf(char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			s[o++] = '\n';
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

/* Inflates exactly n bytes into out; Z_STREAM_END only counts as success once out is full. */
static int
inflate_exact(z_stream *zs, uint8_t *out, size_t n)
{
	zs->next_out = out;
	zs->avail_out = (uInt)n;
	while (zs->avail_out > 0) {
		int r = inflate(zs, Z_SYNC_FLUSH);
		if (r == Z_STREAM_END || r == Z_BUF_ERROR) {
			/* no more input or the stream ended, short of n */
			if (zs->avail_out > 0)
				return -EBADMSG;
		} else if (r != Z_OK) {
			return -EBADMSG;
		}
	}
	return 0;
}

int
extclip_provide_text(uint32_t flags, const uint8_t *payload, size_t n, size_t max, char **ret,
                     size_t *ret_len)
{
	if (!(flags & EXTCLIP_TEXT))
		return -ENOENT;
	z_stream zs = {0};
	if (inflateInit(&zs) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)payload;
	zs.avail_in = (uInt)n;
	uint8_t sz[4];
	int r = inflate_exact(&zs, sz, 4);
	size_t tlen = r < 0 ? 0 : get32(sz);
	/* text is the lowest format bit, so it comes first; CRLF may double the LF text */
	if (r == 0 && tlen > 2 * max + 1)
		r = -EMSGSIZE;
	char *text = NULL;
	if (r == 0) {
		text = ab_xmalloc(tlen + 1);
		r = inflate_exact(&zs, (uint8_t *)text, tlen);
	}
	inflateEnd(&zs);
	if (r < 0) {
		free(text);
		return r;
	}
	/* the terminating NUL, which some clients leave out */
	while (tlen > 0 && text[tlen - 1] == 0)
		tlen--;
	tlen = extclip_to_lf(text, tlen);
	text[tlen] = 0;
	if (tlen > max) {
		free(text);
		return -EMSGSIZE;
	}
	if (!ab_utf8_valid(text, tlen)) {
		free(text);
		return -EBADMSG;
	}
	*ret = text;
	*ret_len = tlen;
	return 0;
}

int
extclip_caps_text_max(uint32_t flags, const uint8_t *payload, size_t n, uint32_t *ret_text_max)
{
	size_t formats = 0;
	for (int i = 0; i < 16; i++)
		formats += (flags >> i) & 1;
	if (n < formats * 4)
		return -EBADMSG;
	/* sizes come in format-bit order; text is bit 0, so first */
	*ret_text_max = (flags & EXTCLIP_TEXT) ? get32(payload) : 0;
	return 0;
}
