/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "rfbc.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ab_util.h"

#define ENC_RAW          0
#define ENC_COPYRECT     1
#define ENC_ZRLE         16
#define ENC_DESKTOP_SIZE (-223)
#define ENC_LAST_RECT    (-224)

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
rfbc_resize(struct rfbc *r, int w, int h)
{
	free(r->fb);
	r->w = w;
	r->h = h;
	r->fb = ab_xcalloc((size_t)w * (size_t)h, sizeof(uint32_t));
}

int
rfbc_connect(struct rfbc *r, const char *target, struct ab_err *err)
{
	int ret = conn_open(&r->conn, target, err);
	if (ret < 0)
		return ret;
	struct conn *c = &r->conn;
	uint8_t b[64];
	if ((ret = conn_read(c, b, 12, err)) < 0)
		return ab_err_wrap(err, "reading the RFB version");
	if (memcmp(b, "RFB 003.", 8) != 0)
		return ab_err_set(err, EPROTO, "not an RFB server");
	if ((ret = conn_write(c, "RFB 003.008\n", 12, err)) < 0)
		return ret;
	if ((ret = conn_read(c, b, 1, err)) < 0)
		return ret;
	unsigned n = b[0];
	if (n == 0)
		return ab_err_set(err, EPROTO, "server refused the connection");
	uint8_t types[256];
	if ((ret = conn_read(c, types, n, err)) < 0)
		return ret;
	if (!memchr(types, 1, n))
		return ab_err_set(err, EPROTO, "server does not offer security type None");
	if ((ret = conn_write(c, "\x01", 1, err)) < 0)
		return ret;
	if ((ret = conn_read(c, b, 4, err)) < 0)
		return ret;
	if (rd32(b) != 0)
		return ab_err_set(err, EACCES, "security handshake failed");
	if ((ret = conn_write(c, "\x01", 1, err)) < 0) /* ClientInit: shared */
		return ret;
	if ((ret = conn_read(c, b, 24, err)) < 0)
		return ab_err_wrap(err, "reading ServerInit");
	int w = rd16(b), h = rd16(b + 2);
	uint32_t nl = rd32(b + 20);
	if (w == 0 || h == 0 || w > 16384 || h > 16384 || nl > 65536)
		return ab_err_set(err, EPROTO, "bad ServerInit (%dx%d, name %u bytes)", w, h, nl);
	_cleanup_free_ char *name = ab_xmalloc(nl + 1);
	if ((ret = conn_read(c, name, nl, err)) < 0)
		return ret;
	name[nl] = 0;
	snprintf(r->name, sizeof(r->name), "%s", name);
	rfbc_resize(r, w, h);

	uint8_t spf[20] = {0};
	spf[0] = 0;  /* SetPixelFormat */
	spf[4] = 32; /* bpp */
	spf[5] = 24; /* depth */
	spf[6] = 0;  /* little endian */
	spf[7] = 1;  /* true colour */
	wr16(spf + 8, 255);
	wr16(spf + 10, 255);
	wr16(spf + 12, 255);
	spf[14] = 16;
	spf[15] = 8;
	spf[16] = 0;
	static const int32_t encs[] = {ENC_ZRLE, ENC_COPYRECT, ENC_RAW, ENC_DESKTOP_SIZE,
	                               ENC_LAST_RECT};
	uint8_t se[4 + 4 * AB_ARRAY_SIZE(encs)];
	se[0] = 2;
	se[1] = 0;
	wr16(se + 2, AB_ARRAY_SIZE(encs));
	for (size_t i = 0; i < AB_ARRAY_SIZE(encs); i++)
		wr32(se + 4 + 4 * i, (uint32_t)encs[i]);
	uint8_t both[sizeof(spf) + sizeof(se)];
	memcpy(both, spf, sizeof(spf));
	memcpy(both + sizeof(spf), se, sizeof(se));
	return conn_write(c, both, sizeof(both), err);
}

void
rfbc_free(struct rfbc *r)
{
	conn_close(&r->conn);
	free(r->fb);
	free(r->zin);
	free(r->zout);
	if (r->zs_init)
		inflateEnd(&r->zs);
	r->fb = NULL;
	r->zin = r->zout = NULL;
	r->zs_init = false;
}

