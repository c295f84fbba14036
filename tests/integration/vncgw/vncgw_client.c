/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_vncgw_client: a native VNC client (libvncclient, VNC Authentication) for the gateway's
 * integration tests.
 *
 *   ab_vncgw_client HOST PORT PASSWORD OUT [RRGGBB[@X,Y] [HOLD]]
 *
 * Connects to HOST:PORT, answers the VNC Authentication challenge with PASSWORD, waits for a
 * complete framebuffer update (with RRGGBB: one whose pixel (X,Y), default (50,50), has that
 * colour, asking for updates meanwhile) and writes "W H\n" and W*H 32-bit pixels (0x00RRGGBB,
 * little endian) to OUT. With HOLD, it then keeps the connection and handles server messages until
 * the file HOLD exists (so a test can hold two clients on one desktop), and writes OUT again. Exit
 * status: 0 done, 3 authentication refused, 1 anything else. Gives up after 20 s.
 */
#include <rfb/rfbclient.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ab_util.h"
#include <unistd.h>

/* libvncclient itself leaks its framebuffer and name at exit; not ours to report. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}

static const char *password;
static unsigned long frames;
static char last_log[512];

static void
log_quiet(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	fprintf(stderr, "libvncclient: %s", last_log);
}

static char *
get_password(rfbClient *c)
{
	return strdup(password);
}

static void
frame_done(rfbClient *c)
{
	frames++;
}

static int
dump(rfbClient *c, const char *out)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return -1;
	fprintf(f, "%d %d\n", c->width, c->height);
	const uint32_t *px = (const uint32_t *)c->frameBuffer;
	for (long i = 0; i < (long)c->width * c->height; i++) {
		uint32_t v = px[i] & 0xffffff;
		fwrite(&v, 4, 1, f);
	}
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, out);
}

static int
pump(rfbClient *c, long long deadline)
{
	if (ab_now_ms() > deadline) {
		fprintf(stderr, "ab_vncgw_client: timed out\n");
		return -1;
	}
	int n = WaitForMessage(c, 100000);
	if (n < 0 || (n > 0 && !HandleRFBServerMessage(c))) {
		fprintf(stderr, "ab_vncgw_client: connection lost\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr,
		        "usage: ab_vncgw_client HOST PORT PASSWORD OUT [RRGGBB[@X,Y] [HOLD]]\n");
		return 2;
	}
	password = argv[3];
	rfbClientLog = log_quiet;
	rfbClientErr = log_quiet;
	rfbClient *c = rfbGetClient(8, 3, 4); /* 32-bit 0x00RRGGBB */
	c->GetPassword = get_password;
	c->FinishedFrameBufferUpdate = frame_done;
	c->serverHost = strdup(argv[1]);
	c->serverPort = atoi(argv[2]);
	c->appData.shareDesktop = TRUE;
	c->appData.useRemoteCursor = TRUE; /* the cursor is not drawn into the pixels */
	c->format.redShift = 16;           /* 0x00RRGGBB, not rfbGetClient's 0x00BBGGRR */
	c->format.greenShift = 8;
	c->format.blueShift = 0;
	long long deadline = ab_now_ms() + 20000;
	int one = 1;
	char *fake_argv[] = {argv[0], NULL};
	if (!rfbInitClient(c, &one, fake_argv)) {
		/* rfbInitClient frees the client on failure */
		if (strstr(last_log, "uthentication") || strstr(last_log, "VNC auth") ||
		    strstr(last_log, "failed")) {
			printf("auth refused: %s", last_log);
			return 3;
		}
		fprintf(stderr, "ab_vncgw_client: cannot connect\n");
		return 1;
	}
	long want = -1, wx = 50, wy = 50;
	if (argc > 5) {
		char *at = NULL;
		want = strtol(argv[5], &at, 16);
		if (at && *at == '@')
			sscanf(at + 1, "%ld,%ld", &wx, &wy);
	}
	for (;;) {
		unsigned long before = frames;
		while (frames == before)
			if (pump(c, deadline) < 0)
				return 1;
		const uint32_t *px = (const uint32_t *)c->frameBuffer;
		if (want < 0 || (long)(px[wy * c->width + wx] & 0xffffff) == want)
			break;
		SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, TRUE);
	}
	if (dump(c, argv[4]) < 0) {
		perror("ab_vncgw_client: writing the frame");
		return 1;
	}
	printf("frame %dx%d\n", c->width, c->height);
	fflush(stdout);
	if (argc > 6) {
		struct stat st;
		deadline = ab_now_ms() + 60000;
		while (stat(argv[6], &st) < 0) {
			unsigned long before = frames;
			SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, TRUE);
			while (frames == before && stat(argv[6], &st) < 0)
				if (pump(c, deadline) < 0)
					return 1;
		}
		if (dump(c, argv[4]) < 0)
			return 1;
		printf("held\n");
	}
	rfbClientCleanup(c);
	return 0;
}
