/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vnctest: a scripted RFB client (libvncclient) for argobox-session's
 * integration tests. Connects to a unix socket and runs commands in order:
 *
 *   wait-pixel X Y RRGGBB   until the framebuffer shows that colour at (X,Y)
 *   key KEYSYM              press and release (name like "a", "U", "bar" or 0x hex)
 *   qkey KEYSYM QNUM        QEMU extended key event press and release
 *   keydown KEYSYM          press only (again: a client's repeat)
 *   keyup KEYSYM            release only
 *   sleep MS                wait MS milliseconds (the server's messages handled meanwhile)
 *   click X Y               button 1 press and release at (X,Y)
 *   cut TEXT                send client cut text (Latin-1)
 *   wait-cut TEXT           until the server sends that cut text
 *   resize W H              SetDesktopSize
 *   wait-size W H           until the framebuffer has that size
 *   wait-cursor             until a cursor shape arrives
 *   wait-qemu               until the server announced QEMU extended key events
 *   touch PATH              create an empty file (a signal to the test's X client)
 *   wait-file PATH          until PATH exists (the server's messages handled meanwhile;
 *                           gives up after 40 s)
 *   wait-screen XWD         until the framebuffer equals the visible part of the screen
 *                           in the XWD file XWD (Xvfb's -fbdir screen); prints the
 *                           number of differing pixels when it gives up
 *
 * Every other wait gives up after 10 s and exits 1 with a message; exits 0 when all
 * commands succeeded.
 */
#include <X11/Xlib.h>
#include <rfb/rfbclient.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ab_util.h"

static char *cut_text;
static unsigned long frames;
static int got_cursor;

static void
quiet(const char *fmt, ...)
{
}

static void
got_cut(rfbClient *c, const char *text, int len)
{
	free(cut_text);
	cut_text = strndup(text, (size_t)len);
}

static void
got_cursor_shape(rfbClient *c, int xhot, int yhot, int w, int h, int bpp)
{
	got_cursor = 1;
}

static void
frame_done(rfbClient *c)
{
	frames++;
}

static rfbBool
resize_fb(rfbClient *c)
{
	free(c->frameBuffer);
	c->frameBuffer = calloc((size_t)c->width * c->height, 4);
	c->format.bitsPerPixel = 32;
	c->format.redShift = 16;
	c->format.greenShift = 8;
	c->format.blueShift = 0;
	c->format.redMax = c->format.greenMax = c->format.blueMax = 255;
	SetFormatAndEncodings(c);
	SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, FALSE);
	return c->frameBuffer != NULL;
}

/*
 * Processes server messages for at most ms. Returns 0, or -1 if the connection died.
 * libvncclient reads ahead into its own buffer (c->buffered), and its WaitForMessage()
 * (0.9.14) only select()s on the socket: a message already read ahead would wait
 * there until the server sends something else, which it does not do before we answer
 * that very message with an update request. So buffered bytes are handled first.
 */
static int
pump(rfbClient *c, int ms)
{
	int r = c->buffered > 0 ? 1 : WaitForMessage(c, (unsigned)ms * 1000);
	if (r < 0)
		return -1;
	if (r > 0 && !HandleRFBServerMessage(c))
		return -1;
	return 0;
}

static unsigned
pixel_at(rfbClient *c, int x, int y)
{
	uint32_t p;
	memcpy(&p, c->frameBuffer + ((size_t)y * c->width + x) * 4, 4);
	return p & 0xffffff;
}

static unsigned long
keysym_of(const char *s)
{
	if (strncmp(s, "0x", 2) == 0)
		return strtoul(s, NULL, 16);
	return XStringToKeysym(s);
}

#define WAIT_UNTIL(cond, what) WAIT_UNTIL_MS(cond, what, 10000)
#define WAIT_UNTIL_MS(cond, what, ms)                                                              \
	do {                                                                                       \
		long long dl = ab_now_ms() + (ms);                                                 \
		while (!(cond)) {                                                                  \
			if (ab_now_ms() > dl) {                                                    \
				fprintf(stderr, "vnctest: timed out waiting for %s\n", what);      \
				return 1;                                                          \
			}                                                                          \
			if (pump(c, 100) < 0) {                                                    \
				fprintf(stderr, "vnctest: connection lost waiting for %s\n",       \
				        what);                                                     \
				return 1;                                                          \
			}                                                                          \
		}                                                                                  \
	} while (0)

/*
 * Pixels of the client's framebuffer that differ from the XWD screen file
 * (Xvfb's -fbdir mapping: 32 bpp, 0x00RRGGBB little-endian), or -1.
 */
static long
diff_xwd(rfbClient *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	unsigned char h[100];
	long bad = -1;
	if (fread(h, 1, sizeof(h), f) == sizeof(h)) {
		uint32_t v[25];
		for (int i = 0; i < 25; i++)
			v[i] = (uint32_t)h[i * 4] << 24 | (uint32_t)h[i * 4 + 1] << 16 |
			       (uint32_t)h[i * 4 + 2] << 8 | h[i * 4 + 3];
		long off = (long)v[0] + (long)v[19] * 12, bpl = v[12];
		uint32_t *row = malloc((size_t)c->width * 4);
		bad = 0;
		for (int y = 0; y < c->height && row; y++) {
			if (fseek(f, off + (long)y * bpl, SEEK_SET) != 0 ||
			    fread(row, 4, (size_t)c->width, f) != (size_t)c->width) {
				bad = -1;
				break;
			}
			for (int x = 0; x < c->width; x++)
				bad += (row[x] & 0xffffff) != pixel_at(c, x, y);
		}
		free(row);
	}
	fclose(f);
	return bad;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vnctest SOCKET [commands...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* writes after our half-close must not kill us */
	rfbClientLog = quiet;
	rfbClientErr = getenv("VNCTEST_VERBOSE") ? rfbClientErr : quiet;
	rfbClient *c = rfbGetClient(8, 3, 4);
	free(c->serverHost);
	c->serverHost = strdup(argv[1]);
	c->serverPort = 0;
	c->MallocFrameBuffer = resize_fb;
	c->canHandleNewFBSize = TRUE;
	c->GotXCutText = got_cut;
	c->GotCursorShape = got_cursor_shape;
	c->FinishedFrameBufferUpdate = frame_done;
	c->appData.useRemoteCursor = TRUE;
	c->appData.encodingsString =
	    getenv("VNCTEST_ENCODINGS") ? getenv("VNCTEST_ENCODINGS") : "tight zrle copyrect raw";
	c->appData.compressLevel = 1;
	c->appData.qualityLevel = 9;
	c->appData.enableJPEG = FALSE; /* exact colours */
	int one = 1;
	char *fake_argv[] = {"vnctest", NULL};
	if (!rfbInitClient(c, &one, fake_argv)) {
		fprintf(stderr, "vnctest: cannot connect to '%s'\n", argv[1]);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		const char *cmd = argv[i];
#define ARG(k) (i + (k) < argc ? argv[i + (k)] : "")
		if (strcmp(cmd, "wait-pixel") == 0) {
			int x = atoi(ARG(1)), y = atoi(ARG(2));
			unsigned want = (unsigned)strtoul(ARG(3), NULL, 16);
			char what[96];
			snprintf(what, sizeof(what), "pixel %d,%d = %06x", x, y, want);
			WAIT_UNTIL(x < c->width && y < c->height && pixel_at(c, x, y) == want,
			           what);
			i += 3;
		} else if (strcmp(cmd, "key") == 0) {
			unsigned long k = keysym_of(ARG(1));
			SendKeyEvent(c, (uint32_t)k, TRUE);
			SendKeyEvent(c, (uint32_t)k, FALSE);
			i += 1;
		} else if (strcmp(cmd, "keydown") == 0 || strcmp(cmd, "keyup") == 0) {
			SendKeyEvent(c, (uint32_t)keysym_of(ARG(1)), cmd[3] == 'd');
			i += 1;
		} else if (strcmp(cmd, "sleep") == 0) {
			/* while serving the connection, as a client that holds a key does */
			long long until = ab_now_ms() + atol(ARG(1));
			while (ab_now_ms() < until)
				if (pump(c, 10) < 0) {
					fprintf(stderr,
					        "vnctest: connection lost while sleeping\n");
					return 1;
				}
			i += 1;
		} else if (strcmp(cmd, "qkey") == 0) {
			unsigned long k = keysym_of(ARG(1));
			uint32_t q = (uint32_t)strtoul(ARG(2), NULL, 0);
			if (!SendExtendedKeyEvent(c, (uint32_t)k, q, TRUE) ||
			    !SendExtendedKeyEvent(c, (uint32_t)k, q, FALSE)) {
				fprintf(stderr, "vnctest: server refused extended key events\n");
				return 1;
			}
			i += 2;
		} else if (strcmp(cmd, "click") == 0) {
			int x = atoi(ARG(1)), y = atoi(ARG(2));
			SendPointerEvent(c, x, y, 0);
			SendPointerEvent(c, x, y, 1);
			SendPointerEvent(c, x, y, 0);
			i += 2;
		} else if (strcmp(cmd, "cut") == 0) {
			SendClientCutText(c, (char *)ARG(1), (int)strlen(ARG(1)));
			i += 1;
		} else if (strcmp(cmd, "wait-cut") == 0) {
			const char *want = ARG(1);
			WAIT_UNTIL(cut_text && strcmp(cut_text, want) == 0, "cut text");
			i += 1;
		} else if (strcmp(cmd, "resize") == 0) {
			/* libvncclient sends nothing until it saw the server's screen layout */
			WAIT_UNTIL(c->screen.width != 0, "the ExtendedDesktopSize layout");
			if (!SendExtDesktopSize(c, (uint16_t)atoi(ARG(1)),
			                        (uint16_t)atoi(ARG(2)))) {
				fprintf(stderr, "vnctest: SetDesktopSize not possible\n");
				return 1;
			}
			i += 2;
		} else if (strcmp(cmd, "wait-size") == 0) {
			int w = atoi(ARG(1)), h = atoi(ARG(2));
			WAIT_UNTIL(c->width == w && c->height == h, "framebuffer size");
			i += 2;
		} else if (strcmp(cmd, "wait-cursor") == 0) {
			WAIT_UNTIL(got_cursor, "cursor shape");
		} else if (strcmp(cmd, "touch") == 0) {
			FILE *f = fopen(ARG(1), "w");
			if (f)
				fclose(f);
			i += 1;
		} else if (strcmp(cmd, "wait-file") == 0) {
			/*
			 * A test's X client signals with it once its work is done (a
			 * paced scroll of 150 lines took 10.5 s at load 17): longer.
			 */
			WAIT_UNTIL_MS(access(ARG(1), F_OK) == 0, ARG(1), 40000);
			i += 1;
		} else if (strcmp(cmd, "wait-screen") == 0) {
			long bad = -1;
			long long dl = ab_now_ms() + 10000;
			while ((bad = diff_xwd(c, ARG(1))) != 0) {
				if (ab_now_ms() > dl || pump(c, 100) < 0) {
					fprintf(stderr,
					        "vnctest: %ld pixels differ from the screen\n",
					        bad);
					return 1;
				}
			}
			i += 1;
		} else if (strcmp(cmd, "wait-qemu") == 0) {
			/* the announcement arrives with the first update after SetEncodings */
			long long dl = ab_now_ms() + 10000;
			while (!SendExtendedKeyEvent(c, 0, 0, FALSE)) {
				if (ab_now_ms() > dl || pump(c, 100) < 0) {
					fprintf(stderr, "vnctest: no QEMU extended key events\n");
					return 1;
				}
			}
		} else {
			fprintf(stderr, "vnctest: unknown command '%s'\n", cmd);
			return 2;
		}
		/*
		 * The server handles messages in order: once an update we ask for now
		 * arrives, everything sent before it was processed.
		 */
		pump(c, 0);
		printf("OK %s\n", cmd);
		fflush(stdout);
	}
	/*
	 * Half-close and read until the server closes: it handles everything we
	 * sent (in order) before it sees our EOF, and its updates still have a
	 * reader, so none of our input is lost to a write error. Raw reads:
	 * libvncclient would answer updates with requests we can no longer send.
	 */
	shutdown(c->sock, SHUT_WR);
	long long dl = ab_now_ms() + 10000;
	for (;;) {
		struct pollfd p = {.fd = c->sock, .events = POLLIN};
		char buf[65536];
		if (ab_now_ms() > dl || poll(&p, 1, 100) < 0)
			break;
		if (p.revents && read(c->sock, buf, sizeof(buf)) <= 0)
			break;
	}
	free(c->frameBuffer);
	c->frameBuffer = NULL;
	free(c->rcSource);
	free(c->rcMask);
	rfbClientCleanup(c);
	free(cut_text);
	return 0;
}