int
rfbc_request(struct rfbc *r, bool incremental, struct ab_err *err)
{
	uint8_t m[10] = {3, incremental};
	wr16(m + 6, (uint16_t)r->w);
	wr16(m + 8, (uint16_t)r->h);
	return conn_write(&r->conn, m, sizeof(m), err);
}

int
rfbc_key_tap(struct rfbc *r, uint32_t keysym, struct ab_err *err)
{
	uint8_t m[16] = {4, 1};
	wr32(m + 4, keysym);
	m[8] = 4;
	wr32(m + 12, keysym);
	return conn_write(&r->conn, m, sizeof(m), err);
}

int
rfbc_pointer(struct rfbc *r, int x, int y, int buttons, struct ab_err *err)
{
	uint8_t m[6] = {5, (uint8_t)buttons};
	wr16(m + 2, (uint16_t)x);
	wr16(m + 4, (uint16_t)y);
	return conn_write(&r->conn, m, sizeof(m), err);
}

/* Stores one pixel, counting it when it changes. */
static inline void
rfbc_put(struct rfbc *r, int x, int y, uint32_t px)
{
	uint32_t *p = &r->fb[(size_t)y * (size_t)r->w + (size_t)x];
	if (*p != px) {
		*p = px;
		r->last_changed++;
	}
}

static int
rfbc_raw(struct rfbc *r, int x, int y, int w, int h, struct ab_err *err)
{
	_cleanup_free_ uint32_t *row = ab_xmalloc((size_t)w * 4);
	for (int j = 0; j < h; j++) {
		int ret = conn_read(&r->conn, row, (size_t)w * 4, err);
		if (ret < 0)
			return ret;
		for (int i = 0; i < w; i++)
			rfbc_put(r, x + i, y + j, le32toh(row[i]) & 0xffffff);
	}
	return 0;
}

static int
rfbc_copyrect(struct rfbc *r, int x, int y, int w, int h, struct ab_err *err)
{
	uint8_t b[4];
	int ret = conn_read(&r->conn, b, 4, err);
	if (ret < 0)
		return ret;
	int sx = rd16(b), sy = rd16(b + 2);
	if (sx + w > r->w || sy + h > r->h)
		return ab_err_set(err, EPROTO, "CopyRect source outside the framebuffer");
	_cleanup_free_ uint32_t *tmp = ab_xmalloc((size_t)w * (size_t)h * 4);
	for (int j = 0; j < h; j++)
		memcpy(tmp + (size_t)j * w, r->fb + (size_t)(sy + j) * r->w + sx, (size_t)w * 4);
	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++)
			rfbc_put(r, x + i, y + j, tmp[(size_t)j * w + i]);
	return 0;
}

/* Cursor over the inflated ZRLE data. */
struct zr {
	const uint8_t *p, *end;
	bool bad;
};

static unsigned
zr_u8(struct zr *z)
{
	if (z->p >= z->end) {
		z->bad = true;
		return 0;
	}
	return *z->p++;
}

static uint32_t
zr_cpixel(struct zr *z)
{
	if (z->end - z->p < 3) {
		z->bad = true;
		z->p = z->end;
		return 0;
	}
	uint32_t v = (uint32_t)z->p[0] | (uint32_t)z->p[1] << 8 | (uint32_t)z->p[2] << 16;
	z->p += 3;
	return v;
}

