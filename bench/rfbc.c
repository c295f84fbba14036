/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "rfbc.h"

#include <endian.h>
#include <errno.h>
#include <jpeglib.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab_util.h"

#define ENC_RAW              0
#define ENC_COPYRECT         1
#define ENC_RRE              2
#define ENC_HEXTILE          5
#define ENC_ZLIB             6
#define ENC_TIGHT            7
#define ENC_ZRLE             16
#define ENC_JPEG             21
#define ENC_H264             50
#define ENC_TIGHT_PNG        (-260)
#define ENC_QUALITY0         (-32)
#define ENC_COMPRESS0        (-256)
#define ENC_DESKTOP_SIZE     (-223)
#define ENC_LAST_RECT        (-224)
#define ENC_CURSOR           (-239)
#define ENC_QEMU_KEY         (-258)
#define ENC_QEMU_LED         (-261)
#define ENC_DESKTOP_NAME     (-307)
#define ENC_EXT_DESKTOP_SIZE (-308)
#define ENC_XVP              (-309)
#define ENC_FENCE            (-312)
#define ENC_CU               (-313)
#define ENC_EXT_MOUSE        (-316)
#define ENC_VMWARE_CURSOR    ((int32_t)0x574d5664)
#define ENC_EXT_CLIPBOARD    ((int32_t)0xc0a1e5ce)

#define MSG_END_OF_CU 150
#define MSG_FENCE     248
#define MSG_XVP       250
#define MSG_QEMU      255

#define FENCE_REQUEST (1u << 31)

#define TIGHT_MIN_TO_COMPRESS 12 /* shorter basic data is sent as it is */

static const struct {
	const char *name;
	int32_t enc;
} enc_names[] = {
    {"raw", ENC_RAW},
    {"copyrect", ENC_COPYRECT},
    {"rre", ENC_RRE},
    {"hextile", ENC_HEXTILE},
    {"zlib", ENC_ZLIB},
    {"tight", ENC_TIGHT},
    {"tightpng", ENC_TIGHT_PNG},
    {"zrle", ENC_ZRLE},
    {"jpeg", ENC_JPEG},
    {"h264", ENC_H264},
    {"desktopsize", ENC_DESKTOP_SIZE},
    {"lastrect", ENC_LAST_RECT},
    {"cursor", ENC_CURSOR},
    {"vmwarecursor", ENC_VMWARE_CURSOR},
    {"qemukey", ENC_QEMU_KEY},
    {"qemuled", ENC_QEMU_LED},
    {"extdesktopsize", ENC_EXT_DESKTOP_SIZE},
    {"desktopname", ENC_DESKTOP_NAME},
    {"xvp", ENC_XVP},
    {"fence", ENC_FENCE},
    {"cu", ENC_CU},
    {"extclipboard", ENC_EXT_CLIPBOARD},
    {"extmouse", ENC_EXT_MOUSE},
};

const char rfbc_encoding_names[] =
    "raw copyrect rre hextile zlib tight tightpng zrle jpeg h264 quality=N compress=N "
    "desktopsize lastrect cursor vmwarecursor qemukey qemuled extdesktopsize desktopname "
    "xvp fence cu extclipboard extmouse NUMBER; presets: novnc default";

static const int32_t enc_default[] = {ENC_ZRLE, ENC_COPYRECT, ENC_RAW, ENC_DESKTOP_SIZE,
                                      ENC_LAST_RECT};

/*
 * noVNC 1.7.0's RFB._sendEncodings() (core/rfb.js) at 24-bit depth, in its
 * order, with its default quality 6 and compression 2 (ArgoBox's web/js/desktop.js
 * keeps those). A browser that can decode H.264 with WebCodecs also sends
 * ENC_H264 right after CopyRect; neither libvncserver 0.9.14 nor TigerVNC 1.12
 * implements it, so it changes nothing here.
 */
