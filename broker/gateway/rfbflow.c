/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rfbflow: update requests wait while the client is behind (see rfbflow.h). */
#include <string.h>

#include "ab_util.h"
#include "rfbflow.h"

enum {
	RFBFLOW_VERSION,    /* 12 bytes, "RFB 003.00x\n" */
	RFBFLOW_SECTYPE,    /* 3.7/3.8: the security type the client chose */
	RFBFLOW_CLIENTINIT, /* the shared flag */
	RFBFLOW_MSG,        /* client messages */
};

void
rfbflow_init(struct rfbflow *f, enum rfbflow_start start)
{
	*f = (struct rfbflow){
	    .stage = start == RFBFLOW_START_CLIENTINIT ? RFBFLOW_CLIENTINIT : RFBFLOW_VERSION,
	    .unknown = -1,
	};
}

bool
rfbflow_behind(size_t buffered, size_t queued, size_t queue_limit)
{
	return buffered > 0 || queued > queue_limit;
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int64_t
rfbflow_msg_len(const uint8_t *p, size_t avail)
{
	switch (p[0]) {
	case 0: /* SetPixelFormat */
		return 20;
	case 2: /* SetEncodings */
		return avail < 4 ? 0 : 4 + 4 * (int64_t)(p[2] << 8 | p[3]);
	case 3: /* FramebufferUpdateRequest */
		return 10;
	case 4: /* KeyEvent */
		return 8;
	case 5: /* PointerEvent */
		return 6;
	case 6: { /* ClientCutText; a negative length is the extended clipboard's */
		if (avail < 8)
			return 0;
		int64_t n = (int32_t)get_u32(p + 4);
		return 8 + (n < 0 ? -n : n);
	}
	case 150: /* EnableContinuousUpdates */
		return 10;
	case 248: /* Fence */
		return avail < 9 ? 0 : 9 + (int64_t)p[8];
	case 250: /* xvp */
		return 4;
	case 251: /* SetDesktopSize */
		return avail < 8 ? 0 : 8 + 16 * (int64_t)p[6];
	case 255: /* QEMU: only the extended key event */
		return avail < 2 ? 0 : p[1] == 0 ? 12 : -1;
	default:
		return -1;
	}
}

/* Merges the FramebufferUpdateRequest q into r: the union, incremental only if both are. */
static void
rfbflow_merge(uint8_t *r, const uint8_t *q)
{
	unsigned rx = (unsigned)r[2] << 8 | r[3], ry = (unsigned)r[4] << 8 | r[5];
	unsigned rw = (unsigned)r[6] << 8 | r[7], rh = (unsigned)r[8] << 8 | r[9];
	unsigned qx = (unsigned)q[2] << 8 | q[3], qy = (unsigned)q[4] << 8 | q[5];
	unsigned qw = (unsigned)q[6] << 8 | q[7], qh = (unsigned)q[8] << 8 | q[9];
	unsigned x0 = AB_MIN(rx, qx), y0 = AB_MIN(ry, qy);
	unsigned x1 = AB_MIN(AB_MAX(rx + rw, qx + qw), 65535u);
	unsigned y1 = AB_MIN(AB_MAX(ry + rh, qy + qh), 65535u);
	uint8_t m[10] = {3,
	                 (uint8_t)(r[1] && q[1]),
	                 (uint8_t)(x0 >> 8),
	                 (uint8_t)x0,
	                 (uint8_t)(y0 >> 8),
	                 (uint8_t)y0,
	                 (uint8_t)((x1 - x0) >> 8),
	                 (uint8_t)(x1 - x0),
	                 (uint8_t)((y1 - y0) >> 8),
	                 (uint8_t)(y1 - y0)};
	memcpy(r, m, sizeof(m));
}

/* Stops pacing: everything from f->fwd on passes. */
static void
rfbflow_give_up(struct rfbflow *f, int why)
{
	f->transparent = true;
	f->unknown = why;
	f->holding = false;
}

/*
 * The client's side of the handshake, which passes as it comes: its
 * ProtocolVersion, with 3.7/3.8 the security type it chose (None, or VNC
 * Authentication and its 16-byte response), the ClientInit. With 3.3 the
 * server chose the type; ArgoBox sessions offer None only (the proxy's peer).
 */
static void
rfbflow_handshake(struct rfbflow *f, const uint8_t *p, size_t avail)
{
	switch (f->stage) {
	case RFBFLOW_VERSION: {
		size_t n = AB_MIN(avail, sizeof(f->hs) - f->hs_len);
		memcpy(f->hs + f->hs_len, p, n);
		f->hs_len += n;
		f->fwd += n;
		if (f->hs_len < sizeof(f->hs))
			return;
		const uint8_t *v = f->hs;
		bool digits = v[8] >= '0' && v[8] <= '9' && v[9] >= '0' && v[9] <= '9' &&
		              v[10] >= '0' && v[10] <= '9';
		if (memcmp(v, "RFB 003.", 8) != 0 || !digits || v[11] != '\n') {
			rfbflow_give_up(f, -1);
			return;
		}
		int minor = (v[8] - '0') * 100 + (v[9] - '0') * 10 + (v[10] - '0');
		/* 3.4/3.6 (UltraVNC) speak 3.3; 3.889 (Apple) speaks 3.8 */
		f->stage = minor >= 7 ? RFBFLOW_SECTYPE : RFBFLOW_CLIENTINIT;
		return;
	}
	case RFBFLOW_SECTYPE:
		f->fwd++;
		if (p[0] == 1) { /* None */
			f->stage = RFBFLOW_CLIENTINIT;
		} else if (p[0] == 2) { /* VNC Authentication: the response, then ClientInit */
			f->stage = RFBFLOW_CLIENTINIT;
			f->skip = 16;
		} else {
			rfbflow_give_up(f, -1);
		}
		return;
	case RFBFLOW_CLIENTINIT:
	default:
		f->fwd++;
		f->stage = RFBFLOW_MSG;
		return;
	}
}

size_t
rfbflow_scan(struct rfbflow *f, uint8_t *buf, size_t *len, bool behind)
{
	if (f->holding && !behind)
		f->holding = false;
	while (f->fwd < *len) {
		uint8_t *p = buf + f->fwd;
		size_t avail = *len - f->fwd;
		if (f->transparent) {
			f->fwd = *len;
			break;
		}
		if (f->skip) {
			size_t n = (size_t)AB_MIN(f->skip, (uint64_t)avail);
			f->fwd += n;
			f->skip -= n;
			continue;
		}
		if (f->stage != RFBFLOW_MSG) {
			rfbflow_handshake(f, p, avail);
			continue;
		}
		int64_t ml = rfbflow_msg_len(p, avail);
		if (ml < 0) {
			rfbflow_give_up(f, p[0]);
			continue;
		}
		if (ml == 0 || (p[0] == 3 && avail < 10))
			break;
		if (p[0] != 3 || !behind) {
			if (p[0] == 4 || p[0] == 5)
				f->inputs++;
			f->fwd += (size_t)AB_MIN((uint64_t)ml, (uint64_t)avail);
			f->skip = (uint64_t)ml - AB_MIN((uint64_t)ml, (uint64_t)avail);
			continue;
		}
		/* a request while the client is behind: it waits at buf[fwd] */
		if (!f->holding) {
			f->holding = true;
			f->held++;
		}
		while (avail > 10) {
			uint8_t *q = p + 10;
			int64_t ql = rfbflow_msg_len(q, avail - 10);
			if (ql <= 0 || (uint64_t)ql > avail - 10 ||
			    (q[0] != 3 && q[0] != 4 && q[0] != 5))
				break;
			if (q[0] == 3) { /* another request: one update answers both */
				rfbflow_merge(p, q);
				memmove(q, q + 10, avail - 20);
				*len -= 10;
				avail -= 10;
				f->merged++;
				continue;
			}
			/* input goes first */
			f->inputs++;
			uint8_t req[10];
			memcpy(req, p, 10);
			memmove(p, q, (size_t)ql);
			memcpy(p + ql, req, 10);
			f->fwd += (size_t)ql;
			p += ql;
			avail -= (size_t)ql;
		}
		break;
	}
	return f->fwd;
}

void
rfbflow_sent(struct rfbflow *f, size_t n)
{
	AB_ASSERT(n <= f->fwd);
	f->fwd -= n;
}
