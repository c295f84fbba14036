/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wm-testpeer: stands in for argobox-session on the window manager's control
 * socket. Listens on SOCKET, accepts connections one after another, appends
 * every frame it receives to OUT as one JSON line, and after each "hello"
 * sends every line of SEND (JSON objects) as frames. Runs until killed.
 *   wm-testpeer SOCKET OUT [SEND]
 * With --broker it plays the broker instead: connects to SOCKET (a session's
 * control.sock), says hello, sends SEND once the session's hello arrived, and
 * records what comes back.
 *   wm-testpeer --broker SOCKET OUT [SEND]
 */
#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
send_file(int fd, const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[65536];
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		json_t *m = json_loads(line, 0, NULL);
		if (!m)
			continue;
		char *buf;
		size_t len;
		if (ab_proto_encode(m, &buf, &len, NULL) == 0) {
			ab_write_all(fd, buf, len);
			free(buf);
		}
		json_decref(m);
	}
	fclose(f);
}

static void
record(const char *out, json_t *m)
{
	FILE *o = fopen(out, "a");
	if (o) {
		json_dumpf(m, o, JSON_COMPACT);
		fputc('\n', o);
		fclose(o);
	}
}

static int
broker(const char *sock, const char *out, const char *send)
{
	struct ab_err err = {0};
	int fd = -1;
	for (int i = 0; i < 200 && fd < 0; i++) {
		fd = ab_unix_connect(sock, &err);
		if (fd < 0)
			usleep(50 * 1000);
	}
	if (fd < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	json_t *hello =
	    ab_proto_msg("hello", json_pack("{s:s, s:[i,i]}", "role", "broker", "versions", 1, 1));
	char *buf;
	size_t len;
	if (ab_proto_encode(hello, &buf, &len, NULL) == 0) {
		ab_write_all(fd, buf, len);
		free(buf);
	}
	json_decref(hello);
	struct ab_proto_reader r;
	ab_proto_reader_init(&r);
	char in[65536];
	ssize_t n;
	while ((n = read(fd, in, sizeof(in))) > 0) {
		ab_proto_reader_feed(&r, in, (size_t)n);
		json_t *m;
		while (ab_proto_reader_next(&r, &m, &err) == 1) {
			record(out, m);
			if (strcmp(ab_proto_type(m), "hello") == 0)
				send_file(fd, send);
			else if (strcmp(ab_proto_type(m), "ping") == 0) {
				json_t *p =
				    ab_proto_msg("pong", json_pack("{s:O, s:O}", "seq",
				                                   json_object_get(m, "seq"), "t",
				                                   json_object_get(m, "t")));
				if (ab_proto_encode(p, &buf, &len, NULL) == 0) {
					ab_write_all(fd, buf, len);
					free(buf);
				}
				json_decref(p);
			}
			json_decref(m);
		}
	}
	ab_proto_reader_free(&r);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "--broker") == 0)
		return broker(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	if (argc < 3) {
		fprintf(stderr, "usage: wm-testpeer SOCKET OUT [SEND]\n");
		return 2;
	}
	struct ab_err err = {0};
	int ls = ab_unix_listen(argv[1], 0600, &err);
	if (ls < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	ab_fd_set_nonblock(ls, false);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		struct ab_proto_reader r;
		ab_proto_reader_init(&r);
		char buf[65536];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			ab_proto_reader_feed(&r, buf, (size_t)n);
			json_t *m;
			int k;
			while ((k = ab_proto_reader_next(&r, &m, &err)) == 1) {
				FILE *o = fopen(argv[2], "a");
				if (o) {
					json_dumpf(m, o, JSON_COMPACT);
					fputc('\n', o);
					fclose(o);
				}
				if (strcmp(ab_proto_type(m), "hello") == 0)
					send_file(fd, argc > 3 ? argv[3] : NULL);
				json_decref(m);
			}
			if (k < 0) {
				fprintf(stderr, "protocol error: %s\n", err.msg);
				break;
			}
		}
		ab_proto_reader_free(&r);
		close(fd);
	}
}