static void
rfbc_zrle_tile(struct rfbc *r, struct zr *z, int tx, int ty, int tw, int th)
{
	unsigned sub = zr_u8(z);
	uint32_t pal[128];
	r->zrle_tiles[sub == 0 ? 0 : sub == 1 ? 1 : sub <= 16 ? 2 : 3]++;
	if (sub == 0) {
		for (int j = 0; j < th && !z->bad; j++)
			for (int i = 0; i < tw; i++)
				rfbc_put(r, tx + i, ty + j, zr_cpixel(z));
	} else if (sub == 1) {
		uint32_t px = zr_cpixel(z);
		for (int j = 0; j < th; j++)
			for (int i = 0; i < tw; i++)
				rfbc_put(r, tx + i, ty + j, px);
	} else if (sub <= 16) {
		for (unsigned k = 0; k < sub; k++)
			pal[k] = zr_cpixel(z);
		unsigned bits = sub == 2 ? 1 : sub <= 4 ? 2 : 4;
		for (int j = 0; j < th && !z->bad; j++) {
			unsigned byte = 0, left = 0;
			for (int i = 0; i < tw; i++) {
				if (left == 0) {
					byte = zr_u8(z);
					left = 8;
				}
				left -= bits;
				unsigned idx = (byte >> left) & ((1u << bits) - 1);
				rfbc_put(r, tx + i, ty + j, idx < sub ? pal[idx] : 0);
			}
		}
	} else if (sub == 128 || sub >= 130) {
		unsigned npal = sub == 128 ? 0 : sub - 128;
		for (unsigned k = 0; k < npal; k++)
			pal[k] = zr_cpixel(z);
		int pos = 0, total = tw * th;
		while (pos < total && !z->bad) {
			uint32_t px;
			long run = 1;
			if (npal == 0) {
				px = zr_cpixel(z);
				run = 0;
				unsigned b;
				do {
					b = zr_u8(z);
					run += b;
				} while (b == 255 && !z->bad);
				run++;
			} else {
				unsigned idx = zr_u8(z);
				if (idx & 128) {
					run = 0;
					unsigned b;
					do {
						b = zr_u8(z);
						run += b;
					} while (b == 255 && !z->bad);
					run++;
				}
				idx &= 127;
				px = idx < npal ? pal[idx] : 0;
			}
			if (run > total - pos) {
				z->bad = true;
				break;
			}
			for (long k = 0; k < run; k++, pos++)
				rfbc_put(r, tx + pos % tw, ty + pos / tw, px);
		}
	} else {
		z->bad = true;
	}
}

static int
rfbc_zrle(struct rfbc *r, int x, int y, int w, int h, struct ab_err *err)
{
	uint8_t b[4];
	int ret = conn_read(&r->conn, b, 4, err);
	if (ret < 0)
		return ret;
	uint32_t len = rd32(b);
	if (len > (64u << 20))
		return ab_err_set(err, EPROTO, "ZRLE rectangle of %u bytes", len);
	if (len > r->zin_cap) {
		r->zin_cap = len;
		r->zin = ab_xrealloc(r->zin, len);
	}
	if ((ret = conn_read(&r->conn, r->zin, len, err)) < 0)
		return ret;
	if (!r->zs_init) {
		memset(&r->zs, 0, sizeof(r->zs));
		if (inflateInit(&r->zs) != Z_OK)
			return ab_err_set(err, ENOMEM, "inflateInit");
		r->zs_init = true;
	}
	r->zs.next_in = r->zin;
	r->zs.avail_in = len;
	size_t out = 0;
	while (r->zs.avail_in > 0) {
		if (r->zout_cap - out < 65536) {
			r->zout_cap = r->zout_cap * 2 + 65536;
			r->zout = ab_xrealloc(r->zout, r->zout_cap);
		}
		r->zs.next_out = r->zout + out;
		r->zs.avail_out = (uInt)(r->zout_cap - out);
		int z = inflate(&r->zs, Z_SYNC_FLUSH);
		out = r->zout_cap - r->zs.avail_out;
		if (z != Z_OK && z != Z_BUF_ERROR && z != Z_STREAM_END)
			return ab_err_set(err, EPROTO, "ZRLE data: zlib error %d", z);
		if (z == Z_BUF_ERROR && r->zs.avail_out > 0)
			break;
	}
	r->zrle_inflated += out;
	struct zr zr = {.p = r->zout, .end = r->zout + out};
	for (int ty = y; ty < y + h && !zr.bad; ty += 64)
		for (int tx = x; tx < x + w && !zr.bad; tx += 64)
			rfbc_zrle_tile(r, &zr, tx, ty, AB_MIN(64, x + w - tx),
			               AB_MIN(64, y + h - ty));
	if (zr.bad)
		return ab_err_set(err, EPROTO, "corrupt ZRLE rectangle %dx%d+%d+%d", w, h, x, y);
	return 0;
}