static const int32_t enc_novnc[] = {
    ENC_COPYRECT,         ENC_TIGHT,        ENC_TIGHT_PNG,     ENC_ZRLE,     ENC_JPEG,
    ENC_HEXTILE,          ENC_RRE,          ENC_ZLIB,          ENC_RAW,      ENC_QUALITY0 + 6,
    ENC_COMPRESS0 + 2,    ENC_DESKTOP_SIZE, ENC_LAST_RECT,     ENC_QEMU_KEY, ENC_QEMU_LED,
    ENC_EXT_DESKTOP_SIZE, ENC_XVP,          ENC_FENCE,         ENC_CU,       ENC_DESKTOP_NAME,
    ENC_EXT_CLIPBOARD,    ENC_EXT_MOUSE,    ENC_VMWARE_CURSOR, ENC_CURSOR,
};

static void
encs_push(int32_t **v, size_t *n, size_t *cap, int32_t e)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*v = ab_xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = e;
}

int
rfbc_parse_encodings(const char *list, int32_t **ret_encs, size_t *ret_n, struct ab_err *err)
{
	_cleanup_free_ char *copy = ab_xstrdup(list);
	_cleanup_free_ int32_t *v = NULL;
	size_t n = 0, cap = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const int32_t *preset = NULL;
		size_t np = 0;
		if (strcmp(t, "novnc") == 0) {
			preset = enc_novnc;
			np = AB_ARRAY_SIZE(enc_novnc);
		} else if (strcmp(t, "default") == 0) {
			preset = enc_default;
			np = AB_ARRAY_SIZE(enc_default);
		}
		for (size_t i = 0; i < np; i++)
			encs_push(&v, &n, &cap, preset[i]);
		if (preset)
			continue;
		int lvl;
		char extra;
		if (sscanf(t, "quality=%d%c", &lvl, &extra) == 1 ||
		    sscanf(t, "compress=%d%c", &lvl, &extra) == 1) {
			if (lvl < 0 || lvl > 9)
				return ab_err_set(err, EINVAL, "encoding '%s': the level is 0 to 9",
				                  t);
			encs_push(&v, &n, &cap, (t[0] == 'q' ? ENC_QUALITY0 : ENC_COMPRESS0) + lvl);
			continue;
		}
		bool found = false;
		for (size_t i = 0; i < AB_ARRAY_SIZE(enc_names) && !found; i++) {
			if (strcmp(t, enc_names[i].name) == 0) {
				encs_push(&v, &n, &cap, enc_names[i].enc);
				found = true;
			}
		}
		if (found)
			continue;
		char *end;
		errno = 0;
		long long num = strtoll(t, &end, 0);
		if (errno || end == t || *end || num < INT32_MIN || num > UINT32_MAX)
			return ab_err_set(err, EINVAL, "unknown encoding '%s' (known: %s)", t,
			                  rfbc_encoding_names);
		encs_push(&v, &n, &cap, (int32_t)(uint32_t)(num & 0xffffffff));
	}
	if (n == 0)
		return ab_err_set(err, EINVAL, "empty encodings list '%s'", list);
	if (n > 1024)
		return ab_err_set(err, EINVAL, "%zu encodings is too many", n);
	*ret_encs = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static const char *
enc_name(int32_t enc)
{
	for (size_t i = 0; i < AB_ARRAY_SIZE(enc_names); i++)
		if (enc_names[i].enc == enc)
			return enc_names[i].name;
	return "?";
}

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
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

static void
wr32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static void
rfbc_resize(struct rfbc *r, int w, int h)
{
	free(r->fb);
	free(r->lossy);
	r->w = w;
	r->h = h;
	r->fb = ab_xcalloc((size_t)w * (size_t)h, sizeof(uint32_t));
	r->lossy = r->track_lossy ? ab_xcalloc((size_t)w * (size_t)h, 1) : NULL;
}

/* Reads and drops n bytes. */
static int
rfbc_skip(struct rfbc *r, size_t n, struct ab_err *err)
{
	uint8_t buf[4096];
	while (n > 0) {
		size_t k = AB_MIN(n, sizeof(buf));
		int ret = conn_read(&r->conn, buf, k, err);
		if (ret < 0)
			return ret;
		n -= k;
	}
	return 0;
}

