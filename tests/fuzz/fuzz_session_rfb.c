/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_session_rfb: the client messages argobox-session parses itself rather than leaving to
 * libvncserver (session/vnc.c): the ClientCutText, classic (Latin-1) or extended clipboard
 * (flags, caps, a zlib provide stream; session/extclip.c), and the QEMU extended key event's
 * scancode (session/input.c). The input is one ClientCutText as a client sends it (type,
 * padding, s32 length, body) followed by 11 bytes of QEMU key event.
 * Checks: the length is refused beyond the limit; text taken from a provide message is valid
 * UTF-8 with LF line ends and within the limit, and survives our own provide message.
 */
#include "ab_util.h"
#include "clipboard.h"
#include "extclip.h"
#include "fuzz.h"
#include "input.h"

#define CLIP_MAX 4096 /* vnc.clipboard_max, small so that the limit is reached */

static void
provide(uint32_t flags, const uint8_t *p, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	int r = extclip_provide_text(flags, p, n, CLIP_MAX, &text, &len);
	if (r < 0) {
		FUZZ_CHECK(r == -ENOENT || r == -EMSGSIZE || r == -EBADMSG);
		FUZZ_CHECK(text == NULL);
		return;
	}
	FUZZ_CHECK(len <= CLIP_MAX && text[len] == '\0');
	FUZZ_CHECK(ab_utf8_valid(text, len));
	FUZZ_CHECK(!memchr(text, '\r', len));
	/* what we send back of it reads back the same */
	size_t mlen;
	uint8_t *m = extclip_provide_message(text, len, &mlen);
	bool ext;
	FUZZ_CHECK(extclip_cut_text_len(m, SIZE_MAX, &ext) == (long long)(mlen - 8) && ext);
	uint32_t mflags =
	    (uint32_t)m[8] << 24 | (uint32_t)m[9] << 16 | (uint32_t)m[10] << 8 | m[11];
	char *back = NULL;
	size_t blen = 0;
	FUZZ_CHECK(extclip_provide_text(mflags, m + 12, mlen - 12, CLIP_MAX, &back, &blen) == 0);
	FUZZ_CHECK(blen == len && memcmp(back, text, len) == 0);
	free(back);
	free(m);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8 + 11)
		return 0;
	const uint8_t *key = data + size - 11;
	uint32_t qnum =
	    (uint32_t)key[7] << 24 | (uint32_t)key[8] << 16 | (uint32_t)key[9] << 8 | key[10];
	(void)input_qnum_to_xkeycode(qnum);
	size -= 11;

	bool ext;
	long long n = extclip_cut_text_len(data, 2 * CLIP_MAX + 4096, &ext);
	if (n < 0)
		return 0;
	FUZZ_CHECK((size_t)n <= 2 * CLIP_MAX + 4096);
	if ((size_t)n > size - 8)
		return 0; /* the client has not sent it all: the session would wait */
	const uint8_t *body = data + 8;
	if (!ext) {
		size_t un;
		char *u = clipboard_latin1_to_utf8((const char *)body, (size_t)n, &un);
		FUZZ_CHECK(u && un <= 2 * (size_t)n && u[un] == '\0');
		for (size_t i = 0; i < un; i++) /* NUL is Latin-1 too; ab_utf8_valid refuses it */
			if (u[i] == '\0')
				u[i] = ' ';
		FUZZ_CHECK(ab_utf8_valid(u, un));
		free(u);
		return 0;
	}
	FUZZ_CHECK(n >= 4);
	uint32_t flags =
	    (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 | (uint32_t)body[2] << 8 | body[3];
	const uint8_t *p = body + 4;
	size_t plen = (size_t)n - 4;
	if (flags & EXTCLIP_CAPS) {
		uint32_t max;
		(void)extclip_caps_text_max(flags, p, plen, &max);
	} else if ((flags & EXTCLIP_ACTIONS) == EXTCLIP_PROVIDE) {
		provide(flags, p, plen);
	}
	return 0;
}