static int
rfbc_update(struct rfbc *r, struct ab_err *err)
{
	uint8_t b[12];
	int ret = conn_read(&r->conn, b, 3, err);
	if (ret < 0)
		return ret;
	unsigned n = rd16(b + 1);
	r->last_changed = 0;
	r->last_area = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t w0 = r->conn.wire_bytes - (r->conn.rlen - r->conn.rpos);
		if ((ret = conn_read(&r->conn, b, 12, err)) < 0)
			return ret;
		int x = rd16(b), y = rd16(b + 2), w = rd16(b + 4), h = rd16(b + 6);
		int32_t enc = (int32_t)rd32(b + 8);
		int e = enc == ENC_RAW        ? RFBC_E_RAW
		        : enc == ENC_COPYRECT ? RFBC_E_COPYRECT
		        : enc == ENC_ZRLE     ? RFBC_E_ZRLE
		                              : RFBC_E_PSEUDO;
		r->enc[e].rects++;
		if (e != RFBC_E_PSEUDO)
			r->enc[e].pixels += (uint64_t)w * (uint64_t)h;
		if (enc == ENC_LAST_RECT)
			break;
		if (enc == ENC_DESKTOP_SIZE) {
			rfbc_resize(r, w, h);
			continue;
		}
		if (x + w > r->w || y + h > r->h)
			return ab_err_set(err, EPROTO, "rectangle %dx%d+%d+%d outside %dx%d", w, h,
			                  x, y, r->w, r->h);
		r->last_area += (uint64_t)w * (uint64_t)h;
		if (w == 0 || h == 0)
			continue;
		switch (enc) {
		case ENC_RAW:
			ret = rfbc_raw(r, x, y, w, h, err);
			break;
		case ENC_COPYRECT:
			ret = rfbc_copyrect(r, x, y, w, h, err);
			break;
		case ENC_ZRLE:
			ret = rfbc_zrle(r, x, y, w, h, err);
			break;
		default:
			return ab_err_set(err, EPROTO, "server used encoding %d we did not ask for",
			                  enc);
		}
		if (ret < 0)
			return ret;
		r->enc[e].bytes += r->conn.wire_bytes - (r->conn.rlen - r->conn.rpos) - w0;
	}
	r->updates++;
	return 1;
}

void
rfbc_print_stats(const struct rfbc *r, const struct rfbc *base, FILE *f)
{
	static const char *names[] = {"raw", "copyrect", "zrle", "pseudo"};
	for (int e = 0; e < 4; e++) {
		const struct rfbc_enc_stat *a = &r->enc[e], *b = &base->enc[e];
		fprintf(f, " %s_rects=%llu %s_bytes=%llu %s_px=%llu", names[e],
		        (unsigned long long)(a->rects - b->rects), names[e],
		        (unsigned long long)(a->bytes - b->bytes), names[e],
		        (unsigned long long)(a->pixels - b->pixels));
	}
	static const char *tiles[] = {"raw", "solid", "palette", "rle"};
	for (int t = 0; t < 4; t++)
		fprintf(f, " zrle_tiles_%s=%llu", tiles[t],
		        (unsigned long long)(r->zrle_tiles[t] - base->zrle_tiles[t]));
	fprintf(f, " zrle_inflated=%llu",
	        (unsigned long long)(r->zrle_inflated - base->zrle_inflated));
}

int
rfbc_read_msg(struct rfbc *r, struct ab_err *err)
{
	uint8_t t, b[8];
	int ret = conn_read(&r->conn, &t, 1, err);
	if (ret < 0)
		return ret;
	switch (t) {
	case 0:
		return rfbc_update(r, err);
	case 1: { /* SetColourMapEntries */
		if ((ret = conn_read(&r->conn, b, 5, err)) < 0)
			return ret;
		size_t n = (size_t)rd16(b + 3) * 6;
		_cleanup_free_ uint8_t *skip = ab_xmalloc(n + 1);
		return conn_read(&r->conn, skip, n, err) < 0 ? -EPROTO : 0;
	}
	case 2: /* Bell */
		return 0;
	case 3: { /* ServerCutText */
		if ((ret = conn_read(&r->conn, b, 7, err)) < 0)
			return ret;
		uint32_t n = rd32(b + 3);
		if (n > (16u << 20))
			return ab_err_set(err, EPROTO, "ServerCutText of %u bytes", n);
		_cleanup_free_ uint8_t *skip = ab_xmalloc(n + 1);
		return conn_read(&r->conn, skip, n, err);
	}
	default:
		return ab_err_set(err, EPROTO, "unknown server message type %u", t);
	}
}