int
rfbc_connect(struct rfbc *r, const char *target, struct ab_err *err)
{
	int ret = conn_open(&r->conn, target, err);
	if (ret < 0)
		return ret;
	return rfbc_handshake(r, err);
}

int
rfbc_handshake(struct rfbc *r, struct ab_err *err)
{
	struct conn *c = &r->conn;
	uint8_t b[64];
	int ret;
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

	const int32_t *encs = r->encodings ? r->encodings : enc_default;
	size_t ne = r->encodings ? r->n_encodings : AB_ARRAY_SIZE(enc_default);
	_cleanup_free_ uint8_t *m = ab_xmalloc(20 + 4 + 4 * ne);
	memset(m, 0, 20);
	m[0] = 0;  /* SetPixelFormat */
	m[4] = 32; /* bpp */
	m[5] = 24; /* depth */
	m[6] = 0;  /* little endian */
	m[7] = 1;  /* true colour */
	wr16(m + 8, 255);
	wr16(m + 10, 255);
	wr16(m + 12, 255);
	m[14] = 16;
	m[15] = 8;
	m[16] = 0;
	uint8_t *se = m + 20;
	se[0] = 2; /* SetEncodings */
	se[1] = 0;
	wr16(se + 2, (uint16_t)ne);
	for (size_t i = 0; i < ne; i++) {
		wr32(se + 4 + 4 * i, (uint32_t)encs[i]);
		r->cu_offered |= encs[i] == ENC_CU;
		r->fence_offered |= encs[i] == ENC_FENCE;
		r->qemu_key_offered |= encs[i] == ENC_QEMU_KEY;
	}
	return conn_write(c, m, 20 + 4 + 4 * ne, err);
}

void
rfbc_free(struct rfbc *r)
{
	conn_close(&r->conn);
	free(r->fb);
	free(r->lossy);
	free(r->zin);
	free(r->zout);
	free(r->tout);
	if (r->zs_init)
		inflateEnd(&r->zs);
	for (int i = 0; i < 4; i++)
		if (r->tz_init[i])
			inflateEnd(&r->tz[i]);
	r->fb = NULL;
	r->lossy = NULL;
	r->zin = r->zout = r->tout = NULL;
	r->zin_cap = r->zout_cap = r->tout_cap = 0;
	r->zs_init = false;
	memset(r->tz_init, 0, sizeof(r->tz_init));
}

int
rfbc_request(struct rfbc *r, bool incremental, struct ab_err *err)
{
	if (incremental && r->cu_on)
		return 0;
	uint8_t m[10] = {3, incremental};
	wr16(m + 6, (uint16_t)r->w);
	wr16(m + 8, (uint16_t)r->h);
	return conn_write(&r->conn, m, sizeof(m), err);
}

/* EnableContinuousUpdates for the whole screen, as noVNC sends it. */
static int
rfbc_enable_cu(struct rfbc *r, struct ab_err *err)
{
	uint8_t m[10] = {MSG_END_OF_CU, 1};
	wr16(m + 6, (uint16_t)r->w);
	wr16(m + 8, (uint16_t)r->h);
	return conn_write(&r->conn, m, sizeof(m), err);
}

/* The XT scancode (QEMU's "qnum") of the keys the benchmark types, or 0. */
static uint32_t
keysym_qnum(uint32_t keysym)
{
	static const uint8_t letters[26] = {
	    0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32,
	    0x31, 0x18, 0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11, 0x2d, 0x15, 0x2c,
	};
	if (keysym >= 'a' && keysym <= 'z')
		return letters[keysym - 'a'];
	if (keysym == 0xff08) /* BackSpace */
		return 0x0e;
	if (keysym == 0xff0d) /* Return */
		return 0x1c;
	if (keysym == ' ')
		return 0x39;
	return 0;
}

