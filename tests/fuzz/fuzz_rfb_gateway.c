/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_rfb_gateway: what the native VNC gateway (broker/gateway/vncgw.c) and the websocket
 * proxy read from a VNC client: the ProtocolVersion (either side's), the VNC Authentication
 * response to a challenge, and the client's messages, which rfbflow.c follows and reorders
 * (update requests wait and merge while the client is behind, input moves ahead). The input:
 * 12 bytes of version, 8 of password, then control bytes and the stream interleaved: each
 * control byte says how many stream bytes arrive next, whether the client is behind, and how
 * much the gateway sends on. Checks: what may be sent never passes what is buffered, no byte
 * is lost or made up (merges drop exactly 10 each).
 */
#include "fuzz.h"
#include "rfbflow.h"
#include "vncgw.h"

#define BUF_CAP 65536

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 21 || size > 65536)
		return 0;
	for (int client = 0; client < 2; client++) {
		int m = vncgw_rfb_version(data, client);
		FUZZ_CHECK(m == -EPROTO || m == 3 || m == 7 || m == 8);
	}
	char pw[9] = {0};
	memcpy(pw, data + 12, 8);
	uint8_t challenge[16], resp[16];
	memcpy(challenge, data, 12);
	memcpy(challenge + 12, data + 16, 4);
	FUZZ_CHECK(vncgw_des_response(pw, challenge, resp) == 0);
	bool from_version = data[20] & 1;
	data += 21;
	size -= 21;

	struct rfbflow f;
	rfbflow_init(&f, from_version ? RFBFLOW_START_VERSION : RFBFLOW_START_CLIENTINIT);
	uint8_t *buf = malloc(BUF_CAP);
	FUZZ_CHECK(buf);
	size_t len = 0;
	uint64_t in = 0, sent = 0;
	while (size > 0) {
		uint8_t ctl = data[0];
		data++;
		size--;
		size_t n = (size_t)(ctl & 0x1f) + 1;
		if (n > size)
			n = size;
		if (len + n > BUF_CAP)
			n = BUF_CAP - len;
		memcpy(buf + len, data, n);
		len += n;
		in += n;
		data += n;
		size -= n;
		bool behind = ctl & 0x20;
		size_t fwd = rfbflow_scan(&f, buf, &len, behind);
		FUZZ_CHECK(fwd == f.fwd && fwd <= len);
		FUZZ_CHECK(in == sent + len + 10 * f.merged);
		/* send all that may go, half of it, or nothing */
		size_t out = (ctl & 0xc0) == 0 ? 0 : (ctl & 0xc0) == 0x40 ? fwd / 2 : fwd;
		rfbflow_sent(&f, out);
		memmove(buf, buf + out, len - out);
		len -= out;
		sent += out;
	}
	free(buf);
	return 0;
}
