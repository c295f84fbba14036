/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_proxy: the websocket proxy's view-only filter (broker/gateway/proxy.c,
 * proxy_rfb_filter), which stands between an admin watching a desktop and that desktop: the
 * browser's RFB stream, in frames of any size, must come out without one key, pointer,
 * clipboard, resize or QEMU key message, and with the shared flag set. The first byte picks
 * the frame size. Checks: no output beyond what proxy_receive reserves (a frame plus one
 * header); and the output is a stream the filter passes unchanged (run through a second
 * filter it comes out the same: anything dropped would be dropped again, so nothing that must
 * be dropped got through).
 */
#include "fuzz.h"
#include "proxy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	size_t frame = (size_t)data[0] % 64 + 1;
	if (data[0] >= 192)
		frame = size;
	data++;
	size--;
	struct proxy_rfb_filter f = {0};
	unsigned char *out = malloc(size + sizeof(f.hdr) + 1);
	size_t out_len = 0;
	FUZZ_CHECK(out);
	for (size_t off = 0; off < size; off += frame) {
		size_t n = size - off < frame ? size - off : frame, got = 0;
		/* proxy_receive reserves n + sizeof(hdr): write into an exact window */
		unsigned char *win = malloc(n + sizeof(f.hdr));
		FUZZ_CHECK(win);
		int r = proxy_rfb_filter(&f, data + off, n, win, &got);
		FUZZ_CHECK(got <= n + sizeof(f.hdr));
		memcpy(out + out_len, win, got);
		out_len += got;
		free(win);
		if (r < 0)
			break;
	}
	FUZZ_CHECK(out_len <= size);
	struct proxy_rfb_filter g = {0};
	unsigned char *again = malloc(out_len + sizeof(g.hdr) + 1);
	size_t again_len = 0;
	FUZZ_CHECK(again);
	FUZZ_CHECK(proxy_rfb_filter(&g, out, out_len, again, &again_len) == 0);
	FUZZ_CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
	free(again);
	free(out);
	return 0;
}