int
rfbc_key_tap(struct rfbc *r, uint32_t keysym, struct ab_err *err)
{
	uint32_t qnum = r->qemu_keys ? keysym_qnum(keysym) : 0;
	if (qnum) { /* what noVNC sends once the server acknowledged the extension */
		uint8_t m[24] = {MSG_QEMU, 0};
		wr16(m + 2, 1);
		wr32(m + 4, keysym);
		wr32(m + 8, qnum);
		m[12] = MSG_QEMU;
		wr32(m + 16, keysym);
		wr32(m + 20, qnum);
		return conn_write(&r->conn, m, sizeof(m), err);
	}
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
	if (r->lossy) { /* what was lossy stays lossy where it is copied to */
		_cleanup_free_ uint8_t *lt = ab_xmalloc((size_t)w * (size_t)h);
		for (int j = 0; j < h; j++)
			memcpy(lt + (size_t)j * w, r->lossy + (size_t)(sy + j) * r->w + sx,
			       (size_t)w);
		for (int j = 0; j < h; j++)
			memcpy(r->lossy + (size_t)(y + j) * r->w + x, lt + (size_t)j * w,
			       (size_t)w);
	}
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

/* ---- Tight ---- */

/* Grows one of the scratch buffers to at least n bytes. */
static uint8_t *
scratch(uint8_t **buf, size_t *cap, size_t n)
{
	if (n > *cap) {
		*cap = n;
		*buf = ab_xrealloc(*buf, n);
	}
	return *buf;
}

/* Tight's compact length: 1 to 3 bytes, 7 bits in each but the third, which has 8. */
static int
tight_clen(struct rfbc *r, size_t *ret_len, struct ab_err *err)
{
	size_t len = 0;
	for (int i = 0; i < 3; i++) {
		uint8_t b;
		int ret = conn_read(&r->conn, &b, 1, err);
		if (ret < 0)
			return ret;
		if (i == 2) {
			len |= (size_t)b << 14;
			break;
		}
		len |= (size_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	*ret_len = len;
	return 0;
}

/* A compact length and that many bytes after it, read into r->zin. */
static int
tight_clen_data(struct rfbc *r, size_t *ret_len, struct ab_err *err)
{
	int ret = tight_clen(r, ret_len, err);
	if (ret < 0)
		return ret;
	scratch(&r->zin, &r->zin_cap, AB_MAX(*ret_len, (size_t)1));
	return conn_read(&r->conn, r->zin, *ret_len, err);
}

/*
 * The n bytes of a basic rectangle's data into r->tout: as they are when
 * fewer than 12, else a compact length and that much zlib data of stream
 * `sid`, which must inflate to exactly n bytes.
 */
static int
tight_data(struct rfbc *r, int sid, size_t n, struct ab_err *err)
{
	scratch(&r->tout, &r->tout_cap, n + 1);
	r->tight_inflated += n;
	if (n < TIGHT_MIN_TO_COMPRESS)
		return conn_read(&r->conn, r->tout, n, err);
	size_t len;
	int ret = tight_clen_data(r, &len, err);
	if (ret < 0)
		return ret;
	z_stream *zs = &r->tz[sid];
	if (!r->tz_init[sid]) {
		memset(zs, 0, sizeof(*zs));
		if (inflateInit(zs) != Z_OK)
			return ab_err_set(err, ENOMEM, "inflateInit");
		r->tz_init[sid] = true;
	}
	zs->next_in = r->zin;
	zs->avail_in = (uInt)len;
	size_t done = 0;
	while (zs->avail_in > 0) {
		/* one byte of room more than needed, to notice a rectangle with too much */
		zs->next_out = r->tout + done;
		zs->avail_out = (uInt)(n + 1 - done);
		int z = inflate(zs, Z_SYNC_FLUSH);
		done = (size_t)(zs->next_out - r->tout);
		if (z == Z_STREAM_END || z == Z_BUF_ERROR)
			break;
		if (z != Z_OK)
			return ab_err_set(err, EPROTO, "Tight zlib stream %d: error %d (%s)", sid,
			                  z, zs->msg ? zs->msg : "?");
		if (done > n)
			break;
	}
	if (done != n)
		return ab_err_set(err, EPROTO,
		                  "Tight zlib stream %d: %zu bytes where the rectangle needs %zu",
		                  sid, done, n);
	return 0;
}

static inline uint32_t
rgb24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

struct jpeg_fail {
	struct jpeg_error_mgr mgr;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
};

static void
jpeg_fail_exit(j_common_ptr c)
{
	struct jpeg_fail *f = (struct jpeg_fail *)c->err;
	c->err->format_message(c, f->msg);
	longjmp(f->jb, 1);
}

static void
jpeg_no_output(j_common_ptr c)
{
	/* warnings (a truncated stream, ...) are not printed; the pixels tell */
}

static int
tight_jpeg(struct rfbc *r, int x, int y, int w, int h, struct ab_err *err)
{
	size_t len;
	int ret = tight_clen_data(r, &len, err);
	if (ret < 0)
		return ret;
	r->tight_jpeg_bytes += len;
	r->tight_jpeg_px += (uint64_t)w * (uint64_t)h;
	_cleanup_free_ uint8_t *row = ab_xmalloc((size_t)w * 3);
	struct jpeg_decompress_struct ci;
	struct jpeg_fail jf = {0};
	ci.err = jpeg_std_error(&jf.mgr);
	jf.mgr.error_exit = jpeg_fail_exit;
	jf.mgr.output_message = jpeg_no_output;
	jpeg_create_decompress(&ci);
	if (setjmp(jf.jb)) {
		jpeg_destroy_decompress(&ci);
		return ab_err_set(err, EPROTO, "Tight JPEG rectangle %dx%d+%d+%d: %s", w, h, x, y,
		                  jf.msg);
	}
	jpeg_mem_src(&ci, r->zin, (unsigned long)len);
	jpeg_read_header(&ci, TRUE);
	ci.out_color_space = JCS_RGB;
	jpeg_start_decompress(&ci);
	if ((int)ci.output_width != w || (int)ci.output_height != h || ci.output_components != 3) {
		jpeg_destroy_decompress(&ci);
		return ab_err_set(err, EPROTO, "Tight JPEG of %ux%u in a %dx%d rectangle",
		                  ci.output_width, ci.output_height, w, h);
	}
	while (ci.output_scanline < ci.output_height) {
		int j = (int)ci.output_scanline;
		JSAMPROW rows[1] = {row};
		jpeg_read_scanlines(&ci, rows, 1);
		for (int i = 0; i < w; i++)
			rfbc_put(r, x + i, y + j, rgb24(row + 3 * i));
	}
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
	return 0;
}

/*
 * One Tight rectangle (RFB spec, "Tight Encoding"): a compression-control
 * byte whose low four bits reset the zlib streams 0-3 and whose high four
 * say how the pixels come: 8 fill (one TPIXEL), 9 JPEG, 0-7 basic (bits 4-5
 * the stream, bit 6 "a filter id follows": copy, palette or gradient). A
 * TPIXEL is 3 bytes, R G B, for our 32-bit depth-24 format.
 */
static int
rfbc_tight(struct rfbc *r, int x, int y, int w, int h, bool *ret_lossy, struct ab_err *err)
{
	uint8_t ctl;
	int ret = conn_read(&r->conn, &ctl, 1, err);
	if (ret < 0)
		return ret;
	for (int i = 0; i < 4; i++) {
		if ((ctl & (1u << i)) && r->tz_init[i] && inflateReset(&r->tz[i]) != Z_OK)
			return ab_err_set(err, EPROTO, "Tight: resetting zlib stream %d", i);
	}
	unsigned type = ctl >> 4;
	if (type == 8) {
		uint8_t p[3];
		if ((ret = conn_read(&r->conn, p, 3, err)) < 0)
			return ret;
		r->tight_kind[RFBC_T_FILL]++;
		for (int j = 0; j < h; j++)
			for (int i = 0; i < w; i++)
				rfbc_put(r, x + i, y + j, rgb24(p));
		return 0;
	}
	if (type == 9) {
		r->tight_kind[RFBC_T_JPEG]++;
		*ret_lossy = true;
		return tight_jpeg(r, x, y, w, h, err);
	}
	if (type > 9)
		return ab_err_set(err, EPROTO, "Tight compression type %u (control byte 0x%02x)",
		                  type, ctl);
	int sid = (int)(type & 3);
	uint8_t filter = 0;
	if ((type & 4) && (ret = conn_read(&r->conn, &filter, 1, err)) < 0)
		return ret;
	size_t npx = (size_t)w * (size_t)h;
	if (filter == 0) { /* copy */
		r->tight_kind[RFBC_T_COPY]++;
		if ((ret = tight_data(r, sid, npx * 3, err)) < 0)
			return ret;
		const uint8_t *p = r->tout;
		for (int j = 0; j < h; j++)
			for (int i = 0; i < w; i++, p += 3)
				rfbc_put(r, x + i, y + j, rgb24(p));
		return 0;
	}
	if (filter == 1) { /* palette */
		uint8_t b[3 * 256 + 1];
		if ((ret = conn_read(&r->conn, b, 1, err)) < 0)
			return ret;
		unsigned ncol = b[0] + 1u;
		if ((ret = conn_read(&r->conn, b, 3 * ncol, err)) < 0)
			return ret;
		uint32_t pal[256];
		for (unsigned k = 0; k < ncol; k++)
			pal[k] = rgb24(b + 3 * k);
		if (ncol == 2) {
			r->tight_kind[RFBC_T_MONO]++;
			size_t row = ((size_t)w + 7) / 8;
			if ((ret = tight_data(r, sid, row * (size_t)h, err)) < 0)
				return ret;
			for (int j = 0; j < h; j++) {
				const uint8_t *p = r->tout + row * (size_t)j;
				for (int i = 0; i < w; i++)
					rfbc_put(r, x + i, y + j,
					         pal[(p[i >> 3] >> (7 - (i & 7))) & 1]);
			}
			return 0;
		}
		r->tight_kind[RFBC_T_PALETTE]++;
		if ((ret = tight_data(r, sid, npx, err)) < 0)
			return ret;
		const uint8_t *p = r->tout;
		for (int j = 0; j < h; j++) {
			for (int i = 0; i < w; i++, p++) {
				if (*p >= ncol)
					return ab_err_set(err, EPROTO,
					                  "Tight palette index %u of %u colours",
					                  *p, ncol);
				rfbc_put(r, x + i, y + j, pal[*p]);
			}
		}
		return 0;
	}
	if (filter == 2) { /* gradient: each component predicted from left + above - above-left */
		r->tight_kind[RFBC_T_GRADIENT]++;
		if ((ret = tight_data(r, sid, npx * 3, err)) < 0)
			return ret;
		_cleanup_free_ uint8_t *prev = ab_xcalloc((size_t)w * 3, 1);
		_cleanup_free_ uint8_t *cur = ab_xmalloc((size_t)w * 3);
		const uint8_t *d = r->tout;
		for (int j = 0; j < h; j++) {
			for (int i = 0; i < w; i++) {
				for (int c = 0; c < 3; c++, d++) {
					int left = i ? cur[3 * (i - 1) + c] : 0;
					int up = prev[3 * i + c];
					int ul = i ? prev[3 * (i - 1) + c] : 0;
					int est = AB_MAX(0, AB_MIN(255, left + up - ul));
					cur[3 * i + c] = (uint8_t)(est + *d);
				}
				rfbc_put(r, x + i, y + j, rgb24(cur + 3 * i));
			}
			uint8_t *t = prev;
			prev = cur;
			cur = t;
		}
		return 0;
	}
	return ab_err_set(err, EPROTO, "Tight filter %u", filter);
}

/* ---- pseudo-encodings ---- */

/*
 * Reads a pseudo-rectangle's payload (noVNC's handling, minus drawing a
 * cursor). Returns 1 for LastRect, 0 otherwise.
 */
static int
rfbc_pseudo(struct rfbc *r, int32_t enc, int x, int y, int w, int h, struct ab_err *err)
{
	uint8_t b[4];
	size_t area = (size_t)w * (size_t)h;
	int ret;
	switch (enc) {
	case ENC_LAST_RECT:
		return 1;
	case ENC_DESKTOP_SIZE:
		if (w == 0 || h == 0)
			return ab_err_set(err, EPROTO, "DesktopSize %dx%d", w, h);
		rfbc_resize(r, w, h);
		return r->cu_on ? rfbc_enable_cu(r, err) : 0;
	case ENC_EXT_DESKTOP_SIZE:
		if ((ret = conn_read(&r->conn, b, 4, err)) < 0 ||
		    (ret = rfbc_skip(r, 16u * b[0], err)) < 0)
			return ret;
		/* x: reason (1: our own request), y: status; a refusal changes nothing */
		if ((x == 1 && y != 0) || (w == r->w && h == r->h))
			return 0;
		if (w == 0 || h == 0)
			return ab_err_set(err, EPROTO, "ExtendedDesktopSize %dx%d", w, h);
		rfbc_resize(r, w, h);
		return r->cu_on ? rfbc_enable_cu(r, err) : 0;
	case ENC_CURSOR:
		return rfbc_skip(r, area * 4 + ((size_t)w + 7) / 8 * (size_t)h, err);
	case ENC_VMWARE_CURSOR:
		if ((ret = conn_read(&r->conn, b, 2, err)) < 0)
			return ret;
		if (b[0] > 1)
			return ab_err_set(err, EPROTO, "VMware cursor type %u", b[0]);
		return rfbc_skip(r, area * 4 * (b[0] == 0 ? 2 : 1), err);
	case ENC_DESKTOP_NAME: {
		if ((ret = conn_read(&r->conn, b, 4, err)) < 0)
			return ret;
		uint32_t n = rd32(b);
		if (n > (1u << 20))
			return ab_err_set(err, EPROTO, "DesktopName of %u bytes", n);
		_cleanup_free_ char *name = ab_xmalloc(n + 1);
		if ((ret = conn_read(&r->conn, name, n, err)) < 0)
			return ret;
		name[n] = 0;
		snprintf(r->name, sizeof(r->name), "%s", name);
		return 0;
	}
	case ENC_QEMU_KEY:
		r->qemu_keys = r->qemu_key_offered;
		return 0;
	case ENC_QEMU_LED:
		return conn_read(&r->conn, b, 1, err);
	case ENC_EXT_MOUSE:
		return 0;
	default:
		return ab_err_set(err, EPROTO,
		                  "server sent pseudo-encoding %d, which we cannot parse", enc);
	}
}

static bool
is_pseudo(int32_t enc)
{
	return enc < 0 && enc != ENC_TIGHT_PNG;
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
		        : enc == ENC_TIGHT    ? RFBC_E_TIGHT
		                              : RFBC_E_PSEUDO;
		r->enc[e].rects++;
		if (is_pseudo(enc) || enc == ENC_VMWARE_CURSOR) {
			if ((ret = rfbc_pseudo(r, enc, x, y, w, h, err)) < 0)
				return ab_err_wrap(err, "pseudo-rectangle %d", enc);
			r->enc[e].bytes += r->conn.wire_bytes - (r->conn.rlen - r->conn.rpos) - w0;
			if (ret == 1) /* LastRect */
				break;
			continue;
		}
		r->enc[e].pixels += (uint64_t)w * (uint64_t)h;
		if (x + w > r->w || y + h > r->h)
			return ab_err_set(err, EPROTO, "rectangle %dx%d+%d+%d outside %dx%d", w, h,
			                  x, y, r->w, r->h);
		r->last_area += (uint64_t)w * (uint64_t)h;
		if (w == 0 || h == 0)
			continue;
		bool lossy = false;
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
		case ENC_TIGHT:
			ret = rfbc_tight(r, x, y, w, h, &lossy, err);
			break;
		default:
			return ab_err_set(
			    err, EPROTO,
			    "server used encoding %d (%s), which ab-rfbbench does not "
			    "decode",
			    enc, enc_name(enc));
		}
		if (ret < 0)
			return ret;
		if (r->lossy && enc != ENC_COPYRECT)
			for (int j = 0; j < h; j++)
				memset(r->lossy + (size_t)(y + j) * r->w + x, lossy, (size_t)w);
		r->enc[e].bytes += r->conn.wire_bytes - (r->conn.rlen - r->conn.rpos) - w0;
	}
	r->updates++;
	return 1;
}

void
rfbc_print_stats(const struct rfbc *r, const struct rfbc *base, FILE *f)
{
	static const char *names[RFBC_E_MAX] = {"raw", "copyrect", "zrle", "tight", "pseudo"};
	for (int e = 0; e < RFBC_E_MAX; e++) {
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
	static const char *kinds[RFBC_T_MAX] = {"fill", "jpeg",    "copy",
	                                        "mono", "palette", "gradient"};
	for (int k = 0; k < RFBC_T_MAX; k++)
		fprintf(f, " tight_%s=%llu", kinds[k],
		        (unsigned long long)(r->tight_kind[k] - base->tight_kind[k]));
	fprintf(f, " tight_inflated=%llu tight_jpeg_px=%llu tight_jpeg_bytes=%llu fences=%llu",
	        (unsigned long long)(r->tight_inflated - base->tight_inflated),
	        (unsigned long long)(r->tight_jpeg_px - base->tight_jpeg_px),
	        (unsigned long long)(r->tight_jpeg_bytes - base->tight_jpeg_bytes),
	        (unsigned long long)(r->fences - base->fences));
}

/* ServerFence: a request is answered at once with the flags noVNC keeps and the payload. */
static int
rfbc_fence(struct rfbc *r, struct ab_err *err)
{
	uint8_t m[9 + 64] = {MSG_FENCE};
	int ret = conn_read(&r->conn, m + 1, 8, err);
	if (ret < 0)
		return ret;
	uint32_t flags = rd32(m + 4);
	unsigned len = m[8];
	if (len > 64)
		return ab_err_set(err, EPROTO, "ServerFence with %u bytes of payload", len);
	if ((ret = conn_read(&r->conn, m + 9, len, err)) < 0)
		return ret;
	if (!(flags & FENCE_REQUEST))
		return ab_err_set(err, EPROTO, "ServerFence response to a fence we never sent");
	if (!r->fence_offered)
		return ab_err_set(err, EPROTO, "ServerFence though we did not announce fences");
	m[1] = m[2] = m[3] = 0;
	wr32(m + 4, flags & 3); /* BlockBefore, BlockAfter */
	r->fences++;
	return conn_write(&r->conn, m, 9 + len, err);
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
		return rfbc_skip(r, (size_t)rd16(b + 3) * 6, err);
	}
	case 2: /* Bell */
		return 0;
	case 3: { /* ServerCutText; a negative length is an extended clipboard message */
		if ((ret = conn_read(&r->conn, b, 7, err)) < 0)
			return ret;
		int32_t n = (int32_t)rd32(b + 3);
		uint32_t len = n < 0 ? 0u - (uint32_t)n : (uint32_t)n;
		if (len > (16u << 20))
			return ab_err_set(err, EPROTO, "ServerCutText of %u bytes", len);
		return rfbc_skip(r, len, err);
	}
	case MSG_END_OF_CU:
		/* the first one says the server has continuous updates: noVNC turns them on */
		if (!r->cu_offered)
			return ab_err_set(err, EPROTO,
			                  "EndOfContinuousUpdates though we did not "
			                  "announce them");
		if (r->cu_seen) { /* they ended (we never ask for that) */
			r->cu_on = false;
			return 0;
		}
		r->cu_seen = r->cu_on = true;
		return rfbc_enable_cu(r, err);
	case MSG_FENCE:
		return rfbc_fence(r, err);
	case MSG_XVP:
		return conn_read(&r->conn, b, 3, err);
	default:
		return ab_err_set(err, EPROTO, "unknown server message type %u", t);
	}
}
